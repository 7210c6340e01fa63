//! The HTTP output against a real HTTP server in another process: Falco's
//! JSON body, headers, one request per alert; and a receiver that is down.

mod common;

use std::time::{Duration, Instant};

use common::{HttpReceiver, TempDir, alert, wait_until};
use saker_outputs::{HttpOutputConfig, Outputs, OutputsConfig};

#[test]
fn http_receiver_child() {
    common::http_receiver_child();
}

fn http_config(url: &str, json: bool) -> OutputsConfig {
    OutputsConfig {
        json_output: json,
        http_output: HttpOutputConfig { enabled: true, url: url.into(), ..HttpOutputConfig::default() },
        ..OutputsConfig::default()
    }
}

/// What falcosidekick reads: a POST per alert, `Content-Type:
/// application/json`, the body Falco's JSON object.
#[test]
fn posts_falcos_json_like_falcosidekick_expects() {
    let dir = TempDir::new("http");
    let rx = HttpReceiver::spawn(&dir);
    let cfg = http_config(&format!("\"{}\"", rx.url), true);
    let outputs = Outputs::new(&cfg).unwrap();
    for i in 0..50 {
        assert_eq!(outputs.emit(&alert(i)), 1);
    }
    let report = outputs.shutdown(Duration::from_secs(10));
    assert_eq!(report.finished, ["http"]);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 50);
    let encoder = outputs.encoder();
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r["method"], "POST");
        assert_eq!(r["content_type"], "application/json");
        assert_eq!(r["user_agent"], "saker");
        let body = r["body"].as_str().unwrap();
        assert_eq!(body, encoder.json(&alert(i as u64)));
        // The fields falcosidekick's types.FalcoPayload decodes.
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["rule"], "Read sensitive file untrusted");
        assert_eq!(v["priority"], saker_outputs::Priority::ALL[i % 8].as_str());
        assert_eq!(v["source"], "syscall");
        assert_eq!(v["hostname"], "test-host");
        assert!(v["output"].as_str().unwrap().contains(&format!("seq={i} ")));
        assert_eq!(v["output_fields"]["evt.num"], i as u64);
        assert_eq!(v["output_fields"]["evt.time"], 1_700_000_000_000_000_000u64 + i as u64 * 1_000_003);
        assert!(v["output_fields"]["container.id"].is_null());
        assert_eq!(v["tags"], serde_json::json!(["T1555", "filesystem", "mitre_credential_access"]));
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
    let s = &outputs.stats()[0];
    assert_eq!((s.sent, s.dropped, s.errors), (50, 0, 0));
}

/// Without `json_output` the body is the text line, sent as text/plain.
#[test]
fn posts_text_lines_as_text_plain() {
    let dir = TempDir::new("http-text");
    let rx = HttpReceiver::spawn(&dir);
    let mut cfg = http_config(&rx.url, false);
    cfg.http_output.user_agent = "falcosecurity/falco".into();
    let outputs = Outputs::new(&cfg).unwrap();
    outputs.emit(&alert(3));
    assert!(outputs.flush(Duration::from_secs(10)));
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["content_type"], "text/plain");
    assert_eq!(reqs[0]["user_agent"], "falcosecurity/falco");
    assert_eq!(reqs[0]["body"], outputs.encoder().text(&alert(3)));
    assert!(reqs[0]["body"].as_str().unwrap().contains(": Error Sensitive file opened"));
    outputs.shutdown(Duration::from_secs(5));
}

/// Nobody listening: every alert is an error, quickly, and emit stays fast.
#[test]
fn a_receiver_that_is_down_costs_errors_not_time() {
    let port = common::free_port();
    let cfg = http_config(&format!("http://127.0.0.1:{port}/"), true);
    let outputs = Outputs::new(&cfg).unwrap();
    let t = Instant::now();
    for i in 0..100 {
        outputs.emit(&alert(i));
    }
    assert!(t.elapsed() < Duration::from_millis(200), "emit took {:?}", t.elapsed());
    assert!(wait_until(Duration::from_secs(10), || {
        let s = &outputs.stats()[0];
        s.errors + s.dropped == 100
    }));
    let s = &outputs.stats()[0];
    assert_eq!(s.sent, 0);
    assert!(s.last_error.as_deref().unwrap_or("").contains("onnect"), "{:?}", s.last_error);
    outputs.shutdown(Duration::from_secs(5));
}

/// A receiver that accepts connections but never answers (SIGSTOP):
/// shutdown gives up at its deadline instead of waiting for every timeout,
/// and every alert still ends up counted as sent, dropped or failed.
#[test]
fn shutdown_does_not_wait_for_a_frozen_receiver() {
    let dir = TempDir::new("http-frozen");
    let rx = HttpReceiver::spawn(&dir);
    let mut cfg = http_config(&rx.url, true);
    cfg.output_timeout = 300;
    let outputs = Outputs::new(&cfg).unwrap();
    outputs.emit(&alert(0));
    assert!(outputs.flush(Duration::from_secs(10)));
    rx.proc.freeze();
    for i in 1..=20 {
        outputs.emit(&alert(i));
    }
    // Each alert now costs 300 ms x 6 tries: 36 s for all of them.
    assert!(!outputs.flush(Duration::from_millis(200)), "cannot be flushed");
    let t = Instant::now();
    let report = outputs.shutdown(Duration::from_millis(500));
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
    assert_eq!(report.unfinished, ["http"]);
    // The request in flight ends at its timeout; the rest are dropped.
    assert!(wait_until(Duration::from_secs(10), || {
        let s = &outputs.stats()[0];
        s.sent + s.dropped + s.errors == 21
    }));
    let s = &outputs.stats()[0];
    assert_eq!(s.sent, 1, "{s:?}");
    assert!(s.dropped >= 18, "{s:?}");
    // After shutdown, alerts are counted as dropped.
    assert_eq!(outputs.emit(&alert(99)), 0);
    assert_eq!(outputs.stats()[0].sent + outputs.stats()[0].dropped + outputs.stats()[0].errors, 22);
}
