//! Events copied out of a reader in bulk, to be handed to another thread.

use saker_abi::Event;

use crate::EventRecord;

/// Each record: `u16 cpu, u16 has_flags, u32 flags, u64 passed_over, u64
/// offset`, then the event's bytes.
const RECORD_HEADER: usize = 24;

/// A run of events copied out of a [`crate::Reader`] by
/// [`crate::Reader::read_batch`], each with what [`crate::Reader::next_event`]
/// gives with it (an [`EventRecord`]). The events were checked when they were
/// read: viewing them again ([`EventBatch::record_at`]) only looks at their
/// header. Reused batches keep their memory.
#[derive(Debug, Default)]
pub struct EventBatch {
    bytes: Vec<u8>,
    /// Stream offset the reader had reached after the last event.
    end_offset: u64,
}

impl EventBatch {
    /// An empty batch with room for `bytes` bytes of records.
    pub fn with_capacity(bytes: usize) -> EventBatch {
        EventBatch { bytes: Vec::with_capacity(bytes), end_offset: 0 }
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.end_offset = 0;
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes the records take.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The stream offset the reader had reached when it filled the batch:
    /// the file's bytes before it are no longer needed by the events here.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    pub(crate) fn set_end_offset(&mut self, offset: u64) {
        self.end_offset = offset;
    }

    /// The record at byte position `pos` (0 for the first) and the position
    /// of the next one, or `None` past the last.
    #[inline]
    pub fn record_at(&self, pos: usize) -> Option<(EventRecord<'_>, usize)> {
        let rec = self.bytes.get(pos..)?;
        let head = rec.get(..RECORD_HEADER)?;
        let cpu = u16::from_le_bytes([head[0], head[1]]);
        let dump_flags = (head[2] != 0).then(|| u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        let passed_over = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
        let offset = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
        // Only events `Event::parse` accepted were pushed.
        let event = Event::parse_checked(&rec[RECORD_HEADER..]).ok()?;
        let next = pos + RECORD_HEADER + event.len() as usize;
        Some((EventRecord { cpu, dump_flags, offset, event, passed_over }, next))
    }

    /// Appends an event record whose event `Event::parse` accepted.
    #[inline]
    pub(crate) fn push(&mut self, rec: &EventRecord<'_>) {
        let mut head = [0u8; RECORD_HEADER];
        head[0..2].copy_from_slice(&rec.cpu.to_le_bytes());
        head[2] = rec.dump_flags.is_some() as u8;
        head[4..8].copy_from_slice(&rec.dump_flags.unwrap_or(0).to_le_bytes());
        head[8..16].copy_from_slice(&rec.passed_over.to_le_bytes());
        head[16..24].copy_from_slice(&rec.offset.to_le_bytes());
        let event = rec.event.as_bytes();
        self.bytes.reserve(RECORD_HEADER + event.len());
        self.bytes.extend_from_slice(&head);
        self.bytes.extend_from_slice(event);
    }
}
