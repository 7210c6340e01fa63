//! Unit tests of event parsing: one or more per state transition.

use saker_abi::{Event, EventBuilder, EventType};
use saker_scap::{CaptureHeader, FdInfo, FdKind, ProcessInfo};

use super::t;
use crate::{FdType, Limits, Runtime, State, thread_flags};

const BASH: i64 = 100;
const CID: &str = "3f1c3e5b4a6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

fn file(fd: i64, name: &str, flags: u32) -> FdInfo {
    FdInfo { fd, ino: 0, kind: FdKind::File { open_flags: flags, name: name.as_bytes().to_vec(), dev: None } }
}

/// A state with `bash` (tid/pid 100) in /home/u with a terminal on 0-2 and
/// /etc/passwd (close-on-exec) on 5, and `init` (1) its parent.
fn state_with(limits: &Limits) -> State {
    let init =
        ProcessInfo { tid: 1, pid: 1, ptid: 0, comm: b"init".to_vec(), cwd: b"/".to_vec(), ..Default::default() };
    let bash = ProcessInfo {
        tid: 100,
        pid: 100,
        ptid: 1,
        comm: b"bash".to_vec(),
        exe: b"bash".to_vec(),
        exepath: b"/bin/bash".to_vec(),
        cwd: b"/home/u".to_vec(),
        uid: 1000,
        fds: vec![
            file(0, "/dev/pts/0", 3),
            file(1, "/dev/pts/0", 3),
            file(2, "/dev/pts/0", 3),
            file(5, "/etc/passwd", 1 | super::PPM_O_CLOEXEC),
        ],
        ..Default::default()
    };
    let header = CaptureHeader { processes: vec![init, bash], ..Default::default() };
    State::from_capture(&header, limits)
}

fn state() -> State {
    state_with(&Limits::default())
}

struct Ev {
    buf: Vec<u8>,
}

/// Builds and applies one event: `params` writes its parameters.
fn apply(s: &mut State, tid: i64, ty: u16, np: Option<usize>, params: impl FnOnce(&mut EventBuilder<'_>)) {
    let mut e = Ev { buf: Vec::new() };
    {
        let mut b = match np {
            Some(n) => EventBuilder::with_nparams(&mut e.buf, 1_000, tid as u64, EventType(ty), n),
            None => EventBuilder::new(&mut e.buf, 1_000, tid as u64, EventType(ty)),
        };
        params(&mut b);
        b.finish();
    }
    s.apply(&Event::parse(&e.buf).unwrap(), 0);
}

/// An event nobody cares about, to let scheduled removals happen.
fn tick(s: &mut State) {
    apply(s, 1, 202, None, |_| {});
}

fn name(s: &State, tid: i64, fd: i64) -> Option<String> {
    s.fd(tid, fd).map(|f| String::from_utf8(f.name.to_vec()).unwrap())
}

fn comm(s: &State, tid: i64) -> Option<String> {
    s.thread(tid).map(|t| String::from_utf8(t.comm().to_vec()).unwrap())
}

/// The vpid a caller reports: its own pid (`pid` is the child's for a
/// process clone, the caller's for a thread clone; both are outside any pid
/// namespace here, so the value only needs to be positive).
fn ptid_pid(tid: i64, _pid: i64) -> i64 {
    tid
}

/// A clone_20 exit with the usual fields (no pid namespace: vtid = tid).
fn clone20(s: &mut State, tid: i64, res: i64, pid: i64, ptid: i64, flags: u64, cgroups: &[u8]) {
    apply(s, tid, t::CLONE_20_X, None, |b| {
        b.param_i64(res)
            .param_str(b"bash")
            .param_raw(b"-c\0ls\0")
            .param_i64(tid)
            .param_i64(pid)
            .param_i64(ptid)
            .param_str(b"")
            .param_i64(1024)
            .param_u64(0)
            .param_u64(0)
            .param_u64(100)
            .param_u64(10)
            .param_u64(0)
            .param_str(b"bash")
            .param_raw(cgroups)
            .param_u64(flags)
            .param_u64(1000)
            .param_u64(1000)
            .param_i64(tid)
            .param_i64(if res == 0 { pid } else { ptid_pid(tid, pid) });
    });
}

fn open_x(s: &mut State, tid: i64, fd: i64, path: &str, flags: u64) {
    apply(s, tid, t::OPEN_X, None, |b| {
        b.param_i64(fd).param_str(path.as_bytes()).param_u64(flags).param_u64(0).param_u64(0).param_u64(0);
    });
}

#[test]
fn capture_snapshot() {
    let s = state();
    assert_eq!(comm(&s, BASH).as_deref(), Some("bash"));
    assert_eq!(s.cwd(BASH), Some(&b"/home/u/"[..]));
    assert_eq!(name(&s, BASH, 5).as_deref(), Some("/etc/passwd"));
    assert_eq!(s.fd(BASH, 5).unwrap().typechar(), b'f');
    assert!(s.fd(BASH, 5).unwrap().is_cloexec());
    assert_eq!(s.ancestors(BASH).map(|t| t.tid).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn unknown_threads_get_placeholders() {
    let mut s = state();
    apply(&mut s, 777, 202, None, |_| {});
    assert_eq!(comm(&s, 777).as_deref(), Some("<NA>"));
    assert_eq!(s.thread(777).unwrap().uid, u32::MAX);
    assert_eq!(s.counters().threads_repaired, 1);
    // Clone exits and procexit never create threads.
    apply(&mut s, 778, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    assert!(s.thread(778).is_none());
}

#[test]
fn fork_copies_process_data() {
    let mut s = state();
    clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
    let c = s.thread(200).unwrap();
    assert_eq!((c.pid, c.ptid, c.uid), (200, BASH, 1000));
    assert_eq!(comm(&s, 200).as_deref(), Some("bash"));
    assert_eq!(&*c.info.exepath, b"/bin/bash");
    assert_eq!(s.cwd(200), Some(&b"/home/u/"[..]));
    assert_eq!(name(&s, 200, 0).as_deref(), Some("/dev/pts/0"));
    // The fd names are shared, not copied.
    assert!(std::sync::Arc::ptr_eq(&s.fd(200, 0).unwrap().name, &s.fd(BASH, 0).unwrap().name));
    // The child's own clone exit (res 0) changes nothing.
    clone20(&mut s, 200, 0, 200, BASH, 0, b"");
    assert_eq!(s.thread_count(), 3);
}

#[test]
fn threads_share_the_main_threads_fds_and_cwd() {
    let mut s = state();
    clone20(&mut s, BASH, 101, BASH, 1, thread_flags::CLONE_THREAD as u64, b"");
    assert_eq!(s.thread(101).unwrap().pid, BASH);
    open_x(&mut s, 101, 7, "notes.txt", 1);
    assert_eq!(name(&s, BASH, 7).as_deref(), Some("/home/u/notes.txt"));
    assert_eq!(name(&s, 101, 7).as_deref(), Some("/home/u/notes.txt"));
}

#[test]
fn child_clone_first_creates_the_thread() {
    let mut s = state();
    // The child's return comes before the parent's.
    clone20(&mut s, 300, 0, 300, BASH, 0, b"");
    let c = s.thread(300).unwrap();
    assert_eq!((c.pid, c.ptid), (300, BASH));
    assert!(c.flags & thread_flags::CLONE_INVERTED != 0);
    assert_eq!(name(&s, 300, 1).as_deref(), Some("/dev/pts/0"));
    // The parent's return then leaves it alone.
    clone20(&mut s, BASH, 300, BASH, 1, 0, b"");
    assert!(s.thread(300).unwrap().flags & thread_flags::CLONE_INVERTED != 0);
}

/// runc's init stages: 200 (bash's child) clones 300 with CLONE_PARENT,
/// whose parent is then bash. Whichever of the two clone exits comes first
/// (they run on two CPUs), 300's parent is the one the kernel gave it.
#[test]
fn clone_parent_children_take_the_kernels_parent_in_either_order() {
    for child_first in [false, true] {
        let mut s = state();
        clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
        let flags = thread_flags::CLONE_PARENT as u64;
        if child_first {
            clone20(&mut s, 300, 0, 300, BASH, flags, b"");
            clone20(&mut s, 200, 300, 200, BASH, flags, b"");
        } else {
            clone20(&mut s, 200, 300, 200, BASH, flags, b"");
            // The caller's event leaves the child to the child's own.
            assert!(s.thread(300).is_none(), "child first: {child_first}");
            clone20(&mut s, 300, 0, 300, BASH, flags, b"");
        }
        assert_eq!(ppid_of(&s, 300), BASH, "child first: {child_first}");
    }
}

#[test]
fn a_parents_late_clone_exit_does_not_bring_back_an_exited_child() {
    let mut s = state();
    let before = s.thread_count();
    // The child returns from fork, runs and exits on another CPU before its
    // parent returns from fork.
    clone20(&mut s, 300, 0, 300, BASH, 0, b"");
    apply(&mut s, 300, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    assert!(s.thread(300).is_none());
    clone20(&mut s, BASH, 300, BASH, 1, 0, b"");
    tick(&mut s);
    assert!(s.thread(300).is_none(), "the late parent event recreated the exited child");
    assert_eq!(s.thread_count(), before);
    // The tid, reused by a later child in the usual order, is created.
    clone20(&mut s, BASH, 300, BASH, 1, 0, b"");
    assert!(s.thread(300).is_some());
}

#[test]
fn a_child_whose_parent_event_came_is_not_remembered_at_exit() {
    let mut s = state();
    clone20(&mut s, 300, 0, 300, BASH, 0, b"");
    clone20(&mut s, BASH, 300, BASH, 1, 0, b"");
    apply(&mut s, 300, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    assert!(s.thread(300).is_none());
    // A new child with the same tid, parent's event first, is created.
    clone20(&mut s, BASH, 300, BASH, 1, 0, b"");
    assert!(s.thread(300).is_some());
}

fn execve19(s: &mut State, tid: i64, filename: &str, exe: &str, comm: &str, cgroups: &[u8]) {
    apply(s, tid, t::EXECVE_19_E, None, |b| {
        b.param_str(filename.as_bytes());
    });
    apply(s, tid, t::EXECVE_19_X, Some(20), |b| {
        b.param_i64(0)
            .param_str(exe.as_bytes())
            .param_raw(b"-l\0")
            .param_i64(tid)
            .param_i64(tid)
            .param_i64(1)
            .param_str(b"")
            .param_u64(1024)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_str(comm.as_bytes())
            .param_raw(cgroups)
            .param_raw(b"HOME=/root\0")
            .param_u64(0)
            .param_i64(tid)
            .param_u64(1000)
            .param_u64(0);
    });
}

#[test]
fn execve_changes_the_image_and_closes_cloexec_fds() {
    let mut s = state();
    execve19(&mut s, BASH, "bin/ls", "ls", "ls", b"");
    let t = s.thread(BASH).unwrap();
    assert_eq!(comm(&s, BASH).as_deref(), Some("ls"));
    assert_eq!(&*t.info.exe, b"ls");
    assert_eq!(&*t.info.args, b"-l\0");
    assert_eq!(&*t.info.exepath, b"/home/u/bin/ls");
    assert_eq!(t.loginuid, 1000);
    assert!(s.fd(BASH, 5).is_none(), "O_CLOEXEC fd survived execve");
    assert!(s.fd(BASH, 0).is_some());
}

#[test]
fn procexit_purges_at_the_next_event() {
    let mut s = state();
    clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
    apply(&mut s, 200, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    // The exit event itself still sees the thread.
    assert!(s.thread(200).is_some());
    tick(&mut s);
    assert!(s.thread(200).is_none());
    assert_eq!(s.counters().threads_removed, 1);
}

#[test]
fn exited_main_thread_waits_for_its_threads() {
    let mut s = state();
    clone20(&mut s, BASH, 101, BASH, 1, thread_flags::CLONE_THREAD as u64, b"");
    apply(&mut s, BASH, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    // Still there: thread 101 uses its fd table.
    assert!(s.thread(BASH).is_some());
    assert_eq!(name(&s, 101, 0).as_deref(), Some("/dev/pts/0"));
    apply(&mut s, 101, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    assert!(s.thread(101).is_none());
    assert!(s.thread(BASH).is_none());
}

#[test]
fn open_resolves_relative_paths() {
    let mut s = state();
    open_x(&mut s, BASH, 3, "../v/./f.txt", 1);
    assert_eq!(name(&s, BASH, 3).as_deref(), Some("/home/v/f.txt"));
    open_x(&mut s, BASH, 4, "/etc//hosts", 1);
    assert_eq!(name(&s, BASH, 4).as_deref(), Some("/etc/hosts"));
    // The path as given stays beside the absolute name (fd.nameraw).
    assert_eq!(&*s.fd(BASH, 3).unwrap().name_raw, b"../v/./f.txt");
    assert_eq!(&*s.fd(BASH, 4).unwrap().name_raw, b"/etc//hosts");
    open_x(&mut s, BASH, 7, "/etc/hosts", 1);
    let f = s.fd(BASH, 7).unwrap();
    assert!(std::sync::Arc::ptr_eq(&f.name, &f.name_raw), "a clean absolute path is not stored twice");
    // O_DIRECTORY makes a directory.
    open_x(&mut s, BASH, 6, "/tmp", 1 | super::PPM_O_DIRECTORY as u64);
    assert_eq!(s.fd(BASH, 6).unwrap().ty, FdType::Directory);
    // openat relative to a directory fd, and to the cwd.
    apply(&mut s, BASH, t::OPENAT_2_X, None, |b| {
        b.param_i64(8).param_i64(6).param_str(b"x/y").param_u64(1).param_u64(0).param_u64(0).param_u64(0);
    });
    assert_eq!(name(&s, BASH, 8).as_deref(), Some("/tmp/x/y"));
    apply(&mut s, BASH, t::OPENAT_2_X, None, |b| {
        b.param_i64(9).param_i64(-100).param_str(b"z").param_u64(1).param_u64(0).param_u64(0).param_u64(0);
    });
    assert_eq!(name(&s, BASH, 9).as_deref(), Some("/home/u/z"));
    // A failed open adds nothing.
    open_x(&mut s, BASH, -2, "nope", 1);
    assert_eq!(s.fds(BASH).unwrap().len(), 10);
}

#[test]
fn old_open_takes_the_name_from_the_enter_event() {
    let mut s = state();
    apply(&mut s, BASH, t::OPEN_E, None, |b| {
        b.param_str(b"a.txt").param_u64(1).param_u64(0);
    });
    apply(&mut s, BASH, t::OPEN_X, Some(4), |b| {
        b.param_i64(3).param_str(b"b.txt").param_u64(1).param_u64(0);
    });
    assert_eq!(name(&s, BASH, 3).as_deref(), Some("/home/u/a.txt"));
    // Old openat: everything but the fd is in the enter event.
    apply(&mut s, BASH, t::OPENAT_E, None, |b| {
        b.param_i64(-100).param_str(b"c.txt").param_u64(1).param_u64(0);
    });
    apply(&mut s, BASH, t::OPENAT_X, None, |b| {
        b.param_i64(4);
    });
    assert_eq!(name(&s, BASH, 4).as_deref(), Some("/home/u/c.txt"));
}

#[test]
fn chdir_changes_the_base_of_relative_paths() {
    let mut s = state();
    apply(&mut s, BASH, t::CHDIR_X, None, |b| {
        b.param_i64(0).param_str(b"../w");
    });
    assert_eq!(s.cwd(BASH), Some(&b"/home/w/"[..]));
    open_x(&mut s, BASH, 3, "f", 1);
    assert_eq!(name(&s, BASH, 3).as_deref(), Some("/home/w/f"));
    // fchdir to a directory fd.
    open_x(&mut s, BASH, 4, "/var/log", 1 | super::PPM_O_DIRECTORY as u64);
    apply(&mut s, BASH, t::FCHDIR_X, None, |b| {
        b.param_i64(0).param_i64(4);
    });
    assert_eq!(s.cwd(BASH), Some(&b"/var/log/"[..]));
}

#[test]
fn close_old_and_new_versions() {
    let mut s = state();
    // Old: the fd is in the enter event only.
    apply(&mut s, BASH, t::CLOSE_E, None, |b| {
        b.param_i64(5);
    });
    apply(&mut s, BASH, t::CLOSE_X, Some(1), |b| {
        b.param_i64(0);
    });
    // Still visible while rendering the close exit.
    assert!(s.fd(BASH, 5).is_some());
    tick(&mut s);
    assert!(s.fd(BASH, 5).is_none());
    // Current: exit-only with the fd.
    apply(&mut s, BASH, t::CLOSE_X, None, |b| {
        b.param_i64(0).param_i64(2);
    });
    tick(&mut s);
    assert!(s.fd(BASH, 2).is_none());
    // A failed close keeps the fd.
    apply(&mut s, BASH, t::CLOSE_X, None, |b| {
        b.param_i64(-9).param_i64(1);
    });
    tick(&mut s);
    assert!(s.fd(BASH, 1).is_some());
    // An old exit without its enter event does nothing.
    apply(&mut s, BASH, t::CLOSE_X, Some(1), |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    assert!(s.fd(BASH, 1).is_some());
}

#[test]
fn close_canceled_by_a_new_fd() {
    let mut s = state();
    apply(&mut s, BASH, t::CLOSE_E, None, |b| {
        b.param_i64(5);
    });
    // Another thread opens fd 5 before the close returns.
    open_x(&mut s, BASH, 5, "/new", 1);
    apply(&mut s, BASH, t::CLOSE_E, None, |b| {
        b.param_i64(5);
    });
    apply(&mut s, BASH, t::CLOSE_X, Some(1), |b| {
        b.param_i64(0);
    });
    tick(&mut s);
    assert_eq!(name(&s, BASH, 5), None);
}

#[test]
fn dup_and_fcntl_dupfd() {
    let mut s = state();
    apply(&mut s, BASH, t::DUP2_X, None, |b| {
        b.param_i64(9).param_i64(5).param_i64(9);
    });
    assert_eq!(name(&s, BASH, 9).as_deref(), Some("/etc/passwd"));
    assert!(!s.fd(BASH, 9).unwrap().is_cloexec(), "dup2 clears FD_CLOEXEC");
    apply(&mut s, BASH, t::DUP3_X, None, |b| {
        b.param_i64(10).param_i64(0).param_i64(10).param_u64(super::PPM_O_CLOEXEC as u64);
    });
    assert!(s.fd(BASH, 10).unwrap().is_cloexec());
    // Old dup: the old fd comes from the enter event.
    apply(&mut s, BASH, 124, None, |b| {
        b.param_i64(1);
    });
    apply(&mut s, BASH, t::DUP_X, None, |b| {
        b.param_i64(11);
    });
    assert_eq!(name(&s, BASH, 11).as_deref(), Some("/dev/pts/0"));
    // fcntl(F_DUPFD_CLOEXEC), old (enter + exit) and current (exit only).
    apply(&mut s, BASH, t::FCNTL_E, None, |b| {
        b.param_i64(0).param_u64(26);
    });
    apply(&mut s, BASH, t::FCNTL_X, Some(1), |b| {
        b.param_i64(12);
    });
    assert!(s.fd(BASH, 12).unwrap().is_cloexec());
    apply(&mut s, BASH, t::FCNTL_X, None, |b| {
        b.param_i64(13).param_i64(0).param_u64(1).param_u64(0);
    });
    assert_eq!(name(&s, BASH, 13).as_deref(), Some("/dev/pts/0"));
    // F_GETFL does not create an fd.
    apply(&mut s, BASH, t::FCNTL_X, None, |b| {
        b.param_i64(14).param_i64(0).param_u64(4).param_u64(0);
    });
    assert!(s.fd(BASH, 14).is_none());
}

#[test]
fn pipes_and_socketpairs() {
    let mut s = state();
    apply(&mut s, BASH, t::PIPE2_X, None, |b| {
        b.param_i64(0).param_i64(3).param_i64(4).param_u64(4242).param_u64(super::PPM_O_CLOEXEC as u64);
    });
    let (a, b) = (s.fd(BASH, 3).unwrap(), s.fd(BASH, 4).unwrap());
    assert_eq!((a.ty, b.ty, a.ino), (FdType::Fifo, FdType::Fifo, 4242));
    assert!(a.is_cloexec());
    apply(&mut s, BASH, t::SOCKETPAIR_X, None, |b| {
        b.param_i64(0).param_i64(6).param_i64(7).param_u64(0xaa).param_u64(0xbb);
    });
    assert_eq!(s.fd(BASH, 7).unwrap().ty, FdType::UnixSocket);
    assert_eq!(s.fd(BASH, 7).unwrap().sock.unix_dst(), 0xbb);
}

fn inet_tuple(sip: [u8; 4], sport: u16, dip: [u8; 4], dport: u16) -> Vec<u8> {
    let mut v = vec![2];
    v.extend_from_slice(&sip);
    v.extend_from_slice(&sport.to_le_bytes());
    v.extend_from_slice(&dip);
    v.extend_from_slice(&dport.to_le_bytes());
    v
}

#[test]
fn socket_then_connect() {
    let mut s = state();
    // Old socket: the arguments are in the enter event.
    apply(&mut s, BASH, t::SOCKET_E, None, |b| {
        b.param_u64(2).param_u64(1).param_u64(0);
    });
    apply(&mut s, BASH, t::SOCKET_X, Some(1), |b| {
        b.param_i64(3);
    });
    let f = s.fd(BASH, 3).unwrap();
    assert_eq!((f.ty, f.l4char()), (FdType::Ipv4Socket, None), "no protocol letter before a role");
    apply(&mut s, BASH, t::CONNECT_X, None, |b| {
        b.param_i64(0).param_raw(&inet_tuple([10, 0, 0, 1], 40000, [1, 2, 3, 4], 80)).param_i64(3);
    });
    let f = s.fd(BASH, 3).unwrap();
    assert_eq!(&*f.name, b"10.0.0.1:40000->1.2.3.4:80");
    assert_eq!(f.l4char(), Some(b't'));
    assert!(f.is_role_client());
    // Current socket exit with everything, close-on-exec.
    apply(&mut s, BASH, t::SOCKET_X, None, |b| {
        b.param_i64(4).param_u64(10).param_u64(2 | super::SOCK_CLOEXEC).param_u64(0).param_u64(0);
    });
    let f = s.fd(BASH, 4).unwrap();
    assert_eq!(f.ty, FdType::Ipv6Socket);
    assert!(f.is_cloexec());
    // A failed connect changes nothing.
    apply(&mut s, BASH, t::CONNECT_X, None, |b| {
        b.param_i64(-111).param_raw(&inet_tuple([10, 0, 0, 1], 1, [9, 9, 9, 9], 2)).param_i64(4);
    });
    assert!(s.fd(BASH, 4).unwrap().name.is_empty());
}

#[test]
fn bind_and_accept() {
    let mut s = state();
    apply(&mut s, BASH, t::SOCKET_X, None, |b| {
        b.param_i64(3).param_u64(2).param_u64(1).param_u64(6).param_u64(0);
    });
    let mut addr = vec![2, 0, 0, 0, 0];
    addr.extend_from_slice(&8080u16.to_le_bytes());
    apply(&mut s, BASH, t::BIND_X, None, |b| {
        b.param_i64(0).param_raw(&addr).param_i64(3);
    });
    let f = s.fd(BASH, 3).unwrap();
    assert_eq!((f.ty, &*f.name, f.l4char()), (FdType::Ipv4Server, &b"0.0.0.0:8080"[..], Some(b't')));
    apply(&mut s, BASH, t::ACCEPT4_6_X, None, |b| {
        b.param_i64(4)
            .param_raw(&inet_tuple([1, 1, 1, 1], 5555, [2, 2, 2, 2], 8080))
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_i64(super::SOCK_CLOEXEC as i64);
    });
    let f = s.fd(BASH, 4).unwrap();
    assert_eq!(&*f.name, b"1.1.1.1:5555->2.2.2.2:8080");
    assert!(f.is_role_server() && f.is_cloexec());
    assert_eq!(f.l4char(), Some(b't'));
}

#[test]
fn datagrams_name_udp_sockets() {
    let mut s = state();
    apply(&mut s, BASH, t::SOCKET_X, None, |b| {
        b.param_i64(3).param_u64(2).param_u64(2).param_u64(0).param_u64(0);
    });
    apply(&mut s, BASH, t::SENDTO_X, None, |b| {
        b.param_i64(10).param_raw(b"hello").param_i64(3).param_u64(10).param_raw(&inet_tuple(
            [10, 0, 0, 2],
            5353,
            [8, 8, 8, 8],
            53,
        ));
    });
    let f = s.fd(BASH, 3).unwrap();
    assert_eq!(&*f.name, b"10.0.0.2:5353->8.8.8.8:53");
    assert_eq!(f.l4char(), Some(b'u'));
}

#[test]
fn event_fds_of_every_kind() {
    let mut s = state();
    let cases = [
        (t::EVENTFD2_X, FdType::Event, b'e'),
        (t::SIGNALFD4_X, FdType::Signalfd, b's'),
        (t::TIMERFD_CREATE_X, FdType::Timerfd, b't'),
        (t::INOTIFY_INIT1_X, FdType::Inotify, b'i'),
        (t::EPOLL_CREATE1_X, FdType::Eventpoll, b'l'),
        (t::BPF_2_X, FdType::Bpf, b'b'),
        (t::USERFAULTFD_X, FdType::Userfaultfd, b'u'),
        (t::IO_URING_SETUP_X, FdType::IoUring, b'r'),
    ];
    for (i, (ty, fdt, c)) in cases.into_iter().enumerate() {
        let fd = 20 + i as i64;
        apply(&mut s, BASH, ty, None, |b| {
            b.param_i64(fd);
        });
        let f = s.fd(BASH, fd).unwrap_or_else(|| panic!("no fd for event {ty}"));
        assert_eq!((f.ty, f.typechar()), (fdt, c));
    }
    apply(&mut s, BASH, t::MEMFD_CREATE_X, None, |b| {
        b.param_i64(40).param_str(b"jit").param_u64(1);
    });
    let f = s.fd(BASH, 40).unwrap();
    assert_eq!((f.ty, &*f.name, f.is_cloexec()), (FdType::Memfd, &b"memfd:jit"[..], true));
    apply(&mut s, BASH, t::PIDFD_OPEN_X, None, |b| {
        b.param_i64(41).param_i64(1).param_u64(0);
    });
    assert_eq!(s.fd(BASH, 41).unwrap().ty, FdType::Pidfd);
    // pidfd_getfd copies init's fd... which has none: nothing added.
    apply(&mut s, BASH, t::PIDFD_GETFD_X, None, |b| {
        b.param_i64(42).param_i64(41).param_i64(0).param_u64(0);
    });
    assert!(s.fd(BASH, 42).is_none());
}

#[test]
fn containers_from_cgroups_and_events() {
    let mut s = state();
    let cg = format!("cpuset=/docker/{CID}\0");
    clone20(&mut s, BASH, 200, BASH, 1, 0, cg.as_bytes());
    let c = s.container(200).unwrap();
    assert_eq!((&*c.id, c.runtime), (&CID.as_bytes()[..12], Runtime::Docker));
    assert!(c.name.is_empty());
    assert_eq!(&*s.container(BASH).unwrap().id, b"host");
    // A container event gives the name, and names the event's pseudo-thread.
    let json = format!(r#"{{"container":{{"id":"{}","name":"web","image":"nginx","type":0}}}}"#, &CID[..12]);
    apply(&mut s, -1, t::CONTAINER_JSON_E, None, |b| {
        b.param_str(json.as_bytes());
    });
    assert_eq!(comm(&s, -1).as_deref(), Some(&*format!("container:{}", &CID[..12])));
    assert_eq!(&*s.container(200).unwrap().name, b"web");
    tick(&mut s);
    assert!(s.thread(-1).is_none());
    // execve re-reads the cgroups.
    let other = CID.replace('3', "4");
    execve19(&mut s, BASH, "/bin/x", "x", "x", format!("cpu=/system.slice/crio-{other}.scope\0").as_bytes());
    assert_eq!(s.container(BASH).unwrap().runtime, Runtime::CriO);
}

#[test]
fn users_of_the_host_and_containers() {
    let mut s = state();
    apply(&mut s, -1, t::USER_ADDED_E, None, |b| {
        b.param_u64(0).param_u64(0).param_str(b"root").param_str(b"/root").param_str(b"/bin/sh").param_str(b"");
    });
    apply(&mut s, -1, t::USER_ADDED_E, None, |b| {
        b.param_u64(0)
            .param_u64(0)
            .param_str(b"admin")
            .param_str(b"/")
            .param_str(b"/bin/sh")
            .param_str(&CID.as_bytes()[..12]);
    });
    apply(&mut s, -1, t::GROUP_ADDED_E, None, |b| {
        b.param_u64(1000).param_str(b"users").param_str(b"");
    });
    assert_eq!(&*s.user(BASH, 0).unwrap().name, b"root");
    assert_eq!(&*s.group(BASH, 1000).unwrap().name, b"users");
    clone20(&mut s, BASH, 200, BASH, 1, 0, format!("cpuset=/docker/{CID}\0").as_bytes());
    assert_eq!(&*s.user(200, 0).unwrap().name, b"admin");
    // Unknown in the container: the host's.
    assert_eq!(&*s.group(200, 1000).unwrap().name, b"users");
    apply(&mut s, -1, t::USER_DELETED_E, None, |b| {
        b.param_u64(0).param_u64(0).param_str(b"admin").param_str(b"").param_str(b"").param_str(&CID.as_bytes()[..12]);
    });
    assert_eq!(&*s.user(200, 0).unwrap().name, b"root");
}

#[test]
fn setuid_and_rlimits() {
    let mut s = state();
    apply(&mut s, BASH, t::SETUID_X, None, |b| {
        b.param_i64(0).param_u64(0);
    });
    assert_eq!(s.thread(BASH).unwrap().uid, 0);
    apply(&mut s, BASH, t::SETRESGID_E, None, |b| {
        b.param_u64(u32::MAX as u64).param_u64(50).param_u64(u32::MAX as u64);
    });
    apply(&mut s, BASH, t::SETRESGID_X, Some(1), |b| {
        b.param_i64(0);
    });
    assert_eq!(s.thread(BASH).unwrap().gid, 50);
    apply(&mut s, BASH, t::PRLIMIT_X, None, |b| {
        b.param_i64(0).param_i64(4096).param_i64(8192).param_i64(1024).param_i64(1024).param_i64(0).param_u64(7);
    });
    assert_eq!(s.thread(BASH).unwrap().fdlimit, 4096);
}

#[test]
fn limits_are_counted_not_fatal() {
    let limits = Limits { max_threads: 3, max_fds_per_process: 5, ..Limits::default() };
    let mut s = state_with(&limits);
    clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
    clone20(&mut s, BASH, 201, BASH, 1, 0, b"");
    apply(&mut s, 999, 202, None, |_| {});
    assert_eq!(s.thread_count(), 3);
    assert!(s.thread(201).is_none() && s.thread(999).is_none());
    assert_eq!(s.counters().thread_limit_hits, 2);
    open_x(&mut s, BASH, 10, "/a", 1);
    open_x(&mut s, BASH, 11, "/b", 1);
    assert_eq!(s.fds(BASH).unwrap().len(), 5);
    assert_eq!(s.counters().fd_limit_hits, 1);
    // Replacing an existing fd is always possible.
    open_x(&mut s, BASH, 10, "/c", 1);
    assert_eq!(name(&s, BASH, 10).as_deref(), Some("/c"));
}

#[test]
fn prctl_set_name_and_ancestors() {
    let mut s = state();
    clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
    apply(&mut s, 200, t::PRCTL_X, None, |b| {
        b.param_i64(0).param_u64(15).param_str(b"worker").param_i64(0);
    });
    assert_eq!(comm(&s, 200).as_deref(), Some("worker"));
    assert_eq!(comm(&s, BASH).as_deref(), Some("bash"));
    let names: Vec<_> = s.ancestors(200).map(|t| String::from_utf8(t.comm().to_vec()).unwrap()).collect();
    assert_eq!(names, ["bash", "init"]);
}

#[test]
fn state_can_move_to_another_thread() {
    fn is_send<T: Send + Sync>() {}
    is_send::<State>();
}

#[test]
fn capture_sockets_to_listening_ports_are_server_side() {
    let fds = vec![
        FdInfo { fd: 3, ino: 1, kind: FdKind::Ipv4Server { ip: [0, 0, 0, 0].into(), port: 22, l4proto: 2 } },
        FdInfo {
            fd: 4,
            ino: 2,
            kind: FdKind::Ipv4Socket {
                sip: [10, 0, 0, 5].into(),
                dip: [10, 0, 0, 9].into(),
                sport: 22,
                dport: 50000,
                l4proto: 2,
            },
        },
        FdInfo {
            fd: 5,
            ino: 3,
            kind: FdKind::Ipv4Socket {
                sip: [10, 0, 0, 5].into(),
                dip: [1, 1, 1, 1].into(),
                sport: 40000,
                dport: 443,
                l4proto: 2,
            },
        },
    ];
    let sshd = ProcessInfo { tid: 50, pid: 50, comm: b"sshd".to_vec(), fds, ..Default::default() };
    let s = State::from_capture(&CaptureHeader { processes: vec![sshd], ..Default::default() }, &Limits::default());
    assert_eq!(name(&s, 50, 3).as_deref(), Some("0.0.0.0:22"));
    let f = s.fd(50, 4).unwrap();
    assert_eq!(&*f.name, b"10.0.0.9:50000->10.0.0.5:22");
    assert!(f.is_role_server());
    let f = s.fd(50, 5).unwrap();
    assert_eq!(&*f.name, b"10.0.0.5:40000->1.1.1.1:443");
    assert!(f.is_role_client());
    assert_eq!(f.l4char(), Some(b't'));
}

#[test]
fn switch_updates_the_threads_faults_and_its_processs_memory() {
    let mut s = state();
    // A second thread of bash, by its clone exit in the child.
    clone20(&mut s, BASH, 101, BASH, 1, thread_flags::CLONE_THREAD as u64, b"");
    assert_eq!(s.thread(101).map(|t| t.pid), Some(BASH), "the clone made a thread of bash");
    // next, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap
    apply(&mut s, 101, t::SCHEDSWITCH_6_E, None, |b| {
        b.param_i64(0).param_u64(7).param_u64(70).param_u64(4000).param_u64(300).param_u64(2);
    });
    let th = s.thread(101).unwrap();
    assert_eq!((th.pfmajor, th.pfminor), (7, 70), "faults are the thread's");
    let main = s.thread(BASH).unwrap();
    assert_eq!((main.vmsize_kb, main.vmrss_kb, main.vmswap_kb), (4000, 300, 2), "memory is the process's");
    // A switch carrying fewer parameters (read through the table, not at
    // fixed offsets) changes only what it carries.
    apply(&mut s, 101, t::SCHEDSWITCH_6_E, Some(5), |b| {
        b.param_i64(0).param_u64(8).param_u64(80).param_u64(5000).param_u64(400);
    });
    assert_eq!((s.thread(101).unwrap().pfmajor, s.thread(101).unwrap().pfminor), (8, 80));
    let main = s.thread(BASH).unwrap();
    assert_eq!((main.vmsize_kb, main.vmrss_kb, main.vmswap_kb), (5000, 400, 2));
    // A switch of a thread nobody knows creates nothing.
    apply(&mut s, 4242, t::SCHEDSWITCH_6_E, None, |b| {
        b.param_i64(0).param_u64(1).param_u64(1).param_u64(1).param_u64(1).param_u64(1);
    });
    assert!(s.thread(4242).is_none());
}

/// procexit of `tid` naming `reaper` (0: none, as the modern probe writes).
fn procexit(s: &mut State, tid: i64, reaper: i64) {
    apply(s, tid, t::PROCEXIT_1_E, None, |b| {
        b.param_i64(0).param_i64(0).param_u64(0).param_u64(0).param_i64(reaper);
    });
}

fn ppid_of(s: &State, tid: i64) -> i64 {
    s.thread(tid).unwrap().ptid
}

/// bash (100) forks 200, which forks 300: the double fork of a daemon.
fn double_fork(s: &mut State) {
    clone20(s, BASH, 200, BASH, 1, 0, b"");
    clone20(s, 200, 300, 200, BASH, 0, b"");
    assert_eq!(ppid_of(s, 300), 200);
}

#[test]
fn orphans_go_to_init() {
    let mut s = state();
    double_fork(&mut s);
    procexit(&mut s, 200, 0);
    // Not before the thread leaves the table (the exit event still sees it).
    assert_eq!(ppid_of(&s, 300), 200);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 300), 1);
    assert_eq!(s.parent(300).map(|p| p.tid), Some(1));
    assert_eq!(s.ancestors(300).map(|t| t.tid).collect::<Vec<_>>(), vec![1]);
    assert_eq!(s.counters().threads_reparented, 1);
}

#[test]
fn orphans_go_to_the_reaper_the_event_names() {
    let mut s = state();
    double_fork(&mut s);
    procexit(&mut s, 200, BASH);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 300), BASH);
    assert_eq!(comm(&s, s.parent(300).unwrap().tid).as_deref(), Some("bash"));
}

#[test]
fn orphans_go_to_the_nearest_child_subreaper() {
    let mut s = state();
    // bash makes itself a subreaper (prctl(PR_SET_CHILD_SUBREAPER, 1)).
    apply(&mut s, BASH, t::PRCTL_X, None, |b| {
        b.param_i64(0).param_u64(36).param_empty().param_i64(1);
    });
    assert!(s.thread(BASH).unwrap().child_subreaper);
    double_fork(&mut s);
    // 300 forks 400 and exits too: 400 goes to bash, not to init.
    clone20(&mut s, 300, 400, 300, 200, 0, b"");
    procexit(&mut s, 200, 0);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 300), BASH);
    procexit(&mut s, 300, 0);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 400), BASH);
    // A subreaper that gives the role up no longer collects orphans.
    apply(&mut s, BASH, t::PRCTL_X, None, |b| {
        b.param_i64(0).param_u64(36).param_empty().param_i64(0);
    });
    clone20(&mut s, 400, 500, 400, BASH, 0, b"");
    clone20(&mut s, 500, 600, 500, 400, 0, b"");
    procexit(&mut s, 500, 0);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 600), 1);
    // A failed prctl changes nothing.
    apply(&mut s, 400, t::PRCTL_X, None, |b| {
        b.param_i64(-1).param_u64(36).param_empty().param_i64(1);
    });
    assert!(!s.thread(400).unwrap().child_subreaper);
}

#[test]
fn orphans_of_a_thread_go_to_a_live_thread_of_its_process() {
    let mut s = state();
    // bash has a second thread, 101, which forks 300 and exits.
    clone20(&mut s, BASH, 101, BASH, 1, thread_flags::CLONE_THREAD as u64, b"");
    clone20(&mut s, 101, 300, BASH, 1, 0, b"");
    assert_eq!(ppid_of(&s, 300), 101);
    procexit(&mut s, 101, 0);
    tick(&mut s);
    assert!(s.thread(101).is_none());
    assert_eq!(ppid_of(&s, 300), BASH);
}

#[test]
fn orphans_in_a_pid_namespace_go_to_its_init() {
    let mut s = state();
    // 200 is the init of a pid namespace (vpid 1); its child 300 forks 400
    // and exits.
    clone20(&mut s, BASH, 200, BASH, 1, 0, b"");
    clone20(&mut s, 200, 300, 200, BASH, 0, b"");
    clone20(&mut s, 300, 400, 300, 200, 0, b"");
    s.threads.get_mut(&200).unwrap().vpid = 1;
    s.threads.get_mut(&300).unwrap().vpid = 2;
    s.threads.get_mut(&400).unwrap().vpid = 3;
    procexit(&mut s, 300, 0);
    tick(&mut s);
    assert_eq!(ppid_of(&s, 400), 200);
}

/// An execveat exit of a memfd executable as the modern probe reports it
/// (exepath "/", the memfd flag).
fn memfd_exec_exit(s: &mut State) {
    apply(s, BASH, t::EXECVEAT_X, None, |b| {
        b.param_i64(0)
            .param_str(b"payload")
            .param_raw(b"")
            .param_i64(BASH)
            .param_i64(BASH)
            .param_i64(1)
            .param_str(b"")
            .param_u64(1024)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_str(b"7")
            .param_raw(b"")
            .param_raw(b"")
            .param_u64(0)
            .param_i64(BASH)
            .param_u64(1000)
            .param_u64(crate::exe_flags::FROM_MEMFD as u64)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_u64(0)
            .param_str(b"/")
            .param_i64(BASH)
            .param_u64(0);
    });
}

fn memfd(s: &mut State, fd: i64, name: &str) {
    apply(s, BASH, t::MEMFD_CREATE_X, None, |b| {
        b.param_i64(fd).param_str(name.as_bytes()).param_u64(0);
    });
}

#[test]
fn memfd_executables_are_named_as_libsinsp_names_them() {
    // fexecve: execveat(7, "", AT_EMPTY_PATH), with another memfd open.
    let mut s = state();
    memfd(&mut s, 7, "payload");
    memfd(&mut s, 8, "other");
    apply(&mut s, BASH, t::EXECVEAT_E, None, |b| {
        b.param_i64(7).param_str(b"").param_u64(1);
    });
    memfd_exec_exit(&mut s);
    let t = s.thread(BASH).unwrap();
    assert_eq!(&*t.info.exepath, b"memfd:payload");
    assert_ne!(t.exe_flags & crate::exe_flags::FROM_MEMFD, 0);
    // No enter event (the modern probe's): the sole memfd of the image.
    let mut s = state();
    memfd(&mut s, 8, "second");
    memfd_exec_exit(&mut s);
    assert_eq!(&*s.thread(BASH).unwrap().info.exepath, b"memfd:second");
    // Two memfds and nothing to tell which: the probe's path stays.
    let mut s = state();
    memfd(&mut s, 8, "a");
    memfd(&mut s, 9, "b");
    memfd_exec_exit(&mut s);
    assert_eq!(&*s.thread(BASH).unwrap().info.exepath, b"/");
    assert_eq!(super::proc_fd_path(b"/proc/self/fd/8", BASH), Some(8));
    assert_eq!(super::proc_fd_path(b"/proc/100/fd/12", BASH), Some(12));
    assert_eq!(super::proc_fd_path(b"/dev/fd/3", BASH), Some(3));
    assert_eq!(super::proc_fd_path(b"/proc/99/fd/3", BASH), None);
}

/// libsinsp's `m_lastevent_fd` after each event: what the `fd.*` fields of
/// an event show.
#[test]
fn event_fd_of_exits_with_and_without_their_enter() {
    let ev_fd = |s: &State| s.thread(BASH).unwrap().last_event_fd();
    let read_e = EventType::SYSCALL_READ_E.0;
    let read_x = EventType::SYSCALL_READ_X.0;
    // A read exit as captures written before exits carried their fd have it.
    let old_read_x = |s: &mut State| {
        apply(s, BASH, read_x, Some(2), |b| {
            b.param_i64(3).param_raw(b"ls\n");
        })
    };
    let mut s = state();
    // A capture that starts mid-call: no enter event, no fd in the exit.
    // sysdig 0.29.3's libsinsp keeps the fd the thread last named, 0 for a
    // thread it has just made.
    old_read_x(&mut s);
    assert_eq!(ev_fd(&s), 0);
    assert!(!s.thread(BASH).unwrap().last_event_valid());
    // ... which libsinsp does not attach to the event itself.
    assert!(!s.thread(BASH).unwrap().last_event_fd_attached());
    // With its enter event: the enter's fd.
    apply(&mut s, BASH, read_e, None, |b| {
        b.param_i64(5).param_u64(100);
    });
    assert_eq!(ev_fd(&s), 5);
    old_read_x(&mut s);
    assert_eq!((ev_fd(&s), s.thread(BASH).unwrap().last_event_valid()), (5, true));
    assert!(s.thread(BASH).unwrap().last_event_fd_attached());
    // An exit of another type, without its enter: still the last fd named.
    apply(&mut s, BASH, EventType::SYSCALL_WRITE_X.0, Some(2), |b| {
        b.param_i64(3).param_raw(b"ls\n");
    });
    assert_eq!((ev_fd(&s), s.thread(BASH).unwrap().last_event_valid()), (5, false));
    // A current exit carries its fd, which wins, and is attached even
    // without its enter event (current libsinsp).
    apply(&mut s, BASH, read_x, None, |b| {
        b.param_i64(3).param_raw(b"ls\n").param_i64(2).param_u64(100);
    });
    assert_eq!(ev_fd(&s), 2);
    apply(&mut s, BASH, EventType::SYSCALL_WRITE_X.0, None, |b| {
        b.param_i64(3).param_raw(b"ls\n").param_i64(1).param_u64(100);
    });
    assert_eq!(ev_fd(&s), 1);
    assert!(!s.thread(BASH).unwrap().last_event_valid());
    assert!(s.thread(BASH).unwrap().last_event_fd_attached());
    // An exit whose enter names no fd (setsockopt's has no parameters), in
    // the old format without the fd: -1, no fd.
    apply(&mut s, BASH, EventType::SOCKET_SETSOCKOPT_E.0, Some(0), |_| {});
    assert_eq!(ev_fd(&s), -1);
    apply(&mut s, BASH, EventType::SOCKET_SETSOCKOPT_X.0, Some(0), |_| {});
    assert_eq!((ev_fd(&s), s.thread(BASH).unwrap().last_event_valid()), (-1, true));
    // ... and in the current one: the exit's fd.
    apply(&mut s, BASH, EventType::SOCKET_SETSOCKOPT_E.0, Some(0), |_| {});
    apply(&mut s, BASH, EventType::SOCKET_SETSOCKOPT_X.0, None, |b| {
        b.param_i64(0).param_i64(1).param_u64(1).param_u64(2).param_raw(&[0; 4]).param_u64(4);
    });
    assert_eq!(ev_fd(&s), 1);
    // An exit without its enter whose event type gives it no fd of its own
    // (sendfile names two): the last fd named is not trusted.
    assert_eq!(ev_fd(&s), 1);
    apply(&mut s, BASH, EventType::SYSCALL_SENDFILE_X.0, Some(2), |b| {
        b.param_i64(10).param_u64(0);
    });
    assert_eq!(ev_fd(&s), -1);
    // A created fd is the event's.
    open_x(&mut s, BASH, 7, "/tmp/a", 1);
    assert_eq!(ev_fd(&s), 7);
}
