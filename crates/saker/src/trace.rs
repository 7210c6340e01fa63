//! `saker trace`: print or record events, like sysdig.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use saker_abi::{Category, EventType};
use saker_driver::{CaptureSource, EventSource, Next};
use saker_fields::{DEFAULT_FORMAT, EventContext, Format, TimeFormatter};
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

pub fn run(args: TraceArgs) -> Result<ExitCode> {
    let format_text = args.print.as_deref().unwrap_or(DEFAULT_FORMAT);
    let format = Format::parse(format_text).map_err(|e| UsageError(format!("invalid format '{format_text}': {e}")))?;

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
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let time = TimeFormatter::default();
    let mut state = State::from_capture(source.header(), &Limits::default());
    let mut line = Vec::with_capacity(4096);
    let mut visibility = Visibility { show_internal: false, seen_other_event: false };
    let mut num: u64 = 0;
    let limit = args.count.unwrap_or(u64::MAX);

    let result = loop {
        if num >= limit {
            break Ok(());
        }
        let rec = match source.next_event() {
            Ok(Next::Event(rec)) => rec,
            Ok(Next::Idle) => {
                out.flush()?;
                continue;
            }
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e),
        };
        num += 1;
        if let Some(w) = writer.as_mut() {
            match rec.dump_flags {
                Some(flags) => w.write_event_with_flags(rec.cpu, flags, &rec.event)?,
                None => w.write_event(rec.cpu, &rec.event)?,
            }
        }
        state.apply(&rec.event, rec.cpu);
        if args.quiet || !visibility.shows(rec.event.event_type()) {
            continue;
        }
        let ctx = EventContext { event: rec.event, num, cpu: rec.cpu, time: &time, state: &state };
        line.clear();
        let printed = if args.json { format.write_json(&ctx, &mut line) } else { format.write(&ctx, &mut line) };
        if printed {
            line.push(b'\n');
            out.write_all(&line)?;
        }
    };
    out.flush()?;
    if let Some(w) = writer {
        w.finish()?;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}
