//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared real captures.
pub fn captures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures"))
}

/// Every `.scap` file of the shared captures, sorted.
pub fn all_captures() -> Vec<PathBuf> {
    let dir = captures_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scap"))
        .collect();
    v.sort();
    assert!(v.len() >= 15, "expected the 15 shared captures in {}", dir.display());
    v
}

/// The capture sysdig 0.29.3 rejects (section header with options).
pub fn sysdig_rejects(p: &Path) -> bool {
    p.file_name().unwrap() == "libs__curl_google_comments.scap"
}

/// The file's bytes, gunzipped when compressed.
pub fn raw_bytes(p: &Path) -> Vec<u8> {
    let bytes = std::fs::read(p).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        bytes
    }
}

/// The `sysdig` binary; fails the test with a clear message when missing.
pub fn sysdig() -> &'static str {
    match Command::new("sysdig").arg("--version").output() {
        Ok(o) if o.status.success() => "sysdig",
        _ => panic!(
            "the `sysdig` binary (0.29.3, `apt-get install sysdig`) is required by this test: \
             it is the oracle for what capture files mean. CI installs it."
        ),
    }
}

/// Runs `sysdig -r FILE ARGS...` and returns its standard output.
pub fn sysdig_output(file: &Path, args: &[&str]) -> String {
    let out = Command::new(sysdig()).arg("-r").arg(file).args(args).output().expect("run sysdig");
    assert!(
        out.status.success(),
        "sysdig -r {} {:?} failed: {}",
        file.display(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("saker-scap-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
