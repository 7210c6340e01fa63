/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The kernel module as a target of the fillers (kernel/fillers/, described
 * in kernel/README.md): the event builder writing into a per-CPU scratch
 * area and copying into the rings of one consumer, and kernel-C versions of
 * the accessors the fillers use.
 *
 * - BPF_CORE_READ(p, a, b, ...) is a chain of hops, each read with
 *   copy_from_kernel_nofault(); a faulting hop (a NULL or stale pointer)
 *   yields 0, as a failed BPF probe read does.
 * - bpf_probe_read_{user,kernel}[_str] are copy_from_user_nofault(),
 *   strncpy_from_user_nofault() and their kernel twins: page faults are
 *   disabled, nothing sleeps, a failed read zeroes the destination.
 * - The CO-RE choices between kernel versions (capabilities, inode times,
 *   kernfs parents, rss counters) are LINUX_VERSION_CODE choices.
 *
 * Everything here runs in tracepoint context with preemption disabled (the
 * probes in main.c disable it themselves, so it holds on kernels whose
 * syscall tracepoints may fault too).
 */
#ifndef SAKER_KMOD_FILL_H
#define SAKER_KMOD_FILL_H

#include <linux/version.h>
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/fdtable.h>
#include <linux/mount.h>
#include <linux/dcache.h>
#include <linux/mm_types.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/tty.h>
#include <linux/cgroup.h>
#include <linux/kernfs.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/un.h>
#include <linux/poll.h>
#include <linux/resource.h>
#include <linux/sem.h>
#include <linux/quota.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/openat2.h>
#include <uapi/linux/io_uring.h>
#include <net/sock.h>
#include <net/af_unix.h>
#include <asm/syscall.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#include "saker_events.h"
#include "saker_gen.h"
#include "common.h"
#include "saker_kmod.h"

/* The mirror of the start of fs/mount.h's private struct mount, unchanged
 * from 3.x to 6.x: what the path walk needs to cross mount points. */
struct mount {
	struct hlist_node mnt_hash;
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

/* Per-CPU fill state (main.c): the scratch area, the path buffer and the
 * consumer the event goes to. */
struct saker_ring;
struct fill_cpu {
	__u8 *scratch;			/* AUXMAP_SIZE bytes */
	struct pathbuf *pb;
	struct saker_ring *ring;	/* the current consumer's ring of this CPU */
	__u32 snap_len;
	__u64 boot_time;
};

DECLARE_PER_CPU(struct fill_cpu, saker_fill_cpu);
void saker_ring_submit(struct saker_ring *ring, const __u8 *data, __u32 len, __u16 type);
struct saker_ring_info *saker_ring_info_of(struct saker_ring *ring);

#define snaplen (this_cpu_read(saker_fill_cpu.snap_len))

static __always_inline struct pathbuf *pathbuf_get(void)
{
	return this_cpu_read(saker_fill_cpu.pb);
}

/*
 * Kernel and user memory.
 */

#define BOUND(v, mask) ((__u64)(v) & (mask))
#define bpf_core_field_offset(type, field) offsetof(type, field)
#define NO_UNROLL

static __always_inline long kmod_read_kernel(void *dst, __u32 size, const void *src)
{
	if (copy_from_kernel_nofault(dst, src, size)) {
		memset(dst, 0, size);
		return -EFAULT;
	}
	return 0;
}

static __always_inline long kmod_read_user(void *dst, __u32 size, const void *src)
{
	if (copy_from_user_nofault(dst, (const void __user *)src, size)) {
		memset(dst, 0, size);
		return -EFAULT;
	}
	return 0;
}

/*
 * A NUL-terminated string of at most `size` bytes: the length read, NUL
 * included (a string longer than size - 1 is cut and terminated), or
 * -EFAULT with dst zeroed, as bpf_probe_read_*_str. The kernel does not
 * export strncpy_from_*_nofault to modules, so the string is read in chunks
 * that never cross a page the string does not reach.
 */
#define STR_CHUNK 128
static __always_inline long kmod_read_str(char *dst, __u32 size, const void *src, bool user)
{
	__u32 done = 0;

	if (!size)
		return 0;
	while (done < size) {
		unsigned long addr = (unsigned long)src + done;
		__u32 n = min_t(__u32, size - done, STR_CHUNK);
		__u32 i;
		long err;

		n = min_t(__u32, n, PAGE_SIZE - (addr & (PAGE_SIZE - 1)));
		if (user)
			err = copy_from_user_nofault(dst + done, (const void __user *)addr, n);
		else
			err = copy_from_kernel_nofault(dst + done, (const void *)addr, n);
		if (err) {
			memset(dst, 0, size);
			return -EFAULT;
		}
		for (i = 0; i < n; i++)
			if (!dst[done + i])
				return done + i + 1;
		done += n;
	}
	dst[size - 1] = 0;
	return size;
}

static __always_inline long kmod_read_kernel_str(void *dst, __u32 size, const void *src)
{
	return kmod_read_str(dst, size, src, false);
}

static __always_inline long kmod_read_user_str(void *dst, __u32 size, const void *src)
{
	return kmod_read_str(dst, size, src, true);
}

#define bpf_probe_read_kernel kmod_read_kernel
#define bpf_probe_read_user kmod_read_user
#define bpf_probe_read_kernel_str kmod_read_kernel_str
#define bpf_probe_read_user_str kmod_read_user_str

/* One hop of a BPF_CORE_READ chain: (src)->f read without faulting. */
#define KHOP(src, f)                                                            \
	({                                                                      \
		__unqual_scalar_typeof((src)->f) __h;                                         \
		if (copy_from_kernel_nofault(&__h, &(src)->f, sizeof(__h)))     \
			memset(&__h, 0, sizeof(__h));                           \
		__h;                                                            \
	})
#define KHOP1(s, a) KHOP(s, a)
#define KHOP2(s, a, b) KHOP(KHOP1(s, a), b)
#define KHOP3(s, a, b, c) KHOP(KHOP2(s, a, b), c)
#define KHOP4(s, a, b, c, d) KHOP(KHOP3(s, a, b, c), d)
#define KHOP5(s, a, b, c, d, e) KHOP(KHOP4(s, a, b, c, d), e)
#define KHOP_PICK(_1, _2, _3, _4, _5, NAME, ...) NAME
#define BPF_CORE_READ(s, ...) \
	KHOP_PICK(__VA_ARGS__, KHOP5, KHOP4, KHOP3, KHOP2, KHOP1)(s, __VA_ARGS__)

#define TASK_COMM(t) ((const char *)(t)->comm)

/* Names the kernel's headers already use for other things. */
#define current_task saker_current_task
#define mm_counter saker_mm_counter

static __always_inline struct task_struct *current_task(void)
{
	return current;
}

static __always_inline struct vfsmount *mount_vfsmount(struct mount *m)
{
	return (struct vfsmount *)((char *)m + offsetof(struct mount, mnt));
}

static __always_inline struct mount *vfsmount_mount(struct vfsmount *v)
{
	return (struct mount *)((char *)v - offsetof(struct mount, mnt));
}

static __always_inline char *unix_address_path(struct unix_address *addr)
{
	return (char *)addr + offsetof(struct unix_address, name) + offsetof(struct sockaddr_un, sun_path);
}

/* The kernel's choices the modern probe makes with CO-RE at load time. */
static __always_inline __u64 cap_value(kernel_cap_t *cap)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	return BPF_CORE_READ(cap, val);
#else
	return ((__u64)BPF_CORE_READ(cap, cap[1]) << 32) | BPF_CORE_READ(cap, cap[0]);
#endif
}

/* overlayfs's private struct ovl_inode follows the VFS inode with the
 * upper layer's dentry */
static __always_inline unsigned long inode_struct_size(void)
{
	return sizeof(struct inode);
}

static __always_inline __u64 inode_ctime(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL +
	       (BPF_CORE_READ(inode, i_ctime_nsec) & ((1U << 30) - 1));
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return BPF_CORE_READ(inode, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(inode, __i_ctime.tv_nsec);
#else
	return BPF_CORE_READ(inode, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(inode, i_ctime.tv_nsec);
#endif
}

static __always_inline __u64 inode_mtime(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return BPF_CORE_READ(inode, i_mtime_sec) * 1000000000ULL +
	       (BPF_CORE_READ(inode, i_mtime_nsec) & ((1U << 30) - 1));
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return BPF_CORE_READ(inode, __i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(inode, __i_mtime.tv_nsec);
#else
	return BPF_CORE_READ(inode, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(inode, i_mtime.tv_nsec);
#endif
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
	return BPF_CORE_READ(kn, __parent);
#else
	return BPF_CORE_READ(kn, parent);
#endif
}

static __always_inline __u32 css_set_subsys_count(struct css_set *cset)
{
	return CGROUP_SUBSYS_COUNT;
}

/*
 * A process's child-subreaper flags. Bitfields have no address to read
 * without faulting: read directly, from a signal_struct the caller reached
 * from the exiting task or its real_parent chain, which RCU keeps alive
 * while the tracepoint runs with preemption disabled.
 */
static __always_inline bool signal_is_child_subreaper(struct signal_struct *sig)
{
	return sig && sig->is_child_subreaper;
}

static __always_inline bool signal_has_child_subreaper(struct signal_struct *sig)
{
	return sig && sig->has_child_subreaper;
}

static __always_inline __u64 mm_counter(struct mm_struct *mm, int i)
{
	__s64 v;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	v = BPF_CORE_READ(mm, rss_stat[i].count);
#else
	v = BPF_CORE_READ(mm, rss_stat.count[i].counter);
#endif
	return v > 0 ? v : 0;
}

/*
 * The event builder. Every event, fixed-size or not, is built in the
 * per-CPU scratch area and copied into the consumer's ring once.
 */

struct aev {
	__u8 *data;
	__u64 pos;
	__u32 lpos;
	__u16 type;
	struct saker_ring *ring;
};

static __always_inline int aev_begin(struct aev *ev, __u16 type, __u32 nparams)
{
	struct fill_cpu *fc = this_cpu_ptr(&saker_fill_cpu);
	__u8 *data = fc->scratch;

	if (!fc->ring)
		return 0;
	saker_ring_info_of(fc->ring)->n_evts++;
	put_unaligned(ktime_get_boot_fast_ns() + fc->boot_time, (__u64 *)(data + 0));
	put_unaligned((__u64)current->pid, (__u64 *)(data + 8));
	put_unaligned((__u32)0, (__u32 *)(data + 16));
	put_unaligned(type, (__u16 *)(data + 20));
	put_unaligned(nparams, (__u32 *)(data + 22));
	ev->data = data;
	ev->ring = fc->ring;
	ev->type = type;
	ev->lpos = HDR_LEN;
	ev->pos = HDR_LEN + nparams * 2;
	return 1;
}

static __always_inline void aev_len(struct aev *ev, __u16 len)
{
	put_unaligned(len, (__u16 *)(ev->data + (ev->lpos & 0xff)));
	ev->lpos += 2;
}

#define AEV_PUSH(name, type)                                                  \
	static __always_inline void aev_##name(struct aev *ev, type v)        \
	{                                                                      \
		put_unaligned(v, (type *)(ev->data + SAFE(ev->pos)));         \
		ev->pos += sizeof(type);                                       \
		aev_len(ev, sizeof(type));                                     \
	}
AEV_PUSH(u8, __u8)
AEV_PUSH(u16, __u16)
AEV_PUSH(u32, __u32)
AEV_PUSH(u64, __u64)
AEV_PUSH(s16, __s16)
AEV_PUSH(s32, __s32)
AEV_PUSH(s64, __s64)

static __always_inline void aev_empty(struct aev *ev)
{
	aev_len(ev, 0);
}

static __always_inline __u16 aev_str(struct aev *ev, const void *ptr, __u32 max, bool user)
{
	long n = 0;

	if (max > MAX_PATH * 4 - 1)
		max = MAX_PATH * 4 - 1;
	if (ptr) {
		if (user)
			n = kmod_read_user_str(ev->data + SAFE(ev->pos), max, ptr);
		else
			n = kmod_read_kernel_str(ev->data + SAFE(ev->pos), max, ptr);
	}
	if (n < 0)
		n = 0;
	ev->pos += n;
	aev_len(ev, n);
	return n;
}

static __always_inline __u16 aev_ustr(struct aev *ev, unsigned long uptr, __u32 max)
{
	return aev_str(ev, (const void *)uptr, max, true);
}

static __always_inline __u16 aev_kstr(struct aev *ev, const void *kptr, __u32 max)
{
	return aev_str(ev, kptr, max, false);
}

static __always_inline __u32 aev_bytes(struct aev *ev, const void *ptr, __u32 len, bool user)
{
	long err;

	if (len > MAX_SNAPLEN)
		len = MAX_SNAPLEN;
	if (!ptr || len == 0) {
		aev_len(ev, 0);
		return 0;
	}
	err = user ? kmod_read_user(ev->data + SAFE(ev->pos), len, ptr)
		   : kmod_read_kernel(ev->data + SAFE(ev->pos), len, ptr);
	if (err) {
		aev_len(ev, 0);
		return 0;
	}
	ev->pos += len;
	aev_len(ev, len);
	return len;
}

static __always_inline void aev_data(struct aev *ev, unsigned long uptr, long size)
{
	__u32 len = size > 0 ? (__u32)size : 0;

	if (len > snaplen)
		len = snaplen;
	aev_bytes(ev, (const void *)uptr, len, true);
}

static __always_inline __u64 aev_open_param(struct aev *ev)
{
	return ev->pos;
}

static __always_inline void aev_close_param(struct aev *ev, __u64 start)
{
	aev_len(ev, (__u16)(ev->pos - start));
}

static __always_inline void aev_submit(struct aev *ev)
{
	__u64 len = ev->pos;

	if (len > MAX_EVENT_SIZE) {
		saker_ring_info_of(ev->ring)->n_drops_max_event_size++;
		return;
	}
	put_unaligned((__u32)len, (__u32 *)(ev->data + 16));
	saker_ring_submit(ev->ring, ev->data, (__u32)len, ev->type);
}

/* Fixed-size events go the same way here. */
struct rev {
	struct aev a;
};

#define REV_PUSH(name, type)                                                  \
	static __always_inline void rev_##name(struct rev *ev, type v)        \
	{                                                                      \
		aev_##name(&ev->a, v);                                         \
	}
REV_PUSH(u8, __u8)
REV_PUSH(u16, __u16)
REV_PUSH(u32, __u32)
REV_PUSH(u64, __u64)
REV_PUSH(s16, __s16)
REV_PUSH(s32, __s32)
REV_PUSH(s64, __s64)

static __always_inline void rev_submit(struct rev *ev)
{
	aev_submit(&ev->a);
}

/*
 * How fillers are declared and read their arguments.
 */

typedef int (*saker_exit_filler)(struct pt_regs *regs, long ret);
typedef int (*saker_enter_filler)(struct pt_regs *regs);

/* The module sends every open: no kernel filters (kernel/modern_bpf/filter.bpf.h). */
#define OPEN_WANTED(call, upath, sflags, f) ((void)(call), (void)(upath), (void)(sflags), (void)(f), 1)
#define OPEN_ENTER_WANTED(call, upath, sflags) ((void)(call), (void)(upath), (void)(sflags), 1)
#define SYS_EXIT(name) static int sys_exit_##name(struct pt_regs *regs, long ret)
#define ENTER_PROGS(name)                                                     \
	static int sys_enter_##name(struct pt_regs *regs)                     \
	{                                                                     \
		return enter_##name(ARG(0), ARG(1), ARG(2), ARG(3));          \
	}
#define SCHED_PROCESS_EXIT(p) static int sched_proc_exit(struct task_struct *p)

static __always_inline unsigned long sys_arg(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0:
		return regs->di;
	case 1:
		return regs->si;
	case 2:
		return regs->dx;
	case 3:
		return regs->r10;
	case 4:
		return regs->r8;
	case 5:
		return regs->r9;
	default:
		return 0;
	}
}

#define ARG(i) sys_arg(regs, i)
#define IARG(i) ((long)(int)sys_arg(regs, i))

#define AEV(EVT)                                           \
	struct aev ev;                                     \
	if (!aev_begin(&ev, EVT, EVT##_NPARAMS))           \
		return 0
#define REV(EVT)                                           \
	struct rev ev;                                     \
	if (!aev_begin(&ev.a, EVT, EVT##_NPARAMS))         \
		return 0

#endif /* SAKER_KMOD_FILL_H */
