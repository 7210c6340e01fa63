//! The metadata a capture carries before (and sometimes between) its events.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::format::{MAJOR_VERSION, MINOR_VERSION};

/// Everything before the first event block: the section header, machine,
/// interfaces, users, processes and their file descriptors.
///
/// Strings are raw bytes as in the file (not NUL-terminated; `args`, `env` and
/// `cgroups` are NUL-separated lists). Fields an older block version does not
/// carry hold libs' defaults (see [`ProcessInfo::default`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureHeader {
    /// The section header block.
    pub section: SectionHeader,
    /// The machine info block, absent in plugin captures.
    pub machine: Option<MachineInfo>,
    /// Network interfaces, in file order.
    pub interfaces: Vec<InterfaceInfo>,
    /// Users.
    pub users: Vec<UserInfo>,
    /// Groups.
    pub groups: Vec<GroupInfo>,
    /// Threads, in file order, each with its file descriptors.
    pub processes: Vec<ProcessInfo>,
    /// Fd lists whose thread is not in the process list (libs ignores them).
    pub orphan_fds: Vec<FdList>,
    /// Block types of the blocks the header was read from, in order (for
    /// diagnostics: which process-list version a file uses, etc.).
    pub block_types: Vec<u32>,
    /// Blocks of unknown type that were skipped: `(block type, offset)`.
    pub skipped_blocks: Vec<(u32, u64)>,
}

impl CaptureHeader {
    /// The process-list version (1..=9) of the first process list block, if any.
    pub fn proclist_version(&self) -> Option<u8> {
        self.block_types.iter().find_map(|&t| crate::format::block::proclist_version(t))
    }

    /// The thread with id `tid`.
    pub fn process(&self, tid: u64) -> Option<&ProcessInfo> {
        self.processes.iter().find(|p| p.tid == tid)
    }

    /// Attaches fd lists to their threads (appending; a list for an unknown
    /// thread goes to [`CaptureHeader::orphan_fds`]).
    pub(crate) fn attach_fds(&mut self, lists: Vec<FdList>) {
        if lists.is_empty() {
            return;
        }
        let index: std::collections::HashMap<u64, usize> =
            self.processes.iter().enumerate().map(|(i, p)| (p.tid, i)).rev().collect();
        for list in lists {
            match index.get(&list.tid) {
                Some(&i) => self.processes[i].fds.extend(list.fds),
                None => self.orphan_fds.push(list),
            }
        }
    }
}

/// The section header block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionHeader {
    /// Major format version (1).
    pub major: u16,
    /// Minor format version (2 for every current writer).
    pub minor: u16,
    /// Section length, `u64::MAX` (-1) when unknown.
    pub section_length: u64,
    /// pcapng-style options after the 16-byte body (e.g. comments added by
    /// Wireshark's editcap), raw. Not written back: sysdig 0.29.3 rejects them.
    pub options: Vec<u8>,
}

impl Default for SectionHeader {
    fn default() -> Self {
        SectionHeader { major: MAJOR_VERSION, minor: MINOR_VERSION, section_length: u64::MAX, options: Vec::new() }
    }
}

/// The machine info block (`scap_machine_info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// Number of CPUs.
    pub num_cpus: u32,
    /// Physical memory, bytes.
    pub memory_size_bytes: u64,
    /// `/proc/sys/kernel/pid_max`.
    pub max_pid: u64,
    /// Host name, without the NUL padding (at most 128 bytes).
    pub hostname: Vec<u8>,
    /// Boot time, ns since the epoch (libs ≥0.10; `reserved1` before).
    pub boot_ts_epoch: u64,
    /// Flags (libs ≥0.10; `reserved2` before).
    pub flags: u64,
    /// Reserved.
    pub reserved3: u64,
    /// Reserved.
    pub reserved4: u64,
}

/// One network interface address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Interface name (`eth0`).
    pub name: Vec<u8>,
    /// Address, netmask and broadcast address.
    pub addr: InterfaceAddr,
    /// Link speed (0 when the file did not record it).
    pub linkspeed: u64,
}

/// The addresses of an [`InterfaceInfo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceAddr {
    /// IPv4 (`SCAP_II_IPV4`).
    V4 {
        /// Address.
        addr: Ipv4Addr,
        /// Netmask.
        netmask: Ipv4Addr,
        /// Broadcast address.
        bcast: Ipv4Addr,
    },
    /// IPv6 (`SCAP_II_IPV6`).
    V6 {
        /// Address.
        addr: Ipv6Addr,
        /// Netmask.
        netmask: Ipv6Addr,
        /// Broadcast address.
        bcast: Ipv6Addr,
    },
}

/// A user of the user list block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Name.
    pub name: Vec<u8>,
    /// Home directory.
    pub homedir: Vec<u8>,
    /// Login shell.
    pub shell: Vec<u8>,
}

/// A group of the user list block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupInfo {
    /// Group id.
    pub gid: u32,
    /// Name.
    pub name: Vec<u8>,
}

/// One thread of the process list (`scap_threadinfo`).
///
/// Every field any process-list version carries; what a version lacks keeps
/// the default libs gives it (ids -1, `loginuid` `u32::MAX`, the rest 0/empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Thread id.
    pub tid: u64,
    /// Process id (thread group leader).
    pub pid: u64,
    /// Parent thread id.
    pub ptid: u64,
    /// Session id (v6+; default -1).
    pub sid: u64,
    /// Process group id in the pid namespace (v8+; default -1).
    pub vpgid: u64,
    /// Process group id (libs ≥0.20 tail; default -1).
    pub pgid: i64,
    /// Command name.
    pub comm: Vec<u8>,
    /// argv\[0\].
    pub exe: Vec<u8>,
    /// Full executable path (v7+).
    pub exepath: Vec<u8>,
    /// Arguments after argv\[0\], NUL-separated.
    pub args: Vec<u8>,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// `RLIMIT_NOFILE`.
    pub fdlimit: u64,
    /// `PPM_CL_*` flags.
    pub flags: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Virtual memory size, KiB (v2+).
    pub vmsize_kb: u32,
    /// Resident set size, KiB (v2+).
    pub vmrss_kb: u32,
    /// Swapped memory, KiB (v2+).
    pub vmswap_kb: u32,
    /// Major page faults (v2+).
    pub pfmajor: u64,
    /// Minor page faults (v2+).
    pub pfminor: u64,
    /// Environment, NUL-separated (v3+).
    pub env: Vec<u8>,
    /// Thread id in its pid namespace (v4+; default -1).
    pub vtid: i64,
    /// Process id in its pid namespace (v4+; default -1).
    pub vpid: i64,
    /// Cgroups, `subsys=/path` NUL-separated (v4+).
    pub cgroups: Vec<u8>,
    /// Root directory (v5+).
    pub root: Vec<u8>,
    /// Start time of the pid namespace's init, ns (libs ≥0.10 layout).
    pub pidns_init_start_ts: u64,
    /// Controlling terminal (libs ≥0.10 layout).
    pub tty: u32,
    /// Audit login uid (v9 tail; default `u32::MAX`).
    pub loginuid: u32,
    /// Whether the executable is writable by the thread's user (v9 tail).
    pub exe_writable: bool,
    /// Inheritable capabilities (v9 tail).
    pub cap_inheritable: u64,
    /// Permitted capabilities (v9 tail).
    pub cap_permitted: u64,
    /// Effective capabilities (v9 tail).
    pub cap_effective: u64,
    /// Executable on an overlayfs upper layer (libs ≥0.10 layout).
    pub exe_upper_layer: bool,
    /// Executable inode (libs ≥0.10 layout).
    pub exe_ino: u64,
    /// Executable inode ctime (libs ≥0.10 layout).
    pub exe_ino_ctime: u64,
    /// Executable inode mtime (libs ≥0.10 layout).
    pub exe_ino_mtime: u64,
    /// Executable is a memfd (libs ≥0.10 layout).
    pub exe_from_memfd: bool,
    /// Executable on an overlayfs lower layer (libs ≥0.10 layout).
    pub exe_lower_layer: bool,
    /// Start time (ns since the epoch), when a /proc scan knows it; not
    /// stored in capture files (0 when read from one).
    pub clone_ts: u64,
    /// The thread's file descriptors (from the fd list blocks).
    pub fds: Vec<FdInfo>,
}

impl Default for ProcessInfo {
    /// libs' defaults for fields a block version lacks.
    fn default() -> Self {
        ProcessInfo {
            tid: 0,
            pid: 0,
            ptid: 0,
            sid: u64::MAX,
            vpgid: u64::MAX,
            pgid: -1,
            comm: Vec::new(),
            exe: Vec::new(),
            exepath: Vec::new(),
            args: Vec::new(),
            cwd: Vec::new(),
            fdlimit: 0,
            flags: 0,
            uid: 0,
            gid: 0,
            vmsize_kb: 0,
            vmrss_kb: 0,
            vmswap_kb: 0,
            pfmajor: 0,
            pfminor: 0,
            env: Vec::new(),
            vtid: -1,
            vpid: -1,
            cgroups: Vec::new(),
            root: Vec::new(),
            pidns_init_start_ts: 0,
            tty: 0,
            loginuid: u32::MAX,
            exe_writable: false,
            cap_inheritable: 0,
            cap_permitted: 0,
            cap_effective: 0,
            exe_upper_layer: false,
            exe_ino: 0,
            exe_ino_ctime: 0,
            exe_ino_mtime: 0,
            exe_from_memfd: false,
            exe_lower_layer: false,
            clone_ts: 0,
            fds: Vec::new(),
        }
    }
}

/// The fd list block of one thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdList {
    /// The thread.
    pub tid: u64,
    /// Its file descriptors.
    pub fds: Vec<FdInfo>,
}

/// libs' `scap_fd_type` codes.
#[allow(missing_docs)]
pub mod fd_type {
    pub const UNKNOWN: u8 = 0;
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
    pub const BPF: u8 = 17;
    pub const USERFAULTFD: u8 = 18;
    pub const IOURING: u8 = 19;
    pub const MEMFD: u8 = 20;
    pub const PIDFD: u8 = 21;

    /// The type of an fd whose /proc link is `anon_inode:NAME` (or
    /// `anon_inode:[NAME]`), as libscap classifies it from /proc.
    pub fn of_anon_inode(name: &[u8]) -> u8 {
        let name = name.strip_prefix(b"[").and_then(|a| a.strip_suffix(b"]")).unwrap_or(name);
        match name {
            b"eventfd" => EVENT,
            b"signalfd" => SIGNALFD,
            b"eventpoll" => EVENTPOLL,
            b"inotify" => INOTIFY,
            b"timerfd" => TIMERFD,
            b"io_uring" => IOURING,
            b"userfaultfd" => USERFAULTFD,
            b"pidfd" => PIDFD,
            a if a.starts_with(b"bpf") => BPF,
            _ => UNSUPPORTED,
        }
    }
}

/// One file descriptor of an fd list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    /// The fd number.
    pub fd: i64,
    /// Inode number.
    pub ino: u64,
    /// Type and type-specific data.
    pub kind: FdKind,
}

impl FdInfo {
    /// The `scap_fd_type` code.
    pub fn fd_type(&self) -> u8 {
        match &self.kind {
            FdKind::File { .. } => fd_type::FILE_V2,
            FdKind::Ipv4Socket { .. } => fd_type::IPV4_SOCK,
            FdKind::Ipv6Socket { .. } => fd_type::IPV6_SOCK,
            FdKind::Ipv4Server { .. } => fd_type::IPV4_SERVSOCK,
            FdKind::Ipv6Server { .. } => fd_type::IPV6_SERVSOCK,
            FdKind::Unix { .. } => fd_type::UNIX_SOCK,
            FdKind::Named { fd_type, .. } | FdKind::Unknown { fd_type } => *fd_type,
        }
    }
}

/// The type-specific part of an [`FdInfo`]. Ports are host order, addresses as
/// in the file (network order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A regular file (`SCAP_FD_FILE_V2`).
    File {
        /// `PPM_O_*` open flags.
        open_flags: u32,
        /// Path.
        name: Vec<u8>,
        /// Device number, when the entry carries it.
        dev: Option<u32>,
    },
    /// A connected IPv4 socket.
    Ipv4Socket {
        /// Source address.
        sip: Ipv4Addr,
        /// Destination address.
        dip: Ipv4Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// `SCAP_L4_*` protocol.
        l4proto: u8,
    },
    /// A connected IPv6 socket.
    Ipv6Socket {
        /// Source address.
        sip: Ipv6Addr,
        /// Destination address.
        dip: Ipv6Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// `SCAP_L4_*` protocol.
        l4proto: u8,
    },
    /// A listening IPv4 socket.
    Ipv4Server {
        /// Address.
        ip: Ipv4Addr,
        /// Port.
        port: u16,
        /// `SCAP_L4_*` protocol.
        l4proto: u8,
    },
    /// A listening IPv6 socket.
    Ipv6Server {
        /// Address.
        ip: Ipv6Addr,
        /// Port.
        port: u16,
        /// `SCAP_L4_*` protocol.
        l4proto: u8,
    },
    /// A unix socket.
    Unix {
        /// Kernel address of the socket.
        source: u64,
        /// Kernel address of the peer.
        dest: u64,
        /// Path.
        path: Vec<u8>,
    },
    /// Any type whose only data is a name: FILE(1), DIRECTORY(2), FIFO(7),
    /// EVENT(9), UNSUPPORTED(10), SIGNALFD(11), EVENTPOLL(12), INOTIFY(13),
    /// TIMERFD(14), NETLINK(15), BPF(17), USERFAULTFD(18), IOURING(19),
    /// MEMFD(20), PIDFD(21).
    Named {
        /// The `scap_fd_type` code.
        fd_type: u8,
        /// Name.
        name: Vec<u8>,
    },
    /// UNKNOWN(0), or a type newer than this reader (its data is skipped).
    Unknown {
        /// The `scap_fd_type` code.
        fd_type: u8,
    },
}

/// Whether fd type `t` is encoded as a bare name.
pub(crate) const fn is_named_fd_type(t: u8) -> bool {
    matches!(t, 1 | 2 | 7 | 9..=15 | 17..=21)
}
