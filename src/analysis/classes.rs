//! Equivalence classes of pods, and workloads.
//!
//! Two pods are in one [`PodClasses`] class when no policy can tell them apart: same
//! namespace, labels and service account (so every selector of every kind, Calico's
//! included, matches both or neither), same first address family, first IPv4 and first
//! IPv6 addresses inside the same CIDRs of every policy (so every `ipBlock`, `networks`
//! and Calico `nets` entry holds both or neither), and the same named container ports (so
//! every named port resolves to the same number on both). Every flow between two pods
//! then has the verdict of the same flow between any other two pods of the same classes,
//! which lets an analysis decide once per pair of classes instead of once per pair of
//! pods.
//!
//! A [`Workload`] is what people name: the pods of one Deployment, StatefulSet,
//! DaemonSet or Job, recognised by the names and labels their controllers give them (see
//! [`workload_name`]), split further where its pods fall into different classes, so that
//! every pod of a workload is in one class.

use std::fmt;
use std::net::IpAddr;

use ahash::AHashMap as HashMap;
use serde::Serialize;

use crate::cluster::{Cluster, NamespaceId, Pod, PodId};
use crate::policy::{ClusterPeer, Direction, Peer, PolicySetRef, Protocol};

/// A class of [`PodClasses`]: a small index.
///
/// ```
/// use netpol::analysis::PodClasses;
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let classes = PodClasses::new(&cluster, &[]);
/// let id = classes.class_of(cluster.pod_id("x", "a").unwrap()).unwrap();
/// assert_eq!(id.index(), 0);
/// assert_eq!(id.to_string(), "class 0");
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClassId(pub(crate) u32);

impl ClassId {
    /// The position among the classes.
    ///
    /// ```
    /// # use netpol::analysis::PodClasses;
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let classes = PodClasses::new(&cluster, &[]);
    /// assert!(classes.ids().all(|c| c.index() < classes.len()));
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ClassId {
    /// `class N`, for people: not parsed back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "class {}", self.0)
    }
}

/// A workload of [`PodClasses`]: a small index.
///
/// ```
/// use netpol::analysis::PodClasses;
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let classes = PodClasses::new(&cluster, &[]);
/// let w = classes.workload_of(cluster.pod_id("x", "a").unwrap()).unwrap();
/// assert_eq!(w.index(), 0);
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WorkloadId(pub(crate) u32);

impl WorkloadId {
    /// The position among the workloads.
    ///
    /// ```
    /// # use netpol::analysis::PodClasses;
    /// # let cluster = netpol::cluster::Cluster::builder().pod(netpol::cluster::PodSpec::new("x", "a")).build().unwrap();
    /// let classes = PodClasses::new(&cluster, &[]);
    /// assert_eq!(classes.workload_ids().map(|w| w.index()).collect::<Vec<_>>(), [0]);
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The pods of one workload (a Deployment, StatefulSet, DaemonSet, Job, or a pod on its
/// own), all in one class.
///
/// ```
/// use netpol::analysis::PodClasses;
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("shop", "web-7d9f8c6b5-x2x4z").label("app", "web").label("pod-template-hash", "7d9f8c6b5"))
///     .pod(PodSpec::new("shop", "web-7d9f8c6b5-k8j2p").label("app", "web").label("pod-template-hash", "7d9f8c6b5"))
///     .build()?;
/// let classes = PodClasses::new(&cluster, &[]);
/// let w = &classes.workloads()[0];
/// assert_eq!((w.namespace.as_str(), w.name.as_str(), w.pods.len()), ("shop", "web", 2));
/// assert_eq!(w.to_string(), "shop/web");
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Workload {
    /// The namespace.
    pub namespace: String,
    /// The name (see [`workload_name`]); `NAME#1`, `NAME#2`, ... when the pods of one
    /// workload fall into different classes.
    pub name: String,
    /// Its pods' names, in the cluster's order.
    pub pods: Vec<String>,
    /// Its class.
    pub class: ClassId,
    #[serde(skip)]
    pub(crate) pod_ids: Vec<PodId>,
}

impl Workload {
    /// Its pods' ids, in the cluster's order.
    ///
    /// ```
    /// # use netpol::analysis::PodClasses;
    /// # let cluster = netpol::cluster::Cluster::builder().pod(netpol::cluster::PodSpec::new("x", "a")).build().unwrap();
    /// let classes = PodClasses::new(&cluster, &[]);
    /// assert_eq!(classes.workloads()[0].pod_ids(), &[cluster.pod_id("x", "a").unwrap()]);
    /// ```
    #[must_use]
    pub fn pod_ids(&self) -> &[PodId] {
        &self.pod_ids
    }
}

impl fmt::Display for Workload {
    /// `namespace/name`, for people: not parsed back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The name of the workload a pod belongs to, from the names and labels its controller
/// gives it:
///
/// - a Deployment's pod (label `pod-template-hash: H`, name `NAME-H-XXXXX`): `NAME`;
/// - a StatefulSet's pod (label `statefulset.kubernetes.io/pod-name` equal to its name,
///   `NAME-N`): `NAME`;
/// - a DaemonSet's pod (label `controller-revision-hash`, name `NAME-XXXXX`): `NAME`;
/// - a Job's pod (label `batch.kubernetes.io/job-name` or `job-name`): the Job's name;
/// - any other pod: its own name.
///
/// ```
/// use netpol::analysis::workload_name;
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("x", "api-5d78c9869d-abcde").label("pod-template-hash", "5d78c9869d"))
///     .pod(PodSpec::new("x", "db-2").label("statefulset.kubernetes.io/pod-name", "db-2"))
///     .pod(PodSpec::new("x", "fluentd-x7k2m").label("controller-revision-hash", "6f8b9"))
///     .pod(PodSpec::new("x", "backup-28194-q2x9z").label("batch.kubernetes.io/job-name", "backup-28194"))
///     .pod(PodSpec::new("x", "debug"))
///     .build()?;
/// let names: Vec<&str> = cluster.pods().map(|(_, p)| workload_name(p)).collect();
/// assert_eq!(names, ["api", "db", "fluentd", "backup-28194", "debug"]);
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[must_use]
pub fn workload_name(pod: &Pod) -> &str {
    let name = pod.name.as_str();
    let label = |k: &str| pod.labels.get(k).map(String::as_str);
    if let Some(hash) = label("pod-template-hash") {
        if let Some(at) = name.find(&format!("-{hash}-")) {
            if at > 0 {
                return name.get(..at).unwrap_or(name);
            }
        }
    }
    if label("statefulset.kubernetes.io/pod-name") == Some(name) {
        if let Some((base, n)) = name.rsplit_once('-') {
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                return base;
            }
        }
    }
    if let Some(job) = label("batch.kubernetes.io/job-name").or_else(|| label("job-name")) {
        if !job.is_empty() {
            return job;
        }
    }
    if label("controller-revision-hash").is_some() {
        if let Some((base, suffix)) = name.rsplit_once('-') {
            if !base.is_empty()
                && suffix.len() == 5
                && suffix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return base;
            }
        }
    }
    name
}

/// What the analyses read of a class.
#[derive(Debug, Clone)]
pub(crate) struct ClassData {
    pub(crate) pods: Vec<PodId>,
    pub(crate) namespace: NamespaceId,
    /// The family of its first address (`Some(true)` IPv6), `None` without addresses.
    pub(crate) family: Option<bool>,
    /// Its named container ports' signature (equal signatures, equal named ports).
    pub(crate) named: u32,
    /// Its named container ports' numbers, with their protocols.
    pub(crate) named_ports: Vec<(Protocol, u16)>,
    /// Its first IPv4 and first IPv6 address, as numbers.
    pub(crate) addr: [Option<u128>; 2],
    /// Which networks of every policy set given hold those addresses (see
    /// [`CidrBounds::signature`]).
    pub(crate) sig: [u32; 2],
    pub(crate) workloads: Vec<WorkloadId>,
}

/// The pods of a cluster grouped into classes no policy can tell apart, and into
/// workloads.
///
/// Two pods are in one class when they have the same namespace, labels and service
/// account (so every selector of every kind, Calico's included, matches both or
/// neither), the same first address family, first IPv4 and first IPv6 addresses inside
/// the same CIDRs of every policy (so every `ipBlock`, `networks` and Calico `nets` entry
/// holds both or neither), and the same named container ports (so every named port
/// resolves to the same number on both). Every flow between two pods then has the
/// verdict of the same flow between any other two pods of the same classes.
///
/// A [`Workload`] is what people name: the pods of one Deployment, StatefulSet,
/// DaemonSet or Job (see [`workload_name`]), split further where its pods fall into
/// different classes (`NAME#1`, `NAME#2`), so that every pod of a workload is in one
/// class.
///
/// The classes depend on the policies only through their CIDRs: give every policy set
/// the classes will be used with (both sides of a diff).
///
/// ```
/// use netpol::analysis::PodClasses;
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("x", "a").label("app", "web").ip("10.0.0.1".parse()?))
///     .pod(PodSpec::new("x", "b").label("app", "web").ip("10.0.0.2".parse()?))
///     .pod(PodSpec::new("x", "c").label("app", "db").ip("10.0.0.3".parse()?))
///     .build()?;
/// let classes = PodClasses::new(&cluster, &[]);
/// assert_eq!(classes.len(), 2);
/// let of = |name| classes.class_of(cluster.pod_id("x", name).unwrap()).unwrap();
/// assert_eq!(of("a"), of("b"));
/// assert_ne!(of("a"), of("c"));
/// assert_eq!(classes.pods(of("a")).len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PodClasses {
    pub(crate) classes: Vec<ClassData>,
    pub(crate) of_pod: Vec<u32>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) workload_of_pod: Vec<u32>,
    lineage: u32,
}

/// An address as a number, IPv4 and IPv6 apart.
pub(crate) fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Networks, per family: the sorted starts of the address intervals they cut (two
/// addresses in one interval are inside exactly the same networks), and the networks
/// themselves, to name the set of networks an address is inside by the most specific one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CidrBounds(
    pub(crate) [Vec<u128>; 2],
    [Vec<(u8, u128)>; 2],
    [Vec<u8>; 2],
);

impl CidrBounds {
    pub(crate) fn add(&mut self, net: &ipnet::IpNet) {
        let nets = &mut self.1;
        match net {
            ipnet::IpNet::V4(n) => {
                nets[0].push((n.prefix_len(), u128::from(u32::from(n.network()))))
            }
            ipnet::IpNet::V6(n) => nets[1].push((n.prefix_len(), u128::from(n.network()))),
        }
        let (fam, start, last) = match net {
            ipnet::IpNet::V4(n) => (
                0,
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.broadcast())),
            ),
            ipnet::IpNet::V6(n) => (1, u128::from(n.network()), u128::from(n.broadcast())),
        };
        let [v4, v6] = &mut self.0;
        let v = if fam == 0 { v4 } else { v6 };
        v.push(start);
        let max = if fam == 0 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if last < max {
            v.push(last + 1);
        }
    }

    pub(crate) fn finish(&mut self) {
        for v in &mut self.0 {
            v.sort_unstable();
            v.dedup();
        }
        for (nets, lens) in self.1.iter_mut().zip(self.2.iter_mut()) {
            nets.sort_unstable();
            nets.dedup();
            lens.clear();
            lens.extend(nets.iter().map(|(l, _)| *l));
            lens.dedup();
            lens.reverse();
        }
    }

    pub(crate) fn extend(&mut self, other: &CidrBounds) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.extend_from_slice(b);
        }
        for (a, b) in self.1.iter_mut().zip(&other.1) {
            a.extend_from_slice(b);
        }
    }

    /// Which networks an address of family `v6` is inside, as the position of the most
    /// specific one (the others are the networks holding it): `u32::MAX - 1` for none,
    /// `u32::MAX` for no address.
    pub(crate) fn signature(&self, v6: bool, addr: Option<u128>) -> u32 {
        let Some(a) = addr else {
            return u32::MAX;
        };
        let fam = usize::from(v6);
        let (Some(nets), Some(lens)) = (self.1.get(fam), self.2.get(fam)) else {
            return u32::MAX - 1;
        };
        let width: u32 = if v6 { 128 } else { 32 };
        for &len in lens {
            let host = width - u32::from(len);
            let masked = if host >= 128 { 0 } else { (a >> host) << host };
            if let Ok(i) = nets.binary_search(&(len, masked)) {
                return u32::try_from(i).unwrap_or(u32::MAX - 2);
            }
        }
        u32::MAX - 1
    }

    /// The networks, per family.
    pub(crate) fn nets(&self) -> [Vec<(u8, u128)>; 2] {
        self.1.clone()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }

    /// Every network a policy set's rules and network sets name.
    pub(crate) fn policy_set(&mut self, set: PolicySetRef<'_>) {
        for d in [Direction::Ingress, Direction::Egress] {
            for p in set.network_policies() {
                self.network_policy(p, d);
            }
            for p in set.cluster_policies() {
                self.cluster_policy(p, d);
            }
            for p in set.calico_policies() {
                self.calico_policy(p, d);
            }
        }
        for s in set.network_sets() {
            for n in s.nets() {
                self.add(n);
            }
        }
    }

    pub(crate) fn network_policy(&mut self, p: &crate::policy::Policy, d: Direction) {
        for rule in p.rules(d) {
            for peer in rule.peers.iter().flatten() {
                if let Peer::IpBlock(b) = peer {
                    self.add(&b.cidr());
                    for e in b.except() {
                        self.add(e);
                    }
                }
            }
        }
    }

    pub(crate) fn cluster_policy(&mut self, p: &crate::policy::ClusterPolicy, d: Direction) {
        for rule in p.rules(d) {
            for peer in rule.peers() {
                if let ClusterPeer::Networks(nets) = peer {
                    for n in nets {
                        self.add(n);
                    }
                }
            }
        }
    }

    pub(crate) fn calico_policy(&mut self, p: &crate::calico::CalicoPolicy, d: Direction) {
        for rule in p.rules(d) {
            for e in [rule.source(), rule.destination()] {
                for n in e.nets().iter().chain(e.not_nets()) {
                    self.add(n);
                }
            }
        }
    }
}

impl PodClasses {
    /// Groups the pods of `cluster` into classes for the policy sets `sets` (their
    /// CIDRs cut the address space), and into workloads.
    ///
    /// ```
    /// use netpol::analysis::PodClasses;
    /// use netpol::cluster::{Cluster, PodSpec};
    /// use netpol::model::decode_policies;
    /// use netpol::policy::{AsPolicySet, Policy};
    /// let cluster = Cluster::builder()
    ///     .pod(PodSpec::new("x", "a").ip("10.0.0.1".parse()?))
    ///     .pod(PodSpec::new("x", "b").ip("10.0.1.1".parse()?))
    ///     .build()?;
    /// let written = decode_policies(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
    ///   "metadata": {"name": "p", "namespace": "x"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]}}"#)?;
    /// let policies: Vec<Policy> = written.iter().map(Policy::new).collect::<Result<_, _>>()?;
    /// assert_eq!(PodClasses::new(&cluster, &[]).len(), 1);
    /// assert_eq!(PodClasses::new(&cluster, &[policies.as_policy_set()]).len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(cluster: &Cluster, sets: &[PolicySetRef<'_>]) -> Self {
        let mut bounds = CidrBounds::default();
        for s in sets {
            bounds.policy_set(*s);
        }
        bounds.finish();

        let mut named_index: HashMap<Vec<(&str, Protocol, u16)>, u32> = HashMap::new();
        type Key<'a> = (usize, &'a crate::model::Labels, &'a str, u8, u32, [u32; 2]);
        let mut index: HashMap<Key<'_>, u32> = HashMap::new();
        let mut classes: Vec<ClassData> = Vec::new();
        let mut of_pod = Vec::with_capacity(cluster.pod_count());
        for (id, pod) in cluster.pods() {
            let mut named: Vec<(&str, Protocol, u16)> = pod
                .ports
                .iter()
                .filter_map(|c| c.name.as_deref().map(|n| (n, c.protocol, c.port)))
                .collect();
            named.sort_unstable();
            named.dedup();
            let next = u32::try_from(named_index.len()).unwrap_or(u32::MAX);
            let named_id = *named_index.entry(named.clone()).or_insert(next);
            let family = pod.ips.first().map(IpAddr::is_ipv6);
            let first = |v6: bool| {
                pod.ips
                    .iter()
                    .find(|ip| ip.is_ipv6() == v6)
                    .map(|ip| addr_bits(*ip))
            };
            let addr = [first(false), first(true)];
            let sig = [
                bounds.signature(false, addr[0]),
                bounds.signature(true, addr[1]),
            ];
            let key: Key<'_> = (
                pod.namespace.index(),
                &pod.labels,
                pod.service_account.as_str(),
                match family {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                },
                named_id,
                sig,
            );
            let next = u32::try_from(classes.len()).unwrap_or(u32::MAX);
            let class = *index.entry(key).or_insert_with(|| {
                let mut ports: Vec<(Protocol, u16)> =
                    named.iter().map(|(_, p, n)| (*p, *n)).collect();
                ports.sort_unstable();
                ports.dedup();
                classes.push(ClassData {
                    pods: Vec::new(),
                    namespace: pod.namespace,
                    family,
                    named: named_id,
                    named_ports: ports,
                    addr,
                    sig,
                    workloads: Vec::new(),
                });
                next
            });
            if let Some(c) = classes.get_mut(class as usize) {
                c.pods.push(id);
            }
            of_pod.push(class);
        }

        // Workloads: (namespace, name) refined by class.
        let mut by_name: HashMap<(usize, &str, u32), Vec<PodId>> = HashMap::new();
        let mut order: Vec<(usize, &str, u32)> = Vec::new();
        for ((id, pod), class) in cluster.pods().zip(&of_pod) {
            let key = (pod.namespace.index(), workload_name(pod), *class);
            by_name
                .entry(key)
                .or_insert_with(|| {
                    order.push(key);
                    Vec::new()
                })
                .push(id);
        }
        let ns_names: Vec<String> = cluster.namespaces().map(|(_, n)| n.name.clone()).collect();
        let ns_of = |i: usize| ns_names.get(i).map_or("", String::as_str);
        order.sort_by(|a, b| (ns_of(a.0), a.1, a.2).cmp(&(ns_of(b.0), b.1, b.2)));
        let mut parts: HashMap<(usize, &str), u32> = HashMap::new();
        for k in &order {
            *parts.entry((k.0, k.1)).or_insert(0) += 1;
        }
        let mut seen: HashMap<(usize, &str), u32> = HashMap::new();
        let mut workloads = Vec::with_capacity(order.len());
        let mut workload_of_pod = vec![0u32; cluster.pod_count()];
        for (w, key) in order.iter().enumerate() {
            let n = seen.entry((key.0, key.1)).or_insert(0);
            *n += 1;
            let split = parts.get(&(key.0, key.1)).copied().unwrap_or(1) > 1;
            let name = if split {
                format!("{}#{n}", key.1)
            } else {
                key.1.to_owned()
            };
            let pod_ids = by_name.remove(key).unwrap_or_default();
            let wid = WorkloadId(u32::try_from(w).unwrap_or(u32::MAX));
            for p in &pod_ids {
                if let Some(slot) = workload_of_pod.get_mut(p.index()) {
                    *slot = wid.0;
                }
            }
            if let Some(c) = classes.get_mut(key.2 as usize) {
                c.workloads.push(wid);
            }
            workloads.push(Workload {
                namespace: ns_of(key.0).to_owned(),
                name,
                pods: pod_ids
                    .iter()
                    .filter_map(|p| cluster.pod(*p).map(|p| p.name.clone()))
                    .collect(),
                class: ClassId(key.2),
                pod_ids,
            });
        }
        PodClasses {
            classes,
            of_pod,
            workloads,
            workload_of_pod,
            lineage: cluster.lineages().0,
        }
    }

    /// How many classes.
    ///
    /// ```
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// assert_eq!(netpol::analysis::PodClasses::new(&cluster, &[]).len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there is no class (no pod).
    ///
    /// ```
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// assert!(netpol::analysis::PodClasses::new(&cluster, &[]).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Every class, in order.
    ///
    /// ```
    /// # let cluster = netpol::cluster::Cluster::builder().pod(netpol::cluster::PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(netpol::analysis::PodClasses::new(&cluster, &[]).ids().count(), 1);
    /// ```
    #[must_use]
    pub fn ids(&self) -> impl ExactSizeIterator<Item = ClassId> + '_ {
        (0..self.classes.len()).map(|i| ClassId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// The class of a pod; `None` for a pod of another cluster.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let other = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// assert!(classes.class_of(other.pod_id("x", "a").unwrap()).is_none());
    /// ```
    #[must_use]
    pub fn class_of(&self, pod: PodId) -> Option<ClassId> {
        if pod.lineage() != self.lineage {
            return None;
        }
        self.of_pod.get(pod.index()).map(|c| ClassId(*c))
    }

    /// The pods of a class (empty for a class of another grouping).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// let a = cluster.pod_id("x", "a").unwrap();
    /// assert_eq!(classes.pods(classes.class_of(a).unwrap()), &[a]);
    /// ```
    #[must_use]
    pub fn pods(&self, class: ClassId) -> &[PodId] {
        self.classes
            .get(class.index())
            .map_or(&[][..], |c| c.pods.as_slice())
    }

    /// The workloads, sorted by namespace and name.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("y", "b")).pod(PodSpec::new("x", "a")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// let names: Vec<String> = classes.workloads().iter().map(|w| w.to_string()).collect();
    /// assert_eq!(names, ["x/a", "y/b"]);
    /// ```
    #[must_use]
    pub fn workloads(&self) -> &[Workload] {
        &self.workloads
    }

    /// Every workload id, in order.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(netpol::analysis::PodClasses::new(&cluster, &[]).workload_ids().len(), 1);
    /// ```
    #[must_use]
    pub fn workload_ids(&self) -> impl ExactSizeIterator<Item = WorkloadId> + '_ {
        (0..self.workloads.len()).map(|i| WorkloadId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// A workload by id.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// let w = classes.workload_of(cluster.pod_id("x", "a").unwrap()).unwrap();
    /// assert_eq!(classes.workload(w).unwrap().name, "a");
    /// ```
    #[must_use]
    pub fn workload(&self, id: WorkloadId) -> Option<&Workload> {
        self.workloads.get(id.index())
    }

    /// The workload of a pod; `None` for a pod of another cluster.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// assert!(classes.workload_of(cluster.pod_id("x", "a").unwrap()).is_some());
    /// ```
    #[must_use]
    pub fn workload_of(&self, pod: PodId) -> Option<WorkloadId> {
        if pod.lineage() != self.lineage {
            return None;
        }
        self.workload_of_pod
            .get(pod.index())
            .map(|w| WorkloadId(*w))
    }

    /// The workloads of a class.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let classes = netpol::analysis::PodClasses::new(&cluster, &[]);
    /// let c = classes.class_of(cluster.pod_id("x", "a").unwrap()).unwrap();
    /// assert_eq!(classes.workloads_of(c).len(), 2); // two pods on their own, one class
    /// ```
    #[must_use]
    pub fn workloads_of(&self, class: ClassId) -> &[WorkloadId] {
        self.classes
            .get(class.index())
            .map_or(&[][..], |c| c.workloads.as_slice())
    }

    pub(crate) fn data(&self, class: u32) -> Option<&ClassData> {
        self.classes.get(class as usize)
    }
}
