//! Test tooling for [`netpol`], kept out of the library's public API: the conformance
//! scenario format and its loader ([`scenario`]), the conformance runner
//! ([`conformance`]) with the flannel net-conf case files ([`netconf`]) and the Calico
//! selector case files ([`calico_selector`]) it also reads, and the deterministic
//! workload generator the benchmarks and the measurements use ([`workload`]).
//!
//! The format of the files is the one of `FORMAT.md` in the shared conformance folder and
//! of `tests/scenarios/README.md`. The library's own tests, the runner
//! (`cargo run --release --example conformance -- PATH...`), the benchmarks
//! (`netpol-bench`) and the fuzz targets use this crate; it is not published.

pub mod calico_selector;
pub mod conformance;
pub mod netconf;
pub mod scenario;
pub mod shared;
pub mod workload;
