/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * saker modern probe: configuration, maps, counters and the two ways an
 * event is built.
 *
 * - Fixed-size events (every parameter has a fixed size, `PPME_*_SIZE` in
 *   saker_events.h) are reserved in the ring buffer and written in place
 *   (`rev_*` functions).
 * - Variable-size events are built in a per-CPU scratch area (`auxmaps`,
 *   128 KiB) and copied into the ring once (`aux_*` functions). Events larger
 *   than MAX_EVENT_SIZE are counted in `n_drops_max_event_size`, never sent
 *   truncated.
 *
 * Wakeups are batched: a record is submitted with BPF_RB_NO_WAKEUP unless it
 * is the one that makes the ring's unread data cross `wakeup_threshold`; the
 * consumer also polls on a timer, so nothing waits longer than its timeout.
 */
#ifndef SAKER_BPF_H
#define SAKER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "saker_events.h"
#include "saker_gen.h"

#include "common.h"

#define TS_COMPAT 0x0002

/* Per-CPU counters, one cache line pair per CPU (index = CPU). */
struct counters {
	__u64 n_evts;
	__u64 n_drops_buffer[DROP_CATEGORIES];
	__u64 n_drops_max_event_size;
	__u64 n_drops_other;
	__u64 n_filtered; /* left out by the kernel filters (filter.bpf.h): not drops */
	__u64 pad[6];
};

struct auxmap {
	__u8 data[AUXMAP_SIZE];
};

/* Settings written by user space before load. */
const volatile __u64 boot_time = 0;      /* epoch ns at boot: ts = boot ns + this */
const volatile __u32 snaplen = 80;       /* bytes of read/write data captured */
const volatile __u64 wakeup_threshold = 0; /* unread bytes that trigger a wakeup */
const volatile __u32 saker_tgid = 0;     /* the consumer's own process, never traced (0: trace it) */

/* Syscalls someone asked for, indexed by native syscall number; written by
 * user space at any time: 0 not wanted, INTERESTING_GENERIC a generic event,
 * INTERESTING_FULL a tail call to the syscall's own program. */
#define INTERESTING_GENERIC 1
#define INTERESTING_FULL 2
__u8 interesting[SYSCALL_TABLE_SIZE];

/* The consumer is woken only when the unread data of a ring is at least
 * wakeup_threshold, checked every WAKEUP_CHECK_EVERY events of a CPU. */
#define WAKEUP_CHECK_EVERY 64

/* One ring buffer per group of CPUs; entry i is the ring of CPU i. */
struct ringbuf_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* set to the number of possible CPUs */
	__type(key, __u32);
	__array(values, struct ringbuf_map);
} ringbufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* number of possible CPUs */
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* number of possible CPUs */
	__type(key, __u32);
	__type(value, struct auxmap);
} auxmaps SEC(".maps");

/* One program per syscall, indexed by native syscall number. */
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

/* Make the struct types visible to the skeleton's `types` module. */
struct counters _counters_type = {};

/*
 * Small helpers.
 */

/* `v & mask` that the compiler cannot drop, so the verifier sees the bound
 * on the 64-bit register it checks. */
#define BOUND(v, mask) ({                                              \
	__u64 __b = (__u64)(v);                                        \
	asm volatile("%[b] &= %[m]" : [b] "+r"(__b) : [m] "i"(mask));  \
	__b;                                                           \
})

static __always_inline __u64 now_ns(void)
{
	return bpf_ktime_get_boot_ns() + boot_time;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline struct counters *cpu_counters(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&counters, &cpu);
}

static __always_inline void *cpu_ringbuf(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&ringbufs, &cpu);
}

static __always_inline void count_drop(struct counters *c, __u16 type)
{
	enum drop_category cat = drop_category_of(type);
	if (c && cat < DROP_CATEGORIES)
		c->n_drops_buffer[cat]++;
}

/* Batched wakeups: every WAKEUP_CHECK_EVERY events of a CPU, look at the
 * ring's unread data and wake the consumer if it passed the threshold;
 * otherwise submit without a wakeup (the consumer also polls on a timer). */
static __always_inline __u64 wakeup_flags(void *rb, struct counters *c)
{
	if (c->n_evts % WAKEUP_CHECK_EVERY)
		return BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_threshold)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void write_header_tid(__u8 *data, __u16 type, __u32 nparams, __u32 len, __u32 tid)
{
	*(__u64 *)(data + 0) = now_ns();
	*(__u64 *)(data + 8) = tid;
	*(__u32 *)(data + 16) = len;
	*(__u16 *)(data + 20) = type;
	*(__u32 *)(data + 22) = nparams;
}

static __always_inline void write_header(__u8 *data, __u16 type, __u32 nparams, __u32 len)
{
	*(__u64 *)(data + 0) = now_ns();
	*(__u64 *)(data + 8) = current_tid();
	*(__u32 *)(data + 16) = len;
	*(__u16 *)(data + 20) = type;
	*(__u32 *)(data + 22) = nparams;
}

/*
 * Fixed-size events: reserved in the ring, written in place.
 */

struct rev {
	__u8 *data;
	void *rb;
	struct counters *c;
	__u32 size;
	__u32 pos;
	__u32 lpos;
};

static __always_inline int rev_begin_tid(struct rev *ev, __u32 size, __u16 type, __u32 nparams, __u32 tid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&counters, &cpu);
	if (!c)
		return 0;
	c->n_evts++;
	void *rb = bpf_map_lookup_elem(&ringbufs, &cpu);
	if (!rb) {
		c->n_drops_other++;
		return 0;
	}
	__u8 *data = bpf_ringbuf_reserve(rb, size, 0);
	if (!data) {
		count_drop(c, type);
		return 0;
	}
	write_header_tid(data, type, nparams, size, tid);
	ev->data = data;
	ev->rb = rb;
	ev->c = c;
	ev->size = size;
	ev->lpos = HDR_LEN;
	ev->pos = HDR_LEN + nparams * 2;
	return 1;
}

static __always_inline int rev_begin(struct rev *ev, __u32 size, __u16 type, __u32 nparams)
{
	return rev_begin_tid(ev, size, type, nparams, current_tid());
}

#define REV_PUSH(name, type)                                                  \
	static __always_inline void rev_##name(struct rev *ev, type v)        \
	{                                                                      \
		*(type *)(ev->data + ev->pos) = v;                             \
		*(__u16 *)(ev->data + ev->lpos) = sizeof(type);                \
		ev->pos += sizeof(type);                                       \
		ev->lpos += 2;                                                 \
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
	bpf_ringbuf_submit(ev->data, wakeup_flags(ev->rb, ev->c));
}

/*
 * Variable-size events: built in the per-CPU scratch area, copied once.
 */

struct aev {
	__u8 *data;
	__u64 pos;
	__u32 lpos;
	__u16 type;
	struct counters *c;
};

static __always_inline int aev_begin(struct aev *ev, __u16 type, __u32 nparams)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&counters, &cpu);
	if (!c)
		return 0;
	c->n_evts++;
	struct auxmap *aux = bpf_map_lookup_elem(&auxmaps, &cpu);
	if (!aux) {
		c->n_drops_other++;
		return 0;
	}
	write_header(aux->data, type, nparams, 0);
	ev->data = aux->data;
	ev->c = c;
	ev->type = type;
	ev->lpos = HDR_LEN;
	ev->pos = HDR_LEN + nparams * 2;
	return 1;
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
AEV_PUSH(s32, __s32)
AEV_PUSH(s64, __s64)

static __always_inline void aev_empty(struct aev *ev)
{
	aev_len(ev, 0);
}

/* A NUL-terminated string from user or kernel memory; the length includes
 * the NUL; an unreadable string is an empty parameter. */
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

/* Raw bytes, up to `len` (already limited by the caller). */
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

/* The data buffer of a read/write-like call: at most snaplen bytes. */
static __always_inline void aev_data(struct aev *ev, unsigned long uptr, long size)
{
	__u32 len = size > 0 ? (__u32)size : 0;
	if (len > snaplen)
		len = snaplen;
	aev_bytes(ev, (const void *)uptr, len, true);
}

/* Opens a parameter written piecewise by the caller; close it with aev_close_param. */
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
		ev->c->n_drops_max_event_size++;
		return;
	}
	*(__u32 *)(ev->data + 16) = (__u32)len;
	void *rb = cpu_ringbuf();
	if (!rb) {
		ev->c->n_drops_other++;
		return;
	}
	__u64 flags = wakeup_flags(rb, ev->c);
	if (bpf_ringbuf_output(rb, ev->data, len, flags))
		count_drop(ev->c, ev->type);
}

/*
 * Syscall arguments and the current task.
 */

/* `regs` is the tp_btf argument (a BTF pointer the verifier trusts on every
 * kernel the probe supports): direct loads, which it turns into inline
 * fault-safe loads (0 on a fault, as bpf_probe_read_kernel leaves), cheaper
 * than a helper call each. */
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

/* The registers of the current syscall, for the programs on per-syscall
 * tracepoints, whose context has only its number and result (loaded only
 * where the kernel has bpf_task_pt_regs, 5.15+). A BTF pointer, read with
 * direct loads as the tp_btf argument is. */
static __always_inline struct pt_regs *current_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The current task, for BPF_CORE_READ (never dereferenced directly: before
 * 5.11 there is no bpf_get_current_task_btf and the pointer is untrusted).
 * The branch is resolved when the probe loads; the verifier sees only one. */
static __always_inline struct task_struct *current_task(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		return bpf_get_current_task_btf();
	return (struct task_struct *)bpf_get_current_task();
}

/*
 * Whether the dispatchers leave the current syscall alone: saker's own
 * process, or a 32-bit (compat) syscall whose numbers are another table's.
 * `tid` gets the thread id. Where the kernel has bpf_get_current_task_btf
 * (5.11+) the task is read with direct loads, the cheapest way; before, with
 * one helper call for the ids and one checked read for the status.
 */
static __always_inline bool skip_current(__u32 *tid)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		struct task_struct *t = bpf_get_current_task_btf();
		*tid = (__u32)t->pid;
		return (__u32)t->tgid == saker_tgid || (t->thread_info.status & TS_COMPAT);
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	*tid = (__u32)pid_tgid;
	if ((__u32)(pid_tgid >> 32) == saker_tgid)
		return true;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(t, thread_info.status) & TS_COMPAT;
}

#endif /* SAKER_BPF_H */
