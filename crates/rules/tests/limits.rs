//! Hostile rules files end in located errors, not in exhausted memory or
//! time: doubling macro and list chains, YAML alias bombs, huge tokens,
//! conditions of tens of thousands of terms.

mod common;

use std::sync::Arc;

use common::{errors, load_one};
use saker_filter::Expr;
use saker_rules::Code;

#[test]
fn doubling_macro_chain_is_refused_naming_the_macro() {
    let mut s = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..=40 {
        s.push_str(&format!("- macro: m{i}\n  condition: m{} or m{}\n", i - 1, i - 1));
    }
    s.push_str("- rule: r\n  desc: d\n  condition: m40\n  output: \"%proc.name\"\n  priority: WARNING\n");
    let t = std::time::Instant::now();
    let e = errors(&s);
    // Macros are shared, so sizing 40 levels is 40 steps (its bound keeps evaluation bounded).
    assert!(t.elapsed().as_millis() < 500, "took {:?}", t.elapsed());
    // One error, at the use that crosses the bound, naming the macro used there.
    let big: Vec<_> = e.iter().filter(|d| d.message.contains("larger than 100000 nodes")).collect();
    assert_eq!(big.len(), 1, "{e:#?}");
    let d = big[0];
    assert_eq!(d.code, Code::ErrValidate);
    // m15 has 2^16 - 1 nodes: m16 cannot use it twice; the error is at
    // the second use of m15 in m16's condition.
    assert!(d.message.starts_with("Macro 'm15' (65535 nodes once expanded)"), "{d}");
    let l = d.location().expect("located");
    assert_eq!((l.line, l.column), (2 * 16 + 2, 21), "{d}");
    assert!(d.to_string().contains("macro 'm16': (rules.yaml:33:3)"), "{d}");
}

#[test]
fn a_macro_used_many_times_is_bounded_too() {
    // Each use counts the whole macro: 60 uses of an 8k-node macro would be 490k nodes.
    let mut s = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..=12 {
        s.push_str(&format!("- macro: m{i}\n  condition: m{} or m{}\n", i - 1, i - 1));
    }
    let uses: Vec<&str> = (0..60).map(|_| "m12").collect();
    s.push_str(&format!(
        "- rule: r\n  desc: d\n  condition: {}\n  output: \"%proc.name\"\n  priority: WARNING\n",
        uses.join(" and ")
    ));
    let e = errors(&s);
    assert!(e.iter().any(|d| d.message.starts_with("Macro 'm12' (8191 nodes once expanded)")), "{e:#?}");
}

#[test]
fn a_macro_is_one_body_shared_by_every_use() {
    // `outer` uses `inner` twice; each of 50 rules uses `outer` three times.
    let mut s = String::from(
        "- macro: inner\n  condition: proc.name = cat\n- macro: outer\n  condition: evt.type = open and (inner or not inner)\n",
    );
    for i in 0..50 {
        s.push_str(&format!(
            "- rule: r{i}\n  desc: d\n  condition: outer and proc.pid != {i} and (outer or not outer)\n  output: \"%proc.name\"\n  priority: WARNING\n"
        ));
    }
    let r = load_one(&s).unwrap_or_else(|e| panic!("{e}"));
    let mut uses: Vec<(String, Arc<Expr>)> = Vec::new();
    for rule in &r.rules {
        rule.condition.visit(&mut |e| {
            if let Expr::Macro { name, body, .. } = e {
                uses.push((name.clone(), Arc::clone(body)));
            }
        });
    }
    // Each rule's walk meets its three uses of `outer`, and the body of `outer` (with its two uses of `inner`) once.
    assert_eq!(uses.len(), 50 * (3 + 2));
    let outer = &uses.iter().find(|(n, _)| n == "outer").unwrap().1;
    let inner = &uses.iter().find(|(n, _)| n == "inner").unwrap().1;
    for (name, body) in &uses {
        assert!(Arc::ptr_eq(body, if name == "outer" { outer } else { inner }), "{name} copied");
    }
    // Printed expanded, as Falco prints it.
    assert_eq!(
        saker_rules::condition_string(&r.rules[0].condition),
        "((evt.type = open and (proc.name = cat or not proc.name = cat)) and proc.pid != 0 and \
         ((evt.type = open and (proc.name = cat or not proc.name = cat)) or not (evt.type = open and (proc.name = cat or not proc.name = cat))))"
    );
    assert_eq!(r.rules[0].event_types.names(), ["open"]);
}

#[test]
fn doubling_list_chain_is_refused_naming_the_list() {
    let mut s = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..=40 {
        s.push_str(&format!("- list: l{i}\n  items: [l{}, l{}]\n", i - 1, i - 1));
    }
    s.push_str(
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (l40)\n  output: \"%proc.name\"\n  priority: WARNING\n",
    );
    let e = errors(&s);
    // One error: the lists built on the first one too large are broken without errors of their own.
    let big: Vec<_> = e.iter().filter(|d| d.message.contains("expands to more than 100000 items")).collect();
    assert_eq!(big.len(), 1, "{e:#?}");
    let d = big[0];
    // l16 has 2^17 items: the first list too large, at its second item.
    assert!(d.message.starts_with("List 'l16' "), "{d}");
    assert_eq!(d.location().map(|l| l.line), Some(2 * 16 + 2), "{d}");
}

#[test]
fn billion_laughs_is_refused_at_the_alias() {
    let mut s = String::from("- list: lol\n  items: &a0 [lol]\n");
    for i in 1..=9 {
        let refs: Vec<String> = (0..10).map(|_| format!("*a{}", i - 1)).collect();
        s.push_str(&format!("- list: lol{i}\n  items: &a{i} [{}]\n", refs.join(", ")));
    }
    let t = std::time::Instant::now();
    let e = errors(&s);
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    assert_eq!(e[0].code, Code::ErrYamlParse, "{e:#?}");
    assert!(e[0].message.contains("aliases expand to more than 16 MiB"), "{}", e[0]);
    assert!(e[0].location().is_some_and(|l| l.line > 1), "{}", e[0]);
}

#[test]
fn a_few_aliases_are_fine() {
    let s = "- list: a\n  items: &x [bash, sh]\n- list: b\n  items: *x\n- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (a, b)\n  output: \"%proc.name\"\n  priority: WARNING\n";
    let r = load_one(s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.lists.iter().find(|l| l.name == "b").unwrap().items, ["bash", "sh"]);
}

#[test]
fn long_output_tokens_give_one_short_error() {
    let s = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"x %{} y\"\n  priority: WARNING\n",
        "a.".repeat(100_000)
    );
    let e = errors(&s);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].message.contains("too long for a field name"), "{}", e[0]);
    assert!(e[0].message.len() < 200, "{}", e[0].message);
    assert_eq!(e[0].location().map(|l| (l.line, l.column)), Some((4, 15)), "{}", e[0]);

    let s = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"ok {}\"\n  priority: WARNING\n",
        "%".repeat(200_000)
    );
    let e = errors(&s);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].code, Code::ErrCompileOutput);
}

#[test]
fn large_conditions_load() {
    // 20k-term and-chain and 20k-item inline list: accepted, and quickly (linear parsing).
    let chain: Vec<String> = (0..20_000).map(|i| format!("proc.name != p{i}")).collect();
    let items: Vec<String> = (0..20_000).map(|i| format!("p{i}")).collect();
    let s = format!(
        "- rule: a\n  desc: d\n  condition: evt.type = open and {}\n  output: \"%proc.name\"\n  priority: WARNING\n\
         - rule: b\n  desc: d\n  condition: evt.type = open and proc.name in ({})\n  output: \"%proc.name\"\n  priority: WARNING\n",
        chain.join(" and "),
        items.join(", ")
    );
    let r = load_one(&s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.rules.len(), 2);
    // An error at the end of a long one-line condition is still located.
    let s = format!(
        "- rule: a\n  desc: d\n  condition: evt.type = open and {} and\n  output: \"%proc.name\"\n  priority: WARNING\n",
        chain.join(" and ")
    );
    let e = errors(&s);
    assert_eq!(e[0].code, Code::ErrCompileCondition, "{}", e[0]);
    assert_eq!(e[0].location().map(|l| l.line), Some(3), "{}", e[0]);
}

#[test]
fn a_block_scalar_ending_the_file_without_a_line_break_loads() {
    // libyaml-safer panicked on these (found by the rules fuzz target).
    let r = load_one("- macro: m\n  condition: >\n    evt.type = open and\n    proc.name = x\n- rule: r\n  desc: d\n  condition: m\n  priority: WARNING\n  output: >\n    opened by %proc.name")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.rules.len(), 1);
    let e = errors("- macro: m\n  condition: >\n    (evt.type = open and");
    assert!(e.iter().any(|d| d.code == Code::ErrCompileCondition), "{e:#?}");
    assert!(e.iter().all(|d| d.location().is_some()), "{e:#?}");
}

#[test]
fn a_yaml_parser_panic_is_an_error() {
    // libyaml-safer 0.3 panics ("TODO: What is expected here?") on this tag
    // in a flow sequence (found by the rules fuzz target): a YAML error, not a crash.
    let e = errors("- list: l\n  items: [a, !tag, b]\n");
    assert_eq!(e[0].code, Code::ErrYamlParse, "{e:#?}");
    // At the last place the parser reached, on the line of the tag.
    assert_eq!(e[0].location().map(|l| l.line), Some(2), "{}", e[0]);
}

#[test]
fn problems_of_one_rule_are_capped() {
    // 30,000 unknown fields on one line: 20 errors, the last saying how many more.
    let chain: Vec<String> = (0..30_000).map(|i| format!("nofield.x{i} = 1")).collect();
    let s = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open and {}\n  output: \"%proc.name\"\n  priority: WARNING\n",
        chain.join(" and ")
    );
    let e = errors(&s);
    assert_eq!(e.len(), 20, "{}", e.len());
    assert!(e[19].message.ends_with("(and 29980 more problems in this rule, not shown)"), "{}", e[19].message);
}
