//! The output keys of the configuration, named as in `falco.yaml`.
//!
//! [`OutputsConfig`] deserializes from the top level of the configuration
//! document (keys it does not know are ignored), so
//! `saker_config::Config::section::<OutputsConfig>()` reads it directly. A key
//! that is absent takes the value Falco's code gives it when it is absent,
//! except where noted (`outputs_queue.capacity`, `http_output.user_agent`,
//! and saker's own keys).

use serde::Deserialize;

use crate::alert::Priority;

/// Capacity of each output's queue when `outputs_queue.capacity` is 0.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Every key the outputs read.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct OutputsConfig {
    /// `priority`: alerts less severe than this are not emitted (Falco does
    /// not load such rules; the outputs drop them too, uncounted).
    pub priority: Priority,
    /// `json_output`: write JSON instead of text lines.
    pub json_output: bool,
    /// `json_include_output_property` (default true): JSON has `output`.
    pub json_include_output_property: bool,
    /// `json_include_tags_property` (default true): JSON has `tags`.
    pub json_include_tags_property: bool,
    /// `json_include_message_property` (default false): JSON has `message`,
    /// the output without the time and priority prefix.
    pub json_include_message_property: bool,
    /// `json_include_output_fields_property` (default true): JSON has
    /// `output_fields`.
    pub json_include_output_fields_property: bool,
    /// `time_format_iso_8601`: text lines start with the ISO 8601 UTC time.
    pub time_format_iso_8601: bool,
    /// `buffered_outputs`: let stdout, file and program outputs buffer
    /// (flushed at shutdown and on [`crate::Outputs::flush`]); default false,
    /// every alert is flushed.
    pub buffered_outputs: bool,
    /// `output_timeout` (ms, default 2000): how long one delivery may take.
    /// saker uses it as the HTTP request timeout and the NATS publish/ack
    /// timeout, so a dead receiver costs a bounded time per alert.
    pub output_timeout: u64,
    /// `outputs_queue`.
    pub outputs_queue: OutputsQueueConfig,
    /// `stdout_output`.
    pub stdout_output: StdoutOutputConfig,
    /// `syslog_output`.
    pub syslog_output: SyslogOutputConfig,
    /// `file_output`.
    pub file_output: FileOutputConfig,
    /// `http_output`.
    pub http_output: HttpOutputConfig,
    /// `program_output`.
    pub program_output: ProgramOutputConfig,
    /// `nats_output` (saker's own).
    pub nats_output: NatsOutputConfig,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            priority: Priority::Debug,
            json_output: false,
            json_include_output_property: true,
            json_include_tags_property: true,
            json_include_message_property: false,
            json_include_output_fields_property: true,
            time_format_iso_8601: false,
            buffered_outputs: false,
            output_timeout: 2000,
            outputs_queue: OutputsQueueConfig::default(),
            stdout_output: StdoutOutputConfig::default(),
            syslog_output: SyslogOutputConfig::default(),
            file_output: FileOutputConfig::default(),
            http_output: HttpOutputConfig::default(),
            program_output: ProgramOutputConfig::default(),
            nats_output: NatsOutputConfig::default(),
        }
    }
}

/// `outputs_queue`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct OutputsQueueConfig {
    /// `capacity`: alerts each output may hold queued. Falco has one queue
    /// for all outputs and reads 0 as unbounded; saker gives every output
    /// its own queue and always bounds it, reading 0 as
    /// [`DEFAULT_QUEUE_CAPACITY`].
    pub capacity: usize,
}

/// `stdout_output`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct StdoutOutputConfig {
    /// `enabled`.
    pub enabled: bool,
}

/// `syslog_output`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct SyslogOutputConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `socket` (saker's own, default `/dev/log`): the local syslog socket.
    pub socket: String,
}

impl Default for SyslogOutputConfig {
    fn default() -> Self {
        SyslogOutputConfig { enabled: false, socket: "/dev/log".into() }
    }
}

/// `file_output`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FileOutputConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `keep_alive`: open the file once; otherwise open, append and close
    /// it for every alert.
    pub keep_alive: bool,
    /// `filename`: the file alerts are appended to (created if missing).
    pub filename: String,
}

/// `http_output`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpOutputConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `url`: where alerts are POSTed (quotes around it are removed, as
    /// Falco does).
    pub url: String,
    /// `user_agent` (default `saker`; Falco's is `falcosecurity/falco`).
    pub user_agent: String,
    /// `insecure`: do not verify the server's certificate.
    pub insecure: bool,
    /// `ca_cert`: a PEM file of CA certificates to verify the server with.
    pub ca_cert: String,
    /// `ca_bundle`: same, used when `ca_cert` is empty.
    pub ca_bundle: String,
    /// `ca_path` (default `/etc/ssl/certs`): a directory of PEM
    /// certificates, used when both files are empty. If it holds none,
    /// Mozilla's roots are used.
    pub ca_path: String,
    /// `mtls`: present `client_cert` and `client_key`.
    pub mtls: bool,
    /// `client_cert` (PEM).
    pub client_cert: String,
    /// `client_key` (PEM).
    pub client_key: String,
    /// `echo`: print the server's answers on stdout.
    pub echo: bool,
    /// `compress_uploads`: accepted for compatibility. In Falco it asks
    /// libcurl for a compressed *response* transfer encoding; responses
    /// are discarded, so it changes nothing here.
    pub compress_uploads: bool,
    /// `keep_alive`: accepted for compatibility. Falco turns on TCP
    /// keep-alive probes; saker always reuses its HTTP connection and has
    /// no probes to turn on.
    pub keep_alive: bool,
    /// `max_consecutive_timeouts` (default 5): how many times a request
    /// that timed out is sent again before the alert counts as an error.
    pub max_consecutive_timeouts: u8,
}

impl Default for HttpOutputConfig {
    fn default() -> Self {
        HttpOutputConfig {
            enabled: false,
            url: String::new(),
            user_agent: "saker".into(),
            insecure: false,
            ca_cert: String::new(),
            ca_bundle: String::new(),
            ca_path: "/etc/ssl/certs".into(),
            mtls: false,
            client_cert: "/etc/ssl/certs/client.crt".into(),
            client_key: "/etc/ssl/certs/client.key".into(),
            echo: false,
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
        }
    }
}

/// `program_output`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProgramOutputConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `keep_alive`: start the program once and write every alert to it;
    /// otherwise start it for every alert.
    pub keep_alive: bool,
    /// `program`: a shell command (`sh -c`), reading alerts on its stdin,
    /// one per line.
    pub program: String,
}

/// `nats_output` (saker's own): alerts as Falco's JSON, published to a
/// JetStream subject and acknowledged by the server.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct NatsOutputConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `url` (default `nats://127.0.0.1:4222`): the server; user and
    /// password or a token may be given in it (`nats://user:pass@host`).
    pub url: String,
    /// `subject` (default `saker.alerts`).
    pub subject: String,
    /// `stream`: if not empty, the JetStream stream to create (capturing
    /// `subject`) when it does not exist. If empty, a stream capturing
    /// `subject` must exist already.
    pub stream: String,
}

impl Default for NatsOutputConfig {
    fn default() -> Self {
        NatsOutputConfig {
            enabled: false,
            url: "nats://127.0.0.1:4222".into(),
            subject: "saker.alerts".into(),
            stream: String::new(),
        }
    }
}
