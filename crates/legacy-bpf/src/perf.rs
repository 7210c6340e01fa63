//! One CPU's perf buffer: a `PERF_COUNT_SW_BPF_OUTPUT` event opened on the
//! CPU, its ring mmapped (a control page, then 2^n data pages). The probe's
//! `bpf_perf_event_output` writes `PERF_RECORD_SAMPLE` records whose raw
//! data is one saker event; the kernel writes `PERF_RECORD_LOST` when the
//! ring was full. A wakeup watermark (never one wakeup per event) wakes a
//! consumer sleeping in poll().

use saker_driver::EventRing;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `perf_event_attr.watermark`: wake at `wakeup_watermark` bytes.
const ATTR_WATERMARK: u64 = 1 << 14;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
/// Offsets of `data_head` / `data_tail` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
/// Consumed bytes after which the tail is published though the ring is not drained.
const PUBLISH_EVERY: u64 = 256 * 1024;

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER5` (112 bytes: every
/// kernel since 4.1 accepts it).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_watermark: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved2: u16,
}

pub(crate) struct PerfRing {
    fd: OwnedFd,
    base: *mut u8,
    page: usize,
    size: u64,
    /// Our position (may be ahead of the published tail).
    cons: u64,
    published: u64,
    /// Last head read.
    prod: u64,
    /// A record that wrapped around the end, copied here.
    wrap: Vec<u8>,
    /// Samples the kernel reported lost (PERF_RECORD_LOST).
    pub(crate) lost: u64,
}

// SAFETY: the mapping belongs to the ring and is only touched through &mut self.
unsafe impl Send for PerfRing {}

/// Where the head record's event is.
#[derive(Clone, Copy)]
pub(crate) enum At {
    /// In the mapping, at this offset.
    Map(usize),
    /// In the ring's wrap buffer.
    Wrap,
}

impl PerfRing {
    /// Opens the BPF output event of `cpu` with a `size`-byte ring (a power
    /// of two, at least a page) that wakes poll() at `watermark` bytes.
    pub(crate) fn open(cpu: u32, size: usize, watermark: u32) -> Result<PerfRing, Error> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let attr = PerfEventAttr {
            type_: PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: PERF_COUNT_SW_BPF_OUTPUT,
            sample_period: 1,
            sample_type: PERF_SAMPLE_RAW,
            flags: ATTR_WATERMARK,
            wakeup_watermark: watermark,
            ..Default::default()
        };
        // SAFETY: perf_event_open with a valid attr; pid -1 + cpu: every task on that CPU.
        let raw = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                -1,
                cpu as i32,
                -1,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(Error(format!(
                "perf_event_open (BPF output) on CPU {cpu}: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: a descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let len = page + size;
        // SAFETY: mapping the event's ring as perf_event_open(2) documents; checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error(format!(
                "mmap of {size} bytes of perf buffer on CPU {cpu}: {}",
                std::io::Error::last_os_error()
            )));
        }
        let mut r = PerfRing {
            fd,
            base: base as *mut u8,
            page,
            size: size as u64,
            cons: 0,
            published: 0,
            prod: 0,
            wrap: Vec::new(),
            lost: 0,
        };
        r.cons = r.word(DATA_TAIL).load(Ordering::Acquire);
        r.published = r.cons;
        r.prod = r.cons;
        Ok(r)
    }

    pub(crate) fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: the control page is mapped for the ring's lifetime; 8-byte aligned offsets.
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        let off = (pos & (self.size - 1)) as usize;
        let first = dst.len().min(self.size as usize - off);
        // SAFETY: both pieces are inside the data area.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(self.page + off), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(self.base.add(self.page), dst.as_mut_ptr().add(first), dst.len() - first);
        }
    }

    pub(crate) fn pending(&self) -> u64 {
        self.word(DATA_HEAD).load(Ordering::Acquire).saturating_sub(self.cons)
    }
}

/// The ring as the timestamp merge reads it ([`saker_driver::RingMerge`]).
impl EventRing for PerfRing {
    type At = At;

    /// The oldest unread event: where it is and its length. Lost records
    /// are counted and skipped.
    fn peek(&mut self) -> Option<(At, usize)> {
        loop {
            if self.cons >= self.prod {
                self.prod = self.word(DATA_HEAD).load(Ordering::Acquire);
                if self.cons >= self.prod {
                    return None;
                }
            }
            let mut hdr = [0u8; 12];
            self.copy_out(self.cons, &mut hdr);
            let ty = u32::from_le_bytes(hdr[0..4].try_into().unwrap());
            let size = u16::from_le_bytes(hdr[6..8].try_into().unwrap()) as u64;
            if size < 8 || size > self.prod - self.cons {
                // not a record: skip what the kernel wrote
                self.cons = self.prod;
                return None;
            }
            match ty {
                PERF_RECORD_SAMPLE if size >= 12 => {
                    let raw = u32::from_le_bytes(hdr[8..12].try_into().unwrap()) as u64;
                    let ev_at = self.cons + 12;
                    let mut lenb = [0u8; 4];
                    if raw >= 26 && raw <= size - 12 {
                        self.copy_out(ev_at + 16, &mut lenb);
                        let len = u32::from_le_bytes(lenb) as u64;
                        if (26..=raw).contains(&len) {
                            let off = (ev_at & (self.size - 1)) as usize;
                            if off as u64 + len <= self.size {
                                return Some((At::Map(self.page + off), len as usize));
                            }
                            self.wrap.resize(len as usize, 0);
                            let mut w = std::mem::take(&mut self.wrap);
                            self.copy_out(ev_at, &mut w);
                            self.wrap = w;
                            return Some((At::Wrap, len as usize));
                        }
                    }
                    self.cons += size;
                }
                PERF_RECORD_LOST => {
                    let mut rec = [0u8; 24];
                    if size >= 24 {
                        self.copy_out(self.cons, &mut rec);
                        self.lost += u64::from_le_bytes(rec[16..24].try_into().unwrap());
                    }
                    self.cons += size;
                }
                _ => self.cons += size,
            }
        }
    }

    fn bytes(&self, at: At, len: usize) -> &[u8] {
        match at {
            // SAFETY: peek checked the event is inside the data area.
            At::Map(off) => unsafe { std::slice::from_raw_parts(self.base.add(off), len) },
            At::Wrap => &self.wrap[..len],
        }
    }

    /// Moves past the head record.
    fn consume(&mut self, _len: usize) {
        let mut hdr = [0u8; 8];
        self.copy_out(self.cons, &mut hdr);
        let size = u16::from_le_bytes(hdr[6..8].try_into().unwrap()) as u64;
        self.cons += size.max(8);
        if self.cons - self.published >= PUBLISH_EVERY {
            self.publish();
        }
    }

    fn publish(&mut self) {
        if self.published != self.cons {
            self.word(DATA_TAIL).store(self.cons, Ordering::Release);
            self.published = self.cons;
        }
    }
}

impl Drop for PerfRing {
    fn drop(&mut self) {
        // SAFETY: unmapping what open() mapped.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.page + self.size as usize) };
    }
}
