//! Writing events.

use crate::event::HEADER_LEN;
use crate::table::{EventType, ParamType};

/// Appends one event to a byte buffer, parameter by parameter.
///
/// The builder writes the header and reserves one length per parameter the
/// table lists; each `param_*` call fills the next one. Parameters not written
/// by [`EventBuilder::finish`] are left empty (length 0), which readers treat
/// as absent. Reusing one `Vec` across events keeps the writer free of
/// allocation once the buffer has grown.
///
/// ```
/// use saker_abi::{Event, EventBuilder, EventType, Value};
/// let mut buf = Vec::new();
/// let mut b = EventBuilder::new(&mut buf, 1_000, 42, EventType::SYSCALL_CLOSE_X);
/// b.param_i64(0).param_i64(3);
/// b.finish();
/// let ev = Event::parse(&buf).unwrap();
/// assert_eq!(ev.param(1).unwrap().value(), Value::Int(3));
/// ```
pub struct EventBuilder<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    nparams: usize,
    len_size: usize,
    next: usize,
    types: &'static [crate::table::ParamInfo],
}

impl<'b> EventBuilder<'b> {
    /// Starts an event of type `ty` with as many parameters as the table lists.
    pub fn new(buf: &'b mut Vec<u8>, ts: u64, tid: u64, ty: EventType) -> EventBuilder<'b> {
        let n = ty.info().map_or(0, |i| i.params.len());
        Self::with_nparams(buf, ts, tid, ty, n)
    }

    /// Starts an event with an explicit parameter count (for copying events
    /// whose count differs from the table's).
    pub fn with_nparams(buf: &'b mut Vec<u8>, ts: u64, tid: u64, ty: EventType, nparams: usize) -> EventBuilder<'b> {
        let info = ty.info();
        let len_size = info.map_or(2, |i| i.param_len_size());
        let start = buf.len();
        buf.extend_from_slice(&ts.to_le_bytes());
        buf.extend_from_slice(&tid.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&ty.0.to_le_bytes());
        buf.extend_from_slice(&(nparams as u32).to_le_bytes());
        buf.resize(buf.len() + nparams * len_size, 0);
        EventBuilder { buf, start, nparams, len_size, next: 0, types: info.map_or(&[], |i| i.params) }
    }

    /// Appends the next parameter's raw bytes.
    ///
    /// # Panics
    /// If every parameter has already been written, or the bytes are too long
    /// for a `u16` length in a non-large event.
    pub fn param_raw(&mut self, data: &[u8]) -> &mut Self {
        assert!(self.next < self.nparams, "event has only {} parameters", self.nparams);
        let slot = self.start + HEADER_LEN + self.next * self.len_size;
        if self.len_size == 2 {
            let len = u16::try_from(data.len()).expect("parameter longer than 65535 bytes");
            self.buf[slot..slot + 2].copy_from_slice(&len.to_le_bytes());
        } else {
            self.buf[slot..slot + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        }
        debug_assert!(
            data.is_empty()
                || self.types.get(self.next).is_none_or(|p| p.ty.fixed_size().is_none_or(|s| s == data.len())),
            "parameter {} ({:?}) written with {} bytes",
            self.next,
            self.types.get(self.next).map(|p| p.name),
            data.len()
        );
        self.buf.extend_from_slice(data);
        self.next += 1;
        self
    }

    /// Leaves the next parameter empty (absent).
    pub fn param_empty(&mut self) -> &mut Self {
        self.param_raw(&[])
    }

    /// Appends an integer, encoded with the width of the next parameter's type.
    pub fn param_u64(&mut self, v: u64) -> &mut Self {
        let width = self.next_width();
        self.param_raw(&v.to_le_bytes()[..width])
    }

    /// Appends a signed integer, encoded with the width of the next parameter's type.
    pub fn param_i64(&mut self, v: i64) -> &mut Self {
        self.param_u64(v as u64)
    }

    /// Appends a NUL-terminated string (`CHARBUF`, `FSPATH`, `FSRELPATH`).
    pub fn param_str(&mut self, s: &[u8]) -> &mut Self {
        let slot_start = self.buf.len();
        self.param_raw(s);
        // Grow the parameter by its NUL and fix its length.
        self.buf.push(0);
        let slot = self.start + HEADER_LEN + (self.next - 1) * self.len_size;
        let len = self.buf.len() - slot_start;
        if self.len_size == 2 {
            let len = u16::try_from(len).expect("parameter longer than 65535 bytes");
            self.buf[slot..slot + 2].copy_from_slice(&len.to_le_bytes());
        } else {
            self.buf[slot..slot + 4].copy_from_slice(&(len as u32).to_le_bytes());
        }
        self
    }

    fn next_width(&self) -> usize {
        self.types
            .get(self.next)
            .and_then(|p| p.ty.fixed_size())
            .filter(|&s| s <= 8 && p_is_int(self.types[self.next].ty))
            .unwrap_or(8)
    }

    /// Fills the remaining parameters as empty, writes the length and returns
    /// the event's size in bytes.
    pub fn finish(mut self) -> usize {
        while self.next < self.nparams {
            self.param_empty();
        }
        let len = self.buf.len() - self.start;
        let len32 = u32::try_from(len).expect("event longer than 4 GiB");
        self.buf[self.start + 16..self.start + 20].copy_from_slice(&len32.to_le_bytes());
        len
    }
}

fn p_is_int(ty: ParamType) -> bool {
    !matches!(ty, ParamType::Double | ParamType::Ipv4addr | ParamType::Ipv6addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Value};

    #[test]
    fn builds_what_parse_reads() {
        let mut buf = vec![0xAA]; // builder appends after existing bytes
        let mut b = EventBuilder::new(&mut buf, 7, 9, EventType::SYSCALL_OPEN_X);
        b.param_i64(3).param_str(b"/etc/passwd").param_u64(1).param_u64(0o644);
        let n = b.finish();
        assert_eq!(n, buf.len() - 1);
        let ev = Event::parse(&buf[1..]).unwrap();
        assert_eq!((ev.ts(), ev.tid(), ev.event_type()), (7, 9, EventType::SYSCALL_OPEN_X));
        assert_eq!(ev.nparams(), 6);
        let vals: Vec<_> = ev.params().map(|p| p.value()).collect();
        assert_eq!(
            vals,
            [Value::Int(3), Value::Str(b"/etc/passwd"), Value::Uint(1), Value::Uint(0o644), Value::Empty, Value::Empty]
        );
        assert_eq!(ev.param_by_name("name").unwrap().value(), Value::Str(b"/etc/passwd"));
    }

    #[test]
    fn large_payload_events_use_u32_lengths() {
        let mut buf = Vec::new();
        let mut b = EventBuilder::new(&mut buf, 1, 1, EventType::CONTAINER_JSON_2_E);
        let json = vec![b'x'; 70_000];
        b.param_str(&json);
        b.finish();
        let ev = Event::parse(&buf).unwrap();
        assert_eq!(ev.param(0).unwrap().value(), Value::Str(&json));
    }
}
