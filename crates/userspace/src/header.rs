//! The initial state of a capture from /proc: the machine, users, groups,
//! interfaces, and the traced processes (every thread, the fds of each
//! process) plus their ancestors, so that a capture written with `-w` stands
//! alone and `proc.p*`/`proc.aname` fields resolve.

use std::os::unix::ffi::OsStrExt;

use libc::pid_t;
use saker_scap::{
    CaptureHeader, FdInfo, FdKind, GroupInfo, InterfaceAddr, InterfaceInfo, MachineInfo, ProcessInfo, UserInfo, fd_type,
};

use crate::encode::{OwnedFd, sock_of};
use crate::procfs::{self, CgroupLayout};
use crate::{flags, sys};

const CLONE_THREAD: u32 = 1 << 13; // PPM_CL_CLONE_THREAD
const CLONE_FILES: u32 = 1 << 0; // PPM_CL_CLONE_FILES

/// The header for processes `pids` (all their threads and fds) and, with
/// `ancestors`, the chain of their parents up to pid 1 (threads only).
pub(crate) fn build(pids: &[pid_t], ancestors: bool) -> CaptureHeader {
    let cg = CgroupLayout::load();
    let mut procs: Vec<ProcessInfo> = Vec::new();
    let mut seen: Vec<pid_t> = Vec::new();
    let mut buf = Vec::new();
    for &pid in pids {
        read_process(pid, true, &cg, &mut buf, &mut procs);
        seen.push(pid);
    }
    if ancestors {
        for &pid in pids {
            let mut p = procfs::task_stat(pid, &mut buf).map_or(0, |s| s.ppid as pid_t);
            while p > 0 && !seen.contains(&p) {
                seen.push(p);
                read_process(p, false, &cg, &mut buf, &mut procs);
                p = procfs::task_stat(p, &mut buf).map_or(0, |s| s.ppid as pid_t);
            }
        }
    }
    let (users, groups) = users();
    CaptureHeader {
        machine: Some(machine()),
        interfaces: interfaces(),
        users,
        groups,
        processes: procs,
        ..CaptureHeader::default()
    }
}

fn read_process(pid: pid_t, with_fds: bool, cg: &CgroupLayout, buf: &mut Vec<u8>, out: &mut Vec<ProcessInfo>) {
    let mut tasks = procfs::tasks(pid);
    if let Some(i) = tasks.iter().position(|&t| t == pid) {
        tasks.swap(0, i);
    }
    for tid in tasks {
        let Some(mut p) = read_thread(pid, tid, cg, buf) else { continue };
        if tid == pid && with_fds {
            p.fds = fds(pid, buf);
        }
        out.push(p);
    }
}

fn read_thread(pid: pid_t, tid: pid_t, cg: &CgroupLayout, buf: &mut Vec<u8>) -> Option<ProcessInfo> {
    let st = procfs::task_stat(tid, buf)?;
    let status = procfs::task_status(tid, buf)?;
    let mut p = ProcessInfo { tid: tid as u64, pid: pid as u64, ptid: status.ppid as u64, ..ProcessInfo::default() };
    p.sid = st.session as u64;
    p.vpgid = status.vpgid as u64;
    p.pgid = status.pgid;
    p.tty = st.tty;
    p.pfminor = st.minflt;
    p.pfmajor = st.majflt;
    p.comm = st.comm.clone();
    if procfs::read_into(&format!("/proc/{pid}/cmdline"), buf) {
        let mut parts = buf.split(|&c| c == 0);
        p.exe = parts.next().map(<[u8]>::to_vec).unwrap_or_default();
        let rest = &buf[(p.exe.len() + 1).min(buf.len())..];
        p.args = rest.to_vec();
    }
    if p.exe.is_empty() {
        p.exe = p.comm.clone();
    }
    p.exepath = procfs::exe(pid).unwrap_or_default();
    p.cwd = procfs::cwd(tid).unwrap_or_default();
    p.root = procfs::readlink(&format!("/proc/{pid}/root")).unwrap_or_default();
    if procfs::read_into(&format!("/proc/{pid}/environ"), buf) {
        p.env = buf.clone();
    }
    p.uid = status.euid;
    p.gid = status.egid;
    p.vtid = status.vtid;
    p.vpid = status.vpid;
    p.cap_inheritable = status.cap_inh;
    p.cap_permitted = status.cap_prm;
    p.cap_effective = status.cap_eff;
    p.vmsize_kb = status.vm_size;
    p.vmrss_kb = status.vm_rss;
    p.vmswap_kb = status.vm_swap;
    p.loginuid = procfs::loginuid(tid, buf);
    p.fdlimit = sys::nofile_limit(pid).unwrap_or(0);
    let mut cgroups = Vec::new();
    cg.cgroups(tid, buf, &mut cgroups);
    p.cgroups = cgroups;
    if tid != pid {
        p.flags |= CLONE_THREAD | CLONE_FILES;
    }
    // SAFETY: zeroed stat is a valid out buffer.
    let mut sx: libc::stat = unsafe { std::mem::zeroed() };
    let exe = std::ffi::CString::new(format!("/proc/{pid}/exe")).unwrap();
    // SAFETY: exe is NUL-terminated.
    if unsafe { libc::stat(exe.as_ptr(), &mut sx) } == 0 {
        p.exe_ino = sx.st_ino;
        p.exe_ino_ctime = sx.st_ctime as u64 * 1_000_000_000 + sx.st_ctime_nsec as u64;
        p.exe_ino_mtime = sx.st_mtime as u64 * 1_000_000_000 + sx.st_mtime_nsec as u64;
        let mode = sx.st_mode;
        p.exe_writable = mode & 0o002 != 0 || (status.euid == sx.st_uid && mode & 0o200 != 0) || status.euid == 0;
        p.exe_from_memfd = p.exepath.starts_with(b"/memfd:");
    }
    Some(p)
}

/// The fds of process `pid`, typed from their links, fdinfo and (sockets)
/// a duplicate taken with `pidfd_getfd`.
fn fds(pid: pid_t, buf: &mut Vec<u8>) -> Vec<FdInfo> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    let pidfd = sys::pidfd_open(pid).ok().map(OwnedFd);
    let mounts = procfs::mount_devs(pid, buf);
    let mut entries: Vec<i64> = dir.flatten().filter_map(|e| procfs::num(e.file_name().as_bytes())).collect();
    entries.sort_unstable();
    for fd in entries {
        let Some(link) = procfs::readlink(&format!("/proc/{pid}/fd/{fd}")) else { continue };
        let (oflags, mnt, ino) = procfs::fdinfo(pid, fd, buf).unwrap_or((0, 0, 0));
        let named = |t: u8, name: &[u8]| FdKind::Named { fd_type: t, name: name.to_vec() };
        let kind = if link.starts_with(b"socket:[") {
            let sock = pidfd.as_ref().and_then(|p| sys::pidfd_getfd(p.0, fd as i32).ok()).map(OwnedFd);
            sock.and_then(|d| sock_of(d.0)).map_or(named(fd_type::UNSUPPORTED, b""), |s| sock_kind(&s))
        } else if link.starts_with(b"pipe:[") {
            named(fd_type::FIFO, b"")
        } else if let Some(anon) = link.strip_prefix(b"anon_inode:") {
            let t = fd_type::of_anon_inode(anon);
            named(t, b"")
        } else if link.starts_with(b"/memfd:") {
            named(fd_type::MEMFD, &procfs::kernel_path(link.clone())[1..])
        } else if link.starts_with(b"/") {
            let is_dir = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|m| m.is_dir());
            if is_dir {
                named(fd_type::DIRECTORY, &link)
            } else {
                let dev = mounts.iter().find(|(m, _)| *m == mnt).map(|(_, d)| flags::encode_dev(*d));
                FdKind::File { open_flags: flags::open_flags(oflags), name: link, dev }
            }
        } else {
            named(fd_type::UNSUPPORTED, &link)
        };
        out.push(FdInfo { fd, ino, kind });
    }
    out
}

fn sock_kind(s: &crate::encode::Sock) -> FdKind {
    let l4 = if s.stream { 1 } else { 2 }; // SCAP_L4_TCP, SCAP_L4_UDP
    let port = |a: &[u8]| if a.len() >= 4 { u16::from_be_bytes([a[2], a[3]]) } else { 0 };
    match s.family as i32 {
        libc::AF_INET => {
            let ip = |a: &[u8]| if a.len() >= 8 { std::net::Ipv4Addr::new(a[4], a[5], a[6], a[7]) } else { 0.into() };
            match &s.peer {
                Some(p) => FdKind::Ipv4Socket {
                    sip: ip(&s.local),
                    dip: ip(p),
                    sport: port(&s.local),
                    dport: port(p),
                    l4proto: l4,
                },
                None => FdKind::Ipv4Server { ip: ip(&s.local), port: port(&s.local), l4proto: l4 },
            }
        }
        libc::AF_INET6 => {
            let ip = |a: &[u8]| {
                if a.len() >= 24 {
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&a[8..24]).unwrap())
                } else {
                    std::net::Ipv6Addr::UNSPECIFIED
                }
            };
            match &s.peer {
                Some(p) => FdKind::Ipv6Socket {
                    sip: ip(&s.local),
                    dip: ip(p),
                    sport: port(&s.local),
                    dport: port(p),
                    l4proto: l4,
                },
                None => FdKind::Ipv6Server { ip: ip(&s.local), port: port(&s.local), l4proto: l4 },
            }
        }
        libc::AF_UNIX => {
            let addr = s.peer.as_deref().unwrap_or(&s.local);
            let path = addr.get(2..).unwrap_or(&[]);
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            FdKind::Unix { source: s.ino, dest: 0, path: path[..end].to_vec() }
        }
        libc::AF_NETLINK => FdKind::Named { fd_type: fd_type::NETLINK, name: Vec::new() },
        _ => FdKind::Named { fd_type: fd_type::UNSUPPORTED, name: Vec::new() },
    }
}

fn machine() -> MachineInfo {
    // SAFETY: sysconf/uname/sysinfo fill plain structs.
    let (ncpu, mem, host) = unsafe {
        let ncpu = libc::sysconf(libc::_SC_NPROCESSORS_ONLN).max(1) as u32;
        let mut si: libc::sysinfo = std::mem::zeroed();
        libc::sysinfo(&mut si);
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        let host: Vec<u8> = u.nodename.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        (ncpu, si.totalram as u64 * si.mem_unit as u64, host)
    };
    let mut buf = Vec::new();
    let max_pid = if procfs::read_into("/proc/sys/kernel/pid_max", &mut buf) {
        procfs::num(&buf).unwrap_or(32768) as u64
    } else {
        32768
    };
    let boot = {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid out buffer.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        sys::now_ns().saturating_sub(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    };
    MachineInfo {
        num_cpus: ncpu,
        memory_size_bytes: mem,
        max_pid,
        hostname: host,
        boot_ts_epoch: boot,
        ..MachineInfo::default()
    }
}

fn users() -> (Vec<UserInfo>, Vec<GroupInfo>) {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    if let Ok(t) = std::fs::read("/etc/passwd") {
        for line in t.split(|&c| c == b'\n') {
            let f: Vec<&[u8]> = line.split(|&c| c == b':').collect();
            if f.len() >= 7
                && let (Some(uid), Some(gid)) = (procfs::num(f[2]), procfs::num(f[3]))
            {
                users.push(UserInfo {
                    uid: uid as u32,
                    gid: gid as u32,
                    name: f[0].to_vec(),
                    homedir: f[5].to_vec(),
                    shell: f[6].to_vec(),
                });
            }
        }
    }
    if let Ok(t) = std::fs::read("/etc/group") {
        for line in t.split(|&c| c == b'\n') {
            let f: Vec<&[u8]> = line.split(|&c| c == b':').collect();
            if f.len() >= 3
                && let Some(gid) = procfs::num(f[2])
            {
                groups.push(GroupInfo { gid: gid as u32, name: f[0].to_vec() });
            }
        }
    }
    (users, groups)
}

fn interfaces() -> Vec<InterfaceInfo> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list freed below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a C string.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_bytes().to_vec();
        // SAFETY: ifa_addr points to a sockaddr of its family.
        let fam = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let v4 = |p: *const libc::sockaddr| -> std::net::Ipv4Addr {
            if p.is_null() {
                return 0.into();
            }
            // SAFETY: an AF_INET sockaddr.
            let sin = unsafe { &*(p as *const libc::sockaddr_in) };
            std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
        };
        let v6 = |p: *const libc::sockaddr| -> std::net::Ipv6Addr {
            if p.is_null() {
                return std::net::Ipv6Addr::UNSPECIFIED;
            }
            // SAFETY: an AF_INET6 sockaddr.
            let sin6 = unsafe { &*(p as *const libc::sockaddr_in6) };
            std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)
        };
        let addr = match fam {
            libc::AF_INET => {
                InterfaceAddr::V4 { addr: v4(ifa.ifa_addr), netmask: v4(ifa.ifa_netmask), bcast: v4(ifa.ifa_ifu) }
            }
            libc::AF_INET6 => {
                InterfaceAddr::V6 { addr: v6(ifa.ifa_addr), netmask: v6(ifa.ifa_netmask), bcast: v6(ifa.ifa_ifu) }
            }
            _ => continue,
        };
        out.push(InterfaceInfo { name, addr, linkspeed: 0 });
    }
    // SAFETY: freeing the list getifaddrs returned.
    unsafe { libc::freeifaddrs(ifap) };
    out
}
