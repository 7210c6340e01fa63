//! A real Prometheus (Debian's `prometheus`) scrapes `saker detect`'s
//! /metrics while it runs a command that raises an alert: the alert's rule
//! is in `falcosecurity_falco_rules_matches_total` with Falco's labels
//! (`rule_name`, `priority`, `source`, `tags`), next to Falco's info
//! metrics. The userspace driver runs the command, so no root is needed.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

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

/// Prometheus's instant query API, by hand (percent-encoded query).
fn query(port: u16, q: &str) -> serde_json::Value {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return serde_json::Value::Null };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET /api/v1/query?query={enc} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // Chunked or not: the JSON object is between the first { and the last }.
    match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    }
}

/// Asks until one sample satisfies `ok`; returns it.
fn query_until(port: u16, q: &str, ok: impl Fn(f64) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = query(port, q);
        let results = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if let Some(r) =
            results.iter().find(|r| r["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()).is_some_and(&ok))
        {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "Prometheus never answered {q} as expected; last answer: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_scrapes_falcos_rule_matches_after_an_alert() {
    let Some(prometheus) = find("prometheus") else {
        let msg = "SKIPPED: `prometheus` is not installed (Debian package `prometheus`; scripts/setup.sh installs it)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("\n*** {msg} ***\n");
        return;
    };
    let dir = temp_dir("detect_prometheus");
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat opens a file\n  desc: t\n  condition: evt.type in (open, openat) and proc.name = cat and fd.name = /etc/hostname\n  output: cat opened %fd.name\n  priority: WARNING\n  tags: [filesystem, test_tag]\n",
    )
    .unwrap();
    let web = free_port();
    // The command alerts at once, then keeps saker running while Prometheus scrapes.
    let saker = Killed(
        Command::new(env!("CARGO_BIN_EXE_saker"))
            .args(["detect", "-r", rules.to_str().unwrap(), "--driver", "userspace"])
            .args(["-o", "syslog_output.enabled=false", "-o", "webserver.enabled=true"])
            .args(["-o", &format!("webserver.listen_port={web}")])
            .args(["--", "sh", "-c", "cat /etc/hostname; sleep 60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run saker"),
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: saker\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{web}']\n"
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
    let r = query_until(port, "falcosecurity_falco_rules_matches_total{rule_name=\"Cat opens a file\"}", |v| v == 1.0);
    assert_eq!(r["metric"]["priority"], "4", "{r}");
    assert_eq!(r["metric"]["source"], "syscall", "{r}");
    assert_eq!(r["metric"]["tags"], "filesystem, test_tag", "{r}");
    let r = query_until(port, "falcosecurity_falco_version_info", |v| v == 1.0);
    assert_eq!(r["metric"]["version"], env!("CARGO_PKG_VERSION"), "{r}");
    let r = query_until(port, "falcosecurity_scap_engine_name_info", |v| v == 1.0);
    assert_eq!(r["metric"]["engine_name"], "userspace", "{r}");
    let r = query_until(port, "falcosecurity_falco_sha256_rules_files_info", |v| v == 1.0);
    assert_eq!(r["metric"]["file_name"], "rules.yaml", "{r}");
    let sum = Command::new("sha256sum").arg(&rules).output().unwrap();
    assert!(String::from_utf8_lossy(&sum.stdout).starts_with(r["metric"]["sha256"].as_str().unwrap()), "{r}");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let r = query_until(port, "falcosecurity_falco_kernel_release_info", |v| v == 1.0);
    assert_eq!(r["metric"]["kernel_release"], kernel.trim(), "{r}");
    query_until(port, "falcosecurity_scap_n_evts_total", |v| v > 0.0);
    drop(saker);
    let _ = std::fs::remove_dir_all(&dir);
}
