//! Opening the event source a command asks for: a capture file to replay or
//! a live driver, with the state it starts from. `saker trace` and `saker
//! detect` share it.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use saker_driver::{CaptureSource, EventSource};
use saker_scap::CaptureHeader;
use saker_state::{Limits, Reads, State};

use crate::cli::UsageError;

/// The driver used when none is named: the first usable of modern-ebpf,
/// kmod and ebpf (see `crate::auto`).
pub const DEFAULT_DRIVER: &str = "auto";

/// The drivers saker knows, and what it says about those this build lacks.
const DRIVERS: &[(&str, Option<&str>)] =
    &[("auto", None), ("modern-ebpf", None), ("userspace", None), ("nodriver", None), ("ebpf", None), ("kmod", None)];

/// Falco's spelling of a driver (`modern_ebpf`, as in `engine.kind`) in
/// saker's (`modern-ebpf`); other names unchanged.
pub fn driver_name(name: &str) -> &str {
    match name {
        "modern_ebpf" | "modern-bpf" | "modern_bpf" => "modern-ebpf",
        other => other,
    }
}

/// Settings of a live driver (the `modern-ebpf` defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOptions {
    /// CPUs sharing one ring buffer; 0 puts every CPU on one ring.
    pub cpus_for_each_buffer: usize,
    /// Bytes of each ring buffer (a power of two).
    pub buffer_size: usize,
    /// Bytes of data captured from read/write-like calls.
    pub snaplen: u32,
    /// System calls to capture (kernel side); `None` for all.
    pub syscalls: Option<BTreeSet<String>>,
    /// Drop failed system calls in the kernel (`engine.kmod.drop_failed_exit`;
    /// only the module can).
    pub drop_failed_exit: bool,
    /// Whether the kernel may filter events by the rules
    /// (`engine.modern_ebpf.kernel_filters`, default true).
    pub kernel_filters: bool,
    /// The open-family filter to install (only the modern probe has
    /// kernel filters); `None` sends every open.
    pub open_filter: Option<saker_driver::kernel_filter::OpenFilter>,
    /// Whether the modern probe captures the wanted syscalls the kernel
    /// does not implement (`engine.modern_ebpf.unimplemented_syscalls`,
    /// default true).
    pub unimplemented_syscalls: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        let d = saker_modern_bpf::Config::default();
        LiveOptions {
            cpus_for_each_buffer: d.cpus_for_each_buffer,
            buffer_size: d.buffer_size,
            snaplen: d.snaplen,
            syscalls: None,
            drop_failed_exit: false,
            kernel_filters: true,
            open_filter: None,
            unimplemented_syscalls: d.unimplemented_syscalls,
        }
    }
}

/// What to open.
#[derive(Clone, Debug, Default)]
pub struct SourceRequest<'a> {
    /// A capture file to replay; `None` captures live.
    pub capture: Option<&'a Path>,
    /// The live driver (default [`DEFAULT_DRIVER`]); ignored when replaying.
    pub driver: Option<&'a str>,
    /// The live driver's settings; ignored when replaying.
    pub live: LiveOptions,
    /// Bounds of the state.
    pub limits: Limits,
    /// For the userspace driver: the command to launch under the tracer.
    pub command: &'a [String],
    /// For the userspace driver: the process to attach to, with its threads
    /// and descendants.
    pub attach: Option<i32>,
    /// The capabilities the caller keeps once the source is open (see
    /// privileges.rs); helper threads the source starts keep no more.
    pub keep_capabilities: Option<u64>,
}

/// `--driver auto`: the first usable driver (logged with the reason), after
/// building and loading what the choice needs.
fn resolve_auto() -> Result<&'static str> {
    let facts = crate::auto::Facts::probe();
    let choice = crate::auto::choose(&facts)?;
    crate::log::info(format!("auto: {choice}"));
    match choice.action {
        crate::auto::Action::Open => {}
        crate::auto::Action::BuildAndLoadKmod => {
            crate::driver::build_kmod_for_running().context("--driver auto: cannot build the kernel module")?;
            crate::driver::load_default().context("--driver auto: cannot load the kernel module")?;
        }
        crate::auto::Action::BuildEbpf => {
            let output = saker_legacy_bpf::probe_path();
            saker_legacy_bpf::probe::build(&saker_legacy_bpf::BuildOptions {
                output: Some(output),
                ..Default::default()
            })
            .context("--driver auto: cannot build the legacy eBPF probe")?;
        }
    }
    Ok(choice.driver)
}

/// An opened source with what the commands need around it.
pub struct Opened {
    /// The events.
    pub source: Box<dyn EventSource>,
    /// The state the source starts from.
    pub state: State,
    /// That state as a capture header, for `-w`.
    pub header: Option<CaptureHeader>,
    /// For the userspace driver, what signals saker receives are routed to.
    pub tracer: Option<saker_userspace::Control>,
    /// Whether the source launched a command (whose exit code saker takes).
    pub launched: bool,
    /// The driver in use (`auto` resolved; `capture` for a replay).
    pub driver: &'static str,
}

/// Opens the source `req` asks for and the state it starts from:
/// - replay: the capture, the state of its header, and a copy of that header;
/// - live: the driver, attached first so that nothing happening while /proc
///   is read is missed, then the state of /proc, and that state as a capture
///   header (machine, interfaces, users, processes and their fds) for a
///   capture file to start with.
///
/// Unknown drivers, drivers this build lacks and unknown syscall names are
/// usage errors.
pub fn open(req: &SourceRequest<'_>) -> Result<Opened> {
    if let Some(path) = req.capture {
        let source = CaptureSource::open(path)?;
        let state = State::from_capture(source.header(), &req.limits);
        let header = Some(source.header().clone());
        let driver = "capture";
        return Ok(Opened { source: Box::new(source), state, header, tracer: None, launched: false, driver });
    }
    let driver = driver_name(req.driver.unwrap_or(DEFAULT_DRIVER));
    let driver: &'static str = match DRIVERS.iter().find(|(name, _)| *name == driver) {
        Some((name, None)) => name,
        Some((name, Some(why))) => {
            return Err(
                UsageError(format!("driver '{name}' is not available yet: {why}; available: {}", available())).into()
            );
        }
        None => {
            let known: Vec<&str> = DRIVERS.iter().map(|(n, _)| *n).collect();
            return Err(UsageError(format!(
                "unknown driver '{driver}': saker knows {} (available: {})",
                known.join(", "),
                available()
            ))
            .into());
        }
    };
    if driver == "userspace" {
        return open_userspace(req);
    }
    if driver == "nodriver" {
        // Falco's nodriver: no system-call source at all; the outputs, the
        // web server and the metrics run until a signal stops saker.
        let source = NoDriver { stop: saker_driver::StopHandle::new() };
        let header = CaptureHeader::default();
        let state = State::from_capture(&header, &req.limits);
        return Ok(Opened {
            source: Box::new(source),
            state,
            header: Some(header),
            tracer: None,
            launched: false,
            driver,
        });
    }
    if !req.command.is_empty() || req.attach.is_some() {
        return Err(UsageError(format!(
            "a command to launch or a process to attach to needs --driver userspace (the {driver} driver sees the whole host)"
        ))
        .into());
    }
    if let Some(names) = &req.live.syscalls {
        let unknown: Vec<&str> =
            names.iter().map(String::as_str).filter(|n| saker_modern_bpf::syscall_by_name(n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(UsageError(format!("unknown syscall name(s) in --syscalls: {}", unknown.join(", "))).into());
        }
    }
    let driver = if driver == "auto" { resolve_auto()? } else { driver };
    if driver == "kmod" {
        return open_kmod(req);
    }
    if driver == "ebpf" {
        return open_ebpf(req);
    }
    let config = saker_modern_bpf::Config {
        cpus_for_each_buffer: req.live.cpus_for_each_buffer,
        buffer_size: req.live.buffer_size,
        snaplen: req.live.snaplen,
        syscalls: req.live.syscalls.clone(),
        open_filter: req.live.open_filter.clone(),
        unimplemented_syscalls: req.live.unimplemented_syscalls,
        ..saker_modern_bpf::Config::default()
    };
    let probe = saker_modern_bpf::ModernBpf::open(config).map_err(|e| match e.kind() {
        saker_modern_bpf::ErrorKind::Config(_) => anyhow::Error::new(UsageError(e.to_string())),
        _ => anyhow::Error::new(e).context(format!("cannot open the {driver} driver")),
    })?;
    if !probe.left_out().is_empty() {
        crate::log::warn(format!(
            "not capturing {}: this kernel does not implement them (their calls can only fail with ENOSYS) and \
             engine.modern_ebpf.unimplemented_syscalls is false",
            probe.left_out().join(", ")
        ));
    }
    let without = probe.without_tracepoint();
    if !without.is_empty() {
        let (has, its, them) = if without.len() == 1 { ("has", "its", "it") } else { ("have", "their", "them") };
        crate::log::info(format!(
            "{} {has} no tracepoint of {its} own on this kernel: a program runs on every system call to see {them}",
            without.join(", ")
        ));
    }
    let (state, header) = kernel_driver_state(req)?;
    Ok(Opened { source: Box::new(probe), state, header, tracer: None, launched: false, driver })
}

/// The state a kernel driver starts from: the host's processes read from
/// /proc (under HOST_ROOT, as Falco, when saker runs in a container), as a
/// capture header too, and container metadata looked up from the runtimes
/// off the event path.
fn kernel_driver_state(req: &SourceRequest<'_>) -> Result<(State, Option<saker_scap::CaptureHeader>)> {
    let root = saker_container::host_root();
    let mut state = State::from_proc_at(&root, &req.limits).context("cannot read the initial state from /proc")?;
    let header = Some(state.to_capture_header());
    // Capabilities are per thread: the lookup thread keeps what the caller
    // keeps after start.
    let on_thread_start = req.keep_capabilities.map(|keep| -> std::sync::Arc<dyn Fn() + Send + Sync> {
        std::sync::Arc::new(move || {
            if let Err(e) = crate::privileges::drop_all_but(keep) {
                eprintln!("saker: the container lookup thread cannot drop its capabilities: {e}");
            }
        })
    });
    let config = saker_container::Config { host_root: root, on_thread_start, ..saker_container::Config::default() };
    match saker_container::start(config) {
        Ok((handle, _worker)) => state.set_container_lookup(handle),
        Err(e) => eprintln!("saker: container metadata lookups disabled: {e}"),
    }
    Ok((state, header))
}

/// The kernel module driver (`/dev/saker`, built and loaded by `saker
/// driver`); its rings have the modern probe's buffer size.
fn open_kmod(req: &SourceRequest<'_>) -> Result<Opened> {
    let config = saker_kmod::Config {
        ring_bytes: req.live.buffer_size,
        snaplen: req.live.snaplen,
        syscalls: req.live.syscalls.clone(),
        drop_failed: req.live.drop_failed_exit,
        ..saker_kmod::Config::default()
    };
    let kmod = saker_kmod::Kmod::open(config).context("cannot open the kmod driver")?;
    let (state, header) = kernel_driver_state(req)?;
    let driver = "kmod";
    Ok(Opened { source: Box::new(kmod), state, header, tracer: None, launched: false, driver })
}

/// The legacy eBPF driver: the probe object `SAKER_BPF_PROBE` names (an
/// empty value: /root/.saker/saker-bpf.o), built for this kernel by `saker
/// driver build --kind ebpf`; its per-CPU perf buffers have the modern
/// probe's buffer size.
fn open_ebpf(req: &SourceRequest<'_>) -> Result<Opened> {
    let config = saker_legacy_bpf::Config {
        buffer_size: req.live.buffer_size,
        snaplen: req.live.snaplen,
        syscalls: req.live.syscalls.clone(),
        ..saker_legacy_bpf::Config::default()
    };
    let probe = saker_legacy_bpf::LegacyBpf::open(config).context("cannot open the ebpf driver")?;
    let (state, header) = kernel_driver_state(req)?;
    let driver = "ebpf";
    Ok(Opened { source: Box::new(probe), state, header, tracer: None, launched: false, driver })
}

/// The userspace (ptrace) driver: a launched command or an attached
/// process tree, whose state comes from /proc at start.
fn open_userspace(req: &SourceRequest<'_>) -> Result<Opened> {
    if let Some(names) = &req.live.syscalls {
        let unknown: Vec<&str> =
            names.iter().map(String::as_str).filter(|n| saker_userspace::syscall_by_name(n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(UsageError(format!("unknown syscall name(s) in --syscalls: {}", unknown.join(", "))).into());
        }
    }
    let config = saker_userspace::Config {
        syscalls: req.live.syscalls.clone(),
        snaplen: req.live.snaplen,
        ..saker_userspace::Config::default()
    };
    let (tracer, launched) = match (req.attach, req.command) {
        (Some(_), [_, ..]) => {
            return Err(UsageError("give either a command to launch or a process to attach to, not both".into()).into());
        }
        (Some(pid), []) => (saker_userspace::Tracer::attach(pid, config)?, false),
        (None, [_, ..]) => (saker_userspace::Tracer::launch(req.command, config)?, true),
        (None, []) => {
            return Err(UsageError(
                "the userspace driver traces a command (`-- CMD ARGS...`) or a process (`--pid PID`)".into(),
            )
            .into());
        }
    };
    let header = tracer.header().clone();
    let state = State::from_capture(&header, &req.limits);
    let control = tracer.control();
    Ok(Opened {
        source: Box::new(tracer),
        state,
        header: Some(header),
        tracer: Some(control),
        launched,
        driver: "userspace",
    })
}

/// The syscalls a driver must deliver for events of `types`, plus those the
/// state needs; `None` (everything) when the types include generic
/// syscall events, which any syscall can produce.
pub fn syscalls_for(types: &saker_filter::EventTypeSet) -> Option<BTreeSet<String>> {
    let names = types.names();
    if names.contains(&"syscall") {
        return None;
    }
    let mut set: BTreeSet<String> = saker_state::STATE_SYSCALLS.iter().map(|s| s.to_string()).collect();
    set.extend(names.into_iter().map(str::to_string));
    set.retain(|n| saker_modern_bpf::syscall_by_name(n).is_some());
    Some(set)
}

/// `base_syscalls`, Falco's keys.
#[derive(Clone, Debug, Default, serde::Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct BaseSyscalls {
    /// `custom_set`: the syscalls enabled besides the rules' own, instead
    /// of those the state needs; a `!name` is left out even if a rule
    /// wants it.
    pub custom_set: Vec<String>,
    /// `repair`: add what the state needs to `custom_set`.
    pub repair: bool,
    /// `all`: enable every syscall.
    pub all: bool,
}

/// The syscalls the live driver enables for rules matching `types`, as
/// `base_syscalls` asks: `all`, or the rules' plus `custom_set` (plus the
/// state's with `repair`), or the rules' plus the state's (the default).
pub fn syscalls_with_base(
    types: &saker_filter::EventTypeSet,
    base: &BaseSyscalls,
) -> Result<Option<BTreeSet<String>>, UsageError> {
    if base.all {
        return Ok(None);
    }
    let unknown: Vec<&str> = base
        .custom_set
        .iter()
        .map(|n| n.trim_start_matches('!'))
        .filter(|n| saker_modern_bpf::syscall_by_name(n).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError(format!("unknown syscall name(s) in base_syscalls.custom_set: {}", unknown.join(", "))));
    }
    if base.custom_set.is_empty() {
        return Ok(syscalls_for(types));
    }
    let Some(default) = syscalls_for(types) else { return Ok(None) };
    let state: BTreeSet<&str> = saker_state::STATE_SYSCALLS.iter().copied().collect();
    let mut set: BTreeSet<String> = if base.repair {
        default
    } else {
        // The rules' own, without the state's.
        let rules: BTreeSet<&str> = types.names().into_iter().collect();
        default.into_iter().filter(|n| rules.contains(n.as_str()) || !state.contains(n.as_str())).collect()
    };
    for n in &base.custom_set {
        match n.strip_prefix('!') {
            Some(out) => {
                set.remove(out);
            }
            None => {
                set.insert(n.clone());
            }
        }
    }
    Ok(Some(set))
}

/// Asks `source` to pass over the events a command needs for nothing: those
/// whose types it does not look at (`matched` are those it does) and that
/// change no part of the state its fields read (`reads`). A capture reads
/// and counts them without delivering them; a live driver ignores this.
pub fn pass_over_unneeded(source: &mut dyn EventSource, reads: Reads, matched: &saker_filter::EventTypeSet) {
    let unneeded = State::unneeded_event_types(reads).intersect(&matched.complement());
    if !unneeded.is_empty() {
        source.pass_over(&unneeded);
    }
    if !reads.last_event {
        let exits = State::unneeded_exits_after_enter().intersect(&matched.complement());
        if !exits.is_empty() {
            source.pass_over_exits_after_enter(&exits);
        }
    }
}

/// The source of `engine.kind: nodriver`: no events, until stopped.
struct NoDriver {
    stop: saker_driver::StopHandle,
}

impl EventSource for NoDriver {
    fn next_event(&mut self) -> Result<saker_driver::Next<'_>, saker_driver::SourceError> {
        if self.stop.is_stopped() {
            return Ok(saker_driver::Next::End);
        }
        // As long as a live driver waits when its rings are empty, so the
        // idle work (drop checks, metrics) runs at the same pace.
        std::thread::sleep(std::time::Duration::from_millis(100));
        Ok(saker_driver::Next::Idle)
    }

    fn stats(&self) -> saker_driver::SourceStats {
        saker_driver::SourceStats::default()
    }

    fn stop_handle(&self) -> saker_driver::StopHandle {
        self.stop.clone()
    }
}

/// Falco's `buf_size_preset` table: preset N is a ring of 2^(N-1) MiB
/// (1 = 1 MiB ... 4 = 8 MiB, the default ... 10 = 512 MiB).
pub fn buf_size_preset(preset: u64) -> Option<usize> {
    (1..=10).contains(&preset).then(|| (1usize << 20) << (preset - 1))
}

/// What `engine.*`, `snaplen` and `falco_libs.*` ask for, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSettings {
    /// `engine.kind` in saker's driver spelling; `None` for replay.
    pub driver: Option<String>,
    /// `engine.replay.capture_file` when `engine.kind` is `replay`.
    pub capture: Option<std::path::PathBuf>,
    /// The live driver's settings (syscalls left to the caller).
    pub live: LiveOptions,
    /// The state's bounds.
    pub limits: Limits,
}

/// The engine kinds `engine.kind` accepts.
pub const ENGINE_KINDS: &[&str] = &["auto", "modern_ebpf", "kmod", "ebpf", "replay", "nodriver", "userspace"];

/// Reads `engine.kind` and the engines' options, `snaplen` (or
/// `falco_libs.snaplen`) and `falco_libs.thread_table_size`; errors name
/// the key.
pub fn engine_settings(config: &saker_config::Config) -> Result<EngineSettings, UsageError> {
    let get_u64 = |key: &str| -> Result<Option<u64>, UsageError> {
        config.get::<u64>(key).map_err(|e| UsageError(format!("key '{key}' must be a non-negative integer ({e})")))
    };
    let get_bool = |key: &str, default: bool| -> Result<bool, UsageError> {
        let v = config.get::<bool>(key).map_err(|e| UsageError(format!("key '{key}' must be a boolean ({e})")))?;
        Ok(v.unwrap_or(default))
    };
    let kind: String = config.get("engine.kind").map_err(|e| UsageError(e.to_string()))?.unwrap_or_default();
    let (driver, capture) = match kind.as_str() {
        "auto" | "" => (Some(DEFAULT_DRIVER.to_string()), None),
        "modern_ebpf" | "modern-ebpf" => (Some("modern-ebpf".to_string()), None),
        "kmod" | "ebpf" | "nodriver" | "userspace" => (Some(kind.clone()), None),
        "replay" => {
            let file: String =
                config.get("engine.replay.capture_file").map_err(|e| UsageError(e.to_string()))?.unwrap_or_default();
            if file.is_empty() {
                return Err(UsageError(
                    "engine.kind is replay but engine.replay.capture_file is not set (the capture to replay)".into(),
                ));
            }
            (None, Some(std::path::PathBuf::from(file)))
        }
        "gvisor" => return Err(UsageError("saker does not support engine.kind: gvisor".into())),
        other => {
            return Err(UsageError(format!(
                "engine.kind: '{other}' is not a known engine; accepted: {}",
                ENGINE_KINDS.join(", ")
            )));
        }
    };
    let mut live = LiveOptions::default();
    if let Some(n) = get_u64("engine.modern_ebpf.cpus_for_each_buffer")? {
        live.cpus_for_each_buffer = n as usize;
    }
    // The preset of the engine in use (Falco reads each engine's own).
    let section = match kind.as_str() {
        "kmod" | "ebpf" => kind.as_str(),
        _ => "modern_ebpf",
    };
    let preset_key = format!("engine.{section}.buf_size_preset");
    if let Some(p) = get_u64(&preset_key)? {
        live.buffer_size = buf_size_preset(p)
            .ok_or_else(|| UsageError(format!("key '{preset_key}' must be a preset from 1 to 10, not {p}")))?;
    }
    if kind == "kmod" {
        live.drop_failed_exit = get_bool("engine.kmod.drop_failed_exit", false)?;
    }
    live.kernel_filters = get_bool("engine.modern_ebpf.kernel_filters", true)?;
    live.unimplemented_syscalls = get_bool("engine.modern_ebpf.unimplemented_syscalls", true)?;
    match get_u64("engine.modern_ebpf.buffer_size")? {
        None | Some(0) => {}
        Some(bytes) => live.buffer_size = bytes as usize,
    }
    let snaplen_key = if config.is_set("falco_libs.snaplen") { "falco_libs.snaplen" } else { "snaplen" };
    if let Some(n) = get_u64(snaplen_key)? {
        live.snaplen = u32::try_from(n)
            .ok()
            .filter(|n| *n <= u16::MAX as u32)
            .ok_or_else(|| UsageError(format!("key '{snaplen_key}' must be at most 65535, not {n}")))?;
    }
    let mut limits = Limits::default();
    if let Some(n) = get_u64("falco_libs.thread_table_size")? {
        if n == 0 {
            return Err(UsageError("key 'falco_libs.thread_table_size' must be at least 1".into()));
        }
        limits.max_threads = n as usize;
    }
    Ok(EngineSettings { driver, capture, live, limits })
}

fn available() -> String {
    DRIVERS.iter().filter(|(_, why)| why.is_none()).map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Parses a size such as `8388608`, `8M`, `8MiB`, `512k` (powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: usize = num.parse().map_err(|_| format!("'{s}' is not a size (e.g. 8388608, 8M, 512K)"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use K, M or G)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert!(parse_size("8Q").is_err());
        assert!(parse_size("M").is_err());
    }

    fn err_of(req: &SourceRequest<'_>) -> String {
        match open(req) {
            Ok(_) => panic!("opened"),
            Err(e) => {
                assert!(e.downcast_ref::<UsageError>().is_some(), "not a usage error: {e:#}");
                e.to_string()
            }
        }
    }

    #[test]
    fn drivers_not_available_are_named() {
        let e = err_of(&SourceRequest { driver: Some("bpf-legacy"), ..SourceRequest::default() });
        assert!(e.contains("available: auto, modern-ebpf, userspace, nodriver, ebpf, kmod"), "{e}");
        let e = err_of(&SourceRequest { driver: Some("userspace"), ..SourceRequest::default() });
        assert!(e.contains("traces a command") && e.contains("--pid"), "{e}");
        let cmd = ["true".to_string()];
        let e = err_of(&SourceRequest { command: &cmd, ..SourceRequest::default() });
        assert!(e.contains("needs --driver userspace"), "{e}");
        let e = err_of(&SourceRequest { driver: Some("nope"), ..SourceRequest::default() });
        assert!(e.contains("unknown driver 'nope'") && e.contains("userspace"), "{e}");
        let e = err_of(&SourceRequest {
            live: LiveOptions {
                syscalls: Some(["openat".into(), "frobnicate".into()].into()),
                ..LiveOptions::default()
            },
            ..SourceRequest::default()
        });
        assert!(e.contains("frobnicate") && !e.contains("openat"), "{e}");
    }

    fn settings(overrides: &[&str]) -> Result<EngineSettings, String> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let c = saker_config::Config::load(None, &o).map_err(|e| e.to_string())?;
        engine_settings(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn engine_keys_are_read() {
        let d = settings(&[]).unwrap();
        assert_eq!(d.driver.as_deref(), Some("auto"));
        assert_eq!((d.live.buffer_size, d.live.cpus_for_each_buffer, d.live.snaplen), (8 << 20, 2, 80));
        let s = settings(&[
            "engine.modern_ebpf.buf_size_preset=6",
            "engine.modern_ebpf.cpus_for_each_buffer=0",
            "snaplen=256",
            "falco_libs.thread_table_size=1000",
        ])
        .unwrap();
        assert_eq!((s.live.buffer_size, s.live.cpus_for_each_buffer, s.live.snaplen), (32 << 20, 0, 256));
        assert_eq!(s.limits.max_threads, 1000);
        assert_eq!(settings(&["engine.modern_ebpf.buf_size_preset=1"]).unwrap().live.buffer_size, 1 << 20);
        assert_eq!(settings(&["engine.modern_ebpf.buf_size_preset=10"]).unwrap().live.buffer_size, 512 << 20);
        assert_eq!(settings(&["snaplen=100", "falco_libs.snaplen=2000"]).unwrap().live.snaplen, 2000);
        let e = settings(&["engine.modern_ebpf.buf_size_preset=11"]).unwrap_err();
        assert!(e.contains("engine.modern_ebpf.buf_size_preset") && e.contains("1 to 10"), "{e}");
        let e = settings(&["engine.modern_ebpf.drop_failed_exit=true"]).unwrap_err();
        assert!(e.contains("saker does not support engine.modern_ebpf.drop_failed_exit: true"), "{e}");
        let r = settings(&["engine.kind=replay", "engine.replay.capture_file=x.scap"]).unwrap();
        assert_eq!((r.driver, r.capture), (None, Some("x.scap".into())));
        let e = settings(&["engine.kind=replay"]).unwrap_err();
        assert!(e.contains("engine.replay.capture_file"), "{e}");
        let e = settings(&["engine.kind=bogus"]).unwrap_err();
        assert!(e.contains("engine.kind: 'bogus'") && e.contains("modern_ebpf, kmod, ebpf, replay, nodriver"), "{e}");
        assert_eq!(settings(&["engine.kind=kmod"]).unwrap().driver.as_deref(), Some("kmod"));
        assert!(!settings(&["engine.kind=kmod"]).unwrap().live.drop_failed_exit);
        assert!(settings(&["engine.kind=kmod", "engine.kmod.drop_failed_exit=true"]).unwrap().live.drop_failed_exit);
        // the key of another engine than the one in use changes nothing
        assert!(!settings(&["engine.kmod.drop_failed_exit=true"]).unwrap().live.drop_failed_exit);
        let e = settings(&["engine.ebpf.drop_failed_exit=true"]).unwrap_err();
        assert!(e.contains("saker does not support engine.ebpf.drop_failed_exit: true"), "{e}");
        assert_eq!(settings(&["engine.kind=ebpf"]).unwrap().driver.as_deref(), Some("ebpf"));
        assert_eq!(settings(&["engine.kind=auto"]).unwrap().driver.as_deref(), Some("auto"));
        assert_eq!(settings(&[]).unwrap().driver.as_deref(), Some("auto"));
        assert_eq!(settings(&["engine.kind=modern_ebpf"]).unwrap().driver.as_deref(), Some("modern-ebpf"));
        assert_eq!(driver_name("modern_ebpf"), "modern-ebpf");
    }

    #[test]
    fn base_syscalls_choose_what_the_driver_enables() {
        let types = saker_filter::EventTypeSet::of_name("connect");
        let default = syscalls_with_base(&types, &BaseSyscalls::default()).unwrap().unwrap();
        assert!(default.contains("connect") && default.contains("execve") && default.contains("close"), "{default:?}");
        assert_eq!(syscalls_with_base(&types, &BaseSyscalls { all: true, ..Default::default() }).unwrap(), None);
        let custom = BaseSyscalls { custom_set: vec!["openat".into(), "!close".into()], ..Default::default() };
        let set = syscalls_with_base(&types, &custom).unwrap().unwrap();
        assert_eq!(set, ["connect", "openat"].map(String::from).into_iter().collect());
        let repaired = syscalls_with_base(&types, &BaseSyscalls { repair: true, ..custom }).unwrap().unwrap();
        assert!(repaired.contains("execve") && repaired.contains("openat") && !repaired.contains("close"));
        let bad = BaseSyscalls { custom_set: vec!["frob".into()], ..Default::default() };
        assert!(syscalls_with_base(&types, &bad).unwrap_err().0.contains("base_syscalls.custom_set: frob"));
    }
}
