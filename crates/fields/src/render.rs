//! Parameter values rendered as sysdig renders them.
//!
//! Each parameter renders as a raw text and, where it has a meaning beyond
//! the number, a resolved text: `evt.args` prints `raw(resolved)`, `evt.arg`
//! prints the resolved text when there is one, `evt.rawarg` the raw one. The
//! rules are sysdig's (see `crates/abi/spec/RENDERING.md`), applied to the
//! current event table; where sysdig 0.29.3 prints garbage (empty numeric
//! parameters, unsigned values as signed), saker prints the value. The
//! deliberate differences are listed in `docs/compatibility.md`.

use saker_abi::{
    Event, EventType, FlagTable, Param, ParamTable, ParamType, PrintFormat, SockAddr, SockTuple, Value, errno_name,
    signal_name, syscall_name,
};

use std::io::Write as _;

use crate::field::{write_i64, write_u64};
use crate::state::StateView;

/// How much interpretation a parameter gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgStyle {
    /// The raw value only (`evt.rawarg`): `4097`.
    Raw,
    /// The value with its meaning, as in `evt.args`: `4097(O_RDONLY|O_CLOEXEC)`.
    Both,
    /// The meaning where there is one, as `evt.arg`: `O_RDONLY|O_CLOEXEC`.
    Resolved,
}

/// Byte strings longer than this print cut, ending in `...` (sysdig's default).
const MAX_BUFFER_TEXT: usize = 80;

thread_local! {
    /// Whether byte buffers print whole: sysdig's JSON output does not cut them.
    static UNCUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How byte buffers print (sysdig's -A, -x, -X), set once by the
    /// command on the thread that renders.
    static BUFFER_STYLE: std::cell::Cell<BufferStyle> = const { std::cell::Cell::new(BufferStyle::Dotted) };
}

/// How data buffers (read/write data, `evt.buffer`...) print in text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BufferStyle {
    /// Printable bytes as they are, others as `.` (sysdig's default).
    #[default]
    Dotted,
    /// Only the printable bytes, with line ends kept (sysdig -A).
    Ascii,
    /// A hex dump on lines of their own (sysdig -x).
    Hex,
    /// A hex dump with the printable bytes beside it (sysdig -X).
    HexAscii,
}

/// Sets how buffers print on this thread from now on; `whole` prints them
/// uncut (sysdig -v).
pub fn set_buffer_style(style: BufferStyle, whole: bool) {
    BUFFER_STYLE.with(|c| c.set(style));
    if whole {
        UNCUT.with(|c| c.set(true));
    }
}

/// While alive, byte buffers render whole (JSON output).
pub(crate) struct Uncut(bool);

impl Uncut {
    pub(crate) fn new() -> Uncut {
        Uncut(UNCUT.with(|c| c.replace(true)))
    }
}

impl Drop for Uncut {
    fn drop(&mut self) {
        UNCUT.with(|c| c.set(self.0));
    }
}

/// Appends `name=value ` for every parameter (`evt.args`); generic events
/// have none, as in sysdig.
pub(crate) fn write_args(ev: &Event<'_>, state: &dyn StateView, out: &mut Vec<u8>) {
    let ty = ev.event_type();
    if ty == EventType::GENERIC_E || ty == EventType::GENERIC_X {
        return;
    }
    for p in ev.params() {
        out.extend_from_slice(p.info().name.as_bytes());
        out.push(b'=');
        write_param(ev, &p, ArgStyle::Both, state, out);
        out.push(b' ');
    }
}

/// The result parameter of an exit event: `res`, else `fd`.
fn result_param<'a>(ev: &Event<'a>) -> Option<Param<'a>> {
    if ev.event_type().is_enter() {
        return None;
    }
    ev.param_by_name("res").or_else(|| ev.param_by_name("fd"))
}

/// Appends `SUCCESS`, the error name, or the failing value of an exit event's
/// result (`evt.res`).
pub(crate) fn write_res(ev: &Event<'_>, out: &mut Vec<u8>) -> bool {
    let Some(v) = result_param(ev).and_then(|p| p.as_i64()) else { return false };
    if v >= 0 {
        out.extend_from_slice(b"SUCCESS");
    } else {
        match errno_name(v) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => write_i64(out, v),
        }
    }
    true
}

/// The result of an exit event as a number (`evt.rawres`).
pub(crate) fn raw_res(ev: &Event<'_>) -> Option<i64> {
    result_param(ev).and_then(|p| p.as_i64())
}

/// Appends the names of the flags set in `value`, `|`-separated, the way
/// sysdig walks a flag table: in table order, each matching entry's bits are
/// consumed, and the walk ends at an entry equal to the whole value. Returns
/// whether any name was written.
pub fn write_flags(table: &FlagTable, value: u64, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let mut rest = value;
    let sep = |out: &mut Vec<u8>| {
        if out.len() > start {
            out.push(b'|');
        }
    };
    for &(name, v) in table.entries {
        if v == value {
            sep(out);
            out.extend_from_slice(name.as_bytes());
            break;
        }
        if (v == 0 && value == 0) || (v != 0 && rest != 0 && rest & v == v) {
            sep(out);
            out.extend_from_slice(name.as_bytes());
            rest &= !v;
        }
    }
    out.len() > start
}

/// Appends the name of the first entry equal to `value` (enum-like tables).
fn write_enum(table: &FlagTable, value: u64, out: &mut Vec<u8>) -> bool {
    match table.entries.iter().find(|&&(_, v)| v == value) {
        Some(&(name, _)) => {
            out.extend_from_slice(name.as_bytes());
            true
        }
        None => false,
    }
}

/// Appends one parameter of `ev` in the given style; false if it has no value.
pub(crate) fn write_param(
    ev: &Event<'_>,
    p: &Param<'_>,
    style: ArgStyle,
    state: &dyn StateView,
    out: &mut Vec<u8>,
) -> bool {
    let info = p.info();
    let value = p.value();
    if style == ArgStyle::Raw {
        return write_raw(info.ty, info.fmt, value, out);
    }
    // Build the raw text, then the resolved text after it, then arrange.
    let raw_start = out.len();
    let mut resolved: Option<std::ops::Range<usize>> = None;
    match (info.ty, value) {
        (_, Value::Empty) => {
            if matches!(info.ty, ParamType::Sockaddr | ParamType::Socktuple) {
                out.extend_from_slice(b"NULL");
            }
        }
        (ParamType::Errno, Value::Int(v)) => {
            write_i64(out, v);
            if v < 0
                && let Some(name) = errno_name(v)
            {
                let r = out.len();
                out.extend_from_slice(name.as_bytes());
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Fd | ParamType::Fd32, Value::Int(v)) => {
            write_i64(out, v);
            let r = out.len();
            if v == -100 {
                out.extend_from_slice(b"AT_FDCWD");
            } else if v < 0 {
                if let Some(name) = errno_name(v) {
                    out.extend_from_slice(name.as_bytes());
                }
            } else if let Some(fd) = state.fd(ev.tid() as i64, v) {
                out.push(b'<');
                out.push(fd.typechar);
                if let Some(l4) = fd.l4char {
                    out.push(l4);
                }
                out.push(b'>');
                crate::field::extend_printable(out, fd.name);
            }
            resolved = Some(r..out.len());
        }
        (ParamType::Pid | ParamType::Pid32, Value::Int(v)) => {
            write_i64(out, v);
            if let Some(comm) = state.comm(v) {
                let r = out.len();
                out.extend_from_slice(comm);
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Uid | ParamType::Gid, Value::Uint(v)) => {
            if v == u32::MAX as u64 {
                out.extend_from_slice(b"-1");
                let r = out.len();
                out.extend_from_slice(b"<NONE>");
                resolved = Some(r..out.len());
            } else {
                write_u64(out, v);
                let r = out.len();
                let name = if info.ty == ParamType::Uid {
                    state.user_name(ev.tid() as i64, v as u32)
                } else {
                    state.group_name(ev.tid() as i64, v as u32)
                };
                out.extend_from_slice(name.unwrap_or(b"<NA>"));
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Mode, Value::Uint(v)) => {
            write_number(info.ty, PrintFormat::Oct, v, out);
            if let ParamTable::Flags(t) = info.table {
                let r = out.len();
                write_flags(t, v, out);
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Flags8 | ParamType::Flags16 | ParamType::Flags32, Value::Uint(v)) => {
            write_u64(out, v);
            if let ParamTable::Flags(t) = info.table {
                let r = out.len();
                write_flags(t, v, out);
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Enumflags8 | ParamType::Enumflags16 | ParamType::Enumflags32, Value::Uint(v)) => {
            write_u64(out, v);
            if let ParamTable::Flags(t) = info.table {
                let r = out.len();
                write_enum(t, v, out);
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Syscallid, Value::Uint(v)) => {
            write_u64(out, v);
            if let Some(name) = syscall_name(v) {
                let r = out.len();
                out.extend_from_slice(name.as_bytes());
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Sigtype, Value::Uint(v)) => {
            write_u64(out, v);
            if let Some(name) = signal_name(v as i64) {
                let r = out.len();
                out.extend_from_slice(name.as_bytes());
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Sigset, Value::Uint(v)) => {
            let mut first = true;
            for bit in 0..32 {
                if v & (1 << bit) != 0
                    && let Some(name) = signal_name(bit + 1)
                {
                    if !first {
                        out.push(b' ');
                    }
                    first = false;
                    out.extend_from_slice(name.as_bytes());
                }
            }
        }
        (ParamType::Reltime, Value::Uint(v)) => {
            if v == u64::MAX {
                out.extend_from_slice(b"none");
            } else {
                write_u64(out, v);
                let r = out.len();
                out.extend_from_slice(format_g(v as f64 / 1e9).as_bytes());
                out.push(b's');
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Fspath | ParamType::Fsrelpath, Value::Str(s)) => {
            crate::field::extend_printable(out, s);
            if !s.starts_with(b"/") && s != b"<NA>" {
                let r = out.len();
                write_resolved_path(ev, p, s, state, out);
                resolved = Some(r..out.len());
            }
        }
        (ParamType::Dyn, Value::Dyn(..)) => match p.dyn_shape() {
            Some((ty, data)) => {
                let inner = saker_abi::decode_value(ty, data);
                write_raw(ty, info.fmt, inner, out);
            }
            None => out.extend_from_slice(b"INVALID DYNAMIC PARAMETER"),
        },
        (ParamType::Fdlist, Value::Bytes(b)) => write_fdlist(ev, b, state, out),
        (_, v) => {
            write_raw(info.ty, info.fmt, v, out);
        }
    }
    let Some(r) = resolved.filter(|r| !r.is_empty()) else { return true };
    match style {
        ArgStyle::Resolved => {
            out.copy_within(r.clone(), raw_start);
            out.truncate(raw_start + r.len());
        }
        _ => {
            out.insert(r.start, b'(');
            out.push(b')');
        }
    }
    true
}

/// The raw text of a value: numbers per print format, strings as they are.
fn write_raw(ty: ParamType, fmt: PrintFormat, value: Value<'_>, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Empty => return false,
        Value::Int(v) => match fmt {
            PrintFormat::Hex | PrintFormat::Oct => write_number(ty, fmt, v as u64, out),
            _ => write_i64(out, v),
        },
        Value::Uint(v) => write_number(ty, fmt, v, out),
        Value::Double(d) => out.extend_from_slice(format_g(d).as_bytes()),
        Value::Str(s) => out.extend_from_slice(s),
        Value::Bytes(b) | Value::Malformed(b) => write_buffer(b, out),
        Value::SockAddr(a) => write_sockaddr(&a, out),
        Value::SockTuple(t) => write_socktuple(&t, out),
        Value::Ipv4(ip) => write_ipv4(&ip, out),
        Value::Ipv6(ip) => write_ipv6(&ip, out),
        Value::Dyn(..) => out.extend_from_slice(b"INVALID DYNAMIC PARAMETER"),
    }
    true
}

fn write_number(ty: ParamType, fmt: PrintFormat, v: u64, out: &mut Vec<u8>) {
    // Negative values of signed types print in their own width in hex/octal.
    let v = match ty.fixed_size() {
        Some(n @ 1..=7) => v & ((1u64 << (8 * n)) - 1),
        _ => v,
    };
    match fmt {
        PrintFormat::Hex => _ = write!(out, "{v:X}"),
        PrintFormat::Oct if v == 0 => out.push(b'0'),
        PrintFormat::Oct => _ = write!(out, "0{v:o}"),
        PrintFormat::PaddedDec10 => _ = write!(out, "{v:09}"),
        _ => write_u64(out, v),
    }
}

/// The name a generic event shows as its type: the syscall's.
pub(crate) fn generic_type_name(ev: &Event<'_>) -> Option<&'static str> {
    let id = ev.param(0)?.as_u64()?;
    if id == 0 {
        return Some("<unknown>");
    }
    syscall_name(id)
}

/// `%g` as C prints it: 6 significant digits, no trailing zeros.
fn format_g(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        let s = format!("{:.5e}", x);
        let (mant, e) = s.split_once('e').unwrap();
        let mant = trim_zeros(mant);
        let e: i32 = e.parse().unwrap();
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, x)).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

fn write_buffer(b: &[u8], out: &mut Vec<u8>) {
    let cut = b.len() > MAX_BUFFER_TEXT && !UNCUT.with(|c| c.get());
    let printable = |c: u8| (0x20..0x7f).contains(&c);
    match BUFFER_STYLE.with(|c| c.get()) {
        BufferStyle::Dotted => {
            let shown = if cut { &b[..MAX_BUFFER_TEXT - 3] } else { b };
            out.extend(shown.iter().map(|&c| if printable(c) { c } else { b'.' }));
            if cut {
                out.extend_from_slice(b"...");
            }
        }
        BufferStyle::Ascii => {
            let shown = if cut { &b[..MAX_BUFFER_TEXT] } else { b };
            out.extend(shown.iter().copied().filter(|&c| printable(c) || c == b'\n'));
        }
        style @ (BufferStyle::Hex | BufferStyle::HexAscii) => {
            // Whole lines of 16 bytes: the dump is cut at the line holding
            // the 80th byte, not in the middle of one.
            let shown = if cut { &b[..MAX_BUFFER_TEXT] } else { b };
            for (row, chunk) in shown.chunks(16).enumerate() {
                let _ = write!(out, "\n\t0x{:04x}:", row * 16);
                for (i, byte) in chunk.iter().enumerate() {
                    if i % 2 == 0 {
                        out.push(b' ');
                    }
                    let _ = write!(out, "{byte:02x}");
                }
                if style == BufferStyle::HexAscii {
                    // Pad a short last line so the text column lines up.
                    let missing = 16 - chunk.len();
                    out.extend(std::iter::repeat_n(b' ', missing * 2 + missing.div_ceil(2) + 2));
                    out.extend(chunk.iter().map(|&c| if printable(c) { c } else { b'.' }));
                }
            }
        }
    }
}

/// Resolves a relative path against the thread's cwd (FSPATH) or the
/// directory fd named by the table (FSRELPATH), normalized.
fn write_resolved_path(ev: &Event<'_>, p: &Param<'_>, path: &[u8], state: &dyn StateView, out: &mut Vec<u8>) {
    let tid = ev.tid() as i64;
    let mut base: Vec<u8> = Vec::new();
    if p.info().ty == ParamType::Fsrelpath {
        let dirfd = p.dirfd_param().and_then(|i| ev.param(i)).and_then(|d| d.as_i64());
        match dirfd {
            Some(-100) => base.extend_from_slice(state.cwd(tid).unwrap_or_default()),
            Some(fd) => {
                if let Some(f) = state.fd(tid, fd) {
                    base.extend_from_slice(f.name);
                    base.push(b'/');
                }
            }
            None => {}
        }
    } else {
        base.extend_from_slice(state.cwd(tid).unwrap_or_default());
    }
    let sanitized: Vec<u8> = path.iter().map(|&c| if (0x20..0x7f).contains(&c) { c } else { b'.' }).collect();
    normalize_into(&base, &sanitized, out);
}

/// Appends `base` joined with `path`, with `.`, `..` and repeated `/` resolved
/// and no trailing `/`.
pub(crate) fn normalize_into(base: &[u8], path: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let absolute = base.first() == Some(&b'/') || (base.is_empty() && path.first() == Some(&b'/'));
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in base.split(|&c| c == b'/').chain(path.split(|&c| c == b'/')) {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if absolute {
        out.push(b'/');
    }
    for (i, c) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
    }
    if out.len() == start && !absolute {
        out.push(b'.');
    }
}

fn write_fdlist(ev: &Event<'_>, b: &[u8], state: &dyn StateView, out: &mut Vec<u8>) {
    if b.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([b[0], b[1]]) as usize;
    let tid = ev.tid() as i64;
    for (i, item) in b[2..].chunks_exact(10).take(n).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let fd = i64::from_le_bytes(item[..8].try_into().unwrap());
        let flags = i16::from_le_bytes([item[8], item[9]]);
        write_u64(out, fd as u64);
        out.push(b':');
        out.push(state.fd(tid, fd).map_or(b'?', |f| f.typechar));
        _ = write!(out, "{:x}", flags as i32);
    }
}

fn write_ipv4(ip: &[u8; 4], out: &mut Vec<u8>) {
    for (i, o) in ip.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        write_u64(out, *o as u64);
    }
}

fn write_ipv6(ip: &[u8; 16], out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{}", std::net::Ipv6Addr::from(*ip));
}

fn ipv4_mapped(ip: &[u8; 16]) -> Option<[u8; 4]> {
    (ip[..10] == [0; 10] && ip[10] == 0xff && ip[11] == 0xff).then(|| ip[12..].try_into().unwrap())
}

fn write_sockaddr(a: &SockAddr<'_>, out: &mut Vec<u8>) {
    match a {
        SockAddr::Inet(ip, port) => {
            write_ipv4(ip, out);
            out.push(b':');
            write_u64(out, *port as u64);
        }
        SockAddr::Inet6(ip, port) => {
            write_ipv6(ip, out);
            out.push(b':');
            write_u64(out, *port as u64);
        }
        SockAddr::Unix(path) => crate::field::extend_printable(out, path),
        SockAddr::Other(2, _) => out.extend_from_slice(b"INVALID IPv4"),
        SockAddr::Other(10, _) => out.extend_from_slice(b"INVALID IPv6"),
        SockAddr::Other(fam, _) => {
            out.extend_from_slice(b"family ");
            write_i64(out, *fam as i8 as i64);
        }
    }
}

fn write_socktuple(t: &SockTuple<'_>, out: &mut Vec<u8>) {
    match t {
        SockTuple::Inet(sip, sport, dip, dport) => {
            write_ipv4(sip, out);
            out.push(b':');
            write_u64(out, *sport as u64);
            out.extend_from_slice(b"->");
            write_ipv4(dip, out);
            out.push(b':');
            write_u64(out, *dport as u64);
        }
        SockTuple::Inet6(sip, sport, dip, dport) => {
            // sysdig prints IPv4 only when both ends are IPv4-mapped.
            if let (Some(s4), Some(d4)) = (ipv4_mapped(sip), ipv4_mapped(dip)) {
                write_ipv4(&s4, out);
                out.push(b':');
                write_u64(out, *sport as u64);
                out.extend_from_slice(b"->");
                write_ipv4(&d4, out);
                out.push(b':');
                write_u64(out, *dport as u64);
            } else {
                write_ipv6(sip, out);
                out.push(b':');
                write_u64(out, *sport as u64);
                out.extend_from_slice(b"->");
                write_ipv6(dip, out);
                out.push(b':');
                write_u64(out, *dport as u64);
            }
        }
        SockTuple::Unix(src, dst, path) => {
            use std::io::Write;
            let _ = write!(out, "{src:x}->{dst:x} ");
            crate::field::extend_printable(out, path);
        }
        SockTuple::Other(2, _) => out.extend_from_slice(b"INVALID IPv4"),
        SockTuple::Other(10, _) => out.extend_from_slice(b"INVALID IPv6"),
        SockTuple::Other(fam, _) => {
            out.extend_from_slice(b"family ");
            write_i64(out, *fam as i8 as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(table: &str, v: u64) -> String {
        let mut out = Vec::new();
        write_flags(FlagTable::by_name(table).unwrap(), v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn flag_walk_matches_sysdig() {
        assert_eq!(flags("file_flags", 4097), "O_RDONLY|O_CLOEXEC");
        assert_eq!(flags("file_flags", 3), "O_RDWR");
        assert_eq!(flags("file_flags", 0), "O_NONE");
        assert_eq!(flags("futex_operations", 129), "FUTEX_PRIVATE_FLAG|FUTEX_WAKE");
    }

    #[test]
    fn g_format() {
        assert_eq!(format_g(1.5), "1.5");
        assert_eq!(format_g(0.123456789), "0.123457");
        assert_eq!(format_g(1e-9), "1e-09");
        assert_eq!(format_g(0.0), "0");
        assert_eq!(format_g(1234567.0), "1.23457e+06");
    }

    #[test]
    fn path_normalization() {
        let norm = |base: &str, p: &str| {
            let mut out = Vec::new();
            normalize_into(base.as_bytes(), p.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(norm("/tmp/w/", "a/../b"), "/tmp/w/b");
        assert_eq!(norm("/tmp/w/", "../x"), "/tmp/x");
        assert_eq!(norm("/tmp/w/", "./"), "/tmp/w");
        assert_eq!(norm("/tmp/w/", ""), "/tmp/w");
        assert_eq!(norm("/tmp/w/", "x/.."), "/tmp/w");
        assert_eq!(norm("", "h"), "h");
    }

    #[test]
    fn buffers_are_cut_at_80() {
        let mut out = Vec::new();
        set_buffer_style(BufferStyle::HexAscii, false);
        write_buffer(b"GET / HTTP/1.1\r\nHost", &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\n\t0x0000: 4745 5420 2f20 4854 5450 2f31 2e31 0d0a  GET / HTTP/1.1..\n\t0x0010: 486f 7374                                Host"
        );
        out.clear();
        set_buffer_style(BufferStyle::Hex, false);
        write_buffer(b"ab\0", &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "\n\t0x0000: 6162 00");
        out.clear();
        set_buffer_style(BufferStyle::Ascii, false);
        write_buffer(b"a\0b\nc\x7f", &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "ab\nc");
        out.clear();
        set_buffer_style(BufferStyle::Dotted, false);
        write_buffer(&[b'a'; 81], &mut out);
        assert_eq!(out.len(), 80);
        assert!(out.ends_with(b"a..."));
        out.clear();
        write_buffer(&[b'a'; 80], &mut out);
        assert_eq!(out, vec![b'a'; 80]);
        out.clear();
        write_buffer(b"-l\0/tmp\0", &mut out);
        assert_eq!(out, b"-l./tmp.");
    }
}
