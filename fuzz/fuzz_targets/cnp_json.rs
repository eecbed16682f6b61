//! Fuzz target `cnp_json`: see `cnp_json` in `tests/fuzz_checks/cnp.rs`.
#![no_main]

#[path = "../../tests/fuzz_checks/cnp.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cnp_json(data));
