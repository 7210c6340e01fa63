//! `nats_output` (saker's own): each alert, as Falco's JSON whatever
//! `json_output` says, published to a JetStream subject; it counts as sent
//! once the server acknowledged it (stored in a stream). The bridge from a
//! host to a fleet.
//!
//! The client (`async-nats`) runs on a one-thread Tokio runtime owned by
//! the output's thread; a batch of queued alerts is published together and
//! the acknowledgements awaited together, each bounded by `output_timeout`.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio::runtime::Runtime;

use super::Sink;
use crate::config::NatsOutputConfig;
use crate::dispatch::{Counters, Rendered};
use crate::error::{DeliveryError, Error};

pub(crate) struct NatsSink {
    rt: Runtime,
    url: String,
    subject: String,
    stream: String,
    timeout: Duration,
    js: Option<jetstream::Context>,
}

impl NatsSink {
    pub(crate) fn new(c: &NatsOutputConfig, timeout: Duration) -> Result<Self, Error> {
        if c.url.is_empty() {
            return Err(Error::MissingKey { key: "nats_output.url" });
        }
        if c.subject.is_empty() {
            return Err(Error::MissingKey { key: "nats_output.subject" });
        }
        if c.subject.contains(['*', '>', ' ']) {
            return Err(Error::InvalidValue {
                key: "nats_output.subject",
                message: format!("'{}' is not a subject one can publish to", c.subject),
            });
        }
        if let Err(e) = c.url.parse::<async_nats::ServerAddr>() {
            return Err(Error::InvalidValue { key: "nats_output.url", message: e.to_string() });
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("saker-out-nats-io")
            .enable_all()
            .build()
            .map_err(|source| Error::Thread { output: "nats", source })?;
        Ok(NatsSink { rt, url: c.url.clone(), subject: c.subject.clone(), stream: c.stream.clone(), timeout, js: None })
    }

    /// Connects (and creates the stream if asked) unless connected; the
    /// client then reconnects by itself.
    fn context(&mut self) -> Result<jetstream::Context, DeliveryError> {
        if let Some(js) = &self.js {
            return Ok(js.clone());
        }
        let (url, stream_name, subject, timeout) =
            (self.url.clone(), self.stream.clone(), self.subject.clone(), self.timeout);
        let js = self.rt.block_on(async move {
            let client = async_nats::ConnectOptions::new()
                .name("saker")
                .connection_timeout(timeout)
                .request_timeout(Some(timeout))
                .connect(url.as_str())
                .await
                .map_err(|e| DeliveryError::Nats(format!("cannot connect to {url}: {e}")))?;
            let mut js = jetstream::new(client);
            js.set_timeout(timeout);
            if !stream_name.is_empty() {
                js.get_or_create_stream(stream::Config {
                    name: stream_name.clone(),
                    subjects: vec![subject],
                    ..Default::default()
                })
                .await
                .map_err(|e| DeliveryError::Nats(format!("cannot create stream {stream_name}: {e}")))?;
            }
            Ok::<_, DeliveryError>(js)
        })?;
        self.js = Some(js.clone());
        Ok(js)
    }

    /// Publishes the batch; returns how many were acknowledged and the
    /// first error.
    fn publish(&mut self, batch: &[Arc<Rendered>]) -> (u64, Option<DeliveryError>) {
        let js = match self.context() {
            Ok(js) => js,
            Err(e) => return (0, Some(e)),
        };
        let (subject, timeout) = (self.subject.clone(), self.timeout);
        let payloads: Vec<String> = batch.iter().map(|m| m.json().to_string()).collect();
        self.rt.block_on(async move {
            let mut acks = Vec::with_capacity(payloads.len());
            let mut first_err = None;
            for p in payloads {
                match tokio::time::timeout(timeout, js.publish(subject.clone(), p.into())).await {
                    Ok(Ok(ack)) => acks.push(ack),
                    Ok(Err(e)) => {
                        first_err.get_or_insert(DeliveryError::Nats(format!("publish to {subject}: {e}")));
                    }
                    Err(_) => {
                        first_err.get_or_insert(DeliveryError::Nats(format!("publish to {subject}: timed out")));
                    }
                }
            }
            let mut ok = 0;
            for ack in acks {
                match tokio::time::timeout(timeout, ack.into_future()).await {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(e)) => {
                        first_err.get_or_insert(DeliveryError::Nats(format!("acknowledgement from {subject}: {e}")));
                    }
                    Err(_) => {
                        first_err
                            .get_or_insert(DeliveryError::Nats(format!("acknowledgement from {subject}: timed out")));
                    }
                }
            }
            (ok, first_err)
        })
    }
}

impl Sink for NatsSink {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        let batch = [Arc::new(Rendered { priority: msg.priority, line: msg.json().to_string(), json: None })];
        match self.publish(&batch) {
            (1, _) => Ok(()),
            (_, e) => Err(e.unwrap_or(DeliveryError::Nats("not acknowledged".into()))),
        }
    }

    fn write_batch(&mut self, batch: &[Arc<Rendered>], counters: &Counters, abort: &AtomicBool) {
        if abort.load(Ordering::Relaxed) {
            counters.dropped(batch.len() as u64);
            return;
        }
        let (ok, err) = self.publish(batch);
        counters.sent(ok);
        let failed = batch.len() as u64 - ok;
        if failed > 0 {
            counters.failed(failed, &err.unwrap_or(DeliveryError::Nats("not acknowledged".into())));
        }
    }

    fn flush(&mut self) -> Result<(), DeliveryError> {
        if let Some(js) = &self.js {
            let client = js.client();
            let timeout = self.timeout;
            self.rt.block_on(async move {
                match tokio::time::timeout(timeout, client.flush()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(DeliveryError::Nats(e.to_string())),
                    Err(_) => Err(DeliveryError::Nats("flush timed out".into())),
                }
            })?;
        }
        Ok(())
    }
}
