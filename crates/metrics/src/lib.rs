/*!
saker's own metrics and the web server that exposes them: `/healthz` (for
Kubernetes probes, `{"status": "ok"}` as Falco answers) and Prometheus
`/metrics`, on 127.0.0.1:8765 by default, configured by the `webserver`
section of `falco.yaml` ([`WebserverConfig`]).

[`Metrics`] is a registry the other crates feed: events, events lost by
category, matches per rule, what each output sent and dropped, the thread
table's size, and the process's CPU and memory (read from `/proc/self` at
each scrape). Whatever is updated per event or per match is a relaxed
atomic (no lock, no allocation): [`Metrics::add_events`],
[`RuleCounter::inc`]. Sources report their totals with
[`Metrics::set_source`]; outputs are read at scrape time through
[`Metrics::set_outputs_source`].

The metric names mirror Falco's Prometheus names, with `saker_` in place of
`falcosecurity_falco_` and `saker_scap_` in place of `falcosecurity_scap_`:

| metric | type | labels | what |
| --- | --- | --- | --- |
| `saker_version_info` | gauge | `version` | 1 |
| `saker_evt_hostname_info` | gauge | `hostname` | 1 |
| `saker_start_timestamp_nanoseconds` | gauge | | start time |
| `saker_duration_seconds_total` | counter | | seconds since start |
| `saker_host_num_cpus_total` | gauge | | CPUs |
| `saker_n_evts_total` | counter | | events processed by saker |
| `saker_scap_n_evts_total` | counter | | events produced by the source |
| `saker_scap_n_drops_total` | counter | | events lost, all reasons |
| `saker_scap_n_drops_buffer_total` | counter | `drop` = process, exec, open, connect, close, other | lost to a full buffer |
| `saker_scap_n_drops_too_large_total` | counter | | lost for being too large |
| `saker_scap_n_drops_other_total` | counter | | lost for another reason |
| `saker_scap_n_threads` | gauge | | threads in the thread table |
| `saker_scap_n_fds` | gauge | | fds in the thread table |
| `saker_rules_matches_total` | counter | `priority` (0-7), `rule_name`, `source` | matches per rule |
| `saker_outputs_queue_num_drops_total` | counter | | alerts dropped, all outputs |
| `saker_outputs_sent_total` | counter | `output` | alerts delivered |
| `saker_outputs_dropped_total` | counter | `output` | alerts dropped (queue full) |
| `saker_outputs_errors_total` | counter | `output` | deliveries that failed |
| `saker_outputs_queued` | gauge | `output` | alerts waiting |
| `saker_cpu_seconds_total` | counter | | CPU time (user + system) |
| `saker_cpu_usage_ratio` | gauge | | CPU time / lifetime, of one CPU (Falco's `cpu_usage_ratio`) |
| `saker_memory_rss_bytes`, `saker_memory_vsz_bytes` | gauge | | memory |

Deliberate differences: gauges do not end in `_total` (Falco's
`n_threads_total`, `n_fds_total` do); one `# HELP`/`# TYPE` pair per family;
rule tags are not labels. This crate has no periodic "metrics snapshot"
alert and no TLS (`ssl_enabled` is refused).
*/

mod process;
mod registry;
mod server;

pub use registry::{DropCategory, Metrics, MetricsInfo, OutputSample, RuleCounter, SourceCounters};
pub use server::{Error, MetricsServer, PROMETHEUS_CONTENT_TYPE, WebserverConfig};
