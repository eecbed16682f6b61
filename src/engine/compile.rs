//! Building the engine: pods grouped into identities, selectors resolved against them,
//! policies ordered into tiers, identities grouped into classes, each class's rules
//! compiled into a short program, ipBlocks and networks lowered.
//!
//! Costs, for `P` pods, `I` identities (distinct namespace and label sets), `N` namespaces
//! and `R` rules: pods are grouped into identities in one pass; selecting goes through a
//! per-namespace label index over identities (candidates from the most selective
//! requirement, then a direct check), so a selector costs what it selects. Peer sets are
//! bitsets of `I` bits, interned so identical sets are stored once, and memoised per
//! (namespaces, selector). Classes are found by following, for each identity, one
//! transition per selecting policy in evaluation order, so memory stays `O(I + classes)`
//! however many policies select an identity.

use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use crate::calico::selector::Selector as CalicoSelector;
use crate::cluster::{Cluster, ContainerPort};
use crate::explain::TierRef;
use crate::model::Labels;
use crate::policy::{
    Action, CidrBlock, ClusterPeer, ClusterPort, ClusterTier, Direction, DomainPattern, Peer,
    PolicyKind, PolicySetRef, PortSpec, Protocol, Subject,
};
use crate::profile::Profile;
use crate::selector::{Operator, Requirement, Selector};

use super::bitset::{Bitset, BitsetTable};
use super::blocks::BlockIndex;
use super::calico;
use super::rule_index::{PortFacts, RuleFacts, RuleIndex};
use super::to_u32;
use super::{
    Addrs, BY_FAMILY, Class, ClassCode, ClassHead, ClassScan, CompiledRule, Core, INLINE_STEPS,
    IdentityInfo, Inner, Instr, NO_EXTRA, NO_NODE, NO_ROW, NOT_ISOLATED, OpCode, PeerExtra,
    PeerSet, PodInfo, PolicyMeta, PortSet, Prog, TierEnd, TierInfo, TierStep, WalkMode, dir_index,
    lower_code,
};

/// A merged entry tests at most this many pod sets one by one; more are unioned into one.
pub(super) const MAX_POD_SETS: usize = 4;

/// Label index of one namespace's identities (the label keys identities are told apart
/// by only), each list in id order.
#[derive(Default)]
pub(super) struct NsIndex<'a> {
    pub(super) identities: Vec<u32>,
    pub(super) by_label: HashMap<(&'a str, &'a str), Vec<u32>>,
    pub(super) by_key: HashMap<&'a str, Vec<u32>>,
}

/// Pods grouped by namespace and labels (and, where Calico's selectors can see it, the
/// service account), with a label index per namespace.
pub(super) struct Identities<'a> {
    /// Per identity: namespace index and labels.
    pub(super) list: Vec<(usize, &'a Labels)>,
    /// Per identity: the service account, when identities tell them apart.
    pub(super) accounts: Vec<&'a str>,
    /// Per namespace index: its name and labels.
    pub(super) namespace_info: Vec<(&'a str, &'a Labels)>,
    /// Per identity: the hash of its key ([`identity_hash`]).
    pub(super) hashes: Vec<u64>,
    /// Per pod: its identity.
    of_pod: Vec<u32>,
    /// Per namespace index: its identities and their label index.
    pub(super) namespaces: Vec<NsIndex<'a>>,
    /// Whether no identity has a label under `pcns.` of its own (Calico's selectors read
    /// those before the namespace's labels): a converted namespace selector then answers
    /// alike for every pod of a namespace.
    pub(super) pcns_free: bool,
}

/// The label keys the selectors of a policy set read on pods, `None` for every key (when
/// Calico's selectors take part: they are not scanned). Pods that agree on these keys, their
/// namespace (and, for Calico, their service account) are one identity, whatever their
/// other labels (`pod-template-hash`, for one).
pub(super) fn pod_label_keys<'s>(set: PolicySetRef<'s>, by_account: bool) -> Option<Vec<String>> {
    if by_account {
        return None;
    }
    let mut keys: HashSet<&str> = HashSet::new();
    let mut add = |sel: &'s Selector| {
        for r in sel.requirements() {
            keys.insert(r.key.as_str());
        }
    };
    for p in set.network_policies() {
        add(p.pod_selector());
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers.iter().flatten() {
                    if let Peer::Pods { pods, .. } = peer {
                        add(pods);
                    }
                }
            }
        }
    }
    for p in set.cluster_policies() {
        if let Subject::Pods { pods, .. } = p.subject() {
            add(pods);
        }
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers() {
                    if let ClusterPeer::Pods { pods, .. } = peer {
                        add(pods);
                    }
                }
            }
        }
    }
    let mut out: Vec<String> = keys.into_iter().map(str::to_owned).collect();
    out.sort_unstable();
    Some(out)
}

/// The hash of an identity's key: its namespace index, service account (empty where
/// identities are not told apart by it) and the labels told apart, in order.
pub(super) fn identity_hash<'l>(
    ns: usize,
    account: &str,
    labels: impl Iterator<Item = (&'l str, &'l str)>,
) -> u64 {
    let mut h = ahash::RandomState::with_seeds(9, 10, 11, 12).build_hasher();
    ns.hash(&mut h);
    account.hash(&mut h);
    for (k, v) in labels {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

/// The labels of `labels` an identity is told apart by.
pub(super) fn projected<'l>(
    labels: &'l Labels,
    keys: Option<&[String]>,
) -> Vec<(&'l str, &'l str)> {
    match keys {
        None => labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        Some(keys) => labels
            .iter()
            .filter(|(k, _)| keys.binary_search(k).is_ok())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    }
}

impl<'a> Identities<'a> {
    fn new(cluster: &'a Cluster, by_account: bool, keys: Option<&[String]>) -> Self {
        let mut list: Vec<(usize, &'a Labels)> = Vec::new();
        let mut accounts: Vec<&'a str> = Vec::new();
        // Identities by a hash of their key (namespace, account, the labels selectors
        // read), checked against the identity's first pod: the index holds no labels.
        let mut index: HashMap<u64, smallvec::SmallVec<[u32; 1]>> = HashMap::new();
        let mut hashes: Vec<u64> = Vec::new();
        let mut of_pod = Vec::with_capacity(cluster.pod_count());
        let mut namespaces: Vec<NsIndex<'a>> = Vec::new();
        let mut pcns_free = true;
        namespaces.resize_with(cluster.namespace_count(), NsIndex::default);
        // Only the keys selectors read tell identities apart and are looked up.
        let read = |k: &&String| keys.is_none_or(|keys| keys.binary_search(k).is_ok());
        // Pods of one workload share one label set (the cluster stores each distinct set
        // once) and mostly come one after the other: a pod whose namespace, label set and
        // account were seen is of the same identity without reading its labels again.
        let mut seen: HashMap<(usize, *const Labels, &'a str), u32> = HashMap::new();
        let mut last: Option<((usize, *const Labels, &'a str), u32)> = None;
        for (_, p) in cluster.pods() {
            let account = if by_account {
                p.service_account.as_str()
            } else {
                ""
            };
            let ns = p.namespace.index();
            let shared = (ns, std::sync::Arc::as_ptr(&p.labels), account);
            if let Some((key, id)) = last {
                if key == shared {
                    of_pod.push(id);
                    continue;
                }
            }
            let id = match seen.get(&shared) {
                Some(id) => *id,
                None => {
                    let labels: &'a Labels = &p.labels;
                    let hash = identity_hash(
                        ns,
                        account,
                        labels
                            .iter()
                            .filter(|(k, _)| read(k))
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    );
                    let candidates = index.entry(hash).or_default();
                    let found = candidates.iter().copied().find(|id| {
                        list.get(*id as usize).is_some_and(|(n, first)| {
                            *n == ns
                                && accounts.get(*id as usize) == Some(&account)
                                && first
                                    .iter()
                                    .filter(|(k, _)| read(k))
                                    .eq(labels.iter().filter(|(k, _)| read(k)))
                        })
                    });
                    let id = match found {
                        Some(id) => id,
                        None => {
                            let id = to_u32(list.len());
                            candidates.push(id);
                            list.push((ns, labels));
                            accounts.push(account);
                            hashes.push(hash);
                            pcns_free &= !labels.keys().any(|k| k.starts_with("pcns."));
                            if let Some(index) = namespaces.get_mut(ns) {
                                index.identities.push(id);
                                for (k, v) in labels.iter().filter(|(k, _)| read(k)) {
                                    index
                                        .by_label
                                        .entry((k.as_str(), v.as_str()))
                                        .or_default()
                                        .push(id);
                                    index.by_key.entry(k.as_str()).or_default().push(id);
                                }
                            }
                            id
                        }
                    };
                    seen.insert(shared, id);
                    id
                }
            };
            last = Some((shared, id));
            of_pod.push(id);
        }
        Identities {
            list,
            accounts,
            namespace_info: cluster
                .namespaces()
                .map(|(_, n)| (n.name.as_str(), &n.labels))
                .collect(),
            hashes,
            of_pod,
            namespaces,
            pcns_free,
        }
    }

    /// No identity (a placeholder while the compiler lends its identities out).
    fn empty() -> Self {
        Identities {
            list: Vec::new(),
            accounts: Vec::new(),
            namespace_info: Vec::new(),
            hashes: Vec::new(),
            of_pod: Vec::new(),
            namespaces: Vec::new(),
            pcns_free: true,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// The identities of namespace index `ns`, in id order.
    pub(super) fn of_namespace_index(&self, ns: usize) -> Option<&[u32]> {
        self.namespaces.get(ns).map(|n| n.identities.as_slice())
    }

    /// Calls `f` with every identity of namespace `ns` that `sel` matches, in id order.
    pub(super) fn select(&self, ns: usize, sel: &Selector, mut f: impl FnMut(u32)) {
        let Some(index) = self.namespaces.get(ns) else {
            return;
        };
        let requirements = sel.requirements();
        // Candidates: the smallest list some requirement restricts the identities to.
        // A list of the identities with one of the values an `In` names, or with the key
        // `Exists` names, holds exactly those meeting that requirement: it is not tested
        // again.
        let mut candidates: &[u32] = &index.identities;
        let mut met: Option<usize> = None;
        let mut values_union: Option<(usize, usize)> = None;
        for (ri, req) in requirements.iter().enumerate() {
            let list: Option<(&[u32], bool)> = match &req.op {
                Operator::In(values) if values.len() == 1 => Some((
                    values
                        .first()
                        .and_then(|v| index.by_label.get(&(req.key.as_str(), v.as_str())))
                        .map_or(&[][..], Vec::as_slice),
                    true,
                )),
                Operator::In(values) => {
                    // The identities with each value, together.
                    let n: usize = values
                        .iter()
                        .map(|v| {
                            index
                                .by_label
                                .get(&(req.key.as_str(), v.as_str()))
                                .map_or(0, Vec::len)
                        })
                        .sum();
                    if values_union.is_none_or(|(_, best)| n < best) {
                        values_union = Some((ri, n));
                    }
                    Some((
                        index
                            .by_key
                            .get(req.key.as_str())
                            .map_or(&[][..], Vec::as_slice),
                        false,
                    ))
                }
                Operator::Exists => Some((
                    index
                        .by_key
                        .get(req.key.as_str())
                        .map_or(&[][..], Vec::as_slice),
                    true,
                )),
                Operator::NotIn(_) | Operator::DoesNotExist => None,
            };
            if let Some((list, exact)) = list {
                // Shorter, or as long and exact.
                if list.len() < candidates.len()
                    || (list.len() == candidates.len() && exact && met.is_none())
                {
                    candidates = list;
                    met = exact.then_some(ri);
                }
            }
        }
        let union: Vec<u32>;
        if let Some((ri, n)) = values_union {
            if n < candidates.len() || (n == candidates.len() && met.is_none()) {
                if let Some(Requirement {
                    key,
                    op: Operator::In(values),
                }) = requirements.get(ri)
                {
                    // A label has one value: the lists do not overlap.
                    let mut ids: Vec<u32> = values
                        .iter()
                        .filter_map(|v| index.by_label.get(&(key.as_str(), v.as_str())))
                        .flatten()
                        .copied()
                        .collect();
                    ids.sort_unstable();
                    union = ids;
                    candidates = &union;
                    met = Some(ri);
                }
            }
        }
        for &id in candidates {
            let Some((_, labels)) = self.list.get(id as usize) else {
                continue;
            };
            if requirements
                .iter()
                .enumerate()
                .all(|(ri, r)| met == Some(ri) || r.matches(labels))
            {
                f(id);
            }
        }
    }
}

/// Interns bitsets so identical sets are stored once. The index holds the sets' hashes,
/// not copies of the sets.
#[derive(Default)]
struct BitsetArena {
    sets: Vec<Bitset>,
    index: HashMap<u64, smallvec::SmallVec<[u32; 1]>>,
    hasher: ahash::RandomState,
}

impl BitsetArena {
    fn intern(&mut self, set: Bitset) -> u32 {
        let hash = self.hasher.hash_one(&set);
        let ids = self.index.entry(hash).or_default();
        if let Some(id) = ids
            .iter()
            .find(|id| self.sets.get(**id as usize) == Some(&set))
        {
            return *id;
        }
        let id = to_u32(self.sets.len());
        ids.push(id);
        self.sets.push(set);
        id
    }

    fn get(&self, id: u32) -> Option<&Bitset> {
        self.sets.get(id as usize)
    }
}

/// A policy of the set, in evaluation order, with what the compiler needs of it.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    Network(&'a crate::policy::Policy),
    Cluster(&'a crate::policy::ClusterPolicy),
    Calico(&'a crate::calico::CalicoPolicy),
}

/// One part of a rule's peers, as [`Compiler::part_atoms`] turns it into atoms: a pod
/// set, a node set, or a block with whether it matches every address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AtomPart {
    Pods(u32),
    Nodes(u32),
    Block(u32, bool),
}

/// A rule's peers as [`PeerAtomSets`] tells them apart: pod sets, blocks, extra peers,
/// whether the blocks match every address.
type PeerKey = (
    smallvec::SmallVec<[u32; 4]>,
    smallvec::SmallVec<[u32; 4]>,
    u32,
    bool,
);

/// The atom sets of rule peers made so far in a build ([`Compiler::peer_atoms`]): per
/// part, and per whole peer set (pod sets, blocks, extra peers, whether the blocks match
/// every address).
#[derive(Default)]
struct PeerAtomSets {
    parts: HashMap<AtomPart, Arc<Bitset>>,
    whole: HashMap<PeerKey, Arc<Bitset>>,
}

struct Compiler<'a> {
    cluster: &'a Cluster,
    identities: Identities<'a>,
    pod_sets: BitsetArena,
    node_sets: BitsetArena,
    /// Identity sets by (namespace indexes, pod selector).
    peer_cache: HashMap<(Vec<u32>, &'a Selector), Option<u32>>,
    /// Under Felix: identity sets (interned) and network-set blocks by converted
    /// Kubernetes selector pair.
    converted_cache: HashMap<calico::Converted<'a>, (Option<u32>, Vec<u32>)>,
    ns_selector_cache: HashMap<&'a Selector, Vec<u32>>,
    block_ids: HashMap<CidrBlock, u32>,
    block_list: Vec<CidrBlock>,
    domain_ids: HashMap<&'a [DomainPattern], u32>,
    domains: Vec<Vec<DomainPattern>>,
    extra_ids: HashMap<PeerExtra, u32>,
    extras: Vec<PeerExtra>,
    names: HashMap<String, u32>,
    /// Under Felix: container port names that only some pods' ports count as, interned in
    /// the same id space as `names` (see [`Qualified`]).
    qualified: Vec<(u32, Qualified)>,
    qualified_ids: HashMap<Qualified, u32>,
    /// The next name id.
    next_name: u32,
    /// Under Felix, per (enforced policy, direction, rule): named ports that hold for one
    /// address family only (IPv4, IPv6), beside the rule's `named`.
    family_named: HashMap<(usize, usize, usize), FamilyNamed>,
    /// Enforced policies with a rule whose named ports are qualified: their tier is read
    /// through the rule index, never as instructions (whose port sets must not depend on
    /// more than the destination pod's ports).
    qualified_policies: HashSet<usize>,
    profile: Profile,
    /// Whether Felix decides ([`Profile::enforces_calico_policy`]).
    felix: bool,
    /// Calico's network sets, with their nets' block ids (under Felix).
    net_sets: Vec<calico::NetSet<'a>>,
    /// Per direction: indexed rules with a condition on the local pod, with the atoms it
    /// holds for.
    locals: [Vec<(u32, Bitset)>; 2],
    /// The tiers, in walk order.
    tiers: Vec<TierInfo>,
    /// Per direction and enforced policy: the number of its first rule in the
    /// direction's rule index, when its tier is indexed.
    rule_start: [Vec<Option<u32>>; 2],
    /// Per direction and tier: its rule numbers in the index, when indexed.
    tier_ranges: [Vec<Option<(u32, u32)>>; 2],
    /// Per direction: class masks of the rule index, interned.
    masks: [BitsetArena; 2],
    rule_total: [usize; 2],
    /// Where the program of a tier run as instructions starts, by direction and the
    /// tier's policies: classes whose tier holds the same policies share one program.
    tier_code: HashMap<(usize, Vec<u32>), u32>,
}

impl<'a> Compiler<'a> {
    fn namespaces_matching(&mut self, sel: &'a Selector) -> Vec<u32> {
        let cluster = self.cluster;
        self.ns_selector_cache
            .entry(sel)
            .or_insert_with(|| namespace_indexes(cluster, sel))
            .clone()
    }

    /// The identities `sel` matches in the namespaces, as a bitset (not interned).
    fn identity_set(&self, namespaces: &[u32], sel: &Selector) -> Bitset {
        let mut set = Bitset::new(self.identities.len());
        for &ns in namespaces {
            self.identities
                .select(ns as usize, sel, |id| set.insert(id as usize));
        }
        set
    }

    /// The interned identity set of `sel` inside the namespaces, `None` when empty.
    fn pod_set(&mut self, namespaces: Vec<u32>, sel: &'a Selector) -> Option<u32> {
        let key = (namespaces, sel);
        if let Some(id) = self.peer_cache.get(&key) {
            return *id;
        }
        let set = self.identity_set(&key.0, sel);
        let id = (!set.is_empty()).then(|| self.pod_sets.intern(set));
        self.peer_cache.insert(key, id);
        id
    }

    /// Under Felix: what a Kubernetes selector pair matches once Calico has converted it,
    /// over Felix's view of pods and network sets (memoised): the interned identity set
    /// (`None` when empty) and the blocks of the network sets' nets.
    fn converted(&mut self, key: calico::Converted<'a>) -> (Option<u32>, Vec<u32>) {
        if let Some(found) = self.converted_cache.get(&key) {
            return found.clone();
        }
        let set = key.identities(&self.identities);
        let id = (!set.is_empty()).then(|| self.pod_sets.intern(set));
        let blocks = key.set_blocks(self.cluster, &self.net_sets);
        self.converted_cache.insert(key, (id, blocks.clone()));
        (id, blocks)
    }

    /// Under Felix, the identities a converted selector pair matches, as a bitset.
    fn converted_identities(&mut self, key: calico::Converted<'a>) -> Bitset {
        let (id, _) = self.converted(key);
        id.and_then(|id| self.pod_sets.get(id).cloned())
            .unwrap_or_else(|| Bitset::new(self.identities.len()))
    }

    fn node_set(&mut self, sel: &Selector) -> Option<u32> {
        let mut set = Bitset::new(self.cluster.node_count());
        for (i, (_, node)) in self.cluster.nodes().enumerate() {
            if sel.matches(&node.labels) {
                set.insert(i);
            }
        }
        (!set.is_empty()).then(|| self.node_sets.intern(set))
    }

    fn block_id(&mut self, block: CidrBlock) -> u32 {
        if let Some(id) = self.block_ids.get(&block) {
            return *id;
        }
        let id = to_u32(self.block_list.len());
        self.block_ids.insert(block.clone(), id);
        self.block_list.push(block);
        id
    }

    fn domain_id(&mut self, patterns: &'a [DomainPattern]) -> u32 {
        if let Some(id) = self.domain_ids.get(patterns) {
            return *id;
        }
        let id = to_u32(self.domains.len());
        self.domain_ids.insert(patterns, id);
        self.domains.push(patterns.to_vec());
        id
    }

    /// The id of a set of node and domain peers, `NO_EXTRA` when both are empty.
    fn extra_id(&mut self, mut extra: PeerExtra) -> u32 {
        if extra.node_sets.is_empty() && extra.domains.is_empty() {
            return NO_EXTRA;
        }
        extra.node_sets.sort_unstable();
        extra.domains.sort_unstable();
        if let Some(id) = self.extra_ids.get(&extra) {
            return *id;
        }
        let id = to_u32(self.extras.len());
        self.extra_ids.insert(extra.clone(), id);
        self.extras.push(extra);
        id
    }

    fn name_id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        let id = self.next_name;
        self.next_name += 1;
        self.names.insert(name.to_owned(), id);
        id
    }

    /// The id of port name `name` counting only for the pods `only` admits.
    fn qualified_id(&mut self, name: u32, only: Only) -> u32 {
        let key = Qualified { name, only };
        if let Some(id) = self.qualified_ids.get(&key) {
            return *id;
        }
        let id = self.next_name;
        self.next_name += 1;
        self.qualified_ids.insert(key.clone(), id);
        self.qualified.push((id, key));
        id
    }

    /// Records that rule `r` of direction `di` of enforced policy `gid` has qualified
    /// named ports (and those of one family).
    fn note_qualified(
        &mut self,
        gid: usize,
        di: usize,
        r: usize,
        rule: &CompiledRule,
        by_family: Option<FamilyNamed>,
    ) {
        let qualified = rule
            .ports
            .named
            .iter()
            .any(|(_, id)| self.qualified_ids.values().any(|q| q == id));
        if qualified || by_family.is_some() {
            self.qualified_policies.insert(gid);
        }
        if let Some(f) = by_family {
            self.family_named.insert((gid, di, r), f);
        }
    }

    /// Adds what a converted selector pair matches to a rule's peers, and to `selected`.
    fn add_converted(
        &mut self,
        key: calico::Converted<'a>,
        peers: &mut PeerSet,
        selected: &mut Selected,
    ) {
        let (id, blocks) = self.converted(key);
        if let Some(id) = id {
            push_unique(&mut peers.pod_sets, id);
            if let Some(set) = self.pod_sets.get(id) {
                selected.idents.union_with(set);
            }
        }
        for b in blocks {
            push_unique(&mut peers.blocks, b);
            selected.set_blocks.push(b);
        }
    }

    /// Under Felix, [`qualify_named`](Self::qualify_named) for an egress rule (in
    /// ingress the named ports are the local pod's, which no selector restricts).
    fn qualify_egress(
        &mut self,
        direction: Direction,
        ports: &mut PortSet,
        selected: &Selected,
    ) -> Option<FamilyNamed> {
        if !self.felix || direction != Direction::Egress {
            return None;
        }
        self.qualify_named(
            ports,
            &selected.idents,
            &selected.set_blocks,
            &selected.nets,
        )
    }

    /// Under Felix, the named ports of an egress rule converted from Kubernetes peers
    /// (`idents` and `set_blocks`: what its selector peers match; `nets`: the blocks of
    /// its `ipBlock` or `networks` peers). Calico renders one rule per peer, and a named
    /// port as the IP set of the endpoints that peer's selector matches which declare it
    /// (`namedPortsToIPSets`), or of every endpoint declaring it for a peer of nets. Where
    /// the selectors also match network sets (whose addresses may be pods' that the
    /// selectors do not match), a name counts only for the pods the selectors match, or,
    /// per family, those with an address of that family in the nets.
    fn qualify_named(
        &mut self,
        ports: &mut PortSet,
        idents: &Bitset,
        set_blocks: &[u32],
        nets: &[u32],
    ) -> Option<FamilyNamed> {
        if set_blocks.is_empty() || ports.named.is_empty() {
            return None;
        }
        let pods = self.pod_sets.intern(idents.clone());
        let plain = std::mem::take(&mut ports.named);
        let mut by_family: FamilyNamed = [Vec::new(), Vec::new()];
        for (proto, name) in plain {
            let id = self.qualified_id(name, Only::Pods(pods));
            ports.named.push((proto, id));
            if nets.is_empty() {
                continue;
            }
            for (fam, list) in by_family.iter_mut().enumerate() {
                let only = Only::Addresses {
                    blocks: nets.to_vec(),
                    v6: fam == 1,
                };
                list.push((proto, self.qualified_id(name, only)));
            }
        }
        ports.named.sort_unstable();
        ports.named.dedup();
        by_family.iter().any(|l| !l.is_empty()).then_some(by_family)
    }

    /// Reads a Calico rule, registering its nets with the prefix map and its port names.
    fn calico_draft(
        &mut self,
        rule: &'a crate::calico::CalicoRule,
        direction: Direction,
    ) -> calico::CalicoDraft<'a> {
        let mut blocks: Vec<ipnet::IpNet> = Vec::new();
        let mut names: Vec<(String, Option<&'a CalicoSelector>)> = Vec::new();
        // Collect first: the draft borrows nothing of the compiler.
        let _ = calico::draft(
            rule,
            direction,
            |net| {
                blocks.push(net);
                0
            },
            |name, members| {
                names.push((name.to_owned(), members));
                0
            },
        );
        let block_ids: HashMap<ipnet::IpNet, u32> = blocks
            .into_iter()
            .map(|net| (net, self.block_id(CidrBlock::new(net, Vec::new()))))
            .collect();
        // A named port counts only for the pods the destination's member selector matches
        // (Felix's named-port IP set holds no network set); where that selector matches no
        // network set, every pod the side matches is one of them.
        let same = |a: Option<&CalicoSelector>, b: Option<&CalicoSelector>| match (a, b) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let mut name_ids: Vec<(String, Option<&'a CalicoSelector>, u32)> = Vec::new();
        for (name, members) in names {
            let plain = self.name_id(&name);
            let id = match members {
                Some(sel) if calico::meets_sets(self.cluster, &self.net_sets, sel) => {
                    let set = calico::selected_identities(&self.identities, sel);
                    let pods = self.pod_sets.intern(set);
                    self.qualified_id(plain, Only::Pods(pods))
                }
                _ => plain,
            };
            name_ids.push((name, members, id));
        }
        calico::draft(
            rule,
            direction,
            |net| block_ids.get(&net).copied().unwrap_or(0),
            |name, members| {
                name_ids
                    .iter()
                    .find(|(n, m, _)| n == name && same(*m, members))
                    .map_or(0, |(_, _, id)| *id)
            },
        )
    }

    /// Which identities a policy applies to for a direction (`None`: it has no rules for
    /// that direction, or selects nothing).
    fn subject(&mut self, source: Source<'a>, direction: Direction) -> Option<Bitset> {
        let set = match source {
            Source::Calico(p) => return calico::subject(&self.identities, p, direction),
            _ if !self.felix => {
                let mut ids = Vec::new();
                if !self.selected_ids(source, direction, &mut ids) {
                    return None;
                }
                let mut set = Bitset::new(self.identities.len());
                for id in ids {
                    set.insert(id as usize);
                }
                set
            }
            Source::Network(p) => {
                if !p.affects(direction) {
                    return None;
                }
                // `projectcalico.org/orchestrator == 'k8s' && <pod selector>` in the
                // policy's namespace, over Felix's view of the pods.
                self.converted_identities(calico::Converted::network_subject(p))
            }
            Source::Cluster(p) => {
                // Calico's converted policy has a type only for the directions that keep a
                // rule (`clusterNetPolicyTypes`): it does not apply to a direction whose
                // rules Calico all drops.
                if !p.affects(direction)
                    || p.rules(direction)
                        .iter()
                        .all(|r| calico_drops(r, direction))
                {
                    return None;
                }
                // The namespace selector under `pcns.`, the pod selector (or the
                // orchestrator term alone), over Felix's view of the pods.
                self.converted_identities(calico::Converted::cluster_subject(p.subject()))
            }
        };
        (!set.is_empty()).then_some(set)
    }

    /// The identities [`subject`](Self::subject) gives, in increasing order, into `out`
    /// (cleared first): a list as long as what the policy selects, where a bitset would
    /// cost a pass over every identity of the cluster for each policy. False when the
    /// policy has no rules for the direction or selects nothing.
    fn subject_ids(
        &mut self,
        source: Source<'a>,
        direction: Direction,
        out: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        if self.felix || matches!(source, Source::Calico(_)) {
            // Felix's view and Calico's selectors go through the bitset of `subject`.
            return match self.subject(source, direction) {
                Some(set) => {
                    out.extend(set.iter().map(to_u32));
                    true
                }
                None => false,
            };
        }
        self.selected_ids(source, direction, out)
    }

    /// [`subject_ids`](Self::subject_ids) for a NetworkPolicy or ClusterNetworkPolicy read
    /// as Kubernetes reads it (not under Felix), through the per-namespace label index.
    fn selected_ids(
        &mut self,
        source: Source<'a>,
        direction: Direction,
        out: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        match source {
            Source::Network(p) => {
                if !p.affects(direction) {
                    return false;
                }
                let Some(ns) = self.cluster.namespace_id(p.namespace()) else {
                    return false;
                };
                self.identities
                    .select(ns.index(), p.pod_selector(), |id| out.push(id));
            }
            Source::Cluster(p) => {
                if !p.affects(direction) {
                    return false;
                }
                let (ns, pods) = match p.subject() {
                    Subject::Namespaces(sel) => (
                        self.namespaces_matching(sel),
                        EVERYTHING.get_or_init(Selector::everything),
                    ),
                    Subject::Pods { namespaces, pods } => {
                        (self.namespaces_matching(namespaces), pods)
                    }
                };
                for n in ns {
                    self.identities.select(n as usize, pods, |id| out.push(id));
                }
            }
            Source::Calico(_) => return false,
        }
        out.sort_unstable();
        out.dedup();
        !out.is_empty()
    }

    /// A NetworkPolicy rule (the live engine's incremental updates compile them through
    /// [`network_rule_parts`] too).
    fn network_rule(
        &mut self,
        rule: &'a crate::policy::Rule,
        own_ns: Option<u32>,
        policy_ns: &'a str,
        direction: Direction,
    ) -> (CompiledRule, Option<FamilyNamed>) {
        let mut selected = Selected::new(if self.felix { self.identities.len() } else { 0 });
        let (mut peers, mut ports) = network_rule_parts(
            self,
            rule,
            &mut selected,
            |c, namespaces| {
                Some(match namespaces {
                    None => own_ns.into_iter().collect(),
                    Some(sel) => c.namespaces_matching(sel),
                })
            },
            |c, peer, peers, selected| {
                let Peer::Pods { namespaces, pods } = peer else {
                    return false;
                };
                if !c.felix {
                    return false;
                }
                // Calico's selectors: the policy's namespace or the namespace selector
                // under `pcns.`, and the pod selector, over Felix's view (network sets
                // labelled as pods would be included).
                let key = calico::Converted::network_peer(policy_ns, namespaces.as_ref(), pods);
                c.add_converted(key, peers, selected);
                true
            },
        )
        .unwrap_or_default();
        // Under Felix an ipBlock is Calico's `nets`, which any address meets.
        peers.any_address = self.felix;
        let by_family = self.qualify_egress(direction, &mut ports, &selected);
        peers.finish(self);
        ports.finish();
        let rule = CompiledRule {
            action: Action::Allow,
            peers,
            ports,
            unsupported: false,
        };
        (rule, by_family)
    }

    fn cluster_rule(
        &mut self,
        rule: &'a crate::policy::ClusterRule,
        direction: Direction,
    ) -> (CompiledRule, Option<FamilyNamed>) {
        if self.felix && calico_fails(rule, direction) {
            return (calico_failed_rule(rule.action()), None);
        }
        let mut selected = Selected::new(if self.felix { self.identities.len() } else { 0 });
        let (mut peers, mut ports) =
            cluster_rule_parts(self, rule, &mut selected, |c, peer, peers, selected| {
                if !c.felix {
                    return false;
                }
                // Calico's conversion leaves a bare namespace selector, which network
                // sets meet too: namespaced ones through their namespace's labels, global
                // ones (no `pcns.` labels) when its requirements hold without labels.
                let Some(key) = calico::Converted::cluster_peer(peer) else {
                    return false;
                };
                c.add_converted(key, peers, selected);
                true
            })
            .unwrap_or_default();
        let by_family = self.qualify_egress(direction, &mut ports, &selected);
        peers.finish(self);
        ports.finish();
        let rule = CompiledRule {
            action: rule.action(),
            peers,
            ports,
            unsupported: false,
        };
        (rule, by_family)
    }

    /// Unions the pod sets of `peers` into one when there are too many to test one by one.
    fn limit_pod_sets(&mut self, peers: &mut PeerSet) {
        if peers.pod_sets.len() <= MAX_POD_SETS {
            return;
        }
        let mut union = Bitset::new(self.identities.len());
        for id in &peers.pod_sets {
            if let Some(s) = self.pod_sets.get(*id) {
                union.union_with(s);
            }
        }
        peers.pod_sets.clear();
        peers.pod_sets.push(self.pod_sets.intern(union));
    }

    /// One class: for each tier its policies select the class in, what decides there.
    /// A tier read through the direction's rule index adds its policies' rules to the
    /// class's mask; any other tier is compiled into instructions appended to `code`: its
    /// rules in walk order, consecutive rules with the same action merged by port set
    /// (their order does not matter among themselves), ending in [`OpCode::End`], `Pass`
    /// ending the tier too; classes whose tier holds the same policies share its program
    /// (with ClusterNetworkPolicies, many classes differ only in their indexed tiers).
    /// With `own_node` (traffic between a pod and its own node, or itself through a
    /// Service) the NetworkPolicy tier allows whatever its rules say.
    /// (`live::policy` builds classes from the tiers a policy change touched, emitted
    /// through [`emit_tier`] too, and the other tiers' steps of an existing class: keep
    /// the two in step.)
    #[allow(clippy::too_many_arguments)]
    fn class(
        &mut self,
        code: &mut Vec<Instr>,
        steps: &mut Vec<TierStep>,
        policies: Vec<u32>,
        metas: &[PolicyMeta],
        rules: &[[Vec<CompiledRule>; 2]],
        di: usize,
        own_node: bool,
        excluded: &[u32],
    ) -> Class {
        let first_step = steps.len();
        let total = self.rule_total.get(di).copied().unwrap_or(0);
        let mut mask = Bitset::new(total);
        let mut any_index = false;
        let mut at = 0;
        while let Some(&first) = policies.get(at) {
            let Some(tier_pos) = metas.get(first as usize).map(|m| m.tier_pos) else {
                break;
            };
            let in_tier: Vec<u32> = policies
                .iter()
                .skip(at)
                .copied()
                .take_while(|p| {
                    metas
                        .get(*p as usize)
                        .is_some_and(|m| m.tier_pos == tier_pos)
                })
                .collect();
            at += in_tier.len();
            let Some(tier) = self.tiers.get(tier_pos as usize) else {
                break;
            };
            let end = tier.end;
            if tier.tier == TierRef::NetworkPolicy && own_node {
                steps.push(TierStep::new(Prog::Allow, end));
                break;
            }
            if let Some((lo, hi)) = self.tier_range(di, tier_pos) {
                for p in &in_tier {
                    let Some(start) = self
                        .rule_start
                        .get(di)
                        .and_then(|s| s.get(*p as usize))
                        .copied()
                        .flatten()
                    else {
                        continue;
                    };
                    let list = rules
                        .get(*p as usize)
                        .and_then(|r| r.get(di))
                        .map_or(&[][..], Vec::as_slice);
                    for r in 0..list.len() {
                        let n = start + to_u32(r);
                        if !excluded.contains(&n) {
                            mask.insert(n as usize);
                        }
                    }
                }
                any_index = true;
                steps.push(TierStep::new(Prog::Index { lo, hi }, end));
                continue;
            }
            let key = (di, in_tier);
            let start = match self.tier_code.get(&key) {
                Some(start) => *start,
                None => {
                    let start = to_u32(code.len());
                    let tier_rules = key.1.iter().flat_map(|p| {
                        rules
                            .get(*p as usize)
                            .and_then(|r| r.get(di))
                            .map_or(&[][..], Vec::as_slice)
                    });
                    emit_tier(self, code, tier_rules);
                    self.tier_code.insert(key, start);
                    start
                }
            };
            steps.push(TierStep::new(Prog::Code(start), end));
        }
        // A scan may run on through following index steps while tiers end in `Pass`.
        let len = steps.len() - first_step;
        if let Some(walk) = steps.get_mut(first_step..) {
            TierStep::link_scans(walk);
        }
        // Short walks live in the head itself.
        let mut inline = [TierStep::default(); INLINE_STEPS];
        if len <= INLINE_STEPS {
            for (slot, step) in inline.iter_mut().zip(steps.drain(first_step..)) {
                *slot = step;
            }
        }
        let mask = if any_index {
            self.masks.get_mut(di).map_or(0, |m| m.intern(mask))
        } else {
            0
        };
        Class {
            policies,
            head: ClassHead {
                mask,
                start: to_u32(first_step),
                len: to_u32(len),
                inline,
            },
        }
    }

    /// The rule numbers of tier `tier_pos` in the direction's index, when it is indexed.
    fn tier_range(&self, di: usize, tier_pos: u32) -> Option<(u32, u32)> {
        self.tier_ranges
            .get(di)?
            .get(tier_pos as usize)
            .copied()
            .flatten()
    }

    /// The atoms a rule's peers hold (`None`: every peer), read from `sets`: equal peers
    /// share one set, and each pod set, node set and block is turned into atoms once, so
    /// that the cost grows with the distinct peers rather than with the rules.
    fn peer_atoms(
        &self,
        peers: &PeerSet,
        atoms: &Atoms,
        blocks: &BlockIndex,
        sets: &mut PeerAtomSets,
    ) -> Option<Arc<Bitset>> {
        if peers.all {
            return None;
        }
        let key = (
            peers.pod_sets.clone(),
            peers.blocks.clone(),
            peers.extra,
            peers.any_address,
        );
        if let Some(set) = sets.whole.get(&key) {
            return Some(Arc::clone(set));
        }
        let node_sets = self
            .extras
            .get(peers.extra as usize)
            .map_or(&[][..], |e| e.node_sets.as_slice());
        let parts: Vec<AtomPart> = peers
            .pod_sets
            .iter()
            .map(|s| AtomPart::Pods(*s))
            .chain(node_sets.iter().map(|s| AtomPart::Nodes(*s)))
            .chain(
                peers
                    .blocks
                    .iter()
                    .map(|b| AtomPart::Block(*b, peers.any_address)),
            )
            .collect();
        let set = match parts.as_slice() {
            [one] => self.part_atoms(*one, atoms, blocks, sets),
            _ => {
                let mut set = Bitset::new(atoms.len());
                for part in parts {
                    set.union_with(&self.part_atoms(part, atoms, blocks, sets));
                }
                Arc::new(set)
            }
        };
        sets.whole.insert(key, Arc::clone(&set));
        Some(set)
    }

    /// The atoms of one pod set, node set or block of a peer, made once.
    fn part_atoms(
        &self,
        part: AtomPart,
        atoms: &Atoms,
        blocks: &BlockIndex,
        sets: &mut PeerAtomSets,
    ) -> Arc<Bitset> {
        if let Some(set) = sets.parts.get(&part) {
            return Arc::clone(set);
        }
        let mut set = Bitset::new(atoms.len());
        match part {
            AtomPart::Pods(id) => {
                for identity in self.pod_sets.get(id).into_iter().flat_map(Bitset::iter) {
                    for a in atoms.of_identity(identity) {
                        set.insert(*a as usize);
                    }
                }
            }
            AtomPart::Nodes(id) => {
                for node in self.node_sets.get(id).into_iter().flat_map(Bitset::iter) {
                    for a in atoms.of_node(node) {
                        set.insert(*a as usize);
                    }
                }
            }
            AtomPart::Block(b, any_address) => {
                for (lo, hi) in blocks.intervals(b) {
                    for value in *lo..*hi {
                        for a in atoms.of_value(value) {
                            let eligible = any_address
                                || match atoms.kind(*a) {
                                    Some(AtomKind::Pod) => self.profile.ipblock_matches_pods(),
                                    Some(AtomKind::Node) => self.profile.ipblock_matches_nodes(),
                                    _ => true,
                                };
                            if eligible {
                                set.insert(*a as usize);
                            }
                        }
                    }
                }
            }
        }
        let set = Arc::new(set);
        sets.parts.insert(part, Arc::clone(&set));
        set
    }

    /// Numbers the rules of each direction's indexed tiers in walk order and gathers what
    /// the rule index is built from. A tier holding a ClusterNetworkPolicy, a Calico
    /// policy or a policy with qualified named ports is indexed (with every policy in it);
    /// a tier of other NetworkPolicies only is run as instructions. Without Calico policies
    /// and qualified named ports, a direction whose rows would exceed
    /// [`MAX_RULE_INDEX_BYTES`] runs every tier as instructions instead.
    fn number_rules(
        &mut self,
        metas: &[PolicyMeta],
        rules: &[[Vec<CompiledRule>; 2]],
        drafts: &[[Vec<calico::CalicoDraft<'_>>; 2]],
        atoms: &Atoms,
        blocks: &BlockIndex,
    ) -> [Vec<RuleFacts>; 2] {
        let mut tier_indexed = vec![false; self.tiers.len()];
        let mut any_calico = false;
        for (gid, m) in metas.iter().enumerate() {
            let calico = matches!(
                m.kind,
                PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy
            );
            any_calico |= calico;
            if calico
                || m.kind == PolicyKind::ClusterNetworkPolicy
                || self.qualified_policies.contains(&gid)
            {
                if let Some(t) = tier_indexed.get_mut(m.tier_pos as usize) {
                    *t = true;
                }
            }
        }
        let indexed = |m: &PolicyMeta| {
            tier_indexed
                .get(m.tier_pos as usize)
                .copied()
                .unwrap_or(false)
        };
        let cluster = self.cluster;
        let identities = std::mem::replace(&mut self.identities, Identities::empty());
        let net_sets = std::mem::take(&mut self.net_sets);
        let mut members = calico::Members::new(&identities, atoms, blocks, &net_sets, cluster);
        let mut peer_sets = PeerAtomSets::default();
        let out = [0usize, 1].map(|di| {
            let total: usize = metas
                .iter()
                .zip(rules)
                .filter(|(m, _)| indexed(m))
                .map(|(_, r)| r.get(di).map_or(0, Vec::len))
                .sum();
            let bytes = atoms.len().saturating_mul(total.div_ceil(64) * 8);
            if let Some(starts) = self.rule_start.get_mut(di) {
                *starts = vec![None; metas.len()];
            }
            if let Some(ranges) = self.tier_ranges.get_mut(di) {
                *ranges = vec![None; self.tiers.len()];
            }
            if total == 0
                || (bytes > MAX_RULE_INDEX_BYTES
                    && !any_calico
                    && self.qualified_policies.is_empty())
            {
                return Vec::new();
            }
            let mut facts = Vec::with_capacity(total);
            for (gid, (meta, per_dir)) in metas.iter().zip(rules).enumerate() {
                if !indexed(meta) {
                    continue;
                }
                let start = to_u32(facts.len());
                if let Some(slot) = self.rule_start.get_mut(di).and_then(|s| s.get_mut(gid)) {
                    *slot = Some(start);
                }
                let calico_drafts = drafts
                    .get(gid)
                    .and_then(|d| d.get(di))
                    .map_or(&[][..], Vec::as_slice);
                for (r, rule) in per_dir.get(di).into_iter().flatten().enumerate() {
                    let fact = match calico_drafts.get(r) {
                        Some(draft) => {
                            let (remote, local) = members.draft(draft);
                            if let (Some(local), Some(list)) = (local, self.locals.get_mut(di)) {
                                list.push((to_u32(facts.len()), local));
                            }
                            RuleFacts {
                                action: draft.action,
                                peers: remote.map(Arc::new),
                                domains: Vec::new(),
                                ports: draft.ports.clone(),
                                families: draft.families,
                                actionable: draft.action != Action::Log && !draft.unsupported,
                            }
                        }
                        None => {
                            let mut f = self.facts(rule, atoms, blocks, &mut peer_sets);
                            if let Some(by_family) = self.family_named.get(&(gid, di, r)) {
                                f.ports.named_by_family = by_family.clone();
                            }
                            f
                        }
                    };
                    facts.push(fact);
                }
                let end = to_u32(facts.len());
                if let Some(range) = self
                    .tier_ranges
                    .get_mut(di)
                    .and_then(|r| r.get_mut(meta.tier_pos as usize))
                {
                    let (lo, _) = range.unwrap_or((start, end));
                    *range = Some((lo, end));
                }
            }
            if let Some(t) = self.rule_total.get_mut(di) {
                *t = facts.len();
            }
            facts
        });
        drop(members);
        drop(peer_sets);
        self.identities = identities;
        self.net_sets = net_sets;
        out
    }

    /// What the rule index needs of one compiled rule.
    fn facts(
        &self,
        rule: &CompiledRule,
        atoms: &Atoms,
        blocks: &BlockIndex,
        sets: &mut PeerAtomSets,
    ) -> RuleFacts {
        let extra = self.extras.get(rule.peers.extra as usize);
        RuleFacts {
            action: rule.action,
            peers: self.peer_atoms(&rule.peers, atoms, blocks, sets),
            domains: extra.map(|e| e.domains.clone()).unwrap_or_default(),
            ports: PortFacts {
                ranges: Some(rule.ports.ranges.to_vec()),
                named: rule.ports.named.to_vec(),
                ..PortFacts::any()
            },
            families: [true, true],
            actionable: rule.action != Action::Log && !rule.unsupported,
        }
    }
}

static EVERYTHING: std::sync::OnceLock<Selector> = std::sync::OnceLock::new();

/// The selector every pod matches.
pub(super) fn everything() -> &'static Selector {
    EVERYTHING.get_or_init(Selector::everything)
}

/// The tables compiled rules and instructions refer to, as a build fills them (the
/// compiler's arenas) and as an incremental update does (the core's tables, in
/// `live::policy`): what [`network_rule_parts`], [`cluster_rule_parts`] and
/// [`emit_tier`] need, so that both compile NetworkPolicy and ClusterNetworkPolicy rules
/// and tiers one way.
pub(super) trait RuleTables<'a> {
    /// The identity set of the pods `pods` selects in the namespaces `namespaces`
    /// selects, `None` when empty.
    fn peer_pods(&mut self, namespaces: &'a Selector, pods: &'a Selector) -> Option<u32>;
    /// The identity set of the pods `pods` selects in the namespaces of indexes
    /// `namespaces`, `None` when empty.
    fn pods_in(&mut self, namespaces: Vec<u32>, pods: &'a Selector) -> Option<u32>;
    /// The id of a block of networks; `None` when it cannot be had.
    fn block(&mut self, block: &CidrBlock) -> Option<u32>;
    /// The node set `sel` selects, `None` when empty.
    fn nodes(&mut self, sel: &'a Selector) -> Option<u32>;
    /// The id of a domain pattern list.
    fn domain(&mut self, patterns: &'a [DomainPattern]) -> u32;
    /// A set of node and domain peers by id.
    fn extra(&self, id: u32) -> Option<&PeerExtra>;
    /// The id of a set of node and domain peers, `NO_EXTRA` when both are empty.
    fn extra_of(&mut self, extra: PeerExtra) -> u32;
    /// The id of a container port name.
    fn port_name(&mut self, name: &str) -> u32;
    /// Unions the pod sets of `peers` into one when there are too many to test one by
    /// one.
    fn limit_peers(&mut self, peers: &mut PeerSet);
}

impl<'a> RuleTables<'a> for Compiler<'a> {
    fn peer_pods(&mut self, namespaces: &'a Selector, pods: &'a Selector) -> Option<u32> {
        let ns = self.namespaces_matching(namespaces);
        self.pod_set(ns, pods)
    }
    fn pods_in(&mut self, namespaces: Vec<u32>, pods: &'a Selector) -> Option<u32> {
        self.pod_set(namespaces, pods)
    }
    fn block(&mut self, block: &CidrBlock) -> Option<u32> {
        Some(self.block_id(block.clone()))
    }
    fn nodes(&mut self, sel: &'a Selector) -> Option<u32> {
        self.node_set(sel)
    }
    fn domain(&mut self, patterns: &'a [DomainPattern]) -> u32 {
        self.domain_id(patterns)
    }
    fn extra(&self, id: u32) -> Option<&PeerExtra> {
        self.extras.get(id as usize)
    }
    fn extra_of(&mut self, extra: PeerExtra) -> u32 {
        self.extra_id(extra)
    }
    fn port_name(&mut self, name: &str) -> u32 {
        self.name_id(name)
    }
    fn limit_peers(&mut self, peers: &mut PeerSet) {
        self.limit_pod_sets(peers);
    }
}

/// The peers (blocks unsorted, pod sets not limited, `any_address` unset) and ports (not
/// finished) of a NetworkPolicy rule, as [`cluster_rule_parts`] has them for a
/// ClusterNetworkPolicy rule. `scope` gives the indexes of the namespaces a pod peer
/// reads, called for each pod peer `felix` does not take, in order, with the peer's
/// namespace selector (`None`: the policy's own namespace); `felix` may take a peer
/// first (true: taken), recording what it selects in `selected`. `None` when a block or
/// a pod peer's namespaces cannot be had.
pub(super) fn network_rule_parts<'a, T: RuleTables<'a>>(
    t: &mut T,
    rule: &'a crate::policy::Rule,
    selected: &mut Selected,
    mut scope: impl FnMut(&mut T, Option<&'a Selector>) -> Option<Vec<u32>>,
    mut felix: impl FnMut(&mut T, &'a Peer, &mut PeerSet, &mut Selected) -> bool,
) -> Option<(PeerSet, PortSet)> {
    let mut peers = PeerSet::default();
    match &rule.peers {
        None => peers.all = true,
        Some(list) => {
            for peer in list {
                if felix(t, peer, &mut peers, selected) {
                    continue;
                }
                match peer {
                    Peer::IpBlock(block) => {
                        let id = t.block(block)?;
                        push_unique(&mut peers.blocks, id);
                        selected.nets.push(id);
                    }
                    Peer::Pods { namespaces, pods } => {
                        let ns = scope(t, namespaces.as_ref())?;
                        if let Some(id) = t.pods_in(ns, pods) {
                            push_unique(&mut peers.pod_sets, id);
                        }
                    }
                }
            }
        }
    }
    let ports = network_ports(rule.ports.as_deref(), |name| t.port_name(name));
    Some((peers, ports))
}

/// The peers (node and domain peers registered, blocks unsorted, pod sets not limited)
/// and ports (not finished) of a ClusterNetworkPolicy rule; `felix` may take a peer
/// first (true: taken), recording what it selects in `selected`. `None` when a block
/// cannot be had.
pub(super) fn cluster_rule_parts<'a, T: RuleTables<'a>>(
    t: &mut T,
    rule: &'a crate::policy::ClusterRule,
    selected: &mut Selected,
    mut felix: impl FnMut(&mut T, &'a ClusterPeer, &mut PeerSet, &mut Selected) -> bool,
) -> Option<(PeerSet, PortSet)> {
    let mut peers = PeerSet {
        any_address: true,
        ..PeerSet::default()
    };
    let mut extra = PeerExtra::default();
    for peer in rule.peers() {
        if felix(t, peer, &mut peers, selected) {
            continue;
        }
        match peer {
            ClusterPeer::Namespaces(sel) => {
                if let Some(id) = t.peer_pods(sel, everything()) {
                    push_unique(&mut peers.pod_sets, id);
                }
            }
            ClusterPeer::Pods { namespaces, pods } => {
                if let Some(id) = t.peer_pods(namespaces, pods) {
                    push_unique(&mut peers.pod_sets, id);
                }
            }
            ClusterPeer::Networks(nets) => {
                for net in nets {
                    let id = t.block(&CidrBlock::new(*net, Vec::new()))?;
                    push_unique(&mut peers.blocks, id);
                    selected.nets.push(id);
                }
            }
            ClusterPeer::Nodes(sel) => {
                if let Some(id) = t.nodes(sel) {
                    push_unique_vec(&mut extra.node_sets, id);
                }
            }
            ClusterPeer::DomainNames(patterns) => {
                let id = t.domain(patterns);
                push_unique_vec(&mut extra.domains, id);
            }
        }
    }
    peers.extra = t.extra_of(extra);
    let mut ports = PortSet::default();
    match rule.ports() {
        None => ports.all_protocols(),
        Some(list) => {
            for p in list {
                match p {
                    ClusterPort::Ports {
                        protocol,
                        start,
                        end,
                    } => ports.ranges.push((*protocol, *start, *end)),
                    ClusterPort::Named(name) => {
                        let id = t.port_name(name);
                        ports.named.push((None, id));
                    }
                }
            }
        }
    }
    Some((peers, ports))
}

/// Appends the program of one tier run as instructions: its rules in walk order,
/// consecutive rules with the same action merged by port set (their order does not
/// matter among themselves), `Log` rules left out (they match and go on: they change no
/// verdict), ending in [`OpCode::End`].
pub(super) fn emit_tier<'a, 'r>(
    t: &mut impl RuleTables<'a>,
    code: &mut Vec<Instr>,
    rules: impl IntoIterator<Item = &'r CompiledRule>,
) {
    let mut group: Vec<&CompiledRule> = Vec::new();
    let mut group_action = Action::Allow;
    for rule in rules {
        if rule.action == Action::Log {
            continue;
        }
        if !group.is_empty() && rule.action != group_action {
            emit_group(t, code, group_action, &group);
            group.clear();
        }
        group_action = rule.action;
        group.push(rule);
    }
    if !group.is_empty() {
        emit_group(t, code, group_action, &group);
    }
    code.push(Instr::terminator(OpCode::End));
}

/// Appends one group of rules with the same action, merged by port set.
fn emit_group<'a>(
    t: &mut impl RuleTables<'a>,
    code: &mut Vec<Instr>,
    action: Action,
    group: &[&CompiledRule],
) {
    // Small groups (most, in incremental updates) are merged by scanning what was
    // emitted; large ones (a build's tiers) through hash tables.
    const SMALL: usize = 8;
    let small = group.len() <= SMALL;
    let start = code.len();
    let mut by_key: HashMap<(PortSet, bool), usize> = HashMap::new();
    let mut seen: Vec<[HashSet<u32>; 2]> = Vec::new();
    let mut extras: Vec<PeerExtra> = Vec::new();
    for rule in group {
        let found = if small {
            code.iter()
                .skip(start)
                .position(|e| {
                    e.ports == rule.ports && e.peers.any_address == rule.peers.any_address
                })
                .map(|i| start + i)
        } else {
            by_key
                .get(&(rule.ports.clone(), rule.peers.any_address))
                .copied()
        };
        let at = match found {
            Some(at) => at,
            None => {
                if !small {
                    by_key.insert((rule.ports.clone(), rule.peers.any_address), code.len());
                    seen.push(Default::default());
                }
                code.push(Instr {
                    op: OpCode::Match,
                    action,
                    ports: rule.ports.clone(),
                    peers: PeerSet {
                        any_address: rule.peers.any_address,
                        ..PeerSet::default()
                    },
                });
                extras.push(PeerExtra::default());
                code.len() - 1
            }
        };
        let (Some(e), Some(merged)) = (code.get_mut(at), extras.get_mut(at - start)) else {
            continue;
        };
        e.peers.all |= rule.peers.all;
        match seen.get_mut(at - start) {
            Some([sets, blocks]) => {
                for s in &rule.peers.pod_sets {
                    if sets.insert(*s) {
                        e.peers.pod_sets.push(*s);
                    }
                }
                for b in &rule.peers.blocks {
                    if blocks.insert(*b) {
                        e.peers.blocks.push(*b);
                    }
                }
            }
            None => {
                for s in &rule.peers.pod_sets {
                    push_unique(&mut e.peers.pod_sets, *s);
                }
                for b in &rule.peers.blocks {
                    push_unique(&mut e.peers.blocks, *b);
                }
            }
        }
        if let Some(extra) = t.extra(rule.peers.extra) {
            for n in &extra.node_sets {
                push_unique_vec(&mut merged.node_sets, *n);
            }
            for d in &extra.domains {
                push_unique_vec(&mut merged.domains, *d);
            }
        }
    }
    for (e, extra) in code.iter_mut().skip(start).zip(extras) {
        e.peers.extra = t.extra_of(extra);
    }
    for e in code.iter_mut().skip(start) {
        if e.peers.all {
            e.peers = PeerSet {
                all: true,
                any_address: e.peers.any_address,
                ..PeerSet::default()
            };
        }
        e.peers.blocks.sort_unstable();
        t.limit_peers(&mut e.peers);
    }
}

/// Whether Calico fails to convert a ClusterNetworkPolicy rule: it has a `nodes` or
/// `domainNames` peer (`combinePortsWithCNPEgressPeers` finds none of the fields it
/// converts), or, in ingress, a `networks` one.
pub(super) fn calico_fails(rule: &crate::policy::ClusterRule, direction: Direction) -> bool {
    rule.peers().iter().any(|p| match p {
        ClusterPeer::Nodes(_) | ClusterPeer::DomainNames(_) => true,
        // Calico converts only `namespaces` and `pods` ingress peers (the only kinds the
        // API has there); a policy built in code with another one fails the same way.
        ClusterPeer::Networks(_) => direction == Direction::Ingress,
        _ => false,
    })
}

/// Whether Calico drops a ClusterNetworkPolicy rule when it converts it: a failed
/// `Accept` (`k8sClusterNetPolHandleFailedRules` replaces only a failed Deny or Pass).
pub(super) fn calico_drops(rule: &crate::policy::ClusterRule, direction: Direction) -> bool {
    rule.action() == Action::Allow && calico_fails(rule, direction)
}

/// A ClusterNetworkPolicy rule Calico cannot convert (a `nodes` or `domainNames` peer):
/// Calico replaces a failed Deny or Pass rule by a Deny with no criteria, which denies
/// everything, and drops a failed Accept rule, which then matches nothing
/// (`k8sClusterNetPolHandleFailedRules`).
pub(super) fn calico_failed_rule(action: Action) -> CompiledRule {
    let mut ports = PortSet::default();
    let mut peers = PeerSet::default();
    let action = match action {
        Action::Deny | Action::Pass => {
            ports.all_protocols();
            peers.all = true;
            Action::Deny
        }
        other => other,
    };
    CompiledRule {
        action,
        peers,
        ports,
        unsupported: false,
    }
}

fn push_unique<const N: usize>(v: &mut smallvec::SmallVec<[u32; N]>, id: u32) {
    if !v.contains(&id) {
        v.push(id);
    }
}

fn push_unique_vec(v: &mut Vec<u32>, id: u32) {
    if !v.contains(&id) {
        v.push(id);
    }
}

impl PeerSet {
    fn finish(&mut self, c: &mut Compiler<'_>) {
        self.blocks.sort_unstable();
        c.limit_pod_sets(self);
    }
}

impl PortSet {
    pub(super) fn all_protocols(&mut self) {
        for p in Protocol::ALL {
            self.ranges.push((p, 0, u16::MAX));
        }
    }

    /// Order does not change what matches; sorting lets equal sets merge.
    pub(super) fn finish(&mut self) {
        self.ranges.sort_unstable();
        self.ranges.dedup();
        self.named.sort_unstable();
        self.named.dedup();
    }
}

/// Policies in walk order, each with its metadata.
pub(super) type Ordered<'a> = Vec<(PolicyMeta, Source<'a>)>;

/// The tiers in walk order, the enforced policies in walk order (Admin
/// ClusterNetworkPolicies by (priority, name, position), NetworkPolicies by position,
/// Baseline like Admin), and apart the policies of kinds the profile does not enforce.
fn ordered<'a>(
    set: PolicySetRef<'a>,
    profile: &Profile,
) -> (Vec<TierInfo>, Ordered<'a>, Ordered<'a>) {
    let tiers = vec![
        TierInfo {
            tier: TierRef::Admin,
            end: TierEnd::Pass,
        },
        TierInfo {
            tier: TierRef::NetworkPolicy,
            end: TierEnd::Deny,
        },
        TierInfo {
            tier: TierRef::Baseline,
            end: TierEnd::Pass,
        },
    ];
    let pos = |t: &TierRef| to_u32(tiers.iter().position(|x| &x.tier == t).unwrap_or(0));
    let cluster_tier = |tier: ClusterTier| {
        let mut list: Vec<(usize, &'a crate::policy::ClusterPolicy)> = set
            .cluster_policies()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.tier() == tier)
            .collect();
        list.sort_by(|(i, a), (j, b)| {
            (a.priority(), a.name(), i).cmp(&(b.priority(), b.name(), j))
        });
        let tier = match tier {
            ClusterTier::Admin => TierRef::Admin,
            ClusterTier::Baseline => TierRef::Baseline,
        };
        list.into_iter()
            .map(|(i, p)| {
                (
                    PolicyMeta {
                        kind: PolicyKind::ClusterNetworkPolicy,
                        index: i,
                        namespace: None,
                        name: p.name().into(),
                        tier_pos: pos(&tier),
                        tier: tier.clone(),
                        priority: p.priority(),
                    },
                    Source::Cluster(p),
                )
            })
            .collect::<Vec<_>>()
    };
    let network = set
        .network_policies()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                PolicyMeta {
                    kind: PolicyKind::NetworkPolicy,
                    index: i,
                    namespace: Some(p.namespace().into()),
                    name: p.name().into(),
                    tier: TierRef::NetworkPolicy,
                    tier_pos: pos(&TierRef::NetworkPolicy),
                    priority: 0,
                },
                Source::Network(p),
            )
        })
        .collect::<Vec<_>>();
    let all = cluster_tier(ClusterTier::Admin)
        .into_iter()
        .chain(network)
        .chain(cluster_tier(ClusterTier::Baseline));
    let (enforced, mut ignored): (Ordered<'a>, Ordered<'a>) =
        all.partition(|(meta, _)| match meta.kind {
            PolicyKind::NetworkPolicy => profile.enforces_network_policy(),
            PolicyKind::ClusterNetworkPolicy => profile.enforces_cluster_network_policy(),
            _ => false,
        });
    // Calico's own policies take part only where Felix enforces policy.
    for (i, p) in set.calico_policies().iter().enumerate() {
        let kind = match p.kind() {
            crate::calico::CalicoPolicyKind::Namespaced => PolicyKind::CalicoNetworkPolicy,
            _ => PolicyKind::GlobalNetworkPolicy,
        };
        ignored.push((
            PolicyMeta {
                kind,
                index: i,
                namespace: p.namespace().map(Into::into),
                name: p.name().into(),
                tier: TierRef::from_calico(p.tier()),
                tier_pos: 0,
                priority: 0,
            },
            Source::Calico(p),
        ));
    }
    (tiers, enforced, ignored)
}

pub(super) fn compile(profile: Profile, cluster: &Cluster, set: PolicySetRef<'_>) -> Inner {
    compile_keeping(profile, cluster, set).0
}

/// What a build computed that the live engine's kind index reads again.
pub(super) struct Kept<'a> {
    /// The ids the compiler gave the blocks of `ipBlock`s and networks (the intervals of
    /// an id are its block's).
    pub(super) blocks: HashMap<CidrBlock, u32>,
    /// The identities, their keys and label index.
    pub(super) identities: Identities<'a>,
}

/// [`compile`], with what the live engine's kind index reads again.
pub(super) fn compile_keeping<'a>(
    profile: Profile,
    cluster: &'a Cluster,
    set: PolicySetRef<'a>,
) -> (Inner, Kept<'a>) {
    let (core, pods, kept) = compile_core(profile, cluster, set);
    let inner = Inner {
        pod_lineage: cluster.pod_lineage(),
        cluster: cluster.clone(),
        pods: pods.into_iter().collect(),
        core: std::sync::Arc::new(core),
    };
    (inner, kept)
}

/// The compiled core, the table of pods, and what the live engine's kind index reads
/// again.
fn compile_core<'a>(
    profile: Profile,
    cluster: &'a Cluster,
    set: PolicySetRef<'a>,
) -> (Core, Vec<PodInfo>, Kept<'a>) {
    let (tiers, enforced, unenforced) = if profile.enforces_calico_policy() {
        calico::ordered_felix(set, &profile)
    } else {
        ordered(set, &profile)
    };
    let felix = profile.enforces_calico_policy();
    // Calico's selectors see the service account.
    let by_account = profile.enforces_calico_policy() || !set.calico_policies().is_empty();
    let label_keys = pod_label_keys(set, by_account);
    let mut c = Compiler {
        cluster,
        profile,
        felix,
        net_sets: Vec::new(),
        locals: [Vec::new(), Vec::new()],
        tiers,
        identities: Identities::new(cluster, by_account, label_keys.as_deref()),
        pod_sets: BitsetArena::default(),
        node_sets: BitsetArena::default(),
        peer_cache: HashMap::new(),
        converted_cache: HashMap::new(),
        ns_selector_cache: HashMap::new(),
        block_ids: HashMap::new(),
        block_list: Vec::new(),
        domain_ids: HashMap::new(),
        domains: Vec::new(),
        extra_ids: HashMap::new(),
        extras: Vec::new(),
        rule_start: [Vec::new(), Vec::new()],
        tier_ranges: [Vec::new(), Vec::new()],
        masks: [BitsetArena::default(), BitsetArena::default()],
        rule_total: [0, 0],
        tier_code: HashMap::new(),
        names: HashMap::new(),
        qualified: Vec::new(),
        qualified_ids: HashMap::new(),
        next_name: 0,
        family_named: HashMap::new(),
        qualified_policies: HashSet::new(),
    };
    let n_identities = c.identities.len();

    // Classes are found by transitions: an identity starts in class 0 (no policy) and
    // moves, for each policy selecting it (in evaluation order), to the class "previous
    // policies + this one". A class is stored as (parent class, last policy), so a chain
    // of k policies costs k entries, not k² policy ids.
    let mut class_parent: Vec<(u32, u32)> = vec![(NOT_ISOLATED, u32::MAX)];
    // A transition "class + this policy" is only ever taken while this policy is read:
    // the (from, to) pairs of the policy at hand are all that needs remembering, and the
    // identities a policy selects are mostly in a few classes.
    let mut transitions: HashMap<u32, u32> = HashMap::new();
    let mut subject: Vec<u32> = Vec::new();
    let mut identity_class: [Vec<u32>; 2] = [
        vec![NOT_ISOLATED; n_identities],
        vec![NOT_ISOLATED; n_identities],
    ];

    let mut metas: Vec<PolicyMeta> = Vec::with_capacity(enforced.len());
    let mut rules: Vec<[Vec<CompiledRule>; 2]> = Vec::with_capacity(enforced.len());
    let mut drafts: Vec<[Vec<calico::CalicoDraft<'_>>; 2]> = (0..enforced.len())
        .map(|_| [Vec::new(), Vec::new()])
        .collect();
    if c.felix {
        for s in set.network_sets() {
            let ns = calico::net_set(s, |net| c.block_id(CidrBlock::new(net, Vec::new())));
            c.net_sets.push(ns);
        }
    }
    for (gid, (meta, source)) in enforced.iter().enumerate() {
        let gid = to_u32(gid);
        // A NetworkPolicy or ClusterNetworkPolicy selects the same identities for both
        // directions: they are looked up once. Not under Felix, where a
        // ClusterNetworkPolicy applies only to the directions that keep a rule.
        let mut known = false;
        for d in Direction::BOTH {
            let di = dir_index(d);
            let selected = match source {
                Source::Network(p) if known => p.affects(d) && !subject.is_empty(),
                Source::Cluster(p) if known => p.affects(d) && !subject.is_empty(),
                _ => {
                    let found = c.subject_ids(*source, d, &mut subject);
                    known = !c.felix
                        && match source {
                            Source::Network(p) => p.affects(d),
                            Source::Cluster(p) => p.affects(d),
                            Source::Calico(_) => false,
                        };
                    found
                }
            };
            if !selected {
                continue;
            }
            let Some(slots) = identity_class.get_mut(di) else {
                continue;
            };
            transitions.clear();
            let mut last = (u32::MAX, u32::MAX);
            for id in &subject {
                let Some(slot) = slots.get_mut(*id as usize) else {
                    continue;
                };
                let from = *slot;
                if from != last.0 {
                    let to = *transitions.entry(from).or_insert_with(|| {
                        class_parent.push((from, gid));
                        to_u32(class_parent.len() - 1)
                    });
                    last = (from, to);
                }
                *slot = last.1;
            }
        }
        let mut compiled: [Vec<CompiledRule>; 2] = [Vec::new(), Vec::new()];
        for d in Direction::BOTH {
            let Some(slot) = compiled.get_mut(dir_index(d)) else {
                continue;
            };
            match source {
                Source::Network(p) => {
                    let own_ns = cluster
                        .namespace_id(p.namespace())
                        .map(|n| to_u32(n.index()));
                    for (r, rule) in p.rules(d).iter().enumerate() {
                        let (rule, by_family) = c.network_rule(rule, own_ns, p.namespace(), d);
                        c.note_qualified(metas.len(), dir_index(d), r, &rule, by_family);
                        slot.push(rule);
                    }
                }
                Source::Cluster(p) => {
                    for (r, rule) in p.rules(d).iter().enumerate() {
                        let (rule, by_family) = c.cluster_rule(rule, d);
                        c.note_qualified(metas.len(), dir_index(d), r, &rule, by_family);
                        slot.push(rule);
                    }
                }
                Source::Calico(p) => {
                    let mut list = Vec::new();
                    for rule in p.rules(d) {
                        let draft = c.calico_draft(rule, d);
                        slot.push(CompiledRule {
                            action: draft.action,
                            peers: PeerSet::default(),
                            ports: PortSet::default(),
                            unsupported: draft.unsupported,
                        });
                        list.push(draft);
                    }
                    if let Some(per_dir) = drafts.get_mut(metas.len()) {
                        if let Some(d) = per_dir.get_mut(dir_index(d)) {
                            *d = list;
                        }
                    }
                }
            }
        }
        metas.push(meta.clone());
        rules.push(compiled);
    }
    drop((transitions, subject));

    // Policies of kinds the profile does not enforce: only which identities they would
    // select, for explanations.
    let mut ignored = Vec::with_capacity(unenforced.len());
    for (meta, source) in &unenforced {
        let subjects = Direction::BOTH.map(|d| c.subject(*source, d));
        ignored.push((meta.clone(), subjects));
    }

    let blocks = BlockIndex::build(&c.block_list);
    let addrs_of = |ips: &[IpAddr]| {
        let v4 = ips.iter().find(|ip| ip.is_ipv4()).copied();
        let v6 = ips.iter().find(|ip| ip.is_ipv6()).copied();
        Addrs {
            rows: [[NO_ROW; 2]; 2],
            first_v6: ips.first().map(IpAddr::is_ipv6),
            value_v4: v4.map_or(0, |a| blocks.lookup(a)),
            value_v6: v6.map_or(0, |a| blocks.lookup(a)),
        }
    };
    let mut atoms = Atoms::new(n_identities, cluster.node_count(), blocks.values());
    // Pods of one identity mostly come one after the other, often with addresses of the
    // same values: the last pod's atoms are reused without a lookup.
    let mut last: Option<([u32; 3], [u32; 2])> = None;
    let mut pod_addrs: Vec<(Addrs, [u32; 2])> = cluster
        .pods()
        .enumerate()
        .map(|(i, (_, p))| {
            let identity = c.identities.of_pod.get(i).copied().unwrap_or(0);
            let a = addrs_of(&p.ips);
            let key = [identity, a.value_v4, a.value_v6];
            let ids = match last {
                Some((k, ids)) if k == key => ids,
                _ => {
                    let ids =
                        [a.value_v4, a.value_v6].map(|v| atoms.intern(AtomKind::Pod, identity, v));
                    last = Some((key, ids));
                    ids
                }
            };
            (a, ids)
        })
        .collect();
    let mut node_addrs: Vec<(Addrs, [u32; 2])> = cluster
        .nodes()
        .enumerate()
        .map(|(i, (_, n))| {
            let a = addrs_of(&n.ips);
            let ids = [a.value_v4, a.value_v6].map(|v| atoms.intern(AtomKind::Node, to_u32(i), v));
            (a, ids)
        })
        .collect();
    let external_atoms: Vec<u32> = (0..blocks.values())
        .map(|v| atoms.intern(AtomKind::External, 0, to_u32(v)))
        .collect();

    let facts = c.number_rules(&metas, &rules, &drafts, &atoms, &blocks);
    drop(drafts);

    // Compile only the classes some identity ends in, and their variants for traffic
    // between a pod and its own node (where NetworkPolicy allows whatever its rules say);
    // renumber densely.
    let mut code: Vec<Instr> = Vec::new();
    let mut steps: Vec<TierStep> = Vec::new();
    let mut classes: Vec<Class> = vec![Class::default()];
    // Per class: its direction.
    let mut class_dirs: Vec<usize> = vec![0];
    let mut by_list: HashMap<ClassKey, u32> = HashMap::new();
    let mut final_id: HashMap<(usize, u32), (u32, u32)> = HashMap::new();
    let mut identities: Vec<IdentityInfo> = vec![IdentityInfo::default(); n_identities];
    for (di, per_identity) in identity_class.iter().enumerate() {
        for (id, old) in per_identity.iter().enumerate() {
            let (full, own_node) = match final_id.get(&(di, *old)) {
                Some(ids) => *ids,
                None => {
                    let list = policies_of(&class_parent, *old);
                    let mut intern = |own_node: bool, classes: &mut Vec<Class>| -> u32 {
                        if list.is_empty() {
                            return NOT_ISOLATED;
                        }
                        let key = (di, list.clone(), own_node, Vec::new());
                        if let Some(id) = by_list.get(&key) {
                            return *id;
                        }
                        let id = to_u32(classes.len());
                        by_list.insert(key, id);
                        classes.push(c.class(
                            &mut code,
                            &mut steps,
                            list.clone(),
                            &metas,
                            &rules,
                            di,
                            own_node,
                            &[],
                        ));
                        class_dirs.push(di);
                        id
                    };
                    let ids = (intern(false, &mut classes), intern(true, &mut classes));
                    final_id.insert((di, *old), ids);
                    ids
                }
            };
            if let Some(info) = identities.get_mut(id) {
                if let (Some(a), Some(b)) =
                    (info.class.get_mut(di), info.own_node_class.get_mut(di))
                {
                    *a = full;
                    *b = own_node;
                }
            }
        }
    }
    // Where rules test the local pod (Calico's destination in ingress, source in
    // egress), a pod's class also depends on its address: per pod and family, the rules
    // whose local test fails are left out of its mask.
    let mut pod_classes: Vec<[[u32; 2]; 2]> = Vec::new();
    if c.locals.iter().any(|l| !l.is_empty()) {
        let owners: [Vec<u32>; 2] = [0usize, 1].map(|di| {
            let mut owner = vec![u32::MAX; c.rule_total.get(di).copied().unwrap_or(0)];
            for (gid, start) in c.rule_start.get(di).into_iter().flatten().enumerate() {
                let Some(start) = start else {
                    continue;
                };
                let count = rules.get(gid).and_then(|r| r.get(di)).map_or(0, Vec::len);
                for r in 0..count {
                    if let Some(slot) = owner.get_mut(*start as usize + r) {
                        *slot = to_u32(gid);
                    }
                }
            }
            owner
        });
        let mut memo: HashMap<(usize, u32, u32), u32> = HashMap::new();
        for (i, (_, atom_ids)) in pod_addrs.iter().enumerate() {
            let identity = c.identities.of_pod.get(i).copied().unwrap_or(0) as usize;
            let mut per_family = [[NOT_ISOLATED; 2]; 2];
            for (fam, atom) in atom_ids.iter().enumerate() {
                for di in 0..2 {
                    let old = identity_class
                        .get(di)
                        .and_then(|v| v.get(identity))
                        .copied()
                        .unwrap_or(NOT_ISOLATED);
                    let base = identities
                        .get(identity)
                        .and_then(|info| info.class.get(di))
                        .copied()
                        .unwrap_or(NOT_ISOLATED);
                    let class = match memo.get(&(di, old, *atom)) {
                        Some(class) => *class,
                        None => {
                            let list = policies_of(&class_parent, old);
                            let excluded: Vec<u32> = c
                                .locals
                                .get(di)
                                .into_iter()
                                .flatten()
                                .filter(|(r, set)| {
                                    owners
                                        .get(di)
                                        .and_then(|o| o.get(*r as usize))
                                        .is_some_and(|g| list.contains(g))
                                        && !set.contains(*atom as usize)
                                })
                                .map(|(r, _)| *r)
                                .collect();
                            let class = if excluded.is_empty() || list.is_empty() {
                                base
                            } else {
                                let key = (di, list.clone(), false, excluded.clone());
                                match by_list.get(&key) {
                                    Some(id) => *id,
                                    None => {
                                        let id = to_u32(classes.len());
                                        by_list.insert(key, id);
                                        classes.push(c.class(
                                            &mut code, &mut steps, list, &metas, &rules, di, false,
                                            &excluded,
                                        ));
                                        class_dirs.push(di);
                                        id
                                    }
                                }
                            };
                            memo.insert((di, old, *atom), class);
                            class
                        }
                    };
                    if let Some(slot) = per_family.get_mut(fam).and_then(|f| f.get_mut(di)) {
                        *slot = class;
                    }
                }
            }
            pod_classes.push(per_family);
        }
    }
    drop(class_parent);
    let value_bits = value_bits(&mut code, &blocks);
    let [ingress_facts, egress_facts] = facts;
    let [ingress_masks, egress_masks] = std::mem::take(&mut c.masks);
    let mut rule_index = [
        RuleIndex::build(
            ingress_facts,
            atoms.len(),
            &external_atoms,
            ingress_masks.sets,
        ),
        RuleIndex::build(
            egress_facts,
            atoms.len(),
            &external_atoms,
            egress_masks.sets,
        ),
    ];
    drop(atoms);
    // Each pod, node and outside value keeps its peer rows, so deciding reads them with
    // the rest of its record.
    for (a, ids) in pod_addrs.iter_mut().chain(node_addrs.iter_mut()) {
        for (di, index) in rule_index.iter().enumerate() {
            if let Some(rows) = a.rows.get_mut(di) {
                *rows = ids.map(|atom| index.row_of_atom(atom));
            }
        }
    }
    let external_rows = [0usize, 1].map(|di| {
        rule_index.get(di).map_or_else(Vec::new, |index| {
            external_atoms
                .iter()
                .map(|atom| index.row_of_atom(*atom))
                .collect()
        })
    });
    let nodes: Vec<Addrs> = node_addrs.into_iter().map(|(a, _)| a).collect();
    // Named container ports, grouped per pod by (protocol, number): each group's names
    // get one row per index. All of it follows from a pod's port list and, where Calico
    // rules qualify a name by the pods their side selects, from which of those
    // qualifications admit the pod; it is worked out once per distinct answer (pods of
    // one workload declare the same ports), and pods with the same answer share their
    // entries of the tables.
    // The qualified names of each name, and whether a pod declares one (see
    // `Qualified`).
    let mut qualified_of: HashMap<u32, Vec<(u32, &Only)>> = HashMap::new();
    for (id, q) in &c.qualified {
        qualified_of.entry(q.name).or_default().push((*id, &q.only));
    }
    let admits = |only: &Only, identity: u32, ips: &[IpAddr]| match only {
        Only::Pods(set) => c
            .pod_sets
            .get(*set)
            .is_some_and(|s| s.contains(identity as usize)),
        Only::Addresses { blocks: list, v6 } => {
            ips.iter().find(|ip| ip.is_ipv6() == *v6).is_some_and(|ip| {
                let value = blocks.lookup(*ip);
                list.iter().any(|b| blocks.contains(*b, value))
            })
        }
    };
    // Every name a pod with these ports declares: (id, protocol, port, whether only
    // flows of one family see it).
    let declared = |ports: &[ContainerPort],
                    identity: u32,
                    ips: &[IpAddr]|
     -> Vec<(u32, Protocol, u16, bool)> {
        let mut out = Vec::new();
        for cp in ports {
            let Some(id) = cp.name.as_deref().and_then(|n| c.names.get(n)) else {
                continue;
            };
            out.push((*id, cp.protocol, cp.port, false));
            for (q, only) in qualified_of.get(id).into_iter().flatten() {
                if admits(only, identity, ips) {
                    let by_family = matches!(only, Only::Addresses { .. });
                    out.push((*q, cp.protocol, cp.port, by_family));
                }
            }
        }
        out
    };
    // One key per distinct declaration. Without qualified names it depends on the port
    // list alone, found by the list's address first (pods sharing a list share its
    // allocation) and by content after.
    let mut key_declared: Vec<Vec<(u32, Protocol, u16, bool)>> = Vec::new();
    let mut key_by_ptr: HashMap<(*const ContainerPort, usize), u32> = HashMap::new();
    let mut key_by_content: HashMap<Vec<(u32, Protocol, u16, bool)>, u32> = HashMap::new();
    let qualified = !qualified_of.is_empty();
    let pod_keys: Vec<u32> = cluster
        .pods()
        .enumerate()
        .map(|(i, (_, p))| {
            let ports: &[ContainerPort] = &p.ports;
            let ptr = (ports.as_ptr(), ports.len());
            if !qualified {
                if let Some(key) = key_by_ptr.get(&ptr) {
                    return *key;
                }
            }
            let identity = c.identities.of_pod.get(i).copied().unwrap_or(0);
            let list = declared(ports, identity, &p.ips);
            let next = to_u32(key_declared.len());
            let key = *key_by_content.entry(list).or_insert_with_key(|list| {
                key_declared.push(list.clone());
                next
            });
            if !qualified {
                key_by_ptr.insert(ptr, key);
            }
            key
        })
        .collect();
    drop((key_by_ptr, key_by_content));
    let names_of = |declared: &[(u32, Protocol, u16, bool)]| -> Vec<NamedGroup> {
        let mut groups: Vec<NamedGroup> = Vec::new();
        // Names of one family are only ever checked rule by rule, never read through
        // rows.
        for &(id, protocol, number, _) in declared.iter().filter(|d| !d.3) {
            match groups
                .iter_mut()
                .find(|(proto, port, _)| *proto == protocol && *port == number)
            {
                Some((_, _, list)) => list.push((id, protocol)),
                None => groups.push((protocol, number, vec![(id, protocol)])),
            }
        }
        for (_, _, list) in &mut groups {
            list.sort_unstable();
            list.dedup();
        }
        groups
    };
    let mut name_sets: Vec<Vec<(u32, Protocol)>> = Vec::new();
    let mut name_set_ids: HashMap<Vec<(u32, Protocol)>, usize> = HashMap::new();
    let key_groups: Vec<Vec<(Protocol, u16, usize)>> = key_declared
        .iter()
        .map(|declared| {
            names_of(declared)
                .into_iter()
                .map(|(proto, port, list)| {
                    let next = name_sets.len();
                    let id = *name_set_ids.entry(list.clone()).or_insert_with(|| {
                        name_sets.push(list);
                        next
                    });
                    (proto, port, id)
                })
                .collect()
        })
        .collect();
    let mut declared: Vec<(Protocol, u16, usize)> = key_groups.iter().flatten().copied().collect();
    declared.sort_unstable();
    declared.dedup();
    let named_rows = rule_index
        .each_mut()
        .map(|index| index.set_named_rows(&name_sets, &declared));
    let mut family_classes: HashMap<(u8, u8, u32, u32), u32> = HashMap::new();
    let mut pod_named: Vec<(u32, Protocol, u16)> = Vec::new();
    let mut pod_named_rows: Vec<(Protocol, u16, [u32; 2])> = Vec::new();
    // Per key: where its pods find their named ports and rows, once placed.
    let mut placed: Vec<Option<NamedAt>> = vec![None; key_declared.len()];
    let mut place = |key: u32| -> NamedAt {
        if let Some(Some(at)) = placed.get(key as usize) {
            return *at;
        }
        let named_at = to_u32(pod_named.len());
        pod_named.extend(
            key_declared
                .get(key as usize)
                .into_iter()
                .flatten()
                .map(|&(id, protocol, port, _)| (id, protocol, port)),
        );
        let rows_at = to_u32(pod_named_rows.len());
        pod_named_rows.extend(
            key_groups
                .get(key as usize)
                .into_iter()
                .flatten()
                .map(|&(proto, port, set)| {
                    let row = |di: usize| {
                        named_rows
                            .get(di)
                            .and_then(|rows| rows.get(set))
                            .copied()
                            .flatten()
                            .unwrap_or(NO_ROW)
                    };
                    (proto, port, [row(0), row(1)])
                })
                .filter(|(_, _, rows)| rows.iter().any(|r| *r != NO_ROW)),
        );
        let len16 = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        let at = NamedAt {
            named_at,
            named_len: len16(pod_named.len() - named_at as usize),
            rows_at,
            rows_len: len16(pod_named_rows.len() - rows_at as usize),
            first: pod_named_rows.get(rows_at as usize).copied(),
        };
        if let Some(slot) = placed.get_mut(key as usize) {
            *slot = Some(at);
        }
        at
    };
    let pods: Vec<PodInfo> = cluster
        .pods()
        .zip(pod_addrs)
        .zip(pod_keys)
        .enumerate()
        .map(|(i, (((_, p), (addrs, _)), key))| {
            let identity = c.identities.of_pod.get(i).copied().unwrap_or(0);
            let info = identities
                .get(identity as usize)
                .copied()
                .unwrap_or_default();
            let NamedAt {
                named_at,
                named_len,
                rows_at,
                rows_len,
                first,
            } = place(key);
            let primary = usize::from(addrs.first_v6 == Some(true));
            let mut class = info.class;
            let mut by_family = false;
            if let Some(per_family) = pod_classes.get(i) {
                if let Some(c) = per_family.get(primary) {
                    class = *c;
                }
                for (fam, classes) in per_family.iter().enumerate() {
                    for (di, cl) in classes.iter().enumerate() {
                        if fam != primary && class.get(di) != Some(cl) {
                            by_family = true;
                            let value = if fam == 1 {
                                addrs.value_v6
                            } else {
                                addrs.value_v4
                            };
                            // Both index two-element arrays (directions, families).
                            if let (Ok(d), Ok(f)) = (u8::try_from(di), u8::try_from(fam)) {
                                family_classes.insert((d, f, identity, value), *cl);
                            }
                        }
                    }
                }
            }
            PodInfo {
                identity,
                class,
                node: p.node.map_or(NO_NODE, |n| to_u32(n.index())),
                rows: addrs.rows,
                values: [addrs.value_v4, addrs.value_v6],
                named_at,
                rows_at,
                first_rows: first.map_or([NO_ROW; 2], |(_, _, rows)| rows),
                first_port: first.map_or(0, |(_, port, _)| port),
                named_len,
                rows_len,
                first_protocol: first.map_or(u8::MAX, |(proto, _, _)| proto.index_u8()),
                first_family: match addrs.first_v6 {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                } | if by_family { BY_FAMILY } else { 0 },
            }
        })
        .collect();

    // Deciding reads the programs lowered to 32-byte instructions.
    let mut code_more = Vec::new();
    let ops = lower_code(&code, |m| {
        code_more.push(m);
        to_u32(code_more.len() - 1)
    });
    drop(code);
    // Where a rule index decides some tier, most walks begin with an index step: reading
    // a record first would only delay them.
    let code_first = rule_index.iter().all(|r| r.actions.is_empty());
    let block_ids = std::mem::take(&mut c.block_ids);
    let mut core = Core {
        profile: c.profile.clone(),
        names: std::mem::take(&mut c.names),
        label_keys,
        by_account,
        policies: metas.into_iter().collect(),
        retired: 0,
        rules: rules.into_iter().map(std::sync::Arc::new).collect(),
        ignored: ignored.into(),
        nodes: nodes.into(),
        identities: identities.into(),
        heads: classes.iter().map(|c| c.head).collect::<Vec<_>>().into(),
        class_code: if code_first {
            classes
                .iter()
                .map(|c| ClassCode::new(&c.head, |pc| ops.get(pc as usize).copied()))
                .collect::<Vec<_>>()
                .into()
        } else {
            Vec::new().into()
        },
        code_first,
        class_scan: Default::default(),
        walk_mode: WalkMode::Heads,
        classes: classes.into(),
        tiers: std::mem::take(&mut c.tiers),
        pod_named: pod_named.into(),
        pod_named_rows: pod_named_rows.into(),
        family_classes: std::sync::Arc::new(family_classes),
        steps: steps.into(),
        code: ops.into(),
        code_more: code_more.into(),
        rule_index: std::sync::Arc::new(rule_index),
        rule_start: std::mem::take(&mut c.rule_start).map(Into::into),
        external_rows: external_rows.map(|rows| std::sync::Arc::new(blocks.table(&rows))),
        pod_sets: BitsetTable::new(c.pod_sets.sets, n_identities),
        node_sets: BitsetTable::new(c.node_sets.sets, cluster.node_count()),
        domains: c.domains.into(),
        extras: c.extras.into(),
        blocks,
        value_bits,
        overlay: None,
    };
    // Where a walk may begin with a scan of flat rows, every class has its record (so that
    // classes pushed later get theirs too).
    let scans: Vec<ClassScan> = core
        .heads
        .iter()
        .zip(&class_dirs)
        .map(|(head, di)| core.class_scan_of(head, *di))
        .collect();
    if scans.iter().any(|s| s.flags != 0) {
        core.class_scan = scans.into();
        core.walk_mode = WalkMode::Scan;
    }
    if !core.profile.enforces_any() {
        core.walk_mode = WalkMode::Off;
    }
    let kept = Kept {
        blocks: block_ids,
        identities: std::mem::replace(&mut c.identities, Identities::empty()),
    };
    (core, pods, kept)
}

/// Which pods a qualified port name counts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Only {
    /// The pods of these identities (an interned identity set).
    Pods(u32),
    /// The pods with an address of the family in these blocks.
    Addresses { blocks: Vec<u32>, v6: bool },
}

/// A container port name that counts only for some pods: under Felix, a named port of a
/// rule side whose member selector also matches network sets (see
/// [`Compiler::qualify_named`]). A pod declaring `name` declares the qualified name too
/// when `only` admits it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Qualified {
    name: u32,
    only: Only,
}

/// Under Felix, what the peers of a converted Kubernetes rule match: identities and
/// network-set blocks by its selector peers, blocks of its `ipBlock` or `networks` peers.
pub(super) struct Selected {
    idents: Bitset,
    set_blocks: Vec<u32>,
    nets: Vec<u32>,
}

impl Selected {
    pub(super) fn new(identities: usize) -> Self {
        Selected {
            idents: Bitset::new(identities),
            set_blocks: Vec::new(),
            nets: Vec::new(),
        }
    }
}

/// Named ports of one family, per family (IPv4, IPv6).
type FamilyNamed = [Vec<(Option<Protocol>, u32)>; 2];

/// A class by (direction, selecting policies, own-node variant, rules left out because
/// they test the local pod and fail).
type ClassKey = (usize, Vec<u32>, bool, Vec<u32>);

/// A pod's named container ports with one (protocol, number): their (name, protocol).
type NamedGroup = (Protocol, u16, Vec<(u32, Protocol)>);

/// Where the pods with one port list find their named ports and their rows.
#[derive(Clone, Copy)]
struct NamedAt {
    named_at: u32,
    named_len: u16,
    rows_at: u32,
    rows_len: u16,
    first: Option<(Protocol, u16, [u32; 2])>,
}

/// The indexes of the namespaces `sel` matches, ascending.
pub(super) fn namespace_indexes(cluster: &Cluster, sel: &Selector) -> Vec<u32> {
    cluster
        .namespaces()
        .enumerate()
        .filter(|(_, (_, ns))| sel.matches(&ns.labels))
        .map(|(i, _)| to_u32(i))
        .collect()
}

/// The ports of a NetworkPolicy rule as a port set (not yet finished): every port of every
/// protocol when none are written; named ports numbered by `name_id`.
fn network_ports(
    list: Option<&[crate::policy::PortRule]>,
    mut name_id: impl FnMut(&str) -> u32,
) -> PortSet {
    let mut ports = PortSet::default();
    match list {
        None => ports.all_protocols(),
        Some(list) => {
            for pr in list {
                match &pr.port {
                    PortSpec::All => ports.ranges.push((pr.protocol, 0, u16::MAX)),
                    PortSpec::Range { start, end } => {
                        ports.ranges.push((pr.protocol, *start, *end))
                    }
                    PortSpec::Named(name) => ports.named.push((Some(pr.protocol), name_id(name))),
                }
            }
        }
    }
    ports
}

/// What a rule's peer condition can tell apart: a pod identity, a node or an outside
/// address, each with the prefix-map value of its address in the flow's family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum AtomKind {
    Pod,
    Node,
    External,
}

/// The atoms of a build, with the lists to find them by identity, node and value.
pub(super) struct Atoms {
    kinds: Vec<AtomKind>,
    /// Per atom: its identity or node (0 for outside addresses) and its value.
    owners: Vec<u32>,
    values: Vec<u32>,
    by_identity: Vec<Vec<u32>>,
    by_node: Vec<Vec<u32>>,
    by_value: Vec<Vec<u32>>,
    ids: HashMap<(AtomKind, u32, u32), u32>,
}

impl Atoms {
    fn new(identities: usize, nodes: usize, values: usize) -> Self {
        Atoms {
            kinds: Vec::new(),
            owners: Vec::new(),
            values: Vec::new(),
            by_identity: vec![Vec::new(); identities],
            by_node: vec![Vec::new(); nodes],
            by_value: vec![Vec::new(); values],
            ids: HashMap::new(),
        }
    }

    /// The atom of `kind` for `owner` (identity, node, or 0 for outside addresses) and
    /// prefix-map value `value`.
    fn intern(&mut self, kind: AtomKind, owner: u32, value: u32) -> u32 {
        if let Some(id) = self.ids.get(&(kind, owner, value)) {
            return *id;
        }
        let id = to_u32(self.kinds.len());
        self.kinds.push(kind);
        self.owners.push(owner);
        self.values.push(value);
        self.ids.insert((kind, owner, value), id);
        let list = match kind {
            AtomKind::Pod => self.by_identity.get_mut(owner as usize),
            AtomKind::Node => self.by_node.get_mut(owner as usize),
            AtomKind::External => None,
        };
        if let Some(list) = list {
            list.push(id);
        }
        if let Some(list) = self.by_value.get_mut(value as usize) {
            list.push(id);
        }
        id
    }

    pub(super) fn len(&self) -> usize {
        self.kinds.len()
    }

    pub(super) fn kind(&self, atom: u32) -> Option<AtomKind> {
        self.kinds.get(atom as usize).copied()
    }

    pub(super) fn owner(&self, atom: u32) -> u32 {
        self.owners.get(atom as usize).copied().unwrap_or(0)
    }

    pub(super) fn value(&self, atom: u32) -> u32 {
        self.values.get(atom as usize).copied().unwrap_or(0)
    }

    fn of_identity(&self, identity: usize) -> &[u32] {
        self.by_identity.get(identity).map_or(&[], Vec::as_slice)
    }

    fn of_node(&self, node: usize) -> &[u32] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }

    fn of_value(&self, value: u32) -> &[u32] {
        self.by_value.get(value as usize).map_or(&[], Vec::as_slice)
    }
}

/// The selecting policies of a class, in evaluation order, read back along its parents.
fn policies_of(parents: &[(u32, u32)], mut class: u32) -> Vec<u32> {
    let mut out = Vec::new();
    while class != NOT_ISOLATED {
        let Some((parent, policy)) = parents.get(class as usize) else {
            break;
        };
        out.push(*policy);
        class = *parent;
    }
    out.reverse();
    out
}

/// Above this many bytes of rows, a direction's ClusterNetworkPolicy rules are run as
/// instruction groups instead of through a rule index.
const MAX_RULE_INDEX_BYTES: usize = 64 << 20;

/// Above this many bytes of value bitsets, entries search block sets instead.
const MAX_VALUE_BITS_BYTES: usize = 64 << 20;

/// For every instruction with ipBlocks, the prefix-map values whose addresses lie in one
/// of its blocks, so that deciding an address is one bit test per instruction.
fn value_bits(code: &mut [Instr], blocks: &BlockIndex) -> BitsetTable {
    let values = blocks.values();
    let with_blocks = code.iter().filter(|e| !e.peers.blocks.is_empty()).count();
    if with_blocks.saturating_mul(values.div_ceil(8)) > MAX_VALUE_BITS_BYTES {
        return BitsetTable::default();
    }
    let mut bits: Vec<Bitset> = Vec::with_capacity(with_blocks);
    for entry in code.iter_mut() {
        if entry.peers.blocks.is_empty() {
            continue;
        }
        let mut set = Bitset::new(values);
        for b in &entry.peers.blocks {
            for (lo, hi) in blocks.intervals(*b) {
                set.insert_range(*lo as usize, *hi as usize);
            }
        }
        entry.peers.value_bits = to_u32(bits.len());
        bits.push(set);
    }
    BitsetTable::new(bits, values)
}
