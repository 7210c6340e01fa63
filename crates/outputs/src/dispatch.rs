//! [`Outputs`]: one thread and one bounded queue per enabled output.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, select, unbounded};

use crate::alert::{Alert, Priority};
use crate::config::{DEFAULT_QUEUE_CAPACITY, OutputsConfig};
use crate::error::{DeliveryError, Error};
use crate::format::Encoder;
use crate::sinks::{self, Sink};

/// An alert encoded once, shared by every output's queue.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// For syslog's severity.
    pub priority: Priority,
    /// The line stdout, file, syslog, program and HTTP write: JSON if
    /// `json_output`, else text.
    pub line: String,
    /// Falco's JSON, for NATS, when `line` is text.
    pub json: Option<String>,
}

impl Rendered {
    /// The JSON encoding, whatever `json_output` says.
    pub fn json(&self) -> &str {
        self.json.as_deref().unwrap_or(&self.line)
    }
}

/// Counters of one output. Updated with atomics; read at any time.
#[derive(Debug)]
pub(crate) struct Counters {
    name: &'static str,
    sent: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn new(name: &'static str) -> Self {
        Counters {
            name,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub(crate) fn sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, n: u64, e: &DeliveryError) {
        self.errors.fetch_add(n, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e.to_string());
        }
    }
}

/// What one output did so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputStats {
    /// `stdout`, `file`, `syslog`, `program`, `http` or `nats`.
    pub name: &'static str,
    /// Alerts delivered (for HTTP: answered with 2xx; for NATS: acknowledged
    /// by the JetStream server).
    pub sent: u64,
    /// Alerts dropped without a try: the queue was full when they were
    /// emitted, or they were still queued when shutdown ran out of time.
    pub dropped: u64,
    /// Alerts whose delivery failed (counted once per alert, after retries).
    pub errors: u64,
    /// Alerts waiting in the queue now.
    pub queued: usize,
    /// The last delivery error, if any.
    pub last_error: Option<String>,
}

impl OutputStats {
    /// Alerts this output lost, one way or another.
    pub fn lost(&self) -> u64 {
        self.dropped + self.errors
    }
}

/// What [`Outputs::shutdown`] managed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Outputs that delivered (or failed) everything queued and closed in time.
    pub finished: Vec<&'static str>,
    /// Outputs still busy at the deadline (left running detached; what they
    /// still held is counted as dropped).
    pub unfinished: Vec<&'static str>,
}

enum Ctrl {
    /// Deliver what is queued, then flush, then acknowledge.
    Flush(Sender<()>),
    /// Close and reopen files and programs (Falco's SIGUSR1).
    Reopen,
    /// Deliver what is queued, close, and end the thread.
    Stop,
}

struct Lane {
    counters: Arc<Counters>,
    data: Sender<Arc<Rendered>>,
    ctrl: Sender<Ctrl>,
    abort: Arc<AtomicBool>,
    done: Receiver<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The outputs of a saker process: built from the configuration, fed by
/// [`Outputs::emit`] from any thread.
///
/// Every enabled output has its own thread and its own bounded queue, so a
/// slow or dead destination only fills its own queue: `emit` never waits,
/// and what an output cannot take is counted as dropped for that output.
/// Call [`Outputs::shutdown`] before exiting to deliver what is queued;
/// dropping `Outputs` only asks the threads to finish, without waiting.
pub struct Outputs {
    encoder: Encoder,
    min_priority: Priority,
    separate_json: bool,
    lanes: Vec<Lane>,
    closed: AtomicBool,
}

impl Outputs {
    /// Starts the enabled outputs of `config`. Fails if an enabled output
    /// lacks a required key or has an unusable one (a certificate that
    /// cannot be read...). Destinations that are down are not an error:
    /// their alerts count as errors until they come back.
    pub fn new(config: &OutputsConfig) -> Result<Outputs, Error> {
        Self::with_encoder(config, Encoder::new(config))
    }

    /// Like [`Outputs::new`], with a given encoder (to fix the time zone).
    pub fn with_encoder(config: &OutputsConfig, encoder: Encoder) -> Result<Outputs, Error> {
        let capacity = match config.outputs_queue.capacity {
            0 => DEFAULT_QUEUE_CAPACITY,
            n => n,
        };
        let built = sinks::build(config)?;
        let separate_json = !config.json_output && built.iter().any(|s| s.name() == "nats");
        let mut lanes = Vec::with_capacity(built.len());
        for sink in built {
            let name = sink.name();
            let counters = Arc::new(Counters::new(name));
            let (data_tx, data_rx) = bounded::<Arc<Rendered>>(capacity);
            let (ctrl_tx, ctrl_rx) = unbounded::<Ctrl>();
            let (done_tx, done_rx) = bounded::<()>(1);
            let abort = Arc::new(AtomicBool::new(false));
            let worker =
                Worker { sink, data: data_rx, ctrl: ctrl_rx, counters: counters.clone(), abort: abort.clone() };
            let thread = std::thread::Builder::new()
                .name(format!("saker-out-{name}"))
                .spawn(move || {
                    worker.run();
                    let _ = done_tx.send(());
                })
                .map_err(|source| Error::Thread { output: name, source })?;
            lanes.push(Lane {
                counters,
                data: data_tx,
                ctrl: ctrl_tx,
                abort,
                done: done_rx,
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(Outputs { encoder, min_priority: config.priority, separate_json, lanes, closed: AtomicBool::new(false) })
    }

    /// The names of the enabled outputs, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        self.lanes.iter().map(|l| l.counters.name).collect()
    }

    /// The encoder alerts go through.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Encodes `alert` once and queues it on every output. Never blocks: an
    /// output whose queue is full counts a drop. Alerts less severe than
    /// `priority` are ignored. Returns how many outputs took the alert.
    pub fn emit(&self, alert: &Alert) -> usize {
        if !alert.priority.at_least(self.min_priority) || self.lanes.is_empty() {
            return 0;
        }
        if self.closed.load(Ordering::Relaxed) {
            for l in &self.lanes {
                l.counters.dropped(1);
            }
            return 0;
        }
        let rendered = Arc::new(Rendered {
            priority: alert.priority,
            line: self.encoder.line(alert),
            json: self.separate_json.then(|| self.encoder.json(alert)),
        });
        let mut queued = 0;
        for l in &self.lanes {
            match l.data.try_send(rendered.clone()) {
                Ok(()) => queued += 1,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => l.counters.dropped(1),
            }
        }
        queued
    }

    /// Counters of every output.
    pub fn stats(&self) -> Vec<OutputStats> {
        self.lanes
            .iter()
            .map(|l| OutputStats {
                name: l.counters.name,
                sent: l.counters.sent.load(Ordering::Relaxed),
                dropped: l.counters.dropped.load(Ordering::Relaxed),
                errors: l.counters.errors.load(Ordering::Relaxed),
                queued: l.data.len(),
                last_error: l.counters.last_error.lock().ok().and_then(|e| e.clone()),
            })
            .collect()
    }

    /// Alerts dropped by all outputs together (Falco's
    /// `outputs_queue_num_drops`).
    pub fn dropped_total(&self) -> u64 {
        self.lanes.iter().map(|l| l.counters.dropped.load(Ordering::Relaxed)).sum()
    }

    /// Waits until every output has delivered what was queued before the
    /// call and flushed its buffers, or `timeout` passed. True if all did.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let acks: Vec<Receiver<()>> = self
            .lanes
            .iter()
            .filter_map(|l| {
                let (tx, rx) = bounded(1);
                l.ctrl.send(Ctrl::Flush(tx)).ok().map(|_| rx)
            })
            .collect();
        let sent = acks.len() == self.lanes.len();
        acks.iter().all(|rx| rx.recv_deadline(deadline).is_ok()) && sent
    }

    /// Closes and reopens the file output's file and restarts the program
    /// output's program (what Falco does on SIGUSR1, for log rotation).
    pub fn reopen(&self) {
        for l in &self.lanes {
            let _ = l.ctrl.send(Ctrl::Reopen);
        }
    }

    /// Stops taking alerts, lets every output deliver what it has queued and
    /// close, and waits for that up to `timeout`. Outputs still busy then
    /// are told to give up: what they still hold counts as dropped, and
    /// their threads are left to end on their own. Later calls to
    /// [`Outputs::emit`] count a drop on every output.
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        self.closed.store(true, Ordering::Relaxed);
        for l in &self.lanes {
            let _ = l.ctrl.send(Ctrl::Stop);
        }
        let mut report = ShutdownReport::default();
        for l in &self.lanes {
            let ended = l.done.recv_deadline(deadline).is_ok()
                || l.thread.lock().ok().and_then(|t| t.as_ref().map(JoinHandle::is_finished)).unwrap_or(true);
            if ended {
                if let Some(t) = l.thread.lock().ok().and_then(|mut t| t.take()) {
                    let _ = t.join();
                }
                report.finished.push(l.counters.name);
            } else {
                l.abort.store(true, Ordering::Relaxed);
                report.unfinished.push(l.counters.name);
            }
        }
        report
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for l in &self.lanes {
            let _ = l.ctrl.send(Ctrl::Stop);
        }
    }
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs").field("outputs", &self.names()).finish()
    }
}

/// How many queued alerts one delivery call takes at most.
const BATCH: usize = 256;

struct Worker {
    sink: Box<dyn Sink>,
    data: Receiver<Arc<Rendered>>,
    ctrl: Receiver<Ctrl>,
    counters: Arc<Counters>,
    abort: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Arc<Rendered>> = Vec::with_capacity(BATCH);
        loop {
            select! {
                recv(self.ctrl) -> c => match c {
                    Ok(Ctrl::Flush(ack)) => {
                        self.drain(&mut batch);
                        if let Err(e) = self.sink.flush() {
                            self.counters.failed(0, &e);
                        }
                        let _ = ack.send(());
                    }
                    Ok(Ctrl::Reopen) => {
                        if let Err(e) = self.sink.reopen() {
                            self.counters.failed(0, &e);
                        }
                    }
                    Ok(Ctrl::Stop) | Err(_) => {
                        self.drain(&mut batch);
                        self.sink.close();
                        return;
                    }
                },
                recv(self.data) -> m => match m {
                    Ok(m) => {
                        batch.push(m);
                        while batch.len() < BATCH {
                            match self.data.try_recv() {
                                Ok(m) => batch.push(m),
                                Err(_) => break,
                            }
                        }
                        self.deliver(&mut batch);
                    }
                    Err(_) => {
                        self.sink.close();
                        return;
                    }
                },
            }
        }
    }

    /// Delivers everything queued now, unless told to give up.
    fn drain(&mut self, batch: &mut Vec<Arc<Rendered>>) {
        loop {
            while batch.len() < BATCH {
                match self.data.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            self.deliver(batch);
        }
    }

    fn deliver(&mut self, batch: &mut Vec<Arc<Rendered>>) {
        if self.abort.load(Ordering::Relaxed) {
            let left = batch.len() + self.data.len();
            self.counters.dropped(left as u64);
            batch.clear();
            while self.data.try_recv().is_ok() {}
            return;
        }
        self.sink.write_batch(batch, &self.counters, &self.abort);
        batch.clear();
    }
}
