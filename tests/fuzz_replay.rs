//! Replays the fuzz corpora on stable: every committed regression input
//! (`tests/fuzz_regressions/<target>/`) and, in a checkout, every seed
//! (`fuzz/seeds/<target>/`), through the same check functions the fuzz targets run.

mod fuzz_checks;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

/// Runs `target`'s check over every file of `dir`; returns how many ran and what failed.
fn replay(target: &str, check: fn(&[u8]), dir: &Path) -> (usize, Vec<String>) {
    let inputs = files(dir);
    let mut failures = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).expect("readable corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("non-string panic");
            failures.push(format!("{target}: {}: {msg}", path.display()));
        }
    }
    (inputs.len(), failures)
}

fn replay_all(root: &str) -> (usize, Vec<String>) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let mut total = 0;
    let mut failures = Vec::new();
    for (target, check) in fuzz_checks::TARGETS {
        let (n, mut f) = replay(target, *check, &base.join(target));
        total += n;
        failures.append(&mut f);
    }
    (total, failures)
}

#[test]
fn regressions_pass() {
    let (n, failures) = replay_all("tests/fuzz_regressions");
    assert!(
        failures.is_empty(),
        "{n} inputs, failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn seeds_pass() {
    // The seeds live outside the packaged crate; in a checkout they must all be present.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    if !seeds.is_dir() {
        return;
    }
    let (n, failures) = replay_all("fuzz/seeds");
    assert!(n > 0, "no seeds found under {}", seeds.display());
    assert!(
        failures.is_empty(),
        "{n} inputs, failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn checks_accept_empty_input() {
    for (target, check) in fuzz_checks::TARGETS {
        let result = std::panic::catch_unwind(|| check(b""));
        assert!(result.is_ok(), "{target} panics on empty input");
    }
}
