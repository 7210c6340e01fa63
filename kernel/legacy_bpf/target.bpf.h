/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The legacy eBPF probe as a target of the fillers (kernel/fillers/,
 * described in kernel/README.md): one object built for ONE kernel release.
 *
 * - Types come from a `vmlinux.h` dumped from that kernel's own BTF
 *   (`bpftool btf dump file /sys/kernel/btf/vmlinux format c`, or a BTF file
 *   given to `saker driver build --kind ebpf --btf`), compiled WITHOUT
 *   preserve_access_index: every field offset is a constant of the build,
 *   the object carries no CO-RE relocation and libbpf needs no kernel BTF to
 *   load it.
 * - BPF_CORE_READ is libbpf's BPF_PROBE_READ (a chain of bpf_probe_read
 *   calls at fixed offsets); the CO-RE choices of the modern probe
 *   (`bpf_core_field_exists` flavours) are SAKER_KERNEL_VERSION choices made
 *   when compiling, as the module's LINUX_VERSION_CODE ones.
 * - No ring buffer, no bpf_loop, no global data: settings and the syscall
 *   table are one ARRAY map entry (`settings`), written by user space.
 *   Events are built in a per-CPU scratch area (an ARRAY indexed by CPU:
 *   per-CPU array values are limited to 32 KiB) and sent with
 *   bpf_perf_event_output into the per-CPU PERF_EVENT_ARRAY `events`.
 * - Every program is a raw tracepoint (4.17+): the dispatchers on sys_exit
 *   and sys_enter tail-call one program per syscall (PROG_ARRAYs).
 *
 * A filler's builder never sees the program's context, which
 * bpf_perf_event_output needs: aev_submit only marks the scratch event as
 * ready, and the program's wrapper (SYS_EXIT, ENTER_PROGS,
 * SCHED_PROCESS_EXIT) sends it when the filler returns (`flush`). Every
 * filler sends at most one event.
 */
#ifndef SAKER_LEGACY_TARGET_BPF_H
#define SAKER_LEGACY_TARGET_BPF_H

#ifndef SAKER_KERNEL_VERSION
#error "SAKER_KERNEL_VERSION (KV(major, minor, patch) of the target kernel) must be defined"
#endif
#ifndef SAKER_KERNEL_RELEASE
#error "SAKER_KERNEL_RELEASE (the target kernel's uname -r) must be defined"
#endif

#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "saker_events.h"
#include "saker_gen.h"

#define KV(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))

/* Kernels before 5.5 have only the generic probe reads. */
#if SAKER_KERNEL_VERSION < KV(5, 5, 0)
#define bpf_probe_read_kernel bpf_probe_read
#define bpf_probe_read_user bpf_probe_read
#define bpf_probe_read_kernel_str bpf_probe_read_str
#define bpf_probe_read_user_str bpf_probe_read_str
#endif

/* Fixed offsets, no relocation. */
#undef BPF_CORE_READ
#define BPF_CORE_READ BPF_PROBE_READ
#undef bpf_core_field_offset
#define bpf_core_field_offset(type, field) __builtin_offsetof(type, field)

#include "common.h"

#define TS_COMPAT 0x0002
/* The probe's API: the loader refuses an object of another one. */
#define SAKER_LEGACY_API_VERSION 1

/* What the object was built for, read by the loader from the ELF (libbpf
 * skips this section). */
char saker_probe_info[] __attribute__((section("saker.probe"), used)) =
	"release=" SAKER_KERNEL_RELEASE "\napi=" "1" "\n";

/* Per-CPU counters (index = CPU), the modern probe's layout, plus the event
 * waiting in the scratch area for the program's wrapper. */
struct counters {
	__u64 n_evts;
	__u64 n_drops_buffer[DROP_CATEGORIES];
	__u64 n_drops_max_event_size;
	__u64 n_drops_other;
	__u64 pending_len;
	__u64 pending_type;
	__u64 pad[5];
};

struct auxmap {
	__u8 data[AUXMAP_SIZE];
};

#define INTERESTING_GENERIC 1
#define INTERESTING_FULL 2

/* Written by user space after load, before attaching. */
struct settings {
	__u64 boot_time;  /* epoch ns at the clock's zero */
	__u32 snaplen;
	__u32 saker_tgid; /* never traced (0: trace it) */
	__u8 interesting[SYSCALL_TABLE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs */
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs */
	__type(key, __u32);
	__type(value, struct auxmap);
} auxmaps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

/* A copy of a signal_struct, to read its bitfields at fixed bit offsets. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct signal_struct);
} sigbufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} exit_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} enter_progs SEC(".maps");

/*
 * Small helpers.
 */

#define BOUND(v, mask) ({                                              \
	__u64 __b = (__u64)(v);                                        \
	asm volatile("%[b] &= %[m]" : [b] "+r"(__b) : [m] "i"(mask));  \
	__b;                                                           \
})

#define NO_UNROLL _Pragma("clang loop unroll(disable)")

static __always_inline struct settings *settings_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline __u32 settings_snaplen(void)
{
	struct settings *s = settings_get();
	return s ? s->snaplen : 0;
}
#define snaplen (settings_snaplen())

static __always_inline __u64 now_ns(__u64 boot_time)
{
#if SAKER_KERNEL_VERSION >= KV(5, 8, 0)
	return bpf_ktime_get_boot_ns() + boot_time;
#else
	/* no boot clock before 5.8: the loader gives the monotonic clock's epoch */
	return bpf_ktime_get_ns() + boot_time;
#endif
}

static __always_inline struct pathbuf *pathbuf_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&pathbufs, &zero);
}

static __always_inline void count_drop(struct counters *c, __u16 type)
{
	enum drop_category cat = drop_category_of(type);
	if (cat < DROP_CATEGORIES)
		c->n_drops_buffer[cat]++;
}

/*
 * The event builder: every event, fixed-size or not, is built in the
 * per-CPU scratch area; aev_submit marks it ready and the program's
 * wrapper sends it (flush).
 */

struct aev {
	__u8 *data;
	__u64 pos;
	__u32 lpos;
	__u16 type;
	struct counters *c;
};

static __always_inline int aev_begin_tid(struct aev *ev, __u16 type, __u32 nparams, __u32 tid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&counters, &cpu);
	if (!c)
		return 0;
	c->n_evts++;
	c->pending_len = 0;
	struct auxmap *aux = bpf_map_lookup_elem(&auxmaps, &cpu);
	struct settings *s = settings_get();
	if (!aux || !s) {
		c->n_drops_other++;
		return 0;
	}
	__u8 *data = aux->data;
	*(__u64 *)(data + 0) = now_ns(s->boot_time);
	*(__u64 *)(data + 8) = tid;
	*(__u32 *)(data + 16) = 0;
	*(__u16 *)(data + 20) = type;
	*(__u32 *)(data + 22) = nparams;
	ev->data = data;
	ev->c = c;
	ev->type = type;
	ev->lpos = HDR_LEN;
	ev->pos = HDR_LEN + nparams * 2;
	return 1;
}

static __always_inline int aev_begin(struct aev *ev, __u16 type, __u32 nparams)
{
	return aev_begin_tid(ev, type, nparams, (__u32)bpf_get_current_pid_tgid());
}

static __always_inline void aev_len(struct aev *ev, __u16 len)
{
	*(__u16 *)(ev->data + (ev->lpos & 0xff)) = len;
	ev->lpos += 2;
}

#define AEV_PUSH(name, type)                                                  \
	static __always_inline void aev_##name(struct aev *ev, type v)        \
	{                                                                      \
		*(type *)(ev->data + SAFE(ev->pos)) = v;                       \
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
	if (ptr) {
		if (user)
			n = bpf_probe_read_user_str(ev->data + SAFE(ev->pos), BOUND(max, MAX_PATH * 4 - 1), ptr);
		else
			n = bpf_probe_read_kernel_str(ev->data + SAFE(ev->pos), BOUND(max, MAX_PATH * 4 - 1), ptr);
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

static __always_inline __u32 aev_bytes(struct aev *ev, const void *ptr, __u32 ulen, bool user)
{
	if (ulen > MAX_SNAPLEN)
		ulen = MAX_SNAPLEN;
	__u64 len = BOUND(ulen, MAX_SNAPLEN);
	if (!ptr || len == 0) {
		aev_len(ev, 0);
		return 0;
	}
	long err = user ? bpf_probe_read_user(ev->data + SAFE(ev->pos), len, ptr)
			: bpf_probe_read_kernel(ev->data + SAFE(ev->pos), len, ptr);
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
	__u32 snap = snaplen;
	if (len > snap)
		len = snap;
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

/* A perf sample's size is a u16 with its headers: larger events are counted,
 * never sent truncated. */
#define PERF_MAX_EVENT (65535 - 64)

static __always_inline void aev_submit(struct aev *ev)
{
	__u64 len = ev->pos;
	if (len > PERF_MAX_EVENT) {
		ev->c->n_drops_max_event_size++;
		return;
	}
	*(__u32 *)(ev->data + 16) = (__u32)len;
	ev->c->pending_type = ev->type;
	ev->c->pending_len = len;
}

/* Sends the event the filler built, if any. */
static __always_inline int flush(void *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&counters, &cpu);
	if (!c)
		return 0;
	__u64 len = c->pending_len;
	if (!len)
		return 0;
	c->pending_len = 0;
	struct auxmap *aux = bpf_map_lookup_elem(&auxmaps, &cpu);
	if (!aux) {
		c->n_drops_other++;
		return 0;
	}
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, aux->data, BOUND(len, 0xffff)))
		count_drop(c, (__u16)c->pending_type);
	return 0;
}

/* Fixed-size events are built like the others. */
#define rev aev
#define rev_u8 aev_u8
#define rev_u16 aev_u16
#define rev_u32 aev_u32
#define rev_u64 aev_u64
#define rev_s16 aev_s16
#define rev_s32 aev_s32
#define rev_s64 aev_s64
#define rev_submit aev_submit

/*
 * Declaring fillers.
 */

static __always_inline unsigned long sys_arg(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0:
		return BPF_PROBE_READ(regs, di);
	case 1:
		return BPF_PROBE_READ(regs, si);
	case 2:
		return BPF_PROBE_READ(regs, dx);
	case 3:
		return BPF_PROBE_READ(regs, r10);
	case 4:
		return BPF_PROBE_READ(regs, r8);
	case 5:
		return BPF_PROBE_READ(regs, r9);
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
#define REV(EVT) AEV(EVT)

/* The legacy probe sends every open: no kernel filters (kernel/modern_bpf/filter.bpf.h). */
#define OPEN_WANTED(call, upath, sflags, f) ((void)(call), (void)(upath), (void)(sflags), (void)(f), 1)
#define OPEN_ENTER_WANTED(call, upath, sflags) ((void)(call), (void)(upath), (void)(sflags), 1)

#define SYS_EXIT(name)                                                                  \
	static __always_inline int fill_exit_##name(struct pt_regs *regs, long ret);   \
	SEC("raw_tracepoint/sys_exit")                                                  \
	int sys_exit_##name(struct bpf_raw_tracepoint_args *ctx)                        \
	{                                                                               \
		fill_exit_##name((struct pt_regs *)ctx->args[0], (long)ctx->args[1]);  \
		return flush(ctx);                                                      \
	}                                                                               \
	static __always_inline int fill_exit_##name(struct pt_regs *regs, long ret)

#define ENTER_PROGS(name)                                                  \
	SEC("raw_tracepoint/sys_enter")                                    \
	int sys_enter_##name(struct bpf_raw_tracepoint_args *ctx)          \
	{                                                                  \
		struct pt_regs *regs = (struct pt_regs *)ctx->args[0];     \
		enter_##name(ARG(0), ARG(1), ARG(2), ARG(3));              \
		return flush(ctx);                                         \
	}

#define SCHED_PROCESS_EXIT(p)                                                     \
	static __always_inline int fill_proc_exit(struct task_struct *p);         \
	SEC("raw_tracepoint/sched_process_exit")                                  \
	int sched_proc_exit(struct bpf_raw_tracepoint_args *ctx)                  \
	{                                                                         \
		fill_proc_exit((struct task_struct *)ctx->args[0]);               \
		return flush(ctx);                                                \
	}                                                                         \
	static __always_inline int fill_proc_exit(struct task_struct *p)

/*
 * Accessors.
 */

static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

#define TASK_COMM(t) ((const char *)(t)->comm)

static __always_inline struct vfsmount *mount_vfsmount(struct mount *m)
{
	return (struct vfsmount *)((char *)m + __builtin_offsetof(struct mount, mnt));
}

static __always_inline struct mount *vfsmount_mount(struct vfsmount *v)
{
	return (struct mount *)((char *)v - __builtin_offsetof(struct mount, mnt));
}

static __always_inline char *unix_address_path(struct unix_address *addr)
{
	return (char *)addr + __builtin_offsetof(struct unix_address, name) +
	       __builtin_offsetof(struct sockaddr_un, sun_path);
}

static __always_inline __u64 cap_value(kernel_cap_t *cap)
{
#if SAKER_KERNEL_VERSION >= KV(6, 3, 0)
	return BPF_PROBE_READ(cap, val);
#else
	return ((__u64)BPF_PROBE_READ(cap, cap[1]) << 32) | BPF_PROBE_READ(cap, cap[0]);
#endif
}

static __always_inline __u64 inode_ctime(struct inode *inode)
{
#if SAKER_KERNEL_VERSION >= KV(6, 11, 0)
	return BPF_PROBE_READ(inode, i_ctime_sec) * 1000000000ULL +
	       (BPF_PROBE_READ(inode, i_ctime_nsec) & ((1U << 30) - 1));
#elif SAKER_KERNEL_VERSION >= KV(6, 6, 0)
	return BPF_PROBE_READ(inode, __i_ctime.tv_sec) * 1000000000ULL + BPF_PROBE_READ(inode, __i_ctime.tv_nsec);
#else
	return BPF_PROBE_READ(inode, i_ctime.tv_sec) * 1000000000ULL + BPF_PROBE_READ(inode, i_ctime.tv_nsec);
#endif
}

/* vmlinux.h comes from this very kernel's BTF: its sizeof is exact.
 * overlayfs's private struct ovl_inode follows the VFS inode with the
 * upper layer's dentry. */
static __always_inline unsigned long inode_struct_size(void)
{
	return sizeof(struct inode);
}

static __always_inline __u64 inode_mtime(struct inode *inode)
{
#if SAKER_KERNEL_VERSION >= KV(6, 11, 0)
	return BPF_PROBE_READ(inode, i_mtime_sec) * 1000000000ULL +
	       (BPF_PROBE_READ(inode, i_mtime_nsec) & ((1U << 30) - 1));
#elif SAKER_KERNEL_VERSION >= KV(6, 7, 0)
	return BPF_PROBE_READ(inode, __i_mtime.tv_sec) * 1000000000ULL + BPF_PROBE_READ(inode, __i_mtime.tv_nsec);
#else
	return BPF_PROBE_READ(inode, i_mtime.tv_sec) * 1000000000ULL + BPF_PROBE_READ(inode, i_mtime.tv_nsec);
#endif
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
#if SAKER_KERNEL_VERSION >= KV(6, 15, 0)
	return BPF_PROBE_READ(kn, __parent);
#else
	return BPF_PROBE_READ(kn, parent);
#endif
}

/* The cgroup subsystems of the target kernel (CGROUP_SUBSYS_COUNT). */
static __always_inline __u32 css_set_subsys_count(struct css_set *cset)
{
	return sizeof(cset->subsys) / sizeof(cset->subsys[0]);
}

/* Bitfields: the struct copied into a per-CPU buffer, read with plain C. */
static __always_inline struct signal_struct *signal_copy(struct signal_struct *sig)
{
	__u32 zero = 0;
	struct signal_struct *buf = bpf_map_lookup_elem(&sigbufs, &zero);
	if (!buf)
		return 0;
	if (bpf_probe_read_kernel(buf, sizeof(*buf), sig))
		return 0;
	return buf;
}

static __always_inline bool signal_is_child_subreaper(struct signal_struct *sig)
{
	struct signal_struct *s = signal_copy(sig);
	return s ? s->is_child_subreaper : 0;
}

static __always_inline bool signal_has_child_subreaper(struct signal_struct *sig)
{
	struct signal_struct *s = signal_copy(sig);
	return s ? s->has_child_subreaper : 0;
}

static __always_inline __u64 mm_counter(struct mm_struct *mm, int i)
{
	__s64 v;
#if SAKER_KERNEL_VERSION >= KV(6, 2, 0)
	v = BPF_PROBE_READ(mm, rss_stat[i].count);
#else
	v = BPF_PROBE_READ(mm, rss_stat.count[i].counter);
#endif
	return v > 0 ? v : 0;
}

/*
 * Whether the dispatchers leave the current syscall alone: saker's own
 * process, or a 32-bit (compat) syscall.
 */
static __always_inline bool skip_current(struct settings *s, __u32 *tid)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	*tid = (__u32)pid_tgid;
	if (s->saker_tgid && (__u32)(pid_tgid >> 32) == s->saker_tgid)
		return true;
	struct task_struct *t = current_task();
	return BPF_PROBE_READ(t, thread_info.status) & TS_COMPAT;
}

#endif /* SAKER_LEGACY_TARGET_BPF_H */
