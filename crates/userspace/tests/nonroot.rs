//! The driver as an ordinary user: a user created by the test (no capability
//! at all) traces its own command and its own process, and gets a clear
//! error when it tries to attach to another user's process.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::*;
use saker_abi::EventType as T;
use saker_userspace::{ErrorKind, ExitStatus, Tracer};

const USER: &str = "saker-us-test";
const LONG: Duration = Duration::from_secs(60);

/// Runs as the ordinary user; returns a description of the first failure.
fn as_user() -> Result<(), String> {
    // SAFETY: getters without preconditions.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if uid == 0 || euid == 0 {
        return Err(format!("still root (uid {uid}, euid {euid})"));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim().to_string();
    if u64::from_str_radix(&cap_eff, 16).unwrap() != 0 {
        return Err(format!("has capabilities {cap_eff}"));
    }
    // Launch: trace a command of our own.
    let file = format!("/tmp/saker-us-nonroot-{}", std::process::id());
    let script = format!("echo hello > {file} && cat {file} > /dev/null && rm {file} && exit 3");
    let mut t = Tracer::launch(["/bin/sh", "-c", &script], config(&["execve", "openat", "unlinkat", "vfork", "clone"]))
        .map_err(|e| format!("launch: {e}"))?;
    let evs = drain(&mut t, LONG);
    if t.exit_status() != Some(ExitStatus::Exited(3)) {
        return Err(format!("exit status {:?}", t.exit_status()));
    }
    let created = evs.iter().any(|e| {
        e.ty() == T::SYSCALL_OPENAT_2_X
            && e.bytes("name") == file.as_bytes()
            && e.int("fd") >= 0
            && e.int("flags") & (1 << 14) != 0 // O_F_CREATED
    });
    if !created {
        return Err(format!("no openat creating {file}: {evs:#?}"));
    }
    let execs = of_type(&evs, T::SYSCALL_EXECVE_19_X);
    if !execs.iter().any(|e| e.bytes("exe") == b"/bin/sh" && e.int("uid") == uid as i64) {
        return Err(format!("no execve of /bin/sh as uid {uid}: {execs:#?}"));
    }
    // Attach: a process of our own.
    let mut sleeper = Command::new("/bin/sleep").arg("30").spawn().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(100));
    let mut t = Tracer::attach(sleeper.id() as i32, config(&["execve"])).map_err(|e| format!("attach own: {e}"))?;
    t.control().detach();
    drain(&mut t, LONG);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    // Attach: root's process 1 is refused, and the error says why and what to do.
    match Tracer::attach(1, config(&["execve"])) {
        Ok(_) => return Err("attached to root's pid 1".into()),
        Err(e) => {
            let msg = e.to_string();
            let ok = match e.kind() {
                ErrorKind::OtherUser { owner: 0, .. } => msg.contains("belongs to user 0") && msg.contains("as root"),
                ErrorKind::PtraceScope { .. } => msg.contains("kernel.yama.ptrace_scope"),
                _ => false,
            };
            if !ok {
                return Err(format!("unclear error for pid 1: {e:?}: {msg}"));
            }
            eprintln!("attach to pid 1 as uid {uid}: {msg}");
        }
    }
    Ok(())
}

fn user_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, USER]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

#[test]
fn runs_as_an_ordinary_user() {
    if let Some(mode) = helper_mode() {
        assert_eq!(mode, "nonroot");
        match as_user() {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("FAILED as an ordinary user: {e}");
                std::process::exit(1);
            }
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP runs_as_an_ordinary_user: creating a user needs root");
        return;
    }
    if !can_trace("nonroot") {
        return;
    }
    if user_ids().is_none() {
        let st = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
            .status()
            .expect("useradd");
        assert!(st.success() || user_ids().is_some(), "useradd failed: {st}");
    }
    let (uid, gid) = user_ids().expect("the test user");
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "runs_as_an_ordinary_user", "--nocapture", "--test-threads=1", "-q"])
        .env("SAKER_US_HELPER", "nonroot")
        .env("HOME", "/tmp")
        .current_dir("/tmp");
    // std drops the supplementary groups when it changes the uid from root.
    let out = cmd.gid(gid).uid(uid).output().expect("run as the test user");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "as uid {uid}: {}\n{stderr}", out.status);
    assert!(stderr.contains("attach to pid 1"), "{stderr}");
}
