//! `saker generate`: the man pages and shell completions, generated from the
//! flags themselves so they never drift from the binary they ship with.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, GenerateArgs, Generated};

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        Generated::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            // saker.1 and one page per subcommand (saker-trace.1, ...), as
            // the top page's SUBCOMMANDS section refers to them.
            clap_mangen::generate_to(Cli::command().name("saker"), &dir)
                .with_context(|| format!("writing the man pages to {}", dir.display()))?;
        }
        Generated::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "saker", &mut text);
            let mut out = std::io::stdout().lock();
            out.write_all(&text).and_then(|()| out.flush()).context("writing to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
