/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The modern probe as a target of the fillers (kernel/fillers/, described in
 * kernel/README.md): how a filler is declared (SYS_EXIT, SYS_ENTER,
 * ENTER_PROGS), how it reads its arguments (ARG, IARG), and the accessors
 * whose implementation depends on the target: the CO-RE choices between
 * kernel versions, the per-CPU scratch, the private `struct mount`.
 */
#ifndef SAKER_TARGET_BPF_H
#define SAKER_TARGET_BPF_H

#include "saker.bpf.h"

/*
 * An exit filler is the body of two programs: one tail-called by the tp_btf
 * sys_exit dispatcher (`sys_exit_<name>`, the registers are the hook's
 * argument), and one attached by user space to the syscall's own tracepoint
 * (`tp_exit_<name>`, on `syscalls:sys_exit_<name>` or the kernel's name for
 * it), preferred where the kernel has bpf_task_pt_regs (5.15+): it runs only
 * for its syscall, so the syscalls nobody wants pay no program at all.
 */
#define SYS_EXIT(name)                                                              \
	static __always_inline int exit_##name(struct pt_regs *regs, long ret);     \
	SEC("tp_btf/sys_exit") int BPF_PROG(sys_exit_##name, struct pt_regs *regs, long ret) \
	{                                                                           \
		return exit_##name(regs, ret);                                      \
	}                                                                           \
	SEC("tp") int tp_exit_##name(struct syscall_trace_exit *ctx)                \
	{                                                                           \
		__u32 tid;                                                          \
		if (skip_current(&tid))                                             \
			return 0;                                                   \
		return exit_##name(current_regs(), ctx->ret);                       \
	}                                                                           \
	static __always_inline int exit_##name(struct pt_regs *regs, long ret)
#define SYS_ENTER(name) \
	SEC("tp_btf/sys_enter") int BPF_PROG(sys_enter_##name, struct pt_regs *regs, long id)

#define SCHED_PROCESS_EXIT(p) \
	SEC("tp_btf/sched_process_exit") int BPF_PROG(sched_proc_exit, struct task_struct *p)

#define ARG(i) sys_arg(regs, i)
/* int arguments: the upper half of the register is not defined. */
#define IARG(i) ((long)(int)sys_arg(regs, i))

#define AEV(EVT)                                           \
	struct aev ev;                                     \
	if (!aev_begin(&ev, EVT, EVT##_NPARAMS))           \
		return 0
#define REV(EVT)                                                   \
	struct rev ev;                                             \
	if (!rev_begin(&ev, EVT##_SIZE, EVT, EVT##_NPARAMS))       \
		return 0

/*
 * Enter events, read before the kernel acts. Each has a builder taking the
 * syscall's arguments, used by two programs: a per-syscall tracepoint
 * (`tracepoint/syscalls/sys_enter_*`, preferred: it runs only for that
 * syscall) and a program tail-called by the tp_btf sys_enter dispatcher
 * (the fallback when the kernel has no syscall tracepoints).
 */
#define ENTER_PROGS(name)                                                         \
	SEC("tracepoint/syscalls/sys_enter_" #name)                               \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                         \
		if ((bpf_get_current_pid_tgid() >> 32) == saker_tgid)             \
			return 0;                                                 \
		return enter_##name(ctx->args[0], ctx->args[1], ctx->args[2],     \
				    ctx->args[3]);                                \
	}                                                                         \
	SYS_ENTER(name)                                                           \
	{                                                                         \
		return enter_##name(ARG(0), ARG(1), ARG(2), ARG(3));              \
	}

/* Loops the verifier walks step by step: one copy of the body each. */
#define NO_UNROLL _Pragma("clang loop unroll(disable)")

/* The task's name (char[16]), for aev_kstr. */
#define TASK_COMM(t) BPF_CORE_READ(t, comm)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

static __always_inline struct pathbuf *pathbuf_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&pathbufs, &zero);
}

/* `struct mount` (fs/mount.h) around a `struct vfsmount`, and back. */
static __always_inline struct vfsmount *mount_vfsmount(struct mount *m)
{
	return (struct vfsmount *)((char *)m + bpf_core_field_offset(struct mount, mnt));
}

static __always_inline struct mount *vfsmount_mount(struct vfsmount *v)
{
	return (struct mount *)((char *)v - bpf_core_field_offset(struct mount, mnt));
}

/* The sun_path of a unix socket's bound address (kernel memory). */
static __always_inline char *unix_address_path(struct unix_address *addr)
{
	return (char *)addr + bpf_core_field_offset(struct unix_address, name) +
	       bpf_core_field_offset(struct sockaddr_un, sun_path);
}


/* Kernels before 6.3 keep capabilities as two u32. */
struct kernel_cap_struct___old {
	__u32 cap[2];
} __attribute__((preserve_access_index));

static __always_inline __u64 cap_value(kernel_cap_t *cap)
{
	if (bpf_core_field_exists(cap->val))
		return BPF_CORE_READ(cap, val);
	struct kernel_cap_struct___old *old = (void *)cap;
	return ((__u64)BPF_CORE_READ(old, cap[1]) << 32) | BPF_CORE_READ(old, cap[0]);
}

/* Inode times across the kernel's renames: i_ctime -> __i_ctime (6.6) ->
 * i_ctime_sec/nsec (6.11); i_mtime -> __i_mtime (6.7) -> i_mtime_sec/nsec (6.11). */
struct inode___v66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v67 {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 inode_ctime(struct inode *inode)
{
	if (bpf_core_field_exists(inode->i_ctime_sec))
		/* the top bits of i_ctime_nsec carry multigrain flags (I_CTIME_QUERIED) */
		return BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL +
		       (BPF_CORE_READ(inode, i_ctime_nsec) & ((1U << 30) - 1));
	struct inode___v66 *v = (void *)inode;
	if (bpf_core_field_exists(v->__i_ctime))
		return BPF_CORE_READ(v, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(v, __i_ctime.tv_nsec);
	struct inode___old *o = (void *)inode;
	return BPF_CORE_READ(o, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, i_ctime.tv_nsec);
}

static __always_inline __u64 inode_mtime(struct inode *inode)
{
	if (bpf_core_field_exists(inode->i_mtime_sec))
		return BPF_CORE_READ(inode, i_mtime_sec) * 1000000000ULL +
		       (BPF_CORE_READ(inode, i_mtime_nsec) & ((1U << 30) - 1));
	struct inode___v67 *v = (void *)inode;
	if (bpf_core_field_exists(v->__i_mtime))
		return BPF_CORE_READ(v, __i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(v, __i_mtime.tv_nsec);
	struct inode___old *o = (void *)inode;
	return BPF_CORE_READ(o, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(o, i_mtime.tv_nsec);
}

/* The size of struct inode on the running kernel (overlayfs's private
 * struct ovl_inode follows it with the upper layer's dentry). */
static __always_inline unsigned long inode_struct_size(void)
{
	return bpf_core_type_size(struct inode);
}

/* kernfs_node.parent became __parent in 6.15. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	struct kernfs_node___old *o = (void *)kn;
	return BPF_CORE_READ(o, parent);
}

/* The cgroup subsystems the running kernel has (CGROUP_SUBSYS_COUNT). */
static __always_inline __u32 css_set_subsys_count(struct css_set *cset)
{
	return bpf_core_field_size(cset->subsys) / sizeof(cset->subsys[0]);
}

/* A process's child-subreaper flags (bitfields of signal_struct). */
static __always_inline bool signal_is_child_subreaper(struct signal_struct *sig)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sig, is_child_subreaper);
}

static __always_inline bool signal_has_child_subreaper(struct signal_struct *sig)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sig, has_child_subreaper);
}

/* Before 6.2 the rss counters are atomics in a struct mm_rss_stat; since,
 * percpu_counters whose `count` is the folded value. */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

static __always_inline __u64 mm_counter(struct mm_struct *mm, int i)
{
	__s64 v;
	if (bpf_core_type_exists(struct mm_rss_stat___pre62))
		v = BPF_CORE_READ((struct mm_struct___pre62 *)mm, rss_stat.count[i].counter);
	else
		v = BPF_CORE_READ(mm, rss_stat[i].count);
	return v > 0 ? v : 0;
}

#endif /* SAKER_TARGET_BPF_H */
