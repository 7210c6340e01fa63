//! `saker driver`: builds, loads, unloads and shows saker's kernel module,
//! builds the legacy eBPF probe, and shows what `--driver auto` chooses.
//!
//! The module's sources are embedded in the binary (`saker_kmod::sources`),
//! so `saker driver build` needs only the kernel's headers and a compiler.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use saker_kmod::{MODULE_NAME, abi};

use crate::cli::UsageError;

/// `saker driver ...`.
#[derive(Args, Debug)]
pub struct DriverArgs {
    #[command(subcommand)]
    pub command: DriverCommand,
}

/// The kinds of driver `saker driver build` builds.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// The kernel module, saker.ko.
    Kmod,
    /// The legacy eBPF probe, an object built for one kernel
    /// (/root/.saker/saker-bpf.o; `--driver ebpf` loads it).
    Ebpf,
}

#[derive(Subcommand, Debug)]
pub enum DriverCommand {
    /// Build the kernel module for a kernel, from the sources inside saker.
    ///
    /// Writes the sources to a build directory and runs kbuild against the
    /// kernel's headers: --headers DIR, else /lib/modules/RELEASE/build, else
    /// /usr/src/linux-headers-RELEASE.
    Build {
        /// What to build.
        #[arg(long, value_enum, default_value = "kmod")]
        kind: Kind,
        /// The kernel release to build for (default: the running kernel's).
        #[arg(long, value_name = "RELEASE")]
        kernel_release: Option<String>,
        /// The kernel's headers (a kbuild tree).
        #[arg(long, value_name = "DIR")]
        headers: Option<PathBuf>,
        /// Where to build (default /var/lib/saker/kmod/RELEASE).
        #[arg(long, value_name = "DIR")]
        build_dir: Option<PathBuf>,
        /// ebpf: where to write the probe (default /root/.saker/saker-bpf.o).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// ebpf: the target kernel's BTF (default /sys/kernel/btf/vmlinux of
        /// the running kernel), dumped into the vmlinux.h the probe is
        /// compiled against.
        #[arg(long, value_name = "FILE")]
        btf: Option<PathBuf>,
    },
    /// Load the kernel module (built by `saker driver build`).
    Load {
        /// The module file (default: the build directory of the running kernel).
        #[arg(long, value_name = "FILE")]
        module: Option<PathBuf>,
        /// Default data bytes of each per-CPU ring (a power of two).
        #[arg(long, value_name = "BYTES")]
        ring_bytes: Option<u64>,
    },
    /// Unload the kernel module (refused while a consumer has it open).
    Unload,
    /// Whether the module is loaded, its versions, consumers and ring memory.
    Status,
    /// Write the sources and dkms.conf to /usr/src/saker-VERSION for dkms.
    Dkms {
        /// Where to write them (default /usr/src).
        #[arg(long, value_name = "DIR", default_value = "/usr/src")]
        prefix: PathBuf,
    },
}

pub fn run(args: DriverArgs) -> Result<ExitCode> {
    match args.command {
        DriverCommand::Build { kind: Kind::Kmod, kernel_release, headers, build_dir, .. } => {
            build(kernel_release, headers, build_dir)
        }
        DriverCommand::Build { kind: Kind::Ebpf, kernel_release, headers, output, btf, .. } => {
            build_ebpf(kernel_release, headers, btf, output)
        }
        DriverCommand::Load { module, ring_bytes } => load(module, ring_bytes),
        DriverCommand::Unload => unload(),
        DriverCommand::Status => status(),
        DriverCommand::Dkms { prefix } => dkms(&prefix),
    }
}

/// `saker driver build --kind ebpf`: the legacy probe compiled with
/// clang-19 against a vmlinux.h of the target kernel: `--headers DIR` holding
/// a `vmlinux.h` (or a BTF file `vmlinux`), else `--btf FILE`, else the
/// running kernel's /sys/kernel/btf/vmlinux.
fn build_ebpf(
    release: Option<String>,
    headers: Option<PathBuf>,
    btf: Option<PathBuf>,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let mut opts = saker_legacy_bpf::BuildOptions { release, btf, output, ..Default::default() };
    if let Some(dir) = &headers {
        if dir.join("vmlinux.h").exists() {
            opts.vmlinux_h = Some(dir.join("vmlinux.h"));
        } else if dir.join("vmlinux").exists() && opts.btf.is_none() {
            opts.btf = Some(dir.join("vmlinux"));
        } else {
            return Err(UsageError(format!(
                "--headers {}: no vmlinux.h (`bpftool btf dump file <the kernel's BTF> format c`) or vmlinux \
                 (BTF) there; the legacy eBPF probe is compiled against the kernel's BTF types",
                dir.display()
            ))
            .into());
        }
    }
    let release = opts.release.clone().unwrap_or_else(saker_legacy_bpf::probe::running_release);
    let path = saker_legacy_bpf::probe::build(&opts).context("cannot build the legacy eBPF probe")?;
    println!("built the saker eBPF probe for kernel {release}: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn running_release() -> Result<String> {
    // SAFETY: uname fills the struct it is given.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        bail!("uname failed: {}", std::io::Error::last_os_error());
    }
    // SAFETY: release is NUL-terminated by uname.
    Ok(unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy().into_owned())
}

fn default_build_dir(release: &str) -> PathBuf {
    PathBuf::from("/var/lib/saker/kmod").join(release)
}

/// What to run `make` in: the headers, or for Debian's split headers whose
/// Makefile includes a `-common` tree by an absolute path that is not
/// there (headers extracted elsewhere), that tree with O= the headers.
fn kbuild_dirs(headers: &Path) -> (PathBuf, Option<PathBuf>) {
    let makefile = std::fs::read_to_string(headers.join("Makefile")).unwrap_or_default();
    if let Some(inc) = makefile.lines().find_map(|l| l.strip_prefix("include ")) {
        let inc = Path::new(inc.trim());
        if inc.is_absolute()
            && !inc.exists()
            && let Some(common) = inc.parent().and_then(Path::file_name)
            && let Some(parent) = headers.canonicalize().ok().and_then(|h| h.parent().map(Path::to_path_buf))
            && parent.join(common).join("Makefile").exists()
        {
            let out = headers.canonicalize().unwrap_or_else(|_| headers.to_path_buf());
            return (parent.join(common), Some(out));
        }
    }
    (headers.to_path_buf(), None)
}

/// The compiler the headers were configured with, if it is not installed
/// (Debian's 5.10 headers name gcc-10): then the default `gcc` is passed.
fn cc_override(headers: &Path) -> Option<String> {
    let vars = std::fs::read_to_string(headers.join(".kernelvariables")).ok()?;
    let cc = vars.lines().find(|l| l.trim_start().starts_with("CC ") || l.trim_start().starts_with("CC="))?;
    let gcc = cc.split_whitespace().find(|w| w.contains("gcc-"))?;
    let gcc = gcc.trim_start_matches(")").trim_start_matches("$(CROSS_COMPILE)");
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(gcc).exists())).unwrap_or(false);
    (!found).then(|| "gcc".to_string())
}

fn build(release: Option<String>, headers: Option<PathBuf>, build_dir: Option<PathBuf>) -> Result<ExitCode> {
    let release = match release {
        Some(r) => r,
        None => running_release()?,
    };
    let candidates: Vec<PathBuf> = match &headers {
        Some(h) => vec![h.clone()],
        None => vec![
            PathBuf::from(format!("/lib/modules/{release}/build")),
            PathBuf::from(format!("/usr/src/linux-headers-{release}")),
        ],
    };
    let Some(headers) = candidates.iter().find(|d| d.join("Makefile").exists()) else {
        let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        return Err(UsageError(format!(
            "no kernel headers for {release} (looked in {}): install them with \
             `apt-get install linux-headers-{release}` on Debian and Ubuntu, or \
             `dnf install kernel-devel-{release}` on RHEL, Fedora, Rocky and Alma, \
             or give --headers DIR",
            looked.join(", ")
        ))
        .into());
    };
    let dir = build_dir.unwrap_or_else(|| default_build_dir(&release));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in saker_kmod::sources::SOURCES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (make_dir, out) = kbuild_dirs(headers);
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(&make_dir);
    if let Some(o) = &out {
        cmd.arg(format!("O={}", o.display()));
    }
    cmd.arg(format!("M={}", dir.canonicalize().unwrap_or(dir.clone()).display()));
    if let Some(cc) = cc_override(headers) {
        cmd.arg(format!("CC={cc}"));
    }
    cmd.arg("modules");
    eprintln!("saker: building the kernel module for {release} with the headers in {}", headers.display());
    let status = cmd.status().context("cannot run make (install make and gcc)")?;
    let ko = dir.join("saker.ko");
    if !status.success() || !ko.exists() {
        bail!("building the kernel module failed (make exited with {status}); the sources are in {}", dir.display());
    }
    println!("{}", ko.display());
    Ok(ExitCode::SUCCESS)
}

fn sys_module(file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/module/{MODULE_NAME}/{file}")).ok().map(|s| s.trim().to_string())
}

fn loaded() -> bool {
    Path::new(&format!("/sys/module/{MODULE_NAME}")).exists()
}

fn load(module: Option<PathBuf>, ring_bytes: Option<u64>) -> Result<ExitCode> {
    if loaded() {
        println!(
            "the saker kernel module is already loaded (version {}); `saker driver status` shows it",
            sys_module("version").unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let path = match module {
        Some(p) => p,
        None => default_build_dir(&running_release()?).join("saker.ko"),
    };
    let file = std::fs::File::open(&path)
        .with_context(|| format!("cannot open {} (build it with `saker driver build --kind kmod`)", path.display()))?;
    let mut params = String::new();
    if let Some(b) = ring_bytes {
        params.push_str(&format!("ring_bytes={b}"));
    }
    let params = CString::new(params).expect("no NUL");
    use std::os::fd::AsRawFd;
    // SAFETY: finit_module with an open file and a NUL-terminated string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EEXIST) => " (already loaded)",
            Some(libc::ENOEXEC) => " (not a module for this kernel: rebuild it with `saker driver build --kind kmod`)",
            Some(libc::EPERM) => {
                " (root needed; a kernel in lockdown or with module signing enforced refuses unsigned modules)"
            }
            Some(libc::EINVAL) => " (a bad parameter, or a module built for another kernel; see dmesg)",
            Some(libc::ENOSYS) => " (this kernel cannot load modules)",
            _ => "",
        };
        bail!("cannot load {}: {e}{hint}", path.display());
    }
    println!("loaded {} (version {})", path.display(), sys_module("version").unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

fn unload() -> Result<ExitCode> {
    if !loaded() {
        println!("the saker kernel module is not loaded");
        return Ok(ExitCode::SUCCESS);
    }
    let consumers: u64 = sys_module("parameters/consumers").and_then(|s| s.parse().ok()).unwrap_or(0);
    if consumers > 0 {
        bail!(
            "the saker kernel module is in use: {consumers} consumer(s) have /dev/saker open; \
             stop them (saker trace/detect --driver kmod) and try again"
        );
    }
    let name = CString::new(MODULE_NAME).expect("no NUL");
    // SAFETY: delete_module with a NUL-terminated name.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) || e.raw_os_error() == Some(libc::EBUSY) {
            bail!("the saker kernel module is in use (a consumer has /dev/saker open): not unloaded");
        }
        bail!("cannot unload the saker kernel module: {e}");
    }
    println!("unloaded the saker kernel module");
    Ok(ExitCode::SUCCESS)
}

/// `VmallocUsed` of /proc/meminfo, in bytes.
pub fn vmalloc_used() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("VmallocUsed:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// For `--driver auto`: the module built for the running kernel (default
/// headers and build directory).
pub(crate) fn build_kmod_for_running() -> Result<()> {
    build(None, None, None).map(|_| ())
}

/// For `--driver auto`: the module of the running kernel's build directory loaded.
pub(crate) fn load_default() -> Result<()> {
    load(None, None).map(|_| ())
}

/// The module's state, then what `--driver auto` would choose and why.
fn status() -> Result<ExitCode> {
    let rc = kmod_status()?;
    for line in crate::auto::explain(&crate::auto::Facts::probe()) {
        println!("{line}");
    }
    Ok(rc)
}

fn kmod_status() -> Result<ExitCode> {
    if !loaded() {
        println!("loaded: no");
        println!("build and load it: saker driver build --kind kmod && saker driver load");
        return Ok(ExitCode::SUCCESS);
    }
    let version = sys_module("version").unwrap_or_default();
    let api = sys_module("parameters/api_version").unwrap_or_default();
    let schema = sys_module("parameters/schema_version").unwrap_or_default();
    let consumers = sys_module("parameters/consumers").unwrap_or_default();
    let ring_memory: u64 = sys_module("parameters/ring_memory").and_then(|s| s.parse().ok()).unwrap_or(0);
    let ring_bytes = sys_module("parameters/ring_bytes").unwrap_or_default();
    let want_api = format!("{}.{}", abi::API_MAJOR, abi::API_MINOR);
    let want_schema = format!("{:x}", abi::SCHEMA_VERSION);
    let matches = api == want_api && schema == want_schema;
    println!("loaded: yes");
    println!("version: {version}");
    println!("api_version: {api}");
    println!("schema_version: {schema}");
    if matches {
        println!("compatible: yes");
    } else {
        println!("compatible: no (this saker needs api {want_api}, schema {want_schema}: {})", saker_kmod::REBUILD);
    }
    println!("consumers: {consumers}");
    println!("ring_bytes_default: {ring_bytes}");
    println!("ring_memory: {ring_memory} bytes ({:.1} MiB, counted in VmallocUsed)", ring_memory as f64 / 1048576.0);
    if let Some(v) = vmalloc_used() {
        println!("vmalloc_used: {v} bytes");
    }
    Ok(ExitCode::SUCCESS)
}

fn dkms(prefix: &Path) -> Result<ExitCode> {
    let version = env!("CARGO_PKG_VERSION");
    let dir = prefix.join(format!("saker-{version}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in saker_kmod::sources::SOURCES {
        std::fs::write(dir.join(name), text).with_context(|| format!("cannot write in {}", dir.display()))?;
    }
    println!("{}", dir.display());
    println!("next: dkms add saker/{version} && dkms install saker/{version}");
    Ok(ExitCode::SUCCESS)
}
