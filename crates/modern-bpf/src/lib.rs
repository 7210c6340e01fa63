/*!
saker's modern eBPF driver: the primary type is [`ModernBpf`], an
[`EventSource`] that captures system calls live from the running kernel.

The kernel side (`kernel/modern_bpf/`, C, CO-RE) is compiled at build time
and embedded through a libbpf-rs skeleton: nothing to install or download.
One program per syscall writes the event with the layout of the current event
table (`saker-abi`); syscalls without a program of their own produce a generic
event. When every syscall is wanted, one `tp_btf/sys_exit` dispatcher, run on
every syscall, checks a table of interesting syscalls and tail-calls them;
when only some are ([`Config::syscalls`]), each is attached to its own
`syscalls:sys_exit_*` tracepoint (kernels 5.15+), so that the others run no
program at all, unless one has no tracepoint (one the kernel does not
implement: see [`Config::unimplemented_syscalls`]) and the dispatcher takes
them all. Enter events exist only for open, openat, openat2, creat and
connect, whose arguments must be read before the kernel acts.

Events go to BPF ring buffers, one per [`Config::cpus_for_each_buffer`] CPUs.
The consumer maps them itself, merges their heads by timestamp, and never
allocates per event. Wakeups are batched in the kernel (a record wakes the
consumer only when the unread data crosses a quarter of the ring), and the
consumer polls on a timer (0.5 ms doubling to 32 ms) when idle.

Nothing is lost silently: [`ModernBpf::stats`] sums per-CPU counters of
events seen, lost because a ring was full (by category) and too large.

```no_run
use saker_driver::{EventSource, Next};
use saker_modern_bpf::{Config, ModernBpf};

let mut probe = ModernBpf::open(Config::default())?;
while let Next::Event(ev) = probe.next_event()? {
    println!("{:?}", ev.event);
}
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

mod check;
mod error;
mod ring;

#[allow(missing_docs, clippy::all, clippy::pedantic, dead_code, unused_imports)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/probe.skel.rs"));
}

mod syscalls {
    use super::SyscallInfo;
    include!(concat!(env!("OUT_DIR"), "/syscalls.rs"));
}

/// `saker_gen.h` as build.rs generates it from the syscall and flag tables:
/// the syscall numbers, ppm_sc codes and flag values the fillers use. The
/// kernel module builds with the checked-in copy, `kernel/include/saker_gen.h`
/// (a test keeps the two equal).
pub const GEN_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/saker_gen.h"));

use std::collections::BTreeSet;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Mutex;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, MapType, OpenObject};
use saker_abi::{Event, EventType};
use saker_driver::kernel_filter::OpenFilter;
use saker_driver::{EventRing, EventSource, Head, Next, RingMerge, SourceError, SourceEvent, SourceStats, StopHandle};

pub use check::{SystemFacts, check, kernel_version, verifier_failure};
pub use error::{Error, ErrorKind};
pub use syscalls::{SYSCALL_TABLE_SIZE, SYSCALLS};

use ring::Ring;
use skel::{ProbeSkel, ProbeSkelBuilder};

/// The largest snaplen (bytes of data captured from read/write-like calls).
pub const MAX_SNAPLEN: u32 = 65535;
/// The largest event the probe sends; larger ones are counted as dropped.
pub const MAX_EVENT_SIZE: usize = 64 * 1024;

/// One x86_64 system call as the probe knows it.
#[derive(Debug)]
pub struct SyscallInfo {
    /// Native syscall number.
    pub nr: u32,
    /// Its name (`openat`).
    pub name: &'static str,
    /// libs' ppm_sc code, the `ID` of generic events.
    pub ppm_sc: u16,
    /// The exit event carrying the syscall's parameters in the event table
    /// (`GENERIC_X` if the table has none).
    pub exit_event: EventType,
    /// The enter event, for the few syscalls whose argument is read on entry.
    pub enter_event: Option<EventType>,
}

/// The syscall called `name`.
pub fn syscall_by_name(name: &str) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// The syscall of native number `nr`.
pub fn syscall_by_nr(nr: u32) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|s| s.nr == nr)
}

/// How to open the probe.
#[derive(Clone, Debug)]
pub struct Config {
    /// CPUs sharing one ring buffer (default 2); 0 puts every CPU on one ring.
    pub cpus_for_each_buffer: usize,
    /// Bytes of each ring buffer: a power of two, at least a page (default 8 MiB).
    pub buffer_size: usize,
    /// Bytes of data captured from read/write-like calls (default 80, at most
    /// [`MAX_SNAPLEN`]).
    pub snaplen: u32,
    /// Syscall names to capture; `None` captures every syscall.
    pub syscalls: Option<BTreeSet<String>>,
    /// Emit `procexit` events when a thread exits (default true).
    pub procexit: bool,
    /// Leave out the syscalls of this process (default true), so a consumer
    /// that writes a capture does not capture its own writes.
    pub exclude_self: bool,
    /// For benchmarks, with `baseline`: which programs.
    pub baseline_kind: Baseline,
    /// For benchmarks: attach programs that return at once at the hooks the
    /// real probe would use, instead of the probe.
    pub baseline: bool,
    /// The kernel filter of the open family (derived from the rules by
    /// `saker_engine::Engine::open_filter`); `None` sends every open.
    pub open_filter: Option<OpenFilter>,
    /// Capture the wanted syscalls the kernel does not implement (default
    /// true): their calls can only fail with ENOSYS, and only the tp_btf
    /// dispatcher, which runs for every syscall, sees them. Off, they are
    /// left out ([`ModernBpf::left_out`]) and, when every other wanted
    /// syscall has a tracepoint of its own, the syscalls nobody wants run
    /// no program at all.
    pub unimplemented_syscalls: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cpus_for_each_buffer: 2,
            buffer_size: 8 * 1024 * 1024,
            snaplen: 80,
            syscalls: None,
            procexit: true,
            exclude_self: true,
            baseline_kind: Baseline::Bare,
            baseline: false,
            open_filter: None,
            unimplemented_syscalls: true,
        }
    }
}

/// The programs [`Config::baseline`] attaches instead of the probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Baseline {
    /// Programs that return at once on tp_btf `sys_exit` (and `sys_enter`
    /// when a syscall with an enter event is wanted), the probe's hooks.
    #[default]
    Bare,
    /// One program on tp_btf `sys_exit` that reads the events' clock
    /// (`bpf_ktime_get_boot_ns`) and returns: what a timestamp costs.
    Clock,
    /// A generic event written straight into the CPU's ring for every
    /// syscall's exit (tp_btf `sys_exit`), and for openat's enter (on its
    /// own tracepoint) when a syscall with enter events is wanted; each
    /// openat reads its path: what sending costs, with none of the probe's
    /// choices or other reads.
    Event,
    /// The same for openat's enter and exit only, each on its own
    /// tracepoint (5.15+: the exit reads the path through
    /// bpf_task_pt_regs): what capturing only openat costs at the least.
    EventOpenat,
    /// One program that returns at once on the `syscalls:sys_exit_openat`
    /// tracepoint, the cheapest hook there is (every syscall then takes the
    /// kernel's traced path).
    SyscallTracepoint,
}

impl Config {
    /// Checks the settings and resolves the syscall names to numbers.
    fn validate(&self) -> Result<Vec<&'static SyscallInfo>, Error> {
        let bad = |m: String| Err(Error::new(ErrorKind::Config(m)));
        if !self.buffer_size.is_power_of_two() || self.buffer_size < 4096 || self.buffer_size > (1 << 30) {
            return bad(format!("buffer size {} is not a power of two between 4096 and 1 GiB", self.buffer_size));
        }
        if self.snaplen > MAX_SNAPLEN {
            return bad(format!("snaplen {} is larger than {MAX_SNAPLEN}", self.snaplen));
        }
        match &self.syscalls {
            None => Ok(SYSCALLS.iter().collect()),
            Some(names) => names
                .iter()
                .map(|n| syscall_by_name(n).ok_or_else(|| Error::new(ErrorKind::UnknownSyscall(n.clone()))))
                .collect(),
        }
    }
}

/// CPU numbers of a list such as `0-3,5` (`/sys/devices/system/cpu/possible`).
fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<u32>().ok()),
        }
    }
    cpus
}

fn read_cpu_list(path: &str) -> Result<Vec<u32>, Error> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(parse_cpu_list(&s))
}

/// Which ring each CPU writes to: online CPUs in groups of `per_ring`
/// (0: all on one ring); possible but offline CPUs share the rings round-robin,
/// so a CPU plugged in later has a ring at once. Returns (ring of each
/// possible CPU index, number of rings, first CPU of each ring).
fn assign_rings(possible: &[u32], online: &[u32], per_ring: usize) -> (Vec<(u32, usize)>, usize, Vec<u16>) {
    let online: Vec<u32> = possible.iter().copied().filter(|c| online.contains(c)).collect();
    let per = if per_ring == 0 { online.len().max(1) } else { per_ring };
    let nrings = online.len().div_ceil(per).max(1);
    let mut first = vec![u16::MAX; nrings];
    let mut map = Vec::with_capacity(possible.len());
    for (i, &c) in online.iter().enumerate() {
        let r = i / per;
        first[r] = first[r].min(c as u16);
        map.push((c, r));
    }
    for (k, &c) in possible.iter().filter(|c| !online.contains(c)).enumerate() {
        map.push((c, k % nrings));
    }
    for f in &mut first {
        if *f == u16::MAX {
            *f = 0;
        }
    }
    (map, nrings, first)
}

fn timespec_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Epoch nanoseconds at boot: event ts = bpf_ktime_get_boot_ns() + this.
fn boot_time_ns() -> u64 {
    let real = timespec_ns(libc::CLOCK_REALTIME);
    let boot = timespec_ns(libc::CLOCK_BOOTTIME);
    real.saturating_sub(boot)
}

/// Where per-syscall tracepoints (`syscalls:sys_enter_*`) are described
/// (libbpf finds their ids there), mounting tracefs at /sys/kernel/tracing if
/// nothing is there yet (it is not mounted at boot on some systems); `None`
/// if the kernel has none.
fn tracefs_root() -> Option<&'static str> {
    let probe = |root: &str| std::path::Path::new(&format!("{root}/events/syscalls/sys_enter_openat/id")).exists();
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if probe(root) {
            return Some(root);
        }
    }
    let empty = std::fs::read_dir("/sys/kernel/tracing").is_ok_and(|mut d| d.next().is_none());
    if empty {
        // SAFETY: mounting tracefs on its standard, empty mount point.
        let rc = unsafe {
            libc::mount(c"nodev".as_ptr(), c"/sys/kernel/tracing".as_ptr(), c"tracefs".as_ptr(), 0, std::ptr::null())
        };
        if rc == 0 && probe("/sys/kernel/tracing") {
            return Some("/sys/kernel/tracing");
        }
    }
    None
}

/// The kernel's names of the exit tracepoints of syscalls whose tracepoint
/// is not `sys_exit_<name>` (x86_64: the `new*` stats and uname, sendfile64,
/// umount).
const EXIT_TRACEPOINT_ALIASES: &[(&str, &str)] = &[
    ("stat", "sys_exit_newstat"),
    ("fstat", "sys_exit_newfstat"),
    ("lstat", "sys_exit_newlstat"),
    ("uname", "sys_exit_newuname"),
    ("sendfile", "sys_exit_sendfile64"),
    ("umount2", "sys_exit_umount"),
];

/// Where the probe catches the exit of a syscall (`kernel/modern_bpf/`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum ExitHook {
    /// The tp_btf `sys_exit` dispatcher, which runs for every syscall and
    /// tail-calls the program of the wanted ones.
    Dispatcher,
    /// The syscall's own tracepoint (`syscalls:<this>`), which runs only
    /// for it: its program there (`tp_exit_<name>`) or the generic one.
    Tracepoint(String),
    /// None of its own: the kernel does not implement it (a weak ENOSYS stub
    /// `__x64_sys_<name>`, or no function at all), so it has no tracepoint
    /// and only the dispatcher sees its calls, which can only fail.
    Unimplemented,
}

/// Per native syscall number, where its exit can be caught: on its own
/// tracepoint, where the kernel has one and has bpf_task_pt_regs (5.15+),
/// through which the programs there read the arguments; else by the
/// dispatcher (`Unimplemented` tells the syscalls the kernel lacks, read from
/// /proc/kallsyms only when some syscall has no tracepoint). All
/// `Dispatcher` where the kernel lacks either.
fn exit_hooks(root: Option<&str>) -> Vec<ExitHook> {
    let mut table = vec![ExitHook::Dispatcher; SYSCALL_TABLE_SIZE];
    let Some(root) = root else { return table };
    // SAFETY: probing a helper loads nothing that outlives the call.
    let pt_regs = unsafe {
        libbpf_rs::libbpf_sys::libbpf_probe_bpf_helper(
            libbpf_rs::libbpf_sys::BPF_PROG_TYPE_TRACEPOINT,
            libbpf_rs::libbpf_sys::BPF_FUNC_task_pt_regs,
            std::ptr::null(),
        )
    };
    if pt_regs != 1 {
        return table;
    }
    let mut missing = Vec::new();
    for s in &SYSCALLS {
        let name = EXIT_TRACEPOINT_ALIASES
            .iter()
            .find(|(n, _)| *n == s.name)
            .map_or_else(|| format!("sys_exit_{}", s.name), |(_, tp)| tp.to_string());
        if std::path::Path::new(&format!("{root}/events/syscalls/{name}/id")).exists() {
            table[s.nr as usize] = ExitHook::Tracepoint(name);
        } else {
            missing.push(s);
        }
    }
    if !missing.is_empty()
        && let Ok(kallsyms) = std::fs::read_to_string("/proc/kallsyms")
    {
        let implemented = implemented_syscalls(&kallsyms);
        // Without it (no symbols listed), none is taken for unimplemented.
        if !implemented.is_empty() {
            for s in missing {
                if !implemented.contains(s.name) {
                    table[s.nr as usize] = ExitHook::Unimplemented;
                }
            }
        }
    }
    table
}

/// The syscalls the kernel implements, from /proc/kallsyms: a strong text
/// symbol `__x64_sys_<name>`. One the kernel leaves out (init_module
/// without CONFIG_MODULES) is a weak stub returning ENOSYS (`W`), or has no
/// symbol at all (the unused numbers of the table).
fn implemented_syscalls(kallsyms: &str) -> BTreeSet<&str> {
    kallsyms
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            if matches!(kind, "T" | "t") { name.strip_prefix("__x64_sys_") } else { None }
        })
        .filter(|n| *n != "ni_syscall")
        .collect()
}

/// This process's id as the kernel's initial pid namespace numbers it, which
/// is what the probe sees. In a container with its own pid namespace,
/// `getpid()` is the container's number; with the host's /proc mounted at
/// `$HOST_ROOT/proc` (Falco's convention), its `self` link names the host's.
fn own_kernel_tgid() -> u32 {
    if let Ok(root) = std::env::var("HOST_ROOT")
        && !root.is_empty()
        && let Ok(link) = std::fs::read_link(format!("{root}/proc/self"))
        && let Some(pid) = link.to_str().and_then(|s| s.parse().ok())
    {
        return pid;
    }
    std::process::id()
}

/// libbpf's messages during a load, for the verifier's log.
static LOAD_LOG: Mutex<String> = Mutex::new(String::new());

fn capture_libbpf_log(_level: libbpf_rs::PrintLevel, msg: String) {
    if let Ok(mut log) = LOAD_LOG.lock() {
        if log.len() > 1 << 20 {
            let cut = log.len() - (1 << 19);
            log.drain(..cut);
        }
        log.push_str(&msg);
    }
}

/// Serializes loads, since libbpf's print callback is global.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

const BACKOFF_MIN: Duration = Duration::from_micros(500);
const BACKOFF_MAX: Duration = Duration::from_millis(32);

/// The modern eBPF probe, loaded and attached, and the consumer of its rings.
pub struct ModernBpf {
    // Declared first: dropped (detached) before the object and the rings.
    links: Vec<Link>,
    /// Per native syscall number, the link of its program on its own exit
    /// tracepoint while the syscall is wanted.
    exit_links: Vec<Option<Link>>,
    /// The tp_btf sys_exit dispatcher, attached while a wanted syscall has
    /// no exit tracepoint it can use.
    dispatcher: Option<Link>,
    /// Per native syscall number, where its exit is caught.
    exit_hooks: Vec<ExitHook>,
    /// Wanted syscalls left out: unimplemented by the kernel, with
    /// [`Config::unimplemented_syscalls`] off.
    left_out: Vec<&'static str>,
    /// Wanted syscalls that brought the dispatcher back: no tracepoint.
    without_tracepoint: Vec<&'static str>,
    unimplemented_syscalls: bool,
    skel: ManuallyDrop<ProbeSkel<'static>>,
    storage: *mut MaybeUninit<OpenObject>,
    rings: Vec<Ring>,
    _ring_maps: Vec<MapHandle>,
    ring_cpu: Vec<u16>,
    pollfds: Vec<libc::pollfd>,
    merge: RingMerge<usize>,
    stop: StopHandle,
    detached: bool,
    backoff: Duration,
    possible: Vec<u32>,
    full_programs: Vec<&'static str>,
}

// SAFETY: the skeleton and rings are only used through &mut self; libbpf
// objects may move between threads.
unsafe impl Send for ModernBpf {}

impl ModernBpf {
    /// Checks the system, loads and attaches the probe, and maps its rings.
    pub fn open(config: Config) -> Result<ModernBpf, Error> {
        check(&SystemFacts::probe())?;
        let wanted = config.validate()?;
        let possible = read_cpu_list("/sys/devices/system/cpu/possible")?;
        let online = read_cpu_list("/sys/devices/system/cpu/online")?;
        if possible.is_empty() {
            return Err(Error::io("/sys/devices/system/cpu/possible", "no CPU listed"));
        }
        let ncpus = possible.iter().max().copied().unwrap_or(0) + 1;
        let (cpu_rings, nrings, ring_cpu) = assign_rings(&possible, &online, config.cpus_for_each_buffer);

        let _guard = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
        let storage_ptr: *mut MaybeUninit<OpenObject> = storage;
        let root = tracefs_root();
        let mut exit_hooks = if config.baseline || config.syscalls.is_none() {
            // Every syscall wanted: the dispatcher alone is the cheapest (a
            // program on each syscall's own tracepoint costs more per event,
            // on a path of the kernel's made for perf).
            vec![ExitHook::Dispatcher; SYSCALL_TABLE_SIZE]
        } else {
            exit_hooks(root)
        };
        let mut left_out = Vec::new();
        let mut wanted = wanted;
        if !config.unimplemented_syscalls {
            left_out = wanted
                .iter()
                .filter(|s| exit_hooks[s.nr as usize] == ExitHook::Unimplemented)
                .map(|s| s.name)
                .collect();
            wanted.retain(|s| !left_out.contains(&s.name));
        }
        // A wanted syscall only the dispatcher sees: the dispatcher runs for
        // every syscall anyway, and takes them all (a program on a
        // syscall's own tracepoint would only add to it).
        let has_tracepoints = exit_hooks.iter().any(|h| matches!(h, ExitHook::Tracepoint(_)));
        let mut without_tracepoint: Vec<&'static str> = wanted
            .iter()
            .filter(|s| !matches!(exit_hooks[s.nr as usize], ExitHook::Tracepoint(_)))
            .map(|s| s.name)
            .collect();
        if !without_tracepoint.is_empty() {
            exit_hooks.iter_mut().for_each(|h| *h = ExitHook::Dispatcher);
        }
        if !has_tracepoints {
            // Not a choice made by syscall: the kernel has no such hooks.
            without_tracepoint.clear();
        }
        let loaded = Self::load(&config, &wanted, &exit_hooks, root, ncpus, storage);
        let (skel, ring_maps, full_programs, tracepoints) = match loaded {
            Ok(v) => v,
            Err(e) => {
                // SAFETY: the skeleton that borrowed it is gone.
                drop(unsafe { Box::from_raw(storage_ptr) });
                return Err(e);
            }
        };
        let mut probe = ModernBpf {
            links: Vec::new(),
            exit_links: (0..SYSCALL_TABLE_SIZE).map(|_| None).collect(),
            dispatcher: None,
            exit_hooks,
            left_out,
            without_tracepoint,
            unimplemented_syscalls: config.unimplemented_syscalls,
            skel: ManuallyDrop::new(skel),
            storage: storage_ptr,
            rings: Vec::new(),
            _ring_maps: Vec::new(),
            ring_cpu,
            pollfds: Vec::new(),
            merge: RingMerge::new(nrings),
            stop: StopHandle::new(),
            detached: false,
            backoff: BACKOFF_MIN,
            possible,
            full_programs,
        };
        probe.setup(&config, &wanted, ring_maps, &cpu_rings, nrings, tracepoints)?;
        Ok(probe)
    }

    /// Opens and loads the object: settings, map sizes, which programs load
    /// (`root`: where tracefs describes the syscall tracepoints, if anywhere).
    #[allow(clippy::type_complexity)]
    fn load(
        config: &Config,
        wanted: &[&'static SyscallInfo],
        exit_hooks: &[ExitHook],
        root: Option<&str>,
        ncpus: u32,
        storage: &'static mut MaybeUninit<OpenObject>,
    ) -> Result<(ProbeSkel<'static>, Vec<MapHandle>, Vec<&'static str>, bool), Error> {
        let mut open = ProbeSkelBuilder::default().open(storage).map_err(|e| Error::bpf("opening the probe", e))?;

        let rodata =
            open.maps.rodata_data.as_deref_mut().ok_or_else(|| Error::bpf("opening the probe", "no .rodata"))?;
        rodata.boot_time = boot_time_ns();
        rodata.snaplen = config.snaplen;
        rodata.wakeup_threshold = (config.buffer_size / 4) as u64;
        rodata.saker_tgid = if config.exclude_self { own_kernel_tgid() } else { 0 };

        let ring0 = MapHandle::create(
            MapType::RingBuf,
            Some("saker_ring"),
            0,
            0,
            config.buffer_size as u32,
            &libbpf_rs::libbpf_sys::bpf_map_create_opts {
                sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
                ..Default::default()
            },
        )
        .map_err(|e| Error::bpf(&format!("creating a ring buffer of {} bytes", config.buffer_size), e))?;
        let bpf_err = |e| Error::bpf("sizing the probe's maps", e);
        open.maps.ringbufs.set_max_entries(ncpus).map_err(bpf_err)?;
        open.maps.ringbufs.set_inner_map_fd(ring0.as_fd()).map_err(bpf_err)?;
        open.maps.counters.set_max_entries(ncpus).map_err(bpf_err)?;
        open.maps.auxmaps.set_max_entries(ncpus).map_err(bpf_err)?;

        let wants_enter = wanted.iter().any(|s| s.enter_event.is_some());
        // Enter events come from per-syscall tracepoints when the kernel has
        // them (they run only for their syscall), else from the tp_btf
        // sys_enter dispatcher (which runs for every syscall).
        let tracepoints = wants_enter && !config.baseline && root.is_some();
        let kind = if config.baseline { Some(config.baseline_kind) } else { None };
        let floor = kind == Some(Baseline::SyscallTracepoint);
        let own_tracepoints = floor || kind == Some(Baseline::EventOpenat);
        if (own_tracepoints || (kind == Some(Baseline::Event) && wants_enter)) && root.is_none() {
            return Err(Error::bpf("loading the baseline", "no syscall tracepoints (tracefs) on this kernel"));
        }
        let mut full_programs = Vec::new();
        for mut prog in open.open_object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let load = match name.as_str() {
                "sys_exit" => !config.baseline,
                "sys_enter" => !config.baseline && wants_enter && !tracepoints,
                "bare_exit" => kind == Some(Baseline::Bare),
                "bare_enter" => kind == Some(Baseline::Bare) && wants_enter,
                "bare_clock_exit" => kind == Some(Baseline::Clock),
                "bare_event_exit" => kind == Some(Baseline::Event),
                "bare_event_enter_openat" => {
                    kind == Some(Baseline::Event) && wants_enter || kind == Some(Baseline::EventOpenat)
                }
                "bare_event_exit_openat" => kind == Some(Baseline::EventOpenat),
                "bare_tp_exit_openat" => floor,
                "sched_proc_exit" => !config.baseline && config.procexit,
                "tp_exit_generic" => exit_hooks.iter().any(|h| matches!(h, ExitHook::Tracepoint(_))),
                n => {
                    // A wanted syscall's filler loads as the program of its
                    // own exit tracepoint where it has one, else as the
                    // dispatcher's tail call.
                    let wanted_exit = |sc: &str| {
                        wanted
                            .iter()
                            .find(|s| s.name == sc)
                            .filter(|_| !config.baseline)
                            .map(|s| (s, matches!(exit_hooks[s.nr as usize], ExitHook::Tracepoint(_))))
                    };
                    if let Some(sc) = n.strip_prefix("sys_exit_") {
                        match wanted_exit(sc) {
                            Some((s, own_tp)) => {
                                full_programs.push(s.name);
                                !own_tp
                            }
                            None => false,
                        }
                    } else if let Some(sc) = n.strip_prefix("tp_exit_") {
                        wanted_exit(sc).is_some_and(|(_, own_tp)| own_tp)
                    } else if let Some(sc) = n.strip_prefix("sys_enter_") {
                        !config.baseline && !tracepoints && wanted.iter().any(|s| s.name == sc)
                    } else if let Some(sc) = n.strip_prefix("tp_enter_") {
                        tracepoints && wanted.iter().any(|s| s.name == sc)
                    } else {
                        false
                    }
                }
            };
            prog.set_autoload(load);
            prog.set_autoattach(false);
        }

        let prev_print = libbpf_rs::get_print();
        if let Ok(mut log) = LOAD_LOG.lock() {
            log.clear();
        }
        libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Info, capture_libbpf_log)));
        let loaded = open.load();
        libbpf_rs::set_print(prev_print);
        let skel = match loaded {
            Ok(s) => s,
            Err(e) => {
                let log = LOAD_LOG.lock().map(|l| l.clone()).unwrap_or_default();
                if let Some((program, log_tail)) = verifier_failure(&log, 20) {
                    return Err(Error::new(ErrorKind::Verifier { program, log_tail }));
                }
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(Error::bpf("loading the probe", format!("{e}\n{}", tail.join("\n"))));
            }
        };
        Ok((skel, vec![ring0], full_programs, tracepoints))
    }

    /// After load: rings, tail-call tables, interesting syscalls, attach, mmap.
    fn setup(
        &mut self,
        config: &Config,
        wanted: &[&'static SyscallInfo],
        mut ring_maps: Vec<MapHandle>,
        cpu_rings: &[(u32, usize)],
        nrings: usize,
        tracepoints: bool,
    ) -> Result<(), Error> {
        let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
            ..Default::default()
        };
        while ring_maps.len() < nrings {
            let m = MapHandle::create(MapType::RingBuf, Some("saker_ring"), 0, 0, config.buffer_size as u32, &opts)
                .map_err(|e| Error::bpf(&format!("creating a ring buffer of {} bytes", config.buffer_size), e))?;
            ring_maps.push(m);
        }
        for &(cpu, r) in cpu_rings {
            let fd = ring_maps[r].as_fd().as_raw_fd() as u32;
            self.skel
                .maps
                .ringbufs
                .update(&cpu.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| Error::bpf("installing the ring of a CPU", e))?;
        }

        // Tail-call tables.
        for prog in self.skel.object().progs() {
            if !prog.autoload() {
                continue;
            }
            let name = prog.name().to_string_lossy().into_owned();
            let (table, sc) = if let Some(sc) = name.strip_prefix("sys_exit_") {
                (&self.skel.maps.exit_progs, sc)
            } else if let Some(sc) = name.strip_prefix("sys_enter_") {
                (&self.skel.maps.enter_progs, sc)
            } else {
                continue;
            };
            let Some(info) = syscall_by_name(sc) else { continue };
            let fd = prog.as_fd().as_raw_fd() as u32;
            table
                .update(&info.nr.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| Error::bpf(&format!("installing the program of {sc}"), e))?;
        }

        // Interesting syscalls of the dispatcher: 2 = tail call to its
        // program, 1 = generic event; 0 for those caught on their own
        // exit tracepoint.
        let loaded = self.full_programs.clone();
        let bss = self.skel.maps.bss_data.as_deref_mut().ok_or_else(|| Error::bpf("setting up", "no .bss"))?;
        let mut dispatched = false;
        for s in wanted {
            if self.exit_hooks[s.nr as usize] == ExitHook::Dispatcher {
                bss.interesting[s.nr as usize] = if loaded.contains(&s.name) { 2 } else { 1 };
                dispatched = true;
            }
        }

        if let Some(filter) = &config.open_filter {
            self.install_open_filter(filter)?;
        }

        // Attach.
        let wants_enter = wanted.iter().any(|s| s.enter_event.is_some());
        let mut attach: Vec<&str> = Vec::new();
        if config.baseline && config.baseline_kind == Baseline::SyscallTracepoint {
            attach.push("bare_tp_exit_openat");
        } else if config.baseline && config.baseline_kind == Baseline::Clock {
            attach.push("bare_clock_exit");
        } else if config.baseline && config.baseline_kind == Baseline::Event {
            attach.push("bare_event_exit");
            if wants_enter {
                attach.push("bare_event_enter_openat");
            }
        } else if config.baseline && config.baseline_kind == Baseline::EventOpenat {
            attach.extend(["bare_event_enter_openat", "bare_event_exit_openat"]);
        } else if config.baseline {
            attach.push("bare_exit");
            if wants_enter {
                attach.push("bare_enter");
            }
        } else {
            if dispatched {
                attach.push("sys_exit");
            }
            if wants_enter && !tracepoints {
                attach.push("sys_enter");
            }
            if config.procexit {
                attach.push("sched_proc_exit");
            }
        }
        let mut links = Vec::new();
        for prog in self.skel.object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            let tp_enter = tracepoints && prog.autoload() && name.starts_with("tp_enter_");
            if name == "sys_exit" && attach.contains(&"sys_exit") {
                self.dispatcher = Some(prog.attach().map_err(|e| Error::bpf("attaching sys_exit", e))?);
            } else if tp_enter || attach.contains(&name.as_str()) {
                let link = prog.attach().map_err(|e| Error::bpf(&format!("attaching {name}"), e))?;
                links.push(link);
            }
        }
        self.links = links;
        if !config.baseline {
            for s in wanted {
                self.attach_exit(s)?;
            }
        }

        for m in &ring_maps {
            self.rings.push(Ring::map(m.as_fd(), config.buffer_size)?);
            self.pollfds.push(libc::pollfd { fd: m.as_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        self._ring_maps = ring_maps;
        Ok(())
    }

    /// Attaches the program of syscall `s` to its own exit tracepoint, if
    /// it is caught there: its program if loaded, else the generic one.
    fn attach_exit(&mut self, s: &SyscallInfo) -> Result<(), Error> {
        let nr = s.nr as usize;
        let ExitHook::Tracepoint(tp) = self.exit_hooks[nr].clone() else { return Ok(()) };
        let own = format!("tp_exit_{}", s.name);
        let mut generic = None;
        let mut prog = None;
        for p in self.skel.object_mut().progs_mut().filter(|p| p.autoload()) {
            if p.name() == own.as_str() {
                prog = Some(p);
                break;
            } else if p.name() == "tp_exit_generic" {
                generic = Some(p);
            }
        }
        let prog =
            prog.or(generic).ok_or_else(|| Error::bpf(&format!("attaching {tp}"), "no program loaded for it"))?;
        let link = prog
            .attach_tracepoint(libbpf_rs::TracepointCategory::Syscalls, &tp)
            .map_err(|e| Error::bpf(&format!("attaching {tp}"), e))?;
        self.exit_links[nr] = Some(link);
        Ok(())
    }

    /// Installs the open-family filter (kernel/modern_bpf/filter.bpf.h):
    /// the path trie, whose value for an entry is the mask of the terms
    /// naming it or a prefix of it (the trie returns only the longest
    /// match), and the terms of each call.
    fn install_open_filter(&mut self, filter: &OpenFilter) -> Result<(), Error> {
        use saker_driver::kernel_filter::{MAX_FILTER_PATH, MAX_OPEN_TERMS, OPEN_CALLS, PathMatch};
        if filter.terms.len() > MAX_OPEN_TERMS {
            return Err(Error::new(ErrorKind::Config(format!(
                "the open filter has {} terms; the probe takes at most {MAX_OPEN_TERMS}",
                filter.terms.len()
            ))));
        }
        // Entry bytes (an exact name with its NUL) -> terms naming it.
        let mut entries: std::collections::BTreeMap<Vec<u8>, u32> = std::collections::BTreeMap::new();
        for (i, t) in filter.terms.iter().enumerate() {
            for p in t.paths.iter().flatten() {
                let key = match p {
                    PathMatch::Exact(s) => [s.as_bytes(), &[0]].concat(),
                    PathMatch::Prefix(s) => s.as_bytes().to_vec(),
                };
                if key.is_empty() || key.len() >= MAX_FILTER_PATH {
                    return Err(Error::new(ErrorKind::Config(format!(
                        "the open filter's path '{p}' cannot be compared"
                    ))));
                }
                *entries.entry(key).or_default() |= 1 << i;
            }
        }
        let prefixes: Vec<(Vec<u8>, u32)> =
            entries.iter().filter(|(k, _)| k.last() != Some(&0)).map(|(k, m)| (k.clone(), *m)).collect();
        for (key, own) in &entries {
            let mask = prefixes.iter().filter(|(p, _)| key.starts_with(p)).fold(*own, |m, (_, pm)| m | pm);
            let mut k = vec![0u8; 4 + MAX_FILTER_PATH];
            k[..4].copy_from_slice(&((key.len() * 8) as u32).to_ne_bytes());
            k[4..4 + key.len()].copy_from_slice(key);
            self.skel.maps.open_paths.update(&k, &mask.to_ne_bytes(), MapFlags::ANY).map_err(|e| {
                Error::bpf(&format!("installing the open filter's path {}", String::from_utf8_lossy(key)), e)
            })?;
        }
        let bss = self.skel.maps.bss_data.as_deref_mut().ok_or_else(|| Error::bpf("setting up", "no .bss"))?;
        for (i, t) in filter.terms.iter().enumerate() {
            // The probe compares the access mode only (the bits a term
            // derived from the rules can need); a term needing another
            // bit accepts every mode, which sends more, never less.
            let need = if t.flags_any & !3 != 0 { 0 } else { t.flags_any };
            for (mode, slot) in bss.open_terms_accepting.iter_mut().enumerate() {
                if need == 0 || need & mode as u32 != 0 {
                    *slot |= 1 << i;
                }
            }
            for c in 0..OPEN_CALLS.len() {
                if t.calls & (1 << c) != 0 {
                    bss.open_terms_of_call[c] |= 1 << i;
                    if t.paths.is_none() {
                        bss.open_terms_any_path[c] |= 1 << i;
                    }
                }
            }
        }
        // The tables are complete before the programs see the filter on.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        bss.open_filter_on = 1;
        Ok(())
    }

    /// Replaces the open-family filter while running: every open is sent
    /// while the tables change, so no event the old or the new rules want
    /// is left out on the way.
    pub fn replace_open_filter(&mut self, filter: Option<&OpenFilter>) -> Result<(), Error> {
        let bss = self.skel.maps.bss_data.as_deref_mut().ok_or_else(|| Error::bpf("setting up", "no .bss"))?;
        bss.open_filter_on = 0;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        bss.open_terms_of_call = Default::default();
        bss.open_terms_any_path = Default::default();
        bss.open_terms_accepting = Default::default();
        let keys: Vec<Vec<u8>> = self.skel.maps.open_paths.keys().collect();
        for k in keys {
            self.skel.maps.open_paths.delete(&k).map_err(|e| Error::bpf("clearing the open filter", e))?;
        }
        match filter {
            Some(f) => self.install_open_filter(f),
            None => Ok(()),
        }
    }

    /// Number of ring buffers.
    pub fn ring_count(&self) -> usize {
        self.rings.len()
    }

    /// The syscalls loaded with a program of their own (full parameters);
    /// the other interesting ones produce generic events.
    pub fn full_syscalls(&self) -> &[&'static str] {
        &self.full_programs
    }

    /// Turns capture of syscall `nr` on or off while running (only syscalls
    /// whose programs were loaded get full events; others become generic).
    /// An error when it is wanted and cannot be captured: its tracepoint
    /// refused the program and so did the dispatcher's.
    pub fn set_interesting(&mut self, nr: u32, on: bool) -> Result<(), Error> {
        let Some(s) = syscall_by_nr(nr) else { return Ok(()) };
        if self.exit_hooks[nr as usize] == ExitHook::Unimplemented && !self.unimplemented_syscalls {
            if on && !self.left_out.contains(&s.name) {
                self.left_out.push(s.name);
            }
            return Ok(());
        }
        if matches!(self.exit_hooks[nr as usize], ExitHook::Tracepoint(_)) {
            if !on {
                self.exit_links[nr as usize] = None;
            }
            if !on || self.detached || self.exit_links[nr as usize].is_some() || self.attach_exit(s).is_ok() {
                return Ok(());
            }
            // Not attached there: the dispatcher takes it.
        }
        if on && self.dispatcher.is_none() && !self.detached {
            let prog = self.skel.object_mut().progs_mut().find(|p| p.name() == "sys_exit");
            let prog = prog.ok_or_else(|| Error::bpf("attaching sys_exit", "the program is not loaded"))?;
            self.dispatcher = Some(prog.attach().map_err(|e| Error::bpf("attaching sys_exit", e))?);
        }
        let full = self.full_programs.contains(&s.name);
        if let Some(bss) = self.skel.maps.bss_data.as_deref_mut()
            && (nr as usize) < SYSCALL_TABLE_SIZE
        {
            bss.interesting[nr as usize] = if !on {
                0
            } else if full {
                2
            } else {
                1
            };
        }
        Ok(())
    }

    /// Wanted syscalls not captured: the kernel does not implement them and
    /// [`Config::unimplemented_syscalls`] is off.
    pub fn left_out(&self) -> &[&'static str] {
        &self.left_out
    }

    /// Wanted syscalls without a tracepoint of their own, on a kernel where
    /// the others have one: the dispatcher catches every syscall for them.
    pub fn without_tracepoint(&self) -> &[&'static str] {
        &self.without_tracepoint
    }

    /// Whether the tp_btf `sys_exit` dispatcher is attached: it runs for
    /// every syscall. It is not when only some syscalls are wanted and each
    /// is caught on its own tracepoint.
    pub fn dispatcher_attached(&self) -> bool {
        self.dispatcher.is_some()
    }

    /// Detaches every program: nothing new enters the rings.
    pub fn detach(&mut self) {
        self.links.clear();
        self.exit_links.iter_mut().for_each(|l| *l = None);
        self.dispatcher = None;
        self.detached = true;
    }

    /// Counters so far, summed over CPUs.
    pub fn stats(&self) -> SourceStats {
        let mut s = SourceStats::default();
        for &cpu in &self.possible {
            let Ok(Some(v)) = self.skel.maps.counters.lookup(&cpu.to_ne_bytes(), MapFlags::ANY) else { continue };
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
            s.filtered += w(9);
        }
        s
    }

    /// Unread bytes in all rings.
    pub fn pending_bytes(&mut self) -> u64 {
        self.rings.iter_mut().map(Ring::pending).sum()
    }

    /// Waits up to `timeout` for a ring to wake us.
    fn wait(&mut self, timeout: Duration) -> bool {
        let ts = libc::timespec { tv_sec: timeout.as_secs() as _, tv_nsec: timeout.subsec_nanos() as _ };
        // SAFETY: pollfds is a valid array of pollfd.
        let n = unsafe { libc::ppoll(self.pollfds.as_mut_ptr(), self.pollfds.len() as _, &ts, std::ptr::null()) };
        n > 0
    }

    /// The next event, blocking up to about 32 ms; `Ok(None)` when idle.
    fn next_raw(&mut self) -> Result<Option<(usize, Head<usize>)>, SourceError> {
        // Detach as soon as a stop is asked for, even while the rings are
        // busy: what is already buffered then drains to an end.
        if !self.detached && self.stop.is_stopped() {
            self.detach();
        }
        loop {
            if let Some(next) = self.merge.next(&mut self.rings) {
                self.backoff = BACKOFF_MIN;
                return Ok(Some(next));
            }
            if self.stop.is_stopped() {
                if !self.detached {
                    self.detach();
                    continue;
                }
                return Err(SourceError::new(Stopped));
            }
            let woke = self.wait(self.backoff);
            if !woke {
                if self.backoff >= BACKOFF_MAX {
                    return Ok(None);
                }
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Internal marker: the source was stopped and drained.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped")
    }
}

impl std::error::Error for Stopped {}

impl EventSource for ModernBpf {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        match self.next_raw() {
            Ok(Some((r, h))) => {
                let cpu = self.ring_cpu[r];
                let bytes = self.rings[r].bytes(h.at, h.len);
                let event = Event::parse(bytes).map_err(SourceError::new)?;
                Ok(Next::Event(SourceEvent { cpu, dump_flags: None, event, passed_over: 0 }))
            }
            Ok(None) => Ok(Next::Idle),
            Err(e) if e.inner().is::<Stopped>() => Ok(Next::End),
            Err(e) => Err(e),
        }
    }

    fn stats(&self) -> SourceStats {
        ModernBpf::stats(self)
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    fn set_open_filter(&mut self, filter: Option<&OpenFilter>) -> Result<bool, SourceError> {
        self.replace_open_filter(filter).map_err(SourceError::new)?;
        Ok(true)
    }

    fn set_syscalls(&mut self, names: Option<&std::collections::BTreeSet<String>>) -> Result<bool, SourceError> {
        // Every syscall is set, whatever fails: one that cannot be captured
        // does not keep the others from their new state.
        let mut failed: Option<(Error, Vec<&'static str>)> = None;
        for nr in 0..SYSCALL_TABLE_SIZE as u32 {
            let (on, name) = match (names, syscall_by_nr(nr)) {
                (None, Some(s)) => (true, s.name),
                (Some(set), Some(s)) => (set.contains(s.name), s.name),
                (_, None) => (false, ""),
            };
            if let Err(e) = self.set_interesting(nr, on) {
                failed.get_or_insert_with(|| (e, Vec::new())).1.push(name);
            }
        }
        match failed {
            None => Ok(true),
            Some((e, names)) => Err(SourceError::new(format!("{e}: not captured: {}", names.join(", ")))),
        }
    }
}

impl Drop for ModernBpf {
    fn drop(&mut self) {
        self.detach();
        self.rings.clear();
        // SAFETY: dropped once, before the storage it borrows.
        unsafe { ManuallyDrop::drop(&mut self.skel) };
        // SAFETY: `storage` came from Box::leak in open() and nothing borrows it any more.
        drop(unsafe { Box::from_raw(self.storage) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_driver::DropsByCategory;

    #[test]
    fn implemented_syscalls_leave_out_enosys_stubs() {
        let kallsyms = "ffffffff81312770 T __x64_sys_ni_syscall\n\
                        ffffffff81398ba0 W __x64_sys_init_module\n\
                        ffffffff813193e0 T __x64_sys_set_thread_area\n\
                        0000000000000000 T __x64_sys_openat\n\
                        ffffffffc0000000 t __x64_sys_fake\t[some_module]\n\
                        ffffffff81400000 T sys_uselib\n";
        let got: Vec<&str> = implemented_syscalls(kallsyms).into_iter().collect();
        assert_eq!(got, ["fake", "openat", "set_thread_area"]);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5\n"), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse_cpu_list("0"), vec![0]);
    }

    #[test]
    fn rings_group_online_cpus_and_share_offline_ones() {
        let (map, n, first) = assign_rings(&[0, 1, 2, 3, 4, 5], &[0, 1, 2, 3], 2);
        assert_eq!(n, 2);
        assert_eq!(first, vec![0, 2]);
        assert_eq!(map, vec![(0, 0), (1, 0), (2, 1), (3, 1), (4, 0), (5, 1)]);
        let (_, n, _) = assign_rings(&[0, 1, 2], &[0, 1, 2], 0);
        assert_eq!(n, 1);
        let (_, n, _) = assign_rings(&[0, 1, 2], &[0, 1, 2], 2);
        assert_eq!(n, 2);
    }

    #[test]
    fn syscall_table() {
        assert_eq!(syscall_by_name("openat").unwrap().nr, 257);
        assert_eq!(syscall_by_name("openat").unwrap().exit_event, EventType::SYSCALL_OPENAT_2_X);
        assert_eq!(syscall_by_name("getppid").unwrap().exit_event, EventType::GENERIC_X);
        assert_eq!(syscall_by_nr(59).unwrap().name, "execve");
    }

    #[test]
    fn config_validation() {
        let c = Config { buffer_size: 3 * 4096, ..Config::default() };
        assert!(matches!(c.validate().unwrap_err().kind(), ErrorKind::Config(_)));
        let c = Config { syscalls: Some(["nosuchcall".to_string()].into()), ..Config::default() };
        assert_eq!(c.validate().unwrap_err().kind(), &ErrorKind::UnknownSyscall("nosuchcall".into()));
    }

    #[test]
    fn drops_type_is_summable() {
        let d = DropsByCategory { process: 1, other: 2, ..Default::default() };
        assert_eq!(d.total(), 3);
    }
}
