//! Property tests for Calico's policies under Felix: on random clusters (labels, service
//! accounts, named ports, nodes, IPv4 and IPv6) holding every policy kind together
//! (Calico NetworkPolicy and GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet and Tier,
//! Kubernetes NetworkPolicy, ClusterNetworkPolicy), the compiled engine gives the same
//! verdict and the same explanation as the reference evaluator on every flow: pod to
//! pod, to and from nodes, to and from outside addresses inside and outside the network
//! sets, and through a Service (hairpin included), under `calico`, `canal` and a profile
//! without Felix.
//!
//! For a long campaign: `PROPTEST_CASES=20000 cargo test --release --test calico_engine_props`.

mod support;

use netpol::cluster::{Cluster, Endpoint, Flow};
use netpol::engine::Engine;
use netpol::explain::{Decision, Explanation, TierRef};
use netpol::model::{
    LabelSelector, LabelSelectorRequirement, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer,
};
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, Policy, PolicySet, Protocol,
    Subject,
};
use netpol::profile::Profile;
use netpol::reference::Reference;
use netpol::selector::Selector;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use support::calico::{felix_cluster, felix_policy_set};
use support::{NAMESPACES, endpoints, pick};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(24),
        ..ProptestConfig::default()
    }
}

/// Every flow between the endpoints on the ports pods name, and every pod-to-pod flow
/// again through a Service (a pod reaching itself so is the hairpin case). Left out:
/// flows a packet cannot make, where a pod or node has no address of the flow's family
/// (an IPv4-only pod and an IPv6 outside address): Felix never sees them, and the engine
/// and the reference read their family differently (the pod's, the flow's).
fn flows(cluster: &Cluster) -> Vec<Flow<'static>> {
    let eps = endpoints(cluster);
    let mut out = Vec::new();
    for &src in &eps {
        for &dst in &eps {
            let probe = Flow::new(src, dst, 80, Protocol::Tcp);
            let addressed = |e: Endpoint| {
                matches!(e, Endpoint::External(_)) || cluster.address(probe, e).is_some()
            };
            if !addressed(src) || !addressed(dst) {
                continue;
            }
            for port in [53u16, 80, 81] {
                for proto in Protocol::ALL {
                    out.push(Flow::new(src, dst, port, proto));
                    if matches!((src, dst), (Endpoint::Pod(_), Endpoint::Pod(_))) {
                        out.push(Flow::new(src, dst, port, proto).through_service());
                    }
                }
            }
        }
    }
    out
}

/// The engine's answers equal the reference's on every flow; returns the reference's
/// explanations.
fn same_answers(
    cluster: &Cluster,
    set: &PolicySet,
    profile: &Profile,
) -> Result<Vec<Explanation>, TestCaseError> {
    let engine = Engine::builder()
        .profile(profile.clone())
        .build(cluster, set);
    let reference = Reference::new(cluster, set, profile.clone());
    let mut out = Vec::new();
    for flow in flows(cluster) {
        let want = reference.explain(flow);
        prop_assert_eq!(
            reference.decide(flow),
            want.verdict,
            "reference decide vs explain on {}",
            want.flow
        );
        prop_assert_eq!(engine.decide(flow), want.verdict, "decide on {}", want.flow);
        prop_assert_eq!(
            engine.explain(flow),
            want.clone(),
            "explain on {}",
            want.flow
        );
        out.push(want);
    }
    Ok(out)
}

/// Label keys for selectors over Felix's view of pods: keys pods carry as they are, keys
/// Calico answers from the pod's namespace, orchestrator or service account
/// (`projectcalico.org/`, `pcsa.`), and keys under `pcns.` (which a pod's own label of
/// that key answers first; as a namespace selector's key, read under `pcns.` again).
const FELIX_SELECTOR_KEYS: &[&str] = &[
    "app",
    "tier",
    "kubernetes.io/metadata.name",
    "projectcalico.org/name",
    "projectcalico.org/namespace",
    "projectcalico.org/serviceaccount",
    "projectcalico.org/orchestrator",
    "pcsa.projectcalico.org/name",
    "pcns.app",
    "pcns.tier",
];
const FELIX_SELECTOR_VALUES: &[&str] = &["x", "y", "a", "b", "api", "web", "k8s"];

/// A selector of up to three requirements on [`FELIX_SELECTOR_KEYS`], with every operator
/// (`NotIn` and `DoesNotExist` match pods lacking the key).
fn felix_selector() -> impl Strategy<Value = LabelSelector> {
    prop::collection::vec(
        (
            pick(FELIX_SELECTOR_KEYS),
            0..4usize,
            prop::collection::vec(pick(FELIX_SELECTOR_VALUES), 1..3),
        ),
        0..3,
    )
    .prop_map(|reqs| LabelSelector {
        match_labels: None,
        match_expressions: Some(
            reqs.into_iter()
                .map(|(key, op, values)| match op {
                    0 => LabelSelectorRequirement::new(key, "In", values),
                    1 => LabelSelectorRequirement::new(key, "NotIn", values),
                    2 => LabelSelectorRequirement::new(key, "Exists", Vec::<String>::new()),
                    _ => LabelSelectorRequirement::new(key, "DoesNotExist", Vec::<String>::new()),
                })
                .collect(),
        ),
    })
}

fn felix_compiled() -> impl Strategy<Value = Selector> {
    felix_selector().prop_map(|s| Selector::new(&s).expect("generated selectors are valid"))
}

/// A NetworkPolicy `p{index}` whose pod selector and peers use [`felix_selector`].
fn felix_keyed_network_policy(index: usize) -> impl Strategy<Value = Policy> {
    let peer = (option::of(felix_selector()), option::of(felix_selector()))
        .prop_map(|(namespace_selector, pod_selector)| NetworkPolicyPeer {
            namespace_selector,
            pod_selector: pod_selector.or(Some(LabelSelector::default())),
            ..Default::default()
        })
        .boxed();
    (
        pick(NAMESPACES),
        felix_selector(),
        prop::collection::vec(peer.clone(), 0..3),
        prop::collection::vec(peer, 0..3),
    )
        .prop_map(move |(ns, pod_selector, from, to)| {
            let mut w = NetworkPolicy::new(ns, format!("p{index}"));
            w.spec.pod_selector = Some(pod_selector);
            w.spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
            w.spec.ingress = Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: None,
            }]);
            w.spec.egress = Some(vec![NetworkPolicyEgressRule {
                to: Some(to),
                ports: None,
            }]);
            Policy::new(&w).expect("generated policies are valid")
        })
}

/// A ClusterNetworkPolicy `k{index}` whose subject and peers use [`felix_selector`].
fn felix_keyed_cluster_policy(index: usize) -> impl Strategy<Value = ClusterPolicy> {
    let peer = prop_oneof![
        felix_compiled().prop_map(ClusterPeer::Namespaces),
        (felix_compiled(), felix_compiled())
            .prop_map(|(namespaces, pods)| ClusterPeer::Pods { namespaces, pods }),
    ];
    let rule = (
        prop_oneof![Just(Action::Allow), Just(Action::Deny), Just(Action::Pass)],
        prop::collection::vec(peer, 1..3),
    )
        .prop_map(|(a, peers)| ClusterRule::new(a, peers))
        .boxed();
    (
        prop_oneof![Just(ClusterTier::Admin), Just(ClusterTier::Baseline)],
        0..3u32,
        prop_oneof![
            felix_compiled().prop_map(Subject::Namespaces),
            (felix_compiled(), felix_compiled())
                .prop_map(|(namespaces, pods)| Subject::Pods { namespaces, pods }),
        ],
        prop::collection::vec(rule.clone(), 0..3),
        prop::collection::vec(rule, 0..3),
    )
        .prop_map(move |(tier, priority, subject, ingress, egress)| {
            support::tiers::assemble(
                format!("k{index}"),
                tier,
                priority,
                subject,
                ingress,
                egress,
            )
        })
}

/// NetworkPolicies and ClusterNetworkPolicies whose selectors read [`FELIX_SELECTOR_KEYS`].
fn felix_keyed_policy_set() -> impl Strategy<Value = PolicySet> {
    (
        (0..=3usize).prop_flat_map(|n| (0..n).map(felix_keyed_network_policy).collect::<Vec<_>>()),
        (0..=3usize).prop_flat_map(|n| (0..n).map(felix_keyed_cluster_policy).collect::<Vec<_>>()),
    )
        .prop_map(|(np, cnp)| {
            let mut set = PolicySet::new();
            let mut keys: Vec<(String, String)> = Vec::new();
            for p in np {
                let key = (p.namespace().to_owned(), p.name().to_owned());
                if !keys.contains(&key) {
                    keys.push(key);
                    set.push(p);
                }
            }
            set.extend(cnp);
            set
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_equals_reference_under_calico(cluster in felix_cluster(), set in felix_policy_set()) {
        same_answers(&cluster, &set, &Profile::calico())?;
    }

    #[test]
    fn engine_equals_reference_under_canal(cluster in felix_cluster(), set in felix_policy_set()) {
        same_answers(&cluster, &set, &Profile::canal())?;
    }

    /// Selectors on keys Calico answers from the namespace, its labels or the service
    /// account, on `pcns.` keys pods may carry themselves, with every operator, over
    /// namespaces with and without labels: the build selects subjects and peers as
    /// Felix does.
    #[test]
    fn engine_equals_reference_on_felix_keys(
        cluster in felix_cluster(),
        set in felix_keyed_policy_set(),
        canal in any::<bool>(),
    ) {
        let profile = if canal { Profile::canal() } else { Profile::calico() };
        same_answers(&cluster, &set, &profile)?;
    }

    /// Without Felix, Calico's kinds take no part and are reported as ignored.
    #[test]
    fn engine_equals_reference_without_felix(cluster in felix_cluster(), set in felix_policy_set()) {
        same_answers(&cluster, &set, &Profile::conformance())?;
    }
}

/// The generators reach what the properties are about: over a fixed run, some flows are
/// decided by Calico rules of each action, by a Calico tier's default, by a
/// ClusterNetworkPolicy converted by Calico, with Pass and Log steps, undecidable rules,
/// and (without Felix) ignored Calico policies.
#[test]
fn generators_cover_the_walk() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = (felix_cluster(), felix_policy_set());
    let mut seen = [0usize; 8];
    for _ in 0..40 {
        let (cluster, set) = strategy.new_tree(&mut runner).expect("generated").current();
        let reference = Reference::new(&cluster, &set, Profile::calico());
        for flow in flows(&cluster) {
            let e = reference.explain(flow);
            for side in [&e.egress, &e.ingress] {
                match &side.decision {
                    Decision::Rule { rule, action, .. } => {
                        let calico = rule.policy.to_string().starts_with("calico/")
                            || rule.policy.to_string().starts_with("gnp/");
                        match action {
                            Action::Allow if calico => seen[0] += 1,
                            Action::Deny if calico => seen[1] += 1,
                            _ => {}
                        }
                        if rule.policy.to_string().starts_with("cnp/") {
                            seen[2] += 1;
                        }
                    }
                    Decision::TierDefault {
                        tier: TierRef::Calico(_),
                        ..
                    } => seen[3] += 1,
                    _ => {}
                }
                for step in &side.steps {
                    seen[4 + usize::from(step.action == Action::Log)] += 1;
                }
                seen[6] += side.unsupported.len();
            }
        }
        let without = Reference::new(&cluster, &set, Profile::conformance());
        for flow in flows(&cluster).into_iter().take(200) {
            let e = without.explain(flow);
            seen[7] += e.egress.ignored.len() + e.ingress.ignored.len();
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}

/// The benchmark's Calico workload (`add_calico_policies`): Calico accepts every object,
/// the policies change verdicts, and the engine answers every query as the reference does
/// (explaining them alike at S).
#[test]
fn generated_calico_workloads_agree_with_the_reference() {
    use netpol_testing::workload::{self, Scale};
    for (scale, n) in [(Scale::S, 30), (Scale::M, 60)] {
        let plain = workload::generate(scale, 3);
        let mut g = plain.clone();
        workload::add_calico_policies(&mut g, n, 3);
        let loaded = g.scenario.load().expect("the generated scenario loads");
        let refused: Vec<_> = loaded
            .outcomes
            .iter()
            .filter(|o| !o.errors.is_empty())
            .collect();
        assert!(refused.is_empty(), "refused: {refused:?}");
        assert_eq!(loaded.profile, Profile::calico());
        assert_eq!(loaded.policies.calico_policies().len(), n);
        let engine = Engine::builder()
            .profile(loaded.profile.clone())
            .build(&loaded.cluster, &loaded.policies);
        let reference = Reference::new(&loaded.cluster, &loaded.policies, loaded.profile.clone());
        let without = plain.scenario.load().expect("the plain scenario loads");
        let before = Engine::builder()
            .profile(Profile::calico())
            .build(&without.cluster, &without.policies);
        let mut changed = 0;
        for q in &loaded.queries {
            let flow = q.flow();
            let verdict = reference.decide(flow);
            assert_eq!(
                engine.decide(flow),
                verdict,
                "{}",
                reference.explain(flow).flow
            );
            if scale == Scale::S {
                assert_eq!(engine.explain(flow), reference.explain(flow));
            }
            changed += usize::from(before.decide(flow) != verdict);
        }
        assert!(
            changed > 0,
            "the Calico policies change no verdict at {}",
            scale.name()
        );
    }
}
