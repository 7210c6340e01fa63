//! Every input a fuzzer found a crash with (`fuzz/regressions/TARGET/*`),
//! replayed through the target's body: each must now return normally.

use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("capture_reader", saker_fuzzing::capture_reader),
    ("capture_reader_gzip", saker_fuzzing::capture_reader_gzip),
    ("event_params", saker_fuzzing::event_params),
    ("filter", saker_fuzzing::filter),
    ("rules", saker_fuzzing::rules),
    ("output_format", saker_fuzzing::output_format),
    ("config", saker_fuzzing::config),
];

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions").join(target);
    let mut v: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn crashes_found_by_the_fuzzers_stay_fixed() {
    for (name, run) in TARGETS {
        for p in regressions(name) {
            eprintln!("{name}: {}", p.display());
            run(&std::fs::read(&p).unwrap());
        }
    }
}

/// The targets on the real data they are seeded with, and on a few
/// degenerate inputs: the harness itself must hold.
#[test]
fn targets_run_on_their_seeds() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    for e in std::fs::read_dir(data.join("captures")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        saker_fuzzing::capture_reader(&bytes);
        saker_fuzzing::capture_reader_gzip(&bytes[..bytes.len().min(4096)]);
    }
    let rules = std::fs::read(data.join("rules/falco_rules.yaml")).unwrap();
    saker_fuzzing::rules(&rules);
    saker_fuzzing::filter(b"evt.type in (open, openat) and fd.name startswith /etc and not proc.name=cat");
    saker_fuzzing::output_format(b"%evt.num %proc.name %fd.name %tolower(proc.name)");
    saker_fuzzing::config(b"json_output: true\nwebserver:\n  listen_port: 1\n\0stdout_output.enabled=false");
    for (_, run) in TARGETS {
        for input in [&b""[..], b"\0", b"\xff\xfe", b"%", b"(", b"- rule:", b"\x1f\x8b"] {
            run(input);
        }
    }
}
