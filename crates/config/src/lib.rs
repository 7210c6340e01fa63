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

pub mod schema;

/// The YAML values a configuration is made of.
pub use yaml_serde::Value;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_serde::Mapping;

/// The built-in configuration, with every key documented.
pub const DEFAULTS: &str = include_str!("../saker.yaml");

/// What kind of problem a [`ConfigError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file could not be read.
    Read,
    /// A file is not valid YAML.
    Syntax,
    /// A `-o` override is malformed.
    Override,
    /// A key asks for something saker does not do.
    Unsupported,
    /// A key has a value of the wrong type.
    Type,
    /// A value cannot be read as the type its reader needs.
    Value,
}

/// Why a configuration could not be built or read.
#[derive(Debug)]
pub struct ConfigError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Where the problem is: a file, `-o ...`, or a key.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(kind: ErrorKind, origin: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { kind, origin: origin.into(), message: message.into() }
    }
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
    user: Value,
    file: Option<PathBuf>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
}

impl Config {
    /// The built-in defaults, then `file` if given, then the files its
    /// `config_files` names (a directory's files in name order), then the
    /// `overrides` (`key.path=value`, `key[N]=value`, applied in order).
    ///
    /// Every key set is checked against [`schema::KEYS`]: a key saker does
    /// not support or a value of the wrong type is an error naming the key;
    /// an unknown key is a warning ([`Config::warnings`]).
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        Config::load_checked(file, overrides, false)
    }

    /// [`Config::load`], with group- or other-writable files accepted when
    /// `allow_writable` (`--allow-writable-files`).
    pub fn load_checked(
        file: Option<&Path>,
        overrides: &[String],
        allow_writable: bool,
    ) -> Result<Config, ConfigError> {
        let defaults: Value = yaml_serde::from_str(DEFAULTS)
            .map_err(|e| ConfigError::new(ErrorKind::Syntax, "built-in saker.yaml", e.to_string()))?;
        let mut user = Value::Mapping(Mapping::new());
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        if let Some(path) = file {
            merge(&mut user, read_yaml(path, allow_writable)?, Strategy::Override);
            files.push(path.to_path_buf());
            let includes = user.get("config_files").cloned();
            if let Some(includes) = includes {
                load_includes(&includes, path, &mut user, &mut files, &mut warnings, allow_writable)?;
            }
        }
        for o in overrides {
            apply_override(&mut user, o)?;
        }
        let mut errors = Vec::new();
        for p in schema::check(&user) {
            match &p {
                schema::Problem::Unknown { .. } => warnings.push(p.to_string()),
                schema::Problem::Type { .. } => errors.push((ErrorKind::Type, p.to_string())),
                schema::Problem::Unsupported { .. } => errors.push((ErrorKind::Unsupported, p.to_string())),
            }
        }
        if let Some((kind, _)) = errors.first() {
            let origin = file.map_or_else(|| "configuration".to_string(), |f| f.display().to_string());
            let message = errors.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            return Err(ConfigError::new(*kind, origin, message));
        }
        alias_rules_file(&mut user, &mut warnings);
        let mut root = defaults;
        merge(&mut root, user.clone(), Strategy::Override);
        Ok(Config { root, user, file: file.map(Path::to_path_buf), files, warnings })
    }

    /// The built-in defaults with the `overrides` applied, without checking
    /// the keys against [`schema::KEYS`]: for tests that probe which keys
    /// the readers of the configuration read (a wrong type given to a key
    /// nobody reads goes unnoticed; one given to a key a reader reads is an
    /// error of that reader).
    pub fn load_unchecked(overrides: &[String]) -> Result<Config, ConfigError> {
        let mut root: Value = yaml_serde::from_str(DEFAULTS)
            .map_err(|e| ConfigError::new(ErrorKind::Syntax, "built-in saker.yaml", e.to_string()))?;
        let mut user = Value::Mapping(Mapping::new());
        for o in overrides {
            apply_override(&mut user, o)?;
        }
        merge(&mut root, user.clone(), Strategy::Override);
        Ok(Config { root, user, file: None, files: Vec::new(), warnings: Vec::new() })
    }

    /// The configuration file given, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Every configuration file read, in order: the file given, then those
    /// its `config_files` named.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Unknown keys and other things worth a warning at start.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether the user set this dotted key (in a file or with `-o`), as
    /// opposed to it having its built-in default.
    pub fn is_set(&self, key: &str) -> bool {
        lookup(&self.user, key).is_some_and(|v| !v.is_null())
    }

    /// Reads the whole document as `T` (whose fields are top-level keys;
    /// keys `T` does not name are ignored).
    pub fn section<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        yaml_serde::from_value(self.root.clone())
            .map_err(|e| ConfigError::new(ErrorKind::Value, "configuration", e.to_string()))
    }

    /// Reads the value at a dotted key path as `T`; `None` if absent or
    /// empty.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        match lookup(&self.root, key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => yaml_serde::from_value(v.clone())
                .map(Some)
                .map_err(|e| ConfigError::new(ErrorKind::Value, format!("key '{key}'"), e.to_string())),
        }
    }

    /// The merged document, as YAML text (for `--dry-run` and debugging).
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(&self.root).unwrap_or_default()
    }

    /// The merged document.
    pub fn root(&self) -> &Value {
        &self.root
    }
}

fn lookup<'a>(root: &'a Value, key: &str) -> Option<&'a Value> {
    let mut v = root;
    for part in key.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

/// A configuration file, read through [`saker_files::read_text`]: at most
/// [`saker_files::MAX_CONFIG_FILE`] bytes of UTF-8, and refused if group or
/// others may write it unless `allow_writable`.
fn read_yaml(path: &Path, allow_writable: bool) -> Result<Value, ConfigError> {
    let origin = path.display().to_string();
    let text = saker_files::read_text(path, saker_files::MAX_CONFIG_FILE, allow_writable)
        .map_err(|e| ConfigError::new(ErrorKind::Read, &origin, file_error(e)))?;
    let v: Value =
        yaml_serde::from_str(&text).map_err(|e| ConfigError::new(ErrorKind::Syntax, &origin, e.to_string()))?;
    match v {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(v),
        _ => Err(ConfigError::new(ErrorKind::Syntax, origin, "a configuration file must be a map of keys")),
    }
}

/// How a file of `config_files` merges into what came before (Falco's
/// `strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    /// Maps merge key by key; lists are appended to; scalars replace
    /// (Falco's default for `config_files`).
    Append,
    /// Maps merge key by key; anything else replaces.
    Override,
    /// Only top-level keys not set yet are taken.
    AddOnly,
}

/// Reads the files `config_files` names (relative to the file naming them,
/// if not absolute; a directory's regular files in name order), merging
/// each into `user`. `config_files` in those files is not followed, as in
/// Falco.
fn load_includes(
    includes: &Value,
    from: &Path,
    user: &mut Value,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
    allow_writable: bool,
) -> Result<(), ConfigError> {
    let origin = format!("{}: config_files", from.display());
    let Some(list) = includes.as_sequence() else {
        return Err(ConfigError::new(ErrorKind::Type, origin, "key 'config_files' must be a list"));
    };
    let base = from.parent().unwrap_or(Path::new("."));
    for item in list {
        let (path, strategy) = match item {
            Value::String(s) => (s.clone(), Strategy::Append),
            Value::Mapping(m) => {
                let path = m.get("path").and_then(Value::as_str).ok_or_else(|| {
                    ConfigError::new(ErrorKind::Type, &origin, "an entry must be a path or {path, strategy}")
                })?;
                let strategy = match m.get("strategy").and_then(Value::as_str).unwrap_or("append") {
                    "append" => Strategy::Append,
                    "override" => Strategy::Override,
                    "add-only" => Strategy::AddOnly,
                    other => {
                        return Err(ConfigError::new(
                            ErrorKind::Value,
                            &origin,
                            format!("strategy '{other}' is not append, override or add-only"),
                        ));
                    }
                };
                (path.to_string(), strategy)
            }
            _ => return Err(ConfigError::new(ErrorKind::Type, &origin, "an entry must be a path or {path, strategy}")),
        };
        let path = base.join(path);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            // Falco's own falco.yaml names /etc/falco/config.d, which a
            // host may not have: skipped, and said so at start.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                warnings.push(format!("config_files: {} skipped: it does not exist", path.display()));
                continue;
            }
            Err(e) => return Err(ConfigError::new(ErrorKind::Read, path.display().to_string(), e.to_string())),
        };
        let mut paths = Vec::new();
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path)
                .map_err(|e| ConfigError::new(ErrorKind::Read, path.display().to_string(), e.to_string()))?;
            for e in entries.flatten() {
                if e.path().is_file() {
                    paths.push(e.path());
                }
            }
            paths.sort();
        } else {
            paths.push(path);
        }
        for p in paths {
            let mut doc = read_yaml(&p, allow_writable)?;
            if doc.as_mapping_mut().and_then(|m| m.remove("config_files")).is_some() {
                warnings.push(format!("{}: config_files in an included file is ignored (as in Falco)", p.display()));
            }
            merge(user, doc, strategy);
            files.push(p);
        }
    }
    Ok(())
}

/// `rules_file` (Falco's old key) and `rule_files` mean `rules_files` when
/// that is not set.
fn alias_rules_file(user: &mut Value, warnings: &mut Vec<String>) {
    let Some(map) = user.as_mapping_mut() else { return };
    for old in ["rules_file", "rule_files"] {
        if let Some(v) = map.remove(old) {
            if map.contains_key("rules_files") {
                warnings.push(format!("{old} is ignored: rules_files is set too"));
            } else {
                map.insert(Value::String("rules_files".into()), v);
            }
        }
    }
}

/// A file error without the path, which the error's origin names already.
fn file_error(e: saker_files::FileError) -> String {
    match e {
        saker_files::FileError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Merges `over` into `base` with `strategy`.
fn merge(base: &mut Value, over: Value, strategy: Strategy) {
    if strategy == Strategy::AddOnly {
        if let (Value::Mapping(b), Value::Mapping(o)) = (base, over) {
            for (k, v) in o {
                b.entry(k).or_insert(v);
            }
        }
        return;
    }
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v, strategy),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) if strategy == Strategy::Append => b.extend(o),
        (b, o) => *b = o,
    }
}

/// One step of an override's key: `name` or `name[N]` (`name[]` appends).
enum Step<'a> {
    Key(&'a str),
    Index(Option<usize>),
}

fn parse_key(key: &str) -> Option<Vec<Step<'_>>> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if name.is_empty() {
            return None;
        }
        steps.push(Step::Key(name));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let inner = &rest[1..close];
            steps.push(Step::Index(if inner.is_empty() { None } else { Some(inner.parse().ok()?) }));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    Some(steps)
}

/// Applies `key.path=value`, `key[N]=value` (`N` up to the list's length,
/// which appends) or `key[]=value` (appends); the value is parsed as YAML,
/// so `key={a: 1}` and `key=[a, b]` work.
fn apply_override(root: &mut Value, o: &str) -> Result<(), ConfigError> {
    let origin = format!("-o {o}");
    let err = |m: String| ConfigError::new(ErrorKind::Override, origin.clone(), m);
    let Some((key, raw)) = o.split_once('=') else {
        return Err(err("expected key=value".into()));
    };
    let key = key.trim();
    let steps = parse_key(key).ok_or_else(|| err(format!("invalid key '{key}'")))?;
    let value: Value = if raw.trim().is_empty() {
        Value::String(String::new())
    } else {
        yaml_serde::from_str(raw).map_err(|e| err(e.to_string()))?
    };
    let mut node = root;
    let mut at = String::new();
    for step in steps {
        match step {
            Step::Key(part) => {
                if node.is_null() {
                    *node = Value::Mapping(Mapping::new());
                }
                let Some(map) = node.as_mapping_mut() else {
                    return Err(err(format!("'{at}' is not a map, cannot set '{part}' in it")));
                };
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(part);
                node = map.entry(Value::String(part.to_string())).or_insert(Value::Null);
            }
            Step::Index(i) => {
                if node.is_null() {
                    *node = Value::Sequence(Vec::new());
                }
                let Some(list) = node.as_sequence_mut() else {
                    return Err(err(format!("'{at}' is not a list, cannot index it")));
                };
                let i = i.unwrap_or(list.len());
                if i > list.len() {
                    return Err(err(format!("'{at}' has {} items, cannot set item {i}", list.len())));
                }
                if i == list.len() {
                    list.push(Value::Null);
                }
                at.push_str(&format!("[{i}]"));
                node = &mut list[i];
            }
        }
    }
    *node = value;
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
        let e = Config::load(None, &["rule_matching=first".into(), "rule_matching.sub=1".into()]).unwrap_err();
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

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("saker-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn indexed_and_map_overrides() {
        let c = Config::load(None, &["rules_files[0]=a.yaml".into(), "rules_files[1]=b.yaml".into()]).unwrap();
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["a.yaml", "b.yaml"]);
        let c = Config::load(None, &["rules_files=[a, b]".into(), "rules_files[0]=c".into(), "rules_files[]=d".into()])
            .unwrap();
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["c", "b", "d"]);
        let c = Config::load(None, &["engine={kind: replay, replay: {capture_file: x.scap}}".into()]).unwrap();
        assert_eq!(c.get::<String>("engine.kind").unwrap().as_deref(), Some("replay"));
        assert_eq!(c.get::<String>("engine.replay.capture_file").unwrap().as_deref(), Some("x.scap"));
        // The defaults under engine are still there.
        assert_eq!(c.get::<u32>("engine.modern_ebpf.cpus_for_each_buffer").unwrap(), Some(2));
        let e = Config::load(None, &["rules_files[3]=x".into()]).unwrap_err();
        assert!(e.to_string().contains("cannot set item 3"), "{e}");
        let e = Config::load(None, &["rules_files[x]=x".into()]).unwrap_err();
        assert!(e.to_string().contains("invalid key"), "{e}");
    }

    #[test]
    fn old_rules_file_key_is_rules_files() {
        let dir = temp_dir("alias");
        let file = dir.join("falco.yaml");
        std::fs::write(&file, "rules_file:\n  - /etc/falco/falco_rules.yaml\n  - /etc/falco/rules.d\n").unwrap();
        let c = Config::load(Some(&file), &[]).unwrap();
        assert_eq!(
            c.get::<Vec<String>>("rules_files").unwrap().unwrap(),
            ["/etc/falco/falco_rules.yaml", "/etc/falco/rules.d"]
        );
        assert!(c.is_set("rules_files") && !c.is_set("json_output"));
        let c = Config::load(None, &["rules_file=[x.yaml]".into()]).unwrap();
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["x.yaml"]);
    }

    #[test]
    fn unsupported_keys_and_wrong_types_are_refused_naming_the_key() {
        let e = Config::load(None, &["grpc.enabled=true".into()]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.to_string().contains("saker does not support grpc.enabled: true"), "{e}");
        let e = Config::load(None, &["engine.modern_ebpf.buf_size_preset=big".into()]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        assert!(e.to_string().contains("'engine.modern_ebpf.buf_size_preset' must be an integer"), "{e}");
        let c = Config::load(None, &["json_outptu=true".into()]).unwrap();
        assert_eq!(c.warnings().len(), 1);
        assert!(c.warnings()[0].contains("did you mean 'json_output'"), "{:?}", c.warnings());
    }

    #[test]
    fn config_files_merge_in_name_order() {
        let dir = temp_dir("include");
        let d = dir.join("config.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("20-b.yaml"), "priority: error\nrules_files: [b.yaml]\n").unwrap();
        std::fs::write(d.join("10-a.yaml"), "priority: warning\njson_output: true\nrules_files: [a.yaml]\n").unwrap();
        let file = dir.join("falco.yaml");
        std::fs::write(&file, "config_files: [config.d]\nrules_files: [main.yaml]\npriority: debug\n").unwrap();
        let c = Config::load(Some(&file), &["priority=notice".into()]).unwrap();
        // Lists append, scalars replace, in name order; -o comes last.
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["main.yaml", "a.yaml", "b.yaml"]);
        assert_eq!(c.get::<String>("priority").unwrap().as_deref(), Some("notice"));
        assert_eq!(c.get::<bool>("json_output").unwrap(), Some(true));
        assert_eq!(c.files(), [file.clone(), d.join("10-a.yaml"), d.join("20-b.yaml")]);
        std::fs::write(&file, "config_files: [{path: config.d/20-b.yaml, strategy: override}]\nrules_files: [m]\n")
            .unwrap();
        let c = Config::load(Some(&file), &[]).unwrap();
        assert_eq!(c.get::<Vec<String>>("rules_files").unwrap().unwrap(), ["b.yaml"]);
        std::fs::write(&file, "config_files: [missing.yaml]\njson_output: true\n").unwrap();
        let c = Config::load(Some(&file), &[]).unwrap();
        assert_eq!(c.get::<bool>("json_output").unwrap(), Some(true));
        assert!(
            c.warnings().iter().any(|w| w.contains("missing.yaml skipped: it does not exist")),
            "{:?}",
            c.warnings()
        );
        std::fs::write(&file, "config_files: [missing.yaml, config.d/10-a.yaml/x]\n").unwrap();
        let e = Config::load(Some(&file), &[]).unwrap_err();
        assert!(e.to_string().contains("10-a.yaml/x"), "{e}");
    }
}
