//! Property tests for traffic through Services: the compiled engine and the reference
//! evaluator give equal answers for every source, Service and port under random profiles,
//! and the endpoints are exactly the ones the EndpointSlice rules select.

mod support;

use netpol::cluster::{Endpoint, Flow, IpFamily};
use netpol::engine::Engine;
use netpol::explain::Evaluator;
use netpol::policy::Protocol;
use netpol::profile::Profile;
use netpol::reference::Reference;
use netpol::service::{Addressing, Reachability, ServiceTable, TargetPort};
use proptest::prelude::*;
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(96),
        ..ProptestConfig::default()
    }
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        prop::sample::select(Profile::NAMES.to_vec()).prop_map(|n| Profile::named(n).unwrap()),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(pods, nodes, own, to_node, self_)| Profile::conformance()
                .with_name("custom")
                .with_ipblock_matches_pods(pods)
                .with_ipblock_matches_nodes(nodes)
                .with_own_node_exempt(own)
                .with_pod_to_own_node_exempt(to_node)
                .with_self_exempt(self_)),
    ]
}

const QUERY_PORTS: [u16; 5] = [53, 80, 81, 8080, 200];

fn check_equal(
    table: &ServiceTable,
    a: &dyn Evaluator,
    b: &dyn Evaluator,
    sources: &[Endpoint],
) -> Result<(), TestCaseError> {
    for (id, _) in table.services() {
        for &src in sources {
            for port in QUERY_PORTS {
                for proto in [Protocol::Tcp, Protocol::Udp] {
                    let x = table.explain(a, src, id, port, proto);
                    let y = table.explain(b, src, id, port, proto);
                    prop_assert_eq!(&x, &y);
                    prop_assert_eq!(table.reachability(a, src, id, port, proto), x.reachability);
                    prop_assert_eq!(table.reachability(b, src, id, port, proto), x.reachability);
                    let allowed = x
                        .endpoints
                        .iter()
                        .filter(|e| e.explanation.verdict.is_allowed())
                        .count();
                    prop_assert_eq!(
                        x.reachability,
                        Reachability::from_counts(allowed, x.endpoints.len())
                    );
                    prop_assert_eq!(x.no_endpoints.is_some(), x.endpoints.is_empty());
                    // The Service's name stands for its primary cluster IP, whose family
                    // the connection has (a headless Service has none: the sides decide).
                    let family = table
                        .service(id)
                        .and_then(|s| s.addressing.cluster_ips().first().copied())
                        .map(IpFamily::of);
                    for e in &x.endpoints {
                        // Each endpoint is decided as the flow to the pod at its target port,
                        // marked as made through the Service (a pod reaching itself that way
                        // is not self traffic).
                        let mut direct = Flow::new(src, Endpoint::Pod(e.pod), e.target_port, proto)
                            .through_service();
                        if let Some(f) = family {
                            direct = direct.in_family(f);
                        }
                        prop_assert_eq!(e.flow, direct);
                        prop_assert_eq!(a.decide(direct), e.explanation.verdict);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Engine and reference answer every Service query alike, under any profile.
    #[test]
    fn engine_equals_reference_through_services(
        cluster in cluster(),
        written in written_policies(4),
        services in services(4),
        profile in profiles(),
    ) {
        let policies = accept(&written);
        let resolved: Vec<_> = services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        let engine = Engine::builder().profile(profile.clone()).build(&cluster, &policies);
        let reference = Reference::new(&cluster, &policies, profile);
        check_equal(&table, &engine, &reference, &endpoints(&cluster))?;
    }

    /// The endpoints of a Service port are exactly the pods of its namespace that have an
    /// IP and carry every selector label, at the numeric target port, or at their own
    /// container port of the named target port and the port's protocol (pods without one
    /// left out); headless Services use the queried port on every selected pod.
    #[test]
    fn endpoints_follow_the_endpointslice_rules(cluster in cluster(), services in services(4)) {
        let resolved: Vec<_> = services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        for (id, svc) in table.services() {
            let selected: Vec<_> = cluster.pod_ids().filter(|p| {
                let pod = cluster.pod(*p).unwrap();
                svc.selector.as_ref().is_some_and(|sel| {
                    !pod.ips.is_empty()
                        && cluster.pod_namespace_name(*p) == svc.namespace
                        && sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                })
            }).collect();
            for port in QUERY_PORTS {
                for proto in [Protocol::Tcp, Protocol::Udp] {
                    let got: Vec<(usize, u16)> = match table.endpoints(id, port, proto) {
                        Ok(e) => e.iter().map(|e| (e.pod.index(), e.target_port)).collect(),
                        Err(_) => Vec::new(),
                    };
                    let want: Vec<(usize, u16)> = match &svc.addressing {
                        Addressing::ExternalName => Vec::new(),
                        Addressing::Headless => selected.iter().map(|p| (p.index(), port)).collect(),
                        Addressing::ClusterIps(_) => {
                            match svc.ports.iter().find(|p| p.port == port && p.protocol == proto) {
                                None => Vec::new(),
                                Some(sp) => selected.iter().filter_map(|p| {
                                    let pod = cluster.pod(*p).unwrap();
                                    let n = match &sp.target {
                                        TargetPort::Number(n) => Some(*n),
                                        TargetPort::Named(name) => pod.ports.iter()
                                            .find(|c| c.name.as_deref() == Some(name) && c.protocol == proto)
                                            .map(|c| c.port),
                                    };
                                    n.map(|n| (p.index(), n))
                                }).collect(),
                            }
                        }
                    };
                    prop_assert_eq!(got, want, "{} {}/{}", svc.key(), port, proto);
                }
            }
        }
    }

    /// Without policies every endpoint is reachable; with flannel, whatever the policies.
    #[test]
    fn no_enforcement_reaches_every_endpoint(
        cluster in cluster(),
        written in written_policies(4),
        services in services(3),
    ) {
        let resolved: Vec<_> = services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        let open = Engine::build(&cluster, &[]);
        let flannel = Engine::builder().profile(Profile::flannel()).build(&cluster, &accept(&written));
        for (id, _) in table.services() {
            for src in endpoints(&cluster) {
                for port in QUERY_PORTS {
                    for e in [&open, &flannel] {
                        let r = table.reachability(e, src, id, port, Protocol::Tcp);
                        prop_assert!(matches!(r, Reachability::All | Reachability::NoEndpoints), "{:?}", r);
                    }
                }
            }
        }
    }
}

/// A Service serializes back to the JSON it was read from, extra fields included.
#[test]
fn service_round_trips() {
    let text = r#"{"apiVersion":"v1","kind":"Service",
      "metadata":{"name":"web","namespace":"shop","uid":"u-1","resourceVersion":"7"},
      "spec":{"type":"NodePort","clusterIP":"10.96.0.80","clusterIPs":["10.96.0.80","fd00::80"],
              "ipFamilies":["IPv4","IPv6"],"selector":{"app":"web"},
              "ports":[{"name":"http","port":80,"targetPort":"http","protocol":"TCP","nodePort":30080}]},
      "status":{"loadBalancer":{}}}"#;
    let svc = netpol::service::Service::from_json(text).unwrap();
    let back = serde_json::to_value(&svc).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
    let r = svc.resolve().unwrap();
    assert_eq!(
        r.addressing.cluster_ips(),
        &[
            "10.96.0.80".parse::<std::net::IpAddr>().unwrap(),
            "fd00::80".parse().unwrap()
        ]
    );
}

/// Two Services cannot share a name or a cluster IP.
#[test]
fn duplicates_are_refused() {
    let cluster = netpol::cluster::Cluster::default();
    let mk = |name: &str, ip: &str| {
        netpol::service::Service::from_value(&serde_json::json!({
            "metadata": {"name": name, "namespace": "x"}, "spec": {"clusterIP": ip}}))
        .unwrap()
        .resolve()
        .unwrap()
    };
    let err =
        ServiceTable::build(&cluster, &[mk("a", "10.96.0.1"), mk("a", "10.96.0.2")]).unwrap_err();
    assert_eq!(err.to_string(), "service \"x/a\" is listed twice");
    let err =
        ServiceTable::build(&cluster, &[mk("a", "10.96.0.1"), mk("b", "10.96.0.1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster IP 10.96.0.1 is claimed by both x/a and x/b"
    );
}
