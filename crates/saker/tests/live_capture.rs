//! Live `saker trace` with the default driver: a capture written during a
//! marker workload is read by sysdig 0.29.3 (the oracle) and shows the
//! marker open, connect and execve with the right processes; the file stands
//! alone (processes, fds and users from /proc); Ctrl-C and SIGTERM stop
//! cleanly; `--stats` reports the driver's counters.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use live_common::*;

/// The marker workload: opens a fresh file with exact flags and mode,
/// connects to a loopback listener, reports the fd and the local port, then
/// execs /usr/bin/true with a known argv and a marker in its environment.
const MARKER: &str = r#"
use strict; use Socket; use Fcntl;
$| = 1;
my ($path, $port, $argv0, $arg, $mark) = @ARGV;
sysopen(my $fh, $path, O_WRONLY|O_CREAT|O_EXCL, 0640) or die "open: $!";
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
my ($lport) = unpack_sockaddr_in(getsockname($s));
print fileno($fh), " $lport\n";
close($s); close($fh);
$ENV{SAKER_MARK} = $mark;
exec { "/usr/bin/true" } $argv0, $arg or die "exec: $!";
"#;

/// A process that exists before the capture starts, with a file open; once
/// told to (a line on stdin), it writes to that file.
const PRE_EXISTING: &str = r#"
use strict; use Fcntl;
$| = 1;
my ($path) = @ARGV;
sysopen(my $fh, $path, O_WRONLY|O_CREAT|O_TRUNC, 0600) or die "open: $!";
print fileno($fh), "\n";
my $go = <STDIN>;
syswrite($fh, "written-after-start\n") or die "write: $!";
close($fh);
"#;

#[test]
fn sysdig_reads_a_live_capture_of_the_marker_workload() {
    if !can_run("sysdig_reads_a_live_capture_of_the_marker_workload") {
        return;
    }
    let n = nonce();
    let dir = work_dir("live-sysdig", &n);
    let dir_s = dir.to_str().unwrap();
    let marker_path = format!("{dir_s}/marker-{n}");
    let pre_path = format!("{dir_s}/pre-{n}");
    let argv0 = format!("saker-argv0-{n}");
    let arg = format!("saker-arg-{n}");
    let mark = format!("mark-{n}");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = std::thread::spawn(move || {
        let _ = listener.accept();
    });

    // Started before the capture: only the file's header can name it and its fd.
    let mut pre = spawn_perl(&dir, &format!("skp-{n}"), PRE_EXISTING, &[&pre_path]);
    let pre_fd: i64 = read_line(&mut pre).trim().parse().unwrap();

    let capture = dir.join("live.scap");
    let trace = LiveTrace::start(
        &capture,
        &["-q", "--stats", "--syscalls", "open,openat,openat2,creat,socket,connect,close,execve,clone,clone3,write"],
    );
    writeln!(pre.stdin.as_mut().unwrap(), "go").unwrap();
    wait_ok(pre, "the pre-existing process");

    let mut marker =
        spawn_perl(&dir, &format!("skm-{n}"), MARKER, &[&marker_path, &port.to_string(), &argv0, &arg, &mark]);
    let marker_pid = marker.id();
    let report = read_line(&mut marker);
    wait_ok(marker, "the marker workload");
    acceptor.join().unwrap();
    let mut words = report.split_whitespace();
    let (fd, lport): (i64, u16) = (words.next().unwrap().parse().unwrap(), words.next().unwrap().parse().unwrap());
    // Let the last events through the rings, then stop as a user would.
    std::thread::sleep(Duration::from_millis(300));
    let done = trace.stop("INT");
    assert!(done.status.success(), "saker trace after Ctrl-C: {} {}", done.status, done.stderr);
    assert_eq!(done.stat("Drops (too large)"), 0);

    // sysdig's default lines: the marker open, connect and execve.
    let text = sysdig_clean(&capture, &[]);
    let name = format!("skm-{n} ({marker_pid})");
    let open = text
        .lines()
        .find(|l| l.contains(&name) && l.contains("< openat ") && l.contains(&format!("name={marker_path} ")))
        .unwrap_or_else(|| panic!("no marker openat exit in sysdig's output:\n{}", grep(&text, &n)));
    println!("sysdig: {open}");
    assert!(open.contains(&format!("fd={fd}(<f>{marker_path})")), "{open}");
    assert!(open.contains("O_EXCL") && open.contains("O_CREAT") && open.contains("O_WRONLY"), "{open}");
    assert!(open.contains("mode=0640"), "{open}");
    let connect = text
        .lines()
        .find(|l| l.contains(&name) && l.contains("< connect "))
        .unwrap_or_else(|| panic!("no marker connect exit:\n{}", grep(&text, &n)));
    println!("sysdig: {connect}");
    assert!(connect.contains(&format!("res=0 tuple=127.0.0.1:{lport}->127.0.0.1:{port}")), "{connect}");
    let execve = text
        .lines()
        .find(|l| l.contains(&format!("true ({marker_pid}) < execve ")))
        .unwrap_or_else(|| panic!("no marker execve exit:\n{}", grep(&text, &n)));
    println!("sysdig: {execve}");
    assert!(execve.contains(&format!("res=0 exe={argv0} args={arg}. ")), "{execve}");

    // The same through sysdig's fields, and the process state behind them.
    let fields = sysdig_clean(
        &capture,
        &[
            "-p",
            "*%proc.name|%evt.type|%evt.dir|%fd.num|%fd.name|%fd.sport|%fd.cport|%proc.exe|%proc.args|%proc.env|%user.name",
            &format!("proc.pid={marker_pid} and evt.dir=<"),
        ],
    );
    let has = |want: &str| fields.lines().any(|l| l.starts_with(want));
    assert!(has(&format!("skm-{n}|openat|<|{fd}|{marker_path}|")), "{fields}");
    assert!(has(&format!("skm-{n}|connect|<|")), "{fields}");
    let exec_line = fields
        .lines()
        .find(|l| l.starts_with("true|execve|<|"))
        .unwrap_or_else(|| panic!("no execve in sysdig -p output:\n{fields}"));
    assert!(exec_line.contains(&format!("|{argv0}|{arg}|")), "{exec_line}");
    assert!(exec_line.contains(&format!("SAKER_MARK={mark}")), "{exec_line}");
    assert!(exec_line.ends_with("|root"), "{exec_line}");

    // The file stands alone: the process that existed before the capture,
    // its fd and its user come from the header read from /proc.
    let pre_line = sysdig_clean(
        &capture,
        &["-p", "%proc.name|%evt.type|%fd.num|%fd.name|%user.name", &format!("evt.type=write and fd.name={pre_path}")],
    );
    assert!(pre_line.lines().any(|l| l == format!("skp-{n}|write|{pre_fd}|{pre_path}|root")), "{pre_line}");

    // saker reads its own capture back the same way.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["trace", "-r"])
        .arg(&capture)
        .args(["-p", "%proc.name|%evt.type|%fd.num|%fd.name", &format!("proc.pid={marker_pid} and evt.type=openat")])
        .output()
        .unwrap();
    let saker_text = String::from_utf8_lossy(&out.stdout);
    assert!(saker_text.lines().any(|l| l == format!("skm-{n}|openat|{fd}|{marker_path}")), "{saker_text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn grep(text: &str, needle: &str) -> String {
    text.lines().filter(|l| l.contains(needle)).collect::<Vec<_>>().join("\n")
}

/// SIGTERM stops like Ctrl-C: exit 0, every event up to the signal written
/// and readable, and the counters printed.
#[test]
fn sigterm_stops_cleanly_and_flushes_the_capture() {
    if !can_run("sigterm_stops_cleanly_and_flushes_the_capture") {
        return;
    }
    let n = nonce();
    let dir = work_dir("live-term", &n);
    let capture = dir.join("term.scap");
    let format = "%evt.dir %evt.type %fd.name";
    let trace = LiveTrace::start(&capture, &["-p", format, "--stats", "fd.name contains term-"]);
    // Many small files, so that the capture outgrows its write buffer.
    let count = 300;
    for i in 0..count {
        std::fs::write(dir.join(format!("term-{n}-{i}")), b"x").unwrap();
    }
    let last = format!("term-{n}-{}", count - 1);
    assert!(trace.wait_for(Duration::from_secs(20), |l| l.contains(&last)), "the last file was not seen");
    let done = trace.stop("TERM");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    assert!(done.stat("Events seen by the source") > 0);
    for label in ["Drops", "Drops (too large)", "Drops (other)"] {
        done.stat(label);
    }
    assert!(done.stderr.contains("Drops (buffer full): process "), "{}", done.stderr);
    let exits = |lines: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        lines.filter(|l| l.starts_with("< ")).map(str::to_string).collect()
    };
    let printed = exits(&mut done.stdout.iter().map(String::as_str));
    let opened = printed.iter().filter(|l| l.starts_with("< openat ") && l.contains(&format!("term-{n}-"))).count();
    // On a loaded machine the rings may overflow; then the loss must show
    // in the drop counters, never be silent.
    let drops = done.stat("Drops");
    assert!(opened >= count || drops > 0, "{opened} openat exits printed for {count} files, and no drop counted");

    // Every event that was printed is in the file, which ends cleanly
    // (the file also has the enter events the writer added for sysdig).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["trace", "-r"])
        .arg(&capture)
        .args(["-p", format])
        .output()
        .unwrap();
    assert!(out.status.success(), "reading the capture back: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(exits(&mut std::str::from_utf8(&out.stdout).unwrap().lines()), printed);
    let text = sysdig_clean(&capture, &["-p", "%evt.type %fd.name", "evt.type=openat and evt.dir=<"]);
    assert_eq!(text.lines().filter(|l| l.contains(&format!("term-{n}-"))).count(), count);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--syscalls` restricts what the kernel sends; `-M` stops after a time;
/// the live flags reach the driver.
#[test]
fn syscalls_and_driver_flags_shape_the_capture() {
    if !can_run("syscalls_and_driver_flags_shape_the_capture") {
        return;
    }
    let n = nonce();
    let dir = work_dir("live-flags", &n);
    let capture = dir.join("flags.scap");
    let trace = LiveTrace::start(
        &capture,
        &[
            "-M",
            "3",
            "--syscalls",
            "openat",
            "--cpus-for-each-buffer",
            "1",
            "--buffer-size",
            "1M",
            "--snaplen",
            "256",
            "--stats",
            "-p",
            "%evt.type",
        ],
    );
    for i in 0..20 {
        std::fs::write(dir.join(format!("f-{i}")), b"x").unwrap();
        let _ = std::fs::read_dir(&dir).unwrap().count();
    }
    let done = trace.finish();
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    assert!(done.stdout.iter().any(|l| l == "openat"), "no openat seen");
    // Only openat, plus the process exits the driver always reports.
    let others: Vec<&String> = done.stdout.iter().filter(|l| *l != "openat" && *l != "procexit").collect();
    assert!(others.is_empty(), "events other than openat: {others:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without the kernel module loaded, `--driver kmod` says how to build and
/// load it (the host cannot load modules: the guest suite tests the driver).
#[test]
fn kmod_without_the_module_says_how_to_load_it() {
    if std::path::Path::new("/dev/saker").exists() {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["trace", "--driver", "kmod", "-M", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("/dev/saker") && err.contains("saker driver build --kind kmod"), "{err}");
}

/// Mistakes in the live flags are usage errors (exit code 2) that name the
/// problem, before anything is attached.
#[test]
fn live_usage_errors() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_saker")).arg("trace").args(args).output().unwrap()
    };
    for (args, want) in [
        (&["--driver", "userspace"][..], "traces a command"),
        (&["--driver", "userspace", "--pid", "1", "--", "true"][..], "not both"),
        (&["--", "true"][..], "needs --driver userspace"),
        (&["--driver", "bogus"][..], "unknown driver 'bogus'"),
        (&["--syscalls", "openat,nosuchcall"][..], "nosuchcall"),
        (&["--buffer-size", "12Q"][..], "12Q"),
        (&["-r", "x.scap", "--syscalls", "openat"][..], "cannot be used with"),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
