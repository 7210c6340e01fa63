//! The events `State::unneeded_event_types` names for a set of fields can
//! be left unapplied: on every shared capture, every other event gets the
//! same value of every field that does not read what those events update.

use jiff::tz::TimeZone;
use saker_abi::{Event, EventType};
use saker_fields::{EventContext, FIELDS, Field, TimeFormatter};
use saker_scap::Reader;
use saker_state::{Limits, Reads, State};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");

/// Every field that parses without an argument, and a few with one.
fn fields() -> Vec<Field> {
    let extra = ["proc.aname[1]", "proc.aname[3]", "proc.apid[2]", "proc.env[PATH]", "fd.types[3]"];
    let mut v: Vec<Field> = FIELDS.iter().filter_map(|f| Field::parse(f.name).ok()).collect();
    v.extend(extra.iter().map(|n| Field::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"))));
    v
}

/// Asserts that each field gives on `b` what it gives on `a` (`twins`, a
/// copy of `fields`, on `b`: `evt.deltatime` remembers the event it was
/// last extracted on); returns how many values it compared.
fn same_values(
    fields: &[&Field],
    twins: &[Field],
    a: &EventContext<'_>,
    b: &EventContext<'_>,
    on: impl Fn() -> String,
) -> u64 {
    for (f, twin) in fields.iter().zip(twins) {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let (vx, vy) = (f.write(a, &mut x), twin.write(b, &mut y));
        assert_eq!(
            (vx, String::from_utf8_lossy(&x)),
            (vy, String::from_utf8_lossy(&y)),
            "{} on {}",
            f.info().name,
            on()
        );
    }
    fields.len() as u64
}

#[test]
fn fields_that_do_not_read_what_unneeded_events_update_keep_their_values() {
    let all = fields();
    assert!(all.len() > 190, "the registry went missing: {} fields", all.len());
    let time = TimeFormatter::new(TimeZone::UTC);
    let mut files: Vec<_> = std::fs::read_dir(CAPTURES).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 10, "the shared captures are missing");
    let mut compared = 0u64;
    let mut passed_over = 0u64;
    let users = Reads { users: true, ..Reads::NONE };
    let memory = Reads { memory: true, ..Reads::NONE };
    for reads in [Reads::NONE, users, memory] {
        let checked: Vec<&Field> = all.iter().filter(|f| f.state_reads().union(reads) == reads).collect();
        // A second copy for the second state: `evt.deltatime` remembers the
        // last event it was extracted on.
        let twins: Vec<Field> = checked.iter().map(|&f| f.clone()).collect();
        let unneeded = State::unneeded_event_types(reads);
        for file in &files {
            let mut every = Reader::open(file).unwrap();
            let mut some = Reader::open(file).unwrap();
            some.pass_over(unneeded);
            let limits = Limits::default();
            let mut full = State::from_capture(every.header(), &limits);
            let mut partial = State::from_capture(some.header(), &limits);
            let (mut num, mut skipped) = (0u64, 0u64);
            while let Some(rec) = every.next_event().unwrap() {
                num += 1;
                full.apply(&rec.event, rec.cpu);
                if unneeded.contains(rec.event.event_type()) {
                    skipped += 1;
                    continue;
                }
                let other = some.next_event().unwrap().expect("the same events, fewer of them");
                assert_eq!(other.event.as_bytes(), rec.event.as_bytes(), "{} event {num}", file.display());
                assert_eq!(other.passed_over, skipped, "{} event {num}", file.display());
                passed_over += skipped;
                skipped = 0;
                partial.count_unapplied(other.passed_over);
                partial.apply(&other.event, other.cpu);
                let ctx = |state| EventContext { event: rec.event, num, cpu: rec.cpu, time: &time, state };
                let on = || format!("event {num} of {} (reading {reads:?})", file.display());
                compared += same_values(&checked, &twins, &ctx(&full), &ctx(&partial), on);
            }
            assert!(some.next_event().unwrap().is_none(), "{}", file.display());
            assert_eq!(some.passed_over_pending(), skipped, "{}", file.display());
            assert_eq!(full.counters().events, partial.counters().events + skipped, "{}", file.display());
        }
    }
    // The captures hold switches and user lists: the test compared values
    // around events that were really left out.
    assert!(passed_over > 1000 && compared > 1_000_000, "passed over {passed_over}, compared {compared}");
}

#[test]
fn what_the_fields_read() {
    let reads = |name: &str| Field::parse(name).unwrap().state_reads();
    let users = Reads { users: true, ..Reads::NONE };
    let memory = Reads { memory: true, ..Reads::NONE };
    let last_event = Reads { last_event: true, ..Reads::NONE };
    assert_eq!(reads("user.name"), users);
    assert_eq!(reads("evt.info"), users);
    assert_eq!(reads("proc.vmrss"), memory);
    assert_eq!(reads("thread.pfminor"), memory);
    for name in ["evt.latency", "evt.latency.human", "evt.wait_latency", "evt.buflen", "evt.category", "evt.outputtime"]
    {
        assert_eq!(reads(name), last_event, "{name}");
    }
    assert_eq!(reads("evt.num"), Reads::NONE);
    assert_eq!(reads("fd.name"), Reads::NONE);
    assert_eq!(reads("proc.name"), Reads::NONE);
    // Unneeded for a reader of nothing optional: switches, user lists, and
    // what libsinsp does not parse; never a system call.
    let none = State::unneeded_event_types(Reads::NONE);
    let names = none.names();
    for n in ["switch", "useradded", "groupadded", "procinfo"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    for n in ["open", "openat", "close", "read", "execve", "clone", "container", "procexit"] {
        assert!(!names.contains(&n), "{n} in {names:?}");
    }
    let all = State::unneeded_event_types(Reads::ALL);
    assert!(!all.contains(EventType::SCHEDSWITCH_6_E) && none.contains(EventType::SCHEDSWITCH_6_E));
    let user_added = EventType(354);
    assert_eq!(user_added.info().map(|i| i.name), Some("useradded"));
    assert!(!all.contains(user_added) && none.contains(user_added));
}

/// The exits `State::unneeded_exits_after_enter` names can be left out
/// when they come right after their own enter event: on every shared
/// capture, every other event gets the same value of every field that does
/// not read a thread's last exit as such (`Reads::last_event`).
#[test]
fn exits_right_after_their_enter_can_be_left_out() {
    let all = fields();
    let checked: Vec<&Field> = all.iter().filter(|f| !f.state_reads().last_event).collect();
    assert!(checked.len() + 20 > all.len(), "{} of {} fields", checked.len(), all.len());
    let twins: Vec<Field> = checked.iter().map(|&f| f.clone()).collect();
    let exits = State::unneeded_exits_after_enter();
    let time = TimeFormatter::new(TimeZone::UTC);
    let mut files: Vec<_> = std::fs::read_dir(CAPTURES).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut compared, mut left_out) = (0u64, 0u64);
    for file in &files {
        let mut every = Reader::open(file).unwrap();
        let mut some = Reader::open(file).unwrap();
        some.pass_over_exits_after_enter(exits);
        let limits = Limits::default();
        let mut full = State::from_capture(every.header(), &limits);
        let mut partial = State::from_capture(some.header(), &limits);
        // The next event `some` delivers: block offset, events passed over
        // before it, CPU, bytes.
        let next = |r: &mut Reader| {
            r.next_event().unwrap().map(|e| (e.offset, e.passed_over, e.cpu, e.event.as_bytes().to_vec()))
        };
        let mut delivered = next(&mut some);
        let (mut num, mut skipped) = (0u64, 0u64);
        while let Some(rec) = every.next_event().unwrap() {
            num += 1;
            full.apply(&rec.event, rec.cpu);
            let Some((offset, passed_over, cpu, bytes)) = &delivered else { panic!("{} ends early", file.display()) };
            if *offset != rec.offset {
                assert!(exits.contains(rec.event.event_type()), "{} event {num}: {:?}", file.display(), rec.event);
                skipped += 1;
                continue;
            }
            assert_eq!(bytes.as_slice(), rec.event.as_bytes(), "{} event {num}", file.display());
            assert_eq!(*passed_over, skipped, "{} event {num}", file.display());
            left_out += skipped;
            skipped = 0;
            partial.count_unapplied(*passed_over);
            partial.apply(&Event::parse(bytes).unwrap(), *cpu);
            let ctx = |state| EventContext { event: rec.event, num, cpu: rec.cpu, time: &time, state };
            let on = || format!("event {num} of {}", file.display());
            compared += same_values(&checked, &twins, &ctx(&full), &ctx(&partial), on);
            delivered = next(&mut some);
        }
        assert!(delivered.is_none(), "{}", file.display());
        assert_eq!(some.passed_over_pending(), skipped, "{}", file.display());
        assert_eq!(full.counters().events, partial.counters().events + skipped, "{}", file.display());
    }
    assert!(left_out > 1000 && compared > 1_000_000, "left out {left_out}, compared {compared}");
}
