//! What rendering needs to know about the kernel's state.

/// A file descriptor as rendering shows it: `<typechar l4char>name`.
#[derive(Clone, Copy, Debug)]
pub struct FdView<'a> {
    /// sysdig's type letter: `f` file, `d` directory, `4`/`6` IPv4/IPv6
    /// socket, `u` unix socket, `p` pipe, `e` eventfd, ...
    pub typechar: u8,
    /// For IP sockets, the transport letter: `t` TCP, `u` UDP, `i` ICMP, `r` raw.
    pub l4char: Option<u8>,
    /// Path, socket tuple or other name; may be empty.
    pub name: &'a [u8],
}

/// Lookups into the rebuilt kernel state that rendering needs. Every lookup
/// is keyed by the thread the event belongs to, because fd tables, working
/// directories and user databases belong to processes and containers.
pub trait StateView {
    /// The command name of thread `tid`.
    fn comm(&self, tid: i64) -> Option<&[u8]>;
    /// The working directory of thread `tid`, ending in `/`.
    fn cwd(&self, tid: i64) -> Option<&[u8]>;
    /// File descriptor `fd` of thread `tid`'s process.
    fn fd(&self, tid: i64, fd: i64) -> Option<FdView<'_>>;
    /// The name of user `uid` as thread `tid` sees it (its container's users).
    fn user_name(&self, tid: i64, uid: u32) -> Option<&[u8]>;
    /// The name of group `gid` as thread `tid` sees it.
    fn group_name(&self, tid: i64, gid: u32) -> Option<&[u8]>;
}

/// No state at all: every lookup fails.
pub struct NoState;

impl StateView for NoState {
    fn comm(&self, _: i64) -> Option<&[u8]> {
        None
    }
    fn cwd(&self, _: i64) -> Option<&[u8]> {
        None
    }
    fn fd(&self, _: i64, _: i64) -> Option<FdView<'_>> {
        None
    }
    fn user_name(&self, _: i64, _: u32) -> Option<&[u8]> {
        None
    }
    fn group_name(&self, _: i64, _: u32) -> Option<&[u8]> {
        None
    }
}

/// The rebuilt kernel state of `saker-state`.
impl StateView for saker_state::State {
    #[inline]
    fn comm(&self, tid: i64) -> Option<&[u8]> {
        self.thread(tid).map(|t| t.comm())
    }
    #[inline]
    fn cwd(&self, tid: i64) -> Option<&[u8]> {
        saker_state::State::cwd(self, tid)
    }
    #[inline]
    fn fd(&self, tid: i64, fd: i64) -> Option<FdView<'_>> {
        saker_state::State::fd(self, tid, fd).map(|f| FdView {
            typechar: f.typechar(),
            l4char: f.l4char(),
            name: &f.name,
        })
    }
    fn user_name(&self, tid: i64, uid: u32) -> Option<&[u8]> {
        self.user(tid, uid).map(|u| &*u.name)
    }
    fn group_name(&self, tid: i64, gid: u32) -> Option<&[u8]> {
        self.group(tid, gid).map(|g| &*g.name)
    }
}
