//! Attach mode: a running multi-threaded TCP server is traced in every
//! thread and in the children it spawns after the attach; detaching leaves a
//! process running, untraced.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use common::*;
use saker_abi::EventType as T;
use saker_driver::EventSource;
use saker_userspace::{ErrorKind, Tracer};

const LONG: Duration = Duration::from_secs(60);

/// A helper process, killed when dropped (a failing test leaves none behind).
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The helper as an untraced child of the test, and what it printed after `READY `.
fn spawn_helper(mode: &str, name: &str) -> (Helper, String) {
    let cmd = helper_cmd(mode, name);
    let mut child = Helper(Command::new(&cmd[0]).args(&cmd[1..]).stdout(Stdio::piped()).spawn().unwrap());
    let mut r = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "the helper ended before it was ready");
        if let Some(v) = line.trim().strip_prefix("READY ") {
            return (child, v.to_string());
        }
    }
}

/// A threaded TCP server: four threads accept on one listener; a connection
/// gets its lines echoed, `spawn` runs /bin/true, `quit` exits.
fn server() -> ! {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("READY {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let l = listener.try_clone().unwrap();
        handles.push(std::thread::spawn(move || {
            loop {
                let Ok((s, _)) = l.accept() else { continue };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    match line.trim() {
                        "quit" => std::process::exit(0),
                        "spawn" => {
                            let ok = Command::new("/bin/true").status().unwrap().success();
                            w.write_all(format!("spawned {ok}\n").as_bytes()).unwrap();
                        }
                        other => w.write_all(format!("echo {other}\n").as_bytes()).unwrap(),
                    }
                    line.clear();
                }
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    std::process::exit(1)
}

fn ask(s: &mut TcpStream, line: &str) -> String {
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn attach_to_a_threaded_server_sees_every_thread_and_new_children() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "server");
        server();
    }
    if !can_trace("attach_server") {
        return;
    }
    let (mut helper, port) = spawn_helper("server", "attach_to_a_threaded_server_sees_every_thread_and_new_children");
    let pid = helper.0.id() as i32;
    let port: u16 = port.parse().unwrap();
    // Let every worker block in accept before attaching.
    std::thread::sleep(Duration::from_millis(200));
    let threads_before: BTreeSet<i64> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    assert!(threads_before.len() >= 5);
    let names = ["accept", "accept4", "read", "write", "recvfrom", "sendto", "clone", "clone3", "vfork", "execve"];
    let mut t = Tracer::attach(pid, config(&names)).expect("attach");
    assert!(t.header().processes.iter().any(|p| p.tid == pid as u64 && !p.fds.is_empty()));
    // Four connections at once: each is served by a different worker.
    let mut conns: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(ask(c, &format!("hello-{i}")), format!("echo hello-{i}"));
    }
    assert_eq!(ask(&mut conns[2], "spawn"), "spawned true");
    let evs = collect_until(&mut t, LONG, |evs| {
        let accepting: BTreeSet<i64> = evs
            .iter()
            .filter(|e| matches!(e.ty(), T::SOCKET_ACCEPT4_6_X | T::SOCKET_ACCEPT_5_X) && e.int("fd") >= 0)
            .map(|e| e.tid())
            .collect();
        let exec = evs.iter().any(|e| e.ty() == T::SYSCALL_EXECVE_19_X && e.bytes("exe") == b"/bin/true");
        accepting.len() >= 4 && exec
    });
    // Accepts and reads happened in threads that existed before the attach.
    let readers: BTreeSet<i64> = evs
        .iter()
        .filter(|e| {
            matches!(e.ty(), T::SYSCALL_READ_X | T::SOCKET_RECVFROM_X) && e.bytes("data").starts_with(b"hello-")
        })
        .map(|e| e.tid())
        .collect();
    assert!(readers.len() >= 4, "reads in every worker: {readers:?}");
    assert!(readers.is_subset(&threads_before), "{readers:?} vs {threads_before:?}");
    let acc = evs.iter().find(|e| e.ty() == T::SOCKET_ACCEPT4_6_X && e.int("fd") >= 0).unwrap();
    let tuple = acc.ev().param_by_name("tuple").unwrap().value();
    match tuple {
        saker_abi::Value::SockTuple(saker_abi::SockTuple::Inet(sip, _, dip, dport)) => {
            assert_eq!((sip, dip, dport), ([127, 0, 0, 1], [127, 0, 0, 1], port));
        }
        other => panic!("tuple {other:?}"),
    }
    // The child spawned after the attach is traced from its first instruction.
    let exec = evs.iter().find(|e| e.ty() == T::SYSCALL_EXECVE_19_X && e.bytes("exe") == b"/bin/true").unwrap();
    assert_eq!(exec.int("ptid"), pid as i64);
    assert!(evs.iter().any(|e| e.tid() == exec.tid()
        && matches!(e.ty(), T::SYSCALL_CLONE_20_X | T::SYSCALL_CLONE3_X | T::SYSCALL_VFORK_20_X)
        && e.int("res") == 0));
    // The server exits: the trace ends.
    writeln!(conns[0], "quit").unwrap();
    let rest = drain(&mut t, LONG);
    assert!(rest.iter().any(|e| e.ty() == T::PROCEXIT_1_E && e.tid() == pid as i64));
    let _ = helper.0.wait();
}

/// A process that writes a counter to a file every 10 ms from two threads.
fn ticker(path: &str) -> ! {
    println!("READY ticker");
    std::io::stdout().flush().unwrap();
    let p = path.to_string();
    std::thread::spawn(move || {
        loop {
            let _ = std::fs::metadata(&p);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let mut n = 0u64;
    loop {
        n += 1;
        // Written aside then renamed: a reader never sees a half-written file.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, n.to_string()).unwrap();
        std::fs::rename(&tmp, path).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn counter(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn tracer_pids(pid: i32) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).unwrap_or("").trim().to_string();
        out.push((field("TracerPid:").parse().unwrap_or(-1), field("State:")));
    }
    out
}

#[test]
fn detach_leaves_the_process_running_untraced() {
    let path = std::env::temp_dir().join(format!("saker-us-ticker-{}", std::process::id()));
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "ticker");
        ticker(&std::env::var("SAKER_US_TICKER").unwrap());
    }
    if !can_trace("detach") {
        return;
    }
    // SAFETY: setting a variable before spawning, no other thread reads it.
    unsafe { std::env::set_var("SAKER_US_TICKER", &path) };
    let (mut helper, ready) = spawn_helper("ticker", "detach_leaves_the_process_running_untraced");
    assert_eq!(ready, "ticker");
    let pid = helper.0.id() as i32;
    for round in 0..2 {
        let mut t = Tracer::attach(pid, config(&["openat", "write", "close", "newfstatat", "statx"])).expect("attach");
        assert!(tracer_pids(pid).iter().all(|(tp, _)| *tp == std::process::id() as i64 || *tp > 0));
        let evs = collect_until(&mut t, LONG, |evs| evs.iter().filter(|e| e.ty() == T::SYSCALL_WRITE_X).count() >= 5);
        assert!(evs.iter().any(|e| e.ty() == T::SYSCALL_OPENAT_2_E));
        let tids: BTreeSet<i64> = evs.iter().map(|e| e.tid()).collect();
        assert!(tids.len() >= 2, "both threads traced: {tids:?}");
        // Detach: with the control handle the first time, the stop handle the second.
        if round == 0 {
            t.control().detach();
        } else {
            t.stop_handle().stop();
        }
        let t0 = Instant::now();
        drain(&mut t, LONG);
        assert!(t0.elapsed() < Duration::from_secs(5));
        drop(t);
        // Running, untraced, still working.
        for (tp, state) in tracer_pids(pid) {
            assert_eq!(tp, 0, "still traced");
            assert!(!state.starts_with('t') && !state.starts_with('T'), "stopped: {state}");
        }
        let c1 = counter(&path);
        std::thread::sleep(Duration::from_millis(200));
        let c2 = counter(&path);
        assert!(c2 > c1 + 5, "the process did not keep running ({c1} -> {c2})");
        assert!(helper.0.try_wait().unwrap().is_none());
    }
    // A stopped process stays stopped: attach, see it group-stopped, detach.
    let mut t = Tracer::attach(pid, config(&["openat", "write", "close"])).expect("attach");
    let _ = collect_until(&mut t, LONG, |evs| evs.iter().filter(|e| e.ty() == T::SYSCALL_WRITE_X).count() >= 2);
    // SAFETY: signalling our child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(200));
    let stopped = counter(&path);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(counter(&path), stopped, "it ran while stopped");
    t.control().detach();
    drain(&mut t, LONG);
    drop(t);
    // A thread detached from its ptrace-stop while the group is stopped is
    // woken by the kernel to re-enter the group stop: it may show `R` for
    // an instant, so the states are polled until they settle.
    let t0 = Instant::now();
    let mut threads = tracer_pids(pid);
    while threads.iter().any(|(_, s)| !s.starts_with('T')) && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
        threads = tracer_pids(pid);
    }
    for (tp, state) in threads {
        assert_eq!(tp, 0, "still traced");
        assert!(state.starts_with('T'), "not stopped after detach: {state}");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(counter(&path), stopped, "detach resumed a stopped process");
    // SAFETY: signalling our child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_millis(200));
    assert!(counter(&path) > stopped + 5, "SIGCONT did not resume it");
    drop(helper);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn attach_errors() {
    let e = Tracer::attach(0, config(&["read"])).err().unwrap();
    assert!(matches!(e.kind(), ErrorKind::NoSuchProcess { .. }));
    let e = Tracer::attach(i32::MAX - 1, config(&["read"])).err().unwrap();
    assert!(matches!(e.kind(), ErrorKind::NoSuchProcess { .. }), "{e:?}");
    let e = Tracer::attach(1, config(&["no_such_syscall"])).err().unwrap();
    assert!(e.to_string().contains("no_such_syscall"));
}
