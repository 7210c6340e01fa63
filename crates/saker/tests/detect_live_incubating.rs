//! Falco's incubating rules (falco-incubating_rules.yaml 5.x, loaded after
//! falco_rules.yaml as Falco does) live, with the modern eBPF driver: every
//! rule whose action can be done safely here is exercised for real (on the
//! host in a temporary directory, in a network namespace of its own for the
//! network rules, in a real podman container for the container rules) and
//! must fire with its output fields filled; an ordinary baseline raises
//! nothing; every alert must be one an action allows. Prints the coverage
//! table of the file (docs/rules-coverage.md holds a copy).
//!
//! Two `saker detect`: the file as it is, then a small group for the rules
//! another rule shadows or that need the user's tuning (Falco's first
//! matching rule wins: "Contact cloud metadata service from container" has
//! the condition of the EC2 rule before it, disabled there through `-o
//! rules=`; "Network Connection outside Local Subnet" needs its namespace
//! list filled, which a rules file of the test's does, as Falco users do).

mod live_common;
mod live_detect;
mod live_rules;

use std::path::Path;

use live_common::*;
use live_rules::*;

const FILE: &str = "falco-incubating_rules.yaml";

/// The stable rule a connection busybox httpd serves raises: its child
/// dup2's the accepted socket onto stdin and stdout. Whether wget's
/// connection is served depends on the moment (httpd starts in the
/// background 0.3 s before it); the CI run of ef0799a saw one served.
const REDIRECT_TO_SOCKET: &str = "Redirect STDOUT/STDIN to Network Connection in Container";

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn host_actions(w: &Path, n: &str) -> Vec<Action> {
    // the actions' closures outlive this call: the nonce lives as long as the test
    let n: &'static str = Box::leak(n.to_string().into_boxed_str());
    let mut v = Vec::new();
    let wd = w.to_path_buf();

    let (dir, cfg) = (wd.clone(), w.join(".bashrc"));
    let c2 = s(&cfg);
    v.push(host(
        "Modify Shell Configuration File",
        "perl appends to DIR/.bashrc",
        "Warning",
        vec![("fd.name", is(s(&cfg))), ("proc.name", is(format!("shcfg{n}"))), ("user.name", is("root"))],
        move || {
            perl(
                &dir,
                &format!("shcfg{n}"),
                r#"open(my $f, ">>", $ARGV[0]) or die "$!"; print $f "alias x=y\n";"#,
                &[&c2],
            )
        },
    ));

    let crontab = true_as(w, "crontab");
    let user = format!("saker{n}");
    v.push(host(
        "Schedule Cron Jobs",
        "a program named crontab runs",
        "Notice",
        vec![
            ("proc.name", is("crontab")),
            ("proc.cmdline", is(format!("crontab -u saker{n} -l"))),
            ("evt.type", is("execve")),
        ],
        move || run(&crontab, &["-u", &user, "-l"]),
    ));

    let (dir, t) = (wd.clone(), true_as(w, "true"));
    let arg = format!("db{n}");
    v.push(host(
        "DB program spawned process",
        "a program named postgres runs a child",
        "Notice",
        vec![("proc.name", is("true")), ("proc.pname", is("postgres")), ("proc.cmdline", is(format!("true db{n}")))],
        move || perl(&dir, "postgres", r#"system($ARGV[0], $ARGV[1]) == 0 or die "$?";"#, &[&s(&t), &arg]),
    ));

    let dir = wd.clone();
    v.push(host(
        "Change thread namespace",
        "setns into its own UTS namespace",
        "Notice",
        vec![("proc.name", is(format!("nsj{n}"))), ("evt.type", is("setns")), ("user.name", is("root"))],
        move || {
            perl(
                &dir,
                &format!("nsj{n}"),
                r#"open(my $f, "<", "/proc/self/ns/uts") or die "$!"; syscall(308, fileno($f), 0) == 0 or die "setns: $!";"#,
                &[],
            )
        },
    ));

    let dir = wd.clone();
    v.push(host(
        "System procs network activity",
        "a program named sleep listens and connects on 198.51.100.7 (own network namespace)",
        "Notice",
        vec![("proc.name", is("sleep")), ("fd.name", has("198.51.100.7:4242")), ("user.name", is("root"))],
        move || {
            perl_in_netns(
                &dir,
                "sleep",
                &["198.51.100.7"],
                r#"my $l = IO::Socket::INET->new(LocalAddr => "198.51.100.7", LocalPort => 4242, Listen => 1, ReuseAddr => 1) or die "listen: $!";
                IO::Socket::INET->new(PeerAddr => "198.51.100.7", PeerPort => 4242) or die "connect: $!";"#,
                &[],
            )
        },
    ));

    let curl = true_as(w, "curl");
    let url = format!("http://proxy-test-{n}.invalid/");
    v.push(host(
        "Program run with disallowed http proxy env",
        "a program named curl runs with HTTP_PROXY set",
        "Notice",
        vec![
            ("proc.name", is("curl")),
            ("proc.env", has("HTTP_PROXY=http://127.0.0.1:3128")),
            ("proc.cmdline", has(n)),
        ],
        move || run_env(&curl, &["-s", &url], &[("HTTP_PROXY", "http://127.0.0.1:3128")]),
    ));

    let dir = wd.clone();
    v.push(host(
        "Unexpected UDP Traffic",
        "a UDP socket connected to 198.51.100.7:5999 (own network namespace)",
        "Notice",
        vec![("proc.name", is(format!("udp{n}"))), ("fd.l4proto", is("udp")), ("fd.name", has("198.51.100.7:5999"))],
        move || {
            perl_in_netns(
                &dir,
                &format!("udp{n}"),
                &["198.51.100.7"],
                r#"IO::Socket::INET->new(PeerAddr => "198.51.100.7", PeerPort => 5999, Proto => "udp") or die "udp: $!";"#,
                &[],
            )
        },
    ));

    let suid = perl_as(w, &format!("setu{n}"));
    v.push(host(
        "Non sudo setuid",
        "user daemon calls setuid(1)",
        "Notice",
        vec![("proc.name", is(format!("setu{n}"))), ("user.name", is("daemon")), ("evt.type", is("setuid"))],
        move || {
            run(
                "setpriv",
                &[
                    "--reuid=daemon",
                    "--regid=daemon",
                    "--clear-groups",
                    &s(&suid),
                    "-e",
                    r#"syscall(105, 1) == 0 or die "setuid: $!";"#,
                ],
            )
        },
    ));

    let useradd = true_as(w, "useradd");
    let user = format!("saker{n}");
    v.push(host(
        "User mgmt binaries",
        "a program named useradd runs (it does nothing)",
        "Notice",
        vec![("proc.name", is("useradd")), ("proc.cmdline", is(format!("useradd -m saker{n}")))],
        move || run(&useradd, &["-m", &user]),
    ));

    let tcpdump = true_as(w, "tcpdump");
    let tag = format!("port{n}");
    v.push(host(
        "Launch Suspicious Network Tool on Host",
        "a program named tcpdump runs",
        "Notice",
        vec![("proc.name", is("tcpdump")), ("proc.cmdline", is(format!("tcpdump -i lo {tag}")))],
        move || run(&tcpdump, &["-i", "lo", &tag]),
    ));

    let (dir, hist) = (wd.clone(), w.join(".zsh_history"));
    let h2 = s(&hist);
    v.push(host(
        "Delete or rename shell history",
        "perl renames DIR/.zsh_history",
        "Warning",
        vec![("proc.name", is(format!("hist{n}"))), ("evt.arg.oldpath", is(s(&hist)))],
        move || {
            // created without O_TRUNC (a truncation is the rule's other case)
            let _ = std::fs::OpenOptions::new().write(true).create_new(true).open(&h2);
            perl(&dir, &format!("hist{n}"), r#"rename($ARGV[0], "$ARGV[0].old") or die "$!";"#, &[&h2]);
        },
    ));

    let (dir, file) = (wd.clone(), w.join("suid-file"));
    let f2 = s(&file);
    v.push(host(
        "Set Setuid or Setgid bit",
        "perl chmod 04755 DIR/suid-file",
        "Notice",
        vec![
            ("proc.name", is(format!("sbit{n}"))),
            ("evt.arg.mode", has("S_ISUID")),
            ("evt.arg.filename", is(s(&file))),
        ],
        move || {
            std::fs::write(&f2, b"x").unwrap();
            perl(&dir, &format!("sbit{n}"), r#"chmod(04755, $ARGV[0]) or die "$!";"#, &[&f2]);
        },
    ));

    let tun = true_as(w, &format!("tun{n}"));
    v.push(host(
        "Potential Local Privilege Escalation via Environment Variables Misuse",
        "a program runs with GLIBC_TUNABLES set",
        "Notice",
        vec![("proc.name", is(format!("tun{n}"))), ("proc.env", has("GLIBC_TUNABLES=glibc.malloc.check=0"))],
        move || run_env(&tun, &[], &[("GLIBC_TUNABLES", "glibc.malloc.check=0")]),
    ));

    let (dir, lib) = (wd.clone(), w.join("liblzma.so.5.6.1"));
    let l2 = s(&lib);
    v.push(host(
        "Backdoored library loaded into SSHD (CVE-2024-3094)",
        "a program named sshd reads DIR/liblzma.so.5.6.1 (an empty file)",
        "Warning",
        vec![("proc.name", is("sshd")), ("fd.name", is(s(&lib)))],
        move || {
            std::fs::write(&l2, b"").unwrap();
            perl(&dir, "sshd", r#"open(my $f, "<", $ARGV[0]) or die "$!";"#, &[&l2]);
        },
    ));

    let dir = wd.clone();
    v.push(host(
        "BPF Program Not Profiled",
        "bpf(BPF_PROG_LOAD) with an empty attribute (refused: EINVAL)",
        "Notice",
        vec![("proc.name", is(format!("bpf{n}"))), ("evt.type", is("bpf"))],
        move || perl(&dir, &format!("bpf{n}"), r#"my $attr = "\0" x 128; syscall(321, 5, $attr, 128);"#, &[]),
    ));
    v
}

fn container_actions(n: &str) -> Vec<Action> {
    let none = ["--network", "none"];
    let root = |name: &str| vec![("proc.name", is(name)), ("user.name", is("root")), ("proc.exepath", Want::Filled)];
    let with = |mut v: Vec<(&'static str, Want)>, more: Vec<(&'static str, Want)>| {
        v.extend(more);
        v
    };
    let metadata_fetch = "/bin/ip addr add 169.254.169.254/32 dev lo && /bin/ip link set lo up && \
        (/bin/httpd -f -p 169.254.169.254:80 -h /tmp &) && /bin/sleep 0.3 && \
        /bin/wget -q -O /dev/null http://169.254.169.254/latest/meta-data/; exit 0";
    vec![
        container(
            "Read ssh information",
            "cat /root/.ssh/id_saker",
            "Error",
            with(root("cat"), vec![("fd.name", is("/root/.ssh/id_saker"))]),
            &none,
            "/bin/mkdir -p /root/.ssh; echo k > /root/.ssh/id_saker; /bin/cat /root/.ssh/id_saker > /dev/null; exit 0",
        ),
        container(
            "Change namespace privileges via unshare",
            "unshare -U without CAP_SYS_ADMIN",
            "Notice",
            with(root("unshare"), vec![("evt.type", is("unshare"))]),
            &none,
            "/bin/unshare -U /bin/true; exit 0",
        ),
        container(
            "Launch Privileged Container",
            "podman run --privileged, pid 1 execs",
            "Informational",
            with(root("true"), vec![("evt.type", is("execve"))]),
            &["--network", "none", "--privileged"],
            "exec /bin/true",
        ),
        container(
            "Launch Excessively Capable Container",
            "podman run --cap-add SYS_ADMIN, pid 1 execs",
            "Informational",
            with(root("true"), vec![("thread.cap_permitted", has("CAP_SYS_ADMIN"))]),
            &["--network", "none", "--cap-add", "SYS_ADMIN"],
            "exec /bin/true",
        ),
        container(
            "Create files below dev",
            "echo > /dev/saker-N",
            "Error",
            with(root("sh"), vec![("fd.name", is(format!("/dev/saker-{n}")))]),
            &none,
            format!("echo x > /dev/saker-{n}; exit 0"),
        ),
        container(
            "Contact EC2 Instance Metadata Service From Container",
            "wget http://169.254.169.254/ (the address on the container's own loopback, served by busybox httpd)",
            "Notice",
            with(root("wget"), vec![("fd.name", has("169.254.169.254:80")), ("evt.type", is("connect"))]),
            &["--network", "none", "--cap-add", "NET_ADMIN"],
            metadata_fetch,
        )
        .may(&["Launch Ingress Remote File Copy Tools in Container", REDIRECT_TO_SOCKET]),
        container(
            "Launch Package Management Process in Container",
            "dpkg -l",
            "Error",
            with(root("dpkg"), vec![("proc.cmdline", is("dpkg -l"))]),
            &none,
            "/bin/dpkg -l > /dev/null 2>&1; exit 0",
        ),
        container(
            "Launch Suspicious Network Tool in Container",
            "nc 127.0.0.1 9",
            "Notice",
            with(root("nc"), vec![("proc.cmdline", is("nc 127.0.0.1 9"))]),
            &none,
            "/bin/nc 127.0.0.1 9 < /dev/null; exit 0",
        ),
        container(
            "Launch Remote File Copy Tools in Container",
            "rsync (a name busybox has no applet for: the exec is what the rule sees)",
            "Notice",
            with(root("rsync"), vec![("proc.cmdline", is("rsync -a /etc /tmp/copy"))]),
            &none,
            "/bin/rsync -a /etc /tmp/copy; exit 0",
        ),
        container(
            "Mount Launched in Privileged Container",
            "mount -t tmpfs none /mnt in a privileged container",
            "Warning",
            with(root("mount"), vec![("proc.cmdline", is("mount -t tmpfs none /mnt"))]),
            &["--network", "none", "--privileged"],
            "/bin/mount -t tmpfs none /mnt; exit 0",
        ),
        container(
            "Launch Ingress Remote File Copy Tools in Container",
            "wget http://127.0.0.1:9/",
            "Notice",
            with(root("wget"), vec![("proc.cmdline", has("http://127.0.0.1:9/"))]),
            &none,
            "/bin/wget -q -O /dev/null http://127.0.0.1:9/; exit 0",
        ),
        container(
            "Read environment variable from /proc files",
            "cat /proc/1/environ",
            "Warning",
            with(root("cat"), vec![("fd.name", is("/proc/1/environ"))]),
            &none,
            "/bin/cat /proc/1/environ > /dev/null; exit 0",
        ),
        container(
            "Exfiltrating Artifacts via Kubernetes Control Plane",
            "tar as the container's entry point (kubectl cp's tar), reading /bin/busybox",
            "Notice",
            with(root("tar"), vec![("fd.name", is("/bin/busybox")), ("proc.tty", is("0"))]),
            &none,
            "exec /bin/tar -cf /dev/null /bin/busybox",
        ),
        container(
            "Adding ssh keys to authorized_keys",
            "echo KEY >> /root/.ssh/authorized_keys",
            "Warning",
            with(root("sh"), vec![("fd.name", is("/root/.ssh/authorized_keys"))]),
            &none,
            "/bin/mkdir -p /root/.ssh; echo ssh-ed25519 AAAA saker >> /root/.ssh/authorized_keys; exit 0",
        ),
    ]
}

#[test]
fn falco_incubating_rules_fire_live() {
    let test = "falco_incubating_rules_fire_live";
    if !can_run_rules(test) {
        return;
    }
    let t0 = std::time::Instant::now();
    let n = nonce();
    mark_run(&n);
    let w = work_dir("incubating", &n);
    let _service = podman_service();
    make_image(&w);
    let stable = rules_file("falco_rules.yaml");
    let incubating = rules_file(FILE);

    let mut actions = host_actions(&w, &n);
    actions.extend(container_actions(&n));
    let main = Group {
        label: "inc",
        rules: vec![stable.clone(), incubating.clone()],
        options: vec![],
        baseline: true,
        hosts: vec![],
        any_container: vec!["Launch Privileged Container", "Launch Excessively Capable Container"],
        runtime_noise: vec![],
    };
    let r1 = run_group(&main, &w, &n, &actions);

    // The shadowed rule and the rule that needs its list filled.
    let tuning = w.join("tuning.yaml");
    std::fs::write(
        &tuning,
        "- list: namespace_scope_network_only_subnet\n  items: [saker-ns]\n  override:\n    items: append\n",
    )
    .unwrap();
    let metadata_fetch = "/bin/ip addr add 169.254.169.254/32 dev lo && /bin/ip link set lo up && \
        (/bin/httpd -f -p 169.254.169.254:80 -h /tmp &) && /bin/sleep 0.3 && \
        /bin/wget -q -O /dev/null http://169.254.169.254/latest/meta-data/; exit 0";
    let root = |name: &str| vec![("proc.name", is(name)), ("user.name", is("root")), ("proc.exepath", Want::Filled)];
    let mut cloud = root("wget");
    cloud.extend([("fd.name", has("169.254.169.254:80")), ("evt.type", is("connect"))]);
    let mut subnet = root("wget");
    subnet.extend([("fd.name", has("198.51.100.9:8080")), ("evt.type", is("connect"))]);
    let small = vec![
        container(
            "Contact cloud metadata service from container",
            "wget http://169.254.169.254/ (as for the EC2 rule, which is disabled in this run)",
            "Notice",
            cloud,
            &["--network", "none", "--cap-add", "NET_ADMIN"],
            metadata_fetch,
        )
        .may(&["Launch Ingress Remote File Copy Tools in Container", REDIRECT_TO_SOCKET]),
        container(
            "Network Connection outside Local Subnet",
            "wget http://198.51.100.9:8080/ in a container labelled with Kubernetes namespace saker-ns (the list \
             namespace_scope_network_only_subnet given [saker-ns] by a rules file of the test's)",
            "Warning",
            subnet,
            &["--network", "none", "--cap-add", "NET_ADMIN", "--label", "io.kubernetes.pod.namespace=saker-ns"],
            "/bin/ip addr add 198.51.100.9/32 dev lo && /bin/ip link set lo up && \
             (/bin/httpd -f -p 198.51.100.9:8080 -h /tmp &) && /bin/sleep 0.3 && \
             /bin/wget -q -O /dev/null http://198.51.100.9:8080/; exit 0",
        )
        .may(&["Launch Ingress Remote File Copy Tools in Container", REDIRECT_TO_SOCKET]),
    ];
    let second = Group {
        label: "inc2",
        rules: vec![stable, incubating, tuning],
        options: vec![
            "-o".into(),
            "rules=[{disable: {rule: 'Contact EC2 Instance Metadata Service From Container'}}]".into(),
        ],
        baseline: false,
        hosts: vec![],
        any_container: vec!["Launch Privileged Container", "Launch Excessively Capable Container"],
        runtime_noise: vec![],
    };
    let r2 = run_group(&second, &w, &n, &small);

    let mut fired = r1.fired.clone();
    fired.extend(r2.fired.clone());
    let (table, f, total) = coverage(FILE, &fired, &[]);
    eprintln!(
        "\n{}\n{}\n\n{table}\nincubating: {f} / {total} fired; run time {:.0} s",
        r1.report.join("\n"),
        r2.report.join("\n"),
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&w);
    let failures: Vec<String> = r1.failures.into_iter().chain(r2.failures).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
