//! Rules files and texts built from pieces of them (conditions joined by
//! appends, exception clauses), with the way back from any byte of such a
//! text to the file line and column it came from.

use std::sync::Arc;

use crate::diag::{Context, ItemType, Location, Snippet};
use crate::yaml::{self, Node};

/// Index of a file in [`Files`].
pub(crate) type FileId = usize;

/// A loaded rules source.
pub(crate) struct File {
    pub name: Arc<str>,
    pub text: String,
    line_starts: Vec<usize>,
}

impl File {
    pub fn new(name: &str, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        File { name: name.into(), text: text.to_string(), line_starts }
    }

    /// 1-based line and character column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) as u32 + 1;
        Location { file: self.name.clone(), line: line as u32, column, offset }
    }

    /// The line containing `offset` and the caret column there.
    pub fn snippet(&self, offset: usize) -> Snippet {
        let loc = self.location(offset);
        let start = self.line_starts[loc.line as usize - 1];
        let end = self.text[start..].find('\n').map_or(self.text.len(), |p| start + p);
        Snippet { line: self.text[start..end].trim_end_matches('\r').to_string(), column: loc.column }
    }
}

/// All the files of a load.
#[derive(Default)]
pub(crate) struct Files(pub Vec<File>);

impl Files {
    pub fn get(&self, id: FileId) -> &File {
        &self.0[id]
    }

    /// The outermost context step: the file as a whole.
    pub fn root(&self, id: FileId) -> Context {
        let f = self.get(id);
        Context {
            item: ItemType::RulesContent,
            name: None,
            location: Some(Location { file: f.name.clone(), line: 0, column: 0, offset: 0 }),
            in_text: None,
        }
    }

    /// A context step at a byte of a file.
    pub fn step(&self, id: FileId, item: ItemType, name: Option<&str>, offset: usize) -> Context {
        Context { item, name: name.map(str::to_string), location: Some(self.get(id).location(offset)), in_text: None }
    }
}

/// Where a piece of a [`Text`] comes from.
#[derive(Clone, Debug)]
enum Origin {
    /// Each byte's offset in the file.
    Exact(Arc<[usize]>),
    /// Glue added by the loader, or a scalar that could not be followed: one place.
    At(usize),
}

#[derive(Clone, Debug)]
struct Piece {
    start: usize,
    len: usize,
    file: FileId,
    /// Where the scalar (or the item, for glue) starts in the file.
    anchor: usize,
    origin: Origin,
}

/// A text (condition, output) made of pieces of YAML scalars and glue.
#[derive(Clone, Debug, Default)]
pub(crate) struct Text {
    pub s: String,
    pieces: Vec<Piece>,
}

/// Where a byte of a [`Text`] is in a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spot {
    pub file: FileId,
    pub offset: usize,
    /// Where the scalar containing it starts.
    pub anchor: usize,
    /// Whether `offset` is the byte itself (not just the scalar or item).
    pub exact: bool,
}

impl Text {
    /// A text that is one scalar.
    pub fn scalar(files: &Files, file: FileId, node: &Node) -> Self {
        let mut t = Text::default();
        t.push_scalar(files, file, node);
        t
    }

    /// Appends a scalar's value.
    pub fn push_scalar(&mut self, files: &Files, file: FileId, node: &Node) {
        let value = node.scalar().unwrap_or_default();
        let origin = match yaml::scalar_offsets(&files.get(file).text, node) {
            Some(o) => Origin::Exact(o.into()),
            None => Origin::At(node.start),
        };
        self.pieces.push(Piece { start: self.s.len(), len: value.len(), file, anchor: node.start, origin });
        self.s.push_str(value);
    }

    /// Appends text of the loader's own, located at `at` in `file`.
    pub fn push_glue(&mut self, s: &str, file: FileId, at: usize) {
        self.pieces.push(Piece { start: self.s.len(), len: s.len(), file, anchor: at, origin: Origin::At(at) });
        self.s.push_str(s);
    }

    /// Appends another text.
    pub fn push_text(&mut self, other: &Text) {
        let base = self.s.len();
        self.pieces.extend(other.pieces.iter().map(|p| Piece { start: p.start + base, ..p.clone() }));
        self.s.push_str(&other.s);
    }

    /// The text without leading and trailing blanks.
    pub fn trimmed(&self) -> Text {
        let start = self.s.len() - self.s.trim_start().len();
        let end = self.s.trim_end().len().max(start);
        let mut t = Text { s: self.s[start..end].to_string(), pieces: Vec::new() };
        for p in &self.pieces {
            let (a, b) = (p.start.max(start), (p.start + p.len).min(end));
            if a > b || (a == b && p.len > 0) {
                continue;
            }
            let origin = match &p.origin {
                Origin::Exact(o) => Origin::Exact(o[a - p.start..b - p.start].into()),
                Origin::At(x) => Origin::At(*x),
            };
            t.pieces.push(Piece { start: a - start, len: b - a, origin, ..p.clone() });
        }
        t
    }

    /// Where byte `offset` of the text is in a file.
    pub fn locate(&self, offset: usize) -> Option<Spot> {
        let i = self.pieces.iter().rposition(|p| p.start <= offset && (offset < p.start + p.len || p.len == 0));
        let p = match i {
            Some(i) => &self.pieces[i],
            // At the end: just after the last byte of the last piece.
            None => {
                let p = self.pieces.iter().rfind(|p| p.len > 0)?;
                if let Origin::Exact(o) = &p.origin {
                    let last = o[p.len - 1];
                    let f = p.file;
                    return Some(Spot { file: f, offset: last + 1, anchor: p.anchor, exact: true });
                }
                p
            }
        };
        Some(match &p.origin {
            Origin::Exact(o) => Spot {
                file: p.file,
                offset: o[(offset - p.start).min(p.len.saturating_sub(1))],
                anchor: p.anchor,
                exact: offset - p.start < p.len,
            },
            Origin::At(a) => Spot { file: p.file, offset: *a, anchor: p.anchor, exact: false },
        })
    }

    /// Where the text starts (its first piece's scalar).
    pub fn start(&self) -> Option<(FileId, usize)> {
        self.pieces.first().map(|p| (p.file, p.anchor))
    }
}

/// Falco's label for a condition in contexts: its first characters, quoted.
pub(crate) fn text_label(s: &str) -> String {
    let short: String =
        if s.chars().count() > 20 { s.chars().take(17).collect::<String>() + "..." } else { s.to_string() };
    format!("\"{}\"", short.replace(['\n', '\r'], " "))
}

/// The line of `text` containing byte `offset`, and the 1-based column.
pub(crate) fn text_line(text: &str, offset: usize) -> (String, u32, u32) {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |p| offset + p);
    let line = text[..offset].matches('\n').count() as u32 + 1;
    let col = text[start..offset].chars().count() as u32 + 1;
    (text[start..end].to_string(), line, col)
}
