//! saker: runtime security and system-call capture in one binary.
//!
//! The binary only parses flags and wires the library crates together; the
//! work lives in `saker-abi`, `saker-scap`, `saker-fields` and the crates
//! that follow them.

mod auto;
mod cli;
mod config_keys;
mod detect;
mod driver;
mod fields;
mod generate;
mod log;
mod metrics_config;
mod privileges;
mod reload;
mod rules_config;
mod signals;
mod source;
mod trace;
mod trace_out;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Trace(t) => trace::run(t),
        cli::Command::Fields(f) => fields::run(f),
        cli::Command::Detect(d) => detect::run(d),
        cli::Command::Generate(g) => generate::run(g),
        cli::Command::Driver(d) => driver::run(d),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`saker trace | head`) is a normal way to stop.
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("saker: error: {err:#}");
            ExitCode::from(err.downcast_ref::<cli::UsageError>().map_or(1, |_| 2))
        }
    }
}
