//! Conformance scenarios: a small cluster, policies as `kubectl get -o json` prints them,
//! and queries with expected verdicts, in one JSON document.
//!
//! The format (see the repository's `tests/scenarios/README.md` for the full text):
//!
//! ```json
//! {
//!   "description": "free text",
//!   "namespaces": [ {"name": "x", "labels": {"ns": "x"}} ],
//!   "nodes": [ {"name": "node-1", "ip": "192.168.0.11"} ],
//!   "pods": [ {"namespace": "x", "name": "a", "labels": {"pod": "a"}, "ip": "10.244.1.5",
//!              "node": "node-1", "ports": [ {"name": "http", "port": 80, "protocol": "TCP"} ]} ],
//!   "policies": [ { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
//!                   "metadata": {"name": "p", "namespace": "x"}, "spec": { } } ],
//!   "queries": [ {"from": "x/a", "to": {"ip": "8.8.8.8"}, "port": 53, "protocol": "UDP", "expect": "allow"} ],
//!   "expectRejected": [ {"policy": "x/bad", "field": "spec.ingress[0].ports[0].endPort"} ]
//! }
//! ```
//!
//! Beyond that format (every file in it loads unchanged):
//!
//! - pods and nodes may list several addresses with `"ips": [...]` (dual stack);
//! - `"profile"` names a plugin profile, one of [`Profile::NAMES`]
//!   (`conformance` when absent; see [`profile`](netpol::profile));
//! - `"services"` lists Service objects exactly as `kubectl get svc -o json` prints them
//!   (see [`service`](netpol::service));
//! - a query's `to` may be `{"service": "ns/name"}`, or `{"ip": "..."}` holding a listed
//!   Service's cluster IP (any other address is an outside address, as before). The
//!   query's `port` is then the Service port (for a headless Service, the port connected
//!   to on the pods) and the flow is decided per endpoint after the translation;
//! - `expect` takes, for such a query, `allow` (every endpoint reachable), `deny` (no
//!   endpoint reachable, including when there is none), `some` (some reachable, some not)
//!   or `noEndpoints` (see [`Expect`]); `some` and `noEndpoints` are refused on a query
//!   between endpoints;
//! - `expectEndpoints` (Service queries only) maps endpoint pods, `"ns/name"`, to the
//!   verdict each must get; every listed pod must be an endpoint, unlisted ones are not
//!   checked. A query with both counts once and passes when both hold.
//!
//! Traffic from outside the cluster to Services (node ports, load-balancer IPs, external
//! IPs) and the in-cluster cases kube-proxy translates alike (see
//! [`service`](netpol::service) for the rules and their sources):
//!
//! - `nodes[].podCIDR` (string) or `nodes[].podCIDRs` (list, dual stack): the node's pod
//!   subnets (`spec.podCIDR(s)`); `nodes[].tunnelIP` (string) or `nodes[].tunnelIPs`
//!   (list): its overlay addresses as the plugin records them (Calico's
//!   `projectcalico.org/IPv4IPIPTunnelAddr`). Together with the profile they give the
//!   address a node masquerades Service traffic to
//!   ([`ServiceMasquerade`](netpol::profile::ServiceMasquerade)): a profile that
//!   masquerades to a tunnel address uses `tunnelIP`, else (flannel, canal) the network
//!   address of `podCIDR`, else the node IP.
//! - Services are read whole: `type` `NodePort`/`LoadBalancer`, `ports[].nodePort`,
//!   `externalIPs`, `externalTrafficPolicy` and `internalTrafficPolicy` (`Cluster` when
//!   absent), `loadBalancerSourceRanges`, `healthCheckNodePort`, `clusterIPs` (the first
//!   is the primary family) and `status.loadBalancer.ingress[]` (`ip`, `hostname`,
//!   `ipMode`, `VIP` when absent). Hostname-only and `ipMode: Proxy` entries are not
//!   Service addresses: kube-proxy programs nothing for them.
//! - `kubeProxy` (optional, top level): `{"masqueradeAll": true}` for kube-proxy's
//!   `--masquerade-all`.
//! - A query's `to` may also be:
//!   - `{"service": "ns/name", "nodePort": true, "node": "node-1"}`: the Service's node
//!     port dialled at that node's address; `port` is then the **node port**, and `node`
//!     is required;
//!   - `{"ip": "<load-balancer or external IP>", "node": "node-2"}`: `node` is where
//!     traffic from outside arrives (the load balancer's or router's choice), required
//!     when `from` is an outside address, refused when it is a pod (a pod's packet is
//!     translated on its own node); `port` is the Service port;
//!   - `{"ip": "<cluster IP>"}` of either family: the flow has that address's family;
//!     `{"service": "ns/name"}` means the Service's primary family (`clusterIPs[0]`);
//!     either may carry `node`, the node that routes an outside client's traffic to the
//!     cluster IP (it then masquerades it);
//!   - any other address (a `Proxy`-mode or hostname ingress point among them) stays an
//!     outside address.
//! - `expect` as for other Service queries; `noEndpoints` also when a traffic policy
//!   leaves no endpoint (`externalTrafficPolicy: Local` at a node without one,
//!   `internalTrafficPolicy: Local` on a client's node without one); traffic dropped by
//!   `loadBalancerSourceRanges` is `deny`. For a `Local` policy only the endpoints it
//!   keeps are endpoints of the query (`expectEndpoints` may list only those).
//!
//! ```
//! use netpol_testing::scenario::Scenario;
//! use netpol::service::Reachability;
//! let text = r#"{
//!   "pods": [{"namespace": "x", "name": "web", "labels": {"app": "web"}, "ip": "10.0.0.1"},
//!            {"namespace": "x", "name": "c", "ip": "10.0.0.2"}],
//!   "services": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "x"},
//!                 "spec": {"clusterIP": "10.96.0.1", "selector": {"app": "web"},
//!                          "ports": [{"port": 80, "targetPort": 8080}]}}],
//!   "queries": [{"from": "x/c", "to": {"ip": "10.96.0.1"}, "port": 80, "expect": "allow",
//!                "expectEndpoints": {"x/web": "allow"}}]
//! }"#;
//! let loaded = Scenario::from_json(text)?.load()?;
//! let q = &loaded.service_queries[0];
//! let engine = netpol::engine::Engine::build(&loaded.cluster, &loaded.policies);
//! let answer = loaded.services.explain(&engine, q.src, q.service, q.port, q.protocol);
//! assert_eq!(answer.reachability, Reachability::All);
//! assert_eq!(answer.endpoints[0].target_port, 8080);
//! # Ok::<(), netpol_testing::scenario::ScenarioError>(())
//! ```
//!
//! Loading does no I/O: give it the text.
//!
//! ```
//! use netpol_testing::scenario::Scenario;
//! let text = r#"{
//!   "namespaces": [{"name": "x"}],
//!   "pods": [{"namespace": "x", "name": "a", "ip": "10.0.0.1"},
//!            {"namespace": "x", "name": "b", "ip": "10.0.0.2"}],
//!   "policies": [{"metadata": {"name": "deny", "namespace": "x"},
//!                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}],
//!   "queries": [{"from": "x/a", "to": "x/b", "port": 80, "protocol": "TCP", "expect": "deny"}]
//! }"#;
//! let loaded = Scenario::from_json(text)?.load()?;
//! assert_eq!(loaded.policies.len(), 1);
//! assert_eq!(loaded.queries[0].expect, Some(netpol::explain::Verdict::Deny));
//! # Ok::<(), netpol_testing::scenario::ScenarioError>(())
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ahash::AHashMap as HashMap;
use serde::{Deserialize, Serialize};

use netpol::calico::{CalicoNetworkSet, CalicoPolicy, CalicoTier};
use netpol::cluster::{
    CALICO_TUNNEL_ANNOTATIONS, Cluster, ContainerPort, Endpoint, Flow, NodeId, NodeSpec, PodId,
    PodSpec,
};
use netpol::explain::Verdict;
use netpol::model::{Labels, PolicyObject};
use netpol::policy::{ClusterPolicy, Policy, PolicySet, Protocol};
use netpol::profile::Profile;
use netpol::service::{
    Reachability, Service, ServiceAddress, ServiceId, ServiceProxy, ServiceRequest, ServiceTable,
};
use netpol::validate::{ErrorKind, FieldError, validate_cluster_network_policy};

mod stream;

/// A scenario as written.
///
/// ```
/// use netpol_testing::scenario::Scenario;
/// let s = Scenario::from_json(r#"{"description": "default deny in prod", "profile": "calico",
///   "namespaces": [{"name": "prod"}], "pods": [{"namespace": "prod", "name": "db"}]}"#)?;
/// assert_eq!(s.profile.as_deref(), Some("calico"));
/// assert_eq!(s.pods[0].name, "db");
/// assert!(s.policies.is_empty() && s.queries.is_empty());
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The plugin profile to evaluate with (`conformance` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Namespaces with labels.
    #[serde(default)]
    pub namespaces: Vec<ScenarioNamespace>,
    /// Nodes with host IPs.
    #[serde(default)]
    pub nodes: Vec<ScenarioNode>,
    /// Pods.
    #[serde(default)]
    pub pods: Vec<ScenarioPod>,
    /// Policy objects, each kept as the JSON text written, so that each one is decoded
    /// from that text and validated on its own (see [`ScenarioPolicy`]).
    #[serde(default)]
    pub policies: Vec<ScenarioPolicy>,
    /// Service objects as `kubectl get svc -o json` prints them, kept as JSON so that each
    /// one is decoded on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<serde_json::Value>,
    /// Queries.
    #[serde(default)]
    pub queries: Vec<ScenarioQuery>,
    /// Policies the apiserver refuses, with a refused field each.
    #[serde(default)]
    pub expect_rejected: Vec<ExpectRejected>,
    /// kube-proxy's configuration (absent: its defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_proxy: Option<KubeProxy>,
}

/// One entry of a scenario's `policies`: read from JSON text, the object's text exactly
/// as written; built in code, a JSON value.
///
/// Loading decodes a policy read from text from that text with the apiserver's rules
/// ([`PolicyObject::from_json`]), so that what a parsed `serde_json::Value` would have
/// lost reaches the decoder: a repeated key (Go decodes every occurrence into the same
/// field), the order of keys (which spelling of `apiVersion`/`kind` wins, which of two
/// type errors is reported) and numbers as written (`-0` is the integer 0). A value
/// holds none of these, and is decoded as it is ([`PolicyObject::from_value`]).
///
/// ```
/// use netpol_testing::scenario::{Scenario, ScenarioPolicy};
/// let s = Scenario::from_json(r#"{"policies": [
///   {"metadata": {"name": "p", "namespace": "x", "generation": -0},
///    "spec": {"podSelector": [], "podSelector": {}}}]}"#)?;
/// assert_eq!(s.policies[0].text(), Some(r#"{"metadata": {"name": "p", "namespace": "x", "generation": -0},
///    "spec": {"podSelector": [], "podSelector": {}}}"#));
/// // Go keeps the first occurrence's type error; `-0` is an integer.
/// let loaded = s.load()?;
/// assert_eq!(loaded.outcomes[0].errors[0].field, "spec.podSelector");
/// // Built in code.
/// let p = ScenarioPolicy::from(serde_json::json!({"metadata": {"name": "q"}}));
/// assert_eq!(p.text(), None);
/// assert_eq!(p.to_value()?["metadata"]["name"], "q");
/// assert_eq!(p, ScenarioPolicy::from_json(r#"{"metadata":{"name":"q"}}"#)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "Box<serde_json::value::RawValue>")]
pub struct ScenarioPolicy(PolicyRepr);

/// What a [`ScenarioPolicy`] holds.
#[derive(Clone, Serialize)]
#[serde(untagged)]
enum PolicyRepr {
    /// Read from text: the text.
    Text(Box<serde_json::value::RawValue>),
    /// Built in code.
    Value(serde_json::Value),
}

impl ScenarioPolicy {
    /// Keeps `text` as a policy's text; an error when it is not one JSON value.
    ///
    /// ```
    /// use netpol_testing::scenario::ScenarioPolicy;
    /// let p = ScenarioPolicy::from_json(r#"{"kind": "NetworkPolicy", "kind": "NetworkPolicy"}"#)?;
    /// assert_eq!(p.text(), Some(r#"{"kind": "NetworkPolicy", "kind": "NetworkPolicy"}"#));
    /// assert!(ScenarioPolicy::from_json("{").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::value::RawValue::from_string(text.to_owned()).map(Self::from)
    }

    /// The JSON text, when the policy was read from text.
    pub fn text(&self) -> Option<&str> {
        match &self.0 {
            PolicyRepr::Text(raw) => Some(raw.get()),
            PolicyRepr::Value(_) => None,
        }
    }

    /// The policy as a value. Text is parsed, which keeps only the last of repeated keys
    /// and sorts the keys (fine for reading or changing a policy one writes oneself).
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        match &self.0 {
            PolicyRepr::Text(raw) => serde_json::from_str(raw.get()),
            PolicyRepr::Value(value) => Ok(value.clone()),
        }
    }
}

impl From<Box<serde_json::value::RawValue>> for ScenarioPolicy {
    fn from(raw: Box<serde_json::value::RawValue>) -> Self {
        ScenarioPolicy(PolicyRepr::Text(raw))
    }
}

impl From<serde_json::Value> for ScenarioPolicy {
    fn from(value: serde_json::Value) -> Self {
        ScenarioPolicy(PolicyRepr::Value(value))
    }
}

/// Two texts are equal when they are the same text, two values when they are the same
/// value; a text and a value are compared as values (the text parsed, so that a text
/// with repeated keys equals the value of its last ones).
impl PartialEq for ScenarioPolicy {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (PolicyRepr::Text(a), PolicyRepr::Text(b)) => a.get() == b.get(),
            (PolicyRepr::Value(a), PolicyRepr::Value(b)) => a == b,
            (PolicyRepr::Text(t), PolicyRepr::Value(v))
            | (PolicyRepr::Value(v), PolicyRepr::Text(t)) => {
                serde_json::from_str::<serde_json::Value>(t.get()).is_ok_and(|parsed| parsed == *v)
            }
        }
    }
}

impl std::fmt::Debug for ScenarioPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            PolicyRepr::Text(raw) => f.write_str(raw.get()),
            PolicyRepr::Value(value) => write!(f, "{value}"),
        }
    }
}

/// kube-proxy's flags that change a scenario's answers.
///
/// ```
/// use netpol_testing::scenario::KubeProxy;
/// let k: KubeProxy = serde_json::from_str(r#"{"masqueradeAll": true}"#)?;
/// assert!(k.masquerade_all);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeProxy {
    /// `--masquerade-all`.
    #[serde(default)]
    pub masquerade_all: bool,
}

/// A namespace entry.
///
/// ```
/// use netpol_testing::scenario::ScenarioNamespace;
/// let ns: ScenarioNamespace = serde_json::from_str(r#"{"name": "prod", "labels": {"env": "prod"}}"#)?;
/// assert_eq!(ns.labels["env"], "prod");
/// let bare: ScenarioNamespace = serde_json::from_str(r#"{"name": "kube-system"}"#)?;
/// assert!(bare.labels.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioNamespace {
    /// Name.
    pub name: String,
    /// Labels (`kubernetes.io/metadata.name` is added).
    #[serde(default)]
    pub labels: Labels,
}

/// A node entry.
///
/// ```
/// use netpol_testing::scenario::ScenarioNode;
/// let node: ScenarioNode = serde_json::from_str(r#"{"name": "node-1", "ip": "192.168.0.11",
///   "ips": ["fd00:10::11"], "podCIDR": "10.244.1.0/24", "tunnelIP": "10.244.1.64"}"#)?;
/// assert_eq!(node.ip.as_deref(), Some("192.168.0.11"));
/// assert_eq!(node.ips, ["fd00:10::11"]);
/// assert_eq!(node.pod_cidr.as_deref(), Some("10.244.1.0/24"));
/// assert_eq!(node.tunnel_ip.as_deref(), Some("10.244.1.64"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioNode {
    /// Name.
    pub name: String,
    /// Host IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// More host IPs (dual stack), after `ip`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// Node labels, for peers that select nodes.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// The pod subnet (`spec.podCIDR`).
    #[serde(default, rename = "podCIDR", skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// More pod subnets (dual stack), after `podCIDR`.
    #[serde(default, rename = "podCIDRs", skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
    /// The overlay address the plugin recorded.
    #[serde(default, rename = "tunnelIP", skip_serializing_if = "Option::is_none")]
    pub tunnel_ip: Option<String>,
    /// More overlay addresses, after `tunnelIP`.
    #[serde(default, rename = "tunnelIPs", skip_serializing_if = "Vec::is_empty")]
    pub tunnel_ips: Vec<String>,
}

/// A pod entry.
///
/// ```
/// use netpol_testing::scenario::ScenarioPod;
/// let pod: ScenarioPod = serde_json::from_str(r#"{"namespace": "prod", "name": "db",
///   "labels": {"app": "db"}, "ip": "10.244.1.5", "node": "node-1",
///   "ports": [{"name": "pg", "port": 5432}]}"#)?;
/// assert_eq!(pod.labels["app"], "db");
/// assert_eq!(pod.node.as_deref(), Some("node-1"));
/// assert_eq!(pod.ports[0].port, 5432);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioPod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: Labels,
    /// Pod IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// More pod IPs (dual stack), after `ip`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Container ports.
    #[serde(default)]
    pub ports: Vec<ScenarioPort>,
    /// Service account (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

/// A container port entry.
///
/// ```
/// use netpol_testing::scenario::ScenarioPort;
/// let dns: ScenarioPort = serde_json::from_str(r#"{"name": "dns", "port": 53, "protocol": "UDP"}"#)?;
/// assert_eq!(dns.protocol.as_deref(), Some("UDP"));
/// let http: ScenarioPort = serde_json::from_str(r#"{"port": 8080}"#)?;
/// assert!(http.name.is_none() && http.protocol.is_none()); // TCP when loaded
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioPort {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number.
    pub port: u16,
    /// Protocol, `TCP` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// One side of a query: `"ns/name"`, `{"ip": "..."}` (as a destination optionally with the
/// DNS name the source resolved it from, `{"ip": "...", "domain": "..."}`, or with the
/// node receiving it, `{"ip": "...", "node": "..."}`), `{"node": "name"}`, or (as a
/// destination) `{"service": "ns/name"}` (optionally with `"nodePort": true` and
/// `"node"`).
///
/// ```
/// use netpol_testing::scenario::ScenarioEndpoint;
/// let pod: ScenarioEndpoint = serde_json::from_str(r#""prod/api""#)?;
/// assert_eq!(pod, ScenarioEndpoint::Pod("prod/api".into()));
/// let dns: ScenarioEndpoint = serde_json::from_str(r#"{"ip": "8.8.8.8"}"#)?;
/// assert_eq!(dns, ScenarioEndpoint::Ip { ip: "8.8.8.8".into(), domain: None, node: None });
/// let svc: ScenarioEndpoint = serde_json::from_str(r#"{"service": "kube-system/kube-dns"}"#)?;
/// assert!(matches!(svc, ScenarioEndpoint::Service { node_port: false, .. }));
/// let np: ScenarioEndpoint = serde_json::from_str(r#"{"service": "shop/web", "nodePort": true, "node": "node-1"}"#)?;
/// assert!(matches!(np, ScenarioEndpoint::Service { node_port: true, node: Some(_), .. }));
/// let node: ScenarioEndpoint = serde_json::from_str(r#"{"node": "node-1"}"#)?;
/// assert_eq!(node, ScenarioEndpoint::Node { node: "node-1".into() });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScenarioEndpoint {
    /// A pod, `namespace/name`.
    Pod(String),
    /// A Service by `namespace/name` (destinations only).
    Service {
        /// `namespace/name`.
        service: String,
        /// Whether the Service's node port is dialled (at `node`).
        #[serde(
            default,
            rename = "nodePort",
            skip_serializing_if = "std::ops::Not::not"
        )]
        node_port: bool,
        /// The node whose node port is dialled, or that receives an outside client's
        /// traffic to the cluster IP.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// An address: outside the pod network, or one of a Service's.
    Ip {
        /// The address.
        ip: String,
        /// The name the source resolved the address from (destinations only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
        /// The node receiving traffic from outside to a Service address (destinations
        /// only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// A node's host network.
    Node {
        /// The node name.
        node: String,
    },
}

/// An expected answer: `allow` or `deny` for any query, and for a query to a Service also
/// `some` (some endpoints reachable, some not) or `noEndpoints`.
///
/// For a Service, `allow` means every endpoint is reachable (and there is at least one),
/// `deny` that no endpoint is reachable (including when there is none), `some` that at
/// least one is and at least one is not, `noEndpoints` that the Service has no endpoint
/// for that port.
///
/// ```
/// use netpol_testing::scenario::Expect;
/// use netpol::service::Reachability;
/// let e: Expect = serde_json::from_str("\"noEndpoints\"").unwrap();
/// assert_eq!(e, Expect::NoEndpoints);
/// assert!(Expect::Deny.matches_service(Reachability::NoEndpoints));
/// assert!(!Expect::Allow.matches_service(Reachability::Some));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Expect {
    /// Allowed; for a Service, every endpoint reachable.
    Allow,
    /// Denied; for a Service, no endpoint reachable.
    Deny,
    /// Some endpoints of a Service reachable, some not.
    Some,
    /// The Service has no endpoint for the port.
    NoEndpoints,
}

impl Expect {
    /// The verdict this expects of a flow between endpoints, if it is one.
    ///
    /// ```
    /// use netpol::explain::Verdict;
    /// use netpol_testing::scenario::Expect;
    /// assert_eq!(Expect::Deny.verdict(), Some(Verdict::Deny));
    /// assert_eq!(Expect::Some.verdict(), None); // Services only
    /// ```
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Expect::Allow => Some(Verdict::Allow),
            Expect::Deny => Some(Verdict::Deny),
            Expect::Some | Expect::NoEndpoints => None,
        }
    }

    /// Whether a Service answer meets this expectation.
    ///
    /// ```
    /// use netpol_testing::scenario::Expect;
    /// use netpol::service::Reachability;
    /// assert!(Expect::Some.matches_service(Reachability::Some));
    /// assert!(Expect::Deny.matches_service(Reachability::None));
    /// assert!(!Expect::NoEndpoints.matches_service(Reachability::None));
    /// ```
    pub fn matches_service(self, r: Reachability) -> bool {
        match self {
            Expect::Allow => r == Reachability::All,
            Expect::Deny => matches!(r, Reachability::None | Reachability::NoEndpoints),
            Expect::Some => r == Reachability::Some,
            Expect::NoEndpoints => r == Reachability::NoEndpoints,
        }
    }

    /// `allow`, `deny`, `some` or `noEndpoints`.
    ///
    /// ```
    /// use netpol_testing::scenario::Expect;
    /// assert_eq!(Expect::NoEndpoints.as_str(), "noEndpoints");
    /// assert_eq!(Expect::Allow.to_string(), "allow");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
            Expect::Some => "some",
            Expect::NoEndpoints => "noEndpoints",
        }
    }
}

impl From<Verdict> for Expect {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Allow => Expect::Allow,
            Verdict::Deny => Expect::Deny,
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query.
///
/// ```
/// use netpol_testing::scenario::{Expect, ScenarioEndpoint, ScenarioQuery};
/// let q: ScenarioQuery = serde_json::from_str(
///     r#"{"from": "prod/api", "to": "prod/db", "port": 5432, "expect": "allow"}"#)?;
/// assert_eq!(q.to, ScenarioEndpoint::Pod("prod/db".into()));
/// assert_eq!(q.expect, Some(Expect::Allow));
/// assert!(q.protocol.is_none()); // TCP
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioQuery {
    /// Source.
    pub from: ScenarioEndpoint,
    /// Destination.
    pub to: ScenarioEndpoint,
    /// Destination port; for a Service destination, the Service port.
    pub port: u32,
    /// Protocol, `TCP` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Expected answer; a query without one is only answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// For a query to a Service: the expected verdict of some endpoints, by
    /// `namespace/name`. Each listed pod must be an endpoint with that verdict; endpoints
    /// not listed are not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_endpoints: Option<BTreeMap<String, Verdict>>,
}

/// An `expectRejected` entry.
///
/// ```
/// use netpol_testing::scenario::ExpectRejected;
/// let e: ExpectRejected = serde_json::from_str(
///     r#"{"policy": "prod/bad-ports", "field": "spec.ingress[0].ports[0].endPort"}"#)?;
/// assert_eq!(e.policy, "prod/bad-ports");
/// assert_eq!(e.kind(), "NetworkPolicy");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectRejected {
    /// The kind, as kubectl writes a resource (`NetworkPolicy` when absent,
    /// `ClusterNetworkPolicy`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `namespace/name` of a namespaced policy, `name` of a cluster-scoped one.
    pub policy: String,
    /// The field path of (one of) the refused fields.
    pub field: String,
}

impl ExpectRejected {
    /// The kind, `NetworkPolicy` when not written.
    ///
    /// ```
    /// let e: netpol_testing::scenario::ExpectRejected =
    ///     serde_json::from_str(r#"{"kind": "ClusterNetworkPolicy", "policy": "p", "field": "spec"}"#).unwrap();
    /// assert_eq!(e.kind(), "ClusterNetworkPolicy");
    /// ```
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("NetworkPolicy")
    }
}

/// A scenario that cannot be read or loaded.
///
/// ```
/// use netpol_testing::scenario::{Scenario, ScenarioError};
/// let err = Scenario::from_json(r#"{"queries": [{"from": "prod/api", "to": "prod/db", "port": 0}]}"#)?
///     .load()
///     .unwrap_err();
/// assert!(matches!(&err, ScenarioError::Invalid { path, .. } if path == "queries[0].from"));
/// assert_eq!(err.to_string(), r#"queries[0].from: no pod "prod/api""#);
/// assert!(matches!(Scenario::from_json("{"), Err(ScenarioError::Json { line: 1, .. })));
/// # Ok::<(), ScenarioError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// Not JSON, or not of the scenario's shape.
    #[error("{message} at line {line} column {column}")]
    Json {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A value that does not make sense, with its path in the file.
    #[error("{path}: {message}")]
    Invalid {
        /// Where, e.g. `queries[3].from`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// What became of one policy of the file.
///
/// ```
/// # use netpol_testing::scenario::Scenario;
/// let loaded = Scenario::from_json(r#"{"policies": [
///   {"metadata": {"name": "default-deny", "namespace": "prod"}, "spec": {"podSelector": {}}},
///   {"metadata": {"name": "bad-port", "namespace": "prod"},
///    "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}}]}"#)?.load()?;
/// assert_eq!(loaded.outcomes[0].key, "prod/default-deny");
/// assert!(loaded.outcomes[0].errors.is_empty());
/// assert_eq!(loaded.outcomes[1].errors[0].field, "spec.ingress[0].ports[0].port");
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// The kind, as kubectl writes a resource (`NetworkPolicy`, `ClusterNetworkPolicy`).
    pub kind: String,
    /// `namespace/name` of a namespaced policy, `name` of a cluster-scoped one.
    pub key: String,
    /// Empty when accepted; otherwise the reasons it was refused.
    pub errors: Vec<FieldError>,
    /// For a policy the apiserver accepts but the crate cannot evaluate (a
    /// ClusterNetworkPolicy label selector the CRD does not check, such as an unknown
    /// operator): why. Such a policy takes no part in the queries.
    pub unsupported: Vec<FieldError>,
}

/// A query between endpoints, resolved against the cluster.
///
/// ```
/// # use netpol_testing::scenario::Scenario;
/// use netpol::cluster::Endpoint;
/// use netpol::policy::Protocol;
/// let loaded = Scenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api"}],
///   "queries": [{"from": "prod/api", "to": {"ip": "8.8.8.8"}, "port": 53, "protocol": "UDP"}]}"#)?
///     .load()?;
/// let q = &loaded.queries[0];
/// assert_eq!(q.flow().dst, Endpoint::External("8.8.8.8".parse().unwrap()));
/// assert_eq!((q.flow().port, q.flow().protocol, q.expect), (53, Protocol::Udp, None));
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedQuery {
    /// Position in the file's `queries`.
    pub index: usize,
    /// The flow, without its DNS name (see [`flow`](Self::flow)).
    pub flow: Flow<'static>,
    /// The name the source resolved an outside destination from, if given.
    pub domain: Option<String>,
    /// Expected verdict, if any.
    pub expect: Option<Verdict>,
}

impl LoadedQuery {
    /// The flow, with its DNS name when the query gives one.
    ///
    /// ```
    /// # use netpol_testing::scenario::Scenario;
    /// let loaded = Scenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api"}],
    ///   "queries": [{"from": "prod/api", "to": {"ip": "198.51.100.7", "domain": "api.example.com"}, "port": 443}]}"#)?
    ///     .load()?;
    /// assert_eq!(loaded.queries[0].flow().domain, Some("api.example.com"));
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn flow(&self) -> Flow<'_> {
        match &self.domain {
            Some(d) => self.flow.with_domain(d),
            None => self.flow,
        }
    }
}

/// A query to a Service, resolved against the cluster and the Services.
///
/// ```
/// # use netpol_testing::scenario::{Expect, Scenario};
/// let loaded = Scenario::from_json(r#"{
///   "pods": [{"namespace": "prod", "name": "web", "labels": {"app": "web"}, "ip": "10.244.1.5"}],
///   "services": [{"metadata": {"name": "web", "namespace": "prod"},
///                 "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80}]}}],
///   "queries": [{"from": {"ip": "203.0.113.7"}, "to": {"service": "prod/web"}, "port": 80, "expect": "allow"}]
/// }"#)?.load()?;
/// let q = &loaded.service_queries[0];
/// assert_eq!(q.service, loaded.services.lookup("prod", "web").unwrap());
/// assert_eq!((q.port, q.expect), (80, Some(Expect::Allow)));
/// assert_eq!(q.address, netpol::service::ServiceAddress::Name);
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedServiceQuery {
    /// Position in the file's `queries`.
    pub index: usize,
    /// The source.
    pub src: Endpoint,
    /// The Service.
    pub service: ServiceId,
    /// The address dialled.
    pub address: ServiceAddress,
    /// The node receiving traffic from outside, when given.
    pub node: Option<NodeId>,
    /// The port dialled: the Service port (for a headless Service, the port connected to
    /// on the pods), or the node port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// Expected answer, if any.
    pub expect: Option<Expect>,
    /// Expected verdicts of some endpoints, by pod.
    pub expect_endpoints: Vec<(PodId, Verdict)>,
}

impl LoadedServiceQuery {
    /// The query as a request to [`ServiceTable::answer`].
    ///
    /// ```
    /// # use netpol_testing::scenario::Scenario;
    /// let loaded = Scenario::from_json(r#"{
    ///   "nodes": [{"name": "node-1", "ip": "192.168.0.11"}],
    ///   "pods": [{"namespace": "prod", "name": "web", "labels": {"app": "web"}, "ip": "10.244.1.5", "node": "node-1"}],
    ///   "services": [{"metadata": {"name": "web", "namespace": "prod"},
    ///                 "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
    ///                          "ports": [{"port": 80, "nodePort": 30080}]}}],
    ///   "queries": [{"from": {"ip": "203.0.113.7"}, "to": {"service": "prod/web", "nodePort": true, "node": "node-1"},
    ///                "port": 30080, "expect": "allow"}]
    /// }"#)?.load()?;
    /// let q = &loaded.service_queries[0];
    /// let answer = loaded.services.answer(&netpol::engine::Engine::build(&loaded.cluster, &[]), &loaded.proxy, q.request()).unwrap();
    /// assert_eq!(answer.received_by.as_deref(), Some("node-1"));
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn request(&self) -> ServiceRequest {
        let r = ServiceRequest::new(
            self.src,
            self.service,
            self.address,
            self.port,
            self.protocol,
        );
        match self.node {
            Some(n) => r.received_by(n),
            None => r,
        }
    }
}

/// A query of either kind, by reference; see [`LoadedScenario::queries_in_order`].
///
/// ```
/// # use netpol_testing::scenario::{LoadedItem, Scenario};
/// let loaded = Scenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api"}],
///   "queries": [{"from": "prod/api", "to": "prod/api", "port": 8080, "expect": "allow"}]}"#)?
///     .load()?;
/// let items = loaded.queries_in_order();
/// assert!(matches!(items[0], LoadedItem::Flow(q) if q.flow.port == 8080));
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedItem<'a> {
    /// Between endpoints.
    Flow(&'a LoadedQuery),
    /// To a Service.
    Service(&'a LoadedServiceQuery),
}

/// A scenario resolved into the crate's types.
///
/// ```
/// # use netpol_testing::scenario::Scenario;
/// let loaded = Scenario::from_json(r#"{"profile": "cilium",
///   "namespaces": [{"name": "prod", "labels": {"env": "prod"}}],
///   "pods": [{"namespace": "prod", "name": "db", "ip": "10.244.1.5"}]}"#)?
///     .load()?;
/// assert_eq!(loaded.profile.name(), "cilium");
/// assert!(loaded.cluster.pod_id("prod", "db").is_some());
/// assert!(loaded.policies.is_empty() && loaded.services.is_empty());
/// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The cluster.
    pub cluster: Cluster,
    /// Accepted policies of every kind, in file order within each kind.
    pub policies: PolicySet,
    /// Every policy of the file, in file order, accepted or refused.
    pub outcomes: Vec<PolicyOutcome>,
    /// Queries between endpoints, in file order.
    pub queries: Vec<LoadedQuery>,
    /// Queries to Services, in file order.
    pub service_queries: Vec<LoadedServiceQuery>,
    /// The Services with their endpoints.
    pub services: ServiceTable,
    /// The profile to evaluate with.
    pub profile: Profile,
    /// How Service traffic is translated: the profile's plugin and `kubeProxy`.
    pub proxy: ServiceProxy,
    /// The file's `expectRejected`.
    pub expect_rejected: Vec<ExpectRejected>,
}

impl LoadedScenario {
    /// Reads and loads a scenario: what `Scenario::from_json(text)?.load()` gives, read
    /// in one pass when it can be (see [`read`](Self::read)), so that a large file costs
    /// little more than the cluster and policies it holds.
    ///
    /// ```
    /// use netpol_testing::scenario::{LoadedScenario, ScenarioError};
    /// let loaded = LoadedScenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api"}],
    ///   "queries": [{"from": "prod/api", "to": {"ip": "8.8.8.8"}, "port": 53, "expect": "allow"}]}"#)?;
    /// assert_eq!(loaded.queries.len(), 1);
    /// let err = LoadedScenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api", "ip": "10.0.0.300"}]}"#)
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), r#"pods[0].ips[0]: "10.0.0.300" is not an IP address"#);
    /// assert!(matches!(LoadedScenario::from_json("{"), Err(ScenarioError::Json { .. })));
    /// # Ok::<(), ScenarioError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        match Self::read(text) {
            Some(loaded) => Ok(loaded),
            None => Scenario::from_json(text)?.load(),
        }
    }

    /// The one-pass reader alone: each namespace, node, pod and policy goes to the cluster
    /// builder or the policy list as soon as it is decoded, without a JSON tree of the
    /// text or the list of [`ScenarioPod`]s. `None` when it gives up: on text that is not
    /// a scenario object, on any error (the general path, [`Scenario::from_json`] and
    /// [`Scenario::load`], reports errors), and on a Calico selector case file (an object
    /// with `calicoSelectors` or `calicoBadSelectors`). When it answers, the answer is the
    /// general path's.
    ///
    /// ```
    /// use netpol_testing::scenario::LoadedScenario;
    /// let loaded = LoadedScenario::read(r#"{"namespaces": [{"name": "x"}],
    ///   "pods": [{"namespace": "x", "name": "a", "labels": {"app": "a"}}]}"#).unwrap();
    /// assert!(loaded.cluster.pod_id("x", "a").is_some());
    /// assert!(LoadedScenario::read(r#"{"calicoSelectors": []}"#).is_none());
    /// assert!(LoadedScenario::read(r#"{"pods": [], "pods": []}"#).is_none());
    /// ```
    pub fn read(text: &str) -> Option<Self> {
        stream::read(text)
    }

    /// Every query of both kinds, in file order.
    ///
    /// ```
    /// # use netpol_testing::scenario::{LoadedItem, Scenario};
    /// let loaded = Scenario::from_json(r#"{
    ///   "pods": [{"namespace": "prod", "name": "web", "labels": {"app": "web"}, "ip": "10.244.1.5"}],
    ///   "services": [{"metadata": {"name": "web", "namespace": "prod"},
    ///                 "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80}]}}],
    ///   "queries": [{"from": {"ip": "203.0.113.7"}, "to": {"ip": "10.96.0.10"}, "port": 80},
    ///               {"from": {"ip": "203.0.113.7"}, "to": "prod/web", "port": 80}]
    /// }"#)?.load()?;
    /// let items = loaded.queries_in_order();
    /// assert!(matches!(items[..], [LoadedItem::Service(_), LoadedItem::Flow(_)]));
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn queries_in_order(&self) -> Vec<LoadedItem<'_>> {
        let mut out: Vec<(usize, LoadedItem<'_>)> = self
            .queries
            .iter()
            .map(|q| (q.index, LoadedItem::Flow(q)))
            .chain(
                self.service_queries
                    .iter()
                    .map(|q| (q.index, LoadedItem::Service(q))),
            )
            .collect();
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, item)| item).collect()
    }

    /// Compares the refused policies with `expectRejected`; returns one message per mismatch.
    ///
    /// A policy listed there must be refused with the listed field among its errors (a
    /// field error on a path inside the listed one also counts, since the apiserver may
    /// report the deeper path); every other policy must be accepted.
    ///
    /// ```
    /// # use netpol_testing::scenario::Scenario;
    /// let scenario = Scenario::from_json(r#"{"policies": [{"metadata": {"name": "bad-port", "namespace": "prod"},
    ///   "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}}],
    ///   "expectRejected": [{"policy": "prod/bad-port", "field": "spec.ingress[0]"}]}"#)?;
    /// let loaded = scenario.load()?;
    /// assert!(loaded.rejection_mismatches(&scenario.expect_rejected).is_empty());
    /// let mismatches = loaded.rejection_mismatches(&[]);
    /// assert_eq!(mismatches[0].0, "prod/bad-port");
    /// assert!(mismatches[0].1.starts_with("refused, but expected to be accepted"));
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn rejection_mismatches(&self, expected: &[ExpectRejected]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for outcome in &self.outcomes {
            let wanted: Vec<&ExpectRejected> = expected
                .iter()
                .filter(|e| e.policy == outcome.key && e.kind() == outcome.kind)
                .collect();
            match (wanted.is_empty(), outcome.errors.is_empty()) {
                (true, true) => {}
                (true, false) => out.push((
                    outcome.key.clone(),
                    format!(
                        "refused, but expected to be accepted: {}",
                        join_errors(&outcome.errors)
                    ),
                )),
                (false, true) => out.push((
                    outcome.key.clone(),
                    format!(
                        "accepted, but expected to be refused at {}",
                        wanted
                            .iter()
                            .map(|w| w.field.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                (false, false) => {
                    for w in wanted {
                        if !outcome
                            .errors
                            .iter()
                            .any(|e| field_matches(&e.field, &w.field))
                        {
                            out.push((
                                outcome.key.clone(),
                                format!(
                                    "refused, but not at {}: {}",
                                    w.field,
                                    join_errors(&outcome.errors)
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for e in expected {
            if !self
                .outcomes
                .iter()
                .any(|o| o.key == e.policy && o.kind == e.kind())
            {
                out.push((
                    e.policy.clone(),
                    "listed in expectRejected but not in policies".into(),
                ));
            }
        }
        out
    }
}

fn field_matches(actual: &str, wanted: &str) -> bool {
    actual == wanted
        || actual
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn parse_ip(path: &str, text: &str) -> Result<IpAddr, ScenarioError> {
    parse_ip_at(text, || path.to_owned())
}

/// [`parse_ip`] with the path written only when the address is bad.
fn parse_ip_at(text: &str, path: impl FnOnce() -> String) -> Result<IpAddr, ScenarioError> {
    text.parse()
        .map_err(|_| invalid(path(), format!("\"{text}\" is not an IP address")))
}

fn parse_protocol(path: &str, text: Option<&str>) -> Result<Protocol, ScenarioError> {
    match text {
        None => Ok(Protocol::Tcp),
        Some(p) => p.parse().map_err(|e| invalid(path, format!("{e}"))),
    }
}

impl Scenario {
    /// Reads a scenario from JSON text.
    ///
    /// ```
    /// let err = netpol_testing::scenario::Scenario::from_json("{\"pods\": 3}").unwrap_err();
    /// assert!(err.to_string().contains("line 1"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        // As the apiserver's decoder reads the objects in it: a lone UTF-16 surrogate
        // escape is U+FFFD, not an error.
        let text = go_text(text);
        serde_json::from_str(&text).map_err(|e| ScenarioError::Json {
            message: json_message(&e),
            line: e.line(),
            column: e.column(),
        })
    }

    /// Builds the cluster, decodes and validates each policy, and resolves the queries.
    ///
    /// A policy that does not decode or does not validate is refused (and recorded in
    /// [`LoadedScenario::outcomes`]); a query naming an unknown pod or node, a bad address
    /// or an out-of-range port is an error. Policies are decoded from their text as the
    /// apiserver decodes them (see [`ScenarioPolicy`] and [`netpol::model::go_json`]): one it
    /// could not decode (`podSelector: []`, `kind: Ingress`) is refused with the decode
    /// error's path, before validation.
    ///
    /// ```
    /// use netpol_testing::scenario::Scenario;
    /// let loaded = Scenario::from_json(r#"{"pods": [{"namespace": "prod", "name": "api"}],
    ///   "policies": [{"metadata": {"name": "default-deny", "namespace": "prod"}, "spec": {"podSelector": {}}}],
    ///   "queries": [{"from": "prod/api", "to": {"ip": "8.8.8.8"}, "port": 53, "expect": "allow"}]}"#)?
    ///     .load()?;
    /// assert_eq!(loaded.policies.network_policies()[0].name(), "default-deny");
    /// assert_eq!(loaded.queries.len(), 1);
    /// let odd = Scenario::from_json(r#"{"policies": [{"metadata": {"name": "p", "namespace": "x"},
    ///   "spec": {"podSelector": []}}]}"#)?.load()?;
    /// assert_eq!(odd.outcomes[0].errors[0].field, "spec.podSelector");
    /// assert_eq!(odd.outcomes[0].errors[0].detail, "cannot unmarshal array into an object (LabelSelector)");
    /// let bad = Scenario::from_json(r#"{"queries": [{"from": {"ip": "8.8.8.8"}, "to": {"ip": "8.8.4.4"}, "port": 70000}]}"#)?;
    /// assert_eq!(bad.load().unwrap_err().to_string(), "queries[0].port: 70000 is not a port number (1-65535)");
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn load(&self) -> Result<LoadedScenario, ScenarioError> {
        let profile = parse_profile(self.profile.as_deref())?;
        let mut loader = Loader::default();
        for ns in &self.namespaces {
            loader.namespace(ns.clone());
        }
        for node in &self.nodes {
            loader.node(node.clone())?;
        }
        for pod in &self.pods {
            loader.pod(pod.clone())?;
        }
        for policy in &self.policies {
            match &policy.0 {
                PolicyRepr::Text(raw) => loader.policy(raw.get()),
                PolicyRepr::Value(value) => loader.policy_value(value),
            }
        }
        loader.finish(Rest {
            profile,
            services: &self.services,
            queries: &self.queries,
            expect_rejected: self.expect_rejected.clone(),
            masquerade_all: self.kube_proxy.as_ref().is_some_and(|k| k.masquerade_all),
        })
    }
}

/// The profile a scenario names (`conformance` when it names none).
fn parse_profile(name: Option<&str>) -> Result<Profile, ScenarioError> {
    match name {
        None => Ok(Profile::default()),
        Some(name) => Profile::named(name).ok_or_else(|| {
            invalid(
                "profile",
                format!(
                    "unknown profile \"{name}\" (known: {})",
                    Profile::NAMES.join(", ")
                ),
            )
        }),
    }
}

/// A policy of the file, decoded and validated as it is read; a Calico policy still
/// waits for every tier of the file.
struct ReadPolicy {
    kind: String,
    key: String,
    /// Empty when accepted so far.
    errors: Vec<FieldError>,
    /// See [`PolicyOutcome::unsupported`].
    unsupported: Vec<FieldError>,
    /// A Calico policy that validated, to be checked against the file's tiers.
    calico: Option<CalicoPolicy>,
}

/// What [`Loader::finish`] reads besides the namespaces, nodes, pods and policies.
struct Rest<'a> {
    profile: Profile,
    services: &'a [serde_json::Value],
    queries: &'a [ScenarioQuery],
    expect_rejected: Vec<ExpectRejected>,
    masquerade_all: bool,
}

/// Turns a scenario's entries into the cluster and the policies one entry at a time, so
/// that the entries need not all be held at once (see [`LoadedScenario::from_json`]):
/// [`Scenario::load`] and the streaming reader share it.
#[derive(Default)]
struct Loader {
    builder: netpol::cluster::ClusterBuilder,
    nodes: usize,
    pods: usize,
    policies: Vec<ReadPolicy>,
    /// The policies accepted so far, of every kind but Calico's policies.
    accepted: PolicySet,
    /// The pods' label sets and port lists so far, by their flat encoding.
    label_sets: HashMap<Box<[u8]>, Arc<Labels>>,
    port_lists: HashMap<Box<[u8]>, Arc<[ContainerPort]>>,
    scratch: Vec<u8>,
}

/// A pod entry, borrowed from a [`ScenarioPod`] or from the text: its labels sorted by
/// key, each key once (as a map of them holds them).
struct PodRef<'a, I> {
    namespace: &'a str,
    name: &'a str,
    labels: &'a [(&'a str, &'a str)],
    ips: I,
    node: Option<&'a str>,
    ports: &'a [PortRef<'a>],
    service_account: Option<&'a str>,
}

/// A container port entry, borrowed: the fields of [`ScenarioPort`].
#[derive(Debug, Clone, Copy, Deserialize)]
struct PortRef<'a> {
    #[serde(default, borrow)]
    name: Option<&'a str>,
    port: u16,
    #[serde(default, borrow)]
    protocol: Option<&'a str>,
}

/// Appends a string to a flat encoding: its length, then its bytes.
fn flat_push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Loader {
    fn namespace(&mut self, ns: ScenarioNamespace) {
        self.builder = std::mem::take(&mut self.builder).namespace(ns.name, ns.labels);
    }

    fn node(&mut self, node: ScenarioNode) -> Result<(), ScenarioError> {
        let i = self.nodes;
        self.nodes += 1;
        let mut ips = Vec::new();
        for (j, text) in node.ip.iter().chain(node.ips.iter()).enumerate() {
            ips.push(parse_ip_at(text, || format!("nodes[{i}].ips[{j}]"))?);
        }
        let mut spec = NodeSpec::new(node.name);
        spec.ips = ips;
        spec.labels = node.labels;
        for (j, text) in node.pod_cidr.iter().chain(&node.pod_cidrs).enumerate() {
            let net = text.parse().map_err(|_| {
                invalid(
                    format!("nodes[{i}].podCIDRs[{j}]"),
                    format!("\"{text}\" is not a CIDR"),
                )
            })?;
            spec.pod_cidrs.push(net);
        }
        for (j, text) in node.tunnel_ip.iter().chain(&node.tunnel_ips).enumerate() {
            spec.tunnel_ips
                .push(parse_ip_at(text, || format!("nodes[{i}].tunnelIPs[{j}]"))?);
        }
        self.builder = std::mem::take(&mut self.builder).add_node(spec);
        Ok(())
    }

    fn pod(&mut self, pod: ScenarioPod) -> Result<(), ScenarioError> {
        let labels: Vec<(&str, &str)> = pod
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ports: Vec<PortRef<'_>> = pod
            .ports
            .iter()
            .map(|p| PortRef {
                name: p.name.as_deref(),
                port: p.port,
                protocol: p.protocol.as_deref(),
            })
            .collect();
        self.add_pod(PodRef {
            namespace: &pod.namespace,
            name: &pod.name,
            labels: &labels,
            ips: pod.ip.iter().chain(&pod.ips).map(String::as_str),
            node: pod.node.as_deref(),
            ports: &ports,
            service_account: pod.service_account.as_deref(),
        })
    }

    /// Adds a pod, its label set and port list shared with the pods before it that have
    /// the same ones (looked up by a flat encoding, so a pod whose labels were seen
    /// allocates none).
    fn add_pod<'s>(
        &mut self,
        pod: PodRef<'_, impl Iterator<Item = &'s str>>,
    ) -> Result<(), ScenarioError> {
        let i = self.pods;
        self.pods += 1;
        let mut spec = PodSpec::new(pod.namespace, pod.name);
        for (j, text) in pod.ips.enumerate() {
            spec.ips
                .push(parse_ip_at(text, || format!("pods[{i}].ips[{j}]"))?);
        }
        spec.node = pod.node.map(str::to_owned);
        spec.service_account = pod.service_account.map(str::to_owned);
        let scratch = &mut self.scratch;
        scratch.clear();
        for (k, v) in pod.labels {
            flat_push(scratch, k);
            flat_push(scratch, v);
        }
        spec.labels = match self.label_sets.get(scratch.as_slice()) {
            Some(shared) => Arc::clone(shared),
            None => {
                let labels: Labels = pod
                    .labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                let shared = Arc::new(labels);
                self.label_sets
                    .insert(scratch.as_slice().into(), Arc::clone(&shared));
                shared
            }
        };
        scratch.clear();
        for (j, p) in pod.ports.iter().enumerate() {
            let protocol = match p.protocol {
                None => Protocol::Tcp,
                Some(text) => text.parse().map_err(|e| {
                    invalid(format!("pods[{i}].ports[{j}].protocol"), format!("{e}"))
                })?,
            };
            match p.name {
                Some(name) => {
                    scratch.push(1);
                    flat_push(scratch, name);
                }
                None => scratch.push(0),
            }
            scratch.extend_from_slice(&p.port.to_le_bytes());
            scratch.push(protocol.index() as u8);
        }
        spec.ports = match self.port_lists.get(scratch.as_slice()) {
            Some(shared) => Arc::clone(shared),
            None => {
                let mut ports = Vec::with_capacity(pod.ports.len());
                for p in pod.ports {
                    let protocol = match p.protocol {
                        None => Protocol::Tcp,
                        Some(text) => text.parse().unwrap_or_default(),
                    };
                    ports.push(match p.name {
                        Some(name) => ContainerPort::named(name, p.port, protocol),
                        None => ContainerPort::unnamed(p.port, protocol),
                    });
                }
                let shared: Arc<[ContainerPort]> = ports.into();
                self.port_lists
                    .insert(scratch.as_slice().into(), Arc::clone(&shared));
                shared
            }
        };
        self.builder = std::mem::take(&mut self.builder).pod(spec);
        Ok(())
    }

    /// One policy, from its JSON text.
    fn policy(&mut self, text: &str) {
        let names = serde_json::from_str::<KeyNames>(text).unwrap_or_default();
        self.add_policy(names, PolicyObject::from_json(text));
    }

    /// One policy built in code, as the value holds it.
    fn policy_value(&mut self, value: &serde_json::Value) {
        let names = KeyNames::deserialize(value).unwrap_or_default();
        self.add_policy(names, PolicyObject::from_value(value));
    }

    /// One policy, decoded: validated at once, so that the decoded object is not kept.
    fn add_policy(
        &mut self,
        names: KeyNames,
        decoded: Result<PolicyObject, netpol::model::DecodeError>,
    ) {
        let (kind, key) = policy_key(names);
        let policies = &mut self.accepted;
        let mut unsupported = Vec::new();
        let mut calico = None;
        let mut calico_policy =
            |built: Result<CalicoPolicy, netpol::validate::ValidationErrors>| match built {
                Ok(p) => {
                    calico = Some(p);
                    Vec::new()
                }
                Err(errs) => errs.0,
            };
        let errors = match decoded {
            Err(e) => vec![FieldError {
                kind: ErrorKind::Invalid,
                field: e.path,
                value: None,
                detail: e.message,
            }],
            // A scenario's policies are created: after validation, the storage refuses
            // a `resourceVersion`.
            Ok(PolicyObject::NetworkPolicy(written)) => match Policy::new(&written) {
                Ok(policy) => match netpol::validate::validate_resource_version_on_create(
                    &written.metadata,
                    "metadata",
                ) {
                    Some(e) => vec![e],
                    None => {
                        policies.push(policy);
                        Vec::new()
                    }
                },
                Err(errs) => errs.0,
            },
            Ok(PolicyObject::ClusterNetworkPolicy(written)) => {
                match validate_cluster_network_policy(&written) {
                    Err(errs) => errs.0,
                    Ok(()) => {
                        match ClusterPolicy::new(&written) {
                            Ok(policy) => policies.push(policy),
                            // Accepted by the apiserver, but not evaluated: say so.
                            Err(errs) => unsupported = errs.0,
                        }
                        Vec::new()
                    }
                }
            }
            Ok(PolicyObject::CalicoNetworkPolicy(written)) => {
                calico_policy(CalicoPolicy::new(&written))
            }
            Ok(PolicyObject::GlobalNetworkPolicy(written)) => {
                calico_policy(CalicoPolicy::new(&written))
            }
            Ok(PolicyObject::NetworkSet(written)) => {
                push_or_errors(policies, CalicoNetworkSet::new(&written))
            }
            Ok(PolicyObject::GlobalNetworkSet(written)) => {
                push_or_errors(policies, CalicoNetworkSet::new(&written))
            }
            Ok(PolicyObject::Tier(written)) => push_or_errors(policies, CalicoTier::new(&written)),
            // A kind the library decodes but this loader does not evaluate yet.
            #[allow(unreachable_patterns)]
            Ok(other) => {
                unsupported = vec![FieldError {
                    kind: ErrorKind::Unsupported,
                    field: "kind".into(),
                    value: Some(format!("\"{}\"", other.kind())),
                    detail: "not evaluated by the scenario loader".into(),
                }];
                Vec::new()
            }
        };
        self.policies.push(ReadPolicy {
            kind,
            key,
            errors,
            unsupported,
            calico,
        });
    }

    /// Builds the cluster, validates the policies, and resolves the Services and the
    /// queries.
    fn finish(self, rest: Rest<'_>) -> Result<LoadedScenario, ScenarioError> {
        let Rest {
            profile,
            services: service_values,
            queries: scenario_queries,
            expect_rejected,
            masquerade_all,
        } = rest;
        let cluster = self
            .builder
            .build()
            .map_err(|e| invalid("pods", e.to_string()))?;

        let mut policies = self.accepted;
        let mut outcomes = Vec::with_capacity(self.policies.len());
        // Calico's API server refuses a policy in a tier that does not exist, whatever
        // the order the objects are given in.
        let tiers = policies.tiers().to_vec();
        for read in self.policies {
            let ReadPolicy {
                kind,
                key,
                mut errors,
                unsupported,
                calico,
            } = read;
            if let Some(policy) = calico {
                match policy.missing_tier(&tiers) {
                    Some(e) => errors = vec![e],
                    None => policies.push(policy),
                }
            }
            outcomes.push(PolicyOutcome {
                kind,
                key,
                errors,
                unsupported,
            });
        }
        let mut resolved = Vec::with_capacity(service_values.len());
        for (i, value) in service_values.iter().enumerate() {
            let service = Service::from_value(value)
                .and_then(|s| s.resolve())
                .map_err(|e| invalid(format!("services[{i}]"), e.to_string()))?;
            resolved.push(service);
        }
        let services = ServiceTable::build(&cluster, &resolved)
            .map_err(|e| invalid("services", e.to_string()))?;

        let mut queries = Vec::with_capacity(scenario_queries.len());
        let mut service_queries = Vec::new();
        for (i, q) in scenario_queries.iter().enumerate() {
            let src = resolve(&cluster, &format!("queries[{i}].from"), &q.from)?;
            let port = u16::try_from(q.port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    invalid(
                        format!("queries[{i}].port"),
                        format!("{} is not a port number (1-65535)", q.port),
                    )
                })?;
            let protocol =
                parse_protocol(&format!("queries[{i}].protocol"), q.protocol.as_deref())?;
            let to_path = format!("queries[{i}].to");
            let node_named = |name: &Option<String>| -> Result<Option<NodeId>, ScenarioError> {
                name.as_ref()
                    .map(|n| {
                        cluster
                            .node_id(n)
                            .ok_or_else(|| invalid(&to_path, format!("no node \"{n}\"")))
                    })
                    .transpose()
            };
            let service = match &q.to {
                ScenarioEndpoint::Service {
                    service,
                    node_port,
                    node,
                } => {
                    let (ns, name) = service.split_once('/').ok_or_else(|| {
                        invalid(&to_path, format!("\"{service}\" is not namespace/name"))
                    })?;
                    let id = services
                        .lookup(ns, name)
                        .ok_or_else(|| invalid(&to_path, format!("no service \"{service}\"")))?;
                    let node = node_named(node)?;
                    if *node_port {
                        let at = node.ok_or_else(|| {
                            invalid(&to_path, "a node port is dialled at a node: give \"node\"")
                        })?;
                        Some((id, ServiceAddress::NodePort(at), None))
                    } else {
                        Some((id, ServiceAddress::Name, node))
                    }
                }
                ScenarioEndpoint::Ip { ip, node, .. } => {
                    let ip = parse_ip(&to_path, ip)?;
                    let node = node_named(node)?;
                    match services.lookup_address(ip, port, protocol) {
                        Some((id, address)) => Some((id, address, node)),
                        None if node.is_some() => {
                            return Err(invalid(
                                &to_path,
                                format!(
                                    "{ip} is no Service's address: \"node\" applies to Service addresses only"
                                ),
                            ));
                        }
                        None => None,
                    }
                }
                _ => None,
            };
            match service {
                Some((service, address, node)) => {
                    let mut expect_endpoints = Vec::new();
                    for (key, verdict) in q.expect_endpoints.iter().flatten() {
                        let path = format!("queries[{i}].expectEndpoints");
                        let (ns, name) = key.split_once('/').ok_or_else(|| {
                            invalid(&path, format!("\"{key}\" is not namespace/name"))
                        })?;
                        let pod = cluster
                            .pod_id(ns, name)
                            .ok_or_else(|| invalid(&path, format!("no pod \"{key}\"")))?;
                        expect_endpoints.push((pod, *verdict));
                    }
                    service_queries.push(LoadedServiceQuery {
                        index: i,
                        src,
                        service,
                        address,
                        node,
                        port,
                        protocol,
                        expect: q.expect,
                        expect_endpoints,
                    });
                }
                None => {
                    let dst = resolve(&cluster, &to_path, &q.to)?;
                    let expect = match q.expect {
                        None => None,
                        Some(e) => Some(e.verdict().ok_or_else(|| {
                            invalid(
                                format!("queries[{i}].expect"),
                                format!("\"{e}\" applies to a service destination only"),
                            )
                        })?),
                    };
                    if q.expect_endpoints.is_some() {
                        return Err(invalid(
                            format!("queries[{i}].expectEndpoints"),
                            "applies to a service destination only",
                        ));
                    }
                    let domain = match &q.to {
                        ScenarioEndpoint::Ip { domain, .. } => domain.clone(),
                        _ => None,
                    };
                    queries.push(LoadedQuery {
                        index: i,
                        flow: Flow::new(src, dst, port, protocol),
                        domain,
                        expect,
                    });
                }
            }
        }
        let proxy = ServiceProxy::new(&profile).with_masquerade_all(masquerade_all);
        Ok(LoadedScenario {
            cluster,
            policies,
            outcomes,
            queries,
            service_queries,
            services,
            profile,
            proxy,
            expect_rejected,
        })
    }
}

impl Scenario {
    /// The scenario's cluster as the API objects `kubectl get ns,nodes,pods,svc -o json`
    /// lists (`v1` Namespace, Node, Pod and Service objects, in that order), for the
    /// library's [`netpol::cluster::ClusterObjects`] and for `netpol serve`: namespaces with
    /// their labels, nodes with their addresses as `InternalIP`s, their labels, their pod
    /// subnets in `spec.podCIDRs` and their tunnel addresses in Calico's annotations, pods
    /// with their labels, `nodeName`, `serviceAccountName`, one container declaring their
    /// ports, phase `Running` and their addresses in `status.podIPs`.
    ///
    /// ```
    /// use netpol_testing::scenario::Scenario;
    /// let s = Scenario::from_json(r#"{"namespaces": [{"name": "x", "labels": {"t": "a"}}],
    ///   "nodes": [{"name": "n1", "ip": "192.168.0.1"}],
    ///   "pods": [{"namespace": "x", "name": "a", "ip": "10.0.0.1", "node": "n1",
    ///             "ports": [{"name": "http", "port": 80}]}]}"#)?;
    /// let objects = s.cluster_objects();
    /// assert_eq!(objects[2]["kind"], "Pod");
    /// assert_eq!(objects[2]["status"]["podIPs"][0]["ip"], "10.0.0.1");
    /// let mut input = netpol::cluster::ClusterObjects::new();
    /// input.add_pod(netpol::model::Pod::from_value(&objects[2]).unwrap());
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn cluster_objects(&self) -> Vec<serde_json::Value> {
        use serde_json::json;
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.push(json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": ns.name, "labels": ns.labels}}));
        }
        for node in &self.nodes {
            let addresses: Vec<serde_json::Value> = node
                .ip
                .iter()
                .chain(&node.ips)
                .map(|ip| json!({"type": "InternalIP", "address": ip}))
                .collect();
            let mut object = json!({"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": node.name, "labels": node.labels},
                            "status": {"addresses": addresses}});
            let cidrs: Vec<&String> = node.pod_cidr.iter().chain(&node.pod_cidrs).collect();
            if let Some(first) = cidrs.first() {
                object["spec"] = json!({"podCIDR": first, "podCIDRs": cidrs});
            }
            // Calico's annotations: the first IPv4 tunnel address as its IPIP one, the
            // first IPv6 one as its VXLAN one.
            let tunnels: Vec<&String> = node.tunnel_ip.iter().chain(&node.tunnel_ips).collect();
            let v4 = tunnels.iter().find(|t| !t.contains(':'));
            let v6 = tunnels.iter().find(|t| t.contains(':'));
            let mut annotations = serde_json::Map::new();
            if let Some(a) = v4 {
                annotations.insert(CALICO_TUNNEL_ANNOTATIONS[0].to_owned(), json!(a));
            }
            if let Some(a) = v6 {
                annotations.insert(CALICO_TUNNEL_ANNOTATIONS[2].to_owned(), json!(a));
            }
            if !annotations.is_empty() {
                object["metadata"]["annotations"] = serde_json::Value::Object(annotations);
            }
            out.push(object);
        }
        for pod in &self.pods {
            let ports: Vec<serde_json::Value> = pod
                .ports
                .iter()
                .map(|p| {
                    let mut port = json!({"containerPort": p.port});
                    if let Some(name) = &p.name {
                        port["name"] = json!(name);
                    }
                    if let Some(proto) = &p.protocol {
                        port["protocol"] = json!(proto);
                    }
                    port
                })
                .collect();
            let ips: Vec<&String> = pod.ip.iter().chain(&pod.ips).collect();
            let mut object = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
                "spec": {"containers": [{"name": "main", "ports": ports}]},
                "status": {"phase": "Running",
                           "podIPs": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>()}});
            if let Some(ip) = ips.first() {
                object["status"]["podIP"] = json!(ip);
            }
            if let Some(node) = &pod.node {
                object["spec"]["nodeName"] = json!(node);
            }
            if let Some(sa) = &pod.service_account {
                object["spec"]["serviceAccountName"] = json!(sa);
            }
            out.push(object);
        }
        for service in &self.services {
            let mut service = service.clone();
            if let Some(map) = service.as_object_mut() {
                map.entry("apiVersion").or_insert_with(|| json!("v1"));
                map.entry("kind").or_insert_with(|| json!("Service"));
            }
            out.push(service);
        }
        out
    }

    /// A `netpol serve` session: one `load` request with [`cluster_objects`] and the
    /// policies (and the profile), then `decides` `decide` requests cycling through the
    /// scenario's queries. Each request is one JSON line; the `id` of a decide is its
    /// position in the session.
    ///
    /// [`cluster_objects`]: Self::cluster_objects
    ///
    /// ```
    /// use netpol_testing::scenario::Scenario;
    /// let s = Scenario::from_json(r#"{"pods": [{"namespace": "x", "name": "a", "ip": "10.0.0.1"}],
    ///   "queries": [{"from": "x/a", "to": {"ip": "8.8.8.8"}, "port": 53, "protocol": "UDP"}]}"#)?;
    /// let lines = s.serve_session(2);
    /// assert_eq!(lines.len(), 3);
    /// let decide: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    /// assert_eq!((decide["op"].as_str(), decide["to"].as_str(), decide["port"].as_u64()), (Some("decide"), Some("8.8.8.8"), Some(53)));
    /// # Ok::<(), netpol_testing::scenario::ScenarioError>(())
    /// ```
    pub fn serve_session(&self, decides: usize) -> Vec<String> {
        use serde_json::json;
        let mut objects = self.cluster_objects();
        for policy in &self.policies {
            // The serve protocol takes objects: one whose text a value cannot hold (a
            // number beyond `f64`) is sent as `null`.
            let mut policy = policy.to_value().unwrap_or_default();
            if let Some(map) = policy.as_object_mut() {
                map.entry("apiVersion")
                    .or_insert_with(|| json!("networking.k8s.io/v1"));
                map.entry("kind").or_insert_with(|| json!("NetworkPolicy"));
            }
            objects.push(policy);
        }
        let mut load = json!({"id": 0, "op": "load", "objects": objects});
        if let Some(p) = &self.profile {
            load["profile"] = json!(p);
        }
        let mut lines = vec![load.to_string()];
        let side = |e: &ScenarioEndpoint| match e {
            ScenarioEndpoint::Pod(p) => p.clone(),
            ScenarioEndpoint::Ip { ip, .. } => ip.clone(),
            ScenarioEndpoint::Node { node } => format!("node/{node}"),
            // A node port is dialled at its node.
            ScenarioEndpoint::Service {
                node_port: true,
                node: Some(node),
                ..
            } => format!("node/{node}"),
            ScenarioEndpoint::Service { service, .. } => format!("svc/{service}"),
        };
        for (i, q) in self.queries.iter().cycle().take(decides).enumerate() {
            let mut line = json!({"id": i + 1, "op": "decide", "from": side(&q.from),
                                  "to": side(&q.to), "port": q.port});
            if let Some(p) = &q.protocol {
                line["protocol"] = json!(p);
            }
            lines.push(line.to_string());
        }
        lines
    }
}

/// The kind (`NetworkPolicy` when not written) and the key an `expectRejected` entry
/// names a policy by: `namespace/name`, or `name` for a cluster-scoped kind.
fn policy_key(names: KeyNames) -> (String, String) {
    // A kind the crate does not read is a NetworkPolicy entry refused at `kind`.
    // Calico's NetworkPolicy is named as kubectl names the resource, apart from
    // Kubernetes' own.
    let calico_group = names.api_version.as_deref().is_some_and(|v| {
        v.starts_with("projectcalico.org/") || v.starts_with("crd.projectcalico.org/")
    });
    let (kind, cluster_scoped) = match names.kind.as_deref() {
        Some("ClusterNetworkPolicy") => ("ClusterNetworkPolicy", true),
        Some("NetworkPolicy") if calico_group => ("NetworkPolicy.projectcalico.org", false),
        Some("GlobalNetworkPolicy") => ("GlobalNetworkPolicy", true),
        Some("NetworkSet") => ("NetworkSet", false),
        Some("GlobalNetworkSet") => ("GlobalNetworkSet", true),
        Some("Tier") => ("Tier", true),
        _ => ("NetworkPolicy", false),
    };
    let name = names.name.as_deref().unwrap_or("");
    let key = if cluster_scoped {
        name.to_owned()
    } else {
        format!("{}/{name}", names.namespace.as_deref().unwrap_or("default"))
    };
    (kind.to_owned(), key)
}

/// What [`policy_key`] reads of a policy, from its text as a parsed value holds it: the
/// last occurrence of the top-level `apiVersion`, `kind` and `metadata`, and of `name`
/// and `namespace` in that `metadata`; a value that is not a string is absent.
#[derive(Default)]
struct KeyNames {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
}

impl<'de> Deserialize<'de> for KeyNames {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Top {
            ApiVersion,
            Kind,
            Metadata,
            #[serde(other)]
            Other,
        }

        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Meta {
            Name,
            Namespace,
            #[serde(other)]
            Other,
        }

        /// A string, or `None` for any other value (skipped).
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Option<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.to_owned()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
        }
        struct TextSeed;
        impl<'de> serde::de::DeserializeSeed<'de> for TextSeed {
            type Value = Option<String>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                de: D,
            ) -> Result<Self::Value, D::Error> {
                de.deserialize_any(TextVisitor)
            }
        }

        /// `metadata`'s name and namespace; both absent when it is not an object.
        struct MetaVisitor;
        impl<'de> Visitor<'de> for MetaVisitor {
            type Value = (Option<String>, Option<String>);
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut name, mut namespace) = (None, None);
                while let Some(key) = map.next_key::<Meta>()? {
                    match key {
                        Meta::Name => name = map.next_value_seed(TextSeed)?,
                        Meta::Namespace => namespace = map.next_value_seed(TextSeed)?,
                        Meta::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok((name, namespace))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok((None, None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok((None, None))
            }
        }
        struct MetaSeed;
        impl<'de> serde::de::DeserializeSeed<'de> for MetaSeed {
            type Value = (Option<String>, Option<String>);
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                de: D,
            ) -> Result<Self::Value, D::Error> {
                de.deserialize_any(MetaVisitor)
            }
        }

        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = KeyNames;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyNames, A::Error> {
                let mut out = KeyNames::default();
                while let Some(key) = map.next_key::<Top>()? {
                    match key {
                        Top::ApiVersion => out.api_version = map.next_value_seed(TextSeed)?,
                        Top::Kind => out.kind = map.next_value_seed(TextSeed)?,
                        Top::Metadata => {
                            (out.name, out.namespace) = map.next_value_seed(MetaSeed)?;
                        }
                        Top::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        de.deserialize_map(TopVisitor)
    }
}

fn resolve(cluster: &Cluster, path: &str, e: &ScenarioEndpoint) -> Result<Endpoint, ScenarioError> {
    match e {
        ScenarioEndpoint::Pod(text) => {
            let (ns, name) = text
                .split_once('/')
                .ok_or_else(|| invalid(path, format!("\"{text}\" is not namespace/name")))?;
            cluster
                .pod_id(ns, name)
                .map(Endpoint::Pod)
                .ok_or_else(|| invalid(path, format!("no pod \"{text}\"")))
        }
        ScenarioEndpoint::Ip { ip, .. } => Ok(Endpoint::External(parse_ip(path, ip)?)),
        ScenarioEndpoint::Node { node } => cluster
            .node_id(node)
            .map(Endpoint::Node)
            .ok_or_else(|| invalid(path, format!("no node \"{node}\""))),
        ScenarioEndpoint::Service { service, .. } => Err(invalid(
            path,
            format!("service \"{service}\" can only be a destination"),
        )),
    }
}

/// serde_json's message without the " at line L column C" it appends (the position is
/// reported in fields of its own).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The text as the apiserver's JSON decoder reads it: a `\uXXXX` escape of a UTF-16
/// surrogate that is not half of a valid pair stands for U+FFFD (Go substitutes the
/// replacement character where serde_json refuses the escape). Escapes are rewritten in
/// place, so line and column numbers stay those of the input.
fn go_text(text: &str) -> std::borrow::Cow<'_, str> {
    fn escape_at(b: &[u8], i: usize) -> Option<u32> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u32::from_str_radix(hex, 16).ok()
    }
    let b = text.as_bytes();
    let mut lone = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // Straight to the next backslash (a fast search: most files have none); a
        // skipped escaped character may have been the first byte of a longer one.
        while i < b.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        match text.get(i..).and_then(|rest| rest.find('\\')) {
            Some(off) => i += off,
            None => break,
        }
        match escape_at(b, i) {
            Some(0xD800..=0xDBFF) if matches!(escape_at(b, i + 6), Some(0xDC00..=0xDFFF)) => {
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                lone.push(i + 2);
                i += 6;
            }
            Some(_) => i += 6,
            // Any other escape: skip the backslash and the escaped character.
            None => i += 2,
        }
    }
    if lone.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = b.to_vec();
    for at in lone {
        out[at..at + 4].copy_from_slice(b"fffd");
    }
    // ASCII hex digits were replaced by ASCII hex digits.
    std::borrow::Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| text.to_owned()))
}

/// Adds a validated object to the set, or gives the validator's errors.
fn push_or_errors<T: netpol::policy::IntoPolicySetItem>(
    policies: &mut PolicySet,
    built: Result<T, netpol::validate::ValidationErrors>,
) -> Vec<FieldError> {
    match built {
        Ok(item) => {
            policies.push(item);
            Vec::new()
        }
        Err(errs) => errs.0,
    }
}

#[cfg(test)]
mod tests {
    use super::go_text;

    #[test]
    fn lone_surrogate_escapes_become_the_replacement_character() {
        assert!(matches!(
            go_text(r#"{"a": "plain"}"#),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(go_text(r#""\ud800x""#), r#""\ufffdx""#);
        assert_eq!(go_text(r#""x\uDC00""#), r#""x\ufffd""#);
        // A pair stays, an escaped backslash is not an escape's start.
        assert_eq!(go_text(r#""\ud83d\ude00""#), r#""\ud83d\ude00""#);
        assert_eq!(go_text(r#""\\ud800""#), r#""\\ud800""#);
        // After an escaped character of several bytes the search goes on.
        assert_eq!(go_text("\"\\é \\ud800 é\""), "\"\\é \\ufffd é\"");
        assert_eq!(
            go_text(r#""\u00e9\ud800\n\udbff""#),
            r#""\u00e9\ufffd\n\ufffd""#
        );
    }
}
