//! The overlayfs layer of an executable, as the kernel drivers report it in
//! execve's flags (`proc.is_exe_upper_layer`): a program written into an
//! overlay (its upper layer, as a file dropped in a container) is
//! EXE_UPPER_LAYER, one of the lower layer EXE_LOWER_LAYER, one elsewhere
//! neither. Needs root (it mounts an overlay); prints SKIP otherwise.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use saker_abi::EventType as T;
use saker_userspace::Tracer;

const UPPER: i64 = 2;
const LOWER: i64 = 8;

/// An overlay mounted for the test, unmounted when dropped.
struct Overlay(std::path::PathBuf);

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.join("merged")).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn exec_flags(program: &std::path::Path) -> i64 {
    let mut t = Tracer::launch([program.to_str().unwrap()], config(&["execve"])).expect("launch");
    let evs = drain(&mut t, Duration::from_secs(60));
    let exec = evs
        .iter()
        .find(|e| e.ty() == T::SYSCALL_EXECVE_19_X && e.int("res") == 0)
        .unwrap_or_else(|| panic!("no execve of {}", program.display()));
    exec.int("flags")
}

#[test]
fn executables_of_the_upper_and_lower_layers() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP executables_of_the_upper_and_lower_layers: mounting an overlay needs root");
        return;
    }
    if !can_trace("executables_of_the_upper_and_lower_layers") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("saker-us-overlay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy("/bin/true", dir.join("lower/lowtrue")).unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.join("lower").display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    let st = Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(dir.join("merged")).status();
    if !st.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("SKIP executables_of_the_upper_and_lower_layers: this kernel cannot mount overlayfs here");
        return;
    }
    let ov = Overlay(dir.clone());
    // written through the overlay: it lands in the upper layer
    std::fs::copy("/bin/true", ov.0.join("merged/uptrue")).unwrap();
    assert!(ov.0.join("upper/uptrue").exists());

    let up = exec_flags(&ov.0.join("merged/uptrue"));
    assert_eq!(up & (UPPER | LOWER), UPPER, "flags {up:#x}");
    let low = exec_flags(&ov.0.join("merged/lowtrue"));
    assert_eq!(low & (UPPER | LOWER), LOWER, "flags {low:#x}");
    let host = exec_flags(std::path::Path::new("/bin/true"));
    assert_eq!(host & (UPPER | LOWER), 0, "flags {host:#x}");
}
