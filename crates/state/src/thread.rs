//! Threads, the data their process shares, and fd tables.

use std::sync::Arc;

use crate::fd::Fd;
use crate::util::{FxHashMap, Str, empty_str};

/// Thread flags (libs' `PPM_CL_*`), as clone events and capture process
/// lists carry them ([`Thread::flags`]).
#[allow(missing_docs)]
pub mod thread_flags {
    pub const CLONE_FILES: u32 = 1 << 0;
    pub const CLONE_FS: u32 = 1 << 1;
    pub const CLONE_NEWPID: u32 = 1 << 6;
    pub const CLONE_PARENT: u32 = 1 << 8;
    pub const CLONE_THREAD: u32 = 1 << 13;
    pub const CLONE_VM: u32 = 1 << 15;
    pub const CLONE_INVERTED: u32 = 1 << 16;
    pub const NAME_CHANGED: u32 = 1 << 17;
    pub const CLOSED: u32 = 1 << 18;
    pub const ACTIVE: u32 = 1 << 19;
    pub const CLONE_NEWUSER: u32 = 1 << 20;
    pub const PIPE_SRC: u32 = 1 << 21;
    pub const PIPE_DST: u32 = 1 << 22;
    pub const CLONE_VFORK: u32 = 1 << 27;
    pub const CHILD_IN_PIDNS: u32 = 1 << 29;
    pub const IS_MAIN_THREAD: u32 = 1 << 30;
}

/// Executable flags of a thread ([`Thread::exe_flags`]), libs' `PPM_EXE_*`.
#[allow(missing_docs)]
pub mod exe_flags {
    pub const WRITABLE: u32 = 1 << 0;
    pub const UPPER_LAYER: u32 = 1 << 1;
    pub const FROM_MEMFD: u32 = 1 << 2;
    pub const LOWER_LAYER: u32 = 1 << 3;
}

/// What a program image gives its threads: set by execve (or read from a
/// capture or /proc), inherited unchanged by clone. Shared (reference
/// counted) between the threads and children that have not exec'd since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecInfo {
    /// The command name (`proc.name`), at most 15 bytes in the kernel.
    pub comm: Str,
    /// `argv[0]` (`proc.exe`).
    pub exe: Str,
    /// The full executable path (`proc.exepath`).
    pub exepath: Str,
    /// Arguments after `argv[0]`, NUL-separated.
    pub args: Str,
    /// Environment, NUL-separated.
    pub env: Str,
    /// Cgroups, `subsys=path` NUL-separated.
    pub cgroups: Str,
    /// The root directory (chroot).
    pub root: Str,
    /// The container id derived from the cgroups (empty on the host).
    pub container_id: Str,
}

impl Default for ExecInfo {
    fn default() -> Self {
        ExecInfo {
            comm: empty_str(),
            exe: empty_str(),
            exepath: empty_str(),
            args: empty_str(),
            env: empty_str(),
            cgroups: empty_str(),
            root: empty_str(),
            container_id: empty_str(),
        }
    }
}

impl ExecInfo {
    /// Iterates over the arguments (after `argv[0]`).
    pub fn args(&self) -> impl Iterator<Item = &[u8]> {
        split_nul(&self.args)
    }

    /// Iterates over the environment entries (`NAME=value`).
    pub fn env(&self) -> impl Iterator<Item = &[u8]> {
        split_nul(&self.env)
    }

    /// Iterates over the cgroups as `(subsystem, path)`.
    pub fn cgroups(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        split_nul(&self.cgroups).filter_map(|c| {
            let eq = c.iter().rposition(|&b| b == b'=')?;
            Some((&c[..eq], &c[eq + 1..]))
        })
    }
}

/// The NUL-separated parts of a buffer (a trailing NUL adds no empty part).
pub(crate) fn split_nul(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    b.split(|&c| c == 0).filter(move |_| !b.is_empty())
}

/// A process's fd table, keyed by fd number.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    pub(crate) map: FxHashMap<i64, Fd>,
}

impl FdTable {
    /// The fd `fd`.
    #[inline]
    pub fn get(&self, fd: i64) -> Option<&Fd> {
        self.map.get(&fd)
    }

    /// Number of fds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All fds, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Fd)> {
        self.map.iter().map(|(&k, v)| (k, v))
    }
}

/// What a thread remembers of its last enter event, to complete the exit
/// event (old captures put some arguments only in enter events).
#[derive(Clone, Debug, Default)]
pub(crate) struct LastEvent {
    /// Type of the last enter event, or `u16::MAX`.
    pub ty: u16,
    /// The fd that enter event named, or -1.
    pub fd: i64,
    /// Whether the current exit event matches `ty`.
    pub valid: bool,
    /// Whether the current exit event names its fd itself.
    pub own_fd: bool,
    /// A copy of the enter event, for the types whose exit needs it.
    pub stored: Vec<u8>,
    /// Time of the last enter event (0 before any).
    pub enter_ts: u64,
    /// libsinsp's m_latency.
    pub latency: u64,
    /// libsinsp's m_lastevent_fd (0 initially).
    pub ev_fd: i64,
    /// `(pid, threads removed so far)` when the main thread of process
    /// `pid` was last seen in the table: while no thread has left the table
    /// since, it is still there and need not be looked up again.
    pub main_seen: (i64, u64),
}

/// One thread (task) of the table.
///
/// Process-wide data (fd table, working directory, fd limit) live in the
/// process's main thread (`tid == pid`), as in libs; use
/// [`State::fd`](crate::State::fd) and [`State::cwd`](crate::State::cwd),
/// which go through it.
#[derive(Clone, Debug)]
pub struct Thread {
    /// Thread id.
    pub tid: i64,
    /// Process id (thread group id).
    pub pid: i64,
    /// Parent thread id (-1 when unknown).
    pub ptid: i64,
    /// Session id.
    pub sid: i64,
    /// Process group id, as seen in the thread's pid namespace.
    pub vpgid: i64,
    /// Process group id in the host's pid namespace.
    pub pgid: i64,
    /// Thread id in the thread's pid namespace.
    pub vtid: i64,
    /// Process id in the thread's pid namespace.
    pub vpid: i64,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Login (audit) user id; `u32::MAX` when unset.
    pub loginuid: u32,
    /// Controlling terminal (device number), 0 for none.
    pub tty: u32,
    /// [`thread_flags`].
    pub flags: u32,
    /// [`exe_flags`].
    pub exe_flags: u32,
    /// Open-files limit (`RLIMIT_NOFILE`), -1 when unknown.
    pub fdlimit: i64,
    /// Capabilities.
    pub cap_inheritable: u64,
    /// Capabilities.
    pub cap_permitted: u64,
    /// Capabilities.
    pub cap_effective: u64,
    /// Inode of the executable, and its times (ns since the epoch).
    pub exe_ino: u64,
    /// See `exe_ino`.
    pub exe_ino_ctime: u64,
    /// See `exe_ino`.
    pub exe_ino_mtime: u64,
    /// Time of the clone that created it (ns since the epoch), 0 if unknown.
    pub clone_ts: u64,
    /// Made from the child's own clone exit; the parent's has not come yet.
    pub(crate) awaiting_parent_clone: bool,
    /// Start time of the pid namespace's init.
    pub pidns_init_start_ts: u64,
    /// Memory counters from the last event that had them.
    pub vmsize_kb: u32,
    /// See `vmsize_kb`.
    pub vmrss_kb: u32,
    /// See `vmsize_kb`.
    pub vmswap_kb: u32,
    /// Page faults.
    pub pfmajor: u64,
    /// Page faults.
    pub pfminor: u64,
    /// Program image data, shared with other threads of the same image.
    pub info: Arc<ExecInfo>,
    /// Working directory, ending in `/` (meaningful on the main thread).
    pub(crate) cwd: Str,
    /// Fd table (meaningful on the main thread).
    pub(crate) fds: FdTable,
    /// Threads of this process (other than itself) in the table.
    pub(crate) nchilds: u32,
    /// The reaper its procexit event named (libs' `reaper_tid`), 0 when
    /// the event gave none: where its children go when it leaves.
    pub(crate) reaper_tid: i64,
    /// It called `prctl(PR_SET_CHILD_SUBREAPER, 1)` (meaningful on the main
    /// thread: the kernel keeps the flag per process). /proc does not show
    /// it, so only calls seen as events set it.
    pub child_subreaper: bool,
    pub(crate) last: LastEvent,
}

impl Thread {
    /// A thread that nothing is known about yet: libs' placeholder entry
    /// for a tid seen in an event (comm `<NA>`, uid -1, no parent).
    pub fn placeholder(tid: i64) -> Thread {
        static INFO: std::sync::OnceLock<Arc<ExecInfo>> = std::sync::OnceLock::new();
        let info = INFO.get_or_init(|| {
            let na: Str = Arc::from(&b"<NA>"[..]);
            Arc::new(ExecInfo { comm: na.clone(), exe: na, ..ExecInfo::default() })
        });
        Thread { uid: u32::MAX, gid: u32::MAX, loginuid: u32::MAX, ..Thread::new(tid, tid, info.clone()) }
    }

    /// A thread with these ids and image, everything else unset.
    pub fn new(tid: i64, pid: i64, info: Arc<ExecInfo>) -> Thread {
        Thread {
            tid,
            pid,
            ptid: -1,
            sid: -1,
            vpgid: -1,
            pgid: -1,
            vtid: -1,
            vpid: -1,
            uid: 0,
            gid: 0,
            loginuid: u32::MAX,
            tty: 0,
            flags: 0,
            exe_flags: 0,
            fdlimit: -1,
            cap_inheritable: 0,
            cap_permitted: 0,
            cap_effective: 0,
            exe_ino: 0,
            exe_ino_ctime: 0,
            exe_ino_mtime: 0,
            clone_ts: 0,
            awaiting_parent_clone: false,
            pidns_init_start_ts: 0,
            vmsize_kb: 0,
            vmrss_kb: 0,
            vmswap_kb: 0,
            pfmajor: 0,
            pfminor: 0,
            info,
            cwd: empty_str(),
            fds: FdTable::default(),
            nchilds: 0,
            reaper_tid: 0,
            child_subreaper: false,
            last: LastEvent {
                ty: u16::MAX,
                fd: -1,
                valid: false,
                own_fd: false,
                stored: Vec::new(),
                enter_ts: 0,
                latency: 0,
                ev_fd: 0,
                main_seen: (-1, u64::MAX),
            },
        }
    }

    /// Whether this is its process's main thread.
    #[inline]
    pub fn is_main_thread(&self) -> bool {
        self.tid == self.pid || self.flags & thread_flags::IS_MAIN_THREAD != 0
    }

    /// The command name.
    #[inline]
    pub fn comm(&self) -> &[u8] {
        &self.info.comm
    }

    /// The fd table this thread holds (the process's, for a main thread;
    /// other threads' are empty: see [`crate::State::fds`]).
    #[inline]
    pub fn fd_table(&self) -> &FdTable {
        &self.fds
    }

    /// libsinsp's m_lastevent_fd: the fd the current event works on, -1
    /// for none. An enter event's fd argument; an exit's own or created fd,
    /// else its enter event's. An exit without its enter event that lacks
    /// the fd its type has (a capture written before exits carried it) keeps
    /// the fd the thread last named (0 for a new thread), as the libsinsp of
    /// sysdig 0.29.3 does; one whose type has no fd of its own gets -1, as
    /// current libsinsp distrusts the last fd then.
    pub fn last_event_fd(&self) -> i64 {
        self.last.ev_fd
    }

    /// libsinsp's m_latency.
    pub fn latency(&self) -> u64 {
        self.last.latency
    }

    /// Whether the last exit event followed its enter event.
    pub fn last_event_valid(&self) -> bool {
        self.last.valid
    }

    /// Whether libsinsp attaches the fd of the last exit event
    /// ([`Thread::last_event_fd`]) to the event itself (`sinsp_evt::m_fdinfo`,
    /// which `evt.category` looks at): when the exit followed its enter
    /// event, or names its fd itself (current exits, sent without their
    /// enter). The libsinsp of sysdig 0.29.3 only had the first case, exits
    /// then carrying no fd.
    pub fn last_event_fd_attached(&self) -> bool {
        self.last.valid || self.last.own_fd
    }

    /// Whether it has exited (a procexit event was seen) and waits for its
    /// other threads before being purged.
    pub fn is_closed(&self) -> bool {
        self.flags & thread_flags::CLOSED != 0
    }
}
