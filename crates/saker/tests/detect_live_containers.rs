//! Falco's stable container rules live, with the modern eBPF driver and
//! real podman containers (runc, cgroupfs):
//! - "Debugfs Launched in Privileged Container" fires for debugfs run in a
//!   privileged container, with its output fields filled, and not for the
//!   same in an unprivileged one. It needs `container.privileged`, which
//!   comes from podman's Docker API.
//! - The other container rules of falco_rules.yaml 5.1.0, each action done
//!   for real in its own container: netcat with `-e` (and the socket it
//!   puts on stdin/stdout), a connection to the Kubernetes API server's
//!   name (resolved by saker from an `/etc/hosts` of its own mount
//!   namespace), a packet socket, a kernel module load, a write to a
//!   `release_agent` file, a shell on a terminal, a binary written in the
//!   container and run; each alert carries its output fields and the
//!   container's name and image, and nothing else fires.
//!
//! Needs root, kernel BTF, podman, runc and busybox (scripts/setup.sh);
//! prints SKIP otherwise.

mod live_common;
mod live_detect;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use live_common::*;
use live_detect::*;

const IMAGE: &str = "localhost/saker-bbd:2";

/// Each test runs a `saker detect` that sees every container: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
/// busybox with `sh`, `sleep`, `nc`, `arping`, `insmod`, `cp` and a
/// `debugfs` link (the rule looks at the process name only), and a file
/// that is no kernel module.
fn make_image(dir: &Path) {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "true", "debugfs", "nc", "arping", "insmod", "cp", "chmod"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("bad.ko"), b"not a kernel module\n").unwrap();
    let tar = dir.join("rootfs.tar");
    run_ok(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."));
    run_ok(Command::new("podman").args(["import"]).arg(&tar).arg(IMAGE));
}

fn container(name: &str, privileged: bool) {
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm", "--name", name]).args([
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ]);
    if privileged {
        c.arg("--privileged");
    }
    // The metadata is looked up when the container shows: debugfs runs
    // once it is surely known (Falco's first events of a container may
    // miss it too).
    run_ok(c.args([IMAGE, "sh", "-c", "sleep 1; debugfs; true"]));
}

#[test]
fn debugfs_in_a_privileged_container_fires_live() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run("debugfs_in_a_privileged_container_fires_live") {
        return;
    }
    let missing: Vec<&str> = ["podman", "runc", "busybox"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        eprintln!("SKIP debugfs_in_a_privileged_container_fires_live: missing {missing:?} (scripts/setup.sh)");
        return;
    }
    let n = nonce();
    let dir = work_dir("detect-containers", &n);
    let _service = podman_service();
    make_image(&dir);
    let rules = falco_rules();
    let d = LiveDetect::start(&["-r", rules.to_str().unwrap()]);

    const RULE: &str = "Debugfs Launched in Privileged Container";
    let from = d.line_count();
    container(&format!("saker-unpriv-{n}"), false);
    std::thread::sleep(Duration::from_secs(1));
    let quiet: Vec<Alert> = d.alerts_since(from).into_iter().filter(|a| a.rule == RULE).collect();
    assert!(
        quiet.is_empty(),
        "fired for an unprivileged container: {:?}",
        quiet.iter().map(|a| &a.line).collect::<Vec<_>>()
    );

    let from = d.line_count();
    container(&format!("saker-priv-{n}"), true);
    let alert = d.wait_alert(from, Duration::from_secs(5), |a| a.rule == RULE).unwrap_or_else(|| {
        panic!("{RULE} did not fire; alerts: {:?}", d.alerts_since(from).iter().map(|a| &a.line).collect::<Vec<_>>())
    });
    let stopped = d.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(alert.priority, "Warning");
    for (field, want) in [
        ("proc.name", "debugfs"),
        ("proc.pname", "sh"),
        ("user.name", "root"),
        ("user.uid", "0"),
        ("evt.type", "execve"),
    ] {
        assert_eq!(alert.field(field).as_deref(), Some(want), "{field} in {}", alert.line);
    }
    for field in ["proc.exepath", "proc.cmdline", "user.loginuid", "evt.arg.flags"] {
        let v = alert.field(field).unwrap_or_default();
        assert!(!v.is_empty() && v != "<NA>", "{field} not filled in {}", alert.line);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a field of an alert must be.
enum Want {
    Is(String),
    Has(String),
    /// Present and not `<NA>`.
    Filled,
    /// Present and not this.
    Not(&'static str),
}

fn is(v: impl Into<String>) -> Want {
    Want::Is(v.into())
}

fn has(v: impl Into<String>) -> Want {
    Want::Has(v.into())
}

/// An alert an action must raise: rule, priority, output fields.
type ExpectedAlert = (&'static str, &'static str, Vec<(&'static str, Want)>);

/// One action, in a container of its own, and the alerts it must raise.
struct ContainerAction {
    name: &'static str,
    /// The rule fires on the container's very first event (its entry
    /// point's execve), before the runtime can have been asked about it:
    /// the alert carries the container's id, its name and image may not be
    /// known yet (as in Falco).
    first_event: bool,
    podman_args: Vec<String>,
    script: String,
    alerts: Vec<ExpectedAlert>,
}

/// `podman run` of this test's image (see [`podman_run`]).
fn run_container(name: &str, args: &[String], script: &str) {
    podman_run(IMAGE, name, args, script);
}

#[test]
fn falco_container_rules_fire_live() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let test = "falco_container_rules_fire_live";
    if !can_run(test) {
        return;
    }
    let missing: Vec<&str> = ["podman", "runc", "busybox", "unshare"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        eprintln!("SKIP {test}: missing {missing:?} (scripts/setup.sh)");
        return;
    }
    let n = nonce();
    let dir = work_dir("detect-container-rules", &n);
    let _service = podman_service();
    make_image(&dir);

    // saker resolves the API server's name from an /etc/hosts of its own
    // (a private mount namespace): 127.0.0.2, where a listener waits.
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.2 kubernetes.default.svc.cluster.local\n").unwrap();
    let api_port = listener("127.0.0.2");
    let nc_port = listener("127.0.0.1");
    let hosts_s = hosts.to_str().unwrap();
    let rules = falco_rules();
    let d = LiveDetect::start_wrapped(
        &own_hosts_wrapper(hosts_s),
        &[
            "-r",
            rules.to_str().unwrap(),
            // the container's name and image in every alert, as Falco users add them
            "-o",
            "append_output=[{extra_output: 'container_id=%container.id container_name=%container.name image=%container.image.repository'}]",
        ],
    );

    let host_net = vec!["--network".to_string(), "host".to_string()];
    let privileged = vec!["--privileged".to_string()];
    let common = |proc_name: &str| -> Vec<(&'static str, Want)> {
        vec![
            ("proc.name", is(proc_name)),
            ("user.name", is("root")),
            ("user.uid", is("0")),
            ("proc.exepath", Want::Filled),
            ("proc.cmdline", Want::Filled),
        ]
    };
    let mut actions = vec![
        ContainerAction {
            name: "nc -e",
            first_event: false,
            podman_args: host_net.clone(),
            // busybox's nc takes everything after -e as the program. A path:
            // busybox's shell runs applets named without one through
            // /proc/self/exe (an execve of "exe", renamed by prctl after),
            // which Falco's rule would not see as nc either.
            script: format!("exec /bin/nc 127.0.0.1 {nc_port} -e /bin/true"),
            alerts: vec![
                ("Netcat Remote Code Execution in Container", "Warning", {
                    let mut v = common("nc");
                    v.push(("proc.cmdline", is(format!("nc 127.0.0.1 {nc_port} -e /bin/true"))));
                    v.push(("proc.exepath", is("/bin/busybox")));
                    v.push(("evt.type", is("execve")));
                    v
                }),
                ("Redirect STDOUT/STDIN to Network Connection in Container", "Notice", {
                    let mut v = common("nc");
                    v.push(("fd.name", has(format!("127.0.0.1:{nc_port}"))));
                    v.push(("fd.type", is("ipv4")));
                    v.push(("evt.type", is("dup2")));
                    v
                }),
            ],
        },
        ContainerAction {
            name: "connect to the API server",
            first_event: false,
            podman_args: host_net.clone(),
            script: format!("exec /bin/nc 127.0.0.2 {api_port} </dev/null"),
            alerts: vec![("Contact K8S API Server From Container", "Notice", {
                let mut v = common("nc");
                v.push(("fd.name", has(format!("->127.0.0.2:{api_port}"))));
                v.push(("fd.rport", is(api_port.to_string())));
                v.push(("evt.type", is("connect")));
                v
            })],
        },
        ContainerAction {
            name: "packet socket",
            first_event: false,
            podman_args: [host_net.clone(), vec!["--cap-add".into(), "NET_RAW".into()]].concat(),
            script: "exec /bin/arping -c 1 -w 1 -I lo 127.0.0.1".into(),
            alerts: vec![("Packet socket created in container", "Notice", {
                let mut v = common("arping");
                v.push(("evt.type", is("socket")));
                v.push(("evt.args", has("AF_PACKET")));
                v
            })],
        },
        ContainerAction {
            name: "kernel module load",
            first_event: false,
            podman_args: privileged.clone(),
            script: "exec /bin/insmod /bad.ko".into(),
            alerts: vec![("Linux Kernel Module Injection Detected", "Warning", {
                let mut v = common("insmod");
                v.push(("proc.args", is("/bad.ko")));
                v.push(("proc.exepath", is("/bin/busybox")));
                v.push(("evt.res", Want::Filled));
                v
            })],
        },
        ContainerAction {
            name: "release_agent write",
            first_event: false,
            podman_args: privileged.clone(),
            script: "echo x > /tmp/release_agent".into(),
            alerts: vec![("Detect release_agent File Container Escapes", "Critical", {
                let mut v = common("sh");
                v.push(("fd.name", is("/tmp/release_agent")));
                v.push(("thread.cap_effective", has("CAP_SYS_ADMIN")));
                v
            })],
        },
        ContainerAction {
            name: "drop and run a binary",
            first_event: false,
            podman_args: vec![],
            // busybox copied into the container's writable layer, run
            // under a name no applet has (it exits 127 after the exec)
            script: "cp /bin/busybox /tmp/sakerdrop && chmod +x /tmp/sakerdrop; /tmp/sakerdrop; true".into(),
            alerts: vec![("Drop and execute new binary in container", "Critical", {
                let mut v = common("sakerdrop");
                v.push(("proc.exepath", is("/tmp/sakerdrop")));
                v.push(("evt.type", is("execve")));
                v
            })],
        },
    ];
    actions.push(ContainerAction {
        name: "shell on a terminal",
        first_event: true,
        // podman run -t: the entry point's shell gets a pseudo-terminal
        podman_args: vec!["-t".into()],
        script: "true".into(),
        alerts: vec![("Terminal shell in container", "Notice", {
            let mut v = common("sh");
            v.push(("proc.tty", Want::Not("0")));
            v
        })],
    });

    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let cname = format!("saker-r{i}-{n}");
        let from = d.line_count();
        let t0 = Instant::now();
        run_container(&cname, &a.podman_args, &a.script);
        for (rule, priority, fields) in &a.alerts {
            let Some(al) = d.wait_alert(from, Duration::from_secs(5), |al| al.rule == *rule) else {
                failures.push(format!(
                    "{}: '{rule}' did not fire; alerts: {:?}",
                    a.name,
                    d.alerts_since(from).iter().map(|a| &a.line).collect::<Vec<_>>()
                ));
                continue;
            };
            report.push(format!("| {} | {rule} | {} ms |", a.name, al.at.saturating_duration_since(t0).as_millis()));
            if al.priority != *priority {
                failures.push(format!("{}: '{rule}' has priority {}, not {priority}", a.name, al.priority));
            }
            let mut all = vec![("container.id", Want::Not("host"))];
            if !a.first_event {
                all.push(("container.name", is(cname.clone())));
                all.push(("container.image.repository", is("localhost/saker-bbd")));
            }
            all.extend(fields.iter().map(|(f, w)| {
                (
                    *f,
                    match w {
                        Want::Is(s) => Want::Is(s.clone()),
                        Want::Has(s) => Want::Has(s.clone()),
                        Want::Filled => Want::Filled,
                        Want::Not(s) => Want::Not(s),
                    },
                )
            }));
            for (field, want) in &all {
                let got = al.field(field);
                let ok = match (want, got.as_deref()) {
                    (_, None | Some("<NA>")) => false,
                    (Want::Is(w), Some(g)) => g == w,
                    (Want::Has(w), Some(g)) => g.contains(w.as_str()),
                    (Want::Filled, Some(g)) => !g.is_empty(),
                    (Want::Not(w), Some(g)) => g != *w,
                };
                if !ok {
                    failures.push(format!(
                        "{}: '{rule}': {field} is {got:?}, wanted {:?}",
                        a.name,
                        match want {
                            Want::Is(s) | Want::Has(s) => s.as_str(),
                            Want::Filled => "a value",
                            Want::Not(_) => "another value",
                        }
                    ));
                }
            }
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let stopped = d.stop();
    // Nothing but the expected alerts (one of each).
    let expected: Vec<&str> = actions.iter().flat_map(|a| a.alerts.iter().map(|(r, _, _)| *r)).collect();
    let alerts = stopped.alerts();
    let unexpected: Vec<&str> =
        alerts.iter().filter(|a| !expected.contains(&a.rule.as_str())).map(|a| a.line.as_str()).collect();
    if !unexpected.is_empty() {
        failures.push(format!("unexpected alerts:\n{}", unexpected.join("\n")));
    }
    eprintln!("| action | rule | latency from the container's start |\n|---|---|---|\n{}", report.join("\n"));
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
