//! `syslog_output`: one message per alert to the local syslog socket, as
//! glibc's `syslog(3)` sends it when Falco calls `syslog(priority, "%s",
//! msg)` without `openlog`: facility `LOG_USER`, the rule's priority as
//! the severity, `<PRI>Mmm dd HH:MM:SS ident: message` with the local time
//! and the program's name as the ident, on a datagram socket (a stream
//! socket, NUL-terminated, if the path is one).

use std::io::{self, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Sink;
use crate::alert::Priority;
use crate::config::SyslogOutputConfig;
use crate::dispatch::Rendered;
use crate::error::DeliveryError;

/// syslog's `LOG_USER` facility (1), shifted as in `<PRI>`.
const LOG_USER: u8 = 1 << 3;

enum Conn {
    Dgram(UnixDatagram),
    Stream(UnixStream),
}

pub(crate) struct SyslogSink {
    path: PathBuf,
    ident: String,
    timeout: Duration,
    tz: TimeZone,
    conn: Option<Conn>,
}

impl SyslogSink {
    pub(crate) fn new(c: &SyslogOutputConfig, timeout: Duration) -> Self {
        SyslogSink {
            path: PathBuf::from(&c.socket),
            ident: program_name(),
            timeout,
            tz: TimeZone::system(),
            conn: None,
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        let d = UnixDatagram::unbound()?;
        match d.connect(&self.path) {
            Ok(()) => {
                d.set_write_timeout(Some(self.timeout))?;
                Ok(Conn::Dgram(d))
            }
            // EPROTOTYPE: the socket is a stream socket.
            Err(e) if e.raw_os_error() == Some(91) => {
                let s = UnixStream::connect(&self.path)?;
                s.set_write_timeout(Some(self.timeout))?;
                Ok(Conn::Stream(s))
            }
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        if self.conn.is_none() {
            let conn = self.connect().map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
            self.conn = Some(conn);
        }
        let r = match self.conn.as_mut().expect("connected") {
            Conn::Dgram(d) => d.send(datagram).map(|_| ()),
            Conn::Stream(s) => s.write_all(datagram).and_then(|_| s.write_all(b"\0")),
        };
        if r.is_err() {
            self.conn = None;
        }
        r
    }
}

impl Sink for SyslogSink {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn write(&mut self, msg: &Rendered) -> Result<(), DeliveryError> {
        let now = Timestamp::now();
        let datagram = syslog_datagram(msg.priority, &self.tz.to_datetime(now), &self.ident, &msg.line);
        // Like glibc: if the daemon went away (restarted), reconnect once.
        match self.send(datagram.as_bytes()) {
            Ok(()) => Ok(()),
            Err(_) => Ok(self.send(datagram.as_bytes())?),
        }
    }
}

/// `<PRI>Mmm dd HH:MM:SS ident: message` (day space-padded, as `%e`).
pub(crate) fn syslog_datagram(p: Priority, t: &jiff::civil::DateTime, ident: &str, message: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS[(t.month() as usize).clamp(1, 12) - 1];
    format!(
        "<{}>{} {:>2} {:02}:{:02}:{:02} {}: {}",
        LOG_USER | p.severity(),
        month,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        ident,
        message
    )
}

/// What glibc uses when `openlog` was not called: the basename of argv[0].
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| PathBuf::from(a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "saker".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram_is_glibcs() {
        let t = jiff::civil::date(2024, 3, 7).at(9, 5, 1, 0);
        assert_eq!(syslog_datagram(Priority::Critical, &t, "saker", "x y"), "<10>Mar  7 09:05:01 saker: x y");
        assert_eq!(syslog_datagram(Priority::Debug, &t, "falco", "m"), "<15>Mar  7 09:05:01 falco: m");
        let t = jiff::civil::date(2024, 12, 17).at(23, 0, 0, 0);
        assert_eq!(syslog_datagram(Priority::Emergency, &t, "a", "b"), "<8>Dec 17 23:00:00 a: b");
    }
}
