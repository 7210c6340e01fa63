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
}

impl Default for TimeFormatter {
    fn default() -> Self {
        Self::new(TimeZone::system())
    }
}

impl TimeFormatter {
    /// A formatter for the time zone `tz`.
    pub fn new(tz: TimeZone) -> Self {
        TimeFormatter { tz, cache: Cell::new((i64::MIN, [0; 19])) }
    }

    fn civil(&self, secs: i64) -> [u8; 19] {
        let (cached_secs, text) = self.cache.get();
        if cached_secs == secs {
            return text;
        }
        let mut out = [b'0'; 19];
        if let Ok(ts) = Timestamp::from_second(secs) {
            let dt = self.tz.to_datetime(ts);
            let s = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            if s.len() == 19 {
                out.copy_from_slice(s.as_bytes());
            }
        }
        self.cache.set((secs, out));
        out
    }

    /// `HH:MM:SS.nnnnnnnnn` (sysdig's `evt.time`).
    pub fn write_time(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil[11..]);
        write_frac(ns, out);
    }

    /// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` (sysdig's `evt.datetime`).
    pub fn write_datetime(&self, ns: u64, out: &mut Vec<u8>) {
        let civil = self.civil((ns / 1_000_000_000) as i64);
        out.extend_from_slice(&civil);
        write_frac(ns, out);
    }
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
    }
}
