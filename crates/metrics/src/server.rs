//! The web server: `/healthz`, `/metrics`, `/versions`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::Deserialize;
use tiny_http::{Header, Method, Response, Server};

use crate::registry::Metrics;

/// The `webserver` section, with `falco.yaml`'s keys.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WebserverConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `threadiness`: threads answering requests; 0 (the default) means one
    /// per CPU, as in Falco.
    pub threadiness: usize,
    /// `listen_port` (default 8765).
    pub listen_port: u16,
    /// `listen_address` (default `127.0.0.1`; Falco's is `0.0.0.0`): an
    /// IPv4 or IPv6 address.
    pub listen_address: String,
    /// `k8s_healthz_endpoint` (default `/healthz`).
    pub k8s_healthz_endpoint: String,
    /// `prometheus_metrics_enabled` (default true; false in Falco): serve
    /// `/metrics`.
    pub prometheus_metrics_enabled: bool,
    /// `ssl_enabled`: not supported yet; starting fails if set.
    pub ssl_enabled: bool,
    /// `ssl_certificate`: accepted for compatibility, unused.
    pub ssl_certificate: String,
}

impl Default for WebserverConfig {
    fn default() -> Self {
        WebserverConfig {
            enabled: true,
            threadiness: 0,
            listen_port: 8765,
            listen_address: "127.0.0.1".into(),
            k8s_healthz_endpoint: "/healthz".into(),
            prometheus_metrics_enabled: true,
            ssl_enabled: false,
            ssl_certificate: "/etc/falco/falco.pem".into(),
        }
    }
}

/// Why the web server could not start.
#[derive(Debug)]
pub enum Error {
    /// `listen_address` is not an IP address.
    InvalidAddress(String),
    /// A key asks for something saker does not do.
    Unsupported(&'static str),
    /// Binding the address failed (in use, not permitted...).
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system's message.
        message: String,
    },
    /// A thread could not be started.
    Thread(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidAddress(a) => write!(f, "webserver.listen_address \"{a}\" is not a valid IP address"),
            Error::Unsupported(what) => write!(f, "{what} is not supported"),
            Error::Bind { addr, message } => write!(f, "cannot listen on {addr}: {message}"),
            Error::Thread(e) => write!(f, "cannot start the web server's threads: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The running web server; stops when [`MetricsServer::shutdown`] is
/// called or it is dropped.
pub struct MetricsServer {
    server: Arc<Server>,
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer").field("addr", &self.addr).finish()
    }
}

const HEALTHZ_BODY: &str = "{\"status\": \"ok\"}";
/// Prometheus's text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl MetricsServer {
    /// Starts serving `metrics` as `config` says; `Ok(None)` if the web
    /// server is disabled. Port 0 picks a free port ([`MetricsServer::local_addr`]).
    pub fn start(config: &WebserverConfig, metrics: Metrics) -> Result<Option<MetricsServer>, Error> {
        if !config.enabled {
            return Ok(None);
        }
        if config.ssl_enabled {
            return Err(Error::Unsupported("webserver.ssl_enabled"));
        }
        let ip: IpAddr =
            config.listen_address.trim().parse().map_err(|_| Error::InvalidAddress(config.listen_address.clone()))?;
        let addr = SocketAddr::new(ip, config.listen_port);
        let server = Arc::new(Server::http(addr).map_err(|e| Error::Bind { addr, message: e.to_string() })?);
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        let n = match config.threadiness {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        let routes = Arc::new(Routes {
            healthz: config.k8s_healthz_endpoint.clone(),
            prometheus: config.prometheus_metrics_enabled,
            metrics,
        });
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (server, routes) = (server.clone(), routes.clone());
            let t = std::thread::Builder::new()
                .name(format!("saker-web-{i}"))
                .spawn(move || {
                    for req in server.incoming_requests() {
                        routes.answer(req);
                    }
                })
                .map_err(Error::Thread)?;
            threads.push(t);
        }
        Ok(Some(MetricsServer { server, addr, threads }))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and waits for the threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for _ in &self.threads {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Routes {
    healthz: String,
    prometheus: bool,
    metrics: Metrics,
}

impl Routes {
    fn answer(&self, req: tiny_http::Request) {
        let path = req.url().split('?').next().unwrap_or("");
        let get = matches!(req.method(), Method::Get | Method::Head);
        let resp = if !get {
            Response::from_string("method not allowed\n").with_status_code(405)
        } else if path == self.healthz {
            Response::from_string(HEALTHZ_BODY).with_header(header("Content-Type", "application/json"))
        } else if path == "/metrics" && self.prometheus {
            Response::from_string(self.metrics.render_prometheus())
                .with_header(header("Content-Type", PROMETHEUS_CONTENT_TYPE))
        } else if path == "/versions" {
            let v = self.metrics.info().version.replace(['"', '\\'], "");
            Response::from_string(format!("{{\"saker_version\": \"{v}\"}}"))
                .with_header(header("Content-Type", "application/json"))
        } else {
            Response::from_string("not found\n").with_status_code(404)
        };
        let _ = req.respond(resp);
    }
}

fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("valid header")
}
