/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Reading kernel state: files behind fds, sockets, and the parameters built
 * from them (socket tuples, socket addresses). Every kernel read goes through
 * BPF_CORE_READ / bpf_probe_read_*, whose failures leave zeroes.
 */
#ifndef SAKER_FILLERS_EXTRACT_H
#define SAKER_FILLERS_EXTRACT_H

#include "flags.h"

#define K_AF_UNIX 1
#define K_AF_INET 2
#define K_AF_INET6 10
#define K_S_IFMT 00170000
#define K_S_IFSOCK 0140000
#define K_S_IFDIR 0040000
#define UNIX_PATH_MAX 108

static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd < 0 || fd >= max)
		return NULL;
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

static __always_inline void file_dev_ino(struct file *f, __u32 *dev, __u64 *ino)
{
	*dev = 0;
	*ino = 0;
	if (!f)
		return;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	*dev = encode_dev(BPF_CORE_READ(inode, i_sb, s_dev));
	*ino = BPF_CORE_READ(inode, i_ino);
}

static __always_inline bool file_is_dir(struct file *f)
{
	if (!f)
		return false;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & K_S_IFMT) == K_S_IFDIR;
}

static __always_inline bool file_created(struct file *f)
{
	if (!f)
		return false;
	return BPF_CORE_READ(f, f_mode) & K_FMODE_CREATED;
}

static __always_inline struct sock *fd_sock(long fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & K_S_IFMT) != K_S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline __u16 bswap16(__u16 v)
{
	return (v >> 8) | (v << 8);
}

/* The path a unix socket is bound to, from its unix_address. */
static __always_inline void aev_unix_path(struct aev *ev, struct sock *sk)
{
	struct unix_sock *us = (struct unix_sock *)sk;
	struct unix_address *addr = BPF_CORE_READ(us, addr);
	if (!addr) {
		*(__u8 *)(ev->data + SAFE(ev->pos)) = 0;
		ev->pos += 1;
		return;
	}
	char *path = unix_address_path(addr);
	long n = bpf_probe_read_kernel_str(ev->data + SAFE(ev->pos), UNIX_PATH_MAX, path);
	if (n <= 0) {
		*(__u8 *)(ev->data + SAFE(ev->pos)) = 0;
		n = 1;
	}
	ev->pos += n;
}

/*
 * PT_SOCKTUPLE of a socket fd: for INET `fam, sip, sport, dip, dport` with
 * the local end as source; for UNIX `fam, sk, peer, path`. `usr` (a user
 * sockaddr, may be 0) gives the remote end when the socket has none yet
 * (a failed connect). An fd that is not a socket gives an empty parameter.
 */
static __always_inline void aev_socktuple(struct aev *ev, long fd, unsigned long usr, unsigned long usrlen,
					  bool inbound)
{
	struct sock *sk = fd_sock(fd);
	if (!sk) {
		aev_empty(ev);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u64 start = ev->pos;
	__u8 *d = ev->data;
	if (family == K_AF_INET) {
		__u32 sip = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u32 dip = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__u16 dport = bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (dport == 0 && usr && usrlen >= sizeof(struct sockaddr_in)) {
			struct sockaddr_in sin = {};
			bpf_probe_read_user(&sin, sizeof(sin), (void *)usr);
			dip = sin.sin_addr.s_addr;
			dport = bswap16(sin.sin_port);
		}
		if (inbound) {
			__u32 tip = sip;
			__u16 tport = sport;
			sip = dip;
			sport = dport;
			dip = tip;
			dport = tport;
		}
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		*(__u32 *)(d + SAFE(ev->pos + 1)) = sip;
		*(__u16 *)(d + SAFE(ev->pos + 5)) = sport;
		*(__u32 *)(d + SAFE(ev->pos + 7)) = dip;
		*(__u16 *)(d + SAFE(ev->pos + 11)) = dport;
		ev->pos += 13;
	} else if (family == K_AF_INET6) {
		struct in6_addr sip = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr dip = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		__u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 dport = bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (dport == 0 && usr && usrlen >= sizeof(struct sockaddr_in6)) {
			struct sockaddr_in6 sin6 = {};
			bpf_probe_read_user(&sin6, sizeof(sin6), (void *)usr);
			dip = sin6.sin6_addr;
			dport = bswap16(sin6.sin6_port);
		}
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		__builtin_memcpy(d + SAFE(ev->pos + 1), inbound ? &dip : &sip, 16);
		*(__u16 *)(d + SAFE(ev->pos + 17)) = inbound ? dport : sport;
		__builtin_memcpy(d + SAFE(ev->pos + 19), inbound ? &sip : &dip, 16);
		*(__u16 *)(d + SAFE(ev->pos + 35)) = inbound ? sport : dport;
		ev->pos += 37;
	} else if (family == K_AF_UNIX) {
		struct unix_sock *us = (struct unix_sock *)sk;
		struct sock *peer = BPF_CORE_READ(us, peer);
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		*(__u64 *)(d + SAFE(ev->pos + 1)) = (__u64)sk;
		*(__u64 *)(d + SAFE(ev->pos + 9)) = (__u64)peer;
		ev->pos += 17;
		if (peer)
			aev_unix_path(ev, peer);
		else
			aev_unix_path(ev, sk);
	} else {
		aev_empty(ev);
		return;
	}
	aev_close_param(ev, start);
}

/* PT_SOCKADDR from a user sockaddr: INET `fam, ip, port`, INET6 `fam, ip6,
 * port`, UNIX `fam, path`. Ports in host order. */
static __always_inline void aev_sockaddr(struct aev *ev, unsigned long usr, unsigned long len)
{
	__u16 family = 0;
	if (!usr || len < 2 || bpf_probe_read_user(&family, sizeof(family), (void *)usr)) {
		aev_empty(ev);
		return;
	}
	__u64 start = ev->pos;
	__u8 *d = ev->data;
	if (family == K_AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), (void *)usr);
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		*(__u32 *)(d + SAFE(ev->pos + 1)) = sin.sin_addr.s_addr;
		*(__u16 *)(d + SAFE(ev->pos + 5)) = bswap16(sin.sin_port);
		ev->pos += 7;
	} else if (family == K_AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), (void *)usr);
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		__builtin_memcpy(d + SAFE(ev->pos + 1), &sin6.sin6_addr, 16);
		*(__u16 *)(d + SAFE(ev->pos + 17)) = bswap16(sin6.sin6_port);
		ev->pos += 19;
	} else if (family == K_AF_UNIX) {
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		ev->pos += 1;
		long n = bpf_probe_read_user_str(d + SAFE(ev->pos), UNIX_PATH_MAX, (void *)(usr + 2));
		if (n <= 0) {
			*(__u8 *)(d + SAFE(ev->pos)) = 0;
			n = 1;
		}
		ev->pos += n;
	} else {
		aev_empty(ev);
		return;
	}
	aev_close_param(ev, start);
}

/* The local address of a bound socket, as PT_SOCKADDR (bind's exit). */
static __always_inline void aev_sock_local_addr(struct aev *ev, long fd)
{
	struct sock *sk = fd_sock(fd);
	if (!sk) {
		aev_empty(ev);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u64 start = ev->pos;
	__u8 *d = ev->data;
	if (family == K_AF_INET) {
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		*(__u32 *)(d + SAFE(ev->pos + 1)) = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		*(__u16 *)(d + SAFE(ev->pos + 5)) = BPF_CORE_READ(sk, __sk_common.skc_num);
		ev->pos += 7;
	} else if (family == K_AF_INET6) {
		struct in6_addr a = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		__builtin_memcpy(d + SAFE(ev->pos + 1), &a, 16);
		*(__u16 *)(d + SAFE(ev->pos + 17)) = BPF_CORE_READ(sk, __sk_common.skc_num);
		ev->pos += 19;
	} else if (family == K_AF_UNIX) {
		*(__u8 *)(d + SAFE(ev->pos)) = socket_family_to_scap(family);
		ev->pos += 1;
		aev_unix_path(ev, sk);
	} else {
		aev_empty(ev);
		return;
	}
	aev_close_param(ev, start);
}

#endif /* SAKER_FILLERS_EXTRACT_H */
