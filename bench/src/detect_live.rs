//! Syscall storms under `saker detect`, live, with rules loaded: how much the
//! storm slows down, how many events saker processes, and how many the
//! driver loses.
//!
//! The storms are those of `storms.rs` (this binary re-executed as
//! `saker-bench storm-worker KIND SECONDS`, pinned to the last CPU). For each
//! storm and run, the worker first runs alone, then again while `saker
//! detect -r falco_rules.yaml` (and, for comparison, `saker detect` with its
//! built-in rules) captures the whole host with the modern eBPF driver and
//! evaluates the rules on every event, with its default rules workers (one
//! per CPU but one).
//! `saker detect`'s own metrics (its web server's `/metrics`), read before and
//! after the storm, give the events it processed, the drops and its CPU time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One storm run under saker detect.
pub(crate) struct Run {
    pub(crate) off: f64,
    pub(crate) on: f64,
    pub(crate) events: f64,
    pub(crate) drops: f64,
    pub(crate) cpu: f64,
    pub(crate) alerts: f64,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn metrics(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    Some(resp.split_once("\r\n\r\n")?.1.to_string())
}

/// The sum of the samples of the metric family `name` (all label sets).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(' ') || r.starts_with('{')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs the storm worker alone; its rate (operations per second).
fn worker(kind: &str, secs: f64) -> Result<f64> {
    let out = Command::new(std::env::current_exe()?)
        .args(["storm-worker", kind, &secs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("starting the storm worker")?;
    if !out.status.success() {
        bail!("storm worker failed: {}", out.status);
    }
    let n: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().context("worker output")?;
    Ok(n / secs)
}

/// `saker detect` in the background, its alerts to /dev/null.
struct Detect {
    child: Child,
    port: u16,
}

impl Detect {
    fn start(saker: &Path, rules: Option<&Path>, options: &[&str]) -> Result<Detect> {
        let port = free_port()?;
        let mut cmd = Command::new(saker);
        cmd.arg("detect");
        if let Some(r) = rules {
            cmd.arg("-r").arg(r);
        }
        let child = cmd
            .args(["-o", "syslog_output.enabled=false", "-o", "json_output=true"])
            .args(["-o", &format!("webserver.listen_port={port}")])
            .args(options.iter().flat_map(|o| ["-o", o]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {}", saker.display()))?;
        let mut d = Detect { child, port };
        // Capturing once events are processed (driver attached, /proc read).
        let t0 = Instant::now();
        while metrics(port).is_none_or(|m| sample(&m, "saker_n_evts_total") == 0.0) {
            if let Some(st) = d.child.try_wait()? {
                bail!("saker detect exited before capturing: {st}");
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("saker detect did not start capturing within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let the start-up burst pass.
        std::thread::sleep(Duration::from_millis(500));
        Ok(d)
    }

    fn metrics(&mut self) -> Result<String> {
        metrics(self.port).context("saker detect's /metrics")
    }

    /// Metrics once saker has caught up: its event count growing no faster
    /// than a quiet host's background (under 2,000 events in 200 ms; a host
    /// is never still, so waiting for no event at all could wait forever).
    fn settled_metrics(&mut self) -> Result<String> {
        let mut last = self.metrics()?;
        let t0 = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.metrics()?;
            if sample(&now, "saker_n_evts_total") - sample(&last, "saker_n_evts_total") < 2000.0
                || t0.elapsed() > Duration::from_secs(30)
            {
                return Ok(now);
            }
            last = now;
        }
    }

    fn stop(mut self) -> Result<()> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let st = self.child.wait()?;
        if !st.success() {
            bail!("saker detect failed: {st}");
        }
        Ok(())
    }
}

impl Drop for Detect {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One run: the storm alone, then under `saker detect` with `rules` and the
/// extra `-o` settings `options`.
pub(crate) fn run_once(saker: &Path, rules: Option<&Path>, options: &[&str], kind: &str, secs: f64) -> Result<Run> {
    let off = worker(kind, secs)?;
    let mut d = Detect::start(saker, rules, options)?;
    let m0 = d.settled_metrics()?;
    let t0 = Instant::now();
    let on = worker(kind, secs)?;
    let m1 = d.settled_metrics()?;
    let wall = t0.elapsed().as_secs_f64();
    d.stop()?;
    let delta = |name: &str| sample(&m1, name) - sample(&m0, name);
    Ok(Run {
        off,
        on,
        events: delta("saker_n_evts_total") / secs,
        drops: delta("saker_scap_n_drops_total"),
        cpu: delta("saker_cpu_seconds_total") / wall,
        alerts: delta("saker_rules_matches_total"),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The table: for each storm and ruleset, medians over `runs`.
pub fn bench(saker: &Path, stable: &Path, runs: usize, secs: f64, kinds: &[String]) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("detect-live needs root (saker detect loads the modern eBPF probe)");
    }
    let rulesets: [(&str, Option<&Path>); 2] =
        [("falco_rules.yaml 5.1.0", Some(stable)), ("saker built-in rules", None)];
    let mut rows = Vec::new();
    // One worker per storm (getppid-every-cpu is the probe's throughput entry).
    let single = crate::storms::KINDS.iter().filter(|k| **k != "getppid-every-cpu");
    for kind in single.filter(|k| kinds.is_empty() || kinds.iter().any(|x| x == *k)) {
        for (label, rules) in rulesets {
            let mut r = Vec::new();
            for i in 0..runs {
                let x = run_once(saker, rules, &[], kind, secs)?;
                eprintln!(
                    "bench: detect-live {kind} {label} run {i}: off {:.0}/s, under saker detect {:.0}/s, {:.0} events/s, {} drops, saker CPU {:.0}%",
                    x.off,
                    x.on,
                    x.events,
                    x.drops,
                    x.cpu * 100.0
                );
                r.push(x);
            }
            let m = |f: fn(&Run) -> f64| median(r.iter().map(f).collect());
            rows.push(format!(
                "| {kind} | {label} | {:.0} | {:.0} | {:.2}x | {:.2} M | {:.0} | {:.0}% | {:.0} |",
                m(|x| x.off),
                m(|x| x.on),
                m(|x| x.off / x.on),
                m(|x| x.events) / 1e6,
                r.iter().map(|x| x.drops).sum::<f64>(),
                m(|x| x.cpu) * 100.0,
                m(|x| x.alerts),
            ));
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nStorms under `saker detect` (modern eBPF, live, default rules workers on {cores} CPUs): worker pinned to the \
         last CPU, {secs} s per run, median of {runs} runs (drops: sum)\n"
    );
    println!(
        "| storm | rules | workload ops/s alone | ops/s under saker detect | slowdown | events/s processed | drops | saker CPU (of one core) | alerts |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
