/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Process state for the execve/execveat/clone/fork exit events: argv, env,
 * memory counters, credentials, namespaces, cgroups and approximate paths
 * (cwd, executable) built by walking dentries.
 */
#ifndef SAKER_FILLERS_PROC_H
#define SAKER_FILLERS_PROC_H

#include "flags.h"

#define PATH_DEPTH 32
#define PAGE_SHIFT_KB 2 /* PAGE_SHIFT - 10 for 4 KiB pages */
#define PIDTYPE_PGID 2
#define RLIMIT_NOFILE 7
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SWAPENTS 2
#define MM_SHMEMPAGES 3

/*
 * Paths are built backwards in a per-CPU buffer by walking dentries up to the
 * task's root, crossing mount points, at most PATH_DEPTH steps. The walks
 * here are plain bounded loops (kernel 5.3+), not bpf_loop (5.17+), so the
 * same parameters come out on every kernel the probe supports; the
 * compiler is told not to unroll them (NO_UNROLL, a target's choice), so
 * each step is one copy of code.
 */
struct path_walk {
	struct pathbuf *pb;
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root;
	struct vfsmount *root_mnt;
};

static __always_inline long path_step(struct path_walk *w)
{
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	if (dentry == w->root && vfsmnt == w->root_mnt)
		return 1;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || mparent == mnt)
			return 1; /* a filesystem root not reachable from ours */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mparent;
		w->vfsmnt = mount_vfsmount(mparent);
		return 0;
	}
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	len = BOUND(len, MAX_PATH - 1);
	struct pathbuf *pb = w->pb;
	__u32 cur = pb->cur;
	if (len + 1 > cur)
		return 1;
	cur -= len;
	bpf_probe_read_kernel(pb->buf + BOUND(cur, MAX_PATH - 1), len, name);
	cur -= 1;
	pb->buf[BOUND(cur, MAX_PATH - 1)] = '/';
	pb->cur = cur;
	w->dentry = parent;
	return 0;
}

/* Writes `/a/b/c` (no NUL) ending at pb->buf[MAX_PATH]; returns where it starts. */
static __always_inline __u32 build_path(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt)
{
	struct task_struct *t = current_task();
	struct path_walk w = {
		.pb = pb,
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = vfsmount_mount(vfsmnt),
		.root = BPF_CORE_READ(t, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(t, fs, root.mnt),
	};
	pb->cur = MAX_PATH;
	NO_UNROLL
	for (int i = 0; i < PATH_DEPTH; i++)
		if (path_step(&w))
			break;
	__u32 cur = pb->cur;
	if (cur > MAX_PATH)
		cur = MAX_PATH;
	if (cur == MAX_PATH) {
		cur -= 1;
		pb->buf[cur & (MAX_PATH - 1)] = '/';
	}
	return cur;
}

static __always_inline void aev_path(struct aev *ev, struct dentry *dentry, struct vfsmount *mnt)
{
	struct pathbuf *pb = pathbuf_get();
	if (!pb || !dentry || !mnt) {
		aev_empty(ev);
		return;
	}
	__u32 start = build_path(pb, dentry, mnt);
	__u32 len = MAX_PATH - start;
	len = BOUND(len, MAX_PATH - 1);
	bpf_probe_read_kernel(ev->data + SAFE(ev->pos), len, pb->buf + (start & (MAX_PATH - 1)));
	*(__u8 *)(ev->data + SAFE(ev->pos + len)) = 0;
	ev->pos += len + 1;
	aev_len(ev, len + 1);
}

static __always_inline void aev_file_path(struct aev *ev, struct file *f)
{
	if (!f) {
		aev_empty(ev);
		return;
	}
	aev_path(ev, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

static __always_inline void aev_cwd(struct aev *ev, struct task_struct *t)
{
	aev_path(ev, BPF_CORE_READ(t, fs, pwd.dentry), BPF_CORE_READ(t, fs, pwd.mnt));
}

/* argv[0], then the other arguments NUL-separated (`exe`, `args`). */
static __always_inline void aev_exe_args(struct aev *ev, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	if (!mm) {
		aev_empty(ev);
		aev_empty(ev);
		return;
	}
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u16 n = aev_ustr(ev, start, MAX_ARGS_ENV);
	unsigned long len = end > start + n ? end - start - n : 0;
	if (len > MAX_ARGS_ENV)
		len = MAX_ARGS_ENV;
	aev_bytes(ev, (void *)(start + n), len, true);
}

static __always_inline void aev_env(struct aev *ev, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	if (!mm) {
		aev_empty(ev);
		return;
	}
	unsigned long start = BPF_CORE_READ(mm, env_start);
	unsigned long end = BPF_CORE_READ(mm, env_end);
	unsigned long len = end > start ? end - start : 0;
	if (len > MAX_ARGS_ENV)
		len = MAX_ARGS_ENV;
	aev_bytes(ev, (void *)start, len, true);
}

/* vm_size, vm_rss, vm_swap in KiB. */
static __always_inline void mm_sizes(struct task_struct *t, __u32 *size, __u32 *rss, __u32 *swap)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	*size = *rss = *swap = 0;
	if (!mm)
		return;
	*size = BPF_CORE_READ(mm, total_vm) << PAGE_SHIFT_KB;
	*rss = (mm_counter(mm, MM_FILEPAGES) + mm_counter(mm, MM_ANONPAGES) + mm_counter(mm, MM_SHMEMPAGES))
	       << PAGE_SHIFT_KB;
	*swap = mm_counter(mm, MM_SWAPENTS) << PAGE_SHIFT_KB;
}

/* The pid number of `pid` in its own namespace (level) or the initial one. */
static __always_inline __u32 pid_nr_at(struct pid *pid, bool own_ns)
{
	if (!pid)
		return 0;
	__u32 level = own_ns ? BPF_CORE_READ(pid, level) : 0;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

static __always_inline __u32 task_vtid(struct task_struct *t)
{
	return pid_nr_at(BPF_CORE_READ(t, thread_pid), true);
}

static __always_inline __u32 task_vpid(struct task_struct *t)
{
	return pid_nr_at(BPF_CORE_READ(t, group_leader, thread_pid), true);
}

static __always_inline __u32 task_pgid(struct task_struct *t, bool own_ns)
{
	return pid_nr_at(BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]), own_ns);
}

static __always_inline __u64 task_pidns_init_start(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	struct task_struct *reaper = BPF_CORE_READ(up.ns, child_reaper);
	return BPF_CORE_READ(reaper, start_time);
}

static __always_inline __u32 task_tty(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (!tty)
		return 0;
	int index = BPF_CORE_READ(tty, index);
	int major = BPF_CORE_READ(tty, driver, major);
	int minor = BPF_CORE_READ(tty, driver, minor_start);
	return encode_dev(((__u32)major << 20) | (__u32)(minor + index));
}

/*
 * The thread that will adopt the children of an exiting task, as the
 * kernel's find_new_reaper() chooses it (the procexit event's reaper_tid):
 * a live thread of the same process; else, if an ancestor in the same pid
 * namespace is a child subreaper (PR_SET_CHILD_SUBREAPER), a live thread of
 * the nearest one; else the namespace's init. 0 when the task has no
 * children (nothing to reparent) or the walk found nothing.
 */
#define PF_EXITING 0x00000004
#define REAPER_THREADS 16
#define REAPER_ANCESTORS 16

/* A thread of `p`'s process that is not exiting, or NULL. */
static __always_inline struct task_struct *alive_thread(struct task_struct *p)
{
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct list_head *head = (struct list_head *)((char *)sig + bpf_core_field_offset(struct signal_struct, thread_head));
	struct list_head *node = BPF_CORE_READ(head, next);
	__u64 off = bpf_core_field_offset(struct task_struct, thread_node);
	NO_UNROLL
	for (int i = 0; i < REAPER_THREADS; i++) {
		if (!node || node == head)
			break;
		struct task_struct *t = (struct task_struct *)((char *)node - off);
		if (!(BPF_CORE_READ(t, flags) & PF_EXITING))
			return t;
		node = BPF_CORE_READ(node, next);
	}
	return NULL;
}

static __always_inline __s64 reaper_tid(struct task_struct *p)
{
	struct list_head *children = (struct list_head *)((char *)p + bpf_core_field_offset(struct task_struct, children));
	if (BPF_CORE_READ(children, next) == children)
		return 0;
	struct task_struct *t = alive_thread(p);
	if (t)
		return BPF_CORE_READ(t, pid);
	struct pid *pid = BPF_CORE_READ(p, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);
	if (signal_has_child_subreaper(BPF_CORE_READ(p, signal))) {
		struct task_struct *a = BPF_CORE_READ(p, real_parent);
		NO_UNROLL
		for (int i = 0; i < REAPER_ANCESTORS; i++) {
			if (!a || BPF_CORE_READ(a, thread_pid, level) != level || BPF_CORE_READ(a, pid) == 0)
				break;
			if (signal_is_child_subreaper(BPF_CORE_READ(a, signal))) {
				t = alive_thread(a);
				if (t)
					return BPF_CORE_READ(t, pid);
			}
			a = BPF_CORE_READ(a, real_parent);
		}
	}
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	struct task_struct *init = BPF_CORE_READ(up.ns, child_reaper);
	return init ? BPF_CORE_READ(init, pid) : 0;
}

/*
 * `subsys=/path` for each cgroup subsystem of the task, NUL-separated, in the
 * order of the kernel's subsystems (at most CGROUP_SUBSYS_MAX). A process
 * event pays this for each, so the reads are few: the subsystems' states in
 * one read, each name once per CPU (pathbuf.ssname), and nothing to copy
 * for a root cgroup ("/", the most common).
 */
#define CGROUP_DEPTH 16

struct cgroup_walk {
	__u8 *data;
	struct pathbuf *pb;
	struct kernfs_node *kn;
};

static __always_inline long cgroup_path_step(struct cgroup_walk *w)
{
	struct pathbuf *pb = w->pb;
	struct kernfs_node *kn = w->kn;
	struct kernfs_node *parent = kn_parent(kn);
	if (!kn || !parent)
		return 1;
	const char *name = BPF_CORE_READ(kn, name);
	__u32 cur = pb->cur;
	if (cur < 256 || cur > MAX_PATH)
		return 1;
	/* read the name past the path area, then move it to end at `cur` */
	long l = bpf_probe_read_kernel_str(pb->buf + MAX_PATH, 255, name);
	if (l <= 1)
		return 1;
	l -= 1;
	cur -= l;
	bpf_probe_read_kernel(pb->buf + BOUND(cur, MAX_PATH - 1), BOUND(l, 255), pb->buf + MAX_PATH);
	cur -= 1;
	pb->buf[BOUND(cur, MAX_PATH - 1)] = '/';
	pb->cur = cur;
	w->kn = parent;
	return 0;
}

static __always_inline long cgroup_subsys_step(struct cgroup_walk *w, __u32 i)
{
	struct pathbuf *pb = w->pb;
	__u8 *data = w->data;
	if (i >= CGROUP_SUBSYS_MAX)
		return 1;
	struct cgroup_subsys_state *css = pb->css[i];
	if (!css)
		return 0;
	__u32 n = pb->sslen[i];
	if (!n) {
		long r = bpf_probe_read_kernel_str(pb->ssname[i], CGROUP_SUBSYS_NAME, BPF_CORE_READ(css, ss, name));
		if (r <= 1)
			return 0;
		n = r;
		pb->sslen[i] = n;
	}
	__u64 pos = pb->pos;
	/* the whole slot, NUL-padded: what follows the name is written over */
	__builtin_memcpy(data + SAFE(pos), pb->ssname[i], CGROUP_SUBSYS_NAME);
	pos += BOUND(n - 1, CGROUP_SUBSYS_NAME - 1);
	data[SAFE(pos)] = '=';
	pos += 1;
	w->kn = BPF_CORE_READ(css, cgroup, kn);
	pb->cur = MAX_PATH;
	NO_UNROLL
	for (int j = 0; j < CGROUP_DEPTH; j++)
		if (cgroup_path_step(w))
			break;
	__u32 cur = pb->cur;
	if (cur >= MAX_PATH) {
		data[SAFE(pos)] = '/';
		pos += 1;
	} else {
		__u64 len = BOUND(MAX_PATH - cur, MAX_PATH - 1);
		bpf_probe_read_kernel(data + SAFE(pos), len, pb->buf + BOUND(cur, MAX_PATH - 1));
		pos += len;
	}
	data[SAFE(pos)] = 0;
	pos += 1;
	pb->pos = pos;
	return 0;
}

static __always_inline void aev_cgroups(struct aev *ev, struct task_struct *t)
{
	struct cgroup_walk w = {
		.pb = pathbuf_get(),
	};
	struct css_set *cset = BPF_CORE_READ(t, cgroups);
	if (!w.pb || !cset) {
		aev_empty(ev);
		return;
	}
	__u32 count = css_set_subsys_count(cset);
	if (count > CGROUP_SUBSYS_MAX)
		count = CGROUP_SUBSYS_MAX;
	/* The entries past `count` stay as every target creates the buffer,
	 * zeroed (count is the kernel's, the same for every event). */
	bpf_probe_read_kernel(w.pb->css, BOUND(count, 15) * sizeof(void *), &cset->subsys[0]);
	__u64 start = ev->pos;
	w.pb->pos = ev->pos;
	w.data = ev->data;
	NO_UNROLL
	for (__u32 i = 0; i < CGROUP_SUBSYS_MAX; i++)
		cgroup_subsys_step(&w, i);
	__u64 end = w.pb->pos;
	if (end < start || end > start + MAX_ARGS_ENV)
		end = start;
	ev->pos = end;
	aev_close_param(ev, start);
}

/* Parameters 1..14 of execve and clone exits: exe .. cgroups. */
static __always_inline void aev_proc_common(struct aev *ev, struct task_struct *t)
{
	aev_exe_args(ev, t);
	aev_s64(ev, BPF_CORE_READ(t, pid));
	aev_s64(ev, BPF_CORE_READ(t, tgid));
	aev_s64(ev, BPF_CORE_READ(t, real_parent, tgid)); /* ppid, as libs */
	aev_cwd(ev, t);
	aev_u64(ev, BPF_CORE_READ(t, signal, rlim[RLIMIT_NOFILE].rlim_cur));
	aev_u64(ev, BPF_CORE_READ(t, maj_flt));
	aev_u64(ev, BPF_CORE_READ(t, min_flt));
	__u32 size, rss, swap;
	mm_sizes(t, &size, &rss, &swap);
	aev_u32(ev, size);
	aev_u32(ev, rss);
	aev_u32(ev, swap);
	aev_kstr(ev, TASK_COMM(t), 16);
	aev_cgroups(ev, t);
}

#endif /* SAKER_FILLERS_PROC_H */
