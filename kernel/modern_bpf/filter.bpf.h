/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * saker modern probe: the kernel filters derived from the loaded rules
 * (crates/engine/src/kernel_filter.rs derives them,
 * crates/driver/src/kernel_filter.rs describes them, crates/modern-bpf
 * installs them).
 *
 * An open-family event is sent when a term applying to its syscall holds:
 * the path is in the term's set (an exact name or a prefix, looked up in an
 * LPM trie whose value is the mask of the terms naming that entry or a
 * prefix of it) and the open's access mode has one of the term's bits (or
 * the term needs none: `open_terms_accepting`). Whatever the terms say, it
 * is sent when user space would resolve its path with state the kernel
 * does not have, so that the rules
 * see every open they would have seen: a relative path, one not in normal
 * form (`//`, `/./`, a `..` anywhere, a trailing `/`), one too long to
 * compare or unreadable, and the opening of a directory (a later `*at` call
 * or fchdir names paths through it). An event left out is counted in
 * n_filtered, apart from the drops.
 *
 * Included by probe.bpf.c after fillers.h (file_is_dir) and before the
 * programs, whose open family calls OPEN_ENTER_WANTED and OPEN_WANTED.
 */
#ifndef SAKER_FILTER_BPF_H
#define SAKER_FILTER_BPF_H

/* Bytes of a path compared, with its NUL (MAX_FILTER_PATH in user space). */
#define FILTER_PATH_LEN 256
/* Terms of the filter, one bit each (MAX_OPEN_TERMS). */
#define MAX_OPEN_TERMS 32
/* open, openat, openat2, creat (OPEN_CALL_*). */
#define OPEN_CALLS 4

struct path_key {
	__u32 prefixlen; /* bits: a prefix's bytes, an exact name's with its NUL */
	__u8 data[FILTER_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct path_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} open_paths SEC(".maps");

/*
 * Per CPU: the key of the current lookup (too large for the stack), and the
 * path's verdict at the last open's enter on this CPU, which its exit takes
 * instead of reading and looking up the path again when it is the same
 * syscall's: the same thread, which has not been switched out since (its
 * count of context switches unchanged), so nothing else ran here between.
 * Otherwise (the thread slept in the open, or the enter was not seen) the
 * exit decides by itself. Measured on an open+read+close storm with every
 * open left out: 1.41x before, 1.35-1.37x with it (the path read and the
 * trie lookup of each exit saved).
 */
struct open_scratch {
	struct path_key key;
	__u64 switches;
	__u32 tid; /* 0: no verdict (no open enters from the idle task) */
	__u32 path_wanted;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_scratch);
} open_scratches SEC(".maps");

/* Written by user space before the programs are attached. */
__u32 open_filter_on;                   /* 0: every open is sent */
__u32 open_terms_of_call[OPEN_CALLS];   /* the terms applying to each call */
__u32 open_terms_any_path[OPEN_CALLS];  /* of those, the terms without paths */
/* The terms an open's access mode satisfies, indexed by its scap flags & 3
 * (PPM_O_RDONLY 1, PPM_O_WRONLY 2, both for O_RDWR): a term needs one of
 * those bits, or none. */
__u32 open_terms_accepting[4];

/* Whether user space resolves the path with the thread's state: relative,
 * or not in normal form. `p` is NUL-terminated within FILTER_PATH_LEN. */
static __always_inline bool path_needs_state(const __u8 *p)
{
	if (p[0] != '/')
		return true;
	__u8 prev2 = 0, prev = '/';
	for (int i = 1; i < FILTER_PATH_LEN; i++) {
		__u8 c = p[i];
		if (c == '/' && prev == '/')
			return true;
		if (c == '.' && prev == '.')
			return true;
		if ((c == '/' || c == 0) && prev == '.' && prev2 == '/')
			return true;
		if (c == 0)
			return prev == '/' && i > 1;
		prev2 = prev;
		prev = c;
	}
	return true;
}

/*
 * The closes of the fds of the opens left out are sent: user space ignores
 * them (it never learned of those fds). Leaving them out too was tried, with
 * an LRU map of the fds left out (updated by each such open, confirmed by a
 * program on close's enter): in the kernel that cost more per open+close
 * than sending the close event (open+read+close storm under `saker detect`
 * with Falco's stable rules, alternating runs: 1.94x/2.30x/1.81x with it,
 * 1.80x/1.53x/1.74x without).
 */

static __always_inline void count_filtered(void)
{
	struct counters *c = cpu_counters();
	if (c)
		c->n_filtered++;
}

/* The current thread's id and its count of context switches. */
static __always_inline __u64 current_switches(__u32 *tid)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		struct task_struct *t = bpf_get_current_task_btf();
		*tid = (__u32)t->pid;
		return t->nvcsw + t->nivcsw;
	}
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	*tid = (__u32)bpf_get_current_pid_tgid();
	return BPF_CORE_READ(t, nvcsw) + BPF_CORE_READ(t, nivcsw);
}

/* Whether the path (in user memory) is one a term of call `c` with access
 * bits `accepting` names, or one user space resolves with state. */
static __always_inline bool open_path_wanted(struct path_key *k, int c, unsigned long upath, __u32 accepting)
{
	long n = bpf_probe_read_user_str(k->data, FILTER_PATH_LEN, (const void *)upath);
	if (n <= 1 || n >= FILTER_PATH_LEN)
		return true;
	if (path_needs_state(k->data))
		return true;
	k->prefixlen = n * 8;
	__u32 *terms = bpf_map_lookup_elem(&open_paths, k);
	return terms && (*terms & open_terms_of_call[c] & accepting);
}

/* This CPU's scratch when whether the open of `call` (scap flags `sflags`)
 * is sent depends on its path, with the call's index `*c` and the terms
 * its access mode satisfies `*accepting`; NULL when it is sent whatever
 * the path (no filter, or a term without paths holds). */
static __always_inline struct open_scratch *open_path_decides(int call, __u32 sflags, int *c, __u32 *accepting)
{
	if (!open_filter_on)
		return NULL;
	*c = call & (OPEN_CALLS - 1);
	*accepting = open_terms_accepting[sflags & 3];
	if (open_terms_any_path[*c] & *accepting)
		return NULL;
	__u32 zero = 0;
	return bpf_map_lookup_elem(&open_scratches, &zero);
}

/* Whether the enter of the open of `call` (path `upath` in user memory,
 * scap flags `sflags`) is sent; its verdict on the path is kept for the
 * exit. */
static __always_inline bool open_enter_wanted(int call, unsigned long upath, __u32 sflags)
{
	int c;
	__u32 accepting;
	struct open_scratch *s = open_path_decides(call, sflags, &c, &accepting);
	if (!s)
		return true;
	bool wanted = open_path_wanted(&s->key, c, upath, accepting);
	s->switches = current_switches(&s->tid);
	s->path_wanted = wanted;
	if (!wanted)
		count_filtered();
	return wanted;
}

/* Whether the exit of the open of `call` (as above; `f` the file it
 * opened, NULL when it failed) is sent: the enter's verdict on the path,
 * or a directory opened (a later `*at` call or fchdir names paths through
 * it). */
static __always_inline bool open_wanted(int call, unsigned long upath, __u32 sflags, struct file *f)
{
	int c;
	__u32 accepting;
	struct open_scratch *s = open_path_decides(call, sflags, &c, &accepting);
	if (!s)
		return true;
	__u32 tid;
	__u64 switches = current_switches(&tid);
	bool wanted;
	if (s->tid == tid && s->switches == switches)
		wanted = s->path_wanted;
	else
		wanted = open_path_wanted(&s->key, c, upath, accepting);
	s->tid = 0;
	if (wanted)
		return true;
	/* Last, as it reads the file: only what would be left out pays. */
	if (file_is_dir(f))
		return true;
	count_filtered();
	return false;
}

#define OPEN_ENTER_WANTED(call, upath, sflags) open_enter_wanted(call, upath, sflags)
#define OPEN_WANTED(call, upath, sflags, f) open_wanted(call, upath, sflags, f)

#endif /* SAKER_FILTER_BPF_H */
