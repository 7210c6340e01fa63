//! What the host charges any ptrace + seccomp tracer, measured with a
//! tracer that does nothing but resume its tracee:
//!
//! - a `getppid()` loop with no filter and under a one-instruction
//!   allow-everything seccomp filter: the best speed an untraced syscall can
//!   have under any seccomp-based tracer;
//! - a `getppid()` loop whose filter returns `SECCOMP_RET_TRACE`, resumed by
//!   an empty tracer: the round trip of one tracee stop (two context
//!   switches), as the scheduler places the two processes and with both on
//!   one CPU.
//!
//! With the number of stops saker's tracer takes per operation, these bound
//! the speed any tracer of this kind can reach on this host (the `best
//! possible here` column of the ptrace table).

use anyhow::{Result, bail};

/// The host's costs, see the module doc.
pub struct HostCosts {
    /// `getppid()` with no filter, ns per call.
    pub getppid_ns: f64,
    /// `getppid()` under an allow-everything filter, ns per call.
    pub getppid_allow_ns: f64,
    /// One stop and resume, processes placed by the scheduler, µs.
    pub stop_us: f64,
    /// One stop and resume, tracer and tracee on one CPU, µs.
    pub stop_one_cpu_us: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Child {
    NoFilter,
    AllowAll,
    TraceGetppid,
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Measures the host (a few seconds).
pub fn measure() -> Result<HostCosts> {
    let best = |kind, n, one_cpu| -> Result<f64> {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(per_call_ns(kind, n, one_cpu)?);
        }
        Ok(v.into_iter().fold(f64::MAX, f64::min))
    };
    Ok(HostCosts {
        getppid_ns: best(Child::NoFilter, 4_000_000, false)?,
        getppid_allow_ns: best(Child::AllowAll, 4_000_000, false)?,
        stop_us: best(Child::TraceGetppid, 5_000, false)? / 1e3,
        stop_one_cpu_us: best(Child::TraceGetppid, 20_000, true)? / 1e3,
    })
}

/// Runs `n` getppid() calls in a forked child set up as `kind`; the child's
/// own loop time per call.
fn per_call_ns(kind: Child, n: u64, one_cpu: bool) -> Result<f64> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid out array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: cpu_set_t is plain data; the calls get valid pointers.
    let mut saved: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut saved) };
    if one_cpu {
        // SAFETY: as above.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::CPU_SET(0, &mut one);
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &one);
        }
    }
    // SAFETY: the child only makes async-signal-safe calls, then _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the forked child.
        unsafe { child(kind, n, fds[1]) }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let waited = if pid < 0 {
        Err(anyhow::anyhow!("fork: {}", std::io::Error::last_os_error()))
    } else if kind == Child::TraceGetppid {
        trace(pid)
    } else {
        wait(pid)
    };
    // SAFETY: restoring our own affinity from a valid set.
    unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &saved) };
    let mut ns = [0u8; 8];
    // SAFETY: reading into a valid 8-byte buffer.
    let got = unsafe { libc::read(fds[0], ns.as_mut_ptr().cast(), 8) };
    // SAFETY: our read end.
    unsafe { libc::close(fds[0]) };
    waited?;
    if got != 8 {
        bail!("the measuring child reported nothing (seccomp or ptrace refused?)");
    }
    Ok(u64::from_ne_bytes(ns) as f64 / n as f64)
}

/// The forked child: optionally asks to be traced, installs the filter,
/// times its loop and writes the nanoseconds to `w`.
unsafe fn child(kind: Child, n: u64, w: i32) -> ! {
    // SAFETY (whole body): async-signal-safe calls on valid arguments.
    unsafe {
        if kind == Child::TraceGetppid {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
        }
        let allow = [libc::sock_filter { code: RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW }];
        let trace = [
            libc::sock_filter { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }, // seccomp_data.nr
            libc::sock_filter { code: JEQ_K, jt: 0, jf: 1, k: libc::SYS_getppid as u32 },
            libc::sock_filter { code: RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_TRACE },
            libc::sock_filter { code: RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
        ];
        let filter: &[libc::sock_filter] = match kind {
            Child::NoFilter => &[],
            Child::AllowAll => &allow,
            Child::TraceGetppid => &trace,
        };
        if !filter.is_empty() {
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr().cast_mut() };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0
            {
                libc::_exit(2);
            }
        }
        let mut t0: libc::timespec = std::mem::zeroed();
        let mut t1: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t0);
        for _ in 0..n {
            libc::syscall(libc::SYS_getppid);
        }
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t1);
        let ns = (t1.tv_sec - t0.tv_sec) as u64 * 1_000_000_000 + t1.tv_nsec as u64 - t0.tv_nsec as u64;
        libc::write(w, ns.to_ne_bytes().as_ptr().cast(), 8);
        libc::_exit(0)
    }
}

fn wait(pid: i32) -> Result<()> {
    let mut st = 0;
    // SAFETY: waiting for our own child.
    if unsafe { libc::waitpid(pid, &mut st, 0) } != pid || !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
        bail!("the measuring child failed (status {st:#x})");
    }
    Ok(())
}

/// The empty tracer: resumes every stop at once.
fn trace(pid: i32) -> Result<()> {
    let mut st = 0;
    // SAFETY: ptrace and waitpid on our own traced child.
    unsafe {
        libc::waitpid(pid, &mut st, 0);
        let opts = libc::PTRACE_O_TRACESECCOMP | libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL;
        libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, opts as libc::c_long);
        libc::ptrace(libc::PTRACE_CONT, pid, 0, 0);
        loop {
            if libc::waitpid(pid, &mut st, 0) != pid {
                bail!("waitpid: {}", std::io::Error::last_os_error());
            }
            if libc::WIFEXITED(st) || libc::WIFSIGNALED(st) {
                break;
            }
            let seccomp_stop = st >> 8 == (libc::SIGTRAP | (libc::PTRACE_EVENT_SECCOMP << 8));
            let sig = if seccomp_stop { 0 } else { libc::WSTOPSIG(st) };
            libc::ptrace(libc::PTRACE_CONT, pid, 0, sig as libc::c_long);
        }
    }
    if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
        bail!("the traced measuring child failed (status {st:#x})");
    }
    Ok(())
}

/// Prints the host's costs as a table.
pub fn print(host: &HostCosts) {
    println!(
        "\nWhat this host charges any ptrace + seccomp tracer (a tracer that only resumes; best of 3 runs):\n\n\
         | cost | value |\n| --- | --- |\n\
         | getppid(), no filter | {:.0} ns |\n\
         | getppid(), one-instruction allow-all seccomp filter | {:.0} ns (speed {:.3}) |\n\
         | one tracee stop and resume, placed by the scheduler | {:.1} us |\n\
         | one tracee stop and resume, tracer and tracee on one CPU | {:.1} us |",
        host.getppid_ns,
        host.getppid_allow_ns,
        host.getppid_ns / host.getppid_allow_ns,
        host.stop_us,
        host.stop_one_cpu_us
    );
}
