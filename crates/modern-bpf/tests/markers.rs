//! The marker workload: a forked child performs exact syscalls with unique
//! values (paths under a fresh temp dir, a connect to a loopback listener, a
//! clone, an execve with known args and env, a failed open with a known
//! errno), and every parameter of every resulting event is asserted.
//!
//! Runs as root on the real kernel; prints SKIP otherwise.

mod common;

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::*;
use saker_abi::{EventType as T, SockAddr, SockTuple, Value};
use saker_modern_bpf::{Config, ModernBpf};

/// What the child reports back through shared memory (no syscalls needed).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Report {
    open_fd: i64,
    file_ino: u64,
    file_dev: u64,
    sock_fd: i64,
    local_port: u16,
    clone_pid: i64,
    done: u64,
}

fn proc_field(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("{key} in {path}"))
}

fn encode_dev(major: u64, minor: u64) -> u64 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

#[test]
fn marker_workload() {
    if !can_run("marker_workload") {
        return;
    }
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
    );
    let dir = std::env::temp_dir().join(format!("saker-markers-{nonce}"));
    std::fs::create_dir(&dir).unwrap();
    let dir_s = dir.to_str().unwrap().to_string();
    let path_a = format!("{dir_s}/marker-a-{nonce}");
    let path_b = format!("{dir_s}/marker-b-{nonce}");
    let missing = format!("{dir_s}/missing-{nonce}");
    let link = format!("{dir_s}/link-{nonce}");
    let target = format!("symlink-target-{nonce}");
    let subdir = format!("{dir_s}/dir-{nonce}");
    let data = format!("saker-data-{nonce}");
    let exe_path = "/usr/bin/true";
    let argv0 = format!("saker-argv0-{nonce}");
    let env_mark = format!("SAKER_MARK={nonce}");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let names = [
        "open", "openat", "close", "write", "rename", "symlink", "mkdir", "unlink", "socket", "connect", "clone",
        "execve",
    ];
    let config = Config { syscalls: Some(names.iter().map(|s| s.to_string()).collect()), ..Config::default() };
    let mut probe = ModernBpf::open(config).expect("open the probe");

    // Everything the child needs, prepared before fork (no allocation after).
    let c = |s: &str| CString::new(s).unwrap();
    let (c_a, c_b, c_missing, c_link, c_target, c_subdir, c_exe) =
        (c(&path_a), c(&path_b), c(&missing), c(&link), c(&target), c(&subdir), c(exe_path));
    let (c_argv0, c_arg1, c_arg2) = (c(&argv0), c("arg-one"), c("arg-two"));
    let (c_env1, c_env2) = (c(&env_mark), c("PATH=/usr/bin"));
    let argv = [c_argv0.as_ptr(), c_arg1.as_ptr(), c_arg2.as_ptr(), std::ptr::null()];
    let envp = [c_env1.as_ptr(), c_env2.as_ptr(), std::ptr::null()];
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) },
        sin_zero: [0; 8],
    };
    // SAFETY: an anonymous shared mapping for the child's report.
    let report = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut Report
    };
    assert_ne!(report as *mut libc::c_void, libc::MAP_FAILED);
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap().trim().to_string();
    let open_flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC;

    // SAFETY: the child only makes raw syscalls on data prepared above, then
    // execs or exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            let r = &mut *report;
            let fd = libc::syscall(libc::SYS_open, c_a.as_ptr(), open_flags, 0o640);
            r.open_fd = fd;
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstat(fd as i32, &mut st);
            r.file_ino = st.st_ino;
            r.file_dev = st.st_dev;
            libc::syscall(libc::SYS_write, fd, data.as_ptr(), data.len());
            libc::syscall(libc::SYS_close, fd);
            libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_missing.as_ptr(), libc::O_RDONLY, 0);
            libc::syscall(libc::SYS_rename, c_a.as_ptr(), c_b.as_ptr());
            libc::syscall(libc::SYS_symlink, c_target.as_ptr(), c_link.as_ptr());
            libc::syscall(libc::SYS_mkdir, c_subdir.as_ptr(), 0o751);
            libc::syscall(libc::SYS_unlink, c_b.as_ptr());
            let s = libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_STREAM, 0);
            r.sock_fd = s;
            libc::syscall(
                libc::SYS_connect,
                s,
                &sin as *const libc::sockaddr_in,
                std::mem::size_of::<libc::sockaddr_in>(),
            );
            let mut local: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            libc::getsockname(s as i32, &mut local as *mut _ as *mut libc::sockaddr, &mut len);
            r.local_port = u16::from_be(local.sin_port);
            let g = libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0);
            if g == 0 {
                libc::syscall(libc::SYS_exit_group, 7);
            }
            r.clone_pid = g;
            let mut status = 0;
            libc::waitpid(g as i32, &mut status, 0);
            r.done = 1;
            libc::syscall(libc::SYS_execve, c_exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::syscall(libc::SYS_exit_group, 99);
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
    let gpid = r.clone_pid;

    let evs = collect(
        &mut probe,
        Duration::from_secs(10),
        |e| e.tid() as i64 == child || e.tid() as i64 == gpid,
        |evs| evs.iter().filter(|o| o.ev().event_type() == T::PROCEXIT_1_E && o.ev().tid() as i64 == child).count() > 0,
    );
    let stats = probe.stats();
    assert_eq!(stats.drops(), 0, "{stats:?}");
    drop(listener);

    let ours: Vec<Owned> = evs.iter().filter(|o| o.ev().tid() as i64 == child).cloned().collect();
    let grandchild: Vec<Owned> = evs.iter().filter(|o| o.ev().tid() as i64 == gpid).cloned().collect();
    let fd = r.open_fd;
    let dev = {
        let major = (r.file_dev >> 8) & 0xfff;
        let minor = (r.file_dev & 0xff) | ((r.file_dev >> 12) & !0xff);
        encode_dev(major, minor)
    };

    // open: enter and exit.
    let e = one(&ours, T::SYSCALL_OPEN_E);
    assert_layout(&e, &["name", "flags", "mode"]);
    assert_eq!(text(&e, 0), path_a);
    let ppm_flags = 2 /*WRONLY*/ | 4 /*CREAT*/ | 256 /*TRUNC*/ | 4096 /*CLOEXEC*/;
    assert_eq!(uint(&e, 1), ppm_flags);
    assert_eq!(uint(&e, 2), 0o640);
    let e = one(&ours, T::SYSCALL_OPEN_X);
    assert_layout(&e, &["fd", "name", "flags", "mode", "dev", "ino"]);
    assert_eq!(int(&e, 0), fd);
    assert_eq!(text(&e, 1), path_a);
    assert_eq!(uint(&e, 2), ppm_flags | 16384 /*O_F_CREATED*/);
    assert_eq!(uint(&e, 3), 0o640);
    assert_eq!(uint(&e, 4), dev);
    assert_eq!(uint(&e, 5), r.file_ino);

    // write: data up to snaplen.
    let e = one(&ours, T::SYSCALL_WRITE_X);
    assert_layout(&e, &["res", "data", "fd", "size"]);
    assert_eq!(int(&e, 0), data.len() as i64);
    assert_eq!(bytes(&e, 1), data.as_bytes());
    assert_eq!(int(&e, 2), fd);
    assert_eq!(uint(&e, 3), data.len() as u64);

    let closes = of_type(&ours, T::SYSCALL_CLOSE_X);
    let e = closes.iter().map(|o| o.ev()).find(|e| int(e, 1) == fd).expect("close of the marker fd");
    assert_layout(&e, &["res", "fd"]);
    assert_eq!(int(&e, 0), 0);

    // The failed openat: ENOENT.
    // (the exec'd program opens its libraries with openat too)
    let mine: Vec<Owned> = ours
        .iter()
        .filter(|o| {
            let e = o.ev();
            !matches!(e.event_type(), T::SYSCALL_OPENAT_2_E | T::SYSCALL_OPENAT_2_X)
                || e.params().any(|p| p.value() == Value::Str(missing.as_bytes()))
        })
        .cloned()
        .collect();
    let e = one(&mine, T::SYSCALL_OPENAT_2_E);
    assert_layout(&e, &["dirfd", "name", "flags", "mode"]);
    assert_eq!(int(&e, 0), -100);
    assert_eq!(text(&e, 1), missing);
    assert_eq!(uint(&e, 2), 1 /*RDONLY*/);
    assert_eq!(uint(&e, 3), 0);
    let e = one(&mine, T::SYSCALL_OPENAT_2_X);
    assert_layout(&e, &["fd", "dirfd", "name", "flags", "mode", "dev", "ino"]);
    assert_eq!(int(&e, 0), -(libc::ENOENT as i64));
    assert_eq!(int(&e, 1), -100);
    assert_eq!(text(&e, 2), missing);
    assert_eq!(uint(&e, 3), 1);
    assert_eq!(uint(&e, 4), 0);
    assert_eq!(uint(&e, 5), 0);
    assert_eq!(uint(&e, 6), 0);

    let e = one(&ours, T::SYSCALL_RENAME_X);
    assert_layout(&e, &["res", "oldpath", "newpath"]);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(text(&e, 1), path_a);
    assert_eq!(text(&e, 2), path_b);

    let e = one(&ours, T::SYSCALL_SYMLINK_X);
    assert_layout(&e, &["res", "target", "linkpath"]);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(text(&e, 1), target);
    assert_eq!(text(&e, 2), link);

    let e = one(&ours, T::SYSCALL_MKDIR_2_X);
    assert_layout(&e, &["res", "path", "mode"]);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(text(&e, 1), subdir);
    assert_eq!(uint(&e, 2), 0o751);

    let e = one(&ours, T::SYSCALL_UNLINK_2_X);
    assert_layout(&e, &["res", "path"]);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(text(&e, 1), path_b);

    let e = one(&ours, T::SOCKET_SOCKET_X);
    assert_layout(&e, &["fd", "domain", "type", "proto", "flags"]);
    assert_eq!(int(&e, 0), r.sock_fd);
    assert_eq!(uint(&e, 1), 2);
    assert_eq!(uint(&e, 2), libc::SOCK_STREAM as u64);
    assert_eq!(uint(&e, 3), 0);
    assert_eq!(uint(&e, 4), 0);

    let lo = [127, 0, 0, 1];
    let e = one(&ours, T::SOCKET_CONNECT_E);
    assert_layout(&e, &["fd", "addr"]);
    assert_eq!(int(&e, 0), r.sock_fd);
    assert_eq!(value(&e, 1), Value::SockAddr(SockAddr::Inet(lo, port)));
    let e = one(&ours, T::SOCKET_CONNECT_X);
    assert_layout(&e, &["res", "tuple", "fd", "addr"]);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(value(&e, 1), Value::SockTuple(SockTuple::Inet(lo, r.local_port, lo, port)));
    assert_eq!(int(&e, 2), r.sock_fd);
    assert_eq!(value(&e, 3), Value::SockAddr(SockAddr::Inet(lo, port)));

    // clone: the parent's and the child's exits.
    let me = std::process::id() as i64;
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
    let split = cmdline.iter().position(|&b| b == 0).unwrap();
    let (test_argv0, test_args) = (&cmdline[..split], &cmdline[split + 1..]);
    let cwd = std::env::current_dir().unwrap().to_str().unwrap().to_string();
    let nofile = {
        let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: rl is valid.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        rl.rlim_cur
    };
    // subsystem -> path, from /proc/self/cgroup (v1 lines name their
    // controllers; the others are on the unified hierarchy, line "0::").
    let mut cgroup_v2 = String::from("/");
    let mut cgroup_v1 = std::collections::HashMap::new();
    for l in std::fs::read_to_string("/proc/self/cgroup").unwrap().lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        if ctrls.is_empty() {
            cgroup_v2 = path.to_string();
        }
        for c in ctrls.split(',').filter(|c| !c.is_empty() && !c.starts_with("name=")) {
            cgroup_v1.insert(if c == "blkio" { "io".to_string() } else { c.to_string() }, path.to_string());
        }
    }
    let cgroup_path = |subsys: &str| cgroup_v1.get(subsys).cloned().unwrap_or_else(|| cgroup_v2.clone());
    let clone_layout = [
        "res",
        "exe",
        "args",
        "tid",
        "pid",
        "ptid",
        "cwd",
        "fdlimit",
        "pgft_maj",
        "pgft_min",
        "vm_size",
        "vm_rss",
        "vm_swap",
        "comm",
        "cgroups",
        "flags",
        "uid",
        "gid",
        "vtid",
        "vpid",
        "pidns_init_start_ts",
    ];
    let check_clone = |e: &saker_abi::Event<'_>, res: i64, tid: i64, ptid: i64, flags: u64| {
        assert_layout(e, &clone_layout);
        assert_eq!(int(e, 0), res);
        assert_eq!(text(e, 1).as_bytes(), test_argv0);
        assert_eq!(bytes(e, 2), test_args);
        assert_eq!(int(e, 3), tid);
        assert_eq!(int(e, 4), tid);
        assert_eq!(int(e, 5), ptid);
        assert_eq!(text(e, 6), cwd);
        assert_eq!(int(e, 7), nofile as i64);
        let _ = (uint(e, 8), uint(e, 9)); // page faults: any count
        let (size, rss, swap) = (uint(e, 10), uint(e, 11), uint(e, 12));
        assert!(size > 0 && rss > 0 && rss <= size, "vm {size} {rss}");
        assert_eq!(swap, 0);
        assert_eq!(text(e, 13), comm);
        let cg = bytes(e, 14);
        let entries: Vec<&[u8]> = cg.split(|&b| b == 0).filter(|s| !s.is_empty()).collect();
        assert!(!entries.is_empty(), "cgroups");
        for ent in &entries {
            let s = String::from_utf8_lossy(ent);
            let (name, p) = s.split_once('=').expect("subsys=path");
            assert_eq!(p, cgroup_path(name), "{s}");
        }
        assert!(entries.iter().any(|e| e.starts_with(b"cpu=")), "{entries:?}");
        assert_eq!(uint(e, 15), flags);
        assert_eq!(uint(e, 16), 0);
        assert_eq!(uint(e, 17), 0);
        assert_eq!(int(e, 18), tid);
        assert_eq!(int(e, 19), tid);
        uint(e, 20)
    };
    // The child also returns from the fork that made it (res 0).
    let clones = of_type(&ours, T::SYSCALL_CLONE_20_X);
    assert_eq!(clones.len(), 2);
    let e = clones.iter().map(|o| o.ev()).find(|e| int(e, 0) == 0).unwrap();
    // glibc's fork: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
    let fork_flags = 16777216 | 8388608;
    check_clone(&e, 0, child, me, fork_flags);
    // our raw clone(SIGCHLD): no scap clone flag
    let e = clones.iter().map(|o| o.ev()).find(|e| int(e, 0) != 0).unwrap();
    let ns_start = check_clone(&e, gpid, child, me, 0);
    let e = one(&grandchild, T::SYSCALL_CLONE_20_X);
    assert_eq!(check_clone(&e, 0, gpid, child, 0), ns_start);
    assert!(ns_start > 0);

    // execve: the new image.
    let e = one(&ours, T::SYSCALL_EXECVE_19_X);
    assert_layout(
        &e,
        &[
            "res",
            "exe",
            "args",
            "tid",
            "pid",
            "ptid",
            "cwd",
            "fdlimit",
            "pgft_maj",
            "pgft_min",
            "vm_size",
            "vm_rss",
            "vm_swap",
            "comm",
            "cgroups",
            "env",
            "tty",
            "vpgid",
            "loginuid",
            "flags",
            "cap_inheritable",
            "cap_permitted",
            "cap_effective",
            "exe_ino",
            "exe_ino_ctime",
            "exe_ino_mtime",
            "uid",
            "trusted_exepath",
            "pgid",
            "gid",
            "filename",
        ],
    );
    assert_eq!(int(&e, 0), 0);
    assert_eq!(text(&e, 1), argv0);
    assert_eq!(bytes(&e, 2), b"arg-one\0arg-two\0");
    assert_eq!(int(&e, 3), child);
    assert_eq!(int(&e, 4), child);
    assert_eq!(int(&e, 5), me);
    assert_eq!(text(&e, 6), cwd);
    assert_eq!(uint(&e, 7), nofile);
    // rss comes from the mm counters' folded value: approximate, as in libs
    assert!(uint(&e, 10) > 0 && uint(&e, 11) <= uint(&e, 10), "{e:?}");
    assert_eq!(uint(&e, 12), 0);
    assert_eq!(text(&e, 13), "true");
    assert!(!bytes(&e, 14).is_empty());
    assert_eq!(bytes(&e, 15), format!("{env_mark}\0PATH=/usr/bin\0").as_bytes());
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let (pgrp, tty_nr): (i64, u64) = (fields[2].parse().unwrap(), fields[4].parse().unwrap());
    assert_eq!(uint(&e, 16), tty_nr);
    assert_eq!(int(&e, 17), pgrp);
    let loginuid: u64 = std::fs::read_to_string("/proc/self/loginuid").unwrap().trim().parse().unwrap();
    assert_eq!(uint(&e, 18), loginuid);
    assert_eq!(uint(&e, 19), 1 /*EXE_WRITABLE: root may write it*/);
    let cap_bnd = u64::from_str_radix(&proc_field("/proc/self/status", "CapBnd:"), 16).unwrap();
    let cap_inh = u64::from_str_radix(&proc_field("/proc/self/status", "CapInh:"), 16).unwrap();
    assert_eq!(uint(&e, 20), cap_inh);
    assert_eq!(uint(&e, 21), cap_bnd);
    assert_eq!(uint(&e, 22), cap_bnd);
    let md = std::fs::metadata(exe_path).unwrap();
    assert_eq!(uint(&e, 23), md.ino());
    assert_eq!(uint(&e, 24), (md.ctime() * 1_000_000_000 + md.ctime_nsec()) as u64);
    assert_eq!(uint(&e, 25), (md.mtime() * 1_000_000_000 + md.mtime_nsec()) as u64);
    assert_eq!(uint(&e, 26), 0);
    assert_eq!(text(&e, 27), std::fs::canonicalize(exe_path).unwrap().to_str().unwrap());
    assert_eq!(int(&e, 28), pgrp);
    assert_eq!(uint(&e, 29), 0);
    assert_eq!(text(&e, 30), exe_path);

    // procexit of both.
    let e = one(&grandchild, T::PROCEXIT_1_E);
    assert_layout(&e, &["status", "ret", "sig", "core", "reaper_tid"]);
    assert_eq!(int(&e, 0), 7 << 8);
    assert_eq!(int(&e, 1), 7);
    assert_eq!(uint(&e, 2), 0);
    assert_eq!(uint(&e, 3), 0);
    let e = one(&ours, T::PROCEXIT_1_E);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(int(&e, 1), 0);

    // Events come in timestamp order.
    let ts: Vec<u64> = evs.iter().map(|o| o.ev().ts()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps out of order");

    std::fs::remove_dir_all(&dir).ok();
}
