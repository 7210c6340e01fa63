//! Append, override, exceptions and list expansion build what Falco builds.
//! Expected conditions are Falco's own (`unit_tests/engine/test_rule_loader.cpp`)
//! where it has a test for the case, printed as Falco prints compiled conditions.

mod common;

use common::{error, ok};
use saker_rules::{Code, ExceptionValue, condition_string};

fn cond(r: &saker_rules::LoadResult, name: &str) -> String {
    condition_string(&r.rule(name).unwrap_or_else(|| panic!("no rule {name}")).condition)
}

const BASE: &str = "- rule: test_rule\n  desc: test rule\n  condition: evt.type = open\n  output: command=%proc.cmdline\n  priority: INFO\n";

#[test]
fn list_append_and_override() {
    let r = ok(
        "- list: shell_binaries\n  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]\n\n- rule: legit_rule\n  desc: legit rule description\n  condition: evt.type=open and proc.name in (shell_binaries)\n  output: user=%user.name command=%proc.cmdline file=%fd.name\n  priority: INFO\n\n- list: shell_binaries\n  items: [pwsh]\n  override:\n    items: append\n",
    );
    assert_eq!(
        cond(&r, "legit_rule"),
        "(evt.type = open and proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash, pwsh))"
    );

    let rule = "- rule: test_rule\n  desc: simple rule\n  condition: evt.type = execve and proc.name in (dev_creation_binaries)\n  output: command=%proc.cmdline\n  priority: INFO\n";
    let r = ok(&format!(
        "- list: dev_creation_binaries\n  items: [blkid]\n- list: dev_creation_binaries\n  items: [\"csi-provisioner\", \"csi-attacher\"]\n  append: true\n{rule}"
    ));
    assert_eq!(cond(&r, "test_rule"), "(evt.type = execve and proc.name in (blkid, csi-provisioner, csi-attacher))");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == Code::DeprecatedItem && w.message.starts_with("'append' key is deprecated"))
    );
    // `replace` (or a plain redefinition) replaces the items.
    let r = ok(&format!(
        "- list: dev_creation_binaries\n  items: [\"csi-provisioner\"]\n  override:\n    items: replace\n- list: dev_creation_binaries\n  items: [blkid]\n{rule}"
    ));
    assert_eq!(cond(&r, "test_rule"), "(evt.type = execve and proc.name in (blkid))");
}

#[test]
fn macro_condition_append() {
    let r = ok(
        "- macro: interactive\n  condition: >\n    ((proc.aname=sshd and proc.name != sshd) or\n    proc.name=systemd-logind or proc.name=login)\n\n- rule: legit_rule\n  desc: legit rule description\n  condition: evt.type=open and interactive\n  output: user=%user.name command=%proc.cmdline file=%fd.name\n  priority: INFO\n\n- macro: interactive\n  condition: or proc.name = ssh\n  override:\n    condition: append\n",
    );
    assert_eq!(
        cond(&r, "legit_rule"),
        "(evt.type = open and (((proc.aname = sshd and proc.name != sshd) or proc.name = systemd-logind or proc.name = login) or proc.name = ssh))"
    );
    let m = r.macros.iter().find(|m| m.name == "interactive").unwrap();
    assert!(m.condition_text.ends_with("proc.name=login)\n or proc.name = ssh"), "{:?}", m.condition_text);

    let r = ok(
        "- macro: open_simple\n  condition: evt.type in (open,openat)\n- macro: open_simple\n  condition: or evt.type = openat2\n  append: true\n- rule: test_rule\n  desc: simple rule\n  condition: open_simple\n  output: command=%proc.cmdline\n  priority: INFO\n",
    );
    assert_eq!(cond(&r, "test_rule"), "(evt.type in (open, openat) or evt.type = openat2)");
    assert_eq!(r.rules[0].event_types.names(), ["open", "openat", "openat2"]);
}

#[test]
fn rule_append_and_override() {
    let r = ok(&format!("{BASE}- rule: test_rule\n  condition: and proc.name = cat\n  append: true\n"));
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and proc.name = cat)");

    let r = ok(&format!(
        "{BASE}- rule: test_rule\n  desc: with append\n  condition: and proc.name = cat\n  output: proc=%proc.name\n  tags: [x]\n  override:\n    desc: append\n    condition: append\n    output: append\n    tags: append\n"
    ));
    let rule = r.rule("test_rule").unwrap();
    assert_eq!(rule.condition_text, "evt.type = open and proc.name = cat");
    assert_eq!(rule.output, "command=%proc.cmdline proc=%proc.name");
    assert_eq!(rule.desc, "test rule with append");
    assert!(rule.tags.contains("x"));

    let r = ok(&format!(
        "{BASE}- rule: test_rule\n  desc: a replaced legit description\n  condition: and proc.name = cat\n  priority: WARNING\n  override:\n    desc: replace\n    condition: append\n    priority: replace\n"
    ));
    let rule = r.rule("test_rule").unwrap();
    assert_eq!(rule.condition_text, "evt.type = open and proc.name = cat");
    assert_eq!(rule.desc, "a replaced legit description");
    assert_eq!(rule.priority.as_str(), "Warning");

    let r =
        ok(&format!("{BASE}- rule: test_rule\n  condition: evt.type = close\n  override:\n    condition: replace\n"));
    assert_eq!(cond(&r, "test_rule"), "evt.type = close");
}

#[test]
fn enabled_is_replaced() {
    let disabled = BASE.replace("priority: INFO", "priority: INFO\n  enabled: false");
    assert!(!ok(&disabled).rules[0].enabled);
    // With override.
    let r = ok(&format!("{disabled}- rule: test_rule\n  enabled: true\n  override:\n    enabled: replace\n"));
    assert!(r.rules[0].enabled);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // The deprecated standalone form.
    let r = ok(&format!("{disabled}- rule: test_rule\n  enabled: true\n"));
    assert!(r.rules[0].enabled);
    assert!(r.warnings.iter().any(|w| w.code == Code::DeprecatedItem && w.message.contains("standalone 'enabled'")));
    // Falco ignores `enabled` next to `append: true`; saker says so.
    let r = ok(&format!(
        "{disabled}- rule: test_rule\n  condition: and proc.name = cat\n  append: true\n  enabled: true\n"
    ));
    assert!(!r.rules[0].enabled);
    assert!(r.warnings.iter().any(|w| w.code == Code::UnknownKey && w.message.contains("'enabled' is ignored")));
    // Missing `enabled` under an `enabled: replace` override.
    let e = error(&format!(
        "{disabled}- rule: test_rule\n  desc: d\n  override:\n    desc: replace\n    enabled: replace\n"
    ));
    assert_eq!(e.message, "An replace override for 'enabled' was specified but 'enabled' is not defined");
}

#[test]
fn exceptions_as_falco_builds_them() {
    // Falco's exceptions_condition test.
    let r = ok(
        "- rule: test_rule\n  desc: test rule\n  condition: proc.cmdline contains curl or proc.cmdline contains wget\n  output: command=%proc.cmdline\n  priority: INFO\n  exceptions:\n    - name: test_exception\n      fields: [proc.cmdline]\n      comps: [contains]\n      values:\n        - [curl 127.0.0.1]\n",
    );
    assert_eq!(
        cond(&r, "test_rule"),
        "((proc.cmdline contains curl or proc.cmdline contains wget) and not proc.cmdline contains \"curl 127.0.0.1\")"
    );
    let rule = &r.rules[0];
    assert_eq!(rule.exceptions[0].comps, ExceptionValue::List(vec![ExceptionValue::Item("contains".into())]));
    assert!(rule.exception_fields.contains("proc.cmdline"));

    let with = |ex: &str| ok(&format!("{BASE}  exceptions:\n{ex}"));
    // Single field: comps defaults to `in`, values with spaces are quoted.
    let r = with("    - name: e\n      fields: proc.name\n      values: [cat, \"my app\"]\n");
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and not proc.name in (cat, \"my app\"))");
    // Several fields: `=` by default; an `or` of the value tuples.
    let r = with(
        "    - name: e\n      fields: [proc.name, fd.name]\n      values:\n        - [cat, /etc/x]\n        - [dog, /etc/y]\n",
    );
    assert_eq!(
        cond(&r, "test_rule"),
        "(evt.type = open and not ((proc.name = cat and fd.name = /etc/x) or (proc.name = dog and fd.name = /etc/y)))"
    );
    // A list value with a list operator, and a list name.
    let r = ok(&format!(
        "- list: shells\n  items: [bash, zsh]\n{BASE}  exceptions:\n    - name: e\n      fields: [proc.name, fd.name, proc.pname]\n      comps: [in, pmatch, in]\n      values:\n        - [[cat, \"a b\"], [/etc, /tmp], shells]\n"
    ));
    assert_eq!(
        cond(&r, "test_rule"),
        "(evt.type = open and not (proc.name in (cat, \"a b\") and fd.name pmatch (/etc, /tmp) and proc.pname in (bash, zsh)))"
    );
    // Transformers on either side, as in Falco's tests.
    let r = with(
        "    - name: e\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [toupper(proc.pname)]\n",
    );
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and not proc.name = toupper(proc.pname))");
    let r =
        with("    - name: e\n      fields: [tolower(proc.name)]\n      comps: [=]\n      values:\n        - [test]\n");
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and not tolower(proc.name) = test)");
    let r = with(
        "    - name: e\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [\"toupper( proc.pname)\"]\n",
    );
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and not proc.name = \"toupper( proc.pname)\")");
    // Strings that read as fields get Falco's warning.
    let r = with(
        "    - name: e\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [\"proc.pname \"]\n",
    );
    assert_eq!(cond(&r, "test_rule"), "(evt.type = open and not proc.name = \"proc.pname \")");
    assert!(r.warnings.iter().any(|w| w.code == Code::CompileCondition
        && w.message == "'proc.pname ' may be a valid field misused as a const string value"));
    let r = with(
        "    - name: e\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [toupper( proc.pname)]\n",
    );
    assert!(r.warnings.iter().any(|w| w.message.contains("may be a valid field transformer misused")));
    // No values: no clause.
    let r = with("    - name: e\n      fields: [proc.name]\n");
    assert_eq!(cond(&r, "test_rule"), "evt.type = open");
    assert_eq!(r.rules[0].event_types.names(), ["open"]);
}

#[test]
fn exceptions_appended_and_replaced() {
    let base = format!(
        "{BASE}  exceptions:\n    - name: test_exception\n      fields: proc.name\n      comps: in\n      values: [\"cat\"]\n"
    );
    // Values appended to an existing exception; a new exception added.
    let r = ok(&format!(
        "{base}- rule: test_rule\n  exceptions:\n    - name: test_exception\n      values: [echo]\n    - name: other\n      fields: [fd.name]\n      comps: [startswith]\n      values: [[/tmp]]\n  override:\n    exceptions: append\n"
    ));
    assert_eq!(
        cond(&r, "test_rule"),
        "(evt.type = open and not proc.name in (cat, echo) and not fd.name startswith /tmp)"
    );
    assert_eq!(r.rules[0].exceptions.len(), 2);
    // Replacing needs complete definitions.
    let e = error(&format!(
        "{base}- rule: test_rule\n  exceptions:\n    - name: test_exception\n      values: [id]\n  override:\n    exceptions: replace\n"
    ));
    assert_eq!(e.message, "Item has no mapping for key 'fields'");
    // Fields cannot be appended to an existing exception.
    let e = error(&format!(
        "{base}- rule: test_rule\n  exceptions:\n    - name: test_exception\n      fields: fd.name\n      values: [x]\n  append: true\n"
    ));
    assert_eq!(e.message, "Can not append exception fields to existing exception, only values");
    // An appended exception without values: a warning.
    let r = ok(&format!(
        "{base}- rule: test_rule\n  exceptions:\n    - name: test_exception\n  override:\n    exceptions: append\n"
    ));
    assert!(r.warnings.iter().any(|w| w.code == Code::AppendNoValues));
}

#[test]
fn exception_errors() {
    let with = |ex: &str| error(&format!("{BASE}  exceptions:\n{ex}"));
    let e = with("    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n      values: [[a, b]]\n");
    assert_eq!(e.message, "Fields and comps lists must have equal length");
    assert_eq!(e.location().unwrap().line, 7);
    let e = with("    - name: e\n      fields: [proc.name]\n      comps: [~=]\n      values: [[a]]\n");
    assert_eq!(e.message, "'~=' is not a supported comparison operator");
    let e = with("    - name: e\n      fields: proc.name\n      comps: =\n      values: [a]\n");
    assert_eq!(e.message, "When fields is a single value, comps must be one of (in, pmatch, intersects)");
    let e = with("    - name: e\n      fields: [proc.name, fd.name]\n      values: [[a]]\n");
    assert_eq!(e.message, "Fields and values lists must have equal length");
    let e = with("    - name: e\n      fields: proc.name\n      values: [[a]]\n");
    assert_eq!(e.message, "Expected values array to contain a list of strings");
    let r = ok(&format!(
        "{BASE}  exceptions:\n    - name: e\n      fields: proc.name\n      values: [a]\n    - name: e\n      fields: fd.name\n      values: [b]\n"
    ));
    assert!(r.warnings.iter().any(|w| w.code == Code::ExceptionNameNotUnique));
}

#[test]
fn lists_nested_and_quoted() {
    let r = ok(
        "- list: a\n  items: [x, \"y z\"]\n- list: b\n  items: [a, w]\n- list: c\n  items: [b, '\"b\"', \"'q r'\", later]\n- list: later\n  items: [l1]\n- rule: R\n  desc: d\n  condition: evt.type = open and proc.name in (c, \"a\", v)\n  output: o\n  priority: INFO\n",
    );
    // `a` in quotes stays a string; `'"b"'` is the quoted string `b`, not the list.
    assert_eq!(cond(&r, "R"), "(evt.type = open and proc.name in (x, \"y z\", w, b, \"q r\", l1, a, v))");
    let c = r.lists.iter().find(|l| l.name == "c").unwrap();
    assert_eq!(c.items, ["x", "y z", "w", "b", "q r", "l1"]);
    assert!(r.lists.iter().all(|l| l.used));

    // Falco's list_value_with_escaping test: the quoted item is not a list reference.
    let r = ok("- list: my_list\n  items: [non_escaped_val, \"escaped val\"]\n");
    assert_eq!(r.lists[0].items, ["non_escaped_val", "escaped val"]);
    assert!(r.warnings.iter().any(|w| w.code == Code::UnusedList));

    // An empty list.
    let r = ok(
        "- list: none\n  items: []\n- rule: R\n  desc: d\n  condition: evt.type = open and not proc.name in (none)\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(cond(&r, "R"), "(evt.type = open and not proc.name in ())");
}

#[test]
fn list_names_as_single_values() {
    let rule = |c: &str| {
        format!(
            "- list: one\n  items: [bash]\n- list: two\n  items: [a, b]\n- rule: R\n  desc: d\n  condition: {c}\n  output: o\n  priority: INFO\n"
        )
    };
    // Falco substitutes list names as text: a one-item list works as a value.
    assert_eq!(cond(&ok(&rule("evt.type = open and proc.name = one")), "R"), "(evt.type = open and proc.name = bash)");
    let e = error(&format!(
        "{}- rule: S\n  desc: d\n  condition: evt.type = open and proc.name in (two)\n  output: o\n  priority: INFO\n",
        rule("evt.type = open and proc.name = two")
    ));
    assert!(e.message.starts_with("'two' is a list of 2 items, used as a single value"), "{e}");
    assert_eq!(e.location().unwrap().line, 7);
}

#[test]
fn several_documents_in_a_file() {
    let r =
        ok(&format!("---\n{BASE}...\n---\n- rule: test_rule\n  enabled: false\n  override:\n    enabled: replace\n"));
    assert!(!r.rules[0].enabled);
}

#[test]
fn unused_items_and_event_type_warnings() {
    let r = ok(
        "- macro: m\n  condition: proc.name = x\n- list: l\n  items: [a]\n- rule: R\n  desc: d\n  condition: proc.name = y\n  output: o\n  priority: INFO\n",
    );
    let codes: Vec<Code> = r.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, [Code::NoEvttype, Code::UnusedMacro, Code::UnusedList], "{:#?}", r.warnings);
    assert!(r.warnings[0].message.starts_with("Rule matches too many evt.type values"));
    assert!(r.rules[0].event_types.is_all());
    let r =
        ok("- rule: R\n  desc: d\n  condition: proc.name = y\n  output: o\n  priority: INFO\n  warn_evttypes: false\n");
    assert!(r.warnings.is_empty());
    let r = ok(
        "- rule: R\n  desc: d\n  condition: evt.type in (open, close) and not evt.type = close\n  output: o\n  priority: INFO\n",
    );
    assert_eq!(r.rules[0].event_types.names(), ["open"]);
}

#[test]
fn later_files_override_earlier_ones() {
    let a = "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)\n- rule: R\n  desc: d\n  condition: evt.type = open and m\n  output: o %proc.name\n  priority: INFO\n";
    let b = "- list: l\n  items: [b]\n  override:\n    items: append\n- rule: R\n  enabled: false\n  override:\n    enabled: replace\n";
    let r = common::load(&[("a.yaml", a), ("b.yaml", b)]).unwrap();
    assert_eq!(cond(&r, "R"), "(evt.type = open and proc.name in (a, b))");
    assert!(!r.rules[0].enabled);
    assert_eq!(r.rules[0].location.file.as_ref(), "a.yaml");
    // Every node of the expanded condition leads back to its file.
    let saker_filter::Expr::And(v, _) = &r.rules[0].condition else { panic!() };
    let loc = r.locate(v[1].pos()).unwrap();
    assert_eq!((loc.file.as_ref(), loc.line, loc.column), ("a.yaml", 4, 14));
    let d = r.diagnostic_at(v[1].pos(), Code::ErrCompileCondition, "bad");
    assert_eq!(d.item(), Some((saker_rules::ItemType::Macro, "m")));
}
