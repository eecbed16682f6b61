//! The built-in demo cluster: namespaces x, y, z with pods a, b, c in each, the layout of
//! the upstream network-policy e2e tests, two Services, and four of the documentation's
//! example policies (the crate's copies in `tests/scenarios/`), each moved into one
//! namespace.

use std::net::{IpAddr, Ipv4Addr};

use netpol::cluster::{ContainerPort, PodSpec};
use netpol::model::NetworkPolicy;
use netpol::policy::{Policy, Protocol};
use netpol::service::Service;

use crate::manifest::{Issue, Manifests, Position, Severity};

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
fn pod_ip(ns: &str, j: u8) -> IpAddr {
    let [a, b, c] = match ns {
        "x" => [10, 244, 1],
        "y" => [10, 244, 2],
        _ => [10, 0, 0],
    };
    IpAddr::V4(Ipv4Addr::new(a, b, c, 10 + j))
}

/// The demo's Services: name, namespace and spec.
fn services() -> [(&'static str, &'static str, serde_json::Value); 2] {
    [
        (
            "db",
            "x",
            serde_json::json!({
                "clusterIP": "10.96.0.10",
                "selector": {"role": "db"},
                "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}],
            }),
        ),
        (
            "web",
            "z",
            serde_json::json!({
                "clusterIP": "10.96.0.20",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            }),
        ),
    ]
}

/// The demo as if it had been read from manifests.
pub fn manifests() -> Manifests {
    let mut m = Manifests::default();
    let builtin = pos("<built-in>");
    for (i, ns) in ["x", "y", "z"].into_iter().enumerate() {
        let mut labels = vec![("ns".to_owned(), ns.to_owned())];
        if ns == "y" {
            labels.push(("project".into(), "myproject".into()));
        }
        m.namespaces
            .push((builtin.clone(), ns.to_owned(), labels.into_iter().collect()));
        let node = format!("node-{}", i + 1);
        let octet = 10 + i as u8;
        m.nodes.push((
            builtin.clone(),
            node.clone(),
            vec![IpAddr::V4(Ipv4Addr::new(192, 168, 0, octet))],
        ));
        for (j, pod) in ["a", "b", "c"].into_iter().enumerate() {
            let mut spec = PodSpec::new(ns, pod)
                .label("pod", pod)
                .ip(pod_ip(ns, j as u8))
                .node(node.clone())
                .port(ContainerPort::named("http", 80, Protocol::Tcp))
                .port(ContainerPort::named("redis", 6379, Protocol::Tcp));
            if ns == "x" && pod == "a" {
                spec = spec.label("role", "db");
            }
            if ns == "x" && pod == "b" {
                spec = spec.label("role", "frontend");
            }
            if ns == "z" && pod != "c" {
                spec = spec.label("app", "web");
            }
            m.pods.push((builtin.clone(), spec));
        }
    }
    for (name, namespace, spec) in services() {
        let value = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        });
        match Service::from_value(&value).and_then(|s| s.resolve()) {
            Ok(s) => m.services.push((builtin.clone(), s)),
            Err(e) => m.issues.push(Issue {
                position: builtin.clone(),
                severity: Severity::Error,
                message: format!("demo Service {namespace}/{name} is refused"),
                details: vec![e.to_string()],
            }),
        }
    }
    for (file, text, namespace) in POLICIES {
        let position = pos(file);
        let written = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("policies").and_then(|p| p.get(0)).cloned())
            .and_then(|v| NetworkPolicy::from_value(&v).ok());
        let Some(mut written) = written else {
            m.issues.push(Issue {
                position,
                severity: Severity::Error,
                message: "the example file holds no readable policy".into(),
                details: Vec::new(),
            });
            continue;
        };
        written.metadata.namespace = Some((*namespace).to_owned());
        match Policy::new(&written) {
            Ok(p) => m.policies.push((position, p)),
            Err(e) => m.issues.push(Issue {
                position,
                severity: Severity::Error,
                message: format!("example policy {} is refused", written.key()),
                details: e.errors().iter().map(ToString::to_string).collect(),
            }),
        }
    }
    m
}
