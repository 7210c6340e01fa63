/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * saker fillers: what every target shares. Sizes and limits of events, the
 * drop categories, and the per-CPU scratch the walks use. Included by each
 * target's own header (kernel/modern_bpf/saker.bpf.h, kernel/kmod/fill.h)
 * after it has defined the integer types and __always_inline.
 */
#ifndef SAKER_FILLERS_COMMON_H
#define SAKER_FILLERS_COMMON_H

#define HDR_LEN SAKER_EVENT_HEADER_LEN
/* The largest event sent to user space (Falco's limit too). */
#define MAX_EVENT_SIZE (64 * 1024)
/* The scratch area is twice the largest event, so that a parameter of up to
 * MAX_EVENT_SIZE bytes written at any offset below MAX_EVENT_SIZE fits. */
#define AUXMAP_SIZE (2 * MAX_EVENT_SIZE)
/* Offsets into the scratch area are masked with this for the verifier. */
#define SAFE(x) ((x) & (MAX_EVENT_SIZE - 1))
/* The largest data buffer (snaplen) a read/write-like event carries. */
#define MAX_SNAPLEN (MAX_EVENT_SIZE - 1)
/* Paths are read up to PATH_MAX, argv/env up to this many bytes (as Falco). */
#define MAX_PATH 4096
#define MAX_ARGS_ENV 4096

/* Drop categories, in the order of `struct counters.n_drops_buffer`. */
enum drop_category {
	DROP_PROCESS = 0,
	DROP_EXEC = 1,
	DROP_OPEN = 2,
	DROP_CONNECT = 3,
	DROP_CLOSE = 4,
	DROP_OTHER = 5,
	DROP_CATEGORIES = 6,
};

static __always_inline enum drop_category drop_category_of(__u16 type)
{
	switch (type) {
	case PPME_SYSCALL_CLONE_20_X:
	case PPME_SYSCALL_FORK_20_X:
	case PPME_SYSCALL_VFORK_20_X:
	case PPME_SYSCALL_CLONE3_X:
	case PPME_PROCEXIT_1_E:
		return DROP_PROCESS;
	case PPME_SYSCALL_EXECVE_19_X:
	case PPME_SYSCALL_EXECVEAT_X:
		return DROP_EXEC;
	case PPME_SYSCALL_OPEN_E:
	case PPME_SYSCALL_OPEN_X:
	case PPME_SYSCALL_OPENAT_2_E:
	case PPME_SYSCALL_OPENAT_2_X:
	case PPME_SYSCALL_OPENAT2_E:
	case PPME_SYSCALL_OPENAT2_X:
	case PPME_SYSCALL_CREAT_E:
	case PPME_SYSCALL_CREAT_X:
		return DROP_OPEN;
	case PPME_SOCKET_CONNECT_E:
	case PPME_SOCKET_CONNECT_X:
	case PPME_SOCKET_ACCEPT_5_X:
	case PPME_SOCKET_ACCEPT4_6_X:
		return DROP_CONNECT;
	case PPME_SYSCALL_CLOSE_X:
		return DROP_CLOSE;
	default:
		return DROP_OTHER;
	}
}

/* The cgroup subsystems a process event names (`subsys=/path` each). */
#define CGROUP_SUBSYS_MAX 12
/* Bytes of a subsystem's name read, with its NUL. */
#define CGROUP_SUBSYS_NAME 32

/* Per-CPU area where paths are assembled backwards. */
struct pathbuf {
	char buf[2 * MAX_PATH];
	/* Walk state kept in the map, not on the stack: the verifier does not
	 * track map contents, so the states of a walk's steps stay few. */
	__u32 cur;
	__u64 pos;
	__u32 left;
	__u32 sum;
	/* The task's cgroup subsystem states, read in one go (aev_cgroups);
	 * those past the kernel's count of subsystems are never written. */
	void *css[CGROUP_SUBSYS_MAX];
	/* Subsystem i's name (the kernel's cgroup_subsys[i]->name, the same
	 * for as long as it runs), read by the first event on this CPU that
	 * needs it; its length with the NUL, 0 until then. */
	char ssname[CGROUP_SUBSYS_MAX][CGROUP_SUBSYS_NAME];
	__u8 sslen[CGROUP_SUBSYS_MAX];
};

#endif /* SAKER_FILLERS_COMMON_H */
