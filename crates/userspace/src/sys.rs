//! Thin wrappers over ptrace, waitpid, process_vm_readv and a few syscalls
//! libc does not wrap. Every call returns the errno instead of panicking: a
//! tracee can vanish (SIGKILL, exit of another thread) between any two calls.

use std::io;

use libc::{c_long, c_void, pid_t};

pub(crate) const PTRACE_CONT: libc::c_uint = 7;
pub(crate) const PTRACE_GETREGS: libc::c_uint = 12;
pub(crate) const PTRACE_DETACH: libc::c_uint = 17;
pub(crate) const PTRACE_SYSCALL: libc::c_uint = 24;
pub(crate) const PTRACE_GETEVENTMSG: libc::c_uint = 0x4201;
pub(crate) const PTRACE_SEIZE: libc::c_uint = 0x4206;
pub(crate) const PTRACE_INTERRUPT: libc::c_uint = 0x4207;
pub(crate) const PTRACE_LISTEN: libc::c_uint = 0x4208;
pub(crate) const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;

pub(crate) const O_TRACESYSGOOD: u64 = 0x1;
pub(crate) const O_TRACEFORK: u64 = 0x2;
pub(crate) const O_TRACEVFORK: u64 = 0x4;
pub(crate) const O_TRACECLONE: u64 = 0x8;
pub(crate) const O_TRACEEXEC: u64 = 0x10;
pub(crate) const O_TRACEEXIT: u64 = 0x40;
pub(crate) const O_TRACESECCOMP: u64 = 0x80;
pub(crate) const O_EXITKILL: u64 = 0x10_0000;

pub(crate) const EVENT_FORK: i32 = 1;
pub(crate) const EVENT_VFORK: i32 = 2;
pub(crate) const EVENT_CLONE: i32 = 3;
pub(crate) const EVENT_EXEC: i32 = 4;
pub(crate) const EVENT_EXIT: i32 = 6;
pub(crate) const EVENT_SECCOMP: i32 = 7;
pub(crate) const EVENT_STOP: i32 = 128;

pub(crate) const SYSCALL_INFO_ENTRY: u8 = 1;
pub(crate) const SYSCALL_INFO_EXIT: u8 = 2;

/// `struct ptrace_syscall_info` (linux/ptrace.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct SyscallInfo {
    pub op: u8,
    pad: [u8; 3],
    pub arch: u32,
    pub ip: u64,
    pub sp: u64,
    /// entry/seccomp: nr, args[6], ret_data; exit: rval, is_error.
    pub data: [u64; 8],
}

/// The errno of the last failed call.
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn ptrace(req: libc::c_uint, pid: pid_t, addr: usize, data: usize) -> Result<c_long, i32> {
    // SAFETY: the requests used here read or write only the buffers passed.
    let r = unsafe { libc::ptrace(req, pid, addr as *mut c_void, data as *mut c_void) };
    if r == -1 { Err(errno()) } else { Ok(r) }
}

pub(crate) fn seize(pid: pid_t, options: u64) -> Result<(), i32> {
    ptrace(PTRACE_SEIZE, pid, 0, options as usize).map(drop)
}

pub(crate) fn interrupt(pid: pid_t) -> Result<(), i32> {
    ptrace(PTRACE_INTERRUPT, pid, 0, 0).map(drop)
}

/// Resumes with `req` (CONT, SYSCALL, LISTEN, DETACH), delivering `sig`.
pub(crate) fn resume(req: libc::c_uint, pid: pid_t, sig: i32) -> Result<(), i32> {
    ptrace(req, pid, 0, sig as usize).map(drop)
}

pub(crate) fn event_msg(pid: pid_t) -> Result<u64, i32> {
    let mut v: u64 = 0;
    ptrace(PTRACE_GETEVENTMSG, pid, 0, &mut v as *mut u64 as usize)?;
    Ok(v)
}

pub(crate) fn regs(pid: pid_t) -> Result<libc::user_regs_struct, i32> {
    // SAFETY: zeroed is a valid user_regs_struct; the kernel fills it.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    ptrace(PTRACE_GETREGS, pid, 0, &mut r as *mut _ as usize)?;
    Ok(r)
}

pub(crate) fn syscall_info(pid: pid_t) -> Result<SyscallInfo, i32> {
    let mut info = SyscallInfo { op: 0, pad: [0; 3], arch: 0, ip: 0, sp: 0, data: [0; 8] };
    ptrace(PTRACE_GET_SYSCALL_INFO, pid, std::mem::size_of::<SyscallInfo>(), &mut info as *mut _ as usize)?;
    Ok(info)
}

/// `waitpid(-1, __WALL | __WNOTHREAD)`: the next stop or exit of a tracee of
/// this thread, or of a child this thread forked. `EINTR` is retried.
pub(crate) fn wait_any() -> Result<(pid_t, i32), i32> {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
        if pid >= 0 {
            return Ok((pid, status));
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

pub(crate) fn kill(pid: pid_t, sig: i32) -> Result<(), i32> {
    // SAFETY: plain syscall.
    if unsafe { libc::kill(pid, sig) } == -1 { Err(errno()) } else { Ok(()) }
}

/// Reads up to `buf.len()` bytes at `addr` in `pid`; returns how many were
/// read (fewer if a page is not mapped).
pub(crate) fn read_mem(pid: pid_t, addr: u64, buf: &mut [u8]) -> usize {
    if buf.is_empty() || addr == 0 {
        return 0;
    }
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut c_void, iov_len: buf.len() };
    // SAFETY: local points to buf; the kernel checks the remote range.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 { 0 } else { n as usize }
}

/// Reads exactly `len` bytes at `addr`, appending them to `out`; false (and
/// nothing appended) if any byte cannot be read, as `bpf_probe_read_user`.
pub(crate) fn read_exact(pid: pid_t, addr: u64, len: usize, out: &mut Vec<u8>) -> bool {
    if len == 0 {
        return true;
    }
    let start = out.len();
    out.resize(start + len, 0);
    if read_mem(pid, addr, &mut out[start..]) == len {
        true
    } else {
        out.truncate(start);
        false
    }
}

/// A fixed-size value at `addr`, or `None` if unreadable.
pub(crate) fn read_val<T: Copy>(pid: pid_t, addr: u64) -> Option<T> {
    let mut v = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: the slice covers exactly the MaybeUninit's bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of::<T>()) };
    if read_mem(pid, addr, buf) == buf.len() {
        // SAFETY: fully written; T is a plain-old-data type at every call site.
        Some(unsafe { v.assume_init() })
    } else {
        None
    }
}

/// A NUL-terminated string at `addr`, as `bpf_probe_read_user_str(dst, max,
/// addr)`: at most `max - 1` bytes then a NUL are appended to `out`; returns
/// the bytes appended (NUL included), or `None` (nothing appended) if the
/// memory faults before the string ends.
pub(crate) fn read_str(pid: pid_t, addr: u64, max: usize, out: &mut Vec<u8>) -> Option<usize> {
    if addr == 0 || max == 0 {
        return None;
    }
    let start = out.len();
    let mut cur = addr;
    let limit = max - 1;
    let mut chunk = [0u8; 4096];
    loop {
        let have = out.len() - start;
        if have >= limit {
            out.truncate(start + limit);
            out.push(0);
            return Some(limit + 1);
        }
        let to_page = 4096 - (cur as usize & 4095);
        let want = to_page.min(limit - have).min(chunk.len());
        let n = read_mem(pid, cur, &mut chunk[..want]);
        if n == 0 {
            out.truncate(start);
            return None;
        }
        if let Some(p) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..p]);
            out.push(0);
            return Some(out.len() - start);
        }
        out.extend_from_slice(&chunk[..n]);
        cur += n as u64;
    }
}

/// The current time, ns since the epoch.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The CPU this thread runs on.
pub(crate) fn current_cpu() -> u16 {
    // SAFETY: no arguments.
    let c = unsafe { libc::sched_getcpu() };
    if c < 0 { 0 } else { c as u16 }
}

pub(crate) fn pidfd_open(pid: pid_t) -> Result<i32, i32> {
    // SAFETY: plain syscall.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 { Err(errno()) } else { Ok(r as i32) }
}

/// A duplicate of `pid`'s fd `fd` in this process (close it after use).
pub(crate) fn pidfd_getfd(pidfd: i32, fd: i32) -> Result<i32, i32> {
    // SAFETY: plain syscall.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) };
    if r < 0 { Err(errno()) } else { Ok(r as i32) }
}

pub(crate) fn close(fd: i32) {
    // SAFETY: closing an fd this module opened.
    unsafe { libc::close(fd) };
}

/// RLIMIT_NOFILE's soft limit of `pid`.
pub(crate) fn nofile_limit(pid: pid_t) -> Option<u64> {
    // SAFETY: zeroed rlimit is valid; old limit is an out pointer.
    let mut old: libc::rlimit64 = unsafe { std::mem::zeroed() };
    // SAFETY: reading another process's limit, no new limit.
    let r = unsafe { libc::prlimit64(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    if r == 0 { Some(old.rlim_cur) } else { None }
}
