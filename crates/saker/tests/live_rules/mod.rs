//! What the live tests of Falco's incubating and sandbox rules share: a
//! group of actions (on the host, or each in a podman container of its own)
//! run under one `saker detect`, each asserting its rule fires with its
//! output fields filled, an ordinary baseline that must raise nothing, every
//! alert accounted for, and the coverage table (fired / not exercised and
//! why) of a rules file.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::live_common::*;
use crate::live_detect::*;

/// The image of these tests: busybox, its applets, and a few names the
/// rules look for.
pub const IMAGE: &str = "localhost/saker-rules:1";
pub const IMAGE_REPO: &str = "localhost/saker-rules";

/// A rules file of Falco's beside the repository.
pub fn rules_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/rules").join(name)
}

/// The rules of a rules file, in order, with whether the file enables them.
pub fn rules_in(file: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out: Vec<(String, bool)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("- rule: ") {
            out.push((name.trim().to_string(), true));
        } else if line.trim() == "enabled: false" {
            if let Some(last) = out.last_mut() {
                last.1 = false;
            }
        }
    }
    out
}

/// Runs a program to its end, asserting it succeeded.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) {
    run_env(program, args, &[]);
}

/// As [`run`], with environment variables added.
pub fn run_env(program: impl AsRef<std::ffi::OsStr>, args: &[&str], env: &[(&str, &str)]) {
    let mut c = Command::new(program.as_ref());
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    run_ok(&mut c);
}

/// Runs perl under the name `name` with `script` (one line) and `args`.
pub fn perl(dir: &Path, name: &str, script: &str, args: &[&str]) {
    let script = script.trim().replace('\n', " ");
    run(perl_as(dir, name), &[&["-e", script.as_str()], args].concat());
}

/// A symbolic link named `name` in `dir` to /usr/bin/true: running it gives
/// a process of that name that does nothing.
pub fn true_as(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/usr/bin/true", &link).unwrap();
    link
}

/// Runs perl under the name `name` in a network namespace of its own whose
/// loopback interface also has `addrs` (TEST-NET or private addresses:
/// nothing leaves the host), with `script` and `args`.
pub fn perl_in_netns(dir: &Path, name: &str, addrs: &[&str], script: &str, args: &[&str]) {
    let perl = perl_as(dir, name);
    let mut setup = String::from("ip link set lo up");
    for a in addrs {
        setup.push_str(&format!(" && ip addr add {a}/32 dev lo"));
    }
    let script = script.trim().replace('\n', " ");
    let sh = format!("{setup} && exec \"$0\" -MIO::Socket::INET -e \"$@\"");
    run("unshare", &[&["--net", "sh", "-c", &sh, perl.to_str().unwrap(), &script], args].concat());
}

/// The image, made offline: busybox with its applets (run by absolute path
/// in the scripts: busybox's shell runs an applet named without one through
/// /proc/self/exe, as a process named `exe`), names busybox has no applet
/// for (`rsync`, `kubectl`: they exit 127 after the exec the rules see), an
/// `npm` script that runs a network tool, and the directories the actions
/// write to.
pub fn make_image(dir: &Path) {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "mnt", "usr/bin", "usr/local/bin", "lib", "var/lib"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let applets = [
        "sh", "sleep", "true", "cat", "mkdir", "chmod", "cp", "mv", "rm", "tar", "base64", "wget", "nc", "mount",
        "unshare", "ip", "head", "dpkg", "httpd", "echo",
    ];
    for name in applets.iter().chain(&["rsync", "kubectl", "nmap"]) {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(name)).unwrap();
    }
    std::fs::write(root.join("bin/npm"), "#!/bin/sh\n/bin/nmap -sn 127.0.0.1\nexit 0\n").unwrap();
    run_ok(Command::new("chmod").arg("755").arg(root.join("bin/npm")));
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\ndaemon:x:1:\n").unwrap();
    let tar = dir.join("rootfs.tar");
    run_ok(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."));
    run_ok(Command::new("podman").args(["import"]).arg(&tar).arg(IMAGE));
}

/// `podman run` of the image with `args`, `script` under `sh -c` after a
/// second (a container's metadata is looked up when it first shows). The
/// actions may fail inside: only podman's own failures count.
pub fn run_container(name: &str, args: &[String], script: &str) {
    podman_run(IMAGE, name, args, script);
}

/// How a field of an alert must look.
#[derive(Clone, Debug)]
pub enum Want {
    Is(String),
    Has(String),
    /// Present, not empty and not `<NA>`.
    Filled,
}

pub fn is(v: impl Into<String>) -> Want {
    Want::Is(v.into())
}

pub fn has(v: impl Into<String>) -> Want {
    Want::Has(v.into())
}

impl Want {
    fn ok(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (_, None | Some("<NA>")) => false,
            (Want::Is(w), Some(g)) => g == w,
            (Want::Has(w), Some(g)) => g.contains(w.as_str()),
            (Want::Filled, Some(g)) => !g.is_empty(),
        }
    }
}

/// Where an action runs.
pub enum Run {
    Host(Box<dyn Fn()>),
    /// In a container of its own: podman's arguments and the script.
    Container(Vec<String>, String),
}

/// One action: the rule it exercises (the first alert it must raise), the
/// alerts it must raise, and the rules that may fire besides (another rule
/// on another event of the same action).
pub struct Action {
    pub rule: &'static str,
    pub what: String,
    pub run: Run,
    pub priority: &'static str,
    pub fields: Vec<(&'static str, Want)>,
    /// Other alerts the action must raise.
    pub more: Vec<(&'static str, Vec<(&'static str, Want)>)>,
    /// Rules that may fire too, and why.
    pub may: Vec<&'static str>,
}

pub fn host(
    rule: &'static str,
    what: impl Into<String>,
    priority: &'static str,
    fields: Vec<(&'static str, Want)>,
    f: impl Fn() + 'static,
) -> Action {
    Action { rule, what: what.into(), run: Run::Host(Box::new(f)), priority, fields, more: vec![], may: vec![] }
}

pub fn container(
    rule: &'static str,
    what: impl Into<String>,
    priority: &'static str,
    fields: Vec<(&'static str, Want)>,
    podman_args: &[&str],
    script: impl Into<String>,
) -> Action {
    Action {
        rule,
        what: what.into(),
        run: Run::Container(podman_args.iter().map(|s| s.to_string()).collect(), script.into()),
        priority,
        fields,
        more: vec![],
        may: vec![],
    }
}

impl Action {
    pub fn more(mut self, rule: &'static str, fields: Vec<(&'static str, Want)>) -> Action {
        self.more.push((rule, fields));
        self
    }

    pub fn may(mut self, rules: &[&'static str]) -> Action {
        self.may.extend_from_slice(rules);
        self
    }
}

/// The variable in the environment of every process this test starts on
/// the host (set by [`mark_run`]): an alert about a host process without it
/// is about another process of the host (CI builds and fuzzers share it).
pub const RUN_VAR: &str = "SAKER_RULES_RUN";

/// Puts the run's nonce in the environment the test's processes inherit.
pub fn mark_run(n: &str) {
    // SAFETY: each test binary of these rules runs one test, which sets it
    // before it starts any thread of its own.
    unsafe { std::env::set_var(RUN_VAR, n) };
}

/// One `saker detect`: its rules files and options, whether it runs the
/// baseline, and the names saker resolves from an /etc/hosts of its own.
pub struct Group {
    pub label: &'static str,
    pub rules: Vec<PathBuf>,
    pub options: Vec<String>,
    pub baseline: bool,
    pub hosts: Vec<(&'static str, &'static str)>,
    /// Rules that may fire for any container of this group.
    pub any_container: Vec<&'static str>,
    /// Rules that fire on the runtime's own work for the test's containers
    /// (podman's lock under /etc/cni, its hidden temporary files, runc's init
    /// making the container's mount points): counted, not failed.
    pub runtime_noise: Vec<&'static str>,
}

/// What a group did: per target rule, the action and the outcome.
pub struct GroupResult {
    pub fired: BTreeMap<String, String>,
    pub failures: Vec<String>,
    pub report: Vec<String>,
}

/// An ordinary workload: a C program compiled and run, git, perl, shells,
/// saker itself, and an ordinary container.
fn baseline(w: &Path, n: &str) {
    let b = w.join("baseline");
    std::fs::create_dir_all(&b).unwrap();
    let c = b.join("hello.c");
    std::fs::write(&c, "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n").unwrap();
    let exe = b.join("hello");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    run("cc", &["-O2", "-Wall", "-o", &s(&exe), &s(&c)]);
    run(&exe, &[]);
    let repo = b.join("repo");
    let r = s(&repo);
    run("git", &["init", "-q", &r]);
    std::fs::write(repo.join("README"), "baseline\n").unwrap();
    run("git", &["-C", &r, "add", "README"]);
    run("git", &["-C", &r, "-c", "user.name=saker", "-c", "user.email=saker@localhost", "commit", "-qm", "baseline"]);
    run("perl", &["-e", "print qq(ok\\n)"]);
    run(env!("CARGO_BIN_EXE_saker"), &["--version"]);
    run("sh", &["-c", "echo sh; ls /etc > /dev/null; id > /dev/null"]);
    run("bash", &["-c", "echo bash; ps ax > /dev/null; uname -a > /dev/null; cat /etc/os-release > /dev/null"]);
    // without a network: with podman's default (CNI) network, podman and
    // the CNI plugin `tuning` call setns, which the incubating rule "Change
    // thread namespace" reports (it excludes docker's and Kubernetes'
    // binaries, not podman's)
    run_container(
        &format!("saker-base-{n}"),
        &["--network".into(), "none".into()],
        "/bin/cat /etc/passwd > /dev/null; /bin/sleep 0.2; exit 0",
    );
}

/// Runs a group: saker started, the baseline, each action in turn (an
/// action whose alert does not come within 5 s is done once more: the host
/// is shared, and the driver may drop events under load), then every alert
/// checked against what the actions allow.
pub fn run_group(g: &Group, w: &Path, n: &str, actions: &[Action]) -> GroupResult {
    let mut args: Vec<String> = Vec::new();
    for r in &g.rules {
        args.push("-r".into());
        args.push(r.to_str().unwrap().into());
    }
    args.extend(g.options.iter().cloned());
    // the container's name and image in every alert, as Falco users add them
    args.push("-o".into());
    args.push(
        format!("append_output=[{{extra_output: 'container_name=%container.name image=%container.image.repository container_id=%container.id run=%proc.env[{RUN_VAR}]'}}]"),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let hosts = w.join(format!("hosts-{}", g.label));
    let hosts_wrapper = own_hosts_wrapper(hosts.to_str().unwrap());
    let wrapper: &[&str] = if g.hosts.is_empty() { &[] } else { &hosts_wrapper };
    let d = if g.hosts.is_empty() {
        LiveDetect::start(&argv)
    } else {
        let mut text = String::from("127.0.0.1 localhost\n");
        for (name, ip) in &g.hosts {
            text.push_str(&format!("{ip} {name}\n"));
        }
        std::fs::write(&hosts, text).unwrap();
        LiveDetect::start_wrapped(wrapper, &argv)
    };
    // The differential check of the kernel filters: the same rules beside
    // it, without them.
    let unfiltered = Unfiltered::start_wrapped(wrapper, &argv);
    let mut failures = Vec::new();
    let mut report = Vec::new();
    let mut base_window = None;
    if g.baseline {
        let from = d.line_count();
        let t0 = Instant::now();
        baseline(w, n);
        std::thread::sleep(Duration::from_secs(1));
        let fp: Vec<Alert> = d
            .alerts_since(from)
            .into_iter()
            .filter(|a| {
                !a.rule.starts_with("Falco internal")
                    && !foreign(a, n)
                    && !runtime_noise(g, a)
                    && !g.any_container.contains(&a.rule.as_str())
            })
            .collect();
        report.push(format!("{}: baseline {} ms, {} alert(s)", g.label, t0.elapsed().as_millis(), fp.len()));
        // the rules that fire for every container, for the baseline's
        base_window = Some((from, d.line_count(), g.any_container.clone(), Some(format!("saker-base-{n}"))));
        if !fp.is_empty() {
            failures.push(format!(
                "{}: the baseline raised {} alert(s):\n{}",
                g.label,
                fp.len(),
                fp.iter().map(|a| a.line.as_str()).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    let mut fired = BTreeMap::new();
    // (alert line index range, allowed rules, container name) per action
    let mut allowed: Vec<(usize, usize, Vec<&'static str>, Option<String>)> = base_window.into_iter().collect();
    for (i, a) in actions.iter().enumerate() {
        let cname = format!("saker-{}{i}-{n}", g.label);
        let from = d.line_count();
        let t0 = Instant::now();
        let mut wanted: Vec<(&'static str, Vec<(&'static str, Want)>)> = vec![(a.rule, a.fields.clone())];
        wanted.extend(a.more.iter().cloned());
        let is_container = matches!(a.run, Run::Container(..));
        if is_container {
            for (_, f) in wanted.iter_mut() {
                f.push(("container.name", is(cname.clone())));
                f.push(("container.image.repository", is(IMAGE_REPO)));
            }
        }
        let mut outcome = String::new();
        for attempt in 0..2 {
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &a.run {
                Run::Host(f) => f(),
                Run::Container(pa, script) => run_container(&cname, pa, script),
            }));
            if done.is_err() {
                failures.push(format!("{}: {}: the action failed (attempt {})", g.label, a.what, attempt + 1));
            }
            let mut missing = Vec::new();
            let mut lat = Vec::new();
            for (rule, fields) in &wanted {
                let got = d.wait_alert(from, Duration::from_secs(5), |al| al.rule == *rule);
                let Some(al) = got else {
                    missing.push(format!("'{rule}' did not fire"));
                    continue;
                };
                // the alert with the wanted fields, if another of the same rule came first
                let al = d
                    .alerts_since(from)
                    .into_iter()
                    .find(|x| x.rule == *rule && fields.iter().all(|(f, w)| w.ok(x.field(f).as_deref())))
                    .unwrap_or(al);
                lat.push(format!("{} ms", al.at.saturating_duration_since(t0).as_millis()));
                if *rule == a.rule && al.priority != a.priority {
                    missing.push(format!("'{rule}' has priority {}, not {}", al.priority, a.priority));
                }
                for (f, w) in fields {
                    if !w.ok(al.field(f).as_deref()) {
                        missing.push(format!("'{rule}': {f} is {:?}, wanted {w:?} ({})", al.field(f), al.line));
                    }
                }
            }
            if missing.is_empty() {
                outcome = format!(
                    "| {} | {} | {} |{}",
                    a.rule,
                    a.what,
                    lat.join(", "),
                    if attempt > 0 { " (2nd try)" } else { "" }
                );
                fired.insert(a.rule.to_string(), a.what.clone());
                break;
            }
            if attempt == 1 {
                failures.push(format!(
                    "{}: {}: {}; alerts since the action:\n{}",
                    g.label,
                    a.what,
                    missing.join("; "),
                    d.alerts_since(from).iter().map(|a| a.line.as_str()).collect::<Vec<_>>().join("\n")
                ));
                outcome = format!("| {} | {} | FAILED |", a.rule, a.what);
            }
        }
        report.push(outcome);
        let mut rules: Vec<&'static str> = wanted.iter().map(|(r, _)| *r).collect();
        rules.extend(a.may.iter().copied());
        allowed.push((from, d.line_count(), rules, is_container.then_some(cname)));
    }
    std::thread::sleep(Duration::from_secs(1));
    let end_ns = now_ns();
    let stopped = d.stop();
    assert!(stopped.status.success(), "saker detect: {}\n{}", stopped.status, stopped.stderr);
    match unfiltered.compare(&stopped, end_ns, &g.any_container) {
        Ok(line) => report.push(format!("{}: {line}", g.label)),
        Err(e) => failures.push(format!("{}: the kernel filters changed the alerts: {e}", g.label)),
    }
    // Every alert must be one an action allows (in its time, or naming its
    // container), a drop notice, podman's own work, or about another
    // process of the host.
    let lines = &stopped.lines;
    let mut unexpected = Vec::new();
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    let mut drops = 0;
    let mut podman: BTreeMap<String, usize> = BTreeMap::new();
    for (idx, (at, wall, line)) in lines.iter().enumerate() {
        let Some(al) = parse_alert(*at, *wall, line) else { continue };
        if al.rule.starts_with("Falco internal") {
            drops += 1;
            continue;
        }
        let cont = al.field("container.name");
        let ok = allowed.iter().any(|(from, to, rules, cname)| {
            let in_time = idx >= *from && idx < *to + 4;
            let its_container = cname.is_some() && cont.as_deref() == cname.as_deref();
            rules.contains(&al.rule.as_str()) && (in_time || its_container)
        }) || (g.any_container.contains(&al.rule.as_str())
            && (cont.as_deref().is_some_and(|c| c.starts_with("saker-") && c.ends_with(n))
                // a container's first events, before its metadata is known
                || allowed.iter().any(|(from, to, _, cname)| cname.is_some() && idx >= *from && idx < *to + 4)));
        if ok {
            continue;
        }
        // The saker beside it (without kernel filters) and its children:
        // loading its probe, reading /proc, looking containers up.
        let about_saker =
            al.field("proc.name").as_deref() == Some("saker") || al.field("proc.pname").as_deref() == Some("saker");
        if foreign(&al, n) || about_saker {
            *others.entry(format!("{} ({})", al.rule, al.field("proc.name").unwrap_or_default())).or_insert(0) += 1;
            continue;
        }
        if runtime_noise(g, &al) {
            *podman.entry(format!("{} ({})", al.rule, al.field("proc.name").unwrap_or_default())).or_insert(0) += 1;
            continue;
        }
        unexpected.push(line.clone());
    }
    if !unexpected.is_empty() {
        failures.push(format!("{}: {} unexpected alert(s):\n{}", g.label, unexpected.len(), unexpected.join("\n")));
    }
    report.push(format!(
        "{}: {} | drop notices: {drops}; alerts about other processes of the host: {}; alerts on the runtime's own work: {}",
        g.label,
        stopped.stderr.lines().find(|l| l.starts_with("Events processed")).unwrap_or_default(),
        counts(&others),
        counts(&podman),
    ));
    GroupResult { fired, failures, report }
}

/// An alert about a host process that is not this test's.
fn foreign(a: &Alert, n: &str) -> bool {
    a.field("container.id").as_deref() == Some("host") && a.field(&format!("proc.env[{RUN_VAR}]")).as_deref() != Some(n)
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{v} x {k}")).collect::<Vec<_>>().join(", ")
}

/// The container runtime's processes: podman, and runc's init setting a
/// container up (in the container's cgroups, before the entry point runs).
const RUNTIME: [&str; 3] = ["podman", "runc", "runc:[2:INIT]"];

/// An alert of a rule listed in `runtime_noise` about the runtime itself.
fn runtime_noise(g: &Group, a: &Alert) -> bool {
    g.runtime_noise.contains(&a.rule.as_str()) && a.field("proc.name").is_some_and(|p| RUNTIME.contains(&p.as_str()))
}

/// The coverage table of one rules file: every rule, fired (by which
/// action) or not exercised (why); asserts every rule has one or the other.
pub fn coverage(
    file: &str,
    fired: &BTreeMap<String, String>,
    not_exercised: &[(&str, &str)],
) -> (String, usize, usize) {
    let rules = rules_in(&rules_file(file));
    let mut rows = Vec::new();
    let mut n_fired = 0;
    for (rule, enabled) in &rules {
        let state = if *enabled { "" } else { " (disabled in the file)" };
        if let Some(what) = fired.get(rule) {
            n_fired += 1;
            rows.push(format!("| {rule}{state} | fired: {what} |"));
        } else if let Some((_, why)) = not_exercised.iter().find(|(r, _)| r == rule) {
            rows.push(format!("| {rule}{state} | not exercised: {why} |"));
        } else {
            rows.push(format!("| {rule}{state} | FAILED (see the test's output) |"));
        }
    }
    for (r, _) in not_exercised {
        assert!(rules.iter().any(|(x, _)| x == r), "{file}: no rule '{r}'");
    }
    let table = format!(
        "### {file}: {n_fired} / {} fired\n\n| rule | live test |\n|---|---|\n{}\n",
        rules.len(),
        rows.join("\n")
    );
    (table, n_fired, rules.len())
}

/// Needs root, BTF, podman, runc, busybox, unshare, perl, script.
pub fn can_run_rules(test: &str) -> bool {
    if !can_run(test) {
        return false;
    }
    let missing: Vec<&str> = ["podman", "runc", "busybox", "unshare", "perl", "script", "setpriv", "ip"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("SKIP {test}: missing {missing:?} (scripts/setup.sh)");
        return false;
    }
    true
}
