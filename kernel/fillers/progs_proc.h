/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Process syscalls: exec, clone/fork, credentials, namespaces, signals, ptrace. */

#define K_OVERLAYFS_SUPER_MAGIC 0x794c7630

/*
 * EXE_UPPER_LAYER or EXE_LOWER_LAYER for an executable on overlayfs (a
 * container's root), 0 elsewhere. overlayfs's inode (struct ovl_inode,
 * private to fs/overlayfs, so in no header and no vmlinux BTF) is the VFS
 * inode followed by the upper layer's dentry, which only files written or
 * copied up in the container have. The pointer read there is trusted only
 * if its inode has the executable's inode number, so a layout that ever
 * differed would give "lower", never garbage.
 */
static __always_inline __u32 exe_layer(struct file *exe)
{
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != K_OVERLAYFS_SUPER_MAGIC)
		return 0;
	unsigned long size = inode_struct_size();
	struct dentry *upper = NULL;
	if (!size || bpf_probe_read_kernel(&upper, sizeof(upper), (char *)inode + size) || !upper)
		return PPM_EXECVE_FLAGS_EXE_LOWER_LAYER;
	if (BPF_CORE_READ(upper, d_inode, i_ino) != BPF_CORE_READ(inode, i_ino))
		return PPM_EXECVE_FLAGS_EXE_LOWER_LAYER;
	return PPM_EXECVE_FLAGS_EXE_UPPER_LAYER;
}

/* EXE_* flags of the executable. */
static __always_inline __u32 exe_flags(struct file *exe)
{
	__u32 res = 0;
	if (!exe)
		return 0;
	res |= exe_layer(exe);
	const unsigned char *name = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
	char prefix[6] = {};
	bpf_probe_read_kernel(prefix, sizeof(prefix), name);
	if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' && prefix[4] == 'd' &&
	    prefix[5] == ':')
		res |= PPM_EXECVE_FLAGS_EXE_FROM_MEMFD;
	/* writable by its owner or by anyone: what a user can change */
	umode_t mode = BPF_CORE_READ(exe, f_inode, i_mode);
	struct task_struct *t = current_task();
	__u32 euid = BPF_CORE_READ(t, cred, euid.val);
	__u32 owner = BPF_CORE_READ(exe, f_inode, i_uid.val);
	if ((mode & 0002) || (euid == owner && (mode & 0200)) || euid == 0)
		res |= PPM_EXECVE_FLAGS_EXE_WRITABLE;
	return res;
}

/*
 * Parameters 15.. of execve/execveat exits, after aev_proc_common:
 * env, tty, vpgid, loginuid, flags, caps, exe inode, uid, trusted_exepath,
 * pgid, gid. `filename_uptr` is where the filename is (user memory).
 */
static __always_inline void aev_exec_tail(struct aev *ev, struct task_struct *t)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	aev_env(ev, t);
	aev_u32(ev, task_tty(t));
	aev_s64(ev, task_pgid(t, true));
	aev_u32(ev, BPF_CORE_READ(t, loginuid.val));
	aev_u32(ev, exe_flags(exe));
	const struct cred *cred = BPF_CORE_READ(t, cred);
	aev_u64(ev, cap_value((kernel_cap_t *)&cred->cap_inheritable));
	aev_u64(ev, cap_value((kernel_cap_t *)&cred->cap_permitted));
	aev_u64(ev, cap_value((kernel_cap_t *)&cred->cap_effective));
	aev_u64(ev, inode ? BPF_CORE_READ(inode, i_ino) : 0);
	aev_u64(ev, inode ? inode_ctime(inode) : 0);
	aev_u64(ev, inode ? inode_mtime(inode) : 0);
	aev_u32(ev, BPF_CORE_READ(cred, euid.val));
	aev_file_path(ev, exe);
	aev_s64(ev, task_pgid(t, false));
	aev_u32(ev, BPF_CORE_READ(cred, egid.val));
}

/* After a successful exec the filename sits right after the environment
 * strings at the top of the new stack (AT_EXECFN). */
static __always_inline unsigned long exec_filename(struct task_struct *t, long ret, unsigned long arg)
{
	if (ret == 0)
		return BPF_CORE_READ(t, mm, env_end);
	return arg;
}

SYS_EXIT(execve)
{
	AEV(PPME_SYSCALL_EXECVE_19_X);
	struct task_struct *t = current_task();
	unsigned long filename = exec_filename(t, ret, ARG(0));
	aev_s64(&ev, ret);
	aev_proc_common(&ev, t);
	aev_exec_tail(&ev, t);
	aev_ustr(&ev, filename, MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(execveat)
{
	AEV(PPME_SYSCALL_EXECVEAT_X);
	struct task_struct *t = current_task();
	aev_s64(&ev, ret);
	aev_proc_common(&ev, t);
	aev_exec_tail(&ev, t);
	aev_submit(&ev);
	return 0;
}

/* Parameters 15.. of clone/fork/vfork/clone3 exits. */
static __always_inline void aev_clone_tail(struct aev *ev, struct task_struct *t, __u64 flags)
{
	const struct cred *cred = BPF_CORE_READ(t, cred);
	aev_u32(ev, clone_flags_to_scap(flags));
	aev_u32(ev, BPF_CORE_READ(cred, euid.val));
	aev_u32(ev, BPF_CORE_READ(cred, egid.val));
	aev_s64(ev, task_vtid(t));
	aev_s64(ev, task_vpid(t));
	aev_u64(ev, task_pidns_init_start(t));
}

#define CLONE_EXIT(name, EVT, flags_expr)                      \
	SYS_EXIT(name)                                         \
	{                                                      \
		AEV(EVT);                                      \
		struct task_struct *t = current_task();        \
		__u64 flags = (flags_expr);                    \
		aev_s64(&ev, ret);                             \
		aev_proc_common(&ev, t);                       \
		aev_clone_tail(&ev, t, flags);                 \
		aev_submit(&ev);                               \
		return 0;                                      \
	}

static __always_inline __u64 clone3_flags(struct pt_regs *regs)
{
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ARG(0));
	return flags;
}

CLONE_EXIT(clone, PPME_SYSCALL_CLONE_20_X, ARG(0))
CLONE_EXIT(fork, PPME_SYSCALL_FORK_20_X, 0)
CLONE_EXIT(vfork, PPME_SYSCALL_VFORK_20_X, 0x00004000 | 0x00000100)
CLONE_EXIT(clone3, PPME_SYSCALL_CLONE3_X, clone3_flags(regs))

/* Credentials. */

SYS_EXIT(setuid)
{
	REV(PPME_SYSCALL_SETUID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setgid)
{
	REV(PPME_SYSCALL_SETGID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setreuid)
{
	REV(PPME_SYSCALL_SETREUID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setregid)
{
	REV(PPME_SYSCALL_SETREGID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setresuid)
{
	REV(PPME_SYSCALL_SETRESUID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setresgid)
{
	REV(PPME_SYSCALL_SETRESGID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

static __always_inline __u32 read_user_u32(unsigned long uptr)
{
	__u32 v = 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)uptr);
	return v;
}

SYS_EXIT(getresuid)
{
	REV(PPME_SYSCALL_GETRESUID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, read_user_u32(ARG(0)));
	rev_u32(&ev, read_user_u32(ARG(1)));
	rev_u32(&ev, read_user_u32(ARG(2)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(getresgid)
{
	REV(PPME_SYSCALL_GETRESGID_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, read_user_u32(ARG(0)));
	rev_u32(&ev, read_user_u32(ARG(1)));
	rev_u32(&ev, read_user_u32(ARG(2)));
	rev_submit(&ev);
	return 0;
}

#define ID_EXIT(name, EVT)                     \
	SYS_EXIT(name)                         \
	{                                      \
		REV(EVT);                      \
		rev_u32(&ev, ret);             \
		rev_submit(&ev);               \
		return 0;                      \
	}
ID_EXIT(getuid, PPME_SYSCALL_GETUID_X)
ID_EXIT(geteuid, PPME_SYSCALL_GETEUID_X)
ID_EXIT(getgid, PPME_SYSCALL_GETGID_X)
ID_EXIT(getegid, PPME_SYSCALL_GETEGID_X)

/* capset: the capabilities in force after the call. */
SYS_EXIT(capset)
{
	REV(PPME_SYSCALL_CAPSET_X);
	struct task_struct *t = current_task();
	const struct cred *cred = BPF_CORE_READ(t, cred);
	rev_s64(&ev, ret);
	rev_u64(&ev, cap_value((kernel_cap_t *)&cred->cap_inheritable));
	rev_u64(&ev, cap_value((kernel_cap_t *)&cred->cap_permitted));
	rev_u64(&ev, cap_value((kernel_cap_t *)&cred->cap_effective));
	rev_submit(&ev);
	return 0;
}

#define K_PR_SET_NAME 15
#define K_PR_GET_NAME 16

SYS_EXIT(prctl)
{
	AEV(PPME_SYSCALL_PRCTL_X);
	__u64 option = ARG(0);
	aev_s64(&ev, ret);
	aev_u32(&ev, option);
	if (option == K_PR_SET_NAME || option == K_PR_GET_NAME) {
		aev_ustr(&ev, ARG(1), 16);
		aev_s64(&ev, 0);
	} else {
		aev_empty(&ev);
		aev_s64(&ev, ARG(1));
	}
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(setns)
{
	REV(PPME_SYSCALL_SETNS_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, clone_flags_to_scap(ARG(1)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(unshare)
{
	REV(PPME_SYSCALL_UNSHARE_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, clone_flags_to_scap(ARG(0)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setpgid)
{
	REV(PPME_SYSCALL_SETPGID_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setsid)
{
	REV(PPME_SYSCALL_SETSID_X);
	rev_s64(&ev, ret);
	rev_submit(&ev);
	return 0;
}

/* ptrace(request, pid, addr, data): addr and data as PPM_PTRACE_IDX_UINT64. */
SYS_EXIT(ptrace)
{
	AEV(PPME_SYSCALL_PTRACE_X);
	aev_s64(&ev, ret);
	__u64 start = aev_open_param(&ev);
	*(__u8 *)(ev.data + SAFE(ev.pos)) = 0;
	*(__u64 *)(ev.data + SAFE(ev.pos + 1)) = ARG(2);
	ev.pos += 9;
	aev_close_param(&ev, start);
	start = aev_open_param(&ev);
	*(__u8 *)(ev.data + SAFE(ev.pos)) = 0;
	*(__u64 *)(ev.data + SAFE(ev.pos + 1)) = ARG(3);
	ev.pos += 9;
	aev_close_param(&ev, start);
	aev_u16(&ev, ptrace_request_to_scap(ARG(0)));
	aev_s64(&ev, IARG(1));
	aev_submit(&ev);
	return 0;
}

/* Signals. */

SYS_EXIT(kill)
{
	REV(PPME_SYSCALL_KILL_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u8(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(tkill)
{
	REV(PPME_SYSCALL_TKILL_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u8(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(tgkill)
{
	REV(PPME_SYSCALL_TGKILL_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_u8(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(seccomp)
{
	REV(PPME_SYSCALL_SECCOMP_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(pidfd_open)
{
	REV(PPME_SYSCALL_PIDFD_OPEN_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, pidfd_open_flags_to_scap(ARG(1)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(pidfd_getfd)
{
	REV(PPME_SYSCALL_PIDFD_GETFD_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

/* process_vm_readv/writev(pid, local_iov, liovcnt, remote_iov, riovcnt, flags) */
SYS_EXIT(process_vm_readv)
{
	AEV(PPME_SYSCALL_PROCESS_VM_READV_X);
	__u32 total;
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(process_vm_writev)
{
	AEV(PPME_SYSCALL_PROCESS_VM_WRITEV_X);
	__u32 total;
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	aev_submit(&ev);
	return 0;
}

/* sched_process_exit(p): procexit of the task `p` (the current one). */
SCHED_PROCESS_EXIT(p)
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
