//! The kernel module builds the fillers with the checked-in
//! `kernel/include/saker_gen.h`; the probe with the one build.rs generates
//! from the syscall and flag tables. They must be the same file.

use std::path::PathBuf;

#[test]
fn checked_in_gen_header_is_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernel/include/saker_gen.h");
    if std::env::var_os("SAKER_BLESS").is_some() {
        std::fs::write(&path, saker_modern_bpf::GEN_HEADER).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == saker_modern_bpf::GEN_HEADER,
        "{} differs from what crates/modern-bpf/build.rs generates; \
         run `SAKER_BLESS=1 cargo test -p saker-modern-bpf --test gen_header` and commit it",
        path.display()
    );
}
