/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Kernel flag values -> the values of the event table's flag tables
 * (crates/abi/spec/flags.tsv, generated into saker_gen.h as
 * PPM_<TABLE>_<NAME>). Kernel values are x86_64 uapi constants.
 */
#ifndef SAKER_FILLERS_FLAGS_H
#define SAKER_FILLERS_FLAGS_H

/* uapi fcntl.h (x86_64) */
#define K_O_ACCMODE 00000003
#define K_O_WRONLY 00000001
#define K_O_RDWR 00000002
#define K_O_CREAT 00000100
#define K_O_EXCL 00000200
#define K_O_TRUNC 00001000
#define K_O_APPEND 00002000
#define K_O_NONBLOCK 00004000
#define K_O_DSYNC 00010000
#define K_O_DIRECT 00040000
#define K_O_LARGEFILE 00100000
#define K_O_DIRECTORY 00200000
#define K_O_CLOEXEC 02000000
#define K_O_SYNC (04000000 | K_O_DSYNC)
#define K_O_TMPFILE_BIT 020000000
#define K_FMODE_CREATED (1U << 20)

#define K_AT_SYMLINK_NOFOLLOW 0x100
#define K_AT_REMOVEDIR 0x200
#define K_AT_SYMLINK_FOLLOW 0x400
#define K_AT_NO_AUTOMOUNT 0x800
#define K_AT_EMPTY_PATH 0x1000

static __always_inline __u32 open_flags_to_scap(__u64 flags)
{
	__u32 res = 0;
	switch (flags & K_O_ACCMODE) {
	case K_O_WRONLY:
		res |= PPM_FILE_FLAGS_O_WRONLY;
		break;
	case K_O_RDWR:
		res |= PPM_FILE_FLAGS_O_RDWR;
		break;
	default:
		res |= PPM_FILE_FLAGS_O_RDONLY;
		break;
	}
	if (flags & K_O_CREAT)
		res |= PPM_FILE_FLAGS_O_CREAT;
	if (flags & K_O_TMPFILE_BIT)
		res |= PPM_FILE_FLAGS_O_TMPFILE;
	if (flags & K_O_APPEND)
		res |= PPM_FILE_FLAGS_O_APPEND;
	if (flags & K_O_DSYNC)
		res |= PPM_FILE_FLAGS_O_DSYNC;
	if (flags & K_O_EXCL)
		res |= PPM_FILE_FLAGS_O_EXCL;
	if (flags & K_O_NONBLOCK)
		res |= PPM_FILE_FLAGS_O_NONBLOCK;
	if (flags & K_O_SYNC)
		res |= PPM_FILE_FLAGS_O_SYNC;
	if (flags & K_O_TRUNC)
		res |= PPM_FILE_FLAGS_O_TRUNC;
	if (flags & K_O_DIRECT)
		res |= PPM_FILE_FLAGS_O_DIRECT;
	if (flags & K_O_DIRECTORY)
		res |= PPM_FILE_FLAGS_O_DIRECTORY;
	if (flags & K_O_LARGEFILE)
		res |= PPM_FILE_FLAGS_O_LARGEFILE;
	if (flags & K_O_CLOEXEC)
		res |= PPM_FILE_FLAGS_O_CLOEXEC;
	return res;
}

/* The mode only means something when a file may be created. */
static __always_inline __u32 open_mode_to_scap(__u64 flags, __u64 mode)
{
	if (!(flags & (K_O_CREAT | K_O_TMPFILE_BIT)))
		return 0;
	return mode & 07777;
}

/* pipe2, dup3, inotify_init1, eventfd2, signalfd4, ...: only these bits. */
static __always_inline __u32 fd_flags_to_scap(__u64 flags)
{
	__u32 res = 0;
	if (flags & K_O_CLOEXEC)
		res |= PPM_FILE_FLAGS_O_CLOEXEC;
	if (flags & K_O_NONBLOCK)
		res |= PPM_FILE_FLAGS_O_NONBLOCK;
	if (flags & K_O_DIRECT)
		res |= PPM_FILE_FLAGS_O_DIRECT;
	return res;
}

/* uapi sched.h */
static __always_inline __u32 clone_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & 0x00000400) res |= PPM_CLONE_FLAGS_CLONE_FILES;
	if (f & 0x00000200) res |= PPM_CLONE_FLAGS_CLONE_FS;
	if (f & 0x80000000UL) res |= PPM_CLONE_FLAGS_CLONE_IO;
	if (f & 0x08000000) res |= PPM_CLONE_FLAGS_CLONE_NEWIPC;
	if (f & 0x40000000) res |= PPM_CLONE_FLAGS_CLONE_NEWNET;
	if (f & 0x00020000) res |= PPM_CLONE_FLAGS_CLONE_NEWNS;
	if (f & 0x20000000) res |= PPM_CLONE_FLAGS_CLONE_NEWPID;
	if (f & 0x04000000) res |= PPM_CLONE_FLAGS_CLONE_NEWUTS;
	if (f & 0x00008000) res |= PPM_CLONE_FLAGS_CLONE_PARENT;
	if (f & 0x00100000) res |= PPM_CLONE_FLAGS_CLONE_PARENT_SETTID;
	if (f & 0x00002000) res |= PPM_CLONE_FLAGS_CLONE_PTRACE;
	if (f & 0x00000800) res |= PPM_CLONE_FLAGS_CLONE_SIGHAND;
	if (f & 0x00040000) res |= PPM_CLONE_FLAGS_CLONE_SYSVSEM;
	if (f & 0x00010000) res |= PPM_CLONE_FLAGS_CLONE_THREAD;
	if (f & 0x00800000) res |= PPM_CLONE_FLAGS_CLONE_UNTRACED;
	if (f & 0x00000100) res |= PPM_CLONE_FLAGS_CLONE_VM;
	if (f & 0x10000000) res |= PPM_CLONE_FLAGS_CLONE_NEWUSER;
	if (f & 0x00200000) res |= PPM_CLONE_FLAGS_CLONE_CHILD_CLEARTID;
	if (f & 0x01000000) res |= PPM_CLONE_FLAGS_CLONE_CHILD_SETTID;
	if (f & 0x00080000) res |= PPM_CLONE_FLAGS_CLONE_SETTLS;
	if (f & 0x00004000) res |= PPM_CLONE_FLAGS_CLONE_VFORK;
	if (f & 0x02000000) res |= PPM_CLONE_FLAGS_CLONE_NEWCGROUP;
	return res;
}

static __always_inline __u32 prot_flags_to_scap(__u64 p)
{
	__u32 res = 0;
	if (p & 0x1) res |= PPM_PROT_FLAGS_PROT_READ;
	if (p & 0x2) res |= PPM_PROT_FLAGS_PROT_WRITE;
	if (p & 0x4) res |= PPM_PROT_FLAGS_PROT_EXEC;
	if (p & 0x8) res |= PPM_PROT_FLAGS_PROT_SEM;
	if (p & 0x01000000) res |= PPM_PROT_FLAGS_PROT_GROWSDOWN;
	if (p & 0x02000000) res |= PPM_PROT_FLAGS_PROT_GROWSUP;
	return res;
}

static __always_inline __u32 mmap_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & 0x01) res |= PPM_MMAP_FLAGS_MAP_SHARED;
	if (f & 0x02) res |= PPM_MMAP_FLAGS_MAP_PRIVATE;
	if (f & 0x10) res |= PPM_MMAP_FLAGS_MAP_FIXED;
	if (f & 0x20) res |= PPM_MMAP_FLAGS_MAP_ANONYMOUS;
	if (f & 0x40) res |= PPM_MMAP_FLAGS_MAP_32BIT;
	if (f & 0x4000) res |= PPM_MMAP_FLAGS_MAP_NORESERVE;
	if (f & 0x8000) res |= PPM_MMAP_FLAGS_MAP_POPULATE;
	if (f & 0x10000) res |= PPM_MMAP_FLAGS_MAP_NONBLOCK;
	if (f & 0x0100) res |= PPM_MMAP_FLAGS_MAP_GROWSDOWN;
	if (f & 0x0800) res |= PPM_MMAP_FLAGS_MAP_DENYWRITE;
	if (f & 0x1000) res |= PPM_MMAP_FLAGS_MAP_EXECUTABLE;
	if (f & 0x2000) res |= PPM_MMAP_FLAGS_MAP_LOCKED;
	return res;
}

static __always_inline __u8 fcntl_cmd_to_scap(__u64 cmd)
{
	switch (cmd) {
	case 0: return PPM_FCNTL_COMMANDS_F_DUPFD;
	case 1: return PPM_FCNTL_COMMANDS_F_GETFD;
	case 2: return PPM_FCNTL_COMMANDS_F_SETFD;
	case 3: return PPM_FCNTL_COMMANDS_F_GETFL;
	case 4: return PPM_FCNTL_COMMANDS_F_SETFL;
	case 5: return PPM_FCNTL_COMMANDS_F_GETLK;
	case 6: return PPM_FCNTL_COMMANDS_F_SETLK;
	case 7: return PPM_FCNTL_COMMANDS_F_SETLKW;
	case 8: return PPM_FCNTL_COMMANDS_F_SETOWN;
	case 9: return PPM_FCNTL_COMMANDS_F_GETOWN;
	case 10: return PPM_FCNTL_COMMANDS_F_SETSIG;
	case 11: return PPM_FCNTL_COMMANDS_F_GETSIG;
	case 15: return PPM_FCNTL_COMMANDS_F_SETOWN_EX;
	case 16: return PPM_FCNTL_COMMANDS_F_GETOWN_EX;
	case 36: return PPM_FCNTL_COMMANDS_F_OFD_GETLK;
	case 37: return PPM_FCNTL_COMMANDS_F_OFD_SETLK;
	case 38: return PPM_FCNTL_COMMANDS_F_OFD_SETLKW;
	case 1024: return PPM_FCNTL_COMMANDS_F_SETLEASE;
	case 1025: return PPM_FCNTL_COMMANDS_F_GETLEASE;
	case 1026: return PPM_FCNTL_COMMANDS_F_NOTIFY;
	case 1029: return PPM_FCNTL_COMMANDS_F_CANCELLK;
	case 1030: return PPM_FCNTL_COMMANDS_F_DUPFD_CLOEXEC;
	case 1031: return PPM_FCNTL_COMMANDS_F_SETPIPE_SZ;
	case 1032: return PPM_FCNTL_COMMANDS_F_GETPIPE_SZ;
	default: return PPM_FCNTL_COMMANDS_UNKNOWN;
	}
}

static __always_inline __u16 ptrace_request_to_scap(__u64 r)
{
	switch (r) {
	case 0: return PPM_PTRACE_REQUESTS_PTRACE_TRACEME;
	case 1: return PPM_PTRACE_REQUESTS_PTRACE_PEEKTEXT;
	case 2: return PPM_PTRACE_REQUESTS_PTRACE_PEEKDATA;
	case 3: return PPM_PTRACE_REQUESTS_PTRACE_PEEKUSR;
	case 4: return PPM_PTRACE_REQUESTS_PTRACE_POKETEXT;
	case 5: return PPM_PTRACE_REQUESTS_PTRACE_POKEDATA;
	case 6: return PPM_PTRACE_REQUESTS_PTRACE_POKEUSR;
	case 7: return PPM_PTRACE_REQUESTS_PTRACE_CONT;
	case 8: return PPM_PTRACE_REQUESTS_PTRACE_KILL;
	case 9: return PPM_PTRACE_REQUESTS_PTRACE_SINGLESTEP;
	case 12: return PPM_PTRACE_REQUESTS_PTRACE_GETREGS;
	case 13: return PPM_PTRACE_REQUESTS_PTRACE_SETREGS;
	case 14: return PPM_PTRACE_REQUESTS_PTRACE_GETFPREGS;
	case 15: return PPM_PTRACE_REQUESTS_PTRACE_SETFPREGS;
	case 16: return PPM_PTRACE_REQUESTS_PTRACE_ATTACH;
	case 17: return PPM_PTRACE_REQUESTS_PTRACE_DETACH;
	case 18: return PPM_PTRACE_REQUESTS_PTRACE_GETFPXREGS;
	case 19: return PPM_PTRACE_REQUESTS_PTRACE_SETFPXREGS;
	case 21: return PPM_PTRACE_REQUESTS_PTRACE_OLDSETOPTIONS;
	case 24: return PPM_PTRACE_REQUESTS_PTRACE_SYSCALL;
	case 25: return PPM_PTRACE_REQUESTS_PTRACE_GET_THREAD_AREA;
	case 26: return PPM_PTRACE_REQUESTS_PTRACE_SET_THREAD_AREA;
	case 30: return PPM_PTRACE_REQUESTS_PTRACE_ARCH_PRCTL;
	case 31: return PPM_PTRACE_REQUESTS_PTRACE_SYSEMU;
	case 32: return PPM_PTRACE_REQUESTS_PTRACE_SYSEMU_SINGLESTEP;
	case 33: return PPM_PTRACE_REQUESTS_PTRACE_SINGLEBLOCK;
	case 0x4200: return PPM_PTRACE_REQUESTS_PTRACE_SETOPTIONS;
	case 0x4201: return PPM_PTRACE_REQUESTS_PTRACE_GETEVENTMSG;
	case 0x4202: return PPM_PTRACE_REQUESTS_PTRACE_GETSIGINFO;
	case 0x4203: return PPM_PTRACE_REQUESTS_PTRACE_SETSIGINFO;
	case 0x4204: return PPM_PTRACE_REQUESTS_PTRACE_GETREGSET;
	case 0x4205: return PPM_PTRACE_REQUESTS_PTRACE_SETREGSET;
	case 0x4206: return PPM_PTRACE_REQUESTS_PTRACE_SEIZE;
	case 0x4207: return PPM_PTRACE_REQUESTS_PTRACE_INTERRUPT;
	case 0x4208: return PPM_PTRACE_REQUESTS_PTRACE_LISTEN;
	case 0x4209: return PPM_PTRACE_REQUESTS_PTRACE_PEEKSIGINFO;
	case 0x420a: return PPM_PTRACE_REQUESTS_PTRACE_GETSIGMASK;
	case 0x420b: return PPM_PTRACE_REQUESTS_PTRACE_SETSIGMASK;
	default: return PPM_PTRACE_REQUESTS_PTRACE_UNKNOWN;
	}
}

static __always_inline __u8 shutdown_how_to_scap(__u64 how)
{
	switch (how) {
	case 0: return PPM_SHUTDOWN_HOW_SHUT_RD;
	case 1: return PPM_SHUTDOWN_HOW_SHUT_WR;
	case 2: return PPM_SHUTDOWN_HOW_SHUT_RDWR;
	default: return (__u8)PPM_SHUTDOWN_HOW_SHUT_UNKNOWN;
	}
}

static __always_inline __u32 unlinkat_flags_to_scap(__u64 f)
{
	return (f & K_AT_REMOVEDIR) ? PPM_UNLINKAT_FLAGS_AT_REMOVEDIR : 0;
}

static __always_inline __u32 linkat_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & K_AT_SYMLINK_FOLLOW) res |= PPM_LINKAT_FLAGS_AT_SYMLINK_FOLLOW;
	if (f & K_AT_EMPTY_PATH) res |= PPM_LINKAT_FLAGS_AT_EMPTY_PATH;
	return res;
}

static __always_inline __u32 fchownat_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & K_AT_SYMLINK_NOFOLLOW) res |= PPM_FCHOWNAT_FLAGS_AT_SYMLINK_NOFOLLOW;
	if (f & K_AT_EMPTY_PATH) res |= PPM_FCHOWNAT_FLAGS_AT_EMPTY_PATH;
	return res;
}

static __always_inline __u32 newfstatat_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & K_AT_SYMLINK_NOFOLLOW) res |= PPM_NEWFSTATAT_FLAGS_AT_SYMLINK_NOFOLLOW;
	if (f & K_AT_NO_AUTOMOUNT) res |= PPM_NEWFSTATAT_FLAGS_AT_NO_AUTOMOUNT;
	if (f & K_AT_EMPTY_PATH) res |= PPM_NEWFSTATAT_FLAGS_AT_EMPTY_PATH;
	return res;
}

static __always_inline __u32 execveat_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & K_AT_EMPTY_PATH) res |= PPM_EXECVEAT_FLAGS_AT_EMPTY_PATH;
	if (f & K_AT_SYMLINK_NOFOLLOW) res |= PPM_EXECVEAT_FLAGS_AT_SYMLINK_NOFOLLOW;
	return res;
}

static __always_inline __u32 epoll_create1_flags_to_scap(__u64 f)
{
	return (f & K_O_CLOEXEC) ? PPM_EPOLL_CREATE1_FLAGS_EPOLL_CLOEXEC : 0;
}

static __always_inline __u32 pidfd_open_flags_to_scap(__u64 f)
{
	return (f & K_O_NONBLOCK) ? PPM_PIDFD_OPEN_FLAGS_PIDFD_NONBLOCK : 0;
}

static __always_inline __u32 delete_module_flags_to_scap(__u64 f)
{
	__u32 res = 0;
	if (f & K_O_NONBLOCK) res |= PPM_DELETE_MODULE_FLAGS_O_NONBLOCK;
	if (f & K_O_TRUNC) res |= PPM_DELETE_MODULE_FLAGS_O_TRUNC;
	return res;
}

/* Linux and scap socket families have the same values. */
static __always_inline __u8 socket_family_to_scap(__u16 family)
{
	return (__u8)family;
}

/* libs' new_encode_dev: the dev_t user space sees in st_dev. */
static __always_inline __u32 encode_dev(__u32 kdev)
{
	__u32 major = kdev >> 20;
	__u32 minor = kdev & ((1U << 20) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

#endif /* SAKER_FILLERS_FLAGS_H */
