//! `program_output`: alerts written, one per line, to the stdin of
//! `sh -c PROGRAM`. With `keep_alive` the program runs once and gets every
//! alert (restarted if it dies); otherwise it is started for each alert,
//! its stdin closed after the line and waited for, as Falco's
//! `popen`/`pclose` do.

use std::io::{BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::Sink;
use crate::config::ProgramOutputConfig;
use crate::dispatch::Rendered;
use crate::error::DeliveryError;

pub(crate) struct ProgramSink {
    program: String,
    keep_alive: bool,
    buffered: bool,
    /// How long a program whose stdin was closed may take to exit.
    exit_timeout: Duration,
    running: Option<(Child, BufWriter<ChildStdin>)>,
}

impl ProgramSink {
    pub(crate) fn new(c: &ProgramOutputConfig, buffered: bool, timeout: Duration) -> Self {
        ProgramSink {
            program: c.program.clone(),
            keep_alive: c.keep_alive,
            buffered,
            exit_timeout: timeout,
            running: None,
        }
    }

    fn start(&mut self) -> Result<&mut BufWriter<ChildStdin>, DeliveryError> {
        if self.running.is_none() {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&self.program)
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|source| DeliveryError::Spawn { program: self.program.clone(), source })?;
            let stdin = child.stdin.take().expect("piped stdin");
            self.running = Some((child, BufWriter::with_capacity(64 * 1024, stdin)));
        }
        Ok(&mut self.running.as_mut().expect("just started").1)
    }

    /// Closes the program's stdin and waits for it to exit (killing it if
    /// it takes longer than the output timeout).
    fn stop(&mut self) -> Result<(), DeliveryError> {
        let Some((mut child, mut stdin)) = self.running.take() else {
            return Ok(());
        };
        let flushed = stdin.flush();
        drop(stdin);
        let deadline = Instant::now() + self.exit_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        Ok(flushed?)
    }
}

impl Sink for ProgramSink {
    fn name(&self) -> &'static str {
        "program"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        let buffered = self.buffered || !self.keep_alive;
        let w = self.start()?;
        let r = w.write_all(msg.line.as_bytes()).and_then(|_| w.write_all(b"\n"));
        let r = r.and_then(|_| if buffered { Ok(()) } else { w.flush() });
        if let Err(e) = r {
            // The program died (EPIPE) or its pipe broke: start it again
            // for the next alert.
            let _ = self.stop();
            return Err(e.into());
        }
        if !self.keep_alive {
            self.stop()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeliveryError> {
        if let Some((_, w)) = self.running.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), DeliveryError> {
        self.stop()
    }

    fn close(&mut self) {
        let _ = self.stop();
    }
}
