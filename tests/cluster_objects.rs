//! `ClusterObjects` (the cluster from v1 Namespace, Node, Pod and Service objects) builds
//! the same cluster as the scenario loader does from the same description, and the
//! engine answers every query the same on both: on generated workloads and on the
//! crate's scenarios.

use std::path::Path;

use netpol::cluster::{Cluster, ClusterObjects, Endpoint, Flow, NoteKind};
use netpol::engine::Engine;
use netpol::model::{Namespace, Node, Pod};
use netpol::service::{Service, ServiceAddress, ServiceRequest};
use netpol_testing::scenario::{LoadedItem, Scenario};
use netpol_testing::workload::{self, Scale};

/// The objects of `scenario`, added as their kinds say.
fn from_objects(scenario: &Scenario) -> netpol::cluster::BuiltCluster {
    let mut objects = ClusterObjects::new();
    for v in scenario.cluster_objects() {
        match v["kind"].as_str() {
            Some("Namespace") => {
                objects.add_namespace(Namespace::from_value(&v).unwrap());
            }
            Some("Node") => {
                objects.add_node(Node::from_value(&v).unwrap());
            }
            Some("Pod") => {
                objects.add_pod(Pod::from_value(&v).unwrap());
            }
            Some("Service") => {
                objects.add_service(Service::from_value(&v).unwrap());
            }
            other => panic!("unexpected kind {other:?}"),
        }
    }
    objects.build().unwrap()
}

/// Every pod, node and namespace, as comparable text.
fn describe(c: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for (_, ns) in c.namespaces() {
        out.push(format!("ns {} {:?}", ns.name, ns.labels));
    }
    for (_, n) in c.nodes() {
        out.push(format!(
            "node {} {:?} {:?} {:?} {:?}",
            n.name, n.labels, n.ips, n.pod_cidrs, n.tunnel_ips
        ));
    }
    for (id, p) in c.pods() {
        let node = p.node.and_then(|n| c.node(n)).map(|n| n.name.clone());
        out.push(format!(
            "pod {}/{} {:?} {:?} {:?} {:?} {}",
            c.pod_namespace_name(id),
            p.name,
            p.labels,
            p.ips,
            node,
            p.ports,
            p.service_account
        ));
    }
    out.sort();
    out
}

/// The same endpoint in the other cluster.
fn translate(e: Endpoint, from: &Cluster, to: &Cluster) -> Endpoint {
    match e {
        Endpoint::Pod(id) => {
            let p = from.pod(id).unwrap();
            Endpoint::Pod(to.pod_id(from.pod_namespace_name(id), &p.name).unwrap())
        }
        Endpoint::Node(id) => Endpoint::Node(to.node_id(&from.node(id).unwrap().name).unwrap()),
        other => other,
    }
}

/// Loads `scenario` both ways and compares the clusters and every answer; returns how
/// many queries were compared.
fn check(name: &str, scenario: &Scenario) -> usize {
    let loaded = scenario.load().unwrap_or_else(|e| panic!("{name}: {e}"));
    let built = from_objects(scenario);
    let unexpected: Vec<_> = built
        .notes
        .iter()
        .filter(|n| !matches!(n.kind, NoteKind::UnknownNamespace))
        .collect();
    assert!(unexpected.is_empty(), "{name}: {unexpected:#?}");
    assert_eq!(
        describe(&loaded.cluster),
        describe(&built.cluster),
        "{name}"
    );
    assert_eq!(loaded.services.len(), built.services.len(), "{name}");

    let a = Engine::builder()
        .profile(loaded.profile.clone())
        .build(&loaded.cluster, &loaded.policies);
    let b = Engine::builder()
        .profile(loaded.profile.clone())
        .build(&built.cluster, &loaded.policies);
    let mut compared = 0;
    for item in loaded.queries_in_order() {
        match item {
            LoadedItem::Flow(q) => {
                let f = q.flow();
                let g = Flow {
                    src: translate(f.src, &loaded.cluster, &built.cluster),
                    dst: translate(f.dst, &loaded.cluster, &built.cluster),
                    ..f
                };
                assert_eq!(a.decide(f), b.decide(g), "{name}: queries[{}]", q.index);
            }
            LoadedItem::Service(q) => {
                let svc = loaded.services.service(q.service).unwrap();
                let (ns, n) = svc
                    .key()
                    .split_once('/')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .unwrap();
                let other = built.services.lookup(&ns, &n).unwrap();
                let node = |id: netpol::cluster::NodeId| match translate(
                    Endpoint::Node(id),
                    &loaded.cluster,
                    &built.cluster,
                ) {
                    Endpoint::Node(n) => n,
                    _ => unreachable!(),
                };
                let address = match q.address {
                    ServiceAddress::NodePort(n) => ServiceAddress::NodePort(node(n)),
                    other => other,
                };
                let mut request = ServiceRequest::new(
                    translate(q.src, &loaded.cluster, &built.cluster),
                    other,
                    address,
                    q.port,
                    q.protocol,
                );
                if let Some(n) = q.node {
                    request = request.received_by(node(n));
                }
                assert_eq!(
                    loaded.services.reach(&a, &loaded.proxy, q.request()),
                    built.services.reach(&b, &loaded.proxy, request),
                    "{name}: queries[{}]",
                    q.index
                );
            }
        }
        compared += 1;
    }
    compared
}

#[test]
fn generated_workloads_build_the_same_cluster_from_objects() {
    for scale in [Scale::S, Scale::M] {
        let mut g = workload::generate(scale, 7);
        workload::add_cluster_policies(&mut g, 10, 7);
        let n = check(scale.name(), &g.scenario);
        assert_eq!(n, g.scenario.queries.len());
        assert!(n > 1000);
    }
}

#[test]
fn the_crates_scenarios_build_the_same_cluster_from_objects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut scenarios = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(scenario) = Scenario::from_json(&text) else {
            continue; // a case file of another kind
        };
        // Pods without an address are left out of a real cluster; scenarios may list them.
        if scenario
            .pods
            .iter()
            .any(|p| p.ip.is_none() && p.ips.is_empty())
            || scenario.load().is_err()
        {
            continue;
        }
        check(&path.display().to_string(), &scenario);
        scenarios += 1;
    }
    assert!(scenarios >= 20, "only {scenarios} scenarios compared");
}
