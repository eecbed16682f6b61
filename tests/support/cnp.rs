//! Proptest generators of written ClusterNetworkPolicies.
//!
//! [`written_cnp`] makes policies the apiserver accepts with the experimental channel's
//! CRD: overlapping subjects (few labels, `{}` selectors), tied priorities (few values,
//! 0 and 1000 among them), every action, every peer kind (`namespaces`, `pods` with and
//! without `namespaceSelector`, `nodes`, `networks` of both families with host bits,
//! `domainNames` exact and wildcard), numbered ports, ranges and named ports (only where
//! the named-port rule allows them). [`mutated_cnp`] breaks some of them, one rule at a
//! time, so tests see both accepted and refused input.

use netpol::model::{
    ClusterNetworkPolicy, ClusterNetworkPolicyEgressPeer, ClusterNetworkPolicyEgressRule,
    ClusterNetworkPolicyIngressPeer, ClusterNetworkPolicyIngressRule, ClusterNetworkPolicyPort,
    ClusterNetworkPolicyPortRange, ClusterNetworkPolicyProtocol, ClusterNetworkPolicyProtocolPort,
    ClusterNetworkPolicySpec, ClusterNetworkPolicySubject, LabelSelector, LabelSelectorRequirement,
    NamespacedPod, ObjectMeta,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const TIERS: &[&str] = &["Admin", "Baseline"];
const PRIORITIES: &[i64] = &[0, 1, 1, 5, 1000];
const ACTIONS: &[&str] = &["Accept", "Deny", "Pass"];
const CNP_PORT_NAMES: &[&str] = &["http", "dns", "web"];
const PORT_NUMBERS: &[i64] = &[1, 53, 80, 8080, 65535];
const NETWORKS: &[&str] = &[
    "10.0.0.0/8",
    "10.0.0.1/30",
    "0.0.0.0/0",
    "192.168.0.11/32",
    "203.0.113.0/24",
    "::/0",
    "fd00::/64",
    "2001:db8::1/128",
    "64:ff9b::10.0.0.1/120",
];
const DOMAINS: &[&str] = &[
    "kubernetes.io",
    "*.kubernetes.io",
    "Blog.Kubernetes.IO.",
    "api.example.com",
    "*.example.com",
    "_dmarc.example.com",
];
const RULE_NAMES: &[&str] = &["", "allow-dns", "deny all", "x"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    (0..items.len()).prop_map(move |i| items[i].clone())
}

fn set(items: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(items, 1..=max.min(items.len()))
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        super::selector(),
        // An Exists requirement that overlaps most other selectors.
        Just(LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement::new(
                "app",
                "Exists",
                Vec::<String>::new()
            )]),
        }),
    ]
}

fn namespaced_pod() -> impl Strategy<Value = NamespacedPod> {
    (option::of(selector()), selector()).prop_map(|(ns, pods)| NamespacedPod {
        namespace_selector: ns,
        pod_selector: Some(pods),
    })
}

fn subject() -> impl Strategy<Value = ClusterNetworkPolicySubject> {
    prop_oneof![
        selector().prop_map(ClusterNetworkPolicySubject::namespaces),
        namespaced_pod().prop_map(|p| ClusterNetworkPolicySubject {
            namespaces: None,
            pods: Some(p),
        }),
    ]
}

fn ingress_peer() -> impl Strategy<Value = ClusterNetworkPolicyIngressPeer> {
    prop_oneof![
        selector().prop_map(|s| ClusterNetworkPolicyIngressPeer {
            namespaces: Some(s),
            pods: None,
        }),
        namespaced_pod().prop_map(|p| ClusterNetworkPolicyIngressPeer {
            namespaces: None,
            pods: Some(p),
        }),
    ]
}

/// An egress peer; the flag says whether it is a `networks`, `nodes` or `domainNames`
/// peer (which forbids named ports in its rule).
fn egress_peer() -> impl Strategy<Value = ClusterNetworkPolicyEgressPeer> {
    let none = ClusterNetworkPolicyEgressPeer::default();
    prop_oneof![
        selector().prop_map({
            let none = none.clone();
            move |s| ClusterNetworkPolicyEgressPeer {
                namespaces: Some(s),
                ..none.clone()
            }
        }),
        namespaced_pod().prop_map({
            let none = none.clone();
            move |p| ClusterNetworkPolicyEgressPeer {
                pods: Some(p),
                ..none.clone()
            }
        }),
        selector().prop_map({
            let none = none.clone();
            move |s| ClusterNetworkPolicyEgressPeer {
                nodes: Some(s),
                ..none.clone()
            }
        }),
        set(NETWORKS, 4).prop_map({
            let none = none.clone();
            move |n| ClusterNetworkPolicyEgressPeer {
                networks: Some(n),
                ..none.clone()
            }
        }),
        set(DOMAINS, 3).prop_map(move |d| ClusterNetworkPolicyEgressPeer {
            domain_names: Some(d),
            ..none.clone()
        }),
    ]
}

fn is_outside(peer: &ClusterNetworkPolicyEgressPeer) -> bool {
    peer.networks.is_some() || peer.nodes.is_some() || peer.domain_names.is_some()
}

fn port_body() -> impl Strategy<Value = ClusterNetworkPolicyProtocolPort> {
    prop_oneof![
        pick(PORT_NUMBERS).prop_map(ClusterNetworkPolicyProtocolPort::number),
        (pick(PORT_NUMBERS), 1..200i64).prop_map(|(start, len)| {
            let start = start.min(65534);
            ClusterNetworkPolicyProtocolPort::range(start, (start + len).min(65535))
        }),
    ]
}

fn protocol(named: bool) -> BoxedStrategy<ClusterNetworkPolicyProtocol> {
    let numbered = prop_oneof![
        port_body().prop_map(|b| ClusterNetworkPolicyProtocol {
            tcp: Some(b),
            ..Default::default()
        }),
        port_body().prop_map(|b| ClusterNetworkPolicyProtocol {
            udp: Some(b),
            ..Default::default()
        }),
        port_body().prop_map(|b| ClusterNetworkPolicyProtocol {
            sctp: Some(b),
            ..Default::default()
        }),
    ];
    if named {
        prop_oneof![
            2 => numbered,
            1 => pick(CNP_PORT_NAMES).prop_map(|n| ClusterNetworkPolicyProtocol {
                destination_named_port: Some(n.to_owned()),
                ..Default::default()
            }),
        ]
        .boxed()
    } else {
        numbered.boxed()
    }
}

fn rule_name() -> impl Strategy<Value = Option<String>> {
    option::of(pick(RULE_NAMES).prop_map(str::to_owned))
}

fn ingress_rule() -> impl Strategy<Value = ClusterNetworkPolicyIngressRule> {
    (
        rule_name(),
        pick(ACTIONS),
        vec(ingress_peer(), 1..3),
        option::of(vec(protocol(true), 1..3)),
    )
        .prop_map(
            |(name, action, from, protocols)| ClusterNetworkPolicyIngressRule {
                name,
                action: Some(action.to_owned()),
                from: Some(from),
                protocols,
            },
        )
}

fn egress_rule() -> impl Strategy<Value = ClusterNetworkPolicyEgressRule> {
    (rule_name(), pick(ACTIONS), vec(egress_peer(), 1..3)).prop_flat_map(|(name, action, to)| {
        let named = !to.iter().any(is_outside);
        option::of(vec(protocol(named), 1..3)).prop_map(move |protocols| {
            ClusterNetworkPolicyEgressRule {
                name: name.clone(),
                action: Some(action.to_owned()),
                to: Some(to.clone()),
                protocols,
            }
        })
    })
}

/// A ClusterNetworkPolicy the apiserver accepts (experimental channel), named
/// `cnp-{index}`.
pub fn written_cnp(index: usize) -> impl Strategy<Value = ClusterNetworkPolicy> {
    (
        pick(TIERS),
        pick(PRIORITIES),
        subject(),
        option::of(vec(ingress_rule(), 0..3)),
        option::of(vec(egress_rule(), 0..3)),
    )
        .prop_map(move |(tier, priority, subject, ingress, egress)| {
            let mut cnp = ClusterNetworkPolicy::new(format!("cnp-{index}"));
            cnp.spec = Some(ClusterNetworkPolicySpec {
                tier: Some(tier.to_owned()),
                priority: Some(priority),
                subject: Some(subject),
                ingress,
                egress,
            });
            cnp
        })
}

/// Several valid policies with distinct names.
pub fn written_cnps(max: usize) -> impl Strategy<Value = Vec<ClusterNetworkPolicy>> {
    (0..=max).prop_flat_map(|n| (0..n).map(written_cnp).collect::<Vec<_>>())
}

/// One way to break (or, at the edge, not break) a valid policy.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// `spec.tier`.
    Tier(String),
    /// `spec.priority`.
    Priority(i64),
    /// Drop `spec`, `spec.tier`, `spec.priority` or `spec.subject` (0..4).
    DropRequired(u8),
    /// Add the other subject kind, or clear both.
    Subject(bool),
    /// Action of the first rule.
    Action(String),
    /// Name of the first rule.
    RuleName(String),
    /// Replace the first egress peer's networks.
    Networks(Vec<String>),
    /// Replace the first egress peer's domain names.
    Domains(Vec<String>),
    /// Replace the first rule's protocols.
    Protocols(Option<Vec<ClusterNetworkPolicyProtocol>>),
    /// Set the number of egress rules (cloning the first).
    EgressCount(usize),
    /// Set the number of peers of the first egress rule (cloning the first).
    PeerCount(usize),
    /// A selector implementations cannot compile (an unknown operator).
    BadSelector,
    /// Metadata name.
    Name(String),
    /// An empty egress peer, or one with two kinds.
    PeerProperties(bool),
}

fn any_port() -> impl Strategy<Value = ClusterNetworkPolicyPort> {
    let n = prop_oneof![
        Just(-1i64),
        Just(0),
        Just(1),
        Just(65535),
        Just(65536),
        2..9i64
    ];
    (
        option::of(n.clone()),
        option::of((option::of(n.clone()), option::of(n))),
    )
        .prop_map(|(number, range)| ClusterNetworkPolicyPort {
            number,
            range: range.map(|(start, end)| ClusterNetworkPolicyPortRange { start, end }),
        })
}

fn any_body() -> impl Strategy<Value = Option<ClusterNetworkPolicyProtocolPort>> {
    option::of(
        option::of(any_port())
            .prop_map(|destination_port| ClusterNetworkPolicyProtocolPort { destination_port }),
    )
}

fn any_protocol() -> impl Strategy<Value = ClusterNetworkPolicyProtocol> {
    (
        any_body(),
        any_body(),
        any_body(),
        option::of(pick(&["", "http"]).prop_map(str::to_owned)),
    )
        .prop_map(|(tcp, udp, sctp, named)| ClusterNetworkPolicyProtocol {
            tcp,
            udp,
            sctp,
            destination_named_port: named,
        })
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let strings = |items: &'static [&'static str]| pick(items).prop_map(str::to_owned);
    let cidrs: &'static [&'static str] = &[
        "10.0.0.0/8",
        "010.0.0.0/8",
        "10.0.0.0/08",
        "10.0.0.0/33",
        "::ffff:10.0.0.0/104",
        "10.0.0.0",
        "fd00::/64",
        "1111:2222:3333:4444:5555:6666:7777:8888/128",
        "1111:2222:3333:4444:5555:6666:7777:8888/1280",
    ];
    let domains: &'static [&'static str] = &[
        "kubernetes.io",
        "*.kubernetes.io",
        "localhost",
        "a.*.io",
        "-a.io",
        "[x.io",
        "a..io",
    ];
    prop_oneof![
        strings(&["Admin", "Baseline", "admin", "Developer", ""]).prop_map(Mutation::Tier),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(1000),
            Just(1001),
            Just(i64::from(i32::MAX) + 1)
        ]
        .prop_map(Mutation::Priority),
        (0u8..4).prop_map(Mutation::DropRequired),
        any::<bool>().prop_map(Mutation::Subject),
        strings(&["Accept", "Allow", "Deny", "Pass", "pass"]).prop_map(Mutation::Action),
        (95usize..105).prop_map(|n| Mutation::RuleName("é".repeat(n))),
        vec(strings(cidrs), 0..4).prop_map(Mutation::Networks),
        vec(strings(domains), 0..4).prop_map(Mutation::Domains),
        option::of(vec(any_protocol(), 0..3)).prop_map(Mutation::Protocols),
        prop_oneof![Just(0usize), Just(25), Just(26)].prop_map(Mutation::EgressCount),
        prop_oneof![Just(0usize), Just(25), Just(26)].prop_map(Mutation::PeerCount),
        Just(Mutation::BadSelector),
        strings(&["ok-name", "Bad_Name", "", "a.b"]).prop_map(Mutation::Name),
        any::<bool>().prop_map(Mutation::PeerProperties),
    ]
}

fn first_egress(cnp: &mut ClusterNetworkPolicy) -> &mut ClusterNetworkPolicyEgressRule {
    let spec = cnp.spec.get_or_insert_with(Default::default);
    let rules = spec.egress.get_or_insert_with(Vec::new);
    if rules.is_empty() {
        rules.push(ClusterNetworkPolicyEgressRule {
            name: None,
            action: Some("Deny".into()),
            to: Some(vec![ClusterNetworkPolicyEgressPeer {
                namespaces: Some(LabelSelector::default()),
                ..Default::default()
            }]),
            protocols: None,
        });
    }
    &mut rules[0]
}

fn first_peer(cnp: &mut ClusterNetworkPolicy) -> &mut ClusterNetworkPolicyEgressPeer {
    let rule = first_egress(cnp);
    let to = rule.to.get_or_insert_with(Vec::new);
    if to.is_empty() {
        to.push(ClusterNetworkPolicyEgressPeer::default());
    }
    &mut to[0]
}

/// Applies a mutation.
pub fn mutate(mut cnp: ClusterNetworkPolicy, m: &Mutation) -> ClusterNetworkPolicy {
    match m {
        Mutation::Tier(t) => cnp.spec.get_or_insert_with(Default::default).tier = Some(t.clone()),
        Mutation::Priority(p) => cnp.spec.get_or_insert_with(Default::default).priority = Some(*p),
        Mutation::DropRequired(0) => cnp.spec = None,
        Mutation::DropRequired(k) => {
            let spec = cnp.spec.get_or_insert_with(Default::default);
            match k {
                1 => spec.tier = None,
                2 => spec.priority = None,
                _ => spec.subject = None,
            }
        }
        Mutation::Subject(both) => {
            let spec = cnp.spec.get_or_insert_with(Default::default);
            spec.subject = Some(if *both {
                ClusterNetworkPolicySubject {
                    namespaces: Some(LabelSelector::default()),
                    pods: Some(NamespacedPod::new(
                        LabelSelector::default(),
                        LabelSelector::default(),
                    )),
                }
            } else {
                ClusterNetworkPolicySubject::default()
            });
        }
        Mutation::Action(a) => first_egress(&mut cnp).action = Some(a.clone()),
        Mutation::RuleName(n) => first_egress(&mut cnp).name = Some(n.clone()),
        Mutation::Networks(n) => {
            *first_peer(&mut cnp) = ClusterNetworkPolicyEgressPeer {
                networks: Some(n.clone()),
                ..Default::default()
            }
        }
        Mutation::Domains(d) => {
            *first_peer(&mut cnp) = ClusterNetworkPolicyEgressPeer {
                domain_names: Some(d.clone()),
                ..Default::default()
            }
        }
        Mutation::Protocols(p) => first_egress(&mut cnp).protocols = p.clone(),
        Mutation::EgressCount(n) => {
            let rule = first_egress(&mut cnp).clone();
            cnp.spec.get_or_insert_with(Default::default).egress = Some(vec![rule; *n]);
        }
        Mutation::PeerCount(n) => {
            let peer = first_peer(&mut cnp).clone();
            first_egress(&mut cnp).to = Some(vec![peer; *n]);
        }
        Mutation::BadSelector => {
            *first_peer(&mut cnp) = ClusterNetworkPolicyEgressPeer {
                namespaces: Some(LabelSelector {
                    match_labels: None,
                    match_expressions: Some(vec![LabelSelectorRequirement::new(
                        "app",
                        "Like",
                        ["x"],
                    )]),
                }),
                ..Default::default()
            }
        }
        Mutation::Name(n) => {
            cnp.metadata = ObjectMeta {
                name: Some(n.clone()),
                ..cnp.metadata.clone()
            }
        }
        Mutation::PeerProperties(two) => {
            *first_peer(&mut cnp) = ClusterNetworkPolicyEgressPeer {
                namespaces: two.then(LabelSelector::default),
                nodes: two.then(LabelSelector::default),
                ..Default::default()
            }
        }
    }
    cnp
}

/// A written policy, valid or broken by up to two mutations.
pub fn mutated_cnp() -> impl Strategy<Value = ClusterNetworkPolicy> {
    (written_cnp(0), vec(mutation(), 0..3)).prop_map(|(cnp, ms)| ms.iter().fold(cnp, mutate))
}
