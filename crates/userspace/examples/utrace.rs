//! Prints the events of a command traced with the userspace driver.
//!
//! `cargo run -p saker-userspace --example utrace -- [-s a,b] [-p PID] [-- CMD ARGS...]`

use std::collections::BTreeSet;

use saker_driver::{EventSource, Next};
use saker_userspace::{Config, Tracer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    let mut pid = None;
    let mut count_only = false;
    let mut args = std::env::args().skip(1);
    let mut cmd = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-s" => {
                config.syscalls =
                    Some(args.next().ok_or("-s LIST")?.split(',').map(str::to_string).collect::<BTreeSet<_>>())
            }
            "-p" => pid = Some(args.next().ok_or("-p PID")?.parse::<i32>()?),
            "-c" => count_only = true,
            "--" => {
                cmd.extend(args.by_ref());
            }
            other => cmd.push(other.to_string()),
        }
    }
    let mut t = match pid {
        Some(p) => Tracer::attach(p, config)?,
        None => Tracer::launch(&cmd, config)?,
    };
    eprintln!("header: {} processes", t.header().processes.len());
    let mut n = 0u64;
    loop {
        match t.next_event()? {
            Next::Event(ev) => {
                n += 1;
                if !count_only {
                    println!("{:?}", ev.event);
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
    }
    for notice in t.take_notices() {
        eprintln!("notice: {notice}");
    }
    eprintln!("{n} events; exit status {:?}", t.exit_status());
    std::process::exit(t.exit_status().map_or(0, |s| s.code()));
}
