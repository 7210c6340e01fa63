//! What to do when the driver loses events: Falco's `syscall_event_drops`.
//!
//! Once a second (at most), the share of events lost since the previous
//! check is compared with `threshold`; above it, the configured actions run,
//! limited by a token bucket (`rate` actions per second, `max_burst` at once)
//! so a sustained overload does not flood the outputs.

use std::time::{Duration, Instant};

use saker_driver::SourceStats;
use saker_outputs::{Alert, FieldValue, Priority};
use serde::Deserialize;

/// `syscall_event_drops` in the configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DropsConfig {
    /// Share of events lost (0..1) above which actions run.
    pub threshold: f64,
    /// What to do: `ignore`, `log`, `alert`, `exit`.
    pub actions: Vec<DropAction>,
    /// Actions allowed per second, on average.
    pub rate: f64,
    /// Actions allowed at once.
    pub max_burst: f64,
    /// Pretend one event in ten was dropped (to test the actions).
    pub simulate_drops: bool,
}

impl Default for DropsConfig {
    fn default() -> Self {
        DropsConfig {
            threshold: 0.1,
            actions: vec![DropAction::Log, DropAction::Alert],
            rate: 0.03333,
            max_burst: 1.0,
            simulate_drops: false,
        }
    }
}

/// One action on drops.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DropAction {
    /// Nothing.
    Ignore,
    /// A message on stderr.
    Log,
    /// An alert through the outputs.
    Alert,
    /// Stop with an error.
    Exit,
}

/// What [`DropPolicy::check`] decided.
#[derive(Debug, Default)]
pub struct DropVerdict {
    /// A line for stderr.
    pub log: Option<String>,
    /// An alert to emit.
    pub alert: Option<Alert>,
    /// Stop with this message.
    pub exit: Option<String>,
}

/// Tracks the driver's counters and applies [`DropsConfig`].
#[derive(Debug)]
pub struct DropPolicy {
    config: DropsConfig,
    hostname: String,
    last: SourceStats,
    last_check: Instant,
    tokens: f64,
    last_refill: Instant,
}

impl DropPolicy {
    /// A policy starting now.
    pub fn new(config: DropsConfig, hostname: String) -> DropPolicy {
        let now = Instant::now();
        let tokens = config.max_burst;
        DropPolicy { config, hostname, last: SourceStats::default(), last_check: now, tokens, last_refill: now }
    }

    /// Looks at the driver's counters (totals since start) and decides.
    pub fn check(&mut self, stats: &SourceStats) -> DropVerdict {
        self.check_at(stats, Instant::now())
    }

    fn check_at(&mut self, stats: &SourceStats, now: Instant) -> DropVerdict {
        let mut verdict = DropVerdict::default();
        if now.duration_since(self.last_check) < Duration::from_secs(1) {
            return verdict;
        }
        let events = stats.events.saturating_sub(self.last.events);
        let mut drops = stats.drops().saturating_sub(self.last.drops());
        if self.config.simulate_drops {
            drops = events / 10 + 1;
        }
        let delta = *stats;
        self.last = *stats;
        self.last_check = now;
        if drops == 0 || events == 0 {
            return verdict;
        }
        let ratio = drops as f64 / events as f64;
        if ratio <= self.config.threshold {
            return verdict;
        }
        // Token bucket.
        let elapsed = now.duration_since(self.last_refill).as_secs_f64();
        self.last_refill = now;
        self.tokens = (self.tokens + elapsed * self.config.rate).min(self.config.max_burst);
        if self.tokens < 1.0 {
            return verdict;
        }
        self.tokens -= 1.0;
        let message = format!("Falco internal: syscall event drop. {drops} system calls dropped in last second.");
        for action in &self.config.actions {
            match action {
                DropAction::Ignore => {}
                DropAction::Log => verdict.log = Some(message.clone()),
                DropAction::Exit => verdict.exit = Some(message.clone()),
                DropAction::Alert => {
                    let b = &delta.drops_buffer;
                    let fields = [
                        ("n_evts", events),
                        ("n_drops", drops),
                        ("n_drops_buffer_total", b.total()),
                        ("n_drops_buffer_process", b.process),
                        ("n_drops_buffer_exec", b.exec),
                        ("n_drops_buffer_open", b.open),
                        ("n_drops_buffer_connect", b.connect),
                        ("n_drops_buffer_close", b.close),
                        ("n_drops_buffer_other", b.other),
                        ("n_drops_too_large", delta.drops_too_large),
                    ];
                    verdict.alert = Some(Alert {
                        time_ns: std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos() as u64),
                        rule: "Falco internal: syscall event drop".into(),
                        priority: Priority::Debug,
                        source: "internal".into(),
                        tags: Vec::new(),
                        hostname: self.hostname.clone(),
                        output: message.clone(),
                        output_fields: fields.iter().map(|(k, v)| (k.to_string(), FieldValue::U64(*v))).collect(),
                    });
                }
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(events: u64, drops: u64) -> SourceStats {
        let mut s = SourceStats { events, ..SourceStats::default() };
        s.drops_buffer.open = drops;
        s
    }

    #[test]
    fn acts_above_threshold_within_the_rate() {
        let cfg = DropsConfig { rate: 1.0, max_burst: 1.0, ..DropsConfig::default() };
        let mut p = DropPolicy::new(cfg, "h".into());
        let t0 = p.last_check;
        // Below the threshold: nothing.
        let v = p.check_at(&stats(1000, 50), t0 + Duration::from_secs(1));
        assert!(v.log.is_none() && v.alert.is_none());
        // 50% lost: log and alert.
        let v = p.check_at(&stats(2000, 550), t0 + Duration::from_secs(2));
        assert!(v.log.unwrap().contains("500 system calls dropped"));
        let a = v.alert.unwrap();
        assert_eq!(a.rule, "Falco internal: syscall event drop");
        assert!(a.output_fields.contains(&("n_drops_buffer_open".into(), FieldValue::U64(550))));
        // Checked again within the second: nothing.
        assert!(p.check_at(&stats(3000, 1550), t0 + Duration::from_millis(2500)).log.is_none());
        // The bucket allows one action per second.
        let v = p.check_at(&stats(4000, 2550), t0 + Duration::from_millis(3100));
        assert!(v.log.is_some());
    }

    #[test]
    fn exit_and_simulated_drops() {
        let cfg = DropsConfig { actions: vec![DropAction::Exit], simulate_drops: true, ..DropsConfig::default() };
        let mut p = DropPolicy::new(cfg, "h".into());
        let t0 = p.last_check;
        let v = p.check_at(&stats(10, 0), t0 + Duration::from_secs(1));
        assert!(v.exit.is_some() && v.log.is_none() && v.alert.is_none());
    }
}
