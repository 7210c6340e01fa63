//! RFC 3339 times as the runtimes write them (`2026-12-06T21:00:00.123Z`,
//! offsets allowed), to ns since the epoch.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The time in ns since the epoch; `None` when it is not RFC 3339 (or
/// before the epoch, as runtimes write `0001-01-01T00:00:00Z` for unset).
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let digits = frac.len().min(9);
        nanos = frac[..digits].parse::<i64>().ok()? * 10i64.pow((9 - digits) as u32);
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' => 0,
        c @ (b'+' | b'-') => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let o = (oh * 60 + om) * 60;
            if *c == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    (secs > 0).then(|| (secs * 1_000_000_000 + nanos) as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-02T00:00:00Z"), Some(86_400_000_000_000));
        assert_eq!(parse_rfc3339("2026-12-06T21:00:00.5Z"), Some(1_796_590_800_500_000_000));
        assert_eq!(parse_rfc3339("2026-12-06T22:00:00.5+01:00"), Some(1_796_590_800_500_000_000));
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
