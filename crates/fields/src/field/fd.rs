//! `fd.*` and `fdlist.*`: the file descriptor an event works on (a file,
//! socket, pipe...) and the fds of poll events.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use saker_abi::{EventFlags, EventType};
use saker_state::{Fd, FdType, State, Thread, fd_flags, l4};

use super::{Arg, EventContext, Field, FieldValue, Mode, Raw};
use crate::render::{self, ArgStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Num,
    Type,
    Typechar,
    Name,
    Directory,
    Filename,
    Ip,
    Cip,
    Sip,
    Lip,
    Rip,
    Port,
    Cport,
    Sport,
    Lport,
    Rport,
    L4proto,
    Sockfamily,
    IsServer,
    Uid,
    Containername,
    Containerdirectory,
    Proto,
    Cproto,
    Sproto,
    Lproto,
    Rproto,
    Net,
    Cnet,
    Snet,
    Lnet,
    Rnet,
    Connected,
    NameChanged,
    CipName,
    SipName,
    LipName,
    RipName,
    Dev,
    DevMajor,
    DevMinor,
    // Added to libsinsp after sysdig 0.29.3.
    Ino,
    Nameraw,
    Types,
    // fdlist.*
    ListNums,
    ListNames,
    ListCips,
    ListSips,
    ListCports,
    ListSports,
}

/// The fd an event works on, as libsinsp's `extract_fd` finds it.
pub(crate) struct EvFd<'s> {
    pub state: &'s State,
    pub thread: &'s Thread,
    /// libsinsp's `m_lastevent_fd`: the fd number (-1 when none).
    pub num: i64,
    /// The fd, when the process has one with that number.
    pub fd: Option<&'s Fd>,
}

/// The fd the event creates, uses or destroys: the number the state keeps
/// for the event's thread (libsinsp's `m_lastevent_fd`, -1 for an event that
/// names none), and the fd of that number. `None` for events about no fd
/// and for unknown threads.
pub(crate) fn event_fd<'s>(ctx: &'s EventContext<'_>) -> Option<EvFd<'s>> {
    if !about_fd(&ctx.event) {
        return None;
    }
    let s = ctx.state.state()?;
    // One lookup of the thread, one of its process, one of the fd: this runs
    // for every fd field of every event.
    event_fd_of(s, s.thread(ctx.event.tid() as i64)?)
}

/// Whether the event creates, uses or destroys an fd (else it has no
/// event fd).
#[inline]
pub(crate) fn about_fd(ev: &saker_abi::Event<'_>) -> bool {
    let f = ev.info().map_or(0, |i| i.flags.0);
    f & (EventFlags::CREATES_FD.0 | EventFlags::USES_FD.0 | EventFlags::DESTROYS_FD.0) != 0
}

/// [`event_fd`] of an event about an fd ([`about_fd`]), its thread already
/// looked up.
#[inline]
pub(crate) fn event_fd_of<'s>(s: &'s State, thread: &'s Thread) -> Option<EvFd<'s>> {
    let num = thread.last_event_fd();
    let fd = if num >= 0 {
        let process = if thread.is_main_thread() { Some(thread) } else { s.thread(thread.pid) };
        process.and_then(|p| p.fd_table().get(num))
    } else {
        None
    };
    Some(EvFd { state: s, thread, num, fd })
}

/// The fd libsinsp attaches to the event itself (`sinsp_evt::m_fdinfo`),
/// which `evt.category`, `evt.buflen`, `evt.is_syslog` and
/// `evt.count.error.*` look at: the event fd, except for an exit event
/// whose enter event was not seen and which neither names nor creates its
/// fd ([`crate::StateView::exit_fd_attached`]).
pub(crate) fn attached_fd<'s>(ctx: &'s EventContext<'_>) -> Option<&'s Fd> {
    let ev = &ctx.event;
    if !ev.event_type().is_enter()
        && !ev.info().is_some_and(|i| i.flags.contains(EventFlags::CREATES_FD))
        && ctx.state.exit_fd_attached(ev.tid() as i64) == Some(false)
    {
        return None;
    }
    event_fd(ctx)?.fd
}

fn v4(b: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(b))
}

fn v6(b: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(b))
}

/// Client (source) and server (destination) address and port of a socket.
struct Ends {
    cip: IpAddr,
    sip: IpAddr,
    cport: u16,
    sport: u16,
}

fn ends(fd: &Fd) -> Option<Ends> {
    let s = &fd.sock;
    Some(match fd.ty {
        FdType::Ipv4Socket => {
            Ends { cip: v4(s.v4_sip()), sip: v4(s.v4_dip()), cport: s.v4_sport(), sport: s.v4_dport() }
        }
        FdType::Ipv6Socket => {
            Ends { cip: v6(s.v6_sip()), sip: v6(s.v6_dip()), cport: s.v6_sport(), sport: s.v6_dport() }
        }
        _ => return None,
    })
}

/// The listening address of a server socket.
fn server(fd: &Fd) -> Option<(IpAddr, u16)> {
    let s = &fd.sock;
    match fd.ty {
        FdType::Ipv4Server => Some((v4(s.v4srv_ip()), s.v4srv_port())),
        FdType::Ipv6Server => Some((v6(s.v6srv_ip()), s.v6srv_port())),
        _ => None,
    }
}

/// Whether the client end of the socket is this machine (then it is the
/// local end): `None` when the state does not know the interfaces.
fn client_is_local(ctx: &EventContext<'_>, e: &Ends) -> Option<bool> {
    ctx.state.is_local_address(ctx.event.tid() as i64, e.cip)
}

/// `fd.name` of an event whose fd is not in the table: what the event
/// tried to create (a failed open's path, a failed connect's tuple), or
/// empty for other exit events (libsinsp's `extract_fdname_from_creator`).
pub(crate) fn name_from_creator<'s>(ctx: &'s EventContext<'_>, buf: &mut Vec<u8>, raw: bool) -> Option<Raw<'s>> {
    let ev = &ctx.event;
    let ty = ev.event_type();
    if ty.is_enter() {
        return None;
    }
    match ty {
        EventType::SYSCALL_OPEN_X
        | EventType::SOCKET_ACCEPT_X
        | EventType::SOCKET_ACCEPT_5_X
        | EventType::SOCKET_ACCEPT4_X
        | EventType::SOCKET_ACCEPT4_5_X
        | EventType::SOCKET_ACCEPT4_6_X
        | EventType::SYSCALL_CREAT_X
        | EventType::SOCKET_CONNECT_X => {
            let p = ev.param(1)?;
            render::write_param(ev, &p, ArgStyle::Resolved, ctx.state, buf);
            Some(Raw::Built)
        }
        EventType::SYSCALL_OPENAT_2_X | EventType::SYSCALL_OPENAT2_X => {
            let name = ev.param(2)?.as_bytes_value()?;
            let name = name.strip_suffix(b"\0").unwrap_or(name);
            if raw {
                buf.extend_from_slice(name);
                return Some(Raw::Built);
            }
            let dirfd = ev.param(1)?.as_i64()?;
            let s = ctx.state.state()?;
            let tid = ev.tid() as i64;
            if name.first() == Some(&b'/') {
                saker_state::append_path(buf, b".", name);
            } else if dirfd == -100 {
                saker_state::append_path(buf, s.cwd(tid).unwrap_or_default(), name);
            } else {
                match s.fd(tid, dirfd) {
                    Some(f) => super::with_scratch(|dir| {
                        dir.extend_from_slice(&f.name);
                        dir.push(b'/');
                        saker_state::append_path(buf, dir, name);
                    }),
                    None => saker_state::append_path(buf, b"<UNKNOWN>", name),
                }
            }
            Some(Raw::Built)
        }
        // The old openat exit needs its enter event, which the state does
        // not expose.
        EventType::SYSCALL_OPENAT_X => None,
        _ => Some(Raw::Str(b"")),
    }
}

/// The directory part of a file name, as libsinsp cuts it: up to the last
/// `/` (kept whole when it ends in `/`), `/` when there is none or it is
/// the first character.
fn dirname(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'/') {
        Some(pos) if pos != 0 => {
            if pos < name.len() - 1 {
                &name[..pos]
            } else {
                name
            }
        }
        _ => b"/",
    }
}

/// The file part: after the last `/` (the whole name when it ends in `/`),
/// `/` when there is no `/`.
fn basename(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'/') {
        Some(pos) if pos < name.len() - 1 => &name[pos + 1..],
        Some(_) => name,
        None => b"/",
    }
}

/// The type letter of the fd an event creates, when the fd is not in the
/// table (a failed call).
fn creator_typechar(ty: EventType) -> u8 {
    match EventType(ty.0 & !1) {
        EventType::SYSCALL_OPEN_E
        | EventType::SYSCALL_OPENAT_E
        | EventType::SYSCALL_OPENAT_2_E
        | EventType::SYSCALL_OPENAT2_E
        | EventType::SYSCALL_CREAT_E => b'f',
        EventType::SOCKET_SOCKET_E
        | EventType::SOCKET_ACCEPT_E
        | EventType::SOCKET_ACCEPT_5_E
        | EventType::SOCKET_ACCEPT4_E
        | EventType::SOCKET_ACCEPT4_5_E
        | EventType::SOCKET_ACCEPT4_6_E => b'4',
        EventType::SYSCALL_PIPE_E | EventType::SYSCALL_PIPE2_E => b'p',
        EventType::SYSCALL_EVENTFD_E | EventType::SYSCALL_EVENTFD2_E => b'e',
        EventType::SYSCALL_SIGNALFD_E | EventType::SYSCALL_SIGNALFD4_E => b's',
        EventType::SYSCALL_TIMERFD_CREATE_E => b't',
        EventType::SYSCALL_INOTIFY_INIT_E | EventType::SYSCALL_INOTIFY_INIT1_E => b'i',
        _ => b'o',
    }
}

/// Every byte value, to borrow one-letter strings from.
static BYTES: [u8; 256] = {
    let mut b = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        b[i] = i as u8;
        i += 1;
    }
    b
};

fn typechar_str(c: u8) -> &'static [u8] {
    &BYTES[c as usize..c as usize + 1]
}

fn l4_name(proto: u8) -> &'static [u8] {
    match proto {
        l4::TCP => b"tcp",
        l4::UDP => b"udp",
        l4::ICMP => b"icmp",
        l4::RAW => b"raw",
        _ => b"<NA>",
    }
}

fn container_id(t: &Thread) -> &[u8] {
    &t.info.container_id
}

pub(crate) fn extract<'s>(
    f: &Field,
    d: F,
    ctx: &'s EventContext<'_>,
    buf: &mut Vec<u8>,
    mode: Mode,
) -> Option<Raw<'s>> {
    if matches!(d, F::ListNums | F::ListNames | F::ListCips | F::ListSips | F::ListCports | F::ListSports) {
        return fdlist(d, ctx, buf);
    }
    let e = event_fd(ctx)?;
    let ev = &ctx.event;
    if d == F::Num {
        return Some(Raw::Int(e.num));
    }
    let _ = mode;
    // A failed connect: the fd exists but its name is the tuple tried.
    let failed_connect =
        ev.event_type() == EventType::SOCKET_CONNECT_X && ev.param(0).and_then(|p| p.as_i64()).is_some_and(|r| r < 0);
    let fd = e.fd;
    Some(match d {
        F::Name | F::Containername => {
            if d == F::Containername {
                buf.extend_from_slice(container_id(e.thread));
                buf.push(b':');
            }
            match fd {
                Some(fd) if !failed_connect => {
                    if d == F::Name {
                        Raw::Str(&fd.name)
                    } else {
                        buf.extend_from_slice(&fd.name);
                        Raw::Built
                    }
                }
                _ => match name_from_creator(ctx, buf, false)? {
                    Raw::Str(s) => {
                        buf.extend_from_slice(s);
                        Raw::Built
                    }
                    r => r,
                },
            }
        }
        F::Type => Raw::Str(fd?.ty.name().as_bytes()),
        F::Typechar => Raw::Str(typechar_str(match fd {
            Some(fd) => fd.typechar(),
            None => creator_typechar(ev.event_type()),
        })),
        F::Directory | F::Containerdirectory => {
            if d == F::Containerdirectory {
                buf.extend_from_slice(container_id(e.thread));
                buf.push(b':');
            }
            match fd {
                Some(fd) => match fd.ty {
                    FdType::File | FdType::FileV1 => buf.extend_from_slice(dirname(&fd.name)),
                    FdType::Directory => buf.extend_from_slice(&fd.name),
                    _ => return None,
                },
                None => {
                    // The name the creating event gives, printable bytes only,
                    // cut to its directory in place.
                    let start = buf.len();
                    if let Raw::Str(s) = name_from_creator(ctx, buf, false)? {
                        buf.extend_from_slice(s);
                    }
                    let mut w = start;
                    for r in start..buf.len() {
                        if (0x20..0x7f).contains(&buf[r]) {
                            buf[w] = buf[r];
                            w += 1;
                        }
                    }
                    buf.truncate(w);
                    // The directory is a prefix of the name, or `/`.
                    let dir = dirname(&buf[start..]);
                    if dir == b"/" {
                        buf.truncate(start);
                        buf.push(b'/');
                    } else {
                        let len = dir.len();
                        buf.truncate(start + len);
                    }
                }
            }
            Raw::Built
        }
        F::Filename => {
            let fd = fd?;
            if !matches!(fd.ty, FdType::File | FdType::FileV1) {
                return None;
            }
            Raw::Str(basename(&fd.name))
        }
        F::Cip | F::Cnet | F::Ip | F::Net => {
            let fd = fd?;
            if let Some((ip, _)) = server(fd).filter(|_| matches!(d, F::Ip | F::Net)) {
                return Some(Raw::Ip(ip));
            }
            if fd.is_role_none() {
                return None;
            }
            Raw::Ip(ends(fd)?.cip)
        }
        F::Sip | F::Snet => {
            let fd = fd?;
            if fd.is_role_none() {
                return None;
            }
            match server(fd) {
                Some((ip, _)) => Raw::Ip(ip),
                None => Raw::Ip(ends(fd)?.sip),
            }
        }
        F::Lip | F::Rip | F::Lnet | F::Rnet => {
            let fd = fd?;
            let en = ends(fd)?;
            if fd.is_role_none() {
                return None;
            }
            let local = client_is_local(ctx, &en)?;
            let want_local = matches!(d, F::Lip | F::Lnet);
            Raw::Ip(if local == want_local { en.cip } else { en.sip })
        }
        F::Cport | F::Port | F::Proto => {
            let fd = fd?;
            if let Some((_, port)) = server(fd).filter(|_| matches!(d, F::Port | F::Proto)) {
                return Some(Raw::Uint(port as u64));
            }
            if fd.is_role_none() {
                return None;
            }
            // libsinsp falls through to fd.cproto for sockets that are not
            // IP client sockets, whose empty text then reads as port 0.
            Raw::Uint(ends(fd).map_or(0, |en| en.cport as u64))
        }
        F::Sport => {
            let fd = fd?;
            match server(fd) {
                Some((_, port)) => Raw::Uint(port as u64),
                None => {
                    let en = ends(fd)?;
                    if fd.is_role_none() {
                        return None;
                    }
                    Raw::Uint(en.sport as u64)
                }
            }
        }
        F::Lport | F::Rport => {
            let fd = fd?;
            let en = ends(fd)?;
            if fd.is_role_none() {
                return None;
            }
            let local = client_is_local(ctx, &en)?;
            Raw::Uint(if local == (d == F::Lport) { en.cport } else { en.sport } as u64)
        }
        F::Cproto | F::Sproto | F::Lproto | F::Rproto => {
            // Port numbers as text (sysdig resolves them to service names
            // only with name resolution, which saker does not do); empty for
            // sockets that are not IP client sockets.
            let fd = fd?;
            let port = match d {
                F::Cproto => {
                    if fd.is_role_none() {
                        return None;
                    }
                    ends(fd).map(|en| en.cport)
                }
                F::Sproto => {
                    if server(fd).is_none() && (ends(fd).is_none() || fd.is_role_none()) {
                        return None;
                    }
                    ends(fd).map(|en| en.sport)
                }
                _ => {
                    let en = ends(fd)?;
                    if fd.is_role_none() {
                        return None;
                    }
                    let local = client_is_local(ctx, &en)?;
                    Some(if local == (d == F::Lproto) { en.cport } else { en.sport })
                }
            };
            if let Some(port) = port {
                super::write_u64(buf, port as u64);
            }
            Raw::Built
        }
        F::L4proto => Raw::Str(l4_name(fd?.l4proto())),
        F::Sockfamily => match fd?.ty {
            FdType::Ipv4Socket | FdType::Ipv6Socket | FdType::Ipv4Server | FdType::Ipv6Server => Raw::Str(b"ip"),
            FdType::UnixSocket => Raw::Str(b"unix"),
            _ => return None,
        },
        F::IsServer => {
            let fd = fd?;
            match fd.ty {
                FdType::Ipv4Server | FdType::Ipv6Server => Raw::Bool(true),
                FdType::Ipv4Socket | FdType::Ipv6Socket => {
                    let en = ends(fd)?;
                    Raw::Bool(ctx.state.is_local_address(ev.tid() as i64, en.sip)?)
                }
                _ => Raw::Bool(false),
            }
        }
        F::Uid => {
            if ev.event_type() == EventType::CONTAINER_JSON_E {
                return None;
            }
            super::write_i64(buf, e.thread.tid);
            super::write_i64(buf, e.num);
            Raw::Built
        }
        F::Connected => Raw::Bool(fd?.flags & fd_flags::CONNECTED != 0),
        F::NameChanged => {
            let f = fd?;
            match ctx.state.state() {
                Some(s) => Raw::Bool(f.renamed_at != 0 && f.renamed_at == s.counters().events),
                None => Raw::Bool(ctx.state.fd_name_changed(ev.tid() as i64)?),
            }
        }
        // The first watched name of the address (saker-dns): only names
        // rules or filters mention are known, as in libsinsp.
        F::CipName | F::SipName | F::LipName | F::RipName => {
            let ip = name_field_ip(f, d, ctx, buf, mode)?;
            let found = saker_dns::for_each_name(ip, |n| {
                buf.extend_from_slice(n);
                true
            });
            if !found {
                return None;
            }
            Raw::Built
        }
        F::Dev => Raw::Int(fd?.dev as i32 as i64),
        F::DevMajor => Raw::Int(((fd?.dev & 0xfff00) >> 8) as i64),
        F::DevMinor => {
            let dev = fd?.dev;
            Raw::Int(((dev & 0xff) | ((dev >> 12) & 0xfff00)) as i64)
        }
        F::Ino => Raw::Int(fd?.ino as i64),
        F::Nameraw => match fd {
            Some(fd) if !fd.name_raw.is_empty() => Raw::Str(&fd.name_raw),
            Some(_) => return None,
            None => name_from_creator(ctx, buf, true)?,
        },
        F::Types => {
            let Arg::Index(n) = f.arg else {
                // All the types, as a list: "(file,ipv4)".
                buf.push(b'(');
                for (i, name) in fd_types(e.state, ev.tid() as i64).enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(name.as_bytes());
                }
                buf.push(b')');
                return Some(Raw::Built);
            };
            let fd = e.state.fd(ev.tid() as i64, n)?;
            buf.push(b'(');
            buf.extend_from_slice(fd.ty.name().as_bytes());
            buf.push(b')');
            Raw::Built
        }
        F::Num | F::ListNums | F::ListNames | F::ListCips | F::ListSips | F::ListCports | F::ListSports => {
            unreachable!()
        }
    })
}

/// The address whose names `fd.cip.name` (`fd.sip.name`...) are.
fn name_field_ip(f: &Field, d: F, ctx: &EventContext<'_>, buf: &mut Vec<u8>, mode: Mode) -> Option<IpAddr> {
    let ip_field = match d {
        F::CipName => F::Cip,
        F::SipName => F::Sip,
        F::LipName => F::Lip,
        _ => F::Rip,
    };
    match extract(f, ip_field, ctx, buf, mode)? {
        Raw::Ip(ip) => Some(ip),
        _ => None,
    }
}

/// The values of the multi-valued fd fields: both ends of a socket for
/// `fd.ip`, `fd.net`, `fd.port` and `fd.proto`; the watched names of an
/// address for `fd.cip.name`, `fd.sip.name`, `fd.lip.name`, `fd.rip.name`;
/// each distinct fd type of the process for `fd.types`.
pub(crate) fn each_value(
    f: &Field,
    d: F,
    ctx: &EventContext<'_>,
    scratch: &mut Vec<u8>,
    cb: &mut dyn FnMut(FieldValue<'_>) -> bool,
) -> bool {
    if matches!(d, F::CipName | F::SipName | F::LipName | F::RipName) {
        // Every watched name of the address: `fd.sip.name = N` holds when
        // N resolved to the server's address, whatever other names it has.
        let Some(ip) = name_field_ip(f, d, ctx, scratch, Mode::Compare) else { return false };
        return saker_dns::for_each_name(ip, |n| cb(FieldValue::Str(n)));
    }
    let Some(e) = event_fd(ctx) else { return false };
    if d == F::Types {
        return fd_types(e.state, ctx.event.tid() as i64).any(|name| cb(FieldValue::Str(name.as_bytes())));
    }
    let Some(fd) = e.fd else { return false };
    let ports = matches!(d, F::Port | F::Proto);
    if let Some((ip, port)) = server(fd) {
        return cb(if ports { FieldValue::Uint(port as u64) } else { FieldValue::Ip(ip) });
    }
    let Some(en) = ends(fd) else { return false };
    if ports {
        cb(FieldValue::Uint(en.cport as u64)) || cb(FieldValue::Uint(en.sport as u64))
    } else {
        cb(FieldValue::Ip(en.cip)) || cb(FieldValue::Ip(en.sip))
    }
}

/// The distinct types of the fds of `tid`'s process, in the order of their
/// lowest fd number (without allocating).
fn fd_types(s: &State, tid: i64) -> impl Iterator<Item = &'static str> {
    const KINDS: usize = 32;
    let mut first = [i64::MAX; KINDS];
    if let Some(fds) = s.fds(tid) {
        for (num, fd) in fds.iter() {
            // One entry per name: servers are "ipv4"/"ipv6" as connections.
            let canonical = match fd.ty {
                FdType::Ipv4Server => FdType::Ipv4Socket,
                FdType::Ipv6Server => FdType::Ipv6Socket,
                FdType::FileV1 => FdType::File,
                FdType::Unsupported => FdType::Unknown,
                t => t,
            };
            let k = canonical as usize % KINDS;
            first[k] = first[k].min(num);
        }
    }
    let mut done = [false; KINDS];
    std::iter::from_fn(move || {
        let k = (0..KINDS).filter(|&k| !done[k] && first[k] != i64::MAX).min_by_key(|&k| first[k])?;
        done[k] = true;
        Some(FdType::from_code(k as u8).name())
    })
}

/// `fdlist.*`: the fds of a poll event, comma-separated.
fn fdlist<'s>(d: F, ctx: &'s EventContext<'_>, buf: &mut Vec<u8>) -> Option<Raw<'s>> {
    let ev = &ctx.event;
    let p = match ev.event_type() {
        EventType::SYSCALL_POLL_E | EventType::SYSCALL_PPOLL_E => ev.param(0)?,
        EventType::SYSCALL_POLL_X | EventType::SYSCALL_PPOLL_X => ev.param(1)?,
        _ => return None,
    };
    let b = p.bytes();
    if b.len() < 2 {
        return None;
    }
    let s = ctx.state.state()?;
    let tid = ev.tid() as i64;
    s.thread(tid)?;
    let n = u16::from_le_bytes([b[0], b[1]]) as usize;
    let start = buf.len();
    for item in b[2..].chunks_exact(10).take(n) {
        let num = i64::from_le_bytes(item[..8].try_into().unwrap());
        let fd = s.fd(tid, num);
        let mut add = true;
        match d {
            F::ListNums => super::write_i64(buf, num),
            F::ListNames => match fd {
                Some(fd) if !fd.name.is_empty() => buf.extend_from_slice(&fd.name),
                _ => buf.extend_from_slice(b"<NA>"),
            },
            F::ListCips | F::ListSips => match fd.and_then(|fd| fd_ip_for_list(fd, d == F::ListSips)) {
                Some(ip) => super::write_ip(ip, buf),
                None => add = false,
            },
            _ => match fd.and_then(ends) {
                Some(en) => super::write_u64(buf, if d == F::ListCports { en.cport } else { en.sport } as u64),
                None => add = false,
            },
        }
        if add {
            buf.push(b',');
        }
    }
    if buf.len() == start {
        return None;
    }
    if buf.last() == Some(&b',') {
        buf.pop();
    }
    Some(Raw::Built)
}

/// The client or server address `fdlist.cips`/`fdlist.sips` show.
fn fd_ip_for_list(fd: &Fd, server_side: bool) -> Option<IpAddr> {
    if let Some(en) = ends(fd) {
        return Some(if server_side { en.sip } else { en.cip });
    }
    if !server_side {
        return None;
    }
    match fd.ty {
        FdType::Ipv4Server => Some(v4(fd.sock.v4srv_ip())),
        // sysdig prints an IPv6 listening address as IPv4 (its first bytes).
        FdType::Ipv6Server => {
            let ip = fd.sock.v6srv_ip();
            Some(v4([ip[0], ip[1], ip[2], ip[3]]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_and_file_parts_as_libsinsp() {
        assert_eq!(dirname(b"/etc/passwd"), b"/etc");
        assert_eq!(dirname(b"/passwd"), b"/");
        assert_eq!(dirname(b"/etc/"), b"/etc/");
        assert_eq!(dirname(b"rel"), b"/");
        assert_eq!(basename(b"/etc/passwd"), b"passwd");
        assert_eq!(basename(b"/etc/"), b"/etc/");
        assert_eq!(basename(b"rel"), b"/");
    }

    #[test]
    fn typechar_of_failed_creations() {
        assert_eq!(creator_typechar(EventType::SYSCALL_OPEN_X), b'f');
        assert_eq!(creator_typechar(EventType::SOCKET_ACCEPT4_X), b'4');
        assert_eq!(creator_typechar(EventType::SYSCALL_PIPE_X), b'p');
        assert_eq!(creator_typechar(EventType::SYSCALL_READ_X), b'o');
    }
}
