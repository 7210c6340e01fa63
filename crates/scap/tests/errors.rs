//! Damaged input: empty, foreign, truncated and corrupted files. The reader
//! must never panic, must name the file, the byte offset and the cause, and
//! must have returned every event before the damage.

mod common;

use std::io::Write;

use saker_scap::{ErrorKind, ReadOptions, Reader, format::block};

/// `(offset, type, total length)` of every block, walking the framing.
fn blocks(raw: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut v = Vec::new();
    let mut off = 0;
    while off + 8 <= raw.len() {
        let t = u32::from_le_bytes(raw[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(raw[off + 4..off + 8].try_into().unwrap()) as usize;
        v.push((off, t, len));
        off += len;
    }
    v
}

/// Reads everything: the events' bytes and the error that ended the reading.
fn drain(r: Result<Reader, saker_scap::Error>) -> (Vec<Vec<u8>>, Option<saker_scap::Error>) {
    let mut r = match r {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut events = Vec::new();
    loop {
        match r.next_event() {
            Ok(Some(rec)) => events.push(rec.event.as_bytes().to_vec()),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

fn write_temp(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

/// A minimal valid capture: section header and one close exit event.
fn tiny_capture() -> Vec<u8> {
    let mut v = Vec::new();
    let blk = |v: &mut Vec<u8>, t: u32, body: &[u8]| {
        let total = (8 + body.len() + 4 + 3) & !3;
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&(total as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(v.len() + total - 12 - body.len(), 0);
        v.extend_from_slice(&(total as u32).to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&2u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    blk(&mut v, block::SHB, &shb);
    let mut ev = vec![0u8; 2];
    let mut e = Vec::new();
    let mut b = saker_abi::EventBuilder::new(&mut e, 1, 2, saker_abi::EventType::SYSCALL_CLOSE_X);
    b.param_i64(0);
    b.finish();
    ev.extend_from_slice(&e);
    blk(&mut v, block::EV_V2, &ev);
    v
}

#[test]
fn empty_file() {
    let dir = common::temp_dir("err-empty");
    let p = write_temp(&dir, "empty.scap", b"");
    let e = Reader::open(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Empty), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("empty.scap") && msg.contains("byte offset 0") && msg.contains("empty"), "{msg}");
    // An empty gzip stream is an empty capture too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.flush().unwrap();
    let e = Reader::from_bytes(gz.finish().unwrap()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Empty), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn not_a_capture_file() {
    let dir = common::temp_dir("err-foreign");
    for (name, bytes) in [
        ("text.scap", &b"hello, this is not a capture\n"[..]),
        ("short.scap", &b"ab"[..]),
        ("elf.scap", &b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"[..]),
    ] {
        let p = write_temp(&dir, name, bytes);
        let e = Reader::open(&p).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotCapture { .. }), "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(name) && msg.contains("byte offset 0") && msg.contains("not a capture"), "{msg}");
    }
    // A section header block type, but the wrong magic (a pcapng file).
    let mut pcapng = tiny_capture();
    pcapng[8..12].copy_from_slice(&0x1A2B3C4Eu32.to_le_bytes());
    let e = Reader::from_bytes(pcapng).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotCapture { .. }) && e.to_string().contains("magic"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unsupported_byte_order_and_version() {
    let mut swapped = tiny_capture();
    swapped[8..12].copy_from_slice(&0x1A2B3C4Du32.to_be_bytes());
    let e = Reader::from_bytes(swapped).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::UnsupportedByteOrder), "{e}");
    assert!(e.to_string().contains("byte order"), "{e}");

    let mut v2 = tiny_capture();
    v2[12..14].copy_from_slice(&2u16.to_le_bytes());
    let e = Reader::from_bytes(v2).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::UnsupportedVersion { major: 2, minor: 2 }), "{e}");
}

#[test]
fn bad_gzip_stream() {
    // A gzip magic followed by garbage.
    let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    bytes.extend(std::iter::repeat_n(0xffu8, 64));
    let e = Reader::from_bytes(bytes).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Gzip(_)), "{e}");
    assert!(e.to_string().contains("gzip") && e.to_string().contains("byte offset 0"), "{e}");

    // Damage inside the deflate data of a real capture: an error, never a panic,
    // and whatever was returned before is a prefix of the real events.
    let p = common::captures_dir().join("libs__curl_google.scap");
    let gz = std::fs::read(&p).unwrap();
    let (good, none) = drain(Reader::from_bytes(gz.clone()));
    assert!(none.is_none());
    for at in (40..gz.len() - 8).step_by(997) {
        let mut bad = gz.clone();
        bad[at] ^= 0x5a;
        let (events, err) = drain(Reader::from_bytes(bad));
        let e = err.unwrap_or_else(|| panic!("damage at {at} went unnoticed"));
        assert!(e.to_string().contains("byte offset"), "{e}");
        assert!(events.len() <= good.len());
    }
}

#[test]
fn truncation_at_many_offsets_of_every_capture() {
    for p in common::all_captures() {
        let raw = common::raw_bytes(&p);
        let (all, none) = drain(Reader::from_bytes(raw.clone()));
        assert!(none.is_none());
        let bl = blocks(&raw);
        let first_event = bl.iter().position(|b| block::is_event(b.1)).unwrap();
        // Cut points: around every header block boundary, then spread over the events.
        let mut cuts: Vec<usize> = vec![0, 1, 3, 4, 7, 8, 11, 12, 27, raw.len() - 1];
        // (SHB, MI, IL, UL, PL, the first fd lists, the last ones and the first events.)
        for &(off, _, len) in bl[..8].iter().chain(&bl[first_event - 2..first_event + 2]) {
            cuts.extend([off, off + 1, off + 8, off + 9, off + len - 1]);
        }
        cuts.extend((1..40).map(|i| raw.len() * i / 40 + i % 7));
        for cut in cuts {
            let cut = cut.min(raw.len() - 1);
            let (events, err) = drain(Reader::from_bytes(raw[..cut].to_vec()));
            // Events wholly before the cut.
            let complete = bl.iter().filter(|(off, t, len)| block::is_event(*t) && off + len <= cut).count();
            assert_eq!(events[..], all[..complete], "{}: cut at {cut}", p.display());
            let at_boundary = cut == 0 || bl.iter().any(|(off, _, _)| *off == cut);
            match err {
                None => assert!(at_boundary && cut > 0, "{}: cut at {cut} unnoticed", p.display()),
                Some(e) => {
                    if cut == 0 {
                        assert!(matches!(e.kind(), ErrorKind::Empty));
                        continue;
                    }
                    assert!(!at_boundary || cut < 28, "{}: cut at {cut}: {e}", p.display());
                    assert!(e.is_truncated(), "{}: cut at {cut}: {e}", p.display());
                    // The error points at the start of the cut block.
                    let block_start = bl.iter().rev().find(|(off, _, _)| *off < cut).unwrap().0;
                    assert_eq!(e.offset(), block_start as u64, "{}: cut at {cut}: {e}", p.display());
                    let msg = e.to_string();
                    assert!(msg.contains(&format!("byte offset {block_start}")) && msg.contains("truncated"), "{msg}");
                }
            }
        }
    }
}

#[test]
fn truncated_files_on_disk_name_the_file() {
    let dir = common::temp_dir("err-trunc-disk");
    // Uncompressed (memory-mapped and buffered) and gzip.
    let sample = std::fs::read(common::captures_dir().join("libs__sample.scap")).unwrap();
    let gz = std::fs::read(common::captures_dir().join("falco__ping_sendto.scap")).unwrap();
    for (name, bytes) in [("sample.scap", &sample), ("ping.scap.gz", &gz)] {
        let (all, _) = drain(Reader::open(common::captures_dir().join(if name == "sample.scap" {
            "libs__sample.scap"
        } else {
            "falco__ping_sendto.scap"
        })));
        for frac in [3, 5, 7, 9] {
            let cut = bytes.len() * frac / 10;
            let p = write_temp(&dir, name, &bytes[..cut]);
            for opts in [ReadOptions::default(), ReadOptions { mmap: false, buffer_size: 4096 }] {
                let (events, err) = drain(Reader::open_with(&p, opts));
                let e = err.unwrap_or_else(|| panic!("{name} cut at {cut}"));
                assert!(e.is_truncated(), "{e}");
                assert_eq!(e.path(), Some(p.as_path()));
                assert!(e.to_string().starts_with(&format!("{}: byte offset ", p.display())), "{e}");
                assert_eq!(events[..], all[..events.len()]);
                if name.ends_with(".gz") {
                    assert!(e.to_string().contains("decompressed"), "{e}");
                }
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corrupted_block_lengths() {
    let raw = common::raw_bytes(&common::captures_dir().join("libs__sample.scap"));
    let bl = blocks(&raw);
    let (all, _) = drain(Reader::from_bytes(raw.clone()));
    let events: Vec<_> = bl.iter().filter(|b| block::is_event(b.1)).copied().collect();
    let (off, _, len) = events[10];
    let check = |bytes: Vec<u8>, want: &dyn Fn(&ErrorKind) -> bool, what: &str| {
        let (got, err) = drain(Reader::from_bytes(bytes));
        let e = err.unwrap_or_else(|| panic!("{what}: unnoticed"));
        assert!(want(e.kind()), "{what}: {e}");
        assert_eq!(e.offset(), off as u64, "{what}: {e}");
        assert!(e.to_string().contains(&format!("byte offset {off}")), "{e}");
        assert_eq!(got[..], all[..10], "{what}: the 10 events before");
    };

    let mut b = raw.clone();
    b[off + len - 4..off + len].copy_from_slice(&(len as u32 + 4).to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::TrailerMismatch { .. }), "trailer != header");

    let mut b = raw.clone();
    b[off + 4..off + 8].copy_from_slice(&8u32.to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::BadBlockLength { .. }), "length < 12");

    let mut b = raw.clone();
    b[off + 4..off + 8].copy_from_slice(&20u32.to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::BadBlockLength { .. }), "too short for an event");

    let mut b = raw.clone();
    b[off + 4..off + 8].copy_from_slice(&100_000u32.to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::BadBlockLength { .. }), "non-large event > 64 KiB");

    let mut b = raw.clone();
    b[off + 4..off + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    b[off..off + 4].copy_from_slice(&block::EV_V2_LARGE.to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::Truncated { .. }), "absurd large-block length");

    // A length pointing inside the next block (whose bytes there differ from it).
    let grow = [4usize, 12, 16, 20]
        .into_iter()
        .find(|g| raw[off + len + g - 4..off + len + g] != ((len + g) as u32).to_le_bytes())
        .unwrap();
    let mut b = raw.clone();
    b[off + 4..off + 8].copy_from_slice(&((len + grow) as u32).to_le_bytes());
    check(b, &|k| matches!(k, ErrorKind::TrailerMismatch { .. }), "length pointing inside the next block");

    // A header block: the error comes from open.
    let (pl_off, _, pl_len) = *bl.iter().find(|b| b.1 == block::PL_V9).unwrap();
    let mut b = raw.clone();
    b[pl_off + pl_len - 4..pl_off + pl_len].copy_from_slice(&1u32.to_le_bytes());
    let e = Reader::from_bytes(b).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TrailerMismatch { .. }) && e.offset() == pl_off as u64, "{e}");
}

#[test]
fn malformed_events_and_metadata() {
    let raw = common::raw_bytes(&common::captures_dir().join("libs__sample.scap"));
    let bl = blocks(&raw);
    let (all, _) = drain(Reader::from_bytes(raw.clone()));
    let events: Vec<_> = bl.iter().filter(|b| block::is_event(b.1)).copied().collect();

    // The event's length field exceeds its block.
    let (off, _, _) = events[20];
    let mut b = raw.clone();
    b[off + 10 + 16..off + 10 + 20].copy_from_slice(&5000u32.to_le_bytes());
    let mut r = Reader::from_bytes(b).unwrap();
    for want in &all[..20] {
        assert_eq!(r.next_event().unwrap().unwrap().event.as_bytes(), &want[..]);
    }
    let e = r.next_event().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::MalformedEvent(_)), "{e}");
    assert_eq!(e.offset(), off as u64);
    assert!(e.to_string().contains("malformed event"), "{e}");
    // The reader goes on with the next block.
    assert_eq!(r.next_event().unwrap().unwrap().event.as_bytes(), &all[21][..]);

    // A parameter length overflowing the event.
    let (off, _, _) = events[30];
    let mut b = raw.clone();
    let nparams = u32::from_le_bytes(b[off + 10 + 22..off + 10 + 26].try_into().unwrap());
    assert!(nparams > 0);
    b[off + 36..off + 38].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let (got, err) = drain(Reader::from_bytes(b));
    assert_eq!(got[..], all[..30]);
    assert!(matches!(err.unwrap().kind(), ErrorKind::MalformedEvent(saker_abi::EventError::ParamsOverflow { .. })));

    // A process-list entry whose length overflows its block.
    let (pl_off, _, _) = *bl.iter().find(|b| b.1 == block::PL_V9).unwrap();
    let mut b = raw.clone();
    b[pl_off + 8..pl_off + 12].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    let e = Reader::from_bytes(b).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::MalformedBlock { block_type: block::PL_V9, .. }), "{e}");
    assert_eq!(e.offset(), pl_off as u64 + 8);

    // A string length running past an fd-list entry.
    let (fd_off, _, _) = *bl.iter().find(|b| b.1 == block::FDL_V2).unwrap();
    let mut b = raw.clone();
    let entry = fd_off + 8 + 8;
    let ty = b[entry + 4 + 16];
    assert!(ty != 3 && ty != 4 && ty != 5 && ty != 6, "expected a named fd first, got {ty}");
    let name_len_at = if ty == 16 {
        entry + 4 + 17 + 4
    } else if ty == 8 {
        entry + 4 + 17 + 16
    } else {
        entry + 4 + 17
    };
    b[name_len_at..name_len_at + 2].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let e = Reader::from_bytes(b).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::MalformedBlock { block_type: block::FDL_V2, .. }), "{e}");
    assert_eq!(e.offset(), entry as u64);
}

/// A tiny deterministic generator for the corruption fuzz.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn corruption_at_many_offsets_never_panics() {
    let mut rng = Lcg(0x5eed);
    for p in common::all_captures() {
        let raw = common::raw_bytes(&p);
        for _ in 0..60 {
            let mut b = raw.clone();
            let at = rng.next() as usize % (raw.len() - 4);
            let v = rng.next() as u32;
            // Small lengths are the interesting values for length fields.
            let v = if v & 1 == 0 { v } else { v % 64 };
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            let (events, err) = drain(Reader::from_bytes(b));
            if let Some(e) = err {
                assert!(e.offset() <= raw.len() as u64, "{e}");
                assert!(e.to_string().contains("byte offset"), "{e}");
            }
            assert!(events.len() <= raw.len() / 36);
        }
        // Random garbage after a valid section header.
        let mut b = raw[..28].to_vec();
        b.extend((0..4096).map(|_| rng.next() as u8));
        let (_, err) = drain(Reader::from_bytes(b));
        assert!(err.is_some());
    }
}
