//! Reloading the rules and the configuration while `saker detect` runs: on
//! SIGHUP, and when `watch_config_files` sees a configuration or rules file
//! change.
//!
//! Unlike Falco, which restarts its whole pipeline on a reload, saker keeps
//! the source and the state running and only swaps the rules engine (with
//! [`saker_engine::EngineSwap`], between two events): no event is lost, and
//! the processes and fds seen before the reload are still known after it.
//! A new configuration or ruleset that does not load or compile is refused
//! with the error logged, and the rules in force keep running.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use saker_config::Config;
use saker_engine::{Engine, EngineSwap};
use saker_metrics::{Metrics, RuleCounter};

use crate::log;

/// How often `watch_config_files` looks at the files.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// What the alert sink reads that a reload changes. Read once per alert
/// (not per event), under a read lock nobody holds but a reload.
pub struct SinkState {
    /// The match counter of each rule.
    pub counters: HashMap<String, RuleCounter>,
    /// `static_fields`, added to every alert.
    pub static_fields: Vec<(String, String)>,
}

/// The rules in force and what goes with them, as built from the
/// configuration and the rules files.
pub struct Built {
    pub config: Config,
    pub load: saker_rules::LoadResult,
    pub engine: Engine,
    pub static_fields: Vec<(String, String)>,
    /// The system calls a live driver must capture for them (`None`: all).
    pub syscalls: Option<BTreeSet<String>>,
    /// The kernel's open filter for them (`None`: every open).
    pub open_filter: Option<saker_driver::kernel_filter::OpenFilter>,
    /// The rules files loaded, in order.
    pub rules_files: Vec<PathBuf>,
}

/// What a reload needs to rebuild and install the rules.
pub struct Reloader {
    /// Builds the rules from the files (the same steps as at start).
    pub build: Box<dyn Fn() -> Result<Built, String> + Send>,
    pub swap: EngineSwap,
    pub sink: Arc<RwLock<SinkState>>,
    pub metrics: Metrics,
    /// Whether the source is live (whose system calls follow the rules).
    pub live: bool,
    /// The files `watch_config_files` watches (updated by each reload).
    pub watched: Arc<Mutex<Vec<PathBuf>>>,
    /// The configuration at start, to name the keys a reload cannot apply.
    pub started_with: Config,
}

/// Top-level keys whose change a reload applies; others need a restart.
const RELOADED: &[&str] = &[
    "rules_files",
    "rules_file",
    "rule_files",
    "rules",
    "rule_matching",
    "priority",
    "append_output",
    "static_fields",
    "base_syscalls",
    "log_level",
    "log_stderr",
    "log_syslog",
    "watch_config_files",
    "config_files",
];

impl Reloader {
    /// Handles reload requests until every sender is gone.
    pub fn serve(self, requests: Receiver<&'static str>) {
        while let Ok(why) = requests.recv() {
            // Requests queued behind this one ask for the same thing.
            while requests.try_recv().is_ok() {}
            log::info(format!("reloading the rules and the configuration ({why})"));
            match self.reload() {
                Ok(summary) => log::info(summary),
                Err(e) => log::error(format!("reload refused, the rules in force keep running: {e}")),
            }
        }
    }

    fn reload(&self) -> Result<String, String> {
        let built = (self.build)()?;
        let Built { config, load, engine, static_fields, syscalls, open_filter, rules_files } = built;
        let mut counters = HashMap::with_capacity(load.rules.len());
        for r in &load.rules {
            counters.insert(r.name.clone(), crate::detect::rule_counter(&self.metrics, r));
        }
        crate::detect::set_file_digests(&self.metrics, &rules_files, config.files());
        let rules = engine.len();
        match &syscalls {
            Some(set) if self.live => log::debug(format!(
                "system calls the new rules need: {}",
                set.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            _ => {}
        }
        let change: Option<saker_engine::SourceChange> = self.live.then(|| {
            let wanted = syscalls.clone();
            Box::new(move |source: &mut dyn saker_driver::EventSource| {
                match source.set_syscalls(wanted.as_ref()) {
                    Ok(true) => {}
                    Ok(false) => log::warn(
                        "the driver cannot change its system calls while running; restart to capture what the new rules need",
                    ),
                    Err(e) => log::error(format!(
                        "cannot capture every system call the new rules need ({e}); restart to capture them"
                    )),
                }
                match source.set_open_filter(open_filter.as_ref()) {
                    Ok(true) => crate::detect::log_open_filter(open_filter.as_ref()),
                    Ok(false) => {}
                    Err(e) => log::warn(format!(
                        "cannot change the kernel filters ({e}); every open is sent until the next start"
                    )),
                }
            }) as saker_engine::SourceChange
        });
        self.swap.offer(engine, change);
        {
            let mut s = self.sink.write().unwrap_or_else(|p| p.into_inner());
            s.counters = counters;
            s.static_fields = static_fields;
        }
        if let Ok(c) = log::config_from(&config) {
            log::configure(c);
        }
        let mut watched: Vec<PathBuf> = config.files().to_vec();
        watched.extend(rules_files.iter().cloned());
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) = watched;
        let restart = keys_needing_restart(&self.started_with, &config);
        if !restart.is_empty() {
            log::warn(format!("changed keys that take effect at the next start only: {}", restart.join(", ")));
        }
        Ok(format!("reloaded: {} rules files, {} rules ({} enabled)", rules_files.len(), load.rules.len(), rules))
    }
}

/// The top-level keys whose values differ and that a reload does not apply.
fn keys_needing_restart(old: &Config, new: &Config) -> Vec<String> {
    let (Some(a), Some(b)) = (old.root().as_mapping(), new.root().as_mapping()) else { return Vec::new() };
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for k in a.keys().chain(b.keys()) {
        let Some(name) = k.as_str() else { continue };
        if !RELOADED.contains(&name) && a.get(k) != b.get(k) {
            keys.insert(name.to_string());
        }
    }
    keys.into_iter().collect()
}

/// A file's inode, size and modification time (seconds, nanoseconds).
type FileStamp = (u64, u64, i64, i64);

/// The state of the watched files: each file's identity, size and time;
/// a directory's files in name order.
fn snapshot(roots: &[PathBuf]) -> Vec<(PathBuf, Option<FileStamp>)> {
    let stat = |p: &PathBuf| std::fs::metadata(p).ok().map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()));
    let mut out = Vec::new();
    for r in roots {
        if r.is_dir() {
            let mut inside: Vec<PathBuf> =
                std::fs::read_dir(r).into_iter().flatten().flatten().map(|e| e.path()).collect();
            inside.sort();
            out.push((r.clone(), None));
            for f in inside {
                let s = stat(&f);
                out.push((f, s));
            }
        } else {
            out.push((r.clone(), stat(r)));
        }
    }
    out
}

/// `watch_config_files`: asks for a reload when a watched file (or a file
/// of a watched directory) is created, changed or removed. It polls, at
/// [`WATCH_EVERY`], rather than use inotify: editors replace files by
/// renaming, and configuration files may be symbolic links (Kubernetes
/// ConfigMaps) whose targets change; comparing what `stat` says catches all
/// of these, at the cost of a few `stat` calls twice a second.
pub fn watch(watched: Arc<Mutex<Vec<PathBuf>>>, requests: Sender<&'static str>) -> std::io::Result<()> {
    std::thread::Builder::new().name("saker-watch".into()).spawn(move || {
        let roots = || watched.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut last_roots = roots();
        let mut last = snapshot(&last_roots);
        loop {
            std::thread::sleep(WATCH_EVERY);
            let now_roots = roots();
            let now = snapshot(&now_roots);
            if now_roots != last_roots {
                // A reload changed what is watched: that is no change of a file.
                (last_roots, last) = (now_roots, now);
                continue;
            }
            if now != last {
                // A file being written may be caught half-way: wait for it
                // to settle, so the reload reads what the writer meant.
                std::thread::sleep(WATCH_EVERY / 2);
                last = snapshot(&roots());
                if requests.send("a configuration or rules file changed").is_err() {
                    return;
                }
            }
        }
    })?;
    Ok(())
}
