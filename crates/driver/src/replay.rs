//! Replaying a capture file.
//!
//! With more than one CPU, the file is read on a thread of its own: it
//! frames and checks the blocks, passes over the event types it was asked
//! to ([`EventSource::pass_over`]) and copies the other events into
//! batches, while the caller's thread applies them. Reading is the longer
//! half, so the caller's thread also keeps the memory map's resident pages
//! (giving back those read, faulting in those next while it waits for a
//! batch). Events keep their file order; an error in the file comes after
//! the events before it, as with a single thread.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use saker_abi::EventTypeSet;
use saker_scap::{CaptureHeader, EventBatch, EventRecord, Reader};

use crate::{EventSource, Next, SourceError, SourceEvent, SourceStats, StopHandle};

/// Bytes of events per batch handed from the reading thread.
const BATCH_BYTES: usize = 1024 * 1024;
/// Batches in flight between the threads (memory: about this many batches).
const BATCHES_IN_FLIGHT: usize = 2;

/// A capture file as an event source: events come out in file order.
pub struct CaptureSource {
    header: CaptureHeader,
    input: Input,
    /// Events delivered and passed over before the last one delivered.
    events: u64,
    /// Of those, passed over.
    passed_over: u64,
    stop: StopHandle,
}

enum Input {
    /// One thread: events are read where the caller asks for them.
    Direct(Box<Reader>),
    /// The reading thread starts at the first event, once the types to pass
    /// over are known (`None` only while it starts).
    Unstarted(Option<Box<Reader>>),
    /// Events come in batches from the reading thread.
    Batches(Batches),
}

/// What the reading thread sends. The end and the error carry the number
/// of events passed over after the last event sent.
enum Batch {
    Events(EventBatch),
    End(u64),
    Failed(saker_scap::Error, u64),
}

struct Batches {
    rx: Option<Receiver<Batch>>,
    /// Emptied batches go back to the reading thread for reuse.
    back: Option<SyncSender<EventBatch>>,
    cur: Option<EventBatch>,
    /// Keeps the memory map's resident pages, here rather than on the
    /// reading thread, which has more to do: gives back the pages behind
    /// the events consumed, and, while waiting for the next batch, faults in
    /// those ahead of the reader.
    keeper: Option<saker_scap::PageKeeper>,
    pos: usize,
    ended: bool,
    /// Events passed over after the last event, known at the end.
    trailing: u64,
    thread: Option<JoinHandle<()>>,
}

impl CaptureSource {
    /// Opens a capture file (gzip or not) and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureSource, saker_scap::Error> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        CaptureSource::open_with(path, cpus > 1)
    }

    fn open_with(path: impl AsRef<Path>, reading_thread: bool) -> Result<CaptureSource, saker_scap::Error> {
        let reader = Reader::open(path)?;
        let header = reader.header().clone();
        let input =
            if reading_thread { Input::Unstarted(Some(Box::new(reader))) } else { Input::Direct(Box::new(reader)) };
        Ok(CaptureSource { header, input, events: 0, passed_over: 0, stop: StopHandle::new() })
    }

    /// The capture's header: machine, users, processes and their fds.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }
}

impl Batches {
    fn start(mut reader: Box<Reader>) -> Batches {
        let keeper = reader.take_page_keeper();
        let (tx, rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (back, spare) = sync_channel::<EventBatch>(BATCHES_IN_FLIGHT + 1);
        let thread = std::thread::Builder::new()
            .name("saker-replay".into())
            .spawn(move || {
                loop {
                    let mut batch =
                        spare.try_recv().unwrap_or_else(|_| EventBatch::with_capacity(BATCH_BYTES + 64 * 1024));
                    batch.clear();
                    let read = reader.read_batch(&mut batch, BATCH_BYTES);
                    // A send fails only when the source is gone: stop reading.
                    // A batch may be empty (all passed over): its end offset
                    // still lets the pages behind it go.
                    if tx.send(Batch::Events(batch)).is_err() {
                        return;
                    }
                    let last = match read {
                        Ok(true) => continue,
                        Ok(false) => Batch::End(reader.passed_over_pending()),
                        Err(e) => Batch::Failed(e, reader.passed_over_pending()),
                    };
                    let _ = tx.send(last);
                    return;
                }
            })
            .expect("cannot start the capture reading thread");
        Batches {
            rx: Some(rx),
            back: Some(back),
            cur: None,
            keeper,
            pos: 0,
            ended: false,
            trailing: 0,
            thread: Some(thread),
        }
    }

    /// The next batch. While none is ready, the reader has not got past
    /// `reader_at`: the time is spent faulting in the pages it reads next.
    fn receive(&mut self, reader_at: u64) -> Option<Batch> {
        let rx = self.rx.as_ref()?;
        loop {
            match rx.try_recv() {
                Ok(b) => return Some(b),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    if !self.keeper.as_mut().is_some_and(|k| k.fault_in_ahead(reader_at)) {
                        return rx.recv().ok();
                    }
                }
            }
        }
    }

    #[inline]
    fn next(&mut self) -> Result<Option<SourceEvent<'_>>, SourceError> {
        while self.cur.as_ref().is_none_or(|b| self.pos >= b.byte_len()) {
            if self.ended {
                return Ok(None);
            }
            let reader_at = self.cur.as_ref().map_or(0, |b| b.end_offset());
            if let Some(k) = &mut self.keeper {
                k.release_before(reader_at);
            }
            if let Some(done) = self.cur.take()
                && let Some(back) = &self.back
            {
                let _ = back.try_send(done);
            }
            self.pos = 0;
            match self.receive(reader_at) {
                Some(Batch::Events(b)) => self.cur = Some(b),
                Some(Batch::Failed(e, passed)) => {
                    self.ended = true;
                    self.trailing = passed;
                    return Err(SourceError::new(e));
                }
                Some(Batch::End(passed)) => {
                    self.ended = true;
                    self.trailing = passed;
                    return Ok(None);
                }
                None => {
                    self.ended = true;
                    return Ok(None);
                }
            }
        }
        let cur = self.cur.as_ref().expect("the loop above ends on a batch with records left");
        let (EventRecord { cpu, dump_flags, event, passed_over, .. }, next) =
            cur.record_at(self.pos).expect("a batch holds whole records");
        self.pos = next;
        Ok(Some(SourceEvent { cpu, dump_flags, event, passed_over }))
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        // Closing the channels ends the reading thread at its next batch.
        self.rx = None;
        self.back = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl EventSource for CaptureSource {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        if self.stop.is_stopped() {
            return Ok(Next::End);
        }
        if let Input::Unstarted(reader) = &mut self.input
            && let Some(reader) = reader.take()
        {
            self.input = Input::Batches(Batches::start(reader));
        }
        let next = match &mut self.input {
            Input::Direct(reader) => reader.next_event().map_err(SourceError::new).map(|next| {
                next.map(|rec| SourceEvent {
                    cpu: rec.cpu,
                    dump_flags: rec.dump_flags,
                    event: rec.event,
                    passed_over: rec.passed_over,
                })
            }),
            Input::Unstarted(_) => unreachable!("started above"),
            Input::Batches(b) => b.next(),
        };
        match next? {
            Some(ev) => {
                self.events += 1 + ev.passed_over;
                self.passed_over += ev.passed_over;
                Ok(Next::Event(ev))
            }
            None => Ok(Next::End),
        }
    }

    fn pass_over(&mut self, types: &EventTypeSet) {
        match &mut self.input {
            Input::Direct(reader) | Input::Unstarted(Some(reader)) => reader.pass_over(*types),
            Input::Unstarted(None) | Input::Batches(_) => panic!("pass_over is called before the first event"),
        }
    }

    fn pass_over_exits_after_enter(&mut self, types: &EventTypeSet) {
        match &mut self.input {
            Input::Direct(reader) | Input::Unstarted(Some(reader)) => reader.pass_over_exits_after_enter(*types),
            Input::Unstarted(None) | Input::Batches(_) => {
                panic!("pass_over_exits_after_enter is called before the first event")
            }
        }
    }

    fn stats(&self) -> SourceStats {
        // Events passed over after the last one delivered count too.
        let pending = match &self.input {
            Input::Direct(r) | Input::Unstarted(Some(r)) => r.passed_over_pending(),
            Input::Unstarted(None) => 0,
            Input::Batches(b) => b.trailing,
        };
        SourceStats { events: self.events + pending, passed_over: self.passed_over + pending, ..SourceStats::default() }
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_abi::Event;

    const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");

    /// Every event as `(cpu, flags, bytes)`, how the stream ended, and the
    /// events passed over before the delivered ones.
    type Drained = (Vec<(u16, Option<u32>, Vec<u8>)>, Result<(), String>, u64);

    /// Reads `s` to its end.
    fn drain(s: &mut CaptureSource) -> Drained {
        let (mut out, mut passed) = (Vec::new(), 0);
        loop {
            match s.next_event() {
                Ok(Next::Event(e)) => {
                    passed += e.passed_over;
                    out.push((e.cpu, e.dump_flags, e.event.as_bytes().to_vec()));
                }
                Ok(Next::End) => return (out, Ok(()), passed),
                Ok(Next::Idle) => panic!("a capture is never idle"),
                Err(e) => return (out, Err(e.to_string()), passed),
            }
        }
    }

    #[test]
    fn the_reading_thread_gives_what_the_reader_gives() {
        let mut files: Vec<_> = std::fs::read_dir(CAPTURES).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() >= 10, "the shared captures are missing");
        for f in files {
            let direct = drain(&mut CaptureSource::open_with(&f, false).unwrap());
            let threaded = drain(&mut CaptureSource::open_with(&f, true).unwrap());
            assert!(!direct.0.is_empty() || direct.1.is_err(), "{}", f.display());
            assert_eq!(threaded, direct, "{}", f.display());
        }
    }

    #[test]
    fn passed_over_events_are_counted_not_delivered() {
        let mut pass = EventTypeSet::none();
        for code in [152u16, 234, 354, 358] {
            pass.insert(saker_abi::EventType(code));
        }
        let mut files: Vec<_> = std::fs::read_dir(CAPTURES).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut passed_in_all = 0;
        for f in files {
            let every = drain(&mut CaptureSource::open_with(&f, false).unwrap());
            let expected: Vec<_> = every
                .0
                .iter()
                .filter(|(_, _, b)| !pass.contains(Event::parse(b).unwrap().event_type()))
                .cloned()
                .collect();
            for threaded in [false, true] {
                let mut s = CaptureSource::open_with(&f, threaded).unwrap();
                s.pass_over(&pass);
                let (got, end, passed) = drain(&mut s);
                assert_eq!((&got, &end), (&expected, &every.1), "{} threaded={threaded}", f.display());
                // Every event is counted, delivered or not.
                assert_eq!(s.stats().events, every.0.len() as u64, "{} threaded={threaded}", f.display());
                assert_eq!(s.stats().passed_over, s.stats().events - got.len() as u64);
                assert!(passed <= s.stats().events - got.len() as u64);
                passed_in_all += s.stats().events - got.len() as u64;
            }
        }
        assert!(passed_in_all > 500, "the captures hold switches and user lists: {passed_in_all}");
    }

    #[test]
    fn a_damaged_file_ends_with_its_error_after_the_good_events() {
        let src = std::fs::read(format!("{CAPTURES}/libs__curl_google.scap")).unwrap();
        let dir = std::env::temp_dir().join(format!("saker-driver-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cut = dir.join("cut.scap");
        std::fs::write(&cut, &src[..src.len() - 100]).unwrap();
        let direct = drain(&mut CaptureSource::open_with(&cut, false).unwrap());
        let threaded = drain(&mut CaptureSource::open_with(&cut, true).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(direct.1.is_err() && !direct.0.is_empty());
        assert_eq!(threaded, direct);
    }

    #[test]
    fn dropping_the_source_mid_stream_ends_the_reading_thread() {
        let mut s = CaptureSource::open_with(format!("{CAPTURES}/libs__sample.scap"), true).unwrap();
        assert!(matches!(s.next_event(), Ok(Next::Event(_))));
        // Returns only once the thread has ended (joined in drop).
        drop(s);
    }
}
