//! What the live `saker detect` tests share: `saker detect` capturing live in
//! the background with JSON alerts on stdout, each line stamped with the
//! moment it arrived; its web server, to know when it captures and to read
//! its metrics; and the alerts, parsed.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// Falco's stable rules (falco_rules.yaml 5.1.0), beside the repository.
pub fn falco_rules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rules/falco_rules.yaml")
}

/// A TCP port nobody listens on now (the kernel's choice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` on 127.0.0.1:`port`; the body, or `None` if nobody answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// The value of the Prometheus sample `name` (with its labels as written,
/// e.g. `saker_outputs_errors_total{output="http"}`), or `None`.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// One alert of `-o json_output=true`, with the moment its line arrived.
#[derive(Clone, Debug)]
pub struct Alert {
    pub at: Instant,
    /// The same moment on the wall clock.
    pub wall: SystemTime,
    pub rule: String,
    pub priority: String,
    pub output: String,
    pub fields: serde_json::Map<String, Value>,
    pub line: String,
}

impl Alert {
    /// An output field as text (numbers printed, null as `<NA>`).
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Null => "<NA>".to_string(),
            other => other.to_string(),
        })
    }

    /// From the event (`evt.time`, in every alert's output fields) to the
    /// line's arrival: the time saker took, without the workload's.
    pub fn pipeline_latency(&self) -> Option<Duration> {
        let ns = self.fields.get("evt.time")?.as_u64()?;
        self.wall.duration_since(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)).ok()
    }
}

/// `saker detect` capturing live in the background.
pub struct LiveDetect {
    child: Child,
    out: crate::live_common::Output,
    /// The port of its web server (`/healthz`, `/metrics`).
    pub port: u16,
}

/// What a stopped `saker detect` left.
pub struct Stopped {
    pub status: ExitStatus,
    pub lines: Vec<(Instant, SystemTime, String)>,
    pub stderr: String,
}

impl Stopped {
    /// The alerts among the lines.
    pub fn alerts(&self) -> Vec<Alert> {
        self.lines.iter().filter_map(|(at, wall, l)| parse_alert(*at, *wall, l)).collect()
    }

    /// The number after `label` on the final summary line
    /// (`Events processed: ...; alerts raised: ...; ...`).
    pub fn summary(&self, label: &str) -> u64 {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("Events processed:"))
            .unwrap_or_else(|| panic!("no summary line in saker detect's stderr:\n{}", self.stderr));
        let at = line.find(label).unwrap_or_else(|| panic!("no '{label}' in '{line}'"));
        line[at + label.len()..]
            .trim_start_matches([':', ' '])
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after '{label}' in '{line}'"))
    }
}

/// Parses one stdout line as a JSON alert.
pub fn parse_alert(at: Instant, wall: SystemTime, line: &str) -> Option<Alert> {
    let v: Value = serde_json::from_str(line).ok()?;
    let o = v.as_object()?;
    Some(Alert {
        at,
        wall,
        rule: o.get("rule")?.as_str()?.to_string(),
        priority: o.get("priority")?.as_str()?.to_string(),
        output: o.get("output").and_then(Value::as_str).unwrap_or_default().to_string(),
        fields: o.get("output_fields").and_then(Value::as_object).cloned().unwrap_or_default(),
        line: line.to_string(),
    })
}

impl LiveDetect {
    /// Starts `saker detect ARGS... -o json_output=true` with syslog off and
    /// the web server on a free port, and waits until it captures: its
    /// metrics count processed events only once the driver is attached and
    /// the state read from /proc.
    pub fn start(args: &[&str]) -> LiveDetect {
        Self::start_wrapped(&[], args)
    }

    /// As [`LiveDetect::start`], saker run by `wrapper` (a command that
    /// ends by exec-ing its arguments, so saker keeps its process id).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> LiveDetect {
        let port = free_port();
        let saker = env!("CARGO_BIN_EXE_saker");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(saker);
                c
            }
            None => Command::new(saker),
        };
        let mut child = cmd
            .arg("detect")
            .args(args)
            .args(["-o", "json_output=true", "-o", "syslog_output.enabled=false"])
            .args(["-o", "webserver.enabled=true", "-o", &format!("webserver.listen_port={port}")])
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run saker");
        let out = crate::live_common::Output::read(&mut child);
        let mut d = LiveDetect { child, out, port };
        let t0 = Instant::now();
        loop {
            let events = d.metrics().and_then(|m| metric(&m, "saker_n_evts_total")).unwrap_or(0.0);
            if events > 0.0 {
                break;
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                let (_, stderr) = d.out.finish();
                panic!("saker detect exited before capturing ({status}): {stderr}");
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "saker detect did not start capturing within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The process id of saker (to send it signals).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> Option<String> {
        http_get(self.port, "/metrics")
    }

    /// How many stdout lines arrived so far.
    pub fn line_count(&self) -> usize {
        self.out.lines.lock().unwrap().len()
    }

    /// The alerts that arrived from line `from` on.
    pub fn alerts_since(&self, from: usize) -> Vec<Alert> {
        self.out.lines.lock().unwrap()[from..].iter().filter_map(|(at, wall, l)| parse_alert(*at, *wall, l)).collect()
    }

    /// Waits until an alert from line `from` on satisfies `f` (or `max`
    /// passes).
    pub fn wait_alert(&self, from: usize, max: Duration, f: impl Fn(&Alert) -> bool) -> Option<Alert> {
        let t0 = Instant::now();
        loop {
            if let Some(a) = self.alerts_since(from).into_iter().find(|a| f(a)) {
                return Some(a);
            }
            if t0.elapsed() > max {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops it with SIGINT (Falco's Ctrl-C) and waits for it to exit.
    pub fn stop(mut self) -> Stopped {
        let st = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status().unwrap();
        assert!(st.success(), "kill -INT failed");
        let status = crate::live_common::wait_exit(&mut self.child, "saker detect");
        let (lines, stderr) = self.out.finish();
        Stopped { status, lines, stderr }
    }
}

impl Drop for LiveDetect {
    fn drop(&mut self) {
        // A failing test must not leave a probe attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A wrapper for [`LiveDetect::start_wrapped`]: saker in a private mount
/// namespace of its own where `hosts` is bind-mounted on /etc/hosts, so it
/// resolves the names a test gives there.
pub fn own_hosts_wrapper(hosts: &str) -> [&str; 8] {
    ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"", hosts]
}

/// The nanoseconds since the epoch now (the clock of `evt.time`).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Fields whose values differ between two saker running side by side
/// whatever they filter: times (each probe stamps the event itself, a few
/// microseconds apart; process start times, durations and latencies are
/// made of such stamps) and `evt.num` (each numbers the events it received,
/// so it is the one field kernel filters change by design).
fn instance_dependent(field: &str) -> bool {
    field == "evt.num"
        || field.contains("time")
        || field.contains("duration")
        || field.contains("latency")
        || field.ends_with("_ts")
        || field.ends_with(".ts")
}

/// A second `saker detect` with the same arguments but no kernel filters
/// (`engine.modern_ebpf.kernel_filters=false`), capturing the same events
/// beside the one under test: the differential check of the filters the
/// rules derive. Every alert the two raise on the events between the moment
/// both capture and the end must be the same, with the same output fields
/// (but those of [`instance_dependent`]).
pub struct Unfiltered {
    d: LiveDetect,
    from_ns: u64,
}

impl Unfiltered {
    /// Starts it as [`LiveDetect::start_wrapped`] would start `args`; call it
    /// once the saker under test captures.
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Unfiltered {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-o", "engine.modern_ebpf.kernel_filters=false"]);
        let d = LiveDetect::start_wrapped(wrapper, &a);
        // Past each one's start-up (the other sees it load its probe).
        std::thread::sleep(Duration::from_millis(300));
        Unfiltered { d, from_ns: now_ns() }
    }

    /// Stops it and compares its alerts with those of the saker under test
    /// (`filtered`, stopped after `end_ns` was read). Alerts about either
    /// saker process are left out (each sees the other's system calls), as
    /// are drop notices; container metadata may be known by one and not
    /// yet by the other (the lookups are asynchronous). For the same
    /// reason the alerts of `container_start` rules (those that fire for
    /// any container as it starts, on its first exec) are left out, and
    /// counted: which of them fires depends on whether the container's
    /// metadata has arrived (`container.privileged`: "Launch Privileged
    /// Container" or, without it, "Launch Excessively Capable Container"),
    /// which each saker's own lookup decides. With events lost by either,
    /// nothing can be compared: said so loudly, not failed. Returns a line
    /// for the test's report, or what differs.
    pub fn compare(self, filtered: &Stopped, end_ns: u64, container_start: &[&str]) -> Result<String, String> {
        let unfiltered = self.d.stop();
        let lost = filtered.summary("events lost by the driver") + unfiltered.summary("events lost by the driver");
        if lost > 0 {
            let m = format!(
                "KERNEL FILTERS NOT COMPARED: the two saker detect lost {lost} events (a loaded host), so their alerts may differ for that reason alone"
            );
            eprintln!("{m}");
            return Ok(m);
        }
        let in_window = |a: &Alert| {
            let t = a.fields.get("evt.time").and_then(Value::as_u64).unwrap_or(0);
            !a.rule.starts_with("Falco internal")
                && t >= self.from_ns
                && t < end_ns
                && a.field("proc.name").as_deref() != Some("saker")
                && a.field("proc.pname").as_deref() != Some("saker")
        };
        let keep = |a: &Alert| in_window(a) && !container_start.contains(&a.rule.as_str());
        let starts = |alerts: &[Alert]| {
            alerts.iter().filter(|a| in_window(a) && container_start.contains(&a.rule.as_str())).count()
        };
        let (starts_with, starts_without) = (starts(&filtered.alerts()), starts(&unfiltered.alerts()));
        // (rule and fields compared exactly, container fields, evt.time)
        let split = |a: &Alert| {
            let mut base: Vec<(String, String)> = Vec::new();
            let mut container: Vec<(String, String)> = Vec::new();
            for (k, v) in &a.fields {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => "<NA>".into(),
                    o => o.to_string(),
                };
                if k.starts_with("container.") {
                    container.push((k.clone(), v))
                } else if !instance_dependent(k) {
                    base.push((k.clone(), v))
                }
            }
            let t = a.fields.get("evt.time").and_then(Value::as_u64).unwrap_or(0);
            ((a.rule.clone(), a.priority.clone(), base), container, t)
        };
        type Split = ((String, String, Vec<(String, String)>), Vec<(String, String)>, u64);
        let mut with: Vec<Split> = filtered.alerts().iter().filter(|a| keep(a)).map(split).collect();
        let mut without: Vec<Split> = unfiltered.alerts().iter().filter(|a| keep(a)).map(split).collect();
        with.sort();
        without.sort();
        let unknown = |v: &str| v.is_empty() || v == "<NA>";
        let same = with.len() == without.len()
            && with.iter().zip(&without).all(|((a, ca, _), (b, cb, _))| {
                a == b
                    && ca.len() == cb.len()
                    && ca
                        .iter()
                        .zip(cb)
                        .all(|((k1, v1), (k2, v2))| k1 == k2 && (v1 == v2 || unknown(v1) || unknown(v2)))
            });
        if !same {
            // Each alert without an equal one on the other side, with the
            // fields in which the nearest of the same rule there differs.
            let only = |x: &[Split], y: &[Split]| {
                let mut out = Vec::new();
                for ((rule, prio, base), _, t) in x {
                    if y.iter().any(|(b, _, _)| b.0 == *rule && b.1 == *prio && b.2 == *base) {
                        continue;
                    }
                    let nearest = y.iter().filter(|(b, _, _)| b.0 == *rule).min_by_key(|(_, _, u)| u.abs_diff(*t));
                    let what = match nearest {
                        Some(((_, _, other), _, u)) => {
                            let differ: Vec<String> = base
                                .iter()
                                .filter(|kv| !other.contains(kv))
                                .map(|(k, v)| {
                                    let o = other.iter().find(|(k2, _)| k2 == k).map_or("(absent)", |(_, v2)| v2);
                                    format!("{k}: {v:?} here, {o:?} there")
                                })
                                .collect();
                            format!(
                                "the nearest of the rule there ({} us apart) differs in {}",
                                u.abs_diff(*t) / 1000,
                                differ.join(", ")
                            )
                        }
                        None => "none of the rule there".to_string(),
                    };
                    out.push(format!(
                        "{rule} {prio} evt.time {t} {base:?}
  -> {what}"
                    ));
                }
                out
            };
            return Err(format!(
                "with kernel filters {} alerts, without {}; only with them:\n{}\nonly without them:\n{}\n(filtered saker: {})",
                with.len(),
                without.len(),
                only(&with, &without).join("\n"),
                only(&without, &with).join("\n"),
                filtered.stderr.lines().filter(|l| l.contains("kernel filter")).collect::<Vec<_>>().join("\n")
            ));
        }
        let starts = if container_start.is_empty() {
            String::new()
        } else {
            format!(" (and {starts_with} / {starts_without} alerts of the container-start rules, not compared)")
        };
        Ok(format!(
            "kernel filters: the same {} alerts with and without them{starts}; {} events filtered in the kernel",
            with.len(),
            filtered.summary("events filtered in the kernel by the rules")
        ))
    }
}
