//! Helpers shared by the integration tests: running a helper workload (this
//! test binary re-executed with `SAKER_US_HELPER=mode`), collecting events.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use saker_abi::{Event, EventType, Value};
use saker_driver::{EventSource, Next};
use saker_userspace::{Config, Tracer};

/// An event copied out of the source.
#[derive(Clone)]
pub struct Owned(pub Vec<u8>);

impl Owned {
    pub fn ev(&self) -> Event<'_> {
        Event::parse(&self.0).expect("valid event")
    }

    pub fn ty(&self) -> EventType {
        self.ev().event_type()
    }

    pub fn tid(&self) -> i64 {
        self.ev().tid() as i64
    }

    /// Parameter `name` as an integer.
    pub fn int(&self, name: &str) -> i64 {
        self.ev().param_by_name(name).and_then(|p| p.as_i64()).unwrap_or_else(|| panic!("{name} in {:?}", self.ev()))
    }

    /// Parameter `name` as bytes (strings without their NUL).
    pub fn bytes(&self, name: &str) -> Vec<u8> {
        match self.ev().param_by_name(name).map(|p| p.value()) {
            Some(Value::Str(s)) | Some(Value::Bytes(s)) => s.to_vec(),
            other => panic!("{name} is {other:?}"),
        }
    }
}

impl std::fmt::Debug for Owned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ev().fmt(f)
    }
}

/// The helper mode this process runs in, if it is a re-executed helper.
pub fn helper_mode() -> Option<String> {
    std::env::var("SAKER_US_HELPER").ok()
}

/// The command line that re-executes this test binary as helper `mode`
/// (through `env`, which sets the variable: the tracer passes saker's own
/// environment on).
pub fn helper_cmd(mode: &str, test_name: &str) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    vec![
        "/usr/bin/env".into(),
        format!("SAKER_US_HELPER={mode}"),
        exe.to_string_lossy().into_owned(),
        "--exact".into(),
        test_name.into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
        "-q".into(),
    ]
}

pub fn syscalls(names: &[&str]) -> Option<BTreeSet<String>> {
    Some(names.iter().map(|s| s.to_string()).collect())
}

pub fn config(names: &[&str]) -> Config {
    Config { syscalls: syscalls(names), ..Config::default() }
}

/// Every event until the source ends (panics after `max`).
pub fn drain(t: &mut Tracer, max: Duration) -> Vec<Owned> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    loop {
        assert!(t0.elapsed() < max, "the tracer did not end within {max:?} ({} events so far)", out.len());
        match t.next_event().expect("next_event") {
            Next::Event(e) => out.push(Owned(e.event.as_bytes().to_vec())),
            Next::Idle => {}
            Next::End => return out,
        }
    }
}

/// Events until `done` accepts what was collected (panics after `max`).
pub fn collect_until(t: &mut Tracer, max: Duration, mut done: impl FnMut(&[Owned]) -> bool) -> Vec<Owned> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    loop {
        if done(&out) {
            return out;
        }
        assert!(t0.elapsed() < max, "condition not met within {max:?}; {} events: {out:#?}", out.len());
        match t.next_event().expect("next_event") {
            Next::Event(e) => out.push(Owned(e.event.as_bytes().to_vec())),
            Next::Idle => {}
            Next::End => {
                assert!(done(&out), "the source ended before the condition; events: {out:#?}");
                return out;
            }
        }
    }
}

pub fn of_type(evs: &[Owned], ty: EventType) -> Vec<&Owned> {
    evs.iter().filter(|e| e.ty() == ty).collect()
}

/// Whether ptrace works here at all (a container may forbid it).
pub fn can_trace(test: &str) -> bool {
    match Tracer::launch(["/bin/true"], config(&["execve"])) {
        Ok(mut t) => {
            drain(&mut t, Duration::from_secs(20));
            true
        }
        Err(e) => {
            eprintln!("SKIP {test}: ptrace is not available here: {e}");
            false
        }
    }
}
