/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Every filler: one SYS_EXIT(name) per syscall with an event of its own,
 * the enter events (ENTER_PROGS), and sched_process_exit. list.h names them
 * for targets that dispatch through a table of their own (the module).
 */
#include "progs_file.h"
#include "progs_net.h"
#include "progs_proc.h"
#include "progs_misc.h"
