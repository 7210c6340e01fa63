//! Conditions printed back the way Falco prints a compiled condition
//! (libsinsp's `ast::as_string`): `and`/`or` in parentheses, values quoted
//! and escaped when needed.

use saker_filter::{Expr, FieldRef, Rhs};

/// The condition as Falco prints it, e.g.
/// `(evt.type = open and proc.name in (ash, bash))`.
pub fn condition_string(e: &Expr) -> String {
    let mut s = String::new();
    expr(e, &mut s);
    s
}

fn expr(e: &Expr, out: &mut String) {
    match e {
        Expr::And(v, _) | Expr::Or(v, _) => {
            let op = if matches!(e, Expr::And(..)) { " and " } else { " or " };
            out.push('(');
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                expr(c, out);
            }
            out.push(')');
        }
        Expr::Not(c, _) => {
            out.push_str("not ");
            expr(c, out);
        }
        Expr::Identifier(name, _) => out.push_str(name),
        // Printed expanded, as Falco prints a compiled condition.
        Expr::Macro { body, .. } => expr(body, out),
        Expr::Check { field: f, op, rhs, .. } => {
            field(f, out);
            out.push(' ');
            out.push_str(op.as_str());
            match rhs {
                None => {}
                Some(Rhs::Value(l)) => {
                    out.push(' ');
                    out.push_str(&escape(&l.text));
                }
                Some(Rhs::List(items, _)) => {
                    out.push_str(" (");
                    for (i, l) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(&escape(&l.text));
                    }
                    out.push(')');
                }
                // Falco prints `val(f)` as `f`, like a string.
                Some(Rhs::Field(f)) => {
                    out.push(' ');
                    field(f, out);
                }
            }
        }
    }
}

fn field(f: &FieldRef, out: &mut String) {
    match f {
        FieldRef::Field { name, arg, .. } => {
            out.push_str(name);
            if let Some(a) = arg {
                out.push('[');
                out.push_str(&escape(a));
                out.push(']');
            }
        }
        FieldRef::Transformed { transformer, inner, .. } => {
            out.push_str(transformer.as_str());
            out.push('(');
            field(inner, out);
            out.push(')');
        }
    }
}

/// libsinsp's `escape_str`: quoted when it holds a blank, a quote or a backslash.
pub(crate) fn escape(s: &str) -> String {
    let mut r = String::with_capacity(s.len());
    let mut quote = false;
    for c in s.chars() {
        match c {
            '\u{8}' => r.push_str("\\b"),
            '\u{c}' => r.push_str("\\f"),
            '\n' => r.push_str("\\n"),
            '\r' => r.push_str("\\r"),
            '\t' => r.push_str("\\t"),
            '\\' => r.push_str("\\\\"),
            '"' => r.push_str("\\\""),
            ' ' | '\'' => r.push(c),
            _ => {
                r.push(c);
                continue;
            }
        }
        quote = true;
    }
    if quote { format!("\"{r}\"") } else { r }
}
