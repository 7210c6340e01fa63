//! `saker trace -w`: the capture file, gzip-compressed or not, and its
//! rotation as sysdig does it (`-C` size, `-G` time, `-W` a ring of files).
//! Each new file starts with the state at that moment (processes, fds,
//! users), so that every file of a rotation reads on its own.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use saker_abi::Event;
use saker_scap::{CaptureHeader, WriteOptions, Writer};
use saker_state::State;

use crate::cli::UsageError;

/// When to start a new file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rotation {
    /// `-C`: once the file holds this many bytes (uncompressed).
    size: Option<u64>,
    /// `-G`: once the file spans this much event time.
    every: Option<Duration>,
    /// `-W`: at most this many files.
    limit: Option<u32>,
}

impl Rotation {
    /// From `-C MB`, `-G SECONDS`, `-W NUM`; `None` without `-C` or `-G`.
    pub fn from_flags(mb: Option<f64>, secs: Option<f64>, limit: Option<u32>) -> Result<Option<Rotation>, UsageError> {
        let size = match mb {
            Some(m) if !(m > 0.0 && m.is_finite()) => {
                return Err(UsageError(format!("-C {m}: the size must be a positive number of megabytes")));
            }
            Some(m) => Some((m * 1e6) as u64),
            None => None,
        };
        let every = match secs {
            Some(s) => Some(
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| UsageError(format!("-G {s}: the time must be a positive number of seconds")))?,
            ),
            None => None,
        };
        if limit == Some(0) {
            return Err(UsageError("-W 0: at least one file".into()));
        }
        if size.is_none() && every.is_none() {
            return match limit {
                Some(_) => Err(UsageError("-W needs -C or -G (the files to keep come from a rotation)".into())),
                None => Ok(None),
            };
        }
        Ok(Some(Rotation { size, every, limit }))
    }
}

/// The capture being written, rotated as asked.
pub struct TraceWriter {
    base: PathBuf,
    opts: WriteOptions,
    rotation: Option<Rotation>,
    writer: Writer<BufWriter<File>>,
    /// The number of the current file (names without time fields).
    index: u32,
    /// The first event time of the current file (for `-G`).
    file_start_ns: Option<u64>,
    /// Files written, oldest first (for `-W` with time-named files).
    files: VecDeque<PathBuf>,
}

impl TraceWriter {
    /// Creates the first file, with `header` (the state when capture began).
    pub fn create(
        base: &Path,
        opts: WriteOptions,
        rotation: Option<Rotation>,
        header: Option<&CaptureHeader>,
    ) -> Result<TraceWriter> {
        let path = file_name(base, rotation.as_ref(), 0, None);
        let writer = open(&path, opts, header)?;
        Ok(TraceWriter {
            base: base.to_path_buf(),
            opts,
            rotation,
            writer,
            index: 0,
            file_start_ns: None,
            files: VecDeque::from([path]),
        })
    }

    /// Writes one event, starting a new file first if the rotation says so,
    /// but at most `max` events (a synthesized enter event counts, as sysdig
    /// counts it: see `Writer::write_event_upto`). Returns how many were
    /// written.
    pub fn write(
        &mut self,
        cpu: u16,
        flags: Option<u32>,
        event: &Event<'_>,
        ts: u64,
        state: &State,
        max: u64,
    ) -> Result<u64> {
        if let Some(r) = self.rotation {
            let start = *self.file_start_ns.get_or_insert(ts);
            let full = r.size.is_some_and(|s| self.writer.bytes_written() >= s);
            let old = r.every.is_some_and(|d| u128::from(ts.saturating_sub(start)) >= d.as_nanos());
            if (full || old) && self.writer.events_written() > 0 {
                self.rotate(r, ts, state)?;
            }
        }
        Ok(self.writer.write_event_upto(cpu, flags, event, max)?)
    }

    fn rotate(&mut self, r: Rotation, ts: u64, state: &State) -> Result<()> {
        self.index += 1;
        // A ring of numbered files: after the last, the first again.
        if let Some(limit) = r.limit {
            self.index %= limit;
        }
        let path = file_name(&self.base, Some(&r), self.index, Some(ts));
        let header = state.to_capture_header();
        let next = open(&path, self.opts, Some(&header))?;
        let done = std::mem::replace(&mut self.writer, next);
        done.finish().context("cannot finish a capture file")?;
        self.file_start_ns = Some(ts);
        self.files.retain(|p| p != &path);
        self.files.push_back(path);
        // Time-named files do not wrap: the oldest go.
        if let Some(limit) = r.limit {
            while self.files.len() > limit as usize {
                if let Some(old) = self.files.pop_front() {
                    let _ = std::fs::remove_file(old);
                }
            }
        }
        Ok(())
    }

    /// Pushes what is buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()?;
        Ok(())
    }

    /// Finishes the current file.
    pub fn finish(self) -> Result<()> {
        self.writer.finish()?;
        Ok(())
    }
}

fn open(path: &Path, opts: WriteOptions, header: Option<&CaptureHeader>) -> Result<Writer<BufWriter<File>>> {
    let mut w = Writer::create_with(path, opts).with_context(|| format!("cannot create {}", path.display()))?;
    if let Some(h) = header {
        w.write_header(h)?;
    }
    Ok(w)
}

/// The name of file `index`: with time fields (`%Y`...) in the name and
/// `-G`, the name formatted with the time of the file's first event (its
/// start when unknown); otherwise, with a rotation, the name and the
/// number (`out.scap0`, as sysdig and tcpdump name them); without, the
/// name as given.
fn file_name(base: &Path, rotation: Option<&Rotation>, index: u32, ts: Option<u64>) -> PathBuf {
    let Some(r) = rotation else { return base.to_path_buf() };
    let text = base.to_string_lossy();
    let mut name = if r.every.is_some() && text.contains('%') {
        let at = ts
            .and_then(|ns| jiff::Timestamp::from_nanosecond(ns as i128).ok())
            .unwrap_or_else(jiff::Timestamp::now)
            .to_zoned(jiff::tz::TimeZone::system());
        // A format jiff cannot render leaves the name as given.
        jiff::fmt::strtime::format(text.as_bytes(), &at).unwrap_or_else(|_| text.to_string())
    } else {
        text.to_string()
    };
    if r.size.is_some() || !text.contains('%') {
        name.push_str(&index.to_string());
    }
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_sysdig() {
        let r = Rotation::from_flags(Some(1.0), None, Some(3)).unwrap().unwrap();
        assert_eq!(file_name(Path::new("out.scap"), Some(&r), 2, None), PathBuf::from("out.scap2"));
        assert_eq!(file_name(Path::new("out.scap"), None, 2, None), PathBuf::from("out.scap"));
        let g = Rotation::from_flags(None, Some(60.0), None).unwrap().unwrap();
        // 2001-09-09T01:46:40Z, in whatever the local zone is: only the shape is checked.
        let n = file_name(Path::new("cap-%Y.scap"), Some(&g), 1, Some(1_000_000_000_000_000_000));
        assert!(
            n.to_string_lossy().starts_with("cap-2001.scap") || n.to_string_lossy().starts_with("cap-2001"),
            "{n:?}"
        );
        assert_eq!(file_name(Path::new("cap.scap"), Some(&g), 1, None), PathBuf::from("cap.scap1"));
        assert!(Rotation::from_flags(None, None, Some(3)).is_err());
        assert!(Rotation::from_flags(Some(0.0), None, None).is_err());
        assert_eq!(Rotation::from_flags(None, None, None).unwrap(), None);
    }
}
