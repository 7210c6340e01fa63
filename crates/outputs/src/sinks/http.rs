//! `http_output`: each alert POSTed as it is written elsewhere, as Falco's
//! libcurl output does: the body is the line (Falco's JSON with
//! `json_output`, which is what falcosidekick reads), `Content-Type:
//! application/json` (or `text/plain` for text), the configured
//! `User-Agent`, one connection kept and reused. A request that times out
//! (after `output_timeout`) is sent again up to `max_consecutive_timeouts`
//! times; any other failure, or an answer other than 2xx, counts the alert
//! as an error at once.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use super::Sink;
use crate::config::HttpOutputConfig;
use crate::dispatch::{Counters, Rendered};
use crate::error::{DeliveryError, Error};

pub(crate) struct HttpSink {
    agent: Agent,
    url: String,
    content_type: &'static str,
    echo: bool,
    max_timeouts: u32,
}

impl HttpSink {
    pub(crate) fn new(c: &HttpOutputConfig, json: bool, timeout: Duration) -> Result<Self, Error> {
        let url = unquote(c.url.trim());
        if url.is_empty() {
            return Err(Error::MissingKey { key: "http_output.url" });
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::InvalidValue { key: "http_output.url", message: format!("not an http(s) URL: {url}") });
        }
        // Certificates are only read for https, where they are used.
        let mut tls = TlsConfig::builder();
        if url.starts_with("https://") {
            tls = tls.disable_verification(c.insecure).root_certs(root_certs(c)?);
            if c.mtls {
                tls = tls.client_cert(Some(client_cert(c)?));
            }
        }
        let config = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(c.user_agent.as_str())
            .max_idle_connections_per_host(1)
            .tls_config(tls.build())
            .build();
        Ok(HttpSink {
            agent: config.into(),
            url,
            content_type: if json { "application/json" } else { "text/plain" },
            echo: c.echo,
            max_timeouts: u32::from(c.max_consecutive_timeouts),
        })
    }

    fn post(&self, body: &str, abort: &AtomicBool) -> Result<(), DeliveryError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.agent.post(&self.url).header("Content-Type", self.content_type).send(body) {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // Read the answer so that the connection can be reused.
                    let mut answer = Vec::new();
                    let _ = resp.into_body().as_reader().take(1 << 20).read_to_end(&mut answer);
                    if self.echo {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&answer);
                        let _ = out.flush();
                    }
                    return if (200..300).contains(&status) { Ok(()) } else { Err(DeliveryError::Status(status)) };
                }
                Err(ureq::Error::Timeout(_)) => {
                    if tries > self.max_timeouts || abort.load(Ordering::Relaxed) {
                        return Err(DeliveryError::Timeout { tries });
                    }
                }
                Err(e) => return Err(DeliveryError::Http(e.to_string())),
            }
        }
    }
}

impl Sink for HttpSink {
    fn name(&self) -> &'static str {
        "http"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        self.post(&msg.line, &AtomicBool::new(false))
    }

    fn write_batch(&mut self, batch: &[Arc<Rendered>], counters: &Counters, abort: &AtomicBool) {
        for (i, m) in batch.iter().enumerate() {
            if abort.load(Ordering::Relaxed) {
                counters.dropped((batch.len() - i) as u64);
                return;
            }
            match self.post(&m.line, abort) {
                Ok(()) => counters.sent(1),
                Err(e) => counters.failed(1, &e),
            }
        }
    }
}

/// Falco removes one level of quotes around the URL.
fn unquote(url: &str) -> String {
    let b = url.as_bytes();
    if b.len() >= 2 && ((b[0] == b'"' && b[b.len() - 1] == b'"') || (b[0] == b'\'' && b[b.len() - 1] == b'\'')) {
        url[1..url.len() - 1].to_string()
    } else {
        url.to_string()
    }
}

fn pem_certs(key: &'static str, path: &str) -> Result<Vec<Certificate<'static>>, Error> {
    let tls_err = |message: String| Error::Tls { key, path: path.to_string(), message };
    let pem = std::fs::read(path).map_err(|e| tls_err(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| tls_err(e.to_string()))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(tls_err("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// `ca_cert`, else `ca_bundle`, else the PEM files of `ca_path`, else
/// Mozilla's roots.
fn root_certs(c: &HttpOutputConfig) -> Result<RootCerts, Error> {
    if !c.ca_cert.is_empty() {
        return Ok(pem_certs("http_output.ca_cert", &c.ca_cert)?.into());
    }
    if !c.ca_bundle.is_empty() {
        return Ok(pem_certs("http_output.ca_bundle", &c.ca_bundle)?.into());
    }
    let mut certs = Vec::new();
    if let Ok(dir) = std::fs::read_dir(Path::new(&c.ca_path)) {
        for entry in dir.flatten() {
            let p = entry.path();
            if p.is_file() {
                // Directories of CA files hold other things too; skip them.
                if let Ok(mut found) = pem_certs("http_output.ca_path", &p.to_string_lossy()) {
                    certs.append(&mut found);
                }
            }
        }
    }
    Ok(if certs.is_empty() { RootCerts::WebPki } else { certs.into() })
}

fn client_cert(c: &HttpOutputConfig) -> Result<ClientCert, Error> {
    let chain = pem_certs("http_output.client_cert", &c.client_cert)?;
    let key_err = |message: String| Error::Tls { key: "http_output.client_key", path: c.client_key.clone(), message };
    let pem = std::fs::read(&c.client_key).map_err(|e| key_err(e.to_string()))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| key_err(e.to_string()))?;
    Ok(ClientCert::new_with_certs(&chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_removed_once() {
        assert_eq!(unquote("\"http://a/\""), "http://a/");
        assert_eq!(unquote("'http://a/'"), "http://a/");
        assert_eq!(unquote("http://a/"), "http://a/");
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let t = Duration::from_secs(1);
        let c = HttpOutputConfig { enabled: true, ..HttpOutputConfig::default() };
        assert!(matches!(HttpSink::new(&c, true, t), Err(Error::MissingKey { key: "http_output.url" })));
        let c = HttpOutputConfig { url: "ftp://x".into(), ..c };
        assert!(matches!(HttpSink::new(&c, true, t), Err(Error::InvalidValue { .. })));
        let c = HttpOutputConfig { url: "https://x".into(), ca_cert: "/nonexistent.pem".into(), ..c };
        let e = HttpSink::new(&c, true, t).err().unwrap();
        assert!(e.to_string().starts_with("http_output.ca_cert (/nonexistent.pem): "), "{e}");
    }
}
