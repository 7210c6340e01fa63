//! The capture writer.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use flate2::write::GzEncoder;
use saker_abi::{Event, EventBuilder, EventFlags, EventType, ParamType};

use crate::error::{Error, ErrorKind, path_arc};
use crate::format::{
    MACHINE_INFO_LEN, MAJOR_VERSION, MAX_ARGS_SIZE, MAX_CGROUPS_SIZE, MAX_CREDENTIALS_STR_LEN, MAX_ENV_SIZE,
    MAX_EVENT_BLOCK_BODY, MAX_PATH_SIZE, MINOR_VERSION, SHB_MAGIC, block, block_total_len,
};
use crate::header::{
    CaptureHeader, FdInfo, FdKind, GroupInfo, InterfaceAddr, InterfaceInfo, MachineInfo, ProcessInfo, UserInfo, fd_type,
};
use crate::reader::{EventRecord, Metadata};

/// Compression of the written file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain blocks (libs' `wbT` mode).
    #[default]
    None,
    /// gzip at the given level (0..=9; libs uses zlib's default, 6).
    Gzip(u32),
}

/// Layout of the optional tail of process-list (v9) entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProcListLayout {
    /// `loginuid, exe_writable, cap_inheritable, cap_permitted, cap_effective`
    /// (29 bytes): read correctly by sysdig 0.29.3 and by every libs since,
    /// which take it for the pre-0.10 layout. Loses `pidns_init_start_ts`,
    /// `tty`, `exe_ino*`, the overlay and memfd flags and `pgid`.
    #[default]
    Compatible,
    /// The libs ≥0.10 layout: `pidns_init_start_ts, tty` before `loginuid`,
    /// then every later field. Current libs read all of it; sysdig 0.29.3
    /// misreads `loginuid`.
    Current,
}

/// Options of [`Writer::with_options`] and [`Writer::create_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compression.
    pub compression: Compression,
    /// Process-list entry layout.
    pub proclist_layout: ProcListLayout,
    /// Write a synthesized enter event before every exit event whose enter
    /// event was not the last event written for its thread (see
    /// [`Writer`]). Live drivers send exit events only (plus the enter
    /// events of open, openat, openat2, creat and connect), and sysdig
    /// 0.29.3 needs the pairs: it keeps some state (closed fds, ...) from
    /// enter events, and stops on some exits without their enter.
    pub pair_enter_events: bool,
    /// Write generic events (`GENERIC_E`/`GENERIC_X`) whose syscall code
    /// (`ID`, a ppm_sc code) is one sysdig 0.29.3 does not know
    /// (329 and above: rseq, statx, ...) with `ID` 0
    /// (`<unknown>`); `nativeID` still names the syscall. sysdig 0.29.3 reads
    /// its syscall-name table out of bounds for them and may crash printing
    /// `evt.type`.
    pub legacy_generic_ids: bool,
}

/// sysdig 0.29.3's `PPM_SC_MAX`: the syscall codes its libs (e5c53d64) knows.
const LEGACY_PPM_SC_MAX: u16 = 329;

enum Sink<W: Write> {
    Plain(W),
    Gzip(Box<GzEncoder<W>>),
}

impl<W: Write> Write for Sink<W> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Gzip(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

/// Writes a capture: [`Writer::write_header`], then events, then
/// [`Writer::finish`].
///
/// The files follow the layout both sysdig 0.29.3 and current libs read: a
/// 28-byte section header without options, machine info, interface list v2,
/// user list v2, process list v9 (see [`ProcListLayout`]), one fd list v2 per
/// thread that has fds (types newer than sysdig 0.29.3 knows, 17..=21, written
/// as UNSUPPORTED), then one block per event (`0x216`, or `0x221` for
/// large-payload events; `0x217`/`0x222` when dump flags are given).
///
/// Strings longer than libs' readers accept (1024 bytes for paths, 4096 for
/// args, env and cgroups, 255 for user names) are truncated.
///
/// With [`WriteOptions::pair_enter_events`], an exit event whose thread's
/// previous event in the file is not its enter event gets one (except the
/// child's exit of a clone, fork, vfork or clone3, which never entered it),
/// written just before it with the same CPU, timestamp and thread: its parameters are the
/// exit's parameters of the same name, in the current table's enter layout
/// (for every syscall the live drivers report, the same parameters as sysdig
/// 0.29.3's enter layout, or those plus more at the end, which it ignores);
/// a parameter the exit lacks is written as a neutral value (-1 for fds and
/// pids, 0, or an empty string). Which event each thread wrote last is kept in a fixed table
/// indexed by tid, so memory does not grow with the threads seen; a
/// collision can only add a redundant enter event, never drop one.
///
/// ```no_run
/// # fn main() -> Result<(), saker_scap::Error> {
/// let mut r = saker_scap::Reader::open("in.scap")?;
/// let mut w = saker_scap::Writer::create("out.scap")?;
/// w.write_header(r.header())?;
/// while let Some(rec) = r.next_event()? {
///     w.write_record(&rec)?;
/// }
/// w.finish()?;
/// # Ok(()) }
/// ```
pub struct Writer<W: Write> {
    out: Sink<W>,
    opts: WriteOptions,
    path: Option<Arc<Path>>,
    offset: u64,
    events: u64,
    started: bool,
    scratch: Vec<u8>,
    pairing: Option<Box<Pairing>>,
    /// A copy of an event being rewritten ([`WriteOptions::legacy_generic_ids`]).
    patched: Vec<u8>,
}

/// Slots of the table of the last event written per thread (a power of two).
const PAIR_SLOTS: usize = 1 << 16;

/// What [`WriteOptions::pair_enter_events`] needs: for each tid slot, the
/// tid and the type of the last event written for it, and a buffer for the
/// synthesized enter events.
struct Pairing {
    last: Vec<(u64, u16)>,
    buf: Vec<u8>,
    synthesized: u64,
}

impl Pairing {
    fn new() -> Box<Pairing> {
        Box::new(Pairing {
            last: vec![(u64::MAX, u16::MAX); PAIR_SLOTS],
            buf: Vec::with_capacity(4096),
            synthesized: 0,
        })
    }

    #[inline]
    fn slot(tid: u64) -> usize {
        (tid as usize) & (PAIR_SLOTS - 1)
    }

    /// Builds, in `self.buf`, the enter event `exit` lacks, if it lacks one.
    fn enter_for(&mut self, exit: &Event<'_>) -> bool {
        let ty = exit.event_type();
        let slot = Pairing::slot(exit.tid());
        let prev = std::mem::replace(&mut self.last[slot], (exit.tid(), ty.0));
        if ty.is_enter() || prev == (exit.tid(), ty.0 - 1) {
            return false;
        }
        let Some(recipe) = enter_recipes().get(ty.0 as usize).and_then(Option::as_ref) else { return false };
        // The child's half of a clone returns without having entered it:
        // libsinsp creates the child from that exit, and an enter event
        // before it would make it a placeholder thread first.
        if recipe.clone_like && exit.raw_param(0).is_some_and(|r| r.iter().all(|&b| b == 0)) {
            return false;
        }
        self.buf.clear();
        let mut b = EventBuilder::new(&mut self.buf, exit.ts(), exit.tid(), ty.pair());
        for p in &recipe.params {
            match p.copy.and_then(|i| exit.raw_param(i as usize)).filter(|raw| p.accepts(raw)) {
                Some(raw) => b.param_raw(raw),
                None => match p.default {
                    Neutral::Fixed(bytes, len) => b.param_raw(&bytes[..len as usize]),
                    Neutral::EmptyString => b.param_raw(&[0]),
                    Neutral::Empty => b.param_raw(&[]),
                },
            };
        }
        b.finish();
        self.synthesized += 1;
        true
    }
}

/// One parameter of a synthesized enter event.
#[derive(Clone, Copy, Debug)]
struct EnterParam {
    /// The exit's parameter of the same name and encoding, if any.
    copy: Option<u8>,
    /// Its size, for fixed-size encodings.
    size: Option<u8>,
    /// What to write when the exit does not carry it.
    default: Neutral,
}

impl EnterParam {
    /// Whether the exit's bytes fit this parameter (an empty fixed-size
    /// parameter does not: sysdig 0.29.3 would read past it).
    #[inline]
    fn accepts(&self, raw: &[u8]) -> bool {
        self.size.is_none_or(|n| raw.len() == n as usize)
    }
}

/// A neutral value for an enter parameter the exit lacks.
#[derive(Clone, Copy, Debug)]
enum Neutral {
    /// A fixed-size value (the first `len` bytes).
    Fixed([u8; 8], u8),
    /// An empty NUL-terminated string.
    EmptyString,
    /// An empty (absent) parameter.
    Empty,
}

/// How to build the enter event of one exit event type.
#[derive(Debug)]
struct EnterRecipe {
    params: Vec<EnterParam>,
    /// A clone, fork, vfork or clone3 exit: no enter for the child's (`res` 0).
    clone_like: bool,
}

/// For each exit event type, the recipe of its enter event (`None` for enter
/// types, unknown codes, and pairs whose enter is unused or large).
fn enter_recipes() -> &'static [Option<EnterRecipe>] {
    static RECIPES: std::sync::OnceLock<Vec<Option<EnterRecipe>>> = std::sync::OnceLock::new();
    RECIPES.get_or_init(|| {
        saker_abi::EVENT_TABLE
            .iter()
            .map(|exit| {
                let ty = EventType(exit.code);
                if ty.is_enter() {
                    return None;
                }
                let enter = ty.pair().info()?;
                if enter.flags.contains(EventFlags::UNUSED)
                    || exit.flags.contains(EventFlags::UNUSED)
                    || enter.flags.contains(EventFlags::LARGE_PAYLOAD) != exit.flags.contains(EventFlags::LARGE_PAYLOAD)
                {
                    return None;
                }
                let params = enter
                    .params
                    .iter()
                    .map(|ep| {
                        let size = ep.ty.fixed_size();
                        let copy = exit
                            .params
                            .iter()
                            .position(|xp| xp.name == ep.name && xp.ty.fixed_size() == size)
                            .and_then(|i| u8::try_from(i).ok());
                        let default = match size {
                            Some(n) if n <= 8 => {
                                let v: i64 = if matches!(ep.ty, ParamType::Fd | ParamType::Pid) { -1 } else { 0 };
                                Neutral::Fixed(v.to_le_bytes(), n as u8)
                            }
                            _ if matches!(ep.ty, ParamType::Charbuf | ParamType::Fspath | ParamType::Fsrelpath) => {
                                Neutral::EmptyString
                            }
                            _ => Neutral::Empty,
                        };
                        EnterParam { copy, size: size.and_then(|n| u8::try_from(n).ok()), default }
                    })
                    .collect();
                let clone_like = matches!(exit.name, "clone" | "fork" | "vfork" | "clone3");
                Some(EnterRecipe { params, clone_like })
            })
            .collect()
    })
}

impl Writer<BufWriter<File>> {
    /// Creates (or truncates) `path` and writes an uncompressed capture to it.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        Writer::create_with(path, WriteOptions::default())
    }

    /// [`Writer::create`] with options.
    pub fn create_with(path: impl AsRef<Path>, opts: WriteOptions) -> Result<Self, Error> {
        let path = path_arc(path.as_ref());
        let file = File::create(&path).map_err(|e| Error::new(ErrorKind::Io(e), 0).with_context(Some(&path), false))?;
        let mut w = Writer::with_options(BufWriter::with_capacity(1 << 20, file), opts);
        w.path = Some(path);
        Ok(w)
    }
}

impl<W: Write> Writer<W> {
    /// A writer of an uncompressed capture over any byte sink.
    pub fn new(out: W) -> Self {
        Writer::with_options(out, WriteOptions::default())
    }

    /// A writer with options over any byte sink.
    pub fn with_options(out: W, opts: WriteOptions) -> Self {
        let out = match opts.compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip(level) => {
                Sink::Gzip(Box::new(GzEncoder::new(out, flate2::Compression::new(level.min(9)))))
            }
        };
        let pairing = opts.pair_enter_events.then(Pairing::new);
        Writer {
            out,
            opts,
            path: None,
            offset: 0,
            events: 0,
            started: false,
            scratch: Vec::new(),
            pairing,
            patched: Vec::new(),
        }
    }

    /// Bytes written so far (uncompressed).
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Events written so far (synthesized enter events included).
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Enter events synthesized so far ([`WriteOptions::pair_enter_events`]).
    pub fn enter_events_synthesized(&self) -> u64 {
        self.pairing.as_ref().map_or(0, |p| p.synthesized)
    }

    fn err(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.offset).with_context(self.path.as_ref(), false)
    }

    /// A failed write: at the file's size on disk when the file is known
    /// (the buffers hold up to a MiB more than reached the disk), else at
    /// the offset the writer had reached.
    fn write_err(&self, error: io::Error) -> Error {
        write_error(self.path.as_ref(), self.offset, error)
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self.out.write_all(bytes) {
            Ok(()) => {
                self.offset += bytes.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.write_err(e)),
        }
    }

    /// Writes a block whose body is in `self.scratch`.
    fn put_scratch_block(&mut self, block_type: u32) -> Result<(), Error> {
        let body = std::mem::take(&mut self.scratch);
        let r = self.put_block(block_type, &body);
        self.scratch = body;
        r
    }

    fn put_block(&mut self, block_type: u32, body: &[u8]) -> Result<(), Error> {
        let total = block_total_len(body.len());
        let Ok(total32) = u32::try_from(total) else {
            return Err(self.err(ErrorKind::InvalidInput { reason: format!("block of {total} bytes exceeds 4 GiB") }));
        };
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&block_type.to_le_bytes());
        head[4..].copy_from_slice(&total32.to_le_bytes());
        self.put(&head)?;
        self.put(body)?;
        let pad = total - 12 - body.len();
        let mut tail = [0u8; 7];
        tail[pad..pad + 4].copy_from_slice(&total32.to_le_bytes());
        self.put(&tail[..pad + 4])
    }

    fn start(&mut self) -> Result<(), Error> {
        if !self.started {
            self.started = true;
            let mut body = [0u8; 16];
            body[0..4].copy_from_slice(&SHB_MAGIC.to_le_bytes());
            body[4..6].copy_from_slice(&MAJOR_VERSION.to_le_bytes());
            body[6..8].copy_from_slice(&MINOR_VERSION.to_le_bytes());
            body[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
            self.put_block(block::SHB, &body)?;
        }
        Ok(())
    }

    /// Writes the section header and the header's metadata blocks: machine
    /// info, interfaces, users, processes and their fds (and orphan fd
    /// lists). Call it once, before the events. The section header's options
    /// and versions are not copied: the writer always emits a 28-byte
    /// version 1.2 section header.
    pub fn write_header(&mut self, h: &CaptureHeader) -> Result<(), Error> {
        self.start()?;
        if let Some(m) = &h.machine {
            self.write_machine_info(m)?;
        }
        if !h.interfaces.is_empty() {
            self.write_interfaces(&h.interfaces)?;
        }
        if !h.users.is_empty() || !h.groups.is_empty() {
            self.write_users(&h.users, &h.groups)?;
        }
        if !h.processes.is_empty() {
            self.write_processes(&h.processes)?;
        }
        for l in &h.orphan_fds {
            self.write_fd_list(l.tid, &l.fds)?;
        }
        Ok(())
    }

    /// Writes a machine info block.
    pub fn write_machine_info(&mut self, m: &MachineInfo) -> Result<(), Error> {
        self.start()?;
        let mut b = [0u8; MACHINE_INFO_LEN];
        b[0..4].copy_from_slice(&m.num_cpus.to_le_bytes());
        b[4..12].copy_from_slice(&m.memory_size_bytes.to_le_bytes());
        b[12..20].copy_from_slice(&m.max_pid.to_le_bytes());
        let host = &m.hostname[..m.hostname.len().min(127)];
        b[20..20 + host.len()].copy_from_slice(host);
        b[148..156].copy_from_slice(&m.boot_ts_epoch.to_le_bytes());
        b[156..164].copy_from_slice(&m.flags.to_le_bytes());
        b[164..172].copy_from_slice(&m.reserved3.to_le_bytes());
        b[172..180].copy_from_slice(&m.reserved4.to_le_bytes());
        self.put_block(block::MI, &b)
    }

    /// Writes an interface list (v2) block.
    pub fn write_interfaces(&mut self, ifs: &[InterfaceInfo]) -> Result<(), Error> {
        self.start()?;
        let s = &mut self.scratch;
        s.clear();
        for i in ifs {
            let name = &i.name[..i.name.len().min(MAX_PATH_SIZE - 1)];
            let fixed = match i.addr {
                InterfaceAddr::V4 { .. } => 2 + 2 + 12 + 8,
                InterfaceAddr::V6 { .. } => 2 + 2 + 48 + 8,
            };
            s.extend_from_slice(&((fixed + name.len()) as u32).to_le_bytes());
            match i.addr {
                InterfaceAddr::V4 { addr, netmask, bcast } => {
                    s.extend_from_slice(&1u16.to_le_bytes());
                    s.extend_from_slice(&(name.len() as u16).to_le_bytes());
                    s.extend_from_slice(&addr.octets());
                    s.extend_from_slice(&netmask.octets());
                    s.extend_from_slice(&bcast.octets());
                }
                InterfaceAddr::V6 { addr, netmask, bcast } => {
                    s.extend_from_slice(&2u16.to_le_bytes());
                    s.extend_from_slice(&(name.len() as u16).to_le_bytes());
                    s.extend_from_slice(&addr.octets());
                    s.extend_from_slice(&netmask.octets());
                    s.extend_from_slice(&bcast.octets());
                }
            }
            s.extend_from_slice(&i.linkspeed.to_le_bytes());
            s.extend_from_slice(name);
        }
        self.put_scratch_block(block::IL_V2)
    }

    /// Writes a user list (v2) block.
    pub fn write_users(&mut self, users: &[UserInfo], groups: &[GroupInfo]) -> Result<(), Error> {
        self.start()?;
        let s = &mut self.scratch;
        s.clear();
        let cap = |b: &[u8]| b[..b.len().min(MAX_CREDENTIALS_STR_LEN - 1)].to_vec();
        for u in users {
            let (name, home, shell) = (cap(&u.name), cap(&u.homedir), cap(&u.shell));
            let len = 4 + 1 + 4 + 4 + 2 + name.len() + 2 + home.len() + 2 + shell.len();
            s.extend_from_slice(&(len as u32).to_le_bytes());
            s.push(0);
            s.extend_from_slice(&u.uid.to_le_bytes());
            s.extend_from_slice(&u.gid.to_le_bytes());
            for f in [&name, &home, &shell] {
                put_str16(s, f);
            }
        }
        for g in groups {
            let name = cap(&g.name);
            s.extend_from_slice(&((4 + 1 + 4 + 2 + name.len()) as u32).to_le_bytes());
            s.push(1);
            s.extend_from_slice(&g.gid.to_le_bytes());
            put_str16(s, &name);
        }
        self.put_scratch_block(block::UL_V2)
    }

    /// Writes a process list (v9) block, then one fd list block per thread
    /// that has file descriptors.
    pub fn write_processes(&mut self, procs: &[ProcessInfo]) -> Result<(), Error> {
        self.start()?;
        let s = &mut self.scratch;
        s.clear();
        for p in procs {
            encode_proc(s, p, self.opts.proclist_layout);
        }
        self.put_scratch_block(block::PL_V9)?;
        for p in procs {
            if !p.fds.is_empty() {
                self.write_fd_list(p.tid, &p.fds)?;
            }
        }
        Ok(())
    }

    /// Writes an fd list (v2) block for thread `tid`.
    pub fn write_fd_list(&mut self, tid: u64, fds: &[FdInfo]) -> Result<(), Error> {
        self.start()?;
        let s = &mut self.scratch;
        s.clear();
        s.extend_from_slice(&tid.to_le_bytes());
        // Like libs, UNKNOWN (0) fds are not written.
        for fd in fds.iter().filter(|f| f.kind != FdKind::Unknown { fd_type: fd_type::UNKNOWN }) {
            encode_fd(s, fd);
        }
        self.put_scratch_block(block::FDL_V2)
    }

    /// Writes a metadata block read after the events started (see
    /// [`crate::Reader::next_item`]). Unknown blocks and section headers are
    /// not written.
    pub fn write_metadata(&mut self, m: &Metadata) -> Result<(), Error> {
        match m {
            Metadata::Machine(mi) => self.write_machine_info(mi),
            Metadata::Interfaces(i) => self.write_interfaces(i),
            Metadata::Users { users, groups } => self.write_users(users, groups),
            Metadata::Processes(p) => self.write_processes(p),
            Metadata::Fds(l) => self.write_fd_list(l.tid, &l.fds),
            Metadata::Section(_) | Metadata::Unknown => Ok(()),
        }
    }

    /// Writes an event block: `0x221` for large-payload event types, else
    /// `0x216` (whose body libs limits to 64 KiB: longer events are refused).
    #[inline]
    pub fn write_event(&mut self, cpu: u16, event: &Event<'_>) -> Result<(), Error> {
        self.write_event_block(cpu, None, event)
    }

    /// Writes a flagged event block (`0x217`, or `0x222` for large-payload
    /// events) carrying dump flags (libs' `SCAP_DF_*`).
    pub fn write_event_with_flags(&mut self, cpu: u16, dump_flags: u32, event: &Event<'_>) -> Result<(), Error> {
        self.write_event_block(cpu, Some(dump_flags), event)
    }

    /// Writes an event as read, keeping its CPU and dump flags.
    #[inline]
    pub fn write_record(&mut self, rec: &EventRecord<'_>) -> Result<(), Error> {
        self.write_event_block(rec.cpu, rec.dump_flags, &rec.event)
    }

    /// Writes an event as [`Writer::write_event_with_flags`] does (flags
    /// optional), but at most `max` events: when the event needs a
    /// synthesized enter event ([`WriteOptions::pair_enter_events`]) and
    /// there is room for one event only, only the enter event is written, the
    /// event a tracer seeing enter events (sysdig) would have counted last.
    /// Returns how many events were written (0, 1 or 2). `saker trace -w -n`
    /// counts events written this way, as sysdig does.
    pub fn write_event_upto(
        &mut self,
        cpu: u16,
        flags: Option<u32>,
        event: &Event<'_>,
        max: u64,
    ) -> Result<u64, Error> {
        let before = self.events;
        if max > 0 {
            self.write_event_bounded(cpu, flags, event, max)?;
        }
        Ok(self.events - before)
    }

    #[inline]
    fn write_event_block(&mut self, cpu: u16, flags: Option<u32>, event: &Event<'_>) -> Result<(), Error> {
        self.write_event_bounded(cpu, flags, event, u64::MAX)
    }

    /// Writes the enter event `event` lacks (if pairing) and `event`, at most `max` (>= 1) events.
    #[inline]
    fn write_event_bounded(&mut self, cpu: u16, flags: Option<u32>, event: &Event<'_>, max: u64) -> Result<(), Error> {
        if !self.started {
            self.start()?;
        }
        if let Some(p) = self.pairing.as_mut()
            && p.enter_for(event)
        {
            let buf = std::mem::take(&mut p.buf);
            let r = match Event::parse(&buf) {
                Ok(enter) => self.write_one(cpu, flags, &enter),
                Err(e) => Err(self.err(ErrorKind::InvalidInput { reason: format!("synthesized enter event: {e}") })),
            };
            // Give the buffer (and its capacity) back for the next one.
            if let Some(p) = self.pairing.as_mut() {
                p.buf = buf;
            }
            r?;
            if max == 1 {
                return Ok(());
            }
        }
        self.write_one(cpu, flags, event)
    }

    #[inline]
    fn write_one(&mut self, cpu: u16, flags: Option<u32>, event: &Event<'_>) -> Result<(), Error> {
        if self.opts.legacy_generic_ids
            && let Some(id_at) = unknown_generic_id(event)
        {
            let mut copy = std::mem::take(&mut self.patched);
            copy.clear();
            copy.extend_from_slice(event.as_bytes());
            copy[id_at..id_at + 2].copy_from_slice(&0u16.to_le_bytes());
            let r = self.write_bytes(cpu, flags, event, &copy);
            self.patched = copy;
            return r;
        }
        self.write_bytes(cpu, flags, event, event.as_bytes())
    }

    /// Writes `bytes`, which are `event` or a rewritten copy of it.
    #[inline]
    fn write_bytes(&mut self, cpu: u16, flags: Option<u32>, event: &Event<'_>, bytes: &[u8]) -> Result<(), Error> {
        let large = event.info().is_some_and(|i| i.param_len_size() == 4);
        let prefix = if flags.is_some() { 6 } else { 2 };
        let body = prefix + bytes.len();
        let total = block_total_len(body);
        if !large && total - 8 > MAX_EVENT_BLOCK_BODY as usize {
            return Err(self.err(ErrorKind::InvalidInput {
                reason: format!(
                    "event of type {} is {} bytes: too large for a non-large event block (64 KiB)",
                    event.event_type().0,
                    bytes.len()
                ),
            }));
        }
        let block_type = match (flags.is_some(), large) {
            (false, false) => block::EV_V2,
            (false, true) => block::EV_V2_LARGE,
            (true, false) => block::EVF_V2,
            (true, true) => block::EVF_V2_LARGE,
        };
        let Ok(total32) = u32::try_from(total) else {
            return Err(self.err(ErrorKind::InvalidInput { reason: format!("event block of {total} bytes") }));
        };
        let mut head = [0u8; 14];
        head[..4].copy_from_slice(&block_type.to_le_bytes());
        head[4..8].copy_from_slice(&total32.to_le_bytes());
        head[8..10].copy_from_slice(&cpu.to_le_bytes());
        if let Some(f) = flags {
            head[10..14].copy_from_slice(&f.to_le_bytes());
        }
        self.put(&head[..8 + prefix])?;
        self.put(bytes)?;
        let pad = total - 12 - body;
        let mut tail = [0u8; 7];
        tail[pad..pad + 4].copy_from_slice(&total32.to_le_bytes());
        self.put(&tail[..pad + 4])?;
        self.events += 1;
        Ok(())
    }

    /// Pushes what is buffered to the sink (for a gzip stream, a sync
    /// flush), so that a capture still being written can be read up to here.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.start()?;
        match self.out.flush() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.write_err(e)),
        }
    }

    /// Flushes (and ends the gzip stream) and returns the sink. A capture with
    /// no header and no event still gets its section header.
    pub fn finish(mut self) -> Result<W, Error> {
        self.start()?;
        let r = match self.out {
            Sink::Plain(mut w) => w.flush().map(|()| w),
            Sink::Gzip(g) => g.finish().and_then(|mut w| w.flush().map(|()| w)),
        };
        r.map_err(|e| write_error(self.path.as_ref(), self.offset, e))
    }
}

fn write_error(path: Option<&Arc<Path>>, buffered_to: u64, error: io::Error) -> Error {
    let on_disk = path.and_then(|p| std::fs::metadata(p).ok()).filter(|m| m.is_file()).map(|m| m.len());
    let offset = on_disk.unwrap_or(buffered_to);
    Error::new(ErrorKind::WriteFailed { error, file_size: on_disk, buffered_to }, offset).with_context(path, false)
}

/// For a generic event whose `ID` sysdig 0.29.3 does not know, the offset of
/// that parameter in the event's bytes.
#[inline]
fn unknown_generic_id(event: &Event<'_>) -> Option<usize> {
    let ty = event.event_type();
    if ty != EventType::GENERIC_E && ty != EventType::GENERIC_X {
        return None;
    }
    let raw = event.raw_param(0)?;
    let id = u16::from_le_bytes(raw.try_into().ok()?);
    if id < LEGACY_PPM_SC_MAX {
        return None;
    }
    // ID is the first parameter: right after the header and the lengths.
    Some(saker_abi::HEADER_LEN + event.nparams() as usize * 2)
}

fn put_str16(s: &mut Vec<u8>, b: &[u8]) {
    let b = &b[..b.len().min(u16::MAX as usize)];
    s.extend_from_slice(&(b.len() as u16).to_le_bytes());
    s.extend_from_slice(b);
}

fn capped(b: &[u8], max: usize) -> &[u8] {
    &b[..b.len().min(max)]
}

/// Appends one v9 process-list entry.
fn encode_proc(s: &mut Vec<u8>, p: &ProcessInfo, layout: ProcListLayout) {
    let start = s.len();
    s.extend_from_slice(&0u32.to_le_bytes()); // length, patched below
    for v in [p.tid, p.pid, p.ptid, p.sid, p.vpgid] {
        s.extend_from_slice(&v.to_le_bytes());
    }
    put_str16(s, capped(&p.comm, MAX_PATH_SIZE));
    put_str16(s, capped(&p.exe, MAX_PATH_SIZE));
    put_str16(s, capped(&p.exepath, MAX_PATH_SIZE));
    put_str16(s, capped(&p.args, MAX_ARGS_SIZE));
    put_str16(s, capped(&p.cwd, MAX_PATH_SIZE));
    s.extend_from_slice(&p.fdlimit.to_le_bytes());
    for v in [p.flags, p.uid, p.gid, p.vmsize_kb, p.vmrss_kb, p.vmswap_kb] {
        s.extend_from_slice(&v.to_le_bytes());
    }
    s.extend_from_slice(&p.pfmajor.to_le_bytes());
    s.extend_from_slice(&p.pfminor.to_le_bytes());
    put_str16(s, capped(&p.env, MAX_ENV_SIZE));
    s.extend_from_slice(&p.vtid.to_le_bytes());
    s.extend_from_slice(&p.vpid.to_le_bytes());
    put_str16(s, capped(&p.cgroups, MAX_CGROUPS_SIZE));
    put_str16(s, capped(&p.root, MAX_PATH_SIZE));
    if layout == ProcListLayout::Current {
        s.extend_from_slice(&p.pidns_init_start_ts.to_le_bytes());
        s.extend_from_slice(&p.tty.to_le_bytes());
    }
    s.extend_from_slice(&p.loginuid.to_le_bytes());
    s.push(p.exe_writable as u8);
    for v in [p.cap_inheritable, p.cap_permitted, p.cap_effective] {
        s.extend_from_slice(&v.to_le_bytes());
    }
    if layout == ProcListLayout::Current {
        s.push(p.exe_upper_layer as u8);
        for v in [p.exe_ino, p.exe_ino_ctime, p.exe_ino_mtime] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        s.push(p.exe_from_memfd as u8);
        s.push(p.exe_lower_layer as u8);
        s.extend_from_slice(&p.pgid.to_le_bytes());
    }
    let len = (s.len() - start) as u32;
    s[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Appends one v2 fd-list entry. Types sysdig 0.29.3 does not know (17..=21)
/// become UNSUPPORTED (their encoding, a name, is the same); unknown types
/// become UNSUPPORTED with libs' `unknown-type:[N]` name.
fn encode_fd(s: &mut Vec<u8>, fd: &FdInfo) {
    let start = s.len();
    s.extend_from_slice(&0u32.to_le_bytes()); // length, patched below
    s.extend_from_slice(&fd.fd.to_le_bytes());
    s.extend_from_slice(&fd.ino.to_le_bytes());
    let name_max = MAX_PATH_SIZE - 1;
    match &fd.kind {
        FdKind::File { open_flags, name, dev } => {
            s.push(fd_type::FILE_V2);
            s.extend_from_slice(&open_flags.to_le_bytes());
            put_str16(s, capped(name, name_max));
            s.extend_from_slice(&dev.unwrap_or(0).to_le_bytes());
        }
        FdKind::Ipv4Socket { sip, dip, sport, dport, l4proto } => {
            s.push(fd_type::IPV4_SOCK);
            s.extend_from_slice(&sip.octets());
            s.extend_from_slice(&dip.octets());
            s.extend_from_slice(&sport.to_le_bytes());
            s.extend_from_slice(&dport.to_le_bytes());
            s.push(*l4proto);
        }
        FdKind::Ipv6Socket { sip, dip, sport, dport, l4proto } => {
            s.push(fd_type::IPV6_SOCK);
            s.extend_from_slice(&sip.octets());
            s.extend_from_slice(&dip.octets());
            s.extend_from_slice(&sport.to_le_bytes());
            s.extend_from_slice(&dport.to_le_bytes());
            s.push(*l4proto);
        }
        FdKind::Ipv4Server { ip, port, l4proto } => {
            s.push(fd_type::IPV4_SERVSOCK);
            s.extend_from_slice(&ip.octets());
            s.extend_from_slice(&port.to_le_bytes());
            s.push(*l4proto);
        }
        FdKind::Ipv6Server { ip, port, l4proto } => {
            s.push(fd_type::IPV6_SERVSOCK);
            s.extend_from_slice(&ip.octets());
            s.extend_from_slice(&port.to_le_bytes());
            s.push(*l4proto);
        }
        FdKind::Unix { source, dest, path } => {
            s.push(fd_type::UNIX_SOCK);
            s.extend_from_slice(&source.to_le_bytes());
            s.extend_from_slice(&dest.to_le_bytes());
            put_str16(s, capped(path, name_max));
        }
        FdKind::Named { fd_type: t, name } => {
            s.push(if *t > fd_type::FILE_V2 { fd_type::UNSUPPORTED } else { *t });
            put_str16(s, capped(name, name_max));
        }
        FdKind::Unknown { fd_type: t } => {
            s.push(fd_type::UNSUPPORTED);
            put_str16(s, format!("unknown-type:[{t}]").as_bytes());
        }
    }
    let len = (s.len() - start) as u32;
    s[start..start + 4].copy_from_slice(&len.to_le_bytes());
}
