//! Compiling a condition into a matcher, and evaluating it on events.
//!
//! Compilation resolves every field to an id once, parses every literal to
//! the field's type, turns lists into hash sets (or a path trie for
//! `pmatch`), compiles globs and regexes, and computes the event types the
//! condition can match, so that per event only extraction and comparison
//! remain. The body of a macro ([`Expr::Macro`]) is compiled once per
//! [`FilterCompiler`], into a node shared by all its uses.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use regex::bytes::Regex;
use rustc_hash::FxHashSet;
use saker_fields::{EventContext, Field, FieldType, FieldValue};

use crate::ast::{Expr, FieldRef, Literal, Op, Pos, Rhs, Transformer};
use crate::parse::{ParseError, parse};
use crate::pmatch::PathTrie;
use saker_abi::EventTypeSet;

/// A condition that does not compile: a syntax error, an unknown field, a
/// value of the wrong type, an operator the field does not support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// Where in the condition.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// The line of the condition the error is on, for the caret display.
    pub line_text: String,
}

impl CompileError {
    /// An error at `pos`; the caret line comes from `text` when `pos` points
    /// into it (conditions expanded from several sources pass an empty text).
    fn at(text: &str, pos: Pos, message: impl Into<String>) -> CompileError {
        let line_text = if pos.offset <= text.len() && text.is_char_boundary(pos.offset) {
            let start = text[..pos.offset].rfind('\n').map_or(0, |p| p + 1);
            let end = text[start..].find('\n').map_or(text.len(), |p| start + p);
            text[start..end].to_string()
        } else {
            String::new()
        };
        CompileError { pos, message: message.into(), line_text }
    }
}

impl From<ParseError> for CompileError {
    fn from(e: ParseError) -> Self {
        CompileError { pos: e.pos, message: e.message, line_text: e.line_text }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at {}", self.message, self.pos)?;
        writeln!(f, "  {}", self.line_text)?;
        write!(f, "  {}^", " ".repeat(self.pos.col.saturating_sub(1) as usize))
    }
}

impl std::error::Error for CompileError {}

/// A compiled condition.
///
/// `matches` keeps its scratch buffers inside, so a `Filter` is used by one
/// thread at a time (clone it for each worker).
#[derive(Clone, Debug)]
pub struct Filter {
    root: Node,
    event_types: EventTypeSet,
    scratch: RefCell<Scratch>,
}

#[derive(Clone, Debug, Default)]
struct Scratch {
    lhs: Vec<u8>,
    rhs: Vec<u8>,
    tmp: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Check(Box<Check>),
    /// A macro's body, compiled once and shared by its uses.
    Shared(Arc<Shared>),
}

/// A compiled macro body, with what the walks over a condition want of it
/// computed once: a condition's walks then cost its own nodes, not its
/// expansion.
#[derive(Debug)]
struct Shared {
    node: Node,
    /// [`possible_types`] of `node`.
    possible_types: EventTypeSet,
    /// [`state_reads`] of `node`.
    state_reads: saker_state::Reads,
}

#[derive(Clone, Debug)]
struct Operand {
    field: Field,
    /// Applied in order, innermost first.
    transformers: Box<[Transformer]>,
    ty: FieldType,
}

#[derive(Clone, Debug)]
struct Check {
    lhs: Operand,
    cmp: Cmp,
    /// For a multi-valued field (`proc.aname`, `fd.ip`...), the check holds if
    /// any value matches; `negate` turns "any value equals" into "no value
    /// equals", which is what `!=` means on the two ends of a socket.
    negate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ord2 {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Ord2 {
    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Ord2::Eq => a == b,
            Ord2::Ne => a != b,
            Ord2::Lt => a < b,
            Ord2::Le => a <= b,
            Ord2::Gt => a > b,
            Ord2::Ge => a >= b,
        }
    }
}

#[derive(Clone, Debug)]
enum Cmp {
    Exists,
    StrEq(Box<[u8]>),
    StrNe(Box<[u8]>),
    Contains(memchr::memmem::Finder<'static>),
    /// The needle is lowercase ASCII.
    IContains(Box<[u8]>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(GlobMatcher),
    Regex(Regex),
    StrIn(FxHashSet<Box<[u8]>>),
    Pmatch(PathTrie),
    Int(Ord2, i64),
    IntIn(FxHashSet<i64>),
    Uint(Ord2, u64),
    UintIn(FxHashSet<u64>),
    Bool(Ord2, bool),
    Ip(Ord2, IpAddr),
    IpIn(Vec<IpNet>),
    IpNotIn(Vec<IpNet>),
    /// Compared with another field's value.
    Field(Op, Operand),
}

/// An IP network, `addr/prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Compiles a condition text (no macros or list names left in it).
pub fn compile_str(text: &str) -> Result<Filter, CompileError> {
    let expr = parse(text)?;
    compile(&expr, text)
}

/// Compiles a parsed condition; `text` is the condition's source, for error
/// positions. To compile many conditions using the same macros, use one
/// [`FilterCompiler`] for all of them.
pub fn compile(expr: &Expr, text: &str) -> Result<Filter, CompileError> {
    FilterCompiler::new().compile(expr, text)
}

/// Compiled macro bodies (or their errors) by the body's address; each
/// entry keeps its body alive, so that its address is not reused.
type SharedNodes = HashMap<usize, (Arc<Expr>, Result<Arc<Shared>, CompileError>)>;

/// Compiles the conditions of one load of rules, each macro body once.
///
/// The body of a macro ([`Expr::Macro`]) is the same value in every
/// condition that uses it (rules loading shares it); the compiler compiles it
/// the first time it meets it, into one node that every use, in every
/// condition it compiles, then shares, so memory and compile time follow the
/// definitions rather than the expansion. Evaluation still walks a shared
/// node at each use: it costs what the expanded condition would (which
/// rules loading bounds).
///
/// The conditions compiled by one compiler must share one space of
/// positions (as a load's conditions do): an error in a macro body is
/// reported, with its position, wherever the body is used.
#[derive(Debug, Default)]
pub struct FilterCompiler {
    shared: SharedNodes,
    types: crate::evttype::Memo,
}

impl FilterCompiler {
    /// A compiler that has compiled nothing yet.
    pub fn new() -> Self {
        FilterCompiler::default()
    }

    /// Compiles a parsed condition; `text` is its source, for error
    /// positions (pass an empty text for conditions built from several).
    pub fn compile(&mut self, expr: &Expr, text: &str) -> Result<Filter, CompileError> {
        let mut c = Compiler { text, shared: &mut self.shared };
        let root = c.node(expr)?;
        let event_types =
            crate::evttype::event_types_memo(expr, &mut self.types).map_err(|(pos, msg)| c.err(pos, msg))?;
        let event_types = event_types.intersect(&possible_types(&root));
        Ok(Filter { root, event_types, scratch: RefCell::default() })
    }

    /// How many distinct macro bodies this compiler has compiled: each once,
    /// however many times the conditions use it.
    pub fn macros_compiled(&self) -> usize {
        self.shared.len()
    }
}

/// The event types on which `node` can hold, judged from the fields it
/// needs rather than from `evt.type`: a check on a field of the event's fd
/// is false on events without one. Conservative under `not`.
fn possible_types(node: &Node) -> EventTypeSet {
    match node {
        Node::And(v) => v.iter().fold(EventTypeSet::all(), |acc, n| acc.intersect(&possible_types(n))),
        Node::Or(v) => v.iter().fold(EventTypeSet::none(), |acc, n| acc.union(&possible_types(n))),
        Node::Not(_) => EventTypeSet::all(),
        Node::Check(c) if c.lhs.field.needs_event_fd() => EventTypeSet::with_fd(),
        Node::Check(_) => EventTypeSet::all(),
        Node::Shared(s) => s.possible_types,
    }
}

/// Which optional parts of the state the fields of `node` read.
fn state_reads(n: &Node) -> saker_state::Reads {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().fold(saker_state::Reads::NONE, |r, n| r.union(state_reads(n))),
        Node::Not(n) => state_reads(n),
        Node::Check(c) => {
            let rhs = match &c.cmp {
                Cmp::Field(_, op) => op.field.state_reads(),
                _ => saker_state::Reads::NONE,
            };
            c.lhs.field.state_reads().union(rhs)
        }
        Node::Shared(s) => s.state_reads,
    }
}

impl Filter {
    /// Whether the event matches.
    pub fn matches(&self, ctx: &EventContext<'_>) -> bool {
        let mut scratch = self.scratch.borrow_mut();
        eval(&self.root, ctx, &mut scratch)
    }

    /// The event types the condition can match; events of other types never
    /// match, so callers skip them without evaluating.
    pub fn event_types(&self) -> &EventTypeSet {
        &self.event_types
    }

    /// Which optional parts of the state its fields read
    /// ([`Field::state_reads`]).
    pub fn state_reads(&self) -> saker_state::Reads {
        state_reads(&self.root)
    }
}

fn eval(node: &Node, ctx: &EventContext<'_>, s: &mut Scratch) -> bool {
    match node {
        Node::And(v) => v.iter().all(|n| eval(n, ctx, s)),
        Node::Or(v) => v.iter().any(|n| eval(n, ctx, s)),
        Node::Not(n) => !eval(n, ctx, s),
        Node::Check(c) => check(c, ctx, s),
        Node::Shared(n) => eval(&n.node, ctx, s),
    }
}

/// Extracts an operand's value, transformers applied, into `buf` if it has to be built.
fn extract<'s>(
    op: &Operand,
    ctx: &'s EventContext<'_>,
    buf: &'s mut Vec<u8>,
    tmp: &mut Vec<u8>,
) -> Option<FieldValue<'s>> {
    if op.transformers.is_empty() {
        return op.field.extract(ctx, buf);
    }
    // Build the value in `tmp`, then transform it into `buf` step by step.
    // Transformers apply to text only (checked at compile time).
    let FieldValue::Str(s) = op.field.extract(ctx, tmp)? else { return None };
    let mut cur: Vec<u8> = std::mem::take(buf);
    cur.clear();
    cur.extend_from_slice(s);
    let mut len_result = None;
    for t in op.transformers.iter() {
        match t {
            Transformer::ToLower => cur.make_ascii_lowercase(),
            Transformer::ToUpper => cur.make_ascii_uppercase(),
            Transformer::Basename => {
                let start = cur.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
                cur.drain(..start);
            }
            Transformer::B64 => {
                let decoded = b64_decode(&cur)?;
                cur.clear();
                cur.extend_from_slice(&decoded);
            }
            Transformer::Len => {
                len_result = Some(cur.len() as u64);
            }
        }
    }
    *buf = cur;
    match len_result {
        Some(n) => Some(FieldValue::Uint(n)),
        None => Some(FieldValue::Str(buf)),
    }
}

fn b64_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    Some(out)
}

fn icontains(hay: &[u8], needle_lower: &[u8]) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    hay.windows(needle_lower.len()).any(|w| w.iter().zip(needle_lower).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn check(c: &Check, ctx: &EventContext<'_>, s: &mut Scratch) -> bool {
    let Scratch { lhs, rhs, tmp } = s;
    if c.lhs.field.is_multi() && c.lhs.transformers.is_empty() {
        let mut seen = false;
        let any = c.lhs.field.for_each_value(ctx, lhs, |v| {
            seen = true;
            compare(&c.cmp, v, ctx, rhs)
        });
        // A field without values matches nothing, negated or not.
        return seen && any != c.negate;
    }
    let Some(v) = extract(&c.lhs, ctx, lhs, tmp) else { return false };
    compare(&c.cmp, v, ctx, rhs)
}

/// Whether one extracted value passes the comparison.
fn compare(cmp: &Cmp, v: FieldValue<'_>, ctx: &EventContext<'_>, rhs: &mut Vec<u8>) -> bool {
    match (cmp, v) {
        (Cmp::Exists, _) => true,
        (Cmp::StrEq(l), FieldValue::Str(s)) => s == &**l,
        (Cmp::StrNe(l), FieldValue::Str(s)) => s != &**l,
        (Cmp::Contains(f), FieldValue::Str(s)) => f.find(s).is_some(),
        (Cmp::IContains(l), FieldValue::Str(s)) => icontains(s, l),
        (Cmp::StartsWith(l), FieldValue::Str(s)) => s.starts_with(l),
        (Cmp::EndsWith(l), FieldValue::Str(s)) => s.ends_with(l),
        (Cmp::Glob(g), FieldValue::Str(s)) => {
            use std::os::unix::ffi::OsStrExt;
            g.is_match(std::ffi::OsStr::from_bytes(s))
        }
        (Cmp::Regex(r), FieldValue::Str(s)) => r.is_match(s),
        (Cmp::StrIn(set), FieldValue::Str(s)) => set.contains(s),
        (Cmp::Pmatch(t), FieldValue::Str(s)) => t.matches(s),
        (Cmp::Int(o, l), FieldValue::Int(x)) => o.test(x, *l),
        (Cmp::Int(o, l), FieldValue::Uint(x)) => o.test(x as i64, *l),
        (Cmp::IntIn(set), FieldValue::Int(x)) => set.contains(&x),
        (Cmp::Uint(o, l), FieldValue::Uint(x)) => o.test(x, *l),
        (Cmp::Uint(o, l), FieldValue::Int(x)) => o.test(x as u64, *l),
        (Cmp::UintIn(set), FieldValue::Uint(x)) => set.contains(&x),
        (Cmp::Bool(o, l), FieldValue::Bool(x)) => o.test(x, *l),
        (Cmp::Ip(o, l), FieldValue::Ip(x)) => o.test(x, *l),
        (Cmp::IpIn(nets), FieldValue::Ip(x)) => nets.iter().any(|n| n.contains(x)),
        (Cmp::IpNotIn(nets), FieldValue::Ip(x)) => !nets.iter().any(|n| n.contains(x)),
        (Cmp::Field(op, r), v) => {
            let mut tmp2 = Vec::new();
            let Some(w) = extract(r, ctx, rhs, &mut tmp2) else { return false };
            compare_values(*op, v, w)
        }
        _ => false,
    }
}

/// Compares two extracted values (for `val(field)` right sides).
fn compare_values(op: Op, a: FieldValue<'_>, b: FieldValue<'_>) -> bool {
    use FieldValue as V;
    let ord = |o: Ord2| match (a, b) {
        (V::Int(x), V::Int(y)) => o.test(x, y),
        (V::Uint(x), V::Uint(y)) => o.test(x, y),
        (V::Int(x), V::Uint(y)) => o.test(x as i128, y as i128),
        (V::Uint(x), V::Int(y)) => o.test(x as i128, y as i128),
        (V::Str(x), V::Str(y)) => o.test(x, y),
        (V::Bool(x), V::Bool(y)) => o.test(x, y),
        (V::Ip(x), V::Ip(y)) => o.test(x, y),
        _ => false,
    };
    match op {
        Op::Eq | Op::In | Op::Intersects => ord(Ord2::Eq),
        Op::Ne => ord(Ord2::Ne),
        Op::Lt => ord(Ord2::Lt),
        Op::Le => ord(Ord2::Le),
        Op::Gt => ord(Ord2::Gt),
        Op::Ge => ord(Ord2::Ge),
        Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith => match (a, b) {
            (V::Str(x), V::Str(y)) => match op {
                Op::Contains => memchr::memmem::find(x, y).is_some(),
                Op::IContains => icontains(x, &y.to_ascii_lowercase()),
                Op::StartsWith => x.starts_with(y),
                _ => x.ends_with(y),
            },
            _ => false,
        },
        _ => false,
    }
}

struct Compiler<'t> {
    text: &'t str,
    shared: &'t mut SharedNodes,
}

impl Compiler<'_> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> CompileError {
        CompileError::at(self.text, pos, message)
    }

    fn node(&mut self, e: &Expr) -> Result<Node, CompileError> {
        Ok(match e {
            Expr::And(v, _) => Node::And(v.iter().map(|c| self.node(c)).collect::<Result<_, _>>()?),
            Expr::Or(v, _) => Node::Or(v.iter().map(|c| self.node(c)).collect::<Result<_, _>>()?),
            Expr::Not(c, _) => Node::Not(Box::new(self.node(c)?)),
            Expr::Identifier(name, pos) => {
                return Err(self.err(*pos, format!("undefined macro '{name}'")));
            }
            Expr::Check { field, op, rhs, pos } => Node::Check(Box::new(self.check(field, *op, rhs.as_ref(), *pos)?)),
            Expr::Macro { body, .. } => Node::Shared(self.shared(body)?),
        })
    }

    /// A macro body's node: compiled the first time, shared after.
    fn shared(&mut self, body: &Arc<Expr>) -> Result<Arc<Shared>, CompileError> {
        let key = Arc::as_ptr(body) as usize;
        if let Some((_, r)) = self.shared.get(&key) {
            return r.clone();
        }
        let r = self.node(body).map(|node| {
            Arc::new(Shared { possible_types: possible_types(&node), state_reads: state_reads(&node), node })
        });
        self.shared.insert(key, (Arc::clone(body), r.clone()));
        r
    }

    fn operand(&self, r: &FieldRef) -> Result<Operand, CompileError> {
        match r {
            FieldRef::Field { name, arg, pos } => {
                let text = match arg {
                    Some(a) => format!("{name}[{a}]"),
                    None => name.clone(),
                };
                let field = Field::parse(&text).map_err(|e| self.err(*pos, e.to_string()))?;
                let ty = field.ty();
                Ok(Operand { field, transformers: Box::new([]), ty })
            }
            FieldRef::Transformed { transformer, inner, pos } => {
                let mut op = self.operand(inner)?;
                if op.ty != FieldType::String {
                    return Err(self.err(
                        *pos,
                        format!("'{}' applies to text fields; '{inner}' is {}", transformer.as_str(), op.ty.name()),
                    ));
                }
                let mut ts = op.transformers.into_vec();
                ts.push(*transformer);
                op.transformers = ts.into_boxed_slice();
                if *transformer == Transformer::Len {
                    op.ty = FieldType::Uint64;
                }
                Ok(op)
            }
        }
    }

    fn check(&self, field: &FieldRef, op: Op, rhs: Option<&Rhs>, pos: Pos) -> Result<Check, CompileError> {
        let lhs = self.operand(field)?;
        // `fd.ip != X` on a socket means neither end is X: compile `=` and negate.
        let both_ends = lhs.field.is_multi() && lhs.transformers.is_empty() && lhs.field.info().name.starts_with("fd.");
        if both_ends && op == Op::Ne {
            let mut c = self.check(field, Op::Eq, rhs, pos)?;
            c.negate = true;
            return Ok(c);
        }
        let ty = lhs.ty;
        let unsupported =
            || self.err(pos, format!("operator '{}' is not supported by '{field}' ({})", op.as_str(), ty.name()));
        if op == Op::Exists {
            return Ok(Check { lhs, cmp: Cmp::Exists, negate: false });
        }
        let rhs = rhs.ok_or_else(|| self.err(pos, format!("operator '{}' needs a value", op.as_str())))?;
        // A field on the right.
        if let Rhs::Field(r) = rhs {
            let r = self.operand(r)?;
            let comparable = matches!(
                (ty, r.ty),
                (FieldType::String, FieldType::String)
                    | (
                        FieldType::Int64 | FieldType::Uint64 | FieldType::AbsTime,
                        FieldType::Int64 | FieldType::Uint64 | FieldType::AbsTime
                    )
                    | (FieldType::Bool, FieldType::Bool)
                    | (FieldType::IpAddr, FieldType::IpAddr)
            );
            if !comparable {
                return Err(
                    self.err(pos, format!("'{field}' ({}) cannot be compared with a {} field", ty.name(), r.ty.name()))
                );
            }
            if matches!(op, Op::Glob | Op::IGlob | Op::Regex | Op::Pmatch | Op::BContains | Op::BStartsWith) {
                return Err(unsupported());
            }
            return Ok(Check { lhs, cmp: Cmp::Field(op, r), negate: false });
        }
        let items: Vec<&Literal> = match rhs {
            Rhs::Value(l) => vec![l],
            Rhs::List(v, _) => v.iter().collect(),
            Rhs::Field(_) => unreachable!(),
        };
        let single = || -> Result<&Literal, CompileError> {
            match rhs {
                Rhs::Value(l) => Ok(l),
                Rhs::List(_, p) => {
                    Err(self.err(*p, format!("operator '{}' takes a single value, not a list", op.as_str())))
                }
                Rhs::Field(_) => unreachable!(),
            }
        };
        let cmp = match ty {
            FieldType::String => match op {
                Op::Eq => Cmp::StrEq(single()?.text.as_bytes().into()),
                Op::Ne => Cmp::StrNe(single()?.text.as_bytes().into()),
                Op::Contains => Cmp::Contains(memchr::memmem::Finder::new(single()?.text.as_bytes()).into_owned()),
                Op::IContains => Cmp::IContains(single()?.text.to_ascii_lowercase().into_bytes().into()),
                Op::StartsWith => Cmp::StartsWith(single()?.text.as_bytes().into()),
                Op::EndsWith => Cmp::EndsWith(single()?.text.as_bytes().into()),
                Op::BContains | Op::BStartsWith => {
                    let l = single()?;
                    let bytes = hex_bytes(&l.text).ok_or_else(|| {
                        self.err(l.pos, format!("'{}' needs hexadecimal bytes, like 7f454c46", op.as_str()))
                    })?;
                    if op == Op::BContains {
                        Cmp::Contains(memchr::memmem::Finder::new(&bytes).into_owned())
                    } else {
                        Cmp::StartsWith(bytes.into())
                    }
                }
                Op::Glob | Op::IGlob => {
                    let l = single()?;
                    let g = GlobBuilder::new(&l.text)
                        .case_insensitive(op == Op::IGlob)
                        .literal_separator(false)
                        .backslash_escape(false)
                        .build()
                        .map_err(|e| self.err(l.pos, format!("invalid glob: {e}")))?;
                    Cmp::Glob(g.compile_matcher())
                }
                Op::Regex => {
                    let l = single()?;
                    let r = Regex::new(&format!("^(?:{})$", l.text))
                        .map_err(|e| self.err(l.pos, format!("invalid regex: {e}")))?;
                    Cmp::Regex(r)
                }
                Op::In | Op::Intersects => Cmp::StrIn(items.iter().map(|l| l.text.as_bytes().into()).collect()),
                Op::Pmatch => {
                    let mut t = PathTrie::default();
                    for l in &items {
                        t.insert(l.text.as_bytes());
                    }
                    Cmp::Pmatch(t)
                }
                _ => return Err(unsupported()),
            },
            FieldType::Int64 => {
                let num = |l: &Literal| {
                    parse_int(&l.text)
                        .ok_or_else(|| self.err(l.pos, format!("'{}' is not a number, as '{field}' needs", l.text)))
                };
                match op {
                    Op::In | Op::Intersects => Cmp::IntIn(items.iter().map(|l| num(l)).collect::<Result<_, _>>()?),
                    _ => Cmp::Int(ord(op).ok_or_else(unsupported)?, num(single()?)?),
                }
            }
            FieldType::Uint64 | FieldType::AbsTime => {
                // Ports also take service names (`fd.sport = http`), as in libsinsp.
                let is_port = lhs.field.info().type_name() == "PORT";
                let num = |l: &Literal| {
                    let port = || if is_port { service_port(&l.text).map(i64::from) } else { None };
                    parse_int(&l.text).or_else(port).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
                        self.err(l.pos, format!("'{}' is not a positive number, as '{field}' needs", l.text))
                    })
                };
                match op {
                    Op::In | Op::Intersects => Cmp::UintIn(items.iter().map(|l| num(l)).collect::<Result<_, _>>()?),
                    _ => Cmp::Uint(ord(op).ok_or_else(unsupported)?, num(single()?)?),
                }
            }
            FieldType::Bool => {
                let l = single()?;
                let b = match l.text.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(self.err(l.pos, format!("'{field}' is true or false, not '{}'", l.text))),
                };
                match op {
                    Op::Eq => Cmp::Bool(Ord2::Eq, b),
                    Op::Ne => Cmp::Bool(Ord2::Ne, b),
                    _ => return Err(unsupported()),
                }
            }
            FieldType::IpAddr | FieldType::IpNet => {
                let net = |l: &Literal| {
                    IpNet::parse(&l.text)
                        .ok_or_else(|| self.err(l.pos, format!("'{}' is not an IP address or network", l.text)))
                };
                match op {
                    Op::In | Op::Intersects => Cmp::IpIn(items.iter().map(|l| net(l)).collect::<Result<_, _>>()?),
                    Op::Eq | Op::Ne => {
                        let n = net(single()?)?;
                        let full = if n.addr.is_ipv4() { 32 } else { 128 };
                        if n.prefix == full {
                            Cmp::Ip(if op == Op::Eq { Ord2::Eq } else { Ord2::Ne }, n.addr)
                        } else if op == Op::Eq {
                            Cmp::IpIn(vec![n])
                        } else {
                            Cmp::IpNotIn(vec![n])
                        }
                    }
                    _ => return Err(unsupported()),
                }
            }
        };
        Ok(Check { lhs, cmp, negate: false })
    }
}

fn ord(op: Op) -> Option<Ord2> {
    Some(match op {
        Op::Eq => Ord2::Eq,
        Op::Ne => Ord2::Ne,
        Op::Lt => Ord2::Lt,
        Op::Le => Ord2::Le,
        Op::Gt => Ord2::Gt,
        Op::Ge => Ord2::Ge,
        _ => return None,
    })
}

/// Decimal or `0x` hexadecimal, with an optional sign.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => i128::from_str_radix(h, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    let v = if neg { -v } else { v };
    // Unsigned 64-bit values above i64::MAX keep their bits.
    if v > i64::MAX as i128 { u64::try_from(v).ok().map(|u| u as i64) } else { i64::try_from(v).ok() }
}

/// The port of a service name from `/etc/services` (`http` -> 80).
fn service_port(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string("/etc/services").ok()?;
    text.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let mut words = line.split_whitespace();
        let service = words.next()?;
        let port = words.next()?.split('/').next()?.parse().ok()?;
        (service == name || words.any(|alias| alias == name)).then_some(port)
    })
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("18446744073709551615"), Some(-1));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(hex_bytes("7f454c46"), Some(vec![0x7f, b'E', b'L', b'F']));
        assert_eq!(hex_bytes("7f4"), None);
        assert_eq!(b64_decode(b"aGVsbG8="), Some(b"hello".to_vec()));
        assert!(icontains(b"Hello World", b"lo wo"));
        if std::path::Path::new("/etc/services").exists() {
            assert_eq!(service_port("http"), Some(80));
            assert_eq!(service_port("no-such-service"), None);
        }
    }

    #[test]
    fn checks_on_the_events_fd_skip_events_without_one() {
        use saker_abi::EventType as T;
        let types = |c: &str| *compile_str(c).unwrap().event_types();
        let fd = types("fd.typechar = f and not proc.name in (systemd, sshd)");
        assert!(fd.contains(T::SYSCALL_OPENAT_2_X) && fd.contains(T::SYSCALL_READ_X));
        assert!(!fd.contains(T::SCHEDSWITCH_6_E) && !fd.contains(T::GENERIC_X));
        assert_eq!(fd, EventTypeSet::with_fd());
        assert_eq!(types("fd.name exists"), fd);
        // Not under a negation, nor beside a check that needs no fd.
        assert!(types("not fd.typechar = f").is_all());
        assert!(types("fd.name = /etc/passwd or proc.name = cat").is_all());
        // A poll event's fd list is not the event's fd.
        assert!(types("fdlist.names contains passwd").is_all());
        // And evt.type still narrows on top.
        assert_eq!(types("evt.type = openat and fd.typechar = f").names(), ["openat"]);
    }

    /// A use of macro `name`, whose body is `body`.
    fn use_of(name: &str, body: &Arc<Expr>) -> Expr {
        Expr::Macro { name: name.into(), body: Arc::clone(body), pos: Pos::default() }
    }

    /// The shared nodes directly under the root's `and`.
    fn shared_nodes(f: &Filter) -> Vec<&Arc<Shared>> {
        let Node::And(v) = &f.root else { panic!("{:?}", f.root) };
        v.iter().filter_map(|n| if let Node::Shared(s) = n { Some(s) } else { None }).collect()
    }

    /// An openat of /etc/passwd, on which `f` is evaluated.
    fn matches_openat(f: &Filter) -> bool {
        let mut buf = Vec::new();
        let mut b = saker_abi::EventBuilder::new(&mut buf, 1, 42, saker_abi::EventType::SYSCALL_OPENAT_2_X);
        b.param_i64(3).param_i64(-100).param_str(b"/etc/passwd").param_u64(1).param_u64(0o644);
        b.param_u64(0xfe00).param_u64(77);
        b.finish();
        let event = saker_abi::Event::parse(&buf).unwrap();
        let time = saker_fields::TimeFormatter::default();
        let ctx = EventContext { event, num: 1, cpu: 0, time: &time, state: &saker_fields::NoState };
        f.matches(&ctx)
    }

    #[test]
    fn a_macro_compiles_once_into_one_node_shared_by_every_use() {
        let inner = Arc::new(parse("evt.arg.name startswith /etc").unwrap());
        let body = Arc::new(Expr::And(
            vec![parse("evt.type in (open, openat)").unwrap(), use_of("inner", &inner)],
            Pos::default(),
        ));
        // Ten rules, each using the macro three times.
        let rule = |extra: String| {
            Expr::And(
                vec![use_of("m", &body), parse(&extra).unwrap(), use_of("m", &body), use_of("m", &body)],
                Pos::default(),
            )
        };
        let mut c = FilterCompiler::new();
        let filters: Vec<Filter> = (0..10).map(|i| c.compile(&rule(format!("evt.num != {i}")), "").unwrap()).collect();
        // Two bodies, each compiled once, however often used.
        assert_eq!(c.macros_compiled(), 2);
        let first = shared_nodes(&filters[0])[0];
        for f in &filters {
            let uses = shared_nodes(f);
            assert_eq!(uses.len(), 3);
            assert!(uses.iter().all(|s| Arc::ptr_eq(s, first)));
        }
        // The 30 uses and the compiler's own reference.
        assert_eq!(Arc::strong_count(first), 31);
        // The nested macro: one node, under the shared body only.
        let Node::And(v) = &first.node else { panic!() };
        let Node::Shared(nested) = &v[1] else { panic!("{:?}", v[1]) };
        assert_eq!(Arc::strong_count(nested), 2);
        // Evaluation, event types and state reads go through the shared nodes.
        assert!(matches_openat(&filters[0]));
        assert_eq!(filters[0].event_types().names(), ["open", "openat"]);
        let other = Arc::new(parse("evt.arg.name startswith /usr").unwrap());
        let f = c.compile(&Expr::And(vec![use_of("m", &body), use_of("o", &other)], Pos::default()), "").unwrap();
        assert!(!matches_openat(&f));
        assert_eq!(c.macros_compiled(), 3);
        let reads = compile_str("user.name = root").unwrap().state_reads();
        let users = Arc::new(parse("user.name = root").unwrap());
        let f = c.compile(&Expr::And(vec![use_of("m", &body), use_of("u", &users)], Pos::default()), "").unwrap();
        assert_eq!(f.state_reads(), reads);
        assert!(f.state_reads().users);
        let fd = Arc::new(parse("fd.name exists").unwrap());
        let f = c.compile(&use_of("fd", &fd), "").unwrap();
        assert_eq!(*f.event_types(), EventTypeSet::with_fd());
    }

    #[test]
    fn a_doubling_macro_chain_compiles_in_linear_time() {
        // m_i = m_(i-1) or m_(i-1): 2^60 checks once expanded, 61 bodies shared.
        let mut m = Arc::new(parse("evt.type = openat and evt.arg.name = /etc/passwd").unwrap());
        for _ in 0..60 {
            m = Arc::new(Expr::Or(vec![use_of("m", &m), use_of("m", &m)], Pos::default()));
        }
        let top = Expr::And(vec![use_of("m", &m), parse("proc.name exists or evt.num > 0").unwrap()], Pos::default());
        let t = std::time::Instant::now();
        let mut c = FilterCompiler::new();
        let f = c.compile(&top, "").unwrap();
        assert_eq!(c.macros_compiled(), 61);
        assert_eq!(f.event_types().names(), ["openat"]);
        assert_eq!(crate::event_types(&top).unwrap().names(), ["openat"]);
        let mut nodes = 0;
        top.visit(&mut |_| nodes += 1);
        assert_eq!(nodes, 2 + 60 * 3 + 3 + 3);
        // The first branch of each `or` holds: evaluation stops there.
        assert!(matches_openat(&f));
        assert!(t.elapsed().as_secs() < 2, "{:?}", t.elapsed());
        // An error in the innermost body stops the compile.
        let mut m = Arc::new(parse("evt.num > abc").unwrap());
        for _ in 0..60 {
            m = Arc::new(Expr::Or(vec![use_of("m", &m), use_of("m", &m)], Pos::default()));
        }
        let e = FilterCompiler::new().compile(&use_of("m", &m), "").unwrap_err();
        assert!(e.message.contains("not a positive number"), "{e}");
    }

    #[test]
    fn networks() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        let n6 = IpNet::parse("fe80::/10").unwrap();
        assert!(n6.contains("fe80::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn compile_errors_are_located() {
        let e = compile_str("evt.type = open and\n  evt.num > abc").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 13));
        assert!(e.message.contains("not a positive number"), "{e}");
        let e = compile_str("proc.nmae = bash").unwrap_err();
        assert!(e.message.contains("unknown field 'proc.nmae'") && e.message.contains("proc.name"), "{e}");
        let e = compile_str("evt.num contains 3").unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
        let e = compile_str("spawned_process and evt.num = 1").unwrap_err();
        assert!(e.message.contains("undefined macro 'spawned_process'"), "{e}");
        let e = compile_str("evt.type regex '('").unwrap_err();
        assert!(e.message.contains("invalid regex"), "{e}");
    }
}
