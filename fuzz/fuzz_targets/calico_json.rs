//! Fuzz target `calico_json`: see `calico_json` in `tests/fuzz_checks/calico.rs`.
#![no_main]

#[path = "../../tests/fuzz_checks/calico.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::calico_json(data));
