//! What SIGINT (Ctrl-C), SIGTERM and SIGHUP do to a running command.
//!
//! - Capturing the host (kernel drivers) or an attached process tree: the
//!   source is stopped, the loop drains what is buffered, flushes its outputs
//!   and exits 0; the attached processes are detached and keep running.
//! - Running a launched command (userspace driver): the signal is forwarded
//!   to the command, and saker goes on until the command exits, then exits
//!   with its code. A Ctrl-C typed at the terminal already reached the
//!   command (it runs in saker's process group), so only signals sent to
//!   saker alone are forwarded.
//! - SIGUSR1 reopens the outputs' files ([`install_reopen`]); for `saker
//!   detect`, SIGHUP reloads the rules and the configuration ([`install_reload`]).
//! - A second signal while the first is being handled ends saker at once
//!   (exit code 130); with a launched command, the third does, so a command
//!   that ignores the signals cannot hold saker forever.

use anyhow::{Context, Result};
use saker_driver::StopHandle;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::origin::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

/// SIGUSR1 calls `reopen` (Falco's: close and reopen the file output's
/// file and restart the program output, for log rotation), during a
/// replay too.
pub fn install_reopen(reopen: impl Fn() + Send + 'static) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR1])
        .context("cannot install the SIGUSR1 handler")?;
    std::thread::Builder::new()
        .name("saker-sigusr1".into())
        .spawn(move || {
            for _ in signals.forever() {
                reopen();
            }
        })
        .context("cannot start the SIGUSR1 thread")?;
    Ok(())
}

/// SIGHUP asks for a reload of the rules and the configuration (`saker
/// detect`, as Falco), during a replay too.
pub fn install_reload(requests: std::sync::mpsc::Sender<&'static str>) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP]).context("cannot install the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("saker-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                if requests.send("SIGHUP").is_err() {
                    return;
                }
            }
        })
        .context("cannot start the SIGHUP thread")?;
    Ok(())
}

/// Installs the handling described in the module documentation; SIGHUP
/// stops (or is forwarded) only if `hup` (otherwise [`install_reload`]
/// handles it).
pub fn install(stop: StopHandle, launched: Option<saker_userspace::Control>, hup: bool) -> Result<()> {
    let wanted: &[i32] = if hup { &[SIGINT, SIGTERM, SIGHUP] } else { &[SIGINT, SIGTERM] };
    let mut signals = SignalsInfo::<WithOrigin>::new(wanted).context("cannot install the signal handlers")?;
    std::thread::Builder::new()
        .name("saker-signals".into())
        .spawn(move || {
            let patience = if launched.is_some() { 3 } else { 2 };
            for (n, origin) in signals.forever().enumerate() {
                if n + 1 >= patience {
                    std::process::exit(130);
                }
                match &launched {
                    Some(control) => {
                        let from_terminal = origin.signal == SIGINT && matches!(origin.cause, Cause::Kernel);
                        if !from_terminal {
                            control.forward_signal(origin.signal);
                        }
                    }
                    None => stop.stop(),
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
