//! Filters a kernel driver applies before an event is built: what the rules
//! and the state can care about, derived from the loaded rules
//! (`saker_engine::kernel_filters`), so that events none of them can match
//! never cross the ring.
//!
//! Only the open family (open, openat, openat2, creat) is filtered: opens
//! are the most frequent events the usual rules want, and their path and
//! flags are known in the kernel. An open is sent when one of the filter's
//! terms holds for it, or when the kernel cannot tell cheaply what user
//! space would make of its path; see [`OpenFilter`].

use std::fmt;

/// The syscalls an [`OpenTerm`] can apply to, in the order of their bits.
pub const OPEN_CALLS: [&str; 4] = ["open", "openat", "openat2", "creat"];

/// How a term matches the path an open names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathMatch {
    /// The path is exactly this (absolute) name.
    Exact(String),
    /// The path starts with these bytes.
    Prefix(String),
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathMatch::Exact(p) => write!(f, "{p}"),
            PathMatch::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// One way an open can matter: all of its conditions hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTerm {
    /// Bit `i` set: the term applies to `OPEN_CALLS[i]`.
    pub calls: u8,
    /// The paths it needs; `None`: any path.
    pub paths: Option<Vec<PathMatch>>,
    /// Open flags (scap's `PPM_O_*` bits, as in the event) of which at
    /// least one must be set; 0: any flags.
    pub flags_any: u32,
}

/// The open-family filter: an open is sent when a term applying to its
/// syscall holds, and always (whatever the terms) when its path is relative,
/// not in normal form (`//`, `/./`, a `..` anywhere, a trailing `/`), longer
/// than [`MAX_FILTER_PATH`] bytes or unreadable, or when it opened a
/// directory (a later `*at` call or `fchdir` may resolve names through it).
/// User space resolves such paths with the thread's state, which the kernel
/// does not have; everything else reaches the rules as the path written.
///
/// A syscall with no term is not sent at all but for those cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenFilter {
    /// The terms.
    pub terms: Vec<OpenTerm>,
}

/// The longest path (bytes, with its NUL) the kernel compares; a longer
/// path is always sent.
pub const MAX_FILTER_PATH: usize = 256;

/// Most terms a filter can have (a kernel bit mask each).
pub const MAX_OPEN_TERMS: usize = 32;

/// The scap flag bits a term can require, with their names.
pub const FLAG_NAMES: [(u32, &str); 2] = [(1, "O_RDONLY"), (2, "O_WRONLY")];

impl OpenFilter {
    /// The terms that apply to `call` (an entry of [`OPEN_CALLS`]).
    pub fn terms_of<'a>(&'a self, call: &str) -> impl Iterator<Item = &'a OpenTerm> + 'a {
        let bit = OPEN_CALLS.iter().position(|c| *c == call).map_or(0, |i| 1u8 << i);
        self.terms.iter().filter(move |t| t.calls & bit != 0)
    }

    /// Whether every open of `call` is sent (a term needing nothing).
    pub fn keeps_all(&self, call: &str) -> bool {
        self.terms_of(call).any(|t| t.paths.is_none() && t.flags_any == 0)
    }

    /// One line per open syscall, as `saker detect --dry-run` prints them.
    pub fn describe(&self) -> Vec<String> {
        OPEN_CALLS
            .iter()
            .map(|call| {
                let terms: Vec<&OpenTerm> = self.terms_of(call).collect();
                let what = if self.keeps_all(call) {
                    "every event sent".to_string()
                } else if terms.is_empty() {
                    "none sent but relative, unnormalized or long paths and directories".to_string()
                } else {
                    let parts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                    format!(
                        "sent when {} (or a relative, unnormalized or long path, or a directory)",
                        parts.join("; or ")
                    )
                };
                format!("{call}: {what}")
            })
            .collect()
    }
}

impl fmt::Display for OpenTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(paths) = &self.paths {
            let list: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            parts.push(format!("path in ({})", list.join(", ")));
        }
        if self.flags_any != 0 {
            let names: Vec<&str> =
                FLAG_NAMES.iter().filter(|(b, _)| self.flags_any & b != 0).map(|(_, n)| *n).collect();
            parts.push(format!("flags have {}", names.join(" or ")));
        }
        if parts.is_empty() {
            parts.push("always".into());
        }
        f.write_str(&parts.join(" and "))
    }
}

/// scap's `PPM_O_DIRECTORY`: the open asked for a directory.
pub const PPM_O_DIRECTORY: u32 = 1 << 15;

impl OpenFilter {
    /// Whether a kernel applying this filter sends the open of
    /// `OPEN_CALLS[call]` naming `path` (as the caller wrote it) with scap
    /// flags `flags`, `dir` when it opened a directory: the decision of the
    /// modern probe (kernel/modern_bpf/filter.bpf.h), for replaying a
    /// capture as the kernel would have filtered it, and for tests.
    pub fn sends(&self, call: usize, path: &[u8], flags: u32, dir: bool) -> bool {
        let bit = 1u8 << call;
        let ok = |t: &OpenTerm| t.flags_any == 0 || flags & t.flags_any != 0;
        if self.terms.iter().any(|t| t.calls & bit != 0 && t.paths.is_none() && ok(t)) {
            return true;
        }
        if dir || path.is_empty() || path.len() >= MAX_FILTER_PATH - 1 || path_needs_state(path) {
            return true;
        }
        self.terms.iter().filter(|t| t.calls & bit != 0 && ok(t)).any(|t| {
            t.paths.iter().flatten().any(|p| match p {
                PathMatch::Exact(s) => s.as_bytes() == path,
                PathMatch::Prefix(s) => path.starts_with(s.as_bytes()),
            })
        })
    }
}

/// A path user space resolves with the thread's state: relative, or not in
/// normal form (`//`, `/./`, a `..` anywhere, a trailing `/` or `/.`).
fn path_needs_state(p: &[u8]) -> bool {
    if p.first() != Some(&b'/') {
        return true;
    }
    p.windows(2).any(|w| w == b"//" || w == b"..")
        || p.windows(3).any(|w| w == b"/./")
        || p.ends_with(b"/.")
        || (p.len() > 1 && p.ends_with(b"/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> OpenFilter {
        OpenFilter {
            terms: vec![
                OpenTerm {
                    calls: 0b0111,
                    paths: Some(vec![PathMatch::Exact("/etc/shadow".into()), PathMatch::Prefix("/etc/pam.d/".into())]),
                    flags_any: 1,
                },
                OpenTerm { calls: 0b0111, paths: None, flags_any: 2 },
            ],
        }
    }

    #[test]
    fn sends_what_a_term_holds_for_and_what_needs_state() {
        let f = filter();
        assert!(f.sends(1, b"/etc/shadow", 1, false));
        assert!(!f.sends(1, b"/etc/shadowx", 1, false));
        assert!(f.sends(1, b"/etc/pam.d/common", 1, false));
        assert!(!f.sends(1, b"/etc/hostname", 1, false));
        // Any write.
        assert!(f.sends(1, b"/etc/hostname", 3, false));
        // creat has no term.
        assert!(!f.sends(3, b"/etc/shadow", 2, false));
        // What user space resolves.
        for p in
            [&b"etc/shadow"[..], b"/etc//hostname", b"/etc/./hostname", b"/tmp/../etc/x", b"/etc/", b"/etc/.", b"/a..b"]
        {
            assert!(f.sends(1, p, 1, false), "{}", String::from_utf8_lossy(p));
        }
        assert!(f.sends(1, b"/etc", 1, true));
        assert!(f.sends(1, &[b'/'; 300], 1, false));
        assert!(!f.sends(1, b"/", 1, false));
        assert!(!f.sends(1, b"/home/u/.bashrc", 1, false));
    }
}
