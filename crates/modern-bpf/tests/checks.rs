//! Every check that runs before the probe loads, fed simulated facts, with
//! its message asserted; and the verifier's log, as libbpf prints it.

use saker_modern_bpf::{ErrorKind, SystemFacts, check, kernel_version, verifier_failure};

const ALL_CAPS: u64 = (1 << 41) - 1;

fn good() -> SystemFacts {
    SystemFacts {
        kernel_release: "6.18.44-fc-v445".into(),
        btf_present: true,
        cap_effective: ALL_CAPS,
        ringbuf_supported: Some(true),
        tracing_supported: Some(true),
    }
}

fn message(facts: &SystemFacts) -> String {
    check(facts).unwrap_err().to_string()
}

#[test]
fn a_good_system_passes() {
    check(&good()).unwrap();
}

#[test]
fn old_kernel() {
    let facts = SystemFacts { kernel_release: "5.4.0-150-generic".into(), ..good() };
    let e = check(&facts).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::KernelTooOld { actual: "5.4.0".into() });
    assert_eq!(e.to_string(), "Actual kernel version is: '5.4.0' while the minimum required is: '5.8.0'");
    // 5.8.0 itself is fine
    check(&SystemFacts { kernel_release: "5.8.0".into(), ..good() }).unwrap();
    assert_eq!(kernel_version("6.18.44-fc-v445"), Some((6, 18, 44)));
    assert_eq!(kernel_version("6.1"), Some((6, 1, 0)));
}

#[test]
fn no_btf() {
    let facts = SystemFacts { btf_present: false, ..good() };
    assert_eq!(check(&facts).unwrap_err().kind(), &ErrorKind::NoBtf);
    assert_eq!(
        message(&facts),
        "failed to find valid kernel BTF: /sys/kernel/btf/vmlinux is missing \
         (the modern probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y)"
    );
}

#[test]
fn no_ring_buffer() {
    let facts = SystemFacts { ringbuf_supported: Some(false), ..good() };
    assert_eq!(
        message(&facts),
        "the kernel does not support BPF ring buffers (BPF_MAP_TYPE_RINGBUF, Linux 5.8+): \
         the modern probe cannot run here"
    );
}

#[test]
fn no_tracing_programs() {
    let facts = SystemFacts { tracing_supported: Some(false), ..good() };
    assert_eq!(
        message(&facts),
        "the kernel does not support BPF tracing programs (BPF_PROG_TYPE_TRACING, tp_btf): \
         the modern probe cannot run here"
    );
}

#[test]
fn missing_privileges_name_the_capability() {
    let without = |cap: u32| SystemFacts { cap_effective: ALL_CAPS & !(1 << cap) & !(1 << 21), ..good() };
    for (cap, name) in [(39, "CAP_BPF"), (38, "CAP_PERFMON")] {
        let e = check(&without(cap)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::MissingPrivilege { capability: name });
        assert_eq!(
            e.to_string(),
            format!(
                "missing privileges: {name} is not in the effective capability set \
                 (run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)"
            )
        );
    }
    // CAP_SYS_RESOURCE matters where BPF memory is charged to RLIMIT_MEMLOCK (< 5.11).
    let old = SystemFacts { kernel_release: "5.10.0".into(), ..without(24) };
    assert_eq!(check(&old).unwrap_err().kind(), &ErrorKind::MissingPrivilege { capability: "CAP_SYS_RESOURCE" });
    check(&without(24)).unwrap();
    // CAP_SYS_ADMIN covers CAP_BPF and CAP_PERFMON (kernels before 5.8 had only it).
    let admin = SystemFacts { cap_effective: (1 << 21) | (1 << 24), ..good() };
    check(&admin).unwrap();
    // An unprivileged process.
    let nobody = SystemFacts { cap_effective: 0, ringbuf_supported: None, tracing_supported: None, ..good() };
    assert_eq!(check(&nobody).unwrap_err().kind(), &ErrorKind::MissingPrivilege { capability: "CAP_BPF" });
}

#[test]
fn verifier_rejection_names_the_program_and_the_log_tail() {
    let log = "libbpf: prog 'sys_exit_openat': BPF program load failed: Permission denied\n\
               libbpf: prog 'sys_exit_openat': -- BEGIN PROG LOAD LOG --\n\
               0: R1=ctx() R10=fp0\n\
               1: (79) r6 = *(u64 *)(r1 +0)\n\
               2: (85) call bpf_probe_read_user_str#114\n\
               R1 type=scalar expected=fp, pkt, map_value\n\
               processed 3 insns (limit 1000000) max_states_per_insn 0\n\
               -- END PROG LOAD LOG --\n\
               libbpf: prog 'sys_exit_openat': failed to load: -13\n";
    let (prog, tail) = verifier_failure(log, 2).unwrap();
    assert_eq!(prog, "sys_exit_openat");
    assert_eq!(
        tail,
        "R1 type=scalar expected=fp, pkt, map_value\nprocessed 3 insns (limit 1000000) max_states_per_insn 0"
    );
    let e = saker_modern_bpf::Error::from(ErrorKind::Verifier { program: prog, log_tail: tail });
    assert!(e.to_string().starts_with("the BPF verifier rejected program 'sys_exit_openat':\nR1 type=scalar"));
    assert!(verifier_failure("libbpf: loading object 'x' from buffer\n", 5).is_none());
}
