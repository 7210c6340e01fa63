//! Small shared pieces: the hasher of the tables, shared strings, path joining.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

/// A byte string shared between threads, fds and tables: cloning it copies a
/// pointer, so fd tables copied at fork and names kept by dup share storage.
pub type Str = Arc<[u8]>;

/// The empty [`Str`], shared (no allocation per use).
pub fn empty_str() -> Str {
    static EMPTY: OnceLock<Str> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(&b""[..])).clone()
}

/// A [`Str`] with these bytes (the shared empty string when they are empty).
pub fn new_str(b: &[u8]) -> Str {
    if b.is_empty() { empty_str() } else { Arc::from(b) }
}

/// FxHash (the rustc hasher): one multiply per word, ideal for small integer
/// keys such as tids and fds.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// Whether sinsp treats a path byte as invalid (replaced by `.` in names).
#[inline]
fn invalid(c: u8) -> bool {
    !(0x20..0x7f).contains(&c)
}

/// Moves the write position `out.len()` back to the previous component, as
/// sinsp's `rewind_to_parent_path` does (never past `base + 1`).
fn rewind(out: &mut Vec<u8>, base: usize) {
    let mut tc = out.len();
    if tc <= base + 1 {
        return;
    }
    tc -= 1;
    while tc > base && out[tc - 1] != b'/' {
        tc -= 1;
    }
    out.truncate(tc);
}

/// Appends `path` to `out` the way sinsp's `copy_and_sanitize_path` does:
/// `.` and `..` components are resolved (`..` can go back up to `base`),
/// repeated `/` are collapsed, invalid bytes become `.`, and a trailing `/`
/// is dropped.
fn copy_and_sanitize(out: &mut Vec<u8>, base: usize, path: &[u8]) {
    let at = |i: usize| path.get(i).copied().unwrap_or(0);
    let mut pc = 0;
    loop {
        let c = at(pc);
        if c == 0 {
            if out.len() > base + 1 && out.last() == Some(&b'/') {
                out.pop();
            }
            return;
        }
        if invalid(c) {
            out.push(b'.');
            pc += 1;
        } else if c == b'.' && at(pc + 1) == b'.' && at(pc + 2) == b'/' {
            rewind(out, base);
            pc += 3;
        } else if c == b'.' && at(pc + 1) == b'.' {
            if at(pc + 2) == 0 {
                rewind(out, base);
                pc += 2;
            } else {
                out.extend_from_slice(b"..");
                pc += 2;
            }
        } else if c == b'.' && at(pc + 1) == b'/' {
            pc += 2;
        } else if c == b'.' {
            if at(pc + 1) != 0 {
                out.push(c);
            }
            pc += 1;
        } else if c == b'/' {
            if out.len() > base && out.last() == Some(&b'/') {
                pc += 1;
            } else {
                out.push(c);
                pc += 1;
            }
        } else {
            out.push(c);
            pc += 1;
        }
    }
}

/// Joins a directory (`dir`, normally ending in `/`) and a path as sinsp's
/// `concatenate_paths`: an absolute `path` ignores `dir`; a relative one is
/// appended to `dir` verbatim and normalized. The result replaces `out`.
pub fn concat_paths(out: &mut Vec<u8>, dir: &[u8], path: &[u8]) {
    out.clear();
    append_path(out, dir, path);
}

/// [`concat_paths`] appending to `out` instead of replacing its contents.
pub fn append_path(out: &mut Vec<u8>, dir: &[u8], path: &[u8]) {
    let base = out.len();
    // The C code stops at the first NUL.
    let path = match path.iter().position(|&b| b == 0) {
        Some(p) => &path[..p],
        None => path,
    };
    if !path.is_empty() && path[0] != b'/' {
        out.extend_from_slice(dir);
        copy_and_sanitize(out, base, path);
    } else {
        copy_and_sanitize(out, base, path);
    }
}

/// Writes `a.b.c.d` for an address in network byte order.
pub(crate) fn push_ipv4(out: &mut Vec<u8>, ip: [u8; 4]) {
    use std::io::Write;
    let _ = write!(out, "{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
}

/// Writes an IPv6 address as `inet_ntop` does.
pub(crate) fn push_ipv6(out: &mut Vec<u8>, ip: [u8; 16]) {
    use std::io::Write;
    let _ = write!(out, "{}", std::net::Ipv6Addr::from(ip));
}

/// Whether an IPv6 address is IPv4-mapped (`::ffff:a.b.c.d`).
pub(crate) fn is_v4_mapped(ip: &[u8]) -> bool {
    ip.len() >= 12 && ip[..10] == [0; 10] && ip[10] == 0xff && ip[11] == 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(dir: &str, p: &str) -> String {
        let mut out = Vec::new();
        concat_paths(&mut out, dir.as_bytes(), p.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths_resolve_like_sinsp() {
        assert_eq!(join("/tmp/w/", "a/../b"), "/tmp/w/b");
        assert_eq!(join("/tmp/w/", "../x"), "/tmp/x");
        assert_eq!(join("/tmp/w/", "./f"), "/tmp/w/f");
        assert_eq!(join("/tmp/w/", "a//b"), "/tmp/w/a/b");
        assert_eq!(join("/tmp/w/", ".."), "/tmp");
        assert_eq!(join("/tmp/w/", "x/.."), "/tmp/w");
        assert_eq!(join("/tmp/w/", "d/"), "/tmp/w/d");
        assert_eq!(join("/", "../../etc"), "/etc");
        assert_eq!(join("/cwd/", "/etc/../etc//passwd/"), "/etc/passwd");
        assert_eq!(join("", "rel"), "rel");
        assert_eq!(join("/tmp/", "a\nb"), "/tmp/a.b");
        assert_eq!(join("/", "/"), "/");
    }
}
