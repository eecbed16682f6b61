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

/// How many inputs `dir` holds, counted apart from [`files`]: every entry but the
/// README.
fn present(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name() != "README.md")
            .count()
    })
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
    assert_eq!(
        inputs.len(),
        present(dir),
        "{}: every input present must run",
        dir.display()
    );
    (inputs.len(), failures)
}

/// Replays every target's folder under `root`; returns the inputs run per target and
/// what failed.
fn replay_all(root: &str) -> (Vec<(&'static str, usize)>, Vec<String>) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let mut counts = Vec::new();
    let mut failures = Vec::new();
    for (target, check) in fuzz_checks::TARGETS {
        let (n, mut f) = replay(target, *check, &base.join(target));
        counts.push((*target, n));
        failures.append(&mut f);
    }
    (counts, failures)
}

#[test]
fn regressions_pass() {
    let (counts, failures) = replay_all("tests/fuzz_regressions");
    assert!(
        failures.is_empty(),
        "{counts:?} inputs, failures:\n{}",
        failures.join("\n")
    );
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let present =
        present(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/policy_json"));
    assert!(total >= present && present > 0, "{counts:?}");
    eprintln!("{total} regression inputs replayed: {counts:?}");
}

#[test]
fn seeds_pass() {
    // The seeds are in the repository (the packaged crate ships no tests): every target
    // must have some, and every one must run.
    let (counts, failures) = replay_all("fuzz/seeds");
    assert!(
        failures.is_empty(),
        "{counts:?} inputs, failures:\n{}",
        failures.join("\n")
    );
    for (target, n) in &counts {
        assert!(*n > 0, "no seed for {target} under fuzz/seeds/{target}");
    }
    eprintln!("seeds replayed: {counts:?}");
}

#[test]
fn checks_accept_empty_input() {
    for (target, check) in fuzz_checks::TARGETS {
        let result = std::panic::catch_unwind(|| check(b""));
        assert!(result.is_ok(), "{target} panics on empty input");
    }
}
