//! The marker workload: a forked child performs exact syscalls with unique
//! values (paths under a fresh temp dir, a connect to a loopback listener, a
//! clone, an execve with known args and env, a failed open with a known
//! errno), and every parameter of every resulting event is asserted.
//!
//! Runs as root on the real kernel; prints SKIP otherwise. The guest harness
//! (`tests/guest/run`) runs it in QEMU guests with other kernels too: with
//! `SAKER_MARKER_SEQUENCE=FILE` it also writes the workload's event sequence,
//! normalized (see [`write_sequence`]), for the harness to compare across
//! kernels. With `SAKER_MARKER_DRIVER=kmod` the events come from the kernel
//! module instead (`saker_kmod`), with `SAKER_MARKER_DRIVER=ebpf` from the
//! legacy eBPF probe (`saker_legacy_bpf`, the object `SAKER_BPF_PROBE`
//! names), for the guest suite to compare the drivers.
//! `ebpf_sequence_equals_modern` compares the legacy probe with the modern
//! one on the running kernel.

mod common;

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::*;
use saker_abi::{EventType as T, SockAddr, SockTuple, Value};
use saker_driver::EventSource;
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
    /// `/proc/self/statm` size and resident pages, read just before the clone.
    statm_size: u64,
    statm_resident: u64,
    /// The directory opened by handle, and the fd the kernel gave.
    mount_fd: i64,
    handle_fd: i64,
    statm_fd: i64,
    /// A second child of the child, left behind when the child exits: its
    /// pid, and its parent once reparented (what procexit's reaper_tid names).
    orphan_pid: i64,
    orphan_ppid: i64,
    orphan_done: u64,
    done: u64,
}

/// `size resident ...` of a statm text: its first two numbers.
fn parse_statm(b: &[u8]) -> (u64, u64) {
    let mut nums = [0u64; 2];
    let mut i = 0;
    for &c in b {
        if c.is_ascii_digit() {
            nums[i] = nums[i] * 10 + u64::from(c - b'0');
        } else if c == b' ' {
            i += 1;
            if i == 2 {
                break;
            }
        }
    }
    (nums[0], nums[1])
}

/// The cgroup path the kernel reports for each controller of this process:
/// the path of the controller's v1 hierarchy if one is mounted; otherwise, on
/// the unified hierarchy, the deepest ancestor of the process's cgroup down
/// to which every parent enables the controller (`cgroup.subtree_control`),
/// since a controller not enabled below a cgroup is that cgroup's. perf_event
/// is implicitly enabled everywhere on the unified hierarchy.
fn cgroup_paths() -> impl Fn(&str) -> String {
    let mut v2_path = String::from("/");
    let mut v1 = std::collections::HashMap::new();
    for l in std::fs::read_to_string("/proc/self/cgroup").unwrap().lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        if ctrls.is_empty() {
            v2_path = path.to_string();
        }
        for c in ctrls.split(',').filter(|c| !c.is_empty() && !c.starts_with("name=")) {
            v1.insert(if c == "blkio" { "io".to_string() } else { c.to_string() }, path.to_string());
        }
    }
    // mountinfo: "... MOUNTPOINT ... - FSTYPE SOURCE OPTIONS"
    let v2_mount = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right.starts_with("cgroup2 ").then(|| left.split(' ').nth(4).unwrap().to_string())
    });
    move |controller: &str| {
        if let Some(p) = v1.get(controller) {
            return p.clone();
        }
        let Some(mount) = &v2_mount else { return v2_path.clone() };
        if controller == "perf_event" {
            return v2_path.clone();
        }
        let mut at = String::new();
        for comp in v2_path.split('/').filter(|c| !c.is_empty()) {
            let control = std::fs::read_to_string(format!("{mount}{at}/cgroup.subtree_control")).unwrap_or_default();
            if !control.split_whitespace().any(|c| c == controller) {
                break;
            }
            at = format!("{at}/{comp}");
        }
        if at.is_empty() { "/".to_string() } else { at }
    }
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
    let driver = std::env::var("SAKER_MARKER_DRIVER").ok();
    run_markers(driver.as_deref(), std::env::var("SAKER_MARKER_SEQUENCE").ok());
}

/// The legacy eBPF probe (`SAKER_BPF_PROBE`, or built for this kernel into a
/// temporary file when that names no file) gives the modern probe's event
/// sequence for the marker workload.
#[test]
fn ebpf_sequence_equals_modern() {
    if !can_run("ebpf_sequence_equals_modern") {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("saker-markers-ebpf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let probe = saker_legacy_bpf::probe_path();
    let built = !probe.exists();
    let probe = if built {
        let out = tmp.join("saker-bpf.o");
        saker_legacy_bpf::probe::build(&saker_legacy_bpf::BuildOptions {
            output: Some(out.clone()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("building the legacy probe: {e}"));
        out
    } else {
        probe
    };
    let modern = tmp.join("modern.seq");
    let ebpf = tmp.join("ebpf.seq");
    run_markers(None, Some(modern.to_string_lossy().into_owned()));
    // SAFETY: tests of this binary read SAKER_BPF_PROBE only through this test.
    unsafe { std::env::set_var(saker_legacy_bpf::PROBE_ENV, &probe) };
    run_markers(Some("ebpf"), Some(ebpf.to_string_lossy().into_owned()));
    let (a, b) = (std::fs::read_to_string(&modern).unwrap(), std::fs::read_to_string(&ebpf).unwrap());
    assert!(!a.is_empty());
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .take(10)
            .map(|(x, y)| format!("modern: {x}\nebpf:   {y}"))
            .collect();
        panic!(
            "the ebpf and modern-ebpf sequences differ ({} vs {} lines):\n{}",
            a.lines().count(),
            b.lines().count(),
            diff.join("\n")
        );
    }
    std::fs::remove_dir_all(&tmp).ok();
}

fn run_markers(driver: Option<&str>, sequence: Option<String>) {
    // Fixed width, so lengths (and the events' sizes) are the same every run.
    let nonce = format!(
        "{:07}-{:09}",
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
        "open",
        "openat",
        "close",
        "write",
        "rename",
        "symlink",
        "mkdir",
        "unlink",
        "socket",
        "connect",
        "clone",
        "execve",
        "open_by_handle_at",
    ];
    let syscalls = Some(names.iter().map(|s| s.to_string()).collect());
    // The same workload through the kernel module with SAKER_MARKER_DRIVER=kmod
    // (the guest suite: the module loads only there).
    let mut probe: Box<dyn EventSource> = match driver {
        Some("ebpf") => Box::new(
            saker_legacy_bpf::LegacyBpf::open(saker_legacy_bpf::Config {
                syscalls,
                ..saker_legacy_bpf::Config::default()
            })
            .unwrap_or_else(|e| panic!("open the ebpf driver: {e}")),
        ),
        Some("kmod") => Box::new(
            saker_kmod::Kmod::open(saker_kmod::Config { syscalls, ..saker_kmod::Config::default() })
                .expect("open the kmod driver"),
        ),
        _ => Box::new(ModernBpf::open(Config { syscalls, ..Config::default() }).expect("open the probe")),
    };

    // Everything the child needs, prepared before fork (no allocation after).
    let c = |s: &str| CString::new(s).unwrap();
    let (c_a, c_b, c_missing, c_link, c_target, c_subdir, c_exe) =
        (c(&path_a), c(&path_b), c(&missing), c(&link), c(&target), c(&subdir), c(exe_path));
    let (c_argv0, c_arg1, c_arg2) = (c(&argv0), c("arg-one"), c("arg-two"));
    let (c_env1, c_env2) = (c(&env_mark), c("PATH=/usr/bin"));
    let (c_dir, c_statm) = (c(&dir_s), c("/proc/self/statm"));
    // struct file_handle: handle_bytes, handle_type, then the handle.
    let mut handle = [0u32; 34];
    handle[0] = 128;
    let mut statm_buf = [0u8; 128];
    let argv = [c_argv0.as_ptr(), c_arg1.as_ptr(), c_arg2.as_ptr(), std::ptr::null()];
    let envp = [c_env1.as_ptr(), c_env2.as_ptr(), std::ptr::null()];
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) },
        sin_zero: [0; 8],
    };
    let report = shared_report::<Report>();
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap().trim().to_string();
    let open_flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC;

    // SAFETY: the child only makes raw syscalls on data prepared above, then
    // execs or exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            let r = &mut *report;
            // Whatever descriptors the test was started with (a CI runner's
            // pipe, flock's lock file) would shift every fd number the
            // workload and the program it execs get: closed first, so the
            // sequence is the same wherever it runs (close_range is not
            // among the captured calls).
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
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
            // A directory opened by handle: its path comes from the fd.
            let mfd =
                libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            r.mount_fd = mfd;
            let mut mount_id = 0i32;
            libc::syscall(
                libc::SYS_name_to_handle_at,
                libc::AT_FDCWD,
                c_dir.as_ptr(),
                handle.as_mut_ptr(),
                &mut mount_id,
                0,
            );
            r.handle_fd =
                libc::syscall(libc::SYS_open_by_handle_at, mfd, handle.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            // Memory as the kernel counts it, just before the clone.
            let sfd = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c_statm.as_ptr(), libc::O_RDONLY);
            r.statm_fd = sfd;
            let n = libc::syscall(libc::SYS_read, sfd, statm_buf.as_mut_ptr(), statm_buf.len());
            libc::syscall(libc::SYS_close, sfd);
            let (size, resident) = parse_statm(&statm_buf[..n.max(0) as usize]);
            r.statm_size = size;
            r.statm_resident = resident;
            let g = libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0);
            if g == 0 {
                libc::syscall(libc::SYS_exit_group, 7);
            }
            r.clone_pid = g;
            let mut status = 0;
            libc::waitpid(g as i32, &mut status, 0);
            // An orphan-to-be: it waits until its parent (the child) has
            // exited, then reports who adopted it.
            let parent = libc::getpid();
            let o = libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0);
            if o == 0 {
                let pause = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
                for _ in 0..20_000 {
                    if libc::getppid() != parent {
                        break;
                    }
                    libc::nanosleep(&pause, std::ptr::null_mut());
                }
                r.orphan_ppid = i64::from(libc::getppid());
                r.orphan_done = 1;
                libc::syscall(libc::SYS_exit_group, 0);
            }
            r.orphan_pid = o;
            r.done = 1;
            libc::syscall(libc::SYS_execve, c_exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::syscall(libc::SYS_exit_group, 99);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    // The orphan reports once it has been adopted.
    let t0 = std::time::Instant::now();
    // SAFETY: the mapping is ours; the orphan writes orphan_done last.
    while unsafe { std::ptr::read_volatile(&(*report).orphan_done) } == 0 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: the child is gone and the orphan done; the mapping is ours.
    let r = unsafe { *report };
    assert_eq!(r.done, 1);
    assert_eq!(r.orphan_done, 1, "the orphan never reported its new parent");
    let child = child as i64;
    let gpid = r.clone_pid;

    let evs = collect(
        &mut *probe,
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
    let cgroup_path = cgroup_paths();
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
    let clones: Vec<&Owned> =
        of_type(&ours, T::SYSCALL_CLONE_20_X).into_iter().filter(|o| int(&o.ev(), 0) != r.orphan_pid).collect();
    assert_eq!(clones.len(), 2);
    let e = clones.iter().map(|o| o.ev()).find(|e| int(e, 0) == 0).unwrap();
    // glibc's fork: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
    let fork_flags = 16777216 | 8388608;
    check_clone(&e, 0, child, me, fork_flags);
    // our raw clone(SIGCHLD): no scap clone flag
    let e = clones.iter().map(|o| o.ev()).find(|e| int(e, 0) != 0).unwrap();
    let ns_start = check_clone(&e, gpid, child, me, 0);
    // Memory sizes against statm, read by the child just before this clone:
    // vm_size is total_vm, exact; vm_rss is the mm's counters, which lag
    // by up to a batch of pages per CPU (percpu counters since 6.2,
    // per-thread caches flushed every 64 faults before): within 64 pages.
    let (size, rss) = (uint(&e, 10), uint(&e, 11));
    assert_eq!(size, r.statm_size * 4, "vm_size (KiB) against statm {} pages", r.statm_size);
    assert!(rss.abs_diff(r.statm_resident * 4) <= 64 * 4, "vm_rss {rss} KiB against statm {} pages", r.statm_resident);
    let e = one(&grandchild, T::SYSCALL_CLONE_20_X);
    assert_eq!(check_clone(&e, 0, gpid, child, 0), ns_start);
    assert!(ns_start > 0);
    // The grandchild's mm is a copy: same size.
    assert_eq!(uint(&e, 10), r.statm_size * 4);

    // open_by_handle_at: the path comes from the file the kernel opened.
    let canonical_dir = std::fs::canonicalize(&dir).unwrap().to_str().unwrap().to_string();
    let e = one(&ours, T::SYSCALL_OPEN_BY_HANDLE_AT_X);
    assert_layout(&e, &["fd", "mountfd", "flags", "path", "dev", "ino"]);
    assert_eq!(int(&e, 0), r.handle_fd);
    assert!(r.handle_fd >= 0, "open_by_handle_at failed: {}", r.handle_fd);
    assert_eq!(int(&e, 1), r.mount_fd);
    assert_eq!(text(&e, 3), canonical_dir);
    let dir_md = std::fs::metadata(&dir).unwrap();
    assert_eq!(uint(&e, 5), dir_md.ino());

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
    // no children left behind: nothing to reparent
    assert_eq!(int(&e, 4), 0);
    let e = one(&ours, T::PROCEXIT_1_E);
    assert_eq!(int(&e, 0), 0);
    assert_eq!(int(&e, 1), 0);
    // the orphan's adopter, as the kernel chose it (init, or a subreaper)
    assert!(r.orphan_ppid > 0 && r.orphan_ppid != child, "orphan's parent {}", r.orphan_ppid);
    assert_eq!(int(&e, 4), r.orphan_ppid, "procexit's reaper_tid");

    // Each thread's events come in timestamp order. Across threads, the
    // merge of the rings orders the events it finds: an event stamped on
    // one CPU but committed to its ring after a later one of another CPU
    // was handed out comes after it (as with libscap), so the whole
    // stream's order is checked per thread, and its inversions only shown.
    let mut last_of: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut inversions = 0;
    let mut previous = 0;
    for o in &evs {
        let (tid, ts) = (o.ev().tid(), o.ev().ts());
        let last = last_of.entry(tid).or_insert(0);
        assert!(*last <= ts, "thread {tid}: an event stamped {ts} after one stamped {last}");
        *last = ts;
        inversions += (ts < previous) as usize;
        previous = previous.max(ts);
    }
    if inversions > 0 {
        eprintln!("{inversions} events of other threads came after later-stamped ones (committed later)");
    }

    if let Some(path) = sequence {
        let numbers = [
            (child, "$CHILD"),
            (gpid, "$GRANDCHILD"),
            (me, "$TEST"),
            (r.open_fd, "$FD"),
            (r.sock_fd, "$SOCK"),
            (r.mount_fd, "$MOUNTFD"),
            (r.handle_fd, "$HANDLEFD"),
            (r.statm_fd, "$STATMFD"),
            (r.orphan_pid, "$ORPHAN"),
            (r.orphan_ppid, "$REAPER"),
            (i64::from(port), "$PORT"),
            (i64::from(r.local_port), "$LOCALPORT"),
        ];
        let test_argv0 = String::from_utf8_lossy(test_argv0).into_owned();
        let test_args = String::from_utf8_lossy(test_args).replace('\0', "\\0");
        let texts = [
            (canonical_dir.as_str(), "$DIR"),
            (dir_s.as_str(), "$DIR"),
            (nonce.as_str(), "$NONCE"),
            (test_argv0.as_str(), "$TESTEXE"),
            (test_args.as_str(), "$TESTARGS"),
            (cwd.as_str(), "$CWD"),
        ];
        let by_thread: Vec<Owned> = ours.iter().chain(grandchild.iter()).cloned().collect();
        write_sequence(&path, &by_thread, &numbers, &texts);
    }

    std::fs::remove_dir_all(&dir).ok();
}

/// Parameters whose values each kernel computes from its own state: inodes,
/// devices, page faults, memory, cgroups, capabilities (their number grows
/// with the kernel), terminal, login uid, process groups, namespace start,
/// file limits. Their values are asserted above within one run; across
/// kernels only their presence is compared.
const KERNEL_DEPENDENT: &[&str] = &[
    "ino",
    "dev",
    "exe_ino",
    "exe_ino_ctime",
    "exe_ino_mtime",
    "pgft_maj",
    "pgft_min",
    "vm_size",
    "vm_rss",
    "vm_swap",
    "cgroups",
    "cap_inheritable",
    "cap_permitted",
    "cap_effective",
    "tty",
    "loginuid",
    "vpgid",
    "pgid",
    "pidns_init_start_ts",
    "fdlimit",
];

/// Parameters holding a process id, a file descriptor or a port.
const NUMBERED: &[&str] = &["res", "fd", "dirfd", "mountfd", "tid", "pid", "ptid", "vtid", "vpid", "reaper_tid"];

/// Writes the events, thread by thread in order, as lines `TYPE name=value
/// ...`, with what differs from one run to the next replaced by its role
/// (`numbers`: pids, fds, ports; `texts`: the run's directory, nonce, the
/// test's own command line and cwd) and the values of [`KERNEL_DEPENDENT`]
/// parameters by `*`. The same workload on two kernels writes the same file.
fn write_sequence(path: &str, evs: &[Owned], numbers: &[(i64, &str)], texts: &[(&str, &str)]) {
    let num = |v: i64| numbers.iter().find(|(n, _)| *n == v).map_or(v.to_string(), |(_, s)| s.to_string());
    let port = |p: u16| num(i64::from(p));
    let text = |b: &[u8]| {
        let mut t = String::from_utf8_lossy(b).replace('\0', "\\0");
        for (from, to) in texts {
            if !from.is_empty() {
                t = t.replace(from, to);
            }
        }
        t
    };
    let mut out = String::new();
    for o in evs {
        let e = o.ev();
        out.push_str(&format!("{:?}", e.event_type()));
        for p in e.params() {
            let name = p.info().name;
            let v = p.value();
            let shown = if KERNEL_DEPENDENT.contains(&name) {
                "*".to_string()
            } else {
                match v {
                    Value::Int(i) if NUMBERED.contains(&name) => num(i),
                    Value::Uint(u) if NUMBERED.contains(&name) => num(u as i64),
                    Value::Str(b) | Value::Bytes(b) => text(b),
                    Value::SockAddr(SockAddr::Inet(a, p)) => format!("{a:?}:{}", port(p)),
                    Value::SockTuple(SockTuple::Inet(a, p, b, q)) => {
                        format!("{a:?}:{}->{b:?}:{}", port(p), port(q))
                    }
                    other => format!("{other:?}"),
                }
            };
            out.push_str(&format!(" {name}={shown}"));
        }
        out.push('\n');
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
}
