//! The configuration keys that change the rules after they are loaded, as
//! Falco applies them: the `rules:` section (enable or disable rules by
//! name or tag, `*` wildcards, entries in order), `append_output` (text
//! appended to the outputs of the rules an entry matches) and
//! `static_fields` (fields every alert carries).

use std::collections::BTreeMap;

use saker_config::Config;
use saker_rules::LoadResult;
use serde::Deserialize;

use crate::cli::UsageError;

/// One entry of `rules:`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RulesEntry {
    enable: Option<Selector>,
    disable: Option<Selector>,
}

/// `{rule: NAME}` or `{tag: TAG}`, with `*` wildcards.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Selector {
    rule: Option<String>,
    tag: Option<String>,
}

/// One entry of `append_output`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AppendEntry {
    #[serde(default, rename = "match")]
    matching: AppendMatch,
    #[serde(default)]
    extra_output: String,
    #[serde(default)]
    extra_fields: Vec<serde_json_like::Value>,
}

/// `match`: every condition given must hold.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct AppendMatch {
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    rule: Option<String>,
}

/// Any YAML value (extra_fields entries are only counted, to refuse them).
mod serde_json_like {
    #[derive(serde::Deserialize, Debug)]
    #[serde(untagged)]
    pub enum Value {
        Str(#[allow(dead_code)] String),
        Map(#[allow(dead_code)] std::collections::BTreeMap<String, String>),
    }
}

/// `*` matches any run of characters (Falco's wildcard in `rules:`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Applies `rules:` and `append_output` to the loaded rules; returns how
/// many rules each changed (for the start-up log).
pub fn apply(config: &Config, load: &mut LoadResult) -> Result<(usize, usize), UsageError> {
    let entries: Vec<RulesEntry> =
        config.get("rules").map_err(|e| UsageError(format!("key 'rules': {}", e.message)))?.unwrap_or_default();
    let mut toggled = 0;
    for (i, e) in entries.iter().enumerate() {
        let (sel, on) = match (&e.enable, &e.disable) {
            (Some(s), None) => (s, true),
            (None, Some(s)) => (s, false),
            _ => return Err(UsageError(format!("key 'rules[{i}]' must have exactly one of enable or disable"))),
        };
        let hit = |r: &saker_rules::Rule| match (&sel.rule, &sel.tag) {
            (Some(p), None) => wildcard_match(p, &r.name),
            (None, Some(p)) => r.tags.iter().any(|t| wildcard_match(p, t)),
            _ => false,
        };
        if sel.rule.is_some() == sel.tag.is_some() {
            return Err(UsageError(format!("key 'rules[{i}]' must name exactly one of rule or tag")));
        }
        for r in load.rules.iter_mut().filter(|r| hit(r)) {
            r.enabled = on;
            toggled += 1;
        }
    }
    let appends: Vec<AppendEntry> = config
        .get("append_output")
        .map_err(|e| UsageError(format!("key 'append_output': {}", e.message)))?
        .unwrap_or_default();
    let mut appended = 0;
    for (i, a) in appends.iter().enumerate() {
        if !a.extra_fields.is_empty() {
            return Err(UsageError(format!(
                "saker does not support append_output[{i}].extra_fields yet (use extra_output with %fields: they are in the JSON output_fields too)"
            )));
        }
        if a.extra_output.is_empty() {
            continue;
        }
        let m = &a.matching;
        for r in load.rules.iter_mut() {
            let matches = m.source.as_ref().is_none_or(|s| *s == r.source)
                && m.rule.as_ref().is_none_or(|n| *n == r.name)
                && m.tags.iter().all(|t| r.tags.contains(t));
            if matches {
                r.output = format!("{} {}", r.output, a.extra_output.trim());
                appended += 1;
            }
        }
    }
    Ok((toggled, appended))
}

/// `static_fields`: name -> value, added to every alert's fields; a
/// `${VAR}` value is the environment variable's (Falco expands them too).
pub fn static_fields(config: &Config) -> Result<Vec<(String, String)>, UsageError> {
    let map: BTreeMap<String, String> = config
        .get("static_fields")
        .map_err(|e| UsageError(format!("key 'static_fields' must map names to strings ({})", e.message)))?
        .unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| {
            let value = match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(var) => std::env::var(var).unwrap_or_default(),
                None => v,
            };
            Ok((k, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("Read sensitive*", "Read sensitive file untrusted"));
        assert!(wildcard_match("*shell*", "Terminal shell in container"));
        assert!(wildcard_match("a*b*c", "aXbYc"));
        assert!(!wildcard_match("a*b*c", "aXcYb"));
        assert!(!wildcard_match("exact", "exact2"));
        assert!(wildcard_match("exact", "exact"));
    }
}
