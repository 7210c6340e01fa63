//! `State::from_proc` on this very process: its working directory, an fd on
//! a file it opened, and a TCP listener it created.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use saker_state::{FdType, Limits, State, l4};

#[test]
fn from_proc_finds_this_process() {
    let dir = std::env::temp_dir().join(format!("saker-state-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("probe.txt");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"x").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let state = State::from_proc(&Limits::default()).expect("reading /proc");
    let pid = std::process::id() as i64;
    let me = state.thread(pid).expect("this process is in the table");
    assert_eq!(me.pid, pid);
    let exe = std::env::current_exe().unwrap();
    assert_eq!(&*me.info.exepath, exe.as_os_str().as_encoded_bytes());
    // Its start time, from /proc/PID/stat: before now, within the last hour
    // (the test harness started it), at 10 ms precision.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(me.clone_ts > now - 3_600_000_000_000 && me.clone_ts <= now + 20_000_000, "{} vs {now}", me.clone_ts);

    let cwd = std::env::current_dir().unwrap();
    let mut want = cwd.as_os_str().as_encoded_bytes().to_vec();
    want.push(b'/');
    assert_eq!(state.cwd(pid), Some(&want[..]), "cwd");

    let f = state.fd(pid, file.as_raw_fd() as i64).expect("the temp file's fd");
    assert_eq!(f.ty, FdType::File);
    assert_eq!(&*f.name, path.as_os_str().as_encoded_bytes());

    let l = state.fd(pid, listener.as_raw_fd() as i64).expect("the listener's fd");
    assert_eq!(l.ty, FdType::Ipv4Server, "{l:?}");
    assert_eq!(l.sock.v4srv_port(), port);
    assert_eq!(l.sock.v4srv_ip(), [127, 0, 0, 1]);
    assert_eq!(l.l4proto(), l4::TCP);
    assert_eq!(&*l.name, format!("127.0.0.1:{port}").as_bytes());

    // Threads of this process (the test harness runs tests on threads).
    let threads = state.threads().filter(|t| t.pid == pid).count();
    assert!(threads >= 1);
    // Users come from /etc/passwd.
    assert_eq!(state.host_user(0).map(|u| &*u.name), Some(&b"root"[..]));
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_proc_at_a_missing_root_is_an_error() {
    let err = State::from_proc_at(std::path::Path::new("/nonexistent-saker-root"), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent-saker-root/proc"), "{err}");
}
