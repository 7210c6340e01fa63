/*!
Falco rules files, loaded the way Falco loads them: from YAML text to rules
whose conditions are fully expanded and validated, ready to compile.

[`Ruleset::load`] reads one or more rules files in order (later files append
to or override what earlier ones define) and gives, for every rule of the
`syscall` source, its condition as a [`saker_filter::Expr`] with list names
replaced by the lists' items, macros substituted and exceptions added as
`and not (...)` clauses, exactly as Falco 0.4x builds them; its output,
priority, tags and other keys; the event types the condition can match
(Falco's `evt.type` indexing); and where it is defined. Every field named by a
condition, an exception or an output is checked through a [`FieldChecker`].

A macro is substituted by a reference to its resolved body
([`saker_filter::Expr::Macro`]), not by a copy: the body is one tree, shared
by every use in every rule and macro of the load, which
[`saker_filter::FilterCompiler`] compiles once. Loading and compiling cost
what the definitions do; evaluating a condition still costs its expanded
size (a macro is evaluated wherever it is used), so that size is bounded: a
condition may expand to at most 100,000 nodes and all of a load's together
to 2,000,000, past which an error names the macro and where it is used.

What the loader accepts and rejects follows Falco's own loader
(`rule_loader_reader.cpp`, `rule_loader_collector.cpp`,
`rule_loader_compiler.cpp`): `required_engine_version` and
`required_plugin_versions`, `list`/`macro`/`rule` items, `append: true` and
`override: {key: append|replace}` with Falco's rules on which keys may be
appended or replaced, `enabled`-only items, exceptions in both forms.
Problems come out as [`Diagnostic`]s with Falco's codes
(`LOAD_ERR_COMPILE_CONDITION`...), a context from the file down to the key
or the place inside a condition, and the offending line with a caret; every
error of every file is collected rather than stopping at the first.
Unlike Falco, unknown keys are errors, not warnings.

Where saker deliberately differs from Falco:
- unknown keys are errors (Falco ignores them); keys that are valid for the
  item kind but that Falco ignores in a given form (`enabled` next to
  `append: true`, `tags` in an `enabled`-only item...) give `LOAD_UNKNOWN_KEY`
  warnings;
- every error is reported, not only the first of each file;
- lines and columns are 1-based, and errors inside conditions and outputs
  point at the place in the file, through YAML quoting and block scalars;
- list names are substituted in the parsed condition rather than in its
  text: in list values (`in (...)`, `intersects`, `pmatch`), and as a single
  value for one-item lists, never when quoted; list items naming lists are
  expanded recursively whatever the definition order (Falco expands one level
  and leaves names of two-level chains as strings); a reference loop leaves
  the name as a string;
- exceptions replaced by `override: {exceptions: replace}` are validated and
  get default operators, like defined ones;
- unknown fields used by a macro are reported once, in the macro;
- only the `syscall` source exists; of `required_plugin_versions`, the
  `container` plugin is satisfied by saker's built-in fields, others get a
  `LOAD_PLUGIN_UNAVAILABLE` warning.

This crate does not compile conditions into matchers nor evaluate them
(that is the engine's job), does not know which fields exist (the caller's
[`FieldChecker`] does), and does not map event type names to codes.
*/

mod compile;
mod diag;
mod model;
mod reader;
mod render;
mod source;
mod yaml;

use std::sync::Arc;

pub use diag::{Code, Context, Diagnostic, ItemType, LoadErrors, Location, Severity, Snippet};
pub use model::{
    AnyField, ENGINE_VERSION, Exception, ExceptionValue, FieldChecker, List, Macro, PluginRequirement, Priority, Rule,
    RulesSource, SYSCALL_SOURCE, SkippedRule,
};
pub use render::condition_string;
use saker_filter::Pos;

/// Loads rules files.
#[derive(Debug)]
pub struct Ruleset;

/// Rules loaded without errors.
pub struct LoadResult {
    /// The rules of the `syscall` source, enabled or not, in the order they were first defined.
    pub rules: Vec<Rule>,
    /// Rules that will not run: other event sources, unknown fields with `skip-if-unknown-filter`.
    pub skipped: Vec<SkippedRule>,
    /// Every list, items expanded.
    pub lists: Vec<List>,
    /// Every macro.
    pub macros: Vec<Macro>,
    /// Warnings, in the order found.
    pub warnings: Vec<Diagnostic>,
    /// The highest `required_engine_version` of the files.
    pub required_engine_version: Option<(u32, u32, u32)>,
    /// The files' `required_plugin_versions` entries.
    pub required_plugins: Vec<PluginRequirement>,
    map: compile::SourceMap,
}

impl std::fmt::Debug for LoadResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadResult")
            .field("rules", &self.rules.len())
            .field("skipped", &self.skipped)
            .field("lists", &self.lists.len())
            .field("macros", &self.macros.len())
            .field("warnings", &self.warnings.len())
            .finish_non_exhaustive()
    }
}

impl LoadResult {
    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The file location of a node of a rule's condition (see [`Rule::condition`]).
    pub fn locate(&self, pos: Pos) -> Option<Location> {
        self.map.locate(pos.offset)
    }

    /// A diagnostic at a node of a rule's condition, with its context and
    /// caret, for errors found when compiling it (a bad regex, a value of the
    /// wrong type...).
    pub fn diagnostic_at(&self, pos: Pos, code: Code, message: impl Into<String>) -> Diagnostic {
        self.map.diag(pos.offset, code, message.into())
    }
}

impl Ruleset {
    /// Loads `sources` in order, checking fields with `fields`.
    ///
    /// On success, the rules and the warnings; on failure, every error (and
    /// the warnings found along the way).
    pub fn load(sources: &[RulesSource<'_>], fields: &dyn FieldChecker) -> Result<LoadResult, LoadErrors> {
        let mut files = source::Files::default();
        for s in sources {
            files.0.push(source::File::new(s.name, s.text));
        }
        let files = Arc::new(files);
        let mut col = reader::Collector::default();
        let mut diags = Vec::new();
        for id in 0..files.0.len() {
            reader::Reader { files: &files, col: &mut col, diags: &mut diags, file: id }.read();
        }
        let (out, more) = compile::Compiler::new(files.clone(), &col, fields).run();
        diags.extend(more);
        if diags.iter().any(Diagnostic::is_error) {
            let (mut errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
            errors.extend(warnings);
            return Err(LoadErrors { diagnostics: errors });
        }
        Ok(LoadResult {
            rules: out.rules,
            skipped: out.skipped,
            lists: out.lists,
            macros: out.macros,
            warnings: diags,
            required_engine_version: col.required_engine_version,
            required_plugins: col.plugins,
            map: out.map,
        })
    }
}
