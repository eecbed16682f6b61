//! Proptest generators of Calico objects: valid written objects (which normalise) for the
//! engine's property tests, covering every field the normalised form holds, and raw
//! written objects (valid or not) for validation properties.
//!
//! [`policy`], [`network_set`] and [`tier`] give written objects that validation
//! accepts; normalise them with `CalicoPolicy::new` etc. ([`normalised_policy`] and the
//! others do it). Labels, namespaces and ports come from small pools so that selectors
//! overlap with the pods of `super::NAMESPACES`.

use netpol::calico::{
    ApiGroup, CalicoNetworkSet, CalicoPolicy, CalicoTier, EntityRule, GlobalNetworkPolicy,
    GlobalNetworkPolicySpec, GlobalNetworkSet, HttpMatch, HttpPath, IcmpFields, NetworkPolicy,
    NetworkPolicySpec, NetworkSet, NetworkSetSpec, Port, Protocol, Rule, RuleMetadata,
    ServiceAccountMatch, ServiceMatch, Tier, TierSpec,
};
use netpol::model::{Labels, ObjectMeta};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::NAMESPACES;

const KEYS: &[&str] = &["app", "tier", "env"];
const VALUES: &[&str] = &["x", "y", "z"];
pub const TIERS: &[&str] = &["default", "security", "platform"];
/// Selector terms over the labels Calico adds to endpoints.
const CALICO_TERMS: &[&str] = &[
    "has(pcns.app)",
    "pcns.app == 'x'",
    "projectcalico.org/namespace == 'a'",
    "has(projectcalico.org/serviceaccount)",
    "projectcalico.org/serviceaccount == 'api'",
    "pcsa.projectcalico.org/name == 'web'",
    "pcns.kubernetes.io/metadata.name == 'b'",
    "has(projectcalico.org/orchestrator)",
];
/// Service account names rules name: those pods run as, and one holding a quote, which
/// makes Calico drop the rule's whole `serviceAccounts` match.
const SERVICE_ACCOUNTS: &[&str] = &["default", "api", "web", "it's"];
pub const PORT_NAMES: &[&str] = &["http", "dns", "web"];
pub const NETS_V4: &[&str] = &[
    "10.0.0.0/8",
    "10.0.0.0/30",
    "10.0.0.4/32",
    "192.168.0.0/24",
    "0.0.0.0/1",
    "203.0.113.0/24",
];
pub const NETS_V6: &[&str] = &["fd00::/16", "fd00::1/128", "2001:db8::/32"];
const SET_NETS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.4/30",
    "10.0.1.9/8",
    "203.0.113.7",
    "fd00::1/64",
    "192.168.0.12",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(pool).prop_map(str::to_owned)
}

/// A valid selector over the small label pool, of every operator.
pub fn selector() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("all()".to_owned()),
        pick(KEYS).prop_map(|k| format!("has({k})")),
        (pick(KEYS), pick(VALUES)).prop_map(|(k, v)| format!("{k} == '{v}'")),
        (pick(KEYS), pick(VALUES)).prop_map(|(k, v)| format!("{k} != \"{v}\"")),
        (pick(KEYS), vec(pick(VALUES), 0..3))
            .prop_map(|(k, v)| format!("{k} in {{{}}}", quoted(&v))),
        (pick(KEYS), vec(pick(VALUES), 0..3))
            .prop_map(|(k, v)| format!("{k} not in {{{}}}", quoted(&v))),
        (pick(KEYS), pick(VALUES)).prop_map(|(k, v)| format!("{k} starts with '{v}'")),
        (pick(KEYS), pick(VALUES)).prop_map(|(k, v)| format!("{k} contains '{v}'")),
        // Keys Calico itself gives endpoints (and pods may spoof).
        pick(CALICO_TERMS),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|s| format!("!({s})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) || ({b})")),
        ]
    })
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A namespace selector: a selector over `pcns.`-less namespace labels, `all()` or `global()`.
fn namespace_selector() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("all()".to_owned()),
        Just("global()".to_owned()),
        pick(NAMESPACES).prop_map(|n| format!("kubernetes.io/metadata.name == '{n}'")),
        selector(),
    ]
}

fn labels() -> impl Strategy<Value = Option<Labels>> {
    option::of(
        proptest::collection::btree_map(pick(KEYS), pick(VALUES), 0..3)
            .prop_map(|m| m.into_iter().collect::<Labels>()),
    )
}

fn port(with_numbers: bool) -> BoxedStrategy<Port> {
    let name = pick(PORT_NAMES).prop_map(Port::String);
    if with_numbers {
        prop_oneof![
            (1u16..=9000).prop_map(Port::from),
            proptest::sample::select(&[53u16, 80, 81, 8080][..]).prop_map(Port::from),
            (1u16..100, 0u16..100).prop_map(|(a, d)| Port::String(format!("{a}:{}", a + d))),
            proptest::sample::select(&[53u16, 80][..]).prop_map(|p| Port::String(p.to_string())),
            name,
        ]
        .boxed()
    } else {
        name.boxed()
    }
}

/// One family's nets, possibly none.
fn nets(v6: bool) -> impl Strategy<Value = Option<Vec<String>>> {
    let pool = if v6 { NETS_V6 } else { NETS_V4 };
    option::of(
        proptest::sample::subsequence(pool, 0..3)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
    )
}

fn entity(
    numbers: bool,
    v6: bool,
    allow_services: bool,
) -> impl Strategy<Value = Option<EntityRule>> {
    let sa = option::of(
        (
            option::of(proptest::sample::subsequence(SERVICE_ACCOUNTS, 0..3)),
            option::of(selector()),
        )
            .prop_map(|(names, selector)| ServiceAccountMatch {
                names: names.map(|n| n.into_iter().map(str::to_owned).collect()),
                selector,
            }),
    );
    let plain = (
        nets(v6),
        nets(v6).prop_map(|n| n.map(|l| l.into_iter().filter(|x| !x.ends_with("/0")).collect())),
        option::of(selector()),
        option::of(selector()),
        option::of(namespace_selector()),
        option::of(vec(port(numbers), 0..3)),
        option::of(vec(port(numbers), 0..2)),
        sa,
    )
        .prop_map(
            |(
                nets,
                not_nets,
                selector,
                not_selector,
                namespace_selector,
                ports,
                not_ports,
                service_accounts,
            )| EntityRule {
                nets,
                not_nets,
                selector,
                not_selector,
                namespace_selector,
                ports,
                not_ports,
                service_accounts,
                services: None,
            },
        );
    let services = pick(NAMESPACES).prop_map(|ns| EntityRule {
        services: Some(ServiceMatch {
            name: Some("svc".into()),
            namespace: Some(ns),
        }),
        ..EntityRule::default()
    });
    if allow_services {
        option::of(prop_oneof![4 => plain, 1 => services]).boxed()
    } else {
        option::of(plain).boxed()
    }
}

/// A valid rule of a direction (`ingress`: services only in the source).
pub fn rule(ingress: bool) -> impl Strategy<Value = Rule> {
    let action = proptest::sample::select(&["Allow", "Deny", "Pass", "Log"][..]);
    let proto = prop_oneof![
        2 => Just(None),
        1 => Just(Some(Protocol::Name("TCP".into()))),
        1 => Just(Some(Protocol::Name("UDP".into()))),
        1 => Just(Some(Protocol::Number(132))),
        1 => Just(Some(Protocol::Name("6".into()))),
        1 => Just(Some(Protocol::Name("ICMP".into()))),
    ];
    let not_proto = option::of(
        proptest::sample::select(&["UDP", "SCTP", "TCP"][..])
            .prop_map(|p| Protocol::Name(p.into())),
    );
    (
        action,
        proto,
        not_proto,
        any::<bool>(),
        option::of(Just(())),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(
            move |(action, protocol, not_protocol, v6, ipv, with_http, with_meta)| {
                let numbers = protocol.as_ref().is_some_and(Protocol::supports_ports);
                let icmp_ok = protocol.as_ref().is_some_and(|p| p.number() == Some(1));
                let ports_ok = protocol.is_none() || numbers;
                let ip_version = ipv
                    .map(|()| if v6 { 6 } else { 4 })
                    .filter(|v| !(icmp_ok && *v == 6));
                let http = (action == "Allow"
                    && ingress
                    && with_http
                    && protocol
                        .as_ref()
                        .is_none_or(|p| *p == Protocol::Name("TCP".into())))
                .then(|| HttpMatch {
                    methods: Some(vec!["GET".into()]),
                    paths: Some(vec![HttpPath {
                        exact: None,
                        prefix: Some("/api".into()),
                    }]),
                });
                let v6 = v6 && !icmp_ok;
                (
                    entity(numbers, v6, ingress),
                    entity(numbers, v6, !ingress),
                    option::of((0i64..=254, option::of(0i64..=255))),
                    option::of(0i64..=254),
                )
                    .prop_map(
                        move |(mut source, mut destination, icmp, not_icmp)| {
                            for side in [&mut source, &mut destination].into_iter().flatten() {
                                if !ports_ok {
                                    side.ports = None;
                                    side.not_ports = None;
                                }
                                if side.services.is_some() {
                                    side.ports = None;
                                    side.not_ports = None;
                                }
                            }
                            Rule {
                                action: Some(action.to_owned()),
                                ip_version,
                                protocol: protocol.clone(),
                                icmp: icmp.filter(|_| icmp_ok).map(|(t, c)| IcmpFields {
                                    icmp_type: Some(t),
                                    code: c,
                                }),
                                not_protocol: not_protocol.clone(),
                                not_icmp: not_icmp.map(|t| IcmpFields {
                                    icmp_type: Some(t),
                                    code: None,
                                }),
                                source,
                                destination,
                                http: http.clone(),
                                metadata: with_meta.then(|| RuleMetadata {
                                    annotations: Some(
                                        [("owner".to_string(), "a".to_string())].into(),
                                    ),
                                }),
                            }
                        },
                    )
            },
        )
}

fn types() -> impl Strategy<Value = Option<Vec<String>>> {
    prop_oneof![
        Just(None),
        Just(Some(vec!["Ingress".to_owned()])),
        Just(Some(vec!["Egress".to_owned()])),
        Just(Some(vec!["Ingress".to_owned(), "Egress".to_owned()])),
    ]
}

fn group() -> impl Strategy<Value = ApiGroup> {
    prop_oneof![Just(ApiGroup::V3), Just(ApiGroup::CrdV1)]
}

/// What both policy kinds share: tier, order, ingress, egress, selector, types and the
/// service account selector.
type Common = (
    Option<String>,
    Option<f64>,
    Option<Vec<Rule>>,
    Option<Vec<Rule>>,
    Option<String>,
    Option<Vec<String>>,
    Option<String>,
);

fn common() -> impl Strategy<Value = Common> {
    (
        option::of(pick(TIERS)),
        option::of(prop_oneof![
            (-5i32..20).prop_map(f64::from),
            Just(100.0),
            Just(2.5)
        ]),
        option::of(vec(rule(true), 0..3)),
        option::of(vec(rule(false), 0..3)),
        option::of(selector()),
        types(),
        option::of(selector()),
    )
}

/// A valid Calico NetworkPolicy in a namespace of `super::NAMESPACES`.
pub fn network_policy() -> impl Strategy<Value = NetworkPolicy> {
    (pick(NAMESPACES), 0usize..4, group(), common()).prop_map(|(ns, i, api_group, c)| {
        let (tier, order, ingress, egress, selector, types, sa) = c;
        NetworkPolicy {
            api_version: Some(api_group.api_version().to_owned()),
            kind: Some("NetworkPolicy".into()),
            metadata: ObjectMeta::named(ns, format!("np-{i}")),
            spec: Some(NetworkPolicySpec {
                tier,
                order,
                ingress,
                egress,
                selector,
                types,
                service_account_selector: sa,
                performance_hints: None,
            }),
            api_group,
            extra: Default::default(),
        }
    })
}

/// A valid Calico GlobalNetworkPolicy (host-endpoint options included, consistently).
pub fn global_network_policy() -> impl Strategy<Value = GlobalNetworkPolicy> {
    (
        0usize..4,
        group(),
        common(),
        option::of(namespace_selector().prop_filter("no global", |s| !s.contains("global("))),
        0u8..4,
    )
        .prop_map(|(i, api_group, c, ns_sel, host)| {
            let (tier, order, ingress, mut egress, selector, mut types, sa) = c;
            let (do_not_track, pre_dnat) = match host {
                1 => (Some(true), None),
                2 => (None, Some(true)),
                _ => (None, None),
            };
            if pre_dnat.is_some() {
                egress = None;
                types = Some(vec!["Ingress".into()]);
            }
            GlobalNetworkPolicy {
                api_version: Some(api_group.api_version().to_owned()),
                kind: Some("GlobalNetworkPolicy".into()),
                metadata: ObjectMeta {
                    name: Some(format!("gnp-{i}")),
                    ..ObjectMeta::default()
                },
                spec: Some(GlobalNetworkPolicySpec {
                    tier,
                    order,
                    ingress,
                    egress,
                    selector,
                    types,
                    do_not_track,
                    pre_dnat,
                    apply_on_forward: (host != 0).then_some(true),
                    service_account_selector: sa,
                    namespace_selector: ns_sel,
                    performance_hints: (host == 3).then(|| vec!["AssumeNeededOnEveryNode".into()]),
                }),
                api_group,
                extra: Default::default(),
            }
        })
}

/// A valid NetworkSet or GlobalNetworkSet, as its normalised form.
pub fn network_set() -> impl Strategy<Value = CalicoNetworkSet> {
    (
        option::of(pick(NAMESPACES)),
        0usize..3,
        labels(),
        option::weighted(0.3, proptest::sample::select(SET_SPOOFED)),
        proptest::sample::subsequence(SET_NETS, 0..4),
        group(),
    )
        .prop_map(|(ns, i, mut labels, spoof, nets, api_group)| {
            if let Some((k, v)) = spoof {
                labels
                    .get_or_insert_with(Labels::new)
                    .insert(k.to_owned(), v.to_owned());
            }
            let spec = Some(NetworkSetSpec {
                nets: Some(nets.into_iter().map(str::to_owned).collect()),
            });
            let name = format!("set-{i}");
            let set = match ns {
                Some(ns) => CalicoNetworkSet::new(&NetworkSet {
                    metadata: ObjectMeta {
                        labels,
                        ..ObjectMeta::named(ns, name)
                    },
                    spec,
                    api_group,
                    ..NetworkSet::default()
                }),
                None => CalicoNetworkSet::new(&GlobalNetworkSet {
                    metadata: ObjectMeta {
                        name: Some(name),
                        labels,
                        ..ObjectMeta::default()
                    },
                    spec,
                    api_group,
                    ..GlobalNetworkSet::default()
                }),
            };
            set.expect("generated network sets are valid")
        })
}

/// A valid Tier of [`TIERS`] (the built-in `default` as Calico requires it), normalised.
pub fn tier() -> impl Strategy<Value = CalicoTier> {
    (
        pick(TIERS),
        option::of(prop_oneof![
            Just(10.0),
            Just(1_000_000.0),
            Just(2_000_000.0),
            Just(100.0)
        ]),
        option::of(proptest::sample::select(&["Pass", "Deny"][..])),
    )
        .prop_map(|(name, order, action)| {
            let spec = if name == "default" {
                TierSpec {
                    order: Some(1_000_000.0),
                    default_action: Some("Deny".into()),
                }
            } else {
                TierSpec {
                    order,
                    default_action: action.map(str::to_owned),
                }
            };
            CalicoTier::new(&Tier {
                metadata: ObjectMeta {
                    name: Some(name),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
                ..Tier::default()
            })
            .expect("generated tiers are valid")
        })
}

/// A valid normalised Calico policy of either kind.
pub fn normalised_policy() -> impl Strategy<Value = CalicoPolicy> {
    prop_oneof![
        network_policy().prop_map(|p| CalicoPolicy::new(&p).expect("generated policies are valid")),
        global_network_policy()
            .prop_map(|p| CalicoPolicy::new(&p).expect("generated policies are valid")),
    ]
}

/// Written Calico objects as JSON, valid or not: a valid one with a field replaced by an
/// arbitrary value from a pool of tricky ones.
pub fn raw_object() -> impl Strategy<Value = serde_json::Value> {
    let valid = prop_oneof![
        network_policy().prop_map(|p| serde_json::to_value(p).unwrap()),
        global_network_policy().prop_map(|p| serde_json::to_value(p).unwrap()),
    ];
    let junk = proptest::sample::select(
        &[
            "null",
            "\"\"",
            "0",
            "-1",
            "256",
            "70000",
            "\"0\"",
            "\"tcp\"",
            "\"ICMP\"",
            "\"1:0\"",
            "\"a b\"",
            "\"global()\"",
            "\"all()\"",
            "\"10.0.0.1/8\"",
            "\"10.0.0.1\"",
            "\"0.0.0.0/0\"",
            "\"::/0\"",
            "[]",
            "[\"Ingress\",\"Ingress\"]",
            "[\"Egress\"]",
            "[80]",
            "[\"http\",\"HTTP\"]",
            "{}",
            "{\"type\":1}",
            "{\"code\":1}",
            "{\"name\":\"\"}",
            "true",
            "\"Pass\"",
            "\"Drop\"",
            "4",
            "6",
            "\"a == 'b' && \"",
            "[\"fd00::/8\",\"10.0.0.0/8\"]",
            "1e3",
            "\"has(x)\"",
        ][..],
    );
    let fields = proptest::sample::select(
        &[
            "tier",
            "order",
            "selector",
            "types",
            "serviceAccountSelector",
            "namespaceSelector",
            "doNotTrack",
            "preDNAT",
            "applyOnForward",
            "performanceHints",
            "action",
            "protocol",
            "notProtocol",
            "ipVersion",
            "icmp",
            "notICMP",
            "http",
            "nets",
            "notNets",
            "ports",
            "notPorts",
            "services",
            "serviceAccounts",
            "notSelector",
        ][..],
    );
    (valid, vec((fields, junk, 0usize..4), 0..4)).prop_map(|(mut v, edits)| {
        for (field, junk, where_) in edits {
            let value: serde_json::Value = serde_json::from_str(junk).unwrap();
            let spec = &mut v["spec"];
            let target = match where_ {
                0 => Some(spec),
                1 => spec.get_mut("ingress").and_then(|r| r.get_mut(0)),
                2 => spec
                    .get_mut("ingress")
                    .and_then(|r| r.get_mut(0))
                    .and_then(|r| {
                        if r.get("source").is_none() {
                            r["source"] = serde_json::json!({});
                        }
                        r.get_mut("source")
                    }),
                _ => spec
                    .get_mut("egress")
                    .and_then(|r| r.get_mut(0))
                    .and_then(|r| {
                        if r.get("destination").is_none() {
                            r["destination"] = serde_json::json!({});
                        }
                        r.get_mut("destination")
                    }),
            };
            if let Some(t) = target.filter(|t| t.is_object()) {
                t[field] = value;
            }
        }
        v
    })
}

// ---------------------------------------------------------------------------------------
// Clusters and policy sets for the Felix property tests
// ---------------------------------------------------------------------------------------

/// Service accounts pods run as: short ones, and one whose name is too long (63
/// characters) for Calico's `projectcalico.org/serviceaccount` label.
pub const POD_SERVICE_ACCOUNTS: &[&str] = &[
    "default",
    "api",
    "web",
    "a-service-account-name-of-exactly-sixty-three-characters-xxxxxx",
];

/// Labels a pod may carry over Calico's own keys: Calico writes its own over some, and a
/// pod's own `pcns.` label hides its namespace's label of that key from every selector
/// under Felix, Kubernetes namespace selectors as Calico converts them included.
const SPOOFED: &[(&str, &str)] = &[
    ("projectcalico.org/namespace", "a"),
    ("projectcalico.org/serviceaccount", "api"),
    ("pcsa.projectcalico.org/name", "web"),
    ("projectcalico.org/orchestrator", "none"),
    ("pcns.app", "x"),
    ("pcns.tier", "y"),
    ("pcns.kubernetes.io/metadata.name", "c"),
];

/// Labels a network set may carry over keys Calico's selectors read: the orchestrator
/// label (which Calico's conversion of a Kubernetes pod selector asks for) and `pcns.`
/// labels (which a converted namespace selector reads: a global set has no others).
const SET_SPOOFED: &[(&str, &str)] = &[
    ("projectcalico.org/orchestrator", "k8s"),
    ("pcns.app", "x"),
    ("pcns.kubernetes.io/metadata.name", "a"),
];

/// A cluster like [`super::cluster`], whose pods also run as service accounts and
/// sometimes carry labels over the keys Calico adds, and always have an address.
pub fn felix_cluster() -> impl Strategy<Value = netpol::cluster::Cluster> {
    use netpol::cluster::{Cluster, ContainerPort, NodeSpec, PodSpec};
    (
        vec(super::labels(), NAMESPACES.len()),
        vec(
            (
                super::pod_gen(),
                proptest::sample::select(POD_SERVICE_ACCOUNTS),
                option::weighted(0.2, proptest::sample::select(SPOOFED)),
            ),
            1..7,
        ),
        any::<bool>(),
        vec(super::labels(), super::NODE_V4.len()),
    )
        .prop_map(|(ns_labels, pods, node_v6, node_labels)| {
            let mut b = Cluster::builder();
            for (name, labels) in NAMESPACES.iter().zip(ns_labels) {
                b = b.namespace(*name, labels);
            }
            for ((i, ip), labels) in super::NODE_V4.iter().enumerate().zip(node_labels) {
                let mut node = NodeSpec::new(format!("n{i}")).ip(ip.parse().unwrap());
                if node_v6 {
                    node = node.ip(format!("fd00:ffff::{}", i + 1).parse().unwrap());
                }
                node.labels = labels;
                b = b.add_node(node);
            }
            for (i, (p, sa, spoof)) in pods.into_iter().enumerate() {
                let mut spec = PodSpec::new(p.ns, format!("pod{i}")).service_account(sa);
                let mut labels = p.labels;
                if let Some((k, v)) = spoof {
                    labels.insert(k.to_string(), v.to_string());
                }
                spec.labels = labels.into();
                let mut ips: Vec<std::net::IpAddr> =
                    p.v4.iter().map(|s| s.parse().unwrap()).collect();
                if let Some(v6) = p.v6 {
                    let v6: std::net::IpAddr = v6.parse().unwrap();
                    if p.v6_first {
                        ips.insert(0, v6);
                    } else {
                        ips.push(v6);
                    }
                }
                if ips.is_empty() {
                    // Felix never sees a pod without an address (Calico drops it before
                    // it becomes an endpoint): give it one.
                    let pool = super::POD_V4;
                    ips.push(pool[i % pool.len()].parse().unwrap());
                }
                spec.ips = ips;
                spec.node = p.node.map(|n| format!("n{n}"));
                spec.ports = p
                    .ports
                    .into_iter()
                    .map(|(n, port, proto)| ContainerPort::named(n, port, proto))
                    .collect();
                b = b.pod(spec);
            }
            b.build().unwrap()
        })
}

/// Where a generated Calico policy goes: as written, or moved to a built-in
/// ClusterNetworkPolicy tier, or given the order of Kubernetes NetworkPolicies.
#[derive(Debug, Clone, Copy)]
enum Placement {
    AsWritten,
    Tier(&'static str),
    Order1000,
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        6 => Just(Placement::AsWritten),
        1 => Just(Placement::Tier("kube-admin")),
        1 => Just(Placement::Tier("kube-baseline")),
        2 => Just(Placement::Order1000),
    ]
}

fn place(tier: &mut Option<String>, order: &mut Option<f64>, at: Placement) {
    match at {
        Placement::AsWritten => {}
        Placement::Tier(t) => *tier = Some(t.to_owned()),
        Placement::Order1000 => *order = Some(1000.0),
    }
}

/// Clears the criteria of a rule whose bit in `mask` is 0, so that generated rules
/// (each criterion present half the time as written) match flows often enough.
fn thin(rules: Option<&mut Vec<Rule>>, masks: &[u32]) {
    for (r, mask) in rules.into_iter().flatten().zip(masks) {
        let keep = |bit: u32| mask & (1 << bit) != 0;
        for (i, side) in [r.source.as_mut(), r.destination.as_mut()]
            .into_iter()
            .enumerate()
        {
            let Some(side) = side else { continue };
            let base = 8 * u32::try_from(i).unwrap();
            if !keep(base) {
                side.nets = None;
            }
            if !keep(base + 1) {
                side.not_nets = None;
            }
            if !keep(base + 2) {
                side.selector = None;
            }
            if !keep(base + 3) {
                side.not_selector = None;
            }
            if !keep(base + 4) {
                side.namespace_selector = None;
            }
            if !keep(base + 5) {
                side.ports = None;
            }
            if !keep(base + 6) {
                side.not_ports = None;
            }
            if !keep(base + 7) {
                side.service_accounts = None;
            }
        }
        if !keep(16) {
            r.not_protocol = None;
        }
        if !keep(17) {
            r.not_icmp = None;
        }
    }
}

/// Masks for [`thin`]: each criterion kept with probability 1/4.
fn masks() -> impl Strategy<Value = Vec<u32>> {
    vec((any::<u32>(), any::<u32>()).prop_map(|(a, b)| a & b), 6)
}

/// Thins and adjusts the rules of a written spec for the Felix properties.
fn adjust(ingress: Option<&mut Vec<Rule>>, egress: Option<&mut Vec<Rule>>, masks: &[u32]) {
    let (first, second) = masks.split_at(3);
    thin(ingress, first);
    thin(egress, second);
}

/// A normalised Calico policy of either kind, placed, its rules thinned.
pub fn placed_policy() -> impl Strategy<Value = CalicoPolicy> {
    prop_oneof![
        (network_policy(), placement(), masks()).prop_map(|(mut p, at, masks)| {
            if let Some(s) = p.spec.as_mut() {
                place(&mut s.tier, &mut s.order, at);
                adjust(s.ingress.as_mut(), s.egress.as_mut(), &masks);
            }
            CalicoPolicy::new(&p).expect("generated policies are valid")
        }),
        (
            global_network_policy(),
            placement(),
            masks(),
            proptest::bool::weighted(0.25)
        )
            .prop_map(|(mut p, at, masks, host_only)| {
                if let Some(s) = p.spec.as_mut() {
                    // Policies for host endpoints only, now and then.
                    if !host_only {
                        s.do_not_track = None;
                        s.pre_dnat = None;
                    }
                    place(&mut s.tier, &mut s.order, at);
                    adjust(s.ingress.as_mut(), s.egress.as_mut(), &masks);
                }
                CalicoPolicy::new(&p).expect("generated policies are valid")
            }),
    ]
}

/// Every kind together, as a cluster could hold them: Kubernetes NetworkPolicies,
/// ClusterNetworkPolicies the CRD accepts, Calico policies (one per name, namespace and
/// kind; a `projectcalico.org/v3` one only in a tier that exists, as Calico's API
/// server requires), network sets (one per name and namespace) and Tiers (one per name).
pub fn felix_policy_set() -> impl Strategy<Value = netpol::policy::PolicySet> {
    use netpol::policy::PolicySet;
    (
        super::written_policies(3),
        (0..=3usize).prop_flat_map(|n| {
            (0..n)
                .map(super::tiers::valid_cluster_policy)
                .collect::<Vec<_>>()
        }),
        vec(placed_policy(), 0..8),
        vec(network_set(), 0..4),
        vec(tier(), 0..4),
    )
        .prop_map(|(np, cnp, calico, sets, tiers)| {
            let mut set: PolicySet = super::accept(&np).into_iter().collect();
            set.extend(cnp);
            let mut kept_tiers: Vec<CalicoTier> = Vec::new();
            for t in tiers {
                if !kept_tiers.iter().any(|k| k.name() == t.name()) {
                    kept_tiers.push(t);
                }
            }
            let mut keys = Vec::new();
            for p in calico {
                let key = (p.kind(), p.key());
                if keys.contains(&key) || p.missing_tier(&kept_tiers).is_some() {
                    continue;
                }
                keys.push(key);
                set.push(p);
            }
            let mut set_keys = Vec::new();
            for s in sets {
                if !set_keys.contains(&s.key()) {
                    set_keys.push(s.key());
                    set.push(s);
                }
            }
            set.extend(kept_tiers);
            set
        })
}
