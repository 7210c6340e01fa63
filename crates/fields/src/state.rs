//! What extraction and rendering need to know about the kernel's state.

use std::net::IpAddr;

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

/// Lookups into the rebuilt kernel state. Every lookup is keyed by the
/// thread the event belongs to, because fd tables, working directories and
/// user databases belong to processes and containers.
///
/// The first five methods are what parameter rendering (`evt.args`) needs.
/// The provided methods give the `proc.*`, `fd.*`, `user.*` and
/// `container.*` fields the whole state ([`StateView::state`]) and the few
/// things libsinsp remembers from an event's enter event; a view that does
/// not know them returns `None`, and the fields that need them extract
/// nothing.
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

    /// The whole rebuilt state, for the thread, fd, user and container fields.
    fn state(&self) -> Option<&saker_state::State> {
        None
    }

    /// The fd the current event of thread `tid` works on: libsinsp's
    /// `m_lastevent_fd` once the event is parsed. That is the fd argument of
    /// an enter event; for an exit event, the fd it names or created (`open`,
    /// `socket`, `pipe`'s second fd...), else the fd its enter event named
    /// (-1 when that named none); an exit whose enter was not seen and that
    /// lacks the fd its type has (written before exits carried it) keeps the
    /// fd the thread last named (0 for a new thread), as sysdig 0.29.3 does.
    /// `None` when the view does not track it.
    fn event_fd(&self, tid: i64) -> Option<i64> {
        let _ = tid;
        None
    }

    /// Whether libsinsp attaches the fd of the current exit event of thread
    /// `tid` to the event itself (`sinsp_evt::m_fdinfo`): when the exit
    /// followed its enter event or names its fd itself. `evt.category`,
    /// `evt.buflen`, `evt.is_syslog` and `evt.count.error.*` look at that fd:
    /// an I/O exit without its enter and its own fd is `unknown`, while the
    /// `fd.*` fields still show [`StateView::event_fd`]. `None` when not known
    /// (taken as attached).
    fn exit_fd_attached(&self, tid: i64) -> Option<bool> {
        let _ = tid;
        None
    }

    /// Nanoseconds between the current exit event of thread `tid` and its
    /// enter event (libsinsp's `m_latency`); `None` when not known.
    fn latency(&self, tid: i64) -> Option<u64> {
        let _ = tid;
        None
    }

    /// Whether `ip` is an address of the machine (one of its interfaces, or
    /// the address of `tid`'s container), which decides the local and remote
    /// ends of a socket (`fd.lip`, `fd.rport`, `fd.is_server`); `None` when
    /// the interfaces are not known.
    fn is_local_address(&self, tid: i64, ip: IpAddr) -> Option<bool> {
        let _ = (tid, ip);
        None
    }

    /// Whether the current event of thread `tid` renamed the fd it works on
    /// (a datagram socket's tuple, `fd.name_changed`); `None` when not known.
    fn fd_name_changed(&self, tid: i64) -> Option<bool> {
        let _ = tid;
        None
    }
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

/// The rebuilt kernel state of `saker-state`: the `fd.*` fields read the
/// event's fd, and whether it was renamed (`fd.name_changed`), from the
/// state itself ([`StateView::state`]).
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
    #[inline]
    fn state(&self) -> Option<&saker_state::State> {
        Some(self)
    }
    fn event_fd(&self, tid: i64) -> Option<i64> {
        self.thread(tid).map(|t| t.last_event_fd())
    }
    fn exit_fd_attached(&self, tid: i64) -> Option<bool> {
        self.thread(tid).map(|t| t.last_event_fd_attached())
    }
    fn latency(&self, tid: i64) -> Option<u64> {
        self.thread(tid).map(|t| t.latency())
    }
    fn is_local_address(&self, _tid: i64, ip: std::net::IpAddr) -> Option<bool> {
        Some(saker_state::State::is_local_address(self, ip))
    }
}
