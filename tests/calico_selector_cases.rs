//! Runs every Calico selector case file (FORMAT.md, "Calico selector cases") through the
//! conformance runner's own code (`netpol_testing::calico_selector`, reached through
//! `netpol_testing::conformance` as the runner reaches it): the crate's in `tests/scenarios`, and the
//! shared ones in `../shared/conformance/cases` when that folder is there.

use std::path::{Path, PathBuf};

use netpol_testing::calico_selector::{SelectorOutcome, is_selector_file, run_selector_file};
use netpol_testing::conformance as run;
use netpol_testing::shared::{count_files, shared_or_skip, shared_path};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The selector case files of `dir` (sorted), with their JSON.
fn selector_files(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            is_selector_file(&v).then_some((p, v))
        })
        .collect()
}

/// The selector case files under `dir` (subfolders included), recognised by their text
/// rather than by the runner's own test: every one must have run.
fn selector_files_present(dir: &Path) -> usize {
    count_files(dir, "json", |t| {
        t.contains("\"calicoSelectors\"") || t.contains("\"calicoBadSelectors\"")
    })
}

/// The cases a file lists, counted from the JSON itself.
fn listed(v: &Value) -> usize {
    ["calicoSelectors", "calicoBadSelectors"]
        .iter()
        .map(|k| v[k].as_array().map_or(0, Vec::len))
        .sum()
}

/// Runs the files; every case must pass; returns how many ran.
fn run_all(files: &[(PathBuf, Value)]) -> usize {
    let mut ran = 0;
    let mut report = String::new();
    for (path, v) in files {
        let mut out = Vec::new();
        let o = run_selector_file(&path.display().to_string(), v, false, &mut out)
            .expect("writes to a Vec");
        assert_eq!(o.passed + o.failed, listed(v), "{}", path.display());
        if o.failed > 0 {
            report.push_str(&String::from_utf8_lossy(&out));
        }
        ran += o.passed + o.failed;
    }
    assert!(report.is_empty(), "failing selector cases:\n{report}");
    ran
}

#[test]
fn crate_selector_cases_pass() {
    let files = selector_files(&root().join("tests/scenarios"));
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "calico-selectors-basic.json"),
        "{names:?}"
    );
    let ran = run_all(&files);
    let expected: usize = files.iter().map(|(_, v)| listed(v)).sum();
    assert_eq!(ran, expected);
    assert!(ran >= 51, "only {ran} cases ran");
    assert_eq!(
        files.len(),
        selector_files_present(&root().join("tests/scenarios"))
    );
    eprintln!(
        "{ran} selector cases ran from {} files in tests/scenarios",
        files.len()
    );
}

#[test]
fn shared_selector_cases_pass() {
    let Some(shared) = shared_or_skip(
        &shared_path(&root(), "cases"),
        "the shared Calico selector cases",
    ) else {
        return;
    };
    let files = selector_files(&shared);
    let ran = run_all(&files);
    let expected: usize = files.iter().map(|(_, v)| listed(v)).sum();
    assert_eq!(ran, expected);
    assert_eq!(files.len(), selector_files_present(&shared));
    eprintln!(
        "{ran} selector cases ran from {} files in {}",
        files.len(),
        shared.display()
    );
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netpol-calico-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn failing_and_malformed_cases_are_reported_one_line_each() {
    let text = r#"{"calicoSelectors": [
        {"selector": "a == 'b'", "matches": [{"a": "b"}], "noMatches": [{"a": "c"}], "canonical": "a == \"b\""},
        {"selector": "a == 'b'", "matches": [{"a": "c"}, {}], "canonical": "a == 'b'"},
        {"selector": "a = 'b'"},
        {"matches": []},
        {"selector": "has(a)", "noMatches": [{"a": 1}]}
      ],
      "calicoBadSelectors": ["has(", "has(a)", 7, {"selector": "a =="}]}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    assert!(is_selector_file(&v));
    let mut out = Vec::new();
    let o = run_selector_file("f.json", &v, false, &mut out).unwrap();
    assert_eq!(
        o,
        SelectorOutcome {
            passed: 3,
            failed: 6
        }
    );
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(
        lines[0],
        r#"f.json: calicoSelectors[1] "a == 'b'": does not match {"a":"c"}; does not match {}; canonical form "a == \"b\"", expected "a == 'b'""#
    );
    assert_eq!(
        lines[1],
        r#"f.json: calicoSelectors[2] "a = 'b'": refused: found "=" at byte 2, expected '=='"#
    );
    assert_eq!(
        lines[2],
        "f.json: calicoSelectors[3]: malformed case: needs a string `selector`"
    );
    assert!(
        lines[3].starts_with(r#"f.json: calicoSelectors[4] "has(a)": malformed case: label "a""#),
        "{}",
        lines[3]
    );
    assert_eq!(
        lines[4],
        r#"f.json: calicoBadSelectors[1] "has(a)": accepted, as "has(a)""#
    );
    assert!(
        lines[5].starts_with("f.json: calicoBadSelectors[2]: malformed case"),
        "{}",
        lines[5]
    );
}

#[test]
fn json_output_has_one_object_per_case() {
    let text = r#"{"calicoSelectors": [{"selector": "a in {'y','x'}", "matches": [{"a": "x"}]},
                                       {"selector": "a ==", "matches": []}],
                   "calicoBadSelectors": ["a ==", "all()"]}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let mut out = Vec::new();
    let o = run_selector_file("g.json", &v, true, &mut out).unwrap();
    assert_eq!(
        o,
        SelectorOutcome {
            passed: 2,
            failed: 2
        }
    );
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["file"], "g.json");
    assert_eq!(lines[0]["case"], "calicoSelectors[0]");
    assert_eq!(lines[0]["selector"], "a in {'y','x'}");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["expect"], "accepted");
    assert_eq!(lines[0]["canonical"], r#"a in {"x", "y"}"#);
    assert_eq!(lines[0]["error"], Value::Null);
    assert_eq!(lines[0]["problems"], serde_json::json!([]));
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["canonical"], Value::Null);
    assert_eq!(lines[1]["error"]["position"], 4);
    assert_eq!(lines[1]["error"]["found"], "");
    assert_eq!(lines[1]["error"]["expected"], "a quoted string");
    assert_eq!(
        lines[1]["error"]["message"],
        "found end of input at byte 4, expected a quoted string"
    );
    assert_eq!(lines[2]["case"], "calicoBadSelectors[0]");
    assert_eq!(lines[2]["expect"], "refused");
    assert_eq!(lines[2]["ok"], true);
    assert_eq!(lines[3]["ok"], false);
    assert_eq!(lines[3]["canonical"], "all()");
}

#[test]
fn the_runner_checks_selector_files_beside_scenarios() {
    let file = write_temp(
        "sel.json",
        r#"{"calicoSelectors": [{"selector": "has(a)", "matches": [{"a": ""}], "noMatches": [{}]}],
            "calicoBadSelectors": ["has(a)"]}"#,
    );
    let dir = file.parent().unwrap().to_path_buf();
    let opts = |json: bool, paths: Vec<PathBuf>| run::Options {
        json,
        mode: run::Mode::Engine,
        bench: 0,
        paths,
    };
    let mut out = Vec::new();
    let summary = run::run(&opts(false, vec![dir.clone()]), &mut out).unwrap();
    assert_eq!((summary.passed, summary.failed), (1, 1));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        format!(
            "{}: calicoBadSelectors[0] \"has(a)\": accepted, as \"has(a)\"\n",
            file.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // With --json, one object per case of the crate's file, beside a scenario file.
    let own = root().join("tests/scenarios/calico-selectors-basic.json");
    let scenario = root().join("tests/scenarios/example-deny-all-ingress.json");
    let mut out = Vec::new();
    let summary = run::run(&opts(true, vec![own.clone(), scenario]), &mut out).unwrap();
    assert_eq!(summary.failed, 0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&own).unwrap()).unwrap();
    let selector_lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l.get("case").is_some())
        .count();
    assert_eq!(selector_lines, listed(&v));
}
