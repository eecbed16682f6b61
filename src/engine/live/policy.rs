//! NetworkPolicy and ClusterNetworkPolicy changes applied to the compiled core without a
//! rebuild.
//!
//! A NetworkPolicy isolates and allows only for pods of its own namespace (its subjects),
//! and it is read from its subjects' side: its peers are tested against the other side of
//! a flow. A ClusterNetworkPolicy selects its subjects across namespaces (by namespace
//! labels, or namespace and pod labels), and is read from their side too. So adding,
//! changing or removing either changes only the walks of the identities its old or new
//! version selects, per direction. When the new version reads no label key the
//! identities do not already tell apart (and no label set learned equivalent to an
//! identity answers its selectors otherwise), its `ipBlock`s or `networks` are made of
//! networks the prefix map already holds (so no address changes its value), and its named
//! ports are known to the pod table or declared by no pod, the update:
//!
//! - compiles the policy's rules against the core, pushing the pod sets, node sets,
//!   domain lists and blocks they need to the core's tables (through the compiler's own
//!   `compile::network_rule_parts` and `compile::cluster_rule_parts`);
//! - gives the policy a new number in the core: a changed or removed one's old number
//!   is retired (its rules emptied); on a removal, the policies of its kind after it in
//!   the set are renumbered (their position is part of every explanation);
//! - for a NetworkPolicy, moves the identities its old or new version selects to new
//!   classes (below); for a ClusterNetworkPolicy, records the change in the core's
//!   *overlay* and moves no identity (further below).
//!
//! # NetworkPolicy changes: new classes
//!
//! For each identity the old or new version selects, and each direction, the update
//! takes its class's policy list, drops the old number, inserts the new one in
//! evaluation order (tier; then position), and finds or compiles the class of that list
//! (and its own-node variant with it): the NetworkPolicy tier compiled anew as
//! instructions, the steps of its other tiers (which select the identity as before, with
//! the same policies) taken from the old class, and its rule index mask with them; then
//! it updates those identities, and the pod table entries of their pods.
//!
//! A tier compiled anew is a program made of its policies' rules in order: each
//! policy's rules for a direction are emitted once per change (through the compiler's
//! `compile::emit_tier`, which merges rules of one action by port set) and a tier's
//! program is their concatenation. The compiler, emitting a whole tier at once, also
//! merges rules of one action across policies; that decides the same (the first
//! matching rule decides, and merged rules share their action), with some more
//! instructions.
//!
//! Everything else is shared with the engine before the change. The cost is that of the
//! identities moved and of the new classes: one per distinct class they were in (and its
//! own-node variant), each with its own steps and its own copy of its policy list; the
//! tier programs compiled anew are shared between new classes whose changed tier holds
//! the same policies (by the direction and that tier's policy list). Classes are found
//! by a hash of their direction and list, a class and its own-node variant together:
//! the build's in a map shared as it is, those made since in a persistent map of their
//! own (so that a change making many classes copies shards of that map only); a list
//! holding the number the change gave is looked up only among the classes the change
//! made, as no other can hold it. A list's tiers are found by binary search (a list is
//! in evaluation order, so by tier).
//!
//! What is pushed is never reclaimed until the next build: past a budget (half the
//! compiled size, 4 MiB at least) a change rebuilds instead.
//!
//! # ClusterNetworkPolicy changes: the overlay
//!
//! A ClusterNetworkPolicy may select tens of thousands of identities that NetworkPolicies
//! put in as many classes: new classes for them all (each with its own copy of a policy
//! list of a hundred and more) would make the change cost what it moves (40-50 ms at
//! 150,000 pods, see `BENCHMARKS.md`). A build also reads a tier holding a
//! ClusterNetworkPolicy through the direction's rule index, its rules numbered one after
//! the other in walk order, where inserting a policy would renumber every rule after it.
//! So no class changes: the core keeps an overlay (`engine::Overlay`) of the changes
//! since the build, which decides and explains as a build would:
//!
//! - the old version's number is *disabled*: class lists still hold it, and the
//!   identities it selected (found as its subjects in the cluster of before the change)
//!   are marked per direction, unless it was itself an overlay entry (a policy changed
//!   twice, or added and then removed), whose entry is then dropped;
//! - the new version is an *entry*: its number, tier, the identities it selects per
//!   direction as a bitset, and which policies numbered before it come after it in walk
//!   order (where it goes in any class list); entries are kept in walk order, at most
//!   `MAX_OVERLAY` of them (a change past it rebuilds, which folds the overlay away);
//! - per direction, the identities the overlay *affects*: those marked and those an
//!   entry selects.
//!
//! Deciding then runs in a mode of its own (`WalkMode::Overlay`), so that a build without
//! an overlay runs the code it ran before: a flow neither of whose pods the overlay
//! affects (one bit test per side) is decided as without it, in the build's mode; for an
//! affected side the walk goes tier by tier, reading a tier where an entry selects the
//! identity or its class list holds a disabled policy policy by policy, as explanations
//! do (the class list's policies of that tier but the disabled ones, merged with the
//! entries selecting the identity, each policy's rules in order, a policy numbered at the
//! build through the rule index and the class mask, which hold its rules, one numbered
//! since from its compiled rules: `Accept` and `Deny` decide, `Pass` ends the tier, a tier
//! selecting the identity ends as its tier ends), and every other tier from the class's
//! steps as before. A class with no step for a tier (none of its policies is there) is
//! still given the entries of that tier at its place in the walk. Explanations read the
//! same list (the class list with the disabled policies left out and the entries put
//! in), as do priority ties; a matrix is computed flow by flow while an overlay exists.
//!
//! The change costs its subjects (found as before, and set in bitsets over identities),
//! the compiled rules, and the union of the entries' bitsets: no class, program or pod
//! entry is made. A NetworkPolicy change afterwards makes classes as above, their lists
//! holding disabled numbers, which the overlay still leaves out. The overlay serves
//! Calico's Felix too: the policy's rules are compiled as there, and the walk order
//! compared as Felix orders policies. Calico policy changes go into the same overlay,
//! their entries holding rules of their own (`live/calico.rs`).
//!
//! The price is paid when deciding: a flow of an identity the overlay affects reads the
//! touched tiers policy by policy, 2-3 times slower than the classes a change used to
//! make and 5-7 times slower than a fresh build (`BENCHMARKS.md`, "The overlay"); the
//! other flows decide as before. A controller that decides much on the affected pods can
//! build anew in the background and swap the result in.
//!
//! # Where Calico's Felix decides
//!
//! Under the `calico` and `canal` profiles a build reads every policy the way Felix
//! renders it (`engine/calico.rs`): selectors as Calico converts them, over Felix's view
//! of pods (their labels, their namespace's labels under `pcns.`, their service account),
//! `ipBlock`s matching any address, tiers and policies in Felix's order, named ports
//! qualified where selectors also match network sets, and rules testing the local pod
//! folded into per-pod class masks. When the set holds no Calico policy, network set or
//! tier, the rest is what an update can do alike: only Calico's rules test the local pod,
//! so a pod's classes are its identity's; only network sets qualify named ports, so the
//! NetworkPolicy tier (Calico's `default`, ending in a deny as without Felix) is run as
//! instructions; ClusterNetworkPolicies sit in `kube-admin` and `kube-baseline`, read
//! through the rule index as without Felix. An update then compiles the changed policy
//! as the build does there:
//!
//! - its subjects and pod peers through `calico::Converted`, tested on the identities'
//!   own labels, their namespace's labels (from the cluster; a namespace relabelled there
//!   compiles again, as changes to themselves, the policies whose selectors answer
//!   otherwise for its identities, the old version's subjects read with the old labels:
//!   see `live/namespaces.rs`) and their service account (identities are told apart by
//!   every label and the service account there). Candidates come from the label index when the pod
//!   selector reads only keys pods carry as they are (not `projectcalico.org/`, `pcns.`
//!   or `pcsa.` ones), and whole namespaces are left out at once when no identity has a
//!   `pcns.` label of its own (a converted namespace selector then answers alike for all
//!   of a namespace);
//! - a NetworkPolicy's rules with `ipBlock`s matching any address; a
//!   ClusterNetworkPolicy rule Calico fails to convert (`nodes` or `domainNames` peers,
//!   `networks` in ingress) as Calico replaces it, and a direction whose rules Calico all
//!   drops selecting nothing;
//! - the policy inserted in Felix's order: by tier, then order (a ClusterNetworkPolicy's
//!   priority, 1000 for every NetworkPolicy), then the bytes of Felix's key
//!   (`name/namespace/KubernetesNetworkPolicy`, `name//KubernetesClusterNetworkPolicy`).
//!
//! The update works on a copy of the core (its tables are shared, so the copy costs
//! what it changes) inside the batch being applied; readers only ever see the engine
//! before the batch or after it. When anything turns out not as expected half-way, the
//! copy is dropped and the batch rebuilds.
//!
//! What still rebuilds (the core from the cluster and the policies, as
//! [`Engine::build`](crate::engine::Engine::build) does):
//!
//! - a policy whose new version reads a label key no selector read at the build
//!   (identities are not told apart by it), or whose selectors answer differently for a
//!   label set learned equivalent to an identity and for that identity;
//! - an `ipBlock` with a `cidr` or `except` network, or a `networks` entry, the prefix
//!   map lacks (addresses would change values);
//! - a named port no rule named at the build that some pod declares (pods' named-port
//!   entries would change);
//! - a profile where NetworkPolicy is not enforced, and a policy set holding two
//!   NetworkPolicies with one namespace and name;
//! - where Calico's Felix decides, a policy set holding a Calico policy (a
//!   `projectcalico.org/v3` NetworkPolicy or GlobalNetworkPolicy, in any tier), a network
//!   set or a tier (Calico's rules may test the local pod, making a pod's classes depend
//!   on its address, and network sets reach selectors and named ports past pods), and
//!   while the overlay holds a Calico policy added since the build (its place in walk
//!   order is not worked out among those); changes to network sets and tiers rebuild
//!   too, as does a namespace relabelled or removed there (Calico policy changes
//!   themselves go into the overlay: see `live/calico.rs`);
//! - for a ClusterNetworkPolicy: a profile that does not enforce them (explanations list
//!   them as ignored, with the identities they would select), and a policy set holding
//!   two with one name (evaluation order breaks priority ties by name);
//! - a class that would need more tier steps than a class head holds inline;
//! - a ClusterNetworkPolicy change that would put more than `MAX_OVERLAY` entries in the
//!   overlay (the rebuild folds it away);
//! - past the budget above (which counts the overlay's bitsets too).
//!
//! A node selector needs no rebuild: node sets are read against the cluster's nodes, and
//! a node change rebuilds anyway.

use std::sync::Arc;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::{Fixed, KindIndex};
use crate::cluster::Cluster;
use crate::engine::bitset::Bitset;
use crate::engine::calico::{self, Converted, PodLabels};
use crate::engine::compile::{
    MAX_POD_SETS, NsIndex, RuleTables, Selected, calico_drops, calico_failed_rule, calico_fails,
    cluster_rule_parts, emit_tier, everything, namespace_indexes, network_rule_parts,
};
use crate::engine::{
    Class, ClassCode, ClassHead, CompiledRule, Core, INLINE_STEPS, IdentityInfo, Instr, NO_EXTRA,
    NOT_ISOLATED, Op, OpCode, OpMore, Overlay, OverlayEntry, PeerExtra, PeerSet, PodInfo,
    PolicyMeta, Prog, TierStep, dir_index, to_u32,
};
use crate::explain::TierRef;
use crate::model::Labels;
use crate::persist::{GrowMap, PMap, PVec};
use crate::policy::{
    Action, CidrBlock, ClusterPeer, ClusterPolicy, ClusterPort, ClusterTier, Direction,
    DomainPattern, Peer, Policy, PolicyKind, PolicySet, PortSpec, Subject,
};
use crate::selector::{Operator, Selector};

/// What incremental NetworkPolicy and ClusterNetworkPolicy updates keep between values: made with the core
/// (absent when the profile or the policy set rules them out) and updated with it.
#[derive(Debug, Clone)]
pub(super) struct NpState {
    /// Per NetworkPolicy, by position in the policy set: its number in the core.
    gids: Arc<Vec<u32>>,
    /// Per ClusterNetworkPolicy, by position in the policy set: its number in the core;
    /// `None` when their changes rebuild (the profile does not enforce them, or two have
    /// one name).
    cluster_gids: Option<Arc<Vec<u32>>>,
    /// The classes of the build by the hash of (direction, policy list, own-node
    /// variant): the ids of those with that hash, each with its direction and variant
    /// (its list is the class's own). Never changed: shared as it is.
    classes: Arc<HashMap<u64, ClassBucket>>,
    /// The classes made since the build, likewise. Kept apart so that a change making
    /// many classes copies the shards of a map of what changes made, not the build's.
    made: PMap<u64, ClassBucket>,
    /// Tier programs compiled since the build, by (direction, the tier's policies):
    /// classes that differ elsewhere share them.
    tier_code: PMap<(usize, Vec<u32>), u32>,
    /// Pod sets pushed since the build, by content.
    pod_sets: PMap<Bitset, u32>,
    /// Unions of pod sets pushed since the build, by the sets they unite.
    unions: PMap<Vec<u32>, u32>,
    /// Node sets pushed since the build, by content.
    node_sets: PMap<Bitset, u32>,
    /// Blocks, built or pushed.
    blocks: GrowMap<CidrBlock, u32>,
    /// Value bitsets, built or pushed, by the (sorted) blocks they are made of.
    value_bits: GrowMap<Vec<u32>, u32>,
    /// Node and domain peer sets, built or pushed, by content.
    extras: GrowMap<PeerExtra, u32>,
    /// Position of the NetworkPolicy tier.
    tier_pos: u32,
    /// Whether Calico's Felix decides: selectors are read as Calico converts them, over
    /// Felix's view of pods, `ipBlock`s match any address, and policies are in Felix's
    /// order.
    felix: bool,
    /// Past this many bytes pushed since the build, a change rebuilds instead.
    budget: usize,
}

impl NpState {
    /// The state for a freshly built core, `None` when NetworkPolicy changes must rebuild:
    /// a profile that does not enforce NetworkPolicy, one where Calico's Felix decides
    /// while the set holds a Calico policy, network set or tier, or two NetworkPolicies
    /// with one namespace and name. `blocks`: the ids the compiler gave blocks (whose
    /// intervals are then the block's), reused for the blocks changes bring.
    pub(super) fn of(
        core: &Core,
        set: &PolicySet,
        compiled_bytes: usize,
        blocks: HashMap<CidrBlock, u32>,
    ) -> Option<NpState> {
        let network = set.network_policies();
        let felix = core.profile.enforces_calico_policy();
        if !core.profile.enforces_network_policy()
            || (felix
                && !(set.calico_policies().is_empty()
                    && set.network_sets().is_empty()
                    && set.tiers().is_empty()))
        {
            return None;
        }
        let tier_pos = to_u32(
            core.tiers
                .iter()
                .position(|t| t.tier == TierRef::NetworkPolicy)?,
        );
        let mut gids = vec![u32::MAX; network.len()];
        for (gid, meta) in core.policies.iter().enumerate() {
            if meta.kind == PolicyKind::NetworkPolicy {
                *gids.get_mut(meta.index)? = to_u32(gid);
                // The NetworkPolicy tier is run as instructions (a build indexes it only
                // for named ports Felix qualifies, which network sets bring).
                if core
                    .rule_start
                    .iter()
                    .any(|starts| starts.get(gid).copied().flatten().is_some())
                {
                    return None;
                }
            }
        }
        let mut keys: HashSet<(&str, &str)> = HashSet::new();
        if !network
            .iter()
            .all(|p| keys.insert((p.namespace(), p.name())))
        {
            return None;
        }
        if gids.contains(&u32::MAX) {
            return None;
        }
        let cluster = set.cluster_policies();
        let mut cluster_gids = vec![u32::MAX; cluster.len()];
        for (gid, meta) in core.policies.iter().enumerate() {
            if meta.kind == PolicyKind::ClusterNetworkPolicy {
                if let Some(slot) = cluster_gids.get_mut(meta.index) {
                    *slot = to_u32(gid);
                }
            }
        }
        let mut names: HashSet<&str> = HashSet::new();
        let cluster_gids = (core.profile.enforces_cluster_network_policy()
            && cluster.iter().all(|p| names.insert(p.name()))
            && !cluster_gids.contains(&u32::MAX))
        .then(|| Arc::new(cluster_gids));
        let mut classes: HashMap<u64, ClassBucket> = HashMap::new();
        // Identities share classes: each (class, own-node variant, direction) is filed
        // once (filing it again would change nothing), its list hashed once.
        let mut filed: HashSet<(u32, u32, usize)> = HashSet::new();
        for info in core.identities.iter() {
            for di in 0..2 {
                let (Some(&full), Some(&own)) = (info.class.get(di), info.own_node_class.get(di))
                else {
                    continue;
                };
                if !filed.insert((full, own, di)) {
                    continue;
                }
                let Some(class) = core.classes.get(full as usize) else {
                    continue;
                };
                if class.policies.is_empty() {
                    continue;
                }
                let hash = class_hash(di, &class.policies);
                for (id, own_node) in [(full, false), (own, true)] {
                    let bucket = classes.entry(hash).or_default();
                    let entry = (id, u8::from(di == 1), own_node);
                    if !bucket
                        .iter()
                        .any(|(_, d, o)| (*d, *o) == (entry.1, entry.2))
                    {
                        bucket.push(entry);
                    }
                }
            }
        }
        let mut value_bits: HashMap<Vec<u32>, u32> = HashMap::new();
        for more in core.code_more.iter() {
            if !more.peers.blocks.is_empty() && core.value_bits.has(more.peers.value_bits) {
                value_bits
                    .entry(more.peers.blocks.to_vec())
                    .or_insert(more.peers.value_bits);
            }
        }
        let mut extras: HashMap<PeerExtra, u32> = HashMap::new();
        for (id, extra) in core.extras.iter().enumerate() {
            extras.entry(extra.clone()).or_insert(to_u32(id));
        }
        Some(NpState {
            gids: Arc::new(gids),
            cluster_gids,
            classes: Arc::new(classes),
            made: PMap::new(),
            tier_code: PMap::new(),
            pod_sets: PMap::new(),
            unions: PMap::new(),
            node_sets: PMap::new(),
            value_bits: value_bits.into(),
            extras: extras.into(),
            blocks: blocks.into(),
            tier_pos,
            felix,
            budget: (compiled_bytes / 2).max(4 << 20),
        })
    }
}

/// How many ClusterNetworkPolicy versions the overlay holds at most: a change past it
/// rebuilds (deciding reads every entry for the identities the overlay touches).
pub(super) const MAX_OVERLAY: usize = 32;

/// Classes with one hash of (direction, policy list): (id, direction (1 egress),
/// own-node variant).
type ClassBucket = smallvec::SmallVec<[(u32, u8, bool); 2]>;

/// The hash classes are found by.
fn class_hash(di: usize, list: &[u32]) -> u64 {
    hasher().hash_one((di, list))
}

/// Identities by namespace and label, to resolve selectors as the compiler does.
/// Persistent, so that a namespace removed renames its entries at their cost.
#[derive(Debug, Default, Clone)]
pub(super) struct IdentityIndex {
    /// Per (namespace, hash of a label key and value): the identities with that label.
    by_pair: GrowMap<(u32, u64), Vec<u32>>,
    /// Per (namespace, hash of a label key): the identities with that key.
    by_key: GrowMap<(u32, u64), Vec<u32>>,
    /// Whether two labels or two keys of one namespace share a hash (and a list): a
    /// list may then hold identities without its label.
    shared: bool,
}

fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(9, 10, 11, 12)
}

impl IdentityIndex {
    /// The index of the identities from the compiler's label index of each namespace
    /// (by index), which holds the label keys identities are told apart by.
    pub(super) fn new(namespaces: Vec<NsIndex<'_>>) -> IdentityIndex {
        let h = hasher();
        let pairs = namespaces.iter().map(|n| n.by_label.len()).sum();
        let keys = namespaces.iter().map(|n| n.by_key.len()).sum();
        let mut by_pair: HashMap<(u32, u64), Vec<u32>> = HashMap::with_capacity(pairs);
        let mut by_key: HashMap<(u32, u64), Vec<u32>> = HashMap::with_capacity(keys);
        let mut shared = false;
        // Lists in id order; two labels or keys with one hash (which the lookups check
        // past) share a list, merged in id order.
        let mut file =
            |map: &mut HashMap<(u32, u64), Vec<u32>>, at: (u32, u64), ids: Vec<u32>| match map
                .entry(at)
            {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(ids);
                }
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    shared = true;
                    let list = e.get_mut();
                    list.extend(ids);
                    list.sort_unstable();
                }
            };
        for (ns, index) in namespaces.into_iter().enumerate() {
            let ns = to_u32(ns);
            for ((k, v), ids) in index.by_label {
                file(&mut by_pair, (ns, h.hash_one((k, v))), ids);
            }
            for (k, ids) in index.by_key {
                file(&mut by_key, (ns, h.hash_one(k)), ids);
            }
        }
        IdentityIndex {
            by_pair: by_pair.into(),
            by_key: by_key.into(),
            shared,
        }
    }

    /// Whether every list holds exactly the identities with its label or key (no two
    /// labels or keys of one namespace share a hash).
    pub(super) fn exact(&self) -> bool {
        !self.shared
    }

    /// The identities of namespace `ns` with the label `key: value`, in id order, and
    /// possibly others (a list is keyed by a hash: check their labels).
    pub(super) fn with_pair(&self, ns: u32, key: &str, value: &str) -> &[u32] {
        self.by_pair
            .get(&(ns, hasher().hash_one((key, value))))
            .map_or(&[][..], Vec::as_slice)
    }

    /// The identities of namespace `ns` with a label `key`, in id order, and possibly
    /// others (a list is keyed by a hash: check their labels).
    pub(super) fn with_key(&self, ns: u32, key: &str) -> &[u32] {
        self.by_key
            .get(&(ns, hasher().hash_one(key)))
            .map_or(&[][..], Vec::as_slice)
    }

    /// Moves the entries of namespace `from`, found through `labels` (those of its
    /// identities), to namespace `to`, or drops them.
    pub(super) fn rename<'l>(
        &mut self,
        from: u32,
        to: Option<u32>,
        labels: impl IntoIterator<Item = &'l Labels>,
    ) {
        let h = hasher();
        for labels in labels {
            for (k, v) in labels {
                let pair = h.hash_one((k.as_str(), v.as_str()));
                let key = h.hash_one(k.as_str());
                for (map, x) in [(&mut self.by_pair, pair), (&mut self.by_key, key)] {
                    if let Some(list) = map.remove(&(from, x)) {
                        if let Some(to) = to {
                            map.insert((to, x), list);
                        }
                    }
                }
            }
        }
    }
}

impl Fixed {
    /// The identities of namespace `ns` that `sel` matches: candidates from the most
    /// selective requirement, then a direct check on the labels of a pod of each.
    fn select(&self, ns: u32, sel: &Selector, mut f: impl FnMut(u32)) {
        let Some(all) = self.by_namespace.get(&ns) else {
            return;
        };
        let mut candidates: &[u32] = all;
        for req in sel.requirements() {
            let list: Option<&[u32]> = match &req.op {
                Operator::In(values) if values.len() == 1 => Some(
                    values
                        .first()
                        .map_or(&[][..], |v| self.index.with_pair(ns, &req.key, v)),
                ),
                Operator::In(_) | Operator::Exists => Some(self.index.with_key(ns, &req.key)),
                Operator::NotIn(_) | Operator::DoesNotExist => None,
            };
            if let Some(list) = list {
                if list.len() < candidates.len() {
                    candidates = list;
                }
            }
        }
        for &id in candidates {
            if self
                .of_identity
                .get(&id)
                .is_some_and(|(_, labels)| sel.matches(labels))
            {
                f(id);
            }
        }
    }

    /// Under Felix: the identities whose pods a Kubernetes selector pair matches once
    /// Calico has converted it (`conv`), over Felix's view of them (their labels, their
    /// namespace's under `pcns.`, their service account), as the compiler reads it;
    /// `namespaces`: the cluster's namespaces (name, labels) by index. Candidates are the
    /// identities of the namespaces the namespace part can match (decided once per
    /// namespace when no identity has a `pcns.` label of its own), and among those the
    /// pod selector's through the label index when it reads only labels pods carry as
    /// they are; each is then tested as the compiler tests it, unless the candidates are
    /// the answer as they are (both of those shortcuts taken).
    fn select_felix(
        &self,
        namespaces: &[(&str, &Labels)],
        conv: &Converted<'_>,
        f: impl FnMut(u32),
    ) {
        conv.select_indexed(
            namespaces,
            self.pcns_free,
            |ns| self.by_namespace.get(&to_u32(ns)).map(Vec::as_slice),
            |ns, sel, f| self.select(to_u32(ns), sel, f),
            |ns, id| {
                let Some((name, ns_labels)) = namespaces.get(ns) else {
                    return false;
                };
                self.of_identity.get(&id).is_some_and(|(_, own)| {
                    conv.holds(&PodLabels {
                        own,
                        namespace: name,
                        namespace_labels: Some(ns_labels),
                        account: self.accounts.get(&id).map_or("default", String::as_str),
                    })
                })
            },
            f,
        );
    }
}

/// A NetworkPolicy being added, changed or removed.
pub(super) struct Update<'a> {
    /// Its position among the set's NetworkPolicies before the change (`None`: added).
    pub(super) old_pos: Option<usize>,
    /// The version before the change.
    pub(super) old: Option<&'a Policy>,
    /// The version after it (`None`: removed).
    pub(super) new: Option<&'a Policy>,
    /// The cluster the old version selected its subjects in, when not the one the update
    /// is compiled against (a namespace relabelled since: under Felix a pod selector may
    /// read its namespace's labels, `pcns.`).
    pub(super) before: Option<&'a Cluster>,
}

/// The incremental-update state, when the core has one and what was pushed to it since
/// the build is within its budget; `None` when a change must rebuild instead.
/// Also `None` while the overlay holds a Calico policy added since the build (see
/// `live/calico.rs`): NetworkPolicy and ClusterNetworkPolicy changes are placed among
/// the build's policies only.
fn within_budget<'k>(core: &Core, kinds: &'k KindIndex) -> Option<&'k NpState> {
    if core
        .overlay
        .as_deref()
        .is_some_and(|ov| ov.entries.iter().any(|e| e.felix.is_some()))
    {
        return None;
    }
    kinds
        .np
        .as_ref()
        .filter(|np| pushed_bytes(core) <= np.budget)
}

/// Bytes pushed to the core's tables since its build.
pub(super) fn pushed_bytes(core: &Core) -> usize {
    core.code.pushed() * std::mem::size_of::<Op>()
        + core.code_more.pushed() * std::mem::size_of::<OpMore>()
        + core.classes.pushed()
            * (std::mem::size_of::<Class>()
                + std::mem::size_of::<ClassHead>()
                + std::mem::size_of::<ClassCode>())
        + core.pod_sets.pushed_bytes()
        + core.node_sets.pushed_bytes()
        + core.value_bits.pushed_bytes()
        + core.blocks.pushed_bytes()
        + core.retired.saturating_mul(256)
        + core.overlay.as_deref().map_or(0, Overlay::heap_bytes)
}

/// The pod selectors of a policy, each with the namespaces it reads pods of: its pod
/// selector, then its peers' in order (directions, rules, peers).
type Scoped<'p> = Vec<(&'p Selector, Arc<[u32]>)>;

fn scoped<'p>(p: &'p Policy, cluster: &Cluster) -> Scoped<'p> {
    let own: Arc<[u32]> = cluster
        .namespace_id(p.namespace())
        .map(|n| to_u32(n.index()))
        .into_iter()
        .collect();
    let mut memo: HashMap<&Selector, Arc<[u32]>> = HashMap::new();
    let mut out: Scoped<'p> = vec![(p.pod_selector(), Arc::clone(&own))];
    for d in Direction::BOTH {
        for rule in p.rules(d) {
            for peer in rule.peers.iter().flatten() {
                if let Peer::Pods { namespaces, pods } = peer {
                    let scope = match namespaces {
                        None => Arc::clone(&own),
                        Some(ns) => Arc::clone(
                            memo.entry(ns)
                                .or_insert_with(|| namespace_indexes(cluster, ns).into()),
                        ),
                    };
                    out.push((pods, scope));
                }
            }
        }
    }
    out
}

/// Whether `p`, with its selectors `scoped`, can be compiled against the core as it is:
/// see the module documentation.
fn admissible(core: &Core, kinds: &KindIndex, p: &Policy, scoped: &Scoped<'_>) -> bool {
    for d in Direction::BOTH {
        for rule in p.rules(d) {
            for peer in rule.peers.iter().flatten() {
                if let Peer::IpBlock(block) = peer {
                    if core.blocks.intervals_of(block).is_none() {
                        return false;
                    }
                }
            }
            for pr in rule.ports.iter().flatten() {
                if let PortSpec::Named(name) = &pr.port {
                    if !name_admissible(core, kinds, name) {
                        return false;
                    }
                }
            }
        }
    }
    selectors_admissible(core, kinds, scoped)
}

/// Applies `up` to the core, the pod table and the kind index, when it can be done
/// without a rebuild; false when a rebuild is needed (what was changed is then thrown
/// away by the caller).
pub(super) fn apply(
    core: &mut Arc<Core>,
    pods: &mut PVec<PodInfo>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    up: &Update<'_>,
) -> bool {
    let Some(np) = within_budget(core, kinds) else {
        return false;
    };
    let old_gid = match up.old_pos {
        Some(pos) => match np.gids.get(pos) {
            Some(g) => Some(*g),
            None => return false,
        },
        None => None,
    };
    let scoped = up.new.map(|p| scoped(p, cluster)).unwrap_or_default();
    if let Some(p) = up.new {
        if !admissible(core, kinds, p, &scoped) {
            return false;
        }
    }
    let own_ns = up
        .new
        .or(up.old)
        .and_then(|p| cluster.namespace_id(p.namespace()))
        .map(|n| to_u32(n.index()));
    compile_change(core, pods, kinds, cluster, scoped, true, |cx| {
        cx.renumber(up, old_gid, own_ns)
    })
}

/// Compiles a change into the core through a [`Cx`] (`run`), then records the pod
/// selectors of the new version (`scoped`) in the kind index; false when the change
/// cannot be made without a rebuild. With `pod_peers`, the selectors after the first are
/// the new version's pod peers in order, which a NetworkPolicy's rules read.
fn compile_change(
    core: &mut Arc<Core>,
    pods: &mut PVec<PodInfo>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    scoped: Scoped<'_>,
    pod_peers: bool,
    run: impl FnOnce(&mut Cx<'_>) -> Option<()>,
) -> bool {
    let fixed = Arc::clone(&kinds.fixed);
    let Some(np) = kinds.np.as_mut() else {
        return false;
    };
    let peers = if pod_peers {
        scoped.get(1..).unwrap_or(&[])
    } else {
        &[]
    };
    let namespaces = if np.felix {
        cluster
            .namespaces()
            .map(|(_, n)| (n.name.as_str(), &n.labels))
            .collect()
    } else {
        Vec::new()
    };
    let mut cx = Cx {
        core: Arc::make_mut(core),
        pods,
        pod_identities: &kinds.pod_identities,
        np,
        fixed: &fixed,
        cluster,
        namespaces,
        peers,
        segments: HashMap::new(),
        created: HashMap::new(),
    };
    if run(&mut cx).is_none() {
        return false;
    }
    if let Some(selectors) = kinds.selectors.as_mut() {
        for (sel, scope) in scoped {
            selectors.add_scoped(sel, scope);
        }
    }
    true
}

/// A ClusterNetworkPolicy being added, changed or removed.
pub(super) struct ClusterUpdate<'a> {
    /// Its position among the set's ClusterNetworkPolicies before the change (`None`:
    /// added).
    pub(super) old_pos: Option<usize>,
    /// The version before the change.
    pub(super) old: Option<&'a ClusterPolicy>,
    /// The version after it (`None`: removed).
    pub(super) new: Option<&'a ClusterPolicy>,
    /// The cluster the old version selected its subjects in, when not the one the update
    /// is compiled against (a namespace relabelled since).
    pub(super) before: Option<&'a Cluster>,
}

/// The pod selectors of a ClusterNetworkPolicy, each with the namespaces it reads pods
/// of: its subject's, then its peers' (directions, rules, peers).
fn cluster_scoped<'p>(p: &'p ClusterPolicy, cluster: &Cluster) -> Scoped<'p> {
    let mut memo: HashMap<&Selector, Arc<[u32]>> = HashMap::new();
    let mut scope = |sel: &'p Selector| -> Arc<[u32]> {
        Arc::clone(
            memo.entry(sel)
                .or_insert_with(|| namespace_indexes(cluster, sel).into()),
        )
    };
    let mut out: Scoped<'p> = Vec::new();
    match p.subject() {
        Subject::Namespaces(ns) => out.push((everything(), scope(ns))),
        Subject::Pods { namespaces, pods } => out.push((pods, scope(namespaces))),
    }
    for d in Direction::BOTH {
        for rule in p.rules(d) {
            for peer in rule.peers() {
                if let ClusterPeer::Pods { namespaces, pods } = peer {
                    out.push((pods, scope(namespaces)));
                }
            }
        }
    }
    out
}

/// Whether the selectors `scoped` of a policy read only label keys identities are told
/// apart by, and answer alike for every label set learned equivalent to an identity
/// and that identity.
fn selectors_admissible(core: &Core, kinds: &KindIndex, scoped: &Scoped<'_>) -> bool {
    for (sel, scope) in scoped {
        if let Some(keys) = &core.label_keys {
            if sel
                .requirements()
                .iter()
                .any(|r| keys.binary_search(&r.key).is_err())
            {
                return false;
            }
        }
        if sel.requirements().is_empty() {
            continue;
        }
        for (ns, labels, id) in kinds.learned.iter() {
            if !scope.contains(ns) {
                continue;
            }
            let Some((_, theirs)) = kinds.fixed.of_identity.get(id) else {
                return false;
            };
            if sel.matches(labels) != sel.matches(theirs) {
                return false;
            }
        }
    }
    true
}

/// Whether a named port can be compiled against the core: some rule named it at the
/// build, or no pod declares it (then nothing matches it until a pod does, which
/// rebuilds).
fn name_admissible(core: &Core, kinds: &KindIndex, name: &str) -> bool {
    core.names.contains_key(name) || !kinds.port_names.contains(name)
}

/// Applies a ClusterNetworkPolicy change to the core, the pod table and the kind index,
/// when it can be done without a rebuild; false when a rebuild is needed (what was
/// changed is then thrown away by the caller). See the module documentation.
pub(super) fn apply_cluster(
    core: &mut Arc<Core>,
    pods: &mut PVec<PodInfo>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    up: &ClusterUpdate<'_>,
) -> bool {
    let Some(cluster_gids) = within_budget(core, kinds).and_then(|np| np.cluster_gids.as_ref())
    else {
        return false;
    };
    let old_gid = match up.old_pos {
        Some(pos) => match cluster_gids.get(pos) {
            Some(g) => Some(*g),
            None => return false,
        },
        None => None,
    };
    let scoped = up
        .new
        .map(|p| cluster_scoped(p, cluster))
        .unwrap_or_default();
    if let Some(p) = up.new {
        let names_ok = Direction::BOTH.iter().all(|d| {
            p.rules(*d).iter().all(|rule| {
                rule.ports().into_iter().flatten().all(|port| match port {
                    ClusterPort::Named(name) => name_admissible(core, kinds, name),
                    ClusterPort::Ports { .. } => true,
                })
            })
        });
        if !names_ok || !selectors_admissible(core, kinds, &scoped) {
            return false;
        }
    }
    compile_change(core, pods, kinds, cluster, scoped, false, |cx| {
        cx.renumber_cluster(up, old_gid)
    })
}

/// A ClusterNetworkPolicy (at `pos` in the set) whose subject answers otherwise for
/// namespace `name` (index `ns`) in `cluster` than in `before`, and whose rules do not
/// (a namespace relabelled): the identities of that namespace move in or out of it,
/// which keeps its number and rules; its tier is compiled anew as instructions in the
/// classes they move to. `None` when identities would enter a policy numbered at the
/// build whose rules the rule index holds (explanations read those through the class
/// mask, which the classes they move to take from their old class): it must then be
/// compiled again as a change, as it is whenever the core has an overlay (class lists are
/// then read through it); `Some(false)` when a rebuild is needed.
#[allow(clippy::too_many_arguments)]
pub(super) fn reselect_cluster(
    core: &mut Arc<Core>,
    pods: &mut PVec<PodInfo>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    before: &Cluster,
    pos: usize,
    p: &ClusterPolicy,
    (name, ns): (&str, u32),
) -> Option<bool> {
    // (Where Felix decides, namespace labels are pod labels too: a relabel compiles the
    // policy again instead, and never comes here.)
    let Some(&gid) = within_budget(core, kinds)
        .filter(|np| !np.felix)
        .and_then(|np| np.cluster_gids.as_ref())
        .and_then(|g| g.get(pos))
    else {
        return Some(false);
    };
    let (namespaces, selector) = match p.subject() {
        Subject::Namespaces(sel) => (sel, everything()),
        Subject::Pods { namespaces, pods } => (namespaces, pods),
    };
    let selects = |c: &Cluster| {
        c.namespace_id(name)
            .and_then(|id| c.namespace(id))
            .is_some_and(|n| namespaces.matches(&n.labels))
    };
    if core.overlay.is_some() {
        // Class lists are read through the overlay: compiled again as a change, into it.
        return None;
    }
    let now = selects(cluster);
    let indexed = core
        .rule_start
        .iter()
        .any(|starts| starts.get(gid as usize).copied().flatten().is_some());
    if now && indexed {
        return None;
    }
    let scoped: Scoped<'_> = vec![(selector, Arc::from([ns]))];
    if now && !selectors_admissible(core, kinds, &scoped) {
        return Some(false);
    }
    let was = selects(before);
    let ok = compile_change(core, pods, kinds, cluster, scoped, false, |cx| {
        let tier = cx.core.policies.get(gid as usize)?.tier_pos;
        let ids = |on: bool, d: Direction| {
            let mut out = Vec::new();
            if on && p.affects(d) {
                cx.fixed.select(ns, selector, |id| out.push(id));
            }
            out.sort_unstable();
            out
        };
        let per_dir = Direction::BOTH.map(|d| (ids(was, d), ids(now, d)));
        cx.reclass(per_dir, Some(gid), Some(gid), &[tier])
    });
    Some(ok)
}

/// A change being compiled into the core.
struct Cx<'a> {
    core: &'a mut Core,
    pods: &'a mut PVec<PodInfo>,
    pod_identities: &'a PVec<u32>,
    np: &'a mut NpState,
    fixed: &'a Fixed,
    cluster: &'a Cluster,
    /// Under Felix: the cluster's namespaces (name, labels) by index, which Calico's
    /// selectors read (empty otherwise).
    namespaces: Vec<(&'a str, &'a Labels)>,
    /// The namespaces of each pod peer of the new version, in order (NetworkPolicy).
    peers: &'a [(&'a Selector, Arc<[u32]>)],
    /// Per (direction, policy number): the policy's rules emitted as instructions, without
    /// the end; tier programs are made of them.
    segments: HashMap<(usize, u32), Vec<Instr>>,
    /// Classes made in this change whose list holds the policy number it gave, by the
    /// same hash as [`NpState::classes`]: no class made before can have their lists.
    created: HashMap<u64, ClassBucket>,
}

/// Per direction: the identities the old version selects, and those the new one does.
type Subjects = [(Vec<u32>, Vec<u32>); 2];

/// A policy list's tiers: (tier position, how many of its policies), in order.
type TierRuns = smallvec::SmallVec<[(u32, usize); 4]>;

/// A class's tier steps being made.
type Steps = smallvec::SmallVec<[TierStep; 4]>;

impl Cx<'_> {
    /// Compiles the new version, gives it its number, and moves the identities it or the
    /// old version selects to their new classes. `None` when something is not as
    /// expected (a rebuild then follows).
    fn renumber(
        &mut self,
        up: &Update<'_>,
        old_gid: Option<u32>,
        own_ns: Option<u32>,
    ) -> Option<()> {
        let mut seen = 0;
        let new_rules = up.new.map(|p| {
            Direction::BOTH.map(|d| {
                p.rules(d)
                    .iter()
                    .map(|r| self.rule(r, p.namespace(), &mut seen))
                    .collect::<Option<Vec<_>>>()
            })
        });
        let count = self.np.gids.len();
        self.retire(old_gid);
        let new_gid = match (up.new, new_rules) {
            (Some(p), Some([ingress, egress])) => Some(self.push_policy(
                PolicyMeta {
                    kind: PolicyKind::NetworkPolicy,
                    index: up.old_pos.unwrap_or(count),
                    namespace: Some(p.namespace().into()),
                    name: p.name().into(),
                    tier: TierRef::NetworkPolicy,
                    tier_pos: self.np.tier_pos,
                    priority: 0,
                },
                [ingress?, egress?],
            )),
            _ => None,
        };
        let gids = Arc::make_mut(&mut self.np.gids);
        renumber_gids(self.core, gids, up.old_pos, new_gid)?;
        // Under Felix, the old version's subjects as its namespace's labels were.
        let before: Vec<(&str, &Labels)> = match up.before {
            Some(c) if self.np.felix => c
                .namespaces()
                .map(|(_, n)| (n.name.as_str(), &n.labels))
                .collect(),
            _ => Vec::new(),
        };
        let subjects = |p: Option<&Policy>, namespaces: &[(&str, &Labels)], d: Direction| {
            let mut out = Vec::new();
            if let (Some(p), Some(ns)) = (p, own_ns) {
                if !p.affects(d) {
                    return out;
                }
                if self.np.felix {
                    // `projectcalico.org/orchestrator == 'k8s' && <pod selector>` in the
                    // policy's namespace, over Felix's view of the pods.
                    let conv = Converted::network_subject(p);
                    self.fixed
                        .select_felix(namespaces, &conv, |id| out.push(id));
                } else {
                    self.fixed.select(ns, p.pod_selector(), |id| out.push(id));
                }
            }
            out
        };
        let old_namespaces = if up.before.is_some() && self.np.felix {
            &before
        } else {
            &self.namespaces
        };
        let per_dir = Direction::BOTH.map(|d| {
            (
                subjects(up.old, old_namespaces, d),
                subjects(up.new, &self.namespaces, d),
            )
        });
        let tiers = [self.np.tier_pos];
        self.reclass(per_dir, old_gid, new_gid, &tiers)
    }

    /// [`renumber`](Self::renumber) for a ClusterNetworkPolicy: its rules compiled as the
    /// compiler does, the tiers of its old and new version compiled anew as
    /// instructions in the classes that change.
    fn renumber_cluster(&mut self, up: &ClusterUpdate<'_>, old_gid: Option<u32>) -> Option<()> {
        let tier_pos = |tier: ClusterTier| -> Option<(TierRef, u32)> {
            let tier = match tier {
                ClusterTier::Admin => TierRef::Admin,
                ClusterTier::Baseline => TierRef::Baseline,
            };
            let pos = self.core.tiers.iter().position(|t| t.tier == tier)?;
            Some((tier, to_u32(pos)))
        };
        let new_tier = match up.new {
            Some(p) => Some(tier_pos(p.tier())?),
            None => None,
        };
        let new_rules = match up.new {
            Some(p) => {
                let mut per_dir: [Vec<CompiledRule>; 2] = [Vec::new(), Vec::new()];
                for d in Direction::BOTH {
                    for rule in p.rules(d) {
                        if self.np.felix && calico_fails(rule, d) {
                            // As Calico converts a rule it fails to: see the compiler.
                            per_dir
                                .get_mut(dir_index(d))?
                                .push(calico_failed_rule(rule.action()));
                            continue;
                        }
                        let mut selected = Selected::new(0);
                        let (mut peers, mut ports) =
                            cluster_rule_parts(self, rule, &mut selected, |cx, peer, peers, _| {
                                if !cx.np.felix {
                                    return false;
                                }
                                // Under Felix, as Calico converts them: a bare namespace
                                // selector (under `pcns.`), or that and a pod selector,
                                // over Felix's view of the pods.
                                let Some(conv) = Converted::cluster_peer(peer) else {
                                    return false;
                                };
                                if let Some(id) = cx.felix_pod_set(&conv) {
                                    if !peers.pod_sets.contains(&id) {
                                        peers.pod_sets.push(id);
                                    }
                                }
                                true
                            })?;
                        peers.blocks.sort_unstable();
                        self.limit_pod_sets(&mut peers);
                        ports.finish();
                        per_dir.get_mut(dir_index(d))?.push(CompiledRule {
                            action: rule.action(),
                            peers,
                            ports,
                            unsupported: false,
                        });
                    }
                }
                Some(per_dir)
            }
            None => None,
        };
        let count = self.np.cluster_gids.as_ref()?.len();
        self.retire(old_gid);
        let new_gid = match (up.new, new_rules, new_tier) {
            (Some(p), Some(rules), Some((tier, pos))) => Some(self.push_policy(
                PolicyMeta {
                    kind: PolicyKind::ClusterNetworkPolicy,
                    index: up.old_pos.unwrap_or(count),
                    namespace: None,
                    name: p.name().into(),
                    tier,
                    tier_pos: pos,
                    priority: p.priority(),
                },
                rules,
            )),
            _ => None,
        };
        let gids = Arc::make_mut(self.np.cluster_gids.as_mut()?);
        renumber_gids(self.core, gids, up.old_pos, new_gid)?;
        self.overlay(up, old_gid, new_gid)
    }

    /// Records a ClusterNetworkPolicy change in the core's overlay: the old version
    /// (`old_gid`) disabled, or its entry dropped when it was one, and the new one
    /// (`new_gid`) entered with the identities it selects. `None` when the overlay is full
    /// (a rebuild then folds it away).
    fn overlay(
        &mut self,
        up: &ClusterUpdate<'_>,
        old_gid: Option<u32>,
        new_gid: Option<u32>,
    ) -> Option<()> {
        let ids = self.core.identities.len();
        let mut ov = match self.core.overlay.as_deref() {
            Some(ov) => ov.clone(),
            None => Overlay {
                base: self.core.walk_mode,
                affected: [Bitset::new(ids), Bitset::new(ids)],
                dropped: [Bitset::new(ids), Bitset::new(ids)],
                disabled: Vec::new(),
                entries: Vec::new(),
            },
        };
        if let Some(g) = old_gid {
            match ov.entries.iter().position(|e| e.gid == g) {
                Some(at) => {
                    ov.entries.remove(at);
                }
                None => {
                    // Class lists hold it, for the identities it selected.
                    if let Some(p) = up.old {
                        let selected = self.selected(up.before.unwrap_or(self.cluster), p);
                        self.mark(p, &selected, &mut ov.dropped);
                    }
                    if let Err(at) = ov.disabled.binary_search(&g) {
                        ov.disabled.insert(at, g);
                    }
                }
            }
        }
        if let Some(g) = new_gid {
            if ov.entries.len() >= MAX_OVERLAY {
                return None;
            }
            let meta = self.core.policies.get(g as usize)?.clone();
            let felix = self.np.felix;
            let mut after = Bitset::new(g as usize);
            for (x, m) in self.core.policies.iter().enumerate().take(g as usize) {
                if m.tier_pos == meta.tier_pos && walk_order(m, &meta, felix).is_gt() {
                    after.insert(x);
                }
            }
            let mut subjects = [Bitset::new(ids), Bitset::new(ids)];
            if let Some(p) = up.new {
                let selected = self.selected(self.cluster, p);
                self.mark(p, &selected, &mut subjects);
            }
            let policies = &self.core.policies;
            let at = ov.entries.partition_point(|e| {
                policies
                    .get(e.gid as usize)
                    .is_some_and(|m| walk_order(m, &meta, felix).is_lt())
            });
            ov.entries.insert(
                at,
                Arc::new(OverlayEntry {
                    gid: g,
                    tier_pos: meta.tier_pos,
                    subjects,
                    after,
                    felix: None,
                }),
            );
        }
        self.core.set_overlay(ov);
        Some(())
    }

    /// Whether a ClusterNetworkPolicy applies to direction `d`: it has that direction,
    /// and under Felix, Calico keeps a rule of it (Calico's converted policy has a type
    /// only for the directions that keep a rule).
    fn applies(&self, p: &ClusterPolicy, d: Direction) -> bool {
        p.affects(d) && !(self.np.felix && p.rules(d).iter().all(|r| calico_drops(r, d)))
    }

    /// The identities a ClusterNetworkPolicy's subject selects in `cluster`, ascending:
    /// under Felix, the namespace selector under `pcns.`, the pod selector (or the
    /// orchestrator term alone), over Felix's view of the pods.
    fn selected(&self, cluster: &Cluster, p: &ClusterPolicy) -> Vec<u32> {
        let mut out = Vec::new();
        if self.np.felix {
            let conv = Converted::cluster_subject(p.subject());
            let namespaces: Vec<(&str, &Labels)> = cluster
                .namespaces()
                .map(|(_, n)| (n.name.as_str(), &n.labels))
                .collect();
            self.fixed
                .select_felix(&namespaces, &conv, |id| out.push(id));
            out.sort_unstable();
            out.dedup();
            return out;
        }
        let (namespaces, pods) = match p.subject() {
            Subject::Namespaces(ns) => (ns, everything()),
            Subject::Pods { namespaces, pods } => (namespaces, pods),
        };
        for ns in namespace_indexes(cluster, namespaces) {
            if pods.requirements().is_empty() {
                // Every identity of the namespace.
                if let Some(all) = self.fixed.by_namespace.get(&ns) {
                    out.extend_from_slice(all);
                }
            } else {
                self.fixed.select(ns, pods, |id| out.push(id));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Per direction, the identities of `selected` (those a ClusterNetworkPolicy's
    /// subject selects) for the directions it applies to, as a bitset over identities
    /// marked in `into`.
    fn mark(&self, p: &ClusterPolicy, selected: &[u32], into: &mut [Bitset; 2]) {
        for d in Direction::BOTH {
            if let (true, Some(set)) = (self.applies(p, d), into.get_mut(dir_index(d))) {
                for id in selected {
                    set.insert(*id as usize);
                }
            }
        }
    }

    /// Retires policy number `gid`: no class lists it any more.
    fn retire(&mut self, gid: Option<u32>) {
        if let Some(g) = gid {
            self.core.retired += 1;
            self.core
                .rules
                .set(g as usize, Arc::new([Vec::new(), Vec::new()]));
        }
    }

    /// Gives a policy its number in the core.
    fn push_policy(&mut self, meta: PolicyMeta, rules: [Vec<CompiledRule>; 2]) -> u32 {
        let gid = to_u32(self.core.policies.len());
        self.core.policies.push(meta);
        self.core.rules.push(Arc::new(rules));
        gid
    }

    /// Moves the identities the old or new version selects (`per_dir`) to their new
    /// classes, and their pods with them; the tiers at `tiers` are compiled anew.
    fn reclass(
        &mut self,
        per_dir: Subjects,
        old_gid: Option<u32>,
        new_gid: Option<u32>,
        tiers: &[u32],
    ) -> Option<()> {
        if per_dir.iter().all(|(a, b)| a.is_empty() && b.is_empty()) {
            return Some(());
        }
        let mut updated: HashMap<u32, IdentityInfo> = HashMap::new();
        for (d, (old_sel, new_sel)) in Direction::BOTH.into_iter().zip(per_dir) {
            let di = dir_index(d);
            let selected: HashSet<u32> = new_sel.iter().copied().collect();
            let mut memo: HashMap<(u32, bool), (u32, u32)> = HashMap::new();
            let mut all = old_sel;
            all.extend(new_sel);
            all.sort_unstable();
            all.dedup();
            for id in all {
                let mut info = match updated.get(&id) {
                    Some(info) => *info,
                    None => *self.core.identities.get(id as usize)?,
                };
                let old_full = *info.class.get(di)?;
                let inside = selected.contains(&id);
                let (full, own) = match memo.get(&(old_full, inside)) {
                    Some(ids) => *ids,
                    None => {
                        let ids = self.classes_for(
                            di,
                            old_full,
                            old_gid,
                            new_gid.filter(|_| inside),
                            tiers,
                        )?;
                        memo.insert((old_full, inside), ids);
                        ids
                    }
                };
                let (slot, own_slot) = (info.class.get_mut(di)?, info.own_node_class.get_mut(di)?);
                if (*slot, *own_slot) != (full, own) {
                    *slot = full;
                    *own_slot = own;
                    updated.insert(id, info);
                }
            }
        }
        if updated.is_empty() {
            return Some(());
        }
        let identities = Arc::make_mut(&mut self.core.identities);
        let mut changed = Bitset::new(identities.len());
        for (id, info) in &updated {
            *identities.get_mut(*id as usize)? = *info;
            changed.insert(*id as usize);
        }
        // Pods of moved identities take their identity's classes.
        let moved: Vec<usize> = self
            .pod_identities
            .iter()
            .enumerate()
            .filter(|(_, id)| changed.contains(**id as usize))
            .map(|(i, _)| i)
            .collect();
        for i in moved {
            let pod = self.pods.get(i)?;
            let info = updated.get(&pod.identity)?;
            let pod = PodInfo {
                class: info.class,
                ..pod.clone()
            };
            self.pods.set(i, pod);
        }
        Some(())
    }

    /// The classes (full, own-node variant) of an identity in class `old` for direction
    /// `di`, once `old_gid` is dropped from its list and `new_gid` inserted; the tiers at
    /// `tiers` are compiled anew.
    fn classes_for(
        &mut self,
        di: usize,
        old: u32,
        old_gid: Option<u32>,
        new_gid: Option<u32>,
        tiers: &[u32],
    ) -> Option<(u32, u32)> {
        let old_list = &self.core.classes.get(old as usize)?.policies;
        let mut list: Vec<u32> = Vec::with_capacity(old_list.len() + 1);
        match old_gid.and_then(|g| old_list.iter().position(|x| *x == g)) {
            Some(at) => {
                list.extend_from_slice(old_list.get(..at)?);
                list.extend_from_slice(old_list.get(at + 1..)?);
            }
            None => list.extend_from_slice(old_list),
        }
        if let Some(g) = new_gid {
            let meta = self.core.policies.get(g as usize)?;
            let felix = self.np.felix;
            let at = list.partition_point(|x| {
                self.core
                    .policies
                    .get(*x as usize)
                    .is_some_and(|m| walk_order(m, meta, felix).is_lt())
            });
            list.insert(at, g);
        }
        if list.is_empty() {
            return Some((NOT_ISOLATED, NOT_ISOLATED));
        }
        self.class_pair(di, &list, new_gid.is_some(), old, tiers)
    }

    /// The classes of `list` for direction `di` (full, own-node variant): existing ones,
    /// or ones compiled from the rules of the tiers at `tiers` and the other tiers' steps
    /// of class `template`, whose list differs from `list` only in those tiers. With
    /// `fresh`, the list holds the number this change gave: only a class made in this
    /// change can have it.
    fn class_pair(
        &mut self,
        di: usize,
        list: &[u32],
        fresh: bool,
        template: u32,
        tiers: &[u32],
    ) -> Option<(u32, u32)> {
        let hash = class_hash(di, list);
        let dir = u8::from(di == 1);
        let known = if fresh {
            [self.created.get(&hash), None]
        } else {
            [self.np.classes.get(&hash), self.np.made.get(&hash)]
        };
        // Found (full, own-node variant).
        let mut found: (Option<u32>, Option<u32>) = (None, None);
        for &(id, d, own_node) in known.into_iter().flatten().flatten() {
            let slot = if own_node { &mut found.1 } else { &mut found.0 };
            if d == dir
                && slot.is_none()
                && self
                    .core
                    .classes
                    .get(id as usize)
                    .is_some_and(|c| c.policies == list)
            {
                *slot = Some(id);
            }
        }
        if let (Some(full), Some(own)) = found {
            return Some((full, own));
        }
        let head = *self.core.heads.get(template as usize)?;
        // The template's steps, one per tier of its list (it is a full class).
        let old_steps: &[TierStep] = if head.len as usize <= INLINE_STEPS {
            head.inline.get(..head.len as usize)?
        } else {
            let start = head.start as usize;
            self.core.steps.get(start..start + head.len as usize)?
        };
        let old_steps: smallvec::SmallVec<[TierStep; INLINE_STEPS]> = old_steps.into();
        let old_tiers = self.tiers_of(&self.core.classes.get(template as usize)?.policies)?;
        if old_tiers.len() != old_steps.len() {
            return None;
        }
        // The full class's steps, and where the own-node variant's end: its
        // NetworkPolicy tier allows, and nothing after it is read.
        let mut steps: Steps = Steps::new();
        let mut own_steps: Option<Steps> = None;
        let mut at = 0;
        for (tier_pos, len) in self.tiers_of(list)? {
            let in_tier = list.get(at..at + len)?;
            at += len;
            let tier = self.core.tiers.get(tier_pos as usize)?;
            let end = tier.end;
            if tier.tier == TierRef::NetworkPolicy && own_steps.is_none() {
                let mut own = steps.clone();
                own.push(TierStep::new(Prog::Allow, end));
                own_steps = Some(own);
                if found.0.is_some() {
                    break;
                }
            }
            if tiers.contains(&tier_pos) {
                let start = self.tier_code(di, in_tier)?;
                steps.push(TierStep::new(Prog::Code(start), end));
                continue;
            }
            let k = old_tiers.iter().position(|(t, _)| *t == tier_pos)?;
            steps.push(TierStep::new(old_steps.get(k)?.prog(), end));
        }
        let own_steps = own_steps.unwrap_or_else(|| steps.clone());
        let full = match found.0 {
            Some(id) => id,
            None => self.push_class(di, list, steps, head.mask)?,
        };
        let own = match found.1 {
            Some(id) => id,
            None => self.push_class(di, list, own_steps, head.mask)?,
        };
        let entries = [
            (found.0.is_none(), (full, dir, false)),
            (found.1.is_none(), (own, dir, true)),
        ]
        .into_iter()
        .filter_map(|(made, entry)| made.then_some(entry));
        match self.np.made.get_mut(&hash) {
            Some(bucket) => bucket.extend(entries.clone()),
            None => {
                self.np.made.insert(hash, entries.clone().collect());
            }
        }
        if fresh {
            self.created.entry(hash).or_default().extend(entries);
        }
        Some((full, own))
    }

    /// Pushes a class of direction `di` and `list` with `steps` (not yet linked) and rule
    /// index mask `mask`; `None` when the steps do not fit in its head.
    fn push_class(&mut self, di: usize, list: &[u32], mut steps: Steps, mask: u32) -> Option<u32> {
        // As the compiler does: a scan may run on through following index steps while
        // tiers end in `Pass`.
        let len = steps.len();
        TierStep::link_scans(&mut steps);
        if len > INLINE_STEPS {
            return None;
        }
        let mut inline = [TierStep::default(); INLINE_STEPS];
        for (slot, step) in inline.iter_mut().zip(steps) {
            *slot = step;
        }
        // The class's tiers read through the rule index are the template's, with the same
        // policies: so is its mask. It also holds the rules of the policies of the tiers
        // compiled anew that stayed (explanations read their indexed rules through it),
        // and for the own-node variant those of tiers after the NetworkPolicy one, which
        // its steps never scan.
        let head = ClassHead {
            mask,
            start: 0,
            len: to_u32(len),
            inline,
        };
        let id = to_u32(self.core.classes.len());
        self.core.classes.push(Class {
            policies: list.to_vec(),
            head,
        });
        self.core.push_head(head, di);
        Some(id)
    }

    /// A policy list's tiers: (tier position, how many of its policies), in order. The
    /// list is in evaluation order, so sorted by tier: each tier's end is found by a
    /// binary search.
    fn tiers_of(&self, list: &[u32]) -> Option<TierRuns> {
        let tier_of = |g: u32| self.core.policies.get(g as usize).map(|m| m.tier_pos);
        let mut out = TierRuns::new();
        let mut at = 0;
        while let Some(rest) = list.get(at..).filter(|r| !r.is_empty()) {
            let tier = tier_of(*rest.first()?)?;
            let len = rest.partition_point(|g| tier_of(*g).is_some_and(|t| t <= tier));
            if len == 0 {
                return None;
            }
            out.push((tier, len));
            at += len;
        }
        Some(out)
    }

    /// Appends the program of a tier holding `policies` (in evaluation order) for
    /// direction `di`, as the compiler emits a tier it runs as instructions; returns
    /// where it starts.
    fn tier_code(&mut self, di: usize, policies: &[u32]) -> Option<u32> {
        let key = (di, policies.to_vec());
        if let Some(start) = self.np.tier_code.get(&key) {
            return Some(*start);
        }
        let mut program: Vec<Instr> = Vec::new();
        for g in policies {
            if !self.segments.contains_key(&(di, *g)) {
                let segment = self.segment(di, *g)?;
                self.segments.insert((di, *g), segment);
            }
            program.extend(self.segments.get(&(di, *g))?.iter().cloned());
        }
        let start = self.core.push_program(&program);
        self.np.tier_code.insert(key, start);
        Some(start)
    }

    /// The rules of policy `g` for direction `di` as instructions, as the compiler emits
    /// a tier it runs as instructions, without the end. A tier's program is its
    /// policies' in order: the compiler merges rules with one action and one port set
    /// across policies too, which decides the same (the first rule matching in order
    /// decides, and merged rules have one action).
    fn segment(&mut self, di: usize, g: u32) -> Option<Vec<Instr>> {
        let rules = Arc::clone(self.core.rules.get(g as usize)?);
        let mut code: Vec<Instr> = Vec::new();
        emit_tier(self, &mut code, rules.get(di)?);
        if code.pop().map(|i| i.op) != Some(OpCode::End) {
            return None;
        }
        for instr in &mut code {
            self.value_bits(&mut instr.peers);
        }
        Some(code)
    }

    /// Gives merged peers with blocks their bitset over prefix-map values, where the
    /// core keeps them.
    fn value_bits(&mut self, peers: &mut PeerSet) {
        if peers.blocks.is_empty() || self.core.value_bits.stride() == 0 {
            return;
        }
        let key = peers.blocks.to_vec();
        peers.value_bits = match self.np.value_bits.get(&key) {
            Some(id) => *id,
            None => {
                let mut bits = Bitset::new(self.core.blocks.values());
                for b in &peers.blocks {
                    for (lo, hi) in self.core.blocks.intervals(*b) {
                        bits.insert_range(*lo as usize, *hi as usize);
                    }
                }
                let id = self.core.value_bits.push(bits);
                self.np.value_bits.insert(key, id);
                id
            }
        };
    }

    /// Unions the pod sets of `peers` into one when there are too many to test one by
    /// one, as the compiler does.
    fn limit_pod_sets(&mut self, peers: &mut PeerSet) {
        if peers.pod_sets.len() <= MAX_POD_SETS {
            return;
        }
        let mut key = peers.pod_sets.to_vec();
        key.sort_unstable();
        if let Some(id) = self.np.unions.get(&key) {
            peers.pod_sets.clear();
            peers.pod_sets.push(*id);
            return;
        }
        let mut union = Bitset::new(self.core.identities.len());
        for id in &peers.pod_sets {
            for (w, word) in self.core.pod_sets.row(*id).iter().enumerate() {
                let mut word = *word;
                while word != 0 {
                    union.insert(w * 64 + word.trailing_zeros() as usize);
                    word &= word - 1;
                }
            }
        }
        let id = self.pod_set(union);
        self.np.unions.insert(key, id);
        peers.pod_sets.clear();
        peers.pod_sets.push(id);
    }

    /// The id of a pod set, pushed unless an equal one was pushed before.
    fn pod_set(&mut self, set: Bitset) -> u32 {
        if let Some(id) = self.np.pod_sets.get(&set) {
            return *id;
        }
        let id = self.core.pod_sets.push(set.clone());
        self.np.pod_sets.insert(set, id);
        id
    }

    /// A NetworkPolicy rule of a policy of namespace `policy_ns`, compiled through the
    /// compiler's `compile::network_rule_parts`; `seen` counts the pod peers of the
    /// policy so far. Under Felix, as the compiler reads it there: pod peers as Calico
    /// converts them (the policy's namespace or the namespace selector under `pcns.`, and
    /// the pod selector, over Felix's view of the pods), `ipBlock`s matching any address.
    fn rule(
        &mut self,
        rule: &crate::policy::Rule,
        policy_ns: &str,
        seen: &mut usize,
    ) -> Option<CompiledRule> {
        let mut selected = Selected::new(0);
        let (mut peers, mut ports) = network_rule_parts(
            self,
            rule,
            &mut selected,
            |cx, _| {
                let (_, ns) = cx.peers.get(*seen)?;
                *seen += 1;
                Some(ns.to_vec())
            },
            |cx, peer, peers, _| {
                let Peer::Pods { namespaces, pods } = peer else {
                    return false;
                };
                if !cx.np.felix {
                    return false;
                }
                let conv = Converted::network_peer(policy_ns, namespaces.as_ref(), pods);
                if let Some(id) = cx.felix_pod_set(&conv) {
                    if !peers.pod_sets.contains(&id) {
                        peers.pod_sets.push(id);
                    }
                }
                true
            },
        )?;
        // Under Felix an ipBlock is Calico's `nets`, which any address meets.
        peers.any_address = self.np.felix;
        peers.blocks.sort_unstable();
        self.limit_pod_sets(&mut peers);
        ports.finish();
        Some(CompiledRule {
            action: Action::Allow,
            peers,
            ports,
            unsupported: false,
        })
    }

    /// Under Felix: the pod set of the identities a converted selector pair matches,
    /// `None` when empty.
    fn felix_pod_set(&mut self, conv: &Converted<'_>) -> Option<u32> {
        let mut set = Bitset::new(self.core.identities.len());
        self.fixed
            .select_felix(&self.namespaces, conv, |id| set.insert(id as usize));
        (!set.is_empty()).then(|| self.pod_set(set))
    }

    /// The id of a block of networks the prefix map holds, pushed unless it was before.
    fn block(&mut self, block: &CidrBlock) -> Option<u32> {
        if let Some(id) = self.np.blocks.get(block) {
            return Some(*id);
        }
        let intervals = self.core.blocks.intervals_of(block)?;
        let id = self.core.blocks.push(intervals);
        self.np.blocks.insert(block.clone(), id);
        Some(id)
    }
}

/// Where a policy comes in evaluation order: its tier, then for a ClusterNetworkPolicy
/// its priority and name (names are unique: the state is made only then), for a
/// NetworkPolicy its position in the set.
fn order(meta: &PolicyMeta) -> (u32, u32, &str, usize) {
    if meta.kind == PolicyKind::NetworkPolicy {
        (meta.tier_pos, 0, "", meta.index)
    } else {
        (meta.tier_pos, meta.priority, &meta.name, 0)
    }
}

/// How two policies compare in evaluation order ([`order`]); under Felix
/// (`calico::ordered_felix`), in Felix's: by tier, then order (a ClusterNetworkPolicy's
/// priority; 1000 for every NetworkPolicy), then the bytes of Felix's key
/// ([`calico::kubernetes_key`], as the build sorts them), then position (keys are unique:
/// the state is made only then).
fn walk_order(a: &PolicyMeta, b: &PolicyMeta, felix: bool) -> std::cmp::Ordering {
    if !felix {
        return order(a).cmp(&order(b));
    }
    let rank = |m: &PolicyMeta| match m.kind {
        PolicyKind::NetworkPolicy => calico::KUBERNETES_NP_ORDER,
        _ => m.priority,
    };
    a.tier_pos
        .cmp(&b.tier_pos)
        .then_with(|| rank(a).cmp(&rank(b)))
        .then_with(|| calico::kubernetes_key(a).cmp(&calico::kubernetes_key(b)))
        .then_with(|| a.index.cmp(&b.index))
}

/// Gives a changed policy's number `new_gid` its place in `gids` (the numbers of the
/// set's policies of its kind, by position): at `old_pos` for a change, at the end for an
/// addition; for a removal, drops `old_pos` and renumbers the policies after it (their
/// position is part of every explanation). `u32::MAX` stands for a policy the core does
/// not number (a Calico policy listed as ignored), which is skipped.
pub(super) fn renumber_gids(
    core: &mut Core,
    gids: &mut Vec<u32>,
    old_pos: Option<usize>,
    new_gid: Option<u32>,
) -> Option<()> {
    match (old_pos, new_gid) {
        (Some(pos), Some(g)) => *gids.get_mut(pos)? = g,
        (None, Some(g)) => gids.push(g),
        (Some(pos), None) => {
            if pos >= gids.len() {
                return None;
            }
            gids.remove(pos);
            for g in gids.iter().skip(pos).filter(|g| **g != u32::MAX) {
                let mut meta = core.policies.get(*g as usize)?.clone();
                meta.index = meta.index.checked_sub(1)?;
                core.policies.set(*g as usize, meta);
            }
        }
        (None, None) => {}
    }
    Some(())
}

/// The core's tables as NetworkPolicy and ClusterNetworkPolicy rules and tier programs
/// compiled into it see them: what the compiler would intern is found or pushed.
impl<'a> RuleTables<'a> for Cx<'_> {
    fn peer_pods(&mut self, namespaces: &'a Selector, pods: &'a Selector) -> Option<u32> {
        let namespaces = namespace_indexes(self.cluster, namespaces);
        self.pods_in(namespaces, pods)
    }
    fn pods_in(&mut self, namespaces: Vec<u32>, pods: &'a Selector) -> Option<u32> {
        let mut set = Bitset::new(self.core.identities.len());
        for n in namespaces {
            self.fixed.select(n, pods, |id| set.insert(id as usize));
        }
        (!set.is_empty()).then(|| self.pod_set(set))
    }
    fn block(&mut self, block: &CidrBlock) -> Option<u32> {
        Cx::block(self, block)
    }
    fn nodes(&mut self, sel: &'a Selector) -> Option<u32> {
        let mut set = Bitset::new(self.cluster.node_count());
        for (i, (_, node)) in self.cluster.nodes().enumerate() {
            if sel.matches(&node.labels) {
                set.insert(i);
            }
        }
        if set.is_empty() {
            return None;
        }
        if let Some(id) = self.np.node_sets.get(&set) {
            return Some(*id);
        }
        let id = self.core.node_sets.push(set.clone());
        self.np.node_sets.insert(set, id);
        Some(id)
    }
    fn domain(&mut self, patterns: &'a [DomainPattern]) -> u32 {
        if let Some(id) = self
            .core
            .domains
            .iter()
            .position(|d| d.as_slice() == patterns)
        {
            return to_u32(id);
        }
        let mut domains = self.core.domains.to_vec();
        domains.push(patterns.to_vec());
        self.core.domains = domains.into();
        to_u32(self.core.domains.len() - 1)
    }
    fn extra(&self, id: u32) -> Option<&PeerExtra> {
        self.core.extras.get(id as usize)
    }
    fn extra_of(&mut self, mut extra: PeerExtra) -> u32 {
        if extra.node_sets.is_empty() && extra.domains.is_empty() {
            return NO_EXTRA;
        }
        extra.node_sets.sort_unstable();
        extra.domains.sort_unstable();
        if let Some(id) = self.np.extras.get(&extra) {
            return *id;
        }
        let id = to_u32(self.core.extras.len());
        let mut extras = self.core.extras.to_vec();
        extras.push(extra.clone());
        self.core.extras = extras.into();
        self.np.extras.insert(extra, id);
        id
    }
    fn port_name(&mut self, name: &str) -> u32 {
        let next = to_u32(self.core.names.len());
        *self.core.names.entry(name.to_owned()).or_insert(next)
    }
    fn limit_peers(&mut self, peers: &mut PeerSet) {
        self.limit_pod_sets(peers);
    }
}
