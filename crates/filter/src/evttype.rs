//! Which event types a condition can match.

use saker_abi::{EVENT_TABLE, EventType};

use crate::ast::{Expr, FieldRef, Op, Rhs};

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

    fn union(mut self, o: &Self) -> Self {
        self.0.iter_mut().zip(o.0).for_each(|(a, b)| *a |= b);
        self
    }

    fn intersect(mut self, o: &Self) -> Self {
        self.0.iter_mut().zip(o.0).for_each(|(a, b)| *a &= b);
        self
    }

    fn complement(self) -> Self {
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
        if s.is_empty() && (0..1024).any(|id| saker_abi::syscall_name(id) == Some(name)) {
            s.insert(EventType::GENERIC_E);
            s.insert(EventType::GENERIC_X);
        }
        s
    }
}

/// The event types `e` can match. Conservative: checks on other fields allow
/// every type; `evt.type` checks narrow it, through `and`, `or` and `not`.
pub fn event_types(e: &Expr) -> EventTypeSet {
    types(e, false)
}

fn types(e: &Expr, negated: bool) -> EventTypeSet {
    match e {
        Expr::And(v, _) | Expr::Or(v, _) => {
            // not (a and b) = not a or not b, and the reverse.
            let is_and = matches!(e, Expr::And(..)) != negated;
            let mut it = v.iter().map(|c| types(c, negated));
            let first = it.next().unwrap_or_else(EventTypeSet::all);
            it.fold(first, |acc, s| if is_and { acc.intersect(&s) } else { acc.union(&s) })
        }
        Expr::Not(c, _) => types(c, !negated),
        Expr::Identifier(..) => EventTypeSet::all(),
        Expr::Check { field: FieldRef::Field { name, arg: None, .. }, op, rhs: Some(rhs), .. }
            if name == "evt.type" =>
        {
            let values: Vec<&str> = match rhs {
                Rhs::Value(l) => vec![l.text.as_str()],
                Rhs::List(items, _) => items.iter().map(|l| l.text.as_str()).collect(),
                Rhs::Field(_) => return EventTypeSet::all(),
            };
            let named = values.iter().fold(EventTypeSet::none(), |acc, n| acc.union(&EventTypeSet::of_name(n)));
            let set = match op {
                Op::Eq | Op::In | Op::Intersects => named,
                Op::Ne => named.complement(),
                _ => return EventTypeSet::all(),
            };
            if negated { set.complement() } else { set }
        }
        Expr::Check { .. } => EventTypeSet::all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn names(cond: &str) -> Vec<&'static str> {
        let s = event_types(&parse(cond).unwrap());
        if s.is_all() { vec!["*"] } else { s.names() }
    }

    #[test]
    fn narrowing() {
        assert_eq!(names("evt.type = open"), ["open"]);
        assert_eq!(names("evt.type in (open, openat) and proc.name = cat"), ["open", "openat"]);
        assert_eq!(names("(evt.type = open or evt.type = close) and fd.num > 2"), ["close", "open"]);
        assert_eq!(names("proc.name = cat"), ["*"]);
        assert_eq!(names("evt.type = open or proc.name = cat"), ["*"]);
        assert!(!names("evt.type != open").contains(&"open"));
        assert!(!names("not evt.type = open").contains(&"open"));
        assert_eq!(names("not (evt.type = open and proc.name = x)"), ["*"]);
        assert_eq!(names("not (evt.type != open)"), ["open"]);
        // A syscall only instrumented generically.
        assert_eq!(names("evt.type = pselect6"), ["syscall"]);
    }
}
