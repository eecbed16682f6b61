//! The decision walk on sets of flows, at one *key*: a direction, the policies selecting a
//! class of pods (in evaluation order), what the other side's address is, and (at
//! ingress) the named ports the pods declare. Every class with the same key is decided
//! the same way for every flow, except for the flows between a pod and itself or its own
//! node, which the checks handle per class (see [`Specials`]).
//!
//! This follows the tier walk the engine implements (FORMAT.md rules 9–13) for
//! NetworkPolicy and ClusterNetworkPolicy under profiles without Felix: the Admin tier by
//! priority then name (first matching rule decides, `Pass` goes to the next tier), the
//! NetworkPolicy tier when a NetworkPolicy selects the pod (its rules add up; nothing
//! matching is a deny), the Baseline tier, then allow. Flows carrying a DNS name are not
//! modelled: a key with `domainNames` peers is marked uncertain.

use std::rc::Rc;

use super::context::{AddrCtx, Class, Context, PolicyId, RuleId};
use super::sets::{
    Bits, Cuts, FlowSet, PeerSet, Residue, Segment, flow_intersection, flow_subtract,
    flow_union_with,
};
use crate::policy::{Action, ClusterPeer, ClusterPort, ClusterTier, Direction, PortSpec, Protocol};

/// What the walk at a set of classes depends on; `ctx` says which address of the other
/// side flows use (see [`Class::peer_ctx`], and flows given a family).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Key {
    pub(super) dir: Direction,
    pub(super) policies: Vec<PolicyId>,
    pub(super) named: Vec<(String, Protocol, u16)>,
    pub(super) ctx: AddrCtx,
}

impl Key {
    pub(super) fn of(class: &Class, dir: Direction, policies: Vec<PolicyId>) -> Key {
        Key {
            dir,
            policies,
            named: match dir {
                Direction::Ingress => class.named.clone(),
                Direction::Egress => Vec::new(),
            },
            ctx: class.peer_ctx(dir),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TierKind {
    /// First match decides (ClusterNetworkPolicy tiers); the end passes.
    Ordered,
    /// Rules add up; nothing matching denies (NetworkPolicy).
    Union,
}

#[derive(Debug, Clone)]
pub(super) struct Tier {
    pub(super) kind: TierKind,
    /// The policies of the tier at this key, in order, with their rules' flat indexes.
    pub(super) policies: Vec<(PolicyId, std::ops::Range<usize>)>,
}

#[derive(Debug, Clone)]
pub(super) struct SymRule {
    pub(super) id: RuleId,
    pub(super) action: Action,
    pub(super) tier: usize,
    /// The flows it matches, per segment.
    pub(super) m: Vec<Rc<PeerSet>>,
}

/// How the NetworkPolicy tier decides a flow it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    /// By its rules (every flow but a pod's own-node and hairpin flows).
    Rules,
    /// Allowed (a pod's own-node and hairpin flows, where exempt).
    AllowAll,
}

/// What to leave out of a walk.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Without {
    pub(super) rule: Option<usize>,
    pub(super) policy: Option<PolicyId>,
}

pub(super) struct Walk {
    pub(super) allowed: FlowSet,
    /// Per rule: the flows it decided (or passed); empty sets when not recorded.
    pub(super) fired: Vec<FlowSet>,
    /// The flows that reached the NetworkPolicy tier, when it is there.
    pub(super) reached: Option<FlowSet>,
}

pub(super) struct Model {
    pub(super) segs: Vec<Segment>,
    pub(super) rules: Vec<SymRule>,
    pub(super) tiers: Vec<Tier>,
    /// ClusterNetworkPolicy with `domainNames` peers at this key: flows with a DNS name
    /// are not modelled.
    pub(super) domains: bool,
    /// Some of those rules pass: flows with a DNS name may then reach tiers the same
    /// flow without a name does not.
    pub(super) domain_pass: bool,
    /// Whether a ClusterNetworkPolicy takes part.
    pub(super) has_cluster: bool,
    universe: PeerSet,
    empty: Rc<PeerSet>,
}

#[derive(Debug, Clone)]
enum PortEntry {
    Range(Protocol, u16, u16),
    Named(String, Option<Protocol>),
}

fn np_ports(ctx: &Context<'_>, id: RuleId) -> Option<Option<Vec<PortEntry>>> {
    let PolicyId::Network(i) = id.policy else {
        return None;
    };
    let rule = ctx.np(i)?.rules(id.dir).get(id.index)?;
    Some(rule.ports.as_ref().map(|ports| {
        ports
            .iter()
            .map(|p| match &p.port {
                PortSpec::All => PortEntry::Range(p.protocol, 0, u16::MAX),
                PortSpec::Range { start, end } => PortEntry::Range(p.protocol, *start, *end),
                PortSpec::Named(n) => PortEntry::Named(n.clone(), Some(p.protocol)),
            })
            .collect()
    }))
}

fn cnp_ports(ctx: &Context<'_>, id: RuleId) -> Option<Option<Vec<PortEntry>>> {
    let PolicyId::Cluster(i) = id.policy else {
        return None;
    };
    let rule = ctx.cnp(i)?.rules(id.dir).get(id.index)?;
    Some(rule.ports().map(|ports| {
        ports
            .iter()
            .map(|p| match p {
                ClusterPort::Ports {
                    protocol,
                    start,
                    end,
                } => PortEntry::Range(*protocol, *start, *end),
                ClusterPort::Named(n) => PortEntry::Named(n.clone(), None),
            })
            .collect()
    }))
}

impl Model {
    /// The model of a key; `None` when a policy kind it holds is not modelled (Calico's)
    /// or the walk is Felix's (which converts ClusterNetworkPolicy), unless only
    /// NetworkPolicies take part.
    pub(super) fn new(ctx: &Context<'_>, key: Key) -> Option<Model> {
        if key
            .policies
            .iter()
            .any(|p| matches!(p, PolicyId::Calico(_)))
        {
            return None;
        }
        let has_cluster = key
            .policies
            .iter()
            .any(|p| matches!(p, PolicyId::Cluster(_)));
        if has_cluster && ctx.felix() {
            return None;
        }
        // Tiers in walk order, and each policy's rules.
        let tier_of = |p: &PolicyId| match p {
            PolicyId::Cluster(i) => match ctx.cnp(*i).map(|c| c.tier()) {
                Some(ClusterTier::Baseline) => 2,
                _ => 0,
            },
            _ => 1,
        };
        let mut ids: Vec<(usize, PolicyId, usize)> = Vec::new(); // (tier, policy, rule count)
        for p in &key.policies {
            let n = match p {
                PolicyId::Network(i) => ctx.np(*i)?.rules(key.dir).len(),
                PolicyId::Cluster(i) => ctx.cnp(*i)?.rules(key.dir).len(),
                PolicyId::Calico(_) => return None,
            };
            ids.push((tier_of(p), *p, n));
        }
        // The engine lists policies in evaluation order; keep it within each tier.
        ids.sort_by_key(|(t, _, _)| *t);
        let mut rule_ids: Vec<(RuleId, Action, usize)> = Vec::new();
        let mut tiers: Vec<Tier> = Vec::new();
        let mut domains = false;
        let mut domain_pass = false;
        let mut current = None;
        for (t, p, n) in ids {
            if current != Some(t) {
                tiers.push(Tier {
                    kind: if t == 1 {
                        TierKind::Union
                    } else {
                        TierKind::Ordered
                    },
                    policies: Vec::new(),
                });
                current = Some(t);
            }
            let pos = tiers.len() - 1;
            let start = rule_ids.len();
            for index in 0..n {
                let id = RuleId {
                    policy: p,
                    dir: key.dir,
                    index,
                };
                let action = match p {
                    PolicyId::Cluster(i) => {
                        let r = ctx.cnp(i)?.rules(key.dir).get(index)?;
                        let named = r
                            .peers()
                            .iter()
                            .any(|x| matches!(x, ClusterPeer::DomainNames(_)));
                        domains |= named;
                        domain_pass |= named && r.action() == Action::Pass;
                        r.action()
                    }
                    _ => Action::Allow,
                };
                rule_ids.push((id, action, pos));
            }
            if let Some(tier) = tiers.get_mut(pos) {
                tier.policies.push((p, start..rule_ids.len()));
            }
        }
        // Segments.
        let mut ports: Vec<Option<Vec<PortEntry>>> = Vec::with_capacity(rule_ids.len());
        let mut cuts = Cuts::default();
        for (id, _, _) in &rule_ids {
            let entries = match id.policy {
                PolicyId::Network(_) => np_ports(ctx, *id)?,
                _ => cnp_ports(ctx, *id)?,
            };
            for e in entries.iter().flatten() {
                match e {
                    PortEntry::Range(p, a, b) => cuts.range(*p, *a, *b),
                    PortEntry::Named(name, proto) => match key.dir {
                        Direction::Ingress => {
                            for (n, p, num) in &key.named {
                                if n == name && proto.is_none_or(|x| x == *p) {
                                    cuts.single(*p, *num);
                                }
                            }
                        }
                        Direction::Egress => {
                            for (p, num) in ctx.declared_numbers.get(name).into_iter().flatten() {
                                if proto.is_none_or(|x| x == *p) {
                                    cuts.single(*p, *num);
                                }
                            }
                        }
                    },
                }
            }
            ports.push(entries);
        }
        let segs = cuts.segments();
        let empty = Rc::new(PeerSet::default());
        let mut rules = Vec::with_capacity(rule_ids.len());
        for ((id, action, tier), entries) in rule_ids.into_iter().zip(ports) {
            let peers = ctx.rule_peers(id, key.ctx)?;
            let m = segs
                .iter()
                .map(|s| match &entries {
                    None => Rc::clone(&peers),
                    Some(list) => segment_match(ctx, &key, s, list, &peers, &empty),
                })
                .collect();
            rules.push(SymRule {
                id,
                action,
                tier,
                m,
            });
        }
        Some(Model {
            universe: ctx.everything(),
            segs,
            rules,
            tiers,
            domains,
            domain_pass,
            has_cluster,
            empty,
        })
    }

    pub(super) fn universe(&self) -> FlowSet {
        vec![self.universe.clone(); self.segs.len()]
    }

    pub(super) fn empty(&self) -> FlowSet {
        vec![PeerSet::default(); self.segs.len()]
    }

    /// The flows rule `r` matches.
    pub(super) fn matched(&self, r: usize) -> FlowSet {
        self.rules
            .get(r)
            .map(|rule| rule.m.iter().map(|x| (**x).clone()).collect())
            .unwrap_or_else(|| self.empty())
    }

    /// `set ∩ M(r)`.
    pub(super) fn hit(&self, set: &FlowSet, r: usize) -> FlowSet {
        match self.rules.get(r) {
            Some(rule) => set
                .iter()
                .zip(&rule.m)
                .map(|(a, b)| {
                    if b.is_empty() {
                        PeerSet::default()
                    } else {
                        a.intersection(b)
                    }
                })
                .collect(),
            None => self.empty(),
        }
    }

    /// The union of the flows of several rules.
    pub(super) fn union_of(&self, rules: impl Iterator<Item = usize>) -> FlowSet {
        let mut out = self.empty();
        for r in rules {
            if let Some(rule) = self.rules.get(r) {
                for (a, b) in out.iter_mut().zip(&rule.m) {
                    if !Rc::ptr_eq(b, &self.empty) {
                        a.union_with(b);
                    }
                }
            }
        }
        out
    }

    /// Whether the NetworkPolicy tier selects the key's pods once `without` is applied.
    fn np_present(&self, tier: &Tier, without: Without) -> bool {
        tier.policies
            .iter()
            .any(|(p, _)| Some(*p) != without.policy)
    }

    fn skipped(&self, r: usize, without: Without) -> bool {
        without.rule == Some(r)
            || self
                .rules
                .get(r)
                .is_some_and(|rule| Some(rule.id.policy) == without.policy)
    }

    /// Walks every flow through the tiers.
    pub(super) fn walk(&self, without: Without, variant: Variant, record: bool) -> Walk {
        self.walk_from(self.universe(), 0, 0, without, variant, record)
    }

    /// Walks `input` from rule `start` of tier `tier` on.
    pub(super) fn walk_from(
        &self,
        input: FlowSet,
        tier_start: usize,
        rule_start: usize,
        without: Without,
        variant: Variant,
        record: bool,
    ) -> Walk {
        let mut fired = if record {
            vec![Vec::new(); self.rules.len()]
        } else {
            Vec::new()
        };
        let mut cur = input;
        let mut allowed = self.empty();
        let mut reached = None;
        for tier in self.tiers.iter().skip(tier_start) {
            match tier.kind {
                TierKind::Ordered => {
                    let mut passed = self.empty();
                    for (_, range) in &tier.policies {
                        for r in range.clone() {
                            if r < rule_start || self.skipped(r, without) {
                                continue;
                            }
                            let Some(rule) = self.rules.get(r) else {
                                continue;
                            };
                            let hit = self.hit(&cur, r);
                            match rule.action {
                                Action::Allow => {
                                    flow_union_with(&mut allowed, &hit);
                                    flow_subtract(&mut cur, &hit);
                                }
                                Action::Deny => flow_subtract(&mut cur, &hit),
                                Action::Pass => {
                                    flow_union_with(&mut passed, &hit);
                                    flow_subtract(&mut cur, &hit);
                                }
                                _ => {}
                            }
                            if let Some(f) = fired.get_mut(r) {
                                *f = hit;
                            }
                        }
                    }
                    flow_union_with(&mut cur, &passed);
                }
                TierKind::Union => {
                    if !self.np_present(tier, without) {
                        continue;
                    }
                    let rules = tier
                        .policies
                        .iter()
                        .flat_map(|(_, range)| range.clone())
                        .filter(|r| !self.skipped(*r, without));
                    let np = self.union_of(rules);
                    let decided = match variant {
                        Variant::Rules => flow_intersection(&cur, &np),
                        Variant::AllowAll => cur.clone(),
                    };
                    flow_union_with(&mut allowed, &decided);
                    reached = Some(cur);
                    cur = self.empty();
                    break;
                }
            }
        }
        flow_union_with(&mut allowed, &cur);
        Walk {
            allowed,
            fired,
            reached,
        }
    }

    /// The flows that reach flat rule position `r` of tier `tier` (`r` may be the end of
    /// a policy without rules).
    pub(super) fn reaching_at(&self, tier_at: usize, r: usize) -> FlowSet {
        let mut cur = self.universe();
        for (t, tier) in self.tiers.iter().enumerate() {
            match tier.kind {
                TierKind::Ordered => {
                    let mut passed = self.empty();
                    for (_, range) in &tier.policies {
                        for q in range.clone() {
                            if t == tier_at && q >= r {
                                return cur;
                            }
                            let Some(other) = self.rules.get(q) else {
                                continue;
                            };
                            let hit = self.hit(&cur, q);
                            match other.action {
                                Action::Allow | Action::Deny => flow_subtract(&mut cur, &hit),
                                Action::Pass => {
                                    flow_union_with(&mut passed, &hit);
                                    flow_subtract(&mut cur, &hit);
                                }
                                _ => {}
                            }
                        }
                    }
                    if t == tier_at {
                        return cur;
                    }
                    flow_union_with(&mut cur, &passed);
                }
                TierKind::Union => {
                    if t == tier_at {
                        return cur;
                    }
                    if !tier.policies.is_empty() {
                        return self.empty();
                    }
                }
            }
        }
        cur
    }

    /// How the rules `range` alone decide `input`, first match first: the flows they
    /// allow, deny and pass.
    pub(super) fn decide_alone(
        &self,
        range: std::ops::Range<usize>,
        input: &FlowSet,
    ) -> [FlowSet; 3] {
        let mut cur = input.clone();
        let mut out = [self.empty(), self.empty(), self.empty()];
        for r in range {
            let Some(rule) = self.rules.get(r) else {
                continue;
            };
            let slot = match rule.action {
                Action::Allow => 0,
                Action::Deny => 1,
                Action::Pass => 2,
                _ => continue,
            };
            let hit = self.hit(&cur, r);
            flow_subtract(&mut cur, &hit);
            if let Some(o) = out.get_mut(slot) {
                flow_union_with(o, &hit);
            }
        }
        out
    }

    /// Position (tier, first rule) just after rule `r`.
    pub(super) fn after(&self, r: usize) -> (usize, usize) {
        let tier = self.rules.get(r).map_or(0, |x| x.tier);
        (tier, r + 1)
    }
}

fn segment_match(
    ctx: &Context<'_>,
    key: &Key,
    s: &Segment,
    entries: &[PortEntry],
    peers: &Rc<PeerSet>,
    empty: &Rc<PeerSet>,
) -> Rc<PeerSet> {
    let mut named_pods: Option<Bits> = None;
    for e in entries {
        match e {
            PortEntry::Range(p, a, b) => {
                if s.within(*p, *a, *b) {
                    return Rc::clone(peers);
                }
            }
            PortEntry::Named(name, proto) => {
                if !s.is_single() || proto.is_some_and(|x| x != s.protocol) {
                    continue;
                }
                match key.dir {
                    Direction::Ingress => {
                        if key
                            .named
                            .iter()
                            .any(|(n, p, num)| n == name && *p == s.protocol && *num == s.lo)
                        {
                            return Rc::clone(peers);
                        }
                    }
                    Direction::Egress => {
                        if let Some(d) = ctx.declared.get(&(name.clone(), s.protocol, s.lo)) {
                            named_pods.get_or_insert_with(Bits::new).union_with(d);
                        }
                    }
                }
            }
        }
    }
    match named_pods {
        Some(mut pods) => {
            pods.intersect_with(&peers.pods);
            if pods.is_empty() {
                Rc::clone(empty)
            } else {
                Rc::new(PeerSet {
                    pods,
                    ..PeerSet::default()
                })
            }
        }
        None => Rc::clone(empty),
    }
}

/// The flows of a class's pods that policies treat apart, per pod: its traffic with
/// itself and with its own node. Gathered over the class:
/// - `no_a`: elements that are, for every pod of the class, special in a way the
///   NetworkPolicy tier's rules never decide (the intersection over the pods);
/// - `has_b`: elements that, for some pod of the class, are decided by the NetworkPolicy
///   tier as allowed whatever its rules say (the union over the pods).
#[derive(Debug, Clone, Default)]
pub(super) struct Specials {
    pub(super) no_a_pod: Option<usize>,
    pub(super) no_a_node: Option<usize>,
    pub(super) has_b_pods: Bits,
    pub(super) has_b_nodes: Bits,
}

impl Specials {
    pub(super) fn of(ctx: &Context<'_>, class: &Class, d: Direction) -> Specials {
        let felix = ctx.felix();
        let own_exempt = match d {
            Direction::Ingress => ctx.profile.own_node_exempt(),
            Direction::Egress => ctx.profile.pod_to_own_node_exempt(),
        };
        let self_no_a = ctx.profile.self_exempt() && !felix;
        let mut s = Specials::default();
        if let [only] = class.pods.as_slice() {
            if self_no_a {
                s.no_a_pod = Some(*only);
            }
        }
        let node_of = |p: usize| ctx.pods.get(p).and_then(|pod| pod.node).map(|n| n.index());
        if own_exempt {
            let first = class.pods.first().and_then(|p| node_of(*p));
            if first.is_some() && class.pods.iter().all(|p| node_of(*p) == first) {
                s.no_a_node = first;
            }
            for p in &class.pods {
                if let Some(n) = node_of(*p) {
                    s.has_b_nodes.insert(n, ctx.nodes.len());
                }
            }
        }
        if !felix {
            for p in &class.pods {
                s.has_b_pods.insert(*p, ctx.pods.len());
            }
        }
        s
    }

    /// Whether a residue of A-flows holds only elements special for every pod.
    pub(super) fn absorbs(&self, r: &Residue) -> bool {
        if r.ext {
            return false;
        }
        let pods_ok = r.pods.iter().all(|p| Some(p) == self.no_a_pod);
        let nodes_ok = r.nodes.iter().all(|n| Some(n) == self.no_a_node);
        pods_ok && nodes_ok
    }

    /// Whether a residue of B-flows misses every element some pod treats as a B-flow.
    pub(super) fn avoids(&self, r: &Residue) -> bool {
        !r.pods.intersects(&self.has_b_pods) && !r.nodes.intersects(&self.has_b_nodes)
    }
}

/// The symmetric difference of two flow sets.
pub(super) fn flow_xor(a: &FlowSet, b: &FlowSet) -> FlowSet {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let mut d = x.difference(y);
            d.union_with(&y.difference(x));
            d
        })
        .collect()
}
