//! The probe built for the running kernel, loaded, and a few events read;
//! a probe built for another release refused; a missing probe's message.
//! Needs root, clang-19 and bpftool (as `cargo test -p saker-modern-bpf`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use saker_abi::EventType;
use saker_driver::{EventSource, Next};
use saker_legacy_bpf::{BuildOptions, Config, LegacyBpf, probe};

fn built(release: Option<&str>) -> PathBuf {
    let name = release.unwrap_or("running").replace(['/', ' '], "_");
    let out = std::env::temp_dir().join(format!("saker-legacy-test-{}-{name}.o", std::process::id()));
    probe::build(&BuildOptions {
        release: release.map(str::to_string),
        output: Some(out.clone()),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("building the probe: {e}"));
    out
}

fn running_probe() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| built(None))
}

#[test]
fn loads_and_reads_events() {
    let path = running_probe();
    let info = probe::probe_info(path).unwrap();
    assert_eq!(info.release, probe::running_release());
    assert_eq!(info.api, probe::API_VERSION);
    let syscalls = ["openat", "getppid", "close"].iter().map(|s| s.to_string()).collect();
    let mut bpf = LegacyBpf::open(Config {
        probe: path.clone(),
        syscalls: Some(syscalls),
        exclude_self: false,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let marker = std::env::temp_dir().join(format!("saker-legacy-marker-{}", std::process::id()));
    std::fs::write(&marker, b"x").unwrap();
    let worker = std::thread::spawn({
        let marker = marker.clone();
        move || {
            for _ in 0..100 {
                // SAFETY: getppid has no preconditions.
                unsafe { libc::getppid() };
                let _ = std::fs::File::open(&marker);
            }
        }
    });
    worker.join().unwrap();
    let (mut getppid, mut open_e, mut open_x, mut last_ts) = (0, 0, 0, 0u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) && (getppid < 100 || open_x < 100) {
        match bpf.next_event().unwrap() {
            Next::Event(e) => {
                let ev = &e.event;
                let ty = ev.event_type();
                assert!(ev.ts() >= last_ts, "events out of order");
                last_ts = ev.ts();
                if ty == EventType::GENERIC_X {
                    getppid += 1;
                } else if ty == EventType::SYSCALL_OPENAT_2_E {
                    open_e += 1;
                } else if ty == EventType::SYSCALL_OPENAT_2_X {
                    let path = ev.raw_param(2).unwrap_or_default();
                    if path.strip_suffix(b"\0") == Some(marker.as_os_str().as_encoded_bytes()) {
                        open_x += 1;
                    }
                }
            }
            Next::Idle => {}
            Next::End => break,
        }
    }
    let _ = std::fs::remove_file(&marker);
    let stats = bpf.stats();
    assert!(getppid >= 100, "getppid events: {getppid}");
    assert!(open_x >= 100 && open_e >= 100, "openat events: {open_e} enter, {open_x} exit of the marker");
    assert_eq!(stats.drops(), 0, "{stats:?}");
    assert!(stats.events >= 300);
}

#[test]
fn another_release_is_refused() {
    // another release with the same version choices, so the running
    // kernel's BTF still compiles it
    let running = probe::running_release();
    let (major, minor, _) = probe::parse_release(&running).unwrap();
    let other = format!("{major}.{minor}.0-saker-other");
    let path = built(Some(&other));
    let err = match LegacyBpf::open(Config { probe: path.clone(), ..Default::default() }) {
        Ok(_) => panic!("a probe of another release was loaded"),
        Err(e) => e.to_string(),
    };
    let _ = std::fs::remove_file(&path);
    assert!(err.contains(&format!("built for kernel {other}")), "{err}");
    assert!(err.contains(&format!("this kernel is {running}")), "{err}");
    assert!(err.contains("saker driver build --kind ebpf"), "{err}");
}

#[test]
fn a_missing_probe_gives_the_build_command() {
    let err = match LegacyBpf::open(Config { probe: "/nonexistent/saker-bpf.o".into(), ..Default::default() }) {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no saker eBPF probe at /nonexistent/saker-bpf.o"), "{err}");
    assert!(err.contains("saker driver build --kind ebpf"), "{err}");
}

#[test]
fn every_program_loads() {
    let mut bpf = LegacyBpf::open(Config { probe: running_probe().clone(), ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    // this process is excluded (exclude_self), and a CI machine can be
    // quiet for seconds: a child process makes the syscalls to see
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do cat /proc/self/stat >/dev/null; sleep 0.1; done"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(5) && n < 100 {
        if let Next::Event(_) = bpf.next_event().unwrap() {
            n += 1;
        }
    }
    let _ = child.wait();
    assert!(n > 0, "no event in 5 s while a child process ran");
}
