//! Incremental updates: a [`LiveEngine`] applies changes to the cluster and the policies
//! (as a controller sees them in watch events) and yields a **new** value for each, sharing
//! every unchanged part with the old one. Readers holding the old value keep deciding on
//! it, undisturbed; a controller swaps the new one in (an `Arc`, an `ArcSwap`, a channel)
//! when it likes. Nothing is ever changed in place, so no reader can see half a change.
//!
//! # What is shared, what is copied
//!
//! An [`Engine`] is three parts:
//! - the **cluster** (namespaces, nodes, pods and their name and address indexes), in
//!   persistent tables: pods and nodes in chunks of 256 behind reference counts, the
//!   indexes in hash maps split into 4,096 shards behind two levels of reference counts;
//! - the **pod table**, what deciding reads of each pod (its identity, classes, peer rows,
//!   prefix-map values, named ports), in the same chunked form;
//! - the **compiled core**: identities, classes and their programs, the rule indexes, the
//!   longest-prefix-match map of every `ipBlock`. Behind one reference count.
//!
//! A change to a pod copies the chunk of the pod table holding it, one chunk of the
//! cluster's pod table, one shard of the name index and one per address it gains or loses,
//! and shares everything else, the core included.
//!
//! # What an update costs
//!
//! - **A pod added, changed or removed** whose *kind* the core already knows: `O(1)`: a few
//!   chunk and shard copies (35-55 µs at 10,000 pods, see `BENCHMARKS.md`). A pod's kind
//!   is what deciding can tell about it: its namespace, the values of the label keys some
//!   selector reads (so a new ReplicaSet of a Deployment, which differs only in
//!   `pod-template-hash`, is no new kind), its service account where Calico's selectors
//!   see it, which `ipBlock`s hold its addresses, and its named container ports. Moving to
//!   another address, another node or another known label set is the same cost.
//! - **A pod with labels no pod had**: when an identity of its namespace exists that every
//!   pod selector applying in that namespace and reading a label on which the two differ
//!   answers the same for (only selectors read a pod's labels, so the pod is then that
//!   identity in every table of the core), it becomes that identity: the cost of the
//!   selectors read, then as above. Not when Calico policies take part.
//! - **A pod of a known identity at an address in other `ipBlock`s** (or with other named
//!   ports, seen on some pod): its entry is derived from the identity's, when the rule
//!   indexes are empty (no ClusterNetworkPolicy or Calico policy tier): `O(1)`.
//! - **A namespace added** (with no pods yet), or given the labels it has: the cluster's
//!   namespace table only.
//! - **A namespace relabelled** (or removed while it holds pods, which leaves it with no
//!   label but its name), with no Calico policy or network set:
//!   when every namespace selector of the policies (NetworkPolicy `namespaceSelector`
//!   peers, ClusterNetworkPolicy subjects and `namespaces` and `pods` peers) answers the
//!   same for the new labels, or the core knows no identity of the namespace, the
//!   cluster's namespace table only (the cost of evaluating those selectors on both label
//!   sets: 0.1 ms at 10,000 pods with 1,000 NetworkPolicies). Otherwise a
//!   ClusterNetworkPolicy whose subject alone answers otherwise takes or drops the
//!   namespace's identities (their cost), and each other policy with a selector
//!   answering otherwise is compiled again as a change to itself (above, and below for
//!   ClusterNetworkPolicies): the cost of those policy changes, their subjects and
//!   classes, not the cluster's. Where one of them could not be taken so, or so many
//!   answer otherwise that together they would cost about a build (a quarter of the
//!   policies, 256 at most), a rebuild. Where Calico's Felix decides (and the set holds
//!   no tier either), namespace labels are pod labels (`pcns.*`): the policies whose
//!   selectors, as Calico converts them (pod selectors with `pcns.` keys included),
//!   answer otherwise for an identity of the namespace over Felix's view of it are
//!   compiled again likewise (ClusterNetworkPolicies always so), the others untouched:
//!   0.09 ms at 10,000 pods when none does, 8 ms for one label given another
//!   namespace's value, where each was a rebuild of 48-50 ms. See `live/namespaces.rs`
//!   and `BENCHMARKS.md`.
//! - **A namespace removed** that holds no pod: the last namespace moves into its place,
//!   in the cluster (its pods, found through the pod table's identity column, take its
//!   new id) and in the kind index (what is filed under the two namespaces); the core
//!   holds no namespace number. Also where Calico's Felix decides; not with a Calico
//!   policy, network set or tier in the set. 0.23 ms at 10,000 pods, 3.3 ms at 150,000.
//! - **A NetworkPolicy added, changed or removed**, when the core can already express it
//!   (its selectors read only label keys some selector read at the build, its `ipBlock`s
//!   are made of networks the prefix map holds, its named ports are named by some rule or
//!   declared by no pod, and no label set learned equivalent to an identity is told apart
//!   by its selectors): its rules are compiled against the core, and only the identities
//!   its old or new version selects (and their pods) move to classes found or compiled for
//!   their new policy lists; the other tables are shared. About 0.1 ms at 10,000 pods; see
//!   `live/policy.rs` for the design and `BENCHMARKS.md` for numbers. What it adds to the
//!   core is reclaimed at the next rebuild; past a budget (half the compiled size, 4 MiB
//!   at least) a change rebuilds instead. Also where Calico's Felix decides (the `calico`
//!   and `canal` profiles), when the set holds no Calico policy, network set or tier: the
//!   policy is then compiled as Felix reads it (selectors as Calico converts them, over
//!   pods' labels, their namespace's and their service account; `ipBlock`s matching any
//!   address; Felix's policy order), and a pod's classes are still its identity's:
//!   55-75 µs at 10,000 pods, where each was a rebuild of 37-39 ms.
//! - **A ClusterNetworkPolicy added, changed or removed** (priority, tier, subject or
//!   rules), under the same conditions, where the profile enforces ClusterNetworkPolicy
//!   and NetworkPolicy: its rules are compiled against the core as a build compiles them,
//!   and no identity moves: the change goes into the core's *overlay* (the old version's
//!   number disabled where class lists hold it, the new version an entry with the
//!   identities it selects as bitsets), which deciding reads for the identities it
//!   touches (one bit test per side for the others, in a walk mode of its own so that a
//!   build without an overlay decides as before), and explanations too. Its cost follows
//!   the identities its versions select (set in bitsets), not the classes they are in:
//!   0.1-0.4 ms at 10,000 pods with 100 ClusterNetworkPolicies, where a build takes
//!   20-30 ms; at 150,000 pods with 1,000 of them, one selecting 24,000 identities in
//!   15,000 classes about 2-6 ms under load (it was 40-60 ms with a class per class
//!   moved), one selecting an app's pods about 1 ms. Past 32 overlay entries a change
//!   rebuilds (folding the overlay away). See `live/policy.rs` for the design and
//!   `BENCHMARKS.md` for numbers. It shares the NetworkPolicy budget. Where Calico's
//!   Felix decides, likewise under the same condition as NetworkPolicy changes there (a
//!   rule Calico fails to convert compiled as Calico replaces it).
//! - **A Calico policy added, changed or removed** (a `projectcalico.org/v3`
//!   NetworkPolicy or GlobalNetworkPolicy), where Calico's Felix decides: into the
//!   core's overlay as ClusterNetworkPolicy changes go, whatever else the set holds
//!   (Kubernetes policies, network sets, tiers): the old version disabled, the new one an
//!   entry whose rules are read as the build reads them (`calico::draft`) and tested
//!   flow by flow on sets over identities and prefix-map values, for the other side and
//!   the local pod. Its cost follows the identities (a pass per distinct selector) and
//!   its rules: see `live/calico.rs` for the design, what still rebuilds (a version for
//!   host endpoints only, a tier, network or named port the core cannot express as it
//!   is, the overlay full), and `BENCHMARKS.md` for numbers. While the overlay holds a
//!   Calico policy added since the build, NetworkPolicy and ClusterNetworkPolicy changes
//!   rebuild.
//! - **A node added or changed** whose labels every ClusterNetworkPolicy `nodes` selector
//!   answers as for a node the engine knows (or none matches), at addresses whose
//!   prefix-map values such a node has (or, for a node no selector matches, any address
//!   where `ipBlock`s match node addresses or no policy is indexed, without Calico's Felix):
//!   its entry is derived from that node's, and its bit in each node set copied: the node
//!   table and node sets are copied (`O(nodes)` words): 20-45 µs at 300 nodes, 80-90 µs
//!   at 5,000 (see `BENCHMARKS.md`, and `live/nodes.rs` for the design).
//! - **A node removed**: always without a rebuild. The last node moves into its place, in
//!   the node table and every node set; the pods of the two nodes are found by a scan of
//!   the pod table and updated, here and in the cluster: 0.15-0.26 ms at 10,000 pods,
//!   0.7 ms at 150,000.
//! - **Everything else**: a pod no known identity is equivalent to (a new namespace, a
//!   label value a selector tells apart), a namespace relabelled or removed where a
//!   Calico policy, network set (or, under Felix, tier) takes part or the policies it
//!   affects cannot be compiled again (above), a node the core cannot express
//!   (above), a NetworkPolicy or ClusterNetworkPolicy the core cannot
//!   express as it is (above), any NetworkPolicy or ClusterNetworkPolicy change where
//!   NetworkPolicy is not enforced, or where Calico's Felix decides and the set holds a
//!   Calico policy, network set or tier, a ClusterNetworkPolicy
//!   change where the profile does not enforce them, a Calico policy added, changed or
//!   removed where Felix does not decide or the core cannot express it (above), Calico
//!   network sets and tiers: the core is rebuilt from the changed
//!   cluster and policies, `O(cluster + policies)`, as [`Engine::build`] would, and the
//!   kind index with it, from what the build computed (identities, their keys and label
//!   index, block ids), for 1.1-1.4 times a build in all (`BENCHMARKS.md`). The cluster
//!   itself is still changed incrementally.
//!   [`LiveEngine::stats`] counts how often that happened.
//!
//! [`LiveEngine::apply_all`] applies a batch, rebuilding the core at most once for it.
//!
//! # Ids
//!
//! A pod changed in place keeps its [`PodId`](crate::cluster::PodId), and adding pods or
//! namespaces keeps every id valid. Removing a pod moves the last pod into its place and
//! gives pod ids a new lineage: ids from before are then *stale* (the engine denies a flow
//! naming one and [`Engine::try_decide`] says so) rather than naming another pod. Removing a
//! namespace (one holding no pod) or a node moves the last namespace or node into its
//! place with a new id: the ids of those two are then stale, every other keeps its id (and
//! pods keep theirs). Look ids up again by name or address ([`Cluster::pod_id`],
//! [`Cluster::endpoint_at`]) after such a change.
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::engine::live::{Change, LiveEngine, PolicyItem};
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Policy, PolicySet, Protocol};
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.244.1.5".parse()?))
//!     .pod(PodSpec::new("shop", "api").label("app", "api").ip("10.244.1.6".parse()?))
//!     .build()?;
//! let deny = NetworkPolicy::from_json(r#"{"metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
//!            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]}}"#)?;
//! let live = LiveEngine::new(&cluster, PolicySet::new(), Default::default());
//! let live2 = live.apply(Change::Policy(PolicyItem::Network(Policy::new(&deny).unwrap())))?;
//! // A second api pod: a kind the engine knows, so no rebuild.
//! let live3 = live2.apply(Change::Pod(
//!     PodSpec::new("shop", "api-2").label("app", "api").ip("10.244.1.7".parse()?)))?;
//! let c = live3.cluster();
//! let flow = |from| Flow::new(Endpoint::Pod(c.pod_id("shop", from).unwrap()),
//!     Endpoint::Pod(c.pod_id("shop", "db").unwrap()), 5432, Protocol::Tcp);
//! assert!(live3.engine().decide(flow("api-2")).is_allowed());
//! assert_eq!(live3.stats().incremental, 1);
//! // The first value is untouched.
//! assert_eq!(live.engine().policy_count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::compile::{Kept, identity_hash as compiled_identity_hash, projected};
use super::{BY_FAMILY, Core, Engine, Inner, NO_NODE, PodInfo, to_u32};

mod calico;
mod namespaces;
mod nodes;
mod policy;
use crate::calico::{CalicoNetworkSet, CalicoPolicy, CalicoPolicyKind, CalicoTier};
use crate::cluster::{Cluster, ClusterError, ContainerPort, NodeSpec, Pod, PodEdit, PodSpec};
use crate::model::Labels;
use crate::persist::{GrowMap, PMap, PVec};
use crate::policy::{
    ClusterPeer, ClusterPolicy, Direction, Peer, Policy, PolicySet, Protocol, Subject,
};
use crate::profile::Profile;
use crate::selector::Selector;

/// One change to a cluster or its policies, as a watch event brings it.
///
/// ```
/// use netpol::cluster::PodSpec;
/// use netpol::engine::live::Change;
/// let c = Change::Pod(PodSpec::new("shop", "web").label("app", "web"));
/// assert!(matches!(c, Change::Pod(_)));
/// ```
// Changes are moved once into `apply`: boxing the large variants would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Change {
    /// A pod added, or changed (found by namespace and name). A host-network pod is its
    /// node's endpoint, as in [`ClusterBuilder`](crate::cluster::ClusterBuilder).
    Pod(PodSpec),
    /// A pod removed (nothing happens when it is not there).
    PodRemoved {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A namespace added, or relabelled.
    Namespace {
        /// Its name.
        name: String,
        /// Its labels (`kubernetes.io/metadata.name` is added).
        labels: Labels,
    },
    /// A namespace removed. One that still holds pods stays, with no label but its name,
    /// as it would be for pods in a namespace never given.
    NamespaceRemoved(String),
    /// A node added, or changed (found by name).
    Node(NodeSpec),
    /// A node removed: its pods stay, without a node.
    NodeRemoved(String),
    /// A policy, network set or tier added, or replaced (found by its [`PolicyKey`]).
    Policy(PolicyItem),
    /// A policy, network set or tier removed.
    PolicyRemoved(PolicyKey),
}

/// A policy of any kind the engine takes, a Calico network set, or a Calico tier.
///
/// ```
/// use netpol::engine::live::PolicyItem;
/// use netpol::policy::Policy;
/// let p = Policy::new(&netpol::model::NetworkPolicy::new("shop", "deny")).unwrap();
/// assert_eq!(PolicyItem::Network(p).key().to_string(), "networkpolicy shop/deny");
/// ```
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PolicyItem {
    /// A Kubernetes NetworkPolicy.
    Network(Policy),
    /// A ClusterNetworkPolicy.
    Cluster(ClusterPolicy),
    /// A Calico NetworkPolicy or GlobalNetworkPolicy.
    Calico(CalicoPolicy),
    /// A Calico NetworkSet or GlobalNetworkSet.
    NetworkSet(CalicoNetworkSet),
    /// A Calico Tier.
    Tier(CalicoTier),
}

/// What names a [`PolicyItem`]: its kind, namespace and name.
///
/// ```
/// use netpol::engine::live::PolicyKey;
/// let k = PolicyKey::Cluster { name: "guard".into() };
/// assert_eq!(k.to_string(), "clusternetworkpolicy guard");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKey {
    /// A NetworkPolicy.
    Network {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A ClusterNetworkPolicy.
    Cluster {
        /// Its name.
        name: String,
    },
    /// A Calico NetworkPolicy (`namespace` set) or GlobalNetworkPolicy.
    Calico {
        /// The namespace of a namespaced policy.
        namespace: Option<String>,
        /// Its name.
        name: String,
    },
    /// A Calico NetworkSet (`namespace` set) or GlobalNetworkSet.
    NetworkSet {
        /// The namespace of a NetworkSet.
        namespace: Option<String>,
        /// Its name.
        name: String,
    },
    /// A Calico Tier.
    Tier {
        /// Its name.
        name: String,
    },
}

impl std::fmt::Display for PolicyKey {
    /// For people and logs (`networkpolicy shop/deny`): not parsed back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = |ns: &Option<String>| ns.as_ref().map(|n| format!("{n}/")).unwrap_or_default();
        match self {
            PolicyKey::Network { namespace, name } => {
                write!(f, "networkpolicy {namespace}/{name}")
            }
            PolicyKey::Cluster { name } => write!(f, "clusternetworkpolicy {name}"),
            PolicyKey::Calico { namespace, name } => {
                write!(f, "calico policy {}{name}", ns(namespace))
            }
            PolicyKey::NetworkSet { namespace, name } => {
                write!(f, "calico network set {}{name}", ns(namespace))
            }
            PolicyKey::Tier { name } => write!(f, "calico tier {name}"),
        }
    }
}

fn calico_key(p: &CalicoPolicy) -> PolicyKey {
    PolicyKey::Calico {
        namespace: match p.kind() {
            CalicoPolicyKind::Namespaced => p.namespace().map(str::to_owned),
            _ => None,
        },
        name: p.name().to_owned(),
    }
}

impl PolicyItem {
    /// The key that names it.
    ///
    /// ```
    /// use netpol::engine::live::{PolicyItem, PolicyKey};
    /// use netpol::policy::Policy;
    /// let p = Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap();
    /// assert_eq!(PolicyItem::Network(p).key(),
    ///            PolicyKey::Network { namespace: "a".into(), name: "b".into() });
    /// ```
    pub fn key(&self) -> PolicyKey {
        match self {
            PolicyItem::Network(p) => PolicyKey::Network {
                namespace: p.namespace().to_owned(),
                name: p.name().to_owned(),
            },
            PolicyItem::Cluster(p) => PolicyKey::Cluster {
                name: p.name().to_owned(),
            },
            PolicyItem::Calico(p) => calico_key(p),
            PolicyItem::NetworkSet(s) => PolicyKey::NetworkSet {
                namespace: s.namespace().map(str::to_owned),
                name: s.name().to_owned(),
            },
            PolicyItem::Tier(t) => PolicyKey::Tier {
                name: t.name().to_owned(),
            },
        }
    }
}

/// A change that cannot be applied.
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::live::{Change, LiveEngine};
/// let live = LiveEngine::new(&Cluster::default(), Default::default(), Default::default());
/// let err = live.apply(Change::Pod(PodSpec::new("x", "a").node("n9"))).unwrap_err();
/// assert_eq!(err.to_string(), "pod \"x/a\" runs on node \"n9\", which is not listed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The changed cluster would not be valid.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// How the updates that made a [`LiveEngine`] were applied, counted from
/// [`LiveEngine::new`].
///
/// ```
/// let live = netpol::engine::live::LiveEngine::new(
///     &Default::default(), Default::default(), Default::default());
/// assert_eq!(live.stats(), netpol::engine::live::UpdateStats::default());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateStats {
    /// Changes applied without touching the compiled core.
    pub incremental: u64,
    /// Times the core was rebuilt (once per [`LiveEngine::apply_all`] batch at most).
    pub rebuilds: u64,
    /// NetworkPolicies, ClusterNetworkPolicies and Calico policies added, changed or
    /// removed without a rebuild (also counted in `incremental`).
    pub policies: u64,
}

/// An engine with the cluster and policies it was built from, which changes update. See
/// the [module documentation](self). Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveEngine {
    engine: Engine,
    policies: Arc<PolicySet>,
    kinds: KindIndex,
    stats: UpdateStats,
}

/// A pod's kind past its identity: (identity, prefix-map values, family of its first
/// address, its named container ports some rule names, by [`NamedPart::list`]).
type KindKey = (u32, [u32; 2], u8, u32);

/// An identity as the compiler keys it: (namespace index, the labels of a pod of it, of
/// which only those told apart count (the core's label keys), service account or empty).
/// The labels are the cluster's shared value, not a copy.
type IdentityKey = (u32, Arc<Labels>, String);

/// The identity keys with one hash: one, but for a hash collision or learned label sets.
type IdentityBucket = smallvec::SmallVec<[(IdentityKey, u32); 1]>;

/// The kinds of pod the core knows, to decide a changed pod without the compiler, and
/// what NetworkPolicy and ClusterNetworkPolicy changes need to be compiled without it.
#[derive(Debug, Clone, Default)]
struct KindIndex {
    /// Identities by the hash of their key, with the key (learned keys of equivalent
    /// label sets included).
    identities: GrowMap<u64, IdentityBucket>,
    /// A pod of each kind, as the pod table holds it (without its node; its classes are
    /// its identity's, read from the core).
    kinds: GrowMap<KindKey, PodInfo>,
    /// What stays the same while the core's identities do.
    fixed: Arc<Fixed>,
    /// Every pod selector of the policies, and for each label key those reading it;
    /// `None` where identities cannot be told equivalent this way (Calico's selectors).
    /// Policies changed incrementally add theirs; removed ones stay (that only makes
    /// fewer label sets equivalent).
    selectors: Option<Selectors>,
    /// The label sets learned equivalent to an identity: (namespace, labels, identity).
    learned: PVec<(u32, Labels, u32)>,
    /// Names of the container ports of every pod since the build.
    port_names: Arc<HashSet<String>>,
    /// Per pod of the pod table: its identity (a column of the table, to find the pods
    /// of an identity without reading their whole entries).
    pod_identities: PVec<u32>,
    /// For NetworkPolicy and ClusterNetworkPolicy changes without a rebuild, when the core
    /// allows them.
    np: Option<policy::NpState>,
    /// Per Calico policy, by position in the policy set: its number in the core
    /// (`u32::MAX` for one the core lists as ignored); `None` until a Calico policy
    /// change is applied without a rebuild (until then, the build's numbers).
    calico: Option<Arc<Vec<u32>>>,
}

/// Per list of named container ports (name id, protocol, number): where a pod with it
/// finds them.
type NamedParts = HashMap<Vec<(u32, Protocol, u16)>, NamedPart>;

/// The parts of a pod table entry that follow from its named container ports.
#[derive(Debug, Clone, Copy)]
struct NamedPart {
    /// The list's number, in kind keys.
    list: u32,
    named_at: u32,
    named_len: u16,
    rows_at: u32,
    rows_len: u16,
    first_rows: [u32; 2],
    first_port: u16,
    first_protocol: u8,
}

/// What the kind index reads of the core, built once per core build (incremental
/// NetworkPolicy changes keep identities, named ports and rule indexes as they are; a
/// namespace removed renumbers the namespace parts, which are persistent for it).
#[derive(Debug, Default, Clone)]
struct Fixed {
    /// Per identity: a pod table entry of it and the full labels of a pod of it.
    of_identity: Arc<IdentityTable>,
    /// Per namespace index: its identities.
    by_namespace: GrowMap<u32, Vec<u32>>,
    /// The identities by namespace and label, to resolve selectors.
    index: policy::IdentityIndex,
    /// Per list of named container ports: where a pod with it finds them.
    named: Arc<NamedParts>,
    /// Whether the rule indexes hold no rule: peer rows are then the same for every
    /// atom, and a pod's entry follows from its identity, values and named ports alone.
    no_index: bool,
    /// Whether a pod's classes are its identity's (always, unless Calico's Felix decides
    /// and Calico policies take part: their rules testing the local pod can make them
    /// depend on its address).
    class_from_identity: bool,
    /// Per identity, where the core tells identities apart by it (Calico's selectors
    /// see it): the service account of its pods.
    accounts: Arc<HashMap<u32, String>>,
    /// Whether no identity has a label under `pcns.` (which Calico's selectors read
    /// before the namespace's labels): a converted namespace selector then answers alike
    /// for every pod of a namespace.
    pcns_free: bool,
}

/// Per identity, by id: a pod table entry of it (without its node) and the labels of a
/// pod of it (shared with the cluster).
#[derive(Debug, Default, Clone)]
struct IdentityTable(Vec<Option<(PodInfo, Arc<Labels>)>>);

impl IdentityTable {
    /// The entry and labels of identity `id`.
    fn get(&self, id: &u32) -> Option<&(PodInfo, Arc<Labels>)> {
        self.0.get(*id as usize)?.as_ref()
    }
}

/// Pod selectors, and per namespace and label key the positions of those that may read
/// it there.
#[derive(Debug, Clone, Default)]
struct Selectors {
    list: PVec<Selector>,
    by_key: GrowMap<(u32, String), Vec<u32>>,
    /// The selectors of NetworkPolicies changed without a rebuild since, each with the
    /// namespaces it reads pods of (kept apart: a namespace selector may fan out to every
    /// namespace).
    added: PVec<Arc<(Selector, Arc<[u32]>)>>,
    added_set: PMap<(Selector, Arc<[u32]>), ()>,
}

impl Selectors {
    /// Adds a selector reading pods of `namespaces`.
    fn add_scoped(&mut self, sel: &Selector, namespaces: Arc<[u32]>) {
        if sel.requirements().is_empty() || namespaces.is_empty() {
            return;
        }
        let key = (sel.clone(), namespaces);
        if self.added_set.contains_key(&key) {
            return;
        }
        self.added.push(Arc::new(key.clone()));
        self.added_set.insert(key, ());
    }

    /// Whether every selector that reads pods of namespace `ns` answers the same for
    /// `labels` and `theirs`, which differ at most on `keys`.
    fn agree(&self, ns: u32, keys: &[String], labels: &Labels, theirs: &Labels) -> bool {
        let same = |sel: &Selector| sel.matches(labels) == sel.matches(theirs);
        keys.iter()
            .filter(|k| labels.get(*k) != theirs.get(*k))
            .flat_map(|k| self.by_key.get(&(ns, k.clone())).into_iter().flatten())
            .all(|s| self.list.get(*s as usize).is_some_and(same))
            && self.added.iter().all(|a| {
                let (sel, scope) = &**a;
                !scope.contains(&ns)
                    || sel
                        .requirements()
                        .iter()
                        .all(|r| labels.get(&r.key) == theirs.get(&r.key))
                    || same(sel)
            })
    }
}

/// The namespaces of `cluster` that `sel` matches, by index.
fn matching_namespaces(cluster: &Cluster, sel: &Selector) -> Vec<u32> {
    cluster
        .namespaces()
        .filter(|(_, n)| sel.matches(&n.labels))
        .map(|(id, _)| u32::try_from(id.index()).unwrap_or(u32::MAX))
        .collect()
}

/// The identity key of a pod, borrowed, with its hash.
fn identity_of<'p>(core: &Core, pod: &'p Pod) -> (u32, Vec<(&'p str, &'p str)>, &'p str, u64) {
    let ns = u32::try_from(pod.namespace.index()).unwrap_or(u32::MAX);
    let labels = projected(&pod.labels, core.label_keys.as_deref());
    let account = if core.by_account {
        pod.service_account.as_str()
    } else {
        ""
    };
    let hash = identity_hash(ns, &labels, account);
    (ns, labels, account, hash)
}

/// The hash of an identity key, as the kind index files it: as the compiler hashes it.
fn identity_hash(ns: u32, labels: &[(&str, &str)], account: &str) -> u64 {
    compiled_identity_hash(ns as usize, account, labels.iter().copied())
}

/// The rest of a pod's kind key.
fn kind_rest(core: &Core, pod: &Pod) -> ([u32; 2], u8, Vec<(u32, Protocol, u16)>) {
    let lookup = |v6: bool| {
        pod.ips
            .iter()
            .find(|ip| ip.is_ipv6() == v6)
            .map_or(0, |ip| core.blocks.lookup(*ip))
    };
    let family = match pod.ips.first() {
        None => 0,
        Some(IpAddr::V4(_)) => 1,
        Some(IpAddr::V6(_)) => 2,
    };
    (
        [lookup(false), lookup(true)],
        family,
        named_ports(core, &pod.ports),
    )
}

/// The named container ports of `ports` some rule names: (name id, protocol, number).
fn named_ports(core: &Core, ports: &[ContainerPort]) -> Vec<(u32, Protocol, u16)> {
    ports
        .iter()
        .filter_map(|cp| {
            cp.name
                .as_deref()
                .and_then(|n| core.names.get(n))
                .map(|id| (*id, cp.protocol, cp.port))
        })
        .collect()
}

/// Whether `key` is the identity key (namespace `ns`, the labels told apart `labels`,
/// projected on `keys` as [`projected`] does, service account `account`).
fn same_identity(
    (n, l, a): &IdentityKey,
    keys: Option<&[String]>,
    ns: u32,
    labels: &[(&str, &str)],
    account: &str,
) -> bool {
    *n == ns && a == account && projected_iter(l, keys).eq(labels.iter().copied())
}

/// The labels of `labels` an identity is told apart by, as [`projected`] lists them.
fn projected_iter<'l>(
    labels: &'l Labels,
    keys: Option<&'l [String]>,
) -> impl Iterator<Item = (&'l str, &'l str)> + 'l {
    labels
        .iter()
        .filter(move |(k, _)| keys.is_none_or(|keys| keys.binary_search(k).is_ok()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

impl KindIndex {
    /// The kind index of a freshly built engine, from what the compiler kept (`kept`:
    /// the identities with their keys and label index, the block ids).
    ///
    /// Pods are read once each, but only what deciding can tell apart is worked on: a
    /// pod's identity and prefix-map values are read from its pod table entry (the core
    /// computed them), and the named ports, port names and named-port parts of a list of
    /// container ports once per list (pods of one workload share its allocation). An
    /// identity's key, namespace, account and label index are the compiler's; its labels
    /// are the cluster's (shared) labels of its first pod.
    fn of(engine: &Engine, policies: &PolicySet, kept: Kept<'_>) -> KindIndex {
        let inner = &*engine.inner;
        let core = &*inner.core;
        let keys = core.label_keys.as_deref();
        let Kept {
            blocks,
            identities: mut compiled,
        } = kept;
        let n = compiled.len();
        let mut of_identity: Vec<Option<(PodInfo, Arc<Labels>)>> = vec![None; n];
        let mut kinds: HashMap<KindKey, PodInfo> = HashMap::with_capacity(n);
        let mut named_parts: NamedParts = HashMap::new();
        let mut port_names: HashSet<String> = HashSet::new();
        // Per list of container ports (by address: pods sharing a list share it), the
        // number of its named ports.
        let mut list_of: HashMap<(*const ContainerPort, usize), u32> = HashMap::new();
        let mut last: Option<(u32, [u32; 2], u8, *const ContainerPort, usize)> = None;
        let mut pod_identities: Vec<u32> = Vec::with_capacity(inner.pods.len());
        for ((_, pod), info) in inner.cluster.pods().zip(inner.pods.iter()) {
            pod_identities.push(info.identity);
            let ports: &[ContainerPort] = &pod.ports;
            // The family of its first address, as `kind_rest` gives it; its values are
            // the pod table's (the prefix-map values of its first address of each
            // family, as `kind_rest` finds them).
            let family = info.first_family & !BY_FAMILY;
            let here = (
                info.identity,
                info.values,
                family,
                ports.as_ptr(),
                ports.len(),
            );
            // Pods of one workload mostly come one after the other.
            if last == Some(here) {
                continue;
            }
            last = Some(here);
            let template = PodInfo {
                node: NO_NODE,
                ..info.clone()
            };
            if let Some(slot @ None) = of_identity.get_mut(info.identity as usize) {
                *slot = Some((template.clone(), Arc::clone(&pod.labels)));
            }
            let list = match list_of.get(&(ports.as_ptr(), ports.len())) {
                Some(list) => *list,
                None => {
                    for cp in ports {
                        if let Some(name) = &cp.name {
                            if !port_names.contains(name) {
                                port_names.insert(name.clone());
                            }
                        }
                    }
                    // The first pod with these named ports gives their part.
                    let next = u32::try_from(named_parts.len()).unwrap_or(u32::MAX);
                    let list = named_parts
                        .entry(named_ports(core, ports))
                        .or_insert(NamedPart {
                            list: next,
                            named_at: info.named_at,
                            named_len: info.named_len,
                            rows_at: info.rows_at,
                            rows_len: info.rows_len,
                            first_rows: info.first_rows,
                            first_port: info.first_port,
                            first_protocol: info.first_protocol,
                        })
                        .list;
                    list_of.insert((ports.as_ptr(), ports.len()), list);
                    list
                }
            };
            // The first pod of each kind gives its template.
            kinds
                .entry((info.identity, info.values, family, list))
                .or_insert(template);
        }
        drop(list_of);
        // The identities by the hash of their key (as the compiler hashed it), by
        // namespace, and their accounts where the core tells identities apart by them.
        let mut identities: HashMap<u64, IdentityBucket> = HashMap::with_capacity(n);
        let mut accounts: HashMap<u32, String> = HashMap::new();
        for (id, entry) in of_identity.iter().enumerate() {
            let (Some((_, labels)), Some((ns, _)), Some(account), Some(hash)) = (
                entry,
                compiled.list.get(id),
                compiled.accounts.get(id),
                compiled.hashes.get(id),
            ) else {
                continue;
            };
            let (id, ns) = (to_u32(id), to_u32(*ns));
            let bucket = identities.entry(*hash).or_default();
            // The compiler tells identities apart by their keys: only a hash collision
            // puts two in one bucket.
            if !bucket.is_empty() {
                let projected = projected(labels, keys);
                if bucket
                    .iter()
                    .any(|(k, _)| same_identity(k, keys, ns, &projected, account))
                {
                    continue;
                }
            }
            bucket.push(((ns, Arc::clone(labels), (*account).to_owned()), id));
            if core.by_account {
                accounts.insert(id, (*account).to_owned());
            }
        }
        let mut by_namespace: HashMap<u32, Vec<u32>> = HashMap::new();
        for (ns, index) in compiled.namespaces.iter_mut().enumerate() {
            if !index.identities.is_empty() {
                by_namespace.insert(to_u32(ns), std::mem::take(&mut index.identities));
            }
        }
        let pcns_free = compiled.pcns_free;
        let index = policy::IdentityIndex::new(std::mem::take(&mut compiled.namespaces));
        let fixed = Fixed {
            pcns_free,
            accounts: Arc::new(accounts),
            of_identity: Arc::new(IdentityTable(of_identity)),
            by_namespace: by_namespace.into(),
            index,
            named: Arc::new(named_parts),
            no_index: core.rule_index.iter().all(|r| r.actions.is_empty()),
            class_from_identity: !core.profile.enforces_calico_policy()
                || policies.calico_policies().is_empty(),
        };
        let selectors = keys
            .is_some()
            .then(|| pod_selectors(policies, &inner.cluster));
        KindIndex {
            identities: identities.into(),
            kinds: kinds.into(),
            fixed: Arc::new(fixed),
            selectors,
            learned: PVec::new(),
            port_names: Arc::new(port_names),
            pod_identities: pod_identities.into_iter().collect(),
            np: policy::NpState::of(core, policies, engine.compiled_bytes(), blocks),
            calico: None,
        }
    }

    /// An identity of namespace `ns` that no pod selector of the policies tells apart
    /// from a pod with `labels`: every selector reading a label key on which the two
    /// differ answers the same for both. Selectors are all that reads a pod's labels, so
    /// the pod is then that identity in every table of the core.
    fn equivalent(&self, ns: u32, labels: &Labels, keys: &[String]) -> Option<u32> {
        let selectors = self.selectors.as_ref()?;
        let candidates = self.fixed.by_namespace.get(&ns)?;
        candidates.iter().copied().find(|id| {
            let Some((_, theirs)) = self.fixed.of_identity.get(id) else {
                return false;
            };
            selectors.agree(ns, keys, labels, theirs)
        })
    }

    /// The pod table entry of `pod`, when the core can decide its kind; learns the kind.
    fn info(&mut self, core: &Core, pod: &Pod) -> Option<PodInfo> {
        let (ns, labels, account, hash) = identity_of(core, pod);
        let keys = core.label_keys.as_deref();
        let known = self
            .identities
            .get(&hash)
            .and_then(|b| {
                b.iter()
                    .find(|(k, _)| same_identity(k, keys, ns, &labels, account))
            })
            .map(|(_, id)| *id);
        let identity = match known {
            Some(id) => id,
            None => {
                let id = self.equivalent(ns, &pod.labels, keys?)?;
                let mut bucket = self.identities.get(&hash).cloned().unwrap_or_default();
                bucket.push(((ns, Arc::clone(&pod.labels), account.to_owned()), id));
                self.identities.insert(hash, bucket);
                self.learned.push((ns, Labels::clone(&pod.labels), id));
                id
            }
        };
        // Incremental policy changes move identities to other classes without touching
        // the templates: the classes are read from the core.
        let class = match core.identities.get(identity as usize) {
            Some(info) if self.fixed.class_from_identity => Some(info.class),
            _ => None,
        };
        let node = pod
            .node
            .map_or(NO_NODE, |n| u32::try_from(n.index()).unwrap_or(NO_NODE));
        let (values, family, named) = kind_rest(core, pod);
        // Only named ports some pod had at the build make a kind (below).
        let part = *self.fixed.named.get(&named)?;
        let key = (identity, values, family, part.list);
        if let Some(template) = self.kinds.get(&key) {
            return Some(PodInfo {
                node,
                class: class.unwrap_or(template.class),
                ..template.clone()
            });
        }
        // A new kind of a known identity: where peer rows do not depend on the address,
        // its entry is the identity's with its own values and named ports.
        if !self.fixed.no_index {
            return None;
        }
        let (base, _) = self.fixed.of_identity.get(&identity)?;
        if base.first_family & BY_FAMILY != 0 {
            return None;
        }
        let template = PodInfo {
            values,
            first_family: family,
            named_at: part.named_at,
            named_len: part.named_len,
            rows_at: part.rows_at,
            rows_len: part.rows_len,
            first_rows: part.first_rows,
            first_port: part.first_port,
            first_protocol: part.first_protocol,
            ..base.clone()
        };
        self.kinds.insert(key, template.clone());
        Some(PodInfo {
            node,
            class: class.unwrap_or(template.class),
            ..template
        })
    }
}

/// Every pod selector of a policy set (NetworkPolicy and ClusterNetworkPolicy), and per
/// namespace of `cluster` and label key the selectors that may read that key on a pod of
/// that namespace.
fn pod_selectors<'s>(set: &'s PolicySet, cluster: &Cluster) -> Selectors {
    let mut list: Vec<Selector> = Vec::new();
    let mut ids: HashMap<&'s Selector, u32> = HashMap::new();
    let mut by_key: HashMap<(u32, String), Vec<u32>> = HashMap::new();
    // The (selector, namespace) pairs filed: many policies share their selectors.
    let mut filed: HashSet<(u32, u32)> = HashSet::new();
    let ns_of = |name: &str| {
        cluster
            .namespace_id(name)
            .map(|n| u32::try_from(n.index()).unwrap_or(u32::MAX))
    };
    // The namespaces each namespace selector matches, found once per selector.
    let mut matched: HashMap<&'s Selector, Vec<u32>> = HashMap::new();
    let mut matching = |sel: &'s Selector| -> Vec<u32> {
        match matched.get(sel) {
            Some(m) => m.clone(),
            None => {
                let m = matching_namespaces(cluster, sel);
                matched.insert(sel, m.clone());
                m
            }
        }
    };
    let mut add = |namespaces: &[u32], sel: &'s Selector| {
        if sel.requirements().is_empty() || namespaces.is_empty() {
            return;
        }
        let next = u32::try_from(list.len()).unwrap_or(u32::MAX);
        let id = *ids.entry(sel).or_insert_with(|| {
            list.push(sel.clone());
            next
        });
        for ns in namespaces {
            if !filed.insert((id, *ns)) {
                continue;
            }
            for r in sel.requirements() {
                let v = by_key.entry((*ns, r.key.clone())).or_default();
                if !v.contains(&id) {
                    v.push(id);
                }
            }
        }
    };
    for p in set.network_policies() {
        let own: Vec<u32> = ns_of(p.namespace()).into_iter().collect();
        add(&own, p.pod_selector());
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers.iter().flatten() {
                    match peer {
                        Peer::Pods {
                            namespaces: None,
                            pods,
                        } => add(&own, pods),
                        Peer::Pods {
                            namespaces: Some(ns),
                            pods,
                        } => add(&matching(ns), pods),
                        Peer::IpBlock(_) => {}
                    }
                }
            }
        }
    }
    for p in set.cluster_policies() {
        if let Subject::Pods { namespaces, pods } = p.subject() {
            add(&matching(namespaces), pods);
        }
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers() {
                    if let ClusterPeer::Pods { namespaces, pods } = peer {
                        add(&matching(namespaces), pods);
                    }
                }
            }
        }
    }
    Selectors {
        list: list.into_iter().collect(),
        by_key: by_key.into(),
        ..Selectors::default()
    }
}

/// A change being applied: the cluster and policies so far, and the pod table while the
/// core still holds (`None` once a rebuild is due).
struct Work {
    cluster: Cluster,
    policies: Arc<PolicySet>,
    /// The core so far: NetworkPolicy and ClusterNetworkPolicy changes applied without a
    /// rebuild change it.
    core: Arc<Core>,
    pods: Option<PVec<PodInfo>>,
    kinds: KindIndex,
    incremental: u64,
    policies_incremental: u64,
}

impl LiveEngine {
    /// Builds the engine for `cluster` and `policies` (already validated) with `profile`.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// use netpol::engine::live::LiveEngine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let live = LiveEngine::new(&cluster, Default::default(), Default::default());
    /// assert_eq!(live.cluster().pod_count(), 1);
    /// ```
    #[must_use]
    pub fn new(cluster: &Cluster, policies: PolicySet, profile: Profile) -> LiveEngine {
        let (engine, kinds) = build(profile, cluster, &policies);
        LiveEngine {
            kinds,
            engine,
            policies: Arc::new(policies),
            stats: UpdateStats::default(),
        }
    }

    /// The engine, to decide and explain flows.
    ///
    /// ```
    /// let live = netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default());
    /// assert_eq!(live.engine().policy_count(), 0);
    /// ```
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The cluster as changed so far.
    ///
    /// ```
    /// let live = netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default());
    /// assert_eq!(live.cluster().pod_count(), 0);
    /// ```
    #[must_use]
    pub fn cluster(&self) -> &Cluster {
        self.engine.cluster()
    }

    /// The policies as changed so far.
    ///
    /// ```
    /// let live = netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default());
    /// assert!(live.policies().is_empty());
    /// ```
    #[must_use]
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// How the updates so far were applied.
    ///
    /// ```
    /// let live = netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default());
    /// assert_eq!(live.stats().rebuilds, 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> UpdateStats {
        self.stats
    }

    /// Applies one change; `self` is unchanged.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// use netpol::engine::live::{Change, LiveEngine};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a").label("app", "a")).build()?;
    /// let live = LiveEngine::new(&cluster, Default::default(), Default::default());
    /// let next = live.apply(Change::PodRemoved { namespace: "x".into(), name: "a".into() })?;
    /// assert_eq!((live.cluster().pod_count(), next.cluster().pod_count()), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, change: Change) -> Result<LiveEngine, UpdateError> {
        self.apply_all([change])
    }

    /// Applies changes in order, rebuilding the core at most once; `self` is unchanged.
    /// On an error nothing is applied.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// use netpol::engine::live::{Change, LiveEngine};
    /// let live = LiveEngine::new(&Cluster::default(), Default::default(), Default::default());
    /// let next = live.apply_all([
    ///     Change::Pod(PodSpec::new("x", "a")),
    ///     Change::Pod(PodSpec::new("x", "b")),
    /// ])?;
    /// assert_eq!(next.cluster().pod_count(), 2);
    /// assert_eq!(next.stats().rebuilds, 1); // "x" was a new namespace
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_all(
        &self,
        changes: impl IntoIterator<Item = Change>,
    ) -> Result<LiveEngine, UpdateError> {
        let inner = &*self.engine.inner;
        let mut work = Work {
            cluster: inner.cluster.clone(),
            policies: Arc::clone(&self.policies),
            core: Arc::clone(&inner.core),
            pods: Some(inner.pods.clone()),
            kinds: self.kinds.clone(),
            incremental: 0,
            policies_incremental: 0,
        };
        for change in changes {
            self.step(&mut work, change)?;
        }
        let mut stats = self.stats;
        stats.incremental += work.incremental;
        stats.policies += work.policies_incremental;
        match work.pods {
            Some(pods) => Ok(LiveEngine {
                engine: Engine {
                    inner: Arc::new(Inner {
                        pod_lineage: work.cluster.pod_lineage(),
                        cluster: work.cluster,
                        pods,
                        core: work.core,
                    }),
                },
                policies: work.policies,
                kinds: work.kinds,
                stats,
            }),
            None => {
                let (engine, kinds) = build(inner.profile.clone(), &work.cluster, &work.policies);
                stats.rebuilds += 1;
                Ok(LiveEngine {
                    kinds,
                    engine,
                    policies: work.policies,
                    stats,
                })
            }
        }
    }

    fn step(&self, work: &mut Work, change: Change) -> Result<(), UpdateError> {
        match change {
            Change::Pod(spec) => {
                let (cluster, edit) = work.cluster.edit(|d| d.upsert_pod(spec));
                let edit = edit?;
                work.cluster = cluster;
                Self::pod_edit(work, edit);
            }
            Change::PodRemoved { namespace, name } => {
                let (cluster, edit) = work.cluster.edit(|d| d.remove_pod(&namespace, &name));
                work.cluster = cluster;
                Self::pod_edit(work, edit);
            }
            Change::Namespace { name, labels } => namespaces::upsert(work, &name, labels)?,
            Change::NamespaceRemoved(name) => namespaces::remove(work, &name),
            Change::Node(spec) => nodes::upsert(work, spec)?,
            Change::NodeRemoved(name) => nodes::remove(work, &name),
            Change::Policy(PolicyItem::Network(p)) => {
                let pos = network_position(&work.policies, p.namespace(), p.name());
                let old = pos.and_then(|i| work.policies.network_policies().get(i).cloned());
                let ok = Self::network_policy(work, pos, old.as_ref(), Some(&p));
                upsert_policy(Arc::make_mut(&mut work.policies), PolicyItem::Network(p));
                if !ok {
                    work.pods = None;
                }
            }
            Change::Policy(PolicyItem::Cluster(p)) => {
                let pos = cluster_position(&work.policies, p.name());
                let old = pos.and_then(|i| work.policies.cluster_policies().get(i).cloned());
                let ok = Self::cluster_policy(work, pos, old.as_ref(), Some(&p));
                upsert_policy(Arc::make_mut(&mut work.policies), PolicyItem::Cluster(p));
                if !ok {
                    work.pods = None;
                }
            }
            Change::Policy(PolicyItem::Calico(p)) => {
                let key = calico_key(&p);
                let pos = work
                    .policies
                    .calico_policies()
                    .iter()
                    .position(|x| calico_key(x) == key);
                let old = pos.and_then(|i| work.policies.calico_policies().get(i).cloned());
                let ok = Self::calico_policy(work, pos, old.as_ref(), Some(&p));
                upsert_policy(Arc::make_mut(&mut work.policies), PolicyItem::Calico(p));
                if !ok {
                    work.pods = None;
                }
            }
            Change::Policy(item) => {
                upsert_policy(Arc::make_mut(&mut work.policies), item);
                work.pods = None;
            }
            Change::PolicyRemoved(PolicyKey::Network { namespace, name }) => {
                let Some(pos) = network_position(&work.policies, &namespace, &name) else {
                    return Ok(());
                };
                let old = work.policies.network_policies().get(pos).cloned();
                let ok = Self::network_policy(work, Some(pos), old.as_ref(), None);
                remove_policy(
                    Arc::make_mut(&mut work.policies),
                    &PolicyKey::Network { namespace, name },
                );
                if !ok {
                    work.pods = None;
                }
            }
            Change::PolicyRemoved(PolicyKey::Cluster { name }) => {
                let Some(pos) = cluster_position(&work.policies, &name) else {
                    return Ok(());
                };
                let old = work.policies.cluster_policies().get(pos).cloned();
                let ok = Self::cluster_policy(work, Some(pos), old.as_ref(), None);
                remove_policy(
                    Arc::make_mut(&mut work.policies),
                    &PolicyKey::Cluster { name },
                );
                if !ok {
                    work.pods = None;
                }
            }
            Change::PolicyRemoved(key @ PolicyKey::Calico { .. }) => {
                let Some(pos) = work
                    .policies
                    .calico_policies()
                    .iter()
                    .position(|x| calico_key(x) == key)
                else {
                    return Ok(());
                };
                let old = work.policies.calico_policies().get(pos).cloned();
                let ok = Self::calico_policy(work, Some(pos), old.as_ref(), None);
                remove_policy(Arc::make_mut(&mut work.policies), &key);
                if !ok {
                    work.pods = None;
                }
            }
            Change::PolicyRemoved(key) => {
                if remove_policy(Arc::make_mut(&mut work.policies), &key) {
                    work.pods = None;
                }
            }
        }
        Ok(())
    }

    /// Applies a NetworkPolicy added (`old` none), changed or removed (`new` none) to the
    /// core without a rebuild, when it can; false when a rebuild is due.
    fn network_policy(
        work: &mut Work,
        old_pos: Option<usize>,
        old: Option<&Policy>,
        new: Option<&Policy>,
    ) -> bool {
        let update = policy::Update {
            old_pos,
            old,
            new,
            before: None,
        };
        Self::policy_change(work, |core, pods, kinds, cluster| {
            policy::apply(core, pods, kinds, cluster, &update)
        })
    }

    /// Applies a ClusterNetworkPolicy added (`old` none), changed or removed (`new` none)
    /// to the core without a rebuild, when it can; false when a rebuild is due.
    fn cluster_policy(
        work: &mut Work,
        old_pos: Option<usize>,
        old: Option<&ClusterPolicy>,
        new: Option<&ClusterPolicy>,
    ) -> bool {
        let update = policy::ClusterUpdate {
            old_pos,
            old,
            new,
            before: None,
        };
        Self::policy_change(work, |core, pods, kinds, cluster| {
            policy::apply_cluster(core, pods, kinds, cluster, &update)
        })
    }

    /// Applies a Calico policy added (`old` none), changed or removed (`new` none) to the
    /// core without a rebuild, when it can; false when a rebuild is due.
    fn calico_policy(
        work: &mut Work,
        old_pos: Option<usize>,
        old: Option<&CalicoPolicy>,
        new: Option<&CalicoPolicy>,
    ) -> bool {
        let policies = Arc::clone(&work.policies);
        let update = calico::CalicoUpdate {
            old_pos,
            old,
            new,
            set: &policies,
        };
        Self::policy_change(work, |core, _, kinds, cluster| {
            calico::apply(core, kinds, cluster, &update)
        })
    }

    /// Runs an incremental policy update on the batch's core and pod table (none once a
    /// rebuild is due), counting it when it succeeds; false when a rebuild is due.
    fn policy_change(
        work: &mut Work,
        apply: impl FnOnce(&mut Arc<Core>, &mut PVec<PodInfo>, &mut KindIndex, &Cluster) -> bool,
    ) -> bool {
        let Some(pods) = work.pods.as_mut() else {
            return false;
        };
        let ok = apply(&mut work.core, pods, &mut work.kinds, &work.cluster);
        if ok {
            work.incremental += 1;
            work.policies_incremental += 1;
        }
        ok
    }

    /// Keeps the pod table in step with a change to the cluster's pods.
    fn pod_edit(work: &mut Work, edit: PodEdit) {
        let Some(pods) = work.pods.as_mut() else {
            return;
        };
        let cluster = &work.cluster;
        let kinds = &mut work.kinds;
        let core = &*work.core;
        let info = |kinds: &mut KindIndex, i: u32| {
            let pod = cluster.pod_at(i as usize)?;
            for cp in pod.ports.iter() {
                if let Some(name) = &cp.name {
                    if !kinds.port_names.contains(name) {
                        Arc::make_mut(&mut kinds.port_names).insert(name.clone());
                    }
                }
            }
            kinds.info(core, pod)
        };
        let ok = match edit {
            PodEdit::None => true,
            PodEdit::Removed(i) => {
                kinds.pod_identities.swap_remove(i as usize);
                pods.swap_remove(i as usize).is_some()
            }
            PodEdit::Added(i) => match info(kinds, i) {
                Some(p) => {
                    kinds.pod_identities.push(p.identity);
                    pods.push(p);
                    true
                }
                None => false,
            },
            PodEdit::Replaced(i) => match info(kinds, i) {
                Some(p) => {
                    kinds.pod_identities.set(i as usize, p.identity);
                    pods.set(i as usize, p)
                }
                None => false,
            },
        };
        if ok {
            work.incremental += 1;
        } else {
            work.pods = None;
        }
    }
}

/// The engine for `cluster` and `policies`, as [`Engine::build`] makes it, and its kind
/// index.
fn build(profile: Profile, cluster: &Cluster, policies: &PolicySet) -> (Engine, KindIndex) {
    let (inner, kept) = super::compile::compile_keeping(
        profile,
        cluster,
        crate::policy::AsPolicySet::as_policy_set(policies),
    );
    let engine = Engine {
        inner: Arc::new(inner),
    };
    let kinds = KindIndex::of(&engine, policies, kept);
    (engine, kinds)
}

/// The position of a NetworkPolicy among the set's.
fn network_position(set: &PolicySet, namespace: &str, name: &str) -> Option<usize> {
    set.network_policies()
        .iter()
        .position(|p| p.namespace() == namespace && p.name() == name)
}

/// The position of a ClusterNetworkPolicy among the set's.
fn cluster_position(set: &PolicySet, name: &str) -> Option<usize> {
    set.cluster_policies().iter().position(|p| p.name() == name)
}

fn upsert_policy(set: &mut PolicySet, item: PolicyItem) {
    let key = item.key();
    let parts = set.parts_mut();
    fn put<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
        match list.iter_mut().find(|x| same(x)) {
            Some(slot) => *slot = item,
            None => list.push(item),
        }
    }
    match item {
        PolicyItem::Network(p) => put(parts.network, p, |x| {
            matches!(&key, PolicyKey::Network { namespace, name }
                if x.namespace() == namespace && x.name() == name)
        }),
        PolicyItem::Cluster(p) => put(parts.cluster, p, |x| x.name() == p_name(&key)),
        PolicyItem::Calico(p) => put(parts.calico, p, |x| calico_key(x) == key),
        PolicyItem::NetworkSet(s) => put(parts.network_sets, s, |x| {
            matches!(&key, PolicyKey::NetworkSet { namespace, name }
                if x.namespace() == namespace.as_deref() && x.name() == name)
        }),
        PolicyItem::Tier(t) => put(parts.tiers, t, |x| x.name() == p_name(&key)),
    }
}

fn p_name(key: &PolicyKey) -> &str {
    match key {
        PolicyKey::Network { name, .. }
        | PolicyKey::Cluster { name }
        | PolicyKey::Calico { name, .. }
        | PolicyKey::NetworkSet { name, .. }
        | PolicyKey::Tier { name } => name,
    }
}

fn remove_policy(set: &mut PolicySet, key: &PolicyKey) -> bool {
    let parts = set.parts_mut();
    fn drop_one<T>(list: &mut Vec<T>, same: impl Fn(&T) -> bool) -> bool {
        match list.iter().position(same) {
            Some(i) => {
                list.remove(i);
                true
            }
            None => false,
        }
    }
    match key {
        PolicyKey::Network { namespace, name } => drop_one(parts.network, |p| {
            p.namespace() == namespace && p.name() == name
        }),
        PolicyKey::Cluster { name } => drop_one(parts.cluster, |p| p.name() == name),
        PolicyKey::Calico { .. } => drop_one(parts.calico, |p| calico_key(p) == *key),
        PolicyKey::NetworkSet { namespace, name } => drop_one(parts.network_sets, |s| {
            s.namespace() == namespace.as_deref() && s.name() == name
        }),
        PolicyKey::Tier { name } => drop_one(parts.tiers, |t| t.name() == name),
    }
}
