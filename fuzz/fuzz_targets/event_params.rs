#![no_main]
//! Fuzz target `event_params`: see `saker_fuzzing::event_params`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::event_params(data));
