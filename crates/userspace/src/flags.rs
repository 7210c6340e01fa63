//! Kernel flag values -> the values of the event table's flag tables, the
//! same conversions as the modern probe's `kernel/fillers/flags.h`
//! (x86_64 uapi constants on the left).

#[allow(dead_code)]
pub(crate) mod ppm {
    include!(concat!(env!("OUT_DIR"), "/ppm_flags.rs"));
}

use ppm::*;

pub(crate) const K_O_ACCMODE: u64 = 0o3;
pub(crate) const K_O_WRONLY: u64 = 0o1;
pub(crate) const K_O_RDWR: u64 = 0o2;
pub(crate) const K_O_CREAT: u64 = 0o100;
pub(crate) const K_O_EXCL: u64 = 0o200;
pub(crate) const K_O_TRUNC: u64 = 0o1000;
pub(crate) const K_O_APPEND: u64 = 0o2000;
pub(crate) const K_O_NONBLOCK: u64 = 0o4000;
pub(crate) const K_O_DSYNC: u64 = 0o10000;
pub(crate) const K_O_DIRECT: u64 = 0o40000;
pub(crate) const K_O_LARGEFILE: u64 = 0o100000;
pub(crate) const K_O_DIRECTORY: u64 = 0o200000;
pub(crate) const K_O_CLOEXEC: u64 = 0o2000000;
pub(crate) const K_O_SYNC: u64 = 0o4000000 | K_O_DSYNC;
pub(crate) const K_O_TMPFILE_BIT: u64 = 0o20000000;

const K_AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const K_AT_REMOVEDIR: u64 = 0x200;
const K_AT_SYMLINK_FOLLOW: u64 = 0x400;
const K_AT_NO_AUTOMOUNT: u64 = 0x800;
const K_AT_EMPTY_PATH: u64 = 0x1000;

pub(crate) fn open_flags(flags: u64) -> u32 {
    let mut res = match flags & K_O_ACCMODE {
        K_O_WRONLY => FILE_FLAGS_O_WRONLY,
        K_O_RDWR => FILE_FLAGS_O_RDWR,
        _ => FILE_FLAGS_O_RDONLY,
    };
    let map = [
        (K_O_CREAT, FILE_FLAGS_O_CREAT),
        (K_O_TMPFILE_BIT, FILE_FLAGS_O_TMPFILE),
        (K_O_APPEND, FILE_FLAGS_O_APPEND),
        (K_O_DSYNC, FILE_FLAGS_O_DSYNC),
        (K_O_EXCL, FILE_FLAGS_O_EXCL),
        (K_O_NONBLOCK, FILE_FLAGS_O_NONBLOCK),
        (K_O_TRUNC, FILE_FLAGS_O_TRUNC),
        (K_O_DIRECT, FILE_FLAGS_O_DIRECT),
        (K_O_DIRECTORY, FILE_FLAGS_O_DIRECTORY),
        (K_O_LARGEFILE, FILE_FLAGS_O_LARGEFILE),
        (K_O_CLOEXEC, FILE_FLAGS_O_CLOEXEC),
    ];
    for (k, p) in map {
        if flags & k != 0 {
            res |= p;
        }
    }
    // O_SYNC is two bits; the probe tests `flags & K_O_SYNC` (either bit).
    if flags & K_O_SYNC != 0 {
        res |= FILE_FLAGS_O_SYNC;
    }
    res
}

/// The mode only means something when a file may be created.
pub(crate) fn open_mode(flags: u64, mode: u64) -> u32 {
    if flags & (K_O_CREAT | K_O_TMPFILE_BIT) == 0 {
        return 0;
    }
    (mode & 0o7777) as u32
}

/// pipe2, dup3, inotify_init1, eventfd2, signalfd4, accept4, socket: only these bits.
pub(crate) fn fd_flags(flags: u64) -> u32 {
    let mut res = 0;
    if flags & K_O_CLOEXEC != 0 {
        res |= FILE_FLAGS_O_CLOEXEC;
    }
    if flags & K_O_NONBLOCK != 0 {
        res |= FILE_FLAGS_O_NONBLOCK;
    }
    if flags & K_O_DIRECT != 0 {
        res |= FILE_FLAGS_O_DIRECT;
    }
    res
}

pub(crate) fn clone_flags(f: u64) -> u32 {
    let map: [(u64, u32); 22] = [
        (0x0000_0400, CLONE_FLAGS_CLONE_FILES),
        (0x0000_0200, CLONE_FLAGS_CLONE_FS),
        (0x8000_0000, CLONE_FLAGS_CLONE_IO),
        (0x0800_0000, CLONE_FLAGS_CLONE_NEWIPC),
        (0x4000_0000, CLONE_FLAGS_CLONE_NEWNET),
        (0x0002_0000, CLONE_FLAGS_CLONE_NEWNS),
        (0x2000_0000, CLONE_FLAGS_CLONE_NEWPID),
        (0x0400_0000, CLONE_FLAGS_CLONE_NEWUTS),
        (0x0000_8000, CLONE_FLAGS_CLONE_PARENT),
        (0x0010_0000, CLONE_FLAGS_CLONE_PARENT_SETTID),
        (0x0000_2000, CLONE_FLAGS_CLONE_PTRACE),
        (0x0000_0800, CLONE_FLAGS_CLONE_SIGHAND),
        (0x0004_0000, CLONE_FLAGS_CLONE_SYSVSEM),
        (0x0001_0000, CLONE_FLAGS_CLONE_THREAD),
        (0x0080_0000, CLONE_FLAGS_CLONE_UNTRACED),
        (0x0000_0100, CLONE_FLAGS_CLONE_VM),
        (0x1000_0000, CLONE_FLAGS_CLONE_NEWUSER),
        (0x0020_0000, CLONE_FLAGS_CLONE_CHILD_CLEARTID),
        (0x0100_0000, CLONE_FLAGS_CLONE_CHILD_SETTID),
        (0x0008_0000, CLONE_FLAGS_CLONE_SETTLS),
        (0x0000_4000, CLONE_FLAGS_CLONE_VFORK),
        (0x0200_0000, CLONE_FLAGS_CLONE_NEWCGROUP),
    ];
    map.iter().filter(|(k, _)| f & k != 0).fold(0, |acc, (_, p)| acc | p)
}

pub(crate) fn prot_flags(p: u64) -> u32 {
    let map: [(u64, u32); 6] = [
        (0x1, PROT_FLAGS_PROT_READ),
        (0x2, PROT_FLAGS_PROT_WRITE),
        (0x4, PROT_FLAGS_PROT_EXEC),
        (0x8, PROT_FLAGS_PROT_SEM),
        (0x0100_0000, PROT_FLAGS_PROT_GROWSDOWN),
        (0x0200_0000, PROT_FLAGS_PROT_GROWSUP),
    ];
    map.iter().filter(|(k, _)| p & k != 0).fold(0, |acc, (_, v)| acc | v)
}

pub(crate) fn mmap_flags(f: u64) -> u32 {
    let map: [(u64, u32); 12] = [
        (0x01, MMAP_FLAGS_MAP_SHARED),
        (0x02, MMAP_FLAGS_MAP_PRIVATE),
        (0x10, MMAP_FLAGS_MAP_FIXED),
        (0x20, MMAP_FLAGS_MAP_ANONYMOUS),
        (0x40, MMAP_FLAGS_MAP_32BIT),
        (0x4000, MMAP_FLAGS_MAP_NORESERVE),
        (0x8000, MMAP_FLAGS_MAP_POPULATE),
        (0x10000, MMAP_FLAGS_MAP_NONBLOCK),
        (0x0100, MMAP_FLAGS_MAP_GROWSDOWN),
        (0x0800, MMAP_FLAGS_MAP_DENYWRITE),
        (0x1000, MMAP_FLAGS_MAP_EXECUTABLE),
        (0x2000, MMAP_FLAGS_MAP_LOCKED),
    ];
    map.iter().filter(|(k, _)| f & k != 0).fold(0, |acc, (_, v)| acc | v)
}

pub(crate) fn fcntl_cmd(cmd: u64) -> u8 {
    (match cmd {
        0 => FCNTL_COMMANDS_F_DUPFD,
        1 => FCNTL_COMMANDS_F_GETFD,
        2 => FCNTL_COMMANDS_F_SETFD,
        3 => FCNTL_COMMANDS_F_GETFL,
        4 => FCNTL_COMMANDS_F_SETFL,
        5 => FCNTL_COMMANDS_F_GETLK,
        6 => FCNTL_COMMANDS_F_SETLK,
        7 => FCNTL_COMMANDS_F_SETLKW,
        8 => FCNTL_COMMANDS_F_SETOWN,
        9 => FCNTL_COMMANDS_F_GETOWN,
        10 => FCNTL_COMMANDS_F_SETSIG,
        11 => FCNTL_COMMANDS_F_GETSIG,
        15 => FCNTL_COMMANDS_F_SETOWN_EX,
        16 => FCNTL_COMMANDS_F_GETOWN_EX,
        36 => FCNTL_COMMANDS_F_OFD_GETLK,
        37 => FCNTL_COMMANDS_F_OFD_SETLK,
        38 => FCNTL_COMMANDS_F_OFD_SETLKW,
        1024 => FCNTL_COMMANDS_F_SETLEASE,
        1025 => FCNTL_COMMANDS_F_GETLEASE,
        1026 => FCNTL_COMMANDS_F_NOTIFY,
        1029 => FCNTL_COMMANDS_F_CANCELLK,
        1030 => FCNTL_COMMANDS_F_DUPFD_CLOEXEC,
        1031 => FCNTL_COMMANDS_F_SETPIPE_SZ,
        1032 => FCNTL_COMMANDS_F_GETPIPE_SZ,
        _ => FCNTL_COMMANDS_UNKNOWN,
    }) as u8
}

pub(crate) fn ptrace_request(r: u64) -> u16 {
    (match r {
        0 => PTRACE_REQUESTS_PTRACE_TRACEME,
        1 => PTRACE_REQUESTS_PTRACE_PEEKTEXT,
        2 => PTRACE_REQUESTS_PTRACE_PEEKDATA,
        3 => PTRACE_REQUESTS_PTRACE_PEEKUSR,
        4 => PTRACE_REQUESTS_PTRACE_POKETEXT,
        5 => PTRACE_REQUESTS_PTRACE_POKEDATA,
        6 => PTRACE_REQUESTS_PTRACE_POKEUSR,
        7 => PTRACE_REQUESTS_PTRACE_CONT,
        8 => PTRACE_REQUESTS_PTRACE_KILL,
        9 => PTRACE_REQUESTS_PTRACE_SINGLESTEP,
        12 => PTRACE_REQUESTS_PTRACE_GETREGS,
        13 => PTRACE_REQUESTS_PTRACE_SETREGS,
        14 => PTRACE_REQUESTS_PTRACE_GETFPREGS,
        15 => PTRACE_REQUESTS_PTRACE_SETFPREGS,
        16 => PTRACE_REQUESTS_PTRACE_ATTACH,
        17 => PTRACE_REQUESTS_PTRACE_DETACH,
        18 => PTRACE_REQUESTS_PTRACE_GETFPXREGS,
        19 => PTRACE_REQUESTS_PTRACE_SETFPXREGS,
        21 => PTRACE_REQUESTS_PTRACE_OLDSETOPTIONS,
        24 => PTRACE_REQUESTS_PTRACE_SYSCALL,
        25 => PTRACE_REQUESTS_PTRACE_GET_THREAD_AREA,
        26 => PTRACE_REQUESTS_PTRACE_SET_THREAD_AREA,
        30 => PTRACE_REQUESTS_PTRACE_ARCH_PRCTL,
        31 => PTRACE_REQUESTS_PTRACE_SYSEMU,
        32 => PTRACE_REQUESTS_PTRACE_SYSEMU_SINGLESTEP,
        33 => PTRACE_REQUESTS_PTRACE_SINGLEBLOCK,
        0x4200 => PTRACE_REQUESTS_PTRACE_SETOPTIONS,
        0x4201 => PTRACE_REQUESTS_PTRACE_GETEVENTMSG,
        0x4202 => PTRACE_REQUESTS_PTRACE_GETSIGINFO,
        0x4203 => PTRACE_REQUESTS_PTRACE_SETSIGINFO,
        0x4204 => PTRACE_REQUESTS_PTRACE_GETREGSET,
        0x4205 => PTRACE_REQUESTS_PTRACE_SETREGSET,
        0x4206 => PTRACE_REQUESTS_PTRACE_SEIZE,
        0x4207 => PTRACE_REQUESTS_PTRACE_INTERRUPT,
        0x4208 => PTRACE_REQUESTS_PTRACE_LISTEN,
        0x4209 => PTRACE_REQUESTS_PTRACE_PEEKSIGINFO,
        0x420a => PTRACE_REQUESTS_PTRACE_GETSIGMASK,
        0x420b => PTRACE_REQUESTS_PTRACE_SETSIGMASK,
        _ => PTRACE_REQUESTS_PTRACE_UNKNOWN,
    }) as u16
}

pub(crate) fn shutdown_how(how: u64) -> u8 {
    (match how {
        0 => SHUTDOWN_HOW_SHUT_RD,
        1 => SHUTDOWN_HOW_SHUT_WR,
        2 => SHUTDOWN_HOW_SHUT_RDWR,
        _ => SHUTDOWN_HOW_SHUT_UNKNOWN,
    }) as u8
}

pub(crate) fn unlinkat_flags(f: u64) -> u32 {
    if f & K_AT_REMOVEDIR != 0 { UNLINKAT_FLAGS_AT_REMOVEDIR } else { 0 }
}

pub(crate) fn linkat_flags(f: u64) -> u32 {
    let mut res = 0;
    if f & K_AT_SYMLINK_FOLLOW != 0 {
        res |= LINKAT_FLAGS_AT_SYMLINK_FOLLOW;
    }
    if f & K_AT_EMPTY_PATH != 0 {
        res |= LINKAT_FLAGS_AT_EMPTY_PATH;
    }
    res
}

pub(crate) fn fchownat_flags(f: u64) -> u32 {
    let mut res = 0;
    if f & K_AT_SYMLINK_NOFOLLOW != 0 {
        res |= FCHOWNAT_FLAGS_AT_SYMLINK_NOFOLLOW;
    }
    if f & K_AT_EMPTY_PATH != 0 {
        res |= FCHOWNAT_FLAGS_AT_EMPTY_PATH;
    }
    res
}

pub(crate) fn newfstatat_flags(f: u64) -> u32 {
    let mut res = 0;
    if f & K_AT_SYMLINK_NOFOLLOW != 0 {
        res |= NEWFSTATAT_FLAGS_AT_SYMLINK_NOFOLLOW;
    }
    if f & K_AT_NO_AUTOMOUNT != 0 {
        res |= NEWFSTATAT_FLAGS_AT_NO_AUTOMOUNT;
    }
    if f & K_AT_EMPTY_PATH != 0 {
        res |= NEWFSTATAT_FLAGS_AT_EMPTY_PATH;
    }
    res
}

pub(crate) fn epoll_create1_flags(f: u64) -> u32 {
    if f & K_O_CLOEXEC != 0 { EPOLL_CREATE1_FLAGS_EPOLL_CLOEXEC } else { 0 }
}

pub(crate) fn pidfd_open_flags(f: u64) -> u32 {
    if f & K_O_NONBLOCK != 0 { PIDFD_OPEN_FLAGS_PIDFD_NONBLOCK } else { 0 }
}

pub(crate) fn delete_module_flags(f: u64) -> u32 {
    let mut res = 0;
    if f & K_O_NONBLOCK != 0 {
        res |= DELETE_MODULE_FLAGS_O_NONBLOCK;
    }
    if f & K_O_TRUNC != 0 {
        res |= DELETE_MODULE_FLAGS_O_TRUNC;
    }
    res
}

/// libs' new_encode_dev: the dev_t user space sees in `st_dev`, from a kernel
/// `(major << 20) | minor`.
pub(crate) fn encode_dev(kdev: u32) -> u32 {
    let major = kdev >> 20;
    let minor = kdev & ((1 << 20) - 1);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

const K_RESOLVE_NO_XDEV: u64 = 0x01;
const K_RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const K_RESOLVE_NO_SYMLINKS: u64 = 0x04;
const K_RESOLVE_BENEATH: u64 = 0x08;
const K_RESOLVE_IN_ROOT: u64 = 0x10;
const K_RESOLVE_CACHED: u64 = 0x20;

pub(crate) fn resolve_flags(r: u64) -> u32 {
    let map = [
        (K_RESOLVE_BENEATH, OPENAT2_FLAGS_RESOLVE_BENEATH),
        (K_RESOLVE_IN_ROOT, OPENAT2_FLAGS_RESOLVE_IN_ROOT),
        (K_RESOLVE_NO_MAGICLINKS, OPENAT2_FLAGS_RESOLVE_NO_MAGICLINKS),
        (K_RESOLVE_NO_SYMLINKS, OPENAT2_FLAGS_RESOLVE_NO_SYMLINKS),
        (K_RESOLVE_NO_XDEV, OPENAT2_FLAGS_RESOLVE_NO_XDEV),
        (K_RESOLVE_CACHED, OPENAT2_FLAGS_RESOLVE_CACHED),
    ];
    map.iter().filter(|(k, _)| r & k != 0).fold(0, |acc, (_, v)| acc | v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_match_the_table() {
        assert_eq!(open_flags(0), FILE_FLAGS_O_RDONLY);
        assert_eq!(open_flags(0o1101), FILE_FLAGS_O_WRONLY | FILE_FLAGS_O_CREAT | FILE_FLAGS_O_TRUNC);
        assert_eq!(open_mode(0, 0o644), 0);
        assert_eq!(open_mode(K_O_CREAT, 0o100644), 0o644);
    }

    #[test]
    fn encode_dev_is_new_encode_dev() {
        // 8:1 (sda1) -> 0x801; 259:65536 -> minor's high bits move up.
        assert_eq!(encode_dev((8 << 20) | 1), 0x801);
        assert_eq!(encode_dev((259 << 20) | 0x10001), 0x1 | (259 << 8) | (0x10000 << 12));
    }
}
