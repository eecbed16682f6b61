//! The manifest reader of the `netpol` command (`netpol_cli::input`) and the cluster the
//! library builds from what it read, on the sample files in `tests/data/`.

use std::net::IpAddr;
use std::path::PathBuf;

use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::explain::Verdict;
use netpol::policy::Protocol;
use netpol::service::{Addressing, NoEndpoints, Reachability, TargetPort};
use netpol_cli::commands::{Loaded, load, load_manifests};
use netpol_cli::input::{Issue, Manifests, Outcome, Severity};
use netpol_cli::services;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(names: &[&str]) -> Loaded {
    load(&names.iter().map(|n| data(n)).collect::<Vec<_>>()).unwrap()
}

fn issue<'a>(issues: &'a [Issue], needle: &str) -> &'a Issue {
    issues
        .iter()
        .find(|i| i.message.contains(needle))
        .unwrap_or_else(|| panic!("no issue mentions {needle:?}; issues: {issues:#?}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn multi_document_yaml_gives_namespaces_nodes_pods_and_policies() {
    let l = read(&["cluster.yaml"]);
    let c = &l.built.cluster;
    let names: Vec<&str> = c.namespaces().map(|(_, n)| n.name.as_str()).collect();
    assert_eq!(names, ["shop", "tools"]);
    let shop = c.namespace(c.namespace_id("shop").unwrap()).unwrap();
    assert_eq!(shop.labels["team"], "shop");

    // InternalIP first, then ExternalIP; Hostname is not an address.
    let node = c.node(c.node_id("node-1").unwrap()).unwrap();
    assert_eq!(node.ips, [ip("192.168.0.11"), ip("203.0.113.10")]);

    let db = c.pod(c.pod_id("shop", "db").unwrap()).unwrap();
    assert_eq!(db.labels["app"], "db");
    assert_eq!(db.node, c.node_id("node-1"));
    // status.podIPs wins over status.podIP and keeps both families.
    assert_eq!(db.ips.len(), 2);
    assert!(db.ips[1].is_ipv6());
    assert_eq!(db.ports.len(), 2);
    assert_eq!(db.ports[0].name.as_deref(), Some("pg"));
    assert_eq!(db.ports[0].port, 5432);
    assert_eq!(db.ports[1].name, None);

    assert_eq!(l.manifests.policies.len(), 1);
    let p = &l.manifests.policies[0];
    assert_eq!(p.name, "shop/db-from-api");
    assert!(matches!(p.outcome, Outcome::NetworkPolicy(_)));
    // Positions: the policy is the eighth document and starts on line 89.
    assert_eq!((p.position.document, p.position.line), (8, 89));

    assert_eq!(l.built.services.len(), 1);
    assert!(l.built.services.lookup("shop", "db").is_some());
    // The trailing `---` is an empty document, not a problem; every namespace was given.
    assert!(l.issues.is_empty(), "{:#?}", l.issues);
    assert_eq!(l.exit_code(), 0);
}

#[test]
fn the_read_cluster_answers_like_the_policy_says() {
    let l = read(&["cluster.yaml"]);
    let cluster = &l.built.cluster;
    let engine = Engine::build(cluster, &l.policies);
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
    let l = read(&["list.json"]);
    let c = &l.built.cluster;
    let web = c.pod(c.pod_id("shop", "web").unwrap()).unwrap();
    assert_eq!(web.ports[0].name.as_deref(), Some("http"));
    assert_eq!(l.manifests.positions[0].item, Some(0));
    let p = &l.manifests.policies[0];
    assert_eq!((p.position.item, p.position.line), (Some(1), 12));
    let cm = issue(&l.issues, "ConfigMap");
    assert_eq!(cm.severity, Severity::Warning);
    assert_eq!((cm.position.item, cm.position.line), (Some(2), 19));
    assert!(cm.to_string().starts_with(&format!(
        "{}:19 (document 1, items[2]): warning: kind ConfigMap",
        data("list.json").display()
    )));
}

#[test]
fn unusable_objects_are_reported_with_file_document_and_line() {
    let l = read(&["problems.yaml"]);
    assert_eq!(l.built.cluster.pod_count(), 0);
    assert!(l.policies.is_empty());
    assert!(l.has_errors());

    // A PodList: items inherit the kind, and each has its line. A pod without an IP and
    // a host-network pod are notes, not errors.
    let pending = issue(&l.issues, "shop/pending has no IP");
    assert_eq!(pending.severity, Severity::Note);
    assert_eq!(
        (
            pending.position.document,
            pending.position.item,
            pending.position.line
        ),
        (1, Some(0), 4)
    );
    let host = issue(&l.issues, "shop/host uses the host network");
    assert_eq!(host.severity, Severity::Note);
    assert_eq!((host.position.item, host.position.line), (Some(1), 13));

    // A policy the apiserver would refuse: every error with its field path.
    let refused = issue(&l.issues, "shop/refused would be refused");
    assert_eq!(refused.severity, Severity::Error);
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

    let undecodable = issue(&l.issues, "shop/undecodable: cannot be decoded");
    assert_eq!(undecodable.position.document, 3);
    assert_eq!(
        undecodable.details[0],
        "spec.ingress[0].ports[0].port: cannot unmarshal bool true into an int-or-string (an int32 or a string)"
    );

    let not_objects: Vec<_> = l
        .issues
        .iter()
        .filter(|i| i.message.starts_with("not an object"))
        .collect();
    assert_eq!(not_objects.len(), 2);
    assert_eq!(not_objects[1].position.line, 46);
    assert_eq!(issue(&l.issues, "no `kind`").position.document, 5);
    // 2 notes, 2 refused policies, 2 non-objects, 1 object without a kind, and the
    // namespace no object declared.
    assert_eq!(l.issues.len(), 8, "{:#?}", l.issues);
    assert_eq!(l.exit_code(), 1);
}

#[test]
fn broken_yaml_names_the_file_line_and_document() {
    let l = read(&["broken.yaml"]);
    assert_eq!(l.built.cluster.namespace_count(), 0);
    let e = issue(&l.issues, "not valid YAML or JSON");
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
    let l = read(&["folder"]);
    assert_eq!(l.built.cluster.namespace_count(), 1);
    assert_eq!(l.built.cluster.pod_count(), 1);
    assert!(
        l.built.cluster.pod_id("folder-ns", "b").is_some()
            || l.built
                .cluster
                .pods()
                .all(|(id, _)| l.built.cluster.pod_namespace_name(id) == "folder-ns")
    );
    assert!(
        l.issues.is_empty(),
        "README.txt is not read: {:#?}",
        l.issues
    );
    // A missing path is an issue, not a panic.
    let missing = read(&["does-not-exist.yaml"]);
    assert!(missing.issues[0].message.starts_with("cannot read"));
}

#[test]
fn duplicates_and_unknown_nodes_are_noted_when_building() {
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
    let l = load_manifests(m, false).unwrap();
    let cluster = &l.built.cluster;
    assert_eq!(cluster.pod_count(), 2);
    let dup = issue(&l.issues, "Pod x/a was given before");
    assert_eq!(
        (dup.severity, dup.position.document),
        (Severity::Warning, 2)
    );
    assert_eq!(
        issue(&l.issues, "has IP 10.0.0.1, as pod x/a does")
            .position
            .document,
        3
    );
    let nodes = issue(&l.issues, "nodes that were not read");
    assert_eq!(nodes.details, ["n1 (1 pod), n2 (1 pod)"]);
    assert!(cluster.pods().all(|(_, p)| p.node.is_none()));
    // The shared address names the first pod.
    assert_eq!(
        cluster.endpoint_at(ip("10.0.0.1")),
        Endpoint::Pod(cluster.pod_id("x", "a").unwrap())
    );
}

#[test]
fn services_are_decoded_resolved_and_their_problems_reported() {
    let l = read(&["cluster.yaml", "services.yaml"]);
    let table = &l.built.services;
    let keys: Vec<String> = table.services().map(|(_, s)| s.key()).collect();
    assert_eq!(
        keys,
        ["shop/db", "shop/db-metrics", "shop/external-db", "shop/api"]
    );
    let db = table.service(table.lookup("shop", "db").unwrap()).unwrap();
    assert_eq!(db.addressing, Addressing::ClusterIps(Vec::new()));
    assert_eq!(db.ports[0].target, TargetPort::Named("pg".into()));
    let metrics = table
        .service(table.lookup("shop", "db-metrics").unwrap())
        .unwrap();
    assert_eq!(metrics.addressing, Addressing::Headless);

    let undecodable = issue(&l.issues, "Service shop/undecodable: cannot be decoded");
    assert_eq!(undecodable.severity, Severity::Error);
    assert_eq!(
        (undecodable.position.document, undecodable.position.line),
        (4, 39)
    );
    assert_eq!(
        undecodable.details[0],
        "spec.ports[0].port: cannot unmarshal string \"eighty\" into an int32",
    );
    let odd = issue(&l.issues, "Service shop/odd-type spec.type");
    assert_eq!((odd.position.document, odd.position.line), (5, 48));
    assert!(
        odd.message.contains("unsupported value \"Internal\""),
        "{}",
        odd.message
    );
    // The second claim on 10.96.5.2 is left out, with its position.
    assert!(table.lookup("shop", "same-ip").is_none());
    let dup = issue(
        &l.issues,
        "cluster IP 10.96.5.2 is claimed by both shop/external-db and shop/same-ip",
    );
    assert_eq!((dup.position.document, dup.position.line), (6, 58));
}

#[test]
fn service_tables_decide_each_endpoint_at_its_target_port() {
    let l = read(&["cluster.yaml", "services.yaml"]);
    let cluster = &l.built.cluster;
    let table = &l.built.services;
    let engine = Engine::build(cluster, &l.policies);
    let pod = |ns, name| Endpoint::Pod(cluster.pod_id(ns, name).unwrap());
    let sources = [pod("shop", "api"), pod("shop", "db"), pod("tools", "debug")];
    let grids = services::grids(&engine, &Default::default(), table, &sources, &[]);
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

    // 5432/TCP: the named targetPort "pg" resolves to 5432 on the db pod, which the
    // policy opens to app=api only; the selectorless Service has no known endpoint.
    let g = &grids[1];
    let names: Vec<&str> = g.columns.iter().map(|c| c.service.as_str()).collect();
    assert_eq!(names, ["shop/db", "shop/external-db"]);
    assert_eq!(g.columns[0].endpoints[0].target_port, 5432);
    assert_eq!(g.columns[1].no_endpoints, Some(NoEndpoints::NoSelector));
    let reach: Vec<Reachability> = g.cells.iter().map(|row| row[0].reachability).collect();
    assert_eq!(
        reach,
        [Reachability::All, Reachability::All, Reachability::None]
    );
    assert_eq!(g.cells[2][0].endpoints, [Some(Verdict::Deny)]);

    // --port narrows the Service tables to the Service ports given.
    let only = services::grids(
        &engine,
        &Default::default(),
        table,
        &sources,
        &[(9187, Protocol::Tcp)],
    );
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].port, 9187);
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
    let l = load_manifests(m, false).unwrap();
    let c = &l.built.cluster;
    // `team: null` is the label `team: ""` (a map value's zero value).
    let a = c.namespace(c.namespace_id("a").unwrap()).unwrap();
    assert_eq!(a.labels["team"], "");
    assert_eq!(c.namespace_count(), 1);
    let bad_meta = l
        .issues
        .iter()
        .find(|i| i.position.item == Some(1))
        .unwrap();
    assert_eq!(bad_meta.severity, Severity::Error);
    assert_eq!(
        bad_meta.details,
        ["metadata: cannot unmarshal array into an object (ObjectMeta)"]
    );
    assert_eq!(
        issue(&l.issues, "Namespace b: cannot be decoded").details,
        ["metadata.labels.team: cannot unmarshal number 5 into a string"]
    );
    // A null port is a port with nothing set (containerPort 0, left out); a null
    // protocol is the default TCP.
    assert_eq!(c.pod_count(), 1);
    let p = c.pod(c.pod_id("a", "p").unwrap()).unwrap();
    assert_eq!(p.ports.len(), 1);
    assert_eq!((p.ports[0].port, p.ports[0].protocol), (80, Protocol::Tcp));
    let port = issue(&l.issues, "Pod a/p spec.containers[0].ports[0]");
    assert!(
        port.message
            .contains("containerPort 0 is not between 1 and 65535"),
        "{}",
        port.message
    );
    assert_eq!(
        issue(&l.issues, "Pod a/q: cannot be decoded").details,
        ["spec.containers[0].ports[0].containerPort: cannot unmarshal string \"80\" into an int32"]
    );
    assert_eq!(
        issue(&l.issues, "Pod a/r: cannot be decoded").details,
        ["spec.containers[0]: cannot unmarshal array into an object (Container)"]
    );
    let wrong_group = issue(&l.issues, "Pod a/s: cannot be decoded");
    assert_eq!(wrong_group.severity, Severity::Error);
    // A null address is an address with no type: skipped, as Hostname entries are.
    assert_eq!(
        c.node(c.node_id("n").unwrap()).unwrap().ips,
        [ip("192.168.0.1")]
    );
}

#[test]
fn json_is_read_as_go_reads_it() {
    // A lone surrogate escape is U+FFFD; invalid UTF-8 in JSON is replaced too.
    let label = |m: Manifests| {
        let l = load_manifests(m, false).unwrap();
        let c = &l.built.cluster;
        c.namespace(c.namespace_id("a").unwrap()).unwrap().labels["k"].clone()
    };
    let mut m = Manifests::default();
    m.read_text(
        "x.json",
        r#"{"kind": "Namespace", "metadata": {"name": "a", "labels": {"k": "\ud800"}}}"#,
    );
    assert_eq!(label(m), "\u{fffd}");
    let mut m = Manifests::default();
    m.read_bytes(
        "x.json",
        b"{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\", \"labels\": {\"k\": \"\xff\"}}}",
    );
    assert_eq!(m.issues[0].severity, Severity::Note);
    assert_eq!(label(m), "\u{fffd}");
    let mut m = Manifests::default();
    m.read_bytes("x.yaml", b"kind: Namespace\nmetadata:\n  name: \xff\n");
    assert!(m.objects.is_empty());
    assert!(issue(&m.issues, "not valid UTF-8").severity == Severity::Error);
}

/// A real dump (`kubectl get ns,nodes,pods,svc,netpol -A -o yaml`) with the control plane,
/// kube-proxy and flannel on the host network, a finished Job pod and a Pending pod: all
/// notes, nothing refused.
#[test]
fn a_kubectl_dump_with_host_network_pods_is_read_without_errors() {
    let l = read(&["kubectl-dump.yaml"]);
    assert!(!l.has_errors(), "{:#?}", l.issues);
    assert!(
        l.issues.iter().all(|i| i.severity == Severity::Note),
        "{:#?}",
        l.issues
    );
    let c = &l.built.cluster;
    assert_eq!(
        (c.namespace_count(), c.node_count(), c.pod_count()),
        (4, 3, 5)
    );
    assert_eq!(l.built.services.len(), 4);
    assert_eq!(l.policies.network_policies().len(), 5);
    let host: Vec<&Issue> = l
        .issues
        .iter()
        .filter(|i| i.message.contains("uses the host network"))
        .collect();
    assert_eq!(host.len(), 10);
    issue(
        &l.issues,
        "nightly-report-29377440-9zkcd has finished (phase Succeeded)",
    );
    issue(&l.issues, "web-7c9f6d8b4-pending has no IP");
    // A host-network pod is its node; the node's address names the node, not a pod.
    let cp = Endpoint::Node(c.node_id("cp-1").unwrap());
    assert_eq!(c.resolve_pod("kube-system", "etcd-cp-1"), Some(cp));
    assert_eq!(c.endpoint_at(ip("192.168.56.10")), cp);
    // The finished pod's stale address is nobody's.
    assert_eq!(
        c.endpoint_at(ip("10.244.1.9")),
        Endpoint::External(ip("10.244.1.9"))
    );

    let engine = Engine::build(c, &l.policies);
    let pod = |ns, name| Endpoint::Pod(c.pod_id(ns, name).unwrap());
    let web = pod("shop", "web-7c9f6d8b4-jx2lp");
    let api = pod("shop", "api-5d4c7b9f8-r6t2n");
    let db = pod("shop", "db-0");
    let dns = pod("kube-system", "coredns-674b8bbfcf-8wz4h");
    let decide = |s, d, port, proto| engine.decide(Flow::new(s, d, port, proto)).is_allowed();
    assert!(decide(web, api, 9000, Protocol::Tcp));
    assert!(!decide(web, db, 5432, Protocol::Tcp));
    assert!(decide(api, db, 5432, Protocol::Tcp));
    assert!(decide(db, dns, 53, Protocol::Udp));
    assert!(!decide(db, api, 9000, Protocol::Tcp));
    // kubelet's health checks come from the node: allowed to the node's own pods.
    let worker2 = Endpoint::Node(c.node_id("worker-2").unwrap());
    assert!(decide(worker2, db, 5432, Protocol::Tcp));
    // Through the web Service: targetPort "http" is 8080 on the web pod.
    let svc = l.built.services.lookup("shop", "web").unwrap();
    let outside = Endpoint::External(ip("198.51.100.20"));
    let r = l
        .built
        .services
        .reachability(&engine, outside, svc, 80, Protocol::Tcp);
    assert_eq!(r, Reachability::All);
}
