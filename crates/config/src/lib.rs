/*!
saker's configuration: one YAML document whose keys follow `falco.yaml`
where Falco has them, so Falco users find `rules_files`, `stdout_output`,
`http_output`, `syscall_event_drops`, `webserver`... where they expect them.

A [`Config`] is built from three layers, each overriding the previous:
the built-in defaults ([`DEFAULTS`], the documented `saker.yaml`), an optional
file (`-c FILE`), and `-o key.path=value` overrides (values are YAML, so
`-o rules_files=[a.yaml,b.yaml]` and `-o http_output.enabled=true` work).
Consumers then read typed sections with [`Config::section`] or single keys
with [`Config::get`]; each crate defines the struct of the keys it owns.

This crate does not know what the keys mean beyond their YAML shape.
*/

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_serde::{Mapping, Value};

/// The built-in configuration, with every key documented.
pub const DEFAULTS: &str = include_str!("../saker.yaml");

/// Why a configuration could not be built or read.
#[derive(Debug)]
pub struct ConfigError {
    /// Where the problem is: a file, `-o ...`, or a key.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The merged configuration.
#[derive(Clone, Debug)]
pub struct Config {
    root: Value,
    file: Option<PathBuf>,
}

impl Config {
    /// The built-in defaults, then `file` if given, then the `overrides`
    /// (`key.path=value`, applied in order).
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        Config::load_checked(file, overrides, false)
    }

    /// [`Config::load`], reading the file through [`saker_files::read_text`]:
    /// at most [`saker_files::MAX_CONFIG_FILE`] bytes of UTF-8, and refused
    /// if group or others may write it unless `allow_writable`.
    pub fn load_checked(
        file: Option<&Path>,
        overrides: &[String],
        allow_writable: bool,
    ) -> Result<Config, ConfigError> {
        let mut root: Value = yaml_serde::from_str(DEFAULTS)
            .map_err(|e| ConfigError { origin: "built-in saker.yaml".into(), message: e.to_string() })?;
        if let Some(path) = file {
            let origin = path.display().to_string();
            let text = saker_files::read_text(path, saker_files::MAX_CONFIG_FILE, allow_writable)
                .map_err(|e| ConfigError { origin: origin.clone(), message: file_error(e) })?;
            let user: Value =
                yaml_serde::from_str(&text).map_err(|e| ConfigError { origin, message: e.to_string() })?;
            if !user.is_null() {
                merge(&mut root, user);
            }
        }
        for o in overrides {
            apply_override(&mut root, o)?;
        }
        Ok(Config { root, file: file.map(Path::to_path_buf) })
    }

    /// The configuration file given, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads the whole document as `T` (whose fields are top-level keys;
    /// keys `T` does not name are ignored).
    pub fn section<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        yaml_serde::from_value(self.root.clone())
            .map_err(|e| ConfigError { origin: "configuration".into(), message: e.to_string() })
    }

    /// Reads the value at a dotted key path as `T`; `None` if absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        let mut v = &self.root;
        for part in key.split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => return Ok(None),
            }
        }
        yaml_serde::from_value(v.clone())
            .map(Some)
            .map_err(|e| ConfigError { origin: format!("key '{key}'"), message: e.to_string() })
    }

    /// The merged document, as YAML text (for `--dry-run` and debugging).
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(&self.root).unwrap_or_default()
    }
}

/// A file error without the path, which the error's origin names already.
fn file_error(e: saker_files::FileError) -> String {
    match e {
        saker_files::FileError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Deep-merges `over` into `base`: maps merge key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Applies `key.path=value`; the value is parsed as YAML.
fn apply_override(root: &mut Value, o: &str) -> Result<(), ConfigError> {
    let origin = format!("-o {o}");
    let Some((key, raw)) = o.split_once('=') else {
        return Err(ConfigError { origin, message: "expected key=value".into() });
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError { origin, message: format!("invalid key '{key}'") });
    }
    let value: Value = if raw.trim().is_empty() {
        Value::String(String::new())
    } else {
        yaml_serde::from_str(raw).map_err(|e| ConfigError { origin: origin.clone(), message: e.to_string() })?
    };
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !node.is_mapping() {
            if node.is_null() {
                *node = Value::Mapping(Mapping::new());
            } else {
                let at = parts[..i].join(".");
                return Err(ConfigError { origin, message: format!("'{at}' is not a map, cannot set '{part}' in it") });
            }
        }
        let map = node.as_mapping_mut().unwrap();
        let k = Value::String((*part).to_string());
        if i + 1 == parts.len() {
            map.insert(k, value);
            return Ok(());
        }
        node = map.entry(k).or_insert(Value::Null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Outputs {
        stdout_output: Enabled,
        http_output: Http,
    }
    #[derive(Deserialize)]
    struct Enabled {
        enabled: bool,
    }
    #[derive(Deserialize)]
    struct Http {
        enabled: bool,
        url: String,
    }

    #[test]
    fn layers_merge_in_order() {
        let dir = std::env::temp_dir().join(format!("saker-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("saker.yaml");
        std::fs::write(&file, "http_output:\n  url: http://127.0.0.1:2801/\nstdout_output:\n  enabled: false\n")
            .unwrap();
        let c = Config::load(Some(&file), &["http_output.enabled=true".into(), "stdout_output.enabled=true".into()])
            .unwrap();
        let o: Outputs = c.section().unwrap();
        assert!(o.stdout_output.enabled);
        assert!(o.http_output.enabled);
        assert_eq!(o.http_output.url, "http://127.0.0.1:2801/");
        assert_eq!(c.get::<String>("rule_matching").unwrap().as_deref(), Some("first"));
        assert_eq!(c.get::<u32>("no.such.key").unwrap(), None);
    }

    #[test]
    fn overrides_take_yaml_values_and_report_mistakes() {
        let c = Config::load(None, &["rules_files=[a.yaml, b.yaml]".into(), "new.section.key=7".into()]).unwrap();
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["a.yaml", "b.yaml"]);
        assert_eq!(c.get::<u32>("new.section.key").unwrap(), Some(7));
        let e = Config::load(None, &["nokeyvalue".into()]).unwrap_err();
        assert!(e.to_string().contains("expected key=value"), "{e}");
        let e = Config::load(None, &["rule_matching.sub=1".into()]).unwrap_err();
        assert!(e.to_string().contains("'rule_matching' is not a map"), "{e}");
        let e = Config::load(Some(Path::new("/nonexistent/saker.yaml")), &[]).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/saker.yaml: No such file"), "{e}");
    }

    #[test]
    fn configuration_files_are_read_with_care() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("saker-config-care-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("saker.yaml");
        std::fs::write(&p, "rule_matching: all\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        let e = Config::load(Some(&p), &[]).unwrap_err();
        assert!(e.to_string().contains("writable by its group"), "{e}");
        let c = Config::load_checked(Some(&p), &[], true).unwrap();
        assert_eq!(c.get::<String>("rule_matching").unwrap().as_deref(), Some("all"));
        let e = Config::load_checked(Some(Path::new("/dev/zero")), &[], true).unwrap_err();
        assert!(e.to_string().contains("/dev/zero is larger than 4 MiB"), "{e}");
        std::fs::write(&p, b"priority: debug\n# \xfe\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Config::load(Some(&p), &[]).unwrap_err();
        assert!(e.to_string().contains("saker.yaml:2:3: invalid UTF-8"), "{e}");
        // Aliases are bounded by the YAML reader: a billion laughs is refused.
        let mut s = String::from("a0: &a0 [lol]\n");
        for i in 1..=9 {
            let refs: Vec<String> = (0..10).map(|_| format!("*a{}", i - 1)).collect();
            s.push_str(&format!("a{i}: &a{i} [{}]\n", refs.join(", ")));
        }
        std::fs::write(&p, s).unwrap();
        let t = std::time::Instant::now();
        let e = Config::load(Some(&p), &[]).unwrap_err();
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
        assert!(e.to_string().contains("saker.yaml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
