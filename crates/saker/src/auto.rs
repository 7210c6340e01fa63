//! `--driver auto` (the default of `saker trace` and `saker detect`,
//! `engine.kind: auto`): the first usable of modern-ebpf, kmod and ebpf.
//!
//! - modern-ebpf if the kernel supports it (`saker_modern_bpf::check`);
//! - else kmod if the module is loaded, or if it can be built (the kernel
//!   loads modules and its headers are there) and loaded;
//! - else ebpf if a probe built for this kernel is present, or if one can be
//!   built (the kernel's BTF, clang-19 and bpftool are there);
//! - else an error giving, for each driver, why it was not usable and what
//!   to do.
//!
//! [`Facts::probe`] reads the system and [`choose`] judges facts, so tests
//! feed any facts. `SAKER_AUTO_NO_MODERN=1` is a test-only override that
//! reports modern-ebpf support missing (the guest suite uses it to see auto
//! fall back to kmod).

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable that reports modern-ebpf support missing (tests).
pub const NO_MODERN_ENV: &str = "SAKER_AUTO_NO_MODERN";

/// What the choice looks at.
#[derive(Clone, Debug)]
pub struct Facts {
    /// `uname -r`.
    pub release: String,
    /// `Err(why)` when the kernel cannot run the modern probe.
    pub modern: Result<(), String>,
    /// Whether the kernel loads modules (`/proc/modules` exists).
    pub modules: bool,
    /// Whether saker's module is loaded (`/sys/module/saker`).
    pub kmod_loaded: bool,
    /// The kernel's headers for building the module, if found.
    pub kmod_headers: Option<PathBuf>,
    /// The legacy probe's path and, `Err(why)`, why it cannot be used as is.
    pub ebpf_probe: (PathBuf, Result<(), String>),
    /// `Err(why)` when no probe can be built here (BTF, clang-19, bpftool).
    pub ebpf_build: Result<(), String>,
}

/// What to do before opening the chosen driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open it as it is.
    Open,
    /// Build the kernel module for this kernel and load it first.
    BuildAndLoadKmod,
    /// Build the legacy probe for this kernel first.
    BuildEbpf,
}

/// A driver that was not chosen: why, and what would make it usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The driver.
    pub driver: &'static str,
    /// Why it is not usable.
    pub why: String,
    /// What to do.
    pub fix: String,
}

/// The choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// `modern-ebpf`, `kmod` or `ebpf`.
    pub driver: &'static str,
    /// What to do first.
    pub action: Action,
    /// Why this driver.
    pub reason: String,
    /// The drivers tried before it.
    pub skipped: Vec<Skipped>,
}

/// No driver is usable: every one's reason and fix.
#[derive(Clone, Debug)]
pub struct NoDriver(pub Vec<Skipped>);

impl fmt::Display for NoDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--driver auto: no driver is usable on this kernel:")?;
        for s in &self.0 {
            write!(f, "\n  {}: {}; {}", s.driver, s.why, s.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for NoDriver {}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "driver {}: {}", self.driver, self.reason)?;
        for s in &self.skipped {
            write!(f, "; not {}: {}", s.driver, s.why)?;
        }
        Ok(())
    }
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

impl Facts {
    /// Reads the facts of the running system.
    pub fn probe() -> Facts {
        let release = saker_legacy_bpf::probe::running_release();
        let modern = if std::env::var_os(NO_MODERN_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            Err(format!("support reported missing by {NO_MODERN_ENV} (a test override)"))
        } else {
            saker_modern_bpf::check(&saker_modern_bpf::SystemFacts::probe()).map_err(|e| e.to_string())
        };
        let kmod_headers = [format!("/lib/modules/{release}/build"), format!("/usr/src/linux-headers-{release}")]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.join("Makefile").exists());
        let probe = saker_legacy_bpf::probe_path();
        let probe_ok = saker_legacy_bpf::check_probe(&probe, &release).map(|_| ()).map_err(|e| e.to_string());
        let clang = std::env::var("SAKER_CLANG").unwrap_or_else(|_| "clang-19".to_string());
        let ebpf_build = if !Path::new("/sys/kernel/btf/vmlinux").exists() {
            Err("the kernel has no BTF (/sys/kernel/btf/vmlinux) to build the probe against".to_string())
        } else if !in_path(&clang) && !Path::new(&clang).is_file() {
            Err(format!("{clang} is not installed"))
        } else if !in_path("bpftool") {
            Err("bpftool is not installed".to_string())
        } else {
            Ok(())
        };
        Facts {
            release,
            modern,
            modules: Path::new("/proc/modules").exists(),
            kmod_loaded: Path::new("/sys/module").join(saker_kmod::MODULE_NAME).exists(),
            kmod_headers,
            ebpf_probe: (probe, probe_ok),
            ebpf_build,
        }
    }
}

/// The first usable driver, or every driver's reason.
pub fn choose(f: &Facts) -> Result<Choice, NoDriver> {
    let mut skipped = Vec::new();
    match &f.modern {
        Ok(()) => {
            return Ok(Choice {
                driver: "modern-ebpf",
                action: Action::Open,
                reason: format!("kernel {} supports the modern eBPF probe (BTF, ring buffers, tp_btf)", f.release),
                skipped,
            });
        }
        Err(why) => skipped.push(Skipped {
            driver: "modern-ebpf",
            why: why.clone(),
            fix: "it needs a kernel 5.8+ with BTF (CONFIG_DEBUG_INFO_BTF), ring buffers and tracing programs, \
                  and CAP_BPF+CAP_PERFMON (or root)"
                .to_string(),
        }),
    }
    if f.kmod_loaded {
        return Ok(Choice {
            driver: "kmod",
            action: Action::Open,
            reason: "saker's kernel module is loaded".to_string(),
            skipped,
        });
    }
    match (&f.modules, &f.kmod_headers) {
        (true, Some(h)) => {
            return Ok(Choice {
                driver: "kmod",
                action: Action::BuildAndLoadKmod,
                reason: format!("the module is not loaded but can be built against {} and loaded", h.display()),
                skipped,
            });
        }
        (false, _) => skipped.push(Skipped {
            driver: "kmod",
            why: "the kernel does not load modules (no /proc/modules: CONFIG_MODULES off)".to_string(),
            fix: "use a kernel with module support, or another driver".to_string(),
        }),
        (true, None) => skipped.push(Skipped {
            driver: "kmod",
            why: format!(
                "the module is not loaded and there are no headers for {} (/lib/modules/{0}/build, \
                 /usr/src/linux-headers-{0})",
                f.release
            ),
            fix: format!("install the kernel's headers, or build and load it: {}", saker_kmod::REBUILD),
        }),
    }
    let (probe, present) = &f.ebpf_probe;
    if present.is_ok() {
        return Ok(Choice {
            driver: "ebpf",
            action: Action::Open,
            reason: format!("the legacy eBPF probe {} was built for this kernel", probe.display()),
            skipped,
        });
    }
    match &f.ebpf_build {
        Ok(()) => Ok(Choice {
            driver: "ebpf",
            action: Action::BuildEbpf,
            reason: format!("no usable legacy eBPF probe at {}, but one can be built for this kernel", probe.display()),
            skipped,
        }),
        Err(why) => {
            skipped.push(Skipped {
                driver: "ebpf",
                why: format!("{}; and no probe can be built here: {why}", present.as_ref().unwrap_err()),
                fix: format!(
                    "build one for kernel {} where clang-19 and bpftool are (`saker driver build --kind ebpf \
                     --kernel-release {0} --btf <its BTF> --output FILE`) and name it with {}",
                    f.release,
                    saker_legacy_bpf::PROBE_ENV
                ),
            });
            Err(NoDriver(skipped))
        }
    }
}

/// The lines `saker driver status` prints about the automatic choice.
pub fn explain(f: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    match choose(f) {
        Ok(c) => {
            out.push(format!("auto: {} ({})", c.driver, c.reason));
            match c.action {
                Action::Open => {}
                Action::BuildAndLoadKmod => out.push("auto: would build and load the module first".to_string()),
                Action::BuildEbpf => out.push("auto: would build the eBPF probe first".to_string()),
            }
            for s in &c.skipped {
                out.push(format!("auto: not {}: {} ({})", s.driver, s.why, s.fix));
            }
        }
        Err(e) => {
            out.push("auto: no usable driver".to_string());
            for s in &e.0 {
                out.push(format!("auto: not {}: {} ({})", s.driver, s.why, s.fix));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            release: "5.4.0-test".into(),
            modern: Ok(()),
            modules: true,
            kmod_loaded: false,
            kmod_headers: None,
            ebpf_probe: (
                PathBuf::from("/root/.saker/saker-bpf.o"),
                Err("no saker eBPF probe at /root/.saker/saker-bpf.o".into()),
            ),
            ebpf_build: Err("the kernel has no BTF (/sys/kernel/btf/vmlinux) to build the probe against".into()),
        }
    }

    #[test]
    fn modern_when_supported() {
        let c = choose(&facts()).unwrap();
        assert_eq!((c.driver, c.action), ("modern-ebpf", Action::Open));
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn kmod_when_modern_is_missing_and_the_module_is_loaded() {
        let f = Facts {
            modern: Err("Actual kernel version is: '5.4.0' while the minimum required is: '5.8.0'".into()),
            kmod_loaded: true,
            ..facts()
        };
        let c = choose(&f).unwrap();
        assert_eq!((c.driver, c.action), ("kmod", Action::Open));
        assert_eq!(c.skipped[0].driver, "modern-ebpf");
        assert!(c.to_string().contains("minimum required is: '5.8.0'"), "{c}");
        assert!(c.reason.contains("loaded"));
    }

    #[test]
    fn kmod_is_built_when_headers_are_there() {
        let f = Facts {
            modern: Err("no BTF".into()),
            kmod_headers: Some("/lib/modules/5.4.0-test/build".into()),
            ..facts()
        };
        let c = choose(&f).unwrap();
        assert_eq!((c.driver, c.action), ("kmod", Action::BuildAndLoadKmod));
        assert!(c.reason.contains("/lib/modules/5.4.0-test/build"), "{c}");
    }

    #[test]
    fn ebpf_when_the_module_is_absent_and_a_probe_is_present() {
        let f = Facts { modern: Err("no BTF".into()), ebpf_probe: ("/p.o".into(), Ok(())), ..facts() };
        let c = choose(&f).unwrap();
        assert_eq!((c.driver, c.action), ("ebpf", Action::Open));
        assert_eq!(c.skipped.iter().map(|s| s.driver).collect::<Vec<_>>(), ["modern-ebpf", "kmod"]);
        assert!(c.skipped[1].why.contains("no headers for 5.4.0-test"), "{c}");
        assert!(c.skipped[1].fix.contains("saker driver build --kind kmod"), "{c}");
        // without module support at all
        let f = Facts { modules: false, ..f };
        let c = choose(&f).unwrap();
        assert!(c.skipped[1].why.contains("does not load modules"), "{c}");
    }

    #[test]
    fn ebpf_is_built_when_the_probe_is_absent_but_buildable() {
        let f = Facts { modern: Err("no BTF".into()), modules: false, ebpf_build: Ok(()), ..facts() };
        let c = choose(&f).unwrap();
        assert_eq!((c.driver, c.action), ("ebpf", Action::BuildEbpf));
    }

    #[test]
    fn no_driver_names_every_reason_and_fix() {
        let f = Facts { modern: Err("kernel BTF missing".into()), ..facts() };
        let e = choose(&f).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.0.iter().map(|s| s.driver).collect::<Vec<_>>(), ["modern-ebpf", "kmod", "ebpf"]);
        assert!(msg.contains("modern-ebpf: kernel BTF missing"), "{msg}");
        assert!(msg.contains("kmod: the module is not loaded and there are no headers"), "{msg}");
        assert!(msg.contains("ebpf: no saker eBPF probe at /root/.saker/saker-bpf.o"), "{msg}");
        assert!(msg.contains("saker driver build --kind ebpf --kernel-release 5.4.0-test"), "{msg}");
        assert!(msg.contains("SAKER_BPF_PROBE"), "{msg}");
        let lines = explain(&f);
        assert_eq!(lines[0], "auto: no usable driver");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_host_picks_modern() {
        if unsafe { libc::geteuid() } != 0 || std::env::var_os(NO_MODERN_ENV).is_some() {
            return;
        }
        let f = Facts::probe();
        if f.modern.is_ok() {
            assert_eq!(choose(&f).unwrap().driver, "modern-ebpf");
        }
    }
}
