//! The `netpol` binary end to end: each subcommand's output and exit code, the README's
//! examples, and the serve protocol.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use netpol::engine::Engine;
use netpol_testing::scenario::{LoadedItem, Scenario};
use netpol_testing::workload::{self, Scale};
use serde_json::Value;

fn netpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the netpol binary runs")
}

fn serve(input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the netpol binary runs");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&data).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(path).unwrap()
}

/// The README's fenced block that starts with `first_line`.
fn readme_block(first_line: &str) -> String {
    let readme = readme();
    let start = readme
        .find(&format!("```text\n{first_line}"))
        .unwrap_or_else(|| panic!("README has no block starting {first_line:?}"))
        + "```text\n".len();
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_owned()
}

fn data(name: &str) -> String {
    PathBuf::from("tests/data").join(name).display().to_string()
}

#[test]
fn reach_without_paths_prints_the_readmes_demo() {
    let out = netpol(&["reach"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), readme_block("Built-in demo:"));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn explain_prints_the_readmes_explanations() {
    let out = netpol(&["explain", "x/b", "x/a", "6379/TCP"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        readme_block("x/b -> x/a 6379/TCP: ALLOW")
    );
    let out = netpol(&["explain", "x/b", "svc/x/db", "6379/TCP"]);
    assert_eq!(
        text(&out.stdout),
        readme_block("x/b -> service x/db 6379/TCP: ALL")
    );
    let out = netpol(&["explain", "x/b", "x/a", "6379/TCP", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["flow"], "x/b -> x/a 6379/TCP");
    // An unknown pod is a usage error.
    let out = netpol(&["explain", "x/nope", "x/a", "80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no pod \"nope\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn reach_reads_a_kubectl_dump_with_host_network_pods_and_exits_0() {
    let out = netpol(&["reach", &data("kubectl-dump.yaml"), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pods"].as_array().unwrap().len(), 5);
    let notes = v["issues"].as_array().unwrap();
    assert_eq!(
        notes
            .iter()
            .filter(|i| i["message"].as_str().unwrap().contains("host network"))
            .count(),
        10
    );
    assert!(notes.iter().all(|i| i["severity"] == "note"));
    // The stderr report names each with its file and line.
    assert!(text(&out.stderr).contains("kubectl-dump.yaml:180 (document 1, items[7]): note: Pod kube-system/etcd-cp-1 uses the host network"));
}

#[test]
fn reach_lists_and_explains_cluster_network_policies() {
    let file = data("cluster-policies.yaml");
    let out = netpol(&["reach", &file, "--port", "5432"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("  Admin    priority 10    no-sandbox-to-prod (1 ingress, 0 egress rules)"),
        "{s}"
    );
    assert!(s.contains("  Baseline priority 100   baseline-deny"), "{s}");
    let out = netpol(&["explain", "sandbox/toy", "prod/db", "5432", &file]);
    let s = text(&out.stdout);
    assert!(
        s.starts_with("sandbox/toy -> prod/db 5432/TCP: DENY"),
        "{s}"
    );
    assert!(
        s.contains("Admin tier, cnp/no-sandbox-to-prod spec.ingress[0]: Deny"),
        "{s}"
    );
    let out = netpol(&["reach", &file, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tiers: Vec<&str> = v["clusterPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tier"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["Admin", "Baseline"]);
}

#[test]
fn validate_exit_codes_and_error_lines() {
    let good = netpol(&[
        "validate",
        &data("cluster.yaml"),
        &data("cluster-policies.yaml"),
    ]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stdout));
    assert_eq!(
        text(&good.stdout),
        "4 policies: 4 accepted, 0 refused; 0 errors\n"
    );

    let bad = netpol(&["validate", &data("problems.yaml")]);
    assert_eq!(bad.status.code(), Some(1));
    let s = text(&bad.stdout);
    let file = data("problems.yaml");
    assert!(s.contains(&format!("{file}:21 (document 2): NetworkPolicy shop/refused: spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n")), "{s}");
    assert!(s.contains(&format!("{file}:35 (document 3): NetworkPolicy shop/undecodable: spec.ingress[0].ports[0].port: cannot unmarshal bool true")), "{s}");
    assert!(
        s.ends_with("2 policies: 0 accepted, 2 refused; 6 errors\n"),
        "{s}"
    );

    let json = netpol(&["validate", &data("problems.yaml"), "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["summary"]["refused"], 2);
    let refused = &v["policies"][0];
    assert_eq!(
        (
            refused["name"].as_str(),
            refused["line"].as_u64(),
            refused["document"].as_u64()
        ),
        (Some("shop/refused"), Some(21), Some(2))
    );
    assert_eq!(refused["problems"][0]["stage"], "validation");
    assert_eq!(
        refused["problems"][0]["field"],
        "spec.ingress[0].ports[0].port"
    );
    assert_eq!(v["policies"][1]["problems"][0]["stage"], "decode");

    let missing = netpol(&["validate", "does-not-exist.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    let usage = netpol(&["validate"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn flannel_prints_the_subnets_and_refuses_a_bad_net_conf() {
    let out = netpol(&["flannel", "--nodes", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "backend vxlan (kube-controller-manager allocation, --kube-subnet-mgr)\nmaster 10.244.0.0/24, node1 10.244.1.0/24\n"
    );
    let out = netpol(&["flannel", "--nodes", "2", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["nodes"][1]["subnets"][0], "10.244.1.0/24");
    let dir = std::env::temp_dir().join(format!("netpol-flannel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("net-conf.json");
    std::fs::write(&bad, r#"{"Network": "10.244.0.0/33"}"#).unwrap();
    let out = netpol(&["flannel", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        netpol(&["flannel", "--mode", "nope"]).status.code(),
        Some(2)
    );
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["reach", "explain", "validate", "flannel", "serve"] {
        let out = netpol(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let s = text(&out.stdout);
        assert!(
            s.contains("Usage: netpol ") && s.contains("--json"),
            "{sub}: {s}"
        );
        assert!(s.contains("Exit status"), "{sub}: {s}");
    }
    assert_eq!(netpol(&["nope"]).status.code(), Some(2));
}

#[test]
fn serve_answers_each_line_in_order_and_errors_as_answers() {
    let load = serde_json::json!({"id": "l", "op": "load", "manifests": std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cluster.yaml")).unwrap()});
    let mut input = Vec::new();
    for line in [
        load.to_string(),
        r#"{"id": 1, "op": "decide", "from": "shop/api", "to": "shop/db", "port": 5432}"#.into(),
        r#"{"id": 2, "op": "decide", "from": "tools/debug", "to": "shop/db", "port": "5432/TCP"}"#.into(),
        String::new(),
        "not json".into(),
        r#"{"id": [3], "op": "explain", "from": "tools/debug", "to": "svc/shop/db", "port": 5432}"#.into(),
        r#"{"id": 4, "op": "matrix", "port": 5432, "from": ["shop/api", "tools/debug"], "to": ["shop/db"]}"#.into(),
        r#"{"id": 5, "op": "decide", "from": "shop/nope", "to": "shop/db", "port": 5432}"#.into(),
        r#"{"id": 6, "op": "fly"}"#.into(),
        r#"{"id": 7, "op": "decide", "from": "shop/api", "to": "shop/db", "port": 70000}"#.into(),
        r#"{"id": 8, "op": "decide", "form": "shop/api"}"#.into(),
    ] {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend_from_slice(
        br#"{"id": 9, "op": "decide", "from": "10.244.1.6", "to": "10.244.1.5", "port": 5432}"#,
    );
    let out = serve(&input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 12, "{lines:#?}");
    assert_eq!(
        (lines[0]["id"].as_str(), lines[0]["ok"].as_bool()),
        (Some("l"), Some(true))
    );
    assert_eq!(
        (lines[0]["pods"].as_u64(), lines[0]["policies"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"id": 1, "ok": true, "verdict": "allow"})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"id": 2, "ok": true, "verdict": "deny"})
    );
    assert_eq!(lines[3]["ok"], false);
    assert!(lines[3].get("id").is_none());
    assert_eq!(
        (lines[4]["id"].clone(), lines[4]["reachability"].clone()),
        (serde_json::json!([3]), serde_json::json!("none"))
    );
    assert!(
        lines[4]["text"]
            .as_str()
            .unwrap()
            .starts_with("tools/debug -> service shop/db 5432/TCP: NONE")
    );
    assert_eq!(lines[5]["allowed"], serde_json::json!([[true], [false]]));
    assert_eq!(lines[6]["ok"], false);
    assert!(
        lines[6]["error"].as_str().unwrap().starts_with("from: "),
        "{}",
        lines[6]
    );
    assert!(
        lines[7]["error"]
            .as_str()
            .unwrap()
            .contains("unknown op \"fly\"")
    );
    assert!(lines[8]["error"].as_str().unwrap().contains("70000"));
    assert!(
        lines[9]["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `form`")
    );
    assert!(lines[10]["error"].as_str().unwrap().contains("not UTF-8"));
    // The last line has no newline; addresses name the pods.
    assert_eq!(
        lines[11],
        serde_json::json!({"id": 9, "ok": true, "verdict": "allow"})
    );
}

/// Every decide of a generated workload's session answers what the engine answers.
#[test]
fn serve_decides_a_generated_workload_like_the_engine() {
    let g = workload::generate(Scale::S, 3);
    let scenario: &Scenario = &g.scenario;
    let n = scenario.queries.len();
    let session = scenario.serve_session(n);
    let out = serve((session.join("\n") + "\n").as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let answers: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), n + 1);
    assert_eq!(answers[0]["ok"], true, "{}", answers[0]);
    assert_eq!(
        answers[0]["pods"].as_u64(),
        Some(scenario.pods.len() as u64)
    );

    let loaded = scenario.load().unwrap();
    let engine = Engine::build(&loaded.cluster, &loaded.policies);
    for (i, item) in loaded.queries_in_order().into_iter().enumerate() {
        let LoadedItem::Flow(q) = item else { continue };
        let want = if engine.decide(q.flow()).is_allowed() {
            "allow"
        } else {
            "deny"
        };
        assert_eq!(answers[i + 1]["id"], i + 1);
        assert_eq!(
            answers[i + 1]["verdict"],
            want,
            "query {i}: {}",
            session[i + 1]
        );
    }
}

/// `reach --from`: the Services as an outside client and a pod reach them, through each
/// address and receiving node, as the README shows; and its JSON.
#[test]
fn reach_from_tabulates_services_per_address_and_receiving_node() {
    let file = data("outside.yaml");
    let out = netpol(&[
        "reach",
        &file,
        "--from",
        "198.51.100.7",
        "--profile",
        "calico",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        readme_block("From 198.51.100.7 (outside the cluster)")
    );
    let out = netpol(&[
        "reach",
        &file,
        "--from",
        "198.51.100.7",
        "--profile",
        "calico",
        "--to-service",
        "shop/web",
        "--port",
        "80",
        "--node",
        "node-2",
        "--json",
        "--details",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["nodes"], serde_json::json!(["node-2"]));
    let rows = v["services"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["address"], "load-balancer IP 203.0.113.10:80/TCP");
    let cell = &rows[1]["cells"][0];
    assert_eq!(cell["reachability"], "some");
    assert_eq!(cell["endpoints"]["shop/web-1"], "allow");
    assert_eq!(cell["endpoints"]["shop/web-2"], "deny");
    let details = v["explanations"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[1]["receivedBy"], "node-2");
    assert_eq!(
        details[1]["endpoints"][1]["sourceSeen"],
        serde_json::json!({"as": "masqueraded", "node": "node-2", "address": "10.244.2.64", "seen": "10.244.2.64"})
    );
    // A pod: its own node's column only for the addresses its node translates, and the
    // load-balancer IP dropped by the source ranges.
    let out = netpol(&["reach", &file, "--from", "tools/client", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lb = &v["services"][0]["rows"][1];
    assert_eq!(lb["cells"][0]["dropped"], true);
    assert!(lb["cells"][1]["reachability"].is_null());
    // Misuse is a usage error.
    for args in [
        vec!["reach", &file, "--from", "shop/nope"],
        vec![
            "reach",
            &file,
            "--from",
            "198.51.100.7",
            "--to-service",
            "shop/nope",
        ],
        vec!["reach", &file, "--from", "198.51.100.7", "--node", "node-9"],
        vec!["reach", &file, "--to-service", "shop/web"],
    ] {
        assert_eq!(netpol(&args).status.code(), Some(2), "{args:?}");
    }
}

/// `explain` reaches a Service through a node port, a load-balancer IP (with the
/// receiving node) and says what each endpoint's policy saw; `serve` answers the same.
#[test]
fn explain_and_serve_follow_traffic_from_outside() {
    let file = data("outside.yaml");
    let out = netpol(&[
        "explain",
        "198.51.100.7",
        "203.0.113.10",
        "80",
        &file,
        "--node",
        "node-2",
        "--profile",
        "calico",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        readme_block(
            "198.51.100.7 -> service shop/web at load-balancer IP 203.0.113.10 80/TCP: SOME"
        )
    );
    // Without the receiving node, a usage error that says what is missing.
    let out = netpol(&["explain", "198.51.100.7", "203.0.113.10", "80", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("say which node receives it"),
        "{}",
        text(&out.stderr)
    );
    // A node address at a node port is the Service; a Local policy at a node without an
    // endpoint answers nothing.
    let out = netpol(&[
        "explain",
        "198.51.100.7",
        "192.168.0.11",
        "30081",
        &file,
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reachability"], "noEndpoints");
    assert_eq!(v["noEndpoints"]["noLocalEndpoint"]["node"], "node-1");
    // --node is for Service addresses only.
    let out = netpol(&[
        "explain",
        "198.51.100.7",
        "shop/web-1",
        "8080",
        &file,
        "--node",
        "node-1",
    ]);
    assert_eq!(out.status.code(), Some(2));

    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/outside.yaml"),
    )
    .unwrap();
    let lines = [
        serde_json::json!({"id": 0, "op": "load", "manifests": manifests, "profile": "calico"}),
        serde_json::json!({"id": 1, "op": "decide", "from": "198.51.100.7", "to": "203.0.113.10", "port": 80, "node": "node-2"}),
        serde_json::json!({"id": 2, "op": "decide", "from": "198.51.100.7", "to": "node/node-1", "port": 30080}),
        serde_json::json!({"id": 3, "op": "decide", "from": "198.51.100.7", "to": "203.0.113.10", "port": 80}),
        serde_json::json!({"id": 4, "op": "decide", "from": "203.0.113.50", "to": "203.0.113.10", "port": 80, "node": "node-2"}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = serve(input.as_bytes());
    let answers: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        answers[1],
        serde_json::json!({"id": 1, "ok": true, "verdict": "some", "reachability": "some"})
    );
    assert_eq!(answers[2]["verdict"], "deny");
    assert_eq!(answers[3]["ok"], false);
    assert_eq!(answers[4]["reachability"], "none");
}
