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
    /// Captures live from the kernel with the default driver (auto: the
    /// first usable of modern-ebpf, kmod and ebpf; root needed), or reads a capture file (-r), and prints one line per
    /// event in sysdig's format, or the fields named with -p. A trailing
    /// FILTER keeps only the events matching it. With -w, writes the
    /// (matching) events to a capture file that sysdig and Falco read; a live
    /// capture starts with the processes, fds and users read from /proc.
    /// Ctrl-C stops a live capture cleanly.
    #[command(after_help = TRACE_EXAMPLES)]
    Trace(TraceArgs),

    /// List the fields formats, filters and rules can use, like sysdig -l.
    ///
    /// Prints each field with its type and what it means, grouped by class
    /// (evt, process, user, group, container, fd, fdlist, k8s). Give name
    /// prefixes to list only those fields.
    #[command(after_help = FIELDS_EXAMPLES)]
    Fields(FieldsArgs),

    /// Evaluate Falco rules on events and raise alerts, like falco.
    ///
    /// Loads the rules files given with -r (or saker's built-in rules), then
    /// evaluates them on the events of the default driver, or of a capture
    /// file with -e, and sends alerts to the outputs the configuration
    /// enables (stdout by default).
    #[command(after_help = DETECT_EXAMPLES, disable_version_flag = true)]
    Detect(DetectArgs),

    /// Build, load, unload and inspect saker's kernel module (--driver kmod),
    /// build the legacy eBPF probe (--driver ebpf), show what --driver auto picks.
    Driver(crate::driver::DriverArgs),

    /// Write saker's man pages, or a shell's completions to stdout,
    /// generated from these flags (for packagers).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: Generated,
}

#[derive(Subcommand, Debug)]
pub enum Generated {
    /// The man pages (roff) into DIR: saker.1 and one per subcommand.
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
    /// Completions for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const DETECT_EXAMPLES: &str = "\
Examples:
  saker detect                                   # built-in rules, default driver
  saker detect -r falco_rules.yaml -e capture.scap
  saker detect -r falco_rules.yaml --dry-run     # load and check the rules only
  saker detect -c saker.yaml -o json_output=true -o http_output.enabled=true \\
               -o http_output.url=http://127.0.0.1:2801/

Configuration keys follow falco.yaml (rules_files, rule_matching, priority,
json_output, stdout_output, file_output, syslog_output, http_output,
program_output, nats_output, syscall_event_drops, webserver, ...).";

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// A rules file; repeat to load several, in order (default: the
    /// configuration's rules_files, else saker's built-in rules).
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,

    /// Configuration file (falco.yaml keys).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Override one configuration key: -o key.path=value (value in YAML).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,

    /// Replay a capture file instead of capturing live, like falco -e.
    #[arg(short = 'e', long = "replay", value_name = "CAPTURE")]
    pub replay: Option<PathBuf>,

    /// The driver to capture with (default: the configuration's engine.kind).
    #[arg(long = "driver", value_name = "NAME")]
    pub driver: Option<String>,

    /// Load the configuration and the rules, report problems, and exit.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Validate these rules files (repeat for several, loaded in order),
    /// print the located errors, and exit 1 if any (as falco -V).
    #[arg(short = 'V', long = "validate", value_name = "RULES")]
    pub validate: Vec<PathBuf>,

    /// List the rules loaded, with their descriptions, and exit (falco -L).
    #[arg(short = 'L')]
    pub list_rules: bool,

    /// Describe the rule named RULE (condition, output, priority, tags) and exit (falco -l).
    #[arg(short = 'l', value_name = "RULE")]
    pub describe_rule: Option<String>,

    /// List the fields rules can use (SOURCE: only `syscall` exists), and exit.
    #[arg(long = "list", value_name = "SOURCE", num_args = 0..=1, default_missing_value = "")]
    pub list: Option<String>,

    /// List the event types (with their parameters) rules can match, and exit.
    #[arg(long = "list-events")]
    pub list_events: bool,

    /// Print, as JSON, the versions, the kernel, the configuration and the
    /// rules files with their sha256, and exit (falco --support).
    #[arg(long = "support")]
    pub support: bool,

    /// Print the versions of saker, the rules engine, the event schema and
    /// the drivers, and exit.
    #[arg(long = "version")]
    pub version: bool,

    /// Append this text (with %fields) to every rule's output, as falco -p.
    #[arg(short = 'p', long = "print", value_name = "FORMAT")]
    pub print: Option<String>,

    /// Stop after this many seconds (a live capture; falco -M).
    #[arg(short = 'M', value_name = "SECONDS")]
    pub seconds: Option<f64>,

    /// Write every alert at once, unbuffered (buffered_outputs=false).
    #[arg(short = 'U', long = "unbuffered")]
    pub unbuffered: bool,

    /// All events: accepted for Falco's users; saker leaves no event type
    /// out by default, so it changes nothing.
    #[arg(short = 'A')]
    pub all_events: bool,

    /// Read rules and configuration files that group or others may write
    /// (refused by default: whoever can write them controls saker).
    #[arg(long = "allow-writable-files")]
    pub allow_writable_files: bool,

    /// With --driver userspace: attach to this process, all its threads and
    /// descendants (-p is Falco's and sysdig's output format, so the pid is
    /// --pid).
    #[arg(long = "pid", value_name = "PID", conflicts_with = "replay")]
    pub pid: Option<i32>,

    /// With --driver userspace: the command to run under the tracer, after
    /// `--` (saker exits with its exit code).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

const TRACE_EXAMPLES: &str = "\
Examples:
  saker trace                                    # live, every syscall, until Ctrl-C
  saker trace -w live.scap proc.name=curl        # record curl's events (sysdig -r reads it)
  saker trace --syscalls openat,execve,connect -M 10 --stats
  saker trace -r capture.scap
  saker trace -r capture.scap -p '%evt.num %evt.type %evt.args'
  saker trace -r capture.scap -n 100 -w first100.scap
  saker trace -r capture.scap -j -p '%evt.time %evt.type %evt.arg.fd'
  saker trace -r capture.scap evt.type=openat and fd.name startswith /etc

Format fields (-p): %evt.num %evt.time %evt.datetime %evt.rawtime %evt.cpu %evt.dir
  %evt.type %evt.args %evt.info %evt.res %evt.arg.NAME %evt.arg[N] %evt.rawarg.NAME
  %thread.tid %proc.name... (saker fields lists them all). %NNfield pads or cuts a
  value to NN bytes. A line is printed only when every field has a value, unless the
  format starts with '*' (then missing values print as <NA>), as in sysdig.";

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Read events from this capture file (.scap, optionally gzip-compressed)
    /// instead of capturing live.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// Also write the events (those matching FILTER) to this capture file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Stop after this many events (those matching FILTER).
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

    /// At exit, print the source's counters to stderr: events seen, drops by
    /// category (buffer full: process, exec, open, connect, close, other; too
    /// large; other), and the sizes of the thread and fd tables.
    #[arg(long = "stats")]
    pub stats: bool,

    /// Live: the driver to capture with: auto (default: the first usable of
    /// modern-ebpf, kmod, ebpf), modern-ebpf, kmod, ebpf, userspace.
    #[arg(long = "driver", value_name = "NAME", conflicts_with = "read", help_heading = "Live capture")]
    pub driver: Option<String>,

    /// Live: stop after this many seconds (like sysdig -M).
    #[arg(
        short = 'M',
        long = "seconds",
        value_name = "SECONDS",
        conflicts_with = "read",
        help_heading = "Live capture"
    )]
    pub seconds: Option<f64>,

    /// Live: only these system calls, comma-separated, are captured (chosen in
    /// the kernel; process exits are always captured). Default: every one, or,
    /// with a filter, those its event types can match plus those the state
    /// tracking needs.
    #[arg(
        long = "syscalls",
        value_name = "LIST",
        value_delimiter = ',',
        conflicts_with = "read",
        help_heading = "Live capture"
    )]
    pub syscalls: Vec<String>,

    /// Live: CPUs sharing one ring buffer (0: one ring for all CPUs).
    #[arg(long = "cpus-for-each-buffer", value_name = "N", default_value_t = 2, help_heading = "Live capture")]
    pub cpus_for_each_buffer: usize,

    /// Live: bytes of each ring buffer, a power of two (8388608, 8M, 512K...).
    #[arg(long = "buffer-size", value_name = "BYTES", default_value = "8M", value_parser = crate::source::parse_size, help_heading = "Live capture")]
    pub buffer_size: usize,

    /// Live: bytes of data captured from read/write-like calls (at most 65535).
    #[arg(short = 's', long = "snaplen", value_name = "BYTES", default_value_t = 80, help_heading = "Live capture")]
    pub snaplen: u32,

    /// Write the capture gzip-compressed (also when the -w name ends in .gz).
    #[arg(short = 'z', long = "compress")]
    pub compress: bool,

    /// With -w: start a new file when the current one reaches this many
    /// megabytes (10^6 bytes; decimals allowed); files are named FILE0,
    /// FILE1... (sysdig -C).
    #[arg(short = 'C', long = "file-size", value_name = "MB", requires = "write")]
    pub file_size: Option<f64>,

    /// With -w: start a new file every this many seconds; FILE may hold
    /// strftime(3) fields (%Y-%m-%d_%H%M%S), otherwise files are numbered
    /// (sysdig -G).
    #[arg(short = 'G', long = "seconds-per-file", value_name = "SECONDS", requires = "write")]
    pub seconds_per_file: Option<f64>,

    /// With -C or -G: keep at most this many files, reusing the oldest
    /// name (FILE0 after FILE{N-1}): a ring of files (sysdig -W).
    #[arg(short = 'W', long = "limit", value_name = "NUM", requires = "write")]
    pub file_limit: Option<u32>,

    /// At the end, print how many events of each type were seen (those
    /// matching FILTER), most frequent first (sysdig -S).
    #[arg(short = 'S', long = "summary")]
    pub summary: bool,

    /// Data buffers as text only: printable bytes and line ends (sysdig -A).
    #[arg(short = 'A', long = "print-ascii", conflicts_with_all = ["print_hex", "print_hex_ascii"])]
    pub print_ascii: bool,

    /// Data buffers as a hex dump (sysdig -x).
    #[arg(short = 'x', long = "print-hex", conflicts_with = "print_hex_ascii")]
    pub print_hex: bool,

    /// Data buffers as a hex dump with their printable text (sysdig -X).
    #[arg(short = 'X', long = "print-hex-ascii")]
    pub print_hex_ascii: bool,

    /// How the default line's time prints (sysdig -t): h human (default),
    /// a absolute (epoch seconds), r relative to the first event, d the
    /// enter-to-exit latency, D since the previous event.
    #[arg(short = 't', long = "timetype", value_name = "h|a|r|d|D", value_parser = ["h", "a", "r", "d", "D"])]
    pub timetype: Option<String>,

    /// Port numbers print as numbers (sysdig -N); saker never turns them
    /// into service names, so this is what it does anyway.
    #[arg(short = 'N')]
    pub numeric_ports: bool,

    /// Verbose: data buffers print whole instead of cut at 80 bytes (sysdig -v).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Only events matching this condition, in Falco's filter language
    /// (e.g. `evt.type=open and fd.name startswith /etc`).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// With --driver userspace: attach to this process, all its threads and
    /// descendants (-p is sysdig's format flag, so the pid is --pid).
    #[arg(long = "pid", value_name = "PID", conflicts_with = "read", help_heading = "Live capture")]
    pub pid: Option<i32>,

    /// With --driver userspace: the command to run under the tracer, after
    /// `--` (saker exits with its exit code).
    #[arg(last = true, value_name = "CMD", help_heading = "Live capture")]
    pub command: Vec<String>,
}

const FIELDS_EXAMPLES: &str = "\
Examples:
  saker fields                 # every field
  saker fields proc. thread.   # the process and thread fields
  saker fields fd.sip          # fd.sip and fd.sip.name
  saker fields --json          # as JSON, for tools";

#[derive(Args, Debug)]
pub struct FieldsArgs {
    /// List only the fields whose name starts with one of these (proc., fd.cip).
    #[arg(value_name = "PREFIX")]
    pub prefix: Vec<String>,

    /// Print a JSON array of {name, class, type, filter_type, arg, arg_syntax, filter_only, in_sysdig_0_29_3, desc}.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
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
