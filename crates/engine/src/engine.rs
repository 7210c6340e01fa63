//! Compiled rules, indexed by event type, and their evaluation on one event.

use std::sync::Arc;

use saker_abi::{EVENT_TABLE, EventType};
use saker_driver::kernel_filter::OpenFilter;
use saker_fields::{EventContext, Field, FieldValue, Format};
use saker_filter::{EventTypeSet, Filter, FilterCompiler};
use saker_outputs::{Alert, FieldValue as AlertValue, Priority};
use saker_rules::{Code, Diagnostic, LoadResult, Rule};

/// Which rules alert when several match one event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// Only the first matching rule, in load order (Falco's default).
    #[default]
    First,
    /// Every matching rule.
    All,
}

/// How the engine is set up.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// First or all matching rules.
    pub rule_matching: RuleMatching,
    /// Rules with a lower priority (a higher severity number) are not loaded.
    pub min_priority: Priority,
    /// The host name alerts carry.
    pub hostname: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { rule_matching: RuleMatching::First, min_priority: Priority::Debug, hostname: hostname() }
    }
}

/// The machine's name, as Falco takes it: `FALCO_HOSTNAME`, else the kernel's.
pub fn hostname() -> String {
    if let Ok(h) = std::env::var("FALCO_HOSTNAME")
        && !h.is_empty()
    {
        return h;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// One rule, ready to evaluate.
#[derive(Clone, Debug)]
struct CompiledRule {
    name: Arc<str>,
    priority: Priority,
    tags: Arc<[String]>,
    source: Arc<str>,
    filter: Filter,
    output: Format,
    /// The output's fields with their names, for alerts' `output_fields`.
    fields: Arc<[(String, Field)]>,
}

/// Rules compiled for evaluation.
///
/// An engine is used by one thread at a time (its filters keep scratch
/// buffers); clone it for each worker.
#[derive(Clone, Debug)]
pub struct Engine {
    rules: Vec<CompiledRule>,
    /// For each event type, the rules that can match it, in load order.
    by_type: Arc<[Box<[u32]>]>,
    event_types: EventTypeSet,
    domain_names: Arc<[String]>,
    open_filter: Arc<OpenFilter>,
    options: EngineOptions,
    scratch: Vec<u8>,
}

/// Whether rules see this event. Current drivers send exit events, and enter
/// events only where the arguments must be read before the kernel acts; old
/// captures have enter events for everything, which Falco's libs convert
/// away, so rules skip them the same way.
pub fn evaluated(t: EventType) -> bool {
    !t.is_enter()
        || matches!(
            t,
            EventType::SYSCALL_OPEN_E
                | EventType::SYSCALL_OPENAT_E
                | EventType::SYSCALL_OPENAT_2_E
                | EventType::SYSCALL_OPENAT2_E
                | EventType::SYSCALL_CREAT_E
                | EventType::SOCKET_CONNECT_E
                | EventType::CONTAINER_JSON_E
                | EventType::CONTAINER_JSON_2_E
        )
}

impl Engine {
    /// Compiles the enabled rules of `load` with at least `min_priority`.
    /// Errors come back as Falco-style diagnostics located in the rules files.
    /// Each macro is compiled once, into a node its uses in every rule share.
    pub fn compile(load: &LoadResult, options: EngineOptions) -> Result<Engine, Vec<Diagnostic>> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        let mut domain_names = Vec::new();
        let mut compiler = FilterCompiler::new();
        let mut kernel_filter = crate::kernel_filter::FilterBuilder::default();
        for rule in load.rules.iter().filter(|r| r.enabled) {
            let priority = rule.priority;
            if !priority.at_least(options.min_priority) {
                continue;
            }
            match compile_rule(&mut compiler, rule, priority, load) {
                Ok(r) => {
                    domain_names.extend(rule.condition.domain_names());
                    let output_fields: Vec<&str> = r.fields.iter().map(|(name, _)| name.as_str()).collect();
                    kernel_filter.add_rule(&rule.condition, &output_fields, r.filter.event_types());
                    rules.push(r)
                }
                Err(d) => errors.push(d),
            }
        }
        domain_names.sort();
        domain_names.dedup();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); EVENT_TABLE.len()];
        let mut event_types = EventTypeSet::none();
        for (i, r) in rules.iter().enumerate() {
            for t in r.filter.event_types().iter() {
                if evaluated(t) {
                    by_type[t.0 as usize].push(i as u32);
                    event_types.insert(t);
                }
            }
        }
        Ok(Engine {
            rules,
            by_type: by_type.into_iter().map(Vec::into_boxed_slice).collect(),
            event_types,
            domain_names: domain_names.into(),
            open_filter: Arc::new(kernel_filter.build()),
            options,
            scratch: Vec::new(),
        })
    }

    /// The domain names the rules compare `fd.*ip.name` fields with: hand
    /// them to `saker_dns::watch` before events flow, or those comparisons
    /// never hold.
    pub fn domain_names(&self) -> &[String] {
        &self.domain_names
    }

    /// The opens a kernel driver may leave out: those no rule can match,
    /// nor read later through the fd they make (see
    /// [`saker_driver::kernel_filter`]).
    pub fn open_filter(&self) -> &OpenFilter {
        &self.open_filter
    }

    /// Number of rules compiled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule was compiled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The names of the rules, in load order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// The event types any rule can match: what the driver must deliver.
    pub fn event_types(&self) -> &EventTypeSet {
        &self.event_types
    }

    /// Which optional parts of the state the rules' conditions and outputs
    /// read (`saker_state::State::unneeded_event_types` gives the events a
    /// replay may then leave unapplied).
    pub fn state_reads(&self) -> saker_state::Reads {
        self.rules.iter().fold(saker_state::Reads::NONE, |r, rule| {
            r.union(rule.filter.state_reads()).union(rule.output.state_reads())
        })
    }

    /// Evaluates the rules on one event (the state must already include it)
    /// and hands each alert to `on_alert`.
    pub fn evaluate(&mut self, ctx: &EventContext<'_>, mut on_alert: impl FnMut(Alert)) {
        let by_type = Arc::clone(&self.by_type);
        let Some(candidates) = by_type.get(ctx.event.event_type().0 as usize) else { return };
        for &i in candidates.iter() {
            let rule = &self.rules[i as usize];
            if rule.filter.matches(ctx) {
                let alert = self.alert(i as usize, ctx);
                on_alert(alert);
                if self.options.rule_matching == RuleMatching::First {
                    return;
                }
            }
        }
    }

    fn alert(&mut self, i: usize, ctx: &EventContext<'_>) -> Alert {
        let rule = &self.rules[i];
        self.scratch.clear();
        rule.output.write(ctx, &mut self.scratch);
        let output = String::from_utf8_lossy(&self.scratch).into_owned();
        let mut buf = Vec::new();
        let output_fields = rule
            .fields
            .iter()
            .map(|(name, f)| {
                let v = match f.extract(ctx, &mut buf) {
                    None => AlertValue::Null,
                    Some(FieldValue::Str(s)) => AlertValue::Str(String::from_utf8_lossy(s).into_owned()),
                    Some(FieldValue::Int(v)) => AlertValue::I64(v),
                    Some(FieldValue::Uint(v)) => AlertValue::U64(v),
                    Some(FieldValue::Bool(b)) => AlertValue::Bool(b),
                    Some(FieldValue::Ip(ip)) => AlertValue::Str(ip.to_string()),
                };
                (name.clone(), v)
            })
            .collect();
        Alert {
            time_ns: ctx.event.ts(),
            rule: rule.name.to_string(),
            priority: rule.priority,
            source: rule.source.to_string(),
            tags: rule.tags.to_vec(),
            hostname: self.options.hostname.clone(),
            output,
            output_fields,
        }
    }
}

fn compile_rule(
    compiler: &mut FilterCompiler,
    rule: &Rule,
    priority: Priority,
    load: &LoadResult,
) -> Result<CompiledRule, Diagnostic> {
    let filter = compiler
        .compile(&rule.condition, "")
        .map_err(|e| load.diagnostic_at(e.pos, Code::ErrCompileCondition, e.message))?;
    // Falco prints missing values as <NA> in outputs: the '*' form.
    let output = Format::parse(&format!("*{}", rule.output)).map_err(|e| {
        let mut d = load.diagnostic_at(rule.condition.pos(), Code::ErrCompileOutput, e.to_string());
        d.message = format!("rule '{}': invalid output: {e}", rule.name);
        d
    })?;
    let fields = output.named_fields().map(|(k, f)| (k.to_string(), f.clone())).collect();
    Ok(CompiledRule {
        name: rule.name.as_str().into(),
        priority,
        tags: rule.tags.iter().cloned().collect(),
        source: rule.source.as_str().into(),
        filter,
        output,
        fields,
    })
}
