//! `netpol map`, `netpol diff` and `netpol exposure` end to end: outputs, formats and
//! exit codes, checked against the engine's own answers where they can be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::policy::Protocol;
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

const CLUSTER: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7d9f8c6b5-x2x4z, namespace: shop, labels: {app: web, pod-template-hash: 7d9f8c6b5}}
status: {podIP: 10.244.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7d9f8c6b5-k8j2p, namespace: shop, labels: {app: web, pod-template-hash: 7d9f8c6b5}}
status: {podIP: 10.244.1.3}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db, statefulset.kubernetes.io/pod-name: db-0}}
spec:
  containers:
    - name: postgres
      ports: [{name: pg, containerPort: 5432}, {containerPort: 9187}]
status: {podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: tools}
status: {podIP: 10.244.2.9}
";

const BEFORE: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: pg}]
";

const AFTER: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 5432}, {port: 9187}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: tools}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
";

/// A fresh folder under the target directory holding `files`.
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("analysis")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    dir
}

fn sides(name: &str) -> (String, String) {
    let before = folder(
        &format!("{name}-before"),
        &[("cluster.yaml", CLUSTER), ("policies.yaml", BEFORE)],
    );
    let after = folder(
        &format!("{name}-after"),
        &[("cluster.yaml", CLUSTER), ("policies.yaml", AFTER)],
    );
    (before.display().to_string(), after.display().to_string())
}

#[test]
fn map_on_the_demo_agrees_with_reach_on_every_port_it_tabulates() {
    let out = netpol(&["map", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let map: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reach = netpol(&["reach", "--json"]);
    assert_eq!(reach.status.code(), Some(0));
    let reach: Value = serde_json::from_slice(&reach.stdout).unwrap();
    // On the demo every pod is a workload of its own, named as reach names pods.
    let allowed = |from: &str, to: &str, port: u64, proto: &str| -> bool {
        map["connections"].as_array().unwrap().iter().any(|c| {
            c["from"] == from
                && c["to"] == to
                && c["ports"][proto].as_array().is_some_and(|ranges| {
                    ranges
                        .iter()
                        .any(|r| r[0].as_u64().unwrap() <= port && port <= r[1].as_u64().unwrap())
                })
        })
    };
    let matrices = reach["matrices"].as_array().unwrap();
    assert!(matrices.len() >= 3);
    let mut checked = 0;
    for m in matrices {
        let port = m["port"].as_u64().unwrap();
        let proto = m["protocol"].as_str().unwrap();
        let names: Vec<&str> = reach["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for (i, row) in m["allowed"].as_array().unwrap().iter().enumerate() {
            for (j, cell) in row.as_array().unwrap().iter().enumerate() {
                if i == j {
                    continue;
                }
                assert_eq!(
                    allowed(names[i], names[j], port, proto),
                    cell.as_bool().unwrap(),
                    "{} -> {} {port}/{proto}",
                    names[i],
                    names[j]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 200);
}

#[test]
fn map_prints_every_format() {
    let dir = folder(
        "map",
        &[("cluster.yaml", CLUSTER), ("policies.yaml", BEFORE)],
    );
    let dir = dir.display().to_string();
    let run = |format: &str| {
        let out = netpol(&["map", &dir, "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let plain = run("text");
    // The two web pods are one Deployment, db-0 one StatefulSet.
    assert!(
        plain.starts_with("# 3 workloads, 6 connections "),
        "{plain}"
    );
    assert!(plain.contains("shop/web -> shop/db: TCP 5432\n"), "{plain}");
    assert!(plain.contains("shop/web -> shop/web: all\n"), "{plain}");
    // A pod on its own (db, tools/debug) is not listed with itself.
    assert!(!plain.contains("shop/db -> shop/db"));
    assert!(plain.contains("tools/debug -> shop/web: all\n"));
    assert!(!plain.contains("tools/debug -> shop/db"));

    let json: Value = serde_json::from_str(&run("json")).unwrap();
    let flag = netpol(&["map", &dir, "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&flag.stdout).unwrap(), json);
    let web = json["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "web")
        .unwrap();
    assert_eq!(web["pods"].as_array().unwrap().len(), 2);
    assert_eq!(web["namespace"], "shop");

    let csv = run("csv");
    assert!(csv.starts_with("from,to,protocol,ports\n"));
    assert!(csv.contains("shop/web,shop/db,TCP,5432\n"), "{csv}");
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with("shop/db,shop/web,"))
            .count(),
        3
    );

    let md = run("markdown");
    assert!(md.contains("| shop/web | shop/db | TCP 5432 |"), "{md}");

    let dot = run("dot");
    assert!(dot.starts_with("digraph netpol {"));
    assert!(dot.contains("subgraph \"cluster_shop\""));
    assert!(dot.contains("\"shop/web\" -> \"shop/db\" [label=\"TCP 5432\"];"));

    let svg_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis/map.svg");
    let out = netpol(&[
        "map",
        &dir,
        "--format",
        "svg",
        "-o",
        &svg_path.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("shop/web → shop/db: TCP 5432"));
    assert!(!svg.contains("tools/debug → shop/db"));
}

#[test]
fn diff_exit_codes_and_text() {
    let (before, after) = sides("text");
    let same = netpol(&["diff", &before, &before]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert_eq!(
        text(&same.stdout),
        "no change: both allow the same flows between pods\n"
    );

    let out = netpol(&["diff", &before, &after]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("+ shop/web -> shop/db: TCP 9187\n    before: shop/db-ingress\n    after: shop/db-ingress\n"), "{s}");
    assert!(
        s.contains("- shop/* -> tools/debug: all\n    after: tools/deny-all\n"),
        "{s}"
    );
    // tools/debug never reached shop/db (isolated by db-ingress).
    assert!(
        s.contains("- tools/debug -> shop/web: all\n    after: tools/deny-all\n"),
        "{s}"
    );
    // (2 + 3) pods, both ways, every port of three protocols; 2 web pods to db on 9187.
    assert!(s.ends_with("\n3 changes: 983025 flows (pod, pod, port, protocol) allowed before and denied after, 2 the reverse\n"), "{s}");
}

#[test]
fn diff_json_names_workloads_ports_and_policies() {
    let (before, after) = sides("json");
    let out = netpol(&["diff", "--json", &before, &after]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["equivalent"], false);
    let changes = v["changes"].as_array().unwrap();
    let added = changes
        .iter()
        .find(|c| c["added"]["TCP"].is_array())
        .unwrap();
    assert_eq!(added["from"], serde_json::json!(["shop/web"]));
    assert_eq!(added["to"], serde_json::json!(["shop/db"]));
    assert_eq!(added["added"], serde_json::json!({"TCP": [[9187, 9187]]}));
    assert_eq!(added["removed"], serde_json::json!({}));
    assert_eq!(added["before"], serde_json::json!(["shop/db-ingress"]));
    // 2 web pods, 1 db pod: 2 flows on one port.
    assert_eq!(v["summary"]["addedFlows"], 2);
}

#[test]
fn diff_flat_json_lines_equal_the_engine_pair_by_pair() {
    let (before, after) = sides("flat");
    let out = netpol(&[
        "diff",
        "--flat",
        "--json",
        &before,
        &after,
        "--port",
        "80/TCP",
        "--port",
        "9187",
        "--port",
        "53/UDP",
        "--ip",
        "203.0.113.7",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The same with the library, flow by flow.
    let read = |dir: &str| {
        let mut m = netpol_cli::input::Manifests::read_paths(&[PathBuf::from(dir)]);
        let built = m.build_cluster().unwrap();
        (built.cluster, m.policy_set())
    };
    let (cluster, a) = read(&before);
    let (_, b) = read(&after);
    let (ea, eb) = (Engine::build(&cluster, &a), Engine::build(&cluster, &b));
    let mut endpoints: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    endpoints.push(Endpoint::External("203.0.113.7".parse().unwrap()));
    let mut want = Vec::new();
    for &s in &endpoints {
        for &d in &endpoints {
            if matches!((s, d), (Endpoint::External(_), Endpoint::External(_))) {
                continue;
            }
            for (port, proto) in [
                (80, Protocol::Tcp),
                (9187, Protocol::Tcp),
                (53, Protocol::Udp),
            ] {
                let f = Flow::new(s, d, port, proto);
                let (x, y) = (ea.decide(f), eb.decide(f));
                if x != y {
                    let name = |e: Endpoint| match e {
                        Endpoint::External(ip) => serde_json::json!({"ip": ip.to_string()}),
                        e => Value::from(cluster.describe(e)),
                    };
                    want.push(serde_json::json!({
                        "from": name(s), "to": name(d), "port": port, "protocol": proto.as_str(),
                        "before": if x.is_allowed() { "allow" } else { "deny" },
                        "after": if y.is_allowed() { "allow" } else { "deny" },
                    }));
                }
            }
        }
    }
    let key = |v: &Value| v.to_string();
    let mut got_sorted = lines.clone();
    got_sorted.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got_sorted, want);
    // The first line is exactly the issue's format.
    let first = text(&out.stdout).lines().next().unwrap().to_owned();
    assert!(first.starts_with("{\"from\":"), "{first}");
    assert!(
        lines
            .iter()
            .any(|l| l["from"] == serde_json::json!({"ip": "203.0.113.7"})
                && l["to"] == "tools/debug"
                && l["before"] == "allow"
                && l["after"] == "deny")
    );
    assert!(lines.iter().any(|l| l["from"] == "shop/web-7d9f8c6b5-x2x4z"
        && l["to"] == "shop/db-0"
        && l["port"] == 9187
        && l["after"] == "allow"));
}

#[test]
fn diff_refuses_clusters_that_differ_and_bad_input() {
    let (before, _) = sides("refuse");
    let other = folder(
        "refuse-other",
        &[
            (
                "cluster.yaml",
                &CLUSTER.replace("10.244.2.9", "10.244.2.10"),
            ),
            ("policies.yaml", AFTER),
        ],
    );
    let out = netpol(&["diff", &before, &other.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("BEFORE and AFTER hold different clusters: pod tools/debug differs"),
        "{err}"
    );

    let refused = folder(
        "refuse-refused",
        &[
            ("cluster.yaml", CLUSTER),
            (
                "bad.yaml",
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\nspec: {podSelector: {}, ingress: [{ports: [{port: 0}]}]}\n",
            ),
        ],
    );
    let out = netpol(&["diff", &before, &refused.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot be used"));

    assert_eq!(
        netpol(&["diff", &before, &before, "--flat"]).status.code(),
        Some(2)
    );
    assert_eq!(netpol(&["diff", &before]).status.code(), Some(2));
    assert_eq!(
        netpol(&["diff", &before, "/does/not/exist"]).status.code(),
        Some(2)
    );
}

#[test]
fn diff_apply_and_delete_give_the_impact_of_one_change() {
    let (before, after) = sides("impact");
    let change = folder(
        "impact-change",
        &[(
            "deny.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: tools}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n",
        )],
    );
    let change_file = change.join("deny.yaml").display().to_string();
    let out = netpol(&["diff", "--json", &before, "--apply", &change_file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in v["changes"].as_array().unwrap() {
        assert_eq!(c["after"], serde_json::json!(["tools/deny-all"]));
        assert_eq!(c["added"], serde_json::json!({}));
    }
    // From the three shop pods to tools/debug and from it to the two web pods (shop/db
    // admits only web), every port of three protocols.
    assert_eq!(v["summary"]["removedFlows"], (3 + 2) * 3 * 65535);

    // Deleting it again from AFTER: the reverse.
    let out = netpol(&[
        "diff",
        "--json",
        &after,
        "--delete",
        "NetworkPolicy/tools/deny-all",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["addedFlows"], (3 + 2) * 3 * 65535);
    assert_eq!(v["summary"]["removedFlows"], 0);

    let out = netpol(&["diff", &before, "--delete", "NetworkPolicy/tools/nothing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no NetworkPolicy \"tools/nothing\" to delete"));
    let out = netpol(&["diff", &before, "--delete", "NetworkPolicy/nothing"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        netpol(&["diff", &before, &after, "--apply", &change_file])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn exposure_reports_isolation_peers_and_outside_addresses() {
    let dir = folder(
        "exposure",
        &[
            ("cluster.yaml", CLUSTER),
            ("policies.yaml", AFTER),
            (
                "web.yaml",
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-https, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: [{port: 443}]}, {from: [{podSelector: {}}]}]\n",
            ),
        ],
    );
    let dir = dir.display().to_string();
    let out = netpol(&["exposure", &dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("tools/debug (1 pod)\n  ingress: isolated by tools/deny-all; from no pod; outside: none\n  egress: isolated by tools/deny-all; to no pod; outside: none\n"), "{s}");
    assert!(s.contains("shop/db (1 pod)\n  ingress: isolated by shop/db-ingress; from 2 pods in 1 namespace; outside: none\n"), "{s}");
    let out = netpol(&["exposure", &dir, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web = v
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workload"] == "shop/web")
        .unwrap();
    assert_eq!(web["pods"], 2);
    assert_eq!(web["ingress"]["isolated"], true);
    assert_eq!(web["ingress"]["pods"], 2); // the other web pod and db (debug is denied egress)
    let outside = web["ingress"]["outside"].as_array().unwrap();
    assert_eq!(outside.len(), 1);
    assert_eq!(
        outside[0]["ports"],
        serde_json::json!({"TCP": [[443, 443]]})
    );
    assert!(
        outside[0]["cidrs"]
            .as_array()
            .unwrap()
            .contains(&Value::from("128.0.0.0/1"))
    );
    assert!(
        !outside[0]["cidrs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("10."))
    );
    assert_eq!(web["egress"]["everyPod"], false); // tools/debug denies ingress
}

#[test]
fn the_new_subcommands_have_help() {
    for sub in ["map", "diff", "exposure"] {
        let out = netpol(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Exit status"), "{sub}");
    }
}

/// The README's fenced block that starts with `first_line`, without that line.
fn readme_block(first_line: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(&format!("```text\n{first_line}\n"))
        .unwrap_or_else(|| panic!("README has no block starting {first_line:?}"))
        + "```text\n".len()
        + first_line.len()
        + 1;
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_owned()
}

#[test]
fn the_readmes_examples_are_what_the_commands_print() {
    // map and exposure on the demo: the README shows the first lines.
    for (cmd, first) in [("map", "$ netpol map"), ("exposure", "$ netpol exposure")] {
        let out = netpol(&[cmd]);
        assert_eq!(out.status.code(), Some(0));
        let block = readme_block(first);
        assert!(text(&out.stdout).starts_with(&block), "{cmd}:\n{block}");
    }
    // diff on this file's before and after.
    let (before, after) = sides("readme");
    let out = netpol(&["diff", &before, &after]);
    assert_eq!(
        text(&out.stdout),
        readme_block("$ netpol diff before/ after/")
    );
    let out = netpol(&[
        "diff",
        "--flat",
        "--json",
        &before,
        &after,
        "--port",
        "80/TCP",
        "--ip",
        "203.0.113.7",
    ]);
    let line = readme_block(
        "{\"from\":{\"ip\":\"203.0.113.7\"},\"to\":\"tools/debug\",\"port\":80,\"protocol\":\"TCP\",\"before\":\"allow\",\"after\":\"deny\"}",
    );
    assert!(line.is_empty());
    assert!(text(&out.stdout).lines().any(|l| l == "{\"from\":{\"ip\":\"203.0.113.7\"},\"to\":\"tools/debug\",\"port\":80,\"protocol\":\"TCP\",\"before\":\"allow\",\"after\":\"deny\"}"));
}
