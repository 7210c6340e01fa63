//! `saker detect`: evaluate Falco rules on events and raise alerts, like falco.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use saker_config::Config;
use saker_engine::{DropPolicy, DropsConfig, Engine, EngineOptions, RuleMatching};
use saker_metrics::{Metrics, MetricsInfo, MetricsServer, OutputSample, SourceCounters, WebserverConfig};
use saker_outputs::{Outputs, OutputsConfig, Priority};
use saker_rules::{LoadResult, RulesSource, Ruleset};
use serde::Deserialize;

use crate::cli::{DetectArgs, UsageError};
use crate::log;
use crate::reload::{Built, Reloader, SinkState};

/// saker's own rules, used when no rules file is given.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/saker_rules.yaml");
const DEFAULT_RULES_NAME: &str = "saker_rules.yaml (built in)";

/// The configuration keys the engine reads.
#[derive(Deserialize, Debug)]
pub(crate) struct EngineConfig {
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
    #[serde(default)]
    pub(crate) base_syscalls: crate::source::BaseSyscalls,
    #[serde(default)]
    watch_config_files: bool,
    #[serde(default)]
    syscall_event_timeouts: TimeoutsConfig,
}

/// `syscall_event_timeouts`.
#[derive(Deserialize, Debug, Default)]
struct TimeoutsConfig {
    /// Consecutive waits of the source with no event before an alert
    /// (Falco's meaning); 0 never alerts.
    #[serde(default)]
    max_consecutives: u64,
}

fn default_matching() -> String {
    "first".into()
}

fn default_priority() -> String {
    "debug".into()
}

pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let mut options = args.options.clone();
    if args.unbuffered {
        options.push("buffered_outputs=false".into());
    }
    let config = Config::load_checked(args.config.as_deref(), &options, args.allow_writable_files)
        .map_err(|e| UsageError(e.to_string()))?;
    log::configure(log::config_from(&config)?);
    for w in config.warnings() {
        log::warn(w);
    }
    let engine_cfg: EngineConfig = config.section().map_err(|e| UsageError(e.to_string()))?;
    let settings = crate::source::engine_settings(&config)?;
    let mut snapshots = crate::metrics_config::Snapshots::new(&config)?;

    if args.version {
        print_versions();
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(source) = &args.list {
        if !source.is_empty() && source != "syscall" {
            return Err(UsageError(format!("unknown event source '{source}': saker has only 'syscall'")).into());
        }
        crate::fields::print_fields(None);
        return Ok(ExitCode::SUCCESS);
    }
    if args.list_events {
        print_events()?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.validate.is_empty() {
        return validate(&args.validate, args.allow_writable_files);
    }

    let mut load = match load_rules(&args, &engine_cfg)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    crate::rules_config::apply(&config, &mut load)?;
    append_print(&args, &mut load);
    if args.list_rules {
        let mut out = std::io::stdout().lock();
        for r in &load.rules {
            writeln!(out, "{}{}\n    {}\n", r.name, if r.enabled { "" } else { " (disabled)" }, r.desc.trim())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(name) = &args.describe_rule {
        let Some(r) = load.rules.iter().find(|r| &r.name == name) else {
            return Err(UsageError(format!("no rule named '{name}' is loaded")).into());
        };
        println!(
            "Rule: {}\nDescription: {}\nCondition: {}\nOutput: {}\nPriority: {:?}\nTags: {}\nEnabled: {}",
            r.name,
            r.desc.trim(),
            r.condition_text.trim(),
            r.output,
            r.priority,
            r.tags.iter().cloned().collect::<Vec<_>>().join(", "),
            r.enabled
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.support {
        print_support(&args, &config, &engine_cfg)?;
        return Ok(ExitCode::SUCCESS);
    }
    let static_fields = crate::rules_config::static_fields(&config)?;
    let engine = match Engine::compile(&load, engine_options(&engine_cfg)?) {
        Ok(e) => e,
        Err(diags) => {
            eprintln!("{} Errors:", diags.len());
            for d in &diags {
                eprintln!("{d}");
            }
            return Ok(ExitCode::from(1));
        }
    };

    let syscalls = crate::source::syscalls_with_base(engine.event_types(), &engine_cfg.base_syscalls)?;
    let open_filter = open_filter(&engine, settings.live.kernel_filters, &syscalls);
    if args.dry_run {
        print_summary(&load, &engine);
        print_kernel_filters(open_filter.as_ref(), settings.live.kernel_filters, &syscalls);
        return Ok(ExitCode::SUCCESS);
    }
    watch_domain_names(&engine);

    let hostname = saker_engine::hostname();
    // -e, then --driver, then engine.kind (whose replay is Falco 0.38+'s -e).
    let capture = match (&args.replay, &args.driver) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) => settings.capture.clone(),
    };
    let driver = args.driver.clone().or(settings.driver.clone());
    // Falco's engine names (scap.engine_name).
    let engine_name = match (&capture, driver.as_deref().map(crate::source::driver_name)) {
        (Some(_), _) => "savefile",
        (None, None | Some("modern-ebpf")) => "modern_bpf",
        (None, Some(other)) => other,
    }
    .to_string();
    // What the run keeps once the driver is attached (privileges.rs).
    let keep = crate::privileges::needed_after_start(driver.as_deref(), capture.is_some());
    let request = crate::source::SourceRequest {
        capture: capture.as_deref(),
        driver: driver.as_deref(),
        live: crate::source::LiveOptions {
            // Only what the rules and the state need crosses the ring.
            syscalls,
            open_filter: open_filter.clone(),
            ..settings.live.clone()
        },
        limits: settings.limits.clone(),
        command: &args.command,
        attach: args.pid,
        keep_capabilities: Some(keep),
    };
    let crate::source::Opened { mut source, state, tracer, launched, driver: opened_driver, .. } =
        crate::source::open(&request)?;
    // The driver is attached: keep only what the rest of the run needs (see
    // privileges.rs). Capabilities are per thread, so this comes before any
    // thread starts (outputs, web server, signal handlers, reloads,
    // workers): they and the programs outputs run inherit the reduced sets.
    // Outputs open their files and sockets after this, as uid 0 without DAC
    // override.
    crate::privileges::drop_all_but(keep).context("cannot drop capabilities")?;

    let outputs_cfg: OutputsConfig = config.section().map_err(|e| UsageError(e.to_string()))?;
    log_startup(&config, &load, &engine, &engine_cfg);
    log_outputs(&outputs_cfg);
    let outputs = Arc::new(Outputs::new(&outputs_cfg).context("cannot start the outputs")?);

    let reopen_outputs = Arc::clone(&outputs);
    crate::signals::install_reopen(move || reopen_outputs.reopen())?;

    let metrics = Metrics::new(MetricsInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname.clone(),
        engine_name,
    });
    let named_rules: Vec<PathBuf> =
        if args.rules.is_empty() { engine_cfg.rules_files.clone() } else { args.rules.clone() };
    set_file_digests(&metrics, &named_rules, config.files());
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
    if capture.is_some() {
        webserver.enabled &= args.options.iter().any(|o| o.trim_start().starts_with("webserver.enabled="));
    }
    let server = MetricsServer::start(&webserver, metrics.clone()).context("cannot start the web server")?;
    if let Some(s) = &server {
        log::info(format!(
            "web server listening on http://{} (health: {}{})",
            s.local_addr(),
            webserver.k8s_healthz_endpoint,
            if webserver.prometheus_metrics_enabled { ", Prometheus: /metrics" } else { "" }
        ));
    }
    match (&capture, &request.live.syscalls) {
        (Some(c), _) => log::info(format!("event source: replay of {}", c.display())),
        (None, syscalls) => {
            let name = opened_driver;
            match syscalls {
                _ if name == "nodriver" => log::info("event source: none (engine.kind: nodriver)"),
                None => log::info(format!("event source: the {name} driver, every system call enabled")),
                Some(set) => log::info(format!(
                    "event source: the {name} driver, {} system calls enabled: {}",
                    set.len(),
                    set.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                )),
            }
        }
    }
    if capture.is_none() && opened_driver != "nodriver" {
        if opened_driver == "modern-ebpf" {
            log_open_filter(open_filter.as_ref());
        } else if open_filter.is_some() {
            log::info(format!(
                "kernel filters: none (the {opened_driver} driver sends every event of the enabled system calls)"
            ));
        }
    }
    if let Some(secs) = args.seconds.filter(|_| capture.is_none()) {
        let stop = source.stop_handle();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
            stop.stop();
        });
    }
    let live = capture.is_none();
    if live {
        // SIGHUP reloads (below), as in Falco.
        crate::signals::install(source.stop_handle(), if launched { tracer } else { None }, false)?;
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

    // Alerts: counted per rule, then handed to the outputs. What a reload
    // changes is behind a lock taken once per alert (alerts are rare next
    // to events) and written only by a reload.
    let counters: std::collections::HashMap<String, saker_metrics::RuleCounter> =
        load.rules.iter().map(|r| (r.name.clone(), rule_counter(&metrics, r))).collect();
    let sink_state = Arc::new(RwLock::new(SinkState { counters, static_fields }));
    let sink_outputs = Arc::clone(&outputs);
    let sink_shared = Arc::clone(&sink_state);
    let sink: saker_engine::AlertSink = Arc::new(move |mut alert| {
        {
            let s = sink_shared.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = s.counters.get(&alert.rule) {
                c.inc();
            }
            for (name, value) in &s.static_fields {
                alert.output_fields.push((name.clone(), saker_outputs::FieldValue::Str(value.clone())));
            }
        }
        sink_outputs.emit(&alert);
    });

    // Reloads: SIGHUP, and watch_config_files.
    let swap = saker_engine::EngineSwap::new();
    let (reload_tx, reload_rx) = std::sync::mpsc::channel::<&'static str>();
    let watched = Arc::new(Mutex::new(config.files().iter().cloned().chain(named_rules).collect::<Vec<_>>()));
    let build_args = args.clone();
    let reloader = Reloader {
        build: Box::new(move || build(&build_args, &options)),
        swap: swap.clone(),
        sink: Arc::clone(&sink_state),
        metrics: metrics.clone(),
        live,
        watched: Arc::clone(&watched),
        started_with: config.clone(),
    };
    std::thread::Builder::new()
        .name("saker-reload".into())
        .spawn(move || reloader.serve(reload_rx))
        .context("cannot start the reload thread")?;
    crate::signals::install_reload(reload_tx.clone())?;
    if engine_cfg.watch_config_files {
        crate::reload::watch(watched, reload_tx).context("cannot start watching the configuration files")?;
    } else {
        drop(reload_tx);
    }

    let mut drops = DropPolicy::new(engine_cfg.syscall_event_drops.clone(), hostname);
    let mut exit_reason: Option<String> = None;
    let idle_outputs = Arc::clone(&outputs);
    let idle_metrics = metrics.clone();
    // syscall_event_timeouts: consecutive calls with no new event are
    // consecutive waits of the source that timed out.
    let max_timeouts = engine_cfg.syscall_event_timeouts.max_consecutives;
    let (mut timeouts, mut last_events, mut last_event_ns) = (0u64, 0u64, 0u64);
    let timeout_host = saker_engine::hostname();
    let snapshot_metrics = metrics.clone();
    let mut on_idle = |s: &saker_driver::SourceStats| {
        idle_metrics.set_source(&source_counters(s));
        if let Some(alert) = snapshots.due(&snapshot_metrics, &timeout_host) {
            idle_outputs.emit(&alert);
        }
        let now_ns =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        if s.events != last_events {
            (timeouts, last_events, last_event_ns) = (0, s.events, now_ns);
        } else if max_timeouts > 0 {
            timeouts += 1;
            if timeouts >= max_timeouts {
                timeouts = 0;
                let alert = timeouts_alert(max_timeouts, last_event_ns, now_ns, &timeout_host);
                log::info(&alert.output);
                idle_outputs.emit(&alert);
            }
        }
        let verdict = drops.check(s);
        if let Some(line) = verdict.log {
            log::error(line);
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
    let summary_metrics = metrics.clone();
    let stats =
        saker_engine::run_swappable(source.as_mut(), state, engine, workers, sink, Some(metrics), &mut on_idle, &swap)?;
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
        "Events processed: {}; alerts raised: {}; events lost by the driver: {}; events filtered in the kernel by the rules: {}; alerts lost by outputs: {}{}",
        stats.events,
        stats.alerts,
        stats.source.drops(),
        stats.source.filtered,
        losing.iter().map(|o| o.lost()).sum::<u64>(),
        if by_output.is_empty() { String::new() } else { format!(" ({})", by_output.join(", ")) }
    );
    print_rule_counts(&summary_metrics);
    if let Some(reason) = exit_reason {
        return Err(anyhow!("stopping on event drops (syscall_event_drops.actions: exit): {reason}"));
    }
    // With a launched command, saker's exit code is the command's.
    Ok(exit_code.map_or(ExitCode::SUCCESS, |c| ExitCode::from(c.clamp(0, 255) as u8)))
}

/// The start-up log, as Falco's: the version, the configuration files, the
/// rules files with what each holds, the rules skipped and why.
fn log_startup(config: &Config, load: &LoadResult, engine: &Engine, cfg: &EngineConfig) {
    log::info(format!("version {} ({})", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH));
    if config.files().is_empty() {
        log::info("configuration: built-in defaults (no -c file)");
    } else {
        let files: Vec<String> = config.files().iter().map(|f| f.display().to_string()).collect();
        log::info(format!("configuration files loaded: {}", files.join(", ")));
    }
    // Files in load order, with what each defines.
    let mut files: Vec<(String, [usize; 3])> = Vec::new();
    let mut count = |file: &str, k: usize| match files.iter_mut().find(|(f, _)| *f == file) {
        Some((_, c)) => c[k] += 1,
        None => {
            let mut c = [0; 3];
            c[k] = 1;
            files.push((file.to_string(), c));
        }
    };
    for r in &load.rules {
        count(&r.location.file, 0);
    }
    for m in &load.macros {
        count(&m.location.file, 1);
    }
    for l in &load.lists {
        count(&l.location.file, 2);
    }
    for (f, [r, m, l]) in &files {
        log::info(format!("rules file loaded: {f} ({r} rules, {m} macros, {l} lists)"));
    }
    for s in &load.skipped {
        log::info(format!("rule '{}' ({}:{}) skipped: {}", s.name, s.location.file, s.location.line, s.reason));
    }
    let disabled = load.rules.iter().filter(|r| !r.enabled).count();
    let below = load.rules.len().saturating_sub(disabled + engine.len());
    let mut skipped = Vec::new();
    if disabled > 0 {
        skipped.push(format!("{disabled} disabled"));
    }
    if below > 0 {
        skipped.push(format!("{below} below priority {}", cfg.priority));
    }
    log::info(format!(
        "{} rules in force of {} loaded{}",
        engine.len(),
        load.rules.len(),
        if skipped.is_empty() { String::new() } else { format!(" (not in force: {})", skipped.join(", ")) }
    ));
}

/// The outputs enabled; a warning, once, for one that cannot work as
/// configured (its alerts would be lost until it can).
fn log_outputs(c: &OutputsConfig) {
    let mut on = Vec::new();
    if c.stdout_output.enabled {
        on.push("stdout".to_string());
    }
    if c.syslog_output.enabled {
        on.push(format!("syslog ({})", c.syslog_output.socket));
        let dgram = std::os::unix::net::UnixDatagram::unbound().and_then(|d| d.connect(&c.syslog_output.socket));
        // A stream socket is fine too (the output falls back to it).
        let stream = || std::os::unix::net::UnixStream::connect(&c.syslog_output.socket);
        if let Err(e) = dgram
            && stream().is_err()
        {
            log::warn(format!(
                "syslog_output is enabled but {} cannot be reached ({e}): its alerts are lost until a syslog daemon listens there",
                c.syslog_output.socket
            ));
        }
    }
    if c.file_output.enabled {
        on.push(format!("file ({})", c.file_output.filename));
        let path = std::path::Path::new(&c.file_output.filename);
        let existed = path.exists();
        match std::fs::OpenOptions::new().append(true).create(true).open(path) {
            Ok(_) if !existed => {
                // Only checking: the output creates it with its first alert.
                let _ = std::fs::remove_file(path);
            }
            Ok(_) => {}
            Err(e) => log::warn(format!(
                "file_output is enabled but {} cannot be opened ({e}): its alerts are lost",
                c.file_output.filename
            )),
        }
    }
    if c.program_output.enabled {
        on.push(format!("program ({})", c.program_output.program));
    }
    if c.http_output.enabled {
        on.push(format!("http ({})", c.http_output.url));
    }
    if c.nats_output.enabled {
        on.push(format!("nats ({})", c.nats_output.url));
    }
    log::info(format!("outputs enabled: {}", if on.is_empty() { "none".to_string() } else { on.join(", ") }));
}

/// The exit summary's alerts by priority and by rule (rules that raised
/// none are left out).
fn print_rule_counts(metrics: &Metrics) {
    let counts: Vec<_> = metrics.rule_counts().into_iter().filter(|c| c.3 > 0).collect();
    if counts.is_empty() {
        return;
    }
    let mut out = String::from("Alerts by priority:\n");
    for p in Priority::ALL {
        let n: u64 = counts.iter().filter(|c| c.1 == p as u8).map(|c| c.3).sum();
        if n > 0 {
            out.push_str(&format!("   {}: {n}\n", p.as_str()));
        }
    }
    out.push_str("Alerts by rule:\n");
    for (name, _, _, n) in &counts {
        out.push_str(&format!("   {name}: {n}\n"));
    }
    eprint!("{out}");
}

/// The match counter of a rule, with its tags as a label.
pub(crate) fn rule_counter(metrics: &Metrics, r: &saker_rules::Rule) -> saker_metrics::RuleCounter {
    let tags: Vec<&str> = r.tags.iter().map(String::as_str).collect();
    metrics.rule_with_tags(&r.name, r.priority as u8, &r.source, &tags)
}

/// The sha256 of the rules files and configuration files in force, for the
/// info metrics (the built-in rules when no rules file is named).
pub(crate) fn set_file_digests(metrics: &Metrics, named_rules: &[PathBuf], config_files: &[PathBuf]) {
    let digest = |f: &PathBuf| {
        Some(saker_metrics::FileDigest {
            file_name: f.file_name()?.to_string_lossy().into_owned(),
            sha256: sha256_hex(&std::fs::read(f).ok()?),
        })
    };
    let files = expand_rules_paths(named_rules).unwrap_or_default();
    let mut rules: Vec<_> = files.iter().filter_map(digest).collect();
    if files.is_empty() {
        rules.push(saker_metrics::FileDigest {
            file_name: "saker_rules.yaml".into(),
            sha256: sha256_hex(DEFAULT_RULES.as_bytes()),
        });
    }
    metrics.set_files(rules, config_files.iter().filter_map(digest).collect());
}

/// The alert of `syscall_event_timeouts` (Falco's internal rule).
fn timeouts_alert(max: u64, last_event_ns: u64, now_ns: u64, hostname: &str) -> saker_outputs::Alert {
    let rule = "Falco internal: timeouts notification";
    let last = if last_event_ns == 0 {
        "none".to_string()
    } else {
        jiff::Timestamp::from_nanosecond(last_event_ns as i128).map_or_else(|_| "none".into(), |t| t.to_string())
    };
    saker_outputs::Alert {
        time_ns: now_ns,
        rule: rule.into(),
        priority: Priority::Debug,
        source: "internal".into(),
        tags: Vec::new(),
        hostname: hostname.to_string(),
        output: format!("{rule}. {max} consecutive timeouts without event."),
        output_fields: vec![("last_event_time".into(), saker_outputs::FieldValue::Str(last))],
    }
}

/// Falco's -p: appended to every rule's output.
fn append_print(args: &DetectArgs, load: &mut LoadResult) {
    if let Some(extra) = args.print.as_deref().filter(|p| !p.trim().is_empty()) {
        for r in &mut load.rules {
            r.output = format!("{} {}", r.output, extra.trim());
        }
    }
}

/// `rule_matching` and `priority`.
pub(crate) fn engine_options(cfg: &EngineConfig) -> Result<EngineOptions, UsageError> {
    Ok(EngineOptions {
        rule_matching: match cfg.rule_matching.as_str() {
            "first" => RuleMatching::First,
            "all" => RuleMatching::All,
            other => return Err(UsageError(format!("rule_matching: '{other}' is not 'first' or 'all'"))),
        },
        min_priority: cfg.priority.parse::<Priority>().map_err(|e| UsageError(format!("priority: {e}")))?,
        ..EngineOptions::default()
    })
}

/// For a reload: the configuration, the rules and the engine, built again
/// from the files as at start; any problem is the error.
fn build(args: &DetectArgs, options: &[String]) -> Result<Built, String> {
    let config =
        Config::load_checked(args.config.as_deref(), options, args.allow_writable_files).map_err(|e| e.to_string())?;
    let cfg: EngineConfig = config.section().map_err(|e| e.to_string())?;
    let named: Vec<PathBuf> = if args.rules.is_empty() { cfg.rules_files.clone() } else { args.rules.clone() };
    let rules_files = expand_rules_paths(&named).map_err(|e| format!("{e:#}"))?;
    let texts = read_rules_texts(&rules_files, args.allow_writable_files).map_err(|e| e.to_string())?;
    let sources: Vec<RulesSource<'_>> = if texts.is_empty() {
        vec![RulesSource { name: DEFAULT_RULES_NAME, text: DEFAULT_RULES }]
    } else {
        texts.iter().map(|(n, t)| RulesSource { name: n, text: t }).collect()
    };
    let mut load = Ruleset::load(&sources, &saker_engine::Fields).map_err(|e| e.to_string())?;
    for w in &load.warnings {
        log::warn(w);
    }
    crate::rules_config::apply(&config, &mut load).map_err(|e| e.0)?;
    append_print(args, &mut load);
    let static_fields = crate::rules_config::static_fields(&config).map_err(|e| e.0)?;
    let engine = Engine::compile(&load, engine_options(&cfg).map_err(|e| e.0)?).map_err(|diags| {
        let mut m = format!("{} Errors:", diags.len());
        for d in &diags {
            m.push('\n');
            m.push_str(&d.to_string());
        }
        m
    })?;
    let syscalls = crate::source::syscalls_with_base(engine.event_types(), &cfg.base_syscalls).map_err(|e| e.0)?;
    let mut watched_rules = named;
    if watched_rules.is_empty() {
        watched_rules = rules_files;
    }
    watch_domain_names(&engine);
    let kernel_filters = crate::source::engine_settings(&config).map_err(|e| e.0)?.live.kernel_filters;
    let open_filter = open_filter(&engine, kernel_filters, &syscalls);
    Ok(Built { config, load, engine, static_fields, syscalls, open_filter, rules_files: watched_rules })
}

/// Starts resolving the domain names the rules compare `fd.*ip.name` with,
/// and waits a little for them (names in `/etc/hosts` take microseconds) so
/// the rules match from the first events; a slow resolver is reported and
/// not waited for.
fn watch_domain_names(engine: &Engine) {
    let names = engine.domain_names();
    if !names.is_empty() && !saker_dns::watch(names, Duration::from_secs(1)) {
        log::warn(format_args!(
            "resolving the {} domain names the rules compare fd.*ip.name with takes more than 1 s; those comparisons hold once each name is resolved",
            names.len()
        ));
    }
}

/// The rules files' texts, each named by its path: bounded, UTF-8 checked
/// with a located error, refused if group or others may write it unless
/// `allow_writable` (`saker_files`).
fn read_rules_texts(files: &[PathBuf], allow_writable: bool) -> Result<Vec<(String, String)>, saker_files::FileError> {
    files
        .iter()
        .map(|f| {
            let text = saker_files::read_text(f, saker_files::MAX_RULES_FILE, allow_writable)?;
            Ok((f.display().to_string(), text))
        })
        .collect()
}

/// Loads the rules files (or the built-in rules); prints warnings, and on
/// errors prints them and gives the exit code.
fn load_rules(args: &DetectArgs, cfg: &EngineConfig) -> Result<Result<LoadResult, ExitCode>> {
    let named: Vec<PathBuf> = if args.rules.is_empty() { cfg.rules_files.clone() } else { args.rules.clone() };
    let files = expand_rules_paths(&named)?;
    let texts = read_rules_texts(&files, args.allow_writable_files).context("cannot load the rules")?;
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

/// -V: loads and compiles the rules files, prints each file's verdict (and
/// the located errors), exits 1 if any is broken.
fn validate(files: &[PathBuf], allow_writable: bool) -> Result<ExitCode> {
    let files = expand_rules_paths(files)?;
    let texts = read_rules_texts(&files, allow_writable).context("cannot load the rules")?;
    let sources: Vec<RulesSource<'_>> = texts.iter().map(|(n, t)| RulesSource { name: n, text: t }).collect();
    let names = texts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    match Ruleset::load(&sources, &saker_engine::Fields) {
        Err(errors) => {
            println!("{names}: Invalid");
            eprintln!("{errors}");
            Ok(ExitCode::from(1))
        }
        Ok(load) => match Engine::compile(&load, EngineOptions::default()) {
            Err(diags) => {
                println!("{names}: Invalid");
                eprintln!("{} Errors:", diags.len());
                for d in &diags {
                    eprintln!("{d}");
                }
                Ok(ExitCode::from(1))
            }
            Ok(_) => {
                for w in &load.warnings {
                    eprintln!("{w}");
                }
                println!("{names}: Ok{}", if load.warnings.is_empty() { "" } else { ", with warnings" });
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

/// The versions `--version` prints (and `--support` carries).
fn versions() -> Vec<(&'static str, String)> {
    let (a, b, c) = saker_rules::ENGINE_VERSION;
    vec![
        ("saker_version", env!("CARGO_PKG_VERSION").to_string()),
        ("engine_version", format!("{a}.{b}.{c}")),
        (
            "event_schema",
            format!(
                "{} event types (Falco libs' event table)",
                saker_abi::EVENT_TABLE.iter().filter(|i| !i.name.is_empty()).count()
            ),
        ),
        (
            "drivers",
            format!(
                "modern-ebpf (built in), kmod (module API {}.{}, built for this kernel by `saker driver build`), ebpf (probe API {}, built by `saker driver build --kind ebpf`), userspace",
                saker_kmod::abi::API_MAJOR,
                saker_kmod::abi::API_MINOR,
                saker_legacy_bpf::probe::API_VERSION
            ),
        ),
    ]
}

fn print_versions() {
    for (k, v) in versions() {
        println!("{k}: {v}");
    }
}

fn print_events() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for info in saker_abi::EVENT_TABLE.iter().filter(|i| !i.name.is_empty()) {
        let dir = if info.code & 1 == 0 { '>' } else { '<' };
        let params: Vec<String> = info.params.iter().map(|p| format!("{:?} {}", p.ty, p.name)).collect();
        writeln!(out, "{dir} {}({})", info.name, params.join(", "))?;
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// --support: what Falco's prints, as JSON.
fn print_support(args: &DetectArgs, config: &Config, cfg: &EngineConfig) -> Result<()> {
    let uname =
        |f: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{f}")).unwrap_or_default().trim().to_string();
    let named: Vec<PathBuf> = if args.rules.is_empty() { cfg.rules_files.clone() } else { args.rules.clone() };
    let mut rules = Vec::new();
    for f in expand_rules_paths(&named)? {
        let text = std::fs::read(&f).with_context(|| format!("cannot read rules file {}", f.display()))?;
        rules.push(serde_json::json!({
            "name": f.display().to_string(),
            "content": String::from_utf8_lossy(&text),
            "sha256": sha256_hex(&text),
        }));
    }
    if rules.is_empty() {
        rules.push(serde_json::json!({
            "name": DEFAULT_RULES_NAME,
            "content": DEFAULT_RULES,
            "sha256": sha256_hex(DEFAULT_RULES.as_bytes()),
        }));
    }
    let version: serde_json::Map<String, serde_json::Value> =
        versions().into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let files: Vec<String> = config.files().iter().map(|f| f.display().to_string()).collect();
    let support = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "engine_info": version,
        "system_info": {
            "sysname": uname("ostype"),
            "nodename": uname("hostname"),
            "release": uname("osrelease"),
            "version": uname("version"),
            "machine": std::env::consts::ARCH,
        },
        "cmdline": std::env::args().collect::<Vec<_>>().join(" "),
        "config": config.to_yaml(),
        "config_files": files,
        "rules_files": rules,
    });
    println!("{}", serde_json::to_string_pretty(&support)?);
    Ok(())
}

/// The rules files `paths` names: a file as given, a directory's regular
/// files in name order (as Falco loads `/etc/falco/rules.d`).
pub fn expand_rules_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read rules file {}", p.display()))?;
        if !meta.is_dir() {
            files.push(p.clone());
            continue;
        }
        let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read rules directory {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        inside.sort();
        files.extend(inside);
    }
    Ok(files)
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

/// The kernel's open filter for the rules of `engine`, unless turned off
/// (`engine.modern_ebpf.kernel_filters: false`) or unsafe: without `close`
/// captured the fd table keeps entries an open would have replaced.
pub(crate) fn open_filter(
    engine: &Engine,
    enabled: bool,
    syscalls: &Option<std::collections::BTreeSet<String>>,
) -> Option<saker_driver::kernel_filter::OpenFilter> {
    if !enabled || syscalls.as_ref().is_some_and(|s| !s.contains("close")) {
        return None;
    }
    Some(engine.open_filter().clone())
}

/// Logs the open filter a kernel driver installed.
pub(crate) fn log_open_filter(filter: Option<&saker_driver::kernel_filter::OpenFilter>) {
    match filter {
        None => log::info("kernel filters: none, every open of the enabled system calls is sent"),
        Some(f) => {
            for line in f.describe() {
                log::info(format!("kernel filter: {line}"));
            }
        }
    }
}

/// `--dry-run`: the filters the modern eBPF driver would install.
fn print_kernel_filters(
    filter: Option<&saker_driver::kernel_filter::OpenFilter>,
    enabled: bool,
    syscalls: &Option<std::collections::BTreeSet<String>>,
) {
    match filter {
        Some(f) => {
            println!("Kernel filters (modern-ebpf driver; kmod and ebpf send every event):");
            for line in f.describe() {
                println!("  {line}");
            }
        }
        None if !enabled => println!("Kernel filters: none (engine.modern_ebpf.kernel_filters: false)"),
        None => println!(
            "Kernel filters: none (close is not among the {} system calls captured, so the fd table needs every open)",
            syscalls.as_ref().map_or(0, |s| s.len())
        ),
    }
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
        filtered: s.filtered,
    }
}
