//! Prints live events from the modern probe.
//!
//! `cargo run -p saker-modern-bpf --example capture -- [--seconds N] [--syscalls a,b] [--count]`
//!
//! Runs until Ctrl-C (or N seconds), then prints the probe's counters.
//! `--count` prints only how many events arrived.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use saker_driver::{EventSource, Next};
use saker_modern_bpf::{Config, ModernBpf};

static STOP: std::sync::OnceLock<saker_driver::StopHandle> = std::sync::OnceLock::new();

extern "C" fn on_sigint(_: libc::c_int) {
    if let Some(s) = STOP.get() {
        s.stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    let mut seconds = None;
    let mut count_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = Some(args.next().ok_or("--seconds N")?.parse::<u64>()?),
            "--syscalls" => {
                let list = args.next().ok_or("--syscalls LIST")?;
                config.syscalls = Some(list.split(',').map(str::to_string).collect::<BTreeSet<_>>());
            }
            "--snaplen" => config.snaplen = args.next().ok_or("--snaplen N")?.parse()?,
            "--cpus-for-each-buffer" => config.cpus_for_each_buffer = args.next().ok_or("N")?.parse()?,
            "--buffer-size" => config.buffer_size = args.next().ok_or("N")?.parse()?,
            "--count" => count_only = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let t0 = Instant::now();
    let mut probe = ModernBpf::open(config)?;
    eprintln!(
        "attached in {:?}: {} ring(s), {} syscalls with full parameters",
        t0.elapsed(),
        probe.ring_count(),
        probe.full_syscalls().len()
    );
    let _ = STOP.set(probe.stop_handle());
    // SAFETY: installing a handler that only flips an atomic flag.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };

    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let stop = probe.stop_handle();
    let mut n = 0u64;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.stop();
        }
        match probe.next_event()? {
            Next::Event(ev) => {
                n += 1;
                if !count_only {
                    println!("cpu={} {:?}", ev.cpu, ev.event);
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
    }
    let s = probe.stats();
    eprintln!(
        "{n} events read; kernel: {} events, {} drops (buffer {:?}, too large {}, other {})",
        s.events,
        s.drops(),
        s.drops_buffer,
        s.drops_too_large,
        s.drops_other
    );
    Ok(())
}
