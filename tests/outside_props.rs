//! Property tests for traffic to Services from outside the cluster and through every
//! Service address: the compiled engine and the reference evaluator answer every request
//! alike through kube-proxy's translation, under any profile and kube-proxy setting, and
//! the translation keeps its laws (traffic policies, the source each endpoint sees,
//! source ranges, the family of the address dialled).

mod support;

use std::net::IpAddr;

use netpol::cluster::{Cluster, Endpoint, IpFamily, NodeId, NodeSpec, PodSpec};
use netpol::engine::Engine;
use netpol::explain::Evaluator;
use netpol::policy::Protocol;
use netpol::profile::{Profile, ServiceMasquerade};
use netpol::reference::Reference;
use netpol::service::{
    Reachability, ResolvedService, Service, ServiceAddress, ServiceProxy, ServiceRequest,
    ServiceTable, SourceSeen, TrafficPolicy,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(64),
        ..ProptestConfig::default()
    }
}

const NODES: usize = 3;
/// Outside clients: inside and outside the ipBlocks of the generated policies and the
/// source ranges, both families.
const OUTSIDE: &[&str] = &["198.51.100.7", "203.0.113.7", "10.0.0.4", "2001:db8::1"];
const PORTS: &[u16] = &[53, 80, 8080];
const NODE_PORTS: &[u16] = &[30053, 30080, 30081];

/// A cluster of three nodes with pod subnets (some with tunnel addresses, some dual
/// stack), pods on them (some without a node) from the nodes' subnets.
fn cluster() -> impl Strategy<Value = Cluster> {
    (
        vec((any::<bool>(), any::<bool>()), NODES),
        vec(
            (
                pick(NAMESPACES),
                labels(),
                option::of(0..NODES),
                0..200u8,
                any::<bool>(),
                vec((pick(PORT_NAMES), pick(PORTS)), 0..2),
            ),
            1..7,
        ),
    )
        .prop_map(|(nodes, pods)| {
            let mut b = Cluster::builder();
            for (i, (tunnel, v6)) in nodes.into_iter().enumerate() {
                let mut n = NodeSpec::new(format!("n{i}"))
                    .ip(format!("192.168.0.{}", 11 + i).parse().unwrap())
                    .pod_cidr(format!("10.0.{i}.0/24").parse().unwrap());
                if v6 {
                    n = n
                        .ip(format!("fd00:ffff::{}", i + 1).parse().unwrap())
                        .pod_cidr(format!("fd00:{i}::/64").parse().unwrap());
                }
                if tunnel {
                    n = n.tunnel_ip(format!("10.0.{i}.64").parse().unwrap());
                }
                b = b.add_node(n);
            }
            for (i, (ns, labels, node, host, v6, ports)) in pods.into_iter().enumerate() {
                let subnet = node.unwrap_or(0);
                let mut p = PodSpec::new(ns, format!("pod{i}")).ip(format!(
                    "10.0.{subnet}.{}",
                    u16::from(host) + 1
                )
                .parse()
                .unwrap());
                if v6 {
                    p = p.ip(format!("fd00:{subnet}::{}", u16::from(host) + 1)
                        .parse()
                        .unwrap());
                }
                p.labels = labels.into();
                if let Some(n) = node {
                    p = p.node(format!("n{n}"));
                }
                for (name, port) in ports {
                    p = p.port(netpol::cluster::ContainerPort::named(
                        name,
                        port,
                        Protocol::Tcp,
                    ));
                }
                b = b.pod(p);
            }
            b.build().unwrap()
        })
}

/// A Service of any type reachable from outside, with random traffic policies, node
/// ports, external IPs, load-balancer ingress points and source ranges.
fn service(index: usize) -> impl Strategy<Value = Service> {
    let port = (pick(PORTS), 0..3usize, pick(PORTS), pick(PORT_NAMES));
    (
        pick(NAMESPACES),
        0..3usize,
        option::of(vec(
            (pick(&["app", "tier"][..]), pick(&["x", "y"][..])),
            1..2,
        )),
        vec(port, 1..3),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (0..3usize, any::<bool>()),
        vec(
            pick(
                &[
                    "198.51.100.0/24",
                    "10.0.0.0/16",
                    "0.0.0.0/0",
                    "2001:db8::/32",
                ][..],
            ),
            0..3,
        ),
    )
        .prop_map(
            move |(
                ns,
                kind,
                selector,
                ports,
                (etp_local, itp_local, dual, ext),
                (lb, proxy_mode),
                ranges,
            )| {
                let mut spec = serde_json::json!({});
                let type_ = ["ClusterIP", "NodePort", "LoadBalancer"][kind];
                spec["type"] = serde_json::json!(type_);
                spec["clusterIP"] = serde_json::json!(format!("10.96.0.{}", index + 1));
                let mut ips = vec![format!("10.96.0.{}", index + 1)];
                if dual {
                    ips.push(format!("fd00:96::{}", index + 1));
                }
                spec["clusterIPs"] = serde_json::json!(ips);
                let mut seen = Vec::new();
                let list: Vec<serde_json::Value> = ports
                    .into_iter()
                    .enumerate()
                    .filter(|(_, (p, ..))| {
                        let new = !seen.contains(p);
                        seen.push(*p);
                        new
                    })
                    .map(|(i, (port, t, target, name))| {
                        let mut p = serde_json::json!({"name": format!("p{i}"), "port": port});
                        match t {
                            0 => {}
                            1 => p["targetPort"] = serde_json::json!(target),
                            _ => p["targetPort"] = serde_json::json!(name),
                        }
                        if kind > 0 {
                            p["nodePort"] = serde_json::json!(30000 + 100 * index + i);
                        }
                        p
                    })
                    .collect();
                spec["ports"] = serde_json::json!(list);
                if let Some(pairs) = selector {
                    let map: serde_json::Map<String, serde_json::Value> = pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
                        .collect();
                    spec["selector"] = serde_json::Value::Object(map);
                }
                if ext || kind == 0 {
                    spec["externalIPs"] = serde_json::json!([format!("203.0.113.{}", 20 + index)]);
                }
                if etp_local {
                    spec["externalTrafficPolicy"] = serde_json::json!("Local");
                }
                if itp_local {
                    spec["internalTrafficPolicy"] = serde_json::json!("Local");
                }
                let mut object = serde_json::json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("s{index}"), "namespace": ns}, "spec": spec});
                if kind == 2 {
                    object["spec"]["loadBalancerSourceRanges"] = serde_json::json!(ranges);
                    let mut ingress =
                        vec![serde_json::json!({"ip": format!("203.0.113.{}", 10 + index)})];
                    if lb > 0 {
                        ingress.push(
                            serde_json::json!({"ip": format!("2001:db8:1::{}", index + 1),
                            "ipMode": if proxy_mode { "Proxy" } else { "VIP" }}),
                        );
                    }
                    if lb > 1 {
                        ingress.push(serde_json::json!({"hostname": "lb.example.com"}));
                    }
                    object["status"] = serde_json::json!({"loadBalancer": {"ingress": ingress}});
                }
                Service::from_value(&object).unwrap()
            },
        )
}

fn services() -> impl Strategy<Value = Vec<Service>> {
    (1..=3usize).prop_flat_map(|n| (0..n).map(service).collect::<Vec<_>>())
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        pick(Profile::NAMES).prop_map(|n| Profile::named(n).unwrap()),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0..4usize,
            any::<bool>(),
        )
            .prop_map(|(pods, nodes, own, to_node, masq, socket)| {
                let masquerade = [
                    ServiceMasquerade::NodeIp,
                    ServiceMasquerade::TunnelIp,
                    ServiceMasquerade::TunnelNetworkAddress,
                    ServiceMasquerade::Client,
                ][masq];
                Profile::conformance()
                    .with_name("custom")
                    .with_ipblock_matches_pods(pods)
                    .with_ipblock_matches_nodes(nodes)
                    .with_own_node_exempt(own)
                    .with_pod_to_own_node_exempt(to_node)
                    .with_service_masquerade(masquerade)
                    .with_socket_load_balancer(socket)
            }),
    ]
}

/// Every request worth asking: every client (pods, nodes, outside addresses) to every
/// address of every Service (its name, each cluster IP, each node's node port, each
/// load-balancer and external IP) on each port, with every receiving node and none.
fn requests(cluster: &Cluster, table: &ServiceTable) -> Vec<ServiceRequest> {
    let mut clients: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    clients.extend(cluster.node_ids().map(Endpoint::Node));
    clients.extend(
        OUTSIDE
            .iter()
            .map(|ip| Endpoint::External(ip.parse().unwrap())),
    );
    let nodes: Vec<Option<NodeId>> = std::iter::once(None)
        .chain(cluster.node_ids().map(Some))
        .collect();
    let mut out = Vec::new();
    for (id, svc) in table.services() {
        let mut addresses: Vec<(ServiceAddress, Vec<u16>)> = Vec::new();
        let service_ports: Vec<u16> = svc.ports.iter().map(|p| p.port).chain([81]).collect();
        let node_ports: Vec<u16> = svc
            .ports
            .iter()
            .filter_map(|p| p.node_port)
            .chain(NODE_PORTS.iter().copied().take(1))
            .collect();
        addresses.push((ServiceAddress::Name, service_ports.clone()));
        for ip in svc.addressing.cluster_ips() {
            addresses.push((ServiceAddress::ClusterIp(*ip), service_ports.clone()));
        }
        for n in cluster.node_ids() {
            addresses.push((ServiceAddress::NodePort(n), node_ports.clone()));
        }
        for ip in svc.load_balancer_vips() {
            addresses.push((ServiceAddress::LoadBalancerIp(ip), service_ports.clone()));
        }
        for ip in &svc.external_ips {
            addresses.push((ServiceAddress::ExternalIp(*ip), service_ports.clone()));
        }
        for &src in &clients {
            for (address, ports) in &addresses {
                for &port in ports {
                    for &node in &nodes {
                        let r = ServiceRequest::new(src, id, *address, port, Protocol::Tcp);
                        out.push(match node {
                            Some(n) => r.received_by(n),
                            None => r,
                        });
                    }
                }
            }
        }
    }
    out
}

fn node_of(cluster: &Cluster, e: Endpoint) -> Option<NodeId> {
    match e {
        Endpoint::Pod(p) => cluster.pod(p).and_then(|p| p.node),
        Endpoint::Node(n) => Some(n),
        _ => None,
    }
}

fn check(
    cluster: &Cluster,
    table: &ServiceTable,
    proxy: &ServiceProxy,
    a: &dyn Evaluator,
    b: &dyn Evaluator,
    profile: &Profile,
) -> Result<usize, TestCaseError> {
    let mut answered = 0;
    for req in requests(cluster, table) {
        let x = table.answer(a, proxy, req);
        let y = table.answer(b, proxy, req);
        prop_assert_eq!(&x, &y, "{:?}", req);
        prop_assert_eq!(
            table.reach(a, proxy, req),
            x.as_ref().map(|v| v.reachability).map_err(Clone::clone)
        );
        prop_assert_eq!(
            table.reach(b, proxy, req),
            x.as_ref().map(|v| v.reachability).map_err(Clone::clone)
        );
        let Ok(v) = x else { continue };
        answered += 1;
        let svc: &ResolvedService = table.service(req.service).unwrap();
        // Counts, and the reasons for their absence.
        let allowed = v
            .endpoints
            .iter()
            .filter(|e| e.explanation.verdict.is_allowed())
            .count();
        if v.dropped.is_some() {
            prop_assert!(v.endpoints.is_empty());
            prop_assert_eq!(v.reachability, Reachability::None);
            prop_assert!(matches!(req.address, ServiceAddress::LoadBalancerIp(_)));
        } else {
            prop_assert_eq!(
                v.reachability,
                Reachability::from_counts(allowed, v.endpoints.len())
            );
            prop_assert_eq!(v.no_endpoints.is_some(), v.endpoints.is_empty());
        }
        if !profile.enforces_any() {
            prop_assert!(
                matches!(
                    v.reachability,
                    Reachability::All | Reachability::NoEndpoints
                ) || v.dropped.is_some()
            );
        }
        let family = match req.address {
            ServiceAddress::Name => svc
                .addressing
                .cluster_ips()
                .first()
                .map(|ip| IpFamily::of(*ip)),
            ServiceAddress::NodePort(_) => None,
            other => other.ip().map(IpFamily::of),
        };
        let outside = matches!(req.src, Endpoint::External(_));
        let receiving = match req.address {
            ServiceAddress::NodePort(n) => Some(n),
            _ => req.node,
        };
        for e in &v.endpoints {
            // The flows carry the family of the address dialled.
            if family.is_some() {
                prop_assert_eq!(e.flow.family, family);
            }
            prop_assert_eq!(e.flow.dst, Endpoint::Pod(e.pod));
            prop_assert!(e.flow.via_service);
            // The explanation's verdict is the one deciding the flows gives.
            let decided = match e.egress_flow {
                None => a.decide(e.flow),
                Some(_) => e.explanation.verdict,
            };
            prop_assert_eq!(decided, e.explanation.verdict);
            let endpoint_node = cluster.pod(e.pod).and_then(|p| p.node);
            // From outside, with a Local external policy, only the receiving node's
            // endpoints serve, and they see the client.
            if outside && req.address.is_external() && svc.external_policy_local() {
                prop_assert_eq!(endpoint_node, receiving);
                prop_assert_eq!(&e.source_seen, &SourceSeen::Client);
                prop_assert_eq!(e.flow.src, req.src);
            }
            // From outside with a Cluster policy, an endpoint on the receiving node sees
            // the client, one elsewhere its masquerade address (unless the data plane
            // keeps the client).
            if outside && req.address.is_external() && !svc.external_policy_local() {
                let masqueraded = endpoint_node != receiving
                    && profile.service_masquerade() != ServiceMasquerade::Client;
                prop_assert_eq!(e.flow.src == req.src, !masqueraded, "{:?}", e.flow);
                if masqueraded {
                    let is_masq = matches!(&e.source_seen, SourceSeen::Masqueraded { .. });
                    prop_assert!(is_masq);
                    prop_assert!(e.client_ingress.is_some());
                }
            }
            // A pod's internal traffic with a Local internal policy stays on its node.
            if let (Endpoint::Pod(_), ServiceAddress::Name | ServiceAddress::ClusterIp(_)) =
                (req.src, req.address)
            {
                if svc.internal_traffic_policy == TrafficPolicy::Local
                    && matches!(svc.addressing, netpol::service::Addressing::ClusterIps(_))
                {
                    prop_assert_eq!(endpoint_node, node_of(cluster, req.src));
                }
                if !proxy.masquerade_all() || profile.socket_load_balancer() {
                    prop_assert_eq!(e.flow.src, req.src);
                    prop_assert!(e.egress_flow.is_none());
                }
            }
            // A socket load balancer never masquerades a pod.
            if matches!(req.src, Endpoint::Pod(_)) && profile.socket_load_balancer() {
                prop_assert_eq!(e.flow.src, req.src);
            }
            // A masquerade address that is not a host IP is seen as an address only
            // where ipBlocks match nodes.
            if let Endpoint::External(ip) = e.flow.src {
                if !outside {
                    prop_assert!(profile.ipblock_matches_nodes());
                    let owner = cluster.nodes().any(|(_, n)| {
                        n.tunnel_ips.contains(&ip) || n.pod_cidrs.iter().any(|c| c.network() == ip)
                    });
                    prop_assert!(owner, "{ip}");
                }
            }
        }
        // Source ranges drop only clients outside them.
        if let Some(netpol::service::Dropped::SourceRanges { client, ranges }) = &v.dropped {
            prop_assert!(!ranges.is_empty());
            if let Some(c) = client {
                prop_assert!(!ranges.iter().any(|r| r.contains(c)));
            }
        }
    }
    Ok(answered)
}

proptest! {
    #![proptest_config(config())]

    /// Engine and reference answer every request through every Service address alike,
    /// under any profile and with or without `--masquerade-all`, and the translation
    /// keeps its laws.
    #[test]
    fn engine_equals_reference_through_the_translation(
        cluster in cluster(),
        written in written_policies(4),
        services in services(),
        profile in profiles(),
        masquerade_all in any::<bool>(),
    ) {
        let policies = accept(&written);
        let resolved: Vec<_> = services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        let engine = Engine::builder().profile(profile.clone()).build(&cluster, &policies);
        let reference = Reference::new(&cluster, &policies, profile.clone());
        let proxy = ServiceProxy::new(&profile).with_masquerade_all(masquerade_all);
        let answered = check(&cluster, &table, &proxy, &engine, &reference, &profile)?;
        prop_assert!(answered > 0);
    }

    /// Every generated Service decodes, round-trips and resolves with the addresses it
    /// was given, and the table finds each address again.
    #[test]
    fn service_addresses_resolve_and_are_found(cluster in cluster(), services in services()) {
        let resolved: Vec<_> = services.iter().map(|s| s.resolve().unwrap()).collect();
        for s in &services {
            let back = Service::from_value(&serde_json::to_value(s).unwrap()).unwrap();
            prop_assert_eq!(&back, s);
        }
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        for (id, svc) in table.services() {
            for p in &svc.ports {
                for ip in svc.load_balancer_vips() {
                    prop_assert_eq!(table.lookup_address(ip, p.port, p.protocol), Some((id, ServiceAddress::LoadBalancerIp(ip))));
                }
                for ip in &svc.external_ips {
                    prop_assert_eq!(table.lookup_address(*ip, p.port, p.protocol), Some((id, ServiceAddress::ExternalIp(*ip))));
                }
                if let Some(np) = p.node_port {
                    prop_assert_eq!(table.lookup_node_port(np, p.protocol), Some(id));
                }
            }
            for point in &svc.load_balancer {
                if !point.is_vip() {
                    if let Some(ip) = point.ip {
                        let found: Option<IpAddr> = table.lookup_address(ip, 80, Protocol::Tcp).and_then(|(_, a)| a.ip());
                        prop_assert_eq!(found, None);
                    }
                }
            }
        }
    }
}
