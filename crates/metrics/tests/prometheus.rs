//! A real Prometheus server (Debian's `prometheus`) scrapes saker's
//! /metrics; the test asks Prometheus, through its HTTP API, what it
//! stored, and checks the values saker was fed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use saker_metrics::{DropCategory, Metrics, MetricsInfo, MetricsServer, OutputSample, SourceCounters, WebserverConfig};

fn find(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from));
    dirs.iter().map(|d| d.join(program)).find(|p| p.is_file())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Asks Prometheus for `query` until it answers with one sample whose value
/// satisfies `ok`, or the time is up; returns the last answer.
fn query_until(api: &str, query: &str, ok: impl Fn(f64) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = ureq::get(&format!("{api}/api/v1/query"))
            .query("query", query)
            .call()
            .ok()
            .and_then(|r| r.into_body().read_to_string().ok())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null);
        let results = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if results.len() == 1 {
            let value: f64 = results[0]["value"][1].as_str().unwrap_or("nan").parse().unwrap_or(f64::NAN);
            if ok(value) {
                return results[0].clone();
            }
        }
        if Instant::now() > deadline {
            panic!("Prometheus never answered {query} as expected; last answer: {v}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_scrapes_saker() {
    let Some(prometheus) = find("prometheus") else {
        let msg = "SKIPPED: `prometheus` is not installed (Debian package `prometheus`; scripts/setup.sh installs it)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("\n*** {msg} ***\n");
        return;
    };

    // saker's side: a registry fed as the other crates would.
    let m = Metrics::new(MetricsInfo {
        version: "0.1.0-test".into(),
        hostname: "test-host".into(),
        engine_name: "modern_ebpf".into(),
    });
    m.add_events(123_456);
    m.set_source(&SourceCounters {
        events: 130_000,
        drops_buffer: [1, 2, 3, 4, 5, 6],
        drops_too_large: 7,
        drops_other: 0,
        filtered: 0,
    });
    m.set_threads(321);
    m.set_fds(4321);
    let shell = m.rule_with_tags("Terminal shell in container", 5, "syscall", &["shell", "container"]);
    for _ in 0..7 {
        shell.inc();
    }
    m.rule("Read sensitive file untrusted", 4, "syscall").inc();
    m.set_outputs_source(|| {
        vec![
            OutputSample { name: "file".into(), sent: 8, dropped: 0, errors: 0, queued: 0 },
            OutputSample { name: "http".into(), sent: 5, dropped: 2, errors: 1, queued: 0 },
        ]
    });
    let server = MetricsServer::start(&WebserverConfig { listen_port: 0, ..WebserverConfig::default() }, m.clone())
        .unwrap()
        .unwrap();

    // Prometheus's side: scrape every second, in a temporary directory.
    let dir = std::env::temp_dir().join(format!("saker-metrics-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: saker\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n",
            server.local_addr()
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let api = format!("http://127.0.0.1:{port}");

    // The target is up: Prometheus parsed the whole exposition.
    query_until(&api, "up{job=\"saker\"}", |v| v == 1.0);
    query_until(&api, "saker_n_evts_total", |v| v == 123_456.0);
    query_until(&api, "falcosecurity_scap_n_evts_total", |v| v == 130_000.0);
    query_until(&api, "falcosecurity_scap_n_drops_total", |v| v == 28.0);
    query_until(&api, "falcosecurity_scap_n_drops_buffer_total{drop=\"execve\",dir=\"exit\"}", |v| v == 2.0);
    query_until(&api, "saker_scap_n_drops_too_large_total", |v| v == 7.0);
    query_until(&api, "falcosecurity_scap_n_threads_total", |v| v == 321.0);
    query_until(&api, "falcosecurity_scap_n_fds_total", |v| v == 4321.0);
    let r =
        query_until(&api, "falcosecurity_falco_rules_matches_total{rule_name=\"Terminal shell in container\"}", |v| {
            v == 7.0
        });
    assert_eq!(r["metric"]["priority"], "5");
    assert_eq!(r["metric"]["source"], "syscall");
    assert_eq!(r["metric"]["tags"], "container, shell");
    query_until(&api, "sum(falcosecurity_falco_rules_matches_total)", |v| v == 8.0);
    query_until(&api, "saker_outputs_dropped_total{output=\"http\"}", |v| v == 2.0);
    query_until(&api, "saker_outputs_errors_total{output=\"http\"}", |v| v == 1.0);
    query_until(&api, "saker_outputs_sent_total{output=\"file\"}", |v| v == 8.0);
    query_until(&api, "falcosecurity_falco_outputs_queue_num_drops_total", |v| v == 2.0);
    query_until(&api, "falcosecurity_falco_memory_rss_bytes", |v| v > 1_000_000.0);
    let r = query_until(&api, "falcosecurity_falco_version_info", |v| v == 1.0);
    assert_eq!(r["metric"]["version"], "0.1.0-test");
    query_until(&api, "falcosecurity_falco_kernel_release_info", |v| v == 1.0);
    let r = query_until(&api, "falcosecurity_evt_hostname_info", |v| v == 1.0);
    assert_eq!(r["metric"]["hostname"], "test-host");
    query_until(&api, "saker_cpu_seconds_total", |v| v >= 0.0);
    let r = query_until(&api, "falcosecurity_scap_engine_name_info", |v| v == 1.0);
    assert_eq!(r["metric"]["engine_name"], "modern_ebpf");

    // Later scrapes see later values.
    m.add_events(1);
    m.add_drops(DropCategory::Exec, 10);
    shell.inc();
    query_until(&api, "saker_n_evts_total", |v| v == 123_457.0);
    query_until(&api, "falcosecurity_scap_n_drops_buffer_total{drop=\"execve\"}", |v| v == 12.0);
    query_until(&api, "falcosecurity_falco_rules_matches_total{rule_name=\"Terminal shell in container\"}", |v| {
        v == 8.0
    });

    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
