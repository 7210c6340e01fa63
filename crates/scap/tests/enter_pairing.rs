//! The writer's compatibility options for captures of live drivers, which
//! send exit events only: enter events synthesized from the exits
//! (`pair_enter_events`), and generic events sysdig 0.29.3 cannot name
//! (`legacy_generic_ids`). Checked on the events read back and with sysdig
//! 0.29.3.

mod common;

use saker_abi::{Event, EventBuilder, EventType as T, Value};
use saker_scap::{CaptureHeader, FdInfo, FdKind, ProcessInfo, Reader, UserInfo, WriteOptions, Writer};

const TID: u64 = 4242;
const TS: u64 = 1_700_000_000_000_000_000;

/// The exit-only stream a live driver sends for: an openat of a marker file,
/// a read of fd 1 (open before the capture) and a close of the marker, a clone seen from the child, an openat whose
/// enter the driver did send, and an rseq (a generic event whose syscall
/// code sysdig 0.29.3 does not know).
fn live_stream() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut ev = |ty: T, ts: u64, tid: u64, f: &dyn Fn(&mut EventBuilder<'_>)| {
        let mut buf = Vec::new();
        let mut b = EventBuilder::new(&mut buf, ts, tid, ty);
        f(&mut b);
        b.finish();
        out.push(buf);
    };
    ev(T::SYSCALL_OPENAT_2_X, TS, TID, &|b| {
        b.param_i64(3).param_i64(-100).param_str(b"/tmp/pairing-marker").param_u64(2 | 4).param_u64(0o640);
        b.param_u64(0xfe00).param_u64(77);
    });
    ev(T::SYSCALL_READ_X, TS + 10, TID, &|b| {
        b.param_i64(5).param_raw(b"hello").param_i64(1).param_u64(4096);
    });
    ev(T::SYSCALL_CLOSE_X, TS + 20, TID, &|b| {
        b.param_i64(0).param_i64(3);
    });
    ev(T::SYSCALL_CLONE_20_X, TS + 30, TID + 1, &|b| {
        b.param_i64(0);
    });
    ev(T::SYSCALL_OPENAT_2_E, TS + 40, TID, &|b| {
        b.param_i64(-100).param_str(b"/tmp/pairing-second").param_u64(1).param_u64(0);
    });
    ev(T::SYSCALL_OPENAT_2_X, TS + 50, TID, &|b| {
        b.param_i64(4).param_i64(-100).param_str(b"/tmp/pairing-second").param_u64(1).param_u64(0);
        b.param_u64(0xfe00).param_u64(78);
    });
    ev(T::GENERIC_X, TS + 60, TID, &|b| {
        b.param_u64(380).param_u64(334);
    });
    out
}

fn write(events: &[Vec<u8>], opts: WriteOptions, header: Option<&CaptureHeader>) -> Vec<u8> {
    let mut w = Writer::with_options(Vec::new(), opts);
    if let Some(h) = header {
        w.write_header(h).unwrap();
    }
    for e in events {
        w.write_event(0, &Event::parse(e).unwrap()).unwrap();
    }
    w.finish().unwrap()
}

fn read_back(bytes: Vec<u8>) -> Vec<Vec<u8>> {
    let mut r = Reader::from_bytes(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_event().unwrap() {
        out.push(rec.event.as_bytes().to_vec());
    }
    out
}

const LIVE: WriteOptions = WriteOptions {
    compression: saker_scap::Compression::None,
    proclist_layout: saker_scap::ProcListLayout::Compatible,
    pair_enter_events: true,
    legacy_generic_ids: true,
};

#[test]
fn exits_get_their_enter_events_built_from_their_parameters() {
    let mut w = Writer::with_options(Vec::new(), LIVE);
    for e in live_stream() {
        w.write_event(0, &Event::parse(&e).unwrap()).unwrap();
    }
    assert_eq!((w.events_written(), w.enter_events_synthesized()), (7 + 4, 4));
    let back = read_back(w.finish().unwrap());
    let types: Vec<T> = back.iter().map(|e| Event::parse(e).unwrap().event_type()).collect();
    assert_eq!(
        types,
        [
            T::SYSCALL_OPENAT_2_E,
            T::SYSCALL_OPENAT_2_X,
            T::SYSCALL_READ_E,
            T::SYSCALL_READ_X,
            T::SYSCALL_CLOSE_E,
            T::SYSCALL_CLOSE_X,
            // The child's side of a clone never entered it.
            T::SYSCALL_CLONE_20_X,
            // The driver sent this enter: no second one.
            T::SYSCALL_OPENAT_2_E,
            T::SYSCALL_OPENAT_2_X,
            T::GENERIC_E,
            T::GENERIC_X,
        ]
    );
    // Each synthesized enter: the exit's thread and time, its parameters by name.
    let e0 = Event::parse(&back[0]).unwrap();
    assert_eq!((e0.ts(), e0.tid()), (TS, TID));
    assert_eq!(e0.param_by_name("dirfd").unwrap().value(), Value::Int(-100));
    assert_eq!(e0.param_by_name("name").unwrap().value(), Value::Str(b"/tmp/pairing-marker"));
    assert_eq!(e0.param_by_name("flags").unwrap().value(), Value::Uint(6));
    assert_eq!(e0.param_by_name("mode").unwrap().value(), Value::Uint(0o640));
    assert_eq!(e0.nparams(), 4);
    let read_e = Event::parse(&back[2]).unwrap();
    assert_eq!(read_e.param_by_name("fd").unwrap().value(), Value::Int(1));
    assert_eq!(read_e.param_by_name("size").unwrap().value(), Value::Uint(4096));
    let close_e = Event::parse(&back[4]).unwrap();
    assert_eq!((close_e.ts(), close_e.param_by_name("fd").unwrap().value()), (TS + 20, Value::Int(3)));
    // The generic events name no syscall code sysdig 0.29.3 lacks; the
    // native number stays.
    for g in &back[9..] {
        let g = Event::parse(g).unwrap();
        assert_eq!(g.param_by_name("ID").unwrap().value(), Value::Uint(0));
        assert_eq!(g.param_by_name("nativeID").unwrap().value(), Value::Uint(334));
    }
}

#[test]
fn without_the_options_events_are_copied_as_they_are() {
    let stream = live_stream();
    let back = read_back(write(&stream, WriteOptions::default(), None));
    assert_eq!(back, stream);
}

/// Threads whose tids share a slot of the writer's table may get a
/// redundant enter event, never a missing one.
#[test]
fn colliding_threads_never_lose_an_enter_event() {
    let mut events = Vec::new();
    let tids = [7u64, 7 + (1 << 16), 7 + (2 << 16), 8];
    for round in 0..3u64 {
        for (i, &tid) in tids.iter().enumerate() {
            let mut buf = Vec::new();
            let mut b = EventBuilder::new(&mut buf, TS + round * 100 + i as u64, tid, T::SYSCALL_CLOSE_X);
            b.param_i64(0).param_i64(3 + i as i64);
            b.finish();
            events.push(buf);
        }
    }
    let back = read_back(write(&events, LIVE, None));
    let mut last: std::collections::HashMap<u64, T> = Default::default();
    for e in &back {
        let e = Event::parse(e).unwrap();
        if e.event_type() == T::SYSCALL_CLOSE_X {
            assert_eq!(last.get(&e.tid()), Some(&T::SYSCALL_CLOSE_E), "close exit of {} without its enter", e.tid());
        }
        last.insert(e.tid(), e.event_type());
    }
}

/// sysdig 0.29.3 reads the paired capture cleanly and, thanks to the enter
/// events, knows which fd each read and close used.
#[test]
fn sysdig_reads_paired_exit_only_events() {
    let dir = common::temp_dir("pairing");
    let header = CaptureHeader {
        users: vec![UserInfo {
            uid: 0,
            gid: 0,
            name: b"root".to_vec(),
            homedir: b"/root".to_vec(),
            shell: b"/bin/sh".to_vec(),
        }],
        processes: vec![
            ProcessInfo {
                tid: TID,
                pid: TID,
                ptid: 1,
                comm: b"pairtest".to_vec(),
                exe: b"pairtest".to_vec(),
                exepath: b"/usr/bin/pairtest".to_vec(),
                cwd: b"/tmp".to_vec(),
                fds: vec![FdInfo {
                    fd: 1,
                    ino: 9,
                    kind: FdKind::File { open_flags: 2, name: b"/dev/null".to_vec(), dev: Some(6) },
                }],
                ..ProcessInfo::default()
            },
            ProcessInfo {
                tid: TID + 1,
                pid: TID + 1,
                ptid: TID,
                comm: b"pairchild".to_vec(),
                exe: b"pairchild".to_vec(),
                ..ProcessInfo::default()
            },
        ],
        ..CaptureHeader::default()
    };
    // The clone child exit of the stream carries no process data; leave it
    // out of what sysdig reads.
    let stream: Vec<Vec<u8>> =
        live_stream().into_iter().filter(|e| Event::parse(e).unwrap().event_type() != T::SYSCALL_CLONE_20_X).collect();
    let sysdig = |name: &str, opts: WriteOptions| {
        let path = dir.join(name);
        std::fs::write(&path, write(&stream, opts, Some(&header))).unwrap();
        let out = std::process::Command::new(common::sysdig())
            .arg("-r")
            .arg(&path)
            .args(["-p", "*%evt.num %proc.name %evt.dir %evt.type %fd.num %fd.name %evt.info"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "sysdig on {name}: {} {stderr}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Without the enter events, sysdig 0.29.3 does not know which fd the
    // read used (its read exit carries no fd): it takes the last one it saw.
    let unpaired = sysdig("unpaired.scap", WriteOptions { legacy_generic_ids: true, ..WriteOptions::default() });
    let read = unpaired.lines().find(|l| l.contains("pairtest < read ")).unwrap();
    assert!(!read.contains("< read 1 /dev/null"), "{unpaired}");
    let text = sysdig("paired.scap", LIVE);
    let lines: Vec<&str> = text.lines().collect();
    let want = [
        "pairtest > openat -1 <NA> dirfd=-100(AT_FDCWD) name=/tmp/pairing-marker flags=6(O_CREAT|O_WRONLY) mode=0640",
        "pairtest < openat 3 /tmp/pairing-marker fd=3(<f>/tmp/pairing-marker)",
        "pairtest > read 1 /dev/null fd=1(<f>/dev/null) size=4096",
        "pairtest < read 1 /dev/null res=5 data=hello",
        "pairtest > close 3 /tmp/pairing-marker fd=3(<f>/tmp/pairing-marker)",
        "pairtest < close 3 /tmp/pairing-marker res=0",
    ];
    for (i, w) in want.iter().enumerate() {
        let got = lines.get(i).map(|l| l.split_once(' ').map_or(*l, |x| x.1)).unwrap_or("");
        assert!(got.starts_with(w), "line {i}: {got:?}, expected it to start with {w:?}\n{text}");
    }
    // The openat whose enter the driver sent, and the generic event as an
    // unknown syscall.
    assert!(text.contains("< openat 4 /tmp/pairing-second"), "{text}");
    assert!(text.contains("> <unknown>") || text.contains("> syscall"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `write_event_upto` stops at exactly `max` events, synthesized enter events
/// counted: with room for one event and a pair due, the enter event alone.
#[test]
fn write_event_upto_counts_enter_events() {
    let events = live_stream();
    let opts = WriteOptions { pair_enter_events: true, ..WriteOptions::default() };
    // The first exit needs its enter: with room for 1, only the enter is written.
    let mut w = Writer::with_options(Vec::new(), opts);
    assert_eq!(w.write_event_upto(0, None, &Event::parse(&events[0]).unwrap(), 1).unwrap(), 1);
    assert_eq!(w.events_written(), 1);
    assert_eq!(w.write_event_upto(0, None, &Event::parse(&events[1]).unwrap(), 0).unwrap(), 0);
    let bytes = w.finish().unwrap();
    let mut r = Reader::from_bytes(bytes).unwrap();
    let mut types = Vec::new();
    while let Some(rec) = r.next_event().unwrap() {
        types.push(rec.event.event_type());
    }
    assert_eq!(types, [T::SYSCALL_OPENAT_2_E]);
    // Bounded at N: exactly N events whatever the pairs.
    for n in 1..=10u64 {
        let mut w = Writer::with_options(Vec::new(), opts);
        for e in &events {
            let left = n - w.events_written();
            w.write_event_upto(0, None, &Event::parse(e).unwrap(), left).unwrap();
        }
        // The stream makes 12 events once paired (5 exits with synthesized enters, an enter given, and an exit).
        assert_eq!(w.events_written(), n.min(12), "n = {n}");
    }
}

/// A write that fails (a full device) names the file and where it stops.
#[test]
fn write_errors_name_the_file() {
    let mut w = Writer::create_with("/dev/full", WriteOptions::default()).unwrap();
    let events = live_stream();
    let mut failed = None;
    for _ in 0..20_000 {
        for e in &events {
            if let Err(err) = w.write_event(0, &Event::parse(e).unwrap()) {
                failed = Some(err);
                break;
            }
        }
        if failed.is_some() {
            break;
        }
    }
    let e = failed.or_else(|| w.finish().err()).expect("writing to /dev/full fails");
    let s = e.to_string();
    assert!(s.starts_with("/dev/full: byte offset "), "{s}");
    assert!(s.contains("cannot write the capture: No space left on device"), "{s}");
}
