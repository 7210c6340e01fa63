/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Memory, modules, bpf, io_uring, waits, limits, SysV semaphores. */

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
