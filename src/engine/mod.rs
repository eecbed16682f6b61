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
mod rule_index;

pub use matrix::Matrix;

use std::sync::Arc;

use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::explain::{
    Decision, Explanation, PolicyRef, RuleRef, SideExplanation, Special, Step, TierRef, Verdict,
};
use crate::policy::{Action, AsPolicySet, Direction, DomainPattern, PolicyKind, Protocol};
use crate::profile::Profile;

use bitset::{Bitset, BitsetTable};
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
    /// Sorted block ids.
    blocks: SmallVec<[u32; 4]>,
    /// Whether the blocks match every address (ClusterNetworkPolicy `networks`) rather
    /// than those the profile lets an `ipBlock` match.
    any_address: bool,
    /// Index into `Inner::extras` of the peers only ClusterNetworkPolicy has (nodes,
    /// domain names), `NO_EXTRA` when none: kept apart so that instructions stay small.
    extra: u32,
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
            blocks: SmallVec::new(),
            any_address: false,
            extra: NO_EXTRA,
            value_bits: NO_VALUE_BITS,
        }
    }
}

const NO_VALUE_BITS: u32 = u32::MAX;

/// No [`PeerExtra`].
const NO_EXTRA: u32 = u32::MAX;

/// The peers of an instruction that only ClusterNetworkPolicy rules have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct PeerExtra {
    /// Node bitsets (ids into `Inner::node_sets`).
    node_sets: Vec<u32>,
    /// Domain pattern lists (ids into `Inner::domains`).
    domains: Vec<u32>,
}

/// A prefix-map value not looked up yet.
const NO_VALUE: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct CompiledRule {
    action: Action,
    peers: PeerSet,
    ports: PortSet,
}

/// What an instruction of a tier program does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpCode {
    /// If the flow matches the instruction's ports and peers, its action decides:
    /// `Allow` allows, `Deny` denies, `Pass` ends the tier without a decision; otherwise
    /// go on with the next instruction.
    Match,
    /// The NetworkPolicy tier's default: isolation denies.
    Deny,
    /// End of a ClusterNetworkPolicy tier: no decision here.
    End,
}

/// One instruction of the engine's code: every tier program is a run of instructions
/// ending in [`OpCode::Deny`] or [`OpCode::End`].
#[derive(Debug, Clone)]
struct Instr {
    op: OpCode,
    action: Action,
    ports: PortSet,
    peers: PeerSet,
}

impl Instr {
    fn terminator(op: OpCode) -> Self {
        Instr {
            op,
            action: Action::Allow,
            ports: PortSet::default(),
            peers: PeerSet::default(),
        }
    }
}

/// How a ClusterNetworkPolicy tier decides for a class.
#[derive(Debug, Clone, Copy, Default)]
enum TierProg {
    /// No policy of the tier selects the class.
    #[default]
    Absent,
    /// The class's mask in the direction's rule index.
    Rules(u32),
    /// Instructions from `Inner::code[start]`.
    Code(u32),
}

/// How the NetworkPolicy tier decides for a class.
#[derive(Debug, Clone, Copy, Default)]
enum NetworkProg {
    /// No NetworkPolicy selects the class.
    #[default]
    Absent,
    /// Traffic between a pod and its own node (or itself through a Service), which
    /// NetworkPolicy allows for the pods it selects.
    Allow,
    /// Instructions from `Inner::code[start]`, ending in the tier's default deny.
    Code(u32),
}

/// What decides a class, tier by tier.
#[derive(Debug, Clone, Copy, Default)]
struct ClassHead {
    admin: TierProg,
    network: NetworkProg,
    baseline: TierProg,
}

/// Identities selected for one direction by exactly the same policies.
#[derive(Debug, Clone, Default)]
struct Class {
    /// Selecting policies, in evaluation order; empty = nothing selects.
    policies: Vec<u32>,
    head: ClassHead,
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
    /// Per direction (ingress, egress): its identity's class (the one for traffic between
    /// the pod and its own node is read from the identity).
    class: [u32; 2],
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
    /// Per class: its head, kept apart from the policy lists so that deciding reads a
    /// small dense table.
    heads: Vec<ClassHead>,
    /// Every tier program, one after the other.
    code: Vec<Instr>,
    /// Per direction (ingress, egress): the ClusterNetworkPolicy rules as bit vectors,
    /// when the programs use them.
    rule_index: [rule_index::RuleIndex; 2],
    pod_sets: BitsetTable,
    node_sets: BitsetTable,
    domains: Vec<Vec<DomainPattern>>,
    extras: Vec<PeerExtra>,
    blocks: BlockIndex,
    /// Per instruction with blocks: which prefix-map values it accepts.
    value_bits: BitsetTable,
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
        let bitsets: usize =
            i.pod_sets.heap_bytes() + i.node_sets.heap_bytes() + i.value_bits.heap_bytes();
        let classes: usize = i
            .classes
            .iter()
            .map(|c| c.policies.capacity() * 4 + std::mem::size_of::<Class>())
            .sum::<usize>()
            + i.code.capacity() * std::mem::size_of::<Instr>();
        bitsets
            + classes
            + i.rule_index.iter().map(|r| r.heap_bytes()).sum::<usize>()
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

    /// The class deciding `direction` at `here`.
    #[inline]
    fn class_for(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
    ) -> u32 {
        let exempt = match other {
            Side::Node(..) => self.own_node(here, other, direction),
            _ => flow.via_service && flow.is_hairpin(),
        };
        if exempt {
            return self.class_of(here, other, flow, direction);
        }
        here.class
            .get(dir_index(direction))
            .copied()
            .unwrap_or(NOT_ISOLATED)
    }

    /// The class deciding `direction` at `here` (for explanations).
    fn class_of(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
    ) -> u32 {
        let di = dir_index(direction);
        let exempt = match other {
            Side::Node(..) => self.own_node(here, other, direction),
            _ => flow.is_hairpin(),
        };
        self.identities
            .get(here.identity as usize)
            .map(|info| {
                if exempt {
                    info.own_node_class
                } else {
                    info.class
                }
            })
            .and_then(|c| c.get(di).copied())
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
        let v6 = self.sides_v6(flow, src, dst);
        if let Side::Pod(here) = src {
            let class = self.class_for(here, dst, flow, Direction::Egress);
            if class != NOT_ISOLATED && !self.class_allows(class, 1, flow, dst, v6) {
                return false;
            }
        }
        if let Side::Pod(here) = dst {
            let class = self.class_for(here, src, flow, Direction::Ingress);
            if class != NOT_ISOLATED && !self.class_allows(class, 0, flow, src, v6) {
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

    /// Same rule as [`Cluster::flow_is_v6`], on sides already resolved.
    #[inline]
    fn sides_v6(&self, flow: Flow<'_>, src: Side<'_>, dst: Side<'_>) -> bool {
        if let Endpoint::External(ip) = flow.src {
            return ip.is_ipv6();
        }
        if let Endpoint::External(ip) = flow.dst {
            return ip.is_ipv6();
        }
        let first = |s: Side<'_>| match s {
            Side::Pod(p) => p.addrs.first_v6,
            Side::Node(_, a) => a.first_v6,
            _ => None,
        };
        first(src).or_else(|| first(dst)).unwrap_or(false)
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
        value: &mut u32,
        v6: bool,
    ) -> bool {
        if peers.all {
            return true;
        }
        match other {
            Side::Pod(p) => {
                if peers
                    .pod_sets
                    .iter()
                    .any(|s| self.pod_sets.contains(*s, p.identity as usize))
                {
                    return true;
                }
            }
            Side::Node(n, _) => {
                if let Some(extra) = self.extras.get(peers.extra as usize) {
                    if extra
                        .node_sets
                        .iter()
                        .any(|s| self.node_sets.contains(*s, n as usize))
                    {
                        return true;
                    }
                }
            }
            Side::External(_) => {
                if let (Some(name), Some(extra)) =
                    (flow.domain, self.extras.get(peers.extra as usize))
                {
                    if extra.domains.iter().any(|d| {
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
        if *value == NO_VALUE {
            *value = self.raw_value(other, v6);
        }
        let value = *value;
        if value == 0 {
            return false;
        }
        if self.value_bits.has(peers.value_bits) {
            return self.value_bits.contains(peers.value_bits, value as usize);
        }
        peers.blocks.iter().any(|b| self.blocks.contains(*b, value))
    }

    /// Whether a class allows the flow in direction `di` (0 ingress, 1 egress), given
    /// the other side: its tiers in order.
    #[inline]
    fn class_allows(
        &self,
        class: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> bool {
        let Some(head) = self.heads.get(class as usize) else {
            return true;
        };
        let mut value = NO_VALUE;
        if let Some(allowed) = self.run_tier(head.admin, di, true, flow, other, &mut value, v6) {
            return allowed;
        }
        match head.network {
            NetworkProg::Absent => {}
            NetworkProg::Allow => return true,
            NetworkProg::Code(start) => {
                return self
                    .run_code(start, flow, other, &mut value, v6)
                    .unwrap_or(false);
            }
        }
        self.run_tier(head.baseline, di, false, flow, other, &mut value, v6)
            .unwrap_or(true)
    }

    /// For a class, which of its instructions' port sets a flow matches (they depend on
    /// the flow's destination, port and protocol only), and whether a tier of it is read
    /// through a rule index (whose named ports depend on the destination's).
    fn port_signature(&self, class: u32, flow: Flow<'_>) -> (Vec<bool>, bool) {
        let Some(head) = self.heads.get(class as usize) else {
            return (Vec::new(), false);
        };
        let mut mask = Vec::new();
        let mut uses_index = false;
        let scan = |start: u32, mask: &mut Vec<bool>| {
            for i in self.code.iter().skip(start as usize) {
                if i.op != OpCode::Match {
                    break;
                }
                mask.push(self.ports_match(&i.ports, flow));
            }
        };
        for tier in [head.admin, head.baseline] {
            match tier {
                TierProg::Absent => {}
                TierProg::Rules(_) => uses_index = true,
                TierProg::Code(start) => scan(start, &mut mask),
            }
        }
        if let NetworkProg::Code(start) = head.network {
            scan(start, &mut mask);
        }
        (mask, uses_index)
    }

    /// A ClusterNetworkPolicy tier: `Some(allowed)` when a rule decided, `None` when none
    /// did (or one passed).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn run_tier(
        &self,
        prog: TierProg,
        di: usize,
        admin: bool,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> Option<bool> {
        match prog {
            TierProg::Absent => None,
            TierProg::Code(start) => self.run_code(start, flow, other, value, v6),
            TierProg::Rules(mask) => {
                match self.first_rule(di, mask, admin, flow, other, value, v6)? {
                    Action::Allow => Some(true),
                    Action::Deny => Some(false),
                    _ => None,
                }
            }
        }
    }

    /// Runs the instructions from `pc`: `Some(allowed)` when an `Allow` or `Deny` entry
    /// matched (or the tier's default deny was reached), `None` when the tier ended
    /// without a decision.
    #[inline]
    fn run_code(
        &self,
        mut pc: u32,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> Option<bool> {
        while let Some(i) = self.code.get(pc as usize) {
            match i.op {
                OpCode::Match => {
                    if self.ports_match(&i.ports, flow)
                        && self.peers_match(&i.peers, flow, other, value, v6)
                    {
                        return match i.action {
                            Action::Allow => Some(true),
                            Action::Deny => Some(false),
                            _ => None,
                        };
                    }
                    pc += 1;
                }
                OpCode::Deny => return Some(false),
                OpCode::End => return None,
            }
        }
        None
    }

    /// The action of the first ClusterNetworkPolicy rule of a class mask, in the Admin
    /// tier or the Baseline tier, that matches the flow.
    #[allow(clippy::too_many_arguments)]
    fn first_rule(
        &self,
        di: usize,
        mask: u32,
        admin: bool,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> Option<Action> {
        let index = self.rule_index.get(di)?;
        let (lo, hi) = if admin {
            (0, index.admin_end)
        } else {
            (index.admin_end, rule_count(index))
        };
        let other_rows = match other {
            Side::Pod(p) => rule_index::Other::Pod {
                identity: p.identity,
            },
            Side::Node(n, _) => rule_index::Other::Node { node: n },
            Side::External(_) => rule_index::Other::External,
            Side::Unknown => return None,
        };
        let value_of = || {
            if *value == NO_VALUE {
                *value = self.raw_value(other, v6);
            }
            *value
        };
        let named_ok = |names: &[(Option<Protocol>, u32)]| {
            let dst = match self.side(flow.dst) {
                Side::Pod(p) => Some(p),
                _ => None,
            };
            dst.is_some_and(|info| {
                names.iter().any(|(proto, name)| {
                    proto.is_none_or(|p| p == flow.protocol)
                        && info.named.iter().any(|(n, p, num)| {
                            n == name && *p == flow.protocol && *num == flow.port
                        })
                })
            })
        };
        let domain_check = |lists: &[u32]| {
            flow.domain.is_some_and(|name| {
                lists.iter().any(|d| {
                    self.domains
                        .get(*d as usize)
                        .is_some_and(|list| list.iter().any(|p| p.matches(name)))
                })
            })
        };
        let domain_ok: Option<rule_index::DomainCheck<'_>> = match other {
            Side::External(_) if flow.domain.is_some() => Some(&domain_check),
            _ => None,
        };
        let rule = index.first_match(
            index.mask(mask),
            lo,
            hi,
            flow.protocol,
            flow.port,
            other_rows,
            value_of,
            named_ok,
            domain_ok,
        )?;
        index.actions.get(rule as usize).copied()
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

        let mut value = NO_VALUE;
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

fn rule_count(index: &rule_index::RuleIndex) -> u32 {
    to_u32(index.actions.len())
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
