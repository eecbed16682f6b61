//! Runs every scenario and net-conf case file through the conformance runner's own code
//! (`netpol_testing::conformance`), with the compiled engine and with the reference
//! evaluator: the crate's files in `tests/scenarios` and `tests/data/netconf`, and the
//! shared ones in `../shared/conformance` when that folder is there.

use netpol_testing::conformance as run;
use netpol_testing::shared::{count_files, shared_or_skip, shared_path};

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(paths: Vec<PathBuf>, mode: run::Mode) -> run::Summary {
    let opts = run::Options {
        json: false,
        mode,
        bench: 0,
        paths,
    };
    let mut out = Vec::new();
    let summary = match run::run(&opts, &mut out) {
        Ok(s) => s,
        Err(run::FileError(msg)) => panic!("{msg}"),
    };
    let text = String::from_utf8_lossy(&out);
    assert_eq!(summary.failed, 0, "{mode:?}:\n{text}");
    assert!(summary.passed > 0, "no check ran");
    summary
}

/// How many JSON files the runner must have run under `dirs`, counted apart from it.
fn present(dirs: &[PathBuf]) -> usize {
    dirs.iter().map(|d| count_files(d, "json", |_| true)).sum()
}

#[test]
fn crate_scenarios_pass_with_engine_and_reference() {
    let paths = vec![
        root().join("tests/scenarios"),
        root().join("tests/data/netconf"),
    ];
    let e = check(paths.clone(), run::Mode::Engine);
    let r = check(paths.clone(), run::Mode::Reference);
    assert_eq!(e, r);
    let files = present(&paths);
    assert!(files >= 30, "only {files} files in {paths:?}");
    assert_eq!(e.files, files, "files run");
    eprintln!("{} checks in {} files", e.passed, e.files);
}

#[test]
fn shared_scenarios_pass_with_engine_and_reference() {
    let Some(shared) = shared_or_skip(&shared_path(&root(), ""), "the shared scenarios") else {
        return;
    };
    let e = check(vec![shared.clone()], run::Mode::Engine);
    let r = check(vec![shared.clone()], run::Mode::Reference);
    assert_eq!(e, r);
    let files = present(&[shared]);
    assert!(files > 0);
    assert_eq!(e.files, files, "files run");
    eprintln!("{} checks in {} shared files", e.passed, e.files);
}

#[test]
fn json_output_has_a_line_per_query_and_policy() {
    let file = root().join("tests/scenarios/rejected-invalid-policies.json");
    let opts = run::Options {
        json: true,
        mode: run::Mode::Engine,
        bench: 0,
        paths: vec![file.clone()],
    };
    let mut out = Vec::new();
    run::run(&opts, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let queries = scenario["queries"].as_array().unwrap().len();
    let policies = scenario["policies"].as_array().unwrap().len();
    assert_eq!(lines.len(), queries + policies);
    assert_eq!(lines[0]["index"], 0);
    assert!(lines[0]["verdict"] == "allow" || lines[0]["verdict"] == "deny");
    let rejected = lines
        .iter()
        .find(|l| l["policy"] == "default/port-zero")
        .unwrap();
    assert_eq!(rejected["rejected"], true);
    assert_eq!(rejected["field"], "spec.ingress[0].ports[0].port");
}

#[test]
fn a_bad_file_is_an_error_naming_line_and_column() {
    let dir = std::env::temp_dir().join(format!("netpol-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"pods\": [\n    {\"name\": }\n]}").unwrap();
    let opts = run::Options {
        json: false,
        mode: run::Mode::Engine,
        bench: 0,
        paths: vec![bad.clone()],
    };
    let err = run::run(&opts, &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("bad.json:3:"), "{}", err.0);
    std::fs::write(&bad, "[1, 2]").unwrap();
    let err = run::run(&opts, &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("not a scenario"), "{}", err.0);
    std::fs::write(
        &bad,
        r#"{"queries": [{"from": "x/nope", "to": "x/a", "port": 80}]}"#,
    )
    .unwrap();
    let err = run::run(&opts, &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("queries[0].from"), "{}", err.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrong_expectation_is_reported_and_counted() {
    let dir = std::env::temp_dir().join(format!("netpol-conformance-wrong-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("wrong.json");
    std::fs::write(
        &file,
        r#"{"pods": [{"namespace": "x", "name": "a", "ip": "10.0.0.1"}, {"namespace": "x", "name": "b", "ip": "10.0.0.2"}],
            "policies": [{"metadata": {"name": "deny", "namespace": "x"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}],
            "queries": [{"from": "x/a", "to": "x/b", "port": 80, "protocol": "TCP", "expect": "allow"},
                        {"from": "x/a", "to": "x/b", "port": 80, "protocol": "TCP", "expect": "deny"}],
            "expectRejected": [{"policy": "x/deny", "field": "spec"}]}"#,
    )
    .unwrap();
    let opts = run::Options {
        json: false,
        mode: run::Mode::Engine,
        bench: 0,
        paths: vec![file],
    };
    let mut out = Vec::new();
    let s = run::run(&opts, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!((s.passed, s.failed), (1, 2), "{text}");
    assert!(
        text.contains("queries[0] x/a -> x/b 80/TCP: expected allow, got deny"),
        "{text}"
    );
    assert!(
        text.contains("policy x/deny: accepted, but expected to be refused at spec"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
