//! The userspace (ptrace) driver against no tracing and `strace -f -o
//! /dev/null`, on the same workloads.
//!
//! Each workload runs in a worker process (this binary re-executed as
//! `saker-bench ptrace-worker KIND N OUT DIR`) that times its own loop and
//! writes the nanoseconds to OUT, so tracer start-up is not counted. Modes
//! alternate within each run; the table shows medians and the speed relative
//! to the untraced run.
//!
//! saker traces what a rule set plus state tracking asks for (the state
//! syscalls and the file-changing ones): `getppid` is not among them, so the
//! storm shows what an untraced syscall costs under the driver.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use saker_driver::{EventSource, Next};
use saker_userspace::{Config, Tracer};

/// `(label, kind, iterations, iterations under strace)`: strace stops at
/// every syscall, so it gets fewer iterations (rates are compared).
const WORKLOADS: &[(&str, &str, u64, u64)] = &[
    ("getppid() storm (not traced)", "getppid", 4_000_000, 40_000),
    ("create files (open O_CREAT + close)", "files", 10_000, 10_000),
    ("launch programs (fork+exec /bin/true)", "exec", 300, 100),
    ("create threads (spawn + join)", "threads", 3_000, 1_000),
];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Untraced,
    Saker,
    Strace,
}

/// The syscalls saker traces in the benchmark.
fn traced_syscalls() -> BTreeSet<String> {
    let mut s: BTreeSet<String> = saker_state::STATE_SYSCALLS.iter().map(|s| s.to_string()).collect();
    for n in [
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "mkdir",
        "mkdirat",
        "rmdir",
        "symlink",
        "symlinkat",
        "link",
        "linkat",
        "chmod",
        "fchmod",
        "fchmodat",
        "chown",
        "fchown",
        "fchownat",
        "lchown",
        "ptrace",
        "mount",
        "umount2",
        "kill",
        "tgkill",
        "memfd_create",
        "init_module",
        "finit_module",
    ] {
        s.insert(n.to_string());
    }
    s
}

/// The worker: runs `n` iterations of `kind` and writes the loop's duration (ns) to `out`.
pub fn worker(args: &[String]) -> Result<()> {
    let [kind, n, out, dir] = args else { bail!("usage: ptrace-worker KIND N OUT DIR") };
    let n: u64 = n.parse()?;
    let dir = Path::new(dir);
    let t0 = Instant::now();
    match kind.as_str() {
        "getppid" => {
            for _ in 0..n {
                std::hint::black_box(std::os::unix::process::parent_id());
            }
        }
        "files" => {
            for i in 0..n {
                std::fs::File::create(dir.join(format!("f{i}")))?;
            }
        }
        "exec" => {
            for _ in 0..n {
                let st = Command::new("/bin/true").status()?;
                if !st.success() {
                    bail!("/bin/true failed: {st}");
                }
            }
        }
        "threads" => {
            for _ in 0..n {
                std::thread::spawn(|| std::hint::black_box(1)).join().unwrap();
            }
        }
        other => bail!("unknown workload {other}"),
    }
    let ns = t0.elapsed().as_nanos();
    std::fs::write(out, ns.to_string())?;
    Ok(())
}

/// One run of a workload in one mode: `(seconds, events, tracee stops)`. Files go to a
/// directory of their own (removed with the others once the workload is
/// done, so that no run pays for the previous one's deletions).
fn run_once(mode: Mode, kind: &str, n: u64, scratch: &Path, run: usize) -> Result<(f64, u64, u64)> {
    let exe = std::env::current_exe()?;
    let dir = scratch.join(format!("files-{run}"));
    std::fs::create_dir_all(&dir)?;
    let out = scratch.join("elapsed");
    let _ = std::fs::remove_file(&out);
    let worker: Vec<String> = vec![
        exe.to_string_lossy().into_owned(),
        "ptrace-worker".into(),
        kind.into(),
        n.to_string(),
        out.to_string_lossy().into_owned(),
        dir.to_string_lossy().into_owned(),
    ];
    let mut events = 0;
    let mut stops = 0;
    match mode {
        Mode::Untraced => {
            let st = Command::new(&worker[0]).args(&worker[1..]).stdout(Stdio::null()).status()?;
            if !st.success() {
                bail!("worker failed: {st}");
            }
        }
        Mode::Strace => {
            let st = Command::new("strace")
                .args(["-f", "-o", "/dev/null"])
                .args(&worker)
                .stdout(Stdio::null())
                .status()
                .context("cannot run strace")?;
            if !st.success() {
                bail!("strace worker failed: {st}");
            }
        }
        Mode::Saker => {
            let config = Config { syscalls: Some(traced_syscalls()), ..Config::default() };
            let mut t = Tracer::launch(&worker, config)?;
            loop {
                match t.next_event()? {
                    Next::Event(_) => events += 1,
                    Next::Idle => {}
                    Next::End => break,
                }
            }
            stops = t.stops();
            match t.exit_status() {
                Some(s) if s.code() == 0 => {}
                other => bail!("traced worker failed: {other:?}"),
            }
        }
    }
    let ns: f64 = std::fs::read_to_string(&out).context("the worker wrote no time")?.trim().parse()?;
    Ok((ns / 1e9, events, stops))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Runs every workload `runs` times in each mode and prints the table.
pub fn bench(runs: usize) -> Result<()> {
    let host = crate::ptrace_floor::measure()?;
    let scratch: PathBuf = scratch_base().join(format!("saker-bench-ptrace-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut rows = Vec::new();
    for &(label, kind, n, n_strace) in WORKLOADS {
        let mut t = [Vec::new(), Vec::new(), Vec::new()];
        let (mut saker_ratio, mut strace_ratio) = (Vec::new(), Vec::new());
        let mut events = Vec::new();
        let mut stops_per_op = Vec::new();
        for run in 0..runs {
            for (i, mode) in [Mode::Untraced, Mode::Saker, Mode::Strace].into_iter().enumerate() {
                let iters = if mode == Mode::Strace { n_strace } else { n };
                let (secs, ev, stops) = run_once(mode, kind, iters, &scratch, run * 3 + i)?;
                t[i].push(iters as f64 / secs);
                if mode == Mode::Saker {
                    events.push(ev as f64);
                    stops_per_op.push(stops as f64 / iters as f64);
                }
            }
            // Ratios within a run: the machine drifts between runs.
            let last = |v: &Vec<f64>| *v.last().unwrap();
            saker_ratio.push(last(&t[1]) / last(&t[0]));
            strace_ratio.push(last(&t[2]) / last(&t[0]));
        }
        for e in std::fs::read_dir(&scratch)?.flatten() {
            if e.file_name().to_string_lossy().starts_with("files-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        // Medians of the rates (ops/s).
        let [u, s, st] = [median(&mut t[0]), median(&mut t[1]), median(&mut t[2])];
        let rate = |r: f64| format!("{r:.0}");
        let stops = median(&mut stops_per_op);
        // The best any ptrace + seccomp tracer can do here: an untraced
        // syscall pays the filter; otherwise each stop costs a round trip.
        let best = if kind == "getppid" {
            host.getppid_ns / host.getppid_allow_ns
        } else {
            let t0 = 1.0 / u;
            t0 / (t0 + stops * host.stop_us * 1e-6)
        };
        rows.push(vec![
            label.to_string(),
            rate(u),
            rate(s),
            rate(st),
            format!("{:.3}", median(&mut saker_ratio)),
            format!("{:.3}", median(&mut strace_ratio)),
            format!("{:.1}x", s / st),
            format!("{:.0}", median(&mut events)),
            format!("{stops:.1}"),
            format!("{best:.3}"),
        ]);
        eprintln!("bench: {label} done");
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "\nUserspace driver (ptrace + seccomp) vs untraced and `strace -f -o /dev/null`: ops/s (median of {runs} runs), \
         speed relative to untraced (median of the per-run ratios)\n"
    );
    let header = [
        "workload",
        "untraced",
        "saker userspace",
        "strace -f",
        "saker speed vs untraced",
        "strace speed vs untraced",
        "saker vs strace",
        "saker events",
        "stops per op",
        "best possible here",
    ];
    let line = |cells: Vec<&str>| println!("| {} |", cells.join(" | "));
    line(header.to_vec());
    line(header.iter().map(|_| "---").collect());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    println!(
        "\n`best possible here` = untraced time per op / (that + stops per op x one stop as placed by the \
         scheduler, below); for the getppid storm, the allow-all filter's speed."
    );
    crate::ptrace_floor::print(&host);
    Ok(())
}

/// Where workloads create their files: a tmpfs when there is one, so the
/// disk's own hiccups (journal, discard, writeback) do not drown the
/// tracer's cost.
fn scratch_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() }
}
