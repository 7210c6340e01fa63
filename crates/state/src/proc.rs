//! The live host's state from /proc, /etc/passwd and /etc/group.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use saker_scap::{FdInfo, FdKind, ProcessInfo, fd_type};

use crate::error::StateError;
use crate::{Group, User, util::new_str};

/// Everything read from the host.
pub(crate) struct Snapshot {
    pub processes: Vec<ProcessInfo>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// IPv4 interface addresses and netmasks (network-order `u32`s).
    pub ipv4_ifs: Vec<(u32, u32)>,
}

/// Reads every thread of every process under `root/proc`.
pub(crate) fn scan(root: &Path) -> Result<Snapshot, StateError> {
    let proc_dir = root.join("proc");
    let entries = fs::read_dir(&proc_dir).map_err(|source| StateError::Io { path: proc_dir.clone(), source })?;
    let mut sockets = SocketTables::default();
    let mut processes = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = num(e.file_name().as_bytes()) else { continue };
        let task_dir = proc_dir.join(pid.to_string()).join("task");
        let tids: Vec<i64> = match fs::read_dir(&task_dir) {
            Ok(d) => d.flatten().filter_map(|t| num(t.file_name().as_bytes())).collect(),
            Err(_) => vec![pid],
        };
        for tid in tids {
            if let Some(p) = read_task(root, pid, tid, &mut sockets) {
                processes.push(p);
            }
        }
    }
    let (users, groups) = read_users(root);
    Ok(Snapshot { processes, users, groups, ipv4_ifs: read_ipv4_ifs(root) })
}

/// Reads thread `tid` (whatever its process), for repairing the state when
/// an event names a thread it does not know.
pub(crate) fn read_thread(root: &Path, tid: i64) -> Option<ProcessInfo> {
    let status = fs::read(root.join("proc").join(tid.to_string()).join("status")).ok()?;
    let pid = field(&status, b"Tgid:").and_then(num)?;
    read_task(root, pid, tid, &mut SocketTables::default())
}

/// The parent /proc shows for `tid` now (`PPid`, a process id).
pub(crate) fn read_ppid(root: &Path, tid: i64) -> Option<i64> {
    let status = fs::read(root.join("proc").join(tid.to_string()).join("status")).ok()?;
    field(&status, b"PPid:").and_then(num)
}

/// When the host booted, in ns since the epoch (now minus /proc/uptime;
/// read once).
fn boot_time_ns() -> Option<u64> {
    static BOOT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let up = fs::read_to_string("/proc/uptime").ok()?;
        let up: f64 = up.split_whitespace().next()?.parse().ok()?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as u64;
        now.checked_sub((up * 1e9) as u64)
    })
}

/// libsinsp's name of a memfd executable (`memfd:<name>`) from the
/// kernel's path of it (`/memfd:<name> (deleted)`).
fn memfd_name(link: &[u8]) -> Option<Vec<u8>> {
    let name = link.strip_prefix(b"/")?;
    name.starts_with(b"memfd:").then(|| name.strip_suffix(b" (deleted)").unwrap_or(name).to_vec())
}

/// The `memfd:<name>` of `tid`'s executable, if it runs from a memfd.
pub(crate) fn memfd_exe(root: &Path, tid: i64) -> Option<Vec<u8>> {
    memfd_name(&readlink(&root.join("proc").join(tid.to_string()).join("exe"))?)
}

fn num(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

/// The value after `key` on its line of a `Key:\tvalue` file.
fn field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    text.split(|&c| c == b'\n').find_map(|l| l.strip_prefix(key)).map(|v| v.trim_ascii())
}

fn words(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty())
}

fn readlink(p: &Path) -> Option<Vec<u8>> {
    fs::read_link(p).ok().map(|l| l.as_os_str().as_bytes().to_vec())
}

fn read_task(root: &Path, pid: i64, tid: i64, sockets: &mut SocketTables) -> Option<ProcessInfo> {
    let pdir = root.join("proc").join(pid.to_string());
    let tdir = pdir.join("task").join(tid.to_string());
    let tdir = if tdir.exists() { tdir } else { pdir.clone() };
    let status = fs::read(tdir.join("status")).ok()?;
    let stat = fs::read(tdir.join("stat")).ok()?;
    let mut p = ProcessInfo { tid: tid as u64, pid: pid as u64, ..ProcessInfo::default() };
    // stat: "pid (comm) state ppid pgrp session tty_nr ..."; comm may hold spaces.
    let close = stat.iter().rposition(|&c| c == b')')?;
    let rest: Vec<&[u8]> = words(&stat[close + 1..]).collect();
    let at = |i: usize| rest.get(i).and_then(|w| num(w));
    p.ptid = field(&status, b"PPid:").and_then(num).unwrap_or(0) as u64;
    p.vpgid = at(2).unwrap_or(-1) as u64;
    p.pgid = at(2).unwrap_or(-1);
    p.sid = at(3).unwrap_or(-1) as u64;
    p.tty = at(4).unwrap_or(0) as u32;
    p.pfminor = at(7).unwrap_or(0) as u64;
    p.pfmajor = at(9).unwrap_or(0) as u64;
    // starttime (field 22): clock ticks since boot, in USER_HZ (100 on
    // every Linux ABI).
    p.clone_ts = match (at(19), boot_time_ns()) {
        (Some(ticks), Some(boot)) if ticks >= 0 => boot + ticks as u64 * 10_000_000,
        _ => 0,
    };
    p.comm = fs::read(tdir.join("comm"))
        .map(|mut c| {
            if c.last() == Some(&b'\n') {
                c.pop();
            }
            c
        })
        .unwrap_or_default();
    let cmdline = fs::read(pdir.join("cmdline")).unwrap_or_default();
    let mut argv = crate::thread::split_nul(&cmdline);
    p.exe = argv.next().map(<[u8]>::to_vec).unwrap_or_else(|| p.comm.clone());
    let rest_args: Vec<&[u8]> = argv.collect();
    for a in rest_args {
        p.args.extend_from_slice(a);
        p.args.push(0);
    }
    p.exepath = readlink(&pdir.join("exe")).unwrap_or_default();
    if let Some(name) = memfd_name(&p.exepath) {
        p.exepath = name;
        p.exe_from_memfd = true;
    }
    p.cwd = readlink(&pdir.join("cwd")).unwrap_or_default();
    p.root = readlink(&pdir.join("root")).unwrap_or_default();
    if tid == pid {
        p.env = fs::read(pdir.join("environ")).unwrap_or_default();
    }
    let ids =
        |k: &[u8]| -> Vec<i64> { field(&status, k).map(|v| words(v).filter_map(num).collect()).unwrap_or_default() };
    p.uid = ids(b"Uid:").get(1).copied().unwrap_or(0) as u32;
    p.gid = ids(b"Gid:").get(1).copied().unwrap_or(0) as u32;
    p.vtid = ids(b"NSpid:").last().copied().unwrap_or(tid);
    p.vpid = ids(b"NStgid:").last().copied().unwrap_or(pid);
    let cap = |k: &[u8]| field(&status, k).and_then(|v| u64::from_str_radix(std::str::from_utf8(v).ok()?, 16).ok());
    p.cap_inheritable = cap(b"CapInh:").unwrap_or(0);
    p.cap_permitted = cap(b"CapPrm:").unwrap_or(0);
    p.cap_effective = cap(b"CapEff:").unwrap_or(0);
    p.vmsize_kb = field(&status, b"VmSize:").and_then(|v| words(v).next().and_then(num)).unwrap_or(0) as u32;
    p.vmrss_kb = field(&status, b"VmRSS:").and_then(|v| words(v).next().and_then(num)).unwrap_or(0) as u32;
    p.vmswap_kb = field(&status, b"VmSwap:").and_then(|v| words(v).next().and_then(num)).unwrap_or(0) as u32;
    p.loginuid = fs::read(pdir.join("loginuid")).ok().and_then(|b| num(&b)).map_or(u32::MAX, |v| v as u32);
    p.fdlimit = read_fdlimit(&pdir).unwrap_or(0);
    p.cgroups = read_cgroups(root, &tdir);
    if tid != pid {
        p.flags |= crate::thread_flags::CLONE_THREAD | crate::thread_flags::CLONE_FILES;
    } else {
        p.fds = read_fds(&pdir, sockets);
    }
    Some(p)
}

fn read_fdlimit(pdir: &Path) -> Option<u64> {
    let limits = fs::read(pdir.join("limits")).ok()?;
    let line = limits.split(|&c| c == b'\n').find(|l| l.starts_with(b"Max open files"))?;
    let soft = words(&line[b"Max open files".len()..]).next()?;
    if soft == b"unlimited" { Some(u64::MAX) } else { num(soft).map(|v| v as u64) }
}

/// `/proc/<tid>/cgroup` as `subsys=path` NUL-separated entries. cgroup v2's
/// single hierarchy (`0::/path`) is listed once per controller of the root
/// cgroup, as libs does.
fn read_cgroups(root: &Path, tdir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let Ok(text) = fs::read(tdir.join("cgroup")) else { return out };
    for line in text.split(|&c| c == b'\n') {
        let mut parts = line.splitn(3, |&c| c == b':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if ctrls.is_empty() {
            let controllers = fs::read(root.join("sys/fs/cgroup/cgroup.controllers")).unwrap_or_default();
            let mut any = false;
            for c in words(&controllers) {
                out.extend_from_slice(c);
                out.push(b'=');
                out.extend_from_slice(path);
                out.push(0);
                any = true;
            }
            if !any {
                out.extend_from_slice(b"unified=");
                out.extend_from_slice(path);
                out.push(0);
            }
        } else {
            for c in ctrls.split(|&c| c == b',') {
                let c = c.strip_prefix(b"name=").unwrap_or(c);
                out.extend_from_slice(c);
                out.push(b'=');
                out.extend_from_slice(path);
                out.push(0);
            }
        }
    }
    out
}

/// Sockets of a network namespace, by inode.
#[derive(Default)]
struct SocketTables {
    /// Keyed by the namespace's `ns/net` link; value: inode → fd kind.
    by_ns: HashMap<Vec<u8>, HashMap<u64, FdKind>>,
}

impl SocketTables {
    fn get(&mut self, pdir: &Path, ino: u64) -> Option<FdKind> {
        let ns = readlink(&pdir.join("ns/net")).unwrap_or_default();
        let table = self.by_ns.entry(ns).or_insert_with(|| read_net(&pdir.join("net")));
        table.get(&ino).cloned()
    }
}

fn hex_u32(b: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

/// `ADDR:PORT` of /proc/net/tcp (IPv4: one native-endian u32; IPv6: four).
fn parse_addr(b: &[u8]) -> Option<(Vec<u8>, u16)> {
    let colon = b.iter().position(|&c| c == b':')?;
    let (a, p) = (&b[..colon], &b[colon + 1..]);
    let port = u16::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok()?;
    let mut ip = Vec::with_capacity(16);
    for chunk in a.chunks(8) {
        ip.extend_from_slice(&hex_u32(chunk)?.to_ne_bytes());
    }
    Some((ip, port))
}

fn read_net(net: &Path) -> HashMap<u64, FdKind> {
    let mut m = HashMap::new();
    for (file, l4) in [("tcp", 2u8), ("tcp6", 2), ("udp", 3), ("udp6", 3), ("raw", 5), ("raw6", 5)] {
        let Ok(text) = fs::read(net.join(file)) else { continue };
        for line in text.split(|&c| c == b'\n').skip(1) {
            let w: Vec<&[u8]> = words(line).collect();
            if w.len() < 10 {
                continue;
            }
            let (Some((lip, lport)), Some((rip, rport))) = (parse_addr(w[1]), parse_addr(w[2])) else { continue };
            let Some(ino) = num(w[9]) else { continue };
            let listening = rport == 0 && rip.iter().all(|&b| b == 0);
            let kind = if lip.len() == 4 {
                let (l, r) = (to4(&lip), to4(&rip));
                if listening {
                    FdKind::Ipv4Server { ip: l.into(), port: lport, l4proto: l4 }
                } else {
                    FdKind::Ipv4Socket { sip: l.into(), dip: r.into(), sport: lport, dport: rport, l4proto: l4 }
                }
            } else {
                let (l, r) = (to16(&lip), to16(&rip));
                if listening {
                    FdKind::Ipv6Server { ip: l.into(), port: lport, l4proto: l4 }
                } else {
                    FdKind::Ipv6Socket { sip: l.into(), dip: r.into(), sport: lport, dport: rport, l4proto: l4 }
                }
            };
            m.insert(ino as u64, kind);
        }
    }
    if let Ok(text) = fs::read(net.join("unix")) {
        for line in text.split(|&c| c == b'\n').skip(1) {
            let w: Vec<&[u8]> = words(line).collect();
            if w.len() < 7 {
                continue;
            }
            let Some(ino) = num(w[6]) else { continue };
            let source =
                u64::from_str_radix(std::str::from_utf8(w[0].strip_suffix(b":").unwrap_or(w[0])).unwrap_or("0"), 16)
                    .unwrap_or(0);
            let path = w.get(7).map(|p| p.to_vec()).unwrap_or_default();
            m.insert(ino as u64, FdKind::Unix { source, dest: 0, path });
        }
    }
    if let Ok(text) = fs::read(net.join("netlink")) {
        for line in text.split(|&c| c == b'\n').skip(1) {
            let w: Vec<&[u8]> = words(line).collect();
            if let Some(ino) = w.last().and_then(|i| num(i))
                && w.len() >= 10
            {
                m.insert(ino as u64, FdKind::Named { fd_type: fd_type::NETLINK, name: Vec::new() });
            }
        }
    }
    m
}

fn to4(b: &[u8]) -> [u8; 4] {
    b[..4].try_into().unwrap()
}

fn to16(b: &[u8]) -> [u8; 16] {
    b[..16].try_into().unwrap()
}

/// The fds of a process, typed from their `/proc/<pid>/fd` links.
fn read_fds(pdir: &Path, sockets: &mut SocketTables) -> Vec<FdInfo> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir(pdir.join("fd")) else { return out };
    for e in dir.flatten() {
        let Some(fd) = num(e.file_name().as_bytes()) else { continue };
        let path: PathBuf = e.path();
        let Some(link) = readlink(&path) else { continue };
        let flags = fs::read(pdir.join("fdinfo").join(fd.to_string()))
            .ok()
            .and_then(|t| field(&t, b"flags:").and_then(|v| u32::from_str_radix(std::str::from_utf8(v).ok()?, 8).ok()))
            .unwrap_or(0);
        let ino_of = |s: &[u8], prefix: &[u8]| -> Option<u64> {
            let r = s.strip_prefix(prefix)?.strip_suffix(b"]")?;
            num(r).map(|v| v as u64)
        };
        let named = |t: u8, name: &[u8]| FdKind::Named { fd_type: t, name: name.to_vec() };
        let (ino, kind) = if let Some(ino) = ino_of(&link, b"socket:[") {
            let kind =
                sockets.get(pdir, ino).unwrap_or(FdKind::Named { fd_type: fd_type::UNSUPPORTED, name: Vec::new() });
            (ino, kind)
        } else if let Some(ino) = ino_of(&link, b"pipe:[") {
            (ino, named(fd_type::FIFO, b""))
        } else if let Some(anon) = link.strip_prefix(b"anon_inode:") {
            let t = fd_type::of_anon_inode(anon);
            (0, named(t, b""))
        } else if link.starts_with(b"/memfd:") {
            let name = link.strip_suffix(b" (deleted)").unwrap_or(&link);
            (0, named(fd_type::MEMFD, &name[1..]))
        } else if link.starts_with(b"/") {
            let md = fs::metadata(&path).ok();
            let ino = md.as_ref().map_or(0, std::os::unix::fs::MetadataExt::ino);
            if md.is_some_and(|m| m.is_dir()) {
                (ino, named(fd_type::DIRECTORY, &link))
            } else {
                (ino, FdKind::File { open_flags: open_flags_to_ppm(flags), name: link, dev: None })
            }
        } else {
            (0, named(fd_type::UNSUPPORTED, &link))
        };
        out.push(FdInfo { fd, ino, kind });
    }
    out
}

/// Linux open flags (as `/proc/<pid>/fdinfo` prints them) to libs' `PPM_O_*`.
fn open_flags_to_ppm(f: u32) -> u32 {
    let mut r = match f & 3 {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    for (linux, ppm) in [
        (0o100, 1 << 2),      // O_CREAT
        (0o2000, 1 << 3),     // O_APPEND
        (0o10000, 1 << 4),    // O_DSYNC
        (0o200, 1 << 5),      // O_EXCL
        (0o4000, 1 << 6),     // O_NONBLOCK
        (0o4010000, 1 << 7),  // O_SYNC
        (0o1000, 1 << 8),     // O_TRUNC
        (0o40000, 1 << 9),    // O_DIRECT
        (0o200000, 1 << 10),  // O_DIRECTORY
        (0o100000, 1 << 11),  // O_LARGEFILE
        (0o2000000, 1 << 12), // O_CLOEXEC
    ] {
        if f & linux == linux {
            r |= ppm;
        }
    }
    r
}

/// Users and groups of `root/etc/passwd` and `root/etc/group`.
/// The users and groups of `root/etc/passwd` and `root/etc/group` (a
/// host's, or a container's through `/proc/PID/root`); missing files give
/// none.
pub fn read_users_at(root: &Path) -> (Vec<User>, Vec<Group>) {
    read_users(root)
}

fn read_users(root: &Path) -> (Vec<User>, Vec<Group>) {
    let mut users = Vec::new();
    if let Ok(text) = fs::read(root.join("etc/passwd")) {
        for line in text.split(|&c| c == b'\n') {
            let f: Vec<&[u8]> = line.split(|&c| c == b':').collect();
            if f.len() < 7 || line.starts_with(b"#") {
                continue;
            }
            let (Some(uid), Some(gid)) = (num(f[2]), num(f[3])) else { continue };
            users.push(User {
                uid: uid as u32,
                gid: gid as u32,
                name: new_str(f[0]),
                home: new_str(f[5]),
                shell: new_str(f[6]),
            });
        }
    }
    let mut groups = Vec::new();
    if let Ok(text) = fs::read(root.join("etc/group")) {
        for line in text.split(|&c| c == b'\n') {
            let f: Vec<&[u8]> = line.split(|&c| c == b':').collect();
            if f.len() < 3 || line.starts_with(b"#") {
                continue;
            }
            let Some(gid) = num(f[2]) else { continue };
            groups.push(Group { gid: gid as u32, name: new_str(f[0]) });
        }
    }
    (users, groups)
}

/// IPv4 addresses of the local interfaces, from `/proc/net/fib_trie`'s
/// `/32 host LOCAL` entries, with the netmask of the enclosing prefix.
fn read_ipv4_ifs(root: &Path) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let Ok(text) = fs::read(root.join("proc/net/fib_trie")) else { return out };
    let text = String::from_utf8_lossy(&text);
    let mut prefix_len = 32u32;
    let mut last_ip: Option<[u8; 4]> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("+-- ") {
            if let Some((_, len)) = rest.split_once('/') {
                prefix_len = len.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(32);
            }
        } else if let Some(rest) = l.strip_prefix("|-- ") {
            last_ip = rest.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets());
        } else if l.contains("/32 host LOCAL")
            && let Some(ip) = last_ip
        {
            let addr = u32::from_le_bytes(ip);
            let mask = if prefix_len == 0 || prefix_len >= 32 {
                u32::MAX
            } else {
                u32::from_le_bytes((!0u32 << (32 - prefix_len)).to_be_bytes())
            };
            if !out.iter().any(|&(a, _)| a == addr) {
                out.push((addr, mask));
            }
        }
    }
    out
}
