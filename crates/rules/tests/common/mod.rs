//! Shared helpers: the real rules files and a field checker that knows the
//! fields they use (`shared/data/event-tables/rule-fields.tsv`).

#![allow(dead_code)]

use std::collections::HashSet;

use saker_rules::{Diagnostic, FieldChecker, LoadErrors, LoadResult, RulesSource, Ruleset};

pub fn data(path: &str) -> String {
    let p = format!("{}/../../../shared/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Knows the fields of `rule-fields.tsv`, plus `extra`.
pub struct KnownFields(HashSet<String>);

impl KnownFields {
    pub fn new(extra: &[&str]) -> Self {
        let tsv = data("event-tables/rule-fields.tsv");
        let mut set: HashSet<String> =
            tsv.lines().skip(1).filter_map(|l| l.split('\t').next()).map(String::from).collect();
        set.extend(extra.iter().map(|s| s.to_string()));
        KnownFields(set)
    }
}

impl FieldChecker for KnownFields {
    fn check(&self, name: &str, _arg: Option<&str>) -> Result<(), String> {
        if self.0.contains(name) { Ok(()) } else { Err(format!("nonexistent field {name}")) }
    }
}

pub fn fields() -> KnownFields {
    KnownFields::new(&[])
}

/// Loads named texts with the known fields.
pub fn load(files: &[(&str, &str)]) -> Result<LoadResult, LoadErrors> {
    let sources: Vec<RulesSource<'_>> = files.iter().map(|(n, t)| RulesSource::new(n, t)).collect();
    Ruleset::load(&sources, &fields())
}

/// Loads one text named `rules.yaml`.
pub fn load_one(text: &str) -> Result<LoadResult, LoadErrors> {
    load(&[("rules.yaml", text)])
}

/// The load must fail; its errors.
pub fn errors(text: &str) -> Vec<Diagnostic> {
    match load_one(text) {
        Ok(r) => panic!("loaded, with warnings {:#?}", r.warnings),
        Err(e) => e.errors().cloned().collect(),
    }
}

/// The single error of a failed load.
pub fn error(text: &str) -> Diagnostic {
    let mut e = errors(text);
    assert_eq!(
        e.len(),
        1,
        "expected one error, got:\n{}",
        e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n\n")
    );
    e.pop().unwrap()
}

/// The load must succeed.
pub fn ok(text: &str) -> LoadResult {
    load_one(text).unwrap_or_else(|e| panic!("{e}"))
}
