//! Property tests: the compiled engine equals the reference evaluator on every flow, and
//! both obey the documented laws of NetworkPolicy.
//!
//! The default case count keeps CI to seconds. For a long campaign:
//! `PROPTEST_CASES=1000000 cargo test --release --test engine_props`.

mod support;

use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::model::{NetworkPolicy, NetworkPolicyIngressRule};
use netpol::policy::{Direction, Policy};
use netpol::profile::Profile;
use netpol::reference::Reference;
use proptest::prelude::*;
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(128),
        ..ProptestConfig::default()
    }
}

fn profiles() -> impl Strategy<Value = Profile> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(enforce, pods, nodes, own_node, pod_to_node, self_)| {
            Profile::conformance()
                .with_name("custom")
                .with_network_policy(enforce || pods) // mostly enforcing
                .with_ipblock_matches_pods(pods)
                .with_ipblock_matches_nodes(nodes)
                .with_own_node_exempt(own_node)
                .with_pod_to_own_node_exempt(pod_to_node)
                .with_self_exempt(self_)
        })
}

proptest! {
    #![proptest_config(config())]

    /// decide and explain of the engine equal the reference's on every flow.
    #[test]
    fn engine_equals_reference(cluster in cluster(), written in written_policies(5)) {
        let policies = accept(&written);
        let engine = Engine::build(&cluster, &policies);
        let reference = Reference::new(&cluster, &policies, Profile::default());
        for flow in all_flows(&cluster) {
            let want = reference.explain(flow);
            prop_assert_eq!(reference.decide(flow), want.verdict, "reference decide differs from its explain on {}", want.flow);
            prop_assert_eq!(engine.decide(flow), want.verdict, "decide differs on {}", want.flow);
            prop_assert_eq!(engine.explain(flow), want);
        }
    }

    /// The same under every combination of profile knobs.
    #[test]
    fn engine_equals_reference_under_profiles(
        cluster in cluster(),
        written in written_policies(4),
        profile in profiles(),
    ) {
        let policies = accept(&written);
        let engine = Engine::builder().profile(profile.clone()).build(&cluster, &policies);
        let reference = Reference::new(&cluster, &policies, profile);
        for flow in all_flows(&cluster) {
            let want = reference.explain(flow);
            prop_assert_eq!(reference.decide(flow), want.verdict);
            prop_assert_eq!(engine.decide(flow), want.verdict);
            prop_assert_eq!(engine.explain(flow), want);
        }
    }

    /// With no policy, every flow is allowed.
    #[test]
    fn no_policy_allows_everything(cluster in cluster()) {
        let engine = Engine::build(&cluster, &[]);
        for flow in all_flows(&cluster) {
            prop_assert!(engine.decide(flow).is_allowed());
        }
    }

    /// A policy only affects flows whose source or destination pod it selects.
    #[test]
    fn policy_only_affects_selected_pods(
        cluster in cluster(),
        written in written_policies(3),
        extra in written_policy(99),
    ) {
        let before = accept(&written);
        let mut after = before.clone();
        let added = accept(std::slice::from_ref(&extra)).remove(0);
        after.push(added.clone());
        let e0 = Engine::build(&cluster, &before);
        let e1 = Engine::build(&cluster, &after);
        let selected = |e: Endpoint| match e {
            Endpoint::Pod(id) => {
                let pod = cluster.pod(id).unwrap();
                cluster.pod_namespace_name(id) == added.namespace()
                    && added.pod_selector().matches(&pod.labels)
            }
            _ => false,
        };
        for flow in all_flows(&cluster) {
            if !selected(flow.src) && !selected(flow.dst) {
                prop_assert_eq!(e0.decide(flow), e1.decide(flow), "{}", flow);
            }
        }
    }

    /// Adding an ingress rule to a policy that isolates ingress never removes an allowed flow.
    #[test]
    fn adding_a_rule_only_adds(
        cluster in cluster(),
        mut written in written_policies(4),
        extra in written_policy(0),
    ) {
        let before = Engine::build(&cluster, &accept(&written));
        let Some(target) = written.iter_mut().find(|w| {
            netpol::policy::Policy::new(w).unwrap().affects(Direction::Ingress)
        }) else {
            return Ok(());
        };
        let rule: NetworkPolicyIngressRule = extra
            .spec
            .ingress
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default();
        target.spec.ingress.get_or_insert_with(Vec::new).push(rule);
        let after = Engine::build(&cluster, &accept(&written));
        for flow in all_flows(&cluster) {
            if before.decide(flow).is_allowed() {
                prop_assert!(after.decide(flow).is_allowed(), "{}", flow);
            }
        }
    }

    /// A policy selecting every pod of a namespace for both directions, with no rules,
    /// denies every flow to or from those pods except the special cases.
    #[test]
    fn isolating_policy_without_rules_denies(cluster in cluster(), written in written_policies(2), ns in 0..NAMESPACES.len()) {
        let mut written = written;
        let mut deny = netpol::model::NetworkPolicy::new(NAMESPACES[ns], "deny-all");
        deny.spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
        written.push(deny);
        let engine = Engine::build(&cluster, &accept(&written));
        let in_ns = |e: Endpoint| matches!(e, Endpoint::Pod(id) if cluster.pod_namespace_name(id) == NAMESPACES[ns]);
        for flow in all_flows(&cluster) {
            let why = engine.explain(flow);
            if (in_ns(flow.src) || in_ns(flow.dst)) && why.special.is_none() {
                // Only rules of other policies could allow it; with this policy alone it is denied.
                let alone = Engine::build(&cluster, &accept(&written[written.len() - 1..]));
                prop_assert!(!alone.decide(flow).is_allowed(), "{}", flow);
            }
        }
    }

    /// Ingress and egress are independent: each side's answer is unchanged when every
    /// policy's other direction is dropped.
    #[test]
    fn directions_are_independent(cluster in cluster(), written in written_policies(4)) {
        let all = accept(&written);
        // The same policies with one direction dropped from their effective policyTypes
        // (a policy left with no direction is dropped).
        let only = |keep: Direction| -> Vec<Policy> {
            let kept: Vec<NetworkPolicy> = written
                .iter()
                .zip(&all)
                .filter(|(_, p)| p.affects(keep))
                .map(|(w, _)| {
                    let mut w = w.clone();
                    w.spec.policy_types = Some(vec![keep.as_str().to_owned()]);
                    w
                })
                .collect();
            accept(&kept)
        };
        let ingress_only = only(Direction::Ingress);
        let egress_only = only(Direction::Egress);
        let e = Engine::build(&cluster, &all);
        let ei = Engine::build(&cluster, &ingress_only);
        let ee = Engine::build(&cluster, &egress_only);
        // Dropping policies renumbers them: compare by name (names are unique here).
        fn by_name(side: &netpol::explain::SideExplanation) -> serde_json::Value {
            fn strip(v: &mut serde_json::Value) {
                match v {
                    serde_json::Value::Object(m) => {
                        m.remove("index");
                        m.values_mut().for_each(strip);
                    }
                    serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                    _ => {}
                }
            }
            let mut v = serde_json::to_value(side).unwrap();
            strip(&mut v);
            v
        }
        for flow in all_flows(&cluster) {
            let both = e.explain(flow);
            prop_assert_eq!(by_name(&both.ingress), by_name(&ei.explain(flow).ingress));
            prop_assert_eq!(by_name(&both.egress), by_name(&ee.explain(flow).egress));
        }
    }

    /// Absent `policyTypes` (or `[]`) means Ingress, plus Egress when there is an egress rule.
    #[test]
    fn absent_policy_types_default(mut w in written_policy(0)) {
        w.spec.policy_types = None;
        let p = netpol::policy::Policy::new(&w).unwrap();
        prop_assert!(p.affects(Direction::Ingress));
        let has_egress_rule = w.spec.egress.as_ref().is_some_and(|e| !e.is_empty());
        prop_assert_eq!(p.affects(Direction::Egress), has_egress_rule);
        let mut explicit = w.clone();
        let mut types = vec!["Ingress".to_string()];
        if has_egress_rule { types.push("Egress".into()); }
        explicit.spec.policy_types = Some(types);
        prop_assert_eq!(netpol::policy::Policy::new(&explicit).unwrap(), p.clone());
        w.spec.policy_types = Some(vec![]);
        prop_assert_eq!(netpol::policy::Policy::new(&w).unwrap(), p);
    }
}

/// `ingress: [{}]` allows everything in; `ingress: []` allows nothing in.
#[test]
fn empty_rule_versus_no_rules() {
    use netpol::cluster::{Cluster, PodSpec};
    use netpol::model::NetworkPolicy;
    let cluster = Cluster::builder()
        .pod(PodSpec::new("a", "x").ip("10.0.0.1".parse().unwrap()))
        .pod(PodSpec::new("a", "y").ip("10.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let x = Endpoint::Pod(cluster.pod_id("a", "x").unwrap());
    let y = Endpoint::Pod(cluster.pod_id("a", "y").unwrap());
    let flow = Flow::new(x, y, 80, Default::default());
    let mut allow = NetworkPolicy::new("a", "p");
    allow.spec.ingress = Some(vec![NetworkPolicyIngressRule::default()]);
    let mut deny = NetworkPolicy::new("a", "p");
    deny.spec.ingress = Some(vec![]);
    let allow = Engine::build(&cluster, &accept(&[allow]));
    let deny = Engine::build(&cluster, &accept(&[deny]));
    assert!(allow.decide(flow).is_allowed());
    assert!(!deny.decide(flow).is_allowed());
    assert_eq!(deny.explain(flow).ingress.policies[0].name, "p");
}

/// Rules with more ports and peers than an instruction holds inline (three ranges, one of
/// them for every protocol, two named ports, a named port of one protocol, four and six
/// pod peers, ipBlocks) decide as the reference does, in both directions.
#[test]
fn rules_with_many_ports_and_peers() {
    use netpol::cluster::{Cluster, ContainerPort, PodSpec};
    use netpol::model::NetworkPolicy;
    use netpol::policy::Protocol;
    let mut b = Cluster::builder();
    for i in 0..8u8 {
        let (http, dns) = (80 + u16::from(i % 3), 53 + u16::from(i % 2));
        b = b.pod(
            PodSpec::new("a", format!("p{i}"))
                .label("app", format!("p{i}"))
                .ip(format!("10.0.0.{}", i + 1).parse().unwrap())
                .port(ContainerPort::named("http", http, Protocol::Tcp))
                .port(ContainerPort::named("dns", dns, Protocol::Udp))
                .port(ContainerPort::named("web", 8080, Protocol::Sctp)),
        );
    }
    let cluster = b.build().unwrap();
    let pods = |names: &[u8]| {
        names
            .iter()
            .map(|i| format!(r#"{{"podSelector": {{"matchLabels": {{"app": "p{i}"}}}}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let rules = format!(
        r#"[{{"from": [{four}], "ports": [{{"port": 80}}, {{"protocol": "UDP", "port": 53}},
             {{"protocol": "SCTP", "port": 81, "endPort": 90}}, {{"port": "http"}},
             {{"protocol": "UDP", "port": "dns"}}]}},
           {{"from": [{six}], "ports": [{{"protocol": "SCTP", "port": "web"}}]}},
           {{"from": [{{"ipBlock": {{"cidr": "10.0.0.0/29", "except": ["10.0.0.4/30"]}}}}]}}]"#,
        four = pods(&[0, 1, 2, 3]),
        six = pods(&[2, 3, 4, 5, 6, 7]),
    );
    let written = [
        NetworkPolicy::from_json(&format!(
            r#"{{"metadata": {{"name": "in", "namespace": "a"}},
                "spec": {{"podSelector": {{"matchLabels": {{"app": "p7"}}}}, "ingress": {rules}}}}}"#
        ))
        .unwrap(),
        NetworkPolicy::from_json(&format!(
            r#"{{"metadata": {{"name": "out", "namespace": "a"}},
                "spec": {{"podSelector": {{"matchLabels": {{"app": "p6"}}}},
                          "policyTypes": ["Egress"], "egress": {}}}}}"#,
            rules.replace("\"from\"", "\"to\"")
        ))
        .unwrap(),
    ];
    for profile in [Profile::conformance(), Profile::cilium()] {
        let policies = accept(&written);
        let engine = Engine::builder()
            .profile(profile.clone())
            .build(&cluster, &policies);
        let reference = Reference::new(&cluster, &policies, profile);
        let eps = endpoints(&cluster);
        let (mut allowed, mut denied) = (0, 0);
        for &src in &eps {
            for &dst in &eps {
                for port in [53u16, 54, 80, 81, 82, 85, 90, 91, 8080] {
                    for proto in Protocol::ALL {
                        let flow = Flow::new(src, dst, port, proto);
                        let want = reference.explain(flow);
                        assert_eq!(engine.decide(flow), want.verdict, "{}", want.flow);
                        assert_eq!(engine.explain(flow), want);
                        if want.verdict.is_allowed() {
                            allowed += 1;
                        } else {
                            denied += 1;
                        }
                    }
                }
            }
        }
        assert!(allowed > 0 && denied > 0);
    }
}

#[test]
fn engine_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Engine>();
}

proptest! {
    #![proptest_config(config())]

    /// The matrix equals deciding each pair.
    #[test]
    fn matrix_equals_decide(cluster in cluster(), written in written_policies(5), port in prop::sample::select(vec![53u16, 80, 81]), proto in prop::sample::select(netpol::policy::Protocol::ALL.to_vec())) {
        let engine = Engine::build(&cluster, &accept(&written));
        let eps = endpoints(&cluster);
        let m = engine.matrix(&eps, &eps, port, proto);
        for (i, src) in eps.iter().enumerate() {
            for (j, dst) in eps.iter().enumerate() {
                prop_assert_eq!(m.get(i, j), Some(engine.decide(Flow::new(*src, *dst, port, proto))));
            }
        }
        prop_assert_eq!(m.get(eps.len(), 0), None);
    }
}
