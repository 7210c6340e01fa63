//! The probe object: its embedded sources, how `saker driver build --kind
//! ebpf` compiles them for one kernel, and what an object says it was built
//! for (the `saker.probe` section: `release=...`, `api=...`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

macro_rules! kernel_file {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernel/", $path))
    };
}

/// The probe's API version (`SAKER_LEGACY_API_VERSION` of `target.bpf.h`).
pub const API_VERSION: u32 = 1;

/// Where `saker driver build --kind ebpf` writes the probe, and where
/// `--driver ebpf` looks for it when `SAKER_BPF_PROBE` is unset or empty.
pub const DEFAULT_PROBE: &str = "/root/.saker/saker-bpf.o";

/// The environment variable naming the probe (an empty value: the default).
pub const PROBE_ENV: &str = "SAKER_BPF_PROBE";

/// The command that builds the probe for the running kernel.
pub const BUILD: &str = "saker driver build --kind ebpf";

/// Every source of the probe: (name in the build directory, contents).
pub const SOURCES: &[(&str, &str)] = &[
    ("probe.bpf.c", kernel_file!("legacy_bpf/probe.bpf.c")),
    ("target.bpf.h", kernel_file!("legacy_bpf/target.bpf.h")),
    ("saker_events.h", kernel_file!("include/saker_events.h")),
    ("saker_gen.h", kernel_file!("include/saker_gen.h")),
    ("common.h", kernel_file!("fillers/common.h")),
    ("fillers.h", kernel_file!("fillers/fillers.h")),
    ("flags.h", kernel_file!("fillers/flags.h")),
    ("extract.h", kernel_file!("fillers/extract.h")),
    ("proc.h", kernel_file!("fillers/proc.h")),
    ("progs.h", kernel_file!("fillers/progs.h")),
    ("progs_file.h", kernel_file!("fillers/progs_file.h")),
    ("progs_net.h", kernel_file!("fillers/progs_net.h")),
    ("progs_proc.h", kernel_file!("fillers/progs_proc.h")),
    ("progs_misc.h", kernel_file!("fillers/progs_misc.h")),
];

/// The probe path `--driver ebpf` uses: `SAKER_BPF_PROBE`, or the default
/// when it is unset or empty (as Falco's `FALCO_BPF_PROBE`).
pub fn probe_path() -> PathBuf {
    match std::env::var_os(PROBE_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_PROBE),
    }
}

/// The running kernel's release (`uname -r`).
pub fn running_release() -> String {
    // SAFETY: utsname is plain data, filled by uname.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    // SAFETY: uname NUL-terminates the field.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy().into_owned()
}

/// (major, minor, patch) of a release like `6.1.0-27-amd64` or `5.10.223`.
pub fn parse_release(release: &str) -> Option<(u32, u32, u32)> {
    let mut nums = release.split(|c: char| !c.is_ascii_digit());
    let major = nums.next()?.parse().ok()?;
    let minor = nums.next()?.parse().ok()?;
    let patch = nums.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// What an object says it was built for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeInfo {
    /// The kernel release (`uname -r`) it was built for.
    pub release: String,
    /// Its API version.
    pub api: u32,
}

/// Reads the `saker.probe` section of a probe object.
pub fn probe_info(path: &Path) -> Result<ProbeInfo, Error> {
    let data = std::fs::read(path).map_err(|e| missing_or(path, e))?;
    let text = elf_section(&data, "saker.probe").ok_or_else(|| {
        Error(format!("{} is not a saker eBPF probe (no saker.probe section): {}", path.display(), rebuild_hint()))
    })?;
    let text = String::from_utf8_lossy(text);
    let field = |k: &str| text.lines().find_map(|l| l.trim_end_matches('\0').strip_prefix(k).map(str::to_string));
    let release = field("release=").unwrap_or_default();
    let api = field("api=").and_then(|a| a.parse().ok()).unwrap_or(0);
    Ok(ProbeInfo { release, api })
}

fn rebuild_hint() -> String {
    format!("build one for this kernel with `{BUILD}` (it writes {DEFAULT_PROBE}; `{PROBE_ENV}` names another file)")
}

fn missing_or(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error(format!(
            "no saker eBPF probe at {}: build it for this kernel ({}) with `{BUILD}{}`",
            path.display(),
            running_release(),
            if path == Path::new(DEFAULT_PROBE) { String::new() } else { format!(" --output {}", path.display()) }
        ))
    } else {
        Error(format!("cannot read the eBPF probe {}: {e}", path.display()))
    }
}

/// Checks that the probe at `path` was built for `running` and speaks our API.
pub fn check_probe(path: &Path, running: &str) -> Result<ProbeInfo, Error> {
    let info = probe_info(path)?;
    if info.release != running {
        return Err(Error(format!(
            "the eBPF probe {} was built for kernel {} but this kernel is {running}: rebuild it with `{BUILD}`",
            path.display(),
            if info.release.is_empty() { "(unknown)" } else { &info.release },
        )));
    }
    if info.api != API_VERSION {
        return Err(Error(format!(
            "the eBPF probe {} has API version {} but this saker needs {API_VERSION}: rebuild it with `{BUILD}`",
            path.display(),
            info.api
        )));
    }
    Ok(info)
}

/// The bytes of a named section of a 64-bit little-endian ELF file.
fn elf_section<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes(b.try_into().unwrap()));
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |o: usize| data.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    if data.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = u64_at(0x28)? as usize;
    let shentsize = u16_at(0x3a)? as usize;
    let shnum = u16_at(0x3c)? as usize;
    let shstrndx = u16_at(0x3e)? as usize;
    let sh = |i: usize| shoff.checked_add(i.checked_mul(shentsize)?);
    let strtab = sh(shstrndx)?;
    let str_off = u64_at(strtab + 0x18)? as usize;
    for i in 0..shnum {
        let s = sh(i)?;
        let n = str_off.checked_add(u32_at(s)? as usize)?;
        let end = data.get(n..)?.iter().position(|&b| b == 0)?;
        if &data[n..n + end] == name.as_bytes() {
            let off = u64_at(s + 0x18)? as usize;
            let size = u64_at(s + 0x20)? as usize;
            return data.get(off..off.checked_add(size)?);
        }
    }
    None
}

/// How to build a probe.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The kernel release to build for (default: the running kernel's).
    pub release: Option<String>,
    /// The kernel's BTF (default `/sys/kernel/btf/vmlinux`), dumped into the
    /// `vmlinux.h` the probe is compiled against.
    pub btf: Option<PathBuf>,
    /// A ready `vmlinux.h` instead of a BTF file (e.g. from the kernel's
    /// headers); wins over `btf`.
    pub vmlinux_h: Option<PathBuf>,
    /// Where to write the object (default [`DEFAULT_PROBE`]).
    pub output: Option<PathBuf>,
}

fn run(cmd: &mut Command, what: &str) -> Result<Vec<u8>, Error> {
    let out = cmd.output().map_err(|e| Error(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error(format!("{what} failed ({}):\n{}", out.status, tail.join("\n"))));
    }
    Ok(out.stdout)
}

/// Compiles the embedded sources for one kernel with clang-19 (`SAKER_CLANG`
/// overrides) against a `vmlinux.h` dumped from the kernel's BTF with
/// bpftool. Returns the object's path.
pub fn build(opts: &BuildOptions) -> Result<PathBuf, Error> {
    let release = opts.release.clone().unwrap_or_else(running_release);
    let (major, minor, patch) =
        parse_release(&release).ok_or_else(|| Error(format!("cannot read a kernel version in '{release}'")))?;
    if release.contains('"') || release.contains('\\') {
        return Err(Error(format!("bad kernel release '{release}'")));
    }
    let output = opts.output.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PROBE));
    static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("saker-bpf-build-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error(format!("creating {}: {e}", dir.display())))?;
    let result = (|| {
        for (name, text) in SOURCES {
            std::fs::write(dir.join(name), text).map_err(|e| Error(format!("writing {name}: {e}")))?;
        }
        let vmlinux = dir.join("vmlinux.h");
        if let Some(h) = &opts.vmlinux_h {
            std::fs::copy(h, &vmlinux).map_err(|e| Error(format!("copying {}: {e}", h.display())))?;
        } else {
            let btf = opts.btf.clone().unwrap_or_else(|| PathBuf::from("/sys/kernel/btf/vmlinux"));
            if !btf.exists() {
                return Err(Error(format!(
                    "no kernel BTF at {}: give the target kernel's BTF with --btf FILE (a vmlinux with \
                     .BTF, or /sys/kernel/btf/vmlinux copied from that kernel), or a vmlinux.h with --vmlinux-h",
                    btf.display()
                )));
            }
            let bpftool = std::env::var("SAKER_BPFTOOL").unwrap_or_else(|_| "bpftool".to_string());
            let h = run(
                Command::new(bpftool).arg("btf").arg("dump").arg("file").arg(&btf).arg("format").arg("c"),
                "dumping the kernel's BTF with bpftool",
            )?;
            std::fs::write(&vmlinux, h).map_err(|e| Error(format!("writing vmlinux.h: {e}")))?;
        }
        let clang = std::env::var("SAKER_CLANG").unwrap_or_else(|_| "clang-19".to_string());
        let obj = dir.join("saker-bpf.o");
        run(
            Command::new(&clang)
                .args(["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-Wno-unused-function"])
                .arg(format!("-DSAKER_KERNEL_VERSION=(({major}<<16)+({minor}<<8)+{})", patch.min(255)))
                .arg(format!("-DSAKER_KERNEL_RELEASE=\"{release}\""))
                .arg("-I")
                .arg(&dir)
                .arg("-c")
                .arg(dir.join("probe.bpf.c"))
                .arg("-o")
                .arg(&obj),
            &format!("compiling the eBPF probe with {clang}"),
        )?;
        if let Some(parent) = output.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error(format!("creating {}: {e}", parent.display())))?;
        }
        std::fs::copy(&obj, &output).map_err(|e| Error(format!("writing {}: {e}", output.display())))?;
        Ok(output.clone())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        assert_eq!(parse_release("6.1.0-27-amd64"), Some((6, 1, 0)));
        assert_eq!(parse_release("5.10.223"), Some((5, 10, 223)));
        assert_eq!(parse_release("6.18.44-fc-v1300"), Some((6, 18, 44)));
        assert_eq!(parse_release("x"), None);
    }

    #[test]
    fn a_missing_probe_names_the_build_command() {
        let msg = probe_info(Path::new("/nonexistent/saker-bpf.o")).unwrap_err().to_string();
        assert!(msg.contains("no saker eBPF probe at /nonexistent/saker-bpf.o"), "{msg}");
        assert!(msg.contains("saker driver build --kind ebpf --output /nonexistent/saker-bpf.o"), "{msg}");
    }

    #[test]
    fn not_a_probe() {
        let p = std::env::temp_dir().join(format!("saker-not-a-probe-{}", std::process::id()));
        std::fs::write(&p, b"hello").unwrap();
        let msg = probe_info(&p).unwrap_err().to_string();
        let _ = std::fs::remove_file(&p);
        assert!(msg.contains("not a saker eBPF probe") && msg.contains(BUILD), "{msg}");
    }
}
