//! The Rust mirror of `kernel/include/saker_kmod.h` against the header as a
//! C compiler sees it: ioctl numbers, struct sizes and offsets, constants.

use std::path::PathBuf;
use std::process::Command;

use saker_kmod::abi;

#[test]
fn rust_mirror_matches_the_c_header() {
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernel/include");
    let dir = std::env::temp_dir().join(format!("saker-kmod-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("abi.c");
    let values = [
        ("SAKER_KMOD_API_VERSION", abi::API_VERSION as u64),
        ("SAKER_MAX_CONSUMERS", abi::MAX_CONSUMERS as u64),
        ("SAKER_RING_INFO_SIZE", abi::RING_INFO_SIZE as u64),
        ("SAKER_RING_MIN", abi::RING_MIN as u64),
        ("SAKER_RING_MAX", abi::RING_MAX as u64),
        ("SAKER_RING_DEFAULT", abi::RING_DEFAULT as u64),
        ("SAKER_TP_SYS_ENTER", abi::TP_SYS_ENTER as u64),
        ("SAKER_TP_SYS_EXIT", abi::TP_SYS_EXIT as u64),
        ("SAKER_TP_SCHED_PROCESS_EXIT", abi::TP_SCHED_PROCESS_EXIT as u64),
        ("SAKER_SYSCALL_GENERIC", abi::SYSCALL_GENERIC as u64),
        ("SAKER_SYSCALL_FULL", abi::SYSCALL_FULL as u64),
        ("SAKER_IOCTL_GET_INFO", abi::IOCTL_GET_INFO as u64),
        ("SAKER_IOCTL_SET_RING_BYTES", abi::IOCTL_SET_RING_BYTES as u64),
        ("SAKER_IOCTL_SET_SYSCALL", abi::IOCTL_SET_SYSCALL as u64),
        ("SAKER_IOCTL_SET_TRACEPOINTS", abi::IOCTL_SET_TRACEPOINTS as u64),
        ("SAKER_IOCTL_SET_SNAPLEN", abi::IOCTL_SET_SNAPLEN as u64),
        ("SAKER_IOCTL_SET_DROP_FAILED", abi::IOCTL_SET_DROP_FAILED as u64),
        ("SAKER_IOCTL_START", abi::IOCTL_START as u64),
        ("SAKER_IOCTL_STOP", abi::IOCTL_STOP as u64),
        ("SAKER_IOCTL_GET_COUNTERS", abi::IOCTL_GET_COUNTERS as u64),
        ("sizeof(struct saker_ring_info)", size_of::<abi::RingInfo>() as u64),
        ("sizeof(struct saker_kmod_info)", size_of::<abi::KmodInfo>() as u64),
        ("sizeof(struct saker_syscall_mode)", size_of::<abi::SyscallMode>() as u64),
        (
            "offsetof(struct saker_ring_info, n_drops_buffer)",
            std::mem::offset_of!(abi::RingInfo, n_drops_buffer) as u64,
        ),
        ("offsetof(struct saker_ring_info, ring_bytes)", std::mem::offset_of!(abi::RingInfo, ring_bytes) as u64),
        ("offsetof(struct saker_kmod_info, span)", std::mem::offset_of!(abi::KmodInfo, span) as u64),
        ("offsetof(struct saker_kmod_info, ring_memory)", std::mem::offset_of!(abi::KmodInfo, ring_memory) as u64),
    ];
    let mut prog =
        String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"saker_kmod.h\"\nint main(void) {\n");
    let mut expected = String::new();
    for (expr, v) in values {
        prog.push_str(&format!("printf(\"%s %llu\\n\", \"{expr}\", (unsigned long long)({expr}));\n"));
        expected.push_str(&format!("{expr} {v}\n"));
    }
    prog.push_str("return 0;\n}\n");
    std::fs::write(&src, prog).unwrap();
    let exe = dir.join("abi");
    let out = Command::new("cc").arg("-I").arg(&include).arg(&src).arg("-o").arg(&exe).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), expected);
    let _ = std::fs::remove_dir_all(&dir);
}
