//! The open filter in the kernel (kernel/modern_bpf/filter.bpf.h), on the
//! real kernel: opens its terms hold for are sent, the others left out and
//! counted apart from drops; paths user space must resolve and directories
//! always sent; a new filter installed while running. Runs as root; prints
//! SKIP otherwise.

mod common;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::time::Duration;

use common::*;
use saker_abi::EventType as T;
use saker_driver::kernel_filter::{OpenFilter, OpenTerm, PathMatch};
use saker_modern_bpf::{Config, ModernBpf};

/// Forks a child that opens each path (read-only, or write-only when the
/// flag says so) and closes it, then exits; its pid.
fn opens(paths: &[(&str, bool)]) -> i64 {
    let c: Vec<(CString, bool)> = paths.iter().map(|(p, w)| (CString::new(*p).unwrap(), *w)).collect();
    // SAFETY: the child makes raw syscalls on prepared data, then exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        for (p, w) in &c {
            let flags = if *w { libc::O_WRONLY | libc::O_APPEND } else { libc::O_RDONLY };
            // SAFETY: a valid NUL-terminated path.
            let fd = unsafe { libc::open(p.as_ptr(), flags) };
            if fd >= 0 {
                // SAFETY: our own fd.
                unsafe { libc::close(fd) };
            }
        }
        // SAFETY: leaving the child without the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let mut st = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    pid as i64
}

/// Forks a child that opens the FIFO `fifo` for reading, which keeps it
/// asleep in the open until this process opens the writing end a moment
/// later; the child's pid.
fn open_fifo_asleep(fifo: &str) -> i64 {
    let c = CString::new(fifo).unwrap();
    // SAFETY: the child makes raw syscalls on prepared data, then exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: a valid NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
        if fd >= 0 {
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
        }
        // SAFETY: leaving the child without the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: a valid NUL-terminated path; our own fd then.
    unsafe {
        let w = libc::open(c.as_ptr(), libc::O_WRONLY);
        assert!(w >= 0, "opening {fifo} for writing");
        libc::close(w);
    }
    let mut st = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    pid as i64
}

fn names(evs: &[Owned]) -> Vec<String> {
    of_type(evs, T::SYSCALL_OPENAT_2_X).iter().map(|e| text(&e.ev(), 2)).collect()
}

fn filter() -> OpenFilter {
    OpenFilter {
        terms: vec![
            OpenTerm {
                calls: 0b0111,
                paths: Some(vec![PathMatch::Exact("/etc/hostname".into()), PathMatch::Prefix("/proc/self/".into())]),
                flags_any: 1,
            },
            OpenTerm { calls: 0b0111, paths: None, flags_any: 2 },
        ],
    }
}

#[test]
fn opens_no_term_holds_for_are_left_out() {
    if !can_run("kernel_filter") {
        return;
    }
    let wanted: BTreeSet<String> = ["openat", "open", "close"].iter().map(|s| s.to_string()).collect();
    let mut probe =
        ModernBpf::open(Config { syscalls: Some(wanted), open_filter: Some(filter()), ..Config::default() }).unwrap();
    let dir = std::env::temp_dir().join(format!("saker-kf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap().to_string();
    let before = probe.stats().filtered;
    let pid = opens(&[
        ("/etc/hostname", false),       // exact name, read: sent
        ("/etc/passwd", false),         // nothing holds: left out
        ("/proc/self/status", false),   // prefix: sent
        (&f, true),                     // any write: sent
        (&f, false),                    // read of another path: left out
        ("/etc//passwd", false),        // not in normal form: sent
        ("/etc/../etc/passwd", false),  // `..`: sent
        (dir.to_str().unwrap(), false), // a directory: sent
        ("/nonexistent/file", false),   // a failed open: left out
    ]);
    let evs = collect(&mut probe, Duration::from_secs(2), |e| e.tid() as i64 == pid, |_| false);
    let got = names(&evs);
    let want = vec![
        "/etc/hostname".to_string(),
        "/proc/self/status".into(),
        f.clone(),
        "/etc//passwd".into(),
        "/etc/../etc/passwd".into(),
        dir.to_str().unwrap().to_string(),
    ];
    assert_eq!(got, want, "exits sent");
    // The enters of the same opens (the directory's enter knows no file yet).
    let enters: Vec<String> = of_type(&evs, T::SYSCALL_OPENAT_2_E).iter().map(|e| text(&e.ev(), 1)).collect();
    assert_eq!(enters, want[..5].to_vec(), "enters sent");
    // Every close is sent (the failed open made no fd).
    let closes = of_type(&evs, T::SYSCALL_CLOSE_X).len();
    assert_eq!(closes, 8, "closes");
    // Left out: 2 enters + 2 exits (passwd, the read of f), the failed
    // open's enter and exit, and the directory's enter (the counter also
    // counts the rest of the host's opens left out meanwhile).
    let filtered = probe.stats().filtered - before;
    assert!(filtered >= 7, "{filtered} events counted as filtered");
    assert_eq!(probe.stats().drops(), 0);

    // A new filter while running: none at all sends everything.
    probe.replace_open_filter(None).unwrap();
    let pid = opens(&[("/etc/passwd", false)]);
    let evs = collect(&mut probe, Duration::from_secs(2), |e| e.tid() as i64 == pid, |_| false);
    assert_eq!(names(&evs), ["/etc/passwd"]);
    probe.replace_open_filter(Some(&OpenFilter::default())).unwrap();
    let pid = opens(&[("/etc/hostname", false), ("/etc/passwd", true)]);
    let evs = collect(&mut probe, Duration::from_secs(2), |e| e.tid() as i64 == pid, |_| false);
    assert!(names(&evs).is_empty(), "{:?}", names(&evs));
    assert_eq!(of_type(&evs, T::SYSCALL_CLOSE_X).len(), 2);

    // An open that sleeps (other threads run on its CPU before its exit):
    // the exit decides by itself, as the enter did.
    let named = dir.join("named");
    std::fs::create_dir_all(&named).unwrap();
    let (sent, left) = (named.join("fifo"), dir.join("fifo"));
    for p in [&sent, &left] {
        let c = CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {p:?}");
    }
    let prefix = format!("{}/", named.to_str().unwrap());
    let only_named = OpenFilter {
        terms: vec![OpenTerm { calls: 0b0111, paths: Some(vec![PathMatch::Prefix(prefix)]), flags_any: 1 }],
    };
    probe.replace_open_filter(Some(&only_named)).unwrap();
    let before = probe.stats().filtered;
    let pid_sent = open_fifo_asleep(sent.to_str().unwrap());
    let pid_left = open_fifo_asleep(left.to_str().unwrap());
    let evs =
        collect(&mut probe, Duration::from_secs(2), |e| [pid_sent, pid_left].contains(&(e.tid() as i64)), |_| false);
    let of = |pid: i64, ty| evs.iter().filter(|e| e.ev().tid() as i64 == pid && e.ev().event_type() == ty).count();
    assert_eq!(
        (of(pid_sent, T::SYSCALL_OPENAT_2_E), of(pid_sent, T::SYSCALL_OPENAT_2_X)),
        (1, 1),
        "the named FIFO's open: enter and exit"
    );
    assert_eq!(
        (of(pid_left, T::SYSCALL_OPENAT_2_E), of(pid_left, T::SYSCALL_OPENAT_2_X)),
        (0, 0),
        "the other FIFO's open: left out"
    );
    assert!(probe.stats().filtered - before >= 2);
    assert_eq!(probe.stats().drops(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
