//! Running an event source through the state and the rules, on one thread
//! or several.
//!
//! With several workers, the reading thread gathers events into batches and
//! hands every batch to every worker. Each worker keeps its own copy of the
//! state (all of it: a rule about a process reads its parent and ancestors)
//! and evaluates the rules only for the processes of its partition, chosen
//! by thread-group id. So the alerts of one process always come from one
//! worker, in event order, while the evaluation work is shared.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};
use saker_abi::Event;
use saker_driver::{EventSource, Next, SourceError, SourceStats};
use saker_fields::{EventContext, TimeFormatter};
use saker_metrics::Metrics;
use saker_outputs::Alert;
use saker_state::State;

use crate::engine::{Engine, evaluated};

/// Events per batch handed to workers.
const BATCH_EVENTS: usize = 512;
/// Batches in flight per worker before the reader waits.
const BATCHES_IN_FLIGHT: usize = 16;
/// A batch of live events is handed to the workers once it spans this much
/// time (by the events' clocks), even if not full: a host that is quiet but
/// never idle long enough for the source to say so would otherwise hold an
/// alert back until 512 events have come (seconds at 100 events/s).
const LIVE_BATCH_SPAN_NS: u64 = 10_000_000;
/// Events this close to the wall clock are live ones (replayed events are
/// not held back: a batch of a capture is read at once, whatever it spans).
const LIVE_WINDOW_NS: u64 = 1_000_000_000;
/// Events between two updates of the event counter in the metrics.
const METRICS_EVERY: u64 = 4096;
/// Events between two reports of the state's table sizes (counting fds
/// walks the thread table).
const STATE_REPORT_EVERY: u64 = 1 << 20;

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events read from the source.
    pub events: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// The source's own counters at the end.
    pub source: SourceStats,
}

/// Where alerts go; called from worker threads.
pub type AlertSink = Arc<dyn Fn(Alert) + Send + Sync>;

/// Called by the reading thread when the source is idle, at least every
/// [`TICK_NS`] of event time while it is busy (a host is never idle long
/// enough for a live driver to say so, and drops happen when it is busiest),
/// and at the end, with the source's counters (for drop handling and
/// metrics). Returning false stops the run.
pub type IdleHook<'a> = &'a mut dyn FnMut(&SourceStats) -> bool;

/// Event time between two calls of the [`IdleHook`] on a busy source.
pub const TICK_NS: u64 = 100_000_000;

/// Says when [`TICK_NS`] of event time has passed; one comparison per event.
struct Ticker {
    next: u64,
}

impl Ticker {
    fn new() -> Ticker {
        Ticker { next: 0 }
    }

    #[inline]
    fn due(&mut self, ts: u64) -> bool {
        if ts < self.next {
            return false;
        }
        self.next = ts.saturating_add(TICK_NS);
        true
    }
}

/// What a source must do when a new engine takes over (enable the system
/// calls the new rules need); run on the reading thread, between two events.
pub type SourceChange = Box<dyn FnOnce(&mut dyn EventSource) + Send>;

/// A new engine for a running [`run_swappable`], offered from any thread
/// (a SIGHUP, a changed rules file). The reading thread takes it between
/// two events, so every event is evaluated by exactly one of the two
/// engines and the state carries on untouched: a reload loses no event.
/// Cloning shares it.
#[derive(Clone, Default)]
pub struct EngineSwap(Arc<SwapInner>);

#[derive(Default)]
struct SwapInner {
    /// Checked once per event: one relaxed load, the offer's lock is taken
    /// only when it is set.
    pending: AtomicBool,
    next: Mutex<Option<(Engine, Option<SourceChange>)>>,
    /// Engines taken so far.
    swaps: std::sync::atomic::AtomicU64,
}

impl EngineSwap {
    /// A swap with nothing offered.
    pub fn new() -> EngineSwap {
        EngineSwap::default()
    }

    /// Offers `engine` (replacing an offer not taken yet), with what the
    /// source must change when it takes over.
    pub fn offer(&self, engine: Engine, change: Option<SourceChange>) {
        *self.0.next.lock().unwrap_or_else(|p| p.into_inner()) = Some((engine, change));
        self.0.pending.store(true, Ordering::Release);
    }

    /// How many offers the running pipeline has taken.
    pub fn taken(&self) -> u64 {
        self.0.swaps.load(Ordering::Acquire)
    }

    #[inline]
    fn take(&self) -> Option<(Engine, Option<SourceChange>)> {
        if !self.0.pending.load(Ordering::Relaxed) {
            return None;
        }
        self.0.pending.store(false, Ordering::Relaxed);
        let taken = self.0.next.lock().unwrap_or_else(|p| p.into_inner()).take();
        if taken.is_some() {
            self.0.swaps.fetch_add(1, Ordering::AcqRel);
        }
        taken
    }
}

/// Reads `source` to its end (or until it is stopped), keeping `state` up
/// to date and evaluating `engine` on every event, on `workers` threads
/// (1 = on the calling thread). `metrics`, if given, receives the event
/// count and the state's table sizes.
pub fn run(
    source: &mut dyn EventSource,
    state: State,
    engine: Engine,
    workers: usize,
    sink: AlertSink,
    metrics: Option<Metrics>,
    on_idle: IdleHook<'_>,
) -> Result<RunStats, SourceError> {
    run_swappable(source, state, engine, workers, sink, metrics, on_idle, &EngineSwap::new())
}

/// [`run`], taking the engines offered to `swap` while it runs.
#[allow(clippy::too_many_arguments)]
pub fn run_swappable(
    source: &mut dyn EventSource,
    state: State,
    engine: Engine,
    workers: usize,
    sink: AlertSink,
    metrics: Option<Metrics>,
    on_idle: IdleHook<'_>,
    swap: &EngineSwap,
) -> Result<RunStats, SourceError> {
    if workers <= 1 {
        run_inline(source, state, engine, sink, metrics, on_idle, swap)
    } else {
        run_parallel(source, state, engine, workers, sink, metrics, on_idle, swap)
    }
}

fn report_state(metrics: &Option<Metrics>, state: &State) {
    if let Some(m) = metrics {
        m.set_threads(state.thread_count() as u64);
        m.set_fds(state.fd_count() as u64);
    }
}

fn run_inline(
    source: &mut dyn EventSource,
    mut state: State,
    mut engine: Engine,
    sink: AlertSink,
    metrics: Option<Metrics>,
    on_idle: IdleHook<'_>,
    swap: &EngineSwap,
) -> Result<RunStats, SourceError> {
    let time = TimeFormatter::default();
    let mut stats = RunStats::default();
    let (mut reported, mut passed_over) = (0, 0);
    let mut ticker = Ticker::new();
    let mut tick = false;
    loop {
        if std::mem::take(&mut tick) {
            if let Some(m) = &metrics {
                m.add_events(stats.events - reported);
                reported = stats.events;
            }
            report_state(&metrics, &state);
            if !on_idle(&source.stats()) {
                break;
            }
        }
        if let Some((next, change)) = swap.take() {
            engine = next;
            if let Some(change) = change {
                change(source);
            }
        }
        let rec = match source.next_event()? {
            Next::Event(rec) => rec,
            Next::Idle => {
                tick = true;
                continue;
            }
            Next::End => break,
        };
        // Events the source passed over count, and are numbered, as read.
        if rec.passed_over > 0 {
            stats.events += rec.passed_over;
            passed_over += rec.passed_over;
            state.count_unapplied(rec.passed_over);
        }
        stats.events += 1;
        // The hook runs before the next read (the event borrows the source).
        tick = ticker.due(rec.event.ts());
        if stats.events - reported >= METRICS_EVERY
            && let Some(m) = &metrics
        {
            m.add_events(stats.events - reported);
            reported = stats.events;
            if stats.events % STATE_REPORT_EVERY < METRICS_EVERY {
                report_state(&metrics, &state);
            }
        }
        state.apply(&rec.event, rec.cpu);
        let ty = rec.event.event_type();
        if evaluated(ty) && engine.event_types().contains(ty) {
            let ctx = EventContext { event: rec.event, num: stats.events, cpu: rec.cpu, time: &time, state: &state };
            engine.evaluate(&ctx, |a| {
                stats.alerts += 1;
                sink(a)
            });
        }
    }
    stats.source = source.stats();
    // Events passed over after the last one delivered.
    stats.events += stats.source.passed_over - passed_over;
    if let Some(m) = &metrics {
        m.add_events(stats.events - reported);
    }
    report_state(&metrics, &state);
    on_idle(&stats.source);
    Ok(stats)
}

/// Events copied out of the source's buffer, shared by all workers.
struct Batch {
    bytes: Vec<u8>,
    events: Vec<BatchEvent>,
    /// Events read: those in the batch and those passed over before them.
    read: u64,
    /// The engine that evaluates this batch's events and those after (a
    /// reload), one copy per worker (an engine has its own scratch space,
    /// so it is not shared), handed in band so every worker switches at the
    /// same event.
    engine: Option<Vec<Mutex<Option<Engine>>>>,
}

/// An event of a [`Batch`].
struct BatchEvent {
    /// Where it is in the batch's bytes.
    start: u32,
    len: u32,
    cpu: u16,
    /// Its `evt.num`.
    num: u64,
    /// Events the source passed over right before it.
    passed_over: u64,
}

#[allow(clippy::too_many_arguments)]
fn run_parallel(
    source: &mut dyn EventSource,
    state: State,
    engine: Engine,
    workers: usize,
    sink: AlertSink,
    metrics: Option<Metrics>,
    on_idle: IdleHook<'_>,
    swap: &EngineSwap,
) -> Result<RunStats, SourceError> {
    let mut senders: Vec<Sender<Arc<Batch>>> = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for me in 0..workers {
        let (tx, rx) = bounded::<Arc<Batch>>(BATCHES_IN_FLIGHT);
        senders.push(tx);
        let (state, engine, sink) = (state.clone(), engine.clone(), Arc::clone(&sink));
        // One worker reports the state's sizes: every copy is the same.
        let metrics = if me == 0 { metrics.clone() } else { None };
        handles.push(
            thread::Builder::new()
                .name(format!("saker-rules-{me}"))
                .spawn(move || worker(me as u64, workers as u64, rx, state, engine, sink, metrics))
                .expect("cannot start a rules worker thread"),
        );
    }
    drop(state);

    let mut stats = RunStats::default();
    let mut passed_over = 0;
    let mut batch = new_batch();
    // Event time at which the current batch goes out even if not full.
    let mut batch_deadline = u64::MAX;
    let send = |batch: Batch, senders: &[Sender<Arc<Batch>>]| {
        if let Some(m) = &metrics {
            m.add_events(batch.read);
        }
        let b = Arc::new(batch);
        for s in senders {
            // A worker only goes away by panicking; its join reports it.
            let _ = s.send(Arc::clone(&b));
        }
    };
    let mut ticker = Ticker::new();
    let mut tick = false;
    let result = loop {
        if std::mem::take(&mut tick) && !on_idle(&source.stats()) {
            break Ok(());
        }
        if let Some((next, change)) = swap.take() {
            if !batch.events.is_empty() || batch.read > 0 {
                send(std::mem::replace(&mut batch, new_batch()), &senders);
            }
            batch.engine = Some((0..workers).map(|_| Mutex::new(Some(next.clone()))).collect());
            if let Some(change) = change {
                change(source);
            }
        }
        let rec = match source.next_event() {
            Ok(Next::Event(rec)) => rec,
            Ok(Next::Idle) => {
                if !batch.events.is_empty() {
                    send(std::mem::replace(&mut batch, new_batch()), &senders);
                }
                tick = true;
                continue;
            }
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e),
        };
        // Events the source passed over count, and are numbered, as read.
        stats.events += rec.passed_over + 1;
        passed_over += rec.passed_over;
        batch.read += rec.passed_over + 1;
        let ts = rec.event.ts();
        tick = ticker.due(ts);
        if batch.events.is_empty() {
            // One clock read per batch.
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            batch_deadline = if now.abs_diff(ts) < LIVE_WINDOW_NS { ts + LIVE_BATCH_SPAN_NS } else { u64::MAX };
        }
        let bytes = rec.event.as_bytes();
        let (start, len, cpu) = (batch.bytes.len() as u32, bytes.len() as u32, rec.cpu);
        batch.events.push(BatchEvent { start, len, cpu, num: stats.events, passed_over: rec.passed_over });
        batch.bytes.extend_from_slice(bytes);
        if batch.events.len() >= BATCH_EVENTS || ts >= batch_deadline {
            send(std::mem::replace(&mut batch, new_batch()), &senders);
        }
    };
    // Events passed over after the last one delivered.
    let trailing = source.stats().passed_over - passed_over;
    stats.events += trailing;
    batch.read += trailing;
    if batch.read > 0 || batch.engine.is_some() {
        send(batch, &senders);
    }
    drop(senders);
    for h in handles {
        match h.join() {
            Ok(alerts) => stats.alerts += alerts,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    stats.source = source.stats();
    on_idle(&stats.source);
    result.map(|()| stats)
}

fn new_batch() -> Batch {
    Batch {
        bytes: Vec::with_capacity(BATCH_EVENTS * 128),
        events: Vec::with_capacity(BATCH_EVENTS),
        read: 0,
        engine: None,
    }
}

/// One worker: applies every event to its state, evaluates the rules for
/// the processes of its partition. Returns the number of alerts raised.
fn worker(
    me: u64,
    n: u64,
    rx: Receiver<Arc<Batch>>,
    mut state: State,
    mut engine: Engine,
    sink: AlertSink,
    metrics: Option<Metrics>,
) -> u64 {
    let time = TimeFormatter::default();
    let mut alerts = 0;
    let mut seen = 0u64;
    for batch in rx {
        if let Some(next) = batch.engine.as_ref().and_then(|e| e[me as usize].lock().ok()?.take()) {
            engine = next;
        }
        if seen % STATE_REPORT_EVERY < batch.events.len() as u64 {
            report_state(&metrics, &state);
        }
        seen += batch.events.len() as u64;
        for &BatchEvent { start, len, cpu, num, passed_over } in &batch.events {
            let bytes = &batch.bytes[start as usize..(start + len) as usize];
            // A copy of an event the source delivered, checked there.
            let Ok(event) = Event::parse_checked(bytes) else { continue };
            state.count_unapplied(passed_over);
            state.apply(&event, cpu);
            let ty = event.event_type();
            if !(evaluated(ty) && engine.event_types().contains(ty)) {
                continue;
            }
            let tid = event.tid() as i64;
            let tgid = state.thread(tid).map_or(tid, |t| t.pid);
            if (tgid as u64) % n != me {
                continue;
            }
            let ctx = EventContext { event, num, cpu, time: &time, state: &state };
            engine.evaluate(&ctx, |a| {
                alerts += 1;
                sink(a)
            });
        }
    }
    report_state(&metrics, &state);
    alerts
}
