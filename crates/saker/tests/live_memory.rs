//! Memory stays bounded while capturing: 50,000 short-lived processes are
//! spawned and reaped (more than `pid_max` on many hosts, so pids are
//! reused), and the thread table ends near its starting size.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::time::{Duration, Instant};

use live_common::*;

const PROCESSES: u32 = 50_000;

/// Forks `count` children that exit at once, reaping each.
const FORKS: &str = r#"
use strict; use POSIX ();
my ($count) = @ARGV;
for (1 .. $count) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    POSIX::_exit(0) if $pid == 0;
    waitpid($pid, 0);
}
"#;

/// Resident memory of a process, KiB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Threads alive on the host now (every /proc/PID/task entry).
fn host_thread_count() -> u64 {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_dir(e.path().join("task")).ok())
        .map(|tasks| tasks.count() as u64)
        .sum()
}

#[test]
fn thread_table_stays_bounded_over_50000_processes() {
    if !can_run("thread_table_stays_bounded_over_50000_processes") {
        return;
    }
    let n = nonce();
    let dir = work_dir("live-memory", &n);
    let capture = dir.join("memory.scap");
    // Process events only, and a filter nothing matches: every event goes
    // through the state, nothing is printed or written past the header.
    let trace = LiveTrace::start(
        &capture,
        &["-q", "--stats", "--syscalls", "clone,clone3,fork,vfork,execve,execveat", &format!("proc.name=none-{n}")],
    );
    let rss_before = rss_kb(trace.pid());
    let t0 = Instant::now();
    wait_ok(spawn_perl(&dir, &format!("skf-{n}"), FORKS, &[&PROCESSES.to_string()]), "the fork loop");
    let elapsed = t0.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kb(trace.pid());
    let host_threads = host_thread_count();
    let done = trace.stop("INT");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    eprintln!(
        "{PROCESSES} processes in {elapsed:.1?}; saker's RSS {rss_before} KiB before, {rss_after} KiB after; \
         saker --stats:\n{}",
        done.stderr
    );

    let (start, end, peak) = done.threads();
    let process_drops = {
        let line = done.stderr.lines().find(|l| l.starts_with("Drops (buffer full):")).unwrap();
        line.split("process ").nth(1).and_then(|r| r.split(',').next()).unwrap().trim().parse::<u64>().unwrap()
    };
    let seen = done.stat("Events seen by the source");
    // Each child: the parent's clone exit, the child's, and its exit.
    assert!(seen >= 3 * PROCESSES as u64, "only {seen} events seen for {PROCESSES} processes");
    let added = done
        .stderr
        .lines()
        .find(|l| l.starts_with("Thread table:"))
        .and_then(|l| l.split("; ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(added >= PROCESSES as u64, "the state added only {added} threads");
    // Other activity on the host moves the count (threads it starts while
    // the test runs are rightly in the table): the table must hold no more
    // than the threads alive on the host at the end, give or take those that
    // came and went in between; lost exit events leave at most one each.
    assert!(
        end <= start.max(host_threads) + 50 + process_drops,
        "thread table grew from {start} to {end} while the host has {host_threads} threads \
         ({process_drops} process drops)"
    );
    assert!(peak <= start + 1000, "thread table peaked at {peak} (from {start})");
    // And the process itself does not keep what it saw.
    assert!(rss_after < rss_before + 32 * 1024, "saker's RSS grew from {rss_before} KiB to {rss_after} KiB");
    std::fs::remove_dir_all(&dir).unwrap();
}
