//! Container metadata from the real runtimes, live with the modern probe:
//! a container started with podman (whose Docker-compatible API saker
//! asks) and one started with containerd (`ctr`) show, within one second
//! of their first event, their name, image, image repository and tag,
//! privileged flag, mounts and the `k8s.*` fields of the pod labels set on
//! them; the capture written meanwhile, replayed, shows the same values.
//!
//! Needs root, kernel BTF, podman, runc, containerd, ctr and busybox
//! (scripts/setup.sh installs them); prints SKIP otherwise. Images are
//! made offline from busybox (no registry is reachable).

mod live_common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use live_common::*;

const FIELDS: [&str; 14] = [
    "evt.rawtime",
    "container.id",
    "container.type",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.privileged",
    "container.mounts",
    "container.mount.source[/data]",
    "k8s.pod.name",
    "k8s.ns.name",
    "proc.name",
    "user.name",
];

/// What the containers run: an event every 50 ms for two seconds, so that
/// the time the metadata shows is not that of the next event after a pause.
const BUSY: &str = "i=0; while [ $i -lt 40 ]; do cat /etc/passwd > /dev/null; ls /data; sleep 0.05; i=$((i+1)); done";
const IMAGE: &str = "localhost/saker-bb:1";
const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";

/// A background daemon this test started (stopped when dropped).
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `cmd` unless `socket` answers already; waits for the socket.
fn daemon(socket: &str, cmd: &mut Command) -> Daemon {
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Daemon(None);
    }
    let _ = std::fs::remove_file(socket);
    std::fs::create_dir_all(Path::new(socket).parent().unwrap()).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let d = Daemon(Some(child));
    let t0 = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "{socket} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

/// The busybox image, imported into podman and into containerd's k8s.io
/// namespace.
fn make_image(dir: &Path) {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "data"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "ls", "sleep", "id", "true", "["] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    // A user the host does not have: user.name in the container is the
    // container's.
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nsaker-u:x:4242:4242::/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nsaker-g:x:4242:\n").unwrap();
    let tar = dir.join("rootfs.tar");
    run_ok(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."));
    run_ok(Command::new("podman").args(["import"]).arg(&tar).arg(IMAGE));
    let saved = dir.join("image.tar");
    run_ok(Command::new("podman").args(["save", "-o"]).arg(&saved).arg(IMAGE));
    run_ok(Command::new("ctr").args(["--address", CONTAINERD_SOCKET, "-n", "k8s.io", "images", "import"]).arg(&saved));
}

struct Ev(Vec<String>);

impl Ev {
    fn get(&self, f: &str) -> &str {
        &self.0[FIELDS.iter().position(|x| *x == f).unwrap()]
    }
}

fn events(lines: &[String]) -> Vec<Ev> {
    lines
        .iter()
        .map(|l| Ev(l.split('\t').map(str::to_string).collect()))
        .filter(|e| e.0.len() == FIELDS.len())
        .collect()
}

/// Checks the events of container `id` (12 digits): the metadata shows
/// within one second of its first event (`live`), with the expected values.
fn check(evs: &[Ev], id: &str, expect: &[(&str, &str)], live: bool) {
    let mine: Vec<&Ev> = evs.iter().filter(|e| e.get("container.id") == id).collect();
    assert!(!mine.is_empty(), "no event of container {id}");
    let first: u64 = mine[0].get("evt.rawtime").parse().unwrap();
    let named = mine
        .iter()
        .find(|e| e.get("container.name") != "<NA>")
        .unwrap_or_else(|| panic!("container {id}: no event with its metadata among {}", mine.len()));
    let at: u64 = named.get("evt.rawtime").parse().unwrap();
    if live {
        assert!(
            at - first <= 1_000_000_000,
            "container {id}: metadata {} ms after its first event",
            (at - first) / 1_000_000
        );
    }
    for (f, v) in expect {
        assert_eq!(named.get(f), *v, "container {id}: {f} (live: {live}) in {:?}", named.0);
    }
    // Once known, every later event has it.
    let later = mine.iter().skip_while(|e| e.get("container.name") == "<NA>");
    for e in later {
        assert_eq!(e.get("container.name"), named.get("container.name"), "{:?}", e.0);
    }
}

#[test]
fn podman_and_containerd_containers_show_their_metadata() {
    if !can_run("podman_and_containerd_containers_show_their_metadata") {
        return;
    }
    let missing: Vec<&str> =
        ["podman", "runc", "containerd", "ctr", "busybox"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        eprintln!("SKIP podman_and_containerd_containers_show_their_metadata: missing {missing:?} (scripts/setup.sh)");
        return;
    }
    let n = nonce();
    let dir = work_dir("containers", &n);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _podman = daemon(
        PODMAN_SOCKET,
        Command::new("podman").args(["system", "service", "--time=0"]).arg(format!("unix://{PODMAN_SOCKET}")),
    );
    let _containerd = daemon(CONTAINERD_SOCKET, &mut Command::new("containerd"));
    make_image(&dir);

    let format = format!("*%{}", FIELDS.join("\t%"));
    let capture = dir.join("containers.scap");
    let trace = LiveTrace::start(&capture, &["-p", &format, "container.id != host"]);

    // podman (runc, cgroupfs: what runs on this host), privileged.
    let name = format!("saker-pm-{n}");
    let podman_id = run_ok(
        Command::new("podman")
            .args(["--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "-d", "--privileged"])
            .args(["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--name", &name, "--user", "4242"])
            .args([
                "--label",
                &format!("io.kubernetes.pod.name=pod-{n}"),
                "--label",
                "io.kubernetes.pod.namespace=ns-pm",
            ])
            .arg("-v")
            .arg(format!("{}:/data:ro", data.display()))
            .args([IMAGE, "sh", "-c", BUSY]),
    );
    run_ok(Command::new("podman").args(["wait", &podman_id]));
    run_ok(Command::new("podman").args(["rm", &podman_id]));
    // containerd (ctr), with a Kubernetes-like 64-digit id, not privileged.
    let cd_id: String = format!("{n}{}", "0123456789abcdef".repeat(4))[..64].to_string();
    run_ok(
        Command::new("ctr")
            .args(["--address", CONTAINERD_SOCKET, "-n", "k8s.io", "run", "--rm"])
            .args([
                "--label",
                &format!("io.kubernetes.pod.name=cpod-{n}"),
                "--label",
                "io.kubernetes.pod.namespace=ns-cd",
            ])
            .arg("--mount")
            .arg(format!("type=bind,src={},dst=/data,options=rbind:ro", data.display()))
            .args([IMAGE, &cd_id, "sh", "-c", BUSY]),
    );

    std::thread::sleep(Duration::from_millis(500));
    let done = trace.stop("INT");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    std::fs::write(dir.join("printed.txt"), done.stdout.join("\n")).unwrap();
    let live = events(&done.stdout);

    // The container's own user, live.
    assert!(
        live.iter().any(|e| e.get("container.id") == &podman_id[..12]
            && e.get("proc.name") == "cat"
            && e.get("user.name") == "saker-u"),
        "no event of the podman container with its own user name"
    );
    let data_s = data.display().to_string();
    let podman_expect = [
        ("container.type", "podman"),
        ("container.name", name.as_str()),
        ("container.image", IMAGE),
        ("container.image.repository", "localhost/saker-bb"),
        ("container.image.tag", "1"),
        ("container.privileged", "true"),
        ("k8s.ns.name", "ns-pm"),
    ];
    let pod = format!("pod-{n}");
    let cpod = format!("cpod-{n}");
    let containerd_expect = [
        ("container.type", "containerd"),
        ("container.name", cd_id.as_str()),
        ("container.image", IMAGE),
        ("container.image.repository", "localhost/saker-bb"),
        ("container.image.tag", "1"),
        ("container.privileged", "false"),
        ("k8s.ns.name", "ns-cd"),
    ];
    for replayed in [false, true] {
        let evs = if replayed {
            let out = Command::new(env!("CARGO_BIN_EXE_saker"))
                .args(["trace", "-r"])
                .arg(&capture)
                .args(["-p", &format, "container.id != host"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
            events(&lines)
        } else {
            live.iter().map(|e| Ev(e.0.clone())).collect()
        };
        check(&evs, &podman_id[..12], &podman_expect, !replayed);
        check(&evs, &cd_id[..12], &containerd_expect, !replayed);
        let pm =
            evs.iter().find(|e| e.get("container.id") == &podman_id[..12] && e.get("k8s.pod.name") != "<NA>").unwrap();
        assert_eq!(pm.get("k8s.pod.name"), pod);
        assert!(pm.get("container.mounts").contains(&format!("{data_s}:/data:")), "{}", pm.get("container.mounts"));
        assert_eq!(pm.get("container.mount.source[/data]"), data_s);
        let cd = evs.iter().find(|e| e.get("container.id") == &cd_id[..12] && e.get("k8s.pod.name") != "<NA>").unwrap();
        assert_eq!(cd.get("k8s.pod.name"), cpod);
        assert!(
            cd.get("container.mounts").contains(&format!("{data_s}:/data::false:")),
            "{}",
            cd.get("container.mounts")
        );
        assert_eq!(cd.get("container.mount.source[/data]"), data_s);
    }
    // Falco's way: `detect -e` on the capture, a rule printing the fields.
    let rules = dir.join("rules.yaml");
    let output: Vec<String> = FIELDS[1..].iter().map(|f| format!("%{f}")).collect();
    std::fs::write(
        &rules,
        format!(
            "- rule: In a container\n  desc: d\n  condition: container.id != host and evt.type = execve and evt.dir = <\n  output: \"{}\"\n  priority: WARNING\n",
            output.join(" ")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["detect", "-r"])
        .arg(&rules)
        .arg("-e")
        .arg(&capture)
        .args(["-o", "json_output=true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for (id, name, pod) in
        [(&podman_id[..12], name.as_str(), pod.as_str()), (&cd_id[..12], cd_id.as_str(), cpod.as_str())]
    {
        let a = alerts
            .iter()
            .map(|a| &a["output_fields"])
            .find(|f| f["container.id"] == id && f["container.name"] == name)
            .unwrap_or_else(|| panic!("no alert with the metadata of {id}: {alerts:?}"));
        assert_eq!(a["container.image"], IMAGE);
        assert_eq!(a["container.image.tag"], "1");
        assert_eq!(a["k8s.pod.name"], pod);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
