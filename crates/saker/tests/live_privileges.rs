//! Least privilege: a running `saker detect` (modern eBPF driver) keeps, in
//! every thread, only the capabilities the rest of the run needs, as
//! `/proc/PID/task/TID/status` shows, and still raises alerts.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CAP_SYS_PTRACE: u32 = 19;
const CAP_BPF: u32 = 39;

/// A capability set line of a status file, e.g. `CapEff:`.
fn cap(status: &str, label: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label} in {status}"));
    u64::from_str_radix(line[label.len()..].trim(), 16).unwrap()
}

#[test]
fn a_running_detect_keeps_only_the_capabilities_it_needs() {
    if !live_common::can_run("a_running_detect_keeps_only_the_capabilities_it_needs") {
        return;
    }
    let n = live_common::nonce();
    let dir = live_common::work_dir("live-caps", &n);
    let marker = dir.join(format!("marker-{n}"));
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Capability test marker\n  desc: the test's marker file is opened\n  condition: evt.type in (open, openat, openat2) and fd.name = {}\n  output: \"marker opened by %proc.name\"\n  priority: WARNING\n",
            marker.display()
        ),
    )
    .unwrap();
    // The program an output runs reports its own capabilities.
    let prog_caps = dir.join("program-caps");
    let program =
        format!("program_output.program=grep Cap /proc/self/status > {}; cat > /dev/null", prog_caps.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["detect", "-r", rules.to_str().unwrap()])
        .args(["-o", "syslog_output.enabled=false", "-o", "webserver.enabled=false"])
        .args(["-o", "program_output.enabled=true", "-o", &program])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Started once its capabilities are dropped (it starts with all of a root's).
    let keep = (1u64 << CAP_SYS_PTRACE) | (1u64 << CAP_BPF);
    let t0 = Instant::now();
    let status = loop {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if !s.is_empty() && cap(&s, "CapEff:") == keep {
            break s;
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("saker detect exited ({st}): {err}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "capabilities not dropped within 60 s: {s}");
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "saker detect (pid {pid}) after start:\n{}",
        status.lines().filter(|l| l.starts_with("Cap")).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(cap(&status, "CapPrm:"), keep, "{status}");
    assert_eq!(cap(&status, "CapInh:"), 0, "{status}");
    assert_eq!(cap(&status, "CapAmb:"), 0, "{status}");
    assert_eq!(cap(&status, "CapBnd:"), keep, "{status}");

    // Still detecting: the marker's open raises the alert.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        let _ = std::fs::File::create(&marker);
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("marker opened by") {
                seen = true;
                break;
            }
        }
    }
    // Every thread, the workers and outputs started after the drop included.
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let s = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap_or_default();
        if !s.is_empty() {
            assert_eq!(cap(&s, "CapEff:"), keep, "a thread kept more: {s}");
            assert_eq!(cap(&s, "CapBnd:"), keep, "a thread kept more: {s}");
        }
    }
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let st = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(seen, "no alert for the marker; stderr: {err}");
    // The output's program, run by root, got no capability from saker.
    let p =
        std::fs::read_to_string(&prog_caps).unwrap_or_else(|e| panic!("{}: {e}; stderr: {err}", prog_caps.display()));
    for label in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
        assert_eq!(cap(&p, label), 0, "the output's program: {p}");
    }
    assert!(st.success(), "saker detect: {st}: {err}");
    // Events went through the whole run (detect_live_drops checks the driver counters, read with CAP_BPF).
    let events: u64 = err
        .split("Events processed: ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no event count: {err}"));
    assert!(events > 0, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// As a non-root user given only the driver's capabilities (file
/// capabilities on a copy of the binary), `saker detect` starts, captures,
/// and keeps only what it needs while running.
#[test]
fn detect_runs_as_a_non_root_user_with_the_drivers_capabilities() {
    if !live_common::can_run("detect_runs_as_a_non_root_user_with_the_drivers_capabilities") {
        return;
    }
    let n = live_common::nonce();
    let dir = live_common::work_dir("live-nonroot", &n);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = dir.join("saker");
    std::fs::copy(env!("CARGO_BIN_EXE_saker"), &bin).unwrap();
    let st = Command::new("setcap")
        .args(["cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep", bin.to_str().unwrap()])
        .status()
        .expect("setcap (libcap2-bin, scripts/setup.sh installs it)");
    assert!(st.success(), "setcap failed");
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin.to_str().unwrap(), "detect"])
        .args(["-o", "syslog_output.enabled=false", "-o", "webserver.enabled=false"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let keep = (1u64 << CAP_SYS_PTRACE) | (1u64 << CAP_BPF);
    let t0 = Instant::now();
    // setpriv execs saker in the same process.
    let pid = child.id();
    let status = loop {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if s.starts_with("Name:\tsaker") && cap(&s, "CapEff:") == keep {
            break s;
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("saker detect as uid 65534 exited ({st}): {err}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "not started within 60 s: {s}");
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "{}",
        status.lines().filter(|l| l.starts_with("Uid") || l.starts_with("Cap")).collect::<Vec<_>>().join("\n")
    );
    assert!(status.contains("Uid:\t65534\t65534\t65534\t65534"), "{status}");
    assert_eq!(cap(&status, "CapPrm:"), keep, "{status}");
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let st = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(st.success(), "{st}: {err}");
    assert!(err.contains("Events processed: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
