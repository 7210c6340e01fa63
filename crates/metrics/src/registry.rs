//! The counters and gauges, and their Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::process;

/// What identifies this process in the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsInfo {
    /// saker's version (`falcosecurity_falco_version_info{version}`).
    pub version: String,
    /// The host name alerts carry (`falcosecurity_evt_hostname_info{hostname}`).
    pub hostname: String,
    /// The event source's engine (`falcosecurity_scap_engine_name_info{engine_name}`):
    /// `modern_ebpf`, `replay`, `nodriver`, `userspace`.
    pub engine_name: String,
}

/// A file whose sha256 the info metrics carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileDigest {
    /// The file's name, without its directory (Falco's `file_name` label).
    pub file_name: String,
    /// Its sha256, in lower-case hex.
    pub sha256: String,
}

/// The kinds of events lost when a buffer was full; the categories of
/// Falco's `n_drops_buffer_*` counters, grouped as saker's drivers count
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropCategory {
    /// clone, fork, vfork, clone3, process exit (Falco: `clone_fork`, `proc`).
    Process,
    /// execve, execveat (Falco: `execve`).
    Exec,
    /// open, openat, openat2, creat (Falco: `open`).
    Open,
    /// connect, accept (Falco: `connect`).
    Connect,
    /// close (Falco: `close`).
    Close,
    /// everything else (Falco: `other_interest`, `dir_file`).
    Other,
}

impl DropCategory {
    /// Every category, in the order they are printed.
    pub const ALL: [DropCategory; 6] = [
        DropCategory::Process,
        DropCategory::Exec,
        DropCategory::Open,
        DropCategory::Connect,
        DropCategory::Close,
        DropCategory::Other,
    ];

    /// The `drop` label of Falco's `n_drops_buffer_total` for this
    /// category.
    pub fn falco_label(self) -> &'static str {
        match self {
            DropCategory::Process => "clone_fork",
            DropCategory::Exec => "execve",
            DropCategory::Open => "open",
            DropCategory::Connect => "connect",
            DropCategory::Close => "close",
            DropCategory::Other => "other_interest",
        }
    }

    /// saker's name of the category.
    pub fn label(self) -> &'static str {
        match self {
            DropCategory::Process => "process",
            DropCategory::Exec => "exec",
            DropCategory::Open => "open",
            DropCategory::Connect => "connect",
            DropCategory::Close => "close",
            DropCategory::Other => "other",
        }
    }
}

/// A source's own totals since it started (what `saker_driver::SourceStats`
/// holds), stored as they are by [`Metrics::set_source`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceCounters {
    /// Events the source produced.
    pub events: u64,
    /// Events lost because a buffer was full, by [`DropCategory`] (indexed
    /// in the order of [`DropCategory::ALL`]).
    pub drops_buffer: [u64; 6],
    /// Events lost because they were larger than the maximum event size.
    pub drops_too_large: u64,
    /// Events lost for any other reason.
    pub drops_other: u64,
    /// Events the kernel filters left out on purpose (not drops).
    pub filtered: u64,
}

/// One output's counters, as `saker_outputs::OutputStats` has them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputSample {
    /// `stdout`, `file`, `syslog`, `program`, `http`, `nats`.
    pub name: String,
    /// Alerts delivered.
    pub sent: u64,
    /// Alerts dropped because the output's queue was full.
    pub dropped: u64,
    /// Alerts whose delivery failed.
    pub errors: u64,
    /// Alerts waiting in the queue.
    pub queued: u64,
}

type OutputsSource = Box<dyn Fn() -> Vec<OutputSample> + Send + Sync>;

/// The counter of one rule: increment it on every match. Cloning shares it.
#[derive(Clone, Debug)]
pub struct RuleCounter(Arc<AtomicU64>);

impl RuleCounter {
    /// One more match.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Matches so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct RuleEntry {
    name: String,
    priority: u8,
    source: String,
    /// Sorted, joined with ", " (Falco's `tags` label).
    tags: String,
    count: Arc<AtomicU64>,
}

struct Inner {
    info: MetricsInfo,
    start_ns: u64,
    events: AtomicU64,
    scap_events: AtomicU64,
    drops_buffer: [AtomicU64; 6],
    drops_too_large: AtomicU64,
    drops_other: AtomicU64,
    filtered: AtomicU64,
    threads: AtomicU64,
    fds: AtomicU64,
    rules: Mutex<Vec<RuleEntry>>,
    outputs: RwLock<Option<OutputsSource>>,
    /// Rules files, then configuration files (replaced by a reload).
    files: RwLock<(Vec<FileDigest>, Vec<FileDigest>)>,
}

/// The registry every crate feeds: cheap to clone (a shared handle), safe
/// from any thread. Everything updated per event or per match is a relaxed
/// atomic; locks are taken only to register a rule, to install the outputs
/// source, and to render.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("info", &self.0.info).finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every counter at zero, started now.
    pub fn new(info: MetricsInfo) -> Metrics {
        let start_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Metrics(Arc::new(Inner {
            info,
            start_ns,
            events: AtomicU64::new(0),
            scap_events: AtomicU64::new(0),
            drops_buffer: Default::default(),
            drops_too_large: AtomicU64::new(0),
            drops_other: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            threads: AtomicU64::new(0),
            fds: AtomicU64::new(0),
            rules: Mutex::new(Vec::new()),
            outputs: RwLock::new(None),
            files: RwLock::new((Vec::new(), Vec::new())),
        }))
    }

    /// What identifies this process.
    pub fn info(&self) -> &MetricsInfo {
        &self.0.info
    }

    /// `n` more events processed by saker (`saker_n_evts_total`).
    #[inline]
    pub fn add_events(&self, n: u64) {
        self.0.events.fetch_add(n, Ordering::Relaxed);
    }

    /// Stores a source's totals (`saker_scap_*`): call it whenever the
    /// source's counters are read.
    pub fn set_source(&self, s: &SourceCounters) {
        let i = &self.0;
        i.scap_events.store(s.events, Ordering::Relaxed);
        for (slot, v) in i.drops_buffer.iter().zip(s.drops_buffer) {
            slot.store(v, Ordering::Relaxed);
        }
        i.drops_too_large.store(s.drops_too_large, Ordering::Relaxed);
        i.drops_other.store(s.drops_other, Ordering::Relaxed);
        i.filtered.store(s.filtered, Ordering::Relaxed);
    }

    /// `n` more events produced by a source that counts one by one.
    #[inline]
    pub fn add_source_events(&self, n: u64) {
        self.0.scap_events.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` more events lost because a buffer was full.
    #[inline]
    pub fn add_drops(&self, category: DropCategory, n: u64) {
        self.0.drops_buffer[category as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// `n` more events lost because they were too large.
    #[inline]
    pub fn add_drops_too_large(&self, n: u64) {
        self.0.drops_too_large.fetch_add(n, Ordering::Relaxed);
    }

    /// Threads in the thread table now (`saker_scap_n_threads`).
    #[inline]
    pub fn set_threads(&self, n: u64) {
        self.0.threads.store(n, Ordering::Relaxed);
    }

    /// File descriptors in the thread table now (`saker_scap_n_fds`).
    #[inline]
    pub fn set_fds(&self, n: u64) {
        self.0.fds.store(n, Ordering::Relaxed);
    }

    /// The counter of rule `name` (priority 0 = Emergency ... 7 = Debug, as
    /// Falco numbers them; `source` such as `syscall`), created at 0 the
    /// first time. Register rules when they are loaded and keep the
    /// counters: [`RuleCounter::inc`] is one atomic add.
    pub fn rule(&self, name: &str, priority: u8, source: &str) -> RuleCounter {
        {
            let rules = self.0.rules.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = rules.iter().find(|r| r.name == name && r.source == source) {
                return RuleCounter(r.count.clone());
            }
        }
        self.rule_with_tags::<&str>(name, priority, source, &[])
    }

    /// [`Metrics::rule`], with the rule's tags (the `tags` label). A rule
    /// registered again (a reload) keeps its count, with its new priority
    /// and tags.
    pub fn rule_with_tags<S: AsRef<str>>(&self, name: &str, priority: u8, source: &str, tags: &[S]) -> RuleCounter {
        let mut sorted: Vec<&str> = tags.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let tags = sorted.join(", ");
        let mut rules = self.0.rules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = rules.iter_mut().find(|r| r.name == name && r.source == source) {
            (r.priority, r.tags) = (priority, tags);
            return RuleCounter(r.count.clone());
        }
        let count = Arc::new(AtomicU64::new(0));
        rules.push(RuleEntry {
            name: name.to_string(),
            priority,
            source: source.to_string(),
            tags,
            count: count.clone(),
        });
        RuleCounter(count)
    }

    /// The rules and configuration files in force, with their sha256
    /// (`falcosecurity_falco_sha256_rules_files_info`,
    /// `falcosecurity_falco_sha256_config_files_info`).
    pub fn set_files(&self, rules: Vec<FileDigest>, config: Vec<FileDigest>) {
        *self.0.files.write().unwrap_or_else(|e| e.into_inner()) = (rules, config);
    }

    /// Every registered rule with its matches so far: (name, priority,
    /// source, matches), in registration order (for the exit summary).
    pub fn rule_counts(&self) -> Vec<(String, u8, String, u64)> {
        let rules = self.0.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.iter().map(|r| (r.name.clone(), r.priority, r.source.clone(), r.count.load(Ordering::Relaxed))).collect()
    }

    /// Where the outputs' counters are read from at each scrape (the binary
    /// passes a closure over `saker_outputs::Outputs::stats`).
    pub fn set_outputs_source(&self, f: impl Fn() -> Vec<OutputSample> + Send + Sync + 'static) {
        *self.0.outputs.write().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// The values of a metrics snapshot, as Falco's `metrics.output_rule`
    /// alert names them (`falco.*`, `scap.*`), in name order.
    pub fn snapshot(&self, include: &SnapshotParts) -> Vec<(String, SnapshotValue)> {
        let i = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut v: Vec<(String, SnapshotValue)> = Vec::new();
        let mut put = |k: &str, x: SnapshotValue| v.push((k.to_string(), x));
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        put("falco.version", SnapshotValue::Str(i.info.version.clone()));
        put("falco.kernel_release", SnapshotValue::Str(kernel_release()));
        put("falco.start_ts", SnapshotValue::U64(i.start_ns));
        put("falco.duration_sec", SnapshotValue::U64(now_ns.saturating_sub(i.start_ns) / 1_000_000_000));
        put("falco.host_num_cpus", SnapshotValue::U64(num_cpus()));
        put("falco.num_evts", SnapshotValue::U64(get(&i.events)));
        put("scap.engine_name", SnapshotValue::Str(i.info.engine_name.clone()));
        let outputs = i.outputs.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|f| f()).unwrap_or_default();
        put("falco.outputs_queue_num_drops", SnapshotValue::U64(outputs.iter().map(|o| o.dropped).sum()));
        {
            let files = i.files.read().unwrap_or_else(|e| e.into_inner());
            for f in &files.0 {
                put(
                    &format!("falco.sha256_rules_file.{}", key_part(&f.file_name)),
                    SnapshotValue::Str(f.sha256.clone()),
                );
            }
            for f in &files.1 {
                put(
                    &format!("falco.sha256_config_file.{}", key_part(&f.file_name)),
                    SnapshotValue::Str(f.sha256.clone()),
                );
            }
        }
        if include.rules_counters {
            let rules = i.rules.lock().unwrap_or_else(|e| e.into_inner());
            let mut total = 0;
            for r in rules.iter() {
                let n = get(&r.count);
                total += n;
                if n > 0 || include.empty_values {
                    put(&format!("falco.rules.{}", key_part(&r.name)), SnapshotValue::U64(n));
                }
            }
            put("falco.rules.matches_total", SnapshotValue::U64(total));
        }
        if include.resource_utilization
            && let Some(p) = process::sample()
        {
            put("falco.cpu_usage_perc", SnapshotValue::F64((p.cpu_ratio * 1000.0).round() / 10.0));
            if include.memory_in_mb {
                put("falco.memory_rss_mb", SnapshotValue::F64((p.rss_bytes as f64 / 1048576.0 * 10.0).round() / 10.0));
                put("falco.memory_vsz_mb", SnapshotValue::F64((p.vsz_bytes as f64 / 1048576.0 * 10.0).round() / 10.0));
            } else {
                put("falco.memory_rss", SnapshotValue::U64(p.rss_bytes));
                put("falco.memory_vsz", SnapshotValue::U64(p.vsz_bytes));
            }
        }
        if include.state_counters {
            put("scap.n_threads", SnapshotValue::U64(get(&i.threads)));
            put("scap.n_fds", SnapshotValue::U64(get(&i.fds)));
        }
        if include.kernel_event_counters {
            let buffer: Vec<u64> = i.drops_buffer.iter().map(get).collect();
            for (c, n) in DropCategory::ALL.iter().zip(&buffer) {
                if *n > 0 || include.empty_values {
                    put(&format!("scap.n_drops_buffer_{}_exit", c.falco_label()), SnapshotValue::U64(*n));
                }
            }
            let buffer_total: u64 = buffer.iter().sum();
            put("scap.n_drops_buffer_total", SnapshotValue::U64(buffer_total));
            put("scap.n_drops", SnapshotValue::U64(buffer_total + get(&i.drops_too_large) + get(&i.drops_other)));
            put("scap.n_evts", SnapshotValue::U64(get(&i.scap_events)));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every metric in Prometheus's text exposition format (version 0.0.4),
    /// with Falco's names (`falcosecurity_falco_*`, `falcosecurity_scap_*`)
    /// where Falco has the metric, and `saker_*` for saker's own.
    pub fn render_prometheus(&self) -> String {
        let i = &self.0;
        let mut w = Writer(String::with_capacity(8192));
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);

        w.family("falcosecurity_scap_engine_name_info", "gauge", "The event source's engine.");
        w.sample("falcosecurity_scap_engine_name_info", &[("engine_name", &i.info.engine_name)], 1);
        w.family("falcosecurity_falco_version_info", "gauge", "saker's version.");
        w.sample("falcosecurity_falco_version_info", &[("version", &i.info.version)], 1);
        w.family("falcosecurity_falco_kernel_release_info", "gauge", "The kernel's release.");
        w.sample("falcosecurity_falco_kernel_release_info", &[("kernel_release", &kernel_release())], 1);
        w.family("falcosecurity_evt_hostname_info", "gauge", "The host name alerts carry.");
        w.sample("falcosecurity_evt_hostname_info", &[("hostname", &i.info.hostname)], 1);
        {
            let files = i.files.read().unwrap_or_else(|e| e.into_inner());
            for (name, list) in [
                ("falcosecurity_falco_sha256_rules_files_info", &files.0),
                ("falcosecurity_falco_sha256_config_files_info", &files.1),
            ] {
                w.family(name, "gauge", "A file in force, with its sha256.");
                for f in list {
                    w.sample(name, &[("file_name", &f.file_name), ("sha256", &f.sha256)], 1);
                }
            }
        }
        w.family("falcosecurity_falco_evt_source_info", "gauge", "An event source in use.");
        w.sample("falcosecurity_falco_evt_source_info", &[("evt_source", "syscall")], 1);
        w.family("falcosecurity_falco_start_timestamp_nanoseconds", "gauge", "When saker started, since the epoch.");
        w.sample("falcosecurity_falco_start_timestamp_nanoseconds", &[], i.start_ns);
        if let Some(boot) = host_boot_ns() {
            w.family("falcosecurity_falco_host_boot_timestamp_nanoseconds", "gauge", "When the host booted.");
            w.sample("falcosecurity_falco_host_boot_timestamp_nanoseconds", &[], boot);
        }
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        w.family("falcosecurity_falco_duration_seconds_total", "counter", "Seconds since saker started.");
        w.sample("falcosecurity_falco_duration_seconds_total", &[], now_ns.saturating_sub(i.start_ns) / 1_000_000_000);
        w.family("falcosecurity_falco_host_num_cpus_total", "gauge", "CPUs of the host.");
        w.sample("falcosecurity_falco_host_num_cpus_total", &[], num_cpus());

        w.family("saker_n_evts_total", "counter", "Events processed by saker.");
        w.sample("saker_n_evts_total", &[], get(&i.events));
        w.family("falcosecurity_scap_n_evts_total", "counter", "Events produced by the event source.");
        w.sample("falcosecurity_scap_n_evts_total", &[], get(&i.scap_events));
        let buffer: Vec<u64> = i.drops_buffer.iter().map(get).collect();
        let (too_large, other) = (get(&i.drops_too_large), get(&i.drops_other));
        w.family("falcosecurity_scap_n_drops_total", "counter", "Events lost, whatever the reason.");
        w.sample("falcosecurity_scap_n_drops_total", &[], buffer.iter().sum::<u64>() + too_large + other);
        w.family(
            "falcosecurity_scap_n_drops_buffer_total",
            "counter",
            "Events lost because a buffer was full, by kind of event (saker's drivers send exit events).",
        );
        for (c, v) in DropCategory::ALL.iter().zip(&buffer) {
            w.sample("falcosecurity_scap_n_drops_buffer_total", &[("dir", "exit"), ("drop", c.falco_label())], *v);
        }
        w.family("saker_scap_n_drops_too_large_total", "counter", "Events lost because they were too large.");
        w.sample("saker_scap_n_drops_too_large_total", &[], too_large);
        w.family("saker_scap_n_drops_other_total", "counter", "Events lost for another reason.");
        w.sample("saker_scap_n_drops_other_total", &[], other);
        w.family(
            "saker_scap_n_filtered_total",
            "counter",
            "Events the kernel filters derived from the rules left out (not drops).",
        );
        w.sample("saker_scap_n_filtered_total", &[], get(&i.filtered));
        w.family("falcosecurity_scap_n_threads_total", "gauge", "Threads in the thread table.");
        w.sample("falcosecurity_scap_n_threads_total", &[], get(&i.threads));
        w.family("falcosecurity_scap_n_fds_total", "gauge", "File descriptors in the thread table.");
        w.sample("falcosecurity_scap_n_fds_total", &[], get(&i.fds));

        {
            let rules = i.rules.lock().unwrap_or_else(|e| e.into_inner());
            w.family("falcosecurity_falco_rules_matches_total", "counter", "Matches of each rule.");
            for r in rules.iter() {
                let prio = r.priority.to_string();
                w.sample(
                    "falcosecurity_falco_rules_matches_total",
                    &[("priority", &prio), ("rule_name", &r.name), ("source", &r.source), ("tags", &r.tags)],
                    get(&r.count),
                );
            }
        }

        let outputs = i.outputs.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|f| f()).unwrap_or_default();
        w.family(
            "falcosecurity_falco_outputs_queue_num_drops_total",
            "counter",
            "Alerts dropped by all outputs (queue full).",
        );
        w.sample("falcosecurity_falco_outputs_queue_num_drops_total", &[], outputs.iter().map(|o| o.dropped).sum());
        for (name, kind, help, value) in [
            (
                "saker_outputs_sent_total",
                "counter",
                "Alerts delivered, by output.",
                (|o: &OutputSample| o.sent) as fn(&OutputSample) -> u64,
            ),
            (
                "saker_outputs_dropped_total",
                "counter",
                "Alerts dropped because the output's queue was full, by output.",
                |o| o.dropped,
            ),
            ("saker_outputs_errors_total", "counter", "Alerts whose delivery failed, by output.", |o| o.errors),
            ("saker_outputs_queued", "gauge", "Alerts waiting in the output's queue.", |o| o.queued),
        ] {
            w.family(name, kind, help);
            for o in &outputs {
                w.sample(name, &[("output", &o.name)], value(o));
            }
        }

        if let Some(p) = process::sample() {
            w.family("saker_cpu_seconds_total", "counter", "CPU time used by the saker process (user + system).");
            w.sample_f64("saker_cpu_seconds_total", p.cpu_seconds);
            w.family(
                "falcosecurity_falco_cpu_usage_ratio",
                "gauge",
                "CPU time over the process's lifetime, as a fraction of one CPU (like ps).",
            );
            w.sample_f64("falcosecurity_falco_cpu_usage_ratio", p.cpu_ratio);
            w.family("falcosecurity_falco_memory_rss_bytes", "gauge", "Resident memory of the saker process.");
            w.sample("falcosecurity_falco_memory_rss_bytes", &[], p.rss_bytes);
            w.family("falcosecurity_falco_memory_vsz_bytes", "gauge", "Virtual memory of the saker process.");
            w.sample("falcosecurity_falco_memory_vsz_bytes", &[], p.vsz_bytes);
        }
        w.0
    }
}

/// Which groups a metrics snapshot holds (Falco's `metrics.*_enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotParts {
    /// `rules_counters_enabled`.
    pub rules_counters: bool,
    /// `resource_utilization_enabled`.
    pub resource_utilization: bool,
    /// `state_counters_enabled`.
    pub state_counters: bool,
    /// `kernel_event_counters_enabled`.
    pub kernel_event_counters: bool,
    /// `convert_memory_to_mb`.
    pub memory_in_mb: bool,
    /// `include_empty_values`.
    pub empty_values: bool,
}

impl Default for SnapshotParts {
    fn default() -> Self {
        SnapshotParts {
            rules_counters: true,
            resource_utilization: true,
            state_counters: true,
            kernel_event_counters: true,
            memory_in_mb: true,
            empty_values: false,
        }
    }
}

/// A value of a metrics snapshot.
#[derive(Clone, Debug, PartialEq)]
pub enum SnapshotValue {
    /// A count or a time.
    U64(u64),
    /// A ratio or a size in MiB.
    F64(f64),
    /// A version, a name, a digest.
    Str(String),
}

/// A name as a part of a snapshot key (Falco's: spaces and dots become `_`).
fn key_part(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn num_cpus() -> u64 {
    std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1)
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The host's boot time (`btime` of /proc/stat), in ns since the epoch.
fn host_boot_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let secs: u64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(secs * 1_000_000_000)
}

struct Writer(String);

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (k, (label, v)) in labels.iter().enumerate() {
                if k > 0 {
                    self.0.push(',');
                }
                self.0.push_str(label);
                self.0.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.0.push_str("\\\\"),
                        '"' => self.0.push_str("\\\""),
                        '\n' => self.0.push_str("\\n"),
                        c => self.0.push(c),
                    }
                }
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn sample_f64(&mut self, name: &str, value: f64) {
        let _ = writeln!(self.0, "{name} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_escaped_labels() {
        let m = Metrics::new(MetricsInfo {
            version: "0.1.0".into(),
            hostname: "h\"1".into(),
            engine_name: "modern_ebpf".into(),
        });
        m.set_files(
            vec![FileDigest { file_name: "falco_rules.yaml".into(), sha256: "ab12".into() }],
            vec![FileDigest { file_name: "falco.yaml".into(), sha256: "cd34".into() }],
        );
        m.add_events(5);
        m.set_source(&SourceCounters {
            events: 10,
            drops_buffer: [1, 2, 3, 4, 5, 6],
            drops_too_large: 7,
            drops_other: 8,
            filtered: 9,
        });
        m.add_drops(DropCategory::Exec, 10);
        m.set_threads(42);
        m.set_fds(420);
        let r =
            m.rule_with_tags("Terminal shell\nin container", 4, "syscall", &["mitre_execution", "container", "shell"]);
        r.inc();
        r.inc();
        assert_eq!(m.rule("Terminal shell\nin container", 4, "syscall").get(), 2);
        m.set_outputs_source(|| vec![OutputSample { name: "http".into(), sent: 3, dropped: 2, errors: 1, queued: 0 }]);
        let t = m.render_prometheus();
        for line in [
            "falcosecurity_falco_version_info{version=\"0.1.0\"} 1",
            "falcosecurity_scap_engine_name_info{engine_name=\"modern_ebpf\"} 1",
            "falcosecurity_evt_hostname_info{hostname=\"h\\\"1\"} 1",
            "falcosecurity_falco_sha256_rules_files_info{file_name=\"falco_rules.yaml\",sha256=\"ab12\"} 1",
            "falcosecurity_falco_sha256_config_files_info{file_name=\"falco.yaml\",sha256=\"cd34\"} 1",
            "falcosecurity_falco_evt_source_info{evt_source=\"syscall\"} 1",
            "saker_n_evts_total 5",
            "falcosecurity_scap_n_evts_total 10",
            "falcosecurity_scap_n_drops_total 46",
            "falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"execve\"} 12",
            "falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"other_interest\"} 6",
            "saker_scap_n_drops_too_large_total 7",
            "saker_scap_n_drops_other_total 8",
            "saker_scap_n_filtered_total 9",
            "falcosecurity_scap_n_threads_total 42",
            "falcosecurity_scap_n_fds_total 420",
            "falcosecurity_falco_rules_matches_total{priority=\"4\",rule_name=\"Terminal shell\\nin container\",source=\"syscall\",tags=\"container, mitre_execution, shell\"} 2",
            "falcosecurity_falco_outputs_queue_num_drops_total 2",
            "saker_outputs_sent_total{output=\"http\"} 3",
            "saker_outputs_errors_total{output=\"http\"} 1",
            "# TYPE falcosecurity_falco_memory_rss_bytes gauge",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
        // One HELP and one TYPE per family.
        let types: Vec<&str> = t.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let mut unique = types.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(types.len(), unique.len());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(
            t.contains(&format!("falcosecurity_falco_kernel_release_info{{kernel_release=\"{}\"}} 1", kernel.trim()))
        );
        // The snapshot of metrics.output_rule.
        let snap = m.snapshot(&SnapshotParts::default());
        let get = |k: &str| snap.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("falco.rules.Terminal_shell_in_container"), Some(SnapshotValue::U64(2)));
        assert_eq!(get("falco.rules.matches_total"), Some(SnapshotValue::U64(2)));
        assert_eq!(get("falco.sha256_rules_file.falco_rules_yaml"), Some(SnapshotValue::Str("ab12".into())));
        assert_eq!(get("scap.n_drops_buffer_execve_exit"), Some(SnapshotValue::U64(12)));
        assert_eq!(get("scap.n_drops"), Some(SnapshotValue::U64(46)));
        assert_eq!(get("scap.n_threads"), Some(SnapshotValue::U64(42)));
        assert!(get("falco.memory_rss_mb").is_some());
        let none = SnapshotParts { rules_counters: false, kernel_event_counters: false, ..SnapshotParts::default() };
        let snap = m.snapshot(&none);
        assert!(snap.iter().all(|(k, _)| !k.starts_with("falco.rules.") && !k.starts_with("scap.n_drops")), "{snap:?}");
    }
}
