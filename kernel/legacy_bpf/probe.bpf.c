// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * saker legacy eBPF probe: built for one kernel (target.bpf.h), loaded from
 * a file by crates/legacy-bpf (`--driver ebpf`).
 *
 * `sys_exit` (raw_tracepoint/sys_exit) is attached for syscalls: it checks
 * the settings' `interesting` table and tail-calls the syscall's program
 * (`exit_progs`, indexed by native number); a syscall without a program of
 * its own gets a generic event. `sys_enter` (raw_tracepoint/sys_enter) is
 * attached only when open/openat/openat2/creat/connect are wanted.
 * `sched_proc_exit` emits procexit. The per-syscall programs come from the
 * shared fillers (../fillers/progs.h) and are loaded, never attached.
 */
#include "target.bpf.h"
#include "fillers.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int generic_event(void *ctx, long id, __u32 tid)
{
	struct aev ev;
	if (!aev_begin_tid(&ev, PPME_GENERIC_X, PPME_GENERIC_X_NPARAMS, tid))
		return 0;
	aev_u16(&ev, ppm_sc_of[id & (SYSCALL_TABLE_SIZE - 1)]);
	aev_u16(&ev, (__u16)id);
	aev_submit(&ev);
	return flush(ctx);
}

SEC("raw_tracepoint/sys_exit")
int sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	unsigned long id = BPF_PROBE_READ(regs, orig_ax);
	if (id >= SYSCALL_TABLE_SIZE)
		return 0;
	struct settings *s = settings_get();
	if (!s)
		return 0;
	__u8 mode = s->interesting[id & (SYSCALL_TABLE_SIZE - 1)];
	if (!mode)
		return 0;
	__u32 tid;
	if (skip_current(s, &tid))
		return 0;
	if (mode == INTERESTING_FULL)
		bpf_tail_call(ctx, &exit_progs, id);
	return generic_event(ctx, id, tid);
}

SEC("raw_tracepoint/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	unsigned long id = ctx->args[1];
	if (id >= SYSCALL_TABLE_SIZE)
		return 0;
	struct settings *s = settings_get();
	if (!s || s->interesting[id & (SYSCALL_TABLE_SIZE - 1)] != INTERESTING_FULL)
		return 0;
	__u32 tid;
	if (skip_current(s, &tid))
		return 0;
	bpf_tail_call(ctx, &enter_progs, id);
	return 0;
}

/* One program per syscall, and sched_process_exit. */
#include "progs.h"
