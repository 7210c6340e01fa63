//! `kernel/fillers/list.h` names every filler, for the kernel module's
//! dispatch tables: it must list exactly the `SYS_EXIT`, `CLONE_EXIT`,
//! `ID_EXIT` and `ENTER_PROGS` of `kernel/fillers/progs_*.h`, in order.

use std::path::PathBuf;

const SOURCES: [&str; 4] = ["progs_file.h", "progs_net.h", "progs_proc.h", "progs_misc.h"];

fn expected(dir: &std::path::Path) -> String {
    let mut exits = String::new();
    let mut enters = String::new();
    for src in SOURCES {
        let text = std::fs::read_to_string(dir.join(src)).unwrap();
        for line in text.lines() {
            let name = |prefix: &str| {
                line.strip_prefix(prefix).map(|rest| rest.split([')', ',']).next().unwrap_or("").trim().to_string())
            };
            for p in ["SYS_EXIT(", "CLONE_EXIT(", "ID_EXIT("] {
                if let Some(n) = name(p) {
                    exits.push_str(&format!("FILLER_EXIT({n})\n"));
                }
            }
            if let Some(n) = name("ENTER_PROGS(") {
                enters.push_str(&format!("FILLER_ENTER({n})\n"));
            }
        }
    }
    exits + &enters
}

const HEAD: &str = "/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The fillers of progs_*.h by name, for targets that dispatch through a
 * table of their own (the module): FILLER_EXIT(name) for each SYS_EXIT,
 * CLONE_EXIT and ID_EXIT, FILLER_ENTER(name) for each ENTER_PROGS. Kept equal
 * to the sources by crates/modern-bpf/tests/fillers_list.rs (SAKER_BLESS=1
 * rewrites it).
 */
";

#[test]
fn list_names_every_filler() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernel/fillers");
    let want = format!("{HEAD}{}", expected(&dir));
    let path = dir.join("list.h");
    if std::env::var_os("SAKER_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == want,
        "{} does not list the fillers of {SOURCES:?}; \
         run `SAKER_BLESS=1 cargo test -p saker-modern-bpf --test fillers_list` and commit it",
        path.display()
    );
    // every syscall the probe has a program for is in the list
    assert!(want.matches("FILLER_EXIT(").count() >= 154);
}
