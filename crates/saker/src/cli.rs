//! Command-line flags.

use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Runtime security and system-call capture: Falco's and sysdig's job, one binary.
#[derive(Parser, Debug)]
#[command(name = "saker", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print or record system-call events, like sysdig.
    ///
    /// Reads a capture file (-r) and prints one line per event in sysdig's
    /// format, or the fields named with -p. A trailing FILTER keeps only the
    /// events matching it. With -w, writes the (matching) events to a capture
    /// file that sysdig and Falco read.
    #[command(after_help = TRACE_EXAMPLES)]
    Trace(TraceArgs),
}

const TRACE_EXAMPLES: &str = "\
Examples:
  saker trace -r capture.scap
  saker trace -r capture.scap -p '%evt.num %evt.type %evt.args'
  saker trace -r capture.scap -n 100 -w first100.scap
  saker trace -r capture.scap -j -p '%evt.time %evt.type %evt.arg.fd'
  saker trace -r capture.scap evt.type=openat and fd.name startswith /etc

Format fields (-p): %evt.num %evt.time %evt.datetime %evt.rawtime %evt.cpu %evt.dir
  %evt.type %evt.args %evt.info %evt.res %evt.arg.NAME %evt.arg[N] %evt.rawarg.NAME
  %thread.tid %proc.name. %NNfield pads or cuts a value to NN bytes. A line is
  printed only when every field has a value, unless the format starts with '*'
  (then missing values print as <NA>), as in sysdig.";

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Read events from this capture file (.scap, optionally gzip-compressed).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: PathBuf,

    /// Also write the events read to this capture file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Stop after this many events.
    #[arg(short = 'n', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,

    /// Output format: text with %field references (see below).
    #[arg(short = 'p', long = "print", value_name = "FORMAT")]
    pub print: Option<String>,

    /// Print one JSON object per event instead of a text line.
    #[arg(short = 'j', long = "json")]
    pub json: bool,

    /// Do not print events (useful with -w).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Only events matching this condition, in Falco's filter language
    /// (e.g. `evt.type=open and fd.name startswith /etc`).
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,
}

/// A mistake in how saker was invoked (bad format, bad filter): exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
