//! Least privilege while running: once the driver is attached and the
//! outputs are open, `saker detect` keeps only the capabilities the rest of
//! the run needs, and makes sure the programs it starts (program_output)
//! get none.
//!
//! What each source needs after it is open:
//!
//! | source | kept | why |
//! | --- | --- | --- |
//! | capture file (`-e`) | none | the file is open; nothing else is privileged |
//! | `modern-ebpf` | `CAP_SYS_PTRACE`, `CAP_BPF` | a thread first seen mid-run is read from `/proc/PID` (its `exe`, `cwd` and fds need ptrace read access to other users' processes); the event and drop counters are BPF map lookups, which the kernel refuses without `CAP_BPF` when unprivileged BPF is disabled (measured on 6.18 with `kernel.unprivileged_bpf_disabled=2`: the counters read 0) |
//! | `userspace` | `CAP_SYS_PTRACE` | the tracer keeps attaching to the traced tree's new processes |
//!
//! Everything else goes from the effective, permitted, inheritable, ambient
//! and bounding sets. With `CAP_SETPCAP` (root), the `SECBIT_NOROOT` secure
//! bit is also set and locked: a program saker runs as uid 0 then gets no
//! capability from being root, so an output's program runs with the rights
//! of uid 0 on files, never with saker's capabilities.

use std::io;

/// Capability numbers (linux/capability.h).
pub const CAP_SETPCAP: u32 = 8;
/// `CAP_SYS_PTRACE`.
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_BPF`.
pub const CAP_BPF: u32 = 39;

const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;

/// The capabilities a source needs once it is open (see the module's table).
pub fn needed_after_start(driver: Option<&str>, replay: bool) -> u64 {
    if replay {
        return 0;
    }
    match driver.unwrap_or(crate::source::DEFAULT_DRIVER) {
        "userspace" => bit(CAP_SYS_PTRACE),
        _ => bit(CAP_SYS_PTRACE) | bit(CAP_BPF),
    }
}

fn bit(cap: u32) -> u64 {
    1 << cap
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// This thread's (effective, permitted) sets.
fn current() -> io::Result<(u64, u64)> {
    let mut h = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut d = [CapData::default(); 2];
    // SAFETY: capget with a version-3 header and room for its two data words.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut CapHeader, d.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| (hi as u64) << 32 | lo as u64;
    Ok((join(d[0].effective, d[1].effective), join(d[0].permitted, d[1].permitted)))
}

/// Keeps only `keep` (of what the process has) in every capability set of
/// the process, bounding set included, and stops uid 0 from regaining
/// capabilities through exec. Returns the capabilities left.
///
/// Must run before other threads are started that should lose capabilities
/// too: capabilities are per thread, and threads started later inherit the
/// reduced sets. (Threads already running keep theirs; the callers run this
/// before starting the pipeline's workers.)
pub fn drop_all_but(keep: u64) -> io::Result<u64> {
    let (_, permitted) = current()?;
    let keep = keep & permitted;
    let last_cap: u32 =
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40);
    if permitted & bit(CAP_SETPCAP) != 0 {
        // SAFETY: prctl with integer arguments only.
        unsafe {
            // No capabilities for uid 0 across exec: outputs' programs get none.
            if libc::prctl(libc::PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            for cap in 0..=last_cap.min(63) {
                if keep & bit(cap) == 0
                    && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0
                    && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    // SAFETY: prctl with integer arguments only; fails harmlessly on kernels without ambient sets.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    let h = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let lo = keep as u32;
    let hi = (keep >> 32) as u32;
    let d = [
        CapData { effective: lo, permitted: lo, inheritable: 0 },
        CapData { effective: hi, permitted: hi, inheritable: 0 },
    ];
    // SAFETY: capset of this thread with a version-3 header and two data words.
    if unsafe { libc::syscall(libc::SYS_capset, &h as *const CapHeader, d.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(current()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_keep_nothing_live_drivers_keep_ptrace() {
        assert_eq!(needed_after_start(None, true), 0);
        assert_eq!(needed_after_start(Some("userspace"), false), bit(CAP_SYS_PTRACE));
        assert_eq!(needed_after_start(Some("modern-ebpf"), false), bit(CAP_SYS_PTRACE) | bit(CAP_BPF));
        assert_eq!(needed_after_start(None, false), bit(CAP_SYS_PTRACE) | bit(CAP_BPF));
    }
}
