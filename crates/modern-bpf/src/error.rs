//! The driver's errors.

use std::fmt;

/// An error opening or running the modern probe.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The running kernel is older than the probe needs (5.8: ring buffers, tp_btf).
    KernelTooOld {
        /// The kernel's version, `x.y.z`.
        actual: String,
    },
    /// The kernel exposes no BTF (`/sys/kernel/btf/vmlinux`), so CO-RE cannot
    /// relocate the programs.
    NoBtf,
    /// The kernel has no BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`).
    NoRingBuffer,
    /// The kernel cannot run BPF tracing programs (`tp_btf`).
    NoTracing,
    /// The process lacks a capability the probe needs.
    MissingPrivilege {
        /// The capability, e.g. `CAP_BPF`.
        capability: &'static str,
    },
    /// The verifier rejected a program.
    Verifier {
        /// The program's name.
        program: String,
        /// The end of the verifier's log.
        log_tail: String,
    },
    /// The configuration is invalid.
    Config(String),
    /// A syscall name that x86_64 does not have.
    UnknownSyscall(String),
    /// libbpf failed to open, load or attach the probe.
    Bpf(String),
    /// A system call of the loader failed.
    Io(String),
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    pub(crate) fn bpf(context: &str, e: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Bpf(format!("{context}: {e}")))
    }

    pub(crate) fn io(context: &str, e: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Io(format!("{context}: {e}")))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::KernelTooOld { actual } => {
                write!(f, "Actual kernel version is: '{actual}' while the minimum required is: '5.8.0'")
            }
            ErrorKind::NoBtf => write!(
                f,
                "failed to find valid kernel BTF: /sys/kernel/btf/vmlinux is missing \
                 (the modern probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y)"
            ),
            ErrorKind::NoRingBuffer => write!(
                f,
                "the kernel does not support BPF ring buffers (BPF_MAP_TYPE_RINGBUF, Linux 5.8+): \
                 the modern probe cannot run here"
            ),
            ErrorKind::NoTracing => write!(
                f,
                "the kernel does not support BPF tracing programs (BPF_PROG_TYPE_TRACING, tp_btf): \
                 the modern probe cannot run here"
            ),
            ErrorKind::MissingPrivilege { capability } => write!(
                f,
                "missing privileges: {capability} is not in the effective capability set \
                 (run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)"
            ),
            ErrorKind::Verifier { program, log_tail } => {
                write!(f, "the BPF verifier rejected program '{program}':\n{log_tail}")
            }
            ErrorKind::Config(msg) => write!(f, "invalid configuration: {msg}"),
            ErrorKind::UnknownSyscall(name) => write!(f, "unknown syscall '{name}' (not an x86_64 syscall)"),
            ErrorKind::Bpf(msg) => write!(f, "{msg}"),
            ErrorKind::Io(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<Error> for saker_driver::SourceError {
    fn from(e: Error) -> Self {
        saker_driver::SourceError::new(e)
    }
}
