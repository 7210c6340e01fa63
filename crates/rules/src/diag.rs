//! Errors and warnings, located and printed the way Falco prints them.

use std::fmt;
use std::sync::Arc;

/// Whether a diagnostic stops the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The rules cannot be used.
    Error,
    /// The rules load; something deserves attention.
    Warning,
}

/// What went wrong, with Falco's code names (`LOAD_ERR_*` for errors, `LOAD_*` for warnings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `LOAD_ERR_YAML_PARSE`: the content is not valid YAML.
    ErrYamlParse,
    /// `LOAD_ERR_YAML_VALIDATE`: wrong structure: missing or unknown keys, values of the wrong type.
    ErrYamlValidate,
    /// `LOAD_ERR_COMPILE_CONDITION`: a condition does not parse or names an unknown field.
    ErrCompileCondition,
    /// `LOAD_ERR_COMPILE_OUTPUT`: an output names an unknown field or is malformed.
    ErrCompileOutput,
    /// `LOAD_ERR_VALIDATE`: an item is wrong: undefined macro, append to nothing, bad versions...
    ErrValidate,
    /// `LOAD_UNKNOWN_SOURCE`: a rule for an event source saker does not have; it is skipped.
    UnknownSource,
    /// `LOAD_UNSAFE_NA_CHECK`: a comparison with `<NA>`.
    UnsafeNaCheck,
    /// `LOAD_NO_EVTTYPE`: a rule that matches too many event types.
    NoEvttype,
    /// `LOAD_UNKNOWN_FILTER`: an unknown field in a rule with `skip-if-unknown-filter`; it is skipped.
    UnknownFilter,
    /// `LOAD_UNUSED_MACRO`: a macro nothing refers to.
    UnusedMacro,
    /// `LOAD_UNUSED_LIST`: a list nothing refers to.
    UnusedList,
    /// `LOAD_UNKNOWN_ITEM`: a top-level item of no known kind; it is ignored.
    UnknownItem,
    /// `LOAD_DEPRECATED_ITEM`: `append: true`, a standalone `enabled`, `%container.info`, `evt.dir`...
    DeprecatedItem,
    /// `LOAD_APPEND_NO_VALUES`: an appended exception without values.
    AppendNoValues,
    /// `LOAD_EXCEPTION_NAME_NOT_UNIQUE`: two exceptions of a rule with the same name.
    ExceptionNameNotUnique,
    /// `LOAD_INVALID_MACRO_NAME`: a macro name that conditions cannot refer to.
    InvalidMacroName,
    /// `LOAD_INVALID_LIST_NAME`: a list name that conditions cannot refer to.
    InvalidListName,
    /// `LOAD_COMPILE_CONDITION`: a condition that compiles but looks wrong.
    CompileCondition,
    /// `LOAD_UNKNOWN_KEY`: a key that is valid for the item kind but ignored in this form of item.
    UnknownKey,
    /// `LOAD_PLUGIN_UNAVAILABLE` (saker's own): a required plugin saker does not provide.
    PluginUnavailable,
}

impl Code {
    /// Falco's name for the code, e.g. `LOAD_ERR_COMPILE_CONDITION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ErrYamlParse => "LOAD_ERR_YAML_PARSE",
            Code::ErrYamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::ErrCompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::ErrCompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::ErrValidate => "LOAD_ERR_VALIDATE",
            Code::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            Code::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            Code::NoEvttype => "LOAD_NO_EVTTYPE",
            Code::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            Code::UnusedMacro => "LOAD_UNUSED_MACRO",
            Code::UnusedList => "LOAD_UNUSED_LIST",
            Code::UnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            Code::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            Code::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            Code::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            Code::InvalidListName => "LOAD_INVALID_LIST_NAME",
            Code::CompileCondition => "LOAD_COMPILE_CONDITION",
            Code::UnknownKey => "LOAD_UNKNOWN_KEY",
            Code::PluginUnavailable => "LOAD_PLUGIN_UNAVAILABLE",
        }
    }

    /// Falco's one-line description of the code.
    pub fn description(self) -> &'static str {
        match self {
            Code::ErrYamlParse => "YAML parse error",
            Code::ErrYamlValidate => "Error validating internal structure of YAML file",
            Code::ErrCompileCondition => "Error compiling condition",
            Code::ErrCompileOutput => "Error compiling output",
            Code::ErrValidate => "Error validating rule/macro/list/exception objects",
            Code::UnknownSource => "Unknown event source",
            Code::UnsafeNaCheck => "Unsafe <NA> comparison in condition",
            Code::NoEvttype => "Condition has no event-type restriction",
            Code::UnknownFilter => "Unknown field or event-type in condition or output",
            Code::UnusedMacro => "Unused macro",
            Code::UnusedList => "Unused list",
            Code::UnknownItem => "Unknown rules file item",
            Code::DeprecatedItem => "Used deprecated item",
            Code::AppendNoValues => "Overriding/appending with no values",
            Code::ExceptionNameNotUnique => "Multiple exceptions defined with the same name",
            Code::InvalidMacroName => "Invalid macro name",
            Code::InvalidListName => "Invalid list name",
            Code::CompileCondition => "Warning in rule condition",
            Code::UnknownKey => "Unknown key in item definition",
            Code::PluginUnavailable => "Required plugin not available",
        }
    }

    /// Whether this code is an error or a warning.
    pub fn severity(self) -> Severity {
        match self {
            Code::ErrYamlParse
            | Code::ErrYamlValidate
            | Code::ErrCompileCondition
            | Code::ErrCompileOutput
            | Code::ErrValidate => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a rules file: 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The rules source's name (usually its path).
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
    /// Byte offset in the file.
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What a context entry is about, with Falco's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemType {
    /// A value of a key.
    ValueFor,
    /// A rule's `exceptions`.
    Exceptions,
    /// One exception.
    Exception,
    /// An exception's `values`.
    ExceptionValues,
    /// One entry of an exception's `values`.
    ExceptionValue,
    /// A whole rules file.
    RulesContent,
    /// A top-level item of a rules file.
    RulesContentItem,
    /// A `required_engine_version` item.
    RequiredEngineVersion,
    /// A `required_plugin_versions` item.
    RequiredPluginVersions,
    /// One entry of `required_plugin_versions`.
    RequiredPluginVersionsEntry,
    /// One alternative of a plugin requirement.
    RequiredPluginVersionsAlternative,
    /// A list.
    List,
    /// One item of a list.
    ListItem,
    /// A macro.
    Macro,
    /// A macro's condition.
    MacroCondition,
    /// A rule.
    Rule,
    /// A rule's condition.
    RuleCondition,
    /// A place inside a condition.
    ConditionExpression,
    /// A rule's output.
    RuleOutput,
    /// A place inside an output.
    RuleOutputExpression,
    /// A rule's priority.
    RulePriority,
    /// An item's `override`.
    Overrides,
}

impl ItemType {
    /// Falco's name for it, as printed in contexts.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::ValueFor => "value for",
            ItemType::Exceptions => "exceptions",
            ItemType::Exception => "exception",
            ItemType::ExceptionValues => "exception values",
            ItemType::ExceptionValue => "exception value",
            ItemType::RulesContent => "rules content",
            ItemType::RulesContentItem => "rules content item",
            ItemType::RequiredEngineVersion => "required_engine_version",
            ItemType::RequiredPluginVersions => "required plugin versions",
            ItemType::RequiredPluginVersionsEntry => "required plugin versions entry",
            ItemType::RequiredPluginVersionsAlternative => "required plugin versions alternative",
            ItemType::List => "list",
            ItemType::ListItem => "list item",
            ItemType::Macro => "macro",
            ItemType::MacroCondition => "macro condition",
            ItemType::Rule => "rule",
            ItemType::RuleCondition => "rule condition",
            ItemType::ConditionExpression => "condition expression",
            ItemType::RuleOutput => "rule output",
            ItemType::RuleOutputExpression => "rule output expression",
            ItemType::RulePriority => "rule priority",
            ItemType::Overrides => "overrides",
        }
    }
}

/// One step of a diagnostic's context: `rule 'Foo': (rules.yaml:12:3)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// What this step is.
    pub item: ItemType,
    /// Its name (a rule's, a key's), if any.
    pub name: Option<String>,
    /// Where it is in the file, when known.
    pub location: Option<Location>,
    /// For places inside a condition or output: the text's first characters
    /// (Falco's label for it) and the 1-based line and column in that text.
    pub in_text: Option<(String, u32, u32)>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.item.as_str())?;
        if let Some(n) = &self.name {
            write!(f, " '{n}'")?;
        }
        f.write_str(":")?;
        match &self.location {
            Some(l) if l.line == 0 => write!(f, " ({})", l.file)?,
            Some(l) => write!(f, " ({l})")?,
            None => {}
        }
        if let Some((label, line, col)) = &self.in_text {
            write!(f, " ({label}:{line}:{col})")?;
        }
        Ok(())
    }
}

/// The line a diagnostic points at, with the caret's column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    /// The line (of the file, or of the condition when the place in the file is not known).
    pub line: String,
    /// The caret's column, from 1, in characters.
    pub column: u32,
}

/// An error or a warning: code, message, where (a chain of contexts from
/// the file down to the key or the place in a condition) and the line with a caret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Falco's code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// From the outermost (the file) to the innermost (the key, the place in the condition).
    pub context: Vec<Context>,
    /// The offending line and the caret.
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    /// The most precise place in a file, if any.
    pub fn location(&self) -> Option<&Location> {
        self.context.iter().rev().find_map(|c| c.location.as_ref().filter(|l| l.line > 0))
    }

    /// The file this diagnostic is about.
    pub fn file(&self) -> Option<&str> {
        self.context.first().and_then(|c| c.location.as_ref()).map(|l| &*l.file)
    }

    /// The name of the rule, macro or list this diagnostic is about, with its kind.
    pub fn item(&self) -> Option<(ItemType, &str)> {
        self.context.iter().find_map(|c| match (c.item, &c.name) {
            (ItemType::Rule | ItemType::Macro | ItemType::List, Some(n)) => Some((c.item, n.as_str())),
            _ => None,
        })
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Falco's verbose format: the context chain (`In rules content: ...`,
    /// then one indented line per step), the line with a caret between
    /// `------` lines, then `CODE (description): message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.context.iter().enumerate() {
            writeln!(f, "{}{c}", if i == 0 { "In " } else { "    " })?;
        }
        if let Some(s) = &self.snippet {
            writeln!(f, "------")?;
            let (line, col) = clip(&s.line, s.column as usize);
            writeln!(f, "{line}")?;
            writeln!(f, "{}^", " ".repeat(col.saturating_sub(1)))?;
            writeln!(f, "------")?;
        }
        write!(f, "{} ({}): {}", self.code.as_str(), self.code.description(), self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Long lines are cut around the column, as Falco does (160 characters).
fn clip(line: &str, col: usize) -> (String, usize) {
    const HALF: usize = 80;
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 2 * HALF {
        return (line.to_string(), col);
    }
    let c = col.saturating_sub(1).min(chars.len());
    let from = c.saturating_sub(HALF);
    let to = (c + HALF).min(chars.len());
    let mut s: String = chars[from..to].iter().collect();
    if from > 0 {
        s.replace_range(..3, "...");
    }
    if to < chars.len() {
        let n = s.len();
        s.replace_range(n - 3.., "...");
    }
    (s, c - from + 1)
}

/// The load failed: every error, and the warnings found along the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrors {
    /// Errors and warnings, errors first, each in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadErrors {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for LoadErrors {
    /// Like Falco: `N Errors:` and each error, then `N Warnings:` and each warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "Errors", self.errors())?;
        let w: Vec<_> = self.warnings().collect();
        if !w.is_empty() {
            writeln!(f)?;
            write_list(f, "Warnings", w.into_iter())?;
        }
        Ok(())
    }
}

/// Writes `N <title>:` and then each diagnostic, each followed by a newline.
pub(crate) fn write_list<'a>(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    it: impl Iterator<Item = &'a Diagnostic>,
) -> fmt::Result {
    let v: Vec<_> = it.collect();
    writeln!(f, "{} {title}:", v.len())?;
    for d in v {
        writeln!(f, "{d}")?;
    }
    Ok(())
}

impl std::error::Error for LoadErrors {}
