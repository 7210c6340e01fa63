#![no_main]
//! Fuzz target `rules`: see `saker_fuzzing::rules`.
//!
//! libyaml-safer 0.3 panics on some malformed YAML ("TODO: What is expected
//! here?" in tags); saker's YAML reader catches those panics and reports a
//! YAML error, so they are not saker crashes. libFuzzer's panic hook aborts
//! on every panic, caught or not: this one lets the parser's own panics
//! unwind to saker's catch and aborts on any other.

libfuzzer_sys::fuzz_target!(
    init: {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("libyaml-safer")) {
                abort_hook(info);
            }
        }));
    },
    |data: &[u8]| saker_fuzzing::rules(data)
);
