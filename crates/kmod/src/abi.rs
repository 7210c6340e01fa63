//! The module's interface, `kernel/include/saker_kmod.h`, in Rust. A test
//! compiles the header and checks every value and size here.

/// `SAKER_KMOD_API_MAJOR`.
pub const API_MAJOR: u32 = 1;
/// `SAKER_KMOD_API_MINOR`.
pub const API_MINOR: u32 = 0;
/// `SAKER_KMOD_API_VERSION`.
pub const API_VERSION: u32 = (API_MAJOR << 16) | API_MINOR;
/// `SAKER_MAX_CONSUMERS`.
pub const MAX_CONSUMERS: u32 = 8;
/// `SAKER_RING_INFO_SIZE`: the page before each ring's data.
pub const RING_INFO_SIZE: usize = 4096;
/// `SAKER_RING_MIN`.
pub const RING_MIN: usize = 128 * 1024;
/// `SAKER_RING_MAX`.
pub const RING_MAX: usize = 512 * 1024 * 1024;
/// `SAKER_RING_DEFAULT`.
pub const RING_DEFAULT: usize = 8 * 1024 * 1024;

/// `SAKER_TP_SYS_ENTER`.
pub const TP_SYS_ENTER: u32 = 1;
/// `SAKER_TP_SYS_EXIT`.
pub const TP_SYS_EXIT: u32 = 2;
/// `SAKER_TP_SCHED_PROCESS_EXIT`.
pub const TP_SCHED_PROCESS_EXIT: u32 = 4;

/// `SAKER_SYSCALL_OFF`.
pub const SYSCALL_OFF: u32 = 0;
/// `SAKER_SYSCALL_GENERIC`.
pub const SYSCALL_GENERIC: u32 = 1;
/// `SAKER_SYSCALL_FULL`.
pub const SYSCALL_FULL: u32 = 2;

/// `struct saker_ring_info`: the first page of each ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RingInfo {
    /// Bytes written by the module (free-running).
    pub head: u64,
    /// Bytes read by the consumer (free-running).
    pub tail: u64,
    /// Events the module tried to write.
    pub n_evts: u64,
    /// Events dropped for lack of room, by category.
    pub n_drops_buffer: [u64; 6],
    /// Events larger than 64 KiB.
    pub n_drops_max_event_size: u64,
    /// Other drops.
    pub n_drops_other: u64,
    /// Data bytes of the ring.
    pub ring_bytes: u64,
}

/// `struct saker_syscall_mode`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallMode {
    /// Native syscall number.
    pub nr: u32,
    /// `SYSCALL_*`.
    pub mode: u32,
}

/// `struct saker_kmod_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KmodInfo {
    /// `SAKER_KMOD_API_VERSION` of the module.
    pub api_version: u32,
    /// Possible CPUs: rings 0..n_cpus-1.
    pub n_cpus: u32,
    /// `SAKER_SCHEMA_VERSION` of the module.
    pub schema_version: u64,
    /// Data bytes of each of this consumer's rings.
    pub ring_bytes: u64,
    /// mmap offset step and length of one ring.
    pub span: u64,
    /// Consumers open now.
    pub consumers: u32,
    /// Padding.
    pub pad: u32,
    /// vmalloc'd bytes of every consumer's rings.
    pub ring_memory: u64,
}

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'S' as u32) << 8) | nr
}
const NONE: u32 = 0;
const WRITE: u32 = 1;
const READ: u32 = 2;

/// `SAKER_IOCTL_GET_INFO`.
pub const IOCTL_GET_INFO: u32 = ioc(READ, 0, size_of::<KmodInfo>());
/// `SAKER_IOCTL_SET_RING_BYTES`.
pub const IOCTL_SET_RING_BYTES: u32 = ioc(WRITE, 1, 8);
/// `SAKER_IOCTL_SET_SYSCALL`.
pub const IOCTL_SET_SYSCALL: u32 = ioc(WRITE, 2, size_of::<SyscallMode>());
/// `SAKER_IOCTL_SET_TRACEPOINTS`.
pub const IOCTL_SET_TRACEPOINTS: u32 = ioc(WRITE, 3, 4);
/// `SAKER_IOCTL_SET_SNAPLEN`.
pub const IOCTL_SET_SNAPLEN: u32 = ioc(WRITE, 4, 4);
/// `SAKER_IOCTL_SET_DROP_FAILED`.
pub const IOCTL_SET_DROP_FAILED: u32 = ioc(WRITE, 5, 4);
/// `SAKER_IOCTL_START`.
pub const IOCTL_START: u32 = ioc(NONE, 6, 0);
/// `SAKER_IOCTL_STOP`.
pub const IOCTL_STOP: u32 = ioc(NONE, 7, 0);
/// `SAKER_IOCTL_GET_COUNTERS`.
pub const IOCTL_GET_COUNTERS: u32 = ioc(READ | WRITE, 8, size_of::<RingInfo>());

/// The event schema this saker speaks: the FNV-1a 64 hash of
/// `kernel/include/saker_events.h`, as `SAKER_SCHEMA_VERSION` in
/// `kernel/kmod/version.h`.
pub const SCHEMA_VERSION: u64 = fnv1a64(crate::sources::EVENTS_H.as_bytes());

/// FNV-1a, 64 bits.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}
