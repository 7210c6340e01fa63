//! Errors of one lookup.

use std::fmt;

/// Why a runtime could not be asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LookupError {
    /// The socket is absent, refuses connections, or the exchange failed.
    Io(std::io::Error),
    /// The runtime answered with an HTTP error status.
    Status(u16),
    /// The answer was not what the runtime's API returns.
    Malformed(String),
    /// A helper program (`ctr`) failed.
    Program(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Io(e) => write!(f, "{e}"),
            LookupError::Status(s) => write!(f, "HTTP status {s}"),
            LookupError::Malformed(m) => write!(f, "unexpected answer: {m}"),
            LookupError::Program(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for LookupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LookupError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for LookupError {
    fn from(e: std::io::Error) -> LookupError {
        LookupError::Io(e)
    }
}
