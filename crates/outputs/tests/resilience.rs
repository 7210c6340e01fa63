//! The acceptance test of the outputs' isolation: five real destinations at
//! once (a file, `cat > FILE`, rsyslogd, nats-server with JetStream, an HTTP
//! receiver in its own process), a stream of alerts emitted at a steady pace
//! as capture would, and the HTTP receiver frozen (SIGSTOP) then killed
//! (SIGKILL) mid-stream. Capture (the emitting loop) never waits, the other
//! outputs receive every alert, and the HTTP output accounts for every
//! alert it did not deliver as dropped or as an error.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::{HttpReceiver, NatsServer, Rsyslog, TempDir, alert, read_lines, wait_until};
use saker_outputs::{
    FileOutputConfig, HttpOutputConfig, NatsOutputConfig, Outputs, OutputsConfig, OutputsQueueConfig,
    ProgramOutputConfig, SyslogOutputConfig,
};

#[test]
fn http_receiver_child() {
    common::http_receiver_child();
}

fn nats_count(url: &str, stream: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        js.get_stream(stream).await.unwrap().info().await.unwrap().state.messages
    })
}

#[test]
fn a_dead_http_receiver_stalls_nothing_and_its_losses_are_counted() {
    let dir = TempDir::new("resilience");
    let Some(nats) = NatsServer::start(&dir) else { return };
    let Some(rsyslog) = Rsyslog::start(&dir) else { return };
    let http = HttpReceiver::spawn(&dir);
    let file = dir.path("events.json");
    let piped = dir.path("program.json");

    let cfg = OutputsConfig {
        json_output: true,
        output_timeout: 200,
        outputs_queue: OutputsQueueConfig { capacity: 512 },
        file_output: FileOutputConfig { enabled: true, keep_alive: true, filename: file.to_string_lossy().into() },
        program_output: ProgramOutputConfig {
            enabled: true,
            keep_alive: true,
            program: format!("cat > '{}'", piped.display()),
        },
        syslog_output: SyslogOutputConfig { enabled: true, socket: rsyslog.socket.to_string_lossy().into() },
        http_output: HttpOutputConfig {
            enabled: true,
            url: http.url.clone(),
            max_consecutive_timeouts: 1,
            ..HttpOutputConfig::default()
        },
        nats_output: NatsOutputConfig {
            enabled: true,
            url: nats.url.clone(),
            subject: "saker.alerts".into(),
            stream: "ALERTS".into(),
        },
        ..OutputsConfig::default()
    };
    let outputs = Outputs::new(&cfg).unwrap();
    assert_eq!(outputs.names(), ["file", "syslog", "program", "http", "nats"]);

    // "Capture": 3000 alerts, one every millisecond; the receiver freezes at
    // 1000 and is killed at 2000.
    let n: u64 = 3000;
    let mut latencies = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        if i == 1000 {
            // Let the HTTP output catch up, so that the test shows both
            // delivered alerts and losses.
            let caught_up = wait_until(Duration::from_secs(10), || {
                let h = outputs.stats().into_iter().find(|s| s.name == "http").unwrap();
                h.sent + h.dropped + h.errors == 1000
            });
            assert!(caught_up, "{:?}", outputs.stats());
            let h = outputs.stats().into_iter().find(|s| s.name == "http").unwrap();
            assert_eq!(h.sent, 1000, "a live receiver gets everything: {h:?}");
            http.proc.freeze();
        }
        if i == 2000 {
            http.proc.signal(libc::SIGKILL);
        }
        let t = Instant::now();
        outputs.emit(&alert(i));
        latencies.push(t.elapsed());
        let due = start + Duration::from_micros(1000 * (i + 1));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let capture_time = start.elapsed();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = *latencies.last().unwrap();
    eprintln!("emit latency over {n} alerts: p50 {p50:?}, p99 {p99:?}, max {max:?}; capture loop {capture_time:?}");

    // Capture was never held up: one wait on the frozen receiver costs
    // 200 ms (two tries: 400 ms), 1000 of them ~400 s. What is left is the
    // encoding (microseconds in release builds, tens in the debug builds
    // tests use) and the scheduling noise of a loaded 2-core machine.
    assert!(p50 < Duration::from_millis(1), "p50 emit latency {p50:?}");
    assert!(p99 < Duration::from_millis(5), "p99 emit latency {p99:?}");
    assert!(max < Duration::from_millis(100), "max emit latency {max:?}");
    assert!(capture_time < Duration::from_secs(8), "capture loop took {capture_time:?}");

    // The other outputs got everything.
    let complete = wait_until(Duration::from_secs(30), || {
        read_lines(&file).len() as u64 == n
            && read_lines(&piped).len() as u64 == n
            && rsyslog.lines().len() as u64 == n
            && nats_count(&nats.url, "ALERTS") == n
    });
    assert!(
        complete,
        "file {}, program {}, syslog {}, nats {}",
        read_lines(&file).len(),
        read_lines(&piped).len(),
        rsyslog.lines().len(),
        nats_count(&nats.url, "ALERTS")
    );
    for (i, line) in read_lines(&file).iter().enumerate() {
        assert_eq!(line, &outputs.encoder().json(&alert(i as u64)));
    }
    assert_eq!(read_lines(&file), read_lines(&piped));

    // The HTTP output: nothing in flight any more, every alert accounted
    // for exactly once, and both kinds of loss happened.
    let report = outputs.shutdown(Duration::from_secs(10));
    assert!(report.unfinished.is_empty(), "{report:?}");
    let stats = outputs.stats();
    for s in &stats {
        eprintln!("{s:?}");
        if s.name != "http" {
            assert_eq!((s.sent, s.dropped, s.errors), (n, 0, 0), "{s:?}");
        }
    }
    let h = stats.iter().find(|s| s.name == "http").unwrap();
    assert_eq!(h.sent + h.dropped + h.errors, n, "{h:?}");
    assert!(h.sent >= 1000, "{h:?}");
    assert!(h.dropped > 0, "the frozen receiver filled the queue: {h:?}");
    assert!(h.errors > 0, "timeouts and refused connections: {h:?}");
    assert_eq!(outputs.dropped_total(), h.dropped);
    // What the receiver logged is what was sent (plus, at most, the one
    // request it logged just before freezing, whose answer never came).
    let received: std::collections::BTreeSet<u64> = http
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r["body"].as_str().unwrap()).unwrap())
        .map(|v| v["output_fields"]["evt.num"].as_u64().unwrap())
        .collect();
    assert!(received.len() as u64 >= h.sent && received.len() as u64 <= h.sent + 1, "{} vs {h:?}", received.len());
}
