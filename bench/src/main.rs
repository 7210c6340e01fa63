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

mod storms;

/// saker's benchmarks.
#[derive(Parser, Debug)]
struct Args {
    /// Runs per tool (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Events in each generated capture.
    #[arg(long, default_value_t = 5_000_000)]
    events: u64,
    /// Where generated captures are kept between runs.
    #[arg(long, default_value = "bench/data")]
    data: PathBuf,
    /// The saker binary to measure.
    #[arg(long, default_value = "target/release/saker")]
    saker: PathBuf,
    /// Entries to run (default: all): replay.
    entries: Vec<String>,
}

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("storm-worker") && raw.len() == 4 {
        return storms::worker(&raw[2], raw[3].parse()?);
    }
    let args = Args::parse();
    let all = args.entries.is_empty();
    if all || args.entries.iter().any(|e| e == "replay") {
        replay(&args)?;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if (all && root) || args.entries.iter().any(|e| e == "storms") {
        let secs = std::env::var("SAKER_STORM_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
        let kinds: Vec<String> = args.entries.iter().filter(|e| storms::KINDS.contains(&e.as_str())).cloned().collect();
        storms::storms(args.runs.min(3), secs, &kinds)?;
    }
    Ok(())
}

/// The real captures the large replay files are made of.
const SOURCES: &[&str] = &["libs__sample.scap", "libs__curl_google.scap"];

/// Output formats measured on replay.
const FORMATS: &[&str] =
    &["%evt.num %evt.type %evt.dir %thread.tid", "%evt.num %evt.time %evt.cpu %evt.type %evt.dir %thread.tid %evt.res"];

fn shared_captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/captures")
}

/// `saker trace -r` vs `sysdig -r` on large captures, output to /dev/null.
fn replay(args: &Args) -> Result<()> {
    std::fs::create_dir_all(&args.data)?;
    let mut rows = Vec::new();
    for src in SOURCES {
        let big = args.data.join(format!("big-{}-{}.scap", src.trim_end_matches(".scap"), args.events));
        if !big.exists() {
            eprintln!("bench: generating {} ({} events)", big.display(), args.events);
            generate(&shared_captures().join(src), &big, args.events)?;
        }
        for fmt in FORMATS {
            let saker = [args.saker.to_str().unwrap(), "trace", "-r", big.to_str().unwrap(), "-p", fmt];
            let sysdig = ["sysdig", "-r", big.to_str().unwrap(), "-p", fmt];
            let (ts, tp, ratio) = side_by_side(&saker, &sysdig, args.runs)?;
            rows.push(vec![
                src.to_string(),
                format!("`{fmt}`"),
                format!("{:.2} M", args.events as f64 / ts.as_secs_f64() / 1e6),
                format!("{:.2} M", args.events as f64 / tp.as_secs_f64() / 1e6),
                format!("{ratio:.2}x"),
            ]);
        }
    }
    println!(
        "\nReplay: `saker trace -r` vs `sysdig -r` (0.29.3), {} events per file, output to /dev/null, median of {} runs\n",
        args.events, args.runs
    );
    print_table(&["capture", "format", "saker events/s", "sysdig events/s", "saker/sysdig"], &rows);
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

/// Runs two commands alternately `runs` times with stdout to /dev/null;
/// returns each one's median wall time and the median of the per-run ratios
/// (b / a, so above 1 means `a` is faster).
fn side_by_side(a: &[&str], b: &[&str], runs: usize) -> Result<(Duration, Duration, f64)> {
    let mut ta = Vec::new();
    let mut tb = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..runs {
        let x = time(a)?;
        let y = time(b)?;
        ratios.push(y.as_secs_f64() / x.as_secs_f64());
        ta.push(x);
        tb.push(y);
    }
    Ok((median(&mut ta), median(&mut tb), median(&mut ratios)))
}

fn time(cmd: &[&str]) -> Result<Duration> {
    let start = Instant::now();
    let status = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot run {}", cmd[0]))?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!("{} failed: {status}", cmd.join(" "));
    }
    Ok(elapsed)
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
