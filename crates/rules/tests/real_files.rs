//! The real Falco rules files load, alone and together, with the counts the data README gives.

mod common;

use common::{KnownFields, data, load};
use saker_rules::{Code, RulesSource, Ruleset};

fn counts(r: &saker_rules::LoadResult) -> (usize, usize, usize, usize, usize) {
    let enabled = r.rules.iter().filter(|x| x.enabled).count();
    (r.rules.len(), enabled, r.rules.len() - enabled, r.macros.len(), r.lists.len())
}

/// Falco loads the 5.1.0 files without a warning; so must saker.
fn no_warnings(r: &saker_rules::LoadResult) {
    let w: Vec<String> = r.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w.is_empty(), "{}", w.join("\n\n"));
}

#[test]
fn falco_rules_5_1_0() {
    let t = data("rules/falco_rules.yaml");
    let r = load(&[("falco_rules.yaml", &t)]).unwrap_or_else(|e| panic!("{e}"));
    no_warnings(&r);
    assert_eq!(counts(&r), (25, 25, 0, 87, 49));
    assert!(r.skipped.is_empty());
    assert_eq!(r.required_engine_version, Some((0, 57, 0)));
    assert!(r.required_plugins.iter().all(|p| p.satisfied));
    assert!(r.warnings.iter().all(|w| w.code != Code::PluginUnavailable));
}

#[test]
fn incubating_rules() {
    let t = data("rules/falco-incubating_rules.yaml");
    let r = load(&[("falco-incubating_rules.yaml", &t)]).unwrap_or_else(|e| panic!("{e}"));
    no_warnings(&r);
    assert_eq!(counts(&r), (31, 31, 0, 82, 54));
}

#[test]
fn sandbox_rules() {
    let t = data("rules/falco-sandbox_rules.yaml");
    let r = load(&[("falco-sandbox_rules.yaml", &t)]).unwrap_or_else(|e| panic!("{e}"));
    no_warnings(&r);
    // 183 macros: the data README's 182 counts `- macro:` lines, and one macro
    // (`recon_binaries_procs`, line 1728) is written `- condition: ...` then `macro: ...`.
    assert_eq!(counts(&r), (37, 25, 12, 183, 60));
}

#[test]
fn all_three_together() {
    let (a, b, c) = (
        data("rules/falco_rules.yaml"),
        data("rules/falco-incubating_rules.yaml"),
        data("rules/falco-sandbox_rules.yaml"),
    );
    let r = load(&[("falco_rules.yaml", &a), ("falco-incubating_rules.yaml", &b), ("falco-sandbox_rules.yaml", &c)])
        .unwrap_or_else(|e| panic!("{e}"));
    no_warnings(&r);
    let (rules, enabled, disabled, _, _) = counts(&r);
    assert_eq!((rules, enabled, disabled), (25 + 31 + 37, 25 + 31 + 25, 12));
    // Macros and lists with the same name are redefined, not duplicated.
    let names: std::collections::HashSet<_> = r.macros.iter().map(|m| &m.name).collect();
    assert_eq!(names.len(), r.macros.len());
}

#[test]
fn falco_rules_1_0_0() {
    let t = data("rules/falco_rules-1.0.0.yaml");
    // Two fields only its outputs use.
    let fields = KnownFields::new(&["proc.exe_ino", "proc.vpgid"]);
    let r = Ruleset::load(&[RulesSource::new("falco_rules-1.0.0.yaml", &t)], &fields).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.rules.len(), 80);
    assert_eq!(r.macros.len(), 297);
    assert_eq!(r.lists.len(), 117);
    assert_eq!(r.required_engine_version, Some((0, 17, 0)));
    // It uses the deprecated evt.dir and %container.info.
    assert!(r.warnings.iter().any(|w| w.code == Code::DeprecatedItem && w.message.contains("evt.dir")));
    assert!(r.rules.iter().all(|x| !x.output.contains("%container.info")));
}
