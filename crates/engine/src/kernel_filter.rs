//! The kernel filters the loaded rules allow: which opens any rule, or the
//! state for a later rule, can care about ([`saker_driver::kernel_filter`]).
//!
//! The derivation is conservative: for each rule it computes a condition
//! every event the rule can match satisfies (a *necessary* condition, made
//! of what the kernel can check: the path an open names, its flags),
//! and the filter is the union over the rules. A check it cannot express
//! becomes "anything", never "nothing", so an event the filter leaves out
//! is one no rule could have matched, nor read later through its fd.
//!
//! Two uses of an open are covered:
//! - a rule on the open itself (`open_read and fd.name in (...)`): its path
//!   and flag checks;
//! - a rule on a later event of the fd the open created (a read, a close, a
//!   dup...) that reads `fd.*` fields or the rendered arguments in its
//!   condition or output: the paths its condition needs (none when it
//!   requires a socket, as `fd.type in (ipv4, ipv6)`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use saker_abi::{EventType, EventTypeSet};
use saker_driver::kernel_filter::{MAX_FILTER_PATH, MAX_OPEN_TERMS, OPEN_CALLS, OpenFilter, OpenTerm, PathMatch};
use saker_filter::{Expr, FieldRef, Op, Rhs};

/// The event types of each entry of [`OPEN_CALLS`].
fn call_types(call: usize) -> EventTypeSet {
    let mut s = EventTypeSet::none();
    let types: &[EventType] = match call {
        0 => &[EventType::SYSCALL_OPEN_E, EventType::SYSCALL_OPEN_X],
        1 => &[
            EventType::SYSCALL_OPENAT_E,
            EventType::SYSCALL_OPENAT_X,
            EventType::SYSCALL_OPENAT_2_E,
            EventType::SYSCALL_OPENAT_2_X,
        ],
        2 => &[EventType::SYSCALL_OPENAT2_E, EventType::SYSCALL_OPENAT2_X],
        _ => &[EventType::SYSCALL_CREAT_E, EventType::SYSCALL_CREAT_X],
    };
    types.iter().for_each(|t| s.insert(*t));
    s
}

/// The types whose events act on an fd made before them (a read, a close,
/// a dup): those that only create one (socket, accept, pipe) see their own.
fn uses_fd() -> EventTypeSet {
    use saker_abi::EventFlags as F;
    let mut s = EventTypeSet::none();
    for i in saker_abi::EVENT_TABLE.iter() {
        if i.flags.0 & (F::USES_FD.0 | F::DESTROYS_FD.0) != 0 {
            s.insert(EventType(i.code));
        }
    }
    s
}

fn open_types() -> EventTypeSet {
    (0..OPEN_CALLS.len()).fold(EventTypeSet::none(), |acc, c| acc.union(&call_types(c)))
}

/// A conjunction the kernel can check.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Term {
    /// `None`: any path.
    paths: Option<BTreeSet<PathMatch>>,
    /// At least one of these flag bits; 0: any.
    flags: u32,
}

const ANY: Term = Term { paths: None, flags: 0 };

/// A necessary condition: a disjunction of terms (none: the condition
/// never holds, or holds only for opens the kernel always sends).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Need(Vec<Term>);

/// Most terms a conjunction may expand into before one side is kept alone.
const MAX_PRODUCT: usize = 16;

impl Need {
    fn any() -> Need {
        Need(vec![ANY])
    }

    fn never() -> Need {
        Need(Vec::new())
    }

    fn is_any(&self) -> bool {
        self.0.contains(&ANY)
    }

    fn or(mut self, o: Need) -> Need {
        if self.is_any() || o.is_any() {
            return Need::any();
        }
        self.0.extend(o.0);
        self.0.sort();
        self.0.dedup();
        self
    }

    /// Both hold. Each side alone is a sound answer; the product of the two
    /// disjunctions is kept when small, each pair of terms merged.
    fn and(self, o: Need) -> Need {
        if self.0.is_empty() || o.0.is_empty() {
            return Need::never();
        }
        if self.is_any() {
            return o;
        }
        if o.is_any() {
            return self;
        }
        if self.0.len() * o.0.len() <= MAX_PRODUCT {
            let mut v: Vec<Term> = self.0.iter().flat_map(|a| o.0.iter().map(move |b| merge(a, b))).collect();
            v.sort();
            v.dedup();
            return Need(v);
        }
        // Too many: keep the side that lets fewer opens through.
        if o.0.iter().filter(|t| t.paths.is_none()).count() < self.0.iter().filter(|t| t.paths.is_none()).count() {
            o
        } else {
            self
        }
    }
}

/// A term implied by both `a` and `b` holding: each dimension from the side
/// that constrains it (the narrower path set when both do).
fn merge(a: &Term, b: &Term) -> Term {
    let paths = match (&a.paths, &b.paths) {
        (Some(p), Some(q)) => Some(if q.len() < p.len() { q.clone() } else { p.clone() }),
        (Some(p), None) | (None, Some(p)) => Some(p.clone()),
        (None, None) => None,
    };
    let flags = if a.flags != 0 { a.flags } else { b.flags };
    Term { paths, flags }
}

/// What is being derived: the need of an open of one syscall itself, or of
/// a later event on the fd an open made.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Ctx {
    Open(usize),
    LaterFd,
}

/// The fields that read a socket's addresses: they have no value for a
/// file, so a check on them that holds rules files out.
const SOCKET_FIELDS: &[&str] = &[
    "fd.ip",
    "fd.cip",
    "fd.sip",
    "fd.lip",
    "fd.rip",
    "fd.port",
    "fd.cport",
    "fd.sport",
    "fd.lport",
    "fd.rport",
    "fd.net",
    "fd.cnet",
    "fd.snet",
    "fd.lnet",
    "fd.rnet",
    "fd.cip.name",
    "fd.sip.name",
    "fd.lip.name",
    "fd.rip.name",
];

/// Walks conditions. The needs of macro bodies already walked are kept by
/// body (its address), context and polarity; each entry keeps its body
/// alive, so that the address is not reused.
#[derive(Default)]
struct Deriver {
    memo: HashMap<(usize, bool, Ctx), Need>,
    keep: Vec<Arc<Expr>>,
}

impl Deriver {
    fn need(&mut self, e: &Expr, negated: bool, ctx: Ctx) -> Need {
        match e {
            Expr::And(v, _) | Expr::Or(v, _) => {
                let is_and = matches!(e, Expr::And(..)) != negated;
                let mut acc = if is_and { Need::any() } else { Need::never() };
                for c in v {
                    let n = self.need(c, negated, ctx);
                    acc = if is_and { acc.and(n) } else { acc.or(n) };
                }
                acc
            }
            Expr::Not(c, _) => self.need(c, !negated, ctx),
            Expr::Identifier(..) => Need::any(),
            Expr::Macro { body, .. } => {
                let key = (Arc::as_ptr(body) as usize, negated, ctx);
                if let Some(n) = self.memo.get(&key) {
                    return n.clone();
                }
                let n = self.need(body, negated, ctx);
                self.keep.push(Arc::clone(body));
                self.memo.insert(key, n.clone());
                n
            }
            Expr::Check { field, op, rhs, .. } => {
                if negated {
                    // Only evt.type narrows under a negation (below).
                    if let (Ctx::Open(call), true) = (ctx, is_field(field, "evt.type")) {
                        return type_need(e, true, call);
                    }
                    return Need::any();
                }
                check_need(e, field, *op, rhs.as_ref(), ctx)
            }
        }
    }
}

fn is_field(f: &FieldRef, name: &str) -> bool {
    matches!(f, FieldRef::Field { name: n, arg: None, .. } if n == name)
}

/// An `evt.type` check on an open of `call`: never when it excludes the
/// call's events.
fn type_need(check: &Expr, negated: bool, call: usize) -> Need {
    let e = if negated { Expr::Not(Box::new(check.clone()), check.pos()) } else { check.clone() };
    match saker_filter::event_types(&e) {
        Ok(t) if t.intersect(&call_types(call)).is_empty() => Need::never(),
        _ => Need::any(),
    }
}

fn values(rhs: Option<&Rhs>) -> Option<Vec<&str>> {
    match rhs? {
        Rhs::Value(l) => Some(vec![l.text.as_str()]),
        Rhs::List(items, _) => Some(items.iter().map(|l| l.text.as_str()).collect()),
        Rhs::Field(_) => None,
    }
}

/// A positive check's need.
fn check_need(e: &Expr, field: &FieldRef, op: Op, rhs: Option<&Rhs>, ctx: Ctx) -> Need {
    let FieldRef::Field { name, arg: None, .. } = field else { return Need::any() };
    let name = name.as_str();
    if name == "evt.type" {
        return match ctx {
            Ctx::Open(call) => type_need(e, false, call),
            Ctx::LaterFd => Need::any(),
        };
    }
    let Some(vals) = values(rhs) else { return Need::any() };
    match (name, op) {
        // A path with `..` in it is always sent (the kernel does not
        // normalize), so a check that needs one needs nothing more.
        ("fd.name" | "fd.nameraw", Op::Contains | Op::Glob) if vals.iter().all(|v| v.contains("..")) => Need::never(),
        ("fd.name" | "fd.nameraw", Op::Eq | Op::In) => paths(vals.iter().map(|v| PathMatch::Exact(v.to_string()))),
        ("fd.name" | "fd.nameraw", Op::StartsWith | Op::Pmatch) => {
            paths(vals.iter().map(|v| PathMatch::Prefix(v.to_string())))
        }
        ("fd.name" | "fd.nameraw", Op::Glob) => {
            paths(vals.iter().map(|v| PathMatch::Prefix(v[..v.find(['*', '?', '[', '\\']).unwrap_or(v.len())].into())))
        }
        ("fd.directory", Op::Eq | Op::In) => paths(
            vals.iter().map(|v| PathMatch::Prefix(if v.ends_with('/') { v.to_string() } else { format!("{v}/") })),
        ),
        ("evt.is_open_read", Op::Eq) if matches!(ctx, Ctx::Open(_)) && vals == ["true"] => flags(1),
        ("evt.is_open_write", Op::Eq) if matches!(ctx, Ctx::Open(_)) && vals == ["true"] => flags(2),
        // Later events: a check only sockets pass keeps no open.
        ("fd.type", Op::Eq | Op::In) if ctx == Ctx::LaterFd => {
            if vals.iter().any(|v| matches!(*v, "file" | "directory")) { Need::any() } else { Need::never() }
        }
        ("fd.typechar", Op::Eq | Op::In) if ctx == Ctx::LaterFd => {
            if vals.iter().any(|v| matches!(*v, "f" | "d")) {
                Need::any()
            } else {
                Need::never()
            }
        }
        (f, Op::Eq | Op::In | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Pmatch)
            if ctx == Ctx::LaterFd && SOCKET_FIELDS.contains(&f) =>
        {
            Need::never()
        }
        _ => Need::any(),
    }
}

fn flags(bits: u32) -> Need {
    Need(vec![Term { paths: None, flags: bits }])
}

/// The paths of a check, those the kernel always sends left out (a
/// relative name, one too long to compare): a check on no other path
/// needs nothing more.
fn paths(it: impl Iterator<Item = PathMatch>) -> Need {
    let mut set = BTreeSet::new();
    for p in it {
        let s = match &p {
            PathMatch::Exact(s) | PathMatch::Prefix(s) => s,
        };
        if matches!(p, PathMatch::Prefix(_)) && s.is_empty() {
            return Need::any();
        }
        // Paths of MAX_FILTER_PATH - 1 bytes or more are always sent.
        if !s.starts_with('/') || s.len() >= MAX_FILTER_PATH - 1 {
            continue;
        }
        set.insert(p);
    }
    if set.is_empty() { Need::never() } else { Need(vec![Term { paths: Some(set), flags: 0 }]) }
}

/// The fields that read all the fds of a process.
const PROCESS_FD_FIELDS: &[&str] = &["fd.types", "proc.fdopencount", "proc.fdusage"];

/// The fields of a rule that read a file fd's state (the fd table), for
/// events of `types`: `fd.*` and the fd-counting `proc.fd*`, `fs.path.*`
/// and `evt.abspath*` (resolved through directory fds), and the rendered
/// arguments (`evt.args`, `evt.info`, `evt.arg.X` of an fd parameter X).
fn reads_fd_table(name: &str, types: &EventTypeSet) -> bool {
    if name.starts_with("fd.")
        || name.starts_with("proc.fd")
        || name.starts_with("fs.path.")
        || name.starts_with("evt.abspath")
        || matches!(name, "evt.args" | "evt.info")
    {
        return true;
    }
    let Some(arg) = name.strip_prefix("evt.arg.").or_else(|| name.strip_prefix("evt.arg[")) else { return false };
    let arg = arg.trim_end_matches(']');
    types.iter().filter_map(|t| t.info()).any(|i| {
        i.params.iter().enumerate().any(|(ix, p)| {
            (p.name == arg || ix.to_string() == arg)
                && matches!(p.ty, saker_abi::ParamType::Fd | saker_abi::ParamType::Fd32)
        })
    })
}

fn field_names(e: &Expr) -> Vec<String> {
    let mut v = Vec::new();
    e.visit(&mut |n| {
        if let Expr::Check { field, rhs, .. } = n {
            push_field(field, &mut v);
            if let Some(Rhs::Field(f)) = rhs {
                push_field(f, &mut v);
            }
        }
    });
    v
}

fn push_field(f: &FieldRef, v: &mut Vec<String>) {
    match f {
        FieldRef::Field { name, .. } => v.push(name.clone()),
        FieldRef::Transformed { inner, .. } => push_field(inner, v),
    }
}

/// Collects the rules' needs into an [`OpenFilter`].
#[derive(Default)]
pub(crate) struct FilterBuilder {
    /// (calls, flags) -> paths (`None`: any).
    terms: BTreeMap<(u8, u32), Option<BTreeSet<PathMatch>>>,
    deriver: Deriver,
}

impl FilterBuilder {
    /// Adds one rule: its condition, the fields its output prints, and the
    /// event types it can match.
    pub(crate) fn add_rule(&mut self, cond: &Expr, output_fields: &[&str], types: &EventTypeSet) {
        let d = &mut self.deriver;
        let names = field_names(cond);
        let all_fields = || names.iter().map(String::as_str).chain(output_fields.iter().copied());
        // Fields over all of a process's fds (their types, their count)
        // read every open it made: every open must be sent.
        if all_fields().any(|n| PROCESS_FD_FIELDS.contains(&n)) {
            Self::add(&mut self.terms, (1 << OPEN_CALLS.len()) - 1, ANY);
            return;
        }
        for call in 0..OPEN_CALLS.len() {
            if types.intersect(&call_types(call)).is_empty() {
                continue;
            }
            let need = d.need(cond, false, Ctx::Open(call));
            for t in need.0 {
                Self::add(&mut self.terms, 1 << call, t);
            }
        }
        let later = types.intersect(&uses_fd()).intersect(&open_types().complement());
        if later.is_empty() {
            return;
        }
        let names = field_names(cond);
        let reads =
            names.iter().map(String::as_str).chain(output_fields.iter().copied()).any(|n| reads_fd_table(n, &later));
        if reads {
            let need = d.need(cond, false, Ctx::LaterFd);
            for t in need.0 {
                // Any flags: the later event does not see them.
                Self::add(&mut self.terms, (1 << OPEN_CALLS.len()) - 1, Term { paths: t.paths, flags: 0 });
            }
        }
    }

    fn add(terms: &mut BTreeMap<(u8, u32), Option<BTreeSet<PathMatch>>>, calls: u8, t: Term) {
        let slot = terms.entry((calls, t.flags)).or_insert_with(|| Some(BTreeSet::new()));
        match (slot.as_mut(), t.paths) {
            (Some(set), Some(p)) => set.extend(p),
            (Some(_), None) => *slot = None,
            (None, _) => {}
        }
    }

    /// The filter; every open is sent when the terms do not fit the kernel's
    /// table.
    pub(crate) fn build(self) -> OpenFilter {
        let mut terms: Vec<OpenTerm> = self
            .terms
            .into_iter()
            .map(|((calls, flags_any), paths)| OpenTerm {
                calls,
                paths: paths.map(|p| p.into_iter().collect()),
                flags_any,
            })
            .collect();
        if terms.len() > MAX_OPEN_TERMS {
            terms = vec![OpenTerm { calls: (1 << OPEN_CALLS.len()) - 1, paths: None, flags_any: 0 }];
        }
        OpenFilter { terms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rules: &[(&str, &str)]) -> OpenFilter {
        let mut b = FilterBuilder::default();
        for (cond, out) in rules {
            let e = saker_filter::parse(cond).unwrap();
            let types = saker_filter::event_types(&e).unwrap();
            let fields: Vec<&str> = out.split_whitespace().collect();
            b.add_rule(&e, &fields, &types);
        }
        b.build()
    }

    fn lines(f: &OpenFilter) -> Vec<String> {
        f.describe()
    }

    #[test]
    fn paths_and_flags_of_open_rules() {
        let f = filter(&[(
            "evt.type in (open, openat) and evt.is_open_read=true and (fd.name in (/etc/shadow, /etc/sudoers) or fd.directory = /etc/pam.d)",
            "fd.name proc.name",
        )]);
        assert_eq!(
            lines(&f)[1],
            "openat: sent when path in (/etc/shadow, /etc/sudoers, /etc/pam.d/*) and flags have O_RDONLY (or a relative, unnormalized or long path, or a directory)"
        );
        assert!(lines(&f)[2].starts_with("openat2: none sent"), "{:?}", lines(&f));
        assert!(lines(&f)[3].starts_with("creat: none sent"));
    }

    #[test]
    fn what_cannot_be_checked_keeps_everything() {
        let f = filter(&[("evt.type = openat and fd.name contains id_rsa", "")]);
        assert!(f.keeps_all("openat"));
        let f = filter(&[("evt.type = openat and not fd.name startswith /etc", "")]);
        assert!(f.keeps_all("openat"));
        let f = filter(&[("fd.name startswith /etc or proc.name = cat", "")]);
        assert!(f.keeps_all("open") && f.keeps_all("creat"));
        // A relative name is always sent: nothing more to keep.
        let f = filter(&[("evt.type = openat and fd.name = relative", "")]);
        assert!(!f.keeps_all("openat") && f.terms.is_empty());
        // `..` paths are always sent.
        let f = filter(&[("evt.type = openat and fd.nameraw contains '../'", "")]);
        assert!(f.terms.is_empty());
    }

    #[test]
    fn later_events_on_the_fd() {
        // A rule on reads of a file's fd keeps the opens of its paths.
        let f = filter(&[("evt.type = read and fd.name startswith /var/log", "")]);
        assert_eq!(
            lines(&f)[1],
            "openat: sent when path in (/var/log*) (or a relative, unnormalized or long path, or a directory)"
        );
        // One on sockets keeps none, even printing fd.name.
        let f = filter(&[("evt.type = dup and fd.type in (ipv4, ipv6)", "fd.name")]);
        assert!(f.terms.is_empty());
        let f = filter(&[("evt.type = connect and fd.sport = 443", "fd.name evt.args")]);
        assert!(f.terms.is_empty());
        // Printing the fd of an unconstrained later event keeps everything.
        let f = filter(&[("evt.type = close and proc.name = cat", "fd.name")]);
        assert!(f.keeps_all("openat"));
        // Not reading the fd table: nothing.
        let f = filter(&[("evt.type = execve and proc.name = cat", "proc.cmdline")]);
        assert!(f.terms.is_empty());
        // evt.arg of a non-fd parameter does not read it.
        let f = filter(&[("evt.type = unlinkat and evt.arg.name contains bash_history", "evt.arg.name")]);
        assert!(f.terms.is_empty());
        let f = filter(&[("evt.type = write", "evt.arg.fd")]);
        assert!(f.keeps_all("openat"));
        // The types of all the process's fds: every open.
        let f = filter(&[("evt.type = sendto and fd.type = ipv4", "fd.types")]);
        assert!(f.keeps_all("openat") && f.keeps_all("creat"));
        let f = filter(&[("evt.type = execve and proc.fdopencount > 100", "")]);
        assert!(f.keeps_all("open"));
    }

    #[test]
    fn macros_and_negations() {
        let f = filter(&[("evt.type = openat and not (evt.type != openat or not fd.name startswith /root/.ssh)", "")]);
        // Negations are pushed down to the checks: not (a or not b) = not a and b.
        assert_eq!(f.terms.len(), 1);
        assert_eq!(f.terms[0].paths, Some(vec![PathMatch::Prefix("/root/.ssh".into())]));
        let f = filter(&[("evt.type = openat and not fd.name in (/etc/a)", "")]);
        assert!(f.keeps_all("openat"));
        let f = filter(&[("not evt.type in (open, openat, openat2, creat) and proc.name = x", "")]);
        assert!(f.terms.is_empty());
    }
}
