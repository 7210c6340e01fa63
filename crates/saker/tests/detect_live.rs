//! `saker detect` live, with the modern eBPF driver: the host threats that
//! saker's default rules cover, each performed for real on this host, raise
//! the expected alert (rule, priority, output fields) within one second, with
//! saker's rules and again with Falco's stable rules (falco_rules.yaml
//! 5.1.0); and an ordinary workload (a compile, the test suite's own
//! helpers) raises nothing.
//!
//! One `saker detect` per ruleset runs the baseline, then every action one
//! after the other; at the end every alert it raised must be one an action
//! expected, so the actions a ruleset must stay silent on are checked too.
//! Workloads are perl (or `true`) under the names the rules look for, in a
//! per-run directory whose path carries a nonce. While the actions run, a
//! program opens a file every 20 ms, as on a host that is never quiet.

mod live_common;
mod live_detect;

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use live_common::*;
use live_detect::*;

/// The tests of this file each run a `saker detect` that sees the whole
/// host: one at a time, so that one's actions are not in the other's
/// baseline.
static SERIAL: Mutex<()> = Mutex::new(());

/// The most an alert may take, from the start of its action to its line on
/// saker's stdout.
const MAX_LATENCY: Duration = Duration::from_secs(1);

/// How a field of an alert must look.
#[derive(Clone, Debug)]
enum Check {
    Is(String),
    Has(String),
    EndsWith(String),
}

fn is(v: impl Into<String>) -> Check {
    Check::Is(v.into())
}

fn has(v: impl Into<String>) -> Check {
    Check::Has(v.into())
}

fn ends_with(v: impl Into<String>) -> Check {
    Check::EndsWith(v.into())
}

impl Check {
    fn ok(&self, v: &str) -> bool {
        match self {
            Check::Is(x) => v == x,
            Check::Has(x) => v.contains(x.as_str()),
            Check::EndsWith(x) => v.ends_with(x.as_str()),
        }
    }
}

/// An alert an action must raise.
#[derive(Clone, Debug)]
struct Expected {
    rule: &'static str,
    priority: &'static str,
    fields: Vec<(&'static str, Check)>,
}

fn expect(rule: &'static str, priority: &'static str, fields: Vec<(&'static str, Check)>) -> Expected {
    Expected { rule, priority, fields }
}

impl Expected {
    /// Whether `a` is this alert: same rule and the key fields as expected.
    fn matches(&self, a: &Alert) -> bool {
        a.rule == self.rule && self.fields.iter().all(|(f, c)| a.field(f).is_some_and(|v| c.ok(&v)))
    }
}

/// What a ruleset does about an action.
#[derive(Clone, Debug)]
enum Outcome {
    Fires(Vec<Expected>),
    /// Silent, and why.
    Silent(&'static str),
}

/// A host action and what each ruleset raises for it.
struct Action {
    name: &'static str,
    /// How long the action waits on purpose before what the rule sees (the
    /// latency is counted from its start plus this).
    lead: Duration,
    run: Box<dyn Fn()>,
    saker: Outcome,
    falco: Outcome,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ruleset {
    Saker,
    Falco,
}

/// Runs a program to its end, asserting it succeeded.
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) {
    let program = program.as_ref();
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().expect("cannot run a workload");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}\n{}{}",
        program.to_string_lossy(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs perl under the name `name` with `script` and `args` to its end.
fn perl(dir: &Path, name: &str, script: &str, args: &[&str]) {
    let script = script.trim().replace('\n', " ");
    run(perl_as(dir, name), &[&["-e", script.as_str()], args].concat());
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The actions, performed in `w` with the run's nonce `n`.
fn actions(w: &Path, n: &str) -> Vec<Action> {
    let mut v = Vec::new();
    let wd = w.to_path_buf();

    // Sensitive file read.
    let (dir, name) = (wd.clone(), format!("snoop{n}"));
    v.push(Action {
        name: "read /etc/shadow",
        lead: Duration::ZERO,
        run: Box::new(move || {
            perl(&dir, &name, r#"open(my $f, "<", "/etc/shadow") or die "shadow: $!"; my $l = <$f>;"#, &[])
        }),
        saker: Outcome::Fires(vec![expect(
            "Credential file read by untrusted program",
            "Warning",
            vec![("fd.name", is("/etc/shadow")), ("proc.name", is(format!("snoop{n}"))), ("user.name", is("root"))],
        )]),
        falco: Outcome::Fires(vec![expect(
            "Read sensitive file untrusted",
            "Warning",
            vec![("fd.name", is("/etc/shadow")), ("proc.name", is(format!("snoop{n}"))), ("user.name", is("root"))],
        )]),
    });

    // A web server, up for more than 5 s, reads /etc/shadow: Falco's
    // "trusted after startup" (proc.duration), before its "untrusted" rule.
    let (dir, name) = (wd.clone(), "nginx".to_string());
    let fields = vec![("fd.name", is("/etc/shadow")), ("proc.name", is("nginx")), ("user.name", is("root"))];
    v.push(Action {
        name: "nginx reads /etc/shadow after 5 s",
        lead: Duration::from_millis(5300),
        run: Box::new(move || {
            perl(
                &dir,
                &name,
                r#"select(undef, undef, undef, 5.3); open(my $f, "<", "/etc/shadow") or die "shadow: $!";"#,
                &[],
            )
        }),
        saker: Outcome::Fires(vec![expect("Credential file read by untrusted program", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Read sensitive file trusted after startup", "Warning", fields)]),
    });

    // /etc/hostname read through ../../ from the test's directory (where
    // the workloads run).
    let (dir, name) = (wd.clone(), format!("trav{n}"));
    let depth = std::env::current_dir().unwrap().components().count() - 1;
    assert!(depth >= 2, "the traversal needs two ../ at least");
    let raw = format!("{}etc/hostname", "../".repeat(depth));
    let fields = vec![
        ("fd.name", is("/etc/hostname")),
        ("fd.nameraw", is(raw.clone())),
        ("proc.name", is(format!("trav{n}"))),
        ("user.name", is("root")),
    ];
    v.push(Action {
        name: "read /etc/hostname through ../../",
        lead: Duration::ZERO,
        run: Box::new(move || perl(&dir, &name, r#"open(my $f, "<", $ARGV[0]) or die "$ARGV[0]: $!";"#, &[&raw])),
        saker: Outcome::Silent("saker's rules watch credential files, not traversal"),
        falco: Outcome::Fires(vec![expect("Directory traversal monitored file read", "Warning", fields)]),
    });

    // A shell started by a web server.
    let (dir, cmd) = (wd.clone(), format!(": svc{n}"));
    let shell_fields = vec![
        ("proc.name", is("sh")),
        ("proc.pname", is("nginx")),
        ("proc.cmdline", is(format!("sh -c : svc{n}"))),
        ("user.name", is("root")),
    ];
    v.push(Action {
        name: "nginx starts a shell",
        lead: Duration::ZERO,
        run: Box::new(move || {
            perl(&dir, "nginx", r#"system("/bin/sh", "-c", $ARGV[0]) == 0 or die "sh: $?";"#, &[&cmd])
        }),
        saker: Outcome::Fires(vec![expect("Shell spawned by a service", "Critical", shell_fields.clone())]),
        falco: Outcome::Fires(vec![expect("Run shell untrusted", "Notice", shell_fields)]),
    });

    // A symbolic link and a hard link over /etc/shadow (the work directory
    // is on /etc's file system: checked by the caller).
    let link = w.join("shadow-link");
    let l2 = s(&link);
    let fields = vec![
        ("evt.arg.target", is("/etc/shadow")),
        ("evt.arg.linkpath", is(s(&link))),
        ("proc.name", is("ln")),
        ("user.name", is("root")),
    ];
    v.push(Action {
        name: "ln -s /etc/shadow",
        lead: Duration::ZERO,
        run: Box::new(move || run("ln", &["-s", "/etc/shadow", &l2])),
        saker: Outcome::Fires(vec![expect("Symlink over sensitive file", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Create Symlink Over Sensitive Files", "Warning", fields)]),
    });
    let hard = w.join("shadow-hard");
    let h2 = s(&hard);
    let fields = vec![
        ("evt.arg.oldpath", is("/etc/shadow")),
        ("evt.arg.newpath", is(s(&hard))),
        ("proc.name", is("ln")),
        ("user.name", is("root")),
    ];
    v.push(Action {
        name: "ln /etc/shadow",
        lead: Duration::ZERO,
        run: Box::new(move || {
            run("ln", &["/etc/shadow", &h2]);
            // A copy of the shadow file's inode must not outlive the test.
            std::fs::remove_file(&h2).unwrap();
        }),
        saker: Outcome::Fires(vec![expect("Hardlink over sensitive file", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Create Hardlink Over Sensitive Files", "Warning", fields)]),
    });

    // Log clearing: `: > /var/log/FILE` (open with O_TRUNC).
    let log = PathBuf::from(format!("/var/log/saker-test-{n}.log"));
    let log2 = log.clone();
    let fields = vec![("fd.name", is(s(&log))), ("proc.name", is("sh")), ("user.name", is("root"))];
    v.push(Action {
        name: ": > /var/log/FILE",
        lead: Duration::ZERO,
        run: Box::new(move || {
            // Created without O_TRUNC, so that only the clearing alerts.
            {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&log2).unwrap();
                f.write_all(b"Nov 22 10:00:00 host sshd[1]: Accepted password for root\n").unwrap();
            }
            run("sh", &["-c", &format!(": > {}", log2.display())]);
            std::fs::remove_file(&log2).unwrap();
        }),
        saker: Outcome::Fires(vec![expect("Log file cleared", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Clear Log Activities", "Warning", fields)]),
    });

    // Bulk data removal.
    let victim = w.join("victim.dat");
    let v2 = s(&victim);
    let fields = vec![("proc.name", is("shred")), ("proc.cmdline", is(format!("shred -u {}", s(&victim))))];
    v.push(Action {
        name: "shred -u FILE",
        lead: Duration::ZERO,
        run: Box::new(move || {
            std::fs::write(&v2, vec![0x5a; 64 << 10]).unwrap();
            run("shred", &["-u", &v2]);
        }),
        saker: Outcome::Fires(vec![expect("Bulk data removal", "Critical", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Remove Bulk Data from Disk", "Warning", fields)]),
    });

    // Key and credential searches.
    let home = s(w);
    let fields = vec![("proc.name", is("find")), ("proc.cmdline", is(format!("find {home} -name id_rsa")))];
    let h = home.clone();
    v.push(Action {
        name: "find -name id_rsa",
        lead: Duration::ZERO,
        run: Box::new(move || run("find", &[&h, "-name", "id_rsa"])),
        saker: Outcome::Fires(vec![expect("Search for keys or credentials", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Search Private Keys or Passwords", "Warning", fields)]),
    });
    let fields =
        vec![("proc.name", is("grep")), ("proc.cmdline", is(format!("grep -rl aws_secret_access_key {home}")))];
    let h = home.clone();
    v.push(Action {
        name: "grep -r aws_secret_access_key",
        lead: Duration::ZERO,
        run: Box::new(move || run("grep", &["-rl", "aws_secret_access_key", &h])),
        saker: Outcome::Fires(vec![expect("Search for keys or credentials", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Find AWS Credentials", "Warning", fields)]),
    });
    let fields = vec![("proc.name", is("find")), ("proc.cmdline", is(format!("find {home} -path */.aws/credentials")))];
    let h = home.clone();
    v.push(Action {
        name: "find -path */.aws/credentials",
        lead: Duration::ZERO,
        run: Box::new(move || run("find", &[&h, "-path", "*/.aws/credentials"])),
        saker: Outcome::Fires(vec![expect("Search for keys or credentials", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Find AWS Credentials", "Warning", fields)]),
    });

    // ptrace: attach, seize (on a child), and the anti-debug TRACEME.
    for (what, request, code) in [("PTRACE_ATTACH", "ptatt", 16), ("PTRACE_SEIZE", "ptsez", 0x4206)] {
        let (dir, name) = (wd.clone(), format!("{request}{n}"));
        let script = format!(
            r#"my $pid = fork(); die "fork: $!" unless defined $pid; if ($pid == 0) {{ sleep 30; exit 0 }}
            syscall(101, {code}, $pid, 0, 0) == 0 or die "ptrace: $!";
            if ({code} == 16) {{ waitpid($pid, 0); syscall(101, 17, $pid, 0, 0) }}
            kill 9, $pid; waitpid($pid, 0);"#
        );
        v.push(Action {
            name: if code == 16 { "ptrace(PTRACE_ATTACH)" } else { "ptrace(PTRACE_SEIZE)" },
            lead: Duration::ZERO,
            run: Box::new(move || perl(&dir, &name, &script, &[])),
            saker: Outcome::Fires(vec![expect(
                "Process attached with ptrace",
                "Warning",
                vec![("proc.name", is(format!("{request}{n}"))), ("evt.arg.request", is(what))],
            )]),
            falco: Outcome::Fires(vec![expect(
                "PTRACE attached to process",
                "Warning",
                vec![("proc.name", is(format!("{request}{n}"))), ("user.name", is("root"))],
            )]),
        });
    }
    let (dir, name) = (wd.clone(), format!("adbg{n}"));
    let fields = vec![("proc.name", is(format!("adbg{n}"))), ("user.name", is("root"))];
    v.push(Action {
        name: "ptrace(PTRACE_TRACEME)",
        lead: Duration::ZERO,
        run: Box::new(move || perl(&dir, &name, r#"syscall(101, 0, 0, 0, 0) == 0 or die "traceme: $!";"#, &[])),
        saker: Outcome::Fires(vec![expect("Anti-debugging with ptrace", "Notice", fields.clone())]),
        falco: Outcome::Fires(vec![expect("PTRACE anti-debug attempt", "Notice", fields)]),
    });

    // Execution from /dev/shm.
    let shm = PathBuf::from(format!("/dev/shm/saker-{n}"));
    let shm2 = shm.clone();
    let fields = vec![("proc.exepath", is(s(&shm))), ("proc.cmdline", is(format!("saker-{n}")))];
    v.push(Action {
        name: "run /dev/shm/PROGRAM",
        lead: Duration::ZERO,
        run: Box::new(move || {
            std::fs::copy("/usr/bin/true", &shm2).unwrap();
            run(&shm2, &[]);
            std::fs::remove_file(&shm2).unwrap();
        }),
        saker: Outcome::Fires(vec![expect("Execution from /dev/shm", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Execution from /dev/shm", "Warning", fields)]),
    });

    // Fileless execution: `true` copied into a memfd, run from
    // /proc/self/fd/N. (The name of the process is then the fd number.)
    let (dir, name) = (wd.clone(), format!("mfd{n}"));
    let script = format!(
        r#"my $fd = syscall(319, my $mname = "sk{n}", 0); $fd >= 0 or die "memfd_create: $!";
        open(my $src, "<:raw", "/usr/bin/true") or die "true: $!"; my $bin = do {{ local $/; <$src> }};
        open(my $mem, ">&=", $fd) or die "fdopen: $!"; binmode $mem; print $mem $bin; $mem->flush;
        exec {{"/proc/self/fd/$fd"}} "mfd{n}", "fileless{n}" or die "exec: $!";"#
    );
    let fields = vec![("proc.cmdline", has(format!(" fileless{n}"))), ("user.name", is("root"))];
    v.push(Action {
        name: "execve a memfd",
        lead: Duration::ZERO,
        run: Box::new(move || perl(&dir, &name, &script, &[])),
        saker: Outcome::Fires(vec![expect("Fileless execution via memfd", "Critical", fields.clone())]),
        falco: Outcome::Fires(vec![expect("Fileless execution via memfd_create", "Critical", fields)]),
    });

    // Kernel module injection: finit_module then init_module on a fake
    // module. Both fail (this kernel has no module support: ENOSYS; another
    // would refuse the image), and saker reports the attempts.
    let (dir, name) = (wd.clone(), format!("modinj{n}"));
    let ko = w.join("rootkit.ko");
    let ko2 = s(&ko);
    let script = r#"open(my $f, "<", $ARGV[0]) or die "ko: $!"; syscall(313, fileno($f), my $p = "", 0);
        my $img = "\x7fELF" . ("\0" x 60); syscall(175, $img, length($img), my $q = "");"#;
    let module = |syscall: &'static str| {
        expect(
            "Kernel module load attempt",
            "Warning",
            vec![("evt.type", is(syscall)), ("proc.name", is(format!("modinj{n}"))), ("user.name", is("root"))],
        )
    };
    v.push(Action {
        name: "finit_module + init_module",
        lead: Duration::ZERO,
        run: Box::new(move || {
            std::fs::write(&ko2, b"\x7fELF not really a module").unwrap();
            perl(&dir, &name, script, &[&ko2]);
        }),
        saker: Outcome::Fires(vec![module("finit_module"), module("init_module")]),
        falco: Outcome::Silent(
            "Linux Kernel Module Injection Detected is container-only (`container` macro: container.id != host, \
             and CAP_SYS_MODULE in the container): a module load on the host raises nothing",
        ),
    });

    // A network tool: a program named nmap.
    let nmap = w.join("nmap");
    std::os::unix::fs::symlink("/usr/bin/true", &nmap).unwrap();
    let arg = format!("scan{n}");
    v.push(Action {
        name: "run nmap",
        lead: Duration::ZERO,
        run: Box::new(move || run(&nmap, &["-sn", &arg])),
        saker: Outcome::Fires(vec![expect(
            "Network tool started",
            "Notice",
            vec![("proc.name", is("nmap")), ("proc.cmdline", is(format!("nmap -sn scan{n}")))],
        )]),
        falco: Outcome::Silent(
            "the stable rules have no host rule for network tools: Netcat Remote Code Execution in Container \
             is container-only and only for nc/ncat with -e/-c",
        ),
    });

    // ssh to a loopback listener on a port other than 22.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = wd.clone();
    v.push(Action {
        name: "ssh to 127.0.0.1:PORT",
        lead: Duration::ZERO,
        run: Box::new(move || {
            let _keep = &listener;
            perl(
                &dir,
                "ssh",
                r#"use IO::Socket::INET; IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die "connect: $!";"#,
                &[&port.to_string()],
            )
        }),
        saker: Outcome::Fires(vec![expect(
            "SSH to a non-standard port",
            "Notice",
            vec![
                ("proc.name", is("ssh")),
                ("fd.sport", is(port.to_string())),
                ("fd.name", ends_with(format!("->127.0.0.1:{port}"))),
            ],
        )]),
        falco: Outcome::Silent(
            "Disallowed SSH Connection Non Standard Port only looks at outbound connections: its `outbound` \
             macro excludes 127.0.0.0/8 (and the ports it knows are 80, 8080, 88, 443, 8443, 53, 4444)",
        ),
    });

    // ssh to port 4444 of a public address: a network namespace of its own
    // (so that nothing leaves the host) with 198.51.100.7 (TEST-NET-2, not
    // loopback nor RFC 1918) on its loopback interface.
    let ssh = perl_as(w, "ssh");
    let tag = format!("net{n}");
    let fields =
        vec![("proc.name", is("ssh")), ("fd.name", ends_with("->198.51.100.7:4444")), ("user.name", is("root"))];
    let mut saker_fields = fields.clone();
    saker_fields.push(("fd.sport", is("4444")));
    v.push(Action {
        name: "ssh to 198.51.100.7:4444",
        lead: Duration::ZERO,
        run: Box::new(move || {
            let script = format!(
                r#"my $tag = "{tag}"; my $l = IO::Socket::INET->new(LocalAddr => "198.51.100.7", LocalPort => 4444, Listen => 1, ReuseAddr => 1) or die "listen: $!"; IO::Socket::INET->new(PeerAddr => "198.51.100.7", PeerPort => 4444) or die "connect: $!";"#
            );
            run(
                "unshare",
                &[
                    "--net",
                    "sh",
                    "-c",
                    r#"ip link set lo up && ip addr add 198.51.100.7/32 dev lo && exec "$0" -MIO::Socket::INET -e "$1""#,
                    &s(&ssh),
                    &script,
                ],
            )
        }),
        saker: Outcome::Fires(vec![expect("SSH to a non-standard port", "Notice", saker_fields)]),
        falco: Outcome::Fires(vec![expect("Disallowed SSH Connection Non Standard Port", "Notice", fields)]),
    });

    // An interactive shell as a system user: under a program named sshd (what
    // Falco's `interactive` macro looks for), `script` gives a terminal, and
    // setpriv becomes daemon (uid 1) to run the shell.
    let dir = wd.clone();
    let cmd = format!("setpriv --reuid=daemon --regid=daemon --clear-groups /bin/sh -c ': tty{n}'");
    let fields =
        vec![("user.name", is("daemon")), ("proc.name", is("sh")), ("proc.cmdline", is(format!("sh -c : tty{n}")))];
    v.push(Action {
        name: "shell as daemon on a tty",
        lead: Duration::ZERO,
        run: Box::new(move || {
            let out = Command::new(perl_as(&dir, "sshd"))
                .args(["-e", r#"system("script", "-qc", $ARGV[0], "/dev/null") == 0 or die "script: $?";"#, &cmd])
                .env("SHELL", "/bin/sh")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "script: {out:?}");
        }),
        saker: Outcome::Fires(vec![expect("Interactive shell as a system user", "Warning", fields.clone())]),
        falco: Outcome::Fires(vec![expect("System user interactive", "Informational", fields)]),
    });
    v
}

/// An ordinary workload: a small C program compiled and run, cargo, git in a
/// fresh repository, perl, shells, and the test suite's own helpers.
fn baseline(w: &Path, n: &str) {
    let b = w.join("baseline");
    std::fs::create_dir_all(&b).unwrap();
    let c = b.join("hello.c");
    std::fs::write(&c, "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n").unwrap();
    let exe = b.join("hello");
    run("cc", &["-O2", "-Wall", "-o", &s(&exe), &s(&c)]);
    run(&exe, &[]);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(&cargo, &["--version"]);
    let repo = b.join("repo");
    let r = s(&repo);
    run("git", &["init", "-q", &r]);
    run("git", &["-C", &r, "status", "--short"]);
    std::fs::write(repo.join("README"), "baseline\n").unwrap();
    run("git", &["-C", &r, "add", "README"]);
    run("git", &["-C", &r, "-c", "user.name=saker", "-c", "user.email=saker@localhost", "commit", "-qm", "baseline"]);
    run("git", &["-C", &r, "log", "--oneline"]);
    run("perl", &["-e", "print qq(ok\\n)"]);
    // The helpers of the live tests: perl under a marker name, saker itself.
    let mut p =
        spawn_perl(w, &format!("helper{n}"), r#"open(my $f, "<", $ARGV[0]) or die; print scalar <$f>;"#, &[&s(&c)]);
    let _ = read_line(&mut p);
    wait_ok(p, "perl helper");
    run(env!("CARGO_BIN_EXE_saker"), &["--version"]);
    let cap = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/captures/falco__cat_write.scap");
    run(env!("CARGO_BIN_EXE_saker"), &["trace", "-r", &s(&cap), "-n", "100"]);
    run("sh", &["-c", "echo sh; ls /etc > /dev/null; id > /dev/null"]);
    run("bash", &["-c", "echo bash; ps ax > /dev/null; uname -a"]);
}

/// One ruleset, live: baseline, then every action; returns the latencies
/// (action, rule, priority, latency) for the report.
fn run_ruleset(ruleset: Ruleset) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let test = format!("detect_live {ruleset:?}");
    if !can_run(&test) {
        return;
    }
    let n = nonce();
    let w = work_dir(&format!("detect-{}", if ruleset == Ruleset::Saker { "s" } else { "f" }), &n);
    assert_eq!(
        std::fs::metadata(&w).unwrap().dev(),
        std::fs::metadata("/etc/shadow").unwrap().dev(),
        "the hard link test needs {} on /etc's file system",
        w.display()
    );
    // Something for the searches to find.
    std::fs::create_dir_all(w.join(".aws")).unwrap();
    std::fs::write(w.join(".aws/credentials"), "[default]\naws_secret_access_key = not-a-real-key\n").unwrap();
    let actions = actions(&w, &n);

    let rules = falco_rules();
    let args: Vec<&str> = match ruleset {
        Ruleset::Saker => vec![],
        Ruleset::Falco => vec!["-r", rules.to_str().unwrap()],
    };
    let d = LiveDetect::start(&args);
    // The differential check of the kernel filters: the same rules beside
    // it, without them.
    let unfiltered = Unfiltered::start_wrapped(&[], &args);

    // The baseline first: nothing at all may fire.
    let from = d.line_count();
    let t0 = Instant::now();
    baseline(&w, &n);
    let baseline_time = t0.elapsed();
    std::thread::sleep(MAX_LATENCY);
    let fp = d.alerts_since(from);
    assert!(
        fp.is_empty(),
        "{ruleset:?}: the baseline (a compile, cargo, git, perl, saker) raised {} alert(s):\n{}",
        fp.len(),
        fp.iter().map(|a| a.line.as_str()).collect::<Vec<_>>().join("\n")
    );

    // Then each action, one after the other, on a host that is never quiet:
    // a program opens a file every 20 ms meanwhile, so that the driver never
    // goes idle and alerts must not wait for it to.
    let mut ticker = spawn_perl(
        &w,
        &format!("tick{n}"),
        r#"for (1 .. 6000) { open(my $f, "<", "/etc/hostname") or die; close $f; select(undef, undef, undef, 0.02); }"#,
        &[],
    );
    let mut report = Vec::new();
    let mut expected_all: Vec<Expected> = Vec::new();
    let mut failures = Vec::new();
    for a in &actions {
        let outcome = if ruleset == Ruleset::Saker { &a.saker } else { &a.falco };
        let from = d.line_count();
        let t0 = Instant::now();
        (a.run)();
        let ran = t0.elapsed();
        match outcome {
            Outcome::Fires(exp) => {
                for e in exp {
                    expected_all.push(e.clone());
                    match d.wait_alert(from, Duration::from_secs(5), |al| e.matches(al)) {
                        Some(al) => {
                            let latency = al.at.saturating_duration_since(t0 + a.lead);
                            report.push(format!(
                                "| {} | {} | {} | {} ms | {} ms | {} |",
                                a.name,
                                al.rule,
                                al.priority,
                                latency.as_millis(),
                                ran.as_millis(),
                                al.pipeline_latency()
                                    .map_or("?".into(), |l| format!("{:.1} ms", l.as_secs_f64() * 1e3))
                            ));
                            if al.priority != e.priority {
                                failures.push(format!(
                                    "{}: {} has priority {}, expected {}",
                                    a.name, al.rule, al.priority, e.priority
                                ));
                            }
                            if latency >= MAX_LATENCY {
                                failures
                                    .push(format!("{}: {} took {latency:?} (over {MAX_LATENCY:?})", a.name, al.rule));
                            }
                        }
                        None => {
                            let got = d.alerts_since(from);
                            failures.push(format!(
                                "{}: no '{}' alert with {:?} within 5 s; alerts since the action:\n{}",
                                a.name,
                                e.rule,
                                e.fields,
                                got.iter().map(|a| a.line.as_str()).collect::<Vec<_>>().join("\n")
                            ));
                        }
                    }
                }
            }
            Outcome::Silent(why) => report.push(format!("| {} | none: {why} | - | - | - | - |", a.name)),
        }
    }
    std::thread::sleep(MAX_LATENCY);
    let _ = ticker.kill();
    let _ = ticker.wait();
    let end_ns = now_ns();
    let stopped = d.stop();
    match unfiltered.compare(&stopped, end_ns, &[]) {
        Ok(line) => eprintln!("{ruleset:?} rules: {line}"),
        Err(e) => failures.push(format!("the kernel filters changed the alerts: {e}")),
    }
    let _ = std::fs::remove_dir_all(&w);

    // Every alert must be one an action expected: anything else is a false
    // positive, or an alert where the ruleset must stay silent.
    let alerts = stopped.alerts();
    let mut claimed = vec![false; alerts.len()];
    for e in &expected_all {
        if let Some(i) = (0..alerts.len()).find(|&i| !claimed[i] && e.matches(&alerts[i])) {
            claimed[i] = true;
        }
    }
    let unexpected: Vec<&str> =
        alerts.iter().zip(&claimed).filter(|(_, c)| !**c).map(|(a, _)| a.line.as_str()).collect();
    if !unexpected.is_empty() {
        failures.push(format!("{} unexpected alert(s):\n{}", unexpected.len(), unexpected.join("\n")));
    }
    eprintln!(
        "\n{ruleset:?} rules: baseline {} ms, no alert; actions:\n| action | rule | priority | latency (from the action's start) | action's run time | event to alert line |\n|---|---|---|---|---|---|\n{}",
        baseline_time.as_millis(),
        report.join("\n")
    );
    let drops = stopped.summary("events lost by the driver");
    eprintln!("{}", stopped.stderr.lines().last().unwrap_or_default());
    assert!(stopped.status.success(), "saker detect: {}\n{}", stopped.status, stopped.stderr);
    assert_eq!(stopped.summary("alerts raised"), alerts.len() as u64, "{}", stopped.stderr);
    assert!(failures.is_empty(), "{ruleset:?} rules ({drops} events lost by the driver):\n{}", failures.join("\n\n"));
}

#[test]
fn saker_rules_catch_host_threats_live_and_not_a_baseline() {
    run_ruleset(Ruleset::Saker);
}

#[test]
fn falco_stable_rules_catch_host_threats_live_and_not_a_baseline() {
    run_ruleset(Ruleset::Falco);
}
