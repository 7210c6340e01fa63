//! The cost table of issue 19: how much saker slows syscall storms, with the
//! modern probe read by a raw consumer (`storms.rs`) and under `saker detect`
//! with Falco's stable rules (`detect_live.rs`), each `detect` row followed
//! by the same with the kernel-side filters off
//! (`-o engine.modern_ebpf.kernel_filters=false`), and the floor: bare
//! programs that return at once, on one syscall's own tracepoint and on the
//! tp_btf hooks the probe uses, one there that only reads the clock the
//! events' timestamps come from, and ones that write a generic event for
//! every syscall (or openat) and read only openat's path (what sending
//! costs).
//!
//! Every run measures the storm alone right before it runs under the probe
//! or saker, so each slowdown compares runs of the same moment; the rows
//! alternate within each round, and the table gives medians over the rounds.
//! Falco's figures are the (Falco is not run here), for reference.

use std::path::Path;

use anyhow::Result;

use crate::detect_live;
use crate::storms::{self, Mode};

/// How a row is measured.
#[derive(Clone, Copy)]
enum Measure {
    /// The storm under the modern probe in `Mode`, read by the bench itself.
    Raw(&'static str, Mode),
    /// The storm under `saker detect -r falco_rules.yaml` with these `-o`
    /// options (none: the defaults, kernel filters on).
    Detect(&'static str, &'static [&'static str]),
}

/// What a row must reach.
#[derive(Clone, Copy)]
enum Target {
    None,
    Slowdown(f64),
    SlowdownCpu(f64, f64),
    /// Within this ratio of the floor row's slowdown.
    NearFloor(f64),
}

struct Row {
    label: &'static str,
    falco: &'static str,
    target: Target,
    measure: Measure,
}

const DEFAULTS: &[&str] = &[];
const KERNEL_FILTERS_OFF: &[&str] = &["engine.modern_ebpf.kernel_filters=false"];
const UNIMPLEMENTED_OUT: &[&str] = &["engine.modern_ebpf.unimplemented_syscalls=false"];

const ROWS: &[Row] = &[
    Row {
        label: "getppid, every syscall captured (raw consumer)",
        falco: "2.68x",
        target: Target::Slowdown(2.0),
        measure: Measure::Raw("getppid", Mode::All),
    },
    Row {
        label: "open+read+close, every syscall captured (raw consumer)",
        falco: "1.77x",
        target: Target::Slowdown(1.35),
        measure: Measure::Raw("open-read-close", Mode::All),
    },
    Row {
        label: "open+read+close, only openat+execve wanted",
        falco: "1.63x",
        target: Target::Slowdown(1.25),
        measure: Measure::Raw("open-read-close", Mode::OpenExec),
    },
    Row {
        label: "`detect` with the stable rules: open+read+close",
        falco: "1.58x, agent CPU 79 %",
        target: Target::SlowdownCpu(1.2, 0.30),
        measure: Measure::Detect("open-read-close", DEFAULTS),
    },
    Row {
        label: "... kernel filters off",
        falco: "-",
        target: Target::None,
        measure: Measure::Detect("open-read-close", KERNEL_FILTERS_OFF),
    },
    Row {
        label: "`detect` with the stable rules: fork+exec",
        falco: "1.03x, agent CPU 15 %",
        target: Target::SlowdownCpu(1.03, 0.08),
        measure: Measure::Detect("fork-exec", DEFAULTS),
    },
    Row {
        label: "... kernel filters off",
        falco: "-",
        target: Target::None,
        measure: Measure::Detect("fork-exec", KERNEL_FILTERS_OFF),
    },
    Row {
        label: "... syscalls the kernel lacks left out (`unimplemented_syscalls=false`)",
        falco: "-",
        target: Target::SlowdownCpu(1.03, 0.08),
        measure: Measure::Detect("fork-exec", UNIMPLEMENTED_OUT),
    },
    Row {
        label: "`detect` with the stable rules: getppid (no rule wants it)",
        falco: "1.74x",
        target: Target::NearFloor(1.05),
        measure: Measure::Detect("getppid", DEFAULTS),
    },
    Row {
        label: "... kernel filters off",
        falco: "-",
        target: Target::None,
        measure: Measure::Detect("getppid", KERNEL_FILTERS_OFF),
    },
    Row {
        label: "... syscalls the kernel lacks left out (`unimplemented_syscalls=false`)",
        falco: "-",
        target: Target::NearFloor(1.05),
        measure: Measure::Detect("getppid", UNIMPLEMENTED_OUT),
    },
    Row {
        label: "`detect`: open+read+close, syscalls the kernel lacks left out",
        falco: "-",
        target: Target::SlowdownCpu(1.2, 0.30),
        measure: Measure::Detect("open-read-close", UNIMPLEMENTED_OUT),
    },
    Row {
        label: "floor: getppid, one bare program on `syscalls:sys_exit_openat`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("getppid", Mode::BareTracepoint),
    },
    Row {
        label: "getppid, bare program on tp_btf `sys_exit` (the probe's hook)",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("getppid", Mode::Bare),
    },
    Row {
        label: "getppid, program on tp_btf `sys_exit` that reads the events' clock",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("getppid", Mode::BareClock),
    },
    Row {
        label: "getppid, bare programs on tp_btf `sys_exit` + `sys_enter`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("getppid", Mode::BareBoth),
    },
    Row {
        label: "open+read+close, only openat wanted, every open filtered out in the kernel",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("open-read-close", Mode::OpenFilteredOut),
    },
    Row {
        label: "open+read+close, bare program on tp_btf `sys_exit`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("open-read-close", Mode::Bare),
    },
    Row {
        label: "open+read+close, bare programs on tp_btf `sys_exit` + `sys_enter`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("open-read-close", Mode::BareBoth),
    },
    Row {
        label: "getppid, a generic event written straight into the ring on tp_btf `sys_exit`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("getppid", Mode::BareEvent),
    },
    Row {
        label: "open+read+close, the same (openat's reading its path), and one on openat's enter",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("open-read-close", Mode::BareEventBoth),
    },
    Row {
        label: "open+read+close, the same on openat's own enter and exit tracepoints only",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("open-read-close", Mode::BareEventOpenat),
    },
    Row {
        label: "fork+exec, one bare program on `syscalls:sys_exit_openat`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("fork-exec", Mode::BareTracepoint),
    },
    Row {
        label: "fork+exec, bare program on tp_btf `sys_exit`",
        falco: "-",
        target: Target::None,
        measure: Measure::Raw("fork-exec", Mode::Bare),
    },
];

/// The row whose slowdown is the floor of `Target::NearFloor`.
const FLOOR: usize = 12;

/// One run of a row.
struct Sample {
    off: f64,
    on: f64,
    events: f64,
    drops: f64,
    cpu: f64,
}

fn measure(saker: &Path, rules: &Path, m: Measure, secs: f64) -> Result<Sample> {
    Ok(match m {
        Measure::Raw(kind, mode) => {
            let off = storms::run_once(kind, "modern-ebpf", Mode::Off, secs)?;
            let on = storms::run_once(kind, "modern-ebpf", mode, secs)?;
            Sample {
                off: off.rate,
                on: on.rate,
                events: on.events as f64 / secs,
                drops: on.drops as f64,
                cpu: on.consumer_cpu,
            }
        }
        Measure::Detect(kind, options) => {
            let r = detect_live::run_once(saker, Some(rules), options, kind, secs)?;
            Sample { off: r.off, on: r.on, events: r.events, drops: r.drops, cpu: r.cpu }
        }
    })
}

/// NaN when there is none (a row not run).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

/// Runs every row (or those of `only`, numbered from 1) `runs` times, the
/// rows alternating in each round, and prints the table.
pub fn bench(saker: &Path, rules: &Path, runs: usize, secs: f64, only: &[usize]) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        anyhow::bail!("cost needs root (the modern probe loads BPF programs)");
    }
    if let Some(n) = only.iter().find(|&&n| n == 0 || n > ROWS.len()) {
        anyhow::bail!("--rows {n}: the cost table has rows 1 to {}", ROWS.len());
    }
    let runs_row = |i: usize| only.is_empty() || only.contains(&(i + 1));
    // The raw consumer reads on CPU 0, the storm runs on the last CPU.
    storms::pin(0);
    let load_before = loadavg();
    let mut samples: Vec<Vec<Sample>> = ROWS.iter().map(|_| Vec::new()).collect();
    for round in 0..runs {
        for (i, (row, out)) in ROWS.iter().zip(samples.iter_mut()).enumerate() {
            if !runs_row(i) {
                continue;
            }
            // A fork+exec storm makes few operations a second (about 1700
            // here), each of varying length: three times as long a run
            // narrows its rounds' spread.
            let fork_exec = matches!(row.measure, Measure::Detect("fork-exec", _) | Measure::Raw("fork-exec", _));
            let s = measure(saker, rules, row.measure, if fork_exec { 3.0 * secs } else { secs })?;
            eprintln!(
                "bench: cost round {round}: {}: alone {:.0}/s, under saker {:.0}/s ({:.2}x), {:.0} events/s, {} drops, CPU {:.0}%",
                row.label,
                s.off,
                s.on,
                s.off / s.on,
                s.events,
                s.drops,
                s.cpu * 100.0
            );
            out.push(s);
        }
    }
    let load_after = loadavg();

    // (NaN for the rows not run: printed as such, never met)
    let slow: Vec<f64> = samples.iter().map(|v| median(v.iter().map(|s| s.off / s.on).collect())).collect();
    let cpu: Vec<f64> = samples.iter().map(|v| median(v.iter().map(|s| s.cpu).collect())).collect();
    let floor = slow[FLOOR];

    println!(
        "\nIssue 19's cost table: storm on CPU {} ({secs} s per run, fork+exec three times as long), raw consumer on CPU 0, `saker detect -r \
         falco_rules.yaml` with its default workers; each run against the storm alone right before it; median \
         of {runs} rounds (rows alternating). Falco's figures are the issue's, not measured here.\n",
        storms::ncpus() - 1
    );
    println!("| storm | Falco (issue 19) | saker | target | met |");
    println!("|---|---|---|---|---|");
    for (i, row) in ROWS.iter().enumerate() {
        if !runs_row(i) {
            continue;
        }
        let saker = match row.measure {
            Measure::Raw(..) => format!("{:.2}x", slow[i]),
            Measure::Detect(..) => format!("{:.2}x, agent CPU {:.0} %", slow[i], cpu[i] * 100.0),
        };
        let (target, met) = match row.target {
            Target::None => ("-".to_string(), "-".to_string()),
            Target::Slowdown(t) => (format!("<= {t}x"), yes(slow[i] <= t)),
            Target::SlowdownCpu(t, c) => {
                (format!("<= {t}x, CPU <= {:.0} %", c * 100.0), yes(slow[i] <= t && cpu[i] <= c))
            }
            Target::NearFloor(_) if floor.is_nan() => ("floor row not run".to_string(), "-".to_string()),
            Target::NearFloor(r) => (
                format!("within {:.0} % of the floor ({floor:.2}x)", (r - 1.0) * 100.0),
                format!("{} ({:+.1} %)", yes(slow[i] <= floor * r), (slow[i] / floor - 1.0) * 100.0),
            ),
        };
        println!("| {} | {} | {saker} | {target} | {met} |", row.label, row.falco);
    }
    let floor_rows = FLOOR..FLOOR + 10;
    if floor_rows.clone().all(|i| !slow[i].is_nan()) {
        print_floor(&slow[floor_rows]);
    }
    let fork_exec_floor = FLOOR + 10..FLOOR + 12;
    if fork_exec_floor.clone().all(|i| !slow[i].is_nan()) {
        let s = &slow[fork_exec_floor];
        println!(
            "\nOn the fork+exec storm, one bare program on `syscalls:sys_exit_openat` costs {:.2}x (what `detect` pays \
             before its programs run, when each syscall it wants is on its own tracepoint); the dispatcher's hook, a \
             bare program on tp_btf `sys_exit`, {:.2}x.",
            s[0], s[1]
        );
    }
    println!(
        "\nWhen only some syscalls are wanted (`detect`, the openat+execve row), each is caught on its own \
         tracepoint where the kernel allows it (5.15+), so the syscalls no rule wants run no program and pay only \
         the floor above; but a wanted syscall the kernel does not implement (here, without module support: the \
         stable rules' init_module and finit_module) has no tracepoint, and only the tp_btf dispatcher, run on every \
         syscall, sees its calls: by default saker keeps it and the `detect` rows pay the dispatcher's hook; the \
         `unimplemented_syscalls=false` rows leave those syscalls out (their calls can only fail with ENOSYS)."
    );
    println!("load average before: {load_before}; after: {load_after}\n");
    println!(
        "| storm | ops/s alone | ops/s under saker | events/s to user space | drops (sum) | consumer / agent CPU |"
    );
    println!("|---|---|---|---|---|---|");
    for (row, v) in ROWS.iter().zip(&samples).filter(|(_, v)| !v.is_empty()) {
        let m = |f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
        println!(
            "| {} | {:.0} | {:.0} | {:.2} M | {:.0} | {:.0} % |",
            row.label,
            m(|s| s.off),
            m(|s| s.on),
            m(|s| s.events) / 1e6,
            v.iter().map(|s| s.drops).sum::<f64>(),
            m(|s| s.cpu) * 100.0
        );
    }
    Ok(())
}

/// The paragraph on the floor rows (`s`: their slowdowns, in order).
fn print_floor(s: &[f64]) {
    println!(
        "\nThe floor: one program that returns at once on `syscalls:sys_exit_openat` slows a getppid storm {:.2}x \
         here (every syscall then takes the kernel's traced slow path); one on tp_btf `sys_exit`, the hook the \
         probe's dispatcher uses, {:.2}x; one there that only reads the clock every event's timestamp comes from \
         (bpf_ktime_get_boot_ns), {:.2}x; bare ones on `sys_exit` and `sys_enter`, {:.2}x. A getppid storm \
         captured whole cannot go below the clock row. On the open+read+close storm, the probe reading and \
         looking up each open's path (at its enter; the exit takes that verdict) and sending nothing costs {:.2}x: what `detect` pays \
         before it sends an event, since its filters must look at every open; a bare program on `sys_exit` \
         costs {:.2}x, bare ones on both hooks {:.2}x: what the open+read+close rows pay before the probe does \
         anything. Sending costs on top of that: a generic event written straight into the ring (the clock, reserve, \
         header, commit; no table, tail call, counter, filter or fd lookup) on every syscall's exit costs {:.2}x \
         on the getppid storm: what capturing every syscall costs at the least. On the open+read+close storm, with \
         one more on openat's enter (4 events an operation, as the raw consumer's capture) and each openat reading \
         its path, {:.2}x; the same on openat's own enter and exit tracepoints only (what capturing openat costs at \
         the least), {:.2}x.",
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]
    );
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}
