//! Checks run before anything loads, each with a message users can search for.
//!
//! [`SystemFacts::probe`] reads the facts from the running system and
//! [`check`] judges them, so tests can feed any facts to [`check`].

use crate::error::{Error, ErrorKind};

/// Capability numbers (linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// What the checks look at.
#[derive(Clone, Debug)]
pub struct SystemFacts {
    /// `uname -r`, e.g. `6.18.44-fc-v445`.
    pub kernel_release: String,
    /// Whether `/sys/kernel/btf/vmlinux` exists.
    pub btf_present: bool,
    /// The effective capability set (`CapEff` of `/proc/self/status`).
    pub cap_effective: u64,
    /// Whether the kernel creates ring buffers (`None`: not probed).
    pub ringbuf_supported: Option<bool>,
    /// Whether the kernel loads tracing programs (`None`: not probed).
    pub tracing_supported: Option<bool>,
}

impl SystemFacts {
    /// Reads the facts of the running system. The feature probes (which need
    /// privileges) run only when the privileges are there.
    pub fn probe() -> SystemFacts {
        let kernel_release =
            std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
        let btf_present = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
        let cap_effective = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .unwrap_or(0);
        let mut facts = SystemFacts {
            kernel_release,
            btf_present,
            cap_effective,
            ringbuf_supported: None,
            tracing_supported: None,
        };
        if missing_capability(&facts).is_none() {
            facts.ringbuf_supported = libbpf_rs::MapType::RingBuf.is_supported().ok();
            facts.tracing_supported = Some(tp_btf_supported());
        }
        facts
    }
}

/// Whether the kernel loads a `tp_btf/sys_exit` program (what the probe
/// attaches). libbpf's own probe for tracing programs uses fentry, which
/// some kernels refuse (EPERM) while they run tp_btf fine.
fn tp_btf_supported() -> bool {
    use libbpf_rs::libbpf_sys as sys;
    // SAFETY: plain libbpf calls on owned data; every pointer is checked.
    unsafe {
        let btf = sys::btf__load_vmlinux_btf();
        if btf.is_null() || (btf as isize) < 0 && (btf as isize) > -4096 {
            return false;
        }
        let id = sys::btf__find_by_name_kind(btf, c"btf_trace_sys_exit".as_ptr(), sys::BTF_KIND_TYPEDEF);
        sys::btf__free(btf);
        if id <= 0 {
            return false;
        }
        // r0 = 0; exit
        let insns = [
            sys::bpf_insn {
                code: 0xb7,
                _bitfield_align_1: [],
                _bitfield_1: sys::bpf_insn::new_bitfield_1(0, 0),
                off: 0,
                imm: 0,
            },
            sys::bpf_insn {
                code: 0x95,
                _bitfield_align_1: [],
                _bitfield_1: sys::bpf_insn::new_bitfield_1(0, 0),
                off: 0,
                imm: 0,
            },
        ];
        let mut opts = sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
            expected_attach_type: sys::BPF_TRACE_RAW_TP,
            attach_btf_id: id as u32,
            ..Default::default()
        };
        let fd = sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_TRACING,
            c"saker_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        );
        if fd < 0 {
            return false;
        }
        libc::close(fd);
        true
    }
}

/// `x.y.z` of a kernel release string (`6.18.44-fc` -> (6, 18, 44)).
pub fn kernel_version(release: &str) -> Option<(u32, u32, u32)> {
    let mut nums = release.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().ok());
    let major = nums.next()??;
    let minor = nums.next()??;
    let patch = nums.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

fn missing_capability(facts: &SystemFacts) -> Option<&'static str> {
    let caps = facts.cap_effective;
    let admin = has(caps, CAP_SYS_ADMIN);
    if !has(caps, CAP_BPF) && !admin {
        return Some("CAP_BPF");
    }
    if !has(caps, CAP_PERFMON) && !admin {
        return Some("CAP_PERFMON");
    }
    // Before 5.11, BPF memory is charged to RLIMIT_MEMLOCK, which only
    // CAP_SYS_RESOURCE may raise.
    let old_memlock = kernel_version(&facts.kernel_release).is_none_or(|v| v < (5, 11, 0));
    if old_memlock && !has(caps, CAP_SYS_RESOURCE) {
        return Some("CAP_SYS_RESOURCE");
    }
    None
}

/// Judges the facts: kernel version, BTF, privileges, ring buffers, tracing
/// programs, in that order.
pub fn check(facts: &SystemFacts) -> Result<(), Error> {
    match kernel_version(&facts.kernel_release) {
        Some(v) if v >= (5, 8, 0) => {}
        Some((a, b, c)) => {
            return Err(Error::new(ErrorKind::KernelTooOld { actual: format!("{a}.{b}.{c}") }));
        }
        None => return Err(Error::new(ErrorKind::KernelTooOld { actual: facts.kernel_release.clone() })),
    }
    if !facts.btf_present {
        return Err(Error::new(ErrorKind::NoBtf));
    }
    if let Some(capability) = missing_capability(facts) {
        return Err(Error::new(ErrorKind::MissingPrivilege { capability }));
    }
    if facts.ringbuf_supported == Some(false) {
        return Err(Error::new(ErrorKind::NoRingBuffer));
    }
    if facts.tracing_supported == Some(false) {
        return Err(Error::new(ErrorKind::NoTracing));
    }
    Ok(())
}

/// Finds, in libbpf's log of a failed load, the program the verifier
/// rejected and the last `lines` lines of its verifier log.
pub fn verifier_failure(log: &str, lines: usize) -> Option<(String, String)> {
    // libbpf: "libbpf: prog 'NAME': BPF program load failed: ..." then
    // "libbpf: prog 'NAME': -- BEGIN PROG LOAD LOG --" ... "-- END PROG LOAD LOG --".
    let failed = log.lines().find(|l| l.contains("BPF program load failed") || l.contains("failed to load"))?;
    let program = failed.split('\'').nth(1)?.to_string();
    let begin = log.find("-- BEGIN PROG LOAD LOG --");
    let body = match begin {
        Some(b) => {
            let rest = &log[b..];
            let rest = rest.split_once('\n').map_or("", |(_, r)| r);
            rest.split("-- END PROG LOAD LOG --").next().unwrap_or(rest)
        }
        None => "",
    };
    let all: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    let tail = tail.trim_end_matches("libbpf: prog '").to_string();
    Some((program, if tail.is_empty() { failed.to_string() } else { tail }))
}
