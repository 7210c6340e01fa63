//! saker's own log (start-up, reloads, warnings, errors): Falco's
//! `log_level`, `log_stderr` and `log_syslog`. These are lifecycle lines,
//! not alerts (alerts go to the outputs).
//!
//! The destination is global so any module logs with [`info`], [`warn`]...
//! and a reload can change it ([`configure`]). Logging is never on a
//! per-event path: a line takes a read lock and, for syslog, one datagram.

use std::fmt::Display;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::RwLock;

/// syslog's severities: `log_level` takes Falco's priority names, as rules'
/// priorities do (`info` for informational).
pub use saker_outputs::Priority as Level;

/// Where the lines go.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Lines less severe than this are not written.
    pub level: Level,
    /// `log_stderr`.
    pub stderr: bool,
    /// `log_syslog`: to this socket (`syslog_output.socket`, `/dev/log` by default).
    pub syslog: Option<PathBuf>,
}

struct Logger {
    config: LogConfig,
    socket: Option<UnixDatagram>,
}

static LOGGER: RwLock<Option<Logger>> = RwLock::new(None);

/// Before [`configure`]: info and up, to stderr only.
fn default_config() -> LogConfig {
    LogConfig { level: Level::Informational, stderr: true, syslog: None }
}

/// Reads `log_level`, `log_stderr`, `log_syslog` (and the syslog socket).
pub fn config_from(config: &saker_config::Config) -> Result<LogConfig, crate::cli::UsageError> {
    let bad = |e: saker_config::ConfigError| crate::cli::UsageError(e.to_string());
    let level = config.get::<String>("log_level").map_err(bad)?.unwrap_or_else(|| "info".into());
    let level = level
        .parse::<Level>()
        .map_err(|_| crate::cli::UsageError(format!("log_level: '{level}' is not a syslog level")))?;
    let stderr = config.get::<bool>("log_stderr").map_err(bad)?.unwrap_or(true);
    let syslog = if config.get::<bool>("log_syslog").map_err(bad)?.unwrap_or(false) {
        let socket = config.get::<String>("syslog_output.socket").map_err(bad)?.unwrap_or_else(|| "/dev/log".into());
        Some(PathBuf::from(socket))
    } else {
        None
    };
    Ok(LogConfig { level, stderr, syslog })
}

/// Sets where lines go from now on.
pub fn configure(config: LogConfig) {
    // A datagram socket, connected once; if the daemon is not there yet,
    // each line tries again (as glibc's syslog does).
    let socket = config.syslog.as_ref().and_then(connect);
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = Some(Logger { config, socket });
}

fn connect(path: &PathBuf) -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect(path).ok()?;
    let _ = s.set_nonblocking(true);
    Some(s)
}

/// Writes one line at `level`.
pub fn log(level: Level, msg: impl Display) {
    let guard = LOGGER.read().unwrap_or_else(|p| p.into_inner());
    let default = default_config();
    let (config, socket) = match guard.as_ref() {
        Some(l) => (&l.config, l.socket.as_ref()),
        None => (&default, None),
    };
    if level > config.level {
        return;
    }
    if config.stderr {
        // The words existing scripts grep for: "saker: warning: ...".
        match level {
            Level::Warning => eprintln!("saker: warning: {msg}"),
            l if l <= Level::Error => eprintln!("saker: error: {msg}"),
            _ => eprintln!("saker: {msg}"),
        }
    }
    if let Some(path) = &config.syslog {
        // LOG_USER (1 << 3) with the line's severity, as syslog(3) without
        // openlog; the daemon stamps the time.
        let line = format!("<{}>saker[{}]: {msg}", 8 + level as u8, std::process::id());
        let sent = socket.is_some_and(|s| s.send(line.as_bytes()).is_ok());
        if !sent && let Some(s) = connect(path) {
            let _ = s.send(line.as_bytes());
        }
    }
}

pub fn error(msg: impl Display) {
    log(Level::Error, msg)
}

pub fn warn(msg: impl Display) {
    log(Level::Warning, msg)
}

pub fn info(msg: impl Display) {
    log(Level::Informational, msg)
}

pub fn debug(msg: impl Display) {
    log(Level::Debug, msg)
}
