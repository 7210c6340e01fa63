//! `saker trace`: print or record events, like sysdig.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use saker_abi::{Category, EventType};
use saker_driver::{CaptureSource, EventSource, Next};
use saker_fields::{DEFAULT_FORMAT, EventContext, Format, TimeFormatter};
use saker_filter::Filter;
use saker_scap::Writer;
use saker_state::{Limits, State};

use crate::cli::{TraceArgs, UsageError};

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

pub fn run(args: TraceArgs) -> Result<ExitCode> {
    let format_text = args.print.as_deref().unwrap_or(DEFAULT_FORMAT);
    let format = Format::parse(format_text).map_err(|e| UsageError(format!("invalid format '{format_text}': {e}")))?;
    let filter = compile_filter(&args.filter)?;

    let mut source = CaptureSource::open(&args.read)?;
    let mut writer = match &args.write {
        Some(path) => {
            let mut w = Writer::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            w.write_header(source.header())?;
            Some(w)
        }
        None => None,
    };

    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut out = Vec::with_capacity(OUT_BLOCK + 64 * 1024);
    let time = TimeFormatter::default();
    let mut state = State::from_capture(source.header(), &Limits::default());
    let mut visibility = Visibility { show_internal: false, seen_other_event: false };
    // Every event read gets a number; -n counts the events that pass the filter.
    let mut num: u64 = 0;
    let mut matched: u64 = 0;
    let limit = args.count.unwrap_or(u64::MAX);

    let result = loop {
        if matched >= limit {
            break Ok(());
        }
        let rec = match source.next_event() {
            Ok(Next::Event(rec)) => rec,
            Ok(Next::Idle) => {
                stdout.write_all(&out)?;
                stdout.flush()?;
                out.clear();
                continue;
            }
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e),
        };
        num += 1;
        state.apply(&rec.event, rec.cpu);
        let ctx = EventContext { event: rec.event, num, cpu: rec.cpu, time: &time, state: &state };
        if let Some(f) = &filter
            && !(f.event_types().contains(rec.event.event_type()) && f.matches(&ctx))
        {
            continue;
        }
        matched += 1;
        if let Some(w) = writer.as_mut() {
            match rec.dump_flags {
                Some(flags) => w.write_event_with_flags(rec.cpu, flags, &rec.event)?,
                None => w.write_event(rec.cpu, &rec.event)?,
            }
        }
        if args.quiet || !visibility.shows(rec.event.event_type()) {
            continue;
        }
        let printed = if args.json { format.write_json(&ctx, &mut out) } else { format.write(&ctx, &mut out) };
        if printed {
            out.push(b'\n');
            if out.len() >= OUT_BLOCK {
                stdout.write_all(&out)?;
                out.clear();
            }
        }
    };
    stdout.write_all(&out)?;
    stdout.flush()?;
    if let Some(w) = writer {
        w.finish()?;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Compiles the filter given as trailing words (`saker trace -r F proc.name=cat and fd.num>2`).
fn compile_filter(words: &[String]) -> Result<Option<Filter>> {
    if words.is_empty() {
        return Ok(None);
    }
    let text = words.join(" ");
    saker_filter::compile_str(&text).map(Some).map_err(|e| UsageError(format!("invalid filter: {e}")).into())
}
