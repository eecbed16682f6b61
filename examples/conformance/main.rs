//! Conformance runner: checks scenario files (and flannel net-conf case files, and Calico
//! selector case files) against the crate.
//!
//! ```text
//! cargo run --release --example conformance -- [--json] [--reference] [--bench N] PATH...
//! ```
//!
//! Prints a line for every query whose verdict differs from `expect` and every policy
//! whose acceptance differs from `expectRejected`, then `N passed, N failed`. Exit code 0
//! when nothing failed, 1 when something did, 2 when a file cannot be read or is not a
//! scenario. With `--json`, one JSON object per query and per policy instead (the closing
//! line then goes to stderr so that stdout stays JSON lines). `--reference` answers with
//! the reference evaluator instead of the compiled engine. `--bench N` times N passes over
//! each file's queries after checking it.
//!
//! A file whose top level is an object holding `calicoSelectors` (or
//! `calicoBadSelectors`) is a Calico selector case file (FORMAT.md, "Calico selector
//! cases"): each case counts once, a failing one prints
//! `FILE: calicoSelectors[I] "SELECTOR": what differed`, and `--json` prints one object
//! per case, `{"file", "case", "selector", "ok", "expect": "accepted"|"refused",
//! "canonical", "error": {"position", "found", "expected", "message"}, "problems"}`
//! (see `calico_selector.rs`).

mod netconf;
mod run;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str =
    "usage: conformance [--json] [--reference] [--bench N] PATH...  (files or folders of *.json)";

fn main() -> ExitCode {
    let opts = match run::parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("conformance: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run::run(&opts, &mut out) {
        Err(run::FileError(msg)) => {
            let _ = out.flush();
            eprintln!("conformance: {msg}");
            ExitCode::from(2)
        }
        Ok(summary) => {
            let line = format!("{} passed, {} failed", summary.passed, summary.failed);
            if opts.json {
                eprintln!("{line}");
            } else {
                let _ = writeln!(out, "{line}");
            }
            if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
