//! A recursive-descent parser for Falco's condition language.
//!
//! The grammar is libsinsp's (`userspace/libsinsp/filter/parser.h`):
//!
//! ```text
//! Expr      ::= OrExpr
//! OrExpr    ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*
//! AndExpr   ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*
//! NotExpr   ::= ('not ')* ('not(' Expr ')' | Check)
//! Check     ::= Field Condition | Transformer Condition | Identifier | '(' Expr ')'
//! Condition ::= 'exists' | NumOp (Number | FieldValue) | StrOp (String | FieldValue)
//!             | ListOp ('(' String (',' String)* ')' | Identifier | FieldValue)
//! FieldValue ::= 'val(' Field ')' | Transformer
//! ```

use std::fmt;

use crate::ast::{Expr, FieldRef, Literal, Op, Pos, Rhs, Transformer};

/// A condition that does not parse: where, what was expected, and the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where parsing stopped.
    pub pos: Pos,
    /// What was wrong or expected.
    pub message: String,
    /// The line of the condition the error is on, for the caret display.
    pub line_text: String,
}

impl fmt::Display for ParseError {
    /// `message at line L column C`, then the line and a caret under the column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at {}", self.message, self.pos)?;
        writeln!(f, "  {}", self.line_text)?;
        write!(f, "  {}^", " ".repeat(self.pos.col.saturating_sub(1) as usize))
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole condition.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { text, i: 0, depth: 0, lines: LineIndex::new(text) };
    if text.trim().is_empty() {
        return Err(p.error("empty condition"));
    }
    let e = p.or()?;
    p.blank();
    if p.i != text.len() {
        return Err(p.error("unexpected text, expecting 'and', 'or' or the end of the condition"));
    }
    Ok(e)
}

const MAX_DEPTH: u32 = 200;

const TRANSFORMERS: &[(&str, Transformer)] = &[
    ("tolower(", Transformer::ToLower),
    ("toupper(", Transformer::ToUpper),
    ("b64(", Transformer::B64),
    ("basename(", Transformer::Basename),
    ("len(", Transformer::Len),
];

/// Operators in the order they must be tried (longest first where prefixes overlap).
const NUM_OPS: &[(&str, Op)] = &[("<=", Op::Le), ("<", Op::Lt), (">=", Op::Ge), (">", Op::Gt)];
const STR_OPS: &[(&str, Op)] = &[
    ("==", Op::Eq),
    ("=", Op::Eq),
    ("!=", Op::Ne),
    ("glob", Op::Glob),
    ("iglob", Op::IGlob),
    ("contains", Op::Contains),
    ("icontains", Op::IContains),
    ("bcontains", Op::BContains),
    ("startswith", Op::StartsWith),
    ("bstartswith", Op::BStartsWith),
    ("endswith", Op::EndsWith),
    ("regex", Op::Regex),
];
const LIST_OPS: &[(&str, Op)] = &[("intersects", Op::Intersects), ("in", Op::In), ("pmatch", Op::Pmatch)];

struct Parser<'a> {
    text: &'a str,
    i: usize,
    depth: u32,
    lines: LineIndex,
}

/// Where each line of a text starts, computed once: every node records its
/// position, so finding a line by rescanning the text from its start made
/// parsing quadratic (an and-chain of 16k terms took seconds).
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the lines of `text` (one pass).
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 0-based line containing byte `offset` and where that line starts.
    pub fn line_of(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        (line, self.starts[line])
    }

    /// 1-based line and byte column of `offset`.
    pub fn pos(&self, offset: usize) -> Pos {
        let (line, start) = self.line_of(offset);
        Pos { offset, line: line as u32 + 1, col: (offset - start) as u32 + 1 }
    }

    /// The text of the line containing `offset`, without its newline.
    pub fn line_text<'t>(&self, text: &'t str, offset: usize) -> &'t str {
        let (line, start) = self.line_of(offset);
        let end = self.starts.get(line + 1).map_or(text.len(), |&s| s - 1);
        &text[start..end]
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x08)
}

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.i..]
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn pos(&self) -> Pos {
        self.lines.pos(self.i)
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        let line_text = self.lines.line_text(self.text, self.i).to_string();
        ParseError { pos: self.pos(), message: message.into(), line_text }
    }

    fn blank(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
        self.i > start
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.i += s.len();
            true
        } else {
            false
        }
    }

    /// A keyword followed by a blank, `(` or the end (so `in` does not match `inode`).
    fn eat_word(&mut self, word: &str) -> bool {
        let r = self.rest();
        if r.starts_with(word) && r.as_bytes().get(word.len()).is_none_or(|&b| !ident_char(b) && b != b'.') {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("condition nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let pos = self.pos();
        let mut children = vec![self.and()?];
        loop {
            self.blank();
            let save = self.i;
            if !self.eat_word("or") {
                break;
            }
            if self.blank() {
                children.push(self.and()?);
            } else if self.eat("(") {
                children.push(self.embedded()?);
            } else {
                self.i = save;
                return Err(self.error("expected a blank or '(' after 'or'"));
            }
        }
        self.depth -= 1;
        Ok(if children.len() == 1 { children.pop().unwrap() } else { Expr::Or(children, pos) })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let pos = self.pos();
        let mut children = vec![self.not()?];
        loop {
            self.blank();
            if !self.eat_word("and") {
                break;
            }
            if self.blank() {
                children.push(self.not()?);
            } else if self.eat("(") {
                children.push(self.embedded()?);
            } else {
                return Err(self.error("expected a blank or '(' after 'and'"));
            }
        }
        self.depth -= 1;
        Ok(if children.len() == 1 { children.pop().unwrap() } else { Expr::And(children, pos) })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let pos = self.pos();
        let mut negate = false;
        loop {
            let save = self.i;
            if self.eat("not") {
                if self.blank() {
                    negate = !negate;
                    continue;
                }
                if self.eat("(") {
                    negate = !negate;
                    let inner = self.embedded()?;
                    self.depth -= 1;
                    return Ok(if negate { Expr::Not(Box::new(inner), pos) } else { inner });
                }
            }
            self.i = save;
            break;
        }
        let inner = self.check()?;
        self.depth -= 1;
        Ok(if negate { Expr::Not(Box::new(inner), pos) } else { inner })
    }

    /// After a `(`: an expression and its `)`.
    fn embedded(&mut self) -> Result<Expr, ParseError> {
        let e = self.or()?;
        self.blank();
        if !self.eat(")") {
            return Err(self.error("expected ')'"));
        }
        Ok(e)
    }

    fn lex_identifier(&mut self) -> Option<&'a str> {
        let r = self.rest().as_bytes();
        if !r.first().is_some_and(|&b| ident_start(b)) {
            return None;
        }
        let n = r.iter().position(|&b| !ident_char(b)).unwrap_or(r.len());
        let s = &self.rest()[..n];
        self.i += n;
        Some(s)
    }

    /// A field name: identifiers joined by dots, at least two of them.
    fn lex_field_name(&mut self) -> Option<&'a str> {
        let start = self.i;
        let r = self.rest().as_bytes();
        let mut j = 0;
        let mut parts = 0;
        loop {
            if !r.get(j).is_some_and(|&b| ident_start(b)) {
                break;
            }
            while r.get(j).is_some_and(|&b| ident_char(b)) {
                j += 1;
            }
            parts += 1;
            if r.get(j) == Some(&b'.') && r.get(j + 1).is_some_and(|&b| ident_start(b)) {
                j += 1;
            } else {
                break;
            }
        }
        if parts < 2 {
            return None;
        }
        self.i = start + j;
        Some(&self.text[start..start + j])
    }

    fn field_rest(&mut self, name: &str, pos: Pos) -> Result<FieldRef, ParseError> {
        let mut arg = None;
        if self.eat("[") {
            let a = if let Some(q) = self.quoted()? {
                q
            } else {
                let r = self.rest().as_bytes();
                let n =
                    r.iter().position(|&b| matches!(b, b'[' | b']' | b'"' | b'\'') || is_blank(b)).unwrap_or(r.len());
                if n == 0 {
                    return Err(self.error("expected a field argument: a quoted or bare string"));
                }
                let s = self.rest()[..n].to_string();
                self.i += n;
                s
            };
            if !self.eat("]") {
                return Err(self.error("expected ']' after the field argument"));
            }
            arg = Some(a);
        }
        Ok(FieldRef::Field { name: name.to_string(), arg, pos })
    }

    fn lex_transformer(&mut self) -> Option<Transformer> {
        for &(s, t) in TRANSFORMERS {
            if self.eat(s) {
                return Some(t);
            }
        }
        None
    }

    /// After `transformer(`: a field or nested transformer, then `)`.
    fn transformer_rest(&mut self, t: Transformer, pos: Pos) -> Result<FieldRef, ParseError> {
        self.blank();
        let arg_pos = self.pos();
        let inner = if let Some(t2) = self.lex_transformer() {
            self.transformer_rest(t2, arg_pos)?
        } else if let Some(name) = self.lex_field_name() {
            self.field_rest(name, arg_pos)?
        } else {
            return Err(self.error(format!("expected a field or a transformer inside '{}('", t.as_str())));
        };
        self.blank();
        if !self.eat(")") {
            return Err(self.error(format!("expected ')' closing '{}('", t.as_str())));
        }
        Ok(FieldRef::Transformed { transformer: t, inner: Box::new(inner), pos })
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.blank();
        let pos = self.pos();
        if self.eat("(") {
            let e = self.embedded()?;
            self.depth -= 1;
            return Ok(e);
        }
        let save = self.i;
        let field = if let Some(t) = self.lex_transformer() {
            Some(self.transformer_rest(t, pos)?)
        } else if let Some(name) = self.lex_field_name() {
            Some(self.field_rest(name, pos)?)
        } else {
            None
        };
        let e = match field {
            Some(field) => self.condition(field, pos)?,
            None => {
                self.i = save;
                match self.lex_identifier() {
                    Some(id) => Expr::Identifier(id.to_string(), pos),
                    None => return Err(self.error("expected '(', a field check, or a macro name")),
                }
            }
        };
        self.depth -= 1;
        Ok(e)
    }

    fn condition(&mut self, field: FieldRef, pos: Pos) -> Result<Expr, ParseError> {
        self.blank();
        if self.eat_word("exists") {
            return Ok(Expr::Check { field, op: Op::Exists, rhs: None, pos });
        }
        for &(s, op) in NUM_OPS {
            if self.eat(s) {
                let rhs = self.num_value()?;
                return Ok(Expr::Check { field, op, rhs: Some(rhs), pos });
            }
        }
        for &(s, op) in STR_OPS {
            let symbolic = !s.as_bytes()[0].is_ascii_alphabetic();
            if (symbolic && self.eat(s)) || (!symbolic && self.eat_word(s)) {
                let rhs = self.str_value()?;
                return Ok(Expr::Check { field, op, rhs: Some(rhs), pos });
            }
        }
        for &(s, op) in LIST_OPS {
            if self.eat_word(s) {
                let rhs = self.list_value()?;
                return Ok(Expr::Check { field, op, rhs: Some(rhs), pos });
            }
        }
        let ops: Vec<&str> = std::iter::once("exists")
            .chain(NUM_OPS.iter().chain(STR_OPS).chain(LIST_OPS).map(|(s, _)| *s))
            .filter(|s| *s != "==")
            .collect();
        Err(self.error(format!("expected an operator after '{field}': one of {}", ops.join(", "))))
    }

    fn field_value(&mut self) -> Result<Option<Rhs>, ParseError> {
        let pos = self.pos();
        if self.eat("val(") {
            self.blank();
            let fpos = self.pos();
            let Some(name) = self.lex_field_name() else {
                return Err(self.error("expected a field inside 'val('"));
            };
            let f = self.field_rest(name, fpos)?;
            self.blank();
            if !self.eat(")") {
                return Err(self.error("expected ')' closing 'val('"));
            }
            return Ok(Some(Rhs::Field(f)));
        }
        if let Some(t) = self.lex_transformer() {
            return Ok(Some(Rhs::Field(self.transformer_rest(t, pos)?)));
        }
        Ok(None)
    }

    fn num_value(&mut self) -> Result<Rhs, ParseError> {
        self.blank();
        if let Some(f) = self.field_value()? {
            return Ok(f);
        }
        let pos = self.pos();
        let r = self.rest().as_bytes();
        let n =
            r.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))).unwrap_or(r.len());
        if n == 0 {
            return Err(self.error("expected a number or a field"));
        }
        let text = self.rest()[..n].to_string();
        self.i += n;
        Ok(Rhs::Value(Literal { text, pos }))
    }

    fn str_value(&mut self) -> Result<Rhs, ParseError> {
        self.blank();
        if let Some(f) = self.field_value()? {
            return Ok(f);
        }
        match self.string()? {
            Some(l) => Ok(Rhs::Value(l)),
            None => Err(self.error("expected a string, a quoted string or a field")),
        }
    }

    /// A quoted or bare string.
    fn string(&mut self) -> Result<Option<Literal>, ParseError> {
        let pos = self.pos();
        if let Some(text) = self.quoted()? {
            return Ok(Some(Literal { text, pos }));
        }
        let r = self.rest().as_bytes();
        let n = r
            .iter()
            .position(|&b| matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || is_blank(b))
            .unwrap_or(r.len());
        if n == 0 {
            return Ok(None);
        }
        let text = self.rest()[..n].to_string();
        self.i += n;
        Ok(Some(Literal { text, pos }))
    }

    /// A string in single or double quotes, unescaped.
    fn quoted(&mut self) -> Result<Option<String>, ParseError> {
        let Some(q @ (b'"' | b'\'')) = self.peek() else { return Ok(None) };
        let start = self.i;
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        let mut j = self.i + 1;
        while j < bytes.len() {
            let b = bytes[j];
            if b == q {
                self.i = j + 1;
                return Ok(Some(String::from_utf8(out).expect("input is UTF-8")));
            }
            if b == b'\\' {
                let Some(&e) = bytes.get(j + 1) else { break };
                let c = match e {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b' ' => b' ',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'"' | b'\'' if e == q => e,
                    _ => {
                        self.i = j;
                        return Err(
                            self.error(format!("unsupported escape sequence '\\{}' in a quoted string", e as char))
                        );
                    }
                };
                out.push(c);
                j += 2;
                continue;
            }
            out.push(b);
            j += 1;
        }
        self.i = start;
        Err(self.error("unterminated quoted string"))
    }

    fn list_value(&mut self) -> Result<Rhs, ParseError> {
        self.blank();
        let pos = self.pos();
        if self.eat("(") {
            let mut items = Vec::new();
            self.blank();
            if !self.eat(")") {
                loop {
                    self.blank();
                    match self.string()? {
                        Some(l) => items.push(l),
                        None => return Err(self.error("expected a list item")),
                    }
                    self.blank();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat(")") {
                        break;
                    }
                    return Err(self.error("expected ',' or ')' in the list"));
                }
            }
            return Ok(Rhs::List(items, pos));
        }
        if let Some(f) = self.field_value()? {
            return Ok(f);
        }
        match self.lex_identifier() {
            // A list name: rule loading replaces it with the list's items.
            Some(id) => Ok(Rhs::List(vec![Literal { text: id.to_string(), pos }], pos)),
            None => Err(self.error("expected a list in parentheses, a list name, or a field")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn check_op(e: &Expr) -> Op {
        match e {
            Expr::Check { op, .. } => *op,
            other => panic!("not a check: {other:?}"),
        }
    }

    #[test]
    fn precedence_and_grouping() {
        let e = ok("proc.name=bash or proc.name=sh and not fd.num>2");
        let Expr::Or(v, _) = e else { panic!() };
        assert_eq!(v.len(), 2);
        assert!(matches!(&v[1], Expr::And(a, _) if matches!(a[1], Expr::Not(..))));
        assert!(matches!(ok("not(proc.name=x)"), Expr::Not(..)));
        assert!(matches!(ok("(a and b) or(c)"), Expr::Or(..)));
        assert!(matches!(ok("not not proc.name=x"), Expr::Check { .. }));
    }

    #[test]
    fn operators() {
        for (s, op) in [
            ("fd.num >= 3", Op::Ge),
            ("fd.num<3", Op::Lt),
            ("proc.name == x", Op::Eq),
            ("proc.name != x", Op::Ne),
            ("fd.name startswith /etc", Op::StartsWith),
            ("fd.name bstartswith 7f454c46", Op::BStartsWith),
            ("evt.buffer bcontains 4142", Op::BContains),
            ("fd.name glob '/tmp/*'", Op::Glob),
            ("fd.name iglob '/TMP/*'", Op::IGlob),
            ("proc.cmdline icontains SHELL", Op::IContains),
            ("proc.name regex '^ba.h$'", Op::Regex),
            ("proc.name in (bash, sh)", Op::In),
            ("proc.name in(bash,sh)", Op::In),
            ("fd.name pmatch (/etc, /usr)", Op::Pmatch),
            ("proc.aname intersects (a)", Op::Intersects),
            ("proc.name exists", Op::Exists),
        ] {
            assert_eq!(check_op(&ok(s)), op, "{s}");
        }
    }

    #[test]
    fn values_lists_fields_and_transformers() {
        let Expr::Check { field, rhs: Some(Rhs::List(items, _)), .. } =
            ok("proc.aname[2] in (a, \"b c\", 'd\\'e', shell_binaries)")
        else {
            panic!()
        };
        assert_eq!(field.to_string(), "proc.aname[2]");
        let texts: Vec<&str> = items.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "b c", "d'e", "shell_binaries"]);
        let Expr::Check { field, rhs: Some(Rhs::Field(f)), .. } = ok("tolower(proc.name) = val(proc.pname)") else {
            panic!()
        };
        assert_eq!((field.to_string(), f.to_string()), ("tolower(proc.name)".into(), "proc.pname".into()));
        assert!(matches!(ok("proc.name in shell_binaries"), Expr::Check { rhs: Some(Rhs::List(..)), .. }));
        assert!(matches!(ok("spawned_process"), Expr::Identifier(..)));
        assert!(matches!(ok("fd.name in ()"), Expr::Check { rhs: Some(Rhs::List(v, _)), .. } if v.is_empty()));
        assert!(matches!(ok("len(proc.args) > 10"), Expr::Check { .. }));
        assert!(matches!(ok("evt.arg[0] = 3"), Expr::Check { .. }));
    }

    #[test]
    fn words_are_not_split_inside_identifiers() {
        // "in" must not match the start of "inbound", nor "or" of "orphan".
        assert!(matches!(ok("inbound and orphan"), Expr::And(..)));
        assert!(matches!(ok("evt.type in (open) and proc.name=x"), Expr::And(..)));
    }

    #[test]
    fn errors_are_located() {
        let e = parse("proc.name = bash and\n  fd.name startwith /etc").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 11));
        assert!(e.message.contains("expected an operator"), "{e}");
        assert!(e.to_string().ends_with("\n    fd.name startwith /etc\n            ^"), "{e}");
        let e = parse("proc.name in (a, b").unwrap_err();
        assert!(e.message.contains("','"), "{e}");
        assert!(parse("(proc.name=x").unwrap_err().message.contains("')'"));
        assert!(parse("").is_err());
        assert!(parse("proc.name = \"abc").unwrap_err().message.contains("unterminated"));
        assert!(parse("proc.name=x proc.name=y").unwrap_err().message.contains("'and', 'or'"));
    }
}
