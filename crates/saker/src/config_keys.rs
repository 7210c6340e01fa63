//! `crates/config/saker.yaml` documents every key saker reads, and only
//! those: a test probes each key by giving it a value of a type no reader
//! accepts, runs every reader of the configuration, and sees which keys
//! make one fail.

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use saker_config::Config;
    use saker_config::schema::{self, Kind, Support};

    /// Every reader of the configuration `saker detect` runs at start.
    fn read_everything(config: &Config) -> Result<(), String> {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let cfg: crate::detect::EngineConfig = config.section().map_err(|x| e(&x))?;
        crate::detect::engine_options(&cfg).map_err(|x| e(&x))?;
        let _: saker_outputs::OutputsConfig = config.section().map_err(|x| e(&x))?;
        crate::source::engine_settings(config).map_err(|x| e(&x))?;
        let mut load = saker_rules::Ruleset::load(
            &[saker_rules::RulesSource { name: "r", text: crate::detect::DEFAULT_RULES }],
            &saker_engine::Fields,
        )
        .map_err(|x| e(&x))?;
        crate::rules_config::apply(config, &mut load).map_err(|x| e(&x))?;
        crate::rules_config::static_fields(config).map_err(|x| e(&x))?;
        crate::log::config_from(config).map_err(|x| e(&x))?;
        crate::metrics_config::Snapshots::new(config).map_err(|x| e(&x))?;
        crate::source::syscalls_with_base(&saker_filter::EventTypeSet::none(), &cfg.base_syscalls)
            .map_err(|x| e(&x))?;
        Ok(())
    }

    /// Keys whose reading needs another key set first.
    const CONTEXT: &[(&str, &[&str])] = &[
        ("engine.replay.capture_file", &["engine.kind=replay"]),
        ("metrics.interval", &["metrics.enabled=true"]),
        ("metrics.libbpf_stats_enabled", &["metrics.enabled=true"]),
        ("engine.kmod.buf_size_preset", &["engine.kind=kmod"]),
        ("engine.ebpf.buf_size_preset", &["engine.kind=ebpf"]),
        ("engine.kmod.drop_failed_exit", &["engine.kind=kmod"]),
    ];

    /// Keys saker_config itself acts on while loading (not a reader's).
    const LOADER: &[&str] = &["config_files", "rules_file", "rule_files"];

    /// Whether some reader reads `key`: with a value of the wrong type, one fails.
    fn is_read(key: &str) -> bool {
        if LOADER.contains(&key) {
            return true;
        }
        let entry = schema::key(key);
        // Keys the schema check refuses but for some values are read there.
        if entry.is_some_and(|k| !matches!(k.support, Support::Yes)) {
            return true;
        }
        let probe = match entry.map(|k| k.kind) {
            Some(Kind::Map) => "[saker_probe]",
            _ => "{saker_probe: [1]}",
        };
        let mut overrides: Vec<String> =
            CONTEXT.iter().filter(|(k, _)| *k == key).flat_map(|(_, c)| c.iter().map(|s| s.to_string())).collect();
        overrides.push(format!("{key}={probe}"));
        let config = Config::load_unchecked(&overrides).expect("overrides apply");
        read_everything(&config).is_err()
    }

    /// The leaf keys of a YAML document (a list is a leaf).
    fn leaves(v: &saker_config::Value, prefix: &str, out: &mut BTreeSet<String>) {
        if let Some(map) = v.as_mapping() {
            for (k, v) in map {
                let name = k.as_str().expect("string keys");
                let path = if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
                if v.is_mapping() && schema::key(&path).is_none_or(|k| k.kind == Kind::Section) {
                    leaves(v, &path, out);
                } else {
                    out.insert(path);
                }
            }
        }
    }

    #[test]
    fn the_readers_pass_on_the_documented_defaults() {
        read_everything(&Config::load_unchecked(&[]).unwrap()).unwrap();
    }

    #[test]
    fn saker_yaml_documents_every_key_saker_reads_and_only_those() {
        let defaults = Config::load_unchecked(&[]).unwrap();
        let doc = defaults.root();
        let mut documented = BTreeSet::new();
        leaves(doc, "", &mut documented);
        let not_read: Vec<&String> = documented.iter().filter(|k| !is_read(k)).collect();
        assert!(not_read.is_empty(), "saker.yaml documents keys no reader reads: {not_read:?}");
        // Falco's older spellings of rules_files: documented in its comment
        // (as keys they would be set in every configuration).
        for alias in ["rules_file", "rule_files"] {
            assert!(saker_config::DEFAULTS.contains(alias), "saker.yaml does not mention {alias}");
        }
        let undocumented: Vec<&str> = schema::KEYS
            .iter()
            .filter(|k| k.kind != Kind::Section && !documented.contains(k.path))
            .filter(|k| !["rules_file", "rule_files"].contains(&k.path))
            .filter(|k| matches!(k.support, Support::Yes) && is_read(k.path))
            .map(|k| k.path)
            .collect();
        assert!(undocumented.is_empty(), "keys saker reads that saker.yaml does not document: {undocumented:?}");
    }

    #[test]
    fn the_probe_tells_read_keys_from_others() {
        assert!(is_read("json_output"));
        assert!(is_read("engine.modern_ebpf.buf_size_preset"));
        assert!(!is_read("no_such_key_at_all"));
        assert!(!is_read("grpc.bind_address"));
    }
}
