//! The tracer thread: every ptrace call is made from it (the kernel ties a
//! tracee to the thread that attached it). It waits for stops, builds events
//! and hands them to the consumer in batches through [`Shared`].

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use libc::pid_t;
use saker_abi::EventType;
use saker_scap::CaptureHeader;

use crate::encode::{Call, Encoder, EntryNote};
use crate::sys::{self, *};
use crate::syscalls::{SYSCALL_TABLE_SIZE, SYSCALLS, SyscallInfo};
use crate::{Error, ErrorKind, Notice, header, seccomp};

/// What the consumer and the tracer thread share.
pub(crate) struct Shared {
    pub state: Mutex<SharedState>,
    /// Signalled when events arrive or the stream ends.
    pub data: Condvar,
    /// Signalled when the consumer takes the events (backpressure).
    pub space: Condvar,
    /// The launched command's pid (0 in attach mode or before launch).
    pub child: AtomicI32,
    /// The write end of the pipe that wakes the tracer (-1 if none).
    pub wake_fd: AtomicI32,
    /// Detach from every tracee and end (attach mode), or end and let the
    /// tracees die with the tracer (launch mode).
    pub quit: AtomicBool,
    /// The consumer stopped reading: drop events instead of queueing them.
    pub discard: AtomicBool,
    /// Tracee stops handled (each costs the tracee two context switches:
    /// the figure that bounds how fast a traced program can run).
    pub stops: AtomicU64,
}

#[derive(Default)]
pub(crate) struct SharedState {
    /// Events, each `u16 cpu` then the event.
    pub buf: Vec<u8>,
    pub done: bool,
    pub events: u64,
    pub exit_status: Option<i32>,
    pub notices: Vec<Notice>,
    pub error: Option<String>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(SharedState::default()),
            data: Condvar::new(),
            space: Condvar::new(),
            child: AtomicI32::new(0),
            wake_fd: AtomicI32::new(-1),
            quit: AtomicBool::new(false),
            discard: AtomicBool::new(false),
            stops: AtomicU64::new(0),
        })
    }

    /// Wakes the tracer thread out of `waitpid` (async-signal-safe).
    pub(crate) fn wake(&self) {
        let fd = self.wake_fd.load(Ordering::Acquire);
        if fd >= 0 {
            let b = 1u8;
            // SAFETY: writing one byte from a valid buffer.
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
    }
}

/// How the tracer runs.
pub(crate) struct Settings {
    pub snaplen: u32,
    pub procexit: bool,
    pub buffer_limit: usize,
    /// Interesting syscalls by native number.
    pub interesting: Vec<bool>,
}

pub(crate) enum Start {
    Launch { path: CString, argv: Vec<CString>, envp: Vec<CString> },
    Attach { pid: pid_t },
}

#[derive(Debug)]
struct Thread {
    tgid: pid_t,
    /// Auto-attached, its first stop not seen yet.
    fresh: bool,
    /// Between the syscall-entry (or seccomp) stop and the exit stop.
    in_syscall: bool,
    nr: u32,
    note: EntryNote,
    /// The exit event of the current syscall was written at an event stop
    /// (attach mode: the exit stop still comes and is skipped).
    exit_done: bool,
    /// procexit written.
    exited: bool,
    /// Seized at attach, its first (interrupt) stop not seen yet.
    attaching: bool,
}

impl Thread {
    fn new(tgid: pid_t, fresh: bool) -> Thread {
        Thread {
            tgid,
            fresh,
            in_syscall: false,
            nr: u32::MAX,
            note: EntryNote::default(),
            exit_done: false,
            exited: false,
            attaching: false,
        }
    }
}

pub(crate) struct Engine {
    shared: Arc<Shared>,
    settings: Settings,
    by_nr: Vec<Option<&'static SyscallInfo>>,
    /// Launch mode: resume with PTRACE_CONT between traced syscalls.
    seccomp: bool,
    threads: HashMap<pid_t, Thread>,
    enc: Encoder,
    out: Vec<u8>,
    child: pid_t,
    /// Launch mode: the child's `(stage, errno)` report pipe and whether it exec'd.
    err_fd: i32,
    started: Option<Sender<Result<CaptureHeader, Error>>>,
    header: Option<CaptureHeader>,
    sentinel: pid_t,
    sentinel_fd: i32,
    events: u64,
    /// Threads reaped lately: a parent's clone event stop may come after
    /// its child has already stopped, run, exited and been reaped.
    reaped: std::collections::VecDeque<pid_t>,
}

/// Queued bytes past which the consumer is woken at once.
const WAKE_BYTES: usize = 256 << 10;

const OPTIONS: u64 =
    O_TRACESYSGOOD | O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_TRACEEXIT | O_TRACESECCOMP;

fn stop_signal(sig: i32) -> bool {
    matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

impl Engine {
    pub(crate) fn new(shared: Arc<Shared>, settings: Settings, wake_read_fd: i32) -> Engine {
        let mut by_nr = vec![None; SYSCALL_TABLE_SIZE];
        for s in SYSCALLS {
            by_nr[s.nr as usize] = Some(s);
        }
        let enc = Encoder::new(settings.snaplen);
        Engine {
            shared,
            settings,
            by_nr,
            seccomp: false,
            threads: HashMap::new(),
            enc,
            out: Vec::with_capacity(1 << 16),
            child: 0,
            err_fd: -1,
            started: None,
            header: None,
            sentinel: 0,
            sentinel_fd: wake_read_fd,
            events: 0,
            reaped: std::collections::VecDeque::new(),
        }
    }

    /// Runs the tracer: starts (launch or attach), reports the start through
    /// `started`, then handles stops until no tracee is left or `quit`.
    pub(crate) fn run(mut self, start: Start, started: Sender<Result<CaptureHeader, Error>>) {
        self.started = Some(started);
        let r = match start {
            Start::Launch { path, argv, envp } => self.launch(&path, &argv, &envp),
            Start::Attach { pid } => self.attach(pid),
        };
        if let Err(e) = r {
            self.kill_all();
            if let Some(tx) = self.started.take() {
                let _ = tx.send(Err(e));
            }
            self.finish(None);
            return;
        }
        self.spawn_sentinel();
        let err = self.main_loop();
        self.finish(err);
    }

    fn finish(&mut self, err: Option<String>) {
        self.flush(true);
        if self.sentinel > 0 {
            let _ = sys::kill(self.sentinel, libc::SIGKILL);
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(self.sentinel, std::ptr::null_mut(), libc::__WALL) };
            self.sentinel = 0;
        }
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.done = true;
        if st.error.is_none() {
            st.error = err;
        }
        drop(st);
        self.shared.data.notify_all();
    }

    fn options(&self) -> u64 {
        if self.seccomp { OPTIONS | O_EXITKILL } else { OPTIONS }
    }

    // ---- launch ----

    fn traced_numbers(&self) -> Vec<(u32, u16)> {
        let mut v = Vec::new();
        for s in SYSCALLS {
            let wanted = self.settings.interesting[s.nr as usize] || s.name == "ptrace";
            // exit/exit_group never return and rt_sigreturn's exit has no
            // syscall number: the kernel drivers emit nothing for them.
            let no_event = matches!(s.name, "exit" | "exit_group" | "rt_sigreturn");
            if wanted && !no_event {
                v.push((s.nr, if s.enter_event.is_some() { seccomp::DATA_ENTER } else { 0 }));
            }
        }
        v
    }

    fn launch(&mut self, path: &CString, argv: &[CString], envp: &[CString]) -> Result<(), Error> {
        self.seccomp = true;
        let filter = seccomp::build(&self.traced_numbers());
        let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
        let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_p.push(std::ptr::null());
        let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
        envp_p.push(std::ptr::null());
        let (go_r, go_w) = pipe()?;
        let (err_r, err_w) = match pipe() {
            Ok(p) => p,
            Err(e) => {
                sys::close(go_r);
                sys::close(go_w);
                return Err(e);
            }
        };
        // SAFETY: the child only makes async-signal-safe calls before execve.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let e = sys::errno();
            for fd in [go_r, go_w, err_r, err_w] {
                sys::close(fd);
            }
            return Err(Error::new(ErrorKind::Spawn { command: path.to_string_lossy().into_owned(), errno: e }));
        }
        if pid == 0 {
            // SAFETY: in the child of fork: raw syscalls only.
            unsafe { child_exec(go_r, go_w, err_r, err_w, path, &argv_p, &envp_p, &prog) }
        }
        sys::close(go_r);
        sys::close(err_w);
        self.err_fd = err_r;
        self.child = pid;
        self.shared.child.store(pid, Ordering::Release);
        if let Err(e) = sys::seize(pid, self.options()) {
            let err = crate::permission_error(pid, e, true);
            sys::close(go_w);
            let _ = sys::kill(pid, libc::SIGKILL);
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL) };
            self.shared.child.store(0, Ordering::Release);
            return Err(err);
        }
        self.threads.insert(pid, Thread::new(pid, false));
        // The state before exec: this process's copy, and its ancestors.
        self.header = Some(header::build(&[pid], true));
        let b = 1u8;
        // SAFETY: one byte from a valid buffer to our pipe.
        unsafe { libc::write(go_w, (&b as *const u8).cast(), 1) };
        sys::close(go_w);
        Ok(())
    }

    // ---- attach ----

    fn attach(&mut self, root: pid_t) -> Result<(), Error> {
        self.seccomp = false;
        // The root's threads first: failing there is an error.
        let tasks = crate::procfs::tasks(root);
        if tasks.is_empty() {
            return Err(Error::new(ErrorKind::NoSuchProcess { pid: root }));
        }
        let mut seized: Vec<pid_t> = Vec::new();
        let mut procs: Vec<pid_t> = vec![root];
        loop {
            let mut new = 0;
            // Every descendant process of the root, by parent links.
            let all = crate::procfs::all_processes();
            let mut i = 0;
            while i < procs.len() {
                let p = procs[i];
                for &(c, pp) in &all {
                    if pp == p && !procs.contains(&c) {
                        procs.push(c);
                    }
                }
                i += 1;
            }
            for &p in &procs {
                for t in crate::procfs::tasks(p) {
                    if self.threads.contains_key(&t) {
                        continue;
                    }
                    match sys::seize(t, self.options()) {
                        Ok(()) => {
                            self.threads.insert(t, Thread::new(p, false));
                            seized.push(t);
                            new += 1;
                        }
                        Err(libc::ESRCH) => {}
                        Err(e) if p == root && seized.is_empty() => {
                            return Err(crate::permission_error(root, e, false));
                        }
                        Err(e) => self.notice(Notice::AttachFailed { tid: t, errno: e }),
                    }
                }
            }
            if new == 0 {
                break;
            }
        }
        let traced: Vec<pid_t> = procs.iter().copied().filter(|p| self.threads.contains_key(p)).collect();
        self.header = Some(header::build(&traced, true));
        // attach() returns once every thread has stopped once: from then
        // on each of its syscalls is seen (one in flight now is restarted,
        // or completes before the stop and is not).
        for &t in &seized {
            if sys::interrupt(t).is_ok()
                && let Some(th) = self.threads.get_mut(&t)
            {
                th.attaching = true;
            }
        }
        self.attach_done();
        Ok(())
    }

    /// Reports the start of attach mode once no thread awaits its first stop.
    fn attach_done(&mut self) {
        if self.seccomp || self.started.is_none() || self.threads.values().any(|t| t.attaching) {
            return;
        }
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(self.header.take().unwrap_or_default()));
        }
    }

    // ---- the loop ----

    fn main_loop(&mut self) -> Option<String> {
        loop {
            if self.shared.quit.load(Ordering::Acquire) {
                self.quit();
                return None;
            }
            if self.threads.is_empty() {
                return None;
            }
            let (pid, status) = match sys::wait_any() {
                Ok(v) => v,
                Err(libc::ECHILD) => return None,
                Err(e) => return Some(format!("waitpid failed: {}", std::io::Error::from_raw_os_error(e))),
            };
            if pid == self.sentinel {
                self.sentinel = 0;
                if !self.shared.quit.load(Ordering::Acquire) {
                    self.spawn_sentinel();
                }
                continue;
            }
            self.shared.stops.fetch_add(1, Ordering::Relaxed);
            self.enc.cpu = sys::current_cpu();
            self.handle(pid, status);
            if self.started.is_some() {
                self.attach_done();
            }
            self.flush(false);
        }
    }

    fn handle(&mut self, pid: pid_t, status: i32) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            self.thread_gone(pid, status);
            return;
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        // An auto-attached child whose parent's event stop has not been seen yet.
        if !self.threads.contains_key(&pid) {
            self.reaped.retain(|&r| r != pid);
            self.threads.insert(pid, Thread::new(tgid_of(pid), true));
        }
        if libc::WIFSTOPPED(status)
            && let Some(t) = self.threads.get_mut(&pid)
        {
            t.attaching = false;
        }
        if self.threads[&pid].fresh {
            self.threads.get_mut(&pid).unwrap().fresh = false;
            if event == EVENT_STOP {
                self.child_first_stop(pid);
            }
        }
        if sig == (libc::SIGTRAP | 0x80) {
            self.syscall_stop(pid);
            return;
        }
        match event {
            0 => {
                // Signal-delivery stop: deliver the signal as without us.
                self.resume(pid, sig);
            }
            EVENT_SECCOMP => self.seccomp_stop(pid),
            EVENT_FORK | EVENT_VFORK | EVENT_CLONE => {
                if let Ok(new) = sys::event_msg(pid) {
                    let new = new as pid_t;
                    // Known before its first stop, so that the trace does not
                    // end while it is still to report (unless already gone).
                    if !self.reaped.contains(&new) {
                        let tgid = if event == EVENT_CLONE { tgid_of(new) } else { new };
                        self.threads.entry(new).or_insert_with(|| Thread::new(tgid, true));
                    }
                    // The clone succeeded and nothing changes in the parent
                    // before it returns the new id (unless it waits for a
                    // vfork child): its exit event is written now, which
                    // spares the exit stop.
                    if event != EVENT_VFORK {
                        self.exit_at_event(pid, new as i64);
                    }
                }
                self.resume(pid, 0);
            }
            EVENT_EXEC => self.exec_stop(pid),
            EVENT_EXIT => {
                if let Ok(code) = sys::event_msg(pid) {
                    self.procexit(pid, code as i32);
                }
                self.resume(pid, 0);
            }
            EVENT_STOP => {
                if stop_signal(sig) {
                    // Group-stop: stay stopped, as without a tracer, but keep
                    // reporting (SIGCONT, SIGKILL).
                    let _ = sys::resume(PTRACE_LISTEN, pid, 0);
                } else {
                    self.resume(pid, 0);
                }
            }
            _ => self.resume(pid, 0),
        }
    }

    fn resume(&mut self, pid: pid_t, sig: i32) {
        let req = match self.threads.get(&pid) {
            Some(t) if self.seccomp && !t.in_syscall => PTRACE_CONT,
            _ => PTRACE_SYSCALL,
        };
        let _ = sys::resume(req, pid, sig);
    }

    fn thread_gone(&mut self, pid: pid_t, status: i32) {
        if pid == self.child {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.exit_status = Some(status);
            drop(st);
            if let Some(tx) = self.started.take() {
                // The command ended before it could exec.
                let mut rep = [0u8; 8];
                // SAFETY: reading into a valid buffer from our pipe.
                let n = unsafe { libc::read(self.err_fd, rep.as_mut_ptr().cast(), 8) };
                let errno = if n == 8 { i32::from_ne_bytes(rep[4..].try_into().unwrap()) } else { 0 };
                let _ = tx.send(Err(Error::new(ErrorKind::Exec { errno, status })));
            }
        }
        if self.reaped.len() >= 4096 {
            self.reaped.pop_front();
        }
        self.reaped.push_back(pid);
        if let Some(t) = self.threads.remove(&pid) {
            if !t.exited {
                let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) << 8 } else { status & 0xff };
                self.procexit_code(pid, code);
            }
            if !self.threads.values().any(|o| o.tgid == t.tgid) {
                self.enc.forget_process(t.tgid);
            }
        }
    }

    fn procexit(&mut self, pid: pid_t, code: i32) {
        if let Some(t) = self.threads.get_mut(&pid) {
            if t.exited {
                return;
            }
            t.exited = true;
        }
        self.procexit_code(pid, code);
    }

    fn procexit_code(&mut self, pid: pid_t, code: i32) {
        if self.settings.procexit {
            self.enc.procexit(&mut self.out, pid, code);
        }
    }

    fn interesting(&self, nr: u64) -> Option<&'static SyscallInfo> {
        if nr >= SYSCALL_TABLE_SIZE as u64 || !self.settings.interesting[nr as usize] {
            return None;
        }
        self.by_nr[nr as usize]
    }

    /// The clone exit event of a new child, at its first stop.
    fn child_first_stop(&mut self, pid: pid_t) {
        let Ok(regs) = sys::regs(pid) else { return };
        let nr = regs.orig_rax;
        if !matches!(nr as i64, libc::SYS_clone | libc::SYS_clone3 | libc::SYS_fork | libc::SYS_vfork) {
            return;
        }
        let Some(info) = self.interesting(nr) else { return };
        let tgid = self.threads[&pid].tgid;
        let call = Call { tid: pid, tgid, nr: nr as u32, args: args_of(&regs), ret: 0 };
        self.enc.clone_child(&mut self.out, &call, info.exit_event);
    }

    fn seccomp_stop(&mut self, pid: pid_t) {
        if !self.seccomp {
            // The tracee's own filter asked for a tracer; we trace it anyway.
            self.resume(pid, 0);
            return;
        }
        let info = sys::syscall_info(pid);
        let t = self.threads.get_mut(&pid).unwrap();
        t.in_syscall = true;
        t.exit_done = false;
        t.note = EntryNote::default();
        if let Ok(si) = info {
            t.nr = si.data[0] as u32;
            let ret_data = si.data[7] as u32 & 0xffff;
            if ret_data == seccomp::DATA_ENTER as u32 {
                self.entry_event(pid, si.data[0], si.data[1..7].try_into().unwrap());
            }
        }
        let _ = sys::resume(PTRACE_SYSCALL, pid, 0);
    }

    fn entry_event(&mut self, pid: pid_t, nr: u64, args: [u64; 6]) {
        let Some(info) = self.interesting(nr) else { return };
        let Some(enter) = info.enter_event else { return };
        let tgid = self.threads[&pid].tgid;
        let call = Call { tid: pid, tgid, nr: nr as u32, args, ret: 0 };
        let note = self.enc.enter(&mut self.out, &call, enter);
        self.threads.get_mut(&pid).unwrap().note = note;
    }

    fn syscall_stop(&mut self, pid: pid_t) {
        let in_syscall = self.threads[&pid].in_syscall;
        if !self.seccomp || !in_syscall {
            // Attach mode (or an unexpected stop): ask the kernel which side.
            match sys::syscall_info(pid) {
                Ok(si) if si.op == SYSCALL_INFO_ENTRY => {
                    let t = self.threads.get_mut(&pid).unwrap();
                    t.in_syscall = true;
                    t.exit_done = false;
                    t.nr = si.data[0] as u32;
                    t.note = EntryNote::default();
                    if self.interesting(si.data[0]).is_some_and(|i| i.enter_event.is_some()) {
                        self.entry_event(pid, si.data[0], si.data[1..7].try_into().unwrap());
                    }
                    let _ = sys::resume(PTRACE_SYSCALL, pid, 0);
                    return;
                }
                Ok(si) if si.op == SYSCALL_INFO_EXIT => {}
                _ => {
                    self.threads.get_mut(&pid).unwrap().in_syscall = false;
                    self.resume(pid, 0);
                    return;
                }
            }
        }
        let t = self.threads.get_mut(&pid).unwrap();
        t.in_syscall = false;
        if std::mem::take(&mut t.exit_done) {
            self.resume(pid, 0);
            return;
        }
        let (tgid, tracked_nr, note) = (t.tgid, t.nr, t.note);
        let wanted = tracked_nr as u64 == libc::SYS_ptrace as u64
            || self.interesting(tracked_nr as u64).is_some()
            || (self.seccomp && tracked_nr == u32::MAX);
        if wanted {
            self.syscall_exit(pid, tgid, note);
        }
        self.resume(pid, 0);
    }

    fn syscall_exit(&mut self, pid: pid_t, tgid: pid_t, note: EntryNote) {
        let Ok(regs) = sys::regs(pid) else { return };
        let nr = regs.orig_rax;
        let call = Call { tid: pid, tgid, nr: nr as u32, args: args_of(&regs), ret: regs.rax as i64 };
        if nr == libc::SYS_ptrace as u64 {
            self.nested_ptrace(&call);
        }
        let Some(info) = self.interesting(nr) else { return };
        if info.exit_event == EventType::GENERIC_X || !self.enc.exit(&mut self.out, &call, info.exit_event, note) {
            self.enc.generic(&mut self.out, pid, info.ppm_sc, info.nr);
        }
    }

    fn nested_ptrace(&mut self, c: &Call) {
        const TRACEME: u64 = 0;
        const ATTACH: u64 = 16;
        const SEIZE: u64 = 0x4206;
        if matches!(c.args[0], TRACEME | ATTACH | SEIZE) {
            self.notice(Notice::NestedPtrace {
                tid: c.tid,
                request: c.args[0],
                target: c.args[1] as i32,
                result: c.ret,
            });
        }
    }

    fn exec_stop(&mut self, pid: pid_t) {
        let former = sys::event_msg(pid).map_or(pid, |v| v as pid_t);
        if former != pid {
            // A non-leader thread exec'd: it takes the leader's id, and the
            // leader is gone (it exited with the other threads, code 0).
            if let Some(leader) = self.threads.get(&pid)
                && !leader.exited
            {
                self.procexit(pid, 0);
            }
            if let Some(mut t) = self.threads.remove(&former) {
                t.tgid = pid;
                self.threads.insert(pid, t);
            }
        }
        if pid == self.child
            && let Some(tx) = self.started.take()
        {
            let _ = tx.send(Ok(self.header.take().unwrap_or_default()));
        }
        // Past the point of no return, the exec only tidies up before it
        // returns 0: its exit event is written now, sparing the exit stop.
        self.exit_at_event(pid, 0);
        self.resume(pid, 0);
    }

    /// Writes the exit event of the syscall a thread is stopped in (at a
    /// clone or exec event stop, whose result is known), if it is traced.
    fn exit_at_event(&mut self, pid: pid_t, ret: i64) {
        let Some(t) = self.threads.get(&pid) else { return };
        let (tgid, note) = (t.tgid, t.note);
        if !t.in_syscall && self.seccomp {
            // Not a traced syscall in launch mode: no exit event wanted.
            return;
        }
        let Ok(regs) = sys::regs(pid) else { return };
        let nr = regs.orig_rax;
        let Some(info) = self.interesting(nr) else { return };
        let call = Call { tid: pid, tgid, nr: nr as u32, args: args_of(&regs), ret };
        if !self.enc.exit(&mut self.out, &call, info.exit_event, note) {
            self.enc.generic(&mut self.out, pid, info.ppm_sc, info.nr);
        }
        let t = self.threads.get_mut(&pid).unwrap();
        if self.seccomp {
            // Resume with PTRACE_CONT: no exit stop.
            t.in_syscall = false;
        } else {
            t.exit_done = true;
        }
    }

    // ---- output ----

    fn flush(&mut self, force: bool) {
        if self.out.is_empty() {
            return;
        }
        let n = count_events(&self.out);
        self.events += n;
        if self.shared.discard.load(Ordering::Acquire) {
            self.out.clear();
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.events += n;
            return;
        }
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        // Backpressure: the tracees wait while the consumer is behind.
        while !force
            && st.buf.len() > self.settings.buffer_limit
            && !self.shared.discard.load(Ordering::Acquire)
            && !self.shared.quit.load(Ordering::Acquire)
        {
            st = self.shared.space.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.events += n;
        if st.buf.is_empty() {
            std::mem::swap(&mut st.buf, &mut self.out);
        } else {
            st.buf.extend_from_slice(&self.out);
            self.out.clear();
        }
        // The consumer polls every few milliseconds: waking it for every
        // batch would cost a context switch per stop. It is woken when a
        // batch is worth it.
        let wake = force || st.buf.len() >= WAKE_BYTES;
        drop(st);
        if wake {
            self.shared.data.notify_one();
        }
    }

    fn notice(&mut self, n: Notice) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.notices.len() < 1000 {
            st.notices.push(n);
        }
    }

    // ---- ending ----

    /// Attach mode: detach from every tracee, leaving it as it was. Launch
    /// mode: the tracees cannot run without their tracer (the seccomp filter
    /// would fail their traced syscalls), so they are killed.
    fn quit(&mut self) {
        if self.seccomp {
            self.kill_all();
            return;
        }
        for &t in self.threads.keys() {
            let _ = sys::interrupt(t);
        }
        while !self.threads.is_empty() {
            let (pid, status) = match sys::wait_any() {
                Ok(v) => v,
                Err(_) => break,
            };
            if pid == self.sentinel {
                self.sentinel = 0;
                continue;
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.thread_gone(pid, status);
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            // A pending signal is delivered on the way out.
            let deliver = if event == 0 && sig != (libc::SIGTRAP | 0x80) { sig } else { 0 };
            let _ = sys::resume(PTRACE_DETACH, pid, deliver);
            self.threads.remove(&pid);
        }
        self.threads.clear();
    }

    fn kill_all(&mut self) {
        let tgids: Vec<pid_t> = self.threads.values().map(|t| t.tgid).collect();
        for g in tgids {
            let _ = sys::kill(g, libc::SIGKILL);
        }
        while !self.threads.is_empty() {
            match sys::wait_any() {
                Ok((pid, status)) => {
                    if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                        self.thread_gone(pid, status);
                    } else if libc::WIFSTOPPED(status) {
                        let _ = sys::resume(PTRACE_CONT, pid, 0);
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// A child of this thread that exits when a byte is written to the wake
    /// pipe, so that `waitpid` returns (a stop request, Drop).
    fn spawn_sentinel(&mut self) {
        if self.sentinel_fd < 0 {
            return;
        }
        let rfd = self.sentinel_fd;
        let wfd = self.shared.wake_fd.load(Ordering::Acquire);
        // SAFETY: the child makes raw syscalls only.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child of fork.
            unsafe {
                libc::close(wfd);
                let name = b"saker-waker\0";
                libc::prctl(libc::PR_SET_NAME, name.as_ptr());
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                let mut b = 0u8;
                libc::read(rfd, (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        if pid > 0 {
            self.sentinel = pid;
        }
    }
}

fn args_of(r: &libc::user_regs_struct) -> [u64; 6] {
    [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]
}

fn tgid_of(tid: pid_t) -> pid_t {
    let mut buf = Vec::new();
    crate::procfs::task_status(tid, &mut buf).map_or(tid, |s| s.tgid as pid_t)
}

fn count_events(buf: &[u8]) -> u64 {
    let mut n = 0;
    let mut off = 0;
    while off + 2 + 20 <= buf.len() {
        let len = u32::from_le_bytes(buf[off + 18..off + 22].try_into().unwrap()) as usize;
        off += 2 + len;
        n += 1;
    }
    n
}

pub(crate) fn pipe() -> Result<(i32, i32), Error> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::new(ErrorKind::Io(format!("pipe: {}", std::io::Error::last_os_error()))));
    }
    Ok((fds[0], fds[1]))
}

/// The launched child between fork and execve: waits until the tracer has
/// seized it, installs the seccomp filter, execs. Reports a failure as
/// `(stage, errno)` on `err_w`.
#[allow(clippy::too_many_arguments)]
unsafe fn child_exec(
    go_r: i32,
    go_w: i32,
    err_r: i32,
    err_w: i32,
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    prog: &libc::sock_fprog,
) -> ! {
    // SAFETY: raw syscalls on valid buffers; nothing here allocates.
    unsafe {
        let fail = |stage: u32| -> ! {
            let e = *libc::__errno_location();
            let mut rep = [0u8; 8];
            rep[..4].copy_from_slice(&stage.to_ne_bytes());
            rep[4..].copy_from_slice(&e.to_ne_bytes());
            libc::write(err_w, rep.as_ptr().cast(), 8);
            libc::_exit(127);
        };
        libc::close(go_w);
        libc::close(err_r);
        let mut b = 0u8;
        loop {
            let n = libc::read(go_r, (&mut b as *mut u8).cast(), 1);
            if n == 1 {
                break;
            }
            if n == 0 || *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        libc::close(go_r);
        // As std::process::Command: SIGPIPE back to default, no blocked signals.
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // SECCOMP_FILTER_FLAG_SPEC_ALLOW: a filter must not switch on the
        // speculative-execution mitigations the kernel applies to seccomp'd
        // tasks (the command runs as it would without saker); kernels that
        // do not know the flag get none.
        let install = || {
            let p = prog as *const libc::sock_fprog;
            libc::syscall(libc::SYS_seccomp, 1, 4, p) == 0 || libc::syscall(libc::SYS_seccomp, 1, 0, p) == 0
        };
        // Without CAP_SYS_ADMIN a filter needs no_new_privs.
        if !install() {
            if *libc::__errno_location() != libc::EACCES {
                fail(1);
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                fail(2);
            }
            if !install() {
                fail(1);
            }
        }
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        fail(3);
    }
}
