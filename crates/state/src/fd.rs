//! File descriptors: what each fd of a process is.

use crate::util::{Str, empty_str, is_v4_mapped, push_ipv4, push_ipv6};

/// The kind of a file descriptor (libs' `scap_fd_type`; the values are the
/// capture format's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum FdType {
    Unknown = 0,
    /// A file from an old capture's fd list (same as [`FdType::File`] otherwise).
    FileV1 = 1,
    Directory = 2,
    Ipv4Socket = 3,
    Ipv6Socket = 4,
    Ipv4Server = 5,
    Ipv6Server = 6,
    Fifo = 7,
    UnixSocket = 8,
    Event = 9,
    Unsupported = 10,
    Signalfd = 11,
    Eventpoll = 12,
    Inotify = 13,
    Timerfd = 14,
    Netlink = 15,
    /// A regular file (libs' `SCAP_FD_FILE_V2`).
    File = 16,
    Bpf = 17,
    Userfaultfd = 18,
    IoUring = 19,
    Memfd = 20,
    Pidfd = 21,
}

impl FdType {
    /// The type of a capture's fd-list code; unknown codes are `Unknown`.
    pub fn from_code(code: u8) -> FdType {
        use FdType::*;
        match code {
            1 => FileV1,
            2 => Directory,
            3 => Ipv4Socket,
            4 => Ipv6Socket,
            5 => Ipv4Server,
            6 => Ipv6Server,
            7 => Fifo,
            8 => UnixSocket,
            9 => Event,
            10 => Unsupported,
            11 => Signalfd,
            12 => Eventpoll,
            13 => Inotify,
            14 => Timerfd,
            15 => Netlink,
            16 => File,
            17 => Bpf,
            18 => Userfaultfd,
            19 => IoUring,
            20 => Memfd,
            21 => Pidfd,
            _ => Unknown,
        }
    }

    /// sysdig's one-letter type (`fd.typechar`): `f` file, `d` directory,
    /// `4`/`6` IP sockets, `u` unix, `p` pipe, ...
    pub fn typechar(self) -> u8 {
        use FdType::*;
        match self {
            File | FileV1 => b'f',
            Directory => b'd',
            Ipv4Socket | Ipv4Server => b'4',
            Ipv6Socket | Ipv6Server => b'6',
            Fifo => b'p',
            UnixSocket => b'u',
            Event => b'e',
            Unknown => b'o',
            Unsupported => b'X',
            Signalfd => b's',
            Eventpoll => b'l',
            Inotify => b'i',
            Timerfd => b't',
            Netlink => b'n',
            Bpf => b'b',
            Userfaultfd => b'u',
            IoUring => b'r',
            Memfd => b'm',
            Pidfd => b'P',
        }
    }

    /// sysdig's type name (`fd.type`): `file`, `ipv4`, `unix`, ...
    pub fn name(self) -> &'static str {
        use FdType::*;
        match self {
            File | FileV1 => "file",
            Directory => "directory",
            Ipv4Socket | Ipv4Server => "ipv4",
            Ipv6Socket | Ipv6Server => "ipv6",
            UnixSocket => "unix",
            Fifo => "pipe",
            Event => "event",
            Signalfd => "signalfd",
            Eventpoll => "eventpoll",
            Inotify => "inotify",
            Timerfd => "timerfd",
            Netlink => "netlink",
            Bpf => "bpf",
            Userfaultfd => "userfaultfd",
            IoUring => "io_uring",
            Memfd => "memfd",
            Pidfd => "pidfd",
            Unknown | Unsupported => "<NA>",
        }
    }

    /// Whether this is an IPv4 or IPv6 socket (client or server).
    pub fn is_ip(self) -> bool {
        matches!(self, FdType::Ipv4Socket | FdType::Ipv6Socket | FdType::Ipv4Server | FdType::Ipv6Server)
    }
}

/// Transport protocol of an IP socket (libs' `scap_l4_proto`).
#[allow(missing_docs)]
pub mod l4 {
    pub const UNKNOWN: u8 = 0;
    pub const NA: u8 = 1;
    pub const TCP: u8 = 2;
    pub const UDP: u8 = 3;
    pub const ICMP: u8 = 4;
    pub const RAW: u8 = 5;
}

/// The address part of a socket fd, laid out as libs' `sinsp_sockinfo`
/// union so that changes of socket type keep sinsp's exact (aliased) values:
/// - IPv4 tuple: sip @0, dip @4, sport @8, dport @10, proto @12;
/// - IPv6 tuple: sip @0, dip @16, sport @32, dport @34, proto @36;
/// - IPv4 server: ip @0, port @4, proto @6;
/// - IPv6 server: ip @0, port @16, proto @18;
/// - unix: source @0, dest @8.
///
/// Addresses are in network byte order, ports in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockInfo(pub [u8; 40]);

impl Default for SockInfo {
    fn default() -> Self {
        SockInfo([0; 40])
    }
}

impl Default for Fd {
    fn default() -> Self {
        Fd {
            ty: FdType::Unknown,
            flags: 0,
            open_flags: 0,
            ino: 0,
            dev: 0,
            sock: SockInfo::default(),
            name: empty_str(),
            name_raw: empty_str(),
            renamed_at: 0,
        }
    }
}

#[allow(missing_docs)]
impl SockInfo {
    #[inline]
    fn u16_at(&self, o: usize) -> u16 {
        u16::from_le_bytes([self.0[o], self.0[o + 1]])
    }
    #[inline]
    fn set_u16(&mut self, o: usize, v: u16) {
        self.0[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn arr4(&self, o: usize) -> [u8; 4] {
        self.0[o..o + 4].try_into().unwrap()
    }
    #[inline]
    fn arr16(&self, o: usize) -> [u8; 16] {
        self.0[o..o + 16].try_into().unwrap()
    }
    pub fn v4_sip(&self) -> [u8; 4] {
        self.arr4(0)
    }
    pub fn v4_dip(&self) -> [u8; 4] {
        self.arr4(4)
    }
    pub fn v4_sport(&self) -> u16 {
        self.u16_at(8)
    }
    pub fn v4_dport(&self) -> u16 {
        self.u16_at(10)
    }
    pub fn v4_l4(&self) -> u8 {
        self.0[12]
    }
    pub fn set_v4(&mut self, sip: [u8; 4], sport: u16, dip: [u8; 4], dport: u16) {
        self.0[0..4].copy_from_slice(&sip);
        self.0[4..8].copy_from_slice(&dip);
        self.set_u16(8, sport);
        self.set_u16(10, dport);
    }
    pub fn set_v4_sip(&mut self, ip: [u8; 4]) {
        self.0[0..4].copy_from_slice(&ip);
    }
    pub fn set_v4_dip(&mut self, ip: [u8; 4]) {
        self.0[4..8].copy_from_slice(&ip);
    }
    pub fn set_v4_sport(&mut self, p: u16) {
        self.set_u16(8, p);
    }
    pub fn set_v4_dport(&mut self, p: u16) {
        self.set_u16(10, p);
    }
    pub fn set_v4_l4(&mut self, p: u8) {
        self.0[12] = p;
    }
    pub fn v6_sip(&self) -> [u8; 16] {
        self.arr16(0)
    }
    pub fn v6_dip(&self) -> [u8; 16] {
        self.arr16(16)
    }
    pub fn v6_sport(&self) -> u16 {
        self.u16_at(32)
    }
    pub fn v6_dport(&self) -> u16 {
        self.u16_at(34)
    }
    pub fn v6_l4(&self) -> u8 {
        self.0[36]
    }
    pub fn set_v6_sip(&mut self, ip: [u8; 16]) {
        self.0[0..16].copy_from_slice(&ip);
    }
    pub fn set_v6_dip(&mut self, ip: [u8; 16]) {
        self.0[16..32].copy_from_slice(&ip);
    }
    pub fn set_v6_sport(&mut self, p: u16) {
        self.set_u16(32, p);
    }
    pub fn set_v6_dport(&mut self, p: u16) {
        self.set_u16(34, p);
    }
    pub fn set_v6_l4(&mut self, p: u8) {
        self.0[36] = p;
    }
    pub fn v4srv_ip(&self) -> [u8; 4] {
        self.arr4(0)
    }
    pub fn v4srv_port(&self) -> u16 {
        self.u16_at(4)
    }
    pub fn v4srv_l4(&self) -> u8 {
        self.0[6]
    }
    pub fn set_v4srv(&mut self, ip: [u8; 4], port: u16, l4: u8) {
        self.0[0..4].copy_from_slice(&ip);
        self.set_u16(4, port);
        self.0[6] = l4;
    }
    pub fn v6srv_ip(&self) -> [u8; 16] {
        self.arr16(0)
    }
    pub fn v6srv_port(&self) -> u16 {
        self.u16_at(16)
    }
    pub fn v6srv_l4(&self) -> u8 {
        self.0[18]
    }
    pub fn set_v6srv(&mut self, ip: [u8; 16], port: u16, l4: u8) {
        self.0[0..16].copy_from_slice(&ip);
        self.set_u16(16, port);
        self.0[18] = l4;
    }
    pub fn unix_src(&self) -> u64 {
        u64::from_le_bytes(self.0[0..8].try_into().unwrap())
    }
    pub fn unix_dst(&self) -> u64 {
        u64::from_le_bytes(self.0[8..16].try_into().unwrap())
    }
    pub fn set_unix(&mut self, src: u64, dst: u64) {
        self.0[0..8].copy_from_slice(&src.to_le_bytes());
        self.0[8..16].copy_from_slice(&dst.to_le_bytes());
    }
}

/// Per-fd flags ([`Fd::flags`]).
#[allow(missing_docs)]
pub mod fd_flags {
    pub const ROLE_CLIENT: u16 = 1 << 0;
    pub const ROLE_SERVER: u16 = 1 << 1;
    pub const CLOSE_IN_PROGRESS: u16 = 1 << 2;
    pub const CLOSE_CANCELED: u16 = 1 << 3;
    pub const CONNECTED: u16 = 1 << 4;
    /// Closed by `execve` (opened with `O_CLOEXEC`, `SOCK_CLOEXEC`, ...).
    pub const CLOEXEC: u16 = 1 << 5;
    /// Known from a capture's fd list or /proc rather than from an event.
    pub const FROM_PROC: u16 = 1 << 6;
}

/// One file descriptor of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fd {
    /// What it is.
    pub ty: FdType,
    /// [`fd_flags`] bits: role, close in progress, close-on-exec, ...
    pub flags: u16,
    /// The open flags (libs' `PPM_O_*`) of files.
    pub open_flags: u32,
    /// Inode number, when known.
    pub ino: u64,
    /// Device number, when known.
    pub dev: u32,
    /// Socket addresses.
    pub sock: SockInfo,
    /// The name: absolute path, socket tuple (`1.2.3.4:5->6.7.8.9:80`),
    /// server address, unix path, or empty.
    pub name: Str,
    /// The path as the opening call gave it (`fd.nameraw`: libsinsp's
    /// `m_name_raw`), for files; empty otherwise. Shares `name` when the
    /// two are the same (an absolute, clean path).
    pub name_raw: Str,
    /// The number (`Counters::events`) of the event that last gave it a
    /// new name, 0 if none did (`fd.name_changed` of that event).
    pub renamed_at: u64,
}

impl Fd {
    /// A new fd of this type and name.
    pub fn new(ty: FdType, name: Str) -> Fd {
        Fd { ty, name, ..Fd::default() }
    }

    /// sysdig's type letter.
    #[inline]
    pub fn typechar(&self) -> u8 {
        self.ty.typechar()
    }

    /// The role bits are unset (neither client nor server yet).
    #[inline]
    pub fn is_role_none(&self) -> bool {
        self.flags & (fd_flags::ROLE_CLIENT | fd_flags::ROLE_SERVER) == 0
    }

    /// A server-side socket (accepted, bound, or guessed).
    #[inline]
    pub fn is_role_server(&self) -> bool {
        self.flags & fd_flags::ROLE_SERVER != 0
    }

    /// A client-side socket.
    #[inline]
    pub fn is_role_client(&self) -> bool {
        self.flags & fd_flags::ROLE_CLIENT != 0
    }

    pub(crate) fn set_role_server(&mut self) {
        self.flags = (self.flags & !fd_flags::ROLE_CLIENT) | fd_flags::ROLE_SERVER;
    }

    pub(crate) fn set_role_client(&mut self) {
        self.flags = (self.flags & !fd_flags::ROLE_SERVER) | fd_flags::ROLE_CLIENT;
    }

    /// Whether `execve` closes it.
    #[inline]
    pub fn is_cloexec(&self) -> bool {
        self.flags & fd_flags::CLOEXEC != 0
    }

    /// The transport protocol as sysdig reports it: nothing (`NA`) for a
    /// client socket whose role is not known yet, as in libs.
    pub fn l4proto(&self) -> u8 {
        match self.ty {
            FdType::Ipv4Socket => {
                if self.sock.v4_l4() == l4::RAW {
                    l4::RAW
                } else if self.is_role_none() {
                    l4::NA
                } else {
                    self.sock.v4_l4()
                }
            }
            FdType::Ipv6Socket => {
                if self.sock.v6_l4() == l4::RAW {
                    l4::RAW
                } else if self.is_role_none() {
                    l4::NA
                } else {
                    self.sock.v6_l4()
                }
            }
            FdType::Ipv4Server => self.sock.v4srv_l4(),
            FdType::Ipv6Server => self.sock.v6srv_l4(),
            _ => l4::NA,
        }
    }

    /// The transport letter sysdig prints after the type letter of IP
    /// sockets (`t`, `u`, `i`, `r`), if any.
    pub fn l4char(&self) -> Option<u8> {
        if !self.ty.is_ip() {
            return None;
        }
        match self.l4proto() {
            l4::TCP => Some(b't'),
            l4::UDP => Some(b'u'),
            l4::ICMP => Some(b'i'),
            l4::RAW => Some(b'r'),
            _ => None,
        }
    }

    /// The tuple text of an IPv4 client socket: `sip:sport->dip:dport`.
    pub(crate) fn v4_tuple_name(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.clear();
        push_ipv4(out, self.sock.v4_sip());
        let _ = write!(out, ":{}->", self.sock.v4_sport());
        push_ipv4(out, self.sock.v4_dip());
        let _ = write!(out, ":{}", self.sock.v4_dport());
    }

    /// The tuple text of an IPv6 client socket (`inet_ntop` form).
    pub(crate) fn v6_tuple_name(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.clear();
        push_ipv6(out, self.sock.v6_sip());
        let _ = write!(out, ":{}->", self.sock.v6_sport());
        push_ipv6(out, self.sock.v6_dip());
        let _ = write!(out, ":{}", self.sock.v6_dport());
    }

    /// The socket text as libs' `sockinfo_to_str` makes it after connect or
    /// a datagram: IPv4 tuple, or IPv6 tuple (IPv4 form when both ends are
    /// IPv4-mapped).
    pub(crate) fn sockinfo_name(&self, out: &mut Vec<u8>) {
        match self.ty {
            FdType::Ipv4Socket => self.v4_tuple_name(out),
            FdType::Ipv6Socket => {
                let (s, d) = (self.sock.v6_sip(), self.sock.v6_dip());
                if is_v4_mapped(&s) && is_v4_mapped(&d) {
                    use std::io::Write;
                    out.clear();
                    push_ipv4(out, s[12..].try_into().unwrap());
                    let _ = write!(out, ":{}->", self.sock.v6_sport());
                    push_ipv4(out, d[12..].try_into().unwrap());
                    let _ = write!(out, ":{}", self.sock.v6_dport());
                } else {
                    self.v6_tuple_name(out)
                }
            }
            _ => out.clear(),
        }
    }
}
