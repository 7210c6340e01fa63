//! A program run from a memfd (memfd_create, then execve of
//! /proc/self/fd/N), live with the modern probe: `proc.exepath` is
//! `memfd:<name>` as libsinsp names it (a stable rule's exception expects
//! that form), and `proc.is_exe_from_memfd` is true.
//!
//! Runs as root on the real kernel (as CI does); prints SKIP otherwise.

mod live_common;

use std::time::Duration;

use live_common::*;

/// Copies /bin/true into a memfd named after ARGV[0] and runs it.
const MEMFD_EXEC: &str = r#"
my $n = $ARGV[0];
my $fd = syscall(319, $n, 0); die "memfd_create: $!" if $fd < 0;
open(my $in, "<", "/bin/true") or die; open(my $out, ">&=", $fd) or die;
binmode $out; local $/; my $d = <$in>; print {$out} $d; close $in; $out->flush;
exec {"/proc/self/fd/$fd"} "x" or die "exec: $!";
"#;

#[test]
fn memfd_executables_show_their_memfd_name() {
    if !can_run("memfd_executables_show_their_memfd_name") {
        return;
    }
    let n = nonce();
    let dir = work_dir("memfd", &n);
    let filter = "evt.type in (execve, execveat) and evt.dir = < and proc.is_exe_from_memfd = true";
    let trace = LiveTrace::start(&dir.join("memfd.scap"), &["-p", "%proc.exepath\t%proc.cmdline", filter]);
    let name = format!("pay-{n}");
    wait_ok(spawn_perl(&dir, &format!("skm-{n}"), MEMFD_EXEC, &[&name]), "the memfd program");
    // The command line starts with the comm, the fd's number.
    let want = format!("memfd:{name}\t");
    assert!(trace.wait_for(Duration::from_secs(20), |l| l.starts_with("memfd:")), "no memfd execve shown");
    let done = trace.stop("INT");
    assert!(done.status.success(), "{} {}", done.status, done.stderr);
    assert!(done.stdout.iter().any(|l| l.starts_with(&want)), "want {want:?}, printed:\n{}", done.stdout.join("\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}
