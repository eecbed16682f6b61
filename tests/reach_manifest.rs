//! The reach example's manifest reader, on the sample files in `tests/data/manifests/`.

#[allow(dead_code)]
#[path = "../examples/reach/manifest.rs"]
mod manifest;
#[allow(dead_code)]
#[path = "../examples/reach/services.rs"]
mod services;

use std::net::IpAddr;
use std::path::PathBuf;

use manifest::{Issue, Manifests, Severity};
use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::explain::Verdict;
use netpol::policy::Protocol;
use netpol::service::{Addressing, NoEndpoints, Reachability, TargetPort};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/manifests")
        .join(name)
}

fn read(names: &[&str]) -> Manifests {
    Manifests::read_paths(&names.iter().map(|n| data(n)).collect::<Vec<_>>())
}

fn issue<'a>(m: &'a Manifests, needle: &str) -> &'a Issue {
    m.issues
        .iter()
        .find(|i| i.message.contains(needle))
        .unwrap_or_else(|| panic!("no issue mentions {needle:?}; issues: {:#?}", m.issues))
}

#[test]
fn multi_document_yaml_gives_namespaces_nodes_pods_and_policies() {
    let m = read(&["cluster.yaml"]);
    let ns: Vec<&str> = m.namespaces.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(ns, ["shop", "tools"]);
    assert_eq!(m.namespaces[0].2["team"], "shop");

    // InternalIP first, then ExternalIP; Hostname is not an address.
    let (_, node, ips) = &m.nodes[0];
    assert_eq!(node, "node-1");
    let want: Vec<IpAddr> = vec![
        "192.168.0.11".parse().unwrap(),
        "203.0.113.10".parse().unwrap(),
    ];
    assert_eq!(ips, &want);

    let db = &m.pods.iter().find(|(_, p)| p.name == "db").unwrap().1;
    assert_eq!(db.namespace, "shop");
    assert_eq!(db.labels["app"], "db");
    assert_eq!(db.node.as_deref(), Some("node-1"));
    // status.podIPs wins over status.podIP and keeps both families.
    assert_eq!(db.ips.len(), 2);
    assert!(db.ips[1].is_ipv6());
    assert_eq!(db.ports.len(), 2);
    assert_eq!(db.ports[0].name.as_deref(), Some("pg"));
    assert_eq!(db.ports[0].port, 5432);
    assert_eq!(db.ports[1].name, None);

    assert_eq!(m.policies.len(), 1);
    assert_eq!(m.policies[0].1.name(), "db-from-api");
    // Positions: the policy is the eighth document and starts on line 89.
    assert_eq!(m.policies[0].0.document, 8);
    assert_eq!(m.policies[0].0.line, 89);

    assert_eq!(m.services.len(), 1);
    assert_eq!(m.services[0].1.key(), "shop/db");
    // The trailing `---` is an empty document, not a problem.
    assert!(m.issues.is_empty(), "{:#?}", m.issues);
}

#[test]
fn the_read_cluster_answers_like_the_policy_says() {
    let mut m = read(&["cluster.yaml"]);
    let cluster = m.build_cluster().unwrap();
    let engine = Engine::build(&cluster, &m.policy_list());
    let pod = |ns, name| Endpoint::Pod(cluster.pod_id(ns, name).unwrap());
    let flow = |src, dst| Flow::new(src, dst, 5432, Protocol::Tcp);
    assert!(
        engine
            .decide(flow(pod("shop", "api"), pod("shop", "db")))
            .is_allowed()
    );
    assert!(
        !engine
            .decide(flow(pod("tools", "debug"), pod("shop", "db")))
            .is_allowed()
    );
    // The named port resolves against the pod's container port: 9187 is not "pg".
    let metrics = Flow::new(pod("shop", "api"), pod("shop", "db"), 9187, Protocol::Tcp);
    assert!(!engine.decide(metrics).is_allowed());
    // The node was read, so the pod's own node is special.
    let node = Endpoint::Node(cluster.node_id("node-1").unwrap());
    assert!(engine.decide(flow(node, pod("shop", "db"))).is_allowed());
}

#[test]
fn json_list_items_get_their_own_positions_and_unknown_kinds_are_reported() {
    let m = read(&["list.json"]);
    assert_eq!(m.pods.len(), 1);
    assert_eq!(m.pods[0].1.ports[0].name.as_deref(), Some("http"));
    assert_eq!(m.pods[0].0.item, Some(0));
    assert_eq!(m.policies.len(), 1);
    assert_eq!(m.policies[0].0.item, Some(1));
    assert_eq!(m.policies[0].0.line, 12);
    let cm = issue(&m, "ConfigMap");
    assert_eq!(cm.severity, Severity::Warning);
    assert_eq!((cm.position.item, cm.position.line), (Some(2), 19));
    assert!(cm.to_string().starts_with(&format!(
        "{}:19 (document 1, items[2]): warning: kind ConfigMap",
        data("list.json").display()
    )));
}

#[test]
fn unusable_objects_are_reported_with_file_document_and_line() {
    let m = read(&["problems.yaml"]);
    assert!(m.pods.is_empty() && m.policies.is_empty());
    assert!(m.has_errors());

    // A PodList: items inherit the kind, and each has its line.
    let pending = issue(&m, "shop/pending has no IP");
    assert_eq!(
        (
            pending.position.document,
            pending.position.item,
            pending.position.line
        ),
        (1, Some(0), 4)
    );
    let host = issue(&m, "shop/host uses the host network");
    assert_eq!((host.position.item, host.position.line), (Some(1), 13));

    // A policy the apiserver would refuse: every error with its field path.
    let refused = issue(&m, "shop/refused would be refused");
    assert_eq!((refused.position.document, refused.position.line), (2, 21));
    assert_eq!(refused.details.len(), 2);
    assert!(
        refused
            .details
            .iter()
            .any(|d| d.starts_with("spec.ingress[0].ports[0].port: Invalid value: 0"))
    );
    assert!(refused.details.iter().any(|d| {
        d.starts_with("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/33\"")
    }));

    let undecodable = issue(&m, "shop/undecodable: cannot be decoded");
    assert_eq!(undecodable.position.document, 3);
    assert_eq!(
        undecodable.details[0],
        "spec.ingress[0].ports[0].port: cannot unmarshal bool true into an int-or-string (an int32 or a string)"
    );

    let not_objects: Vec<_> = m
        .issues
        .iter()
        .filter(|i| i.message.starts_with("not an object"))
        .collect();
    assert_eq!(not_objects.len(), 2);
    assert_eq!(not_objects[1].position.line, 46);
    assert_eq!(issue(&m, "no `kind`").position.document, 5);
    assert_eq!(m.issues.len(), 7);
}

#[test]
fn broken_yaml_names_the_file_line_and_document() {
    let m = read(&["broken.yaml"]);
    assert!(m.namespaces.is_empty());
    let e = issue(&m, "not valid YAML or JSON");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!((e.position.document, e.position.line), (2, 8));
    assert!(e.details.iter().any(|d| d.contains("unclosed bracket")));
}

#[test]
fn broken_json_gets_the_json_parsers_message() {
    let mut m = Manifests::default();
    m.read_text(
        "x.json",
        "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": }\n}",
    );
    assert_eq!(m.issues.len(), 1);
    assert_eq!(m.issues[0].position.line, 2);
    assert!(m.issues[0].message.starts_with("not valid JSON"));
    assert!(
        m.issues[0].details[0].contains("expected value"),
        "{:?}",
        m.issues[0].details
    );
}

#[test]
fn folders_are_searched_recursively_for_manifest_files_only() {
    let m = read(&["folder"]);
    assert_eq!(m.namespaces.len(), 1);
    assert_eq!(m.pods.len(), 1);
    assert_eq!(m.pods[0].1.namespace, "folder-ns");
    assert!(
        m.issues.is_empty(),
        "README.txt is not read: {:#?}",
        m.issues
    );
    // A missing path is an issue, not a panic.
    let missing = read(&["does-not-exist.yaml"]);
    assert!(missing.issues[0].message.starts_with("cannot read"));
}

#[test]
fn duplicates_and_unknown_nodes_are_reported_when_building() {
    let mut m = Manifests::default();
    let pod = |name: &str, ip: &str, node: &str| {
        format!(
            "kind: Pod\nmetadata: {{name: {name}, namespace: x}}\nspec: {{nodeName: {node}}}\nstatus: {{podIP: {ip}}}\n"
        )
    };
    let text = [
        pod("a", "10.0.0.1", "n1"),
        pod("a", "10.0.0.2", "n1"),
        pod("b", "10.0.0.1", "n2"),
    ]
    .join("---\n");
    m.read_text("dups.yaml", &text);
    let cluster = m.build_cluster().unwrap();
    assert_eq!(cluster.pod_count(), 2);
    assert_eq!(issue(&m, "Pod x/a was read before").position.document, 2);
    assert_eq!(
        issue(&m, "has IP 10.0.0.1, as Pod x/a does")
            .position
            .document,
        3
    );
    let nodes = issue(&m, "nodes that were not read");
    assert_eq!(nodes.details, ["n1 (1 pod), n2 (1 pod)"]);
    assert!(cluster.pods().all(|(_, p)| p.node.is_none()));
}

#[test]
fn services_are_decoded_resolved_and_their_problems_reported() {
    let mut m = read(&["cluster.yaml", "services.yaml"]);
    let keys: Vec<String> = m.services.iter().map(|(_, s)| s.key()).collect();
    assert_eq!(
        keys,
        [
            "shop/db",
            "shop/db-metrics",
            "shop/external-db",
            "shop/api",
            "shop/same-ip"
        ]
    );
    // cluster.yaml's Service: no clusterIP yet, named targetPort kept as a name.
    let db = &m.services[0].1;
    assert_eq!(db.addressing, Addressing::ClusterIps(Vec::new()));
    assert_eq!(db.ports[0].target, TargetPort::Named("pg".into()));
    assert_eq!(m.services[1].1.addressing, Addressing::Headless);
    assert_eq!(m.services[2].1.selector, None);
    assert_eq!(m.services[2].0.document, 2);

    let undecodable = issue(&m, "Service shop/undecodable: cannot be decoded");
    assert_eq!(undecodable.severity, Severity::Error);
    assert_eq!(
        (undecodable.position.document, undecodable.position.line),
        (4, 39)
    );
    assert_eq!(
        undecodable.details[0],
        "spec.ports[0].port: cannot unmarshal string \"eighty\" into an int32",
    );
    let odd = issue(&m, "Service shop/odd-type cannot be used");
    assert_eq!((odd.position.document, odd.position.line), (5, 48));
    assert!(odd.details[0].starts_with("spec.type: unsupported value \"Internal\""));
    assert_eq!(m.issues.len(), 2, "{:#?}", m.issues);

    // Building the table: the second claim on 10.96.5.2 is left out, with its position.
    let cluster = m.build_cluster().unwrap();
    let table = m.build_services(&cluster).unwrap();
    assert_eq!(table.len(), 4);
    assert!(table.lookup("shop", "same-ip").is_none());
    let dup = issue(
        &m,
        "cluster IP 10.96.5.2 is claimed by both shop/external-db and shop/same-ip",
    );
    assert_eq!(
        (dup.severity, dup.position.document, dup.position.line),
        (Severity::Warning, 6, 58)
    );
    assert_eq!(m.services.len(), 4);
}

#[test]
fn service_tables_decide_each_endpoint_at_its_target_port() {
    let mut m = read(&["cluster.yaml", "services.yaml"]);
    let cluster = m.build_cluster().unwrap();
    let table = m.build_services(&cluster).unwrap();
    let engine = Engine::build(&cluster, &m.policy_list());
    let pod = |ns, name| Endpoint::Pod(cluster.pod_id(ns, name).unwrap());
    let sources = [pod("shop", "api"), pod("shop", "db"), pod("tools", "debug")];
    let grids = services::grids(&engine, &table, &sources, &[]);
    let ports: Vec<(u16, Protocol)> = grids.iter().map(|g| (g.port, g.protocol)).collect();
    assert_eq!(
        ports,
        [
            (80, Protocol::Tcp),
            (5432, Protocol::Tcp),
            (9187, Protocol::Tcp)
        ]
    );

    // 80/TCP: shop/api's targetPort "http" is declared by no pod it selects.
    let api = &grids[0].columns[0];
    assert_eq!(api.service, "shop/api");
    assert_eq!(
        api.no_endpoints,
        Some(NoEndpoints::NoPodDeclaresTargetPort("http".into()))
    );
    assert!(
        grids[0]
            .cells
            .iter()
            .all(|row| row[0].reachability == Reachability::NoEndpoints)
    );

    // 5432/TCP: shop/db's named targetPort "pg" resolves to 5432 on the db pod, which the
    // policy opens to app=api only; the selectorless Service has no known endpoint.
    let g = &grids[1];
    let names: Vec<&str> = g.columns.iter().map(|c| c.service.as_str()).collect();
    assert_eq!(names, ["shop/db", "shop/external-db"]);
    assert_eq!(g.columns[0].target_port, "pg");
    assert_eq!(g.columns[0].endpoints.len(), 1);
    assert_eq!(
        (
            g.columns[0].endpoints[0].pod.as_str(),
            g.columns[0].endpoints[0].target_port
        ),
        ("shop/db", 5432)
    );
    assert_eq!(g.columns[1].no_endpoints, Some(NoEndpoints::NoSelector));
    let reach: Vec<Reachability> = g.cells.iter().map(|row| row[0].reachability).collect();
    assert_eq!(
        reach,
        [Reachability::All, Reachability::All, Reachability::None]
    );
    assert_eq!(g.cells[2][0].endpoints, [Verdict::Deny]);
    assert!(
        g.cells
            .iter()
            .all(|row| row[1].reachability == Reachability::NoEndpoints)
    );

    // 9187/TCP: headless, no translation: the db pod at 9187 itself, which the policy
    // does not open (the db pod reaches itself: self-traffic is always allowed).
    let g = &grids[2];
    assert_eq!(g.columns[0].service, "shop/db-metrics");
    assert_eq!(g.columns[0].target_port, "unchanged");
    assert_eq!(g.columns[0].endpoints[0].target_port, 9187);
    let reach: Vec<Reachability> = g.cells.iter().map(|row| row[0].reachability).collect();
    assert_eq!(
        reach,
        [Reachability::None, Reachability::All, Reachability::None]
    );

    // --port narrows the Service tables to the Service ports given.
    let only = services::grids(&engine, &table, &sources, &[(9187, Protocol::Tcp)]);
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].port, 9187);

    // What --explain prints for a flow to the Service: each endpoint with its reason.
    let id = table.lookup("shop", "db").unwrap();
    let verdict = table.explain(&engine, pod("tools", "debug"), id, 5432, Protocol::Tcp);
    let text = verdict.to_string();
    assert!(
        text.starts_with("tools/debug -> service shop/db 5432/TCP: NONE"),
        "{text}"
    );
    assert!(text.contains("endpoint shop/db port 5432: deny"), "{text}");
}

/// The core objects are decoded as the apiserver decodes them (sigs.k8s.io/json into the
/// `k8s.io/api/core/v1` types): `null` is the zero value, an array is not an object, a
/// wrong JSON type is an error that keeps the object out of the cluster.
#[test]
fn core_objects_are_decoded_with_the_apiservers_rules() {
    let mut m = Manifests::default();
    m.read_text(
        "x.json",
        r#"{"apiVersion": "v1", "kind": "List", "items": [
          {"kind": "Namespace", "metadata": {"name": "a", "labels": {"team": null, "x": "y"}}},
          {"kind": "Namespace", "metadata": []},
          {"kind": "Namespace", "metadata": {"name": "b", "labels": {"team": 5}}},
          {"kind": "Pod", "metadata": {"name": "p", "namespace": "a", "labels": null},
           "spec": {"containers": [{"name": "c", "ports": [null, {"containerPort": 80, "protocol": null}]}]},
           "status": {"podIP": "10.0.0.1", "podIPs": null}},
          {"kind": "Pod", "metadata": {"name": "q", "namespace": "a"},
           "spec": {"containers": [{"ports": [{"containerPort": "80"}]}]},
           "status": {"podIP": "10.0.0.2"}},
          {"kind": "Pod", "metadata": {"name": "r", "namespace": "a"},
           "spec": {"containers": [[]]}, "status": {"podIP": "10.0.0.3"}},
          {"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "s", "namespace": "a"},
           "status": {"podIP": "10.0.0.4"}},
          {"kind": "Node", "metadata": {"name": "n"},
           "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"}, null]}}
        ]}"#,
    );
    // `team: null` is the label `team: ""` (a map value's zero value).
    let (_, name, labels) = &m.namespaces[0];
    assert_eq!(name, "a");
    assert_eq!(labels["team"], "");
    assert_eq!(m.namespaces.len(), 1);
    let bad_meta = m
        .issues
        .iter()
        .find(|i| i.position.item == Some(1))
        .unwrap();
    assert_eq!(bad_meta.severity, Severity::Error);
    assert_eq!(
        bad_meta.details,
        ["metadata: cannot unmarshal array into an object (ObjectMeta)"]
    );
    let bad_label = issue(&m, "Namespace b: cannot be decoded");
    assert_eq!(
        bad_label.details,
        ["metadata.labels.team: cannot unmarshal number 5 into a string"]
    );

    // A null port is a port with nothing set (containerPort 0, refused as a port); a null
    // protocol is the default TCP.
    let pods: Vec<&str> = m.pods.iter().map(|(_, p)| p.name.as_str()).collect();
    assert_eq!(pods, ["p"]);
    let p = &m.pods[0].1;
    assert_eq!(p.ports.len(), 1);
    assert_eq!(p.ports[0].port, 80);
    assert_eq!(p.ports[0].protocol, Protocol::Tcp);
    let parts = issue(&m, "Pod a/p: parts left out");
    assert_eq!(
        parts.details,
        ["spec.containers[0].ports[0]: containerPort 0 is not between 1 and 65535"]
    );
    assert_eq!(
        issue(&m, "Pod a/q: cannot be decoded").details,
        ["spec.containers[0].ports[0].containerPort: cannot unmarshal string \"80\" into an int32"]
    );
    assert_eq!(
        issue(&m, "Pod a/r: cannot be decoded").details,
        ["spec.containers[0]: cannot unmarshal array into an object (Container)"]
    );
    let wrong_group = issue(&m, "Pod a/s: apiVersion");
    assert_eq!(wrong_group.severity, Severity::Error);
    // A null address is an address with no type: skipped, as Hostname entries are.
    assert_eq!(m.nodes[0].2, ["192.168.0.1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn json_is_read_as_go_reads_it() {
    // A lone surrogate escape is U+FFFD; invalid UTF-8 in JSON is replaced too.
    let mut m = Manifests::default();
    m.read_text(
        "x.json",
        r#"{"kind": "Namespace", "metadata": {"name": "a", "labels": {"k": "\ud800"}}}"#,
    );
    assert_eq!(m.namespaces[0].2["k"], "\u{fffd}");
    let mut m = Manifests::default();
    m.read_bytes(
        "x.json",
        b"{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\", \"labels\": {\"k\": \"\xff\"}}}",
    );
    assert_eq!(m.namespaces[0].2["k"], "\u{fffd}");
    assert_eq!(m.issues[0].severity, Severity::Note);
    let mut m = Manifests::default();
    m.read_bytes("x.yaml", b"kind: Namespace\nmetadata:\n  name: \xff\n");
    assert!(m.namespaces.is_empty());
    assert!(issue(&m, "not valid UTF-8").severity == Severity::Error);
}
