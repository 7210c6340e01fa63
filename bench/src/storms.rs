//! Syscall storms under the modern probe (and, with `--driver ebpf`, the
//! legacy eBPF probe): how much a workload slows down and how many events
//! reach user space.
//!
//! Each storm runs in a worker process pinned to the last CPU (this binary
//! re-executed as `saker-bench storm-worker KIND SECONDS [CPU]`); the consumer
//! reads the rings on CPU 0. `getppid-every-cpu` runs one getppid worker on
//! every CPU, the consumer's included, as on a saturated host: the rate of
//! events the consumer takes from several CPUs at once. For each mode the workload also runs with the probe off,
//! right before, so every slowdown compares runs of the same moment.
//!
//! Modes:
//! - `off`: nothing attached;
//! - `bare`: programs that return at once, attached where the probe would be;
//! - `nothing`: the probe attached, no syscall interesting;
//! - `all`: the probe capturing every syscall.
//!
//! (`cost.rs` uses more: bare programs on tp_btf sys_exit and sys_enter,
//! one on tp_btf sys_exit that reads the clock, one bare program on the
//! `syscalls:sys_exit_openat` tracepoint, ones that only write a generic
//! event for every syscall (or openat) and read openat's path, the probe
//! capturing only openat and execve, and only openat with every open
//! filtered out.)
//!
//! The legacy probe (`--driver ebpf`: the object `SAKER_BPF_PROBE` names, or
//! one built for this kernel into target/) has no bare programs: its rows
//! are `nothing` and `all`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use saker_driver::{EventSource, Next};
use saker_legacy_bpf::LegacyBpf;
use saker_modern_bpf::{Baseline, Config, ModernBpf};

/// The drivers a storm can run under.
pub const DRIVERS: &[&str] = &["modern-ebpf", "ebpf"];

/// An open probe of either driver.
enum Probe {
    Modern(Box<ModernBpf>),
    Legacy(LegacyBpf),
}

impl Probe {
    fn next_event(&mut self) -> Result<Next<'_>> {
        Ok(match self {
            Probe::Modern(p) => p.next_event()?,
            Probe::Legacy(p) => p.next_event()?,
        })
    }

    fn detach(&mut self) {
        match self {
            Probe::Modern(p) => p.detach(),
            Probe::Legacy(p) => p.detach(),
        }
    }

    fn drops(&self) -> u64 {
        match self {
            Probe::Modern(p) => p.stats().drops(),
            Probe::Legacy(p) => EventSource::stats(p).drops(),
        }
    }
}

/// The legacy probe to load: `SAKER_BPF_PROBE`, else one built for this
/// kernel into target/bench-saker-bpf.o.
fn legacy_probe() -> Result<std::path::PathBuf> {
    if std::env::var_os(saker_legacy_bpf::PROBE_ENV).is_some_and(|p| !p.is_empty()) {
        return Ok(saker_legacy_bpf::probe_path());
    }
    let out = std::path::PathBuf::from("target/bench-saker-bpf.o");
    let release = saker_legacy_bpf::probe::running_release();
    if saker_legacy_bpf::check_probe(&out, &release).is_err() {
        eprintln!("bench: building the legacy eBPF probe for {release} into {}", out.display());
        saker_legacy_bpf::probe::build(&saker_legacy_bpf::BuildOptions {
            output: Some(out.clone()),
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(out)
}

/// The storms.
pub const KINDS: &[&str] = &["getppid", "getppid-every-cpu", "open-read-close", "fork-exec"];

/// The syscall loop a storm's workers run, and on which CPUs (None: the last).
fn workers(kind: &str) -> (&str, Vec<Option<usize>>) {
    match kind {
        "getppid-every-cpu" => ("getppid", (0..ncpus()).map(Some).collect()),
        k => (k, vec![None]),
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Off,
    Bare,
    Nothing,
    All,
    /// Bare programs on tp_btf sys_exit and sys_enter.
    BareBoth,
    /// One bare program on the `syscalls:sys_exit_openat` tracepoint.
    BareTracepoint,
    /// One program on tp_btf sys_exit that reads the clock and returns.
    BareClock,
    /// A generic event written straight into the ring on every syscall's
    /// exit (tp_btf sys_exit), openat's reading its path: what sending
    /// costs, with none of the probe's choices or other reads.
    BareEvent,
    /// The same, and one on openat's enter (its own tracepoint).
    BareEventBoth,
    /// The same on openat's own enter and exit tracepoints only.
    BareEventOpenat,
    /// The probe capturing only openat and execve.
    OpenExec,
    /// The probe capturing only openat, with an open filter that sends no
    /// absolute path: each open's path read and looked up (at its enter,
    /// the exit taking that verdict), nothing sent (what filtering every
    /// open costs).
    OpenFilteredOut,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Bare => "bare",
            Mode::Nothing => "nothing interesting",
            Mode::All => "capture all",
            Mode::BareBoth => "bare sys_exit + sys_enter",
            Mode::BareTracepoint => "bare syscalls:sys_exit_openat",
            Mode::BareClock => "bare sys_exit reading the clock",
            Mode::BareEvent => "a generic event on sys_exit",
            Mode::BareEventBoth => "a generic event on sys_exit and openat's enter",
            Mode::BareEventOpenat => "a generic event on openat's enter and exit",
            Mode::OpenExec => "openat + execve",
            Mode::OpenFilteredOut => "openat, every open filtered out",
        }
    }

    fn config(self) -> Option<Config> {
        let none = Some(BTreeSet::new());
        let bare = Config { procexit: false, baseline: true, ..Config::default() };
        match self {
            Mode::Off => None,
            Mode::Bare => Some(Config { syscalls: none, procexit: false, baseline: true, ..Config::default() }),
            Mode::Nothing => Some(Config { syscalls: none, procexit: false, ..Config::default() }),
            Mode::All => Some(Config::default()),
            // Every syscall wanted: the enter hook too.
            Mode::BareBoth => Some(bare),
            Mode::BareTracepoint => Some(Config { syscalls: none, baseline_kind: Baseline::SyscallTracepoint, ..bare }),
            Mode::BareClock => Some(Config { syscalls: none, baseline_kind: Baseline::Clock, ..bare }),
            Mode::BareEvent => Some(Config { syscalls: none, baseline_kind: Baseline::Event, ..bare }),
            Mode::BareEventBoth => Some(Config { baseline_kind: Baseline::Event, ..bare }),
            Mode::BareEventOpenat => Some(Config {
                syscalls: Some(["openat".to_string()].into()),
                baseline_kind: Baseline::EventOpenat,
                ..bare
            }),
            Mode::OpenExec => Some(Config {
                syscalls: Some(["openat", "execve"].iter().map(|s| s.to_string()).collect()),
                ..Config::default()
            }),
            Mode::OpenFilteredOut => {
                use saker_driver::kernel_filter::{OpenFilter, OpenTerm, PathMatch};
                let term = OpenTerm {
                    calls: 0b10, // openat (kernel_filter::OPEN_CALLS)
                    paths: Some(vec![PathMatch::Exact("/nonexistent/saker-bench".into())]),
                    flags_any: 0,
                };
                Some(Config {
                    syscalls: Some(["openat".to_string()].into()),
                    procexit: false,
                    open_filter: Some(OpenFilter { terms: vec![term] }),
                    ..Config::default()
                })
            }
        }
    }
}

pub(crate) fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; sched_setaffinity on ourselves.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Online CPUs (not the affinity mask: the consumer pins itself to CPU 0).
pub(crate) fn ncpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as usize
}

/// The worker: runs `kind` for `secs` seconds on `cpu` (default: the last)
/// and prints its iteration count.
pub fn worker(kind: &str, secs: f64, cpu: Option<usize>) -> Result<()> {
    pin(cpu.unwrap_or(ncpus() - 1));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut n: u64 = 0;
    let file = c"/etc/hostname";
    let exe = c"/usr/bin/true";
    let argv = [exe.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let mut buf = [0u8; 4096];
    loop {
        // Check the clock every 1024 iterations (every one for fork-exec).
        let batch = if kind == "fork-exec" { 1 } else { 1024 };
        for _ in 0..batch {
            // SAFETY: plain syscalls on valid buffers.
            unsafe {
                match kind {
                    "getppid" => {
                        libc::syscall(libc::SYS_getppid);
                    }
                    "open-read-close" => {
                        let fd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, file.as_ptr(), libc::O_RDONLY, 0);
                        libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len());
                        libc::syscall(libc::SYS_close, fd);
                    }
                    "fork-exec" => {
                        let pid = libc::fork();
                        if pid == 0 {
                            libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
                            libc::_exit(127);
                        }
                        let mut st = 0;
                        libc::waitpid(pid, &mut st, 0);
                    }
                    other => bail!("unknown storm {other}"),
                }
            }
        }
        n += batch;
        if Instant::now() >= deadline {
            break;
        }
    }
    println!("{n}");
    Ok(())
}

pub(crate) struct Run {
    pub(crate) rate: f64,
    pub(crate) events: u64,
    pub(crate) drops: u64,
    pub(crate) consumer_cpu: f64,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is valid.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs the worker once with the probe in `mode`, reading the rings meanwhile.
pub(crate) fn run_once(kind: &str, driver: &str, mode: Mode, secs: f64) -> Result<Run> {
    let mut probe = match (mode.config(), driver) {
        (None, _) => None,
        (Some(c), "ebpf") => {
            let config = saker_legacy_bpf::Config {
                probe: legacy_probe()?,
                buffer_size: c.buffer_size,
                syscalls: c.syscalls,
                procexit: c.procexit,
                ..saker_legacy_bpf::Config::default()
            };
            Some(Probe::Legacy(LegacyBpf::open(config).map_err(|e| anyhow::anyhow!("opening the legacy probe: {e}"))?))
        }
        (Some(c), _) => {
            Some(Probe::Modern(Box::new(ModernBpf::open(c).context("opening the modern probe (needs root)")?)))
        }
    };
    let exe = std::env::current_exe()?;
    let (work, cpus) = workers(kind);
    let mut children = Vec::new();
    for cpu in cpus {
        let mut cmd = Command::new(&exe);
        cmd.args(["storm-worker", work, &secs.to_string()]);
        if let Some(c) = cpu {
            cmd.arg(c.to_string());
        }
        children.push(cmd.stdout(Stdio::piped()).spawn().context("starting a storm worker")?);
    }
    let t0 = Instant::now();
    let cpu0 = thread_cpu();
    let mut events = 0u64;
    if let Some(p) = probe.as_mut() {
        loop {
            let check = match p.next_event()? {
                Next::Event(_) => {
                    events += 1;
                    events % 4096 == 0
                }
                Next::Idle | Next::End => true,
            };
            if check && children.iter_mut().all(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                break;
            }
        }
        // Drain what the worker left in the rings.
        p.detach();
        while let Next::Event(_) = p.next_event()? {
            events += 1;
        }
    }
    let mut n: u64 = 0;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("storm worker failed: {}", out.status);
        }
        n += String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().context("worker output")?;
    }
    let wall = t0.elapsed();
    let consumer_cpu = (thread_cpu() - cpu0).as_secs_f64() / wall.as_secs_f64();
    let drops = probe.as_ref().map_or(0, Probe::drops);
    Ok(Run { rate: n as f64 / secs, events, drops, consumer_cpu })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The storm table: for each storm and mode, median over `runs`.
pub fn storms(runs: usize, secs: f64, kinds: &[String], drivers: &[String]) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("storms need root (the modern probe loads BPF programs)");
    }
    pin(0);
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for kind in KINDS.iter().filter(|k| kinds.is_empty() || kinds.iter().any(|x| x == *k)) {
        for driver in drivers {
            storm_rows(kind, driver, runs, secs, &mut rows, &mut verdicts)?;
        }
    }
    println!(
        "\nStorms under the probes: worker on CPU {} (getppid-every-cpu: one on each CPU), consumer on CPU 0, \
         {secs} s per run, median of {runs} runs\n",
        ncpus() - 1
    );
    println!("| storm | driver | probe | workload ops/s | slowdown | events/s to user space | drops | consumer CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("| {} |", r.join(" | "));
    }
    println!();
    for v in verdicts {
        println!("{v}");
    }
    Ok(())
}

fn storm_rows(
    kind: &str,
    driver: &str,
    runs: usize,
    secs: f64,
    rows: &mut Vec<Vec<String>>,
    verdicts: &mut Vec<String>,
) -> Result<()> {
    {
        let modes: &[Mode] =
            if driver == "ebpf" { &[Mode::Nothing, Mode::All] } else { &[Mode::Bare, Mode::Nothing, Mode::All] };
        let mut slow: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut rate: Vec<Vec<f64>> = vec![Vec::new(); modes.len() + 1];
        let mut evs: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut drops = vec![0u64; modes.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut nothing_vs_bare = Vec::new();
        for r in 0..runs {
            // off, then each mode right after: every ratio compares runs of the same moment
            let off = run_once(kind, driver, Mode::Off, secs)?;
            rate[0].push(off.rate);
            let mut on_rates = Vec::new();
            for (i, &m) in modes.iter().enumerate() {
                let on = run_once(kind, driver, m, secs)?;
                eprintln!(
                    "bench: {kind} {driver} run {r} {}: off {:.0}/s, on {:.0}/s, {:.0} events/s, {} drops",
                    m.name(),
                    off.rate,
                    on.rate,
                    on.events as f64 / secs,
                    on.drops
                );
                rate[i + 1].push(on.rate);
                slow[i].push(off.rate / on.rate);
                evs[i].push(on.events as f64 / secs);
                drops[i] += on.drops;
                cpu[i].push(on.consumer_cpu);
                on_rates.push(on.rate);
            }
            if modes.len() == 3 {
                nothing_vs_bare.push(on_rates[0] / on_rates[1]);
            }
        }
        rows.push(vec![
            kind.to_string(),
            driver.to_string(),
            "off".into(),
            format!("{:.0}", median(rate[0].clone())),
            "1.00x".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
        for (i, m) in modes.iter().enumerate() {
            rows.push(vec![
                kind.to_string(),
                driver.to_string(),
                m.name().into(),
                format!("{:.0}", median(rate[i + 1].clone())),
                format!("{:.2}x", median(slow[i].clone())),
                if *m == Mode::All { format!("{:.2} M", median(evs[i].clone()) / 1e6) } else { "-".into() },
                drops[i].to_string(),
                format!("{:.0}%", median(cpu[i].clone()) * 100.0),
            ]);
        }
        let all = modes.len() - 1;
        let vs_bare = if nothing_vs_bare.is_empty() {
            String::new()
        } else {
            format!("nothing-interesting vs bare programs: {:.3}x (target <= 1.15x); ", median(nothing_vs_bare))
        };
        verdicts.push(format!(
            "{kind} ({driver}): {vs_bare}capture all: {:.2}x, {:.2} M events/s, {} drops",
            median(slow[all].clone()),
            median(evs[all].clone()) / 1e6,
            drops[all]
        ));
    }
    Ok(())
}
