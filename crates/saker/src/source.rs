//! Opening the event source a command asks for: a capture file to replay or
//! a live driver, with the state it starts from. `saker trace` and `saker
//! detect` share it.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use saker_driver::{CaptureSource, EventSource};
use saker_scap::CaptureHeader;
use saker_state::{Limits, State};

use crate::cli::UsageError;

/// The driver used when none is named.
pub const DEFAULT_DRIVER: &str = "modern-ebpf";

/// The drivers saker knows, and what it says about those this build lacks.
const DRIVERS: &[(&str, Option<&str>)] = &[
    ("modern-ebpf", None),
    ("userspace", Some("the userspace (ptrace) driver is not wired into saker yet")),
    ("ebpf", Some("the legacy eBPF probe is not implemented (use modern-ebpf)")),
    ("kmod", Some("the kernel module driver is not implemented (use modern-ebpf)")),
];

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
}

impl Default for LiveOptions {
    fn default() -> Self {
        let d = saker_modern_bpf::Config::default();
        LiveOptions {
            cpus_for_each_buffer: d.cpus_for_each_buffer,
            buffer_size: d.buffer_size,
            snaplen: d.snaplen,
            syscalls: None,
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
pub fn open(req: &SourceRequest<'_>) -> Result<(Box<dyn EventSource>, State, Option<CaptureHeader>)> {
    if let Some(path) = req.capture {
        let source = CaptureSource::open(path)?;
        let state = State::from_capture(source.header(), &req.limits);
        let header = source.header().clone();
        return Ok((Box::new(source), state, Some(header)));
    }
    let driver = req.driver.unwrap_or(DEFAULT_DRIVER);
    match DRIVERS.iter().find(|(name, _)| *name == driver) {
        Some((_, None)) => {}
        Some((name, Some(why))) => {
            return Err(
                UsageError(format!("driver '{name}' is not available: {why}; available: {}", available())).into()
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
    }
    if let Some(names) = &req.live.syscalls {
        let unknown: Vec<&str> =
            names.iter().map(String::as_str).filter(|n| saker_modern_bpf::syscall_by_name(n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(UsageError(format!("unknown syscall name(s) in --syscalls: {}", unknown.join(", "))).into());
        }
    }
    let config = saker_modern_bpf::Config {
        cpus_for_each_buffer: req.live.cpus_for_each_buffer,
        buffer_size: req.live.buffer_size,
        snaplen: req.live.snaplen,
        syscalls: req.live.syscalls.clone(),
        ..saker_modern_bpf::Config::default()
    };
    let probe = saker_modern_bpf::ModernBpf::open(config).map_err(|e| match e.kind() {
        saker_modern_bpf::ErrorKind::Config(_) => anyhow::Error::new(UsageError(e.to_string())),
        _ => anyhow::Error::new(e).context(format!("cannot open the {driver} driver")),
    })?;
    let state = State::from_proc(&req.limits).context("cannot read the initial state from /proc")?;
    let header = state.to_capture_header();
    Ok((Box::new(probe), state, Some(header)))
}

/// The syscalls the state needs to follow processes, files and sockets,
/// whatever the rules ask for (Falco's `base_syscalls`).
const STATE_SYSCALLS: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "epoll_create",
    "epoll_create1",
    "memfd_create",
    "userfaultfd",
    "io_uring_setup",
    "bpf",
    "pidfd_open",
    "pidfd_getfd",
    "chdir",
    "fchdir",
    "chroot",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setsid",
    "setpgid",
    "capset",
    "prctl",
    "unshare",
    "setns",
    "prlimit64",
    "setrlimit",
];

/// The syscalls a driver must deliver for events of `types`, plus those the
/// state needs; `None` (everything) when the types include generic
/// syscall events, which any syscall can produce.
pub fn syscalls_for(types: &saker_filter::EventTypeSet) -> Option<BTreeSet<String>> {
    let names = types.names();
    if names.contains(&"syscall") {
        return None;
    }
    let mut set: BTreeSet<String> = STATE_SYSCALLS.iter().map(|s| s.to_string()).collect();
    set.extend(names.into_iter().map(str::to_string));
    set.retain(|n| saker_modern_bpf::syscall_by_name(n).is_some());
    Some(set)
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
        let e = err_of(&SourceRequest { driver: Some("userspace"), ..SourceRequest::default() });
        assert!(e.contains("'userspace' is not available") && e.contains("available: modern-ebpf"), "{e}");
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
}
