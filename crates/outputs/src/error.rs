//! Typed errors: [`Error`] when outputs are built, [`DeliveryError`] when
//! one alert could not be delivered.

use std::fmt;
use std::io;

/// Why the outputs could not be built from a configuration.
#[derive(Debug)]
pub enum Error {
    /// An enabled output lacks a key it needs (`file_output.filename`,
    /// `program_output.program`, `http_output.url`, `nats_output.subject`).
    MissingKey {
        /// The key, e.g. `file_output.filename`.
        key: &'static str,
    },
    /// A key has a value that cannot work.
    InvalidValue {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A certificate or key file could not be read or parsed.
    Tls {
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The thread of an output could not be started.
    Thread {
        /// The output.
        output: &'static str,
        /// The system's error.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingKey { key } => write!(f, "{key} is required when the output is enabled"),
            Error::InvalidValue { key, message } => write!(f, "{key}: {message}"),
            Error::Tls { key, path, message } => write!(f, "{key} ({path}): {message}"),
            Error::Thread { output, source } => write!(f, "cannot start the {output} output's thread: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Thread { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why one alert (or a batch of them) did not reach an output's
/// destination. Each counts in that output's `errors`.
#[derive(Debug)]
pub enum DeliveryError {
    /// Writing, opening or connecting failed.
    Io(io::Error),
    /// The program could not be started.
    Spawn {
        /// The command.
        program: String,
        /// The system's error.
        source: io::Error,
    },
    /// The HTTP request failed before an answer (connection refused, TLS...).
    Http(String),
    /// The HTTP request timed out on every try.
    Timeout {
        /// How many requests were sent.
        tries: u32,
    },
    /// The HTTP server answered with a status other than 2xx.
    Status(u16),
    /// NATS: connecting, creating the stream, publishing or the
    /// acknowledgement failed.
    Nats(String),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Io(e) => write!(f, "{e}"),
            DeliveryError::Spawn { program, source } => write!(f, "cannot start `{program}`: {source}"),
            DeliveryError::Http(m) => write!(f, "{m}"),
            DeliveryError::Timeout { tries } => write!(f, "timed out ({tries} tries)"),
            DeliveryError::Status(s) => write!(f, "HTTP status {s}"),
            DeliveryError::Nats(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeliveryError::Io(e) | DeliveryError::Spawn { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for DeliveryError {
    fn from(e: io::Error) -> Self {
        DeliveryError::Io(e)
    }
}
