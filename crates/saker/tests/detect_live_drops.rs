//! `syscall_event_drops` live: `saker detect` with a ring of one page and
//! an open/close storm it cannot keep up with. The driver drops events, and
//! saker says so everywhere Falco does: the log line, the
//! `Falco internal: syscall event drop` alert with the drop counters, the
//! `/metrics` counters and the exit summary.

mod live_common;
mod live_detect;

use std::time::Duration;

use live_common::*;
use live_detect::*;

#[test]
fn a_full_ring_is_logged_alerted_and_counted() {
    if !can_run("a_full_ring_is_logged_alerted_and_counted") {
        return;
    }
    let n = nonce();
    let w = work_dir("detect-drops", &n);
    let d = LiveDetect::start(&[
        "-o",
        "engine.modern_ebpf.buffer_size=4096",
        "-o",
        "engine.modern_ebpf.cpus_for_each_buffer=0",
        "-o",
        "syscall_event_drops.threshold=0",
        "-o",
        "syscall_event_drops.rate=10",
        "-o",
        "syscall_event_drops.max_burst=10",
    ]);
    // Opens the kernel sends whatever the rules (a relative path: user space
    // resolves it; the kernel filters leave out reads of /etc/hostname), as
    // fast as perl goes, for 1.5 s: the host is never idle meanwhile.
    let storm = spawn_perl(
        &w,
        &format!("storm{n}"),
        r#"chdir("/etc") or die; my $end = time() + 1.5; while (time() < $end) { for (1 .. 1000) { open(my $f, "<", "hostname"); close($f); } }"#,
        &[],
    );
    let alert = d.wait_alert(0, Duration::from_secs(10), |a| a.rule == "Falco internal: syscall event drop");
    wait_ok(storm, "the open storm");
    let storm_end = std::time::Instant::now();
    let alert = alert.expect("no drop alert while the ring overflowed");
    // While the host is busy, not once it has calmed down.
    assert!(alert.at < storm_end, "the drop alert came only after the storm");
    assert_eq!(alert.priority, "Debug", "{}", alert.line);
    let field = |k: &str| alert.fields.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(field("n_drops") > 0, "the alert counts no drop: {}", alert.line);
    // The storm is opens and closes: the drops are counted in their categories.
    assert!(field("n_drops_buffer_open") + field("n_drops_buffer_close") > 0, "{}", alert.line);
    assert!(field("n_drops_buffer_total") <= field("n_drops"), "{}", alert.line);

    let m = d.metrics().expect("/metrics");
    let in_metrics = metric(&m, "falcosecurity_scap_n_drops_total").expect("falcosecurity_scap_n_drops_total");
    assert!(in_metrics > 0.0, "no drops in /metrics");

    let stopped = d.stop();
    assert!(stopped.status.success(), "{}\n{}", stopped.status, stopped.stderr);
    assert!(stopped.stderr.contains("system calls dropped"), "no drop log line:\n{}", stopped.stderr);
    assert!(stopped.summary("events lost by the driver") > 0, "{}", stopped.stderr);
    let _ = std::fs::remove_dir_all(&w);
}
