//! Unit tests of the field classes on hand-built states and events.
//!
//! The fixture is a small machine: `systemd` (1) started `bash` (100, user
//! alice, on a terminal), which started `cat` (200, with a second thread
//! 201) holding a file, a TCP connection, a listening socket and a unix
//! socket; `nginx` (300) runs in a docker container described by a
//! container event.

use std::net::{IpAddr, Ipv4Addr};

use jiff::tz::TimeZone;
use saker_abi::{Event, EventBuilder, EventType};
use saker_scap::{CaptureHeader, FdInfo, FdKind, GroupInfo, ProcessInfo, UserInfo};
use saker_state::{Limits, State};

use super::*;
use crate::Format;
use crate::state::NoState;

const CID: &str = "697956520d891b5cb0e215093970c733549a3f745f52263c05b37f8a488994f3";

fn process(tid: u64, pid: u64, ptid: u64, comm: &str) -> ProcessInfo {
    ProcessInfo {
        tid,
        pid,
        ptid,
        sid: 100,
        vpgid: pid,
        comm: comm.into(),
        exe: comm.into(),
        exepath: format!("/usr/bin/{comm}").into_bytes(),
        cwd: b"/".to_vec(),
        fdlimit: 1024,
        vtid: tid as i64,
        vpid: pid as i64,
        loginuid: u32::MAX,
        ..ProcessInfo::default()
    }
}

fn header() -> CaptureHeader {
    let init = ProcessInfo { sid: 1, ..process(1, 1, 0, "systemd") };
    let bash = ProcessInfo {
        exe: b"-bash".to_vec(),
        args: b"-l\0".to_vec(),
        env: b"HOME=/home/alice\0TERM=xterm\0".to_vec(),
        cwd: b"/home/alice".to_vec(),
        cgroups: b"cpu=/user.slice\0io=/user.slice\0".to_vec(),
        tty: 34816,
        uid: 1000,
        gid: 50,
        loginuid: 1000,
        ..process(100, 100, 1, "bash")
    };
    let file =
        FdInfo { fd: 3, ino: 7, kind: FdKind::File { open_flags: 1, name: b"/etc/passwd".to_vec(), dev: Some(0x803) } };
    let tcp = FdInfo {
        fd: 4,
        ino: 8,
        kind: FdKind::Ipv4Socket {
            sip: Ipv4Addr::new(10, 0, 0, 1),
            dip: Ipv4Addr::new(93, 184, 216, 34),
            sport: 40000,
            dport: 80,
            l4proto: saker_state::l4::TCP,
        },
    };
    let listen = FdInfo {
        fd: 5,
        ino: 9,
        kind: FdKind::Ipv4Server { ip: Ipv4Addr::UNSPECIFIED, port: 8080, l4proto: saker_state::l4::TCP },
    };
    let unix =
        FdInfo { fd: 6, ino: 10, kind: FdKind::Unix { source: 0xab, dest: 0xcd, path: b"/run/x.sock".to_vec() } };
    let cat = ProcessInfo {
        args: b"/etc/passwd\0".to_vec(),
        // Padded with NULs, as the kernel may report it.
        env: b"HOME=/home/alice\0\0\0".to_vec(),
        cwd: b"/tmp".to_vec(),
        uid: 1000,
        gid: 50,
        loginuid: 1000,
        cap_permitted: 0b1_0000_0001,
        cap_effective: 1 << 21,
        exe_writable: true,
        fds: vec![file, tcp, listen, unix],
        ..process(200, 200, 100, "cat")
    };
    let cat_thread = ProcessInfo { fds: Vec::new(), ..process(201, 200, 100, "cat") };
    let nginx =
        ProcessInfo { cgroups: format!("cpu=/docker/{CID}\0").into_bytes(), uid: 33, ..process(300, 300, 1, "nginx") };
    CaptureHeader {
        users: vec![
            UserInfo {
                uid: 0,
                gid: 0,
                name: b"root".to_vec(),
                homedir: b"/root".to_vec(),
                shell: b"/bin/bash".to_vec(),
            },
            UserInfo {
                uid: 1000,
                gid: 50,
                name: b"alice".to_vec(),
                homedir: b"/home/alice".to_vec(),
                shell: b"/bin/zsh".to_vec(),
            },
        ],
        groups: vec![GroupInfo { gid: 0, name: b"root".to_vec() }, GroupInfo { gid: 50, name: b"staff".to_vec() }],
        processes: vec![init, bash, cat, cat_thread, nginx],
        ..CaptureHeader::default()
    }
}

/// The fixture's state, after a container event describing nginx's container.
fn state() -> State {
    let mut s = State::from_capture(&header(), &Limits::default());
    let json = format!(
        r#"{{"container":{{"id":"{}","name":"web","image":"nginx:latest","imageid":"f68d6e55e065","imagerepo":"nginx","imagetag":"latest","privileged":true,"type":0,"Mounts":[]}}}}"#,
        &CID[..12]
    );
    let mut buf = Vec::new();
    let mut b = EventBuilder::new(&mut buf, 1, 300, EventType::CONTAINER_JSON_E);
    b.param_str(json.as_bytes());
    b.finish();
    s.apply(&Event::parse(&buf).unwrap(), 0);
    s
}

/// An event of type `ty` by thread `tid` at time 1.5 s after the epoch
/// second 1_500_000_000, its parameters written by `f`.
fn event(ty: EventType, tid: u64, f: impl FnOnce(&mut EventBuilder<'_>)) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = EventBuilder::new(&mut buf, 1_500_000_000_500_000_123, tid, ty);
    f(&mut b);
    b.finish();
    buf
}

/// Applies `bytes` to `s`, then renders `field` on it as a `-p` format would.
fn show(s: &mut State, bytes: &[u8], field: &str) -> Option<String> {
    let ev = Event::parse(bytes).unwrap();
    s.apply(&ev, 0);
    render(s, &ev, field)
}

fn render(s: &dyn StateView, ev: &Event<'_>, field: &str) -> Option<String> {
    let time = TimeFormatter::new(TimeZone::UTC);
    let ctx = EventContext { event: *ev, num: 7, cpu: 3, time: &time, state: s };
    let f = Field::parse(field).unwrap_or_else(|e| panic!("{field}: {e}"));
    let mut out = Vec::new();
    f.write(&ctx, &mut out).then(|| String::from_utf8(out).unwrap())
}

fn extract(s: &dyn StateView, ev: &Event<'_>, field: &str) -> Option<String> {
    let time = TimeFormatter::new(TimeZone::UTC);
    let ctx = EventContext { event: *ev, num: 7, cpu: 3, time: &time, state: s };
    let f = Field::parse(field).unwrap();
    let mut scratch = Vec::new();
    f.extract(&ctx, &mut scratch).map(|v| format!("{v:?}"))
}

fn read_enter(tid: u64, fd: i64) -> Vec<u8> {
    event(EventType::SYSCALL_READ_E, tid, |b| {
        b.param_i64(fd).param_u64(100);
    })
}

#[test]
fn registry_names_are_unique_and_parse_back() {
    let mut names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate field names");
    for f in FIELDS {
        let text = match (f.arg, f.syntax) {
            (ArgKind::Required, ArgSyntax::Dot) if f.name == "evt.type.is" => format!("{}.open", f.name),
            (ArgKind::Required, ArgSyntax::Dot) if f.name.starts_with("evt.") => format!("{}.fd", f.name),
            (ArgKind::Required, ArgSyntax::Dot) => format!("{}.cpu", f.name),
            (ArgKind::Required, _) => format!("{}[0]", f.name),
            _ => f.name.to_string(),
        };
        let parsed = Field::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.info().name, f.name);
        assert!(!f.desc.is_empty() && f.desc.ends_with('.') || f.desc.ends_with(')'), "{}: {}", f.name, f.desc);
    }
}

#[test]
fn every_field_of_the_falco_rules_is_known() {
    // The fields the Falco rules files use (shared/data/event-tables/rule-fields.tsv).
    let rule_fields = [
        "proc.name",
        "fd.name",
        "proc.cmdline",
        "proc.pname",
        "evt.type",
        "user.name",
        "proc.aname[2]",
        "user.uid",
        "proc.tty",
        "user.loginuid",
        "proc.exepath",
        "container.image.repository",
        "proc.args",
        "evt.arg.flags",
        "proc.pcmdline",
        "fd.directory",
        "fd.typechar",
        "fd.l4proto",
        "fd.type",
        "fd.lport",
        "fd.rport",
        "evt.arg.path",
        "evt.res",
        "proc.pexe",
        "evt.arg.name",
        "container.mount.dest[/var/run/docker.sock]",
        "evt.arg.oldpath",
        "proc.exe",
        "thread.cap_permitted",
        "evt.rawres",
        "evt.arg.uid",
        "evt.arg.newpath",
        "fd.num",
        "k8s.ns.name",
        "fd.net",
        "fd.sport",
        "evt.arg.mode",
        "fd.ip",
        "evt.arg.request",
        "proc.cwd",
        "container.id",
        "fd.sip.name",
        "fd.sip",
        "evt.is_open_read",
        "fd.filename",
        "thread.cap_effective",
        "fd.connected",
        "fd.name_changed",
        "fd.snet",
        "proc.env",
        "evt.arg.filename",
        "evt.is_open_write",
        "evt.num",
        "fd.nameraw",
        "evt.arg.target",
        "container.privileged",
        "proc.vpid",
        "evt.arg.cmd",
        "proc.pexepath",
        "evt.args",
        "group.gid",
        "group.name",
        "user.loginname",
        "proc.sname",
        "fd.cip.name",
        "proc.duration",
        "evt.arg.linkpath",
        "evt.arg.domain",
        "proc.aexepath[1]",
        "proc.is_exe_upper_layer",
        "proc.exe_ino.ctime",
        "proc.exe_ino.mtime",
        "proc.exe_ino.ctime_duration_proc_start",
        "proc.is_exe_from_memfd",
        "proc.aexe[2]",
        "fd.sockfamily",
        "fd.port",
        "evt.arg.fd",
        "fd.rnet",
        "fd.rip.name",
        "fd.lip.name",
        "fd.cip",
        "fd.cnet",
        "k8s.pod.name",
        "container.mounts",
        "fd.rip",
        "evt.is_open_exec",
        "evt.buffer",
        "proc.is_vpgid_leader",
        "evt.time",
        "evt.dir",
        "evt.category",
        "evt.arg[0]",
        "evt.rawarg.size",
        "evt.info",
        "proc.pid",
        "proc.ppid",
        "proc.sid",
        "proc.pidns_init_start_ts",
        "proc.loginshellid",
        "proc.is_exe_writable",
        "thread.tid",
        "thread.vtid",
        "thread.cap_inheritable",
        "fd.cport",
        "fd.sproto",
        "fd.is_server",
        "fd.dev",
        "fd.ino",
        "user.homedir",
        "user.shell",
        "container.name",
        "container.image",
        "container.image.tag",
        "container.type",
        "fd.lip",
        "proc.aname",
        "proc.apid",
    ];
    for name in rule_fields {
        Field::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn parse_errors_name_the_problem() {
    let e = Field::parse("proc.nmae").unwrap_err();
    assert!(matches!(&e, FieldError::Unknown { suggestions, .. } if suggestions.contains(&"proc.name")), "{e}");
    // A 1 MiB token gets its error at once, without suggestions (none can be close).
    let long = "a.".repeat(512 << 10);
    let t = std::time::Instant::now();
    let e = Field::parse_prefix(&long).unwrap_err();
    assert!(matches!(&e, FieldError::Unknown { suggestions, .. } if suggestions.is_empty()));
    assert!(t.elapsed().as_secs() < 2, "{:?}", t.elapsed());
    let e = Field::parse("evt.arg").unwrap_err().to_string();
    assert!(e.contains("needs an argument"), "{e}");
    let e = Field::parse("evt.arg.nosuchparam").unwrap_err().to_string();
    assert!(e.contains("unknown event argument 'nosuchparam'"), "{e}");
    let e = Field::parse("proc.aname[x]").unwrap_err().to_string();
    assert!(e.contains("not a number"), "{e}");
    let e = Field::parse("thread.cgroup").unwrap_err().to_string();
    assert!(e.contains("thread.cgroup.SUBSYSTEM"), "{e}");
    // Longest prefix, as sysdig: the rest of the text is not part of the field.
    let (f, used) = Field::parse_prefix("proc.names").unwrap();
    assert_eq!((f.info().name, used), ("proc.name", 9));
    let (f, used) = Field::parse_prefix("evt.arg.flags)").unwrap();
    assert_eq!((f.info().name, used), ("evt.arg", 13));
    let (f, used) = Field::parse_prefix("proc.aname[2] x").unwrap();
    assert_eq!((f.info().name, used), ("proc.aname", 13));
    assert!(Field::parse("proc.aname[2]x").is_err());
}

#[test]
fn types_as_sysdig_lists_them() {
    let ty = |n: &str| Field::parse(n).unwrap().info().type_name();
    assert_eq!(ty("proc.tty"), "INT32");
    assert_eq!(ty("proc.duration"), "RELTIME");
    assert_eq!(ty("fd.sport"), "PORT");
    assert_eq!(ty("fd.net"), "IPNET");
    assert_eq!(ty("evt.cpu"), "INT16");
    assert_eq!(ty("evt.buffer"), "BYTEBUF");
    assert_eq!(Field::parse("fd.sport").unwrap().ty(), FieldType::Uint64);
    assert_eq!(Field::parse("proc.tty").unwrap().ty(), FieldType::Int64);
    assert_eq!(Field::parse("fd.cip").unwrap().ty(), FieldType::IpAddr);
    // evt.rawarg takes the type of the first event parameter of that name.
    assert_eq!(Field::parse("evt.rawarg.res").unwrap().ty(), FieldType::Int64);
    assert_eq!(Field::parse("evt.rawarg.name").unwrap().ty(), FieldType::String);
    assert!(Field::parse("fd.ip").unwrap().info().filter_only());
    assert!(Field::parse("proc.pexe").unwrap().info().is_new());
    assert!(!Field::parse("proc.name").unwrap().info().is_new());
}

mod evt_fields {
    use super::*;

    #[test]
    fn time_fields() {
        let mut s = state();
        let e = read_enter(200, 3);
        assert_eq!(show(&mut s, &e, "evt.time").unwrap(), "02:40:00.500000123");
        assert_eq!(show(&mut s, &e, "evt.time.s").unwrap(), "02:40:00");
        assert_eq!(show(&mut s, &e, "evt.datetime").unwrap(), "2017-07-14 02:40:00.500000123");
        assert_eq!(show(&mut s, &e, "evt.datetime.s").unwrap(), "2017-07-14 02:40:00");
        assert_eq!(show(&mut s, &e, "evt.time.iso8601").unwrap(), "2017-07-14T02:40:00.500000123+0000");
        assert_eq!(show(&mut s, &e, "evt.rawtime").unwrap(), "1500000000500000123");
        assert_eq!(show(&mut s, &e, "evt.rawtime.s").unwrap(), "1500000000");
        assert_eq!(show(&mut s, &e, "evt.rawtime.ns").unwrap(), "500000123");
        assert_eq!(show(&mut s, &e, "evt.num").unwrap(), "7");
        assert_eq!(show(&mut s, &e, "evt.cpu").unwrap(), "3");
    }

    #[test]
    fn deltatime_counts_from_the_previous_extraction() {
        let s = state();
        let time = TimeFormatter::new(TimeZone::UTC);
        let f = Field::parse("evt.deltatime").unwrap();
        let mut out = Vec::new();
        for (ts, want) in [(1_000u64, "0"), (1_500, "500"), (4_000, "2500")] {
            let mut buf = Vec::new();
            EventBuilder::new(&mut buf, ts, 200, EventType::SYSCALL_GETUID_E).finish();
            let ev = Event::parse(&buf).unwrap();
            let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
            out.clear();
            assert!(f.write(&ctx, &mut out));
            assert_eq!(out, want.as_bytes());
        }
    }

    #[test]
    fn type_dir_category() {
        let mut s = state();
        let e = read_enter(200, 3);
        assert_eq!(show(&mut s, &e, "evt.type").unwrap(), "read");
        assert_eq!(show(&mut s, &e, "evt.dir").unwrap(), ">");
        assert_eq!(show(&mut s, &e, "syscall.type").unwrap(), "read");
        // I/O events take their category from the fd.
        assert_eq!(show(&mut s, &e, "evt.category").unwrap(), "file");
        assert_eq!(show(&mut s, &read_enter(200, 4), "evt.category").unwrap(), "net");
        assert_eq!(show(&mut s, &read_enter(200, 6), "evt.category").unwrap(), "ipc");
        assert_eq!(show(&mut s, &read_enter(200, 99), "evt.category").unwrap(), "unknown");
        let open = event(EventType::SYSCALL_OPEN_E, 200, |b| {
            b.param_str(b"/etc/hosts").param_u64(1).param_u64(0);
        });
        assert_eq!(show(&mut s, &open, "evt.category").unwrap(), "file");
        assert_eq!(show(&mut s, &open, "evt.type.is.open").unwrap(), "1");
        assert_eq!(show(&mut s, &open, "evt.type.is.read").unwrap(), "0");
        // Generic events: the syscall's name and category.
        let generic = event(EventType::GENERIC_E, 200, |b| {
            b.param_u64(140).param_u64(186);
        });
        assert_eq!(show(&mut s, &generic, "evt.type").unwrap(), "gettid");
        assert_eq!(show(&mut s, &generic, "evt.category").unwrap(), "process");
        assert_eq!(show(&mut s, &generic, "evt.args").unwrap(), "");
        let switch = event(EventType::SCHEDSWITCH_6_E, 200, |b| {
            b.param_i64(100);
        });
        assert_eq!(show(&mut s, &switch, "syscall.type"), None);
        assert_eq!(show(&mut s, &switch, "evt.category").unwrap(), "scheduler");
    }

    #[test]
    fn arguments_result_and_flags() {
        let mut s = state();
        let open_x = event(EventType::SYSCALL_OPEN_X, 200, |b| {
            b.param_i64(7).param_str(b"/etc/hosts").param_u64(4097).param_u64(0o755);
        });
        assert_eq!(show(&mut s, &open_x, "evt.arg.fd").unwrap(), "<f>/etc/hosts");
        assert_eq!(show(&mut s, &open_x, "evt.arg[0]").unwrap(), "<f>/etc/hosts");
        assert_eq!(show(&mut s, &open_x, "evt.arg.flags").unwrap(), "O_RDONLY|O_CLOEXEC");
        assert_eq!(show(&mut s, &open_x, "evt.rawarg.flags").unwrap(), "4097");
        assert_eq!(show(&mut s, &open_x, "evt.res").unwrap(), "SUCCESS");
        assert_eq!(show(&mut s, &open_x, "evt.rawres").unwrap(), "7");
        assert_eq!(show(&mut s, &open_x, "evt.failed").unwrap(), "false");
        assert_eq!(show(&mut s, &open_x, "evt.count.error"), None);
        assert_eq!(show(&mut s, &open_x, "evt.count.exit").unwrap(), "1");
        assert_eq!(show(&mut s, &open_x, "evt.is_open_read").unwrap(), "true");
        assert_eq!(show(&mut s, &open_x, "evt.is_open_write").unwrap(), "false");
        assert_eq!(show(&mut s, &open_x, "evt.is_open_exec").unwrap(), "false");
        assert_eq!(show(&mut s, &open_x, "evt.arg.size"), None);
        let failed = event(EventType::SYSCALL_OPEN_X, 200, |b| {
            b.param_i64(-2).param_str(b"rel/x").param_u64(4 | 2).param_u64(0o700);
        });
        assert_eq!(show(&mut s, &failed, "evt.res").unwrap(), "ENOENT");
        assert_eq!(show(&mut s, &failed, "evt.rawres").unwrap(), "-2");
        assert_eq!(show(&mut s, &failed, "evt.failed").unwrap(), "true");
        assert_eq!(show(&mut s, &failed, "evt.count.error").unwrap(), "1");
        assert_eq!(show(&mut s, &failed, "evt.count.error.file").unwrap(), "1");
        assert_eq!(show(&mut s, &failed, "evt.count.error.net"), None);
        assert_eq!(show(&mut s, &failed, "evt.is_open_write").unwrap(), "true");
        assert_eq!(show(&mut s, &failed, "evt.is_open_exec").unwrap(), "true");
        assert_eq!(show(&mut s, &failed, "evt.arg.name").unwrap(), "/tmp/rel/x");
        assert_eq!(show(&mut s, &failed, "evt.rawarg.name").unwrap(), "rel/x");
    }

    #[test]
    fn io_fields() {
        let mut s = state();
        let e = read_enter(200, 3);
        assert_eq!(show(&mut s, &e, "evt.is_io").unwrap(), "true");
        assert_eq!(show(&mut s, &e, "evt.is_io_read").unwrap(), "true");
        assert_eq!(show(&mut s, &e, "evt.is_io_write").unwrap(), "false");
        assert_eq!(show(&mut s, &e, "evt.io_dir").unwrap(), "read");
        assert_eq!(show(&mut s, &e, "evt.is_wait").unwrap(), "false");
        assert_eq!(show(&mut s, &e, "evt.buflen"), None, "enter events have no buffer length");
        // A current read exit carries its fd.
        let x = event(EventType::SYSCALL_READ_X, 200, |b| {
            b.param_i64(5).param_raw(b"ab\0\ncd").param_i64(3).param_u64(100);
        });
        assert_eq!(show(&mut s, &x, "evt.buflen").unwrap(), "5");
        assert_eq!(show(&mut s, &x, "evt.buffer").unwrap(), "ab..cd");
        let ev = Event::parse(&x).unwrap();
        assert_eq!(extract(&s, &ev, "evt.buffer").unwrap(), format!("{:?}", FieldValue::Str(b"ab\0\ncd")));
        assert_eq!(show(&mut s, &x, "fd.name").unwrap(), "/etc/passwd");
    }

    #[test]
    fn abspath_of_at_calls() {
        let mut s = state();
        let x = event(EventType::SYSCALL_RENAMEAT_X, 200, |b| {
            b.param_i64(0).param_i64(-100).param_str(b"a/../b").param_i64(3).param_str(b"c");
        });
        assert_eq!(show(&mut s, &x, "evt.abspath").unwrap(), "/tmp/b");
        assert_eq!(show(&mut s, &x, "evt.abspath.src").unwrap(), "/tmp/b");
        // The new directory fd is a file: its name, then the path.
        assert_eq!(show(&mut s, &x, "evt.abspath.dst").unwrap(), "/etc/passwd/c");
        assert_eq!(show(&mut s, &read_enter(200, 3), "evt.abspath"), None);
    }

    #[test]
    fn latency_needs_the_enter_time() {
        let mut s = state();
        assert_eq!(show(&mut s, &read_enter(200, 3), "evt.latency").unwrap(), "0");
        assert_eq!(show(&mut s, &read_enter(200, 3), "evt.latency.human").unwrap(), "0ns");
        // Unknown threads have latency 0.
        assert_eq!(show(&mut s, &read_enter(999_999, 3), "evt.latency").unwrap(), "0");
    }
}

mod proc_fields {
    use super::*;

    #[test]
    fn process_and_command_line() {
        let mut s = state();
        let e = read_enter(201, 3);
        let p = |s: &mut State, f: &str| show(s, &e, f);
        assert_eq!(p(&mut s, "proc.pid").unwrap(), "200");
        assert_eq!(p(&mut s, "thread.tid").unwrap(), "201");
        assert_eq!(p(&mut s, "thread.ismain").unwrap(), "false");
        assert_eq!(p(&mut s, "proc.name").unwrap(), "cat");
        assert_eq!(p(&mut s, "proc.exe").unwrap(), "cat");
        assert_eq!(p(&mut s, "proc.exepath").unwrap(), "/usr/bin/cat");
        assert_eq!(p(&mut s, "proc.cwd").unwrap(), "/tmp/");
        assert_eq!(p(&mut s, "proc.nthreads").unwrap(), "2");
        assert_eq!(p(&mut s, "proc.fdopencount").unwrap(), "4");
        assert_eq!(p(&mut s, "proc.fdlimit").unwrap(), "1024");
        let main = read_enter(200, 3);
        // The NUL padding after the last variable is not an empty variable.
        assert_eq!(show(&mut s, &main, "proc.env").unwrap(), "HOME=/home/alice");
        assert_eq!(show(&mut s, &main, "proc.is_exe_writable").unwrap(), "true");
        assert_eq!(show(&mut s, &main, "thread.cap_permitted").unwrap(), "CAP_CHOWN CAP_SETPCAP");
        assert_eq!(show(&mut s, &main, "thread.cap_effective").unwrap(), "CAP_SYS_ADMIN");
        assert_eq!(p(&mut s, "thread.cap_inheritable").unwrap(), "");
        let e = read_enter(100, 0);
        let p = |s: &mut State, f: &str| show(s, &e, f);
        assert_eq!(p(&mut s, "proc.args").unwrap(), "-l");
        assert_eq!(p(&mut s, "proc.cmdline").unwrap(), "bash -l");
        assert_eq!(p(&mut s, "proc.exeline").unwrap(), "-bash -l");
        assert_eq!(p(&mut s, "proc.env").unwrap(), "HOME=/home/alice TERM=xterm");
        assert_eq!(p(&mut s, "proc.env[TERM]").unwrap(), "xterm");
        assert_eq!(p(&mut s, "proc.env[NOPE]").unwrap(), "");
        assert_eq!(p(&mut s, "proc.tty").unwrap(), "34816");
        assert_eq!(p(&mut s, "proc.cmdnargs").unwrap(), "1");
        assert_eq!(p(&mut s, "proc.cmdlenargs").unwrap(), "2");
        // cgroup v2's io is named blkio, as in libsinsp.
        assert_eq!(p(&mut s, "thread.cgroups").unwrap(), "cpu=/user.slice blkio=/user.slice");
        assert_eq!(p(&mut s, "thread.cgroup.blkio").unwrap(), "/user.slice");
        assert_eq!(p(&mut s, "thread.cgroup.memory"), None);
    }

    #[test]
    fn parents_and_ancestors() {
        let mut s = state();
        let e = read_enter(201, 3);
        let p = |s: &mut State, f: &str| show(s, &e, f);
        assert_eq!(p(&mut s, "proc.ppid").unwrap(), "100");
        assert_eq!(p(&mut s, "proc.pname").unwrap(), "bash");
        assert_eq!(p(&mut s, "proc.pcmdline").unwrap(), "bash -l");
        assert_eq!(p(&mut s, "proc.pexe").unwrap(), "-bash");
        assert_eq!(p(&mut s, "proc.aname[0]").unwrap(), "cat");
        assert_eq!(p(&mut s, "proc.aname[1]").unwrap(), "bash");
        assert_eq!(p(&mut s, "proc.aname[2]").unwrap(), "systemd");
        assert_eq!(p(&mut s, "proc.aname[3]"), None);
        assert_eq!(p(&mut s, "proc.apid[2]").unwrap(), "1");
        assert_eq!(p(&mut s, "proc.acmdline[1]").unwrap(), "bash -l");
        assert_eq!(p(&mut s, "proc.aexepath[1]").unwrap(), "/usr/bin/bash");
        // Without index, a format shows the process itself (as sysdig).
        assert_eq!(p(&mut s, "proc.aname").unwrap(), "cat");
        assert_eq!(p(&mut s, "proc.loginshellid").unwrap(), "100");
        // The session leader is the process whose pid is the session id.
        assert_eq!(p(&mut s, "proc.sname").unwrap(), "bash");
        assert_eq!(p(&mut s, "proc.sid.exe").unwrap(), "-bash");
        assert_eq!(p(&mut s, "proc.aenv[HOME]").unwrap(), "/home/alice");
    }

    #[test]
    fn any_ancestor_values() {
        let s = state();
        let e = read_enter(201, 3);
        let ev = Event::parse(&e).unwrap();
        let time = TimeFormatter::new(TimeZone::UTC);
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
        let mut scratch = Vec::new();
        let aname = Field::parse("proc.aname").unwrap();
        assert!(aname.is_multi());
        let mut seen = Vec::new();
        assert!(!aname.for_each_value(&ctx, &mut scratch, |v| {
            seen.push(format!("{v:?}"));
            false
        }));
        assert_eq!(seen, [format!("{:?}", FieldValue::Str(b"bash")), format!("{:?}", FieldValue::Str(b"systemd"))]);
        // Stops at the first hit; the process itself is not an ancestor.
        assert!(aname.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Str(b"bash")));
        assert!(!aname.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Str(b"cat")));
        let apid = Field::parse("proc.apid").unwrap();
        assert!(apid.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Int(1)));
        let acmd = Field::parse("proc.acmdline").unwrap();
        assert!(acmd.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Str(b"bash -l")));
        // With an index, one value.
        let a1 = Field::parse("proc.aname[1]").unwrap();
        assert!(!a1.is_multi());
        let mut n = 0;
        a1.for_each_value(&ctx, &mut scratch, |_| {
            n += 1;
            false
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn virtual_ids_and_unknown_threads() {
        let mut s = state();
        let e = read_enter(100, 0);
        assert_eq!(show(&mut s, &e, "proc.vpid").unwrap(), "100");
        assert_eq!(show(&mut s, &e, "thread.vtid").unwrap(), "100");
        assert_eq!(show(&mut s, &e, "proc.is_vpgid_leader").unwrap(), "true");
        assert_eq!(show(&mut s, &e, "proc.duration"), None, "start time unknown");
        // A thread first seen in an event is a placeholder: name <NA>.
        let e = read_enter(4242, 0);
        assert_eq!(show(&mut s, &e, "proc.name").unwrap(), "<NA>");
        assert_eq!(show(&mut s, &e, "proc.pname"), None);
        // No state at all: no thread, only the event's own fields.
        let ev = Event::parse(&e).unwrap();
        assert_eq!(render(&NoState, &ev, "proc.name"), None);
        assert_eq!(render(&NoState, &ev, "thread.tid").unwrap(), "4242");
    }
}

mod fd_fields {
    use super::*;

    #[test]
    fn files() {
        let mut s = state();
        let e = read_enter(201, 3);
        let p = |s: &mut State, f: &str| show(s, &e, f);
        assert_eq!(p(&mut s, "fd.num").unwrap(), "3");
        assert_eq!(p(&mut s, "fd.type").unwrap(), "file");
        assert_eq!(p(&mut s, "fd.typechar").unwrap(), "f");
        assert_eq!(p(&mut s, "fd.name").unwrap(), "/etc/passwd");
        assert_eq!(p(&mut s, "fd.directory").unwrap(), "/etc");
        assert_eq!(p(&mut s, "fd.filename").unwrap(), "passwd");
        assert_eq!(p(&mut s, "fd.ino").unwrap(), "7");
        assert_eq!(p(&mut s, "fd.dev").unwrap(), "803");
        assert_eq!(p(&mut s, "fd.dev.major").unwrap(), "8");
        assert_eq!(p(&mut s, "fd.dev.minor").unwrap(), "3");
        assert_eq!(p(&mut s, "fd.uid").unwrap(), "2013");
        assert_eq!(p(&mut s, "fd.containername").unwrap(), ":/etc/passwd");
        assert_eq!(p(&mut s, "fd.sockfamily"), None);
        assert_eq!(p(&mut s, "fd.types").unwrap(), "(file,ipv4,unix)");
        assert_eq!(p(&mut s, "fd.types[4]").unwrap(), "(ipv4)");
        // An event about no fd has no fd fields.
        let getuid = event(EventType::SYSCALL_GETUID_E, 200, |_| {});
        assert_eq!(show(&mut s, &getuid, "fd.num"), None);
        assert_eq!(show(&mut s, &getuid, "fd.name"), None);
    }

    /// Exits as captures written before exit events carried their fd have
    /// them: the fd is the one the thread's last enter event named
    /// (libsinsp's `m_lastevent_fd`), as sysdig 0.29.3 shows it.
    #[test]
    fn fds_of_exits_without_their_fd() {
        let mut s = state();
        // setsockopt's enter event has no parameters: its exit works on fd
        // -1, which is in no table.
        let enter = event(EventType::SOCKET_SETSOCKOPT_E, 200, |_| {});
        let mut buf = Vec::new();
        EventBuilder::with_nparams(&mut buf, 1, 200, EventType::SOCKET_SETSOCKOPT_X, 0).finish();
        let exit = buf;
        assert_eq!(show(&mut s, &enter, "fd.num"), None, "the enter event uses no fd");
        let ev = Event::parse(&exit).unwrap();
        s.apply(&ev, 0);
        for (field, value) in [
            ("fd.num", Some("-1")),
            ("fd.typechar", Some("o")),
            ("fd.name", Some("")),
            ("fd.directory", Some("/")),
            ("fd.containername", Some(":")),
            ("fd.containerdirectory", Some(":/")),
            ("fd.uid", Some("200-1")),
            ("fd.type", None),
            ("fd.filename", None),
            ("fd.name_changed", None),
            ("evt.category", Some("net")),
        ] {
            assert_eq!(render(&s, &ev, field).as_deref(), value, "{field}");
        }

        // A read exit without its enter (the capture starts mid-call): the
        // fd the thread last named, here by a read of fd 3...
        show(&mut s, &read_enter(200, 3), "fd.num");
        let old_write_x = |tid: u64| {
            let mut buf = Vec::new();
            let mut b = EventBuilder::with_nparams(&mut buf, 1, tid, EventType::SYSCALL_WRITE_X, 2);
            b.param_i64(3).param_raw(b"ls\n");
            b.finish();
            buf
        };
        let x = old_write_x(200);
        assert_eq!(show(&mut s, &x, "fd.num").unwrap(), "3");
        assert_eq!(show(&mut s, &x, "fd.name").unwrap(), "/etc/passwd");
        assert_eq!(show(&mut s, &x, "fd.typechar").unwrap(), "f");
        assert_eq!(show(&mut s, &x, "fd.name_changed").unwrap(), "false");
        // ... but libsinsp does not attach it to the event itself.
        assert_eq!(show(&mut s, &x, "evt.category").unwrap(), "unknown");
        assert_eq!(show(&mut s, &x, "evt.buflen"), None);
        // A thread's first event: fd 0, which nginx does not have.
        let x = old_write_x(300);
        assert_eq!(show(&mut s, &x, "fd.num").unwrap(), "0");
        assert_eq!(show(&mut s, &x, "fd.name").unwrap(), "");
        assert_eq!(show(&mut s, &x, "fd.uid").unwrap(), "3000");
        // A current exit, sent without its enter event, names its fd: the
        // event has it (current libsinsp).
        let getuid = event(EventType::SYSCALL_GETUID_E, 200, |_| {});
        show(&mut s, &getuid, "fd.num");
        let x = event(EventType::SYSCALL_READ_X, 200, |b| {
            b.param_i64(5).param_raw(b"ab\0\ncd").param_i64(4).param_u64(100);
        });
        assert_eq!(show(&mut s, &x, "fd.num").unwrap(), "4");
        assert_eq!(show(&mut s, &x, "evt.category").unwrap(), "net");
        assert_eq!(show(&mut s, &x, "evt.buflen").unwrap(), "5");
    }

    #[test]
    fn fds_of_failed_calls() {
        let mut s = state();
        let failed = event(EventType::SYSCALL_OPEN_X, 200, |b| {
            b.param_i64(-13).param_str(b"/root/secret").param_u64(1).param_u64(0);
        });
        // The name the call tried, and the letter of what it would have created.
        assert_eq!(show(&mut s, &failed, "fd.name").unwrap(), "/root/secret");
        assert_eq!(show(&mut s, &failed, "fd.directory").unwrap(), "/root");
        assert_eq!(show(&mut s, &failed, "fd.typechar").unwrap(), "f");
        assert_eq!(show(&mut s, &failed, "fd.num").unwrap(), "-1");
        assert_eq!(show(&mut s, &failed, "fd.type"), None);
        assert_eq!(show(&mut s, &failed, "fd.nameraw").unwrap(), "/root/secret");
        let openat = event(EventType::SYSCALL_OPENAT_2_X, 200, |b| {
            b.param_i64(-2).param_i64(-100).param_str(b"x/./y").param_u64(1).param_u64(0);
        });
        assert_eq!(show(&mut s, &openat, "fd.name").unwrap(), "/tmp/x/y");
        assert_eq!(show(&mut s, &openat, "fd.nameraw").unwrap(), "x/./y");
        // A successful open: the new fd.
        let ok = event(EventType::SYSCALL_OPEN_X, 200, |b| {
            b.param_i64(9).param_str(b"/var/log/syslog").param_u64(2).param_u64(0);
        });
        assert_eq!(show(&mut s, &ok, "fd.num").unwrap(), "9");
        assert_eq!(show(&mut s, &ok, "fd.name").unwrap(), "/var/log/syslog");
        assert_eq!(show(&mut s, &ok, "fd.filename").unwrap(), "syslog");
        assert_eq!(show(&mut s, &ok, "fd.nameraw").unwrap(), "/var/log/syslog");
    }

    #[test]
    fn sockets() {
        let mut s = state();
        let e = read_enter(200, 4);
        let p = |s: &mut State, f: &str| show(s, &e, f);
        assert_eq!(p(&mut s, "fd.name").unwrap(), "10.0.0.1:40000->93.184.216.34:80");
        assert_eq!(p(&mut s, "fd.typechar").unwrap(), "4");
        assert_eq!(p(&mut s, "fd.type").unwrap(), "ipv4");
        assert_eq!(p(&mut s, "fd.cip").unwrap(), "10.0.0.1");
        assert_eq!(p(&mut s, "fd.sip").unwrap(), "93.184.216.34");
        assert_eq!(p(&mut s, "fd.cport").unwrap(), "40000");
        assert_eq!(p(&mut s, "fd.sport").unwrap(), "80");
        assert_eq!(p(&mut s, "fd.sproto").unwrap(), "80");
        assert_eq!(p(&mut s, "fd.l4proto").unwrap(), "tcp");
        assert_eq!(p(&mut s, "fd.sockfamily").unwrap(), "ip");
        assert_eq!(p(&mut s, "fd.connected").unwrap(), "true");
        // Local and remote ends come from the machine's interfaces: the
        // client 10.0.0.1 is not one of them, so the server is the local end.
        assert_eq!(p(&mut s, "fd.lip").unwrap(), "93.184.216.34");
        assert_eq!(p(&mut s, "fd.rip").unwrap(), "10.0.0.1");
        let ev = Event::parse(&e).unwrap();
        assert_eq!(extract(&s, &ev, "fd.sip").unwrap(), format!("{:?}", FieldValue::Ip([93, 184, 216, 34].into())));
        assert_eq!(extract(&s, &ev, "fd.sport").unwrap(), format!("{:?}", FieldValue::Uint(80)));
        // Listening socket.
        let e = read_enter(200, 5);
        assert_eq!(show(&mut s, &e, "fd.name").unwrap(), "0.0.0.0:8080");
        assert_eq!(show(&mut s, &e, "fd.sport").unwrap(), "8080");
        assert_eq!(show(&mut s, &e, "fd.is_server").unwrap(), "true");
        assert_eq!(show(&mut s, &e, "fd.l4proto").unwrap(), "tcp");
        // Unix socket.
        let e = read_enter(200, 6);
        assert_eq!(show(&mut s, &e, "fd.name").unwrap(), "/run/x.sock");
        assert_eq!(show(&mut s, &e, "fd.sockfamily").unwrap(), "unix");
        assert_eq!(show(&mut s, &e, "fd.typechar").unwrap(), "u");
        assert_eq!(show(&mut s, &e, "fd.l4proto").unwrap(), "<NA>");
        assert_eq!(show(&mut s, &e, "fd.is_server").unwrap(), "false");
    }

    #[test]
    fn domain_names_of_addresses() {
        let mut s = state();
        let time = TimeFormatter::new(TimeZone::UTC);
        let e = read_enter(200, 4);
        let ev = Event::parse(&e).unwrap();
        s.apply(&ev, 0);
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
        let mut scratch = Vec::new();
        let sip = Field::parse("fd.sip.name").unwrap();
        let cip = Field::parse("fd.cip.name").unwrap();
        assert!(sip.is_multi());
        // Only names somebody asked about are known. A literal address
        // resolves to itself without DNS; localhost comes from /etc/hosts.
        let names = |f: &Field, scratch: &mut Vec<u8>| {
            let mut v = Vec::new();
            f.for_each_value(&ctx, scratch, |n| {
                if let FieldValue::Str(n) = n {
                    v.push(String::from_utf8_lossy(n).into_owned());
                }
                false
            });
            v
        };
        assert!(saker_dns::watch(["93.184.216.34", "localhost"], std::time::Duration::from_secs(10)));
        assert_eq!(names(&sip, &mut scratch), ["93.184.216.34"]);
        assert!(names(&cip, &mut scratch).is_empty());
        assert_eq!(show(&mut s, &e, "fd.sip.name").unwrap(), "93.184.216.34");
        assert_eq!(show(&mut s, &e, "fd.cip.name"), None);
        // the remote end is the server here (10.0.0.1 is not local)
        assert_eq!(show(&mut s, &e, "fd.lip.name").unwrap(), "93.184.216.34");
        assert_eq!(show(&mut s, &e, "fd.rip.name"), None);
    }

    #[test]
    fn both_ends_of_a_socket() {
        let mut s = state();
        let time = TimeFormatter::new(TimeZone::UTC);
        let e = read_enter(200, 4);
        let ev = Event::parse(&e).unwrap();
        s.apply(&ev, 0);
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
        let mut scratch = Vec::new();
        let ip = Field::parse("fd.ip").unwrap();
        assert!(ip.is_multi());
        let want = IpAddr::from([93, 184, 216, 34]);
        assert!(ip.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Ip(want)));
        let port = Field::parse("fd.port").unwrap();
        assert!(port.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Uint(40000)));
        assert!(!port.for_each_value(&ctx, &mut scratch, |v| v == FieldValue::Uint(22)));
        let types = Field::parse("fd.types").unwrap();
        assert!(types.is_multi());
        let mut all = Vec::new();
        types.for_each_value(&ctx, &mut scratch, |v| {
            all.push(format!("{v:?}"));
            false
        });
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn poll_fd_lists() {
        let mut s = state();
        let mut list = vec![3u8, 0];
        for fd in [3i64, 4, 77] {
            list.extend_from_slice(&fd.to_le_bytes());
            list.extend_from_slice(&1i16.to_le_bytes());
        }
        let e = event(EventType::SYSCALL_POLL_E, 200, |b| {
            b.param_raw(&list).param_i64(10);
        });
        assert_eq!(show(&mut s, &e, "fdlist.nums").unwrap(), "3,4,77");
        assert_eq!(show(&mut s, &e, "fdlist.names").unwrap(), "/etc/passwd,10.0.0.1:40000->93.184.216.34:80,<NA>");
        assert_eq!(show(&mut s, &e, "fdlist.cips").unwrap(), "10.0.0.1");
        assert_eq!(show(&mut s, &e, "fdlist.sports").unwrap(), "80");
    }
}

mod user_fields {
    use super::*;

    #[test]
    fn users_and_groups() {
        let mut s = state();
        let e = read_enter(200, 3);
        assert_eq!(show(&mut s, &e, "user.uid").unwrap(), "1000");
        assert_eq!(show(&mut s, &e, "user.name").unwrap(), "alice");
        assert_eq!(show(&mut s, &e, "user.homedir").unwrap(), "/home/alice");
        assert_eq!(show(&mut s, &e, "user.shell").unwrap(), "/bin/zsh");
        assert_eq!(show(&mut s, &e, "user.loginuid").unwrap(), "1000");
        assert_eq!(show(&mut s, &e, "user.loginname").unwrap(), "alice");
        assert_eq!(show(&mut s, &e, "group.gid").unwrap(), "50");
        assert_eq!(show(&mut s, &e, "group.name").unwrap(), "staff");
        // Unknown users: the id, no name; an unset login uid is -1.
        let e = read_enter(300, 3);
        assert_eq!(show(&mut s, &e, "user.uid").unwrap(), "33");
        assert_eq!(show(&mut s, &e, "user.name"), None);
        assert_eq!(show(&mut s, &e, "user.loginuid").unwrap(), "-1");
        assert_eq!(show(&mut s, &e, "user.loginname"), None);
    }
}

mod container_fields {
    use super::*;

    #[test]
    fn host_and_container() {
        let mut s = state();
        let e = read_enter(200, 3);
        assert_eq!(show(&mut s, &e, "container.id").unwrap(), "host");
        assert_eq!(show(&mut s, &e, "container.name").unwrap(), "host");
        assert_eq!(show(&mut s, &e, "container.type").unwrap(), "host");
        assert_eq!(show(&mut s, &e, "container.image"), None);
        assert_eq!(show(&mut s, &e, "container.privileged"), None);
        let e = read_enter(300, 0);
        assert_eq!(show(&mut s, &e, "container.id").unwrap(), &CID[..12]);
        assert_eq!(show(&mut s, &e, "container.name").unwrap(), "web");
        assert_eq!(show(&mut s, &e, "container.image").unwrap(), "nginx:latest");
        assert_eq!(show(&mut s, &e, "container.image.repository").unwrap(), "nginx");
        assert_eq!(show(&mut s, &e, "container.image.tag").unwrap(), "latest");
        assert_eq!(show(&mut s, &e, "container.type").unwrap(), "docker");
        assert_eq!(show(&mut s, &e, "container.privileged").unwrap(), "true");
        assert_eq!(show(&mut s, &e, "container.healthcheck").unwrap(), "NONE");
        assert_eq!(show(&mut s, &e, "container.mount.dest[0]"), None);
        assert_eq!(show(&mut s, &e, "k8s.pod.name"), None);
    }
}

mod output {
    use super::*;

    fn json(s: &mut State, bytes: &[u8], field: &str) -> Option<String> {
        let ev = Event::parse(bytes).unwrap();
        s.apply(&ev, 0);
        let time = TimeFormatter::new(TimeZone::UTC);
        let ctx = EventContext { event: ev, num: 7, cpu: 3, time: &time, state: s };
        let mut out = Vec::new();
        Field::parse(field).unwrap().write_json(&ctx, &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn json_values_as_sysdig() {
        let mut s = state();
        let e = read_enter(200, 4);
        assert_eq!(json(&mut s, &e, "evt.time").unwrap(), "1500000000500000123");
        assert_eq!(json(&mut s, &e, "evt.rawtime.ns").unwrap(), "500000123");
        assert_eq!(json(&mut s, &e, "evt.type").unwrap(), "\"read\"");
        assert_eq!(json(&mut s, &e, "evt.cpu").unwrap(), "3");
        assert_eq!(json(&mut s, &e, "fd.num").unwrap(), "4");
        assert_eq!(json(&mut s, &e, "fd.sport").unwrap(), "80");
        assert_eq!(json(&mut s, &e, "fd.cip").unwrap(), "\"10.0.0.1\"");
        assert_eq!(json(&mut s, &e, "fd.connected").unwrap(), "true");
        assert_eq!(json(&mut s, &e, "user.loginuid").unwrap(), "1000");
        assert_eq!(json(&mut s, &read_enter(200, 3), "fd.dev").unwrap(), "\"803\"");
        assert_eq!(json(&mut s, &e, "fd.filename"), None);
    }

    #[test]
    fn formats_reject_filter_only_fields() {
        let e = Format::parse("%evt.num %fd.ip").unwrap_err();
        assert!(e.to_string().contains("filters only"), "{e}");
        assert!(Format::parse("%evt.num %fd.cip").is_ok());
    }

    #[test]
    fn inline_fields_write_what_the_general_path_writes() {
        let time = TimeFormatter::new(TimeZone::UTC);
        let generic = event(EventType::GENERIC_X, 200, |b| {
            b.param_u64(140);
        });
        let unknown = event(EventType(u16::MAX - 1), 12345678, |_| {});
        // fds in the table, one that is not, and one named by its creating
        // event: an open's enter, a failed open's exit (its path, a byte
        // that does not print in it), and a read's exit on an fd missing
        // from the table (an empty name).
        let open = event(EventType::SYSCALL_OPEN_E, 200, |b| {
            b.param_str(b"/etc/hosts").param_u64(1).param_u64(0);
        });
        let failed_open = event(EventType::SYSCALL_OPEN_X, 200, |b| {
            b.param_i64(-2).param_str(b"/etc/no\x07pe").param_u64(1).param_u64(0);
        });
        let read_exit = event(EventType::SYSCALL_READ_X, 200, |b| {
            b.param_i64(5).param_raw(b"hello");
        });
        let sequences: [&[&[u8]]; 8] = [
            &[&read_enter(200, 3)],
            &[&read_enter(200, 4)],
            &[&read_enter(200, 99)],
            &[&open],
            &[&open, &failed_open],
            &[&read_enter(200, 99), &read_exit],
            &[&generic],
            &[&unknown],
        ];
        let mut fd_names = Vec::new();
        for events in sequences {
            let mut s = state();
            for bytes in events {
                s.apply(&Event::parse(bytes).unwrap(), 0);
            }
            let ev = Event::parse(events.last().unwrap()).unwrap();
            for (num, cpu) in [(0, 0), (1, 3), (u64::MAX, u16::MAX)] {
                let ctx = EventContext { event: ev, num, cpu, time: &time, state: &s };
                for name in ["evt.num", "evt.dir", "evt.type", "evt.cpu", "thread.tid", "proc.name", "fd.name"] {
                    let f = Field::parse(name).unwrap();
                    let (mut a, mut b) = (b"x".to_vec(), b"x".to_vec());
                    assert_eq!(
                        f.write(&ctx, &mut a),
                        f.write_inline(&ctx, &mut LineThread::default(), &mut b),
                        "{name}"
                    );
                    assert_eq!(a, b, "{name}");
                    if name == "fd.name" && num == 0 {
                        fd_names.push(String::from_utf8_lossy(&b).into_owned());
                    }
                }
            }
        }
        // Written (or not: "x" alone, and false above) per sequence.
        let socket = "x10.0.0.1:40000->93.184.216.34:80";
        assert_eq!(fd_names, ["x/etc/passwd", socket, "x", "x", "x/etc/nope", "x", "x", "x"]);
    }

    #[test]
    fn formats_that_need_an_fd_print_only_events_with_one() {
        let with_fd = saker_abi::EventTypeSet::with_fd();
        assert_eq!(Format::parse("%evt.num %proc.name %fd.name").unwrap().printable_types(), with_fd);
        assert_eq!(Format::parse("%fd.num %fd.typechar").unwrap().printable_types(), with_fd);
        let all = saker_abi::EventTypeSet::all();
        // `*`: missing values print as <NA>, every event prints.
        assert_eq!(Format::parse("*%evt.num %fd.name").unwrap().printable_types(), all);
        assert_eq!(Format::parse("%evt.num %proc.name").unwrap().printable_types(), all);
        // fdlist.* has values on the poll family, which names no fd itself.
        assert_eq!(Format::parse("%fdlist.names").unwrap().printable_types(), all);
        // Fields that remember the events they were extracted on must see
        // every attempt.
        assert_eq!(Format::parse("%evt.deltatime %fd.name").unwrap().printable_types(), all);
        assert_eq!(Format::parse("%evt.outputtime %fd.name").unwrap().printable_types(), all);
        // And the format indeed prints nothing on an event without an fd.
        let mut s = state();
        let switch = event(EventType::SCHEDSWITCH_6_E, 200, |b| {
            b.param_i64(100);
        });
        assert!(!with_fd.contains(EventType::SCHEDSWITCH_6_E));
        let ev = Event::parse(&switch).unwrap();
        s.apply(&ev, 0);
        let time = TimeFormatter::new(TimeZone::UTC);
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
        assert!(!Format::parse("%evt.num %fd.name").unwrap().write(&ctx, &mut Vec::new()));
    }

    #[test]
    fn formats_bound_field_widths() {
        assert!(Format::parse("%20proc.name").is_ok());
        assert!(Format::parse("%4096proc.name").is_ok());
        // found by the output_format fuzzer: a width that made every line
        // petabytes long
        for (text, offset) in [("x %4097proc.name", 3), ("*%99999999999999999999999evt.time", 2)] {
            let e = Format::parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text}: {e}");
            assert!(e.to_string().contains("is larger than 4096"), "{text}: {e}");
        }
    }

    #[test]
    fn extraction_does_not_allocate_per_event() {
        // Built values go to the caller's buffer: extracting twice with the
        // same buffer keeps its allocation.
        let s = state();
        let e = read_enter(100, 0);
        let ev = Event::parse(&e).unwrap();
        let time = TimeFormatter::new(TimeZone::UTC);
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &s };
        let f = Field::parse("proc.cmdline").unwrap();
        let mut scratch = Vec::with_capacity(64);
        let ptr = scratch.as_ptr();
        assert_eq!(f.extract(&ctx, &mut scratch), Some(FieldValue::Str(b"bash -l")));
        assert_eq!(f.extract(&ctx, &mut scratch), Some(FieldValue::Str(b"bash -l")));
        assert_eq!(scratch.as_ptr(), ptr);
    }
}
