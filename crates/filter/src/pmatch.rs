//! `pmatch`: whether a path is one of, or lies under, a set of paths.

use globset::{GlobBuilder, GlobMatcher};
use rustc_hash::FxHashMap;

/// A trie of path components. A path matches when a stored path is a prefix
/// of it component by component (`/etc` matches `/etc` and `/etc/passwd`,
/// not `/etcd`); components with `*`, `?` or `[` are globs, as in libsinsp.
#[derive(Clone, Debug, Default)]
pub(crate) struct PathTrie {
    root: Node,
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// A stored path ends here: everything below matches.
    terminal: bool,
    children: FxHashMap<Box<[u8]>, Node>,
    globs: Vec<(GlobMatcher, Node)>,
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl PathTrie {
    /// Adds a path.
    pub(crate) fn insert(&mut self, path: &[u8]) {
        let mut node = &mut self.root;
        for comp in components(path) {
            if node.terminal {
                return; // a shorter stored path already covers this one
            }
            let is_glob = comp.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            node = match (is_glob, std::str::from_utf8(comp)) {
                (true, Ok(pattern)) => {
                    let pos = node.globs.iter().position(|(g, _)| g.glob().glob() == pattern);
                    let idx = match pos {
                        Some(i) => i,
                        None => match GlobBuilder::new(pattern).literal_separator(true).build() {
                            Ok(g) => {
                                node.globs.push((g.compile_matcher(), Node::default()));
                                node.globs.len() - 1
                            }
                            Err(_) => return,
                        },
                    };
                    &mut node.globs[idx].1
                }
                _ => node.children.entry(comp.into()).or_default(),
            };
        }
        node.terminal = true;
        node.children.clear();
        node.globs.clear();
    }

    /// Whether `path` is a stored path or lies under one.
    pub(crate) fn matches(&self, path: &[u8]) -> bool {
        walk(&self.root, components(path))
    }
}

/// Matches the remaining components (an iterator, cloned at glob branches,
/// so matching allocates nothing).
fn walk<'p>(node: &Node, mut comps: impl Iterator<Item = &'p [u8]> + Clone) -> bool {
    if node.terminal {
        return true;
    }
    let Some(first) = comps.next() else { return false };
    if let Some(child) = node.children.get(first)
        && walk(child, comps.clone())
    {
        return true;
    }
    node.globs
        .iter()
        .any(|(g, child)| std::str::from_utf8(first).is_ok_and(|s| g.is_match(s)) && walk(child, comps.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(paths: &[&str]) -> PathTrie {
        let mut t = PathTrie::default();
        for p in paths {
            t.insert(p.as_bytes());
        }
        t
    }

    #[test]
    fn prefixes_by_component() {
        let t = trie(&["/var/run", "/etc", "/lib", "/usr/lib"]);
        assert!(t.matches(b"/etc"));
        assert!(t.matches(b"/etc/passwd"));
        assert!(t.matches(b"/var/run/docker.sock"));
        assert!(!t.matches(b"/etcd/x"));
        assert!(!t.matches(b"/var"));
        assert!(!t.matches(b"/var/lib/messages"));
        assert!(!t.matches(b"/boot"));
        assert!(t.matches(b"/usr/lib/x.so"));
        assert!(!t.matches(b"/usr/bin/ls"));
    }

    #[test]
    fn shorter_paths_win_and_globs_match_one_component() {
        let t = trie(&["/usr/lib", "/usr", "/home/*/.ssh"]);
        assert!(t.matches(b"/usr/bin/ls"));
        assert!(t.matches(b"/home/alice/.ssh/id_rsa"));
        assert!(!t.matches(b"/home/alice/docs"));
        assert!(trie(&["/"]).matches(b"/anything"));
    }
}
