/*!
saker's kernel module driver (`--driver kmod`).

The module (`kernel/kmod/`, built per kernel by `saker driver build --kind
kmod`) fills the same events as the modern eBPF probe, from the same filler
sources (`kernel/fillers/`), into per-CPU rings in kernel memory. This crate
opens `/dev/saker` (one open = one consumer with its own rings and syscall
table), checks the module's API and schema versions, maps every possible
CPU's ring and reads them without a system call per event, merging them by
timestamp. It also embeds the module's sources ([`sources::SOURCES`]).

```no_run
use saker_driver::{EventSource, Next};
let mut kmod = saker_kmod::Kmod::open(saker_kmod::Config::default())?;
while let Next::Event(e) = kmod.next_event()? {
    println!("{:?}", e.event.event_type());
}
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

pub mod abi;
mod ring;
pub mod sources;

use std::collections::BTreeSet;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use saker_abi::Event;
use saker_driver::{
    DropsByCategory, EventRing, EventSource, Head, Next, RingMerge, SourceError, SourceEvent, SourceStats, StopHandle,
};
use saker_modern_bpf::{SYSCALLS, syscall_by_name};

use abi::{KmodInfo, SyscallMode};
use ring::Ring;

/// The device every consumer opens.
pub const DEVICE: &str = "/dev/saker";
/// The module's name (`/sys/module/saker`).
pub const MODULE_NAME: &str = "saker";
/// How to rebuild and reload the module, for messages.
pub const REBUILD: &str = "saker driver unload && saker driver build --kind kmod && saker driver load";

/// An error opening or reading the module.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub(crate) fn io(context: &str, e: impl fmt::Display) -> Error {
        Error(format!("{context}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// How to open the driver.
#[derive(Clone, Debug)]
pub struct Config {
    /// The device (default [`DEVICE`]).
    pub device: PathBuf,
    /// Data bytes of each per-CPU ring: a power of two, 128 KiB..512 MiB
    /// (default 8 MiB).
    pub ring_bytes: usize,
    /// Bytes of data captured from read/write-like calls (default 80).
    pub snaplen: u32,
    /// Syscall names to capture; `None` captures every syscall.
    pub syscalls: Option<BTreeSet<String>>,
    /// Emit `procexit` events (default true).
    pub procexit: bool,
    /// Failed syscalls send no exit event (default false).
    pub drop_failed: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            device: PathBuf::from(DEVICE),
            ring_bytes: abi::RING_DEFAULT,
            snaplen: 80,
            syscalls: None,
            procexit: true,
            drop_failed: false,
        }
    }
}

/// The versions a module reports, against those this saker needs.
pub fn check_versions(info: &KmodInfo) -> Result<(), Error> {
    let major = info.api_version >> 16;
    let minor = info.api_version & 0xffff;
    // a module of the same major and at least our minor speaks our API
    let older_minor = (minor as u64) < abi::API_MINOR as u64;
    if major != abi::API_MAJOR || older_minor || info.schema_version != abi::SCHEMA_VERSION {
        return Err(Error(format!(
            "the loaded saker kernel module has API version {major}.{minor} and event schema {:016x}, \
             but this saker needs API {}.{} and schema {:016x}: rebuild and reload the module \
             with `{REBUILD}`",
            info.schema_version,
            abi::API_MAJOR,
            abi::API_MINOR,
            abi::SCHEMA_VERSION
        )));
    }
    Ok(())
}

const BACKOFF_MIN: Duration = Duration::from_micros(500);
const BACKOFF_MAX: Duration = Duration::from_millis(32);

/// The kernel module driver: one consumer of `/dev/saker`.
pub struct Kmod {
    rings: Vec<Ring>,
    fd: OwnedFd,
    merge: RingMerge<usize>,
    stop: StopHandle,
    stopped: bool,
    backoff: Duration,
    info: KmodInfo,
    procexit: bool,
}

fn ioctl<T>(fd: &OwnedFd, req: u32, arg: *mut T, what: &str) -> Result<(), Error> {
    // SAFETY: `arg` points to a value of the size the request encodes.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) };
    if rc < 0 { Err(Error::io(what, std::io::Error::last_os_error())) } else { Ok(()) }
}

/// Opens the device and reads the module's versions and sizes.
fn open_device(device: &Path) -> Result<(OwnedFd, KmodInfo), Error> {
    let path = std::ffi::CString::new(device.as_os_str().as_encoded_bytes())
        .map_err(|_| Error(format!("bad device path {}", device.display())))?;
    // SAFETY: a NUL-terminated path.
    let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if raw < 0 {
        let e = std::io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::ENOENT) => " (is the module loaded? `saker driver status`; build and load it with \
                 `saker driver build --kind kmod && saker driver load`)"
                .to_string(),
            Some(libc::EBUSY) => format!(" ({} consumers already have it open)", abi::MAX_CONSUMERS),
            Some(libc::EACCES) | Some(libc::EPERM) => " (run as root)".to_string(),
            _ => String::new(),
        };
        return Err(Error(format!("cannot open {}: {e}{hint}", device.display())));
    }
    // SAFETY: a descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut info = KmodInfo::default();
    ioctl(&fd, abi::IOCTL_GET_INFO, &mut info, "reading the module's versions")?;
    check_versions(&info)?;
    Ok((fd, info))
}

/// The versions of the module, read from `/dev/saker` (one short-lived consumer).
pub fn module_info(device: &Path) -> Result<KmodInfo, Error> {
    open_device(device).map(|(_, info)| info)
}

impl Kmod {
    /// Opens a consumer: sets it up, maps its rings and starts capturing.
    pub fn open(config: Config) -> Result<Kmod, Error> {
        let wanted = resolve_syscalls(config.syscalls.as_ref())?;
        let r = config.ring_bytes;
        if !r.is_power_of_two() || !(abi::RING_MIN..=abi::RING_MAX).contains(&r) {
            return Err(Error(format!(
                "invalid configuration: ring size {r} is not a power of two between {} and {}",
                abi::RING_MIN,
                abi::RING_MAX
            )));
        }
        if config.snaplen > saker_modern_bpf::MAX_SNAPLEN {
            return Err(Error(format!("invalid configuration: snaplen {} is too large", config.snaplen)));
        }
        let (fd, _) = open_device(&config.device)?;
        let mut bytes = r as u64;
        ioctl(&fd, abi::IOCTL_SET_RING_BYTES, &mut bytes, "setting the ring size")?;
        let mut snaplen = config.snaplen;
        ioctl(&fd, abi::IOCTL_SET_SNAPLEN, &mut snaplen, "setting the snaplen")?;
        let mut drop_failed = config.drop_failed as u32;
        ioctl(&fd, abi::IOCTL_SET_DROP_FAILED, &mut drop_failed, "setting drop-failed")?;
        // The module's table starts with every syscall off.
        set_syscall_modes(&fd, wanted.into_iter(), config.procexit)?;
        let mut info = KmodInfo::default();
        ioctl(&fd, abi::IOCTL_GET_INFO, &mut info, "reading the ring layout")?;
        let mut rings = Vec::with_capacity(info.n_cpus as usize);
        for cpu in 0..info.n_cpus {
            rings.push(Ring::map(fd.as_fd(), cpu, info.span, info.ring_bytes)?);
        }
        ioctl(&fd, abi::IOCTL_START, std::ptr::null_mut::<u8>(), "starting the capture")?;
        let n = rings.len();
        Ok(Kmod {
            rings,
            fd,
            merge: RingMerge::new(n),
            stop: StopHandle::new(),
            stopped: false,
            backoff: BACKOFF_MIN,
            info,
            procexit: config.procexit,
        })
    }

    /// The module's versions and this consumer's ring layout.
    pub fn info(&self) -> &KmodInfo {
        &self.info
    }

    /// Unread bytes in every ring.
    pub fn pending_bytes(&mut self) -> u64 {
        self.rings.iter_mut().map(Ring::pending).sum()
    }

    /// Stops the capture in the kernel (what is buffered can still be read).
    pub fn stop_capture(&mut self) {
        if !self.stopped {
            let _ = ioctl(&self.fd, abi::IOCTL_STOP, std::ptr::null_mut::<u8>(), "stopping");
            self.stopped = true;
        }
    }

    /// Counters summed over the CPUs.
    pub fn stats(&self) -> SourceStats {
        let mut s = SourceStats::default();
        for r in &self.rings {
            let i = r.info();
            s.events += i.n_evts;
            let d = &i.n_drops_buffer;
            s.drops_buffer.process += d[0];
            s.drops_buffer.exec += d[1];
            s.drops_buffer.open += d[2];
            s.drops_buffer.connect += d[3];
            s.drops_buffer.close += d[4];
            s.drops_buffer.other += d[5];
            s.drops_too_large += i.n_drops_max_event_size;
            s.drops_other += i.n_drops_other;
        }
        let _: DropsByCategory = s.drops_buffer;
        s
    }

    /// The ring with the oldest head event, waiting with a growing backoff
    /// (0.5 ms to 32 ms; the module wakes no one: no system call per event).
    fn next_raw(&mut self) -> Result<Option<(usize, Head<usize>)>, SourceError> {
        if !self.stopped && self.stop.is_stopped() {
            self.stop_capture();
        }
        loop {
            if let Some(next) = self.merge.next(&mut self.rings) {
                self.backoff = BACKOFF_MIN;
                return Ok(Some(next));
            }
            if self.stop.is_stopped() {
                if !self.stopped {
                    self.stop_capture();
                    continue;
                }
                return Err(SourceError::new(Stopped));
            }
            std::thread::sleep(self.backoff);
            if self.backoff >= BACKOFF_MAX {
                self.backoff = BACKOFF_MIN;
                return Ok(None);
            }
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
    }
}

#[derive(Debug)]
struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped")
    }
}

impl std::error::Error for Stopped {}

/// The syscalls of these names (`None`: every one), or which name is unknown.
fn resolve_syscalls(names: Option<&BTreeSet<String>>) -> Result<Vec<&'static saker_modern_bpf::SyscallInfo>, Error> {
    match names {
        None => Ok(SYSCALLS.iter().collect()),
        Some(names) => {
            names.iter().map(|n| syscall_by_name(n).ok_or_else(|| Error(format!("unknown syscall '{n}'")))).collect()
        }
    }
}

/// Captures the syscalls `on` (full events where the module has their
/// fillers, generic ones otherwise) and chooses the tracepoints they need;
/// leaves the others as they are.
fn set_syscall_modes<'a>(
    fd: &OwnedFd,
    on: impl Iterator<Item = &'a saker_modern_bpf::SyscallInfo>,
    procexit: bool,
) -> Result<(), Error> {
    let full: BTreeSet<&str> = sources::full_syscalls().collect();
    let mut enter = false;
    for s in on {
        let has = full.contains(s.name);
        enter |= has && s.enter_event.is_some();
        let mut m = SyscallMode { nr: s.nr, mode: if has { abi::SYSCALL_FULL } else { abi::SYSCALL_GENERIC } };
        ioctl(fd, abi::IOCTL_SET_SYSCALL, &mut m, &format!("enabling {}", s.name))?;
    }
    let mut tps = abi::TP_SYS_EXIT;
    if enter {
        tps |= abi::TP_SYS_ENTER;
    }
    if procexit {
        tps |= abi::TP_SCHED_PROCESS_EXIT;
    }
    ioctl(fd, abi::IOCTL_SET_TRACEPOINTS, &mut tps, "choosing the tracepoints")
}

impl EventSource for Kmod {
    /// The module takes a new set while capturing: each syscall's mode is
    /// one store its probes read at their next event.
    fn set_syscalls(&mut self, names: Option<&BTreeSet<String>>) -> Result<bool, SourceError> {
        let wanted = resolve_syscalls(names).map_err(SourceError::new)?;
        for s in SYSCALLS.iter().filter(|s| !wanted.iter().any(|w| w.nr == s.nr)) {
            let mut m = SyscallMode { nr: s.nr, mode: abi::SYSCALL_OFF };
            ioctl(&self.fd, abi::IOCTL_SET_SYSCALL, &mut m, &format!("disabling {}", s.name))
                .map_err(SourceError::new)?;
        }
        set_syscall_modes(&self.fd, wanted.into_iter(), self.procexit).map_err(SourceError::new)?;
        Ok(true)
    }

    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        match self.next_raw() {
            Ok(Some((r, h))) => {
                let bytes = self.rings[r].bytes(h.at, h.len);
                let event = Event::parse(bytes).map_err(SourceError::new)?;
                Ok(Next::Event(SourceEvent { cpu: r as u16, dump_flags: None, event, passed_over: 0 }))
            }
            Ok(None) => Ok(Next::Idle),
            Err(e) if e.inner().is::<Stopped>() => Ok(Next::End),
            Err(e) => Err(e),
        }
    }

    fn stats(&self) -> SourceStats {
        Kmod::stats(self)
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

impl Drop for Kmod {
    fn drop(&mut self) {
        // the rings are unmapped before the descriptor closes
        self.rings.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_matches_version_h() {
        let v = include_str!("../../../kernel/kmod/version.h");
        let want = format!("#define SAKER_SCHEMA_VERSION 0x{:016x}ULL", abi::SCHEMA_VERSION);
        assert!(
            v.contains(&want),
            "kernel/kmod/version.h does not carry the schema of kernel/include/saker_events.h: \
             set its SAKER_SCHEMA_VERSION to 0x{:016x}ULL",
            abi::SCHEMA_VERSION
        );
        assert!(v.contains(&format!("#define SAKER_KMOD_VERSION \"{}\"", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn versions_are_checked() {
        let good =
            KmodInfo { api_version: abi::API_VERSION, schema_version: abi::SCHEMA_VERSION, ..Default::default() };
        assert!(check_versions(&good).is_ok());
        let old = KmodInfo { schema_version: 1, ..good };
        let msg = check_versions(&old).unwrap_err().to_string();
        assert!(msg.contains("0000000000000001") && msg.contains(&format!("{:016x}", abi::SCHEMA_VERSION)));
        assert!(msg.contains("saker driver build --kind kmod"), "{msg}");
        let newer_major = KmodInfo { api_version: 2 << 16, ..good };
        assert!(check_versions(&newer_major).is_err());
    }

    #[test]
    fn full_syscalls_come_from_the_list() {
        let full: Vec<&str> = sources::full_syscalls().collect();
        assert!(full.contains(&"openat") && full.contains(&"execve") && full.len() >= 154);
    }
}
