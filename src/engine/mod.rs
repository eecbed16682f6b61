//! The compiled decision engine.
//!
//! [`Engine::build`] does the work once: it resolves every selector against the cluster,
//! groups pods that the same policies select into classes, merges each class's rules by
//! port set, lowers every `ipBlock` into one longest-prefix-match map, and looks up the
//! blocks that contain each pod's and node's address. [`Engine::decide`] then answers a
//! flow with a few array reads, bit tests and at most one prefix lookup, and allocates
//! nothing. [`Engine::explain`] gives the same [`Explanation`] as the
//! [reference evaluator](crate::reference::Reference).
//!
//! The engine is immutable, `Send + Sync`, and cheap to clone (one reference count).
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::engine::Engine;
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Policy, Protocol};
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.244.1.5".parse().unwrap()))
//!     .pod(PodSpec::new("shop", "api").label("app", "api").ip("10.244.1.6".parse().unwrap()))
//!     .build()?;
//! let written = NetworkPolicy::from_json(r#"{
//!   "metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
//!            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
//!                         "ports": [{"port": 5432}]}]}
//! }"#).unwrap();
//! let engine = Engine::build(&cluster, &[Policy::new(&written).unwrap()]);
//! let api = Endpoint::Pod(cluster.pod_id("shop", "api").unwrap());
//! let db = Endpoint::Pod(cluster.pod_id("shop", "db").unwrap());
//! assert!(engine.decide(Flow::new(api, db, 5432, Protocol::Tcp)).is_allowed());
//! assert!(!engine.decide(Flow::new(api, db, 5433, Protocol::Tcp)).is_allowed());
//! let why = engine.explain(Flow::new(api, db, 5432, Protocol::Tcp));
//! assert_eq!(why.ingress.allowed_by[0].to_string(), "shop/db spec.ingress[0]");
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

mod bitset;
mod blocks;
mod matrix;

pub use matrix::Matrix;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::explain::{Explanation, PolicyRef, RuleRef, SideExplanation, Special, Verdict};
use crate::model::Labels;
use crate::policy::{CidrBlock, Direction, Peer, Policy, PortSpec, Protocol, Rule};
use crate::profile::Profile;
use crate::selector::{Operator, Selector};

use bitset::Bitset;
use blocks::BlockIndex;

/// Builds an [`Engine`] with options.
///
/// ```
/// use netpol::engine::Engine;
/// use netpol::profile::Profile;
/// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
/// let engine = Engine::builder().profile(Profile::conformance()).build(&cluster, &[]);
/// assert_eq!(engine.profile().name, "conformance");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EngineBuilder {
    profile: Profile,
}

impl EngineBuilder {
    /// Chooses the plugin profile (the default is [`Profile::conformance`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Compiles `policies` (already validated) against `cluster`.
    pub fn build(self, cluster: &Cluster, policies: &[Policy]) -> Engine {
        Engine {
            inner: Arc::new(compile(self.profile, cluster, policies)),
        }
    }
}

/// The compiled decision function. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Which ports of which protocols a rule (or a merged group of rules) allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct PortSet {
    /// Numeric ranges, inclusive.
    ranges: SmallVec<[(Protocol, u16, u16); 2]>,
    /// Named ports, by interned name, resolved against the destination pod.
    named: SmallVec<[(Protocol, u32); 1]>,
}

/// Which peers a rule (or a merged group of rules) allows.
#[derive(Debug, Clone, Default)]
struct PeerSet {
    all: bool,
    /// Pod bitsets (ids into `Inner::bitsets`), any of which may hold the peer.
    pod_sets: SmallVec<[u32; 4]>,
    /// Sorted ipBlock ids.
    blocks: SmallVec<[u32; 4]>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    peers: PeerSet,
    ports: PortSet,
}

#[derive(Debug, Clone)]
struct Entry {
    ports: PortSet,
    peers: PeerSet,
}

/// Pods selected for one direction by exactly the same policies.
#[derive(Debug, Clone, Default)]
struct Class {
    /// Selecting policies, in policy order; empty = not isolated.
    policies: Vec<u32>,
    /// This class's rules merged by port set.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Addrs {
    /// Family of the first address, if any.
    first_v6: Option<bool>,
    /// Block-set ids of the first IPv4 / IPv6 address (0 when none).
    blocks_v4: u32,
    blocks_v6: u32,
}

#[derive(Debug, Clone)]
struct PodInfo {
    addrs: Addrs,
    node: Option<u32>,
    ingress_class: u32,
    egress_class: u32,
    /// Named container ports: (name id, protocol, number).
    named: SmallVec<[(u32, Protocol, u16); 2]>,
}

#[derive(Debug)]
struct Inner {
    profile: Profile,
    cluster: Cluster,
    policy_names: Vec<(String, String)>,
    /// Per policy: compiled ingress rules and egress rules.
    rules: Vec<[Vec<CompiledRule>; 2]>,
    pods: Vec<PodInfo>,
    nodes: Vec<Addrs>,
    classes: Vec<Class>,
    bitsets: Vec<Bitset>,
    blocks: BlockIndex,
}

const NOT_ISOLATED: u32 = 0;

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Label index over pods: key → value → sorted pod ids.
struct LabelIndex<'a> {
    by_key: HashMap<&'a str, HashMap<&'a str, Vec<u32>>>,
    n: usize,
}

impl<'a> LabelIndex<'a> {
    fn new<I: Iterator<Item = &'a Labels>>(items: I) -> Self {
        let mut by_key: HashMap<&str, HashMap<&str, Vec<u32>>> = HashMap::new();
        let mut n = 0;
        for (i, labels) in items.enumerate() {
            n = i + 1;
            for (k, v) in labels {
                by_key
                    .entry(k.as_str())
                    .or_default()
                    .entry(v.as_str())
                    .or_default()
                    .push(i as u32);
            }
        }
        LabelIndex { by_key, n }
    }

    fn with_key(&self, key: &str, mut f: impl FnMut(&str, &[u32])) {
        if let Some(values) = self.by_key.get(key) {
            for (v, ids) in values {
                f(v, ids);
            }
        }
    }

    /// Every item the selector matches.
    fn select(&self, selector: &Selector) -> Bitset {
        let mut result = Bitset::new(self.n);
        for i in 0..self.n {
            result.insert(i);
        }
        for req in selector.requirements() {
            let mut hit = Bitset::new(self.n);
            match &req.op {
                Operator::In(values) | Operator::NotIn(values) => {
                    if let Some(by_value) = self.by_key.get(req.key.as_str()) {
                        for v in values {
                            for id in by_value.get(v.as_str()).into_iter().flatten() {
                                hit.insert(*id as usize);
                            }
                        }
                    }
                }
                Operator::Exists | Operator::DoesNotExist => {
                    self.with_key(&req.key, |_, ids| {
                        for id in ids {
                            hit.insert(*id as usize);
                        }
                    });
                }
            }
            if matches!(req.op, Operator::NotIn(_) | Operator::DoesNotExist) {
                let mut inverse = Bitset::new(self.n);
                for i in 0..self.n {
                    if !hit.contains(i) {
                        inverse.insert(i);
                    }
                }
                hit = inverse;
            }
            result.intersect_with(&hit);
        }
        result
    }
}

/// Interns bitsets so identical pod sets are stored once.
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
}

fn compile(profile: Profile, cluster: &Cluster, policies: &[Policy]) -> Inner {
    let n_pods = cluster.pods().len();
    let ns_count = cluster.namespaces().len();
    let mut pods_by_ns: Vec<Vec<u32>> = vec![Vec::new(); ns_count];
    for (i, p) in cluster.pods().iter().enumerate() {
        if let Some(list) = pods_by_ns.get_mut(p.namespace.index()) {
            list.push(i as u32);
        }
    }
    let pod_index = LabelIndex::new(cluster.pods().iter().map(|p| &p.labels));

    // Named ports are interned so that decide compares integers.
    let mut names: HashMap<String, u32> = HashMap::new();
    let mut intern_name = |s: &str| -> u32 {
        let next = names.len() as u32;
        *names.entry(s.to_owned()).or_insert(next)
    };

    let mut arena = BitsetArena {
        sets: Vec::new(),
        index: HashMap::new(),
    };
    let mut selector_cache: HashMap<&Selector, Bitset> = HashMap::new();
    let mut ns_selector_cache: HashMap<&Selector, Vec<u32>> = HashMap::new();
    let mut block_ids: HashMap<&CidrBlock, u32> = HashMap::new();
    let mut block_list: Vec<CidrBlock> = Vec::new();

    let mut rules: Vec<[Vec<CompiledRule>; 2]> = Vec::with_capacity(policies.len());
    // Per pod, per direction: the selecting policies in order.
    let mut selecting: [Vec<Vec<u32>>; 2] = [vec![Vec::new(); n_pods], vec![Vec::new(); n_pods]];

    for (pi, policy) in policies.iter().enumerate() {
        let ns_id = cluster.namespace_id(&policy.namespace);
        // Pods the policy selects.
        if let Some(ns) = ns_id {
            for &pod in pods_by_ns.get(ns.index()).map_or(&[][..], Vec::as_slice) {
                let Some(p) = cluster.pod(crate::cluster::PodId(pod)) else {
                    continue;
                };
                if policy.pod_selector.matches(&p.labels) {
                    for d in [Direction::Ingress, Direction::Egress] {
                        if policy.affects(d) {
                            if let Some(list) = selecting
                                .get_mut(dir_index(d))
                                .and_then(|v| v.get_mut(pod as usize))
                            {
                                list.push(pi as u32);
                            }
                        }
                    }
                }
            }
        }
        let mut compiled: [Vec<CompiledRule>; 2] = [Vec::new(), Vec::new()];
        for d in [Direction::Ingress, Direction::Egress] {
            for rule in policy.rules(d) {
                let peers = compile_peers(
                    rule,
                    cluster,
                    ns_id.map(|n| n.0),
                    &pods_by_ns,
                    &pod_index,
                    &mut selector_cache,
                    &mut ns_selector_cache,
                    &mut arena,
                    &mut block_ids,
                    &mut block_list,
                );
                let ports = compile_ports(rule, &mut intern_name);
                if let Some(slot) = compiled.get_mut(dir_index(d)) {
                    slot.push(CompiledRule { peers, ports });
                }
            }
        }
        rules.push(compiled);
    }

    let blocks = BlockIndex::build(&block_list);

    // Classes: pods with the same selecting policies share one compiled class.
    let mut classes: Vec<Class> = vec![Class::default()];
    let mut class_index: HashMap<(usize, Vec<u32>), u32> = HashMap::new();
    let mut pod_classes: [Vec<u32>; 2] = [vec![0; n_pods], vec![0; n_pods]];
    for (di, per_pod) in selecting.iter_mut().enumerate() {
        for (pod, list) in per_pod.iter_mut().enumerate() {
            if list.is_empty() {
                continue; // not isolated: class 0
            }
            let key = (di, std::mem::take(list));
            let id = match class_index.get(&key) {
                Some(id) => *id,
                None => {
                    let id = classes.len() as u32;
                    classes.push(make_class(&key.1, &rules, di));
                    class_index.insert(key, id);
                    id
                }
            };
            if let Some(slot) = pod_classes.get_mut(di).and_then(|v| v.get_mut(pod)) {
                *slot = id;
            }
        }
    }

    let addrs_of = |ips: &[IpAddr]| {
        let v4 = ips.iter().find(|ip| ip.is_ipv4()).copied();
        let v6 = ips.iter().find(|ip| ip.is_ipv6()).copied();
        Addrs {
            first_v6: ips.first().map(IpAddr::is_ipv6),
            blocks_v4: v4.map_or(0, |a| blocks.lookup(a)),
            blocks_v6: v6.map_or(0, |a| blocks.lookup(a)),
        }
    };
    let pods: Vec<PodInfo> = cluster
        .pods()
        .iter()
        .enumerate()
        .map(|(i, p)| PodInfo {
            addrs: addrs_of(&p.ips),
            node: p.node.map(|n| n.0),
            ingress_class: pod_classes[0].get(i).copied().unwrap_or(0),
            egress_class: pod_classes[1].get(i).copied().unwrap_or(0),
            named: p
                .ports
                .iter()
                .filter_map(|cp| {
                    cp.name
                        .as_deref()
                        .and_then(|n| names.get(n))
                        .map(|id| (*id, cp.protocol, cp.port))
                })
                .collect(),
        })
        .collect();
    let nodes: Vec<Addrs> = cluster.nodes().iter().map(|n| addrs_of(&n.ips)).collect();

    Inner {
        profile,
        cluster: cluster.clone(),
        policy_names: policies
            .iter()
            .map(|p| (p.namespace.clone(), p.name.clone()))
            .collect(),
        rules,
        pods,
        nodes,
        classes,
        bitsets: arena.sets,
        blocks,
    }
}

fn make_class(policies: &[u32], rules: &[[Vec<CompiledRule>; 2]], di: usize) -> Class {
    let mut entries: Vec<Entry> = Vec::new();
    for &p in policies {
        for rule in rules
            .get(p as usize)
            .and_then(|r| r.get(di))
            .map_or(&[][..], Vec::as_slice)
        {
            match entries.iter_mut().find(|e| e.ports == rule.ports) {
                Some(e) => {
                    e.peers.all |= rule.peers.all;
                    for s in &rule.peers.pod_sets {
                        if !e.peers.pod_sets.contains(s) {
                            e.peers.pod_sets.push(*s);
                        }
                    }
                    for b in &rule.peers.blocks {
                        if !e.peers.blocks.contains(b) {
                            e.peers.blocks.push(*b);
                        }
                    }
                    e.peers.blocks.sort_unstable();
                }
                None => entries.push(Entry {
                    ports: rule.ports.clone(),
                    peers: rule.peers.clone(),
                }),
            }
        }
    }
    for e in &mut entries {
        if e.peers.all {
            e.peers.pod_sets.clear();
            e.peers.blocks.clear();
        }
    }
    Class {
        policies: policies.to_vec(),
        entries,
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_peers<'p>(
    rule: &'p Rule,
    cluster: &Cluster,
    own_ns: Option<u32>,
    pods_by_ns: &[Vec<u32>],
    pod_index: &LabelIndex<'_>,
    selector_cache: &mut HashMap<&'p Selector, Bitset>,
    ns_selector_cache: &mut HashMap<&'p Selector, Vec<u32>>,
    arena: &mut BitsetArena,
    block_ids: &mut HashMap<&'p CidrBlock, u32>,
    block_list: &mut Vec<CidrBlock>,
) -> PeerSet {
    let mut out = PeerSet::default();
    let Some(peers) = &rule.peers else {
        out.all = true;
        return out;
    };
    let n_pods = cluster.pods().len();
    let mut pods = Bitset::new(n_pods);
    let mut any_pods = false;
    for peer in peers {
        match peer {
            Peer::IpBlock(block) => {
                let id = match block_ids.get(block) {
                    Some(id) => *id,
                    None => {
                        let id = block_list.len() as u32;
                        block_ids.insert(block, id);
                        block_list.push(block.clone());
                        id
                    }
                };
                if !out.blocks.contains(&id) {
                    out.blocks.push(id);
                }
            }
            Peer::Pods {
                namespaces,
                pods: pod_sel,
            } => {
                let ns_list: Vec<u32> = match namespaces {
                    None => own_ns.into_iter().collect(),
                    Some(sel) => ns_selector_cache
                        .entry(sel)
                        .or_insert_with(|| {
                            cluster
                                .namespaces()
                                .iter()
                                .enumerate()
                                .filter(|(_, ns)| sel.matches(&ns.labels))
                                .map(|(i, _)| i as u32)
                                .collect()
                        })
                        .clone(),
                };
                let mut in_ns = Bitset::new(n_pods);
                for ns in ns_list {
                    for &pod in pods_by_ns.get(ns as usize).map_or(&[][..], Vec::as_slice) {
                        in_ns.insert(pod as usize);
                    }
                }
                if !pod_sel.is_everything() {
                    let sel = selector_cache
                        .entry(pod_sel)
                        .or_insert_with(|| pod_index.select(pod_sel));
                    in_ns.intersect_with(sel);
                }
                pods.union_with(&in_ns);
                any_pods = true;
            }
        }
    }
    out.blocks.sort_unstable();
    if any_pods && !pods.is_empty() {
        out.pod_sets.push(arena.intern(pods));
    }
    out
}

fn compile_ports(rule: &Rule, intern_name: &mut impl FnMut(&str) -> u32) -> PortSet {
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
                    PortSpec::Range { start, end } => out.ranges.push((pr.protocol, *start, *end)),
                    PortSpec::Named(name) => out.named.push((pr.protocol, intern_name(name))),
                }
            }
        }
    }
    out
}

impl Engine {
    /// Compiles `policies` against `cluster` with the default profile.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(cluster: &Cluster, policies: &[Policy]) -> Engine {
        EngineBuilder::default().build(cluster, policies)
    }

    /// Starts a builder, to choose a profile.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The profile the engine was built with.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The cluster the engine was built for.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// How many policies were compiled.
    pub fn policy_count(&self) -> usize {
        self.inner.policy_names.len()
    }

    /// Heap bytes held by the compiled structures (not counting the cluster copy),
    /// approximately: the sum of the capacities of its vectors and tables.
    pub fn compiled_bytes(&self) -> usize {
        let i = &self.inner;
        let bitsets: usize = i.bitsets.iter().map(Bitset::heap_bytes).sum();
        let classes: usize = i
            .classes
            .iter()
            .map(|c| {
                c.policies.capacity() * 4 + c.entries.capacity() * std::mem::size_of::<Entry>()
            })
            .sum();
        let sets: usize = i.blocks.sets.iter().map(|s| s.capacity() * 4 + 24).sum();
        bitsets
            + classes
            + sets
            + i.pods.capacity() * std::mem::size_of::<PodInfo>()
            + i.nodes.capacity() * std::mem::size_of::<Addrs>()
    }

    /// Whether the flow is allowed. Allocates nothing.
    #[inline]
    pub fn decide(&self, flow: Flow) -> Verdict {
        Verdict::from(self.allows(flow))
    }

    fn allows(&self, flow: Flow) -> bool {
        let i = &*self.inner;
        if i.special(flow).is_some() {
            return true;
        }
        let v6 = i.flow_is_v6(flow);
        if let Endpoint::Pod(src) = flow.src {
            let class = i
                .pods
                .get(src.index())
                .map_or(NOT_ISOLATED, |p| p.egress_class);
            if class != NOT_ISOLATED && !i.class_allows(class, flow, flow.dst, v6) {
                return false;
            }
        }
        if let Endpoint::Pod(dst) = flow.dst {
            let class = i
                .pods
                .get(dst.index())
                .map_or(NOT_ISOLATED, |p| p.ingress_class);
            if class != NOT_ISOLATED && !i.class_allows(class, flow, flow.src, v6) {
                return false;
            }
        }
        true
    }

    /// The verdict with its explanation; equal to the reference evaluator's.
    pub fn explain(&self, flow: Flow) -> Explanation {
        let i = &*self.inner;
        let v6 = i.flow_is_v6(flow);
        let egress = i.explain_side(flow, Direction::Egress, v6);
        let ingress = i.explain_side(flow, Direction::Ingress, v6);
        let special = i.special(flow);
        let allowed = special.is_some() || (egress.allowed && ingress.allowed);
        Explanation {
            flow: Explanation::describe_flow(&i.cluster, flow),
            verdict: Verdict::from(allowed),
            special,
            egress,
            ingress,
        }
    }
}

impl Inner {
    #[inline]
    fn special(&self, flow: Flow) -> Option<Special> {
        let p = &self.profile;
        if !p.enforces_policies {
            return Some(Special::NotEnforced);
        }
        match (flow.src, flow.dst) {
            (Endpoint::Pod(a), Endpoint::Pod(b)) if p.self_exempt && a == b => {
                Some(Special::SelfTraffic)
            }
            (Endpoint::Node(node), Endpoint::Pod(pod))
                if p.own_node_exempt && self.pod_on_node(pod.index(), node.0) =>
            {
                Some(Special::OwnNode)
            }
            (Endpoint::Pod(pod), Endpoint::Node(node))
                if p.pod_to_own_node_exempt && self.pod_on_node(pod.index(), node.0) =>
            {
                Some(Special::OwnNode)
            }
            _ => None,
        }
    }

    #[inline]
    fn pod_on_node(&self, pod: usize, node: u32) -> bool {
        self.pods
            .get(pod)
            .is_some_and(|info| info.node == Some(node))
    }

    /// Whether the destination side allows the flow as ingress.
    #[inline]
    fn ingress_allows(&self, flow: Flow, v6: bool) -> bool {
        if let Endpoint::Pod(dst) = flow.dst {
            let class = self
                .pods
                .get(dst.index())
                .map_or(NOT_ISOLATED, |p| p.ingress_class);
            if class != NOT_ISOLATED && !self.class_allows(class, flow, flow.src, v6) {
                return false;
            }
        }
        true
    }

    #[inline]
    fn addrs(&self, e: Endpoint) -> Option<&Addrs> {
        match e {
            Endpoint::Pod(id) => self.pods.get(id.index()).map(|p| &p.addrs),
            Endpoint::Node(id) => self.nodes.get(id.index()),
            Endpoint::External(_) => None,
        }
    }

    /// Same rule as [`Cluster::flow_is_v6`], on precomputed data.
    #[inline]
    fn flow_is_v6(&self, flow: Flow) -> bool {
        if let Endpoint::External(ip) = flow.src {
            return ip.is_ipv6();
        }
        if let Endpoint::External(ip) = flow.dst {
            return ip.is_ipv6();
        }
        self.addrs(flow.src)
            .and_then(|a| a.first_v6)
            .or_else(|| self.addrs(flow.dst).and_then(|a| a.first_v6))
            .unwrap_or(false)
    }

    /// The block-set id of the other side's address (0 when ipBlocks cannot match it).
    #[inline]
    fn other_blocks(&self, other: Endpoint, v6: bool) -> u32 {
        let pick = |a: &Addrs| if v6 { a.blocks_v6 } else { a.blocks_v4 };
        match other {
            Endpoint::External(ip) => self.blocks.lookup(ip),
            Endpoint::Pod(_) if !self.profile.ipblock_matches_pods => 0,
            Endpoint::Node(_) if !self.profile.ipblock_matches_nodes => 0,
            e => self.addrs(e).map_or(0, pick),
        }
    }

    #[inline]
    fn ports_match(&self, ports: &PortSet, flow: Flow) -> bool {
        if ports
            .ranges
            .iter()
            .any(|(p, lo, hi)| *p == flow.protocol && *lo <= flow.port && flow.port <= *hi)
        {
            return true;
        }
        if ports.named.is_empty() {
            return false;
        }
        let Endpoint::Pod(dst) = flow.dst else {
            return false;
        };
        let Some(info) = self.pods.get(dst.index()) else {
            return false;
        };
        ports.named.iter().any(|(proto, name)| {
            *proto == flow.protocol
                && info
                    .named
                    .iter()
                    .any(|(n, p, num)| n == name && *p == flow.protocol && *num == flow.port)
        })
    }

    #[inline]
    fn peers_match(
        &self,
        peers: &PeerSet,
        other: Endpoint,
        blocks: &mut Option<u32>,
        v6: bool,
    ) -> bool {
        if peers.all {
            return true;
        }
        if let Endpoint::Pod(id) = other {
            if peers.pod_sets.iter().any(|s| {
                self.bitsets
                    .get(*s as usize)
                    .is_some_and(|b| b.contains(id.index()))
            }) {
                return true;
            }
        }
        if peers.blocks.is_empty() {
            return false;
        }
        let set_id = *blocks.get_or_insert_with(|| self.other_blocks(other, v6));
        if set_id == 0 {
            return false;
        }
        let set = self.blocks.set(set_id);
        peers.blocks.iter().any(|b| set.binary_search(b).is_ok())
    }

    fn class_allows(&self, class: u32, flow: Flow, other: Endpoint, v6: bool) -> bool {
        let Some(class) = self.classes.get(class as usize) else {
            return true;
        };
        let mut blocks = None;
        class.entries.iter().any(|e| {
            self.ports_match(&e.ports, flow) && self.peers_match(&e.peers, other, &mut blocks, v6)
        })
    }

    fn explain_side(&self, flow: Flow, direction: Direction, v6: bool) -> SideExplanation {
        let (here, other) = match direction {
            Direction::Egress => (flow.src, flow.dst),
            Direction::Ingress => (flow.dst, flow.src),
        };
        let mut side = SideExplanation {
            direction,
            endpoint: self.cluster.describe(here),
            is_pod: false,
            policies: Vec::new(),
            isolated: false,
            allowed_by: Vec::new(),
            allowed: true,
        };
        let Endpoint::Pod(pod) = here else {
            return side;
        };
        let Some(info) = self.pods.get(pod.index()) else {
            return side;
        };
        side.is_pod = true;
        let class_id = match direction {
            Direction::Ingress => info.ingress_class,
            Direction::Egress => info.egress_class,
        };
        let Some(class) = self.classes.get(class_id as usize) else {
            return side;
        };
        let mut blocks = None;
        for &p in &class.policies {
            let (namespace, name) = self
                .policy_names
                .get(p as usize)
                .cloned()
                .unwrap_or_default();
            let pref = PolicyRef {
                index: p as usize,
                namespace,
                name,
            };
            let rules = self
                .rules
                .get(p as usize)
                .and_then(|r| r.get(dir_index(direction)))
                .map_or(&[][..], Vec::as_slice);
            for (index, rule) in rules.iter().enumerate() {
                if self.ports_match(&rule.ports, flow)
                    && self.peers_match(&rule.peers, other, &mut blocks, v6)
                {
                    side.allowed_by.push(RuleRef {
                        policy: pref.clone(),
                        direction,
                        rule: index,
                    });
                }
            }
            side.policies.push(pref);
        }
        side.isolated = !side.policies.is_empty();
        side.allowed = !side.isolated || !side.allowed_by.is_empty();
        side
    }
}

impl crate::explain::Evaluator for Engine {
    fn cluster(&self) -> &Cluster {
        Engine::cluster(self)
    }
    fn decide(&self, flow: Flow) -> Verdict {
        Engine::decide(self, flow)
    }
    fn explain(&self, flow: Flow) -> Explanation {
        Engine::explain(self, flow)
    }
}
