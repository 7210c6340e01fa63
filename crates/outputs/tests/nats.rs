//! The NATS output against a real `nats-server -js`: the stream is created,
//! every alert is stored as Falco's JSON on the subject, read back with the
//! client; and a server that is not there.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::{NatsServer, TempDir, alert, wait_until};
use saker_outputs::{NatsOutputConfig, Outputs, OutputsConfig};

fn nats_config(url: &str, stream: &str) -> OutputsConfig {
    OutputsConfig {
        // Text elsewhere: NATS still gets JSON.
        json_output: false,
        nats_output: NatsOutputConfig {
            enabled: true,
            url: url.into(),
            subject: "saker.alerts.test-host".into(),
            stream: stream.into(),
        },
        ..OutputsConfig::default()
    }
}

/// Reads the stream's messages 1..=n as JSON.
fn read_stream(url: &str, stream: &str, n: u64) -> (u64, Vec<(String, String)>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client);
        let mut s = js.get_stream(stream).await.unwrap();
        let count = s.info().await.unwrap().state.messages;
        let mut out = Vec::new();
        for seq in 1..=n.min(count) {
            let m = s.get_raw_message(seq).await.unwrap();
            out.push((m.subject.to_string(), String::from_utf8(m.payload.to_vec()).unwrap()));
        }
        (count, out)
    })
}

#[test]
fn alerts_land_in_a_jetstream_stream_as_falco_json() {
    let dir = TempDir::new("nats");
    let Some(server) = NatsServer::start(&dir) else { return };
    let cfg = nats_config(&server.url, "SAKER_ALERTS");
    let outputs = Outputs::new(&cfg).unwrap();
    let n = 500;
    let t = Instant::now();
    for i in 0..n {
        assert_eq!(outputs.emit(&alert(i)), 1);
    }
    let emit_time = t.elapsed();
    assert!(outputs.flush(Duration::from_secs(20)));
    let s = &outputs.stats()[0];
    assert_eq!((s.name, s.sent, s.dropped, s.errors), ("nats", n, 0, 0), "{s:?}");
    let (count, msgs) = read_stream(&server.url, "SAKER_ALERTS", n);
    assert_eq!(count, n);
    for (i, (subject, payload)) in msgs.iter().enumerate() {
        assert_eq!(subject, "saker.alerts.test-host");
        assert_eq!(payload, &outputs.encoder().json(&alert(i as u64)));
        let v: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(v["output_fields"]["evt.num"], i as u64);
        assert_eq!(v["rule"], "Read sensitive file untrusted");
    }
    assert!(outputs.shutdown(Duration::from_secs(5)).unfinished.is_empty());
    eprintln!("nats: {n} alerts emitted in {emit_time:?}, all acknowledged and read back");
}

/// Without `stream` the subject must already be captured by a stream.
#[test]
fn publishing_to_an_existing_stream_and_to_none() {
    let dir = TempDir::new("nats-existing");
    let Some(server) = NatsServer::start(&dir) else { return };
    // Created by someone else (here: another saker with `stream` set).
    let creator = Outputs::new(&nats_config(&server.url, "FLEET")).unwrap();
    creator.emit(&alert(0));
    assert!(creator.flush(Duration::from_secs(10)));
    creator.shutdown(Duration::from_secs(5));

    let outputs = Outputs::new(&nats_config(&server.url, "")).unwrap();
    outputs.emit(&alert(1));
    assert!(outputs.flush(Duration::from_secs(10)));
    assert_eq!(outputs.stats()[0].sent, 1);
    let (count, msgs) = read_stream(&server.url, "FLEET", 2);
    assert_eq!(count, 2);
    assert!(msgs[1].1.contains("\"evt.num\":1,"));
    outputs.shutdown(Duration::from_secs(5));

    // A subject no stream captures: no acknowledgement, counted as errors.
    let mut cfg = nats_config(&server.url, "");
    cfg.nats_output.subject = "nobody.listens".into();
    cfg.output_timeout = 500;
    let outputs = Outputs::new(&cfg).unwrap();
    outputs.emit(&alert(2));
    assert!(wait_until(Duration::from_secs(10), || outputs.stats()[0].errors == 1));
    assert_eq!(outputs.stats()[0].sent, 0);
    outputs.shutdown(Duration::from_secs(5));
}

/// No server at all: errors, quickly; emit unaffected.
#[test]
fn a_server_that_is_down_counts_errors() {
    let port = common::free_port();
    let mut cfg = nats_config(&format!("nats://127.0.0.1:{port}"), "S");
    cfg.output_timeout = 300;
    let outputs = Outputs::new(&cfg).unwrap();
    let t = Instant::now();
    for i in 0..50 {
        outputs.emit(&alert(i));
    }
    assert!(t.elapsed() < Duration::from_millis(100), "{:?}", t.elapsed());
    assert!(wait_until(Duration::from_secs(20), || {
        let s = &outputs.stats()[0];
        s.errors + s.dropped == 50
    }));
    let s = &outputs.stats()[0];
    assert!(s.last_error.as_deref().unwrap().contains("cannot connect"), "{s:?}");
    outputs.shutdown(Duration::from_secs(5));
}
