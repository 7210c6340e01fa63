//! The process's own CPU and memory, from /proc/self.

/// One reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ProcessSample {
    /// User + system CPU time.
    pub cpu_seconds: f64,
    /// `cpu_seconds` over the process's age, as `ps` computes %CPU.
    pub cpu_ratio: f64,
    pub rss_bytes: u64,
    pub vsz_bytes: u64,
}

/// Reads /proc/self/stat and /proc/uptime; `None` where there is no /proc.
pub(crate) fn sample() -> Option<ProcessSample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    parse(&stat, uptime, clock_ticks(), page_size())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Fields of proc(5)'s /proc/pid/stat, counted from 1: utime 14, stime 15,
/// starttime 22 (ticks after boot), vsize 23 (bytes), rss 24 (pages). The
/// command name (field 2) may hold spaces and parentheses: fields are
/// counted after its closing parenthesis.
fn parse(stat: &str, uptime_s: f64, ticks: f64, page: u64) -> Option<ProcessSample> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { f.get(n - 3)?.parse().ok() };
    let cpu_seconds = (field(14)? + field(15)?) as f64 / ticks;
    let age = uptime_s - field(22)? as f64 / ticks;
    let cpu_ratio = if age > 0.0 { cpu_seconds / age } else { 0.0 };
    Some(ProcessSample { cpu_seconds, cpu_ratio, rss_bytes: field(24)? * page, vsz_bytes: field(23)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_a_tricky_name() {
        let stat = "1234 (sak) er (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 123456789 2048 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse(stat, 40.0, 100.0, 4096).unwrap();
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.cpu_ratio, 0.1);
        assert_eq!(s.rss_bytes, 2048 * 4096);
        assert_eq!(s.vsz_bytes, 123456789);
    }

    #[test]
    fn reads_this_process() {
        let s = sample().unwrap();
        assert!(s.rss_bytes > 0 && s.vsz_bytes >= s.rss_bytes);
        assert!(s.cpu_seconds >= 0.0 && s.cpu_ratio >= 0.0);
    }
}
