//! Compiling Calico's policies (and, under Felix, Kubernetes NetworkPolicy and
//! ClusterNetworkPolicy) the way Felix renders them: labels as Calico gives them to pods
//! and network sets, the selectors of the Kubernetes kinds as Calico converts them
//! ([`Converted`]), tiers and policy order as Felix sorts them, and every rule as a
//! condition on the other side's atom (its peer row) and on the local pod (folded into the
//! class's mask). A named port whose side's selector also matches network sets counts only
//! for the pods that selector matches, as Felix's named-port IP sets hold only endpoints
//! (the compiler qualifies such names).

use ahash::AHashMap as HashMap;
use std::cmp::Ordering;

use crate::calico::selector::{LabelMap, Selector as CalicoSelector};
use crate::calico::{CalicoNetworkSet, CalicoPolicy, CalicoPolicyKind, EntityMatch, PortValue};
use crate::cluster::Cluster;
use crate::explain::TierRef;
use crate::model::Labels;
use crate::policy::{
    Action, ClusterPeer, ClusterTier, Direction, PolicyKind, PolicySetRef, Protocol, Subject,
};
use crate::profile::Profile;
use crate::selector::Selector as K8sSelector;

use super::bitset::Bitset;
use super::blocks::BlockIndex;
use super::compile::{AtomKind, Atoms, Identities, Ordered, Source};
use super::rule_index::PortFacts;
use super::{PolicyMeta, TierEnd, TierInfo};

/// A pod's labels as Calico's selectors see them (`workload_endpoint_default.go`,
/// `conversion.go`, `label_inheritance_index.go`): its own labels with
/// `projectcalico.org/namespace`, `projectcalico.org/orchestrator` and (for a service
/// account name shorter than 63 characters) `projectcalico.org/serviceaccount` written
/// over them, then its namespace's labels under `pcns.` with
/// `pcns.projectcalico.org/name`, then `pcsa.projectcalico.org/name`.
pub(crate) struct PodLabels<'a> {
    pub(crate) own: &'a Labels,
    pub(crate) namespace: &'a str,
    /// The namespace's labels, when the namespace exists.
    pub(crate) namespace_labels: Option<&'a Labels>,
    pub(crate) account: &'a str,
}

/// Calico's serviceaccount label is set only for names shorter than this.
const MAX_ACCOUNT_LABEL: usize = 63;

impl LabelMap for PodLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        match key {
            "projectcalico.org/namespace" => return Some(self.namespace),
            "projectcalico.org/orchestrator" => return Some("k8s"),
            "projectcalico.org/serviceaccount"
                if !self.account.is_empty() && self.account.len() < MAX_ACCOUNT_LABEL =>
            {
                return Some(self.account);
            }
            _ => {}
        }
        if let Some(v) = self.own.get(key) {
            return Some(v);
        }
        if let Some(k) = key.strip_prefix("pcns.") {
            let ns = self.namespace_labels?;
            if k == "projectcalico.org/name" {
                return Some(self.namespace);
            }
            return ns.get(k).map(String::as_str);
        }
        if key == "pcsa.projectcalico.org/name" && !self.account.is_empty() {
            return Some(self.account);
        }
        None
    }
}

/// A network set's labels as Calico's selectors see them (`networksetprocessor.go`): its
/// own, with `projectcalico.org/namespace` written over them for a namespaced set, then its
/// namespace's labels under `pcns.`.
pub(crate) struct SetLabels<'a> {
    pub(crate) own: &'a Labels,
    pub(crate) namespace: Option<&'a str>,
    pub(crate) namespace_labels: Option<&'a Labels>,
}

impl LabelMap for SetLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        if key == "projectcalico.org/namespace" {
            if let Some(ns) = self.namespace {
                return Some(ns);
            }
        }
        if let Some(v) = self.own.get(key) {
            return Some(v);
        }
        let ns = self.namespace?;
        let k = key.strip_prefix("pcns.")?;
        let labels = self.namespace_labels?;
        if k == "projectcalico.org/name" {
            return Some(ns);
        }
        labels.get(k).map(String::as_str)
    }
}

/// The labels of a network set as Calico's selectors see them.
pub(super) fn set_labels<'s>(cluster: &'s Cluster, set: &'s CalicoNetworkSet) -> SetLabels<'s> {
    let namespace_labels = set
        .namespace()
        .and_then(|ns| cluster.namespace_id(ns))
        .and_then(|id| cluster.namespace(id))
        .map(|n| &n.labels);
    SetLabels {
        own: set.labels(),
        namespace: set.namespace(),
        namespace_labels,
    }
}

/// Whether a Kubernetes label selector holds for labels as Calico's selectors see them,
/// each key read under `prefix` (the text Calico writes for it, `k8sSelectorToCalico`,
/// means the same: `==`, `in`, `not in`, `has` and `! has`).
fn k8s_holds(sel: &K8sSelector, labels: &impl LabelMap, prefix: &str) -> bool {
    if prefix.is_empty() {
        return sel
            .requirements()
            .iter()
            .all(|r| r.holds_for(labels.label(&r.key)));
    }
    // One key buffer for every requirement.
    let mut key = String::new();
    sel.requirements().iter().all(|r| {
        key.clear();
        key.push_str(prefix);
        key.push_str(&r.key);
        r.holds_for(labels.label(&key))
    })
}

/// Whether Calico's view of a pod ([`PodLabels`]) may answer `key` from something other
/// than the pod's own label of that key: its namespace, orchestrator or service account
/// (`projectcalico.org/...`), its namespace's labels (`pcns.`), its service account's
/// name (`pcsa.`).
pub(super) fn special_key(key: &str) -> bool {
    key.starts_with("projectcalico.org/") || key.starts_with("pcns.") || key.starts_with("pcsa.")
}

/// What a Kubernetes selector pair (a NetworkPolicy's or ClusterNetworkPolicy's subject
/// or peer) means once Calico has converted it (`conversion.go`, `clusternetworkpolicy.go`)
/// and its update processor has namespaced it (`getEndpointSelector`), over an
/// endpoint's labels as Felix sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Converted<'s> {
    /// `projectcalico.org/namespace == '<ns>'`: a NetworkPolicy's own namespace.
    pub(super) namespace: Option<&'s str>,
    /// A namespace selector: `{}` becomes `all()`, which Calico rewrites to "is in a
    /// namespace"; any other has its keys read under `pcns.` (a pod's own `pcns.` labels
    /// first, then its namespace's).
    pub(super) namespaces: Option<&'s K8sSelector>,
    /// A pod selector: `projectcalico.org/orchestrator == 'k8s'` and the selector's keys
    /// as they are.
    pub(super) pods: Option<&'s K8sSelector>,
}

impl<'s> Converted<'s> {
    /// A NetworkPolicy's subject: `projectcalico.org/orchestrator == 'k8s'` and its pod
    /// selector, in its own namespace.
    pub(super) fn network_subject(p: &'s crate::policy::Policy) -> Self {
        Converted {
            namespace: Some(p.namespace()),
            namespaces: None,
            pods: Some(p.pod_selector()),
        }
    }

    /// A NetworkPolicy pod peer of a policy of namespace `policy_ns`: its namespace
    /// selector (under `pcns.`) or, without one, the policy's namespace, and its pod
    /// selector.
    pub(super) fn network_peer(
        policy_ns: &'s str,
        namespaces: Option<&'s K8sSelector>,
        pods: &'s K8sSelector,
    ) -> Self {
        Converted {
            namespace: namespaces.is_none().then_some(policy_ns),
            namespaces,
            pods: Some(pods),
        }
    }

    /// A ClusterNetworkPolicy's subject: its namespace selector (under `pcns.`) and its
    /// pod selector, or the orchestrator term alone.
    pub(super) fn cluster_subject(subject: &'s Subject) -> Self {
        match subject {
            Subject::Namespaces(sel) => Converted {
                namespace: None,
                namespaces: Some(sel),
                pods: None,
            },
            Subject::Pods { namespaces, pods } => Converted {
                namespace: None,
                namespaces: Some(namespaces),
                pods: Some(pods),
            },
        }
    }

    /// A ClusterNetworkPolicy `namespaces` or `pods` peer as Calico converts it (a bare
    /// namespace selector, or that and a pod selector); `None` for the other peers.
    pub(super) fn cluster_peer(peer: &'s ClusterPeer) -> Option<Self> {
        match peer {
            ClusterPeer::Namespaces(sel) => Some(Converted {
                namespace: None,
                namespaces: Some(sel),
                pods: None,
            }),
            ClusterPeer::Pods { namespaces, pods } => Some(Converted {
                namespace: None,
                namespaces: Some(namespaces),
                pods: Some(pods),
            }),
            _ => None,
        }
    }

    /// Whether it matches an endpoint with these labels (as Felix sees them).
    pub(super) fn holds(&self, labels: &impl LabelMap) -> bool {
        self.namespace
            .is_none_or(|ns| labels.label("projectcalico.org/namespace") == Some(ns))
            && self.namespaces.is_none_or(|sel| {
                if sel.is_everything() {
                    labels.label("projectcalico.org/namespace").is_some()
                } else {
                    k8s_holds(sel, labels, "pcns.")
                }
            })
            && self.pods.is_none_or(|sel| {
                labels.label("projectcalico.org/orchestrator") == Some("k8s")
                    && k8s_holds(sel, labels, "")
            })
    }

    /// Whether it may read a label of an endpoint's namespace for which `changed` holds:
    /// its namespace selector's keys (under `pcns.`, but `{}`, which reads only whether
    /// there is a namespace) and its pod selector's keys under `pcns.`, but
    /// `pcns.projectcalico.org/name` (the namespace's name) in both. A namespace
    /// relabelled only on keys for which it reads none changes no answer of it.
    pub(super) fn reads_namespace_label(&self, changed: impl Fn(&str) -> bool) -> bool {
        let read = |key: &str| key != "projectcalico.org/name" && changed(key);
        self.namespaces.is_some_and(|sel| {
            !sel.is_everything() && sel.requirements().iter().any(|r| read(&r.key))
        }) || self.pods.is_some_and(|sel| {
            sel.requirements()
                .iter()
                .any(|r| r.key.strip_prefix("pcns.").is_some_and(read))
        })
    }

    /// Whether it answers otherwise for an endpoint of namespace `namespace` with its own
    /// labels `own` and service account `account` when the namespace's labels are `old`
    /// and when they are `new` (Felix's view of the endpoint, [`PodLabels`], in both).
    pub(super) fn answers_otherwise(
        &self,
        own: &Labels,
        namespace: &str,
        account: &str,
        [old, new]: [&Labels; 2],
    ) -> bool {
        let holds = |namespace_labels: &Labels| {
            self.holds(&PodLabels {
                own,
                namespace,
                namespace_labels: Some(namespace_labels),
                account,
            })
        };
        holds(old) != holds(new)
    }

    /// The pod selector, when it reads only keys pods carry as they are (none that
    /// [`special_key`] names): it then holds for a pod exactly when it matches the pod's
    /// own labels (the orchestrator term holds for every pod).
    pub(super) fn plain_pods(&self) -> Option<&'s K8sSelector> {
        self.pods
            .filter(|sel| !sel.requirements().iter().any(|r| special_key(&r.key)))
    }

    /// Whether the namespace part (the namespace name and the namespace selector) holds
    /// for the pods of namespace `name` with labels `labels`, when no pod has a label
    /// under `pcns.` of its own: that part then reads only the namespace.
    fn namespace_part_holds(&self, name: &str, labels: &Labels) -> bool {
        let empty = Labels::new();
        let probe = PodLabels {
            own: &empty,
            namespace: name,
            namespace_labels: Some(labels),
            account: "",
        };
        Converted {
            namespace: self.namespace,
            namespaces: self.namespaces,
            pods: None,
        }
        .holds(&probe)
    }

    /// The identities whose pods it matches, over an index of them by namespace, in
    /// increasing order within each namespace, namespaces in index order (the build's
    /// and the live engine's incremental updates share it). `namespaces`: per namespace
    /// index, its name and labels; `pcns_free`: no identity has a label under `pcns.` of
    /// its own; `all(ns)`: the identities of namespace `ns`; `select(ns, sel, f)` calls
    /// `f` with those whose own labels `sel` matches; `holds(ns, id)`: whether it holds
    /// for identity `id` of namespace `ns`, tested on Felix's view of its pods.
    ///
    /// Only the namespaces its namespace part can match are read: the one named, and,
    /// when no identity has a `pcns.` label of its own, those whose labels the namespace
    /// selector matches (it then answers alike for every pod of a namespace). Within
    /// them, candidates come from `select` when the pod selector reads only keys pods
    /// carry as they are; each candidate is then tested with `holds`, unless both
    /// shortcuts decide it already.
    pub(super) fn select_indexed<'i>(
        &self,
        namespaces: &[(&str, &Labels)],
        pcns_free: bool,
        all: impl Fn(usize) -> Option<&'i [u32]>,
        mut select: impl FnMut(usize, &K8sSelector, &mut dyn FnMut(u32)),
        holds: impl Fn(usize, u32) -> bool,
        mut f: impl FnMut(u32),
    ) {
        let plain = self.plain_pods();
        // Whether the candidates are the answer as they are: the namespace part decided
        // per namespace (or by name), the pod selector by the pods' own labels.
        let exact =
            (self.namespaces.is_none() || pcns_free) && (self.pods.is_none() || plain.is_some());
        for (ns, (name, ns_labels)) in namespaces.iter().enumerate() {
            if self.namespace.is_some_and(|n| n != *name) {
                continue;
            }
            if pcns_free && self.namespaces.is_some() && !self.namespace_part_holds(name, ns_labels)
            {
                continue;
            }
            match (plain, exact) {
                (Some(sel), true) => select(ns, sel, &mut f),
                (Some(sel), false) => select(ns, sel, &mut |id| {
                    if holds(ns, id) {
                        f(id);
                    }
                }),
                (None, true) => all(ns).unwrap_or(&[]).iter().for_each(|id| f(*id)),
                (None, false) => all(ns)
                    .unwrap_or(&[])
                    .iter()
                    .filter(|id| holds(ns, **id))
                    .for_each(|id| f(*id)),
            }
        }
    }

    /// The identities whose pods it matches (through the identities' label index, see
    /// [`select_indexed`](Self::select_indexed)).
    pub(super) fn identities(&self, identities: &Identities<'_>) -> Bitset {
        let mut set = Bitset::new(identities.len());
        self.select_indexed(
            &identities.namespace_info,
            identities.pcns_free,
            |ns| identities.of_namespace_index(ns),
            |ns, sel, f| identities.select(ns, sel, f),
            |_, id| pod_labels(identities, id as usize).is_some_and(|l| self.holds(&l)),
            |id| set.insert(id as usize),
        );
        set
    }

    /// The block ids of the nets of the network sets it matches (a bare namespace
    /// selector matches namespaced sets through their namespace's labels, and global
    /// sets, which have none, when only negative requirements are written).
    pub(super) fn set_blocks(&self, cluster: &Cluster, sets: &[NetSet<'_>]) -> Vec<u32> {
        let mut out = Vec::new();
        for s in sets {
            if self.holds(&set_labels(cluster, s.set)) {
                out.extend(s.blocks.iter().copied());
            }
        }
        out
    }
}

/// The labels of identity `id` as Calico sees them.
pub(super) fn pod_labels<'a>(identities: &Identities<'a>, id: usize) -> Option<PodLabels<'a>> {
    let (ns, own) = identities.list.get(id).copied()?;
    let (namespace, namespace_labels) = identities.namespace_info.get(ns).copied()?;
    Some(PodLabels {
        own,
        namespace,
        namespace_labels: Some(namespace_labels),
        account: identities.accounts.get(id).copied().unwrap_or("default"),
    })
}

/// What a Calico rule needs from the prefix map, collected before it is built.
#[derive(Debug, Clone, Default)]
pub(super) struct SideDraft<'a> {
    /// Block ids of `nets` and `notNets`.
    pub(super) nets: Vec<u32>,
    pub(super) not_nets: Vec<u32>,
    pub(super) members: Option<&'a CalicoSelector>,
    pub(super) not_members: Option<&'a CalicoSelector>,
}

impl SideDraft<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.nets.is_empty()
            && self.not_nets.is_empty()
            && self.members.is_none()
            && self.not_members.is_none()
    }
}

/// A Calico rule, read into what the rule index needs, before atoms exist.
#[derive(Debug, Clone)]
pub(super) struct CalicoDraft<'a> {
    pub(super) action: Action,
    pub(super) ports: PortFacts,
    pub(super) families: [bool; 2],
    /// The other side (source in ingress, destination in egress).
    pub(super) remote: SideDraft<'a>,
    /// The local pod (destination in ingress, source in egress).
    pub(super) local: SideDraft<'a>,
    /// Criteria a flow cannot decide.
    pub(super) unsupported: bool,
}

/// A network set as the compiler keeps it.
#[derive(Debug, Clone)]
pub(super) struct NetSet<'a> {
    set: &'a CalicoNetworkSet,
    /// Block ids of its nets.
    blocks: Vec<u32>,
}

/// The order Calico gives every Kubernetes NetworkPolicy it converts (a
/// ClusterNetworkPolicy's is its priority).
pub(super) const KUBERNETES_NP_ORDER: u32 = 1000;

/// Felix's key of a converted Kubernetes policy, which orders the policies of one tier at
/// one order: `name/namespace/KubernetesNetworkPolicy` for a NetworkPolicy,
/// `name//KubernetesClusterNetworkPolicy` for a ClusterNetworkPolicy.
pub(super) fn kubernetes_key(meta: &PolicyMeta) -> String {
    let kind = match meta.kind {
        PolicyKind::NetworkPolicy => "KubernetesNetworkPolicy",
        _ => "KubernetesClusterNetworkPolicy",
    };
    format!(
        "{}/{}/{kind}",
        meta.name,
        meta.namespace.as_deref().unwrap_or("")
    )
}

/// The tiers and policies in Felix's walk order: tiers by (existing first, order, name),
/// policies of a tier by (order, absent last; then the bytes of `name/namespace/kind`).
/// Kubernetes NetworkPolicy sits in `default` at order 1000 (kind
/// `KubernetesNetworkPolicy`), ClusterNetworkPolicy in `kube-admin` or `kube-baseline` at
/// its priority (`KubernetesClusterNetworkPolicy`). Policies of kinds the profile does not
/// enforce, and Calico policies for host endpoints only (`doNotTrack`, `preDNAT`), are
/// returned apart.
pub(super) fn ordered_felix<'a>(
    set: PolicySetRef<'a>,
    profile: &Profile,
) -> (Vec<TierInfo>, Ordered<'a>, Ordered<'a>) {
    // (name, order, default action, exists)
    let mut tiers: Vec<(String, f64, Action, bool)> = ["kube-admin", "default", "kube-baseline"]
        .iter()
        .filter_map(|n| crate::calico::CalicoTier::builtin(n))
        .map(|t| (t.name().to_owned(), t.order(), t.default_action(), true))
        .collect();
    for t in set.tiers() {
        let entry = (t.name().to_owned(), t.order(), t.default_action(), true);
        match tiers.iter_mut().find(|x| x.0 == t.name()) {
            Some(slot) => *slot = entry,
            None => tiers.push(entry),
        }
    }

    struct Entry<'a> {
        tier: String,
        order: Option<f64>,
        key: String,
        meta: PolicyMeta,
        source: Source<'a>,
    }
    let meta =
        |kind, index, namespace: Option<&str>, name: &str, tier: &str, priority| PolicyMeta {
            kind,
            index,
            namespace: namespace.map(Into::into),
            name: name.into(),
            tier: TierRef::from_calico(tier),
            tier_pos: 0,
            priority,
        };
    let mut entries: Vec<Entry<'a>> = Vec::new();
    let mut ignored: Ordered<'a> = Vec::new();
    for (i, p) in set.network_policies().iter().enumerate() {
        let m = meta(
            PolicyKind::NetworkPolicy,
            i,
            Some(p.namespace()),
            p.name(),
            "default",
            0,
        );
        if !profile.enforces_network_policy() {
            ignored.push((m, Source::Network(p)));
            continue;
        }
        entries.push(Entry {
            tier: "default".into(),
            order: Some(f64::from(KUBERNETES_NP_ORDER)),
            key: kubernetes_key(&m),
            meta: m,
            source: Source::Network(p),
        });
    }
    for (i, p) in set.cluster_policies().iter().enumerate() {
        let tier = match p.tier() {
            ClusterTier::Admin => "kube-admin",
            ClusterTier::Baseline => "kube-baseline",
        };
        let m = meta(
            PolicyKind::ClusterNetworkPolicy,
            i,
            None,
            p.name(),
            tier,
            p.priority(),
        );
        if !profile.enforces_cluster_network_policy() {
            ignored.push((m, Source::Cluster(p)));
            continue;
        }
        entries.push(Entry {
            tier: tier.into(),
            order: Some(f64::from(p.priority())),
            key: kubernetes_key(&m),
            meta: m,
            source: Source::Cluster(p),
        });
    }
    for (i, p) in set.calico_policies().iter().enumerate() {
        let kind = match p.kind() {
            CalicoPolicyKind::Namespaced => PolicyKind::CalicoNetworkPolicy,
            _ => PolicyKind::GlobalNetworkPolicy,
        };
        let m = meta(kind, i, p.namespace(), p.name(), p.tier(), 0);
        if !p.applies_to_pods() {
            ignored.push((m, Source::Calico(p)));
            continue;
        }
        entries.push(Entry {
            tier: p.tier().to_owned(),
            order: p.order(),
            key: p.sort_key(),
            meta: m,
            source: Source::Calico(p),
        });
    }
    // Tiers that policies name but no Tier object defines: after every existing tier,
    // with an empty default action, which Felix renders as a drop.
    for e in &entries {
        if !tiers.iter().any(|t| t.0 == e.tier) {
            tiers.push((e.tier.clone(), f64::INFINITY, Action::Deny, false));
        }
    }
    tiers.sort_by(|a, b| {
        b.3.cmp(&a.3)
            .then(a.1.total_cmp(&b.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    let position = |name: &str| tiers.iter().position(|t| t.0 == name).unwrap_or(0);
    entries.sort_by(|a, b| {
        position(&a.tier)
            .cmp(&position(&b.tier))
            .then_with(|| order_cmp(a.order, b.order))
            .then_with(|| a.key.as_bytes().cmp(b.key.as_bytes()))
    });
    let enforced = entries
        .into_iter()
        .map(|mut e| {
            e.meta.tier_pos = u32::try_from(position(&e.tier)).unwrap_or(0);
            (e.meta, e.source)
        })
        .collect();
    let tiers = tiers
        .into_iter()
        .map(|(name, _, action, _)| TierInfo {
            tier: TierRef::from_calico(&name),
            end: if action == Action::Pass {
                TierEnd::Pass
            } else {
                TierEnd::Deny
            },
        })
        .collect();
    (tiers, enforced, ignored)
}

/// Felix's policy order: ascending, an absent order after every present one.
pub(super) fn order_cmp(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The identities a Calico policy applies to for a direction.
pub(super) fn subject(
    identities: &Identities<'_>,
    policy: &CalicoPolicy,
    direction: Direction,
) -> Option<Bitset> {
    if !policy.governs(direction) || !policy.applies_to_pods() {
        return None;
    }
    let sel = policy.endpoint_selector();
    let mut set = Bitset::new(identities.len());
    for id in 0..identities.len() {
        if pod_labels(identities, id).is_some_and(|l| sel.matches(&l)) {
            set.insert(id);
        }
    }
    (!set.is_empty()).then_some(set)
}

/// The identities whose pods a Calico selector matches.
pub(super) fn selected_identities(identities: &Identities<'_>, sel: &CalicoSelector) -> Bitset {
    let mut set = Bitset::new(identities.len());
    for id in 0..identities.len() {
        if pod_labels(identities, id).is_some_and(|l| sel.matches(&l)) {
            set.insert(id);
        }
    }
    set
}

/// Whether a Calico selector matches some network set.
pub(super) fn meets_sets(cluster: &Cluster, sets: &[NetSet<'_>], sel: &CalicoSelector) -> bool {
    sets.iter()
        .any(|s| sel.matches(&set_labels(cluster, s.set)))
}

/// Reads a Calico rule of a direction; `block` registers a CIDR with the prefix map and
/// gives its block id, `name_id` a destination port name with the destination's member
/// selector (Felix's named-port IP set holds only the endpoints it matches:
/// `namedPortsToIPSets` in `rule_scanner.go`) and gives its name id.
pub(super) fn draft<'a>(
    rule: &'a crate::calico::CalicoRule,
    direction: Direction,
    mut block: impl FnMut(ipnet::IpNet) -> u32,
    mut name_id: impl FnMut(&str, Option<&'a CalicoSelector>) -> u32,
) -> CalicoDraft<'a> {
    let (remote, local) = match direction {
        Direction::Ingress => (rule.source(), rule.destination()),
        Direction::Egress => (rule.destination(), rule.source()),
    };
    let mut side = |m: &'a EntityMatch| SideDraft {
        nets: m.nets().iter().map(|n| block(*n)).collect(),
        not_nets: m.not_nets().iter().map(|n| block(*n)).collect(),
        members: m.ip_set_selector(),
        not_members: m.not_ip_set_selector(),
    };
    let remote_draft = side(remote);
    let local_draft = side(local);

    // Family: ipVersion, then each non-empty net list must keep some CIDR of the family.
    let mut families = match rule.ip_version() {
        Some(4) => [true, false],
        Some(6) => [false, true],
        _ => [true, true],
    };
    for m in [rule.source(), rule.destination()] {
        for list in [m.nets(), m.not_nets()] {
            if list.is_empty() {
                continue;
            }
            if !list.iter().any(|n| matches!(n, ipnet::IpNet::V4(_))) {
                families[0] = false;
            }
            if !list.iter().any(|n| matches!(n, ipnet::IpNet::V6(_))) {
                families[1] = false;
            }
        }
    }

    // Protocols: by number; ICMP matches never hold for TCP, UDP or SCTP flows.
    let mut protocols = Protocol::ALL.map(|p| {
        rule.protocol().is_none_or(|m| m.matches(p))
            && !rule.not_protocol().is_some_and(|m| m.matches(p))
    });
    if rule.icmp().is_some() {
        protocols = [false; 3];
    }
    let named_protocol = rule
        .protocol()
        .and_then(|m| Protocol::ALL.into_iter().find(|p| m.matches(*p)));
    let dest = rule.destination();
    let dest_members = dest.ip_set_selector();
    let mut ranges: Vec<(Protocol, u16, u16)> = Vec::new();
    let mut named: Vec<(Option<Protocol>, u32)> = Vec::new();
    let mut read = |list: &[PortValue],
                    ranges: &mut Vec<(Protocol, u16, u16)>,
                    named: &mut Vec<(Option<Protocol>, u32)>| {
        for v in list {
            match v {
                PortValue::Range(lo, hi) => {
                    for p in Protocol::ALL {
                        ranges.push((p, *lo, *hi));
                    }
                }
                PortValue::Name(n) => named.push((named_protocol, name_id(n, dest_members))),
            }
        }
    };
    read(dest.ports(), &mut ranges, &mut named);
    let mut not_ranges = Vec::new();
    let mut not_named = Vec::new();
    read(dest.not_ports(), &mut not_ranges, &mut not_named);
    let ports = PortFacts {
        protocols,
        ranges: (!dest.ports().is_empty()).then_some(ranges),
        named,
        not_ranges,
        not_named,
        named_by_family: [Vec::new(), Vec::new()],
    };
    // A negated ICMP match on a rule that is not ICMP's renders as an ICMP match the
    // kernel only defines for ICMP packets.
    let icmp_negation = rule.not_icmp().is_some()
        && !rule
            .protocol()
            .is_some_and(|p| matches!(p.number(), 1 | 58));
    CalicoDraft {
        action: rule.action(),
        ports,
        families,
        remote: remote_draft,
        local: local_draft,
        unsupported: rule.has_source_ports() || rule.has_service_match() || icmp_negation,
    }
}

/// Calico's member tests over atoms, memoised per selector.
pub(super) struct Members<'c, 'a> {
    cluster: &'c Cluster,
    identities: &'c Identities<'a>,
    atoms: &'c Atoms,
    blocks: &'c BlockIndex,
    sets: &'c [NetSet<'a>],
    memo: HashMap<String, Bitset>,
}

impl<'c, 'a> Members<'c, 'a> {
    pub(super) fn new(
        identities: &'c Identities<'a>,
        atoms: &'c Atoms,
        blocks: &'c BlockIndex,
        sets: &'c [NetSet<'a>],
        cluster: &'c Cluster,
    ) -> Self {
        Members {
            cluster,
            identities,
            atoms,
            blocks,
            sets,
            memo: HashMap::new(),
        }
    }

    /// The atoms whose address belongs to a member the selector matches: a pod it
    /// matches, or an address inside the nets of a network set it matches.
    fn of(&mut self, sel: &CalicoSelector) -> Bitset {
        let key = sel.to_string();
        if let Some(set) = self.memo.get(&key) {
            return set.clone();
        }
        let mut ids = Bitset::new(self.identities.len());
        for id in 0..self.identities.len() {
            if pod_labels(self.identities, id).is_some_and(|l| sel.matches(&l)) {
                ids.insert(id);
            }
        }
        let mut values = Bitset::new(self.blocks.values());
        for s in self.sets {
            if sel.matches(&set_labels(self.cluster, s.set)) {
                for b in &s.blocks {
                    for (lo, hi) in self.blocks.intervals(*b) {
                        values.insert_range(*lo as usize, *hi as usize);
                    }
                }
            }
        }
        let mut out = Bitset::new(self.atoms.len());
        for a in 0..self.atoms.len() {
            let atom = u32::try_from(a).unwrap_or(u32::MAX);
            let by_pod = self.atoms.kind(atom) == Some(AtomKind::Pod)
                && ids.contains(self.atoms.owner(atom) as usize);
            if by_pod || values.contains(self.atoms.value(atom) as usize) {
                out.insert(a);
            }
        }
        self.memo.insert(key, out.clone());
        out
    }

    /// The atoms whose value lies in one of the blocks.
    fn in_blocks(&self, blocks: &[u32]) -> Bitset {
        let mut values = Bitset::new(self.blocks.values());
        for b in blocks {
            for (lo, hi) in self.blocks.intervals(*b) {
                values.insert_range(*lo as usize, *hi as usize);
            }
        }
        let mut out = Bitset::new(self.atoms.len());
        for a in 0..self.atoms.len() {
            let atom = u32::try_from(a).unwrap_or(u32::MAX);
            if values.contains(self.atoms.value(atom) as usize) {
                out.insert(a);
            }
        }
        out
    }

    /// The atoms a side's conditions hold for; `None` when the side has none.
    pub(super) fn side(&mut self, side: &SideDraft<'_>) -> Option<Bitset> {
        if side.is_empty() {
            return None;
        }
        let mut set = Bitset::full(self.atoms.len());
        if !side.nets.is_empty() {
            set.intersect_with(&self.in_blocks(&side.nets));
        }
        if !side.not_nets.is_empty() {
            set.subtract(&self.in_blocks(&side.not_nets));
        }
        if let Some(sel) = side.members {
            set.intersect_with(&self.of(sel));
        }
        if let Some(sel) = side.not_members {
            set.subtract(&self.of(sel));
        }
        Some(set)
    }

    /// The remote and local atom sets of a draft.
    pub(super) fn draft(&mut self, d: &CalicoDraft<'_>) -> (Option<Bitset>, Option<Bitset>) {
        (self.side(&d.remote), self.side(&d.local))
    }
}

/// Registers a network set's nets with the prefix map.
pub(super) fn net_set<'a>(
    set: &'a CalicoNetworkSet,
    mut block: impl FnMut(ipnet::IpNet) -> u32,
) -> NetSet<'a> {
    NetSet {
        set,
        blocks: set.nets().iter().map(|n| block(*n)).collect(),
    }
}

/// A Calico rule as an overlay entry holds it (a policy changed since the build, see
/// `live/calico.rs`): what [`Members`] and the rule index make of a [`CalicoDraft`],
/// kept as sets over identities and prefix-map values, and tested flow by flow on the
/// other side's atom (a pod's identity and the value of its address of the flow's
/// family, a node's or an outside address's value) and on the local pod's.
#[derive(Debug, Clone)]
pub(super) struct FelixRule {
    pub(super) ports: PortFacts,
    /// Where the destination's member selector also matches network sets: the identities
    /// it matches, the only pods its named ports count for (Felix's named-port IP sets
    /// hold only endpoints).
    pub(super) named_only: Option<Bitset>,
    pub(super) families: [bool; 2],
    /// The other side's conditions, `None` when it has none.
    pub(super) remote: Option<FelixSide>,
    /// The local pod's conditions, `None` when it has none.
    pub(super) local: Option<FelixSide>,
}

/// The conditions of one side of a [`FelixRule`]: `nets`, `notNets` as sets of
/// prefix-map values, members and not-members as (identities, values in the nets of the
/// network sets the selector matches).
#[derive(Debug, Clone, Default)]
pub(super) struct FelixSide {
    pub(super) nets: Option<Bitset>,
    pub(super) not_nets: Option<Bitset>,
    pub(super) members: Option<(Bitset, Bitset)>,
    pub(super) not_members: Option<(Bitset, Bitset)>,
}

impl FelixSide {
    /// Whether the side's conditions hold for an atom: the identity of a pod (`None`
    /// for a node or an outside address) and the prefix-map value of its address, as
    /// [`Members::side`] decides it for the build's atoms.
    pub(super) fn holds(&self, pod: Option<u32>, value: u32) -> bool {
        let member = |(ids, values): &(Bitset, Bitset)| {
            pod.is_some_and(|id| ids.contains(id as usize)) || values.contains(value as usize)
        };
        self.nets
            .as_ref()
            .is_none_or(|n| n.contains(value as usize))
            && !self
                .not_nets
                .as_ref()
                .is_some_and(|n| n.contains(value as usize))
            && self.members.as_ref().is_none_or(member)
            && !self.not_members.as_ref().is_some_and(member)
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        let pair = |p: &Option<(Bitset, Bitset)>| {
            p.as_ref()
                .map_or(0, |(a, b)| (a.words().len() + b.words().len()) * 8)
        };
        let one = |b: &Option<Bitset>| b.as_ref().map_or(0, |b| b.words().len() * 8);
        one(&self.nets) + one(&self.not_nets) + pair(&self.members) + pair(&self.not_members)
    }
}

impl FelixRule {
    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.named_only.as_ref().map_or(0, |b| b.words().len() * 8)
            + self.remote.as_ref().map_or(0, FelixSide::heap_bytes)
            + self.local.as_ref().map_or(0, FelixSide::heap_bytes)
            + std::mem::size_of::<FelixRule>()
    }
}
