//! The field registry and per-event extraction.

use std::fmt;

use saker_abi::{EVENT_TABLE, Event, EventType};

use crate::render::{self, ArgStyle};
use crate::state::StateView;
use crate::time::TimeFormatter;

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

/// The value type of a field, as `saker fields` lists it and filters compare it.
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
    /// The name `saker fields` shows, as sysdig's `-l` names types.
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
    Ip(std::net::IpAddr),
}

/// A field users can name: its name, type and what it means.
#[derive(Debug)]
pub struct FieldInfo {
    /// Full name (`evt.type`); fields taking an argument end in `.` or take `[...]`.
    pub name: &'static str,
    /// Value type.
    pub kind: FieldType,
    /// Whether it takes an argument (`evt.arg.NAME`, `evt.arg[N]`).
    pub takes_arg: bool,
    /// One line for `saker fields`.
    pub desc: &'static str,
    id: Id,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Id {
    EvtNum,
    EvtTime,
    EvtDatetime,
    EvtRawtime,
    EvtOutputtime,
    EvtCpu,
    EvtDir,
    EvtType,
    EvtArgs,
    EvtInfo,
    EvtRes,
    EvtRawRes,
    EvtFailed,
    EvtArg,
    EvtRawArg,
    ThreadTid,
    ProcName,
}

/// Every field this crate extracts, in `saker fields` order.
pub static FIELDS: &[FieldInfo] = &[
    FieldInfo {
        id: Id::EvtNum,
        name: "evt.num",
        kind: FieldType::Uint64,
        takes_arg: false,
        desc: "event number, from 1",
    },
    FieldInfo {
        id: Id::EvtTime,
        name: "evt.time",
        kind: FieldType::String,
        takes_arg: false,
        desc: "event timestamp as a time string with nanoseconds, local time zone",
    },
    FieldInfo {
        id: Id::EvtDatetime,
        name: "evt.datetime",
        kind: FieldType::String,
        takes_arg: false,
        desc: "event timestamp as a date and time string with nanoseconds, local time zone",
    },
    FieldInfo {
        id: Id::EvtRawtime,
        name: "evt.rawtime",
        kind: FieldType::AbsTime,
        takes_arg: false,
        desc: "event timestamp, nanoseconds since the epoch",
    },
    FieldInfo {
        id: Id::EvtOutputtime,
        name: "evt.outputtime",
        kind: FieldType::AbsTime,
        takes_arg: false,
        desc: "event timestamp as printed in the default output line (same as evt.time)",
    },
    FieldInfo {
        id: Id::EvtCpu,
        name: "evt.cpu",
        kind: FieldType::Int64,
        takes_arg: false,
        desc: "CPU the event was captured on",
    },
    FieldInfo {
        id: Id::EvtDir,
        name: "evt.dir",
        kind: FieldType::String,
        takes_arg: false,
        desc: "event direction: '>' for enter events, '<' for exit events",
    },
    FieldInfo {
        id: Id::EvtType,
        name: "evt.type",
        kind: FieldType::String,
        takes_arg: false,
        desc: "event name, e.g. 'open'",
    },
    FieldInfo {
        id: Id::EvtArgs,
        name: "evt.args",
        kind: FieldType::String,
        takes_arg: false,
        desc: "all the event's arguments, as name=value pairs",
    },
    FieldInfo {
        id: Id::EvtInfo,
        name: "evt.info",
        kind: FieldType::String,
        takes_arg: false,
        desc: "the event's arguments for humans (the same as evt.args for system calls)",
    },
    FieldInfo {
        id: Id::EvtRes,
        name: "evt.res",
        kind: FieldType::String,
        takes_arg: false,
        desc: "result of an exit event: 'SUCCESS', or the error name such as 'ENOENT'",
    },
    FieldInfo {
        id: Id::EvtRawRes,
        name: "evt.rawres",
        kind: FieldType::Int64,
        takes_arg: false,
        desc: "result of an exit event as a number, e.g. -2 or 3",
    },
    FieldInfo {
        id: Id::EvtFailed,
        name: "evt.failed",
        kind: FieldType::Bool,
        takes_arg: false,
        desc: "'true' for exit events whose result is an error, else 'false'",
    },
    FieldInfo {
        id: Id::EvtArg,
        name: "evt.arg",
        kind: FieldType::String,
        takes_arg: true,
        desc: "one argument by name (evt.arg.fd) or position (evt.arg[0]), rendered for humans",
    },
    FieldInfo {
        id: Id::EvtRawArg,
        name: "evt.rawarg",
        kind: FieldType::String,
        takes_arg: true,
        desc: "one argument by name (evt.rawarg.flags), as its raw value",
    },
    FieldInfo {
        id: Id::ThreadTid,
        name: "thread.tid",
        kind: FieldType::Int64,
        takes_arg: false,
        desc: "id of the thread",
    },
    FieldInfo {
        id: Id::ProcName,
        name: "proc.name",
        kind: FieldType::String,
        takes_arg: false,
        desc: "name of the process (its comm)",
    },
];

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

/// The argument of `evt.arg`/`evt.rawarg`, resolved per event type at compile time.
#[derive(Clone, Debug)]
enum ArgRef {
    None,
    /// By position.
    Index(usize),
    /// By name: the parameter index for each event type (`u8::MAX` = absent).
    Name(Box<[u8]>),
}

/// A field with its argument, ready to extract.
#[derive(Clone, Debug)]
pub struct Field {
    id: Id,
    info: &'static FieldInfo,
    arg: ArgRef,
}

impl Field {
    /// Parses a field reference at the start of `text` (e.g. `evt.arg.fd`,
    /// `evt.arg[1]`), returning the field and how many bytes it used.
    pub fn parse_prefix(text: &str) -> Result<(Field, usize), FieldError> {
        let name_len =
            text.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_')).unwrap_or(text.len());
        let name = &text[..name_len];
        // Longest registered name that is the whole name or a prefix followed by '.'.
        let mut best: Option<usize> = None;
        for (i, fi) in FIELDS.iter().enumerate() {
            let exact = name == fi.name;
            let with_arg = fi.takes_arg
                && name.len() > fi.name.len() + 1
                && name.starts_with(fi.name)
                && name.as_bytes()[fi.name.len()] == b'.';
            if (exact || with_arg) && best.is_none_or(|b| FIELDS[b].name.len() < fi.name.len()) {
                best = Some(i);
            }
        }
        let Some(i) = best else {
            return Err(FieldError::Unknown { name: name.to_string(), suggestions: suggest(name) });
        };
        let info = &FIELDS[i];
        let id = info.id;
        let mut used = name_len;
        let arg = if !info.takes_arg {
            ArgRef::None
        } else if name.len() > info.name.len() {
            ArgRef::Name(index_by_name(&name[info.name.len() + 1..]))
        } else if text[name_len..].starts_with('[') {
            let close = text[name_len..].find(']').ok_or_else(|| FieldError::BadArg {
                field: info.name,
                reason: "missing ']' after the argument".to_string(),
            })?;
            let inner = &text[name_len + 1..name_len + close];
            used = name_len + close + 1;
            match inner.parse::<usize>() {
                Ok(n) => ArgRef::Index(n),
                Err(_) => ArgRef::Name(index_by_name(inner)),
            }
        } else {
            return Err(FieldError::BadArg {
                field: info.name,
                reason: format!("needs an argument, as in {0}.NAME or {0}[N]", info.name),
            });
        };
        if let ArgRef::Name(ix) = &arg
            && ix.iter().all(|&x| x == u8::MAX)
        {
            let argname =
                if name.len() > info.name.len() { &name[info.name.len() + 1..] } else { &text[name_len + 1..used - 1] };
            return Err(FieldError::BadArg {
                field: info.name,
                reason: format!("no event has an argument called '{argname}'"),
            });
        }
        Ok((Field { id, info, arg }, used))
    }

    /// Parses a whole field reference.
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

    fn arg_index(&self, ev: &Event<'_>) -> Option<usize> {
        match &self.arg {
            ArgRef::None => None,
            ArgRef::Index(i) => Some(*i),
            ArgRef::Name(ix) => match ix.get(ev.event_type().0 as usize) {
                Some(&i) if i != u8::MAX => Some(i as usize),
                _ => None,
            },
        }
    }

    /// The type of the field's values. For `evt.rawarg.NAME` it is the type
    /// of the first event parameter with that name, as sysdig decides it.
    pub fn ty(&self) -> FieldType {
        if self.id == Id::EvtRawArg
            && let ArgRef::Name(ix) = &self.arg
            && let Some((code, &i)) = ix.iter().enumerate().find(|(_, i)| **i != u8::MAX)
        {
            return raw_param_type(EVENT_TABLE[code].params[i as usize].ty);
        }
        self.info.kind
    }

    /// The field's value for `ctx`, typed, for comparisons. Text that has to
    /// be built (rendered arguments, times) goes into `scratch`.
    pub fn extract<'s>(&self, ctx: &'s EventContext<'_>, scratch: &'s mut Vec<u8>) -> Option<FieldValue<'s>> {
        let ev = &ctx.event;
        Some(match self.id {
            Id::EvtNum => FieldValue::Uint(ctx.num),
            Id::EvtRawtime | Id::EvtOutputtime => FieldValue::Uint(ev.ts()),
            Id::EvtCpu => FieldValue::Int(ctx.cpu as i64),
            Id::ThreadTid => FieldValue::Int(ev.tid() as i64),
            Id::EvtRawRes => FieldValue::Int(render::raw_res(ev)?),
            Id::EvtFailed => FieldValue::Bool(render::raw_res(ev).is_some_and(|v| v < 0)),
            Id::EvtDir => FieldValue::Str(if ev.event_type().is_enter() { b">" } else { b"<" }),
            Id::ProcName => FieldValue::Str(ctx.state.comm(ev.tid() as i64)?),
            Id::EvtRawArg => {
                let p = self.arg_index(ev).and_then(|i| ev.param(i))?;
                match (self.ty(), p.value()) {
                    (FieldType::Int64, saker_abi::Value::Int(v)) => FieldValue::Int(v),
                    (FieldType::Int64, saker_abi::Value::Uint(v)) => FieldValue::Int(v as i64),
                    (FieldType::Uint64, saker_abi::Value::Uint(v)) => FieldValue::Uint(v),
                    (FieldType::Uint64, saker_abi::Value::Int(v)) => FieldValue::Uint(v as u64),
                    (_, saker_abi::Value::Str(s) | saker_abi::Value::Bytes(s)) => FieldValue::Str(s),
                    _ => {
                        scratch.clear();
                        render::write_param(ev, &p, ArgStyle::Raw, ctx.state, scratch).then_some(())?;
                        FieldValue::Str(scratch)
                    }
                }
            }
            _ => {
                scratch.clear();
                if !self.write(ctx, scratch) {
                    return None;
                }
                FieldValue::Str(scratch)
            }
        })
    }

    /// Appends the field's value as a JSON value: numbers and timestamps as
    /// numbers, everything else as a string.
    pub fn write_json(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        match self.info.kind {
            FieldType::AbsTime => {
                write_u64(out, ctx.event.ts());
                true
            }
            FieldType::Uint64 | FieldType::Int64 | FieldType::Bool => self.write(ctx, out),
            FieldType::String | FieldType::IpAddr | FieldType::IpNet => {
                let mut text = Vec::new();
                if !self.write(ctx, &mut text) {
                    return false;
                }
                crate::format::write_json_string(&text, out);
                true
            }
        }
    }

    /// Appends the field's value for `ctx` to `out`; returns false (and
    /// appends nothing) if the event has no such value.
    pub fn write(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        let ev = &ctx.event;
        match self.id {
            Id::EvtNum => write_u64(out, ctx.num),
            Id::EvtTime | Id::EvtOutputtime => ctx.time.write_time(ev.ts(), out),
            Id::EvtDatetime => ctx.time.write_datetime(ev.ts(), out),
            Id::EvtRawtime => write_u64(out, ev.ts()),
            Id::EvtCpu => write_u64(out, ctx.cpu as u64),
            Id::EvtDir => out.push(if ev.event_type().is_enter() { b'>' } else { b'<' }),
            Id::EvtType => {
                let ty = ev.event_type();
                let name = if ty == EventType::GENERIC_E || ty == EventType::GENERIC_X {
                    render::generic_type_name(ev)
                } else {
                    ev.info().map(|i| i.name)
                };
                out.extend_from_slice(name.unwrap_or("<NA>").as_bytes());
            }
            Id::EvtArgs | Id::EvtInfo => render::write_args(ev, ctx.state, out),
            Id::EvtRes => return render::write_res(ev, out),
            Id::EvtRawRes => match render::raw_res(ev) {
                Some(v) => write_i64(out, v),
                None => return false,
            },
            Id::EvtFailed => {
                let failed = render::raw_res(ev).is_some_and(|v| v < 0);
                out.extend_from_slice(if failed { b"true" } else { b"false" });
            }
            Id::EvtArg | Id::EvtRawArg => {
                let Some(p) = self.arg_index(ev).and_then(|i| ev.param(i)) else { return false };
                let style = if self.id == Id::EvtArg { ArgStyle::Resolved } else { ArgStyle::Raw };
                return render::write_param(ev, &p, style, ctx.state, out);
            }
            Id::ThreadTid => write_i64(out, ev.tid() as i64),
            Id::ProcName => out.extend_from_slice(ctx.state.comm(ev.tid() as i64).unwrap_or(b"<NA>")),
        }
        true
    }
}

fn index_by_name(name: &str) -> Box<[u8]> {
    EVENT_TABLE.iter().map(|e| e.param_index(name).map_or(u8::MAX, |i| i as u8)).collect()
}

pub(crate) fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Known names within a small edit distance of `name`, nearest first.
fn suggest(name: &str) -> Vec<&'static str> {
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
