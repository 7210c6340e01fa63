//! Just enough HTTP/1.0 over a unix socket for the runtimes' inspect calls:
//! one GET per connection, the body read to the end (or to its length),
//! chunked bodies decoded.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::LookupError;

/// `GET path` on the socket: the status and the body.
pub(crate) fn get(socket: &Path, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>), LookupError> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::with_capacity(8192);
    s.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<(u16, Vec<u8>), LookupError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| LookupError::Malformed("no end of HTTP headers".into()))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| LookupError::Malformed("HTTP headers".into()))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| LookupError::Malformed("HTTP status line".into()))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[end + 4..];
    Ok((status, if chunked { dechunk(body)? } else { body.to_vec() }))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, LookupError> {
    let bad = || LookupError::Malformed("chunked body".into());
    let mut out = Vec::with_capacity(b.len());
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&b[..eol]).map_err(|_| bad())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad())?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(b.get(..size).ok_or_else(bad)?);
        b = b.get(size + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_bodies() {
        let (s, b) = parse(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!((s, &b[..]), (200, &b"{\"a\":1}"[..]));
        let (s, b) =
            parse(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!((s, &b[..]), (404, &b"abcde"[..]));
        assert!(parse(b"HTTP/1.0 200 OK\r\n").is_err());
    }
}
