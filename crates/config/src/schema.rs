//! Every key saker knows: Falco 0.44's `falco.yaml` keys and saker's own,
//! with the YAML type each takes and whether saker does what Falco does
//! with it.
//!
//! A key a user sets is checked against this table before anything reads
//! the configuration, so that nothing a Falco user configures is silently
//! ignored: a key saker cannot honour is refused naming the key, a value of
//! the wrong type is refused naming the key and the type expected, and a key
//! nobody knows (a typo, or a key Falco dropped) is warned about with the
//! nearest known key.

use yaml_serde::Value;

/// The YAML shape a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// An integer.
    Int,
    /// An integer or a decimal number.
    Number,
    /// A string.
    Str,
    /// A string or an integer (`metrics.interval: 15m`, `listen_port`...).
    Scalar,
    /// A list of strings.
    StrList,
    /// A list whose items the reader checks (`rules`, `append_output`...).
    List,
    /// A map whose keys the reader checks (`static_fields`).
    Map,
    /// A section: a map whose keys are in this table.
    Section,
}

impl Kind {
    /// How an error names the type expected.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Bool => "a boolean (true or false)",
            Kind::Int => "an integer",
            Kind::Number => "a number",
            Kind::Str => "a string",
            Kind::Scalar => "a string or a number",
            Kind::StrList => "a list of strings",
            Kind::List => "a list",
            Kind::Map => "a map",
            Kind::Section => "a map of keys",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Bool => v.is_bool(),
            Kind::Int => v.is_i64() || v.is_u64(),
            Kind::Number => v.is_number(),
            Kind::Str => v.is_string(),
            Kind::Scalar => v.is_string() || v.is_number(),
            Kind::StrList => v.as_sequence().is_some_and(|s| s.iter().all(Value::is_string)),
            Kind::List => v.is_sequence(),
            Kind::Map | Kind::Section => v.is_mapping(),
        }
    }
}

/// Whether saker honours a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Read, with Falco's meaning (or saker's, for its own keys).
    Yes,
    /// Only the values listed are accepted (they are what saker does
    /// anyway); any other is refused with the reason.
    Only(&'static [&'static str], &'static str),
    /// Refused whatever its value, with the reason.
    No(&'static str),
}

/// One known key.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The dotted path (`engine.modern_ebpf.buf_size_preset`).
    pub path: &'static str,
    /// Its YAML type.
    pub kind: Kind,
    /// Whether saker honours it.
    pub support: Support,
}

const fn k(path: &'static str, kind: Kind) -> Key {
    Key { path, kind, support: Support::Yes }
}

const fn only(path: &'static str, kind: Kind, values: &'static [&'static str], why: &'static str) -> Key {
    Key { path, kind, support: Support::Only(values, why) }
}

use Kind::*;

const LOG_LEVELS: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];

const NO_PLUGINS: &str = "saker has no plugin framework; only the syscall source exists";
const NO_GRPC: &str = "saker has no gRPC server or output (use http_output or nats_output)";

/// Every key saker knows, sections first.
pub const KEYS: &[Key] = &[
    // Rules.
    k("rules_files", StrList),
    k("rules_file", StrList),
    k("rule_files", StrList),
    k("rules", List),
    k("rule_matching", Str),
    k("priority", Str),
    k("append_output", List),
    k("static_fields", Map),
    // Configuration files.
    k("config_files", List),
    k("watch_config_files", Bool),
    // Engine.
    k("engine", Section),
    k("engine.kind", Str),
    k("engine.modern_ebpf", Section),
    k("engine.modern_ebpf.cpus_for_each_buffer", Int),
    k("engine.modern_ebpf.buf_size_preset", Int),
    only(
        "engine.modern_ebpf.drop_failed_exit",
        Bool,
        &["false"],
        "the modern-ebpf driver cannot drop failed system calls in the kernel",
    ),
    k("engine.modern_ebpf.buffer_size", Int),
    k("engine.modern_ebpf.kernel_filters", Bool),
    k("engine.modern_ebpf.unimplemented_syscalls", Bool),
    k("engine.kmod", Section),
    k("engine.kmod.buf_size_preset", Int),
    k("engine.kmod.drop_failed_exit", Bool),
    k("engine.ebpf", Section),
    k("engine.ebpf.probe", Str),
    k("engine.ebpf.buf_size_preset", Int),
    only(
        "engine.ebpf.drop_failed_exit",
        Bool,
        &["false"],
        "the ebpf driver cannot drop failed system calls in the kernel (the kmod driver can)",
    ),
    k("engine.replay", Section),
    k("engine.replay.capture_file", Str),
    k("engine.gvisor", Section),
    k("engine.gvisor.config", Str),
    k("engine.gvisor.root", Str),
    k("snaplen", Int),
    k("workers", Int),
    // Plugins: Falco's default falco.yaml configures some without loading
    // them, which is fine; loading one is not.
    // `container` is built in: saker's state reads containers itself.
    only("load_plugins", StrList, &["[]", "[container]"], NO_PLUGINS),
    k("plugins", List),
    only("plugins_hostinfo", Bool, &["true", "false"], NO_PLUGINS),
    // Outputs.
    k("time_format_iso_8601", Bool),
    k("json_output", Bool),
    k("json_include_output_property", Bool),
    k("json_include_message_property", Bool),
    k("json_include_tags_property", Bool),
    k("json_include_output_fields_property", Bool),
    k("buffered_outputs", Bool),
    k("output_timeout", Int),
    k("outputs_queue", Section),
    k("outputs_queue.capacity", Int),
    k("stdout_output", Section),
    k("stdout_output.enabled", Bool),
    k("syslog_output", Section),
    k("syslog_output.enabled", Bool),
    k("syslog_output.socket", Str),
    k("file_output", Section),
    k("file_output.enabled", Bool),
    k("file_output.keep_alive", Bool),
    k("file_output.filename", Str),
    k("http_output", Section),
    k("http_output.enabled", Bool),
    k("http_output.url", Str),
    k("http_output.user_agent", Str),
    k("http_output.insecure", Bool),
    k("http_output.ca_cert", Str),
    k("http_output.ca_bundle", Str),
    k("http_output.ca_path", Str),
    k("http_output.mtls", Bool),
    k("http_output.client_cert", Str),
    k("http_output.client_key", Str),
    k("http_output.echo", Bool),
    k("http_output.compress_uploads", Bool),
    k("http_output.keep_alive", Bool),
    k("http_output.max_consecutive_timeouts", Int),
    k("program_output", Section),
    k("program_output.enabled", Bool),
    k("program_output.keep_alive", Bool),
    k("program_output.program", Str),
    k("nats_output", Section),
    k("nats_output.enabled", Bool),
    k("nats_output.url", Str),
    k("nats_output.subject", Str),
    k("nats_output.stream", Str),
    k("grpc_output", Section),
    only("grpc_output.enabled", Bool, &["false"], NO_GRPC),
    k("grpc", Section),
    only("grpc.enabled", Bool, &["false"], NO_GRPC),
    k("grpc.bind_address", Str),
    k("grpc.threadiness", Int),
    // Web server.
    k("webserver", Section),
    k("webserver.enabled", Bool),
    k("webserver.threadiness", Int),
    k("webserver.listen_port", Int),
    k("webserver.listen_address", Str),
    k("webserver.k8s_healthz_endpoint", Str),
    k("webserver.prometheus_metrics_enabled", Bool),
    only("webserver.ssl_enabled", Bool, &["false"], "saker's web server has no TLS"),
    k("webserver.ssl_certificate", Str),
    // saker's own logs.
    k("log_stderr", Bool),
    k("log_syslog", Bool),
    only("log_level", Str, &LOG_LEVELS, "not a log level"),
    k("libs_logger", Section),
    only("libs_logger.enabled", Bool, &["false"], "saker has no separate libraries log (its log_level covers it)"),
    k("libs_logger.severity", Str),
    // Drops and timeouts.
    k("syscall_event_timeouts", Section),
    k("syscall_event_timeouts.max_consecutives", Int),
    k("syscall_event_drops", Section),
    k("syscall_event_drops.threshold", Number),
    k("syscall_event_drops.actions", StrList),
    k("syscall_event_drops.rate", Number),
    k("syscall_event_drops.max_burst", Int),
    k("syscall_event_drops.simulate_drops", Bool),
    // Metrics.
    k("metrics", Section),
    k("metrics.enabled", Bool),
    k("metrics.interval", Scalar),
    k("metrics.output_rule", Bool),
    k("metrics.output_file", Str),
    k("metrics.rules_counters_enabled", Bool),
    k("metrics.resource_utilization_enabled", Bool),
    k("metrics.state_counters_enabled", Bool),
    k("metrics.kernel_event_counters_enabled", Bool),
    k("metrics.kernel_event_counters_per_cpu_enabled", Bool),
    // Only read with metrics.enabled, where true is refused.
    k("metrics.libbpf_stats_enabled", Bool),
    only("metrics.plugins_metrics_enabled", Bool, &["true", "false"], NO_PLUGINS),
    only("metrics.jemalloc_stats_enabled", Bool, &["false"], "saker does not use jemalloc"),
    k("metrics.convert_memory_to_mb", Bool),
    k("metrics.include_empty_values", Bool),
    // State.
    k("base_syscalls", Section),
    k("base_syscalls.custom_set", StrList),
    k("base_syscalls.repair", Bool),
    k("base_syscalls.all", Bool),
    k("falco_libs", Section),
    k("falco_libs.thread_table_size", Int),
    k("falco_libs.snaplen", Int),
    only(
        "falco_libs.thread_table_auto_purging_interval_s",
        Int,
        &[],
        "saker removes a thread when its exit event arrives and has no periodic purge",
    ),
    only(
        "falco_libs.thread_table_auto_purging_thread_timeout_s",
        Int,
        &[],
        "saker removes a thread when its exit event arrives and has no periodic purge",
    ),
    // Capture recording (Falco 0.41+).
    k("capture", Section),
    only("capture.enabled", Bool, &["false"], "saker detect does not record captures (use saker trace -w)"),
    k("capture.path_prefix", Str),
    k("capture.mode", Str),
    k("capture.default_duration", Int),
];

/// The entry of a dotted path.
pub fn key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A problem with one key a user set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Known, but not something saker does (with the reason).
    Unsupported {
        /// The key.
        key: String,
        /// The value given, as YAML.
        value: String,
        /// Why saker cannot honour it.
        why: &'static str,
    },
    /// The value has the wrong YAML type.
    Type {
        /// The key.
        key: String,
        /// The type expected.
        expected: &'static str,
    },
    /// Nobody knows this key: a warning, with the nearest known key.
    Unknown {
        /// The key.
        key: String,
        /// The nearest known key, if any is near.
        nearest: Option<&'static str>,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unsupported { key, value, why } => {
                write!(f, "saker does not support {key}: {value} ({why})")
            }
            Problem::Type { key, expected } => write!(f, "key '{key}' must be {expected}"),
            Problem::Unknown { key, nearest: Some(n) } => {
                write!(f, "unknown configuration key '{key}' (ignored); did you mean '{n}'?")
            }
            Problem::Unknown { key, nearest: None } => write!(f, "unknown configuration key '{key}' (ignored)"),
        }
    }
}

/// Checks every key set in `user` (a document, or the merge of what the
/// user gave), in document order.
pub fn check(user: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(map) = user.as_mapping() {
        walk(map, "", &mut out);
    }
    out
}

fn walk(map: &yaml_serde::Mapping, prefix: &str, out: &mut Vec<Problem>) {
    for (name, value) in map {
        let name = match name {
            Value::String(s) => s.clone(),
            other => yaml_serde::to_string(other).unwrap_or_default().trim().to_string(),
        };
        let path = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
        let Some(entry) = key(&path) else {
            out.push(Problem::Unknown { nearest: nearest(&path), key: path });
            continue;
        };
        // A key left empty (`engine.replay:` with nothing under it) is the
        // same as the key absent, as in Falco.
        if value.is_null() {
            continue;
        }
        if !entry.kind.accepts(value) {
            out.push(Problem::Type { key: path, expected: entry.kind.describe() });
            continue;
        }
        match entry.support {
            Support::Yes => {}
            Support::No(why) => out.push(Problem::Unsupported { value: show(value), key: path.clone(), why }),
            Support::Only(values, why) => {
                let shown = show(value);
                if !values.contains(&shown.as_str()) {
                    out.push(Problem::Unsupported { value: shown, key: path.clone(), why });
                }
            }
        }
        if entry.kind == Kind::Section {
            walk(value.as_mapping().expect("checked"), &path, out);
        }
    }
}

/// A value as a short YAML flow text (`true`, `[]`, `[a, b]`).
fn show(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(s) => format!("[{}]", s.iter().map(show).collect::<Vec<_>>().join(", ")),
        other => yaml_serde::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// The known key nearest to `path` (by edit distance on the whole path, or
/// on the last part within the same section), if near enough to be a typo.
pub fn nearest(path: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for k in KEYS {
        let d = distance(path, k.path);
        if best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k.path));
        }
    }
    let (d, p) = best?;
    // A third of the length, at least 2: `rule_file` -> `rules_file`,
    // `engine.knd` -> `engine.kind`, but not `foo` -> `grpc`.
    (d <= (path.len() / 3).max(2)).then_some(p)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        check(&yaml_serde::from_str(yaml).unwrap()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unsupported_values_are_named() {
        let p = problems("load_plugins: [k8saudit]\ngrpc:\n  enabled: true\nwebserver:\n  ssl_enabled: false\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("saker does not support load_plugins: [k8saudit]"), "{p:?}");
        assert!(p[1].starts_with("saker does not support grpc.enabled: true"), "{p:?}");
        assert!(problems("load_plugins: []\nplugins: [{name: json}]\ngrpc: {enabled: false}\n").is_empty());
    }

    #[test]
    fn types_are_named() {
        let p = problems("engine:\n  modern_ebpf:\n    cpus_for_each_buffer: two\njson_output: 1\n");
        assert_eq!(
            p,
            [
                "key 'engine.modern_ebpf.cpus_for_each_buffer' must be an integer",
                "key 'json_output' must be a boolean (true or false)"
            ]
        );
        assert_eq!(problems("rules_files: /etc/x.yaml\n"), ["key 'rules_files' must be a list of strings"]);
    }

    #[test]
    fn unknown_keys_get_the_nearest() {
        let p = problems("rule_file: [x]\nengine:\n  knd: kmod\nzzzzzzzzzz: 1\n");
        assert_eq!(
            p,
            [
                "unknown configuration key 'rule_file' (ignored); did you mean 'rules_file'?",
                "unknown configuration key 'engine.knd' (ignored); did you mean 'engine.kind'?",
                "unknown configuration key 'zzzzzzzzzz' (ignored)",
            ]
        );
    }

    #[test]
    fn the_built_in_configuration_uses_known_keys_only() {
        assert_eq!(problems(crate::DEFAULTS), Vec::<String>::new());
    }

    #[test]
    fn every_section_key_has_its_section() {
        for k in KEYS {
            if let Some((parent, _)) = k.path.rsplit_once('.') {
                assert_eq!(key(parent).map(|p| p.kind), Some(Kind::Section), "{}", k.path);
            }
        }
    }
}
