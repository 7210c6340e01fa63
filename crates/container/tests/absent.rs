//! A runtime socket that is absent, or present with nobody answering, is
//! reported once, and the lookups it would serve cost nothing more.

use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use saker_container::{Config, start};
use saker_state::{LookupRequest, Runtime, Str};

#[test]
fn absent_and_dead_sockets_are_reported_once() {
    let dir = std::env::temp_dir().join(format!("saker-absent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A socket file whose listener is gone: connections are refused.
    let dead = dir.join("dead.sock");
    drop(UnixListener::bind(&dead).unwrap());
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let r = reports.clone();
    let config = Config {
        host_root: "/".into(),
        docker_sockets: vec![dir.join("absent.sock")],
        podman_sockets: vec![dead.clone()],
        containerd_socket: dir.join("containerd.sock"),
        crio_socket: dir.join("crio.sock"),
        report: Arc::new(move |m| r.lock().unwrap().push(m.to_string())),
        ..Config::default()
    };
    let (handle, worker) = start(config).unwrap();
    let t0 = Instant::now();
    for i in 0..50 {
        let id: Str = Str::from(format!("{i:064x}").as_bytes());
        for runtime in [Runtime::Docker, Runtime::Podman, Runtime::Containerd, Runtime::CriO] {
            assert!(handle.request(LookupRequest { id: id.clone(), full_id: id.clone(), runtime, pid: -1 }));
        }
    }
    drop(handle);
    worker.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "200 lookups on dead runtimes took {:?}", t0.elapsed());
    let reports = reports.lock().unwrap();
    // The dead podman socket at start; the absent ones at their first use.
    assert_eq!(reports.len(), 4, "{reports:#?}");
    for what in ["absent.sock", "dead.sock", "containerd.sock", "crio.sock"] {
        assert_eq!(reports.iter().filter(|m| m.contains(what)).count(), 1, "{what}: {reports:#?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
