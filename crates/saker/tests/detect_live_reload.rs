//! Reloads while `saker detect` captures live: SIGHUP and a changed rules
//! file (`watch_config_files`) put the new rules in force without losing an
//! event of a counting workload, and a broken rules file is refused with
//! the error logged while the rules in force keep running.

mod live_common;
mod live_detect;

use std::path::Path;
use std::time::Duration;

use live_common::*;
use live_detect::*;

/// A rules file with one rule, `name`, on opens of files under `dir`
/// named `count-*`.
fn write_rules(file: &Path, dir: &Path, name: &str) {
    let text = format!(
        "- rule: {name}\n  desc: counting\n  condition: evt.type in (open, openat) and fd.name startswith {}/count-\n  output: \"{name} %fd.name\"\n  priority: NOTICE\n",
        dir.display()
    );
    // Written aside and renamed, as editors and ConfigMaps do: the reload
    // never reads half a file.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

fn kill(sig: &str, pid: u32) {
    let st = std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(st.success());
}

/// The counter of each alert of a `count-N` file.
fn count_of(a: &Alert) -> Option<usize> {
    a.output.rsplit_once("/count-").and_then(|(_, n)| n.trim().parse().ok())
}

#[test]
fn sighup_reloads_rules_without_losing_an_event_and_refuses_a_broken_file() {
    if !can_run("detect_live_reload") {
        return;
    }
    let n = nonce();
    let w = work_dir("detect-sighup", &n);
    let rules = w.join("rules.yaml");
    write_rules(&rules, &w, "count_v1");
    let d = LiveDetect::start(&["-r", rules.to_str().unwrap(), "-o", "watch_config_files=false"]);
    const N: usize = 600;
    for i in 0..N {
        if i == 200 {
            write_rules(&rules, &w, "count_v2");
            kill("-HUP", d.pid());
        }
        if i == 400 {
            std::fs::write(&rules, "- rule: broken\n  desc: d\n  condition: evt.type = open and proc.nmae = x\n  output: o\n  priority: INFO\n").unwrap();
            kill("-HUP", d.pid());
        }
        std::fs::File::create(w.join(format!("count-{i}"))).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let last = d.wait_alert(0, Duration::from_secs(30), |a| count_of(a) == Some(N - 1));
    assert!(last.is_some(), "no alert for the last file");
    let stopped = d.stop();
    let mut seen: Vec<Option<String>> = vec![None; N];
    for a in stopped.alerts() {
        if let Some(i) = count_of(&a) {
            assert!(seen[i].is_none(), "count-{i} alerted twice");
            seen[i] = Some(a.rule.clone());
        }
    }
    let missing: Vec<usize> = (0..N).filter(|i| seen[*i].is_none()).collect();
    assert!(
        missing.is_empty(),
        "no alert for {} files, e.g. count-{:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(5)],
        stopped.stderr
    );
    // v1 up to the switch, v2 from there on, and still v2 after the broken file.
    let switch = seen.iter().position(|r| r.as_deref() == Some("count_v2")).expect("the new rules never took over");
    assert!((200..400).contains(&switch), "switched at {switch}");
    assert!(seen[..switch].iter().all(|r| r.as_deref() == Some("count_v1")));
    assert!(seen[switch..].iter().all(|r| r.as_deref() == Some("count_v2")), "{seen:?}");
    assert!(stopped.stderr.contains("reload refused"), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("proc.nmae"), "the error names the problem: {}", stopped.stderr);
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn watch_config_files_reloads_a_changed_rules_file() {
    if !can_run("detect_live_reload") {
        return;
    }
    let n = nonce();
    let w = work_dir("detect-watch", &n);
    let rules = w.join("rules.yaml");
    write_rules(&rules, &w, "watch_v1");
    let d = LiveDetect::start(&["-r", rules.to_str().unwrap(), "-o", "watch_config_files=true"]);
    let open_until = |name: &str, i: &mut usize| {
        let t0 = std::time::Instant::now();
        loop {
            std::fs::File::create(w.join(format!("count-{i}"))).unwrap();
            *i += 1;
            if d.wait_alert(0, Duration::from_millis(200), |a| a.rule == name).is_some() {
                return true;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                return false;
            }
        }
    };
    let mut i = 0;
    assert!(open_until("watch_v1", &mut i));
    // No signal: only the file changes.
    write_rules(&rules, &w, "watch_v2");
    assert!(open_until("watch_v2", &mut i), "the changed rules file was not reloaded");
    let stopped = d.stop();
    assert!(stopped.stderr.contains("reloaded: 1 rules files"), "{}", stopped.stderr);
    // The start-up log names the driver and the system calls it enables.
    assert!(stopped.stderr.contains("event source: the modern-ebpf driver, "), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains(" system calls enabled: ") && stopped.stderr.contains("openat"),
        "{}",
        stopped.stderr
    );
    let _ = std::fs::remove_dir_all(&w);
}
