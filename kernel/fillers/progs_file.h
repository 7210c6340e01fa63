/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* File syscalls: opens, reads/writes, the namespace (links, renames, dirs), modes, owners, mounts. */

#define K_RESOLVE_NO_XDEV 0x01
#define K_RESOLVE_NO_MAGICLINKS 0x02
#define K_RESOLVE_NO_SYMLINKS 0x04
#define K_RESOLVE_BENEATH 0x08
#define K_RESOLVE_IN_ROOT 0x10
#define K_RESOLVE_CACHED 0x20

static __always_inline __u32 resolve_to_scap(__u64 r)
{
	__u32 res = 0;
	if (r & K_RESOLVE_BENEATH) res |= PPM_OPENAT2_FLAGS_RESOLVE_BENEATH;
	if (r & K_RESOLVE_IN_ROOT) res |= PPM_OPENAT2_FLAGS_RESOLVE_IN_ROOT;
	if (r & K_RESOLVE_NO_MAGICLINKS) res |= PPM_OPENAT2_FLAGS_RESOLVE_NO_MAGICLINKS;
	if (r & K_RESOLVE_NO_SYMLINKS) res |= PPM_OPENAT2_FLAGS_RESOLVE_NO_SYMLINKS;
	if (r & K_RESOLVE_NO_XDEV) res |= PPM_OPENAT2_FLAGS_RESOLVE_NO_XDEV;
	if (r & K_RESOLVE_CACHED) res |= PPM_OPENAT2_FLAGS_RESOLVE_CACHED;
	return res;
}

/* Flags of an open's exit: the requested ones, plus O_F_CREATED when the
 * file was created. */
static __always_inline __u32 opened_flags(struct file *f, __u64 flags, __u32 *dev, __u64 *ino)
{
	__u32 res = open_flags_to_scap(flags);
	if (file_created(f))
		res |= PPM_FILE_FLAGS_O_F_CREATED;
	file_dev_ino(f, dev, ino);
	return res;
}

/*
 * The open family asks the target first whether the kernel filters derived
 * from the rules let the event through (see kernel/README.md): the enter
 * with OPEN_ENTER_WANTED(call, user path, scap flags), the exit with
 * OPEN_WANTED(call, user path, scap flags, opened file or NULL). A target
 * without filters defines both as 1.
 */
#define OPEN_CALL_OPEN 0
#define OPEN_CALL_OPENAT 1
#define OPEN_CALL_OPENAT2 2
#define OPEN_CALL_CREAT 3

/* The file an open's exit made, or NULL when it failed. */
static __always_inline struct file *opened_file(long ret)
{
	return ret >= 0 ? fd_file(ret) : NULL;
}

/* open(path, flags, mode) */
static __always_inline int enter_open(unsigned long path, unsigned long flags, unsigned long mode, unsigned long a3)
{
	if (!OPEN_ENTER_WANTED(OPEN_CALL_OPEN, path, open_flags_to_scap(flags)))
		return 0;
	AEV(PPME_SYSCALL_OPEN_E);
	aev_ustr(&ev, path, MAX_PATH);
	aev_u32(&ev, open_flags_to_scap(flags));
	aev_u32(&ev, open_mode_to_scap(flags, mode));
	aev_submit(&ev);
	return 0;
}
ENTER_PROGS(open)

SYS_EXIT(open)
{
	__u64 flags = ARG(1);
	__u32 dev;
	__u64 ino;
	struct file *f = opened_file(ret);
	if (!OPEN_WANTED(OPEN_CALL_OPEN, ARG(0), open_flags_to_scap(flags), f))
		return 0;
	__u32 sflags = opened_flags(f, flags, &dev, &ino);
	AEV(PPME_SYSCALL_OPEN_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, sflags);
	aev_u32(&ev, open_mode_to_scap(flags, ARG(2)));
	aev_u32(&ev, dev);
	aev_u64(&ev, ino);
	aev_submit(&ev);
	return 0;
}

/* openat(dirfd, path, flags, mode) */
static __always_inline int enter_openat(unsigned long dirfd, unsigned long path, unsigned long flags,
					unsigned long mode)
{
	if (!OPEN_ENTER_WANTED(OPEN_CALL_OPENAT, path, open_flags_to_scap(flags)))
		return 0;
	AEV(PPME_SYSCALL_OPENAT_2_E);
	aev_s64(&ev, (int)dirfd);
	aev_ustr(&ev, path, MAX_PATH);
	aev_u32(&ev, open_flags_to_scap(flags));
	aev_u32(&ev, open_mode_to_scap(flags, mode));
	aev_submit(&ev);
	return 0;
}
ENTER_PROGS(openat)

SYS_EXIT(openat)
{
	__u64 flags = ARG(2);
	__u32 dev;
	__u64 ino;
	struct file *f = opened_file(ret);
	if (!OPEN_WANTED(OPEN_CALL_OPENAT, ARG(1), open_flags_to_scap(flags), f))
		return 0;
	__u32 sflags = opened_flags(f, flags, &dev, &ino);
	AEV(PPME_SYSCALL_OPENAT_2_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, sflags);
	aev_u32(&ev, open_mode_to_scap(flags, ARG(3)));
	aev_u32(&ev, dev);
	aev_u64(&ev, ino);
	aev_submit(&ev);
	return 0;
}

/* openat2(dirfd, path, struct open_how *how, size) */
static __always_inline int enter_openat2(unsigned long dirfd, unsigned long path, unsigned long uhow,
					 unsigned long a3)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)uhow);
	if (!OPEN_ENTER_WANTED(OPEN_CALL_OPENAT2, path, open_flags_to_scap(how.flags)))
		return 0;
	AEV(PPME_SYSCALL_OPENAT2_E);
	aev_s64(&ev, (int)dirfd);
	aev_ustr(&ev, path, MAX_PATH);
	aev_u32(&ev, open_flags_to_scap(how.flags));
	aev_u32(&ev, open_mode_to_scap(how.flags, how.mode));
	aev_u32(&ev, resolve_to_scap(how.resolve));
	aev_submit(&ev);
	return 0;
}
ENTER_PROGS(openat2)

SYS_EXIT(openat2)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ARG(2));
	__u32 dev;
	__u64 ino;
	struct file *f = opened_file(ret);
	if (!OPEN_WANTED(OPEN_CALL_OPENAT2, ARG(1), open_flags_to_scap(how.flags), f))
		return 0;
	__u32 sflags = opened_flags(f, how.flags, &dev, &ino);
	AEV(PPME_SYSCALL_OPENAT2_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, sflags);
	aev_u32(&ev, open_mode_to_scap(how.flags, how.mode));
	aev_u32(&ev, resolve_to_scap(how.resolve));
	aev_u32(&ev, dev);
	aev_u64(&ev, ino);
	aev_submit(&ev);
	return 0;
}

/* creat(path, mode) */
static __always_inline int enter_creat(unsigned long path, unsigned long mode, unsigned long a2, unsigned long a3)
{
	if (!OPEN_ENTER_WANTED(OPEN_CALL_CREAT, path, open_flags_to_scap(K_O_CREAT | K_O_WRONLY | K_O_TRUNC)))
		return 0;
	AEV(PPME_SYSCALL_CREAT_E);
	aev_ustr(&ev, path, MAX_PATH);
	aev_u32(&ev, open_mode_to_scap(K_O_CREAT, mode));
	aev_submit(&ev);
	return 0;
}
ENTER_PROGS(creat)

SYS_EXIT(creat)
{
	__u32 dev;
	__u64 ino;
	struct file *f = opened_file(ret);
	__u32 sflags = open_flags_to_scap(K_O_CREAT | K_O_WRONLY | K_O_TRUNC);
	if (!OPEN_WANTED(OPEN_CALL_CREAT, ARG(0), sflags, f))
		return 0;
	opened_flags(f, K_O_CREAT | K_O_WRONLY | K_O_TRUNC, &dev, &ino);
	AEV(PPME_SYSCALL_CREAT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, open_mode_to_scap(K_O_CREAT, ARG(1)));
	aev_u32(&ev, dev);
	aev_u64(&ev, ino);
	aev_u16(&ev, 0);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(close)
{
	REV(PPME_SYSCALL_CLOSE_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

/* read(fd, buf, count): the data read, up to snaplen. */
SYS_EXIT(read)
{
	AEV(PPME_SYSCALL_READ_X);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(write)
{
	AEV(PPME_SYSCALL_WRITE_X);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(pread64)
{
	AEV(PPME_SYSCALL_PREAD_X);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, ARG(2));
	aev_u64(&ev, ARG(3));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(pwrite64)
{
	AEV(PPME_SYSCALL_PWRITE_X);
	aev_s64(&ev, ret);
	aev_data(&ev, ARG(1), ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, ARG(2));
	aev_u64(&ev, ARG(3));
	aev_submit(&ev);
	return 0;
}

#define IOV_MAX_READ 32

struct iov_walk {
	__u8 *data;
	struct pathbuf *st;
	unsigned long uiov;
};

static __always_inline long iov_step(struct iov_walk *w, __u32 i)
{
	struct pathbuf *st = w->st;
	struct iovec iov = {};
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(w->uiov + i * sizeof(iov))))
		return 1;
	st->sum += iov.iov_len;
	__u32 left = st->left;
	__u64 n = BOUND(iov.iov_len < left ? iov.iov_len : left, MAX_SNAPLEN);
	__u64 pos = st->pos;
	if (n && !bpf_probe_read_user(w->data + SAFE(pos), n, iov.iov_base)) {
		st->pos = pos + n;
		st->left = left - n;
	}
	return 0;
}

/* The bytes of an iovec array, up to `limit` and snaplen; *total gets the
 * size the iovecs describe (of the first IOV_MAX_READ iovecs). */
static __always_inline void aev_iovec(struct aev *ev, unsigned long uiov, unsigned long iovcnt, long limit,
				      __u32 *total)
{
	__u64 start = ev->pos;
	struct iov_walk w = { .data = ev->data, .st = pathbuf_get(), .uiov = uiov };
	*total = 0;
	if (!w.st) {
		aev_empty(ev);
		return;
	}
	w.st->pos = start;
	w.st->left = limit > 0 ? (limit < snaplen ? limit : snaplen) : 0;
	w.st->sum = 0;
	NO_UNROLL
	for (__u32 i = 0; i < IOV_MAX_READ; i++)
		if (i >= iovcnt || iov_step(&w, i))
			break;
	__u64 end = w.st->pos;
	if (end < start || end > start + MAX_SNAPLEN)
		end = start;
	ev->pos = end;
	*total = w.st->sum;
	aev_close_param(ev, start);
}

SYS_EXIT(readv)
{
	AEV(PPME_SYSCALL_READV_X);
	__u32 total;
	aev_s64(&ev, ret);
	/* size is written after data: reserve its slot first */
	__u64 size_pos = ev.pos;
	*(__u32 *)(ev.data + SAFE(size_pos)) = 0;
	ev.pos += 4;
	aev_len(&ev, 4);
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	*(__u32 *)(ev.data + SAFE(size_pos)) = total;
	aev_s64(&ev, IARG(0));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(writev)
{
	AEV(PPME_SYSCALL_WRITEV_X);
	__u32 total;
	aev_s64(&ev, ret);
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, total);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(preadv)
{
	AEV(PPME_SYSCALL_PREADV_X);
	__u32 total;
	aev_s64(&ev, ret);
	__u64 size_pos = ev.pos;
	*(__u32 *)(ev.data + SAFE(size_pos)) = 0;
	ev.pos += 4;
	aev_len(&ev, 4);
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	*(__u32 *)(ev.data + SAFE(size_pos)) = total;
	aev_s64(&ev, IARG(0));
	aev_u64(&ev, ARG(3));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(pwritev)
{
	AEV(PPME_SYSCALL_PWRITEV_X);
	__u32 total;
	aev_s64(&ev, ret);
	aev_iovec(&ev, ARG(1), ARG(2), ret, &total);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, total);
	aev_u64(&ev, ARG(3));
	aev_submit(&ev);
	return 0;
}

/* Links, renames, unlinks, directories. */

SYS_EXIT(rename)
{
	AEV(PPME_SYSCALL_RENAME_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(renameat)
{
	AEV(PPME_SYSCALL_RENAMEAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_s64(&ev, IARG(2));
	aev_ustr(&ev, ARG(3), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(renameat2)
{
	AEV(PPME_SYSCALL_RENAMEAT2_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_s64(&ev, IARG(2));
	aev_ustr(&ev, ARG(3), MAX_PATH);
	aev_u32(&ev, ARG(4)); /* RENAME_* values are the same */
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(symlink)
{
	AEV(PPME_SYSCALL_SYMLINK_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(symlinkat)
{
	AEV(PPME_SYSCALL_SYMLINKAT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_s64(&ev, IARG(1));
	aev_ustr(&ev, ARG(2), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(link)
{
	AEV(PPME_SYSCALL_LINK_2_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(linkat)
{
	AEV(PPME_SYSCALL_LINKAT_2_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_s64(&ev, IARG(2));
	aev_ustr(&ev, ARG(3), MAX_PATH);
	aev_u32(&ev, linkat_flags_to_scap(ARG(4)));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(unlink)
{
	AEV(PPME_SYSCALL_UNLINK_2_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(unlinkat)
{
	AEV(PPME_SYSCALL_UNLINKAT_2_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, unlinkat_flags_to_scap(ARG(2)));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(mkdir)
{
	AEV(PPME_SYSCALL_MKDIR_2_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(mkdirat)
{
	AEV(PPME_SYSCALL_MKDIRAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(rmdir)
{
	AEV(PPME_SYSCALL_RMDIR_2_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(mknod)
{
	AEV(PPME_SYSCALL_MKNOD_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1));
	aev_u32(&ev, encode_dev(ARG(2)));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(mknodat)
{
	AEV(PPME_SYSCALL_MKNODAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, ARG(2));
	aev_u32(&ev, encode_dev(ARG(3)));
	aev_submit(&ev);
	return 0;
}

/* Modes and owners. */

SYS_EXIT(chmod)
{
	AEV(PPME_SYSCALL_CHMOD_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1) & 07777);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(fchmod)
{
	REV(PPME_SYSCALL_FCHMOD_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, ARG(1) & 07777);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(fchmodat)
{
	AEV(PPME_SYSCALL_FCHMODAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, ARG(2) & 07777);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(chown)
{
	AEV(PPME_SYSCALL_CHOWN_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1));
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(lchown)
{
	AEV(PPME_SYSCALL_LCHOWN_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1));
	aev_u32(&ev, ARG(2));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(fchown)
{
	REV(PPME_SYSCALL_FCHOWN_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(fchownat)
{
	AEV(PPME_SYSCALL_FCHOWNAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, ARG(2));
	aev_u32(&ev, ARG(3));
	aev_u32(&ev, fchownat_flags_to_scap(ARG(4)));
	aev_submit(&ev);
	return 0;
}

/* Mounts, directories of the process. */

SYS_EXIT(mount)
{
	AEV(PPME_SYSCALL_MOUNT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_ustr(&ev, ARG(2), MAX_PATH);
	__u64 flags = ARG(3);
	if ((flags & 0xffff0000) == 0xC0ED0000) /* MS_MGC_VAL */
		flags &= 0xffff;
	aev_u32(&ev, flags);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(umount2)
{
	AEV(PPME_SYSCALL_UMOUNT2_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(chdir)
{
	AEV(PPME_SYSCALL_CHDIR_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(fchdir)
{
	REV(PPME_SYSCALL_FCHDIR_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(chroot)
{
	AEV(PPME_SYSCALL_CHROOT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

/* fds: dup, pipes, fcntl. */

SYS_EXIT(dup)
{
	REV(PPME_SYSCALL_DUP_1_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(dup2)
{
	REV(PPME_SYSCALL_DUP2_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(dup3)
{
	REV(PPME_SYSCALL_DUP3_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_u32(&ev, fd_flags_to_scap(ARG(2)));
	rev_submit(&ev);
	return 0;
}

static __always_inline void read_fd_pair(unsigned long uptr, __s32 fds[2])
{
	fds[0] = fds[1] = -1;
	if (bpf_probe_read_user(fds, 2 * sizeof(__s32), (void *)uptr)) {
		fds[0] = fds[1] = -1;
	}
}

SYS_EXIT(pipe)
{
	REV(PPME_SYSCALL_PIPE_X);
	__s32 fds[2];
	__u32 dev;
	__u64 ino = 0;
	read_fd_pair(ARG(0), fds);
	if (ret == 0)
		file_dev_ino(fd_file(fds[0]), &dev, &ino);
	rev_s64(&ev, ret);
	rev_s64(&ev, ret == 0 ? fds[0] : -1);
	rev_s64(&ev, ret == 0 ? fds[1] : -1);
	rev_u64(&ev, ino);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(pipe2)
{
	REV(PPME_SYSCALL_PIPE2_X);
	__s32 fds[2];
	__u32 dev;
	__u64 ino = 0;
	read_fd_pair(ARG(0), fds);
	if (ret == 0)
		file_dev_ino(fd_file(fds[0]), &dev, &ino);
	rev_s64(&ev, ret);
	rev_s64(&ev, ret == 0 ? fds[0] : -1);
	rev_s64(&ev, ret == 0 ? fds[1] : -1);
	rev_u64(&ev, ino);
	rev_u32(&ev, fd_flags_to_scap(ARG(1)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(fcntl)
{
	REV(PPME_SYSCALL_FCNTL_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u8(&ev, fcntl_cmd_to_scap(ARG(1)));
	rev_u64(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(memfd_create)
{
	AEV(PPME_SYSCALL_MEMFD_CREATE_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1) & 0x7); /* MFD_* values are the same */
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(newfstatat)
{
	AEV(PPME_SYSCALL_NEWFSTATAT_X);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_ustr(&ev, ARG(1), MAX_PATH);
	aev_u32(&ev, newfstatat_flags_to_scap(ARG(3)));
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(stat)
{
	AEV(PPME_SYSCALL_STAT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(lstat)
{
	AEV(PPME_SYSCALL_LSTAT_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(fstat)
{
	REV(PPME_SYSCALL_FSTAT_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(access)
{
	AEV(PPME_SYSCALL_ACCESS_X);
	aev_s64(&ev, ret);
	aev_ustr(&ev, ARG(0), MAX_PATH);
	aev_u32(&ev, ARG(1) & 0x7);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(lseek)
{
	REV(PPME_SYSCALL_LSEEK_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u64(&ev, ARG(1));
	rev_u8(&ev, ARG(2) <= 2 ? ARG(2) : 0xff);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(getcwd)
{
	AEV(PPME_SYSCALL_GETCWD_X);
	aev_s64(&ev, ret);
	if (ret > 0)
		aev_ustr(&ev, ARG(0), MAX_PATH);
	else
		aev_empty(&ev);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(getdents)
{
	REV(PPME_SYSCALL_GETDENTS_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(getdents64)
{
	REV(PPME_SYSCALL_GETDENTS64_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(flock)
{
	REV(PPME_SYSCALL_FLOCK_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, ARG(1) & 0xf);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(sendfile)
{
	REV(PPME_SYSCALL_SENDFILE_X);
	__u64 off = 0;
	if (ARG(2))
		bpf_probe_read_user(&off, sizeof(off), (void *)ARG(2));
	rev_s64(&ev, ret);
	rev_u64(&ev, off);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(1));
	rev_u64(&ev, ARG(3));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(splice)
{
	REV(PPME_SYSCALL_SPLICE_X);
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_s64(&ev, IARG(2));
	rev_u64(&ev, ARG(4));
	rev_u32(&ev, ARG(5) & 0xf);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(copy_file_range)
{
	REV(PPME_SYSCALL_COPY_FILE_RANGE_X);
	__u64 offin = 0, offout = 0;
	if (ARG(1))
		bpf_probe_read_user(&offin, sizeof(offin), (void *)ARG(1));
	if (ARG(3))
		bpf_probe_read_user(&offout, sizeof(offout), (void *)ARG(3));
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(2));
	rev_u64(&ev, offout);
	rev_s64(&ev, IARG(0));
	rev_u64(&ev, offin);
	rev_u64(&ev, ARG(4));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(open_by_handle_at)
{
	AEV(PPME_SYSCALL_OPEN_BY_HANDLE_AT_X);
	__u64 flags = ARG(2);
	__u32 dev;
	__u64 ino;
	struct file *f = opened_file(ret);
	__u32 sflags = opened_flags(f, flags, &dev, &ino);
	aev_s64(&ev, ret);
	aev_s64(&ev, IARG(0));
	aev_u32(&ev, sflags);
	aev_file_path(&ev, f);
	aev_u32(&ev, dev);
	aev_u64(&ev, ino);
	aev_submit(&ev);
	return 0;
}

SYS_EXIT(inotify_init1)
{
	REV(PPME_SYSCALL_INOTIFY_INIT1_X);
	rev_s64(&ev, ret);
	rev_u16(&ev, fd_flags_to_scap(ARG(0)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(inotify_init)
{
	REV(PPME_SYSCALL_INOTIFY_INIT_X);
	rev_s64(&ev, ret);
	rev_u8(&ev, 0);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(eventfd)
{
	REV(PPME_SYSCALL_EVENTFD_X);
	rev_s64(&ev, ret);
	rev_u64(&ev, ARG(0));
	rev_u32(&ev, 0);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(eventfd2)
{
	REV(PPME_SYSCALL_EVENTFD2_X);
	rev_s64(&ev, ret);
	rev_u16(&ev, fd_flags_to_scap(ARG(1)));
	rev_u64(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(signalfd)
{
	REV(PPME_SYSCALL_SIGNALFD_X);
	__u32 mask = 0;
	bpf_probe_read_user(&mask, sizeof(mask), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, mask);
	rev_u8(&ev, 0);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(signalfd4)
{
	REV(PPME_SYSCALL_SIGNALFD4_X);
	__u32 mask = 0;
	bpf_probe_read_user(&mask, sizeof(mask), (void *)ARG(1));
	rev_s64(&ev, ret);
	rev_u16(&ev, fd_flags_to_scap(ARG(3)));
	rev_s64(&ev, IARG(0));
	rev_u32(&ev, mask);
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(timerfd_create)
{
	REV(PPME_SYSCALL_TIMERFD_CREATE_X);
	rev_s64(&ev, ret);
	rev_u8(&ev, ARG(0));
	rev_u8(&ev, ARG(1));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(epoll_create)
{
	REV(PPME_SYSCALL_EPOLL_CREATE_X);
	rev_s64(&ev, ret);
	rev_s32(&ev, ARG(0));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(epoll_create1)
{
	REV(PPME_SYSCALL_EPOLL_CREATE1_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, epoll_create1_flags_to_scap(ARG(0)));
	rev_submit(&ev);
	return 0;
}

SYS_EXIT(close_range)
{
	REV(PPME_SYSCALL_CLOSE_RANGE_X);
	rev_s64(&ev, ret);
	rev_u32(&ev, ARG(0));
	rev_u32(&ev, ARG(1));
	rev_u32(&ev, ARG(2));
	rev_submit(&ev);
	return 0;
}
