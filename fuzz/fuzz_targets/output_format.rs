#![no_main]
//! Fuzz target `output_format`: see `saker_fuzzing::output_format`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::output_format(data));
