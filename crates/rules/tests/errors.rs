//! Malformed rules give located errors in Falco's style.

mod common;

use common::{error, errors, load_one, ok};
use saker_rules::{Code, ItemType};

const RULE: &str =
    "- rule: Foo\n  desc: a rule\n  condition: evt.type = open\n  output: \"opened %fd.name\"\n  priority: INFO\n";

fn at(d: &saker_rules::Diagnostic) -> (u32, u32) {
    let l = d.location().unwrap_or_else(|| panic!("no location: {d}"));
    (l.line, l.column)
}

#[test]
fn bad_yaml_has_line_and_column() {
    let e = error("- rule: Foo\n  desc: [a, b\n  priority: INFO\n");
    assert_eq!(e.code, Code::ErrYamlParse);
    assert_eq!(e.location().unwrap().line, 3, "{e}");
    let s = e.to_string();
    assert!(s.contains("rules.yaml:3:"), "{s}");
    assert!(s.starts_with("In rules content: (rules.yaml)"), "{s}");

    let e = error("- rule: Foo\n\tdesc: tab\n");
    assert_eq!((e.code, e.location().unwrap().line), (Code::ErrYamlParse, 2), "{e}");
}

#[test]
fn condition_parse_error_is_located_in_the_file() {
    // Plain scalar.
    let e = error(&RULE.replace("evt.type = open", "evt.type = open and proc.name intt (bash)"));
    assert_eq!(e.code, Code::ErrCompileCondition);
    assert_eq!(at(&e), (3, 44), "{e}");
    assert_eq!(e.snippet.as_ref().unwrap().line, "  condition: evt.type = open and proc.name intt (bash)");
    assert_eq!(e.item(), Some((ItemType::Rule, "Foo")));
    let s = e.to_string();
    assert!(s.contains("    rule 'Foo': (rules.yaml:1:3)\n"), "{s}");
    assert!(s.contains("    rule condition: (rules.yaml:3:14)\n"), "{s}");
    assert!(s.contains("condition expression: (rules.yaml:3:44) (\"evt.type = open a...\":1:31)"), "{s}");
    assert!(
        s.contains(
            "\n  condition: evt.type = open and proc.name intt (bash)\n                                           ^\n"
        ),
        "{s}"
    );

    // Folded block scalar, error on its second line.
    let e = error(&RULE.replace(
        "condition: evt.type = open",
        "condition: >\n    evt.type = open and\n    proc.name = bash and (fd.name = x",
    ));
    assert_eq!(at(&e), (5, 38), "{e}");
    // Literal block scalar.
    let e = error(&RULE.replace("condition: evt.type = open", "condition: |\n    evt.type = open and\n      not ("));
    assert_eq!(at(&e), (5, 12), "{e}");
    // Double-quoted with an escape before the error.
    let e = error(&RULE.replace("condition: evt.type = open", "condition: \"proc.name = \\\"a b\\\" and\n    ==\""));
    assert_eq!(at(&e), (4, 5), "{e}");
    // Plain multi-line.
    let e = error(&RULE.replace("condition: evt.type = open", "condition: evt.type = open and\n    proc.name = x y"));
    assert_eq!(at(&e), (4, 19), "{e}");
}

#[test]
fn unknown_macro() {
    let e = error(&RULE.replace("evt.type = open", "evt.type = open and not my_macro"));
    assert_eq!(e.code, Code::ErrValidate);
    assert_eq!(e.message, "Undefined macro 'my_macro' used in filter.");
    assert_eq!(at(&e), (3, 38), "{e}");
}

#[test]
fn macro_used_before_its_definition() {
    let e = error("- macro: a\n  condition: b\n- macro: b\n  condition: proc.name = x\n");
    assert_eq!(e.code, Code::ErrValidate);
    assert!(
        e.message.starts_with("Undefined macro 'b' used in filter. (Macro 'b' is defined later, at rules.yaml:3:3"),
        "{e}"
    );
    assert_eq!(e.item(), Some((ItemType::Macro, "a")));
}

#[test]
fn cyclic_macros() {
    // Falco's order rule allows a cycle only through an append.
    let e = error(
        "- macro: a\n  condition: proc.name = x\n- macro: b\n  condition: a\n- macro: a\n  condition: or b\n  override:\n    condition: append\n- rule: R\n  desc: d\n  condition: evt.type = open and a\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(e.code, Code::ErrValidate);
    assert!(e.message.starts_with("Reference loop in macro 'a': "), "{e}");
    // Self references.
    let e = error("- macro: a\n  condition: proc.name = x\n- macro: a\n  condition: or a\n  append: true\n");
    assert_eq!(e.message, "Reference loop in macro 'a': a -> a", "{e}");
    assert_eq!(at(&e), (4, 17), "{e}");
    let e = error("- macro: a\n  condition: not a\n");
    assert_eq!(e.message, "Reference loop in macro 'a': a -> a", "{e}");
}

#[test]
fn unknown_field_in_condition_output_exception() {
    let e = error(&RULE.replace("evt.type = open", "evt.type = open and proc.nme = bash"));
    assert_eq!(e.code, Code::ErrCompileCondition);
    assert_eq!(e.message, "invalid field 'proc.nme': nonexistent field proc.nme");
    assert_eq!(at(&e), (3, 34), "{e}");

    let e = error(&RULE.replace("%fd.name", "%fd.nmae"));
    assert_eq!(e.code, Code::ErrCompileOutput);
    assert_eq!(at(&e), (4, 20), "{e}");
    assert!(e.message.contains("fd.nmae"), "{e}");

    // In a macro: located in the macro, reported once for all the rules using it.
    let text = format!(
        "- macro: m\n  condition: proc.nme = x\n{}{}",
        RULE.replace("evt.type = open", "evt.type = open and m"),
        RULE.replace("Foo", "Bar").replace("evt.type = open", "evt.type = open and m")
    );
    let e = error(&text);
    assert_eq!(at(&e), (2, 14), "{e}");
    assert_eq!(e.item(), Some((ItemType::Macro, "m")));

    let e = error(&format!("{RULE}  exceptions:\n    - name: x\n      fields: [proc.nme]\n      values: [[a]]\n"));
    assert!(e.message.starts_with("'proc.nme' is not a supported filter field"), "{e}");
    assert_eq!(at(&e), (8, 16), "{e}");
}

#[test]
fn skip_if_unknown_filter_skips_with_a_warning() {
    let r = ok(&format!(
        "{}  skip-if-unknown-filter: true\n",
        RULE.replace("evt.type = open", "evt.type = open and x.y = 1")
    ));
    assert!(r.rules.is_empty());
    assert_eq!(r.skipped.len(), 1);
    assert!(r.warnings.iter().any(|w| w.code == Code::UnknownFilter && w.message.contains("x.y")));
}

#[test]
fn bad_priority_names_the_valid_ones() {
    let e = error(&RULE.replace("priority: INFO", "priority: HIGH"));
    assert_eq!(e.code, Code::ErrYamlValidate);
    assert!(e.message.starts_with("Invalid priority 'HIGH': expected one of EMERGENCY, ALERT, CRITICAL"), "{e}");
    assert_eq!(at(&e), (5, 13), "{e}");
    // Case does not matter, and INFO is INFORMATIONAL.
    assert_eq!(ok(&RULE.replace("INFO", "warning")).rules[0].priority, saker_rules::Priority::Warning);
    assert_eq!(ok(RULE).rules[0].priority, saker_rules::Priority::Informational);
}

#[test]
fn invalid_overrides() {
    let e = error(&format!("{RULE}- rule: Foo\n  priority: ERROR\n  override:\n    priority: append\n"));
    assert_eq!(e.code, Code::ErrYamlValidate);
    assert_eq!(e.message, "Key 'priority' cannot be appended to, use 'replace' instead");
    assert_eq!(at(&e), (9, 5), "{e}");
    assert!(e.snippet.as_ref().unwrap().line.contains("priority: append"));

    let e = error(&format!("{RULE}- rule: Foo\n  desc: x\n  override:\n    desc: merge\n"));
    assert_eq!(e.message, "Invalid override operation for key 'desc': 'merge'. Allowed values are: append replace");

    let e = error(&format!(
        "{RULE}- rule: Foo\n  condition: and proc.name=x\n  append: true\n  override:\n    condition: append\n"
    ));
    assert!(e.message.starts_with("Keys 'override' and 'append: true' cannot be used together."), "{e}");

    let e = error(&format!("{RULE}- rule: Foo\n  desc: d\n  override:\n    desc: replace\n    condition: append\n"));
    assert_eq!(e.message, "An append override for 'condition' was specified but 'condition' is not defined");

    let e = error(&format!("{RULE}- rule: Foo\n  desc: d\n  priority: ERROR\n  override:\n    desc: replace\n"));
    assert_eq!(e.message, "Unexpected key 'priority': no corresponding entry under 'override' is defined.");
    assert_eq!(at(&e), (8, 3), "{e}");

    let e = error("- list: l\n  items: [a]\n- list: l\n  items: [b]\n  override:\n    items: prepend\n");
    assert_eq!(e.message, "Invalid override operation for key 'items': 'prepend'. Allowed values are: append replace");
}

#[test]
fn append_to_undefined_items() {
    let e = error("- rule: Foo\n  condition: and proc.name = cat\n  append: true\n");
    assert_eq!(e.code, Code::ErrValidate);
    assert_eq!(e.message, "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists");
    assert_eq!(at(&e), (1, 3), "{e}");

    let e = error("- rule: Foo\n  condition: and proc.name = cat\n  override:\n    condition: replace\n");
    assert!(e.message.starts_with("An 'override.<key>: replace' to a rule was requested"), "{e}");
    let e = error("- macro: m\n  condition: or proc.name = cat\n  override:\n    condition: append\n");
    assert!(e.message.starts_with("Macro uses 'append'"), "{e}");
    let e = error("- list: l\n  items: [a]\n  append: true\n");
    assert!(e.message.starts_with("List uses 'append'"), "{e}");
    let e = error("- rule: Foo\n  enabled: false\n");
    assert_eq!(e.message, "Rule has 'enabled' key but no rule by that name already exists");
}

#[test]
fn unknown_keys_are_errors() {
    let e = error(&RULE.replace("  desc:", "  descr:"));
    assert_eq!(e.code, Code::ErrYamlValidate);
    assert!(e.message.starts_with("Unknown key 'descr' in a rule (did you mean 'desc'?)"), "{e}");
    assert_eq!(at(&e), (2, 3), "{e}");

    let e = error("- list: l\n  items: [a]\n  condition: x\n");
    assert!(e.message.starts_with("Unknown key 'condition' in a list"), "{e}");
    let e = error(&format!("{RULE}  exceptions:\n    - name: x\n      field: proc.name\n      values: [a]\n"));
    assert!(e.message.starts_with("Unknown key 'field' in an exception (did you mean 'fields'?)"), "{e}");

    // An unknown top-level item is only a warning, as in Falco.
    let r = ok(&format!("{RULE}- rulez: Bar\n"));
    assert!(r.warnings.iter().any(|w| w.code == Code::UnknownItem));
}

#[test]
fn missing_and_mistyped_values() {
    let e = error("- rule: Foo\n  desc: d\n  condition: evt.type=open\n  priority: INFO\n");
    assert_eq!(e.message, "Item has no mapping for key 'output'");
    let e = error(&RULE.replace("priority: INFO", "priority: INFO\n  enabled: maybe"));
    assert!(e.message.starts_with("Can't decode YAML scalar value"), "{e}");
    let e = error(&RULE.replace("priority: INFO", "priority: INFO\n  tags: nope"));
    assert_eq!(e.message, "Value is not a sequence");
    let e = error("rule: Foo\n");
    assert_eq!(e.message, "Rules content is not yaml array of objects");
    let e = error("- [a]\n");
    assert!(e.message.starts_with("Unexpected element type"), "{e}");
}

#[test]
fn engine_and_plugin_versions() {
    let e = error("- required_engine_version: 0.58.0\n");
    assert_eq!(e.message, "Rules require engine version 0.58.0, but engine version is 0.57.0");
    let e = error("- required_engine_version: 1.0.0\n");
    assert!(e.message.starts_with("Rules require engine version 1.0.0"), "{e}");
    let e = error("- required_engine_version: seven\n");
    assert!(e.message.starts_with("Unable to parse engine version 'seven'"), "{e}");
    assert_eq!(ok("- required_engine_version: 26\n").required_engine_version, Some((0, 26, 0)));
    assert_eq!(ok("- required_engine_version: 0.26.0\n").required_engine_version, Some((0, 26, 0)));

    let r = ok(
        "- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n  - name: k8saudit\n    version: 0.7.0\n    alternatives:\n      - name: k8saudit-eks\n        version: 0.4.0\n",
    );
    assert_eq!(r.required_plugins.len(), 2);
    assert!(r.required_plugins[0].satisfied && !r.required_plugins[1].satisfied);
    let w: Vec<_> = r.warnings.iter().filter(|w| w.code == Code::PluginUnavailable).collect();
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("k8saudit 0.7.0 or k8saudit-eks 0.4.0"), "{}", w[0]);
    let e = error("- required_plugin_versions:\n  - name: json\n    version: latest\n");
    assert_eq!(e.message, "Invalid required version 'latest' for plugin 'json'");
}

#[test]
fn other_sources_are_skipped_with_a_warning() {
    let r = ok(&RULE.replace("priority: INFO", "priority: INFO\n  source: k8s_audit"));
    assert!(r.rules.is_empty());
    assert_eq!(r.skipped[0].source, "k8s_audit");
    assert!(
        r.warnings.iter().any(|w| w.code == Code::UnknownSource && w.message == "Unknown source k8s_audit, skipping")
    );
    let e = error(&format!("{}{}", RULE, RULE.replace("priority: INFO", "priority: INFO\n  source: k8s_audit")));
    assert_eq!(e.message, "Rule has been re-defined with a different source");
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text = format!(
        "{}{}{}- list: l\n  items: [a]\n  append: true\n",
        RULE.replace("priority: INFO", "priority: LOUD"),
        RULE.replace("Foo", "Bar").replace("evt.type = open", "evt.type = open and undefined_macro"),
        RULE.replace("Foo", "Baz").replace("desc:", "dsc:"),
    );
    let e = errors(&text);
    assert_eq!(e.len(), 4, "{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n\n"));
    let lines: Vec<u32> = e.iter().map(|d| d.location().unwrap().line).collect();
    // Reading errors first (priority, unknown key, append to nothing), then the condition's.
    assert_eq!(lines, [5, 12, 16, 8]);
}

#[test]
fn errors_in_several_files_name_their_file() {
    let r = load_one(RULE).unwrap();
    assert_eq!(r.rules.len(), 1);
    let e = common::load(&[("a.yaml", RULE), ("b.yaml", "- rule: Foo\n  condition: and nope(\n  append: true\n")])
        .unwrap_err();
    let d = e.errors().next().unwrap();
    assert_eq!(d.location().unwrap().file.as_ref(), "b.yaml");
    assert_eq!(at(d), (2, 22), "{d}");
    assert!(e.to_string().starts_with("1 Errors:\nIn rules content: (a.yaml)\n"), "{e}");
}
