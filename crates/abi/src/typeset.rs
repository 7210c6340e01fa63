//! Sets of event types.

use crate::{EVENT_TABLE, EventType};

const WORDS: usize = EVENT_TABLE.len().div_ceil(64);

/// A set of event types (codes), as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventTypeSet([u64; WORDS]);

impl EventTypeSet {
    /// No event type.
    pub const fn none() -> Self {
        EventTypeSet([0; WORDS])
    }

    /// Every event type.
    pub fn all() -> Self {
        let mut s = Self::none();
        for code in 0..EVENT_TABLE.len() {
            s.insert(EventType(code as u16));
        }
        s
    }

    /// Adds a type.
    pub fn insert(&mut self, t: EventType) {
        let i = t.0 as usize;
        if i < EVENT_TABLE.len() {
            self.0[i / 64] |= 1 << (i % 64);
        }
    }

    /// Whether the set has `t`.
    #[inline]
    pub fn contains(&self, t: EventType) -> bool {
        let i = t.0 as usize;
        i < EVENT_TABLE.len() && self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// Whether every type is in the set.
    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    /// Number of types in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The types in the set, in code order.
    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        (0..EVENT_TABLE.len()).map(|c| EventType(c as u16)).filter(|&t| self.contains(t))
    }

    /// The names of the types in the set, sorted, without duplicates.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.iter().filter_map(|t| t.info()).map(|i| i.name).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The types whose events carry a file descriptor (they create, use or
    /// close one).
    pub fn with_fd() -> Self {
        use crate::EventFlags as F;
        let mut s = Self::none();
        for t in (0..EVENT_TABLE.len()).map(|c| EventType(c as u16)) {
            if t.info().is_some_and(|i| i.flags.0 & (F::CREATES_FD.0 | F::USES_FD.0 | F::DESTROYS_FD.0) != 0) {
                s.insert(t);
            }
        }
        s
    }

    /// The types in either set.
    pub fn union(mut self, o: &Self) -> Self {
        self.0.iter_mut().zip(o.0).for_each(|(a, b)| *a |= b);
        self
    }

    /// The types in both sets.
    pub fn intersect(mut self, o: &Self) -> Self {
        self.0.iter_mut().zip(o.0).for_each(|(a, b)| *a &= b);
        self
    }

    /// The types not in the set.
    pub fn complement(self) -> Self {
        let all = Self::all();
        let mut s = self;
        s.0.iter_mut().zip(all.0).for_each(|(a, b)| *a = !*a & b);
        s
    }

    /// Every code whose event is called `name` (enter, exit, every version),
    /// or the generic syscall events for syscalls only seen through them.
    pub fn of_name(name: &str) -> Self {
        let mut s = Self::none();
        for e in EVENT_TABLE.iter() {
            if e.name == name {
                s.insert(EventType(e.code));
            }
        }
        if s.is_empty() && (0..1024).any(|id| crate::syscall_name(id) == Some(name)) {
            s.insert(EventType::GENERIC_E);
            s.insert(EventType::GENERIC_X);
        }
        s
    }
}
