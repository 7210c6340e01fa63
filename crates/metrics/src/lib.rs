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

Where Falco has a metric, saker exposes it under Falco's Prometheus name
and labels, so Falco's dashboards and alerts work unchanged; saker's own
metrics are named `saker_*`:

| metric | type | labels | what |
| --- | --- | --- | --- |
| `falcosecurity_falco_version_info` | gauge | `version` | 1 |
| `falcosecurity_scap_engine_name_info` | gauge | `engine_name` (`modern_bpf`, `savefile`, `nodriver`, `userspace`) | 1 |
| `falcosecurity_falco_kernel_release_info` | gauge | `kernel_release` | 1 |
| `falcosecurity_evt_hostname_info` | gauge | `hostname` | 1 |
| `falcosecurity_falco_sha256_rules_files_info` | gauge | `file_name`, `sha256` | 1 per rules file |
| `falcosecurity_falco_sha256_config_files_info` | gauge | `file_name`, `sha256` | 1 per configuration file |
| `falcosecurity_falco_evt_source_info` | gauge | `evt_source` | 1 |
| `falcosecurity_falco_start_timestamp_nanoseconds` | gauge | | start time |
| `falcosecurity_falco_host_boot_timestamp_nanoseconds` | gauge | | boot time |
| `falcosecurity_falco_duration_seconds_total` | counter | | seconds since start |
| `falcosecurity_falco_host_num_cpus_total` | gauge | | CPUs |
| `falcosecurity_scap_n_evts_total` | counter | | events produced by the source |
| `falcosecurity_scap_n_drops_total` | counter | | events lost, all reasons |
| `falcosecurity_scap_n_drops_buffer_total` | counter | `dir` = exit, `drop` = clone_fork, execve, open, connect, close, other_interest | lost to a full buffer |
| `falcosecurity_scap_n_threads_total`, `falcosecurity_scap_n_fds_total` | gauge | | the thread table's threads and fds |
| `falcosecurity_falco_rules_matches_total` | counter | `priority` (0-7), `rule_name`, `source`, `tags` (sorted, `", "`-joined) | matches per rule |
| `falcosecurity_falco_outputs_queue_num_drops_total` | counter | | alerts dropped, all outputs |
| `falcosecurity_falco_cpu_usage_ratio` | gauge | | CPU time / lifetime, of one CPU |
| `falcosecurity_falco_memory_rss_bytes`, `falcosecurity_falco_memory_vsz_bytes` | gauge | | memory |
| `saker_n_evts_total` | counter | | events processed by saker |
| `saker_scap_n_drops_too_large_total`, `saker_scap_n_drops_other_total` | counter | | lost for being too large, or another reason |
| `saker_scap_n_filtered_total` | counter | | left out by the kernel filters derived from the rules (not drops) |
| `saker_outputs_sent_total`, `saker_outputs_dropped_total`, `saker_outputs_errors_total` | counter | `output` | per output |
| `saker_outputs_queued` | gauge | `output` | alerts waiting |
| `saker_cpu_seconds_total` | counter | | CPU time (user + system) |

Deliberate differences: one `# HELP`/`# TYPE` pair per family; no TLS
(`ssl_enabled` is refused). [`Metrics::snapshot`] gives the values of
Falco's periodic "metrics snapshot" alert (`falco.*`, `scap.*` keys).
*/

mod process;
mod registry;
mod server;

pub use registry::{
    DropCategory, FileDigest, Metrics, MetricsInfo, OutputSample, RuleCounter, SnapshotParts, SnapshotValue,
    SourceCounters,
};
pub use server::{Error, MetricsServer, PROMETHEUS_CONTENT_TYPE, WebserverConfig};
