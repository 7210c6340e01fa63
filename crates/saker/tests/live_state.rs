//! Live state through `saker trace -p`: processes started while capturing (a
//! shell pipeline, a TCP client and server on loopback, a process that
//! changes directory and opens relative paths, a process in a cgroup laid
//! out like a docker container's) show the right `proc.*`, `fd.*` and
//! `container.id` values on their events.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use live_common::*;

const FIELDS: [&str; 15] = [
    "proc.pid",
    "proc.ppid",
    "proc.name",
    "proc.pname",
    "proc.cmdline",
    "proc.cwd",
    "evt.type",
    "evt.dir",
    "fd.num",
    "fd.typechar",
    "fd.name",
    "fd.sport",
    "fd.cport",
    "fd.l4proto",
    "container.id",
];

/// One printed event, by field name.
struct Line(Vec<String>);

impl Line {
    fn get(&self, field: &str) -> &str {
        let i = FIELDS.iter().position(|f| *f == field).unwrap_or_else(|| panic!("field {field} not printed"));
        &self.0[i]
    }

    fn is(&self, pairs: &[(&str, &str)]) -> bool {
        pairs.iter().all(|(f, v)| self.get(f) == *v)
    }
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\t"))
    }
}

/// The events matching `pairs`; fails showing every line of the workload
/// (`context`) when there is none.
fn find<'a>(lines: &'a [Line], pairs: &[(&str, &str)], context: &str) -> &'a Line {
    lines.iter().find(|l| l.is(pairs)).unwrap_or_else(|| {
        let shown: Vec<String> =
            lines.iter().filter(|l| format!("{l:?}").contains(context)).map(|l| format!("{l:?}")).collect();
        panic!("no event with {pairs:?}; events of {context}:\n{}", shown.join("\n"))
    })
}

/// Where to create a cgroup named like a docker container's, and how it
/// shows in /proc/<pid>/cgroup.
struct DockerCgroup {
    dir: PathBuf,
    made_parent: Option<PathBuf>,
}

impl DockerCgroup {
    /// `/sys/fs/cgroup/<controller>/docker/<id>` on cgroup v1 (the layout
    /// docker uses with cgroupfs), `/sys/fs/cgroup/system.slice/docker-<id>.scope`
    /// on cgroup v2 (the systemd driver's).
    fn create(id: &str) -> DockerCgroup {
        let root = Path::new("/sys/fs/cgroup");
        if root.join("cgroup.controllers").exists() {
            // cgroup v2: the probe names the nearest cgroup with the controller
            // enabled, so enable pids down to the new one.
            let parent = root.join("system.slice");
            let made_parent = (!parent.exists()).then(|| parent.clone());
            std::fs::create_dir_all(&parent).unwrap();
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+pids");
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+pids");
            let dir = parent.join(format!("docker-{id}.scope"));
            std::fs::create_dir(&dir).unwrap();
            return DockerCgroup { dir, made_parent };
        }
        let controller = ["pids", "cpu", "memory", "blkio", "devices"]
            .into_iter()
            .map(|c| root.join(c))
            .find(|p| p.join("cgroup.procs").exists())
            .expect("a cgroup v1 controller to create a docker-like cgroup in");
        let parent = controller.join("docker");
        let made_parent = (!parent.exists()).then(|| parent.clone());
        std::fs::create_dir_all(&parent).unwrap();
        let dir = parent.join(id);
        std::fs::create_dir(&dir).unwrap();
        DockerCgroup { dir, made_parent }
    }
}

impl Drop for DockerCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(p) = &self.made_parent {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// TCP server: listens on loopback, reports its port, accepts one client,
/// reads its message and answers.
const SERVER: &str = r#"
use strict; use Socket;
$| = 1;
socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($l, SOL_SOCKET, SO_REUSEADDR, 1);
bind($l, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
listen($l, 5) or die "listen: $!";
my ($port) = unpack_sockaddr_in(getsockname($l));
print "$port\n";
accept(my $c, $l) or die "accept: $!";
sysread($c, my $buf, 100);
syswrite($c, "pong-$ARGV[0]");
close($c); close($l);
"#;

/// TCP client: connects to the server, sends a message, reads the answer,
/// reports its local port.
const CLIENT: &str = r#"
use strict; use Socket;
$| = 1;
my ($port, $n) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
syswrite($s, "ping-$n");
sysread($s, my $buf, 100);
my ($lport) = unpack_sockaddr_in(getsockname($s));
print "$lport\n";
close($s);
"#;

/// Changes directory and opens paths relative to it.
const CWD: &str = r#"
use strict;
my ($dir, $n) = @ARGV;
chdir("$dir/sub-$n") or die "chdir: $!";
open(my $a, "<", "rel-$n") or die "open rel: $!";
chdir("..") or die "chdir ..: $!";
open(my $b, "<", "sub-$n/../sub-$n/./rel2-$n") or die "open rel2: $!";
close($a); close($b);
"#;

#[test]
fn live_events_carry_process_fd_and_container_state() {
    if !can_run("live_events_carry_process_fd_and_container_state") {
        return;
    }
    let n = nonce();
    let dir = work_dir("live-state", &n);
    let d = dir.to_str().unwrap().to_string();
    let input = format!("{d}/in-{n}");
    let output = format!("{d}/out-{n}");
    std::fs::write(&input, format!("hello-{n}\n")).unwrap();
    std::fs::create_dir(format!("{d}/sub-{n}")).unwrap();
    std::fs::write(format!("{d}/sub-{n}/rel-{n}"), b"a").unwrap();
    std::fs::write(format!("{d}/sub-{n}/rel2-{n}"), b"b").unwrap();
    let container_id: String = format!("{n}{}", "0123456789abcdef".repeat(4))[..64].to_string();
    let cgroup = DockerCgroup::create(&container_id);
    let sh = ["/bin/sh", "/usr/bin/sh"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let sh_as = |name: &str| {
        let link = dir.join(name);
        std::os::unix::fs::symlink(sh, &link).unwrap();
        link
    };

    // Tabs between fields: command lines hold '|' ("$| = 1").
    let format = format!("*%{}", FIELDS.join("\t%"));
    let filter = format!("proc.name contains {n} or proc.pname contains {n}");
    let capture = dir.join("state.scap");
    let trace = LiveTrace::start(&capture, &["-p", &format, &filter]);

    // 1. A shell pipeline.
    let pipe_sh = format!("skp-{n}");
    let st = Command::new(sh_as(&pipe_sh))
        .arg("-c")
        .arg(format!("cat {input} | tr a-z A-Z | wc -c > {output}"))
        .status()
        .unwrap();
    assert!(st.success());
    // 2. A TCP server and client on loopback.
    let mut server = spawn_perl(&dir, &format!("skv-{n}"), SERVER, &[&n]);
    let sport: String = read_line(&mut server);
    let mut client = spawn_perl(&dir, &format!("skc-{n}"), CLIENT, &[&sport, &n]);
    let cport = read_line(&mut client);
    wait_ok(client, "the TCP client");
    wait_ok(server, "the TCP server");
    // 3. A process that changes directory and opens relative paths.
    wait_ok(spawn_perl(&dir, &format!("skd-{n}"), CWD, &[&d, &n]), "the cwd workload");
    // 4. A process moved into a docker-like cgroup, whose child reads a file.
    let procs = cgroup.dir.join("cgroup.procs");
    let st = Command::new(sh_as(&format!("skg-{n}")))
        .arg("-c")
        .arg(format!("echo $$ > {}; cat {input} > /dev/null; exit 0", procs.display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());

    let last = format!("\tskg-{n}\t");
    assert!(
        trace.wait_for(Duration::from_secs(20), |l| l.contains(&last) && l.contains(&format!("\t{input}\t"))),
        "the container workload's events did not show"
    );
    std::thread::sleep(Duration::from_millis(300));
    let done = trace.stop("INT");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    drop(cgroup);
    // What saker printed, kept beside the capture for when an assertion fails.
    std::fs::write(dir.join("printed.txt"), done.stdout.join("\n")).unwrap();
    // Lines with fewer fields than printed are those where rendering a
    // path spoiled the line (see the report); not what these assertions
    // look at.
    let lines: Vec<Line> = done
        .stdout
        .iter()
        .map(|l| Line(l.split('\t').map(str::to_string).collect()))
        .filter(|l| l.0.len() == FIELDS.len())
        .collect();

    // 1. The pipeline: each program's name, parent, command line and fds.
    let cat =
        find(&lines, &[("proc.name", "cat"), ("evt.type", "openat"), ("evt.dir", "<"), ("fd.name", &input)], "cat");
    assert_eq!(cat.get("proc.pname"), pipe_sh);
    assert_eq!(cat.get("proc.cmdline"), format!("cat {input}"));
    assert_eq!(cat.get("fd.typechar"), "f");
    assert_eq!(cat.get("proc.cwd"), format!("{}/", std::env::current_dir().unwrap().display()));
    let cat_pid = cat.get("proc.pid").to_string();
    let cat_write = find(&lines, &[("proc.pid", &cat_pid), ("evt.type", "write"), ("evt.dir", "<")], "cat");
    assert_eq!((cat_write.get("fd.num"), cat_write.get("fd.typechar")), ("1", "p"));
    let tr = find(&lines, &[("proc.name", "tr"), ("evt.type", "read"), ("evt.dir", "<"), ("fd.num", "0")], "tr");
    assert_eq!(tr.get("fd.typechar"), "p");
    assert_eq!(tr.get("proc.cmdline"), "tr a-z A-Z");
    assert_eq!((tr.get("proc.pname"), tr.get("proc.ppid")), (pipe_sh.as_str(), cat.get("proc.ppid")));
    let wc = find(&lines, &[("proc.name", "wc"), ("evt.type", "write"), ("evt.dir", "<"), ("fd.num", "1")], "wc");
    assert_eq!((wc.get("fd.typechar"), wc.get("fd.name")), ("f", output.as_str()));
    assert_eq!(wc.get("proc.cmdline"), "wc -c");

    // 2. Loopback TCP: both ends name the same connection, each from its side.
    let tuple = format!("127.0.0.1:{cport}->127.0.0.1:{sport}");
    let client_name = format!("skc-{n}");
    let connect = find(&lines, &[("proc.name", &client_name), ("evt.type", "connect"), ("evt.dir", "<")], "skc");
    assert_eq!(connect.get("fd.name"), tuple);
    assert_eq!((connect.get("fd.typechar"), connect.get("fd.l4proto")), ("4", "tcp"));
    assert_eq!((connect.get("fd.sport"), connect.get("fd.cport")), (sport.as_str(), cport.as_str()));
    let sent = find(
        &lines,
        &[("proc.name", &client_name), ("evt.type", "write"), ("evt.dir", "<"), ("fd.name", &tuple)],
        "skc",
    );
    assert_eq!(sent.get("fd.num"), connect.get("fd.num"));
    let server_name = format!("skv-{n}");
    let accept = lines
        .iter()
        .find(|l| l.is(&[("proc.name", &server_name), ("evt.dir", "<")]) && l.get("evt.type").starts_with("accept"))
        .unwrap_or_else(|| panic!("no accept exit of the server"));
    assert_eq!((accept.get("fd.name"), accept.get("fd.typechar")), (tuple.as_str(), "4"));
    let received = find(
        &lines,
        &[("proc.name", &server_name), ("evt.type", "read"), ("evt.dir", "<"), ("fd.name", &tuple)],
        "skv",
    );
    assert_eq!(received.get("fd.num"), accept.get("fd.num"));
    assert_eq!((received.get("fd.sport"), received.get("fd.cport")), (sport.as_str(), cport.as_str()));
    assert_eq!(received.get("fd.l4proto"), "tcp");
    let listening = find(&lines, &[("proc.name", &server_name), ("evt.type", "listen"), ("evt.dir", "<")], "skv");
    assert_eq!(listening.get("fd.typechar"), "4");

    // 3. Relative paths resolve against the directory of the moment.
    let cwd_name = format!("skd-{n}");
    let rel = format!("{d}/sub-{n}/rel-{n}");
    let rel2 = format!("{d}/sub-{n}/rel2-{n}");
    let first =
        find(&lines, &[("proc.name", &cwd_name), ("evt.type", "openat"), ("evt.dir", "<"), ("fd.name", &rel)], "skd");
    assert_eq!(first.get("proc.cwd"), format!("{d}/sub-{n}/"));
    let second =
        find(&lines, &[("proc.name", &cwd_name), ("evt.type", "openat"), ("evt.dir", "<"), ("fd.name", &rel2)], "skd");
    assert_eq!(second.get("proc.cwd"), format!("{d}/"));

    // 4. The container: the child started after the move is in it.
    let container_sh = format!("skg-{n}");
    let in_container = find(
        &lines,
        &[
            ("proc.name", "cat"),
            ("proc.pname", &container_sh),
            ("evt.type", "openat"),
            ("evt.dir", "<"),
            ("fd.name", &input),
        ],
        "skg",
    );
    assert_eq!(in_container.get("container.id"), &container_id[..12]);
    assert_eq!(cat.get("container.id"), "host");
    std::fs::remove_dir_all(&dir).unwrap();
}
