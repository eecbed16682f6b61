//! The compiled decision engine.
//!
//! [`Engine::build`] does the work once: it resolves every selector against the cluster,
//! groups pods that the same policies select into classes, merges each class's rules by
//! port set, and lowers every `ipBlock` into one longest-prefix-match map over all the
//! `cidr` and `except` networks. The map numbers the networks so that each block is a
//! short list of intervals of those numbers; nothing is stored per (network, block) pair.
//! The number of each pod's and node's address is looked up once, at build time.
//! [`Engine::decide`] then answers a flow with a few array reads and bit tests (or, when
//! the per-rule bitsets over those numbers would be too large, a binary search in a
//! block's intervals), at most one prefix lookup (for an address outside the cluster),
//! and allocates nothing. [`Engine::explain`] gives the same [`Explanation`] as the
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
mod compile;
mod matrix;

pub use matrix::Matrix;

use std::sync::Arc;

use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::explain::{Explanation, PolicyRef, RuleRef, SideExplanation, Special, Verdict};
use crate::policy::{Direction, Policy, Protocol};
use crate::profile::Profile;

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
    ///
    /// ```
    /// let b = netpol::engine::Engine::builder().profile(netpol::profile::Profile::conformance());
    /// # let _ = b;
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Compiles `policies` (already validated) against `cluster`.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::builder().build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(self, cluster: &Cluster, policies: &[Policy]) -> Engine {
        Engine {
            inner: Arc::new(compile::compile(self.profile, cluster, policies)),
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
/// assert_eq!(shared.cluster().pods().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
#[derive(Debug, Clone)]
struct PeerSet {
    all: bool,
    /// Pod bitsets (ids into `Inner::bitsets`), any of which may hold the peer.
    pod_sets: SmallVec<[u32; 4]>,
    /// Sorted ipBlock ids.
    blocks: SmallVec<[u32; 4]>,
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
            value_bits: NO_VALUE_BITS,
        }
    }
}

const NO_VALUE_BITS: u32 = u32::MAX;

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
    /// Prefix-map values of the first IPv4 / IPv6 address (0 when none).
    value_v4: u32,
    value_v6: u32,
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
    /// Per merged entry with ipBlocks: which block-set ids it accepts.
    value_bits: Vec<Bitset>,
}

const NOT_ISOLATED: u32 = 0;

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
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
    /// assert_eq!(engine.profile().name, "conformance");
    /// ```
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The cluster the engine was built for (its own copy).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.cluster().pods().len(), 1);
    /// ```
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// How many policies were compiled.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn policy_count(&self) -> usize {
        self.inner.policy_names.len()
    }

    /// Heap bytes held by the compiled structures (not counting the cluster copy),
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
            .bitsets
            .iter()
            .chain(&i.value_bits)
            .map(Bitset::heap_bytes)
            .sum();
        let classes: usize = i
            .classes
            .iter()
            .map(|c| {
                c.policies.capacity() * 4 + c.entries.capacity() * std::mem::size_of::<Entry>()
            })
            .sum();
        let sets: usize = i.blocks.heap_bytes();
        bitsets
            + classes
            + sets
            + i.pods.capacity() * std::mem::size_of::<PodInfo>()
            + i.nodes.capacity() * std::mem::size_of::<Addrs>()
    }

    /// Whether the flow is allowed. Allocates nothing.
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
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let why = engine.explain(Flow::new(a, a, 80, Default::default()));
    /// assert_eq!(why.special, Some(netpol::explain::Special::SelfTraffic));
    /// ```
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
                if p.own_node_exempt && self.pod_on_node(pod.index(), node.index() as u32) =>
            {
                Some(Special::OwnNode)
            }
            (Endpoint::Pod(pod), Endpoint::Node(node))
                if p.pod_to_own_node_exempt && self.pod_on_node(pod.index(), node.index() as u32) =>
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

    /// The prefix-map value of the other side's address (0 when ipBlocks cannot match it).
    #[inline]
    fn other_value(&self, other: Endpoint, v6: bool) -> u32 {
        let pick = |a: &Addrs| if v6 { a.value_v6 } else { a.value_v4 };
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
        let value = *blocks.get_or_insert_with(|| self.other_value(other, v6));
        if value == 0 {
            return false;
        }
        if let Some(bits) = self.value_bits.get(peers.value_bits as usize) {
            return bits.contains(value as usize);
        }
        peers.blocks.iter().any(|b| self.blocks.contains(*b, value))
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
        let (here, other) = flow.sides(direction);
        let mut side = SideExplanation::open(&self.cluster, direction, here);
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
