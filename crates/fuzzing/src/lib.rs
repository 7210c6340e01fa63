/*!
The bodies of saker's fuzz targets, one function each: the cargo-fuzz targets
in `fuzz/` (outside the workspace, nightly) call them, and this crate's tests
replay through them every input in `fuzz/regressions/TARGET/` (each crash a
fuzzer found, kept once fixed) and the seeds, on the stable toolchain.

Each function must return normally on any input: errors are fine, panics,
aborts, hangs and unbounded memory are the bugs.
*/

use std::io::Write;

use saker_abi::Event;
use saker_fields::{EventContext, FIELDS, Field, Format, NoState, TimeFormatter};

/// The most events one input is read for: enough to reach any block kind,
/// few enough that an iteration stays fast.
const MAX_EVENTS: usize = 4_000;

/// Reads a capture (plain or gzip), applies every event to the state and
/// prints it with sysdig's default format and a format of state fields.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut r) = saker_scap::Reader::from_bytes(data.to_vec()) else { return };
    let mut state = saker_state::State::new(&saker_state::Limits::default());
    let time = TimeFormatter::default();
    let formats = [
        Format::parse(saker_fields::DEFAULT_FORMAT).unwrap(),
        Format::parse("*%evt.num %evt.args %proc.cmdline %proc.pname %fd.name %fd.cip %user.name %container.id")
            .unwrap(),
    ];
    let mut out = Vec::new();
    for n in 0..MAX_EVENTS {
        let rec = match r.next_event() {
            Ok(Some(rec)) => rec,
            Ok(None) | Err(_) => break,
        };
        state.apply(&rec.event, rec.cpu);
        let ctx = EventContext { event: rec.event, num: n as u64 + 1, cpu: rec.cpu, time: &time, state: &state };
        for f in &formats {
            out.clear();
            f.write(&ctx, &mut out);
            f.write_json(&ctx, &mut out);
        }
    }
}

/// The same, through the gzip path: `data` is compressed first and, when its
/// first byte is odd, the compressed stream is cut (a truncated `.scap.gz`).
pub fn capture_reader_gzip(data: &[u8]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(data);
    let Ok(mut bytes) = gz.finish() else { return };
    if let Some(&b) = data.first()
        && b & 1 == 1
    {
        let cut = (data.len() * 7 + b as usize) % bytes.len().max(1);
        bytes.truncate(cut.max(2));
    }
    capture_reader(&bytes);
}

/// One raw event: the view, every parameter decoded, every field rendered
/// (text and JSON) without state.
pub fn event_params(data: &[u8]) {
    // `parse_checked` is for bytes `parse` accepted before (copies handed
    // between threads): on unchecked bytes only its header may be read, as
    // the reader's pass-over check does; its parameters are documented to
    // panic when they run past the end.
    if let Ok(ev) = Event::parse_checked(data) {
        let _ = (ev.ts(), ev.tid(), ev.len(), ev.event_type(), ev.nparams(), ev.info());
    }
    if let Ok(ev) = Event::parse(data) {
        let _ = (ev.ts(), ev.tid(), ev.len(), ev.event_type(), ev.nparams(), ev.info());
        for i in 0..ev.nparams() as usize + 1 {
            let _ = ev.raw_param(i);
            if let Some(p) = ev.param(i) {
                let _ = format!("{:?}", p.value());
                let _ = (p.as_u64(), p.as_i64(), p.as_bytes_value(), p.dyn_shape(), p.dirfd_param());
            }
        }
        for p in ev.params() {
            let _ = p.value();
        }
        let time = TimeFormatter::default();
        let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &NoState };
        let mut out = Vec::new();
        for f in all_fields() {
            out.clear();
            f.write(&ctx, &mut out);
            f.write_json(&ctx, &mut out);
        }
    }
}

/// Every field, parsed once.
fn all_fields() -> &'static [Field] {
    static FIELDS_PARSED: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    FIELDS_PARSED.get_or_init(|| FIELDS.iter().filter_map(|i| Field::parse(i.name).ok()).collect())
}

/// A sample event for conditions and formats to run on: an openat exit.
fn with_sample_event(f: impl FnOnce(&EventContext<'_>)) {
    let mut buf = Vec::new();
    let mut b =
        saker_abi::EventBuilder::new(&mut buf, 1_700_000_000_000_000_000, 42, saker_abi::EventType::SYSCALL_OPENAT_2_X);
    b.param_i64(3).param_i64(-100).param_str(b"/etc/passwd").param_u64(1).param_u64(0o644);
    b.param_u64(0xfe00).param_u64(77);
    b.finish();
    let ev = Event::parse(&buf).unwrap();
    let time = TimeFormatter::default();
    let ctx = EventContext { event: ev, num: 1, cpu: 0, time: &time, state: &NoState };
    f(&ctx);
}

/// A condition: parsed, compiled, evaluated on a sample event.
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expr) = saker_filter::parse(text) else { return };
    let _ = saker_filter::event_types(&expr);
    if let Ok(f) = saker_filter::compile(&expr, text) {
        with_sample_event(|ctx| {
            let _ = f.matches(ctx);
        });
    }
}

/// A rules file: loaded (YAML, lists, macros, exceptions, outputs checked),
/// then compiled by the engine as `saker detect` does.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sources = [saker_rules::RulesSource::new("fuzz.yaml", text)];
    match saker_rules::Ruleset::load(&sources, &saker_engine::Fields) {
        Ok(load) => {
            let _ = saker_engine::Engine::compile(&load, saker_engine::EngineOptions::default());
        }
        Err(errors) => {
            let _ = errors.to_string();
        }
    }
}

/// An output format (`saker trace -p`), run on a sample event; and an alert
/// carrying the same text, encoded as text and JSON.
pub fn output_format(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = Format::parse(text) {
        with_sample_event(|ctx| {
            let mut out = Vec::new();
            f.write(ctx, &mut out);
            f.write_json(ctx, &mut out);
        });
    }
    let alert = saker_outputs::Alert {
        time_ns: data.len() as u64 * 1_000_000_007,
        rule: text.chars().take(40).collect(),
        priority: saker_outputs::Priority::Warning,
        source: "syscall".into(),
        tags: text.split(' ').take(4).map(str::to_string).collect(),
        hostname: "fuzz".into(),
        output: text.to_string(),
        output_fields: vec![(text.chars().take(20).collect(), saker_outputs::FieldValue::Str(text.to_string()))],
    };
    for json in [false, true] {
        let cfg = saker_outputs::OutputsConfig { json_output: json, ..Default::default() };
        let enc = saker_outputs::Encoder::new(&cfg);
        let _ = (enc.line(&alert), enc.text(&alert), enc.json(&alert));
    }
}

/// A configuration file (and `-o` overrides after a NUL byte), loaded and
/// read into the sections the engine, outputs and web server use.
pub fn config(data: &[u8]) {
    let (file, overrides) = match data.iter().position(|&b| b == 0) {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (data, &[][..]),
    };
    let overrides: Vec<String> = String::from_utf8_lossy(overrides).lines().map(str::to_string).collect();
    let path = std::env::temp_dir().join(format!("saker-fuzz-config-{}.yaml", std::process::id()));
    if std::fs::write(&path, file).is_err() {
        return;
    }
    if let Ok(c) = saker_config::Config::load_checked(Some(&path), &overrides, true) {
        let _ = c.section::<saker_outputs::OutputsConfig>();
        let _ = c.get::<saker_metrics::WebserverConfig>("webserver");
        let _ = c.get::<saker_engine::DropsConfig>("syscall_event_drops");
        let _ = c.get::<Vec<String>>("rules_files");
        let _ = c.to_yaml();
    }
}
