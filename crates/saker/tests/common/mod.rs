//! What the integration tests share: paths to the real data, and running
//! saker and the oracle (sysdig 0.29.3) on the same input.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real captures beside the repository.
pub fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/captures")
}

/// Every real capture, sorted by name.
pub fn all_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("../shared/data/captures must sit beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scap"))
        .collect();
    v.sort();
    v
}

/// The one capture sysdig 0.29.3 cannot open (pcapng options in its section header).
pub const SYSDIG_REJECTS: &str = "libs__curl_google_comments.scap";

/// The captures sysdig 0.29.3 reads.
pub fn sysdig_readable_captures() -> Vec<PathBuf> {
    all_captures().into_iter().filter(|p| !p.ends_with(SYSDIG_REJECTS)).collect()
}

/// Runs the saker binary under test.
pub fn saker(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saker")).args(args).env("TZ", "UTC").output().expect("cannot run saker")
}

/// Runs sysdig 0.29.3, the oracle. Fails the test with a hint when it is
/// missing: `scripts/setup.sh` installs it.
/// `saker detect ARGS` with syslog and the web server off (a replay needs
/// neither, and tests run side by side).
pub fn detect(args: &[&str]) -> Output {
    let mut v = vec!["detect"];
    v.extend_from_slice(args);
    v.extend_from_slice(&["-o", "syslog_output.enabled=false", "-o", "webserver.enabled=false"]);
    saker(&v)
}

pub fn sysdig(args: &[&str]) -> Output {
    match Command::new("sysdig").args(args).env("TZ", "UTC").output() {
        Ok(o) => o,
        Err(e) => {
            panic!("cannot run sysdig ({e}); run scripts/setup.sh to install sysdig 0.29.3, the oracle of these tests")
        }
    }
}

/// Standard output as text, asserting the command succeeded.
pub fn stdout_ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `src` without its events of types sysdig 0.29.3 does not know
/// (codes >= 336), so both tools see the same events.
pub fn without_new_event_types(src: &Path, dst: &Path) -> usize {
    let mut r = saker_scap::Reader::open(src).unwrap();
    let mut w = saker_scap::Writer::create(dst).unwrap();
    w.write_header(r.header()).unwrap();
    let mut dropped = 0;
    while let Some(rec) = r.next_event().unwrap() {
        if rec.event.event_type().0 >= SYSDIG_EVENT_MAX {
            dropped += 1;
        } else {
            w.write_record(&rec).unwrap();
        }
    }
    w.finish().unwrap();
    dropped
}

/// sysdig 0.29.3's `PPM_EVENT_MAX`: it skips events of higher codes.
pub const SYSDIG_EVENT_MAX: u16 = 336;

/// Whether a capture has events sysdig 0.29.3 skips.
pub fn has_new_event_types(path: &Path) -> bool {
    let mut r = saker_scap::Reader::open(path).unwrap();
    while let Some(rec) = r.next_event().unwrap() {
        if rec.event.event_type().0 >= SYSDIG_EVENT_MAX {
            return true;
        }
    }
    false
}

/// Line-by-line equality with the first differing line in the message.
pub fn assert_lines_eq(got: &str, expected: &str, what: &str) {
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "{what}: line {} differs", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{what}: number of lines");
}
