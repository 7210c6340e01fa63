//! Typed errors: what went wrong, at which byte, in which file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saker_abi::EventError;

/// An error reading or writing a capture.
///
/// Its [`Display`](fmt::Display) names the file (when there is one), the byte
/// offset and the cause, e.g. `trace.scap: byte 4096: truncated: the block
/// needs 120 bytes, only 37 remain`. For gzip files the offset counts bytes of
/// the decompressed stream, and the message says so.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    offset: u64,
    path: Option<Arc<Path>>,
    decompressed: bool,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O error from the operating system.
    Io(io::Error),
    /// The file has no bytes at all.
    Empty,
    /// The file does not start with a section header block, or its magic is not
    /// the scap magic: it is not a capture file.
    NotCapture {
        /// What was found instead.
        reason: String,
    },
    /// The file was written on a host of the other byte order (byte-swapped
    /// magic); neither libs nor saker read those.
    UnsupportedByteOrder,
    /// The section header's major version is newer than this reader knows.
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The data ends in the middle of a block.
    Truncated {
        /// Bytes the block (or block header) needs.
        needed: u64,
        /// Bytes that remain.
        available: u64,
    },
    /// The gzip stream ends before its end marker: the compressed file was cut.
    TruncatedGzip,
    /// A block's length is impossible: smaller than the block's minimum, or
    /// larger than allowed for its type.
    BadBlockLength {
        /// The block type.
        block_type: u32,
        /// The length its header declares.
        length: u32,
        /// Why it is impossible.
        reason: &'static str,
    },
    /// A block's trailing length differs from its leading one.
    TrailerMismatch {
        /// The block type.
        block_type: u32,
        /// Length in the block header.
        header: u32,
        /// Length in the block trailer.
        trailer: u32,
    },
    /// The gzip stream is corrupt.
    Gzip(io::Error),
    /// An event block holds bytes that are not a valid event.
    MalformedEvent(EventError),
    /// A metadata block (process list, fd list, ...) or an old-format event
    /// cannot be decoded.
    MalformedBlock {
        /// The block type.
        block_type: u32,
        /// What is wrong.
        reason: String,
    },
    /// The writer was given something it cannot write (for example an event
    /// too large for a non-large event block).
    InvalidInput {
        /// What is wrong.
        reason: String,
    },
    /// Writing a capture file failed (a full disk...). The error's offset is
    /// the file's size when it failed: what reached the disk, not how far
    /// the buffered writer had got.
    WriteFailed {
        /// The system's error.
        error: io::Error,
        /// The file's size on disk when it failed, if it is a regular file.
        file_size: Option<u64>,
        /// Bytes the writer had been given when it failed (uncompressed).
        buffered_to: u64,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: u64) -> Error {
        Error(Box::new(Inner { kind, offset, path: None, decompressed: false }))
    }

    pub(crate) fn with_context(mut self, path: Option<&Arc<Path>>, decompressed: bool) -> Error {
        if self.0.path.is_none() {
            self.0.path = path.cloned();
        }
        self.0.decompressed = decompressed;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The byte offset at which it went wrong: the start of the damaged block
    /// (or of the damaged entry inside a metadata block), or for the writer
    /// the number of bytes written so far. For gzip files, an offset in the
    /// decompressed stream.
    pub fn offset(&self) -> u64 {
        self.0.offset
    }

    /// The file, when the reader or writer was opened on a path.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// Whether the data ends early ([`ErrorKind::Truncated`] or
    /// [`ErrorKind::TruncatedGzip`]).
    pub fn is_truncated(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Truncated { .. } | ErrorKind::TruncatedGzip)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "I/O error: {e}"),
            ErrorKind::Empty => f.write_str("empty file: no section header block"),
            ErrorKind::NotCapture { reason } => write!(f, "not a capture file: {reason}"),
            ErrorKind::UnsupportedByteOrder => {
                f.write_str("unsupported byte order: the capture was written on a host of the other endianness")
            }
            ErrorKind::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported capture format version {major}.{minor} (this reader knows major version 1)")
            }
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated file: the block needs {needed} bytes, only {available} remain")
            }
            ErrorKind::TruncatedGzip => {
                f.write_str("truncated file: the gzip stream ends early, in the middle of this block")
            }
            ErrorKind::BadBlockLength { block_type, length, reason } => {
                write!(f, "corrupted block length {length} for block type {block_type:#x}: {reason}")
            }
            ErrorKind::TrailerMismatch { block_type, header, trailer } => write!(
                f,
                "corrupted block of type {block_type:#x}: length {header} in its header, {trailer} in its trailer"
            ),
            ErrorKind::Gzip(e) => write!(f, "bad gzip stream: {e}"),
            ErrorKind::MalformedEvent(e) => write!(f, "malformed event: {e}"),
            ErrorKind::MalformedBlock { block_type, reason } => {
                write!(f, "malformed block of type {block_type:#x}: {reason}")
            }
            ErrorKind::InvalidInput { reason } => write!(f, "invalid input: {reason}"),
            ErrorKind::WriteFailed { error, file_size: Some(size), buffered_to } => write!(
                f,
                "cannot write the capture: {error}: the file has {size} bytes ({buffered_to} were given to the writer)"
            ),
            ErrorKind::WriteFailed { error, file_size: None, .. } => write!(f, "cannot write the capture: {error}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        if let Some(p) = &e.path {
            write!(f, "{}: ", p.display())?;
        }
        if e.decompressed {
            write!(f, "byte offset {} (of the decompressed stream): {}", e.offset, e.kind)
        } else {
            write!(f, "byte offset {}: {}", e.offset, e.kind)
        }
    }
}

/// The message already contains the underlying I/O, gzip or event error, so
/// `source()` is not given: chained printing would repeat it.
impl std::error::Error for Error {}

pub(crate) fn path_arc(p: &Path) -> Arc<Path> {
    Arc::from(PathBuf::from(p).into_boxed_path())
}
