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
 * prefix of it) and the open's flags have one of the term's bits (or the
 * term needs none). Whatever the terms say, it is sent when user space would
 * resolve its path with state the kernel does not have, so that the rules
 * see every open they would have seen: a relative path, one not in normal
 * form (`//`, `/./`, a `..` anywhere, a trailing `/`), one too long to
 * compare or unreadable, and the opening of a directory (a later `*at` call
 * or fchdir names paths through it). An event left out is counted in
 * n_filtered, apart from the drops.
 *
 * Included by probe.bpf.c after fillers.h (file_is_dir) and before the
 * programs, whose open family calls OPEN_WANTED.
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

/* The key of the current lookup, per CPU (too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_key);
} path_keys SEC(".maps");

/* Written by user space before the programs are attached. */
__u32 open_filter_on;                   /* 0: every open is sent */
__u32 open_terms_of_call[OPEN_CALLS];   /* the terms applying to each call */
__u32 open_terms_any_path[OPEN_CALLS];  /* of those, the terms without paths */
__u32 open_term_flags[MAX_OPEN_TERMS];  /* scap flags one of which a term needs; 0: any */

/* Whether one of `terms` accepts the flags. */
static __always_inline bool terms_accept_flags(__u32 terms, __u32 sflags)
{
	for (int i = 0; i < MAX_OPEN_TERMS; i++) {
		if (!(terms & (1u << i)))
			continue;
		__u32 need = open_term_flags[i];
		if (!need || (sflags & need))
			return true;
	}
	return false;
}

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
 * The closes of what the filter left out. User space never learned of
 * those fds, so their close events tell it nothing: a filtered open records
 * its file under (fd table, fd), the close's enter (a program on close's own
 * tracepoint) confirms the fd still holds that very file (same struct file,
 * inode and flags: the fd may have been reused since, by a call that left no
 * trace here, as an exec closing O_CLOEXEC fds), and the close's exit then
 * leaves its event out. A sent open forgets its fd; entries of fds closed
 * otherwise (exec, close_range, exit) age out of the LRU map.
 */
struct fd_key {
	__u64 files;
	__u64 fd;
};

struct filtered_file {
	__u64 file;
	__u64 inode;
	__u32 flags;
	__u32 closing_tid; /* the thread whose close of it was confirmed */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct filtered_file);
} filtered_fds SEC(".maps");

static __always_inline void current_fd_key(struct fd_key *k, long fd)
{
	k->files = (__u64)BPF_CORE_READ(current_task(), files);
	k->fd = (__u64)fd;
}

/* A filtered open's file, or a sent one's fd forgotten. */
static __always_inline void note_open(long fd, struct file *f, bool filtered)
{
	if (fd < 0 || !f)
		return;
	struct fd_key k = {};
	current_fd_key(&k, fd);
	if (!filtered) {
		bpf_map_delete_elem(&filtered_fds, &k);
		return;
	}
	struct filtered_file v = {
		.file = (__u64)f,
		.inode = (__u64)BPF_CORE_READ(f, f_inode),
		.flags = BPF_CORE_READ(f, f_flags),
	};
	bpf_map_update_elem(&filtered_fds, &k, &v, BPF_ANY);
}

/* close's enter: confirms that `fd` still holds the file an open left out. */
static __always_inline int close_enter(long fd)
{
	if (!open_filter_on)
		return 0;
	struct fd_key k = {};
	current_fd_key(&k, fd);
	struct filtered_file *v = bpf_map_lookup_elem(&filtered_fds, &k);
	if (!v)
		return 0;
	struct file *f = fd_file(fd);
	if (f && (__u64)f == v->file && (__u64)BPF_CORE_READ(f, f_inode) == v->inode &&
	    BPF_CORE_READ(f, f_flags) == v->flags)
		v->closing_tid = current_tid();
	else
		bpf_map_delete_elem(&filtered_fds, &k);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return close_enter((long)(int)ctx->args[0]);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_close, struct pt_regs *regs, long id)
{
	return close_enter(IARG(0));
}

static __always_inline void count_filtered(void);

/* close's exit: whether its event is sent (not when its enter confirmed a
 * file the filter left out). */
static __always_inline bool close_wanted(long fd)
{
	if (!open_filter_on)
		return true;
	struct fd_key k = {};
	current_fd_key(&k, fd);
	struct filtered_file *v = bpf_map_lookup_elem(&filtered_fds, &k);
	if (!v)
		return true;
	bool confirmed = v->closing_tid == current_tid();
	bpf_map_delete_elem(&filtered_fds, &k);
	if (!confirmed)
		return true;
	count_filtered();
	return false;
}

static __always_inline void count_filtered(void)
{
	struct counters *c = cpu_counters();
	if (c)
		c->n_filtered++;
}

static __always_inline bool open_decision(int call, unsigned long upath, __u32 sflags, struct file *f);

/* Whether the open of `call` (path `upath` in user memory, scap flags
 * `sflags`; at its exit the fd `ret` and the file it opened, at its enter
 * -1 and NULL) is sent; an exit also notes its fd for its close. */
static __always_inline bool open_wanted(int call, unsigned long upath, __u32 sflags, long ret, struct file *f)
{
	if (!open_filter_on)
		return true;
	bool sent = open_decision(call, upath, sflags, f);
	note_open(ret, f, !sent);
	return sent;
}

static __always_inline bool open_decision(int call, unsigned long upath, __u32 sflags, struct file *f)
{
	int c = call & (OPEN_CALLS - 1);
	__u32 of_call = open_terms_of_call[c];
	if (terms_accept_flags(open_terms_any_path[c], sflags))
		return true;
	__u32 zero = 0;
	struct path_key *k = bpf_map_lookup_elem(&path_keys, &zero);
	if (!k)
		return true;
	long n = bpf_probe_read_user_str(k->data, FILTER_PATH_LEN, (const void *)upath);
	if (n <= 1 || n >= FILTER_PATH_LEN)
		return true;
	if (path_needs_state(k->data))
		return true;
	k->prefixlen = n * 8;
	__u32 *terms = bpf_map_lookup_elem(&open_paths, k);
	if (terms && terms_accept_flags(*terms & of_call, sflags))
		return true;
	/* Last, as it reads the file: only what would be left out pays. */
	if (file_is_dir(f))
		return true;
	count_filtered();
	return false;
}

#define OPEN_WANTED(call, upath, sflags, ret, f) open_wanted(call, upath, sflags, ret, f)
#define CLOSE_WANTED(fd) close_wanted(fd)

#endif /* SAKER_FILTER_BPF_H */
