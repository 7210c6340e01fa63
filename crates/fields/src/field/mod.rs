//! The field registry and per-event extraction.
//!
//! A field name is resolved once, when a format or filter is compiled, into
//! a [`Field`]: an id naming the extraction code plus its argument already
//! parsed (a parameter index per event type, an ancestor depth, a cgroup
//! subsystem...). Per event, extraction only looks the value up. Values
//! that have to be built (`proc.cmdline`, rendered arguments, times) are
//! written into a buffer the caller owns, so extraction does not allocate.
//!
//! The code is split by field class: [`evt`] (`evt.*`, `syscall.type`),
//! [`proc`] (`proc.*`, `thread.*`), [`fd`] (`fd.*`, `fdlist.*`), [`user`]
//! (`user.*`, `group.*`) and [`container`] (`container.*`, `k8s.*`); the
//! names, types and descriptions are in [`registry`].

mod container;
mod evt;
mod fd;
mod proc;
mod registry;
mod user;

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use saker_abi::{EVENT_TABLE, Event};

use crate::state::StateView;
use crate::time::TimeFormatter;

pub use registry::FIELDS;

/// The state and the thread of the event a line is written for, looked up
/// once, on first use, by the fields of the line that write inline
/// ([`Field::write_inline`]): `proc.name` and `fd.name` on one line cost
/// one lookup of the thread.
#[derive(Default)]
pub(crate) struct LineThread<'s> {
    found: Option<Option<(&'s saker_state::State, &'s saker_state::Thread)>>,
}

impl<'s> LineThread<'s> {
    #[inline]
    fn get(&mut self, ctx: &'s EventContext<'_>) -> Option<(&'s saker_state::State, &'s saker_state::Thread)> {
        *self.found.get_or_insert_with(|| {
            let s = ctx.state.state()?;
            Some((s, s.thread(ctx.event.tid() as i64)?))
        })
    }
}

/// What an event is extracted in: the event and where it came from.
pub struct EventContext<'a> {
    /// The event.
    pub event: Event<'a>,
    /// Its number in the stream, from 1 (`evt.num`).
    pub num: u64,
    /// The CPU it was captured on (`evt.cpu`).
    pub cpu: u16,
    /// Formats timestamps.
    pub time: &'a TimeFormatter,
    /// The kernel state after this event.
    pub state: &'a dyn StateView,
}

/// The value type of a field, as filters compare it.
///
/// This is the comparison type; [`FieldInfo::type_name`] gives the finer
/// type sysdig lists (`RELTIME` and `PORT` compare as [`FieldType::Uint64`],
/// `INT32` as [`FieldType::Int64`], `BYTEBUF` as [`FieldType::String`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Text (bytes).
    String,
    /// Unsigned integer.
    Uint64,
    /// Signed integer.
    Int64,
    /// `true` or `false`.
    Bool,
    /// Nanosecond timestamp.
    AbsTime,
    /// An IPv4 or IPv6 address.
    IpAddr,
    /// An IPv4 or IPv6 network (compares with CIDR literals).
    IpNet,
}

impl FieldType {
    /// The name of the comparison type, as sysdig names types.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "CHARBUF",
            FieldType::Uint64 => "UINT64",
            FieldType::Int64 => "INT64",
            FieldType::Bool => "BOOL",
            FieldType::AbsTime => "ABSTIME",
            FieldType::IpAddr => "IPADDR",
            FieldType::IpNet => "IPNET",
        }
    }
}

/// A field's value for one event, borrowed from the event, the state or a
/// scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a [u8]),
    /// A signed number.
    Int(i64),
    /// An unsigned number or a timestamp.
    Uint(u64),
    /// A boolean.
    Bool(bool),
    /// An address.
    Ip(IpAddr),
}

/// The value type sysdig shows for a field (`sysdig -lv`), which also
/// decides how its value prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Charbuf,
    Bytebuf,
    Int16,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Bool,
    AbsTime,
    RelTime,
    Ip,
    IpNet,
    Port,
    Dyn,
}

impl Ty {
    const fn kind(self) -> FieldType {
        match self {
            Ty::Charbuf | Ty::Bytebuf | Ty::Dyn => FieldType::String,
            Ty::Int16 | Ty::Int32 | Ty::Int64 => FieldType::Int64,
            Ty::Uint32 | Ty::Uint64 | Ty::RelTime | Ty::Port => FieldType::Uint64,
            Ty::Bool => FieldType::Bool,
            Ty::AbsTime => FieldType::AbsTime,
            Ty::Ip => FieldType::IpAddr,
            Ty::IpNet => FieldType::IpNet,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Ty::Charbuf => "CHARBUF",
            Ty::Bytebuf => "BYTEBUF",
            Ty::Int16 => "INT16",
            Ty::Int32 => "INT32",
            Ty::Int64 => "INT64",
            Ty::Uint32 => "UINT32",
            Ty::Uint64 => "UINT64",
            Ty::Bool => "BOOL",
            Ty::AbsTime => "ABSTIME",
            Ty::RelTime => "RELTIME",
            Ty::Ip => "IPADDR",
            Ty::IpNet => "IPNET",
            Ty::Port => "PORT",
            Ty::Dyn => "DYNAMIC",
        }
    }
}

/// How numbers print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pf {
    Dec,
    /// Uppercase hexadecimal (signed types only; sysdig prints unsigned
    /// 32-bit ones in decimal anyway).
    Hex,
    /// At least 9 digits, zero-padded.
    Pad9,
}

/// What argument a field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// None.
    None,
    /// A required argument: `evt.arg.NAME` or `evt.arg[N]`, `thread.cgroup.SUBSYS`.
    Required,
    /// An optional argument: `proc.aname[N]` (without it, any ancestor in
    /// filters), `proc.env[NAME]`, `fd.types[FD]`.
    Optional,
}

/// How the argument is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgSyntax {
    None,
    /// `.NAME`, and for `evt.arg` also `[N]`.
    Dot,
    /// `[ARG]`.
    Bracket,
}

/// Flags of a registry entry.
pub(crate) mod flag {
    /// Only for filters: formats reject it (sysdig's `EPF_FILTER_ONLY`).
    pub const FILTER_ONLY: u8 = 1;
    /// Without an argument, the field has several values per event (any
    /// ancestor, both socket ends, all fd types) in filters.
    pub const MULTI: u8 = 2;
    /// A field sysdig 0.29.3 does not have (added to libsinsp since).
    pub const NEW: u8 = 4;
    /// Its display text drops the bytes outside 0x20..0x7E, as sysdig's
    /// output does for fd names.
    pub const SANITIZE: u8 = 8;
}

/// A field users can name: its name, type and what it means.
#[derive(Debug)]
pub struct FieldInfo {
    /// Full name (`evt.type`); fields taking an argument are listed without it.
    pub name: &'static str,
    /// Value type, as filters compare it.
    pub kind: FieldType,
    /// Whether it takes an argument (`evt.arg.NAME`, `proc.aname[N]`).
    pub takes_arg: bool,
    /// One line for `saker fields`.
    pub desc: &'static str,
    pub(crate) id: Id,
    pub(crate) ty: Ty,
    pub(crate) pf: Pf,
    pub(crate) arg: ArgKind,
    pub(crate) syntax: ArgSyntax,
    pub(crate) flags: u8,
    pub(crate) class: &'static str,
}

impl FieldInfo {
    /// The type sysdig lists for the field: `CHARBUF`, `INT64`, `RELTIME`,
    /// `PORT`, `IPADDR`...
    pub fn type_name(&self) -> &'static str {
        self.ty.name()
    }

    /// The class the field belongs to, as `sysdig -l` groups fields:
    /// `evt`, `process`, `user`, `group`, `container`, `fd`, `fdlist`, `k8s`.
    pub fn class(&self) -> &'static str {
        self.class
    }

    /// What argument it takes.
    pub fn arg(&self) -> ArgKind {
        self.arg
    }

    /// How the argument is written, for listings: `.NAME`, `[N]`, ...
    pub fn arg_syntax(&self) -> Option<&'static str> {
        Some(match (self.syntax, self.id) {
            (ArgSyntax::None, _) => return None,
            (_, Id::Evt(evt::E::Arg)) => ".NAME or [N]",
            (_, Id::Evt(evt::E::TypeIs)) => ".TYPE",
            (_, Id::Proc(proc::P::Cgroup)) => ".SUBSYSTEM",
            (_, Id::Proc(proc::P::Env | proc::P::Aenv)) => "[NAME]",
            (_, Id::Fd(fd::F::Types)) => "[FD]",
            (_, Id::Container(_)) => "[N|PATH]",
            (ArgSyntax::Dot, _) => ".NAME",
            (ArgSyntax::Bracket, _) => "[N]",
        })
    }

    /// Whether only filters can use it (`fd.ip`, `fd.net`...): sysdig's
    /// "filter only" fields, which formats reject.
    pub fn filter_only(&self) -> bool {
        self.flags & flag::FILTER_ONLY != 0
    }

    /// Whether sysdig 0.29.3 lacks it (a field libsinsp added since).
    pub fn is_new(&self) -> bool {
        self.flags & flag::NEW != 0
    }
}

/// Which extraction code a field uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    Evt(evt::E),
    Proc(proc::P),
    Fd(fd::F),
    User(user::U),
    Container(container::C),
}

/// Why a field name did not resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// No such field; the nearest known names follow.
    Unknown {
        /// The name as written.
        name: String,
        /// Known names close to it.
        suggestions: Vec<&'static str>,
    },
    /// The field needs an argument and has none, or has one it cannot take.
    BadArg {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::Unknown { name, suggestions } => {
                write!(f, "unknown field '{name}'")?;
                if !suggestions.is_empty() {
                    write!(f, "; did you mean {}?", suggestions.join(", "))?;
                }
                Ok(())
            }
            FieldError::BadArg { field, reason } => write!(f, "field '{field}': {reason}"),
        }
    }
}

impl std::error::Error for FieldError {}

/// A field's argument, resolved at compile time.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    None,
    /// `[N]`.
    Index(i64),
    /// No index on a field that then has one value per ancestor (filters);
    /// formats show the value of the process itself, as sysdig.
    Any,
    /// `[NAME]` or `.NAME`.
    Name(Box<str>),
    /// `evt.arg.NAME`: the parameter index for each event type (`u8::MAX`
    /// when absent).
    Param(Box<[u8]>),
    /// `evt.type.is.X`: the two event types that match.
    Types(u16, u16),
}

/// A field with its argument, ready to extract.
#[derive(Debug)]
pub struct Field {
    pub(crate) id: Id,
    pub(crate) info: &'static FieldInfo,
    pub(crate) arg: Arg,
    /// Per-field memory of `evt.deltatime`: the time of the previous event
    /// it was extracted on (0 before the first).
    pub(crate) prev_ts: AtomicU64,
}

impl Clone for Field {
    fn clone(&self) -> Self {
        Field {
            id: self.id,
            info: self.info,
            arg: self.arg.clone(),
            prev_ts: AtomicU64::new(self.prev_ts.load(Ordering::Relaxed)),
        }
    }
}

/// A value as extraction finds it: borrowed, or appended to the caller's
/// buffer ([`Raw::Built`]), or a number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Raw<'s> {
    Str(&'s [u8]),
    /// The text was appended to the buffer given to the extraction.
    Built,
    Int(i64),
    Uint(u64),
    Bool(bool),
    Ip(IpAddr),
}

/// Whether a value is extracted for printing (sysdig's formatter, which
/// sanitizes fd names) or for comparing (filters, raw bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Display,
    Compare,
}

impl Field {
    /// Parses a field reference at the start of `text` (e.g. `evt.arg.fd`,
    /// `proc.aname[2]`), returning the field and how many bytes it used.
    ///
    /// As in sysdig, the longest known field name that starts `text` is
    /// taken, so `%proc.names` is `proc.name` followed by the text `s`.
    pub fn parse_prefix(text: &str) -> Result<(Field, usize), FieldError> {
        let mut best: Option<&'static FieldInfo> = None;
        for fi in FIELDS {
            if text.starts_with(fi.name) && best.is_none_or(|b| b.name.len() < fi.name.len()) {
                best = Some(fi);
            }
        }
        let Some(info) = best else {
            let name_len =
                text.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_')).unwrap_or(text.len());
            let name = &text[..name_len];
            return Err(FieldError::Unknown { name: name.to_string(), suggestions: suggest(name) });
        };
        let rest = &text[info.name.len()..];
        let bad = |reason: String| FieldError::BadArg { field: info.name, reason };
        let (arg, used) = match info.syntax {
            ArgSyntax::None => (Arg::None, 0),
            ArgSyntax::Dot => {
                if let Some(r) = rest.strip_prefix('.') {
                    let (arg, n) = dotted_arg(info, r).map_err(bad)?;
                    (arg, n + 1)
                } else if rest.starts_with('[') && info.id == Id::Evt(evt::E::Arg) {
                    let (inner, n) = bracket(rest).ok_or_else(|| bad("missing ']' after the argument".into()))?;
                    match inner.trim().parse::<i64>() {
                        Ok(i) if i >= 0 => (Arg::Index(i), n),
                        _ => match index_by_name(inner) {
                            Some(ix) => (Arg::Param(ix), n),
                            None => return Err(bad(format!("no event has an argument called '{inner}'"))),
                        },
                    }
                } else if info.id == Id::Evt(evt::E::RawArg) && rest.starts_with('[') {
                    return Err(bad("evt.rawarg fields must be expressed explicitly, as evt.rawarg.NAME".into()));
                } else {
                    let how = info.arg_syntax().unwrap_or(".NAME");
                    return Err(bad(format!("needs an argument, as in {}{how}", info.name)));
                }
            }
            ArgSyntax::Bracket => {
                if rest.starts_with('[') {
                    let (inner, n) = bracket(rest).ok_or_else(|| bad("missing ']' after the argument".into()))?;
                    (bracket_arg(info, inner).map_err(bad)?, n)
                } else if info.arg == ArgKind::Required {
                    let how = info.arg_syntax().unwrap_or("[N]");
                    return Err(bad(format!("needs an argument, as in {}{how}", info.name)));
                } else if info.flags & flag::MULTI != 0 {
                    (Arg::Any, 0)
                } else {
                    (Arg::None, 0)
                }
            }
        };
        let field = Field { id: info.id, info, arg, prev_ts: AtomicU64::new(0) };
        Ok((field, info.name.len() + used))
    }

    /// Parses a whole field reference: `proc.name`, `evt.arg.fd`,
    /// `proc.aname[2]`, `proc.aname` (any ancestor, in filters).
    pub fn parse(text: &str) -> Result<Field, FieldError> {
        let (f, used) = Self::parse_prefix(text)?;
        if used != text.len() {
            return Err(FieldError::Unknown { name: text.to_string(), suggestions: suggest(text) });
        }
        Ok(f)
    }

    /// The field's registry entry.
    pub fn info(&self) -> &'static FieldInfo {
        self.info
    }

    /// Which optional parts of the state the field reads: the user and
    /// group tables (`user.*`, `group.*`, and the names rendered arguments
    /// show for uids and gids), or the memory counters scheduler switches
    /// carry. A consumer whose fields read neither can leave the events that
    /// only update them unapplied (`State::unneeded_event_types`).
    pub fn state_reads(&self) -> saker_state::Reads {
        use proc::P;
        let users = match self.id {
            Id::User(_) => true,
            Id::Evt(e) => matches!(e, evt::E::Args | evt::E::Info | evt::E::Arg),
            _ => false,
        };
        let memory = matches!(
            self.id,
            Id::Proc(P::Vmsize | P::Vmrss | P::Vmswap | P::ThreadVmsize | P::ThreadVmrss | P::Pfmajor | P::Pfminor)
        );
        // The fields that look at the thread's last exit as such (see
        // `Reads::last_event`); `evt.outputtime` does under `-t d`.
        let last_event = matches!(
            self.id,
            Id::Evt(
                evt::E::Outputtime
                    | evt::E::Latency
                    | evt::E::LatencyS
                    | evt::E::LatencyNs
                    | evt::E::LatencyHuman
                    | evt::E::WaitLatency
                    | evt::E::Buflen
                    | evt::E::IsSyslog
                    | evt::E::Category
                    | evt::E::CountErrorFile
                    | evt::E::CountErrorNet
                    | evt::E::CountErrorOther
            )
        );
        saker_state::Reads { users, memory, last_event }
    }

    /// The type of the field's values. For `evt.rawarg.NAME` it is the type
    /// of the first event parameter with that name, as sysdig decides it.
    pub fn ty(&self) -> FieldType {
        if let Some(t) = self.rawarg_type() {
            return raw_param_type(t);
        }
        self.info.kind
    }

    /// Whether the field has a value only on events that carry a file
    /// descriptor (the fd fields of the event's own fd): a check on it is
    /// false on every other event, so a filter can skip them.
    pub fn needs_event_fd(&self) -> bool {
        use fd::F::*;
        matches!(self.id, Id::Fd(d) if !matches!(d, ListNums | ListNames | ListCips | ListSips | ListCports | ListSports))
    }

    /// Whether extracting the field changes what it extracts next: the
    /// time since the previous event it saw (`evt.deltatime*`) and the
    /// relative and delta styles of `evt.outputtime` remember the events
    /// they were extracted on, so skipping an extraction changes later
    /// values.
    pub fn remembers_events(&self) -> bool {
        use evt::E::*;
        matches!(self.id, Id::Evt(Deltatime | DeltatimeS | DeltatimeNs | Outputtime))
    }

    /// Whether the field, as written, has several values per event: the
    /// any-ancestor fields without an index (`proc.aname`, `proc.apid`,
    /// `proc.aexe`, `proc.aexepath`, `proc.acmdline`, `proc.aenv`), the
    /// filter-only socket fields that match either end (`fd.ip`, `fd.port`,
    /// `fd.net`, `fd.proto`), the names of an address (`fd.sip.name`...)
    /// and `fd.types`. Filters compare these with
    /// [`Field::for_each_value`]; [`Field::extract`] gives only the first
    /// value (the process itself for the ancestor fields, as sysdig's output
    /// does).
    pub fn is_multi(&self) -> bool {
        matches!(self.arg, Arg::Any)
            || matches!(
                self.id,
                Id::Fd(
                    fd::F::Ip
                        | fd::F::Port
                        | fd::F::Net
                        | fd::F::Proto
                        | fd::F::CipName
                        | fd::F::SipName
                        | fd::F::LipName
                        | fd::F::RipName
                )
            )
            || (self.id == Id::Fd(fd::F::Types) && matches!(self.arg, Arg::None))
    }

    /// Calls `f` with each value of the field for `ctx`, until `f` returns
    /// true; returns whether it did.
    ///
    /// For single-valued fields, `f` gets the one value [`Field::extract`]
    /// gives, if any. For the multi-valued ones ([`Field::is_multi`]):
    /// - `proc.aname`, `proc.apid`, `proc.aexe`, `proc.aexepath`,
    ///   `proc.acmdline`, `proc.aenv` without an index: one value per
    ///   ancestor of the process (its parent, grandparent, ...; not the
    ///   process itself), as libsinsp's `compare_full_aname`;
    /// - `fd.ip`, `fd.port`, `fd.proto`, `fd.net`: the client and the server
    ///   end of an IP socket (one value for a listening socket);
    /// - `fd.cip.name`, `fd.sip.name`, `fd.lip.name`, `fd.rip.name`: each
    ///   watched name that resolved to the address (`saker-dns`);
    /// - `fd.types`: each distinct type of the process's fds.
    ///
    /// libsinsp matches these as "some value satisfies the comparison", with
    /// one exception a filter has to reproduce: for `fd.ip`, `fd.port`,
    /// `fd.net`, `fd.proto` and the `.name` fields of an address, `!=` holds
    /// only if no value is equal (call this with `==` and negate). `proc.aname != bash` holds when some
    /// ancestor is not `bash`.
    pub fn for_each_value(
        &self,
        ctx: &EventContext<'_>,
        scratch: &mut Vec<u8>,
        mut f: impl FnMut(FieldValue<'_>) -> bool,
    ) -> bool {
        if self.is_multi() {
            return match self.id {
                Id::Proc(p) => proc::each_ancestor(self, p, ctx, scratch, &mut f),
                Id::Fd(d) => fd::each_value(self, d, ctx, scratch, &mut f),
                _ => false,
            };
        }
        match self.extract(ctx, scratch) {
            Some(v) => f(v),
            None => false,
        }
    }

    /// The field's value for `ctx`, typed, for comparisons. Text that has to
    /// be built (rendered arguments, times, command lines) goes into
    /// `scratch`. Byte buffers (`evt.buffer`, `evt.rawarg` of a buffer) are
    /// the raw bytes; fd names are not sanitized.
    pub fn extract<'s>(&self, ctx: &'s EventContext<'_>, scratch: &'s mut Vec<u8>) -> Option<FieldValue<'s>> {
        scratch.clear();
        Some(match self.raw(ctx, scratch, Mode::Compare)? {
            Raw::Str(s) => FieldValue::Str(s),
            Raw::Built => FieldValue::Str(scratch),
            Raw::Int(v) => FieldValue::Int(v),
            Raw::Uint(v) => FieldValue::Uint(v),
            Raw::Bool(b) => FieldValue::Bool(b),
            Raw::Ip(ip) => FieldValue::Ip(ip),
        })
    }

    /// Appends the field's value for `ctx` to `out` as sysdig prints it in a
    /// `-p` format; returns false (and appends nothing) if the event has no
    /// such value.
    pub fn write(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let Some(raw) = self.raw(ctx, out, Mode::Display) else {
            out.truncate(start);
            return false;
        };
        self.emit(raw, start, out);
        true
    }

    /// [`Field::write`], with the fields that only read the event's header
    /// or its number (`evt.num`, `evt.dir`, `evt.type`, `evt.cpu`,
    /// `thread.tid`) or its thread's name and fd's name (`proc.name`,
    /// `fd.name`), those of most lines, taken here, inlined into the
    /// caller's loop, rather than through the general extraction, whose
    /// dispatch and set-up cost more than the value itself. Their values
    /// are those [`Field::raw`] gives, written the same way.
    #[inline]
    pub(crate) fn write_inline<'s>(
        &self,
        ctx: &'s EventContext<'_>,
        thread: &mut LineThread<'s>,
        out: &mut Vec<u8>,
    ) -> bool {
        let ev = &ctx.event;
        let start = out.len();
        let raw = match self.id {
            Id::Evt(evt::E::Num) => Raw::Uint(ctx.num),
            Id::Evt(evt::E::Dir) => Raw::Str(if ev.event_type().is_enter() { b">" } else { b"<" }),
            Id::Evt(evt::E::Type) => Raw::Str(evt::type_name(ev).as_bytes()),
            Id::Evt(evt::E::Cpu) => Raw::Int(ctx.cpu as i16 as i64),
            Id::Proc(proc::P::Tid) => Raw::Int(ev.tid() as i64),
            // The thread's command name.
            Id::Proc(proc::P::Name) => match thread.get(ctx) {
                Some((_, t)) => Raw::Str(t.comm()),
                None => return false,
            },
            // The name of the event's fd when the table has it, else the
            // name its creating event gives; a connect exit (whose fd may
            // be named after the tuple tried) goes the general way.
            Id::Fd(fd::F::Name) if ev.event_type() != saker_abi::EventType::SOCKET_CONNECT_X => {
                if !fd::about_fd(ev) {
                    return false;
                }
                let Some(e) = thread.get(ctx).and_then(|(s, t)| fd::event_fd_of(s, t)) else { return false };
                match e.fd {
                    Some(f) => Raw::Str(&f.name),
                    None => match fd::name_from_creator(ctx, out, false) {
                        Some(raw) => raw,
                        None => return false,
                    },
                }
            }
            _ => return self.write(ctx, out),
        };
        self.emit(raw, start, out);
        true
    }

    /// Appends `raw`, the value extracted (a [`Raw::Built`] one is already
    /// at `out[start..]`). Inlined: [`Field::write_inline`] knows which
    /// kind of value each of its fields has, and the rest of the match goes.
    #[inline(always)]
    fn emit(&self, raw: Raw<'_>, start: usize, out: &mut Vec<u8>) {
        match raw {
            Raw::Built => {}
            Raw::Str(s) => {
                if self.info.flags & flag::SANITIZE != 0 {
                    extend_printable(out, s);
                } else {
                    out.extend_from_slice(s);
                }
            }
            Raw::Int(v) => write_int(self.info.ty, self.info.pf, v, out),
            Raw::Uint(v) => write_uint(self.info.ty, self.info.pf, v, out),
            Raw::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            Raw::Ip(ip) => write_ip(ip, out),
        }
        if self.info.flags & flag::SANITIZE != 0 && matches!(raw, Raw::Built) {
            sanitize_from(out, start);
        }
    }

    /// Appends the field's value as a JSON value, as sysdig's `-j` prints
    /// it: numbers and booleans as JSON numbers and booleans (times as
    /// nanoseconds), hexadecimal numbers and everything else as strings, byte
    /// buffers uncut. Returns false (appending nothing) if there is no value.
    pub fn write_json(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        let _uncut = crate::render::Uncut::new();
        if let Id::Evt(e) = self.id
            && let Some(v) = evt::json_number(self, e, ctx)
        {
            crate::field::write_u64(out, v);
            return true;
        }
        let start = out.len();
        let Some(raw) = self.raw(ctx, out, Mode::Display) else {
            out.truncate(start);
            return false;
        };
        match raw {
            // sysdig's `evt.*` times and durations are JSON numbers even
            // when they print zero-padded.
            Raw::Int(v) if self.info.pf == Pf::Dec || matches!(self.id, Id::Evt(_)) => {
                write_int(self.info.ty, Pf::Dec, v, out)
            }
            Raw::Uint(v) if self.info.pf == Pf::Dec || matches!(self.id, Id::Evt(_)) => {
                write_uint(self.info.ty, Pf::Dec, v, out)
            }
            Raw::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            Raw::Built => with_scratch(|text| {
                if self.info.flags & flag::SANITIZE != 0 {
                    extend_printable(text, &out[start..]);
                } else {
                    text.extend_from_slice(&out[start..]);
                }
                out.truncate(start);
                crate::format::write_json_string(text, out);
            }),
            Raw::Str(s) => {
                if self.info.flags & flag::SANITIZE != 0 {
                    with_scratch(|t| {
                        extend_printable(t, s);
                        crate::format::write_json_string(t, out);
                    });
                } else {
                    crate::format::write_json_string(s, out);
                }
            }
            other => with_scratch(|text| {
                match other {
                    Raw::Int(v) => write_int(self.info.ty, self.info.pf, v, text),
                    Raw::Uint(v) => write_uint(self.info.ty, self.info.pf, v, text),
                    Raw::Ip(ip) => write_ip(ip, text),
                    _ => {}
                }
                crate::format::write_json_string(text, out);
            }),
        }
        true
    }

    /// The value, borrowed or built into `buf` (appended).
    pub(crate) fn raw<'s>(&self, ctx: &'s EventContext<'_>, buf: &mut Vec<u8>, mode: Mode) -> Option<Raw<'s>> {
        match self.id {
            Id::Evt(e) => evt::extract(self, e, ctx, buf, mode),
            Id::Proc(p) => proc::extract(self, p, ctx, buf),
            Id::Fd(d) => fd::extract(self, d, ctx, buf, mode),
            Id::User(u) => user::extract(u, ctx),
            Id::Container(c) => container::extract(self, c, ctx, buf),
        }
    }

    /// The parameter type `evt.rawarg.NAME` takes its type from.
    fn rawarg_type(&self) -> Option<saker_abi::ParamType> {
        if self.id != Id::Evt(evt::E::RawArg) {
            return None;
        }
        let Arg::Param(ix) = &self.arg else { return None };
        let (code, &i) = ix.iter().enumerate().find(|(_, i)| **i != u8::MAX)?;
        Some(EVENT_TABLE[code].params[i as usize].ty)
    }

    /// The parameter of `ev` the field's `evt.arg`/`evt.rawarg` argument names.
    pub(crate) fn arg_index(&self, ev: &Event<'_>) -> Option<usize> {
        match &self.arg {
            Arg::Index(i) => usize::try_from(*i).ok(),
            Arg::Param(ix) => match ix.get(ev.event_type().0 as usize) {
                Some(&i) if i != u8::MAX => Some(i as usize),
                _ => None,
            },
            _ => None,
        }
    }

    /// The index argument (`[N]`), 0 for `Any` and none.
    pub(crate) fn depth(&self) -> i64 {
        match self.arg {
            Arg::Index(i) => i,
            _ => 0,
        }
    }

    /// The name argument.
    pub(crate) fn name_arg(&self) -> Option<&str> {
        match &self.arg {
            Arg::Name(n) => Some(n),
            _ => None,
        }
    }
}

/// The text between `[` and the next `]` at the start of `s`, and the bytes used.
fn bracket(s: &str) -> Option<(&str, usize)> {
    let close = s.find(']')?;
    Some((&s[1..close], close + 1))
}

/// Resolves a `.NAME` argument; returns the argument and the bytes of NAME used.
fn dotted_arg(info: &'static FieldInfo, r: &str) -> Result<(Arg, usize), String> {
    match info.id {
        Id::Evt(evt::E::Arg | evt::E::RawArg) => {
            // The longest parameter name of any event that starts `r`.
            let mut best: Option<&'static str> = None;
            for e in EVENT_TABLE.iter() {
                for p in e.params {
                    if r.starts_with(p.name) && best.is_none_or(|b| b.len() < p.name.len()) {
                        best = Some(p.name);
                    }
                }
            }
            let Some(name) = best else {
                let shown: String = r.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                return Err(format!("unknown event argument '{shown}'"));
            };
            let ix = index_by_name(name).ok_or_else(|| format!("unknown event argument '{name}'"))?;
            Ok((Arg::Param(ix), name.len()))
        }
        Id::Evt(evt::E::TypeIs) => {
            let n = r.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'_')).unwrap_or(r.len());
            let word = &r[..n];
            if let Ok(code) = word.parse::<u16>() {
                return Ok((Arg::Types(code, u16::MAX), n));
            }
            let code = EVENT_TABLE
                .iter()
                .find(|e| e.name == word)
                .map(|e| e.code)
                .ok_or_else(|| format!("unknown event type '{word}'"))?;
            Ok((Arg::Types(code, code + 1), n))
        }
        _ => {
            // thread.cgroup.SUBSYS: letters and '_' (as sysdig); k8s labels
            // also take digits, '/', '-' and '.'.
            let k8s = info.class == "k8s";
            let n = r
                .bytes()
                .position(|b| {
                    !(b.is_ascii_alphabetic() || b == b'_' || (k8s && (b.is_ascii_digit() || b"/-.".contains(&b))))
                })
                .unwrap_or(r.len());
            if n == 0 {
                return Err("needs a name after the '.'".into());
            }
            Ok((Arg::Name(r[..n].into()), n))
        }
    }
}

/// Resolves a `[ARG]` argument.
fn bracket_arg(info: &'static FieldInfo, inner: &str) -> Result<Arg, String> {
    match info.id {
        Id::Proc(proc::P::Env | proc::P::Aenv) => {
            if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                Ok(Arg::Index(inner.parse().map_err(|_| format!("'{inner}' is too large"))?))
            } else {
                Ok(Arg::Name(inner.into()))
            }
        }
        Id::Container(_) => match inner.parse::<i64>() {
            Ok(i) => Ok(Arg::Index(i)),
            Err(_) => Ok(Arg::Name(inner.into())),
        },
        _ => match inner.trim().parse::<i64>() {
            Ok(i) if i >= 0 => Ok(Arg::Index(i)),
            _ => Err(format!("'{inner}' is not a number (the argument is an index, as in {}[1])", info.name)),
        },
    }
}

fn index_by_name(name: &str) -> Option<Box<[u8]>> {
    let ix: Box<[u8]> = EVENT_TABLE.iter().map(|e| e.param_index(name).map_or(u8::MAX, |i| i as u8)).collect();
    ix.iter().any(|&i| i != u8::MAX).then_some(ix)
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with an empty buffer that is reused from call to call, for the
/// values built in two steps (a directory then a path, a JSON string), so
/// that extraction does not allocate per event.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut b) => {
            b.clear();
            f(&mut b)
        }
        // Nested use: a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

/// Appends the printable ASCII bytes of `s` (libsinsp's sanitizing of
/// names and command lines).
pub(crate) fn extend_printable(out: &mut Vec<u8>, s: &[u8]) {
    // Names (fd names of every line) are nearly always printable already:
    // one copy then, rather than a test and a push per byte.
    if all_printable(s) {
        out.extend_from_slice(s);
    } else {
        out.extend(s.iter().copied().filter(|b| (0x20..0x7f).contains(b)));
    }
}

/// Whether every byte of `s` is printable ASCII (0x20..0x7E). Written
/// without an early exit, so that the compiler checks many bytes a step.
#[inline]
fn all_printable(s: &[u8]) -> bool {
    s.iter().fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
}

pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_int(ty: Ty, pf: Pf, v: i64, out: &mut Vec<u8>) {
    use std::io::Write;
    match (ty, pf) {
        (Ty::Int16, Pf::Hex) => {
            let _ = write!(out, "{:X}", v as i16);
        }
        (Ty::Int32, Pf::Hex) => {
            let _ = write!(out, "{:X}", v as i32);
        }
        (_, Pf::Hex) => {
            let _ = write!(out, "{v:X}");
        }
        (_, Pf::Pad9) => {
            let _ = write!(out, "{v:09}");
        }
        (Ty::Int16, _) => write_i64(out, v as i16 as i64),
        (Ty::Int32, _) => write_i64(out, v as i32 as i64),
        _ => write_i64(out, v),
    }
}

fn write_uint(ty: Ty, pf: Pf, v: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    match (ty, pf) {
        // sysdig prints 16- and 32-bit unsigned values in decimal whatever
        // the print format.
        (Ty::Port, _) => write_u64(out, v as u16 as u64),
        (Ty::Uint32, _) => write_u64(out, v as u32 as u64),
        (_, Pf::Hex) => {
            let _ = write!(out, "{v:X}");
        }
        (_, Pf::Pad9) => {
            let _ = write!(out, "{v:09}");
        }
        _ => write_u64(out, v),
    }
}

pub(crate) fn write_ip(ip: IpAddr, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{ip}");
}

/// Removes the bytes outside 0x20..0x7E from `out[start..]`.
fn sanitize_from(out: &mut Vec<u8>, start: usize) {
    if all_printable(&out[start..]) {
        return;
    }
    let mut w = start;
    for r in start..out.len() {
        let b = out[r];
        if (0x20..0x7f).contains(&b) {
            out[w] = b;
            w += 1;
        }
    }
    out.truncate(w);
}

/// Known names within a small edit distance of `name`, nearest first.
fn suggest(name: &str) -> Vec<&'static str> {
    // Field names are at most about 30 bytes and a suggestion is at most a
    // third of its length away: a long name has none, and measuring it
    // against every field would cost its length times 6,000 steps (seconds
    // for a 1 MiB token).
    if name.len() > 64 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &'static str)> = FIELDS
        .iter()
        .map(|f| (edit_distance(name, f.name), f.name))
        .filter(|&(d, n)| d <= 3.max(n.len() / 3))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// How filters see a raw parameter of type `ty`.
fn raw_param_type(ty: saker_abi::ParamType) -> FieldType {
    use saker_abi::ParamType as T;
    match ty {
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::Errno | T::Fd | T::Pid | T::Fd32 | T::Pid32 => FieldType::Int64,
        T::Uint8
        | T::Uint16
        | T::Uint32
        | T::Uint64
        | T::Syscallid
        | T::Sigtype
        | T::Reltime
        | T::Port
        | T::L4proto
        | T::Sockfamily
        | T::Bool
        | T::Flags8
        | T::Flags16
        | T::Flags32
        | T::Uid
        | T::Gid
        | T::Sigset
        | T::Mode
        | T::Enumflags8
        | T::Enumflags16
        | T::Enumflags32 => FieldType::Uint64,
        T::Abstime => FieldType::AbsTime,
        _ => FieldType::String,
    }
}

#[cfg(test)]
mod tests;
