// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * saker modern probe.
 *
 * `sys_exit` (tp_btf/sys_exit) is the only program attached for syscalls: it
 * checks the `interesting` table and tail-calls the program of the syscall
 * (`exit_progs`, indexed by native number); a syscall without a program of
 * its own gets a generic event. `sys_enter` (tp_btf/sys_enter) is attached
 * only when open/openat/openat2/creat/connect are wanted, to read their path
 * or address before the kernel acts. `sched_proc_exit` emits procexit.
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
