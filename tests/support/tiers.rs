//! Proptest generators for normalised ClusterNetworkPolicies: overlapping subjects, tied
//! priorities, every action (Pass chains included), every peer kind, named ports and
//! ranges. Built with the public builder, so they need no decoding.

use netpol::cluster::{Cluster, Flow};
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterRule, ClusterTier, DomainPattern,
    PolicySet, Protocol, Subject,
};
use netpol::selector::Selector;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::{BLOCKS, PORT_NAMES, PORTS, all_flows, endpoints, pick, selector};

/// Names outside addresses are resolved from in generated flows.
pub const DOMAINS: &[&str] = &[
    "api.example.com",
    "a.b.example.com",
    "example.com",
    "other.org",
];
const PATTERNS: &[&str] = &[
    "example.com",
    "*.example.com",
    "API.example.com.",
    "*.b.example.com",
    "other.org",
];

fn compiled() -> impl Strategy<Value = Selector> {
    selector().prop_map(|s| Selector::new(&s).expect("generated selectors are valid"))
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        compiled().prop_map(Subject::Namespaces),
        (compiled(), compiled()).prop_map(|(namespaces, pods)| Subject::Pods { namespaces, pods }),
    ]
}

fn peer() -> impl Strategy<Value = ClusterPeer> {
    prop_oneof![
        compiled().prop_map(ClusterPeer::Namespaces),
        (compiled(), compiled())
            .prop_map(|(namespaces, pods)| ClusterPeer::Pods { namespaces, pods }),
        vec(0..BLOCKS.len(), 1..3).prop_map(|picks| ClusterPeer::Networks(
            picks
                .into_iter()
                .map(|i| BLOCKS[i].0.parse().unwrap())
                .collect()
        )),
        compiled().prop_map(ClusterPeer::Nodes),
        vec(pick(PATTERNS), 1..3).prop_map(|ps| ClusterPeer::DomainNames(
            ps.into_iter()
                .map(|p| p.parse::<DomainPattern>().unwrap())
                .collect()
        )),
    ]
}

/// An ingress peer the CRD accepts: namespaces or pods.
fn ingress_peer() -> impl Strategy<Value = ClusterPeer> {
    prop_oneof![
        compiled().prop_map(ClusterPeer::Namespaces),
        (compiled(), compiled())
            .prop_map(|(namespaces, pods)| ClusterPeer::Pods { namespaces, pods }),
    ]
}

fn port() -> impl Strategy<Value = ClusterPort> {
    prop_oneof![
        (pick(&Protocol::ALL), pick(PORTS), 0..200u16).prop_map(|(p, start, span)| {
            ClusterPort::range(p, start, start.saturating_add(span)).unwrap()
        }),
        pick(PORT_NAMES).prop_map(|n| ClusterPort::Named(n.to_string())),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::Allow), Just(Action::Deny), Just(Action::Pass)]
}

fn rule() -> impl Strategy<Value = ClusterRule> {
    rule_with(peer().boxed())
}

/// A rule with 1 or 2 peers of `peers`.
fn rule_with(peers: BoxedStrategy<ClusterPeer>) -> impl Strategy<Value = ClusterRule> {
    (action(), vec(peers, 1..3), option::of(vec(port(), 1..3))).prop_map(|(a, peers, ports)| {
        let r = ClusterRule::new(a, peers);
        match ports {
            Some(p) => r.with_ports(p),
            None => r,
        }
    })
}

/// A ClusterNetworkPolicy built from its parts, its rules in the order given.
pub fn assemble(
    name: String,
    tier: ClusterTier,
    priority: u32,
    subject: Subject,
    ingress: Vec<ClusterRule>,
    egress: Vec<ClusterRule>,
) -> ClusterPolicy {
    let mut b = ClusterPolicy::builder(name, tier, priority, subject);
    for r in ingress {
        b = b.ingress(r);
    }
    for r in egress {
        b = b.egress(r);
    }
    b.build()
}

/// One ClusterNetworkPolicy named `c{index}` that the CRD accepts, for the Felix
/// properties: ingress rules only name namespaces and pods (egress rules may name every
/// peer kind, so that Calico drops or replaces some, or all, of them).
pub fn valid_cluster_policy(index: usize) -> impl Strategy<Value = ClusterPolicy> {
    (
        prop_oneof![Just(ClusterTier::Admin), Just(ClusterTier::Baseline)],
        0..3u32,
        subject(),
        vec(rule_with(ingress_peer().boxed()), 0..3),
        vec(rule_with(peer().boxed()), 0..3),
    )
        .prop_map(move |(tier, priority, subject, ingress, egress)| {
            assemble(
                format!("c{index}"),
                tier,
                priority,
                subject,
                ingress,
                egress,
            )
        })
}

/// One ClusterNetworkPolicy named `c{index}`; priorities come from a small range so that
/// ties happen.
pub fn cluster_policy(index: usize) -> impl Strategy<Value = ClusterPolicy> {
    (
        prop_oneof![Just(ClusterTier::Admin), Just(ClusterTier::Baseline)],
        0..3u32,
        subject(),
        vec(rule(), 0..3),
        vec(rule(), 0..3),
    )
        .prop_map(move |(tier, priority, subject, ingress, egress)| {
            assemble(
                format!("c{index}"),
                tier,
                priority,
                subject,
                ingress,
                egress,
            )
        })
}

/// Up to `max` ClusterNetworkPolicies.
pub fn cluster_policies(max: usize) -> impl Strategy<Value = Vec<ClusterPolicy>> {
    (0..=max).prop_flat_map(|n| (0..n).map(cluster_policy).collect::<Vec<_>>())
}

/// NetworkPolicies and ClusterNetworkPolicies together.
pub fn policy_set(max_np: usize, max_cnp: usize) -> impl Strategy<Value = PolicySet> {
    (super::written_policies(max_np), cluster_policies(max_cnp)).prop_map(|(np, cnp)| {
        let mut set: PolicySet = super::accept(&np).into_iter().collect();
        set.extend(cnp);
        set
    })
}

/// Every flow of [`all_flows`], plus every flow to an outside address once per DNS name.
pub fn all_flows_with_domains(cluster: &Cluster) -> Vec<Flow<'static>> {
    let mut out = all_flows(cluster);
    let eps = endpoints(cluster);
    for &src in &eps {
        for &dst in &eps {
            if !matches!(dst, netpol::cluster::Endpoint::External(_)) {
                continue;
            }
            for d in DOMAINS {
                for port in [53u16, 80] {
                    out.push(Flow::new(src, dst, port, Protocol::Tcp).with_domain(d));
                }
            }
        }
    }
    out
}
