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
 */
#include "saker.bpf.h"
#include "flags.bpf.h"
#include "extract.bpf.h"
#include "proc.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SYS_EXIT(name) \
	SEC("tp_btf/sys_exit") int BPF_PROG(sys_exit_##name, struct pt_regs *regs, long ret)
#define SYS_ENTER(name) \
	SEC("tp_btf/sys_enter") int BPF_PROG(sys_enter_##name, struct pt_regs *regs, long id)

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

/*
 * Process lifetime.
 */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_proc_exit, struct task_struct *p)
{
	/* the reaper before the reservation: the ring is held only to write */
	__s64 reaper = reaper_tid(p);
	REV(PPME_PROCEXIT_1_E);
	int code = BPF_CORE_READ(p, exit_code);
	rev_s64(&ev, code);
	rev_s64(&ev, (code >> 8) & 0xff);
	rev_u8(&ev, code & 0x7f);
	rev_u8(&ev, (code & 0x80) ? 1 : 0);
	rev_s64(&ev, reaper);
	rev_submit(&ev);
	return 0;
}

#include "progs_file.bpf.h"
#include "progs_net.bpf.h"
#include "progs_proc.bpf.h"
#include "progs_misc.bpf.h"
