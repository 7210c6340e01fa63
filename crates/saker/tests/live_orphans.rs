//! Orphans live, with the modern probe (which names no reaper in procexit):
//! a double-forked process's `proc.ppid`, `proc.pname` and `proc.aname[1]`
//! are those of the process the kernel gave it to: init, or the nearest
//! ancestor that made itself a child subreaper
//! (`prctl(PR_SET_CHILD_SUBREAPER)`), as `getppid()` tells the orphan.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::time::Duration;

use live_common::*;

const FIELDS: [&str; 7] = ["proc.pid", "proc.ppid", "proc.pname", "proc.aname[1]", "evt.type", "evt.dir", "fd.name"];

/// Forks a middle process which forks the orphan and exits at once; the
/// orphan waits until the kernel has reparented it, opens MARKER and prints
/// `getppid()`. With SUBREAPER set, the top process first makes itself a
/// child subreaper (prctl, syscall 157 on x86-64) and reaps the orphan.
const DOUBLE_FORK: &str = r#"
use strict; $| = 1;
my ($marker, $subreaper) = @ARGV;
if ($subreaper) { syscall(157, 36, 1, 0, 0, 0) == 0 or die "prctl: $!"; }
my $m = fork // die "fork: $!";
if ($m == 0) {
  my $mid = $$;
  my $g = fork // die "fork: $!";
  if ($g == 0) {
    while (getppid() == $mid) { select(undef, undef, undef, 0.01); }
    open(my $f, ">", $marker) or die "open: $!"; close($f);
    print getppid(), "\n";
    exit 0;
  }
  exit 0;
}
waitpid($m, 0);
if ($subreaper) { while (waitpid(-1, 0) > 0) {} }
"#;

fn comm(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim().to_string()
}

#[test]
fn orphans_take_their_reaper_as_parent() {
    if !can_run("orphans_take_their_reaper_as_parent") {
        return;
    }
    let n = nonce();
    let dir = work_dir("orphans", &n);
    let format = format!("*%{}", FIELDS.join("\t%"));
    let filter = format!("fd.name contains orphan- and fd.name contains {n} and evt.type=openat and evt.dir=<");
    let trace = LiveTrace::start(&dir.join("orphans.scap"), &["-p", &format, &filter]);

    // 1. No subreaper: the orphan goes to init.
    let init_marker = format!("{}/orphan-init-{n}", dir.display());
    let mut top = spawn_perl(&dir, &format!("sko-{n}"), DOUBLE_FORK, &[&init_marker, ""]);
    let init_ppid = read_line(&mut top);
    wait_ok(top, "the double fork");
    let init_comm = comm(&init_ppid);
    // 2. Under a subreaper: the orphan goes to it.
    let sub_marker = format!("{}/orphan-sub-{n}", dir.display());
    let subreaper_name = format!("sks-{n}");
    let mut top = spawn_perl(&dir, &subreaper_name, DOUBLE_FORK, &[&sub_marker, "1"]);
    let sub_ppid = read_line(&mut top);
    assert_eq!(sub_ppid, top.id().to_string(), "the kernel gave the orphan to the subreaper");
    wait_ok(top, "the double fork under a subreaper");

    assert!(trace.wait_for(Duration::from_secs(20), |l| l.contains(&sub_marker)), "the orphans' opens did not show");
    let done = trace.stop("INT");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    let line = |marker: &str| -> Vec<String> {
        let l = done
            .stdout
            .iter()
            .find(|l| l.ends_with(marker))
            .unwrap_or_else(|| panic!("no open of {marker}; printed:\n{}", done.stdout.join("\n")));
        l.split('\t').map(str::to_string).collect()
    };
    let init = line(&init_marker);
    assert_eq!(init[1], init_ppid, "proc.ppid of the orphan: {init:?}");
    assert_eq!(init_ppid, "1", "no subreaper above the test: init reaps");
    assert_eq!((init[2].as_str(), init[3].as_str()), (init_comm.as_str(), init_comm.as_str()), "{init:?}");
    let sub = line(&sub_marker);
    assert_eq!(sub[1], sub_ppid, "proc.ppid of the orphan: {sub:?}");
    assert_eq!((sub[2].as_str(), sub[3].as_str()), (subreaper_name.as_str(), subreaper_name.as_str()), "{sub:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
