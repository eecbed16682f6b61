//! Fuzz target `calico_selector`: see `checks::calico_selector` in `tests/fuzz_checks/mod.rs`.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::calico_selector(data));
