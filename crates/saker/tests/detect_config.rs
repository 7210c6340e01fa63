//! `saker detect` honours Falco's configuration keys or refuses them:
//! `engine.kind` (replay through `-o`, bogus kinds, drivers not built),
//! the old `rules_file` key, `-o rules_files[0]=`, rules directories, and
//! unsupported keys, all checked on what a user sees.

mod common;

use std::path::PathBuf;

use common::*;

const COND: &str = "evt.type in (open, openat) and proc.name = cat and fd.num >= 0";

/// A rules file holding one NOTICE rule named `name` on cat's opens.
fn rule_file(dir: &std::path::Path, file: &str, name: &str) -> PathBuf {
    let f = dir.join(file);
    let yaml =
        format!("- rule: {name}\n  desc: test\n  condition: {COND}\n  output: {name} %fd.name\n  priority: NOTICE\n");
    std::fs::write(&f, yaml).unwrap();
    f
}

fn cat_capture() -> String {
    captures_dir().join("falco__cat_write.scap").to_str().unwrap().to_string()
}

fn alerts<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    stdout.lines().filter(|l| l.contains(&format!(": Notice {name} "))).collect()
}

#[test]
fn engine_kind_replay_replays_the_capture_file_and_exits() {
    let dir = temp_dir("config_replay");
    let rules = rule_file(&dir, "r.yaml", "catopen");
    let rules = rules.to_str().unwrap();
    let by_e = detect(&["-r", rules, "-e", &cat_capture()]);
    let by_e = stdout_ok(&by_e, "saker detect -e");
    let expected = alerts(&by_e, "catopen");
    assert!(expected.len() >= 3, "{by_e}");
    let start = std::time::Instant::now();
    let out = detect(&[
        "-r",
        rules,
        "-o",
        "engine.kind=replay",
        "-o",
        &format!("engine.replay.capture_file={}", cat_capture()),
    ]);
    // A replay ends on its own, quickly; a live capture would run until stopped.
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
    let stdout = stdout_ok(&out, "saker detect -o engine.kind=replay");
    assert_eq!(alerts(&stdout, "catopen"), expected);
    // The same from a configuration file.
    let cfg = dir.join("falco.yaml");
    std::fs::write(&cfg, format!("engine:\n  kind: replay\n  replay:\n    capture_file: {}\n", cat_capture())).unwrap();
    let out = detect(&["-r", rules, "-c", cfg.to_str().unwrap()]);
    assert_eq!(alerts(&stdout_ok(&out, "saker detect -c"), "catopen"), expected);
}

#[test]
fn bogus_and_unbuilt_engines_and_unsupported_keys_are_refused_at_start() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["-o", "engine.kind=bogus"], &["engine.kind: 'bogus'", "modern_ebpf, kmod, ebpf, replay, nodriver"]),
        (&["-o", "engine.kind=replay"], &["engine.replay.capture_file"]),
        (&["-o", "load_plugins=[k8saudit]"], &["saker does not support load_plugins"]),
        (
            &["-o", "engine.modern_ebpf.drop_failed_exit=true"],
            &["saker does not support engine.modern_ebpf.drop_failed_exit"],
        ),
        (
            &["-o", "engine.modern_ebpf.cpus_for_each_buffer=two"],
            &["'engine.modern_ebpf.cpus_for_each_buffer' must be an integer"],
        ),
        (&["-o", "engine.modern_ebpf.buf_size_preset=12"], &["engine.modern_ebpf.buf_size_preset", "1 to 10"]),
    ];
    for (args, wanted) in cases {
        let out = detect(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for w in *wanted {
            assert!(stderr.contains(w), "{args:?}: '{w}' missing in:\n{stderr}");
        }
        // Refused before anything ran: no summary of a run.
        assert!(!stderr.contains("Events processed"), "{args:?}: {stderr}");
    }
}

#[test]
fn engine_kind_ebpf_without_a_probe_gives_the_build_command() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saker"))
        .args([
            "detect",
            "-o",
            "engine.kind=ebpf",
            "-o",
            "syslog_output.enabled=false",
            "-o",
            "webserver.enabled=false",
        ])
        .env("SAKER_BPF_PROBE", "/nonexistent/saker-bpf.o")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no saker eBPF probe at /nonexistent/saker-bpf.o"), "{stderr}");
    assert!(stderr.contains("saker driver build --kind ebpf --output /nonexistent/saker-bpf.o"), "{stderr}");
}

#[test]
fn unknown_keys_warn_with_the_nearest_known_key() {
    let out = detect(&["--dry-run", "-o", "json_outptu=true"]);
    stdout_ok(&out, "saker detect --dry-run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown configuration key 'json_outptu'") && stderr.contains("'json_output'"), "{stderr}");
}

#[test]
fn rules_file_old_key_indexed_overrides_and_directories_load_what_they_name() {
    let dir = temp_dir("config_rules");
    let a = rule_file(&dir, "a.yaml", "rule_a");
    let d = dir.join("rules.d");
    std::fs::create_dir_all(&d).unwrap();
    // Name order, not creation order: 20 after 10.
    rule_file(&d, "20-c.yaml", "rule_c");
    rule_file(&d, "10-b.yaml", "rule_b");
    let cap = cat_capture();
    let run = |args: &[&str]| {
        let mut v = vec!["-e", &cap, "-o", "rule_matching=all"];
        v.extend_from_slice(args);
        let out = detect(&v);
        stdout_ok(&out, &format!("saker detect {args:?}"))
    };
    // The old key, in a file, with a directory.
    let cfg = dir.join("falco.yaml");
    std::fs::write(&cfg, format!("rules_file:\n  - {}\n  - {}\n", a.display(), d.display())).unwrap();
    let out = run(&["-c", cfg.to_str().unwrap()]);
    let first: Vec<&str> = out.lines().filter(|l| l.contains(": Notice rule_")).take(3).collect();
    assert_eq!(first.len(), 3, "{out}");
    assert!(first[0].contains("rule_a") && first[1].contains("rule_b") && first[2].contains("rule_c"), "{first:?}");
    // -o rules_files[0]=x: only x.
    let out = run(&["-o", &format!("rules_files[0]={}", a.display())]);
    assert!(!alerts(&out, "rule_a").is_empty() && alerts(&out, "rule_b").is_empty(), "{out}");
    let builtin = detect(&["--dry-run", "-o", &format!("rules_files[0]={}", d.display())]);
    let stdout = stdout_ok(&builtin, "saker detect --dry-run");
    assert!(stdout.contains("Rules loaded: 2 rules"), "{stdout}");
}

#[test]
fn rules_section_append_output_and_static_fields_change_what_alerts() {
    let dir = temp_dir("config_rules_section");
    let f = dir.join("r.yaml");
    let rule = |name: &str, tag: &str, enabled: bool| {
        format!(
            "- rule: {name}\n  desc: t\n  condition: {COND}\n  output: {name} %fd.name\n  priority: NOTICE\n  tags: [{tag}]\n  enabled: {enabled}\n"
        )
    };
    let text =
        [rule("net_one", "network", true), rule("file_one", "filesystem", true), rule("off_one", "other", false)]
            .concat();
    std::fs::write(&f, text).unwrap();
    let cap = cat_capture();
    let run = |extra: &[&str]| {
        let mut v = vec!["-r", f.to_str().unwrap(), "-e", &cap, "-o", "rule_matching=all"];
        v.extend_from_slice(extra);
        let out = detect(&v);
        stdout_ok(&out, &format!("saker detect {extra:?}"))
    };
    let all = run(&[]);
    assert!(!alerts(&all, "net_one").is_empty() && !alerts(&all, "file_one").is_empty(), "{all}");
    assert!(alerts(&all, "off_one").is_empty(), "{all}");
    // Disable everything, then enable by tag wildcard and by name, in order.
    let out = run(&["-o", "rules=[{disable: {rule: '*'}}, {enable: {tag: 'file*'}}, {enable: {rule: off_one}}]"]);
    assert!(alerts(&out, "net_one").is_empty(), "{out}");
    assert!(!alerts(&out, "file_one").is_empty() && !alerts(&out, "off_one").is_empty(), "{out}");
    // append_output on the rules tagged network only; static_fields in JSON.
    let out = run(&["-o", "append_output=[{match: {tags: [network]}, extra_output: 'pid=%proc.pid'}]"]);
    assert!(alerts(&out, "net_one").iter().all(|l| l.contains(" pid=")), "{out}");
    assert!(alerts(&out, "file_one").iter().all(|l| !l.contains(" pid=")), "{out}");
    let out = run(&["-o", "json_output=true", "-o", "static_fields={cluster: prod, env_home: '${HOME}'}"]);
    let first = out.lines().find(|l| l.starts_with('{')).expect("a JSON alert");
    assert!(first.contains("\"cluster\":\"prod\""), "{first}");
    assert!(first.contains(&format!("\"env_home\":\"{}\"", std::env::var("HOME").unwrap())), "{first}");
    // Entries that cannot be honoured are refused.
    let out = detect(&["--dry-run", "-o", "append_output=[{extra_fields: [proc.pid]}]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("append_output[0].extra_fields"), "{out:?}");
    let out = detect(&["--dry-run", "-o", "rules=[{enable: {rule: a, tag: b}}]"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn falco_keys_saker_cannot_honour_are_refused() {
    for (o, key) in [("log_level=verbose", "log_level"), ("capture.enabled=true", "capture.enabled")] {
        let out = detect(&["--dry-run", "-o", o]);
        assert_eq!(out.status.code(), Some(2), "{o}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("saker does not support {key}")), "{o}: {stderr}");
    }
    let out = detect(&["--dry-run", "-o", "log_level=debug", "-o", "base_syscalls.repair=true"]);
    stdout_ok(&out, "accepted keys");
}

#[test]
fn falco_flags_validate_list_describe_support_version() {
    let dir = temp_dir("config_flags");
    let good = rule_file(&dir, "good.yaml", "good_rule");
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "- rule: x\n  desc: d\n  condition: evt.type = open and proc.nmae = bash\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    // -V: exit 1 with the located error; 0 and Ok on a good file.
    let out = detect(&["-V", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml:3:34") && stderr.contains("LOAD_ERR_COMPILE_CONDITION"), "{stderr}");
    let out = detect(&["-V", good.to_str().unwrap()]);
    assert!(stdout_ok(&out, "-V good").contains("good.yaml: Ok"));
    // -L lists rules with descriptions; -l describes one.
    let out = stdout_ok(&detect(&["-L", "-r", good.to_str().unwrap()]), "-L");
    assert_eq!(out.lines().next(), Some("good_rule"));
    assert_eq!(out.lines().nth(1).map(str::trim), Some("test"));
    let out = stdout_ok(&detect(&["-l", "good_rule", "-r", good.to_str().unwrap()]), "-l");
    assert!(out.contains("Condition: evt.type in (open, openat)") && out.contains("Priority: Notice"), "{out}");
    assert_eq!(detect(&["-l", "nope", "-r", good.to_str().unwrap()]).status.code(), Some(2));
    // --support is JSON with the rules files and their sha256.
    let out = stdout_ok(&detect(&["--support", "-r", good.to_str().unwrap()]), "--support");
    let v: serde_json::Value = serde_json::from_str(&out).expect("--support prints JSON");
    let text = std::fs::read(&good).unwrap();
    assert_eq!(v["rules_files"][0]["content"].as_str().unwrap().as_bytes(), text);
    let sha = v["rules_files"][0]["sha256"].as_str().unwrap();
    let sum = std::process::Command::new("sha256sum").arg(&good).output().unwrap();
    assert!(String::from_utf8_lossy(&sum.stdout).starts_with(sha), "{sha}");
    assert!(v["system_info"]["release"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    // --version names the engine and the event schema.
    let out = stdout_ok(&detect(&["--version"]), "--version");
    assert!(out.contains("engine_version: 0.") && out.contains("event_schema: "), "{out}");
    // --list-events and --list [SOURCE].
    let out = stdout_ok(&detect(&["--list-events"]), "--list-events");
    assert!(out.lines().any(|l| l.starts_with("< execve(")), "{out}");
    assert!(stdout_ok(&detect(&["--list", "syscall"]), "--list").contains("proc.name"));
    assert_eq!(detect(&["--list", "k8s_audit"]).status.code(), Some(2));
    // -p appends to every output, as in Falco; -U is accepted.
    let cap = cat_capture();
    let out = detect(&["-r", good.to_str().unwrap(), "-e", &cap, "-p", "user=%user.name", "-U"]);
    let out = stdout_ok(&out, "-p");
    let lines = alerts(&out, "good_rule");
    assert!(!lines.is_empty() && lines.iter().all(|l| l.contains(" user=")), "{out}");
}

/// Falco 0.44's stock falco.yaml (its keys and default values).
fn falco_defaults() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/falco-0.44-defaults.yaml")
}

#[test]
fn falcos_stock_configuration_starts_replays_and_logs_to_syslog() {
    let dir = temp_dir("config_stock");
    let rules = rule_file(&dir, "r.yaml", "catopen");
    // log_syslog: true in Falco's file: saker's own lines go to the syslog
    // socket (syslog_output.socket, here a socket of the test's).
    let sock = dir.join("log.sock");
    let server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    server.set_nonblocking(true).unwrap();
    let cfg = falco_defaults();
    let out = detect(&[
        "-c",
        cfg.to_str().unwrap(),
        "-r",
        rules.to_str().unwrap(),
        "-e",
        &cat_capture(),
        "-o",
        &format!("syslog_output.socket={}", sock.display()),
    ]);
    let stdout = stdout_ok(&out, "saker detect -c falco.yaml");
    assert!(alerts(&stdout, "catopen").len() >= 3, "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("does not support"), "{stderr}");
    // /etc/falco/config.d is not on this host: skipped, and said so.
    assert!(stderr.contains("config.d skipped: it does not exist"), "{stderr}");
    let mut buf = [0u8; 4096];
    let mut lines = Vec::new();
    while let Ok(n) = server.recv(&mut buf) {
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // LOG_USER (8) + warning (4).
    assert!(
        lines.iter().any(|l| l.starts_with("<12>saker[") && l.contains("config.d skipped: it does not exist")),
        "{lines:?}"
    );
    // log_level filters, log_stderr: false silences stderr.
    let cap = cat_capture();
    let quiet = |extra: &[&str]| {
        let mut v = vec!["-c", cfg.to_str().unwrap(), "-r", rules.to_str().unwrap(), "-e", &cap];
        v.extend_from_slice(extra);
        v.extend_from_slice(&["-o", "log_syslog=false"]);
        String::from_utf8_lossy(&detect(&v).stderr).into_owned()
    };
    assert!(!quiet(&["-o", "log_level=error"]).contains("skipped"));
    assert!(!quiet(&["-o", "log_stderr=false"]).contains("skipped"));
    assert!(quiet(&["-o", "log_level=warning"]).contains("skipped"));
}

#[test]
fn syscall_event_timeouts_alert_after_consecutive_empty_waits() {
    // nodriver: no event ever, a wait every 100 ms.
    let out = detect(&[
        "-o",
        "engine.kind=nodriver",
        "-o",
        "syscall_event_timeouts.max_consecutives=3",
        "-o",
        "json_output=true",
        "-M",
        "1.5",
    ]);
    let stdout = stdout_ok(&out, "saker detect nodriver");
    let notes: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["rule"] == "Falco internal: timeouts notification")
        .collect();
    assert!(notes.len() >= 2, "{stdout}");
    assert_eq!(notes[0]["priority"], "Debug");
    assert_eq!(notes[0]["output_fields"]["last_event_time"], "none", "{}", notes[0]);
    assert!(notes[0]["output"].as_str().unwrap().contains("3 consecutive timeouts without event"), "{}", notes[0]);
    // 0 never alerts.
    let out = detect(&["-o", "engine.kind=nodriver", "-o", "syscall_event_timeouts.max_consecutives=0", "-M", "1"]);
    assert!(!stdout_ok(&out, "max 0").contains("timeouts notification"));
}

#[test]
fn startup_log_names_files_rules_source_outputs_and_server_and_the_summary_counts_alerts() {
    let dir = temp_dir("config_startup");
    let f = dir.join("r.yaml");
    let rule = |name: &str, prio: &str, enabled: bool| {
        format!(
            "- rule: {name}\n  desc: t\n  condition: {COND}\n  output: {name} %fd.name\n  priority: {prio}\n  enabled: {enabled}\n"
        )
    };
    std::fs::write(
        &f,
        [rule("catopen", "NOTICE", true), rule("off", "NOTICE", false), rule("low", "DEBUG", true)].concat(),
    )
    .unwrap();
    let cfg = dir.join("saker.yaml");
    std::fs::write(&cfg, "priority: info\nrule_matching: all\n").unwrap();
    let out = saker(&[
        "detect",
        "-c",
        cfg.to_str().unwrap(),
        "-r",
        f.to_str().unwrap(),
        "-e",
        &cat_capture(),
        "-o",
        "webserver.enabled=true",
        "-o",
        "webserver.listen_port=0",
        "-o",
        "syslog_output.enabled=true",
        "-o",
        "syslog_output.socket=/nonexistent/log",
    ]);
    let stdout = stdout_ok(&out, "saker detect");
    let n = alerts(&stdout, "catopen").len();
    assert!(n >= 3, "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        format!("saker: version {}", env!("CARGO_PKG_VERSION")),
        format!("configuration files loaded: {}", cfg.display()),
        format!("rules file loaded: {} (3 rules, 0 macros, 0 lists)", f.display()),
        "1 rules in force of 3 loaded (not in force: 1 disabled, 1 below priority info)".to_string(),
        format!("event source: replay of {}", cat_capture()),
        "outputs enabled: stdout, syslog (/nonexistent/log)".to_string(),
        "web server listening on http://127.0.0.1:".to_string(),
        format!("Alerts by priority:\n   Notice: {n}\nAlerts by rule:\n   catopen: {n}\n"),
    ] {
        assert!(stderr.contains(&want), "'{want}' missing in:\n{stderr}");
    }
    // The output that cannot work is warned about once, at start (before
    // any event: the summary comes after).
    let warned: Vec<&str> = stderr.lines().filter(|l| l.contains("cannot be reached")).collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(stderr.find("cannot be reached") < stderr.find("event source:"), "{stderr}");
    let out = detect(&["-o", "engine.kind=nodriver", "-M", "0.2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("event source: none (engine.kind: nodriver)"), "{out:?}");
}

#[test]
fn metrics_enabled_raises_snapshots_as_alerts_and_to_a_file() {
    let dir = temp_dir("config_metrics");
    let file = dir.join("metrics.jsonl");
    let out = detect(&[
        "-o",
        "engine.kind=nodriver",
        "-o",
        "metrics.enabled=true",
        "-o",
        "metrics.interval=300ms",
        "-o",
        &format!("metrics.output_file={}", file.display()),
        "-o",
        "json_output=true",
        "-M",
        "1.5",
    ]);
    let stdout = stdout_ok(&out, "saker detect metrics");
    let snaps: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["rule"] == "Falco internal: metrics snapshot")
        .collect();
    assert!((3..=6).contains(&snaps.len()), "{} snapshots in 1.5 s at 300ms:\n{stdout}", snaps.len());
    let f = &snaps[0]["output_fields"];
    assert_eq!(snaps[0]["priority"], "Informational");
    assert_eq!(f["falco.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(f["scap.engine_name"], "nodriver");
    assert!(f["falco.kernel_release"].as_str().is_some_and(|k| !k.is_empty()), "{f}");
    assert!(f["falco.sha256_rules_file.saker_rules_yaml"].as_str().is_some_and(|h| h.len() == 64), "{f}");
    assert!(f["falco.memory_rss_mb"].as_f64().is_some_and(|m| m > 0.0), "{f}");
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), snaps.len(), "{lines}");
    // output_rule: false: the file only; a bad interval names the key.
    let out = detect(&[
        "-o",
        "engine.kind=nodriver",
        "-o",
        "metrics={enabled: true, interval: 300ms, output_rule: false}",
        "-M",
        "1",
    ]);
    assert!(!stdout_ok(&out, "output_rule false").contains("metrics snapshot"));
    let out = detect(&["--dry-run", "-o", "metrics.enabled=true", "-o", "metrics.interval=15"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics.interval"), "{out:?}");
}
