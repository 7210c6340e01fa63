//! From YAML items to the collected definitions of lists, macros and rules,
//! with Falco's rules for defining, appending, overriding and enabling
//! (`rule_loader_reader.cpp` and `rule_loader_collector.cpp`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::diag::{Code, Context, Diagnostic, ItemType};
use crate::model::{ENGINE_VERSION, PluginRequirement, Priority, SYSCALL_SOURCE};
use crate::source::{FileId, Files, Text};
use crate::yaml::{self, Kind, Node};

const WARNING_APPEND: &str =
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";
const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "append",
    "override",
    "capture",
    "capture_duration",
    "capture_events",
    "capture_filesize",
];
const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "capture_events",
    "capture_filesize",
];
const EXCEPTION_KEYS: &[&str] = &["name", "fields", "comps", "values"];
const PLUGIN_KEYS: &[&str] = &["name", "version", "alternatives"];
const ALTERNATIVE_KEYS: &[&str] = &["name", "version"];

/// A scalar of a file.
#[derive(Clone, Debug)]
pub(crate) struct Scalar {
    pub file: FileId,
    pub node: Node,
}

impl Scalar {
    pub fn value(&self) -> &str {
        self.node.scalar().unwrap_or_default()
    }
}

/// A place in a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    pub file: FileId,
    pub offset: usize,
}

/// A string or a list in an exception.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Item(Scalar),
    List(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub(crate) struct ExInfo {
    pub name: String,
    pub at: At,
    pub fields: Option<Entry>,
    pub comps: Option<Entry>,
    pub values: Vec<Entry>,
}

pub(crate) struct ListInfo {
    pub name: String,
    pub items: Vec<Scalar>,
    pub at: At,
    pub index: u32,
    pub visibility: u32,
}

pub(crate) struct MacroInfo {
    pub name: String,
    pub cond: Text,
    pub at: At,
    pub index: u32,
    pub visibility: u32,
}

#[derive(Clone)]
pub(crate) struct RuleInfo {
    pub name: String,
    pub at: At,
    pub index: u32,
    pub desc: String,
    pub cond: Text,
    pub output: Text,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExInfo>,
    pub unknown_source: bool,
    pub capture: bool,
    pub capture_limits: [Option<u64>; 3],
}

/// Definitions in the order they were first defined, by name.
pub(crate) struct Defs<T> {
    pub items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Defs<T> {
    fn default() -> Self {
        Defs { items: Vec::new(), by_name: HashMap::new() }
    }
}

impl<T> Defs<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Replaces a definition in place, or adds it at the end.
    fn define(&mut self, name: &str, v: T) {
        match self.by_name.get(name) {
            Some(&i) => self.items[i] = v,
            None => {
                self.by_name.insert(name.to_string(), self.items.len());
                self.items.push(v);
            }
        }
    }
}

/// What every file of a load defines, merged in load order.
#[derive(Default)]
pub(crate) struct Collector {
    counter: u32,
    pub lists: Defs<ListInfo>,
    pub macros: Defs<MacroInfo>,
    pub rules: Defs<RuleInfo>,
    /// Names of items that had errors: references to them do not add errors.
    pub broken: HashSet<(ItemType, String)>,
    pub required_engine_version: Option<(u32, u32, u32)>,
    pub plugins: Vec<PluginRequirement>,
}

impl Collector {
    fn next_id(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }
}

/// Marker for "this item is wrong, an error was recorded".
struct Bad;

type R<T> = Result<T, Bad>;

/// Reads one file into the collector.
pub(crate) struct Reader<'a> {
    pub files: &'a Files,
    pub col: &'a mut Collector,
    pub diags: &'a mut Vec<Diagnostic>,
    pub file: FileId,
}

impl Reader<'_> {
    fn push(&mut self, code: Code, message: impl Into<String>, context: Vec<Context>, at: Option<usize>) {
        let snippet = at.map(|o| self.files.get(self.file).snippet(o));
        self.diags.push(Diagnostic { severity: code.severity(), code, message: message.into(), context, snippet });
    }

    /// Records an error and returns the marker for `?`.
    fn fail<T>(&mut self, code: Code, message: impl Into<String>, context: Vec<Context>, at: usize) -> R<T> {
        self.push(code, message, context, Some(at));
        Err(Bad)
    }

    fn ctx(&self, parent: &[Context], item: ItemType, name: Option<&str>, offset: usize) -> Vec<Context> {
        let mut v = parent.to_vec();
        v.push(self.files.step(self.file, item, name, offset));
        v
    }

    pub fn read(&mut self) {
        let text = &self.files.get(self.file).text;
        let root = vec![self.files.root(self.file)];
        let docs = match yaml::parse(text) {
            Ok(d) => d,
            Err(e) => {
                let ctx = self.ctx(&root, ItemType::ValueFor, None, e.offset);
                self.push(Code::ErrYamlParse, e.message, ctx, Some(e.offset));
                return;
            }
        };
        for doc in docs.into_iter().flatten() {
            if doc.is_null() {
                continue;
            }
            let Kind::Seq(items) = &doc.kind else {
                let msg = match doc.kind {
                    Kind::Map(_) => "Rules content is not yaml array of objects",
                    _ => "Rules content is not yaml",
                };
                self.push(Code::ErrYamlValidate, msg, root.clone(), Some(doc.start));
                continue;
            };
            for item in items {
                if !item.is_null() {
                    let _ = self.read_item(item, &root);
                }
            }
        }
    }

    /// Keys must be unique strings, and known for the item's kind.
    fn check_keys(&mut self, item: &Node, allowed: &[&str], ctx: &[Context], what: &str) -> R<()> {
        let Kind::Map(entries) = &item.kind else { return Ok(()) };
        let mut seen = HashSet::new();
        let mut ok = true;
        for (k, _) in entries {
            let Some(key) = k.scalar() else {
                let c = self.ctx(ctx, ItemType::ValueFor, None, k.start);
                self.push(Code::ErrYamlValidate, "Keys must be strings", c, Some(k.start));
                ok = false;
                continue;
            };
            if !seen.insert(key) {
                let c = self.ctx(ctx, ItemType::ValueFor, Some(key), k.start);
                self.push(Code::ErrYamlValidate, format!("Duplicate key '{key}'"), c, Some(k.start));
                ok = false;
            } else if !allowed.contains(&key) {
                let c = self.ctx(ctx, ItemType::ValueFor, Some(key), k.start);
                let mut msg = format!("Unknown key '{key}' in {what}. Valid keys are: {}", allowed.join(", "));
                if let Some(s) = suggest(key, allowed) {
                    msg = format!(
                        "Unknown key '{key}' in {what} (did you mean '{s}'?). Valid keys are: {}",
                        allowed.join(", ")
                    );
                }
                self.push(Code::ErrYamlValidate, msg, c, Some(k.start));
                ok = false;
            }
        }
        if ok { Ok(()) } else { Err(Bad) }
    }

    /// Keys valid for the kind but not read in this form of item: Falco ignores them.
    fn warn_ignored(&mut self, item: &Node, used: &[&str], ctx: &[Context], form: &str) {
        let Kind::Map(entries) = &item.kind else { return };
        for (k, _) in entries {
            if let Some(key) = k.scalar()
                && !used.contains(&key)
            {
                let c = self.ctx(ctx, ItemType::ValueFor, Some(key), k.start);
                self.push(Code::UnknownKey, format!("Key '{key}' is ignored in {form}"), c, Some(k.start));
            }
        }
    }

    /// A required, non-empty scalar.
    fn req_str<'n>(&mut self, item: &'n Node, key: &str, ctx: &[Context]) -> R<(String, &'n Node)> {
        match self.opt_str(item, key, ctx)? {
            Some(v) => Ok(v),
            None => self.fail(
                Code::ErrYamlValidate,
                format!("Item has no mapping for key '{key}'"),
                ctx.to_vec(),
                item.start,
            ),
        }
    }

    fn opt_str<'n>(&mut self, item: &'n Node, key: &str, ctx: &[Context]) -> R<Option<(String, &'n Node)>> {
        let Some(v) = item.get(key) else { return Ok(None) };
        if v.is_null() {
            return self.fail(
                Code::ErrYamlValidate,
                format!("Mapping for key '{key}' is empty"),
                ctx.to_vec(),
                item.key_node(key).map_or(item.start, |k| k.start),
            );
        }
        let vctx = self.ctx(ctx, ItemType::ValueFor, Some(key), v.start);
        match v.scalar() {
            None => self.fail(Code::ErrYamlValidate, "Value is not a scalar value", vctx, v.start),
            Some("") => self.fail(Code::ErrYamlValidate, "Value must be non-empty", vctx, v.start),
            Some(s) => Ok(Some((s.to_string(), v))),
        }
    }

    fn opt_bool(&mut self, item: &Node, key: &str, ctx: &[Context]) -> R<Option<bool>> {
        let Some((s, v)) = self.opt_str(item, key, ctx)? else { return Ok(None) };
        match parse_bool(&s) {
            Some(b) => Ok(Some(b)),
            None => {
                let vctx = self.ctx(ctx, ItemType::ValueFor, Some(key), v.start);
                self.fail(
                    Code::ErrYamlValidate,
                    format!("Can't decode YAML scalar value: '{s}' is not a boolean (expected true or false)"),
                    vctx,
                    v.start,
                )
            }
        }
    }

    fn opt_u64(&mut self, item: &Node, key: &str, ctx: &[Context]) -> R<Option<u64>> {
        let Some((s, v)) = self.opt_str(item, key, ctx)? else { return Ok(None) };
        match s.parse() {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                let vctx = self.ctx(ctx, ItemType::ValueFor, Some(key), v.start);
                self.fail(
                    Code::ErrYamlValidate,
                    format!("Can't decode YAML scalar value: '{s}' is not a non-negative integer"),
                    vctx,
                    v.start,
                )
            }
        }
    }

    /// A sequence of scalars (`items`, `tags`).
    fn seq(&mut self, item: &Node, key: &str, ctx: &[Context]) -> R<Option<Vec<Scalar>>> {
        let Some(v) = item.get(key) else { return Ok(None) };
        let vctx = self.ctx(ctx, ItemType::ValueFor, Some(key), v.start);
        let Kind::Seq(elems) = &v.kind else {
            return self.fail(Code::ErrYamlValidate, "Value is not a sequence", vctx, v.start);
        };
        let mut out = Vec::new();
        for e in elems {
            if e.scalar().is_none() {
                let c = self.ctx(&vctx, ItemType::ListItem, None, e.start);
                return self.fail(Code::ErrYamlValidate, "sequence value is not scalar", c, e.start);
            }
            out.push(Scalar { file: self.file, node: e.clone() });
        }
        Ok(Some(out))
    }

    fn read_item(&mut self, item: &Node, root: &[Context]) -> R<()> {
        if !matches!(item.kind, Kind::Map(_)) {
            let c = self.ctx(root, ItemType::RulesContentItem, None, item.start);
            return self.fail(
                Code::ErrYamlValidate,
                "Unexpected element type. Each element should be a yaml associative array.",
                c,
                item.start,
            );
        }
        if item.get("required_engine_version").is_some() {
            self.read_engine_version(item, root)
        } else if item.get("required_plugin_versions").is_some() {
            self.read_plugin_versions(item, root)
        } else if item.get("list").is_some() {
            self.read_list(item, root)
        } else if item.get("macro").is_some() {
            self.read_macro(item, root)
        } else if item.get("rule").is_some() {
            self.read_rule(item, root)
        } else {
            let c = self.ctx(root, ItemType::RulesContentItem, None, item.start);
            let keys: Vec<&str> = match &item.kind {
                Kind::Map(e) => e.iter().filter_map(|(k, _)| k.scalar()).collect(),
                _ => Vec::new(),
            };
            self.push(
                Code::UnknownItem,
                format!(
                    "Unknown top level item (keys: {}); expected one of rule, macro, list, required_engine_version, required_plugin_versions",
                    keys.join(", ")
                ),
                c,
                Some(item.start),
            );
            Ok(())
        }
    }

    fn read_engine_version(&mut self, item: &Node, root: &[Context]) -> R<()> {
        let ctx = self.ctx(root, ItemType::RequiredEngineVersion, None, item.start);
        self.check_keys(item, &["required_engine_version"], &ctx, "a required_engine_version item")?;
        let (s, v) = self.req_str(item, "required_engine_version", &ctx)?;
        let version = if let Ok(minor) = s.parse::<u32>() {
            // A legacy number is the minor version.
            (ENGINE_VERSION.0, minor, ENGINE_VERSION.2)
        } else {
            match parse_semver(&s) {
                Some(v) => v,
                None => {
                    return self.fail(
                        Code::ErrYamlValidate,
                        format!(
                            "Unable to parse engine version '{s}' as a semver string. Expected \"x.y.z\" semver format."
                        ),
                        ctx,
                        v.start,
                    );
                }
            }
        };
        let e = ENGINE_VERSION;
        if version.0 != e.0 || version > e {
            let f = |v: (u32, u32, u32)| format!("{}.{}.{}", v.0, v.1, v.2);
            return self.fail(
                Code::ErrValidate,
                format!("Rules require engine version {}, but engine version is {}", f(version), f(e)),
                ctx,
                v.start,
            );
        }
        if self.col.required_engine_version.is_none_or(|r| r < version) {
            self.col.required_engine_version = Some(version);
        }
        Ok(())
    }

    fn read_plugin_versions(&mut self, item: &Node, root: &[Context]) -> R<()> {
        let v = item.get("required_plugin_versions").expect("checked");
        let ctx = self.ctx(root, ItemType::RequiredPluginVersions, None, v.start);
        self.check_keys(item, &["required_plugin_versions"], &ctx, "a required_plugin_versions item")?;
        let Kind::Seq(entries) = &v.kind else {
            return self.fail(
                Code::ErrYamlValidate,
                "Value of required_plugin_versions must be a sequence",
                ctx,
                v.start,
            );
        };
        for p in entries {
            let tmp = self.ctx(&ctx, ItemType::RequiredPluginVersionsEntry, None, p.start);
            if !matches!(p.kind, Kind::Map(_)) {
                return self.fail(Code::ErrYamlValidate, "Plugin version must be a mapping", tmp, p.start);
            }
            self.check_keys(p, PLUGIN_KEYS, &tmp, "a plugin requirement")?;
            let (name, _) = self.req_str(p, "name", &tmp)?;
            let pctx = self.ctx(&ctx, ItemType::RequiredPluginVersionsEntry, Some(&name), p.start);
            let (version, _) = self.req_str(p, "version", &pctx)?;
            let mut alternatives = vec![(name, version)];
            if let Some(alts) = p.get("alternatives") {
                let Kind::Seq(alts) = &alts.kind else {
                    return self.fail(
                        Code::ErrYamlValidate,
                        "Value of plugin version alternatives must be a sequence",
                        pctx,
                        alts.start,
                    );
                };
                for a in alts {
                    let tmp = self.ctx(&pctx, ItemType::RequiredPluginVersionsAlternative, None, a.start);
                    if !matches!(a.kind, Kind::Map(_)) {
                        return self.fail(
                            Code::ErrYamlValidate,
                            "Plugin version alternative must be a mapping",
                            tmp,
                            a.start,
                        );
                    }
                    self.check_keys(a, ALTERNATIVE_KEYS, &tmp, "a plugin requirement alternative")?;
                    let (n, _) = self.req_str(a, "name", &tmp)?;
                    let actx = self.ctx(&pctx, ItemType::RequiredPluginVersionsAlternative, Some(&n), a.start);
                    let (ver, _) = self.req_str(a, "version", &actx)?;
                    alternatives.push((n, ver));
                }
            }
            let mut names = HashSet::new();
            for (n, ver) in &alternatives {
                if parse_semver(ver).is_none() {
                    return self.fail(
                        Code::ErrValidate,
                        format!("Invalid required version '{ver}' for plugin '{n}'"),
                        pctx,
                        p.start,
                    );
                }
                if !names.insert(n.clone()) {
                    return self.fail(
                        Code::ErrValidate,
                        format!("Defined multiple alternative version requirements for plugin '{n}'"),
                        pctx,
                        p.start,
                    );
                }
            }
            // saker provides the container plugin's fields itself.
            let satisfied = alternatives.iter().any(|(n, _)| n == "container");
            if !satisfied {
                let list: Vec<String> = alternatives.iter().map(|(n, v)| format!("{n} {v}")).collect();
                self.push(
                    Code::PluginUnavailable,
                    format!(
                        "Rules require plugin {} which saker does not provide: rules using its fields or event sources will fail or be skipped",
                        list.join(" or ")
                    ),
                    pctx.clone(),
                    Some(p.start),
                );
            }
            self.col.plugins.push(PluginRequirement { alternatives, satisfied });
        }
        Ok(())
    }

    /// `override:` entries, checked against what the item kind allows.
    fn overrides(
        &mut self,
        item: &Node,
        appendable: &[&str],
        replaceable: &[&str],
        ctx: &[Context],
    ) -> R<(Vec<String>, Vec<String>)> {
        let (mut append, mut replace) = (Vec::new(), Vec::new());
        let Some(v) = item.get("override") else { return Ok((append, replace)) };
        let octx = self.ctx(ctx, ItemType::Overrides, None, v.start);
        let Kind::Map(entries) = &v.kind else {
            return self.fail(Code::ErrYamlValidate, "Value of override must be a mapping", octx, v.start);
        };
        for (k, op) in entries {
            let key = k.scalar().unwrap_or_default().to_string();
            let op_s = op.scalar().unwrap_or_default();
            let kctx = self.ctx(ctx, ItemType::Overrides, Some(&key), k.start);
            let (can_append, can_replace) = (appendable.contains(&key.as_str()), replaceable.contains(&key.as_str()));
            match op_s {
                "append" if !can_append => {
                    let msg = if can_replace {
                        format!("Key '{key}' cannot be appended to, use 'replace' instead")
                    } else {
                        format!("Key '{key}' cannot be appended to")
                    };
                    return self.fail(Code::ErrYamlValidate, msg, kctx, k.start);
                }
                "append" => append.push(key),
                "replace" if !can_replace => {
                    return self.fail(Code::ErrYamlValidate, format!("Key '{key}' cannot be replaced"), kctx, k.start);
                }
                "replace" => replace.push(key),
                other => {
                    let mut allowed = Vec::new();
                    if can_append {
                        allowed.push("append");
                    }
                    if can_replace {
                        allowed.push("replace");
                    }
                    let c = self.ctx(&octx, ItemType::ValueFor, Some(&key), op.start);
                    return self.fail(
                        Code::ErrYamlValidate,
                        format!(
                            "Invalid override operation for key '{key}': '{other}'. Allowed values are: {}",
                            if allowed.is_empty() { "none".to_string() } else { allowed.join(" ") }
                        ),
                        c,
                        op.start,
                    );
                }
            }
        }
        Ok((append, replace))
    }

    /// `append: true`, with the deprecation warning.
    fn append_flag(&mut self, item: &Node, ctx: &[Context]) -> R<bool> {
        let append = self.opt_bool(item, "append", ctx)?.unwrap_or(false);
        if append {
            let at = item.key_node("append").map_or(item.start, |k| k.start);
            self.push(Code::DeprecatedItem, WARNING_APPEND, ctx.to_vec(), Some(at));
        }
        Ok(append)
    }

    fn read_list(&mut self, item: &Node, root: &[Context]) -> R<()> {
        let tmp = self.ctx(root, ItemType::List, None, item.start);
        let (name, _) = self.req_str(item, "list", &tmp)?;
        let ctx = self.ctx(root, ItemType::List, Some(&name), item.start);
        let r = self.read_list_body(item, &name, &ctx);
        if r.is_err() {
            self.col.broken.insert((ItemType::List, name));
        }
        r
    }

    fn read_list_body(&mut self, item: &Node, name: &str, ctx: &[Context]) -> R<()> {
        self.check_keys(item, LIST_KEYS, ctx, "a list")?;
        if !is_bare_string(name) {
            self.push(
                Code::InvalidListName,
                "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)",
                ctx.to_vec(),
                Some(item.start),
            );
        }
        let Some(items) = self.seq(item, "items", ctx)? else {
            return self.fail(Code::ErrYamlValidate, "Item has no mapping for key 'items'", ctx.to_vec(), item.start);
        };
        let append = self.append_flag(item, ctx)?;
        let (oa, or) = self.overrides(item, &["items"], &["items"], ctx)?;
        if append && !(oa.is_empty() && or.is_empty()) {
            return self.fail(Code::ErrYamlValidate, ERROR_OVERRIDE_APPEND, ctx.to_vec(), item.start);
        }
        let at = At { file: self.file, offset: item.start };
        if append || !oa.is_empty() {
            let id = self.col.next_id();
            match self.col.lists.get_mut(name) {
                Some(prev) => {
                    prev.items.extend(items);
                    prev.visibility = id;
                }
                None if self.col.broken.contains(&(ItemType::List, name.to_string())) => return Err(Bad),
                None => return self.fail(Code::ErrValidate, ERROR_NO_PREVIOUS_LIST, ctx.to_vec(), item.start),
            }
        } else {
            let id = self.col.next_id();
            let index = self.col.lists.get(name).map_or(id, |p| p.index);
            self.col.lists.define(name, ListInfo { name: name.to_string(), items, at, index, visibility: id });
        }
        Ok(())
    }

    fn read_macro(&mut self, item: &Node, root: &[Context]) -> R<()> {
        let tmp = self.ctx(root, ItemType::Macro, None, item.start);
        let (name, _) = self.req_str(item, "macro", &tmp)?;
        let ctx = self.ctx(root, ItemType::Macro, Some(&name), item.start);
        let r = self.read_macro_body(item, &name, &ctx);
        if r.is_err() {
            self.col.broken.insert((ItemType::Macro, name));
        }
        r
    }

    fn read_macro_body(&mut self, item: &Node, name: &str, ctx: &[Context]) -> R<()> {
        self.check_keys(item, MACRO_KEYS, ctx, "a macro")?;
        if !is_identifier(name) {
            self.push(
                Code::InvalidMacroName,
                "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
                ctx.to_vec(),
                Some(item.start),
            );
        }
        let (_, cnode) = self.req_str(item, "condition", ctx)?;
        let cond = Text::scalar(self.files, self.file, cnode);
        let append = self.append_flag(item, ctx)?;
        let (oa, or) = self.overrides(item, &["condition"], &["condition"], ctx)?;
        if append && !(oa.is_empty() && or.is_empty()) {
            return self.fail(Code::ErrYamlValidate, ERROR_OVERRIDE_APPEND, ctx.to_vec(), item.start);
        }
        let at = At { file: self.file, offset: item.start };
        let id = self.col.next_id();
        if append || !oa.is_empty() {
            match self.col.macros.get_mut(name) {
                Some(prev) => {
                    prev.cond.push_glue(" ", self.file, cnode.start);
                    prev.cond.push_text(&cond);
                    prev.visibility = id;
                }
                None if self.col.broken.contains(&(ItemType::Macro, name.to_string())) => return Err(Bad),
                None => return self.fail(Code::ErrValidate, ERROR_NO_PREVIOUS_MACRO, ctx.to_vec(), item.start),
            }
        } else {
            let index = self.col.macros.get(name).map_or(id, |p| p.index);
            self.col.macros.define(name, MacroInfo { name: name.to_string(), cond, at, index, visibility: id });
        }
        Ok(())
    }

    fn read_rule(&mut self, item: &Node, root: &[Context]) -> R<()> {
        let tmp = self.ctx(root, ItemType::Rule, None, item.start);
        let (name, _) = self.req_str(item, "rule", &tmp)?;
        let ctx = self.ctx(root, ItemType::Rule, Some(&name), item.start);
        let r = self.read_rule_body(item, &name, &ctx);
        if r.is_err() {
            self.col.broken.insert((ItemType::Rule, name));
        }
        r
    }

    fn read_rule_body(&mut self, item: &Node, name: &str, ctx: &[Context]) -> R<()> {
        let keys_ok = self.check_keys(item, RULE_KEYS, ctx, "a rule");
        let append = self.append_flag(item, ctx)?;
        let (oa, or) = self.overrides(item, RULE_APPENDABLE, RULE_REPLACEABLE, ctx)?;
        if append && !(oa.is_empty() && or.is_empty()) {
            return self.fail(Code::ErrYamlValidate, ERROR_OVERRIDE_APPEND, ctx.to_vec(), item.start);
        }
        keys_ok?;
        if !oa.is_empty() || !or.is_empty() {
            return self.read_rule_override(item, name, ctx, &oa, &or);
        }
        if append {
            self.warn_ignored(item, &["rule", "append", "condition", "exceptions"], ctx, "a rule with 'append: true'");
            let mut upd = Update::default();
            if let Some((_, c)) = self.opt_str(item, "condition", ctx)? {
                upd.cond = Some(Text::scalar(self.files, self.file, c));
            }
            if item.get("exceptions").is_some() {
                upd.exceptions = Some(self.exceptions(item, ctx, true)?);
            }
            return self.append_rule(name, upd, ctx, item.start);
        }
        let defining = ["condition", "output", "desc", "priority"].iter().any(|k| item.get(k).is_some());
        if !defining {
            // `- rule: X` with only `enabled`: switches an earlier rule on or off.
            self.warn_ignored(item, &["rule", "enabled"], ctx, "a rule item that only sets 'enabled'");
            let Some(enabled) = self.opt_bool(item, "enabled", ctx)? else {
                return self.fail(
                    Code::ErrYamlValidate,
                    "Item has no mapping for key 'enabled'",
                    ctx.to_vec(),
                    item.start,
                );
            };
            self.push(Code::DeprecatedItem, WARNING_ENABLED, ctx.to_vec(), Some(item.start));
            return match self.col.rules.get_mut(name) {
                Some(prev) => {
                    prev.enabled = enabled;
                    Ok(())
                }
                None if self.col.broken.contains(&(ItemType::Rule, name.to_string())) => Err(Bad),
                None => self.fail(
                    Code::ErrValidate,
                    "Rule has 'enabled' key but no rule by that name already exists",
                    ctx.to_vec(),
                    item.start,
                ),
            };
        }
        let (_, cnode) = self.req_str(item, "condition", ctx)?;
        let (_, onode) = self.req_str(item, "output", ctx)?;
        let (desc, _) = self.req_str(item, "desc", ctx)?;
        let (prio, pnode) = self.req_str(item, "priority", ctx)?;
        let priority = self.priority(&prio, pnode, ctx)?;
        let source = self.opt_str(item, "source", ctx)?.map_or_else(|| SYSCALL_SOURCE.to_string(), |(s, _)| s);
        let enabled = self.opt_bool(item, "enabled", ctx)?.unwrap_or(true);
        let warn_evttypes = self.opt_bool(item, "warn_evttypes", ctx)?.unwrap_or(true);
        let skip_if_unknown_filter = self.opt_bool(item, "skip-if-unknown-filter", ctx)?.unwrap_or(false);
        let capture = self.opt_bool(item, "capture", ctx)?.unwrap_or(false);
        let capture_limits = [
            self.opt_u64(item, "capture_duration", ctx)?,
            self.opt_u64(item, "capture_events", ctx)?,
            self.opt_u64(item, "capture_filesize", ctx)?,
        ];
        let tags = self.tags(item, ctx)?.unwrap_or_default();
        let exceptions = self.exceptions(item, ctx, false)?;
        for ex in &exceptions {
            if ex.fields.is_none() {
                let c = self.ctx(ctx, ItemType::Exception, Some(&ex.name), ex.at.offset);
                return self.fail(
                    Code::ErrValidate,
                    "Rule exception item must have fields property with a list of fields",
                    c,
                    ex.at.offset,
                );
            }
        }
        if let Some(prev) = self.col.rules.get(name)
            && prev.source != source
        {
            return self.fail(
                Code::ErrValidate,
                "Rule has been re-defined with a different source",
                ctx.to_vec(),
                item.start,
            );
        }
        let unknown_source = source != SYSCALL_SOURCE;
        if unknown_source {
            self.push(
                Code::UnknownSource,
                format!("Unknown source {source}, skipping"),
                ctx.to_vec(),
                Some(item.start),
            );
        }
        let id = self.col.next_id();
        let index = self.col.rules.get(name).map_or(id, |p| p.index);
        let info = RuleInfo {
            name: name.to_string(),
            at: At { file: self.file, offset: item.start },
            index,
            desc,
            cond: Text::scalar(self.files, self.file, cnode),
            output: Text::scalar(self.files, self.file, onode).trimmed(),
            priority,
            source,
            enabled,
            warn_evttypes,
            skip_if_unknown_filter,
            tags,
            exceptions,
            unknown_source,
            capture,
            capture_limits,
        };
        self.col.rules.define(name, info);
        Ok(())
    }

    fn priority(&mut self, s: &str, node: &Node, ctx: &[Context]) -> R<Priority> {
        match s.parse::<Priority>().ok() {
            Some(p) => Ok(p),
            None => {
                let c = self.ctx(ctx, ItemType::RulePriority, None, node.start);
                self.fail(
                    Code::ErrYamlValidate,
                    format!(
                        "Invalid priority '{s}': expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL (or INFO), DEBUG (in any case)"
                    ),
                    c,
                    node.start,
                )
            }
        }
    }

    fn tags(&mut self, item: &Node, ctx: &[Context]) -> R<Option<BTreeSet<String>>> {
        Ok(self.seq(item, "tags", ctx)?.map(|v| v.iter().map(|s| s.value().to_string()).collect()))
    }

    fn read_rule_override(
        &mut self,
        item: &Node,
        name: &str,
        ctx: &[Context],
        append: &[String],
        replace: &[String],
    ) -> R<()> {
        // Keys of the item that an override can touch must each have an entry under `override`.
        let mut expected: BTreeSet<&str> =
            RULE_REPLACEABLE.iter().chain(RULE_APPENDABLE).copied().filter(|k| item.get(k).is_some()).collect();
        let mut used = vec!["rule", "override"];
        for (keys, op, is_append) in [(append, "append", true), (replace, "replace", false)] {
            if keys.is_empty() {
                continue;
            }
            let mut upd = Update::default();
            for key in keys {
                if !expected.remove(key.as_str()) {
                    return self.fail(
                        Code::ErrYamlValidate,
                        format!("An {op} override for '{key}' was specified but '{key}' is not defined"),
                        ctx.to_vec(),
                        item.start,
                    );
                }
                used.push(RULE_KEYS.iter().find(|k| **k == key).expect("checked key"));
                match key.as_str() {
                    "condition" => {
                        let (_, c) = self.req_str(item, "condition", ctx)?;
                        upd.cond = Some(Text::scalar(self.files, self.file, c));
                    }
                    "output" => {
                        let (_, o) = self.req_str(item, "output", ctx)?;
                        upd.output = Some(Text::scalar(self.files, self.file, o));
                    }
                    "desc" => upd.desc = Some(self.req_str(item, "desc", ctx)?.0),
                    "tags" => upd.tags = self.tags(item, ctx)?,
                    "exceptions" => upd.exceptions = Some(self.exceptions(item, ctx, is_append)?),
                    "priority" => {
                        let (p, n) = self.req_str(item, "priority", ctx)?;
                        upd.priority = Some(self.priority(&p, n, ctx)?);
                    }
                    "enabled" => upd.enabled = self.opt_bool(item, "enabled", ctx)?,
                    "warn_evttypes" => upd.warn_evttypes = self.opt_bool(item, "warn_evttypes", ctx)?,
                    "skip-if-unknown-filter" => upd.skip = self.opt_bool(item, "skip-if-unknown-filter", ctx)?,
                    "capture" => upd.capture = self.opt_bool(item, "capture", ctx)?,
                    k => {
                        let i = ["capture_duration", "capture_events", "capture_filesize"]
                            .iter()
                            .position(|x| *x == k)
                            .expect("replaceable key");
                        upd.capture_limits[i] = Some(self.opt_u64(item, k, ctx)?);
                    }
                }
            }
            if is_append {
                self.append_rule(name, upd, ctx, item.start)?;
            } else {
                self.replace_rule(name, upd, ctx, item.start)?;
            }
        }
        if let Some(key) = expected.into_iter().next() {
            let k = item.key_node(key).expect("present");
            let c = self.ctx(ctx, ItemType::Overrides, Some(key), k.start);
            return self.fail(
                Code::ErrYamlValidate,
                format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."),
                c,
                k.start,
            );
        }
        self.warn_ignored(item, &used, ctx, "an override item");
        Ok(())
    }

    fn exceptions(&mut self, item: &Node, ctx: &[Context], append: bool) -> R<Vec<ExInfo>> {
        let mut out: Vec<ExInfo> = Vec::new();
        let Some(exs) = item.get("exceptions") else { return Ok(out) };
        if exs.is_null() {
            return Ok(out);
        }
        let exctx = self.ctx(ctx, ItemType::Exceptions, None, exs.start);
        let Kind::Seq(list) = &exs.kind else {
            return self.fail(Code::ErrYamlValidate, "Rule exceptions must be a sequence", exctx, exs.start);
        };
        for ex in list {
            let tmp = self.ctx(&exctx, ItemType::Exception, None, ex.start);
            if !matches!(ex.kind, Kind::Map(_)) {
                return self.fail(Code::ErrYamlValidate, "Rule exception must be a mapping", tmp, ex.start);
            }
            self.check_keys(ex, EXCEPTION_KEYS, &tmp, "an exception")?;
            let (name, _) = self.req_str(ex, "name", &tmp)?;
            let ectx = self.ctx(ctx, ItemType::Exception, Some(&name), ex.start);
            if out.iter().any(|e| e.name == name) {
                self.push(
                    Code::ExceptionNameNotUnique,
                    format!("Multiple definitions of exception '{name}' in the same rule"),
                    ectx.clone(),
                    Some(ex.start),
                );
            }
            let fields = match ex.get("fields") {
                None if append => None,
                None => {
                    return self.fail(Code::ErrYamlValidate, "Item has no mapping for key 'fields'", ectx, ex.start);
                }
                Some(f) => Some(self.entry(f, "fields", &ectx)?),
            };
            let comps = match ex.get("comps") {
                None => None,
                Some(c) => Some(self.entry(c, "comps", &ectx)?),
            };
            let mut values = Vec::new();
            match ex.get("values") {
                Some(vals) => {
                    let vctx = self.ctx(&ectx, ItemType::ExceptionValues, None, vals.start);
                    let Kind::Seq(vs) = &vals.kind else {
                        return self.fail(
                            Code::ErrYamlValidate,
                            "Rule exception values must be a sequence",
                            vctx,
                            vals.start,
                        );
                    };
                    for v in vs {
                        let c = self.ctx(&vctx, ItemType::ExceptionValue, None, v.start);
                        values.push(self.entry(v, "", &c)?);
                    }
                }
                None if append => {
                    self.push(
                        Code::AppendNoValues,
                        "Overriding/appending exception with no values",
                        ectx.clone(),
                        Some(ex.start),
                    );
                }
                None => {}
            }
            out.push(ExInfo { name, at: At { file: self.file, offset: ex.start }, fields, comps, values });
        }
        Ok(out)
    }

    /// A scalar or a (nested) sequence of scalars.
    fn entry(&mut self, v: &Node, key: &str, ctx: &[Context]) -> R<Entry> {
        let c = self.ctx(ctx, ItemType::ValueFor, (!key.is_empty()).then_some(key), v.start);
        match &v.kind {
            Kind::Scalar { value, .. } if value.is_empty() => {
                self.fail(Code::ErrYamlValidate, "Value must be non-empty", c, v.start)
            }
            Kind::Scalar { .. } => Ok(Entry::Item(Scalar { file: self.file, node: v.clone() })),
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for i in items {
                    let ic = self.ctx(&c, ItemType::Exception, None, i.start);
                    out.push(self.entry(i, "", &ic)?);
                }
                Ok(Entry::List(out))
            }
            Kind::Map(_) => self.fail(Code::ErrYamlValidate, "Value is not a scalar or a sequence", c, v.start),
        }
    }

    fn append_rule(&mut self, name: &str, upd: Update, ctx: &[Context], at: usize) -> R<()> {
        if self.col.rules.get(name).is_none() {
            if self.col.broken.contains(&(ItemType::Rule, name.to_string())) {
                return Err(Bad);
            }
            return self.fail(Code::ErrValidate, ERROR_NO_PREVIOUS_RULE_APPEND, ctx.to_vec(), at);
        }
        if upd.is_empty() {
            return self.fail(
                Code::ErrValidate,
                "Appended rule must have exceptions or condition property",
                ctx.to_vec(),
                at,
            );
        }
        let file = self.file;
        let mut err: Option<(&str, String, usize)> = None;
        let prev = self.col.rules.get_mut(name).expect("checked");
        if let Some(c) = upd.cond.filter(|c| !c.s.is_empty()) {
            prev.cond.push_glue(" ", file, c.start().map_or(at, |s| s.1));
            prev.cond.push_text(&c);
        }
        if let Some(o) = upd.output.filter(|o| !o.s.is_empty()) {
            prev.output.push_glue(" ", file, o.start().map_or(at, |s| s.1));
            prev.output.push_text(&o);
        }
        if let Some(d) = upd.desc.filter(|d| !d.is_empty()) {
            prev.desc.push(' ');
            prev.desc.push_str(&d);
        }
        if let Some(t) = upd.tags {
            prev.tags.extend(t);
        }
        for ex in upd.exceptions.unwrap_or_default() {
            let (n, o) = (ex.name.clone(), ex.at.offset);
            let problem = match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                None if ex.fields.is_none() => Some("Rule exception must have fields property with a list of fields"),
                None if ex.values.is_empty() => Some("Rule exception must have values property with a list of values"),
                None => {
                    prev.exceptions.push(ex);
                    None
                }
                Some(_) if ex.fields.is_some() => {
                    Some("Can not append exception fields to existing exception, only values")
                }
                Some(_) if ex.comps.is_some() => {
                    Some("Can not append exception comps to existing exception, only values")
                }
                Some(e) => {
                    e.values.extend(ex.values);
                    None
                }
            };
            if let Some(p) = problem {
                err = err.or(Some((p, n, o)));
            }
        }
        if let Some((msg, n, off)) = err {
            let c = self.ctx(ctx, ItemType::Exception, Some(&n), off);
            return self.fail(Code::ErrValidate, msg, c, off);
        }
        Ok(())
    }

    fn replace_rule(&mut self, name: &str, upd: Update, ctx: &[Context], at: usize) -> R<()> {
        if self.col.rules.get(name).is_none() {
            if self.col.broken.contains(&(ItemType::Rule, name.to_string())) {
                return Err(Bad);
            }
            return self.fail(Code::ErrValidate, ERROR_NO_PREVIOUS_RULE_REPLACE, ctx.to_vec(), at);
        }
        if upd.is_empty() {
            return self.fail(
                Code::ErrValidate,
                "The rule must have at least one field that can be replaced",
                ctx.to_vec(),
                at,
            );
        }
        let prev = self.col.rules.get_mut(name).expect("checked");
        if let Some(c) = upd.cond {
            prev.cond = c;
        }
        if let Some(o) = upd.output {
            prev.output = o.trimmed();
        }
        if let Some(d) = upd.desc {
            prev.desc = d;
        }
        if let Some(t) = upd.tags {
            prev.tags = t;
        }
        if let Some(e) = upd.exceptions {
            prev.exceptions = e;
        }
        if let Some(p) = upd.priority {
            prev.priority = p;
        }
        if let Some(e) = upd.enabled {
            prev.enabled = e;
        }
        if let Some(w) = upd.warn_evttypes {
            prev.warn_evttypes = w;
        }
        if let Some(s) = upd.skip {
            prev.skip_if_unknown_filter = s;
        }
        if let Some(c) = upd.capture {
            prev.capture = c;
        }
        for (i, l) in upd.capture_limits.into_iter().enumerate() {
            if let Some(l) = l {
                prev.capture_limits[i] = l;
            }
        }
        Ok(())
    }
}

/// The keys an append or override item brings.
#[derive(Default)]
struct Update {
    cond: Option<Text>,
    output: Option<Text>,
    desc: Option<String>,
    tags: Option<BTreeSet<String>>,
    exceptions: Option<Vec<ExInfo>>,
    priority: Option<Priority>,
    enabled: Option<bool>,
    warn_evttypes: Option<bool>,
    skip: Option<bool>,
    capture: Option<bool>,
    capture_limits: [Option<Option<u64>>; 3],
}

impl Update {
    fn is_empty(&self) -> bool {
        self.cond.is_none()
            && self.output.is_none()
            && self.desc.is_none()
            && self.tags.is_none()
            && self.exceptions.is_none()
            && self.priority.is_none()
            && self.enabled.is_none()
            && self.warn_evttypes.is_none()
            && self.skip.is_none()
            && self.capture.is_none()
            && self.capture_limits.iter().all(Option::is_none)
    }
}

/// yaml-cpp's booleans.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// `x.y.z` (anything after the third number is ignored, as libsinsp does).
pub(crate) fn parse_semver(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.splitn(3, '.');
    let num = |p: &str| -> Option<u32> {
        let d: String = p.chars().take_while(char::is_ascii_digit).collect();
        if d.is_empty() { None } else { d.parse().ok() }
    };
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if a.is_empty() || !a.bytes().all(|x| x.is_ascii_digit()) || !b.bytes().all(|x| x.is_ascii_digit()) {
        return None;
    }
    Some((num(a)?, num(b)?, num(c)?))
}

/// Falco's macro name pattern `[a-zA-Z]+[a-zA-Z0-9_]*`.
fn is_identifier(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Falco's list name pattern `[^()"'[:space:]=,]+`.
fn is_bare_string(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| matches!(c, '(' | ')' | '"' | '\'' | '=' | ',') || c.is_whitespace())
}

/// The closest allowed key, if close enough to be a typo.
fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed.iter().map(|a| (distance(key, a), *a)).filter(|(d, _)| *d <= 2).min().map(|(_, a)| a)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
