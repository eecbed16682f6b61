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
//!    any flow but, without Felix (rule 5), for the NetworkPolicy tier, which allows it
//!    for the pods it selects.
//! 4. Otherwise the source must allow the flow as egress and the destination as ingress.
//!    A side that is not a pod allows. Without Felix (rule 5), at a pod, the tiers are
//!    walked in order: the Admin tier (ClusterNetworkPolicies by ascending priority, then
//!    name), the NetworkPolicy tier, the Baseline tier (like Admin). Policy kinds the
//!    profile does not enforce take no part; those that would select the pod are listed
//!    as ignored (Calico's own policies after the others, in the order they were added).
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
//! 5. Where the profile [enforces Calico
//!    policy](crate::profile::Profile::enforces_calico_policy) (calico, canal), a pod's
//!    side is decided as Felix decides it, every policy kind together, read from Calico's
//!    code:
//!    - A pod's own node reaching it is never policed (its policies are still listed);
//!      a pod reaching itself through a Service is policed like any flow.
//!    - **Labels.** Every selector sees an endpoint as Felix does. A pod: its own labels,
//!      then over them `projectcalico.org/namespace`, `projectcalico.org/orchestrator: k8s`
//!      and, for a service account name of 1 to 62 characters,
//!      `projectcalico.org/serviceaccount`; keys it still lacks come from its namespace's
//!      labels under `pcns.` (and `pcns.projectcalico.org/name`) and from
//!      `pcsa.projectcalico.org/name: <service account>`. A NetworkSet: its labels with
//!      `projectcalico.org/namespace` over them, then its namespace's `pcns.` labels; a
//!      GlobalNetworkSet: its labels alone.
//!    - **Tiers.** The Tier objects and the built-in `kube-admin` (order 1,000, default
//!      Pass), `default` (1,000,000, Deny) and `kube-baseline` (10,000,000, Pass), by
//!      ascending order then name; then the tiers only policies name, by name, each ending
//!      in Deny. A Kubernetes NetworkPolicy is in `default` at order 1000, a
//!      ClusterNetworkPolicy in `kube-admin` (Admin) or `kube-baseline` (Baseline) at its
//!      priority, a Calico policy in its tier at its order (absent: after every ordered
//!      one). Equal orders go by the bytes of `name/namespace/kind` (kinds
//!      `NetworkPolicy`, `GlobalNetworkPolicy`, `KubernetesNetworkPolicy`,
//!      `KubernetesClusterNetworkPolicy`).
//!    - **Conversions.** A Kubernetes NetworkPolicy selects with
//!      `projectcalico.org/orchestrator == 'k8s'` and its pod selector, in its namespace,
//!      for its effective `policyTypes`; each rule becomes an `Allow` per protocol and
//!      peer: pod peers as selectors (namespace selectors matched against the `pcns.`
//!      labels; `{}` meaning "in a namespace"; none meaning the policy's namespace),
//!      `ipBlock` as `nets` and `notNets`. A ClusterNetworkPolicy selects pods by
//!      orchestrator, pod selector and namespace selector alike; a rule becomes one rule
//!      per protocol and peer (`namespaces` a bare namespace selector, which network sets
//!      of matching namespaces also meet; `pods` pod and namespace selectors; `networks`
//!      `nets`), except that a rule with a peer Calico cannot convert (`nodes`,
//!      `domainNames`, or anything but `namespaces` and `pods` in ingress) fails: a
//!      `Deny` or `Pass` becomes a `Deny` with no criteria, an `Accept` is dropped. A
//!      converted ClusterNetworkPolicy governs the directions it keeps rules for. A Calico
//!      policy applies to the pods its selector, namespace (a NetworkPolicy's own, a
//!      GlobalNetworkPolicy's `namespaceSelector` under `pcns.`) and
//!      `serviceAccountSelector` (under `pcsa.`) select, with `all()` rewritten as
//!      Calico's update processors rewrite it, for its effective `types`; `doNotTrack`
//!      and `preDNAT` policies never apply to pods.
//!    - **The walk.** For each tier whose policies (enforced, selecting the pod for the
//!      direction) are not none, the policies' rules are tried in order; the first that
//!      matches acts: `Allow` allows, `Deny` denies, `Pass` ends the tier, `Log` is a step
//!      and the walk goes on. Once a Kubernetes NetworkPolicy rule allowed, the rest of
//!      the tier only adds the other Kubernetes NetworkPolicy rules that allow to the
//!      explanation. A tier where nothing decided or passed ends with its default: Deny
//!      decides, Pass goes on. After the last tier the direction is allowed.
//!    - **A rule** matches when: its `ipVersion` is the flow's; every non-empty
//!      `nets`/`notNets` list holds a CIDR of the flow's family and no negated one holds
//!      that family's catch-all; `protocol` is the flow's and `notProtocol` is not; it has
//!      no `icmp`; and on each side (the source and the destination address of the
//!      packet, whatever the direction) the address is in some `nets` and in no `notNets`,
//!      the endpoint belongs to a member (the pod itself, or a network set whose nets hold
//!      the address) that the positive selector matches (the `namespaceSelector` under
//!      `pcns.` with `all()` "in a namespace" and `global()` "in none", or the policy's
//!      namespace; the `serviceAccounts` names and selector under `pcsa.`, the whole
//!      match dropped when a name holds `'`, as Calico's set literal then fails; the
//!      `selector`; with the `notSelector` folded in as `!notSelector` when there is a
//!      positive selector), and to no member the `notSelector` alone matches; and the
//!      destination port is in `ports` (numbers, ranges, or a name the destination pod
//!      declares with the flow's protocol and number, the pod matching the positive
//!      selector) and in no `notPorts`. A rule with source ports, `services` or `notICMP`
//!      cannot be decided: it is taken as not matching, and listed as unsupported when
//!      everything else matches.
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

use crate::calico::{CalicoPolicy, CalicoPolicyKind};
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
    felix: felix::Prep<'a>,
}

mod felix;

/// The walk of one side, as positions: what [`Reference::explain`] turns into names.
struct Walk {
    selecting: Vec<Item>,
    ignored: Vec<Item>,
    allowed_by: Vec<(usize, usize)>,
    steps: Vec<(Item, usize, Action)>,
    unsupported: Vec<(Item, usize)>,
    decision: WalkDecision,
    isolated: bool,
    /// When a tier's default decided: the policies of that tier selecting the pod.
    defaulted: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Network(usize),
    Cluster(usize),
    Calico(usize),
}

enum WalkDecision {
    NotAPod,
    OwnNode,
    Hairpin,
    Unknown,
    Rule(Item, usize, Action),
    NetworkPolicyDefault,
    TierDefault(TierRef),
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
        let policies = policies.as_policy_set();
        Reference {
            cluster,
            policies,
            profile,
            felix: felix::Prep::new(cluster, policies),
        }
    }

    /// The cluster.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let r = netpol::reference::Reference::new(&cluster, &[], Default::default());
    /// assert!(std::ptr::eq(r.cluster(), &cluster));
    /// ```
    #[must_use]
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
    #[must_use]
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
            Item::Calico(_) => self.profile.enforces_calico_policy(),
        }
    }

    fn walk(&self, flow: Flow<'_>, direction: Direction) -> Walk {
        let mut walk = Walk {
            selecting: Vec::new(),
            ignored: Vec::new(),
            allowed_by: Vec::new(),
            steps: Vec::new(),
            unsupported: Vec::new(),
            decision: WalkDecision::Nothing,
            isolated: false,
            defaulted: Vec::new(),
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
        let mut sort = |item: Item, selects: bool| {
            if !selects {
            } else if self.enforced(item) {
                walk.selecting.push(item);
            } else {
                walk.ignored.push(item);
            }
        };
        if felix {
            for item in self.felix.walk_order() {
                sort(item, self.felix_selects(item, pod_id.index(), direction));
            }
        } else {
            for (_, items) in &tiers {
                for &item in items {
                    sort(item, self.selects(item, pod, direction));
                }
            }
            // Calico's own policies, which only Felix enforces.
            for i in 0..self.policies.calico_policies().len() {
                let item = Item::Calico(i);
                sort(item, self.felix_selects(item, pod_id.index(), direction));
            }
        }
        walk.isolated = walk.selecting.iter().any(|i| matches!(i, Item::Network(_)));
        // Felix never polices a node reaching its own pods, whatever the policy kind.
        if own_node && felix && direction == Direction::Ingress {
            walk.decision = WalkDecision::OwnNode;
            return walk;
        }
        if felix {
            self.felix_walk(flow, direction, own_node, &mut walk);
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
                    Item::Calico(_) => {}
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
                    None => {
                        walk.defaulted = items
                            .iter()
                            .copied()
                            .filter(|i| walk.selecting.contains(i))
                            .collect();
                        WalkDecision::NetworkPolicyDefault
                    }
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
            Item::Calico(_) => false,
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
            Item::Calico(i) => {
                let p = self.policies.calico_policies().get(i);
                let kind = match p.map(CalicoPolicy::kind) {
                    Some(CalicoPolicyKind::Global) => PolicyKind::GlobalNetworkPolicy,
                    _ => PolicyKind::CalicoNetworkPolicy,
                };
                PolicyRef::new(
                    kind,
                    i,
                    p.and_then(CalicoPolicy::namespace),
                    p.map_or("", CalicoPolicy::name),
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
            Item::Calico(i) => TierRef::from_calico(
                self.policies
                    .calico_policies()
                    .get(i)
                    .map_or(crate::calico::DEFAULT_TIER, CalicoPolicy::tier),
            ),
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
        side.tier_policies = walk.defaulted.iter().map(|i| self.policy_ref(*i)).collect();
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
        side.unsupported = walk
            .unsupported
            .iter()
            .map(|&(item, r)| RuleRef::new(self.policy_ref(item), direction, r))
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
            WalkDecision::TierDefault(tier) => Decision::TierDefault {
                tier,
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
        WalkDecision::Unknown
        | WalkDecision::NetworkPolicyDefault
        | WalkDecision::TierDefault(_) => false,
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
