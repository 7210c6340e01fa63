#![no_main]
//! Fuzz target `filter`: see `saker_fuzzing::filter`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::filter(data));
