//! A cluster from the API objects `kubectl get ns,nodes,pods,svc -o json` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};

use super::{Cluster, ClusterBuilder, ClusterError, ContainerPort, NodeSpec, PodSpec};
use crate::model;
use crate::policy::Protocol;
use crate::service::{ResolvedService, Service, ServiceError, ServiceTable};

/// Which object given to [`ClusterObjects`] a [`ObjectNote`] is about: the object's
/// place in the order the objects were added, whatever their kind.
///
/// ```
/// use netpol::cluster::ClusterObjects;
/// use netpol::model::Namespace;
/// let mut objects = ClusterObjects::new();
/// let first = objects.add_namespace(Namespace::from_json(r#"{"metadata": {"name": "a"}}"#)?);
/// let second = objects.add_namespace(Namespace::from_json(r#"{"metadata": {"name": "b"}}"#)?);
/// assert_eq!((first.index(), second.index()), (0, 1));
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(usize);

impl ObjectId {
    /// The position of the object among all the objects added, from 0.
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut objects = ClusterObjects::new();
    /// assert_eq!(objects.add_pod(Default::default()).index(), 0);
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self.0
    }
}

/// How much a [`ObjectNote`] matters.
///
/// ```
/// use netpol::cluster::NoteSeverity;
/// assert!(NoteSeverity::Info < NoteSeverity::Warning && NoteSeverity::Warning < NoteSeverity::Error);
/// assert_eq!(NoteSeverity::Warning.as_str(), "warning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NoteSeverity {
    /// Nothing is wrong: how the object was read (a host-network pod, a finished pod).
    Info,
    /// The object was read with something left out or ambiguous.
    Warning,
    /// The object cannot be used and was left out.
    Error,
}

impl NoteSeverity {
    /// `info`, `warning` or `error`.
    ///
    /// ```
    /// assert_eq!(netpol::cluster::NoteSeverity::Info.as_str(), "info");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NoteSeverity::Info => "info",
            NoteSeverity::Warning => "warning",
            NoteSeverity::Error => "error",
        }
    }
}

/// What a [`ObjectNote`] says.
///
/// ```
/// use netpol::cluster::NoteKind;
/// let k = NoteKind::Finished { phase: "Succeeded".into() };
/// assert_eq!(k.to_string(), "has finished (phase Succeeded): its IP is stale, left out");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum NoteKind {
    /// A pod on its node's network (`spec.hostNetwork: true`): its traffic is its node's
    /// and no NetworkPolicy selects it. Kept, as the node's endpoint.
    HostNetwork {
        /// The node, when known.
        node: Option<String>,
    },
    /// A pod without an address (not scheduled or not started): left out.
    NoIp {
        /// `status.phase`, when written.
        phase: Option<String>,
    },
    /// A pod whose `status.phase` is `Succeeded` or `Failed`: it keeps a stale address
    /// that another pod may have now. Left out.
    Finished {
        /// The phase.
        phase: String,
    },
    /// An object without `metadata.name`: left out.
    NoName,
    /// A second object with the name (and namespace) of one added before: left out.
    Duplicate,
    /// A pod address already claimed by another pod: the address names the first one.
    SharedIp {
        /// The address.
        ip: IpAddr,
        /// `namespace/name` of the pod that keeps it.
        first: String,
    },
    /// A pod on a node that was not given: kept, without a node (its traffic with its
    /// own node is then not special-cased).
    UnknownNode {
        /// The node name.
        node: String,
    },
    /// Pods in a namespace that was not given: the namespace is created with no label but
    /// `kubernetes.io/metadata.name`.
    UnknownNamespace,
    /// A field that should hold an IP address and does not: that address is left out.
    BadAddress {
        /// The field path.
        field: String,
        /// The value.
        value: String,
    },
    /// A field that should hold a CIDR and does not: that subnet is left out.
    BadCidr {
        /// The field path.
        field: String,
        /// The value.
        value: String,
    },
    /// A node with no IP address in `status.addresses`: ipBlocks cannot match it.
    NoNodeAddress,
    /// A container port that cannot be used (number out of range, unknown protocol):
    /// left out.
    BadPort {
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A Service that cannot be routed (see [`Service::resolve`]) or that repeats the
    /// name or a cluster IP of one added before: left out.
    Service {
        /// Why.
        error: String,
    },
}

impl fmt::Display for NoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteKind::HostNetwork { node } => {
                write!(f, "uses the host network: its traffic is ")?;
                match node {
                    Some(n) => write!(f, "node {n}'s")?,
                    None => write!(f, "its node's")?,
                }
                write!(f, ", and no NetworkPolicy selects it")
            }
            NoteKind::NoIp { phase } => {
                write!(f, "has no IP (no status.podIP or status.podIPs")?;
                if let Some(p) = phase {
                    write!(f, ", phase {p}")?;
                }
                write!(f, "): not scheduled or not started, left out")
            }
            NoteKind::Finished { phase } => {
                write!(f, "has finished (phase {phase}): its IP is stale, left out")
            }
            NoteKind::NoName => write!(f, "has no metadata.name, left out"),
            NoteKind::Duplicate => write!(f, "was given before: this copy is left out"),
            NoteKind::SharedIp { ip, first } => write!(
                f,
                "has IP {ip}, as pod {first} does: the address names {first}"
            ),
            NoteKind::UnknownNode { node } => write!(
                f,
                "runs on node {node}, which was not given: its traffic with its own node is not special-cased"
            ),
            NoteKind::UnknownNamespace => write!(
                f,
                "was not given: it has no label but kubernetes.io/metadata.name"
            ),
            NoteKind::BadAddress { field, value } => {
                write!(f, "{field}: {value:?} is not an IP address, left out")
            }
            NoteKind::BadCidr { field, value } => {
                write!(f, "{field}: {value:?} is not a CIDR, left out")
            }
            NoteKind::NoNodeAddress => write!(
                f,
                "has no IP address in status.addresses: ipBlocks cannot match it"
            ),
            NoteKind::BadPort { field, message } => write!(f, "{field}: {message}, left out"),
            NoteKind::Service { error } => write!(f, "{error}: left out"),
        }
    }
}

impl NoteKind {
    /// How much the note matters.
    ///
    /// ```
    /// use netpol::cluster::{NoteKind, NoteSeverity};
    /// assert_eq!(NoteKind::HostNetwork { node: None }.severity(), NoteSeverity::Info);
    /// assert_eq!(NoteKind::NoName.severity(), NoteSeverity::Error);
    /// ```
    #[must_use]
    pub fn severity(&self) -> NoteSeverity {
        match self {
            NoteKind::HostNetwork { .. }
            | NoteKind::NoIp { .. }
            | NoteKind::Finished { .. }
            | NoteKind::UnknownNode { .. }
            | NoteKind::UnknownNamespace => NoteSeverity::Info,
            NoteKind::Duplicate
            | NoteKind::SharedIp { .. }
            | NoteKind::BadAddress { .. }
            | NoteKind::BadCidr { .. }
            | NoteKind::NoNodeAddress
            | NoteKind::BadPort { .. } => NoteSeverity::Warning,
            NoteKind::NoName | NoteKind::Service { .. } => NoteSeverity::Error,
        }
    }
}

/// Something to know about how an object went into the cluster.
///
/// ```
/// use netpol::cluster::{ClusterObjects, NoteKind, NoteSeverity};
/// use netpol::model::Pod;
/// let mut objects = ClusterObjects::new();
/// let id = objects.add_pod(Pod::from_json(r#"{"metadata": {"name": "job-x", "namespace": "ci"},
///   "status": {"phase": "Succeeded", "podIP": "10.244.1.9"}}"#)?);
/// let built = objects.build()?;
/// let note = built.notes.iter().find(|n| n.object == Some(id)).unwrap();
/// assert_eq!(note.kind, NoteKind::Finished { phase: "Succeeded".into() });
/// assert_eq!(note.severity(), NoteSeverity::Info);
/// assert_eq!(note.to_string(), "Pod ci/job-x has finished (phase Succeeded): its IP is stale, left out");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectNote {
    /// The object, or `None` for a note about several (a namespace no object declared).
    #[serde(skip)]
    pub object: Option<ObjectId>,
    /// What the note is about, as `Kind namespace/name` (`Pod shop/db`, `Node n1`,
    /// `Namespace shop`).
    pub subject: String,
    /// What it says.
    #[serde(flatten)]
    pub kind: NoteKind,
}

impl ObjectNote {
    /// How much the note matters.
    ///
    /// ```
    /// # use netpol::cluster::{NoteKind, NoteSeverity, ObjectNote};
    /// let n = ObjectNote { object: None, subject: "Pod a/b".into(), kind: NoteKind::NoName };
    /// assert_eq!(n.severity(), NoteSeverity::Error);
    /// ```
    #[must_use]
    pub fn severity(&self) -> NoteSeverity {
        self.kind.severity()
    }
}

impl fmt::Display for ObjectNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.kind)
    }
}

/// The cluster built from objects, with the Services resolved against it and a note for
/// everything worth knowing about the objects.
///
/// ```
/// # use netpol::cluster::ClusterObjects;
/// let built = ClusterObjects::new().build()?;
/// assert_eq!(built.cluster.pod_count(), 0);
/// assert!(built.services.is_empty() && built.notes.is_empty());
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuiltCluster {
    /// The cluster.
    pub cluster: Cluster,
    /// The Services that could be used, with their endpoints in `cluster`.
    pub services: ServiceTable,
    /// Notes, in the order the objects were added (notes about no single object last).
    pub notes: Vec<ObjectNote>,
}

/// What [`ClusterObjects::into_parts`] gives: a builder to add more to, the Services to
/// resolve against the cluster once built, and the notes so far.
///
/// ```
/// # use netpol::cluster::{ClusterObjects, PodSpec};
/// let parts = ClusterObjects::new().into_parts();
/// let cluster = parts.builder.pod(PodSpec::new("x", "extra")).build()?;
/// assert!(cluster.pod_id("x", "extra").is_some());
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterParts {
    /// Namespaces, nodes and pods.
    pub builder: ClusterBuilder,
    /// The Services that resolved, none repeating a name or a cluster IP, with the
    /// object each came from; build a [`ServiceTable`] from them once the cluster is
    /// built.
    pub services: Vec<(ObjectId, ResolvedService)>,
    /// Notes so far.
    pub notes: Vec<ObjectNote>,
}

/// Collects Namespace, Node, Pod and Service objects as the API serves them, and turns
/// them into a [`Cluster`] the way a network plugin sees it:
///
/// - a namespace's labels and a node's labels are its `metadata.labels`;
/// - a node's addresses are its `status.addresses` of type `InternalIP` first, then every
///   other entry that holds an IP address (`ExternalIP`, ...), once each; its pod subnets
///   are `spec.podCIDRs` (or `spec.podCIDR` when that is empty), and its tunnel
///   addresses the ones Calico records in its annotations
///   ([`CALICO_TUNNEL_ANNOTATIONS`]: IPIP, then VXLAN, IPv4 then IPv6) and, on a node
///   whose flannel backend is VXLAN ([`FLANNEL_BACKEND_TYPE_ANNOTATION`]), the network
///   address of each pod subnet (flannel's `flannel.1`), which Service translation uses
///   for the masquerade address;
/// - a pod's addresses are `status.podIPs` (or `status.podIP` when that is empty), its
///   node `spec.nodeName`, its labels `metadata.labels`, its service account
///   `spec.serviceAccountName` (or the deprecated `spec.serviceAccount`; `default`), its
///   named ports every container's `ports` (protocol `TCP` when empty);
/// - a pod with `spec.hostNetwork: true` is added with
///   [`PodSpec::host_network`]: its traffic is its node's, no NetworkPolicy selects it
///   ([`NoteKind::HostNetwork`], an information, not an error);
/// - a pod without an address (Pending) and a finished pod (`status.phase` `Succeeded` or
///   `Failed`, whose address is stale) are left out with a note;
/// - a second object with the name of one given before, a pod on a node not given, an
///   address that is not one, are noted (see [`NoteKind`]); none of them fails the build.
///
/// Nothing here reads files or YAML: give it decoded objects ([`model::Pod::from_json`],
/// [`model::Pod::from_value`], ...).
///
/// ```
/// use netpol::cluster::{ClusterObjects, Endpoint, NoteKind};
/// use netpol::model::{Namespace, Node, Pod};
///
/// let mut objects = ClusterObjects::new();
/// objects.add_namespace(Namespace::from_json(r#"{"metadata": {"name": "kube-system"}}"#)?);
/// objects.add_node(Node::from_json(r#"{"metadata": {"name": "n1", "labels": {"zone": "a"}},
///   "status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.10"},
///                            {"type": "InternalIP", "address": "192.168.0.11"}]}}"#)?);
/// objects.add_pod(Pod::from_json(r#"{"metadata": {"name": "coredns-1", "namespace": "kube-system",
///     "labels": {"k8s-app": "kube-dns"}},
///   "spec": {"nodeName": "n1", "containers": [{"ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]},
///   "status": {"podIP": "10.244.1.2"}}"#)?);
/// objects.add_pod(Pod::from_json(r#"{"metadata": {"name": "kube-proxy-x", "namespace": "kube-system"},
///   "spec": {"nodeName": "n1", "hostNetwork": true}, "status": {"podIP": "192.168.0.11"}}"#)?);
/// let built = objects.build()?;
/// let c = &built.cluster;
///
/// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
/// assert_eq!(n1.ips, ["192.168.0.11".parse::<std::net::IpAddr>()?, "203.0.113.10".parse()?]);
/// let dns = c.pod_id("kube-system", "coredns-1").unwrap();
/// assert_eq!(c.endpoint_at("10.244.1.2".parse()?), Endpoint::Pod(dns));
/// assert_eq!(c.pod(dns).unwrap().ports[0].name.as_deref(), Some("dns"));
/// // The host-network pod is its node.
/// assert_eq!(c.resolve_pod("kube-system", "kube-proxy-x"), Some(Endpoint::Node(c.node_id("n1").unwrap())));
/// assert!(matches!(&built.notes[0].kind, NoteKind::HostNetwork { node: Some(n) } if n == "n1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    next: usize,
    namespaces: Vec<(ObjectId, model::Namespace)>,
    nodes: Vec<(ObjectId, model::Node)>,
    pods: Vec<(ObjectId, model::Pod)>,
    services: Vec<(ObjectId, Service)>,
}

impl ClusterObjects {
    /// No objects yet.
    ///
    /// ```
    /// assert_eq!(netpol::cluster::ClusterObjects::new().len(), 0);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self) -> ObjectId {
        let id = ObjectId(self.next);
        self.next += 1;
        id
    }

    /// How many objects were added, of every kind.
    ///
    /// ```
    /// let mut o = netpol::cluster::ClusterObjects::new();
    /// o.add_node(Default::default());
    /// assert_eq!(o.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.next
    }

    /// Whether no object was added.
    ///
    /// ```
    /// assert!(netpol::cluster::ClusterObjects::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Adds a Namespace.
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut o = ClusterObjects::new();
    /// o.add_namespace(netpol::model::Namespace::from_json(r#"{"metadata": {"name": "a", "labels": {"t": "x"}}}"#)?);
    /// let c = o.build()?.cluster;
    /// assert_eq!(c.namespace(c.namespace_id("a").unwrap()).unwrap().labels["t"], "x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_namespace(&mut self, namespace: model::Namespace) -> ObjectId {
        let id = self.id();
        self.namespaces.push((id, namespace));
        id
    }

    /// Adds a Node.
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut o = ClusterObjects::new();
    /// o.add_node(netpol::model::Node::from_json(r#"{"metadata": {"name": "n1", "labels": {"zone": "a"}}}"#)?);
    /// let built = o.build()?;
    /// assert_eq!(built.notes[0].to_string(), "Node n1 has no IP address in status.addresses: ipBlocks cannot match it");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_node(&mut self, node: model::Node) -> ObjectId {
        let id = self.id();
        self.nodes.push((id, node));
        id
    }

    /// Adds a Pod.
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut o = ClusterObjects::new();
    /// o.add_pod(netpol::model::Pod::from_json(r#"{"metadata": {"name": "web", "namespace": "x"},
    ///   "spec": {"serviceAccountName": "web"}, "status": {"podIP": "10.0.0.1"}}"#)?);
    /// let c = o.build()?.cluster;
    /// assert_eq!(c.pod(c.pod_id("x", "web").unwrap()).unwrap().service_account, "web");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pod(&mut self, pod: model::Pod) -> ObjectId {
        let id = self.id();
        self.pods.push((id, pod));
        id
    }

    /// Adds a Service, as written (it is resolved when the cluster is built).
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut o = ClusterObjects::new();
    /// o.add_service(netpol::service::Service::from_json(r#"{"metadata": {"name": "db", "namespace": "x"},
    ///   "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}"#)?);
    /// let built = o.build()?;
    /// assert!(built.services.lookup("x", "db").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_service(&mut self, service: Service) -> ObjectId {
        let id = self.id();
        self.services.push((id, service));
        id
    }

    /// Builds the cluster and resolves the Services against it.
    ///
    /// # Errors
    ///
    /// Only what [`ClusterBuilder::build`] refuses beyond what is noted here: more
    /// objects than ids can number. Duplicates and unknown nodes are noted, not errors.
    ///
    /// ```
    /// # use netpol::cluster::{ClusterObjects, NoteKind};
    /// use netpol::model::Pod;
    /// let mut o = ClusterObjects::new();
    /// let pod = |ip: &str| Pod::from_json(&format!(r#"{{"metadata": {{"name": "a", "namespace": "x"}},
    ///   "spec": {{"nodeName": "n9"}}, "status": {{"podIP": "{ip}"}}}}"#));
    /// o.add_pod(pod("10.0.0.1")?);
    /// let again = o.add_pod(pod("10.0.0.2")?);
    /// let built = o.build()?;
    /// assert_eq!(built.cluster.pod_count(), 1);
    /// assert!(built.notes.iter().any(|n| n.object == Some(again) && n.kind == NoteKind::Duplicate));
    /// assert!(built.notes.iter().any(|n| matches!(&n.kind, NoteKind::UnknownNode { node } if node == "n9")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(&self) -> Result<BuiltCluster, ClusterError> {
        let parts = self.parts();
        let cluster = parts.builder.build()?;
        let resolved: Vec<ResolvedService> =
            parts.services.iter().map(|(_, s)| s.clone()).collect();
        let mut notes = parts.notes;
        // The parts hold no two Services with one name or cluster IP, so the table
        // builds; should it not, every Service is reported rather than none silently.
        let services = match ServiceTable::build(&cluster, &resolved) {
            Ok(t) => t,
            Err(e) => {
                for (id, s) in &parts.services {
                    notes.push(ObjectNote {
                        object: Some(*id),
                        subject: format!("Service {}", s.key()),
                        kind: NoteKind::Service {
                            error: e.to_string(),
                        },
                    });
                }
                ServiceTable::default()
            }
        };
        Ok(BuiltCluster {
            cluster,
            services,
            notes,
        })
    }

    /// The builder, the resolved Services and the notes, for a caller that adds more
    /// before building (see [`ClusterParts`]).
    ///
    /// ```
    /// # use netpol::cluster::ClusterObjects;
    /// let mut o = ClusterObjects::new();
    /// o.add_pod(netpol::model::Pod::from_json(r#"{"metadata": {"name": "p", "namespace": "x"}}"#)?);
    /// let parts = o.into_parts();
    /// assert_eq!(parts.notes.len(), 1); // no IP: left out
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn into_parts(self) -> ClusterParts {
        self.parts()
    }

    fn parts(&self) -> ClusterParts {
        let mut notes = Vec::new();
        let mut b = ClusterBuilder::default();

        let mut namespaces = HashSet::new();
        for (id, ns) in &self.namespaces {
            let Some(name) = name_of(&ns.metadata) else {
                notes.push(note(*id, "Namespace (unnamed)".into(), NoteKind::NoName));
                continue;
            };
            if !namespaces.insert(name.to_owned()) {
                notes.push(note(*id, format!("Namespace {name}"), NoteKind::Duplicate));
                continue;
            }
            b = b.namespace(name, labels(&ns.metadata));
        }

        let mut nodes = HashSet::new();
        for (id, node) in &self.nodes {
            let Some(name) = name_of(&node.metadata) else {
                notes.push(note(*id, "Node (unnamed)".into(), NoteKind::NoName));
                continue;
            };
            let subject = format!("Node {name}");
            if !nodes.insert(name.to_owned()) {
                notes.push(note(*id, subject, NoteKind::Duplicate));
                continue;
            }
            let mut spec = NodeSpec::new(name);
            spec.labels = labels(&node.metadata);
            spec.ips = node_addresses(*id, &subject, node, &mut notes);
            spec.pod_cidrs = node_pod_cidrs(*id, &subject, node, &mut notes);
            spec.tunnel_ips =
                node_tunnel_addresses(*id, &subject, node, &spec.pod_cidrs, &mut notes);
            if spec.ips.is_empty() {
                notes.push(note(*id, subject, NoteKind::NoNodeAddress));
            }
            b = b.add_node(spec);
        }

        let mut pods = HashSet::new();
        let mut ip_owner: HashMap<IpAddr, String> = HashMap::new();
        let mut unknown_namespaces = BTreeSet::new();
        for (id, pod) in &self.pods {
            let namespace = pod.metadata.namespace_or_default();
            let namespace = if namespace.is_empty() {
                "default"
            } else {
                namespace
            };
            let Some(name) = name_of(&pod.metadata) else {
                notes.push(note(
                    *id,
                    format!("Pod {namespace}/(unnamed)"),
                    NoteKind::NoName,
                ));
                continue;
            };
            let key = format!("{namespace}/{name}");
            let subject = format!("Pod {key}");
            if !pods.insert(key.clone()) {
                notes.push(note(*id, subject, NoteKind::Duplicate));
                continue;
            }
            let phase = pod.status.phase.as_deref().filter(|p| !p.is_empty());
            if let Some(p @ ("Succeeded" | "Failed")) = phase {
                notes.push(note(
                    *id,
                    subject,
                    NoteKind::Finished {
                        phase: p.to_owned(),
                    },
                ));
                continue;
            }
            let mut spec = PodSpec::new(namespace, name);
            spec.labels = labels(&pod.metadata).into();
            let node = pod.spec.node_name.as_deref().filter(|n| !n.is_empty());
            if let Some(n) = node {
                if nodes.contains(n) {
                    spec.node = Some(n.to_owned());
                } else {
                    notes.push(note(
                        *id,
                        subject.clone(),
                        NoteKind::UnknownNode { node: n.to_owned() },
                    ));
                }
            }
            // A namespace no object declared is created for the pods that go in.
            let mut note_namespace = || {
                if !namespaces.contains(namespace) {
                    unknown_namespaces.insert(namespace.to_owned());
                }
            };
            if pod.spec.host_network == Some(true) {
                note_namespace();
                notes.push(note(
                    *id,
                    subject,
                    NoteKind::HostNetwork {
                        node: node.map(str::to_owned),
                    },
                ));
                b = b.pod(spec.host_network(true));
                continue;
            }
            spec.ips = pod_addresses(*id, &subject, pod, &mut notes);
            if spec.ips.is_empty() {
                notes.push(note(
                    *id,
                    subject,
                    NoteKind::NoIp {
                        phase: phase.map(str::to_owned),
                    },
                ));
                continue;
            }
            for ip in &spec.ips {
                match ip_owner.get(ip) {
                    Some(first) => notes.push(note(
                        *id,
                        subject.clone(),
                        NoteKind::SharedIp {
                            ip: *ip,
                            first: first.clone(),
                        },
                    )),
                    None => {
                        ip_owner.insert(*ip, key.clone());
                    }
                }
            }
            spec.service_account = pod
                .spec
                .service_account_name
                .as_deref()
                .or(pod.spec.service_account.as_deref())
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let mut ports = Vec::new();
            for (c, container) in pod.spec.containers.iter().flatten().enumerate() {
                for (p, port) in container.ports.iter().flatten().enumerate() {
                    match container_port(port) {
                        Ok(cp) => ports.push(cp),
                        Err(message) => notes.push(note(
                            *id,
                            subject.clone(),
                            NoteKind::BadPort {
                                field: format!("spec.containers[{c}].ports[{p}]"),
                                message,
                            },
                        )),
                    }
                }
            }
            spec.ports = ports.into();
            note_namespace();
            b = b.pod(spec);
        }

        let services = self.services(&mut notes);
        for ns in unknown_namespaces {
            notes.push(ObjectNote {
                object: None,
                subject: format!("Namespace {ns}"),
                kind: NoteKind::UnknownNamespace,
            });
        }
        ClusterParts {
            builder: b,
            services,
            notes,
        }
    }

    /// The Services that resolve, none repeating a name or a cluster IP.
    fn services(&self, notes: &mut Vec<ObjectNote>) -> Vec<(ObjectId, ResolvedService)> {
        let mut names = HashSet::new();
        let mut owners: HashMap<IpAddr, String> = HashMap::new();
        let mut kept = Vec::new();
        for (id, written) in &self.services {
            let key = written.key();
            let subject = format!("Service {key}");
            let service = match written.resolve() {
                Ok(s) => s,
                Err(e) => {
                    notes.push(note(
                        *id,
                        subject,
                        NoteKind::Service {
                            error: service_error(&e),
                        },
                    ));
                    continue;
                }
            };
            let refusal = if names.contains(&key) {
                Some(ServiceError::Duplicate(key.clone()))
            } else {
                service
                    .addressing
                    .cluster_ips()
                    .iter()
                    .find_map(|ip| owners.get(ip).map(|first| (ip, first)))
                    .map(|(ip, first)| ServiceError::DuplicateIp {
                        ip: *ip,
                        first: first.clone(),
                        second: key.clone(),
                    })
            };
            if let Some(e) = refusal {
                notes.push(note(
                    *id,
                    subject,
                    NoteKind::Service {
                        error: e.to_string(),
                    },
                ));
                continue;
            }
            names.insert(key.clone());
            for ip in service.addressing.cluster_ips() {
                owners.insert(*ip, key.clone());
            }
            kept.push((*id, service));
        }
        kept
    }
}

fn note(id: ObjectId, subject: String, kind: NoteKind) -> ObjectNote {
    ObjectNote {
        object: Some(id),
        subject,
        kind,
    }
}

fn name_of(meta: &model::ObjectMeta) -> Option<&str> {
    meta.name.as_deref().filter(|n| !n.is_empty())
}

fn labels(meta: &model::ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// `InternalIP` entries first, then every other entry holding an IP address, once each.
fn node_addresses(
    id: ObjectId,
    subject: &str,
    node: &model::Node,
    notes: &mut Vec<ObjectNote>,
) -> Vec<IpAddr> {
    let addresses = node.status.addresses.as_deref().unwrap_or_default();
    let internal = addresses
        .iter()
        .enumerate()
        .filter(|(_, a)| a.type_ == "InternalIP");
    let others = addresses
        .iter()
        .enumerate()
        .filter(|(_, a)| a.type_ != "InternalIP");
    let mut ips = Vec::new();
    for (i, a) in internal.chain(others) {
        match a.address.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            // Names (Hostname, InternalDNS, ExternalDNS) are not addresses.
            Err(_) if !matches!(a.type_.as_str(), "InternalIP" | "ExternalIP") => {}
            Err(_) => notes.push(note(
                id,
                subject.to_owned(),
                NoteKind::BadAddress {
                    field: format!("status.addresses[{i}].address"),
                    value: a.address.clone(),
                },
            )),
        }
    }
    ips
}

/// The Node annotations in which Calico records a node's overlay addresses
/// (`libcalico-go/lib/backend/k8s/resources/node.go`), in the order they are read: the
/// IPIP tunnel address, then the VXLAN ones (IPv4, IPv6). A node keeps the first of each
/// family.
///
/// ```
/// use netpol::cluster::{ClusterObjects, IpFamily, CALICO_TUNNEL_ANNOTATIONS};
/// assert_eq!(CALICO_TUNNEL_ANNOTATIONS[0], "projectcalico.org/IPv4IPIPTunnelAddr");
/// let mut o = ClusterObjects::new();
/// o.add_node(netpol::model::Node::from_json(r#"{"metadata": {"name": "n1",
///   "annotations": {"projectcalico.org/IPv4IPIPTunnelAddr": "10.244.1.64"}},
///   "spec": {"podCIDR": "10.244.1.0/24"},
///   "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.11"}]}}"#)?);
/// let c = o.build()?.cluster;
/// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
/// assert_eq!(n1.tunnel_ip(IpFamily::Ipv4), Some("10.244.1.64".parse()?));
/// assert_eq!(n1.pod_cidrs[0].to_string(), "10.244.1.0/24");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const CALICO_TUNNEL_ANNOTATIONS: &[&str] = &[
    "projectcalico.org/IPv4IPIPTunnelAddr",
    "projectcalico.org/IPv4VXLANTunnelAddr",
    "projectcalico.org/IPv6VXLANTunnelAddr",
];

/// `spec.podCIDRs`, or `spec.podCIDR` when that lists none, once each.
fn node_pod_cidrs(
    id: ObjectId,
    subject: &str,
    node: &model::Node,
    notes: &mut Vec<ObjectNote>,
) -> Vec<ipnet::IpNet> {
    let mut texts: Vec<(String, &str)> = node
        .spec
        .pod_cidrs
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .map(|(i, c)| (format!("spec.podCIDRs[{i}]"), c.as_str()))
        .collect();
    if texts.is_empty() {
        if let Some(c) = node.spec.pod_cidr.as_deref().filter(|c| !c.is_empty()) {
            texts.push(("spec.podCIDR".into(), c));
        }
    }
    let mut nets = Vec::new();
    for (field, text) in texts {
        match text.parse::<ipnet::IpNet>() {
            Ok(net) if !nets.contains(&net) => nets.push(net),
            Ok(_) => {}
            Err(_) => notes.push(note(
                id,
                subject.to_owned(),
                NoteKind::BadCidr {
                    field,
                    value: text.to_owned(),
                },
            )),
        }
    }
    nets
}

/// The Node annotation in which flannel records its backend
/// (`pkg/subnet/kube/annotations.go`, with the default prefix). With `vxlan`, flannel
/// gives its `flannel.1` device the node's subnet address as a /32 ("This IP is just used
/// as a source address for host to workload traffic", `pkg/backend/vxlan/vxlan.go`), and
/// with the kube subnet manager that subnet is the node's `spec.podCIDR(s)`: that address
/// is the node's tunnel address.
///
/// ```
/// use netpol::cluster::{ClusterObjects, IpFamily, FLANNEL_BACKEND_TYPE_ANNOTATION};
/// let mut o = ClusterObjects::new();
/// o.add_node(netpol::model::Node::from_json(r#"{"metadata": {"name": "n1",
///   "annotations": {"flannel.alpha.coreos.com/backend-type": "vxlan"}},
///   "spec": {"podCIDR": "10.244.1.0/24"}}"#)?);
/// let c = o.build()?.cluster;
/// let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
/// assert_eq!(FLANNEL_BACKEND_TYPE_ANNOTATION, "flannel.alpha.coreos.com/backend-type");
/// assert_eq!(n1.tunnel_ip(IpFamily::Ipv4), Some("10.244.1.0".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const FLANNEL_BACKEND_TYPE_ANNOTATION: &str = "flannel.alpha.coreos.com/backend-type";

/// The addresses of [`CALICO_TUNNEL_ANNOTATIONS`], then flannel's VXLAN device addresses
/// ([`FLANNEL_BACKEND_TYPE_ANNOTATION`]), once each.
fn node_tunnel_addresses(
    id: ObjectId,
    subject: &str,
    node: &model::Node,
    pod_cidrs: &[ipnet::IpNet],
    notes: &mut Vec<ObjectNote>,
) -> Vec<IpAddr> {
    let Some(annotations) = node.metadata.annotations.as_ref() else {
        return Vec::new();
    };
    let mut ips = Vec::new();
    for key in CALICO_TUNNEL_ANNOTATIONS {
        let Some(text) = annotations.get(*key).filter(|t| !t.is_empty()) else {
            continue;
        };
        match text.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) => notes.push(note(
                id,
                subject.to_owned(),
                NoteKind::BadAddress {
                    field: format!("metadata.annotations[{key}]"),
                    value: text.clone(),
                },
            )),
        }
    }
    if annotations
        .get(FLANNEL_BACKEND_TYPE_ANNOTATION)
        .is_some_and(|b| b == "vxlan")
    {
        for net in pod_cidrs {
            let ip = net.network();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    ips
}

/// `status.podIPs`, or `status.podIP` when that lists none, once each.
fn pod_addresses(
    id: ObjectId,
    subject: &str,
    pod: &model::Pod,
    notes: &mut Vec<ObjectNote>,
) -> Vec<IpAddr> {
    let mut texts: Vec<(String, &str)> = pod
        .status
        .pod_ips
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, p)| !p.ip.is_empty())
        .map(|(i, p)| (format!("status.podIPs[{i}].ip"), p.ip.as_str()))
        .collect();
    if texts.is_empty() {
        if let Some(ip) = pod.status.pod_ip.as_deref().filter(|s| !s.is_empty()) {
            texts.push(("status.podIP".into(), ip));
        }
    }
    let mut ips = Vec::new();
    for (field, text) in texts {
        match text.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) => notes.push(note(
                id,
                subject.to_owned(),
                NoteKind::BadAddress {
                    field,
                    value: text.to_owned(),
                },
            )),
        }
    }
    ips
}

fn container_port(p: &model::ContainerPort) -> Result<ContainerPort, String> {
    let number = p.container_port;
    let port = u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("containerPort {number} is not between 1 and 65535"))?;
    // An empty protocol is TCP (the apiserver's defaulting).
    let protocol = match p.protocol.as_deref().unwrap_or("") {
        "" => Protocol::Tcp,
        other => other
            .parse::<Protocol>()
            .map_err(|_| format!("protocol {other:?} is not TCP, UDP or SCTP"))?,
    };
    Ok(match p.name.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => ContainerPort::named(name, port, protocol),
        None => ContainerPort::unnamed(port, protocol),
    })
}

/// A Service error, field path first when it has one.
fn service_error(e: &ServiceError) -> String {
    match e {
        ServiceError::Decode(crate::model::DecodeError { path, message, .. })
        | ServiceError::Invalid { path, message, .. } => {
            if path.is_empty() {
                message.clone()
            } else {
                format!("{path}: {message}")
            }
        }
        other => other.to_string(),
    }
}

/// What one Pod object is to the cluster, read as [`ClusterObjects`] reads it.
#[derive(Debug, Clone)]
pub(crate) enum PodObject {
    /// No name: nothing.
    Unnamed,
    /// Left out (finished, or no address): the pod `namespace/name` is not in the cluster.
    LeftOut(String, String),
    /// A pod, with the node `spec.nodeName` asks for (which may not be there).
    Pod(PodSpec),
}

/// A Pod object as [`ClusterObjects::build`] reads it, alone.
pub(crate) fn pod_object(pod: &model::Pod) -> PodObject {
    let namespace = pod.metadata.namespace_or_default();
    let namespace = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    let Some(name) = name_of(&pod.metadata) else {
        return PodObject::Unnamed;
    };
    let left_out = || PodObject::LeftOut(namespace.to_owned(), name.to_owned());
    let phase = pod.status.phase.as_deref().filter(|p| !p.is_empty());
    if let Some("Succeeded" | "Failed") = phase {
        return left_out();
    }
    let mut spec = PodSpec::new(namespace, name);
    spec.labels = labels(&pod.metadata).into();
    spec.node = pod
        .spec
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if pod.spec.host_network == Some(true) {
        return PodObject::Pod(spec.host_network(true));
    }
    let mut notes = Vec::new();
    spec.ips = pod_addresses(ObjectId(0), "", pod, &mut notes);
    if spec.ips.is_empty() {
        return left_out();
    }
    spec.service_account = pod
        .spec
        .service_account_name
        .as_deref()
        .or(pod.spec.service_account.as_deref())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    spec.ports = pod
        .spec
        .containers
        .iter()
        .flatten()
        .flat_map(|container| container.ports.iter().flatten())
        .filter_map(|port| container_port(port).ok())
        .collect();
    PodObject::Pod(spec)
}

/// A Node object as [`ClusterObjects::build`] reads it, alone (`None` without a name).
pub(crate) fn node_object(node: &model::Node) -> Option<NodeSpec> {
    let name = name_of(&node.metadata)?;
    let mut spec = NodeSpec::new(name);
    spec.labels = labels(&node.metadata);
    spec.ips = node_addresses(ObjectId(0), "", node, &mut Vec::new());
    Some(spec)
}

/// A Namespace object's name and labels (`None` without a name).
pub(crate) fn namespace_object(
    ns: &model::Namespace,
) -> Option<(String, BTreeMap<String, String>)> {
    Some((name_of(&ns.metadata)?.to_owned(), labels(&ns.metadata)))
}
