//! What every check shares: the engine, the cluster indexed for selector and address
//! matching, and the pods grouped into classes with the policies that select them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use ahash::AHashMap as HashMap;

use super::sets::{Bits, PeerSet, every_address};
use super::{LintInput, ObjectRef};
use crate::calico::CalicoPolicy;
use crate::cidr::IpSet;
use crate::cluster::{Cluster, Endpoint, Flow, Node, Pod, PodId};
use crate::engine::Engine;
use crate::explain::PolicyRef;
use crate::model::Labels;
use crate::policy::{
    ClusterPeer, ClusterPolicy, Direction, Peer, Policy, PolicyKind, PolicySet, Protocol, Rule,
};
use crate::profile::Profile;
use crate::selector::Selector;

/// A policy of the set, by kind and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum PolicyId {
    Network(usize),
    Cluster(usize),
    Calico(usize),
}

impl PolicyId {
    /// The lint's id of a policy an explanation names (`None` for kinds that are not
    /// policies: network sets, tiers).
    pub(super) fn of(r: &PolicyRef) -> Option<PolicyId> {
        match r.kind {
            PolicyKind::NetworkPolicy => Some(PolicyId::Network(r.index)),
            PolicyKind::ClusterNetworkPolicy => Some(PolicyId::Cluster(r.index)),
            PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy => {
                Some(PolicyId::Calico(r.index))
            }
            _ => None,
        }
    }
}

/// Which address of a pod or node a flow uses: see [`Flow`]. At ingress the other side is
/// the source and uses its own first address; at egress it is the destination and uses
/// its first address of the source's family (its own first when the source has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum AddrCtx {
    Own,
    V4,
    V6,
}

impl AddrCtx {
    pub(super) const ALL: [AddrCtx; 3] = [AddrCtx::Own, AddrCtx::V4, AddrCtx::V6];

    fn index(self) -> usize {
        match self {
            AddrCtx::Own => 0,
            AddrCtx::V4 => 1,
            AddrCtx::V6 => 2,
        }
    }

    fn pick(self, ips: &[IpAddr]) -> Option<IpAddr> {
        match self {
            AddrCtx::Own => ips.first().copied(),
            AddrCtx::V4 => ips.iter().copied().find(IpAddr::is_ipv4),
            AddrCtx::V6 => ips.iter().copied().find(IpAddr::is_ipv6),
        }
    }
}

pub(super) fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Pods no selector tells apart as subjects: same namespace, labels, service account,
/// declared named ports and first address family.
#[derive(Debug, Clone)]
pub(super) struct Class {
    pub(super) pods: Vec<usize>,
    pub(super) ns: usize,
    /// Declared named ports: (name, protocol, number), sorted.
    pub(super) named: Vec<(String, Protocol, u16)>,
    /// The family of the pods' first address (`Own` when they have none).
    pub(super) family: AddrCtx,
    /// Per direction (ingress, egress): the enforced policies selecting the pods, in
    /// evaluation order, as the engine says.
    pub(super) selecting: [Vec<PolicyId>; 2],
    /// Per direction: policies that would select them but the profile ignores.
    pub(super) ignored: [Vec<PolicyId>; 2],
}

/// The key of a rule's peers for a direction, as field paths write it.
pub(super) fn peers_key(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    }
}

impl Class {
    /// The address context of the other side at this subject for a direction.
    pub(super) fn peer_ctx(&self, d: Direction) -> AddrCtx {
        match d {
            Direction::Ingress => AddrCtx::Own,
            Direction::Egress => self.family,
        }
    }

    /// The Calico policies selecting the pods for a direction, in evaluation order.
    pub(super) fn calico_selecting(&self, d: Direction) -> Vec<usize> {
        self.selecting
            .get(dir_index(d))
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                PolicyId::Calico(i) => Some(*i),
                _ => None,
            })
            .collect()
    }
}

/// Where a pod selector looks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Scope {
    /// One namespace (a NetworkPolicy peer without `namespaceSelector`).
    Own(usize),
    /// The namespaces a selector matches.
    Namespaces(Selector),
}

/// A rule of a policy, by direction and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct RuleId {
    pub(super) policy: PolicyId,
    pub(super) dir: Direction,
    pub(super) index: usize,
}

pub(super) struct Context<'a> {
    pub(super) input: &'a LintInput<'a>,
    pub(super) cluster: &'a Cluster,
    pub(super) policies: &'a PolicySet,
    pub(super) profile: &'a Profile,
    pub(super) engine: Engine,
    pub(super) ns_names: Vec<&'a str>,
    pub(super) ns_labels: Vec<&'a Labels>,
    pub(super) ns_by_name: HashMap<&'a str, usize>,
    pub(super) pods: Vec<&'a Pod>,
    pub(super) pod_ids: Vec<PodId>,
    pub(super) pod_ns: Vec<usize>,
    pub(super) nodes: Vec<&'a Node>,
    /// Pods by (namespace, labels): what label selectors see.
    identities: Vec<(usize, Vec<usize>)>,
    ns_identities: Vec<Vec<usize>>,
    pub(super) classes: Vec<Class>,
    pub(super) pod_class: Vec<usize>,
    sorted_pods: [Vec<(IpAddr, usize)>; 3],
    sorted_nodes: [Vec<(IpAddr, usize)>; 3],
    /// Pods declaring (name, protocol, number).
    pub(super) declared: HashMap<(String, Protocol, u16), Bits>,
    /// For each port name, every (protocol, number) some pod declares under it.
    pub(super) declared_numbers: HashMap<String, Vec<(Protocol, u16)>>,
    pod_memo: RefCell<HashMap<(Scope, Selector), Rc<Bits>>>,
    peer_memo: RefCell<HashMap<(RuleId, AddrCtx), Rc<PeerSet>>>,
}

impl<'a> Context<'a> {
    pub(super) fn new(input: &'a LintInput<'a>) -> Self {
        let cluster = input.cluster;
        let engine = Engine::builder()
            .profile(input.profile.clone())
            .build(cluster, input.policies);
        let mut ns_names = Vec::new();
        let mut ns_labels = Vec::new();
        let mut ns_by_name = HashMap::new();
        for (i, (_, ns)) in cluster.namespaces().enumerate() {
            ns_names.push(ns.name.as_str());
            ns_labels.push(&ns.labels);
            ns_by_name.insert(ns.name.as_str(), i);
        }
        let mut pods = Vec::new();
        let mut pod_ids = Vec::new();
        let mut pod_ns = Vec::new();
        for (id, pod) in cluster.pods() {
            pod_ids.push(id);
            pod_ns.push(pod.namespace.index());
            pods.push(pod);
        }
        let nodes: Vec<&Node> = cluster.nodes().map(|(_, n)| n).collect();

        // Identities.
        let mut by_labels: HashMap<(usize, &Labels), usize> = HashMap::new();
        let mut identities: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut ns_identities = vec![Vec::new(); ns_names.len()];
        for (i, pod) in pods.iter().enumerate() {
            let ns = pod_ns.get(i).copied().unwrap_or(0);
            let id = *by_labels.entry((ns, &pod.labels)).or_insert_with(|| {
                identities.push((ns, Vec::new()));
                if let Some(list) = ns_identities.get_mut(ns) {
                    list.push(identities.len() - 1);
                }
                identities.len() - 1
            });
            if let Some((_, members)) = identities.get_mut(id) {
                members.push(i);
            }
        }

        // Addresses.
        let mut sorted_pods: [Vec<(IpAddr, usize)>; 3] = Default::default();
        let mut sorted_nodes: [Vec<(IpAddr, usize)>; 3] = Default::default();
        for ctx in AddrCtx::ALL {
            let k = ctx.index();
            if let Some(sp) = sorted_pods.get_mut(k) {
                for (i, pod) in pods.iter().enumerate() {
                    if let Some(a) = ctx.pick(&pod.ips) {
                        sp.push((a, i));
                    }
                }
                sp.sort_unstable();
            }
            if let Some(sn) = sorted_nodes.get_mut(k) {
                for (i, node) in nodes.iter().enumerate() {
                    if let Some(a) = ctx.pick(&node.ips) {
                        sn.push((a, i));
                    }
                }
                sn.sort_unstable();
            }
        }

        // Declared named ports.
        let mut declared: HashMap<(String, Protocol, u16), Bits> = HashMap::new();
        let mut declared_numbers: HashMap<String, Vec<(Protocol, u16)>> = HashMap::new();
        for (i, pod) in pods.iter().enumerate() {
            for cp in pod.ports.iter() {
                if let Some(name) = &cp.name {
                    declared
                        .entry((name.clone(), cp.protocol, cp.port))
                        .or_default()
                        .insert(i, pods.len());
                    let list = declared_numbers.entry(name.clone()).or_default();
                    if !list.contains(&(cp.protocol, cp.port)) {
                        list.push((cp.protocol, cp.port));
                    }
                }
            }
        }

        let mut ctx = Context {
            input,
            cluster,
            policies: input.policies,
            profile: &input.profile,
            engine,
            ns_names,
            ns_labels,
            ns_by_name,
            pods,
            pod_ids,
            pod_ns,
            nodes,
            identities,
            ns_identities,
            classes: Vec::new(),
            pod_class: Vec::new(),
            sorted_pods,
            sorted_nodes,
            declared,
            declared_numbers,
            pod_memo: RefCell::new(HashMap::new()),
            peer_memo: RefCell::new(HashMap::new()),
        };
        ctx.build_classes();
        ctx
    }

    fn build_classes(&mut self) {
        type Key<'k> = (
            usize,
            &'k Labels,
            &'k str,
            Vec<(String, Protocol, u16)>,
            AddrCtx,
        );
        let mut index: BTreeMap<Key<'a>, usize> = BTreeMap::new();
        let mut classes: Vec<Class> = Vec::new();
        let mut pod_class = Vec::with_capacity(self.pods.len());
        for (i, pod) in self.pods.iter().enumerate() {
            let ns = self.pod_ns.get(i).copied().unwrap_or(0);
            let mut named: Vec<(String, Protocol, u16)> = pod
                .ports
                .iter()
                .filter_map(|p| p.name.clone().map(|n| (n, p.protocol, p.port)))
                .collect();
            named.sort();
            named.dedup();
            let family = match pod.ips.first() {
                None => AddrCtx::Own,
                Some(IpAddr::V4(_)) => AddrCtx::V4,
                Some(IpAddr::V6(_)) => AddrCtx::V6,
            };
            let key = (
                ns,
                &*pod.labels,
                pod.service_account.as_str(),
                named.clone(),
                family,
            );
            let c = *index.entry(key).or_insert_with(|| {
                classes.push(Class {
                    pods: Vec::new(),
                    ns,
                    named,
                    family,
                    selecting: [Vec::new(), Vec::new()],
                    ignored: [Vec::new(), Vec::new()],
                });
                classes.len() - 1
            });
            if let Some(class) = classes.get_mut(c) {
                class.pods.push(i);
            }
            pod_class.push(c);
        }
        for class in &mut classes {
            let Some(&rep) = class.pods.first() else {
                continue;
            };
            let Some(&pod) = self.pod_ids.get(rep) else {
                continue;
            };
            let outside = match class.family {
                AddrCtx::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                _ => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            };
            let ext = Endpoint::External(outside);
            let me = Endpoint::Pod(pod);
            let ingress = self
                .engine
                .explain(Flow::new(ext, me, 1, Protocol::Tcp))
                .ingress;
            let egress = self
                .engine
                .explain(Flow::new(me, ext, 1, Protocol::Tcp))
                .egress;
            for (d, side) in [(0, ingress), (1, egress)] {
                if let Some(list) = class.selecting.get_mut(d) {
                    *list = side.policies.iter().filter_map(PolicyId::of).collect();
                }
                if let Some(list) = class.ignored.get_mut(d) {
                    *list = side.ignored.iter().filter_map(PolicyId::of).collect();
                }
            }
        }
        self.classes = classes;
        self.pod_class = pod_class;
    }

    // ----------------------------------------------------------------------------------
    // Names and objects
    // ----------------------------------------------------------------------------------

    pub(super) fn np(&self, i: usize) -> Option<&'a Policy> {
        self.policies.network_policies().get(i)
    }

    pub(super) fn cnp(&self, i: usize) -> Option<&'a ClusterPolicy> {
        self.policies.cluster_policies().get(i)
    }

    pub(super) fn calico(&self, i: usize) -> Option<&'a CalicoPolicy> {
        self.policies.calico_policies().get(i)
    }

    pub(super) fn object(&self, id: PolicyId) -> ObjectRef {
        match id {
            PolicyId::Network(i) => {
                let p = self.np(i);
                ObjectRef::new(
                    PolicyKind::NetworkPolicy.as_str(),
                    p.map(Policy::namespace),
                    p.map_or("", Policy::name),
                )
            }
            PolicyId::Cluster(i) => ObjectRef::new(
                PolicyKind::ClusterNetworkPolicy.as_str(),
                None,
                self.cnp(i).map_or("", ClusterPolicy::name),
            ),
            PolicyId::Calico(i) => {
                let p = self.calico(i);
                let kind = match p.map(CalicoPolicy::kind) {
                    Some(crate::calico::CalicoPolicyKind::Global) => {
                        PolicyKind::GlobalNetworkPolicy
                    }
                    _ => PolicyKind::CalicoNetworkPolicy,
                };
                ObjectRef::new(
                    kind.as_str(),
                    p.and_then(CalicoPolicy::namespace),
                    p.map_or("", CalicoPolicy::name),
                )
            }
        }
    }

    /// `ns/name` (or `name`) of a policy, for messages.
    pub(super) fn policy_name(&self, id: PolicyId) -> String {
        let o = self.object(id);
        let prefix = match id {
            PolicyId::Cluster(_) => "ClusterNetworkPolicy ",
            PolicyId::Calico(_) => "Calico policy ",
            PolicyId::Network(_) => "",
        };
        match o.namespace {
            Some(ns) => format!("{prefix}{ns}/{}", o.name),
            None => format!("{prefix}{}", o.name),
        }
    }

    /// `ns/name spec.ingress[i]`, for messages.
    pub(super) fn rule_name(&self, r: RuleId) -> String {
        format!(
            "{} spec.{}[{}]",
            self.policy_name(r.policy),
            r.dir.field(),
            r.index
        )
    }

    pub(super) fn pod_name(&self, i: usize) -> String {
        match (self.pods.get(i), self.pod_ns.get(i)) {
            (Some(p), Some(&ns)) => {
                format!(
                    "{}/{}",
                    self.ns_names.get(ns).copied().unwrap_or(""),
                    p.name
                )
            }
            _ => String::new(),
        }
    }

    pub(super) fn node_name(&self, i: usize) -> String {
        self.nodes
            .get(i)
            .map_or_else(String::new, |n| format!("node/{}", n.name))
    }

    pub(super) fn pod_object(&self, i: usize) -> ObjectRef {
        let ns = self
            .pod_ns
            .get(i)
            .and_then(|n| self.ns_names.get(*n))
            .copied();
        ObjectRef::new("Pod", ns, self.pods.get(i).map_or("", |p| p.name.as_str()))
    }

    // ----------------------------------------------------------------------------------
    // Matching
    // ----------------------------------------------------------------------------------

    pub(super) fn namespaces_matching(&self, sel: &Selector) -> Vec<usize> {
        self.ns_labels
            .iter()
            .enumerate()
            .filter(|(_, l)| sel.matches(l))
            .map(|(i, _)| i)
            .collect()
    }

    /// The pods a selector matches within a scope.
    pub(super) fn pods_matching(&self, scope: &Scope, sel: &Selector) -> Rc<Bits> {
        let key = (scope.clone(), sel.clone());
        if let Some(b) = self.pod_memo.borrow().get(&key) {
            return Rc::clone(b);
        }
        let namespaces = match scope {
            Scope::Own(ns) => vec![*ns],
            Scope::Namespaces(ns_sel) => self.namespaces_matching(ns_sel),
        };
        let mut bits = Bits::new();
        for ns in namespaces {
            for &id in self.ns_identities.get(ns).map_or(&[][..], Vec::as_slice) {
                let Some((_, members)) = self.identities.get(id) else {
                    continue;
                };
                let Some(labels) = members
                    .first()
                    .and_then(|p| self.pods.get(*p))
                    .map(|p| &p.labels)
                else {
                    continue;
                };
                if sel.matches(labels) {
                    for &m in members {
                        bits.insert(m, self.pods.len());
                    }
                }
            }
        }
        let rc = Rc::new(bits);
        self.pod_memo.borrow_mut().insert(key, Rc::clone(&rc));
        rc
    }

    pub(super) fn nodes_matching(&self, sel: &Selector) -> Bits {
        let mut bits = Bits::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if sel.matches(&n.labels) {
                bits.insert(i, self.nodes.len());
            }
        }
        bits
    }

    fn in_set(sorted: &[(IpAddr, usize)], set: &IpSet, n: usize) -> Bits {
        let mut bits = Bits::new();
        if sorted.is_empty() {
            return bits;
        }
        for net in set.iter() {
            let (lo, hi) = (net.network(), net.broadcast());
            let start = sorted.partition_point(|(a, _)| *a < lo);
            for (a, i) in sorted.get(start..).unwrap_or(&[]) {
                if *a > hi {
                    break;
                }
                bits.insert(*i, n);
            }
        }
        bits
    }

    /// The pods whose address (in `ctx`) is in `set`.
    pub(super) fn pods_in(&self, set: &IpSet, ctx: AddrCtx) -> Bits {
        self.sorted_pods
            .get(ctx.index())
            .map_or_else(Bits::new, |s| Self::in_set(s, set, self.pods.len()))
    }

    /// The nodes whose address (in `ctx`) is in `set`.
    pub(super) fn nodes_in(&self, set: &IpSet, ctx: AddrCtx) -> Bits {
        self.sorted_nodes
            .get(ctx.index())
            .map_or_else(Bits::new, |s| Self::in_set(s, set, self.nodes.len()))
    }

    /// Every pod, node and outside address.
    pub(super) fn everything(&self) -> PeerSet {
        PeerSet {
            pods: Bits::full(self.pods.len()),
            nodes: Bits::full(self.nodes.len()),
            ext: every_address(),
        }
    }

    /// The peers a rule matches (ports aside), with the other side's address taken in
    /// `ctx`. `None` for a rule kind the flow checks do not model (Calico's).
    pub(super) fn rule_peers(&self, rule: RuleId, ctx: AddrCtx) -> Option<Rc<PeerSet>> {
        let key = (rule, ctx);
        if let Some(p) = self.peer_memo.borrow().get(&key) {
            return Some(Rc::clone(p));
        }
        let set = match rule.policy {
            PolicyId::Network(i) => {
                let policy = self.np(i)?;
                let r = policy.rules(rule.dir).get(rule.index)?;
                self.np_rule_peers(policy, r, ctx)
            }
            PolicyId::Cluster(i) => {
                let policy = self.cnp(i)?;
                let r = policy.rules(rule.dir).get(rule.index)?;
                let mut out = PeerSet::default();
                for peer in r.peers() {
                    out.union_with(&self.cluster_peer(peer, ctx));
                }
                out
            }
            PolicyId::Calico(_) => return None,
        };
        let rc = Rc::new(set);
        self.peer_memo.borrow_mut().insert(key, Rc::clone(&rc));
        Some(rc)
    }

    fn np_rule_peers(&self, policy: &Policy, rule: &Rule, ctx: AddrCtx) -> PeerSet {
        let Some(peers) = &rule.peers else {
            return self.everything();
        };
        let own = self.ns_by_name.get(policy.namespace()).copied();
        let mut out = PeerSet::default();
        for peer in peers {
            match peer {
                Peer::Pods { namespaces, pods } => {
                    let scope = match (namespaces, own) {
                        (Some(sel), _) => Scope::Namespaces(sel.clone()),
                        (None, Some(ns)) => Scope::Own(ns),
                        (None, None) => continue,
                    };
                    out.pods.union_with(&self.pods_matching(&scope, pods));
                }
                Peer::IpBlock(block) => {
                    let set = IpSet::from_block(block.cidr(), block.except());
                    if self.profile.ipblock_matches_pods() {
                        out.pods.union_with(&self.pods_in(&set, ctx));
                    }
                    if self.profile.ipblock_matches_nodes() {
                        out.nodes.union_with(&self.nodes_in(&set, ctx));
                    }
                    out.ext = if out.ext.is_empty() {
                        set
                    } else {
                        out.ext.union(&set)
                    };
                }
            }
        }
        out
    }

    fn cluster_peer(&self, peer: &ClusterPeer, ctx: AddrCtx) -> PeerSet {
        let mut out = PeerSet::default();
        match peer {
            ClusterPeer::Namespaces(sel) => {
                out.pods = (*self
                    .pods_matching(&Scope::Namespaces(sel.clone()), &Selector::everything()))
                .clone();
            }
            ClusterPeer::Pods { namespaces, pods } => {
                out.pods =
                    (*self.pods_matching(&Scope::Namespaces(namespaces.clone()), pods)).clone();
            }
            ClusterPeer::Networks(nets) => {
                let mut set = IpSet::new();
                for n in nets {
                    set.insert(*n);
                }
                out.pods = self.pods_in(&set, ctx);
                out.nodes = self.nodes_in(&set, ctx);
                out.ext = set;
            }
            ClusterPeer::Nodes(sel) => out.nodes = self.nodes_matching(sel),
            // Matches only flows carrying a DNS name; the flow checks leave those out.
            _ => {}
        }
        out
    }

    /// Whether the profile makes Calico's Felix decide (tiers as Felix renders them).
    pub(super) fn felix(&self) -> bool {
        self.profile.enforces_calico_policy()
    }
}
