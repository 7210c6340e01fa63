//! `saker trace`: print or record events, like sysdig.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use saker_abi::{Category, EventType, EventTypeSet};
use saker_driver::{Next, SourceStats, StopHandle};
use saker_fields::{BufferStyle, DEFAULT_FORMAT, EventContext, Format, OutputTime, TimeFormatter};
use saker_filter::Filter;
use saker_scap::{Compression, WriteOptions};
use saker_state::{Limits, State};

use crate::cli::{TraceArgs, UsageError};
use crate::source::{self, LiveOptions, SourceRequest};
use crate::trace_out::{Rotation, TraceWriter};

/// Whether sysdig shows an event by default: internal events (drops,
/// container metadata, process info) are consumed for state but not printed.
struct Visibility {
    show_internal: bool,
    /// Container events at the very start of a capture describe the
    /// containers that existed when it began; sysdig never prints them.
    seen_other_event: bool,
}

impl Visibility {
    fn shows(&mut self, ty: EventType) -> bool {
        let is_container = ty == EventType::CONTAINER_JSON_E || ty == EventType::CONTAINER_JSON_2_E;
        if is_container && !self.seen_other_event {
            return false;
        }
        self.seen_other_event = true;
        if self.show_internal {
            return true;
        }
        ty.info().is_none_or(|i| i.category.class() != Category::INTERNAL)
    }
}

/// Output is gathered here and written in large blocks.
const OUT_BLOCK: usize = 128 * 1024;
/// Live output is flushed at least this often, so a slow trickle of events
/// shows up without waiting for a full block.
const LIVE_FLUSH: Duration = Duration::from_millis(100);

/// What the loop counted, for `--stats`.
#[derive(Default)]
struct Counts {
    /// Events read from the source.
    read: u64,
    /// Of those, passed over by the source (delivered events say how many
    /// came before them).
    passed_over: u64,
    /// Events that passed the filter.
    matched: u64,
    /// Events written to the capture file (-w), synthesized enter events included.
    written: u64,
    /// Threads in the state's table at the start, at the end, and at most.
    threads_start: usize,
    threads_peak: usize,
}

pub fn run(args: TraceArgs) -> Result<ExitCode> {
    let format_text = args.print.as_deref().unwrap_or(DEFAULT_FORMAT);
    let format = Format::parse(format_text).map_err(|e| UsageError(format!("invalid format '{format_text}': {e}")))?;
    let filter = compile_filter(&args.filter)?;
    let live = args.read.is_none();
    let style = if args.print_ascii {
        BufferStyle::Ascii
    } else if args.print_hex {
        BufferStyle::Hex
    } else if args.print_hex_ascii {
        BufferStyle::HexAscii
    } else {
        BufferStyle::Dotted
    };
    // Rendering happens on this thread only.
    saker_fields::set_buffer_style(style, args.verbose);
    let output_time = match args.timetype.as_deref() {
        Some("a") => OutputTime::Absolute,
        Some("r") => OutputTime::Relative,
        Some("d") => OutputTime::Latency,
        Some("D") => OutputTime::Delta,
        _ => OutputTime::Human,
    };
    let rotation = Rotation::from_flags(args.file_size, args.seconds_per_file, args.file_limit)?;

    // Without --syscalls, a live driver delivers what the filter can match
    // plus what the state needs: nothing else can be printed or written, and
    // every syscall left in the kernel is one less to copy (or, under the
    // userspace driver, one less ptrace stop).
    let syscalls = if !args.syscalls.is_empty() {
        Some(args.syscalls.iter().map(|s| s.trim().to_string()).collect())
    } else {
        filter.as_ref().and_then(|f| source::syscalls_for(f.event_types()))
    };
    let request = SourceRequest {
        capture: args.read.as_deref(),
        driver: args.driver.as_deref(),
        live: LiveOptions {
            cpus_for_each_buffer: args.cpus_for_each_buffer,
            buffer_size: args.buffer_size,
            snaplen: args.snaplen,
            syscalls,
            drop_failed_exit: false,
            // A trace keeps every event of its system calls: it may be
            // written to a capture, read with any filter later.
            kernel_filters: false,
            open_filter: None,
            unimplemented_syscalls: true,
        },
        limits: Limits::default(),
        command: &args.command,
        attach: args.pid,
        // saker trace keeps its capabilities (it may rotate and reopen files).
        keep_capabilities: None,
    };
    let source::Opened { mut source, mut state, header, tracer, launched, driver: opened_driver } =
        source::open(&request)?;
    // The event types the format can print a line for (those with an fd,
    // for a format that requires an fd field's value): other events are
    // not formatted at all.
    let printable = format.printable_types();
    // When only printed lines come out (no capture written, nothing that
    // counts the events the filter matches: -n, -S, --stats), an event the
    // format cannot print is needed only by the state.
    let only_printed = args.write.is_none() && args.count.is_none() && !args.summary && !args.stats && !args.quiet;
    // Events that neither the filter can match (nor, when only printed
    // lines come out, the format print) nor the state needs for the fields
    // in use are read and counted, but not delivered (a capture passes
    // them over on its reading thread). When writing a capture, every
    // event is needed.
    if args.write.is_none() {
        let reads = filter.as_ref().map_or(format.state_reads(), |f| f.state_reads().union(format.state_reads()));
        let matched = filter.as_ref().map_or(EventTypeSet::all(), |f| *f.event_types());
        let wanted = if only_printed { matched.intersect(&printable) } else { matched };
        if filter.is_some() || !wanted.is_all() {
            source::pass_over_unneeded(source.as_mut(), reads, &wanted);
        }
    }
    let stop = source.stop_handle();
    if live {
        crate::signals::install(stop.clone(), if launched { tracer } else { None }, true)?;
        if let Some(secs) = args.seconds {
            stop_after(stop.clone(), secs)?;
        }
    }

    let mut writer = match &args.write {
        Some(path) => {
            // Live captures are made for sysdig 0.29.3 too: enter events
            // back, and no syscall code it does not know in generic events.
            // Replayed ones are copied as they are.
            let gzip = args.compress || path.extension().is_some_and(|e| e == "gz");
            let opts = WriteOptions {
                pair_enter_events: live,
                legacy_generic_ids: live,
                compression: if gzip { Compression::Gzip(6) } else { Compression::None },
                ..WriteOptions::default()
            };
            Some(TraceWriter::create(path, opts, rotation, header.as_ref())?)
        }
        None => None,
    };
    drop(header);
    let mut summary: Vec<u64> = if args.summary { vec![0; 1 << 16] } else { Vec::new() };

    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut out = Vec::with_capacity(OUT_BLOCK + 64 * 1024);
    let time = TimeFormatter::default().with_output(output_time);
    let mut visibility = Visibility { show_internal: false, seen_other_event: false };
    let mut counts = Counts { threads_start: state.thread_count(), ..Counts::default() };
    counts.threads_peak = counts.threads_start;
    let limit = args.count.unwrap_or(u64::MAX);
    let mut last_flush = Instant::now();

    // -n counts the events written when writing (a live capture gets an
    // enter event before each exit, as sysdig counts them), else those printed.
    let counted = |c: &Counts, writing: bool| if writing { c.written } else { c.matched };
    let writing = writer.is_some();
    let result = loop {
        if counted(&counts, writing) >= limit {
            break Ok(());
        }
        let rec = match source.next_event() {
            Ok(Next::Event(rec)) => rec,
            Ok(Next::Idle) => {
                if let Err(e) = flush(&mut stdout, &mut out, writer.as_mut()) {
                    break Err(e);
                }
                last_flush = Instant::now();
                continue;
            }
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e.into()),
        };
        // Every event read gets a number, those passed over too; -n counts
        // the events that pass the filter.
        if rec.passed_over > 0 {
            counts.read += rec.passed_over;
            counts.passed_over += rec.passed_over;
            state.count_unapplied(rec.passed_over);
            visibility.seen_other_event = true;
        }
        counts.read += 1;
        state.apply(&rec.event, rec.cpu);
        // Metadata the runtimes gave goes into the capture as container
        // events, so that replays know it too.
        if state.has_new_containers()
            && let Some(w) = writer.as_mut()
            && let Err(e) = write_containers(w, &mut state, rec.cpu, rec.event.ts())
        {
            break Err(e);
        }
        counts.threads_peak = counts.threads_peak.max(state.thread_count());
        if live && counts.read % 256 == 0 && last_flush.elapsed() >= LIVE_FLUSH {
            if let Err(e) = flush(&mut stdout, &mut out, writer.as_mut()) {
                break Err(e);
            }
            last_flush = Instant::now();
        }
        // Events of types the filter cannot match (delivered for the state)
        // go before the context is built.
        if let Some(f) = &filter
            && !f.event_types().contains(rec.event.event_type())
        {
            continue;
        }
        let ctx = EventContext { event: rec.event, num: counts.read, cpu: rec.cpu, time: &time, state: &state };
        if let Some(f) = &filter
            && !f.matches(&ctx)
        {
            continue;
        }
        counts.matched += 1;
        if let Some(slot) = summary.get_mut(rec.event.event_type().0 as usize) {
            *slot += 1;
        }
        if let Some(w) = writer.as_mut() {
            match w.write(rec.cpu, rec.dump_flags, &rec.event, rec.event.ts(), &state, limit - counts.written) {
                Ok(n) => counts.written += n,
                Err(e) => break Err(e),
            }
        }
        // An event the format cannot print is not tried (the attempt would
        // fail on a missing value, after formatting the fields before it).
        if args.quiet || !visibility.shows(rec.event.event_type()) || !printable.contains(rec.event.event_type()) {
            continue;
        }
        // Fields append to the output block; a line without all its values
        // is taken back by the format itself.
        let printed = if args.json { format.write_json(&ctx, &mut out) } else { format.write(&ctx, &mut out) };
        if printed {
            out.push(b'\n');
            if out.len() >= OUT_BLOCK {
                if let Err(e) = stdout.write_all(&out) {
                    break Err(e.into());
                }
                out.clear();
            }
        }
    };
    // Stop the source (a live driver detaches) before the final flushes.
    stop.stop();
    let stats = source.stats();
    // Events passed over after the last one delivered.
    let trailing = stats.passed_over - counts.passed_over;
    counts.read += trailing;
    state.count_unapplied(trailing);
    let exit_code = source.exit_code();
    drop(source);
    let printed = stdout.write_all(&out).and_then(|()| stdout.flush());
    let finished = writer.map(TraceWriter::finish).transpose();
    if args.summary {
        print_summary(&summary);
    }
    if args.stats {
        let name = if live { opened_driver } else { "capture" };
        print_stats(name, &stats, &counts, &state);
    }
    result?;
    finished?;
    printed?;
    // With a launched command, saker's exit code is the command's.
    Ok(exit_code.map_or(ExitCode::SUCCESS, |c| ExitCode::from(c.clamp(0, 255) as u8)))
}

/// `-S`: events by type (direction and name), most frequent first, on
/// stdout after the events.
fn print_summary(counts: &[u64]) {
    let mut rows: Vec<(u64, String)> = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| {
            let ty = EventType(code as u16);
            let name = ty.info().map_or("unknown", |i| i.name);
            (*n, format!("{}{name}", if ty.is_enter() { '>' } else { '<' }))
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "----------------------\n{:<30} {:>10}\n----------------------", "Event", "#Calls");
    for (n, name) in rows {
        let _ = writeln!(o, "{name:<30} {n:>10}");
    }
}

/// Writes the pending output and flushes the capture file's buffer.
/// Writes a container event (libs' `PPME_CONTAINER_JSON_2_E`, no thread)
/// for each container whose metadata arrived. They are not counted by -n:
/// they describe, they are not events of the workload.
fn write_containers(w: &mut TraceWriter, state: &mut State, cpu: u16, ts: u64) -> Result<()> {
    let mut buf = Vec::new();
    let containers = state.take_new_containers();
    for c in containers {
        buf.clear();
        let mut b = saker_abi::EventBuilder::new(&mut buf, ts, u64::MAX, EventType(CONTAINER_JSON_2_E));
        b.param_str(&c.to_json());
        b.finish();
        w.write(cpu, None, &saker_abi::Event::parse(&buf)?, ts, state, u64::MAX)?;
    }
    Ok(())
}

/// libs' container event with a JSON description.
const CONTAINER_JSON_2_E: u16 = 324;

fn flush(stdout: &mut impl Write, out: &mut Vec<u8>, writer: Option<&mut TraceWriter>) -> Result<()> {
    stdout.write_all(out)?;
    stdout.flush()?;
    out.clear();
    if let Some(w) = writer {
        w.flush()?;
    }
    Ok(())
}

/// Stops the source after `secs` seconds (`-M`).
fn stop_after(stop: StopHandle, secs: f64) -> Result<()> {
    let d = Duration::try_from_secs_f64(secs).map_err(|e| UsageError(format!("-M {secs}: {e}")))?;
    std::thread::Builder::new()
        .name("saker-timer".into())
        .spawn(move || {
            std::thread::sleep(d);
            stop.stop();
        })
        .context("cannot start the timer thread")?;
    Ok(())
}

/// `--stats`: the source's counters and the state's size, on stderr.
fn print_stats(source: &str, s: &SourceStats, c: &Counts, state: &State) {
    let d = &s.drops_buffer;
    let sc = state.counters();
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "Source: {source}");
    let _ = writeln!(e, "Events seen by the source: {}", s.events);
    let _ = writeln!(e, "Events read: {}", c.read);
    let _ = writeln!(e, "Events matched: {}", c.matched);
    if c.written > 0 {
        let _ = writeln!(e, "Events written: {}", c.written);
    }
    let _ = writeln!(e, "Drops: {}", s.drops());
    let _ = writeln!(
        e,
        "Drops (buffer full): process {}, exec {}, open {}, connect {}, close {}, other {}",
        d.process, d.exec, d.open, d.connect, d.close, d.other
    );
    let _ = writeln!(e, "Drops (too large): {}", s.drops_too_large);
    let _ = writeln!(e, "Drops (other): {}", s.drops_other);
    let _ = writeln!(
        e,
        "Thread table: {} at start, {} at end, {} at most; {} added, {} removed",
        c.threads_start,
        state.thread_count(),
        c.threads_peak,
        sc.threads_added,
        sc.threads_removed
    );
    let _ = writeln!(e, "Fd table: {} fds at end", state.fd_count());
}

/// Compiles the filter given as trailing words (`saker trace -r F proc.name=cat and fd.num>2`).
fn compile_filter(words: &[String]) -> Result<Option<Filter>> {
    if words.is_empty() {
        return Ok(None);
    }
    let text = words.join(" ");
    let invalid = |e: saker_filter::CompileError| UsageError(format!("invalid filter: {e}"));
    let expr = saker_filter::parse(&text).map_err(|e| invalid(e.into()))?;
    let filter = saker_filter::compile(&expr, &text).map_err(invalid)?;
    // fd.sip.name = N: N's addresses, looked up off the event path.
    let names = expr.domain_names();
    if !names.is_empty() && !saker_dns::watch(&names, Duration::from_secs(1)) {
        eprintln!("saker: resolving {} takes more than 1 s; the filter matches them once resolved", names.join(", "));
    }
    Ok(Some(filter))
}
