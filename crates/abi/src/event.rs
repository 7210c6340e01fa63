//! A zero-copy view over one event's bytes.

use std::fmt;

use crate::table::{EventInfo, EventType, ParamInfo};
use crate::value::Param;

/// Size of the packed event header (`ts u64, tid u64, len u32, type u16, nparams u32`).
pub const HEADER_LEN: usize = 26;

/// Why bytes are not a well-formed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventError {
    /// Fewer bytes than a header.
    ShortHeader {
        /// Bytes available.
        have: usize,
    },
    /// The header's `len` is smaller than the header or larger than the bytes given.
    BadLength {
        /// The header's `len`.
        len: u32,
        /// Bytes available.
        have: usize,
    },
    /// The parameter lengths do not fit in the event.
    ParamsOverflow {
        /// The event type.
        event_type: u16,
        /// Number of parameters the header declares.
        nparams: u32,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EventError::ShortHeader { have } => {
                write!(f, "event header needs {HEADER_LEN} bytes, only {have} available")
            }
            EventError::BadLength { len, have } => {
                write!(f, "event length {len} is invalid ({have} bytes available, header is {HEADER_LEN})")
            }
            EventError::ParamsOverflow { event_type, nparams } => {
                write!(f, "the {nparams} parameter lengths of event type {event_type} exceed the event's length")
            }
        }
    }
}

impl std::error::Error for EventError {}

#[inline]
fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

#[inline]
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

#[inline]
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// One event, borrowed from a buffer (a ring, a capture block).
///
/// [`Event::parse`] checks the header and that every parameter length fits, so
/// later accessors cannot fail or read out of bounds. Nothing is copied or
/// allocated.
#[derive(Clone, Copy)]
pub struct Event<'a> {
    /// Exactly `len` bytes.
    bytes: &'a [u8],
    /// Bytes per parameter length: 2, or 4 for large-payload events.
    len_size: u8,
}

impl<'a> Event<'a> {
    /// Validates `buf` (which may be longer than the event) and views the
    /// event at its start.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Event<'a>, EventError> {
        let ev = Event::parse_checked(buf)?;
        let (bytes, len_size) = (ev.bytes, ev.len_size as usize);
        let nparams = ev.nparams();
        let overflow = EventError::ParamsOverflow { event_type: ev.event_type().0, nparams };
        let lens_end = (nparams as usize)
            .checked_mul(len_size)
            .and_then(|n| n.checked_add(HEADER_LEN))
            .filter(|&end| end <= bytes.len())
            .ok_or(overflow)?;
        // Every event read is checked here (on a capture's reading thread,
        // those passed over too): the lengths are summed over exact chunks,
        // without a bounds check per length, which the compiler vectorizes.
        let lens = &bytes[HEADER_LEN..lens_end];
        let params: usize = if len_size == 2 {
            lens.chunks_exact(2).map(|l| u16::from_le_bytes([l[0], l[1]]) as usize).sum()
        } else {
            lens.chunks_exact(4).map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize).sum()
        };
        let total = lens_end + params;
        if total > bytes.len() {
            return Err(overflow);
        }
        Ok(ev)
    }

    /// Views an event whose bytes [`Event::parse`] accepted before (a copy
    /// of an accepted event's [`Event::as_bytes`], handed between threads):
    /// only the header's length is checked again, not the parameter
    /// lengths. On bytes never checked, a parameter running past the end
    /// makes the accessors panic (they never read out of bounds).
    #[inline]
    pub fn parse_checked(buf: &'a [u8]) -> Result<Event<'a>, EventError> {
        if buf.len() < HEADER_LEN {
            return Err(EventError::ShortHeader { have: buf.len() });
        }
        let len = u32_at(buf, 16);
        if (len as usize) < HEADER_LEN || len as usize > buf.len() {
            return Err(EventError::BadLength { len, have: buf.len() });
        }
        let bytes = &buf[..len as usize];
        let ty = u16_at(bytes, 20);
        let len_size = crate::table::PARAM_LEN_SIZE.get(ty as usize).map_or(2, |&s| s);
        Ok(Event { bytes, len_size })
    }

    /// Timestamp, nanoseconds since the epoch.
    #[inline]
    pub fn ts(&self) -> u64 {
        u64_at(self.bytes, 0)
    }

    /// Thread id (in the initial pid namespace).
    #[inline]
    pub fn tid(&self) -> u64 {
        u64_at(self.bytes, 8)
    }

    /// Length of the whole event, header included.
    #[inline]
    pub fn len(&self) -> u32 {
        self.bytes.len() as u32
    }

    /// Always false: an event has at least a header.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The event type.
    #[inline]
    pub fn event_type(&self) -> EventType {
        EventType(u16_at(self.bytes, 20))
    }

    /// Number of parameters the event carries (may differ from the table's:
    /// older captures carry fewer, newer drivers may carry more).
    #[inline]
    pub fn nparams(&self) -> u32 {
        u32_at(self.bytes, 22)
    }

    /// The table entry of the event's type, if the table knows it.
    #[inline]
    pub fn info(&self) -> Option<&'static EventInfo> {
        self.event_type().info()
    }

    /// The event's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    #[inline]
    fn param_len(&self, i: usize) -> usize {
        let off = HEADER_LEN + i * self.len_size as usize;
        if self.len_size == 2 { u16_at(self.bytes, off) as usize } else { u32_at(self.bytes, off) as usize }
    }

    /// The raw bytes of parameter `i`, whatever the table says; `None` past `nparams`.
    #[inline]
    pub fn raw_param(&self, i: usize) -> Option<&'a [u8]> {
        let n = self.nparams() as usize;
        if i >= n {
            return None;
        }
        let mut off = HEADER_LEN + n * self.len_size as usize;
        for j in 0..i {
            off += self.param_len(j);
        }
        Some(&self.bytes[off..off + self.param_len(i)])
    }

    /// Parameter `i` as an unsigned integer (signed types sign-extended):
    /// what `self.param(i)?.as_u64()` gives, in one step. The state reads a
    /// few integers of nearly every event (fds, results, sizes): with the
    /// decoding inlined here, and no `Param` built, they cost half as much.
    #[inline]
    pub fn int_param(&self, i: usize) -> Option<u64> {
        let info = self.info()?.params.get(i)?;
        crate::value::int_value(info.ty, self.raw_param(i)?)
    }

    /// Parameter `i`, typed by the table. `None` if the event does not carry it
    /// or the table does not describe it.
    #[inline]
    pub fn param(&self, i: usize) -> Option<Param<'a>> {
        let info = self.info()?.params.get(i)?;
        Some(Param::new(info, self.raw_param(i)?))
    }

    /// The parameter called `name`.
    #[inline]
    pub fn param_by_name(&self, name: &str) -> Option<Param<'a>> {
        self.param(self.info()?.param_index(name)?)
    }

    /// The parameters the table describes and the event carries, in order.
    #[inline]
    pub fn params(&self) -> Params<'a> {
        let infos: &'static [ParamInfo] = self.info().map_or(&[], |i| i.params);
        let n = (self.nparams() as usize).min(infos.len());
        Params {
            event: *self,
            infos: &infos[..n],
            next: 0,
            off: HEADER_LEN + self.nparams() as usize * self.len_size as usize,
        }
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("ts", &self.ts()).field("tid", &self.tid()).field("type", &self.event_type());
        for p in self.params() {
            d.field(p.info().name, &p.value());
        }
        d.finish()
    }
}

/// Iterator over an event's parameters, see [`Event::params`].
#[derive(Clone)]
pub struct Params<'a> {
    event: Event<'a>,
    infos: &'static [ParamInfo],
    next: usize,
    off: usize,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    #[inline]
    fn next(&mut self) -> Option<Param<'a>> {
        let info = self.infos.get(self.next)?;
        let len = self.event.param_len(self.next);
        let data = &self.event.bytes[self.off..self.off + len];
        self.next += 1;
        self.off += len;
        Some(Param::new(info, data))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.infos.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Params<'_> {}
