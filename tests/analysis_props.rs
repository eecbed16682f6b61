//! Property tests: the connectivity map, the semantic diff and exposure, computed over
//! classes of pods and ports, equal brute force: `Engine::decide` on every (pod pair,
//! port, protocol) of small generated clusters, with NetworkPolicies,
//! ClusterNetworkPolicies and Calico's policies under generated profiles.
//!
//! Ports: every port from 1 to 9,100 (every number the generators write, ranges and
//! named ports included, lies there) and a spread of higher ones; `exhaustive_*` tests
//! take every port 1 to 65535 on fewer cases. For a long campaign:
//! `PROPTEST_CASES=10000 cargo test --release --test analysis_props`.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;

use netpol::analysis::{
    Change, ConnectivityMap, FlatChange, FlatEndpoint, PolicyItem, PortClasses, SemanticDiff,
    exposure, impact, impact_live,
};
use netpol::cluster::{Cluster, Endpoint, Flow, PodId};
use netpol::engine::Engine;
use netpol::engine::live::LiveEngine;
use netpol::explain::Verdict;
use netpol::policy::{Direction, PolicyKind, PolicySet, Protocol};
use netpol::profile::Profile;
use proptest::prelude::*;
use support::*;

fn cases(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
        ..ProptestConfig::default()
    }
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(pods, nodes, own_node, self_)| {
                Profile::conformance()
                    .with_name("custom")
                    .with_ipblock_matches_pods(pods)
                    .with_ipblock_matches_nodes(nodes)
                    .with_own_node_exempt(own_node)
                    .with_self_exempt(self_)
            }
        ),
        1 => Just(Profile::cilium()),
        1 => Just(Profile::calico()),
        1 => Just(Profile::flannel()),
    ]
}

fn calico_profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::calico()),
        Just(Profile::canal()),
        any::<bool>().prop_map(|s| Profile::calico()
            .with_name("calico-custom")
            .with_self_exempt(s)),
    ]
}

/// NetworkPolicies and ClusterNetworkPolicies.
fn k8s_set() -> impl Strategy<Value = PolicySet> {
    tiers::policy_set(4, 3)
}

/// Calico policies, network sets and tiers, with a few NetworkPolicies.
fn calico_set() -> impl Strategy<Value = PolicySet> {
    (
        proptest::collection::vec(calico::normalised_policy(), 0..4),
        proptest::collection::vec(calico::network_set(), 0..2),
        proptest::collection::vec(calico::tier(), 0..2),
        written_policies(2),
    )
        .prop_map(|(policies, sets, tiers, np)| {
            let mut set: PolicySet = accept(&np).into_iter().collect();
            let mut names = BTreeSet::new();
            for p in policies {
                if names.insert((p.kind(), p.key())) {
                    set.push(p);
                }
            }
            let mut names = BTreeSet::new();
            for s in sets {
                if names.insert(s.key()) {
                    set.push(s);
                }
            }
            let mut names = BTreeSet::new();
            for t in tiers {
                if names.insert(t.name().to_owned()) {
                    set.push(t);
                }
            }
            set
        })
}

/// The ports brute force visits.
fn probe_ports(exhaustive: bool) -> Vec<u16> {
    if exhaustive {
        return (1..=u16::MAX).collect();
    }
    let mut v: Vec<u16> = (1..=9100).collect();
    v.extend((9101..=u16::MAX).step_by(991));
    v.push(u16::MAX);
    v
}

fn pods(cluster: &Cluster) -> Vec<PodId> {
    cluster.pod_ids().collect()
}

fn decide(engine: &Engine, p: PodId, q: PodId, port: u16, proto: Protocol) -> bool {
    engine
        .decide(Flow::new(Endpoint::Pod(p), Endpoint::Pod(q), port, proto))
        .is_allowed()
}

/// The map equals `decide` on every pair of different pods and every probed port.
fn check_map(
    cluster: &Cluster,
    set: &PolicySet,
    profile: Profile,
    ports: &[u16],
) -> Result<(), TestCaseError> {
    let engine = Engine::builder().profile(profile).build(cluster, set);
    let map = ConnectivityMap::new(&engine, set);
    for p in pods(cluster) {
        prop_assert!(map.between_pods(p, p).is_none());
        for q in pods(cluster) {
            if p == q {
                continue;
            }
            let got = map.between_pods(p, q).unwrap();
            let w = (
                map.classes().workload_of(p).unwrap(),
                map.classes().workload_of(q).unwrap(),
            );
            prop_assert_eq!(got, map.between(w.0, w.1));
            for proto in Protocol::ALL {
                for &port in ports {
                    let want = decide(&engine, p, q, port, proto);
                    prop_assert_eq!(
                        got.contains(proto, port),
                        want,
                        "{} -> {} {}/{}: map says {}",
                        cluster.describe(Endpoint::Pod(p)),
                        cluster.describe(Endpoint::Pod(q)),
                        port,
                        proto,
                        got
                    );
                }
            }
        }
    }
    // Every connection listed holds some port; pairs of one pod with itself are absent.
    for c in map.connections() {
        prop_assert!(!map.ports(c).is_empty());
    }
    Ok(())
}

/// The diff equals comparing `decide` with both sets on every pair of pods (a pod with
/// itself included) and every probed port; the flat flows equal the brute-force list.
fn check_diff(
    cluster: &Cluster,
    before: &PolicySet,
    after: &PolicySet,
    profile: Profile,
    ports: &[u16],
) -> Result<(), TestCaseError> {
    let a = Engine::builder()
        .profile(profile.clone())
        .build(cluster, before);
    let b = Engine::builder().profile(profile).build(cluster, after);
    let diff = SemanticDiff::new(&a, before, &b, after).unwrap();
    let mut any = false;
    for p in pods(cluster) {
        for q in pods(cluster) {
            let change = diff.change(p, q);
            for proto in Protocol::ALL {
                for &port in ports {
                    let (x, y) = (decide(&a, p, q, port, proto), decide(&b, p, q, port, proto));
                    any |= x != y;
                    let (removed, added) = match change {
                        Some((r, d)) => (r.contains(proto, port), d.contains(proto, port)),
                        None => (false, false),
                    };
                    prop_assert_eq!(
                        (removed, added),
                        (x && !y, !x && y),
                        "{} -> {} {}/{}",
                        cluster.describe(Endpoint::Pod(p)),
                        cluster.describe(Endpoint::Pod(q)),
                        port,
                        proto
                    );
                }
            }
        }
    }
    if any {
        prop_assert!(!diff.is_equivalent());
    }
    // Every entry's workloads and ports agree with the per-pair changes.
    for e in diff.entries() {
        prop_assert!(!(e.removed.is_empty() && e.added.is_empty()));
        for from in &e.from {
            for to in &e.to {
                if e.to_itself && from != to {
                    continue;
                }
                let ws = diff.classes();
                for &p in ws.workload(*from).unwrap().pod_ids() {
                    for &q in ws.workload(*to).unwrap().pod_ids() {
                        if (p == q) != e.to_itself {
                            continue;
                        }
                        let (r, d) = diff.change(p, q).unwrap();
                        prop_assert_eq!((r, d), (&e.removed, &e.added));
                    }
                }
            }
        }
    }
    // Flat mode, on a few ports, with outside addresses.
    let flat_ports: Vec<(u16, Protocol)> = [53u16, 80, 81, 200, 8080]
        .into_iter()
        .flat_map(|p| Protocol::ALL.map(|proto| (p, proto)))
        .collect();
    let ips: Vec<IpAddr> = EXTERNAL.iter().map(|s| s.parse().unwrap()).collect();
    let got: BTreeSet<String> = diff
        .flows(&flat_ports, &ips)
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    let mut want = BTreeSet::new();
    let name = |e: Endpoint| match e {
        Endpoint::External(ip) => FlatEndpoint::Ip { ip },
        e => FlatEndpoint::Pod(cluster.describe(e)),
    };
    let mut endpoints: Vec<Endpoint> = pods(cluster).into_iter().map(Endpoint::Pod).collect();
    endpoints.extend(ips.iter().map(|ip| Endpoint::External(*ip)));
    for &s in &endpoints {
        for &d in &endpoints {
            if matches!(s, Endpoint::External(_)) && matches!(d, Endpoint::External(_)) {
                continue;
            }
            for &(port, proto) in &flat_ports {
                let f = Flow::new(s, d, port, proto);
                let (x, y) = (a.decide(f), b.decide(f));
                if x != y {
                    want.insert(
                        serde_json::to_string(&FlatChange {
                            from: name(s),
                            to: name(d),
                            port,
                            protocol: proto,
                            before: x,
                            after: y,
                        })
                        .unwrap(),
                    );
                }
            }
        }
    }
    prop_assert_eq!(got, want);
    Ok(())
}

/// Exposure equals brute force: isolation, the pods reaching (reached), and the outside
/// addresses of the generators on the probed ports.
fn check_exposure(
    cluster: &Cluster,
    set: &PolicySet,
    profile: Profile,
    ports: &[u16],
) -> Result<(), TestCaseError> {
    let engine = Engine::builder().profile(profile).build(cluster, set);
    let report = exposure(&engine, set);
    let map = ConnectivityMap::new(&engine, set);
    let all = pods(cluster);
    for (w, e) in map.classes().workloads().iter().zip(&report) {
        prop_assert_eq!(&e.workload, &w.to_string());
        let p = w.pod_ids()[0];
        for (side, inbound) in [(&e.ingress, true), (&e.egress, false)] {
            let mut reached = 0;
            let mut every: Option<netpol::analysis::Ports> = None;
            for &q in &all {
                if q == p {
                    continue;
                }
                let ports_ = if inbound {
                    map.between_pods(q, p).unwrap()
                } else {
                    map.between_pods(p, q).unwrap()
                };
                if !ports_.is_empty() {
                    reached += 1;
                }
                every = Some(match every {
                    None => ports_.clone(),
                    Some(x) => x.intersection(ports_),
                });
            }
            prop_assert_eq!(side.pods, reached);
            prop_assert_eq!(side.every_pod, reached == all.len() - 1 && reached > 0);
            if side.every_pod {
                prop_assert_eq!(&side.open_to_every_pod, &every.unwrap());
            } else {
                prop_assert!(side.open_to_every_pod.is_empty());
            }
            let pod = cluster.pod(p).unwrap();
            let families: BTreeSet<bool> = pod.ips.iter().map(IpAddr::is_ipv6).collect();
            for ip in EXTERNAL {
                let ip: IpAddr = ip.parse().unwrap();
                if !families.is_empty() && !families.contains(&ip.is_ipv6()) {
                    continue;
                }
                let reach: Vec<&netpol::analysis::OutsideReach> = side
                    .outside
                    .iter()
                    .filter(|r| r.cidrs.iter().any(|c| c.contains(&ip)))
                    .collect();
                prop_assert!(reach.len() <= 1, "{} in several groups", ip);
                for proto in Protocol::ALL {
                    for &port in ports.iter().step_by(7) {
                        let f = if inbound {
                            Flow::new(Endpoint::External(ip), Endpoint::Pod(p), port, proto)
                        } else {
                            Flow::new(Endpoint::Pod(p), Endpoint::External(ip), port, proto)
                        };
                        let want = engine.decide(f).is_allowed();
                        let got = reach.first().is_some_and(|r| r.ports.contains(proto, port));
                        prop_assert_eq!(got, want, "{} {} {}/{}", e.workload, ip, port, proto);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn map_equals_brute_force(cluster in cluster(), set in k8s_set(), profile in profiles()) {
        check_map(&cluster, &set, profile, &probe_ports(false))?;
    }

    #[test]
    fn map_equals_brute_force_calico(cluster in cluster(), set in calico_set(), profile in calico_profiles()) {
        check_map(&cluster, &set, profile, &probe_ports(false))?;
    }

    #[test]
    fn diff_equals_brute_force(
        cluster in cluster(),
        common in written_policies(3),
        a in tiers::policy_set(2, 2),
        b in tiers::policy_set(2, 2),
        extra in written_policy(9),
        profile in profiles(),
    ) {
        // `a` and `b` share policy names (p0, p1, c0, c1): same name, other content.
        let mut before: PolicySet = accept(&common).into_iter().collect();
        let mut after = before.clone();
        before.extend(a.network_policies().iter().cloned());
        before.extend(a.cluster_policies().iter().cloned());
        after.extend(b.network_policies().iter().cloned());
        after.extend(b.cluster_policies().iter().cloned());
        after.extend(accept(&[extra]));
        check_diff(&cluster, &before, &after, profile, &probe_ports(false))?;
    }

    #[test]
    fn diff_equals_brute_force_calico(cluster in cluster(), a in calico_set(), b in calico_set(), profile in calico_profiles()) {
        check_diff(&cluster, &a, &b, profile, &probe_ports(false))?;
    }

    #[test]
    fn a_set_equals_itself(cluster in cluster(), set in k8s_set(), profile in profiles()) {
        let engine = Engine::builder().profile(profile).build(&cluster, &set);
        let copy = Engine::builder().profile(engine.profile().clone()).build(&cluster, &set);
        let diff = SemanticDiff::new(&engine, &set, &copy, &set).unwrap();
        prop_assert!(diff.is_equivalent());
        prop_assert!(diff.entries().is_empty());
    }

    #[test]
    fn impact_equals_the_diff_to_the_changed_set(cluster in cluster(), set in k8s_set(), new in written_policy(0), delete in any::<bool>(), profile in profiles()) {
        let engine = Engine::builder().profile(profile.clone()).build(&cluster, &set);
        let change = match set.network_policies().first() {
            Some(p) if delete => Change::Delete {
                kind: PolicyKind::NetworkPolicy,
                namespace: Some(p.namespace().to_owned()),
                name: p.name().to_owned(),
            },
            _ => Change::Apply(PolicyItem::from(accept(&[new]).remove(0))),
        };
        let after = change.apply_to(&set).unwrap();
        let got = impact(&engine, &set, &change).unwrap();
        let want = SemanticDiff::new(&engine, &set, &Engine::builder().profile(profile.clone()).build(&cluster, &after), &after).unwrap();
        prop_assert_eq!(got.entries(), want.entries());
        // The same through a live engine, whose update is incremental where it can be.
        let live = LiveEngine::new(&cluster, set.clone(), profile.clone());
        let (live_diff, live_after) = impact_live(&live, &change).unwrap();
        prop_assert_eq!(live_diff.entries(), want.entries());
        prop_assert_eq!(live_after.policies().len(), after.len());
        check_diff(&cluster, &set, &after, profile, &probe_ports(false))?;
        // Deleting is applying nothing: the set loses one object.
        if let Change::Delete { .. } = change {
            prop_assert_eq!(after.len() + 1, set.len());
        }
    }

    #[test]
    fn exposure_equals_brute_force(cluster in cluster(), set in k8s_set(), profile in profiles()) {
        check_exposure(&cluster, &set, profile, &probe_ports(false))?;
    }

    #[test]
    fn exposure_equals_brute_force_calico(cluster in cluster(), set in calico_set(), profile in calico_profiles()) {
        check_exposure(&cluster, &set, profile, &probe_ports(false))?;
    }
}

proptest! {
    #![proptest_config(cases(48))]

    /// Every flow between pods has one verdict across each port class: checked at the
    /// first, a middle and the last port of every interval, for every protocol.
    #[test]
    fn port_classes_cut_where_verdicts_may_change(cluster in cluster(), set in prop_oneof![k8s_set(), calico_set()], profile in prop_oneof![profiles(), calico_profiles()]) {
        let engine = Engine::builder().profile(profile).build(&cluster, &set);
        let classes = PortClasses::new(&cluster, &set);
        for p in pods(&cluster) {
            for q in pods(&cluster) {
                for proto in Protocol::ALL {
                    let mut count = 0;
                    for (lo, hi) in classes.intervals(proto) {
                        let v = decide(&engine, p, q, lo, proto);
                        prop_assert_eq!(classes.class_of(proto, lo), count);
                        prop_assert_eq!(classes.class_of(proto, hi), count);
                        for port in [lo + (hi - lo) / 2, hi] {
                            prop_assert_eq!(decide(&engine, p, q, port, proto), v, "{}..{} {}", lo, hi, port);
                        }
                        count += 1;
                    }
                    prop_assert_eq!(count, classes.len(proto));
                }
            }
        }
    }

    /// `decide` allows a flow exactly when both of its sides do.
    #[test]
    fn decide_is_both_directions(cluster in cluster(), set in prop_oneof![k8s_set(), calico_set()], profile in prop_oneof![profiles(), calico_profiles()]) {
        let engine = Engine::builder().profile(profile).build(&cluster, &set);
        for flow in all_flows(&cluster) {
            let sides = engine.decide_direction(flow, Direction::Egress).is_allowed()
                && engine.decide_direction(flow, Direction::Ingress).is_allowed();
            prop_assert_eq!(engine.decide(flow).is_allowed(), sides, "{}", cluster.describe_flow(flow));
        }
    }
}

proptest! {
    #![proptest_config(cases(4))]

    #[test]
    fn exhaustive_map_equals_brute_force(cluster in cluster(), set in k8s_set(), profile in profiles()) {
        check_map(&cluster, &set, profile, &probe_ports(true))?;
    }

    #[test]
    fn exhaustive_diff_equals_brute_force(cluster in cluster(), a in k8s_set(), b in k8s_set(), profile in profiles()) {
        check_diff(&cluster, &a, &b, profile, &probe_ports(true))?;
    }
}

/// A verdict pair for the flat format.
#[test]
fn flat_changes_print_as_the_issue_writes_them() {
    let c = FlatChange {
        from: FlatEndpoint::Ip {
            ip: "203.0.113.7".parse().unwrap(),
        },
        to: FlatEndpoint::Pod("x/a".into()),
        port: 80,
        protocol: Protocol::Tcp,
        before: Verdict::Deny,
        after: Verdict::Allow,
    };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"from":{"ip":"203.0.113.7"},"to":"x/a","port":80,"protocol":"TCP","before":"deny","after":"allow"}"#
    );
}

/// Labels and selectors using the keys of Calico's label view (`projectcalico.org/...`,
/// `pcns.`), which the analyses treat apart under Felix's semantics: the map and the
/// diff still equal brute force, with and without Felix.
#[test]
fn felix_label_view_edge_cases_equal_brute_force() {
    use netpol::cluster::PodSpec;
    use netpol::model::decode_policies;
    use netpol::policy::Policy;
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .pod(
            PodSpec::new("a", "plain")
                .label("app", "web")
                .ip("10.0.0.1".parse().unwrap()),
        )
        .pod(
            PodSpec::new("b", "shadow")
                .label("app", "web")
                .label("pcns.team", "x")
                .ip("10.0.0.2".parse().unwrap()),
        )
        .pod(
            PodSpec::new("b", "claims")
                .label("projectcalico.org/namespace", "a")
                .ip("10.0.0.3".parse().unwrap()),
        )
        .pod(PodSpec::new("b", "other").ip("10.0.0.5".parse().unwrap()))
        .build()
        .unwrap();
    let written = decode_policies(
        r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
          "metadata": {"name": "from-team-x", "namespace": "b"},
          "spec": {"podSelector": {},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]},
                               {"from": [{"podSelector": {"matchLabels": {"projectcalico.org/namespace": "a"}}}],
                                "ports": [{"port": 80}]}]}}"#,
    )
    .unwrap();
    let policies: Vec<Policy> = written.iter().map(|p| Policy::new(p).unwrap()).collect();
    let set: PolicySet = policies.into_iter().collect();
    for profile in [Profile::calico(), Profile::conformance()] {
        check_map(&cluster, &set, profile.clone(), &probe_ports(false)).unwrap();
        check_diff(
            &cluster,
            &PolicySet::new(),
            &set,
            profile,
            &probe_ports(false),
        )
        .unwrap();
    }
}
