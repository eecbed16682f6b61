//! The shared conformance files beside the repository (`../shared/conformance`), which a
//! checkout may lack, and counting inputs so that replay tests cannot pass vacuously.
//!
//! A test that needs a shared folder calls [`shared_or_skip`]: when the folder is absent
//! it prints that it skipped (on stderr, which `cargo test` shows with `--nocapture` or on
//! failure) and returns `None`; with the environment variable [`REQUIRE_SHARED`] set to
//! `1` (as `.ci/run` sets it) it panics instead, so CI cannot skip silently.

use std::path::{Path, PathBuf};

/// The environment variable that turns a missing shared folder into a test failure.
pub const REQUIRE_SHARED: &str = "NETPOL_REQUIRE_SHARED";

/// The shared conformance folder `../shared/conformance/<sub>` beside the workspace
/// whose root is `workspace_root` (the folder of the root `Cargo.toml`).
///
/// ```
/// let p = netpol_testing::shared::shared_path(std::path::Path::new("/repo"), "cases");
/// assert_eq!(p, std::path::Path::new("/repo/../shared/conformance/cases"));
/// ```
pub fn shared_path(workspace_root: &Path, sub: &str) -> PathBuf {
    let base = workspace_root.join("../shared/conformance");
    if sub.is_empty() { base } else { base.join(sub) }
}

/// Whether [`REQUIRE_SHARED`] is set to `1`.
pub fn shared_required() -> bool {
    std::env::var(REQUIRE_SHARED).is_ok_and(|v| v == "1")
}

/// `Some(dir)` when the folder exists; otherwise prints that `what` was skipped and
/// returns `None`, or panics when [`REQUIRE_SHARED`] is `1`.
///
/// ```
/// let missing = std::path::Path::new("/nonexistent/shared/conformance");
/// if !netpol_testing::shared::shared_required() {
///     assert!(netpol_testing::shared::shared_or_skip(missing, "the shared scenarios").is_none());
/// }
/// ```
pub fn shared_or_skip(dir: &Path, what: &str) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    if shared_required() {
        panic!(
            "{} is absent, and {REQUIRE_SHARED}=1 requires {what} to run",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {what}: {} is absent (set {REQUIRE_SHARED}=1 to make this a failure)",
        dir.display()
    );
    None
}

/// How many files under `dir` (recursively) end in `.ext` and satisfy `keep` (given the
/// file's text): the count a replay must reach, taken apart from the replay's own walk.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("netpol-count-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("sub")).unwrap();
/// std::fs::write(dir.join("a.json"), "[]").unwrap();
/// std::fs::write(dir.join("sub/b.json"), "{}").unwrap();
/// std::fs::write(dir.join("c.txt"), "").unwrap();
/// assert_eq!(netpol_testing::shared::count_files(&dir, "json", |_| true), 2);
/// assert_eq!(netpol_testing::shared::count_files(&dir, "json", |t| t.starts_with('[')), 1);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn count_files(dir: &Path, ext: &str, keep: impl Fn(&str) -> bool + Copy) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| e.path())
        .map(|p| {
            if p.is_dir() {
                count_files(&p, ext, keep)
            } else if p.extension().is_some_and(|x| x == ext)
                && std::fs::read_to_string(&p).is_ok_and(|t| keep(&t))
            {
                1
            } else {
                0
            }
        })
        .sum()
}
