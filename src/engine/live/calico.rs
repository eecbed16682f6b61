//! Calico policy changes applied to the compiled core without a rebuild, where Calico's
//! Felix decides (the `calico` and `canal` profiles).
//!
//! A build numbers a Calico policy's rules into the direction's rule index (the other
//! side's conditions as bits of the peer rows, over atoms) and folds the conditions on
//! the local pod into per-pod class masks; inserting a policy there would renumber every
//! rule after it and remake the classes of the pods it tests. So a Calico policy
//! (`projectcalico.org/v3` NetworkPolicy or GlobalNetworkPolicy) added, changed or
//! removed goes into the core's *overlay*, as a ClusterNetworkPolicy change does (see
//! `live/policy.rs`, "the overlay"), and no class, program or pod entry changes:
//!
//! - the old version's number is *disabled* when it was numbered at the build (class
//!   lists keep it; the identities it selected per direction are marked), or its entry
//!   dropped when it was itself added since;
//! - the new version is an *entry*: its number, its tier's position, the identities its
//!   selector matches for each direction it applies to (a direction it applies to
//!   selects even with no rule, so that the tier's end applies), which policies numbered
//!   before it come after it in Felix's order (tier, then order, an absent order last,
//!   then the bytes of Felix's key: `calico::ordered_felix`), and its rules in a form of
//!   their own, tested flow by flow (`calico::FelixRule`).
//!
//! Each rule is read by `calico::draft`, as the build reads it, and kept as what
//! `calico::Members` and the rule index make of the draft: its action, ports
//! (`PortFacts`, names interned against the core), families, and for the other side and
//! the local pod the `nets` and `notNets` as sets of prefix-map values, the members and
//! not-members as (the identities the selector matches, the values inside the nets of
//! the network sets it matches). Deciding tests the other side's atom (a pod by its
//! identity or the value of its address of the flow's family, a node or an outside
//! address by its value) and the local pod's likewise: what the build's peer rows and
//! class masks hold for the same atoms. A named port counts where the destination pod
//! declares it, and, where the destination's member selector also matches network sets,
//! only for the pods of the identities that selector matches (Felix's named-port IP sets
//! hold only endpoints), as the build qualifies such names.
//!
//! Identities are keyed by every label and the service account where Felix decides, so
//! any Calico selector is answered on them (over Felix's view of a pod: its labels, its
//! namespace's under `pcns.`, its service account). A selector reads candidates from
//! the identities' label index (`View::identities`): a top-level
//! `projectcalico.org/namespace == 'X'` (written into a namespaced policy's selectors)
//! reads only namespace X's identities, a top-level `key == value`, `key in {…}` or
//! `has(key)` on a key pods carry as they are only that label's list; each candidate is
//! then tested on Felix's view, unless the selector is that one requirement and the
//! index's lists are exact. The cost is those candidates per distinct selector of the
//! new version (and for the old version's), Felix's order against the policies of the
//! tier (a policy's key made only where the order ties), its rules, and the overlay's
//! bitsets; no class is made.
//!
//! What still rebuilds:
//!
//! - a profile where Felix does not decide (Calico policies are then listed as ignored,
//!   with the identities they would select);
//! - a version for host endpoints only (`doNotTrack`, `preDNAT`: listed as ignored), old
//!   or new;
//! - a tier the core does not hold (its place among the tiers would change);
//! - a `nets` or `notNets` network the prefix map does not hold (addresses would change
//!   values);
//! - a named port no rule named at the build that some pod declares (pods' named-port
//!   entries would change);
//! - a policy set holding two Calico policies with one key;
//! - the overlay full (`MAX_OVERLAY` entries), or the core past its budget (4 MiB pushed
//!   since the build);
//! - network sets and tiers added, changed or removed (they reach every selector and the
//!   order of every tier).
//!
//! While the overlay holds a Calico policy added since the build, NetworkPolicy and
//! ClusterNetworkPolicy changes rebuild (their place in walk order is worked out among
//! the build's policies only), as they do where the build itself holds Calico objects.
//! Pods of a kind the core knows keep being added without a rebuild: the overlay reads a
//! pod's identity and address, which is all its kind holds.

use std::cmp::Ordering;
use std::sync::Arc;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::KindIndex;
use super::policy::{MAX_OVERLAY, pushed_bytes, renumber_gids};
use crate::calico::selector::{Selector as CalicoSelector, TermKind};
use crate::calico::{CalicoPolicy, CalicoPolicyKind, PortValue};
use crate::cluster::Cluster;
use crate::engine::bitset::Bitset;
use crate::engine::calico::{self, FelixRule, FelixSide, PodLabels, SideDraft, special_key};
use crate::engine::{
    CompiledRule, Core, Overlay, OverlayEntry, PeerSet, PolicyMeta, PortSet, WalkMode, dir_index,
    to_u32,
};
use crate::explain::TierRef;
use crate::model::Labels;
use crate::policy::{CidrBlock, Direction, PolicyKind, PolicySet};

/// A Calico policy being added, changed or removed.
pub(super) struct CalicoUpdate<'a> {
    /// Its position among the set's Calico policies before the change (`None`: added).
    pub(super) old_pos: Option<usize>,
    /// The version before the change.
    pub(super) old: Option<&'a CalicoPolicy>,
    /// The version after it (`None`: removed).
    pub(super) new: Option<&'a CalicoPolicy>,
    /// The policy set before the change.
    pub(super) set: &'a PolicySet,
}

/// Past this many bytes pushed to the core since its build, a change rebuilds instead.
const BUDGET: usize = 4 << 20;

/// Applies `up` to the core and the kind index, when it can be done without a rebuild;
/// false when a rebuild is needed (what was changed is then thrown away by the caller).
pub(super) fn apply(
    core: &mut Arc<Core>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    up: &CalicoUpdate<'_>,
) -> bool {
    run(core, kinds, cluster, up).is_some()
}

fn run(
    core: &mut Arc<Core>,
    kinds: &mut KindIndex,
    cluster: &Cluster,
    up: &CalicoUpdate<'_>,
) -> Option<()> {
    if !core.profile.enforces_calico_policy()
        || core.walk_mode == WalkMode::Off
        || pushed_bytes(core) > BUDGET
    {
        return None;
    }
    if [up.old, up.new]
        .into_iter()
        .flatten()
        .any(|p| !p.applies_to_pods())
    {
        return None;
    }
    let mut gids: Vec<u32> = match &kinds.calico {
        Some(g) => g.as_ref().clone(),
        None => build_gids(core, up.set)?,
    };
    let old_gid = match up.old_pos {
        Some(pos) => Some(*gids.get(pos).filter(|g| **g != u32::MAX)?),
        None => None,
    };
    let mut view = View::new(core, kinds, cluster, up.set);
    let new = match up.new {
        Some(p) => Some((p, view.compile(p)?)),
        None => None,
    };
    // The old version's subjects, when class lists hold it (numbered at the build).
    let numbered_since = |g: u32| {
        core.overlay
            .as_deref()
            .is_some_and(|ov| ov.entries.iter().any(|e| e.gid == g))
    };
    let old_subjects = match (up.old, old_gid) {
        (Some(p), Some(g)) if !numbered_since(g) => Some(view.subjects(p)),
        _ => None,
    };
    let new_subjects = new.as_ref().map(|(p, _)| view.subjects(p));
    drop(view);

    let core = Arc::make_mut(core);
    let ids = core.identities.len();
    let mut ov = match core.overlay.as_deref() {
        Some(ov) => ov.clone(),
        None => Overlay {
            base: core.walk_mode,
            affected: [Bitset::new(ids), Bitset::new(ids)],
            dropped: [Bitset::new(ids), Bitset::new(ids)],
            disabled: Vec::new(),
            entries: Vec::new(),
        },
    };
    if let Some(g) = old_gid {
        core.retired += 1;
        core.rules
            .set(g as usize, Arc::new([Vec::new(), Vec::new()]));
        match ov.entries.iter().position(|e| e.gid == g) {
            Some(at) => {
                ov.entries.remove(at);
            }
            None => {
                // Class lists hold it, for the identities it selected.
                for (into, from) in ov.dropped.iter_mut().zip(old_subjects.iter().flatten()) {
                    into.union_with(from);
                }
                if let Err(at) = ov.disabled.binary_search(&g) {
                    ov.disabled.insert(at, g);
                }
            }
        }
    }
    let new_gid = match (new, new_subjects) {
        (Some((p, (tier_pos, rules, felix))), Some(subjects)) => {
            if ov.entries.len() >= MAX_OVERLAY {
                return None;
            }
            let kind = match p.kind() {
                CalicoPolicyKind::Namespaced => PolicyKind::CalicoNetworkPolicy,
                _ => PolicyKind::GlobalNetworkPolicy,
            };
            let meta = PolicyMeta {
                kind,
                index: up.old_pos.unwrap_or(up.set.calico_policies().len()),
                namespace: p.namespace().map(Into::into),
                name: p.name().into(),
                tier: TierRef::from_calico(p.tier()),
                tier_pos,
                priority: 0,
            };
            let rank = (p.order(), p.sort_key());
            let gid = to_u32(core.policies.len());
            let mut after = Bitset::new(gid as usize);
            for (x, m) in core.policies.iter().enumerate() {
                if m.tier_pos == tier_pos && compare(m, up.set, &meta, &rank).is_gt() {
                    after.insert(x);
                }
            }
            let policies = &core.policies;
            let at = ov.entries.partition_point(|e| {
                policies
                    .get(e.gid as usize)
                    .is_some_and(|m| compare(m, up.set, &meta, &rank).is_lt())
            });
            ov.entries.insert(
                at,
                Arc::new(OverlayEntry {
                    gid,
                    tier_pos,
                    subjects,
                    after,
                    felix: Some(Arc::new(felix)),
                }),
            );
            core.policies.push(meta);
            core.rules.push(Arc::new(rules));
            Some(gid)
        }
        _ => None,
    };
    renumber_gids(core, &mut gids, up.old_pos, new_gid)?;
    // On a removal the Calico policies listed as ignored after it move up one place too.
    if let (Some(pos), None) = (up.old_pos, new_gid) {
        if core
            .ignored
            .iter()
            .any(|(m, _)| is_calico(m.kind) && m.index > pos)
        {
            let moved: Vec<_> = core
                .ignored
                .iter()
                .map(|(m, subjects)| {
                    let mut m = m.clone();
                    if is_calico(m.kind) && m.index > pos {
                        m.index -= 1;
                    }
                    (m, subjects.clone())
                })
                .collect();
            core.ignored = moved.into();
        }
    }
    core.set_overlay(ov);
    kinds.calico = Some(Arc::new(gids));
    Some(())
}

fn is_calico(kind: PolicyKind) -> bool {
    matches!(
        kind,
        PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy
    )
}

/// Per Calico policy of `set`, by position: its number in a freshly built core
/// (`u32::MAX` for one for host endpoints only, which the core lists as ignored);
/// `None` when two have one key.
fn build_gids(core: &Core, set: &PolicySet) -> Option<Vec<u32>> {
    let mut keys: HashSet<super::PolicyKey> = HashSet::new();
    if !set
        .calico_policies()
        .iter()
        .all(|p| keys.insert(super::calico_key(p)))
    {
        return None;
    }
    let mut gids = vec![u32::MAX; set.calico_policies().len()];
    for (gid, meta) in core.policies.iter().enumerate() {
        if is_calico(meta.kind) {
            *gids.get_mut(meta.index)? = to_u32(gid);
        }
    }
    Some(gids)
}

/// Where a policy comes among those of its tier in Felix's order: its order (`None`:
/// absent, after every present one) and Felix's key.
type Rank = (Option<f64>, String);

/// The order of a policy of the core in Felix's walk (`None`: absent), whose Calico
/// policies are numbered by their position in `set`.
fn order_of(meta: &PolicyMeta, set: &PolicySet) -> Option<f64> {
    match meta.kind {
        PolicyKind::NetworkPolicy => Some(f64::from(calico::KUBERNETES_NP_ORDER)),
        PolicyKind::ClusterNetworkPolicy => Some(f64::from(meta.priority)),
        _ => set
            .calico_policies()
            .get(meta.index)
            .and_then(|p| p.order()),
    }
}

/// Felix's key of a policy of the core, whose Calico policies are numbered by their
/// position in `set`.
fn key_of(meta: &PolicyMeta, set: &PolicySet) -> String {
    match meta.kind {
        PolicyKind::NetworkPolicy | PolicyKind::ClusterNetworkPolicy => {
            calico::kubernetes_key(meta)
        }
        _ => set
            .calico_policies()
            .get(meta.index)
            .map_or(String::new(), |p| p.sort_key()),
    }
}

/// How a policy of the core (`a`, numbered against `set`) compares with `b` of rank
/// `rb` in Felix's walk order (`calico::ordered_felix`): tier, then order, then the
/// bytes of the key (made only when the rest ties: a tier may hold thousands).
fn compare(a: &PolicyMeta, set: &PolicySet, b: &PolicyMeta, rb: &Rank) -> Ordering {
    a.tier_pos
        .cmp(&b.tier_pos)
        .then_with(|| calico::order_cmp(order_of(a, set), rb.0))
        .then_with(|| key_of(a, set).as_bytes().cmp(rb.1.as_bytes()))
}

/// A compiled Calico policy: its tier's position, its rules as the core lists them
/// (action and whether supported) and as the overlay tests them.
type Compiled = (u32, [Vec<CompiledRule>; 2], [Vec<FelixRule>; 2]);

/// What a Calico policy is compiled against: the core's identities as Felix sees them,
/// its prefix map and port names, and the set's network sets.
struct View<'a> {
    core: &'a Core,
    kinds: &'a KindIndex,
    cluster: &'a Cluster,
    set: &'a PolicySet,
    /// The cluster's namespaces (name, labels) by index.
    namespaces: Vec<(&'a str, &'a Labels)>,
    /// Identities by selector text.
    memo: HashMap<String, Bitset>,
    /// Values in the nets of the network sets a selector matches, by selector text.
    set_memo: HashMap<String, Option<Bitset>>,
}

impl<'a> View<'a> {
    fn new(core: &'a Core, kinds: &'a KindIndex, cluster: &'a Cluster, set: &'a PolicySet) -> Self {
        View {
            core,
            kinds,
            cluster,
            set,
            namespaces: cluster
                .namespaces()
                .map(|(_, n)| (n.name.as_str(), &n.labels))
                .collect(),
            memo: HashMap::new(),
            set_memo: HashMap::new(),
        }
    }

    /// The identities whose pods `sel` matches, over Felix's view of them.
    ///
    /// Candidates come from the top-level requirements the identities' label index
    /// answers: `projectcalico.org/namespace == 'X'` (what Calico writes into a
    /// namespaced policy's selectors) reads only namespace X's identities, and within a
    /// namespace the shortest list of `key == value` (or `key in {'value'}`), `has(key)`
    /// or `key in {…}` on a key pods carry as they are (none that `special_key` names:
    /// Felix's view answers those from elsewhere) is read instead of them all. Every
    /// candidate is then tested on Felix's view of its pods.
    fn identities(&mut self, sel: &CalicoSelector) -> Bitset {
        let key = sel.to_string();
        if let Some(set) = self.memo.get(&key) {
            return set.clone();
        }
        let fixed = &self.kinds.fixed;
        let only = sel
            .equalities()
            .find(|(k, _)| *k == "projectcalico.org/namespace")
            .map(|(_, v)| v);
        let mut out = Bitset::new(self.core.identities.len());
        for (ns, (name, labels)) in self.namespaces.iter().enumerate() {
            if only.is_some_and(|n| n != *name) {
                continue;
            }
            let ns = to_u32(ns);
            let Some(all) = fixed.by_namespace.get(&ns) else {
                continue;
            };
            let mut candidates: &[u32] = all;
            // Whether the candidates are the answer as they are: the selector is one
            // such requirement (besides the namespace's) and the index's lists are exact.
            let mut exact = fixed.index.exact();
            let mut terms = 0;
            for term in sel.conjuncts() {
                terms += 1;
                let list = match term.kind() {
                    TermKind::Equals { key, value } if !special_key(key) => {
                        fixed.index.with_pair(ns, key, value)
                    }
                    TermKind::In { key, mut values } if !special_key(key) => {
                        match (values.len(), values.next()) {
                            (1, Some(value)) => fixed.index.with_pair(ns, key, value),
                            _ => {
                                // Every identity with the key, not only those with one
                                // of the values.
                                exact = false;
                                fixed.index.with_key(ns, key)
                            }
                        }
                    }
                    TermKind::Has { key } if !special_key(key) => fixed.index.with_key(ns, key),
                    TermKind::Equals { key, value }
                        if key == "projectcalico.org/namespace" && value == *name =>
                    {
                        // Holds for every identity of the namespaces read.
                        terms -= 1;
                        continue;
                    }
                    _ => {
                        exact = false;
                        continue;
                    }
                };
                if list.len() < candidates.len() {
                    candidates = list;
                }
            }
            if exact && terms <= 1 {
                for id in candidates {
                    if fixed.of_identity.get(id).is_some() {
                        out.insert(*id as usize);
                    }
                }
                continue;
            }
            for id in candidates {
                let Some((_, own)) = fixed.of_identity.get(id) else {
                    continue;
                };
                let view = PodLabels {
                    own,
                    namespace: name,
                    namespace_labels: Some(labels),
                    account: fixed.accounts.get(id).map_or("default", String::as_str),
                };
                if sel.matches(&view) {
                    out.insert(*id as usize);
                }
            }
        }
        self.memo.insert(key, out.clone());
        out
    }

    /// The prefix-map values inside the nets of the network sets `sel` matches; `None`
    /// when the prefix map does not hold one of those nets.
    fn set_values(&mut self, sel: &CalicoSelector) -> Option<Bitset> {
        let key = sel.to_string();
        if let Some(set) = self.set_memo.get(&key) {
            return set.clone();
        }
        let mut values = Some(Bitset::new(self.core.blocks.values()));
        for s in self.set.network_sets() {
            if !sel.matches(&calico::set_labels(self.cluster, s)) {
                continue;
            }
            for net in s.nets() {
                match (self.net_values(*net), values.as_mut()) {
                    (Some(v), Some(into)) => into.union_with(&v),
                    _ => values = None,
                }
            }
        }
        self.set_memo.insert(key, values.clone());
        values
    }

    /// The prefix-map values inside `net`, when the map holds it.
    fn net_values(&self, net: ipnet::IpNet) -> Option<Bitset> {
        let blocks = &self.core.blocks;
        let mut values = Bitset::new(blocks.values());
        for (lo, hi) in blocks.intervals_of(&CidrBlock::new(net, Vec::new()))? {
            values.insert_range(lo as usize, hi as usize);
        }
        Some(values)
    }

    /// Whether a selector matches some network set.
    fn meets_sets(&self, sel: &CalicoSelector) -> bool {
        self.set
            .network_sets()
            .iter()
            .any(|s| sel.matches(&calico::set_labels(self.cluster, s)))
    }

    /// Per direction, the identities `p` applies to.
    fn subjects(&mut self, p: &CalicoPolicy) -> [Bitset; 2] {
        Direction::BOTH.map(|d| {
            if p.governs(d) {
                self.identities(p.endpoint_selector())
            } else {
                Bitset::new(self.core.identities.len())
            }
        })
    }

    /// Compiles `p` against the core; `None` when it cannot be (see the module
    /// documentation).
    fn compile(&mut self, p: &CalicoPolicy) -> Option<Compiled> {
        let tier = TierRef::from_calico(p.tier());
        let tier_pos = to_u32(self.core.tiers.iter().position(|t| t.tier == tier)?);
        let mut listed: [Vec<CompiledRule>; 2] = [Vec::new(), Vec::new()];
        let mut felix: [Vec<FelixRule>; 2] = [Vec::new(), Vec::new()];
        for d in Direction::BOTH {
            let di = dir_index(d);
            for rule in p.rules(d) {
                let mut nets: Vec<ipnet::IpNet> = Vec::new();
                let mut unknown_name = false;
                let names = &self.core.names;
                let declared = &self.kinds.port_names;
                let draft = calico::draft(
                    rule,
                    d,
                    |net| {
                        nets.push(net);
                        to_u32(nets.len() - 1)
                    },
                    |name, _| match names.get(name) {
                        Some(id) => *id,
                        None => {
                            // Declared by no pod: it matches nothing until a pod declares
                            // it, which rebuilds.
                            unknown_name |= declared.contains(name);
                            u32::MAX
                        }
                    },
                );
                if unknown_name {
                    return None;
                }
                let net_values = nets
                    .iter()
                    .map(|n| self.net_values(*n))
                    .collect::<Option<Vec<_>>>()?;
                let remote = self.side(&draft.remote, &net_values)?;
                let local = self.side(&draft.local, &net_values)?;
                let dest = rule.destination();
                let named = dest
                    .ports()
                    .iter()
                    .chain(dest.not_ports())
                    .any(|v| matches!(v, PortValue::Name(_)));
                let named_only = match dest.ip_set_selector() {
                    Some(sel) if named && self.meets_sets(sel) => Some(self.identities(sel)),
                    _ => None,
                };
                listed.get_mut(di)?.push(CompiledRule {
                    action: draft.action,
                    peers: PeerSet::default(),
                    ports: PortSet::default(),
                    unsupported: draft.unsupported,
                });
                felix.get_mut(di)?.push(FelixRule {
                    ports: draft.ports,
                    named_only,
                    families: draft.families,
                    remote,
                    local,
                });
            }
        }
        Some((tier_pos, listed, felix))
    }

    /// A side of a draft as the overlay tests it (`nets`: the values of the draft's nets
    /// by their number in it); `Some(None)` when it has no condition, `None` when it
    /// cannot be compiled.
    fn side(&mut self, side: &SideDraft<'_>, nets: &[Bitset]) -> Option<Option<FelixSide>> {
        if side.is_empty() {
            return Some(None);
        }
        let union = |list: &[u32]| -> Option<Option<Bitset>> {
            if list.is_empty() {
                return Some(None);
            }
            let mut out = Bitset::new(self.core.blocks.values());
            for n in list {
                out.union_with(nets.get(*n as usize)?);
            }
            Some(Some(out))
        };
        let in_nets = union(&side.nets)?;
        let not_nets = union(&side.not_nets)?;
        let mut members = |sel: Option<&CalicoSelector>| -> Option<Option<(Bitset, Bitset)>> {
            match sel {
                None => Some(None),
                Some(sel) => Some(Some((self.identities(sel), self.set_values(sel)?))),
            }
        };
        let m = members(side.members)?;
        let not_m = members(side.not_members)?;
        Some(Some(FelixSide {
            nets: in_nets,
            not_nets,
            members: m,
            not_members: not_m,
        }))
    }
}
