/*!
The rules engine: Falco rules, compiled and evaluated on every event.

[`Engine::compile`] turns the rules `saker-rules` loaded into filters
(`saker-filter`) and output formats (`saker-fields`), indexed by event type
so an event only meets the rules that can match it; [`Engine::evaluate`]
raises an [`Alert`](saker_outputs::Alert) for the first matching rule
(Falco's `rule_matching: first`) or for all of them. [`run`] drives an event
source through the state and the engine, on one thread or on several, with
the events of one process always evaluated by the same worker, in order.

This crate does not read rules files (`saker-rules`), deliver alerts
(`saker-outputs`), or choose the event source (`saker-driver` and the
drivers).
*/

mod checker;
mod drops;
mod engine;
mod kernel_filter;
mod pipeline;

pub use checker::Fields;
pub use drops::{DropAction, DropPolicy, DropVerdict, DropsConfig};
pub use engine::{Engine, EngineOptions, RuleMatching, evaluated, hostname};
pub use pipeline::{AlertSink, EngineSwap, IdleHook, RunStats, SourceChange, run, run_swappable};
