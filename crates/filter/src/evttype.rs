//! Which event types a condition can match.

use std::collections::HashMap;
use std::sync::Arc;

use saker_abi::EventTypeSet;

use crate::ast::{Expr, FieldRef, Op, Pos, Rhs};

type Types = Result<EventTypeSet, (Pos, &'static str)>;

/// The event types of macro bodies already walked, by body and polarity.
/// Each entry keeps its body alive, so that its address is not reused.
#[derive(Debug, Default)]
pub(crate) struct Memo(HashMap<(usize, bool), (Arc<Expr>, Types)>);

/// The event types `e` can match. Conservative: checks on other fields allow
/// every type; `evt.type` checks narrow it, through `and`, `or` and `not`
/// (negations pushed down to the checks), as libsinsp's event code search.
/// `evt.type` under a transformer or compared with another field cannot be
/// indexed and is an error, as in Falco. The body of a macro is walked once
/// (for each polarity) however often it is used.
pub fn event_types(e: &Expr) -> Types {
    event_types_memo(e, &mut Memo::default())
}

/// [`event_types`], with the macro bodies' types kept in `memo` across calls.
pub(crate) fn event_types_memo(e: &Expr, memo: &mut Memo) -> Types {
    types(e, false, memo)
}

fn is_evt_type(f: &FieldRef) -> bool {
    matches!(f, FieldRef::Field { name, arg: None, .. } if name == "evt.type")
}

fn mentions_evt_type(f: &FieldRef) -> bool {
    match f {
        FieldRef::Field { .. } => is_evt_type(f),
        FieldRef::Transformed { inner, .. } => mentions_evt_type(inner),
    }
}

fn types(e: &Expr, negated: bool, memo: &mut Memo) -> Types {
    Ok(match e {
        Expr::And(v, _) | Expr::Or(v, _) => {
            // not (a and b) = not a or not b, and the reverse.
            let is_and = matches!(e, Expr::And(..)) != negated;
            let mut acc = if is_and { EventTypeSet::all() } else { EventTypeSet::none() };
            for c in v {
                let t = types(c, negated, memo)?;
                acc = if is_and { acc.intersect(&t) } else { acc.union(&t) };
            }
            acc
        }
        Expr::Not(c, _) => types(c, !negated, memo)?,
        Expr::Identifier(..) => EventTypeSet::all(),
        Expr::Macro { body, .. } => {
            let key = (Arc::as_ptr(body) as usize, negated);
            if let Some((_, t)) = memo.0.get(&key) {
                return *t;
            }
            let t = types(body, negated, memo);
            memo.0.insert(key, (Arc::clone(body), t));
            t?
        }
        Expr::Check { field, op, rhs, pos } => {
            if let FieldRef::Transformed { inner, .. } = field
                && mentions_evt_type(inner)
            {
                return Err((*pos, "evt.type checks with transformers cannot be indexed by event type"));
            }
            if !is_evt_type(field) {
                return Ok(EventTypeSet::all());
            }
            let values: Vec<&str> = match (op, rhs) {
                // `evt.type exists` holds for every type.
                (Op::Exists, _) => return Ok(if negated { EventTypeSet::none() } else { EventTypeSet::all() }),
                (_, Some(Rhs::Field(_))) => {
                    return Err((*pos, "evt.type compared with another field cannot be indexed by event type"));
                }
                (Op::Eq | Op::Ne, Some(Rhs::Value(l))) => vec![l.text.as_str()],
                (Op::In | Op::Intersects, Some(Rhs::List(items, _))) => items.iter().map(|l| l.text.as_str()).collect(),
                _ => return Ok(EventTypeSet::all()),
            };
            let named = values.iter().fold(EventTypeSet::none(), |acc, n| acc.union(&EventTypeSet::of_name(n)));
            let set = if *op == Op::Ne { named.complement() } else { named };
            if negated { set.complement() } else { set }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn names(cond: &str) -> Vec<&'static str> {
        let s = event_types(&parse(cond).unwrap()).unwrap();
        if s.is_all() { vec!["*"] } else { s.names() }
    }

    /// The names a set excludes, when it is "everything but".
    fn excluded(cond: &str) -> Vec<&'static str> {
        let s = event_types(&parse(cond).unwrap()).unwrap();
        s.complement().names()
    }

    #[test]
    fn narrowing() {
        assert_eq!(names("evt.type = open"), ["open"]);
        assert_eq!(names("evt.type in (open, openat) and proc.name = cat"), ["open", "openat"]);
        assert_eq!(names("(evt.type = open or evt.type = close) and fd.num > 2"), ["close", "open"]);
        assert_eq!(names("proc.name = cat"), ["*"]);
        assert_eq!(names("not proc.name = cat"), ["*"]);
        assert_eq!(names("evt.type = open or proc.name = cat"), ["*"]);
        assert_eq!(excluded("evt.type != open"), ["open"]);
        assert_eq!(excluded("not evt.type = open"), ["open"]);
        assert_eq!(names("not (evt.type = open and proc.name = x)"), ["*"]);
        assert_eq!(names("not (evt.type != open)"), ["open"]);
        assert_eq!(excluded("not (evt.type=open or evt.type=close)"), ["close", "open"]);
        assert_eq!(names("evt.type in (open, close) and not evt.type=close"), ["open"]);
        assert!(names("evt.type=open and evt.type=close").is_empty());
        assert_eq!(names("evt.type exists"), ["*"]);
        assert!(names("not evt.type exists").is_empty());
        assert_eq!(names("evt.type startswith op"), ["*"]);
        // A syscall only instrumented generically.
        assert_eq!(names("evt.type = pselect6"), ["syscall"]);
        assert!(event_types(&parse("evt.type = val(evt.arg.x)").unwrap()).is_err());
        assert!(event_types(&parse("tolower(evt.type) = open").unwrap()).is_err());
    }
}
