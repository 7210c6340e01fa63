//! Syscall coverage: which syscalls have a program of their own (full
//! parameters) rather than a generic event, checked against Falco's modern
//! probe so coverage cannot shrink silently; and the values of the syscalls
//! added to reach it (keyctl, quotactl), each made by a forked child with
//! unique values and every parameter asserted.
//!
//! Runs as root on the real kernel; prints SKIP otherwise.

mod common;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::time::Duration;

use common::*;
use saker_abi::{EventType as T, Value};
use saker_modern_bpf::{Config, ModernBpf, SYSCALLS};

/// The syscalls Falco's modern probe (falcosecurity/libs
/// `driver/modern_bpf/programs/tail_called/events/syscall_dispatched_events`)
/// gives a dedicated exit filler: 157 names.
const FALCO_MODERN_BPF: [&str; 157] = [
    "accept",
    "accept4",
    "access",
    "bind",
    "bpf",
    "brk",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chroot",
    "clone",
    "clone3",
    "close",
    "connect",
    "copy_file_range",
    "creat",
    "delete_module",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "finit_module",
    "flock",
    "fork",
    "fsconfig",
    "fstat",
    "futex",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getpeername",
    "getresgid",
    "getresuid",
    "getrlimit",
    "getsockname",
    "getsockopt",
    "getuid",
    "init_module",
    "inotify_init",
    "inotify_init1",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "kill",
    "lchown",
    "link",
    "linkat",
    "listen",
    "llseek",
    "lseek",
    "lstat",
    "memfd_create",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mount",
    "mprotect",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "open_by_handle_at",
    "openat",
    "openat2",
    "pidfd_getfd",
    "pidfd_open",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "prlimit64",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "pwrite64",
    "pwritev",
    "quotactl",
    "read",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "send",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setgid",
    "setns",
    "setpgid",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "shutdown",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "splice",
    "stat",
    "symlink",
    "symlinkat",
    "tgkill",
    "timerfd_create",
    "tkill",
    "umount",
    "umount2",
    "unlink",
    "unlinkat",
    "unshare",
    "userfaultfd",
    "vfork",
    "write",
    "writev",
];

/// Falco's names that are no x86_64 syscall: i386 (and socketcall) ones its
/// probe handles for 32-bit processes, which saker does not trace.
const NOT_X86_64: [&str; 5] = ["llseek", "mmap2", "recv", "send", "umount"];

/// The fewest syscalls with programs of their own: Falco's x86_64 ones (152),
/// plus close_range and keyctl (newer than Falco's list above). Raise it when
/// a syscall gets a program.
const MIN_FULL: usize = 154;

#[test]
fn full_programs_cover_falcos_syscalls() {
    if !can_run("full_programs_cover_falcos_syscalls") {
        return;
    }
    let probe = ModernBpf::open(Config::default()).expect("open the probe");
    let full: BTreeSet<&str> = probe.full_syscalls().iter().copied().collect();
    eprintln!(
        "{} syscalls with programs of their own: {}",
        full.len(),
        full.iter().copied().collect::<Vec<_>>().join(" ")
    );

    for name in FALCO_MODERN_BPF {
        let native = SYSCALLS.iter().any(|s| s.name == name);
        assert_eq!(native, !NOT_X86_64.contains(&name), "{name}: x86_64 syscall or not");
        if native {
            assert!(full.contains(name), "{name} has a dedicated program in Falco's modern probe, none here");
        }
    }
    // The syscall table and the programs agree: a syscall has a program
    // exactly when the table names a full exit event for it.
    let table: BTreeSet<&str> = SYSCALLS.iter().filter(|s| s.exit_event != T::GENERIC_X).map(|s| s.name).collect();
    assert_eq!(full, table, "programs vs syscalls_x86_64.tsv exit events");
    assert!(full.len() >= MIN_FULL, "{} syscalls with programs, fewer than {MIN_FULL}", full.len());
}

/// What the child reports back through shared memory (no syscalls needed).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Report {
    res: [i64; 8],
    done: u64,
}

/// The result as the kernel returned it: -errno on failure.
fn raw(ret: libc::c_long) -> i64 {
    if ret == -1 {
        // SAFETY: errno of this thread.
        -(unsafe { *libc::__errno_location() } as i64)
    } else {
        ret
    }
}

fn dyn_int(e: &saker_abi::Event<'_>, i: usize) -> i64 {
    match value(e, i) {
        Value::Dyn(0, b) => i64::from_le_bytes(b.try_into().unwrap_or_else(|_| panic!("{e:?}: param {i} size"))),
        other => panic!("{e:?}: param {i} is {other:?}, not a KEYCTL_IDX_INT64"),
    }
}

fn dyn_str(e: &saker_abi::Event<'_>, i: usize) -> String {
    match value(e, i) {
        Value::Dyn(1, b) => String::from_utf8_lossy(b.strip_suffix(b"\0").unwrap_or(b)).into_owned(),
        other => panic!("{e:?}: param {i} is {other:?}, not a KEYCTL_IDX_CHARBUF"),
    }
}

const KEYCTL_SET_TIMEOUT: libc::c_long = 15;
const KEYCTL_SEARCH: libc::c_long = 10;
const KEY_SPEC_USER_KEYRING: libc::c_long = -4;

const Q_QUOTAON: u32 = 0x800002;
const Q_SETINFO: u32 = 0x800006;
const Q_SETQUOTA: u32 = 0x800008;
const QFMT_VFS_V0: libc::c_long = 2;
const QIF_BLIMITS: u32 = 1;
const QIF_ITIME: u32 = 32;
const IIF_BGRACE: u32 = 1;
const IIF_FLAGS: u32 = 4;

fn qcmd(cmd: u32, ty: u32) -> libc::c_long {
    ((cmd << 8) | (ty & 0xff)) as i32 as libc::c_long
}

/// struct if_dqblk (uapi linux/quota.h).
#[repr(C)]
#[derive(Default)]
struct IfDqblk {
    bhardlimit: u64,
    bsoftlimit: u64,
    curspace: u64,
    ihardlimit: u64,
    isoftlimit: u64,
    curinodes: u64,
    btime: u64,
    itime: u64,
    valid: u32,
}

/// struct if_dqinfo (uapi linux/quota.h).
#[repr(C)]
#[derive(Default)]
struct IfDqinfo {
    bgrace: u64,
    igrace: u64,
    flags: u32,
    valid: u32,
}

#[test]
fn keyctl_and_quotactl_values() {
    if !can_run("keyctl_and_quotactl_values") {
        return;
    }
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    );
    let names = ["keyctl", "quotactl"];
    let config = Config { syscalls: Some(names.iter().map(|s| s.to_string()).collect()), ..Config::default() };
    let mut probe = ModernBpf::open(config).expect("open the probe");

    // Everything the child needs, prepared before fork (no allocation after).
    let key_serial: libc::c_long = 0x7ead_0000 + (std::process::id() as libc::c_long & 0xffff);
    let timeout: libc::c_long = 12_345;
    let desc = format!("saker-desc-{nonce}");
    let quota_file = format!("/saker-quota-{nonce}");
    let (c_user, c_desc, c_devnull, c_quota) = (
        CString::new("user").unwrap(),
        CString::new(desc.clone()).unwrap(),
        c"/dev/null",
        CString::new(quota_file.clone()).unwrap(),
    );
    let dqblk = IfDqblk {
        bhardlimit: 1_111_111,
        bsoftlimit: 2_222_222,
        curspace: 3_333_333, // not valid: sent as 0
        itime: 4_444_444,
        valid: QIF_BLIMITS | QIF_ITIME,
        ..IfDqblk::default()
    };
    let dqinfo =
        IfDqinfo { bgrace: 5_555, igrace: 6_666, flags: 1 /*DQF_ROOT_SQUASH*/, valid: IIF_BGRACE | IIF_FLAGS };
    let quota_id: libc::c_long = 4242;
    let report = shared_report::<Report>();

    // SAFETY: the child only makes raw syscalls on data prepared above, then exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            let r = &mut *report;
            r.res[0] = raw(libc::syscall(libc::SYS_keyctl, KEYCTL_SET_TIMEOUT, key_serial, timeout, 0, 0));
            r.res[1] = raw(libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_SEARCH,
                KEY_SPEC_USER_KEYRING,
                c_user.as_ptr(),
                c_desc.as_ptr(),
                0,
            ));
            // an operation the kernel does not know: no argument is sent
            r.res[2] = raw(libc::syscall(libc::SYS_keyctl, 999, 1, 2, 3, 4));
            r.res[3] = raw(libc::syscall(
                libc::SYS_quotactl,
                qcmd(Q_SETQUOTA, 0 /*USRQUOTA*/),
                c_devnull.as_ptr(),
                quota_id,
                &dqblk as *const IfDqblk,
            ));
            r.res[4] = raw(libc::syscall(
                libc::SYS_quotactl,
                qcmd(Q_QUOTAON, 1 /*GRPQUOTA*/),
                c_devnull.as_ptr(),
                QFMT_VFS_V0,
                c_quota.as_ptr(),
            ));
            r.res[5] = raw(libc::syscall(
                libc::SYS_quotactl,
                qcmd(Q_SETINFO, 0),
                c_devnull.as_ptr(),
                quota_id,
                &dqinfo as *const IfDqinfo,
            ));
            r.done = 1;
            libc::syscall(libc::SYS_exit_group, 0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    // SAFETY: the child is gone; the mapping is ours.
    let r = unsafe { *report };
    assert_eq!(r.done, 1);
    let child = child as i64;
    let evs = collect(
        &mut probe,
        Duration::from_secs(10),
        |e| e.tid() as i64 == child,
        |evs| evs.iter().filter(|o| o.ev().event_type() == T::PROCEXIT_1_E).count() > 0,
    );
    let stats = probe.stats();
    assert_eq!(stats.drops(), 0, "{stats:?}");

    // keyctl
    let keyctls: Vec<_> = of_type(&evs, T::SYSCALL_KEYCTL_X).into_iter().map(|o| o.ev()).collect();
    assert_eq!(keyctls.len(), 3, "{keyctls:?}");
    let layout = ["res", "operation", "arg2", "arg3", "arg4", "arg5"];

    let e = &keyctls[0];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[0]);
    assert!(r.res[0] < 0, "KEYCTL_SET_TIMEOUT of no key: {}", r.res[0]);
    assert_eq!(uint(e, 1), KEYCTL_SET_TIMEOUT as u64);
    assert_eq!(dyn_int(e, 2), key_serial);
    assert_eq!(dyn_int(e, 3), timeout);
    assert_eq!(dyn_int(e, 4), 0);
    assert_eq!(dyn_int(e, 5), 0);

    let e = &keyctls[1];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[1]);
    assert_eq!(uint(e, 1), KEYCTL_SEARCH as u64);
    assert_eq!(dyn_int(e, 2), KEY_SPEC_USER_KEYRING);
    assert_eq!(dyn_str(e, 3), "user");
    assert_eq!(dyn_str(e, 4), desc);
    assert_eq!(dyn_int(e, 5), 0);

    let e = &keyctls[2];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[2]);
    assert_eq!(int(e, 0), -(libc::EOPNOTSUPP as i64));
    assert_eq!(uint(e, 1), 999);
    for i in 2..6 {
        assert_eq!(dyn_int(e, i), 0);
    }

    // quotactl
    let quotactls: Vec<_> = of_type(&evs, T::SYSCALL_QUOTACTL_X).into_iter().map(|o| o.ev()).collect();
    assert_eq!(quotactls.len(), 3, "{quotactls:?}");
    let layout = [
        "res",
        "special",
        "quotafilepath",
        "dqb_bhardlimit",
        "dqb_bsoftlimit",
        "dqb_curspace",
        "dqb_ihardlimit",
        "dqb_isoftlimit",
        "dqb_btime",
        "dqb_itime",
        "dqi_bgrace",
        "dqi_igrace",
        "dqi_flags",
        "quota_fmt_out",
        "cmd",
        "type",
        "id",
        "quota_fmt",
    ];
    // PPM values (flags.tsv): Q_QUOTAON 1, Q_SETINFO 16, Q_SETQUOTA 64;
    // USRQUOTA 1, GRPQUOTA 2; QFMT_NOT_USED 1, QFMT_VFS_V0 4; V1_DQF_RSQUASH 2.
    let e = &quotactls[0];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[3]);
    assert!(r.res[3] < 0, "Q_SETQUOTA on /dev/null: {}", r.res[3]);
    assert_eq!(text(e, 1), "/dev/null");
    assert_eq!(value(e, 2), Value::Empty);
    let want = [1_111_111, 2_222_222, 0, 0, 0, 0, 4_444_444, 0, 0];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(uint(e, 3 + i), *w, "param {}", 3 + i);
    }
    assert_eq!(uint(e, 12), 0);
    assert_eq!(uint(e, 13), 1);
    assert_eq!(uint(e, 14), 64);
    assert_eq!(uint(e, 15), 1);
    assert_eq!(uint(e, 16), quota_id as u64);
    assert_eq!(uint(e, 17), 1);

    let e = &quotactls[1];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[4]);
    assert!(r.res[4] < 0, "Q_QUOTAON on /dev/null: {}", r.res[4]);
    assert_eq!(text(e, 1), "/dev/null");
    assert_eq!(text(e, 2), quota_file);
    for i in 3..13 {
        assert_eq!(uint(e, i), 0, "param {i}");
    }
    assert_eq!(uint(e, 13), 1);
    assert_eq!(uint(e, 14), 1);
    assert_eq!(uint(e, 15), 2);
    assert_eq!(uint(e, 16), 0);
    assert_eq!(uint(e, 17), 4);

    let e = &quotactls[2];
    assert_layout(e, &layout);
    assert_eq!(int(e, 0), r.res[5]);
    assert_eq!(text(e, 1), "/dev/null");
    assert_eq!(value(e, 2), Value::Empty);
    for i in 3..10 {
        assert_eq!(uint(e, i), 0, "param {i}");
    }
    assert_eq!(uint(e, 10), 5_555);
    assert_eq!(uint(e, 11), 0);
    assert_eq!(uint(e, 12), 2);
    assert_eq!(uint(e, 13), 1);
    assert_eq!(uint(e, 14), 16);
    assert_eq!(uint(e, 15), 1);
    assert_eq!(uint(e, 16), 0);
    assert_eq!(uint(e, 17), 1);
    // SAFETY: our mapping, no longer used.
    unsafe { libc::munmap(report as *mut libc::c_void, 4096) };
}
