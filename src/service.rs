//! Traffic through Services: a flow to a Service address, from inside or outside the
//! cluster, is decided per endpoint pod, after the address translation, as the data plane
//! does.
//!
//! kube-proxy (or the plugin's own Service implementation) rewrites a connection to
//! `clusterIP:port` into a connection to one endpoint pod's IP and target port before any
//! NetworkPolicy sees it, so the policies of both sides judge the pod address and the
//! target port, never the Service address (Calico's "Troubleshoot policies" page: policy
//! "sees the traffic after the DNAT"; the NetworkPolicy concept page: policies act on pod
//! IPs and ports). Which pod is chosen is up to the load balancer, so the answer for a
//! Service is the answer for each endpoint: reachable through all of them, some, or none.
//!
//! The pipeline mirrors the policy one:
//!
//! - [`Service`]: the as-written object, field for field what `kubectl get svc -o json`
//!   prints (unknown fields are kept, so it round-trips);
//! - [`ResolvedService`]: what the object means for routing: its addresses (or headless),
//!   its selector (or none), its ports with defaulted protocol and `targetPort`;
//! - [`ServiceTable`]: the services of a [`Cluster`] with their endpoints resolved, looked
//!   up by cluster IP or by `namespace/name`, and answering with any
//!   [`Evaluator`] (the compiled engine or the reference).
//!
//! Endpoints follow the EndpointSlice controller: the pods of the Service's namespace whose
//! labels match its selector (every `key: value` pair) and that have an IP. A numeric
//! `targetPort` is used as it is (a pod need not declare it); a named `targetPort` is
//! looked up per pod among its container ports with that name and the port's protocol, so
//! two endpoints may listen on different numbers, and a pod that declares no such port is
//! not an endpoint for that Service port. An absent `targetPort` means the Service port.
//!
//! Special cases, each reported rather than guessed:
//! - **No selector** (absent or empty `spec.selector`): the endpoints are managed by hand
//!   (EndpointSlices written by someone else) and unknown here, so the answer is
//!   [`Reachability::NoEndpoints`] with [`NoEndpoints::NoSelector`].
//! - **Headless** (`clusterIP: None`): there is no virtual address and no translation; a
//!   client resolves the Service name to the pod IPs and connects to them directly on the
//!   port it chose. A flow to the Service *name* is decided for every selected pod at the
//!   queried port, unchanged.
//! - **ExternalName**: a DNS alias to a name outside the cluster; no endpoints here
//!   ([`NoEndpoints::ExternalName`]).
//! - **A port the Service does not expose**: nothing forwards it
//!   ([`NoEndpoints::UnknownPort`]).
//!
//! # Every address, every client: kube-proxy's translation
//!
//! [`ServiceTable::answer`] (and the allocation-free [`ServiceTable::reach`]) take a
//! [`ServiceRequest`]: a client (a pod, a node, an outside address), a
//! [`ServiceAddress`] (the name, a cluster IP, a node port at a node, a load-balancer IP in
//! `VIP` mode, an external IP), a port, and for traffic from outside the node that
//! receives it. [`ServiceProxy`] carries what the profile's plugin and kube-proxy's flags
//! decide. The rules, from kube-proxy's iptables and nftables proxiers
//! (`pkg/proxy/iptables/proxier.go` `syncProxyRules`, `pkg/proxy/serviceport.go`,
//! `pkg/proxy/topology.go`, `pkg/api/v1/service/util.go`) and the API's own words
//! (`core/v1/types.go`):
//!
//! - **Which endpoints.** A cluster IP or the name: every endpoint, or with
//!   `internalTrafficPolicy: Local` those on the client's node ("dropping the traffic if
//!   there are no local endpoints"). A node port, load-balancer IP or external IP reached
//!   from outside: every endpoint with `externalTrafficPolicy: Cluster`; with `Local` only
//!   those on the receiving node ("Traffic mistakenly sent to a node with no endpoints will
//!   be dropped": [`NoEndpoints::NoLocalEndpoint`]). A pod's traffic to such an address is
//!   translated on its own node and reaches every endpoint ("traffic sent to an External
//!   IP or LoadBalancer IP from within the cluster will always get "Cluster" semantics";
//!   the proxier's "pod traffic for %s external destinations" short-circuit).
//! - **Which source the endpoint's policy sees.** kube-proxy only marks the packets it
//!   masquerades (`KUBE-MARK-MASQ`: every source of an external destination with a
//!   `Cluster` policy, "in case we cross nodes"; off-cluster sources of a cluster IP; every
//!   pod with `--masquerade-all`); the kernel rewrites the source in nat POSTROUTING, after
//!   the filter hooks where policy engines judge. So an endpoint on the node that
//!   translated sees the client, one on another node that node's masquerade address, which
//!   the plugin decides ([`ServiceMasquerade`](crate::profile::ServiceMasquerade)): the
//!   node IP, or a tunnel address in the pod network that a pod-network `ipBlock` matches.
//!   The client pod's own egress is judged on its node, towards the endpoint, before the
//!   masquerade ([`EndpointVerdict::egress_flow`]). A pod dialling another node's node
//!   port is not translated on its own node (the address is not local there): its egress
//!   sees that node at the node port, and the receiving node sees the client's node (its
//!   outgoing NAT). Each endpoint's answer says which source was seen
//!   ([`SourceSeen`]) and whether the client's own address would have been admitted.
//! - **Before any policy.** `loadBalancerSourceRanges` of the flow's family (none, or a
//!   `/0`, admit everyone) drop a load-balancer IP's clients outside them, pods included,
//!   never a node port's ([`Dropped`]).
//! - **Family.** A connection has the family of the address dialled; a Service's name
//!   stands for its primary cluster IP (`clusterIPs[0]`).
//! - **Socket load balancing.** Where the plugin balances in-cluster clients in the socket
//!   layer (Cilium), a pod reaches every endpoint of any address directly, unmasqueraded,
//!   with no source ranges (`internalTrafficPolicy: Local` still applies).
//!
//! # What an ipBlock allow-list matches of outside clients
//!
//! The masquerade makes `ipBlock`s on an endpoint's ingress rule treacherous: with
//! `externalTrafficPolicy: Cluster` an allow-list of client networks matches the clients
//! only at endpoints on the node that received them (elsewhere they arrive as that node),
//! and a block that holds the masquerade addresses (the node network, or the pod network
//! where the plugin masquerades to a tunnel address) admits every client, whatever its
//! address. [`ServiceTable::outside`] and [`Outside::ingress_rule`] tell, for one
//! NetworkPolicy ingress rule, per Service that brings outside traffic to its pods, per
//! entrance (node port, load-balancer IP, external IP) and receiving node, which source
//! the endpoints see and whether the rule's blocks hold it ([`RuleFromOutside`]); the
//! paths it describes are requests [`ServiceTable::answer`] judges the same way. The lint
//! check NP052 ([`Check::IpBlockMasqueraded`](crate::analysis::lint::Check::IpBlockMasqueraded))
//! reports both mistakes.
//!
//! Not modelled: kube-proxy's IPVS mode, kube-router's and Antrea's own proxies, cloud load
//! balancers that keep the client address or forward to node ports (`Proxy` mode is an
//! outside address here), topology hints and `trafficDistribution`, terminating endpoints,
//! session affinity, `--nodeport-addresses`, host processes' source address choice beyond
//! "its node".
//!
//! ```
//! use netpol::cluster::{Cluster, ContainerPort, Endpoint, PodSpec};
//! use netpol::engine::Engine;
//! use netpol::policy::Protocol;
//! use netpol::service::{Reachability, Service, ServiceTable};
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse().unwrap())
//!         .port(ContainerPort::named("http", 8080, Protocol::Tcp)))
//!     .pod(PodSpec::new("shop", "web-2").label("app", "web").ip("10.244.2.5".parse().unwrap())
//!         .port(ContainerPort::named("http", 9090, Protocol::Tcp)))
//!     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse().unwrap()))
//!     .build()?;
//! let svc = Service::from_json(r#"{
//!   "apiVersion": "v1", "kind": "Service",
//!   "metadata": {"name": "web", "namespace": "shop"},
//!   "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
//!            "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}
//! }"#)?;
//! let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
//! let engine = Engine::build(&cluster, &[]);
//! let client = Endpoint::Pod(cluster.pod_id("shop", "client").unwrap());
//! let id = table.lookup_ip("10.96.0.10".parse().unwrap()).unwrap();
//! let answer = table.explain(&engine, client, id, 80, Protocol::Tcp);
//! assert_eq!(answer.reachability, Reachability::All);
//! // Each endpoint is decided at its own target port.
//! let ports: Vec<u16> = answer.endpoints.iter().map(|e| e.target_port).collect();
//! assert_eq!(ports, [8080, 9090]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Endpoint, Flow, PodId};

mod ipblock;
mod outside;
use crate::explain::{Evaluator, Explanation, Verdict};
use crate::model::go_json::go_struct;
use crate::model::{IntOrString, Labels, ObjectMeta, Time};
use crate::policy::Protocol;
pub use ipblock::{
    ClientMatch, EndpointPort, Entrance, Masquerade, Outside, OutsideAddress, OutsidePath,
    Receiver, RuleEndpoint, RuleFromOutside, RuleFromOutsideError, ServiceFromOutside,
};
pub use outside::{
    Dropped, ServiceAddress, ServiceProxy, ServiceRequest, ServiceRequestError, SourceSeen,
};

// ---------------------------------------------------------------------------------------
// As-written model
// ---------------------------------------------------------------------------------------

go_struct! {
    /// A `v1` Service exactly as `kubectl get svc -o json` prints it.
    ///
    /// The fields that routing uses are typed; every other field (`sessionAffinity`,
    /// `ipFamilies`, `status.conditions`, …) is kept in the `extra` maps so that the
    /// object serializes back as it was read. Decoding follows the apiserver's rules (see
    /// [`crate::model::go_json`]): the fields kept in `extra` are checked against their
    /// Go types too (`sessionAffinityConfig: []` is refused, as the apiserver refuses it),
    /// `null` is the zero value, and an object of another `apiVersion` or `kind` is
    /// refused.
    ///
    /// ```
    /// let text = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"x"},
    ///   "spec":{"type":"LoadBalancer","clusterIP":"10.96.0.5","clusterIPs":["10.96.0.5"],
    ///           "ports":[{"port":80,"targetPort":8080,"nodePort":30080,"protocol":"TCP"}],
    ///           "selector":{"app":"web"},"sessionAffinity":"None",
    ///           "externalTrafficPolicy":"Local","healthCheckNodePort":32100,
    ///           "internalTrafficPolicy":"Cluster","loadBalancerSourceRanges":["198.51.100.0/24"]},
    ///   "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10","ipMode":"VIP"}]}}}"#;
    /// let svc = netpol::service::Service::from_json(text).unwrap();
    /// assert_eq!(svc.spec.cluster_ip.as_deref(), Some("10.96.0.5"));
    /// assert_eq!(svc.spec.ports.as_ref().unwrap()[0].node_port, Some(30080));
    /// assert_eq!(svc.spec.external_traffic_policy.as_deref(), Some("Local"));
    /// let ingress = &svc.status.as_ref().unwrap().load_balancer.as_ref().unwrap().ingress;
    /// assert_eq!(ingress.as_ref().unwrap()[0].ip.as_deref(), Some("203.0.113.10"));
    /// let back: serde_json::Value = serde_json::to_value(&svc).unwrap();
    /// assert_eq!(back, serde_json::from_str::<serde_json::Value>(text).unwrap());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Service {
        /// `apiVersion`, normally `v1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub api_version: Option<String>,
        /// `kind`, normally `Service`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub kind: Option<String>,
        /// `metadata`.
        pub metadata: ObjectMeta,
        /// `spec`.
        pub spec: ServiceSpec,
        /// `status`: the load balancer's ingress points.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub status: Option<ServiceStatus>,
        /// Every other top-level field, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    kind("v1", "Service");
}

go_struct! {
    /// `spec` of a Service.
    ///
    /// ```
    /// let spec: netpol::service::ServiceSpec = serde_json::from_str(
    ///     r#"{"clusterIP": "None", "externalIPs": ["203.0.113.20"], "externalTrafficPolicy": null}"#).unwrap();
    /// assert!(spec.selector.is_none());
    /// assert_eq!(spec.external_ips.as_deref(), Some(&["203.0.113.20".to_owned()][..]));
    /// assert!(spec.external_traffic_policy.is_none()); // null is absent
    /// assert!(serde_json::from_str::<netpol::service::ServiceSpec>(r#"{"externalIPs": "1.2.3.4"}"#).is_err());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ServiceSpec {
        /// `spec.selector`: label `key: value` pairs, all of which an endpoint pod carries.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub selector: Option<Labels>,
        /// `spec.ports`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ports: Option<Vec<ServicePort>>,
        /// `spec.clusterIP`: an address, `None` for a headless Service, empty or absent when
        /// not yet allocated.
        #[serde(rename = "clusterIP", skip_serializing_if = "Option::is_none")]
        pub cluster_ip: Option<String>,
        /// `spec.clusterIPs`: every address (dual stack), the first equal to `clusterIP`.
        #[serde(rename = "clusterIPs", skip_serializing_if = "Option::is_none")]
        pub cluster_ips: Option<Vec<String>>,
        /// `spec.type`: `ClusterIP` (the default), `NodePort`, `LoadBalancer` or
        /// `ExternalName`.
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        pub type_: Option<String>,
        /// `spec.externalIPs`: addresses for which every node also accepts the Service's
        /// traffic ("the user is responsible for ensuring that traffic arrives at a node
        /// with this IP").
        #[serde(rename = "externalIPs", skip_serializing_if = "Option::is_none")]
        pub external_ips: Option<Vec<String>>,
        /// `spec.externalTrafficPolicy`: `Cluster` (the default for a Service reachable
        /// from outside) or `Local`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub external_traffic_policy: Option<String>,
        /// `spec.internalTrafficPolicy`: `Cluster` (the default) or `Local`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub internal_traffic_policy: Option<String>,
        /// `spec.loadBalancerSourceRanges`: the client ranges a load-balancer IP admits.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub load_balancer_source_ranges: Option<Vec<String>>,
        /// `spec.healthCheckNodePort`: where a load balancer asks each node whether it has
        /// a local endpoint (`LoadBalancer` with `externalTrafficPolicy: Local`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub health_check_node_port: Option<i32>,
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "sessionAffinity" => session_affinity: String,
        "loadBalancerIP" => load_balancer_ip: String,
        "externalName" => external_name: String,
        "publishNotReadyAddresses" => publish_not_ready_addresses: bool,
        "sessionAffinityConfig" => session_affinity_config: SessionAffinityConfig,
        "ipFamilies" => ip_families: Vec<String>,
        "ipFamilyPolicy" => ip_family_policy: String,
        "allocateLoadBalancerNodePorts" => allocate_load_balancer_node_ports: bool,
        "loadBalancerClass" => load_balancer_class: String,
        "trafficDistribution" => traffic_distribution: String,
    }
}

go_struct! {
    /// One entry of `spec.ports`.
    ///
    /// ```
    /// let p: netpol::service::ServicePort = serde_json::from_str(
    ///     r#"{"port": 53, "targetPort": "dns", "protocol": "UDP", "nodePort": 30053}"#).unwrap();
    /// assert_eq!(p.target_port, Some(netpol::model::IntOrString::String("dns".into())));
    /// assert_eq!(p.node_port, Some(30053));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ServicePort {
        /// `name`, required by the API when a Service has several ports.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// `port`: the port the Service exposes on its cluster IP.
        pub port: i32,
        /// `targetPort`: a number, or the name of a container port; `port` when absent (or
        /// `0` or empty, which the apiserver's defaulting replaces with `port`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub target_port: Option<IntOrString>,
        /// `protocol`: `TCP` (default), `UDP` or `SCTP`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub protocol: Option<String>,
        /// `nodePort`: the port every node accepts the Service's traffic on (`NodePort`
        /// and `LoadBalancer` Services); absent or `0` when there is none.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub node_port: Option<i32>,
        /// Every other field (`appProtocol`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "appProtocol" => app_protocol: String,
    }
}

go_struct! {
    /// `status` of a Service.
    ///
    /// ```
    /// let s: netpol::service::ServiceStatus = serde_json::from_str(
    ///     r#"{"loadBalancer": {"ingress": [{"hostname": "a.elb.example.com"}]}, "conditions": []}"#).unwrap();
    /// let ingress = s.load_balancer.unwrap().ingress.unwrap();
    /// assert_eq!(ingress[0].hostname.as_deref(), Some("a.elb.example.com"));
    /// assert!(serde_json::from_str::<netpol::service::ServiceStatus>(r#"{"conditions": {}}"#).is_err());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ServiceStatus {
        /// `loadBalancer`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub load_balancer: Option<LoadBalancerStatus>,
        /// Every other field (`conditions`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "conditions" => conditions: Vec<Condition>,
    }
}

go_struct! {
    /// `status.loadBalancer` of a Service.
    ///
    /// ```
    /// let s: netpol::service::LoadBalancerStatus = serde_json::from_str(r#"{"ingress": null}"#).unwrap();
    /// assert!(s.ingress.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct LoadBalancerStatus {
        /// `ingress`: the load balancer's ingress points.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Vec<LoadBalancerIngress>>,
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
}

go_struct! {
    /// One `status.loadBalancer.ingress` entry: an IP (with its `ipMode`) or a DNS name.
    ///
    /// ```
    /// let i: netpol::service::LoadBalancerIngress = serde_json::from_str(
    ///     r#"{"ip": "203.0.113.12", "ipMode": "Proxy", "ports": [{"port": 80, "protocol": "TCP"}]}"#).unwrap();
    /// assert_eq!(i.ip_mode.as_deref(), Some("Proxy"));
    /// assert_eq!(i.extra["ports"][0]["port"], 80); // kept, not read
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct LoadBalancerIngress {
        /// `ip`: set for load balancers reached at an IP address.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ip: Option<String>,
        /// `hostname`: set for load balancers reached by a DNS name (AWS).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub hostname: Option<String>,
        /// `ipMode`: `VIP` (traffic reaches the nodes with the load balancer's IP as its
        /// destination; the default when `ip` is set) or `Proxy` (the load balancer
        /// forwards to a node's node port or to a pod itself).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ip_mode: Option<String>,
        /// Every other field (`ports`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "ports" => ports: Vec<PortStatus>,
    }
}

// Fields of a Service that routing does not read: declared only so that their Go types
// are checked while decoding (they stay in the `extra` maps as written).

go_struct! {
    #[derive(Debug, Clone, Default, PartialEq)]
    struct SessionAffinityConfig {
        #[serde(rename = "clientIP", skip_serializing_if = "Option::is_none")]
        client_ip: Option<ClientIpConfig>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
}

go_struct! {
    #[derive(Debug, Clone, Default, PartialEq)]
    struct ClientIpConfig {
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<i32>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    #[derive(Debug, Clone, Default, PartialEq)]
    struct PortStatus {
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
}

go_struct! {
    /// `metav1.Condition`.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct Condition {
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        type_: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        observed_generation: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_transition_time: Option<Time>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}
impl Service {
    /// Decodes a Service from JSON text; errors carry the field path.
    ///
    /// ```
    /// let err = netpol::service::Service::from_json(r#"{"spec": {"ports": [{"port": "x"}]}}"#).unwrap_err();
    /// assert!(err.to_string().starts_with("spec.ports[0].port: "), "{err}");
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ServiceError> {
        Ok(crate::model::go_json::from_str(text)?)
    }

    /// Decodes a Service from an already parsed JSON value.
    ///
    /// ```
    /// let v = serde_json::json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "None"}});
    /// let svc = netpol::service::Service::from_value(&v).unwrap();
    /// assert_eq!(svc.metadata.name.as_deref(), Some("a"));
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ServiceError> {
        Ok(crate::model::go_json::from_value(value)?)
    }

    /// `namespace/name` (namespace `default` when absent).
    ///
    /// ```
    /// let v = serde_json::json!({"metadata": {"name": "a"}});
    /// assert_eq!(netpol::service::Service::from_value(&v).unwrap().key(), "default/a");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace_or_default(),
            self.metadata.name.as_deref().unwrap_or("")
        )
    }

    /// What the Service means for routing: addresses parsed, protocols, target ports and
    /// traffic policies defaulted, names and numbers checked.
    ///
    /// The fields that take traffic from outside the cluster are checked where the
    /// apiserver checks them (`validateService`, `ValidateLoadBalancerStatus` in
    /// `pkg/apis/core/validation/validation.go`), with the first problem reported:
    ///
    /// | field | refused |
    /// | --- | --- |
    /// | `spec.ports[i].nodePort` | not 0-65535; set on a `ClusterIP` Service; the same node port twice for one protocol |
    /// | `spec.clusterIP` | `None` on a `NodePort` or `LoadBalancer` Service |
    /// | `spec.externalIPs[i]` | not an IP address; unspecified, loopback, link-local or link-local multicast |
    /// | `spec.externalTrafficPolicy` | not `Cluster` or `Local`; set on a Service not reachable from outside (neither `NodePort`, `LoadBalancer` nor `ClusterIP` with external IPs) |
    /// | `spec.internalTrafficPolicy` | not `Cluster` or `Local` |
    /// | `spec.healthCheckNodePort` | not 1-65535; set on anything but a `LoadBalancer` with `externalTrafficPolicy: Local` |
    /// | `spec.loadBalancerSourceRanges[i]` | not a CIDR (spaces around it are allowed, as upstream); set on anything but a `LoadBalancer` (path `spec.LoadBalancerSourceRanges`, as upstream writes it) |
    /// | `status.loadBalancer.ingress[i]` | present on anything but a `LoadBalancer`; `ip` not an address; `hostname` an address; `ipMode` not `VIP` or `Proxy`, or set without `ip` |
    ///
    /// Addresses and CIDRs are read as the apiserver reads these legacy fields (leading
    /// zeros in IPv4 octets allowed). An absent `externalTrafficPolicy`,
    /// `internalTrafficPolicy` or `ipMode` is `Cluster`, `Cluster` and `VIP`, as the
    /// apiserver defaults them; `healthCheckNodePort`, which the apiserver allocates, may
    /// be absent. The node-port range (`--service-node-port-range`) is the cluster's
    /// configuration and is not checked.
    ///
    /// ```
    /// use netpol::service::{Addressing, Service, TargetPort};
    /// let svc = Service::from_json(r#"{"metadata": {"name": "dns", "namespace": "kube-system"},
    ///   "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
    ///            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
    ///                      {"name": "metrics", "port": 9153}]}}"#).unwrap();
    /// let r = svc.resolve().unwrap();
    /// assert_eq!(r.addressing, Addressing::ClusterIps(vec!["10.96.0.10".parse().unwrap()]));
    /// assert_eq!(r.ports[1].target, TargetPort::Number(9153)); // absent targetPort = port
    /// let bad = Service::from_json(r#"{"metadata": {"name": "x"}, "spec": {"ports": [{"port": 0}]}}"#).unwrap();
    /// assert_eq!(bad.resolve().unwrap_err().to_string(),
    ///     "service default/x: spec.ports[0].port: 0 is not a port number (1-65535)");
    /// let bad = Service::from_json(r#"{"metadata": {"name": "x"},
    ///   "spec": {"externalIPs": ["127.0.0.1"], "ports": [{"port": 80}]}}"#).unwrap();
    /// assert_eq!(bad.resolve().unwrap_err().to_string(),
    ///     "service default/x: spec.externalIPs[0]: \"127.0.0.1\" may not be in the loopback range (127.0.0.0/8, ::1/128)");
    /// ```
    pub fn resolve(&self) -> Result<ResolvedService, ServiceError> {
        let key = self.key();
        let bad = |path: String, message: String| ServiceError::Invalid {
            service: key.clone(),
            path,
            message,
        };
        let name = match self.metadata.name.as_deref() {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                return Err(bad("metadata.name".into(), "a name is required".into()));
            }
        };
        let spec = &self.spec;
        let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
        let addressing = match type_ {
            "ExternalName" => Addressing::ExternalName,
            "ClusterIP" | "NodePort" | "LoadBalancer" => {
                if spec.cluster_ip.as_deref() == Some("None") {
                    Addressing::Headless
                } else {
                    let mut ips = Vec::new();
                    let listed = spec.cluster_ips.as_deref().unwrap_or(&[]);
                    let first = spec.cluster_ip.iter().filter(|s| !s.is_empty());
                    for (path, text) in first.map(|s| ("spec.clusterIP".to_owned(), s)).chain(
                        listed
                            .iter()
                            .enumerate()
                            .map(|(i, s)| (format!("spec.clusterIPs[{i}]"), s)),
                    ) {
                        if text == "None" {
                            continue;
                        }
                        let ip: IpAddr = text
                            .parse()
                            .map_err(|_| bad(path, format!("\"{text}\" is not an IP address")))?;
                        if !ips.contains(&ip) {
                            ips.push(ip);
                        }
                    }
                    Addressing::ClusterIps(ips)
                }
            }
            other => {
                return Err(bad(
                    "spec.type".into(),
                    format!(
                        "unsupported value \"{other}\": supported values are \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
                    ),
                ));
            }
        };
        let service_type = match type_ {
            "NodePort" => ServiceType::NodePort,
            "LoadBalancer" => ServiceType::LoadBalancer,
            "ExternalName" => ServiceType::ExternalName,
            _ => ServiceType::ClusterIp,
        };
        if addressing == Addressing::Headless
            && matches!(
                service_type,
                ServiceType::NodePort | ServiceType::LoadBalancer
            )
        {
            return Err(bad(
                "spec.clusterIP".into(),
                format!("may not be set to 'None' for {type_} services"),
            ));
        }
        let selector = spec.selector.clone().filter(|s| !s.is_empty());
        let mut node_ports_seen: Vec<(Protocol, u16)> = Vec::new();
        let mut ports = Vec::new();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            let number = port_number(p.port)
                .ok_or_else(|| bad(format!("spec.ports[{i}].port"), not_a_port(p.port)))?;
            let protocol = match p.protocol.as_deref() {
                None => Protocol::Tcp,
                Some(text) => text
                    .parse()
                    .map_err(|e| bad(format!("spec.ports[{i}].protocol"), format!("{e}")))?,
            };
            let target = match &p.target_port {
                None => TargetPort::Number(number),
                // The apiserver's defaulting (`SetDefaults_Service`) replaces 0 and "" with
                // the port.
                Some(IntOrString::Int(0)) => TargetPort::Number(number),
                Some(IntOrString::String(s)) if s.is_empty() => TargetPort::Number(number),
                Some(IntOrString::Int(n)) => {
                    TargetPort::Number(port_number(*n).ok_or_else(|| {
                        bad(format!("spec.ports[{i}].targetPort"), not_a_port(*n))
                    })?)
                }
                Some(IntOrString::String(s)) => TargetPort::Named(s.clone()),
            };
            let node_port = match p.node_port.unwrap_or(0) {
                0 => None,
                n => {
                    let path = format!("spec.ports[{i}].nodePort");
                    let number = u16::try_from(n)
                        .ok()
                        .ok_or_else(|| bad(path.clone(), not_a_port(n)))?;
                    if service_type == ServiceType::ClusterIp {
                        return Err(bad(
                            path,
                            "may not be used when `type` is 'ClusterIP'".into(),
                        ));
                    }
                    if node_ports_seen.contains(&(protocol, number)) {
                        return Err(bad(path, format!("duplicate value {n}")));
                    }
                    node_ports_seen.push((protocol, number));
                    Some(number)
                }
            };
            ports.push(ResolvedPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol,
                target,
                node_port,
            });
        }

        let mut external_ips = Vec::new();
        for (i, text) in spec.external_ips.iter().flatten().enumerate() {
            let path = format!("spec.externalIPs[{i}]");
            let ip = sloppy_ip(text)
                .ok_or_else(|| bad(path.clone(), format!("\"{text}\" is not an IP address")))?;
            if let Some(why) = special_ip(ip) {
                return Err(bad(path, format!("\"{text}\" {why}")));
            }
            if !external_ips.contains(&ip) {
                external_ips.push(ip);
            }
        }
        let externally_accessible = matches!(
            service_type,
            ServiceType::NodePort | ServiceType::LoadBalancer
        ) || (service_type == ServiceType::ClusterIp
            && !external_ips.is_empty());
        let policy = |path: &str, value: Option<&str>| match value {
            None | Some("Cluster") => Ok(TrafficPolicy::Cluster),
            Some("Local") => Ok(TrafficPolicy::Local),
            Some(other) => Err(bad(
                path.into(),
                format!(
                    "unsupported value \"{other}\": supported values are \"Cluster\", \"Local\""
                ),
            )),
        };
        let external_traffic_policy = policy(
            "spec.externalTrafficPolicy",
            spec.external_traffic_policy.as_deref(),
        )?;
        if let Some(value) = spec.external_traffic_policy.as_deref() {
            if !externally_accessible {
                return Err(bad(
                    "spec.externalTrafficPolicy".into(),
                    format!("\"{value}\" may only be set for externally-accessible services"),
                ));
            }
        }
        let internal_traffic_policy = policy(
            "spec.internalTrafficPolicy",
            spec.internal_traffic_policy.as_deref(),
        )?;
        let health_check_node_port = match spec.health_check_node_port.unwrap_or(0) {
            0 => None,
            n => {
                let path = "spec.healthCheckNodePort".to_owned();
                if service_type != ServiceType::LoadBalancer
                    || external_traffic_policy != TrafficPolicy::Local
                {
                    return Err(bad(
                        path,
                        format!(
                            "{n} may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
                        ),
                    ));
                }
                Some(port_number(n).ok_or_else(|| bad(path, not_a_port(n)))?)
            }
        };
        let mut source_ranges = Vec::new();
        let ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or(&[]);
        if !ranges.is_empty() && service_type != ServiceType::LoadBalancer {
            return Err(bad(
                "spec.LoadBalancerSourceRanges".into(),
                "may only be used when `type` is 'LoadBalancer'".into(),
            ));
        }
        for (i, text) in ranges.iter().enumerate() {
            let net = crate::policy::parse_cidr(text.trim()).map_err(|_| {
                bad(
                    format!("spec.LoadBalancerSourceRanges[{i}]"),
                    format!("\"{text}\" is not a CIDR (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
                )
            })?;
            if !source_ranges.contains(&net) {
                source_ranges.push(net);
            }
        }
        let mut load_balancer = Vec::new();
        let ingress = self
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_deref())
            .unwrap_or(&[]);
        if !ingress.is_empty() && service_type != ServiceType::LoadBalancer {
            return Err(bad(
                "status.loadBalancer.ingress".into(),
                "may only be used when `spec.type` is 'LoadBalancer'".into(),
            ));
        }
        for (i, point) in ingress.iter().enumerate() {
            let path = |f: &str| format!("status.loadBalancer.ingress[{i}].{f}");
            let ip =
                match point.ip.as_deref().filter(|t| !t.is_empty()) {
                    None => None,
                    Some(text) => Some(sloppy_ip(text).ok_or_else(|| {
                        bad(path("ip"), format!("\"{text}\" is not an IP address"))
                    })?),
                };
            let hostname = point.hostname.clone().filter(|h| !h.is_empty());
            if let Some(h) = &hostname {
                if sloppy_ip(h).is_some() {
                    return Err(bad(
                        path("hostname"),
                        format!("\"{h}\" must be a DNS name, not an IP address"),
                    ));
                }
            }
            let mode = match (point.ip_mode.as_deref(), ip) {
                (None, _) | (Some("VIP"), Some(_)) => IpMode::Vip,
                (Some("Proxy"), Some(_)) => IpMode::Proxy,
                (Some(_), None) => {
                    return Err(bad(
                        path("ipMode"),
                        "may not be specified when `ip` is not set".into(),
                    ));
                }
                (Some(other), Some(_)) => {
                    return Err(bad(
                        path("ipMode"),
                        format!(
                            "unsupported value \"{other}\": supported values are \"Proxy\", \"VIP\""
                        ),
                    ));
                }
            };
            load_balancer.push(IngressPoint { ip, hostname, mode });
        }
        Ok(ResolvedService {
            namespace: self.metadata.namespace_or_default().to_owned(),
            name,
            addressing,
            selector,
            ports,
            service_type,
            external_ips,
            load_balancer,
            external_traffic_policy,
            internal_traffic_policy,
            source_ranges,
            health_check_node_port,
        })
    }
}

/// An address as the apiserver reads the legacy address fields (`ParseIPSloppy`: leading
/// zeros in IPv4 octets are decimal; an IPv4-mapped IPv6 address is IPv4).
fn sloppy_ip(text: &str) -> Option<IpAddr> {
    let bits = if text.contains(':') { 128 } else { 32 };
    if text.contains('/') {
        return None;
    }
    crate::policy::parse_cidr(&format!("{text}/{bits}"))
        .ok()
        .filter(|net| net.prefix_len() == net.max_prefix_len())
        .map(|net| net.addr())
}

/// Why an external IP is refused (`ValidateEndpointIP`), if it is.
fn special_ip(ip: IpAddr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("may not be unspecified (0.0.0.0, ::)");
    }
    if ip.is_loopback() {
        return Some("may not be in the loopback range (127.0.0.0/8, ::1/128)");
    }
    let (link_local, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (v4.is_link_local(), o[..3] == [224, 0, 0])
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            (first & 0xffc0 == 0xfe80, first & 0xff0f == 0xff02)
        }
    };
    if link_local {
        return Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    }
    if link_local_multicast {
        return Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
    }
    None
}

fn port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p > 0)
}

fn not_a_port(n: i32) -> String {
    format!("{n} is not a port number (1-65535)")
}

/// A Service that cannot be decoded, resolved or added to a table.
///
/// ```
/// let e = netpol::service::ServiceError::Duplicate("x/a".into());
/// assert_eq!(e.to_string(), "service \"x/a\" is listed twice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// Not JSON of a Service's shape: the decode error, with its field path.
    #[error(transparent)]
    Decode(#[from] crate::model::DecodeError),
    /// A value routing cannot use.
    #[error("service {service}: {path}: {message}")]
    Invalid {
        /// `namespace/name`.
        service: String,
        /// Field path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Two Services with one namespace and name.
    #[error("service \"{0}\" is listed twice")]
    Duplicate(String),
    /// Two Services claiming one cluster IP.
    #[error("cluster IP {ip} is claimed by both {first} and {second}")]
    DuplicateIp {
        /// The address.
        ip: IpAddr,
        /// The Service listed first.
        first: String,
        /// The Service listed second.
        second: String,
    },
}

// ---------------------------------------------------------------------------------------
// Resolved form
// ---------------------------------------------------------------------------------------

/// How a Service is reached.
///
/// ```
/// use netpol::service::Addressing;
/// assert!(Addressing::Headless.cluster_ips().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Addressing {
    /// Virtual addresses translated to endpoints (types `ClusterIP`, `NodePort`,
    /// `LoadBalancer`). May be empty when the manifest has no address yet; the Service is
    /// then reachable here by name only.
    ClusterIps(Vec<IpAddr>),
    /// `clusterIP: None`: the name resolves to the endpoint pods, no translation.
    Headless,
    /// `type: ExternalName`: a DNS alias outside the cluster.
    ExternalName,
}

impl Addressing {
    /// The cluster IPs (empty unless [`Addressing::ClusterIps`]).
    ///
    /// ```
    /// use netpol::service::{Addressing, Service};
    /// let svc = Service::from_json(r#"{"metadata": {"name": "kube-dns", "namespace": "kube-system"},
    ///     "spec": {"clusterIPs": ["10.96.0.10", "fd00:10:96::a"]}}"#)?;
    /// assert_eq!(svc.resolve()?.addressing.cluster_ips().len(), 2);
    /// assert!(Addressing::ExternalName.cluster_ips().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn cluster_ips(&self) -> &[IpAddr] {
        match self {
            Addressing::ClusterIps(ips) => ips,
            _ => &[],
        }
    }
}

/// Where a Service port forwards to on an endpoint pod.
///
/// ```
/// use netpol::service::TargetPort;
/// assert_eq!(TargetPort::Named("http".into()).to_string(), "http");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetPort {
    /// This number on every endpoint.
    Number(u16),
    /// The container port of this name (and the Service port's protocol), per pod.
    Named(String),
}

impl fmt::Display for TargetPort {
    /// The number, or the name. [`FromStr`](std::str::FromStr) reads it back for every
    /// target port a valid Service can have (a name holds a letter, so it never reads as a
    /// number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPort::Number(n) => write!(f, "{n}"),
            TargetPort::Named(s) => f.write_str(s),
        }
    }
}

/// Text that is neither a port number nor a port name.
///
/// ```
/// let err = "HTTP".parse::<netpol::service::TargetPort>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid target port "HTTP": expected a number 0-65535 or a port name"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target port \"{0}\": expected a number 0-65535 or a port name")]
pub struct TargetPortError(String);

impl std::str::FromStr for TargetPort {
    type Err = TargetPortError;
    /// Digits are a number (0 to 65535), anything else a port name as the API accepts it
    /// (an IANA service name: lowercase letters, digits and `-`, at least one letter, at
    /// most 15 characters).
    ///
    /// ```
    /// use netpol::service::TargetPort;
    /// assert_eq!("8080".parse(), Ok(TargetPort::Number(8080)));
    /// assert_eq!("http".parse(), Ok(TargetPort::Named("http".into())));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(TargetPort::Number)
                .map_err(|_| TargetPortError(s.to_owned()));
        }
        if crate::validate::is_valid_port_name(s).is_empty() {
            Ok(TargetPort::Named(s.to_owned()))
        } else {
            Err(TargetPortError(s.to_owned()))
        }
    }
}

/// A Service port, defaulted.
///
/// ```
/// use netpol::service::{ResolvedPort, TargetPort};
/// let p = ResolvedPort::new(80, Default::default(), TargetPort::Number(8080));
/// assert_eq!((p.port, p.node_port), (80, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResolvedPort {
    /// Port name, if any.
    pub name: Option<String>,
    /// The port the Service exposes.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// Where it forwards to.
    pub target: TargetPort,
    /// The node port, when the Service has one for this port.
    #[serde(default)]
    pub node_port: Option<u16>,
}

impl ResolvedPort {
    /// A port without a name or a node port.
    ///
    /// ```
    /// use netpol::service::{ResolvedPort, TargetPort};
    /// let p = ResolvedPort::new(53, netpol::policy::Protocol::Udp, TargetPort::Named("dns".into()));
    /// assert!(p.name.is_none());
    /// ```
    #[must_use]
    pub fn new(port: u16, protocol: Protocol, target: TargetPort) -> Self {
        ResolvedPort {
            name: None,
            port,
            protocol,
            target,
            node_port: None,
        }
    }
}

/// `spec.type` of a Service.
///
/// ```
/// use netpol::service::ServiceType;
/// assert_eq!(ServiceType::default(), ServiceType::ClusterIp);
/// assert_eq!(ServiceType::LoadBalancer.to_string(), "LoadBalancer");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ServiceType {
    /// `ClusterIP`.
    #[default]
    #[serde(rename = "ClusterIP")]
    ClusterIp,
    /// `NodePort`.
    NodePort,
    /// `LoadBalancer`.
    LoadBalancer,
    /// `ExternalName`.
    ExternalName,
}

impl ServiceType {
    const ALL: [ServiceType; 4] = [
        ServiceType::ClusterIp,
        ServiceType::NodePort,
        ServiceType::LoadBalancer,
        ServiceType::ExternalName,
    ];

    /// The name as `spec.type` writes it.
    ///
    /// ```
    /// assert_eq!(netpol::service::ServiceType::ClusterIp.as_str(), "ClusterIP");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIp => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        }
    }
}

impl fmt::Display for ServiceType {
    /// [`as_str`](ServiceType::as_str); [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Service type name that is not one of the four.
///
/// ```
/// let err = "Headless".parse::<netpol::service::ServiceType>().unwrap_err();
/// assert_eq!(err.to_string(),
///     r#"unknown service type "Headless": expected "ClusterIP", "NodePort", "LoadBalancer" or "ExternalName""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown service type \"{0}\": expected \"ClusterIP\", \"NodePort\", \"LoadBalancer\" or \"ExternalName\""
)]
pub struct UnknownServiceType(String);

impl std::str::FromStr for ServiceType {
    type Err = UnknownServiceType;
    /// The name as `spec.type` writes it, exact case.
    ///
    /// ```
    /// use netpol::service::ServiceType;
    /// assert_eq!("NodePort".parse(), Ok(ServiceType::NodePort));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownServiceType(s.to_owned()))
    }
}

/// `externalTrafficPolicy` or `internalTrafficPolicy`.
///
/// ```
/// use netpol::service::TrafficPolicy;
/// assert_eq!(TrafficPolicy::default(), TrafficPolicy::Cluster);
/// assert_eq!(TrafficPolicy::Local.to_string(), "Local");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TrafficPolicy {
    /// Every ready endpoint of the cluster.
    #[default]
    Cluster,
    /// Only the endpoints on the node that translates the traffic.
    Local,
}

impl fmt::Display for TrafficPolicy {
    /// `Cluster` or `Local`; [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrafficPolicy::Cluster => "Cluster",
            TrafficPolicy::Local => "Local",
        })
    }
}

/// A traffic policy name that is not `Cluster` or `Local`.
///
/// ```
/// let err = "local".parse::<netpol::service::TrafficPolicy>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown traffic policy "local": expected "Cluster" or "Local""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown traffic policy \"{0}\": expected \"Cluster\" or \"Local\"")]
pub struct UnknownTrafficPolicy(String);

impl std::str::FromStr for TrafficPolicy {
    type Err = UnknownTrafficPolicy;
    /// `Cluster` or `Local`, exact case.
    ///
    /// ```
    /// use netpol::service::TrafficPolicy;
    /// assert_eq!("Local".parse(), Ok(TrafficPolicy::Local));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Cluster" => Ok(TrafficPolicy::Cluster),
            "Local" => Ok(TrafficPolicy::Local),
            other => Err(UnknownTrafficPolicy(other.to_owned())),
        }
    }
}

/// `status.loadBalancer.ingress[].ipMode`.
///
/// ```
/// use netpol::service::IpMode;
/// assert_eq!(serde_json::to_string(&IpMode::Vip).unwrap(), "\"VIP\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IpMode {
    /// Traffic reaches the nodes with the load balancer's IP as destination: the service
    /// proxy takes it there, like a cluster IP.
    #[default]
    #[serde(rename = "VIP")]
    Vip,
    /// The load balancer forwards to a node's node port or to a pod itself: the service
    /// proxy programs nothing for the IP (kube-proxy: "only creates rules for VIP-style
    /// load balancers"), so from inside the cluster it is an outside address.
    Proxy,
}

/// A load balancer's ingress point, resolved.
///
/// ```
/// use netpol::service::{IngressPoint, IpMode};
/// let p = IngressPoint { ip: Some("203.0.113.10".parse().unwrap()), hostname: None, mode: IpMode::Vip };
/// assert!(p.is_vip());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPoint {
    /// Its IP, when it has one.
    pub ip: Option<IpAddr>,
    /// Its DNS name, when it has one.
    pub hostname: Option<String>,
    /// How its IP behaves.
    pub mode: IpMode,
}

impl IngressPoint {
    /// Whether the service proxy takes traffic to this point's IP (an IP in `VIP` mode).
    ///
    /// ```
    /// use netpol::service::{IngressPoint, IpMode};
    /// let named = IngressPoint { ip: None, hostname: Some("lb.example.com".into()), mode: IpMode::Vip };
    /// assert!(!named.is_vip());
    /// ```
    #[must_use]
    pub fn is_vip(&self) -> bool {
        self.ip.is_some() && self.mode == IpMode::Vip
    }
}

/// A Service as routing sees it; see [`Service::resolve`].
///
/// ```
/// use netpol::service::{Addressing, ResolvedService};
/// let r = ResolvedService::new("x", "a", Addressing::Headless);
/// assert_eq!(r.key(), "x/a");
/// assert!(!r.externally_accessible());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResolvedService {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Addresses, headless or external name.
    pub addressing: Addressing,
    /// The selector; `None` when absent or empty (endpoints are not managed from labels).
    pub selector: Option<Labels>,
    /// Ports, in order.
    pub ports: Vec<ResolvedPort>,
    /// `spec.type`.
    #[serde(default, rename = "type")]
    pub service_type: ServiceType,
    /// `spec.externalIPs`, parsed.
    #[serde(default)]
    pub external_ips: Vec<IpAddr>,
    /// `status.loadBalancer.ingress`, parsed.
    #[serde(default)]
    pub load_balancer: Vec<IngressPoint>,
    /// `spec.externalTrafficPolicy` (`Cluster` when absent).
    #[serde(default)]
    pub external_traffic_policy: TrafficPolicy,
    /// `spec.internalTrafficPolicy` (`Cluster` when absent).
    #[serde(default)]
    pub internal_traffic_policy: TrafficPolicy,
    /// `spec.loadBalancerSourceRanges`, parsed.
    #[serde(default)]
    pub source_ranges: Vec<ipnet::IpNet>,
    /// `spec.healthCheckNodePort`, when set.
    #[serde(default)]
    pub health_check_node_port: Option<u16>,
}

impl ResolvedService {
    /// A `ClusterIP` Service with no selector, no port and the default traffic policies.
    ///
    /// ```
    /// use netpol::service::{Addressing, ResolvedService};
    /// let r = ResolvedService::new("x", "a", Addressing::ClusterIps(vec!["10.96.0.1".parse().unwrap()]));
    /// assert!(r.ports.is_empty() && r.selector.is_none());
    /// ```
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        addressing: Addressing,
    ) -> Self {
        ResolvedService {
            namespace: namespace.into(),
            name: name.into(),
            addressing,
            selector: None,
            ports: Vec::new(),
            service_type: ServiceType::ClusterIp,
            external_ips: Vec::new(),
            load_balancer: Vec::new(),
            external_traffic_policy: TrafficPolicy::Cluster,
            internal_traffic_policy: TrafficPolicy::Cluster,
            source_ranges: Vec::new(),
            health_check_node_port: None,
        }
    }

    /// Whether traffic from outside the cluster reaches the Service other than through a
    /// cluster IP (`ExternallyAccessible` in `pkg/api/v1/service/util.go`): a `NodePort`
    /// or `LoadBalancer` Service, or a `ClusterIP` one with external IPs.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(r#"{"metadata": {"name": "a"},
    ///   "spec": {"clusterIP": "10.96.0.1", "externalIPs": ["203.0.113.20"], "ports": [{"port": 80}]}}"#)?;
    /// assert!(svc.resolve()?.externally_accessible());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn externally_accessible(&self) -> bool {
        match self.service_type {
            ServiceType::NodePort | ServiceType::LoadBalancer => true,
            ServiceType::ClusterIp => !self.external_ips.is_empty(),
            ServiceType::ExternalName => false,
        }
    }

    /// Whether traffic from outside reaches only the endpoints on the node that receives
    /// it (`ExternalPolicyLocal`: externally accessible and `externalTrafficPolicy:
    /// Local`).
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(r#"{"metadata": {"name": "a"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.1", "externalTrafficPolicy": "Local",
    ///            "ports": [{"port": 80, "nodePort": 30080}]}}"#)?;
    /// assert!(svc.resolve()?.external_policy_local());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn external_policy_local(&self) -> bool {
        self.externally_accessible() && self.external_traffic_policy == TrafficPolicy::Local
    }

    /// The load-balancer IPs the service proxy takes traffic to (`VIP` mode); hostname
    /// and `Proxy`-mode ingress points are not among them.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(r#"{"metadata": {"name": "a"},
    ///   "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30080}]},
    ///   "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"ip": "203.0.113.11", "ipMode": "Proxy"},
    ///                                           {"hostname": "lb.example.com"}]}}}"#)?;
    /// let vips: Vec<_> = svc.resolve()?.load_balancer_vips().collect();
    /// assert_eq!(vips, ["203.0.113.10".parse::<std::net::IpAddr>()?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_balancer_vips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.load_balancer
            .iter()
            .filter(|p| p.is_vip())
            .filter_map(|p| p.ip)
    }

    /// The port `port`/`protocol` of the Service, and its index.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(r#"{"metadata": {"name": "a"},
    ///   "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}]}}"#)?;
    /// assert_eq!(svc.resolve()?.port(443, Default::default()).map(|(i, _)| i), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn port(&self, port: u16, protocol: Protocol) -> Option<(usize, &ResolvedPort)> {
        self.ports
            .iter()
            .enumerate()
            .find(|(_, p)| p.port == port && p.protocol == protocol)
    }

    /// The port whose node port is `node_port`/`protocol`, and its index.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(r#"{"metadata": {"name": "a"},
    ///   "spec": {"type": "NodePort", "clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30080}]}}"#)?;
    /// assert_eq!(svc.resolve()?.node_port(30080, Default::default()).map(|(_, p)| p.port), Some(80));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn node_port(&self, node_port: u16, protocol: Protocol) -> Option<(usize, &ResolvedPort)> {
        self.ports
            .iter()
            .enumerate()
            .find(|(_, p)| p.node_port == Some(node_port) && p.protocol == protocol)
    }

    /// `namespace/name`.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(
    ///     r#"{"metadata": {"name": "web"}, "spec": {"clusterIP": "None"}}"#)?;
    /// assert_eq!(svc.resolve()?.key(), "default/web"); // no namespace written
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

// ---------------------------------------------------------------------------------------
// Table and answers
// ---------------------------------------------------------------------------------------

/// A Service of a [`ServiceTable`], by position in the list the table was built from.
///
/// ```
/// # use netpol::cluster::Cluster;
/// # use netpol::service::{Service, ServiceTable};
/// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
///     "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}}"#)?;
/// let table = ServiceTable::build(&Cluster::builder().build()?, &[svc.resolve()?])?;
/// assert_eq!(table.lookup("shop", "web").unwrap().index(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(u32);

impl ServiceId {
    /// The id as an index into the table's list.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let id = table.lookup("shop", "web").unwrap();
    /// assert_eq!(id.index(), 0); // the first Service given to `build`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One endpoint of a Service port: a pod and the port it receives on.
///
/// ```
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::service::{Service, ServiceTable};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
///     .build()?;
/// let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
///     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
/// let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// let id = table.lookup("shop", "web").unwrap();
/// let e = table.endpoints(id, 80, Default::default())?.iter().next().unwrap();
/// assert_eq!((e.pod, e.target_port), (cluster.pod_id("shop", "web-1").unwrap(), 8080));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ServiceEndpoint {
    /// The pod.
    pub pod: PodId,
    /// The port after translation.
    pub target_port: u16,
}

/// Why a Service has no endpoint for a flow.
///
/// ```
/// use netpol::service::NoEndpoints;
/// assert_eq!(NoEndpoints::NoSelector.to_string(),
///     "the service has no selector: its endpoints are managed by hand and not known here");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum NoEndpoints {
    /// No (or an empty) selector: endpoints are written by hand and unknown here.
    NoSelector,
    /// `type: ExternalName`.
    ExternalName,
    /// The Service exposes no such port and protocol.
    UnknownPort,
    /// No pod of the namespace with an IP matches the selector.
    NoMatchingPods,
    /// Pods match, but none declares the named target port with the port's protocol.
    NoPodDeclaresTargetPort(String),
    /// A traffic policy is `Local` and no endpoint runs on the node that translates the
    /// traffic: kube-proxy drops it (`externalTrafficPolicy: Local` at a node without an
    /// endpoint, `internalTrafficPolicy: Local` on a client's node without one).
    NoLocalEndpoint {
        /// The node.
        node: String,
        /// Whether the external traffic policy decided (else the internal one).
        external: bool,
    },
    /// The service proxy takes no traffic for this address (a headless Service's
    /// external IPs or node ports).
    NotProxied,
    /// The endpoints cannot be told (see [`ServiceRequestError`]), as the legacy
    /// [`ServiceTable::explain`] reports it. Serialized as the error's message; not
    /// deserialized (it answers a request, it is not data).
    #[serde(serialize_with = "message", skip_deserializing)]
    Undecidable(ServiceRequestError),
}

impl fmt::Display for NoEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoEndpoints::NoSelector => f.write_str(
                "the service has no selector: its endpoints are managed by hand and not known here",
            ),
            NoEndpoints::ExternalName => {
                f.write_str("the service is an ExternalName alias: it has no endpoints")
            }
            NoEndpoints::UnknownPort => f.write_str("the service exposes no such port"),
            NoEndpoints::NoMatchingPods => {
                f.write_str("no pod with an IP in the service's namespace matches its selector")
            }
            NoEndpoints::NoPodDeclaresTargetPort(name) => write!(
                f,
                "no selected pod declares a container port named \"{name}\" with the port's protocol"
            ),
            NoEndpoints::NoLocalEndpoint {
                node,
                external: true,
            } => write!(
                f,
                "no endpoint runs on {node} and the service's externalTrafficPolicy is Local: {node} drops the traffic (its health check tells a load balancer that it has no endpoint)"
            ),
            NoEndpoints::NoLocalEndpoint {
                node,
                external: false,
            } => write!(
                f,
                "no endpoint runs on the client's node {node} and the service's internalTrafficPolicy is Local: the traffic is dropped"
            ),
            NoEndpoints::NotProxied => f.write_str(
                "the service proxy takes no traffic for this address of a headless service",
            ),
            NoEndpoints::Undecidable(why) => write!(f, "the endpoints cannot be told: {why}"),
        }
    }
}

impl std::error::Error for NoEndpoints {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NoEndpoints::Undecidable(e) => Some(e),
            _ => None,
        }
    }
}

/// Serializes a value as its `Display` text.
fn message<T: fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// How many endpoints a flow to a Service reaches.
///
/// ```
/// use netpol::service::Reachability;
/// assert_eq!(Reachability::from_counts(3, 3), Reachability::All);
/// assert_eq!(Reachability::from_counts(1, 3), Reachability::Some);
/// assert_eq!(Reachability::from_counts(0, 3), Reachability::None);
/// assert_eq!(Reachability::from_counts(0, 0), Reachability::NoEndpoints);
/// assert_eq!(serde_json::to_string(&Reachability::NoEndpoints).unwrap(), "\"noEndpoints\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reachability {
    /// Every endpoint allows the flow.
    All,
    /// At least one endpoint allows it and at least one denies it.
    Some,
    /// Endpoints exist and every one denies it.
    None,
    /// There is no endpoint to reach.
    NoEndpoints,
}

impl Reachability {
    /// The summary for `allowed` reachable endpoints out of `total`.
    ///
    /// ```
    /// use netpol::service::Reachability;
    /// assert_eq!(Reachability::from_counts(2, 3), Reachability::Some);
    /// assert_eq!(Reachability::from_counts(0, 0), Reachability::NoEndpoints);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn from_counts(allowed: usize, total: usize) -> Self {
        if total == 0 {
            Reachability::NoEndpoints
        } else if allowed == total {
            Reachability::All
        } else if allowed == 0 {
            Reachability::None
        } else {
            Reachability::Some
        }
    }

    /// `all`, `some`, `none` or `noEndpoints`.
    ///
    /// ```
    /// use netpol::service::Reachability;
    /// assert_eq!(Reachability::NoEndpoints.as_str(), "noEndpoints");
    /// assert_eq!(Reachability::All.to_string(), "all");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Reachability::All => "all",
            Reachability::Some => "some",
            Reachability::None => "none",
            Reachability::NoEndpoints => "noEndpoints",
        }
    }
}

impl fmt::Display for Reachability {
    /// [`as_str`](Reachability::as_str); [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reachability name that is not `all`, `some`, `none` or `noEndpoints`.
///
/// ```
/// let err = "most".parse::<netpol::service::Reachability>().unwrap_err();
/// assert_eq!(err.to_string(),
///     r#"unknown reachability "most": expected "all", "some", "none" or "noEndpoints""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reachability \"{0}\": expected \"all\", \"some\", \"none\" or \"noEndpoints\"")]
pub struct UnknownReachability(String);

impl std::str::FromStr for Reachability {
    type Err = UnknownReachability;
    /// A name as [`as_str`](Reachability::as_str) writes it.
    ///
    /// ```
    /// use netpol::service::Reachability;
    /// assert_eq!("noEndpoints".parse(), Ok(Reachability::NoEndpoints));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Reachability::All,
            Reachability::Some,
            Reachability::None,
            Reachability::NoEndpoints,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| UnknownReachability(s.to_owned()))
    }
}

/// The answer for one endpoint: the translated flow and its explanation.
///
/// ```
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::service::{Service, ServiceTable};
/// # let cluster = Cluster::builder()
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
/// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// # use netpol::cluster::Endpoint;
/// let engine = netpol::engine::Engine::build(&cluster, &[]);
/// let client = Endpoint::Pod(cluster.pod_id("shop", "client").unwrap());
/// let answer = table.explain(&engine, client, table.lookup("shop", "web").unwrap(), 80, Default::default());
/// let e = &answer.endpoints[0];
/// assert_eq!((e.endpoint.as_str(), e.target_port), ("shop/web-1", 8080));
/// assert_eq!(e.flow.dst, Endpoint::Pod(e.pod));
/// assert!(e.explanation.verdict.is_allowed());
/// assert_eq!(e.source_seen, netpol::service::SourceSeen::Client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EndpointVerdict {
    /// The endpoint pod.
    #[serde(skip)]
    pub pod: PodId,
    /// `namespace/name` of the pod.
    pub endpoint: String,
    /// The port the flow reaches the pod on.
    pub target_port: u16,
    /// The flow after translation, as the endpoint's ingress policy judges it: from the
    /// source it sees.
    #[serde(skip)]
    pub flow: Flow<'static>,
    /// The flow the client's egress policy judged, when it is not [`flow`](Self::flow):
    /// a pod whose traffic is masqueraded on the way is judged at its own node before the
    /// masquerade (to the endpoint), or, dialling another node's node port, before any
    /// translation (to that node at the node port).
    #[serde(skip)]
    pub egress_flow: Option<Flow<'static>>,
    /// [`egress_flow`](Self::egress_flow), described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_judged: Option<String>,
    /// Which source the endpoint's ingress policy saw.
    pub source_seen: SourceSeen,
    /// When the endpoint saw another source than the client: whether its ingress policy
    /// would admit the client's own address (so the translation, not the policy, makes
    /// the difference when this differs from the verdict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ingress: Option<Verdict>,
    /// The evaluator's explanation: egress at the client as judged on
    /// [`egress_flow`](Self::egress_flow) (or [`flow`](Self::flow)), ingress at the
    /// endpoint as judged on [`flow`](Self::flow).
    pub explanation: Explanation,
}

/// The full answer for a flow to a Service.
///
/// ```
/// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
/// # use netpol::reference::Reference;
/// # use netpol::service::{Reachability, Service, ServiceTable};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "c").ip("10.0.0.9".parse().unwrap())).build().unwrap();
/// let svc = Service::from_json(r#"{"metadata": {"name": "manual", "namespace": "x"},
///     "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}"#).unwrap();
/// let table = ServiceTable::build(&cluster, &[svc.resolve().unwrap()]).unwrap();
/// let r = Reference::new(&cluster, &[], Default::default());
/// let c = Endpoint::Pod(cluster.pod_id("x", "c").unwrap());
/// let answer = table.explain(&r, c, table.lookup("x", "manual").unwrap(), 80, Default::default());
/// assert_eq!(answer.reachability, Reachability::NoEndpoints);
/// assert!(answer.to_string().contains("no selector"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceVerdict {
    /// `namespace/name` of the Service.
    pub service: String,
    /// The flow as asked: `source -> service port/protocol`, with the address dialled
    /// when it is not the Service's name.
    pub flow: String,
    /// The summary.
    pub reachability: Reachability,
    /// Why there is no endpoint, when there is none.
    pub no_endpoints: Option<NoEndpoints>,
    /// The node that received and translated the traffic, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    /// The translation, step by step, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub translation: Vec<String>,
    /// When the traffic was dropped before any policy (by `loadBalancerSourceRanges`):
    /// why. Every endpoint is then unreachable, and none is listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Dropped>,
    /// Every endpoint the traffic may reach, in pod order, with its verdict.
    pub endpoints: Vec<EndpointVerdict>,
}

impl ServiceVerdict {
    /// Whether every endpoint is reachable (and there is at least one).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # use netpol::{cluster::Endpoint, engine::Engine, model::NetworkPolicy, policy::Policy};
    /// let client = Endpoint::Pod(cluster.pod_id("shop", "client").unwrap());
    /// let id = table.lookup("shop", "web").unwrap();
    /// let open = Engine::build(&cluster, &[]);
    /// assert!(table.explain(&open, client, id, 80, Default::default()).all_reachable());
    /// let deny = [Policy::new(&NetworkPolicy::new("shop", "default-deny"))?];
    /// let closed = Engine::build(&cluster, &deny);
    /// assert!(!table.explain(&closed, client, id, 80, Default::default()).all_reachable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn all_reachable(&self) -> bool {
        self.reachability == Reachability::All
    }
}

impl fmt::Display for ServiceVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = match (&self.dropped, self.reachability) {
            (Some(_), _) => "NONE (dropped)".to_owned(),
            (None, r) => r.as_str().to_uppercase(),
        };
        write!(f, "{}: {summary}", self.flow)?;
        for step in &self.translation {
            write!(f, "\n  {step}")?;
        }
        if let Some(why) = &self.dropped {
            write!(f, "\n  {why}")?;
        }
        if let Some(why) = &self.no_endpoints {
            write!(f, "\n  {why}")?;
        }
        for e in &self.endpoints {
            write!(
                f,
                "\n  endpoint {} port {}: {}",
                e.endpoint, e.target_port, e.explanation.verdict
            )?;
            if e.source_seen != SourceSeen::Client {
                write!(f, "\n    {}", e.source_seen)?;
                let seen = match &e.source_seen {
                    SourceSeen::Masqueraded {
                        address: Some(a), ..
                    }
                    | SourceSeen::ClientNode {
                        address: Some(a), ..
                    } => a.to_string(),
                    _ => "the address seen".to_owned(),
                };
                let rules: Vec<String> = e
                    .explanation
                    .ingress
                    .allowed_by
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                match (e.client_ingress, e.explanation.ingress.allowed) {
                    (Some(Verdict::Allow), false) => write!(
                        f,
                        "\n    the client's own address would be admitted: what admits it (an ipBlock of the client's network) does not hold {seen}"
                    )?,
                    (Some(Verdict::Deny), true) => {
                        write!(f, "\n    admitted only because {seen} is")?;
                        if !rules.is_empty() {
                            write!(f, " (by {})", rules.join(", "))?;
                        }
                        f.write_str(
                            ": the client's own address would not be, and every client translated the same way is let in",
                        )?;
                    }
                    (Some(Verdict::Allow), true) => {
                        f.write_str("\n    the client's own address would be admitted too")?;
                    }
                    (Some(Verdict::Deny), false) => {
                        f.write_str("\n    the client's own address would not be admitted either")?;
                    }
                    (None, _) => {}
                }
            }
            if let Some(egress) = &e.egress_judged {
                write!(
                    f,
                    "\n    egress judged as {egress}, ingress as {}",
                    e.explanation.flow
                )?;
            }
            for line in e.explanation.to_string().lines().skip(1) {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    service: ResolvedService,
    /// Per Service port: its endpoints, or why there are none.
    ports: Vec<Result<Vec<ServiceEndpoint>, NoEndpoints>>,
    /// Headless: the selected pods (used at the queried port).
    pods: Result<Vec<PodId>, NoEndpoints>,
}

/// The Services of a cluster with their endpoints resolved.
///
/// Built once from a [`Cluster`] and resolved Services; answers with any [`Evaluator`]
/// built for the same cluster. [`ServiceTable::reachability`] allocates nothing.
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::service::{Service, ServiceTable};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a").label("app", "a").ip("10.0.0.1".parse().unwrap())).build().unwrap();
/// let svc = Service::from_json(r#"{"metadata": {"name": "a", "namespace": "x"},
///     "spec": {"clusterIP": "10.96.0.1", "selector": {"app": "a"}, "ports": [{"port": 80}]}}"#).unwrap();
/// let table = ServiceTable::build(&cluster, &[svc.resolve().unwrap()]).unwrap();
/// let id = table.lookup("x", "a").unwrap();
/// assert_eq!(table.lookup_ip("10.96.0.1".parse().unwrap()), Some(id));
/// assert_eq!(table.endpoints(id, 80, Default::default()).unwrap().len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServiceTable {
    entries: Vec<Entry>,
    by_name: HashMap<(String, String), ServiceId>,
    by_ip: HashMap<IpAddr, ServiceId>,
    /// Load-balancer IPs (VIP mode) and external IPs, each with the Services claiming it.
    by_external: HashMap<IpAddr, Vec<ServiceId>>,
}

impl ServiceTable {
    /// Resolves every Service's endpoints against `cluster`. Fails on two Services with
    /// one name or one cluster IP.
    ///
    /// ```
    /// use netpol::cluster::Cluster;
    /// use netpol::service::{Service, ServiceError, ServiceTable};
    /// let a = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "10.96.0.10"}}"#)?;
    /// let b = Service::from_json(r#"{"metadata": {"name": "api", "namespace": "shop"}, "spec": {"clusterIP": "10.96.0.10"}}"#)?;
    /// let err = ServiceTable::build(&Cluster::default(), &[a.resolve()?, b.resolve()?]).unwrap_err();
    /// assert!(matches!(err, ServiceError::DuplicateIp { ref second, .. } if second == "shop/api"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(cluster: &Cluster, services: &[ResolvedService]) -> Result<Self, ServiceError> {
        let mut table = ServiceTable::default();
        for service in services {
            let id = ServiceId(
                u32::try_from(table.entries.len())
                    .map_err(|_| ServiceError::Duplicate(service.key()))?,
            );
            let key = (service.namespace.clone(), service.name.clone());
            if table.by_name.contains_key(&key) {
                return Err(ServiceError::Duplicate(service.key()));
            }
            for ip in service.addressing.cluster_ips() {
                if let Some(other) = table.by_ip.get(ip) {
                    let first = table
                        .entries
                        .get(other.index())
                        .map(|e| e.service.key())
                        .unwrap_or_default();
                    return Err(ServiceError::DuplicateIp {
                        ip: *ip,
                        first,
                        second: service.key(),
                    });
                }
                table.by_ip.insert(*ip, id);
            }
            for ip in service
                .load_balancer_vips()
                .chain(service.external_ips.iter().copied())
            {
                let ids = table.by_external.entry(ip).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            table.by_name.insert(key, id);
            table.entries.push(resolve_entry(cluster, service));
        }
        Ok(table)
    }

    /// Number of Services.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// assert_eq!(table.len(), 1);
    /// assert_eq!(ServiceTable::default().len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table holds no Service.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// assert!(!table.is_empty());
    /// assert!(ServiceTable::default().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The Service `namespace/name`.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// assert!(table.lookup("shop", "web").is_some());
    /// assert!(table.lookup("default", "web").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<ServiceId> {
        self.by_name
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// The Service owning a cluster IP.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// assert_eq!(table.lookup_ip("10.96.0.10".parse()?), table.lookup("shop", "web"));
    /// assert!(table.lookup_ip("10.244.1.5".parse()?).is_none()); // a pod IP, not a Service
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<ServiceId> {
        self.by_ip.get(&ip).copied()
    }

    /// The Service and the index of its port matching a cluster IP, port and protocol.
    ///
    /// ```
    /// # use netpol::cluster::Cluster;
    /// # use netpol::service::{Service, ServiceTable};
    /// # use netpol::policy::Protocol;
    /// let svc = Service::from_json(r#"{"metadata": {"name": "dns", "namespace": "k"},
    ///     "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "tcp", "port": 53}, {"name": "udp", "port": 53, "protocol": "UDP"}]}}"#).unwrap();
    /// let table = ServiceTable::build(&Cluster::default(), &[svc.resolve().unwrap()]).unwrap();
    /// let ip = "10.96.0.10".parse().unwrap();
    /// assert_eq!(table.lookup_port(ip, 53, Protocol::Udp).map(|(_, i)| i), Some(1));
    /// assert!(table.lookup_port(ip, 54, Protocol::Udp).is_none());
    /// ```
    #[must_use]
    pub fn lookup_port(
        &self,
        ip: IpAddr,
        port: u16,
        protocol: Protocol,
    ) -> Option<(ServiceId, usize)> {
        let id = self.lookup_ip(ip)?;
        let entry = self.entries.get(id.index())?;
        let index = entry
            .service
            .ports
            .iter()
            .position(|p| p.port == port && p.protocol == protocol)?;
        Some((id, index))
    }

    /// A Service by id.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # use netpol::service::TargetPort;
    /// let web = table.service(table.lookup("shop", "web").unwrap()).unwrap();
    /// assert_eq!(web.ports[0].target, TargetPort::Number(8080));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn service(&self, id: ServiceId) -> Option<&ResolvedService> {
        self.entries.get(id.index()).map(|e| &e.service)
    }

    /// Iterates over ids and Services.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let keys: Vec<String> = table.services().map(|(_, s)| s.key()).collect();
    /// assert_eq!(keys, ["shop/web"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn services(&self) -> impl Iterator<Item = (ServiceId, &ResolvedService)> + '_ {
        self.entries
            .iter()
            .enumerate()
            // `build` refuses a table whose positions do not fit in u32; should one
            // not, u32::MAX names no Service and is refused as unknown.
            .map(|(i, e)| (ServiceId(u32::try_from(i).unwrap_or(u32::MAX)), &e.service))
    }

    /// The endpoints a flow to the Service on `port`/`protocol` can land on, each with its
    /// target port; for a headless Service, every selected pod at `port` itself.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # use netpol::{policy::Protocol, service::NoEndpoints};
    /// let id = table.lookup("shop", "web").unwrap();
    /// let endpoints = table.endpoints(id, 80, Protocol::Tcp).unwrap();
    /// assert_eq!(endpoints.iter().next().map(|e| e.target_port), Some(8080));
    /// assert_eq!(table.endpoints(id, 80, Protocol::Udp).unwrap_err(), NoEndpoints::UnknownPort);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn endpoints(
        &self,
        id: ServiceId,
        port: u16,
        protocol: Protocol,
    ) -> Result<Endpoints<'_>, NoEndpoints> {
        let Some(entry) = self.entries.get(id.index()) else {
            return Err(NoEndpoints::UnknownPort);
        };
        match &entry.service.addressing {
            Addressing::ExternalName => Err(NoEndpoints::ExternalName),
            Addressing::Headless => match &entry.pods {
                Ok(pods) => Ok(Endpoints::Direct { pods, port }),
                Err(why) => Err(why.clone()),
            },
            Addressing::ClusterIps(_) => {
                let index = entry
                    .service
                    .ports
                    .iter()
                    .position(|p| p.port == port && p.protocol == protocol);
                match index.and_then(|i| entry.ports.get(i)) {
                    None if entry.service.selector.is_none() => Err(NoEndpoints::NoSelector),
                    None => Err(NoEndpoints::UnknownPort),
                    Some(Ok(list)) => Ok(Endpoints::Translated(list)),
                    Some(Err(why)) => Err(why.clone()),
                }
            }
        }
    }

    /// How many endpoints `src` reaches through the Service's name (its primary cluster
    /// IP) on `port`/`protocol`, using `evaluator.decide` per endpoint, with the
    /// conformance profile's translation (see [`ServiceTable::reach`] for any address and
    /// plugin): `internalTrafficPolicy: Local` keeps the endpoints on the client's node.
    /// A request that cannot be answered (a `Local` policy and a client whose node is
    /// unknown) counts as no endpoint. Allocates nothing (beyond what the evaluator does).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # use netpol::{cluster::Endpoint, model::NetworkPolicy, policy::Policy, reference::Reference};
    /// # use netpol::service::Reachability;
    /// let client = Endpoint::Pod(cluster.pod_id("shop", "client").unwrap());
    /// let id = table.lookup("shop", "web").unwrap();
    /// let deny = [Policy::new(&NetworkPolicy::new("shop", "default-deny"))?];
    /// let reference = Reference::new(&cluster, &deny, Default::default());
    /// assert_eq!(table.reachability(&reference, client, id, 80, Default::default()), Reachability::None);
    /// assert_eq!(table.reachability(&reference, client, id, 443, Default::default()), Reachability::NoEndpoints);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reachability<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        src: Endpoint,
        id: ServiceId,
        port: u16,
        protocol: Protocol,
    ) -> Reachability {
        let request = ServiceRequest::new(src, id, ServiceAddress::Name, port, protocol);
        self.reach(evaluator, &ServiceProxy::default(), request)
            .unwrap_or(Reachability::NoEndpoints)
    }

    /// The full answer through the Service's name, as [`reachability`](Self::reachability)
    /// counts it: every endpoint's translated flow with its explanation (see
    /// [`ServiceTable::answer`] for any address and plugin; a request that cannot be
    /// answered gives [`NoEndpoints::Undecidable`]).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// # use netpol::{cluster::Endpoint, reference::Reference, service::Reachability};
    /// let client = Endpoint::Pod(cluster.pod_id("shop", "client").unwrap());
    /// let id = table.lookup("shop", "web").unwrap();
    /// let reference = Reference::new(&cluster, &[], Default::default());
    /// let answer = table.explain(&reference, client, id, 80, Default::default());
    /// assert_eq!(answer.flow, "shop/client -> service shop/web 80/TCP");
    /// assert_eq!(answer.reachability, Reachability::All);
    /// assert_eq!(answer.endpoints[0].flow.port, 8080); // decided after translation
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain<E: Evaluator + ?Sized>(
        &self,
        evaluator: &E,
        src: Endpoint,
        id: ServiceId,
        port: u16,
        protocol: Protocol,
    ) -> ServiceVerdict {
        let request = ServiceRequest::new(src, id, ServiceAddress::Name, port, protocol);
        match self.answer(evaluator, &ServiceProxy::default(), request) {
            Ok(v) => v,
            Err(e) => {
                let cluster = evaluator.cluster();
                let service = self
                    .service(id)
                    .map(ResolvedService::key)
                    .unwrap_or_default();
                ServiceVerdict {
                    flow: format!(
                        "{} -> service {service} {port}/{protocol}",
                        cluster.describe(src)
                    ),
                    service,
                    reachability: Reachability::NoEndpoints,
                    no_endpoints: Some(NoEndpoints::Undecidable(e)),
                    received_by: None,
                    translation: Vec::new(),
                    dropped: None,
                    endpoints: Vec::new(),
                }
            }
        }
    }
}

/// The endpoints of a Service port; see [`ServiceTable::endpoints`].
///
/// ```
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::service::{Service, ServiceTable};
/// # let cluster = Cluster::builder()
/// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
/// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
/// #     .build()?;
/// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
/// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
/// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
/// use netpol::service::Endpoints;
/// let headless = Service::from_json(r#"{"metadata": {"name": "web-pods", "namespace": "shop"},
///     "spec": {"clusterIP": "None", "selector": {"app": "web"}}}"#)?;
/// let table = ServiceTable::build(&cluster, &[headless.resolve()?])?;
/// let id = table.lookup("shop", "web-pods").unwrap();
/// let endpoints = table.endpoints(id, 8443, Default::default()).unwrap();
/// assert!(matches!(endpoints, Endpoints::Direct { port: 8443, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Endpoints<'a> {
    /// Through a cluster IP: each pod with its own target port.
    Translated(&'a [ServiceEndpoint]),
    /// Headless: each pod at the port the client chose.
    Direct {
        /// The selected pods.
        pods: &'a [PodId],
        /// The port, unchanged.
        port: u16,
    },
}

impl<'a> Endpoints<'a> {
    /// Iterates over the endpoints.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let id = table.lookup("shop", "web").unwrap();
    /// let endpoints = table.endpoints(id, 80, Default::default()).unwrap();
    /// let pods: Vec<_> = endpoints.iter().map(|e| cluster.describe(netpol::cluster::Endpoint::Pod(e.pod))).collect();
    /// assert_eq!(pods, ["shop/web-1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = ServiceEndpoint> + 'a {
        let (translated, direct, port): (&'a [ServiceEndpoint], &'a [PodId], u16) = match *self {
            Endpoints::Translated(list) => (list, &[], 0),
            Endpoints::Direct { pods, port } => (&[], pods, port),
        };
        translated
            .iter()
            .copied()
            .chain(direct.iter().map(move |pod| ServiceEndpoint {
                pod: *pod,
                target_port: port,
            }))
    }

    /// How many endpoints.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let id = table.lookup("shop", "web").unwrap();
    /// assert_eq!(table.endpoints(id, 80, Default::default()).unwrap().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Endpoints::Translated(list) => list.len(),
            Endpoints::Direct { pods, .. } => pods.len(),
        }
    }

    /// Whether there is none (never the case for a value [`ServiceTable::endpoints`]
    /// returns).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::service::{Service, ServiceTable};
    /// # let cluster = Cluster::builder()
    /// #     .pod(PodSpec::new("shop", "web-1").label("app", "web").ip("10.244.1.5".parse()?))
    /// #     .pod(PodSpec::new("shop", "client").ip("10.244.1.9".parse()?))
    /// #     .build()?;
    /// # let svc = Service::from_json(r#"{"metadata": {"name": "web", "namespace": "shop"},
    /// #     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}"#)?;
    /// # let table = ServiceTable::build(&cluster, &[svc.resolve()?])?;
    /// let id = table.lookup("shop", "web").unwrap();
    /// assert!(!table.endpoints(id, 80, Default::default()).unwrap().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn resolve_entry(cluster: &Cluster, service: &ResolvedService) -> Entry {
    let selected: Result<Vec<PodId>, NoEndpoints> = match &service.selector {
        None => Err(NoEndpoints::NoSelector),
        Some(selector) => {
            let pods: Vec<PodId> = cluster
                .pod_ids()
                .filter(|id| {
                    cluster.pod(*id).is_some_and(|pod| {
                        !pod.ips.is_empty()
                            && cluster.pod_namespace_name(*id) == service.namespace
                            && selector
                                .iter()
                                .all(|(k, v)| pod.labels.get(k).is_some_and(|pv| pv == v))
                    })
                })
                .collect();
            if pods.is_empty() {
                Err(NoEndpoints::NoMatchingPods)
            } else {
                Ok(pods)
            }
        }
    };
    let ports = service
        .ports
        .iter()
        .map(|port| {
            let pods = selected.as_ref().map_err(Clone::clone)?;
            let list: Vec<ServiceEndpoint> = pods
                .iter()
                .filter_map(|id| {
                    let target_port = match &port.target {
                        TargetPort::Number(n) => *n,
                        TargetPort::Named(name) => {
                            cluster.pod(*id)?.ports.iter().find_map(|cp| {
                                (cp.name.as_deref() == Some(name.as_str())
                                    && cp.protocol == port.protocol)
                                    .then_some(cp.port)
                            })?
                        }
                    };
                    Some(ServiceEndpoint {
                        pod: *id,
                        target_port,
                    })
                })
                .collect();
            match (&port.target, list.is_empty()) {
                (TargetPort::Named(name), true) => {
                    Err(NoEndpoints::NoPodDeclaresTargetPort(name.clone()))
                }
                _ => Ok(list),
            }
        })
        .collect();
    Entry {
        service: service.clone(),
        ports,
        pods: selected,
    }
}
