//! The computation every analysis shares: what one side of a flow between two classes of
//! pods allows, as a port set, decided by the engine once per group of peers it cannot
//! tell apart and once per port interval.
//!
//! For a pod class `here` and a direction, the engine reads the policies selecting it
//! (found once with [`Engine::explain`]). Their rules look at the other side (the peer)
//! only through peer predicates (a namespace condition and a pod selector, for
//! NetworkPolicy and ClusterNetworkPolicy), the CIDRs of the peer's address, and, for the
//! destination, the numbers its named ports resolve to. Peers that agree on those are
//! grouped, and each group is decided with one representative. Calico's policies, and
//! every policy under Felix's semantics, look at the peer through Calico's label view:
//! there every class of peers is a group of its own. Inside a group the ports are cut at
//! every port the rules name and every number the destination's named ports have, and the
//! engine decides one port per interval ([`Engine::decide_direction`]).

use ahash::AHashMap as HashMap;
use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow, NamespaceId};
use crate::engine::Engine;
use crate::explain::PolicyRef;
use crate::policy::{ClusterPeer, Direction, Peer, PolicyKind, PolicySetRef, Protocol};
use crate::selector::Selector;

use super::classes::{CidrBounds, ClassData, PodClasses};
use super::ports::{Breaks, Ports, intervals};

/// No value.
pub(crate) const NONE: u32 = u32::MAX;

/// Interned port sets: ids compare equal exactly when the sets do.
#[derive(Debug, Clone)]
pub(crate) struct PortsTable {
    list: Vec<Ports>,
    index: HashMap<Ports, u32>,
    meet: HashMap<(u32, u32), u32>,
}

/// The id of every port of every protocol.
pub(crate) const ALL: u32 = 0;
/// The id of the empty set.
pub(crate) const EMPTY: u32 = 1;

impl PortsTable {
    pub(crate) fn new() -> Self {
        let mut t = PortsTable {
            list: Vec::new(),
            index: HashMap::new(),
            meet: HashMap::new(),
        };
        t.intern(Ports::all());
        t.intern(Ports::none());
        t
    }

    pub(crate) fn intern(&mut self, p: Ports) -> u32 {
        if let Some(id) = self.index.get(&p) {
            return *id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(NONE);
        self.index.insert(p.clone(), id);
        self.list.push(p);
        id
    }

    pub(crate) fn get(&self, id: u32) -> &Ports {
        static EMPTY_PORTS: std::sync::OnceLock<Ports> = std::sync::OnceLock::new();
        self.list
            .get(id as usize)
            .unwrap_or_else(|| EMPTY_PORTS.get_or_init(Ports::none))
    }

    /// The sets, by id.
    pub(crate) fn into_list(self) -> Vec<Ports> {
        self.list
    }

    /// The intersection of two interned sets.
    pub(crate) fn meet(&mut self, a: u32, b: u32) -> u32 {
        if a == ALL || a == b {
            return b;
        }
        if b == ALL {
            return a;
        }
        if a == EMPTY || b == EMPTY {
            return EMPTY;
        }
        let key = (a.min(b), a.max(b));
        if let Some(id) = self.meet.get(&key) {
            return *id;
        }
        let p = self.get(a).intersection(self.get(b));
        let id = self.intern(p);
        self.meet.insert(key, id);
        id
    }
}

/// A namespace condition of a peer predicate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum NsCond {
    /// The policy's own namespace (`None`: a namespace the cluster does not hold).
    Own(Option<NamespaceId>),
    /// The namespaces a selector matches.
    Sel(Selector),
}

/// Peer predicates and, per predicate, the classes it holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preds {
    index: HashMap<(NsCond, Selector), u32>,
    /// Per predicate, a bitset over classes.
    bits: Vec<Vec<u64>>,
}

impl Preds {
    fn intern(
        &mut self,
        cluster: &Cluster,
        classes: &PodClasses,
        by_ns: &[Vec<u32>],
        ns: NsCond,
        pods: &Selector,
    ) -> u32 {
        let key = (ns, pods.clone());
        if let Some(id) = self.index.get(&key) {
            return *id;
        }
        let mut bits = vec![0u64; classes.len().div_ceil(64)];
        let mut consider = |list: &[u32]| {
            for &c in list {
                let Some(rep) = classes.data(c).and_then(|d| d.pods.first()) else {
                    continue;
                };
                let Some(pod) = cluster.pod(*rep) else {
                    continue;
                };
                if key.1.matches(&pod.labels) {
                    if let Some(w) = bits.get_mut(c as usize / 64) {
                        *w |= 1u64 << (c % 64);
                    }
                }
            }
        };
        match &key.0 {
            NsCond::Own(Some(ns)) => consider(by_ns.get(ns.index()).map_or(&[][..], |v| v)),
            NsCond::Own(None) => {}
            NsCond::Sel(sel) => {
                for (id, ns) in cluster.namespaces() {
                    if sel.matches(&ns.labels) {
                        consider(by_ns.get(id.index()).map_or(&[][..], |v| v));
                    }
                }
            }
        }
        let id = u32::try_from(self.bits.len()).unwrap_or(NONE);
        self.bits.push(bits);
        self.index.insert(key, id);
        id
    }

    fn holds(&self, pred: u32, class: u32) -> bool {
        self.bits
            .get(pred as usize)
            .and_then(|b| b.get(class as usize / 64))
            .is_some_and(|w| (w >> (class % 64)) & 1 == 1)
    }
}

/// What one direction of the policies selecting a class reads.
#[derive(Debug, Clone)]
pub(crate) struct SelInfo {
    /// The selecting policies, in evaluation order.
    pub(crate) policies: Vec<PolicyRef>,
    /// Whether a NetworkPolicy isolates the class in this direction.
    pub(crate) isolated: bool,
    /// Ports where a rule's port condition may change.
    pub(crate) breaks: Breaks,
    /// Peer predicates of the rules, sorted.
    preds: Vec<u32>,
    /// CIDRs of the rules.
    pub(crate) cidrs: CidrBounds,
    /// Whether peers must be told apart by class.
    pub(crate) opaque: bool,
    /// Whether a policy of it differs between the two sides of a diff.
    pub(crate) changed: bool,
    /// Whether a rule names a port (resolved against the destination).
    uses_named: bool,
    /// Selections with equal predicates, networks, opacity and use of named ports see
    /// peers alike: the same number for all of them.
    peer_key: u32,
}

/// One side of the analyses: an engine, its policies, and per class and direction the
/// policies selecting it.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) engine: Engine,
    /// Per class, direction (0 ingress, 1 egress) and family (0 IPv4, 1 IPv6): an index
    /// into `sels`.
    pub(crate) sel: Vec<[[u32; 2]; 2]>,
    pub(crate) sels: Vec<SelInfo>,
    /// Every CIDR of the policies (for peers read through Calico's label view).
    pub(crate) all_cidrs: CidrBounds,
}

pub(crate) fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

fn zero(v6: bool) -> std::net::IpAddr {
    if v6 {
        std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    }
}

/// What a policy's rules of one direction read.
#[derive(Debug, Clone, Default)]
struct PolicyDir {
    breaks: Breaks,
    preds: Vec<u32>,
    cidrs: CidrBounds,
    opaque: bool,
    uses_named: bool,
}

impl View {
    /// Reads, per class, direction and family, which policies select it.
    pub(crate) fn new(
        engine: &Engine,
        set: PolicySetRef<'_>,
        classes: &PodClasses,
        preds: &mut Preds,
    ) -> Self {
        let cluster = engine.cluster();
        // Under Felix, a NetworkPolicy's or ClusterNetworkPolicy's selectors may read
        // Calico's label view of a pod, which equals the pod's own labels (and its
        // namespace's) for every key but Calico's own: unless a selector or a label uses
        // those, their peers are grouped as without Felix; otherwise, to be safe, by class.
        let felix = engine.profile().enforces_calico_policy();
        let labels_plain = cluster
            .pods()
            .all(|(_, p)| !p.labels.keys().any(|k| calico_key(k)))
            && cluster
                .namespaces()
                .all(|(_, n)| !n.labels.keys().any(|k| calico_key(k)));
        let felix_opaque = |selectors: &[&Selector]| {
            felix
                && (!labels_plain
                    || selectors
                        .iter()
                        .any(|s| s.requirements().iter().any(|r| calico_key(&r.key))))
        };
        let mut by_ns: Vec<Vec<u32>> = vec![Vec::new(); cluster.namespace_count()];
        for (i, c) in classes.classes.iter().enumerate() {
            if let Some(v) = by_ns.get_mut(c.namespace.index()) {
                v.push(u32::try_from(i).unwrap_or(NONE));
            }
        }
        let mut all_cidrs = CidrBounds::default();
        all_cidrs.policy_set(set);
        all_cidrs.finish();
        let mut all_breaks = Breaks::default();
        all_breaks.policy_set(set);

        let mut per_policy: HashMap<(PolicyKind, usize, usize), PolicyDir> = HashMap::new();
        let mut sel_index: HashMap<(usize, Vec<(PolicyKind, usize)>), u32> = HashMap::new();
        type PeerKey = (Vec<u32>, [Vec<(u8, u128)>; 2], bool, bool);
        let mut peer_index: HashMap<PeerKey, u32> = HashMap::new();
        let mut sels: Vec<SelInfo> = Vec::new();
        let mut sel = Vec::with_capacity(classes.len());
        for c in &classes.classes {
            let mut row = [[NONE; 2]; 2];
            let Some(rep) = c.pods.first() else {
                sel.push(row);
                continue;
            };
            for direction in [Direction::Ingress, Direction::Egress] {
                let di = dir_index(direction);
                for fam in [false, true] {
                    let pod = Endpoint::Pod(*rep);
                    let out = Endpoint::External(zero(fam));
                    let flow = match direction {
                        Direction::Egress => Flow::new(pod, out, 1, Protocol::Tcp),
                        Direction::Ingress => Flow::new(out, pod, 1, Protocol::Tcp),
                    };
                    let why = engine.explain(flow);
                    let side = match direction {
                        Direction::Egress => why.egress,
                        Direction::Ingress => why.ingress,
                    };
                    let key: Vec<(PolicyKind, usize)> =
                        side.policies.iter().map(|p| (p.kind, p.index)).collect();
                    let next = u32::try_from(sels.len()).unwrap_or(NONE);
                    let id = *sel_index.entry((di, key)).or_insert_with(|| {
                        let mut info = SelInfo {
                            policies: side.policies.clone(),
                            isolated: side.isolated,
                            breaks: Breaks::default(),
                            preds: Vec::new(),
                            cidrs: CidrBounds::default(),
                            opaque: false,
                            changed: false,
                            uses_named: false,
                            peer_key: NONE,
                        };
                        for p in &side.policies {
                            let d = per_policy.entry((p.kind, p.index, di)).or_insert_with(|| {
                                policy_dir(
                                    cluster,
                                    classes,
                                    &by_ns,
                                    preds,
                                    set,
                                    p,
                                    direction,
                                    &felix_opaque,
                                )
                                .unwrap_or_else(|| PolicyDir {
                                    breaks: all_breaks.clone(),
                                    opaque: true,
                                    ..PolicyDir::default()
                                })
                            });
                            info.breaks.extend(&d.breaks);
                            info.preds.extend_from_slice(&d.preds);
                            info.cidrs.extend(&d.cidrs);
                            info.opaque |= d.opaque;
                            info.uses_named |= d.uses_named;
                        }
                        info.breaks.finish();
                        info.preds.sort_unstable();
                        info.preds.dedup();
                        info.cidrs.finish();
                        let peer_next = u32::try_from(peer_index.len()).unwrap_or(NONE);
                        info.peer_key = *peer_index
                            .entry((
                                info.preds.clone(),
                                info.cidrs.nets(),
                                info.opaque,
                                info.uses_named,
                            ))
                            .or_insert(peer_next);
                        sels.push(info);
                        next
                    });
                    if let Some(slot) = row.get_mut(di).and_then(|r| r.get_mut(usize::from(fam))) {
                        *slot = id;
                    }
                }
            }
            sel.push(row);
        }
        View {
            engine: engine.clone(),
            sel,
            sels,
            all_cidrs,
        }
    }

    /// The selection of a class for a direction and family.
    pub(crate) fn sel_of(&self, class: u32, di: usize, v6: bool) -> Option<&SelInfo> {
        let id = *self
            .sel
            .get(class as usize)?
            .get(di)?
            .get(usize::from(v6))?;
        self.sels.get(id as usize)
    }

    fn sel_id(&self, class: u32, di: usize, v6: bool) -> u32 {
        self.sel
            .get(class as usize)
            .and_then(|r| r.get(di))
            .and_then(|r| r.get(usize::from(v6)))
            .copied()
            .unwrap_or(NONE)
    }
}

/// What a policy's rules of one direction read; `None` when the reference names no
/// policy of the set.
#[allow(clippy::too_many_arguments)]
fn policy_dir(
    cluster: &Cluster,
    classes: &PodClasses,
    by_ns: &[Vec<u32>],
    preds: &mut Preds,
    set: PolicySetRef<'_>,
    p: &PolicyRef,
    direction: Direction,
    felix_opaque: &dyn Fn(&[&Selector]) -> bool,
) -> Option<PolicyDir> {
    let mut out = PolicyDir::default();
    match p.kind {
        PolicyKind::NetworkPolicy => {
            let np = set.network_policies().get(p.index)?;
            if np.name() != p.name {
                return None;
            }
            out.breaks.network_policy(np, direction);
            out.uses_named = np.rules(direction).iter().any(|r| {
                r.ports
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.port, crate::policy::PortSpec::Named(_)))
            });
            out.cidrs.network_policy(np, direction);
            let own = cluster.namespace_id(np.namespace());
            let peers = np
                .rules(direction)
                .iter()
                .flat_map(|r| r.peers.iter().flatten())
                .flat_map(|peer| match peer {
                    Peer::Pods { namespaces, pods } => vec![Some(pods), namespaces.as_ref()],
                    _ => Vec::new(),
                })
                .flatten();
            let all: Vec<&Selector> = std::iter::once(np.pod_selector()).chain(peers).collect();
            out.opaque = felix_opaque(&all);
            for rule in np.rules(direction) {
                for peer in rule.peers.iter().flatten() {
                    if let Peer::Pods { namespaces, pods } = peer {
                        let ns = match namespaces {
                            None => NsCond::Own(own),
                            Some(s) => NsCond::Sel(s.clone()),
                        };
                        out.preds
                            .push(preds.intern(cluster, classes, by_ns, ns, pods));
                    }
                }
            }
        }
        PolicyKind::ClusterNetworkPolicy => {
            let cnp = set.cluster_policies().get(p.index)?;
            if cnp.name() != p.name {
                return None;
            }
            out.breaks.cluster_policy(cnp, direction);
            let subject = match cnp.subject() {
                crate::policy::Subject::Namespaces(s) => vec![s],
                crate::policy::Subject::Pods { namespaces, pods } => vec![namespaces, pods],
            };
            let peers = cnp
                .rules(direction)
                .iter()
                .flat_map(|r| r.peers())
                .flat_map(|peer| match peer {
                    ClusterPeer::Namespaces(s) | ClusterPeer::Nodes(s) => vec![s],
                    ClusterPeer::Pods { namespaces, pods } => vec![namespaces, pods],
                    _ => Vec::new(),
                });
            let all: Vec<&Selector> = subject.into_iter().chain(peers).collect();
            out.opaque = felix_opaque(&all);
            out.uses_named = cnp.rules(direction).iter().any(|r| {
                r.ports()
                    .unwrap_or(&[])
                    .iter()
                    .any(|p| matches!(p, crate::policy::ClusterPort::Named(_)))
            });
            out.cidrs.cluster_policy(cnp, direction);
            for rule in cnp.rules(direction) {
                for peer in rule.peers() {
                    let (ns, pods) = match peer {
                        ClusterPeer::Namespaces(s) => (s.clone(), Selector::everything()),
                        ClusterPeer::Pods { namespaces, pods } => {
                            (namespaces.clone(), pods.clone())
                        }
                        _ => continue,
                    };
                    out.preds
                        .push(preds.intern(cluster, classes, by_ns, NsCond::Sel(ns), &pods));
                }
            }
        }
        PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy => {
            let cp = set.calico_policies().get(p.index)?;
            if cp.name() != p.name {
                return None;
            }
            out.breaks.calico_policy(cp, direction);
            out.opaque = true;
        }
        _ => return None,
    }
    Some(out)
}

/// Whether a label key is one Calico's label view writes over or adds.
fn calico_key(k: &str) -> bool {
    k.starts_with("projectcalico.org/") || k.starts_with("pcns.") || k.starts_with("pcsa.")
}

/// How the peers of one selection are grouped, for one direction and family: per class
/// of peers, its group.
#[derive(Debug, Clone)]
struct Grouping {
    of: Vec<u32>,
    groups: usize,
}

/// The family of a flow from class `src` to class `dst`.
pub(crate) fn pair_v6(src: &ClassData, dst: &ClassData) -> bool {
    src.family.or(dst.family).unwrap_or(false)
}

/// Computes side answers over one [`View`], caching per class.
#[derive(Debug)]
pub(crate) struct Solver {
    /// Per (direction, selection's peer key, family): the index of its grouping in
    /// `groupings`.
    grouping_index: HashMap<(usize, u32, bool), u32>,
    groupings: Vec<Grouping>,
    /// Per direction, class and family: the index of its grouping, `NONE` not found yet.
    grouping_of: [Vec<[u32; 2]>; 2],
    /// Per direction, class and family: per group, the answer (`NONE` not computed).
    answers: [Vec<[Vec<u32>; 2]>; 2],
    /// Per direction, class and family: the answer for every peer, when its peers form
    /// one group and it is known (`NONE` otherwise).
    constant: [Vec<[u32; 2]>; 2],
}

impl Solver {
    pub(crate) fn new(classes: &PodClasses) -> Self {
        Solver {
            grouping_index: HashMap::new(),
            groupings: Vec::new(),
            grouping_of: [
                vec![[NONE; 2]; classes.len()],
                vec![[NONE; 2]; classes.len()],
            ],
            answers: [
                vec![[Vec::new(), Vec::new()]; classes.len()],
                vec![[Vec::new(), Vec::new()]; classes.len()],
            ],
            constant: [
                vec![[NONE; 2]; classes.len()],
                vec![[NONE; 2]; classes.len()],
            ],
        }
    }

    /// The grouping of the peers of class `here` for direction `di` and family `v6`.
    #[allow(clippy::too_many_arguments)]
    fn grouping(
        &mut self,
        view: &View,
        classes: &PodClasses,
        preds: &Preds,
        di: usize,
        here: u32,
        v6: bool,
    ) -> Option<&Grouping> {
        let slot = self
            .grouping_of
            .get(di)?
            .get(here as usize)?
            .get(usize::from(v6))
            .copied()?;
        if slot != NONE {
            return self.groupings.get(slot as usize);
        }
        let sel = view.sel_id(here, di, v6);
        let peer_key = view.sels.get(sel as usize).map_or(NONE, |s| s.peer_key);
        let id = match self.grouping_index.get(&(di, peer_key, v6)) {
            Some(id) => *id,
            None => {
                let g = make_grouping(view, classes, preds, di, sel, v6);
                let id = u32::try_from(self.groupings.len()).unwrap_or(NONE);
                self.groupings.push(g);
                self.grouping_index.insert((di, peer_key, v6), id);
                id
            }
        };
        if let Some(s) = self
            .grouping_of
            .get_mut(di)
            .and_then(|v| v.get_mut(here as usize))
            .and_then(|r| r.get_mut(usize::from(v6)))
        {
            *s = id;
        }
        self.groupings.get(id as usize)
    }

    /// The ports that side `di` of class `here` allows to or from peer class `peer`;
    /// `None` when the pair holds no two different pods (a class of one pod with itself).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn side(
        &mut self,
        view: &View,
        classes: &PodClasses,
        preds: &Preds,
        table: &mut PortsTable,
        di: usize,
        here: u32,
        peer: u32,
    ) -> Option<u32> {
        let h = classes.data(here)?;
        let p = classes.data(peer)?;
        if here == peer && h.pods.len() < 2 {
            return None;
        }
        let v6 = if di == 1 {
            pair_v6(h, p)
        } else {
            pair_v6(p, h)
        };
        let constant = self
            .constant
            .get(di)
            .and_then(|v| v.get(here as usize))
            .and_then(|r| r.get(usize::from(v6)))
            .copied()
            .unwrap_or(NONE);
        if constant != NONE {
            return Some(constant);
        }
        let sel = view.sel_id(here, di, v6);
        let grouping = self.grouping(view, classes, preds, di, here, v6)?;
        let group = *grouping.of.get(peer as usize)? as usize;
        let groups = grouping.groups;
        let cache = self
            .answers
            .get_mut(di)?
            .get_mut(here as usize)?
            .get_mut(usize::from(v6))?;
        if cache.len() < groups {
            cache.resize(groups, NONE);
        }
        if let Some(id) = cache.get(group).copied().filter(|id| *id != NONE) {
            return Some(id);
        }
        let here_pod = *h.pods.first()?;
        let peer_pod = *p.pods.iter().find(|q| **q != here_pod)?;
        let dst = if di == 1 { p } else { h };
        let (src_pod, dst_pod) = if di == 1 {
            (here_pod, peer_pod)
        } else {
            (peer_pod, here_pod)
        };
        let direction = if di == 1 {
            Direction::Egress
        } else {
            Direction::Ingress
        };
        let empty = Breaks::default();
        let breaks = view.sels.get(sel as usize).map_or(&empty, |s| &s.breaks);
        let ports = decide_ports(
            breaks,
            &dst.named_ports,
            |port, proto| Flow::new(Endpoint::Pod(src_pod), Endpoint::Pod(dst_pod), port, proto),
            |flow| view.engine.decide_direction(flow, direction).is_allowed(),
        );
        let id = table.intern(ports);
        if let Some(slot) = cache.get_mut(group) {
            *slot = id;
        }
        if groups == 1 {
            if let Some(slot) = self
                .constant
                .get_mut(di)
                .and_then(|v| v.get_mut(here as usize))
                .and_then(|r| r.get_mut(usize::from(v6)))
            {
                *slot = id;
            }
        }
        Some(id)
    }

    /// The ports allowed from class `src` to class `dst` (both sides); `None` when the
    /// pair holds no two different pods.
    pub(crate) fn pair(
        &mut self,
        view: &View,
        classes: &PodClasses,
        preds: &Preds,
        table: &mut PortsTable,
        src: u32,
        dst: u32,
    ) -> Option<PairAnswer> {
        let ingress = self.side(view, classes, preds, table, 0, dst, src)?;
        if ingress == EMPTY {
            return Some(PairAnswer {
                egress: NONE,
                ingress,
                both: EMPTY,
            });
        }
        let egress = self.side(view, classes, preds, table, 1, src, dst)?;
        Some(PairAnswer {
            egress,
            ingress,
            both: table.meet(egress, ingress),
        })
    }
}

/// Groups the peer classes of selection `sel` for direction `di` and family `v6`.
fn make_grouping(
    view: &View,
    classes: &PodClasses,
    preds: &Preds,
    di: usize,
    sel: u32,
    v6: bool,
) -> Grouping {
    let info = view.sels.get(sel as usize);
    let opaque = info.is_none_or(|i| i.opaque);
    let mut index: HashMap<(SmallVec<[u64; 2]>, u32, u32), u32> = HashMap::new();
    let mut of = Vec::with_capacity(classes.len());
    // Addresses inside the same networks of every set are inside the same networks of
    // this selection: one search per such set of networks.
    let mut signatures: Vec<(u32, u32)> = Vec::new();
    for (c, data) in classes.classes.iter().enumerate() {
        let c = u32::try_from(c).unwrap_or(NONE);
        let key = match info {
            Some(info) if !opaque => {
                let mut bits: SmallVec<[u64; 2]> =
                    SmallVec::from_elem(0, info.preds.len().div_ceil(64));
                for (i, p) in info.preds.iter().enumerate() {
                    if preds.holds(*p, c) {
                        if let Some(w) = bits.get_mut(i / 64) {
                            *w |= 1u64 << (i % 64);
                        }
                    }
                }
                let interval = if info.cidrs.is_empty() {
                    0
                } else {
                    let global = data.sig.get(usize::from(v6)).copied().unwrap_or(NONE);
                    match signatures.iter().find(|(g, _)| *g == global) {
                        Some((_, local)) => *local,
                        None => {
                            let local = info
                                .cidrs
                                .signature(v6, data.addr.get(usize::from(v6)).copied().flatten());
                            signatures.push((global, local));
                            local
                        }
                    }
                };
                // The destination's named ports matter to egress rules naming ports.
                let named = if di == 1 && info.uses_named {
                    data.named
                } else {
                    0
                };
                (bits, interval, named)
            }
            _ => (SmallVec::new(), c, 0),
        };
        let next = u32::try_from(index.len()).unwrap_or(NONE);
        of.push(*index.entry(key).or_insert(next));
    }
    Grouping {
        of,
        groups: index.len(),
    }
}

/// A pair's answer: each side's ports (`egress` is `NONE` when not computed because the
/// ingress side allows nothing) and what both allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairAnswer {
    pub(crate) egress: u32,
    pub(crate) ingress: u32,
    pub(crate) both: u32,
}

/// Decides one port per interval cut by `breaks` and the destination's named port
/// numbers, per protocol.
pub(crate) fn decide_ports<'f>(
    breaks: &Breaks,
    named: &[(Protocol, u16)],
    flow: impl Fn(u16, Protocol) -> Flow<'f>,
    allowed: impl Fn(Flow<'f>) -> bool,
) -> Ports {
    let mut out = Ports::none();
    let mut starts: Vec<u16> = Vec::new();
    for proto in Protocol::ALL {
        let base = breaks.get(proto);
        let extra = named.iter().filter(|(p, _)| *p == proto);
        let list: &[u16] = if named.iter().any(|(p, _)| *p == proto) {
            starts.clear();
            starts.extend_from_slice(base);
            for (_, n) in extra {
                starts.push(*n);
                if *n < u16::MAX {
                    starts.push(n + 1);
                }
            }
            starts.sort_unstable();
            starts.dedup();
            &starts
        } else {
            base
        };
        for (lo, hi) in intervals(list) {
            if allowed(flow(lo, proto)) {
                out.insert(proto, lo, hi);
            }
        }
    }
    out
}
