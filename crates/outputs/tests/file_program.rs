//! The file and program outputs, for real: files on disk, `sh -c` programs
//! (`cat > FILE`), with and without `keep_alive`, buffered or not, and
//! reopening for log rotation.

mod common;

use std::time::Duration;

use common::{TempDir, alert, read_lines, wait_until};
use saker_outputs::{Error, FileOutputConfig, Outputs, OutputsConfig, ProgramOutputConfig};

fn file_config(path: &std::path::Path, keep_alive: bool) -> OutputsConfig {
    OutputsConfig {
        file_output: FileOutputConfig { enabled: true, keep_alive, filename: path.to_string_lossy().into_owned() },
        ..OutputsConfig::default()
    }
}

fn program_config(program: String, keep_alive: bool) -> OutputsConfig {
    OutputsConfig {
        json_output: true,
        program_output: ProgramOutputConfig { enabled: true, keep_alive, program },
        ..OutputsConfig::default()
    }
}

#[test]
fn file_output_appends_one_line_per_alert() {
    for keep_alive in [false, true] {
        let dir = TempDir::new("file");
        let path = dir.path("events.txt");
        std::fs::write(&path, "existing line\n").unwrap();
        let outputs = Outputs::new(&file_config(&path, keep_alive)).unwrap();
        for i in 0..100 {
            outputs.emit(&alert(i));
        }
        // Unbuffered: lines are there as soon as they are delivered.
        assert!(wait_until(Duration::from_secs(10), || read_lines(&path).len() == 101));
        let lines = read_lines(&path);
        assert_eq!(lines[0], "existing line");
        for (i, l) in lines[1..].iter().enumerate() {
            assert_eq!(l, &outputs.encoder().text(&alert(i as u64)));
        }
        // Counted once the write has returned, a moment after the line is there.
        assert!(wait_until(Duration::from_secs(10), || outputs.stats()[0].sent == 100));
        outputs.shutdown(Duration::from_secs(5));
    }
}

#[test]
fn buffered_file_output_is_flushed_at_shutdown() {
    let dir = TempDir::new("file-buffered");
    let path = dir.path("events.json");
    let mut cfg = file_config(&path, true);
    cfg.buffered_outputs = true;
    cfg.json_output = true;
    let outputs = Outputs::new(&cfg).unwrap();
    for i in 0..10 {
        outputs.emit(&alert(i));
    }
    let report = outputs.shutdown(Duration::from_secs(5));
    assert_eq!(report.finished, ["file"]);
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 10);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l, &outputs.encoder().json(&alert(i as u64)));
    }
}

#[test]
fn reopen_follows_a_rotated_file() {
    let dir = TempDir::new("file-rotate");
    let path = dir.path("events.txt");
    let outputs = Outputs::new(&file_config(&path, true)).unwrap();
    outputs.emit(&alert(0));
    assert!(outputs.flush(Duration::from_secs(5)));
    std::fs::rename(&path, dir.path("events.txt.1")).unwrap();
    // Still open: goes to the rotated file.
    outputs.emit(&alert(1));
    assert!(outputs.flush(Duration::from_secs(5)));
    outputs.reopen();
    outputs.emit(&alert(2));
    assert!(outputs.flush(Duration::from_secs(5)));
    assert_eq!(read_lines(&dir.path("events.txt.1")).len(), 2);
    let fresh = read_lines(&path);
    assert_eq!(fresh.len(), 1);
    assert!(fresh[0].contains("seq=2 "));
    outputs.shutdown(Duration::from_secs(5));
}

#[test]
fn program_output_pipes_lines_to_a_shell_command() {
    for keep_alive in [true, false] {
        let dir = TempDir::new("program");
        let out = dir.path("program.out");
        // keep_alive: one cat for all; else a new `cat >>` per alert.
        let program =
            if keep_alive { format!("cat > '{}'", out.display()) } else { format!("cat >> '{}'", out.display()) };
        let outputs = Outputs::new(&program_config(program, keep_alive)).unwrap();
        let n = if keep_alive { 300 } else { 30 };
        for i in 0..n {
            outputs.emit(&alert(i));
        }
        assert!(wait_until(Duration::from_secs(20), || read_lines(&out).len() as u64 == n), "keep_alive={keep_alive}");
        let lines = read_lines(&out);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l, &outputs.encoder().json(&alert(i as u64)));
        }
        // A line is in the file once `cat` has written it; it counts as sent
        // once the program has taken it (without keep_alive: once that `cat`
        // has exited), which can come a moment later.
        assert!(wait_until(Duration::from_secs(20), || outputs.stats()[0].sent == n), "keep_alive={keep_alive}");
        assert!(outputs.shutdown(Duration::from_secs(5)).unfinished.is_empty());
    }
}

#[test]
fn a_program_that_dies_is_restarted() {
    let dir = TempDir::new("program-dies");
    let out = dir.path("program.out");
    // Reads one line, then exits: every later write finds a broken pipe
    // until the output starts the program again.
    let program = format!("head -n 1 >> '{}'", out.display());
    let outputs = Outputs::new(&program_config(program, true)).unwrap();
    for i in 0..5 {
        outputs.emit(&alert(i));
        assert!(outputs.flush(Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = read_lines(&out);
    assert!(lines.len() >= 2, "restarted at least once: {lines:?}");
    let s = &outputs.stats()[0];
    assert_eq!(s.sent + s.errors, 5, "{s:?}");
    outputs.shutdown(Duration::from_secs(5));
}

#[test]
fn missing_keys_are_errors_like_in_falco() {
    let mut cfg = OutputsConfig::default();
    cfg.file_output.enabled = true;
    assert!(matches!(Outputs::new(&cfg), Err(Error::MissingKey { key: "file_output.filename" })));
    let mut cfg = OutputsConfig::default();
    cfg.program_output.enabled = true;
    let e = Outputs::new(&cfg).unwrap_err();
    assert_eq!(e.to_string(), "program_output.program is required when the output is enabled");
    let mut cfg = OutputsConfig::default();
    cfg.nats_output.enabled = true;
    cfg.nats_output.subject = "a.*".into();
    assert!(matches!(Outputs::new(&cfg), Err(Error::InvalidValue { key: "nats_output.subject", .. })));
}
