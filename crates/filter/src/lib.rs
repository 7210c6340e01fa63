/*!
Falco's filter language: the conditions of rules and of `saker trace FILTER`.

[`parse`] turns a condition such as
`evt.type in (open, openat) and fd.name startswith /etc and not proc.name=cat`
into an [`Expr`] tree whose nodes know their line and column, so errors point
at the place with a caret and say what was expected ([`ParseError`]). Macro
names and list names stay in the tree as written; rule loading substitutes
them before compiling.

This crate does not know what fields exist or how to extract them (that is
`saker-fields`), nor load rules files (`saker-rules`).
*/

mod ast;
mod parse;

pub use ast::{Expr, FieldRef, Literal, Op, Pos, Rhs, Transformer};
pub use parse::{ParseError, parse};
