//! The counters and gauges, and their Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::process;

/// What identifies this process in the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsInfo {
    /// saker's version (`saker_version_info{version}`).
    pub version: String,
    /// The host name alerts carry (`saker_evt_hostname_info{hostname}`).
    pub hostname: String,
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

    /// The `drop` label's value.
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
    threads: AtomicU64,
    fds: AtomicU64,
    rules: Mutex<Vec<RuleEntry>>,
    outputs: RwLock<Option<OutputsSource>>,
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
            threads: AtomicU64::new(0),
            fds: AtomicU64::new(0),
            rules: Mutex::new(Vec::new()),
            outputs: RwLock::new(None),
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
        let mut rules = self.0.rules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = rules.iter().find(|r| r.name == name && r.source == source) {
            return RuleCounter(r.count.clone());
        }
        let count = Arc::new(AtomicU64::new(0));
        rules.push(RuleEntry { name: name.to_string(), priority, source: source.to_string(), count: count.clone() });
        RuleCounter(count)
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

    /// Every metric in Prometheus's text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let i = &self.0;
        let mut w = Writer(String::with_capacity(8192));
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);

        w.family("saker_version_info", "gauge", "saker's version.");
        w.sample("saker_version_info", &[("version", &i.info.version)], 1);
        w.family("saker_evt_hostname_info", "gauge", "The host name alerts carry.");
        w.sample("saker_evt_hostname_info", &[("hostname", &i.info.hostname)], 1);
        w.family("saker_start_timestamp_nanoseconds", "gauge", "When saker started, nanoseconds since the epoch.");
        w.sample("saker_start_timestamp_nanoseconds", &[], i.start_ns);
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        w.family("saker_duration_seconds_total", "counter", "Seconds since saker started.");
        w.sample("saker_duration_seconds_total", &[], now_ns.saturating_sub(i.start_ns) / 1_000_000_000);
        w.family("saker_host_num_cpus_total", "gauge", "CPUs of the host.");
        w.sample(
            "saker_host_num_cpus_total",
            &[],
            std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1),
        );

        w.family("saker_n_evts_total", "counter", "Events processed by saker.");
        w.sample("saker_n_evts_total", &[], get(&i.events));
        w.family("saker_scap_n_evts_total", "counter", "Events produced by the event source.");
        w.sample("saker_scap_n_evts_total", &[], get(&i.scap_events));
        let buffer: Vec<u64> = i.drops_buffer.iter().map(get).collect();
        let (too_large, other) = (get(&i.drops_too_large), get(&i.drops_other));
        w.family("saker_scap_n_drops_total", "counter", "Events lost, whatever the reason.");
        w.sample("saker_scap_n_drops_total", &[], buffer.iter().sum::<u64>() + too_large + other);
        w.family(
            "saker_scap_n_drops_buffer_total",
            "counter",
            "Events lost because a buffer was full, by kind of event.",
        );
        for (c, v) in DropCategory::ALL.iter().zip(&buffer) {
            w.sample("saker_scap_n_drops_buffer_total", &[("drop", c.label())], *v);
        }
        w.family("saker_scap_n_drops_too_large_total", "counter", "Events lost because they were too large.");
        w.sample("saker_scap_n_drops_too_large_total", &[], too_large);
        w.family("saker_scap_n_drops_other_total", "counter", "Events lost for another reason.");
        w.sample("saker_scap_n_drops_other_total", &[], other);
        w.family("saker_scap_n_threads", "gauge", "Threads in the thread table.");
        w.sample("saker_scap_n_threads", &[], get(&i.threads));
        w.family("saker_scap_n_fds", "gauge", "File descriptors in the thread table.");
        w.sample("saker_scap_n_fds", &[], get(&i.fds));

        {
            let rules = i.rules.lock().unwrap_or_else(|e| e.into_inner());
            w.family("saker_rules_matches_total", "counter", "Matches of each rule.");
            for r in rules.iter() {
                let prio = r.priority.to_string();
                w.sample(
                    "saker_rules_matches_total",
                    &[("priority", &prio), ("rule_name", &r.name), ("source", &r.source)],
                    get(&r.count),
                );
            }
        }

        let outputs = i.outputs.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|f| f()).unwrap_or_default();
        w.family("saker_outputs_queue_num_drops_total", "counter", "Alerts dropped by all outputs (queue full).");
        w.sample("saker_outputs_queue_num_drops_total", &[], outputs.iter().map(|o| o.dropped).sum());
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
                "saker_cpu_usage_ratio",
                "gauge",
                "CPU time over the process's lifetime, as a fraction of one CPU (like ps).",
            );
            w.sample_f64("saker_cpu_usage_ratio", p.cpu_ratio);
            w.family("saker_memory_rss_bytes", "gauge", "Resident memory of the saker process.");
            w.sample("saker_memory_rss_bytes", &[], p.rss_bytes);
            w.family("saker_memory_vsz_bytes", "gauge", "Virtual memory of the saker process.");
            w.sample("saker_memory_vsz_bytes", &[], p.vsz_bytes);
        }
        w.0
    }
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
        let m = Metrics::new(MetricsInfo { version: "0.1.0".into(), hostname: "h\"1".into() });
        m.add_events(5);
        m.set_source(&SourceCounters {
            events: 10,
            drops_buffer: [1, 2, 3, 4, 5, 6],
            drops_too_large: 7,
            drops_other: 8,
        });
        m.add_drops(DropCategory::Exec, 10);
        m.set_threads(42);
        m.set_fds(420);
        let r = m.rule("Terminal shell\nin container", 4, "syscall");
        r.inc();
        r.inc();
        assert_eq!(m.rule("Terminal shell\nin container", 4, "syscall").get(), 2);
        m.set_outputs_source(|| vec![OutputSample { name: "http".into(), sent: 3, dropped: 2, errors: 1, queued: 0 }]);
        let t = m.render_prometheus();
        for line in [
            "saker_version_info{version=\"0.1.0\"} 1",
            "saker_evt_hostname_info{hostname=\"h\\\"1\"} 1",
            "saker_n_evts_total 5",
            "saker_scap_n_evts_total 10",
            "saker_scap_n_drops_total 46",
            "saker_scap_n_drops_buffer_total{drop=\"exec\"} 12",
            "saker_scap_n_drops_buffer_total{drop=\"other\"} 6",
            "saker_scap_n_drops_too_large_total 7",
            "saker_scap_n_drops_other_total 8",
            "saker_scap_n_threads 42",
            "saker_scap_n_fds 420",
            "saker_rules_matches_total{priority=\"4\",rule_name=\"Terminal shell\\nin container\",source=\"syscall\"} 2",
            "saker_outputs_queue_num_drops_total 2",
            "saker_outputs_sent_total{output=\"http\"} 3",
            "saker_outputs_errors_total{output=\"http\"} 1",
            "# TYPE saker_memory_rss_bytes gauge",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
        // One HELP and one TYPE per family.
        let types: Vec<&str> = t.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let mut unique = types.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(types.len(), unique.len());
    }
}
