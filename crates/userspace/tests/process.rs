//! Launch mode where ptrace tracers usually break: signals (handlers,
//! group-stop, SIGSTOP/SIGCONT), execve from a non-leader thread, vfork,
//! clone3, SIGKILL, a tracee that is itself a debugger, exit codes.
//!
//! Each test re-executes this binary as its helper workload
//! (`SAKER_US_HELPER=...`): the same test function runs the workload when
//! the variable is set.

mod common;

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use saker_abi::EventType as T;
use saker_userspace::{ExitStatus, Notice, Tracer};

const LONG: Duration = Duration::from_secs(60);

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Runs helper `mode` of test `name` under the tracer; returns the events and the exit status.
fn run_helper(mode: &str, name: &str, names: &[&str]) -> (Vec<Owned>, ExitStatus, Vec<Notice>) {
    let mut t = Tracer::launch(helper_cmd(mode, name), config(names)).expect("launch");
    let evs = drain(&mut t, LONG);
    let notices = t.take_notices();
    (evs, t.exit_status().expect("exit status"), notices)
}

// ---- signals ----

static SIGNALS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// The helper: 300 handled signals, then a child stops and continues it
/// (SIGSTOP/SIGCONT) and checks that it really stood still. Exit code 0 if
/// everything behaved as without a tracer.
fn signals_helper() -> i32 {
    // SAFETY: a handler that only bumps an atomic; raw calls on valid memory.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        // Thread-directed (libtest runs this in a thread of its own; a
        // process-directed signal could go to another thread).
        let me = || libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), libc::SIGUSR1);
        for _ in 0..300 {
            me();
        }
        if SIGNALS.load(Ordering::Relaxed) != 300 {
            return 10;
        }
        // A blocked signal stays pending until unblocked.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        me();
        if SIGNALS.load(Ordering::Relaxed) != 300 {
            return 11;
        }
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        if SIGNALS.load(Ordering::Relaxed) != 301 {
            return 12;
        }
        // Group-stop: a child stops us, checks that we stand still, continues us.
        let shared = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u64;
        let counter = &*(shared as *const std::sync::atomic::AtomicU64);
        let done = &*(shared.add(1) as *const std::sync::atomic::AtomicU64);
        let parent = libc::getpid();
        let child = libc::fork();
        if child == 0 {
            let ms = |n: u64| std::thread::sleep(Duration::from_millis(n));
            ms(100);
            libc::kill(parent, libc::SIGSTOP);
            ms(100);
            let c1 = counter.load(Ordering::SeqCst);
            ms(300);
            let c2 = counter.load(Ordering::SeqCst);
            libc::kill(parent, libc::SIGCONT);
            ms(200);
            let c3 = counter.load(Ordering::SeqCst);
            let code = if c1 != c2 {
                20 // ran while stopped
            } else if c3 == c2 {
                21 // never continued
            } else {
                0
            };
            done.store(1, Ordering::SeqCst);
            libc::_exit(code);
        }
        while done.load(Ordering::SeqCst) == 0 {
            counter.fetch_add(1, Ordering::SeqCst);
            libc::sched_yield();
        }
        let mut st = 0;
        libc::waitpid(child, &mut st, 0);
        if !libc::WIFEXITED(st) {
            return 22;
        }
        libc::WEXITSTATUS(st)
    }
}

#[test]
fn signals_are_delivered_as_without_the_tracer() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "signals");
        std::process::exit(signals_helper());
    }
    if !can_trace("signals") {
        return;
    }
    let (evs, status, _) =
        run_helper("signals", "signals_are_delivered_as_without_the_tracer", &["kill", "tgkill", "clone", "clone3"]);
    assert_eq!(status, ExitStatus::Exited(0), "the helper saw a difference");
    let usr1 = of_type(&evs, T::SYSCALL_TGKILL_X).iter().filter(|e| e.int("sig") == libc::SIGUSR1 as i64).count();
    assert_eq!(usr1, 301, "one tgkill event per SIGUSR1 sent");
    let kills = of_type(&evs, T::SYSCALL_KILL_X);
    assert!(kills.iter().any(|e| e.int("sig") == libc::SIGSTOP as i64));
    assert!(kills.iter().any(|e| e.int("sig") == libc::SIGCONT as i64));
}

#[test]
fn exit_codes_and_deaths_by_signal() {
    if !can_trace("exit_codes") {
        return;
    }
    let mut t = Tracer::launch(["/bin/sh", "-c", "exit 42"], config(&["execve"])).unwrap();
    drain(&mut t, LONG);
    assert_eq!(t.exit_status(), Some(ExitStatus::Exited(42)));
    assert_eq!(t.exit_status().unwrap().code(), 42);
    let mut t = Tracer::launch(["/bin/sh", "-c", "kill -TERM $$"], config(&["execve", "kill"])).unwrap();
    let evs = drain(&mut t, LONG);
    assert_eq!(t.exit_status(), Some(ExitStatus::Signaled { signal: libc::SIGTERM, core_dumped: false }));
    assert_eq!(t.exit_status().unwrap().code(), 128 + libc::SIGTERM);
    let exits = of_type(&evs, T::PROCEXIT_1_E);
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].int("sig"), libc::SIGTERM as i64);
    assert_eq!(exits[0].int("status"), libc::SIGTERM as i64);
    // A command that cannot be found or executed is an error, not a trace.
    let e = Tracer::launch(["saker-no-such-command-xyz"], config(&["execve"])).err().unwrap();
    assert!(e.to_string().contains("not found"), "{e}");
    let e = Tracer::launch(["/etc/hostname"], config(&["execve"])).err().unwrap();
    assert!(e.to_string().contains("cannot execute"), "{e}");
}

// ---- execve from a non-leader thread ----

#[test]
fn exec_from_a_secondary_thread() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "mt-exec");
        // libtest runs this function in a thread of its own: spawn two more
        // that sleep, then exec from this one (not the leader).
        for _ in 0..2 {
            std::thread::spawn(|| std::thread::sleep(Duration::from_secs(60)));
        }
        std::thread::sleep(Duration::from_millis(50));
        let (sh, a1, a2) = (cstr("/bin/sh"), cstr("-c"), cstr("exit 5"));
        let argv = [sh.as_ptr(), a1.as_ptr(), a2.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        // SAFETY: valid NUL-terminated arrays.
        unsafe { libc::execve(sh.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        std::process::exit(99);
    }
    if !can_trace("mt_exec") {
        return;
    }
    let mut t =
        Tracer::launch(helper_cmd("mt-exec", "exec_from_a_secondary_thread"), config(&["execve", "clone3", "clone"]))
            .expect("launch");
    let pid = t.child_pid().unwrap() as i64;
    let evs = drain(&mut t, LONG);
    assert_eq!(t.exit_status(), Some(ExitStatus::Exited(5)));
    let execs = of_type(&evs, T::SYSCALL_EXECVE_19_X);
    let sh = execs.iter().find(|e| e.bytes("exe") == b"/bin/sh").expect("the thread's execve");
    // The exec'ing thread took the leader's id.
    assert_eq!(sh.tid(), pid);
    assert_eq!((sh.int("res"), sh.int("tid"), sh.int("pid")), (0, pid, pid));
    assert_eq!(sh.bytes("args"), b"-c\0exit 5\0");
    // Threads created by the helper, each seen exiting before the exec completed.
    let threads: Vec<i64> = of_type(&evs, T::SYSCALL_CLONE3_X)
        .iter()
        .chain(of_type(&evs, T::SYSCALL_CLONE_20_X).iter())
        .filter(|e| e.int("res") > 0)
        .map(|e| e.int("res"))
        .collect();
    assert!(threads.len() >= 3, "libtest's thread and two sleepers: {threads:?}");
    let sh_pos = evs.iter().position(|e| e.ty() == T::SYSCALL_EXECVE_19_X && e.bytes("exe") == b"/bin/sh").unwrap();
    // Every thread exits, except the one that exec'd: it lives on as the leader.
    let no_exit: Vec<&i64> =
        threads.iter().filter(|t| !evs.iter().any(|e| e.ty() == T::PROCEXIT_1_E && e.tid() == **t)).collect();
    assert_eq!(no_exit.len(), 1, "threads without procexit: {no_exit:?} of {threads:?}");
    // The old leader's exit comes before the exec's exit event.
    let leader_exit = evs.iter().position(|e| e.ty() == T::PROCEXIT_1_E && e.tid() == pid).expect("leader procexit");
    assert!(leader_exit < sh_pos);
    // And the process exits once more, as the shell.
    assert!(evs[sh_pos..].iter().any(|e| e.ty() == T::PROCEXIT_1_E && e.tid() == pid && e.int("ret") == 5));
}

// ---- vfork ----

/// A C program calling vfork(2) then exec, and posix_spawn (CLONE_VFORK):
/// compiled with the system's C compiler (Rust cannot call vfork safely).
fn vfork_program() -> Option<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("saker-us-vfork-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("vfork.c");
    let bin = dir.join("vfork");
    std::fs::write(
        &src,
        r#"#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(void) {
    int st;
    pid_t p = vfork();
    if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    char *argv[] = { "true", 0 };
    if (posix_spawn(&p, "/bin/true", 0, 0, argv, environ) != 0) return 2;
    waitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
}
"#,
    )
    .ok()?;
    let ok = std::process::Command::new("cc").arg("-o").arg(&bin).arg(&src).status().ok()?.success();
    ok.then_some(bin)
}

#[test]
fn vfork_then_exec() {
    if !can_trace("vfork") {
        return;
    }
    let Some(prog) = vfork_program() else {
        eprintln!("SKIP vfork_then_exec: no C compiler");
        return;
    };
    let mut t = Tracer::launch([&prog], config(&["vfork", "clone", "clone3", "execve"])).unwrap();
    let evs = drain(&mut t, LONG);
    let _ = std::fs::remove_dir_all(prog.parent().unwrap());
    assert_eq!(t.exit_status(), Some(ExitStatus::Exited(0)));
    let vforks = of_type(&evs, T::SYSCALL_VFORK_20_X);
    let parent = vforks.iter().find(|e| e.int("res") > 0).expect("parent's vfork exit");
    let child_pid = parent.int("res");
    let child = vforks.iter().find(|e| e.int("res") == 0).expect("child's vfork exit");
    assert_eq!(child.tid(), child_pid);
    assert_eq!(child.int("ptid"), parent.int("pid"));
    let vfork_flags = (1 << 27) | (1 << 15); // PPM CLONE_VFORK | CLONE_VM
    assert_eq!(parent.int("flags"), vfork_flags);
    assert_eq!(child.int("flags"), vfork_flags);
    let execs = of_type(&evs, T::SYSCALL_EXECVE_19_X);
    let exec = execs.iter().find(|e| e.tid() == child_pid).expect("exec");
    assert_eq!((exec.bytes("exe"), exec.int("res")), (b"true".to_vec(), 0));
    // posix_spawn: a clone with CLONE_VFORK | CLONE_VM, then exec in the child.
    let spawned: Vec<&Owned> = of_type(&evs, T::SYSCALL_CLONE_20_X)
        .into_iter()
        .chain(of_type(&evs, T::SYSCALL_CLONE3_X))
        .filter(|e| e.int("flags") & vfork_flags == vfork_flags)
        .collect();
    let spawn_child = spawned.iter().find(|e| e.int("res") == 0).expect("posix_spawn's child");
    assert!(spawned.iter().any(|e| e.int("res") == spawn_child.tid()));
    assert!(execs.iter().any(|e| e.tid() == spawn_child.tid() && e.int("res") == 0));
}

// ---- clone3 ----

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

#[test]
fn clone3_processes_and_threads() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "clone3");
        let args = CloneArgs { exit_signal: libc::SIGCHLD as u64, ..CloneArgs::default() };
        // SAFETY: a fork-like clone3; the child only calls _exit.
        let pid =
            unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>()) };
        if pid == 0 {
            unsafe { libc::_exit(7) };
        }
        let mut st = 0;
        // SAFETY: waiting for our child.
        unsafe { libc::waitpid(pid as i32, &mut st, 0) };
        // A thread (glibc creates threads with clone3).
        std::thread::spawn(|| ()).join().unwrap();
        std::process::exit(if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7 { 0 } else { 1 });
    }
    if !can_trace("clone3") {
        return;
    }
    let (evs, status, _) = run_helper("clone3", "clone3_processes_and_threads", &["clone3", "clone"]);
    assert_eq!(status, ExitStatus::Exited(0));
    let c3 = of_type(&evs, T::SYSCALL_CLONE3_X);
    // The fork-like clone3: flags 0, a child of its own process.
    let parent = c3.iter().find(|e| e.int("res") > 0 && e.int("flags") == 0).expect("fork-like clone3 in the parent");
    let child_pid = parent.int("res");
    let child = c3.iter().find(|e| e.tid() == child_pid).expect("the child's clone3 exit");
    assert_eq!((child.int("res"), child.int("pid"), child.int("ptid")), (0, child_pid, parent.int("pid")));
    assert_eq!(child.int("pgft_min"), 0, "a new task has no page faults yet");
    let exit = evs.iter().find(|e| e.ty() == T::PROCEXIT_1_E && e.tid() == child_pid).expect("child procexit");
    assert_eq!((exit.int("status"), exit.int("ret")), (7 << 8, 7));
    // Threads: CLONE_THREAD, same pid, new tid.
    let thread = c3.iter().find(|e| e.int("res") == 0 && e.int("flags") & (1 << 13) != 0).expect("a thread's clone3");
    assert_eq!(thread.int("pid"), parent.int("pid"));
    assert_ne!(thread.tid(), parent.int("pid"));
}

// ---- SIGKILL ----

#[test]
fn sigkill_ends_the_trace() {
    if let Some(mode) = helper_mode() {
        match mode.as_str() {
            "kill-self" => {
                for _ in 0..3 {
                    std::thread::spawn(|| std::thread::sleep(Duration::from_secs(60)));
                }
                std::thread::sleep(Duration::from_millis(50));
                // SAFETY: killing ourselves.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            }
            _ => loop {
                // Busy in traced syscalls, so SIGKILL arrives at any stop.
                std::thread::sleep(Duration::from_micros(100));
            },
        }
        std::process::exit(1);
    }
    if !can_trace("sigkill") {
        return;
    }
    let (evs, status, _) = run_helper("kill-self", "sigkill_ends_the_trace", &["clone3", "clone", "kill"]);
    assert_eq!(status, ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false });
    let exits = of_type(&evs, T::PROCEXIT_1_E);
    assert!(exits.len() >= 5, "every thread's procexit: {exits:#?}");
    assert!(exits.iter().all(|e| e.int("sig") == libc::SIGKILL as i64 && e.int("status") == libc::SIGKILL as i64));
    // Killed from outside while stopping at every nanosleep.
    let mut t =
        Tracer::launch(helper_cmd("kill-loop", "sigkill_ends_the_trace"), config(&["nanosleep", "clock_nanosleep"]))
            .unwrap();
    let _ = collect_until(&mut t, LONG, |e| e.len() > 200);
    // SAFETY: killing our child.
    unsafe { libc::kill(t.child_pid().unwrap(), libc::SIGKILL) };
    drain(&mut t, LONG);
    assert_eq!(t.exit_status(), Some(ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: false }));
}

// ---- a tracee that is a debugger ----

#[test]
fn nested_debugger_is_reported_and_never_hangs() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "ptrace");
        // SAFETY: raw ptrace/fork/waitpid; the children only call _exit/pause.
        unsafe {
            let c = libc::fork();
            if c == 0 {
                let r = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                let e = *libc::__errno_location();
                libc::_exit(if r == -1 && e == libc::EPERM { 0 } else { 1 });
            }
            let mut st = 0;
            libc::waitpid(c, &mut st, 0);
            let traceme_ok = libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
            let c = libc::fork();
            if c == 0 {
                libc::pause();
                libc::_exit(0);
            }
            let r = libc::ptrace(libc::PTRACE_SEIZE, c, 0, 0);
            let e = *libc::__errno_location();
            libc::kill(c, libc::SIGKILL);
            libc::waitpid(c, &mut st, 0);
            std::process::exit(if traceme_ok && r == -1 && e == libc::EPERM { 0 } else { 1 });
        }
    }
    if !can_trace("nested") {
        return;
    }
    let (evs, status, notices) =
        run_helper("ptrace", "nested_debugger_is_reported_and_never_hangs", &["ptrace", "clone", "clone3"]);
    assert_eq!(status, ExitStatus::Exited(0), "ptrace inside must fail with EPERM (one tracer per process)");
    let pt = of_type(&evs, T::SYSCALL_PTRACE_X);
    assert_eq!(pt.len(), 2, "{pt:#?}");
    assert!(pt.iter().all(|e| e.int("res") == -(libc::EPERM as i64)));
    let requests: Vec<u64> = notices
        .iter()
        .filter_map(|n| match n {
            Notice::NestedPtrace { request, result, .. } if *result == -(libc::EPERM as i64) => Some(*request),
            _ => None,
        })
        .collect();
    assert_eq!(requests, [0, 0x4206], "{notices:?}");
    assert!(notices[0].to_string().contains("debugger"));
    // A real debugger under saker: it cannot trace, reports it and exits.
    if std::path::Path::new("/usr/bin/strace").exists() {
        let mut t = Tracer::launch(["/usr/bin/strace", "-o", "/dev/null", "/bin/true"], config(&["execve"])).unwrap();
        drain(&mut t, LONG);
        assert_ne!(t.exit_status(), Some(ExitStatus::Exited(0)));
        assert!(t.take_notices().iter().any(|n| matches!(n, Notice::NestedPtrace { .. })));
    }
    // Even when ptrace is not among the traced syscalls, it is reported.
    let (_, status, notices) = run_helper("ptrace", "nested_debugger_is_reported_and_never_hangs", &["execve"]);
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(notices.len(), 2);
}

#[test]
fn forwarded_signals_reach_the_command() {
    if !can_trace("forward") {
        return;
    }
    let mut t = Tracer::launch(["/bin/sleep", "30"], config(&["execve", "clock_nanosleep", "nanosleep"])).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let control = t.control();
    assert!(control.forward_signal(libc::SIGTERM));
    let evs = drain(&mut t, LONG);
    assert_eq!(t.exit_status(), Some(ExitStatus::Signaled { signal: libc::SIGTERM, core_dumped: false }));
    // The sleep was interrupted by the signal, as without a tracer.
    assert!(evs.iter().any(|e| e.ty() == T::PROCEXIT_1_E && e.int("sig") == libc::SIGTERM as i64));
    assert!(!control.forward_signal(libc::SIGTERM) || t.exit_status().is_some());
    // The header describes the command before it exec'd, and saker's ancestry.
    let h = t.header();
    let pid = t.child_pid().unwrap() as u64;
    let me = h.processes.iter().find(|p| p.tid == pid).expect("the command in the header");
    assert_eq!(me.ptid, std::process::id() as u64);
    assert!(!me.fds.is_empty(), "its fds");
    assert!(h.processes.iter().any(|p| p.tid == std::process::id() as u64), "saker in the header");
    assert!(h.machine.is_some() && !h.users.is_empty());
}

// ---- cost ----

/// A traced syscall costs two stops (seccomp, then exit); an untraced one
/// none: the figure the benchmark's `stops per op` is made of.
#[test]
fn a_traced_syscall_stops_twice_and_an_untraced_one_never() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "close");
        for _ in 0..1000 {
            // SAFETY: closing an fd that cannot exist (EBADF).
            unsafe { libc::close(-1) };
        }
        std::process::exit(0);
    }
    if !can_trace("close") {
        return;
    }
    let name = "a_traced_syscall_stops_twice_and_an_untraced_one_never";
    let stops = |traced: &[&str]| {
        let mut t = Tracer::launch(helper_cmd("close", name), config(traced)).expect("launch");
        let evs = drain(&mut t, LONG);
        assert_eq!(t.exit_status(), Some(ExitStatus::Exited(0)));
        (t.stops(), of_type(&evs, T::SYSCALL_CLOSE_X).len())
    };
    let (untraced, none) = stops(&["openat"]);
    let (traced, closes) = stops(&["openat", "close"]);
    assert_eq!(none, 0);
    assert!(closes >= 1000, "{closes} close events");
    let extra = traced - untraced;
    assert_eq!(extra, 2 * closes as u64, "{extra} more stops with close traced, for {closes} close calls");
}
