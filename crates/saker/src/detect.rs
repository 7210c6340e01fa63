//! `saker detect`: evaluate Falco rules on events and raise alerts, like falco.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use saker_config::Config;
use saker_engine::{DropPolicy, DropsConfig, Engine, EngineOptions, RuleMatching};
use saker_metrics::{Metrics, MetricsInfo, MetricsServer, OutputSample, SourceCounters, WebserverConfig};
use saker_outputs::{Outputs, OutputsConfig, Priority};
use saker_rules::{LoadResult, RulesSource, Ruleset};
use saker_state::Limits;
use serde::Deserialize;

use crate::cli::{DetectArgs, UsageError};

/// saker's own rules, used when no rules file is given.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/saker_rules.yaml");
const DEFAULT_RULES_NAME: &str = "saker_rules.yaml (built in)";

/// The configuration keys the engine reads.
#[derive(Deserialize, Debug)]
struct EngineConfig {
    #[serde(default)]
    rules_files: Vec<PathBuf>,
    #[serde(default = "default_matching")]
    rule_matching: String,
    #[serde(default = "default_priority")]
    priority: String,
    #[serde(default)]
    workers: usize,
    #[serde(default)]
    syscall_event_drops: DropsConfig,
    #[serde(default)]
    webserver: WebserverConfig,
}

fn default_matching() -> String {
    "first".into()
}

fn default_priority() -> String {
    "debug".into()
}

pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let config = Config::load_checked(args.config.as_deref(), &args.options, args.allow_writable_files)
        .map_err(|e| UsageError(e.to_string()))?;
    let engine_cfg: EngineConfig = config.section().map_err(|e| UsageError(e.to_string()))?;

    if args.list {
        crate::fields::print_fields(None);
        return Ok(ExitCode::SUCCESS);
    }

    let load = match load_rules(&args, &engine_cfg)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let options = EngineOptions {
        rule_matching: match engine_cfg.rule_matching.as_str() {
            "first" => RuleMatching::First,
            "all" => RuleMatching::All,
            other => return Err(UsageError(format!("rule_matching: '{other}' is not 'first' or 'all'")).into()),
        },
        min_priority: engine_cfg.priority.parse::<Priority>().map_err(|e| UsageError(format!("priority: {e}")))?,
        ..EngineOptions::default()
    };
    let engine = match Engine::compile(&load, options) {
        Ok(e) => e,
        Err(diags) => {
            eprintln!("{} Errors:", diags.len());
            for d in &diags {
                eprintln!("{d}");
            }
            return Ok(ExitCode::from(1));
        }
    };

    if args.dry_run {
        print_summary(&load, &engine);
        return Ok(ExitCode::SUCCESS);
    }

    let request = crate::source::SourceRequest {
        capture: args.replay.as_deref(),
        driver: args.driver.as_deref(),
        live: crate::source::LiveOptions {
            // Only what the rules and the state need crosses the ring.
            syscalls: crate::source::syscalls_for(engine.event_types()),
            ..crate::source::LiveOptions::default()
        },
        limits: Limits::default(),
        command: &args.command,
        attach: args.pid,
    };
    let crate::source::Opened { mut source, state, tracer, launched, .. } = crate::source::open(&request)?;
    // The driver is attached: keep only what the rest of the run needs (see
    // privileges.rs). Capabilities are per thread, so this comes before any
    // thread starts (outputs, web server, workers): they and the programs
    // outputs run inherit the reduced sets. Outputs open their files and
    // sockets after this, as uid 0 without DAC override.
    let keep = crate::privileges::needed_after_start(args.driver.as_deref(), args.replay.is_some());
    crate::privileges::drop_all_but(keep).context("cannot drop capabilities")?;

    let outputs_cfg: OutputsConfig = config.section().map_err(|e| UsageError(e.to_string()))?;
    let outputs = Arc::new(Outputs::new(&outputs_cfg).context("cannot start the outputs")?);

    let hostname = saker_engine::hostname();
    let metrics =
        Metrics::new(MetricsInfo { version: env!("CARGO_PKG_VERSION").to_string(), hostname: hostname.clone() });
    let stats_outputs = Arc::clone(&outputs);
    metrics.set_outputs_source(move || {
        stats_outputs
            .stats()
            .into_iter()
            .map(|o| OutputSample {
                name: o.name.to_string(),
                sent: o.sent,
                dropped: o.dropped,
                errors: o.errors,
                queued: o.queued as u64,
            })
            .collect()
    });
    // A replay needs no web server (Falco starts none in capture mode
    // either): one starts only when asked on the command line, so a replay
    // does not fail because something else holds the port.
    let mut webserver = engine_cfg.webserver.clone();
    if args.replay.is_some() {
        webserver.enabled &= args.options.iter().any(|o| o.trim_start().starts_with("webserver.enabled="));
    }
    let server = MetricsServer::start(&webserver, metrics.clone()).context("cannot start the web server")?;

    if args.replay.is_none() {
        crate::signals::install(source.stop_handle(), if launched { tracer } else { None })?;
    } else {
        // A replay passes over the events that change nothing the rules
        // read and that no rule looks at (a live driver's selection of
        // system calls does that job in the kernel).
        crate::source::pass_over_unneeded(source.as_mut(), engine.state_reads(), engine.event_types());
    }
    // Every worker keeps a whole copy of the state and the reading thread
    // needs a CPU of its own: by default one worker per CPU but one, so on
    // two CPUs everything runs on one thread (measured faster: bench/ rules).
    let workers = match engine_cfg.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1).max(1),
        n => n,
    };

    // Alerts: counted per rule, then handed to the outputs.
    let counters: std::collections::HashMap<String, saker_metrics::RuleCounter> =
        load.rules.iter().map(|r| (r.name.clone(), metrics.rule(&r.name, r.priority as u8, &r.source))).collect();
    let sink_outputs = Arc::clone(&outputs);
    let sink: saker_engine::AlertSink = Arc::new(move |alert| {
        if let Some(c) = counters.get(&alert.rule) {
            c.inc();
        }
        sink_outputs.emit(&alert);
    });

    let mut drops = DropPolicy::new(engine_cfg.syscall_event_drops.clone(), hostname);
    let mut exit_reason: Option<String> = None;
    let idle_outputs = Arc::clone(&outputs);
    let idle_metrics = metrics.clone();
    let mut on_idle = |s: &saker_driver::SourceStats| {
        idle_metrics.set_source(&source_counters(s));
        let verdict = drops.check(s);
        if let Some(line) = verdict.log {
            eprintln!("saker: {line}");
        }
        if let Some(alert) = verdict.alert {
            idle_outputs.emit(&alert);
        }
        if let Some(reason) = verdict.exit {
            exit_reason = Some(reason);
            return false;
        }
        true
    };
    let stats = saker_engine::run(source.as_mut(), state, engine, workers, sink, Some(metrics), &mut on_idle)?;
    let exit_code = source.exit_code();
    drop(source);
    outputs.shutdown(Duration::from_secs(5));
    if let Some(s) = server {
        s.shutdown();
    }
    // An alert an output could not queue (dropped) or could not deliver
    // (error) is lost either way: both count, by output.
    let stats_by_output = outputs.stats();
    let losing: Vec<_> = stats_by_output.iter().filter(|o| o.lost() > 0).collect();
    // Each losing output with its last error, so the cause is on screen.
    let by_output: Vec<String> = losing
        .iter()
        .map(|o| match &o.last_error {
            Some(e) => format!("{}: {}, last error: {e}", o.name, o.lost()),
            None => format!("{}: {}", o.name, o.lost()),
        })
        .collect();
    eprintln!(
        "Events processed: {}; alerts raised: {}; events lost by the driver: {}; alerts lost by outputs: {}{}",
        stats.events,
        stats.alerts,
        stats.source.drops(),
        losing.iter().map(|o| o.lost()).sum::<u64>(),
        if by_output.is_empty() { String::new() } else { format!(" ({})", by_output.join(", ")) }
    );
    if let Some(reason) = exit_reason {
        return Err(anyhow!("stopping on event drops (syscall_event_drops.actions: exit): {reason}"));
    }
    // With a launched command, saker's exit code is the command's.
    Ok(exit_code.map_or(ExitCode::SUCCESS, |c| ExitCode::from(c.clamp(0, 255) as u8)))
}

/// Loads the rules files (or the built-in rules); prints warnings, and on
/// errors prints them and gives the exit code.
fn load_rules(args: &DetectArgs, cfg: &EngineConfig) -> Result<Result<LoadResult, ExitCode>> {
    let files: Vec<PathBuf> = if args.rules.is_empty() { cfg.rules_files.clone() } else { args.rules.clone() };
    let mut texts = Vec::with_capacity(files.len());
    for f in &files {
        // Bounded, UTF-8 checked with a located error, refused if others may write it.
        let text = saker_files::read_text(f, saker_files::MAX_RULES_FILE, args.allow_writable_files)
            .context("cannot load the rules")?;
        texts.push((f.display().to_string(), text));
    }
    let sources: Vec<RulesSource<'_>> = if texts.is_empty() {
        vec![RulesSource { name: DEFAULT_RULES_NAME, text: DEFAULT_RULES }]
    } else {
        texts.iter().map(|(n, t)| RulesSource { name: n, text: t }).collect()
    };
    match Ruleset::load(&sources, &saker_engine::Fields) {
        Ok(load) => {
            if !load.warnings.is_empty() {
                eprintln!("{} Warnings:", load.warnings.len());
                for w in &load.warnings {
                    eprintln!("{w}");
                }
            }
            Ok(Ok(load))
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(Err(ExitCode::from(1)))
        }
    }
}

fn print_summary(load: &LoadResult, engine: &Engine) {
    let enabled = load.rules.iter().filter(|r| r.enabled).count();
    println!(
        "Rules loaded: {} rules ({} enabled, {} disabled), {} macros, {} lists; {} rules compiled for {} event types.",
        load.rules.len(),
        enabled,
        load.rules.len() - enabled,
        load.macros.len(),
        load.lists.len(),
        engine.len(),
        engine.event_types().len()
    );
}

/// The driver's counters as the metrics name them; the buffer drops are in
/// the order of `DropCategory::ALL` (process, exec, open, connect, close, other).
fn source_counters(s: &saker_driver::SourceStats) -> SourceCounters {
    let b = &s.drops_buffer;
    SourceCounters {
        events: s.events,
        drops_buffer: [b.process, b.exec, b.open, b.connect, b.close, b.other],
        drops_too_large: s.drops_too_large,
        drops_other: s.drops_other,
    }
}
