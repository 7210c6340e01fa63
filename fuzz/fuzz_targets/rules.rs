#![no_main]
//! Fuzz target `rules`: see `saker_fuzzing::rules`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::rules(data));
