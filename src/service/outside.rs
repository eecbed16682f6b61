//! Traffic to a Service through any of its addresses, from any client: the translation
//! kube-proxy (or the plugin's own service proxy) applies, decided per endpoint.
//!
//! See the [module documentation](super) for the rules and their sources.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use super::{
    Addressing, EndpointVerdict, Endpoints, NoEndpoints, Reachability, ResolvedService,
    ServiceEndpoint, ServiceId, ServiceTable, ServiceVerdict, TrafficPolicy,
};
use crate::cluster::{Cluster, Endpoint, Flow, IpFamily, NodeId, PodId};
use crate::explain::{Evaluator, Explanation, Special, Verdict};
use crate::policy::{Direction, Protocol};
use crate::profile::{Profile, ServiceMasquerade};

/// How the cluster's service proxy and network plugin translate Service traffic: the
/// plugin's knobs ([`Profile::service_masquerade`], [`Profile::socket_load_balancer`],
/// [`Profile::ipblock_matches_nodes`]) and kube-proxy's `--masquerade-all` flag.
///
/// Build it from the profile the evaluator was built with.
///
/// ```
/// use netpol::profile::{Profile, ServiceMasquerade};
/// use netpol::service::ServiceProxy;
/// let proxy = ServiceProxy::new(&Profile::calico()).with_masquerade_all(true);
/// assert_eq!(proxy.masquerade(), ServiceMasquerade::TunnelIp);
/// assert!(proxy.masquerade_all() && !proxy.socket_load_balancer());
/// assert_eq!(ServiceProxy::default(), ServiceProxy::new(&Profile::conformance()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceProxy {
    masquerade: ServiceMasquerade,
    socket_load_balancer: bool,
    ipblock_matches_nodes: bool,
    masquerade_all: bool,
}

impl Default for ServiceProxy {
    fn default() -> Self {
        ServiceProxy::new(&Profile::conformance())
    }
}

impl ServiceProxy {
    /// The translation of a profile's plugin, with kube-proxy's defaults.
    ///
    /// ```
    /// let proxy = netpol::service::ServiceProxy::new(&netpol::profile::Profile::cilium());
    /// assert!(proxy.socket_load_balancer());
    /// ```
    #[must_use]
    pub fn new(profile: &Profile) -> Self {
        ServiceProxy {
            masquerade: profile.service_masquerade(),
            socket_load_balancer: profile.socket_load_balancer(),
            ipblock_matches_nodes: profile.ipblock_matches_nodes(),
            masquerade_all: false,
        }
    }

    /// The same, with kube-proxy's `--masquerade-all` ("SNAT all traffic sent via Service
    /// cluster IPs"): a pod's traffic to a cluster IP is masqueraded by its node, as
    /// outside traffic is (iptables proxier: `-j KUBE-MARK-MASQ` for every source of the
    /// cluster IP instead of `localDetector.IfNotLocal()`).
    ///
    /// ```
    /// assert!(netpol::service::ServiceProxy::default().with_masquerade_all(true).masquerade_all());
    /// ```
    #[must_use]
    pub fn with_masquerade_all(mut self, yes: bool) -> Self {
        self.masquerade_all = yes;
        self
    }

    /// Whether kube-proxy runs with `--masquerade-all`.
    ///
    /// ```
    /// assert!(!netpol::service::ServiceProxy::default().masquerade_all());
    /// ```
    #[must_use]
    pub fn masquerade_all(&self) -> bool {
        self.masquerade_all
    }

    /// What a masquerading node's traffic looks like to a remote endpoint.
    ///
    /// ```
    /// use netpol::profile::ServiceMasquerade;
    /// assert_eq!(netpol::service::ServiceProxy::default().masquerade(), ServiceMasquerade::NodeIp);
    /// ```
    #[must_use]
    pub fn masquerade(&self) -> ServiceMasquerade {
        self.masquerade
    }

    /// Whether the profile's `ipBlock`s match node addresses, a masquerading node's among
    /// them ([`Profile::ipblock_matches_nodes`]).
    ///
    /// ```
    /// use netpol::profile::Profile;
    /// assert!(!netpol::service::ServiceProxy::new(&Profile::cilium()).ipblock_matches_nodes());
    /// ```
    pub fn ipblock_matches_nodes(&self) -> bool {
        self.ipblock_matches_nodes
    }

    /// Whether in-cluster clients go through a socket load balancer.
    ///
    /// ```
    /// assert!(!netpol::service::ServiceProxy::default().socket_load_balancer());
    /// ```
    #[must_use]
    pub fn socket_load_balancer(&self) -> bool {
        self.socket_load_balancer
    }
}

/// How a client addresses a Service.
///
/// ```
/// use netpol::service::ServiceAddress;
/// let lb = ServiceAddress::LoadBalancerIp("203.0.113.10".parse().unwrap());
/// assert!(lb.is_external() && !ServiceAddress::Name.is_external());
/// assert_eq!(lb.ip(), Some("203.0.113.10".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceAddress {
    /// By name (DNS): its primary cluster IP (`clusterIPs[0]`), or for a headless
    /// Service its pods.
    Name,
    /// One of its cluster IPs; the connection is of that address's family.
    ClusterIp(IpAddr),
    /// A node's address at the Service's node port (the request's port is the node port).
    NodePort(NodeId),
    /// One of its load-balancer ingress IPs in `VIP` mode.
    LoadBalancerIp(IpAddr),
    /// One of its `externalIPs`.
    ExternalIp(IpAddr),
}

impl ServiceAddress {
    /// Whether this address takes traffic from outside the cluster (a node port, a
    /// load-balancer IP or an external IP), to which `externalTrafficPolicy` applies.
    ///
    /// ```
    /// let ip = "10.96.0.1".parse().unwrap();
    /// assert!(!netpol::service::ServiceAddress::ClusterIp(ip).is_external());
    /// ```
    #[must_use]
    pub fn is_external(self) -> bool {
        matches!(
            self,
            ServiceAddress::NodePort(_)
                | ServiceAddress::LoadBalancerIp(_)
                | ServiceAddress::ExternalIp(_)
        )
    }

    /// The address, when it is one of the Service's own.
    ///
    /// ```
    /// assert_eq!(netpol::service::ServiceAddress::Name.ip(), None);
    /// ```
    #[must_use]
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            ServiceAddress::ClusterIp(ip)
            | ServiceAddress::LoadBalancerIp(ip)
            | ServiceAddress::ExternalIp(ip) => Some(ip),
            ServiceAddress::Name | ServiceAddress::NodePort(_) => None,
        }
    }
}

/// A connection to a Service: who, through which address, on which port.
///
/// `received_by` is the node where traffic from outside the cluster arrives: the one a
/// load balancer or router chose for a load-balancer or external IP (required then), or,
/// for an outside client of a cluster IP, the node routing the Service range (optional:
/// without it each endpoint is judged as if it had received the traffic itself). A
/// node port names its node in the address; a pod's traffic is translated on its own
/// node, and a node's on itself, so neither takes a receiving node.
///
/// ```
/// use netpol::cluster::Endpoint;
/// use netpol::service::{ServiceAddress, ServiceRequest};
/// # let cluster = netpol::cluster::Cluster::builder().node("node-2", []).build().unwrap();
/// # let id = netpol::service::ServiceTable::build(&cluster, &[netpol::service::ResolvedService::new("x", "y", netpol::service::Addressing::Headless)]).unwrap().lookup("x", "y").unwrap();
/// let client = Endpoint::External("198.51.100.7".parse().unwrap());
/// let req = ServiceRequest::new(client, id, ServiceAddress::LoadBalancerIp("203.0.113.10".parse().unwrap()), 80, Default::default())
///     .received_by(cluster.node_id("node-2").unwrap());
/// assert_eq!(req.port, 80);
/// assert!(req.node.is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ServiceRequest {
    /// The client.
    pub src: Endpoint,
    /// The Service.
    pub service: ServiceId,
    /// The address dialled.
    pub address: ServiceAddress,
    /// The port dialled: the Service port, or the node port for
    /// [`ServiceAddress::NodePort`].
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The node receiving traffic from outside the cluster (see above).
    pub node: Option<NodeId>,
}

impl ServiceRequest {
    /// A request without a receiving node.
    ///
    /// ```
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// # let id = netpol::service::ServiceTable::build(&cluster, &[netpol::service::ResolvedService::new("x", "y", netpol::service::Addressing::Headless)]).unwrap().lookup("x", "y").unwrap();
    /// use netpol::service::{ServiceAddress, ServiceRequest};
    /// let outside = netpol::cluster::Endpoint::External("198.51.100.7".parse().unwrap());
    /// let req = ServiceRequest::new(outside, id, ServiceAddress::Name, 443, Default::default());
    /// assert!(req.node.is_none());
    /// ```
    #[must_use]
    pub fn new(
        src: Endpoint,
        service: ServiceId,
        address: ServiceAddress,
        port: u16,
        protocol: Protocol,
    ) -> Self {
        ServiceRequest {
            src,
            service,
            address,
            port,
            protocol,
            node: None,
        }
    }

    /// The same request, arriving at `node` from outside the cluster.
    ///
    /// ```
    /// # let cluster = netpol::cluster::Cluster::builder().node("n1", []).build().unwrap();
    /// # let id = netpol::service::ServiceTable::build(&cluster, &[netpol::service::ResolvedService::new("x", "y", netpol::service::Addressing::Headless)]).unwrap().lookup("x", "y").unwrap();
    /// use netpol::service::{ServiceAddress, ServiceRequest};
    /// let outside = netpol::cluster::Endpoint::External("198.51.100.7".parse().unwrap());
    /// let n1 = cluster.node_id("n1").unwrap();
    /// let req = ServiceRequest::new(outside, id, ServiceAddress::ExternalIp("203.0.113.20".parse().unwrap()), 80, Default::default())
    ///     .received_by(n1);
    /// assert_eq!(req.node, Some(n1));
    /// ```
    #[must_use]
    pub fn received_by(mut self, node: NodeId) -> Self {
        self.node = Some(node);
        self
    }
}

/// A request that cannot be answered as asked.
///
/// ```
/// use netpol::service::ServiceRequestError;
/// let e = ServiceRequestError::NodeRequired { address: "load-balancer IP 203.0.113.10".into() };
/// assert_eq!(e.to_string(), "traffic from outside the cluster to load-balancer IP 203.0.113.10 \
/// arrives at a node the load balancer or router picks: say which node receives it");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceRequestError {
    /// The Service id is not of this table.
    #[error("no such service in this table")]
    UnknownService,
    /// A node id that the cluster does not hold.
    #[error("the node is not in this cluster")]
    UnknownNode,
    /// The address is not one of the Service's of that kind.
    #[error("{address} is not a {kind} of service {service}")]
    NotAnAddress {
        /// `namespace/name`.
        service: String,
        /// The address.
        address: IpAddr,
        /// `cluster IP`, `load-balancer IP` (in VIP mode) or `external IP`.
        kind: &'static str,
    },
    /// Traffic from outside to an address every node takes, with no receiving node given.
    #[error(
        "traffic from outside the cluster to {address} arrives at a node the load balancer or router picks: say which node receives it"
    )]
    NodeRequired {
        /// The address, described.
        address: String,
    },
    /// A receiving node given for a client whose own node translates the traffic.
    #[error(
        "{client}'s traffic to {address} is translated on its own node: a receiving node does not apply"
    )]
    NodeNotApplicable {
        /// The client.
        client: String,
        /// The address, described.
        address: String,
    },
    /// The answer depends on the client pod's node, which is not known.
    #[error("the node of {client} is not known, and the translation depends on it")]
    ClientNodeUnknown {
        /// The client.
        client: String,
    },
}

/// Which source an endpoint's ingress policy saw.
///
/// ```
/// use netpol::service::SourceSeen;
/// let s = SourceSeen::Masqueraded { node: "node-1".into(), address: Some("10.244.1.64".parse().unwrap()),
///                                   seen: "10.244.1.64".into() };
/// assert_eq!(s.to_string(),
///     "the policy saw node-1's masquerade address 10.244.1.64, not the client (node-1 received the traffic; the endpoint is on another node)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "as")]
#[non_exhaustive]
pub enum SourceSeen {
    /// The client itself, at its own address.
    Client,
    /// The node that received the traffic masqueraded it towards an endpoint on another
    /// node.
    Masqueraded {
        /// That node.
        node: String,
        /// The address the policy saw, when the node has one of the flow's family.
        address: Option<IpAddr>,
        /// The source as the policy's flow names it (`node/node-1`, or the tunnel address).
        seen: String,
    },
    /// A pod dialled another node's node port: its own node's outgoing NAT gave the
    /// connection that node's address before the receiving node translated it.
    ClientNode {
        /// The client pod's node.
        node: String,
        /// Its address of the flow's family.
        address: Option<IpAddr>,
    },
}

impl fmt::Display for SourceSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSeen::Client => f.write_str("the policy saw the client's own address"),
            SourceSeen::Masqueraded { node, address, .. } => {
                write!(f, "the policy saw {node}'s masquerade address")?;
                if let Some(a) = address {
                    write!(f, " {a}")?;
                }
                write!(
                    f,
                    ", not the client ({node} received the traffic; the endpoint is on another node)"
                )
            }
            SourceSeen::ClientNode { node, address } => {
                write!(f, "the policy saw the client's node {node}")?;
                if let Some(a) = address {
                    write!(f, " at {a}")?;
                }
                f.write_str(" (its outgoing NAT, as the node port is another node's)")
            }
        }
    }
}

/// Why traffic was dropped before any policy.
///
/// ```
/// use netpol::service::Dropped;
/// let d = Dropped::SourceRanges { client: Some("203.0.113.50".parse().unwrap()),
///                                 ranges: vec!["198.51.100.0/24".parse().unwrap()] };
/// assert_eq!(d.to_string(), "dropped by the service proxy: 203.0.113.50 is outside the \
/// loadBalancerSourceRanges 198.51.100.0/24 (no policy was consulted)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "by")]
#[non_exhaustive]
pub enum Dropped {
    /// The client is outside every `loadBalancerSourceRanges` entry of the flow's family
    /// (kube-proxy's `KUBE-FW` chain: "other traffic to %s will be dropped by
    /// KUBE-PROXY-FIREWALL").
    SourceRanges {
        /// The client's address, when it has one of the flow's family.
        client: Option<IpAddr>,
        /// The ranges of that family.
        ranges: Vec<ipnet::IpNet>,
    },
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::SourceRanges { client, ranges } => {
                let list: Vec<String> = ranges.iter().map(ToString::to_string).collect();
                f.write_str("dropped by the service proxy: ")?;
                match client {
                    Some(c) => write!(f, "{c} is outside")?,
                    None => f.write_str("the client has no address in")?,
                }
                write!(
                    f,
                    " the loadBalancerSourceRanges {} (no policy was consulted)",
                    list.join(", ")
                )
            }
        }
    }
}

/// Where the endpoints come from once the address is resolved.
enum Outcome<'a> {
    Endpoints(Endpoints<'a>),
    NoEndpoints(NoEndpoints),
    Dropped(Dropped),
}

/// Who the client is, for the translation.
#[derive(Clone, Copy)]
enum Client {
    Pod(Option<NodeId>),
    Node(NodeId),
    Outside,
}

/// What one endpoint's ingress policy saw, before it is described.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Client,
    Masqueraded(NodeId, Option<IpAddr>),
    ClientNode(NodeId),
}

/// A request resolved into everything the per-endpoint answers need; allocation-free.
struct Plan<'a> {
    service: &'a ResolvedService,
    outcome: Outcome<'a>,
    family: Option<IpFamily>,
    /// Only the endpoints on this node serve the request (a `Local` traffic policy).
    local_to: Option<(NodeId, bool)>,
    /// The node that translated the traffic, when it masquerades it towards endpoints on
    /// other nodes.
    masquerading: Option<NodeId>,
    /// The node that translated the traffic (for explanations).
    translated_at: Option<NodeId>,
    /// What an endpoint that is not masqueraded to sees.
    client_seen: (Endpoint, Seen),
    /// The egress of a pod client is judged towards this node at this port (another
    /// node's node port), instead of towards the endpoint.
    egress_to_node: Option<(NodeId, u16)>,
}

/// One endpoint's legs.
struct Leg {
    pod: PodId,
    target_port: u16,
    ingress: Flow<'static>,
    egress: Option<Flow<'static>>,
    seen: Seen,
}

impl ServiceTable {
    /// The Service and address kind behind an address and port: a cluster IP, a
    /// load-balancer IP in `VIP` mode or an external IP. Several Services may share a
    /// load-balancer or external IP on different ports: the one exposing `port` and
    /// `protocol` is chosen (else the first listed). An address that is none of these
    /// (an outside address, a `Proxy`-mode or hostname ingress point) gives `None`.
    ///
    /// ```
    /// use netpol::cluster::Cluster;
    /// use netpol::service::{Service, ServiceAddress, ServiceTable};
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "externalIPs": ["203.0.113.20"],
    ///            "ports": [{"port": 80, "nodePort": 30080}]},
    ///   "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"ip": "203.0.113.11", "ipMode": "Proxy"}]}}}"#)?;
    /// let table = ServiceTable::build(&Cluster::default(), &[svc.resolve()?])?;
    /// let web = table.lookup("shop", "web").unwrap();
    /// let at = |ip: &str| table.lookup_address(ip.parse().unwrap(), 80, Default::default());
    /// assert_eq!(at("203.0.113.10"), Some((web, ServiceAddress::LoadBalancerIp("203.0.113.10".parse()?))));
    /// assert_eq!(at("203.0.113.20"), Some((web, ServiceAddress::ExternalIp("203.0.113.20".parse()?))));
    /// assert_eq!(at("10.96.0.10"), Some((web, ServiceAddress::ClusterIp("10.96.0.10".parse()?))));
    /// assert_eq!(at("203.0.113.11"), None); // Proxy mode: nothing is programmed for it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lookup_address(
        &self,
        ip: IpAddr,
        port: u16,
        protocol: Protocol,
    ) -> Option<(ServiceId, ServiceAddress)> {
        if let Some(id) = self.lookup_ip(ip) {
            return Some((id, ServiceAddress::ClusterIp(ip)));
        }
        let ids = self.by_external.get(&ip)?;
        let exposes = |id: &ServiceId| {
            self.service(*id)
                .is_some_and(|s| s.port(port, protocol).is_some())
        };
        let id = ids
            .iter()
            .copied()
            .find(exposes)
            .or_else(|| ids.first().copied())?;
        let service = self.service(id)?;
        Some(if service.load_balancer_vips().any(|v| v == ip) {
            (id, ServiceAddress::LoadBalancerIp(ip))
        } else {
            (id, ServiceAddress::ExternalIp(ip))
        })
    }

    /// The Service with node port `node_port`/`protocol` (node ports are allocated once
    /// per cluster; the first listed Service wins should two claim one).
    ///
    /// ```
    /// use netpol::cluster::Cluster;
    /// use netpol::service::{Service, ServiceTable};
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080}]}}"#)?;
    /// let table = ServiceTable::build(&Cluster::default(), &[svc.resolve()?])?;
    /// assert_eq!(table.lookup_node_port(30080, Default::default()), table.lookup("shop", "web"));
    /// assert_eq!(table.lookup_node_port(30081, Default::default()), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lookup_node_port(&self, node_port: u16, protocol: Protocol) -> Option<ServiceId> {
        self.services()
            .find(|(_, s)| s.node_port(node_port, protocol).is_some())
            .map(|(id, _)| id)
    }

    /// How many endpoints the request reaches, each decided after the translation with
    /// `evaluator.decide`. Allocates nothing unless a pod's traffic is masqueraded on its
    /// way (its egress and the endpoint's ingress are then two flows, explained).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, NodeSpec, PodSpec};
    /// # use netpol::service::{Service, ServiceTable, ServiceAddress, ServiceProxy, ServiceRequest, Reachability};
    /// let cluster = Cluster::builder()
    ///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    ///     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    ///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    ///     .build()?;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///            "externalTrafficPolicy": "Local", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let web = table.lookup("shop", "web").unwrap();
    /// let outside = Endpoint::External("198.51.100.7".parse()?);
    /// let at = |node: &str| ServiceRequest::new(outside, web,
    ///     ServiceAddress::NodePort(cluster.node_id(node).unwrap()), 30080, Default::default());
    /// let proxy = ServiceProxy::default();
    /// assert_eq!(table.reach(&engine, &proxy, at("node-2"))?, Reachability::All);
    /// assert_eq!(table.reach(&engine, &proxy, at("node-1"))?, Reachability::NoEndpoints); // Local
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reach<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        proxy: &ServiceProxy,
        request: ServiceRequest,
    ) -> Result<Reachability, ServiceRequestError> {
        let cluster = evaluator.cluster();
        let plan = self.plan(cluster, proxy, &request)?;
        let endpoints = match plan.outcome {
            Outcome::Dropped(_) => return Ok(Reachability::None),
            Outcome::NoEndpoints(_) => return Ok(Reachability::NoEndpoints),
            Outcome::Endpoints(e) => e,
        };
        let mut allowed = 0;
        let mut total = 0;
        for e in endpoints.iter() {
            if !plan.serves(cluster, e) {
                continue;
            }
            total += 1;
            let leg = plan.leg(cluster, proxy, &request, e);
            let ok = match leg.egress {
                None => evaluator.decide(leg.ingress).is_allowed(),
                Some(egress) => combine(evaluator, egress, leg.ingress).verdict.is_allowed(),
            };
            if ok {
                allowed += 1;
            }
        }
        Ok(Reachability::from_counts(allowed, total))
    }

    /// The full answer for a request: the translation in words, and every endpoint's
    /// translated flows with the source its policy saw and the explanation.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, NodeSpec, PodSpec};
    /// # use netpol::service::{Service, ServiceTable, ServiceAddress, ServiceProxy, ServiceRequest, Reachability, SourceSeen};
    /// use netpol::model::decode_policies;
    /// use netpol::policy::Policy;
    /// let cluster = Cluster::builder()
    ///     .add_node(NodeSpec::new("node-1").ip("192.168.0.11".parse()?))
    ///     .add_node(NodeSpec::new("node-2").ip("192.168.0.12".parse()?))
    ///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.2.10".parse()?).node("node-2"))
    ///     .build()?;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}"#)?;
    /// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// // Only the client network is allowed in: kube-proxy masquerades it at node-1.
    /// let written = decode_policies(r#"{"metadata": {"name": "clients", "namespace": "shop"},
    ///   "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#)?;
    /// let policies: Vec<Policy> = written.iter().map(Policy::new).collect::<Result<_, _>>()?;
    /// let engine = netpol::engine::Engine::build(&cluster, &policies);
    /// let web = table.lookup("shop", "web").unwrap();
    /// let outside = Endpoint::External("198.51.100.7".parse()?);
    /// let req = ServiceRequest::new(outside, web,
    ///     ServiceAddress::NodePort(cluster.node_id("node-1").unwrap()), 30080, Default::default());
    /// let answer = table.answer(&engine, &ServiceProxy::default(), req)?;
    /// assert_eq!(answer.reachability, Reachability::None);
    /// assert_eq!(answer.received_by.as_deref(), Some("node-1"));
    /// let e = &answer.endpoints[0];
    /// assert!(matches!(&e.source_seen, SourceSeen::Masqueraded { node, .. } if node == "node-1"));
    /// assert_eq!(e.client_ingress, Some(netpol::explain::Verdict::Allow)); // the client itself would pass
    /// println!("{answer}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn answer<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        proxy: &ServiceProxy,
        request: ServiceRequest,
    ) -> Result<ServiceVerdict, ServiceRequestError> {
        let cluster = evaluator.cluster();
        let plan = self.plan(cluster, proxy, &request)?;
        let service = plan.service.key();
        let address = describe_address(cluster, &request);
        let flow = match request.address {
            ServiceAddress::Name => format!(
                "{} -> service {service} {}/{}",
                cluster.describe(request.src),
                request.port,
                request.protocol
            ),
            _ => format!(
                "{} -> service {service} at {address} {}/{}",
                cluster.describe(request.src),
                request.port,
                request.protocol
            ),
        };
        let node_name = |n: NodeId| {
            cluster
                .node(n)
                .map_or_else(|| format!("node {n}"), |n| n.name.clone())
        };
        let translation = translation_steps(cluster, proxy, &request, &plan, &address);
        let mut verdict = ServiceVerdict {
            service,
            flow,
            reachability: Reachability::NoEndpoints,
            no_endpoints: None,
            received_by: plan.translated_at.map(node_name),
            translation,
            dropped: None,
            endpoints: Vec::new(),
        };
        let endpoints = match plan.outcome {
            Outcome::Dropped(ref d) => {
                verdict.reachability = Reachability::None;
                verdict.dropped = Some(d.clone());
                return Ok(verdict);
            }
            Outcome::NoEndpoints(ref why) => {
                verdict.no_endpoints = Some(why.clone());
                return Ok(verdict);
            }
            Outcome::Endpoints(e) => e,
        };
        for e in endpoints.iter() {
            if !plan.serves(cluster, e) {
                continue;
            }
            let leg = plan.leg(cluster, proxy, &request, e);
            let explanation = match leg.egress {
                None => evaluator.explain(leg.ingress),
                Some(egress) => combine(evaluator, egress, leg.ingress),
            };
            let source_seen = match leg.seen {
                Seen::Client => SourceSeen::Client,
                Seen::Masqueraded(node, address) => SourceSeen::Masqueraded {
                    node: node_name(node),
                    address,
                    seen: cluster.describe(leg.ingress.src),
                },
                Seen::ClientNode(node) => SourceSeen::ClientNode {
                    node: node_name(node),
                    address: cluster.address(leg.ingress, Endpoint::Node(node)),
                },
            };
            let client_ingress = (leg.seen != Seen::Client).then(|| {
                let mut direct = leg.ingress;
                direct.src = request.src;
                let why = evaluator.explain(direct);
                Verdict::from(side_allowed(&why, Direction::Ingress))
            });
            verdict.endpoints.push(EndpointVerdict {
                pod: leg.pod,
                endpoint: cluster.describe(Endpoint::Pod(leg.pod)),
                target_port: leg.target_port,
                flow: leg.ingress,
                egress_flow: leg.egress,
                egress_judged: leg.egress.map(|f| Explanation::describe_flow(cluster, f)),
                source_seen,
                client_ingress,
                explanation,
            });
        }
        let allowed = verdict
            .endpoints
            .iter()
            .filter(|e| e.explanation.verdict.is_allowed())
            .count();
        verdict.reachability = Reachability::from_counts(allowed, verdict.endpoints.len());
        if verdict.endpoints.is_empty() {
            if let Some((node, external)) = plan.local_to {
                verdict.no_endpoints = Some(NoEndpoints::NoLocalEndpoint {
                    node: node_name(node),
                    external,
                });
            }
        }
        Ok(verdict)
    }

    /// Resolves the request: the endpoints, the node that translates, what each endpoint
    /// sees.
    fn plan<'a>(
        &'a self,
        cluster: &Cluster,
        proxy: &ServiceProxy,
        req: &ServiceRequest,
    ) -> Result<Plan<'a>, ServiceRequestError> {
        let entry = self
            .entries
            .get(req.service.index())
            .ok_or(ServiceRequestError::UnknownService)?;
        let svc = &entry.service;
        let describe = || describe_address(cluster, req);
        let not_an_address = |ip: IpAddr, kind: &'static str| ServiceRequestError::NotAnAddress {
            service: svc.key(),
            address: ip,
            kind,
        };
        let client = match req.src {
            Endpoint::Pod(id) => Client::Pod(cluster.pod(id).and_then(|p| p.node)),
            Endpoint::Node(id) => Client::Node(id),
            Endpoint::External(_) => Client::Outside,
        };
        let client_name = || cluster.describe(req.src);
        let pod_node = |node: Option<NodeId>| {
            node.ok_or_else(|| ServiceRequestError::ClientNodeUnknown {
                client: client_name(),
            })
        };
        let mut plan = Plan {
            service: svc,
            outcome: Outcome::NoEndpoints(NoEndpoints::UnknownPort),
            family: None,
            local_to: None,
            masquerading: None,
            translated_at: None,
            client_seen: (req.src, Seen::Client),
            egress_to_node: None,
        };

        // Cluster IPs and names: the internal traffic policy.
        let internal_family = match req.address {
            ServiceAddress::Name => Some(
                svc.addressing
                    .cluster_ips()
                    .first()
                    .map(|ip| IpFamily::of(*ip)),
            ),
            ServiceAddress::ClusterIp(ip) => {
                if !svc.addressing.cluster_ips().contains(&ip) {
                    return Err(not_an_address(ip, "cluster IP"));
                }
                Some(Some(IpFamily::of(ip)))
            }
            _ => None,
        };
        if let Some(family) = internal_family {
            plan.family = family;
            match client {
                Client::Pod(_) | Client::Node(_) if req.node.is_some() => {
                    return Err(ServiceRequestError::NodeNotApplicable {
                        client: client_name(),
                        address: describe(),
                    });
                }
                _ => {}
            }
            let endpoints = match self.endpoints(req.service, req.port, req.protocol) {
                Ok(e) => e,
                Err(why) => {
                    plan.outcome = Outcome::NoEndpoints(why);
                    return Ok(plan);
                }
            };
            let translated = matches!(endpoints, Endpoints::Translated(_));
            if translated && svc.internal_traffic_policy == TrafficPolicy::Local {
                let node = match client {
                    Client::Pod(n) => pod_node(n)?,
                    Client::Node(n) => n,
                    Client::Outside => {
                        req.node.ok_or_else(|| ServiceRequestError::NodeRequired {
                            address: describe(),
                        })?
                    }
                };
                plan.local_to = Some((node, false));
            }
            if translated {
                match client {
                    Client::Pod(n) if proxy.masquerade_all && !proxy.socket_load_balancer => {
                        let node = pod_node(n)?;
                        plan.translated_at = Some(node);
                        plan.masquerading = Some(node);
                    }
                    Client::Outside => {
                        // Off-cluster traffic to a cluster IP is masqueraded by the node
                        // routing the Service range (`localDetector.IfNotLocal()`).
                        plan.translated_at = req.node;
                        plan.masquerading = req.node;
                    }
                    _ => {}
                }
            }
            plan.outcome = Outcome::Endpoints(endpoints);
            return Ok(plan);
        }

        // Node ports, load-balancer IPs and external IPs.
        let (index, family) = match req.address {
            ServiceAddress::NodePort(node) => {
                let n = cluster.node(node).ok_or(ServiceRequestError::UnknownNode)?;
                let family = match req.src {
                    Endpoint::External(ip) => Some(IpFamily::of(ip)),
                    _ => n.ips.first().map(|ip| IpFamily::of(*ip)),
                };
                (
                    svc.node_port(req.port, req.protocol).map(|(i, _)| i),
                    family,
                )
            }
            ServiceAddress::LoadBalancerIp(ip) => {
                if !svc.load_balancer_vips().any(|v| v == ip) {
                    return Err(not_an_address(ip, "load-balancer IP (in VIP mode)"));
                }
                (
                    svc.port(req.port, req.protocol).map(|(i, _)| i),
                    Some(IpFamily::of(ip)),
                )
            }
            ServiceAddress::ExternalIp(ip) => {
                if !svc.external_ips.contains(&ip) {
                    return Err(not_an_address(ip, "external IP"));
                }
                (
                    svc.port(req.port, req.protocol).map(|(i, _)| i),
                    Some(IpFamily::of(ip)),
                )
            }
            ServiceAddress::Name | ServiceAddress::ClusterIp(_) => (None, None),
        };
        plan.family = family;
        let node_port_at = match req.address {
            ServiceAddress::NodePort(n) => Some(n),
            _ => None,
        };
        // Who receives and translates it.
        let arrival = match (client, node_port_at) {
            (Client::Pod(_), _) if proxy.socket_load_balancer => {
                if req.node.is_some() && node_port_at.is_none() {
                    return Err(ServiceRequestError::NodeNotApplicable {
                        client: client_name(),
                        address: describe(),
                    });
                }
                Arrival::SocketLb
            }
            (Client::Pod(n), Some(at)) => {
                let own = pod_node(n)?;
                if own == at {
                    Arrival::Own(own)
                } else {
                    Arrival::From(at, Some(own))
                }
            }
            (Client::Node(own), Some(at)) if own != at => Arrival::From(at, Some(own)),
            (Client::Pod(n), None) => {
                if req.node.is_some() {
                    return Err(ServiceRequestError::NodeNotApplicable {
                        client: client_name(),
                        address: describe(),
                    });
                }
                Arrival::Own(pod_node(n)?)
            }
            (Client::Node(own), _) => {
                if req.node.is_some_and(|n| n != own) {
                    return Err(ServiceRequestError::NodeNotApplicable {
                        client: client_name(),
                        address: describe(),
                    });
                }
                Arrival::Host(own)
            }
            (Client::Outside, Some(at)) => {
                if req.node.is_some_and(|n| n != at) {
                    return Err(ServiceRequestError::NodeNotApplicable {
                        client: client_name(),
                        address: describe(),
                    });
                }
                Arrival::From(at, None)
            }
            (Client::Outside, None) => Arrival::From(
                req.node.ok_or_else(|| ServiceRequestError::NodeRequired {
                    address: describe(),
                })?,
                None,
            ),
        };
        if let Some(n) = req.node {
            cluster.node(n).ok_or(ServiceRequestError::UnknownNode)?;
        }
        let Some(index) = index else {
            plan.outcome = Outcome::NoEndpoints(NoEndpoints::UnknownPort);
            return Ok(plan);
        };
        if !matches!(svc.addressing, Addressing::ClusterIps(_)) {
            plan.outcome = Outcome::NoEndpoints(NoEndpoints::NotProxied);
            return Ok(plan);
        }
        let list = match entry.ports.get(index) {
            Some(Ok(list)) => list.as_slice(),
            Some(Err(why)) => {
                plan.outcome = Outcome::NoEndpoints(why.clone());
                return Ok(plan);
            }
            None => {
                plan.outcome = Outcome::NoEndpoints(NoEndpoints::UnknownPort);
                return Ok(plan);
            }
        };
        plan.outcome = Outcome::Endpoints(Endpoints::Translated(list));
        let cluster_policy = svc.external_traffic_policy == TrafficPolicy::Cluster;
        let ranges_apply = matches!(req.address, ServiceAddress::LoadBalancerIp(_));
        match arrival {
            Arrival::SocketLb => {
                if svc.internal_traffic_policy == TrafficPolicy::Local {
                    let Client::Pod(n) = client else {
                        return Ok(plan);
                    };
                    plan.local_to = Some((pod_node(n)?, false));
                }
            }
            Arrival::Own(node) => {
                // A pod's packet to an external destination is translated by its own
                // node: masqueraded with a Cluster policy, short-circuited to every
                // endpoint unmasqueraded with a Local one ("pod traffic for %s external
                // destinations").
                plan.translated_at = Some(node);
                if cluster_policy {
                    plan.masquerading = Some(node);
                }
                if ranges_apply {
                    if let Some(d) = source_range_drop(cluster, svc, req.src, family) {
                        plan.outcome = Outcome::Dropped(d);
                    }
                }
            }
            Arrival::Host(node) => {
                // Host traffic is masqueraded whatever the policy ("masquerade LOCAL
                // traffic") and reaches every endpoint.
                plan.translated_at = Some(node);
                plan.masquerading = Some(node);
                if ranges_apply {
                    if let Some(d) = source_range_drop(cluster, svc, req.src, family) {
                        plan.outcome = Outcome::Dropped(d);
                    }
                }
            }
            Arrival::From(at, client_node) => {
                plan.translated_at = Some(at);
                if let Some(own) = client_node {
                    plan.client_seen = (Endpoint::Node(own), Seen::ClientNode(own));
                    if matches!(client, Client::Node(_)) {
                        plan.client_seen = (Endpoint::Node(own), Seen::Client);
                    }
                    if matches!(client, Client::Pod(_)) {
                        plan.egress_to_node = Some((at, req.port));
                    }
                }
                if svc.external_policy_local() {
                    plan.local_to = Some((at, true));
                } else {
                    plan.masquerading = Some(at);
                }
                if ranges_apply {
                    if let Some(d) = source_range_drop(cluster, svc, req.src, family) {
                        plan.outcome = Outcome::Dropped(d);
                    }
                }
            }
        }
        Ok(plan)
    }
}

/// How the traffic reaches the node that translates it.
enum Arrival {
    /// A pod's socket load balancer: no node translates it.
    SocketLb,
    /// A pod's own node translates it.
    Own(NodeId),
    /// A host process on this node.
    Host(NodeId),
    /// It arrives at this node from outside it (from an outside client, or from the
    /// client's node, given when the client is in the cluster).
    From(NodeId, Option<NodeId>),
}

impl Plan<'_> {
    /// Whether the endpoint serves this request (a `Local` policy keeps only the
    /// endpoints on its node).
    fn serves(&self, cluster: &Cluster, e: ServiceEndpoint) -> bool {
        match self.local_to {
            None => true,
            Some((node, _)) => cluster.pod(e.pod).and_then(|p| p.node) == Some(node),
        }
    }

    fn leg(
        &self,
        cluster: &Cluster,
        proxy: &ServiceProxy,
        req: &ServiceRequest,
        e: ServiceEndpoint,
    ) -> Leg {
        let with_family = |f: Flow<'static>| match self.family {
            Some(fam) => f.in_family(fam),
            None => f,
        };
        let dst = Endpoint::Pod(e.pod);
        let endpoint_node = cluster.pod(e.pod).and_then(|p| p.node);
        let (seen_endpoint, seen) = match self.masquerading {
            Some(node)
                if endpoint_node != Some(node) && proxy.masquerade != ServiceMasquerade::Client =>
            {
                let (endpoint, address) = masquerade_source(cluster, proxy, node, self.family);
                (endpoint, Seen::Masqueraded(node, address))
            }
            _ => self.client_seen,
        };
        let ingress = with_family(
            Flow::new(seen_endpoint, dst, e.target_port, req.protocol).through_service(),
        );
        let egress = match req.src {
            Endpoint::Pod(_) => {
                let f = match self.egress_to_node {
                    Some((node, port)) => {
                        Flow::new(req.src, Endpoint::Node(node), port, req.protocol)
                    }
                    None => Flow::new(req.src, dst, e.target_port, req.protocol).through_service(),
                };
                Some(with_family(f)).filter(|f| *f != ingress)
            }
            _ => None,
        };
        Leg {
            pod: e.pod,
            target_port: e.target_port,
            ingress,
            egress,
            seen,
        }
    }
}

/// The source a remote endpoint sees when `node` masquerades towards it, and its address.
pub(super) fn masquerade_source(
    cluster: &Cluster,
    proxy: &ServiceProxy,
    node: NodeId,
    family: Option<IpFamily>,
) -> (Endpoint, Option<IpAddr>) {
    let Some(n) = cluster.node(node) else {
        return (Endpoint::Node(node), None);
    };
    let family = family
        .or_else(|| n.ips.first().map(|ip| IpFamily::of(*ip)))
        .unwrap_or(IpFamily::Ipv4);
    let address = match proxy.masquerade {
        ServiceMasquerade::NodeIp | ServiceMasquerade::Client => n.ip(family),
        ServiceMasquerade::TunnelIp => n.tunnel_ip(family).or_else(|| n.ip(family)),
        ServiceMasquerade::TunnelNetworkAddress => n
            .tunnel_ip(family)
            .or_else(|| n.pod_cidr(family).map(|net| net.network()))
            .or_else(|| n.ip(family)),
    };
    let endpoint = match address {
        // An address of the node that is not one of its host IPs (a tunnel address, in
        // the pod network): ipBlocks match it as an address where they match nodes.
        Some(a) if !n.ips.contains(&a) && proxy.ipblock_matches_nodes => Endpoint::External(a),
        _ => Endpoint::Node(node),
    };
    (endpoint, address)
}

/// The drop by `loadBalancerSourceRanges`, if the client is outside them (kube-proxy:
/// the ranges of the flow's family; none, or one of length zero, admit everyone).
fn source_range_drop(
    cluster: &Cluster,
    svc: &ResolvedService,
    client: Endpoint,
    family: Option<IpFamily>,
) -> Option<Dropped> {
    let family = family?;
    let ranges: Vec<ipnet::IpNet> = svc
        .source_ranges
        .iter()
        .filter(|r| IpFamily::of(r.addr()) == family)
        .copied()
        .collect();
    if ranges.is_empty() || ranges.iter().any(|r| r.prefix_len() == 0) {
        return None;
    }
    let address = match client {
        Endpoint::External(ip) => Some(ip),
        other => {
            let probe = Flow::new(other, other, 1, Protocol::Tcp).in_family(family);
            cluster.address(probe, other)
        }
    };
    match address {
        Some(a) if ranges.iter().any(|r| r.contains(&a)) => None,
        _ => Some(Dropped::SourceRanges {
            client: address,
            ranges,
        }),
    }
}

/// Whether a side of an explanation allows the flow, with its special case.
fn side_allowed(e: &Explanation, direction: Direction) -> bool {
    match e.special {
        Some(Special::NotEnforced | Special::SelfTraffic) => true,
        Some(Special::UnknownEndpoint) => false,
        _ => match direction {
            Direction::Egress => e.egress.allowed,
            Direction::Ingress => e.ingress.allowed,
        },
    }
}

/// Egress judged on one flow, ingress on another: one explanation of both.
fn combine<E: Evaluator + ?Sized>(
    evaluator: &E,
    egress: Flow<'static>,
    ingress: Flow<'static>,
) -> Explanation {
    let cluster = evaluator.cluster();
    let out = evaluator.explain(egress);
    let inn = evaluator.explain(ingress);
    let allowed = side_allowed(&out, Direction::Egress) && side_allowed(&inn, Direction::Ingress);
    let special = match (inn.special, out.special) {
        (Some(Special::UnknownEndpoint), _) | (_, Some(Special::UnknownEndpoint)) => {
            Some(Special::UnknownEndpoint)
        }
        (a, b) => a.or(b),
    };
    Explanation {
        flow: Explanation::describe_flow(cluster, ingress),
        verdict: Verdict::from(allowed),
        special,
        egress: out.egress,
        ingress: inn.ingress,
        notes: out.notes,
    }
}

/// The address dialled, in words.
fn describe_address(cluster: &Cluster, req: &ServiceRequest) -> String {
    match req.address {
        ServiceAddress::Name => "its name".to_owned(),
        ServiceAddress::ClusterIp(ip) => format!("cluster IP {ip}"),
        ServiceAddress::LoadBalancerIp(ip) => format!("load-balancer IP {ip}"),
        ServiceAddress::ExternalIp(ip) => format!("external IP {ip}"),
        ServiceAddress::NodePort(node) => match cluster.node(node) {
            Some(n) => {
                let family = match req.src {
                    Endpoint::External(ip) => IpFamily::of(ip),
                    _ => n.ips.first().map_or(IpFamily::Ipv4, |ip| IpFamily::of(*ip)),
                };
                match n.ip(family) {
                    Some(ip) => format!("node port of {} ({ip})", n.name),
                    None => format!("node port of {}", n.name),
                }
            }
            None => format!("node port of node {node}"),
        },
    }
}

/// The translation in words, one step a line.
fn translation_steps(
    cluster: &Cluster,
    proxy: &ServiceProxy,
    req: &ServiceRequest,
    plan: &Plan<'_>,
    address: &str,
) -> Vec<String> {
    let name = |n: NodeId| {
        cluster
            .node(n)
            .map_or_else(|| format!("node {n}"), |n| n.name.clone())
    };
    let svc = plan.service;
    let mut steps = Vec::new();
    let client = cluster.describe(req.src);
    if let Some((node, port)) = plan.egress_to_node {
        steps.push(format!(
            "{client} dials {address}, which is not its own node's: its own node does not translate it, and its egress policy sees {} at port {port}",
            name(node)
        ));
    }
    if req.address.is_external()
        && proxy.socket_load_balancer
        && matches!(req.src, Endpoint::Pod(_))
    {
        steps.push(format!(
            "{client} connects through the socket load balancer: straight to an endpoint, never masqueraded, loadBalancerSourceRanges not applied, every endpoint (internalTrafficPolicy {})",
            svc.internal_traffic_policy
        ));
    }
    if let Some(node) = plan.translated_at {
        let how = if req.address.is_external() {
            format!("externalTrafficPolicy {}", svc.external_traffic_policy)
        } else if proxy.masquerade_all {
            "kube-proxy --masquerade-all".to_owned()
        } else {
            "traffic to a cluster IP from outside the cluster".to_owned()
        };
        steps.push(format!("received and translated by {} ({how})", name(node)));
    }
    match (plan.local_to, plan.masquerading) {
        (Some((node, true)), _) => steps.push(format!(
            "externalTrafficPolicy Local: only the endpoints on {} serve it, and they see the client's own address",
            name(node)
        )),
        (Some((node, false)), _) => steps.push(format!(
            "internalTrafficPolicy Local: only the endpoints on {} serve it",
            name(node)
        )),
        _ => {}
    }
    if let Some(node) = plan.masquerading {
        if proxy.masquerade == ServiceMasquerade::Client {
            steps.push(format!(
                "{} masquerades it, but the data plane keeps the client's address for policy",
                name(node)
            ));
        } else {
            let (seen, addr) = masquerade_source(cluster, proxy, node, plan.family);
            let addr = match (addr, seen) {
                (Some(a), Endpoint::Node(_)) => format!("{a}, as the node"),
                (Some(a), _) => format!("{a}, as an address"),
                (None, _) => "no address of the flow's family, as the node".to_owned(),
            };
            steps.push(format!(
                "{n} masquerades it towards endpoints on other nodes, whose policy sees {addr} (the plugin's masquerade source: {}); endpoints on {n} are judged before the masquerade and see the client",
                proxy.masquerade.describe(),
                n = name(node),
            ));
        }
    } else if req.address.is_external()
        && matches!(req.src, Endpoint::Pod(_))
        && plan.translated_at.is_some()
        && svc.external_traffic_policy == TrafficPolicy::Local
    {
        steps.push(
            "a pod's traffic to an external destination of a Local-policy service is short-circuited to every endpoint, unmasqueraded".to_owned(),
        );
    }
    steps
}
