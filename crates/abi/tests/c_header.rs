//! The kernel-side C header must describe the same ABI as the Rust table.
//!
//! Two checks: the checked-in header is exactly what the generator produces
//! today, and a C program compiled against the checked-in header sees the
//! same codes, parameter counts, sizes and header layout as the Rust side.

use std::path::PathBuf;
use std::process::Command;

use saker_abi::{EVENT_TABLE, EventFlags, HEADER_LEN, ParamType};

fn header_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernel/include/saker_events.h")
}

#[test]
fn checked_in_header_is_generated_one() {
    let path = header_path();
    if std::env::var_os("SAKER_BLESS").is_some() {
        std::fs::write(&path, saker_abi::C_HEADER).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == saker_abi::C_HEADER,
        "{} differs from what crates/abi/build.rs generates; \
         run `SAKER_BLESS=1 cargo test -p saker-abi --test c_header` and commit it",
        path.display()
    );
}

#[test]
fn c_compiler_sees_the_rust_abi() {
    // The program prints what the C side believes; the expectation comes
    // from the Rust table, not from the header.
    let mut prog = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"saker_events.h\"\nint main(void) {\n",
    );
    let mut expected = String::new();
    prog.push_str(
        "printf(\"hdr %zu %zu %zu %zu %zu %zu\\n\", sizeof(struct ppm_evt_hdr), offsetof(struct ppm_evt_hdr, ts), \
         offsetof(struct ppm_evt_hdr, tid), offsetof(struct ppm_evt_hdr, len), offsetof(struct ppm_evt_hdr, type), \
         offsetof(struct ppm_evt_hdr, nparams));\n",
    );
    expected.push_str(&format!("hdr {HEADER_LEN} 0 8 16 20 22\n"));
    prog.push_str("printf(\"max %d\\n\", (int)PPM_EVENT_MAX);\n");
    expected.push_str(&format!("max {}\n", EVENT_TABLE.len()));
    for e in EVENT_TABLE.iter() {
        prog.push_str(&format!("printf(\"{0} %d\\n\", (int){0});\n", e.enum_name));
        expected.push_str(&format!("{} {}\n", e.enum_name, e.code));
        if e.flags.contains(EventFlags::UNUSED) {
            continue;
        }
        prog.push_str(&format!("printf(\"n %d\\n\", {}_NPARAMS);\n", e.enum_name));
        expected.push_str(&format!("n {}\n", e.params.len()));
        let sizes: Option<Vec<usize>> = e.params.iter().map(|p| p.ty.fixed_size()).collect();
        if let (Some(sizes), false) = (sizes, e.flags.contains(EventFlags::LARGE_PAYLOAD)) {
            prog.push_str(&format!("printf(\"s %d\\n\", {}_SIZE);\n", e.enum_name));
            expected.push_str(&format!("s {}\n", HEADER_LEN + 2 * sizes.len() + sizes.iter().sum::<usize>()));
        }
    }
    for ty in [ParamType::Fd, ParamType::Charbuf, ParamType::Socktuple, ParamType::Enumflags32] {
        prog.push_str(&format!("printf(\"PT_{0} %d\\n\", PT_{0});\n", ty.name()));
        expected.push_str(&format!("PT_{} {}\n", ty.name(), ty as u8));
    }
    prog.push_str("return 0;\n}\n");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("abi_check.c");
    let bin = dir.join("abi_check");
    std::fs::write(&src, prog).unwrap();
    let include = header_path().parent().unwrap().to_path_buf();
    let out = Command::new("cc")
        .args(["-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .arg("-I")
        .arg(&include)
        .output()
        .expect("a C compiler (cc) is needed for the ABI drift test");
    assert!(out.status.success(), "C build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    let got = String::from_utf8(run.stdout).unwrap();
    for (n, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {n}: the C header and the Rust table disagree");
    }
    assert_eq!(got.lines().count(), expected.lines().count());
}
