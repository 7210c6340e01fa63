//! Event parsing: how each event changes the state (libsinsp's `parsers.cpp`
//! semantics, restated).

use std::sync::Arc;

use saker_abi::{Event, EventFlags, EventInfo, ParamType};

use crate::container::{container_of_cgroups, parse_container_json};
use crate::fd::{Fd, FdType, fd_flags, l4};
use crate::thread::{ExecInfo, Thread, exe_flags, thread_flags as tf};
use crate::util::{self, Str, concat_paths, empty_str, is_v4_mapped, new_str};
use crate::{CANCELED_FD, Container, Runtime, Source, State};

/// libs' `PPM_O_*` open flags used here.
pub(crate) const PPM_O_DIRECTORY: u32 = 1 << 10;
pub(crate) const PPM_O_CLOEXEC: u32 = 1 << 12;
/// Linux `SOCK_CLOEXEC` (socket type and accept4 flags are raw).
const SOCK_CLOEXEC: u64 = 0o2000000;
/// prctl's option (Linux's value: the drivers pass options unchanged).
const PR_SET_CHILD_SUBREAPER: u64 = 36;
const PPM_AF_UNIX: u8 = 1;
const PPM_AF_INET: u8 = 2;
const PPM_AF_INET6: u8 = 10;
const PPM_AF_NETLINK: u64 = 16;
/// `-EINPROGRESS`.
const EINPROGRESS: i64 = -115;
/// A child clone older than this when its parent's clone exit arrives is a
/// stale entry for a reused tid.
const CLONE_STALE_TIME_NS: u64 = 2_000_000_000;

/// Event codes (libs' `PPME_*`) this module looks at.
#[allow(dead_code)]
mod t {
    pub const OPEN_E: u16 = 2;
    pub const OPEN_X: u16 = 3;
    pub const CLOSE_E: u16 = 4;
    pub const CLOSE_X: u16 = 5;
    pub const EXECVE_8_X: u16 = 13;
    pub const CLONE_11_X: u16 = 15;
    pub const PROCEXIT_E: u16 = 16;
    pub const SOCKET_E: u16 = 18;
    pub const SOCKET_X: u16 = 19;
    pub const BIND_X: u16 = 21;
    pub const CONNECT_E: u16 = 22;
    pub const CONNECT_X: u16 = 23;
    pub const ACCEPT_X: u16 = 27;
    pub const SENDTO_E: u16 = 30;
    pub const SENDTO_X: u16 = 31;
    pub const RECVFROM_X: u16 = 35;
    pub const SOCKETPAIR_E: u16 = 42;
    pub const SOCKETPAIR_X: u16 = 43;
    pub const SENDMSG_E: u16 = 48;
    pub const SENDMSG_X: u16 = 49;
    pub const SENDMMSG_X: u16 = 51;
    pub const RECVMSG_X: u16 = 53;
    pub const RECVMMSG_X: u16 = 55;
    pub const ACCEPT4_E: u16 = 56;
    pub const ACCEPT4_X: u16 = 57;
    pub const CREAT_E: u16 = 58;
    pub const CREAT_X: u16 = 59;
    pub const PIPE_X: u16 = 61;
    pub const EVENTFD_X: u16 = 63;
    pub const GETCWD_X: u16 = 93;
    pub const CHDIR_X: u16 = 95;
    pub const FCHDIR_X: u16 = 97;
    pub const OPENAT_E: u16 = 102;
    pub const OPENAT_X: u16 = 103;
    pub const DUP_X: u16 = 125;
    pub const SIGNALFD_X: u16 = 127;
    pub const TIMERFD_CREATE_X: u16 = 137;
    pub const INOTIFY_INIT_X: u16 = 139;
    pub const GETRLIMIT_E: u16 = 140;
    pub const GETRLIMIT_X: u16 = 141;
    pub const SETRLIMIT_E: u16 = 142;
    pub const SETRLIMIT_X: u16 = 143;
    pub const PRLIMIT_E: u16 = 144;
    pub const PRLIMIT_X: u16 = 145;
    pub const SCHEDSWITCH_1_E: u16 = 146;
    pub const FCNTL_E: u16 = 150;
    pub const FCNTL_X: u16 = 151;
    pub const SCHEDSWITCH_6_E: u16 = 152;
    pub const EXECVE_13_X: u16 = 155;
    pub const CLONE_16_X: u16 = 157;
    pub const BRK_4_X: u16 = 159;
    pub const MMAP_X: u16 = 161;
    pub const MMAP2_X: u16 = 163;
    pub const MUNMAP_X: u16 = 165;
    pub const EXECVE_14_X: u16 = 173;
    pub const FORK_X: u16 = 183;
    pub const VFORK_X: u16 = 185;
    pub const PROCEXIT_1_E: u16 = 186;
    pub const SETRESUID_E: u16 = 192;
    pub const SETRESUID_X: u16 = 193;
    pub const SETRESGID_E: u16 = 194;
    pub const SETRESGID_X: u16 = 195;
    pub const SETUID_E: u16 = 198;
    pub const SETUID_X: u16 = 199;
    pub const SETGID_E: u16 = 200;
    pub const SETGID_X: u16 = 201;
    pub const EXECVE_15_X: u16 = 215;
    pub const CLONE_17_X: u16 = 217;
    pub const FORK_17_X: u16 = 219;
    pub const VFORK_17_X: u16 = 221;
    pub const CLONE_20_X: u16 = 223;
    pub const FORK_20_X: u16 = 225;
    pub const VFORK_20_X: u16 = 227;
    pub const CONTAINER_E: u16 = 228;
    pub const EXECVE_16_X: u16 = 231;
    pub const ACCEPT_5_X: u16 = 247;
    pub const ACCEPT4_5_E: u16 = 248;
    pub const ACCEPT4_5_X: u16 = 249;
    pub const CHROOT_X: u16 = 267;
    pub const CONTAINER_JSON_E: u16 = 272;
    pub const SETSID_X: u16 = 275;
    pub const EXECVE_17_X: u16 = 283;
    pub const EXECVE_18_E: u16 = 288;
    pub const EXECVE_18_X: u16 = 289;
    pub const EXECVE_19_E: u16 = 292;
    pub const EXECVE_19_X: u16 = 293;
    pub const OPENAT_2_E: u16 = 306;
    pub const OPENAT_2_X: u16 = 307;
    pub const USERFAULTFD_X: u16 = 321;
    pub const CONTAINER_JSON_2_E: u16 = 324;
    pub const OPENAT2_E: u16 = 326;
    pub const OPENAT2_X: u16 = 327;
    pub const EXECVEAT_E: u16 = 330;
    pub const EXECVEAT_X: u16 = 331;
    pub const CLONE3_X: u16 = 335;
    pub const OPEN_BY_HANDLE_AT_X: u16 = 337;
    pub const IO_URING_SETUP_X: u16 = 339;
    pub const CAPSET_X: u16 = 353;
    pub const USER_ADDED_E: u16 = 354;
    pub const USER_DELETED_E: u16 = 356;
    pub const GROUP_ADDED_E: u16 = 358;
    pub const GROUP_DELETED_E: u16 = 360;
    pub const DUP2_X: u16 = 363;
    pub const DUP3_X: u16 = 365;
    pub const DUP_1_X: u16 = 367;
    pub const BPF_2_X: u16 = 369;
    pub const EPOLL_CREATE_X: u16 = 375;
    pub const EPOLL_CREATE1_X: u16 = 377;
    pub const ACCEPT4_6_E: u16 = 388;
    pub const ACCEPT4_6_X: u16 = 389;
    pub const PIPE2_X: u16 = 393;
    pub const INOTIFY_INIT1_X: u16 = 395;
    pub const EVENTFD2_X: u16 = 397;
    pub const SIGNALFD4_X: u16 = 399;
    pub const PRCTL_X: u16 = 401;
    pub const MEMFD_CREATE_X: u16 = 405;
    pub const PIDFD_GETFD_X: u16 = 407;
    pub const PIDFD_OPEN_X: u16 = 409;
    pub const SETREUID_X: u16 = 427;
    pub const SETREGID_X: u16 = 429;
}

/// The exit events of clone, fork, vfork and clone3, every version: a
/// pattern, so that `dispatch` stays one jump table.
macro_rules! clone_exit {
    () => {
        t::CLONE_11_X
            | t::CLONE_16_X
            | t::CLONE_17_X
            | t::CLONE_20_X
            | t::FORK_X
            | t::FORK_17_X
            | t::FORK_20_X
            | t::VFORK_X
            | t::VFORK_17_X
            | t::VFORK_20_X
            | t::CLONE3_X
    };
}

fn is_clone_exit(ty: u16) -> bool {
    matches!(ty, clone_exit!())
}

/// Enter events whose arguments the exit may need.
fn stores_enter(ty: u16) -> bool {
    matches!(
        ty,
        t::OPEN_E
            | t::CREAT_E
            | t::OPENAT_E
            | t::OPENAT_2_E
            | t::OPENAT2_E
            | t::SOCKET_E
            | t::SOCKETPAIR_E
            | t::CONNECT_E
            | t::SENDTO_E
            | t::SENDMSG_E
            | t::ACCEPT4_E
            | t::ACCEPT4_5_E
            | t::ACCEPT4_6_E
            | t::EXECVE_18_E
            | t::EXECVE_19_E
            | t::EXECVEAT_E
            | t::FCNTL_E
            | t::SETUID_E
            | t::SETGID_E
            | t::SETRESUID_E
            | t::SETRESGID_E
            | t::GETRLIMIT_E
            | t::SETRLIMIT_E
            | t::PRLIMIT_E
    )
}

/// Where the fd an exit event works on is among its own parameters (the
/// current, exit-only versions); older versions name it only in the enter
/// event.
fn exit_fd_param(ty: u16) -> Option<usize> {
    Some(match ty {
        t::CLOSE_X | t::FCNTL_X | t::FCHDIR_X | t::DUP_1_X | t::DUP2_X | t::DUP3_X => 1,
        t::SENDMMSG_X | t::RECVMMSG_X => 1,
        t::BIND_X | t::CONNECT_X | t::SENDTO_X | t::SENDMSG_X => 2,
        t::RECVFROM_X => 3,
        t::RECVMSG_X => 5,
        _ => return None,
    })
}

/// The parameter of an exit event naming the fd it works on (libsinsp's
/// `m_lastevent_fd`): [`exit_fd_param`]'s, else the one called `fd` after
/// the result. Computed once per event type: it is asked on every exit.
#[inline]
fn exit_ev_fd_param(ty: u16) -> Option<usize> {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    const NONE: u8 = u8::MAX;
    let table = TABLE.get_or_init(|| {
        (0..saker_abi::EVENT_TYPE_COUNT)
            .map(|code| {
                let code = code as u16;
                let Some(info) = saker_abi::EventType(code).info() else { return NONE };
                if code & 1 == 0 {
                    return NONE;
                }
                let named = || {
                    info.params.iter().enumerate().skip(1).find_map(|(i, p)| {
                        (p.name == "fd" && matches!(p.ty, ParamType::Fd | ParamType::Fd32)).then_some(i)
                    })
                };
                exit_fd_param(code).or_else(named).map_or(NONE, |i| i as u8)
            })
            .collect()
    });
    match table.get(ty as usize) {
        Some(&i) if i != NONE => Some(i as usize),
        _ => None,
    }
}

#[inline]
fn pi64(ev: &Event<'_>, i: usize) -> Option<i64> {
    ev.int_param(i).map(|v| v as i64)
}

#[inline]
fn pu64(ev: &Event<'_>, i: usize) -> Option<u64> {
    ev.int_param(i)
}

/// A parameter's raw bytes, `None` when absent or empty.
#[inline]
fn pbytes<'a>(ev: &Event<'a>, i: usize) -> Option<&'a [u8]> {
    let b = ev.param(i)?.bytes();
    (!b.is_empty()).then_some(b)
}

/// A string parameter up to its NUL, `None` when absent or empty.
#[inline]
fn pstr<'a>(ev: &Event<'a>, i: usize) -> Option<&'a [u8]> {
    pbytes(ev, i).map(until_nul)
}

/// The bytes before the first NUL (all of them without one).
#[inline]
fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(p) => &b[..p],
        None => b,
    }
}

/// A NUL-separated buffer parameter (args, env, cgroups), empty when absent.
#[inline]
fn pbuf<'a>(ev: &Event<'a>, i: usize) -> &'a [u8] {
    pbytes(ev, i).unwrap_or(b"")
}

/// The per-event context parsing works with.
struct Ctx<'e, 'a> {
    ev: &'e Event<'a>,
    ty: u16,
    tid: i64,
    /// The thread exists (possibly just created).
    known: bool,
    /// The fd the event works on (libsinsp's `m_fdinfo` number), when known.
    fd: Option<i64>,
    /// The matching enter event, when it was stored and is valid.
    enter: Option<Event<'e>>,
    /// The event's number (`Counters::events`): an fd renamed by it keeps
    /// it (`fd.name_changed`).
    num: u64,
}

/// What applying an event can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Changes {
    /// Nothing: types the table does not know, and those libsinsp does not
    /// parse (`EF_SKIPPARSERESET`, `EF_UNUSED`, the old scheduler switch).
    Nothing,
    /// The user and group tables only.
    Users,
    /// Page-fault counts and memory sizes only (scheduler switches).
    Memory,
    /// Threads, fds, containers, the last-event record...
    Anything,
}

/// What applying an event of type `ty` can change: [`apply`] goes by it, so
/// a reader that skips the events it says change nothing it reads sees the
/// same state.
#[inline]
pub(crate) fn changes(ty: u16) -> Changes {
    static TABLE: std::sync::OnceLock<Vec<Changes>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..saker_abi::EVENT_TYPE_COUNT as u16)
            .map(|code| {
                let Some(info) = saker_abi::EventType(code).info() else { return Changes::Nothing };
                match code {
                    t::CONTAINER_JSON_E | t::CONTAINER_JSON_2_E | t::CONTAINER_E => Changes::Anything,
                    t::USER_ADDED_E | t::USER_DELETED_E | t::GROUP_ADDED_E | t::GROUP_DELETED_E => Changes::Users,
                    _ if info.flags.contains(EventFlags::SKIPPARSERESET) || info.flags.contains(EventFlags::UNUSED) => {
                        Changes::Nothing
                    }
                    t::SCHEDSWITCH_1_E => Changes::Nothing,
                    t::SCHEDSWITCH_6_E => Changes::Memory,
                    _ => Changes::Anything,
                }
            })
            .collect()
    });
    table.get(ty as usize).copied().unwrap_or(Changes::Nothing)
}

pub(crate) fn apply(s: &mut State, ev: &Event<'_>) {
    s.flush_pending();
    s.overlay = None;
    let ty = ev.event_type().0;
    let tid = ev.tid() as i64;
    match changes(ty) {
        Changes::Nothing => return,
        Changes::Users => return parse_user_event(s, ev, ty),
        Changes::Memory => return apply_switch(s, ev, tid),
        Changes::Anything => {}
    }
    let Some(info) = ev.event_type().info() else { return };
    match ty {
        t::CONTAINER_JSON_E | t::CONTAINER_JSON_2_E => {
            if let Some(c) = pbytes(ev, 0).and_then(parse_container_json) {
                // libsinsp gives the event a pseudo-thread named after the container.
                let mut name = b"container:".to_vec();
                name.extend_from_slice(&c.id);
                let name = new_str(&name);
                // ... with an empty exe and cwd, no parent (0) and loginuid 0.
                let info = ExecInfo { comm: name, exe: empty_str(), container_id: c.id.clone(), ..ExecInfo::default() };
                let mut t = Thread::new(ev.tid() as i64, -1, Arc::new(info));
                t.vtid = -2;
                t.vpid = -2;
                t.ptid = 0;
                t.loginuid = 0;
                s.overlay = Some(Box::new(t));
                s.add_container(c);
            }
            return;
        }
        t::CONTAINER_E => {
            if let Some(id) = pstr(ev, 0) {
                s.add_container(Container {
                    name: new_str(pstr(ev, 2).unwrap_or(b"")),
                    image: new_str(pstr(ev, 3).unwrap_or(b"")),
                    ..Container::new(new_str(id), new_str(id), Runtime::from_libs_type(pu64(ev, 1).unwrap_or(u64::MAX)))
                });
            }
            return;
        }
        _ => {}
    }
    let creates = !(is_clone_exit(ty) || ty == t::PROCEXIT_1_E || ty == t::PROCEXIT_E);
    let enter_dir = ty & 1 == 0;
    let max_stored = s.limits.max_stored_event;
    let removed = s.counters.threads_removed;
    // One table lookup for a known thread (the common case).
    let last = if let Some(t) = s.threads.get_mut(&tid) {
        Some(track_last(t, ev, info, max_stored, removed, &mut s.counters.dropped_enter_events))
    } else if creates && s.get_or_create(tid) {
        let t = s.threads.get_mut(&tid).expect("just created");
        Some(track_last(t, ev, info, max_stored, removed, &mut s.counters.dropped_enter_events))
    } else {
        None
    };
    let known = last.is_some();
    let Tracked { fd, valid, mut stored, main_pid } = last.unwrap_or_default();
    // libsinsp creates a missing main thread when it needs the process's fds.
    if let Some(pid) = main_pid
        && (s.threads.contains_key(&pid) || s.get_or_create(pid))
        && let Some(t) = s.threads.get_mut(&tid)
    {
        t.last.main_seen = (pid, s.counters.threads_removed);
    }
    let enter = if valid && !stored.is_empty() {
        Event::parse(&stored).ok().filter(|e| {
            let et = e.event_type().0;
            et.wrapping_add(1) == ty || (ty == t::EXECVE_19_X && et == t::EXECVEAT_E)
        })
    } else {
        None
    };
    let num = s.counters.events;
    let mut cx = Ctx { ev, ty, tid, known, fd, enter, num };
    if !enter_dir && known && fd.is_some() && s.any_close_canceled {
        s.check_close_canceled(&cx);
    }
    dispatch(s, &mut cx, info);
    if stored.capacity() > 0
        && let Some(t) = s.threads.get_mut(&tid)
    {
        // libsinsp frees the stored enter event after every exit; keep the
        // buffer for the next one.
        stored.clear();
        t.last.stored = stored;
    }
}

/// What [`track_last`] learned about an event of a known thread.
#[derive(Default)]
struct Tracked {
    /// The fd the event works on.
    fd: Option<i64>,
    /// An exit whose enter event was the thread's previous one.
    valid: bool,
    /// The stored enter event of an exit, taken from the thread.
    stored: Vec<u8>,
    /// The thread's process, when the thread is not its main thread and
    /// that process's main thread may be missing from the table.
    main_pid: Option<i64>,
}

/// Updates the thread's last-event record (type, fd, latency, the stored
/// enter event) with `ev`. Runs on every event of a known thread: always
/// inlined into [`apply`], saving a call's set-up and the copy of its result.
#[inline(always)]
fn track_last(
    t: &mut Thread,
    ev: &Event<'_>,
    info: &EventInfo,
    max_stored: usize,
    removed: u64,
    dropped: &mut u64,
) -> Tracked {
    let ty = ev.event_type().0;
    let check_main = !t.is_main_thread() && t.pid >= 0 && t.last.main_seen != (t.pid, removed);
    let mut out = Tracked { main_pid: check_main.then_some(t.pid), ..Tracked::default() };
    let uses_fd = info.flags.contains(EventFlags::USES_FD);
    if ty & 1 == 0 {
        t.last.ty = ty;
        t.last.fd = -1;
        t.last.enter_ts = ev.ts();
        t.last.latency = 0;
        t.last.ev_fd = -1;
        if uses_fd && let Some(i) = fd_param(ty) {
            let v = pi64(ev, i);
            if let Some(v) = v {
                t.last.ev_fd = v;
            }
            if i == 0 {
                t.last.fd = v.unwrap_or(-1);
                out.fd = Some(t.last.fd);
            }
        }
        if stores_enter(ty) {
            let bytes = ev.as_bytes();
            t.last.stored.clear();
            if bytes.len() <= max_stored {
                t.last.stored.extend_from_slice(bytes);
            } else {
                *dropped += 1;
            }
        }
        return out;
    }
    if t.last.enter_ts != 0 {
        t.last.latency = ev.ts().wrapping_sub(t.last.enter_ts);
    }
    let valid = ty == t.last.ty.wrapping_add(1) || (ty == t::EXECVE_19_X && t.last.ty == t::EXECVEAT_E);
    let exit_fd = exit_fd_param(ty).and_then(|i| pi64(ev, i));
    let carried = exit_ev_fd_param(ty).map(|i| pi64(ev, i));
    t.last.own_fd = matches!(carried, Some(Some(_)));
    match carried {
        // The exit names its fd (current events, sent without their enter).
        Some(Some(v)) => t.last.ev_fd = v,
        // The table gives the exit its fd but the event lacks it: a capture
        // written before exit events carried it. The fd is the enter
        // event's; without one (a capture starting mid-call, a dropped
        // enter), the libsinsp of that time (sysdig 0.29.3) kept the last
        // fd the thread named (0 for a new thread), and so does saker.
        Some(None) => {}
        // The exit has no fd of its own: nothing to go by but the enter
        // event, which current libsinsp does not trust when it is not the
        // exit's own.
        None if !valid => t.last.ev_fd = -1,
        None => {}
    }
    if info.flags.contains(EventFlags::CREATES_FD)
        && let Some(v) = fd_param(ty).and_then(|i| pi64(ev, i)).filter(|&v| v >= 0)
    {
        t.last.ev_fd = v;
    }
    t.last.valid = valid;
    if !valid {
        t.last.fd = -1;
    }
    if !t.last.stored.is_empty() {
        out.stored = std::mem::take(&mut t.last.stored);
    }
    out.valid = valid;
    out.fd = match exit_fd {
        Some(f) => Some(f),
        None if valid && uses_fd => Some(t.last.fd),
        None => None,
    };
    out
}

/// The parameter naming the event's fd: the first one when it is an fd,
/// else the one called `fd` (enter events) or `fd2` (exits creating a
/// second fd). Computed once per event type: it is asked on every event.
#[inline]
fn fd_param(ty: u16) -> Option<usize> {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    const NONE: u8 = u8::MAX;
    let table = TABLE.get_or_init(|| {
        (0..saker_abi::EVENT_TYPE_COUNT)
            .map(|code| {
                let Some(info) = saker_abi::EventType(code as u16).info() else { return NONE };
                let is_fd = |p: &saker_abi::ParamInfo| matches!(p.ty, ParamType::Fd | ParamType::Fd32);
                let ix = match info.params.first() {
                    Some(p) if is_fd(p) => Some(0),
                    _ if code & 1 == 0 => info.params.iter().position(|p| p.name == "fd" && is_fd(p)),
                    _ => info.param_index("fd2"),
                };
                ix.map_or(NONE, |i| i as u8)
            })
            .collect()
    });
    match table.get(ty as usize) {
        Some(&i) if i != NONE => Some(i as usize),
        _ => None,
    }
}

/// A scheduler switch carries the thread's page-fault counts and its
/// process's memory sizes.
#[inline]
fn apply_switch(s: &mut State, ev: &Event<'_>, tid: i64) {
    let Some(t) = s.threads.get_mut(&tid) else { return };
    let [maj, min, size, rss, swap] = switch_counters(ev);
    t.pfmajor = maj.unwrap_or(t.pfmajor);
    t.pfminor = min.unwrap_or(t.pfminor);
    let pid = t.pid;
    // The memory sizes are the process's: on its main thread (most often the
    // thread itself), else on this one when the main thread is unknown.
    let m = if pid == tid {
        t
    } else if let Some(m) = s.threads.get_mut(&pid) {
        m
    } else {
        s.threads.get_mut(&tid).expect("looked up above")
    };
    m.vmsize_kb = size.map_or(m.vmsize_kb, |v| v as u32);
    m.vmrss_kb = rss.map_or(m.vmrss_kb, |v| v as u32);
    m.vmswap_kb = swap.map_or(m.vmswap_kb, |v| v as u32);
}

/// pgft_maj, pgft_min, vm_size, vm_rss, vm_swap of a `SCHEDSWITCH_6_E`.
/// Switches are often the most frequent event of a capture: the layout
/// every driver writes (six parameters of 8, 8, 8, 4, 4, 4 bytes) is read
/// at fixed offsets, any other through the table.
#[inline]
fn switch_counters(ev: &Event<'_>) -> [Option<u64>; 5] {
    const LENS: [u8; 12] = [8, 0, 8, 0, 8, 0, 4, 0, 4, 0, 4, 0];
    const DATA: usize = saker_abi::HEADER_LEN + 12;
    let b = ev.as_bytes();
    if ev.nparams() == 6 && b.len() >= DATA + 36 && b[saker_abi::HEADER_LEN..DATA] == LENS {
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes")) as u64;
        return [
            Some(u64_at(DATA + 8)),
            Some(u64_at(DATA + 16)),
            Some(u32_at(DATA + 24)),
            Some(u32_at(DATA + 28)),
            Some(u32_at(DATA + 32)),
        ];
    }
    let mut p = ev.params().skip(1).map(|p| p.as_u64());
    [(); 5].map(|()| p.next().flatten())
}

/// Parses the event's own changes. Returns false when its type has none
/// (only the last-event record [`apply`] keeps changes with it): see
/// [`changes_only_last_event`].
fn dispatch(s: &mut State, cx: &mut Ctx<'_, '_>, _info: &EventInfo) -> bool {
    match cx.ty {
        t::OPEN_X | t::CREAT_X | t::OPENAT_X | t::OPENAT_2_X | t::OPENAT2_X | t::OPEN_BY_HANDLE_AT_X => {
            parse_open_exit(s, cx)
        }
        t::SOCKET_X => parse_socket_exit(s, cx),
        t::BIND_X => parse_bind_exit(s, cx),
        t::CONNECT_E => parse_connect_enter(s, cx),
        t::CONNECT_X => parse_connect_exit(s, cx),
        t::ACCEPT_X | t::ACCEPT_5_X | t::ACCEPT4_X | t::ACCEPT4_5_X | t::ACCEPT4_6_X => parse_accept_exit(s, cx),
        t::CLOSE_E => parse_close_enter(s, cx),
        t::CLOSE_X => parse_close_exit(s, cx),
        t::PIPE_X | t::PIPE2_X => parse_pipe_exit(s, cx),
        t::SOCKETPAIR_X => parse_socketpair_exit(s, cx),
        t::EVENTFD_X | t::EVENTFD2_X => {
            let cloexec = cx.ty == t::EVENTFD2_X && pu64(cx.ev, 1).unwrap_or(0) as u32 & PPM_O_CLOEXEC != 0;
            single_fd_exit(s, cx, FdType::Event, cloexec)
        }
        t::SIGNALFD_X | t::SIGNALFD4_X => {
            let cloexec = cx.ty == t::SIGNALFD4_X && pu64(cx.ev, 1).unwrap_or(0) as u32 & PPM_O_CLOEXEC != 0;
            single_fd_exit(s, cx, FdType::Signalfd, cloexec)
        }
        t::TIMERFD_CREATE_X => single_fd_exit(s, cx, FdType::Timerfd, false),
        t::INOTIFY_INIT_X | t::INOTIFY_INIT1_X => {
            let cloexec = cx.ty == t::INOTIFY_INIT1_X && pu64(cx.ev, 1).unwrap_or(0) as u32 & PPM_O_CLOEXEC != 0;
            single_fd_exit(s, cx, FdType::Inotify, cloexec)
        }
        t::EPOLL_CREATE_X | t::EPOLL_CREATE1_X => {
            let cloexec = cx.ty == t::EPOLL_CREATE1_X && pu64(cx.ev, 1).unwrap_or(0) & 1 != 0;
            single_fd_exit(s, cx, FdType::Eventpoll, cloexec)
        }
        t::BPF_2_X => single_fd_exit(s, cx, FdType::Bpf, false),
        t::USERFAULTFD_X => single_fd_exit(s, cx, FdType::Userfaultfd, false),
        t::IO_URING_SETUP_X => single_fd_exit(s, cx, FdType::IoUring, false),
        t::MEMFD_CREATE_X => parse_memfd_exit(s, cx),
        t::PIDFD_OPEN_X => parse_pidfd_open_exit(s, cx),
        t::PIDFD_GETFD_X => parse_pidfd_getfd_exit(s, cx),
        t::DUP_X | t::DUP_1_X | t::DUP2_X | t::DUP3_X => parse_dup_exit(s, cx),
        t::FCNTL_X => parse_fcntl_exit(s, cx),
        t::SENDTO_X | t::SENDMSG_X | t::SENDMMSG_X => parse_datagram_exit(s, cx, false),
        t::RECVFROM_X | t::RECVMSG_X | t::RECVMMSG_X => parse_datagram_exit(s, cx, true),
        t::CHDIR_X | t::GETCWD_X => {
            if cx.known
                && pi64(cx.ev, 0).is_some_and(|r| r >= 0)
                && let Some(path) = pbytes(cx.ev, 1)
            {
                let path = path.to_vec();
                s.set_cwd(cx.tid, &path);
            }
        }
        t::FCHDIR_X => {
            if cx.known
                && pi64(cx.ev, 0).is_some_and(|r| r >= 0)
                && let Some(f) = cx.fd
                && let Some(name) = s.fd(cx.tid, f).map(|f| f.name.clone())
            {
                s.set_cwd(cx.tid, &name);
            }
        }
        t::CHROOT_X => parse_chroot_exit(s, cx),
        t::SETSID_X => {
            if let Some(r) = pi64(cx.ev, 0).filter(|&r| r >= 0)
                && let Some(t) = s.threads.get_mut(&cx.tid)
            {
                t.sid = r;
            }
        }
        t::SETUID_X | t::SETGID_X | t::SETRESUID_X | t::SETRESGID_X | t::SETREUID_X | t::SETREGID_X => {
            parse_setid_exit(s, cx)
        }
        t::CAPSET_X => {
            if pi64(cx.ev, 0).is_some_and(|r| r >= 0)
                && let Some(t) = s.threads.get_mut(&cx.tid)
            {
                t.cap_inheritable = pu64(cx.ev, 1).unwrap_or(t.cap_inheritable);
                t.cap_permitted = pu64(cx.ev, 2).unwrap_or(t.cap_permitted);
                t.cap_effective = pu64(cx.ev, 3).unwrap_or(t.cap_effective);
            }
        }
        t::PRCTL_X => {
            // PR_SET_NAME changes the thread's comm.
            if pi64(cx.ev, 0).is_some_and(|r| r >= 0)
                && pu64(cx.ev, 1) == Some(15)
                && let Some(name) = pstr(cx.ev, 2)
                && let Some(t) = s.threads.get_mut(&cx.tid)
                && *t.info.comm != *name
            {
                Arc::make_mut(&mut t.info).comm = new_str(name);
            }
            // PR_SET_CHILD_SUBREAPER: orphans of its descendants come to
            // this process rather than to init (see `reparent_children`).
            if pi64(cx.ev, 0).is_some_and(|r| r >= 0)
                && pu64(cx.ev, 1) == Some(PR_SET_CHILD_SUBREAPER)
                && let Some(m) = s.main_tid(cx.tid)
                && let Some(t) = s.threads.get_mut(&m)
            {
                t.child_subreaper = pi64(cx.ev, 3).is_some_and(|v| v != 0);
            }
        }
        t::GETRLIMIT_X | t::SETRLIMIT_X | t::PRLIMIT_X => parse_rlimit_exit(s, cx),
        t::BRK_4_X | t::MMAP_X | t::MMAP2_X | t::MUNMAP_X => {
            if let Some(t) = s.threads.get_mut(&cx.tid) {
                t.vmsize_kb = pu64(cx.ev, 1).map_or(t.vmsize_kb, |v| v as u32);
                t.vmrss_kb = pu64(cx.ev, 2).map_or(t.vmrss_kb, |v| v as u32);
                t.vmswap_kb = pu64(cx.ev, 3).map_or(t.vmswap_kb, |v| v as u32);
            }
        }
        clone_exit!() => parse_clone_exit(s, cx),
        t::EXECVE_8_X
        | t::EXECVE_13_X
        | t::EXECVE_14_X
        | t::EXECVE_15_X
        | t::EXECVE_16_X
        | t::EXECVE_17_X
        | t::EXECVE_18_X
        | t::EXECVE_19_X
        | t::EXECVEAT_X => parse_execve_exit(s, cx),
        t::PROCEXIT_E | t::PROCEXIT_1_E => {
            if let Some(t) = s.threads.get_mut(&cx.tid) {
                t.flags |= tf::CLOSED;
                // Older events have no reaper; the modern probe writes 0
                // (it does not compute one): both leave the choice to
                // `reparent_children`.
                t.reaper_tid = if cx.ty == t::PROCEXIT_1_E { pi64(cx.ev, 4).unwrap_or(0) } else { 0 };
                s.pending_thread = Some(cx.tid);
                if t.awaiting_parent_clone {
                    // Bounded: a parent event that never comes (dropped)
                    // leaves an entry; a child-side clone of the same tid
                    // takes it out again.
                    if s.exited_before_parent.len() >= EXITED_BEFORE_PARENT_MAX {
                        s.exited_before_parent.clear();
                    }
                    s.exited_before_parent.insert(cx.tid);
                }
            }
        }
        _ => return false,
    }
    true
}

/// Whether an event of type `ty` changes nothing but its thread's
/// last-event record (which [`apply`] keeps for every event): no parsing
/// of its own ([`dispatch`] has no case for it, asked once per type with
/// an empty event on a scratch state), no fd, no enter event kept for its
/// exit, no thread created or ended by it.
fn changes_only_last_event(ty: u16) -> bool {
    static TABLE: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut scratch = State::new(&crate::Limits::default());
        let mut buf = Vec::new();
        (0..saker_abi::EVENT_TYPE_COUNT as u16)
            .map(|code| {
                let Some(info) = saker_abi::EventType(code).info() else { return false };
                let fd_flags = EventFlags::USES_FD.0 | EventFlags::CREATES_FD.0 | EventFlags::DESTROYS_FD.0;
                if changes(code) != Changes::Anything
                    || info.flags.0 & fd_flags != 0
                    || fd_param(code).is_some()
                    || exit_fd_param(code).is_some()
                    || exit_ev_fd_param(code).is_some()
                    || stores_enter(code)
                    || is_clone_exit(code)
                    || matches!(code, t::CONTAINER_JSON_E | t::CONTAINER_JSON_2_E | t::CONTAINER_E)
                {
                    return false;
                }
                buf.clear();
                saker_abi::EventBuilder::new(&mut buf, 1, 1, saker_abi::EventType(code)).finish();
                let ev = Event::parse(&buf).expect("an event without parameters");
                let mut cx = Ctx { ev: &ev, ty: code, tid: 1, known: false, fd: None, enter: None, num: 0 };
                !dispatch(&mut scratch, &mut cx, info)
            })
            .collect()
    });
    table.get(ty as usize).copied().unwrap_or(false)
}

/// The exit event types that may be left unapplied when they come right
/// after their own enter event of the same thread (and that enter event
/// was applied): see [`crate::State::unneeded_exits_after_enter`].
pub(crate) fn exit_unneeded_after_enter(ty: u16) -> bool {
    ty & 1 == 1 && changes_only_last_event(ty) && changes_only_last_event(ty - 1)
}

impl State {
    /// Carries out the removals the previous event scheduled.
    #[inline]
    pub(crate) fn flush_pending(&mut self) {
        if self.pending_thread.is_some() || !self.pending_fds.1.is_empty() {
            self.flush_pending_slow();
        }
    }

    fn flush_pending_slow(&mut self) {
        while let Some(tid) = self.pending_thread.take() {
            self.remove_thread(tid, false);
        }
        if !self.pending_fds.1.is_empty() {
            let tid = self.pending_fds.0;
            let fds = std::mem::take(&mut self.pending_fds.1);
            if let Some(m) = self.main_tid(tid)
                && let Some(t) = self.threads.get_mut(&m)
            {
                for f in &fds {
                    if t.fds.map.remove(f).is_some() {
                        self.counters.fds_removed += 1;
                    }
                }
            }
            let mut fds = fds;
            fds.clear();
            self.pending_fds.1 = fds;
        }
    }

    /// The tid of `tid`'s main thread, if both are in the table.
    #[inline]
    pub(crate) fn main_tid(&self, tid: i64) -> Option<i64> {
        let t = self.threads.get(&tid)?;
        if t.is_main_thread() { Some(tid) } else { self.threads.contains_key(&t.pid).then_some(t.pid) }
    }

    /// Makes sure thread `tid` exists: libsinsp's `get_thread_ref` with OS
    /// lookup. A live state reads /proc; a capture adds a placeholder.
    /// False if the table is full.
    pub(crate) fn get_or_create(&mut self, tid: i64) -> bool {
        if self.threads.contains_key(&tid) {
            return true;
        }
        if self.threads.len() >= self.limits.max_threads {
            self.counters.thread_limit_hits += 1;
            return false;
        }
        let mut t = match &self.source {
            Source::Live(root) => {
                let root = root.clone();
                crate::proc::read_thread(&root, tid)
                    .map(|p| {
                        let mut ports = std::collections::HashSet::new();
                        self.thread_from_info(&p, &mut ports)
                    })
                    .unwrap_or_else(|| Thread::placeholder(tid))
            }
            Source::Capture => Thread::placeholder(tid),
        };
        t.flags |= tf::ACTIVE;
        // Threads of this tid's process already in the table.
        t.nchilds = self.threads.values().filter(|c| c.pid == tid && c.tid != tid).count() as u32;
        self.counters.threads_repaired += 1;
        self.add_thread(t);
        true
    }

    /// Adds a thread (libsinsp's `add_thread`): counted against the limit;
    /// a new thread of a process counts as a child of its main thread.
    fn add_thread(&mut self, t: Thread) -> bool {
        if self.threads.len() >= self.limits.max_threads && !self.threads.contains_key(&t.tid) {
            self.counters.thread_limit_hits += 1;
            return false;
        }
        if t.flags & tf::CLONE_THREAD != 0 && t.pid != t.tid {
            if !self.threads.contains_key(&t.pid) {
                self.get_or_create(t.pid);
            }
            if let Some(m) = self.threads.get_mut(&t.pid) {
                m.nchilds += 1;
            }
        }
        self.counters.threads_added += 1;
        if self.lookup.is_some() && !t.info.container_id.is_empty() {
            let info = t.info.clone();
            self.container_seen(&info, t.pid);
        }
        self.threads.insert(t.tid, t);
        true
    }

    /// Removes a thread (libsinsp's `remove_thread`): a main thread whose
    /// other threads are still alive stays (closed) until the last one
    /// goes, unless `force`.
    pub(crate) fn remove_thread(&mut self, tid: i64, force: bool) {
        let Some(t) = self.threads.get(&tid) else { return };
        if t.flags & tf::CLOSED != 0 {
            // An exited thread's children belong to a reaper from now on,
            // even when the thread itself stays for its process's others.
            self.reparent_children(tid);
        }
        let Some(t) = self.threads.get(&tid) else { return };
        let nchilds = t.nchilds;
        if nchilds != 0 && !force {
            return;
        }
        if t.flags & tf::CLONE_THREAD != 0 && t.pid != t.tid {
            let pid = t.pid;
            if let Some(m) = self.threads.get_mut(&pid)
                && m.nchilds > 0
            {
                m.nchilds -= 1;
                if m.nchilds == 0 && m.flags & tf::CLOSED != 0 {
                    self.pending_thread = Some(pid);
                }
            }
        }
        if let Some(t) = self.threads.remove(&tid) {
            self.counters.threads_removed += 1;
            self.counters.fds_removed += t.fds.len() as u64;
            if t.vpid == 1 && t.tid == t.pid && !t.info.container_id.is_empty() {
                self.container_exited(&t.info.container_id);
            }
        }
        if nchilds != 0 {
            // A main thread removed before its threads: recount every
            // process's threads (libsinsp's recreate_child_dependencies).
            self.recount_children();
        }
    }

    /// Gives the children of exited thread `tid` to their new parent, as
    /// the kernel does (and libsinsp after it), so that `proc.pname`,
    /// `proc.ppid` and `proc.aname` of orphans name their reaper: another
    /// live thread of the same process; else the reaper the procexit event
    /// named; else the nearest ancestor that made itself a child subreaper
    /// (below the pid namespace's init); else, live, the parent /proc shows
    /// (subreapers set before saker started); else the init of the pid
    /// namespace, or 0 when it cannot be known.
    ///
    /// One pass over the table per exit (no allocation); a second only
    /// when there are children to move.
    fn reparent_children(&mut self, tid: i64) {
        let Some(dead) = self.threads.get(&tid) else { return };
        let (pid, event_reaper, vpid) = (dead.pid, dead.reaper_tid, dead.vpid);
        let mut first_child = None;
        let mut sibling = None;
        for t in self.threads.values() {
            if t.ptid == tid && t.tid != tid && first_child.is_none() {
                first_child = Some(t.tid);
            }
            if t.pid == pid && t.tid != tid && t.flags & tf::CLOSED == 0 && sibling.is_none() {
                sibling = Some(t.tid);
            }
        }
        let Some(first_child) = first_child else { return };
        let reaper = sibling
            .or_else(|| (event_reaper > 0 && event_reaper != tid).then_some(event_reaper))
            .unwrap_or_else(|| self.find_reaper(tid, pid, vpid, first_child));
        for t in self.threads.values_mut() {
            if t.ptid == tid && t.tid != tid {
                t.ptid = reaper;
            }
        }
        self.counters.threads_reparented += 1;
    }

    /// The reaper of the orphans of `tid` (of process `pid`) when neither
    /// its process nor its exit event names one; see `reparent_children`.
    fn find_reaper(&self, tid: i64, pid: i64, vpid: i64, child: i64) -> i64 {
        // The kernel starts at the process's parent and stays in its pid
        // namespace: the walk ends at the namespace's init (vpid 1).
        let mut ns_init = None;
        let start = self.threads.get(&pid).map_or(tid, |m| m.tid);
        for a in self.ancestors(start) {
            let main = self.threads.get(&a.pid).unwrap_or(a);
            if a.vpid == 1 || a.tid == 1 {
                ns_init = Some(a.tid);
                break;
            }
            if main.child_subreaper && main.flags & tf::CLOSED == 0 {
                return main.tid;
            }
        }
        if let Source::Live(root) = &self.source
            && let Some(p) = crate::proc::read_ppid(root, child)
            && p > 0
            && p != tid
            && p != pid
        {
            return p;
        }
        match ns_init {
            Some(i) => i,
            // Outside any pid namespace (vpid = pid, or unknown), init is 1.
            None if vpid <= 0 || vpid == pid => 1,
            None => 0,
        }
    }

    /// Recomputes each main thread's count of other threads.
    pub(crate) fn recount_children(&mut self) {
        let mut pids = Vec::new();
        for t in self.threads.values_mut() {
            t.nchilds = 0;
            if t.flags & tf::CLONE_THREAD != 0 && t.pid != t.tid {
                pids.push(t.pid);
            }
        }
        for pid in pids {
            if let Some(m) = self.threads.get_mut(&pid) {
                m.nchilds += 1;
            }
        }
    }

    /// Adds fd `fd` to `tid`'s process (libsinsp's `sinsp_fdtable::add`):
    /// replaces an existing one; a new fd over one whose close is in
    /// progress cancels that close.
    fn add_fd(&mut self, tid: i64, fd: i64, mut new: Fd) -> bool {
        // A new fd with a name was named by this event (not a bare socket
        // or pipe).
        if !new.name.is_empty() {
            new.renamed_at = self.counters.events;
        }
        let Some(m) = self.main_tid(tid) else { return false };
        let max = self.limits.max_fds_per_process;
        let t = self.threads.get_mut(&m).unwrap();
        if let Some(old) = t.fds.map.get_mut(&fd) {
            if old.flags & fd_flags::CLOSE_IN_PROGRESS != 0 {
                new.flags &= !fd_flags::CLOSE_IN_PROGRESS;
                new.flags |= fd_flags::CLOSE_CANCELED;
                self.any_close_canceled = true;
                let old = old.clone();
                t.fds.map.insert(CANCELED_FD, old);
            }
            t.fds.map.insert(fd, new);
            true
        } else if t.fds.map.len() < max {
            t.fds.map.insert(fd, new);
            self.counters.fds_added += 1;
            true
        } else {
            self.counters.fd_limit_hits += 1;
            false
        }
    }

    fn fd_mut(&mut self, tid: i64, fd: i64) -> Option<&mut Fd> {
        let m = self.main_tid(tid)?;
        self.threads.get_mut(&m)?.fds.map.get_mut(&fd)
    }

    /// Schedules the removal of fd `fd` of `tid`'s process at the next event.
    fn erase_fd_later(&mut self, tid: i64, fd: i64) {
        if self.pending_fds.0 != tid && !self.pending_fds.1.is_empty() {
            self.flush_fds_now();
        }
        self.pending_fds.0 = tid;
        self.pending_fds.1.push(fd);
    }

    fn flush_fds_now(&mut self) {
        let pending = self.pending_thread.take();
        self.flush_pending();
        self.pending_thread = pending;
    }

    /// An exit event on an fd whose close was canceled drops the saved
    /// (closed) entry, as libsinsp's `reset` does.
    fn check_close_canceled(&mut self, cx: &Ctx<'_, '_>) {
        let Some(f) = cx.fd else { return };
        let canceled = self.fd_mut(cx.tid, f).is_some_and(|fd| {
            let c = fd.flags & fd_flags::CLOSE_CANCELED != 0;
            fd.flags &= !fd_flags::CLOSE_CANCELED;
            c
        });
        if canceled {
            self.erase_fd_later(cx.tid, CANCELED_FD);
        }
    }

    /// Sets the working directory of `tid`'s process (relative paths are
    /// resolved against the current one; the result ends in `/`).
    fn set_cwd(&mut self, tid: i64, path: &[u8]) {
        let Some(m) = self.main_tid(tid) else { return };
        let mut buf = std::mem::take(&mut self.scratch);
        let t = self.threads.get_mut(&m).unwrap();
        concat_paths(&mut buf, &t.cwd, path);
        if buf.last() != Some(&b'/') {
            buf.push(b'/');
        }
        if *t.cwd != *buf {
            t.cwd = new_str(&buf);
        }
        self.scratch = buf;
    }

    /// The directory a path relative to `dirfd` starts from (libsinsp's
    /// `parse_dirfd`).
    fn dirfd_base(&self, tid: i64, path: &[u8], dirfd: i64) -> Vec<u8> {
        if path.first() == Some(&b'/') {
            b".".to_vec()
        } else if dirfd == -100 {
            self.cwd(tid).unwrap_or(b"").to_vec()
        } else {
            match self.fd(tid, dirfd) {
                Some(f) => {
                    let mut d = f.name.to_vec();
                    d.push(b'/');
                    d
                }
                None => b"<UNKNOWN>".to_vec(),
            }
        }
    }

    /// Fills in the missing address of a datagram socket from the
    /// interfaces (libsinsp's `sinsp_network_interfaces::update_fd`).
    pub(crate) fn infer_ipv4(&self, fd: &mut Fd) {
        if fd.ty != FdType::Ipv4Socket {
            return;
        }
        let sip = u32::from_le_bytes(fd.sock.v4_sip());
        let dip = u32::from_le_bytes(fd.sock.v4_dip());
        if sip != 0 && dip != 0 {
            return;
        }
        let same_ports = fd.sock.v4_sport() == fd.sock.v4_dport();
        if sip == 0 {
            let new = self.infer_ipv4_address(dip);
            if new == dip && same_ports {
                return;
            }
            fd.sock.set_v4_sip(new.to_le_bytes());
        } else {
            let new = self.infer_ipv4_address(sip);
            if new == sip && same_ports {
                return;
            }
            fd.sock.set_v4_dip(new.to_le_bytes());
        }
    }

    fn infer_ipv4_address(&self, dest: u32) -> u32 {
        if let Some(i) = self.ipv4_ifs.iter().find(|i| i.addr == dest) {
            return i.addr;
        }
        if let Some(i) = self.ipv4_ifs.iter().find(|i| i.addr & i.netmask == dest & i.netmask) {
            return i.addr;
        }
        const LOOPBACK: u32 = 0x0100_007f;
        self.ipv4_ifs.iter().find(|i| i.addr != LOOPBACK).map_or(0, |i| i.addr)
    }

    fn infer_ipv6(&self, fd: &mut Fd) {
        if fd.ty != FdType::Ipv6Socket {
            return;
        }
        let (sip, dip) = (fd.sock.v6_sip(), fd.sock.v6_dip());
        let empty = [0u8; 16];
        if sip != empty && dip != empty {
            return;
        }
        let same_ports = fd.sock.v6_sport() == fd.sock.v6_dport();
        let known = if sip == empty { dip } else { sip };
        let new = self.infer_ipv6_address(&known);
        if new == known && same_ports {
            return;
        }
        if sip == empty {
            fd.sock.set_v6_sip(new);
        } else {
            fd.sock.set_v6_dip(new);
        }
    }

    /// libsinsp's `infer_ipv6_address`: an interface with this address, then
    /// one in the same /64, then the first that is not loopback.
    fn infer_ipv6_address(&self, dest: &[u8; 16]) -> [u8; 16] {
        if let Some(a) = self.ipv6_ifs.iter().find(|a| *a == dest) {
            return *a;
        }
        if let Some(a) = self.ipv6_ifs.iter().find(|a| a[..8] == dest[..8]) {
            return *a;
        }
        let mut lo = [0u8; 16];
        lo[15] = 1;
        self.ipv6_ifs.iter().find(|a| **a != lo).copied().unwrap_or([0; 16])
    }
}

fn parse_open_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if !cx.known {
        return;
    }
    let ev = cx.ev;
    let Some(fd) = pi64(ev, 0) else { return };
    let tid = cx.tid;
    let mut dev = 0u32;
    let (name, flags, base): (&[u8], u32, Vec<u8>);
    let usable = |n: &[u8]| !n.is_empty() && n != b"(NULL)";
    match cx.ty {
        t::OPEN_X | t::CREAT_X => {
            let is_open = cx.ty == t::OPEN_X;
            let mut n = pstr(ev, 1).unwrap_or(b"");
            let mut f = if is_open { pu64(ev, 2).unwrap_or(0) as u32 } else { 0 };
            let dev_idx = if is_open { 4 } else { 3 };
            if ev.nparams() as usize > dev_idx {
                dev = pu64(ev, dev_idx).unwrap_or(0) as u32;
            }
            if let Some(e) = &cx.enter {
                let en = pstr(e, 0).unwrap_or(b"");
                if e.nparams() >= if is_open { 2 } else { 1 } && usable(en) {
                    n = en;
                    f = if is_open { pu64(e, 1).unwrap_or(0) as u32 } else { 0 };
                }
            }
            name = n;
            flags = f;
            base = s.cwd(tid).unwrap_or(b"").to_vec();
        }
        t::OPENAT_X => {
            let Some(e) = &cx.enter else {
                s.counters.missing_enter_events += 1;
                return;
            };
            name = pstr(e, 1).unwrap_or(b"");
            flags = pu64(e, 2).unwrap_or(0) as u32;
            let dirfd = pi64(e, 0).unwrap_or(-100);
            base = s.dirfd_base(tid, name, dirfd);
        }
        t::OPENAT_2_X | t::OPENAT2_X => {
            let mut n = pstr(ev, 2).unwrap_or(b"");
            let mut f = pu64(ev, 3).unwrap_or(0) as u32;
            let mut dirfd = pi64(ev, 1).unwrap_or(-100);
            let dev_idx = if cx.ty == t::OPENAT_2_X { 5 } else { 6 };
            if ev.nparams() as usize > dev_idx {
                dev = pu64(ev, dev_idx).unwrap_or(0) as u32;
            }
            if let Some(e) = &cx.enter {
                let en = pstr(e, 1).unwrap_or(b"");
                if e.nparams() >= 3 && usable(en) {
                    n = en;
                    f = pu64(e, 2).unwrap_or(0) as u32;
                    dirfd = pi64(e, 0).unwrap_or(-100);
                }
            }
            name = n;
            flags = f;
            base = s.dirfd_base(tid, name, dirfd);
        }
        t::OPEN_BY_HANDLE_AT_X => {
            name = pstr(ev, 3).unwrap_or(b"");
            flags = pu64(ev, 2).unwrap_or(0) as u32;
            dev = pu64(ev, 4).unwrap_or(0) as u32;
            base = Vec::new();
        }
        _ => return,
    }
    if fd < 0 {
        return;
    }
    let mut full = std::mem::take(&mut s.scratch);
    concat_paths(&mut full, &base, name);
    let mut f = Fd::new(if flags & PPM_O_DIRECTORY != 0 { FdType::Directory } else { FdType::File }, new_str(&full));
    // The raw path costs nothing more when it is the absolute name.
    f.name_raw = if *full == *name { f.name.clone() } else { new_str(name) };
    s.scratch = full;
    f.open_flags = flags;
    f.dev = dev;
    if let Some(ino) = match cx.ty {
        t::OPEN_X => pu64(ev, 5),
        t::CREAT_X => pu64(ev, 4),
        t::OPENAT_2_X => pu64(ev, 6),
        t::OPENAT2_X => pu64(ev, 7),
        t::OPEN_BY_HANDLE_AT_X => pu64(ev, 5),
        _ => None,
    } {
        f.ino = ino;
    }
    if flags & PPM_O_CLOEXEC != 0 {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(tid, fd, f);
}

/// A socket fd as libsinsp's `add_socket` makes it; `None` for families
/// it does not track.
fn new_socket(domain: u64, ty: u64, proto: u64) -> Option<Fd> {
    const SOCK_STREAM: u64 = 1;
    const SOCK_DGRAM: u64 = 2;
    const SOCK_RAW: u64 = 3;
    let mut f = Fd::default();
    match domain as u8 {
        _ if domain == PPM_AF_UNIX as u64 => f.ty = FdType::UnixSocket,
        _ if domain == PPM_AF_INET as u64 || domain == PPM_AF_INET6 as u64 => {
            let p = match proto {
                6 => {
                    if ty == SOCK_RAW {
                        l4::RAW
                    } else {
                        l4::TCP
                    }
                }
                17 => {
                    if ty == SOCK_RAW {
                        l4::RAW
                    } else {
                        l4::UDP
                    }
                }
                0 => match ty & 0xff {
                    SOCK_STREAM => l4::TCP,
                    SOCK_DGRAM => l4::UDP,
                    _ => l4::UNKNOWN,
                },
                1 => {
                    if ty == SOCK_RAW {
                        l4::RAW
                    } else {
                        l4::ICMP
                    }
                }
                255 => l4::RAW,
                _ => l4::UNKNOWN,
            };
            if domain == PPM_AF_INET as u64 {
                f.ty = FdType::Ipv4Socket;
                f.sock.set_v4_l4(p);
            } else {
                f.ty = FdType::Ipv6Socket;
                f.sock.set_v6_l4(p);
            }
        }
        _ if domain == PPM_AF_NETLINK => f.ty = FdType::Netlink,
        _ => return None,
    }
    if ty & SOCK_CLOEXEC != 0 {
        f.flags |= fd_flags::CLOEXEC;
    }
    Some(f)
}

fn parse_socket_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fd) = pi64(cx.ev, 0) else { return };
    if fd < 0 || !cx.known {
        return;
    }
    let args = match (pu64(cx.ev, 1), pu64(cx.ev, 2), pu64(cx.ev, 3)) {
        (Some(d), Some(t), Some(p)) => Some((d, t, p)),
        _ => cx.enter.as_ref().and_then(|e| Some((pu64(e, 0)?, pu64(e, 1)?, pu64(e, 2)?))),
    };
    let Some((domain, ty, proto)) = args else {
        s.counters.missing_enter_events += 1;
        return;
    };
    if let Some(mut f) = new_socket(domain, ty, proto) {
        if pu64(cx.ev, 4).is_some_and(|fl| fl as u32 & PPM_O_CLOEXEC != 0) {
            f.flags |= fd_flags::CLOEXEC;
        }
        s.add_fd(cx.tid, fd, f);
    }
}

/// `a.b.c.d:port`, `ipv6:port` or the unix path of a sockaddr parameter,
/// as libsinsp renders it (`get_param_as_str`).
fn sockaddr_text(b: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    let Some((&fam, rest)) = b.split_first() else { return };
    match fam {
        PPM_AF_INET if rest.len() >= 6 => {
            util::push_ipv4(out, rest[..4].try_into().unwrap());
            let _ = write!(out, ":{}", u16::from_le_bytes([rest[4], rest[5]]));
        }
        PPM_AF_INET6 if rest.len() >= 18 => {
            util::push_ipv6(out, rest[..16].try_into().unwrap());
            let _ = write!(out, ":{}", u16::from_le_bytes([rest[16], rest[17]]));
        }
        PPM_AF_UNIX => {
            let path = rest.split(|&c| c == 0).next().unwrap_or(b"");
            out.extend(path.iter().copied().filter(|c| (0x20..0x7f).contains(c)));
        }
        _ => {}
    }
}

/// The text of a socktuple parameter (`get_param_as_str`).
fn socktuple_text(b: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    let Some((&fam, rest)) = b.split_first() else { return };
    match fam {
        PPM_AF_INET if rest.len() >= 12 => {
            util::push_ipv4(out, rest[..4].try_into().unwrap());
            let _ = write!(out, ":{}->", u16::from_le_bytes([rest[4], rest[5]]));
            util::push_ipv4(out, rest[6..10].try_into().unwrap());
            let _ = write!(out, ":{}", u16::from_le_bytes([rest[10], rest[11]]));
        }
        PPM_AF_INET6 if rest.len() >= 36 => {
            let (s, d) = (&rest[..16], &rest[18..34]);
            let (sp, dp) = (u16::from_le_bytes([rest[16], rest[17]]), u16::from_le_bytes([rest[34], rest[35]]));
            if is_v4_mapped(s) && is_v4_mapped(d) {
                util::push_ipv4(out, s[12..16].try_into().unwrap());
                let _ = write!(out, ":{sp}->");
                util::push_ipv4(out, d[12..16].try_into().unwrap());
                let _ = write!(out, ":{dp}");
            } else {
                util::push_ipv6(out, s.try_into().unwrap());
                let _ = write!(out, ":{sp}->");
                util::push_ipv6(out, d.try_into().unwrap());
                let _ = write!(out, ":{dp}");
            }
        }
        PPM_AF_UNIX if rest.len() >= 16 => {
            let src = u64::from_le_bytes(rest[..8].try_into().unwrap());
            let dst = u64::from_le_bytes(rest[8..16].try_into().unwrap());
            let _ = write!(out, "{src:x}->{dst:x} ");
            let path = rest[16..].split(|&c| c == 0).next().unwrap_or(b"");
            out.extend(path.iter().copied().filter(|c| (0x20..0x7f).contains(c)));
        }
        _ => {}
    }
}

/// libsinsp's `set_unix_info`: source and destination from the 16 bytes
/// after the family byte (zero-padded).
fn set_unix_info(f: &mut Fd, packed: &[u8]) {
    let mut b = [0u8; 16];
    let n = packed.len().saturating_sub(1).min(16);
    b[..n].copy_from_slice(&packed[1..1 + n]);
    f.sock.set_unix(u64::from_le_bytes(b[..8].try_into().unwrap()), u64::from_le_bytes(b[8..].try_into().unwrap()));
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn parse_bind_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fdn) = cx.fd else { return };
    if pi64(cx.ev, 0).is_none_or(|r| r < 0) {
        return;
    }
    let Some(addr) = pbytes(cx.ev, 1) else { return };
    let mut name = std::mem::take(&mut s.scratch);
    sockaddr_text(addr, &mut name);
    if let Some(f) = s.fd_mut(cx.tid, fdn) {
        match addr[0] {
            PPM_AF_INET if addr.len() >= 7 => {
                let ip: [u8; 4] = addr[1..5].try_into().unwrap();
                let port = u16_at(addr, 5);
                if port > 0 {
                    let l4 = f.sock.v4_l4();
                    f.ty = FdType::Ipv4Server;
                    f.sock.set_v4srv(ip, port, l4);
                    f.set_role_server();
                }
            }
            PPM_AF_INET6 if addr.len() >= 19 => {
                let ip: [u8; 16] = addr[1..17].try_into().unwrap();
                let port = u16_at(addr, 17);
                if port > 0 {
                    let l4 = f.sock.v6_l4();
                    if is_v4_mapped(&ip) {
                        f.ty = FdType::Ipv4Server;
                        f.sock.set_v4srv(ip[12..].try_into().unwrap(), port, l4);
                    } else {
                        f.ty = FdType::Ipv6Server;
                        f.sock.set_v6srv(ip, port, l4);
                    }
                    f.set_role_server();
                }
            }
            _ => {}
        }
        let renamed = new_str(&name);
        if *f.name != *renamed {
            f.renamed_at = cx.num;
        }
        f.name = renamed;
    }
    s.scratch = name;
}

fn parse_connect_enter(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fdn) = cx.fd else { return };
    let Some(addr) = pbytes(cx.ev, 1) else { return };
    let mut name = std::mem::take(&mut s.scratch);
    if let Some(f) = s.fd_mut(cx.tid, fdn) {
        match addr[0] {
            PPM_AF_INET if addr.len() >= 7 => {
                f.ty = FdType::Ipv4Socket;
                f.sock.set_v4_dip(addr[1..5].try_into().unwrap());
                f.sock.set_v4_dport(u16_at(addr, 5));
            }
            PPM_AF_INET6 if addr.len() >= 19 => {
                let ip: [u8; 16] = addr[1..17].try_into().unwrap();
                let port = u16_at(addr, 17);
                if is_v4_mapped(&ip) {
                    f.ty = FdType::Ipv4Socket;
                    f.sock.set_v4_dip(ip[12..].try_into().unwrap());
                    f.sock.set_v4_dport(port);
                } else {
                    f.ty = FdType::Ipv6Socket;
                    f.sock.set_v6_dip(ip);
                    f.sock.set_v6_dport(port);
                }
            }
            PPM_AF_INET | PPM_AF_INET6 => {}
            _ => {
                sockaddr_text(addr, &mut name);
                let renamed = new_str(&name);
                if *f.name != *renamed {
                    f.renamed_at = cx.num;
                }
                f.name = renamed;
                set_unix_info(f, addr);
            }
        }
    }
    s.scratch = name;
}

/// libsinsp's `update_ipv4_addresses_and_ports`: true if the tuple changed.
fn update_v4(f: &mut Fd, sip: [u8; 4], sport: u16, dip: [u8; 4], dport: u16) -> bool {
    let k = &f.sock;
    if f.ty == FdType::Ipv4Socket
        && ((sip == k.v4_sip() && sport == k.v4_sport() && dip == k.v4_dip() && dport == k.v4_dport())
            || (dip == k.v4_sip() && dport == k.v4_sport() && sip == k.v4_dip() && sport == k.v4_dport()))
    {
        return false;
    }
    let mut changed = false;
    if f.sock.v4_sip() != sip {
        f.sock.set_v4_sip(sip);
        changed = true;
    }
    if f.sock.v4_sport() != sport {
        f.sock.set_v4_sport(sport);
        changed = true;
    }
    if f.sock.v4_dip() == [0; 4] {
        f.sock.set_v4_dip(dip);
        changed = true;
    }
    if f.sock.v4_dport() == 0 {
        f.sock.set_v4_dport(dport);
        changed = true;
    }
    changed
}

/// libsinsp's `set_ipv6_addresses_and_ports`.
fn update_v6(f: &mut Fd, t: &[u8]) -> bool {
    let sip: [u8; 16] = t[1..17].try_into().unwrap();
    let sport = u16_at(t, 17);
    let dip: [u8; 16] = t[19..35].try_into().unwrap();
    let dport = u16_at(t, 35);
    let k = &f.sock;
    if f.ty == FdType::Ipv6Socket
        && ((sip == k.v6_sip() && sport == k.v6_sport() && dip == k.v6_dip() && dport == k.v6_dport())
            || (dip == k.v6_sip() && dport == k.v6_sport() && sip == k.v6_dip() && sport == k.v6_dport()))
    {
        return false;
    }
    let mut changed = false;
    if f.sock.v6_sip() != sip {
        f.sock.set_v6_sip(sip);
        changed = true;
    }
    if f.sock.v6_sport() != sport {
        f.sock.set_v6_sport(sport);
        changed = true;
    }
    if f.sock.v6_dip() == [0; 16] {
        f.sock.set_v6_dip(dip);
        changed = true;
    }
    if f.sock.v6_dport() == 0 {
        f.sock.set_v6_dport(dport);
        changed = true;
    }
    changed
}

fn v4_of_tuple(t: &[u8]) -> ([u8; 4], u16, [u8; 4], u16) {
    (t[1..5].try_into().unwrap(), u16_at(t, 5), t[7..11].try_into().unwrap(), u16_at(t, 11))
}

fn v4_of_mapped_tuple(t: &[u8]) -> ([u8; 4], u16, [u8; 4], u16) {
    (t[13..17].try_into().unwrap(), u16_at(t, 17), t[31..35].try_into().unwrap(), u16_at(t, 35))
}

fn swap_addresses(f: &mut Fd) {
    if f.ty == FdType::Ipv4Socket {
        let (sip, sport, dip, dport) = (f.sock.v4_sip(), f.sock.v4_sport(), f.sock.v4_dip(), f.sock.v4_dport());
        f.sock.set_v4(dip, dport, sip, sport);
    } else {
        let (sip, sport, dip, dport) = (f.sock.v6_sip(), f.sock.v6_sport(), f.sock.v6_dip(), f.sock.v6_dport());
        f.sock.set_v6_sip(dip);
        f.sock.set_v6_sport(dport);
        f.sock.set_v6_dip(sip);
        f.sock.set_v6_dport(sport);
    }
}

fn tuple_ok(t: &[u8]) -> bool {
    match t.first() {
        Some(&PPM_AF_INET) => t.len() >= 13,
        Some(&PPM_AF_INET6) => t.len() >= 37,
        Some(&PPM_AF_UNIX) => t.len() >= 17,
        _ => false,
    }
}

fn parse_connect_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fdn) = cx.fd else { return };
    let Some(res) = pi64(cx.ev, 0) else { return };
    if res < 0 && res != EINPROGRESS {
        return;
    }
    let Some(f) = s.fd_mut(cx.tid, fdn) else { return };
    f.flags |= fd_flags::CONNECTED;
    let Some(tuple) = pbytes(cx.ev, 1).filter(|t| tuple_ok(t)) else { return };
    let mut name = std::mem::take(&mut s.scratch);
    let f = s.fd_mut(cx.tid, fdn).unwrap();
    match tuple[0] {
        PPM_AF_INET | PPM_AF_INET6 => {
            let changed = if tuple[0] == PPM_AF_INET6 {
                if !(is_v4_mapped(&tuple[1..17]) && is_v4_mapped(&tuple[19..35])) {
                    f.ty = FdType::Ipv6Socket;
                    update_v6(f, tuple)
                } else {
                    f.ty = FdType::Ipv4Socket;
                    let (a, b, c, d) = v4_of_mapped_tuple(tuple);
                    update_v4(f, a, b, c, d)
                }
            } else {
                f.ty = FdType::Ipv4Socket;
                let (a, b, c, d) = v4_of_tuple(tuple);
                update_v4(f, a, b, c, d)
            };
            if changed && f.is_role_server() && f.sock.v4_l4() == l4::UDP {
                swap_addresses(f);
            }
            f.sockinfo_name(&mut name);
            let renamed = new_str(&name);
            if *f.name != *renamed {
                f.renamed_at = cx.num;
            }
            f.name = renamed;
        }
        _ => {
            socktuple_text(tuple, &mut name);
            let renamed = new_str(&name);
            if *f.name != *renamed {
                f.renamed_at = cx.num;
            }
            f.name = renamed;
            set_unix_info(f, tuple);
        }
    }
    if f.is_role_none() {
        f.set_role_client();
    }
    s.scratch = name;
}

fn parse_accept_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if !cx.known {
        return;
    }
    let Some(fd) = pi64(cx.ev, 0) else { return };
    if fd < 0 {
        return;
    }
    if let Some(t) = s.threads.get_mut(&cx.tid) {
        t.last.fd = fd;
    }
    let Some(tuple) = pbytes(cx.ev, 1).filter(|t| tuple_ok(t)) else { return };
    let mut f = Fd::default();
    match tuple[0] {
        PPM_AF_INET => {
            let (a, b, c, d) = v4_of_tuple(tuple);
            update_v4(&mut f, a, b, c, d);
            f.ty = FdType::Ipv4Socket;
            f.sock.set_v4_l4(l4::TCP);
        }
        PPM_AF_INET6 => {
            if is_v4_mapped(&tuple[1..17]) && is_v4_mapped(&tuple[19..35]) {
                let (a, b, c, d) = v4_of_mapped_tuple(tuple);
                update_v4(&mut f, a, b, c, d);
                f.ty = FdType::Ipv4Socket;
                f.sock.set_v4_l4(l4::TCP);
            } else {
                update_v6(&mut f, tuple);
                f.ty = FdType::Ipv6Socket;
                f.sock.set_v6_l4(l4::TCP);
            }
        }
        PPM_AF_UNIX => {
            f.ty = FdType::UnixSocket;
            set_unix_info(&mut f, tuple);
        }
        _ => return,
    }
    let mut name = std::mem::take(&mut s.scratch);
    socktuple_text(tuple, &mut name);
    let renamed = new_str(&name);
    if *f.name != *renamed {
        f.renamed_at = cx.num;
    }
    f.name = renamed;
    s.scratch = name;
    f.flags = fd_flags::ROLE_SERVER | fd_flags::CONNECTED;
    let flags = match cx.ty {
        t::ACCEPT4_6_X => pu64(cx.ev, 5),
        t::ACCEPT4_X | t::ACCEPT4_5_X => cx.enter.as_ref().and_then(|e| pu64(e, 0)),
        _ => None,
    };
    if flags.is_some_and(|fl| fl & SOCK_CLOEXEC != 0) {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(cx.tid, fd, f);
}

fn parse_close_enter(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if let Some(fdn) = cx.fd
        && let Some(f) = s.fd_mut(cx.tid, fdn)
    {
        f.flags |= fd_flags::CLOSE_IN_PROGRESS;
    }
}

fn parse_close_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(res) = pi64(cx.ev, 0) else { return };
    let Some(fdn) = cx.fd else { return };
    let Some(f) = s.fd_mut(cx.tid, fdn) else { return };
    if res >= 0 {
        if f.flags & fd_flags::CLOSE_CANCELED != 0 {
            f.flags &= !fd_flags::CLOSE_CANCELED;
            s.erase_fd_later(cx.tid, CANCELED_FD);
        } else {
            s.erase_fd_later(cx.tid, fdn);
        }
    } else {
        f.flags &= !fd_flags::CLOSE_IN_PROGRESS;
    }
}

fn parse_pipe_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if pi64(cx.ev, 0).is_none_or(|r| r < 0) || !cx.known {
        return;
    }
    let (Some(fd1), Some(fd2)) = (pi64(cx.ev, 1), pi64(cx.ev, 2)) else { return };
    let ino = pu64(cx.ev, 3).unwrap_or(0);
    let cloexec = cx.ty == t::PIPE2_X && pu64(cx.ev, 4).unwrap_or(0) as u32 & PPM_O_CLOEXEC != 0;
    for fd in [fd1, fd2] {
        let mut f = Fd::new(FdType::Fifo, empty_str());
        f.ino = ino;
        if cloexec {
            f.flags |= fd_flags::CLOEXEC;
        }
        s.add_fd(cx.tid, fd, f);
    }
}

fn parse_socketpair_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if pi64(cx.ev, 0).is_none_or(|r| r < 0) || !cx.known {
        return;
    }
    let (Some(fd1), Some(fd2)) = (pi64(cx.ev, 1), pi64(cx.ev, 2)) else { return };
    let mut f = Fd::new(FdType::UnixSocket, empty_str());
    f.sock.set_unix(pu64(cx.ev, 3).unwrap_or(0), pu64(cx.ev, 4).unwrap_or(0));
    let ty = pu64(cx.ev, 6).or_else(|| cx.enter.as_ref().and_then(|e| pu64(e, 1)));
    if ty.is_some_and(|t| t & SOCK_CLOEXEC != 0) {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(cx.tid, fd1, f.clone());
    s.add_fd(cx.tid, fd2, f);
}

fn single_fd_exit(s: &mut State, cx: &mut Ctx<'_, '_>, ty: FdType, cloexec: bool) {
    if !cx.known {
        return;
    }
    let Some(fd) = pi64(cx.ev, 0) else { return };
    if fd < 0 {
        return;
    }
    let mut f = Fd::new(ty, empty_str());
    if cloexec {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(cx.tid, fd, f);
}

fn parse_memfd_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fd) = pi64(cx.ev, 0).filter(|&f| f >= 0) else { return };
    if !cx.known {
        return;
    }
    let mut name = b"memfd:".to_vec();
    name.extend_from_slice(pstr(cx.ev, 1).unwrap_or(b""));
    let mut f = Fd::new(FdType::Memfd, new_str(&name));
    let flags = pu64(cx.ev, 2).unwrap_or(0);
    f.open_flags = flags as u32;
    if flags & 1 != 0 {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(cx.tid, fd, f);
}

fn parse_pidfd_open_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fd) = pi64(cx.ev, 0).filter(|&f| f >= 0) else { return };
    if !cx.known {
        return;
    }
    let pid = pi64(cx.ev, 1).unwrap_or(-1);
    let mut f = Fd::new(FdType::Pidfd, new_str(format!("pidfd:{pid}").as_bytes()));
    // The target pid, for pidfd_getfd.
    f.ino = pid as u64;
    // pidfd_open only accepts PIDFD_NONBLOCK; pidfds are always close-on-exec.
    f.flags |= fd_flags::CLOEXEC;
    s.add_fd(cx.tid, fd, f);
}

fn parse_pidfd_getfd_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let Some(fd) = pi64(cx.ev, 0).filter(|&f| f >= 0) else { return };
    let (Some(pidfd), Some(target)) = (pi64(cx.ev, 1), pi64(cx.ev, 2)) else { return };
    let Some(pid) = s.fd(cx.tid, pidfd).filter(|f| f.ty == FdType::Pidfd).map(|f| f.ino as i64) else { return };
    let Some(mut f) = s.fd(pid, target).cloned() else { return };
    // The new fd is always close-on-exec.
    f.flags = (f.flags & !(fd_flags::CLOSE_IN_PROGRESS | fd_flags::CLOSE_CANCELED)) | fd_flags::CLOEXEC;
    s.add_fd(cx.tid, fd, f);
}

fn parse_dup_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if !cx.known {
        return;
    }
    let Some(res) = pi64(cx.ev, 0) else { return };
    if res < 0 {
        return;
    }
    if let Some(t) = s.threads.get_mut(&cx.tid) {
        if res == 0 {
            t.flags |= tf::PIPE_DST;
        }
        if res == 1 {
            t.flags |= tf::PIPE_SRC;
        }
    }
    let Some(old) = cx.fd.and_then(|f| s.fd(cx.tid, f)) else { return };
    let mut f = old.clone();
    f.flags &= !(fd_flags::CLOEXEC | fd_flags::CLOSE_IN_PROGRESS | fd_flags::CLOSE_CANCELED);
    if cx.ty == t::DUP3_X && pu64(cx.ev, 3).is_some_and(|fl| fl as u32 & PPM_O_CLOEXEC != 0) {
        f.flags |= fd_flags::CLOEXEC;
    }
    s.add_fd(cx.tid, res, f);
}

fn parse_fcntl_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    const F_DUPFD: u64 = 1;
    const F_SETFD: u64 = 3;
    const F_DUPFD_CLOEXEC: u64 = 26;
    let Some(res) = pi64(cx.ev, 0) else { return };
    let cmd = pu64(cx.ev, 2).or_else(|| cx.enter.as_ref().and_then(|e| pu64(e, 1)));
    let Some(cmd) = cmd else { return };
    if res < 0 {
        return;
    }
    let Some(fdn) = cx.fd else { return };
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let Some(old) = s.fd(cx.tid, fdn) else { return };
            let mut f = old.clone();
            f.flags &= !(fd_flags::CLOEXEC | fd_flags::CLOSE_IN_PROGRESS | fd_flags::CLOSE_CANCELED);
            if cmd == F_DUPFD_CLOEXEC {
                f.flags |= fd_flags::CLOEXEC;
            }
            s.add_fd(cx.tid, res, f);
        }
        F_SETFD => {
            if let Some(arg) = pu64(cx.ev, 3)
                && let Some(f) = s.fd_mut(cx.tid, fdn)
            {
                if arg & 1 != 0 {
                    f.flags |= fd_flags::CLOEXEC;
                } else {
                    f.flags &= !fd_flags::CLOEXEC;
                }
            }
        }
        _ => {}
    }
}

/// A datagram (or any socket read/write with an address): libsinsp's
/// `parse_rw_exit` tuple update, which names UDP sockets after their peers.
fn parse_datagram_exit(s: &mut State, cx: &mut Ctx<'_, '_>, incoming: bool) {
    let Some(fdn) = cx.fd else { return };
    let Some(res) = pi64(cx.ev, 0) else { return };
    let Some(m) = s.main_tid(cx.tid) else { return };
    let Some(f) = s.threads.get_mut(&m).unwrap().fds.map.get_mut(&fdn) else { return };
    if res < 0 {
        return;
    }
    if matches!(f.ty, FdType::Ipv4Socket | FdType::Ipv6Socket) {
        f.flags |= fd_flags::CONNECTED;
    }
    let tcp = f.sock.v4_l4() == l4::TCP;
    if !f.name.is_empty() && tcp {
        return;
    }
    // Where the tuple is: in the exit (current versions), else in the enter.
    let tuple = match cx.ty {
        t::RECVFROM_X => pbytes(cx.ev, 2),
        t::RECVMSG_X => pbytes(cx.ev, 3),
        t::RECVMMSG_X | t::SENDMMSG_X => pbytes(cx.ev, 4),
        t::SENDTO_X | t::SENDMSG_X => pbytes(cx.ev, 4).or_else(|| {
            let e = cx.enter.as_ref()?;
            pbytes(e, 2)
        }),
        _ => None,
    };
    let Some(tuple) = tuple.filter(|t| tuple_ok(t)) else {
        if !incoming && cx.enter.is_none() && matches!(cx.ty, t::SENDTO_X | t::SENDMSG_X) {
            s.counters.missing_enter_events += 1;
        }
        return;
    };
    let mut name = std::mem::take(&mut s.scratch);
    if update_fd(s, m, fdn, tuple) {
        let t = s.threads.get(&m).unwrap();
        let f = &t.fds.map[&fdn];
        if matches!(f.ty, FdType::Ipv4Socket | FdType::Ipv6Socket) {
            let mut role = None;
            if f.is_role_none() {
                role = Some(guess_role(t, f, incoming));
            }
            let f = s.threads.get_mut(&m).unwrap().fds.map.get_mut(&fdn).unwrap();
            match role {
                Some(true) => f.set_role_server(),
                Some(false) => f.set_role_client(),
                None => {}
            }
            if (incoming && f.is_role_client()) || (!incoming && f.is_role_server()) {
                swap_addresses(f);
            }
            f.sockinfo_name(&mut name);
            let renamed = new_str(&name);
            if *f.name != *renamed {
                f.renamed_at = cx.num;
            }
            f.name = renamed;
        } else {
            socktuple_text(tuple, &mut name);
            let f = s.threads.get_mut(&m).unwrap().fds.map.get_mut(&fdn).unwrap();
            let renamed = new_str(&name);
            if *f.name != *renamed {
                f.renamed_at = cx.num;
            }
            f.name = renamed;
        }
    }
    s.scratch = name;
}

/// libsinsp's `set_net_role_by_guessing`: true for server.
fn guess_role(t: &Thread, f: &Fd, incoming: bool) -> bool {
    let dport = f.sock.v4_dport();
    let sport = f.sock.v4_sport();
    let bound = t.fds.map.values().any(|o| match o.ty {
        FdType::Ipv4Socket => o.sock.v4_dport() == dport,
        FdType::Ipv4Server => o.sock.v4srv_port() == dport,
        _ => false,
    });
    if !bound {
        return false;
    }
    let client_port = t.fds.map.values().any(|o| o.ty == FdType::Ipv4Socket && o.sock.v4_sport() == sport);
    if !client_port {
        return true;
    }
    // "wild-ass guess": a server usually starts with a read.
    incoming
}

/// libsinsp's `update_fd`: takes the tuple of a datagram into the fd
/// (changes of type and protocol stay even when the tuple is unchanged).
fn update_fd(s: &mut State, m: i64, fdn: i64, tuple: &[u8]) -> bool {
    let mut f = s.threads[&m].fds.map[&fdn].clone();
    let changed = update_fd_inner(s, &mut f, tuple);
    s.threads.get_mut(&m).unwrap().fds.map.insert(fdn, f);
    changed
}

fn update_fd_inner(s: &State, f: &mut Fd, tuple: &[u8]) -> bool {
    match tuple[0] {
        PPM_AF_INET => {
            if f.ty == FdType::Ipv4Server {
                let l = f.sock.v4srv_l4();
                f.sock.set_v4_l4(l);
            }
            f.ty = FdType::Ipv4Socket;
            let (a, b, c, d) = v4_of_tuple(tuple);
            if !update_v4(f, a, b, c, d) {
                return false;
            }
        }
        PPM_AF_INET6 => {
            if is_v4_mapped(&tuple[1..17]) && is_v4_mapped(&tuple[19..35]) {
                f.ty = FdType::Ipv4Socket;
                let (a, b, c, d) = v4_of_mapped_tuple(tuple);
                if !update_v4(f, a, b, c, d) {
                    return false;
                }
            } else if !update_v6(f, tuple) {
                return false;
            }
        }
        PPM_AF_UNIX => {
            f.ty = FdType::UnixSocket;
            set_unix_info(f, tuple);
            let path = tuple[17..].split(|&c| c == 0).next().unwrap_or(b"");
            f.name = new_str(path);
            return true;
        }
        _ => {}
    }
    if f.ty == FdType::Ipv4Socket && f.sock.v4_l4() == l4::UNKNOWN {
        f.sock.set_v4_l4(l4::UDP);
    } else if f.ty == FdType::Ipv6Socket && f.sock.v6_l4() == l4::UNKNOWN {
        f.sock.set_v6_l4(l4::UDP);
    }
    s.infer_ipv4(f);
    s.infer_ipv6(f);
    true
}

fn parse_chroot_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if pi64(cx.ev, 0) != Some(0) {
        return;
    }
    let Some(path) = pstr(cx.ev, 1) else { return };
    let root: Str = if path.first() == Some(&b'/') {
        new_str(path)
    } else {
        let mut buf = Vec::new();
        concat_paths(&mut buf, s.cwd(cx.tid).unwrap_or(b""), path);
        new_str(&buf)
    };
    if let Some(t) = s.threads.get_mut(&cx.tid) {
        Arc::make_mut(&mut t.info).root = root;
    }
}

fn parse_setid_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    if pi64(cx.ev, 0).is_none_or(|r| r < 0) {
        return;
    }
    let e = cx.enter.as_ref();
    // (value, is_gid): the new effective id from the exit (current
    // versions) or the enter event.
    let new = match cx.ty {
        t::SETUID_X => pu64(cx.ev, 1).or_else(|| e.and_then(|e| pu64(e, 0))).map(|v| (v, false)),
        t::SETGID_X => pu64(cx.ev, 1).or_else(|| e.and_then(|e| pu64(e, 0))).map(|v| (v, true)),
        t::SETRESUID_X => pu64(cx.ev, 2).or_else(|| e.and_then(|e| pu64(e, 1))).map(|v| (v, false)),
        t::SETRESGID_X => pu64(cx.ev, 2).or_else(|| e.and_then(|e| pu64(e, 1))).map(|v| (v, true)),
        t::SETREUID_X => pu64(cx.ev, 2).map(|v| (v, false)),
        t::SETREGID_X => pu64(cx.ev, 2).map(|v| (v, true)),
        _ => None,
    };
    let Some((v, is_gid)) = new else { return };
    let v = v as u32;
    if v == u32::MAX && cx.ty != t::SETUID_X && cx.ty != t::SETGID_X {
        return;
    }
    if let Some(t) = s.threads.get_mut(&cx.tid) {
        if is_gid {
            t.gid = v;
        } else {
            t.uid = v;
        }
    }
}

fn parse_rlimit_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    const RLIMIT_NOFILE: u64 = 7;
    if pi64(cx.ev, 0).is_none_or(|r| r < 0) {
        return;
    }
    let e = cx.enter.as_ref();
    if cx.ty == t::PRLIMIT_X {
        let resource = pu64(cx.ev, 6).or_else(|| e.and_then(|e| pu64(e, 1)));
        if resource != Some(RLIMIT_NOFILE) {
            return;
        }
        let Some(cur) = pi64(cx.ev, 1).filter(|&c| c != -1) else { return };
        let mut pid = pi64(cx.ev, 5).or_else(|| e.and_then(|e| pi64(e, 0))).unwrap_or(0);
        if pid == 0 {
            pid = cx.tid;
        }
        if !s.get_or_create(pid) {
            return;
        }
        if let Some(m) = s.main_tid(pid) {
            s.threads.get_mut(&m).unwrap().fdlimit = cur;
        }
    } else {
        let resource = pu64(cx.ev, 3).or_else(|| e.and_then(|e| pu64(e, 0)));
        if resource != Some(RLIMIT_NOFILE) {
            return;
        }
        let Some(cur) = pi64(cx.ev, 1).filter(|&c| c != -1) else { return };
        if let Some(m) = s.main_tid(cx.tid) {
            s.threads.get_mut(&m).unwrap().fdlimit = cur;
        }
    }
}

fn parse_user_event(s: &mut State, ev: &Event<'_>, ty: u16) {
    // One walk over the parameters: a capture can hold these by the
    // hundred thousand (the user list, written again and again).
    let mut p: [Option<saker_abi::Param<'_>>; 6] = [None; 6];
    for (slot, param) in p.iter_mut().zip(ev.params()) {
        *slot = Some(param);
    }
    let int = |i: usize| p[i].and_then(|p| p.as_u64());
    // As `pstr`: absent or empty is `None`, else up to the first NUL.
    let text = |i: usize| p[i].map(|p| p.bytes()).filter(|b| !b.is_empty()).map(until_nul);
    match ty {
        t::USER_ADDED_E | t::USER_DELETED_E => {
            let (Some(uid), Some(gid)) = (int(0), int(1)) else { return };
            let container = text(5).unwrap_or(b"");
            if ty == t::USER_ADDED_E {
                let text = |i| text(i).unwrap_or(b"");
                s.add_user_raw(container, uid as u32, gid as u32, text(2), text(3), text(4));
            } else {
                s.remove_user(container, uid as u32);
            }
        }
        _ => {
            let Some(gid) = int(0) else { return };
            let container = text(2).unwrap_or(b"");
            if ty == t::GROUP_ADDED_E {
                s.add_group_raw(container, gid as u32, text(1).unwrap_or(b""));
            } else {
                s.remove_group(container, gid as u32);
            }
        }
    }
}

/// Param indices of the clone/fork exit versions: (flags, uid, has comm).
fn clone_layout(ty: u16) -> (usize, usize, bool) {
    match ty {
        t::CLONE_11_X => (8, 9, false),
        t::CLONE_16_X | t::FORK_X | t::VFORK_X => (13, 14, false),
        t::CLONE_17_X | t::FORK_17_X | t::VFORK_17_X => (14, 15, true),
        _ => (15, 16, true),
    }
}

/// Bound of [`State::exited_before_parent`].
const EXITED_BEFORE_PARENT_MAX: usize = 4096;

fn parse_clone_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let ev = cx.ev;
    let ty = cx.ty;
    let (flags_i, uid_i, has_comm) = clone_layout(ty);
    let v20 = matches!(ty, t::CLONE_20_X | t::FORK_20_X | t::VFORK_20_X | t::CLONE3_X);
    let Some(mut childtid) = pi64(ev, 0) else { return };
    let flags = pu64(ev, flags_i).unwrap_or(0) as u32;
    if childtid < 0 {
        return;
    }
    let mut tid = cx.tid;
    let (vtid, vpid) = if v20 { (pi64(ev, 18).unwrap_or(tid), pi64(ev, 19).unwrap_or(-1)) } else { (tid, -1) };
    let in_container = flags & tf::CHILD_IN_PIDNS != 0 || tid != vtid;
    // The caller's event cannot describe the child when the child is in
    // another pid namespace (its tid there is unknown) or has another
    // parent than the caller (CLONE_PARENT: the caller's parent, as runc's
    // init stages make each other): the child's own event carries both.
    // Deciding here, not by which of the two events comes first, keeps the
    // parent the same whatever order two CPUs' events are merged in.
    // Falco's modern probe never sets CHILD_IN_PIDNS, hence the clone
    // flags too (as libsinsp does).
    let child_decides = in_container || flags & (tf::CLONE_NEWPID | tf::CLONE_PARENT) != 0;
    let mut inverted = false;
    if childtid == 0 {
        // The child's side.
        if let Some(t) = s.threads.get(&tid)
            && t.clone_ts != 0
            && ev.ts().saturating_sub(t.clone_ts) > CLONE_STALE_TIME_NS
        {
            s.remove_thread(tid, true);
        }
        let parent = if flags & tf::CLONE_THREAD != 0 { pi64(ev, 4) } else { pi64(ev, 5) };
        match s.threads.get_mut(&tid) {
            None => {
                inverted = true;
                childtid = tid;
                tid = parent.unwrap_or(-1);
                s.exited_before_parent.remove(&childtid);
            }
            Some(t) => {
                if in_container {
                    t.vtid = vtid;
                    t.vpid = vpid;
                }
                return;
            }
        }
    } else if child_decides {
        return;
    } else if s.exited_before_parent.remove(&childtid) {
        // The child came, went, and was removed before this event.
        return;
    }
    if !s.get_or_create(tid) {
        return;
    }
    let p = &s.threads[&tid];
    let valid_parent = !(&*p.info.comm == b"<NA>" && p.uid == u32::MAX);
    if let Some(c) = s.threads.get_mut(&childtid) {
        if c.flags & tf::CLONE_INVERTED != 0 {
            if !inverted {
                c.awaiting_parent_clone = false;
            }
            return;
        }
        s.remove_thread(childtid, true);
    }
    let exe = pstr(ev, 1).unwrap_or(b"");
    let comm = if has_comm { pstr(ev, 13).unwrap_or(b"") } else { exe };
    let args = pbuf(ev, 2);
    if !valid_parent {
        // A placeholder parent: take the program data from the event, for
        // the parent too.
        let p = s.threads.get_mut(&tid).unwrap();
        let i = Arc::make_mut(&mut p.info);
        i.comm = new_str(comm);
        i.exe = new_str(exe);
        i.args = new_str(args);
    }
    let p = &s.threads[&tid];
    // Program data: the parent's, with exe/comm/args (and cgroups) from the
    // event; shared with the parent when they are the same.
    let cgroups = if v20 { pbytes(ev, 14) } else { None };
    let same = *p.info.exe == *exe
        && *p.info.comm == *comm
        && *p.info.args == *args
        && cgroups.is_none_or(|c| *p.info.cgroups == *c);
    let info = if same {
        p.info.clone()
    } else {
        let mut i = (*p.info).clone();
        i.exe = new_str(exe);
        i.comm = new_str(comm);
        i.args = new_str(args);
        if let Some(c) = cgroups {
            i.cgroups = new_str(c);
            i.container_id = container_of_cgroups(c).map_or_else(empty_str, |(_, id)| new_str(id));
        }
        Arc::new(i)
    };
    let mut c = Thread::new(childtid, pi64(ev, 4).unwrap_or(childtid), info);
    c.ptid = tid;
    c.sid = p.sid;
    c.vpgid = p.vpgid;
    c.pgid = p.pgid;
    c.tty = p.tty;
    c.loginuid = p.loginuid;
    c.exe_flags = p.exe_flags;
    c.exe_ino = p.exe_ino;
    c.exe_ino_ctime = p.exe_ino_ctime;
    c.exe_ino_mtime = p.exe_ino_mtime;
    c.cap_inheritable = p.cap_inheritable;
    c.cap_permitted = p.cap_permitted;
    c.cap_effective = p.cap_effective;
    c.pidns_init_start_ts = if v20 { pu64(ev, 20).unwrap_or(p.pidns_init_start_ts) } else { p.pidns_init_start_ts };
    c.flags = flags;
    if flags & tf::CLONE_THREAD == 0 {
        c.pid = childtid;
        // A new process: a copy of the parent process's fds and cwd.
        let pm = s.main_tid(tid).unwrap_or(tid);
        let pmt = &s.threads[&pm];
        c.fds = pmt.fds.clone();
        for f in c.fds.map.values_mut() {
            f.flags &= !(fd_flags::CLOSE_IN_PROGRESS | fd_flags::CLOSE_CANCELED);
        }
        c.fds.map.remove(&CANCELED_FD);
        c.cwd = pmt.cwd.clone();
    }
    if inverted {
        c.flags |= tf::CLONE_INVERTED;
        c.awaiting_parent_clone = true;
    }
    c.fdlimit = pi64(ev, 7).unwrap_or(-1);
    if ty != t::CLONE_11_X {
        c.pfmajor = pu64(ev, 8).unwrap_or(0);
        c.pfminor = pu64(ev, 9).unwrap_or(0);
        c.vmsize_kb = pu64(ev, 10).unwrap_or(0) as u32;
        c.vmrss_kb = pu64(ev, 11).unwrap_or(0) as u32;
        c.vmswap_kb = pu64(ev, 12).unwrap_or(0) as u32;
    }
    c.uid = pu64(ev, uid_i).unwrap_or(0) as u32;
    c.gid = pu64(ev, uid_i + 1).unwrap_or(0) as u32;
    if in_container {
        c.vtid = vtid;
        c.vpid = vpid;
    } else {
        c.vtid = c.tid;
        c.vpid = c.pid;
    }
    c.clone_ts = ev.ts();
    s.add_thread(c);
}

fn parse_execve_exit(s: &mut State, cx: &mut Ctx<'_, '_>) {
    let ev = cx.ev;
    let ty = cx.ty;
    if pi64(ev, 0).is_none_or(|r| r < 0) || !cx.known {
        return;
    }
    let np = ev.nparams() as usize;
    let tid = cx.tid;
    let exe = pstr(ev, 1).unwrap_or(b"");
    let comm =
        if matches!(ty, t::EXECVE_8_X | t::EXECVE_13_X | t::EXECVE_14_X) { exe } else { pstr(ev, 13).unwrap_or(b"") };
    let args = pbuf(ev, 2);
    let env_i = match ty {
        t::EXECVE_8_X | t::EXECVE_13_X => None,
        t::EXECVE_14_X => Some(13),
        t::EXECVE_15_X => Some(14),
        _ => Some(15),
    };
    let has_cgroups = !matches!(ty, t::EXECVE_8_X | t::EXECVE_13_X | t::EXECVE_14_X | t::EXECVE_15_X);
    // The executable's path: the trusted one from the exit (current
    // versions), else the enter event's filename resolved against the cwd.
    let mut exepath: Option<Vec<u8>> = None;
    if let Some(p) = pstr(ev, 27) {
        exepath = Some(p.to_vec());
    } else if let Some(e) = &cx.enter {
        if e.event_type().0 == t::EXECVEAT_E {
            if let Some(path) = pstr(e, 1) {
                if path.starts_with(b"<NA>") {
                    exepath = Some(b"<NA>".to_vec());
                } else {
                    let dirfd = pi64(e, 0).unwrap_or(-100);
                    let fl = pu64(e, 2).unwrap_or(0);
                    let base = s.dirfd_base(tid, path, dirfd);
                    let mut out = Vec::new();
                    // AT_EMPTY_PATH: the dirfd is the executable.
                    if fl & 1 != 0 && path.is_empty() {
                        concat_paths(&mut out, b"", &base);
                    } else {
                        concat_paths(&mut out, &base, path);
                    }
                    exepath = Some(out);
                }
            }
        } else if let Some(path) = pstr(e, 0) {
            if path.starts_with(b"<NA>") {
                exepath = Some(b"<NA>".to_vec());
            } else {
                let mut out = Vec::new();
                concat_paths(&mut out, s.cwd(tid).unwrap_or(b""), path);
                exepath = Some(out);
            }
        }
    } else if let Some(p) = pstr(ev, 30) {
        let mut out = Vec::new();
        concat_paths(&mut out, s.cwd(tid).unwrap_or(b""), p);
        exepath = Some(out);
    }
    // A memfd executable: the probe's path stops at its mount's root ("/");
    // libsinsp names it `memfd:<name>`.
    let from_memfd = matches!(ty, t::EXECVE_19_X | t::EXECVEAT_X)
        && np > 19
        && pu64(ev, 19).is_some_and(|f| f as u32 & exe_flags::FROM_MEMFD != 0);
    if (from_memfd || exepath.as_deref() == Some(b"/"))
        && let Some(name) = memfd_exe_name(s, cx, tid)
    {
        exepath = Some(name);
    }
    let mut t = s.threads.get_mut(&tid).unwrap();
    let old = &t.info;
    let mut info = ExecInfo {
        comm: new_str(comm),
        exe: new_str(exe),
        exepath: match &exepath {
            Some(p) => new_str(p),
            None => old.exepath.clone(),
        },
        args: new_str(args),
        env: env_i.and_then(|i| pbytes(ev, i)).map_or_else(|| old.env.clone(), new_str),
        cgroups: old.cgroups.clone(),
        root: old.root.clone(),
        container_id: old.container_id.clone(),
    };
    if has_cgroups
        && let Some(c) = pbytes(ev, 14)
        && *info.cgroups != *c
    {
        info.cgroups = new_str(c);
        info.container_id = container_of_cgroups(c).map_or_else(empty_str, |(_, id)| new_str(id));
    }
    t.info = Arc::new(info);
    if s.lookup.is_some() && !t.info.container_id.is_empty() {
        let (info, pid) = (t.info.clone(), t.pid);
        s.container_seen(&info, pid);
        t = s.threads.get_mut(&tid).unwrap();
    }
    if let Some(pid) = pi64(ev, 4) {
        t.pid = pid;
    }
    if t.ptid == -1
        && let Some(p) = pi64(ev, 5)
    {
        t.ptid = p;
    }
    t.fdlimit = pi64(ev, 7).unwrap_or(t.fdlimit);
    if ty != t::EXECVE_8_X {
        t.pfmajor = pu64(ev, 8).unwrap_or(t.pfmajor);
        t.pfminor = pu64(ev, 9).unwrap_or(t.pfminor);
        t.vmsize_kb = pu64(ev, 10).map_or(t.vmsize_kb, |v| v as u32);
        t.vmrss_kb = pu64(ev, 11).map_or(t.vmrss_kb, |v| v as u32);
        t.vmswap_kb = pu64(ev, 12).map_or(t.vmswap_kb, |v| v as u32);
    }
    if matches!(ty, t::EXECVE_17_X | t::EXECVE_18_X | t::EXECVE_19_X | t::EXECVEAT_X) {
        t.tty = pu64(ev, 16).map_or(t.tty, |v| v as u32);
    }
    if matches!(ty, t::EXECVE_19_X | t::EXECVEAT_X) {
        t.vpgid = pi64(ev, 17).unwrap_or(t.vpgid);
        if np > 18 {
            t.loginuid = pu64(ev, 18).map_or(t.loginuid, |v| v as u32);
        }
        if np > 19
            && let Some(fl) = pu64(ev, 19)
        {
            t.exe_flags = fl as u32
                & (exe_flags::WRITABLE | exe_flags::UPPER_LAYER | exe_flags::FROM_MEMFD | exe_flags::LOWER_LAYER);
        }
        if np > 22 {
            t.cap_inheritable = pu64(ev, 20).unwrap_or(t.cap_inheritable);
            t.cap_permitted = pu64(ev, 21).unwrap_or(t.cap_permitted);
            t.cap_effective = pu64(ev, 22).unwrap_or(t.cap_effective);
        }
        if np > 25 {
            t.exe_ino = pu64(ev, 23).unwrap_or(t.exe_ino);
            t.exe_ino_ctime = pu64(ev, 24).unwrap_or(t.exe_ino_ctime);
            t.exe_ino_mtime = pu64(ev, 25).unwrap_or(t.exe_ino_mtime);
        }
        if np > 26 {
            t.uid = pu64(ev, 26).map_or(t.uid, |v| v as u32);
        }
        if np > 28 {
            t.pgid = pi64(ev, 28).unwrap_or(t.pgid);
        }
        if np > 29 {
            t.gid = pu64(ev, 29).map_or(t.gid, |v| v as u32);
        }
    }
    let keep = t.flags & (tf::PIPE_SRC | tf::PIPE_DST | tf::IS_MAIN_THREAD | tf::CLONE_INVERTED);
    t.flags = tf::ACTIVE | tf::NAME_CHANGED | keep;
    // The new image closes the close-on-exec fds.
    if let Some(m) = s.main_tid(tid) {
        let t = s.threads.get_mut(&m).unwrap();
        let before = t.fds.map.len();
        t.fds.map.retain(|_, f| !f.is_cloexec());
        s.counters.fds_removed += (before - t.fds.map.len()) as u64;
    }
}

/// The `memfd:<name>` of the executable `tid` just ran from a memfd: the
/// fd an `execveat(fd, "", AT_EMPTY_PATH)` named, else (live) what /proc
/// shows (`/memfd:<name> (deleted)`).
fn memfd_exe_name(s: &State, cx: &Ctx<'_, '_>, tid: i64) -> Option<Vec<u8>> {
    if let Some(e) = &cx.enter
        && e.event_type().0 == t::EXECVEAT_E
        && pstr(e, 1).is_some_and(<[u8]>::is_empty)
        && pu64(e, 2).is_some_and(|f| f & 1 != 0)
        && let Some(f) = pi64(e, 0).and_then(|fd| s.fd(tid, fd))
        && f.ty == FdType::Memfd
    {
        return Some(f.name.to_vec());
    }
    // execve("/proc/self/fd/N") (fexecve without execveat): fd N of the
    // image that called it.
    if let Some(e) = &cx.enter
        && let Some(path) = pstr(e, if e.event_type().0 == t::EXECVEAT_E { 1 } else { 0 })
        && let Some(fd) = proc_fd_path(path, s.threads.get(&tid).map_or(-1, |t| t.pid))
        && let Some(f) = s.fd(tid, fd)
        && f.ty == FdType::Memfd
    {
        return Some(f.name.to_vec());
    }
    if let crate::Source::Live(root) = &s.source
        && let Some(n) = crate::proc::memfd_exe(root, tid)
    {
        return Some(n);
    }
    // The modern probe gives neither the path asked for nor the memfd's
    // name, and a short-lived program is gone from /proc already: the fd
    // it ran from was open when it exec'd, so a sole memfd of the image
    // that called execve is it.
    let fds = s.fds(tid)?;
    let mut memfds = fds.map.values().filter(|f| f.ty == FdType::Memfd);
    let only = memfds.next()?;
    memfds.next().is_none().then(|| only.name.to_vec())
}

/// N of `/proc/self/fd/N`, `/proc/<pid>/fd/N` or `/dev/fd/N`.
fn proc_fd_path(path: &[u8], pid: i64) -> Option<i64> {
    let n = if let Some(n) = path.strip_prefix(b"/dev/fd/") {
        n
    } else {
        let rest = path.strip_prefix(b"/proc/")?;
        let slash = rest.iter().position(|&c| c == b'/')?;
        let who = &rest[..slash];
        if who != b"self" && who != pid.to_string().as_bytes() {
            return None;
        }
        rest[slash..].strip_prefix(b"/fd/")?
    };
    std::str::from_utf8(n).ok()?.parse().ok()
}

#[cfg(test)]
pub(crate) mod tests;
