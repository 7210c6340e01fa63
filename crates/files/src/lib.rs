/*!
Reading the files that steer saker: rules files and the configuration file.

They decide what saker watches and which programs its outputs run, and
saker reads them as root, so [`read_text`] reads such a file the careful way:

- a file that group or others may write is refused (as sshd refuses such
  keys), unless the caller forces it: anyone who can write it can blind or
  hijack saker;
- at most a given number of bytes are read, so `-r /dev/zero` or a huge file
  is an error instead of exhausting memory;
- text that is not UTF-8 is an error that gives the line and column of the
  first bad byte, even inside a YAML comment.

Errors are [`FileError`]s naming the file.
*/

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The largest rules file saker reads (Falco's stable rules are 0.2 MiB).
pub const MAX_RULES_FILE: u64 = 32 << 20;

/// The largest configuration file saker reads (falco.yaml is 0.06 MiB).
pub const MAX_CONFIG_FILE: u64 = 4 << 20;

/// Why a file could not be read as trusted text.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// Opening or reading failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// Group or others may write the file (and the caller did not force it).
    Writable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is larger than the bound.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound, in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u32,
        /// 1-based column (in characters) of the first invalid byte.
        column: u32,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            FileError::Writable { path, mode } => write!(
                f,
                "{} is writable by {} (mode {:04o}): anyone who can write it controls what saker does; \
                 remove the write permission (chmod go-w) or force it",
                path.display(),
                if mode & 0o002 != 0 { "others" } else { "its group" },
                mode & 0o7777
            ),
            FileError::TooLarge { path, limit } => {
                write!(f, "{} is larger than {} MiB, the most saker reads of such a file", path.display(), limit >> 20)
            }
            FileError::InvalidUtf8 { path, line, column, offset } => write!(
                f,
                "{}:{line}:{column}: invalid UTF-8 (byte offset {offset}): the file must be UTF-8 text",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads `path` as UTF-8 text of at most `limit` bytes, refusing a file
/// group or others may write unless `allow_writable`.
pub fn read_text(path: &Path, limit: u64, allow_writable: bool) -> Result<String, FileError> {
    let io = |source| FileError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    // The mode of what was opened, not of what the path names now.
    let mode = file.metadata().map_err(io)?.permissions().mode();
    if mode & 0o022 != 0 && !allow_writable {
        return Err(FileError::Writable { path: path.to_path_buf(), mode });
    }
    let mut bytes = Vec::new();
    // One byte more than the bound tells a file of exactly `limit` bytes from a larger one.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    text(path, bytes)
}

/// `bytes` as a String, or the located error of their first invalid byte.
pub fn text(path: &Path, bytes: Vec<u8>) -> Result<String, FileError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let (line, column) = line_column(bytes, offset);
        FileError::InvalidUtf8 { path: path.to_path_buf(), line, column, offset }
    })
}

/// 1-based line and character column of `offset` in `bytes`, all valid UTF-8 before it.
fn line_column(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Valid UTF-8 up to `offset`: characters are the bytes that do not continue one.
    let column = before[line_start..].iter().filter(|&&b| b & 0xc0 != 0x80).count() + 1;
    (line as u32, column as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(name: &str, content: &[u8], mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("saker-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn invalid_utf8_is_located_even_in_a_comment() {
        let p = temp("bad.yaml", b"- list: a\n  items: [x]\n# caf\xc3\xa9 \xff here\n", 0o644);
        match read_text(&p, MAX_RULES_FILE, false) {
            Err(FileError::InvalidUtf8 { line, column, offset, .. }) => {
                // "# café " is 7 characters (8 bytes): the bad byte is the 8th character.
                assert_eq!((line, column, offset), (3, 8, 31));
            }
            other => panic!("{other:?}"),
        }
        let msg = read_text(&p, MAX_RULES_FILE, false).unwrap_err().to_string();
        assert!(msg.contains("bad.yaml:3:8: invalid UTF-8"), "{msg}");
    }

    #[test]
    fn writable_by_group_or_others_is_refused_unless_forced() {
        let p = temp("w.yaml", b"[]\n", 0o664);
        let e = read_text(&p, MAX_RULES_FILE, false).unwrap_err();
        assert!(matches!(e, FileError::Writable { mode, .. } if mode & 0o777 == 0o664), "{e}");
        assert!(e.to_string().contains("writable by its group (mode 0664)"), "{e}");
        let p = temp("o.yaml", b"[]\n", 0o646);
        assert!(read_text(&p, MAX_RULES_FILE, false).unwrap_err().to_string().contains("by others"));
        assert_eq!(read_text(&p, MAX_RULES_FILE, true).unwrap(), "[]\n");
        let p = temp("ok.yaml", b"[]\n", 0o644);
        assert_eq!(read_text(&p, MAX_RULES_FILE, false).unwrap(), "[]\n");
    }

    #[test]
    fn size_is_bounded() {
        let p = temp("big.yaml", &[b'a'; 101], 0o600);
        assert!(matches!(read_text(&p, 100, false), Err(FileError::TooLarge { limit: 100, .. })));
        assert_eq!(read_text(&p, 101, false).unwrap().len(), 101);
        // An endless device: refused after the bound, not read until memory runs out.
        let e = read_text(Path::new("/dev/zero"), 1 << 20, true).unwrap_err();
        assert!(e.to_string().contains("/dev/zero is larger than 1 MiB"), "{e}");
        // And writable by everyone, so refused first without force.
        assert!(matches!(read_text(Path::new("/dev/zero"), 1 << 20, false), Err(FileError::Writable { .. })));
    }

    #[test]
    fn missing_file_names_it() {
        let e = read_text(Path::new("/nonexistent/r.yaml"), 10, false).unwrap_err();
        assert!(e.to_string().starts_with("cannot read /nonexistent/r.yaml: "), "{e}");
    }
}
