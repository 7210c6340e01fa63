//! The merge of per-CPU rings into one stream in timestamp order, shared by
//! the kernel drivers (modern eBPF ring buffers, the module's rings, the
//! legacy probe's perf buffers).
//!
//! Each ring is in timestamp order on its own; the merge keeps the head
//! record of every ring and hands out the oldest one. Records are read in
//! place (zero-copy): a record stays valid until the next call, which
//! consumes it. Consumed space goes back to the producer in batches, when
//! every ring has been read empty, not once per record.

/// A ring of records shared with a producer in the kernel, each record
/// starting with its 8-byte little-endian timestamp (the event header).
pub trait EventRing {
    /// Where a record is (an offset, or more for rings whose records wrap).
    type At: Copy;
    /// The oldest record not consumed: where it is and its length; `None`
    /// when the ring is empty.
    fn peek(&mut self) -> Option<(Self::At, usize)>;
    /// `len` bytes of the record at `at`, from its start.
    fn bytes(&self, at: Self::At, len: usize) -> &[u8];
    /// Consumes the record [`EventRing::peek`] gave, of `len` bytes.
    fn consume(&mut self, len: usize);
    /// Hands the consumed space back to the producer.
    fn publish(&mut self);
}

/// A ring's head record, as the merge found it.
#[derive(Clone, Copy, Debug)]
pub struct Head<A> {
    /// Its timestamp.
    pub ts: u64,
    /// Where it is in its ring.
    pub at: A,
    /// Its length.
    pub len: usize,
}

/// Merges rings by the timestamps of their heads.
#[derive(Debug)]
pub struct RingMerge<A> {
    heads: Vec<Option<Head<A>>>,
    /// The ring of the record handed out last, consumed by the next call.
    last: Option<usize>,
}

impl<A: Copy> RingMerge<A> {
    /// A merge of `rings` rings.
    pub fn new(rings: usize) -> Self {
        RingMerge { heads: vec![None; rings], last: None }
    }

    /// Consumes the record handed out last, then gives the ring whose head
    /// is the oldest, and that head. When every ring is empty, hands the
    /// consumed space back to the producers and gives `None`: the caller
    /// then waits as its rings allow (a wakeup, a poll, a sleep).
    pub fn next<R: EventRing<At = A>>(&mut self, rings: &mut [R]) -> Option<(usize, Head<A>)> {
        debug_assert_eq!(rings.len(), self.heads.len());
        if let Some(r) = self.last.take()
            && let Some(h) = self.heads[r].take()
        {
            rings[r].consume(h.len);
        }
        let mut best: Option<(usize, Head<A>)> = None;
        for (i, ring) in rings.iter_mut().enumerate() {
            if self.heads[i].is_none()
                && let Some((at, len)) = ring.peek()
            {
                // A record too short for a timestamp sorts first and fails
                // to parse downstream, where it is reported.
                let ts = ring.bytes(at, len.min(8)).try_into().map_or(0, u64::from_le_bytes);
                self.heads[i] = Some(Head { ts, at, len });
            }
            if let Some(h) = self.heads[i]
                && best.is_none_or(|(_, b)| h.ts < b.ts)
            {
                best = Some((i, h));
            }
        }
        match best {
            Some((i, _)) => self.last = Some(i),
            None => rings.iter_mut().for_each(EventRing::publish),
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of 8-byte timestamps, in a plain vector.
    struct VecRing {
        records: Vec<[u8; 8]>,
        next: usize,
        published: usize,
    }

    impl EventRing for VecRing {
        type At = usize;
        fn peek(&mut self) -> Option<(usize, usize)> {
            (self.next < self.records.len()).then_some((self.next, 8))
        }
        fn bytes(&self, at: usize, len: usize) -> &[u8] {
            &self.records[at][..len]
        }
        fn consume(&mut self, len: usize) {
            assert_eq!(len, 8);
            self.next += 1;
        }
        fn publish(&mut self) {
            self.published = self.next;
        }
    }

    fn ring(ts: &[u64]) -> VecRing {
        VecRing { records: ts.iter().map(|t| t.to_le_bytes()).collect(), next: 0, published: 0 }
    }

    #[test]
    fn merges_by_timestamp_and_publishes_when_all_are_empty() {
        let mut rings = vec![ring(&[1, 4, 9]), ring(&[]), ring(&[2, 3, 10]), ring(&[5])];
        let mut m = RingMerge::new(rings.len());
        let mut got = Vec::new();
        while let Some((r, h)) = m.next(&mut rings) {
            assert_eq!(rings[r].bytes(h.at, 8), h.ts.to_le_bytes());
            // nothing handed back while records are being read
            assert!(rings.iter().all(|r| r.published == 0));
            got.push((r, h.ts));
        }
        assert_eq!(got, [(0, 1), (2, 2), (2, 3), (0, 4), (3, 5), (0, 9), (2, 10)]);
        assert_eq!(rings.iter().map(|r| r.published).collect::<Vec<_>>(), [3, 0, 3, 1]);
        // a record arriving later is found on the next call
        rings[1].records.push(11u64.to_le_bytes());
        assert_eq!(m.next(&mut rings).map(|(r, h)| (r, h.ts)), Some((1, 11)));
        assert!(m.next(&mut rings).is_none());
        assert_eq!(rings[1].published, 1);
    }
}
