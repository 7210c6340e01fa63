//! The capture reader.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;
use saker_abi::{Event, EventType, EventTypeSet, HEADER_LEN};

use crate::batch::EventBatch;
use crate::error::{Error, ErrorKind, path_arc};
use crate::format::{MAX_EVENT_BLOCK_BODY, SHB_MAGIC, SHB_MAGIC_SWAPPED, block};
use crate::header::{
    CaptureHeader, FdList, GroupInfo, InterfaceInfo, MachineInfo, ProcessInfo, SectionHeader, UserInfo,
};
use crate::input::{Input, Mem, PageKeeper};
use crate::parse::{self, Parsed};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Size of a v1 event header (no `nparams`).
const V1_HEADER_LEN: usize = 22;

/// One event as read from a capture, borrowed from the reader's buffer until
/// the next call to [`Reader::next_event`] / [`Reader::next_item`], or from
/// an [`EventBatch`].
#[derive(Clone, Copy, Debug)]
pub struct EventRecord<'a> {
    /// The CPU that produced the event.
    pub cpu: u16,
    /// Dump flags of flagged event blocks (`EVF*`, libs' `SCAP_DF_*`), `None`
    /// for plain event blocks.
    pub dump_flags: Option<u32>,
    /// Stream offset of the event's block (in the decompressed stream for gzip files).
    pub offset: u64,
    /// The event, always in the v2 layout (v1 blocks are converted).
    pub event: Event<'a>,
    /// Events of the types given to [`Reader::pass_over`] read right
    /// before this one.
    pub passed_over: u64,
}

/// A metadata block met after the first event block (or, through
/// [`Reader::next_item`], any block that is not an event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Metadata {
    /// A new section header: a new capture concatenated to the previous one.
    Section(SectionHeader),
    /// Machine info.
    Machine(MachineInfo),
    /// Interface list.
    Interfaces(Vec<InterfaceInfo>),
    /// User and group list.
    Users {
        /// Users.
        users: Vec<UserInfo>,
        /// Groups.
        groups: Vec<GroupInfo>,
    },
    /// Process list (without fds: those come in [`Metadata::Fds`] blocks).
    Processes(Vec<ProcessInfo>),
    /// The fd list of one thread.
    Fds(FdList),
    /// A block of a type this reader does not know; it was skipped.
    Unknown,
}

/// A non-event block with its place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataBlock {
    /// The block type code.
    pub block_type: u32,
    /// Stream offset of the block.
    pub offset: u64,
    /// What it holds.
    pub data: Metadata,
}

/// What [`Reader::next_item`] returns.
#[derive(Debug)]
pub enum Item<'a> {
    /// An event.
    Event(EventRecord<'a>),
    /// A metadata block after the first event block. It is not merged into
    /// [`Reader::header`] (unlike with [`Reader::next_event`]).
    Metadata(MetadataBlock),
}

/// Counters of what a reader has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Events returned (or about to be), including malformed ones.
    pub events: u64,
    /// Events read from v1 blocks and converted to the v2 layout.
    pub converted_v1_events: u64,
    /// Blocks of unknown type skipped (in the header section and after it).
    pub unknown_blocks: u64,
    /// Metadata blocks met after the first event block.
    pub late_metadata_blocks: u64,
    /// Events read, checked and not returned, being of a type given to
    /// [`Reader::pass_over`].
    pub passed_over: u64,
}

/// Options of [`Reader::open_with`].
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Memory-map uncompressed regular files (default). The map is read-only;
    /// if another process truncates the file while it is mapped, the reader
    /// gets SIGBUS, so disable this for files that may shrink.
    pub mmap: bool,
    /// Read size for streams (gzip, pipes, or files when `mmap` is off).
    pub buffer_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { mmap: true, buffer_size: 4 << 20 }
    }
}

/// Where the next event's bytes are.
#[derive(Clone, Copy)]
enum Src {
    /// `input.data()[start..end]`.
    Input(usize, usize),
    /// The conversion buffer.
    Conv,
}

#[derive(Clone, Copy)]
struct Loc {
    cpu: u16,
    flags: Option<u32>,
    offset: u64,
    src: Src,
}

enum Step {
    End,
    Event(Loc),
    Meta(Box<MetadataBlock>),
}

/// Reads a capture file: the header section at open, then events one by one.
///
/// ```no_run
/// # fn main() -> Result<(), saker_scap::Error> {
/// let mut r = saker_scap::Reader::open("trace.scap")?;
/// println!("{} threads", r.header().processes.len());
/// while let Some(rec) = r.next_event()? {
///     println!("{} {:?} on cpu {}", rec.event.ts(), rec.event.event_type(), rec.cpu);
/// }
/// # Ok(()) }
/// ```
///
/// Events are lent from an internal buffer (a memory map of the file when it
/// is uncompressed), so reading allocates nothing per event.
///
/// After an error about the framing (truncation, bad block length, trailer
/// mismatch, I/O or gzip error) the reader stays at the damaged block and
/// returns the error again; after a malformed event or metadata block it can
/// go on with the next block.
pub struct Reader {
    input: Input,
    header: CaptureHeader,
    path: Option<Arc<Path>>,
    gzip: bool,
    conv: Vec<u8>,
    stats: ReadStats,
    /// Event types read and checked but not returned (`None`: no type).
    pass: Option<EventTypeSet>,
    /// Exit event types passed over when they come right after their own
    /// enter event, of the same thread, returned just before them.
    exits_after_enter: Option<EventTypeSet>,
    /// The thread and type of the event before the next one, when it was
    /// returned (else `NO_PREVIOUS`).
    previous: (u64, u16),
    /// Events passed over since the last event returned.
    passed: u64,
}

/// [`Reader::previous`] when the event before was passed over, or was no event.
const NO_PREVIOUS: (u64, u16) = (u64::MAX, u16::MAX);

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .field("gzip", &self.gzip)
            .field("offset", &self.input.offset())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Opens a capture file (gzip or not) and reads its header section.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_with(path, ReadOptions::default())
    }

    /// [`Reader::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Reader, Error> {
        let path = path_arc(path.as_ref());
        let ctx = |e: io::Error| Error::new(ErrorKind::Io(e), 0).with_context(Some(&path), false);
        let mut file = File::open(&path).map_err(ctx)?;
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut file, &mut magic).map_err(ctx)?;
        let is_file = file.metadata().map_err(ctx)?.is_file();
        let prefix = Cursor::new(magic[..n].to_vec());
        let (input, gzip) = if n == 2 && magic == GZIP_MAGIC {
            let inner = BufReader::with_capacity(1 << 20, prefix.chain(file));
            (Input::from_stream(Box::new(MultiGzDecoder::new(inner)), opts.buffer_size), true)
        } else if opts.mmap && is_file {
            // SAFETY: the map is read-only and private to this reader; the
            // documented risk (SIGBUS if another process truncates the file) is
            // the caller's choice through `ReadOptions::mmap`.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(ctx)?;
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            // Where transparent huge pages are allowed for a map (`madvise`
            // or `always`), a file read through it from disk lands in the
            // page cache as 2 MiB folios, and cached ones are mapped 2 MiB
            // at a time: a page fault, and a release, per 2 MiB instead of
            // per few pages. Without it the cold reading of a map leaves
            // the file in 4 KiB pages, and every later replay pays for them.
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            (Input::from_mem(Mem::Map(std::sync::Arc::new(map))), false)
        } else {
            (Input::from_stream(Box::new(prefix.chain(file)), opts.buffer_size), false)
        };
        Reader::init(input, Some(path), gzip)
    }

    /// Reads a capture held in memory (gzip or not).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Reader, Error> {
        if bytes.starts_with(&GZIP_MAGIC) {
            let dec = MultiGzDecoder::new(Cursor::new(bytes));
            Reader::init(Input::from_stream(Box::new(dec), 4 << 20), None, true)
        } else {
            Reader::init(Input::from_mem(Mem::Vec(bytes)), None, false)
        }
    }

    /// Reads a capture from any byte stream (gzip or not), e.g. standard input.
    pub fn from_read<R: Read + Send + 'static>(mut r: R) -> Result<Reader, Error> {
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut r, &mut magic).map_err(|e| Error::new(ErrorKind::Io(e), 0))?;
        let chained = Cursor::new(magic[..n].to_vec()).chain(r);
        if n == 2 && magic == GZIP_MAGIC {
            let dec = MultiGzDecoder::new(BufReader::with_capacity(1 << 20, chained));
            Reader::init(Input::from_stream(Box::new(dec), 4 << 20), None, true)
        } else {
            Reader::init(Input::from_stream(Box::new(chained), 4 << 20), None, false)
        }
    }

    fn init(input: Input, path: Option<Arc<Path>>, gzip: bool) -> Result<Reader, Error> {
        let mut r = Reader {
            input,
            header: CaptureHeader::default(),
            path,
            gzip,
            conv: Vec::new(),
            stats: ReadStats::default(),
            pass: None,
            exits_after_enter: None,
            previous: NO_PREVIOUS,
            passed: 0,
        };
        r.read_header().map_err(|e| r.ctx(e))?;
        Ok(r)
    }

    fn ctx(&self, e: Error) -> Error {
        e.with_context(self.path.as_ref(), self.gzip)
    }

    /// The header section: everything before the first event block, updated
    /// by metadata blocks [`Reader::next_event`] meets later.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// Takes the header out of the reader (leaving an empty one).
    pub fn take_header(&mut self) -> CaptureHeader {
        std::mem::take(&mut self.header)
    }

    /// The file path, when opened on one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the capture is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Stream offset of the next block.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// Counters.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Events of these types are read and checked (a malformed one is an
    /// error as always) but not returned: each returned event counts those
    /// before it ([`EventRecord::passed_over`]), and
    /// [`Reader::passed_over_pending`] those after the last one.
    pub fn pass_over(&mut self, types: EventTypeSet) {
        self.pass = (!types.is_empty()).then_some(types);
    }

    /// Exit events of these types are passed over as [`Reader::pass_over`]
    /// does, but only when they come right after their own enter event,
    /// of the same thread, which was returned (not passed over): for a
    /// reader whose state gets nothing from such an exit once it has the
    /// enter (`saker_state::State::unneeded_exits_after_enter`).
    pub fn pass_over_exits_after_enter(&mut self, types: EventTypeSet) {
        self.exits_after_enter = (!types.is_empty()).then_some(types);
    }

    /// Whether `ev`, the next event, is passed over; keeps
    /// [`Reader::previous`] for the one after.
    #[inline]
    fn pass_next(&self, ev: &Event<'_>, previous: &mut (u64, u16)) -> bool {
        let ty = ev.event_type();
        let pass = self.pass.as_ref().is_some_and(|p| p.contains(ty))
            || self
                .exits_after_enter
                .as_ref()
                .is_some_and(|x| x.contains(ty) && *previous == (ev.tid(), ty.0.wrapping_sub(1)));
        *previous = if pass { NO_PREVIOUS } else { (ev.tid(), ty.0) };
        pass
    }

    /// For a memory-mapped capture, hands over the keeping of its resident
    /// pages: the reader stops giving read pages back to the kernel, and
    /// whoever finishes with the events (another thread, holding copies of
    /// them) calls [`PageKeeper::release_before`] with [`Reader::offset`]s
    /// the reader has passed, and may fault pages in ahead of it
    /// ([`PageKeeper::fault_in_ahead`]). `None` for other inputs, or the
    /// second time.
    pub fn take_page_keeper(&mut self) -> Option<PageKeeper> {
        self.input.take_keeper()
    }

    /// Events passed over since the last event returned.
    pub fn passed_over_pending(&self) -> u64 {
        self.passed
    }

    /// Whether the event at `loc` is one to pass over: its type is in the
    /// set and it is well formed (a malformed one is returned, as an error).
    #[inline]
    fn passes(&mut self, loc: Loc) -> bool {
        if self.pass.is_none() && self.exits_after_enter.is_none() {
            return false;
        }
        let bytes = match loc.src {
            Src::Input(s, e) => &self.input.data()[s..e],
            Src::Conv => &self.conv[..],
        };
        // The type first (a header check), the parameters only for those
        // to pass over; a malformed event is returned (as an error).
        let Ok(ev) = Event::parse_checked(bytes) else { return false };
        let mut previous = self.previous;
        if !self.pass_next(&ev, &mut previous) || Event::parse(bytes).is_err() {
            return false;
        }
        self.previous = previous;
        self.passed += 1;
        self.stats.passed_over += 1;
        true
    }

    /// The next event, or `None` at the end of the capture. Metadata blocks
    /// met on the way are merged into [`Reader::header`] (counted in
    /// [`ReadStats::late_metadata_blocks`]); unknown blocks are skipped.
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<EventRecord<'_>>, Error> {
        loop {
            match self.advance() {
                Ok(Step::End) => return Ok(None),
                Ok(Step::Event(loc)) if self.passes(loc) => {}
                Ok(Step::Event(loc)) => return self.record(loc).map(Some),
                Ok(Step::Meta(m)) => {
                    self.previous = NO_PREVIOUS;
                    self.merge(*m)
                }
                Err(e) => return Err(self.ctx(e)),
            }
        }
    }

    /// Copies events into `batch` (after those it holds), as
    /// [`Reader::next_event`] would return them (metadata merged, types to
    /// pass over passed over), until the batch holds at least `bytes` bytes,
    /// the reader has gone 8 × `bytes` further in the capture (events passed
    /// over take no room), or the capture ends. Returns whether more events
    /// may follow; on an error, the events before it are in the batch.
    pub fn read_batch(&mut self, batch: &mut EventBatch, bytes: usize) -> Result<bool, Error> {
        let until = self.offset().saturating_add(8 * bytes as u64);
        let more = loop {
            self.read_v2_run(batch, bytes, until);
            if batch.byte_len() >= bytes || self.offset() >= until {
                break true;
            }
            // Anything else: one step of the general path.
            match self.next_event() {
                Ok(Some(rec)) => batch.push(&rec),
                Ok(None) => break false,
                Err(e) => {
                    batch.set_end_offset(self.offset());
                    return Err(e);
                }
            }
        };
        batch.set_end_offset(self.offset());
        Ok(more)
    }

    /// The bulk of [`Reader::read_batch`]: well-formed version-2 event
    /// blocks ([`V2Block`]) in one tight loop, up to stream offset `until`
    /// (so that a memory map's pages are given back behind it in steps:
    /// [`Input::consume`]). Stops before anything else (other blocks,
    /// damaged or incomplete ones, malformed events, the end), which the
    /// general path reads and reports.
    #[inline]
    fn read_v2_run(&mut self, batch: &mut EventBatch, bytes: usize, until: u64) {
        let data = self.input.data();
        let start = self.input.pos;
        let stop = start.saturating_add(until.saturating_sub(self.input.offset()) as usize);
        let (mut pos, mut events, mut passed_now, mut passed) = (start, 0u64, 0u64, self.passed);
        let mut previous = self.previous;
        // Stream offset of data[0].
        let base = self.input.offset() - start as u64;
        while batch.byte_len() < bytes && pos < stop {
            let Some(b) = V2Block::at(&data[pos..]) else { break };
            let Ok(event) = Event::parse(&data[pos + b.head..pos + b.total - 4]) else { break };
            if self.pass_next(&event, &mut previous) {
                passed += 1;
                passed_now += 1;
            } else {
                let (cpu, dump_flags, offset) = (b.cpu, b.flags, base + pos as u64);
                batch.push(&EventRecord { cpu, dump_flags, offset, event, passed_over: passed });
                passed = 0;
            }
            pos += b.total;
            events += 1;
        }
        self.input.consume(pos - start);
        self.stats.events += events;
        self.stats.passed_over += passed_now;
        self.passed = passed;
        self.previous = previous;
    }

    /// The next block: an event or, after the first event block, a metadata
    /// block (returned as is, not merged into the header).
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, Error> {
        loop {
            return match self.advance() {
                Ok(Step::End) => Ok(None),
                Ok(Step::Event(loc)) if self.passes(loc) => continue,
                Ok(Step::Event(loc)) => self.record(loc).map(|r| Some(Item::Event(r))),
                Ok(Step::Meta(m)) => {
                    self.previous = NO_PREVIOUS;
                    Ok(Some(Item::Metadata(*m)))
                }
                Err(e) => Err(self.ctx(e)),
            };
        }
    }

    #[inline]
    fn record(&mut self, loc: Loc) -> Result<EventRecord<'_>, Error> {
        let passed_over = self.passed;
        let bytes = match loc.src {
            Src::Input(s, e) => &self.input.data()[s..e],
            Src::Conv => &self.conv[..],
        };
        match Event::parse(bytes) {
            Ok(event) => {
                self.passed = 0;
                self.previous = (event.tid(), event.event_type().0);
                Ok(EventRecord { cpu: loc.cpu, dump_flags: loc.flags, offset: loc.offset, event, passed_over })
            }
            Err(e) => Err(self.ctx(Error::new(ErrorKind::MalformedEvent(e), loc.offset))),
        }
    }

    /// Makes the next whole block available and checks its framing. Returns
    /// its type and total length, or `None` at a clean end of data.
    #[inline]
    fn frame(&mut self) -> Result<Option<(u32, usize)>, Error> {
        let offset = self.input.offset();
        if !self.input.ensure(8).map_err(|e| self.io_error(e, offset))? {
            let have = self.input.avail();
            if have == 0 {
                return Ok(None);
            }
            return Err(Error::new(ErrorKind::Truncated { needed: 8, available: have as u64 }, offset));
        }
        let d = self.input.rest();
        let bt = u32::from_le_bytes(d[0..4].try_into().expect("4 bytes"));
        let total = u32::from_le_bytes(d[4..8].try_into().expect("4 bytes"));
        let min = min_block_len(bt);
        if (total as usize) < min {
            let reason = if min == 12 { "shorter than 12 bytes" } else { "too short for its block type" };
            return Err(Error::new(ErrorKind::BadBlockLength { block_type: bt, length: total, reason }, offset));
        }
        if matches!(bt, block::EV | block::EV_INT | block::EV_V2 | block::EVF | block::EVF_V2)
            && total - 8 > MAX_EVENT_BLOCK_BODY
        {
            let reason = "an event block that is not a large-payload block cannot exceed 64 KiB";
            return Err(Error::new(ErrorKind::BadBlockLength { block_type: bt, length: total, reason }, offset));
        }
        let total = total as usize;
        if !self.input.ensure(total).map_err(|e| self.io_error(e, offset))? {
            let available = self.input.avail() as u64;
            return Err(Error::new(ErrorKind::Truncated { needed: total as u64, available }, offset));
        }
        let d = self.input.rest();
        let trailer = u32::from_le_bytes(d[total - 4..total].try_into().expect("4 bytes"));
        if trailer as usize != total {
            return Err(Error::new(
                ErrorKind::TrailerMismatch { block_type: bt, header: total as u32, trailer },
                offset,
            ));
        }
        Ok(Some((bt, total)))
    }

    fn io_error(&self, e: io::Error, offset: u64) -> Error {
        let kind = if self.gzip {
            if e.kind() == io::ErrorKind::UnexpectedEof { ErrorKind::TruncatedGzip } else { ErrorKind::Gzip(e) }
        } else {
            ErrorKind::Io(e)
        };
        Error::new(kind, offset)
    }

    fn read_header(&mut self) -> Result<(), Error> {
        // The section header block, checked before trusting its length.
        let have = self.input.ensure(12).map_err(|e| self.io_error(e, 0))?;
        let d = self.input.rest();
        if d.is_empty() {
            return Err(Error::new(ErrorKind::Empty, 0));
        }
        let shb = block::SHB.to_le_bytes();
        let n = d.len().min(4);
        if d[..n] != shb[..n] {
            let reason = if d.len() >= 4 {
                let t = u32::from_le_bytes(d[0..4].try_into().expect("4 bytes"));
                format!("the first block has type {t:#x}, not a section header ({:#x})", block::SHB)
            } else {
                "the file does not start with a section header block".to_string()
            };
            return Err(Error::new(ErrorKind::NotCapture { reason }, 0));
        }
        if have {
            let magic = u32::from_le_bytes(d[8..12].try_into().expect("4 bytes"));
            if magic == SHB_MAGIC_SWAPPED {
                return Err(Error::new(ErrorKind::UnsupportedByteOrder, 0));
            }
            if magic != SHB_MAGIC {
                let reason = format!("bad byte-order magic {magic:#010x} (expected {SHB_MAGIC:#010x})");
                return Err(Error::new(ErrorKind::NotCapture { reason }, 0));
            }
        }
        let (_, total) = self.frame()?.expect("at least one byte is available");
        let section =
            parse::section_header(&self.input.rest()[8..total - 4]).map_err(|e| parse::to_error(e, block::SHB, 8))?;
        self.input.consume(total);
        if section.major > crate::format::MAJOR_VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion { major: section.major, minor: section.minor }, 0));
        }
        self.header.section = section;
        self.header.block_types.push(block::SHB);

        // Metadata blocks up to the first event block.
        let mut fd_lists = Vec::new();
        loop {
            let offset = self.input.offset();
            // Peek the type first: event blocks stay for next_event.
            if !self.input.ensure(4).map_err(|e| self.io_error(e, offset))? {
                if self.input.avail() == 0 {
                    break;
                }
            } else if block::is_event(u32::from_le_bytes(self.input.rest()[..4].try_into().expect("4 bytes"))) {
                break;
            }
            let Some((bt, total)) = self.frame()? else { break };
            let body = &self.input.rest()[8..total - 4];
            let parsed = parse::metadata(bt, body).transpose().map_err(|e| parse::to_error(e, bt, offset + 8))?;
            self.input.consume(total);
            self.header.block_types.push(bt);
            match parsed {
                Some(Parsed::Machine(m)) => self.header.machine = Some(m),
                Some(Parsed::Interfaces(i)) => self.header.interfaces = i,
                Some(Parsed::Users(u, g)) => {
                    self.header.users = u;
                    self.header.groups = g;
                }
                Some(Parsed::Processes(p)) => self.header.processes.extend(p),
                Some(Parsed::Fds(f)) => fd_lists.push(f),
                None => {
                    // Unknown type, or a second section header before any event.
                    self.header.skipped_blocks.push((bt, offset));
                    self.stats.unknown_blocks += 1;
                }
            }
        }
        self.header.attach_fds(fd_lists);
        Ok(())
    }

    /// Reads the next block.
    #[inline]
    fn advance(&mut self) -> Result<Step, Error> {
        if let Some(loc) = self.v2_event_block() {
            return Ok(Step::Event(loc));
        }
        let offset = self.input.offset();
        let Some((bt, total)) = self.frame()? else { return Ok(Step::End) };
        let start = self.input.pos;
        let body_end = start + total - 4;
        let loc = match bt {
            block::EV_V2 | block::EV_V2_LARGE => {
                let d = self.input.rest();
                let cpu = u16::from_le_bytes([d[8], d[9]]);
                Loc { cpu, flags: None, offset, src: Src::Input(start + 10, body_end) }
            }
            block::EVF_V2 | block::EVF_V2_LARGE => {
                let d = self.input.rest();
                let cpu = u16::from_le_bytes([d[8], d[9]]);
                let flags = u32::from_le_bytes(d[10..14].try_into().expect("4 bytes"));
                Loc { cpu, flags: Some(flags), offset, src: Src::Input(start + 14, body_end) }
            }
            block::EV | block::EV_INT | block::EVF => {
                let d = self.input.rest();
                let cpu = u16::from_le_bytes([d[8], d[9]]);
                let (flags, ev_start) = if bt == block::EVF {
                    (Some(u32::from_le_bytes(d[10..14].try_into().expect("4 bytes"))), 14)
                } else {
                    (None, 10)
                };
                convert_v1(&d[ev_start..total - 4], &mut self.conv)
                    .map_err(|reason| Error::new(ErrorKind::MalformedBlock { block_type: bt, reason }, offset))?;
                self.input.consume(total);
                self.stats.events += 1;
                self.stats.converted_v1_events += 1;
                return Ok(Step::Event(Loc { cpu, flags, offset, src: Src::Conv }));
            }
            _ => return self.late_metadata(bt, total, offset),
        };
        self.input.consume(total);
        self.stats.events += 1;
        Ok(Step::Event(loc))
    }

    /// The common case of [`Reader::advance`], in fewer steps: a version-2
    /// event block ([`V2Block`]). `None` leaves anything else (other blocks,
    /// damaged or incomplete ones, the end) to the general path.
    #[inline]
    fn v2_event_block(&mut self) -> Option<Loc> {
        let b = V2Block::at(self.input.rest())?;
        let (offset, start) = (self.input.offset(), self.input.pos);
        self.input.consume(b.total);
        self.stats.events += 1;
        Some(Loc { cpu: b.cpu, flags: b.flags, offset, src: Src::Input(start + b.head, start + b.total - 4) })
    }

    #[cold]
    fn late_metadata(&mut self, bt: u32, total: usize, offset: u64) -> Result<Step, Error> {
        let body = &self.input.rest()[8..total - 4];
        let data = if bt == block::SHB {
            let s = parse::section_header(body).map_err(|e| parse::to_error(e, bt, offset + 8));
            s.map(Metadata::Section)
        } else {
            match parse::metadata(bt, body) {
                Some(Ok(Parsed::Machine(m))) => Ok(Metadata::Machine(m)),
                Some(Ok(Parsed::Interfaces(i))) => Ok(Metadata::Interfaces(i)),
                Some(Ok(Parsed::Users(users, groups))) => Ok(Metadata::Users { users, groups }),
                Some(Ok(Parsed::Processes(p))) => Ok(Metadata::Processes(p)),
                Some(Ok(Parsed::Fds(f))) => Ok(Metadata::Fds(f)),
                Some(Err(e)) => Err(parse::to_error(e, bt, offset + 8)),
                None => Ok(Metadata::Unknown),
            }
        };
        // A malformed metadata block is skipped: the reader can go on.
        self.input.consume(total);
        let data = data?;
        if data == Metadata::Unknown {
            self.stats.unknown_blocks += 1;
        } else {
            self.stats.late_metadata_blocks += 1;
        }
        Ok(Step::Meta(Box::new(MetadataBlock { block_type: bt, offset, data })))
    }

    /// Applies a metadata block met after the events started to the header.
    fn merge(&mut self, m: MetadataBlock) {
        let h = &mut self.header;
        h.block_types.push(m.block_type);
        match m.data {
            Metadata::Section(s) => {
                // A new capture: its metadata follows.
                *h = CaptureHeader { section: s, block_types: vec![block::SHB], ..CaptureHeader::default() };
            }
            Metadata::Machine(mi) => h.machine = Some(mi),
            Metadata::Interfaces(i) => h.interfaces = i,
            Metadata::Users { users, groups } => {
                h.users = users;
                h.groups = groups;
            }
            Metadata::Processes(procs) => {
                for p in procs {
                    match h.processes.iter_mut().find(|q| q.tid == p.tid) {
                        Some(q) => *q = p,
                        None => h.processes.push(p),
                    }
                }
            }
            Metadata::Fds(list) => match h.processes.iter_mut().find(|q| q.tid == list.tid) {
                Some(q) => {
                    for fd in list.fds {
                        match q.fds.iter_mut().find(|f| f.fd == fd.fd) {
                            Some(f) => *f = fd,
                            None => q.fds.push(fd),
                        }
                    }
                }
                None => h.orphan_fds.push(list),
            },
            Metadata::Unknown => h.skipped_blocks.push((m.block_type, m.offset)),
        }
    }
}

/// A version-2 event block (plain or flagged, not large), wholly in the
/// bytes and framed as [`Reader::frame`] requires: the fast path's view of
/// the most common block.
struct V2Block {
    /// The block's length.
    total: usize,
    /// Where the event starts in the block.
    head: usize,
    cpu: u16,
    flags: Option<u32>,
}

impl V2Block {
    /// The block at the start of `d`, if it is one.
    #[inline]
    fn at(d: &[u8]) -> Option<V2Block> {
        let word = |at: usize| d.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
        let (bt, total) = (word(0)?, word(4)? as usize);
        let head = match bt {
            block::EV_V2 => 10,
            block::EVF_V2 => 14,
            _ => return None,
        };
        if total < min_block_len(bt) || total - 8 > MAX_EVENT_BLOCK_BODY as usize || word(total - 4)? as usize != total
        {
            return None;
        }
        let cpu = u16::from_le_bytes([d[8], d[9]]);
        let flags = (bt == block::EVF_V2).then(|| word(10).expect("a v2 flagged block is longer"));
        Some(V2Block { total, head, cpu, flags })
    }
}

/// The smallest valid `block_total_length` of a block type.
#[inline]
fn min_block_len(bt: u32) -> usize {
    match bt {
        block::EV_V2 | block::EV_V2_LARGE => 8 + 2 + HEADER_LEN + 4,
        block::EVF_V2 | block::EVF_V2_LARGE => 8 + 6 + HEADER_LEN + 4,
        block::EV | block::EV_INT => 8 + 2 + V1_HEADER_LEN + 4,
        block::EVF => 8 + 6 + V1_HEADER_LEN + 4,
        block::SHB => 28,
        _ => 12,
    }
}

/// Converts a v1 event (22-byte header without `nparams`) into the v2 layout
/// in `out`. `data` is the rest of the block body (the event, then padding).
///
/// The parameter count is not stored in v1 events: libs derives it as the `n`
/// for which `n` lengths plus the `n` values they give end exactly at the
/// event's end. That position grows strictly with `n`, so at most one `n`
/// fits; it is found scanning upwards.
fn convert_v1(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if data.len() < V1_HEADER_LEN {
        return Err(format!("v1 event header needs {V1_HEADER_LEN} bytes, the block has {}", data.len()));
    }
    let len1 = u32::from_le_bytes(data[16..20].try_into().expect("4 bytes")) as usize;
    let ty = u16::from_le_bytes([data[20], data[21]]);
    let mut len = len1;
    // Old captures store these two events' length 3 bytes too long (libs).
    if ty == EventType::NOTIFICATION_E.0 || ty == EventType::INFRASTRUCTURE_EVENT_E.0 {
        len = len.saturating_sub(3);
    }
    if len < V1_HEADER_LEN || len > data.len() {
        return Err(format!("v1 event length {len1} is invalid ({} bytes in the block)", data.len()));
    }
    let payload = &data[V1_HEADER_LEN..len];
    let p = payload.len();
    let lens16 = |i: usize| u16::from_le_bytes([payload[2 * i], payload[2 * i + 1]]) as usize;
    let mut n = 0usize;
    let mut values = 0usize;
    loop {
        let end = 2 * n + values;
        if end == p {
            break;
        }
        if end > p || 2 * n + 2 > p {
            return Err("cannot convert a v1 event: no parameter count matches its length".to_string());
        }
        values += lens16(n);
        n += 1;
    }
    // Large-payload types have u32 lengths in the v2 layout.
    let wide = EventType(ty).info().is_some_and(|i| i.param_len_size() == 4);
    let new_len = HEADER_LEN + if wide { 4 * n + values } else { p };
    out.clear();
    out.reserve(new_len);
    out.extend_from_slice(&data[0..16]);
    out.extend_from_slice(&(new_len as u32).to_le_bytes());
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    if wide {
        for i in 0..n {
            out.extend_from_slice(&(lens16(i) as u32).to_le_bytes());
        }
        out.extend_from_slice(&payload[2 * n..]);
    } else {
        out.extend_from_slice(payload);
    }
    Ok(())
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_event(ty: u16, params: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&7u64.to_le_bytes());
        v.extend_from_slice(&9u64.to_le_bytes());
        let len = V1_HEADER_LEN + params.len() * 2 + params.iter().map(|p| p.len()).sum::<usize>();
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        for p in params {
            v.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in params {
            v.extend_from_slice(p);
        }
        v
    }

    #[test]
    fn v1_conversion_derives_nparams() {
        for params in [&[][..], &[&[1u8, 2][..]][..], &[&[3u8; 8][..], &b"/etc\0"[..], &[0u8; 4][..]][..]] {
            let mut data = v1_event(EventType::SYSCALL_CLOSE_X.0, params);
            data.extend_from_slice(&[0, 0, 0]); // padding
            let mut out = Vec::new();
            convert_v1(&data, &mut out).unwrap();
            let ev = Event::parse(&out).unwrap();
            assert_eq!(ev.nparams() as usize, params.len());
            assert_eq!((ev.ts(), ev.tid()), (7, 9));
            for (i, p) in params.iter().enumerate() {
                assert_eq!(ev.raw_param(i).unwrap(), *p);
            }
        }
    }

    #[test]
    fn v1_conversion_rejects_inconsistent_lengths() {
        let mut data = v1_event(EventType::SYSCALL_CLOSE_X.0, &[&[1, 2, 3]]);
        data[22] = 200; // first length now overshoots
        assert!(convert_v1(&data, &mut Vec::new()).is_err());
        assert!(convert_v1(&data[..10], &mut Vec::new()).is_err());
    }

    #[test]
    fn v1_notification_length_is_fixed_up() {
        let mut data = v1_event(EventType::NOTIFICATION_E.0, &[b"id\0", b"desc\0"]);
        let len = u32::from_le_bytes(data[16..20].try_into().unwrap()) + 3;
        data[16..20].copy_from_slice(&len.to_le_bytes());
        data.extend_from_slice(&[0, 0, 0]);
        let mut out = Vec::new();
        convert_v1(&data, &mut out).unwrap();
        let ev = Event::parse(&out).unwrap();
        assert_eq!(ev.nparams(), 2);
        assert_eq!(ev.raw_param(1).unwrap(), b"desc\0");
    }

    #[test]
    fn v1_large_payload_events_get_u32_lengths() {
        let json = b"{\"container\":{}}\0";
        let data = v1_event(EventType::CONTAINER_JSON_2_E.0, &[json]);
        let mut out = Vec::new();
        convert_v1(&data, &mut out).unwrap();
        let ev = Event::parse(&out).unwrap();
        assert_eq!(ev.nparams(), 1);
        assert_eq!(ev.raw_param(0).unwrap(), json);
    }
}
