#![no_main]
//! Fuzz target `capture_reader`: see `saker_fuzzing::capture_reader`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::capture_reader(data));
