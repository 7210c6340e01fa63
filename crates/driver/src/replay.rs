//! Replaying a capture file.

use std::path::Path;

use saker_scap::{CaptureHeader, Reader};

use crate::{EventSource, Next, SourceError, SourceEvent, SourceStats, StopHandle};

/// A capture file as an event source: events come out in file order.
pub struct CaptureSource {
    reader: Reader,
    events: u64,
    stop: StopHandle,
}

impl CaptureSource {
    /// Opens a capture file (gzip or not) and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureSource, saker_scap::Error> {
        Ok(CaptureSource { reader: Reader::open(path)?, events: 0, stop: StopHandle::new() })
    }

    /// The capture's header: machine, users, processes and their fds.
    pub fn header(&self) -> &CaptureHeader {
        self.reader.header()
    }

    /// The underlying reader.
    pub fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }
}

impl EventSource for CaptureSource {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        if self.stop.is_stopped() {
            return Ok(Next::End);
        }
        match self.reader.next_event().map_err(SourceError::new)? {
            Some(rec) => {
                self.events += 1;
                Ok(Next::Event(SourceEvent { cpu: rec.cpu, dump_flags: rec.dump_flags, event: rec.event }))
            }
            None => Ok(Next::End),
        }
    }

    fn stats(&self) -> SourceStats {
        SourceStats { events: self.events, ..SourceStats::default() }
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}
