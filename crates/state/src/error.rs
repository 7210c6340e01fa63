//! Errors.

use std::fmt;
use std::path::PathBuf;

/// Why the initial state could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// A file or directory that must be readable was not (`/proc` itself).
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateError::Io { source, .. } => Some(source),
        }
    }
}
