/*!
saker's userspace driver: traces a command ([`Tracer::launch`]) or a running
process tree ([`Tracer::attach`]) with ptrace, as an ordinary user, and
produces the same events as the kernel drivers. It is an
[`EventSource`] like them.

# How

- **Launch**: the child is seized (`PTRACE_SEIZE`) before it execs and
  installs a seccomp filter that returns `SECCOMP_RET_TRACE` only for the
  interesting syscalls (plus `ptrace`, to report nested debuggers) and
  `SECCOMP_RET_ALLOW` for the rest, which therefore run at full speed (the
  kernel caches ALLOW per syscall number). A traced syscall stops twice: at
  the seccomp stop (where the enter events of open/openat/openat2/creat/connect
  are read) and at its exit stop, reached with `PTRACE_SYSCALL`; the thread is
  resumed with `PTRACE_CONT` after it. Options: TRACESECCOMP, TRACESYSGOOD,
  TRACECLONE, TRACEFORK, TRACEVFORK, TRACEEXEC, TRACEEXIT, EXITKILL.
- **Attach**: every thread of the process and of its descendants is seized
  (rescanning /proc until no new thread appears), interrupted, and from then
  on stopped at every syscall entry and exit (`PTRACE_SYSCALL`); no filter is
  injected, so detaching leaves the processes exactly as they were.
  [`Tracer::attach`] returns once every thread has stopped once: each
  syscall it starts afterwards is seen (a blocking call in flight is
  restarted and seen too).
- The exit events of successful clone/fork/clone3 (not vfork, whose parent
  waits for the child) and execve are written at the ptrace event stop,
  where the result is known and nothing changes before the return: one stop
  less each. Failed calls get their exit stop as any other.
- New threads and processes are attached by the kernel (TRACECLONE/FORK/
  VFORK); their clone exit event is written at their first stop.
- All ptrace calls are made by one tracer thread; events reach
  [`Tracer::next_event`](saker_driver::EventSource::next_event) in batches.
  When the consumer falls behind by [`Config::buffer_limit`] bytes the tracer
  stops resuming tracees until it catches up: nothing is ever dropped.

# Events

The types and parameters are those of the modern probe
(`kernel/modern_bpf/`), syscall by syscall (the syscall table is a copy of
its `syscalls_x86_64.tsv`): exit events carrying every parameter, enter
events only for open, openat, openat2, creat and connect, `procexit` when a
thread exits, a generic event (`GENERIC_X` with the ppm_sc code) for the
other traced syscalls. Values are read at the moment the probe reads them:

- arguments from the registers at the syscall-exit stop (the `pt_regs` the
  probe reads at `sys_exit`), user memory with `process_vm_readv` at that
  stop, with the probe's limits (4096-byte paths, argv and env, snaplen);
- `dev`/`ino` of opened files from a `statx` of `/proc/<tid>/fd/<fd>` (inode
  and mount id) and the mount's `major:minor` in `/proc/<tid>/mountinfo` (the
  superblock's device, as the probe); `O_F_CREATED` from whether the path
  existed at the entry stop;
- socket tuples through a duplicate of the tracee's fd (`pidfd_getfd`),
  `getsockname` and `SO_PEERNAME` (which, like the probe, still gives the
  destination of a closed or connecting TCP socket; a closed one has given
  its local port back); accept queues from `TCP_INFO`;
- process data of execve/clone exits from `/proc/<tid>/task/<tid>/{stat,
  status,cgroup,cwd}`, `/proc/<pid>/{exe,loginuid}`, `prlimit`, and the argv
  and environment at `arg_start`/`env_start` of the new image; cgroups as
  the probe lists them (every subsystem in kernel order, `io` for blkio, the
  nearest enabled ancestor on cgroup v2);
- `procexit` from the `PTRACE_EVENT_EXIT` message (the exit code the probe
  reads), or from the wait status when the thread died without that stop
  (SIGKILL).

What a user-space tracer cannot know exactly, and what it writes instead:
kernel addresses of unix sockets (the socket's inode for the socket and for
a socketpair's peer, 0 for a connected socket's peer) and
`pidns_init_start_ts` (the namespace init's start time from /proc, which
counts in clock ticks: the probe's value rounded down to 10 ms). `vm_rss`
and `vm_swap` come from /proc, which sums the per-CPU parts of the kernel's
counters; the probe reads the shared part only, lower by up to the per-CPU
batches. Syscalls that another seccomp filter of the tracee denies are not
seen (the probe sees their failed exit). Timestamps are taken when the
tracer sees a stop; the CPU of an event is the tracer's.

# Signals and exits

Signals are delivered exactly as without the tracer: a signal-delivery stop
is resumed with the same signal, a group-stop is left stopped with
`PTRACE_LISTEN` (so SIGCONT, SIGKILL and the parent's `waitpid` behave as
usual). [`Control::forward_signal`] sends a signal to the launched command
(async-signal-safe, for a Ctrl-C handler); [`Control::detach`] (or the
[`StopHandle`]) detaches from every tracee in attach
mode and leaves it running untraced. [`Tracer::exit_status`] gives the
launched command's exit status once the stream has ended.
*/

mod encode;
mod engine;
mod flags;
mod header;
mod procfs;
mod seccomp;
mod sys;
mod syscalls;

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use saker_abi::Event;
#[cfg(test)]
use saker_abi::EventType;
use saker_driver::{EventSource, Next, SourceError, SourceEvent, SourceStats, StopHandle};
use saker_scap::CaptureHeader;

use engine::{Engine, Settings, Shared, Start};

pub use syscalls::{SYSCALL_TABLE_SIZE, SyscallInfo, syscall_by_name, syscalls};

/// The default snaplen: bytes of data captured from read/write-like calls.
pub const DEFAULT_SNAPLEN: u32 = 80;

/// How to trace.
#[derive(Clone, Debug)]
pub struct Config {
    /// Syscall names to trace; `None` traces every syscall. Only these stop
    /// the launched command (the others run at full speed).
    pub syscalls: Option<BTreeSet<String>>,
    /// Bytes of data captured from read/write-like calls (default 80, at most 65535).
    pub snaplen: u32,
    /// Emit `procexit` events when a thread exits (default true).
    pub procexit: bool,
    /// Bytes of events the tracer may queue before it stops resuming
    /// tracees until the consumer catches up (default 64 MiB).
    pub buffer_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { syscalls: None, snaplen: DEFAULT_SNAPLEN, procexit: true, buffer_limit: 64 << 20 }
    }
}

impl Config {
    fn interesting(&self) -> Result<Vec<bool>, Error> {
        if self.snaplen > 65535 {
            return Err(Error::new(ErrorKind::Config(format!("snaplen {} is larger than 65535", self.snaplen))));
        }
        let mut v = vec![false; SYSCALL_TABLE_SIZE];
        match &self.syscalls {
            None => {
                for s in syscalls() {
                    v[s.nr as usize] = true;
                }
            }
            Some(names) => {
                for n in names {
                    let s = syscall_by_name(n).ok_or_else(|| Error::new(ErrorKind::UnknownSyscall(n.clone())))?;
                    v[s.nr as usize] = true;
                }
            }
        }
        Ok(v)
    }
}

/// Something worth telling the user that is not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A tracee called ptrace to trace (TRACEME, ATTACH, SEIZE): it is
    /// itself a debugger. A process has one tracer, so its call failed
    /// (EPERM) if the target is traced by saker; tracing goes on.
    NestedPtrace {
        /// The thread that called ptrace.
        tid: i32,
        /// The request (`PTRACE_TRACEME` 0, `PTRACE_ATTACH` 16, `PTRACE_SEIZE` 0x4206).
        request: u64,
        /// The pid argument.
        target: i32,
        /// The call's result (`-errno` on failure).
        result: i64,
    },
    /// A thread of the traced tree could not be attached (attach mode).
    AttachFailed {
        /// The thread.
        tid: i32,
        /// Why.
        errno: i32,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notice::NestedPtrace { tid, request, target, result } => {
                let req = match request {
                    0 => "PTRACE_TRACEME",
                    16 => "PTRACE_ATTACH",
                    0x4206 => "PTRACE_SEIZE",
                    _ => "ptrace",
                };
                write!(f, "thread {tid} is a debugger: it called {req}")?;
                if request != 0 {
                    write!(f, " on {target}")?;
                }
                if result < 0 {
                    let e = std::io::Error::from_raw_os_error(-result as i32);
                    write!(f, ", which failed ({e}): a process has only one tracer and saker is it; tracing goes on")
                } else {
                    write!(f, ", which succeeded; tracing goes on")
                }
            }
            Notice::AttachFailed { tid, errno } => {
                write!(f, "cannot attach to thread {tid}: {}", std::io::Error::from_raw_os_error(errno))
            }
        }
    }
}

/// Why tracing could not start.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A syscall name the table does not know.
    UnknownSyscall(String),
    /// A bad setting.
    Config(String),
    /// The command was not found in `PATH`.
    NotFound {
        /// The command.
        command: String,
    },
    /// The command could not be started.
    Spawn {
        /// The command.
        command: String,
        /// Why.
        errno: i32,
    },
    /// The command's execve failed (or it died before exec).
    Exec {
        /// The execve errno (0 if it died another way).
        errno: i32,
        /// Its wait status.
        status: i32,
    },
    /// No process has this pid.
    NoSuchProcess {
        /// The pid.
        pid: i32,
    },
    /// Yama's `kernel.yama.ptrace_scope` forbids it.
    PtraceScope {
        /// The process.
        pid: i32,
        /// The scope in force (1, 2 or 3).
        scope: u32,
        /// Whether this was attach mode (scope 1 allows launching).
        attach: bool,
    },
    /// The process belongs to another user.
    OtherUser {
        /// The process.
        pid: i32,
        /// Its user.
        owner: u32,
        /// saker's user.
        uid: u32,
    },
    /// The process is traced by another debugger already.
    AlreadyTraced {
        /// The process.
        pid: i32,
        /// Its tracer.
        tracer: i32,
    },
    /// ptrace was refused for another reason (non-dumpable process, a
    /// seccomp profile or LSM forbidding ptrace).
    PtraceDenied {
        /// The process.
        pid: i32,
        /// The errno.
        errno: i32,
        /// Whether this was attach mode.
        attach: bool,
    },
    /// A system call saker needs failed.
    Io(String),
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let oserr = |e: i32| std::io::Error::from_raw_os_error(e);
        match &self.kind {
            ErrorKind::UnknownSyscall(n) => write!(f, "unknown syscall `{n}`"),
            ErrorKind::Config(m) => write!(f, "{m}"),
            ErrorKind::NotFound { command } => write!(f, "{command}: command not found in PATH"),
            ErrorKind::Spawn { command, errno } => write!(f, "cannot start {command}: {}", oserr(*errno)),
            ErrorKind::Exec { errno, status } => {
                if *errno != 0 {
                    write!(f, "cannot execute the command: {}", oserr(*errno))
                } else {
                    write!(f, "the command ended before it could execute (wait status {status:#x})")
                }
            }
            ErrorKind::NoSuchProcess { pid } => write!(f, "no process with pid {pid}"),
            ErrorKind::PtraceScope { pid, scope, attach } => {
                write!(f, "cannot trace process {pid}: kernel.yama.ptrace_scope is {scope}, which ")?;
                match scope {
                    1 => write!(
                        f,
                        "lets a process trace only its own descendants. Run `sysctl -w kernel.yama.ptrace_scope=0` \
                         (as root), give saker the CAP_SYS_PTRACE capability, or start the program under saker \
                         (`saker trace --driver userspace -- CMD`)"
                    ),
                    2 => write!(
                        f,
                        "reserves ptrace to processes with CAP_SYS_PTRACE. Run `sysctl -w kernel.yama.ptrace_scope={}` \
                         (as root) or give saker the CAP_SYS_PTRACE capability",
                        if *attach { 0 } else { 1 }
                    ),
                    _ => write!(
                        f,
                        "disables ptrace entirely until the next boot (the setting cannot be lowered): use a kernel \
                         driver, or boot with kernel.yama.ptrace_scope set lower in /etc/sysctl.d"
                    ),
                }
            }
            ErrorKind::OtherUser { pid, owner, uid } => write!(
                f,
                "cannot trace process {pid}: it belongs to user {owner} and saker runs as user {uid}. Run saker as \
                 user {owner}, or as root (or with CAP_SYS_PTRACE)"
            ),
            ErrorKind::AlreadyTraced { pid, tracer } => write!(
                f,
                "cannot trace process {pid}: it is already traced by process {tracer} (a process can have only one \
                 tracer). Stop that debugger first"
            ),
            ErrorKind::PtraceDenied { pid, errno, attach } => {
                write!(f, "cannot trace process {pid}: ptrace failed ({})", oserr(*errno))?;
                if *attach {
                    write!(
                        f,
                        ". The process may be non-dumpable (a setuid/setgid binary, file capabilities, or \
                         prctl(PR_SET_DUMPABLE, 0)), or a security module forbids ptrace; running saker as root or \
                         with CAP_SYS_PTRACE lifts the first"
                    )
                } else {
                    write!(
                        f,
                        ". A seccomp profile or security module forbids ptrace here (a container's default profile: \
                         allow the ptrace syscall, e.g. `docker run --cap-add SYS_PTRACE`, or use \
                         `--security-opt seccomp=unconfined`)"
                    )
                }
            }
            ErrorKind::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Turns a failed `PTRACE_SEIZE` into the error that says what to change.
pub(crate) fn permission_error(pid: i32, errno: i32, launch: bool) -> Error {
    let attach = !launch;
    if errno == libc::ESRCH {
        return Error::new(ErrorKind::NoSuchProcess { pid });
    }
    if errno != libc::EPERM && errno != libc::EACCES {
        return Error::new(ErrorKind::PtraceDenied { pid, errno, attach });
    }
    let mut buf = Vec::new();
    let status = procfs::read_into(&format!("/proc/{pid}/status"), &mut buf).then(|| buf.clone());
    let tracer = status
        .as_deref()
        .and_then(|s| s.split(|&c| c == b'\n').find_map(|l| l.strip_prefix(b"TracerPid:")))
        .and_then(procfs::num)
        .unwrap_or(0) as i32;
    if tracer != 0 && tracer != std::process::id() as i32 {
        return Error::new(ErrorKind::AlreadyTraced { pid, tracer });
    }
    let own = procfs::read_into("/proc/self/status", &mut buf).then(|| procfs::parse_status(&buf));
    let cap_ptrace = own.as_ref().is_some_and(|s| s.cap_eff & (1 << 19) != 0);
    // SAFETY: getuid has no side effects.
    let uid = unsafe { libc::getuid() };
    if let Some(scope) = procfs::yama_scope() {
        let blocks = match scope {
            0 => false,
            1 => attach && !cap_ptrace,
            2 => !cap_ptrace,
            _ => true,
        };
        if blocks {
            return Error::new(ErrorKind::PtraceScope { pid, scope, attach });
        }
    }
    if attach
        && !cap_ptrace
        && let Some(s) = status.as_deref().map(procfs::parse_status)
        && (s.ruid != uid || s.euid != uid)
    {
        let owner = if s.euid != uid { s.euid } else { s.ruid };
        return Error::new(ErrorKind::OtherUser { pid, owner, uid });
    }
    Error::new(ErrorKind::PtraceDenied { pid, errno, attach })
}

/// How the launched command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// From a `waitpid` status.
    pub fn from_wait(status: i32) -> ExitStatus {
        if libc::WIFEXITED(status) {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            ExitStatus::Signaled { signal: libc::WTERMSIG(status), core_dumped: libc::WCOREDUMP(status) }
        }
    }

    /// The exit code a shell would report: the code, or 128 + the signal.
    pub fn code(&self) -> i32 {
        match *self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled { signal, .. } => 128 + signal,
        }
    }
}

/// Controls a running tracer from any thread or a signal handler.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    /// Sends `sig` to the launched command (launch mode); false in attach
    /// mode or once it has ended. Only a `kill(2)`: async-signal-safe.
    ///
    /// A signal typed at the terminal (Ctrl-C) already reached the command,
    /// which runs in saker's process group; forward the signals that only
    /// saker received (SIGTERM, SIGHUP, a `kill` of saker's pid).
    pub fn forward_signal(&self, sig: i32) -> bool {
        let pid = self.shared.child.load(Ordering::Acquire);
        pid > 0 && sys::kill(pid, sig).is_ok()
    }

    /// Ends tracing: in attach mode every tracee is detached and keeps
    /// running untraced, as it was; in launch mode the command is killed (it
    /// cannot run without its tracer). Async-signal-safe.
    pub fn detach(&self) {
        self.shared.quit.store(true, Ordering::Release);
        self.shared.wake();
    }
}

/// A traced command or process tree, as an event source.
pub struct Tracer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    local: Vec<u8>,
    pos: usize,
    stop: StopHandle,
    stop_acted: bool,
    header: CaptureHeader,
    launch: bool,
    child: i32,
    wake_w: i32,
}

impl Tracer {
    /// Runs `cmd` (program and arguments; the program is looked up in
    /// `PATH`) under the tracer. Returns once it has exec'd.
    pub fn launch<I, S>(cmd: I, config: Config) -> Result<Tracer, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let argv: Vec<Vec<u8>> = cmd.into_iter().map(|s| s.as_ref().as_bytes().to_vec()).collect();
        let Some(prog) = argv.first() else {
            return Err(Error::new(ErrorKind::Config("no command to launch".into())));
        };
        let path = resolve(prog)
            .ok_or_else(|| Error::new(ErrorKind::NotFound { command: String::from_utf8_lossy(prog).into_owned() }))?;
        let cstr = |b: Vec<u8>| {
            CString::new(b).map_err(|_| Error::new(ErrorKind::Config("a NUL byte in the command line".into())))
        };
        let argv: Vec<CString> = argv.into_iter().map(cstr).collect::<Result<_, _>>()?;
        let envp: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        Self::start(Start::Launch { path: cstr(path)?, argv, envp }, config, true)
    }

    /// Attaches to process `pid`, all its threads and all its descendants,
    /// and follows the ones they create.
    pub fn attach(pid: i32, config: Config) -> Result<Tracer, Error> {
        if pid <= 0 {
            return Err(Error::new(ErrorKind::NoSuchProcess { pid }));
        }
        Self::start(Start::Attach { pid }, config, false)
    }

    fn start(start: Start, config: Config, launch: bool) -> Result<Tracer, Error> {
        let interesting = config.interesting()?;
        let settings = Settings {
            snaplen: config.snaplen,
            procexit: config.procexit,
            buffer_limit: config.buffer_limit.max(1 << 16),
            interesting,
        };
        let shared = Shared::new();
        let (wake_r, wake_w) = engine::pipe()?;
        shared.wake_fd.store(wake_w, Ordering::Release);
        let engine = Engine::new(shared.clone(), settings, wake_r);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("saker-ptrace".into())
            .spawn(move || {
                engine.run(start, tx);
                sys::close(wake_r);
            })
            .map_err(|e| Error::new(ErrorKind::Io(format!("cannot start the tracer thread: {e}"))))?;
        let header = match rx.recv() {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let _ = thread.join();
                sys::close(wake_w);
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                sys::close(wake_w);
                let msg = shared.state.lock().ok().and_then(|s| s.error.clone());
                return Err(Error::new(ErrorKind::Io(msg.unwrap_or_else(|| "the tracer thread ended".into()))));
            }
        };
        let child = shared.child.load(Ordering::Acquire);
        Ok(Tracer {
            shared,
            thread: Some(thread),
            local: Vec::new(),
            pos: 0,
            stop: StopHandle::new(),
            stop_acted: false,
            header,
            launch,
            child,
            wake_w,
        })
    }

    /// The state at start: machine, users, groups, interfaces, and the
    /// traced processes (threads and fds) with their ancestors, for a
    /// standalone capture.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// The launched command's pid (launch mode).
    pub fn child_pid(&self) -> Option<i32> {
        (self.child > 0).then_some(self.child)
    }

    /// How many times a tracee stopped for the tracer so far (syscall
    /// stops, clone/exec/exit events, signals): what tracing costs the
    /// traced programs is about this many round trips through the tracer.
    pub fn stops(&self) -> u64 {
        self.shared.stops.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How the launched command ended, once it has (launch mode).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.exit_status.map(ExitStatus::from_wait)
    }

    /// A handle to forward signals or detach from another thread or a
    /// signal handler.
    pub fn control(&self) -> Control {
        Control { shared: self.shared.clone() }
    }

    /// Notices since the last call (nested debuggers, threads not attached).
    pub fn take_notices(&mut self) -> Vec<Notice> {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut st.notices)
    }

    fn act_on_stop(&mut self) {
        if self.stop_acted || !self.stop.is_stopped() {
            return;
        }
        self.stop_acted = true;
        if self.launch {
            // The command keeps running under the tracer; its events are
            // dropped from now on.
            self.shared.discard.store(true, Ordering::Release);
            self.shared.space.notify_all();
        } else {
            self.control().detach();
        }
    }
}

/// `prog` itself if it has a slash, else the first executable file of that
/// name in `PATH`.
fn resolve(prog: &[u8]) -> Option<Vec<u8>> {
    if prog.contains(&b'/') {
        return Some(prog.to_vec());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in path.as_bytes().split(|&c| c == b':') {
        let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
        let mut cand = dir.to_vec();
        cand.push(b'/');
        cand.extend_from_slice(prog);
        let Ok(c) = CString::new(cand.clone()) else { continue };
        // SAFETY: c is NUL-terminated; st is an out buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let is_file = unsafe { libc::stat(c.as_ptr(), &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG;
        // SAFETY: as above.
        if is_file && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
            return Some(cand);
        }
    }
    None
}

/// How long the consumer waits for events before it looks again (the tracer
/// wakes it only for large batches) ...
const POLL_WAIT: Duration = Duration::from_millis(5);
/// ... and how long without events makes an `Idle`.
const IDLE_AFTER: Duration = Duration::from_millis(100);

impl EventSource for Tracer {
    fn next_event(&mut self) -> Result<Next<'_>, SourceError> {
        if self.pos >= self.local.len() {
            self.act_on_stop();
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let t0 = std::time::Instant::now();
            while st.buf.is_empty() && !st.done && !(self.launch && self.stop_acted) && t0.elapsed() < IDLE_AFTER {
                st = self.shared.data.wait_timeout(st, POLL_WAIT).unwrap_or_else(|e| e.into_inner()).0;
            }
            if st.buf.is_empty() {
                if st.done || (self.launch && self.stop_acted) {
                    if let Some(e) = st.error.take() {
                        return Err(SourceError::new(e));
                    }
                    return Ok(Next::End);
                }
                return Ok(Next::Idle);
            }
            self.local.clear();
            std::mem::swap(&mut self.local, &mut st.buf);
            self.pos = 0;
            drop(st);
            self.shared.space.notify_all();
        }
        let cpu = u16::from_le_bytes([self.local[self.pos], self.local[self.pos + 1]]);
        let ev = Event::parse(&self.local[self.pos + 2..]).map_err(SourceError::new)?;
        self.pos += 2 + ev.len() as usize;
        Ok(Next::Event(SourceEvent { cpu, dump_flags: None, event: ev, passed_over: 0 }))
    }

    fn stats(&self) -> SourceStats {
        let st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        SourceStats { events: st.events, ..SourceStats::default() }
    }

    fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    fn exit_code(&self) -> Option<i32> {
        self.exit_status().map(|s| s.code())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let done = self.shared.state.lock().map(|s| s.done).unwrap_or(true);
            if !done {
                self.control().detach();
                self.shared.discard.store(true, Ordering::Release);
                self.shared.space.notify_all();
            }
            let _ = t.join();
        }
        self.shared.wake_fd.store(-1, Ordering::Release);
        sys::close(self.wake_w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yama_errors_say_which_setting_to_change() {
        let e = |scope, attach| Error::new(ErrorKind::PtraceScope { pid: 42, scope, attach }).to_string();
        let m = e(1, true);
        assert!(m.contains("kernel.yama.ptrace_scope is 1"), "{m}");
        assert!(m.contains("sysctl -w kernel.yama.ptrace_scope=0") && m.contains("CAP_SYS_PTRACE"), "{m}");
        assert!(m.contains("saker trace --driver userspace -- CMD"), "{m}");
        let m = e(2, false);
        assert!(m.contains("kernel.yama.ptrace_scope=1") && m.contains("CAP_SYS_PTRACE"), "{m}");
        let m = e(3, true);
        assert!(m.contains("until the next boot"), "{m}");
        let m = Error::new(ErrorKind::OtherUser { pid: 7, owner: 0, uid: 1000 }).to_string();
        assert!(m.contains("belongs to user 0") && m.contains("saker runs as user 1000"), "{m}");
        let m = Error::new(ErrorKind::AlreadyTraced { pid: 7, tracer: 9 }).to_string();
        assert!(m.contains("already traced by process 9"), "{m}");
    }

    #[test]
    fn exit_status_codes() {
        assert_eq!(ExitStatus::from_wait(3 << 8), ExitStatus::Exited(3));
        assert_eq!(ExitStatus::from_wait(9), ExitStatus::Signaled { signal: 9, core_dumped: false });
        assert_eq!(ExitStatus::from_wait(9).code(), 137);
        assert_eq!(ExitStatus::from_wait(0x80 | 11).code(), 139);
    }

    #[test]
    fn the_syscall_table_is_the_probes() {
        // The copy this crate builds from must equal the modern probe's file
        // when that is present in the tree.
        let ours = include_str!("../syscalls_x86_64.tsv");
        let theirs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernel/modern_bpf/syscalls_x86_64.tsv");
        if let Ok(t) = std::fs::read_to_string(theirs) {
            assert!(t == ours, "crates/userspace/syscalls_x86_64.tsv differs from kernel/modern_bpf's: copy it again");
        }
        let open = syscall_by_name("openat").unwrap();
        assert_eq!(
            (open.nr, open.exit_event, open.enter_event),
            (257, EventType::SYSCALL_OPENAT_2_X, Some(EventType::SYSCALL_OPENAT_2_E))
        );
        assert!(Config { syscalls: Some(["nope".to_string()].into()), ..Config::default() }.interesting().is_err());
    }
}
