//! The syslog output against a real `rsyslogd` listening on a private
//! socket: facility `user`, the rule's priority as the severity, the
//! program's name as the tag, the alert line as the message.

mod common;

use std::time::Duration;

use common::{Rsyslog, TempDir, alert, wait_until};
use saker_outputs::{Outputs, OutputsConfig, Priority, SyslogOutputConfig};

fn syslog_config(socket: &std::path::Path, json: bool) -> OutputsConfig {
    OutputsConfig {
        json_output: json,
        syslog_output: SyslogOutputConfig { enabled: true, socket: socket.to_string_lossy().into_owned() },
        ..OutputsConfig::default()
    }
}

/// rsyslog's names of the eight severities.
fn severity_name(p: Priority) -> &'static str {
    ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"][p.severity() as usize]
}

#[test]
fn rsyslog_receives_each_alert_with_falcos_facility_and_severity() {
    let dir = TempDir::new("syslog");
    let Some(rsyslog) = Rsyslog::start(&dir) else { return };
    let outputs = Outputs::new(&syslog_config(&rsyslog.socket, false)).unwrap();
    let n = 200u64;
    for i in 0..n {
        outputs.emit(&alert(i));
    }
    assert!(outputs.flush(Duration::from_secs(10)));
    assert!(wait_until(Duration::from_secs(10), || rsyslog.lines().len() as u64 >= n), "{:?}", rsyslog.lines());
    let lines = rsyslog.lines();
    assert_eq!(lines.len() as u64, n);
    let tag = std::env::current_exe().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    for (i, line) in lines.iter().enumerate() {
        let a = alert(i as u64);
        let expected = format!("user.{} {}: {}", severity_name(a.priority), tag, outputs.encoder().text(&a));
        assert_eq!(line, &expected);
    }
    let s = &outputs.stats()[0];
    assert_eq!((s.name, s.sent, s.dropped, s.errors), ("syslog", n, 0, 0));
    outputs.shutdown(Duration::from_secs(5));
}

#[test]
fn json_alerts_and_a_restarted_daemon() {
    let dir = TempDir::new("syslog-json");
    let Some(rsyslog) = Rsyslog::start(&dir) else { return };
    let outputs = Outputs::new(&syslog_config(&rsyslog.socket, true)).unwrap();
    outputs.emit(&alert(2));
    assert!(wait_until(Duration::from_secs(10), || rsyslog.lines().len() == 1));
    let line = &rsyslog.lines()[0];
    let (head, json) = line.split_once(": ").unwrap();
    assert!(head.starts_with("user.crit "), "{line}");
    assert_eq!(json, outputs.encoder().json(&alert(2)));

    // The daemon goes away and comes back on the same socket: alerts in
    // between are errors, then delivery resumes (the output reconnects).
    drop(rsyslog);
    outputs.emit(&alert(3));
    assert!(wait_until(Duration::from_secs(10), || outputs.stats()[0].errors == 1));
    let _ = std::fs::remove_file(dir.path("log.sock"));
    let Some(again) = Rsyslog::start(&dir) else { return };
    outputs.emit(&alert(4));
    assert!(wait_until(Duration::from_secs(10), || again.lines().iter().any(|l| l.contains("\"evt.num\":4,"))));
    let s = &outputs.stats()[0];
    assert_eq!((s.sent, s.errors), (2, 1), "{s:?}");
    outputs.shutdown(Duration::from_secs(5));
}
