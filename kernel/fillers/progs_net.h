/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Socket syscalls. */

#define K_SOCK_NONBLOCK 00004000
#define K_SOCK_CLOEXEC 02000000

SYS_EXIT(socket)
{
	REV(PPME_SOCKET_SOCKET_X);
	__u64 type = ARG(1);
	rev_s64(&ev, ret);
	rev_u32(&ev, socket_family_to_scap(ARG(0)));
	rev_u32(&ev, type);
	rev_u32(&ev, ARG(2));
	rev_u32(&ev, fd_flags_to_scap(type & (K_SOCK_NONBLOCK | K_SOCK_CLOEXEC)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(bind)
{
	AEV(PPME_SOCKET_BIND_X);
	aev_s64(&ev, ret);
	aev_sockaddr(&ev, ARG(1), ARG(2));
	aev_s64(&ev, IARG(0));
	aev_submit(&ev);
	return 0;
}

/* connect(fd, addr, len): the address is read before the kernel acts, and
 * again at exit with the resulting tuple. */
static __always_inline int enter_connect(unsigned long fd, unsigned long uaddr, unsigned long len,
					 unsigned long a3)
{
	AEV(PPME_SOCKET_CONNECT_E);
	aev_s64(&ev, (int)fd);
	aev_sockaddr(&ev, uaddr, len);
	aev_submit(&ev);
	return 0;
}
ENTER_PROGS(connect)

SYS_EXIT(connect)
{
	AEV(PPME_SOCKET_CONNECT_X);
	long fd = IARG(0);
	aev_s64(&ev, ret);
	aev_socktuple(&ev, fd, ARG(1), ARG(2), false);
	aev_s64(&ev, fd);
	aev_sockaddr(&ev, ARG(1), ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(listen)
{
	REV(PPME_SOCKET_LISTEN_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s32(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

/* The accept queue of the listening socket: pct, len, max. */
static __always_inline void aev_queue(struct aev *ev, long listen_fd)
{
	struct sock *sk = fd_sock(listen_fd);
	__u32 len = 0, max = 0;
	if (sk) {
		len = BPF_CORE_READ(sk, sk_ack_backlog);
		max = BPF_CORE_READ(sk, sk_max_ack_backlog);
	}
	aev_u8(ev, max ? (len * 100) / max : 0);
	aev_u32(ev, len);
	aev_u32(ev, max);
}

SYS_EXIT(accept)
{
	AEV(PPME_SOCKET_ACCEPT_5_X);
	aev_s64(&ev, ret);
	if (ret >= 0)
		aev_socktuple(&ev, ret, 0, 0, true);
	else
		aev_empty(&ev);
	aev_queue(&ev, IARG(0));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(accept4)
{
	AEV(PPME_SOCKET_ACCEPT4_6_X);
	aev_s64(&ev, ret);
	if (ret >= 0)
		aev_socktuple(&ev, ret, 0, 0, true);
	else
		aev_empty(&ev);
	aev_queue(&ev, IARG(0));
	aev_s32(&ev, fd_flags_to_scap(ARG(3)));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(shutdown)
{
	REV(PPME_SOCKET_SHUTDOWN_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u8(&ev, shutdown_how_to_scap(ARG(1)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(socketpair)
{
	REV(PPME_SOCKET_SOCKETPAIR_X);
	__s32 fds[2] = { -1, -1 };
	__u64 src = 0, peer = 0;
	if (ret == 0 && !bpf_probe_read_user(fds, sizeof(fds), (void *)ARG(3))) {
		struct sock *sk = fd_sock(fds[0]);
		src = (__u64)sk;
		if (sk)
			peer = (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer);
	}
	rev_s64(&ev, ret);
	rev_s64(&ev, ret == 0 ? fds[0] : -1);
	rev_s64(&ev, ret == 0 ? fds[1] : -1);
	rev_u64(&ev, src);
	rev_u64(&ev, peer);
	rev_u32(&ev, socket_family_to_scap(ARG(0)));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

/* sendto(fd, buf, len, flags, addr, addrlen) */
SYS_EXIT(sendto)
{
	AEV(PPME_SOCKET_SENDTO_X);
	long fd = IARG(0);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_s64(&ev, fd);
	aev_u32(&ev, ARG(2));
	aev_socktuple(&ev, fd, ARG(4), ARG(5), false);
	aev_submit(&ev);
	return 0;
}

/* recvfrom(fd, buf, len, flags, addr, addrlen*) */
SYS_EXIT(recvfrom)
{
	AEV(PPME_SOCKET_RECVFROM_X);
	long fd = IARG(0);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_socktuple(&ev, fd, 0, 0, true);
	aev_s64(&ev, fd);
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(sendmsg)
{
	AEV(PPME_SOCKET_SENDMSG_X);
	long fd = IARG(0);
	struct user_msghdr mh = {};
	__u32 total = 0;
	bpf_probe_read_user(&mh, sizeof(mh), (void *)ARG(1));
	aev_s64(&ev, ret);
	aev_iovec(&ev, (unsigned long)mh.msg_iov, mh.msg_iovlen, ret, &total);
	aev_s64(&ev, fd);
	aev_u32(&ev, total);
	aev_socktuple(&ev, fd, (unsigned long)mh.msg_name, mh.msg_namelen, false);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(recvmsg)
{
	AEV(PPME_SOCKET_RECVMSG_X);
	long fd = IARG(0);
	struct user_msghdr mh = {};
	__u32 total = 0;
	bpf_probe_read_user(&mh, sizeof(mh), (void *)ARG(1));
	aev_s64(&ev, ret);
	__u64 size_pos = ev.pos;
	*(__u32 *)(ev.data + SAFE(size_pos)) = 0;
	ev.pos += 4;
	aev_len(&ev, 4);
	aev_iovec(&ev, (unsigned long)mh.msg_iov, mh.msg_iovlen, ret, &total);
	*(__u32 *)(ev.data + SAFE(size_pos)) = total;
	aev_socktuple(&ev, fd, 0, 0, true);
	__u32 clen = mh.msg_controllen < snaplen ? mh.msg_controllen : snaplen;
	aev_bytes(&ev, mh.msg_control, ret >= 0 ? clen : 0, true);
	aev_s64(&ev, fd);
	aev_submit(&ev);
	return 0;
}

/* sendmmsg/recvmmsg: the first message only (as Falco before per-message events). */
struct mmsghdr_ {
	struct user_msghdr msg_hdr;
	unsigned int msg_len;
};

SYS_EXIT(sendmmsg)
{
	AEV(PPME_SOCKET_SENDMMSG_X);
	long fd = IARG(0);
	struct mmsghdr_ mm = {};
	__u32 total = 0;
	bpf_probe_read_user(&mm, sizeof(mm), (void *)ARG(1));
	aev_s64(&ev, ret);
	aev_s64(&ev, fd);
	__u64 size_pos = ev.pos;
	*(__u32 *)(ev.data + SAFE(size_pos)) = 0;
	ev.pos += 4;
	aev_len(&ev, 4);
	aev_iovec(&ev, (unsigned long)mm.msg_hdr.msg_iov, mm.msg_hdr.msg_iovlen, ret > 0 ? mm.msg_len : 0, &total);
	*(__u32 *)(ev.data + SAFE(size_pos)) = total;
	aev_socktuple(&ev, fd, (unsigned long)mm.msg_hdr.msg_name, mm.msg_hdr.msg_namelen, false);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(recvmmsg)
{
	AEV(PPME_SOCKET_RECVMMSG_X);
	long fd = IARG(0);
	struct mmsghdr_ mm = {};
	__u32 total = 0;
	bpf_probe_read_user(&mm, sizeof(mm), (void *)ARG(1));
	aev_s64(&ev, ret);
	aev_s64(&ev, fd);
	__u64 size_pos = ev.pos;
	*(__u32 *)(ev.data + SAFE(size_pos)) = 0;
	ev.pos += 4;
	aev_len(&ev, 4);
	aev_iovec(&ev, (unsigned long)mm.msg_hdr.msg_iov, mm.msg_hdr.msg_iovlen, ret > 0 ? mm.msg_len : 0, &total);
	*(__u32 *)(ev.data + SAFE(size_pos)) = total;
	aev_socktuple(&ev, fd, 0, 0, true);
	aev_empty(&ev);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(getsockname)
{
	REV(PPME_SOCKET_GETSOCKNAME_X);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(getpeername)
{
	REV(PPME_SOCKET_GETPEERNAME_X);
	rev_submit(&ev);
	return 0;
}

/* setsockopt/getsockopt: the value as an opaque buffer (PPM_SOCKOPT_IDX_UNKNOWN). */
static __always_inline void aev_sockopt(struct aev *ev, long ret, struct pt_regs *regs, bool get)
{
	long fd = IARG(0);
	__u32 optlen = ARG(4);
	if (get) {
		optlen = 0;
		bpf_probe_read_user(&optlen, sizeof(optlen), (void *)ARG(4));
	}
	aev_s64(ev, ret);
	aev_s64(ev, fd);
	aev_u8(ev, ARG(1) == 1 ? 1 : 0); /* SOL_SOCKET -> PPM_SOCKOPT_LEVEL_SOL_SOCKET */
	aev_u8(ev, 0);
	__u64 start = ev->pos;
	*(__u8 *)(ev->data + SAFE(ev->pos)) = 0; /* PPM_SOCKOPT_IDX_UNKNOWN */
	ev->pos += 1;
	__u64 n = BOUND(optlen < snaplen ? optlen : snaplen, MAX_SNAPLEN);
	if (ret == 0 && n && !bpf_probe_read_user(ev->data + SAFE(ev->pos), n, (void *)ARG(3)))
		ev->pos += n;
	aev_close_param(ev, start);
	aev_u32(ev, optlen);
}

SYS_EXIT(setsockopt)
{
	AEV(PPME_SOCKET_SETSOCKOPT_X);
	aev_sockopt(&ev, ret, regs, false);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(getsockopt)
{
	AEV(PPME_SOCKET_GETSOCKOPT_X);
	aev_sockopt(&ev, ret, regs, true);
	aev_submit(&ev);
	return 0;
}
