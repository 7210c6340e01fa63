//! Live behaviour of the driver: generic events, snaplen, events too large
//! and full rings counted (never silent), several rings merged in timestamp
//! order, stopping. Runs as root on the real kernel; prints SKIP otherwise.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use saker_abi::EventType as T;
use saker_driver::{EventSource, Next};
use saker_modern_bpf::{Baseline, Config, ModernBpf, syscall_by_name};

fn set(names: &[&str]) -> Option<BTreeSet<String>> {
    Some(names.iter().map(|s| s.to_string()).collect())
}

/// Forks a child that runs `f` (raw syscalls only) and exits; returns its pid
/// once it has exited.
fn fork_run(f: impl FnOnce()) -> i64 {
    // SAFETY: the child runs only raw syscalls on prepared data, then exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        f();
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let mut st = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    pid as i64
}

/// `bytes` where a forked child is sure to have them mapped: a BPF program
/// cannot fault a page in (its read of an unmapped buffer fails, and the
/// event carries no data), writing to /dev/null never touches the buffer,
/// and a fork does not copy the page tables of the binary's read-only data,
/// where a literal lives. A copy on the parent's stack is mapped in both.
fn resident<const N: usize>(bytes: [u8; N]) -> [u8; N] {
    std::hint::black_box(bytes)
}

fn events_of(probe: &mut ModernBpf, tid: i64) -> Vec<Owned> {
    collect(probe, Duration::from_secs(2), |e| e.tid() as i64 == tid, |_| false)
}

#[test]
fn generic_events_carry_the_ppm_sc_code_and_native_number() {
    if !can_run("generic_events") {
        return;
    }
    let mut probe = ModernBpf::open(Config { syscalls: set(&["getppid"]), ..Config::default() }).unwrap();
    let pid = fork_run(|| unsafe {
        libc::syscall(libc::SYS_getppid);
    });
    let evs = events_of(&mut probe, pid);
    let e = one(&evs, T::GENERIC_X);
    assert_layout(&e, &["ID", "nativeID"]);
    let info = syscall_by_name("getppid").unwrap();
    assert_eq!(uint(&e, 0), 41); // PPM_SC_GETPPID
    assert_eq!(info.ppm_sc, 41);
    assert_eq!(uint(&e, 1), libc::SYS_getppid as u64);
}

#[test]
fn snaplen_limits_data_buffers() {
    if !can_run("snaplen") {
        return;
    }
    let mut probe = ModernBpf::open(Config { syscalls: set(&["write"]), snaplen: 8, ..Config::default() }).unwrap();
    let msg = resident(*b"0123456789abcdef");
    let pid = fork_run(|| unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        libc::syscall(libc::SYS_write, fd, msg.as_ptr(), msg.len());
    });
    let evs = events_of(&mut probe, pid);
    let e = one(&evs, T::SYSCALL_WRITE_X);
    assert_eq!(int(&e, 0), 16);
    assert_eq!(bytes(&e, 1), b"01234567");
    assert_eq!(uint(&e, 3), 16);
}

#[test]
fn events_above_the_maximum_are_counted_not_truncated() {
    if !can_run("too_large") {
        return;
    }
    let mut probe = ModernBpf::open(Config { syscalls: set(&["write"]), snaplen: 65535, ..Config::default() }).unwrap();
    let big = vec![b'x'; 65535];
    let small = resident(*b"small");
    let pid = fork_run(|| unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        libc::syscall(libc::SYS_write, fd, big.as_ptr(), big.len());
        libc::syscall(libc::SYS_write, fd, small.as_ptr(), small.len());
    });
    let evs = events_of(&mut probe, pid);
    let writes = of_type(&evs, T::SYSCALL_WRITE_X);
    assert_eq!(writes.len(), 1, "only the small write fits");
    assert_eq!(bytes(&writes[0].ev(), 1), small);
    let s = probe.stats();
    assert!(s.drops_too_large >= 1, "{s:?}");
    assert_eq!(s.drops(), s.drops_too_large + s.drops_buffer.total() + s.drops_other);
}

#[test]
fn full_rings_are_counted_by_category() {
    if !can_run("full_rings") {
        return;
    }
    // One page of ring and nobody reading: most opens cannot fit.
    let mut probe = ModernBpf::open(Config {
        syscalls: set(&["openat", "close"]),
        buffer_size: 4096,
        cpus_for_each_buffer: 0,
        procexit: false,
        ..Config::default()
    })
    .unwrap();
    fork_run(|| unsafe {
        for _ in 0..200 {
            let fd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c"/etc/hostname".as_ptr(), libc::O_RDONLY, 0);
            libc::syscall(libc::SYS_close, fd);
        }
    });
    let s = probe.stats();
    assert!(s.drops_buffer.open > 0, "{s:?}");
    assert!(s.drops_buffer.close > 0, "{s:?}");
    assert!(s.events >= 600, "enter + exit + close of 200 opens are all counted as seen: {s:?}");
    // What did fit is still readable, and the counts add up.
    let mut read = 0u64;
    probe.detach();
    while let Next::Event(_) = probe.next_event().unwrap() {
        read += 1;
    }
    let s = probe.stats();
    assert_eq!(read + s.drops(), s.events, "{s:?}");
}

#[test]
fn one_ring_per_cpu_merges_in_timestamp_order() {
    if !can_run("rings_merge") {
        return;
    }
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut probe =
        ModernBpf::open(Config { syscalls: set(&["getppid", "getpid"]), cpus_for_each_buffer: 1, ..Config::default() })
            .unwrap();
    assert_eq!(probe.ring_count(), online);
    let mut pids = Vec::new();
    for _ in 0..4 {
        pids.push(fork_run(|| unsafe {
            for _ in 0..2000 {
                libc::syscall(libc::SYS_getppid);
                libc::syscall(libc::SYS_getpid);
            }
        }));
    }
    let evs = collect(
        &mut probe,
        Duration::from_secs(3),
        |e| pids.contains(&(e.tid() as i64)) && e.event_type() == T::GENERIC_X,
        |_| false,
    );
    assert_eq!(evs.len(), 4 * 4000);
    let ts: Vec<u64> = evs.iter().map(|o| o.ev().ts()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps out of order");
    assert_eq!(probe.stats().drops(), 0);
}

#[test]
fn stop_drains_then_ends() {
    if !can_run("stop") {
        return;
    }
    let mut probe = ModernBpf::open(Config { syscalls: set(&["getppid"]), ..Config::default() }).unwrap();
    let pid = fork_run(|| unsafe {
        for _ in 0..100 {
            libc::syscall(libc::SYS_getppid);
        }
    });
    probe.stop_handle().stop();
    let mut n = 0;
    loop {
        match probe.next_event().unwrap() {
            Next::Event(e) => n += (e.event.tid() as i64 == pid && e.event.event_type() == T::GENERIC_X) as usize,
            Next::Idle => {}
            Next::End => break,
        }
    }
    assert_eq!(n, 100, "what was buffered before the stop is delivered");
}

/// Whether this kernel lets the exit programs run on each syscall's own
/// tracepoint (bpf_task_pt_regs, 5.15+).
fn own_tracepoints() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    saker_modern_bpf::kernel_version(release.trim()).is_some_and(|v| (v.0, v.1) >= (5, 15))
}

/// The benchmark's baselines (the floor rows of `bench/run cost`) pass this
/// kernel's verifier and attach; the event ones send a generic event for
/// each syscall's exit and for openat's enter, or only for openat's enter
/// and exit, with the native number of each.
#[test]
fn bench_baselines_load_and_the_event_ones_send() {
    if !can_run("bench_baselines") {
        return;
    }
    let config =
        |kind, syscalls| Config { baseline: true, baseline_kind: kind, syscalls, procexit: false, ..Config::default() };
    for kind in [Baseline::Bare, Baseline::Clock, Baseline::SyscallTracepoint] {
        ModernBpf::open(config(kind, set(&[]))).unwrap();
        ModernBpf::open(config(kind, None)).unwrap();
    }
    let natives = |probe: &mut ModernBpf| {
        let pid = fork_run(|| unsafe {
            libc::syscall(libc::SYS_getppid);
            libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c"/".as_ptr(), libc::O_RDONLY);
        });
        let evs = events_of(probe, pid);
        let of = |ty| of_type(&evs, ty).iter().map(|o| uint(&o.ev(), 1) as i64).collect::<BTreeSet<_>>();
        (of(T::GENERIC_E), of(T::GENERIC_X))
    };
    let (enters, exits) = natives(&mut ModernBpf::open(config(Baseline::Event, None)).unwrap());
    assert_eq!(enters, [libc::SYS_openat].into());
    assert!(exits.is_superset(&[libc::SYS_getppid, libc::SYS_openat].into()), "{exits:?}");
    let (enters, exits) = natives(&mut ModernBpf::open(config(Baseline::Event, set(&[]))).unwrap());
    assert!(enters.is_empty() && exits.contains(&libc::SYS_getppid), "{enters:?} {exits:?}");
    if !own_tracepoints() {
        eprintln!("SKIP-PART bench_baselines: kernel < 5.15, no bpf_task_pt_regs for the openat-only baseline");
        return;
    }
    let openat = set(&["openat"]);
    let (enters, exits) = natives(&mut ModernBpf::open(config(Baseline::EventOpenat, openat)).unwrap());
    assert_eq!((enters, exits), ([libc::SYS_openat].into(), [libc::SYS_openat].into()));
}

/// The native numbers of the generic events a child making getppid and
/// getpid gets.
fn generic_of_child(probe: &mut ModernBpf) -> Vec<u64> {
    let pid = fork_run(|| unsafe {
        libc::syscall(libc::SYS_getppid);
        libc::syscall(libc::SYS_getpid);
    });
    events_of(probe, pid).iter().filter(|o| o.ev().event_type() == T::GENERIC_X).map(|o| uint(&o.ev(), 1)).collect()
}

/// Where only some syscalls are wanted, each is caught on its own exit
/// tracepoint (5.15+) and the others run no program; changing the set while
/// running attaches and detaches them. A wanted syscall the kernel does not
/// implement (init_module without module support) brings the dispatcher
/// back, and its calls, which can only fail, are captured; with
/// `unimplemented_syscalls: false` it is left out, and said.
#[test]
fn selected_syscalls_on_their_own_tracepoints() {
    if !can_run("selected_syscalls") {
        return;
    }
    let own = own_tracepoints();
    if !own {
        eprintln!("SKIP-PART selected_syscalls: kernel < 5.15, every exit goes through the dispatcher");
    }
    let mut probe = ModernBpf::open(Config { syscalls: set(&["getppid"]), ..Config::default() }).unwrap();
    assert_eq!(probe.dispatcher_attached(), !own);
    assert_eq!(generic_of_child(&mut probe), vec![libc::SYS_getppid as u64]);
    assert!(probe.set_syscalls(set(&["getpid"]).as_ref()).unwrap());
    assert_eq!(generic_of_child(&mut probe), vec![libc::SYS_getpid as u64]);
    assert_eq!(probe.dispatcher_attached(), !own);

    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    if kallsyms.lines().any(|l| l.ends_with(" T __x64_sys_init_module")) {
        eprintln!("SKIP-PART selected_syscalls: this kernel implements init_module (module support)");
        return;
    }
    let buf = resident([7u8; 8]);
    let init_module = |probe: &mut ModernBpf| {
        let pid = fork_run(|| unsafe {
            libc::syscall(libc::SYS_init_module, buf.as_ptr(), 8, c"".as_ptr());
        });
        events_of(probe, pid)
    };
    drop(probe);
    let mut probe = ModernBpf::open(Config { syscalls: set(&["getpid", "init_module"]), ..Config::default() }).unwrap();
    assert!(probe.dispatcher_attached());
    assert!(probe.left_out().is_empty());
    assert_eq!(int(&one(&init_module(&mut probe), T::SYSCALL_INIT_MODULE_X), 0), -(libc::ENOSYS as i64));
    assert_eq!(generic_of_child(&mut probe), vec![libc::SYS_getpid as u64]);
    drop(probe);

    let config =
        Config { syscalls: set(&["getpid", "init_module"]), unimplemented_syscalls: false, ..Config::default() };
    let mut probe = ModernBpf::open(config).unwrap();
    assert_eq!(probe.left_out(), ["init_module"]);
    assert_eq!(probe.dispatcher_attached(), !own);
    let evs = init_module(&mut probe);
    assert!(of_type(&evs, T::SYSCALL_INIT_MODULE_X).is_empty() && of_type(&evs, T::GENERIC_X).is_empty());
    assert_eq!(of_type(&evs, T::PROCEXIT_1_E).len(), 1, "the child's exit, the only event");
    assert_eq!(generic_of_child(&mut probe), vec![libc::SYS_getpid as u64]);
}
