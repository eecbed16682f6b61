//! The `netpol` command: see `netpol --help` and the crate's README.

fn main() -> std::process::ExitCode {
    netpol_cli::main()
}
