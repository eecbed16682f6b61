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
//! Beyond that format, pods and nodes may list several addresses with `"ips": [...]`
//! (dual stack), and a scenario may name a plugin profile with `"profile"` (see
//! [`Profile::named`](crate::profile::Profile)).
//!
//! Loading does no I/O: give it the text.
//!
//! ```
//! use netpol::scenario::Scenario;
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
//! # Ok::<(), netpol::scenario::ScenarioError>(())
//! ```

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ContainerPort, Endpoint, Flow, PodSpec};
use crate::explain::Verdict;
use crate::model::{Labels, NetworkPolicy};
use crate::policy::{Policy, Protocol};
use crate::profile::Profile;
use crate::validate::{ErrorKind, FieldError};

/// A scenario as written.
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
    /// NetworkPolicy objects, kept as JSON so that each one is decoded and validated on its own.
    #[serde(default)]
    pub policies: Vec<serde_json::Value>,
    /// Queries.
    #[serde(default)]
    pub queries: Vec<ScenarioQuery>,
    /// Policies the apiserver refuses, with a refused field each.
    #[serde(default)]
    pub expect_rejected: Vec<ExpectRejected>,
}

/// A namespace entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioNamespace {
    /// Name.
    pub name: String,
    /// Labels (`kubernetes.io/metadata.name` is added).
    #[serde(default)]
    pub labels: Labels,
}

/// A node entry.
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
}

/// A pod entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A container port entry.
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

/// One side of a query: `"ns/name"`, `{"ip": "..."}` or `{"node": "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScenarioEndpoint {
    /// A pod, `namespace/name`.
    Pod(String),
    /// An outside address.
    Ip {
        /// The address.
        ip: String,
    },
    /// A node's host network.
    Node {
        /// The node name.
        node: String,
    },
}

/// A query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioQuery {
    /// Source.
    pub from: ScenarioEndpoint,
    /// Destination.
    pub to: ScenarioEndpoint,
    /// Destination port.
    pub port: u32,
    /// Protocol, `TCP` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Expected verdict; a query without one is only answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Verdict>,
}

/// An `expectRejected` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectRejected {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// The field path of (one of) the refused fields.
    pub field: String,
}

/// A scenario that cannot be read or loaded.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// `namespace/name`.
    pub key: String,
    /// Empty when accepted; otherwise the reasons it was refused.
    pub errors: Vec<FieldError>,
}

/// A query, resolved against the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedQuery {
    /// The flow.
    pub flow: Flow,
    /// Expected verdict, if any.
    pub expect: Option<Verdict>,
}

/// A scenario resolved into the crate's types.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The cluster.
    pub cluster: Cluster,
    /// Accepted policies, in file order.
    pub policies: Vec<Policy>,
    /// Every policy of the file, in file order, accepted or refused.
    pub outcomes: Vec<PolicyOutcome>,
    /// Queries, in file order.
    pub queries: Vec<LoadedQuery>,
    /// The profile to evaluate with.
    pub profile: Profile,
}

impl LoadedScenario {
    /// Compares the refused policies with `expectRejected`; returns one message per mismatch.
    ///
    /// A policy listed there must be refused with the listed field among its errors (a
    /// field error on a path inside the listed one also counts, since the apiserver may
    /// report the deeper path); every other policy must be accepted.
    pub fn rejection_mismatches(&self, expected: &[ExpectRejected]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for outcome in &self.outcomes {
            let wanted: Vec<&ExpectRejected> = expected
                .iter()
                .filter(|e| e.policy == outcome.key)
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
            if !self.outcomes.iter().any(|o| o.key == e.policy) {
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
    text.parse()
        .map_err(|_| invalid(path, format!("\"{text}\" is not an IP address")))
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
    /// let err = netpol::scenario::Scenario::from_json("{\"pods\": 3}").unwrap_err();
    /// assert!(err.to_string().contains("line 1"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        serde_json::from_str(text).map_err(|e| {
            let mut message = e.to_string();
            if let Some(pos) = message.rfind(" at line ") {
                message.truncate(pos);
            }
            ScenarioError::Json {
                message,
                line: e.line(),
                column: e.column(),
            }
        })
    }

    /// Builds the cluster, decodes and validates each policy, and resolves the queries.
    ///
    /// A policy that does not decode or does not validate is refused (and recorded in
    /// [`LoadedScenario::outcomes`]); a query naming an unknown pod or node, a bad address
    /// or an out-of-range port is an error.
    pub fn load(&self) -> Result<LoadedScenario, ScenarioError> {
        let profile = match &self.profile {
            None => Profile::default(),
            Some(name) => Profile::named(name).ok_or_else(|| {
                invalid(
                    "profile",
                    format!(
                        "unknown profile \"{name}\" (known: {})",
                        Profile::NAMES.join(", ")
                    ),
                )
            })?,
        };
        let mut builder = Cluster::builder();
        for ns in &self.namespaces {
            builder = builder.namespace(ns.name.clone(), ns.labels.clone());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let mut ips = Vec::new();
            for (j, text) in node.ip.iter().chain(node.ips.iter()).enumerate() {
                ips.push(parse_ip(&format!("nodes[{i}].ips[{j}]"), text)?);
            }
            builder = builder.node(node.name.clone(), ips);
        }
        for (i, pod) in self.pods.iter().enumerate() {
            let mut spec = PodSpec::new(pod.namespace.clone(), pod.name.clone());
            spec.labels = pod.labels.clone();
            for (j, text) in pod.ip.iter().chain(pod.ips.iter()).enumerate() {
                spec.ips
                    .push(parse_ip(&format!("pods[{i}].ips[{j}]"), text)?);
            }
            spec.node = pod.node.clone();
            for (j, p) in pod.ports.iter().enumerate() {
                let protocol = parse_protocol(
                    &format!("pods[{i}].ports[{j}].protocol"),
                    p.protocol.as_deref(),
                )?;
                spec.ports.push(ContainerPort {
                    name: p.name.clone(),
                    port: p.port,
                    protocol,
                });
            }
            builder = builder.pod(spec);
        }
        let cluster = builder
            .build()
            .map_err(|e| invalid("pods", e.to_string()))?;

        let mut policies = Vec::new();
        let mut outcomes = Vec::new();
        for value in &self.policies {
            let key = policy_key(value);
            let errors = match NetworkPolicy::from_value(value) {
                Err(e) => vec![FieldError {
                    kind: ErrorKind::Invalid,
                    field: e.path.clone(),
                    value: None,
                    detail: e.message,
                }],
                Ok(written) => match Policy::new(&written) {
                    Ok(policy) => {
                        policies.push(policy);
                        Vec::new()
                    }
                    Err(errs) => errs.0,
                },
            };
            outcomes.push(PolicyOutcome { key, errors });
        }

        let mut queries = Vec::with_capacity(self.queries.len());
        for (i, q) in self.queries.iter().enumerate() {
            let src = resolve(&cluster, &format!("queries[{i}].from"), &q.from)?;
            let dst = resolve(&cluster, &format!("queries[{i}].to"), &q.to)?;
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
            queries.push(LoadedQuery {
                flow: Flow::new(src, dst, port, protocol),
                expect: q.expect,
            });
        }
        Ok(LoadedScenario {
            cluster,
            policies,
            outcomes,
            queries,
            profile,
        })
    }
}

fn policy_key(value: &serde_json::Value) -> String {
    let meta = value.get("metadata");
    let get = |k: &str| meta.and_then(|m| m.get(k)).and_then(|v| v.as_str());
    format!(
        "{}/{}",
        get("namespace").unwrap_or("default"),
        get("name").unwrap_or("")
    )
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
        ScenarioEndpoint::Ip { ip } => Ok(Endpoint::External(parse_ip(path, ip)?)),
        ScenarioEndpoint::Node { node } => cluster
            .node_id(node)
            .map(Endpoint::Node)
            .ok_or_else(|| invalid(path, format!("no node \"{node}\""))),
    }
}
