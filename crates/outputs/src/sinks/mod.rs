//! The destinations. Each runs on its output's own thread.

mod file;
mod http;
mod nats;
mod program;
mod stdout;
mod syslog;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::OutputsConfig;
use crate::dispatch::{Counters, Rendered};
use crate::error::{DeliveryError, Error};

/// One destination.
pub(crate) trait Sink: Send {
    /// `stdout`, `file`...
    fn name(&self) -> &'static str;

    /// Delivers one alert.
    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError>;

    /// Delivers a batch and counts the outcome; the default writes them one
    /// by one, giving up on the rest if told to abort.
    fn write_batch(&mut self, batch: &[Arc<Rendered>], counters: &Counters, abort: &AtomicBool) {
        for (i, m) in batch.iter().enumerate() {
            if abort.load(Ordering::Relaxed) {
                counters.dropped((batch.len() - i) as u64);
                return;
            }
            match self.write(m) {
                Ok(()) => counters.sent(1),
                Err(e) => counters.failed(1, &e),
            }
        }
    }

    /// Pushes out anything buffered.
    fn flush(&mut self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Closes and reopens (files, programs); the default does nothing.
    fn reopen(&mut self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Flushes and releases everything, at the end.
    fn close(&mut self) {
        let _ = self.flush();
    }
}

/// The enabled outputs, in Falco's order (file, stdout, syslog, program,
/// http), then NATS.
pub(crate) fn build(c: &OutputsConfig) -> Result<Vec<Box<dyn Sink>>, Error> {
    let timeout = Duration::from_millis(c.output_timeout.max(1));
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if c.file_output.enabled {
        if c.file_output.filename.is_empty() {
            return Err(Error::MissingKey { key: "file_output.filename" });
        }
        sinks.push(Box::new(file::FileSink::new(&c.file_output, c.buffered_outputs)));
    }
    if c.stdout_output.enabled {
        sinks.push(Box::new(stdout::StdoutSink::new(c.buffered_outputs)));
    }
    if c.syslog_output.enabled {
        if c.syslog_output.socket.is_empty() {
            return Err(Error::MissingKey { key: "syslog_output.socket" });
        }
        sinks.push(Box::new(syslog::SyslogSink::new(&c.syslog_output, timeout)));
    }
    if c.program_output.enabled {
        if c.program_output.program.is_empty() {
            return Err(Error::MissingKey { key: "program_output.program" });
        }
        sinks.push(Box::new(program::ProgramSink::new(&c.program_output, c.buffered_outputs, timeout)));
    }
    if c.http_output.enabled {
        sinks.push(Box::new(http::HttpSink::new(&c.http_output, c.json_output, timeout)?));
    }
    if c.nats_output.enabled {
        sinks.push(Box::new(nats::NatsSink::new(&c.nats_output, timeout)?));
    }
    Ok(sinks)
}
