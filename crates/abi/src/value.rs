//! Typed access to parameter bytes, without copies or allocation.

use crate::table::{ParamInfo, ParamTable, ParamType};

/// Address families as the event ABI encodes them (libs' `PPM_AF_*`).
const PPM_AF_UNIX: u8 = 1;
const PPM_AF_INET: u8 = 2;
const PPM_AF_INET6: u8 = 10;

/// One parameter of an event: its table entry and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Param<'a> {
    info: &'static ParamInfo,
    data: &'a [u8],
}

/// A socket address (`PT_SOCKADDR`). IPs are in network order, ports in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// IPv4 address and port.
    Inet([u8; 4], u16),
    /// IPv6 address and port.
    Inet6([u8; 16], u16),
    /// A unix socket path (without trailing NUL).
    Unix(&'a [u8]),
    /// Another family: the family code and the rest of the bytes.
    Other(u8, &'a [u8]),
}

/// A connection tuple (`PT_SOCKTUPLE`): source then destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockTuple<'a> {
    /// IPv4 source address and port, destination address and port.
    Inet([u8; 4], u16, [u8; 4], u16),
    /// IPv6 source address and port, destination address and port.
    Inet6([u8; 16], u16, [u8; 16], u16),
    /// Unix socket: source and destination kernel pointers, and the path.
    Unix(u64, u64, &'a [u8]),
    /// Another family: the family code and the rest of the bytes.
    Other(u8, &'a [u8]),
}

/// A decoded parameter value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// The parameter is absent (length 0).
    Empty,
    /// A signed integer (`INT*`, `ERRNO`, `FD`, `PID`).
    Int(i64),
    /// An unsigned integer (`UINT*`, flags, ids, times, ports, ...).
    Uint(u64),
    /// A floating-point number.
    Double(f64),
    /// A string (`CHARBUF`, `FSPATH`, `FSRELPATH`), without its trailing NUL.
    Str(&'a [u8]),
    /// Raw bytes (`BYTEBUF`, NUL-separated arrays, `FDLIST`, nets).
    Bytes(&'a [u8]),
    /// A socket address.
    SockAddr(SockAddr<'a>),
    /// A connection tuple.
    SockTuple(SockTuple<'a>),
    /// An IPv4 address, network order.
    Ipv4([u8; 4]),
    /// An IPv6 address, network order.
    Ipv6([u8; 16]),
    /// A dynamic parameter: the shape index and the bytes after it.
    Dyn(u8, &'a [u8]),
    /// The bytes do not fit the parameter's type.
    Malformed(&'a [u8]),
}

/// The integer types' sizes are 1, 2, 4 or 8 bytes: each is one load (a
/// copy into a zeroed buffer would be a store-forwarding stall per value).
#[inline]
fn uint_le(d: &[u8]) -> u64 {
    match *d {
        [a] => a as u64,
        [a, b] => u16::from_le_bytes([a, b]) as u64,
        [a, b, c, e] => u32::from_le_bytes([a, b, c, e]) as u64,
        [a, b, c, e, f, g, h, i] => u64::from_le_bytes([a, b, c, e, f, g, h, i]),
        _ => {
            let mut b = [0u8; 8];
            b[..d.len()].copy_from_slice(d);
            u64::from_le_bytes(b)
        }
    }
}

#[inline]
fn int_le(d: &[u8]) -> i64 {
    match *d {
        [a] => a as i8 as i64,
        [a, b] => i16::from_le_bytes([a, b]) as i64,
        [a, b, c, e] => i32::from_le_bytes([a, b, c, e]) as i64,
        _ => {
            let shift = 64 - 8 * d.len() as u32;
            ((uint_le(d) << shift) as i64) >> shift
        }
    }
}

fn strip_nul(d: &[u8]) -> &[u8] {
    match d.iter().position(|&b| b == 0) {
        Some(p) => &d[..p],
        None => d,
    }
}

fn arr<const N: usize>(d: &[u8]) -> [u8; N] {
    d[..N].try_into().unwrap()
}

impl<'a> Param<'a> {
    pub(crate) fn new(info: &'static ParamInfo, data: &'a [u8]) -> Param<'a> {
        Param { info, data }
    }

    /// The parameter's table entry.
    #[inline]
    pub fn info(&self) -> &'static ParamInfo {
        self.info
    }

    /// The parameter's raw bytes.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Decodes the value according to the parameter's type.
    #[inline]
    pub fn value(&self) -> Value<'a> {
        decode_value(self.info.ty, self.data)
    }

    /// The value as an unsigned integer, if it is one of the fixed-size integer types.
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        int_value(self.info.ty, self.data)
    }

    /// The value as a signed integer, if it is one of the fixed-size integer types.
    #[inline]
    pub fn as_i64(&self) -> Option<i64> {
        self.as_u64().map(|v| v as i64)
    }

    /// The value as a string (without trailing NUL), for string and byte types.
    #[inline]
    pub fn as_bytes_value(&self) -> Option<&'a [u8]> {
        match self.value() {
            Value::Str(s) | Value::Bytes(s) => Some(s),
            _ => None,
        }
    }

    /// For a relative path, the index of the parameter holding its directory fd.
    #[inline]
    pub fn dirfd_param(&self) -> Option<usize> {
        self.info.dirfd.map(usize::from)
    }

    /// For a dynamic parameter, the shape's type and the value's bytes.
    pub fn dyn_shape(&self) -> Option<(ParamType, &'a [u8])> {
        let ParamTable::Dyn(shapes) = self.info.table else { return None };
        let (&idx, rest) = self.data.split_first()?;
        Some((shapes.get(idx as usize)?.ty, rest))
    }
}

/// For the integer types `decode_value` reads as `Value::Int` (`Some(true)`)
/// or `Value::Uint` (`Some(false)`); `None` for the others.
#[inline]
fn integer_signedness(ty: ParamType) -> Option<bool> {
    use ParamType as T;
    match ty {
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::Errno | T::Fd | T::Pid | T::Fd32 | T::Pid32 => Some(true),
        T::Uint8
        | T::Uint16
        | T::Uint32
        | T::Uint64
        | T::Syscallid
        | T::Sigtype
        | T::Reltime
        | T::Abstime
        | T::Port
        | T::L4proto
        | T::Sockfamily
        | T::Bool
        | T::Flags8
        | T::Flags16
        | T::Flags32
        | T::Uid
        | T::Gid
        | T::Sigset
        | T::Mode
        | T::Enumflags8
        | T::Enumflags16
        | T::Enumflags32 => Some(false),
        _ => None,
    }
}

/// Bytes of type `ty` as an integer, when `ty` is a fixed-size integer type
/// and the bytes have its size: the answer `decode_value` gives, without
/// building a `Value` (this is on the state's per-event path).
#[inline(always)]
pub(crate) fn int_value(ty: ParamType, d: &[u8]) -> Option<u64> {
    let signed = integer_signedness(ty)?;
    if d.is_empty() || ty.fixed_size() != Some(d.len()) {
        return None;
    }
    Some(if signed { int_le(d) as u64 } else { uint_le(d) })
}

/// Decodes bytes as a value of type `ty`.
#[inline]
pub fn decode_value(ty: ParamType, d: &[u8]) -> Value<'_> {
    use ParamType as T;
    if d.is_empty() {
        return Value::Empty;
    }
    if let Some(size) = ty.fixed_size()
        && d.len() != size
    {
        return Value::Malformed(d);
    }
    match integer_signedness(ty) {
        Some(true) => return Value::Int(int_le(d)),
        Some(false) => return Value::Uint(uint_le(d)),
        None => {}
    }
    match ty {
        T::Double => Value::Double(f64::from_le_bytes(arr(d))),
        T::Charbuf | T::Fspath | T::Fsrelpath => Value::Str(strip_nul(d)),
        T::Bytebuf | T::Charbufarray | T::CharbufPairArray | T::Fdlist => Value::Bytes(d),
        T::Ipv4net | T::Ipv6net | T::Ipaddr | T::Ipnet => Value::Bytes(d),
        T::Ipv4addr => Value::Ipv4(arr(d)),
        T::Ipv6addr => Value::Ipv6(arr(d)),
        T::Sockaddr => Value::SockAddr(sockaddr(d)),
        T::Socktuple => Value::SockTuple(socktuple(d)),
        T::Dyn => Value::Dyn(d[0], &d[1..]),
        // `None`, and the integer types answered above.
        _ => Value::Bytes(d),
    }
}

fn sockaddr(d: &[u8]) -> SockAddr<'_> {
    let (fam, rest) = (d[0], &d[1..]);
    match fam {
        PPM_AF_INET if rest.len() >= 6 => SockAddr::Inet(arr(rest), u16::from_le_bytes(arr(&rest[4..]))),
        PPM_AF_INET6 if rest.len() >= 18 => SockAddr::Inet6(arr(rest), u16::from_le_bytes(arr(&rest[16..]))),
        PPM_AF_UNIX => SockAddr::Unix(strip_nul(rest)),
        _ => SockAddr::Other(fam, rest),
    }
}

fn socktuple(d: &[u8]) -> SockTuple<'_> {
    let (fam, r) = (d[0], &d[1..]);
    let port = |o: usize| u16::from_le_bytes(arr(&r[o..]));
    match fam {
        PPM_AF_INET if r.len() >= 12 => SockTuple::Inet(arr(r), port(4), arr(&r[6..]), port(10)),
        PPM_AF_INET6 if r.len() >= 36 => SockTuple::Inet6(arr(r), port(16), arr(&r[18..]), port(34)),
        PPM_AF_UNIX if r.len() >= 16 => SockTuple::Unix(uint_le(&r[..8]), uint_le(&r[8..16]), strip_nul(&r[16..])),
        _ => SockTuple::Other(fam, r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_widths_sign_extend() {
        assert_eq!(decode_value(ParamType::Int32, &(-5i32).to_le_bytes()), Value::Int(-5));
        assert_eq!(decode_value(ParamType::Errno, &(-2i64).to_le_bytes()), Value::Int(-2));
        assert_eq!(decode_value(ParamType::Int8, &[0xff]), Value::Int(-1));
    }

    #[test]
    fn wrong_size_is_malformed_not_a_panic() {
        assert_eq!(decode_value(ParamType::Uint32, &[1, 2]), Value::Malformed(&[1, 2]));
        assert_eq!(decode_value(ParamType::Sockaddr, &[2, 1]), Value::SockAddr(SockAddr::Other(2, &[1])));
    }

    #[test]
    fn socktuple_inet() {
        let mut d = vec![PPM_AF_INET];
        d.extend_from_slice(&[127, 0, 0, 1]);
        d.extend_from_slice(&40000u16.to_le_bytes());
        d.extend_from_slice(&[10, 0, 0, 2]);
        d.extend_from_slice(&80u16.to_le_bytes());
        assert_eq!(
            decode_value(ParamType::Socktuple, &d),
            Value::SockTuple(SockTuple::Inet([127, 0, 0, 1], 40000, [10, 0, 0, 2], 80))
        );
    }
}
