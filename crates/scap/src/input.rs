//! Where the reader's bytes come from: a memory map or an in-memory file (the
//! whole capture addressable at once), or a stream (gzip, pipes) read through a
//! growable buffer.

use std::io::{self, Read};
use std::sync::Arc;

use memmap2::Mmap;

pub(crate) enum Mem {
    Map(Arc<Mmap>),
    Vec(Vec<u8>),
}

impl Mem {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Mem::Map(m) => &m[..],
            Mem::Vec(v) => v,
        }
    }
}

/// A window over the capture. `data()[pos..end]` are the bytes not yet
/// consumed; `base` is the stream offset of `data()[0]`.
pub(crate) struct Input {
    mem: Option<Mem>,
    stream: Option<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    pub(crate) pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    chunk: usize,
    /// Gives a memory map's pages back behind the reader, unless someone
    /// else took that job ([`Input::take_releaser`]).
    releaser: Option<PageReleaser>,
}

/// Gives the pages of a memory-mapped capture back to the kernel once they
/// have been read, so that resident memory stays small however large the
/// file (the pages stay in the page cache). The reader does it itself,
/// unless the job is handed to the thread that finishes with the events
/// ([`crate::Reader::take_page_releaser`]).
pub struct PageReleaser {
    map: Arc<Mmap>,
    /// Pages below this offset were given back.
    released: usize,
}

impl PageReleaser {
    /// Gives back the pages wholly before file offset `offset`, in steps
    /// of at least `RELEASE_EVERY / 2` bytes (one `madvise` per step).
    /// Touching them again later is safe: they fault back in from the file.
    pub fn release_before(&mut self, offset: u64) {
        const PAGE: usize = 4096;
        let upto = (offset as usize).min(self.map.len()) / PAGE * PAGE;
        if upto >= self.released + RELEASE_EVERY / 2 {
            // SAFETY: the map is a read-only mapping of a file: after
            // MADV_DONTNEED a later access faults the same bytes back in from
            // the file, so nothing that still points there sees a change.
            let _ = unsafe {
                self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, self.released, upto - self.released)
            };
            self.released = upto;
        }
    }
}

/// A memory-mapped capture gives back the pages it has read every this many
/// bytes, so the reader's resident memory stays about this size however
/// large the file (the pages stay in the page cache).
const RELEASE_EVERY: usize = 32 << 20;

impl Input {
    pub(crate) fn from_mem(mem: Mem) -> Input {
        let end = mem.bytes().len();
        let releaser = match &mem {
            Mem::Map(map) => Some(PageReleaser { map: map.clone(), released: 0 }),
            Mem::Vec(_) => None,
        };
        Input { mem: Some(mem), stream: None, buf: Vec::new(), pos: 0, end, base: 0, eof: true, chunk: 0, releaser }
    }

    /// Hands the job of giving a memory map's pages back to the caller.
    pub(crate) fn take_releaser(&mut self) -> Option<PageReleaser> {
        self.releaser.take()
    }

    pub(crate) fn from_stream(stream: Box<dyn Read + Send>, chunk: usize) -> Input {
        let chunk = chunk.max(64 * 1024);
        Input {
            mem: None,
            stream: Some(stream),
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            chunk,
            releaser: None,
        }
    }

    /// All bytes currently addressable (absolute indices; see `pos`).
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        match &self.mem {
            Some(m) => m.bytes(),
            None => &self.buf[..self.end],
        }
    }

    /// The bytes not yet consumed.
    #[inline]
    pub(crate) fn rest(&self) -> &[u8] {
        &self.data()[self.pos..]
    }

    #[inline]
    pub(crate) fn avail(&self) -> usize {
        self.end - self.pos
    }

    /// Stream offset of the next unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.avail());
        self.pos += n;
        if let Some(r) = &mut self.releaser
            && self.pos - r.released >= RELEASE_EVERY
        {
            // The last RELEASE_EVERY / 2 bytes stay: an event lent out lies there.
            r.release_before((self.pos - RELEASE_EVERY / 2) as u64);
        }
    }

    /// Makes at least `n` unconsumed bytes available. Returns `Ok(false)` if
    /// the data ends first (then `avail()` tells how many there are). Memory
    /// grows with the data actually read, never with `n` alone.
    #[inline]
    pub(crate) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        if self.avail() >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.fill(n)
    }

    #[cold]
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        // Move the unconsumed bytes to the front.
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        let Some(stream) = self.stream.as_mut() else { return Ok(false) };
        while self.end < n {
            if self.end == self.buf.len() {
                // Grow by at least a chunk, at most doubling, up to what is needed
                // plus one chunk of read-ahead.
                let want = (n + self.chunk).max(self.chunk);
                let grown = (self.buf.len() * 2).max(self.chunk).min(want).max(self.end + 1);
                self.buf.resize(grown, 0);
            }
            match stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
