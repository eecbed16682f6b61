//! `netpol lint` end to end: findings as text and JSON lines, the exit codes, the
//! filters and the profile.

use std::process::{Command, Output};

use serde_json::Value;

fn netpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the netpol binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const PROBLEMS: &str = "tests/data/lint/problems.yaml";
const CLEAN: &str = "tests/data/lint/clean.yaml";
const REFUSED: &str = "tests/data/lint/refused.yaml";

fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn json_lines_have_the_documented_fields_and_warnings_exit_1() {
    let out = netpol(&["lint", "--json", PROBLEMS]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert!(!lines.is_empty());
    for v in &lines {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "code",
                "field",
                "message",
                "object",
                "severity",
                "suggestion"
            ]
        );
        let mut object: Vec<&str> = v["object"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        object.sort();
        assert_eq!(object, ["kind", "name", "namespace"]);
    }
    let find = |code: &str, name: &str| {
        lines
            .iter()
            .find(|v| v["code"] == code && v["object"]["name"] == name)
            .unwrap_or_else(|| panic!("no {code} for {name} in {lines:#?}"))
    };
    let typo = find("NP010", "typo");
    assert_eq!(typo["field"], "spec.egress");
    assert_eq!(typo["severity"], "warning");
    assert_eq!(typo["object"]["kind"], "NetworkPolicy");
    assert_eq!(typo["object"]["namespace"], "shop");
    assert_eq!(find("NP001", "typo")["field"], "spec.podSelector");
    // The lockdown policy isolates egress without allowing DNS.
    let dns = find("NP040", "db");
    assert_eq!(dns["object"]["kind"], "Pod");
    // Its ingress rule covers the db policy's: db is redundant as a whole.
    assert_eq!(find("NP021", "db")["object"]["kind"], "NetworkPolicy");
}

#[test]
fn text_output_and_a_clean_input_exit_0() {
    let out = netpol(&["lint", PROBLEMS]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "NP010 warning: NetworkPolicy shop/typo spec.egress: egress rules are written"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("    hint: "));
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .ends_with("0 errors, 4 warnings, 0 info"),
        "{stdout}"
    );

    let out = netpol(&["lint", CLEAN]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "0 findings: 0 errors, 0 warnings, 0 info\n"
    );
    // No DNS in that cluster: the check says so on stderr.
    assert!(text(&out.stderr).contains("NP040 not run"));
}

#[test]
fn input_errors_exit_2_and_the_rest_is_linted() {
    let out = netpol(&["lint", "--json", REFUSED]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("would be refused by the apiserver"));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|v| v["code"] == "NP001" && v["object"]["name"] == "other")
    );
    // The refused policy is not linted.
    assert!(lines.iter().all(|v| v["object"]["name"] != "bad"));

    let out = netpol(&["lint", "tests/data/lint/missing.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = netpol(&["lint"]);
    assert_eq!(out.status.code(), Some(2));
    let out = netpol(&["lint", "--profile", "nope", CLEAN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown profile"));
    let out = netpol(&["lint", "--only", "NP999", CLEAN]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn filters_and_profiles() {
    let out = netpol(&["lint", "--json", "--only", "np010", PROBLEMS]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["code"], "NP010");
    let out = netpol(&["lint", "--json", "--disable", "NP001", PROBLEMS]);
    assert!(json_lines(&out).iter().all(|v| v["code"] != "NP001"));
    // Under flannel no policy is enforced: every one is reported as ignored.
    let out = netpol(&[
        "lint",
        "--json",
        "--profile",
        "flannel",
        "--only",
        "NP050",
        CLEAN,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let names: Vec<String> = json_lines(&out)
        .iter()
        .map(|v| v["object"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["api", "db"]);
}

#[test]
fn help_documents_the_exit_codes_and_every_check() {
    let out = netpol(&["lint", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Exit status: 0 when no finding is a warning or an error"));
    for check in netpol::analysis::lint::Check::ALL {
        assert!(help.contains(check.code()), "--help lacks {check}");
    }
}

#[test]
fn readme_example_is_the_output() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let marker = "```text\n$ netpol lint cli/tests/data/lint/problems.yaml\n";
    let start = readme.find(marker).expect("README shows netpol lint") + marker.len();
    let len = readme[start..].find("```").unwrap();
    let out = netpol(&["lint", PROBLEMS]);
    assert_eq!(text(&out.stdout), &readme[start..start + len]);
}

#[test]
fn ipblocks_that_the_masquerade_defeats() {
    let out = netpol(&["lint", "--json", "tests/data/lint/outside.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let found: Vec<(&str, &str)> = lines
        .iter()
        .filter(|v| v["code"] == "NP052")
        .map(|v| {
            (
                v["object"]["name"].as_str().unwrap(),
                v["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("api-from-nodes", "spec.ingress[0].from[0].ipBlock"),
            ("web-from-clients", "spec.ingress[0].from[0].ipBlock")
        ],
        "{lines:#?}"
    );
    let message = |name: &str| {
        lines
            .iter()
            .find(|v| v["code"] == "NP052" && v["object"]["name"] == name)
            .and_then(|v| v["message"].as_str())
            .unwrap()
            .to_owned()
    };
    assert!(
        message("web-from-clients").contains("arrive masqueraded as 192.168.0.11 (node-1)"),
        "{}",
        message("web-from-clients")
    );
    assert!(
        message("api-from-nodes").contains("load-balancer IP 203.0.113.10 port 9000/TCP")
            && message("api-from-nodes").contains("is admitted, whatever its address"),
        "{}",
        message("api-from-nodes")
    );
    // With externalTrafficPolicy: Local the same policies mean what they say.
    let out = netpol(&["lint", "tests/data/lint/outside-local.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "0 findings: 0 errors, 0 warnings, 0 info\n"
    );
}
