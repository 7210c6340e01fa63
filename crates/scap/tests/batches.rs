//! Reading in batches (`Reader::read_batch`) gives exactly what reading
//! event by event gives: the same events with their CPU, flags and counts
//! of events passed over, the same error after the same events, on every
//! capture, every input path and batch size.

mod common;

use saker_abi::{EventType, EventTypeSet};
use saker_scap::{EventBatch, EventRecord, ReadOptions, Reader};

/// `(cpu, dump flags, passed over, block offset, event bytes)` of each
/// event, how the reading ended, and the events passed over after the last
/// one.
type Read = (Vec<(u16, Option<u32>, u64, u64, Vec<u8>)>, Result<(), String>, u64);

fn summary(rec: &EventRecord<'_>) -> (u16, Option<u32>, u64, u64, Vec<u8>) {
    (rec.cpu, rec.dump_flags, rec.passed_over, rec.offset, rec.event.as_bytes().to_vec())
}

fn one_by_one(mut r: Reader) -> Read {
    let mut out = Vec::new();
    loop {
        match r.next_event() {
            Ok(Some(rec)) => out.push(summary(&rec)),
            Ok(None) => return (out, Ok(()), r.passed_over_pending()),
            Err(e) => return (out, Err(e.to_string()), r.passed_over_pending()),
        }
    }
}

fn in_batches(mut r: Reader, bytes: usize) -> Read {
    let (mut out, mut batch) = (Vec::new(), EventBatch::with_capacity(bytes));
    loop {
        batch.clear();
        let read = r.read_batch(&mut batch, bytes);
        let mut pos = 0;
        while let Some((rec, next)) = batch.record_at(pos) {
            out.push(summary(&rec));
            pos = next;
        }
        assert_eq!(pos, batch.byte_len(), "every record is whole");
        assert_eq!(batch.end_offset(), r.offset());
        match read {
            Ok(true) => {}
            Ok(false) => return (out, Ok(()), r.passed_over_pending()),
            Err(e) => return (out, Err(e.to_string()), r.passed_over_pending()),
        }
    }
}

/// Scheduler switches, procinfo, and the users and groups added: the types
/// a filtered replay passes over most.
fn common_pass_set() -> EventTypeSet {
    let mut set = EventTypeSet::none();
    for code in
        [EventType::SCHEDSWITCH_6_E.0, EventType::PROCINFO_E.0, EventType::USER_ADDED_E.0, EventType::GROUP_ADDED_E.0]
    {
        set.insert(EventType(code));
    }
    set
}

/// Exits passed over right after their own enter: the generic event's
/// (most system calls in older captures), nanosleep's, futex's, mprotect's.
fn exits_after_enter() -> EventTypeSet {
    let mut set = EventTypeSet::none();
    for code in [
        EventType::GENERIC_X,
        EventType::SYSCALL_NANOSLEEP_X,
        EventType::SYSCALL_FUTEX_X,
        EventType::SYSCALL_MPROTECT_X,
    ] {
        set.insert(code);
    }
    set
}

#[test]
fn batches_hold_what_next_event_returns() {
    let mut delivered = 0;
    for p in common::all_captures() {
        for (pass, after_enter) in [(None, false), (Some(common_pass_set()), false), (Some(common_pass_set()), true)] {
            let open = |opts: ReadOptions| {
                let mut r = Reader::open_with(&p, opts).unwrap();
                if let Some(pass) = pass {
                    r.pass_over(pass);
                }
                if after_enter {
                    r.pass_over_exits_after_enter(exits_after_enter());
                }
                r
            };
            let mapped = ReadOptions::default();
            let expected = one_by_one(open(mapped));
            assert_eq!(expected.1, Ok(()), "{}", p.display());
            delivered += expected.0.len();
            // Small batches end mid-run (and end on every event with 1
            // byte); a small stream buffer ends the fast lane mid-buffer.
            let streamed = ReadOptions { mmap: false, buffer_size: 1 };
            for (opts, bytes) in [(mapped, 1), (mapped, 300), (mapped, 1 << 20), (streamed, 4096)] {
                let got = in_batches(open(opts), bytes);
                assert!(
                    got == expected,
                    "{} pass={} after_enter={after_enter} bytes={bytes} mmap={}",
                    p.display(),
                    pass.is_some(),
                    opts.mmap
                );
            }
        }
    }
    assert!(delivered > 10_000, "the shared captures are missing: {delivered}");
}

#[test]
fn a_damaged_capture_gives_its_error_after_the_same_events() {
    let raw = common::raw_bytes(&common::captures_dir().join("libs__curl_google.scap"));
    // Damage among the events (the header section is read at open).
    let first = Reader::from_bytes(raw.clone()).unwrap().offset() as usize;
    let mut damaged = Vec::new();
    for i in 1..25 {
        let at = first + (raw.len() - first) * i / 25 + i * 7;
        damaged.push(raw[..at].to_vec());
        let mut flipped = raw.clone();
        // A block length, a trailer or an event's own lengths, by turns.
        flipped[at] ^= 0x41;
        damaged.push(flipped);
    }
    let mut errors = 0;
    for bytes in damaged {
        for pass in [None, Some(common_pass_set())] {
            let open = || {
                let mut r = Reader::from_bytes(bytes.clone()).unwrap();
                if let Some(pass) = pass {
                    r.pass_over(pass);
                }
                r
            };
            let expected = one_by_one(open());
            errors += expected.1.is_err() as usize;
            for size in [1, 4096] {
                assert!(in_batches(open(), size) == expected, "pass={} size={size}", pass.is_some());
            }
        }
    }
    assert!(errors >= 24, "the cuts at least are errors: {errors}");
}

#[test]
fn passing_over_everything_still_moves_on_in_steps() {
    let p = common::captures_dir().join("libs__sample.scap");
    let events = one_by_one(Reader::open(&p).unwrap()).0;
    let (total_events, largest) = (events.len() as u64, events.iter().map(|e| e.4.len() as u64).max().unwrap());
    let mut r = Reader::open(&p).unwrap();
    r.pass_over(EventTypeSet::all());
    let mut batch = EventBatch::with_capacity(0);
    let (mut calls, mut at) = (0, r.offset());
    loop {
        batch.clear();
        let more = r.read_batch(&mut batch, 256).unwrap();
        assert!(batch.is_empty());
        // At most 8 × 256 bytes further, plus the block that crossed the line.
        assert!(batch.end_offset() - at <= 8 * 256 + 18 + largest, "{} -> {}", at, batch.end_offset());
        at = batch.end_offset();
        calls += 1;
        if !more {
            break;
        }
    }
    assert!(calls > 10, "a capture read in steps: {calls}");
    assert_eq!(r.passed_over_pending(), total_events);
    assert_eq!(r.stats().passed_over, total_events);
}

/// An exit is passed over (with `Reader::pass_over_exits_after_enter`) only
/// when the event right before it is its own enter event, of the same
/// thread, and was returned: not after another thread's event, not after
/// an event passed over, not without its enter.
#[test]
fn exits_are_passed_over_only_right_after_their_own_enter() {
    use saker_abi::{Event, EventBuilder};
    use saker_scap::{CaptureHeader, Writer};
    let nanosleep = |tid: u64, enter: bool| {
        let mut buf = Vec::new();
        let ty = if enter { EventType::SYSCALL_NANOSLEEP_E } else { EventType::SYSCALL_NANOSLEEP_X };
        let mut b = EventBuilder::new(&mut buf, 1_000 + tid, tid, ty);
        if enter {
            b.param_u64(5);
        } else {
            b.param_i64(0);
        }
        b.finish();
        buf
    };
    let switch = |tid: u64| {
        let mut buf = Vec::new();
        let mut b = EventBuilder::new(&mut buf, 1_000, tid, EventType::SCHEDSWITCH_6_E);
        b.param_i64(7).param_u64(0).param_u64(0).param_u64(0).param_u64(0).param_u64(0);
        b.finish();
        buf
    };
    // (event, passed over?)
    let events: Vec<(Vec<u8>, bool)> = vec![
        (nanosleep(1, true), false),
        (nanosleep(1, false), true),  // right after its enter
        (nanosleep(1, false), false), // no enter before it
        (nanosleep(1, true), false),
        (nanosleep(2, false), false), // another thread's exit
        (nanosleep(2, true), false),
        (nanosleep(1, true), false),
        (nanosleep(2, false), false), // its enter, but not right before
        (nanosleep(3, true), false),
        (switch(3), true),            // passed over by type
        (nanosleep(3, false), false), // the event before was passed over
        (nanosleep(4, true), false),
        (nanosleep(4, false), true),
    ];
    let mut set = EventTypeSet::none();
    set.insert(EventType::SCHEDSWITCH_6_E);
    let mut exits = EventTypeSet::none();
    exits.insert(EventType::SYSCALL_NANOSLEEP_X);
    let mut w = Writer::new(Vec::new());
    w.write_header(&CaptureHeader::default()).unwrap();
    for (e, _) in &events {
        w.write_event(0, &Event::parse(e).unwrap()).unwrap();
    }
    let bytes = w.finish().unwrap();
    let mut r = Reader::from_bytes(bytes).unwrap();
    r.pass_over(set);
    r.pass_over_exits_after_enter(exits);
    let (mut got, mut passed) = (Vec::new(), Vec::new());
    while let Some(rec) = r.next_event().unwrap() {
        got.push(rec.event.as_bytes().to_vec());
        passed.push(rec.passed_over);
    }
    let want: Vec<Vec<u8>> = events.iter().filter(|(_, p)| !p).map(|(e, _)| e.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(passed, [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(r.passed_over_pending(), 1);
}
