//! The x86_64 syscall table shared with the modern probe.

use saker_abi::EventType;

/// Native syscall numbers are below this.
pub const SYSCALL_TABLE_SIZE: usize = 512;

/// One x86_64 system call as both drivers know it.
#[derive(Debug)]
pub struct SyscallInfo {
    /// Native syscall number.
    pub nr: u32,
    /// Its name (`openat`).
    pub name: &'static str,
    /// libs' ppm_sc code, the `ID` of generic events.
    pub ppm_sc: u16,
    /// The exit event carrying the syscall's parameters (`GENERIC_X` if the
    /// event table has none).
    pub exit_event: EventType,
    /// The enter event, for the few syscalls whose argument is read on entry.
    pub enter_event: Option<EventType>,
}

include!(concat!(env!("OUT_DIR"), "/syscalls.rs"));

/// The syscall called `name`.
pub fn syscall_by_name(name: &str) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// Every syscall both drivers know, by native number.
pub fn syscalls() -> &'static [SyscallInfo] {
    SYSCALLS
}
