//! From collected definitions to expanded, validated rules, the way Falco's
//! `rule_loader_compiler.cpp` does it: lists expanded into conditions,
//! exceptions turned into `and not (...)` clauses, macros substituted with
//! Falco's visibility order, fields checked, event types computed. A macro's
//! resolved body is one value, shared by all its uses ([`Expr::Macro`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use saker_filter::{Expr, FieldRef, Literal, Op, Pos, Rhs};

use crate::diag::{Code, Context, Diagnostic, ItemType, Location, Snippet};
use crate::model::{Exception, ExceptionValue, FieldChecker, List, Macro, Rule, SkippedRule};
use crate::reader::{Collector, Entry, ExInfo, RuleInfo, Scalar};
use crate::source::{FileId, Files, Text, text_label, text_line};

/// Every text that was parsed, in one offset space, so that any node
/// position of an expanded condition leads back to its file.
pub(crate) struct SourceMap {
    files: Arc<Files>,
    entries: Vec<MapEntry>,
    next: usize,
}

struct MapEntry {
    base: usize,
    text: Text,
    /// Context down to the key (`rule condition`, `macro condition`...).
    context: Vec<Context>,
    /// `condition expression` or `rule output expression`.
    inner: ItemType,
}

impl SourceMap {
    pub fn new(files: Arc<Files>) -> Self {
        SourceMap { files, entries: Vec::new(), next: 0 }
    }

    /// Registers a text; its local offsets become `base + offset`.
    fn add(&mut self, text: Text, context: Vec<Context>, inner: ItemType) -> usize {
        let base = self.next;
        self.next += text.s.len() + 1;
        self.entries.push(MapEntry { base, text, context, inner });
        base
    }

    fn entry(&self, offset: usize) -> Option<&MapEntry> {
        let i = self.entries.partition_point(|e| e.base <= offset);
        self.entries.get(i.checked_sub(1)?)
    }

    /// The file location of a global offset, if it maps to an exact byte.
    pub fn locate(&self, offset: usize) -> Option<Location> {
        let e = self.entry(offset)?;
        let spot = e.text.locate(offset - e.base)?;
        spot.exact.then(|| self.files.get(spot.file).location(spot.offset))
    }

    /// A diagnostic at a global offset.
    pub fn diag(&self, offset: usize, code: Code, message: String) -> Diagnostic {
        match self.entry(offset) {
            Some(e) => text_diag(&self.files, &e.text, &e.context, e.inner, offset - e.base, code, message),
            None => Diagnostic { severity: code.severity(), code, message, context: Vec::new(), snippet: None },
        }
    }
}

/// A diagnostic at byte `local` of `text`: the context down to the key, then
/// the place in the text (and in the file, when it maps exactly), and the
/// offending line with a caret.
fn text_diag(
    files: &Files,
    text: &Text,
    context: &[Context],
    inner: ItemType,
    local: usize,
    code: Code,
    message: String,
) -> Diagnostic {
    // At the end (or in trailing blanks): just after the last character.
    let local = local.min(text.s.len());
    let local = if text.s.get(local..).is_some_and(|t| t.trim().is_empty()) { text.s.trim_end().len() } else { local };
    let spot = text.locate(local);
    let (line_text, line, col) = text_line(&text.s, local);
    let mut context = context.to_vec();
    // The key's step points at the scalar the place is in (an appended condition may be elsewhere).
    if let (Some(last), Some(s)) = (context.last_mut(), spot)
        && matches!(last.item, ItemType::RuleCondition | ItemType::MacroCondition | ItemType::RuleOutput)
    {
        last.location = Some(files.get(s.file).location(s.anchor));
    }
    let exact = spot.filter(|s| s.exact);
    context.push(Context {
        item: inner,
        name: None,
        location: exact.map(|s| files.get(s.file).location(s.offset)),
        in_text: Some((text_label(&text.s), line, col)),
    });
    let snippet = match exact {
        Some(s) => files.get(s.file).snippet(s.offset),
        None => Snippet { line: line_text, column: col },
    };
    Diagnostic { severity: code.severity(), code, message, context, snippet: Some(snippet) }
}

/// A list item after expansion.
#[derive(Clone, Debug)]
struct ListValue {
    text: String,
}

/// A field problem found in a text: where (global offset) and what.
#[derive(Clone, Debug)]
struct FieldProblem {
    offset: usize,
    message: String,
    code: Code,
}

/// A macro with its references substituted.
struct Resolved {
    /// The body every use shares.
    body: Arc<Expr>,
    /// The macros it uses, transitively.
    deps: BTreeSet<usize>,
    /// Its nodes once expanded (see [`expr_size`]): what evaluating it costs.
    size: usize,
}

#[derive(Clone)]
enum MacroState {
    Todo,
    InProgress,
    Done(Option<Rc<Resolved>>),
}

/// The most nodes (checks, `and`/`or`/`not`, list items) one condition may
/// have once its macros and lists are expanded. A macro's body is shared by
/// its uses, in memory and compiled, but evaluated at each use, so macros
/// that each use the previous one twice double the evaluation's cost at
/// every level: without a bound 40 levels would take forever on each event.
/// Falco's own rules stay under 2,000 nodes a condition.
pub(crate) const MAX_EXPANDED_NODES: usize = 100_000;

/// The most nodes of all the expanded conditions of a load together (many
/// rules each using a large macro evaluate it as many times).
pub(crate) const MAX_TOTAL_NODES: usize = 2_000_000;

/// The most items a list may have once the lists it names are expanded
/// (lists naming the previous one twice double like macros).
pub(crate) const MAX_LIST_ITEMS: usize = 100_000;

/// The most problems reported for one condition or rule: each diagnostic
/// copies the offending line, so 64k unknown fields on a one-line condition
/// would otherwise cost 64k copies of that line (and as many screens).
const MAX_PROBLEMS_SHOWN: usize = 20;

/// Nodes of a parsed condition, list items included, before macros are
/// substituted (a macro's expanded size is counted as it is substituted).
fn expr_size(e: &Expr) -> usize {
    let mut n = 0;
    e.visit(&mut |x| {
        n += 1;
        if let Expr::Check { rhs: Some(Rhs::List(items, _)), .. } = x {
            n += items.len();
        }
    });
    n
}

pub(crate) struct Output {
    pub rules: Vec<Rule>,
    pub skipped: Vec<SkippedRule>,
    pub lists: Vec<List>,
    pub macros: Vec<Macro>,
    pub map: SourceMap,
}

pub(crate) struct Compiler<'a> {
    files: Arc<Files>,
    col: &'a Collector,
    checker: &'a dyn FieldChecker,
    pub diags: Vec<Diagnostic>,
    reported: HashSet<(Option<(String, usize)>, String)>,
    map: SourceMap,
    list_used: Vec<bool>,
    list_values: HashMap<usize, Vec<ListValue>>,
    macro_used: Vec<bool>,
    /// Parsed, lists expanded, positions global; `None` if it does not parse.
    macro_parsed: Vec<Option<Expr>>,
    macro_fields: Vec<Vec<FieldProblem>>,
    macro_state: Vec<MacroState>,
    /// Nodes of the rules' expanded conditions so far (see [`MAX_TOTAL_NODES`]).
    total_nodes: usize,
    /// Lists already reported as too large.
    list_too_large: HashSet<usize>,
}

const OPERATORS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "contains",
    "bcontains",
    "icontains",
    "startswith",
    "bstartswith",
    "endswith",
    "in",
    "intersects",
    "pmatch",
    "exists",
    "glob",
    "iglob",
    "regex",
];
const LIST_OPERATORS: &[&str] = &["in", "intersects", "pmatch"];

/// Falco quotes an item holding a space unless it is quoted already.
fn needs_quotes(s: &str) -> bool {
    s.contains(' ') && !s.starts_with(['"', '\''])
}

impl<'a> Compiler<'a> {
    pub fn new(files: Arc<Files>, col: &'a Collector, checker: &'a dyn FieldChecker) -> Self {
        Compiler {
            map: SourceMap::new(files.clone()),
            files,
            col,
            checker,
            diags: Vec::new(),
            reported: HashSet::new(),
            list_used: vec![false; col.lists.items.len()],
            list_values: HashMap::new(),
            macro_used: vec![false; col.macros.items.len()],
            macro_parsed: Vec::new(),
            macro_fields: Vec::new(),
            macro_state: vec![MacroState::Todo; col.macros.items.len()],
            total_nodes: 0,
            list_too_large: HashSet::new(),
        }
    }

    fn report(&mut self, d: Diagnostic) {
        let key = (d.location().map(|l| (l.file.to_string(), l.offset)), format!("{} {}", d.code, d.message));
        if self.reported.insert(key) {
            self.diags.push(d);
        }
    }

    fn report_at(&mut self, offset: usize, code: Code, message: String) {
        let d = self.map.diag(offset, code, message);
        self.report(d);
    }

    fn item_ctx(&self, file: FileId, item: ItemType, name: &str, offset: usize) -> Vec<Context> {
        vec![self.files.root(file), self.files.step(file, item, Some(name), offset)]
    }

    pub fn run(mut self) -> (Output, Vec<Diagnostic>) {
        let col = self.col;
        // Macros: parse and expand lists in all of them, then resolve them all (as Falco does).
        for i in 0..col.macros.items.len() {
            let m = &col.macros.items[i];
            let mut ctx = self.item_ctx(m.at.file, ItemType::Macro, &m.name, m.at.offset);
            let (f, o) = m.cond.start().unwrap_or((m.at.file, m.at.offset));
            ctx.push(self.files.step(f, ItemType::MacroCondition, None, o));
            let parsed = self.parse_text(&m.cond, ctx, ItemType::ConditionExpression);
            let fields = parsed.as_ref().map(|e| self.field_problems(e)).unwrap_or_default();
            self.macro_parsed.push(parsed);
            self.macro_fields.push(fields);
        }
        for i in 0..col.macros.items.len() {
            self.resolved_macro(i);
        }
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        for r in &col.rules.items {
            let location = self.files.get(r.at.file).location(r.at.offset);
            if r.unknown_source {
                skipped.push(SkippedRule {
                    name: r.name.clone(),
                    source: r.source.clone(),
                    reason: format!("Unknown source {}, skipping", r.source),
                    location,
                });
                continue;
            }
            match self.rule(r) {
                Ok(rule) => rules.push(rule),
                Err(Some(reason)) => {
                    skipped.push(SkippedRule { name: r.name.clone(), source: r.source.clone(), reason, location })
                }
                Err(None) => {}
            }
        }
        let mut macros = Vec::new();
        for (i, m) in col.macros.items.iter().enumerate() {
            let location = self.files.get(m.at.file).location(m.at.offset);
            if !self.macro_used[i] {
                let ctx = self.item_ctx(m.at.file, ItemType::Macro, &m.name, m.at.offset);
                let snippet = Some(self.files.get(m.at.file).snippet(m.at.offset));
                self.diags.push(Diagnostic {
                    severity: Code::UnusedMacro.severity(),
                    code: Code::UnusedMacro,
                    message: "Macro not referred to by any other rule/macro".into(),
                    context: ctx,
                    snippet,
                });
            }
            macros.push(Macro {
                name: m.name.clone(),
                condition_text: m.cond.s.clone(),
                used: self.macro_used[i],
                location,
            });
        }
        let mut lists = Vec::new();
        for (i, l) in col.lists.items.iter().enumerate() {
            let items = self.list_values(i, &mut Vec::new()).into_iter().map(|v| v.text).collect();
            let location = self.files.get(l.at.file).location(l.at.offset);
            if !self.list_used[i] {
                let ctx = self.item_ctx(l.at.file, ItemType::List, &l.name, l.at.offset);
                let snippet = Some(self.files.get(l.at.file).snippet(l.at.offset));
                self.diags.push(Diagnostic {
                    severity: Code::UnusedList.severity(),
                    code: Code::UnusedList,
                    message: "List not referred to by any other rule/macro".into(),
                    context: ctx,
                    snippet,
                });
            }
            lists.push(List { name: l.name.clone(), items, used: self.list_used[i], location });
        }
        let out = Output { rules, skipped, lists, macros, map: self.map };
        (out, self.diags)
    }

    /// Parses a text, expands list names in it, registers it in the source
    /// map and makes its positions global. Errors are reported.
    fn parse_text(&mut self, text: &Text, context: Vec<Context>, inner: ItemType) -> Option<Expr> {
        let parsed = saker_filter::parse(&text.s);
        let base = self.map.add(text.clone(), context, inner);
        let mut e = match parsed {
            Ok(e) => e,
            Err(err) => {
                self.report_at(base + err.pos.offset, Code::ErrCompileCondition, err.message);
                return None;
            }
        };
        let mut problems = Vec::new();
        self.expand_lists(&mut e, &text.s, &mut problems);
        rebase(&mut e, base);
        let ok = problems.is_empty();
        let more = problems.len().saturating_sub(MAX_PROBLEMS_SHOWN);
        for (i, (off, mut msg)) in problems.into_iter().take(MAX_PROBLEMS_SHOWN).enumerate() {
            if i + 1 == MAX_PROBLEMS_SHOWN && more > 0 {
                msg.push_str(&format!(" (and {more} more problems in this condition, not shown)"));
            }
            self.report_at(base + off, Code::ErrCompileCondition, msg);
        }
        ok.then_some(e)
    }

    /// The items of list `i`, with references to other lists expanded
    /// (recursively, in any definition order; a reference loop stays a string).
    fn list_values(&mut self, i: usize, stack: &mut Vec<usize>) -> Vec<ListValue> {
        if let Some(v) = self.list_values.get(&i) {
            return v.clone();
        }
        stack.push(i);
        let mut out = Vec::new();
        let items = self.col.lists.items[i].items.clone();
        for item in &items {
            let raw = item.value();
            let more = match self.col.lists.position(raw) {
                Some(j) if !stack.contains(&j) => {
                    self.list_used[j] = true;
                    let v = self.list_values(j, stack);
                    if self.list_too_large.contains(&j) {
                        // Already reported: this list is as broken, without an error of its own.
                        self.list_too_large.insert(i);
                        out.clear();
                        break;
                    }
                    v
                }
                _ => self.item_values(item),
            };
            if out.len() + more.len() > MAX_LIST_ITEMS {
                self.list_too_large(i, item);
                // Kept empty: the load fails, and copies of a huge list would cost what the bound saves.
                out.clear();
                break;
            }
            out.extend(more);
        }
        stack.pop();
        self.list_values.insert(i, out.clone());
        out
    }

    /// Reports, once, that list `i` expands to too many items (at the item
    /// that crosses the bound); the list keeps the items before it.
    fn list_too_large(&mut self, i: usize, item: &Scalar) {
        if !self.list_too_large.insert(i) {
            return;
        }
        let l = &self.col.lists.items[i];
        let mut ctx = self.item_ctx(l.at.file, ItemType::List, &l.name, l.at.offset);
        ctx.push(self.files.step(item.file, ItemType::ListItem, None, item.node.start));
        let snippet = Some(self.files.get(item.file).snippet(item.node.start));
        self.report(Diagnostic {
            severity: Code::ErrValidate.severity(),
            code: Code::ErrValidate,
            message: format!(
                "List '{}' expands to more than {MAX_LIST_ITEMS} items (the lists it names are copied into it; a list naming another twice doubles it)",
                l.name
            ),
            context: ctx,
            snippet,
        });
    }

    /// A list item as Falco reads it once substituted into a condition: quoted
    /// if it holds a space, then read as the items of a list.
    fn item_values(&mut self, item: &Scalar) -> Vec<ListValue> {
        let raw = item.value();
        if raw.is_empty() {
            return Vec::new();
        }
        let q = if needs_quotes(raw) { format!("\"{raw}\"") } else { raw.to_string() };
        let cond = format!("x.y in ({q})");
        match saker_filter::parse(&cond) {
            Ok(Expr::Check { rhs: Some(Rhs::List(items, _)), .. }) => {
                items.into_iter().map(|l| ListValue { text: l.text }).collect()
            }
            Ok(_) => vec![ListValue { text: raw.to_string() }],
            Err(e) => {
                let l = &self
                    .col
                    .lists
                    .items
                    .iter()
                    .find(|l| l.items.iter().any(|x| x.node.start == item.node.start && x.file == item.file));
                let mut ctx = match l {
                    Some(l) => self.item_ctx(l.at.file, ItemType::List, &l.name, l.at.offset),
                    None => vec![self.files.root(item.file)],
                };
                ctx.push(self.files.step(item.file, ItemType::ListItem, None, item.node.start));
                let snippet = Some(self.files.get(item.file).snippet(item.node.start));
                self.report(Diagnostic {
                    severity: Code::ErrCompileCondition.severity(),
                    code: Code::ErrCompileCondition,
                    message: format!("List item {raw:?} cannot be read as a list value: {}", e.message),
                    context: ctx,
                    snippet,
                });
                vec![ListValue { text: raw.to_string() }]
            }
        }
    }

    /// Replaces list names in `in (...)`-style lists (and single values) by
    /// the lists' items. `src` is the parsed text, to tell quoted items.
    fn expand_lists(&mut self, e: &mut Expr, src: &str, problems: &mut Vec<(usize, String)>) {
        let quoted = |l: &Literal| matches!(src.as_bytes().get(l.pos.offset), Some(b'"' | b'\''));
        match e {
            Expr::And(v, _) | Expr::Or(v, _) => v.iter_mut().for_each(|c| self.expand_lists(c, src, problems)),
            Expr::Not(c, _) => self.expand_lists(c, src, problems),
            // Shared bodies had theirs expanded when parsed.
            Expr::Identifier(..) | Expr::Macro { .. } => {}
            Expr::Check { rhs: Some(Rhs::List(items, _)), .. } => {
                if !items.iter().any(|l| !quoted(l) && self.col.lists.position(&l.text).is_some()) {
                    return;
                }
                let mut out = Vec::new();
                for l in items.drain(..) {
                    match self.col.lists.position(&l.text).filter(|_| !quoted(&l)) {
                        Some(j) => {
                            self.list_used[j] = true;
                            let pos = l.pos;
                            let values = self.list_values(j, &mut Vec::new());
                            // Each use is a copy: a condition naming a large list many times is bounded too.
                            if out.len() + values.len() > MAX_LIST_ITEMS {
                                problems.push((
                                    pos.offset,
                                    format!(
                                        "List '{}' makes this list of values longer than {MAX_LIST_ITEMS} items",
                                        l.text
                                    ),
                                ));
                                break;
                            }
                            out.extend(values.into_iter().map(|v| Literal { text: v.text, pos }));
                        }
                        None => out.push(l),
                    }
                }
                *items = out;
            }
            Expr::Check { rhs: Some(Rhs::Value(l)), .. } if !quoted(l) => {
                if let Some(j) = self.col.lists.position(&l.text) {
                    self.list_used[j] = true;
                    let v = self.list_values(j, &mut Vec::new());
                    if v.len() == 1 {
                        l.text = v[0].text.clone();
                    } else {
                        problems.push((
                            l.pos.offset,
                            format!(
                                "'{}' is a list of {} items, used as a single value; lists go with 'in', 'intersects' or 'pmatch', e.g. 'in ({})'",
                                l.text,
                                v.len(),
                                l.text
                            ),
                        ));
                    }
                }
            }
            Expr::Check { .. } => {}
        }
    }

    /// Macro `i` with its references substituted (memoized); `None` if it is wrong.
    fn resolved_macro(&mut self, i: usize) -> Option<Rc<Resolved>> {
        match &self.macro_state[i] {
            MacroState::Done(r) => r.clone(),
            MacroState::InProgress => None,
            MacroState::Todo => self.resolve_macro(i, &mut Vec::new()),
        }
    }

    /// Resolves macro `j`, used at the end of `path` (to find loops).
    fn resolve_macro(&mut self, j: usize, path: &mut Vec<usize>) -> Option<Rc<Resolved>> {
        self.macro_state[j] = MacroState::InProgress;
        path.push(j);
        let r = self.macro_parsed[j].clone().and_then(|mut body| {
            let vis = self.col.macros.items[j].visibility;
            let (deps, size) = self.resolve(&mut body, vis, path)?;
            Some(Rc::new(Resolved { body: Arc::new(body), deps, size }))
        });
        path.pop();
        self.macro_state[j] = MacroState::Done(r.clone());
        r
    }

    /// Substitutes macro references in `e` by shared [`Expr::Macro`] nodes;
    /// only macros first defined before `visibility` can be used (Falco's
    /// order rule for macros; rules see all). Gives the macros used,
    /// transitively, and the size of `e` once expanded.
    fn resolve(&mut self, e: &mut Expr, visibility: u32, path: &mut Vec<usize>) -> Option<(BTreeSet<usize>, usize)> {
        let mut deps = BTreeSet::new();
        let mut ok = true;
        let mut size = expr_size(e);
        self.resolve_into(e, visibility, path, &mut deps, &mut ok, &mut size);
        ok.then_some((deps, size))
    }

    fn resolve_into(
        &mut self,
        e: &mut Expr,
        vis: u32,
        path: &mut Vec<usize>,
        deps: &mut BTreeSet<usize>,
        ok: &mut bool,
        size: &mut usize,
    ) {
        if *size > MAX_EXPANDED_NODES {
            // Already reported: substitute nothing more.
            return;
        }
        match e {
            Expr::And(v, _) | Expr::Or(v, _) => {
                v.iter_mut().for_each(|c| self.resolve_into(c, vis, path, deps, ok, size))
            }
            Expr::Not(c, _) => self.resolve_into(c, vis, path, deps, ok, size),
            Expr::Check { .. } | Expr::Macro { .. } => {}
            Expr::Identifier(name, pos) => {
                let name = name.clone();
                let pos = *pos;
                let Some(j) = self.col.macros.position(&name) else {
                    *ok = false;
                    if !self.col.broken.contains(&(ItemType::Macro, name.clone())) {
                        self.report_at(
                            pos.offset,
                            Code::ErrValidate,
                            format!("Undefined macro '{name}' used in filter."),
                        );
                    }
                    return;
                };
                if let Some(k) = path.iter().position(|&p| p == j) {
                    *ok = false;
                    let mut chain: Vec<&str> =
                        path[k..].iter().map(|&p| self.col.macros.items[p].name.as_str()).collect();
                    chain.push(&name);
                    let msg = format!("Reference loop in macro '{name}': {}", chain.join(" -> "));
                    self.report_at(pos.offset, Code::ErrValidate, msg);
                    return;
                }
                let m = &self.col.macros.items[j];
                if m.index >= vis {
                    *ok = false;
                    let later = self.files.get(m.at.file).location(m.at.offset);
                    self.report_at(
                        pos.offset,
                        Code::ErrValidate,
                        format!(
                            "Undefined macro '{name}' used in filter. (Macro '{name}' is defined later, at {later}: a macro can only use macros defined before it.)"
                        ),
                    );
                    return;
                }
                self.macro_used[j] = true;
                let sub = match &self.macro_state[j] {
                    MacroState::Done(r) => r.clone(),
                    // Resolve it here, following this path to find loops.
                    _ => self.resolve_macro(j, path),
                };
                let Some(sub) = sub else {
                    *ok = false;
                    return;
                };
                // The macro's body is shared, but evaluated at each use: bound what the uses add up to.
                let grown = sub.size;
                if *size + grown > MAX_EXPANDED_NODES {
                    *ok = false;
                    *size = MAX_EXPANDED_NODES + 1;
                    self.report_at(
                        pos.offset,
                        Code::ErrValidate,
                        format!(
                            "Macro '{name}' ({grown} nodes once expanded) makes the condition larger than {MAX_EXPANDED_NODES} nodes: a macro counts wherever it is used, so a macro using another twice doubles its size"
                        ),
                    );
                    return;
                }
                *size += grown - 1;
                deps.insert(j);
                deps.extend(sub.deps.iter().copied());
                *e = Expr::Macro { name, body: Arc::clone(&sub.body), pos };
            }
        }
    }

    /// Unknown fields and event types in a parsed text (global offsets).
    fn field_problems(&self, e: &Expr) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        e.visit(&mut |n| {
            if let Expr::Check { field, op, rhs, .. } = n {
                self.check_field(field, &mut out);
                match rhs {
                    Some(Rhs::Field(f)) => self.check_field(f, &mut out),
                    Some(Rhs::Value(l)) if is_evt_type(field) && matches!(op, Op::Eq | Op::Ne) => {
                        self.check_event_type(l, &mut out)
                    }
                    Some(Rhs::List(items, _)) if is_evt_type(field) && *op == Op::In => {
                        items.iter().for_each(|l| self.check_event_type(l, &mut out))
                    }
                    _ => {}
                }
            }
        });
        out
    }

    fn check_field(&self, f: &FieldRef, out: &mut Vec<FieldProblem>) {
        match f {
            FieldRef::Field { name, arg, pos } => {
                if let Err(m) = self.checker.check(name, arg.as_deref()) {
                    out.push(FieldProblem {
                        offset: pos.offset,
                        message: format!("invalid field '{f}': {m}"),
                        code: Code::ErrCompileCondition,
                    });
                }
            }
            FieldRef::Transformed { inner, .. } => self.check_field(inner, out),
        }
    }

    fn check_event_type(&self, l: &Literal, out: &mut Vec<FieldProblem>) {
        if let Err(m) = self.checker.check_event_type(&l.text) {
            out.push(FieldProblem {
                offset: l.pos.offset,
                message: format!("unknown event type '{}': {m}", l.text),
                code: Code::ErrCompileCondition,
            });
        }
    }

    /// Compiles a rule; `Err(Some(reason))` when it is skipped, `Err(None)` on errors.
    fn rule(&mut self, r: &RuleInfo) -> Result<Rule, Option<String>> {
        let file = r.at.file;
        let rctx = self.item_ctx(file, ItemType::Rule, &r.name, r.at.offset);
        let (cf, co) = r.cond.start().unwrap_or((file, r.at.offset));
        let mut cctx = rctx.clone();
        cctx.push(self.files.step(cf, ItemType::RuleCondition, None, co));

        let mut problems: Vec<FieldProblem> = Vec::new();
        let mut failed = false;
        let mut exceptions = Vec::new();
        let mut exception_fields = BTreeSet::new();
        let mut text = r.cond.clone();
        if !r.exceptions.is_empty() {
            text = Text::default();
            text.push_glue("(", cf, co);
            text.push_text(&r.cond);
            text.push_glue(")", cf, co);
            for ex in &r.exceptions {
                match self.exception(ex, &rctx) {
                    Ok((clause, public, fields)) => {
                        if !clause.s.is_empty() {
                            text.push_glue(" and not ", ex.at.file, ex.at.offset);
                            text.push_text(&clause);
                        }
                        exceptions.push(public);
                        exception_fields.extend(fields);
                    }
                    Err(Some(p)) => {
                        exceptions.push(self.public_exception(ex));
                        problems.push(p);
                    }
                    Err(None) => failed = true,
                }
            }
        }
        if failed {
            return Err(None);
        }
        let Some(mut cond) = self.parse_text(&text, cctx, ItemType::ConditionExpression) else {
            return Err(None);
        };
        problems.extend(self.field_problems(&cond));
        let Some((deps, size)) = self.resolve(&mut cond, u32::MAX, &mut Vec::new()) else {
            return Err(None);
        };
        self.total_nodes += size;
        if self.total_nodes > MAX_TOTAL_NODES {
            let d = self.rule_diag(
                r,
                Code::ErrValidate,
                format!(
                    "The rules' conditions, macros expanded, have more than {MAX_TOTAL_NODES} nodes in all: this rule's is {size} nodes"
                ),
            );
            self.report(d);
            return Err(None);
        }
        for d in &deps {
            problems.extend(self.macro_fields[*d].iter().cloned());
        }

        // The output.
        let output = self.output(r, &rctx, &mut problems);

        if !problems.is_empty() {
            if r.skip_if_unknown_filter {
                let p = &problems[0];
                let d = self.map.diag(p.offset, Code::UnknownFilter, p.message.clone());
                self.report(d);
                return Err(Some(p.message.clone()));
            }
            let more = problems.len().saturating_sub(MAX_PROBLEMS_SHOWN);
            for (i, mut p) in problems.into_iter().take(MAX_PROBLEMS_SHOWN).enumerate() {
                if i + 1 == MAX_PROBLEMS_SHOWN && more > 0 {
                    p.message.push_str(&format!(" (and {more} more problems in this rule, not shown)"));
                }
                self.report_at(p.offset, p.code, p.message);
            }
            return Err(None);
        }

        let event_types = match saker_filter::event_types(&cond) {
            Ok(t) => t,
            Err((pos, message)) => {
                self.report_at(pos.offset, Code::ErrCompileCondition, message.to_string());
                return Err(None);
            }
        };
        // Falco's threshold: no type at all, or more than 100 event codes.
        if (event_types.is_empty() || event_types.len() > 100) && r.warn_evttypes {
            let d = self.rule_diag(
                r,
                Code::NoEvttype,
                "Rule matches too many evt.type values. This has a significant performance penalty.".into(),
            );
            self.report(d);
        }
        self.condition_warnings(&cond);

        Ok(Rule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            condition: cond,
            condition_text: r.cond.s.clone(),
            output,
            priority: r.priority,
            enabled: r.enabled,
            tags: r.tags.clone(),
            source: r.source.clone(),
            exceptions,
            exception_fields,
            warn_evttypes: r.warn_evttypes,
            skip_if_unknown_filter: r.skip_if_unknown_filter,
            event_types,
            capture: r.capture,
            capture_limits: r.capture_limits,
            location: self.files.get(file).location(r.at.offset),
        })
    }

    fn rule_diag(&self, r: &RuleInfo, code: Code, message: String) -> Diagnostic {
        let ctx = self.item_ctx(r.at.file, ItemType::Rule, &r.name, r.at.offset);
        let snippet = Some(self.files.get(r.at.file).snippet(r.at.offset));
        Diagnostic { severity: code.severity(), code, message, context: ctx, snippet }
    }

    /// `<NA>` comparisons, strings that look like fields, the deprecated `evt.dir`.
    fn condition_warnings(&mut self, e: &Expr) {
        let mut found = Vec::new();
        e.visit(&mut |n| {
            if let Expr::Check { field, op, rhs, pos } = n {
                if let Some(Rhs::Value(l)) = rhs
                    && let Some(what) = self.looks_like_field(&l.text)
                {
                    let msg = format!("'{}' may be a valid {what} misused as a const string value", l.text);
                    found.push((l.pos.offset, Code::CompileCondition, msg));
                }
                if let (Op::Eq | Op::Ne, Some(Rhs::Value(l))) = (op, rhs)
                    && l.text == "<NA>"
                {
                    found.push((pos.offset, Code::UnsafeNaCheck, "comparing a field value with <NA> is unsafe and can lead to unpredictable behavior of the rule condition. If you need to check for the existence of a field, consider using the 'exists' operator instead.".to_string()));
                }
                if matches!(field, FieldRef::Field { name, .. } if name == "evt.dir") {
                    found.push((field.pos().offset, Code::DeprecatedItem, "usage of deprecated field 'evt.dir' has been detected in the rule condition: rules are evaluated on exit events only, so 'evt.dir = <' is always true and 'evt.dir = >' always false".to_string()));
                }
            }
        });
        for (o, c, m) in found {
            self.report_at(o, c, m);
        }
    }

    /// Whether a string value reads as a known field or a transformer (as libsinsp warns).
    fn looks_like_field(&self, v: &str) -> Option<&'static str> {
        let t = v.trim();
        if ["tolower(", "toupper(", "b64(", "basename(", "len("].iter().any(|p| t.starts_with(p)) && t.ends_with(')') {
            return Some("field transformer");
        }
        let (name, arg) = match t.split_once('[') {
            Some((n, a)) => (n, Some(a.strip_suffix(']')?)),
            None => (t, None),
        };
        let mut parts = name.split('.');
        let first = parts.next()?;
        let well_formed = first.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.contains('.')
            && name.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        (well_formed && self.checker.check(name, arg).is_ok()).then_some("field")
    }

    /// Checks the fields of the output; returns it as Falco uses it.
    fn output(&mut self, r: &RuleInfo, rctx: &[Context], problems: &mut Vec<FieldProblem>) -> String {
        let (of, oo) = r.output.start().unwrap_or((r.at.file, r.at.offset));
        let mut octx = rctx.to_vec();
        octx.push(self.files.step(of, ItemType::RuleOutput, None, oo));
        let base = self.map.add(r.output.clone(), octx, ItemType::RuleOutputExpression);
        let s = &r.output.s;
        let mut container_info = Vec::new();
        for tok in output_tokens(s) {
            match tok {
                Err((off, msg)) => {
                    problems.push(FieldProblem { offset: base + off, message: msg, code: Code::ErrCompileOutput })
                }
                Ok(t) if t.text == "container.info" => container_info.push(t.start),
                Ok(t) => {
                    // The longest prefix (cut at dots) that is a known field, like libsinsp.
                    let mut name = t.text;
                    let mut first_err = None;
                    loop {
                        let arg = if name.len() == t.text.len() { t.arg } else { None };
                        match self.checker.check(name, arg) {
                            Ok(()) => {
                                if name == "evt.dir" {
                                    self.report_at(
                                        base + t.start,
                                        Code::DeprecatedItem,
                                        "usage of deprecated field 'evt.dir' has been detected in the rule output"
                                            .into(),
                                    );
                                }
                                first_err = None;
                                break;
                            }
                            Err(m) => {
                                first_err.get_or_insert(m);
                                match name.rfind('.') {
                                    Some(p) if name[..p].contains('.') => name = &name[..p],
                                    _ => break,
                                }
                            }
                        }
                    }
                    if let Some(m) = first_err {
                        let shown = match t.arg {
                            Some(a) => format!("{}[{a}]", t.text),
                            None => t.text.to_string(),
                        };
                        problems.push(FieldProblem {
                            offset: base + t.start,
                            message: format!("invalid formatting token {shown}: {m}"),
                            code: Code::ErrCompileOutput,
                        });
                    }
                }
            }
        }
        if let Some(&at) = container_info.first() {
            self.report_at(
                base + at,
                Code::DeprecatedItem,
                "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.".into(),
            );
            return s.replace("%container.info", "");
        }
        s.clone()
    }

    fn public_exception(&self, ex: &ExInfo) -> Exception {
        Exception {
            name: ex.name.clone(),
            fields: ex.fields.as_ref().map_or(ExceptionValue::List(Vec::new()), public_entry),
            comps: ex.comps.as_ref().map_or(ExceptionValue::List(Vec::new()), public_entry),
            values: ex.values.iter().map(public_entry).collect(),
        }
    }

    /// Validates an exception and builds its clause as Falco does
    /// (`build_rule_exception_infos`). `Err(Some)` for an unknown field.
    fn exception(
        &mut self,
        ex: &ExInfo,
        rctx: &[Context],
    ) -> Result<(Text, Exception, BTreeSet<String>), Option<FieldProblem>> {
        let mut ectx = rctx.to_vec();
        ectx.push(self.files.step(ex.at.file, ItemType::Exception, Some(&ex.name), ex.at.offset));
        let fail = |s: &mut Self, msg: String| {
            let snippet = Some(s.files.get(ex.at.file).snippet(ex.at.offset));
            s.report(Diagnostic {
                severity: Code::ErrValidate.severity(),
                code: Code::ErrValidate,
                message: msg,
                context: ectx.clone(),
                snippet,
            });
            Err(None)
        };
        let Some(fields) = &ex.fields else {
            return fail(self, "Rule exception item must have fields property with a list of fields".into());
        };
        let (file, at) = (ex.at.file, ex.at.offset);
        let mut clause = Text::default();
        let mut field_names = BTreeSet::new();
        let mut public = self.public_exception(ex);
        match fields {
            Entry::Item(field) => {
                let comp = match &ex.comps {
                    None => None,
                    Some(Entry::Item(c)) => Some(c),
                    Some(Entry::List(_)) => return fail(self, "Fields and comps must both be strings".into()),
                };
                let comp_s = comp.map_or("in", |c| c.value());
                if !LIST_OPERATORS.contains(&comp_s) {
                    return fail(
                        self,
                        "When fields is a single value, comps must be one of (in, pmatch, intersects)".into(),
                    );
                }
                public.comps = ExceptionValue::Item(comp_s.to_string());
                self.exception_field(field, &ectx)?;
                field_names.insert(field.value().to_string());
                for (k, v) in ex.values.iter().enumerate() {
                    let Entry::Item(v) = v else {
                        return fail(self, "Expected values array to contain a list of strings".into());
                    };
                    if k == 0 {
                        clause.push_glue("(", file, at);
                        clause.push_scalar(&self.files, field.file, &field.node);
                        clause.push_glue(" ", file, at);
                        match comp {
                            Some(c) => clause.push_scalar(&self.files, c.file, &c.node),
                            None => clause.push_glue("in", file, at),
                        }
                        clause.push_glue(" (", file, at);
                    } else {
                        clause.push_glue(", ", file, at);
                    }
                    self.push_quoted(&mut clause, v);
                }
                if !clause.s.is_empty() {
                    clause.push_glue("))", file, at);
                }
            }
            Entry::List(fields) => {
                let comps: Option<Vec<Option<&Scalar>>> = match &ex.comps {
                    None => Some(vec![None; fields.len()]),
                    Some(Entry::List(c)) => c
                        .iter()
                        .map(|c| match c {
                            Entry::Item(s) => Some(Some(s)),
                            Entry::List(_) => None,
                        })
                        .collect(),
                    Some(Entry::Item(_)) => Some(Vec::new()),
                };
                let Some(comps) = comps else {
                    return fail(self, "Exception comps must be strings".into());
                };
                if comps.len() != fields.len() {
                    return fail(self, "Fields and comps lists must have equal length".into());
                }
                for c in comps.iter().flatten() {
                    if !OPERATORS.contains(&c.value()) {
                        return fail(self, format!("'{}' is not a supported comparison operator", c.value()));
                    }
                }
                public.comps = ExceptionValue::List(
                    comps.iter().map(|c| ExceptionValue::Item(c.map_or("=", |c| c.value()).to_string())).collect(),
                );
                let mut fscalars = Vec::new();
                for f in fields {
                    let Entry::Item(f) = f else {
                        return fail(self, "Rule exception fields must be strings".into());
                    };
                    self.exception_field(f, &ectx)?;
                    field_names.insert(f.value().to_string());
                    fscalars.push(f);
                }
                clause.push_glue("(", file, at);
                for (n, values) in ex.values.iter().enumerate() {
                    let items: &[Entry] = match values {
                        Entry::List(v) if v.len() == fields.len() => v,
                        _ => return fail(self, "Fields and values lists must have equal length".into()),
                    };
                    if n > 0 {
                        clause.push_glue(" or ", file, at);
                    }
                    clause.push_glue("(", file, at);
                    for (k, f) in fscalars.iter().enumerate() {
                        clause.push_glue(if k == 0 { " " } else { " and " }, file, at);
                        clause.push_scalar(&self.files, f.file, &f.node);
                        clause.push_glue(" ", file, at);
                        let comp = comps[k];
                        match comp {
                            Some(c) => clause.push_scalar(&self.files, c.file, &c.node),
                            None => clause.push_glue("=", file, at),
                        }
                        clause.push_glue(" ", file, at);
                        let comp_s = comp.map_or("=", |c| c.value());
                        match &items[k] {
                            Entry::List(vs) => {
                                clause.push_glue("(", file, at);
                                for (i, v) in vs.iter().enumerate() {
                                    if i > 0 {
                                        clause.push_glue(", ", file, at);
                                    }
                                    match v {
                                        Entry::Item(v) => self.push_quoted(&mut clause, v),
                                        Entry::List(_) => {
                                            return fail(
                                                self,
                                                "Exception values must be strings or lists of strings".into(),
                                            );
                                        }
                                    }
                                }
                                clause.push_glue(")", file, at);
                            }
                            Entry::Item(v) if LIST_OPERATORS.contains(&comp_s) => {
                                if v.value().starts_with('(') {
                                    clause.push_scalar(&self.files, v.file, &v.node);
                                } else {
                                    clause.push_glue("(", v.file, v.node.start);
                                    clause.push_scalar(&self.files, v.file, &v.node);
                                    clause.push_glue(")", v.file, v.node.end);
                                }
                            }
                            Entry::Item(v) => self.push_quoted(&mut clause, v),
                        }
                    }
                    clause.push_glue(")", file, at);
                }
                clause.push_glue(")", file, at);
                if clause.s == "()" {
                    clause = Text::default();
                }
            }
        }
        Ok((clause, public, field_names))
    }

    /// A value, in double quotes if it holds a space (Falco's `quote_item`).
    fn push_quoted(&self, t: &mut Text, v: &Scalar) {
        if needs_quotes(v.value()) {
            t.push_glue("\"", v.file, v.node.start);
            t.push_scalar(&self.files, v.file, &v.node);
            t.push_glue("\"", v.file, v.node.end);
        } else {
            t.push_scalar(&self.files, v.file, &v.node);
        }
    }

    /// An exception field must be a field (possibly under transformers) the checker knows.
    fn exception_field(&mut self, f: &Scalar, ectx: &[Context]) -> Result<(), Option<FieldProblem>> {
        let name = f.value();
        let parsed = saker_filter::parse(&format!("{name} exists"));
        let field = match parsed {
            Ok(Expr::Check { field, op: Op::Exists, .. }) => field,
            _ => {
                let mut ctx = ectx.to_vec();
                ctx.push(self.files.step(f.file, ItemType::ValueFor, Some("fields"), f.node.start));
                let snippet = Some(self.files.get(f.file).snippet(f.node.start));
                self.report(Diagnostic {
                    severity: Code::ErrValidate.severity(),
                    code: Code::ErrValidate,
                    message: format!("'{name}' is not a supported filter field"),
                    context: ctx,
                    snippet,
                });
                return Err(None);
            }
        };
        let mut inner = &field;
        while let FieldRef::Transformed { inner: i, .. } = inner {
            inner = i;
        }
        if let FieldRef::Field { name: n, arg, .. } = inner
            && let Err(m) = self.checker.check(n, arg.as_deref())
        {
            // Located at the field in the file: a text of just this scalar.
            let t = Text::scalar(&self.files, f.file, &f.node);
            let mut ctx = ectx.to_vec();
            ctx.push(self.files.step(f.file, ItemType::ValueFor, Some("fields"), f.node.start));
            let base = self.map.add(t, ctx, ItemType::ConditionExpression);
            return Err(Some(FieldProblem {
                offset: base,
                message: format!("'{name}' is not a supported filter field: {m}"),
                code: Code::ErrValidate,
            }));
        }
        Ok(())
    }
}

fn public_entry(e: &Entry) -> ExceptionValue {
    match e {
        Entry::Item(s) => ExceptionValue::Item(s.value().to_string()),
        Entry::List(v) => ExceptionValue::List(v.iter().map(public_entry).collect()),
    }
}

fn is_evt_type(f: &FieldRef) -> bool {
    matches!(f, FieldRef::Field { name, arg: None, .. } if name == "evt.type")
}

/// Adds `base` to every position of `e`.
pub(crate) fn rebase(e: &mut Expr, base: usize) {
    fn pos(p: &mut Pos, base: usize) {
        p.offset += base;
    }
    fn field(f: &mut FieldRef, base: usize) {
        match f {
            FieldRef::Field { pos: p, .. } => pos(p, base),
            FieldRef::Transformed { inner, pos: p, .. } => {
                pos(p, base);
                field(inner, base);
            }
        }
    }
    match e {
        Expr::And(v, p) | Expr::Or(v, p) => {
            pos(p, base);
            v.iter_mut().for_each(|c| rebase(c, base));
        }
        Expr::Not(c, p) => {
            pos(p, base);
            rebase(c, base);
        }
        // A shared body has its positions already.
        Expr::Identifier(_, p) | Expr::Macro { pos: p, .. } => pos(p, base),
        Expr::Check { field: f, rhs, pos: p, .. } => {
            pos(p, base);
            field(f, base);
            match rhs {
                Some(Rhs::Value(l)) => pos(&mut l.pos, base),
                Some(Rhs::List(items, p)) => {
                    pos(p, base);
                    items.iter_mut().for_each(|l| pos(&mut l.pos, base));
                }
                Some(Rhs::Field(f)) => field(f, base),
                None => {}
            }
        }
    }
}

/// Field names are short (the longest is 30 bytes): a longer token is an
/// error at once, rather than a lookup of each of its dotted prefixes.
const MAX_FIELD_NAME: usize = 256;

/// A token shown in an error: its first 64 characters.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A `%field` of an output format.
struct Token<'s> {
    /// Offset of the field name.
    start: usize,
    text: &'s str,
    arg: Option<&'s str>,
}

/// The `%` fields of an output format, as libsinsp's formatter reads them: an
/// optional leading `*`, `%` then an optional width, then a field name with
/// an optional `[argument]`, or a transformer such as `tolower(proc.name)`.
fn output_tokens(s: &str) -> Vec<Result<Token<'_>, (usize, String)>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = usize::from(b.first() == Some(&b'*'));
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        if i + 1 == b.len() {
            out.push(Err((i, "invalid formatting syntax: formatting cannot end with a %".to_string())));
            break;
        }
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Transformers: `%tolower(proc.name)`; the field inside is what is checked.
        let mut start = j;
        for t in ["tolower(", "toupper(", "b64(", "basename(", "len("] {
            if s[j..].starts_with(t) {
                start = j + t.len();
                break;
            }
        }
        let mut k = start;
        while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_' || b[k] == b'.') {
            k += 1;
        }
        while k > start && b[k - 1] == b'.' {
            k -= 1;
        }
        if k == start {
            let end = s[start..].find(char::is_whitespace).map_or(s.len(), |p| start + p);
            out.push(Err((i, format!("invalid formatting token {}", shorten(&s[i + 1..end])))));
            // Like libsinsp, the first bad token ends the format: going on
            // would rescan the rest for each `%` of a long run of them.
            break;
        }
        if k - start > MAX_FIELD_NAME {
            out.push(Err((
                start,
                format!("invalid formatting token {}: too long for a field name", shorten(&s[start..k])),
            )));
            break;
        }
        let mut arg = None;
        let mut next = k;
        if b.get(k) == Some(&b'[')
            && let Some(close) = s[k..].find(']')
        {
            arg = Some(&s[k + 1..k + close]);
            next = k + close + 1;
        }
        out.push(Ok(Token { start, text: &s[start..k], arg }));
        i = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tokens_like_libsinsp() {
        let toks: Vec<_> = output_tokens("*a %proc.name b=%proc.aname[2] %10evt.type by %user.name. %tolower(fd.name)")
            .into_iter()
            .map(|t| t.map(|t| (t.text, t.arg)).unwrap())
            .collect();
        assert_eq!(
            toks,
            [
                ("proc.name", None),
                ("proc.aname", Some("2")),
                ("evt.type", None),
                ("user.name", None),
                ("fd.name", None)
            ]
        );
        assert!(output_tokens("x %").pop().unwrap().is_err());
        assert!(output_tokens("x %% y").pop().unwrap().is_err());
    }
}
