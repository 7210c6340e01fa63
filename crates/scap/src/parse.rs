//! Decoding of the metadata blocks (bodies without the 8-byte block header and
//! the trailer, padding included).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind};
use crate::format::{MACHINE_INFO_LEN, block};
use crate::header::{
    FdInfo, FdKind, FdList, GroupInfo, InterfaceAddr, InterfaceInfo, MachineInfo, ProcessInfo, SectionHeader, UserInfo,
    fd_type, is_named_fd_type,
};

/// A little-endian cursor over a block body. Errors carry the offset (in the
/// file) of the entry being decoded.
struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A decoding failure inside a block: a reason and the body-relative offset of
/// the entry where it happened.
pub(crate) struct BodyError {
    pub(crate) at: usize,
    pub(crate) reason: String,
}

type R<T> = Result<T, String>;

impl<'a> Cur<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cur { data, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> R<&'a [u8]> {
        if self.remaining() < n {
            return Err(format!("{what} needs {n} bytes, only {} remain", self.remaining()));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self, what: &str) -> R<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("take returned N bytes"))
    }

    fn u8(&mut self, what: &str) -> R<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> R<u16> {
        Ok(u16::from_le_bytes(self.arr(what)?))
    }

    fn u32(&mut self, what: &str) -> R<u32> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }

    fn u64(&mut self, what: &str) -> R<u64> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }

    fn i64(&mut self, what: &str) -> R<i64> {
        Ok(self.u64(what)? as i64)
    }

    /// A `u16` length then that many bytes.
    fn str16(&mut self, what: &str) -> R<Vec<u8>> {
        let n = self.u16(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }

    fn ipv4(&mut self, what: &str) -> R<Ipv4Addr> {
        Ok(Ipv4Addr::from(self.arr::<4>(what)?))
    }

    fn ipv6(&mut self, what: &str) -> R<Ipv6Addr> {
        Ok(Ipv6Addr::from(self.arr::<16>(what)?))
    }
}

fn err_at(at: usize) -> impl Fn(String) -> BodyError {
    move |reason| BodyError { at, reason }
}

/// Turns a [`BodyError`] into a crate error at file offset `body_offset + at`.
pub(crate) fn to_error(e: BodyError, block_type: u32, body_offset: u64) -> Error {
    Error::new(ErrorKind::MalformedBlock { block_type, reason: e.reason }, body_offset + e.at as u64)
}

/// The section header body (16 bytes, then options).
pub(crate) fn section_header(body: &[u8]) -> Result<SectionHeader, BodyError> {
    let mut c = Cur::new(body);
    let e = err_at(0);
    let _magic = c.u32("magic").map_err(&e)?;
    let major = c.u16("major version").map_err(&e)?;
    let minor = c.u16("minor version").map_err(&e)?;
    let section_length = c.u64("section length").map_err(&e)?;
    Ok(SectionHeader { major, minor, section_length, options: body[16..].to_vec() })
}

/// The machine info body. Fields past the end of a short body keep defaults.
pub(crate) fn machine_info(body: &[u8]) -> MachineInfo {
    let mut b = [0u8; MACHINE_INFO_LEN];
    let n = body.len().min(MACHINE_INFO_LEN);
    b[..n].copy_from_slice(&body[..n]);
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let host = &b[20..148];
    let host_len = host.iter().position(|&c| c == 0).unwrap_or(host.len());
    MachineInfo {
        num_cpus: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
        memory_size_bytes: u64_at(4),
        max_pid: u64_at(12),
        hostname: host[..host_len].to_vec(),
        boot_ts_epoch: u64_at(148),
        flags: u64_at(156),
        reserved3: u64_at(164),
        reserved4: u64_at(172),
    }
}

/// A process list body of version `v` (1..=9).
pub(crate) fn proclist(body: &[u8], v: u8) -> Result<Vec<ProcessInfo>, BodyError> {
    let mut out = Vec::new();
    let mut pos = 0;
    // libs reads entries while at least 4 bytes remain (the rest is padding).
    while body.len() - pos >= 4 {
        let (p, len) = proc_entry(&body[pos..], v).map_err(err_at(pos))?;
        out.push(p);
        pos += len;
    }
    Ok(out)
}

/// One process-list entry; returns it and the bytes it spans.
fn proc_entry(data: &[u8], v: u8) -> R<(ProcessInfo, usize)> {
    let mut c = Cur::new(data);
    let mut sub_len = 0usize;
    if v >= 9 {
        sub_len = c.u32("entry length")? as usize;
        if sub_len != 0 {
            if sub_len < 4 || sub_len > data.len() {
                return Err(format!(
                    "process entry length {sub_len} is invalid ({} bytes left in the block)",
                    data.len()
                ));
            }
            c = Cur { data: &data[..sub_len], pos: 4 };
        }
    }
    let mut p = ProcessInfo { tid: c.u64("tid")?, pid: c.u64("pid")?, ptid: c.u64("ptid")?, ..Default::default() };
    if v >= 6 {
        p.sid = c.u64("sid")?;
    }
    if v >= 8 {
        p.vpgid = c.u64("vpgid")?;
    }
    p.comm = c.str16("comm")?;
    p.exe = c.str16("exe")?;
    if v >= 7 {
        p.exepath = c.str16("exepath")?;
    }
    p.args = c.str16("args")?;
    p.cwd = c.str16("cwd")?;
    p.fdlimit = c.u64("fdlimit")?;
    p.flags = c.u32("flags")?;
    p.uid = c.u32("uid")?;
    p.gid = c.u32("gid")?;
    if v >= 2 {
        p.vmsize_kb = c.u32("vmsize_kb")?;
        p.vmrss_kb = c.u32("vmrss_kb")?;
        p.vmswap_kb = c.u32("vmswap_kb")?;
        p.pfmajor = c.u64("pfmajor")?;
        p.pfminor = c.u64("pfminor")?;
        if v >= 3 {
            p.env = c.str16("env")?;
        }
        if v >= 4 {
            p.vtid = c.i64("vtid")?;
            p.vpid = c.i64("vpid")?;
            p.cgroups = c.str16("cgroups")?;
            if v >= 5 {
                p.root = c.str16("root")?;
            }
        }
    }
    if sub_len == 0 {
        return Ok((p, c.pos));
    }
    // The optional tail, each field read only if the entry is long enough.
    // libs 0.10 inserted pidns_init_start_ts and tty before loginuid; an entry
    // with at most 29 bytes left (loginuid, exe_writable, 3 capability sets)
    // has the older layout (libs HEAD's reader makes the same call).
    if c.remaining() > 29 {
        if c.remaining() >= 8 {
            p.pidns_init_start_ts = c.u64("pidns_init_start_ts")?;
        }
        if c.remaining() >= 4 {
            p.tty = c.u32("tty")?;
        }
    }
    if c.remaining() >= 4 {
        p.loginuid = c.u32("loginuid")?;
    }
    if c.remaining() >= 1 {
        p.exe_writable = c.u8("exe_writable")? != 0;
    }
    if c.remaining() >= 8 {
        p.cap_inheritable = c.u64("cap_inheritable")?;
    }
    if c.remaining() >= 8 {
        p.cap_permitted = c.u64("cap_permitted")?;
    }
    if c.remaining() >= 8 {
        p.cap_effective = c.u64("cap_effective")?;
    }
    if c.remaining() >= 1 {
        p.exe_upper_layer = c.u8("exe_upper_layer")? != 0;
    }
    if c.remaining() >= 8 {
        p.exe_ino = c.u64("exe_ino")?;
    }
    if c.remaining() >= 8 {
        p.exe_ino_ctime = c.u64("exe_ino_ctime")?;
    }
    if c.remaining() >= 8 {
        p.exe_ino_mtime = c.u64("exe_ino_mtime")?;
    }
    if c.remaining() >= 1 {
        p.exe_from_memfd = c.u8("exe_from_memfd")? != 0;
    }
    if c.remaining() >= 1 {
        p.exe_lower_layer = c.u8("exe_lower_layer")? != 0;
    }
    if c.remaining() >= 8 {
        p.pgid = c.i64("pgid")?;
    }
    Ok((p, sub_len))
}

/// An fd list body (`v2`: length-prefixed entries).
pub(crate) fn fdlist(body: &[u8], v2: bool) -> Result<FdList, BodyError> {
    let mut c = Cur::new(body);
    let tid = c.u64("tid").map_err(err_at(0))?;
    let mut fds = Vec::new();
    let mut pos = 8;
    while body.len() - pos >= 4 {
        let (fd, len) = fd_entry(&body[pos..], v2).map_err(err_at(pos))?;
        fds.push(fd);
        pos += len;
    }
    Ok(FdList { tid, fds })
}

fn fd_entry(data: &[u8], v2: bool) -> R<(FdInfo, usize)> {
    let mut c = Cur::new(data);
    let mut sub_len = 0usize;
    if v2 {
        sub_len = c.u32("fd entry length")? as usize;
        if sub_len != 0 {
            if sub_len < 4 || sub_len > data.len() {
                return Err(format!("fd entry length {sub_len} is invalid ({} bytes left in the block)", data.len()));
            }
            c = Cur { data: &data[..sub_len], pos: 4 };
        }
    }
    let fd = c.i64("fd")?;
    let ino = c.u64("ino")?;
    let ty = c.u8("fd type")?;
    let kind = match ty {
        fd_type::IPV4_SOCK => FdKind::Ipv4Socket {
            sip: c.ipv4("sip")?,
            dip: c.ipv4("dip")?,
            sport: c.u16("sport")?,
            dport: c.u16("dport")?,
            l4proto: c.u8("l4proto")?,
        },
        fd_type::IPV6_SOCK => FdKind::Ipv6Socket {
            sip: c.ipv6("sip")?,
            dip: c.ipv6("dip")?,
            sport: c.u16("sport")?,
            dport: c.u16("dport")?,
            l4proto: c.u8("l4proto")?,
        },
        fd_type::IPV4_SERVSOCK => {
            FdKind::Ipv4Server { ip: c.ipv4("ip")?, port: c.u16("port")?, l4proto: c.u8("l4proto")? }
        }
        fd_type::IPV6_SERVSOCK => {
            FdKind::Ipv6Server { ip: c.ipv6("ip")?, port: c.u16("port")?, l4proto: c.u8("l4proto")? }
        }
        fd_type::UNIX_SOCK => {
            FdKind::Unix { source: c.u64("unix source")?, dest: c.u64("unix destination")?, path: c.str16("path")? }
        }
        fd_type::FILE_V2 => {
            let open_flags = c.u32("open_flags")?;
            let name = c.str16("name")?;
            // dev exists only in length-prefixed entries long enough for it.
            let dev = if sub_len != 0 && c.remaining() >= 4 { Some(c.u32("dev")?) } else { None };
            FdKind::File { open_flags, name, dev }
        }
        t if is_named_fd_type(t) => FdKind::Named { fd_type: t, name: c.str16("name")? },
        fd_type::UNKNOWN => FdKind::Unknown { fd_type: 0 },
        t if sub_len != 0 => FdKind::Unknown { fd_type: t },
        t => return Err(format!("unknown fd type {t} in an entry without a length")),
    };
    let len = if sub_len != 0 { sub_len } else { c.pos };
    Ok((FdInfo { fd, ino, kind }, len))
}

/// An interface list body (`v2`: each entry prefixed by a `u32` length that
/// excludes itself).
pub(crate) fn iflist(body: &[u8], v2: bool) -> Result<Vec<InterfaceInfo>, BodyError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while body.len() - pos >= 4 {
        let e = err_at(pos);
        let mut c = Cur::new(&body[pos..]);
        let mut entry_len = 0usize;
        if v2 {
            entry_len = c.u32("interface entry length").map_err(&e)? as usize + 4;
            if entry_len > c.data.len() {
                return Err(e(format!(
                    "interface entry length {entry_len} exceeds the {} bytes left in the block",
                    c.data.len()
                )));
            }
            c = Cur { data: &c.data[..entry_len], pos: 4 };
        }
        let ty = c.u16("interface type").map_err(&e)?;
        let namelen = c.u16("interface name length").map_err(&e)? as usize;
        let (addr, linkspeed) = match ty {
            1 | 3 => {
                let addr = InterfaceAddr::V4 {
                    addr: c.ipv4("addr").map_err(&e)?,
                    netmask: c.ipv4("netmask").map_err(&e)?,
                    bcast: c.ipv4("bcast").map_err(&e)?,
                };
                (addr, if ty == 1 { c.u64("linkspeed").map_err(&e)? } else { 0 })
            }
            2 | 4 => {
                let addr = InterfaceAddr::V6 {
                    addr: c.ipv6("addr").map_err(&e)?,
                    netmask: c.ipv6("netmask").map_err(&e)?,
                    bcast: c.ipv6("bcast").map_err(&e)?,
                };
                (addr, if ty == 2 { c.u64("linkspeed").map_err(&e)? } else { 0 })
            }
            t => return Err(e(format!("unknown interface type {t}"))),
        };
        let name = c.take(namelen, "interface name").map_err(&e)?.to_vec();
        out.push(InterfaceInfo { name, addr, linkspeed });
        pos += if entry_len != 0 { entry_len } else { c.pos };
    }
    Ok(out)
}

/// A user list body (`v2`: length-prefixed entries).
pub(crate) fn userlist(body: &[u8], v2: bool) -> Result<(Vec<UserInfo>, Vec<GroupInfo>), BodyError> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut pos = 0;
    while body.len() - pos >= 4 {
        let e = err_at(pos);
        let mut c = Cur::new(&body[pos..]);
        let mut sub_len = 0usize;
        if v2 {
            sub_len = c.u32("user entry length").map_err(&e)? as usize;
            if sub_len != 0 {
                if sub_len < 4 || sub_len > c.data.len() {
                    return Err(e(format!(
                        "user entry length {sub_len} is invalid ({} bytes left in the block)",
                        c.data.len()
                    )));
                }
                c = Cur { data: &c.data[..sub_len], pos: 4 };
            }
        }
        let ty = c.u8("user entry type").map_err(&e)?;
        if ty == 0 {
            users.push(UserInfo {
                uid: c.u32("uid").map_err(&e)?,
                gid: c.u32("gid").map_err(&e)?,
                name: c.str16("user name").map_err(&e)?,
                homedir: c.str16("home directory").map_err(&e)?,
                shell: c.str16("shell").map_err(&e)?,
            });
        } else {
            groups.push(GroupInfo { gid: c.u32("gid").map_err(&e)?, name: c.str16("group name").map_err(&e)? });
        }
        pos += if sub_len != 0 { sub_len } else { c.pos };
    }
    Ok((users, groups))
}

/// Decoded metadata of one block.
pub(crate) enum Parsed {
    Machine(MachineInfo),
    Processes(Vec<ProcessInfo>),
    Fds(FdList),
    Interfaces(Vec<InterfaceInfo>),
    Users(Vec<UserInfo>, Vec<GroupInfo>),
}

/// Decodes a metadata block body; `None` for block types that are not metadata.
pub(crate) fn metadata(block_type: u32, body: &[u8]) -> Option<Result<Parsed, BodyError>> {
    Some(match block_type {
        block::MI | block::MI_INT => Ok(Parsed::Machine(machine_info(body))),
        block::FDL | block::FDL_INT => fdlist(body, false).map(Parsed::Fds),
        block::FDL_V2 => fdlist(body, true).map(Parsed::Fds),
        block::IL | block::IL_INT => iflist(body, false).map(Parsed::Interfaces),
        block::IL_V2 => iflist(body, true).map(Parsed::Interfaces),
        block::UL | block::UL_INT => userlist(body, false).map(|(u, g)| Parsed::Users(u, g)),
        block::UL_V2 => userlist(body, true).map(|(u, g)| Parsed::Users(u, g)),
        t => proclist(body, block::proclist_version(t)?).map(Parsed::Processes),
    })
}
