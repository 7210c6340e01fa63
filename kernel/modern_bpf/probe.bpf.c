// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * saker modern probe.
 *
 * A syscall's exit is caught one of two ways, user space chooses
 * (crates/modern-bpf):
 * - the dispatcher, `sys_exit` (tp_btf/sys_exit), run for every syscall: it
 *   checks the `interesting` table and tail-calls the program of the syscall
 *   (`exit_progs`, indexed by native number); a syscall without a program of
 *   its own gets a generic event. Used when every syscall is wanted, on
 *   kernels before 5.15, and when a wanted syscall has no tracepoint.
 * - each wanted syscall's own tracepoint (`syscalls:sys_exit_<name>`), with
 *   its program there (`tp_exit_<name>`, SYS_EXIT in target.bpf.h) or
 *   `tp_exit_generic`: the syscalls nobody wants run no program at all.
 * `sys_enter` (tp_btf/sys_enter) or the per-syscall enter tracepoints catch
 * open/openat/openat2/creat/connect, to read their path or address before
 * the kernel acts. `sched_proc_exit` emits procexit.
 *
 * Every tail-called program is a tp_btf/sys_exit (or sys_enter) program too:
 * the kernel only lets programs of the same attach point share a PROG_ARRAY.
 * They are loaded but never attached (user space turns autoattach off).
 *
 * The bare_* programs are the benchmark's baselines (Config::baseline):
 * loaded and attached only there, never with the probe.
 */
#include "target.bpf.h"
#include "fillers.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Dispatchers.
 */

static __always_inline int generic_event(long id, __u32 tid)
{
	struct rev ev;
	if (!rev_begin_tid(&ev, PPME_GENERIC_X_SIZE, PPME_GENERIC_X, PPME_GENERIC_X_NPARAMS, tid))
		return 0;
	rev_u16(&ev, ppm_sc_of[id & (SYSCALL_TABLE_SIZE - 1)]);
	rev_u16(&ev, (__u16)id);
	rev_submit(&ev);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	unsigned long id = regs->orig_ax;
	if (id >= SYSCALL_TABLE_SIZE)
		return 0;
	__u8 mode = interesting[id];
	if (!mode)
		return 0;
	__u32 tid;
	if (skip_current(&tid))
		return 0;
	if (mode == INTERESTING_FULL)
		bpf_tail_call(ctx, &exit_progs, id);
	return generic_event(id, tid);
}

/*
 * The generic event of a syscall on its own tracepoint: user space attaches
 * this one program to the `syscalls:sys_exit_*` tracepoint of every wanted
 * syscall without a program of its own (as it attaches `tp_exit_<name>` to
 * those with one), where the kernel lets the exit fillers run there.
 */
SEC("tp")
int tp_exit_generic(struct syscall_trace_exit *ctx)
{
	__u32 tid;
	if (skip_current(&tid))
		return 0;
	return generic_event(ctx->nr, tid);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	if ((unsigned long)id >= SYSCALL_TABLE_SIZE || interesting[id] != INTERESTING_FULL)
		return 0;
	__u32 tid;
	if (skip_current(&tid))
		return 0;
	bpf_tail_call(ctx, &enter_progs, id);
	return 0;
}

/* The baseline of the benchmark: attached programs that return at once. */
SEC("tp_btf/sys_exit")
int BPF_PROG(bare_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(bare_enter, struct pt_regs *regs, long id)
{
	return 0;
}

/* The cost of a timestamp: a bare program that reads the events' clock. */
__u64 bare_clock_sink;

SEC("tp_btf/sys_exit")
int BPF_PROG(bare_clock_exit, struct pt_regs *regs, long ret)
{
	bare_clock_sink = now_ns();
	return 0;
}

/*
 * The cost of sending an event at all: a generic event for every syscall's
 * exit (on the dispatcher's hook) and for openat's enter (on its own
 * tracepoint, as the probe's enter events), or only for openat's enter and
 * exit on their own tracepoints; each openat reads its path (into a
 * scratch). Written straight into the CPU's ring (the clock, reserve,
 * header, commit), with none of the probe's choices: no table of
 * interesting syscalls, tail call, counters, filter, or other argument
 * read. The consumer's own syscalls are left out, as the probe does. What
 * sending the events costs before the probe does any of its own work.
 */
static __always_inline int bare_event(__u16 type, long id, unsigned long upath)
{
	if ((bpf_get_current_pid_tgid() >> 32) == saker_tgid)
		return 0;
	if (upath) {
		struct pathbuf *pb = pathbuf_get();
		if (pb)
			bpf_probe_read_user_str(pb->buf, MAX_PATH, (const void *)upath);
	}
	void *rb = cpu_ringbuf();
	if (!rb)
		return 0;
	__u8 *data = bpf_ringbuf_reserve(rb, PPME_GENERIC_X_SIZE, 0);
	if (!data)
		return 0;
	write_header(data, type, PPME_GENERIC_X_NPARAMS, PPME_GENERIC_X_SIZE);
	*(__u16 *)(data + HDR_LEN) = 2;
	*(__u16 *)(data + HDR_LEN + 2) = 2;
	*(__u16 *)(data + HDR_LEN + 4) = ppm_sc_of[id & (SYSCALL_TABLE_SIZE - 1)];
	*(__u16 *)(data + HDR_LEN + 6) = (__u16)id;
	bpf_ringbuf_submit(data, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(bare_event_exit, struct pt_regs *regs, long ret)
{
	unsigned long id = regs->orig_ax;
	return bare_event(PPME_GENERIC_X, id, id == SAKER_NR_openat ? regs->si : 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int bare_event_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return bare_event(PPME_GENERIC_E, ctx->id, ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int bare_event_exit_openat(struct syscall_trace_exit *ctx)
{
	return bare_event(PPME_GENERIC_X, ctx->nr, current_regs()->si);
}

/*
 * The floor of the benchmark: one program that returns at once on one
 * syscall's own tracepoint. Any program there makes every syscall of every
 * task take the kernel's traced slow path (syscall_trace_enter/exit), which
 * is what a getppid storm pays under it.
 */
SEC("tracepoint/syscalls/sys_exit_openat")
int bare_tp_exit_openat(void *ctx)
{
	return 0;
}

/* One program per syscall, and sched_process_exit. */
#include "progs.h"
