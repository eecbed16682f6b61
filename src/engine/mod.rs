//! The compiled decision engine.
//!
//! [`Engine::build`] does the work once. Pods with the same namespace and labels form one
//! *identity* (selectors cannot tell them apart); every selector is resolved against the
//! identities, policies are put in evaluation order (ClusterNetworkPolicy's Admin tier by
//! priority, NetworkPolicy, Baseline by priority), and identities selected by the same
//! policies for a direction share a *class*. Each class is compiled into a short program:
//! its rules in walk order, consecutive rules with one action merged into a group (their
//! order among themselves cannot change a verdict), groups merged by port set, `Pass`
//! groups jumping to the end of their tier, and the NetworkPolicy tier ending in its
//! default deny. Every `ipBlock` and `networks` CIDR is lowered into one
//! longest-prefix-match map; the number of each pod's and node's address is looked up once.
//!
//! [`Engine::decide`] then answers a flow with a few array reads and bit tests per side, at
//! most one prefix lookup (for an address outside the cluster), and allocates nothing. A
//! cluster holding only NetworkPolicy compiles to one group and a deny per class, as fast as
//! before tiers existed. [`Engine::explain`] gives the same [`Explanation`] as the
//! [reference evaluator](crate::reference::Reference).
//!
//! The engine is immutable, `Send + Sync`, cheap to clone (one reference count), and
//! shares the [`Cluster`] it was built from instead of copying it.
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
mod compile;
mod matrix;

pub use matrix::Matrix;

use std::sync::Arc;

use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::explain::{
    Decision, Explanation, PolicyRef, RuleRef, SideExplanation, Special, Step, TierRef, Verdict,
};
use crate::policy::{Action, AsPolicySet, Direction, DomainPattern, PolicyKind, Protocol};
use crate::profile::Profile;

use bitset::Bitset;
use blocks::BlockIndex;

/// Builds an [`Engine`] with options.
///
/// ```
/// use netpol::engine::Engine;
/// use netpol::profile::Profile;
/// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
/// let engine = Engine::builder().profile(Profile::cilium()).build(&cluster, &[]);
/// assert_eq!(engine.profile().name(), "cilium");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EngineBuilder {
    profile: Profile,
}

impl EngineBuilder {
    /// Chooses the plugin profile (the default is [`Profile::conformance`]).
    ///
    /// ```
    /// let b = netpol::engine::Engine::builder().profile(netpol::profile::Profile::conformance());
    /// # let _ = b;
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Compiles `policies` (already validated) against `cluster`. The engine shares the
    /// cluster (cloning a [`Cluster`] copies no data).
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::builder().build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(self, cluster: &Cluster, policies: &(impl AsPolicySet + ?Sized)) -> Engine {
        Engine {
            inner: Arc::new(compile::compile(
                self.profile,
                cluster,
                policies.as_policy_set(),
            )),
        }
    }
}

/// The compiled decision function. See the [module documentation](self).
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::engine::Engine;
/// let cluster = Cluster::builder()
///     .node("node-1", ["192.168.0.11".parse()?])
///     .pod(PodSpec::new("shop", "db").ip("10.244.1.5".parse()?).node("node-1"))
///     .build()?;
/// let engine = Engine::build(&cluster, &[]);
/// let db = Endpoint::Pod(cluster.pod_id("shop", "db").unwrap());
/// let kubelet = Endpoint::Node(cluster.node_id("node-1").unwrap());
/// assert!(engine.decide(Flow::new(kubelet, db, 8080, Default::default())).is_allowed());
/// let shared = engine.clone(); // cheap: the compiled tables are shared
/// assert_eq!(shared.cluster().pod_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// A flow names a pod or node that the engine's cluster does not hold: an id of another
/// cluster, or of an earlier build of it.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::engine::Engine;
/// let old = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let new = old.to_builder().build()?;
/// let stale = Endpoint::Pod(old.pod_id("x", "a").unwrap());
/// let engine = Engine::build(&new, &[]);
/// let err = engine.try_decide(Flow::new(stale, stale, 80, Default::default())).unwrap_err();
/// assert_eq!(err.endpoint, stale);
/// assert!(!engine.decide(Flow::new(stale, stale, 80, Default::default())).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint} is not in the engine's cluster (an id of another cluster, or stale)")]
#[non_exhaustive]
pub struct UnknownEndpoint {
    /// The endpoint that was not found.
    pub endpoint: Endpoint,
}

/// Two ClusterNetworkPolicies of one tier with the same priority that both apply to some
/// pod of this cluster in the same direction: upstream leaves their relative order open
/// (this crate orders them by name).
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::policy::{Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, PolicySet, Subject};
/// use netpol::selector::Selector;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let rule = || ClusterRule::new(Action::Deny, vec![ClusterPeer::Namespaces(Selector::everything())]);
/// let all = || Subject::Namespaces(Selector::everything());
/// let set: PolicySet = [
///     ClusterPolicy::builder("b", ClusterTier::Admin, 5, all()).ingress(rule()).build(),
///     ClusterPolicy::builder("a", ClusterTier::Admin, 5, all()).ingress(rule()).build(),
///     ClusterPolicy::builder("c", ClusterTier::Admin, 5, all()).egress(rule()).build(),
/// ].into_iter().collect();
/// let ties = Engine::build(&cluster, &set).priority_ties();
/// assert_eq!(ties.len(), 1);
/// assert_eq!((ties[0].first.name.as_str(), ties[0].second.name.as_str()), ("a", "b"));
/// // "c" applies to egress only: it never competes with "a" or "b".
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriorityTie {
    /// The policy evaluated first (by name).
    pub first: PolicyRef,
    /// The policy evaluated second.
    pub second: PolicyRef,
    /// Their tier.
    pub tier: TierRef,
    /// Their shared priority.
    pub priority: u32,
}

/// Which ports of which protocols a rule (or a merged group of rules) matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct PortSet {
    /// Numeric ranges, inclusive.
    ranges: SmallVec<[(Protocol, u16, u16); 2]>,
    /// Named ports, by interned name, resolved against the destination pod; a protocol of
    /// `None` takes the flow's.
    named: SmallVec<[(Option<Protocol>, u32); 1]>,
}

/// Which peers a rule (or a merged group of rules) matches.
#[derive(Debug, Clone)]
struct PeerSet {
    all: bool,
    /// Identity bitsets (ids into `Inner::pod_sets`), any of which may hold the peer.
    pod_sets: SmallVec<[u32; 4]>,
    /// Node bitsets (ids into `Inner::node_sets`).
    node_sets: SmallVec<[u32; 2]>,
    /// Sorted block ids.
    blocks: SmallVec<[u32; 4]>,
    /// Whether the blocks match every address (ClusterNetworkPolicy `networks`) rather
    /// than those the profile lets an `ipBlock` match.
    any_address: bool,
    /// Domain pattern lists (ids into `Inner::domains`).
    domains: SmallVec<[u32; 1]>,
    /// For merged class entries: index into `Inner::value_bits`, a bitset over prefix-map
    /// values telling which address lookups meet `blocks`; `NO_VALUE_BITS` to search the
    /// blocks' intervals instead.
    value_bits: u32,
}

impl Default for PeerSet {
    fn default() -> Self {
        PeerSet {
            all: false,
            pod_sets: SmallVec::new(),
            node_sets: SmallVec::new(),
            blocks: SmallVec::new(),
            any_address: false,
            domains: SmallVec::new(),
            value_bits: NO_VALUE_BITS,
        }
    }
}

const NO_VALUE_BITS: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct CompiledRule {
    action: Action,
    peers: PeerSet,
    ports: PortSet,
}

#[derive(Debug, Clone)]
struct Entry {
    ports: PortSet,
    peers: PeerSet,
}

/// One instruction of a class program.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// If an entry of `start..end` matches: `Allow` allows, `Deny` denies, `Pass` jumps
    /// to op `skip` (the first op of the next tier).
    Match {
        action: Action,
        start: u32,
        end: u32,
        skip: u32,
    },
    /// The NetworkPolicy tier's default: isolation denies.
    Deny,
    /// The NetworkPolicy tier for traffic between a pod and its own node: allowed.
    Allow,
}

/// Identities selected for one direction by exactly the same policies.
#[derive(Debug, Clone, Default)]
struct Class {
    /// Selecting policies, in evaluation order; empty = nothing selects.
    policies: Vec<u32>,
    ops: Vec<Op>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Addrs {
    /// Family of the first address, if any.
    first_v6: Option<bool>,
    /// Prefix-map values of the first IPv4 / IPv6 address (0 when none).
    value_v4: u32,
    value_v6: u32,
}

#[derive(Debug, Clone)]
struct PodInfo {
    identity: u32,
    addrs: Addrs,
    node: Option<u32>,
    /// Named container ports: (name id, protocol, number).
    named: SmallVec<[(u32, Protocol, u16); 2]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct IdentityInfo {
    /// Per direction (ingress, egress): the class.
    class: [u32; 2],
    /// Per direction: the class for traffic between a pod and its own node where the
    /// profile exempts it (the NetworkPolicy tier allows whatever its rules say).
    own_node_class: [u32; 2],
}

#[derive(Debug, Clone)]
struct PolicyMeta {
    kind: PolicyKind,
    index: usize,
    namespace: Option<String>,
    name: String,
    tier: TierRef,
    priority: u32,
}

impl PolicyMeta {
    fn policy_ref(&self) -> PolicyRef {
        PolicyRef::new(self.kind, self.index, self.namespace.as_deref(), &self.name)
    }
}

#[derive(Debug)]
struct Inner {
    lineage: u32,
    profile: Profile,
    cluster: Cluster,
    /// Enforced policies, in evaluation order.
    policies: Vec<PolicyMeta>,
    /// Per enforced policy: compiled ingress rules and egress rules.
    rules: Vec<[Vec<CompiledRule>; 2]>,
    /// Policies of kinds the profile does not enforce, with the identities they would
    /// select per direction.
    ignored: Vec<(PolicyMeta, [Option<Bitset>; 2])>,
    pods: Vec<PodInfo>,
    nodes: Vec<Addrs>,
    identities: Vec<IdentityInfo>,
    classes: Vec<Class>,
    pod_sets: Vec<Bitset>,
    node_sets: Vec<Bitset>,
    domains: Vec<Vec<DomainPattern>>,
    blocks: BlockIndex,
    /// Per merged entry with blocks: which prefix-map values it accepts.
    value_bits: Vec<Bitset>,
}

const NOT_ISOLATED: u32 = 0;

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// One side of a flow, resolved against the engine's tables.
#[derive(Clone, Copy)]
enum Side<'a> {
    Pod(&'a PodInfo),
    Node(u32, &'a Addrs),
    External(std::net::IpAddr),
    Unknown,
}

impl Engine {
    /// Compiles `policies` against `cluster` with the default profile.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(cluster: &Cluster, policies: &(impl AsPolicySet + ?Sized)) -> Engine {
        EngineBuilder::default().build(cluster, policies)
    }

    /// Starts a builder, to choose a profile.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::builder().build(&cluster, &[]);
    /// assert_eq!(engine.profile(), &netpol::profile::Profile::default());
    /// ```
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The profile the engine was built with.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.profile().name(), "conformance");
    /// ```
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The cluster the engine was built for (shared, not copied).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.cluster().pod_count(), 1);
    /// ```
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// How many policies take part (policies of kinds the profile does not enforce are
    /// not counted: see [`ignored_policies`](Self::ignored_policies)).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn policy_count(&self) -> usize {
        self.inner.policies.len()
    }

    /// The policies whose kind the profile's plugin does not enforce: they take no part
    /// in any verdict.
    ///
    /// ```
    /// use netpol::cluster::Cluster;
    /// use netpol::engine::Engine;
    /// use netpol::policy::{ClusterPolicy, ClusterTier, PolicySet, Subject};
    /// use netpol::profile::Profile;
    /// use netpol::selector::Selector;
    /// let set: PolicySet = [ClusterPolicy::builder("guard", ClusterTier::Admin, 1,
    ///     Subject::Namespaces(Selector::everything())).build()].into_iter().collect();
    /// let cluster = Cluster::builder().build().unwrap();
    /// let engine = Engine::builder().profile(Profile::cilium()).build(&cluster, &set);
    /// assert_eq!(engine.ignored_policies()[0].to_string(), "cnp/guard");
    /// ```
    pub fn ignored_policies(&self) -> Vec<PolicyRef> {
        self.inner
            .ignored
            .iter()
            .map(|(m, _)| m.policy_ref())
            .collect()
    }

    /// Every pair of ClusterNetworkPolicies of one tier with the same priority that both
    /// apply to some pod for the same direction: their order is left open upstream, so an
    /// analysis may want to flag them. See [`PriorityTie`] for an example.
    pub fn priority_ties(&self) -> Vec<PriorityTie> {
        let i = &*self.inner;
        let mut out = Vec::new();
        let mut seen = ahash::AHashSet::new();
        for class in &i.classes {
            for (a, &x) in class.policies.iter().enumerate() {
                for &y in class.policies.iter().skip(a + 1) {
                    let (Some(p), Some(q)) =
                        (i.policies.get(x as usize), i.policies.get(y as usize))
                    else {
                        continue;
                    };
                    if p.kind == PolicyKind::ClusterNetworkPolicy
                        && q.kind == PolicyKind::ClusterNetworkPolicy
                        && p.tier == q.tier
                        && p.priority == q.priority
                        && seen.insert((x, y))
                    {
                        out.push(PriorityTie {
                            first: p.policy_ref(),
                            second: q.policy_ref(),
                            tier: p.tier.clone(),
                            priority: p.priority,
                        });
                    }
                }
            }
        }
        out
    }

    /// Heap bytes held by the compiled structures (not counting the shared cluster),
    /// approximately: the sum of the capacities of its vectors and tables.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert!(engine.compiled_bytes() > 0);
    /// ```
    pub fn compiled_bytes(&self) -> usize {
        let i = &self.inner;
        let bitsets: usize = i
            .pod_sets
            .iter()
            .chain(&i.node_sets)
            .chain(&i.value_bits)
            .map(Bitset::heap_bytes)
            .sum();
        let classes: usize = i
            .classes
            .iter()
            .map(|c| {
                c.policies.capacity() * 4
                    + c.ops.capacity() * std::mem::size_of::<Op>()
                    + c.entries.capacity() * std::mem::size_of::<Entry>()
            })
            .sum();
        bitsets
            + classes
            + i.blocks.heap_bytes()
            + i.pods.capacity() * std::mem::size_of::<PodInfo>()
            + i.nodes.capacity() * std::mem::size_of::<Addrs>()
            + i.identities.capacity() * std::mem::size_of::<IdentityInfo>()
    }

    /// Whether the flow is allowed. Allocates nothing. A flow naming a pod or node this
    /// engine's cluster does not hold is denied (see [`try_decide`](Self::try_decide)).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let outside = Endpoint::External("198.51.100.1".parse().unwrap());
    /// assert!(engine.decide(Flow::new(outside, a, 443, Default::default())).is_allowed());
    /// ```
    #[inline]
    pub fn decide(&self, flow: Flow<'_>) -> Verdict {
        Verdict::from(self.inner.allows(flow))
    }

    /// Like [`decide`](Self::decide), but a flow naming a pod or node this engine's cluster
    /// does not hold is an error rather than a denial: for callers that keep ids across
    /// rebuilds.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// assert!(engine.try_decide(Flow::new(a, a, 80, Default::default()))?.is_allowed());
    /// # Ok::<(), netpol::engine::UnknownEndpoint>(())
    /// ```
    pub fn try_decide(&self, flow: Flow<'_>) -> Result<Verdict, UnknownEndpoint> {
        let i = &*self.inner;
        for endpoint in [flow.src, flow.dst] {
            if matches!(i.side(endpoint), Side::Unknown) {
                return Err(UnknownEndpoint { endpoint });
            }
        }
        Ok(self.decide(flow))
    }

    /// The verdict with its explanation; equal to the reference evaluator's.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let why = engine.explain(Flow::new(a, a, 80, Default::default()));
    /// assert_eq!(why.special, Some(netpol::explain::Special::SelfTraffic));
    /// ```
    pub fn explain(&self, flow: Flow<'_>) -> Explanation {
        let i = &*self.inner;
        let special = i.special(flow);
        let v6 = i.flow_is_v6(flow);
        let egress = i.explain_side(flow, Direction::Egress, v6);
        let ingress = i.explain_side(flow, Direction::Ingress, v6);
        Explanation::assemble(&i.cluster, flow, special, egress, ingress)
    }
}

impl Inner {
    #[inline]
    fn side(&self, e: Endpoint) -> Side<'_> {
        match e {
            Endpoint::Pod(id) if id.lineage() == self.lineage => {
                self.pods.get(id.index()).map_or(Side::Unknown, Side::Pod)
            }
            Endpoint::Node(id) if id.lineage() == self.lineage => self
                .nodes
                .get(id.index())
                .map_or(Side::Unknown, |a| Side::Node(to_u32(id.index()), a)),
            Endpoint::External(ip) => Side::External(ip),
            _ => Side::Unknown,
        }
    }

    /// Whether, at `here`, the flow is between the pod and its own node and the profile
    /// exempts that direction from NetworkPolicy.
    #[inline]
    fn own_node(&self, here: &PodInfo, other: Side<'_>, direction: Direction) -> bool {
        let Side::Node(node, _) = other else {
            return false;
        };
        let exempt = match direction {
            Direction::Ingress => self.profile.own_node_exempt(),
            Direction::Egress => self.profile.pod_to_own_node_exempt(),
        };
        exempt && here.node == Some(node)
    }

    #[inline]
    fn class_of(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
    ) -> u32 {
        let di = dir_index(direction);
        self.identities
            .get(here.identity as usize)
            .and_then(|info| {
                if self.own_node(here, other, direction) || flow.is_hairpin() {
                    info.own_node_class.get(di)
                } else {
                    info.class.get(di)
                }
            })
            .copied()
            .unwrap_or(NOT_ISOLATED)
    }

    fn allows(&self, flow: Flow<'_>) -> bool {
        if !self.profile.enforces_any() {
            return true;
        }
        let src = self.side(flow.src);
        let dst = self.side(flow.dst);
        if matches!(src, Side::Unknown) || matches!(dst, Side::Unknown) {
            return false;
        }
        if self.profile.self_exempt() && !flow.via_service {
            if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
                if a == b {
                    return true;
                }
            }
        }
        let v6 = self.flow_is_v6(flow);
        if let Side::Pod(here) = src {
            let class = self.class_of(here, dst, flow, Direction::Egress);
            if class != NOT_ISOLATED && !self.run(class, flow, dst, v6) {
                return false;
            }
        }
        if let Side::Pod(here) = dst {
            let class = self.class_of(here, src, flow, Direction::Ingress);
            if class != NOT_ISOLATED && !self.run(class, flow, src, v6) {
                return false;
            }
        }
        true
    }

    fn special(&self, flow: Flow<'_>) -> Option<Special> {
        if !self.profile.enforces_any() {
            return Some(Special::NotEnforced);
        }
        let src = self.side(flow.src);
        let dst = self.side(flow.dst);
        if matches!(src, Side::Unknown) || matches!(dst, Side::Unknown) {
            return Some(Special::UnknownEndpoint);
        }
        if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
            if a == b && !flow.via_service && self.profile.self_exempt() {
                return Some(Special::SelfTraffic);
            }
        }
        let own = |here: Side<'_>, other: Side<'_>, d: Direction| match here {
            Side::Pod(p) => self.own_node(p, other, d),
            _ => false,
        };
        if own(src, dst, Direction::Egress) || own(dst, src, Direction::Ingress) {
            return Some(Special::OwnNode);
        }
        None
    }

    /// Same rule as [`Cluster::flow_is_v6`], on precomputed data.
    #[inline]
    fn flow_is_v6(&self, flow: Flow<'_>) -> bool {
        if let Endpoint::External(ip) = flow.src {
            return ip.is_ipv6();
        }
        if let Endpoint::External(ip) = flow.dst {
            return ip.is_ipv6();
        }
        let first = |e: Endpoint| match self.side(e) {
            Side::Pod(p) => p.addrs.first_v6,
            Side::Node(_, a) => a.first_v6,
            _ => None,
        };
        first(flow.src).or_else(|| first(flow.dst)).unwrap_or(false)
    }

    /// The prefix-map value of the other side's address (0 when none).
    #[inline]
    fn raw_value(&self, other: Side<'_>, v6: bool) -> u32 {
        let pick = |a: &Addrs| if v6 { a.value_v6 } else { a.value_v4 };
        match other {
            Side::External(ip) => self.blocks.lookup(ip),
            Side::Pod(p) => pick(&p.addrs),
            Side::Node(_, a) => pick(a),
            Side::Unknown => 0,
        }
    }

    #[inline]
    fn ports_match(&self, ports: &PortSet, flow: Flow<'_>) -> bool {
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
        let Side::Pod(info) = self.side(flow.dst) else {
            return false;
        };
        ports.named.iter().any(|(proto, name)| {
            proto.is_none_or(|p| p == flow.protocol)
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
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut Option<u32>,
        v6: bool,
    ) -> bool {
        if peers.all {
            return true;
        }
        match other {
            Side::Pod(p) => {
                if peers.pod_sets.iter().any(|s| {
                    self.pod_sets
                        .get(*s as usize)
                        .is_some_and(|b| b.contains(p.identity as usize))
                }) {
                    return true;
                }
            }
            Side::Node(n, _) => {
                if peers.node_sets.iter().any(|s| {
                    self.node_sets
                        .get(*s as usize)
                        .is_some_and(|b| b.contains(n as usize))
                }) {
                    return true;
                }
            }
            Side::External(_) => {
                if let Some(name) = flow.domain {
                    if peers.domains.iter().any(|d| {
                        self.domains
                            .get(*d as usize)
                            .is_some_and(|list| list.iter().any(|p| p.matches(name)))
                    }) {
                        return true;
                    }
                }
            }
            Side::Unknown => return false,
        }
        if peers.blocks.is_empty() {
            return false;
        }
        let eligible = peers.any_address
            || match other {
                Side::Pod(_) => self.profile.ipblock_matches_pods(),
                Side::Node(..) => self.profile.ipblock_matches_nodes(),
                _ => true,
            };
        if !eligible {
            return false;
        }
        let value = *value.get_or_insert_with(|| self.raw_value(other, v6));
        if value == 0 {
            return false;
        }
        if let Some(bits) = self.value_bits.get(peers.value_bits as usize) {
            return bits.contains(value as usize);
        }
        peers.blocks.iter().any(|b| self.blocks.contains(*b, value))
    }

    /// Runs a class program: whether the class allows the flow, given the other side.
    fn run(&self, class: u32, flow: Flow<'_>, other: Side<'_>, v6: bool) -> bool {
        let Some(class) = self.classes.get(class as usize) else {
            return true;
        };
        let mut value = None;
        let mut pc = 0usize;
        while let Some(op) = class.ops.get(pc) {
            match *op {
                Op::Match {
                    action,
                    start,
                    end,
                    skip,
                } => {
                    let entries = class
                        .entries
                        .get(start as usize..end as usize)
                        .unwrap_or_default();
                    let hit = entries.iter().any(|e| {
                        self.ports_match(&e.ports, flow)
                            && self.peers_match(&e.peers, flow, other, &mut value, v6)
                    });
                    if hit {
                        match action {
                            Action::Allow => return true,
                            Action::Deny => return false,
                            _ => {
                                pc = skip as usize;
                                continue;
                            }
                        }
                    }
                    pc += 1;
                }
                Op::Deny => return false,
                Op::Allow => return true,
            }
        }
        true
    }

    fn explain_side(&self, flow: Flow<'_>, direction: Direction, v6: bool) -> SideExplanation {
        let (here_e, other_e) = flow.sides(direction);
        let mut side = SideExplanation::open(&self.cluster, direction, here_e);
        let here = self.side(here_e);
        let other = self.side(other_e);
        let info = match here {
            Side::Pod(info) => info,
            Side::Unknown => {
                side.is_pod = matches!(here_e, Endpoint::Pod(_));
                side.decide(Decision::UnknownEndpoint);
                return side;
            }
            _ => return side,
        };
        side.is_pod = true;
        let di = dir_index(direction);
        for (meta, subjects) in &self.ignored {
            if subjects
                .get(di)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.contains(info.identity as usize))
            {
                side.ignored.push(meta.policy_ref());
            }
        }
        let own_node = self.own_node(info, other, direction);
        let class_id = self.class_of(info, other, flow, direction);
        let Some(class) = self.classes.get(class_id as usize) else {
            side.decide(Decision::NoDecision);
            return side;
        };
        let meta = |p: u32| self.policies.get(p as usize);
        side.policies = class
            .policies
            .iter()
            .filter_map(|p| meta(*p).map(PolicyMeta::policy_ref))
            .collect();
        side.isolated = class
            .policies
            .iter()
            .any(|p| meta(*p).is_some_and(|m| m.kind == PolicyKind::NetworkPolicy));
        for (a, &x) in class.policies.iter().enumerate() {
            for &y in class.policies.iter().skip(a + 1) {
                if let (Some(p), Some(q)) = (meta(x), meta(y)) {
                    if p.kind == PolicyKind::ClusterNetworkPolicy
                        && q.kind == PolicyKind::ClusterNetworkPolicy
                        && p.tier == q.tier
                        && p.priority == q.priority
                    {
                        side.priority_ties.push((p.policy_ref(), q.policy_ref()));
                    }
                }
            }
        }

        let mut value = None;
        let mut decision = Decision::NoDecision;
        let mut skipping: Option<TierRef> = None;
        'policies: for (pos, &p) in class.policies.iter().enumerate() {
            let Some(m) = meta(p) else {
                continue;
            };
            if skipping.as_ref() == Some(&m.tier) {
                continue;
            }
            skipping = None;
            if m.kind == PolicyKind::NetworkPolicy && (own_node || flow.is_hairpin()) {
                decision = if own_node {
                    Decision::OwnNode
                } else {
                    Decision::Hairpin
                };
                break;
            }
            let rules = self
                .rules
                .get(p as usize)
                .and_then(|r| r.get(di))
                .map_or(&[][..], Vec::as_slice);
            for (r, rule) in rules.iter().enumerate() {
                let hit = self.ports_match(&rule.ports, flow)
                    && self.peers_match(&rule.peers, flow, other, &mut value, v6);
                if !hit {
                    continue;
                }
                let rule_ref = RuleRef::new(m.policy_ref(), direction, r);
                if m.kind == PolicyKind::NetworkPolicy {
                    side.allowed_by.push(rule_ref);
                    continue;
                }
                match rule.action {
                    Action::Pass | Action::Log => {
                        side.steps
                            .push(Step::new(m.tier.clone(), rule_ref, rule.action));
                        if rule.action == Action::Pass {
                            skipping = Some(m.tier.clone());
                            continue 'policies;
                        }
                    }
                    action => {
                        decision = Decision::Rule {
                            tier: m.tier.clone(),
                            rule: rule_ref,
                            action,
                        };
                        break 'policies;
                    }
                }
            }
            if m.kind == PolicyKind::NetworkPolicy {
                let last_network = class
                    .policies
                    .get(pos + 1)
                    .and_then(|n| meta(*n))
                    .is_none_or(|n| n.kind != PolicyKind::NetworkPolicy);
                if last_network {
                    decision = match side.allowed_by.first() {
                        Some(rule) => Decision::Rule {
                            tier: TierRef::NetworkPolicy,
                            rule: rule.clone(),
                            action: Action::Allow,
                        },
                        None => Decision::TierDefault {
                            tier: TierRef::NetworkPolicy,
                            action: Action::Deny,
                        },
                    };
                    break;
                }
            }
        }
        side.decide(decision);
        side
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl crate::explain::Evaluator for Engine {
    fn cluster(&self) -> &Cluster {
        Engine::cluster(self)
    }
    fn decide(&self, flow: Flow<'_>) -> Verdict {
        Engine::decide(self, flow)
    }
    fn explain(&self, flow: Flow<'_>) -> Explanation {
        Engine::explain(self, flow)
    }
}
