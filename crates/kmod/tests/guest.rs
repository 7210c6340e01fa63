//! The kernel module under stress, run by the guest suite
//! (`tests/guest/suite.sh`) with the module loaded; skipped where
//! `/dev/saker` does not exist (the host cannot load modules).
//!
//! Run with `--test-threads=1`: the tests count the module's consumers.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use saker_abi::EventType;
use saker_driver::{EventSource, Next};
use saker_kmod::{Config, Kmod};

fn have_module(test: &str) -> bool {
    let ok = std::path::Path::new("/dev/saker").exists();
    if !ok {
        eprintln!("SKIP {test}: /dev/saker does not exist (load the module: saker driver load)");
    }
    ok
}

fn param(name: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/module/saker/parameters/{name}"))
        .map(|s| s.trim().parse().unwrap_or(u64::MAX))
        .unwrap_or(u64::MAX)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn config(syscalls: &[&str]) -> Config {
    Config { syscalls: Some(syscalls.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()), ..Config::default() }
}

/// Forks a child that makes `n` getppid calls and opens `path` `opens`
/// times, then exits; returns its pid once it is gone.
fn workload(n: u64, path: &str, opens: u32) -> i64 {
    let c_path = std::ffi::CString::new(path).unwrap();
    // SAFETY: the child makes raw syscalls on data prepared before the fork.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            for _ in 0..n {
                libc::syscall(libc::SYS_getppid);
            }
            for _ in 0..opens {
                let fd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_path.as_ptr(), libc::O_RDONLY, 0);
                libc::syscall(libc::SYS_close, fd);
            }
            libc::syscall(libc::SYS_exit_group, 0);
        }
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    child as i64
}

/// Every event of the source until it has been idle for a while:
/// (type, tid, path of an openat exit).
fn drain(src: &mut dyn EventSource) -> Vec<(EventType, i64, String)> {
    let mut out = Vec::new();
    let mut idle = 0;
    let t0 = Instant::now();
    while idle < 3 && t0.elapsed() < Duration::from_secs(120) {
        match src.next_event().expect("next_event") {
            Next::Event(e) => {
                idle = 0;
                let ev = e.event;
                let path = if ev.event_type() == EventType::SYSCALL_OPENAT_2_X {
                    String::from_utf8_lossy(ev.param(2).map(|p| p.bytes()).unwrap_or_default())
                        .trim_end_matches('\0')
                        .to_string()
                } else {
                    String::new()
                };
                out.push((ev.event_type(), ev.tid() as i64, path));
            }
            Next::Idle => idle += 1,
            Next::End => break,
        }
    }
    out
}

#[test]
fn two_consumers_each_receive_every_event() {
    if !have_module("two_consumers_each_receive_every_event") {
        return;
    }
    let before = param("consumers");
    let mut a = Kmod::open(config(&["openat", "close"])).expect("open consumer a");
    let mut b = Kmod::open(config(&["openat", "close"])).expect("open consumer b");
    assert_eq!(param("consumers"), before + 2);
    let path = format!("/tmp/saker-two-{}", std::process::id());
    std::fs::write(&path, "x").unwrap();
    let child = workload(0, &path, 25);
    let count = |evs: &[(EventType, i64, String)]| {
        evs.iter().filter(|(t, tid, p)| *t == EventType::SYSCALL_OPENAT_2_X && *tid == child && *p == path).count()
    };
    let ea = drain(&mut a);
    let eb = drain(&mut b);
    assert_eq!(count(&ea), 25, "consumer a");
    assert_eq!(count(&eb), 25, "consumer b");
    let mine = |evs: &[(EventType, i64, String)]| -> Vec<(EventType, i64, String)> {
        evs.iter().filter(|(_, tid, _)| *tid == child).cloned().collect()
    };
    assert_eq!(mine(&ea), mine(&eb), "the two consumers saw different events of the workload");
    assert_eq!(a.stats().drops(), 0);
    assert_eq!(b.stats().drops(), 0);
    drop(a);
    drop(b);
    assert_eq!(param("consumers"), before);
}

/// A rules reload changes what a consumer captures while it runs: getppid
/// (a generic event) at first, then only openat (full events, so the
/// sys_enter tracepoint too), and the first no longer.
#[test]
fn syscalls_change_while_capturing() {
    if !have_module("syscalls_change_while_capturing") {
        return;
    }
    let mut k = Kmod::open(config(&["getppid"])).expect("open");
    let path = format!("/tmp/saker-reload-{}", std::process::id());
    std::fs::write(&path, "x").unwrap();
    let of_child = |evs: &[(EventType, i64, String)], child: i64, t: EventType| {
        evs.iter().filter(|(ty, tid, _)| *ty == t && *tid == child).count()
    };
    let child = workload(5, &path, 3);
    let evs = drain(&mut k);
    assert_eq!(of_child(&evs, child, EventType::GENERIC_X), 5, "getppid captured at first");
    assert_eq!(of_child(&evs, child, EventType::SYSCALL_OPENAT_2_X), 0, "openat not captured at first");

    let openat: BTreeSet<String> = ["openat".to_string()].into();
    assert!(k.set_syscalls(Some(&openat)).expect("set_syscalls"));
    let child = workload(5, &path, 3);
    let evs = drain(&mut k);
    assert_eq!(of_child(&evs, child, EventType::GENERIC_X), 0, "getppid no longer captured");
    let opens = evs.iter().filter(|(t, tid, p)| *t == EventType::SYSCALL_OPENAT_2_X && *tid == child && *p == path);
    assert_eq!(opens.count(), 3, "openat captured after the change");
    assert_eq!(of_child(&evs, child, EventType::SYSCALL_OPENAT_2_E), 3, "openat's enter events (sys_enter attached)");

    let unknown: BTreeSet<String> = ["no_such_call".to_string()].into();
    let err = k.set_syscalls(Some(&unknown)).expect_err("an unknown syscall is refused");
    assert!(err.to_string().contains("no_such_call"), "{err}");
    assert_eq!(k.stats().drops(), 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn tiny_ring_storm_counts_every_drop() {
    if !have_module("tiny_ring_storm_counts_every_drop") {
        return;
    }
    // 128 KiB per CPU: a getppid storm of 100000 calls (26+4 bytes each,
    // 32 in the ring) overflows it while nobody reads.
    let n = 100_000u64;
    let mut k = Kmod::open(Config { ring_bytes: 128 * 1024, procexit: false, ..config(&["getppid", "openat"]) })
        .expect("open with a tiny ring");
    let path = format!("/tmp/saker-storm-{}", std::process::id());
    std::fs::write(&path, "x").unwrap();
    let child = workload(n, "/nonexistent", 0);
    let evs = drain(&mut k);
    let stats = k.stats();
    let delivered_child = evs.iter().filter(|(t, tid, _)| *t == EventType::GENERIC_X && *tid == child).count() as u64;
    eprintln!("storm: {stats:?}, {} delivered ({delivered_child} of the workload's getppid)", evs.len());
    assert!(stats.drops() > 0, "the storm did not overflow a 128 KiB ring: {stats:?}");
    assert_eq!(stats.drops(), stats.drops_buffer.other, "getppid drops count as 'other'");
    // produced = delivered + dropped, exactly, over everything the consumer saw
    assert_eq!(stats.events, evs.len() as u64 + stats.drops(), "{stats:?}");
    // and for the workload, which knows it made n getppid calls and nothing
    // else in the guest calls getppid
    let others = evs.iter().filter(|(t, tid, _)| *t == EventType::GENERIC_X && *tid != child).count() as u64;
    assert_eq!(others, 0, "another process called getppid");
    assert_eq!(delivered_child + stats.drops_buffer.other, n, "{stats:?}");
    // events after the storm are intact
    let child2 = workload(0, &path, 10);
    let evs = drain(&mut k);
    let opens =
        evs.iter().filter(|(t, tid, p)| *t == EventType::SYSCALL_OPENAT_2_X && *tid == child2 && *p == path).count();
    assert_eq!(opens, 10, "events after the storm");
}

#[test]
fn killed_consumer_is_cleaned_up_and_a_new_one_works() {
    if !have_module("killed_consumer_is_cleaned_up_and_a_new_one_works") {
        return;
    }
    let saker = std::env::var("SAKER_BIN").unwrap_or_else(|_| "/bin/saker".to_string());
    let before = param("consumers");
    let memory = param("ring_memory");
    let mut victim = Command::new(&saker)
        .args(["trace", "--driver", "kmod", "--syscalls", "openat"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start saker trace --driver kmod");
    wait_for("the victim to open /dev/saker", || param("consumers") == before + 1);
    wait_for("the victim's rings", || param("ring_memory") > memory);
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: killing our own child.
    unsafe { libc::kill(victim.id() as i32, libc::SIGKILL) };
    victim.wait().unwrap();
    wait_for("the killed consumer to be released", || param("consumers") == before);
    assert_eq!(param("ring_memory"), memory, "the killed consumer's rings were not freed");
    let mut k = Kmod::open(config(&["openat"])).expect("open after a killed consumer");
    let path = format!("/tmp/saker-after-kill-{}", std::process::id());
    std::fs::write(&path, "x").unwrap();
    let child = workload(0, &path, 3);
    let evs = drain(&mut k);
    let n = evs.iter().filter(|(t, tid, p)| *t == EventType::SYSCALL_OPENAT_2_X && *tid == child && *p == path).count();
    assert_eq!(n, 3);
}

#[test]
fn ring_memory_is_what_vmalloc_used_grows_by() {
    if !have_module("ring_memory_is_what_vmalloc_used_grows_by") {
        return;
    }
    let vmalloc_used = || -> u64 {
        let m = std::fs::read_to_string("/proc/meminfo").unwrap();
        let l = m.lines().find(|l| l.starts_with("VmallocUsed:")).unwrap();
        l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    };
    let mem0 = param("ring_memory");
    let v0 = vmalloc_used();
    let k = Kmod::open(config(&["openat"])).expect("open");
    let mem1 = param("ring_memory");
    let v1 = vmalloc_used();
    let info = *k.info();
    let want = info.n_cpus as u64 * (4096 + info.ring_bytes);
    assert_eq!(mem1 - mem0, want, "ring_memory does not count n_cpus * (page + ring)");
    let grew = v1 as i64 - v0 as i64;
    eprintln!("ring memory {} bytes, VmallocUsed grew by {grew}", mem1 - mem0);
    // other vmalloc users may come and go meanwhile: within 2%
    let diff = (grew - want as i64).unsigned_abs();
    assert!(diff <= want / 50, "VmallocUsed grew by {grew}, the module counts {want}");
    drop(k);
    assert_eq!(param("ring_memory"), mem0);
}

/// Forks a child pinned to `cpu` that opens `path` `opens` times.
fn workload_on(cpu: usize, path: &str, opens: u32) -> i64 {
    let c_path = std::ffi::CString::new(path).unwrap();
    // SAFETY: the child makes raw syscalls on data prepared before the fork.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
                libc::syscall(libc::SYS_exit_group, 3);
            }
            for _ in 0..opens {
                let fd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_path.as_ptr(), libc::O_RDONLY, 0);
                libc::syscall(libc::SYS_close, fd);
            }
            libc::syscall(libc::SYS_exit_group, 0);
        }
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "pinned workload: {status}");
    child as i64
}

#[test]
fn cpu_hotplug_during_capture() {
    let online = "/sys/devices/system/cpu/cpu1/online";
    if !have_module("cpu_hotplug_during_capture") {
        return;
    }
    if !std::path::Path::new(online).exists() {
        eprintln!("SKIP cpu_hotplug_during_capture: no {online}");
        return;
    }
    let mut k = Kmod::open(config(&["openat", "close"])).expect("open");
    let path = format!("/tmp/saker-hotplug-{}", std::process::id());
    std::fs::write(&path, "x").unwrap();
    let count = |evs: &[(EventType, i64, String)], child: i64| {
        evs.iter().filter(|(t, tid, p)| *t == EventType::SYSCALL_OPENAT_2_X && *tid == child && *p == path).count()
    };
    let before = workload_on(1, &path, 5);
    std::fs::write(online, "0").expect("take CPU 1 offline");
    let offline = workload_on(0, &path, 5);
    std::fs::write(online, "1").expect("bring CPU 1 back");
    let after = workload_on(1, &path, 5);
    let evs = drain(&mut k);
    assert_eq!(count(&evs, before), 5, "before the CPU went offline");
    assert_eq!(count(&evs, offline), 5, "while it was offline");
    assert_eq!(count(&evs, after), 5, "after it came back");
    assert_eq!(k.stats().drops(), 0);
}

/// The workload of the side-by-side test with Falco's scap.ko (run by the
/// guest suite with `--ignored`): an open, a connect and an exec, by a
/// process whose name sysdig filters on.
#[test]
#[ignore]
fn side_by_side_workload() {
    let text = std::fs::read_to_string("/tmp/sbs-file").expect("read /tmp/sbs-file");
    assert_eq!(text.trim(), "sbs");
    let listener = std::net::TcpListener::bind("127.0.0.1:7777").expect("listen on 7777");
    let stream = std::net::TcpStream::connect("127.0.0.1:7777").expect("connect to 7777");
    drop(stream);
    drop(listener);
    let status = Command::new("/usr/bin/true").arg("sbs-arg").status().expect("run /usr/bin/true");
    assert!(status.success());
}
