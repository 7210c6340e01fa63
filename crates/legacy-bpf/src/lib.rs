/*!
saker's legacy eBPF driver (`--driver ebpf`).

The probe (`kernel/legacy_bpf/`) is the third target of the shared fillers
(`kernel/fillers/`): a BPF object built for ONE kernel release
(`saker driver build --kind ebpf`, see [`probe::build`]) with raw
tracepoints, no CO-RE relocation, no ring buffer and no `bpf_loop`. This
crate loads it from a file ([`probe::probe_path`]: `SAKER_BPF_PROBE`, or
`/root/.saker/saker-bpf.o` when unset or empty, as Falco's
`FALCO_BPF_PROBE`), refuses an object built for another release, opens one
`PERF_COUNT_SW_BPF_OUTPUT` perf event per CPU with an mmapped ring (8 MiB by
default) and a wakeup watermark, and reads the rings in batches, merging
them by timestamp.

```no_run
use saker_driver::{EventSource, Next};
let mut bpf = saker_legacy_bpf::LegacyBpf::open(saker_legacy_bpf::Config::default())?;
while let Next::Event(e) = bpf.next_event()? {
    println!("{:?}", e.event.event_type());
}
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

mod perf;
pub mod probe;

use std::collections::BTreeSet;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::time::Duration;

use libbpf_rs::{Link, MapCore, MapFlags, Object, ObjectBuilder};
use saker_abi::Event;
use saker_driver::{EventRing, EventSource, Head, Next, RingMerge, SourceError, SourceEvent, SourceStats, StopHandle};
use saker_modern_bpf::{SYSCALLS, SyscallInfo, syscall_by_name};

use perf::{At, PerfRing};
pub use probe::{BuildOptions, DEFAULT_PROBE, PROBE_ENV, ProbeInfo, check_probe, probe_info, probe_path};

/// An error opening or reading the probe.
#[derive(Debug)]
pub struct Error(pub(crate) String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// How to open the driver.
#[derive(Clone, Debug)]
pub struct Config {
    /// The probe object (default [`probe_path`]).
    pub probe: PathBuf,
    /// Bytes of each per-CPU perf ring: a power of two, at least a page
    /// (default 8 MiB).
    pub buffer_size: usize,
    /// Unread bytes of a ring that wake the consumer (default 1/8 of the
    /// ring, at most 1 MiB); it also polls on a timer of at most 32 ms.
    pub wakeup_bytes: Option<u32>,
    /// Bytes of data captured from read/write-like calls (default 80).
    pub snaplen: u32,
    /// Syscall names to capture; `None` captures every syscall.
    pub syscalls: Option<BTreeSet<String>>,
    /// Emit `procexit` events (default true).
    pub procexit: bool,
    /// Leave out the syscalls of this process (default true).
    pub exclude_self: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            probe: probe_path(),
            buffer_size: 8 * 1024 * 1024,
            wakeup_bytes: None,
            snaplen: 80,
            syscalls: None,
            procexit: true,
            exclude_self: true,
        }
    }
}

const SETTINGS_HEAD: usize = 16;
const COUNTERS_SIZE: usize = 16 * 8;

const BACKOFF_MIN: Duration = Duration::from_micros(500);
const BACKOFF_MAX: Duration = Duration::from_millis(32);

/// The legacy eBPF driver: the loaded probe and one perf ring per CPU.
pub struct LegacyBpf {
    rings: Vec<PerfRing>,
    cpus: Vec<u32>,
    merge: RingMerge<At>,
    pollfds: Vec<libc::pollfd>,
    links: Vec<Link>,
    obj: Object,
    stop: StopHandle,
    backoff: Duration,
    info: ProbeInfo,
    ncpus: u32,
}

fn bpf_err(what: &str) -> impl Fn(libbpf_rs::Error) -> Error + '_ {
    move |e| Error(format!("{what}: {e}"))
}

fn libbpf_print(_level: libbpf_rs::PrintLevel, msg: String) {
    eprint!("libbpf: {msg}");
}

fn timespec_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Possible CPUs, from `/sys/devices/system/cpu/possible` ("0-3,5").
fn possible_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_else(|_| "0".into());
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        let mut r = part.split('-');
        let a: u32 = r.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let b: u32 = r.next().and_then(|x| x.parse().ok()).unwrap_or(a);
        cpus.extend(a..=b);
    }
    cpus
}

fn online_cpus() -> BTreeSet<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_else(|_| "0".into());
    let mut cpus = BTreeSet::new();
    for part in text.trim().split(',') {
        let mut r = part.split('-');
        let a: u32 = r.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let b: u32 = r.next().and_then(|x| x.parse().ok()).unwrap_or(a);
        cpus.extend(a..=b);
    }
    cpus
}

impl LegacyBpf {
    /// Checks and loads the probe, opens the perf rings and attaches.
    pub fn open(config: Config) -> Result<LegacyBpf, Error> {
        let wanted: Vec<&'static SyscallInfo> = match &config.syscalls {
            None => SYSCALLS.iter().collect(),
            Some(names) => names
                .iter()
                .map(|n| syscall_by_name(n).ok_or_else(|| Error(format!("unknown syscall '{n}'"))))
                .collect::<Result<_, _>>()?,
        };
        let b = config.buffer_size;
        if !b.is_power_of_two() || !(4096..=1 << 30).contains(&b) {
            return Err(Error(format!(
                "invalid configuration: perf buffer size {b} is not a power of two between 4 KiB and 1 GiB"
            )));
        }
        if config.snaplen > saker_modern_bpf::MAX_SNAPLEN {
            return Err(Error(format!("invalid configuration: snaplen {} is too large", config.snaplen)));
        }
        let release = probe::running_release();
        let info = check_probe(&config.probe, &release)?;
        let cpus = possible_cpus();
        let ncpus = cpus.iter().max().map_or(1, |m| m + 1);

        // libbpf's notes (e.g. the skipped `saker.probe` section) are noise;
        // its warnings (a verifier log) are kept.
        let prev_print = libbpf_rs::get_print();
        libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, libbpf_print)));
        let loaded = Self::load(&config, &wanted, ncpus, &info);
        libbpf_rs::set_print(prev_print);
        let (obj, full, wants_enter) = loaded?;
        Self::setup(config, wanted, obj, full, wants_enter, info, cpus, ncpus, &release)
    }

    fn load(
        config: &Config,
        wanted: &[&'static SyscallInfo],
        ncpus: u32,
        info: &ProbeInfo,
    ) -> Result<(Object, Vec<String>, bool), Error> {
        let mut builder = ObjectBuilder::default();
        let mut open = builder
            .open_file(&config.probe)
            .map_err(|e| Error(format!("opening the eBPF probe {}: {e}", config.probe.display())))?;
        for mut m in open.maps_mut() {
            let name = m.name().to_string_lossy().into_owned();
            match name.as_str() {
                "counters" | "auxmaps" => m.set_max_entries(ncpus).map_err(bpf_err("sizing a map"))?,
                "events" => m.set_max_entries(ncpus).map_err(bpf_err("sizing the perf event array"))?,
                _ => {}
            }
        }
        let wants_enter = wanted.iter().any(|s| s.enter_event.is_some());
        let mut full = Vec::new();
        for mut prog in open.progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let load = match name.as_str() {
                "sys_exit" => true,
                "sys_enter" => wants_enter,
                "sched_proc_exit" => config.procexit,
                n => {
                    if let Some(sc) = n.strip_prefix("sys_exit_") {
                        let w = wanted.iter().any(|s| s.name == sc);
                        if w {
                            full.push(sc.to_string());
                        }
                        w
                    } else if let Some(sc) = n.strip_prefix("sys_enter_") {
                        wanted.iter().any(|s| s.name == sc)
                    } else {
                        false
                    }
                }
            };
            prog.set_autoload(load);
        }
        let obj = open.load().map_err(|e| {
            Error(format!(
                "loading the eBPF probe {} (built for {}): {e} (rebuild it with `{}`; run as root)",
                config.probe.display(),
                info.release,
                probe::BUILD
            ))
        })?;
        Ok((obj, full, wants_enter))
    }

    #[allow(clippy::too_many_arguments)]
    fn setup(
        config: Config,
        wanted: Vec<&'static SyscallInfo>,
        obj: Object,
        full: Vec<String>,
        wants_enter: bool,
        info: ProbeInfo,
        cpus: Vec<u32>,
        ncpus: u32,
        release: &str,
    ) -> Result<LegacyBpf, Error> {
        let b = config.buffer_size;

        // Settings: boot time, snaplen, our process, the interesting syscalls.
        let clock = if probe::parse_release(release).is_some_and(|v| v >= (5, 8, 0)) {
            libc::CLOCK_BOOTTIME
        } else {
            libc::CLOCK_MONOTONIC
        };
        let boot_time = timespec_ns(libc::CLOCK_REALTIME).saturating_sub(timespec_ns(clock));
        let mut settings = vec![0u8; SETTINGS_HEAD + saker_modern_bpf::SYSCALL_TABLE_SIZE];
        settings[0..8].copy_from_slice(&boot_time.to_ne_bytes());
        settings[8..12].copy_from_slice(&config.snaplen.to_ne_bytes());
        let tgid = if config.exclude_self { std::process::id() } else { 0 };
        settings[12..16].copy_from_slice(&tgid.to_ne_bytes());
        for s in &wanted {
            settings[SETTINGS_HEAD + s.nr as usize] = if full.iter().any(|f| f == s.name) { 2 } else { 1 };
        }
        let map = |name: &str| {
            obj.maps()
                .find(|m| m.name() == name)
                .ok_or_else(|| Error(format!("the eBPF probe has no map '{name}': rebuild it with `{}`", probe::BUILD)))
        };
        map("settings")?
            .update(&0u32.to_ne_bytes(), &settings, MapFlags::ANY)
            .map_err(bpf_err("writing the settings"))?;

        // Tail-call tables.
        for prog in obj.progs() {
            if !prog.autoload() {
                continue;
            }
            let name = prog.name().to_string_lossy().into_owned();
            let (table, sc) = if let Some(sc) = name.strip_prefix("sys_exit_") {
                ("exit_progs", sc)
            } else if let Some(sc) = name.strip_prefix("sys_enter_") {
                ("enter_progs", sc)
            } else {
                continue;
            };
            let Some(s) = syscall_by_name(sc) else { continue };
            let fd = prog.as_fd().as_raw_fd() as u32;
            map(table)?
                .update(&s.nr.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(bpf_err("installing a syscall's program"))?;
        }

        // Perf rings, one per online CPU.
        let watermark = config.wakeup_bytes.unwrap_or((b / 8).min(1 << 20) as u32).max(1);
        let online = online_cpus();
        let events = map("events")?;
        let mut rings = Vec::new();
        let mut ring_cpus = Vec::new();
        for &cpu in cpus.iter().filter(|c| online.contains(c)) {
            let r = PerfRing::open(cpu, b, watermark)?;
            events
                .update(&cpu.to_ne_bytes(), &(r.fd() as u32).to_ne_bytes(), MapFlags::ANY)
                .map_err(bpf_err("installing a perf buffer"))?;
            rings.push(r);
            ring_cpus.push(cpu);
        }

        // Attach.
        let mut links = Vec::new();
        for prog in obj.progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let tp = match name.as_str() {
                "sys_exit" => "sys_exit",
                "sys_enter" if wants_enter => "sys_enter",
                "sched_proc_exit" if config.procexit => "sched_process_exit",
                _ => continue,
            };
            links.push(prog.attach_raw_tracepoint(tp).map_err(bpf_err(&format!("attaching {name} to {tp}")))?);
        }
        let pollfds = rings.iter().map(|r| libc::pollfd { fd: r.fd(), events: libc::POLLIN, revents: 0 }).collect();
        let n = rings.len();
        Ok(LegacyBpf {
            rings,
            cpus: ring_cpus,
            merge: RingMerge::new(n),
            pollfds,
            links,
            obj,
            stop: StopHandle::new(),
            backoff: BACKOFF_MIN,
            info,
            ncpus,
        })
    }

    /// What the loaded probe was built for.
    pub fn info(&self) -> &ProbeInfo {
        &self.info
    }

    /// Unread bytes in every ring.
    pub fn pending_bytes(&self) -> u64 {
        self.rings.iter().map(PerfRing::pending).sum()
    }

    /// Detaches the programs (what is buffered can still be read).
    pub fn detach(&mut self) {
        self.links.clear();
    }

    /// Counters summed over the CPUs; samples the kernel lost beyond those
    /// the probe counted are drops of the "other" category.
    pub fn stats(&self) -> SourceStats {
        let mut s = SourceStats::default();
        if let Some(m) = self.obj.maps().find(|m| m.name() == "counters") {
            for cpu in 0..self.ncpus {
                let Ok(Some(v)) = m.lookup(&cpu.to_ne_bytes(), MapFlags::ANY) else { continue };
                if v.len() < COUNTERS_SIZE {
                    continue;
                }
                let w = |i: usize| u64::from_ne_bytes(v[i * 8..i * 8 + 8].try_into().unwrap());
                s.events += w(0);
                s.drops_buffer.process += w(1);
                s.drops_buffer.exec += w(2);
                s.drops_buffer.open += w(3);
                s.drops_buffer.connect += w(4);
                s.drops_buffer.close += w(5);
                s.drops_buffer.other += w(6);
                s.drops_too_large += w(7);
                s.drops_other += w(8);
            }
        }
        let lost: u64 = self.rings.iter().map(|r| r.lost).sum();
        let counted = s.drops_buffer.total();
        if lost > counted {
            s.drops_buffer.other += lost - counted;
        }
        s
    }

    /// The ring with the oldest head event; when every ring is empty, waits
    /// in poll() (woken by a ring's watermark) with a growing timeout.
    fn next_raw(&mut self) -> Result<Option<(usize, Head<At>)>, SourceError> {
        loop {
            if let Some(next) = self.merge.next(&mut self.rings) {
                self.backoff = BACKOFF_MIN;
                return Ok(Some(next));
            }
            if self.stop.is_stopped() {
                if !self.links.is_empty() {
                    self.detach();
                    continue;
                }
                return Err(SourceError::new(Stopped));
            }
            // SAFETY: pollfds is a valid array of pollfd.
            unsafe {
                libc::poll(self.pollfds.as_mut_ptr(), self.pollfds.len() as _, self.backoff.as_millis().max(1) as i32)
            };
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

impl EventSource for LegacyBpf {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        match self.next_raw() {
            Ok(Some((r, h))) => {
                let bytes = self.rings[r].bytes(h.at, h.len);
                let event = Event::parse(bytes).map_err(SourceError::new)?;
                Ok(Next::Event(SourceEvent { cpu: self.cpus[r] as u16, dump_flags: None, event, passed_over: 0 }))
            }
            Ok(None) => Ok(Next::Idle),
            Err(e) if e.inner().is::<Stopped>() => Ok(Next::End),
            Err(e) => Err(e),
        }
    }

    fn stats(&self) -> SourceStats {
        LegacyBpf::stats(self)
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

impl Drop for LegacyBpf {
    fn drop(&mut self) {
        self.links.clear();
    }
}
