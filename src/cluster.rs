//! The cluster a policy set applies to: namespaces, nodes, pods, and flows between them.
//!
//! A [`Cluster`] is built once with [`ClusterBuilder`] and then only read. Pods, nodes and
//! namespaces are referred to by small ids ([`PodId`], [`NodeId`], [`NamespaceId`]) so that
//! a [`Flow`] is `Copy` and deciding it needs no allocation.
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
//! assert_eq!(cluster.namespace(cluster.pod(db).unwrap().namespace).unwrap().labels["kubernetes.io/metadata.name"], "prod");
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::Labels;
use crate::policy::{Direction, Protocol};

/// The label every namespace carries with its own name.
///
/// ```
/// use netpol::cluster::{Cluster, NAMESPACE_NAME_LABEL};
/// let cluster = Cluster::builder().namespace("kube-system", [("team", "platform")]).build()?;
/// assert_eq!(NAMESPACE_NAME_LABEL, "kubernetes.io/metadata.name");
/// assert_eq!(cluster.namespaces()[0].labels[NAMESPACE_NAME_LABEL], "kube-system");
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as an index into the cluster's list.
            ///
            /// ```
            #[doc = concat!("assert_eq!(netpol::cluster::", stringify!($name), "(7).index(), 7);")]
            /// ```
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A pod of a [`Cluster`], by position.
    PodId
);
id_type!(
    /// A node of a [`Cluster`], by position.
    NodeId
);
id_type!(
    /// A namespace of a [`Cluster`], by position.
    NamespaceId
);

/// A declared container port.
///
/// ```
/// use netpol::cluster::ContainerPort;
/// use netpol::policy::Protocol;
/// let p = ContainerPort::named("dns", 53, Protocol::Udp);
/// assert_eq!(p.name.as_deref(), Some("dns"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerPort {
    /// The port's name, which policies can use instead of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port number.
    pub port: u16,
    /// The protocol, `TCP` by default.
    #[serde(default)]
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
pub struct Namespace {
    /// The name.
    pub name: String,
    /// The labels.
    pub labels: Labels,
}

/// A node and its host addresses.
///
/// ```
/// use netpol::cluster::Cluster;
/// let cluster = Cluster::builder()
///     .node("node-1", ["192.168.0.11".parse()?, "fd00:10::11".parse()?])
///     .build()?;
/// let node = cluster.node(cluster.node_id("node-1").unwrap()).unwrap();
/// assert_eq!(node.ips[0].to_string(), "192.168.0.11");
/// assert!(node.ips[1].is_ipv6());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The name.
    pub name: String,
    /// Host IPs (IPv4, IPv6 or both); the first of a family is used for that family.
    pub ips: Vec<IpAddr>,
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Its namespace.
    pub namespace: NamespaceId,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Pod IPs (IPv4, IPv6 or both).
    pub ips: Vec<IpAddr>,
    /// The node it runs on, when known and listed.
    pub node: Option<NodeId>,
    /// Declared container ports.
    pub ports: Vec<ContainerPort>,
}

/// A pod to add to a [`ClusterBuilder`].
///
/// ```
/// use netpol::cluster::PodSpec;
/// let spec = PodSpec::new("default", "web").label("app", "web").ip("10.0.0.1".parse().unwrap());
/// assert_eq!(spec.name, "web");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpec {
    /// Namespace name.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Pod IPs.
    pub ips: Vec<IpAddr>,
    /// Node name.
    pub node: Option<String>,
    /// Container ports.
    pub ports: Vec<ContainerPort>,
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
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a pod IP.
    ///
    /// ```
    /// let s = netpol::cluster::PodSpec::new("a", "b").ip("fd00::1".parse().unwrap());
    /// assert_eq!(s.ips.len(), 1);
    /// ```
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
    pub fn port(mut self, port: ContainerPort) -> Self {
        self.ports.push(port);
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
pub struct ClusterBuilder {
    namespaces: Vec<(String, Labels)>,
    nodes: Vec<(String, Vec<IpAddr>)>,
    pods: Vec<PodSpec>,
}

impl ClusterBuilder {
    /// Adds a namespace with labels.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("team", "x")]).build().unwrap();
    /// assert_eq!(c.namespaces().len(), 1);
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

    /// Adds a node with host IPs.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n", ["10.0.0.1".parse().unwrap()]).build().unwrap();
    /// assert!(c.node_id("n").is_some());
    /// ```
    pub fn node(mut self, name: impl Into<String>, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.nodes.push((name.into(), ips.into_iter().collect()));
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
                    .map(str::to_owned);
            }
        }
        self
    }

    /// Builds the cluster, checking that names are unique and nodes exist.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let err = Cluster::builder().pod(PodSpec::new("x", "a").node("n9")).build().unwrap_err();
    /// assert_eq!(err.to_string(), "pod \"x/a\" runs on node \"n9\", which is not listed");
    /// ```
    pub fn build(self) -> Result<Cluster, ClusterError> {
        let mut c = Cluster::default();
        for (name, mut labels) in self.namespaces {
            if c.ns_index.contains_key(&name) {
                return Err(ClusterError::DuplicateNamespace(name));
            }
            labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
            let id = NamespaceId(to_u32(c.namespaces.len(), "namespaces")?);
            c.ns_index.insert(name.clone(), id);
            c.namespaces.push(Namespace { name, labels });
        }
        for (name, ips) in self.nodes {
            if c.node_index.contains_key(&name) {
                return Err(ClusterError::DuplicateNode(name));
            }
            let id = NodeId(to_u32(c.nodes.len(), "nodes")?);
            c.node_index.insert(name.clone(), id);
            c.nodes.push(Node { name, ips });
        }
        for spec in self.pods {
            let namespace = match c.ns_index.get(&spec.namespace) {
                Some(id) => *id,
                None => {
                    let id = NamespaceId(to_u32(c.namespaces.len(), "namespaces")?);
                    c.ns_index.insert(spec.namespace.clone(), id);
                    c.namespaces.push(Namespace {
                        name: spec.namespace.clone(),
                        labels: [(NAMESPACE_NAME_LABEL.to_owned(), spec.namespace.clone())].into(),
                    });
                    id
                }
            };
            let node = match &spec.node {
                None => None,
                Some(n) => match c.node_index.get(n) {
                    Some(id) => Some(*id),
                    None => {
                        return Err(ClusterError::UnknownNode(
                            spec.namespace,
                            spec.name,
                            n.clone(),
                        ));
                    }
                },
            };
            let key = (spec.namespace, spec.name);
            if c.pod_index.contains_key(&key) {
                return Err(ClusterError::DuplicatePod(key.0, key.1));
            }
            let id = PodId(to_u32(c.pods.len(), "pods")?);
            c.pods.push(Pod {
                namespace,
                name: key.1.clone(),
                labels: spec.labels,
                ips: spec.ips,
                node,
                ports: spec.ports,
            });
            c.pod_index.insert(key, id);
        }
        Ok(c)
    }
}

fn to_u32(n: usize, what: &'static str) -> Result<u32, ClusterError> {
    u32::try_from(n).map_err(|_| ClusterError::TooMany(what))
}

/// Namespaces, nodes and pods, read-only once built.
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    namespaces: Vec<Namespace>,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    ns_index: HashMap<String, NamespaceId>,
    node_index: HashMap<String, NodeId>,
    pod_index: HashMap<(String, String), PodId>,
}

impl Cluster {
    /// Starts building a cluster.
    ///
    /// ```
    /// let empty = netpol::cluster::Cluster::builder().build().unwrap();
    /// assert!(empty.pods().is_empty());
    /// ```
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// All namespaces, indexed by [`NamespaceId`].
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert_eq!(c.namespaces()[0].labels.len(), 2); // k, and kubernetes.io/metadata.name
    /// ```
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// All nodes, indexed by [`NodeId`].
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert_eq!(c.nodes()[0].name, "n1");
    /// ```
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// All pods, indexed by [`PodId`].
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pods()[0].name, "a");
    /// ```
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// Iterates over pod ids and pods.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pod_ids().count(), 1);
    /// ```
    pub fn pod_ids(&self) -> impl Iterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(|i| PodId(i as u32))
    }

    /// A pod by id.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodId, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert!(c.pod(PodId(0)).is_some() && c.pod(PodId(1)).is_none());
    /// ```
    pub fn pod(&self, id: PodId) -> Option<&Pod> {
        self.pods.get(id.index())
    }

    /// A node by id.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, NodeId};
    /// let c = Cluster::builder().node("n1", []).build().unwrap();
    /// assert_eq!(c.node(NodeId(0)).unwrap().name, "n1");
    /// ```
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.index())
    }

    /// A namespace by id.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, NamespaceId};
    /// let c = Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert_eq!(c.namespace(NamespaceId(0)).unwrap().name, "a");
    /// ```
    pub fn namespace(&self, id: NamespaceId) -> Option<&Namespace> {
        self.namespaces.get(id.index())
    }

    /// The id of the pod `namespace/name`.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert!(c.pod_id("x", "a").is_some() && c.pod_id("y", "a").is_none());
    /// ```
    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.pod_index
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// The id of a node by name.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// assert!(c.node_id("n1").is_some());
    /// ```
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_index.get(name).copied()
    }

    /// The id of a namespace by name.
    ///
    /// ```
    /// let c = netpol::cluster::Cluster::builder().namespace("a", [("k", "v")]).build().unwrap();
    /// assert!(c.namespace_id("a").is_some());
    /// ```
    pub fn namespace_id(&self, name: &str) -> Option<NamespaceId> {
        self.ns_index.get(name).copied()
    }

    /// The namespace name of a pod (empty for an unknown id).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// assert_eq!(c.pod_namespace_name(c.pod_id("x", "a").unwrap()), "x");
    /// ```
    pub fn pod_namespace_name(&self, id: PodId) -> &str {
        self.pod(id)
            .and_then(|p| self.namespace(p.namespace))
            .map_or("", |n| n.name.as_str())
    }

    /// `namespace/name` of a pod, the node's name as `node/NAME`, or the address.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint};
    /// let c = Cluster::builder().build().unwrap();
    /// assert_eq!(c.describe(Endpoint::External("8.8.8.8".parse().unwrap())), "8.8.8.8");
    /// ```
    pub fn describe(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Pod(id) => match self.pod(id) {
                Some(p) => format!("{}/{}", self.pod_namespace_name(id), p.name),
                None => format!("pod#{}", id.0),
            },
            Endpoint::Node(id) => match self.node(id) {
                Some(n) => format!("node/{}", n.name),
                None => format!("node#{}", id.0),
            },
            Endpoint::External(ip) => ip.to_string(),
        }
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
    pub fn address(&self, flow: Flow, endpoint: Endpoint) -> Option<IpAddr> {
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

    /// Whether the flow is IPv6: the family of an outside address on either side, else of
    /// the source's first address, else of the destination's. `None` when no side has an
    /// address.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let c = Cluster::builder().pod(PodSpec::new("x", "a").ip("fd00::1".parse().unwrap())).build().unwrap();
    /// let a = Endpoint::Pod(c.pod_id("x", "a").unwrap());
    /// assert_eq!(c.flow_is_v6(Flow::new(a, a, 80, Default::default())), Some(true));
    /// ```
    pub fn flow_is_v6(&self, flow: Flow) -> Option<bool> {
        if let Endpoint::External(ip) = flow.src {
            return Some(ip.is_ipv6());
        }
        if let Endpoint::External(ip) = flow.dst {
            return Some(ip.is_ipv6());
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
}

/// One side of a flow.
///
/// ```
/// use netpol::cluster::Endpoint;
/// let outside = Endpoint::External("203.0.113.7".parse().unwrap());
/// assert!(outside.pod().is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// use netpol::cluster::{Endpoint, PodId};
    /// assert_eq!(Endpoint::Pod(PodId(3)).pod(), Some(PodId(3)));
    /// ```
    pub fn pod(self) -> Option<PodId> {
        match self {
            Endpoint::Pod(id) => Some(id),
            _ => None,
        }
    }
}

/// A connection attempt: source, destination, destination port and protocol.
///
/// Addresses: an outside address is used as given. A pod or node side uses its first
/// address of the flow's family, which is the family of an outside address on either
/// side, else of the source's first address (else the destination's). A side with no
/// address of that family matches no `ipBlock`.
///
/// ```
/// use netpol::cluster::{Endpoint, Flow, PodId};
/// use netpol::policy::Protocol;
/// let f = Flow::new(Endpoint::Pod(PodId(0)), Endpoint::Pod(PodId(1)), 5432, Protocol::Tcp);
/// assert_eq!(f.port, 5432);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flow {
    /// Where the connection comes from.
    pub src: Endpoint,
    /// Where it goes.
    pub dst: Endpoint,
    /// The destination port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl Flow {
    /// A flow from its parts.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow};
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// assert_eq!(Flow::new(ip, ip, 53, netpol::policy::Protocol::Udp).port, 53);
    /// ```
    pub fn new(src: Endpoint, dst: Endpoint, port: u16, protocol: Protocol) -> Self {
        Flow {
            src,
            dst,
            port,
            protocol,
        }
    }
}

impl Flow {
    /// The side a direction is checked at, and the other side: for
    /// [`Direction::Egress`] the source and the destination, for
    /// [`Direction::Ingress`] the destination and the source.
    ///
    /// ```
    /// use netpol::cluster::{Endpoint, Flow, PodId};
    /// use netpol::policy::Direction;
    /// let f = Flow::new(Endpoint::Pod(PodId(0)), Endpoint::Pod(PodId(1)), 80, Default::default());
    /// assert_eq!(f.sides(Direction::Ingress), (f.dst, f.src));
    /// ```
    pub fn sides(self, direction: Direction) -> (Endpoint, Endpoint) {
        match direction {
            Direction::Egress => (self.src, self.dst),
            Direction::Ingress => (self.dst, self.src),
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} -> {:?} {}/{}",
            self.src, self.dst, self.port, self.protocol
        )
    }
}
