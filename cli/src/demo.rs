//! The built-in demo cluster: namespaces x, y, z with pods a, b, c in each, the layout of
//! the upstream network-policy e2e tests, two Services, and four of the documentation's
//! example policies (the crate's copies in `tests/scenarios/`), each moved into one
//! namespace.

use serde_json::{Value, json};

use crate::input::{Issue, Manifests, Position, Severity};

/// The example files and the namespace each policy is moved into.
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "tests/scenarios/example-test-network-policy.json",
        include_str!("../../tests/scenarios/example-test-network-policy.json"),
        "x",
    ),
    (
        "tests/scenarios/example-deny-all-ingress.json",
        include_str!("../../tests/scenarios/example-deny-all-ingress.json"),
        "y",
    ),
    (
        "tests/scenarios/example-deny-all-egress.json",
        include_str!("../../tests/scenarios/example-deny-all-egress.json"),
        "z",
    ),
    (
        "tests/scenarios/example-allow-all-ingress.json",
        include_str!("../../tests/scenarios/example-allow-all-ingress.json"),
        "z",
    ),
];

/// What the demo is, for the top of the output.
pub const DESCRIPTION: &str = "\
Built-in demo: namespaces x, y, z (labels ns=x, ns=y, ns=z; y also project=myproject),
pods a, b, c in each (labels pod=a, pod=b, pod=c; x/a also role=db, x/b role=frontend,
z/a and z/b app=web), each declaring container ports http (80) and redis (6379),
one node per namespace, pod IPs 10.244.1.x (x), 10.244.2.x (y) and 10.0.0.x (z),
Services x/db (10.96.0.10:6379 -> role=db, targetPort redis) and
z/web (10.96.0.20:80 -> app=web, targetPort http),
and the documentation's example policies from tests/scenarios/:
  x: test-network-policy  (role=db: ingress on 6379/TCP from 172.17.0.0/16 except
                           172.17.1.0/24, namespaces project=myproject and pods
                           role=frontend; egress only to 10.0.0.0/24 on 5978/TCP)
  y: deny-all-ingress     (policyTypes [Ingress], no rules)
  z: deny-all-egress      (policyTypes [Egress], no rules)
  z: allow-all-ingress    (ingress: [{}]; isolation is per direction)";

fn pos(file: &str) -> Position {
    Position {
        file: file.to_owned(),
        document: 1,
        line: 0,
        item: None,
    }
}

/// x and y pods are in 10.244.1.0/24 and 10.244.2.0/24; z's pods are in 10.0.0.0/24, the
/// block test-network-policy lets x/a send to on 5978/TCP.
fn pod_ip(ns: &str, j: usize) -> String {
    let prefix = match ns {
        "x" => "10.244.1",
        "y" => "10.244.2",
        _ => "10.0.0",
    };
    format!("{prefix}.{}", 10 + j)
}

/// The demo's Services: name, namespace and spec.
fn services() -> [(&'static str, &'static str, Value); 2] {
    [
        (
            "db",
            "x",
            json!({
                "clusterIP": "10.96.0.10",
                "selector": {"role": "db"},
                "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}],
            }),
        ),
        (
            "web",
            "z",
            json!({
                "clusterIP": "10.96.0.20",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            }),
        ),
    ]
}

/// The demo as if it had been read from manifests: the objects
/// `kubectl get ns,nodes,pods,svc,netpol -o json` would list.
pub fn manifests() -> Manifests {
    let mut m = Manifests::default();
    let builtin = pos("<built-in>");
    for (i, ns) in ["x", "y", "z"].into_iter().enumerate() {
        let mut labels = json!({"ns": ns});
        if ns == "y" {
            labels["project"] = json!("myproject");
        }
        m.read_value(
            builtin.clone(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
        );
        let node = format!("node-{}", i + 1);
        m.read_value(
            builtin.clone(),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                   "status": {"addresses": [{"type": "InternalIP", "address": format!("192.168.0.{}", 10 + i)}]}}),
        );
        for (j, pod) in ["a", "b", "c"].into_iter().enumerate() {
            let mut labels = json!({"pod": pod});
            match (ns, pod) {
                ("x", "a") => labels["role"] = json!("db"),
                ("x", "b") => labels["role"] = json!("frontend"),
                ("z", "a" | "b") => labels["app"] = json!("web"),
                _ => {}
            }
            m.read_value(
                builtin.clone(),
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": pod, "namespace": ns, "labels": labels},
                       "spec": {"nodeName": node, "containers": [{"name": "app", "ports": [
                           {"name": "http", "containerPort": 80},
                           {"name": "redis", "containerPort": 6379}]}]},
                       "status": {"phase": "Running", "podIP": pod_ip(ns, j)}}),
            );
        }
    }
    for (name, namespace, spec) in services() {
        m.read_value(
            builtin.clone(),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": name, "namespace": namespace}, "spec": spec}),
        );
    }
    for (file, text, namespace) in POLICIES {
        let written = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("policies").and_then(|p| p.get(0)).cloned());
        match written {
            Some(mut policy) => {
                policy["metadata"]["namespace"] = json!(namespace);
                m.read_value(pos(file), policy);
            }
            None => m.issues.push(Issue {
                position: pos(file),
                severity: Severity::Error,
                message: "the example file holds no readable policy".into(),
                details: Vec::new(),
            }),
        }
    }
    m
}
