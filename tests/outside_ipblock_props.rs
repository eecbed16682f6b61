//! Property tests for what an ingress rule's ipBlocks match of outside traffic through
//! Services (`ServiceTable::outside`, `Outside::ingress_rule`): the answer agrees with the
//! compiled engine on every outside flow through those Services. Each path said to match
//! clients is witnessed by a flow the rule allows (as `explain`'s `allowed_by` says, after
//! the translation `ServiceTable::answer` applies), and for every outside client tried,
//! through every node port, load-balancer and external IP, received by every node, the
//! rule allows the flow to an endpoint exactly when the answer says it matches that
//! client there.

mod support;

use std::net::IpAddr;

use ipnet::IpNet;
use netpol::cluster::{Cluster, ContainerPort, Endpoint, IpFamily, NodeId, NodeSpec, PodSpec};
use netpol::engine::Engine;
use netpol::explain::Explanation;
use netpol::policy::{Direction, Peer, Policy, PolicyKind, Protocol};
use netpol::profile::{Profile, ServiceMasquerade};
use netpol::service::{
    ClientMatch, OutsideAddress, ResolvedService, RuleFromOutside, RuleFromOutsideError, Service,
    ServiceAddress, ServiceId, ServiceProxy, ServiceRequest, ServiceTable, SourceSeen,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use support::{PORT_NAMES, pick};

const NAMESPACES: &[&str] = &["a", "b"];

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
const PORTS: &[u16] = &[53, 80, 8080];

/// Outside clients tried: client networks, the node network (no node's address), the
/// pod network outside every node's subnet, the Internet, IPv6; plus, per rule, the
/// edges of its blocks and the answer's examples.
const CLIENTS: &[&str] = &[
    "198.51.100.7",
    "203.0.113.7",
    "192.168.0.50",
    "10.0.200.1",
    "10.1.0.1",
    "8.8.8.8",
    "2001:db8::1",
    "2001:db9::1",
];

/// Blocks a rule may hold: client networks, the node network and one node, the pod
/// network and one subnet (with a tunnel address taken out), everything, IPv6.
const BLOCKS: &[(&str, &[&str])] = &[
    ("198.51.100.0/24", &[]),
    ("203.0.113.0/24", &["203.0.113.0/28"]),
    ("192.168.0.0/24", &["192.168.0.12/32"]),
    ("192.168.0.11/32", &[]),
    ("10.0.0.0/16", &["10.0.1.64/32"]),
    ("10.0.1.0/24", &[]),
    ("10.0.0.0/8", &[]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
    ("2001:db8::/32", &[]),
    ("fd00::/8", &[]),
    ("::/0", &[]),
];

/// Three nodes with pod subnets (some with tunnel addresses, some dual stack) and pods
/// on them (some without a node).
fn cluster() -> impl Strategy<Value = Cluster> {
    (
        vec((any::<bool>(), any::<bool>()), NODES),
        vec(
            (
                pick(NAMESPACES),
                (pick(&["x", "y"][..]), option::of(pick(&["x", "y"][..]))),
                option::of(0..NODES),
                1..60u8,
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
                let mut p = PodSpec::new(ns, format!("pod{i}"))
                    .ip(format!("10.0.{subnet}.{host}").parse().unwrap());
                if v6 {
                    p = p.ip(format!("fd00:{subnet}::{host}").parse().unwrap());
                }
                let (app, tier) = labels;
                p = p.label("app", app);
                if let Some(t) = tier {
                    p = p.label("tier", t);
                }
                if let Some(n) = node {
                    p = p.node(format!("n{n}"));
                }
                for (name, port) in ports {
                    p = p.port(ContainerPort::named(name, port, Protocol::Tcp));
                }
                b = b.pod(p);
            }
            b.build().unwrap()
        })
}

/// A Service reachable from outside: NodePort, LoadBalancer (with VIP, Proxy-mode and
/// hostname ingress points, source ranges) or ClusterIP with external IPs; either
/// external traffic policy; numeric or named target ports.
fn service(index: usize) -> impl Strategy<Value = Service> {
    (
        pick(NAMESPACES),
        0..3usize,
        prop_oneof![
            1 => Just(None),
            6 => (pick(&["app", "tier"][..]), pick(&["x", "y"][..])).prop_map(|p| Some(vec![p])),
        ],
        vec(
            (pick(PORTS), 0..3usize, pick(PORTS), pick(PORT_NAMES)),
            1..3,
        ),
        (any::<bool>(), any::<bool>(), 0..3usize),
        vec(
            pick(
                &[
                    "198.51.100.0/24",
                    "10.0.0.0/8",
                    "0.0.0.0/0",
                    "2001:db8::/32",
                ][..],
            ),
            0..3,
        ),
    )
        .prop_map(
            move |(ns, kind, selector, ports, (local, ext, lb), ranges)| {
                let type_ = ["ClusterIP", "NodePort", "LoadBalancer"][kind];
                let mut spec = serde_json::json!({"type": type_,
                    "clusterIP": format!("10.96.0.{}", index + 1)});
                let mut seen = Vec::new();
                let list: Vec<serde_json::Value> = ports
                    .into_iter()
                    .filter(|(p, ..)| {
                        let new = !seen.contains(p);
                        seen.push(*p);
                        new
                    })
                    .enumerate()
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
                    spec["externalIPs"] = serde_json::json!([
                        format!("203.0.113.{}", 20 + index),
                        format!("2001:db8:2::{}", index + 1)
                    ]);
                }
                if local {
                    spec["externalTrafficPolicy"] = serde_json::json!("Local");
                }
                let mut object = serde_json::json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("s{index}"), "namespace": ns}, "spec": spec});
                if kind == 2 {
                    object["spec"]["loadBalancerSourceRanges"] = serde_json::json!(ranges);
                    let mut ingress =
                        vec![serde_json::json!({"ip": format!("203.0.113.{}", 10 + index)})];
                    if lb > 0 {
                        ingress
                            .push(serde_json::json!({"ip": format!("2001:db8:1::{}", index + 1)}));
                    }
                    if lb > 1 {
                        ingress.push(
                            serde_json::json!({"ip": format!("203.0.113.{}", 30 + index),
                            "ipMode": "Proxy"}),
                        );
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

/// A NetworkPolicy whose ingress rules hold ipBlocks (and sometimes a pod peer, and
/// ports: numbers and names).
fn policy(index: usize) -> impl Strategy<Value = Policy> {
    let rule = (
        vec((0..BLOCKS.len(), option::of(0..2usize)), 0..3),
        any::<bool>(),
        option::weighted(
            0.3,
            vec(
                prop_oneof![
                    pick(PORTS).prop_map(|p| serde_json::json!({"port": p})),
                    pick(PORT_NAMES).prop_map(|n| serde_json::json!({"port": n})),
                    Just(serde_json::json!({"port": 53, "protocol": "UDP"})),
                ],
                1..3,
            ),
        ),
    );
    (
        pick(NAMESPACES),
        option::weighted(0.3, (pick(&["app", "tier"][..]), pick(&["x", "y"][..]))),
        vec(rule, 1..4),
    )
        .prop_map(move |(ns, selector, rules)| {
            let pod_selector = match selector {
                Some((k, v)) => serde_json::json!({"matchLabels": {k: v}}),
                None => serde_json::json!({}),
            };
            let rules: Vec<serde_json::Value> = rules
                .into_iter()
                .map(|(blocks, pods, ports)| {
                    let mut from: Vec<serde_json::Value> = blocks
                        .into_iter()
                        .map(|(b, except)| {
                            let (cidr, excepts) = BLOCKS[b];
                            let mut block = serde_json::json!({"cidr": cidr});
                            if let Some(e) = except.filter(|e| *e < excepts.len()) {
                                block["except"] = serde_json::json!([excepts[e]]);
                            }
                            serde_json::json!({"ipBlock": block})
                        })
                        .collect();
                    if pods {
                        from.push(serde_json::json!({"podSelector": {}}));
                    }
                    let mut rule = serde_json::json!({"from": from});
                    if let Some(ports) = ports {
                        rule["ports"] = serde_json::json!(ports);
                    }
                    rule
                })
                .collect();
            let written = serde_json::json!({"apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": format!("p{index}"), "namespace": ns},
                "spec": {"podSelector": pod_selector, "ingress": rules}});
            let np = netpol::model::NetworkPolicy::from_value(&written).unwrap();
            Policy::new(&np).unwrap()
        })
}

fn policies() -> impl Strategy<Value = Vec<Policy>> {
    (1..=3usize).prop_flat_map(|n| (0..n).map(policy).collect::<Vec<_>>())
}

/// Profiles that enforce NetworkPolicy: the named ones and custom mixes of the knobs.
fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        pick(&["conformance", "calico", "canal", "kube-router", "cilium"][..])
            .prop_map(|n| Profile::named(n).unwrap()),
        (any::<bool>(), any::<bool>(), 0..4usize).prop_map(|(pods, nodes, masq)| {
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
                .with_service_masquerade(masquerade)
        }),
    ]
}

/// Whether the endpoint's ingress explanation names rule `rule` of NetworkPolicy
/// `policy` among the rules that allowed it.
fn allowed_by(e: &Explanation, policy: usize, rule: usize) -> bool {
    e.ingress.allowed_by.iter().any(|r| {
        r.policy.kind == PolicyKind::NetworkPolicy
            && r.policy.index == policy
            && r.direction == Direction::Ingress
            && r.rule == rule
    })
}

/// Whether an address belongs to the cluster: a pod, node or tunnel address, or inside
/// a node's pod subnet. No outside client has one.
fn in_cluster(cluster: &Cluster, ip: IpAddr) -> bool {
    cluster.pods().any(|(_, p)| p.ips.contains(&ip))
        || cluster.nodes().any(|(_, n)| {
            n.ips.contains(&ip)
                || n.tunnel_ips.contains(&ip)
                || n.pod_cidrs.iter().any(|c| c.contains(&ip))
        })
}

/// One outside request: the Service, the address dialled with the port behind it, the
/// receiving node, and the client.
#[derive(Debug, Clone, Copy)]
struct Try {
    service: ServiceId,
    address: OutsideAddress,
    port: u16,
    node: NodeId,
    client: IpAddr,
}

impl Try {
    fn request(&self) -> ServiceRequest {
        let src = Endpoint::External(self.client);
        match self.address {
            OutsideAddress::NodePort { node_port } => ServiceRequest::new(
                src,
                self.service,
                ServiceAddress::NodePort(self.node),
                node_port,
                Protocol::Tcp,
            ),
            OutsideAddress::LoadBalancerIp { ip } => ServiceRequest::new(
                src,
                self.service,
                ServiceAddress::LoadBalancerIp(ip),
                self.port,
                Protocol::Tcp,
            )
            .received_by(self.node),
            OutsideAddress::ExternalIp { ip } => ServiceRequest::new(
                src,
                self.service,
                ServiceAddress::ExternalIp(ip),
                self.port,
                Protocol::Tcp,
            )
            .received_by(self.node),
            _ => unreachable!("no other outside address"),
        }
    }
}

/// Every outside request in the answer's domain: each Service's node ports at each node,
/// its load-balancer and external IPs received by each node, from each client of the
/// family that the node has an address of, outside the cluster and (for a load-balancer
/// IP) inside the Service's source ranges of that family.
fn tries(cluster: &Cluster, table: &ServiceTable, clients: &[IpAddr]) -> Vec<Try> {
    let mut out = Vec::new();
    for (id, svc) in table.services() {
        for port in &svc.ports {
            let mut ways: Vec<OutsideAddress> = Vec::new();
            if let Some(node_port) = port.node_port {
                ways.push(OutsideAddress::NodePort { node_port });
            }
            ways.extend(
                svc.load_balancer_vips()
                    .map(|ip| OutsideAddress::LoadBalancerIp { ip }),
            );
            ways.extend(
                svc.external_ips
                    .iter()
                    .map(|ip| OutsideAddress::ExternalIp { ip: *ip }),
            );
            for address in ways {
                for (node, n) in cluster.nodes() {
                    for &client in clients {
                        let family = IpFamily::of(client);
                        let fits = match address {
                            OutsideAddress::LoadBalancerIp { ip }
                            | OutsideAddress::ExternalIp { ip } => IpFamily::of(ip) == family,
                            _ => true,
                        };
                        if !fits || n.ip(family).is_none() || in_cluster(cluster, client) {
                            continue;
                        }
                        if let OutsideAddress::LoadBalancerIp { .. } = address {
                            let ranges: Vec<&IpNet> = svc
                                .source_ranges
                                .iter()
                                .filter(|r| IpFamily::of(r.addr()) == family)
                                .collect();
                            let open =
                                ranges.is_empty() || ranges.iter().any(|r| r.prefix_len() == 0);
                            if !open && !ranges.iter().any(|r| r.contains(&client)) {
                                continue;
                            }
                        }
                        out.push(Try {
                            service: id,
                            address,
                            port: port.port,
                            node,
                            client,
                        });
                    }
                }
            }
        }
    }
    out
}

/// What the answer says of one endpoint on one try: whether the rule matches the client.
fn predicted(answer: &RuleFromOutside, t: &Try, pod: netpol::cluster::PodId) -> bool {
    let Some(s) = answer.services.iter().find(|s| s.id == t.service) else {
        return false;
    };
    let family = IpFamily::of(t.client);
    s.paths()
        .iter()
        .find(|p| {
            p.entrance.address == t.address
                && p.entrance.port == t.port
                && p.entrance.family == family
                && p.receiver.node == t.node
                && p.endpoints.iter().any(|e| e.pod == pod)
        })
        .is_some_and(|p| match p.clients {
            ClientMatch::All => true,
            ClientMatch::None => false,
            ClientMatch::Some => answer.blocks.contains(t.client),
        })
}

/// Addresses at the edges of the rule's blocks.
fn edges(policy: &Policy, rule: usize) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for peer in policy.rules(Direction::Ingress)[rule]
        .peers
        .iter()
        .flatten()
    {
        if let Peer::IpBlock { 0: b, .. } = peer {
            for net in std::iter::once(b.cidr()).chain(b.except().iter().copied()) {
                out.push(net.network());
                out.push(net.broadcast());
                out.push(match net.network() {
                    IpAddr::V4(a) => IpAddr::V4(a.to_bits().wrapping_add(1).into()),
                    IpAddr::V6(a) => IpAddr::V6(a.to_bits().wrapping_add(1).into()),
                });
            }
        }
    }
    out
}

fn check(
    cluster: &Cluster,
    table: &ServiceTable,
    policies: &[Policy],
    profile: &Profile,
) -> Result<(usize, usize), TestCaseError> {
    let engine = Engine::builder()
        .profile(profile.clone())
        .build(cluster, policies);
    let proxy = ServiceProxy::new(profile);
    let outside = table.outside(cluster, &proxy);
    let mut answers: Vec<(usize, usize, RuleFromOutside)> = Vec::new();
    let mut clients: Vec<IpAddr> = CLIENTS.iter().map(|c| c.parse().unwrap()).collect();
    for (i, policy) in policies.iter().enumerate() {
        for r in 0..policy.rules(Direction::Ingress).len() {
            match outside.ingress_rule(policy, r) {
                Ok(a) => {
                    clients.extend(edges(policy, r));
                    for s in &a.services {
                        clients.extend(s.entrances.iter().filter_map(|e| e.example));
                    }
                    answers.push((i, r, a));
                }
                Err(RuleFromOutsideError::NoIpBlock { .. }) => {
                    let has = policy.rules(Direction::Ingress)[r]
                        .peers
                        .iter()
                        .flatten()
                        .any(|p| matches!(p, Peer::IpBlock { .. }));
                    prop_assert!(!has);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
    clients.sort();
    clients.dedup();

    // Every path said to match clients is witnessed by a flow the rule allows, and each
    // of its endpoints sees the source the path says.
    let mut witnessed = 0;
    for (i, r, answer) in &answers {
        for s in &answer.services {
            // The summaries and the two predicates are those of the paths.
            let paths = s.paths();
            let join =
                |acc: Option<ClientMatch>, c: ClientMatch| Some(acc.map_or(c, |a| a.join(c)));
            let (mut unmasqueraded, mut masqueraded, mut matches) = (None, None, None);
            for p in &paths {
                if matches!(p.source_seen, SourceSeen::Masqueraded { .. }) {
                    masqueraded = join(masqueraded, p.clients);
                } else {
                    unmasqueraded = join(unmasqueraded, p.clients);
                }
                matches = join(matches, p.clients);
            }
            prop_assert_eq!(
                (unmasqueraded, masqueraded, matches),
                (s.unmasqueraded, s.masqueraded, s.matches)
            );
            let masq = |p: &&netpol::service::OutsidePath<'_>| {
                matches!(p.source_seen, SourceSeen::Masqueraded { .. })
            };
            prop_assert_eq!(
                paths
                    .iter()
                    .filter(masq)
                    .any(|p| p.clients == ClientMatch::None
                        && p.entrance.clients != ClientMatch::None),
                s.refused_when_masqueraded()
            );
            prop_assert_eq!(
                paths.iter().filter(masq).any(
                    |p| p.clients == ClientMatch::All && p.entrance.clients != ClientMatch::All
                ),
                s.admitted_by_masquerade()
            );
            prop_assert_eq!(
                s.refused_when_masqueraded(),
                answer.refused_text(s).is_some()
            );
            prop_assert_eq!(
                s.admitted_by_masquerade(),
                answer.admitted_text(s).is_some()
            );
            for p in paths {
                let client = match (p.clients, p.source_seen) {
                    (ClientMatch::None, _) => None,
                    (_, SourceSeen::Client) => p.entrance.example,
                    _ => clients.iter().copied().find(|c| {
                        IpFamily::of(*c) == p.entrance.family
                            && tries(cluster, table, &[*c]).iter().any(|t| {
                                t.service == s.id
                                    && t.address == p.entrance.address
                                    && t.port == p.entrance.port
                                    && t.node == p.receiver.node
                            })
                    }),
                };
                let Some(client) = client else {
                    prop_assert_eq!(p.clients, ClientMatch::None, "no witness for {:?}", p);
                    continue;
                };
                let v = table
                    .answer(&engine, &proxy, s.request(&p, client))
                    .unwrap();
                for e in &p.endpoints {
                    let ev = v.endpoints.iter().find(|ev| ev.pod == e.pod);
                    prop_assert!(ev.is_some(), "{} not reached: {}", e.endpoint, v);
                    let ev = ev.unwrap();
                    prop_assert_eq!(&ev.source_seen, p.source_seen);
                    prop_assert!(
                        allowed_by(&ev.explanation, *i, *r),
                        "{} {}: {} not allowed by the rule\n{}",
                        answer.policy,
                        answer.field,
                        client,
                        v
                    );
                    witnessed += 1;
                }
            }
        }
    }

    // Every outside flow tried: the rule allows it exactly where the answer says it
    // matches the client.
    let mut tried = 0;
    for t in tries(cluster, table, &clients) {
        let v = table
            .answer(&engine, &proxy, t.request())
            .map_err(|e| TestCaseError::fail(format!("{t:?} refused: {e}")))?;
        for ev in &v.endpoints {
            for (i, r, answer) in &answers {
                tried += 1;
                prop_assert_eq!(
                    predicted(answer, &t, ev.pod),
                    allowed_by(&ev.explanation, *i, *r),
                    "{} {} for {} through {:?} at {}:\n{}\n{}",
                    answer.policy,
                    answer.field,
                    ev.endpoint,
                    t.address,
                    t.client,
                    answer,
                    v
                );
            }
        }
    }
    Ok((witnessed, tried))
}

proptest! {
    #![proptest_config(config())]

    /// The answer agrees with the engine on every outside flow through the Services.
    #[test]
    fn ipblock_answer_agrees_with_the_engine(
        cluster in cluster(),
        services in services(),
        policies in policies(),
        profile in profiles(),
    ) {
        let resolved: Vec<ResolvedService> = services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        check(&cluster, &table, &policies, &profile)?;
    }
}

/// The generators reach every kind of answer: paths matching no client, some and all,
/// masqueraded or not, and both lint conditions.
#[test]
fn the_generators_reach_every_answer() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (cluster(), services(), policies(), profiles());
    let mut kinds = std::collections::BTreeSet::new();
    let (mut witnessed, mut tried) = (0, 0);
    for _ in 0..200 {
        let (cluster, services, policies, profile) =
            strategy.new_tree(&mut runner).unwrap().current();
        let resolved: Vec<ResolvedService> =
            services.iter().map(|s| s.resolve().unwrap()).collect();
        let table = ServiceTable::build(&cluster, &resolved).unwrap();
        let proxy = ServiceProxy::new(&profile);
        let outside = table.outside(&cluster, &proxy);
        for policy in &policies {
            for r in 0..policy.rules(Direction::Ingress).len() {
                let Ok(a) = outside.ingress_rule(policy, r) else {
                    continue;
                };

                for s in &a.services {
                    if s.refused_when_masqueraded() {
                        kinds.insert("refused when masqueraded".to_owned());
                    }
                    if s.admitted_by_masquerade() {
                        kinds.insert("admitted by masquerade".to_owned());
                    }
                    for p in s.paths() {
                        let masq = matches!(p.source_seen, SourceSeen::Masqueraded { .. });
                        kinds.insert(format!("{} {masq}", p.clients));
                    }
                }
            }
        }
        if witnessed < 1000 {
            let (w, t) = check(&cluster, &table, &policies, &profile).unwrap();
            witnessed += w;
            tried += t;
        }
    }
    let want = [
        "admitted by masquerade",
        "refused when masqueraded",
        "all false",
        "all true",
        "none false",
        "none true",
        "some false",
    ];
    for k in want {
        assert!(kinds.contains(k), "never reached {k}: {kinds:?}");
    }
    assert!(witnessed > 100 && tried > 1000, "{witnessed} {tried}");
}

/// Two nodes with pod subnets (node-2 with a recorded tunnel address), web-1 on node-2,
/// web-2 on no known node; a LoadBalancer Service with source ranges and an external IP.
fn example_cluster() -> (Cluster, ServiceTable) {
    let cluster = Cluster::builder()
        .add_node(
            NodeSpec::new("node-1")
                .ip("192.168.0.11".parse().unwrap())
                .pod_cidr("10.244.1.0/24".parse().unwrap()),
        )
        .add_node(
            NodeSpec::new("node-2")
                .ip("192.168.0.12".parse().unwrap())
                .pod_cidr("10.244.2.0/24".parse().unwrap())
                .tunnel_ip("10.244.2.64".parse().unwrap()),
        )
        .pod(
            PodSpec::new("shop", "web-1")
                .label("app", "web")
                .ip("10.244.2.10".parse().unwrap())
                .node("node-2"),
        )
        .build()
        .unwrap();
    let svc = Service::from_json(
        r#"{"metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
                 "externalIPs": ["203.0.113.20"], "loadBalancerSourceRanges": ["198.51.100.0/25"],
                 "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}"#,
    )
    .unwrap();
    let table = ServiceTable::build(&cluster, &[svc.resolve().unwrap()]).unwrap();
    (cluster, table)
}

fn rule(cidrs: &str) -> Policy {
    let np = netpol::model::NetworkPolicy::from_json(&format!(
        r#"{{"metadata": {{"name": "web", "namespace": "shop"}},
        "spec": {{"podSelector": {{"matchLabels": {{"app": "web"}}}},
                 "ingress": [{{"from": [{cidrs}], "ports": [{{"port": 8080}}]}}]}}}}"#
    ))
    .unwrap();
    Policy::new(&np).unwrap()
}

#[test]
fn source_ranges_narrow_the_clients_of_the_load_balancer_ip_only() {
    let (cluster, table) = example_cluster();
    let outside = table.outside(&cluster, &ServiceProxy::default());
    let a = outside
        .ingress_rule(&rule(r#"{"ipBlock": {"cidr": "198.51.100.0/24"}}"#), 0)
        .unwrap();
    let web = &a.services[0];
    let clients = |address: OutsideAddress| {
        web.entrances
            .iter()
            .find(|e| e.address == address)
            .map(|e| e.clients)
    };
    // Through the load-balancer IP only 198.51.100.0/25 gets in, all of it in the block.
    assert_eq!(
        clients(OutsideAddress::LoadBalancerIp {
            ip: "203.0.113.10".parse().unwrap()
        }),
        Some(ClientMatch::All)
    );
    // The node port and the external IP take every client; the block holds some.
    assert_eq!(
        clients(OutsideAddress::NodePort { node_port: 30080 }),
        Some(ClientMatch::Some)
    );
    assert_eq!(
        clients(OutsideAddress::ExternalIp {
            ip: "203.0.113.20".parse().unwrap()
        }),
        Some(ClientMatch::Some)
    );
    // Received by node-1, every client is masqueraded to node-1's IP.
    assert!(web.refused_when_masqueraded());
    assert_eq!(web.masqueraded, Some(ClientMatch::None));
    let text = a.refused_text(web).unwrap();
    assert!(
        text.contains("received by another node, they arrive masqueraded as 192.168.0.11 (node-1)"),
        "{text}"
    );
}

#[test]
fn cilium_masquerades_to_a_node_no_ipblock_matches() {
    let (cluster, table) = example_cluster();
    let outside = table.outside(&cluster, &ServiceProxy::new(&Profile::cilium()));
    // Even the node network does not admit a masqueraded client under Cilium.
    let a = outside
        .ingress_rule(&rule(r#"{"ipBlock": {"cidr": "192.168.0.0/24"}}"#), 0)
        .unwrap();
    let web = &a.services[0];
    assert_eq!(web.masqueraded, Some(ClientMatch::None));
    assert!(!web.admitted_by_masquerade());
    let m = web.receivers[0].masquerade.as_ref().unwrap();
    assert!(!m.matched);
    assert!(
        matches!(&m.source_seen, SourceSeen::Masqueraded { seen, .. } if seen == "node/node-1")
    );
    // Under calico, node-1 (no tunnel address) masquerades to its IP, which the node
    // network holds: everyone is let in.
    let outside = table.outside(&cluster, &ServiceProxy::new(&Profile::calico()));
    let a = outside
        .ingress_rule(&rule(r#"{"ipBlock": {"cidr": "192.168.0.0/24"}}"#), 0)
        .unwrap();
    assert!(a.services[0].admitted_by_masquerade());
    assert!(
        a.to_string()
            .contains("masquerade address 192.168.0.11 (node-1) (held: every client matches)"),
        "{a}"
    );
    // Local: no masquerade at all, and web-1 serves only what node-2 receives.
    let mut svc = table.service(a.services[0].id).unwrap().clone();
    svc.external_traffic_policy = netpol::service::TrafficPolicy::Local;
    let table = ServiceTable::build(&cluster, &[svc]).unwrap();
    let a = table
        .outside(&cluster, &ServiceProxy::new(&Profile::calico()))
        .ingress_rule(&rule(r#"{"ipBlock": {"cidr": "198.51.100.0/24"}}"#), 0)
        .unwrap();
    let web = &a.services[0];
    assert_eq!(web.masqueraded, None);
    assert!(web.receivers.iter().all(|r| r.masquerade.is_none()));
    assert!(
        web.paths()
            .iter()
            .all(|p| p.receiver.received_by == "node-2")
    );
    assert!(!web.refused_when_masqueraded() && !web.admitted_by_masquerade());
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["services"][0]["externalTrafficPolicy"], "Local");
    assert_eq!(json["services"][0]["entrances"][0]["family"], "IPv4");
}

#[test]
fn rules_without_ipblocks_or_out_of_range_are_refused() {
    let (cluster, table) = example_cluster();
    let outside = table.outside(&cluster, &ServiceProxy::default());
    let p = rule(r#"{"podSelector": {}}"#);
    assert_eq!(
        outside.ingress_rule(&p, 0).unwrap_err().to_string(),
        "spec.ingress[0] of networkpolicy \"shop/web\" has no ipBlock peer"
    );
    assert_eq!(
        outside.ingress_rule(&p, 1).unwrap_err().to_string(),
        "networkpolicy \"shop/web\" has no ingress rule 1"
    );
}
