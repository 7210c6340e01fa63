//! Falco's stable container rules live, with the modern eBPF driver and a
//! real podman container (runc, cgroupfs): "Debugfs Launched in Privileged
//! Container" fires for debugfs run in a privileged container, with its
//! output fields filled, and not for the same in an unprivileged one. It
//! needs `container.privileged`, which comes from podman's Docker API.
//!
//! Needs root, kernel BTF, podman, runc and busybox (scripts/setup.sh);
//! prints SKIP otherwise.

mod live_common;
mod live_detect;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use live_common::*;
use live_detect::*;

const IMAGE: &str = "localhost/saker-bbd:1";
const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// podman's API service, when this test started it (stopped when dropped).
struct Service(Option<Child>);

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn podman_service() -> Service {
    if std::os::unix::net::UnixStream::connect(PODMAN_SOCKET).is_ok() {
        return Service(None);
    }
    let _ = std::fs::remove_file(PODMAN_SOCKET);
    std::fs::create_dir_all("/run/podman").unwrap();
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{PODMAN_SOCKET}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Service(Some(child));
    let t0 = Instant::now();
    while std::os::unix::net::UnixStream::connect(PODMAN_SOCKET).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "podman's service did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

/// busybox with `sh`, `sleep` and a `debugfs` link (the rule looks at the
/// process name only).
fn make_image(dir: &Path) {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "true", "debugfs"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let tar = dir.join("rootfs.tar");
    run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."));
    run(Command::new("podman").args(["import"]).arg(&tar).arg(IMAGE));
}

fn container(name: &str, privileged: bool) {
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm", "--name", name]).args([
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ]);
    if privileged {
        c.arg("--privileged");
    }
    // The metadata is looked up when the container shows: debugfs runs
    // once it is surely known (Falco's first events of a container may
    // miss it too).
    run(c.args([IMAGE, "sh", "-c", "sleep 1; debugfs; true"]));
}

#[test]
fn debugfs_in_a_privileged_container_fires_live() {
    if !can_run("debugfs_in_a_privileged_container_fires_live") {
        return;
    }
    let missing: Vec<&str> = ["podman", "runc", "busybox"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        eprintln!("SKIP debugfs_in_a_privileged_container_fires_live: missing {missing:?} (scripts/setup.sh)");
        return;
    }
    let n = nonce();
    let dir = work_dir("detect-containers", &n);
    let _service = podman_service();
    make_image(&dir);
    let rules = falco_rules();
    let d = LiveDetect::start(&["-r", rules.to_str().unwrap()]);

    const RULE: &str = "Debugfs Launched in Privileged Container";
    let from = d.line_count();
    container(&format!("saker-unpriv-{n}"), false);
    std::thread::sleep(Duration::from_secs(1));
    let quiet: Vec<Alert> = d.alerts_since(from).into_iter().filter(|a| a.rule == RULE).collect();
    assert!(
        quiet.is_empty(),
        "fired for an unprivileged container: {:?}",
        quiet.iter().map(|a| &a.line).collect::<Vec<_>>()
    );

    let from = d.line_count();
    container(&format!("saker-priv-{n}"), true);
    let alert = d.wait_alert(from, Duration::from_secs(5), |a| a.rule == RULE).unwrap_or_else(|| {
        panic!("{RULE} did not fire; alerts: {:?}", d.alerts_since(from).iter().map(|a| &a.line).collect::<Vec<_>>())
    });
    let stopped = d.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(alert.priority, "Warning");
    for (field, want) in [
        ("proc.name", "debugfs"),
        ("proc.pname", "sh"),
        ("user.name", "root"),
        ("user.uid", "0"),
        ("evt.type", "execve"),
    ] {
        assert_eq!(alert.field(field).as_deref(), Some(want), "{field} in {}", alert.line);
    }
    for field in ["proc.exepath", "proc.cmdline", "user.loginuid", "evt.arg.flags"] {
        let v = alert.field(field).unwrap_or_default();
        assert!(!v.is_empty() && v != "<NA>", "{field} not filled in {}", alert.line);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
