/*!
Falco's filter language: the conditions of rules and of `saker trace FILTER`.

[`parse`] turns a condition such as
`evt.type in (open, openat) and fd.name startswith /etc and not proc.name=cat`
into an [`Expr`] tree whose nodes know their line and column, so errors point
at the place with a caret and say what was expected ([`ParseError`]). Macro
names and list names stay in the tree as written; rule loading replaces them
before compiling: a list name by the list's items, a macro name by an
[`Expr::Macro`] node that refers to the macro's resolved body, one value
shared by all its uses.

[`compile`] (or a [`FilterCompiler`], for the many conditions of a load:
it compiles each macro body once, into a node shared by all its uses)
then resolves fields once (through `saker-fields`), parses
literals to the fields' types, builds hash sets for lists, a path trie for
`pmatch`, compiled globs and regexes, and the [`EventTypeSet`] of the event
types the condition can match; [`Filter::matches`] evaluates it on an event
without allocating.

This crate does not define fields or extract them (that is
`saker-fields`), nor load rules files (`saker-rules`).
*/

mod ast;
mod compile;
mod evttype;
mod parse;
mod pmatch;

pub use ast::{Expr, FieldRef, Literal, Op, Pos, Rhs, Transformer};
pub use compile::{CompileError, Filter, FilterCompiler, compile, compile_str};
pub use evttype::event_types;
pub use parse::{LineIndex, ParseError, parse};
pub use saker_abi::EventTypeSet;
