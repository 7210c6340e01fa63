//! What the live tests share: gating on root and BTF, running `saker trace`
//! live in the background, stopping it with a signal, and workload programs
//! (perl, which every Debian system has, run under marker names).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Whether live capture can run here (root and kernel BTF); prints a SKIP
/// line when not.
pub fn can_run(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false);
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    if !root || !btf {
        eprintln!("SKIP {test}: live capture needs root and kernel BTF (root={root}, btf={btf})");
        return false;
    }
    true
}

/// A short string unique to this test run (process names are at most 15 bytes).
pub fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let mix = (t.subsec_nanos() as u64) ^ ((std::process::id() as u64) << 20) ^ t.as_secs();
    format!("{:06x}", mix & 0xff_ffff)
}

/// A fresh directory under the system temp dir (paths there are what
/// workloads open; /tmp, not the target dir, so paths are short).
pub fn work_dir(name: &str, nonce: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saker-{name}-{nonce}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `saker trace` capturing live in the background.
pub struct LiveTrace {
    child: Child,
    out: Output,
    capture: PathBuf,
}

/// What a stopped `saker trace` left.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    /// The number after `label` on the `--stats` line starting with it.
    pub fn stat(&self, label: &str) -> u64 {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no '{label}' in saker's stderr:\n{}", self.stderr));
        line[label.len()..]
            .trim_start_matches([':', ' '])
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number in '{line}'"))
    }

    /// The numbers of the `Thread table:` line: at start, at end, at most.
    pub fn threads(&self) -> (u64, u64, u64) {
        let line = self.stderr.lines().find(|l| l.starts_with("Thread table:")).expect("--stats thread table line");
        let n: Vec<u64> =
            line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().unwrap()).collect();
        (n[0], n[1], n[2])
    }
}

impl LiveTrace {
    /// Starts `saker trace -w CAPTURE ARGS...` and waits until it captures:
    /// the capture file gets its header only once the driver is attached,
    /// the state read and the signal handlers installed.
    pub fn start(capture: &Path, args: &[&str]) -> LiveTrace {
        let _ = std::fs::remove_file(capture);
        let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
            .arg("trace")
            .arg("-w")
            .arg(capture)
            .args(args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run saker");
        let out = Output::read(&mut child);
        let mut t = LiveTrace { child, out, capture: capture.to_path_buf() };
        let t0 = Instant::now();
        loop {
            if std::fs::metadata(capture).is_ok_and(|m| m.len() > 0) {
                break;
            }
            if let Ok(Some(status)) = t.child.try_wait() {
                let (_, stderr) = t.out.finish();
                panic!("saker trace exited before capturing ({status}): {stderr}");
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "saker trace did not start capturing within 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        t
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.out.lines.lock().unwrap().iter().map(|(_, _, l)| l.clone()).collect()
    }

    /// Waits until a printed line satisfies `f` (or `max` passes).
    pub fn wait_for(&self, max: Duration, f: impl Fn(&str) -> bool) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < max {
            if self.out.lines.lock().unwrap().iter().any(|(_, _, l)| f(l)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends `signal` (`INT`, `TERM`, ...) and waits for saker to exit.
    pub fn stop(self, signal: &str) -> Finished {
        let st = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(st.success(), "kill -{signal} failed");
        self.finish()
    }

    /// Waits for saker to exit by itself (`-M`, `-n`).
    pub fn finish(mut self) -> Finished {
        let status = wait_exit(&mut self.child, "saker trace");
        let (lines, stderr) = self.out.finish();
        Finished { status, stdout: lines.into_iter().map(|(_, _, l)| l).collect(), stderr }
    }

    /// The capture file.
    pub fn capture(&self) -> &Path {
        &self.capture
    }
}

impl Drop for LiveTrace {
    fn drop(&mut self) {
        // A failing test must not leave a probe attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A symbolic link named `name` in `dir` to perl: running it gives a
/// process whose name (comm) is `name`.
pub fn perl_as(dir: &Path, name: &str) -> PathBuf {
    assert!(name.len() <= 15, "process names are at most 15 bytes: {name}");
    let perl = ["/usr/bin/perl", "/bin/perl"].into_iter().find(|p| Path::new(p).exists()).expect("perl");
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(perl, &link).unwrap();
    link
}

/// Runs perl (under the name `name`) with `script` and `args`, piping stdio.
/// The script is passed on one line (it must not hold `#` comments), so
/// that printed command lines stay on one line.
pub fn spawn_perl(dir: &Path, name: &str, script: &str, args: &[&str]) -> Child {
    Command::new(perl_as(dir, name))
        .arg("-e")
        .arg(script.trim().replace('\n', " "))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run perl")
}

/// Reads one line from a child's stdout.
pub fn read_line(child: &mut Child) -> String {
    let out = child.stdout.as_mut().unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Waits for a child and asserts it succeeded.
pub fn wait_ok(mut child: Child, what: &str) {
    let st = child.wait().unwrap();
    assert!(st.success(), "{what} failed: {st}");
}

/// Runs sysdig 0.29.3 (the oracle) on a capture; asserts it read it cleanly
/// (exit 0, nothing on stderr: no `wrong event type`, no crash).
pub fn sysdig_clean(capture: &Path, args: &[&str]) -> String {
    let out = Command::new("sysdig")
        .arg("-r")
        .arg(capture)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("cannot run sysdig (scripts/setup.sh installs sysdig 0.29.3, the oracle of these tests)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "sysdig -r {} {args:?}: {} {stderr}",
        capture.display(),
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits up to 60 s for a stopped saker (`what`) to exit; kills it and
/// fails the test if it does not.
pub fn wait_exit(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what} did not exit within 60 s of being stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child's stdout lines, each with the moment it arrived, and its stderr,
/// gathered by two reader threads.
pub struct Output {
    pub lines: Arc<Mutex<Vec<(Instant, SystemTime, String)>>>,
    pub stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Output {
    /// Starts reading `child`'s piped stdout and stderr.
    pub fn read(child: &mut Child) -> Output {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let (l2, e2) = (Arc::clone(&lines), Arc::clone(&stderr));
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    l2.lock().unwrap().push((Instant::now(), SystemTime::now(), line));
                }
            }),
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = BufReader::new(err).read_to_string(&mut s);
                e2.lock().unwrap().push_str(&s);
            }),
        ];
        Output { lines, stderr, readers }
    }

    /// Once the child has exited: everything it printed.
    pub fn finish(&mut self) -> (Vec<(Instant, SystemTime, String)>, String) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        (std::mem::take(&mut *self.lines.lock().unwrap()), std::mem::take(&mut *self.stderr.lock().unwrap()))
    }
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` to its end, asserting it succeeded; its stdout, trimmed.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// podman's Docker API socket, where saker reads a container's name, image,
/// privileges, mounts and labels.
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// podman's API service, when a test started it (stopped when dropped).
pub struct PodmanService(Option<Child>);

impl Drop for PodmanService {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// podman's API service on [`PODMAN_SOCKET`]: the one running, or one
/// started for the test.
pub fn podman_service() -> PodmanService {
    if std::os::unix::net::UnixStream::connect(PODMAN_SOCKET).is_ok() {
        return PodmanService(None);
    }
    let _ = std::fs::remove_file(PODMAN_SOCKET);
    std::fs::create_dir_all("/run/podman").unwrap();
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{PODMAN_SOCKET}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = PodmanService(Some(child));
    let t0 = Instant::now();
    while std::os::unix::net::UnixStream::connect(PODMAN_SOCKET).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "podman's service did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

/// `podman run --rm` of `image` (runc, cgroupfs) with `args`, `script` under
/// `sh -c` after a second (a container's metadata is looked up when it
/// first shows). The script may fail inside: only podman's own failures
/// (exit codes 125 and up) count.
pub fn podman_run(image: &str, name: &str, args: &[String], script: &str) {
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm", "--name", name])
        .args(["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"])
        .args(args)
        .args([image, "sh", "-c", &format!("sleep 1; {script}")])
        .stdin(Stdio::null());
    let out = c.output().unwrap_or_else(|e| panic!("cannot run podman: {e}"));
    let code = out.status.code().unwrap_or(-1);
    assert!((0..125).contains(&code), "{c:?} failed ({code}): {}", String::from_utf8_lossy(&out.stderr));
}

/// Accepts connections on `addr` and closes them at once, in the
/// background; the port.
pub fn listener(addr: &str) -> u16 {
    let l = std::net::TcpListener::bind((addr, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = c.read(&mut [0u8; 64]);
        }
    });
    port
}
