//! The kernel filters derived from the rules change no alert: every real
//! capture, replayed once whole and once as the modern probe would have
//! filtered it (`OpenFilter::sends`, the probe's decision), gives the same
//! alerts with the same output fields, for Falco's stable rules, the
//! stable and incubating rules, and all three files with every rule
//! enabled. (The live side of the same check runs in the saker crate's
//! live rule tests: a second `saker detect` without kernel filters beside
//! each, on the same events.)

use std::sync::{Arc, Mutex};

use saker_abi::EventType;
use saker_driver::kernel_filter::{OpenFilter, PPM_O_DIRECTORY};
use saker_driver::{CaptureSource, EventSource, Next, SourceError, SourceStats, StopHandle};
use saker_engine::{Engine, EngineOptions, Fields, RuleMatching, run};
use saker_rules::{RulesSource, Ruleset};
use saker_state::{Limits, State};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// scap's O_CREAT | O_WRONLY | O_TRUNC: what a creat asks for.
const CREAT_FLAGS: u32 = (1 << 1) | (1 << 8) | (1 << 9);

/// A capture as a kernel with `filter` would have sent it.
struct Filtered {
    inner: CaptureSource,
    filter: OpenFilter,
    left_out: u64,
    buf: Vec<u8>,
    cpu: u16,
    dump_flags: Option<u32>,
}

/// The open call of an event type (its index in `OPEN_CALLS`), and whether
/// it is an enter event.
fn open_call(t: EventType) -> Option<(usize, bool)> {
    Some(match t {
        EventType::SYSCALL_OPEN_E => (0, true),
        EventType::SYSCALL_OPEN_X => (0, false),
        // Older captures' openat events have the same parameters by name.
        EventType::SYSCALL_OPENAT_E | EventType::SYSCALL_OPENAT_2_E => (1, true),
        EventType::SYSCALL_OPENAT_X | EventType::SYSCALL_OPENAT_2_X => (1, false),
        EventType::SYSCALL_OPENAT2_E => (2, true),
        EventType::SYSCALL_OPENAT2_X => (2, false),
        EventType::SYSCALL_CREAT_E => (3, true),
        EventType::SYSCALL_CREAT_X => (3, false),
        _ => return None,
    })
}

/// Whether the probe with `filter` sends `e`.
fn sends(filter: &OpenFilter, e: &saker_abi::Event<'_>) -> bool {
    let Some((call, enter)) = open_call(e.event_type()) else { return true };
    let Some(name) = e.param_by_name("name") else { return true };
    let path = name.bytes().strip_suffix(&[0]).unwrap_or(name.bytes());
    let flags = if call == 3 {
        CREAT_FLAGS
    } else {
        match e.param_by_name("flags").and_then(|f| f.as_u64()) {
            Some(f) => f as u32,
            None => return true,
        }
    };
    // The probe knows a directory from the file the exit opened; a capture
    // has the flags only. Its enter has no file yet.
    let dir = !enter && flags & PPM_O_DIRECTORY != 0;
    filter.sends(call, path, flags, dir)
}

impl EventSource for Filtered {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        loop {
            match self.inner.next_event()? {
                Next::Event(e) => {
                    if !sends(&self.filter, &e.event) {
                        self.left_out += 1;
                        continue;
                    }
                    self.buf.clear();
                    self.buf.extend_from_slice(e.event.as_bytes());
                    self.cpu = e.cpu;
                    self.dump_flags = e.dump_flags;
                    break;
                }
                Next::Idle => return Ok(Next::Idle),
                Next::End => return Ok(Next::End),
            }
        }
        Ok(Next::Event(saker_driver::SourceEvent {
            cpu: self.cpu,
            dump_flags: self.dump_flags,
            event: saker_abi::Event::parse(&self.buf).map_err(SourceError::new)?,
            passed_over: 0,
        }))
    }

    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }

    fn stop_handle(&self) -> StopHandle {
        self.inner.stop_handle()
    }
}

/// Rules with a check of each kind the derivation reads, on the open and
/// on later events of its fd, that match often in the captures.
const PROBE_RULES: &str = r#"
- macro: open_read
  condition: (evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- macro: open_write
  condition: (evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)
- rule: etc read
  desc: prefix and exact names, flags
  condition: open_read and fd.name startswith /etc and not fd.name in (/etc/ld.so.cache)
  output: "%fd.name %evt.args %proc.name %fd.directory %fd.filename"
  priority: NOTICE
- rule: library directories
  desc: fd.directory
  condition: evt.type in (open, openat, openat2) and fd.directory in (/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64)
  output: "%fd.name %fd.directory %fd.filename %evt.arg.flags"
  priority: NOTICE
- rule: exact names
  desc: fd.name in, with failures
  condition: evt.type in (open, openat) and fd.name in (/etc/passwd, /etc/hosts, /etc/nsswitch.conf, /etc/resolv.conf, /etc/gai.conf)
  output: "%fd.name %evt.res %evt.rawres"
  priority: NOTICE
- rule: later reads
  desc: a later event on the fd, pmatch
  condition: evt.type = read and fd.name pmatch (/etc, /proc, /usr/share)
  output: "%fd.name %evt.arg.fd %evt.args"
  priority: NOTICE
- rule: later closes
  desc: a later event on the fd, glob
  condition: evt.type = close and fd.typechar = f and fd.name glob /usr/lib/*
  output: "%fd.name %fd.num"
  priority: NOTICE
- rule: writes
  desc: any write open
  condition: open_write
  output: "%fd.name %evt.arg.flags"
  priority: NOTICE
- rule: socket io
  desc: later events on sockets only
  condition: evt.type in (sendto, recvfrom, read, write, close) and fd.type in (ipv4, ipv6)
  output: "%fd.name %evt.args"
  priority: NOTICE
"#;

/// The alerts as text: rule, priority, time, output and every output field.
fn replay(
    rules: &[&str],
    enable_all: bool,
    capture: &std::path::Path,
    filtered: bool,
) -> (Vec<String>, OpenFilter, u64) {
    let texts: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            let text = match *r {
                "probe" => PROBE_RULES.to_string(),
                f => std::fs::read_to_string(format!("{DATA}/rules/{f}")).unwrap(),
            };
            (r.to_string(), text)
        })
        .collect();
    let sources: Vec<RulesSource<'_>> = texts.iter().map(|(n, t)| RulesSource { name: n, text: t }).collect();
    let mut load = Ruleset::load(&sources, &Fields).unwrap();
    if enable_all {
        load.rules.iter_mut().for_each(|r| r.enabled = true);
    }
    let engine = Engine::compile(&load, EngineOptions { rule_matching: RuleMatching::All, ..EngineOptions::default() })
        .unwrap_or_else(|d| panic!("{rules:?}: {d:?}"));
    let filter = engine.open_filter().clone();
    let inner = CaptureSource::open(capture).unwrap();
    let state = State::from_capture(inner.header(), &Limits::default());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink_got = Arc::clone(&got);
    let sink: saker_engine::AlertSink = Arc::new(move |a| sink_got.lock().unwrap().push(a));
    let left_out = if filtered {
        let mut source =
            Filtered { inner, filter: filter.clone(), left_out: 0, buf: Vec::new(), cpu: 0, dump_flags: None };
        run(&mut source, state, engine, 1, sink, None, &mut |_| true).unwrap();
        source.left_out
    } else {
        let mut source = inner;
        run(&mut source, state, engine, 1, sink, None, &mut |_| true).unwrap();
        0
    };
    let alerts = std::mem::take(&mut *got.lock().unwrap());
    let text = alerts
        .iter()
        .map(|a| format!("{} {:?} {} {} {:?}", a.rule, a.priority, a.time_ns, a.output, a.output_fields))
        .collect();
    (text, filter, left_out)
}

#[test]
fn replays_filtered_as_the_kernel_would_raise_the_same_alerts() {
    let sets: [(&[&str], bool); 4] = [
        (&["probe"], false),
        (&["falco_rules.yaml"], false),
        (&["falco_rules.yaml", "falco-incubating_rules.yaml"], false),
        (&["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"], true),
    ];
    let mut captures: Vec<_> = std::fs::read_dir(format!("{DATA}/captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scap"))
        .collect();
    captures.sort();
    assert!(captures.len() >= 15, "{} captures", captures.len());
    let mut report = Vec::new();
    let (mut probe_alerts, mut left_out_total) = (0, 0);
    for (rules, all) in sets {
        for c in &captures {
            let (full, filter, _) = replay(rules, all, c, false);
            let (thin, _, left_out) = replay(rules, all, c, true);
            if rules == ["probe"] {
                probe_alerts += full.len();
            }
            if rules.len() == 1 {
                left_out_total += left_out;
            }
            let name = c.file_name().unwrap().to_string_lossy();
            if full != thin {
                let only_full: Vec<&String> = full.iter().filter(|a| !thin.contains(a)).take(5).collect();
                let only_thin: Vec<&String> = thin.iter().filter(|a| !full.contains(a)).take(5).collect();
                panic!(
                    "{rules:?} on {name}: the filtered replay's alerts differ ({} vs {} alerts); only without the filter:\n{}\nonly with it:\n{}\nfilter: {:#?}",
                    full.len(),
                    thin.len(),
                    only_full.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
                    only_thin.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
                    filter.describe()
                );
            }
            report.push(format!("{rules:?} {name}: {} alerts, {left_out} events left out", full.len()));
        }
    }
    eprintln!("{}", report.join("\n"));
    // The comparison has alerts to compare, and the filters do leave events
    // out of these captures.
    assert!(probe_alerts > 200 && left_out_total > 100, "{probe_alerts} alerts, {left_out_total} events left out");
}
