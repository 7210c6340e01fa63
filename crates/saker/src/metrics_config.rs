//! Falco's `metrics` section: with `metrics.enabled`, a snapshot of the
//! metrics every `metrics.interval`, raised as the alert "Falco internal:
//! metrics snapshot" (`output_rule`) and/or appended to `output_file` as a
//! JSON line. The Prometheus `/metrics` endpoint does not depend on it
//! (`webserver.prometheus_metrics_enabled` does).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use saker_config::Config;
use saker_metrics::{Metrics, SnapshotParts, SnapshotValue};
use saker_outputs::{Alert, FieldValue, Priority};

use crate::cli::UsageError;
use crate::log;

/// Falco refuses intervals this short: snapshots would cost more than
/// they tell.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// When the next snapshot is due, and where it goes.
pub struct Snapshots {
    every: Option<Duration>,
    next: Instant,
    output_rule: bool,
    output_file: Option<PathBuf>,
    parts: SnapshotParts,
}

/// Parses a Prometheus-style duration, as Falco's `metrics.interval`:
/// one or more `<integer><unit>` with units `ms`, `s`, `m`, `h`, `d`, `w`,
/// `y` (`15m`, `1h30m`, `500ms`).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("an empty interval".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("'{text}' is not a duration such as 15m, 1h or 500ms"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("'{text}': number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let ms_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            "" => return Err(format!("'{text}' has a number without a unit (ms, s, m, h, d, w, y)")),
            u => return Err(format!("'{text}': unknown unit '{u}' (ms, s, m, h, d, w, y)")),
        };
        total += Duration::from_millis(n.saturating_mul(ms_per));
        rest = &rest[unit_len..];
    }
    Ok(total)
}

impl Snapshots {
    /// Reads `metrics.*`; errors name the key.
    pub fn new(config: &Config) -> Result<Snapshots, UsageError> {
        let get_bool = |k: &str, default: bool| -> Result<bool, UsageError> {
            Ok(config.get::<bool>(k).map_err(|e| UsageError(e.to_string()))?.unwrap_or(default))
        };
        let enabled = get_bool("metrics.enabled", false)?;
        let per_cpu = get_bool("metrics.kernel_event_counters_per_cpu_enabled", false)?;
        let parts = SnapshotParts {
            rules_counters: get_bool("metrics.rules_counters_enabled", true)?,
            resource_utilization: get_bool("metrics.resource_utilization_enabled", true)?,
            state_counters: get_bool("metrics.state_counters_enabled", true)?,
            // Per-CPU counters imply the totals, as in Falco.
            kernel_event_counters: get_bool("metrics.kernel_event_counters_enabled", true)? || per_cpu,
            memory_in_mb: get_bool("metrics.convert_memory_to_mb", true)?,
            empty_values: get_bool("metrics.include_empty_values", false)?,
        };
        let output_rule = get_bool("metrics.output_rule", true)?;
        let output_file = config
            .get::<String>("metrics.output_file")
            .map_err(|e| UsageError(e.to_string()))?
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        let mut every = None;
        if enabled {
            let raw: serde_json::Value =
                config.get("metrics.interval").map_err(|e| UsageError(e.to_string()))?.unwrap_or_default();
            let text = match raw {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let d = parse_interval(&text).map_err(|e| UsageError(format!("key 'metrics.interval': {e}")))?;
            if d < MIN_INTERVAL {
                return Err(UsageError(format!("key 'metrics.interval': {text} is shorter than 100ms")));
            }
            every = Some(d);
            if get_bool("metrics.libbpf_stats_enabled", false)? {
                log::warn(
                    "metrics.libbpf_stats_enabled: saker does not collect libbpf's per-program statistics; snapshots leave them out",
                );
            }
            if per_cpu {
                log::warn(
                    "metrics.kernel_event_counters_per_cpu_enabled: saker's drivers count per ring, not per CPU; snapshots carry the totals",
                );
            }
            if !output_rule && output_file.is_none() {
                log::warn(
                    "metrics.enabled with neither output_rule nor output_file: snapshots go nowhere (Prometheus /metrics does not need them)",
                );
            }
        }
        Ok(Snapshots { next: Instant::now() + every.unwrap_or_default(), every, output_rule, output_file, parts })
    }

    /// If a snapshot is due: writes it to `output_file` and gives the alert
    /// to raise (with `output_rule`).
    pub fn due(&mut self, metrics: &Metrics, hostname: &str) -> Option<Alert> {
        let every = self.every?;
        let now = Instant::now();
        if now < self.next {
            return None;
        }
        self.next = now + every;
        let time_ns =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("evt.hostname".into(), FieldValue::Str(hostname.to_string())),
            ("evt.source".into(), FieldValue::Str("syscall".into())),
            ("evt.time".into(), FieldValue::U64(time_ns)),
        ];
        fields.extend(metrics.snapshot(&self.parts).into_iter().map(|(k, v)| {
            let v = match v {
                SnapshotValue::U64(n) => FieldValue::U64(n),
                SnapshotValue::F64(x) => FieldValue::F64(x),
                SnapshotValue::Str(s) => FieldValue::Str(s),
            };
            (k, v)
        }));
        let alert = Alert {
            time_ns,
            rule: "Falco internal: metrics snapshot".into(),
            priority: Priority::Informational,
            source: "internal".into(),
            tags: Vec::new(),
            hostname: hostname.to_string(),
            output: "Falco metrics snapshot".into(),
            output_fields: fields,
        };
        if let Some(path) = &self.output_file
            && let Err(e) = append_json(path, &alert)
        {
            log::error(format!("metrics.output_file {}: {e}", path.display()));
        }
        self.output_rule.then_some(alert)
    }
}

/// One JSON line per snapshot, the alert's JSON shape.
fn append_json(path: &PathBuf, a: &Alert) -> std::io::Result<()> {
    let fields: serde_json::Map<String, serde_json::Value> = a
        .output_fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                FieldValue::U64(n) => serde_json::Value::from(*n),
                FieldValue::I64(n) => serde_json::Value::from(*n),
                FieldValue::F64(x) => serde_json::Value::from(*x),
                FieldValue::Bool(b) => serde_json::Value::from(*b),
                FieldValue::Str(s) => serde_json::Value::from(s.as_str()),
                FieldValue::Null => serde_json::Value::Null,
            };
            (k.clone(), v)
        })
        .collect();
    let line = serde_json::json!({
        "hostname": a.hostname,
        "output": a.output,
        "output_fields": fields,
        "priority": "Informational",
        "rule": a.rule,
        "source": a.source,
        "time": jiff::Timestamp::from_nanosecond(a.time_ns as i128).map(|t| t.to_string()).unwrap_or_default(),
    });
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_as_falco_writes_them() {
        assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_interval("15").unwrap_err().contains("without a unit"));
        assert!(parse_interval("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_interval("m").is_err());
        assert!(parse_interval("").is_err());
    }
}
