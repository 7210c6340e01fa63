//! `saker fields`: the fields formats, filters and rules can name, like
//! `sysdig -l`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use saker_fields::{ArgKind, FIELDS, FieldInfo};

use crate::cli::{FieldsArgs, UsageError};

/// Width of the name column.
const NAME: usize = 34;
/// Width of the type column.
const TYPE: usize = 9;
/// Width of a line.
const WIDTH: usize = 110;

pub fn run(args: FieldsArgs) -> Result<ExitCode> {
    let selected: Vec<&FieldInfo> = FIELDS
        .iter()
        .filter(|f| args.prefix.is_empty() || args.prefix.iter().any(|p| f.name.starts_with(p.as_str())))
        .collect();
    if selected.is_empty() {
        return Err(UsageError(format!("no field name starts with {}", args.prefix.join(" or "))).into());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        write_json(&selected, &mut out)?;
    } else {
        write_text(&selected, &mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the fields whose name starts with `prefix` (all without one), as
/// `saker fields` does: for `saker detect --list` and the like.
pub fn print_fields(prefix: Option<&str>) {
    let selected: Vec<&FieldInfo> = FIELDS.iter().filter(|f| prefix.is_none_or(|p| f.name.starts_with(p))).collect();
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not worth reporting.
    let _ = write_text(&selected, &mut out).and_then(|()| out.flush());
}

/// The name as users write it, with its argument: `evt.arg.NAME or [N]`,
/// `proc.aname[N]`.
fn display_name(f: &FieldInfo) -> String {
    match f.arg_syntax() {
        Some(syntax) => syntax.split(" or ").map(|s| format!("{}{s}", f.name)).collect::<Vec<_>>().join(", "),
        None => f.name.to_string(),
    }
}

fn notes(f: &FieldInfo) -> String {
    let mut desc = f.desc.to_string();
    if f.arg() == ArgKind::Optional {
        desc.push_str(" The argument is optional.");
    }
    if f.is_new() {
        desc.push_str(" (Not in sysdig 0.29.3.)");
    }
    desc
}

fn write_text(fields: &[&FieldInfo], out: &mut impl Write) -> std::io::Result<()> {
    let mut class = "";
    for f in fields {
        if f.class() != class {
            if !class.is_empty() {
                writeln!(out)?;
            }
            class = f.class();
            writeln!(out, "Field class: {class}")?;
            writeln!(out)?;
        }
        let name = display_name(f);
        let mut lines = wrap(&notes(f), WIDTH - NAME - TYPE - 2);
        let first = if lines.is_empty() { String::new() } else { lines.remove(0) };
        if name.len() < NAME {
            writeln!(out, "{name:<NAME$}{:<TYPE$}{first}", f.type_name())?;
        } else {
            writeln!(out, "{name}")?;
            writeln!(out, "{:NAME$}{:<TYPE$}{first}", "", f.type_name())?;
        }
        for l in lines {
            writeln!(out, "{:w$}{l}", "", w = NAME + TYPE)?;
        }
    }
    Ok(())
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn write_json(fields: &[&FieldInfo], out: &mut impl Write) -> std::io::Result<()> {
    fn string(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    writeln!(out, "[")?;
    for (i, f) in fields.iter().enumerate() {
        let arg = match f.arg() {
            ArgKind::None => "none",
            ArgKind::Required => "required",
            ArgKind::Optional => "optional",
        };
        write!(
            out,
            "  {{\"name\":{},\"class\":{},\"type\":{},\"filter_type\":{},\"arg\":{},\"arg_syntax\":{},\"filter_only\":{},\"in_sysdig_0_29_3\":{},\"desc\":{}}}",
            string(f.name),
            string(f.class()),
            string(f.type_name()),
            string(f.kind.name()),
            string(arg),
            f.arg_syntax().map_or("null".to_string(), string),
            f.filter_only(),
            !f.is_new(),
            string(f.desc),
        )?;
        writeln!(out, "{}", if i + 1 < fields.len() { "," } else { "" })?;
    }
    writeln!(out, "]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
    }
}
