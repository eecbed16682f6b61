//! Conformance runner: checks scenario files (and flannel net-conf case files, and Calico
//! selector case files) against the crate.
//!
//! ```text
//! cargo run --release --example conformance -- [--json] [--reference] [--bench N] PATH...
//! ```
//!
//! The work is in `netpol_testing::conformance` (the workspace's `testing/` package); see
//! its documentation for the output and the exit codes.

fn main() -> std::process::ExitCode {
    netpol_testing::conformance::main(std::env::args().skip(1))
}
