//! `saker trace -r` against sysdig 0.29.3 on the real captures: the same
//! events with the same numbers, captures it writes that sysdig reads back
//! identically, and clear errors on damaged files.

mod common;

use common::*;

const EVENT_FORMAT: &str = "%evt.num %evt.type %evt.dir %thread.tid";

#[test]
fn prints_the_events_sysdig_prints() {
    let dir = temp_dir("replay_prints");
    for cap in sysdig_readable_captures() {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let expected = stdout_ok(&sysdig(&["-r", cap.to_str().unwrap(), "-p", EVENT_FORMAT]), "sysdig");
        if has_new_event_types(&cap) {
            // sysdig 0.29.3 skips event types it does not know (>= 336) without
            // numbering them; saker knows them. Compare on a copy without them,
            // and check that removing them does not change sysdig's view.
            let copy = dir.join(&name);
            let dropped = without_new_event_types(&cap, &copy);
            assert!(dropped > 0);
            let sysdig_copy = stdout_ok(&sysdig(&["-r", copy.to_str().unwrap(), "-p", EVENT_FORMAT]), "sysdig");
            assert_eq!(sysdig_copy, expected, "{name}: sysdig sees the copy as the original");
            let got = stdout_ok(&saker(&["trace", "-r", copy.to_str().unwrap(), "-p", EVENT_FORMAT]), "saker");
            assert_lines_eq(&got, &expected, &name);
            // On the original, saker prints every event sysdig prints plus the newer ones.
            let all = stdout_ok(&saker(&["trace", "-r", cap.to_str().unwrap(), "-p", EVENT_FORMAT]), "saker");
            assert_eq!(all.lines().count(), expected.lines().count() + dropped, "{name}");
        } else {
            let got = stdout_ok(&saker(&["trace", "-r", cap.to_str().unwrap(), "-p", EVENT_FORMAT]), "saker");
            assert_lines_eq(&got, &expected, &name);
        }
    }
}

#[test]
fn reads_section_header_options_that_sysdig_rejects() {
    let cap = captures_dir().join(SYSDIG_REJECTS);
    let rejected = sysdig(&["-r", cap.to_str().unwrap()]);
    assert!(!rejected.status.success(), "sysdig 0.29.3 is expected to reject {SYSDIG_REJECTS}");
    // The same capture without the options is libs__curl_google.scap.
    let got = stdout_ok(&saker(&["trace", "-r", cap.to_str().unwrap(), "-p", EVENT_FORMAT]), "saker");
    let plain = captures_dir().join("libs__curl_google.scap");
    let expected = stdout_ok(&sysdig(&["-r", plain.to_str().unwrap(), "-p", EVENT_FORMAT]), "sysdig");
    assert!(got.lines().count() > 1000);
    assert_lines_eq(&got, &expected, SYSDIG_REJECTS);
}

#[test]
fn captures_written_by_saker_read_back_identically_in_sysdig() {
    let dir = temp_dir("replay_roundtrip");
    let fmt = "%evt.num %evt.type %evt.args";
    for cap in sysdig_readable_captures() {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let copy = dir.join(&name);
        let out = saker(&["trace", "-r", cap.to_str().unwrap(), "-w", copy.to_str().unwrap(), "-q"]);
        stdout_ok(&out, "saker -w");
        let original = stdout_ok(&sysdig(&["-r", cap.to_str().unwrap(), "-p", fmt]), "sysdig on the original");
        let written = stdout_ok(&sysdig(&["-r", copy.to_str().unwrap(), "-p", fmt]), "sysdig on saker's copy");
        assert_lines_eq(&written, &original, &name);
    }
}

#[test]
fn count_limits_events_read_like_sysdig() {
    // The first printed event of this capture is number 131.
    let cap = captures_dir().join("falco__cat_write.scap");
    for n in ["1", "130", "131", "200"] {
        let expected = stdout_ok(&sysdig(&["-r", cap.to_str().unwrap(), "-n", n, "-p", EVENT_FORMAT]), "sysdig");
        let got = stdout_ok(&saker(&["trace", "-r", cap.to_str().unwrap(), "-n", n, "-p", EVENT_FORMAT]), "saker");
        assert_lines_eq(&got, &expected, &format!("-n {n}"));
    }
}

/// A damaged capture: every event before the damage is printed, then an
/// error naming the file and the byte offset, and a non-zero exit code.
/// `full` is the output on the undamaged file; `events_before` how many of
/// its events precede the damage.
fn assert_damaged(path: &std::path::Path, expected_offset: u64, full: &str, events_before: usize, cause: &str) {
    let out = saker(&["trace", "-r", path.to_str().unwrap(), "-p", "%evt.num"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}: must fail", path.display());
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "error must name the file: {stderr}");
    assert!(
        stderr.contains(&format!("byte offset {expected_offset}")),
        "error must name offset {expected_offset}: {stderr}"
    );
    assert!(stderr.contains(cause), "error must say '{cause}': {stderr}");
    // Every printed line of the undamaged file whose event precedes the damage.
    let expected: String =
        full.lines().filter(|l| l.parse::<usize>().unwrap() <= events_before).map(|l| format!("{l}\n")).collect();
    assert_lines_eq(&String::from_utf8_lossy(&out.stdout), &expected, &path.display().to_string());
}

/// Block offsets and event counts of a capture, from saker's own reader.
fn event_blocks(path: &std::path::Path) -> Vec<u64> {
    let mut r = saker_scap::Reader::open(path).unwrap();
    let mut offsets = Vec::new();
    while let Some(rec) = r.next_event().unwrap() {
        offsets.push(rec.offset);
    }
    offsets
}

#[test]
fn damaged_files_fail_clearly_after_the_good_events() {
    let dir = temp_dir("replay_damaged");
    // The real capture is gzip-compressed; damage an uncompressed copy so
    // byte offsets are file offsets.
    let real = captures_dir().join("falco__open-multiple-files.scap");
    let src = dir.join("uncompressed.scap");
    stdout_ok(&saker(&["trace", "-r", real.to_str().unwrap(), "-q", "-w", src.to_str().unwrap()]), "saker -w");
    let bytes = std::fs::read(&src).unwrap();
    let blocks = event_blocks(&src);
    // Internal events (procinfo) are not printed, so not every event has a line.
    let full = stdout_ok(&saker(&["trace", "-r", src.to_str().unwrap(), "-p", "%evt.num"]), "saker");
    assert!(full.lines().count() > 50);

    // Truncated in the middle of an event block among the printed events, and
    // at an arbitrary odd byte near the end.
    for (k, extra) in [(1100usize, 7u64), (blocks.len() - 3, 1)] {
        let cut = blocks[k] + extra;
        let f = dir.join(format!("truncated-{cut}.scap"));
        std::fs::write(&f, &bytes[..cut as usize]).unwrap();
        assert_damaged(&f, blocks[k], &full, k, "truncated");
    }

    // An event block's length field overwritten with nonsense.
    let k = 1120;
    let mut corrupt = bytes.clone();
    let at = blocks[k] as usize + 4;
    corrupt[at..at + 4].copy_from_slice(&0x7fff_fff1u32.to_le_bytes());
    let f = dir.join("corrupt-length.scap");
    std::fs::write(&f, &corrupt).unwrap();
    assert_damaged(&f, blocks[k], &full, k, "corrupted block length");

    // A length that stays inside the file but does not match the trailer.
    let mut corrupt = bytes.clone();
    let len = u32::from_le_bytes(corrupt[at..at + 4].try_into().unwrap());
    corrupt[at..at + 4].copy_from_slice(&(len + 8).to_le_bytes());
    let f = dir.join("corrupt-trailer.scap");
    std::fs::write(&f, &corrupt).unwrap();
    assert_damaged(&f, blocks[k], &full, k, "corrupted block");

    let f = dir.join("empty.scap");
    std::fs::write(&f, b"").unwrap();
    assert_damaged(&f, 0, "", 0, "empty file");

    let f = dir.join("not-a-capture.scap");
    std::fs::write(&f, b"This is a text file, not a capture.\n".repeat(10)).unwrap();
    assert_damaged(&f, 0, "", 0, "not a capture file");
}

#[test]
fn bad_formats_are_usage_errors() {
    let cap = captures_dir().join("falco__syscall.scap");
    let out = saker(&["trace", "-r", cap.to_str().unwrap(), "-p", "%evt.num %evt.tipe"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field 'evt.tipe'") && err.contains("evt.type"), "{err}");
    let out = saker(&["trace", "-r", cap.to_str().unwrap(), "-p", "%evt.arg.nosuchparam"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchparam"));
}

#[test]
fn bad_filters_are_located_usage_errors() {
    let cap = captures_dir().join("falco__syscall.scap");
    let cap = cap.to_str().unwrap();
    // (filter, what the message must say, the caret's column)
    let cases = [
        ("evt.type = open and (proc.name = cat", "expected ')'", 37),
        ("evt.type = open and proc.nmae = cat", "unknown field 'proc.nmae'", 21),
        ("evt.type = open and proc.aname[x] = cat", "proc.aname", 21),
        ("evt.type = open and fd.num > many", "'many' is not", 30),
        ("evt.type = open proc.name = cat", "expecting 'and', 'or'", 17),
    ];
    for (filter, want, col) in cases {
        let out = saker(&["trace", "-r", cap, filter]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{filter}: {err}");
        assert!(err.contains(want), "{filter}: '{want}' missing in: {err}");
        assert!(err.contains(&format!("column {col}")), "{filter}: column {col} missing in: {err}");
        // The caret sits under the column.
        let caret = err.lines().find(|l| l.trim_end().ends_with('^')).unwrap_or_else(|| panic!("no caret: {err}"));
        assert_eq!(caret.find('^').unwrap() - 2, col - 1, "{filter}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A suggestion for a near miss.
    let out = saker(&["trace", "-r", cap, "proc.nmae = cat"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean proc.name"));
}

#[test]
fn version_and_help() {
    let v = stdout_ok(&saker(&["--version"]), "saker --version");
    assert!(v.starts_with("saker ") && v.trim().ends_with(env!("CARGO_PKG_VERSION")), "{v}");
    let h = stdout_ok(&saker(&["trace", "--help"]), "saker trace --help");
    for flag in ["--read", "--write", "--count", "--print", "--json", "%evt.arg.NAME"] {
        assert!(h.contains(flag), "help lacks {flag}:\n{h}");
    }
}

#[test]
fn json_output_matches_sysdig_keys_and_types() {
    let cap = captures_dir().join("falco__connect_localhost.scap");
    let fmt = "%evt.num %evt.type %evt.dir %thread.tid %evt.cpu";
    let got = stdout_ok(&saker(&["trace", "-r", cap.to_str().unwrap(), "-j", "-p", fmt]), "saker -j");
    let expected = stdout_ok(&sysdig(&["-r", cap.to_str().unwrap(), "-j", "-p", fmt]), "sysdig -j");
    assert_lines_eq(&got, &expected, "json");
}
