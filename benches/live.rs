//! Criterion benchmarks of incremental updates (`netpol::engine::live::LiveEngine`)
//! against a full rebuild, on the generated workloads.
//!
//! ```text
//! cargo bench -p netpol-bench --bench live                      # scale L
//! LIVE_SCALES=L,XL cargo bench -p netpol-bench --bench live     # and the 150,000-pod one
//! ```
//!
//! Per scale (seed 1), each measured iteration applies one change to the same engine and
//! drops the new value:
//! - `pod/new-replicaset`: a pod's `pod-template-hash` changed (a kind the engine knows);
//! - `pod/move`: a pod moved to another address on its node;
//! - `pod/add-remove`: a batch adding a pod like an existing one and removing it;
//! - `pod/relabel-unknown`: a pod's `app` label set to one no pod has;
//! - `policy/change`: a NetworkPolicy with one more port;
//! - `policy/add`: a NetworkPolicy like that one under another name;
//! - `policy/remove`: the NetworkPolicy in the middle of the list removed (the half after
//!   it renumbered);
//! - `policy/deny-namespace`: a default deny of both directions added to that policy's
//!   namespace (every pod of the namespace changes class);
//! - `policy/new-key`: a NetworkPolicy selecting on a label key no policy reads (a
//!   rebuild);
//! - `node/add`: a node added like the middle one (its labels, an address next to its);
//! - `node/remove`: the middle node removed (its pods lose their node, the last node
//!   moves into its place);
//! - `node/relabel`: the middle node given a label no selector reads;
//! - `node/readdress`: the middle node given another address;
//! - `ns/relabel-same`: the changed policy's namespace given one more label, which no
//!   namespace selector reads (the cluster's namespace table only);
//! - `ns/relabel-other`: that namespace given the labels of another namespace (the
//!   NetworkPolicies whose `namespaceSelector` peers answer otherwise are compiled again);
//! - `ns/relabel-one`: that namespace with one label given another namespace's value;
//! - `ns/remove-holding-pods`: that namespace removed while it holds pods (it stays, with
//!   no label but its name: a relabel);
//! - `ns/remove`: on an engine where that namespace's pods were removed beforehand, the
//!   namespace removed (the last namespace moves into its place);
//! - `rebuild`: `Engine::build` on the same cluster and policies, for comparison;
//! - `build`, `live-new`, `felix/build`, `felix/live-new`: `Engine::build` and
//!   `LiveEngine::new` on the same cluster and policies, under the default profile and
//!   `Profile::calico()` (the kind index a live engine builds, which every rebuild in
//!   `LiveEngine::apply` builds too, is the difference). `LIVE_NEW_ONLY=1` runs these
//!   alone;
//! - `cnp/*`: on the same workload with ClusterNetworkPolicies added by
//!   `workload::add_cluster_policies` (100 at L, 1,000 at XL), a second engine:
//!   `cnp/change` the ClusterNetworkPolicy in the middle of the list with another
//!   priority, `cnp/change-rules` that one with its first rule dropped, `cnp/add` that
//!   one under another name, `cnp/add-by-app` the same for the first one after it whose
//!   subject selects pods by app, `cnp/remove` the middle one removed (those after it
//!   renumbered), `cnp/ns-relabel` a namespace that one's subject selects with one label
//!   given another namespace's value so that it no longer does (the policies whose
//!   namespace selectors answer otherwise taken or compiled again), and
//!   `cnp/rebuild` `Engine::build` on that cluster and policies;
//! - `felix/*`: on the same cluster and NetworkPolicies under `Profile::calico()` (Calico's
//!   Felix deciding, no Calico policy), a third engine: `felix/np-change`,
//!   `felix/np-add`, `felix/np-remove` and `felix/deny-namespace` the `policy/` changes
//!   above, `felix/rebuild` `Engine::build` with that profile; and on the workload with
//!   ClusterNetworkPolicies, `felix/cnp-change`, `felix/cnp-add` and `felix/cnp-remove`
//!   the `cnp/` changes above, `felix/cnp-rebuild` the build; `felix/ns-relabel-same`
//!   and `felix/ns-relabel-one` the `ns/relabel-same` and `ns/relabel-one` changes
//!   (Felix reads namespace labels as pod labels, `pcns.`: the policies whose converted
//!   selectors answer otherwise for the namespace's identities are compiled again);
//! - `felix/calico-*`: on the same cluster and NetworkPolicies under `Profile::calico()`
//!   with Calico objects added (a tier `security` holding a GlobalNetworkPolicy that
//!   selects every pod with an app, and a Calico NetworkPolicy for an app of each of the
//!   first namespaces, up to 200): `felix/calico-change` the middle Calico NetworkPolicy
//!   with one more port, `felix/calico-add` it under another name, `felix/calico-remove`
//!   it removed, `felix/calico-change-global` the GlobalNetworkPolicy with one more rule,
//!   `felix/calico-rebuild` the build;
//! - `churn/rollout-step`: sustained churn while decisions continue. Each step deletes a
//!   pod of a workload and adds its replacement (new name, new `pod-template-hash`, the
//!   same address), applied to the engine the previous step made, which is then
//!   published to a reader thread deciding flows on the newest engine all along; a
//!   step's time includes the publication. The reader's rate is printed.
//!
//! Before timing, it prints whether each change was applied incrementally, and checks
//! that the result decides and explains as a fresh build does on flows between the pods
//! of the changed policy's namespace and a spread of others, and between those pods and
//! the changed nodes (and the first and last node).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use netpol::calico::{
    CalicoPolicy, CalicoTier, GlobalNetworkPolicy, NetworkPolicy as CalicoNetworkPolicy, Tier,
};
use netpol::cluster::{Cluster, Endpoint, Flow, NodeSpec, Pod, PodId, PodSpec};
use netpol::engine::Engine;
use netpol::engine::live::{Change, LiveEngine, PolicyItem, PolicyKey};
use netpol::model::NetworkPolicy;
use netpol::policy::{ClusterPolicy, ClusterTier, Direction, Policy, PolicySet, Protocol, Subject};
use netpol::profile::Profile;
use netpol_testing::workload::{self, Scale};

fn spec_of(cluster: &Cluster, pod: &Pod) -> PodSpec {
    let mut spec = PodSpec::new(
        cluster
            .namespace(pod.namespace)
            .map(|n| n.name.clone())
            .unwrap_or_default(),
        pod.name.clone(),
    );
    spec.labels = pod.labels.clone();
    spec.ips = pod.ips.clone();
    spec.node = pod
        .node
        .and_then(|n| cluster.node(n))
        .map(|n| n.name.clone());
    spec.ports = pod.ports.clone();
    spec.service_account = Some(pod.service_account.clone());
    spec
}

/// Flows between up to 100 pods of `namespace` (where the policy changes apply) and a
/// spread of 150 others, on each destination's container ports and port 80.
fn sample_flows(cluster: &Cluster, namespace: &str) -> Vec<Flow<'static>> {
    let ns = cluster.namespace_id(namespace);
    let step = (cluster.pod_count() / 150).max(1);
    let mut in_ns = 0;
    let pods: Vec<(PodId, &Pod)> = cluster
        .pods()
        .enumerate()
        .filter(|(i, (_, p))| {
            let mine = Some(p.namespace) == ns && in_ns < 100;
            in_ns += usize::from(mine);
            mine || i % step == 0
        })
        .map(|(_, pod)| pod)
        .collect();
    let mut out = Vec::new();
    for (src, _) in &pods {
        for (dst, p) in &pods {
            let ports = p.ports.iter().map(|c| (c.port, c.protocol));
            for (port, proto) in ports.chain([(80, Protocol::Tcp)]) {
                out.push(Flow::new(
                    Endpoint::Pod(*src),
                    Endpoint::Pod(*dst),
                    port,
                    proto,
                ));
            }
        }
    }
    out
}

/// Flows between the nodes named (those there) and the pods of `pods`' flows, both ways,
/// on port 80 and 10250.
fn node_flows(cluster: &Cluster, names: &[&str], pods: &[Flow<'static>]) -> Vec<Flow<'static>> {
    let mut seen = std::collections::HashSet::new();
    let ends: Vec<Endpoint> = pods
        .iter()
        .map(|f| f.src)
        .filter(|e| seen.insert(*e))
        .collect();
    let nodes: Vec<Endpoint> = names
        .iter()
        .filter_map(|n| cluster.node_id(n))
        .chain(cluster.node_ids().take(1))
        .chain(cluster.node_ids().last())
        .map(Endpoint::Node)
        .collect();
    let mut out = Vec::new();
    for n in &nodes {
        for p in &ends {
            for port in [80, 10250] {
                out.push(Flow::new(*n, *p, port, Protocol::Tcp));
                out.push(Flow::new(*p, *n, port, Protocol::Tcp));
            }
        }
    }
    out
}

fn bench_scale(c: &mut Criterion, scale: Scale) {
    let mut generated = workload::generate(scale, 1);
    let loaded = generated
        .scenario
        .load()
        .expect("the generated scenario loads");
    let cluster = loaded.cluster.clone();
    let policies: PolicySet = loaded.policies.clone();
    construction(c, scale, &cluster, &policies);
    if std::env::var_os("LIVE_NEW_ONLY").is_some() {
        return;
    }
    let t = Instant::now();
    let live = LiveEngine::new(&cluster, policies.clone(), Default::default());
    eprintln!(
        "[{}] {} pods, {} policies: LiveEngine::new {:.2?}",
        scale.name(),
        cluster.pod_count(),
        policies.len(),
        t.elapsed()
    );
    // A pod of an app with a pod-template-hash, in the middle of the table.
    let (_, pod) = cluster
        .pods()
        .skip(cluster.pod_count() / 2)
        .find(|(_, p)| p.labels.contains_key("pod-template-hash") && p.labels.contains_key("app"))
        .expect("a pod of an app");
    let base = spec_of(&cluster, pod);
    let mut new_rs = base.clone();
    std::sync::Arc::make_mut(&mut new_rs.labels)
        .insert("pod-template-hash".into(), "0badcafe".into());
    let mut moved = base.clone();
    if let Some(std::net::IpAddr::V4(ip)) = base.ips.first() {
        let o = ip.octets();
        moved.ips = vec![std::net::IpAddr::from([o[0], o[1], o[2], 253])];
    }
    let mut added = base.clone();
    added.name = format!("{}-extra", base.name);
    let mut unknown = base.clone();
    std::sync::Arc::make_mut(&mut unknown.labels).insert("app".into(), "never-seen".into());
    let written: NetworkPolicy = serde_json::from_value({
        let mut p = generated
            .scenario
            .policies
            .iter()
            .filter_map(|p| p.to_value().ok())
            .find(|p| p["spec"]["ingress"][0]["ports"].is_array())
            .expect("a policy with ports");
        if let Some(ports) = p["spec"]["ingress"][0]["ports"].as_array_mut() {
            ports.push(serde_json::json!({"protocol": "TCP", "port": 8443}));
        }
        p
    })
    .expect("a NetworkPolicy");
    let changed = Policy::new(&written).expect("valid");
    let mut copy = written.clone();
    copy.metadata.name = Some(format!("{}-copy", changed.name()));
    let added_policy = Policy::new(&copy).expect("valid");
    let middle = &policies.network_policies()[policies.network_policies().len() / 2];
    let removed = PolicyKey::Network {
        namespace: middle.namespace().to_owned(),
        name: middle.name().to_owned(),
    };
    let deny = Policy::new(
        &NetworkPolicy::from_json(&format!(
            r#"{{"metadata": {{"name": "deny-all", "namespace": "{}"}},
            "spec": {{"podSelector": {{}}, "policyTypes": ["Ingress", "Egress"]}}}}"#,
            changed.namespace()
        ))
        .expect("a NetworkPolicy"),
    )
    .expect("valid");
    let new_key = Policy::new(
        &NetworkPolicy::from_json(&format!(
            r#"{{"metadata": {{"name": "by-new-key", "namespace": "{}"}},
            "spec": {{"podSelector": {{"matchLabels": {{"never-read": "x"}}}}}}}}"#,
            changed.namespace()
        ))
        .expect("a NetworkPolicy"),
    )
    .expect("valid");

    // The middle node, and a node like it.
    let (_, middle_node) = cluster
        .nodes()
        .nth(cluster.node_count() / 2)
        .expect("a node");
    let node_spec = |n: &netpol::cluster::Node| {
        let mut spec = NodeSpec::new(n.name.clone());
        spec.labels = n.labels.clone();
        spec.ips = n.ips.clone();
        spec.pod_cidrs = n.pod_cidrs.clone();
        spec.tunnel_ips = n.tunnel_ips.clone();
        spec
    };
    let next_to = |spec: &NodeSpec, last: u8| {
        let mut spec = spec.clone();
        if let Some(std::net::IpAddr::V4(ip)) = spec.ips.first().copied() {
            let o = ip.octets();
            spec.ips = vec![std::net::IpAddr::from([o[0], o[1], o[2], last])];
        }
        spec
    };
    let mut new_node = next_to(&node_spec(middle_node), 250);
    new_node.name = "node-new".into();
    let mut relabelled = node_spec(middle_node);
    relabelled
        .labels
        .insert("node.kubernetes.io/lifecycle".into(), "spot".into());
    let readdressed = next_to(&node_spec(middle_node), 251);
    let node_name = middle_node.name.clone();

    let policy_namespace = changed.namespace().to_owned();
    let policy_namespace = policy_namespace.as_str();
    let cases: Vec<(&str, Vec<Change>)> = vec![
        ("pod/new-replicaset", vec![Change::Pod(new_rs)]),
        ("pod/move", vec![Change::Pod(moved)]),
        (
            "pod/add-remove",
            vec![
                Change::Pod(added.clone()),
                Change::PodRemoved {
                    namespace: added.namespace.clone(),
                    name: added.name.clone(),
                },
            ],
        ),
        ("pod/relabel-unknown", vec![Change::Pod(unknown)]),
        (
            "policy/change",
            vec![Change::Policy(PolicyItem::Network(changed))],
        ),
        (
            "policy/add",
            vec![Change::Policy(PolicyItem::Network(added_policy))],
        ),
        ("policy/remove", vec![Change::PolicyRemoved(removed)]),
        (
            "policy/deny-namespace",
            vec![Change::Policy(PolicyItem::Network(deny))],
        ),
        (
            "policy/new-key",
            vec![Change::Policy(PolicyItem::Network(new_key))],
        ),
        ("node/add", vec![Change::Node(new_node)]),
        ("node/remove", vec![Change::NodeRemoved(node_name.clone())]),
        ("node/relabel", vec![Change::Node(relabelled)]),
        ("node/readdress", vec![Change::Node(readdressed)]),
    ];
    check_cases(scale, &live, &cases, policy_namespace, &node_name);
    let mut felix_cases = renamed(
        &cases,
        &[
            ("felix/np-change", "policy/change"),
            ("felix/np-add", "policy/add"),
            ("felix/np-remove", "policy/remove"),
            ("felix/deny-namespace", "policy/deny-namespace"),
        ],
    );
    felix_cases.extend([
        (
            "felix/ns-relabel-same",
            vec![relabel_same(&cluster, policy_namespace)],
        ),
        (
            "felix/ns-relabel-one",
            vec![one_label_changed(&cluster, policy_namespace, |_| true)],
        ),
    ]);
    felix(
        c,
        scale,
        &cluster,
        &policies,
        &felix_cases,
        policy_namespace,
        "felix/rebuild",
    );
    let mut group = c.benchmark_group(scale.name());
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (name, changes) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(live.apply_all(changes.clone()).expect("applies")))
        });
    }
    group.bench_function("rebuild", |b| {
        b.iter(|| black_box(Engine::build(&cluster, &policies)))
    });
    group.finish();

    namespaces(c, scale, &live, &cluster, policy_namespace);

    calico_policies(c, scale, &cluster, &policies);

    cluster_policies(c, scale, &mut generated, &cluster);

    churn(c, scale, &live, &cluster);
}

/// `LiveEngine::new` next to `Engine::build` on the same cluster and policies, under the
/// default profile (`live-new`, `build`) and `Profile::calico()` (`felix/live-new`,
/// `felix/build`): what the kind index adds to a build, which every rebuild inside
/// `LiveEngine::apply` pays too. Ten samples (criterion's least), longer at XL, where
/// an iteration takes about half a second.
fn construction(c: &mut Criterion, scale: Scale, cluster: &Cluster, policies: &PolicySet) {
    let mut group = c.benchmark_group(scale.name());
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(if cluster.pod_count() > 50_000 {
        10
    } else {
        4
    }));
    for (prefix, profile) in [("", Profile::default()), ("felix/", Profile::calico())] {
        let builder = Engine::builder().profile(profile.clone());
        group.bench_function(format!("{prefix}build"), |b| {
            b.iter(|| black_box(builder.clone().build(cluster, policies)))
        });
        group.bench_function(format!("{prefix}live-new"), |b| {
            b.iter(|| black_box(LiveEngine::new(cluster, policies.clone(), profile.clone())))
        });
    }
    group.finish();
}

fn calico_policy(doc: serde_json::Value) -> CalicoPolicy {
    let policy = if doc["metadata"]["namespace"].is_string() {
        CalicoPolicy::new(&CalicoNetworkPolicy::from_value(&doc).expect("a Calico policy"))
    } else {
        CalicoPolicy::new(&GlobalNetworkPolicy::from_value(&doc).expect("a Calico policy"))
    };
    policy.expect("valid")
}

/// A Calico NetworkPolicy in `namespace` selecting the pods of `app`: ingress from any
/// pod with an app on `ports`, egress to DNS and inside 10.0.0.0/8.
fn calico_app_policy(namespace: &str, name: &str, app: &str, ports: &[u16]) -> CalicoPolicy {
    calico_policy(serde_json::json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "order": 500,
            "selector": format!("app == '{app}'"),
            "types": ["Ingress", "Egress"],
            "ingress": [{"action": "Allow", "protocol": "TCP",
                         "source": {"selector": "has(app)"},
                         "destination": {"ports": ports}}],
            "egress": [{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}},
                       {"action": "Allow", "destination": {"nets": ["10.0.0.0/8"]}}],
        },
    }))
}

/// The broad GlobalNetworkPolicy of the Calico cases, in tier `security`: outside
/// networks denied, the rest passed on (with `quarantine`, also pods labelled
/// `app: quarantine` denied).
fn calico_guard(quarantine: bool) -> CalicoPolicy {
    let mut ingress =
        vec![serde_json::json!({"action": "Deny", "source": {"nets": ["198.51.100.0/24"]}})];
    if quarantine {
        ingress.push(serde_json::json!({"action": "Deny",
            "source": {"selector": "app == 'quarantine'"}}));
    }
    ingress.push(serde_json::json!({"action": "Pass"}));
    calico_policy(serde_json::json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "security.guard"},
        "spec": {
            "tier": "security",
            "order": 10,
            "selector": "has(app)",
            "types": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [{"action": "Deny", "destination": {"nets": ["203.0.113.0/24"]}},
                       {"action": "Pass"}],
        },
    }))
}

/// The Calico cases, on the workload's cluster and NetworkPolicies with Calico objects
/// added under `Profile::calico()`: a tier `security` (passing by default) holding a
/// GlobalNetworkPolicy selecting every pod with an app, and a Calico NetworkPolicy for
/// an app of each of the first namespaces (up to 200) in the `default` tier.
/// `felix/calico-change` gives the middle one one more port, `felix/calico-add` adds it
/// under another name, `felix/calico-remove` removes it (those after it renumbered),
/// `felix/calico-change-global` gives the GlobalNetworkPolicy one more rule, and
/// `felix/calico-rebuild` is the build.
fn calico_policies(c: &mut Criterion, scale: Scale, cluster: &Cluster, policies: &PolicySet) {
    let mut set = policies.clone();
    set.push(
        CalicoTier::new(
            &Tier::from_value(&serde_json::json!({
                "metadata": {"name": "security"},
                "spec": {"order": 100, "defaultAction": "Pass"},
            }))
            .expect("a tier"),
        )
        .expect("valid"),
    );
    set.push(calico_guard(false));
    let wanted = (cluster.namespace_count() / 2).clamp(10, 200);
    let mut apps: Vec<(String, String)> = Vec::new();
    for (id, ns) in cluster.namespaces() {
        if apps.len() >= wanted {
            break;
        }
        let app = cluster
            .pods()
            .find(|(_, p)| p.namespace == id)
            .and_then(|(_, p)| p.labels.get("app").cloned());
        if let Some(app) = app {
            apps.push((ns.name.clone(), app));
        }
    }
    for (ns, app) in &apps {
        set.push(calico_app_policy(
            ns,
            &format!("calico-{app}"),
            app,
            &[8080],
        ));
    }
    let (ns, app) = apps
        .get(apps.len() / 2)
        .expect("a namespace with an app")
        .clone();
    let name = format!("calico-{app}");
    let cases: Vec<(&str, Vec<Change>)> = vec![
        (
            "felix/calico-change",
            vec![Change::Policy(PolicyItem::Calico(calico_app_policy(
                &ns,
                &name,
                &app,
                &[8080, 8443],
            )))],
        ),
        (
            "felix/calico-add",
            vec![Change::Policy(PolicyItem::Calico(calico_app_policy(
                &ns,
                &format!("{name}-copy"),
                &app,
                &[8080],
            )))],
        ),
        (
            "felix/calico-remove",
            vec![Change::PolicyRemoved(PolicyKey::Calico {
                namespace: Some(ns.clone()),
                name: name.clone(),
            })],
        ),
        (
            "felix/calico-change-global",
            vec![Change::Policy(PolicyItem::Calico(calico_guard(true)))],
        ),
    ];
    eprintln!(
        "[{}] with {} Calico policies and a tier",
        scale.name(),
        set.calico_policies().len()
    );
    felix(c, scale, cluster, &set, &cases, &ns, "felix/calico-rebuild");
}

/// `namespace`'s labels changed into those of another namespace (its own name kept):
/// the first namespace whose labels differ from its own and for which `differs` holds.
fn labels_of_another(
    cluster: &Cluster,
    namespace: &str,
    differs: impl Fn(&netpol::model::Labels) -> bool,
) -> Change {
    let own = cluster
        .namespace_id(namespace)
        .and_then(|id| cluster.namespace(id))
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    let without_name = |l: &netpol::model::Labels| {
        let mut l = l.clone();
        l.remove("kubernetes.io/metadata.name");
        l
    };
    let labels = cluster
        .namespaces()
        .map(|(_, n)| without_name(&n.labels))
        .find(|l| *l != without_name(&own) && differs(l))
        .expect("another namespace");
    Change::Namespace {
        name: namespace.to_owned(),
        labels,
    }
}

/// `namespace` with one of its labels given the value another namespace has for it: the
/// first such change for which `differs` holds.
fn one_label_changed(
    cluster: &Cluster,
    namespace: &str,
    differs: impl Fn(&netpol::model::Labels) -> bool,
) -> Change {
    let mut own = cluster
        .namespace_id(namespace)
        .and_then(|id| cluster.namespace(id))
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    own.remove("kubernetes.io/metadata.name");
    let labels = own
        .iter()
        .flat_map(|(k, v)| {
            cluster.namespaces().filter_map(move |(_, n)| {
                n.labels
                    .get(k)
                    .filter(|x| *x != v)
                    .map(|x| (k.clone(), x.clone()))
            })
        })
        .map(|(k, x)| {
            let mut l = own.clone();
            l.insert(k, x);
            l
        })
        .find(|l| differs(l))
        .expect("another value");
    Change::Namespace {
        name: namespace.to_owned(),
        labels,
    }
}

/// `namespace` given one more label, which no selector reads.
fn relabel_same(cluster: &Cluster, namespace: &str) -> Change {
    let mut same = cluster
        .namespace_id(namespace)
        .and_then(|id| cluster.namespace(id))
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    same.remove("kubernetes.io/metadata.name");
    same.insert("owner".into(), "someone".into());
    Change::Namespace {
        name: namespace.to_owned(),
        labels: same,
    }
}

/// The namespace cases: relabels and removals of `namespace`.
fn namespaces(
    c: &mut Criterion,
    scale: Scale,
    live: &LiveEngine,
    cluster: &Cluster,
    namespace: &str,
) {
    let cases: Vec<(&str, Vec<Change>)> = vec![
        ("ns/relabel-same", vec![relabel_same(cluster, namespace)]),
        (
            "ns/relabel-other",
            vec![labels_of_another(cluster, namespace, |_| true)],
        ),
        (
            "ns/relabel-one",
            vec![one_label_changed(cluster, namespace, |_| true)],
        ),
        (
            "ns/remove-holding-pods",
            vec![Change::NamespaceRemoved(namespace.to_owned())],
        ),
    ];
    check_cases(scale, live, &cases, namespace, "");
    // The namespace emptied first: removing it moves the last namespace into its place.
    let emptied = live
        .apply_all(
            cluster
                .pods()
                .filter(|(_, p)| {
                    cluster
                        .namespace(p.namespace)
                        .is_some_and(|n| n.name == namespace)
                })
                .map(|(_, p)| Change::PodRemoved {
                    namespace: namespace.to_owned(),
                    name: p.name.clone(),
                })
                .collect::<Vec<_>>(),
        )
        .expect("applies");
    let last = cluster
        .namespaces()
        .last()
        .map(|(_, n)| n.name.clone())
        .unwrap_or_default();
    let removal: Vec<(&str, Vec<Change>)> = vec![(
        "ns/remove",
        vec![Change::NamespaceRemoved(namespace.to_owned())],
    )];
    check_cases(scale, &emptied, &removal, &last, "");
    let mut group = c.benchmark_group(scale.name());
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (on, (name, changes)) in cases
        .iter()
        .map(|case| (live, case))
        .chain(removal.iter().map(|case| (&emptied, case)))
    {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(on.apply_all(changes.clone()).expect("applies")))
        });
    }
    group.finish();
}

/// Applies each case once, says whether it was incremental, and checks that the result
/// decides and explains as a fresh build does.
fn check_cases(
    scale: Scale,
    live: &LiveEngine,
    cases: &[(&str, Vec<Change>)],
    namespace: &str,
    node_name: &str,
) {
    for (name, changes) in cases {
        let t = Instant::now();
        let next = live.apply_all(changes.clone()).expect("applies");
        let took = t.elapsed();
        eprintln!(
            "[{}] {name}: {} ({took:.2?} once)",
            scale.name(),
            if next.stats().rebuilds == 0 {
                "incremental"
            } else {
                "rebuild"
            }
        );
        // At this scale too, the result must decide and explain as a fresh build does.
        let fresh = Engine::builder()
            .profile(live.engine().profile().clone())
            .build(next.cluster(), next.policies());
        let mut flows = sample_flows(next.cluster(), namespace);
        if name.starts_with("node/") {
            flows = node_flows(next.cluster(), &[node_name, "node-new"], &flows);
        }
        for flow in &flows {
            assert_eq!(next.engine().decide(*flow), fresh.decide(*flow), "{name}");
            assert_eq!(next.engine().explain(*flow), fresh.explain(*flow), "{name}");
        }
        eprintln!(
            "[{}] {name}: {} flows decided and explained as by a fresh build",
            scale.name(),
            flows.len()
        );
        // What deciding costs on the changed engine, beside a fresh build of the same
        // cluster and policies (the flows are those of a namespace the change touches).
        let per = |engine: &Engine| {
            let t = Instant::now();
            let mut allowed = 0usize;
            for _ in 0..20 {
                for flow in &flows {
                    allowed += usize::from(engine.decide(*flow).is_allowed());
                }
            }
            black_box(allowed);
            t.elapsed().as_nanos() as f64 / (20 * flows.len().max(1)) as f64
        };
        let (changed, built) = (per(next.engine()), per(&fresh));
        eprintln!(
            "[{}] {name}: decide {changed:.1} ns per flow on the changed engine, {built:.1} on a fresh build",
            scale.name(),
        );
    }
}

/// `policy` under another tier, priority and name, with its rules but the first
/// `skip` of each direction.
fn cluster_variant(
    policy: &ClusterPolicy,
    name: &str,
    tier: ClusterTier,
    priority: u32,
    skip: usize,
) -> ClusterPolicy {
    let mut b = ClusterPolicy::builder(name, tier, priority, policy.subject().clone());
    for r in policy.rules(Direction::Ingress).iter().skip(skip) {
        b = b.ingress(r.clone());
    }
    for r in policy.rules(Direction::Egress).iter().skip(skip) {
        b = b.egress(r.clone());
    }
    b.build()
}

/// The ClusterNetworkPolicy cases, on the workload with ClusterNetworkPolicies added.
fn cluster_policies(
    c: &mut Criterion,
    scale: Scale,
    generated: &mut workload::Generated,
    cluster: &Cluster,
) {
    let n = (cluster.pod_count() / 100).clamp(100, 1000);
    workload::add_cluster_policies(generated, n, 1);
    let policies: PolicySet = generated
        .scenario
        .load()
        .expect("the generated scenario loads")
        .policies;
    let t = Instant::now();
    let live = LiveEngine::new(cluster, policies.clone(), Default::default());
    eprintln!(
        "[{}] with {} ClusterNetworkPolicies: LiveEngine::new {:.2?}",
        scale.name(),
        policies.cluster_policies().len(),
        t.elapsed()
    );
    let list = policies.cluster_policies();
    // The one in the middle that has rules in both directions, else the middle one.
    let middle = list
        .iter()
        .skip(list.len() / 2)
        .find(|p| p.affects(Direction::Ingress) && p.affects(Direction::Egress))
        .unwrap_or(&list[list.len() / 2]);
    let (tier, priority) = (middle.tier(), middle.priority());
    // One selecting the pods of one app in some namespaces, after the middle.
    let narrow = list
        .iter()
        .skip(list.len() / 2)
        .find(|p| matches!(p.subject(), Subject::Pods { .. }))
        .unwrap_or(middle);
    let narrow_copy = cluster_variant(
        narrow,
        &format!("{}-copy", narrow.name()),
        narrow.tier(),
        narrow.priority(),
        0,
    );
    let reprioritised = cluster_variant(middle, middle.name(), tier, (priority + 7) % 1001, 0);
    let fewer_rules = cluster_variant(middle, middle.name(), tier, priority, 1);
    let copy = cluster_variant(
        middle,
        &format!("{}-copy", middle.name()),
        tier,
        priority,
        0,
    );
    // A namespace its subject selects, for the checked flows.
    let selector = match middle.subject() {
        Subject::Namespaces(sel) => Some(sel),
        Subject::Pods { namespaces, .. } => Some(namespaces),
        _ => None,
    };
    let namespace = cluster
        .namespaces()
        .find(|(_, ns)| selector.is_some_and(|s| s.matches(&ns.labels)))
        .map(|(_, ns)| ns.name.clone())
        .unwrap_or_default();
    let relabel = one_label_changed(cluster, &namespace, |l| {
        selector.is_some_and(|s| !s.matches(l))
    });
    let cases: Vec<(&str, Vec<Change>)> = vec![
        (
            "cnp/change",
            vec![Change::Policy(PolicyItem::Cluster(reprioritised))],
        ),
        (
            "cnp/change-rules",
            vec![Change::Policy(PolicyItem::Cluster(fewer_rules))],
        ),
        ("cnp/add", vec![Change::Policy(PolicyItem::Cluster(copy))]),
        (
            "cnp/add-by-app",
            vec![Change::Policy(PolicyItem::Cluster(narrow_copy))],
        ),
        (
            "cnp/remove",
            vec![Change::PolicyRemoved(PolicyKey::Cluster {
                name: middle.name().to_owned(),
            })],
        ),
        ("cnp/ns-relabel", vec![relabel]),
    ];
    check_cases(scale, &live, &cases, &namespace, "");
    let mut group = c.benchmark_group(scale.name());
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (name, changes) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(live.apply_all(changes.clone()).expect("applies")))
        });
    }
    group.bench_function("cnp/rebuild", |b| {
        b.iter(|| black_box(Engine::build(cluster, &policies)))
    });
    group.finish();
    let felix_cases = renamed(
        &cases,
        &[
            ("felix/cnp-change", "cnp/change"),
            ("felix/cnp-add", "cnp/add"),
            ("felix/cnp-remove", "cnp/remove"),
        ],
    );
    felix(
        c,
        scale,
        cluster,
        &policies,
        &felix_cases,
        &namespace,
        "felix/cnp-rebuild",
    );
}

/// The changes of `cases` named by the second of each pair, under the first name.
fn renamed(
    cases: &[(&str, Vec<Change>)],
    names: &[(&'static str, &str)],
) -> Vec<(&'static str, Vec<Change>)> {
    names
        .iter()
        .filter_map(|(name, of)| {
            let (_, changes) = cases.iter().find(|(n, _)| n == of)?;
            Some((*name, changes.clone()))
        })
        .collect()
}

/// The cases under `Profile::calico()` (Calico's Felix deciding), on a live engine of
/// `cluster` and `policies` with that profile, and the build with it (`rebuild`).
fn felix(
    c: &mut Criterion,
    scale: Scale,
    cluster: &Cluster,
    policies: &PolicySet,
    cases: &[(&str, Vec<Change>)],
    namespace: &str,
    rebuild: &str,
) {
    let t = Instant::now();
    let live = LiveEngine::new(cluster, policies.clone(), Profile::calico());
    eprintln!(
        "[{}] under Felix: LiveEngine::new {:.2?}",
        scale.name(),
        t.elapsed()
    );
    check_cases(scale, &live, cases, namespace, "");
    let mut group = c.benchmark_group(scale.name());
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (name, changes) in cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(live.apply_all(changes.clone()).expect("applies")))
        });
    }
    let engine = Engine::builder().profile(Profile::calico());
    group.bench_function(rebuild, |b| {
        b.iter(|| black_box(engine.clone().build(cluster, policies)))
    });
    group.finish();
}

/// Sustained churn: rollout steps applied one after the other while a reader thread
/// decides flows on the newest engine.
fn churn(c: &mut Criterion, scale: Scale, live: &LiveEngine, cluster: &Cluster) {
    // Pods of workloads (with a pod-template-hash), spread over the table.
    let workload_pods: Vec<PodSpec> = cluster
        .pods()
        .filter(|(_, p)| p.labels.contains_key("pod-template-hash"))
        .step_by(7)
        .map(|(_, p)| spec_of(cluster, p))
        .collect();
    assert!(
        !workload_pods.is_empty(),
        "the workload has pods of workloads"
    );
    // The reader's pairs, by name: ids do not outlive a removal (the pod moved into the
    // gap gets a new one), so the reader resolves them on each engine it takes.
    let names: Vec<(String, String)> = cluster
        .pods()
        .step_by(97)
        .filter_map(|(_, p)| {
            let ns = cluster.namespace(p.namespace)?;
            Some((ns.name.clone(), p.name.clone()))
        })
        .collect();
    let published = Arc::new(Mutex::new(live.engine().clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let decided = Arc::new(AtomicU64::new(0));
    let reader = {
        let (published, stop, decided) = (published.clone(), stop.clone(), decided.clone());
        let names = names.clone();
        std::thread::spawn(move || {
            let mut allowed = 0u64;
            let mut flows: Vec<Flow<'static>> = Vec::with_capacity(names.len());
            while !stop.load(Ordering::Relaxed) {
                let engine = match published.lock() {
                    Ok(e) => e.clone(),
                    Err(_) => return,
                };
                let ids: Vec<PodId> = names
                    .iter()
                    .filter_map(|(ns, name)| engine.cluster().pod_id(ns, name))
                    .collect();
                flows.clear();
                flows.extend(ids.iter().zip(ids.iter().rev()).map(|(a, b)| {
                    Flow::new(Endpoint::Pod(*a), Endpoint::Pod(*b), 80, Protocol::Tcp)
                }));
                for _ in 0..16 {
                    for f in &flows {
                        allowed += u64::from(engine.decide(*f).is_allowed());
                    }
                }
                decided.fetch_add(16 * flows.len() as u64, Ordering::Relaxed);
            }
            black_box(allowed);
        })
    };
    let mut current = live.clone();
    let mut step = 0usize;
    let mut group = c.benchmark_group(format!("{}/churn", scale.name()));
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let started = Instant::now();
    let mut steps = 0u64;
    group.bench_function("rollout-step", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let old = &workload_pods[step % workload_pods.len()];
                step += 1;
                let mut new = old.clone();
                new.name = format!("{}-r{step}", old.name);
                Arc::make_mut(&mut new.labels)
                    .insert("pod-template-hash".into(), format!("r{}", step % 3));
                let previous =
                    format!("{}-r{}", old.name, step.saturating_sub(workload_pods.len()));
                let gone = if step > workload_pods.len() {
                    previous
                } else {
                    old.name.clone()
                };
                current = current
                    .apply_all(vec![
                        Change::PodRemoved {
                            namespace: old.namespace.clone(),
                            name: gone,
                        },
                        Change::Pod(new),
                    ])
                    .expect("a rollout step applies");
                if let Ok(mut slot) = published.lock() {
                    *slot = current.engine().clone();
                }
            }
            steps += iters;
            t.elapsed()
        })
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "[{}] churn: {steps} rollout steps ({} core rebuilds) in {secs:.1} s while the reader decided {:.1} M flows/s",
        scale.name(),
        current.stats().rebuilds,
        decided.load(Ordering::Relaxed) as f64 / secs / 1e6
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let scales = std::env::var("LIVE_SCALES").unwrap_or_else(|_| "L".into());
    for s in scales.split(',') {
        match Scale::parse(s.trim()) {
            Some(scale) => bench_scale(&mut c, scale),
            None => eprintln!("unknown scale {s}"),
        }
    }
    c.final_summary();
}
