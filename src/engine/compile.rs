//! Building the engine: selectors resolved against the cluster, pods grouped into classes,
//! rules merged, ipBlocks lowered.
//!
//! Costs, for `P` pods, `N` namespaces and `R` rules: selecting pods goes through a
//! per-namespace label index (candidates from the most selective requirement, then a
//! direct check), so a policy costs what it selects, not what its namespace holds. Peer
//! pod sets are bitsets of `P` bits, interned so identical sets are stored once, and
//! memoised per (namespaces, selector). Classes are found by following, for each pod, one
//! transition per selecting policy, so memory stays `O(P + classes)` however many
//! policies select a pod.

use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use std::net::IpAddr;

use crate::cluster::{Cluster, PodId};
use crate::policy::{CidrBlock, Direction, Peer, Policy, PortSpec, Protocol, Rule};
use crate::profile::Profile;
use crate::selector::{Operator, Selector};

use super::bitset::Bitset;
use super::blocks::BlockIndex;
use super::{
    Addrs, Class, CompiledRule, Entry, Inner, NOT_ISOLATED, PeerSet, PodInfo, PortSet, dir_index,
};

/// A merged entry tests at most this many pod sets one by one; more are unioned into one.
const MAX_POD_SETS: usize = 4;

/// Label index of one namespace's pods.
#[derive(Default)]
struct NsIndex<'a> {
    pods: Vec<u32>,
    by_label: HashMap<(&'a str, &'a str), Vec<u32>>,
    by_key: HashMap<&'a str, Vec<u32>>,
}

struct PodSelection<'a> {
    cluster: &'a Cluster,
    namespaces: Vec<NsIndex<'a>>,
}

impl<'a> PodSelection<'a> {
    fn new(cluster: &'a Cluster) -> Self {
        let mut namespaces: Vec<NsIndex<'a>> = Vec::new();
        namespaces.resize_with(cluster.namespaces().len(), NsIndex::default);
        for (i, (_, p)) in cluster.pods().enumerate() {
            let Some(ns) = namespaces.get_mut(p.namespace.index()) else {
                continue;
            };
            let id = i as u32;
            ns.pods.push(id);
            for (k, v) in &p.labels {
                ns.by_label
                    .entry((k.as_str(), v.as_str()))
                    .or_default()
                    .push(id);
                ns.by_key.entry(k.as_str()).or_default().push(id);
            }
        }
        PodSelection {
            cluster,
            namespaces,
        }
    }

    /// Calls `f` with every pod of namespace `ns` that `sel` matches, in id order.
    fn select(&self, ns: usize, sel: &Selector, mut f: impl FnMut(u32)) {
        let Some(index) = self.namespaces.get(ns) else {
            return;
        };
        // Candidates: the smallest list some requirement restricts the pods to.
        let mut candidates: &[u32] = &index.pods;
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
                .cluster
                .pod_at(id as usize)
                .is_some_and(|p| sel.matches(&p.labels))
            {
                f(id);
            }
        }
    }
}

/// Interns bitsets so identical pod sets are stored once.
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
        let id = self.sets.len() as u32;
        self.index.insert(set.clone(), id);
        self.sets.push(set);
        id
    }

    fn get(&self, id: u32) -> Option<&Bitset> {
        self.sets.get(id as usize)
    }
}

struct Compiler<'a> {
    cluster: &'a Cluster,
    selection: PodSelection<'a>,
    arena: BitsetArena,
    /// Peer pod sets by (namespace ids, pod selector).
    peer_cache: HashMap<(Vec<u32>, &'a Selector), Option<u32>>,
    ns_selector_cache: HashMap<&'a Selector, Vec<u32>>,
    block_ids: HashMap<&'a CidrBlock, u32>,
    block_list: Vec<CidrBlock>,
    names: HashMap<String, u32>,
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
                    .map(|(i, _)| i as u32)
                    .collect()
            })
            .clone()
    }

    /// The interned pod set of `sel` inside the namespaces, `None` when empty.
    fn pod_set(&mut self, namespaces: Vec<u32>, sel: &'a Selector) -> Option<u32> {
        let key = (namespaces, sel);
        if let Some(id) = self.peer_cache.get(&key) {
            return *id;
        }
        let mut set = Bitset::new(self.cluster.pod_count());
        let mut any = false;
        for &ns in &key.0 {
            self.selection.select(ns as usize, sel, |id| {
                set.insert(id as usize);
                any = true;
            });
        }
        let id = any.then(|| self.arena.intern(set));
        self.peer_cache.insert(key, id);
        id
    }

    fn block_id(&mut self, block: &'a CidrBlock) -> u32 {
        if let Some(id) = self.block_ids.get(block) {
            return *id;
        }
        let id = self.block_list.len() as u32;
        self.block_ids.insert(block, id);
        self.block_list.push(block.clone());
        id
    }

    fn peers(&mut self, rule: &'a Rule, own_ns: Option<u32>) -> PeerSet {
        let mut out = PeerSet::default();
        let Some(peers) = &rule.peers else {
            out.all = true;
            return out;
        };
        for peer in peers {
            match peer {
                Peer::IpBlock(block) => {
                    let id = self.block_id(block);
                    if !out.blocks.contains(&id) {
                        out.blocks.push(id);
                    }
                }
                Peer::Pods { namespaces, pods } => {
                    let ns_list = match namespaces {
                        None => own_ns.into_iter().collect(),
                        Some(sel) => self.namespaces_matching(sel),
                    };
                    if let Some(id) = self.pod_set(ns_list, pods) {
                        if !out.pod_sets.contains(&id) {
                            out.pod_sets.push(id);
                        }
                    }
                }
            }
        }
        out.blocks.sort_unstable();
        self.limit_pod_sets(&mut out);
        out
    }

    /// Unions the pod sets of `peers` into one when there are too many to test one by one.
    fn limit_pod_sets(&mut self, peers: &mut PeerSet) {
        if peers.pod_sets.len() <= MAX_POD_SETS {
            return;
        }
        let mut union = Bitset::new(self.cluster.pod_count());
        for id in &peers.pod_sets {
            if let Some(s) = self.arena.get(*id) {
                union.union_with(s);
            }
        }
        peers.pod_sets.clear();
        peers.pod_sets.push(self.arena.intern(union));
    }

    fn ports(&mut self, rule: &Rule) -> PortSet {
        let mut out = PortSet::default();
        match &rule.ports {
            None => {
                for p in Protocol::ALL {
                    out.ranges.push((p, 0, u16::MAX));
                }
            }
            Some(ports) => {
                for pr in ports {
                    match &pr.port {
                        PortSpec::All => out.ranges.push((pr.protocol, 0, u16::MAX)),
                        PortSpec::Range { start, end } => {
                            out.ranges.push((pr.protocol, *start, *end))
                        }
                        PortSpec::Named(name) => {
                            let next = self.names.len() as u32;
                            let id = *self.names.entry(name.clone()).or_insert(next);
                            out.named.push((pr.protocol, id));
                        }
                    }
                }
            }
        }
        // Order does not change what matches; sorting lets equal sets merge.
        out.ranges.sort_unstable();
        out.ranges.dedup();
        out.named.sort_unstable();
        out.named.dedup();
        out
    }

    /// One class's rules, merged by port set.
    fn class(&mut self, policies: Vec<u32>, rules: &[[Vec<CompiledRule>; 2]], di: usize) -> Class {
        let mut entries: Vec<Entry> = Vec::new();
        let mut by_ports: HashMap<PortSet, usize> = HashMap::new();
        let mut seen_sets: Vec<HashSet<u32>> = Vec::new();
        let mut seen_blocks: Vec<HashSet<u32>> = Vec::new();
        for &p in &policies {
            let list = rules
                .get(p as usize)
                .and_then(|r| r.get(di))
                .map_or(&[][..], Vec::as_slice);
            for rule in list {
                let at = match by_ports.get(&rule.ports) {
                    Some(at) => *at,
                    None => {
                        by_ports.insert(rule.ports.clone(), entries.len());
                        entries.push(Entry {
                            ports: rule.ports.clone(),
                            peers: PeerSet::default(),
                        });
                        seen_sets.push(HashSet::new());
                        seen_blocks.push(HashSet::new());
                        entries.len() - 1
                    }
                };
                let (Some(e), Some(sets), Some(blocks)) = (
                    entries.get_mut(at),
                    seen_sets.get_mut(at),
                    seen_blocks.get_mut(at),
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
            }
        }
        for e in &mut entries {
            if e.peers.all {
                e.peers.pod_sets.clear();
                e.peers.blocks.clear();
            }
            e.peers.blocks.sort_unstable();
            self.limit_pod_sets(&mut e.peers);
        }
        Class { policies, entries }
    }
}

pub(super) fn compile(profile: Profile, cluster: &Cluster, policies: &[Policy]) -> Inner {
    let n_pods = cluster.pod_count();
    let mut c = Compiler {
        cluster,
        selection: PodSelection::new(cluster),
        arena: BitsetArena::default(),
        peer_cache: HashMap::new(),
        ns_selector_cache: HashMap::new(),
        block_ids: HashMap::new(),
        block_list: Vec::new(),
        names: HashMap::new(),
    };

    // Classes are found by transitions: a pod starts in class 0 (not isolated) and moves,
    // for each policy selecting it, to the class "previous policies + this one". A class
    // is stored as (parent class, last policy), so a chain of k policies costs k entries,
    // not k² policy ids.
    let mut class_parent: Vec<(u32, u32)> = vec![(NOT_ISOLATED, u32::MAX)];
    let mut transitions: HashMap<(usize, u32, u32), u32> = HashMap::new();
    let mut pod_class: [Vec<u32>; 2] = [vec![NOT_ISOLATED; n_pods], vec![NOT_ISOLATED; n_pods]];

    let mut rules: Vec<[Vec<CompiledRule>; 2]> = Vec::with_capacity(policies.len());
    for (pi, policy) in policies.iter().enumerate() {
        let pi = pi as u32;
        let ns_id = cluster.namespace_id(policy.namespace()).map(|n| n.index() as u32);
        if let Some(ns) = ns_id {
            let dirs: Vec<usize> = [Direction::Ingress, Direction::Egress]
                .into_iter()
                .filter(|d| policy.affects(*d))
                .map(dir_index)
                .collect();
            let selection = &c.selection;
            selection.select(ns as usize, policy.pod_selector(), |pod| {
                for &di in &dirs {
                    let Some(slot) = pod_class.get_mut(di).and_then(|v| v.get_mut(pod as usize))
                    else {
                        continue;
                    };
                    let from = *slot;
                    *slot = *transitions.entry((di, from, pi)).or_insert_with(|| {
                        class_parent.push((from, pi));
                        (class_parent.len() - 1) as u32
                    });
                }
            });
        }
        let mut compiled: [Vec<CompiledRule>; 2] = [Vec::new(), Vec::new()];
        for d in [Direction::Ingress, Direction::Egress] {
            for rule in policy.rules(d) {
                let peers = c.peers(rule, ns_id);
                let ports = c.ports(rule);
                if let Some(slot) = compiled.get_mut(dir_index(d)) {
                    slot.push(CompiledRule { peers, ports });
                }
            }
        }
        rules.push(compiled);
    }
    drop(transitions);
    let blocks = BlockIndex::build(&c.block_list);

    // Compile only the classes some pod ends in; renumber them densely.
    let mut classes: Vec<Class> = vec![Class::default()];
    let mut final_id: HashMap<u32, u32> = HashMap::new();
    for (di, per_pod) in pod_class.iter_mut().enumerate() {
        for slot in per_pod.iter_mut() {
            if *slot == NOT_ISOLATED {
                continue;
            }
            let old = *slot;
            *slot = match final_id.get(&old) {
                Some(id) => *id,
                None => {
                    let list = policies_of(&class_parent, old);
                    let id = classes.len() as u32;
                    classes.push(c.class(list, &rules, di));
                    final_id.insert(old, id);
                    id
                }
            };
        }
    }
    drop(class_parent);
    let value_bits = value_bits(&mut classes, &blocks);
    let addrs_of = |ips: &[IpAddr]| {
        let v4 = ips.iter().find(|ip| ip.is_ipv4()).copied();
        let v6 = ips.iter().find(|ip| ip.is_ipv6()).copied();
        Addrs {
            first_v6: ips.first().map(IpAddr::is_ipv6),
            value_v4: v4.map_or(0, |a| blocks.lookup(a)),
            value_v6: v6.map_or(0, |a| blocks.lookup(a)),
        }
    };
    let [ingress_classes, egress_classes] = pod_class;
    let pods: Vec<PodInfo> = cluster
        .pods()
        .enumerate()
        .map(|(i, (_, p))| PodInfo {
            addrs: addrs_of(&p.ips),
            node: p.node.map(|n| n.index() as u32),
            ingress_class: ingress_classes.get(i).copied().unwrap_or(NOT_ISOLATED),
            egress_class: egress_classes.get(i).copied().unwrap_or(NOT_ISOLATED),
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
        })
        .collect();
    let nodes: Vec<Addrs> = cluster.nodes().map(|(_, n)| addrs_of(&n.ips)).collect();

    Inner {
        profile,
        cluster: cluster.clone(),
        policy_names: policies
            .iter()
            .map(|p| (p.namespace().to_owned(), p.name().to_owned()))
            .collect(),
        rules,
        pods,
        nodes,
        classes,
        bitsets: c.arena.sets,
        blocks,
        value_bits,
    }
}

/// The selecting policies of a class, in policy order, read back along its parents.
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

/// Above this many bytes of value bitsets, entries search block sets instead.
const MAX_VALUE_BITS_BYTES: usize = 64 << 20;

/// For every merged entry with ipBlocks, the prefix-map values whose addresses lie in one
/// of its blocks, so that deciding an address is one bit test per entry.
fn value_bits(classes: &mut [Class], blocks: &BlockIndex) -> Vec<Bitset> {
    let values = blocks.values();
    let with_blocks = classes
        .iter()
        .flat_map(|c| &c.entries)
        .filter(|e| !e.peers.blocks.is_empty())
        .count();
    if with_blocks.saturating_mul(values.div_ceil(8)) > MAX_VALUE_BITS_BYTES {
        return Vec::new();
    }
    let mut bits: Vec<Bitset> = Vec::with_capacity(with_blocks);
    for entry in classes.iter_mut().flat_map(|c| c.entries.iter_mut()) {
        if entry.peers.blocks.is_empty() {
            continue;
        }
        let mut set = Bitset::new(values);
        for b in &entry.peers.blocks {
            for (lo, hi) in blocks.intervals(*b) {
                set.insert_range(*lo as usize, *hi as usize);
            }
        }
        entry.peers.value_bits = bits.len() as u32;
        bits.push(set);
    }
    bits
}
