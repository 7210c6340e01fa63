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
    /// else took that job ([`Input::take_keeper`]).
    keeper: Option<PageKeeper>,
}

/// Keeps the resident pages of a memory-mapped capture near the reader: it
/// gives back the pages behind it, so that resident memory stays small
/// however large the file (the pages stay in the page cache), and can fault
/// in the pages ahead of it from another thread that has nothing else to do.
/// The reader does the first itself, unless the job is handed to the thread
/// that finishes with the events ([`crate::Reader::take_page_keeper`]).
pub struct PageKeeper {
    map: Arc<Mmap>,
    /// Pages below this offset were given back.
    released: usize,
    /// Pages below this offset were faulted in.
    faulted: usize,
}

/// A memory-mapped capture gives back the pages it has read every this many
/// bytes, so the reader's resident memory stays about this size however
/// large the file (the pages stay in the page cache).
const RELEASE_EVERY: usize = 8 << 20;
/// The pages faults work on.
const PAGE: usize = 4096;
/// Pages are given back in whole huge pages, so that a map of 2 MiB page
/// cache folios is never split (see the `HugePage` advice at the map).
const HUGE_PAGE: usize = 2 << 20;
/// How far ahead of the reader [`PageKeeper::fault_in_ahead`] goes.
const FAULT_AHEAD: usize = 8 << 20;
/// How much one call of [`PageKeeper::fault_in_ahead`] faults in.
const FAULT_STEP: usize = 512 << 10;

impl PageKeeper {
    /// Gives back the pages wholly before file offset `offset` (down to a
    /// huge page boundary), in steps of at least `RELEASE_EVERY / 2` bytes
    /// (one `madvise` per step).
    /// Touching them again later is safe: they fault back in from the file.
    pub fn release_before(&mut self, offset: u64) {
        let upto = (offset as usize).min(self.map.len()) / HUGE_PAGE * HUGE_PAGE;
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

    /// Faults in the next few hundred KiB of pages after file offset
    /// `reader_at` (where the reader is, or has passed), up to 8 MiB
    /// ahead of it, so that the reader finds them mapped. Returns whether
    /// there was any to fault in: a thread waiting for the reader calls it
    /// until then, checking between calls whether the wait is over.
    pub fn fault_in_ahead(&mut self, reader_at: u64) -> bool {
        let from = self.faulted.max(reader_at as usize);
        let upto = (from + FAULT_STEP).min(reader_at as usize + FAULT_AHEAD).min(self.map.len());
        if from >= upto {
            return false;
        }
        // One read per page: the kernel maps its neighbours with it.
        let mut sum = 0u8;
        for at in (from..upto).step_by(PAGE) {
            sum ^= self.map[at];
        }
        std::hint::black_box(sum);
        self.faulted = upto;
        true
    }
}

impl Input {
    pub(crate) fn from_mem(mem: Mem) -> Input {
        let end = mem.bytes().len();
        let keeper = match &mem {
            Mem::Map(map) => Some(PageKeeper { map: map.clone(), released: 0, faulted: 0 }),
            Mem::Vec(_) => None,
        };
        Input { mem: Some(mem), stream: None, buf: Vec::new(), pos: 0, end, base: 0, eof: true, chunk: 0, keeper }
    }

    /// Hands the job of giving a memory map's pages back to the caller.
    pub(crate) fn take_keeper(&mut self) -> Option<PageKeeper> {
        self.keeper.take()
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
            keeper: None,
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
        if let Some(r) = &mut self.keeper
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40 MiB file whose byte at offset `i` is `i / 4096 % 251`.
    fn mapped_file() -> (std::path::PathBuf, Arc<Mmap>) {
        let path = std::env::temp_dir().join(format!("saker-scap-keeper-{}", std::process::id()));
        let data: Vec<u8> = (0..40usize << 20).map(|i| (i / 4096 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a private read-only map of a file nobody else writes.
        let map = unsafe { Mmap::map(&file) }.unwrap();
        (path, Arc::new(map))
    }

    #[test]
    fn the_keeper_faults_in_ahead_of_the_reader_and_gives_back_behind() {
        let (path, map) = mapped_file();
        let mut k = PageKeeper { map: map.clone(), released: 0, faulted: 0 };
        // Ahead of a reader at 1 MiB: step by step, up to 8 MiB ahead.
        let mut steps = 0;
        while k.fault_in_ahead(1 << 20) {
            steps += 1;
        }
        assert_eq!(k.faulted, (1 << 20) + FAULT_AHEAD);
        assert_eq!(steps, FAULT_AHEAD / FAULT_STEP);
        // The reader moved on: more to fault in, never past the end.
        assert!(k.fault_in_ahead(36 << 20));
        while k.fault_in_ahead(36 << 20) {}
        assert_eq!(k.faulted, map.len());
        // Giving back goes in steps of half RELEASE_EVERY...
        k.release_before(RELEASE_EVERY as u64 / 2 - 4096);
        assert_eq!(k.released, 0);
        k.release_before(RELEASE_EVERY as u64 / 2 + 100);
        assert_eq!(k.released, RELEASE_EVERY / 2);
        // ...up to a huge page boundary...
        k.release_before((3 * RELEASE_EVERY / 2 + HUGE_PAGE / 2) as u64);
        assert_eq!(k.released, 3 * RELEASE_EVERY / 2);
        // ...and what was given back reads the same.
        assert!((0..RELEASE_EVERY / 2).step_by(4096).all(|i| map[i] == (i / 4096 % 251) as u8));
        let _ = std::fs::remove_file(path);
    }
}
