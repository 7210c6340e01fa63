//! `stdout_output`: one line per alert on standard output.

use std::io::Write;

use super::Sink;
use crate::dispatch::Rendered;
use crate::error::DeliveryError;

pub(crate) struct StdoutSink {
    buffered: bool,
}

impl StdoutSink {
    pub(crate) fn new(buffered: bool) -> Self {
        StdoutSink { buffered }
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        let mut out = std::io::stdout().lock();
        let mut line = Vec::with_capacity(msg.line.len() + 1);
        line.extend_from_slice(msg.line.as_bytes());
        line.push(b'\n');
        out.write_all(&line)?;
        if !self.buffered {
            out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeliveryError> {
        std::io::stdout().lock().flush()?;
        Ok(())
    }
}
