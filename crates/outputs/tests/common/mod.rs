//! Helpers for the tests that run the real programs: free ports, temporary
//! directories, child processes that die with the test, nats-server,
//! rsyslogd, and an HTTP receiver running in its own process (this test
//! binary started again), so that a test can stop or kill it for real.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use saker_outputs::{Alert, FieldValue, Priority};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` until it is true or `timeout` passes; returns its last answer.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory removed at the end of the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "saker-outputs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its pid) when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// SIGSTOP, and waits until the process is stopped: kill(2) returns
    /// before it is, and a busy machine can let it answer one more request.
    #[allow(dead_code)]
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
        let stat = format!("/proc/{}/stat", self.pid());
        let t0 = std::time::Instant::now();
        loop {
            let s = std::fs::read_to_string(&stat).unwrap_or_default();
            // the state follows the command name in parentheses
            let state = s.rfind(')').and_then(|p| s[p + 1..].split_whitespace().next().map(str::to_string));
            if state.as_deref() == Some("T") {
                return;
            }
            assert!(t0.elapsed() < std::time::Duration::from_secs(10), "{} did not stop: {s}", self.name);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds a program on PATH or in the sbin directories Debian installs
/// daemons to. If it is missing: under CI (which installs it with
/// scripts/setup.sh) the test fails; elsewhere it is skipped, loudly.
pub fn require(program: &str, package: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin"].map(PathBuf::from));
    if let Some(p) = dirs.iter().map(|d| d.join(program)).find(|p| p.is_file()) {
        return Some(p);
    }
    let msg = format!(
        "SKIPPED: `{program}` is not installed (Debian package `{package}`; scripts/setup.sh installs it): this test needs the real program"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n*** {msg} ***\n");
    None
}

/// `nats-server -js` on a free port, storing in `dir`.
pub struct NatsServer {
    pub proc: Proc,
    pub url: String,
    pub port: u16,
}

impl NatsServer {
    pub fn start(dir: &TempDir) -> Option<NatsServer> {
        let bin = require("nats-server", "nats-server")?;
        let port = free_port();
        let store = dir.path("jetstream");
        let child = Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .arg("-l")
            .arg(dir.path("nats.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let proc = Proc { child, name: "nats-server".into() };
        let up = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(dir.path("nats.log")).is_ok_and(|l| l.contains("Server is ready"))
        });
        assert!(up, "nats-server did not start: {:?}", std::fs::read_to_string(dir.path("nats.log")));
        Some(NatsServer { proc, url: format!("nats://127.0.0.1:{port}"), port })
    }
}

/// `rsyslogd -n` with a private unix socket (imuxsock) and everything it
/// receives written to a file as `facility.severity programname: message`.
pub struct Rsyslog {
    pub proc: Proc,
    pub socket: PathBuf,
    pub out: PathBuf,
}

impl Rsyslog {
    pub fn start(dir: &TempDir) -> Option<Rsyslog> {
        let bin = require("rsyslogd", "rsyslog")?;
        let socket = dir.path("log.sock");
        let out = dir.path("syslog.out");
        let conf = dir.path("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" CreatePath="on" RateLimit.Interval="0")
template(name="saker" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%: %msg:2:$%\n")
*.* action(type="omfile" file="{out}" template="saker" flushOnTXEnd="on" asyncWriting="off")
"#,
                dir = dir.0.display(),
                socket = socket.display(),
                out = out.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let proc = Proc { child, name: "rsyslogd".into() };
        assert!(wait_until(Duration::from_secs(10), || socket.exists()), "rsyslogd did not create its socket");
        Some(Rsyslog { proc, socket, out })
    }

    pub fn lines(&self) -> Vec<String> {
        read_lines(&self.out)
    }
}

pub fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// The environment variable that turns this test binary into the HTTP
/// receiver (its value: the file to record requests in).
const RECEIVER_ENV: &str = "SAKER_TEST_HTTP_RECEIVER";

/// The receiver's code, run by the `http_receiver_child` test of a test
/// binary when started by [`HttpReceiver::spawn`]; otherwise it returns at
/// once. Records each request as a JSON line {content_type, user_agent,
/// body} and answers 200.
pub fn http_receiver_child() {
    let Some(file) = std::env::var_os(RECEIVER_ENV) else {
        return;
    };
    let file = PathBuf::from(file);
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind receiver");
    let port = server.server_addr().to_ip().unwrap().port();
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&file).unwrap();
    println!("PORT {port}");
    std::io::stdout().flush().unwrap();
    for mut req in server.incoming_requests() {
        let header = |name: &'static str| {
            req.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string()).unwrap_or_default()
        };
        let (ct, ua) = (header("Content-Type"), header("User-Agent"));
        let mut body = String::new();
        let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
        let rec =
            serde_json::json!({"method": req.method().as_str(), "content_type": ct, "user_agent": ua, "body": body});
        writeln!(log, "{rec}").unwrap();
        log.flush().unwrap();
        let _ = req.respond(tiny_http::Response::from_string("ok"));
    }
}

/// The HTTP receiver, in a process of its own.
pub struct HttpReceiver {
    pub proc: Proc,
    pub url: String,
    pub log: PathBuf,
}

impl HttpReceiver {
    pub fn spawn(dir: &TempDir) -> HttpReceiver {
        let log = dir.path("http.jsonl");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "http_receiver_child", "--nocapture", "--test-threads=1"])
            .env(RECEIVER_ENV, &log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the HTTP receiver");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut port = None;
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            // libtest prints "test http_receiver_child ... " before it.
            if let Some(at) = line.find("PORT ") {
                port = Some(line[at + 5..].trim().parse::<u16>().unwrap());
                break;
            }
            line.clear();
        }
        let port = port.expect("receiver port");
        // Keep reading its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        assert!(wait_until(Duration::from_secs(5), || TcpStream::connect(("127.0.0.1", port)).is_ok()));
        HttpReceiver {
            proc: Proc { child, name: "http receiver".into() },
            url: format!("http://127.0.0.1:{port}/"),
            log,
        }
    }

    /// The requests received so far (a line being written is left out).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        read_lines(&self.log).iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// A realistic alert, numbered.
pub fn alert(i: u64) -> Alert {
    let priority = Priority::ALL[(i % 8) as usize];
    Alert {
        time_ns: 1_700_000_000_000_000_000 + i * 1_000_003,
        rule: "Read sensitive file untrusted".into(),
        priority,
        source: "syscall".into(),
        tags: vec!["filesystem".into(), "mitre_credential_access".into(), "T1555".into()],
        hostname: "test-host".into(),
        output: format!(
            "Sensitive file opened for reading by non-trusted program (file=/etc/shadow seq={i} user=root)"
        ),
        output_fields: vec![
            ("fd.name".into(), "/etc/shadow".into()),
            ("evt.num".into(), FieldValue::U64(i)),
            ("proc.pid".into(), FieldValue::I64(4242)),
            ("user.name".into(), "root".into()),
            ("container.id".into(), FieldValue::Null),
        ],
    }
}
