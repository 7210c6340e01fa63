//! Reading BPF ring buffers directly from their memory mappings.
//!
//! A BPF ring buffer maps as a consumer page (read-write: `consumer_pos`),
//! then a producer page (`producer_pos`) followed by the data area mapped
//! twice, read-only, so a record never wraps in our view. Each record starts
//! with an 8-byte header: `u32 len` (bit 31 busy, bit 30 discarded) and
//! `u32 pg_off`; records are 8-byte aligned.

use saker_driver::EventRing;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::Error;

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HDR_SZ: u64 = 8;
/// Consumed bytes after which the consumer position is published even if
/// the ring is not drained, so producers see the space.
const PUBLISH_EVERY: u64 = 256 * 1024;

pub(crate) struct Ring {
    consumer: *mut u8,
    producer: *mut u8,
    data: *const u8,
    page: usize,
    size: usize,
    mask: u64,
    /// Our consumer position (may be ahead of the published one).
    cons: u64,
    /// The consumer position producers see.
    published: u64,
    /// Last producer position read.
    prod: u64,
}

// SAFETY: the mappings belong to the ring and are only touched through &mut self.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps the ring buffer behind `fd` (of `size` data bytes).
    pub(crate) fn map(fd: BorrowedFd<'_>, size: usize) -> Result<Ring, Error> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: mapping a BPF ring buffer fd as the kernel documents; the
        // results are checked.
        unsafe {
            let consumer = libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            );
            if consumer == libc::MAP_FAILED {
                return Err(Error::io("mmap of a ring buffer's consumer page", std::io::Error::last_os_error()));
            }
            let producer = libc::mmap(
                std::ptr::null_mut(),
                page + 2 * size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                page as libc::off_t,
            );
            if producer == libc::MAP_FAILED {
                let e = std::io::Error::last_os_error();
                libc::munmap(consumer, page);
                return Err(Error::io("mmap of a ring buffer's data", e));
            }
            let cons = (*(consumer as *const AtomicU64)).load(Ordering::Acquire);
            Ok(Ring {
                consumer: consumer as *mut u8,
                producer: producer as *mut u8,
                data: (producer as *const u8).add(page),
                page,
                size,
                mask: size as u64 - 1,
                cons,
                published: cons,
                prod: cons,
            })
        }
    }

    #[inline]
    fn load_producer(&mut self) -> u64 {
        // SAFETY: the producer page is mapped for the ring's lifetime.
        self.prod = unsafe { (*(self.producer as *const AtomicU64)).load(Ordering::Acquire) };
        self.prod
    }

    /// Unread bytes.
    pub(crate) fn pending(&mut self) -> u64 {
        self.load_producer().saturating_sub(self.cons)
    }
}

/// The ring as the timestamp merge reads it ([`saker_driver::RingMerge`]).
impl EventRing for Ring {
    type At = usize;

    /// The oldest unread record, as (offset into the double mapping, length),
    /// skipping discarded records. `None` if the ring is empty or its head is
    /// still being written.
    #[inline]
    fn peek(&mut self) -> Option<(Self::At, usize)> {
        loop {
            if self.cons >= self.prod && self.cons >= self.load_producer() {
                return None;
            }
            let off = (self.cons & self.mask) as usize;
            // SAFETY: off < size; the header is inside the data mapping.
            let hdr = unsafe { (*(self.data.add(off) as *const AtomicU32)).load(Ordering::Acquire) };
            if hdr & BUSY_BIT != 0 {
                return None;
            }
            let len = (hdr & !(BUSY_BIT | DISCARD_BIT)) as u64;
            if hdr & DISCARD_BIT != 0 {
                self.cons += (len + HDR_SZ + 7) & !7;
                continue;
            }
            return Some((off + HDR_SZ as usize, len as usize));
        }
    }

    /// The bytes of a record returned by [`Ring::peek`].
    #[inline]
    fn bytes(&self, off: usize, len: usize) -> &[u8] {
        debug_assert!(off + len <= 2 * self.size);
        // SAFETY: the data area is mapped twice, so off + len <= 2 * size is
        // readable; the record stays valid until we move past it.
        unsafe { std::slice::from_raw_parts(self.data.add(off), len) }
    }

    /// Moves past the head record of `len` bytes.
    #[inline]
    fn consume(&mut self, len: usize) {
        self.cons += (len as u64 + HDR_SZ + 7) & !7;
        if self.cons - self.published >= PUBLISH_EVERY {
            self.publish();
        }
    }

    /// Lets producers reuse what was read.
    #[inline]
    fn publish(&mut self) {
        if self.published != self.cons {
            // SAFETY: the consumer page is mapped read-write for the ring's lifetime.
            unsafe { (*(self.consumer as *const AtomicU64)).store(self.cons, Ordering::Release) };
            self.published = self.cons;
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.publish();
        // SAFETY: unmapping what map() mapped.
        unsafe {
            libc::munmap(self.consumer as *mut libc::c_void, self.page);
            libc::munmap(self.producer as *mut libc::c_void, self.page + 2 * self.size);
        }
    }
}
