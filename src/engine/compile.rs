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
use std::net::IpAddr;

use crate::cluster::Cluster;
use crate::explain::TierRef;
use crate::model::Labels;
use crate::policy::{
    Action, CidrBlock, ClusterPeer, ClusterPort, ClusterTier, Direction, DomainPattern, Peer,
    PolicyKind, PolicySetRef, PortSpec, Protocol, Subject,
};
use crate::profile::Profile;
use crate::selector::{Operator, Selector};

use super::bitset::{Bitset, BitsetTable};
use super::blocks::BlockIndex;
use super::rule_index::{RuleFacts, RuleIndex};
use super::{
    Addrs, Class, ClassHead, CompiledRule, IdentityInfo, Inner, Instr, NO_EXTRA, NOT_ISOLATED,
    NetworkProg, OpCode, PeerExtra, PeerSet, PodInfo, PolicyMeta, PortSet, TierProg, dir_index,
};

/// A merged entry tests at most this many pod sets one by one; more are unioned into one.
const MAX_POD_SETS: usize = 4;

/// Label index of one namespace's identities.
#[derive(Default)]
struct NsIndex<'a> {
    identities: Vec<u32>,
    by_label: HashMap<(&'a str, &'a str), Vec<u32>>,
    by_key: HashMap<&'a str, Vec<u32>>,
}

/// Pods grouped by namespace and labels, with a label index per namespace.
struct Identities<'a> {
    /// Per identity: namespace index and labels.
    list: Vec<(usize, &'a Labels)>,
    /// Per pod: its identity.
    of_pod: Vec<u32>,
    namespaces: Vec<NsIndex<'a>>,
}

impl<'a> Identities<'a> {
    fn new(cluster: &'a Cluster) -> Self {
        let mut list: Vec<(usize, &'a Labels)> = Vec::new();
        let mut index: HashMap<(usize, &'a Labels), u32> = HashMap::new();
        let mut of_pod = Vec::with_capacity(cluster.pod_count());
        let mut namespaces: Vec<NsIndex<'a>> = Vec::new();
        namespaces.resize_with(cluster.namespace_count(), NsIndex::default);
        for (_, p) in cluster.pods() {
            let key = (p.namespace.index(), &p.labels);
            let id = match index.get(&key) {
                Some(id) => *id,
                None => {
                    let id = to_u32(list.len());
                    index.insert(key, id);
                    list.push(key);
                    if let Some(ns) = namespaces.get_mut(key.0) {
                        ns.identities.push(id);
                        for (k, v) in &p.labels {
                            ns.by_label
                                .entry((k.as_str(), v.as_str()))
                                .or_default()
                                .push(id);
                            ns.by_key.entry(k.as_str()).or_default().push(id);
                        }
                    }
                    id
                }
            };
            of_pod.push(id);
        }
        Identities {
            list,
            of_pod,
            namespaces,
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    /// Calls `f` with every identity of namespace `ns` that `sel` matches, in id order.
    fn select(&self, ns: usize, sel: &Selector, mut f: impl FnMut(u32)) {
        let Some(index) = self.namespaces.get(ns) else {
            return;
        };
        // Candidates: the smallest list some requirement restricts the identities to.
        let mut candidates: &[u32] = &index.identities;
        for req in sel.requirements() {
            let list: Option<&[u32]> = match &req.op {
                Operator::In(values) if values.len() == 1 => Some(
                    values
                        .first()
                        .and_then(|v| index.by_label.get(&(req.key.as_str(), v.as_str())))
                        .map_or(&[][..], Vec::as_slice),
                ),
                Operator::In(_) | Operator::Exists => Some(
                    index
                        .by_key
                        .get(req.key.as_str())
                        .map_or(&[][..], Vec::as_slice),
                ),
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
                .list
                .get(id as usize)
                .is_some_and(|(_, labels)| sel.matches(labels))
            {
                f(id);
            }
        }
    }
}

/// Interns bitsets so identical sets are stored once.
#[derive(Default)]
struct BitsetArena {
    sets: Vec<Bitset>,
    index: HashMap<Bitset, u32>,
}

impl BitsetArena {
    fn intern(&mut self, set: Bitset) -> u32 {
        if let Some(id) = self.index.get(&set) {
            return *id;
        }
        let id = to_u32(self.sets.len());
        self.index.insert(set.clone(), id);
        self.sets.push(set);
        id
    }

    fn get(&self, id: u32) -> Option<&Bitset> {
        self.sets.get(id as usize)
    }
}

/// Positions in the engine's tables never exceed `u32::MAX`: they number pods, nodes,
/// namespaces, identities, policies or rules, and the cluster refuses more than `u32::MAX`
/// of any; a policy set that large would not fit in memory.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A policy of the set, in evaluation order, with what the compiler needs of it.
#[derive(Clone, Copy)]
enum Source<'a> {
    Network(&'a crate::policy::Policy),
    Cluster(&'a crate::policy::ClusterPolicy),
}

struct Compiler<'a> {
    cluster: &'a Cluster,
    identities: Identities<'a>,
    pod_sets: BitsetArena,
    node_sets: BitsetArena,
    /// Identity sets by (namespace indexes, pod selector).
    peer_cache: HashMap<(Vec<u32>, &'a Selector), Option<u32>>,
    ns_selector_cache: HashMap<&'a Selector, Vec<u32>>,
    block_ids: HashMap<CidrBlock, u32>,
    block_list: Vec<CidrBlock>,
    domain_ids: HashMap<&'a [DomainPattern], u32>,
    domains: Vec<Vec<DomainPattern>>,
    extra_ids: HashMap<PeerExtra, u32>,
    extras: Vec<PeerExtra>,
    names: HashMap<String, u32>,
    /// Per policy (gid) and direction: the number of its first ClusterNetworkPolicy rule
    /// in the direction's rule index, when the programs use one.
    rule_start: Vec<[Option<u32>; 2]>,
    /// Per direction: class masks of the rule index, interned.
    masks: [BitsetArena; 2],
    rule_total: [usize; 2],
}

impl<'a> Compiler<'a> {
    fn namespaces_matching(&mut self, sel: &'a Selector) -> Vec<u32> {
        let cluster = self.cluster;
        self.ns_selector_cache
            .entry(sel)
            .or_insert_with(|| {
                cluster
                    .namespaces()
                    .enumerate()
                    .filter(|(_, (_, ns))| sel.matches(&ns.labels))
                    .map(|(i, _)| to_u32(i))
                    .collect()
            })
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
        let next = to_u32(self.names.len());
        *self.names.entry(name.to_owned()).or_insert(next)
    }

    /// Which identities a policy applies to for a direction (`None`: it has no rules for
    /// that direction, or selects nothing).
    fn subject(&mut self, source: Source<'a>, direction: Direction) -> Option<Bitset> {
        let set = match source {
            Source::Network(p) => {
                if !p.affects(direction) {
                    return None;
                }
                let ns = self.cluster.namespace_id(p.namespace())?;
                self.identity_set(&[to_u32(ns.index())], p.pod_selector())
            }
            Source::Cluster(p) => {
                if !p.affects(direction) {
                    return None;
                }
                match p.subject() {
                    Subject::Namespaces(sel) => {
                        let ns = self.namespaces_matching(sel);
                        self.identity_set(&ns, &Selector::everything())
                    }
                    Subject::Pods { namespaces, pods } => {
                        let ns = self.namespaces_matching(namespaces);
                        self.identity_set(&ns, pods)
                    }
                }
            }
        };
        (!set.is_empty()).then_some(set)
    }

    fn network_rule(&mut self, rule: &'a crate::policy::Rule, own_ns: Option<u32>) -> CompiledRule {
        let mut peers = PeerSet::default();
        match &rule.peers {
            None => peers.all = true,
            Some(list) => {
                for peer in list {
                    match peer {
                        Peer::IpBlock(block) => {
                            let id = self.block_id(block.clone());
                            push_unique(&mut peers.blocks, id);
                        }
                        Peer::Pods { namespaces, pods } => {
                            let ns = match namespaces {
                                None => own_ns.into_iter().collect(),
                                Some(sel) => self.namespaces_matching(sel),
                            };
                            if let Some(id) = self.pod_set(ns, pods) {
                                push_unique(&mut peers.pod_sets, id);
                            }
                        }
                    }
                }
            }
        }
        let mut ports = PortSet::default();
        match &rule.ports {
            None => ports.all_protocols(),
            Some(list) => {
                for pr in list {
                    match &pr.port {
                        PortSpec::All => ports.ranges.push((pr.protocol, 0, u16::MAX)),
                        PortSpec::Range { start, end } => {
                            ports.ranges.push((pr.protocol, *start, *end))
                        }
                        PortSpec::Named(name) => {
                            let id = self.name_id(name);
                            ports.named.push((Some(pr.protocol), id));
                        }
                    }
                }
            }
        }
        peers.finish(self);
        ports.finish();
        CompiledRule {
            action: Action::Allow,
            peers,
            ports,
        }
    }

    fn cluster_rule(&mut self, rule: &'a crate::policy::ClusterRule) -> CompiledRule {
        let mut peers = PeerSet {
            any_address: true,
            ..PeerSet::default()
        };
        let mut extra = PeerExtra::default();
        for peer in rule.peers() {
            match peer {
                ClusterPeer::Namespaces(sel) => {
                    let ns = self.namespaces_matching(sel);
                    if let Some(id) = self.pod_set(ns, EVERYTHING.get_or_init(Selector::everything))
                    {
                        push_unique(&mut peers.pod_sets, id);
                    }
                }
                ClusterPeer::Pods { namespaces, pods } => {
                    let ns = self.namespaces_matching(namespaces);
                    if let Some(id) = self.pod_set(ns, pods) {
                        push_unique(&mut peers.pod_sets, id);
                    }
                }
                ClusterPeer::Networks(nets) => {
                    for net in nets {
                        let id = self.block_id(CidrBlock::new(*net, Vec::new()));
                        push_unique(&mut peers.blocks, id);
                    }
                }
                ClusterPeer::Nodes(sel) => {
                    if let Some(id) = self.node_set(sel) {
                        push_unique_vec(&mut extra.node_sets, id);
                    }
                }
                ClusterPeer::DomainNames(patterns) => {
                    let id = self.domain_id(patterns);
                    push_unique_vec(&mut extra.domains, id);
                }
            }
        }
        peers.extra = self.extra_id(extra);
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
                            let id = self.name_id(name);
                            ports.named.push((None, id));
                        }
                    }
                }
            }
        }
        peers.finish(self);
        ports.finish();
        CompiledRule {
            action: rule.action(),
            peers,
            ports,
        }
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
    /// A ClusterNetworkPolicy tier is read through the direction's rule index (the mask
    /// of its policies' rules) when there is one, else compiled into instructions
    /// appended to `code`: its rules in walk order, consecutive rules with the same
    /// action merged by port set (their order does not matter among themselves), ending
    /// in [`OpCode::End`] (no decision in this tier), `Pass` ending the tier too. The
    /// NetworkPolicy tier is compiled the same way (its rules are all `Allow`) and ends in
    /// its default deny; with `own_node` (traffic between a pod and its own node, or
    /// itself through a Service) it allows whatever its rules say.
    fn class(
        &mut self,
        code: &mut Vec<Instr>,
        policies: Vec<u32>,
        metas: &[PolicyMeta],
        rules: &[[Vec<CompiledRule>; 2]],
        di: usize,
        own_node: bool,
    ) -> Class {
        let mut head = ClassHead::default();
        for tier in [TierRef::Admin, TierRef::NetworkPolicy, TierRef::Baseline] {
            let in_tier: Vec<u32> = policies
                .iter()
                .copied()
                .filter(|p| metas.get(*p as usize).is_some_and(|m| m.tier == tier))
                .collect();
            if in_tier.is_empty() {
                continue;
            }
            if tier == TierRef::NetworkPolicy && own_node {
                head.network = NetworkProg::Allow;
                break;
            }
            if tier != TierRef::NetworkPolicy {
                if let Some(mask) = self.rules_mask(&in_tier, rules, di) {
                    let prog = TierProg::Rules(mask);
                    if tier == TierRef::Admin {
                        head.admin = prog;
                    } else {
                        head.baseline = prog;
                    }
                    continue;
                }
            }
            let start = to_u32(code.len());
            let mut group: Vec<&CompiledRule> = Vec::new();
            let mut group_action = Action::Allow;
            for p in &in_tier {
                let list = rules
                    .get(*p as usize)
                    .and_then(|r| r.get(di))
                    .map_or(&[][..], Vec::as_slice);
                for rule in list {
                    if rule.action == Action::Log {
                        continue; // matches and goes on: changes no verdict
                    }
                    if !group.is_empty() && rule.action != group_action {
                        self.emit(code, group_action, &group);
                        group.clear();
                    }
                    group_action = rule.action;
                    group.push(rule);
                }
            }
            if !group.is_empty() {
                self.emit(code, group_action, &group);
            }
            match tier {
                TierRef::NetworkPolicy => {
                    // Isolation: a NetworkPolicy selecting the pod denies what no rule
                    // allows, and nothing after this tier is read.
                    code.push(Instr::terminator(OpCode::Deny));
                    head.network = NetworkProg::Code(start);
                    break;
                }
                TierRef::Admin => {
                    code.push(Instr::terminator(OpCode::End));
                    head.admin = TierProg::Code(start);
                }
                _ => {
                    code.push(Instr::terminator(OpCode::End));
                    head.baseline = TierProg::Code(start);
                }
            }
        }
        Class { policies, head }
    }

    /// The mask of a ClusterNetworkPolicy tier of a class in the direction's rule index,
    /// when the direction has one: the rules of the tier's policies.
    fn rules_mask(
        &mut self,
        in_tier: &[u32],
        rules: &[[Vec<CompiledRule>; 2]],
        di: usize,
    ) -> Option<u32> {
        let total = *self.rule_total.get(di)?;
        let mut mask = Bitset::new(total);
        for p in in_tier {
            let start = self
                .rule_start
                .get(*p as usize)?
                .get(di)
                .copied()
                .flatten()?;
            let count = rules
                .get(*p as usize)
                .and_then(|r| r.get(di))
                .map_or(0, Vec::len);
            for r in 0..count {
                mask.insert(start as usize + r);
            }
        }
        Some(self.masks.get_mut(di)?.intern(mask))
    }

    /// Numbers the ClusterNetworkPolicy rules of each direction in evaluation order and
    /// gathers what the rule index is built from, for the directions where the index
    /// fits its memory budget ([`MAX_RULE_INDEX_BYTES`]).
    fn number_rules(
        &mut self,
        metas: &[PolicyMeta],
        rules: &[[Vec<CompiledRule>; 2]],
        blocks: &BlockIndex,
    ) -> [(Vec<RuleFacts>, u32); 2] {
        self.rule_start = vec![[None, None]; metas.len()];
        let identities = self.identities.len();
        let nodes = self.cluster.node_count();
        [0usize, 1].map(|di| {
            let cnp = |m: &PolicyMeta| m.kind == PolicyKind::ClusterNetworkPolicy;
            let total: usize = metas
                .iter()
                .zip(rules)
                .filter(|(m, _)| cnp(m))
                .map(|(_, r)| r.get(di).map_or(0, Vec::len))
                .sum();
            let any_networks = metas
                .iter()
                .zip(rules)
                .filter(|(m, _)| cnp(m))
                .flat_map(|(_, r)| r.get(di).into_iter().flatten())
                .any(|r| !r.peers.blocks.is_empty());
            let rows = identities + nodes + if any_networks { blocks.values() } else { 0 };
            let bytes = rows.saturating_mul(total.div_ceil(64) * 8);
            if total == 0 || bytes > MAX_RULE_INDEX_BYTES {
                return (Vec::new(), 0);
            }
            let mut facts = Vec::with_capacity(total);
            let mut admin_end = 0u32;
            for (gid, (meta, per_dir)) in metas.iter().zip(rules).enumerate() {
                if !cnp(meta) {
                    continue;
                }
                if let Some(slot) = self.rule_start.get_mut(gid).and_then(|s| s.get_mut(di)) {
                    *slot = Some(to_u32(facts.len()));
                }
                for rule in per_dir.get(di).into_iter().flatten() {
                    facts.push(self.facts(rule, blocks));
                }
                if meta.tier == TierRef::Admin {
                    admin_end = to_u32(facts.len());
                }
            }
            if let Some(t) = self.rule_total.get_mut(di) {
                *t = facts.len();
            }
            (facts, admin_end)
        })
    }

    /// What the rule index needs of one compiled ClusterNetworkPolicy rule.
    fn facts(&self, rule: &CompiledRule, blocks: &BlockIndex) -> RuleFacts {
        let identities = (!rule.peers.pod_sets.is_empty()).then(|| {
            let mut set = Bitset::new(self.identities.len());
            for id in &rule.peers.pod_sets {
                if let Some(s) = self.pod_sets.get(*id) {
                    set.union_with(s);
                }
            }
            set
        });
        let extra = self.extras.get(rule.peers.extra as usize);
        let nodes = extra.filter(|e| !e.node_sets.is_empty()).map(|e| {
            let mut set = Bitset::new(self.cluster.node_count());
            for id in &e.node_sets {
                if let Some(s) = self.node_sets.get(*id) {
                    set.union_with(s);
                }
            }
            set
        });
        let values = (!rule.peers.blocks.is_empty()).then(|| {
            let mut set = Bitset::new(blocks.values());
            for b in &rule.peers.blocks {
                for (lo, hi) in blocks.intervals(*b) {
                    set.insert_range(*lo as usize, *hi as usize);
                }
            }
            set
        });
        RuleFacts {
            action: rule.action,
            identities,
            nodes,
            values,
            domains: extra.map(|e| e.domains.clone()).unwrap_or_default(),
            ranges: Some(rule.ports.ranges.to_vec()),
            named: rule.ports.named.to_vec(),
        }
    }

    /// Appends one group of rules with the same action, merged by port set.
    fn emit(&mut self, code: &mut Vec<Instr>, action: Action, group: &[&CompiledRule]) {
        let start = code.len();
        let mut by_key: HashMap<(PortSet, bool), usize> = HashMap::new();
        let mut seen: Vec<[HashSet<u32>; 2]> = Vec::new();
        let mut extras: Vec<PeerExtra> = Vec::new();
        for rule in group {
            let key = (rule.ports.clone(), rule.peers.any_address);
            let at = match by_key.get(&key) {
                Some(at) => *at,
                None => {
                    by_key.insert(key, code.len());
                    code.push(Instr {
                        op: OpCode::Match,
                        action,
                        ports: rule.ports.clone(),
                        peers: PeerSet {
                            any_address: rule.peers.any_address,
                            ..PeerSet::default()
                        },
                    });
                    seen.push(Default::default());
                    extras.push(PeerExtra::default());
                    code.len() - 1
                }
            };
            let (Some(e), Some([sets, blocks]), Some(merged)) = (
                code.get_mut(at),
                seen.get_mut(at - start),
                extras.get_mut(at - start),
            ) else {
                continue;
            };
            e.peers.all |= rule.peers.all;
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
            if let Some(extra) = self.extras.get(rule.peers.extra as usize) {
                for n in &extra.node_sets {
                    push_unique_vec(&mut merged.node_sets, *n);
                }
                for d in &extra.domains {
                    push_unique_vec(&mut merged.domains, *d);
                }
            }
        }
        for (e, extra) in code.iter_mut().skip(start).zip(extras) {
            e.peers.extra = self.extra_id(extra);
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
            self.limit_pod_sets(&mut e.peers);
        }
    }
}

static EVERYTHING: std::sync::OnceLock<Selector> = std::sync::OnceLock::new();

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
    fn all_protocols(&mut self) {
        for p in Protocol::ALL {
            self.ranges.push((p, 0, u16::MAX));
        }
    }

    /// Order does not change what matches; sorting lets equal sets merge.
    fn finish(&mut self) {
        self.ranges.sort_unstable();
        self.ranges.dedup();
        self.named.sort_unstable();
        self.named.dedup();
    }
}

/// The policies of the set in evaluation order: Admin ClusterNetworkPolicies by
/// (priority, name, position), NetworkPolicies by position, Baseline likewise. Policies
/// of kinds the profile does not enforce are returned apart.
/// Policies in evaluation order, each with its metadata.
type Ordered<'a> = Vec<(PolicyMeta, Source<'a>)>;

fn ordered<'a>(set: PolicySetRef<'a>, profile: &Profile) -> (Ordered<'a>, Ordered<'a>) {
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
        list.into_iter()
            .map(|(i, p)| {
                (
                    PolicyMeta {
                        kind: PolicyKind::ClusterNetworkPolicy,
                        index: i,
                        namespace: None,
                        name: p.name().to_owned(),
                        tier: match tier {
                            ClusterTier::Admin => TierRef::Admin,
                            ClusterTier::Baseline => TierRef::Baseline,
                        },
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
                    namespace: Some(p.namespace().to_owned()),
                    name: p.name().to_owned(),
                    tier: TierRef::NetworkPolicy,
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
    all.partition(|(meta, _)| match meta.kind {
        PolicyKind::NetworkPolicy => profile.enforces_network_policy(),
        PolicyKind::ClusterNetworkPolicy => profile.enforces_cluster_network_policy(),
        // Calico's kinds are not compiled here yet.
        _ => true,
    })
}

pub(super) fn compile(profile: Profile, cluster: &Cluster, set: PolicySetRef<'_>) -> Inner {
    let (enforced, unenforced) = ordered(set, &profile);
    let mut c = Compiler {
        cluster,
        identities: Identities::new(cluster),
        pod_sets: BitsetArena::default(),
        node_sets: BitsetArena::default(),
        peer_cache: HashMap::new(),
        ns_selector_cache: HashMap::new(),
        block_ids: HashMap::new(),
        block_list: Vec::new(),
        domain_ids: HashMap::new(),
        domains: Vec::new(),
        extra_ids: HashMap::new(),
        extras: Vec::new(),
        rule_start: Vec::new(),
        masks: [BitsetArena::default(), BitsetArena::default()],
        rule_total: [0, 0],
        names: HashMap::new(),
    };
    let n_identities = c.identities.len();

    // Classes are found by transitions: an identity starts in class 0 (no policy) and
    // moves, for each policy selecting it (in evaluation order), to the class "previous
    // policies + this one". A class is stored as (parent class, last policy), so a chain
    // of k policies costs k entries, not k² policy ids.
    let mut class_parent: Vec<(u32, u32)> = vec![(NOT_ISOLATED, u32::MAX)];
    let mut transitions: HashMap<(usize, u32, u32), u32> = HashMap::new();
    let mut identity_class: [Vec<u32>; 2] = [
        vec![NOT_ISOLATED; n_identities],
        vec![NOT_ISOLATED; n_identities],
    ];

    let mut metas: Vec<PolicyMeta> = Vec::with_capacity(enforced.len());
    let mut rules: Vec<[Vec<CompiledRule>; 2]> = Vec::with_capacity(enforced.len());
    for (gid, (meta, source)) in enforced.iter().enumerate() {
        let gid = to_u32(gid);
        for d in Direction::BOTH {
            let di = dir_index(d);
            let Some(subject) = c.subject(*source, d) else {
                continue;
            };
            let Some(slots) = identity_class.get_mut(di) else {
                continue;
            };
            for id in subject.iter() {
                let Some(slot) = slots.get_mut(id) else {
                    continue;
                };
                let from = *slot;
                *slot = *transitions.entry((di, from, gid)).or_insert_with(|| {
                    class_parent.push((from, gid));
                    to_u32(class_parent.len() - 1)
                });
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
                    for rule in p.rules(d) {
                        slot.push(c.network_rule(rule, own_ns));
                    }
                }
                Source::Cluster(p) => {
                    for rule in p.rules(d) {
                        slot.push(c.cluster_rule(rule));
                    }
                }
            }
        }
        metas.push(meta.clone());
        rules.push(compiled);
    }
    drop(transitions);

    // Policies of kinds the profile does not enforce: only which identities they would
    // select, for explanations.
    let mut ignored = Vec::with_capacity(unenforced.len());
    for (meta, source) in &unenforced {
        let subjects = Direction::BOTH.map(|d| c.subject(*source, d));
        ignored.push((meta.clone(), subjects));
    }

    let blocks = BlockIndex::build(&c.block_list);
    let facts = c.number_rules(&metas, &rules, &blocks);

    // Compile only the classes some identity ends in, and their variants for traffic
    // between a pod and its own node (where NetworkPolicy allows whatever its rules say);
    // renumber densely.
    let mut code: Vec<Instr> = Vec::new();
    let mut classes: Vec<Class> = vec![Class::default()];
    let mut by_list: HashMap<(usize, Vec<u32>, bool), u32> = HashMap::new();
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
                        let key = (di, list.clone(), own_node);
                        if let Some(id) = by_list.get(&key) {
                            return *id;
                        }
                        let id = to_u32(classes.len());
                        by_list.insert(key, id);
                        classes.push(c.class(
                            &mut code,
                            list.clone(),
                            &metas,
                            &rules,
                            di,
                            own_node,
                        ));
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
    drop(class_parent);
    let value_bits = value_bits(&mut code, &blocks);
    let [(ingress_facts, ingress_admin), (egress_facts, egress_admin)] = facts;
    let [ingress_masks, egress_masks] = std::mem::take(&mut c.masks);
    let index = |facts: Vec<RuleFacts>, admin_end: u32, masks: BitsetArena| {
        RuleIndex::build(
            facts,
            admin_end,
            n_identities,
            cluster.node_count(),
            blocks.values(),
            masks.sets,
        )
    };
    let rule_index = [
        index(ingress_facts, ingress_admin, ingress_masks),
        index(egress_facts, egress_admin, egress_masks),
    ];
    let addrs_of = |ips: &[IpAddr]| {
        let v4 = ips.iter().find(|ip| ip.is_ipv4()).copied();
        let v6 = ips.iter().find(|ip| ip.is_ipv6()).copied();
        Addrs {
            first_v6: ips.first().map(IpAddr::is_ipv6),
            value_v4: v4.map_or(0, |a| blocks.lookup(a)),
            value_v6: v6.map_or(0, |a| blocks.lookup(a)),
        }
    };
    let pods: Vec<PodInfo> = cluster
        .pods()
        .enumerate()
        .map(|(i, (_, p))| {
            let identity = c.identities.of_pod.get(i).copied().unwrap_or(0);
            let info = identities
                .get(identity as usize)
                .copied()
                .unwrap_or_default();
            PodInfo {
                identity,
                class: info.class,
                addrs: addrs_of(&p.ips),
                node: p.node.map(|n| to_u32(n.index())),
                named: p
                    .ports
                    .iter()
                    .filter_map(|cp| {
                        cp.name
                            .as_deref()
                            .and_then(|n| c.names.get(n))
                            .map(|id| (*id, cp.protocol, cp.port))
                    })
                    .collect(),
            }
        })
        .collect();
    let nodes: Vec<Addrs> = cluster.nodes().map(|(_, n)| addrs_of(&n.ips)).collect();

    Inner {
        lineage: cluster.lineage(),
        profile,
        cluster: cluster.clone(),
        policies: metas,
        rules,
        ignored,
        pods,
        nodes,
        identities,
        heads: classes.iter().map(|c| c.head).collect(),
        classes,
        code,
        rule_index,
        pod_sets: BitsetTable::new(c.pod_sets.sets, n_identities),
        node_sets: BitsetTable::new(c.node_sets.sets, cluster.node_count()),
        domains: c.domains,
        extras: c.extras,
        blocks,
        value_bits,
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
