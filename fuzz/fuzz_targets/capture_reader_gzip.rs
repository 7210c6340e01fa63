#![no_main]
//! Fuzz target `capture_reader_gzip`: see `saker_fuzzing::capture_reader_gzip`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| saker_fuzzing::capture_reader_gzip(data));
