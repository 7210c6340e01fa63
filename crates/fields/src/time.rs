//! Timestamps as sysdig prints them, in the local time zone.

use std::cell::Cell;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Formats event timestamps (nanoseconds since the epoch) in the system's
/// time zone, caching the civil-time part of the last second seen so that
/// consecutive events cost only the nanosecond digits.
pub struct TimeFormatter {
    tz: TimeZone,
    /// (epoch second, "YYYY-MM-DD HH:MM:SS" of that second)
    cache: Cell<(i64, [u8; 19])>,
    /// How `evt.outputtime` prints (sysdig's -t).
    output: OutputTime,
    /// The first time `evt.outputtime` printed (relative style), then the
    /// last (delta style).
    mark: Cell<Option<u64>>,
}

/// How `evt.outputtime` (the default line's time) prints: sysdig's -t.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputTime {
    /// `HH:MM:SS.nnnnnnnnn` in the local time zone (-t h, the default).
    #[default]
    Human,
    /// Seconds since the epoch, `s.nnnnnnnnn` (-t a).
    Absolute,
    /// Since the first event printed, `s.nnnnnnnnn` (-t r).
    Relative,
    /// Between an exit event and its enter event, `s.nnnnnnnnn` (-t d).
    Latency,
    /// Since the previous event printed, `s.nnnnnnnnn` (-t D).
    Delta,
}

impl Default for TimeFormatter {
    fn default() -> Self {
        Self::new(TimeZone::system())
    }
}

impl TimeFormatter {
    /// A formatter for the time zone `tz`.
    pub fn new(tz: TimeZone) -> Self {
        TimeFormatter { tz, cache: Cell::new((i64::MIN, [0; 19])), output: OutputTime::Human, mark: Cell::new(None) }
    }

    /// This formatter, with `evt.outputtime` printed in `style`.
    pub fn with_output(mut self, style: OutputTime) -> Self {
        self.output = style;
        self
    }

    /// How `evt.outputtime` prints.
    pub fn output(&self) -> OutputTime {
        self.output
    }

    /// The interval `evt.outputtime` prints for an event at `ns` in the
    /// relative and delta styles (and remembers what it needs).
    pub fn interval_since_mark(&self, ns: u64) -> u64 {
        match self.output {
            OutputTime::Relative => {
                let base = self.mark.get().unwrap_or(ns);
                self.mark.set(Some(base));
                ns.saturating_sub(base)
            }
            _ => {
                let prev = self.mark.replace(Some(ns)).unwrap_or(ns);
                ns.saturating_sub(prev)
            }
        }
    }

    /// `s.nnnnnnnnn`.
    pub fn write_seconds(&self, ns: u64, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let _ = write!(out, "{}", ns / 1_000_000_000);
        write_frac(ns, out);
    }

    fn civil(&self, secs: i64) -> [u8; 19] {
        let (cached_secs, text) = self.cache.get();
        if cached_secs == secs {
            return text;
        }
        let out = civil_of(&self.tz, secs);
        self.cache.set((secs, out));
        out
    }

    /// `HH:MM:SS.nnnnnnnnn` (sysdig's `evt.time`).
    pub fn write_time(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil[11..]);
        write_frac(ns, out);
    }

    /// `HH:MM:SS` (sysdig's `evt.time.s`).
    pub fn write_time_s(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil[11..]);
    }

    /// `YYYY-MM-DD HH:MM:SS` (sysdig's `evt.datetime.s`).
    pub fn write_datetime_s(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil);
    }

    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`, always in UTC whatever the
    /// time zone (sysdig's `evt.time.iso8601`).
    pub fn write_iso8601(&self, ns: u64, out: &mut Vec<u8>) {
        let mut civil = civil_of(&TimeZone::UTC, (ns / 1_000_000_000) as i64);
        civil[10] = b'T';
        out.extend_from_slice(&civil);
        write_frac(ns, out);
        out.extend_from_slice(b"+0000");
    }

    /// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` (sysdig's `evt.datetime`).
    pub fn write_datetime(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil);
        write_frac(ns, out);
    }
}

/// "YYYY-MM-DD HH:MM:SS" of `secs` in `tz` (zeros if out of range).
fn civil_of(tz: &TimeZone, secs: i64) -> [u8; 19] {
    let mut out = *b"0000-00-00 00:00:00";
    if let Ok(ts) = Timestamp::from_second(secs) {
        let dt = tz.to_datetime(ts);
        let mut put = |at: usize, width: usize, v: i64| {
            let mut v = v.unsigned_abs();
            for i in (at..at + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, dt.year() as i64);
        put(5, 2, dt.month() as i64);
        put(8, 2, dt.day() as i64);
        put(11, 2, dt.hour() as i64);
        put(14, 2, dt.minute() as i64);
        put(17, 2, dt.second() as i64);
    }
    out
}

fn write_frac(ns: u64, out: &mut Vec<u8>) {
    let frac = (ns % 1_000_000_000) as u32;
    let mut digits = [b'0'; 10];
    digits[0] = b'.';
    let mut v = frac;
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_and_datetime() {
        let f = TimeFormatter::new(TimeZone::UTC);
        let mut out = Vec::new();
        f.write_time(1_500_000_000_000_000_123, &mut out);
        assert_eq!(out, b"02:40:00.000000123");
        out.clear();
        f.write_datetime(1_500_000_000_000_000_123, &mut out);
        assert_eq!(out, b"2017-07-14 02:40:00.000000123");
        out.clear();
        f.write_time_s(1_500_000_000_000_000_123, &mut out);
        assert_eq!(out, b"02:40:00");
        out.clear();
        f.write_datetime_s(1_500_000_000_000_000_123, &mut out);
        assert_eq!(out, b"2017-07-14 02:40:00");
    }

    #[test]
    fn iso8601_is_utc_whatever_the_zone() {
        let f = TimeFormatter::new(TimeZone::fixed(jiff::tz::offset(9)));
        let mut out = Vec::new();
        f.write_iso8601(1_470_327_477_881_730_713, &mut out);
        assert_eq!(out, b"2016-08-04T16:17:57.881730713+0000");
        out.clear();
        f.write_datetime(1_470_327_477_881_730_713, &mut out);
        assert_eq!(out, b"2016-08-05 01:17:57.881730713");
    }
}
