/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Memory, modules, bpf, io_uring, waits, limits, SysV semaphores, keys, quotas. */

static __always_inline void rev_vm(struct rev *ev)
{
	__u32 size, rss, swap;
	mm_sizes(current_task(), &size, &rss, &swap);
	rev_u32(ev, size);
	rev_u32(ev, rss);
	rev_u32(ev, swap);
}

SYS_EXIT(mmap)
{
	REV(PPME_SYSCALL_MMAP_X);
	rev_s64(&ev, ret);
	rev_vm(&ev);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_u32(&ev, prot_flags_to_scap(ARG(2)));
	rev_u32(&ev, mmap_flags_to_scap(ARG(3)));
	rev_s64(&ev, IARG(4));
	rev_u64(&ev, ARG(5));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(munmap)
{
	REV(PPME_SYSCALL_MUNMAP_X);
	rev_s64(&ev, ret);
	rev_vm(&ev);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(mprotect)
{
	REV(PPME_SYSCALL_MPROTECT_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_u32(&ev, prot_flags_to_scap(ARG(2)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(brk)
{
	REV(PPME_SYSCALL_BRK_4_X);
	rev_u64(&ev, ret);
	rev_vm(&ev);
	rev_u64(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(mlock)
{
	REV(PPME_SYSCALL_MLOCK_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(munlock)
{
	REV(PPME_SYSCALL_MUNLOCK_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(mlock2)
{
	REV(PPME_SYSCALL_MLOCK2_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u64(&ev, ARG(1));
	rev_u32(&ev, ARG(2) & 1); /* MLOCK_ONFAULT */
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(mlockall)
{
	REV(PPME_SYSCALL_MLOCKALL_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0) & 0x7);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(munlockall)
{
	REV(PPME_SYSCALL_MUNLOCKALL_X);
	rev_s64(&ev, ret);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(userfaultfd)
{
	REV(PPME_SYSCALL_USERFAULTFD_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

/* io_uring_setup(entries, params*): the params after the kernel filled them. */
SYS_EXIT(io_uring_setup)
{
	REV(PPME_SYSCALL_IO_URING_SETUP_X);
	struct io_uring_params p = {};
	bpf_probe_read_user(&p, sizeof(p), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, p.sq_entries);
	rev_u32(&ev, p.cq_entries);
	rev_u32(&ev, p.flags & 0xff);
	rev_u32(&ev, p.sq_thread_cpu);
	rev_u32(&ev, p.sq_thread_idle);
	rev_u32(&ev, p.features);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(io_uring_enter)
{
	REV(PPME_SYSCALL_IO_URING_ENTER_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_u32(&ev, ARG(3) & 0xf);
	rev_u32(&ev, ARG(4));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(io_uring_register)
{
	REV(PPME_SYSCALL_IO_URING_REGISTER_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u16(&ev, ARG(1));
	rev_u64(&ev, ARG(2));
	rev_u32(&ev, ARG(3));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(bpf)
{
	REV(PPME_SYSCALL_BPF_2_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

/* init_module(image, len, uargs): the image up to snaplen. */
SYS_EXIT(init_module)
{
	AEV(PPME_SYSCALL_INIT_MODULE_X);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(0), ARG(1));
	aev_u64(&ev, ARG(1));
	aev_ustr(&ev, ARG(2), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(finit_module)
{
	AEV(PPME_SYSCALL_FINIT_MODULE_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, ARG(2) & 0x7);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(delete_module)
{
	AEV(PPME_SYSCALL_DELETE_MODULE_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), 64);
	aev_u32(&ev, delete_module_flags_to_scap(ARG(1)));
	aev_submit(&ev);
	return 0;
}

/* Waits and time. */

SYS_EXIT(nanosleep)
{
	REV(PPME_SYSCALL_NANOSLEEP_X);
	struct __kernel_timespec ts = {};
	bpf_probe_read_user(&ts, sizeof(ts), (void *)ARG(0));
	rev_s64(&ev, ret);
	rev_u64(&ev, ts.tv_sec * 1000000000ULL + ts.tv_nsec);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(futex)
{
	REV(PPME_SYSCALL_FUTEX_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u16(&ev, ARG(1) & 0x1ff);
	rev_u64(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(epoll_wait)
{
	REV(PPME_SYSCALL_EPOLLWAIT_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(select)
{
	REV(PPME_SYSCALL_SELECT_X);
	rev_s64(&ev, ret);
	rev_submit(&ev);
	return 0;
}

#define POLL_MAX_FDS 16

/* PT_FDLIST: u16 n, then n x (u64 fd, u16 flags); flags are revents at exit. */
static __always_inline void aev_fdlist(struct aev *ev, unsigned long ufds, unsigned long nfds)
{
	__u64 start = ev->pos;
	__u16 n = 0;
	ev->pos += 2;
	for (int i = 0; i < POLL_MAX_FDS; i++) {
		if (i >= nfds)
			break;
		struct pollfd p = {};
		if (bpf_probe_read_user(&p, sizeof(p), (void *)(ufds + i * sizeof(p))))
			break;
		*(__s64 *)(ev->data + SAFE(ev->pos)) = p.fd;
		*(__u16 *)(ev->data + SAFE(ev->pos + 8)) = p.revents & 0x7ff; /* POLL* values are the same */
		ev->pos += 10;
		n++;
	}
	*(__u16 *)(ev->data + SAFE(start)) = n;
	aev_close_param(ev, start);
}

SYS_EXIT(poll)
{
	AEV(PPME_SYSCALL_POLL_X);
	aev_s64(&ev, ret);
	aev_fdlist(&ev, ARG(0), ARG(1));
	aev_s64(&ev, IARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(ppoll)
{
	AEV(PPME_SYSCALL_PPOLL_X);
	struct __kernel_timespec ts = {};
	__u64 timeout = (__u64)-1;
	__u64 sigmask = 0;
	if (ARG(2) && !bpf_probe_read_user(&ts, sizeof(ts), (void *)ARG(2)))
		timeout = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (ARG(3))
		bpf_probe_read_user(&sigmask, sizeof(sigmask), (void *)ARG(3));
	aev_s64(&ev, ret);
	aev_fdlist(&ev, ARG(0), ARG(1));
	aev_u64(&ev, timeout);
	aev_u32(&ev, (__u32)sigmask);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(ioctl)
{
	REV(PPME_SYSCALL_IOCTL_3_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u64(&ev, ARG(1));
	rev_u64(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

/* Resource limits. */

static __always_inline __u8 rlimit_to_scap(__u64 r)
{
	return r <= 15 ? r : 255; /* RLIMIT_* values are the same */
}

SYS_EXIT(getrlimit)
{
	REV(PPME_SYSCALL_GETRLIMIT_X);
	struct rlimit rl = {};
	if (ret == 0)
		bpf_probe_read_user(&rl, sizeof(rl), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_s64(&ev, ret == 0 ? rl.rlim_cur : -1);
	rev_s64(&ev, ret == 0 ? rl.rlim_max : -1);
	rev_u8(&ev, rlimit_to_scap(ARG(0)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(setrlimit)
{
	REV(PPME_SYSCALL_SETRLIMIT_X);
	struct rlimit rl = {};
	bpf_probe_read_user(&rl, sizeof(rl), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_s64(&ev, rl.rlim_cur);
	rev_s64(&ev, rl.rlim_max);
	rev_u8(&ev, rlimit_to_scap(ARG(0)));
	rev_submit(&ev);
	return 0;
}

/* prlimit64(pid, resource, new*, old*) */
SYS_EXIT(prlimit64)
{
	REV(PPME_SYSCALL_PRLIMIT_X);
	struct rlimit newl = { (unsigned long)-1, (unsigned long)-1 }, oldl = { (unsigned long)-1, (unsigned long)-1 };
	if (ARG(2))
		bpf_probe_read_user(&newl, sizeof(newl), (void *)ARG(2));
	if (ret == 0 && ARG(3))
		bpf_probe_read_user(&oldl, sizeof(oldl), (void *)ARG(3));
	rev_s64(&ev, ret);
	rev_s64(&ev, newl.rlim_cur);
	rev_s64(&ev, newl.rlim_max);
	rev_s64(&ev, oldl.rlim_cur);
	rev_s64(&ev, oldl.rlim_max);
	rev_s64(&ev, IARG(0));
	rev_u8(&ev, rlimit_to_scap(ARG(1)));
	rev_submit(&ev);
	return 0;
}

/* SysV semaphores. */

SYS_EXIT(semget)
{
	REV(PPME_SYSCALL_SEMGET_X);
	rev_s64(&ev, ret);
	rev_s32(&ev, ARG(0));
	rev_s32(&ev, ARG(1));
	rev_u32(&ev, ARG(2) & 03000); /* IPC_CREAT, IPC_EXCL */
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(semctl)
{
	REV(PPME_SYSCALL_SEMCTL_X);
	rev_s64(&ev, ret);
	rev_s32(&ev, ARG(0));
	rev_s32(&ev, ARG(1));
	rev_u16(&ev, ARG(2));
	rev_s32(&ev, ARG(3));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(semop)
{
	REV(PPME_SYSCALL_SEMOP_X);
	struct sembuf sb[2] = {};
	__u64 nsops = ARG(2);
	if (ret == 0 && nsops)
		bpf_probe_read_user(sb, (nsops > 1 ? 2 : 1) * sizeof(struct sembuf), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_u32(&ev, nsops);
	rev_u16(&ev, sb[0].sem_num);
	rev_s16(&ev, sb[0].sem_op);
	rev_u16(&ev, sb[0].sem_flg);
	rev_u16(&ev, sb[1].sem_num);
	rev_s16(&ev, sb[1].sem_op);
	rev_u16(&ev, sb[1].sem_flg);
	rev_s32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

/* fsconfig(fd, cmd, key, value, aux): the value as a string or bytes by cmd. */
#define K_FSCONFIG_SET_STRING 1
#define K_FSCONFIG_SET_BINARY 2

SYS_EXIT(fsconfig)
{
	AEV(PPME_SYSCALL_FSCONFIG_X);
	__u64 cmd = ARG(1);
	long aux = IARG(4);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, cmd);
	aev_ustr(&ev, ARG(2), MAX_PATH);
	if (cmd == K_FSCONFIG_SET_BINARY && aux > 0)
		aev_data(&ev, ARG(3), aux);
	else
		aev_empty(&ev);
	if (cmd == K_FSCONFIG_SET_STRING)
		aev_ustr(&ev, ARG(3), MAX_PATH);
	else
		aev_empty(&ev);
	aev_s32(&ev, aux);
	aev_submit(&ev);
	return 0;
}

/*
 * Keys: keyctl(operation, arg2, arg3, arg4, arg5).
 *
 * The operation is the kernel's KEYCTL_* value (the event table has no
 * keyctl operation table). arg2..arg5 are PT_DYN: KEYCTL_IDX_INT64 and the
 * register as an s64, or KEYCTL_IDX_CHARBUF and the string it points to;
 * the arguments an operation does not take are INT64 0.
 */
#define KEYCTL_IDX_INT64 0
#define KEYCTL_IDX_CHARBUF 1

#define K_KEYCTL_GET_KEYRING_ID 0
#define K_KEYCTL_JOIN_SESSION_KEYRING 1
#define K_KEYCTL_UPDATE 2
#define K_KEYCTL_REVOKE 3
#define K_KEYCTL_CHOWN 4
#define K_KEYCTL_SETPERM 5
#define K_KEYCTL_DESCRIBE 6
#define K_KEYCTL_CLEAR 7
#define K_KEYCTL_LINK 8
#define K_KEYCTL_UNLINK 9
#define K_KEYCTL_SEARCH 10
#define K_KEYCTL_READ 11
#define K_KEYCTL_INSTANTIATE 12
#define K_KEYCTL_NEGATE 13
#define K_KEYCTL_SET_REQKEY_KEYRING 14
#define K_KEYCTL_SET_TIMEOUT 15
#define K_KEYCTL_ASSUME_AUTHORITY 16
#define K_KEYCTL_GET_SECURITY 17
#define K_KEYCTL_SESSION_TO_PARENT 18
#define K_KEYCTL_REJECT 19
#define K_KEYCTL_INSTANTIATE_IOV 20
#define K_KEYCTL_INVALIDATE 21
#define K_KEYCTL_GET_PERSISTENT 22
#define K_KEYCTL_DH_COMPUTE 23
#define K_KEYCTL_PKEY_QUERY 24
#define K_KEYCTL_PKEY_ENCRYPT 25
#define K_KEYCTL_PKEY_DECRYPT 26
#define K_KEYCTL_PKEY_SIGN 27
#define K_KEYCTL_PKEY_VERIFY 28
#define K_KEYCTL_RESTRICT_KEYRING 29
#define K_KEYCTL_MOVE 30
#define K_KEYCTL_CAPABILITIES 31
#define K_KEYCTL_WATCH_KEY 32

/* The arguments after the operation that `op` takes: their number in the
 * low 3 bits, and bit 4 + i set when argument 2 + i is a string. */
#define KEYCTL_SHAPE(n, strs) ((n) | ((strs) << 4))

static __always_inline __u8 keyctl_shape(__u32 op)
{
	switch (op) {
	case K_KEYCTL_SESSION_TO_PARENT:
		return KEYCTL_SHAPE(0, 0);
	case K_KEYCTL_JOIN_SESSION_KEYRING:
		return KEYCTL_SHAPE(1, 0x1);
	case K_KEYCTL_REVOKE:
	case K_KEYCTL_CLEAR:
	case K_KEYCTL_SET_REQKEY_KEYRING:
	case K_KEYCTL_ASSUME_AUTHORITY:
	case K_KEYCTL_INVALIDATE:
		return KEYCTL_SHAPE(1, 0);
	case K_KEYCTL_GET_KEYRING_ID:
	case K_KEYCTL_SETPERM:
	case K_KEYCTL_LINK:
	case K_KEYCTL_UNLINK:
	case K_KEYCTL_SET_TIMEOUT:
	case K_KEYCTL_GET_PERSISTENT:
	case K_KEYCTL_CAPABILITIES:
		return KEYCTL_SHAPE(2, 0);
	case K_KEYCTL_UPDATE:
	case K_KEYCTL_CHOWN:
	case K_KEYCTL_DESCRIBE:
	case K_KEYCTL_READ:
	case K_KEYCTL_NEGATE:
	case K_KEYCTL_GET_SECURITY:
	case K_KEYCTL_WATCH_KEY:
		return KEYCTL_SHAPE(3, 0);
	case K_KEYCTL_PKEY_QUERY:
		return KEYCTL_SHAPE(3, 0x4);
	case K_KEYCTL_RESTRICT_KEYRING:
		return KEYCTL_SHAPE(3, 0x6);
	case K_KEYCTL_SEARCH:
		return KEYCTL_SHAPE(4, 0x6);
	case K_KEYCTL_PKEY_ENCRYPT:
	case K_KEYCTL_PKEY_DECRYPT:
	case K_KEYCTL_PKEY_SIGN:
	case K_KEYCTL_PKEY_VERIFY:
		return KEYCTL_SHAPE(4, 0x2);
	case K_KEYCTL_INSTANTIATE:
	case K_KEYCTL_REJECT:
	case K_KEYCTL_INSTANTIATE_IOV:
	case K_KEYCTL_DH_COMPUTE:
	case K_KEYCTL_MOVE:
		return KEYCTL_SHAPE(4, 0);
	default:
		return KEYCTL_SHAPE(0, 0);
	}
}

/* Argument 2 + i of keyctl, as a PT_DYN parameter; an unreadable string is
 * an empty CHARBUF. */
static __always_inline void aev_keyctl_arg(struct aev *ev, __u8 shape, int i, unsigned long v)
{
	bool used = i < (shape & 0x7);
	bool str = used && (shape & (0x10 << i));
	__u64 start = aev_open_param(ev);
	*(__u8 *)(ev->data + SAFE(ev->pos)) = str ? KEYCTL_IDX_CHARBUF : KEYCTL_IDX_INT64;
	ev->pos += 1;
	if (str) {
		long n = bpf_probe_read_user_str(ev->data + SAFE(ev->pos), MAX_PATH, (const void *)v);
		if (n > 0)
			ev->pos += n;
	} else {
		*(__s64 *)(ev->data + SAFE(ev->pos)) = used ? (__s64)v : 0;
		ev->pos += 8;
	}
	aev_close_param(ev, start);
}

SYS_EXIT(keyctl)
{
	AEV(PPME_SYSCALL_KEYCTL_X);
	__u32 op = ARG(0);
	__u8 shape = keyctl_shape(op);
	aev_s64(&ev, ret);
	aev_u32(&ev, op);
	aev_keyctl_arg(&ev, shape, 0, ARG(1));
	aev_keyctl_arg(&ev, shape, 1, ARG(2));
	aev_keyctl_arg(&ev, shape, 2, ARG(3));
	aev_keyctl_arg(&ev, shape, 3, ARG(4));
	aev_submit(&ev);
	return 0;
}

/*
 * Quotas: quotactl(cmd, special, id, addr), cmd = QCMD(subcmd, type).
 * The quota block (if_dqblk) is read for Q_SETQUOTA, and for Q_GETQUOTA
 * when it succeeded; the quota info (if_dqinfo) likewise for Q_SETINFO and
 * Q_GETINFO; only the fields their valid bits name are sent, others are 0.
 */
#define K_SUBCMDSHIFT 8
#define K_SUBCMDMASK 0xff
#define K_Q_SYNC 0x800001
#define K_Q_QUOTAON 0x800002
#define K_Q_QUOTAOFF 0x800003
#define K_Q_GETFMT 0x800004
#define K_Q_GETINFO 0x800005
#define K_Q_SETINFO 0x800006
#define K_Q_GETQUOTA 0x800007
#define K_Q_SETQUOTA 0x800008
#define K_Q_XQUOTAON 0x5801
#define K_Q_XQUOTAOFF 0x5802
#define K_Q_XGETQUOTA 0x5803
#define K_Q_XSETQLIM 0x5804
#define K_Q_XGETQSTAT 0x5805
#define K_Q_XQUOTARM 0x5806
#define K_Q_XQUOTASYNC 0x5807
#define K_USRQUOTA 0
#define K_GRPQUOTA 1
#define K_QFMT_VFS_OLD 1
#define K_QFMT_VFS_V0 2
#define K_QFMT_VFS_V1 4
#define K_QIF_BLIMITS 1
#define K_QIF_SPACE 2
#define K_QIF_ILIMITS 4
#define K_QIF_BTIME 16
#define K_QIF_ITIME 32
#define K_IIF_BGRACE 1
#define K_IIF_IGRACE 2
#define K_IIF_FLAGS 4
#define K_DQF_ROOT_SQUASH 1

static __always_inline __u16 quotactl_cmd_to_scap(__u32 subcmd)
{
	switch (subcmd) {
	case K_Q_QUOTAON: return PPM_QUOTACTL_CMDS_Q_QUOTAON;
	case K_Q_QUOTAOFF: return PPM_QUOTACTL_CMDS_Q_QUOTAOFF;
	case K_Q_GETFMT: return PPM_QUOTACTL_CMDS_Q_GETFMT;
	case K_Q_GETINFO: return PPM_QUOTACTL_CMDS_Q_GETINFO;
	case K_Q_SETINFO: return PPM_QUOTACTL_CMDS_Q_SETINFO;
	case K_Q_GETQUOTA: return PPM_QUOTACTL_CMDS_Q_GETQUOTA;
	case K_Q_SETQUOTA: return PPM_QUOTACTL_CMDS_Q_SETQUOTA;
	case K_Q_SYNC: return PPM_QUOTACTL_CMDS_Q_SYNC;
	case K_Q_XQUOTAON: return PPM_QUOTACTL_CMDS_Q_XQUOTAON;
	case K_Q_XQUOTAOFF: return PPM_QUOTACTL_CMDS_Q_XQUOTAOFF;
	case K_Q_XGETQUOTA: return PPM_QUOTACTL_CMDS_Q_XGETQUOTA;
	case K_Q_XSETQLIM: return PPM_QUOTACTL_CMDS_Q_XSETQLIM;
	case K_Q_XGETQSTAT: return PPM_QUOTACTL_CMDS_Q_XGETQSTAT;
	case K_Q_XQUOTARM: return PPM_QUOTACTL_CMDS_Q_XQUOTARM;
	case K_Q_XQUOTASYNC: return PPM_QUOTACTL_CMDS_Q_XQUOTASYNC;
	default: return 0;
	}
}

static __always_inline __u8 quotactl_type_to_scap(__u32 type)
{
	switch (type) {
	case K_USRQUOTA: return PPM_QUOTACTL_TYPES_USRQUOTA;
	case K_GRPQUOTA: return PPM_QUOTACTL_TYPES_GRPQUOTA;
	default: return 0;
	}
}

static __always_inline __u8 quotactl_fmt_to_scap(__u32 fmt)
{
	switch (fmt) {
	case K_QFMT_VFS_OLD: return PPM_QUOTACTL_QUOTA_FMTS_QFMT_VFS_OLD;
	case K_QFMT_VFS_V0: return PPM_QUOTACTL_QUOTA_FMTS_QFMT_VFS_V0;
	case K_QFMT_VFS_V1: return PPM_QUOTACTL_QUOTA_FMTS_QFMT_VFS_V1;
	default: return PPM_QUOTACTL_QUOTA_FMTS_QFMT_NOT_USED;
	}
}

static __always_inline __u8 quotactl_dqi_flags_to_scap(__u32 flags)
{
	if (flags & K_DQF_ROOT_SQUASH)
		return PPM_QUOTACTL_DQI_FLAGS_V1_DQF_RSQUASH;
	return PPM_QUOTACTL_DQI_FLAGS_DQF_NONE;
}

SYS_EXIT(quotactl)
{
	AEV(PPME_SYSCALL_QUOTACTL_X);
	__u32 kcmd = ARG(0);
	__u32 subcmd = kcmd >> K_SUBCMDSHIFT;
	__u32 id = ARG(2);
	unsigned long addr = ARG(3);
	struct if_dqblk dq = {};
	struct if_dqinfo di = {};
	__u8 fmt_out = PPM_QUOTACTL_QUOTA_FMTS_QFMT_NOT_USED;

	if (subcmd == K_Q_SETQUOTA || (subcmd == K_Q_GETQUOTA && ret == 0)) {
		if (bpf_probe_read_user(&dq, sizeof(dq), (const void *)addr))
			dq.dqb_valid = 0;
	}
	if (subcmd == K_Q_SETINFO || (subcmd == K_Q_GETINFO && ret == 0)) {
		if (bpf_probe_read_user(&di, sizeof(di), (const void *)addr))
			di.dqi_valid = 0;
	}
	if (subcmd == K_Q_GETFMT && ret == 0) {
		__u32 fmt = 0;
		if (!bpf_probe_read_user(&fmt, sizeof(fmt), (const void *)addr))
			fmt_out = quotactl_fmt_to_scap(fmt);
	}

	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(1), MAX_PATH);
	if (subcmd == K_Q_QUOTAON)
		aev_ustr(&ev, addr, MAX_PATH);
	else
		aev_empty(&ev);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_BLIMITS) ? dq.dqb_bhardlimit : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_BLIMITS) ? dq.dqb_bsoftlimit : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_SPACE) ? dq.dqb_curspace : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_ILIMITS) ? dq.dqb_ihardlimit : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_ILIMITS) ? dq.dqb_isoftlimit : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_BTIME) ? dq.dqb_btime : 0);
	aev_u64(&ev, (dq.dqb_valid & K_QIF_ITIME) ? dq.dqb_itime : 0);
	aev_u64(&ev, (di.dqi_valid & K_IIF_BGRACE) ? di.dqi_bgrace : 0);
	aev_u64(&ev, (di.dqi_valid & K_IIF_IGRACE) ? di.dqi_igrace : 0);
	aev_u8(&ev, (di.dqi_valid & K_IIF_FLAGS) ? quotactl_dqi_flags_to_scap(di.dqi_flags) : 0);
	aev_u8(&ev, fmt_out);
	__u16 cmd = quotactl_cmd_to_scap(subcmd);
	aev_u16(&ev, cmd);
	aev_u8(&ev, quotactl_type_to_scap(kcmd & K_SUBCMDMASK));
	/* id names a user or group only for these commands */
	if (subcmd == K_Q_GETQUOTA || subcmd == K_Q_SETQUOTA || subcmd == K_Q_XGETQUOTA || subcmd == K_Q_XSETQLIM)
		aev_u32(&ev, id);
	else
		aev_u32(&ev, 0);
	aev_u8(&ev, subcmd == K_Q_QUOTAON ? quotactl_fmt_to_scap(id) : PPM_QUOTACTL_QUOTA_FMTS_QFMT_NOT_USED);
	aev_submit(&ev);
	return 0;
}
