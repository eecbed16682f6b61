//! As-written Kubernetes API objects, serde-compatible with `kubectl get -o json`.
//!
//! These types mirror `networking.k8s.io/v1` field for field. They keep exactly what was
//! written: an absent list (`None`) and an empty list (`Some(vec![])`) are different values,
//! because the API gives them different meanings (`ingress: []` isolates, no `ingress` with
//! `policyTypes: [Egress]` does not touch ingress at all). Strings that the apiserver checks
//! (protocols, CIDRs, operators, policy types) are kept as strings here so that invalid input
//! survives decoding and can be reported by [`crate::validate`] with its field path.
//!
//! Every model decodes the way the apiserver decodes, by Go's JSON rules, whatever
//! deserializer drives it (`serde_json::from_str`, `serde_json::from_value`, a YAML
//! deserializer): [`go_json`] states the rules (`null`, objects, typed `metadata`,
//! `apiVersion`/`kind`, repeated keys, escapes, numbers, which error is reported) with
//! examples. Text keeps what a parsed value has lost (repeated keys, key order, numbers
//! as written), so the `from_json` functions and [`decode_policies`] decode exactly;
//! `from_value` decodes what the value still holds. Fields Go does not know (an old
//! `status`, a misspelt key) are kept in an `extra` map, so a decoded object serializes
//! back without losing anything.
//!
//! ```
//! use netpol::model::NetworkPolicy;
//!
//! let json = r#"{
//!   "apiVersion": "networking.k8s.io/v1",
//!   "kind": "NetworkPolicy",
//!   "metadata": {"name": "deny-all", "namespace": "prod", "uid": "0b7c"},
//!   "spec": {"podSelector": {}, "ingress": []}
//! }"#;
//! let policy = NetworkPolicy::from_json(json)?;
//! assert_eq!(policy.metadata.name.as_deref(), Some("deny-all"));
//! assert_eq!(policy.spec.ingress.as_deref(), Some(&[][..]));
//! assert!(policy.spec.egress.is_none());
//! // Round trip keeps the server field and the difference between [] and absent.
//! let back = serde_json::to_value(&policy).unwrap();
//! assert_eq!(back["metadata"]["uid"], "0b7c");
//! assert_eq!(back["spec"]["ingress"], serde_json::json!([]));
//! assert!(back["spec"].get("egress").is_none());
//! # Ok::<(), netpol::model::DecodeError>(())
//! ```

mod cnp;
mod core_v1;
pub mod go_json;
mod int_or_string;
mod meta;
mod policy;
mod selector;

pub use cnp::{
    CNP_API_VERSION, ClusterNetworkPolicy, ClusterNetworkPolicyEgressPeer,
    ClusterNetworkPolicyEgressRule, ClusterNetworkPolicyIngressPeer,
    ClusterNetworkPolicyIngressRule, ClusterNetworkPolicyList, ClusterNetworkPolicyPort,
    ClusterNetworkPolicyPortRange, ClusterNetworkPolicyProtocol, ClusterNetworkPolicyProtocolPort,
    ClusterNetworkPolicySpec, ClusterNetworkPolicyStatus, ClusterNetworkPolicySubject,
    NamespacedPod,
};
pub use core_v1::{
    Container, ContainerPort, Namespace, Node, NodeAddress, NodeSpec, NodeStatus, Pod, PodIp,
    PodSpec, PodStatus,
};
pub use go_json::DecodeError;
pub use int_or_string::IntOrString;
pub use meta::{ManagedFieldsEntry, ObjectMeta, OwnerReference, Time, TimeError};
pub use policy::{
    IpBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyList,
    NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec, PolicyObject, decode_policies,
    decode_policy_objects,
};
pub use selector::{LabelSelector, LabelSelectorRequirement};

/// Labels or annotations: string keys to string values, kept sorted by key.
///
/// ```
/// use netpol::model::Labels;
/// let labels: Labels = [("tier", "db"), ("app", "postgres")]
///     .map(|(k, v)| (k.to_owned(), v.to_owned()))
///     .into();
/// assert_eq!(labels.keys().collect::<Vec<_>>(), ["app", "tier"]); // sorted
/// assert_eq!(serde_json::to_string(&labels)?, r#"{"app":"postgres","tier":"db"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type Labels = std::collections::BTreeMap<String, String>;
