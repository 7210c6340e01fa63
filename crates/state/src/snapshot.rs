//! The state as a capture header: what a capture written from a live host
//! starts with, so that the file stands alone.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use saker_scap::{
    CaptureHeader, FdInfo, FdKind, GroupInfo, InterfaceAddr, InterfaceInfo, MachineInfo, ProcessInfo, UserInfo,
};

use crate::fd::{Fd, FdType};
use crate::thread::{Thread, exe_flags, thread_flags};
use crate::{Source, State};

/// Thread flags that only mean something inside the state, not in a file.
const INTERNAL_FLAGS: u32 = thread_flags::ACTIVE | thread_flags::NAME_CHANGED | thread_flags::CLOSED;

impl State {
    /// The state as the header of a capture, as libscap writes one when it
    /// starts a capture on a live host: the machine (host name, CPUs,
    /// memory, `pid_max`, boot time) and the network interfaces (both read
    /// from the host when the state came from /proc, see
    /// [`State::from_proc`]), the host's users and groups, and every thread
    /// that has not exited, each process's main thread with its fds.
    ///
    /// Fd types map to the capture's (`SCAP_FD_*`); types newer than sysdig
    /// 0.29.3 are kept here and written as UNSUPPORTED by the writer. Server
    /// ends of connections are written the way /proc shows them (local
    /// address first), which readers turn back into the state's
    /// orientation. Threads are ordered by process, main thread first.
    ///
    /// For a state loaded from a capture, the machine is unknown (`None`)
    /// and interfaces carry no names.
    pub fn to_capture_header(&self) -> CaptureHeader {
        let mut header = CaptureHeader::default();
        match &self.source {
            Source::Live(root) => {
                header.machine = Some(machine_info(root));
                header.interfaces = self.interfaces(root);
            }
            Source::Capture => {
                for i in &self.ipv4_ifs {
                    let (addr, mask) = (Ipv4Addr::from(i.addr.to_le_bytes()), Ipv4Addr::from(i.netmask.to_le_bytes()));
                    let bcast = Ipv4Addr::from(u32::from(addr) | !u32::from(mask));
                    header.interfaces.push(InterfaceInfo {
                        name: Vec::new(),
                        addr: InterfaceAddr::V4 { addr, netmask: mask, bcast },
                        linkspeed: 0,
                    });
                }
                for a in &self.ipv6_ifs {
                    header.interfaces.push(InterfaceInfo {
                        name: Vec::new(),
                        addr: InterfaceAddr::V6 {
                            addr: Ipv6Addr::from(*a),
                            netmask: Ipv6Addr::UNSPECIFIED,
                            bcast: Ipv6Addr::UNSPECIFIED,
                        },
                        linkspeed: 0,
                    });
                }
            }
        }
        if let Some(db) = self.users.get(&b""[..]) {
            header.users = db
                .users
                .values()
                .map(|u| UserInfo {
                    uid: u.uid,
                    gid: u.gid,
                    name: u.name.to_vec(),
                    homedir: u.home.to_vec(),
                    shell: u.shell.to_vec(),
                })
                .collect();
            header.users.sort_by_key(|u| u.uid);
            header.groups = db.groups.values().map(|g| GroupInfo { gid: g.gid, name: g.name.to_vec() }).collect();
            header.groups.sort_by_key(|g| g.gid);
        }
        let mut threads: Vec<&Thread> = self.threads.values().filter(|t| !t.is_closed()).collect();
        threads.sort_by_key(|t| (t.pid, !t.is_main_thread(), t.tid));
        header.processes = threads.into_iter().map(|t| self.process_info(t)).collect();
        header
    }

    /// The network interface addresses of a live host whose root is at
    /// `root`: the IPv4 addresses read with the state (named after the
    /// interface of their subnet's route in `/proc/net/route`, `lo` for
    /// 127.0.0.0/8), and the IPv6 ones of `/proc/net/if_inet6`.
    fn interfaces(&self, root: &Path) -> Vec<InterfaceInfo> {
        let mut out = Vec::new();
        let routes: Vec<(String, u32, u32)> = std::fs::read_to_string(root.join("proc/net/route"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let hex = |s: &str| u32::from_str_radix(s, 16).ok();
                Some((w.first()?.to_string(), hex(w.get(1)?)?, hex(w.get(7)?)?))
            })
            .collect();
        for &crate::Ipv4If { addr, netmask: mask } in &self.ipv4_ifs {
            // Both in the kernel's representation: network-order bytes read as a
            // little-endian u32, as /proc/net/route prints them.
            let octets = addr.to_le_bytes();
            let name = if octets[0] == 127 {
                "lo".to_string()
            } else {
                routes
                    .iter()
                    .find(|(_, dest, m)| *m == mask && *dest == addr & mask)
                    .map_or_else(String::new, |r| r.0.clone())
            };
            let (a, m) = (Ipv4Addr::from(octets), Ipv4Addr::from(mask.to_le_bytes()));
            out.push(InterfaceInfo {
                name: name.into_bytes(),
                addr: InterfaceAddr::V4 { addr: a, netmask: m, bcast: Ipv4Addr::from(u32::from(a) | !u32::from(m)) },
                linkspeed: 0,
            });
        }
        for line in std::fs::read_to_string(root.join("proc/net/if_inet6")).unwrap_or_default().lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let (Some(hex), Some(plen), Some(name)) = (w.first(), w.get(2), w.get(5)) else { continue };
            let (Ok(addr), Ok(plen)) = (u128::from_str_radix(hex, 16), u32::from_str_radix(plen, 16)) else { continue };
            let mask = if plen == 0 { 0 } else { u128::MAX << (128 - plen.min(128)) };
            out.push(InterfaceInfo {
                name: name.as_bytes().to_vec(),
                addr: InterfaceAddr::V6 {
                    addr: Ipv6Addr::from(addr),
                    netmask: Ipv6Addr::from(mask),
                    bcast: Ipv6Addr::UNSPECIFIED,
                },
                linkspeed: 0,
            });
        }
        out
    }

    fn process_info(&self, t: &Thread) -> ProcessInfo {
        let info = &t.info;
        // The working directory lives in the main thread; files keep it
        // without the trailing '/' the state adds (except for "/").
        let cwd = self.cwd(t.tid).unwrap_or(&[]);
        let cwd = if cwd.len() > 1 { cwd.strip_suffix(b"/").unwrap_or(cwd) } else { cwd };
        let mut fds: Vec<FdInfo> = if t.is_main_thread() {
            t.fds.map.iter().filter_map(|(&num, fd)| fd_info(num, fd)).collect()
        } else {
            Vec::new()
        };
        fds.sort_by_key(|f| f.fd);
        ProcessInfo {
            tid: t.tid as u64,
            pid: t.pid as u64,
            ptid: t.ptid as u64,
            sid: t.sid as u64,
            vpgid: t.vpgid as u64,
            pgid: t.pgid,
            comm: info.comm.to_vec(),
            exe: info.exe.to_vec(),
            exepath: info.exepath.to_vec(),
            args: info.args.to_vec(),
            cwd: cwd.to_vec(),
            fdlimit: t.fdlimit as u64,
            flags: t.flags & !INTERNAL_FLAGS,
            uid: t.uid,
            gid: t.gid,
            vmsize_kb: t.vmsize_kb,
            vmrss_kb: t.vmrss_kb,
            vmswap_kb: t.vmswap_kb,
            pfmajor: t.pfmajor,
            pfminor: t.pfminor,
            env: info.env.to_vec(),
            vtid: t.vtid,
            vpid: t.vpid,
            cgroups: info.cgroups.to_vec(),
            root: info.root.to_vec(),
            pidns_init_start_ts: t.pidns_init_start_ts,
            tty: t.tty,
            loginuid: t.loginuid,
            exe_writable: t.exe_flags & exe_flags::WRITABLE != 0,
            cap_inheritable: t.cap_inheritable,
            cap_permitted: t.cap_permitted,
            cap_effective: t.cap_effective,
            exe_upper_layer: t.exe_flags & exe_flags::UPPER_LAYER != 0,
            exe_ino: t.exe_ino,
            exe_ino_ctime: t.exe_ino_ctime,
            exe_ino_mtime: t.exe_ino_mtime,
            exe_from_memfd: t.exe_flags & exe_flags::FROM_MEMFD != 0,
            exe_lower_layer: t.exe_flags & exe_flags::LOWER_LAYER != 0,
            clone_ts: t.clone_ts,
            fds,
        }
    }
}

/// One fd as a capture's fd list entry; `None` for fds of unknown type,
/// which libscap does not write either.
fn fd_info(num: i64, fd: &Fd) -> Option<FdInfo> {
    let s = &fd.sock;
    let kind = match fd.ty {
        FdType::Unknown => return None,
        FdType::File => FdKind::File { open_flags: fd.open_flags, name: fd.name.to_vec(), dev: Some(fd.dev) },
        FdType::Ipv4Socket => {
            let (mut sip, mut sport, mut dip, mut dport) = (s.v4_sip(), s.v4_sport(), s.v4_dip(), s.v4_dport());
            if fd.is_role_server() {
                // The state keeps client -> server; /proc lists local first.
                (sip, sport, dip, dport) = (dip, dport, sip, sport);
            }
            FdKind::Ipv4Socket { sip: sip.into(), dip: dip.into(), sport, dport, l4proto: s.v4_l4() }
        }
        FdType::Ipv6Socket => {
            let (mut sip, mut sport, mut dip, mut dport) = (s.v6_sip(), s.v6_sport(), s.v6_dip(), s.v6_dport());
            if fd.is_role_server() {
                (sip, sport, dip, dport) = (dip, dport, sip, sport);
            }
            FdKind::Ipv6Socket { sip: sip.into(), dip: dip.into(), sport, dport, l4proto: s.v6_l4() }
        }
        FdType::Ipv4Server => {
            FdKind::Ipv4Server { ip: s.v4srv_ip().into(), port: s.v4srv_port(), l4proto: s.v4srv_l4() }
        }
        FdType::Ipv6Server => {
            FdKind::Ipv6Server { ip: s.v6srv_ip().into(), port: s.v6srv_port(), l4proto: s.v6srv_l4() }
        }
        FdType::UnixSocket => FdKind::Unix { source: s.unix_src(), dest: s.unix_dst(), path: fd.name.to_vec() },
        other => FdKind::Named { fd_type: other as u8, name: fd.name.to_vec() },
    };
    Some(FdInfo { fd: num, ino: fd.ino, kind })
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Number of CPUs in a list such as `0-3,5` (`/sys/devices/system/cpu/online`).
fn count_cpu_list(list: &str) -> u32 {
    list.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => u32::from(p.trim().parse::<u32>().is_ok()),
        })
        .sum()
}

/// The machine info block of the host whose root is at `root`: host name,
/// online CPUs, physical memory, `pid_max` and the boot time (ns since the
/// epoch), from /proc and /sys as libscap reads them.
pub fn machine_info(root: &Path) -> MachineInfo {
    let num_cpus = read_trimmed(&root.join("sys/devices/system/cpu/online"))
        .map(|l| count_cpu_list(&l))
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let memory_size_bytes = std::fs::read_to_string(root.join("proc/meminfo"))
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let max_pid = read_trimmed(&root.join("proc/sys/kernel/pid_max")).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hostname = read_trimmed(&root.join("proc/sys/kernel/hostname")).unwrap_or_default().into_bytes();
    // Boot time: now minus the time since boot (suspend included).
    let uptime_ns = read_trimmed(&root.join("proc/uptime"))
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |s| (s * 1e9) as u64);
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    MachineInfo {
        num_cpus,
        memory_size_bytes,
        max_pid,
        hostname: hostname[..hostname.len().min(127)].to_vec(),
        boot_ts_epoch: now_ns.saturating_sub(uptime_ns),
        flags: 0,
        reserved3: 0,
        reserved4: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn counts_cpu_lists() {
        assert_eq!(count_cpu_list("0-3,5"), 5);
        assert_eq!(count_cpu_list("0"), 1);
        assert_eq!(count_cpu_list(""), 0);
    }

    fn through_a_file(h: &CaptureHeader) -> CaptureHeader {
        let mut w = saker_scap::Writer::new(Vec::new());
        w.write_header(h).unwrap();
        saker_scap::Reader::from_bytes(w.finish().unwrap()).map(|r| r.header().clone()).unwrap_or_else(|e| {
            // A header-only file has no events: read what is there anyway.
            panic!("reading the header back: {e}")
        })
    }

    /// The live host's state, written as a header and read back, gives the
    /// same threads, fds, users and machine.
    #[test]
    fn live_state_survives_a_capture_header() {
        let state = State::from_proc(&Limits::default()).expect("read /proc");
        let header = state.to_capture_header();
        let m = header.machine.as_ref().expect("machine info");
        assert!(m.num_cpus >= 1 && m.memory_size_bytes > 0 && m.max_pid > 0 && !m.hostname.is_empty());
        assert!(header.interfaces.iter().any(|i| i.name == b"lo"), "{:?}", header.interfaces);
        assert!(header.users.iter().any(|u| u.uid == 0 && u.name == b"root"));
        assert!(header.groups.iter().any(|g| g.gid == 0));

        let me = std::process::id() as u64;
        let p = header.process(me).expect("this process");
        assert_eq!(p.pid, me);
        assert!(!p.cwd.is_empty() && !p.exepath.is_empty());
        // Our stdio and this file are there, with /proc's numbers.
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let fdnum = {
            use std::os::fd::AsRawFd;
            f.as_raw_fd() as i64
        };
        let fresh = State::from_proc(&Limits::default()).unwrap().to_capture_header();
        let fd = fresh.process(me).unwrap().fds.iter().find(|x| x.fd == fdnum).expect("the open file");
        assert!(matches!(&fd.kind, FdKind::File { name, .. } if name.ends_with(b"/status")), "{fd:?}");

        let back = through_a_file(&header);
        assert_eq!(back.processes.len(), header.processes.len());
        assert_eq!(back.users, header.users);
        assert_eq!(back.groups, header.groups);
        assert_eq!(back.machine, header.machine);
        let reloaded = State::from_capture(&back, &Limits::default());
        assert_eq!(reloaded.thread_count(), state.thread_count());
        assert_eq!(reloaded.fd_count(), state.fd_count());
        for t in state.threads() {
            let r = reloaded.thread(t.tid).expect("same threads");
            assert_eq!((r.pid, r.ptid, r.uid, r.comm()), (t.pid, t.ptid, t.uid, t.comm()));
            assert_eq!(reloaded.cwd(t.tid), state.cwd(t.tid));
            if t.is_main_thread() {
                for (num, fd) in t.fds.iter() {
                    let r = reloaded.fd(t.tid, num).expect("same fds");
                    // Types newer than sysdig 0.29.3 (bpf, userfaultfd,
                    // io_uring, memfd, pidfd: a saker or Falco running on the
                    // host holds bpf fds) are written as unsupported.
                    let ty = if fd.ty as u8 > FdType::File as u8 { FdType::Unsupported } else { fd.ty };
                    assert_eq!((r.ty, &r.name, r.ino), (ty, &fd.name, fd.ino), "fd {num} of {}", t.tid);
                }
            }
        }
        drop(f);
    }

    /// Server ends of TCP connections are written local address first, as
    /// /proc lists them, and come back as the state had them.
    #[test]
    fn server_sockets_keep_their_orientation() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let state = State::from_proc(&Limits::default()).unwrap();
        let header = state.to_capture_header();
        let reloaded = State::from_capture(&through_a_file(&header), &Limits::default());
        let me = std::process::id() as i64;
        let tcp: Vec<(i64, Fd)> = state
            .fds(me)
            .unwrap()
            .iter()
            .filter(|(_, f)| f.ty == FdType::Ipv4Socket || f.ty == FdType::Ipv4Server)
            .map(|(n, f)| (n, f.clone()))
            .collect();
        assert_eq!(tcp.len(), 3, "{tcp:?}");
        for (n, f) in tcp {
            let r = reloaded.fd(me, n).unwrap();
            assert_eq!((&r.name, r.ty, r.is_role_server()), (&f.name, f.ty, f.is_role_server()), "fd {n}");
        }
        drop((client, server));
    }
}
