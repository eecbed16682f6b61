//! Property tests for incremental updates: random sequences of changes (pods, namespaces,
//! nodes, NetworkPolicies and ClusterNetworkPolicies added, changed and removed) applied
//! one by one and in batches to a [`LiveEngine`] give, after every step, the same decision
//! and explanation on every flow as an engine built afresh from the changed cluster and
//! policies, and as the reference evaluator.
//!
//! For a long campaign: `PROPTEST_CASES=10000 cargo test --release --test live_props`.

mod support;

use std::collections::BTreeMap;

use netpol::cluster::{Cluster, Endpoint, Flow, NodeSpec, PodSpec};
use netpol::engine::Engine;
use netpol::engine::live::{Change, LiveEngine, PolicyItem, PolicyKey};
use netpol::policy::{ClusterPolicy, PolicySet};
use netpol::profile::Profile;
use netpol::reference::Reference;
use proptest::prelude::*;
use support::tiers::{all_flows_with_domains, cluster_policy, policy_set};
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(48),
        ..ProptestConfig::default()
    }
}

/// A change, with names drawn from small pools so that changes meet the same objects.
fn change() -> impl Strategy<Value = Change> {
    let pod_name = (0..8usize).prop_map(|i| format!("pod{i}"));
    prop_oneof![
        6 => pod_name.clone().prop_flat_map(pod_spec).prop_map(Change::Pod),
        3 => (pick(NAMESPACES), pod_name).prop_map(|(ns, name)| Change::PodRemoved {
            namespace: ns.to_owned(),
            name,
        }),
        1 => (pick(&["a", "b", "c", "d"]), labels())
            .prop_map(|(name, labels)| Change::Namespace { name: name.to_owned(), labels }),
        1 => pick(&["a", "b", "c", "d"]).prop_map(|n| Change::NamespaceRemoved(n.to_owned())),
        1 => (0..3usize, labels(), any::<bool>()).prop_map(|(i, labels, v6)| {
            let mut n = NodeSpec::new(format!("n{i}")).ip(format!("192.168.0.{}", 11 + i).parse().unwrap());
            if v6 {
                n = n.ip(format!("fd00:ffff::{}", i + 1).parse().unwrap());
            }
            n.labels = labels;
            Change::Node(n)
        }),
        1 => (0..3usize).prop_map(|i| Change::NodeRemoved(format!("n{i}"))),
        2 => (0..4usize).prop_flat_map(written_policy).prop_map(|w| {
            Change::Policy(PolicyItem::Network(accept(&[w]).remove(0)))
        }),
        1 => (pick(NAMESPACES), 0..4usize).prop_map(|(ns, i)| Change::PolicyRemoved(PolicyKey::Network {
            namespace: ns.to_owned(),
            name: format!("p{i}"),
        })),
        1 => (0..3usize).prop_flat_map(cluster_policy).prop_map(|p: ClusterPolicy| {
            Change::Policy(PolicyItem::Cluster(p))
        }),
        1 => (0..3usize).prop_map(|i| Change::PolicyRemoved(PolicyKey::Cluster { name: format!("c{i}") })),
    ]
}

/// The endpoint of `cluster` that `e` (of `from`) names, by name or address.
fn same_endpoint(from: &Cluster, e: Endpoint, cluster: &Cluster) -> Endpoint {
    match e {
        Endpoint::Pod(id) => {
            let pod = from.pod(id).unwrap();
            let ns = from.pod_namespace_name(id);
            Endpoint::Pod(cluster.pod_id(ns, &pod.name).unwrap())
        }
        Endpoint::Node(id) => {
            Endpoint::Node(cluster.node_id(&from.node(id).unwrap().name).unwrap())
        }
        other => other,
    }
}

/// Holds the live engine equal to a fresh build and to the reference on every flow.
fn check(live: &LiveEngine, profile: &Profile) -> Result<(), TestCaseError> {
    let fresh_cluster = live.cluster().to_builder().build().unwrap();
    let policies: &PolicySet = live.policies();
    let fresh = Engine::builder()
        .profile(profile.clone())
        .build(&fresh_cluster, policies);
    let reference = Reference::new(&fresh_cluster, policies, profile.clone());
    prop_assert_eq!(live.cluster().pod_count(), fresh_cluster.pod_count());
    prop_assert_eq!(live.cluster().node_count(), fresh_cluster.node_count());
    prop_assert_eq!(
        live.cluster().namespace_count(),
        fresh_cluster.namespace_count()
    );
    // The cluster tables agree: names, labels, nodes and addresses.
    let pods = |c: &Cluster| -> BTreeMap<(String, String), String> {
        c.pods()
            .map(|(_, p)| {
                let node = p.node.and_then(|n| c.node(n)).map(|n| n.name.clone());
                let ns = c.namespace(p.namespace).map(|n| n.name.clone()).unwrap();
                let what = format!(
                    "{:?} {:?} {node:?} {:?} {}",
                    p.labels, p.ips, p.ports, p.service_account
                );
                ((ns, p.name.clone()), what)
            })
            .collect()
    };
    prop_assert_eq!(pods(live.cluster()), pods(&fresh_cluster));
    for (_, p) in live.cluster().pods() {
        for ip in &p.ips {
            let e = live.cluster().endpoint_at(*ip);
            let f = fresh_cluster.endpoint_at(*ip);
            prop_assert_eq!(live.cluster().describe(e), fresh_cluster.describe(f));
        }
    }
    let engine = live.engine();
    for flow in all_flows_with_domains(&fresh_cluster) {
        let mapped = Flow {
            src: same_endpoint(&fresh_cluster, flow.src, live.cluster()),
            dst: same_endpoint(&fresh_cluster, flow.dst, live.cluster()),
            ..flow
        };
        let want = reference.explain(flow);
        prop_assert_eq!(
            fresh.decide(flow),
            want.verdict,
            "fresh build on {}",
            want.flow
        );
        prop_assert_eq!(
            engine.decide(mapped),
            want.verdict,
            "live engine on {}",
            want.flow
        );
        prop_assert_eq!(engine.explain(mapped), want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Changes applied one at a time: after each, the live engine equals a fresh build
    /// and the reference on every flow; the values before stay as they were.
    #[test]
    fn changes_one_by_one(
        cluster in cluster(),
        set in policy_set(3, 2),
        changes in prop::collection::vec(change(), 1..12),
    ) {
        let profile = Profile::default();
        let mut live = LiveEngine::new(&cluster, set, profile.clone());
        let first = live.clone();
        let first_pods = first.cluster().pod_count();
        for c in changes {
            match live.apply(c) {
                Ok(next) => live = next,
                // A pod on a node that is not there: refused, nothing applied.
                Err(_) => continue,
            }
            check(&live, &profile)?;
        }
        prop_assert_eq!(first.cluster().pod_count(), first_pods);
        check(&first, &profile)?;
    }

    /// The same changes in one batch give the same engine as one by one.
    #[test]
    fn changes_in_a_batch(
        cluster in cluster(),
        set in policy_set(3, 2),
        changes in prop::collection::vec(change(), 1..12),
    ) {
        let profile = Profile::default();
        let live = LiveEngine::new(&cluster, set, profile.clone());
        let ok: Vec<Change> = {
            // Keep the changes that apply one by one, so that the batch cannot fail.
            let mut step = live.clone();
            let mut ok = Vec::new();
            for c in changes {
                if let Ok(next) = step.apply(c.clone()) {
                    step = next;
                    ok.push(c);
                }
            }
            ok
        };
        let batch = live.apply_all(ok).unwrap();
        prop_assert!(batch.stats().rebuilds <= 1);
        check(&batch, &profile)?;
    }
}

/// Pods of a kind the engine knows, of an identity no selector tells apart from a known
/// one, or of a known identity at an address in other ipBlocks are applied without a
/// rebuild, and old values are not disturbed.
#[test]
fn known_kinds_are_incremental() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .pod(
            PodSpec::new("a", "web-1")
                .label("app", "web")
                .label("pod-template-hash", "1")
                .ip(ip("10.0.0.1")),
        )
        .pod(
            PodSpec::new("a", "db-1")
                .label("app", "db")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("a", "other")
                .label("app", "other")
                .ip(ip("10.0.0.4")),
        )
        .build()
        .unwrap();
    let written = netpol::model::NetworkPolicy::from_json(
        r#"{"metadata": {"name": "db", "namespace": "a"},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                                           {"ipBlock": {"cidr": "10.9.0.0/16"}}]}]}}"#,
    )
    .unwrap();
    let set: PolicySet = accept(&[written]).into_iter().collect();
    let live = LiveEngine::new(&cluster, set, Profile::default());
    let flow = |l: &LiveEngine, from: &str| {
        let c = l.cluster();
        let a = Endpoint::Pod(c.pod_id("a", from).unwrap());
        let db = Endpoint::Pod(c.pod_id("a", "db-1").unwrap());
        l.engine()
            .decide(Flow::new(a, db, 80, Default::default()))
            .is_allowed()
    };
    assert!(!flow(&live, "other"));
    let next = live
        .apply_all([
            // A new ReplicaSet: only pod-template-hash differs, which no selector reads.
            Change::Pod(
                PodSpec::new("a", "web-2")
                    .label("app", "web")
                    .label("pod-template-hash", "2")
                    .ip(ip("10.0.0.3")),
            ),
            Change::PodRemoved {
                namespace: "a".into(),
                name: "web-1".into(),
            },
            // Moved: the same kind at another address.
            Change::Pod(
                PodSpec::new("a", "db-1")
                    .label("app", "db")
                    .ip(ip("10.0.0.9")),
            ),
            // Labels no pod had, which every selector answers as for app=other.
            Change::Pod(
                PodSpec::new("a", "cache")
                    .label("app", "cache")
                    .ip(ip("10.0.0.5")),
            ),
            // A known identity at an address inside the ipBlock: a new kind.
            Change::Pod(
                PodSpec::new("a", "other")
                    .label("app", "other")
                    .ip(ip("10.9.0.8")),
            ),
        ])
        .unwrap();
    assert_eq!(next.stats().rebuilds, 0);
    assert_eq!(next.stats().incremental, 5);
    assert!(flow(&next, "web-2"));
    assert!(!flow(&next, "cache"));
    assert!(flow(&next, "other"));
    let c = next.cluster();
    assert_eq!(
        c.endpoint_at(ip("10.0.0.9")),
        Endpoint::Pod(c.pod_id("a", "db-1").unwrap())
    );
    assert!(c.pod_id("a", "web-1").is_none());
    check(&next, &Profile::default()).unwrap();
    // A namespace no pod was in: a rebuild.
    let rebuilt = next
        .apply(Change::Pod(
            PodSpec::new("b", "web")
                .label("app", "web")
                .ip(ip("10.0.0.6")),
        ))
        .unwrap();
    assert_eq!(rebuilt.stats().rebuilds, 1);
    check(&rebuilt, &Profile::default()).unwrap();
    // The old value still answers for the old cluster.
    let old = live.cluster();
    let web1 = Endpoint::Pod(old.pod_id("a", "web-1").unwrap());
    let old_db = Endpoint::Pod(old.pod_id("a", "db-1").unwrap());
    assert!(
        live.engine()
            .decide(Flow::new(web1, old_db, 80, Default::default()))
            .is_allowed()
    );
    // Ids from before a removal are stale in the new engine, not another pod's.
    assert!(
        next.engine()
            .try_decide(Flow::new(web1, old_db, 80, Default::default()))
            .is_err()
    );
}
