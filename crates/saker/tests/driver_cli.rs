//! `saker driver` where the module cannot be loaded (the host): status says
//! it is not loaded and how to get it, a build without headers names the
//! packages to install, unload of a module that is not there is not an
//! error. The guest suite tests building, loading and unloading for real.

use std::process::Command;

fn saker(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_saker")).args(args).output().unwrap()
}

#[test]
fn status_without_the_module() {
    if std::path::Path::new("/sys/module/saker").exists() {
        return;
    }
    let out = saker(&["driver", "status"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("loaded: no") && text.contains("saker driver build --kind kmod"), "{text}");
    let out = saker(&["driver", "unload"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not loaded"));
}

#[test]
fn build_without_headers_names_the_packages() {
    let out = saker(&["driver", "build", "--kind", "kmod", "--kernel-release", "0.0.0-saker-test"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "no kernel headers for 0.0.0-saker-test",
        "/lib/modules/0.0.0-saker-test/build",
        "apt-get install linux-headers-0.0.0-saker-test",
        "dnf install kernel-devel-0.0.0-saker-test",
        "--headers",
    ] {
        assert!(err.contains(want), "'{want}' missing in: {err}");
    }
    let dir = std::env::temp_dir().join(format!("saker-no-headers-{}", std::process::id()));
    let out = saker(&["driver", "build", "--headers", dir.to_str().unwrap(), "--kernel-release", "1.2.3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(dir.to_str().unwrap()));
}

#[test]
fn dkms_writes_the_sources() {
    let dir = std::env::temp_dir().join(format!("saker-dkms-{}", std::process::id()));
    let out = saker(&["driver", "dkms", "--prefix", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let src = dir.join(format!("saker-{}", env!("CARGO_PKG_VERSION")));
    for f in ["dkms.conf", "Kbuild", "Makefile", "main.c", "fill.h", "progs_file.h", "list.h", "saker_kmod.h"] {
        assert!(src.join(f).exists(), "{f} missing in {}", src.display());
    }
    let conf = std::fs::read_to_string(src.join("dkms.conf")).unwrap();
    assert!(conf.contains(&format!("PACKAGE_VERSION=\"{}\"", env!("CARGO_PKG_VERSION"))), "{conf}");
    std::fs::remove_dir_all(&dir).unwrap();
}
