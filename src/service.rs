//! Traffic through Services: a flow to a Service address is decided per endpoint pod,
//! after the address translation, as the data plane does.
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
use crate::explain::{Evaluator, Explanation, Verdict};
use crate::model::go_json::go_struct;
use crate::model::{IntOrString, Labels, ObjectMeta, Time};
use crate::policy::Protocol;

// ---------------------------------------------------------------------------------------
// As-written model
// ---------------------------------------------------------------------------------------

go_struct! {
    /// A `v1` Service exactly as `kubectl get svc -o json` prints it.
    ///
    /// Only the fields that routing uses are typed; every other field (`status`,
    /// `sessionAffinity`, `ipFamilies`, …) is kept in [`extra`](Self::extra) so that the
    /// object serializes back as it was read. Decoding follows the apiserver's rules (see
    /// [`crate::model::go_json`]): the fields kept in `extra` are checked against their
    /// Go types too (`nodePort: "x"` or `status: []` is refused, as the apiserver refuses
    /// it), and an object of another `apiVersion` or `kind` is refused.
    ///
    /// ```
    /// let text = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"db","namespace":"x"},
    ///   "spec":{"clusterIP":"10.96.0.5","ports":[{"port":5432}],"selector":{"app":"db"},
    ///           "sessionAffinity":"None"},"status":{"loadBalancer":{}}}"#;
    /// let svc = netpol::service::Service::from_json(text).unwrap();
    /// assert_eq!(svc.spec.cluster_ip.as_deref(), Some("10.96.0.5"));
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
        /// Every other top-level field (`status`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    kind("v1", "Service");
    checked {
        "status" => status: ServiceStatus,
    }
}

go_struct! {
    /// `spec` of a Service.
    ///
    /// ```
    /// let spec: netpol::service::ServiceSpec = serde_json::from_str(r#"{"clusterIP": "None"}"#).unwrap();
    /// assert!(spec.selector.is_none());
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
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "externalIPs" => external_ips: Vec<String>,
        "sessionAffinity" => session_affinity: String,
        "loadBalancerIP" => load_balancer_ip: String,
        "loadBalancerSourceRanges" => load_balancer_source_ranges: Vec<String>,
        "externalName" => external_name: String,
        "externalTrafficPolicy" => external_traffic_policy: String,
        "healthCheckNodePort" => health_check_node_port: i32,
        "publishNotReadyAddresses" => publish_not_ready_addresses: bool,
        "sessionAffinityConfig" => session_affinity_config: SessionAffinityConfig,
        "ipFamilies" => ip_families: Vec<String>,
        "ipFamilyPolicy" => ip_family_policy: String,
        "allocateLoadBalancerNodePorts" => allocate_load_balancer_node_ports: bool,
        "loadBalancerClass" => load_balancer_class: String,
        "internalTrafficPolicy" => internal_traffic_policy: String,
        "trafficDistribution" => traffic_distribution: String,
    }
}

go_struct! {
    /// One entry of `spec.ports`.
    ///
    /// ```
    /// let p: netpol::service::ServicePort = serde_json::from_str(r#"{"port": 53, "targetPort": "dns", "protocol": "UDP"}"#).unwrap();
    /// assert_eq!(p.target_port, Some(netpol::model::IntOrString::String("dns".into())));
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
        /// Every other field (`nodePort`, `appProtocol`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    checked {
        "appProtocol" => app_protocol: String,
        "nodePort" => node_port: i32,
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
    struct ServiceStatus {
        #[serde(skip_serializing_if = "Option::is_none")]
        load_balancer: Option<LoadBalancerStatus>,
        #[serde(skip_serializing_if = "Option::is_none")]
        conditions: Option<Vec<Condition>>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    #[derive(Debug, Clone, Default, PartialEq)]
    struct LoadBalancerStatus {
        #[serde(skip_serializing_if = "Option::is_none")]
        ingress: Option<Vec<LoadBalancerIngress>>,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }
}

go_struct! {
    #[derive(Debug, Clone, Default, PartialEq)]
    struct LoadBalancerIngress {
        #[serde(skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ip_mode: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ports: Option<Vec<PortStatus>>,
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
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace_or_default(),
            self.metadata.name.as_deref().unwrap_or("")
        )
    }

    /// What the Service means for routing: addresses parsed, protocols and target ports
    /// defaulted, names and numbers checked.
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
        let selector = spec.selector.clone().filter(|s| !s.is_empty());
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
            ports.push(ResolvedPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol,
                target,
            });
        }
        Ok(ResolvedService {
            namespace: self.metadata.namespace_or_default().to_owned(),
            name,
            addressing,
            selector,
            ports,
        })
    }
}

fn port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p > 0)
}

fn not_a_port(n: i32) -> String {
    format!("{n} is not a port number (1-65535)")
}

impl From<crate::model::DecodeError> for ServiceError {
    fn from(e: crate::model::DecodeError) -> Self {
        ServiceError::Decode {
            path: e.path,
            message: e.message,
        }
    }
}

/// A Service that cannot be decoded, resolved or added to a table.
///
/// ```
/// let e = netpol::service::ServiceError::Duplicate("x/a".into());
/// assert_eq!(e.to_string(), "service \"x/a\" is listed twice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// Not JSON of a Service's shape.
    #[error("{path}: {message}")]
    Decode {
        /// Field path of the value that failed.
        path: String,
        /// What is wrong.
        message: String,
    },
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPort::Number(n) => write!(f, "{n}"),
            TargetPort::Named(s) => f.write_str(s),
        }
    }
}

/// A Service port, defaulted.
///
/// ```
/// use netpol::service::{ResolvedPort, TargetPort};
/// let p = ResolvedPort { name: None, port: 80, protocol: Default::default(), target: TargetPort::Number(8080) };
/// assert_eq!(p.port, 80);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedPort {
    /// Port name, if any.
    pub name: Option<String>,
    /// The port the Service exposes.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// Where it forwards to.
    pub target: TargetPort,
}

/// A Service as routing sees it; see [`Service::resolve`].
///
/// ```
/// use netpol::service::{Addressing, ResolvedService};
/// let r = ResolvedService { namespace: "x".into(), name: "a".into(), addressing: Addressing::Headless,
///                           selector: None, ports: vec![] };
/// assert_eq!(r.key(), "x/a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
}

impl ResolvedService {
    /// `namespace/name`.
    ///
    /// ```
    /// let svc = netpol::service::Service::from_json(
    ///     r#"{"metadata": {"name": "web"}, "spec": {"clusterIP": "None"}}"#)?;
    /// assert_eq!(svc.resolve()?.key(), "default/web"); // no namespace written
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        }
    }
}

impl std::error::Error for NoEndpoints {}

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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// The flow after translation.
    #[serde(skip)]
    pub flow: Flow<'static>,
    /// The evaluator's explanation of that flow.
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
    /// The flow as asked: `source -> service port/protocol`.
    pub flow: String,
    /// The summary.
    pub reachability: Reachability,
    /// Why there is no endpoint, when there is none.
    pub no_endpoints: Option<NoEndpoints>,
    /// Every endpoint, in pod order, with its verdict.
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
    pub fn all_reachable(&self) -> bool {
        self.reachability == Reachability::All
    }
}

impl fmt::Display for ServiceVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.flow,
            self.reachability.as_str().to_uppercase()
        )?;
        if let Some(why) = &self.no_endpoints {
            write!(f, "\n  {why}")?;
        }
        for e in &self.endpoints {
            write!(
                f,
                "\n  endpoint {} port {}: {}",
                e.endpoint, e.target_port, e.explanation.verdict
            )?;
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
            .map(|(i, e)| (ServiceId(i as u32), &e.service))
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

    /// How many endpoints `src` reaches through the Service on `port`/`protocol`, using
    /// `evaluator.decide` per endpoint. Allocates nothing (beyond what the evaluator does).
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
        let Ok(endpoints) = self.endpoints(id, port, protocol) else {
            return Reachability::NoEndpoints;
        };
        let mut allowed = 0;
        let mut total = 0;
        for e in endpoints.iter() {
            total += 1;
            let flow =
                Flow::new(src, Endpoint::Pod(e.pod), e.target_port, protocol).through_service();
            if evaluator.decide(flow).is_allowed() {
                allowed += 1;
            }
        }
        Reachability::from_counts(allowed, total)
    }

    /// The full answer: every endpoint's translated flow with its explanation.
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
        let cluster = evaluator.cluster();
        let service = self
            .service(id)
            .map(ResolvedService::key)
            .unwrap_or_default();
        let flow = format!(
            "{} -> service {service} {port}/{protocol}",
            cluster.describe(src)
        );
        let endpoints = match self.endpoints(id, port, protocol) {
            Err(why) => {
                return ServiceVerdict {
                    service,
                    flow,
                    reachability: Reachability::NoEndpoints,
                    no_endpoints: Some(why),
                    endpoints: Vec::new(),
                };
            }
            Ok(e) => e,
        };
        let mut out = Vec::new();
        for e in endpoints.iter() {
            let f = Flow::new(src, Endpoint::Pod(e.pod), e.target_port, protocol).through_service();
            out.push(EndpointVerdict {
                pod: e.pod,
                endpoint: cluster.describe(Endpoint::Pod(e.pod)),
                target_port: e.target_port,
                flow: f,
                explanation: evaluator.explain(f),
            });
        }
        let allowed = out
            .iter()
            .filter(|e| e.explanation.verdict == Verdict::Allow)
            .count();
        ServiceVerdict {
            service,
            flow,
            reachability: Reachability::from_counts(allowed, out.len()),
            no_endpoints: None,
            endpoints: out,
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
