//! One CPU's ring of the module, read through its mmap: a page of positions
//! and counters (`struct saker_ring_info`), then the data mapped twice so
//! that an event never wraps in our view. Events are saker_events.h events,
//! each taking its header's length rounded up to 8 bytes.

use saker_driver::EventRing;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;
use crate::abi::{RING_INFO_SIZE, RingInfo};

/// Consumed bytes after which the tail is published even if the ring is not
/// drained, so the module sees the room.
const PUBLISH_EVERY: u64 = 256 * 1024;
const HEADER_LEN: u64 = 26;

pub(crate) struct Ring {
    base: *mut u8,
    span: usize,
    size: u64,
    /// Our position (may be ahead of the published tail).
    cons: u64,
    published: u64,
    /// Last head read.
    prod: u64,
}

// SAFETY: the mapping belongs to the ring and is only touched through &mut self.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps the ring of CPU `cpu` (`span` bytes at `cpu * span`).
    pub(crate) fn map(fd: BorrowedFd<'_>, cpu: u32, span: u64, size: u64) -> Result<Ring, Error> {
        // SAFETY: mapping the device as saker_kmod.h documents; checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                (cpu as u64 * span) as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::io(&format!("mmap of the ring of CPU {cpu}"), std::io::Error::last_os_error()));
        }
        let mut ring = Ring { base: base as *mut u8, span: span as usize, size, cons: 0, published: 0, prod: 0 };
        ring.cons = ring.word(1).load(Ordering::Acquire);
        ring.published = ring.cons;
        ring.prod = ring.cons;
        Ok(ring)
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: the info page is mapped for the ring's lifetime and 8-byte aligned.
        unsafe { &*(self.base.add(i * 8) as *const AtomicU64) }
    }

    pub(crate) fn pending(&mut self) -> u64 {
        self.word(0).load(Ordering::Acquire).saturating_sub(self.cons)
    }

    /// The counters of the info page.
    pub(crate) fn info(&self) -> RingInfo {
        let w = |i: usize| self.word(i).load(Ordering::Relaxed);
        RingInfo {
            head: w(0),
            tail: w(1),
            n_evts: w(2),
            n_drops_buffer: [w(3), w(4), w(5), w(6), w(7), w(8)],
            n_drops_max_event_size: w(9),
            n_drops_other: w(10),
            ring_bytes: w(11),
        }
    }
}

/// The ring as the timestamp merge reads it ([`saker_driver::RingMerge`]).
impl EventRing for Ring {
    type At = usize;

    /// The oldest unread event as (offset into the double mapping, length).
    #[inline]
    fn peek(&mut self) -> Option<(Self::At, usize)> {
        if self.cons >= self.prod {
            self.prod = self.word(0).load(Ordering::Acquire);
            if self.cons >= self.prod {
                return None;
            }
        }
        let off = (self.cons & (self.size - 1)) as usize;
        let at = RING_INFO_SIZE + off;
        // SAFETY: the header is inside the double mapping (off < size).
        let len = unsafe { std::ptr::read_unaligned(self.base.add(at + 16) as *const u32) } as u64;
        if len < HEADER_LEN || len > self.prod - self.cons {
            // not an event: the ring is damaged; skip what the module wrote
            self.cons = self.prod;
            return None;
        }
        Some((at, len as usize))
    }

    #[inline]
    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        debug_assert!(at + len <= self.span);
        // SAFETY: at + len is inside the mapping (the data is mapped twice).
        unsafe { std::slice::from_raw_parts(self.base.add(at), len) }
    }

    /// Moves past the head event of `len` bytes.
    #[inline]
    fn consume(&mut self, len: usize) {
        self.cons += (len as u64 + 7) & !7;
        if self.cons - self.published >= PUBLISH_EVERY {
            self.publish();
        }
    }

    #[inline]
    fn publish(&mut self) {
        if self.published != self.cons {
            self.word(1).store(self.cons, Ordering::Release);
            self.published = self.cons;
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.publish();
        // SAFETY: unmapping what map() mapped.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.span) };
    }
}
