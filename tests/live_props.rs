//! Property tests for incremental updates: random sequences of changes (pods, namespaces,
//! nodes, NetworkPolicies and ClusterNetworkPolicies added, changed and removed) applied
//! one by one and in batches to a [`LiveEngine`] give, after every step, the same decision
//! and explanation on every flow as an engine built afresh from the changed cluster and
//! policies, and as the reference evaluator.
//!
//! The `policy_` properties draw mostly NetworkPolicy changes, under every profile: policies
//! added, changed and removed (from a small pool of names, so that they meet), some with a
//! selector on a label key no other policy reads, an ipBlock over networks no other policy
//! names, or a named port no pod declares yet, among pods that gain those labels and ports;
//! both the incremental path and its fallback to a rebuild are taken. The `felix_`
//! properties hold NetworkPolicy and ClusterNetworkPolicy changes under the profiles where
//! Calico's Felix decides to the same, requiring them to be taken without a rebuild when
//! no Calico policy, network set or tier takes part, and with one when some does.
//!
//! For a long campaign: `PROPTEST_CASES=10000 cargo test --release --test live_props`.

mod support;

use std::collections::BTreeMap;

use netpol::cluster::{Cluster, ContainerPort, Endpoint, Flow, NodeSpec, PodSpec};
use netpol::engine::Engine;
use netpol::engine::live::{Change, LiveEngine, PolicyItem, PolicyKey};
use netpol::model::{
    IpBlock, LabelSelector, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule,
    NetworkPolicyPeer, NetworkPolicyPort,
};
use netpol::policy::{ClusterPolicy, Policy, PolicySet, Protocol};
use netpol::profile::Profile;
use netpol::reference::Reference;
use proptest::option;
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

/// Label keys no policy of the shared generators reads.
const NEW_KEYS: &[&str] = &["role", "zone"];
/// A container port name no pod of the shared generators declares.
const NEW_PORT_NAME: &str = "metrics";
/// ipBlocks over networks the shared generators never name, and over ones they do.
const MORE_BLOCKS: &[(&str, &[&str])] = &[
    ("10.0.0.0/24", &["10.0.0.4/30"]),
    ("10.0.0.0/8", &["10.0.1.0/24"]),
    ("fd00::/64", &[]),
    ("10.0.0.0/16", &[]),
    ("0.0.0.0/0", &[]),
    ("192.168.0.12/32", &[]),
];

/// A pod as the shared generator makes it, sometimes with a label on a key only the
/// `policy_` changes read, or a port named as only they name one.
fn pod_change(name: String) -> impl Strategy<Value = PodSpec> {
    (
        pod_spec(name),
        option::of((pick(NEW_KEYS), pick(&["x", "y"]))),
        any::<bool>(),
    )
        .prop_map(|(mut spec, label, port)| {
            if let Some((k, v)) = label {
                std::sync::Arc::make_mut(&mut spec.labels).insert(k.to_owned(), v.to_owned());
            }
            if port {
                let mut ports = spec.ports.to_vec();
                ports.push(ContainerPort::named(NEW_PORT_NAME, 9090, Protocol::Tcp));
                spec.ports = ports.into();
            }
            spec
        })
}

/// A NetworkPolicy named `p{index}`, as the shared generator writes it, sometimes with a
/// pod selector or a peer on a label key no other policy reads, an ipBlock peer over other
/// networks, or a port by a name no pod declares (until a pod change adds it).
fn network_policy(index: usize) -> impl Strategy<Value = Policy> {
    (
        written_policy(index),
        0..6usize,
        pick(NEW_KEYS),
        pick(&["x", "y"]),
        0..MORE_BLOCKS.len(),
        any::<bool>(),
    )
        .prop_filter_map(
            "accepted",
            |(mut w, tweak, key, value, block, egress): (NetworkPolicy, _, &str, &str, _, _)| {
                let on_key = || LabelSelector {
                    match_labels: Some([(key.to_owned(), value.to_owned())].into()),
                    match_expressions: None,
                };
                let (cidr, except) = MORE_BLOCKS[block];
                let peer = match tweak {
                    1 => {
                        w.spec.pod_selector = Some(on_key());
                        None
                    }
                    2 => Some(NetworkPolicyPeer {
                        pod_selector: Some(on_key()),
                        ..Default::default()
                    }),
                    3 => Some(NetworkPolicyPeer {
                        ip_block: Some(IpBlock::new(cidr, except.to_vec())),
                        ..Default::default()
                    }),
                    _ => None,
                };
                let ports = (tweak == 4).then(|| {
                    vec![NetworkPolicyPort {
                        protocol: None,
                        port: Some(netpol::model::IntOrString::String(NEW_PORT_NAME.into())),
                        end_port: None,
                    }]
                });
                if peer.is_some() || ports.is_some() {
                    let to = peer.map(|p| vec![p]);
                    if egress {
                        w.spec
                            .egress
                            .get_or_insert_with(Vec::new)
                            .push(NetworkPolicyEgressRule { to, ports });
                    } else {
                        w.spec
                            .ingress
                            .get_or_insert_with(Vec::new)
                            .push(NetworkPolicyIngressRule { from: to, ports });
                    }
                }
                Policy::new(&w).ok()
            },
        )
}

/// A policy reading every label key, naming every port name and every network the
/// generators use: with it in the set, most policy changes need nothing new of the core.
fn catalog() -> Policy {
    let keys = ["app", "tier", "env"].iter().chain(NEW_KEYS);
    let pods: Vec<NetworkPolicyPeer> = keys
        .map(|k| NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some([(k.to_string(), "x".to_owned())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        })
        .collect();
    let blocks: Vec<NetworkPolicyPeer> = BLOCKS
        .iter()
        .chain(MORE_BLOCKS)
        .map(|(cidr, except)| NetworkPolicyPeer {
            ip_block: Some(IpBlock::new(*cidr, except.to_vec())),
            ..Default::default()
        })
        .collect();
    let names: Vec<NetworkPolicyPort> = PORT_NAMES
        .iter()
        .chain(&[NEW_PORT_NAME])
        .map(|n| NetworkPolicyPort {
            protocol: None,
            port: Some(netpol::model::IntOrString::String(n.to_string())),
            end_port: None,
        })
        .collect();
    let mut w = NetworkPolicy::new("c", "catalog");
    w.spec.pod_selector = Some(LabelSelector {
        match_labels: Some([("app".to_owned(), "z".to_owned())].into()),
        match_expressions: None,
    });
    w.spec.policy_types = Some(vec!["Egress".into()]);
    w.spec.egress = Some(vec![
        NetworkPolicyEgressRule {
            to: Some(pods),
            ports: Some(names),
        },
        NetworkPolicyEgressRule {
            to: Some(blocks),
            ports: None,
        },
    ]);
    Policy::new(&w).unwrap()
}

/// The policies a `policy_` property starts from: with [`catalog`] first or not.
fn start_set() -> impl Strategy<Value = PolicySet> {
    (policy_set(4, 1), any::<bool>()).prop_map(|(set, with_catalog)| {
        if !with_catalog {
            return set;
        }
        let mut out: PolicySet = [catalog()].into_iter().collect();
        out.extend(set.network_policies().iter().cloned());
        out.extend(set.cluster_policies().iter().cloned());
        out
    })
}

/// Mostly NetworkPolicy changes, among pod changes that meet them.
fn policy_change() -> impl Strategy<Value = Change> {
    let pod_name = (0..8usize).prop_map(|i| format!("pod{i}"));
    prop_oneof![
        8 => (0..6usize).prop_flat_map(network_policy)
            .prop_map(|p| Change::Policy(PolicyItem::Network(p))),
        4 => (pick(NAMESPACES), 0..6usize).prop_map(|(ns, i)| Change::PolicyRemoved(
            PolicyKey::Network { namespace: ns.to_owned(), name: format!("p{i}") })),
        4 => pod_name.clone().prop_flat_map(pod_change).prop_map(Change::Pod),
        1 => (pick(NAMESPACES), pod_name).prop_map(|(ns, name)| Change::PodRemoved {
            namespace: ns.to_owned(),
            name,
        }),
        2 => namespace_change(),
        2 => (0..3usize).prop_flat_map(cluster_policy).prop_map(|p: ClusterPolicy| {
            Change::Policy(PolicyItem::Cluster(p))
        }),
        1 => (0..3usize).prop_map(|i| Change::PolicyRemoved(PolicyKey::Cluster {
            name: format!("c{i}"),
        })),
    ]
}

/// A ClusterNetworkPolicy change, against the policies of the moment: one added or
/// replaced (from a pool of names, tier, priority, subject and rules drawn anew; every
/// action, Pass included, and every peer kind), one removed, or one of the set given
/// another priority (often tied with another's) or moved to the other tier.
#[derive(Debug, Clone)]
enum ClusterStep {
    Put(ClusterPolicy),
    Remove(usize),
    Priority(usize, u32),
    Tier(usize),
}

fn cluster_step() -> impl Strategy<Value = ClusterStep> {
    prop_oneof![
        4 => (0..4usize).prop_flat_map(cluster_policy).prop_map(ClusterStep::Put),
        2 => (0..4usize).prop_map(ClusterStep::Remove),
        2 => (0..4usize, 0..3u32).prop_map(|(i, p)| ClusterStep::Priority(i, p)),
        1 => (0..4usize).prop_map(ClusterStep::Tier),
    ]
}

impl ClusterStep {
    /// The change it makes to `set`, if any.
    fn change(&self, set: &PolicySet) -> Option<Change> {
        use netpol::policy::{ClusterTier, Direction};
        let find = |i: &usize| {
            set.cluster_policies()
                .iter()
                .find(|p| p.name() == format!("c{i}"))
        };
        let with = |p: &ClusterPolicy, tier: ClusterTier, priority: u32| {
            let mut b = ClusterPolicy::builder(p.name(), tier, priority, p.subject().clone());
            for r in p.rules(Direction::Ingress) {
                b = b.ingress(r.clone());
            }
            for r in p.rules(Direction::Egress) {
                b = b.egress(r.clone());
            }
            Change::Policy(PolicyItem::Cluster(b.build()))
        };
        match self {
            ClusterStep::Put(p) => Some(Change::Policy(PolicyItem::Cluster(p.clone()))),
            ClusterStep::Remove(i) => find(i).map(|p| {
                Change::PolicyRemoved(PolicyKey::Cluster {
                    name: p.name().to_owned(),
                })
            }),
            ClusterStep::Priority(i, priority) => find(i).map(|p| with(p, p.tier(), *priority)),
            ClusterStep::Tier(i) => find(i).map(|p| {
                let tier = match p.tier() {
                    ClusterTier::Admin => ClusterTier::Baseline,
                    ClusterTier::Baseline => ClusterTier::Admin,
                };
                with(p, tier, p.priority())
            }),
        }
    }
}

/// The conformance profile with each exemption and `ipBlock` reading drawn, enforcing
/// NetworkPolicy and ClusterNetworkPolicy.
fn cluster_enforcing_profile() -> impl Strategy<Value = Profile> {
    custom_profile(true).prop_map(|p| {
        p.with_network_policy(true)
            .with_cluster_network_policy(true)
    })
}

/// A namespace relabelled (or added: `d`) with labels the policies' namespace selectors
/// read, or removed (when it holds pods, it stays with no label but its name).
fn namespace_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (pick(&["a", "b", "c", "d"]), labels())
            .prop_map(|(name, labels)| Change::Namespace { name: name.to_owned(), labels }),
        1 => pick(&["a", "b", "c", "d"]).prop_map(|n| Change::NamespaceRemoved(n.to_owned())),
    ]
}

/// Whether the engine documents `c` as taken without a rebuild, among NetworkPolicy and
/// ClusterNetworkPolicy changes the core can express, where Calico's Felix does not decide
/// and no Calico policy takes part: any change but a namespace relabelled (or removed
/// while holding pods) where a ClusterNetworkPolicy the profile does not enforce has a
/// namespace selector answering otherwise for its new labels, and the namespace holds
/// pods (the callers change no pod, so it held them when the core was built).
fn namespace_change_expected(live: &LiveEngine, profile: &Profile, c: &Change) -> bool {
    use netpol::policy::{ClusterPeer, Direction, Subject};
    let (name, labels) = match c {
        Change::Namespace { name, labels } => (name, labels.clone()),
        Change::NamespaceRemoved(name) => (name, netpol::model::Labels::new()),
        _ => return true,
    };
    let cluster = live.cluster();
    let Some(id) = cluster.namespace_id(name) else {
        return true;
    };
    let old = &cluster.namespace(id).unwrap().labels;
    let mut new = labels;
    new.insert("kubernetes.io/metadata.name".to_owned(), name.clone());
    let has_pods = cluster.pods().any(|(_, p)| p.namespace == id);
    let differs = |s: &netpol::selector::Selector| s.matches(old) != s.matches(&new);
    let cnp = live.policies().cluster_policies().iter().any(|p| {
        let subject = match p.subject() {
            Subject::Namespaces(s) | Subject::Pods { namespaces: s, .. } => differs(s),
            _ => true,
        };
        subject
            || Direction::BOTH
                .into_iter()
                .flat_map(|d| p.rules(d))
                .flat_map(|r| r.peers())
                .any(|peer| match peer {
                    ClusterPeer::Namespaces(s) | ClusterPeer::Pods { namespaces: s, .. } => {
                        differs(s)
                    }
                    _ => false,
                })
    });
    !has_pods || !cnp || profile.enforces_cluster_network_policy()
}

/// A NetworkPolicy added or changed (from a pool of names) or removed.
fn network_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0..6usize).prop_flat_map(network_policy)
            .prop_map(|p| Change::Policy(PolicyItem::Network(p))),
        1 => (pick(NAMESPACES), 0..6usize).prop_map(|(ns, i)| Change::PolicyRemoved(
            PolicyKey::Network { namespace: ns.to_owned(), name: format!("p{i}") })),
    ]
}

/// Every profile: the usual ones, those where Calico's Felix decides (`calico`, `canal`),
/// and the conformance profile with each exemption and `ipBlock` reading drawn.
fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::conformance()),
        Just(Profile::cilium()),
        Just(Profile::flannel()),
        Just(Profile::kube_router()),
        Just(Profile::calico()),
        Just(Profile::canal()),
        custom_profile(false),
    ]
}

/// The profiles where Calico's Felix decides.
fn felix_profile() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::calico()), Just(Profile::canal())]
}

/// Label selectors on keys Calico's selectors answer from something other than a pod's
/// own label (or from its own label first): its service account, its namespace and the
/// namespace's labels (`pcns.`), which pods of [`support::calico::felix_cluster`] also
/// carry as labels of their own now and then.
const FELIX_KEYS: &[(&str, &str)] = &[
    ("projectcalico.org/serviceaccount", "api"),
    ("projectcalico.org/namespace", "a"),
    ("pcsa.projectcalico.org/name", "web"),
    ("pcns.app", "x"),
    ("pcns.tier", "y"),
    ("pcns.env", "z"),
    ("pcns.kubernetes.io/metadata.name", "b"),
];

/// A NetworkPolicy as [`network_policy`] makes them, or one whose pod selector, a pod
/// peer or a namespace peer reads a key of [`FELIX_KEYS`].
fn felix_network_policy(index: usize) -> impl Strategy<Value = Policy> {
    prop_oneof![
        2 => network_policy(index),
        1 => (written_policy(index), pick(FELIX_KEYS), 0..3usize, any::<bool>())
            .prop_filter_map("accepted", |(mut w, (key, value), how, egress)| {
                let on_key = Some(LabelSelector {
                    match_labels: Some([(key.to_owned(), value.to_owned())].into()),
                    match_expressions: None,
                });
                let peer = match how {
                    0 => {
                        w.spec.pod_selector = on_key;
                        None
                    }
                    1 => Some(NetworkPolicyPeer {
                        pod_selector: on_key,
                        ..Default::default()
                    }),
                    _ => Some(NetworkPolicyPeer {
                        namespace_selector: Some(LabelSelector {
                            match_labels: Some(
                                [("app".to_owned(), value.to_owned())].into(),
                            ),
                            match_expressions: None,
                        }),
                        pod_selector: on_key,
                        ..Default::default()
                    }),
                };
                if let Some(peer) = peer {
                    if egress {
                        w.spec.egress.get_or_insert_with(Vec::new).push(
                            NetworkPolicyEgressRule { to: Some(vec![peer]), ports: None },
                        );
                    } else {
                        w.spec.ingress.get_or_insert_with(Vec::new).push(
                            NetworkPolicyIngressRule { from: Some(vec![peer]), ports: None },
                        );
                    }
                }
                Policy::new(&w).ok()
            }),
    ]
}

/// A NetworkPolicy added or changed (from [`felix_network_policy`]) or removed.
fn felix_network_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0..6usize).prop_flat_map(felix_network_policy)
            .prop_map(|p| Change::Policy(PolicyItem::Network(p))),
        1 => (pick(NAMESPACES), 0..6usize).prop_map(|(ns, i)| Change::PolicyRemoved(
            PolicyKey::Network { namespace: ns.to_owned(), name: format!("p{i}") })),
    ]
}

/// A label selector reading one namespace label key the namespace generators write,
/// through `pcns.`: equal to a value, or present.
fn on_pcns() -> impl Strategy<Value = LabelSelector> {
    (
        pick(&["app", "tier", "env"]),
        pick(&["x", "y", "z"]),
        any::<bool>(),
    )
        .prop_map(|(k, v, exists)| {
            let key = format!("pcns.{k}");
            if exists {
                LabelSelector {
                    match_labels: None,
                    match_expressions: Some(vec![netpol::model::LabelSelectorRequirement::new(
                        &key,
                        "Exists",
                        Vec::<String>::new(),
                    )]),
                }
            } else {
                LabelSelector {
                    match_labels: Some([(key, v.to_owned())].into()),
                    match_expressions: None,
                }
            }
        })
}

/// A NetworkPolicy named `q{index}` whose pod selector reads a namespace label through
/// `pcns.` (its subject then follows its namespace's labels), with its rules as
/// [`network_policy`] draws them and, now and then, an ingress pod peer on such a key
/// in every namespace.
fn pcns_network_policy(index: usize) -> impl Strategy<Value = Policy> {
    (written_policy(index), on_pcns(), option::of(on_pcns())).prop_filter_map(
        "accepted",
        move |(mut w, subject, peer)| {
            w.metadata.name = Some(format!("q{index}"));
            w.spec.pod_selector = Some(subject);
            if let Some(peer) = peer {
                w.spec
                    .ingress
                    .get_or_insert_with(Vec::new)
                    .push(NetworkPolicyIngressRule {
                        from: Some(vec![NetworkPolicyPeer {
                            namespace_selector: Some(LabelSelector::default()),
                            pod_selector: Some(peer),
                            ..Default::default()
                        }]),
                        ports: None,
                    });
            }
            Policy::new(&w).ok()
        },
    )
}

/// A ClusterNetworkPolicy as [`cluster_policy`] makes them, or one whose subject's or
/// `pods` peer's pod selector reads a namespace label through `pcns.` (which pods of
/// [`support::calico::felix_cluster`] also carry as labels of their own now and then).
fn felix_cluster_policy(index: usize) -> impl Strategy<Value = ClusterPolicy> {
    use netpol::policy::{Action, ClusterPeer, ClusterRule, ClusterTier, Subject};
    let on_pcns =
        || {
            (pick(&["app", "tier", "env"]), pick(&["x", "y", "z"]), any::<bool>()).prop_map(
            |(k, v, exists)| {
                if exists {
                    sel(&format!(
                        r#"{{"matchExpressions": [{{"key": "pcns.{k}", "operator": "Exists"}}]}}"#
                    ))
                } else {
                    sel(&format!(r#"{{"matchLabels": {{"pcns.{k}": "{v}"}}}}"#))
                }
            },
        )
        };
    prop_oneof![
        2 => cluster_policy(index),
        1 => (
            on_pcns(),
            on_pcns(),
            0..3usize,
            any::<bool>(),
            prop_oneof![Just(Action::Allow), Just(Action::Deny), Just(Action::Pass)],
        )
            .prop_map(move |(subject, peer, which, admin, action)| {
                let all = sel("{}");
                let subject_sel = if which == 1 { all.clone() } else { subject };
                let peer_sel = if which == 0 { all.clone() } else { peer };
                let tier = if admin { ClusterTier::Admin } else { ClusterTier::Baseline };
                ClusterPolicy::builder(
                    format!("c{index}"),
                    tier,
                    1,
                    Subject::Pods { namespaces: all.clone(), pods: subject_sel },
                )
                .ingress(ClusterRule::new(
                    action,
                    vec![ClusterPeer::Pods { namespaces: all, pods: peer_sel }],
                ))
                .build()
            }),
    ]
}

/// Calico GlobalNetworkPolicies selecting no pod, one in each tier the generators name,
/// reading every network and port name the generated Calico rules use: with them in the
/// set, the core holds every tier, network and name a generated Calico change needs.
fn calico_catalog() -> Vec<netpol::calico::CalicoPolicy> {
    use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    use support::calico::{NETS_V4, NETS_V6, PORT_NAMES, TIERS};
    TIERS
        .iter()
        .map(|tier| {
            let name = if *tier == "default" {
                "catalog".to_owned()
            } else {
                format!("{tier}.catalog")
            };
            let doc = serde_json::json!({
                "apiVersion": "projectcalico.org/v3",
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": name},
                "spec": {
                    "tier": tier,
                    "selector": "has(catalog)",
                    "types": ["Ingress", "Egress"],
                    "ingress": [
                        {"action": "Allow", "source": {"nets": NETS_V4}},
                        {"action": "Allow", "source": {"nets": NETS_V6}},
                        {"action": "Allow", "protocol": "TCP",
                         "destination": {"ports": PORT_NAMES}},
                    ],
                },
            });
            CalicoPolicy::new(&GlobalNetworkPolicy::from_value(&doc).unwrap()).unwrap()
        })
        .collect()
}

/// A change among Calico policies, against the policies of the moment: one put (added,
/// or replacing the one with its key: namespaced or global, in any tier, with every
/// action and criterion, sometimes for host endpoints only), or one of the set removed
/// (the catalog's aside); or a pod change: a pod of the cluster copied under another
/// name (a kind the core knows), or removed.
#[derive(Debug, Clone)]
enum CalicoStep {
    Put(Box<netpol::calico::CalicoPolicy>),
    Remove(usize),
    CopyPod(usize, usize),
    RemovePod(usize),
    Other(Box<Change>),
}

// Boxed: the nested strategies' frames overflow a test thread's stack in debug builds.
fn calico_step(pods: bool) -> BoxedStrategy<CalicoStep> {
    let pod_weight = if pods { 1 } else { 0 };
    prop_oneof![
        4 => support::calico::placed_policy()
            .prop_map(|p| CalicoStep::Put(Box::new(p)))
            .boxed(),
        2 => (0..12usize).prop_map(CalicoStep::Remove).boxed(),
        pod_weight => (0..8usize, 0..4usize)
            .prop_map(|(i, j)| CalicoStep::CopyPod(i, j))
            .boxed(),
        pod_weight => (0..8usize).prop_map(CalicoStep::RemovePod).boxed(),
    ]
    .boxed()
}

impl CalicoStep {
    /// The change it makes to `live`, if any.
    fn change(&self, live: &LiveEngine) -> Option<Change> {
        let set = live.policies();
        match self {
            CalicoStep::Put(p) => Some(Change::Policy(PolicyItem::Calico(p.as_ref().clone()))),
            CalicoStep::Remove(i) => {
                let list: Vec<_> = set
                    .calico_policies()
                    .iter()
                    .filter(|p| !p.name().ends_with("catalog"))
                    .collect();
                let p = list.get(i % list.len().max(1))?;
                Some(Change::PolicyRemoved(
                    PolicyItem::Calico((*p).clone()).key(),
                ))
            }
            CalicoStep::CopyPod(i, j) => {
                let c = live.cluster();
                let (_, pod) = c.pods().nth(i % c.pod_count().max(1))?;
                let mut spec =
                    PodSpec::new(c.namespace(pod.namespace)?.name.clone(), format!("copy{j}"));
                spec.labels = pod.labels.clone();
                spec.ips = pod.ips.clone();
                spec.node = pod.node.and_then(|n| c.node(n)).map(|n| n.name.clone());
                spec.ports = pod.ports.clone();
                spec.service_account = Some(pod.service_account.clone());
                Some(Change::Pod(spec))
            }
            CalicoStep::Other(c) => Some(c.as_ref().clone()),
            CalicoStep::RemovePod(i) => {
                let c = live.cluster();
                let (_, pod) = c.pods().nth(i % c.pod_count().max(1))?;
                Some(Change::PodRemoved {
                    namespace: c.namespace(pod.namespace)?.name.clone(),
                    name: pod.name.clone(),
                })
            }
        }
    }
}

/// A Calico step, or a NetworkPolicy or ClusterNetworkPolicy change.
fn calico_or_kubernetes_step() -> BoxedStrategy<CalicoStep> {
    prop_oneof![
        3 => calico_step(false),
        2 => felix_network_change()
            .prop_map(|c| CalicoStep::Other(Box::new(c)))
            .boxed(),
        1 => (0..3usize)
            .prop_flat_map(cluster_policy)
            .prop_map(|p: ClusterPolicy| {
                CalicoStep::Other(Box::new(Change::Policy(PolicyItem::Cluster(p))))
            })
            .boxed(),
    ]
    .boxed()
}

/// Whether a Calico policy change to `live` is documented as taken without a rebuild,
/// with [`calico_catalog`] in the set: neither version is for host endpoints only.
fn calico_change_incremental(live: &LiveEngine, c: &Change) -> Option<bool> {
    let find = |key: &PolicyKey| {
        live.policies()
            .calico_policies()
            .iter()
            .find(|p| PolicyItem::Calico((*p).clone()).key() == *key)
    };
    match c {
        Change::Policy(item @ PolicyItem::Calico(p)) => {
            Some(p.applies_to_pods() && find(&item.key()).is_none_or(|old| old.applies_to_pods()))
        }
        Change::PolicyRemoved(key @ PolicyKey::Calico { .. }) => {
            Some(find(key).is_none_or(|old| old.applies_to_pods()))
        }
        _ => None,
    }
}

/// Applies Calico steps one by one to a live engine of `set` and [`calico_catalog`]:
/// each Calico policy change is taken without a rebuild where documented so (and
/// rebuilds otherwise), and after every step the engine equals a fresh build and the
/// reference on every flow; the engine before them is undisturbed.
fn calico_steps(
    profile: &Profile,
    cluster: &Cluster,
    set: PolicySet,
    steps: Vec<CalicoStep>,
) -> Result<(), TestCaseError> {
    let mut start = set;
    for p in calico_catalog() {
        start.push(p);
    }
    let live = LiveEngine::new(cluster, start, profile.clone());
    calico_steps_from(live, profile, steps, true)
}

/// [`calico_steps`] from `live`; with `expect`, the rebuilds each Calico policy change
/// makes are checked too.
fn calico_steps_from(
    mut live: LiveEngine,
    profile: &Profile,
    steps: Vec<CalicoStep>,
    expect: bool,
) -> Result<(), TestCaseError> {
    let first = live.clone();
    for step in steps {
        let Some(c) = step.change(&live) else {
            continue;
        };
        let before = live.stats();
        let expected = calico_change_incremental(&live, &c).filter(|_| expect);
        let removes_nothing = matches!(&c, Change::PolicyRemoved(key)
            if !live.policies().calico_policies().iter()
                .any(|p| PolicyItem::Calico(p.clone()).key() == *key));
        live = match live.apply(c.clone()) {
            Ok(next) => next,
            Err(_) => continue,
        };
        match expected {
            Some(true) => {
                prop_assert_eq!(live.stats().rebuilds, before.rebuilds, "rebuilt on {:?}", c);
                prop_assert_eq!(
                    live.stats().policies,
                    before.policies + u64::from(!removes_nothing),
                    "on {:?}",
                    c
                );
            }
            Some(false) => {
                prop_assert_eq!(live.stats().rebuilds, before.rebuilds + 1, "on {:?}", c);
            }
            None => {}
        }
        check(&live, profile)?;
    }
    check(&first, profile)
}

/// Whether `c` changes the policy set of `live` (a removal of a policy it holds, or any
/// policy put).
fn changes_policies(live: &LiveEngine, c: &Change) -> bool {
    match c {
        Change::Policy(_) => true,
        Change::PolicyRemoved(PolicyKey::Network { namespace, name }) => live
            .policies()
            .network_policies()
            .iter()
            .any(|p| p.namespace() == namespace && p.name() == name),
        Change::PolicyRemoved(PolicyKey::Cluster { name }) => live
            .policies()
            .cluster_policies()
            .iter()
            .any(|p| p.name() == name),
        _ => false,
    }
}

/// The conformance profile with each exemption and `ipBlock` reading drawn; enforcing
/// NetworkPolicy when `enforcing`, else mostly.
fn custom_profile(enforcing: bool) -> impl Strategy<Value = Profile> {
    any::<[bool; 7]>().prop_map(move |b| {
        Profile::conformance()
            .with_name("custom")
            .with_network_policy(enforcing || b[0] || b[1])
            .with_cluster_network_policy(b[1] || b[2])
            .with_ipblock_matches_pods(b[2])
            .with_ipblock_matches_nodes(b[3])
            .with_own_node_exempt(b[4])
            .with_pod_to_own_node_exempt(b[5])
            .with_self_exempt(b[6])
    })
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
        2 => node_change(),
        1 => (0..4usize).prop_map(|i| Change::NodeRemoved(format!("n{i}"))),
        1 => (pick(NAMESPACES), 0..8usize, option::of(0..4usize)).prop_map(|(ns, i, node)| {
            let mut spec = PodSpec::new(ns, format!("pod{i}")).host_network(true);
            spec.node = node.map(|n| format!("n{n}"));
            Change::Pod(spec)
        }),
        3 => (0..4usize).prop_flat_map(network_policy).prop_map(|p| {
            Change::Policy(PolicyItem::Network(p))
        }),
        2 => (pick(NAMESPACES), 0..4usize).prop_map(|(ns, i)| Change::PolicyRemoved(PolicyKey::Network {
            namespace: ns.to_owned(),
            name: format!("p{i}"),
        })),
        1 => (0..3usize).prop_flat_map(cluster_policy).prop_map(|p: ClusterPolicy| {
            Change::Policy(PolicyItem::Cluster(p))
        }),
        1 => (0..3usize).prop_map(|i| Change::PolicyRemoved(PolicyKey::Cluster { name: format!("c{i}") })),
    ]
}

/// Node addresses: those the cluster's nodes start with, one more in the node network
/// (some ipBlocks hold it, one holds 192.168.0.12 only), one in the pod network, one
/// outside, and IPv6 ones in and out of the blocks.
const NODE_IPS: &[&str] = &[
    "192.168.0.11",
    "192.168.0.12",
    "192.168.0.13",
    "10.0.0.5",
    "203.0.113.9",
];
const NODE_V6: &[&str] = &["fd00:ffff::1", "fd00:ffff::2", "fd00::1:9"];

/// A node added or changed (`n0` to `n3`, the cluster starts with the first two), with
/// labels that `nodes` peers select or not, addresses in and out of the ipBlocks.
fn node_change() -> impl Strategy<Value = Change> {
    (
        0..4usize,
        labels(),
        option::of(pick(NODE_IPS)),
        option::of(pick(NODE_V6)),
    )
        .prop_map(|(i, labels, v4, v6)| {
            let mut n = NodeSpec::new(format!("n{i}"));
            n.ips = v4.iter().chain(&v6).map(|s| s.parse().unwrap()).collect();
            n.labels = labels;
            Change::Node(n)
        })
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
    // Host-network pods resolve to the same node.
    for ns in NAMESPACES {
        for i in 0..8 {
            let name = format!("pod{i}");
            let e = live.cluster().resolve_pod(ns, &name);
            let f = fresh_cluster.resolve_pod(ns, &name);
            prop_assert_eq!(
                e.map(|e| live.cluster().describe(e)),
                f.map(|f| fresh_cluster.describe(f))
            );
        }
    }
    let engine = live.engine();
    prop_assert_eq!(engine.policy_count(), fresh.policy_count());
    prop_assert_eq!(engine.ignored_policies(), fresh.ignored_policies());
    prop_assert_eq!(engine.priority_ties(), fresh.priority_ties());
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

/// Applies `steps` (ClusterNetworkPolicy changes, and other changes) one by one to a live
/// engine of `set` and a policy reading every label key, network and port name the
/// generators use: each is taken without a rebuild, and the result equals a fresh build and
/// the reference on every flow.
fn cluster_steps_taken_incrementally(
    profile: &Profile,
    cluster: &Cluster,
    set: &PolicySet,
    steps: Vec<Result<ClusterStep, Change>>,
) -> Result<(), TestCaseError> {
    let mut start: PolicySet = [catalog()].into_iter().collect();
    start.extend(set.network_policies().iter().cloned());
    start.extend(set.cluster_policies().iter().cloned());
    let mut live = LiveEngine::new(cluster, start, profile.clone());
    let mut expected = 0u64;
    for step in steps {
        let c = match step {
            Ok(cnp) => match cnp.change(live.policies()) {
                Some(c) => c,
                None => continue,
            },
            Err(c) => c,
        };
        let counts = changes_policies(&live, &c);
        live = live.apply(c.clone()).unwrap();
        expected += u64::from(counts);
        prop_assert_eq!(live.stats().rebuilds, 0, "rebuilt on {:?}", c);
        prop_assert_eq!(live.stats().policies, expected);
        check(&live, profile)?;
    }
    Ok(())
}

/// Applies `changes` one by one, requiring each to be taken without a rebuild (and counted
/// as a policy change where it is one) and the engine to equal a fresh build and the
/// reference after each; then that the engine before them is undisturbed.
fn apply_incrementally(
    mut live: LiveEngine,
    changes: Vec<Change>,
    profile: &Profile,
) -> Result<(), TestCaseError> {
    let first = live.clone();
    let mut expected = 0u64;
    for c in changes {
        expected += u64::from(changes_policies(&live, &c));
        live = live.apply(c.clone()).unwrap();
        prop_assert_eq!(live.stats().rebuilds, 0, "rebuilt on {:?}", c);
        prop_assert_eq!(live.stats().policies, expected);
        check(&live, profile)?;
    }
    check(&first, profile)
}

proptest! {
    #![proptest_config(config())]

    /// Mostly NetworkPolicy changes, one at a time, under every profile: after each, the
    /// live engine equals a fresh build and the reference on every flow.
    #[test]
    fn policy_changes_one_by_one(
        profile in profile(),
        cluster in cluster(),
        set in start_set(),
        changes in prop::collection::vec(policy_change(), 1..16),
    ) {
        let mut live = LiveEngine::new(&cluster, set, profile.clone());
        let first = live.clone();
        for c in changes {
            match live.apply(c) {
                Ok(next) => live = next,
                Err(_) => continue,
            }
            check(&live, &profile)?;
        }
        check(&first, &profile)?;
    }

    /// With a policy reading every label key, network and port name the generators use,
    /// under profiles enforcing NetworkPolicy (those where Calico's Felix decides
    /// included), and with no other change in between, every NetworkPolicy added, changed
    /// or removed is taken without a rebuild, among namespaces relabelled, added and
    /// removed, taken so where [`namespace_change_expected`] says, and the result still
    /// equals a fresh build and the reference on every flow.
    #[test]
    fn policy_changes_are_taken_incrementally(
        profile in prop_oneof![
            Just(Profile::conformance()),
            Just(Profile::cilium()),
            Just(Profile::kube_router()),
            custom_profile(true),
            felix_profile(),
        ],
        cluster in cluster(),
        set in policy_set(4, 1),
        changes in prop::collection::vec(
            prop_oneof![3 => network_change(), 1 => namespace_change()],
            1..12,
        ),
    ) {
        let mut start: PolicySet = [catalog()].into_iter().collect();
        start.extend(set.network_policies().iter().cloned());
        start.extend(set.cluster_policies().iter().cloned());
        let mut live = LiveEngine::new(&cluster, start, profile.clone());
        let mut expected = 0u64;
        for c in changes {
            let counts = match &c {
                Change::Policy(_) => true,
                Change::PolicyRemoved(PolicyKey::Network { namespace, name }) => live
                    .policies()
                    .network_policies()
                    .iter()
                    .any(|p| p.namespace() == namespace && p.name() == name),
                _ => false,
            };
            let quiet = namespace_change_expected(&live, &profile, &c);
            let rebuilds = live.stats().rebuilds;
            live = live.apply(c.clone()).unwrap();
            expected += u64::from(counts);
            if quiet {
                prop_assert_eq!(live.stats().rebuilds, rebuilds, "rebuilt on {:?}", c);
            }
            prop_assert_eq!(live.stats().policies, expected);
            check(&live, &profile)?;
        }
    }

    /// With a policy reading every label key, network and port name the generators use,
    /// under profiles enforcing ClusterNetworkPolicy (without Calico's Felix), and with no
    /// other change in between, every ClusterNetworkPolicy added, changed (rules, subject,
    /// priority, tier) or removed is taken without a rebuild, among NetworkPolicy changes
    /// also taken so, and the result still equals a fresh build and the reference on
    /// every flow.
    #[test]
    fn cluster_policy_changes_are_taken_incrementally(
        profile in prop_oneof![Just(Profile::conformance()), cluster_enforcing_profile()],
        cluster in cluster(),
        set in policy_set(3, 4),
        steps in prop::collection::vec(
            prop_oneof![
                4 => cluster_step().prop_map(Ok),
                1 => network_change().prop_map(Err),
                1 => namespace_change().prop_map(Err),
            ],
            1..12,
        ),
    ) {
        cluster_steps_taken_incrementally(&profile, &cluster, &set, steps)?;
    }

    /// The same where Calico's Felix decides, with no Calico policy, network set or tier,
    /// among pods with service accounts and labels over Calico's keys (`pcns.` ones
    /// included): ClusterNetworkPolicy rules Calico fails to convert (`nodes` and
    /// `domainNames` peers) included, and subjects and peers whose pod selectors read
    /// namespace labels (`pcns.`); namespaces relabelled, added and removed in between
    /// are taken without a rebuild too.
    #[test]
    fn felix_cluster_policy_changes_are_taken_incrementally(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in policy_set(3, 4),
        steps in prop::collection::vec(
            prop_oneof![
                3 => cluster_step().prop_map(Ok),
                1 => (0..4usize).prop_flat_map(felix_cluster_policy)
                    .prop_map(ClusterStep::Put)
                    .prop_map(Ok),
                1 => felix_network_change().prop_map(Err),
                2 => namespace_change().prop_map(Err),
            ],
            1..12,
        ),
    ) {
        cluster_steps_taken_incrementally(&profile, &cluster, &set, steps)?;
    }

    /// Where Calico's Felix decides, with a policy reading every label key, network and
    /// port name the generators use, and no Calico policy, network set or tier: every
    /// NetworkPolicy added, changed or removed (selectors on Calico's own keys and
    /// `pcns.` labels included, among pods with service accounts and such labels) is
    /// taken without a rebuild, and the result still equals a fresh build and the
    /// reference on every flow.
    #[test]
    fn felix_policy_changes_are_taken_incrementally(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in policy_set(4, 2),
        changes in prop::collection::vec(felix_network_change(), 1..12),
    ) {
        let mut start: PolicySet = [catalog()].into_iter().collect();
        start.extend(set.network_policies().iter().cloned());
        start.extend(set.cluster_policies().iter().cloned());
        apply_incrementally(LiveEngine::new(&cluster, start, profile.clone()), changes, &profile)?;
    }

    /// Where Calico's Felix decides, with a policy reading every label key, network and
    /// port name the generators use, and no Calico policy, network set or tier: every
    /// namespace relabelled (gaining and losing labels the namespace selectors, the
    /// ClusterNetworkPolicy subjects and the `pcns.` pod selectors read), added, or
    /// removed (holding pods or not) is taken without a rebuild, among NetworkPolicy
    /// changes with selectors on `pcns.` keys and pods with `pcns.` labels of their own;
    /// the result still equals a fresh build and the reference on every flow, and the
    /// value before is undisturbed.
    #[test]
    fn felix_namespace_changes_are_taken_incrementally(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in policy_set(4, 3),
        pcns in prop::collection::vec(0..3usize, 0..3)
            .prop_flat_map(|ix| ix.into_iter().map(pcns_network_policy).collect::<Vec<_>>()),
        felix_cnp in option::of(felix_cluster_policy(3)),
        changes in prop::collection::vec(
            prop_oneof![
                3 => namespace_change(),
                1 => felix_network_change(),
                1 => (0..3usize).prop_flat_map(pcns_network_policy)
                    .prop_map(|p| Change::Policy(PolicyItem::Network(p))),
            ],
            1..12,
        ),
    ) {
        let mut start: PolicySet = [catalog()].into_iter().collect();
        start.extend(set.network_policies().iter().cloned());
        start.extend(set.cluster_policies().iter().cloned());
        // One of each name (and namespace).
        let mut names = std::collections::HashSet::new();
        start.extend(
            pcns.into_iter()
                .filter(|p| names.insert((p.namespace().to_owned(), p.name().to_owned()))),
        );
        start.extend(felix_cnp);
        apply_incrementally(LiveEngine::new(&cluster, start, profile.clone()), changes, &profile)?;
    }

    /// Where Calico's Felix decides and the set holds a Calico policy, network set or
    /// tier, a NetworkPolicy or ClusterNetworkPolicy change rebuilds; the result equals a
    /// fresh build and the reference on every flow.
    #[test]
    fn felix_policy_changes_with_calico_objects_rebuild(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in support::calico::felix_policy_set(),
        changes in prop::collection::vec(
            prop_oneof![
                3 => felix_network_change(),
                1 => (0..3usize).prop_flat_map(cluster_policy).prop_map(|p: ClusterPolicy| {
                    Change::Policy(PolicyItem::Cluster(p))
                }),
                1 => (0..3usize).prop_map(|i| Change::PolicyRemoved(PolicyKey::Cluster {
                    name: format!("c{i}"),
                })),
            ],
            1..6,
        ),
    ) {
        prop_assume!(
            !set.calico_policies().is_empty()
                || !set.network_sets().is_empty()
                || !set.tiers().is_empty()
        );
        let mut live = LiveEngine::new(&cluster, set, profile.clone());
        for c in changes {
            let rebuilds = live.stats().rebuilds + u64::from(changes_policies(&live, &c));
            live = live.apply(c.clone()).unwrap();
            prop_assert_eq!(live.stats().rebuilds, rebuilds, "on {:?}", c);
            prop_assert_eq!(live.stats().policies, 0);
            check(&live, &profile)?;
        }
    }

    /// Where Calico's Felix decides, with Calico policies (in several tiers, Pass actions
    /// and tier ends included), network sets, tiers, NetworkPolicies and
    /// ClusterNetworkPolicies in the set: Calico policies added, changed and removed
    /// (namespaced and global, rules on nets, notNets, selectors, notSelectors, namespace
    /// and service account selectors, ports and named ports, on either side) are taken
    /// without a rebuild unless a version is for host endpoints only, and the engine
    /// equals a fresh build and the reference on every flow after each.
    #[test]
    fn calico_policy_changes_are_taken_incrementally(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in support::calico::felix_policy_set(),
        steps in prop::collection::vec(calico_step(false), 1..10),
    ) {
        calico_steps(&profile, &cluster, set, steps)?;
    }

    /// The same among pod changes (pods of a kind the core knows added, pods removed):
    /// pods added under an overlay of Calico policies decide by it.
    #[test]
    fn calico_policy_changes_among_pod_changes(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in support::calico::felix_policy_set(),
        steps in prop::collection::vec(calico_step(true), 1..12),
    ) {
        calico_steps(&profile, &cluster, set, steps)?;
    }

    /// Calico policy changes among NetworkPolicy and ClusterNetworkPolicy changes, from a
    /// set without Calico objects (Kubernetes policies are then changed without a rebuild
    /// until a Calico policy is added since the build): after each, the engine equals a
    /// fresh build and the reference on every flow.
    #[test]
    fn calico_policy_changes_among_kubernetes_changes(
        profile in felix_profile(),
        cluster in support::calico::felix_cluster(),
        set in policy_set(4, 2),
        steps in prop::collection::vec(calico_or_kubernetes_step(), 1..12),
    ) {
        let mut start: PolicySet = [catalog()].into_iter().collect();
        start.extend(set.network_policies().iter().cloned());
        start.extend(set.cluster_policies().iter().cloned());
        let live = LiveEngine::new(&cluster, start, profile.clone());
        calico_steps_from(live, &profile, steps, false)?;
    }

    /// The same in one batch, and in two halves.
    #[test]
    fn policy_changes_in_batches(
        profile in profile(),
        cluster in cluster(),
        set in start_set(),
        changes in prop::collection::vec(policy_change(), 1..16),
    ) {
        let live = LiveEngine::new(&cluster, set, profile.clone());
        let mut step = live.clone();
        let mut ok = Vec::new();
        for c in changes {
            if let Ok(next) = step.apply(c.clone()) {
                step = next;
                ok.push(c);
            }
        }
        let batch = live.apply_all(ok.clone()).unwrap();
        prop_assert!(batch.stats().rebuilds <= 1);
        check(&batch, &profile)?;
        let half = ok.len() / 2;
        let second = ok.split_off(half);
        let halves = live.apply_all(ok).unwrap().apply_all(second).unwrap();
        check(&halves, &profile)?;
    }

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

    /// Node changes under every profile but Felix's, with ClusterNetworkPolicies whose
    /// `nodes` peers select nodes: after each, the live engine equals a fresh build and
    /// the reference on every flow. Those the engine documents as taken without a
    /// rebuild are: a node removed; a node added or changed to the labels and addresses
    /// of a node there (no selector tells them apart, the addresses hold the same
    /// prefix-map values); a node that no enforced `nodes` selector matches, where
    /// ipBlocks match node addresses or no ClusterNetworkPolicy is enforced.
    #[test]
    fn node_changes_are_taken_incrementally(
        profile in profile(),
        cluster in cluster(),
        set in policy_set(3, 2),
        ops in prop::collection::vec((0..3usize, 0..4usize, 0..4usize, node_change()), 1..12),
    ) {
        let mut live = LiveEngine::new(&cluster, set, profile.clone());
        let mut rebuilds = 0;
        for (op, from, to, free) in ops {
            let c = live.cluster();
            let (change, expected) = match op {
                0 => (Change::NodeRemoved(format!("n{from}")), true),
                1 => {
                    // Node `n{to}` made like `n{from}` (added when not there).
                    let Some(x) = c.node_id(&format!("n{from}")).and_then(|id| c.node(id))
                    else {
                        continue;
                    };
                    let mut spec = NodeSpec::new(format!("n{to}"));
                    spec.labels = x.labels.clone();
                    spec.ips = x.ips.clone();
                    (Change::Node(spec), true)
                }
                _ => {
                    let Change::Node(spec) = &free else { unreachable!() };
                    let selected = profile.enforces_cluster_network_policy()
                        && live.policies().cluster_policies().iter().any(|p| {
                            [netpol::policy::Direction::Ingress, netpol::policy::Direction::Egress]
                                .into_iter()
                                .flat_map(|d| p.rules(d))
                                .flat_map(|r| r.peers())
                                .any(|peer| matches!(peer,
                                    netpol::policy::ClusterPeer::Nodes(s) if s.matches(&spec.labels)))
                        });
                    // Under Felix only a known node's entry is taken (documented).
                    let expected = !profile.enforces_calico_policy()
                        && (!profile.enforces_cluster_network_policy()
                            || (!selected && profile.ipblock_matches_nodes()));
                    (free, expected)
                }
            };
            live = live.apply(change.clone()).unwrap();
            if expected {
                prop_assert_eq!(live.stats().rebuilds, rebuilds, "rebuilt on {:?}", change);
            }
            rebuilds = live.stats().rebuilds;
            check(&live, &profile)?;
        }
    }

    /// Node changes where Calico's Felix decides (with ClusterNetworkPolicies and Calico
    /// policies): after each, the live engine decides and explains every flow as a fresh
    /// build does (the Calico properties hold fresh builds equal to the reference).
    #[test]
    fn node_changes_under_felix(
        cluster in support::calico::felix_cluster(),
        set in support::calico::felix_policy_set(),
        changes in prop::collection::vec(
            prop_oneof![
                3 => node_change(),
                1 => (0..4usize).prop_map(|i| Change::NodeRemoved(format!("n{i}"))),
                1 => namespace_change(),
            ],
            1..10,
        ),
    ) {
        let profile = Profile::calico();
        let mut live = LiveEngine::new(&cluster, set, profile.clone());
        for c in changes {
            live = live.apply(c).unwrap();
            let fresh_cluster = live.cluster().to_builder().build().unwrap();
            let fresh = Engine::builder()
                .profile(profile.clone())
                .build(&fresh_cluster, live.policies());
            for flow in all_flows_with_domains(&fresh_cluster) {
                let mapped = Flow {
                    src: same_endpoint(&fresh_cluster, flow.src, live.cluster()),
                    dst: same_endpoint(&fresh_cluster, flow.dst, live.cluster()),
                    ..flow
                };
                prop_assert_eq!(live.engine().decide(mapped), fresh.decide(flow));
                prop_assert_eq!(
                    live.engine().explain(mapped),
                    fresh.explain(flow),
                    "after {:?}",
                    live.stats()
                );
            }
        }
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

fn np(json: &str) -> Policy {
    Policy::new(&NetworkPolicy::from_json(json).unwrap()).unwrap()
}

/// NetworkPolicies added, changed and removed are applied without a rebuild when their
/// selectors, ipBlocks and named ports need nothing new of the core, and with one
/// otherwise; the values before are undisturbed.
#[test]
fn policy_changes_are_incremental() {
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .pod(
            PodSpec::new("a", "web")
                .label("app", "web")
                .ip(ip("10.0.0.1"))
                .port(ContainerPort::named("http", 8080, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("a", "db")
                .label("app", "db")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("a", "other")
                .label("app", "other")
                .label("role", "x")
                .ip(ip("10.0.0.3"))
                .port(ContainerPort::named("grpc", 9000, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("b", "client")
                .label("app", "client")
                .ip(ip("10.9.1.5")),
        )
        .build()
        .unwrap();
    let db = np(r#"{"metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                                       {"ipBlock": {"cidr": "10.9.0.0/16", "except": ["10.9.1.0/24"]}}],
                              "ports": [{"port": 5432}, {"port": "http"}]}]}}"#);
    let set: PolicySet = [db].into_iter().collect();
    let profile = Profile::default();
    let live = LiveEngine::new(&cluster, set, profile.clone());
    let allowed = |l: &LiveEngine, from: (&str, &str), to: (&str, &str), port: u16| {
        let c = l.cluster();
        let a = Endpoint::Pod(c.pod_id(from.0, from.1).unwrap());
        let b = Endpoint::Pod(c.pod_id(to.0, to.1).unwrap());
        l.engine()
            .decide(Flow::new(a, b, port, Protocol::Tcp))
            .is_allowed()
    };
    assert!(!allowed(&live, ("b", "client"), ("a", "db"), 5432));

    // Added: a known key, namespaces by label, a named port no pod declares, an ipBlock of
    // networks the map holds.
    let client = np(r#"{"metadata": {"name": "client", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "y"}},
                                        "podSelector": {"matchLabels": {"app": "client"}}}],
                              "ports": [{"port": 5432}, {"port": "metrics"}]},
                             {"from": [{"ipBlock": {"cidr": "10.9.1.0/24"}}], "ports": [{"port": 6379}]}]}}"#);
    let step1 = live
        .apply(Change::Policy(PolicyItem::Network(client)))
        .unwrap();
    assert_eq!((step1.stats().policies, step1.stats().rebuilds), (1, 0));
    assert!(allowed(&step1, ("b", "client"), ("a", "db"), 5432));
    assert!(allowed(&step1, ("b", "client"), ("a", "db"), 6379));
    check(&step1, &profile).unwrap();

    // Changed (one more port), an egress policy in the other namespace, and the first one
    // removed (the one after it is renumbered).
    let db2 = np(r#"{"metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                              "ports": [{"port": 5432}, {"port": 5433}]}]}}"#);
    let egress = np(r#"{"metadata": {"name": "out", "namespace": "b"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": "10.9.0.0/16"}}]},
                            {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "db"}}}],
                             "ports": [{"port": "http"}]}]}}"#);
    let step2 = step1
        .apply_all([
            Change::Policy(PolicyItem::Network(db2)),
            Change::Policy(PolicyItem::Network(egress)),
        ])
        .unwrap();
    assert_eq!((step2.stats().policies, step2.stats().rebuilds), (3, 0));
    assert!(allowed(&step2, ("a", "web"), ("a", "db"), 5433));
    assert!(!allowed(&step2, ("b", "client"), ("a", "web"), 80));
    check(&step2, &profile).unwrap();
    let step3 = step2
        .apply(Change::PolicyRemoved(PolicyKey::Network {
            namespace: "a".into(),
            name: "db".into(),
        }))
        .unwrap();
    assert_eq!((step3.stats().policies, step3.stats().rebuilds), (4, 0));
    assert_eq!(step3.engine().policy_count(), 2);
    assert!(!allowed(&step3, ("a", "web"), ("a", "db"), 5433));
    check(&step3, &profile).unwrap();
    // A pod of a known kind still joins without a rebuild, in the changed classes.
    let step4 = step3
        .apply(Change::Pod(
            PodSpec::new("b", "client-2")
                .label("app", "client")
                .ip(ip("10.9.1.6")),
        ))
        .unwrap();
    assert_eq!(step4.stats().rebuilds, 0);
    let c = step4.cluster();
    let ingress_of = |from: &str| {
        let flow = Flow::new(
            Endpoint::Pod(c.pod_id("b", from).unwrap()),
            Endpoint::Pod(c.pod_id("a", "db").unwrap()),
            5432,
            Protocol::Tcp,
        );
        step4
            .engine()
            .decide_direction(flow, netpol::policy::Direction::Ingress)
            .is_allowed()
    };
    assert!(ingress_of("client-2") && ingress_of("client"));
    // Its egress policy allows 10.9.0.0/16 and named port `http` only.
    assert!(!allowed(&step4, ("b", "client-2"), ("a", "db"), 5432));
    check(&step4, &profile).unwrap();

    // What needs more of the core rebuilds: a label key no selector read, an ipBlock over
    // a network the map lacks, a port name a pod declares that no rule named.
    let rebuilds = [
        r#"{"metadata": {"name": "role", "namespace": "a"},
            "spec": {"podSelector": {"matchLabels": {"role": "x"}}}}"#,
        r#"{"metadata": {"name": "net", "namespace": "a"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.9.2.0/24"}}]}]}}"#,
        r#"{"metadata": {"name": "named", "namespace": "a"},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "grpc"}]}]}}"#,
    ];
    for json in rebuilds {
        let next = step4
            .apply(Change::Policy(PolicyItem::Network(np(json))))
            .unwrap();
        assert_eq!(next.stats().rebuilds, 1, "{json}");
        check(&next, &profile).unwrap();
    }

    // A pod learned equivalent to a known identity (no selector told `app: cache` from
    // `app: other`) until a policy tells them apart: that one rebuilds.
    let step5 = step4
        .apply(Change::Pod(
            PodSpec::new("a", "cache")
                .label("app", "cache")
                .ip(ip("10.0.0.5")),
        ))
        .unwrap();
    assert_eq!(step5.stats().rebuilds, 0);
    let cache = np(r#"{"metadata": {"name": "cache", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "cache"}}, "policyTypes": ["Ingress"]}}"#);
    let step6 = step5
        .apply(Change::Policy(PolicyItem::Network(cache)))
        .unwrap();
    assert_eq!(step6.stats().rebuilds, 1);
    assert!(!allowed(&step6, ("a", "web"), ("a", "cache"), 80));
    assert!(allowed(&step6, ("a", "web"), ("a", "other"), 80));
    check(&step6, &profile).unwrap();

    // The values before are untouched.
    assert!(!allowed(&live, ("b", "client"), ("a", "db"), 5432));
    assert_eq!(live.engine().policy_count(), 1);
    check(&live, &profile).unwrap();
    check(&step1, &profile).unwrap();
}

/// What incremental NetworkPolicy changes add to the core is only reclaimed by a build:
/// past a budget, a change rebuilds instead, and the changes after it are incremental
/// again.
#[test]
fn policy_changes_rebuild_past_their_budget() {
    let cluster = Cluster::builder()
        .pod(
            PodSpec::new("a", "web")
                .label("app", "web")
                .ip(ip("10.0.0.1")),
        )
        .pod(
            PodSpec::new("a", "db")
                .label("app", "db")
                .ip(ip("10.0.0.2")),
        )
        .build()
        .unwrap();
    let version = |port: u16| {
        np(&format!(
            r#"{{"metadata": {{"name": "db", "namespace": "a"}},
            "spec": {{"podSelector": {{"matchLabels": {{"app": "db"}}}},
                     "ingress": [{{"from": [{{"podSelector": {{"matchLabels": {{"app": "web"}}}}}}],
                                  "ports": [{{"port": {port}}}]}}]}}}}"#
        ))
    };
    let profile = Profile::default();
    let set: PolicySet = [version(1000)].into_iter().collect();
    let mut live = LiveEngine::new(&cluster, set, profile.clone());
    let mut changes = 0u64;
    while live.stats().rebuilds == 0 {
        assert!(changes < 100_000, "no rebuild after {changes} changes");
        changes += 1;
        live = live
            .apply(Change::Policy(PolicyItem::Network(version(
                1000 + (changes % 100) as u16,
            ))))
            .unwrap();
    }
    assert_eq!(live.stats().policies, changes - 1);
    check(&live, &profile).unwrap();
    let next = live
        .apply(Change::Policy(PolicyItem::Network(version(80))))
        .unwrap();
    assert_eq!((next.stats().policies, next.stats().rebuilds), (changes, 1));
    check(&next, &profile).unwrap();
}

/// An address, from its text.
fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

/// The selector of the namespaces labelled `team: t`.
fn team(t: &str) -> netpol::selector::Selector {
    sel(&format!(r#"{{"matchLabels": {{"team": "{t}"}}}}"#))
}

fn sel(json: &str) -> netpol::selector::Selector {
    let written: LabelSelector = serde_json::from_str(json).unwrap();
    netpol::selector::Selector::new(&written).unwrap()
}

/// ClusterNetworkPolicies added, changed (priority, tier, rules) and removed are applied
/// without a rebuild when their selectors, networks and named ports need nothing new of
/// the core, and with one otherwise; the values before are undisturbed.
#[test]
fn cluster_policy_changes_are_incremental() {
    use netpol::policy::{Action, ClusterPeer, ClusterPort, ClusterRule, ClusterTier, Subject};
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .add_node(
            NodeSpec::new("n1")
                .label("zone", "z1")
                .ip(ip("192.168.0.11")),
        )
        .pod(
            PodSpec::new("a", "web")
                .label("app", "web")
                .ip(ip("10.0.0.1"))
                .node("n1")
                .port(ContainerPort::named("http", 8080, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("a", "db")
                .label("app", "db")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("b", "client")
                .label("app", "client")
                .label("role", "x")
                .ip(ip("10.9.1.5"))
                .port(ContainerPort::named("grpc", 9000, Protocol::Tcp)),
        )
        .build()
        .unwrap();
    let app = |a: &str| sel(&format!(r#"{{"matchLabels": {{"app": "{a}"}}}}"#));
    let pods = |t: &str, a: &str| ClusterPeer::Pods {
        namespaces: team(t),
        pods: app(a),
    };
    let net = |s: &str| ClusterPeer::Networks(vec![s.parse().unwrap()]);
    let guard = |tier: ClusterTier, priority: u32, action: Action| {
        ClusterPolicy::builder(
            "guard",
            tier,
            priority,
            Subject::Pods {
                namespaces: team("x"),
                pods: app("db"),
            },
        )
        .ingress(
            ClusterRule::new(action, vec![pods("y", "client")])
                .with_ports(vec![ClusterPort::Named("http".into())]),
        )
        .ingress(ClusterRule::new(
            Action::Deny,
            vec![ClusterPeer::Namespaces(team("y"))],
        ))
        .egress(ClusterRule::new(Action::Allow, vec![net("10.9.0.0/16")]))
        .build()
    };
    let base = ClusterPolicy::builder(
        "base",
        ClusterTier::Admin,
        5,
        Subject::Namespaces(team("x")),
    )
    .egress(ClusterRule::new(
        Action::Pass,
        vec![ClusterPeer::Nodes(sel("{}")), net("10.9.0.0/16")],
    ))
    .egress(ClusterRule::new(Action::Deny, vec![net("0.0.0.0/0")]))
    .build();
    let db = np(r#"{"metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"ipBlock": {"cidr": "10.9.0.0/16"}}],
                              "ports": [{"port": "http"}]}]}}"#);
    let set: PolicySet = [base.clone()].into_iter().collect();
    let mut set = set;
    set.extend([db]);
    let profile = Profile::default();
    let live = LiveEngine::new(&cluster, set, profile.clone());
    let mut steps = vec![
        // Added: tied with `base`, a Pass chain in front of it, every peer kind.
        Change::Policy(PolicyItem::Cluster(guard(
            ClusterTier::Admin,
            5,
            Action::Allow,
        ))),
        Change::Policy(PolicyItem::Cluster(guard(
            ClusterTier::Admin,
            1,
            Action::Pass,
        ))),
        Change::Policy(PolicyItem::Cluster(guard(
            ClusterTier::Baseline,
            1,
            Action::Deny,
        ))),
        Change::Policy(PolicyItem::Cluster(
            ClusterPolicy::builder("dns", ClusterTier::Admin, 5, Subject::Namespaces(sel("{}")))
                .egress(ClusterRule::new(
                    Action::Allow,
                    vec![ClusterPeer::DomainNames(vec![
                        "*.example.com".parse().unwrap(),
                    ])],
                ))
                .egress(ClusterRule::new(
                    Action::Deny,
                    vec![ClusterPeer::Nodes(sel(
                        r#"{"matchLabels": {"zone": "z1"}}"#,
                    ))],
                ))
                .build(),
        )),
        Change::PolicyRemoved(PolicyKey::Cluster {
            name: "base".into(),
        }),
        Change::Policy(PolicyItem::Cluster(base)),
        Change::PolicyRemoved(PolicyKey::Cluster {
            name: "guard".into(),
        }),
    ];
    let mut step = live.clone();
    for (i, c) in steps.drain(..).enumerate() {
        step = step.apply(c).unwrap();
        assert_eq!(
            (step.stats().policies, step.stats().rebuilds),
            (i as u64 + 1, 0),
            "step {i}"
        );
        check(&step, &profile).unwrap();
    }

    // What needs more of the core rebuilds: a label key no selector read, a network the
    // map lacks, a port name a pod declares that no rule named.
    let rebuilds = [
        ClusterPolicy::builder(
            "role",
            ClusterTier::Admin,
            1,
            Subject::Pods {
                namespaces: sel("{}"),
                pods: sel(r#"{"matchLabels": {"role": "x"}}"#),
            },
        )
        .ingress(ClusterRule::new(
            Action::Deny,
            vec![ClusterPeer::Namespaces(sel("{}"))],
        ))
        .build(),
        ClusterPolicy::builder("net", ClusterTier::Admin, 1, Subject::Namespaces(sel("{}")))
            .egress(ClusterRule::new(Action::Deny, vec![net("10.9.2.0/24")]))
            .build(),
        ClusterPolicy::builder(
            "named",
            ClusterTier::Admin,
            1,
            Subject::Namespaces(sel("{}")),
        )
        .ingress(
            ClusterRule::new(Action::Deny, vec![ClusterPeer::Namespaces(sel("{}"))])
                .with_ports(vec![ClusterPort::Named("grpc".into())]),
        )
        .build(),
    ];
    for p in rebuilds {
        let name = p.name().to_owned();
        let next = step.apply(Change::Policy(PolicyItem::Cluster(p))).unwrap();
        assert_eq!(next.stats().rebuilds, 1, "{name}");
        check(&next, &profile).unwrap();
    }
    // Where the profile does not enforce them, ClusterNetworkPolicy changes rebuild.
    let cilium = LiveEngine::new(&cluster, live.policies().clone(), Profile::cilium());
    let next = cilium
        .apply(Change::PolicyRemoved(PolicyKey::Cluster {
            name: "base".into(),
        }))
        .unwrap();
    assert_eq!(next.stats().rebuilds, 1);
    check(&next, &Profile::cilium()).unwrap();
    // The values before are untouched.
    check(&live, &profile).unwrap();
}

/// A tier compiled anew runs its policies' rules one policy after the other, where a
/// build merges rules of one action across policies: the same decisions, with Pass rules
/// between them, a policy moved in front of and behind the others, and classes found
/// again when a change is undone.
#[test]
fn cluster_tier_programs_join_policies() {
    use netpol::policy::{Action, ClusterPeer, ClusterRule, ClusterTier, Subject};
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .namespace("c", [("team", "z")])
        .pod(
            PodSpec::new("a", "web")
                .label("app", "web")
                .ip(ip("10.0.0.1")),
        )
        .pod(
            PodSpec::new("a", "db")
                .label("app", "db")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("b", "client")
                .label("app", "client")
                .ip(ip("10.0.1.1")),
        )
        .pod(
            PodSpec::new("c", "other")
                .label("app", "other")
                .ip(ip("10.0.2.1")),
        )
        .build()
        .unwrap();
    let ns = |t: &str| ClusterPeer::Namespaces(team(t));
    let all = || ClusterPeer::Namespaces(sel("{}"));
    let cnp = |name: &str,
               priority: u32,
               subject: Subject,
               ingress: Vec<ClusterRule>,
               egress: Vec<ClusterRule>| {
        let mut b = ClusterPolicy::builder(name, ClusterTier::Admin, priority, subject);
        for r in ingress {
            b = b.ingress(r);
        }
        for r in egress {
            b = b.egress(r);
        }
        b.build()
    };
    let everyone = || Subject::Namespaces(sel("{}"));
    let p1 = cnp(
        "p1",
        1,
        everyone(),
        vec![ClusterRule::new(Action::Pass, vec![ns("y")])],
        vec![ClusterRule::new(Action::Allow, vec![ns("x")])],
    );
    let p2 = cnp(
        "p2",
        2,
        Subject::Namespaces(team("x")),
        vec![
            ClusterRule::new(Action::Deny, vec![ns("z")]),
            ClusterRule::new(Action::Allow, vec![ns("x")]),
        ],
        vec![ClusterRule::new(Action::Pass, vec![ns("z")])],
    );
    let p3 = cnp(
        "p3",
        4,
        everyone(),
        vec![
            ClusterRule::new(Action::Allow, vec![ns("y")]),
            ClusterRule::new(Action::Deny, vec![all()]),
        ],
        vec![ClusterRule::new(Action::Deny, vec![ns("z")])],
    );
    // Allow rules right after p2's last one, and a Deny after p1's Allow.
    let q = |priority: u32, subject: Subject| {
        cnp(
            "q",
            priority,
            subject,
            vec![ClusterRule::new(Action::Allow, vec![ns("y")])],
            vec![
                ClusterRule::new(Action::Allow, vec![ns("z")]),
                ClusterRule::new(Action::Deny, vec![ns("y")]),
            ],
        )
    };
    let db = np(r#"{"metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"namespaceSelector": {}}]}]}}"#);
    let mut set: PolicySet = [p1, p2.clone(), p3].into_iter().collect();
    set.extend([db]);
    let profile = Profile::default();
    let live = LiveEngine::new(&cluster, set, profile.clone());
    let steps = vec![
        Change::Policy(PolicyItem::Cluster(q(3, Subject::Namespaces(team("x"))))),
        Change::Policy(PolicyItem::Cluster(q(0, Subject::Namespaces(team("x"))))),
        Change::Policy(PolicyItem::Cluster(q(3, Subject::Namespaces(team("x"))))),
        Change::Policy(PolicyItem::Cluster(q(3, everyone()))),
        Change::PolicyRemoved(PolicyKey::Cluster { name: "p2".into() }),
        Change::Policy(PolicyItem::Cluster(p2)),
        Change::Policy(PolicyItem::Cluster(q(5, everyone()))),
        Change::PolicyRemoved(PolicyKey::Cluster { name: "q".into() }),
    ];
    let mut step = live.clone();
    for (i, c) in steps.into_iter().enumerate() {
        step = step.apply(c).unwrap();
        assert_eq!(
            (step.stats().policies, step.stats().rebuilds),
            (i as u64 + 1, 0),
            "step {i}"
        );
        check(&step, &profile).unwrap();
    }
    check(&live, &profile).unwrap();
}

/// Removing a node makes stale the ids of that node and of the last one (moved into its
/// place), and no other; pods keep their node as it was named; no rebuild.
#[test]
fn node_removal_keeps_other_node_ids() {
    let cluster = Cluster::builder()
        .node("n0", [ip("192.168.0.10")])
        .node("n1", [ip("192.168.0.11")])
        .node("n2", [ip("192.168.0.12")])
        .pod(PodSpec::new("a", "p0").ip(ip("10.0.0.1")).node("n0"))
        .pod(PodSpec::new("a", "p1").ip(ip("10.0.0.2")).node("n1"))
        .pod(PodSpec::new("a", "p2").ip(ip("10.0.0.3")).node("n2"))
        .build()
        .unwrap();
    let live = LiveEngine::new(&cluster, PolicySet::new(), Profile::default());
    let ids: Vec<_> = ["n0", "n1", "n2"]
        .iter()
        .map(|n| cluster.node_id(n).unwrap())
        .collect();
    let next = live.apply(Change::NodeRemoved("n0".into())).unwrap();
    assert_eq!(next.stats().rebuilds, 0);
    let c = next.cluster();
    let p = |name: &str| c.pod_id("a", name).unwrap();
    let flow = |n| Flow::new(Endpoint::Node(n), Endpoint::Pod(p("p1")), 80, Protocol::Tcp);
    assert!(next.engine().try_decide(flow(ids[1])).is_ok());
    assert_eq!(c.node(ids[1]).unwrap().name, "n1");
    assert!(next.engine().try_decide(flow(ids[0])).is_err());
    assert!(next.engine().try_decide(flow(ids[2])).is_err());
    assert!(c.node(ids[0]).is_none() && c.node(ids[2]).is_none());
    let node_of = |name: &str| {
        c.pod(p(name))
            .unwrap()
            .node
            .and_then(|n| c.node(n))
            .map(|n| n.name.clone())
    };
    assert_eq!(node_of("p0"), None);
    assert_eq!(node_of("p1").as_deref(), Some("n1"));
    assert_eq!(node_of("p2").as_deref(), Some("n2"));
    assert_eq!(c.node_id("n2").unwrap().index(), 0);
    // The old value still answers its own ids.
    assert!(live.engine().try_decide(flow(ids[2])).is_ok());
    assert_eq!(live.cluster().node(ids[2]).unwrap().name, "n2");
}

/// Namespaces relabelled and removed without a rebuild: when no namespace selector
/// answers otherwise, when some do (NetworkPolicy peers, ClusterNetworkPolicy subjects
/// and peers: those policies are compiled again), when one is removed holding pods (it
/// stays, unlabelled) and when one holding none is removed (the last namespace moves into
/// its place: the ids of those two go stale, the others stay valid). Under Felix too, with
/// no Calico object in the set; with one, a relabel rebuilds.
#[test]
fn namespace_changes_are_incremental() {
    use netpol::policy::{Action, ClusterPeer, ClusterRule, ClusterTier, Subject};
    let cluster = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .namespace("empty", [("team", "x")])
        .namespace("c", [("team", "z")])
        .pod(
            PodSpec::new("a", "db")
                .label("app", "db")
                .ip(ip("10.0.0.1")),
        )
        .pod(
            PodSpec::new("b", "client")
                .label("app", "client")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("c", "other")
                .label("app", "client")
                .ip(ip("10.0.0.3")),
        )
        .build()
        .unwrap();
    let db = np(r#"{"metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "y"}},
                                        "podSelector": {"matchLabels": {"app": "client"}}}]}]}}"#);
    let guard = ClusterPolicy::builder(
        "guard",
        ClusterTier::Admin,
        1,
        Subject::Namespaces(team("z")),
    )
    .egress(ClusterRule::new(
        Action::Deny,
        vec![ClusterPeer::Namespaces(team("x"))],
    ))
    .build();
    let mut set: PolicySet = [guard].into_iter().collect();
    set.extend([db]);
    let profile = Profile::default();
    let live = LiveEngine::new(&cluster, set.clone(), profile.clone());
    let relabel = |name: &str, labels: &[(&str, &str)]| Change::Namespace {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let steps = [
        // No selector reads `owner`.
        relabel("b", &[("team", "y"), ("owner", "me")]),
        // `c`'s client becomes a peer of the NetworkPolicy, and leaves the subject of
        // the ClusterNetworkPolicy.
        relabel("c", &[("team", "y")]),
        // `a` leaves the ClusterNetworkPolicy's peers.
        relabel("a", &[("team", "w")]),
        // `b` becomes its subject.
        relabel("b", &[("team", "z")]),
        // Removed while holding a pod: it stays, with no label but its name.
        Change::NamespaceRemoved("c".into()),
        // A namespace with no pod, relabelled.
        relabel("empty", &[("team", "y")]),
    ];
    let mut step = live.clone();
    for (i, c) in steps.into_iter().enumerate() {
        step = step.apply(c).unwrap();
        assert_eq!(
            (step.stats().incremental, step.stats().rebuilds),
            (i as u64 + 1, 0),
            "step {i}"
        );
        check(&step, &profile).unwrap();
    }
    assert!(step.cluster().namespace_id("c").is_some());
    // Removed with no pod: the last namespace (`c`) moves into its place.
    let ids: Vec<_> = ["a", "b", "empty", "c"]
        .iter()
        .map(|n| step.cluster().namespace_id(n).unwrap())
        .collect();
    let other = step.cluster().pod_id("c", "other").unwrap();
    let next = step
        .apply(Change::NamespaceRemoved("empty".into()))
        .unwrap();
    assert_eq!(next.stats().rebuilds, 0);
    check(&next, &profile).unwrap();
    let c = next.cluster();
    assert_eq!(c.namespace_count(), 3);
    assert!(c.namespace(ids[0]).is_some() && c.namespace(ids[1]).is_some());
    assert!(c.namespace(ids[2]).is_none() && c.namespace(ids[3]).is_none());
    let moved = c.namespace_id("c").unwrap();
    assert_eq!(moved.index(), ids[2].index());
    // Pod ids stay valid; the moved namespace's pods name it by its new id.
    assert_eq!(c.pod(other).unwrap().namespace, moved);
    assert_eq!(c.pod_namespace_name(other), "c");
    // Pods added to the moved namespace afterwards are of the kinds it had.
    let more = next
        .apply_all([
            Change::Pod(
                PodSpec::new("c", "other-2")
                    .label("app", "client")
                    .ip(ip("10.0.0.4")),
            ),
            relabel("c", &[("team", "x")]),
            Change::NamespaceRemoved("a".into()),
            Change::PodRemoved {
                namespace: "a".into(),
                name: "db".into(),
            },
            Change::NamespaceRemoved("a".into()),
        ])
        .unwrap();
    assert_eq!(more.stats().rebuilds, 0);
    check(&more, &profile).unwrap();
    // The values before are untouched.
    check(&live, &profile).unwrap();
    assert_eq!(step.cluster().namespace(ids[2]).unwrap().name, "empty");
    // Under Felix, namespace labels are pod labels (`pcns.`): the same steps, and a
    // NetworkPolicy whose subject reads its namespace's labels, are taken likewise.
    let felix_profile = Profile::calico();
    let by_team = np(r#"{"metadata": {"name": "by-team", "namespace": "b"},
        "spec": {"podSelector": {"matchLabels": {"pcns.team": "z"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"pcns.team": "x"}},
                                        "namespaceSelector": {}}]}]}}"#);
    let mut felix_set = set.clone();
    felix_set.extend([by_team]);
    let felix = LiveEngine::new(&cluster, felix_set.clone(), felix_profile.clone());
    let steps = [
        relabel("b", &[("team", "y"), ("owner", "me")]),
        relabel("c", &[("team", "y")]),
        relabel("a", &[("team", "w")]),
        // `b`'s pods enter the subject of `by-team` and of the ClusterNetworkPolicy.
        relabel("b", &[("team", "z")]),
        // `c`'s pods become peers of `by-team`.
        relabel("c", &[("team", "x")]),
        // `b`'s pods leave the subject of `by-team` and of the ClusterNetworkPolicy.
        relabel("b", &[("team", "y")]),
        Change::NamespaceRemoved("c".into()),
        relabel("empty", &[("team", "y")]),
        Change::NamespaceRemoved("empty".into()),
    ];
    let mut step = felix.clone();
    for (i, c) in steps.into_iter().enumerate() {
        step = step.apply(c).unwrap();
        assert_eq!(
            (step.stats().incremental, step.stats().rebuilds),
            (i as u64 + 1, 0),
            "Felix, step {i}"
        );
        check(&step, &felix_profile).unwrap();
    }
    // The moved namespace's identities are filed under its new id (with their service
    // account): a pod of a known kind joins it without a rebuild, and one of a
    // namespace added at its old id is a new kind.
    let client = |ns: &str, name: &str, addr: &str| {
        Change::Pod(PodSpec::new(ns, name).label("app", "client").ip(ip(addr)))
    };
    let joined = step.apply(client("c", "other-2", "10.0.0.4")).unwrap();
    assert_eq!(joined.stats().rebuilds, 0);
    check(&joined, &felix_profile).unwrap();
    let added = joined
        .apply_all([
            relabel("e", &[("team", "x")]),
            client("e", "new", "10.0.0.5"),
        ])
        .unwrap();
    assert_eq!(added.stats().rebuilds, 1);
    check(&added, &felix_profile).unwrap();
    check(&felix, &felix_profile).unwrap();
    // With a Calico object in the set, a relabel still rebuilds (Calico's selectors read
    // namespace labels on network sets, and its rules may test the local pod).
    let set = netpol::calico::CalicoNetworkSet::new(&netpol::calico::NetworkSet::new(
        "b",
        "n",
        ["10.9.0.1"],
    ))
    .unwrap();
    let with_set = felix
        .apply(Change::Policy(PolicyItem::NetworkSet(set)))
        .unwrap();
    let rebuilds = with_set.stats().rebuilds;
    let next = with_set.apply(relabel("b", &[("team", "z")])).unwrap();
    assert_eq!(next.stats().rebuilds, rebuilds + 1);
    check(&next, &felix_profile).unwrap();
}

/// ClusterNetworkPolicy changes in a row, each taken without a rebuild and each leaving
/// the live engine equal to a fresh build and the reference on every flow, explanations
/// included: a policy numbered at the build changed, then changed again; policies added
/// in Admin and in Baseline, with `Pass` rules, selecting pods that policies of the build
/// select in that tier and pods they do not; a policy numbered at the build removed, and
/// one added since; NetworkPolicy changes in between.
#[test]
fn cluster_policy_changes_in_a_row() {
    use netpol::policy::{Action, ClusterPeer, ClusterPort, ClusterRule, ClusterTier, Subject};
    use netpol::selector::Selector;
    let sel = |text: &str| Selector::new(&netpol::selector::parse(text).unwrap()).unwrap();
    let port = |n: u16| ClusterPort::range(Protocol::Tcp, n, n).unwrap();
    let cnp = |name: &str,
               tier: ClusterTier,
               priority: u32,
               subject: Subject,
               ingress: Vec<ClusterRule>,
               egress: Vec<ClusterRule>| {
        support::tiers::assemble(name.to_owned(), tier, priority, subject, ingress, egress)
    };
    let mut builder = Cluster::builder()
        .namespace("a", [("team", "x")])
        .namespace("b", [("team", "y")])
        .namespace("c", [("team", "z")]);
    let mut n = 1;
    for ns in ["a", "b", "c"] {
        for app in ["web", "db"] {
            builder = builder.pod(
                PodSpec::new(ns, format!("{app}-1"))
                    .label("app", app)
                    .ip(format!("10.0.0.{n}").parse().unwrap())
                    .port(ContainerPort::named("http", 8080, Protocol::Tcp)),
            );
            n += 1;
        }
    }
    let cluster = builder.build().unwrap();
    let profile = Profile::conformance();
    let start: PolicySet = [
        cnp(
            "guard",
            ClusterTier::Admin,
            10,
            Subject::Namespaces(sel("team=x")),
            vec![
                ClusterRule::new(Action::Pass, vec![ClusterPeer::Namespaces(sel("team=y"))])
                    .with_ports(vec![port(80)]),
                ClusterRule::new(Action::Deny, vec![ClusterPeer::Namespaces(sel("team=z"))]),
            ],
            vec![ClusterRule::new(
                Action::Deny,
                vec![ClusterPeer::Networks(vec!["10.9.0.0/16".parse().unwrap()])],
            )],
        ),
        cnp(
            "open",
            ClusterTier::Admin,
            20,
            Subject::Namespaces(sel("team in (x,y)")),
            vec![ClusterRule::new(
                Action::Allow,
                vec![ClusterPeer::Namespaces(sel("team=x"))],
            )],
            Vec::new(),
        ),
        cnp(
            "floor",
            ClusterTier::Baseline,
            5,
            Subject::Pods {
                namespaces: sel("team=x"),
                pods: sel("app=db"),
            },
            vec![ClusterRule::new(
                Action::Deny,
                vec![ClusterPeer::Namespaces(Selector::everything())],
            )],
            Vec::new(),
        ),
    ]
    .into_iter()
    .collect();
    let mut set = start;
    set.extend([catalog()]);
    let mut live = LiveEngine::new(&cluster, set, profile.clone());
    check(&live, &profile).unwrap();
    let steps: Vec<Change> = vec![
        // Numbered at the build, changed: its rules now allow ahead of a pass.
        Change::Policy(PolicyItem::Cluster(cnp(
            "guard",
            ClusterTier::Admin,
            10,
            Subject::Namespaces(sel("team=x")),
            vec![
                ClusterRule::new(Action::Allow, vec![ClusterPeer::Namespaces(sel("team=z"))])
                    .with_ports(vec![ClusterPort::Named("http".into())]),
                ClusterRule::new(Action::Pass, vec![ClusterPeer::Namespaces(sel("team=y"))]),
            ],
            Vec::new(),
        ))),
        // Changed again: another priority (after `open`) and subject.
        Change::Policy(PolicyItem::Cluster(cnp(
            "guard",
            ClusterTier::Admin,
            30,
            Subject::Namespaces(sel("team in (x,z)")),
            vec![
                ClusterRule::new(Action::Deny, vec![ClusterPeer::Namespaces(sel("team=x"))])
                    .with_ports(vec![port(80)]),
                ClusterRule::new(Action::Pass, vec![ClusterPeer::Namespaces(sel("team=y"))]),
            ],
            vec![ClusterRule::new(
                Action::Pass,
                vec![ClusterPeer::Namespaces(sel("team=y"))],
            )],
        ))),
        // Added in Baseline, selecting pods with and without Baseline rules of the build.
        Change::Policy(PolicyItem::Cluster(cnp(
            "late",
            ClusterTier::Baseline,
            1,
            Subject::Namespaces(Selector::everything()),
            vec![
                ClusterRule::new(Action::Pass, vec![ClusterPeer::Namespaces(sel("team=z"))]),
                ClusterRule::new(Action::Allow, vec![ClusterPeer::Namespaces(sel("team=y"))]),
            ],
            vec![ClusterRule::new(
                Action::Deny,
                vec![ClusterPeer::Pods {
                    namespaces: Selector::everything(),
                    pods: sel("app=db"),
                }],
            )],
        ))),
        // Added in Admin, first in walk order, selecting pods no Admin policy did.
        Change::Policy(PolicyItem::Cluster(cnp(
            "first",
            ClusterTier::Admin,
            0,
            Subject::Pods {
                namespaces: sel("team=z"),
                pods: sel("app=web"),
            },
            vec![ClusterRule::new(
                Action::Pass,
                vec![ClusterPeer::Namespaces(sel("team=x"))],
            )],
            vec![ClusterRule::new(
                Action::Allow,
                vec![ClusterPeer::Namespaces(sel("team=y"))],
            )],
        ))),
        Change::Policy(PolicyItem::Network(np(
            r#"{"metadata": {"name": "iso", "namespace": "b"},
                "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                         "ingress": [{"from": [{"podSelector": {}}]}]}}"#,
        ))),
        // Numbered at the build, removed.
        Change::PolicyRemoved(PolicyKey::Cluster {
            name: "floor".into(),
        }),
        // Added since, removed.
        Change::PolicyRemoved(PolicyKey::Cluster {
            name: "late".into(),
        }),
        // The one changed twice, moved to Baseline.
        Change::Policy(PolicyItem::Cluster(cnp(
            "guard",
            ClusterTier::Baseline,
            0,
            Subject::Namespaces(sel("team=y")),
            vec![ClusterRule::new(
                Action::Deny,
                vec![ClusterPeer::Namespaces(Selector::everything())],
            )],
            Vec::new(),
        ))),
    ];
    for (k, c) in steps.into_iter().enumerate() {
        live = live.apply(c.clone()).unwrap();
        assert_eq!(live.stats().rebuilds, 0, "rebuilt on step {k}: {c:?}");
        check(&live, &profile).unwrap_or_else(|e| panic!("step {k}: {c:?}: {e}"));
    }
}

fn gnp(doc: serde_json::Value) -> netpol::calico::CalicoPolicy {
    use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    CalicoPolicy::new(&GlobalNetworkPolicy::from_value(&doc).unwrap()).unwrap()
}

/// Calico policies added, changed and removed where Felix decides are applied without a
/// rebuild, deciding and explaining as a fresh build: rules on the local pod, named ports
/// counting only for the pods a destination selector matches where it also matches a
/// network set, and a policy for host endpoints only, which rebuilds.
#[test]
fn calico_policy_changes_are_incremental() {
    use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    use serde_json::json;
    let cluster = Cluster::builder()
        .pod(
            PodSpec::new("a", "web")
                .label("app", "web")
                .ip(ip("10.0.0.1"))
                .port(ContainerPort::named("http", 8080, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("a", "client")
                .label("app", "client")
                .ip(ip("10.0.0.2")),
        )
        .pod(
            PodSpec::new("b", "other")
                .label("app", "client")
                .ip(ip("10.0.0.9")),
        )
        .build()
        .unwrap();
    let set_doc = json!({"metadata": {"name": "ext", "labels": {"role": "ext"}},
                         "spec": {"nets": ["10.0.0.1/32"]}});
    let mut set = PolicySet::new();
    set.push(CalicoNetworkSet::new(&GlobalNetworkSet::from_value(&set_doc).unwrap()).unwrap());
    // Names the port and the networks the changes use.
    set.push(gnp(json!({"metadata": {"name": "catalog"}, "spec": {
        "selector": "has(catalog)",
        "ingress": [{"action": "Allow", "protocol": "TCP",
                     "source": {"nets": ["10.0.0.0/30", "10.0.0.8/29"]},
                     "destination": {"ports": ["http"]}}]}})));
    let profile = Profile::calico();
    let mut live = LiveEngine::new(&cluster, set, profile.clone());
    let flow = |live: &LiveEngine, from: (&str, &str), to: (&str, &str), port: u16| {
        let c = live.cluster();
        let f = Flow::new(
            Endpoint::Pod(c.pod_id(from.0, from.1).unwrap()),
            Endpoint::Pod(c.pod_id(to.0, to.1).unwrap()),
            port,
            Protocol::Tcp,
        );
        live.engine().decide(f).is_allowed()
    };
    let put = |live: &LiveEngine, doc: serde_json::Value| {
        let next = live
            .apply(Change::Policy(PolicyItem::Calico(gnp(doc))))
            .unwrap();
        check(&next, &profile).unwrap();
        next
    };
    // The destination selector matches the network set holding web's address, and not
    // web: its named port does not count for web.
    live = put(
        &live,
        json!({"metadata": {"name": "deny-http"}, "spec": {
            "order": 1, "selector": "app == 'client'", "types": ["Egress"],
            "egress": [
                {"action": "Deny", "protocol": "TCP",
                 "destination": {"selector": "role == 'ext'", "ports": ["http"]}},
                {"action": "Allow"}]}}),
    );
    assert!(flow(&live, ("a", "client"), ("a", "web"), 8080));
    // Selecting web too, it counts.
    live = put(
        &live,
        json!({"metadata": {"name": "deny-http"}, "spec": {
            "order": 1, "selector": "app == 'client'", "types": ["Egress"],
            "egress": [
                {"action": "Deny", "protocol": "TCP",
                 "destination": {"selector": "role == 'ext' || app == 'web'",
                                 "ports": ["http"]}},
                {"action": "Allow"}]}}),
    );
    assert!(!flow(&live, ("a", "client"), ("a", "web"), 8080));
    assert!(flow(&live, ("a", "client"), ("a", "web"), 8081));
    // A rule on the local pod: only clients whose own address is in 10.0.0.0/30.
    live = put(
        &live,
        json!({"metadata": {"name": "local"}, "spec": {
            "order": 0, "selector": "app == 'client'", "types": ["Egress"],
            "egress": [{"action": "Allow", "source": {"nets": ["10.0.0.0/30"]}}]}}),
    );
    assert!(flow(&live, ("a", "client"), ("a", "web"), 8080));
    assert!(!flow(&live, ("b", "other"), ("a", "web"), 8080));
    live = live
        .apply(Change::PolicyRemoved(PolicyKey::Calico {
            namespace: None,
            name: "local".into(),
        }))
        .unwrap();
    check(&live, &profile).unwrap();
    assert!(!flow(&live, ("b", "other"), ("a", "web"), 8080));
    assert_eq!(live.stats().rebuilds, 0);
    assert_eq!(live.stats().policies, 4);
    // For host endpoints only: a rebuild.
    live = put(
        &live,
        json!({"metadata": {"name": "host"}, "spec": {
            "selector": "all()", "doNotTrack": true, "applyOnForward": true,
            "ingress": [{"action": "Deny"}]}}),
    );
    assert_eq!(live.stats().rebuilds, 1);
}
