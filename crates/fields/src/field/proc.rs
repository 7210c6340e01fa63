//! `proc.*` and `thread.*`: the process and thread of the event, their
//! parent and ancestors, command line, environment, ids and limits.

use saker_state::{State, Thread, exe_flags};

use super::{Arg, EventContext, Field, FieldValue, Raw};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum P {
    Pid,
    Exe,
    Name,
    Args,
    Env,
    Cmdline,
    Exeline,
    Cwd,
    Nthreads,
    Nchilds,
    Ppid,
    Pname,
    Pcmdline,
    Apid,
    Aname,
    Loginshellid,
    Duration,
    Fdopencount,
    Fdlimit,
    Vmsize,
    Vmrss,
    Vmswap,
    Pfmajor,
    Pfminor,
    Tid,
    Ismain,
    Cgroups,
    Cgroup,
    Vtid,
    Vpid,
    ThreadVmsize,
    ThreadVmrss,
    Sid,
    Sname,
    Tty,
    Exepath,
    Vpgid,
    IsContainerHealthcheck,
    IsContainerLivenessProbe,
    IsContainerReadinessProbe,
    IsExeWritable,
    // Fields added to libsinsp after sysdig 0.29.3.
    Pexe,
    Pexepath,
    Aexe,
    Aexepath,
    Acmdline,
    Aenv,
    Cmdnargs,
    Cmdlenargs,
    Pvpid,
    SidExe,
    SidExepath,
    VpgidName,
    VpgidExe,
    VpgidExepath,
    PpidDuration,
    PidTs,
    PpidTs,
    IsExeUpperLayer,
    IsExeFromMemfd,
    IsSidLeader,
    IsVpgidLeader,
    ExeIno,
    ExeInoCtime,
    ExeInoMtime,
    ExeInoCtimeDurationProcStart,
    ExeInoCtimeDurationPidnsStart,
    PidnsInitStartTs,
    CapPermitted,
    CapInheritable,
    CapEffective,
}

/// The longest ancestor chain walked (a guard against parent loops).
const MAX_DEPTH: usize = 4096;

/// The thread's main thread (itself if it is one), as libsinsp's
/// `get_main_thread`.
fn main_of<'s>(s: &'s State, t: &'s Thread) -> Option<&'s Thread> {
    if t.tid == t.pid { Some(t) } else { s.thread(t.pid).filter(|m| m.tid == m.pid) }
}

/// The thread's parent (`ptid`), as libsinsp's `get_parent_thread`.
fn parent_of<'s>(s: &'s State, t: &Thread) -> Option<&'s Thread> {
    if t.ptid < 0 {
        return None;
    }
    s.thread(t.ptid)
}

/// Walks the parents of `t` (not `t` itself), as libsinsp's
/// `traverse_parent_state`, until `f` returns false.
fn walk_parents<'s>(s: &'s State, t: &'s Thread, mut f: impl FnMut(&'s Thread) -> bool) {
    let mut cur = t;
    for _ in 0..MAX_DEPTH {
        let Some(p) = parent_of(s, cur) else { return };
        if p.tid == cur.tid || p.tid == t.tid {
            return;
        }
        if !f(p) {
            return;
        }
        cur = p;
    }
}

/// The `n`th ancestor of the main thread of `t` (0: the main thread).
fn ancestor<'s>(s: &'s State, t: &'s Thread, n: i64) -> Option<&'s Thread> {
    let mut mt = main_of(s, t)?;
    for _ in 0..n {
        mt = parent_of(s, mt)?;
    }
    Some(mt)
}

/// The NUL-terminated strings of a buffer, as libsinsp splits arguments
/// and environments: `"a\0b\0"` is `a`, `b`; `"\0"` is one empty string; an
/// unterminated last string counts.
pub(crate) fn c_strings(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = b;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        let s = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(s)
    })
}

/// The thread's cgroups as `(subsystem, path)`, with the `io` subsystem of
/// cgroup v2 named `blkio`, as libsinsp names it.
fn cgroups(t: &Thread) -> impl Iterator<Item = (&[u8], &[u8])> {
    c_strings(&t.info.cgroups).filter_map(|c| {
        let eq = c.iter().position(|&b| b == b'=')?;
        let sub: &[u8] = if &c[..eq] == b"io" { b"blkio" } else { &c[..eq] };
        Some((sub, &c[eq + 1..]))
    })
}

fn args(t: &Thread) -> impl Iterator<Item = &[u8]> {
    c_strings(&t.info.args)
}

/// The environment strings; like libsinsp's `set_env`, an empty string
/// followed only by NULs ends the list (the kernel pads short environments).
fn env(t: &Thread) -> impl Iterator<Item = &[u8]> {
    let b = &t.info.env[..];
    let mut rest = b;
    c_strings(b).map_while(move |s| {
        if s.is_empty() && rest.iter().all(|&c| c == 0) {
            return None;
        }
        rest = rest.get(s.len() + 1..).unwrap_or_default();
        Some(s)
    })
}

/// `comm arg1 arg2...` (libsinsp's `populate_cmdline`).
fn cmdline(t: &Thread, out: &mut Vec<u8>) {
    out.extend_from_slice(t.comm());
    for a in args(t) {
        out.push(b' ');
        out.extend_from_slice(a);
    }
}

/// The space-separated items of a NUL-separated list.
fn joined<'a>(items: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for (i, a) in items.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
}

/// The value of `NAME` in the environment (empty when it is not set).
fn env_value<'t>(t: &'t Thread, name: &str) -> &'t [u8] {
    for e in env(t) {
        if let Some(rest) = e.strip_prefix(name.as_bytes())
            && let Some(v) = rest.strip_prefix(b"=")
        {
            return v;
        }
    }
    b""
}

/// The session or process-group leader: the thread with pid `id`, or else
/// the eldest ancestor with the same id (libsinsp's `proc.sname`).
fn leader<'s>(s: &'s State, t: &'s Thread, id: i64, same: impl Fn(&Thread) -> bool) -> Option<&'s Thread> {
    if let Some(l) = s.thread(id) {
        return Some(l);
    }
    let mut lead = main_of(s, t)?;
    walk_parents(s, lead, |p| {
        if !same(p) {
            return false;
        }
        lead = p;
        true
    });
    Some(lead)
}

/// Capability names, bit 0 first (libsinsp's `caps_to_string`).
const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub(crate) fn write_caps(caps: u64, out: &mut Vec<u8>) {
    let mut first = true;
    for (i, name) in CAPS.iter().enumerate() {
        if caps & (1 << i) != 0 {
            if !first {
                out.push(b' ');
            }
            first = false;
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// Threads of the process of `t` besides its main thread (libsinsp's
/// `m_nchilds` of the main thread).
fn other_threads(s: &State, pid: i64) -> u64 {
    s.threads().filter(|x| x.pid == pid && x.tid != pid).count() as u64
}

pub(crate) fn extract<'s>(f: &Field, p: P, ctx: &'s EventContext<'_>, buf: &mut Vec<u8>) -> Option<Raw<'s>> {
    let ev = &ctx.event;
    let tid = ev.tid() as i64;
    if p == P::Tid {
        return Some(Raw::Int(tid));
    }
    let s = ctx.state.state()?;
    let t = s.thread(tid)?;
    let ts = ev.ts();
    Some(match p {
        P::Tid => Raw::Int(tid),
        P::Pid => Raw::Int(t.pid),
        P::Exe => Raw::Str(&t.info.exe),
        P::Name => Raw::Str(t.comm()),
        P::Args => {
            joined(args(t), buf);
            Raw::Built
        }
        P::Env => {
            match f.name_arg() {
                Some(name) => buf.extend_from_slice(env_value(t, name)),
                None => joined(env(t), buf),
            }
            Raw::Built
        }
        P::Cmdline => {
            cmdline(t, buf);
            Raw::Built
        }
        P::Exeline => {
            buf.extend_from_slice(&t.info.exe);
            buf.push(b' ');
            joined(args(t), buf);
            Raw::Built
        }
        P::Cwd => Raw::Str(s.cwd(tid)?),
        P::Nthreads => Raw::Uint(other_threads(s, main_of(s, t)?.pid) + 1),
        P::Nchilds => Raw::Uint(if t.tid == t.pid { other_threads(s, t.pid) } else { 0 }),
        P::Ppid => Raw::Int(main_of(s, t)?.ptid),
        P::Pname => Raw::Str(parent_of(s, t)?.comm()),
        P::Pcmdline => {
            cmdline(parent_of(s, t)?, buf);
            Raw::Built
        }
        P::Pexe => Raw::Str(&parent_of(s, t)?.info.exe),
        P::Pexepath => Raw::Str(&parent_of(s, t)?.info.exepath),
        P::Pvpid => Raw::Int(parent_of(s, t)?.vpid),
        P::Apid => Raw::Int(ancestor(s, t, f.depth())?.pid),
        P::Aname => Raw::Str(ancestor(s, t, f.depth())?.comm()),
        P::Aexe => Raw::Str(&ancestor(s, t, f.depth())?.info.exe),
        P::Aexepath => Raw::Str(&ancestor(s, t, f.depth())?.info.exepath),
        P::Acmdline => {
            cmdline(ancestor(s, t, f.depth())?, buf);
            Raw::Built
        }
        P::Aenv => {
            aenv(f, s, t, buf)?;
            Raw::Built
        }
        P::Loginshellid => {
            let mt = main_of(s, t)?;
            let is_shell = |x: &Thread| x.comm().ends_with(b"sh");
            let mut found = is_shell(mt).then_some(mt.pid);
            walk_parents(s, mt, |x| {
                if is_shell(x) {
                    found = Some(x.pid);
                }
                true
            });
            Raw::Int(found?)
        }
        P::Duration => {
            if t.clone_ts == 0 {
                return None;
            }
            Raw::Uint(ts.wrapping_sub(t.clone_ts))
        }
        P::PpidDuration => {
            let pt = parent_of(s, t)?;
            if pt.clone_ts == 0 {
                return None;
            }
            Raw::Uint(ts.wrapping_sub(pt.clone_ts))
        }
        P::PidTs => {
            if t.clone_ts == 0 {
                return None;
            }
            Raw::Uint(t.clone_ts)
        }
        P::PpidTs => Raw::Uint(parent_of(s, t)?.clone_ts),
        P::Fdopencount => Raw::Uint(s.fds(tid).map_or(0, |f| f.len() as u64)),
        P::Fdlimit => Raw::Int(main_of(s, t).map_or(t.fdlimit, |m| m.fdlimit)),
        P::Vmsize => Raw::Uint(t.vmsize_kb as u64),
        P::Vmrss => Raw::Uint(t.vmrss_kb as u64),
        P::Vmswap => Raw::Uint(t.vmswap_kb as u64),
        P::ThreadVmsize => Raw::Uint(if t.tid == t.pid { t.vmsize_kb as u64 } else { 0 }),
        P::ThreadVmrss => Raw::Uint(if t.tid == t.pid { t.vmrss_kb as u64 } else { 0 }),
        P::Pfmajor => Raw::Uint(t.pfmajor),
        P::Pfminor => Raw::Uint(t.pfminor),
        P::Ismain => Raw::Bool(t.tid == t.pid),
        P::Cgroups => {
            let mut any = false;
            for (sub, path) in cgroups(t) {
                if any {
                    buf.push(b' ');
                }
                any = true;
                buf.extend_from_slice(sub);
                buf.push(b'=');
                buf.extend_from_slice(path);
            }
            if !any {
                return None;
            }
            Raw::Built
        }
        P::Cgroup => {
            let want = f.name_arg()?.as_bytes();
            Raw::Str(cgroups(t).find(|(sub, _)| *sub == want)?.1)
        }
        P::Vtid => {
            if t.vtid == -1 {
                return None;
            }
            Raw::Int(t.vtid)
        }
        P::Vpid => {
            if t.vpid == -1 {
                return None;
            }
            Raw::Int(t.vpid)
        }
        P::Sid => Raw::Int(t.sid),
        P::Vpgid => Raw::Int(t.vpgid),
        P::Sname => Raw::Str(leader(s, t, t.sid, |x| x.sid == t.sid)?.comm()),
        P::SidExe => Raw::Str(&leader(s, t, t.sid, |x| x.sid == t.sid)?.info.exe),
        P::SidExepath => Raw::Str(&leader(s, t, t.sid, |x| x.sid == t.sid)?.info.exepath),
        P::VpgidName => Raw::Str(leader(s, t, t.vpgid, |x| x.vpgid == t.vpgid)?.comm()),
        P::VpgidExe => Raw::Str(&leader(s, t, t.vpgid, |x| x.vpgid == t.vpgid)?.info.exe),
        P::VpgidExepath => Raw::Str(&leader(s, t, t.vpgid, |x| x.vpgid == t.vpgid)?.info.exepath),
        P::Tty => Raw::Int(t.tty as i32 as i64),
        P::Exepath => Raw::Str(&t.info.exepath),
        P::IsContainerHealthcheck | P::IsContainerLivenessProbe | P::IsContainerReadinessProbe => Raw::Bool(false),
        P::IsExeWritable => Raw::Bool(t.exe_flags & exe_flags::WRITABLE != 0),
        P::IsExeUpperLayer => Raw::Bool(t.exe_flags & exe_flags::UPPER_LAYER != 0),
        P::IsExeFromMemfd => Raw::Bool(t.exe_flags & exe_flags::FROM_MEMFD != 0),
        P::IsSidLeader => Raw::Bool(t.sid == t.vpid),
        P::IsVpgidLeader => Raw::Bool(t.vpgid == t.vpid),
        P::Cmdnargs => Raw::Uint(args(t).count() as u64),
        P::Cmdlenargs => Raw::Uint(args(t).map(|a| a.len() as u64).sum()),
        P::ExeIno => nonzero(t.exe_ino).map(|v| Raw::Int(v as i64))?,
        P::ExeInoCtime => Raw::Uint(nonzero(t.exe_ino_ctime)?),
        P::ExeInoMtime => Raw::Uint(nonzero(t.exe_ino_mtime)?),
        P::ExeInoCtimeDurationProcStart => {
            // libsinsp computes it at clone/exec: clone time minus ctime.
            if t.exe_ino_ctime == 0 || t.clone_ts == 0 || t.clone_ts < t.exe_ino_ctime {
                return None;
            }
            Raw::Uint(nonzero(t.clone_ts - t.exe_ino_ctime)?)
        }
        P::ExeInoCtimeDurationPidnsStart => {
            let start = t.pidns_init_start_ts;
            if t.exe_ino_ctime == 0 || start == 0 || start > t.exe_ino_ctime {
                return None;
            }
            Raw::Uint(nonzero(t.exe_ino_ctime - start)?)
        }
        P::PidnsInitStartTs => Raw::Uint(nonzero(t.pidns_init_start_ts)?),
        P::CapPermitted | P::CapInheritable | P::CapEffective => {
            let caps = match p {
                P::CapPermitted => t.cap_permitted,
                P::CapInheritable => t.cap_inheritable,
                _ => t.cap_effective,
            };
            write_caps(caps, buf);
            Raw::Built
        }
    })
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

/// `proc.aenv`: without argument, the process's own environment; with
/// `[N]`, the environment of the Nth ancestor; with `[NAME]`, the first
/// value of NAME among the ancestors (20 at most), else empty.
fn aenv(f: &Field, s: &State, t: &Thread, buf: &mut Vec<u8>) -> Option<()> {
    match &f.arg {
        Arg::Name(name) => {
            let mut mt = main_of(s, t)?;
            for _ in 0..20 {
                let Some(p) = parent_of(s, mt) else { break };
                mt = p;
                let v = env_value(mt, name);
                if !v.is_empty() {
                    buf.extend_from_slice(v);
                    break;
                }
            }
        }
        Arg::Index(n) if *n >= 1 => joined(env(ancestor(s, t, *n)?), buf),
        _ => joined(env(t), buf),
    }
    Some(())
}

/// The values of an any-ancestor field (`proc.aname` without index): one per
/// ancestor of the process, parent first.
pub(crate) fn each_ancestor(
    f: &Field,
    p: P,
    ctx: &EventContext<'_>,
    scratch: &mut Vec<u8>,
    cb: &mut dyn FnMut(FieldValue<'_>) -> bool,
) -> bool {
    let Some(s) = ctx.state.state() else { return false };
    let Some(t) = s.thread(ctx.event.tid() as i64) else { return false };
    let Some(mt) = main_of(s, t) else { return false };
    let _ = f;
    let mut found = false;
    walk_parents(s, mt, |a| {
        let hit = match p {
            P::Apid => cb(FieldValue::Int(a.pid)),
            P::Aname => cb(FieldValue::Str(a.comm())),
            P::Aexe => cb(FieldValue::Str(&a.info.exe)),
            P::Aexepath => cb(FieldValue::Str(&a.info.exepath)),
            P::Acmdline => {
                scratch.clear();
                cmdline(a, scratch);
                cb(FieldValue::Str(scratch))
            }
            P::Aenv => {
                scratch.clear();
                joined(env(a), scratch);
                cb(FieldValue::Str(scratch))
            }
            _ => false,
        };
        found |= hit;
        !hit
    });
    found
}
