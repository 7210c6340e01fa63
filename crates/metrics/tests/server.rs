//! The web server over real HTTP: /healthz as Falco answers it, /metrics
//! in Prometheus's text format, the `webserver` keys of falco.yaml.

use saker_metrics::{DropCategory, Error, Metrics, MetricsInfo, MetricsServer, OutputSample, WebserverConfig};

fn get(url: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = agent.get(url).call().unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, resp.into_body().read_to_string().unwrap())
}

fn any_port() -> WebserverConfig {
    WebserverConfig { listen_port: 0, ..WebserverConfig::default() }
}

#[test]
fn healthz_metrics_versions_and_404() {
    let m = Metrics::new(MetricsInfo { version: "0.1.0".into(), hostname: "node-1".into(), ..MetricsInfo::default() });
    m.add_events(1000);
    m.add_drops(DropCategory::Open, 3);
    m.rule("Read sensitive file untrusted", 4, "syscall").inc();
    m.set_outputs_source(|| vec![OutputSample { name: "stdout".into(), sent: 1, ..Default::default() }]);
    let server = MetricsServer::start(&any_port(), m.clone()).unwrap().unwrap();
    let base = format!("http://{}", server.local_addr());
    assert!(server.local_addr().ip().is_loopback());

    assert_eq!(get(&format!("{base}/healthz")), (200, "application/json".into(), "{\"status\": \"ok\"}".into()));
    let (status, ct, body) = get(&format!("{base}/metrics"));
    assert_eq!((status, ct.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"));
    for line in [
        "saker_n_evts_total 1000",
        "falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"open\"} 3",
        "falcosecurity_falco_rules_matches_total{priority=\"4\",rule_name=\"Read sensitive file untrusted\",source=\"syscall\",tags=\"\"} 1",
        "saker_outputs_sent_total{output=\"stdout\"} 1",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} not in\n{body}");
    }
    // Counters move between scrapes.
    m.add_events(1);
    assert!(get(&format!("{base}/metrics")).2.lines().any(|l| l == "saker_n_evts_total 1001"));
    assert_eq!(get(&format!("{base}/versions")).2, "{\"saker_version\": \"0.1.0\"}");
    assert_eq!(get(&format!("{base}/nothing")).0, 404);
    server.shutdown();
    assert!(ureq::get(&format!("{base}/healthz")).call().is_err(), "stopped");
}

#[test]
fn webserver_keys_as_in_falco_yaml() {
    let yaml = "enabled: true\nthreadiness: 2\nlisten_port: 0\nlisten_address: \"::1\"\nk8s_healthz_endpoint: /health\nprometheus_metrics_enabled: false\n";
    let cfg: WebserverConfig = yaml_serde::from_str(yaml).unwrap();
    assert_eq!(cfg.threadiness, 2);
    assert!(!cfg.ssl_enabled);
    let m = Metrics::new(MetricsInfo::default());
    // IPv6 loopback may be missing in some sandboxes; fall back to IPv4.
    let server = match MetricsServer::start(&cfg, m.clone()) {
        Ok(s) => s.unwrap(),
        Err(Error::Bind { .. }) => {
            MetricsServer::start(&WebserverConfig { listen_address: "127.0.0.1".into(), ..cfg.clone() }, m.clone())
                .unwrap()
                .unwrap()
        }
        Err(e) => panic!("{e}"),
    };
    let base = format!("http://{}", server.local_addr());
    assert_eq!(get(&format!("{base}/health")).0, 200);
    assert_eq!(get(&format!("{base}/healthz")).0, 404);
    assert_eq!(get(&format!("{base}/metrics")).0, 404, "prometheus_metrics_enabled: false");

    let defaults: WebserverConfig = yaml_serde::from_str("{}").unwrap();
    assert_eq!((defaults.listen_address.as_str(), defaults.listen_port), ("127.0.0.1", 8765));
    assert!(defaults.enabled && defaults.prometheus_metrics_enabled);
    assert!(MetricsServer::start(&WebserverConfig { enabled: false, ..any_port() }, m.clone()).unwrap().is_none());
    let e = MetricsServer::start(&WebserverConfig { listen_address: "localhost".into(), ..any_port() }, m.clone());
    assert_eq!(e.unwrap_err().to_string(), "webserver.listen_address \"localhost\" is not a valid IP address");
    let e = MetricsServer::start(&WebserverConfig { ssl_enabled: true, ..any_port() }, m.clone());
    assert!(matches!(e, Err(Error::Unsupported("webserver.ssl_enabled"))));
    // A port already taken is a typed error.
    let taken = server.local_addr();
    let cfg2 = WebserverConfig { listen_address: taken.ip().to_string(), listen_port: taken.port(), ..any_port() };
    assert!(matches!(MetricsServer::start(&cfg2, m), Err(Error::Bind { .. })));
}
