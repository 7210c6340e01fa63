/*!
The one interface every saker event source implements.

A source yields events in timestamp order through [`EventSource::next_event`]
and counts what it saw and what it lost ([`SourceStats`]). The kernel drivers
(`modern-ebpf`, `ebpf`, `kmod`), the ptrace driver (`userspace`) and capture
replay ([`CaptureSource`]) all sit behind it, so everything downstream (state,
filters, rules, outputs, the capture writer) is the same whatever the source.

This crate holds the trait, the statistics every source reports, the
replay source, and the timestamp merge of per-CPU rings that the kernel
drivers share ([`RingMerge`]). Each live driver lives in its own crate.
*/

pub mod kernel_filter;
mod merge;
mod replay;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use saker_abi::Event;

pub use merge::{EventRing, Head, RingMerge};
pub use replay::CaptureSource;

/// One event from a source, borrowed until the next call.
#[derive(Clone, Copy, Debug)]
pub struct SourceEvent<'a> {
    /// The CPU the event happened on.
    pub cpu: u16,
    /// For events replayed from a capture's flagged blocks, libs' dump flags
    /// (`SCAP_DF_*`), so that rewriting the capture keeps them.
    pub dump_flags: Option<u32>,
    /// The event.
    pub event: Event<'a>,
    /// Events read right before this one and not delivered, being of the
    /// types given to [`EventSource::pass_over`] (they still count, e.g.
    /// in `evt.num`).
    pub passed_over: u64,
}

/// What [`EventSource::next_event`] found.
#[derive(Debug)]
pub enum Next<'a> {
    /// An event.
    Event(SourceEvent<'a>),
    /// Nothing arrived for a while (live sources only): a chance for the
    /// caller to flush outputs or report statistics.
    Idle,
    /// The stream ended: end of file, or the source was stopped.
    End,
}

/// Where events were lost, by the kind of event lost. Categories follow
/// Falco's drop counters so metrics line up with what users know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropsByCategory {
    /// clone, fork, vfork, clone3, process exit.
    pub process: u64,
    /// execve, execveat.
    pub exec: u64,
    /// open, openat, openat2, creat.
    pub open: u64,
    /// connect, accept.
    pub connect: u64,
    /// close.
    pub close: u64,
    /// Everything else.
    pub other: u64,
}

impl DropsByCategory {
    /// The sum over all categories.
    pub fn total(&self) -> u64 {
        self.process + self.exec + self.open + self.connect + self.close + self.other
    }
}

/// Counters every source keeps. A live driver sums its per-CPU counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Events the source produced (for a kernel driver: seen in the kernel,
    /// whether or not they reached user space).
    pub events: u64,
    /// Events lost because a buffer was full, by category.
    pub drops_buffer: DropsByCategory,
    /// Events lost because they were larger than the maximum event size.
    pub drops_too_large: u64,
    /// Events lost for any other reason (a failed kernel read, ...).
    pub drops_other: u64,
    /// Events the kernel left out on purpose, by the filters derived from
    /// the rules ([`kernel_filter`]): not lost, not in `events`, and not
    /// drops.
    pub filtered: u64,
    /// Of `events`, those read but not delivered, being of a type given to
    /// [`EventSource::pass_over`] (those after the last event delivered
    /// too: a consumer adds them at the end).
    pub passed_over: u64,
}

impl SourceStats {
    /// Every event lost, whatever the reason.
    pub fn drops(&self) -> u64 {
        self.drops_buffer.total() + self.drops_too_large + self.drops_other
    }
}

/// An error from a source, with the source's own message.
#[derive(Debug)]
pub struct SourceError(Box<dyn std::error::Error + Send + Sync>);

impl SourceError {
    /// Wraps an error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SourceError(e.into())
    }

    /// The wrapped error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A stream of events.
pub trait EventSource {
    /// The next event, in timestamp order. Live sources block for a short
    /// while when there is nothing, then return [`Next::Idle`].
    fn next_event(&mut self) -> Result<Next<'_>, SourceError>;

    /// Counters so far.
    fn stats(&self) -> SourceStats;

    /// Asks the source to read events of these types without delivering
    /// them; each delivered event counts those before it
    /// ([`SourceEvent::passed_over`]) and [`SourceStats::events`] counts
    /// them all. Called before the first event. A capture passes them over
    /// on its reading thread; a live source ignores this, its kernel-side
    /// selection of system calls doing that job.
    fn pass_over(&mut self, types: &saker_abi::EventTypeSet) {
        let _ = types;
    }

    /// Like [`EventSource::pass_over`], for exit events of these types
    /// that come right after their own enter event, of the same thread,
    /// delivered just before (`saker_state::State::unneeded_exits_after_enter`).
    fn pass_over_exits_after_enter(&mut self, types: &saker_abi::EventTypeSet) {
        let _ = types;
    }

    /// Changes, while running, the system calls a live source captures
    /// (`None`: all of them), when the rules in force change (a reload).
    /// Returns false if the source cannot (a capture, which has what it
    /// has); the default. An error names the system calls wanted and not
    /// captured (the kernel refused a program); the others are set.
    fn set_syscalls(&mut self, names: Option<&std::collections::BTreeSet<String>>) -> Result<bool, SourceError> {
        let _ = names;
        Ok(false)
    }

    /// Replaces, while running, the kernel's open-family filter (`None`:
    /// send every open), when the rules in force change (a reload).
    /// Returns false if the source has no kernel filters; the default.
    fn set_open_filter(&mut self, filter: Option<&kernel_filter::OpenFilter>) -> Result<bool, SourceError> {
        let _ = filter;
        Ok(false)
    }

    /// A handle that stops the source from another thread or a signal
    /// handler; after it fires, [`EventSource::next_event`] drains what is
    /// already buffered and returns [`Next::End`].
    fn stop_handle(&self) -> StopHandle;

    /// For a source that launched a command (the userspace driver), the
    /// command's exit code once the stream has ended (128 + the signal for a
    /// command killed by a signal), which saker then exits with.
    fn exit_code(&self) -> Option<i32> {
        None
    }
}

/// Stops a source; cheap to clone, safe to use from any thread.
#[derive(Clone, Debug, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the source to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
