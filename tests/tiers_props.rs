//! Property tests for the tiered engine: NetworkPolicy and ClusterNetworkPolicy together.
//! The compiled engine equals the reference evaluator on every flow (decide, explain and
//! matrices), and both obey the laws of the tiers.
//!
//! For a long campaign: `PROPTEST_CASES=100000 cargo test --release --test tiers_props`.

mod support;

use netpol::cluster::{Cluster, Endpoint};
use netpol::engine::Engine;
use netpol::explain::Special;
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, Direction, PolicySet, Protocol,
    Subject,
};
use netpol::profile::Profile;
use netpol::reference::Reference;
use netpol::selector::Selector;
use proptest::prelude::*;
use support::tiers::*;
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
    (any::<[bool; 7]>()).prop_map(|b| {
        Profile::conformance()
            .with_name("custom")
            .with_network_policy(b[0] || b[1])
            .with_cluster_network_policy(b[1] || b[2])
            .with_ipblock_matches_pods(b[2])
            .with_ipblock_matches_nodes(b[3])
            .with_own_node_exempt(b[4])
            .with_pod_to_own_node_exempt(b[5])
            .with_self_exempt(b[6])
    })
}

/// A set with every ClusterNetworkPolicy of `set` and `extra` added.
fn with(set: &PolicySet, extra: ClusterPolicy) -> PolicySet {
    let mut out = set.clone();
    out.push(extra);
    out
}

fn everyone() -> Subject {
    Subject::Namespaces(Selector::everything())
}

proptest! {
    #![proptest_config(config())]

    /// decide and explain of the engine equal the reference's on every flow, domains
    /// included, under any profile.
    #[test]
    fn engine_equals_reference(cluster in cluster(), set in policy_set(3, 4), profile in profiles()) {
        let engine = Engine::builder().profile(profile.clone()).build(&cluster, &set);
        let reference = Reference::new(&cluster, &set, profile);
        for flow in all_flows_with_domains(&cluster) {
            let want = reference.explain(flow);
            prop_assert_eq!(reference.decide(flow), want.verdict, "reference decide vs explain on {}", want.flow);
            prop_assert_eq!(engine.decide(flow), want.verdict, "decide on {}", want.flow);
            prop_assert_eq!(engine.explain(flow), want);
        }
    }

    /// The matrix equals decide on every pair, on every port asked.
    #[test]
    fn matrix_equals_decide(cluster in cluster(), set in policy_set(3, 4), port in prop::sample::select(vec![53u16, 80, 81]), proto in prop::sample::select(Protocol::ALL.to_vec())) {
        let engine = Engine::build(&cluster, &set);
        let eps = endpoints(&cluster);
        let m = engine.matrix(&eps, &eps, port, proto);
        for (i, s) in eps.iter().enumerate() {
            for (j, d) in eps.iter().enumerate() {
                let flow = netpol::cluster::Flow::new(*s, *d, port, proto);
                prop_assert_eq!(m.get(i, j), Some(engine.decide(flow)));
            }
        }
    }

    /// A ClusterNetworkPolicy without rules changes nothing.
    #[test]
    fn policy_without_rules_changes_nothing(cluster in cluster(), set in policy_set(3, 3), tier in prop_oneof![Just(ClusterTier::Admin), Just(ClusterTier::Baseline)], priority in 0..3u32) {
        let before = Engine::build(&cluster, &set);
        let after = Engine::build(&cluster, &with(&set, ClusterPolicy::builder("zz-empty", tier, priority, everyone()).build()));
        for flow in all_flows_with_domains(&cluster) {
            prop_assert_eq!(before.decide(flow), after.decide(flow), "{}", flow);
        }
    }

    /// An Admin Deny of every peer beats any NetworkPolicy allow: with it at the highest
    /// precedence, every flow into a pod is denied, but for self traffic.
    #[test]
    fn admin_deny_beats_network_policy(cluster in cluster(), set in policy_set(4, 0)) {
        let deny_all = ClusterRule::new(Action::Deny, vec![
            ClusterPeer::Namespaces(Selector::everything()),
            ClusterPeer::Networks(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]),
        ]);
        let engine = Engine::build(&cluster, &with(&set, ClusterPolicy::builder("deny-in", ClusterTier::Admin, 0, everyone()).ingress(deny_all).build()));
        for flow in all_flows(&cluster) {
            let Endpoint::Pod(_) = flow.dst else { continue };
            if engine.explain(flow).special == Some(Special::SelfTraffic) { continue; }
            // Addressless sources match no network: only pods are always peers.
            let src_has_address = cluster.address(flow, flow.src).is_some();
            if matches!(flow.src, Endpoint::Pod(_)) || src_has_address {
                prop_assert!(!engine.decide(flow).is_allowed(), "{}", cluster.describe_flow(flow));
            }
        }
    }

    /// Baseline only matters where no NetworkPolicy isolates: for flows whose pod sides are
    /// all isolated by NetworkPolicy in their direction, dropping every Baseline policy
    /// changes nothing.
    #[test]
    fn baseline_only_where_no_network_policy_isolates(cluster in cluster(), set in policy_set(4, 4)) {
        let mut without = PolicySet::new();
        without.extend(set.network_policies().iter().cloned());
        without.extend(set.cluster_policies().iter().filter(|p| p.tier() == ClusterTier::Admin).cloned());
        let a = Engine::build(&cluster, &set);
        let b = Engine::build(&cluster, &without);
        for flow in all_flows_with_domains(&cluster) {
            let why = a.explain(flow);
            let isolated = |side: &netpol::explain::SideExplanation| !side.is_pod || side.isolated;
            if why.special.is_none() && isolated(&why.egress) && isolated(&why.ingress) {
                prop_assert_eq!(a.decide(flow), b.decide(flow), "{}", why.flow);
            }
        }
    }

    /// A policy of Pass rules only, placed after every other policy of its tier, changes
    /// nothing: passing to the next tier is what reaching the end of the tier does.
    #[test]
    fn trailing_pass_changes_nothing(cluster in cluster(), set in policy_set(3, 4), tier in prop_oneof![Just(ClusterTier::Admin), Just(ClusterTier::Baseline)]) {
        let pass = || ClusterRule::new(Action::Pass, vec![
            ClusterPeer::Namespaces(Selector::everything()),
            ClusterPeer::Networks(vec!["0.0.0.0/0".parse().unwrap()]),
        ]);
        let extra = ClusterPolicy::builder("zzz-pass", tier, 1000, everyone()).ingress(pass()).egress(pass()).build();
        let before = Engine::build(&cluster, &set);
        let after = Engine::build(&cluster, &with(&set, extra));
        for flow in all_flows_with_domains(&cluster) {
            prop_assert_eq!(before.decide(flow), after.decide(flow), "{}", flow);
        }
    }

    /// A Pass before a rule hides that rule: an Admin policy that passes everything at
    /// the highest precedence makes the whole Admin tier as if absent.
    #[test]
    fn leading_pass_hides_the_admin_tier(cluster in cluster(), set in policy_set(3, 4)) {
        let pass = || ClusterRule::new(Action::Pass, vec![
            ClusterPeer::Namespaces(Selector::everything()),
            ClusterPeer::Nodes(Selector::everything()),
            ClusterPeer::Networks(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]),
        ]);
        let first = ClusterPolicy::builder("!first", ClusterTier::Admin, 0, everyone()).ingress(pass()).egress(pass()).build();
        let mut no_admin = PolicySet::new();
        no_admin.extend(set.network_policies().iter().cloned());
        no_admin.extend(set.cluster_policies().iter().filter(|p| p.tier() == ClusterTier::Baseline).cloned());
        let passing = Engine::build(&cluster, &with(&set, first));
        let absent = Engine::build(&cluster, &no_admin);
        for flow in all_flows(&cluster) {
            // Outside addresses resolved from a name only match domain peers, which the
            // pass-everything policy does not list; skip nothing else.
            prop_assert_eq!(passing.decide(flow), absent.decide(flow), "{}", flow);
        }
    }

    /// Ids of another cluster are refused by both evaluators: never allowed.
    #[test]
    fn foreign_ids_are_denied(cluster in cluster(), set in policy_set(3, 3)) {
        let other = cluster.to_builder().build().unwrap();
        let engine = Engine::build(&other, &set);
        let reference = Reference::new(&other, &set, Profile::default());
        for flow in all_flows(&cluster) {
            let foreign = matches!(flow.src, Endpoint::Pod(_) | Endpoint::Node(_))
                || matches!(flow.dst, Endpoint::Pod(_) | Endpoint::Node(_));
            if foreign {
                prop_assert!(!engine.decide(flow).is_allowed());
                prop_assert!(!reference.decide(flow).is_allowed());
                prop_assert!(engine.try_decide(flow).is_err());
                prop_assert_eq!(engine.explain(flow).special, Some(Special::UnknownEndpoint));
            }
        }
    }
}

/// Ingress rules of a direction the policy has no rules for are never read: a policy with
/// egress rules only does not select pods for ingress.
#[test]
fn a_policy_affects_only_directions_it_has_rules_for() {
    let cluster = Cluster::builder()
        .pod(netpol::cluster::PodSpec::new("x", "a").ip("10.0.0.1".parse().unwrap()))
        .pod(netpol::cluster::PodSpec::new("x", "b").ip("10.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let deny = ClusterRule::new(
        Action::Deny,
        vec![ClusterPeer::Namespaces(Selector::everything())],
    );
    let set: PolicySet = [
        ClusterPolicy::builder("egress-only", ClusterTier::Admin, 0, everyone())
            .egress(deny)
            .build(),
    ]
    .into_iter()
    .collect();
    let engine = Engine::build(&cluster, &set);
    let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    let b = Endpoint::Pod(cluster.pod_id("x", "b").unwrap());
    let why = engine.explain(netpol::cluster::Flow::new(a, b, 80, Protocol::Tcp));
    assert!(!why.verdict.is_allowed());
    assert!(why.ingress.policies.is_empty());
    assert_eq!(why.egress.policies[0].to_string(), "cnp/egress-only");
    assert_eq!(
        why.egress.to_string(),
        "egress at x/a: Admin tier, cnp/egress-only spec.egress[0]: Deny"
    );
    let _ = Direction::Ingress;
}
