//! The engine on a real capture: rule matching modes, per-process order of
//! alerts when evaluation is spread over workers, and alerts not held back
//! by a live source that is slow but never idle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use saker_abi::Event;
use saker_driver::{CaptureSource, EventSource, Next, SourceError, SourceEvent, SourceStats, StopHandle};
use saker_engine::{Engine, EngineOptions, Fields, RuleMatching, run};
use saker_outputs::Alert;
use saker_rules::{RulesSource, Ruleset};
use saker_state::{Limits, State};

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures/libs__curl_google.scap");

const RULES: &str = r#"
- rule: any open
  desc: every successful open
  condition: evt.type in (open, openat) and fd.num >= 0
  output: "%evt.num %proc.pid %fd.name"
  priority: NOTICE
- rule: library open
  desc: opens of shared libraries
  condition: evt.type in (open, openat) and fd.num >= 0 and fd.name contains .so
  output: "%evt.num %proc.pid %fd.name"
  priority: WARNING
"#;

fn alerts(matching: RuleMatching, workers: usize) -> Vec<Alert> {
    let load = Ruleset::load(&[RulesSource { name: "test.yaml", text: RULES }], &Fields).unwrap();
    let engine = Engine::compile(&load, EngineOptions { rule_matching: matching, ..EngineOptions::default() }).unwrap();
    let mut source = CaptureSource::open(CAPTURE).unwrap();
    let state = State::from_capture(source.header(), &Limits::default());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink_got = Arc::clone(&got);
    let sink: saker_engine::AlertSink = Arc::new(move |a| sink_got.lock().unwrap().push(a));
    let stats = run(&mut source, state, engine, workers, sink, None, &mut |_| true).unwrap();
    let v = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(stats.alerts, v.len() as u64);
    v
}

fn num(a: &Alert) -> u64 {
    a.output.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn first_and_all_matching() {
    let first = alerts(RuleMatching::First, 1);
    let all = alerts(RuleMatching::All, 1);
    assert!(first.len() > 10, "{}", first.len());
    // With `first`, every match goes to the first rule; `all` adds the library opens.
    assert!(first.iter().all(|a| a.rule == "any open"));
    let libs = all.iter().filter(|a| a.rule == "library open").count();
    assert!(libs > 0);
    assert_eq!(all.len(), first.len() + libs);
    assert!(all.iter().filter(|a| a.rule == "library open").all(|a| a.output.contains(".so")));
}

#[test]
fn workers_give_the_same_alerts_in_per_process_order() {
    let single = alerts(RuleMatching::All, 1);
    let mut multi = alerts(RuleMatching::All, 3);
    assert_eq!(single.len(), multi.len());
    // Per process, alerts come out in event order.
    let mut by_pid: std::collections::HashMap<String, u64> = Default::default();
    for a in &multi {
        let pid = a.output.split(' ').nth(1).unwrap().to_string();
        let n = num(a);
        let last = by_pid.entry(pid).or_insert(0);
        assert!(n >= *last, "alerts of one process out of order: {n} after {last}");
        *last = n;
    }
    // And as a whole they are the same alerts.
    multi.sort_by_key(|a| (num(a), a.rule.clone()));
    let mut single_sorted = single.clone();
    single_sorted.sort_by_key(|a| (num(a), a.rule.clone()));
    let key = |v: &[Alert]| v.iter().map(|a| (a.rule.clone(), a.output.clone())).collect::<Vec<_>>();
    assert_eq!(key(&multi), key(&single_sorted));
}

/// A live source on a quiet host: the capture's events stamped with the
/// wall clock as they are handed out, one every 2 ms, never idle.
struct Trickle {
    events: Vec<(u16, Vec<u8>)>,
    next: usize,
    buf: Vec<u8>,
    handed: Arc<Mutex<Vec<Instant>>>,
    stop: StopHandle,
}

impl EventSource for Trickle {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        let Some((cpu, bytes)) = self.events.get(self.next) else { return Ok(Next::End) };
        std::thread::sleep(Duration::from_millis(2));
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64;
        self.buf[..8].copy_from_slice(&now.to_le_bytes());
        self.next += 1;
        self.handed.lock().unwrap().push(Instant::now());
        Ok(Next::Event(SourceEvent {
            cpu: *cpu,
            dump_flags: None,
            event: Event::parse(&self.buf).map_err(SourceError::new)?,
            passed_over: 0,
        }))
    }

    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

/// The test rules, the capture's initial state, and a [`Trickle`] of its
/// first `n` events.
fn trickle(n: usize) -> (Engine, State, Trickle) {
    let load = Ruleset::load(&[RulesSource { name: "test.yaml", text: RULES }], &Fields).unwrap();
    let engine = Engine::compile(&load, EngineOptions::default()).unwrap();
    let mut capture = CaptureSource::open(CAPTURE).unwrap();
    let state = State::from_capture(capture.header(), &Limits::default());
    let mut events = Vec::new();
    while let Next::Event(e) = capture.next_event().unwrap() {
        if events.len() < n {
            events.push((e.cpu, e.event.as_bytes().to_vec()));
        }
    }
    let source = Trickle { events, next: 0, buf: Vec::new(), handed: Arc::default(), stop: StopHandle::new() };
    (engine, state, source)
}

#[test]
fn a_slow_live_source_that_is_never_idle_does_not_hold_alerts_back() {
    // 500 events (fewer than a batch of workers holds) over about 1 s:
    // each alert must come within a few batch spans of its event, not at
    // the end of the stream.
    let (engine, state, mut source) = trickle(500);
    let handed = Arc::clone(&source.handed);
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink_got = Arc::clone(&got);
    let sink: saker_engine::AlertSink = Arc::new(move |a| sink_got.lock().unwrap().push((Instant::now(), a)));
    run(&mut source, state, engine, 2, sink, None, &mut |_| true).unwrap();
    let got = got.lock().unwrap();
    let handed = handed.lock().unwrap();
    assert!(got.len() >= 3, "{}", got.len());
    for (at, a) in got.iter() {
        let n = num(a) as usize;
        let late = at.duration_since(handed[n - 1]);
        assert!(late < Duration::from_millis(150), "alert of event {n} came {late:?} after the event");
    }
}

#[test]
fn drop_checks_run_while_a_live_source_is_never_idle() {
    // 200 events 2 ms apart (about 0.4 s of event time) from a source that
    // never says it is idle: the hook that checks drops and updates the
    // metrics must still run every 100 ms of events, not only at the end.
    for workers in [1, 2] {
        let (engine, state, mut source) = trickle(200);
        let sink: saker_engine::AlertSink = Arc::new(|_| {});
        let mut calls = 0;
        run(&mut source, state, engine, workers, sink, None, &mut |_| {
            calls += 1;
            true
        })
        .unwrap();
        // About 4 ticks plus the final call; at least 3 before the end.
        assert!(calls >= 4, "{workers} worker(s): the hook ran {calls} times");
    }
}

/// A capture that offers a new engine to the running pipeline after
/// `after` events, as a SIGHUP would.
struct OffersAt {
    inner: CaptureSource,
    read: u64,
    after: u64,
    offer: Option<(saker_engine::EngineSwap, Engine)>,
}

impl EventSource for OffersAt {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        self.read += 1;
        if self.read == self.after
            && let Some((swap, engine)) = self.offer.take()
        {
            swap.offer(engine, None);
        }
        self.inner.next_event()
    }
    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }
    fn stop_handle(&self) -> StopHandle {
        self.inner.stop_handle()
    }
}

#[test]
fn an_engine_swapped_mid_stream_takes_over_without_losing_an_event() {
    let compile = |text: &str| {
        let load = Ruleset::load(&[RulesSource { name: "test.yaml", text }], &Fields).unwrap();
        Engine::compile(&load, EngineOptions::default()).unwrap()
    };
    let reference = alerts(RuleMatching::First, 1);
    let total = reference.len();
    assert!(total > 20, "{total}");
    // The new rules: the same "any open" under another name. Every open
    // alerts once, by the old name up to the swap and the new one after.
    let renamed = RULES.replace("rule: any open", "rule: any open v2");
    for workers in [1, 2] {
        let swap = saker_engine::EngineSwap::new();
        let inner = CaptureSource::open(CAPTURE).unwrap();
        let state = State::from_capture(inner.header(), &Limits::default());
        let at = num(&reference[total / 2]);
        let mut source = OffersAt { inner, read: 0, after: at, offer: Some((swap.clone(), compile(&renamed))) };
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink_got = Arc::clone(&got);
        let sink: saker_engine::AlertSink = Arc::new(move |a| sink_got.lock().unwrap().push(a));
        saker_engine::run_swappable(&mut source, state, compile(RULES), workers, sink, None, &mut |_| true, &swap)
            .unwrap();
        assert_eq!(swap.taken(), 1);
        let mut got = std::mem::take(&mut *got.lock().unwrap());
        got.sort_by_key(num);
        let nums = |v: &[Alert]| v.iter().map(num).collect::<Vec<_>>();
        assert_eq!(nums(&got), nums(&reference), "{workers} worker(s): an event was lost or doubled");
        for a in &got {
            // The offer comes with event `at`; the swap is taken before the next.
            let want = if num(a) <= at { "any open" } else { "any open v2" };
            assert_eq!(a.rule, want, "{workers} worker(s), event {}", num(a));
        }
    }
}

#[test]
fn the_macros_of_falcos_rules_compile_once_each() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/rules/falco_rules.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let load = Ruleset::load(&[RulesSource { name: "falco_rules.yaml", text: &text }], &Fields).unwrap();
    // The distinct macro bodies the rules use, and how many uses they have once expanded.
    let mut bodies = std::collections::HashSet::new();
    for r in &load.rules {
        r.condition.visit(&mut |e| {
            if let saker_filter::Expr::Macro { body, .. } = e {
                bodies.insert(Arc::as_ptr(body));
            }
        });
    }
    fn uses(e: &saker_filter::Expr) -> usize {
        use saker_filter::Expr;
        match e {
            Expr::And(v, _) | Expr::Or(v, _) => v.iter().map(uses).sum(),
            Expr::Not(e, _) => uses(e),
            Expr::Macro { body, .. } => 1 + uses(body),
            Expr::Check { .. } | Expr::Identifier(..) => 0,
        }
    }
    let expanded: usize = load.rules.iter().map(|r| uses(&r.condition)).sum();
    let mut compiler = saker_filter::FilterCompiler::new();
    for r in &load.rules {
        compiler.compile(&r.condition, "").unwrap();
    }
    assert!(bodies.len() > 40 && bodies.len() <= load.macros.len(), "{}", bodies.len());
    assert_eq!(compiler.macros_compiled(), bodies.len());
    // Copies would have been compiled once per use.
    assert!(expanded > bodies.len() + 40, "{expanded} uses of {} macros", bodies.len());
    // And the engine compiles them the same way.
    assert_eq!(Engine::compile(&load, EngineOptions::default()).unwrap().len(), load.rules.len());
}
