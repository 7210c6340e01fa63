/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The interface of saker's kernel module with user space: the device, the
 * layout of the mmapped rings and the ioctls. Shared by the module
 * (kernel/kmod/) and mirrored by crates/kmod (whose tests check the values).
 *
 * Device: /dev/saker, one char device (a misc device). Each open() is one
 * consumer (at most SAKER_MAX_CONSUMERS at once) with its own rings, one per
 * possible CPU, its own syscall table, tracepoints and snaplen. The
 * consumer's own process (the thread group that opened the device) is
 * never traced for it.
 *
 * Rings: the ring of CPU c is mmapped at offset c * span, span =
 * SAKER_RING_INFO_SIZE + 2 * ring_bytes, with a length of span: first a page
 * of positions and counters (struct saker_ring_info), then the data of
 * ring_bytes bytes mapped twice in a row, so an event that wraps around the
 * end of the ring reads as contiguous memory. ring_bytes is a power of two,
 * SAKER_RING_MIN..SAKER_RING_MAX (the module parameter ring_bytes, or
 * SAKER_IOCTL_SET_RING_BYTES before the first mmap).
 *
 * The kernel appends events at `head` (free-running byte count, published
 * with a release store after the event is written), the consumer reads from
 * `tail` to `head` (acquire load of head) and then stores `tail` (release).
 * Events are the ppm_evt_hdr events of saker_events.h; each takes its
 * header's `len` rounded up to 8 bytes. An event that does not fit in the
 * free space is dropped and counted, never truncated.
 *
 * Use: open, the SAKER_IOCTL_SET_* calls, mmap every possible CPU's ring,
 * SAKER_IOCTL_START; read the rings; close (or exit) ends the consumer.
 */
#ifndef SAKER_KMOD_H
#define SAKER_KMOD_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <linux/types.h>
#include <sys/ioctl.h>
#endif

/* Bumped on any incompatible change of this header (major) or a compatible
 * addition (minor): user space refuses a module whose major differs or
 * whose minor is lower than its own. */
#define SAKER_KMOD_API_MAJOR 1
#define SAKER_KMOD_API_MINOR 0
#define SAKER_KMOD_API_VERSION ((SAKER_KMOD_API_MAJOR << 16) | SAKER_KMOD_API_MINOR)

#define SAKER_MAX_CONSUMERS 8
#define SAKER_RING_INFO_SIZE 4096
#define SAKER_RING_MIN (64 * 1024 * 2)
#define SAKER_RING_MAX (512 * 1024 * 1024)
#define SAKER_RING_DEFAULT (8 * 1024 * 1024)
#define SAKER_SYSCALL_TABLE_SIZE 512
#define SAKER_DROP_CATEGORIES 6

/* Tracepoints, for SAKER_IOCTL_SET_TRACEPOINTS. */
#define SAKER_TP_SYS_ENTER (1U << 0)
#define SAKER_TP_SYS_EXIT (1U << 1)
#define SAKER_TP_SCHED_PROCESS_EXIT (1U << 2)
#define SAKER_TP_ALL (SAKER_TP_SYS_ENTER | SAKER_TP_SYS_EXIT | SAKER_TP_SCHED_PROCESS_EXIT)

/* Syscall modes, for SAKER_IOCTL_SET_SYSCALL (as the modern probe's
 * `interesting` table): not wanted, a generic event, the syscall's own. */
#define SAKER_SYSCALL_OFF 0
#define SAKER_SYSCALL_GENERIC 1
#define SAKER_SYSCALL_FULL 2

/* The first page of each mmapped ring. Counters are the modern probe's:
 * n_evts counts every event the module tried to write (before the space
 * check), n_drops_buffer[category] those the ring had no room for (the
 * categories of common.h: process, exec, open, connect, close, other),
 * n_drops_max_event_size those larger than 64 KiB. */
struct saker_ring_info {
	__u64 head;
	__u64 tail;
	__u64 n_evts;
	__u64 n_drops_buffer[SAKER_DROP_CATEGORIES];
	__u64 n_drops_max_event_size;
	__u64 n_drops_other;
	__u64 ring_bytes;
};

struct saker_syscall_mode {
	__u32 nr;	/* native x86_64 syscall number */
	__u32 mode;	/* SAKER_SYSCALL_* */
};

/* What SAKER_IOCTL_GET_INFO returns. */
struct saker_kmod_info {
	__u32 api_version;	/* SAKER_KMOD_API_VERSION */
	__u32 n_cpus;		/* possible CPUs: rings 0..n_cpus-1 */
	__u64 schema_version;	/* SAKER_SCHEMA_VERSION of saker_events.h */
	__u64 ring_bytes;	/* this consumer's data bytes per ring */
	__u64 span;		/* mmap offset step and length of one ring */
	__u32 consumers;	/* consumers open now, this one included */
	__u32 pad;
	__u64 ring_memory;	/* vmalloc'd bytes of every consumer's rings */
};

#define SAKER_IOCTL_MAGIC 'S'
#define SAKER_IOCTL_GET_INFO _IOR(SAKER_IOCTL_MAGIC, 0, struct saker_kmod_info)
#define SAKER_IOCTL_SET_RING_BYTES _IOW(SAKER_IOCTL_MAGIC, 1, __u64)
#define SAKER_IOCTL_SET_SYSCALL _IOW(SAKER_IOCTL_MAGIC, 2, struct saker_syscall_mode)
#define SAKER_IOCTL_SET_TRACEPOINTS _IOW(SAKER_IOCTL_MAGIC, 3, __u32)
#define SAKER_IOCTL_SET_SNAPLEN _IOW(SAKER_IOCTL_MAGIC, 4, __u32)
/* 1: failed syscalls (ret < 0) send no exit event. */
#define SAKER_IOCTL_SET_DROP_FAILED _IOW(SAKER_IOCTL_MAGIC, 5, __u32)
#define SAKER_IOCTL_START _IO(SAKER_IOCTL_MAGIC, 6)
#define SAKER_IOCTL_STOP _IO(SAKER_IOCTL_MAGIC, 7)
/* The counters of one CPU's ring: in cpu (the first __u64), out the info. */
#define SAKER_IOCTL_GET_COUNTERS _IOWR(SAKER_IOCTL_MAGIC, 8, struct saker_ring_info)

#endif /* SAKER_KMOD_H */
