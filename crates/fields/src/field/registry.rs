//! Every field: name, type, argument and description, in `saker fields`
//! order (sysdig's classes and order, then the fields libsinsp added since
//! sysdig 0.29.3).

use super::container::C;
use super::evt::E;
use super::fd::F;
use super::proc::P;
use super::user::U;
use super::{ArgKind, ArgSyntax, FieldInfo, Id, Pf, Ty, flag};

impl FieldInfo {
    const fn new(class: &'static str, name: &'static str, id: Id, ty: Ty, desc: &'static str) -> FieldInfo {
        FieldInfo {
            name,
            kind: ty.kind(),
            takes_arg: false,
            desc,
            id,
            ty,
            pf: Pf::Dec,
            arg: ArgKind::None,
            syntax: ArgSyntax::None,
            flags: 0,
            class,
        }
    }
    const fn pf(mut self, pf: Pf) -> FieldInfo {
        self.pf = pf;
        self
    }
    const fn flags(mut self, flags: u8) -> FieldInfo {
        self.flags |= flags;
        self
    }
    /// `.NAME` argument, required.
    const fn dot(mut self) -> FieldInfo {
        self.takes_arg = true;
        self.arg = ArgKind::Required;
        self.syntax = ArgSyntax::Dot;
        self
    }
    /// `[ARG]` argument.
    const fn bracket(mut self, kind: ArgKind) -> FieldInfo {
        self.takes_arg = true;
        self.arg = kind;
        self.syntax = ArgSyntax::Bracket;
        self
    }
}

const fn evt(name: &'static str, e: E, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("evt", name, Id::Evt(e), ty, desc)
}
const fn pr(name: &'static str, p: P, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("process", name, Id::Proc(p), ty, desc)
}
const fn user(name: &'static str, u: U, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("user", name, Id::User(u), ty, desc)
}
const fn group(name: &'static str, u: U, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("group", name, Id::User(u), ty, desc)
}
const fn ct(name: &'static str, c: C, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("container", name, Id::Container(c), ty, desc)
}
const fn fd(name: &'static str, f: F, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("fd", name, Id::Fd(f), ty, desc).flags(0)
}
const fn fdn(name: &'static str, f: F, ty: Ty, desc: &'static str) -> FieldInfo {
    FieldInfo::new("fd", name, Id::Fd(f), ty, desc).flags(flag::SANITIZE)
}
const fn fdl(name: &'static str, f: F, desc: &'static str) -> FieldInfo {
    FieldInfo::new("fdlist", name, Id::Fd(f), Ty::Charbuf, desc)
}

const NEW: u8 = flag::NEW;
const FILTER_ONLY: u8 = flag::FILTER_ONLY;
const MULTI: u8 = flag::MULTI;
const OPT: ArgKind = ArgKind::Optional;
const REQ: ArgKind = ArgKind::Required;

/// Every field this crate extracts, in `saker fields` order.
pub static FIELDS: &[FieldInfo] = &[
    // evt: all events.
    evt("evt.num", E::Num, Ty::Uint64, "Event number, from 1 (every event read is counted, shown or not)."),
    evt("evt.time", E::Time, Ty::Charbuf, "Event time in the local time zone, with nanoseconds: 15:14:22.806245638."),
    evt("evt.time.s", E::TimeS, Ty::Charbuf, "Event time in the local time zone, without nanoseconds: 15:14:22."),
    evt("evt.time.iso8601", E::TimeIso, Ty::Charbuf, "Event time in ISO 8601, in UTC, with nanoseconds: 2016-08-04T16:17:57.881730713+0000."),
    evt("evt.datetime", E::Datetime, Ty::Charbuf, "Event date and time in the local time zone, with nanoseconds."),
    evt("evt.datetime.s", E::DatetimeS, Ty::Charbuf, "Event date and time in the local time zone, without nanoseconds."),
    evt("evt.rawtime", E::Rawtime, Ty::AbsTime, "Event time in nanoseconds since the epoch."),
    evt("evt.rawtime.s", E::RawtimeS, Ty::AbsTime, "Seconds part of evt.rawtime."),
    evt("evt.rawtime.ns", E::RawtimeNs, Ty::AbsTime, "Nanoseconds part of evt.rawtime (zero-padded to 9 digits).").pf(Pf::Pad9),
    // evt: system calls.
    evt("evt.latency", E::Latency, Ty::RelTime, "Nanoseconds between an exit event and its enter event (0 for enter events)."),
    evt("evt.latency.s", E::LatencyS, Ty::RelTime, "Seconds part of evt.latency."),
    evt("evt.latency.ns", E::LatencyNs, Ty::RelTime, "Nanoseconds part of evt.latency (zero-padded to 9 digits).").pf(Pf::Pad9),
    evt("evt.latency.human", E::LatencyHuman, Ty::Charbuf, "evt.latency for humans: 653ns, 3.12us, 12ms, 1.50s."),
    evt("evt.deltatime", E::Deltatime, Ty::RelTime, "Nanoseconds since the previous event this field was computed for (0 for the first)."),
    evt("evt.deltatime.s", E::DeltatimeS, Ty::RelTime, "Seconds part of evt.deltatime."),
    evt("evt.deltatime.ns", E::DeltatimeNs, Ty::RelTime, "Nanoseconds part of evt.deltatime (zero-padded to 9 digits).").pf(Pf::Pad9),
    evt("evt.outputtime", E::Outputtime, Ty::Charbuf, "Event time as the default output line shows it (evt.time)."),
    evt("evt.dir", E::Dir, Ty::Charbuf, "Event direction: '>' for enter events, '<' for exit events."),
    evt("evt.type", E::Type, Ty::Charbuf, "Event name, e.g. 'open'; the system call's name for generic events."),
    evt("evt.type.is", E::TypeIs, Ty::Uint32, "1 for events of the type named after the dot (evt.type.is.open), else 0.").dot(),
    evt("syscall.type", E::SyscallType, Ty::Charbuf, "For system call events, the system call's name; absent for scheduler switches and internal events."),
    evt("evt.category", E::Category, Ty::Charbuf, "Event category: 'file', 'net', 'memory', 'process', 'IPC', ...; for I/O events, what the fd is ('file', 'net', 'ipc', 'unknown')."),
    evt("evt.cpu", E::Cpu, Ty::Int16, "CPU the event was captured on."),
    evt("evt.args", E::Args, Ty::Charbuf, "All the event's arguments as name=value pairs, as the default output shows them."),
    evt("evt.arg", E::Arg, Ty::Charbuf, "One argument, by name (evt.arg.fd) or position (evt.arg[0]), rendered for humans: names of flags, fds and users.").dot(),
    evt("evt.rawarg", E::RawArg, Ty::Dyn, "One argument by name (evt.rawarg.size), as its raw value; typed like the first event argument of that name.").dot(),
    evt("evt.info", E::Info, Ty::Charbuf, "The event's information for humans: the same as evt.args for system calls."),
    evt("evt.buffer", E::Buffer, Ty::Bytebuf, "The data buffer of I/O events (read, write, recvfrom...); filters compare its raw bytes."),
    evt("evt.buflen", E::Buflen, Ty::Uint64, "Size of the data of an I/O exit event that succeeded."),
    evt("evt.res", E::Res, Ty::Charbuf, "Result of an exit event: 'SUCCESS', or the error name such as 'ENOENT'."),
    evt("evt.rawres", E::RawRes, Ty::Int64, "Result of an exit event as a number, e.g. -2 or 3."),
    evt("evt.failed", E::Failed, Ty::Bool, "'true' for exit events whose result is an error."),
    evt("evt.is_io", E::IsIo, Ty::Bool, "'true' for events that read or write an fd (read, send, recvfrom...)."),
    evt("evt.is_io_read", E::IsIoRead, Ty::Bool, "'true' for events that read from an fd."),
    evt("evt.is_io_write", E::IsIoWrite, Ty::Bool, "'true' for events that write to an fd."),
    evt("evt.io_dir", E::IoDir, Ty::Charbuf, "'read' for events that read from an fd, 'write' for events that write to one."),
    evt("evt.is_wait", E::IsWait, Ty::Bool, "'true' for events that make the thread wait (sleep, select, poll)."),
    evt("evt.wait_latency", E::WaitLatency, Ty::RelTime, "For exit events of waiting calls, the nanoseconds spent waiting."),
    evt("evt.is_syslog", E::IsSyslog, Ty::Bool, "'true' for writes to /dev/log."),
    evt("evt.count", E::Count, Ty::Uint32, "Always 1 (to count events)."),
    evt("evt.count.error", E::CountError, Ty::Uint32, "1 for events that returned an error."),
    evt("evt.count.error.file", E::CountErrorFile, Ty::Uint32, "1 for events about files that returned an error."),
    evt("evt.count.error.net", E::CountErrorNet, Ty::Uint32, "1 for network events that returned an error."),
    evt("evt.count.error.memory", E::CountErrorMemory, Ty::Uint32, "1 for memory events that returned an error."),
    evt("evt.count.error.other", E::CountErrorOther, Ty::Uint32, "1 for other events that returned an error."),
    evt("evt.count.exit", E::CountExit, Ty::Uint32, "1 for exit events."),
    evt("evt.abspath", E::Abspath, Ty::Charbuf, "Absolute path an *at system call works on (openat, unlinkat, mkdirat, fchmodat...), from its directory fd and relative path."),
    evt("evt.abspath.src", E::AbspathSrc, Ty::Charbuf, "evt.abspath of the source path of renameat and linkat."),
    evt("evt.abspath.dst", E::AbspathDst, Ty::Charbuf, "evt.abspath of the destination path of renameat and linkat."),
    evt("evt.is_open_read", E::IsOpenRead, Ty::Bool, "'true' for open/openat/openat2 events that open the file for reading."),
    evt("evt.is_open_write", E::IsOpenWrite, Ty::Bool, "'true' for open/openat/openat2 events that open the file for writing."),
    evt("evt.is_open_exec", E::IsOpenExec, Ty::Bool, "'true' for open/openat/openat2/creat events that create a file with execute permission."),
    evt("evt.source", E::Source, Ty::Charbuf, "Where the event comes from: 'syscall'.").flags(NEW),
    evt("evt.hostname", E::Hostname, Ty::Charbuf, "Name of the machine saker runs on ($FALCO_HOSTNAME when set, as Falco).").flags(NEW),
    // process and thread.
    pr("proc.pid", P::Pid, Ty::Int64, "Id of the process."),
    pr("proc.exe", P::Exe, Ty::Charbuf, "First command-line argument (argv[0]): usually the executable, as it was started."),
    pr("proc.name", P::Name, Ty::Charbuf, "Name of the process (its comm, at most 15 characters)."),
    pr("proc.args", P::Args, Ty::Charbuf, "Command-line arguments after argv[0], space-separated."),
    pr("proc.env", P::Env, Ty::Charbuf, "Environment, space-separated; proc.env[NAME] is the value of one variable.").bracket(OPT),
    pr("proc.cmdline", P::Cmdline, Ty::Charbuf, "Full command line: proc.name followed by proc.args."),
    pr("proc.exeline", P::Exeline, Ty::Charbuf, "Full command line with argv[0]: proc.exe followed by proc.args."),
    pr("proc.cwd", P::Cwd, Ty::Charbuf, "Current working directory."),
    pr("proc.nthreads", P::Nthreads, Ty::Uint32, "Number of threads of the process, including the main thread."),
    pr("proc.nchilds", P::Nchilds, Ty::Uint32, "Number of threads of the process besides its main thread (0 for other threads)."),
    pr("proc.ppid", P::Ppid, Ty::Int64, "Id of the parent process."),
    pr("proc.pname", P::Pname, Ty::Charbuf, "Name of the parent process."),
    pr("proc.pcmdline", P::Pcmdline, Ty::Charbuf, "Full command line of the parent process."),
    pr("proc.apid", P::Apid, Ty::Int64, "Id of an ancestor: proc.apid[1] is the parent, [2] the grandparent, [0] the process; without index (filters only), any ancestor.").bracket(OPT).flags(MULTI),
    pr("proc.aname", P::Aname, Ty::Charbuf, "Name of an ancestor: proc.aname[1] is the parent, [2] the grandparent, [0] the process; without index (filters only), any ancestor.").bracket(OPT).flags(MULTI),
    pr("proc.loginshellid", P::Loginshellid, Ty::Int64, "Id of the eldest shell (name ending in 'sh') among the process and its ancestors."),
    pr("proc.duration", P::Duration, Ty::RelTime, "Nanoseconds since the process started (when the capture saw it start)."),
    pr("proc.fdopencount", P::Fdopencount, Ty::Uint64, "Number of open fds of the process."),
    pr("proc.fdlimit", P::Fdlimit, Ty::Int64, "Maximum number of fds the process can open."),
    pr("proc.vmsize", P::Vmsize, Ty::Uint64, "Virtual memory of the process, in kB."),
    pr("proc.vmrss", P::Vmrss, Ty::Uint64, "Resident memory of the process, in kB."),
    pr("proc.vmswap", P::Vmswap, Ty::Uint64, "Swapped memory of the process, in kB."),
    pr("thread.pfmajor", P::Pfmajor, Ty::Uint64, "Major page faults of the thread."),
    pr("thread.pfminor", P::Pfminor, Ty::Uint64, "Minor page faults of the thread."),
    pr("thread.tid", P::Tid, Ty::Int64, "Id of the thread."),
    pr("thread.ismain", P::Ismain, Ty::Bool, "'true' for the main thread of its process."),
    pr("thread.cgroups", P::Cgroups, Ty::Charbuf, "All the cgroups of the thread, as subsystem=path, space-separated."),
    pr("thread.cgroup", P::Cgroup, Ty::Charbuf, "The cgroup of one subsystem: thread.cgroup.cpuacct.").dot(),
    pr("thread.vtid", P::Vtid, Ty::Int64, "Id of the thread in its pid namespace."),
    pr("proc.vpid", P::Vpid, Ty::Int64, "Id of the process in its pid namespace."),
    pr("thread.vmsize", P::ThreadVmsize, Ty::Uint64, "proc.vmsize for the main thread, 0 for the others."),
    pr("thread.vmrss", P::ThreadVmrss, Ty::Uint64, "proc.vmrss for the main thread, 0 for the others."),
    pr("proc.sid", P::Sid, Ty::Int64, "Session id of the process."),
    pr("proc.sname", P::Sname, Ty::Charbuf, "Name of the session leader: the process whose pid is proc.sid, or else the eldest ancestor with the same session."),
    pr("proc.tty", P::Tty, Ty::Int32, "Controlling terminal (device number), 0 for none."),
    pr("proc.exepath", P::Exepath, Ty::Charbuf, "Full path of the executable."),
    pr("proc.vpgid", P::Vpgid, Ty::Int64, "Process group id of the process, in its pid namespace."),
    pr("proc.is_container_healthcheck", P::IsContainerHealthcheck, Ty::Bool, "'true' if the process runs a container health check (never known to saker: 'false')."),
    pr("proc.is_container_liveness_probe", P::IsContainerLivenessProbe, Ty::Bool, "'true' if the process runs a container liveness probe (never known to saker: 'false')."),
    pr("proc.is_container_readiness_probe", P::IsContainerReadinessProbe, Ty::Bool, "'true' if the process runs a container readiness probe (never known to saker: 'false')."),
    pr("proc.is_exe_writable", P::IsExeWritable, Ty::Bool, "'true' if the user that started the process can write its executable."),
    pr("proc.pexe", P::Pexe, Ty::Charbuf, "proc.exe of the parent process.").flags(NEW),
    pr("proc.pexepath", P::Pexepath, Ty::Charbuf, "proc.exepath of the parent process.").flags(NEW),
    pr("proc.aexe", P::Aexe, Ty::Charbuf, "proc.exe of an ancestor ([1] parent, [2] grandparent...); without index (filters only), any ancestor.").bracket(OPT).flags(MULTI | NEW),
    pr("proc.aexepath", P::Aexepath, Ty::Charbuf, "proc.exepath of an ancestor ([1] parent...); without index (filters only), any ancestor.").bracket(OPT).flags(MULTI | NEW),
    pr("proc.acmdline", P::Acmdline, Ty::Charbuf, "proc.cmdline of an ancestor ([1] parent...); without index (filters only), any ancestor.").bracket(OPT).flags(MULTI | NEW),
    pr("proc.aenv", P::Aenv, Ty::Charbuf, "proc.env of an ancestor (proc.aenv[2]), or the first value of a variable among the ancestors (proc.aenv[HOME]); without argument (filters only), any ancestor's environment.").bracket(OPT).flags(MULTI | NEW),
    pr("proc.cmdnargs", P::Cmdnargs, Ty::Uint64, "Number of command-line arguments (proc.args).").flags(NEW),
    pr("proc.cmdlenargs", P::Cmdlenargs, Ty::Uint64, "Total length of the command-line arguments, without separators.").flags(NEW),
    pr("proc.pvpid", P::Pvpid, Ty::Int64, "proc.vpid of the parent process.").flags(NEW),
    pr("proc.sid.exe", P::SidExe, Ty::Charbuf, "proc.exe of the session leader (see proc.sname).").flags(NEW),
    pr("proc.sid.exepath", P::SidExepath, Ty::Charbuf, "proc.exepath of the session leader (see proc.sname).").flags(NEW),
    pr("proc.vpgid.name", P::VpgidName, Ty::Charbuf, "Name of the process group leader: the process whose pid is proc.vpgid, or else the eldest ancestor in the same group.").flags(NEW),
    pr("proc.vpgid.exe", P::VpgidExe, Ty::Charbuf, "proc.exe of the process group leader.").flags(NEW),
    pr("proc.vpgid.exepath", P::VpgidExepath, Ty::Charbuf, "proc.exepath of the process group leader.").flags(NEW),
    pr("proc.ppid.duration", P::PpidDuration, Ty::RelTime, "Nanoseconds since the parent process started.").flags(NEW),
    pr("proc.pid.ts", P::PidTs, Ty::RelTime, "Start time of the process, in nanoseconds since the epoch.").flags(NEW),
    pr("proc.ppid.ts", P::PpidTs, Ty::RelTime, "Start time of the parent process, in nanoseconds since the epoch.").flags(NEW),
    pr("proc.is_exe_upper_layer", P::IsExeUpperLayer, Ty::Bool, "'true' if the executable is in the upper layer of an overlay filesystem (written in the container).").flags(NEW),
    pr("proc.is_exe_from_memfd", P::IsExeFromMemfd, Ty::Bool, "'true' if the executable is a memfd (executed from memory, not from a file on disk).").flags(NEW),
    pr("proc.is_sid_leader", P::IsSidLeader, Ty::Bool, "'true' if the process leads its session (proc.sid = proc.vpid).").flags(NEW),
    pr("proc.is_vpgid_leader", P::IsVpgidLeader, Ty::Bool, "'true' if the process leads its process group (proc.vpgid = proc.vpid).").flags(NEW),
    pr("proc.exe_ino", P::ExeIno, Ty::Int64, "Inode number of the executable.").flags(NEW),
    pr("proc.exe_ino.ctime", P::ExeInoCtime, Ty::AbsTime, "Last status change time (ctime) of the executable, in nanoseconds since the epoch.").flags(NEW),
    pr("proc.exe_ino.mtime", P::ExeInoMtime, Ty::AbsTime, "Last modification time (mtime) of the executable, in nanoseconds since the epoch.").flags(NEW),
    pr("proc.exe_ino.ctime_duration_proc_start", P::ExeInoCtimeDurationProcStart, Ty::AbsTime, "Nanoseconds between the executable's last status change and the start of the process.").flags(NEW),
    pr("proc.exe_ino.ctime_duration_pidns_start", P::ExeInoCtimeDurationPidnsStart, Ty::AbsTime, "Nanoseconds between the start of the pid namespace and the executable's last status change.").flags(NEW),
    pr("proc.pidns_init_start_ts", P::PidnsInitStartTs, Ty::Uint64, "Start time of the pid namespace's init process, in nanoseconds since the epoch.").flags(NEW),
    pr("thread.cap_permitted", P::CapPermitted, Ty::Charbuf, "Permitted capabilities of the thread, space-separated: CAP_CHOWN CAP_KILL ...").flags(NEW),
    pr("thread.cap_inheritable", P::CapInheritable, Ty::Charbuf, "Inheritable capabilities of the thread.").flags(NEW),
    pr("thread.cap_effective", P::CapEffective, Ty::Charbuf, "Effective capabilities of the thread.").flags(NEW),
    // user and group.
    user("user.uid", U::Uid, Ty::Uint32, "Effective user id."),
    user("user.name", U::Name, Ty::Charbuf, "Name of the user."),
    user("user.homedir", U::Homedir, Ty::Charbuf, "Home directory of the user."),
    user("user.shell", U::Shell, Ty::Charbuf, "Login shell of the user."),
    user("user.loginuid", U::Loginuid, Ty::Int32, "Login (audit) user id, -1 when unset."),
    user("user.loginname", U::Loginname, Ty::Charbuf, "Name of the login (audit) user."),
    group("group.gid", U::Gid, Ty::Uint64, "Effective group id."),
    group("group.name", U::GroupName, Ty::Charbuf, "Name of the group."),
    // container.
    ct("container.id", C::Id, Ty::Charbuf, "Container id (12 hex digits for docker-like runtimes), 'host' outside containers."),
    ct("container.name", C::Name, Ty::Charbuf, "Container name, 'host' outside containers."),
    ct("container.image", C::Image, Ty::Charbuf, "Container image, e.g. 'nginx:latest'."),
    ct("container.image.id", C::ImageId, Ty::Charbuf, "Container image id."),
    ct("container.type", C::Type, Ty::Charbuf, "Container runtime: 'docker', 'containerd', 'cri-o', 'podman', 'lxc'...; 'host' outside containers."),
    ct("container.privileged", C::Privileged, Ty::Bool, "'true' for containers running privileged."),
    ct("container.mounts", C::Mounts, Ty::Charbuf, "The container's mounts, as source:dest:mode:rdwr:propagation."),
    ct("container.mount", C::Mount, Ty::Charbuf, "One mount, by index or source path.").bracket(REQ),
    ct("container.mount.source", C::MountSource, Ty::Charbuf, "Source of a mount, by index or destination.").bracket(REQ),
    ct("container.mount.dest", C::MountDest, Ty::Charbuf, "Destination of a mount, by index or source.").bracket(REQ),
    ct("container.mount.mode", C::MountMode, Ty::Charbuf, "Mode of a mount, by index or source.").bracket(REQ),
    ct("container.mount.rdwr", C::MountRdwr, Ty::Charbuf, "Whether a mount is writable, by index or source.").bracket(REQ),
    ct("container.mount.propagation", C::MountPropagation, Ty::Charbuf, "Propagation of a mount, by index or source.").bracket(REQ),
    ct("container.image.repository", C::ImageRepository, Ty::Charbuf, "Repository of the container image, e.g. 'nginx'."),
    ct("container.image.tag", C::ImageTag, Ty::Charbuf, "Tag of the container image, e.g. 'latest'."),
    ct("container.image.digest", C::ImageDigest, Ty::Charbuf, "Registry digest of the container image."),
    ct("container.healthcheck", C::Healthcheck, Ty::Charbuf, "The container's health check; 'NONE' (saker keeps no health checks)."),
    ct("container.liveness_probe", C::LivenessProbe, Ty::Charbuf, "The container's liveness probe; 'NONE' (saker keeps no probes)."),
    ct("container.readiness_probe", C::ReadinessProbe, Ty::Charbuf, "The container's readiness probe; 'NONE' (saker keeps no probes)."),
    ct("container.start_ts", C::StartTs, Ty::AbsTime, "Container start time, in nanoseconds since the epoch.").flags(NEW),
    ct("container.full_id", C::FullId, Ty::Charbuf, "Full container id (64 hex digits for docker-like runtimes), 'host' outside containers.").flags(NEW),
    // fd.
    fd("fd.num", F::Num, Ty::Int64, "Number of the fd the event works on."),
    fd("fd.type", F::Type, Ty::Charbuf, "Type of the fd: 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', 'signalfd', 'eventpoll', 'inotify', 'timerfd', 'netlink', 'memfd'..."),
    fd("fd.typechar", F::Typechar, Ty::Charbuf, "Type of the fd as one letter: f file, d directory, 4/6 IPv4/IPv6 socket, u unix socket, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, t timerfd, o unknown..."),
    fdn("fd.name", F::Name, Ty::Charbuf, "Name of the fd: the full path of a file, the tuple of a socket (1.2.3.4:5->6.7.8.9:80)."),
    fdn("fd.directory", F::Directory, Ty::Charbuf, "For files, the directory that contains it."),
    fdn("fd.filename", F::Filename, Ty::Charbuf, "For files, the file name without the directory."),
    fd("fd.ip", F::Ip, Ty::Ip, "(filters only) Matches the client or server address of the fd.").flags(FILTER_ONLY | MULTI),
    fd("fd.cip", F::Cip, Ty::Ip, "Client address of a socket."),
    fd("fd.sip", F::Sip, Ty::Ip, "Server address of a socket."),
    fd("fd.lip", F::Lip, Ty::Ip, "Local address of a socket."),
    fd("fd.rip", F::Rip, Ty::Ip, "Remote address of a socket."),
    fd("fd.port", F::Port, Ty::Port, "(filters only) Matches the client or server port of the fd.").flags(FILTER_ONLY | MULTI),
    fd("fd.cport", F::Cport, Ty::Port, "Client port of a TCP/UDP socket."),
    fd("fd.sport", F::Sport, Ty::Port, "Server port of a TCP/UDP socket."),
    fd("fd.lport", F::Lport, Ty::Port, "Local port of a TCP/UDP socket."),
    fd("fd.rport", F::Rport, Ty::Port, "Remote port of a TCP/UDP socket."),
    fd("fd.l4proto", F::L4proto, Ty::Charbuf, "Transport protocol of a socket: 'tcp', 'udp', 'icmp' or 'raw'."),
    fd("fd.sockfamily", F::Sockfamily, Ty::Charbuf, "Socket family: 'ip' or 'unix'."),
    fd("fd.is_server", F::IsServer, Ty::Bool, "'true' if the process is the server end of the connection."),
    fd("fd.uid", F::Uid, Ty::Charbuf, "Unique id of the fd: the thread id followed by the fd number."),
    fdn("fd.containername", F::Containername, Ty::Charbuf, "The container id, ':' and the fd name."),
    fdn("fd.containerdirectory", F::Containerdirectory, Ty::Charbuf, "The container id, ':' and the directory name."),
    fd("fd.proto", F::Proto, Ty::Port, "(filters only) Matches the client or server port of the fd, as fd.port.").flags(FILTER_ONLY | MULTI),
    fd("fd.cproto", F::Cproto, Ty::Charbuf, "Client port of a TCP/UDP socket, as text."),
    fd("fd.sproto", F::Sproto, Ty::Charbuf, "Server port of a TCP/UDP socket, as text."),
    fd("fd.lproto", F::Lproto, Ty::Charbuf, "Local port of a TCP/UDP socket, as text."),
    fd("fd.rproto", F::Rproto, Ty::Charbuf, "Remote port of a TCP/UDP socket, as text."),
    fd("fd.net", F::Net, Ty::IpNet, "(filters only) Matches the network of the client or server address: fd.net=10.0.0.0/8.").flags(FILTER_ONLY | MULTI),
    fd("fd.cnet", F::Cnet, Ty::IpNet, "(filters only) Matches the network of the client address.").flags(FILTER_ONLY),
    fd("fd.snet", F::Snet, Ty::IpNet, "(filters only) Matches the network of the server address.").flags(FILTER_ONLY),
    fd("fd.lnet", F::Lnet, Ty::IpNet, "(filters only) Matches the network of the local address.").flags(FILTER_ONLY),
    fd("fd.rnet", F::Rnet, Ty::IpNet, "(filters only) Matches the network of the remote address.").flags(FILTER_ONLY),
    fd("fd.connected", F::Connected, Ty::Bool, "'true' if a TCP/UDP socket is connected."),
    fd("fd.name_changed", F::NameChanged, Ty::Bool, "'true' when the event renamed its fd (a UDP socket's tuple)."),
    fd("fd.cip.name", F::CipName, Ty::Charbuf, "Domain name of the client address: the first, in byte order, of the names rules and filters compare it with that resolve to it (as in libsinsp, only names mentioned are known)."),
    fd("fd.sip.name", F::SipName, Ty::Charbuf, "Domain name of the server address: the first, in byte order, of the names rules and filters compare it with that resolve to it (as in libsinsp, only names mentioned are known)."),
    fd("fd.lip.name", F::LipName, Ty::Charbuf, "Domain name of the local address: the first, in byte order, of the names rules and filters compare it with that resolve to it (as in libsinsp, only names mentioned are known)."),
    fd("fd.rip.name", F::RipName, Ty::Charbuf, "Domain name of the remote address: the first, in byte order, of the names rules and filters compare it with that resolve to it (as in libsinsp, only names mentioned are known)."),
    fd("fd.dev", F::Dev, Ty::Int32, "Device number of the file's filesystem, in hexadecimal.").pf(Pf::Hex),
    fd("fd.dev.major", F::DevMajor, Ty::Int32, "Major device number of the file's filesystem."),
    fd("fd.dev.minor", F::DevMinor, Ty::Int32, "Minor device number of the file's filesystem."),
    fd("fd.ino", F::Ino, Ty::Int64, "Inode number of the file.").flags(NEW),
    fd("fd.nameraw", F::Nameraw, Ty::Charbuf, "The path as the process gave it when it opened the file (relative, unnormalized), or tried to.").flags(NEW),
    fd("fd.types", F::Types, Ty::Charbuf, "Types of all the fds of the process, as a list '(file,ipv4)'; fd.types[N] is the type of fd N.").bracket(OPT).flags(NEW),
    // fdlist.
    fdl("fdlist.nums", F::ListNums, "For poll events, the fd numbers, comma-separated."),
    fdl("fdlist.names", F::ListNames, "For poll events, the fd names, comma-separated."),
    fdl("fdlist.cips", F::ListCips, "For poll events, the client addresses of the sockets, comma-separated."),
    fdl("fdlist.sips", F::ListSips, "For poll events, the server addresses of the sockets, comma-separated."),
    fdl("fdlist.cports", F::ListCports, "For poll events, the client ports of the sockets, comma-separated."),
    fdl("fdlist.sports", F::ListSports, "For poll events, the server ports of the sockets, comma-separated."),
    // k8s.
    FieldInfo::new("k8s", "k8s.pod.name", Id::Container(C::K8sPodName), Ty::Charbuf, "Kubernetes pod name (from the io.kubernetes.* labels of the container)."),
    FieldInfo::new("k8s", "k8s.ns.name", Id::Container(C::K8sNsName), Ty::Charbuf, "Kubernetes namespace (from the io.kubernetes.* labels of the container)."),
];
