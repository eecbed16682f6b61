//! What a NetworkPolicy ingress rule's `ipBlock`s match of the traffic outside clients
//! send to the rule's pods through Services, once the service proxy has translated it.
//!
//! See [`ServiceTable::outside`] and [`Outside::ingress_rule`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ahash::AHashMap as HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Serialize, Serializer};

use super::outside::masquerade_source;
use super::{
    Addressing, ServiceAddress, ServiceId, ServiceProxy, ServiceRequest, ServiceTable, SourceSeen,
    TrafficPolicy,
};
use crate::cidr::IpSet;
use crate::cluster::{Cluster, Endpoint, Flow, IpFamily, NodeId, Pod, PodId};
use crate::policy::{Direction, Peer, Policy, PortSpec, Protocol, Rule};
use crate::profile::ServiceMasquerade;

/// How many outside clients a rule matches on a path, or over several paths.
///
/// ```
/// use netpol::service::ClientMatch;
/// assert_eq!(ClientMatch::All.join(ClientMatch::None), ClientMatch::Some);
/// assert_eq!(ClientMatch::None.join(ClientMatch::None), ClientMatch::None);
/// assert_eq!(serde_json::to_string(&ClientMatch::All).unwrap(), "\"all\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientMatch {
    /// Every outside client (that gets past the service proxy).
    All,
    /// Some outside clients, not all.
    Some,
    /// No outside client.
    None,
}

impl ClientMatch {
    /// The summary of two answers: `All` and `None` when both say so, else `Some`.
    ///
    /// ```
    /// use netpol::service::ClientMatch;
    /// assert_eq!(ClientMatch::All.join(ClientMatch::All), ClientMatch::All);
    /// ```
    #[must_use]
    pub fn join(self, other: ClientMatch) -> ClientMatch {
        if self == other {
            self
        } else {
            ClientMatch::Some
        }
    }

    /// `all`, `some` or `none`.
    ///
    /// ```
    /// assert_eq!(netpol::service::ClientMatch::Some.as_str(), "some");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMatch::All => "all",
            ClientMatch::Some => "some",
            ClientMatch::None => "none",
        }
    }

    fn join_opt(a: Option<ClientMatch>, b: ClientMatch) -> Option<ClientMatch> {
        Some(a.map_or(b, |a| a.join(b)))
    }
}

impl fmt::Display for ClientMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where outside traffic enters a Service.
///
/// ```
/// use netpol::service::OutsideAddress;
/// let a = OutsideAddress::NodePort { node_port: 30080 };
/// assert_eq!(a.to_string(), "node port 30080");
/// assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!({"kind": "nodePort", "nodePort": 30080}));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[non_exhaustive]
pub enum OutsideAddress {
    /// The Service's node port, at any node's address.
    #[serde(rename_all = "camelCase")]
    NodePort {
        /// The node port.
        node_port: u16,
    },
    /// A load-balancer ingress IP in `VIP` mode.
    LoadBalancerIp {
        /// The address.
        ip: IpAddr,
    },
    /// One of the Service's `externalIPs`.
    ExternalIp {
        /// The address.
        ip: IpAddr,
    },
}

impl fmt::Display for OutsideAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutsideAddress::NodePort { node_port } => write!(f, "node port {node_port}"),
            OutsideAddress::LoadBalancerIp { ip } => write!(f, "load-balancer IP {ip}"),
            OutsideAddress::ExternalIp { ip } => write!(f, "external IP {ip}"),
        }
    }
}

fn family_str<S: Serializer>(family: &IpFamily, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(family)
}

/// One way into a Service from outside: an address, the Service port behind it, the
/// family of the connection, and which of the clients that get in the rule's `ipBlock`s
/// hold.
///
/// The clients are the addresses of the family that belong to nothing in the cluster
/// (no pod subnet of a node, no pod, node or tunnel address), and for a load-balancer IP
/// those inside its `loadBalancerSourceRanges` of the family (when it has any and none is
/// `/0`): the others are dropped before any policy.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// let e = &web.entrances[0];
/// assert_eq!((e.address, e.port), (OutsideAddress::NodePort { node_port: 30080 }, 80));
/// assert_eq!(e.clients, ClientMatch::Some); // 198.51.100.0/24, not every client
/// assert!(e.example.is_some_and(|c| answer.blocks.contains(c)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Entrance {
    /// The address dialled.
    pub address: OutsideAddress,
    /// The Service port behind it.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The connection's family: the address's, or for a node port either family a node
    /// has an address of (one entrance each).
    #[serde(serialize_with = "family_str")]
    pub family: IpFamily,
    /// Which of the clients that get in the `ipBlock`s hold: what an endpoint that sees
    /// the client's own address matches.
    pub clients: ClientMatch,
    /// A client the `ipBlock`s hold, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<IpAddr>,
}

/// A Service port through which outside traffic reaches an endpoint at a port the rule
/// admits.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// let p = web.endpoints[0].ports[0];
/// assert_eq!((p.port, p.target_port), (80, 8080));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EndpointPort {
    /// The Service port.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The port on the pod after translation.
    pub target_port: u16,
}

/// An endpoint pod of the Service that the rule's policy selects, with the Service ports
/// that reach it at a port the rule admits.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// let e = &web.endpoints[0];
/// assert_eq!((e.endpoint.as_str(), e.node.as_deref()), ("shop/web-1", Some("node-2")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuleEndpoint {
    /// `namespace/name`.
    pub endpoint: String,
    /// The pod.
    #[serde(skip)]
    pub pod: PodId,
    /// Its node's name, when known.
    pub node: Option<String>,
    /// Its node.
    #[serde(skip)]
    pub node_id: Option<NodeId>,
    /// The Service ports that reach it at a port the rule admits.
    pub ports: Vec<EndpointPort>,
}

/// What the endpoints on other nodes see when a node masquerades the traffic it received.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// let m = web.receivers[0].masquerade.as_ref().unwrap(); // received by node-1
/// assert!(!m.matched);
/// assert!(matches!(&m.source_seen, SourceSeen::Masqueraded { address: Some(a), .. } if a.to_string() == "192.168.0.11"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Masquerade {
    /// The source their ingress policy sees ([`SourceSeen::Masqueraded`]).
    pub source_seen: SourceSeen,
    /// Whether the rule's `ipBlock`s match it (an address inside them, or a node's address
    /// where the profile lets `ipBlock`s match nodes): then every client is admitted.
    pub matched: bool,
}

/// A node where outside traffic of one family may arrive (one with an address of that
/// family), and, for a Service with `externalTrafficPolicy: Cluster`, what the endpoints
/// on other nodes see of it.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// let names: Vec<&str> = web.receivers.iter().map(|r| r.received_by.as_str()).collect();
/// assert_eq!(names, ["node-1", "node-2"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Receiver {
    /// The node's name.
    pub received_by: String,
    /// The node.
    #[serde(skip)]
    pub node: NodeId,
    /// The family.
    #[serde(serialize_with = "family_str")]
    pub family: IpFamily,
    /// The masquerade towards endpoints on other nodes: `None` with
    /// `externalTrafficPolicy: Local` (they do not serve) or where the data plane keeps
    /// the client's address ([`ServiceMasquerade::Client`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masquerade: Option<Masquerade>,
}

/// The answer for one Service that brings outside traffic to the rule's pods.
///
/// The paths ([`paths`](Self::paths)) are every [`Entrance`] with every [`Receiver`] of
/// its family: the endpoints on the receiving node see the client (and the rule matches
/// the entrance's [`clients`](Entrance::clients)); with `externalTrafficPolicy: Cluster`
/// those on other nodes see the receiving node's masquerade (and the rule matches every
/// client or none); with `Local` they do not serve.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// assert_eq!(web.service, "shop/web");
/// assert_eq!(web.unmasqueraded, Some(ClientMatch::Some)); // received by node-2
/// assert_eq!(web.masqueraded, Some(ClientMatch::None)); // received by node-1
/// assert!(web.refused_when_masqueraded());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceFromOutside {
    /// `namespace/name` of the Service.
    pub service: String,
    /// The Service.
    #[serde(skip)]
    pub id: ServiceId,
    /// Its `externalTrafficPolicy`.
    pub external_traffic_policy: TrafficPolicy,
    /// Its ways in from outside that lead to an endpoint of the rule.
    pub entrances: Vec<Entrance>,
    /// The endpoints the rule's policy selects.
    pub endpoints: Vec<RuleEndpoint>,
    /// The nodes where the traffic may arrive.
    pub receivers: Vec<Receiver>,
    /// What the rule matches where endpoints see the client's own address; `None` when no
    /// endpoint does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmasqueraded: Option<ClientMatch>,
    /// What the rule matches where endpoints see a masquerade address; `None` when no
    /// endpoint does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masqueraded: Option<ClientMatch>,
    /// Over every path; `None` when there is none (no endpoint can be reached: with a
    /// `Local` policy, no endpoint is on a node with an address of the family).
    pub matches: Option<ClientMatch>,
}

/// One path of a [`ServiceFromOutside`]: traffic entering at an entrance, received by a
/// node, and the endpoints that see it the same way.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// for path in web.paths() {
///     let masqueraded = matches!(path.source_seen, SourceSeen::Masqueraded { .. });
///     assert_eq!(masqueraded, path.receiver.received_by == "node-1");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutsidePath<'a> {
    /// The entrance.
    pub entrance: &'a Entrance,
    /// The receiving node.
    pub receiver: &'a Receiver,
    /// What these endpoints' ingress policy sees.
    pub source_seen: &'a SourceSeen,
    /// The endpoints.
    pub endpoints: Vec<&'a RuleEndpoint>,
    /// Which clients the rule matches on this path.
    pub clients: ClientMatch,
}

/// A path without its endpoints.
struct Shape<'a> {
    entrance: &'a Entrance,
    /// The receiver's index in [`ServiceFromOutside::receivers`].
    receiver_index: usize,
    source_seen: &'a SourceSeen,
    clients: ClientMatch,
}

static CLIENT: SourceSeen = SourceSeen::Client;

impl ServiceFromOutside {
    /// Every path: each entrance, received by each node of its family, split by what the
    /// endpoints see.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{ClientMatch, Service, ServiceProxy, ServiceTable, SourceSeen};
    /// let cluster = Cluster::builder()
    ///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    ///     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    ///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    ///     .build()?;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// let paths = answer.services[0].paths();
    /// // Received by node-1: masqueraded to its IP. Received by node-2: the client is seen.
    /// let at = |node: &str| paths.iter().find(|p| p.receiver.received_by == node).unwrap();
    /// assert!(matches!(at("node-1").source_seen, SourceSeen::Masqueraded { .. }));
    /// assert_eq!(at("node-1").clients, ClientMatch::None);
    /// assert_eq!((at("node-2").source_seen, at("node-2").clients), (&SourceSeen::Client, ClientMatch::Some));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn paths(&self) -> Vec<OutsidePath<'_>> {
        let mut out = Vec::new();
        let local_policy = self.external_traffic_policy == TrafficPolicy::Local;
        for entrance in &self.entrances {
            let admitted: Vec<&RuleEndpoint> = self
                .endpoints
                .iter()
                .filter(|e| {
                    e.ports
                        .iter()
                        .any(|p| p.port == entrance.port && p.protocol == entrance.protocol)
                })
                .collect();
            for receiver in self
                .receivers
                .iter()
                .filter(|r| r.family == entrance.family)
            {
                let (local, remote): (Vec<&RuleEndpoint>, Vec<&RuleEndpoint>) = admitted
                    .iter()
                    .copied()
                    .partition(|e| e.node_id == Some(receiver.node));
                if !local.is_empty() {
                    out.push(OutsidePath {
                        entrance,
                        receiver,
                        source_seen: &CLIENT,
                        endpoints: local,
                        clients: entrance.clients,
                    });
                }
                if remote.is_empty() || local_policy {
                    continue;
                }
                out.push(match &receiver.masquerade {
                    Some(m) => OutsidePath {
                        entrance,
                        receiver,
                        source_seen: &m.source_seen,
                        endpoints: remote,
                        clients: if m.matched {
                            ClientMatch::All
                        } else {
                            ClientMatch::None
                        },
                    },
                    None => OutsidePath {
                        entrance,
                        receiver,
                        source_seen: &CLIENT,
                        endpoints: remote,
                        clients: entrance.clients,
                    },
                });
            }
        }
        out
    }

    /// The paths without their endpoint lists: the same entrances, receivers, sources
    /// and matches as [`paths`](Self::paths), counted per node instead of listed.
    fn shapes(&self) -> Vec<Shape<'_>> {
        let mut out = Vec::new();
        let local_policy = self.external_traffic_policy == TrafficPolicy::Local;
        let mut on_node: HashMap<NodeId, usize> = HashMap::new();
        for entrance in &self.entrances {
            on_node.clear();
            let mut total = 0usize;
            for e in &self.endpoints {
                if e.ports
                    .iter()
                    .any(|p| p.port == entrance.port && p.protocol == entrance.protocol)
                {
                    total += 1;
                    if let Some(n) = e.node_id {
                        *on_node.entry(n).or_default() += 1;
                    }
                }
            }
            for (receiver_index, receiver) in self
                .receivers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.family == entrance.family)
            {
                let local = on_node.get(&receiver.node).copied().unwrap_or(0);
                if local > 0 {
                    out.push(Shape {
                        entrance,
                        receiver_index,
                        source_seen: &CLIENT,
                        clients: entrance.clients,
                    });
                }
                if total == local || local_policy {
                    continue;
                }
                out.push(match &receiver.masquerade {
                    Some(m) => Shape {
                        entrance,
                        receiver_index,
                        source_seen: &m.source_seen,
                        clients: if m.matched {
                            ClientMatch::All
                        } else {
                            ClientMatch::None
                        },
                    },
                    None => Shape {
                        entrance,
                        receiver_index,
                        source_seen: &CLIENT,
                        clients: entrance.clients,
                    },
                });
            }
        }
        out
    }

    /// The request that replays a path for one client: the client at `client`, through
    /// the entrance, received by the node ([`ServiceTable::answer`] then judges every
    /// endpoint that serves it).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceAddress, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.10".parse()?).node("node-1"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    /// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// let service = &answer.services[0];
    /// let path = &service.paths()[0];
    /// let req = service.request(path, path.entrance.example.unwrap());
    /// assert_eq!(req.address, ServiceAddress::NodePort(cluster.node_id("node-1").unwrap()));
    /// assert_eq!(req.port, 30080);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn request(&self, path: &OutsidePath<'_>, client: IpAddr) -> ServiceRequest {
        let e = path.entrance;
        let src = Endpoint::External(client);
        match e.address {
            OutsideAddress::NodePort { node_port } => ServiceRequest::new(
                src,
                self.id,
                ServiceAddress::NodePort(path.receiver.node),
                node_port,
                e.protocol,
            ),
            OutsideAddress::LoadBalancerIp { ip } => ServiceRequest::new(
                src,
                self.id,
                ServiceAddress::LoadBalancerIp(ip),
                e.port,
                e.protocol,
            )
            .received_by(path.receiver.node),
            OutsideAddress::ExternalIp { ip } => ServiceRequest::new(
                src,
                self.id,
                ServiceAddress::ExternalIp(ip),
                e.port,
                e.protocol,
            )
            .received_by(path.receiver.node),
        }
    }

    /// Whether outside clients the `ipBlock`s hold are refused somewhere because they
    /// arrive masqueraded: some path where endpoints see a masquerade address the rule
    /// does not match, through an entrance whose clients the rule would match by their
    /// own address.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// assert!(answer.services[0].refused_when_masqueraded());
    /// assert!(!answer.services[0].admitted_by_masquerade());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refused_when_masqueraded(&self) -> bool {
        self.shapes().iter().any(|p| {
            is_masqueraded(p.source_seen)
                && p.clients == ClientMatch::None
                && p.entrance.clients != ClientMatch::None
        })
    }

    /// Whether the `ipBlock`s let every outside client in somewhere only because they
    /// hold a masquerade address: some path where endpoints see a masquerade address the
    /// rule matches, through an entrance not all of whose clients the rule would match by
    /// their own address.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// // "Allow from the node network": node-1's masquerade address is in it.
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// assert!(answer.services[0].admitted_by_masquerade());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admitted_by_masquerade(&self) -> bool {
        self.shapes().iter().any(|p| {
            is_masqueraded(p.source_seen)
                && p.clients == ClientMatch::All
                && p.entrance.clients != ClientMatch::All
        })
    }

    /// The entrances, in words: `node port 30080/TCP, load-balancer IP 203.0.113.10
    /// port 80/TCP`.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.10".parse()?).node("node-1"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    /// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// assert_eq!(answer.services[0].describe_entrances(), "node port 30080/TCP");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn describe_entrances(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        for e in &self.entrances {
            let text = match e.address {
                OutsideAddress::NodePort { node_port } => {
                    format!("node port {node_port}/{}", e.protocol)
                }
                other => format!("{other} port {}/{}", e.port, e.protocol),
            };
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
        seen.join(", ")
    }

    /// The masquerade sources seen on `shapes` that `want`: `(node, what was seen)`, each
    /// receiver once, in receiver order.
    fn masquerades<'s>(
        &'s self,
        shapes: &[Shape<'s>],
        want: impl Fn(&Shape<'_>) -> bool,
    ) -> Vec<(&'s str, String)> {
        let mut picked = vec![false; self.receivers.len()];
        for p in shapes {
            if is_masqueraded(p.source_seen) && want(p) {
                if let Some(flag) = picked.get_mut(p.receiver_index) {
                    *flag = true;
                }
            }
        }
        self.receivers
            .iter()
            .zip(picked)
            .filter(|(_, picked)| *picked)
            .filter_map(|(r, _)| {
                let text = match &r.masquerade.as_ref()?.source_seen {
                    SourceSeen::Masqueraded {
                        address: Some(a), ..
                    } => a.to_string(),
                    SourceSeen::Masqueraded { seen, .. } => seen.clone(),
                    _ => return None,
                };
                Some((r.received_by.as_str(), text))
            })
            .collect()
    }
}

fn is_masqueraded(s: &SourceSeen) -> bool {
    matches!(s, SourceSeen::Masqueraded { .. })
}

/// `a (n1), b (n2), c (n3) and 4 more`.
fn list_sources(items: &[(&str, String)]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|(node, text)| format!("{text} ({node})"))
        .collect();
    if items.len() > SHOWN {
        parts.push(format!("{} more", items.len() - SHOWN));
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The answer for one ingress rule: every Service that brings outside traffic to the
/// rule's pods, and what the rule's `ipBlock`s match of it.
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::{ClientMatch, Service, ServiceProxy, ServiceTable};
/// let cluster = Cluster::builder()
///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.10".parse()?).node("node-1"))
///     .build()?;
/// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
///            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// assert_eq!(answer.matches, Some(ClientMatch::All));
/// assert_eq!(serde_json::to_value(&answer)?["field"], "spec.ingress[0]");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuleFromOutside {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// The rule's index among the policy's ingress rules.
    pub rule: usize,
    /// `spec.ingress[i]`.
    pub field: String,
    /// The addresses the rule's `ipBlock`s hold together (each `cidr` minus its `except`).
    pub blocks: IpSet,
    /// Every Service that brings outside traffic to the rule's pods at a port the rule
    /// admits, in table order.
    pub services: Vec<ServiceFromOutside>,
    /// Over every Service; `None` when no outside traffic reaches the rule's pods.
    pub matches: Option<ClientMatch>,
}

impl fmt::Display for RuleFromOutside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let blocks = self.blocks_text();
        write!(f, "{} {}: ipBlocks {blocks}", self.policy, self.field)?;
        if self.services.is_empty() {
            return f.write_str(": no Service brings outside traffic to the rule's pods");
        }
        for s in &self.services {
            write!(
                f,
                "\n  service {} ({}, externalTrafficPolicy {}): {}",
                s.service,
                s.describe_entrances(),
                s.external_traffic_policy,
                describe_service(s)
            )?;
        }
        Ok(())
    }
}

impl RuleFromOutside {
    /// The `ipBlock`s as written in words (`203.0.113.0/24, 198.51.100.0/24`).
    fn blocks_text(&self) -> String {
        let nets: Vec<String> = self.blocks.iter().map(|n| n.to_string()).collect();
        if nets.is_empty() {
            "(empty)".to_owned()
        } else {
            nets.join(", ")
        }
    }

    /// Why the `ipBlock`s miss outside clients of a Service that arrive masqueraded, in
    /// words, when they do ([`ServiceFromOutside::refused_when_masqueraded`]).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// assert_eq!(answer.refused_text(&answer.services[0]).unwrap(),
    ///     "through service shop/web (node port 30080/TCP, externalTrafficPolicy Cluster) the ipBlocks \
    /// 198.51.100.0/24 admit outside clients only at endpoints on the node that receives them: \
    /// received by another node, they arrive masqueraded as 192.168.0.11 (node-1), which the ipBlocks do not match");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refused_text(&self, s: &ServiceFromOutside) -> Option<String> {
        if !s.refused_when_masqueraded() {
            return None;
        }
        let shapes = s.shapes();
        let missed = s.masquerades(&shapes, |p| {
            p.clients == ClientMatch::None && p.entrance.clients != ClientMatch::None
        });
        let head = format!(
            "through service {} ({}, externalTrafficPolicy {}) the ipBlocks {}",
            s.service,
            s.describe_entrances(),
            s.external_traffic_policy,
            self.blocks_text()
        );
        let sources = list_sources(&missed);
        let which = if missed.len() == 1 {
            "which the ipBlocks do not match"
        } else {
            "none of which the ipBlocks match"
        };
        let meant = shapes
            .iter()
            .any(|p| *p.source_seen == SourceSeen::Client && p.clients != ClientMatch::None);
        Some(if meant {
            format!(
                "{head} admit outside clients only at endpoints on the node that receives them: received by another node, they arrive masqueraded as {sources}, {which}"
            )
        } else {
            format!(
                "{head} never match its outside clients: no endpoint of the rule runs on a node that receives them, and they arrive masqueraded as {sources}, {which}"
            )
        })
    }

    /// How the `ipBlock`s let every outside client of a Service in through a masquerade
    /// address, in words, when they do ([`ServiceFromOutside::admitted_by_masquerade`]).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{Service, ServiceProxy, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    /// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    /// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/24"}}]}]}}"#)?)?;
    /// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
    /// assert_eq!(answer.admitted_text(&answer.services[0]).unwrap(),
    ///     "through service shop/web (node port 30080/TCP, externalTrafficPolicy Cluster) every outside \
    /// client received by another node than the endpoint's is admitted, whatever its address: it arrives \
    /// masqueraded as 192.168.0.11 (node-1), which the ipBlocks 192.168.0.0/24 hold (they hold only \
    /// some outside clients' own addresses)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admitted_text(&self, s: &ServiceFromOutside) -> Option<String> {
        if !s.admitted_by_masquerade() {
            return None;
        }
        let shapes = s.shapes();
        let let_in = s.masquerades(&shapes, |p| {
            p.clients == ClientMatch::All && p.entrance.clients != ClientMatch::All
        });
        let own = s
            .entrances
            .iter()
            .fold(None, |acc, e| ClientMatch::join_opt(acc, e.clients));
        let own = match own {
            Some(ClientMatch::None) | None => "they hold no outside client's own address",
            _ => "they hold only some outside clients' own addresses",
        };
        let which = if let_in.len() == 1 {
            "which"
        } else {
            "each of which"
        };
        Some(format!(
            "through service {} ({}, externalTrafficPolicy {}) every outside client received by another node than the endpoint's is admitted, whatever its address: it arrives masqueraded as {}, {which} the ipBlocks {} hold ({own})",
            s.service,
            s.describe_entrances(),
            s.external_traffic_policy,
            list_sources(&let_in),
            self.blocks_text()
        ))
    }
}

/// The summary line of a Service for [`RuleFromOutside`]'s display.
fn describe_service(s: &ServiceFromOutside) -> String {
    let held = |c: ClientMatch| match c {
        ClientMatch::All => "the ipBlocks hold every client",
        ClientMatch::Some => "the ipBlocks hold some clients",
        ClientMatch::None => "the ipBlocks hold no client",
    };
    let mut parts = Vec::new();
    match (s.unmasqueraded, s.masqueraded) {
        (None, None) => parts.push("no endpoint of the rule is reached".to_owned()),
        (Some(c), None) => parts.push(format!(
            "endpoints see the client's own address: {}",
            held(c)
        )),
        (c, Some(_)) => {
            if let Some(c) = c {
                parts.push(format!(
                    "endpoints on the receiving node see the client's own address: {}",
                    held(c)
                ));
            }
            let shapes = s.shapes();
            let matched = s.masquerades(&shapes, |p| p.clients == ClientMatch::All);
            let missed = s.masquerades(&shapes, |p| p.clients == ClientMatch::None);
            let mut masq = Vec::new();
            if !matched.is_empty() {
                masq.push(format!(
                    "{} (held: every client matches)",
                    list_sources(&matched)
                ));
            }
            if !missed.is_empty() {
                masq.push(format!(
                    "{} (not held: no client matches)",
                    list_sources(&missed)
                ));
            }
            let whose = if c.is_some() {
                "endpoints on other nodes"
            } else {
                "endpoints"
            };
            parts.push(format!(
                "{whose} see the receiving node's masquerade address {}",
                masq.join("; ")
            ));
        }
    }
    parts.push(
        match s.matches {
            Some(ClientMatch::All) => "the rule matches every outside client",
            Some(ClientMatch::Some) => "the rule matches some outside clients on some paths",
            Some(ClientMatch::None) | None => "the rule never matches outside clients",
        }
        .to_owned(),
    );
    parts.join("; ")
}

/// A rule that [`Outside::ingress_rule`] cannot answer for.
///
/// ```
/// use netpol::service::RuleFromOutsideError;
/// let e = RuleFromOutsideError::NoSuchRule { policy: "shop/web".into(), rule: 3 };
/// assert_eq!(e.to_string(), "networkpolicy \"shop/web\" has no ingress rule 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleFromOutsideError {
    /// The policy has no ingress rule of that index.
    #[error("networkpolicy \"{policy}\" has no ingress rule {rule}")]
    NoSuchRule {
        /// `namespace/name`.
        policy: String,
        /// The index asked for.
        rule: usize,
    },
    /// The rule has no `ipBlock` peer (it matches outside clients by no address).
    #[error("{field} of networkpolicy \"{policy}\" has no ipBlock peer")]
    NoIpBlock {
        /// `namespace/name`.
        policy: String,
        /// `spec.ingress[i]`.
        field: String,
    },
}

/// Sorted, disjoint, non-adjacent inclusive ranges of one family's addresses.
#[derive(Debug, Clone, Default)]
struct Ranges(Vec<(u128, u128)>);

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_bits()),
        IpAddr::V6(a) => a.to_bits(),
    }
}

fn address(k: u128, family: IpFamily) -> IpAddr {
    match family {
        IpFamily::Ipv4 => IpAddr::V4(Ipv4Addr::from_bits(u32::try_from(k).unwrap_or(u32::MAX))),
        IpFamily::Ipv6 => IpAddr::V6(Ipv6Addr::from_bits(k)),
    }
}

fn bounds(net: IpNet) -> (u128, u128) {
    (key(net.network()), key(net.broadcast()))
}

impl Ranges {
    fn new(mut items: Vec<(u128, u128)>) -> Self {
        items.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(items.len());
        for (lo, hi) in items {
            if let Some(last) = out.last_mut() {
                if last.1.checked_add(1).is_none_or(|next| lo <= next) {
                    last.1 = last.1.max(hi);
                    continue;
                }
            }
            out.push((lo, hi));
        }
        Ranges(out)
    }

    /// The smallest address of `lo..=hi` in no range.
    fn first_outside(&self, (lo, hi): (u128, u128)) -> Option<u128> {
        let i = self.0.partition_point(|&(_, h)| h < lo);
        match self.0.get(i) {
            Some(&(l, h)) if l <= lo => h.checked_add(1).filter(|next| *next <= hi),
            _ => Some(lo),
        }
    }
}

/// Every address of a family.
fn universe(family: IpFamily) -> IpSet {
    let net = match family {
        IpFamily::Ipv4 => IpNet::V4(Ipv4Net::default()),
        IpFamily::Ipv6 => IpNet::V6(Ipv6Net::default()),
    };
    IpSet::from(net)
}

/// Outside traffic to the Services of a table, ready to answer for ingress rules: see
/// [`ServiceTable::outside`].
///
/// ```
/// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
/// # use netpol::policy::Policy;
/// # use netpol::service::*;
/// # let cluster = Cluster::builder()
/// #     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
/// #     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
/// #            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
/// #   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?)?;
/// let answer = table.outside(&cluster, &ServiceProxy::default()).ingress_rule(&policy, 0)?;
/// let web = &answer.services[0];
/// assert_eq!(answer.policy, "shop/p");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Outside<'a> {
    table: &'a ServiceTable,
    cluster: &'a Cluster,
    proxy: ServiceProxy,
    /// Per family (IPv4, IPv6): the addresses of the cluster (pod subnets, pod, node and
    /// tunnel addresses), which no outside client has.
    cluster_addresses: [Ranges; 2],
    /// Every (node, family) where the node has an address of the family, in node order,
    /// IPv4 first.
    receivers: Vec<(NodeId, IpFamily)>,
    /// The Services that take traffic from outside, by namespace (their endpoints are
    /// pods of their namespace), in table order.
    by_namespace: HashMap<&'a str, Vec<ServiceId>>,
}

fn family_index(f: IpFamily) -> usize {
    match f {
        IpFamily::Ipv4 => 0,
        IpFamily::Ipv6 => 1,
    }
}

impl ServiceTable {
    /// Traffic from outside the cluster to these Services, as the endpoints' policies see
    /// it through `proxy`'s translation, ready to tell what an ingress rule's `ipBlock`s
    /// match of it ([`Outside::ingress_rule`]). `cluster` is the cluster the table was
    /// built for.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::profile::Profile;
    /// # use netpol::service::{ClientMatch, Service, ServiceProxy, ServiceTable, SourceSeen};
    /// // flannel's VXLAN backend (canal's too) masquerades to the flannel.1 address: the
    /// // network address of the node's pod subnet.
    /// let cluster = Cluster::builder()
    ///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?).pod_cidr("10.244.0.0/24".parse()?))
    ///     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?).pod_cidr("10.244.1.0/24".parse()?))
    ///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.10".parse()?).node("node-2"))
    ///     .build()?;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]},
    ///   "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}"#)?;
    /// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// // "Allow from the cluster": the pod network, the nodes' pod subnets.
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/23"}}]}]}}"#)?)?;
    /// let outside = table.outside(&cluster, &ServiceProxy::new(&Profile::canal()));
    /// let answer = outside.ingress_rule(&policy, 0)?;
    /// let web = &answer.services[0];
    /// // No outside client's own address is in the pod network, but received by node-1
    /// // every one arrives as 10.244.0.0, which is.
    /// assert_eq!(web.unmasqueraded, Some(ClientMatch::None));
    /// assert_eq!(web.masqueraded, Some(ClientMatch::All));
    /// let m = web.receivers[0].masquerade.as_ref().unwrap();
    /// assert!(matches!(&m.source_seen, SourceSeen::Masqueraded { address: Some(a), .. } if a.to_string() == "10.244.0.0"));
    /// assert!(web.admitted_by_masquerade());
    /// println!("{answer}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn outside<'a>(&'a self, cluster: &'a Cluster, proxy: &ServiceProxy) -> Outside<'a> {
        let mut lists: [Vec<(u128, u128)>; 2] = [Vec::new(), Vec::new()];
        let mut add_net = |net: IpNet| {
            if let Some(list) = lists.get_mut(family_index(IpFamily::of(net.addr()))) {
                list.push(bounds(net));
            }
        };
        for (_, pod) in cluster.pods() {
            for ip in &pod.ips {
                add_net(IpNet::from(*ip));
            }
        }
        let mut receivers = Vec::new();
        for (id, node) in cluster.nodes() {
            for ip in node.ips.iter().chain(&node.tunnel_ips) {
                add_net(IpNet::from(*ip));
            }
            for net in &node.pod_cidrs {
                add_net(*net);
            }
            for family in [IpFamily::Ipv4, IpFamily::Ipv6] {
                if node.ip(family).is_some() {
                    receivers.push((id, family));
                }
            }
        }
        receivers.sort_by_key(|(_, f)| family_index(*f));
        let [v4, v6] = lists;
        let mut by_namespace: HashMap<&str, Vec<ServiceId>> = HashMap::new();
        for (id, svc) in self.services() {
            if svc.externally_accessible() && matches!(svc.addressing, Addressing::ClusterIps(_)) {
                by_namespace
                    .entry(svc.namespace.as_str())
                    .or_default()
                    .push(id);
            }
        }
        Outside {
            table: self,
            cluster,
            proxy: *proxy,
            cluster_addresses: [Ranges::new(v4), Ranges::new(v6)],
            receivers,
            by_namespace,
        }
    }
}

/// Whether the rule admits `protocol`/`port` at `pod` (a named port is looked up among
/// the pod's container ports, as the engine does).
fn admits(rule: &Rule, pod: &Pod, protocol: Protocol, port: u16) -> bool {
    let Some(ports) = &rule.ports else {
        return true;
    };
    ports.iter().any(|p| {
        p.protocol == protocol
            && match &p.port {
                PortSpec::Named(name) => pod.ports.iter().any(|cp| {
                    cp.name.as_deref() == Some(name.as_str())
                        && cp.protocol == protocol
                        && cp.port == port
                }),
                other => other.contains_number(port),
            }
    })
}

impl Outside<'_> {
    /// What the `ipBlock`s of ingress rule `rule` of `policy` match of the traffic that
    /// outside clients send to its pods through the Services.
    ///
    /// For every Service reachable from outside ([`externally_accessible`]) with a
    /// selector, whose endpoints include pods the policy selects at a target port the
    /// rule admits (numbers, ranges and named ports as the engine resolves them): its
    /// entrances (each node port, in each family a node has an address of; each
    /// load-balancer IP in `VIP` mode; each external IP), the nodes that may receive
    /// the traffic (those with an address of its family), and on each path the source
    /// the endpoints' ingress policy sees, as [`ServiceTable::answer`] translates the
    /// same request: the client itself at endpoints on the receiving node, the receiving
    /// node's masquerade address ([`Profile::service_masquerade`]) at the others with
    /// `externalTrafficPolicy: Cluster` (matched as an address inside the blocks, or as
    /// the node where the profile lets `ipBlock`s match nodes), nothing with `Local`.
    ///
    /// Only the `ipBlock` peers can match: no pod selector matches an outside client or
    /// a masquerading node. The answer is about the rule's criteria, as the engine
    /// matches them (its [`SideExplanation::allowed_by`] on those flows), should the
    /// plugin enforce the policy; whether the flow is allowed also depends on the
    /// client's way in (`loadBalancerSourceRanges` are applied here) and on nothing else
    /// of the policy set, since a NetworkPolicy rule only ever allows.
    ///
    /// ClusterNetworkPolicy ingress peers select pods and namespaces only (upstream's
    /// `ClusterNetworkPolicyIngressPeer` has no `networks`), so they never match outside
    /// clients; Calico rules are not covered (their source `nets` combine with
    /// selectors, network sets, `notNets`, actions and order).
    ///
    /// [`externally_accessible`]: super::ResolvedService::externally_accessible
    /// [`Profile::service_masquerade`]: crate::profile::Profile::service_masquerade
    /// [`SideExplanation::allowed_by`]: crate::explain::SideExplanation::allowed_by
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, NodeSpec, PodSpec};
    /// # use netpol::policy::Policy;
    /// # use netpol::service::{ClientMatch, RuleFromOutsideError, Service, ServiceProxy, ServiceTable};
    /// let cluster = Cluster::builder()
    ///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    ///     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    ///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    ///     .build()?;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///            "externalTrafficPolicy": "Local",
    ///            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let policy = Policy::new(&netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]},
    ///                                          {"from": [{"podSelector": {}}]}]}}"#)?)?;
    /// let outside = table.outside(&cluster, &ServiceProxy::default());
    /// // Local: the client's address is kept, and only node-2 serves.
    /// let answer = outside.ingress_rule(&policy, 0)?;
    /// assert_eq!(answer.matches, Some(ClientMatch::Some));
    /// assert!(!answer.services[0].refused_when_masqueraded());
    /// assert_eq!(answer.services[0].entrances[0].example, Some("198.51.100.0".parse()?));
    /// assert!(matches!(outside.ingress_rule(&policy, 1), Err(RuleFromOutsideError::NoIpBlock { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ingress_rule(
        &self,
        policy: &Policy,
        rule: usize,
    ) -> Result<RuleFromOutside, RuleFromOutsideError> {
        let key = policy.key();
        let field = format!("spec.ingress[{rule}]");
        let r = policy.rules(Direction::Ingress).get(rule).ok_or_else(|| {
            RuleFromOutsideError::NoSuchRule {
                policy: key.clone(),
                rule,
            }
        })?;
        let mut blocks = IpSet::new();
        let mut any_block = false;
        for peer in r.peers.iter().flatten() {
            if let Peer::IpBlock(b) = peer {
                any_block = true;
                blocks = blocks.union(&IpSet::from_block(b.cidr(), b.except()));
            }
        }
        if !any_block {
            return Err(RuleFromOutsideError::NoIpBlock { policy: key, field });
        }
        let cluster = self.cluster;
        let selected = |pod: PodId| {
            cluster.pod(pod).is_some_and(|p| {
                cluster.pod_namespace_name(pod) == policy.namespace()
                    && policy.pod_selector().matches(&p.labels)
            })
        };
        let node_name = |n: NodeId| {
            cluster
                .node(n)
                .map_or_else(|| format!("node {}", n.index()), |n| n.name.clone())
        };
        let mut services = Vec::new();
        let ids = self
            .by_namespace
            .get(policy.namespace())
            .map_or(&[][..], Vec::as_slice);
        for &id in ids {
            let Some(entry) = self.table.entries.get(id.index()) else {
                continue;
            };
            let svc = &entry.service;
            // The rule's endpoints, with the ports that reach them where it admits.
            let mut endpoints: Vec<RuleEndpoint> = Vec::new();
            let mut index: HashMap<PodId, usize> = HashMap::new();
            for (i, port) in svc.ports.iter().enumerate() {
                let Some(Ok(list)) = entry.ports.get(i) else {
                    continue;
                };
                for e in list {
                    let Some(pod) = cluster.pod(e.pod) else {
                        continue;
                    };
                    if !selected(e.pod) || !admits(r, pod, port.protocol, e.target_port) {
                        continue;
                    }
                    let at = *index.entry(e.pod).or_insert_with(|| {
                        endpoints.push(RuleEndpoint {
                            endpoint: cluster.describe(Endpoint::Pod(e.pod)),
                            pod: e.pod,
                            node: pod.node.map(node_name),
                            node_id: pod.node,
                            ports: Vec::new(),
                        });
                        endpoints.len() - 1
                    });
                    if let Some(re) = endpoints.get_mut(at) {
                        re.ports.push(EndpointPort {
                            port: port.port,
                            protocol: port.protocol,
                            target_port: e.target_port,
                        });
                    }
                }
            }
            if endpoints.is_empty() {
                continue;
            }
            // The entrances.
            let families: Vec<IpFamily> = [IpFamily::Ipv4, IpFamily::Ipv6]
                .into_iter()
                .filter(|f| self.receivers.iter().any(|(_, g)| g == f))
                .collect();
            let mut entrances = Vec::new();
            for port in &svc.ports {
                let reached = endpoints.iter().any(|e| {
                    e.ports
                        .iter()
                        .any(|p| p.port == port.port && p.protocol == port.protocol)
                });
                if !reached {
                    continue;
                }
                let mut ways: Vec<(OutsideAddress, IpFamily)> = Vec::new();
                if let Some(node_port) = port.node_port {
                    for f in &families {
                        ways.push((OutsideAddress::NodePort { node_port }, *f));
                    }
                }
                for ip in svc.load_balancer_vips() {
                    ways.push((OutsideAddress::LoadBalancerIp { ip }, IpFamily::of(ip)));
                }
                for ip in &svc.external_ips {
                    ways.push((OutsideAddress::ExternalIp { ip: *ip }, IpFamily::of(*ip)));
                }
                for (address, family) in ways {
                    let ranges = match address {
                        OutsideAddress::LoadBalancerIp { .. } => {
                            let of_family: Vec<IpNet> = svc
                                .source_ranges
                                .iter()
                                .filter(|r| IpFamily::of(r.addr()) == family)
                                .copied()
                                .collect();
                            if of_family.is_empty() || of_family.iter().any(|r| r.prefix_len() == 0)
                            {
                                universe(family)
                            } else {
                                of_family.into_iter().collect()
                            }
                        }
                        _ => universe(family),
                    };
                    let Some((clients, example)) = self.clients(&blocks, &ranges, family) else {
                        continue;
                    };
                    entrances.push(Entrance {
                        address,
                        port: port.port,
                        protocol: port.protocol,
                        family,
                        clients,
                        example,
                    });
                }
            }
            if entrances.is_empty() {
                continue;
            }
            // The receiving nodes and what they masquerade to.
            let masquerades = !svc.external_policy_local()
                && self.proxy.masquerade() != ServiceMasquerade::Client;
            let receivers: Vec<Receiver> = self
                .receivers
                .iter()
                .filter(|(_, f)| entrances.iter().any(|e| e.family == *f))
                .map(|&(node, family)| Receiver {
                    received_by: node_name(node),
                    node,
                    family,
                    masquerade: masquerades.then(|| self.masquerade(&blocks, node, family)),
                })
                .collect();
            let mut s = ServiceFromOutside {
                service: svc.key(),
                id,
                external_traffic_policy: svc.external_traffic_policy,
                entrances,
                endpoints,
                receivers,
                unmasqueraded: None,
                masqueraded: None,
                matches: None,
            };
            let (mut unmasqueraded, mut masqueraded, mut matches) = (None, None, None);
            for p in s.shapes() {
                if is_masqueraded(p.source_seen) {
                    masqueraded = ClientMatch::join_opt(masqueraded, p.clients);
                } else {
                    unmasqueraded = ClientMatch::join_opt(unmasqueraded, p.clients);
                }
                matches = ClientMatch::join_opt(matches, p.clients);
            }
            s.unmasqueraded = unmasqueraded;
            s.masqueraded = masqueraded;
            s.matches = matches;
            services.push(s);
        }
        let matches = services
            .iter()
            .filter_map(|s| s.matches)
            .fold(None, ClientMatch::join_opt);
        Ok(RuleFromOutside {
            policy: key,
            rule,
            field,
            blocks,
            services,
            matches,
        })
    }

    /// Which outside clients inside `ranges` (of `family`) the blocks hold, and one that
    /// they hold; `None` when no outside client is inside the ranges.
    fn clients(
        &self,
        blocks: &IpSet,
        ranges: &IpSet,
        family: IpFamily,
    ) -> Option<(ClientMatch, Option<IpAddr>)> {
        let taken = self.cluster_addresses.get(family_index(family))?;
        let outside_in = |set: &IpSet| {
            set.iter()
                .find_map(|net| taken.first_outside(bounds(net)))
                .map(|k| address(k, family))
        };
        outside_in(ranges)?;
        let example = outside_in(&blocks.intersection(ranges));
        let all = outside_in(&ranges.difference(blocks)).is_none();
        let clients = match (example, all) {
            (None, _) => ClientMatch::None,
            (Some(_), true) => ClientMatch::All,
            (Some(_), false) => ClientMatch::Some,
        };
        Some((clients, example))
    }

    /// What endpoints on other nodes see when `node` masquerades traffic of `family`,
    /// and whether the blocks match it as the engine does.
    fn masquerade(&self, blocks: &IpSet, node: NodeId, family: IpFamily) -> Masquerade {
        let cluster = self.cluster;
        let (seen, address) = masquerade_source(cluster, &self.proxy, node, Some(family));
        let eligible = match seen {
            Endpoint::Node(_) => self.proxy.ipblock_matches_nodes(),
            _ => true,
        };
        let probe = Flow::new(seen, seen, 1, Protocol::Tcp).in_family(family);
        let matched = eligible
            && cluster
                .address(probe, seen)
                .is_some_and(|a| blocks.contains(a));
        Masquerade {
            source_seen: SourceSeen::Masqueraded {
                node: cluster
                    .node(node)
                    .map_or_else(|| format!("node {}", node.index()), |n| n.name.clone()),
                address,
                seen: cluster.describe(seen),
            },
            matched,
        }
    }
}
