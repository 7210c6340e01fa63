//! Every block layout, built byte by byte from the layouts of libs'
//! `scap_savefile.c` (not from this crate's writer), then read; and the
//! writer's output checked byte by byte.

use std::net::{Ipv4Addr, Ipv6Addr};

use saker_abi::{Event, EventBuilder, EventType};
use saker_scap::{
    CaptureHeader, ErrorKind, FdInfo, FdKind, GroupInfo, InterfaceAddr, InterfaceInfo, Item, MachineInfo, Metadata,
    ProcListLayout, ProcessInfo, Reader, UserInfo, WriteOptions, Writer, fd_type, format::block,
};

// ---------------------------------------------------------------- builders

fn blk(t: u32, body: &[u8]) -> Vec<u8> {
    let total = (8 + body.len() + 4 + 3) & !3;
    let mut v = Vec::new();
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(body);
    v.resize(total - 4, 0);
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v
}

fn shb_body(minor: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x1A2B3C4Du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&minor.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b
}

fn shb() -> Vec<u8> {
    blk(block::SHB, &shb_body(2))
}

#[derive(Default)]
struct B(Vec<u8>);
impl B {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn s(&mut self, v: &[u8]) -> &mut Self {
        self.u16(v.len() as u16);
        self.0.extend_from_slice(v);
        self
    }
    fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
}

fn close_event(ts: u64) -> Vec<u8> {
    let mut e = Vec::new();
    let mut b = EventBuilder::new(&mut e, ts, 42, EventType::SYSCALL_CLOSE_X);
    b.param_i64(0).param_i64(3);
    b.finish();
    e
}

fn ev_v2_block(cpu: u16, ev: &[u8]) -> Vec<u8> {
    let mut b = B::default();
    b.u16(cpu).raw(ev);
    blk(block::EV_V2, &b.0)
}

/// `(cpu, dump flags, event bytes)`.
type Events = Vec<(u16, Option<u32>, Vec<u8>)>;

fn read(bytes: Vec<u8>) -> (CaptureHeader, Events) {
    let mut r = Reader::from_bytes(bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut evs = Vec::new();
    while let Some(rec) = r.next_event().unwrap_or_else(|e| panic!("{e}")) {
        evs.push((rec.cpu, rec.dump_flags, rec.event.as_bytes().to_vec()));
    }
    (r.take_header(), evs)
}

fn capture(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut v = shb();
    for b in blocks {
        v.extend_from_slice(b);
    }
    v
}

// ---------------------------------------------------------------- process lists

/// A process-list entry of version `v` (1..=8), fields distinct per thread `n`.
fn pl_entry(v: u8, n: u64) -> Vec<u8> {
    let mut b = B::default();
    b.u64(100 + n).u64(200 + n).u64(300 + n);
    if v >= 6 {
        b.u64(400 + n);
    }
    if v >= 8 {
        b.u64(500 + n);
    }
    b.s(format!("comm{n}").as_bytes()).s(b"/bin/exe");
    if v >= 7 {
        b.s(b"/usr/bin/exe");
    }
    b.s(b"-a\0-b\0").s(b"/cwd").u64(1024).u32(7).u32(1000 + n as u32).u32(2000);
    if v >= 2 {
        b.u32(11).u32(12).u32(13).u64(14).u64(15);
        if v >= 3 {
            b.s(b"A=1\0B=2\0");
        }
        if v >= 4 {
            b.u64(600 + n).u64(700 + n).s(b"cpuset=/docker/abc\0");
            if v >= 5 {
                b.s(b"/root");
            }
        }
    }
    b.0
}

fn check_pl(p: &ProcessInfo, v: u8, n: u64) {
    let d = ProcessInfo::default();
    assert_eq!((p.tid, p.pid, p.ptid), (100 + n, 200 + n, 300 + n), "v{v}");
    assert_eq!(p.sid, if v >= 6 { 400 + n } else { d.sid }, "v{v}");
    assert_eq!(p.vpgid, if v >= 8 { 500 + n } else { d.vpgid }, "v{v}");
    assert_eq!(p.comm, format!("comm{n}").as_bytes());
    assert_eq!(p.exe, b"/bin/exe");
    assert_eq!(p.exepath, if v >= 7 { &b"/usr/bin/exe"[..] } else { b"" }, "v{v}");
    assert_eq!((p.args.as_slice(), p.cwd.as_slice()), (&b"-a\0-b\0"[..], &b"/cwd"[..]));
    assert_eq!((p.fdlimit, p.flags, p.uid, p.gid), (1024, 7, 1000 + n as u32, 2000));
    if v >= 2 {
        assert_eq!((p.vmsize_kb, p.vmrss_kb, p.vmswap_kb, p.pfmajor, p.pfminor), (11, 12, 13, 14, 15));
    } else {
        assert_eq!((p.vmsize_kb, p.pfminor), (0, 0));
    }
    assert_eq!(p.env, if v >= 3 { &b"A=1\0B=2\0"[..] } else { b"" }, "v{v}");
    if v >= 4 {
        assert_eq!((p.vtid, p.vpid), (600 + n as i64, 700 + n as i64));
        assert_eq!(p.cgroups, b"cpuset=/docker/abc\0");
    } else {
        assert_eq!((p.vtid, p.vpid, p.cgroups.len()), (-1, -1, 0));
    }
    assert_eq!(p.root, if v >= 5 { &b"/root"[..] } else { b"" }, "v{v}");
    assert_eq!(p.loginuid, u32::MAX);
    assert_eq!((p.cap_effective, p.exe_writable, p.tty, p.pgid), (0, false, 0, -1));
}

#[test]
fn process_lists_v1_to_v8_and_their_pre_release_codes() {
    let codes = [
        (1, block::PL_V1),
        (1, block::PL_V1_INT),
        (2, block::PL_V2),
        (2, block::PL_V2_INT),
        (3, block::PL_V3),
        (3, block::PL_V3_INT),
        (4, block::PL_V4),
        (5, block::PL_V5),
        (6, block::PL_V6),
        (7, block::PL_V7),
        (8, block::PL_V8),
    ];
    for (v, code) in codes {
        let mut body = pl_entry(v, 1);
        body.extend(pl_entry(v, 2));
        let (h, _) = read(capture(&[blk(code, &body), ev_v2_block(0, &close_event(1))]));
        assert_eq!(h.processes.len(), 2, "v{v} {code:#x}");
        check_pl(&h.processes[0], v, 1);
        check_pl(&h.processes[1], v, 2);
        assert_eq!(h.proclist_version(), Some(v));
    }
}

/// A v9 entry: the v8 layout, then `tail`, length-prefixed.
fn pl_v9_entry(n: u64, tail: &[u8]) -> Vec<u8> {
    let body = pl_entry(8, n);
    let mut b = B::default();
    b.u32((4 + body.len() + tail.len()) as u32).raw(&body).raw(tail);
    b.0
}

#[test]
fn process_list_v9_tails() {
    // No tail, loginuid only (falco's captures), the 29-byte pre-0.10 tail.
    let mut pre = B::default();
    pre.u32(1001).u8(1).u64(0xa).u64(0xb).u64(0xc);
    let mut full = B::default();
    full.u64(77).u32(34816).u32(1002).u8(1).u64(0xa).u64(0xb).u64(0xc).u8(1).u64(99).u64(98).u64(97).u8(1).u8(1);
    full.u64(4242);
    let mut longer = B::default();
    longer.raw(&full.0).raw(&[0xee; 13]); // fields of a future version: skipped
    type Check = Box<dyn Fn(&ProcessInfo)>;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (vec![], Box::new(|p: &ProcessInfo| assert_eq!(p.loginuid, u32::MAX))),
        (1001u32.to_le_bytes().to_vec(), Box::new(|p: &ProcessInfo| assert_eq!(p.loginuid, 1001))),
        (
            pre.0.clone(),
            Box::new(|p: &ProcessInfo| {
                assert_eq!((p.loginuid, p.exe_writable), (1001, true));
                assert_eq!((p.cap_inheritable, p.cap_permitted, p.cap_effective), (0xa, 0xb, 0xc));
                assert_eq!((p.pidns_init_start_ts, p.tty), (0, 0));
            }),
        ),
        (
            full.0.clone(),
            Box::new(|p: &ProcessInfo| {
                assert_eq!((p.pidns_init_start_ts, p.tty, p.loginuid, p.exe_writable), (77, 34816, 1002, true));
                assert_eq!((p.cap_inheritable, p.cap_permitted, p.cap_effective), (0xa, 0xb, 0xc));
                assert_eq!((p.exe_upper_layer, p.exe_ino, p.exe_ino_ctime, p.exe_ino_mtime), (true, 99, 98, 97));
                assert_eq!((p.exe_from_memfd, p.exe_lower_layer, p.pgid), (true, true, 4242));
            }),
        ),
        (longer.0.clone(), Box::new(|p: &ProcessInfo| assert_eq!((p.tty, p.pgid), (34816, 4242)))),
    ];
    for (tail, check) in cases {
        let mut body = pl_v9_entry(1, &tail);
        body.extend(pl_v9_entry(2, &tail));
        let (h, _) = read(capture(&[blk(block::PL_V9, &body), ev_v2_block(0, &close_event(1))]));
        assert_eq!(h.processes.len(), 2);
        for (i, p) in h.processes.iter().enumerate() {
            assert_eq!(p.tid, 101 + i as u64);
            assert_eq!(p.vpgid, 501 + i as u64);
            assert_eq!(p.root, b"/root");
            check(p);
        }
    }
    // A zero entry length: the entry is read without a length, like v8.
    let mut body = B::default();
    body.u32(0).raw(&pl_entry(8, 1));
    let (h, _) = read(capture(&[blk(block::PL_V9, &body.0)]));
    check_pl(&h.processes[0], 8, 1);
}

// ---------------------------------------------------------------- fd lists

fn fd_entries(v2: bool) -> (Vec<u8>, Vec<FdInfo>) {
    let ip4 = |a: u8| Ipv4Addr::new(10, 0, 0, a);
    let ip6 = |a: u16| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, a);
    let mut want = vec![
        FdInfo { fd: 3, ino: 30, kind: FdKind::File { open_flags: 0x11, name: b"/etc/passwd".to_vec(), dev: None } },
        FdInfo { fd: 4, ino: 40, kind: FdKind::Named { fd_type: fd_type::FILE, name: b"/old".to_vec() } },
        FdInfo { fd: 5, ino: 0, kind: FdKind::Named { fd_type: fd_type::DIRECTORY, name: b"/tmp".to_vec() } },
        FdInfo {
            fd: 6,
            ino: 0,
            kind: FdKind::Ipv4Socket { sip: ip4(1), dip: ip4(2), sport: 5555, dport: 80, l4proto: 3 },
        },
        FdInfo {
            fd: 7,
            ino: 0,
            kind: FdKind::Ipv6Socket { sip: ip6(1), dip: ip6(2), sport: 4444, dport: 443, l4proto: 3 },
        },
        FdInfo { fd: 8, ino: 0, kind: FdKind::Ipv4Server { ip: ip4(0), port: 22, l4proto: 3 } },
        FdInfo { fd: 9, ino: 0, kind: FdKind::Ipv6Server { ip: ip6(0), port: 8080, l4proto: 4 } },
        FdInfo { fd: 10, ino: 0, kind: FdKind::Named { fd_type: fd_type::FIFO, name: b"pipe:[1]".to_vec() } },
        FdInfo { fd: 11, ino: 1, kind: FdKind::Unix { source: 0xdead, dest: 0xbeef, path: b"/run/sock".to_vec() } },
        FdInfo { fd: 12, ino: 0, kind: FdKind::Unknown { fd_type: 0 } },
    ];
    for t in 9..=15 {
        want.push(FdInfo { fd: 100 + t as i64, ino: 0, kind: FdKind::Named { fd_type: t, name: vec![b'a' + t] } });
    }
    if v2 {
        want[0].kind = FdKind::File { open_flags: 0x11, name: b"/etc/passwd".to_vec(), dev: Some(0x803) };
        for t in 17..=21 {
            want.push(FdInfo { fd: 200 + t as i64, ino: 0, kind: FdKind::Named { fd_type: t, name: vec![b'A' + t] } });
        }
        want.push(FdInfo { fd: 300, ino: 0, kind: FdKind::Unknown { fd_type: 99 } });
    }
    let mut body = B::default();
    for f in &want {
        let mut e = B::default();
        e.u64(f.fd as u64).u64(f.ino).u8(f.fd_type());
        match &f.kind {
            FdKind::File { open_flags, name, dev } => {
                e.u32(*open_flags).s(name);
                if let Some(d) = dev {
                    e.u32(*d);
                }
            }
            FdKind::Ipv4Socket { sip, dip, sport, dport, l4proto } => {
                e.raw(&sip.octets()).raw(&dip.octets()).u16(*sport).u16(*dport).u8(*l4proto);
            }
            FdKind::Ipv6Socket { sip, dip, sport, dport, l4proto } => {
                e.raw(&sip.octets()).raw(&dip.octets()).u16(*sport).u16(*dport).u8(*l4proto);
            }
            FdKind::Ipv4Server { ip, port, l4proto } => {
                e.raw(&ip.octets()).u16(*port).u8(*l4proto);
            }
            FdKind::Ipv6Server { ip, port, l4proto } => {
                e.raw(&ip.octets()).u16(*port).u8(*l4proto);
            }
            FdKind::Unix { source, dest, path } => {
                e.u64(*source).u64(*dest).s(path);
            }
            FdKind::Named { name, .. } => {
                e.s(name);
            }
            FdKind::Unknown { fd_type: 99 } => {
                e.raw(b"future data");
            }
            FdKind::Unknown { .. } => {}
        }
        if v2 {
            body.u32(e.0.len() as u32 + 4);
        }
        body.raw(&e.0);
    }
    (body.0, want)
}

#[test]
fn fd_lists_v1_v2_and_every_fd_type() {
    for (code, v2) in [(block::FDL, false), (block::FDL_INT, false), (block::FDL_V2, true)] {
        let (entries, want) = fd_entries(v2);
        let mut fdl = B::default();
        fdl.u64(101).raw(&entries);
        let mut orphan = B::default();
        orphan.u64(999).raw(&entries);
        let pl = blk(block::PL_V8, &pl_entry(8, 1));
        // The fd list may come before the process list: it is attached at the end.
        let (h, _) = read(capture(&[blk(code, &fdl.0), pl, blk(code, &orphan.0)]));
        assert_eq!(h.processes[0].fds, want, "{code:#x}");
        assert_eq!(h.orphan_fds.len(), 1);
        assert_eq!((h.orphan_fds[0].tid, &h.orphan_fds[0].fds), (999, &want));
    }
    // A v2 entry longer than the fields this reader knows: the rest is skipped.
    let mut e = B::default();
    e.u64(3).u64(0).u8(fd_type::DIRECTORY).s(b"/x").raw(&[1, 2, 3, 4, 5]);
    let mut fdl = B::default();
    fdl.u64(101).u32(e.0.len() as u32 + 4).raw(&e.0).u32(e.0.len() as u32 + 4).raw(&e.0);
    let (h, _) = read(capture(&[blk(block::PL_V8, &pl_entry(8, 1)), blk(block::FDL_V2, &fdl.0)]));
    assert_eq!(h.processes[0].fds.len(), 2);
    assert_eq!(h.processes[0].fds[1].kind, FdKind::Named { fd_type: fd_type::DIRECTORY, name: b"/x".to_vec() });
}

// ---------------------------------------------------------------- interfaces, users, machine

#[test]
fn interface_lists_v1_v2() {
    let v4 = |a: u8| Ipv4Addr::new(192, 168, 0, a);
    let v6 = |a: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a);
    let mut v1 = B::default();
    // type 1: with link speed; 3: IPv4 without; 2: IPv6 with; 4: IPv6 without.
    v1.u16(1).u16(4).raw(&v4(1).octets()).raw(&v4(2).octets()).raw(&v4(3).octets()).u64(1000).raw(b"eth0");
    v1.u16(3).u16(2).raw(&v4(4).octets()).raw(&v4(5).octets()).raw(&v4(6).octets()).raw(b"lo");
    v1.u16(2).u16(4).raw(&v6(1).octets()).raw(&v6(2).octets()).raw(&v6(3).octets()).u64(10).raw(b"eth1");
    v1.u16(4).u16(3).raw(&v6(4).octets()).raw(&v6(5).octets()).raw(&v6(6).octets()).raw(b"wg0");
    let want = vec![
        InterfaceInfo {
            name: b"eth0".to_vec(),
            addr: InterfaceAddr::V4 { addr: v4(1), netmask: v4(2), bcast: v4(3) },
            linkspeed: 1000,
        },
        InterfaceInfo {
            name: b"lo".to_vec(),
            addr: InterfaceAddr::V4 { addr: v4(4), netmask: v4(5), bcast: v4(6) },
            linkspeed: 0,
        },
        InterfaceInfo {
            name: b"eth1".to_vec(),
            addr: InterfaceAddr::V6 { addr: v6(1), netmask: v6(2), bcast: v6(3) },
            linkspeed: 10,
        },
        InterfaceInfo {
            name: b"wg0".to_vec(),
            addr: InterfaceAddr::V6 { addr: v6(4), netmask: v6(5), bcast: v6(6) },
            linkspeed: 0,
        },
    ];
    for code in [block::IL, block::IL_INT] {
        let (h, _) = read(capture(&[blk(code, &v1.0)]));
        assert_eq!(h.interfaces, want, "{code:#x}");
    }
    // v2: entry length (excluding itself) first; extra bytes in an entry are skipped.
    let mut v2 = B::default();
    let mut e = B::default();
    e.u16(1).u16(4).raw(&v4(1).octets()).raw(&v4(2).octets()).raw(&v4(3).octets()).u64(1000).raw(b"eth0");
    v2.u32(e.0.len() as u32).raw(&e.0);
    let mut e = B::default();
    e.u16(2).u16(4).raw(&v6(1).octets()).raw(&v6(2).octets()).raw(&v6(3).octets()).u64(10).raw(b"eth1").raw(&[9; 6]);
    v2.u32(e.0.len() as u32).raw(&e.0);
    let (h, _) = read(capture(&[blk(block::IL_V2, &v2.0)]));
    assert_eq!(h.interfaces, vec![want[0].clone(), want[2].clone()]);
}

#[test]
fn user_lists_v1_v2() {
    let users = vec![
        UserInfo { uid: 0, gid: 0, name: b"root".to_vec(), homedir: b"/root".to_vec(), shell: b"/bin/bash".to_vec() },
        UserInfo {
            uid: 1000,
            gid: 100,
            name: b"me".to_vec(),
            homedir: b"/home/me".to_vec(),
            shell: b"/bin/sh".to_vec(),
        },
    ];
    let groups = vec![GroupInfo { gid: 0, name: b"root".to_vec() }, GroupInfo { gid: 100, name: b"users".to_vec() }];
    for (code, v2) in [(block::UL, false), (block::UL_INT, false), (block::UL_V2, true)] {
        let mut body = B::default();
        for u in &users {
            let mut e = B::default();
            e.u8(0).u32(u.uid).u32(u.gid).s(&u.name).s(&u.homedir).s(&u.shell);
            if v2 {
                body.u32(e.0.len() as u32 + 4);
            }
            body.raw(&e.0);
        }
        for g in &groups {
            let mut e = B::default();
            e.u8(1).u32(g.gid).s(&g.name);
            if v2 {
                e.raw(&[7, 7]); // future fields, skipped by length
                body.u32(e.0.len() as u32 + 4);
            }
            body.raw(&e.0);
        }
        let (h, _) = read(capture(&[blk(code, &body.0)]));
        assert_eq!((&h.users, &h.groups), (&users, &groups), "{code:#x}");
    }
}

#[test]
fn machine_info_and_section_options() {
    let mut mi = B::default();
    mi.u32(8).u64(16 << 30).u64(4_194_304);
    let mut host = [0u8; 128];
    host[..4].copy_from_slice(b"host");
    mi.raw(&host).u64(1_700_000_000_000_000_000).u64(3).u64(0).u64(0);
    assert_eq!(mi.0.len(), 180);
    let want = MachineInfo {
        num_cpus: 8,
        memory_size_bytes: 16 << 30,
        max_pid: 4_194_304,
        hostname: b"host".to_vec(),
        boot_ts_epoch: 1_700_000_000_000_000_000,
        flags: 3,
        reserved3: 0,
        reserved4: 0,
    };
    // A section header with a pcapng comment option (code 1), then end of options.
    let mut shb_opts = B::default();
    shb_opts.raw(&shb_body(0)).u16(1).u16(5).raw(b"hello\0\0\0").u16(0).u16(0);
    for code in [block::MI, block::MI_INT] {
        let mut v = blk(block::SHB, &shb_opts.0);
        v.extend(blk(code, &mi.0));
        v.extend(ev_v2_block(1, &close_event(5)));
        let (h, evs) = read(v);
        assert_eq!(h.machine.as_ref(), Some(&want));
        assert_eq!(h.section.options.len(), 16);
        assert_eq!(&h.section.options[4..9], b"hello");
        assert_eq!(evs.len(), 1);
    }
}

// ---------------------------------------------------------------- events

fn v1_block(code: u32, cpu: u16, flags: Option<u32>, ev2: &[u8]) -> Vec<u8> {
    // v2 event -> v1: drop the nparams field.
    let mut ev1 = ev2[..22].to_vec();
    ev1[16..20].copy_from_slice(&(ev2.len() as u32 - 4).to_le_bytes());
    ev1.extend_from_slice(&ev2[26..]);
    let mut b = B::default();
    b.u16(cpu);
    if let Some(f) = flags {
        b.u32(f);
    }
    b.raw(&ev1);
    blk(code, &b.0)
}

fn large_event(len: usize) -> Vec<u8> {
    let mut e = Vec::new();
    let mut b = EventBuilder::new(&mut e, 9, 1, EventType::CONTAINER_JSON_2_E);
    b.param_str(&vec![b'x'; len]);
    b.finish();
    e
}

#[test]
fn every_event_block_type() {
    let e1 = close_event(1);
    let big = large_event(100_000);
    let with_flags = |code: u32, cpu: u16, flags: u32, ev: &[u8]| {
        let mut b = B::default();
        b.u16(cpu).u32(flags).raw(ev);
        blk(code, &b.0)
    };
    let bytes = capture(&[
        v1_block(block::EV, 1, None, &e1),
        v1_block(block::EV_INT, 2, None, &e1),
        v1_block(block::EVF, 3, Some(0x11), &e1),
        ev_v2_block(4, &e1),
        with_flags(block::EVF_V2, 5, 0x22, &e1),
        {
            let mut b = B::default();
            b.u16(6).raw(&big);
            blk(block::EV_V2_LARGE, &b.0)
        },
        with_flags(block::EVF_V2_LARGE, 7, 0x33, &big),
    ]);
    let mut r = Reader::from_bytes(bytes).unwrap();
    let want: [(u16, Option<u32>, &[u8]); 7] = [
        (1, None, &e1),
        (2, None, &e1),
        (3, Some(0x11), &e1),
        (4, None, &e1),
        (5, Some(0x22), &e1),
        (6, None, &big),
        (7, Some(0x33), &big),
    ];
    for (cpu, flags, ev) in want {
        let rec = r.next_event().unwrap().unwrap();
        assert_eq!((rec.cpu, rec.dump_flags, rec.event.as_bytes()), (cpu, flags, ev));
    }
    assert!(r.next_event().unwrap().is_none());
    assert_eq!(r.stats().converted_v1_events, 3);
    assert_eq!(r.stats().events, 7);
}

#[test]
fn unknown_blocks_are_skipped_and_counted() {
    let e1 = close_event(1);
    let bytes = capture(&[blk(0x9999, b"??"), ev_v2_block(0, &e1), blk(0x7777, &[0; 40]), ev_v2_block(1, &e1)]);
    let mut r = Reader::from_bytes(bytes).unwrap();
    assert_eq!(r.header().skipped_blocks, vec![(0x9999, 28)]);
    assert_eq!(r.stats().unknown_blocks, 1);
    assert!(r.next_event().unwrap().is_some());
    assert!(r.next_event().unwrap().is_some());
    assert!(r.next_event().unwrap().is_none());
    assert_eq!(r.stats().unknown_blocks, 2);
    assert_eq!(r.header().skipped_blocks.len(), 2);
}

#[test]
fn metadata_after_the_first_event() {
    let e1 = close_event(1);
    let mut fdl = B::default();
    fdl.u64(101).u32(4 + 17 + 2 + 4).u64(7).u64(0).u8(fd_type::DIRECTORY).s(b"/dir");
    let late_pl = blk(block::PL_V8, &[pl_entry(8, 1), pl_entry(8, 5)].concat());
    let mut users = B::default();
    users.u32(4 + 1 + 4 + 2 + 3).u8(1).u32(5).s(b"grp");
    let bytes = capture(&[
        blk(block::PL_V8, &pl_entry(8, 1)),
        ev_v2_block(0, &e1),
        late_pl.clone(),
        blk(block::FDL_V2, &fdl.0),
        blk(block::UL_V2, &users.0),
        ev_v2_block(1, &e1),
        blk(block::SHB, &shb_body(2)),
        blk(block::PL_V8, &pl_entry(8, 9)),
        ev_v2_block(2, &e1),
    ]);
    // next_event merges them into the header.
    let mut r = Reader::from_bytes(bytes.clone()).unwrap();
    assert_eq!(r.header().processes.len(), 1);
    assert_eq!(r.next_event().unwrap().unwrap().cpu, 0);
    assert_eq!(r.next_event().unwrap().unwrap().cpu, 1);
    let h = r.header();
    assert_eq!(h.processes.iter().map(|p| p.tid).collect::<Vec<_>>(), [101, 105]);
    assert_eq!(h.processes[0].fds.len(), 1);
    assert_eq!(h.groups, vec![GroupInfo { gid: 5, name: b"grp".to_vec() }]);
    assert_eq!(r.stats().late_metadata_blocks, 3);
    // A new section: a new capture with its own threads.
    assert_eq!(r.next_event().unwrap().unwrap().cpu, 2);
    assert_eq!(r.header().processes.iter().map(|p| p.tid).collect::<Vec<_>>(), [109]);
    assert!(r.next_event().unwrap().is_none());

    // next_item returns them as they come.
    let mut r = Reader::from_bytes(bytes).unwrap();
    let mut kinds = Vec::new();
    while let Some(item) = r.next_item().unwrap() {
        kinds.push(match item {
            Item::Event(rec) => format!("ev{}", rec.cpu),
            Item::Metadata(m) => match m.data {
                Metadata::Processes(p) => format!("pl{}", p.len()),
                Metadata::Fds(f) => format!("fd{}", f.tid),
                Metadata::Users { groups, .. } => format!("ul{}", groups.len()),
                Metadata::Section(_) => "shb".to_string(),
                other => format!("{other:?}"),
            },
        });
    }
    assert_eq!(kinds, ["ev0", "pl2", "fd101", "ul1", "ev1", "shb", "pl1", "ev2"]);
    assert_eq!(r.header().processes.len(), 1, "next_item does not merge");
}

#[test]
fn a_capture_without_events_or_metadata() {
    let (h, evs) = read(shb());
    assert!(evs.is_empty() && h.processes.is_empty() && h.machine.is_none());
    let (h, evs) = read(capture(&[blk(block::PL_V8, &pl_entry(8, 1))]));
    assert!(evs.is_empty());
    assert_eq!(h.processes.len(), 1);
}

// ---------------------------------------------------------------- the writer

fn sample_header() -> CaptureHeader {
    let mut p = ProcessInfo {
        tid: 7,
        pid: 7,
        ptid: 1,
        sid: 7,
        vpgid: 7,
        pgid: 7,
        comm: b"bash".to_vec(),
        exe: b"-bash".to_vec(),
        exepath: b"/bin/bash".to_vec(),
        args: b"-l\0".to_vec(),
        cwd: b"/home".to_vec(),
        fdlimit: 1024,
        flags: 1,
        uid: 1000,
        gid: 1000,
        vmsize_kb: 1,
        vmrss_kb: 2,
        vmswap_kb: 3,
        pfmajor: 4,
        pfminor: 5,
        env: b"A=1\0".to_vec(),
        vtid: 7,
        vpid: 7,
        cgroups: b"cpuset=/\0".to_vec(),
        root: b"/".to_vec(),
        pidns_init_start_ts: 11,
        tty: 34816,
        loginuid: 1000,
        exe_writable: true,
        cap_inheritable: 1,
        cap_permitted: 2,
        cap_effective: 3,
        exe_upper_layer: true,
        exe_ino: 12,
        exe_ino_ctime: 13,
        exe_ino_mtime: 14,
        exe_from_memfd: true,
        exe_lower_layer: true,
        clone_ts: 0,
        fds: vec![],
    };
    let (_, fds) = fd_entries(true);
    p.fds = fds;
    CaptureHeader {
        machine: Some(MachineInfo { num_cpus: 2, hostname: b"h".to_vec(), ..Default::default() }),
        interfaces: vec![InterfaceInfo {
            name: b"lo".to_vec(),
            addr: InterfaceAddr::V4 {
                addr: Ipv4Addr::LOCALHOST,
                netmask: Ipv4Addr::new(255, 0, 0, 0),
                bcast: Ipv4Addr::LOCALHOST,
            },
            linkspeed: 0,
        }],
        users: vec![UserInfo { uid: 0, gid: 0, name: b"root".to_vec(), ..Default::default() }],
        groups: vec![GroupInfo { gid: 0, name: b"root".to_vec() }],
        processes: vec![p],
        ..Default::default()
    }
}

fn blocks_of(bytes: &[u8]) -> Vec<(u32, usize, usize)> {
    let mut v = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let t = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
        assert_eq!(len % 4, 0, "blocks are padded to 4 bytes");
        assert_eq!(bytes[off + len - 4..off + len], (len as u32).to_le_bytes());
        v.push((t, off, len));
        off += len;
    }
    v
}

#[test]
fn writer_layout_is_the_sysdig_compatible_one() {
    let h = sample_header();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    let e1 = close_event(1);
    w.write_event(3, &Event::parse(&e1).unwrap()).unwrap();
    w.write_event(3, &Event::parse(&large_event(10)).unwrap()).unwrap();
    w.write_event(3, &Event::parse(&large_event(70_000)).unwrap()).unwrap();
    w.write_event_with_flags(4, 1, &Event::parse(&e1).unwrap()).unwrap();
    w.write_event_with_flags(4, 1, &Event::parse(&large_event(10)).unwrap()).unwrap();
    let bytes = w.finish().unwrap();
    let bl = blocks_of(&bytes);
    let types: Vec<u32> = bl.iter().map(|b| b.0).collect();
    assert_eq!(
        types,
        [
            block::SHB,
            block::MI,
            block::IL_V2,
            block::UL_V2,
            block::PL_V9,
            block::FDL_V2,
            block::EV_V2,
            block::EV_V2_LARGE,
            block::EV_V2_LARGE,
            block::EVF_V2,
            block::EVF_V2_LARGE
        ]
    );
    // SHB: 28 bytes, magic, version 1.2, section length -1.
    assert_eq!(bl[0].2, 28);
    assert_eq!(bytes[8..24], shb_body(2)[..]);
    assert_eq!(bl[1].2, 192);
    // IL v2: the entry length excludes itself (24 + name).
    assert_eq!(u32::from_le_bytes(bytes[bl[2].1 + 8..bl[2].1 + 12].try_into().unwrap()), 24 + 2);
    // PL v9, compatible layout: 29 bytes after root.
    let pl = &bytes[bl[4].1 + 8..];
    let entry_len = u32::from_le_bytes(pl[..4].try_into().unwrap()) as usize;
    let v8_len = 4 + pl_entry(8, 0).len() - b"comm0".len() + b"bash".len() - b"/bin/exe".len() + b"-bash".len()
        - b"/usr/bin/exe".len()
        + b"/bin/bash".len()
        - b"-a\0-b\0".len()
        + b"-l\0".len()
        - b"/cwd".len()
        + b"/home".len()
        - b"A=1\0B=2\0".len()
        + b"A=1\0".len()
        - b"cpuset=/docker/abc\0".len()
        + b"cpuset=/\0".len()
        - b"/root".len()
        + b"/".len();
    assert_eq!(entry_len, v8_len + 29);
    // FDL v2: types 17..=21 and unknown ones written as UNSUPPORTED, UNKNOWN (0) dropped.
    let (h2, evs) = read(bytes.clone());
    let fds = &h2.processes[0].fds;
    assert_eq!(fds.len(), h.processes[0].fds.len() - 1);
    assert!(fds.iter().all(|f| f.fd_type() <= fd_type::FILE_V2 && f.fd_type() != fd_type::UNKNOWN));
    // 10 itself, 17..=21 and 99.
    assert_eq!(fds.iter().filter(|f| f.fd_type() == fd_type::UNSUPPORTED).count(), 7);
    assert!(fds.contains(&FdInfo {
        fd: 300,
        ino: 0,
        kind: FdKind::Named { fd_type: fd_type::UNSUPPORTED, name: b"unknown-type:[99]".to_vec() }
    }));
    assert_eq!(evs.len(), 5);
    assert_eq!(evs[3].1, Some(1));
    // The compatible layout keeps loginuid, exe_writable and the capabilities only.
    let p = &h2.processes[0];
    assert_eq!((p.loginuid, p.exe_writable, p.cap_effective), (1000, true, 3));
    assert_eq!((p.tty, p.pidns_init_start_ts, p.exe_ino, p.pgid), (0, 0, 0, -1));
}

#[test]
fn the_current_layout_keeps_every_field() {
    let h = sample_header();
    let mut w = Writer::with_options(
        Vec::new(),
        WriteOptions { proclist_layout: ProcListLayout::Current, ..Default::default() },
    );
    w.write_header(&h).unwrap();
    let (h2, _) = read(w.finish().unwrap());
    let mut want = h.processes[0].clone();
    want.fds.retain(|f| f.kind != FdKind::Unknown { fd_type: 0 });
    for f in &mut want.fds {
        match &mut f.kind {
            FdKind::Named { fd_type: t, .. } if *t > fd_type::FILE_V2 => *t = fd_type::UNSUPPORTED,
            FdKind::Unknown { fd_type: t } => {
                f.kind =
                    FdKind::Named { fd_type: fd_type::UNSUPPORTED, name: format!("unknown-type:[{t}]").into_bytes() }
            }
            _ => {}
        }
    }
    assert_eq!(h2.processes, vec![want]);
    assert_eq!((h2.machine, h2.interfaces, h2.users, h2.groups), (h.machine, h.interfaces, h.users, h.groups));
}

#[test]
fn writer_refuses_what_readers_would_reject() {
    // A non-large event longer than 64 KiB cannot go in a 0x216 block.
    let mut e = Vec::new();
    let mut b = EventBuilder::new(&mut e, 1, 1, EventType::SYSCALL_WRITE_X);
    b.param_i64(65_000).param_raw(&[0u8; 65_000]);
    b.finish();
    let mut big = Vec::new();
    let mut b = EventBuilder::new(&mut big, 1, 1, EventType::SYSCALL_EXECVE_19_X);
    b.param_i64(0).param_str(&[b'a'; 40_000]).param_raw(&[b'b'; 40_000]);
    b.finish();
    let mut w = Writer::new(Vec::new());
    w.write_header(&CaptureHeader::default()).unwrap();
    w.write_event(0, &Event::parse(&e).unwrap()).unwrap();
    let err = w.write_event(0, &Event::parse(&big).unwrap()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("64 KiB"), "{err}");
    let (_, evs) = read(w.finish().unwrap());
    assert_eq!(evs.len(), 1);

    // Over-long strings are truncated to what libs' readers accept.
    let mut h = CaptureHeader::default();
    h.processes.push(ProcessInfo { tid: 1, comm: vec![b'c'; 5000], env: vec![b'e'; 9000], ..Default::default() });
    h.users.push(UserInfo { name: vec![b'u'; 300], ..Default::default() });
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    let (h2, _) = read(w.finish().unwrap());
    assert_eq!((h2.processes[0].comm.len(), h2.processes[0].env.len()), (1024, 4096));
    assert_eq!(h2.users[0].name.len(), 255);
}

#[test]
fn an_empty_writer_still_writes_a_section_header() {
    let bytes = Writer::new(Vec::new()).finish().unwrap();
    assert_eq!(bytes.len(), 28);
    let (h, evs) = read(bytes);
    assert!(evs.is_empty());
    assert_eq!(h.section, saker_scap::SectionHeader::default());
}

#[test]
fn reader_and_writer_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Reader>();
    send::<Writer<std::io::BufWriter<std::fs::File>>>();
    send::<saker_scap::Error>();
    fn sync<T: Sync>() {}
    sync::<saker_scap::Error>();
}
