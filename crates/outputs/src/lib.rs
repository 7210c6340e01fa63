/*!
Where saker's alerts go: Falco's outputs (stdout, file, syslog, HTTP,
program) with Falco's formats and `falco.yaml` keys, plus NATS JetStream as
the bridge to a fleet.

The rules engine turns each rule match into an [`Alert`] (time, rule,
priority, source, tags, hostname, the rendered output and its fields) and
hands it to [`Outputs::emit`]. The alert is encoded once ([`Encoder`]):

- text, as Falco prints it: `HH:MM:SS.nnnnnnnnn: Priority output` (local
  time), or `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000: Priority output` with
  `time_format_iso_8601`;
- JSON with `json_output`: Falco's compact, key-sorted object
  `{"hostname","message"?,"output"?,"output_fields"?,"priority","rule","source","tags"?,"time"}`
  under the `json_include_*_property` switches, which is what
  falcosidekick reads from `http_output`.

Then it is queued on every enabled output. Unlike Falco, which runs every
output in turn on one thread behind one queue, each output here has its own
thread and its own bounded queue (`outputs_queue.capacity`): a slow or dead
destination fills only its own queue, [`Outputs::emit`] never waits, and
what an output could not take is counted for that output
([`OutputStats::dropped`]), as are failed deliveries
([`OutputStats::errors`]). [`Outputs::shutdown`] delivers what is queued
within a time limit.

| output | what it does |
| --- | --- |
| `stdout_output` | one line per alert |
| `file_output` | appends lines; `keep_alive` keeps the file open |
| `syslog_output` | `LOG_USER` facility, the rule's priority as severity, to `/dev/log` (or `socket`) |
| `program_output` | lines to the stdin of `sh -c program`; `keep_alive` keeps it running |
| `http_output` | POSTs each alert; `output_timeout` per request, retried `max_consecutive_timeouts` times on timeout |
| `nats_output` | Falco's JSON to a JetStream subject, counted when the server acknowledges it; creates `stream` if asked |

This crate does not match rules, render rule outputs or read configuration
files: it takes an [`OutputsConfig`] (deserializable from the configuration
document, e.g. with `saker_config::Config::section`) and alerts already
rendered. It has no gRPC output (removed from Falco in 0.44) and no
`outputs.rate` throttling (removed in Falco 0.37).
*/

mod alert;
mod config;
mod dispatch;
mod error;
mod format;
mod sinks;

pub use alert::{Alert, FieldValue, Priority, UnknownPriority};
pub use config::{
    DEFAULT_QUEUE_CAPACITY, FileOutputConfig, HttpOutputConfig, NatsOutputConfig, OutputsConfig, OutputsQueueConfig,
    ProgramOutputConfig, StdoutOutputConfig, SyslogOutputConfig,
};
pub use dispatch::{OutputStats, Outputs, ShutdownReport};
pub use error::{DeliveryError, Error};
pub use format::Encoder;
