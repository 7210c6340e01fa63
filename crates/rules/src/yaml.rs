//! A YAML tree that remembers where every node is in the file and how each
//! scalar was written, built from libyaml's event stream (`libyaml-safer`,
//! as lenient as the yaml-cpp Falco uses, where stricter parsers reject the
//! real rules files).
//!
//! Positions are byte offsets into the file text. Scalars keep their style so
//! that [`scalar_offsets`] can map every byte of a decoded value (a condition,
//! an output) back to the byte of the file it came from, through quoting,
//! escapes, line folding and block indentation.

use std::collections::HashMap;

use libyaml_safer::{EventData, Parser, ScalarStyle};

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A node and where it starts and ends (byte offsets into the file).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Scalar { value: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether this is YAML's null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: Style::Plain } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node for `key` in a mapping.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(k, _)| k),
            _ => None,
        }
    }
}

/// A YAML syntax error: message and byte offset.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

enum Frame {
    Seq { start: usize, anchor: Option<String>, items: Vec<Node> },
    Map { start: usize, anchor: Option<String>, entries: Vec<(Node, Node)>, key: Option<Node> },
}

/// The most an alias may copy, in all, of the nodes it names (counted as
/// [`NODE_COST`] bytes a node plus the scalars' text). Each alias is a copy
/// in the tree: nine anchors of ten aliases each to the previous one (a
/// "billion laughs") would be a billion nodes. Falco's rules use no aliases.
pub(crate) const MAX_ALIAS_BYTES: usize = 16 << 20;

/// What a node costs in the tree besides its text, roughly.
const NODE_COST: usize = 64;

/// Parses every document of `text`; a document that is empty is `None`.
pub(crate) fn parse(text: &str) -> Result<Vec<Option<Node>>, SyntaxError> {
    // libyaml-safer 0.3 panics ("unexpected end of input") on a block
    // scalar that ends the file without a line break (`a: >\n  x`, found by
    // fuzzing): parse the text with one, which changes no offset. Any other
    // panic of the parser becomes an error rather than ending saker.
    let owned;
    let input = if text.ends_with('\n') {
        text
    } else {
        owned = format!("{text}\n");
        &owned
    };
    // Where the parser had got: the end of the last event it gave.
    let reached = std::cell::Cell::new(0);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse_events(text, input, &reached))).unwrap_or_else(
        |_| {
            Err(SyntaxError {
                message: "the YAML parser failed after this point (an internal error of libyaml-safer)".into(),
                offset: reached.get(),
            })
        },
    )
}

/// [`parse`] of `input`, which is `text` perhaps with a line break added.
fn parse_events(text: &str, input: &str, reached: &std::cell::Cell<usize>) -> Result<Vec<Option<Node>>, SyntaxError> {
    // libyaml's mark indexes are byte offsets.
    let byte = |i: u64| (i as usize).min(text.len());
    let mut input = input.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with its cost; the costs of the open collections.
    let mut anchors: HashMap<String, (Node, usize)> = HashMap::new();
    let mut costs: Vec<usize> = Vec::new();
    let mut aliased = 0usize;
    let mut root: Option<Node> = None;
    loop {
        let ev = parser.parse().map_err(|e| {
            let mark = e.problem_mark().map_or(0, |m| m.index);
            let mut message = e.problem().to_string();
            if let Some(c) = e.context() {
                message = format!("{message} ({c})");
            }
            SyntaxError { message, offset: byte(mark) }
        })?;
        let start = byte(ev.start_mark.index);
        let end = byte(ev.end_mark.index);
        reached.set(end);
        let node = match ev.data {
            EventData::StreamEnd => break,
            EventData::StreamStart { .. } => continue,
            EventData::DocumentStart { .. } => {
                root = None;
                continue;
            }
            EventData::DocumentEnd { .. } => {
                docs.push(root.take());
                continue;
            }
            EventData::SequenceStart { anchor, .. } => {
                stack.push(Frame::Seq { start, anchor, items: Vec::new() });
                costs.push(NODE_COST);
                continue;
            }
            EventData::MappingStart { anchor, .. } => {
                stack.push(Frame::Map { start, anchor, entries: Vec::new(), key: None });
                costs.push(NODE_COST);
                continue;
            }
            EventData::SequenceEnd | EventData::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq { start, anchor, items }) => (Node { kind: Kind::Seq(items), start, end }, anchor),
                    Some(Frame::Map { start, anchor, entries, .. }) => {
                        (Node { kind: Kind::Map(entries), start, end }, anchor)
                    }
                    None => continue,
                };
                let cost = costs.pop().unwrap_or(NODE_COST);
                if let Some(a) = anchor {
                    anchors.insert(a, (node.clone(), cost));
                }
                (node, cost)
            }
            EventData::Scalar { anchor, value, style, .. } => {
                let style = match style {
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                    _ => Style::Plain,
                };
                let cost = NODE_COST + value.len();
                let node = Node { kind: Kind::Scalar { value, style }, start, end };
                if let Some(a) = anchor {
                    anchors.insert(a, (node.clone(), cost));
                }
                (node, cost)
            }
            EventData::Alias { anchor } => match anchors.get(&anchor) {
                Some((n, cost)) => {
                    // Checked before copying, so a refused alias costs nothing.
                    aliased = aliased.saturating_add(*cost);
                    if aliased > MAX_ALIAS_BYTES {
                        return Err(SyntaxError {
                            message: format!(
                                "aliases expand to more than {} MiB of YAML nodes (alias '*{anchor}' crosses the bound)",
                                MAX_ALIAS_BYTES >> 20
                            ),
                            offset: start,
                        });
                    }
                    (n.clone(), *cost)
                }
                None => return Err(SyntaxError { message: format!("unknown anchor '{anchor}'"), offset: start }),
            },
        };
        let (node, cost) = node;
        if let Some(c) = costs.last_mut() {
            *c = c.saturating_add(cost);
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(docs)
}

/// Maps each byte of a scalar's decoded `value` to the file byte it came
/// from. `None` when the source cannot be followed exactly (the caller then
/// falls back to the scalar's start).
pub(crate) fn scalar_offsets(src: &str, node: &Node) -> Option<Vec<usize>> {
    let Kind::Scalar { value, style } = &node.kind else { return None };
    let b = src.as_bytes();
    if node.end > b.len() || node.start > node.end {
        return None;
    }
    let mut out = Out::default();
    match style {
        Style::Plain => flow(b, node.start, node.end, None, &mut out)?,
        Style::SingleQuoted | Style::DoubleQuoted => {
            if node.end < node.start + 2 {
                return None;
            }
            let q = if *style == Style::SingleQuoted { b'\'' } else { b'"' };
            flow(b, node.start + 1, node.end - 1, Some(q), &mut out)?
        }
        Style::Literal | Style::Folded => block(b, node.start, node.end, *style == Style::Folded, &mut out)?,
    }
    let (got, want) = (&out.bytes[..], value.as_bytes());
    if got == want {
        return Some(out.offs);
    }
    // Block scalars: chomping only changes trailing newlines.
    let trim = |s: &[u8]| s.len() - s.iter().rev().take_while(|&&c| c == b'\n').count();
    let (gt, wt) = (trim(got), trim(want));
    if matches!(style, Style::Literal | Style::Folded) && got[..gt] == want[..wt] {
        let mut offs = out.offs;
        let last = offs.get(gt.saturating_sub(1)).copied().unwrap_or(node.start);
        offs.truncate(wt);
        offs.resize(want.len(), last);
        return Some(offs);
    }
    None
}

#[derive(Default)]
struct Out {
    bytes: Vec<u8>,
    offs: Vec<usize>,
}

impl Out {
    fn push(&mut self, b: u8, off: usize) {
        self.bytes.push(b);
        self.offs.push(off);
    }
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn skip_break(b: &[u8], i: usize) -> usize {
    if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') { i + 2 } else { i + 1 }
}

/// Plain and quoted scalars: line folding, `''` and backslash escapes.
fn flow(b: &[u8], mut i: usize, end: usize, quote: Option<u8>, out: &mut Out) -> Option<()> {
    let mut ws: Vec<(u8, usize)> = Vec::new();
    while i < end {
        let c = b[i];
        match c {
            b' ' | b'\t' => {
                ws.push((c, i));
                i += 1;
            }
            b'\n' | b'\r' => {
                ws.clear();
                let brk = i;
                i = skip_break(b, i);
                let mut empties = 0;
                loop {
                    let mut j = i;
                    while j < end && (b[j] == b' ' || b[j] == b'\t') {
                        j += 1;
                    }
                    if j < end && is_break(b[j]) {
                        empties += 1;
                        i = skip_break(b, j);
                        continue;
                    }
                    i = j;
                    break;
                }
                if empties == 0 {
                    out.push(b' ', brk);
                } else {
                    (0..empties).for_each(|_| out.push(b'\n', brk));
                }
            }
            b'\'' if quote == Some(b'\'') => {
                if b.get(i + 1) != Some(&b'\'') {
                    return None;
                }
                ws.drain(..).for_each(|(w, o)| out.push(w, o));
                out.push(b'\'', i);
                i += 2;
            }
            b'\\' if quote == Some(b'"') => {
                ws.drain(..).for_each(|(w, o)| out.push(w, o));
                let e = *b.get(i + 1)?;
                if is_break(e) {
                    i = skip_break(b, i + 1);
                    while i < end && (b[i] == b' ' || b[i] == b'\t') {
                        i += 1;
                    }
                    continue;
                }
                let simple = match e {
                    b'0' => Some(0u8),
                    b'a' => Some(7),
                    b'b' => Some(8),
                    b't' | b'\t' => Some(b'\t'),
                    b'n' => Some(b'\n'),
                    b'v' => Some(11),
                    b'f' => Some(12),
                    b'r' => Some(b'\r'),
                    b'e' => Some(27),
                    b' ' => Some(b' '),
                    b'"' => Some(b'"'),
                    b'/' => Some(b'/'),
                    b'\\' => Some(b'\\'),
                    _ => None,
                };
                if let Some(s) = simple {
                    out.push(s, i);
                    i += 2;
                    continue;
                }
                let (ch, len) = match e {
                    b'N' => ('\u{85}', 2),
                    b'_' => ('\u{a0}', 2),
                    b'L' => ('\u{2028}', 2),
                    b'P' => ('\u{2029}', 2),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = std::str::from_utf8(b.get(i + 2..i + 2 + n)?).ok()?;
                        (char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 2 + n)
                    }
                    _ => return None,
                };
                let mut buf = [0u8; 4];
                ch.encode_utf8(&mut buf).bytes().for_each(|x| out.push(x, i));
                i += len;
            }
            _ => {
                ws.drain(..).for_each(|(w, o)| out.push(w, o));
                out.push(c, i);
                i += 1;
            }
        }
    }
    if quote.is_some() {
        ws.drain(..).for_each(|(w, o)| out.push(w, o));
    }
    Some(())
}

/// Literal (`|`) and folded (`>`) block scalars; `start` is the `|` or `>`
/// indicator, the content starts on the next line.
fn block(b: &[u8], start: usize, end: usize, folded: bool, out: &mut Out) -> Option<()> {
    let header_end = b[start..].iter().position(|&c| c == b'\n').map(|p| start + p)?;
    let header = &b[start..header_end];
    let indicators = header.iter().take_while(|&&c| !matches!(c, b' ' | b'\t' | b'#' | b'\r')).count();
    if header[..indicators].iter().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let first = header_end + 1;
    // The indentation is the first non-blank line's.
    let mut indent = None;
    let mut i = first;
    while i < end.min(b.len()) {
        let le = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
        let spaces = b[i..le].iter().take_while(|&&c| c == b' ').count();
        if b[i + spaces..le].iter().any(|&c| c != b'\r') {
            indent = Some(spaces);
            break;
        }
        i = le + 1;
    }
    let indent = indent?;
    // (content start, content end, line break offset); content None for a blank line.
    let mut lines: Vec<(Option<(usize, usize)>, usize)> = Vec::new();
    let mut i = first;
    while i < b.len() && i < end {
        let le = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
        let ce = if le > i && b[le - 1] == b'\r' { le - 1 } else { le };
        let spaces = b[i..ce].iter().take_while(|&&c| c == b' ').count();
        if i + spaces == ce {
            lines.push((None, ce));
        } else if spaces >= indent {
            lines.push((Some((i + indent, ce)), ce));
        } else {
            break;
        }
        i = le + 1;
    }
    let content = |out: &mut Out, s: usize, e: usize| (s..e).for_each(|k| out.push(b[k], k));
    if !folded {
        for (c, brk) in lines {
            if let Some((s, e)) = c {
                content(out, s, e);
            }
            out.push(b'\n', brk);
        }
        return Some(());
    }
    let mut prev_more: Option<bool> = None;
    let mut blanks: Vec<usize> = Vec::new();
    let mut last_brk = start;
    for (c, brk) in lines {
        let Some((s, e)) = c else {
            blanks.push(brk);
            continue;
        };
        let more = matches!(b[s], b' ' | b'\t');
        match prev_more {
            None => blanks.drain(..).for_each(|o| out.push(b'\n', o)),
            Some(pm) => {
                if !pm && !more && blanks.is_empty() {
                    out.push(b' ', last_brk);
                } else {
                    if pm || more {
                        out.push(b'\n', last_brk);
                    }
                    blanks.drain(..).for_each(|o| out.push(b'\n', o));
                }
            }
        }
        content(out, s, e);
        prev_more = Some(more);
        last_brk = brk;
    }
    out.push(b'\n', last_brk);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Node {
        fn get_first(&self) -> &Node {
            match &self.kind {
                Kind::Seq(v) => &v[0],
                _ => panic!(),
            }
        }
    }

    fn scalars(n: &Node, out: &mut Vec<Node>) {
        match &n.kind {
            Kind::Scalar { .. } => out.push(n.clone()),
            Kind::Seq(v) => v.iter().for_each(|x| scalars(x, out)),
            Kind::Map(v) => v.iter().for_each(|(k, x)| {
                scalars(k, out);
                scalars(x, out)
            }),
        }
    }

    /// Every scalar of `src` maps exactly, and each value byte that is not
    /// produced by folding or escaping sits at the same byte in the file.
    fn check_all(src: &str) {
        let docs = parse(src).unwrap();
        let mut all = Vec::new();
        docs.iter().flatten().for_each(|d| scalars(d, &mut all));
        for n in all {
            let v = n.scalar().unwrap();
            let offs = scalar_offsets(src, &n).unwrap_or_else(|| panic!("no map for {v:?}"));
            assert_eq!(offs.len(), v.len());
            for (k, &o) in offs.iter().enumerate() {
                let c = v.as_bytes()[k];
                if c.is_ascii_alphanumeric() {
                    assert_eq!(src.as_bytes()[o], c, "{v:?} byte {k}");
                }
            }
        }
    }

    #[test]
    fn maps_every_style() {
        check_all(
            "- rule: Foo\n  cond1: >\n    evt.type = open and\n    proc.name = x\n\n    more\n  cond2: |-\n    a and\n      b\n  plain: evt.type = open and\n    proc.name = y\n  dq: \"a \\\"b\\\"\n    c \\t d\\\n    e\"\n  sq: 'it''s\n\n    x'\n  flow: [a, \"b c\", d]\n  f2: >-\n    x\n      y\n    z\n",
        );
    }

    #[test]
    fn real_files_map_exactly() {
        for f in ["falco_rules.yaml", "falco_rules-1.0.0.yaml", "falco-sandbox_rules.yaml"] {
            let p = format!("{}/../../../shared/data/rules/{f}", env!("CARGO_MANIFEST_DIR"));
            let src = std::fs::read_to_string(&p).unwrap();
            check_all(&src);
        }
    }

    #[test]
    fn non_ascii_offsets_are_bytes() {
        let src = "- a: \"é\"\n  b: 'ü x'\n  c: >\n    ñ y\n";
        check_all(src);
        let d = parse(src).unwrap().pop().unwrap().unwrap();
        let b = d.get_first().get("b").unwrap();
        assert_eq!(&src[b.start..b.end], "'ü x'");
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let e = parse("- a: [b, c\n- d: e\n").unwrap_err();
        assert!(e.offset > 0, "{e:?}");
    }
}
