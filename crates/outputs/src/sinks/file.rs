//! `file_output`: one line per alert appended to a file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::Sink;
use crate::config::FileOutputConfig;
use crate::dispatch::Rendered;
use crate::error::DeliveryError;

pub(crate) struct FileSink {
    path: PathBuf,
    keep_alive: bool,
    buffered: bool,
    file: Option<BufWriter<File>>,
}

impl FileSink {
    pub(crate) fn new(c: &FileOutputConfig, buffered: bool) -> Self {
        FileSink { path: PathBuf::from(&c.filename), keep_alive: c.keep_alive, buffered, file: None }
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, DeliveryError> {
        if self.file.is_none() {
            let f = OpenOptions::new().append(true).create(true).open(&self.path)?;
            self.file = Some(BufWriter::with_capacity(64 * 1024, f));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    fn shut(&mut self) -> Result<(), DeliveryError> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        let buffered = self.buffered;
        let f = self.open()?;
        // Line and newline go out in one write(2) when unbuffered.
        let r = f.write_all(msg.line.as_bytes()).and_then(|_| f.write_all(b"\n"));
        let r = r.and_then(|_| if buffered { Ok(()) } else { f.flush() });
        if let Err(e) = r {
            // Start again from a fresh open next time.
            self.file = None;
            return Err(e.into());
        }
        if !self.keep_alive {
            self.shut()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeliveryError> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), DeliveryError> {
        self.shut()
    }

    fn close(&mut self) {
        let _ = self.shut();
    }
}
