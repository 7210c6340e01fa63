//! The syntax tree of a filter condition.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Where something is in the condition text: byte offset, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pos {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in bytes.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.col)
    }
}

/// A check operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `exists`
    Exists,
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `icontains`
    IContains,
    /// `bcontains` (hex bytes)
    BContains,
    /// `startswith`
    StartsWith,
    /// `bstartswith` (hex bytes)
    BStartsWith,
    /// `endswith`
    EndsWith,
    /// `glob`
    Glob,
    /// `iglob`
    IGlob,
    /// `regex`
    Regex,
    /// `in`
    In,
    /// `intersects`
    Intersects,
    /// `pmatch` (path prefix match)
    Pmatch,
}

impl Op {
    /// The operator as written in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Exists => "exists",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
        }
    }

    /// Whether the right side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

/// A transformer applied to a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    /// `tolower(...)`
    ToLower,
    /// `toupper(...)`
    ToUpper,
    /// `b64(...)`: base64-decode.
    B64,
    /// `basename(...)`: the last path component.
    Basename,
    /// `len(...)`: the length of a string or list.
    Len,
}

impl Transformer {
    /// The transformer's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }
}

/// A field reference, possibly under transformers: `proc.aname[2]`, `tolower(proc.name)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// A field with an optional argument.
    Field {
        /// Field name, e.g. `proc.aname`.
        name: String,
        /// The argument in brackets, if any.
        arg: Option<String>,
        /// Where the field name starts.
        pos: Pos,
    },
    /// A transformer applied to a field reference.
    Transformed {
        /// The transformer.
        transformer: Transformer,
        /// What it applies to.
        inner: Box<FieldRef>,
        /// Where the transformer starts.
        pos: Pos,
    },
}

impl FieldRef {
    /// Where the reference starts.
    pub fn pos(&self) -> Pos {
        match self {
            FieldRef::Field { pos, .. } | FieldRef::Transformed { pos, .. } => *pos,
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Field { name, arg: None, .. } => f.write_str(name),
            FieldRef::Field { name, arg: Some(a), .. } => write!(f, "{name}[{a}]"),
            FieldRef::Transformed { transformer, inner, .. } => write!(f, "{}({inner})", transformer.as_str()),
        }
    }
}

/// A literal value with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal {
    /// The value, unquoted and unescaped.
    pub text: String,
    /// Where it is.
    pub pos: Pos,
}

/// The right side of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// A single value: `bash`, `"a b"`, `42`.
    Value(Literal),
    /// A list in parentheses; items may name lists, which rule loading expands.
    List(Vec<Literal>, Pos),
    /// Another field's value: `val(proc.pname)`, or a transformed field.
    Field(FieldRef),
}

/// A condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>, Pos),
    /// One must hold.
    Or(Vec<Expr>, Pos),
    /// Must not hold.
    Not(Box<Expr>, Pos),
    /// A field compared with something.
    Check {
        /// The field (left side).
        field: FieldRef,
        /// The operator.
        op: Op,
        /// The right side, absent for `exists`.
        rhs: Option<Rhs>,
        /// Where the check starts.
        pos: Pos,
    },
    /// A bare identifier: a macro name, replaced when rules are loaded.
    Identifier(String, Pos),
    /// A macro's use, once rules are loaded: it holds as its body does.
    ///
    /// The body is the macro's resolved condition, one value shared by
    /// every use of the macro (in every rule of a load, and in the bodies of
    /// other macros): a macro used a thousand times is one tree, and
    /// [`FilterCompiler`](crate::FilterCompiler) compiles it once. Its nodes
    /// keep the positions of the macro's own text.
    Macro {
        /// The macro's name.
        name: String,
        /// Its resolved condition, shared.
        body: Arc<Expr>,
        /// Where the name is used.
        pos: Pos,
    },
}

impl Expr {
    /// Where the expression starts. For a macro's use, where its body starts
    /// (as if the body were written in its place); the use itself is at the
    /// variant's `pos`.
    pub fn pos(&self) -> Pos {
        match self {
            Expr::And(_, p) | Expr::Or(_, p) | Expr::Not(_, p) | Expr::Identifier(_, p) => *p,
            Expr::Check { pos, .. } => *pos,
            Expr::Macro { body, .. } => body.pos(),
        }
    }

    /// Calls `f` on every node, depth first, parents before children. The
    /// body of a macro is visited once, at its first use: a walk costs what
    /// the definitions do, not what the expansion would (which doubles with
    /// every level of macros using the previous one twice).
    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        self.visit_once(f, &mut HashSet::new());
    }

    fn visit_once<'a>(&'a self, f: &mut impl FnMut(&'a Expr), seen: &mut HashSet<*const Expr>) {
        f(self);
        match self {
            Expr::And(v, _) | Expr::Or(v, _) => v.iter().for_each(|e| e.visit_once(f, seen)),
            Expr::Not(e, _) => e.visit_once(f, seen),
            Expr::Macro { body, .. } => {
                if seen.insert(Arc::as_ptr(body)) {
                    body.visit_once(f, seen);
                }
            }
            Expr::Check { .. } | Expr::Identifier(..) => {}
        }
    }

    /// The names compared with the domain-name fields (`fd.sip.name = N`,
    /// `fd.cip.name in (A, B)`, and `fd.lip.name`, `fd.rip.name`): what the
    /// name resolver (saker-dns) must look up for the condition to match.
    pub fn domain_names(&self) -> Vec<String> {
        const FIELDS: [&str; 4] = ["fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name"];
        let mut names = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Check { field: FieldRef::Field { name, .. }, rhs: Some(rhs), .. } = e
                && FIELDS.contains(&name.as_str())
            {
                match rhs {
                    Rhs::Value(l) => names.push(l.text.clone()),
                    Rhs::List(items, _) => names.extend(items.iter().map(|l| l.text.clone())),
                    Rhs::Field(_) => {}
                }
            }
        });
        names.sort();
        names.dedup();
        names
    }

    /// Calls `f` on every node, children before parents, allowing changes.
    /// Macro bodies are shared, so not visited: `f` sees a macro's use only.
    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut Expr)) {
        match self {
            Expr::And(v, _) | Expr::Or(v, _) => v.iter_mut().for_each(|e| e.visit_mut(f)),
            Expr::Not(e, _) => e.visit_mut(f),
            Expr::Check { .. } | Expr::Identifier(..) | Expr::Macro { .. } => {}
        }
        f(self);
    }
}
