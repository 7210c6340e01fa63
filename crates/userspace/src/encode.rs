//! Events from a stopped tracee, parameter for parameter what the modern
//! probe (`kernel/fillers/progs_*.h`) writes for the same syscall.
//!
//! Syscall arguments come from the registers at the syscall-exit stop (the
//! same `pt_regs` the probe reads at `sys_exit`), user memory is read with
//! `process_vm_readv` at that moment, and what the probe reads from kernel
//! structures comes from /proc, `pidfd_getfd` + socket calls, or a check made
//! at the syscall-entry stop; the module docs of the crate list each source.

use std::collections::HashMap;

use libc::pid_t;
use saker_abi::{EventBuilder, EventType as T};

use crate::flags;
use crate::procfs::{self, CgroupLayout, TaskStat, TaskStatus};
use crate::sys;

const MAX_PATH: usize = 4096;
const MAX_ARGS_ENV: usize = 4096;
const MAX_SNAPLEN: usize = 65535;
const IOV_MAX_READ: u64 = 32;
const POLL_MAX_FDS: u64 = 16;
const UNIX_PATH_MAX: usize = 108;

/// One syscall as seen at its exit stop (or entry stop for enter events).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub tid: pid_t,
    pub tgid: pid_t,
    pub nr: u32,
    pub args: [u64; 6],
    pub ret: i64,
}

impl Call {
    fn a(&self, i: usize) -> u64 {
        self.args[i]
    }

    /// An `int` argument: the upper half of the register is not defined.
    fn ia(&self, i: usize) -> i64 {
        self.args[i] as i32 as i64
    }
}

/// What the syscall-entry stop learned for the exit event.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EntryNote {
    /// For an open with O_CREAT: whether the file existed before the call.
    pub existed: Option<bool>,
}

#[derive(Default)]
struct ProcCache {
    pidfd: Option<i32>,
    mounts: Vec<(u64, u32)>,
}

impl Drop for ProcCache {
    fn drop(&mut self) {
        if let Some(fd) = self.pidfd {
            sys::close(fd);
        }
    }
}

/// Builds events; keeps scratch buffers and per-process caches.
pub(crate) struct Encoder {
    pub snaplen: u32,
    cgroups: CgroupLayout,
    clk_tck: u64,
    buf: Vec<u8>,
    tmp: Vec<u8>,
    procs: HashMap<pid_t, ProcCache>,
    reaper_start: HashMap<pid_t, u64>,
    socketpair: (u64, u64),
    pub cpu: u16,
}

/// A socket's state, read through a duplicate of the tracee's fd.
pub(crate) struct Sock {
    pub family: u16,
    pub ino: u64,
    /// `getsockname`'s address.
    pub local: Vec<u8>,
    /// `getpeername`'s address, if connected.
    pub peer: Option<Vec<u8>>,
    pub stream: bool,
}

fn ntohs(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

impl Encoder {
    pub(crate) fn new(snaplen: u32) -> Encoder {
        Encoder {
            snaplen,
            cgroups: CgroupLayout::load(),
            clk_tck: procfs::clock_ticks(),
            buf: Vec::with_capacity(4096),
            tmp: Vec::with_capacity(8192),
            procs: HashMap::new(),
            reaper_start: HashMap::new(),
            socketpair: (0, 0),
            cpu: 0,
        }
    }

    /// Forgets a process (its pidfd and mount table).
    pub(crate) fn forget_process(&mut self, tgid: pid_t) {
        self.procs.remove(&tgid);
    }

    fn begin<'b>(&self, out: &'b mut Vec<u8>, tid: pid_t, ty: T) -> EventBuilder<'b> {
        out.extend_from_slice(&self.cpu.to_le_bytes());
        EventBuilder::new(out, sys::now_ns(), tid as u64, ty)
    }

    /// `aev_ustr`: a user string, at most `max - 1` bytes and a NUL; empty if unreadable.
    fn ustr(&mut self, b: &mut EventBuilder<'_>, pid: pid_t, addr: u64, max: usize) -> usize {
        self.tmp.clear();
        match sys::read_str(pid, addr, max, &mut self.tmp) {
            Some(n) => {
                b.param_raw(&self.tmp);
                n
            }
            None => {
                b.param_empty();
                0
            }
        }
    }

    /// `aev_bytes`: exactly `len` user bytes, empty if any is unreadable.
    fn ubytes(&mut self, b: &mut EventBuilder<'_>, pid: pid_t, addr: u64, len: usize) {
        let len = len.min(MAX_SNAPLEN);
        self.tmp.clear();
        if addr == 0 || len == 0 || !sys::read_exact(pid, addr, len, &mut self.tmp) {
            b.param_empty();
        } else {
            b.param_raw(&self.tmp);
        }
    }

    /// `aev_data`: the buffer of a read/write-like call, at most snaplen bytes.
    fn data(&mut self, b: &mut EventBuilder<'_>, pid: pid_t, addr: u64, size: i64) {
        let len = if size > 0 { (size as u64).min(self.snaplen as u64) as usize } else { 0 };
        self.ubytes(b, pid, addr, len);
    }

    /// `aev_iovec`: the bytes of an iovec array up to `limit` and snaplen;
    /// returns the total size the (first 32) iovecs describe.
    fn iovec(&mut self, b: &mut EventBuilder<'_>, pid: pid_t, uiov: u64, iovcnt: u64, limit: i64) -> u32 {
        let total = self.iovec_bytes(pid, uiov, iovcnt, limit);
        b.param_raw(&self.tmp);
        total
    }

    /// The bytes of [`Encoder::iovec`] left in `self.tmp`, and the total.
    fn iovec_bytes(&mut self, pid: pid_t, uiov: u64, iovcnt: u64, limit: i64) -> u32 {
        self.tmp.clear();
        let mut left = if limit > 0 { (limit as u64).min(self.snaplen as u64) as usize } else { 0 };
        let mut total: u32 = 0;
        for i in 0..iovcnt.min(IOV_MAX_READ) {
            let Some(iov) = sys::read_val::<[u64; 2]>(pid, uiov.wrapping_add(i * 16)) else { break };
            total = total.wrapping_add(iov[1] as u32);
            let n = (iov[1].min(left as u64) as usize) & MAX_SNAPLEN;
            if n > 0 && sys::read_exact(pid, iov[0], n, &mut self.tmp) {
                left -= n;
            }
        }
        total
    }

    fn str_or_empty(b: &mut EventBuilder<'_>, s: Option<&[u8]>) {
        match s {
            Some(s) => b.param_str(s),
            None => b.param_empty(),
        };
    }

    // ---- kernel state the probe reads from structures ----

    fn proc_cache(&mut self, tgid: pid_t) -> &mut ProcCache {
        self.procs.entry(tgid).or_default()
    }

    /// A duplicate of the tracee's fd in this process.
    fn dup_fd(&mut self, tgid: pid_t, fd: i64) -> Option<OwnedFd> {
        if fd < 0 || fd > i32::MAX as i64 {
            return None;
        }
        let pc = self.proc_cache(tgid);
        if pc.pidfd.is_none() {
            pc.pidfd = sys::pidfd_open(tgid).ok();
        }
        let pidfd = pc.pidfd?;
        sys::pidfd_getfd(pidfd, fd as i32).ok().map(OwnedFd)
    }

    /// `(dev, ino)` of the file behind `fd`, as `file_dev_ino` (superblock
    /// device, inode number): fdinfo's `ino` and `mnt_id`, and the mount's
    /// `major:minor` from the tracee's mountinfo.
    fn file_dev_ino(&mut self, tid: pid_t, tgid: pid_t, fd: i64) -> (u32, u64) {
        if fd < 0 {
            return (0, 0);
        }
        // One statx of the fd's magic link gives the inode and the mount id.
        let path = format!("/proc/{tid}/fd/{fd}\0");
        // SAFETY: zeroed statx is a valid out buffer; path is NUL-terminated.
        let mut sx: libc::statx = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::statx(libc::AT_FDCWD, path.as_ptr().cast(), 0, libc::STATX_INO | libc::STATX_MNT_ID, &mut sx)
        };
        if r != 0 {
            return (0, 0);
        }
        let (mnt, ino) = (sx.stx_mnt_id, sx.stx_ino);
        let mut dev = self.proc_cache(tgid).mounts.iter().find(|(m, _)| *m == mnt).map(|(_, d)| *d);
        if dev.is_none() {
            let mounts = procfs::mount_devs(tid, &mut self.buf);
            dev = mounts.iter().find(|(m, _)| *m == mnt).map(|(_, d)| *d);
            self.proc_cache(tgid).mounts = mounts;
        }
        (dev.map_or(0, flags::encode_dev), ino)
    }

    fn sock(&mut self, tgid: pid_t, fd: i64) -> Option<Sock> {
        let dup = self.dup_fd(tgid, fd)?;
        sock_of(dup.0)
    }

    /// `aev_socktuple`: the connection of socket `fd`, local end first (remote
    /// first when `inbound`); `usr`/`usrlen` give the remote end when the
    /// socket has none yet.
    fn socktuple(&mut self, b: &mut EventBuilder<'_>, c: &Call, fd: i64, usr: u64, usrlen: u64, inbound: bool) {
        let Some(s) = self.sock(c.tgid, fd) else {
            b.param_empty();
            return;
        };
        let mut t = Vec::with_capacity(40);
        match s.family as i32 {
            libc::AF_INET => {
                let l = &s.local;
                let (mut sip, mut sport) =
                    if l.len() >= 8 { ([l[4], l[5], l[6], l[7]], ntohs([l[2], l[3]])) } else { ([0; 4], 0) };
                let (mut dip, mut dport) = match &s.peer {
                    Some(p) if p.len() >= 8 => ([p[4], p[5], p[6], p[7]], ntohs([p[2], p[3]])),
                    _ => ([0; 4], 0),
                };
                if dport == 0 && usr != 0 && usrlen >= 16 {
                    let sin = sys::read_val::<[u8; 16]>(c.tid, usr).unwrap_or([0; 16]);
                    dip = [sin[4], sin[5], sin[6], sin[7]];
                    dport = ntohs([sin[2], sin[3]]);
                }
                if inbound {
                    std::mem::swap(&mut sip, &mut dip);
                    std::mem::swap(&mut sport, &mut dport);
                }
                t.push(libc::AF_INET as u8);
                t.extend_from_slice(&sip);
                t.extend_from_slice(&sport.to_le_bytes());
                t.extend_from_slice(&dip);
                t.extend_from_slice(&dport.to_le_bytes());
            }
            libc::AF_INET6 => {
                let a6 = |x: &[u8]| -> ([u8; 16], u16) {
                    if x.len() >= 24 { (x[8..24].try_into().unwrap(), ntohs([x[2], x[3]])) } else { ([0; 16], 0) }
                };
                let (sip, sport) = a6(&s.local);
                let (mut dip, mut dport) = s.peer.as_deref().map_or(([0; 16], 0), a6);
                if dport == 0 && usr != 0 && usrlen >= 28 {
                    let sin6 = sys::read_val::<[u8; 28]>(c.tid, usr).unwrap_or([0; 28]);
                    (dip, dport) = a6(&sin6);
                }
                t.push(libc::AF_INET6 as u8);
                let ((ip1, p1), (ip2, p2)) =
                    if inbound { ((dip, dport), (sip, sport)) } else { ((sip, sport), (dip, dport)) };
                t.extend_from_slice(&ip1);
                t.extend_from_slice(&p1.to_le_bytes());
                t.extend_from_slice(&ip2);
                t.extend_from_slice(&p2.to_le_bytes());
            }
            libc::AF_UNIX => {
                // The probe writes the kernel addresses of the socket and its
                // peer, which user space cannot know: the socket's inode
                // stands for its address, 0 for the peer's.
                t.push(libc::AF_UNIX as u8);
                t.extend_from_slice(&s.ino.to_le_bytes());
                t.extend_from_slice(&0u64.to_le_bytes());
                let addr = s.peer.as_deref().unwrap_or(&s.local);
                let path = addr.get(2..).unwrap_or(&[]);
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len()).min(UNIX_PATH_MAX - 1);
                t.extend_from_slice(&path[..end]);
                t.push(0);
            }
            _ => {
                b.param_empty();
                return;
            }
        }
        b.param_raw(&t);
    }

    /// `aev_sockaddr`: a socket address from user memory.
    fn sockaddr(&mut self, b: &mut EventBuilder<'_>, pid: pid_t, usr: u64, len: u64) {
        let fam = if usr != 0 && len >= 2 { sys::read_val::<u16>(pid, usr) } else { None };
        let Some(fam) = fam else {
            b.param_empty();
            return;
        };
        let mut t = Vec::with_capacity(32);
        match fam as i32 {
            libc::AF_INET if len >= 16 => {
                let sin = sys::read_val::<[u8; 16]>(pid, usr).unwrap_or([0; 16]);
                t.push(fam as u8);
                t.extend_from_slice(&sin[4..8]);
                t.extend_from_slice(&ntohs([sin[2], sin[3]]).to_le_bytes());
            }
            libc::AF_INET6 if len >= 28 => {
                let sin6 = sys::read_val::<[u8; 28]>(pid, usr).unwrap_or([0; 28]);
                t.push(fam as u8);
                t.extend_from_slice(&sin6[8..24]);
                t.extend_from_slice(&ntohs([sin6[2], sin6[3]]).to_le_bytes());
            }
            libc::AF_UNIX => {
                t.push(fam as u8);
                if sys::read_str(pid, usr + 2, UNIX_PATH_MAX, &mut t).is_none() {
                    t.push(0);
                }
            }
            _ => {
                b.param_empty();
                return;
            }
        }
        b.param_raw(&t);
    }

    /// The accept queue of a listening socket: pct, len, max.
    fn accept_queue(&mut self, b: &mut EventBuilder<'_>, tgid: pid_t, listen_fd: i64) {
        let (mut len, mut max) = (0u32, 0u32);
        if let Some(dup) = self.dup_fd(tgid, listen_fd) {
            // TCP_INFO of a listening socket: tcpi_unacked = sk_ack_backlog,
            // tcpi_sacked = sk_max_ack_backlog.
            let mut info = [0u8; 104];
            let mut l = info.len() as libc::socklen_t;
            // SAFETY: info/l describe a valid buffer.
            let r =
                unsafe { libc::getsockopt(dup.0, libc::IPPROTO_TCP, libc::TCP_INFO, info.as_mut_ptr().cast(), &mut l) };
            if r == 0 && l >= 32 && info[0] == 10 {
                len = u32::from_ne_bytes(info[24..28].try_into().unwrap());
                max = u32::from_ne_bytes(info[28..32].try_into().unwrap());
            }
        }
        b.param_u64((len * 100).checked_div(max).unwrap_or(0) as u64);
        b.param_u64(len as u64);
        b.param_u64(max as u64);
    }

    // ---- process state (execve, clone) ----

    fn read_task(&mut self, tid: pid_t) -> (TaskStat, TaskStatus) {
        let st = procfs::task_stat(tid, &mut self.buf).unwrap_or_default();
        let status = procfs::task_status(tid, &mut self.buf).unwrap_or_default();
        (st, status)
    }

    /// Parameters exe .. cgroups of execve and clone exits (`aev_proc_common`).
    fn proc_common(&mut self, b: &mut EventBuilder<'_>, tid: pid_t, st: &TaskStat, status: &TaskStatus) {
        if st.arg_start != 0 {
            let n = self.ustr(b, tid, st.arg_start, MAX_ARGS_ENV) as u64;
            let len = if st.arg_end > st.arg_start + n { st.arg_end - st.arg_start - n } else { 0 };
            self.ubytes(b, tid, st.arg_start + n, (len as usize).min(MAX_ARGS_ENV));
        } else {
            b.param_empty();
            b.param_empty();
        }
        b.param_i64(tid as i64);
        b.param_i64(status.tgid);
        b.param_i64(status.ppid);
        Self::str_or_empty(b, procfs::cwd(tid).as_deref());
        b.param_u64(sys::nofile_limit(tid).unwrap_or(0));
        b.param_u64(st.majflt);
        b.param_u64(st.minflt);
        b.param_u64(status.vm_size as u64);
        b.param_u64(status.vm_rss as u64);
        b.param_u64(status.vm_swap as u64);
        let comm = &st.comm[..st.comm.len().min(15)];
        b.param_str(comm);
        self.tmp.clear();
        let mut cg = std::mem::take(&mut self.tmp);
        self.cgroups.cgroups(tid, &mut self.buf, &mut cg);
        b.param_raw(&cg);
        self.tmp = cg;
    }

    /// The start time (ns) of the init of the thread's pid namespace, from
    /// its /proc start time (clock ticks since boot): the probe reads
    /// `start_time` in ns, which /proc only gives to the tick.
    fn pidns_init_start(&mut self, tid: pid_t, status: &TaskStatus) -> u64 {
        let mut reaper = 1;
        if status.ns_depth > 0 {
            // Walk up to the process that is 1 in the thread's namespace.
            let mut p = tid;
            for _ in 0..64 {
                let Some(s) = procfs::task_status(p, &mut self.buf) else { break };
                if s.vpid == 1 && s.ns_depth == status.ns_depth {
                    reaper = s.tgid as pid_t;
                    break;
                }
                if s.ppid <= 0 {
                    break;
                }
                p = s.ppid as pid_t;
            }
        }
        if let Some(&t) = self.reaper_start.get(&reaper) {
            return t;
        }
        let ticks = procfs::task_stat(reaper, &mut self.buf).map_or(0, |s| s.starttime);
        let ns = ticks * (1_000_000_000 / self.clk_tck);
        self.reaper_start.insert(reaper, ns);
        ns
    }

    /// A clone/fork/vfork/clone3 exit, in the parent (`ret` = child) or in
    /// the child (`ret` = 0).
    fn clone_exit(&mut self, out: &mut Vec<u8>, c: &Call, ty: T) {
        let raw_flags = match c.nr as i64 {
            libc::SYS_clone => c.a(0),
            libc::SYS_fork => 0,
            libc::SYS_vfork => 0x4000 | 0x100,
            _ => sys::read_val::<u64>(c.tid, c.a(0)).unwrap_or(0),
        };
        let (st, status) = self.read_task(c.tid);
        let init_start = self.pidns_init_start(c.tid, &status);
        let mut b = self.begin(out, c.tid, ty);
        b.param_i64(c.ret);
        self.proc_common(&mut b, c.tid, &st, &status);
        b.param_u64(flags::clone_flags(raw_flags) as u64);
        b.param_u64(status.euid as u64);
        b.param_u64(status.egid as u64);
        b.param_i64(status.vtid);
        b.param_i64(status.vpid);
        b.param_u64(init_start);
        b.finish();
    }

    /// The clone exit event of a new thread or process, at its first stop.
    pub(crate) fn clone_child(&mut self, out: &mut Vec<u8>, c: &Call, ty: T) {
        self.clone_exit(out, c, ty);
    }

    fn exec_exit(&mut self, out: &mut Vec<u8>, c: &Call, ty: T) {
        let (st, status) = self.read_task(c.tid);
        let exe = procfs::exe(c.tid);
        let loginuid = procfs::loginuid(c.tid, &mut self.buf);
        let exe_stat = {
            // SAFETY: zeroed statx is a valid out buffer.
            let mut sx: libc::statx = unsafe { std::mem::zeroed() };
            let path = std::ffi::CString::new(format!("/proc/{}/exe", c.tid)).unwrap();
            // SAFETY: path is NUL-terminated; sx is an out buffer.
            let r = unsafe { libc::statx(libc::AT_FDCWD, path.as_ptr(), 0, libc::STATX_BASIC_STATS, &mut sx) };
            (r == 0).then_some(sx)
        };
        let mut b = self.begin(out, c.tid, ty);
        b.param_i64(c.ret);
        self.proc_common(&mut b, c.tid, &st, &status);
        // env
        if st.env_start != 0 {
            let len = st.env_end.saturating_sub(st.env_start) as usize;
            self.ubytes(&mut b, c.tid, st.env_start, len.min(MAX_ARGS_ENV));
        } else {
            b.param_empty();
        }
        b.param_u64(st.tty as u64);
        b.param_i64(status.vpgid);
        b.param_u64(loginuid as u64);
        let mut eflags = 0;
        if let Some(sx) = &exe_stat {
            let name = exe.as_deref().map(|p| &p[p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1)..]);
            if name.is_some_and(|n| n.starts_with(b"memfd:")) {
                eflags |= flags::ppm::EXECVE_FLAGS_EXE_FROM_MEMFD;
            }
            let mode = sx.stx_mode as u32;
            if mode & 0o002 != 0 || (status.euid == sx.stx_uid && mode & 0o200 != 0) || status.euid == 0 {
                eflags |= flags::ppm::EXECVE_FLAGS_EXE_WRITABLE;
            }
            match exe.as_deref().and_then(|e| procfs::exe_upper_layer(c.tid, e, sx.stx_ino, &mut self.buf)) {
                Some(true) => eflags |= flags::ppm::EXECVE_FLAGS_EXE_UPPER_LAYER,
                Some(false) => eflags |= flags::ppm::EXECVE_FLAGS_EXE_LOWER_LAYER,
                None => {}
            }
        }
        b.param_u64(eflags as u64);
        b.param_u64(status.cap_inh);
        b.param_u64(status.cap_prm);
        b.param_u64(status.cap_eff);
        let ts = |t: libc::statx_timestamp| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64;
        b.param_u64(exe_stat.as_ref().map_or(0, |s| s.stx_ino));
        b.param_u64(exe_stat.as_ref().map_or(0, |s| ts(s.stx_ctime)));
        b.param_u64(exe_stat.as_ref().map_or(0, |s| ts(s.stx_mtime)));
        b.param_u64(status.euid as u64);
        Self::str_or_empty(&mut b, exe.as_deref());
        b.param_i64(status.pgid);
        b.param_u64(status.egid as u64);
        if ty == T::SYSCALL_EXECVE_19_X {
            // After a successful exec the filename sits right after the
            // environment strings (AT_EXECFN).
            let filename = if c.ret == 0 { st.env_end } else { c.a(0) };
            self.ustr(&mut b, c.tid, filename, MAX_PATH);
        }
        b.finish();
    }

    fn vm(&mut self, b: &mut EventBuilder<'_>, tid: pid_t) {
        let s = procfs::task_status(tid, &mut self.buf).unwrap_or_default();
        b.param_u64(s.vm_size as u64);
        b.param_u64(s.vm_rss as u64);
        b.param_u64(s.vm_swap as u64);
    }

    /// Flags of an open's exit: the requested ones, plus O_F_CREATED when
    /// the call created the file (it did not exist at the entry stop).
    fn opened(&mut self, c: &Call, oflags: u64, note: EntryNote) -> (u32, u32, u64) {
        let mut f = flags::open_flags(oflags);
        if c.ret >= 0 && oflags & flags::K_O_CREAT != 0 && note.existed == Some(false) {
            f |= flags::ppm::FILE_FLAGS_O_F_CREATED;
        }
        let (dev, ino) = self.file_dev_ino(c.tid, c.tgid, c.ret);
        (f, dev, ino)
    }

    // ---- entry side ----

    /// The enter event of open/openat/openat2/creat/connect; returns what
    /// the exit event will need.
    pub(crate) fn enter(&mut self, out: &mut Vec<u8>, c: &Call, ty: T) -> EntryNote {
        let tid = c.tid;
        let mut note = EntryNote::default();
        let mut b = self.begin(out, tid, ty);
        let (dirfd, path, oflags) = match c.nr as i64 {
            libc::SYS_open => {
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(flags::open_flags(c.a(1)) as u64);
                b.param_u64(flags::open_mode(c.a(1), c.a(2)) as u64);
                (libc::AT_FDCWD as i64, c.a(0), c.a(1))
            }
            libc::SYS_openat => {
                b.param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(flags::open_flags(c.a(2)) as u64);
                b.param_u64(flags::open_mode(c.a(2), c.a(3)) as u64);
                (c.ia(0), c.a(1), c.a(2))
            }
            libc::SYS_openat2 => {
                let how = sys::read_val::<[u64; 3]>(tid, c.a(2)).unwrap_or([0; 3]);
                b.param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(flags::open_flags(how[0]) as u64);
                b.param_u64(flags::open_mode(how[0], how[1]) as u64);
                b.param_u64(flags::resolve_flags(how[2]) as u64);
                (c.ia(0), c.a(1), how[0])
            }
            libc::SYS_creat => {
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(flags::open_mode(flags::K_O_CREAT, c.a(1)) as u64);
                (libc::AT_FDCWD as i64, c.a(0), flags::K_O_CREAT)
            }
            libc::SYS_connect => {
                b.param_i64(c.ia(0));
                self.sockaddr(&mut b, tid, c.a(1), c.a(2));
                b.finish();
                return note;
            }
            _ => {
                b.finish();
                return note;
            }
        };
        b.finish();
        if oflags & flags::K_O_CREAT != 0 {
            // `self.tmp` still holds the path the enter event read.
            let _ = path;
            note.existed = Some(self.exists_at(tid, dirfd));
        }
        note
    }

    /// Whether the path an open is about to create exists, resolved as the
    /// tracee would (its root, cwd or dirfd, following symlinks).
    /// The path is the one the enter event just read (`self.tmp`).
    fn exists_at(&mut self, tid: pid_t, dirfd: i64) -> bool {
        if self.tmp.last() != Some(&0) {
            return true; // unreadable: the open will fail anyway
        }
        self.tmp.pop();
        let mut p = if self.tmp.first() == Some(&b'/') {
            format!("/proc/{tid}/root").into_bytes()
        } else if dirfd == libc::AT_FDCWD as i64 {
            format!("/proc/{tid}/cwd/").into_bytes()
        } else {
            format!("/proc/{tid}/fd/{dirfd}/").into_bytes()
        };
        p.extend_from_slice(&self.tmp);
        p.push(0);
        // SAFETY: p is NUL-terminated; st is an out buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::stat(p.as_ptr().cast(), &mut st) };
        r == 0 || sys::errno() != libc::ENOENT
    }

    // ---- exit side ----

    /// A generic event (`GENERIC_X`): the ppm_sc code and the native number.
    pub(crate) fn generic(&mut self, out: &mut Vec<u8>, tid: pid_t, ppm_sc: u16, nr: u32) {
        let mut b = self.begin(out, tid, T::GENERIC_X);
        b.param_u64(ppm_sc as u64).param_u64(nr as u64);
        b.finish();
    }

    /// `procexit` from a wait status / exit code.
    pub(crate) fn procexit(&mut self, out: &mut Vec<u8>, tid: pid_t, code: i32) {
        let mut b = self.begin(out, tid, T::PROCEXIT_1_E);
        b.param_i64(code as i64);
        b.param_i64(((code >> 8) & 0xff) as i64);
        b.param_u64((code & 0x7f) as u64);
        b.param_u64(if code & 0x80 != 0 { 1 } else { 0 });
        b.param_i64(0);
        b.finish();
    }

    /// The exit event of syscall `c` whose table entry says `ty`; returns
    /// false if there is no full encoder for it (the caller writes a generic
    /// event, as the probe does for syscalls without a program).
    #[allow(non_upper_case_globals)]
    pub(crate) fn exit(&mut self, out: &mut Vec<u8>, c: &Call, ty: T, note: EntryNote) -> bool {
        use libc::*;
        let tid = c.tid;
        let r = c.ret;
        let nr = c.nr as i64;
        match nr {
            SYS_clone | SYS_fork | SYS_vfork | SYS_clone3 => {
                self.clone_exit(out, c, ty);
                return true;
            }
            SYS_execve | SYS_execveat => {
                self.exec_exit(out, c, ty);
                return true;
            }
            SYS_quotactl | SYS_keyctl | SYS_fsconfig => return false,
            _ => {}
        }
        // Values read from kernel state go before the builder borrows `out`.
        let pre = match nr {
            SYS_open | SYS_openat => Some(self.opened(c, c.a(if nr == SYS_open { 1 } else { 2 }), note)),
            SYS_openat2 => {
                let how = sys::read_val::<[u64; 3]>(tid, c.a(2)).unwrap_or([0; 3]);
                Some(self.opened(c, how[0], note))
            }
            SYS_creat => {
                let (dev, ino) = self.file_dev_ino(tid, c.tgid, r);
                Some((0, dev, ino))
            }
            SYS_open_by_handle_at => Some(self.opened(c, c.a(2), note)),
            SYS_pipe | SYS_pipe2 => {
                let fds = sys::read_val::<[i32; 2]>(tid, c.a(0)).unwrap_or([-1, -1]);
                let ino = if r == 0 { self.file_dev_ino(tid, c.tgid, fds[0] as i64).1 } else { 0 };
                Some((fds[0] as u32, fds[1] as u32, ino))
            }
            SYS_socketpair => {
                let mut fds = [-1i32, -1];
                let (mut src, mut peer) = (0, 0);
                if r == 0
                    && let Some(f) = sys::read_val::<[i32; 2]>(tid, c.a(3))
                {
                    fds = f;
                    // The probe writes the two sockets' kernel addresses;
                    // their inodes stand for them.
                    src = self.sock(c.tgid, f[0] as i64).map_or(0, |s| s.ino);
                    peer = self.sock(c.tgid, f[1] as i64).map_or(0, |s| s.ino);
                }
                self.socketpair = (src, peer);
                Some((fds[0] as u32, fds[1] as u32, 0))
            }
            _ => None,
        };
        let mut b = self.begin(out, tid, ty);
        match nr {
            SYS_open => {
                let (f, dev, ino) = pre.unwrap();
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(f as u64).param_u64(flags::open_mode(c.a(1), c.a(2)) as u64);
                b.param_u64(dev as u64).param_u64(ino);
            }
            SYS_openat => {
                let (f, dev, ino) = pre.unwrap();
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(f as u64).param_u64(flags::open_mode(c.a(2), c.a(3)) as u64);
                b.param_u64(dev as u64).param_u64(ino);
            }
            SYS_openat2 => {
                let (f, dev, ino) = pre.unwrap();
                let how = sys::read_val::<[u64; 3]>(tid, c.a(2)).unwrap_or([0; 3]);
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(f as u64).param_u64(flags::open_mode(how[0], how[1]) as u64);
                b.param_u64(flags::resolve_flags(how[2]) as u64);
                b.param_u64(dev as u64).param_u64(ino);
            }
            SYS_creat => {
                let (_, dev, ino) = pre.unwrap();
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(flags::open_mode(flags::K_O_CREAT, c.a(1)) as u64);
                b.param_u64(dev as u64).param_u64(ino).param_u64(0);
            }
            SYS_open_by_handle_at => {
                let (f, dev, ino) = pre.unwrap();
                b.param_i64(r).param_i64(c.ia(0)).param_u64(f as u64);
                let path = if r >= 0 {
                    procfs::readlink(&format!("/proc/{tid}/fd/{r}")).map(procfs::kernel_path)
                } else {
                    None
                };
                Self::str_or_empty(&mut b, path.as_deref());
                b.param_u64(dev as u64).param_u64(ino);
            }
            SYS_close | SYS_fchdir | SYS_fstat | SYS_getdents | SYS_getdents64 => {
                b.param_i64(r).param_i64(c.ia(0));
            }
            SYS_read | SYS_write => {
                b.param_i64(r);
                self.data(&mut b, tid, c.a(1), r);
                b.param_i64(c.ia(0)).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_pread64 | SYS_pwrite64 => {
                b.param_i64(r);
                self.data(&mut b, tid, c.a(1), r);
                b.param_i64(c.ia(0)).param_u64(c.a(2) & 0xffff_ffff).param_u64(c.a(3));
            }
            SYS_readv | SYS_preadv => {
                // size comes before data in the event but is computed with it.
                let total = self.iovec_bytes(tid, c.a(1), c.a(2), r);
                b.param_i64(r).param_u64(total as u64).param_raw(&self.tmp);
                b.param_i64(c.ia(0));
                if nr == SYS_preadv {
                    b.param_u64(c.a(3));
                }
            }
            SYS_writev | SYS_pwritev => {
                b.param_i64(r);
                let total = self.iovec(&mut b, tid, c.a(1), c.a(2), r);
                b.param_i64(c.ia(0)).param_u64(total as u64);
                if nr == SYS_pwritev {
                    b.param_u64(c.a(3));
                }
            }
            SYS_rename | SYS_symlink | SYS_link => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
            }
            SYS_renameat | SYS_renameat2 | SYS_linkat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_i64(c.ia(2));
                self.ustr(&mut b, tid, c.a(3), MAX_PATH);
                if nr == SYS_renameat2 {
                    b.param_u64(c.a(4) & 0xffff_ffff);
                } else if nr == SYS_linkat {
                    b.param_u64(flags::linkat_flags(c.a(4)) as u64);
                }
            }
            SYS_symlinkat => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_i64(c.ia(1));
                self.ustr(&mut b, tid, c.a(2), MAX_PATH);
            }
            SYS_unlink | SYS_rmdir | SYS_chdir | SYS_chroot | SYS_stat | SYS_lstat => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
            }
            SYS_unlinkat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(flags::unlinkat_flags(c.a(2)) as u64);
            }
            SYS_mkdir => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0xffff_ffff);
            }
            SYS_mkdirat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_mknod => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0xffff_ffff).param_u64(flags::encode_dev(c.a(2) as u32) as u64);
            }
            SYS_mknodat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(c.a(2) & 0xffff_ffff).param_u64(flags::encode_dev(c.a(3) as u32) as u64);
            }
            SYS_chmod => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0o7777);
            }
            SYS_fchmod => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0o7777);
            }
            SYS_fchmodat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(c.a(2) & 0o7777);
            }
            SYS_chown | SYS_lchown => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0xffff_ffff).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_fchown => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0xffff_ffff).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_fchownat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(c.a(2) & 0xffff_ffff).param_u64(c.a(3) & 0xffff_ffff);
                b.param_u64(flags::fchownat_flags(c.a(4)) as u64);
            }
            SYS_mount => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                self.ustr(&mut b, tid, c.a(2), MAX_PATH);
                let mut f = c.a(3);
                if f & 0xffff_0000 == 0xC0ED_0000 {
                    f &= 0xffff;
                }
                b.param_u64(f & 0xffff_ffff);
            }
            SYS_umount2 => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0xffff_ffff);
            }
            SYS_dup => {
                b.param_i64(r).param_i64(c.ia(0));
            }
            SYS_dup2 => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(1));
            }
            SYS_dup3 => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(1)).param_u64(flags::fd_flags(c.a(2)) as u64);
            }
            SYS_pipe | SYS_pipe2 => {
                let (f0, f1, ino) = pre.unwrap();
                b.param_i64(r);
                b.param_i64(if r == 0 { f0 as i32 as i64 } else { -1 });
                b.param_i64(if r == 0 { f1 as i32 as i64 } else { -1 });
                b.param_u64(ino);
                if nr == SYS_pipe2 {
                    b.param_u64(flags::fd_flags(c.a(1)) as u64);
                }
            }
            SYS_fcntl => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(flags::fcntl_cmd(c.a(1)) as u64).param_u64(c.a(2));
            }
            SYS_memfd_create => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0x7);
            }
            SYS_newfstatat => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(flags::newfstatat_flags(c.a(3)) as u64);
            }
            SYS_access => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                b.param_u64(c.a(1) & 0x7);
            }
            SYS_lseek => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1));
                b.param_u64(if c.a(2) <= 2 { c.a(2) } else { 0xff });
            }
            SYS_getcwd => {
                b.param_i64(r);
                if r > 0 {
                    self.ustr(&mut b, tid, c.a(0), MAX_PATH);
                } else {
                    b.param_empty();
                }
            }
            SYS_flock => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0xf);
            }
            SYS_sendfile => {
                let off = if c.a(2) != 0 { sys::read_val::<u64>(tid, c.a(2)).unwrap_or(0) } else { 0 };
                b.param_i64(r).param_u64(off).param_i64(c.ia(0)).param_i64(c.ia(1)).param_u64(c.a(3));
            }
            SYS_splice => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(2)).param_u64(c.a(4)).param_u64(c.a(5) & 0xf);
            }
            SYS_copy_file_range => {
                let offin = if c.a(1) != 0 { sys::read_val::<u64>(tid, c.a(1)).unwrap_or(0) } else { 0 };
                let offout = if c.a(3) != 0 { sys::read_val::<u64>(tid, c.a(3)).unwrap_or(0) } else { 0 };
                b.param_i64(r).param_i64(c.ia(2)).param_u64(offout).param_i64(c.ia(0)).param_u64(offin);
                b.param_u64(c.a(4));
            }
            SYS_inotify_init1 => {
                b.param_i64(r).param_u64(flags::fd_flags(c.a(0)) as u64);
            }
            SYS_inotify_init => {
                b.param_i64(r).param_u64(0);
            }
            SYS_eventfd => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(0);
            }
            SYS_eventfd2 => {
                b.param_i64(r).param_u64(flags::fd_flags(c.a(1)) as u64).param_u64(c.a(0));
            }
            SYS_signalfd => {
                let mask = sys::read_val::<u32>(tid, c.a(1)).unwrap_or(0);
                b.param_i64(r).param_i64(c.ia(0)).param_u64(mask as u64).param_u64(0);
            }
            SYS_signalfd4 => {
                let mask = sys::read_val::<u32>(tid, c.a(1)).unwrap_or(0);
                b.param_i64(r).param_u64(flags::fd_flags(c.a(3)) as u64).param_i64(c.ia(0)).param_u64(mask as u64);
            }
            SYS_timerfd_create => {
                b.param_i64(r).param_u64(c.a(0) & 0xff).param_u64(c.a(1) & 0xff);
            }
            SYS_epoll_create => {
                b.param_i64(r).param_i64(c.a(0) as i32 as i64);
            }
            SYS_epoll_create1 => {
                b.param_i64(r).param_u64(flags::epoll_create1_flags(c.a(0)) as u64);
            }
            SYS_close_range => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff).param_u64(c.a(1) & 0xffff_ffff);
                b.param_u64(c.a(2) & 0xffff_ffff);
            }
            // ---- sockets ----
            SYS_socket => {
                let ty = c.a(1);
                b.param_i64(r).param_u64(c.a(0) & 0xff).param_u64(ty & 0xffff_ffff).param_u64(c.a(2) & 0xffff_ffff);
                b.param_u64(flags::fd_flags(ty & (flags::K_O_NONBLOCK | flags::K_O_CLOEXEC)) as u64);
            }
            SYS_bind => {
                b.param_i64(r);
                self.sockaddr(&mut b, tid, c.a(1), c.a(2));
                b.param_i64(c.ia(0));
            }
            SYS_connect => {
                let fd = c.ia(0);
                b.param_i64(r);
                self.socktuple(&mut b, c, fd, c.a(1), c.a(2), false);
                b.param_i64(fd);
                self.sockaddr(&mut b, tid, c.a(1), c.a(2));
            }
            SYS_listen => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.a(1) as i32 as i64);
            }
            SYS_accept | SYS_accept4 => {
                b.param_i64(r);
                if r >= 0 {
                    self.socktuple(&mut b, c, r, 0, 0, true);
                } else {
                    b.param_empty();
                }
                self.accept_queue(&mut b, c.tgid, c.ia(0));
                if nr == SYS_accept4 {
                    b.param_i64(flags::fd_flags(c.a(3)) as i64);
                }
            }
            SYS_shutdown => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(flags::shutdown_how(c.a(1)) as u64);
            }
            SYS_socketpair => {
                let (f0, f1, _) = pre.unwrap();
                b.param_i64(r);
                b.param_i64(if r == 0 { f0 as i32 as i64 } else { -1 });
                b.param_i64(if r == 0 { f1 as i32 as i64 } else { -1 });
                b.param_u64(self.socketpair.0).param_u64(self.socketpair.1);
                b.param_u64(c.a(0) & 0xff).param_u64(c.a(1) & 0xffff_ffff).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_sendto => {
                let fd = c.ia(0);
                b.param_i64(r);
                self.data(&mut b, tid, c.a(1), r);
                b.param_i64(fd).param_u64(c.a(2) & 0xffff_ffff);
                self.socktuple(&mut b, c, fd, c.a(4), c.a(5), false);
            }
            SYS_recvfrom => {
                let fd = c.ia(0);
                b.param_i64(r);
                self.data(&mut b, tid, c.a(1), r);
                self.socktuple(&mut b, c, fd, 0, 0, true);
                b.param_i64(fd).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_sendmsg => {
                let fd = c.ia(0);
                let mh = sys::read_val::<[u64; 7]>(tid, c.a(1)).unwrap_or([0; 7]);
                b.param_i64(r);
                let total = self.iovec(&mut b, tid, mh[2], mh[3], r);
                b.param_i64(fd).param_u64(total as u64);
                self.socktuple(&mut b, c, fd, mh[0], mh[1] & 0xffff_ffff, false);
            }
            SYS_recvmsg => {
                let fd = c.ia(0);
                let mh = sys::read_val::<[u64; 7]>(tid, c.a(1)).unwrap_or([0; 7]);
                let total = self.iovec_bytes(tid, mh[2], mh[3], r);
                b.param_i64(r).param_u64(total as u64).param_raw(&self.tmp);
                self.socktuple(&mut b, c, fd, 0, 0, true);
                let clen = mh[5].min(self.snaplen as u64) as usize;
                self.ubytes(&mut b, tid, mh[4], if r >= 0 { clen } else { 0 });
                b.param_i64(fd);
            }
            SYS_sendmmsg | SYS_recvmmsg => {
                let fd = c.ia(0);
                let mm = sys::read_val::<[u64; 8]>(tid, c.a(1)).unwrap_or([0; 8]);
                let msg_len = (mm[7] & 0xffff_ffff) as i64;
                let total = self.iovec_bytes(tid, mm[2], mm[3], if r > 0 { msg_len } else { 0 });
                b.param_i64(r).param_i64(fd).param_u64(total as u64).param_raw(&self.tmp);
                if nr == SYS_sendmmsg {
                    self.socktuple(&mut b, c, fd, mm[0], mm[1] & 0xffff_ffff, false);
                } else {
                    self.socktuple(&mut b, c, fd, 0, 0, true);
                    b.param_empty();
                }
            }
            SYS_getsockname | SYS_getpeername => {}
            SYS_setsockopt | SYS_getsockopt => {
                let optlen =
                    if nr == SYS_getsockopt { sys::read_val::<u32>(tid, c.a(4)).unwrap_or(0) } else { c.a(4) as u32 };
                b.param_i64(r).param_i64(c.ia(0)).param_u64(if c.a(1) == 1 { 1 } else { 0 }).param_u64(0);
                let mut val = vec![0u8];
                let n = (optlen as usize).min(self.snaplen as usize) & MAX_SNAPLEN;
                if r == 0 && n > 0 {
                    sys::read_exact(tid, c.a(3), n, &mut val);
                }
                b.param_raw(&val).param_u64(optlen as u64);
            }
            // ---- memory ----
            SYS_mmap => {
                b.param_i64(r);
                self.vm(&mut b, tid);
                b.param_u64(c.a(0)).param_u64(c.a(1)).param_u64(flags::prot_flags(c.a(2)) as u64);
                b.param_u64(flags::mmap_flags(c.a(3)) as u64).param_i64(c.ia(4)).param_u64(c.a(5));
            }
            SYS_munmap => {
                b.param_i64(r);
                self.vm(&mut b, tid);
                b.param_u64(c.a(0)).param_u64(c.a(1));
            }
            SYS_mprotect => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(c.a(1)).param_u64(flags::prot_flags(c.a(2)) as u64);
            }
            SYS_brk => {
                b.param_u64(r as u64);
                self.vm(&mut b, tid);
                b.param_u64(c.a(0));
            }
            SYS_mlock | SYS_munlock => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(c.a(1));
            }
            SYS_mlock2 => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(c.a(1)).param_u64(c.a(2) & 1);
            }
            SYS_mlockall => {
                b.param_i64(r).param_u64(c.a(0) & 0x7);
            }
            SYS_munlockall | SYS_select | SYS_setsid => {
                b.param_i64(r);
            }
            SYS_userfaultfd => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff);
            }
            SYS_io_uring_setup => {
                let p = sys::read_val::<[u32; 30]>(tid, c.a(1)).unwrap_or([0; 30]);
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff).param_u64(p[0] as u64).param_u64(p[1] as u64);
                b.param_u64((p[2] & 0xff) as u64).param_u64(p[3] as u64).param_u64(p[4] as u64).param_u64(p[5] as u64);
            }
            SYS_io_uring_enter => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0xffff_ffff).param_u64(c.a(2) & 0xffff_ffff);
                b.param_u64(c.a(3) & 0xf).param_u64(c.a(4) & 0xffff_ffff);
            }
            SYS_io_uring_register => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0xffff).param_u64(c.a(2));
                b.param_u64(c.a(3) & 0xffff_ffff);
            }
            SYS_bpf => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff);
            }
            SYS_init_module => {
                b.param_i64(r);
                self.data(&mut b, tid, c.a(0), c.a(1) as i64);
                b.param_u64(c.a(1));
                self.ustr(&mut b, tid, c.a(2), MAX_PATH);
            }
            SYS_finit_module => {
                b.param_i64(r).param_i64(c.ia(0));
                self.ustr(&mut b, tid, c.a(1), MAX_PATH);
                b.param_u64(c.a(2) & 0x7);
            }
            SYS_delete_module => {
                b.param_i64(r);
                self.ustr(&mut b, tid, c.a(0), 64);
                b.param_u64(flags::delete_module_flags(c.a(1)) as u64);
            }
            // ---- waits, time, limits ----
            SYS_nanosleep => {
                let ts = sys::read_val::<[u64; 2]>(tid, c.a(0)).unwrap_or([0; 2]);
                b.param_i64(r).param_u64(ts[0].wrapping_mul(1_000_000_000).wrapping_add(ts[1]));
            }
            SYS_futex => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(c.a(1) & 0x1ff).param_u64(c.a(2));
            }
            SYS_epoll_wait => {
                b.param_i64(r).param_i64(c.ia(2));
            }
            SYS_poll => {
                b.param_i64(r);
                self.fdlist(&mut b, tid, c.a(0), c.a(1));
                b.param_i64(c.ia(2));
            }
            SYS_ppoll => {
                let mut timeout = u64::MAX;
                if c.a(2) != 0 {
                    let ts = sys::read_val::<[u64; 2]>(tid, c.a(2));
                    timeout = ts.map_or(u64::MAX, |t| t[0].wrapping_mul(1_000_000_000).wrapping_add(t[1]));
                }
                let sigmask = if c.a(3) != 0 { sys::read_val::<u64>(tid, c.a(3)).unwrap_or(0) } else { 0 };
                b.param_i64(r);
                self.fdlist(&mut b, tid, c.a(0), c.a(1));
                b.param_u64(timeout).param_u64(sigmask & 0xffff_ffff);
            }
            SYS_ioctl => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1)).param_u64(c.a(2));
            }
            SYS_getrlimit => {
                let rl = if r == 0 { sys::read_val::<[u64; 2]>(tid, c.a(1)).unwrap_or([0; 2]) } else { [0; 2] };
                b.param_i64(r);
                b.param_i64(if r == 0 { rl[0] as i64 } else { -1 }).param_i64(if r == 0 { rl[1] as i64 } else { -1 });
                b.param_u64(rlimit(c.a(0)));
            }
            SYS_setrlimit => {
                let rl = sys::read_val::<[u64; 2]>(tid, c.a(1)).unwrap_or([0; 2]);
                b.param_i64(r).param_i64(rl[0] as i64).param_i64(rl[1] as i64).param_u64(rlimit(c.a(0)));
            }
            SYS_prlimit64 => {
                let mut newl = [u64::MAX; 2];
                let mut oldl = [u64::MAX; 2];
                if c.a(2) != 0 {
                    newl = sys::read_val::<[u64; 2]>(tid, c.a(2)).unwrap_or([0; 2]);
                }
                if r == 0 && c.a(3) != 0 {
                    oldl = sys::read_val::<[u64; 2]>(tid, c.a(3)).unwrap_or([0; 2]);
                }
                b.param_i64(r).param_i64(newl[0] as i64).param_i64(newl[1] as i64);
                b.param_i64(oldl[0] as i64).param_i64(oldl[1] as i64).param_i64(c.ia(0)).param_u64(rlimit(c.a(1)));
            }
            SYS_semget => {
                b.param_i64(r).param_i64(c.a(0) as i32 as i64).param_i64(c.a(1) as i32 as i64);
                b.param_u64(c.a(2) & 0o3000);
            }
            SYS_semctl => {
                b.param_i64(r).param_i64(c.a(0) as i32 as i64).param_i64(c.a(1) as i32 as i64);
                b.param_u64(c.a(2) & 0xffff).param_i64(c.a(3) as i32 as i64);
            }
            SYS_semop => {
                let nsops = c.a(2);
                let mut sb = [0u16; 6];
                if r == 0 && nsops != 0 {
                    let n = if nsops > 1 { 2 } else { 1 };
                    let mut raw = Vec::new();
                    if sys::read_exact(tid, c.a(1), 6 * n, &mut raw) {
                        for (i, ch) in raw.chunks(2).enumerate() {
                            sb[i] = u16::from_le_bytes([ch[0], ch[1]]);
                        }
                    }
                }
                b.param_i64(r).param_u64(nsops & 0xffff_ffff);
                for s in sb {
                    b.param_u64(s as u64);
                }
                b.param_i64(c.a(0) as i32 as i64);
            }
            // ---- credentials, namespaces, signals, ptrace ----
            SYS_setuid | SYS_setgid => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff);
            }
            SYS_setreuid | SYS_setregid => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff).param_u64(c.a(1) & 0xffff_ffff);
            }
            SYS_setresuid | SYS_setresgid => {
                b.param_i64(r).param_u64(c.a(0) & 0xffff_ffff).param_u64(c.a(1) & 0xffff_ffff);
                b.param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_getresuid | SYS_getresgid => {
                b.param_i64(r);
                for i in 0..3 {
                    b.param_u64(sys::read_val::<u32>(tid, c.a(i)).unwrap_or(0) as u64);
                }
            }
            SYS_getuid | SYS_geteuid | SYS_getgid | SYS_getegid => {
                b.param_u64(r as u64 & 0xffff_ffff);
            }
            SYS_capset => {
                let s = procfs::task_status(tid, &mut self.buf).unwrap_or_default();
                b.param_i64(r).param_u64(s.cap_inh).param_u64(s.cap_prm).param_u64(s.cap_eff);
            }
            SYS_prctl => {
                let option = c.a(0);
                b.param_i64(r).param_u64(option & 0xffff_ffff);
                if option == 15 || option == 16 {
                    self.ustr(&mut b, tid, c.a(1), 16);
                    b.param_i64(0);
                } else {
                    b.param_empty();
                    b.param_i64(c.a(1) as i64);
                }
            }
            SYS_setns => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(flags::clone_flags(c.a(1)) as u64);
            }
            SYS_unshare => {
                b.param_i64(r).param_u64(flags::clone_flags(c.a(0)) as u64);
            }
            SYS_setpgid => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(1));
            }
            SYS_ptrace => {
                let dyn_u64 = |v: u64| {
                    let mut d = [0u8; 9];
                    d[1..].copy_from_slice(&v.to_le_bytes());
                    d
                };
                b.param_i64(r).param_raw(&dyn_u64(c.a(2))).param_raw(&dyn_u64(c.a(3)));
                b.param_u64(flags::ptrace_request(c.a(0)) as u64).param_i64(c.ia(1));
            }
            SYS_kill | SYS_tkill => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(c.a(1) & 0xff);
            }
            SYS_tgkill => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(1)).param_u64(c.a(2) & 0xff);
            }
            SYS_seccomp => {
                b.param_i64(r).param_u64(c.a(0)).param_u64(c.a(1));
            }
            SYS_pidfd_open => {
                b.param_i64(r).param_i64(c.ia(0)).param_u64(flags::pidfd_open_flags(c.a(1)) as u64);
            }
            SYS_pidfd_getfd => {
                b.param_i64(r).param_i64(c.ia(0)).param_i64(c.ia(1)).param_u64(c.a(2) & 0xffff_ffff);
            }
            SYS_process_vm_readv | SYS_process_vm_writev => {
                b.param_i64(r).param_i64(c.ia(0));
                self.iovec(&mut b, tid, c.a(1), c.a(2), r);
            }
            _ => {
                // No encoder: drop what was started and let the caller write
                // a generic event.
                let len = b.finish();
                out.truncate(out.len() - len - 2);
                return false;
            }
        }
        b.finish();
        true
    }

    /// `PT_FDLIST` of poll/ppoll: up to 16 `(fd, revents)`.
    fn fdlist(&mut self, b: &mut EventBuilder<'_>, tid: pid_t, ufds: u64, nfds: u64) {
        let mut t = vec![0u8, 0];
        let mut n: u16 = 0;
        for i in 0..nfds.min(POLL_MAX_FDS) {
            let Some(p) = sys::read_val::<[u8; 8]>(tid, ufds.wrapping_add(i * 8)) else { break };
            let fd = i32::from_ne_bytes(p[..4].try_into().unwrap()) as i64;
            let revents = u16::from_ne_bytes([p[6], p[7]]) & 0x7ff;
            t.extend_from_slice(&fd.to_le_bytes());
            t.extend_from_slice(&revents.to_le_bytes());
            n += 1;
        }
        t[..2].copy_from_slice(&n.to_le_bytes());
        b.param_raw(&t);
    }
}

/// The state of socket `fd` (an fd of this process), `None` if not a socket.
pub(crate) fn sock_of(fd: i32) -> Option<Sock> {
    // SAFETY: zeroed stat/sockaddr_storage are valid out buffers.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an fd this process owns.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    let name = |peer: Option<libc::socklen_t>| -> Option<Vec<u8>> {
        // SAFETY: as above.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = peer.unwrap_or(std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t);
        let p = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
        // SO_PEERNAME asks for the peer as `getname(sock, addr, 2)`, which
        // (unlike getpeername) also answers for a closed or connecting TCP
        // socket whose destination is still set, as the probe reads it. Its
        // length must be exactly the address's.
        // SAFETY: ss and len describe a valid buffer.
        let r = unsafe {
            if peer.is_some() {
                libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERNAME, p.cast(), &mut len)
            } else {
                libc::getsockname(fd, p, &mut len)
            }
        };
        if r != 0 {
            return None;
        }
        // SAFETY: the kernel wrote `len` bytes (capped to the buffer).
        let bytes = unsafe {
            std::slice::from_raw_parts((&ss as *const libc::sockaddr_storage).cast::<u8>(), (len as usize).min(128))
        };
        Some(bytes.to_vec())
    };
    let mut local = name(None).unwrap_or_default();
    let family = if local.len() >= 2 { u16::from_ne_bytes([local[0], local[1]]) } else { 0 };
    let mut ty: libc::c_int = 0;
    let mut tl = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: ty/tl describe a valid buffer.
    unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&mut ty as *mut libc::c_int).cast(), &mut tl) };
    let stream = ty == libc::SOCK_STREAM;
    let peer = match family as i32 {
        libc::AF_INET => name(Some(std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)),
        libc::AF_INET6 => name(Some(std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t)),
        _ => {
            // SAFETY: as above.
            let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let p = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
            // SAFETY: ss and len describe a valid buffer.
            (unsafe { libc::getpeername(fd, p, &mut len) } == 0).then(|| {
                // SAFETY: the kernel wrote `len` bytes (capped to the buffer).
                unsafe {
                    std::slice::from_raw_parts(
                        (&ss as *const libc::sockaddr_storage).cast::<u8>(),
                        (len as usize).min(128),
                    )
                }
                .to_vec()
            })
        }
    };
    if stream && (family as i32 == libc::AF_INET || family as i32 == libc::AF_INET6) && peer.is_some() {
        // A TCP socket closed after a connection has given its port back
        // (inet_num = 0) although getsockname still shows it.
        let mut info = [0u8; 8];
        let mut l = info.len() as libc::socklen_t;
        // SAFETY: info/l describe a valid buffer.
        let r = unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, info.as_mut_ptr().cast(), &mut l) };
        const TCP_CLOSE: u8 = 7;
        if r == 0 && l >= 1 && info[0] == TCP_CLOSE && local.len() >= 4 {
            local[2] = 0;
            local[3] = 0;
        }
    }
    Some(Sock { family, ino: st.st_ino, local, peer, stream })
}

fn rlimit(r: u64) -> u64 {
    if r <= 15 { r } else { 255 }
}

/// An fd of this process, closed on drop.
pub(crate) struct OwnedFd(pub i32);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        sys::close(self.0);
    }
}
