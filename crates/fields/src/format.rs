//! `-p` output formats: literal text with `%field` references.

use std::fmt;

use saker_abi::EventTypeSet;

use crate::field::{EventContext, Field, FieldError, LineThread};

/// sysdig's default line: number, time, CPU, process, thread, direction, type, info.
pub const DEFAULT_FORMAT: &str =
    "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info";

#[derive(Clone, Debug)]
enum Segment {
    Text(Box<[u8]>),
    Field { field: Field, width: usize },
}

/// A field in JSON output: its key (the name as written) and the field.
#[derive(Clone, Debug)]
struct JsonField {
    key: Box<str>,
    field: Field,
}

/// A compiled output format, as sysdig's `-p`.
///
/// `%NAME` inserts a field, `%NNNAME` pads or cuts it to NNN bytes. Like
/// sysdig, a line is printed only if every field has a value, unless the
/// format starts with `*`, in which case missing values print as `<NA>`.
#[derive(Clone, Debug)]
pub struct Format {
    segments: Vec<Segment>,
    /// The distinct fields sorted by name, for JSON output.
    json: Vec<JsonField>,
    require_all: bool,
}

/// The widest a field may be padded (`%4096fd.name`): a wider one is a
/// mistake, and would make every line that large.
pub const MAX_WIDTH: usize = 4096;

/// A format string that does not compile: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset in the format string.
    pub offset: usize,
    /// The cause.
    pub cause: FieldError,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.cause)
    }
}

impl std::error::Error for FormatError {}

impl Format {
    /// Which optional parts of the state its fields read ([`Field::state_reads`]).
    pub fn state_reads(&self) -> saker_state::Reads {
        self.json.iter().fold(saker_state::Reads::NONE, |r, j| r.union(j.field.state_reads()))
    }

    /// The event types on which the format can print a line: a format
    /// that requires every value and shows a field of the event's fd
    /// ([`Field::needs_event_fd`]) prints nothing for events without one,
    /// so that the caller need not try (nor, when nothing else looks at
    /// them, be given) those events. Every type when the format prints
    /// missing values as `<NA>`, or when a field remembers the events it
    /// was extracted on ([`Field::remembers_events`]): then every attempt
    /// counts.
    pub fn printable_types(&self) -> EventTypeSet {
        let fields = || self.json.iter().map(|j| &j.field);
        if !self.require_all || fields().any(Field::remembers_events) {
            return EventTypeSet::all();
        }
        fields()
            .filter(|f| f.needs_event_fd())
            .fold(EventTypeSet::all(), |acc, _| acc.intersect(&EventTypeSet::with_fd()))
    }

    /// Compiles `text`. A field's width (`%20proc.name`) is at most
    /// [`MAX_WIDTH`].
    pub fn parse(text: &str) -> Result<Format, FormatError> {
        let (require_all, body, base) = match text.strip_prefix('*') {
            Some(rest) => (false, rest, 1),
            None => (true, text, 0),
        };
        let bytes = body.as_bytes();
        let mut segments = Vec::new();
        let mut json: Vec<JsonField> = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' || i + 1 == bytes.len() {
                literal.push(bytes[i]);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            let (field, used) =
                Field::parse_prefix(&body[j..]).map_err(|cause| FormatError { offset: base + j, cause })?;
            let width = match &body[i + 1..j] {
                "" => 0,
                digits => digits.parse::<usize>().ok().filter(|w| *w <= MAX_WIDTH).ok_or_else(|| FormatError {
                    offset: base + i + 1,
                    cause: FieldError::BadArg {
                        field: field.info().name,
                        reason: format!("width {digits} is larger than {MAX_WIDTH}"),
                    },
                })?,
            };
            if field.info().filter_only() {
                let cause = FieldError::BadArg {
                    field: field.info().name,
                    reason: "is for filters only and cannot be printed".to_string(),
                };
                return Err(FormatError { offset: base + j, cause });
            }
            if !literal.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut literal).into()));
            }
            let key = &body[j..j + used];
            if !json.iter().any(|f| &*f.key == key) {
                json.push(JsonField { key: key.into(), field: field.clone() });
            }
            segments.push(Segment::Field { field, width });
            i = j + used;
        }
        if !literal.is_empty() {
            segments.push(Segment::Text(literal.into()));
        }
        json.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Format { segments, json, require_all })
    }

    /// Appends the formatted line (without newline) to `out`. Returns false,
    /// leaving `out` as it was, when a field has no value and the format
    /// requires all of them.
    pub fn write(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let mut thread = LineThread::default();
        for seg in &self.segments {
            match seg {
                // Most literals are the one space between two fields: a push
                // costs less than a call to copy one byte.
                Segment::Text(t) if t.len() == 1 => out.push(t[0]),
                Segment::Text(t) => out.extend_from_slice(t),
                Segment::Field { field, width } => {
                    let before = out.len();
                    if !field.write_inline(ctx, &mut thread, out) {
                        if self.require_all {
                            out.truncate(start);
                            return false;
                        }
                        out.extend_from_slice(b"<NA>");
                    }
                    if *width > 0 {
                        let written = out.len() - before;
                        if written > *width {
                            out.truncate(before + width);
                        } else {
                            out.resize(before + width, b' ');
                        }
                    }
                }
            }
        }
        true
    }

    /// Appends the event as one JSON object whose keys are the format's
    /// fields, sorted by name, as sysdig's `-j` prints it: numbers as
    /// numbers, timestamps in nanoseconds, everything else as strings, and
    /// `null` for missing values when the format starts with `*`.
    pub fn write_json(&self, ctx: &EventContext<'_>, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.push(b'{');
        for (i, f) in self.json.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(f.key.as_bytes(), out);
            out.push(b':');
            if !f.field.write_json(ctx, out) {
                if self.require_all {
                    out.truncate(start);
                    return false;
                }
                out.extend_from_slice(b"null");
            }
        }
        out.push(b'}');
        true
    }

    /// The distinct fields with their names as written, sorted by name (the
    /// keys of JSON output and of alerts' `output_fields`).
    pub fn named_fields(&self) -> impl Iterator<Item = (&str, &Field)> {
        self.json.iter().map(|f| (&*f.key, &f.field))
    }

    /// The fields the format uses, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field { field, .. } => Some(field),
            Segment::Text(_) => None,
        })
    }
}

/// Appends `s` as a JSON string; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn write_json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => _ = std::io::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32)),
                c => {
                    let mut b = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}
