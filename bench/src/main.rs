//! saker's benchmarks: each entry runs saker and its peers on the same input,
//! alternating runs so that both see the same machine, and prints a table of
//! medians and of the median of the per-run ratios.
//!
//! Run with `bench/run` (which builds in release mode first).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use saker_abi::Event;
use saker_scap::{Reader, Writer};

mod bpf_stats;
mod cost;
mod detect_live;
mod parse;
mod ptrace;
mod ptrace_floor;
mod storms;

/// saker's benchmarks.
#[derive(Parser, Debug)]
struct Args {
    /// Runs per tool, the median is reported (default 5; storms,
    /// detect-live and parse take at most 3; cost takes any, default 3).
    #[arg(long)]
    runs: Option<usize>,
    /// Events in each generated capture.
    #[arg(long, default_value_t = 5_000_000)]
    events: u64,
    /// Where generated captures are kept between runs.
    #[arg(long, default_value = "bench/data")]
    data: PathBuf,
    /// The saker binary to measure.
    #[arg(long, default_value = "target/release/saker")]
    saker: PathBuf,
    /// storms: the drivers to measure, comma-separated: modern-ebpf (default), ebpf.
    #[arg(long, default_value = "modern-ebpf", value_delimiter = ',')]
    driver: Vec<String>,
    /// cost: only these rows, numbered from 1 as the table prints them,
    /// comma-separated (default: every row).
    #[arg(long, value_delimiter = ',')]
    rows: Vec<usize>,
    /// Entries to run (default: all): replay, rules, storms (root), detect-live (root), cost (root), ptrace,
    /// ptrace-floor, parse.
    entries: Vec<String>,
}

impl Args {
    fn runs(&self) -> usize {
        self.runs.unwrap_or(5)
    }
}

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("storm-worker") && (4..=5).contains(&raw.len()) {
        let cpu = raw.get(4).map(|c| c.parse()).transpose()?;
        return storms::worker(&raw[2], raw[3].parse()?, cpu);
    }
    if raw.get(1).map(String::as_str) == Some("ptrace-worker") {
        return ptrace::worker(&raw[2..]);
    }
    let args = Args::parse();
    let all = args.entries.is_empty();
    if all || args.entries.iter().any(|e| e == "replay") {
        replay(&args)?;
    }
    if all || args.entries.iter().any(|e| e == "rules") {
        rules(&args)?;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let storms_run = ["storms", "detect-live", "cost"].iter().any(|e| args.entries.iter().any(|a| a == e));
    let _stats_off = ((all || storms_run) && root).then(bpf_stats::StatsOff::new);
    if (all && root) || args.entries.iter().any(|e| e == "storms") {
        let secs = std::env::var("SAKER_STORM_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
        let kinds: Vec<String> = args.entries.iter().filter(|e| storms::KINDS.contains(&e.as_str())).cloned().collect();
        if let Some(d) = args.driver.iter().find(|d| !storms::DRIVERS.contains(&d.as_str())) {
            anyhow::bail!("--driver {d}: the storms know {}", storms::DRIVERS.join(", "));
        }
        storms::storms(args.runs().min(3), secs, &kinds, &args.driver)?;
    }
    if (all && root) || args.entries.iter().any(|e| e == "detect-live") {
        let secs = std::env::var("SAKER_STORM_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
        let kinds: Vec<String> = args.entries.iter().filter(|e| storms::KINDS.contains(&e.as_str())).cloned().collect();
        detect_live::bench(&args.saker, &shared_rules("falco_rules.yaml"), args.runs().min(3), secs, &kinds)?;
    }
    if (all && root) || args.entries.iter().any(|e| e == "cost") {
        let secs = std::env::var("SAKER_STORM_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
        cost::bench(&args.saker, &shared_rules("falco_rules.yaml"), args.runs.unwrap_or(3).max(1), secs, &args.rows)?;
    }
    if all || args.entries.iter().any(|e| e == "parse") {
        parse::bench(&args.saker, args.runs().min(3))?;
    }
    if all || args.entries.iter().any(|e| e == "ptrace") {
        ptrace::bench(args.runs())?;
    } else if args.entries.iter().any(|e| e == "ptrace-floor") {
        ptrace_floor::print(&ptrace_floor::measure()?);
    }
    Ok(())
}

/// The real captures the large replay files are made of.
const SOURCES: &[&str] = &["libs__sample.scap", "libs__curl_google.scap"];

/// What replay runs measure: a `-p` format and an optional filter, given to
/// saker and sysdig alike.
const REPLAY_CASES: &[(&str, &str)] = &[
    // The foundation's event-level fields.
    ("%evt.num %evt.type %evt.dir %thread.tid", ""),
    ("%evt.num %evt.time %evt.cpu %evt.type %evt.dir %thread.tid %evt.res", ""),
    // Every event with its process and fd names (state at work on each line).
    ("%evt.num %proc.name %fd.name", ""),
    // Six fields and a filter on process and fd fields (state at work).
    (
        "%evt.num %evt.time %proc.name %thread.tid %evt.type %fd.name",
        "fd.typechar = f and not proc.name in (systemd, sshd, cron)",
    ),
];

fn shared_captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/captures")
}

fn shared_rules(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/rules").join(name)
}

/// The large captures, generated on first use.
fn big_captures(args: &Args) -> Result<Vec<(&'static str, PathBuf)>> {
    std::fs::create_dir_all(&args.data)?;
    let mut v = Vec::new();
    for src in SOURCES {
        let big = args.data.join(format!("big-{}-{}.scap", src.trim_end_matches(".scap"), args.events));
        if !big.exists() {
            eprintln!("bench: generating {} ({} events)", big.display(), args.events);
            generate(&shared_captures().join(src), &big, args.events)?;
        }
        read_from_disk(&big)?;
        v.push((*src, big));
    }
    Ok(v)
}

/// Drops `path` from the page cache and reads it back with plain reads, as
/// `cat` would: every tool then finds it cached as any capture read from
/// disk is. How the cached pages were made matters to a reader that maps
/// the file: pages faulted in one by one through an earlier map (without
/// huge page advice) stay 4 KiB pages, read-ahead makes large ones, and
/// mapping 4 KiB pages costs a replay of these files 20-40 ms more.
fn read_from_disk(path: &Path) -> Result<()> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut f = std::fs::File::open(path)?;
    f.sync_all()?;
    // SAFETY: a valid open descriptor; the advice changes no file content.
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        bail!("cannot drop {} from the page cache: {}", path.display(), std::io::Error::from_raw_os_error(r));
    }
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

/// `saker trace -r` vs `sysdig -r` on large captures, output to /dev/null.
fn replay(args: &Args) -> Result<()> {
    let mut rows = Vec::new();
    for (src, big) in big_captures(args)? {
        let big = big.to_str().unwrap();
        for (fmt, filter) in REPLAY_CASES {
            let mut saker = vec![args.saker.to_str().unwrap(), "trace", "-r", big, "-p", fmt];
            let mut sysdig = vec!["sysdig", "-r", big, "-p", fmt];
            if !filter.is_empty() {
                saker.push(filter);
                sysdig.push(filter);
            }
            let (a, b, ratio) = side_by_side(&saker, &sysdig, args.runs())?;
            rows.push(vec![
                src.to_string(),
                format!("`{fmt}`"),
                if filter.is_empty() { "-".to_string() } else { format!("`{filter}`") },
                format!("{:.2} M", args.events as f64 / a.time.as_secs_f64() / 1e6),
                format!("{:.2} M", args.events as f64 / b.time.as_secs_f64() / 1e6),
                format!("{ratio:.2}x"),
                format!("{} MiB", a.max_rss_kib / 1024),
                format!("{} MiB", b.max_rss_kib / 1024),
            ]);
        }
    }
    println!(
        "\nReplay: `saker trace -r` vs `sysdig -r` (0.29.3), {} events per file, output to /dev/null, median of {} runs\n",
        args.events,
        args.runs()
    );
    print_table(
        &[
            "capture",
            "format",
            "filter",
            "saker events/s",
            "sysdig events/s",
            "saker/sysdig",
            "saker peak RSS",
            "sysdig peak RSS",
        ],
        &rows,
    );
    Ok(())
}

/// `saker detect` with Falco's stable rules over the large captures, on one
/// rules worker and on all cores.
fn rules(args: &Args) -> Result<()> {
    let mut rows = Vec::new();
    let rules = shared_rules("falco_rules.yaml");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (src, big) in big_captures(args)? {
        let cmd = |workers: String| {
            vec![
                args.saker.to_str().unwrap().to_string(),
                "detect".into(),
                "-r".into(),
                rules.to_str().unwrap().to_string(),
                "-e".into(),
                big.to_str().unwrap().to_string(),
                "-o".into(),
                format!("workers={workers}"),
                "-o".into(),
                "syslog_output.enabled=false".into(),
                "-o".into(),
                "webserver.enabled=false".into(),
            ]
        };
        let one = cmd("1".into());
        let all = cmd(cores.to_string());
        let one: Vec<&str> = one.iter().map(String::as_str).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        // side_by_side's ratio is all-cores time over one-worker time.
        let (a, b, ratio) = side_by_side(&one, &all, args.runs())?;
        let speedup = 1.0 / ratio;
        rows.push(vec![
            src.to_string(),
            format!("{:.2} M", args.events as f64 / a.time.as_secs_f64() / 1e6),
            format!("{:.2} M", args.events as f64 / b.time.as_secs_f64() / 1e6),
            format!("{speedup:.2}x"),
            format!("{} MiB", b.max_rss_kib / 1024),
        ]);
    }
    println!(
        "\nRules: `saker detect -e` with falco_rules.yaml 5.1.0, {} events per file, median of {} runs ({cores} cores)\n",
        args.events,
        args.runs()
    );
    let all = format!("{cores} workers events/s");
    print_table(&["capture", "1 worker events/s", &all, "speed-up", "peak RSS (all workers)"], &rows);
    Ok(())
}

/// Writes a capture of at least `events` events made of `src`'s events
/// repeated, each copy shifted in time to follow the previous one.
fn generate(src: &Path, dst: &Path, events: u64) -> Result<()> {
    let mut reader = Reader::open(src)?;
    let header = reader.header().clone();
    let mut copies: Vec<(u16, Vec<u8>)> = Vec::new();
    while let Some(rec) = reader.next_event()? {
        copies.push((rec.cpu, rec.event.as_bytes().to_vec()));
    }
    if copies.is_empty() {
        bail!("{} has no events", src.display());
    }
    let ts = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap());
    let first = ts(&copies[0].1);
    let span = ts(&copies.last().unwrap().1) - first + 1_000;
    let tmp = dst.with_extension("tmp");
    let mut w = Writer::create(&tmp)?;
    w.write_header(&header)?;
    let mut written = 0;
    let mut round = 0u64;
    let mut buf = Vec::new();
    while written < events {
        for (cpu, bytes) in &copies {
            buf.clear();
            buf.extend_from_slice(bytes);
            let shifted = ts(bytes) + round * span;
            buf[..8].copy_from_slice(&shifted.to_le_bytes());
            w.write_event(*cpu, &Event::parse(&buf)?)?;
            written += 1;
        }
        round += 1;
    }
    w.finish()?;
    std::fs::rename(&tmp, dst)?;
    Ok(())
}

/// One timed run: wall time and the child's peak resident memory.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
struct Run {
    time: Duration,
    max_rss_kib: u64,
}

/// Runs two commands alternately `runs` times with stdout to /dev/null;
/// returns each one's median run and the median of the per-run ratios
/// (b / a, so above 1 means `a` is faster).
fn side_by_side(a: &[&str], b: &[&str], runs: usize) -> Result<(Run, Run, f64)> {
    let mut ra = Vec::new();
    let mut rb = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..runs {
        let x = time(a)?;
        let y = time(b)?;
        ratios.push(y.time.as_secs_f64() / x.time.as_secs_f64());
        ra.push(x);
        rb.push(y);
    }
    Ok((median(&mut ra), median(&mut rb), median(&mut ratios)))
}

fn time(cmd: &[&str]) -> Result<Run> {
    let start = Instant::now();
    let child = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", cmd[0]))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for the child we just spawned, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    if pid < 0 {
        bail!("waiting for {}: {}", cmd[0], std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{} failed: status {status}", cmd.join(" "));
    }
    Ok(Run { time: elapsed, max_rss_kib: usage.ru_maxrss as u64 })
}

fn median<T: PartialOrd + Copy>(v: &mut [T]) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let line = |cells: Vec<&str>| println!("| {} |", cells.join(" | "));
    line(header.to_vec());
    line(header.iter().map(|_| "---").collect());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}
