//! Helpers shared by the integration tests: root/BTF gating and event collection.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use saker_abi::{Event, EventType, Value};
use saker_driver::{EventSource, Next};

/// Whether the probe can run here; prints a loud SKIP line when not.
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    if !root || !btf {
        eprintln!("SKIP {test}: needs root and kernel BTF (root={root}, btf={btf})");
        return false;
    }
    true
}

/// An event copied out of the ring.
#[derive(Clone)]
pub struct Owned(pub Vec<u8>);

impl Owned {
    pub fn ev(&self) -> Event<'_> {
        Event::parse(&self.0).expect("valid event")
    }
}

/// Reads events for up to `max` (or until `done` says so, then one more idle
/// period), keeping those `keep` accepts.
pub fn collect(
    probe: &mut dyn EventSource,
    max: Duration,
    mut keep: impl FnMut(&Event<'_>) -> bool,
    mut done: impl FnMut(&[Owned]) -> bool,
) -> Vec<Owned> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut finished_at: Option<Instant> = None;
    loop {
        if t0.elapsed() > max {
            break;
        }
        if let Some(f) = finished_at
            && f.elapsed() > Duration::from_millis(200)
        {
            break;
        }
        match probe.next_event().expect("next_event") {
            Next::Event(e) => {
                if keep(&e.event) {
                    out.push(Owned(e.event.as_bytes().to_vec()));
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
        if finished_at.is_none() && done(&out) {
            finished_at = Some(Instant::now());
        }
    }
    out
}

/// The events of type `ty`.
pub fn of_type(evs: &[Owned], ty: EventType) -> Vec<&Owned> {
    evs.iter().filter(|o| o.ev().event_type() == ty).collect()
}

/// Exactly one event of type `ty` (panics with the list otherwise).
pub fn one(evs: &[Owned], ty: EventType) -> Event<'_> {
    let v = of_type(evs, ty);
    assert_eq!(
        v.len(),
        1,
        "expected one {ty:?}, got {}: {:?}",
        v.len(),
        evs.iter().map(|o| o.ev()).collect::<Vec<_>>()
    );
    v[0].ev()
}

pub fn int(e: &Event<'_>, i: usize) -> i64 {
    match e.param(i).unwrap_or_else(|| panic!("{e:?}: no param {i}")).value() {
        Value::Int(v) => v,
        other => panic!("{e:?}: param {i} is {other:?}, not an int"),
    }
}

pub fn uint(e: &Event<'_>, i: usize) -> u64 {
    match e.param(i).unwrap_or_else(|| panic!("{e:?}: no param {i}")).value() {
        Value::Uint(v) => v,
        other => panic!("{e:?}: param {i} is {other:?}, not a uint"),
    }
}

pub fn text(e: &Event<'_>, i: usize) -> String {
    match e.param(i).unwrap_or_else(|| panic!("{e:?}: no param {i}")).value() {
        Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
        Value::Empty => String::new(),
        other => panic!("{e:?}: param {i} is {other:?}, not a string"),
    }
}

pub fn bytes<'a>(e: &Event<'a>, i: usize) -> &'a [u8] {
    match e.param(i).unwrap_or_else(|| panic!("{e:?}: no param {i}")).value() {
        Value::Bytes(b) | Value::Str(b) => b,
        Value::Empty => &[],
        other => panic!("{e:?}: param {i} is {other:?}, not bytes"),
    }
}

pub fn value<'a>(e: &Event<'a>, i: usize) -> Value<'a> {
    e.param(i).unwrap_or_else(|| panic!("{e:?}: no param {i}")).value()
}

/// Asserts the parameter names of an event are exactly `names` (the table's
/// layout), so every parameter is accounted for.
pub fn assert_layout(e: &Event<'_>, names: &[&str]) {
    let got: Vec<&str> = e.params().map(|p| p.info().name).collect();
    assert_eq!(got, names, "{e:?}");
    assert_eq!(e.nparams() as usize, names.len(), "{e:?}");
}

/// A zeroed page shared with children forked later, for what a child reports
/// back without making syscalls the probe would capture.
pub fn shared_report<T: Copy>() -> *mut T {
    assert!(std::mem::size_of::<T>() <= 4096);
    // SAFETY: an anonymous shared mapping, zero-filled, never unmapped.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p as *mut T
}
