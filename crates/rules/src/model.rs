//! The loader's inputs and outputs.

use std::collections::BTreeSet;

use saker_filter::Expr;

use crate::diag::Location;

/// saker's rules engine version, compared with `required_engine_version`.
pub const ENGINE_VERSION: (u32, u32, u32) = (0, 57, 0);

/// The event source saker's rules run on; rules of other sources are skipped.
pub const SYSCALL_SOURCE: &str = "syscall";

/// One rules file: its name (usually its path, used in messages) and its text.
#[derive(Clone, Copy, Debug)]
pub struct RulesSource<'a> {
    /// Name shown in messages.
    pub name: &'a str,
    /// The YAML text.
    pub text: &'a str,
}

impl<'a> RulesSource<'a> {
    /// A named rules text.
    pub fn new(name: &'a str, text: &'a str) -> Self {
        RulesSource { name, text }
    }
}

/// Validates the fields that conditions, exceptions and outputs name.
///
/// The loader does not know which fields exist (that is the field
/// registry's business): it asks this for every field it meets.
pub trait FieldChecker {
    /// `Ok` if `name` (with its argument, as in `proc.aname[2]`) is a known
    /// field; otherwise why not, e.g. `"nonexistent field proc.nme"`.
    fn check(&self, name: &str, arg: Option<&str>) -> Result<(), String>;

    /// `Ok` if `name` is a known event type (`open`, `execve`...), as used
    /// in `evt.type` checks. The default accepts every name.
    fn check_event_type(&self, name: &str) -> Result<(), String> {
        let _ = name;
        Ok(())
    }
}

/// A [`FieldChecker`] that accepts every field.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyField;

impl FieldChecker for AnyField {
    fn check(&self, _: &str, _: Option<&str>) -> Result<(), String> {
        Ok(())
    }
}

/// A rule's priority: the priority of the alerts it raises.
pub use saker_outputs::Priority;

/// A string or a list in an exception (`fields`, `comps`, each `values` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExceptionValue {
    /// A single string.
    Item(String),
    /// A list.
    List(Vec<ExceptionValue>),
}

impl ExceptionValue {
    /// The string, if this is one.
    pub fn as_item(&self) -> Option<&str> {
        match self {
            ExceptionValue::Item(s) => Some(s),
            ExceptionValue::List(_) => None,
        }
    }
}

/// A rule exception as written (after appends), with its comparison
/// operators filled in (`in` for a single field, `=` for each of a list of fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    /// Its name.
    pub name: String,
    /// A field, or a list of fields.
    pub fields: ExceptionValue,
    /// An operator, or one per field.
    pub comps: ExceptionValue,
    /// The values: strings for a single field, lists (one entry per field) otherwise.
    pub values: Vec<ExceptionValue>,
}

/// A rule, expanded and validated, ready to compile.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// `desc`.
    pub desc: String,
    /// The condition with lists expanded, macros substituted and exceptions
    /// added as `and not (...)` clauses, exactly as Falco builds it. A macro's
    /// use is an [`Expr::Macro`] whose body is shared with the macro's other
    /// uses, in this rule and others.
    ///
    /// Node positions: `line` and `col` are relative to the text the node was
    /// written in (this rule's condition, a macro's condition or an exception);
    /// `offset` is global to the load, so [`LoadResult::locate`](crate::LoadResult::locate) turns any
    /// node's position into a file location.
    pub condition: Expr,
    /// The condition as written (with appended conditions joined by a space).
    pub condition_text: String,
    /// The output format (trimmed; `%container.info` removed as Falco does).
    pub output: String,
    /// `priority`.
    pub priority: Priority,
    /// `enabled`.
    pub enabled: bool,
    /// `tags`, sorted.
    pub tags: BTreeSet<String>,
    /// `source` (always `syscall` here: rules of other sources are in [`LoadResult::skipped`](crate::LoadResult::skipped)).
    pub source: String,
    /// `exceptions`, as written.
    pub exceptions: Vec<Exception>,
    /// The fields the exceptions compare.
    pub exception_fields: BTreeSet<String>,
    /// `warn_evttypes`.
    pub warn_evttypes: bool,
    /// `skip-if-unknown-filter`.
    pub skip_if_unknown_filter: bool,
    /// The event types the condition can match (Falco's `evt.type` indexing).
    pub event_types: saker_filter::EventTypeSet,
    /// `capture`.
    pub capture: bool,
    /// `capture_duration`, `capture_events`, `capture_filesize`, when set.
    pub capture_limits: [Option<u64>; 3],
    /// Where the rule is first defined.
    pub location: Location,
}

/// A rule that was loaded but will not run, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRule {
    /// Its name.
    pub name: String,
    /// Its `source`.
    pub source: String,
    /// Why (the warning's message).
    pub reason: String,
    /// Where it is first defined.
    pub location: Location,
}

/// A list after loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List {
    /// Its name.
    pub name: String,
    /// Its items with references to other lists expanded.
    pub items: Vec<String>,
    /// Whether a rule, macro or list refers to it.
    pub used: bool,
    /// Where it is first defined.
    pub location: Location,
}

/// A macro after loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macro {
    /// Its name.
    pub name: String,
    /// Its condition as written (appends joined with a space).
    pub condition_text: String,
    /// Whether a rule or macro refers to it.
    pub used: bool,
    /// Where it is first defined.
    pub location: Location,
}

/// A `required_plugin_versions` entry: the plugin and its alternatives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRequirement {
    /// `(name, version)` of the plugin and then of each alternative.
    pub alternatives: Vec<(String, String)>,
    /// Whether saker provides it (the `container` plugin's fields are built in).
    pub satisfied: bool,
}
