//! Reading the real captures: every one to the end, with the event count sysdig
//! 0.29.3 implies, the header each block version carries, and the same result
//! through every input path (memory map, buffered file, bytes, stream).

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use saker_scap::{CaptureHeader, FdKind, ReadOptions, Reader, format::block};

/// Event types sysdig 0.29.3's libs know; it silently skips the others.
const SYSDIG_EVENT_MAX: u16 = 336;

struct Summary {
    header: CaptureHeader,
    /// (block offset, cpu, dump flags, event bytes) of every event.
    events: Vec<(u64, u16, Option<u32>, Vec<u8>)>,
}

fn read_all(mut r: Reader) -> Summary {
    let mut events = Vec::new();
    while let Some(rec) = r.next_event().unwrap_or_else(|e| panic!("{e}")) {
        events.push((rec.offset, rec.cpu, rec.dump_flags, rec.event.as_bytes().to_vec()));
    }
    Summary { header: r.take_header(), events }
}

/// Counts event blocks by walking the raw block framing (independently of the reader).
fn count_event_blocks(raw: &[u8]) -> usize {
    let mut off = 0;
    let mut n = 0;
    while off + 8 <= raw.len() {
        let t = u32::from_le_bytes(raw[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(raw[off + 4..off + 8].try_into().unwrap()) as usize;
        assert!(len >= 12);
        n += block::is_event(t) as usize;
        off += len;
    }
    assert_eq!(off, raw.len());
    n
}

/// The number of events sysdig 0.29.3 reads: with `-D` it prints internal events
/// too, so the last `%evt.num` is the count of the events it did not skip.
fn sysdig_event_count(p: &Path) -> usize {
    let out = common::sysdig_output(p, &["-D", "-p", "%evt.num"]);
    out.lines().filter_map(|l| l.trim().parse::<usize>().ok()).max().unwrap_or(0)
}

#[test]
fn every_capture_reads_to_the_end_with_the_event_count_sysdig_implies() {
    for p in common::all_captures() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let s = read_all(Reader::open(&p).unwrap());
        let raw = common::raw_bytes(&p);
        assert_eq!(s.events.len(), count_event_blocks(&raw), "{name}: one event per event block");
        assert!(!s.events.is_empty(), "{name}");
        let known = s.events.iter().filter(|e| u16::from_le_bytes([e.3[20], e.3[21]]) < SYSDIG_EVENT_MAX).count();
        if common::sysdig_rejects(&p) {
            // Same capture as curl_google.scap, with SHB options sysdig 0.29.3 cannot skip.
            let plain = read_all(Reader::open(common::captures_dir().join("libs__curl_google.scap")).unwrap());
            assert_eq!(
                s.events.iter().map(|e| &e.3).collect::<Vec<_>>(),
                plain.events.iter().map(|e| &e.3).collect::<Vec<_>>()
            );
            assert_eq!(s.header.processes, plain.header.processes);
        } else {
            assert_eq!(known, sysdig_event_count(&p), "{name}: events sysdig 0.29.3 reads");
        }
        // Events are in file order, with strictly increasing offsets.
        assert!(s.events.windows(2).all(|w| w[0].0 < w[1].0), "{name}");
    }
}

#[test]
fn sample_has_event_types_sysdig_skips() {
    let s = read_all(Reader::open(common::captures_dir().join("libs__sample.scap")).unwrap());
    let types: BTreeMap<u16, usize> = s.events.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(u16::from_le_bytes([e.3[20], e.3[21]])).or_default() += 1;
        m
    });
    assert_eq!(s.events.len(), 572);
    assert_eq!(types.range(SYSDIG_EVENT_MAX..).map(|(_, n)| n).sum::<usize>(), 95);
    assert!(*types.keys().last().unwrap() <= 358);
}

#[test]
fn headers_match_what_each_block_version_carries() {
    // (file, process-list version, v1 event blocks)
    let expect = [
        ("falco__cat_write.scap", 6, true),
        ("falco__connect_localhost.scap", 7, true),
        ("falco__empty.scap", 9, false),
        ("falco__open-multiple-files.scap", 6, true),
        ("falco__ping_sendto.scap", 9, false),
        ("falco__syscall.scap", 8, true),
        ("falco_psp__privileged.scap", 9, false),
        ("libs__curl_google.scap", 5, true),
        ("libs__curl_google_comments.scap", 5, true),
        ("libs__sample.scap", 9, false),
        ("libs__single_ipv6_conn.scap", 9, false),
        ("libs__test_ipv6_client.scap", 5, true),
    ];
    for (file, pl, v1) in expect {
        let p = common::captures_dir().join(file);
        let mut r = Reader::open(&p).unwrap();
        let h = r.header().clone();
        assert_eq!(h.proclist_version(), Some(pl), "{file}");
        let m = h.machine.as_ref().unwrap_or_else(|| panic!("{file}: machine info"));
        assert!(m.num_cpus > 0 && !m.hostname.is_empty(), "{file}: {m:?}");
        assert!(!h.users.is_empty() && !h.groups.is_empty() && !h.interfaces.is_empty(), "{file}");
        assert!(h.users.iter().any(|u| u.uid == 0 && u.name == b"root"), "{file}");
        assert!(h.processes.len() > 40, "{file}");
        assert!(h.processes.iter().any(|p| p.tid == 1), "{file}: init");
        assert!(h.orphan_fds.is_empty() && h.skipped_blocks.is_empty(), "{file}");
        for p in &h.processes {
            // Fields a version does not carry keep libs' defaults.
            if pl < 6 {
                assert_eq!(p.sid, u64::MAX, "{file}");
            }
            if pl < 7 {
                assert!(p.exepath.is_empty(), "{file}");
            }
            if pl < 8 {
                assert_eq!(p.vpgid, u64::MAX, "{file}");
            }
            if pl < 9 {
                assert_eq!(p.loginuid, u32::MAX, "{file}");
            }
            assert!(p.pid != 0 && !p.comm.is_empty(), "{file}: {p:?}");
        }
        let nfds: usize = h.processes.iter().map(|p| p.fds.len()).sum();
        assert!(nfds > 300, "{file}: {nfds} fds");
        let files = h.processes.iter().flat_map(|p| &p.fds).filter(|f| {
            matches!(f.kind, FdKind::File { .. } | FdKind::Named { fd_type: saker_scap::fd_type::FILE, .. })
        });
        assert!(files.count() > 10, "{file}");
        while r.next_event().unwrap().is_some() {}
        assert_eq!(r.stats().converted_v1_events > 0, v1, "{file}");
        let first_ev = h.block_types.len();
        assert!(first_ev >= 6, "{file}: SHB, MI, IL, UL, PL, FDL...");
        assert_eq!(h.block_types[0], block::SHB);
    }
}

#[test]
fn pl_v9_tails_are_read_in_both_layouts() {
    // sample.scap was written by libs >= 0.10 (pidns_init_start_ts and tty before
    // loginuid); the falco v9 captures by older libs whose entries end with loginuid.
    let h = Reader::open(common::captures_dir().join("libs__sample.scap")).unwrap().take_header();
    let sysdig = h.processes.iter().find(|p| p.comm == b"sysdig").unwrap();
    assert_ne!(sysdig.pidns_init_start_ts, 0);
    assert!(sysdig.exe_ino != 0 && sysdig.cap_effective != 0, "{sysdig:?}");
    assert!(h.processes.iter().any(|p| p.tty != 0));

    let h = Reader::open(common::captures_dir().join("falco__ping_sendto.scap")).unwrap().take_header();
    assert!(h.processes.iter().all(|p| p.pidns_init_start_ts == 0 && p.tty == 0 && p.exe_ino == 0));
    assert!(h.processes.iter().all(|p| p.cap_effective == 0 && !p.exe_writable));
    let bash = h.processes.iter().find(|p| p.comm == b"bash").unwrap();
    assert_eq!(bash.loginuid, 501); // as `sysdig -r` shows for user.loginuid
}

#[test]
fn every_input_path_reads_the_same() {
    for file in ["libs__sample.scap", "libs__curl_google.scap", "falco__ping_sendto.scap"] {
        let p = common::captures_dir().join(file);
        let base = read_all(Reader::open(&p).unwrap());
        let no_mmap = read_all(Reader::open_with(&p, ReadOptions { mmap: false, buffer_size: 1 }).unwrap());
        let bytes = read_all(Reader::from_bytes(std::fs::read(&p).unwrap()).unwrap());
        let raw = read_all(Reader::from_bytes(common::raw_bytes(&p)).unwrap());
        let stream = read_all(Reader::from_read(File::open(&p).unwrap()).unwrap());
        for other in [&no_mmap, &bytes, &raw, &stream] {
            assert_eq!(other.header, base.header, "{file}");
            assert_eq!(other.events, base.events, "{file}");
        }
    }
}

#[test]
fn comments_capture_keeps_its_section_options() {
    let p = common::captures_dir().join("libs__curl_google_comments.scap");
    let r = Reader::open(&p).unwrap();
    let s = &r.header().section;
    assert_eq!((s.major, s.minor), (1, 0)); // editcap's pcapng SHB version
    assert_eq!(s.options.len(), 116 - 28);
    // A pcapng comment option (code 1) comes first.
    assert_eq!(u16::from_le_bytes([s.options[0], s.options[1]]), 1);
}

#[test]
fn gzip_is_detected() {
    let gz = Reader::open(common::captures_dir().join("libs__curl_google.scap")).unwrap();
    assert!(gz.is_gzip());
    let plain = Reader::open(common::captures_dir().join("libs__sample.scap")).unwrap();
    assert!(!plain.is_gzip());
    assert_eq!(plain.path().unwrap().file_name().unwrap(), "libs__sample.scap");
}

/// `Event::int_param`, the state's one-step integer read, gives what the
/// typed parameter does (`param(i)?.as_u64()`) for every parameter of every
/// real event, past the last one included, and reads integers where there are.
#[test]
fn int_param_agrees_with_the_typed_parameter_on_every_real_event() {
    let (mut checked, mut integers) = (0u64, 0u64);
    for p in common::all_captures() {
        let mut r = Reader::open(&p).unwrap();
        while let Some(rec) = r.next_event().unwrap() {
            let ev = rec.event;
            for i in 0..=ev.nparams() as usize + 1 {
                let want = ev.param(i).and_then(|p| p.as_u64());
                assert_eq!(ev.int_param(i), want, "{}: {ev:?} parameter {i}", p.display());
                checked += 1;
                integers += want.is_some() as u64;
            }
        }
    }
    assert!(integers > 30_000 && checked > integers, "{integers} integers of {checked} parameters");
}
