//! `saker trace` with the flags sysdig users type: `-z` and `.gz` names
//! (gzip captures the real sysdig 0.29.3 reads), `-C/-W/-G` rotation, `-S`,
//! `-A/-x/-X`, `-t`, `-v`, `-N`.

mod common;
mod live_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn sample() -> String {
    captures_dir().join("libs__sample.scap").to_str().unwrap().to_string()
}

fn curl() -> String {
    captures_dir().join("libs__curl_google.scap").to_str().unwrap().to_string()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn gzip_captures_sysdig_reads() {
    let dir = temp_dir("trace_gzip");
    let expected = stdout_ok(&sysdig(&["-r", &sample()]), "sysdig -r sample");
    for (name, extra) in [("out.scap.gz", None), ("plain-name.scap", Some("-z"))] {
        let out = dir.join(name);
        let cap = sample();
        let mut args = vec!["trace", "-r", &cap, "-q", "-w", out.to_str().unwrap()];
        if let Some(z) = extra {
            args.push(z);
        }
        stdout_ok(&saker(&args), "saker trace -w");
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{name} is not gzip");
        let got = stdout_ok(&sysdig(&["-r", out.to_str().unwrap()]), "sysdig -r gzip");
        assert_lines_eq(&got, &expected, name);
    }
}

#[test]
fn time_rotation_numbers_files_each_readable() {
    let dir = temp_dir("trace_rotate_g");
    let base = dir.join("out.scap");
    // The sample spans about 0.8 s of event time.
    stdout_ok(&saker(&["trace", "-r", &sample(), "-q", "-w", base.to_str().unwrap(), "-G", "0.25"]), "-G");
    let files = files_in(&dir);
    assert!(files.len() >= 3 && files.iter().all(|f| f.starts_with("out.scap")), "{files:?}");
    assert_eq!(files[0], "out.scap0");
    // Every file reads on its own, and together they hold every event.
    let mut total = 0;
    for f in &files {
        let out = stdout_ok(&sysdig(&["-r", dir.join(f).to_str().unwrap()]), f);
        total += out.lines().count();
    }
    let all = stdout_ok(&sysdig(&["-r", &sample()]), "sysdig -r sample").lines().count();
    // Each rotated file starts with the state, which sysdig may print as
    // events of its own (none for this capture's threads), so at least.
    assert!(total >= all, "{total} < {all}");
    // -W needs -C or -G.
    let out = saker(&["trace", "-r", &sample(), "-q", "-w", base.to_str().unwrap(), "-W", "3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn size_rotation_keeps_a_ring_of_three_files_live() {
    if !live_common::can_run("trace_sysdig_habits") {
        return;
    }
    let n = live_common::nonce();
    let dir = live_common::work_dir("trace-rotate", &n);
    let base = dir.join("out.scap");
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["trace", "-q", "-w", base.to_str().unwrap(), "-C", "1", "-W", "3", "proc.name=dd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = PathBuf::from(format!("{}0", base.display()));
    let t0 = Instant::now();
    while !std::fs::metadata(&first).is_ok_and(|m| m.len() > 0) {
        assert!(t0.elapsed() < Duration::from_secs(60), "saker trace did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // About 600 000 system calls with one byte of data each: tens of MB.
    let st = Command::new("dd").args(["if=/dev/zero", "of=/dev/null", "bs=1", "count=300000"]).status().unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(files_in(&dir), ["out.scap0", "out.scap1", "out.scap2"]);
    let mut full = 0;
    for i in 0..3 {
        let f = dir.join(format!("out.scap{i}"));
        let len = std::fs::metadata(&f).unwrap().len();
        // A file is closed at the first event past 1 MB.
        assert!(len < 1_000_000 + 70_000, "{} is {len} bytes", f.display());
        if len >= 1_000_000 {
            full += 1;
        }
        let printed = stdout_ok(&sysdig(&["-r", f.to_str().unwrap()]), "sysdig -r rotated");
        assert!(printed.lines().any(|l| l.contains(" dd (")), "{}: no dd event", f.display());
    }
    assert!(full >= 2, "only {full} full files");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn summary_counts_every_matched_event_by_type() {
    let out = stdout_ok(&saker(&["trace", "-r", &sample(), "-q", "-S"]), "-S");
    let rows: Vec<(String, u64)> = out
        .lines()
        .filter(|l| l.starts_with('>') || l.starts_with('<'))
        .map(|l| {
            let (name, n) = l.rsplit_once(' ').unwrap();
            (name.trim().to_string(), n.parse().unwrap())
        })
        .collect();
    let reads = rows.iter().find(|(n, _)| n == "<read").map(|r| r.1).expect("<read row");
    let printed = stdout_ok(&saker(&["trace", "-r", &sample(), "evt.type=read and evt.dir=<"]), "reads");
    assert_eq!(reads, printed.lines().count() as u64);
    // Most frequent first.
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "{rows:?}");
    let stats = saker(&["trace", "-r", &sample(), "-q", "--stats"]);
    let read_line =
        String::from_utf8_lossy(&stats.stderr).lines().find(|l| l.starts_with("Events matched:")).unwrap().to_string();
    let matched: u64 = read_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), matched);
}

#[test]
fn data_buffers_print_as_ascii_hex_and_whole() {
    let filter = "evt.type=read and evt.dir=< and evt.rawres>0";
    let line = |flag: Option<&str>| {
        let mut args = vec!["trace", "-r", "", "-n", "1"];
        let cap = curl();
        args[2] = &cap;
        if let Some(f) = flag {
            args.push(f);
        }
        args.push(filter);
        stdout_ok(&saker(&args), "saker trace")
    };
    let plain = line(None);
    let data = plain.split_once("data=").expect("a data buffer").1.trim_end().to_string();
    let raw = stdout_ok(&saker(&["trace", "-r", &curl(), "-n", "1", "-p", "%evt.arg.data", "-X", filter]), "-p data");
    let hex = line(Some("-x"));
    assert!(hex.contains("\n\t0x0000: "), "{hex}");
    let first_row = hex.lines().find(|l| l.starts_with("\t0x0000:")).unwrap();
    let hex_digits: String = first_row["\t0x0000:".len()..].split_whitespace().collect();
    let expected: String =
        data.bytes().take(16).map(|b| if b == b'.' { String::new() } else { format!("{b:02x}") }).collect();
    // Printable bytes of the dotted text appear, in order, in the dump.
    let mut rest = hex_digits.as_str();
    for pair in expected.as_bytes().chunks(2) {
        let p = std::str::from_utf8(pair).unwrap();
        let at = rest.find(p).unwrap_or_else(|| panic!("{p} not in {hex_digits}"));
        rest = &rest[at + 2..];
    }
    let hex_ascii = line(Some("-X"));
    let row = hex_ascii.lines().find(|l| l.starts_with("\t0x0000:")).unwrap();
    let text: String = data.chars().take(16).collect();
    assert!(row.ends_with(&text), "{row:?} does not end with {text:?}");
    assert!(!raw.is_empty());
    let ascii = line(Some("-A"));
    let ascii_data = ascii.split_once("data=").unwrap().1;
    assert!(!ascii_data.contains('.') || data.contains('.'), "{ascii_data}");
    // -v: a buffer cut at 80 bytes (ending in ...) prints whole.
    let cut = stdout_ok(&saker(&["trace", "-r", &curl()]), "plain");
    let long = stdout_ok(&saker(&["trace", "-r", &curl(), "-v"]), "-v");
    let changed: Vec<(&str, &str)> = cut.lines().zip(long.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(cut.lines().count(), long.lines().count());
    assert!(!changed.is_empty(), "-v changed nothing");
    for (short, whole) in &changed {
        let at = short.find("...").unwrap_or_else(|| panic!("{short} differs but was not cut"));
        assert!(whole.len() > short.len() && whole.starts_with(&short[..at]), "{short}\n{whole}");
    }
    // -N changes nothing: ports always print as numbers.
    assert_eq!(stdout_ok(&saker(&["trace", "-r", &curl(), "-N"]), "-N"), cut);
}

#[test]
fn timestamp_styles() {
    let run = |t: &str| stdout_ok(&saker(&["trace", "-r", &sample(), "-n", "50", "-t", t]), t);
    let col = |out: &str| out.lines().map(|l| l.split(' ').nth(1).unwrap().to_string()).collect::<Vec<_>>();
    let raw = stdout_ok(&saker(&["trace", "-r", &sample(), "-n", "50", "-p", "%evt.rawtime"]), "rawtime");
    let raw: Vec<u64> = raw.lines().map(|l| l.trim().parse().unwrap()).collect();
    let secs = |s: &str| -> u64 {
        let (a, b) = s.split_once('.').unwrap();
        a.parse::<u64>().unwrap() * 1_000_000_000 + b.parse::<u64>().unwrap()
    };
    let abs: Vec<u64> = col(&run("a")).iter().map(|s| secs(s)).collect();
    assert_eq!(abs, raw);
    let rel: Vec<u64> = col(&run("r")).iter().map(|s| secs(s)).collect();
    assert!(rel.iter().zip(&raw).all(|(r, a)| *r == a - raw[0]), "{rel:?}");
    let delta: Vec<u64> = col(&run("D")).iter().map(|s| secs(s)).collect();
    assert!(delta[1..].iter().zip(raw.windows(2)).all(|(d, w)| *d == w[1] - w[0]), "{delta:?}");
    assert_eq!(col(&run("h")), col(&stdout_ok(&saker(&["trace", "-r", &sample(), "-n", "50"]), "default")));
    assert_eq!(saker(&["trace", "-r", &sample(), "-t", "q"]).status.code(), Some(2));
}
