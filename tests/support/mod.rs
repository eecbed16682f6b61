//! Proptest generators for clusters, policies and flows, shared by the property tests.
//!
//! The generators are small and adversarial: few label keys and values so selectors
//! overlap, every selector operator, pod/namespace/both peers, ipBlocks with excepts
//! (including /0, /32, /128 and IPv6), named ports that resolve differently per pod,
//! endPort ranges, every policyTypes form, and `ingress: [{}]` next to `ingress: []`.

#![allow(dead_code)]

pub mod calico;
pub mod cnp;
pub mod tiers;

use std::net::IpAddr;

use netpol::cluster::{Cluster, ContainerPort, Endpoint, Flow, NodeSpec, PodSpec};
use netpol::model::{
    IntOrString, IpBlock, LabelSelector, LabelSelectorRequirement, Labels, NetworkPolicy,
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use netpol::policy::{Policy, Protocol};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

pub const NAMESPACES: &[&str] = &["a", "b", "c"];
const KEYS: &[&str] = &["app", "tier", "env"];
const VALUES: &[&str] = &["x", "y", "z"];
pub const PORT_NAMES: &[&str] = &["http", "dns", "web"];
pub const PORTS: &[u16] = &[53, 80, 81, 8080];

/// Pod and node addresses come from small ranges so that ipBlocks hit them.
const POD_V4: &[&str] = &[
    "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.1.9", "10.0.0.6",
];
const POD_V6: &[&str] = &["fd00::1", "fd00::2", "fd00::1:5"];
const NODE_V4: &[&str] = &["192.168.0.11", "192.168.0.12"];
pub const EXTERNAL: &[&str] = &[
    "10.0.0.4",
    "203.0.113.7",
    "0.0.0.0",
    "255.255.255.255",
    "fd00::3",
    "2001:db8::1",
    "::",
];

/// (cidr, except candidates that are strict subsets).
pub const BLOCKS: &[(&str, &[&str])] = &[
    ("0.0.0.0/0", &["10.0.0.0/8", "0.0.0.0/1", "10.0.0.4/32"]),
    ("10.0.0.0/30", &["10.0.0.2/31", "10.0.0.1/32"]),
    ("10.0.0.0/16", &["10.0.1.0/24", "10.0.0.0/29"]),
    ("10.0.0.4/32", &[]),
    ("10.0.0.5/32", &[]),
    ("192.168.0.0/24", &["192.168.0.12/32"]),
    ("::/0", &["::/1", "fd00::/16"]),
    ("fd00::/16", &["fd00::2/128", "fd00::/112"]),
    ("fd00::1/128", &[]),
    ("10.0.0.1/4", &[]), // host bits set: means 0.0.0.0/4
];

pub fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    (0..items.len()).prop_map(move |i| items[i].clone())
}

pub fn labels() -> impl Strategy<Value = Labels> {
    vec((pick(KEYS), pick(VALUES)), 0..3).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn requirement() -> impl Strategy<Value = LabelSelectorRequirement> {
    (pick(KEYS), 0..4usize, vec(pick(VALUES), 1..3)).prop_map(|(key, op, values)| match op {
        0 => LabelSelectorRequirement::new(key, "In", values),
        1 => LabelSelectorRequirement::new(key, "NotIn", values),
        2 => LabelSelectorRequirement::new(key, "Exists", Vec::<String>::new()),
        _ => LabelSelectorRequirement::new(key, "DoesNotExist", Vec::<String>::new()),
    })
}

pub fn selector() -> impl Strategy<Value = LabelSelector> {
    (
        option::of(vec((pick(KEYS), pick(VALUES)), 0..2)),
        option::of(vec(requirement(), 0..3)),
    )
        .prop_map(|(ml, me)| LabelSelector {
            match_labels: ml.map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            match_expressions: me,
        })
}

fn ip_block() -> impl Strategy<Value = IpBlock> {
    (0..BLOCKS.len(), vec(any::<prop::sample::Index>(), 0..3)).prop_map(|(i, picks)| {
        let (cidr, excepts) = BLOCKS[i];
        let mut except: Vec<String> = Vec::new();
        if !excepts.is_empty() {
            for p in picks {
                except.push(p.get(excepts).to_string());
            }
        }
        IpBlock::new(cidr, except)
    })
}

fn peer() -> impl Strategy<Value = NetworkPolicyPeer> {
    prop_oneof![
        selector().prop_map(|s| NetworkPolicyPeer {
            pod_selector: Some(s),
            ..Default::default()
        }),
        selector().prop_map(|s| NetworkPolicyPeer {
            namespace_selector: Some(s),
            ..Default::default()
        }),
        (selector(), selector()).prop_map(|(p, n)| NetworkPolicyPeer {
            pod_selector: Some(p),
            namespace_selector: Some(n),
            ..Default::default()
        }),
        ip_block().prop_map(|b| NetworkPolicyPeer {
            ip_block: Some(b),
            ..Default::default()
        }),
    ]
}

fn port() -> impl Strategy<Value = NetworkPolicyPort> {
    (
        prop_oneof![
            Just(None),
            Just(Some("TCP")),
            Just(Some("UDP")),
            Just(Some("SCTP"))
        ],
        0..4usize,
        pick(PORTS),
        pick(PORT_NAMES),
        0..200u16,
    )
        .prop_map(|(protocol, kind, number, name, span)| NetworkPolicyPort {
            protocol: protocol.map(str::to_string),
            port: match kind {
                0 => None,
                1 | 2 => Some(IntOrString::Int(i32::from(number))),
                _ => Some(IntOrString::String(name.to_string())),
            },
            end_port: if kind == 2 {
                Some(i32::from(number) + i32::from(span))
            } else {
                None
            },
        })
}

fn peers() -> impl Strategy<Value = Option<Vec<NetworkPolicyPeer>>> {
    option::of(vec(peer(), 0..3))
}

fn ports() -> impl Strategy<Value = Option<Vec<NetworkPolicyPort>>> {
    option::of(vec(port(), 0..3))
}

fn policy_types() -> impl Strategy<Value = Option<Vec<String>>> {
    prop_oneof![
        Just(None),
        Just(Some(vec![])),
        Just(Some(vec!["Ingress".to_string()])),
        Just(Some(vec!["Egress".to_string()])),
        Just(Some(vec!["Ingress".to_string(), "Egress".to_string()])),
        Just(Some(vec!["Egress".to_string(), "Egress".to_string()])),
    ]
}

pub fn written_policy(index: usize) -> impl Strategy<Value = NetworkPolicy> {
    (
        pick(NAMESPACES),
        selector(),
        policy_types(),
        option::of(vec((peers(), ports()), 0..3)),
        option::of(vec((peers(), ports()), 0..3)),
    )
        .prop_map(move |(ns, pod_selector, types, ingress, egress)| {
            let mut p = NetworkPolicy::new(ns, format!("p{index}"));
            p.spec.pod_selector = Some(pod_selector);
            p.spec.policy_types = types;
            p.spec.ingress = ingress.map(|rules| {
                rules
                    .into_iter()
                    .map(|(from, ports)| NetworkPolicyIngressRule { from, ports })
                    .collect()
            });
            p.spec.egress = egress.map(|rules| {
                rules
                    .into_iter()
                    .map(|(to, ports)| NetworkPolicyEgressRule { to, ports })
                    .collect()
            });
            p
        })
}

/// Up to `max` written policies.
pub fn written_policies(max: usize) -> impl Strategy<Value = Vec<NetworkPolicy>> {
    (0..=max).prop_flat_map(|n| (0..n).map(written_policy).collect::<Vec<_>>())
}

/// Normalises the policies the apiserver would accept. The generators only write valid
/// policies, so every one must be accepted.
pub fn accept(written: &[NetworkPolicy]) -> Vec<Policy> {
    written
        .iter()
        .map(|w| match Policy::new(w) {
            Ok(p) => p,
            Err(e) => panic!("generated policy refused: {e}\n{w:#?}"),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct PodGen {
    ns: &'static str,
    labels: Labels,
    v4: Option<&'static str>,
    v6: Option<&'static str>,
    v6_first: bool,
    node: Option<usize>,
    ports: Vec<(&'static str, u16, Protocol)>,
}

fn pod_gen() -> impl Strategy<Value = PodGen> {
    (
        pick(NAMESPACES),
        labels(),
        option::of(pick(POD_V4)),
        option::of(pick(POD_V6)),
        any::<bool>(),
        option::of(0..NODE_V4.len()),
        vec(
            (
                pick(PORT_NAMES),
                pick(PORTS),
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
            ),
            0..3,
        ),
    )
        .prop_map(|(ns, labels, v4, v6, v6_first, node, ports)| PodGen {
            ns,
            labels,
            v4,
            v6,
            v6_first,
            node,
            ports,
        })
}

/// A pod named `name`, as [`cluster`] makes them.
pub fn pod_spec(name: String) -> impl Strategy<Value = PodSpec> {
    pod_gen().prop_map(move |p| to_spec(p, name.clone()))
}

fn to_spec(p: PodGen, name: String) -> PodSpec {
    let mut spec = PodSpec::new(p.ns, name);
    spec.labels = p.labels.into();
    let mut ips: Vec<IpAddr> = p.v4.iter().map(|s| s.parse().unwrap()).collect();
    if let Some(v6) = p.v6 {
        let v6: IpAddr = v6.parse().unwrap();
        if p.v6_first {
            ips.insert(0, v6);
        } else {
            ips.push(v6);
        }
    }
    spec.ips = ips;
    spec.node = p.node.map(|n| format!("n{n}"));
    spec.ports = p
        .ports
        .into_iter()
        .map(|(n, port, proto)| ContainerPort::named(n, port, proto))
        .collect();
    spec
}

pub fn cluster() -> impl Strategy<Value = Cluster> {
    (
        vec(labels(), NAMESPACES.len()),
        vec(pod_gen(), 1..7),
        any::<bool>(),
        vec(labels(), NODE_V4.len()),
    )
        .prop_map(|(ns_labels, pods, node_v6, node_labels)| {
            let mut b = Cluster::builder();
            for (name, labels) in NAMESPACES.iter().zip(ns_labels) {
                b = b.namespace(*name, labels);
            }
            for ((i, ip), labels) in NODE_V4.iter().enumerate().zip(node_labels) {
                let mut node = NodeSpec::new(format!("n{i}")).ip(ip.parse().unwrap());
                if node_v6 {
                    node = node.ip(format!("fd00:ffff::{}", i + 1).parse().unwrap());
                }
                node.labels = labels;
                b = b.add_node(node);
            }
            for (i, p) in pods.into_iter().enumerate() {
                // Duplicate names are allowed here on purpose: the API refuses them, but
                // a cluster model built from odd input must still be decided consistently.
                b = b.pod(to_spec(p, format!("pod{i}")));
            }
            b.build().unwrap()
        })
}

/// Every endpoint worth asking about: all pods, all nodes, and some outside addresses.
pub fn endpoints(cluster: &Cluster) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    // Nodes the cluster is built with, and those live changes add.
    for name in ["n0", "n1", "n2", "n3"] {
        if let Some(id) = cluster.node_id(name) {
            out.push(Endpoint::Node(id));
        }
    }
    for ip in EXTERNAL {
        out.push(Endpoint::External(ip.parse().unwrap()));
    }
    out
}

/// All flows between the endpoints, on a few ports and every protocol.
pub fn all_flows(cluster: &Cluster) -> Vec<Flow<'static>> {
    let eps = endpoints(cluster);
    let mut out = Vec::new();
    for &src in &eps {
        for &dst in &eps {
            for port in [53u16, 80, 81, 200] {
                for proto in Protocol::ALL {
                    out.push(Flow::new(src, dst, port, proto));
                }
            }
        }
    }
    out
}

/// A Service over the generated clusters' namespaces, labels and port names: ClusterIP,
/// headless, selector-less and ExternalName kinds, numeric, named and absent targetPorts.
pub fn service(index: usize) -> impl Strategy<Value = netpol::service::Service> {
    let port = (
        pick(PORTS),
        0..3usize,
        pick(PORTS),
        pick(PORT_NAMES),
        prop_oneof![Just(None), Just(Some("TCP")), Just(Some("UDP"))],
    )
        .prop_map(|(port, kind, target, name, protocol)| {
            let mut p = serde_json::json!({"port": port});
            match kind {
                0 => {}
                1 => p["targetPort"] = serde_json::json!(target),
                _ => p["targetPort"] = serde_json::json!(name),
            }
            if let Some(proto) = protocol {
                p["protocol"] = serde_json::json!(proto);
            }
            p
        });
    (
        pick(NAMESPACES),
        0..4usize,
        option::of(vec((pick(KEYS), pick(VALUES)), 0..2)),
        vec(port, 0..3),
    )
        .prop_map(move |(ns, kind, selector, ports)| {
            let mut spec = serde_json::json!({"ports": ports});
            match kind {
                0 | 1 => spec["clusterIP"] = serde_json::json!(format!("10.96.0.{}", index + 1)),
                2 => spec["clusterIP"] = serde_json::json!("None"),
                _ => spec["type"] = serde_json::json!("ExternalName"),
            }
            if let Some(pairs) = selector {
                let map: serde_json::Map<String, serde_json::Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                    .collect();
                spec["selector"] = serde_json::Value::Object(map);
            }
            netpol::service::Service::from_value(&serde_json::json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("s{index}"), "namespace": ns},
                "spec": spec,
            }))
            .unwrap()
        })
}

/// Up to `max` Services with distinct names and cluster IPs.
pub fn services(max: usize) -> impl Strategy<Value = Vec<netpol::service::Service>> {
    (0..=max).prop_flat_map(|n| (0..n).map(service).collect::<Vec<_>>())
}
