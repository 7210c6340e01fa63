//! `saker detect` live with three outputs (stdout, a file, HTTP to a real
//! receiver in its own process) while a workload raises a steady stream of
//! alerts; the receiver is killed (SIGKILL) mid-stream. Capture and the other
//! outputs carry on: stdout and the file get every alert, before and after
//! the kill, promptly and without a lost event; and saker detect's own
//! metrics and final summary count what the HTTP output lost.

mod live_common;
mod live_detect;

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use live_common::*;
use live_detect::*;

/// An HTTP/1.1 receiver: keeps connections alive, answers 200 to every
/// request, and prints each body on a line of its stdout.
const RECEIVER: &str = r#"
use IO::Socket::INET; $| = 1;
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "ready\n";
while (my $c = $l->accept) {
  while (defined(my $line = <$c>)) {
    my $len = 0;
    while (defined($line) && $line ne "\r\n") { $len = $1 if $line =~ /^content-length:\s*(\d+)/i; $line = <$c>; }
    last unless defined $line;
    my $body = ""; while (length($body) < $len) { my $n = read($c, $body, $len - length($body), length($body)); last unless $n; }
    $body =~ s/\n//g; print "$body\n";
    print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  }
}
"#;

/// The bodies the receiver printed, counted as they arrive.
struct Received {
    child: Child,
    bodies: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
}

fn start_receiver(dir: &std::path::Path, name: &str, port: u16) -> Received {
    let mut child = spawn_perl(dir, name, RECEIVER, &[&port.to_string()]);
    assert_eq!(read_line(&mut child), "ready", "the HTTP receiver did not start");
    let out = child.stdout.take().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let (b2, c2) = (Arc::clone(&bodies), Arc::clone(&count));
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if !line.is_empty() {
                b2.lock().unwrap().push(line);
                c2.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    Received { child, bodies, count }
}

fn wait_until(max: Duration, f: impl Fn() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < max {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    f()
}

#[test]
fn a_killed_http_receiver_stops_neither_capture_nor_the_other_outputs_and_its_losses_are_counted() {
    if !can_run("detect_live_outputs") {
        return;
    }
    let n = nonce();
    let w = work_dir("detect-outputs", &n);
    let port = free_port();
    let mut receiver = start_receiver(&w, &format!("recv{n}"), port);
    let file = w.join("alerts.json");
    let d = LiveDetect::start(&[
        "-o",
        "file_output.enabled=true",
        "-o",
        "file_output.keep_alive=true",
        "-o",
        &format!("file_output.filename={}", file.display()),
        "-o",
        "http_output.enabled=true",
        "-o",
        &format!("http_output.url=http://127.0.0.1:{port}/"),
        "-o",
        "output_timeout=500",
    ]);

    // The stream: a program reading /etc/shadow 600 times, every 2 ms; each
    // read is one alert of saker's default rules.
    let total = 600;
    let name = format!("gen{n}");
    let gen_start = Instant::now();
    let mut generator = spawn_perl(
        &w,
        &name,
        r#"$| = 1; for my $i (1 .. $ARGV[0]) { open(my $f, "<", "/etc/shadow") or die "shadow: $!"; close $f; print "$i\n" if $i == 1; select(undef, undef, undef, 0.002); }"#,
        &[&total.to_string()],
    );
    assert_eq!(read_line(&mut generator), "1");

    // Kill the receiver once it has taken a third of the stream.
    assert!(
        wait_until(Duration::from_secs(20), || receiver.count.load(Ordering::SeqCst) >= total / 3),
        "the receiver got only {} alerts",
        receiver.count.load(Ordering::SeqCst)
    );
    receiver.child.kill().unwrap();
    let killed_at = SystemTime::now();
    let _ = receiver.child.wait();
    let received = receiver.count.load(Ordering::SeqCst);
    let status = generator.wait().unwrap();
    let gen_end = Instant::now();
    assert!(status.success(), "the generator failed: {status}");
    assert!(received < total, "the receiver was killed after the stream ended ({received} of {total})");

    // Every alert reaches stdout, the last within a second of the workload's
    // end: capture did not stall behind the dead receiver.
    let from_gen = |a: &Alert| a.field("proc.name").as_deref() == Some(name.as_str());
    assert!(
        wait_until(Duration::from_secs(10), || d.alerts_since(0).iter().filter(|a| from_gen(a)).count() >= total),
        "stdout got {} of {total} alerts",
        d.alerts_since(0).iter().filter(|a| from_gen(a)).count()
    );
    let on_stdout: Vec<Alert> = d.alerts_since(0).into_iter().filter(|a| from_gen(a)).collect();
    let last = on_stdout.iter().map(|a| a.at).max().unwrap();
    let tail = last.saturating_duration_since(gen_end);
    assert!(tail < Duration::from_secs(1), "the last alert came {tail:?} after the workload ended");
    let after_kill = on_stdout
        .iter()
        .filter(|a| {
            let ns = a.fields.get("evt.time").and_then(|v| v.as_u64()).unwrap();
            SystemTime::UNIX_EPOCH + Duration::from_nanos(ns) > killed_at
        })
        .count();
    assert!(after_kill > 0, "no alert for events after the kill");

    // The HTTP output's losses, in saker's metrics: what it did not deliver
    // is counted as an error or a drop, and every alert is accounted for.
    let all_alerts = d.alerts_since(0).len() as f64;
    let settled = || {
        let m = d.metrics().unwrap_or_default();
        let get = |k: &str| metric(&m, k).unwrap_or(0.0);
        let (sent, errors, dropped, queued) = (
            get(r#"saker_outputs_sent_total{output="http"}"#),
            get(r#"saker_outputs_errors_total{output="http"}"#),
            get(r#"saker_outputs_dropped_total{output="http"}"#),
            get(r#"saker_outputs_queued{output="http"}"#),
        );
        (sent + errors + dropped >= all_alerts && queued == 0.0).then_some((m, sent, errors, dropped))
    };
    assert!(wait_until(Duration::from_secs(30), || settled().is_some()), "the HTTP output never settled");
    let (m, sent, errors, dropped) = settled().unwrap();
    let get = |k: &str| metric(&m, k).unwrap_or_else(|| panic!("no {k} in /metrics:\n{m}"));
    let lost = errors + dropped;
    assert!(sent <= received as f64, "http sent {sent} but the receiver got {received}");
    assert!(
        lost >= all_alerts - received as f64,
        "http lost {lost}: fewer than the {} not received",
        all_alerts - received as f64
    );
    assert!(lost > 0.0 && sent + lost == all_alerts, "sent {sent} + lost {lost} != {all_alerts} alerts");
    for out in ["stdout", "file"] {
        let key = format!("saker_outputs_sent_total{{output=\"{out}\"}}");
        assert_eq!(get(&key), all_alerts, "{key}");
        assert_eq!(get(&format!("saker_outputs_errors_total{{output=\"{out}\"}}")), 0.0);
        assert_eq!(get(&format!("saker_outputs_dropped_total{{output=\"{out}\"}}")), 0.0);
    }
    let events_lost = get("falcosecurity_scap_n_drops_total");

    let stopped = d.stop();
    assert!(stopped.status.success(), "saker detect: {}\n{}", stopped.status, stopped.stderr);
    // The file has every alert too.
    let in_file = std::fs::read_to_string(&file).unwrap();
    let in_file: Vec<Alert> = in_file
        .lines()
        .filter_map(|l| parse_alert(Instant::now(), SystemTime::now(), l))
        .filter(|a| from_gen(a))
        .collect();
    assert_eq!(in_file.len(), total, "the file output lost alerts");
    // What the receiver got are alerts of the stream, in Falco's JSON.
    let bodies = receiver.bodies.lock().unwrap().clone();
    // (The other test of this file reads /etc/shadow too, under other
    // names, and runs at the same time: this saker sees its alerts as well.)
    let not_alerts: Vec<&String> =
        bodies.iter().take(received).filter(|b| parse_alert(Instant::now(), SystemTime::now(), b).is_none()).collect();
    assert!(not_alerts.is_empty(), "{not_alerts:?}");
    let ours = bodies.iter().take(received).filter(|b| b.contains(&format!("\"proc.name\":\"{name}\""))).count();
    assert!(ours >= total / 3 - 10, "only {ours} of the bodies are of the stream");
    // The summary counts the HTTP losses (they are delivery errors, not
    // queue drops: a dead receiver refuses the connection at once).
    let summary = stopped.stderr.lines().find(|l| l.starts_with("Events processed:")).unwrap().to_string();
    let lost_total = stopped.summary("alerts lost by outputs");
    assert!(lost_total as f64 >= lost && summary.contains(&format!("(http: {lost_total}, last error: ")), "{summary}");
    assert_eq!(stopped.summary("events lost by the driver"), 0, "{summary}");
    eprintln!(
        "stream of {total} alerts over {:?}; receiver killed after {received}; http: {sent} sent, {errors} errors, \
         {dropped} dropped; stdout and file: {total} each, {after_kill} of them after the kill; last alert {tail:?} \
         after the workload; events lost: {events_lost}\n{summary}",
        gen_end - gen_start
    );
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn sigusr1_reopens_the_file_output_after_rotation() {
    if !can_run("detect_live_outputs") {
        return;
    }
    let n = nonce();
    let w = work_dir("detect-sigusr1", &n);
    let file = w.join("alerts.json");
    let d = LiveDetect::start(&[
        "-o",
        "file_output.enabled=true",
        "-o",
        "file_output.keep_alive=true",
        "-o",
        &format!("file_output.filename={}", file.display()),
    ]);
    // One /etc/shadow read (an alert of saker's default rules) by a program
    // with a name of its own.
    let read_shadow = |name: &str| {
        let mut p = spawn_perl(&w, name, r#"open(my $f, "<", "/etc/shadow") or die "shadow: $!"; close $f;"#, &[]);
        assert!(p.wait().unwrap().success());
    };
    let holds = |f: &std::path::Path, name: &str| std::fs::read_to_string(f).is_ok_and(|t| t.contains(name));
    let before = format!("before{n}");
    read_shadow(&before);
    assert!(wait_until(Duration::from_secs(20), || holds(&file, &before)), "no alert in {}", file.display());
    // Rotate as logrotate does: rename, then SIGUSR1.
    let rotated = w.join("alerts.json.1");
    std::fs::rename(&file, &rotated).unwrap();
    let status = std::process::Command::new("kill").args(["-USR1", &d.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let after = format!("after{n}");
    // The signal is handled on its own thread: retry the workload until the
    // new file appears (an alert before the reopen lands in the old file).
    assert!(
        wait_until(Duration::from_secs(20), || {
            read_shadow(&after);
            std::thread::sleep(Duration::from_millis(200));
            holds(&file, &after)
        }),
        "no new {} after SIGUSR1",
        file.display()
    );
    assert!(holds(&rotated, &before));
    let stopped = d.stop();
    assert_eq!(stopped.summary("alerts lost by outputs"), 0);
}
