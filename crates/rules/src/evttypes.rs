//! The event types a condition can match, as Falco's `evt.type` indexing
//! computes them (libsinsp's `ppm_event_codes`): `and` intersects, `or`
//! unites, negations are pushed down to the checks (De Morgan), checks that
//! do not test `evt.type` match every type, whether negated or not.

use std::collections::BTreeSet;

use saker_filter::{Expr, FieldRef, Op, Pos, Rhs};

/// A set of event type names, possibly "all but these".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTypes {
    /// Exactly these types.
    Only(BTreeSet<String>),
    /// Every type except these (`AllExcept` of nothing is every type).
    AllExcept(BTreeSet<String>),
}

impl EventTypes {
    /// Every event type.
    pub fn all() -> Self {
        EventTypes::AllExcept(BTreeSet::new())
    }

    /// No event type.
    pub fn none() -> Self {
        EventTypes::Only(BTreeSet::new())
    }

    /// Whether every event type is in the set.
    pub fn is_all(&self) -> bool {
        matches!(self, EventTypes::AllExcept(s) if s.is_empty())
    }

    /// Whether `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            EventTypes::Only(s) => s.contains(name),
            EventTypes::AllExcept(s) => !s.contains(name),
        }
    }

    /// The names, if the set is a finite list.
    pub fn names(&self) -> Option<&BTreeSet<String>> {
        match self {
            EventTypes::Only(s) => Some(s),
            EventTypes::AllExcept(_) => None,
        }
    }

    /// Whether Falco would warn that a rule with this set "matches too many
    /// evt.type values": no type at all, an unbounded set, or more than 100
    /// event codes (about 50 names, each naming an enter and an exit event).
    pub fn too_many(&self) -> bool {
        match self {
            EventTypes::Only(s) => s.is_empty() || s.len() > 50,
            EventTypes::AllExcept(_) => true,
        }
    }

    fn and(self, other: Self) -> Self {
        use EventTypes::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(a.intersection(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => Only(a.difference(&b).cloned().collect()),
            (AllExcept(a), AllExcept(b)) => AllExcept(a.union(&b).cloned().collect()),
        }
    }

    fn or(self, other: Self) -> Self {
        use EventTypes::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(a.union(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => AllExcept(b.difference(&a).cloned().collect()),
            (AllExcept(a), AllExcept(b)) => AllExcept(a.intersection(&b).cloned().collect()),
        }
    }

    fn invert(self) -> Self {
        match self {
            EventTypes::Only(s) => EventTypes::AllExcept(s),
            EventTypes::AllExcept(s) => EventTypes::Only(s),
        }
    }
}

/// A condition Falco's event type search rejects.
#[derive(Debug)]
pub(crate) struct EvttypeError {
    pub message: &'static str,
    pub pos: Pos,
}

fn is_evt_type(f: &FieldRef) -> bool {
    matches!(f, FieldRef::Field { name, arg: None, .. } if name == "evt.type")
}

/// The event types `e` can match (after macro and list expansion).
pub(crate) fn event_types(e: &Expr) -> Result<EventTypes, EvttypeError> {
    walk(e, false)
}

fn walk(e: &Expr, negated: bool) -> Result<EventTypes, EvttypeError> {
    match e {
        // Under a negation, `and` becomes `or` and the reverse.
        Expr::And(v, _) | Expr::Or(v, _) => {
            let conj = matches!(e, Expr::And(..)) != negated;
            let mut acc = if conj { EventTypes::all() } else { EventTypes::none() };
            for c in v {
                let t = walk(c, negated)?;
                acc = if conj { acc.and(t) } else { acc.or(t) };
            }
            Ok(acc)
        }
        Expr::Not(c, _) => walk(c, !negated),
        Expr::Identifier(..) => Ok(EventTypes::all()),
        Expr::Check { field, op, rhs, pos } => {
            if let FieldRef::Transformed { inner, .. } = field
                && contains_evt_type(inner)
            {
                return Err(EvttypeError {
                    message: "event code search does not support `evt.type` checks with transformers",
                    pos: *pos,
                });
            }
            if !is_evt_type(field) {
                return Ok(EventTypes::all());
            }
            let names: BTreeSet<String> = match (op, rhs) {
                // `evt.type exists` names every type, so `not evt.type exists` names none.
                (Op::Exists, _) => {
                    return Ok(if negated { EventTypes::none() } else { EventTypes::all() });
                }
                (Op::Eq | Op::Ne, Some(Rhs::Value(l))) => [l.text.clone()].into(),
                (Op::In, Some(Rhs::List(items, _))) => items.iter().map(|l| l.text.clone()).collect(),
                (Op::Eq | Op::Ne | Op::In, Some(Rhs::Field(_))) => {
                    return Err(EvttypeError {
                        message: "right-hand field comparisons on `evt.type` checks are not supported by event code search",
                        pos: *pos,
                    });
                }
                _ => return Ok(EventTypes::all()),
            };
            let mut t = EventTypes::Only(names);
            if negated {
                t = t.invert();
            }
            if *op == Op::Ne {
                t = t.invert();
            }
            Ok(t)
        }
    }
}

fn contains_evt_type(f: &FieldRef) -> bool {
    match f {
        FieldRef::Field { .. } => is_evt_type(f),
        FieldRef::Transformed { inner, .. } => contains_evt_type(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(s: &str) -> EventTypes {
        event_types(&saker_filter::parse(s).unwrap()).unwrap()
    }

    fn only(v: &[&str]) -> EventTypes {
        EventTypes::Only(v.iter().map(|s| s.to_string()).collect())
    }

    fn except(v: &[&str]) -> EventTypes {
        EventTypes::AllExcept(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn falco_cases() {
        assert_eq!(types("evt.type=open"), only(&["open"]));
        assert_eq!(types("evt.type in (open, openat) and proc.name=cat"), only(&["open", "openat"]));
        assert_eq!(types("evt.type=open or evt.type=close"), only(&["close", "open"]));
        assert_eq!(types("evt.type=open or proc.name=cat"), EventTypes::all());
        assert_eq!(types("not evt.type=open"), except(&["open"]));
        assert_eq!(types("evt.type!=open"), except(&["open"]));
        assert_eq!(types("not evt.type!=open"), only(&["open"]));
        assert_eq!(types("not proc.name=cat"), EventTypes::all());
        assert_eq!(types("evt.type in (open, close) and not evt.type=close"), only(&["open"]));
        assert_eq!(types("not (evt.type=open and proc.name=cat)"), EventTypes::all());
        assert_eq!(types("not (evt.type=open or evt.type=close)"), except(&["close", "open"]));
        assert_eq!(types("evt.type=open and evt.type=close"), only(&[]));
        assert_eq!(types("evt.type exists"), EventTypes::all());
        assert_eq!(types("not evt.type exists"), only(&[]));
        assert_eq!(types("evt.type startswith op"), EventTypes::all());
        assert!(types("proc.name=cat").too_many());
        assert!(!types("evt.type=open").too_many());
        assert!(event_types(&saker_filter::parse("evt.type = val(evt.arg.x)").unwrap()).is_err());
        assert!(event_types(&saker_filter::parse("tolower(evt.type) = open").unwrap()).is_err());
    }
}
