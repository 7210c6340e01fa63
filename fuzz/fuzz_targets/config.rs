#![no_main]
//! Fuzz target `config`: see `saker_fuzzing::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::config(data));
