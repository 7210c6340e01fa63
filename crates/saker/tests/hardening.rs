//! What a user notices of issue 18's hardening: replays start no web server
//! unless asked, rules and configuration files are read with care (size,
//! UTF-8, permissions), a failed capture write names the file and its size,
//! and `-n` counts the events written.

mod common;
mod live_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{captures_dir, saker, temp_dir};

const RULE: &str =
    "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"%proc.name\"\n  priority: WARNING\n";

fn capture(name: &str) -> String {
    captures_dir().join(name).to_str().unwrap().to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_replay_starts_no_web_server_unless_asked() {
    // Hold the web server's port (if something else holds it, it is taken all the same).
    let _held = std::net::TcpListener::bind("127.0.0.1:8765");
    let cap = capture("falco__cat_write.scap");
    let out = saker(&["detect", "-e", &cap, "-o", "syslog_output.enabled=false"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Events processed:"), "{}", stderr(&out));
    // Asked for on the command line, it starts, and a taken port is an error.
    let out = saker(&["detect", "-e", &cap, "-o", "syslog_output.enabled=false", "-o", "webserver.enabled=true"]);
    assert!(!out.status.success(), "started a web server on a taken port?");
    assert!(stderr(&out).contains("cannot start the web server"), "{}", stderr(&out));
}

#[test]
fn rules_files_are_read_with_care() {
    let dir = temp_dir("hardening-rules");
    let write = |name: &str, bytes: &[u8], mode: u32| {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let dry = |args: &[&str]| {
        let mut v = vec!["detect", "--dry-run"];
        v.extend_from_slice(args);
        saker(&v)
    };
    // Invalid UTF-8, even in a comment, is located.
    let mut bad = RULE.as_bytes().to_vec();
    bad.extend_from_slice(b"# comment \xc3\xa9\xc3\n");
    let p = write("utf8.yaml", &bad, 0o644);
    let out = dry(&["-r", &p]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{p}:6:12: invalid UTF-8")), "{}", stderr(&out));

    // Writable by group or others: refused unless forced.
    let p = write("open.yaml", RULE.as_bytes(), 0o666);
    let out = dry(&["-r", &p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("open.yaml is writable by others (mode 0666)"), "{}", stderr(&out));
    let out = dry(&["-r", &p, "--allow-writable-files"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = write("saker.yaml", b"priority: debug\n", 0o620);
    let out = dry(&["-c", &c]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("saker.yaml is writable by its group"), "{}", stderr(&out));

    // An endless file: a clear error, at once.
    let t = std::time::Instant::now();
    let out = dry(&["-r", "/dev/zero", "--allow-writable-files"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/dev/zero is larger than 32 MiB"), "{}", stderr(&out));
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    let out = dry(&["-r", "/dev/zero"]);
    assert!(stderr(&out).contains("/dev/zero is writable by others"), "{}", stderr(&out));
}

/// A capture written to a full file system: the error names the file and
/// the size it has, not the offset the buffered writer had reached.
#[test]
fn a_full_disk_is_reported_with_the_file_and_its_size() {
    if !live_common::can_run("a_full_disk_is_reported_with_the_file_and_its_size") {
        return;
    }
    let dir = temp_dir("hardening-full");
    let mnt = dir.join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let out_file = mnt.join("out.scap");
    // A private mount namespace: the 16 KiB tmpfs goes away with the shell.
    let script = format!(
        "mount -t tmpfs -o size=16k saker-full {m} && {saker} trace -q -r {cap} -w {f}; rc=$?; stat -c 'size=%s' {f}; exit $rc",
        m = mnt.display(),
        saker = env!("CARGO_BIN_EXE_saker"),
        cap = capture("libs__sample.scap"),
        f = out_file.display()
    );
    let out = std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]).output().unwrap();
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{err}");
    let size: u64 =
        stdout.trim().strip_prefix("size=").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{stdout} {err}"));
    assert!(size > 0 && size <= 16 << 10, "{size}");
    let expected =
        format!("{}: byte offset {size}: cannot write the capture: No space left on device", out_file.display());
    assert!(err.contains(&expected), "expected '{expected}' in: {err}");
    assert!(err.contains(&format!("the file has {size} bytes")), "{err}");
}

/// `saker trace -w -n 1000` writes 1000 events, the enter events a live
/// capture gets counted, as sysdig counts them, and `--stats` says so.
#[test]
fn live_trace_n_counts_the_events_written() {
    if !live_common::can_run("live_trace_n_counts_the_events_written") {
        return;
    }
    let n = live_common::nonce();
    let dir = live_common::work_dir("live-n", &n);
    let cap = dir.join("n1000.scap");
    let trace = live_common::LiveTrace::start(&cap, &["-q", "--stats", "-n", "1000"]);
    // Enough system calls for 1000 events whatever else the host does.
    let mut load = Vec::new();
    for _ in 0..50 {
        load.push(std::process::Command::new("ls").arg("/proc").stdout(std::process::Stdio::null()).spawn().unwrap());
    }
    let done = trace.finish();
    for mut c in load {
        let _ = c.wait();
    }
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.stat("Events written:"), 1000, "{}", done.stderr);
    let read = saker(&["trace", "-r", cap.to_str().unwrap(), "-q", "--stats"]);
    assert!(stderr(&read).contains("Events read: 1000\n"), "{}", stderr(&read));
    // sysdig reads them all but those of event types newer than it knows.
    let newer = common::without_new_event_types(&cap, &dir.join("old-types.scap"));
    let out = common::sysdig(&["-r", cap.to_str().unwrap(), "-p", "%evt.num"]);
    let lines = String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).count();
    assert_eq!(lines + newer, 1000, "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
