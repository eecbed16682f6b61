//! The reference evaluator: a deliberately literal reading of the documented semantics.
//!
//! It is the executable specification the compiled [`Engine`](crate::engine::Engine) is
//! held equal to by property tests and fuzzing. It is written to be read, not to be fast:
//! every decision scans every policy, and it shares no matching code with the engine.
//!
//! The rules it follows, in order:
//! 1. If the profile enforces no policy kind, every flow is allowed.
//! 2. A flow naming a pod or node the cluster does not hold is denied.
//! 3. A pod talking to itself is allowed, when the profile says so (the default does);
//!    not when it reaches itself through a Service address (hairpin), which is walked like
//!    any flow but for the NetworkPolicy tier, which allows it for the pods it selects.
//! 4. Otherwise the source must allow the flow as egress and the destination as ingress.
//!    A side that is not a pod allows. At a pod, the tiers are walked in order: the Admin
//!    tier (ClusterNetworkPolicies by ascending priority, then name), the NetworkPolicy
//!    tier, the Baseline tier (like Admin). Policy kinds the profile does not enforce take
//!    no part.
//!    - In a ClusterNetworkPolicy tier, each policy whose subject holds the pod and that
//!      has rules for the direction is read rule by rule; the first rule whose peers match
//!      the other side and whose ports match the flow decides: `Allow` allows, `Deny`
//!      denies, `Pass` ends the tier. A tier where no rule matched decides nothing.
//!    - In the NetworkPolicy tier, the pod is isolated when a policy of its namespace
//!      selects it with the direction in its effective `policyTypes`; then the flow is
//!      allowed when some rule of those policies matches, else denied. Traffic between
//!      an isolated pod and its own node is allowed whatever the rules say, where the
//!      profile exempts it.
//!    - After the last tier, the flow is allowed.
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::Policy;
//! use netpol::reference::Reference;
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("x", "a").label("app", "a").ip("10.0.0.1".parse().unwrap()))
//!     .pod(PodSpec::new("x", "b").label("app", "b").ip("10.0.0.2".parse().unwrap()))
//!     .build()?;
//! // Deny all ingress in namespace x.
//! let policies = [Policy::new(&NetworkPolicy::new("x", "deny-all")).unwrap()];
//! let r = Reference::new(&cluster, &policies, Default::default());
//! let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
//! let b = Endpoint::Pod(cluster.pod_id("x", "b").unwrap());
//! assert!(!r.decide(Flow::new(a, b, 80, Default::default())).is_allowed());
//! assert!(r.decide(Flow::new(a, a, 80, Default::default())).is_allowed()); // self traffic
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

use crate::cluster::{Cluster, Endpoint, Flow, Pod};
use crate::explain::{
    Decision, Explanation, PolicyRef, RuleRef, SideExplanation, Special, Step, TierRef, Verdict,
};
use crate::policy::{
    Action, AsPolicySet, ClusterPeer, ClusterPolicy, ClusterPort, ClusterRule, ClusterTier,
    Direction, Peer, Policy, PolicyKind, PolicySetRef, PortRule, PortSpec, Rule, Subject,
};
use crate::profile::Profile;

/// The literal evaluator over a borrowed cluster and policies.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::profile::Profile;
/// use netpol::reference::Reference;
/// let cluster = Cluster::builder().pod(PodSpec::new("prod", "web").ip("10.244.1.5".parse()?)).build()?;
/// let web = Endpoint::Pod(cluster.pod_id("prod", "web").unwrap());
/// let reference = Reference::new(&cluster, &[], Profile::flannel());
/// let e = reference.explain(Flow::new(Endpoint::External("203.0.113.7".parse()?), web, 80, Default::default()));
/// assert_eq!(e.special, Some(netpol::explain::Special::NotEnforced));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reference<'a> {
    cluster: &'a Cluster,
    policies: PolicySetRef<'a>,
    profile: Profile,
}

/// The walk of one side, as positions: what [`Reference::explain`] turns into names.
struct Walk {
    selecting: Vec<Item>,
    ignored: Vec<Item>,
    allowed_by: Vec<(usize, usize)>,
    steps: Vec<(Item, usize, Action)>,
    decision: WalkDecision,
    isolated: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Item {
    Network(usize),
    Cluster(usize),
}

enum WalkDecision {
    NotAPod,
    OwnNode,
    Hairpin,
    Unknown,
    Rule(Item, usize, Action),
    NetworkPolicyDefault,
    Nothing,
}

impl<'a> Reference<'a> {
    /// An evaluator for `policies` (already validated) over `cluster`.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let r = netpol::reference::Reference::new(&cluster, &[], Default::default());
    /// assert_eq!(r.cluster().pod_count(), 0);
    /// ```
    pub fn new(
        cluster: &'a Cluster,
        policies: &'a (impl AsPolicySet + ?Sized),
        profile: Profile,
    ) -> Self {
        Reference {
            cluster,
            policies: policies.as_policy_set(),
            profile,
        }
    }

    /// The cluster.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let r = netpol::reference::Reference::new(&cluster, &[], Default::default());
    /// assert!(std::ptr::eq(r.cluster(), &cluster));
    /// ```
    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// Whether the flow is allowed: the same walk as [`Reference::explain`], without
    /// naming anything.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::{Policy, Protocol};
    /// # use netpol::reference::Reference;
    /// let cluster = Cluster::builder().pod(PodSpec::new("prod", "db").ip("10.244.1.5".parse()?)).build()?;
    /// let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
    /// let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
    /// let outside = Endpoint::External("203.0.113.7".parse()?);
    /// let reference = Reference::new(&cluster, &policies, Default::default());
    /// assert!(!reference.decide(Flow::new(outside, db, 5432, Protocol::Tcp)).is_allowed());
    /// assert!(reference.decide(Flow::new(db, outside, 443, Protocol::Tcp)).is_allowed()); // egress not isolated
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide(&self, flow: Flow<'_>) -> Verdict {
        match self.special(flow) {
            Some(Special::NotEnforced | Special::SelfTraffic) => Verdict::Allow,
            Some(Special::UnknownEndpoint) => Verdict::Deny,
            _ => Verdict::from(
                walk_allows(&self.walk(flow, Direction::Egress))
                    && walk_allows(&self.walk(flow, Direction::Ingress)),
            ),
        }
    }

    /// The verdict with its explanation.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::{Policy, Protocol};
    /// # use netpol::reference::Reference;
    /// let cluster = Cluster::builder().pod(PodSpec::new("prod", "db").ip("10.244.1.5".parse()?)).build()?;
    /// let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
    /// let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
    /// let outside = Endpoint::External("203.0.113.7".parse()?);
    /// let e = Reference::new(&cluster, &policies, Default::default())
    ///     .explain(Flow::new(outside, db, 5432, Protocol::Tcp));
    /// assert_eq!(e.flow, "203.0.113.7 -> prod/db 5432/TCP");
    /// assert!(!e.verdict.is_allowed() && e.egress.allowed && !e.ingress.allowed);
    /// assert_eq!(e.ingress.policies[0].name, "default-deny");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, flow: Flow<'_>) -> Explanation {
        let special = self.special(flow);
        let egress = self.side(flow, Direction::Egress);
        let ingress = self.side(flow, Direction::Ingress);
        Explanation::assemble(self.cluster, flow, special, egress, ingress)
    }

    fn known(&self, e: Endpoint) -> bool {
        match e {
            Endpoint::Pod(id) => self.cluster.pod(id).is_some(),
            Endpoint::Node(id) => self.cluster.node(id).is_some(),
            Endpoint::External(_) => true,
        }
    }

    fn special(&self, flow: Flow<'_>) -> Option<Special> {
        if !self.profile.enforces_any() {
            return Some(Special::NotEnforced);
        }
        if !self.known(flow.src) || !self.known(flow.dst) {
            return Some(Special::UnknownEndpoint);
        }
        if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
            if a == b && !flow.via_service && self.profile.self_exempt() {
                return Some(Special::SelfTraffic);
            }
        }
        if self.own_node(flow, Direction::Egress) || self.own_node(flow, Direction::Ingress) {
            return Some(Special::OwnNode);
        }
        None
    }

    /// Whether, at this side, the flow is between a pod and its own node and the profile
    /// exempts that direction from NetworkPolicy.
    fn own_node(&self, flow: Flow<'_>, direction: Direction) -> bool {
        let (here, other) = flow.sides(direction);
        let (Endpoint::Pod(pod), Endpoint::Node(node)) = (here, other) else {
            return false;
        };
        let exempt = match direction {
            Direction::Ingress => self.profile.own_node_exempt(),
            Direction::Egress => self.profile.pod_to_own_node_exempt(),
        };
        exempt && self.cluster.pod(pod).is_some_and(|p| p.node == Some(node))
    }

    /// Admin, NetworkPolicy and Baseline tiers, each a list of its policies in
    /// evaluation order.
    fn tiers(&self) -> [(TierRef, Vec<Item>); 3] {
        let cluster_tier = |tier: ClusterTier| {
            let mut list: Vec<(u32, &str, usize)> = self
                .policies
                .cluster_policies()
                .iter()
                .enumerate()
                .filter(|(_, p)| p.tier() == tier)
                .map(|(i, p)| (p.priority(), p.name(), i))
                .collect();
            list.sort();
            list.into_iter().map(|(_, _, i)| Item::Cluster(i)).collect()
        };
        [
            (TierRef::Admin, cluster_tier(ClusterTier::Admin)),
            (
                TierRef::NetworkPolicy,
                (0..self.policies.network_policies().len())
                    .map(Item::Network)
                    .collect(),
            ),
            (TierRef::Baseline, cluster_tier(ClusterTier::Baseline)),
        ]
    }

    fn enforced(&self, item: Item) -> bool {
        match item {
            Item::Network(_) => self.profile.enforces_network_policy(),
            Item::Cluster(_) => self.profile.enforces_cluster_network_policy(),
        }
    }

    fn walk(&self, flow: Flow<'_>, direction: Direction) -> Walk {
        let mut walk = Walk {
            selecting: Vec::new(),
            ignored: Vec::new(),
            allowed_by: Vec::new(),
            steps: Vec::new(),
            decision: WalkDecision::Nothing,
            isolated: false,
        };
        let (here, other) = flow.sides(direction);
        let Endpoint::Pod(pod_id) = here else {
            walk.decision = if self.known(here) {
                WalkDecision::NotAPod
            } else {
                WalkDecision::Unknown
            };
            return walk;
        };
        let Some(pod) = self.cluster.pod(pod_id) else {
            walk.decision = WalkDecision::Unknown;
            return walk;
        };
        let own_node = self.own_node(flow, direction);
        // Felix polices a pod reaching itself through a Service like any flow: the
        // filter sees the pod's own address before kube-proxy's masquerade.
        let felix = self.profile.enforces_calico_policy();
        let hairpin = flow.is_hairpin() && !felix;
        let tiers = self.tiers();

        // Who selects the pod, in evaluation order, and who would but is not enforced.
        for (_, items) in &tiers {
            for &item in items {
                if !self.selects(item, pod, direction) {
                    continue;
                }
                if self.enforced(item) {
                    walk.selecting.push(item);
                } else {
                    walk.ignored.push(item);
                }
            }
        }
        walk.isolated = walk.selecting.iter().any(|i| matches!(i, Item::Network(_)));
        // Felix never polices a node reaching its own pods, whatever the policy kind.
        if own_node && felix && direction == Direction::Ingress {
            walk.decision = WalkDecision::OwnNode;
            return walk;
        }

        'tiers: for (tier, items) in &tiers {
            let mut network_selected = false;
            for &item in items {
                if !walk.selecting.contains(&item) {
                    continue;
                }
                match item {
                    Item::Network(_) if own_node || hairpin => network_selected = true,
                    Item::Network(i) => {
                        network_selected = true;
                        let Some(policy) = self.policies.network_policies().get(i) else {
                            continue;
                        };
                        for (r, rule) in policy.rules(direction).iter().enumerate() {
                            if self.network_rule_matches(policy, rule, flow, other) {
                                walk.allowed_by.push((i, r));
                            }
                        }
                    }
                    Item::Cluster(i) => {
                        let Some(policy) = self.policies.cluster_policies().get(i) else {
                            continue;
                        };
                        for (r, rule) in policy.rules(direction).iter().enumerate() {
                            if !self.cluster_rule_matches(rule, flow, other) {
                                continue;
                            }
                            match rule.action() {
                                Action::Pass => {
                                    walk.steps.push((item, r, Action::Pass));
                                    continue 'tiers;
                                }
                                Action::Log => walk.steps.push((item, r, Action::Log)),
                                action => {
                                    walk.decision = WalkDecision::Rule(item, r, action);
                                    return walk;
                                }
                            }
                        }
                    }
                }
            }
            if *tier == TierRef::NetworkPolicy && network_selected {
                walk.decision = match walk.allowed_by.first() {
                    _ if own_node => WalkDecision::OwnNode,
                    _ if hairpin => WalkDecision::Hairpin,
                    Some(&(i, r)) => WalkDecision::Rule(Item::Network(i), r, Action::Allow),
                    None => WalkDecision::NetworkPolicyDefault,
                };
                return walk;
            }
        }
        walk
    }

    fn selects(&self, item: Item, pod: &Pod, direction: Direction) -> bool {
        let Some(ns) = self.cluster.namespace(pod.namespace) else {
            return false;
        };
        match item {
            Item::Network(i) => self.policies.network_policies().get(i).is_some_and(|p| {
                p.namespace() == ns.name
                    && p.affects(direction)
                    && p.pod_selector().matches(&pod.labels)
            }),
            Item::Cluster(i) => self.policies.cluster_policies().get(i).is_some_and(|p| {
                p.affects(direction)
                    && match p.subject() {
                        Subject::Namespaces(sel) => sel.matches(&ns.labels),
                        Subject::Pods { namespaces, pods } => {
                            namespaces.matches(&ns.labels) && pods.matches(&pod.labels)
                        }
                    }
            }),
        }
    }

    fn policy_ref(&self, item: Item) -> PolicyRef {
        match item {
            Item::Network(i) => {
                let p = self.policies.network_policies().get(i);
                PolicyRef::new(
                    PolicyKind::NetworkPolicy,
                    i,
                    p.map(Policy::namespace),
                    p.map_or("", Policy::name),
                )
            }
            Item::Cluster(i) => {
                let p = self.policies.cluster_policies().get(i);
                PolicyRef::new(
                    PolicyKind::ClusterNetworkPolicy,
                    i,
                    None,
                    p.map_or("", ClusterPolicy::name),
                )
            }
        }
    }

    fn tier_of(&self, item: Item) -> TierRef {
        match item {
            Item::Network(_) => TierRef::NetworkPolicy,
            Item::Cluster(i) => match self.policies.cluster_policies().get(i).map(|p| p.tier()) {
                Some(ClusterTier::Baseline) => TierRef::Baseline,
                _ => TierRef::Admin,
            },
        }
    }

    fn side(&self, flow: Flow<'_>, direction: Direction) -> SideExplanation {
        let (here, _) = flow.sides(direction);
        let mut side = SideExplanation::open(self.cluster, direction, here);
        let walk = self.walk(flow, direction);
        side.is_pod = matches!(here, Endpoint::Pod(_));
        side.policies = walk.selecting.iter().map(|i| self.policy_ref(*i)).collect();
        side.ignored = walk.ignored.iter().map(|i| self.policy_ref(*i)).collect();
        side.isolated = walk.isolated;
        for (a, x) in walk.selecting.iter().enumerate() {
            for y in walk.selecting.iter().skip(a + 1) {
                if let (Item::Cluster(i), Item::Cluster(j)) = (x, y) {
                    let (Some(p), Some(q)) = (
                        self.policies.cluster_policies().get(*i),
                        self.policies.cluster_policies().get(*j),
                    ) else {
                        continue;
                    };
                    if p.tier() == q.tier() && p.priority() == q.priority() {
                        side.priority_ties
                            .push((self.policy_ref(*x), self.policy_ref(*y)));
                    }
                }
            }
        }
        side.allowed_by = walk
            .allowed_by
            .iter()
            .map(|&(i, r)| RuleRef::new(self.policy_ref(Item::Network(i)), direction, r))
            .collect();
        side.steps = walk
            .steps
            .iter()
            .map(|&(item, r, action)| {
                Step::new(
                    self.tier_of(item),
                    RuleRef::new(self.policy_ref(item), direction, r),
                    action,
                )
            })
            .collect();
        let decision = match walk.decision {
            WalkDecision::NotAPod => Decision::NotAPod,
            WalkDecision::Unknown => Decision::UnknownEndpoint,
            WalkDecision::Nothing => Decision::NoDecision,
            WalkDecision::OwnNode => Decision::OwnNode,
            WalkDecision::Hairpin => Decision::Hairpin,
            WalkDecision::NetworkPolicyDefault => Decision::TierDefault {
                tier: TierRef::NetworkPolicy,
                action: Action::Deny,
            },
            WalkDecision::Rule(item, r, action) => Decision::Rule {
                tier: self.tier_of(item),
                rule: RuleRef::new(self.policy_ref(item), direction, r),
                action,
            },
        };
        side.decide(decision);
        side
    }

    fn network_rule_matches(
        &self,
        policy: &Policy,
        rule: &Rule,
        flow: Flow<'_>,
        other: Endpoint,
    ) -> bool {
        let peer_ok = match &rule.peers {
            None => true,
            Some(peers) => peers
                .iter()
                .any(|peer| self.network_peer_matches(policy, peer, flow, other)),
        };
        let port_ok = match &rule.ports {
            None => true,
            Some(ports) => ports.iter().any(|p| self.network_port_matches(p, flow)),
        };
        peer_ok && port_ok
    }

    fn network_peer_matches(
        &self,
        policy: &Policy,
        peer: &Peer,
        flow: Flow<'_>,
        other: Endpoint,
    ) -> bool {
        match peer {
            Peer::Pods { namespaces, pods } => {
                let Endpoint::Pod(id) = other else {
                    return false;
                };
                let Some(pod) = self.cluster.pod(id) else {
                    return false;
                };
                let Some(ns) = self.cluster.namespace(pod.namespace) else {
                    return false;
                };
                let ns_ok = match namespaces {
                    None => ns.name == policy.namespace(),
                    Some(sel) => sel.matches(&ns.labels),
                };
                ns_ok && pods.matches(&pod.labels)
            }
            Peer::IpBlock(block) => {
                let eligible = match other {
                    Endpoint::Pod(_) => self.profile.ipblock_matches_pods(),
                    Endpoint::Node(_) => self.profile.ipblock_matches_nodes(),
                    Endpoint::External(_) => true,
                };
                eligible
                    && self
                        .cluster
                        .address(flow, other)
                        .is_some_and(|addr| block.contains(addr))
            }
        }
    }

    /// Whether the destination pod declares a container port `name` of the flow's
    /// protocol whose number is the flow's port.
    fn named_port_matches(&self, name: &str, flow: Flow<'_>) -> bool {
        let Endpoint::Pod(id) = flow.dst else {
            return false;
        };
        self.cluster.pod(id).is_some_and(|pod| {
            pod.ports.iter().any(|cp| {
                cp.name.as_deref() == Some(name)
                    && cp.protocol == flow.protocol
                    && cp.port == flow.port
            })
        })
    }

    fn network_port_matches(&self, rule: &PortRule, flow: Flow<'_>) -> bool {
        if rule.protocol != flow.protocol {
            return false;
        }
        match &rule.port {
            PortSpec::Named(name) => self.named_port_matches(name, flow),
            other => other.contains_number(flow.port),
        }
    }

    fn cluster_rule_matches(&self, rule: &ClusterRule, flow: Flow<'_>, other: Endpoint) -> bool {
        let peer_ok = rule
            .peers()
            .iter()
            .any(|peer| self.cluster_peer_matches(peer, flow, other));
        let port_ok = match rule.ports() {
            None => true,
            Some(ports) => ports.iter().any(|p| match p {
                ClusterPort::Named(name) => self.named_port_matches(name, flow),
                numbered => numbered.contains(flow.protocol, flow.port),
            }),
        };
        peer_ok && port_ok
    }

    fn cluster_peer_matches(&self, peer: &ClusterPeer, flow: Flow<'_>, other: Endpoint) -> bool {
        let pod_in = |ns_sel: &crate::selector::Selector,
                      pod_sel: Option<&crate::selector::Selector>| {
            let Endpoint::Pod(id) = other else {
                return false;
            };
            let Some(pod) = self.cluster.pod(id) else {
                return false;
            };
            self.cluster
                .namespace(pod.namespace)
                .is_some_and(|ns| ns_sel.matches(&ns.labels))
                && pod_sel.is_none_or(|s| s.matches(&pod.labels))
        };
        match peer {
            ClusterPeer::Namespaces(sel) => pod_in(sel, None),
            ClusterPeer::Pods { namespaces, pods } => pod_in(namespaces, Some(pods)),
            ClusterPeer::Networks(nets) => self
                .cluster
                .address(flow, other)
                .is_some_and(|addr| nets.iter().any(|n| n.contains(&addr))),
            ClusterPeer::Nodes(sel) => match other {
                Endpoint::Node(id) => self
                    .cluster
                    .node(id)
                    .is_some_and(|n| sel.matches(&n.labels)),
                _ => false,
            },
            ClusterPeer::DomainNames(patterns) => match (other, flow.domain) {
                (Endpoint::External(_), Some(name)) => patterns.iter().any(|p| p.matches(name)),
                _ => false,
            },
        }
    }
}

fn walk_allows(walk: &Walk) -> bool {
    match walk.decision {
        WalkDecision::NotAPod
        | WalkDecision::OwnNode
        | WalkDecision::Hairpin
        | WalkDecision::Nothing => true,
        WalkDecision::Unknown | WalkDecision::NetworkPolicyDefault => false,
        WalkDecision::Rule(_, _, action) => action == Action::Allow,
    }
}

impl crate::explain::Evaluator for Reference<'_> {
    fn cluster(&self) -> &Cluster {
        self.cluster
    }
    fn decide(&self, flow: Flow<'_>) -> Verdict {
        Reference::decide(self, flow)
    }
    fn explain(&self, flow: Flow<'_>) -> Explanation {
        Reference::explain(self, flow)
    }
}
