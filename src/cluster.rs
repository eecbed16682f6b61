//! The cluster a policy set applies to: namespaces, nodes, pods, and flows between them.
//!
//! A [`Cluster`] is built once with [`ClusterBuilder`] and then only read; cloning it is
//! cheap (one reference count), so an [`Engine`](crate::engine::Engine) holds the same
//! cluster its caller built instead of a copy. Pods, nodes and namespaces are referred to
//! by small opaque ids ([`PodId`], [`NodeId`], [`NamespaceId`]) so that a [`Flow`] is
//! `Copy` and deciding it needs no allocation.
//!
//! Ids are tied to the cluster that issued them: every built cluster has an identity of
//! its own, and an id from another cluster (or from the same builder built twice) is not
//! found in it. Evaluators never allow a flow whose pod or node they cannot find.
//!
//! Every namespace carries the label `kubernetes.io/metadata.name: <name>`, as a 1.22+
//! apiserver sets it, whether or not it was given. A pod in a namespace that was never
//! added gets that namespace created with no other labels.
//!
//! ```
//! use netpol::cluster::{Cluster, ContainerPort, Endpoint, Flow, PodSpec};
//! use netpol::policy::Protocol;
//!
//! let cluster = Cluster::builder()
//!     .namespace("prod", [("env", "prod")])
//!     .node("node-1", ["192.168.0.11".parse().unwrap()])
//!     .pod(PodSpec::new("prod", "db").label("app", "db").ip("10.244.1.5".parse().unwrap())
//!         .node("node-1").port(ContainerPort::named("pg", 5432, Protocol::Tcp)))
//!     .pod(PodSpec::new("prod", "api").label("app", "api").ip("10.244.1.6".parse().unwrap()))
//!     .build()?;
//! let db = cluster.pod_id("prod", "db").unwrap();
//! let api = cluster.pod_id("prod", "api").unwrap();
//! let flow = Flow::new(Endpoint::Pod(api), Endpoint::Pod(db), 5432, Protocol::Tcp);
//! assert_eq!(cluster.describe(flow.dst), "prod/db");
//! assert_eq!(cluster.endpoint_at("10.244.1.5".parse().unwrap()), Endpoint::Pod(db));
//! let ns = cluster.namespace(cluster.pod(db).unwrap().namespace).unwrap();
//! assert_eq!(ns.labels["kubernetes.io/metadata.name"], "prod");
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

mod edit;
mod objects;
pub(crate) use edit::PodEdit;
pub use objects::{
    BuiltCluster, CALICO_TUNNEL_ANNOTATIONS, ClusterObjects, ClusterParts,
    FLANNEL_BACKEND_TYPE_ANNOTATION, NoteKind, NoteSeverity, ObjectId, ObjectNote,
};
pub(crate) use objects::{PodObject, namespace_object, node_object, pod_object};

use crate::model::Labels;
use crate::persist::{PMap, PVec};
use crate::policy::{Direction, Protocol};

/// The label every namespace carries with its own name.
///
/// ```
/// use netpol::cluster::{Cluster, NAMESPACE_NAME_LABEL};
/// let cluster = Cluster::builder().namespace("kube-system", [("team", "platform")]).build()?;
/// let id = cluster.namespace_id("kube-system").unwrap();
/// assert_eq!(NAMESPACE_NAME_LABEL, "kubernetes.io/metadata.name");
/// assert_eq!(cluster.namespace(id).unwrap().labels[NAMESPACE_NAME_LABEL], "kube-system");
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where each built cluster's identity comes from. Identities only need to differ
/// between clusters alive in one process at the same time; after 2³² builds the counter
/// wraps, which is documented on [`PodId`].
static NEXT_LINEAGE: AtomicU32 = AtomicU32::new(1);

fn next_lineage() -> u32 {
    NEXT_LINEAGE.fetch_add(1, Ordering::Relaxed)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            index: u32,
            lineage: u32,
        }

        impl $name {
            /// The position of this object among the cluster's objects of its kind, the
            /// same as its rank in the cluster's iterator, for callers that keep tables
            /// of their own.
            ///
            /// ```
            /// use netpol::cluster::{Cluster, PodSpec};
            /// let c = Cluster::builder().node("n1", []).namespace("x", [("k", "v")])
            ///     .pod(PodSpec::new("x", "a")).build().unwrap();
            #[doc = concat!("let first = c.", $what, "().next().unwrap().0;")]
            /// assert_eq!(first.index(), 0);
            /// ```
            pub fn index(self) -> usize {
                self.index as usize
            }

            pub(crate) fn new(index: u32, lineage: u32) -> Self {
                $name { index, lineage }
            }

            pub(crate) fn lineage(self) -> u32 {
                self.lineage
            }
        }

        impl fmt::Display for $name {
            /// `#index`: ids are only meaningful together with their cluster, which
            /// [`Cluster::describe`] uses to write names. Not parsed back.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "#{}", self.index)
            }
        }
    };
}

id_type!(
    /// A pod of a [`Cluster`].
    ///
    /// Opaque and tied to the cluster that issued it: [`Cluster::pod`] of another
    /// cluster does not find it, even at the same position. (Cluster identities are a
    /// 32-bit counter per process, so two clusters built 2³² builds apart could share
    /// one; nothing else can make an id of one cluster valid in another.)
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let one = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let two = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = one.pod_id("x", "a").unwrap();
    /// assert!(one.pod(a).is_some());
    /// assert!(two.pod(a).is_none()); // same position, other cluster
    /// ```
    PodId,
    "pods"
);
id_type!(
    /// A node of a [`Cluster`]; opaque and tied to its cluster like [`PodId`].
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// let n1 = c.node_id("n1").unwrap();
    /// assert_eq!(c.node(n1).unwrap().name, "n1");
    /// ```
    NodeId,
    "nodes"
);
id_type!(
    /// A namespace of a [`Cluster`]; opaque and tied to its cluster like [`PodId`].
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// let a = c.namespace_id("a").unwrap();
    /// assert_eq!(c.namespace(a).unwrap().name, "a");
    /// ```
    NamespaceId,
    "namespaces"
);

/// A declared container port.
///
/// ```
/// use netpol::cluster::ContainerPort;
/// use netpol::policy::Protocol;
/// let p = ContainerPort::named("dns", 53, Protocol::Udp);
/// assert_eq!(p.name.as_deref(), Some("dns"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ContainerPort {
    /// The port's name, which policies can use instead of the number.
    pub name: Option<String>,
    /// The port number.
    pub port: u16,
    /// The protocol, `TCP` by default.
    pub protocol: Protocol,
}

impl ContainerPort {
    /// A named port.
    ///
    /// ```
    /// let p = netpol::cluster::ContainerPort::named("http", 8080, Default::default());
    /// assert_eq!(p.port, 8080);
    /// ```
    pub fn named(name: impl Into<String>, port: u16, protocol: Protocol) -> Self {
        ContainerPort {
            name: Some(name.into()),
            port,
            protocol,
        }
    }

    /// An unnamed port.
    ///
    /// ```
    /// let p = netpol::cluster::ContainerPort::unnamed(9090, Default::default());
    /// assert!(p.name.is_none());
    /// ```
    #[must_use]
    pub fn unnamed(port: u16, protocol: Protocol) -> Self {
        ContainerPort {
            name: None,
            port,
            protocol,
        }
    }
}

/// A namespace with its labels (including `kubernetes.io/metadata.name`).
///
/// ```
/// use netpol::cluster::Cluster;
/// let cluster = Cluster::builder().namespace("prod", [("env", "prod")]).build()?;
/// let prod = cluster.namespace(cluster.namespace_id("prod").unwrap()).unwrap();
/// assert_eq!(prod.name, "prod");
/// assert_eq!(prod.labels["env"], "prod");
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Namespace {
    /// The name.
    pub name: String,
    /// The labels.
    pub labels: Labels,
}

/// A node: its labels, host addresses, pod subnets and overlay addresses.
///
/// The pod subnets (`spec.podCIDRs`) and the overlay (tunnel) addresses the network
/// plugin gave the node are what [`service`](crate::service) needs to tell which address
/// a node masquerades Service traffic to (see
/// [`ServiceMasquerade`](crate::profile::ServiceMasquerade)); nothing else reads them.
///
/// ```
/// use netpol::cluster::{Cluster, NodeSpec};
/// let cluster = Cluster::builder()
///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?).ip("fd00:10::11".parse()?)
///         .label("topology.kubernetes.io/zone", "a")
///         .pod_cidr("10.244.1.0/24".parse()?).tunnel_ip("10.244.1.64".parse()?))
///     .build()?;
/// let node = cluster.node(cluster.node_id("node-1").unwrap()).unwrap();
/// assert_eq!(node.ips[0].to_string(), "192.168.0.11");
/// assert!(node.ips[1].is_ipv6());
/// assert_eq!(node.labels["topology.kubernetes.io/zone"], "a");
/// assert_eq!(node.pod_cidrs[0].to_string(), "10.244.1.0/24");
/// assert_eq!(node.tunnel_ips[0].to_string(), "10.244.1.64");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Node {
    /// The name.
    pub name: String,
    /// The labels (for peers that select nodes).
    pub labels: Labels,
    /// Host IPs (IPv4, IPv6 or both); the first of a family is used for that family.
    pub ips: Vec<IpAddr>,
    /// The node's pod subnets (`spec.podCIDRs`), at most one per family.
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// The node's overlay (tunnel) addresses, as the network plugin recorded them
    /// (Calico's `projectcalico.org/IPv4IPIPTunnelAddr` annotation and its kin); the
    /// first of a family is used for that family.
    pub tunnel_ips: Vec<IpAddr>,
}

impl Node {
    /// The node's first host IP of a family.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, IpFamily, NodeSpec};
    /// let c = Cluster::builder()
    ///     .add_node(NodeSpec::new("n1").ip("192.168.0.11".parse()?).ip("fd00::11".parse()?))
    ///     .build()?;
    /// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
    /// assert_eq!(n1.ip(IpFamily::Ipv6), Some("fd00::11".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ip(&self, family: IpFamily) -> Option<IpAddr> {
        self.ips
            .iter()
            .copied()
            .find(|ip| IpFamily::of(*ip) == family)
    }

    /// The node's pod subnet of a family.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, IpFamily, NodeSpec};
    /// let c = Cluster::builder()
    ///     .add_node(NodeSpec::new("n1").pod_cidr("10.244.1.0/24".parse()?)).build()?;
    /// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
    /// assert_eq!(n1.pod_cidr(IpFamily::Ipv4).map(|n| n.to_string()).as_deref(), Some("10.244.1.0/24"));
    /// assert!(n1.pod_cidr(IpFamily::Ipv6).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn pod_cidr(&self, family: IpFamily) -> Option<ipnet::IpNet> {
        self.pod_cidrs
            .iter()
            .copied()
            .find(|net| IpFamily::of(net.addr()) == family)
    }

    /// The node's recorded tunnel address of a family.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, IpFamily, NodeSpec};
    /// let c = Cluster::builder()
    ///     .add_node(NodeSpec::new("n1").tunnel_ip("10.244.1.64".parse()?)).build()?;
    /// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
    /// assert_eq!(n1.tunnel_ip(IpFamily::Ipv4), Some("10.244.1.64".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn tunnel_ip(&self, family: IpFamily) -> Option<IpAddr> {
        self.tunnel_ips
            .iter()
            .copied()
            .find(|ip| IpFamily::of(*ip) == family)
    }
}

/// An address family.
///
/// ```
/// use netpol::cluster::IpFamily;
/// assert_eq!(IpFamily::of("fd00::1".parse().unwrap()), IpFamily::Ipv6);
/// assert!(!IpFamily::Ipv4.is_ipv6());
/// assert_eq!(IpFamily::Ipv4.to_string(), "IPv4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl IpFamily {
    /// The family of an address.
    ///
    /// ```
    /// use netpol::cluster::IpFamily;
    /// assert_eq!(IpFamily::of("10.0.0.1".parse().unwrap()), IpFamily::Ipv4);
    /// ```
    #[must_use]
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv6() {
            IpFamily::Ipv6
        } else {
            IpFamily::Ipv4
        }
    }

    /// Whether this is IPv6.
    ///
    /// ```
    /// assert!(netpol::cluster::IpFamily::Ipv6.is_ipv6());
    /// ```
    #[must_use]
    pub fn is_ipv6(self) -> bool {
        self == IpFamily::Ipv6
    }
}

impl fmt::Display for IpFamily {
    /// `IPv4` or `IPv6`, as a Service's `ipFamilies` writes them; [`FromStr`](std::str::FromStr)
    /// reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::Ipv4 => "IPv4",
            IpFamily::Ipv6 => "IPv6",
        })
    }
}

/// A family name that is not `IPv4` or `IPv6`.
///
/// ```
/// let err = "ipv4".parse::<netpol::cluster::IpFamily>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown IP family "ipv4": expected "IPv4" or "IPv6""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown IP family \"{0}\": expected \"IPv4\" or \"IPv6\"")]
pub struct UnknownIpFamily(String);

impl std::str::FromStr for IpFamily {
    type Err = UnknownIpFamily;
    /// `IPv4` or `IPv6`, exactly (as the API writes `ipFamilies`).
    ///
    /// ```
    /// use netpol::cluster::IpFamily;
    /// assert_eq!("IPv6".parse::<IpFamily>(), Ok(IpFamily::Ipv6));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "IPv4" => Ok(IpFamily::Ipv4),
            "IPv6" => Ok(IpFamily::Ipv6),
            other => Err(UnknownIpFamily(other.to_owned())),
        }
    }
}

/// A pod as the policy engine sees it.
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// let cluster = Cluster::builder()
///     .node("node-1", ["192.168.0.11".parse()?])
///     .pod(PodSpec::new("prod", "db").label("app", "db").ip("10.244.1.5".parse()?).node("node-1"))
///     .build()?;
/// let db = cluster.pod(cluster.pod_id("prod", "db").unwrap()).unwrap();
/// assert_eq!(db.labels["app"], "db");
/// assert_eq!(db.node, cluster.node_id("node-1"));
/// assert_eq!(db.namespace, cluster.namespace_id("prod").unwrap());
/// assert_eq!(db.service_account, "default");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Pods of one workload usually carry the same labels and declare the same ports: a
/// cluster built by one [`ClusterBuilder`] stores each distinct label set and each
/// distinct port list once, shared between the pods that have it.
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// let c = Cluster::builder()
///     .pod(PodSpec::new("x", "web-1").label("app", "web"))
///     .pod(PodSpec::new("x", "web-2").label("app", "web"))
///     .build()?;
/// let one = c.pod(c.pod_id("x", "web-1").unwrap()).unwrap();
/// let two = c.pod(c.pod_id("x", "web-2").unwrap()).unwrap();
/// assert!(std::sync::Arc::ptr_eq(&one.labels, &two.labels));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pod {
    /// Its namespace.
    pub namespace: NamespaceId,
    /// Its name.
    pub name: String,
    /// Its labels (shared with the cluster's other pods that have the same).
    pub labels: Arc<Labels>,
    /// Pod IPs (IPv4, IPv6 or both).
    pub ips: Vec<IpAddr>,
    /// The node it runs on, when known and listed.
    pub node: Option<NodeId>,
    /// Declared container ports (shared with the cluster's other pods that declare the
    /// same).
    pub ports: Arc<[ContainerPort]>,
    /// Its service account (`default` when none was given).
    pub service_account: String,
}

/// A pod to add to a [`ClusterBuilder`].
///
/// A pod on the host network (`hostNetwork: true`) is not a pod endpoint: its traffic is
/// its node's, and no NetworkPolicy selects it. Mark it with
/// [`host_network`](Self::host_network); the cluster then answers its name with the
/// node's endpoint ([`Cluster::resolve_pod`]).
///
/// ```
/// use netpol::cluster::PodSpec;
/// let spec = PodSpec::new("default", "web").label("app", "web").ip("10.0.0.1".parse().unwrap());
/// assert_eq!(spec.name, "web");
/// ```
///
/// Labels and ports are held as shared values, as a [`Pod`] holds them: a caller adding
/// many pods with the same labels can give each a clone of one value (the builder shares
/// equal ones anyway).
///
/// ```
/// use std::sync::Arc;
/// use netpol::cluster::{Cluster, ContainerPort, PodSpec};
/// use netpol::model::Labels;
/// let labels: Arc<Labels> = Arc::new([("app".to_owned(), "web".to_owned())].into());
/// let ports: Arc<[ContainerPort]> = vec![ContainerPort::named("http", 80, Default::default())].into();
/// let mut builder = Cluster::builder();
/// for i in 0..3 {
///     let mut spec = PodSpec::new("shop", format!("web-{i}"));
///     spec.labels = Arc::clone(&labels);
///     spec.ports = Arc::clone(&ports);
///     builder = builder.pod(spec);
/// }
/// let c = builder.build()?;
/// assert!(c.pods().all(|(_, p)| Arc::ptr_eq(&p.labels, &labels) && p.ports[0].port == 80));
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PodSpec {
    /// Namespace name.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Labels.
    pub labels: Arc<Labels>,
    /// Pod IPs.
    pub ips: Vec<IpAddr>,
    /// Node name.
    pub node: Option<String>,
    /// Container ports.
    pub ports: Arc<[ContainerPort]>,
    /// Service account name (`default` when `None`).
    pub service_account: Option<String>,
    /// Whether the pod runs on its node's network namespace.
    pub host_network: bool,
}

impl PodSpec {
    /// A pod with a namespace and a name.
    ///
    /// ```
    /// assert!(netpol::cluster::PodSpec::new("a", "b").labels.is_empty());
    /// ```
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        PodSpec {
            namespace: namespace.into(),
            name: name.into(),
            ..PodSpec::default()
        }
    }

    /// Adds a label.
    ///
    /// ```
    /// let s = netpol::cluster::PodSpec::new("a", "b").label("k", "v");
    /// assert_eq!(s.labels["k"], "v");
    /// ```
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.labels).insert(key.into(), value.into());
        self
    }

    /// Adds a pod IP.
    ///
    /// ```
    /// let s = netpol::cluster::PodSpec::new("a", "b").ip("fd00::1".parse().unwrap());
    /// assert_eq!(s.ips.len(), 1);
    /// ```
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ips.push(ip);
        self
    }

    /// Sets the node.
    ///
    /// ```
    /// let s = netpol::cluster::PodSpec::new("a", "b").node("n1");
    /// assert_eq!(s.node.as_deref(), Some("n1"));
    /// ```
    #[must_use]
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Adds a container port.
    ///
    /// ```
    /// use netpol::cluster::{ContainerPort, PodSpec};
    /// let s = PodSpec::new("a", "b").port(ContainerPort::unnamed(80, Default::default()));
    /// assert_eq!(s.ports[0].port, 80);
    /// ```
    #[must_use]
    pub fn port(mut self, port: ContainerPort) -> Self {
        let mut ports = self.ports.to_vec();
        ports.push(port);
        self.ports = ports.into();
        self
    }

    /// Sets the service account.
    ///
    /// ```
    /// let s = netpol::cluster::PodSpec::new("a", "b").service_account("builder");
    /// assert_eq!(s.service_account.as_deref(), Some("builder"));
    /// ```
    #[must_use]
    pub fn service_account(mut self, name: impl Into<String>) -> Self {
        self.service_account = Some(name.into());
        self
    }

    /// Marks the pod as running on its node's network (`hostNetwork: true`).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// let c = Cluster::builder()
    ///     .node("n1", ["192.168.0.11".parse().unwrap()])
    ///     .pod(PodSpec::new("kube-system", "kube-proxy-x").node("n1").host_network(true))
    ///     .build().unwrap();
    /// assert!(c.pod_id("kube-system", "kube-proxy-x").is_none()); // not a pod endpoint
    /// assert_eq!(c.resolve_pod("kube-system", "kube-proxy-x"), Some(Endpoint::Node(c.node_id("n1").unwrap())));
    /// ```
    #[must_use]
    pub fn host_network(mut self, yes: bool) -> Self {
        self.host_network = yes;
        self
    }
}

/// A node to add to a [`ClusterBuilder`].
///
/// ```
/// use netpol::cluster::NodeSpec;
/// let n = NodeSpec::new("node-1").ip("192.168.0.11".parse().unwrap()).label("role", "worker");
/// assert_eq!(n.labels["role"], "worker");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Host IPs.
    pub ips: Vec<IpAddr>,
    /// Pod subnets (`spec.podCIDRs`).
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// Overlay (tunnel) addresses the network plugin recorded for the node.
    pub tunnel_ips: Vec<IpAddr>,
}

impl NodeSpec {
    /// A node with a name.
    ///
    /// ```
    /// assert!(netpol::cluster::NodeSpec::new("n").ips.is_empty());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        NodeSpec {
            name: name.into(),
            ..NodeSpec::default()
        }
    }

    /// Adds a host IP.
    ///
    /// ```
    /// let n = netpol::cluster::NodeSpec::new("n").ip("192.168.0.1".parse().unwrap());
    /// assert_eq!(n.ips.len(), 1);
    /// ```
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ips.push(ip);
        self
    }

    /// Adds a label.
    ///
    /// ```
    /// let n = netpol::cluster::NodeSpec::new("n").label("zone", "a");
    /// assert_eq!(n.labels["zone"], "a");
    /// ```
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a pod subnet (`spec.podCIDRs`); host bits are kept as written.
    ///
    /// ```
    /// let n = netpol::cluster::NodeSpec::new("n").pod_cidr("10.244.1.0/24".parse().unwrap());
    /// assert_eq!(n.pod_cidrs.len(), 1);
    /// ```
    #[must_use]
    pub fn pod_cidr(mut self, net: ipnet::IpNet) -> Self {
        self.pod_cidrs.push(net);
        self
    }

    /// Adds an overlay (tunnel) address, such as Calico's IPIP tunnel address.
    ///
    /// ```
    /// let n = netpol::cluster::NodeSpec::new("n").tunnel_ip("10.244.1.64".parse().unwrap());
    /// assert_eq!(n.tunnel_ips.len(), 1);
    /// ```
    #[must_use]
    pub fn tunnel_ip(mut self, ip: IpAddr) -> Self {
        self.tunnel_ips.push(ip);
        self
    }
}

/// A cluster that cannot be built.
///
/// ```
/// use netpol::cluster::{Cluster, ClusterError, PodSpec};
/// let err = Cluster::builder()
///     .pod(PodSpec::new("prod", "api"))
///     .pod(PodSpec::new("prod", "api"))
///     .build()
///     .unwrap_err();
/// assert_eq!(err, ClusterError::DuplicatePod("prod".into(), "api".into()));
/// assert_eq!(err.to_string(), "pod \"prod/api\" is listed twice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Two namespaces with one name.
    #[error("namespace \"{0}\" is listed twice")]
    DuplicateNamespace(String),
    /// Two nodes with one name.
    #[error("node \"{0}\" is listed twice")]
    DuplicateNode(String),
    /// Two pods with one namespace and name.
    #[error("pod \"{0}/{1}\" is listed twice")]
    DuplicatePod(String, String),
    /// A pod names a node that is not listed.
    #[error("pod \"{0}/{1}\" runs on node \"{2}\", which is not listed")]
    UnknownNode(String, String, String),
    /// More objects than ids can number.
    #[error("too many {0} (at most 4294967295)")]
    TooMany(&'static str),
}

/// Collects namespaces, nodes and pods; see [`Cluster::builder`].
///
/// ```
/// use netpol::cluster::{Cluster, ClusterError};
/// let builder = Cluster::builder().node("node-1", []).node("node-1", []);
/// assert_eq!(builder.build().unwrap_err(), ClusterError::DuplicateNode("node-1".into()));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClusterBuilder {
    namespaces: Vec<(String, Labels)>,
    nodes: Vec<NodeSpec>,
    pods: Vec<PendingPod>,
    /// Each distinct label set, port list and name of the pods added, stored once.
    shared: Shared,
}

/// A pod added to a builder: a [`PodSpec`] whose label set, port list and namespace name
/// are shared with the builder's other pods.
#[derive(Debug, Clone)]
struct PendingPod {
    namespace: Arc<str>,
    name: String,
    labels: Arc<Labels>,
    ips: Vec<IpAddr>,
    node: Option<NodeRef>,
    ports: Arc<[ContainerPort]>,
    service_account: Option<String>,
    host_network: bool,
}

/// A pending pod's node: the position of a node added before it, or a name to look up
/// when the cluster is built.
#[derive(Debug, Clone)]
enum NodeRef {
    At(u32),
    Named(String),
}

/// The label sets, port lists and namespace names a builder has seen.
#[derive(Debug, Clone, Default)]
struct Shared {
    /// Label sets by their [`flat`](Shared::flat) form, which compares in one pass
    /// where a map of strings would be walked.
    labels: HashMap<Box<[u8]>, Arc<Labels>>,
    ports: HashSet<Arc<[ContainerPort]>>,
    namespaces: HashSet<Arc<str>>,
    /// The last namespace looked up (pods come grouped by namespace).
    last_namespace: Option<Arc<str>>,
    /// The last label set looked up (pods of a workload come one after the other).
    last_labels: Option<Arc<Labels>>,
    /// The nodes added so far, by name (the first of a name).
    nodes: HashMap<String, u32>,
    scratch: Vec<u8>,
}

impl Shared {
    /// Writes the labels into `scratch`, each key and value after its length.
    fn flat(scratch: &mut Vec<u8>, labels: &Labels) {
        scratch.clear();
        for (k, v) in labels {
            for s in [k, v] {
                scratch.extend_from_slice(&(s.len() as u64).to_le_bytes());
                scratch.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn labels(&mut self, labels: Arc<Labels>) -> Arc<Labels> {
        if let Some(last) = &self.last_labels {
            if Arc::ptr_eq(last, &labels) {
                return labels;
            }
        }
        Self::flat(&mut self.scratch, &labels);
        let shared = match self.labels.get(self.scratch.as_slice()) {
            Some(shared) => Arc::clone(shared),
            None => {
                self.labels
                    .insert(self.scratch.as_slice().into(), Arc::clone(&labels));
                labels
            }
        };
        self.last_labels = Some(Arc::clone(&shared));
        shared
    }

    fn ports(&mut self, ports: Arc<[ContainerPort]>) -> Arc<[ContainerPort]> {
        match self.ports.get(&*ports) {
            Some(shared) => Arc::clone(shared),
            None => {
                self.ports.insert(Arc::clone(&ports));
                ports
            }
        }
    }

    fn namespace(&mut self, name: &str) -> Arc<str> {
        if let Some(last) = &self.last_namespace {
            if **last == *name {
                return Arc::clone(last);
            }
        }
        let shared = match self.namespaces.get(name) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = name.into();
                self.namespaces.insert(Arc::clone(&shared));
                shared
            }
        };
        self.last_namespace = Some(Arc::clone(&shared));
        shared
    }

    fn node(&self, name: String) -> NodeRef {
        match self.nodes.get(&name) {
            Some(i) => NodeRef::At(*i),
            None => NodeRef::Named(name),
        }
    }

    fn pod(&mut self, spec: PodSpec) -> PendingPod {
        PendingPod {
            namespace: self.namespace(&spec.namespace),
            name: spec.name,
            labels: self.labels(spec.labels),
            ips: spec.ips,
            node: spec.node.map(|n| self.node(n)),
            ports: self.ports(spec.ports),
            service_account: spec.service_account,
            host_network: spec.host_network,
        }
    }
}

impl ClusterBuilder {
    /// Adds a namespace with labels.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("team", "x")]).build().unwrap();
    /// assert_eq!(c.namespace_count(), 1);
    /// ```
    pub fn namespace<K: Into<String>, V: Into<String>>(
        mut self,
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.namespaces.push((
            name.into(),
            labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ));
        self
    }

    /// Adds a node with host IPs and no labels.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n", ["10.0.0.1".parse().unwrap()]).build().unwrap();
    /// assert!(c.node_id("n").is_some());
    /// ```
    pub fn node(self, name: impl Into<String>, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut spec = NodeSpec::new(name);
        spec.ips = ips.into_iter().collect();
        self.add_node(spec)
    }

    /// Adds a node with labels.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, NodeSpec};
    /// let c = Cluster::builder().add_node(NodeSpec::new("n").label("zone", "a")).build().unwrap();
    /// assert_eq!(c.node(c.node_id("n").unwrap()).unwrap().labels["zone"], "a");
    /// ```
    pub fn add_node(mut self, node: NodeSpec) -> Self {
        let at = index_u32(self.nodes.len());
        self.shared.nodes.entry(node.name.clone()).or_insert(at);
        self.nodes.push(node);
        self
    }

    /// Adds a pod.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert!(c.pod_id("x", "a").is_some());
    /// assert!(c.namespace_id("x").is_some()); // created for the pod
    /// ```
    pub fn pod(mut self, pod: PodSpec) -> Self {
        let pod = self.shared.pod(pod);
        self.pods.push(pod);
        self
    }

    /// Places every pod that has no node yet on the node `node_of` names for one of its
    /// IPs (the first IP that has an answer), for instance from the pod subnets flannel or
    /// kube-controller-manager gave each node.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// use netpol::flannel::NodeSubnetTable;
    ///
    /// let subnets = NodeSubnetTable::from_pairs([
    ///     ("master", "10.244.0.0/24".parse().unwrap()),
    ///     ("node1", "10.244.1.0/24".parse().unwrap()),
    /// ]).unwrap();
    /// let cluster = Cluster::builder()
    ///     .node("master", ["192.168.0.10".parse().unwrap()])
    ///     .node("node1", ["192.168.0.11".parse().unwrap()])
    ///     .pod(PodSpec::new("x", "a").ip("10.244.1.7".parse().unwrap()))
    ///     .place_pods_by(|ip| subnets.node_of(ip))
    ///     .build()
    ///     .unwrap();
    /// let a = cluster.pod(cluster.pod_id("x", "a").unwrap()).unwrap();
    /// assert_eq!(a.node, cluster.node_id("node1"));
    /// ```
    pub fn place_pods_by<'n>(mut self, mut node_of: impl FnMut(IpAddr) -> Option<&'n str>) -> Self {
        for pod in &mut self.pods {
            if pod.node.is_none() {
                pod.node = pod
                    .ips
                    .iter()
                    .find_map(|ip| node_of(*ip))
                    .map(|n| self.shared.node(n.to_owned()));
            }
        }
        self
    }

    /// Builds the cluster, checking that names are unique and nodes exist. The cluster
    /// gets an identity of its own: ids of any earlier cluster are not valid in it.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let err = Cluster::builder().pod(PodSpec::new("x", "a").node("n9")).build().unwrap_err();
    /// assert_eq!(err.to_string(), "pod \"x/a\" runs on node \"n9\", which is not listed");
    /// ```
    pub fn build(self) -> Result<Cluster, ClusterError> {
        let lineage = next_lineage();
        let mut namespaces: Vec<Namespace> = Vec::with_capacity(self.namespaces.len());
        let mut ns_index: HashMap<String, u32> = HashMap::new();
        let mut nodes: Vec<Node> = Vec::with_capacity(self.nodes.len());
        let mut node_index: HashMap<String, u32> = HashMap::new();
        let mut pods: Vec<Arc<Pod>> = Vec::with_capacity(self.pods.len());
        let mut pod_index: HashMap<u64, Positions> = HashMap::with_capacity(self.pods.len());
        let mut host_pods: HashMap<(String, String), Option<String>> = HashMap::new();
        for (name, mut labels) in self.namespaces {
            if ns_index.contains_key(&name) {
                return Err(ClusterError::DuplicateNamespace(name));
            }
            labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
            ns_index.insert(name.clone(), to_u32(namespaces.len(), "namespaces")?);
            namespaces.push(Namespace { name, labels });
        }
        for spec in self.nodes {
            if node_index.contains_key(&spec.name) {
                return Err(ClusterError::DuplicateNode(spec.name));
            }
            node_index.insert(spec.name.clone(), to_u32(nodes.len(), "nodes")?);
            nodes.push(Node {
                name: spec.name,
                labels: spec.labels,
                ips: spec.ips,
                pod_cidrs: spec.pod_cidrs,
                tunnel_ips: spec.tunnel_ips,
            });
        }
        // Pods come grouped by namespace, which the builder gives them as one value.
        let mut last_namespace: Option<(Arc<str>, NamespaceId)> = None;
        for spec in self.pods {
            let namespace = match &last_namespace {
                Some((name, id)) if Arc::ptr_eq(name, &spec.namespace) => *id,
                _ => {
                    let id = match ns_index.get(&*spec.namespace) {
                        Some(i) => NamespaceId::new(*i, lineage),
                        None => {
                            let i = to_u32(namespaces.len(), "namespaces")?;
                            ns_index.insert(spec.namespace.to_string(), i);
                            namespaces.push(implicit_namespace(&spec.namespace));
                            NamespaceId::new(i, lineage)
                        }
                    };
                    last_namespace = Some((Arc::clone(&spec.namespace), id));
                    id
                }
            };
            let node = match &spec.node {
                None => None,
                // A node added before the pod: the builder found it then.
                Some(NodeRef::At(i)) => Some(NodeId::new(*i, lineage)),
                Some(NodeRef::Named(n)) => match node_index.get(n) {
                    Some(i) => Some(NodeId::new(*i, lineage)),
                    None => {
                        return Err(ClusterError::UnknownNode(
                            spec.namespace.to_string(),
                            spec.name,
                            n.clone(),
                        ));
                    }
                },
            };
            let key = pod_key(&spec.namespace, &spec.name);
            let listed = pod_index.get(&key).is_some_and(|list| {
                list.iter().any(|i| {
                    pods.get(*i as usize)
                        .is_some_and(|p| p.namespace == namespace && p.name == spec.name)
                })
            });
            let host_key = || (spec.namespace.to_string(), spec.name.clone());
            if listed || (!host_pods.is_empty() && host_pods.contains_key(&host_key())) {
                return Err(ClusterError::DuplicatePod(
                    spec.namespace.to_string(),
                    spec.name,
                ));
            }
            if spec.host_network {
                let node_name = node
                    .and_then(|n| nodes.get(n.index()))
                    .map(|n| n.name.clone());
                host_pods.insert(host_key(), node_name);
                continue;
            }
            let i = to_u32(pods.len(), "pods")?;
            pods.push(Arc::new(Pod {
                namespace,
                name: spec.name,
                labels: spec.labels,
                ips: spec.ips,
                node,
                ports: spec.ports,
                service_account: spec.service_account.unwrap_or_else(|| "default".to_owned()),
            }));
            pod_index.entry(key).or_default().push(i);
        }
        let mut c = ClusterData {
            pod_lineage: lineage,
            ns_gens: namespaces.iter().map(|_| lineage).collect(),
            node_lineage: lineage,
            node_gens: nodes.iter().map(|_| lineage).collect(),
            namespaces: namespaces.into_iter().collect(),
            nodes: nodes.into_iter().collect(),
            pods: pods.into_iter().collect(),
            ns_index: ns_index.into_iter().collect(),
            node_index: node_index.into_iter().collect(),
            pod_index: pod_index.into_iter().collect(),
            host_pods: host_pods.into_iter().collect(),
            addresses: PMap::new(),
        };
        c.index_addresses();
        Ok(Cluster { data: Arc::new(c) })
    }
}

/// The key of a pod in the cluster's name index: a hash of its namespace and name (the
/// index keeps the positions of the pods with each key, and a lookup checks the names
/// against the pod table, so the index holds no names of its own).
fn pod_key(namespace: &str, name: &str) -> u64 {
    ahash::RandomState::with_seeds(5, 6, 7, 8).hash_one((namespace, name))
}

/// Positions of the pods whose names have one key (almost always one).
type Positions = smallvec::SmallVec<[u32; 1]>;

/// A namespace created for pods in a namespace that was not given: no label but its name.
fn implicit_namespace(name: &str) -> Namespace {
    Namespace {
        name: name.to_owned(),
        labels: [(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned())].into(),
    }
}

/// A position in one of the cluster's tables as an id index. The tables never hold more
/// than `u32::MAX` entries ([`ClusterBuilder::build`] refuses more), so this never
/// saturates.
fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn to_u32(n: usize, what: &'static str) -> Result<u32, ClusterError> {
    u32::try_from(n).map_err(|_| ClusterError::TooMany(what))
}

/// What an address belongs to, in the address index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Pod(u32),
    Node(u32),
}

/// The claimants of one host address, pods before nodes, each in id order: the first
/// keeps the address.
type Claimants = smallvec::SmallVec<[Owner; 1]>;

#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterData {
    /// Lineages of the ids of each kind: a change that renumbers objects of one kind
    /// (removing one) gives that kind a new lineage, so that ids handed out before are
    /// stale rather than naming another object.
    pod_lineage: u32,
    /// Per namespace: the lineage of its id, told stale slot by slot as node ids are:
    /// removing a namespace gives the one moved into its place a new lineage (and its
    /// pods a new namespace id), and a namespace added one of its own.
    ns_gens: PVec<u32>,
    /// Per node: the lineage of its id. Node ids are told stale slot by slot: removing a
    /// node gives the node moved into its place a new lineage, and a node added one of
    /// its own, so that the ids of the other nodes (and the pods' references to them)
    /// stay valid.
    node_gens: PVec<u32>,
    /// Changes whenever some node id does (a node removed): two clusters with the same
    /// node lineage number their nodes alike.
    node_lineage: u32,
    namespaces: PVec<Namespace>,
    nodes: PVec<Node>,
    /// Each pod behind its own reference count, so that copying a chunk copies pointers.
    pods: PVec<Arc<Pod>>,
    ns_index: PMap<String, u32>,
    node_index: PMap<String, u32>,
    /// Pod positions by [`pod_key`].
    pod_index: PMap<u64, Positions>,
    /// Host-network pods: the name of their node, when known.
    host_pods: PMap<(String, String), Option<String>>,
    /// Host addresses of pods and nodes, with every object claiming each.
    addresses: PMap<IpAddr, Claimants>,
}

impl ClusterData {
    /// The id of the namespace at position `i`.
    fn namespace_id_at(&self, i: u32) -> Option<NamespaceId> {
        self.ns_gens
            .get(i as usize)
            .map(|g| NamespaceId::new(i, *g))
    }

    /// The id of the node at position `i`.
    fn node_id_at(&self, i: u32) -> Option<NodeId> {
        self.node_gens.get(i as usize).map(|g| NodeId::new(i, *g))
    }

    /// The position of the pod `namespace/name`.
    fn pod_position(&self, namespace: &str, name: &str) -> Option<u32> {
        let list = self.pod_index.get(&pod_key(namespace, name))?;
        list.iter().copied().find(|i| {
            self.pods.get(*i as usize).is_some_and(|p| {
                p.name == name
                    && self
                        .namespaces
                        .get(p.namespace.index())
                        .is_some_and(|n| n.name == namespace)
            })
        })
    }

    /// The index key of a pod of the table.
    fn key_of(&self, pod: &Pod) -> u64 {
        let ns = self
            .namespaces
            .get(pod.namespace.index())
            .map_or("", |n| n.name.as_str());
        pod_key(ns, &pod.name)
    }

    fn index_pod(&mut self, key: u64, i: u32) {
        match self.pod_index.get_mut(&key) {
            Some(list) => list.push(i),
            None => {
                self.pod_index.insert(key, smallvec::smallvec![i]);
            }
        }
    }

    fn unindex_pod(&mut self, key: u64, i: u32) {
        let now_empty = match self.pod_index.get_mut(&key) {
            Some(list) => {
                list.retain(|p| *p != i);
                list.is_empty()
            }
            None => false,
        };
        if now_empty {
            self.pod_index.remove(&key);
        }
    }

    fn index_addresses(&mut self) {
        // Every (address, claimant) pair, sorted: each address's claimants come out
        // together, pods before nodes, each in id order.
        let mut pairs: Vec<(IpAddr, Owner)> = Vec::with_capacity(self.pods.len());
        for (i, p) in self.pods.iter().enumerate() {
            pairs.extend(p.ips.iter().map(|ip| (*ip, Owner::Pod(index_u32(i)))));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            pairs.extend(n.ips.iter().map(|ip| (*ip, Owner::Node(index_u32(i)))));
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut grouped: Vec<(IpAddr, Claimants)> = Vec::with_capacity(pairs.len());
        for (ip, owner) in pairs {
            match grouped.last_mut() {
                Some((last, list)) if *last == ip => list.push(owner),
                _ => grouped.push((ip, smallvec::smallvec![owner])),
            }
        }
        self.addresses = grouped.into_iter().collect();
    }

    fn claim(&mut self, ip: IpAddr, owner: Owner) {
        match self.addresses.get_mut(&ip) {
            Some(list) => {
                if let Err(at) = list.binary_search(&owner) {
                    list.insert(at, owner);
                }
            }
            None => {
                self.addresses.insert(ip, smallvec::smallvec![owner]);
            }
        }
    }

    fn unclaim(&mut self, ip: IpAddr, owner: Owner) {
        let now_empty = match self.addresses.get_mut(&ip) {
            Some(list) => {
                list.retain(|o| *o != owner);
                list.is_empty()
            }
            None => false,
        };
        if now_empty {
            self.addresses.remove(&ip);
        }
    }
}

/// Namespaces, nodes and pods, read-only once built, cheap to clone (the data is shared).
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, PodSpec};
/// let cluster = Cluster::builder()
///     .namespace("prod", [("env", "prod")])
///     .pod(PodSpec::new("prod", "web").ip("10.244.1.5".parse()?))
///     .build()?;
/// let web = cluster.pod_id("prod", "web").unwrap();
/// assert_eq!(cluster.describe(Endpoint::Pod(web)), "prod/web");
/// assert_eq!(cluster.pod_namespace_name(web), "prod");
/// let shared = cluster.clone(); // the same data, not a copy
/// assert!(shared.pod(web).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cluster {
    data: Arc<ClusterData>,
}

impl Default for Cluster {
    /// An empty cluster with an identity of its own.
    fn default() -> Self {
        Cluster {
            data: Arc::new({
                let lineage = next_lineage();
                ClusterData {
                    pod_lineage: lineage,
                    node_lineage: lineage,
                    ..ClusterData::default()
                }
            }),
        }
    }
}

impl Cluster {
    /// Starts building a cluster.
    ///
    /// ```
    /// let empty = netpol::cluster::Cluster::builder().build().unwrap();
    /// assert_eq!(empty.pod_count(), 0);
    /// ```
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// A builder holding everything in this cluster, to build a changed copy. The copy is
    /// a new cluster: ids of this one are not valid in it (look them up again by name).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let one = Cluster::builder().pod(PodSpec::new("x", "a").label("app", "a")).build()?;
    /// let two = one.to_builder().pod(PodSpec::new("x", "b")).build()?;
    /// assert_eq!(two.pod_count(), 2);
    /// let a = two.pod_id("x", "a").unwrap();
    /// assert_eq!(two.pod(a).unwrap().labels["app"], "a");
    /// assert!(one.pod(a).is_none());
    /// # Ok::<(), netpol::cluster::ClusterError>(())
    /// ```
    pub fn to_builder(&self) -> ClusterBuilder {
        let d = &*self.data;
        let namespaces = d
            .namespaces
            .iter()
            .map(|ns| (ns.name.clone(), ns.labels.clone()))
            .collect();
        let nodes = d
            .nodes
            .iter()
            .map(|n| NodeSpec {
                name: n.name.clone(),
                labels: n.labels.clone(),
                ips: n.ips.clone(),
                pod_cidrs: n.pod_cidrs.clone(),
                tunnel_ips: n.tunnel_ips.clone(),
            })
            .collect();
        let mut shared = Shared::default();
        for (i, n) in d.nodes.iter().enumerate() {
            shared.nodes.entry(n.name.clone()).or_insert(index_u32(i));
        }
        let mut pods: Vec<PendingPod> = d
            .pods
            .iter()
            .map(|p| PendingPod {
                namespace: shared
                    .namespace(self.namespace(p.namespace).map_or("", |n| n.name.as_str())),
                name: p.name.clone(),
                labels: Arc::clone(&p.labels),
                ips: p.ips.clone(),
                node: p
                    .node
                    .filter(|n| self.node(*n).is_some())
                    .map(|n| NodeRef::At(index_u32(n.index()))),
                ports: Arc::clone(&p.ports),
                service_account: Some(p.service_account.clone()),
                host_network: false,
            })
            .collect();
        let mut host: Vec<PendingPod> = d
            .host_pods
            .iter()
            .map(|((ns, name), node)| {
                let mut spec = PodSpec::new(ns.clone(), name.clone()).host_network(true);
                spec.node = node.clone().filter(|n| d.node_index.contains_key(n));
                shared.pod(spec)
            })
            .collect();
        host.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        pods.extend(host);
        ClusterBuilder {
            namespaces,
            nodes,
            pods,
            shared,
        }
    }

    /// How many namespaces there are.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert_eq!(c.namespace_count(), 1);
    /// ```
    #[must_use]
    pub fn namespace_count(&self) -> usize {
        self.data.namespaces.len()
    }

    /// How many nodes there are.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert_eq!(c.node_count(), 1);
    /// ```
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.data.nodes.len()
    }

    /// How many pods there are (host-network pods are not pods here).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pod_count(), 1);
    /// ```
    #[must_use]
    pub fn pod_count(&self) -> usize {
        self.data.pods.len()
    }

    /// Every namespace with its id, in id order.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// let (_, a) = c.namespaces().next().unwrap();
    /// assert_eq!(a.labels.len(), 2); // k, and kubernetes.io/metadata.name
    /// ```
    #[must_use]
    pub fn namespaces(&self) -> impl ExactSizeIterator<Item = (NamespaceId, &Namespace)> + '_ {
        self.data
            .namespaces
            .iter()
            .zip(self.data.ns_gens.iter())
            .enumerate()
            .map(move |(i, (x, lineage))| (NamespaceId::new(index_u32(i), *lineage), x))
    }

    /// Every node with its id, in id order.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert_eq!(c.nodes().next().unwrap().1.name, "n1");
    /// ```
    #[must_use]
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (NodeId, &Node)> + '_ {
        self.data
            .nodes
            .iter()
            .zip(self.data.node_gens.iter())
            .enumerate()
            .map(move |(i, (x, lineage))| (NodeId::new(index_u32(i), *lineage), x))
    }

    /// Every pod with its id, in id order.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pods().next().unwrap().1.name, "a");
    /// ```
    #[must_use]
    pub fn pods(&self) -> impl ExactSizeIterator<Item = (PodId, &Pod)> + '_ {
        let lineage = self.data.pod_lineage;
        self.data
            .pods
            .iter()
            .enumerate()
            .map(move |(i, x)| (PodId::new(index_u32(i), lineage), &**x))
    }

    /// Every pod id, in order.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pod_ids().count(), 1);
    /// ```
    #[must_use]
    pub fn pod_ids(&self) -> impl ExactSizeIterator<Item = PodId> + '_ {
        self.pods().map(|(id, _)| id)
    }

    /// Every node id, in order.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).node("n2", []).build().unwrap();
    /// assert_eq!(c.node_ids().count(), 2);
    /// ```
    #[must_use]
    pub fn node_ids(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        self.nodes().map(|(id, _)| id)
    }

    /// A pod by id; `None` for an id of another cluster.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = c.pod_id("x", "a").unwrap();
    /// assert_eq!(c.pod(a).unwrap().name, "a");
    /// ```
    #[must_use]
    pub fn pod(&self, id: PodId) -> Option<&Pod> {
        if id.lineage() != self.data.pod_lineage {
            return None;
        }
        self.data.pods.get(id.index()).map(|p| &**p)
    }

    /// A node by id; `None` for an id of another cluster.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert_eq!(c.node(c.node_id("n1").unwrap()).unwrap().name, "n1");
    /// ```
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        if !self.has_node(id) {
            return None;
        }
        self.data.nodes.get(id.index())
    }

    /// A namespace by id; `None` for an id of another cluster.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert_eq!(c.namespace(c.namespace_id("a").unwrap()).unwrap().name, "a");
    /// ```
    #[must_use]
    pub fn namespace(&self, id: NamespaceId) -> Option<&Namespace> {
        if self.data.ns_gens.get(id.index()) != Some(&id.lineage()) {
            return None;
        }
        self.data.namespaces.get(id.index())
    }

    /// Whether every pod and node the endpoint names belongs to this cluster (an outside
    /// address always does).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// let one = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let two = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = Endpoint::Pod(one.pod_id("x", "a").unwrap());
    /// assert!(one.contains(a) && !two.contains(a));
    /// ```
    #[must_use]
    pub fn contains(&self, endpoint: Endpoint) -> bool {
        match endpoint {
            Endpoint::Pod(id) => self.pod(id).is_some(),
            Endpoint::Node(id) => self.node(id).is_some(),
            Endpoint::External(_) => true,
        }
    }

    /// The id of the pod `namespace/name` (host-network pods have none: see
    /// [`resolve_pod`](Self::resolve_pod)).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert!(c.pod_id("x", "a").is_some() && c.pod_id("y", "a").is_none());
    /// ```
    #[must_use]
    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.data
            .pod_position(namespace, name)
            .map(|i| PodId::new(i, self.data.pod_lineage))
    }

    /// The endpoint whose traffic the pod `namespace/name` sends and receives: the pod
    /// itself, or for a host-network pod its node (`None` when the pod is unknown, or on
    /// the host network of an unknown node).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// let c = Cluster::builder()
    ///     .node("n1", ["192.168.0.11".parse().unwrap()])
    ///     .pod(PodSpec::new("x", "a"))
    ///     .pod(PodSpec::new("kube-system", "etcd-n1").node("n1").host_network(true))
    ///     .build().unwrap();
    /// assert_eq!(c.resolve_pod("x", "a"), c.pod_id("x", "a").map(Endpoint::Pod));
    /// assert_eq!(c.resolve_pod("kube-system", "etcd-n1"), c.node_id("n1").map(Endpoint::Node));
    /// assert!(c.is_host_network_pod("kube-system", "etcd-n1"));
    /// ```
    pub fn resolve_pod(&self, namespace: &str, name: &str) -> Option<Endpoint> {
        if let Some(id) = self.pod_id(namespace, name) {
            return Some(Endpoint::Pod(id));
        }
        self.data
            .host_pods
            .get(&(namespace.to_owned(), name.to_owned()))
            .and_then(|node| node.as_deref())
            .and_then(|node| self.node_id(node))
            .map(Endpoint::Node)
    }

    /// Whether `namespace/name` was added as a host-network pod.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert!(!c.is_host_network_pod("x", "a"));
    /// ```
    #[must_use]
    pub fn is_host_network_pod(&self, namespace: &str, name: &str) -> bool {
        self.data
            .host_pods
            .contains_key(&(namespace.to_owned(), name.to_owned()))
    }

    /// The id of a node by name.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert!(c.node_id("n1").is_some());
    /// ```
    #[must_use]
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.data
            .node_index
            .get(name)
            .and_then(|i| self.data.node_id_at(*i))
    }

    /// The id of a namespace by name.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert!(c.namespace_id("a").is_some());
    /// ```
    #[must_use]
    pub fn namespace_id(&self, name: &str) -> Option<NamespaceId> {
        self.data
            .ns_index
            .get(name)
            .and_then(|i| self.data.namespace_id_at(*i))
    }

    /// The endpoint an address belongs to: the pod or node that holds it, else an outside
    /// address. When two objects list one address, the first pod (in id order) holding it
    /// wins, then the first node.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// let c = Cluster::builder()
    ///     .node("n1", ["192.168.0.11".parse().unwrap()])
    ///     .pod(PodSpec::new("x", "a").ip("10.244.1.5".parse().unwrap()))
    ///     .build().unwrap();
    /// assert_eq!(c.endpoint_at("10.244.1.5".parse().unwrap()), Endpoint::Pod(c.pod_id("x", "a").unwrap()));
    /// assert_eq!(c.endpoint_at("192.168.0.11".parse().unwrap()), Endpoint::Node(c.node_id("n1").unwrap()));
    /// let outside = "203.0.113.7".parse().unwrap();
    /// assert_eq!(c.endpoint_at(outside), Endpoint::External(outside));
    /// ```
    #[must_use]
    pub fn endpoint_at(&self, ip: IpAddr) -> Endpoint {
        let d = &*self.data;
        match d.addresses.get(&ip).and_then(|list| list.first()) {
            Some(Owner::Pod(i)) => Endpoint::Pod(PodId::new(*i, d.pod_lineage)),
            Some(Owner::Node(i)) => d
                .node_id_at(*i)
                .map_or(Endpoint::External(ip), Endpoint::Node),
            None => Endpoint::External(ip),
        }
    }

    /// The namespace name of a pod (empty for an unknown id).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pod_namespace_name(c.pod_id("x", "a").unwrap()), "x");
    /// ```
    #[must_use]
    pub fn pod_namespace_name(&self, id: PodId) -> &str {
        self.pod(id)
            .and_then(|p| self.namespace(p.namespace))
            .map_or("", |n| n.name.as_str())
    }

    /// `namespace/name` of a pod, the node's name as `node/NAME`, or the address; an id
    /// of another cluster is written `unknown pod #i` (or node).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint};
    /// let c = Cluster::builder().build().unwrap();
    /// assert_eq!(c.describe(Endpoint::External("8.8.8.8".parse().unwrap())), "8.8.8.8");
    /// ```
    #[must_use]
    pub fn describe(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Pod(id) => match self.pod(id) {
                Some(p) => format!("{}/{}", self.pod_namespace_name(id), p.name),
                None => format!("unknown pod {id}"),
            },
            Endpoint::Node(id) => match self.node(id) {
                Some(n) => format!("node/{}", n.name),
                None => format!("unknown node {id}"),
            },
            Endpoint::External(ip) => ip.to_string(),
        }
    }

    /// `source -> destination port/protocol`, with names as [`describe`](Self::describe)
    /// writes them.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow};
    /// let c = Cluster::builder().build().unwrap();
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let f = Flow::new(ip, ip, 53, netpol::policy::Protocol::Udp);
    /// assert_eq!(c.describe_flow(f), "192.0.2.1 -> 192.0.2.1 53/UDP");
    /// ```
    #[must_use]
    pub fn describe_flow(&self, flow: Flow<'_>) -> String {
        format!(
            "{} -> {} {}/{}",
            self.describe(flow.src),
            self.describe(flow.dst),
            flow.port,
            flow.protocol
        )
    }

    /// The address an endpoint uses in `flow`: see [`Flow`] for how the family is chosen.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let c = Cluster::builder()
    ///     .pod(PodSpec::new("x", "a").ip("10.0.0.1".parse().unwrap()).ip("fd00::1".parse().unwrap()))
    ///     .build().unwrap();
    /// let a = c.pod_id("x", "a").unwrap();
    /// let to_v6 = Flow::new(Endpoint::Pod(a), Endpoint::External("2001:db8::1".parse().unwrap()), 443, Default::default());
    /// assert_eq!(c.address(to_v6, to_v6.src), Some("fd00::1".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn address(&self, flow: Flow<'_>, endpoint: Endpoint) -> Option<IpAddr> {
        let v6 = self.flow_is_v6(flow)?;
        match endpoint {
            Endpoint::External(ip) => Some(ip),
            Endpoint::Pod(id) => self
                .pod(id)
                .and_then(|p| p.ips.iter().copied().find(|ip| ip.is_ipv6() == v6)),
            Endpoint::Node(id) => self
                .node(id)
                .and_then(|n| n.ips.iter().copied().find(|ip| ip.is_ipv6() == v6)),
        }
    }

    /// Whether the flow is IPv6: the family of an outside address on either side, else the
    /// family the flow was given ([`Flow::in_family`]), else the family of the source's
    /// first address, else of the destination's. `None` when no side has an address and no
    /// family was given.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, IpFamily, PodSpec};
    /// let c = Cluster::builder()
    ///     .pod(PodSpec::new("x", "a").ip("10.0.0.1".parse().unwrap()).ip("fd00::1".parse().unwrap()))
    ///     .build().unwrap();
    /// let a = Endpoint::Pod(c.pod_id("x", "a").unwrap());
    /// assert_eq!(c.flow_is_v6(Flow::new(a, a, 80, Default::default())), Some(false));
    /// let v6 = Flow::new(a, a, 80, Default::default()).in_family(IpFamily::Ipv6);
    /// assert_eq!(c.flow_is_v6(v6), Some(true));
    /// ```
    #[must_use]
    pub fn flow_is_v6(&self, flow: Flow<'_>) -> Option<bool> {
        if let Endpoint::External(ip) = flow.src {
            return Some(ip.is_ipv6());
        }
        if let Endpoint::External(ip) = flow.dst {
            return Some(ip.is_ipv6());
        }
        if let Some(family) = flow.family {
            return Some(family.is_ipv6());
        }
        self.first_ip(flow.src)
            .or_else(|| self.first_ip(flow.dst))
            .map(|ip| ip.is_ipv6())
    }

    fn first_ip(&self, e: Endpoint) -> Option<IpAddr> {
        match e {
            Endpoint::External(ip) => Some(ip),
            Endpoint::Pod(id) => self.pod(id).and_then(|p| p.ips.first().copied()),
            Endpoint::Node(id) => self.node(id).and_then(|n| n.ips.first().copied()),
        }
    }

    /// The lineage pod ids of this cluster carry.
    pub(crate) fn pod_lineage(&self) -> u32 {
        self.data.pod_lineage
    }

    /// The lineage of pod ids and the node lineage: clusters where both are equal number
    /// their pods and nodes alike.
    pub(crate) fn lineages(&self) -> (u32, u32) {
        (self.data.pod_lineage, self.data.node_lineage)
    }

    /// Whether `id` names a node of this cluster (of its position and lineage).
    #[inline]
    pub(crate) fn has_node(&self, id: NodeId) -> bool {
        self.data.node_gens.get(id.index()) == Some(&id.lineage())
    }
}

/// One side of a flow.
///
/// ```
/// use netpol::cluster::Endpoint;
/// let outside = Endpoint::External("203.0.113.7".parse().unwrap());
/// assert!(outside.pod().is_none());
/// assert_eq!(outside.to_string(), "203.0.113.7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A pod.
    Pod(PodId),
    /// A node's host network.
    Node(NodeId),
    /// An address outside the pod network.
    External(IpAddr),
}

impl Endpoint {
    /// The pod, if this side is one.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = c.pod_id("x", "a").unwrap();
    /// assert_eq!(Endpoint::Pod(a).pod(), Some(a));
    /// ```
    #[must_use]
    pub fn pod(self) -> Option<PodId> {
        match self {
            Endpoint::Pod(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    /// `pod #i`, `node #i` or the address; [`Cluster::describe`] writes names. For
    /// people: not parsed back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Pod(id) => write!(f, "pod {id}"),
            Endpoint::Node(id) => write!(f, "node {id}"),
            Endpoint::External(ip) => write!(f, "{ip}"),
        }
    }
}

/// A connection attempt: source, destination, destination port and protocol, and for a
/// connection to an outside address, the DNS name the source resolved it from (matched
/// by ClusterNetworkPolicy `domainNames` peers).
///
/// Addresses: an outside address is used as given. A pod or node side uses its first
/// address of the flow's family, which is the family of an outside address on either
/// side, else the family the flow was given with [`Flow::in_family`] (a connection to a
/// dual-stack Service's cluster IP of one family is of that family end to end), else of
/// the source's first address (else the destination's). A side with no address of that
/// family matches no `ipBlock`.
///
/// ```
/// use netpol::cluster::{Endpoint, Flow};
/// use netpol::policy::Protocol;
/// let outside = Endpoint::External("203.0.113.7".parse().unwrap());
/// let f = Flow::new(outside, outside, 5432, Protocol::Tcp);
/// assert_eq!(f.port, 5432);
/// assert_eq!(f.to_string(), "203.0.113.7 -> 203.0.113.7 5432/TCP");
/// let name = String::from("db.example.com");
/// assert_eq!(f.with_domain(&name).domain, Some("db.example.com"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow<'a> {
    /// Where the connection comes from.
    pub src: Endpoint,
    /// Where it goes.
    pub dst: Endpoint,
    /// The destination port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The name the source resolved an outside destination from, if known.
    pub domain: Option<&'a str>,
    /// Whether the connection was made to a Service address and translated to the
    /// destination pod by the service proxy. A pod reaching itself this way (hairpin) is
    /// not the self traffic allowed before any policy: ClusterNetworkPolicy applies to it.
    pub via_service: bool,
    /// The flow's address family when the connection's address decides it (the family of
    /// the Service address dialled); `None`: from the sides, see above.
    pub family: Option<IpFamily>,
}

impl Flow<'static> {
    /// A flow from its parts, with no DNS name.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow};
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// assert_eq!(Flow::new(ip, ip, 53, netpol::policy::Protocol::Udp).port, 53);
    /// ```
    #[must_use]
    pub fn new(src: Endpoint, dst: Endpoint, port: u16, protocol: Protocol) -> Self {
        Flow {
            src,
            dst,
            port,
            protocol,
            domain: None,
            via_service: false,
            family: None,
        }
    }
}

impl<'a> Flow<'a> {
    /// The same flow, to an outside address the source resolved from `domain`.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow};
    /// let api = Endpoint::External("198.51.100.7".parse().unwrap());
    /// let src = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let f = Flow::new(src, api, 443, Default::default()).with_domain("api.example.com");
    /// assert_eq!(f.domain, Some("api.example.com"));
    /// ```
    #[must_use]
    pub fn with_domain<'b>(self, domain: &'b str) -> Flow<'b> {
        Flow {
            src: self.src,
            dst: self.dst,
            port: self.port,
            protocol: self.protocol,
            domain: Some(domain),
            via_service: self.via_service,
            family: self.family,
        }
    }

    /// The same flow, marked as reaching its destination pod through a Service address.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = Endpoint::Pod(c.pod_id("x", "a").unwrap());
    /// let hairpin = Flow::new(a, a, 80, Default::default()).through_service();
    /// assert!(hairpin.via_service && hairpin.is_hairpin());
    /// ```
    #[must_use]
    pub fn through_service(self) -> Self {
        Flow {
            via_service: true,
            ..self
        }
    }

    /// The same flow in a given address family: its pods and nodes use their address of
    /// that family (see [`Cluster::flow_is_v6`]).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, IpFamily, PodSpec};
    /// let c = Cluster::builder()
    ///     .pod(PodSpec::new("x", "a").ip("10.0.0.1".parse().unwrap()).ip("fd00::1".parse().unwrap()))
    ///     .build().unwrap();
    /// let a = Endpoint::Pod(c.pod_id("x", "a").unwrap());
    /// let f = Flow::new(a, a, 80, Default::default()).in_family(IpFamily::Ipv6);
    /// assert_eq!(c.address(f, a), Some("fd00::1".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn in_family(self, family: IpFamily) -> Self {
        Flow {
            family: Some(family),
            ..self
        }
    }

    /// Whether a pod reaches itself through a Service address.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let a = Endpoint::Pod(c.pod_id("x", "a").unwrap());
    /// assert!(!Flow::new(a, a, 80, Default::default()).is_hairpin());
    /// ```
    #[must_use]
    pub fn is_hairpin(&self) -> bool {
        self.via_service
            && matches!((self.src, self.dst), (Endpoint::Pod(a), Endpoint::Pod(b)) if a == b)
    }

    /// The same flow without its DNS name.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow};
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let f = Flow::new(ip, ip, 80, Default::default()).with_domain("a.example").without_domain();
    /// assert_eq!(f.domain, None);
    /// ```
    #[must_use]
    pub fn without_domain(self) -> Flow<'static> {
        Flow {
            src: self.src,
            dst: self.dst,
            port: self.port,
            protocol: self.protocol,
            domain: None,
            via_service: self.via_service,
            family: self.family,
        }
    }

    /// The side a direction is checked at, and the other side: for
    /// [`Direction::Egress`] the source and the destination, for
    /// [`Direction::Ingress`] the destination and the source.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow};
    /// use netpol::policy::Direction;
    /// let a = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let b = Endpoint::External("192.0.2.2".parse().unwrap());
    /// let f = Flow::new(a, b, 80, Default::default());
    /// assert_eq!(f.sides(Direction::Ingress), (b, a));
    /// ```
    #[must_use]
    pub fn sides(self, direction: Direction) -> (Endpoint, Endpoint) {
        match direction {
            Direction::Egress => (self.src, self.dst),
            Direction::Ingress => (self.dst, self.src),
        }
    }
}

impl fmt::Display for Flow<'_> {
    /// `source -> destination port/protocol`, with pods and nodes by id
    /// ([`Cluster::describe_flow`] writes their names).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} {}/{}",
            self.src, self.dst, self.port, self.protocol
        )?;
        if let Some(d) = self.domain {
            write!(f, " (resolved from {d})")?;
        }
        Ok(())
    }
}
