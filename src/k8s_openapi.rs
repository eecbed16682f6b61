//! Conversions between this crate's as-written models and
//! [`k8s-openapi`](https://crates.io/crates/k8s-openapi)'s `networking.k8s.io/v1` types
//! (feature `k8s-openapi`).
//!
//! Every spec type converts both ways with [`From`], losslessly: both sides keep absent
//! and empty lists apart, keep strings the apiserver checks as strings, and hold ports as
//! int-or-string.
//!
//! | this crate | k8s-openapi |
//! | --- | --- |
//! | [`NetworkPolicy`] | `api::networking::v1::NetworkPolicy` |
//! | [`NetworkPolicySpec`] | `api::networking::v1::NetworkPolicySpec` |
//! | [`NetworkPolicyIngressRule`], [`NetworkPolicyEgressRule`] | `…::NetworkPolicyIngressRule`, `…::NetworkPolicyEgressRule` |
//! | [`NetworkPolicyPeer`] | `api::networking::v1::NetworkPolicyPeer` |
//! | [`NetworkPolicyPort`] | `api::networking::v1::NetworkPolicyPort` |
//! | [`IpBlock`] | `api::networking::v1::IPBlock` |
//! | [`LabelSelector`], [`LabelSelectorRequirement`] | `apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement}` |
//! | [`IntOrString`] | `apimachinery::pkg::util::intstr::IntOrString` |
//! | [`ObjectMeta`], [`OwnerReference`], [`ManagedFieldsEntry`] | `apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, ManagedFieldsEntry}` |
//! | [`Time`] | `apimachinery::pkg::apis::meta::v1::Time` |
//! | [`Namespace`], [`Node`], [`Pod`] (k8s-openapi → this crate only) | `api::core::v1::{Namespace, Node, Pod}` |
//! | [`Container`], [`ContainerPort`] (k8s-openapi → this crate only) | `api::core::v1::{Container, ContainerPort}` |
//!
//! The core objects convert one way, into the models
//! [`ClusterObjects`](crate::cluster::ClusterObjects) builds a cluster from: the fields it
//! reads are converted field for field, every other field (`spec.volumes`, `status`
//! conditions, ...) is kept in the models' `extra` maps as k8s-openapi serializes it.
//!
//! Where the two sides differ, whole objects and metadata:
//!
//! - k8s-openapi → this crate ([`From`]): nothing is lost. Every `ObjectMeta` field has a
//!   typed counterpart here (`uid`, `resourceVersion`, `creationTimestamp` as the text
//!   k8s-openapi writes, `managedFields`, …). A missing `spec` becomes an empty spec, so
//!   `spec: None` comes back as `Some` of an empty spec.
//! - this crate → k8s-openapi ([`TryFrom`], error [`ConversionError`]): `apiVersion` and
//!   `kind` are not carried (k8s-openapi always writes `networking.k8s.io/v1`,
//!   `NetworkPolicy`); fields kept in the `extra` maps (top-level fields other than
//!   `metadata` and `spec`, such as an old `status`, and unknown metadata fields) are
//!   dropped, since k8s-openapi has no place for them. A time that Go's parser accepts
//!   but k8s-openapi's does not (Go allows a one-digit hour)
//!   is an error naming the field.
//!
//! ClusterNetworkPolicy ([`crate::model::ClusterNetworkPolicy`]) has no counterpart:
//! k8s-openapi is generated from the OpenAPI document of Kubernetes itself (0.29 covers
//! 1.33 to 1.37 and has no `policy.networking.k8s.io` types in any of them), while
//! ClusterNetworkPolicy is a custom resource of kubernetes-sigs/network-policy-api. Read
//! it from JSON ([`crate::model::ClusterNetworkPolicy::from_json`],
//! [`crate::model::decode_policy_objects`]) or convert through `serde_json::Value` from
//! another binding of the CRD.
//!
//! k8s-openapi needs a Kubernetes version feature (`v1_33` … `latest`) chosen by the final
//! binary; this crate does not enable one. The conversions only touch types that are the
//! same in every supported version.
//!
//! ```
//! use k8s_openapi::api::networking::v1 as k8s;
//! use netpol::model::NetworkPolicy;
//!
//! let ours = NetworkPolicy::from_json(r#"{
//!   "metadata": {"name": "db", "namespace": "shop", "uid": "0b7c"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
//!            "ingress": [{"ports": [{"port": "pg"}]}], "egress": []}
//! }"#)?;
//! let theirs = k8s::NetworkPolicy::try_from(ours.clone())?;
//! assert_eq!(theirs.metadata.uid.as_deref(), Some("0b7c"));
//! let spec = theirs.spec.as_ref().unwrap();
//! assert_eq!(spec.egress.as_deref(), Some(&[][..])); // empty, not absent
//!
//! let back = NetworkPolicy::from(theirs);
//! assert_eq!(back.spec, ours.spec);
//! assert_eq!(back.metadata.uid.as_deref(), Some("0b7c"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::k8s_openapi::api::networking::v1 as k8s;
use ::k8s_openapi::apimachinery::pkg::apis::meta::v1 as k8s_meta;
use ::k8s_openapi::apimachinery::pkg::util::intstr;

use crate::model::{
    DecodeError, IntOrString, IpBlock, LabelSelector, LabelSelectorRequirement, ManagedFieldsEntry,
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, ObjectMeta, OwnerReference, Time,
};

/// Metadata that k8s-openapi's typed `ObjectMeta` cannot hold.
///
/// ```
/// use k8s_openapi::api::networking::v1 as k8s;
/// use netpol::model::{NetworkPolicy, Time};
///
/// let mut p = NetworkPolicy::new("default", "p");
/// // Go's parser takes a one-digit hour; k8s-openapi's does not.
/// p.metadata.creation_timestamp = Some(Time::parse("2024-05-01T9:00:00Z")?);
/// let err = k8s::NetworkPolicy::try_from(p).unwrap_err();
/// assert!(err.to_string().starts_with("metadata.creationTimestamp: "));
/// // The decoder's error is the source, at the same field path.
/// let source = std::error::Error::source(&err).unwrap();
/// assert!(source.to_string().starts_with("metadata.creationTimestamp: "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", source.message)]
#[non_exhaustive]
pub struct ConversionError {
    /// The field path, such as `metadata.creationTimestamp`.
    pub field: String,
    /// What k8s-openapi's decoder refused, at [`field`](Self::field).
    #[source]
    pub source: DecodeError,
}

fn map_vec<A, B: From<A>>(v: Option<Vec<A>>) -> Option<Vec<B>> {
    v.map(|v| v.into_iter().map(B::from).collect())
}

impl From<intstr::IntOrString> for IntOrString {
    fn from(v: intstr::IntOrString) -> Self {
        match v {
            intstr::IntOrString::Int(n) => IntOrString::Int(n),
            intstr::IntOrString::String(s) => IntOrString::String(s),
        }
    }
}

impl From<IntOrString> for intstr::IntOrString {
    fn from(v: IntOrString) -> Self {
        match v {
            IntOrString::Int(n) => intstr::IntOrString::Int(n),
            IntOrString::String(s) => intstr::IntOrString::String(s),
        }
    }
}

impl From<k8s_meta::LabelSelectorRequirement> for LabelSelectorRequirement {
    fn from(v: k8s_meta::LabelSelectorRequirement) -> Self {
        LabelSelectorRequirement {
            key: Some(v.key),
            operator: Some(v.operator),
            values: v.values,
        }
    }
}

impl From<LabelSelectorRequirement> for k8s_meta::LabelSelectorRequirement {
    fn from(v: LabelSelectorRequirement) -> Self {
        k8s_meta::LabelSelectorRequirement {
            key: v.key.unwrap_or_default(),
            operator: v.operator.unwrap_or_default(),
            values: v.values,
        }
    }
}

impl From<k8s_meta::LabelSelector> for LabelSelector {
    fn from(v: k8s_meta::LabelSelector) -> Self {
        LabelSelector {
            match_labels: v.match_labels,
            match_expressions: map_vec(v.match_expressions),
        }
    }
}

impl From<LabelSelector> for k8s_meta::LabelSelector {
    fn from(v: LabelSelector) -> Self {
        k8s_meta::LabelSelector {
            match_labels: v.match_labels,
            match_expressions: map_vec(v.match_expressions),
        }
    }
}

impl From<k8s::IPBlock> for IpBlock {
    fn from(v: k8s::IPBlock) -> Self {
        IpBlock {
            cidr: v.cidr,
            except: v.except,
        }
    }
}

impl From<IpBlock> for k8s::IPBlock {
    fn from(v: IpBlock) -> Self {
        k8s::IPBlock {
            cidr: v.cidr,
            except: v.except,
        }
    }
}

impl From<k8s::NetworkPolicyPeer> for NetworkPolicyPeer {
    fn from(v: k8s::NetworkPolicyPeer) -> Self {
        NetworkPolicyPeer {
            pod_selector: v.pod_selector.map(Into::into),
            namespace_selector: v.namespace_selector.map(Into::into),
            ip_block: v.ip_block.map(Into::into),
        }
    }
}

impl From<NetworkPolicyPeer> for k8s::NetworkPolicyPeer {
    fn from(v: NetworkPolicyPeer) -> Self {
        k8s::NetworkPolicyPeer {
            pod_selector: v.pod_selector.map(Into::into),
            namespace_selector: v.namespace_selector.map(Into::into),
            ip_block: v.ip_block.map(Into::into),
        }
    }
}

impl From<k8s::NetworkPolicyPort> for NetworkPolicyPort {
    fn from(v: k8s::NetworkPolicyPort) -> Self {
        NetworkPolicyPort {
            protocol: v.protocol,
            port: v.port.map(Into::into),
            end_port: v.end_port,
        }
    }
}

impl From<NetworkPolicyPort> for k8s::NetworkPolicyPort {
    fn from(v: NetworkPolicyPort) -> Self {
        k8s::NetworkPolicyPort {
            protocol: v.protocol,
            port: v.port.map(Into::into),
            end_port: v.end_port,
        }
    }
}

impl From<k8s::NetworkPolicyIngressRule> for NetworkPolicyIngressRule {
    fn from(v: k8s::NetworkPolicyIngressRule) -> Self {
        NetworkPolicyIngressRule {
            ports: map_vec(v.ports),
            from: map_vec(v.from),
        }
    }
}

impl From<NetworkPolicyIngressRule> for k8s::NetworkPolicyIngressRule {
    fn from(v: NetworkPolicyIngressRule) -> Self {
        k8s::NetworkPolicyIngressRule {
            ports: map_vec(v.ports),
            from: map_vec(v.from),
        }
    }
}

impl From<k8s::NetworkPolicyEgressRule> for NetworkPolicyEgressRule {
    fn from(v: k8s::NetworkPolicyEgressRule) -> Self {
        NetworkPolicyEgressRule {
            ports: map_vec(v.ports),
            to: map_vec(v.to),
        }
    }
}

impl From<NetworkPolicyEgressRule> for k8s::NetworkPolicyEgressRule {
    fn from(v: NetworkPolicyEgressRule) -> Self {
        k8s::NetworkPolicyEgressRule {
            ports: map_vec(v.ports),
            to: map_vec(v.to),
        }
    }
}

impl From<k8s::NetworkPolicySpec> for NetworkPolicySpec {
    fn from(v: k8s::NetworkPolicySpec) -> Self {
        NetworkPolicySpec {
            pod_selector: v.pod_selector.map(Into::into),
            ingress: map_vec(v.ingress),
            egress: map_vec(v.egress),
            policy_types: v.policy_types,
        }
    }
}

impl From<NetworkPolicySpec> for k8s::NetworkPolicySpec {
    fn from(v: NetworkPolicySpec) -> Self {
        k8s::NetworkPolicySpec {
            pod_selector: v.pod_selector.map(Into::into),
            ingress: map_vec(v.ingress),
            egress: map_vec(v.egress),
            policy_types: v.policy_types,
        }
    }
}

fn time_from(t: k8s_meta::Time) -> Time {
    // k8s-openapi writes `%Y-%m-%dT%H:%M:%SZ`, which Go's parser accepts.
    match serde_json::to_value(&t) {
        Ok(serde_json::Value::String(s)) => Time::unchecked(s),
        _ => Time::default(),
    }
}

fn time_into(t: Time, field: &str) -> Result<Option<k8s_meta::Time>, ConversionError> {
    let Some(text) = t.as_str() else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map(Some)
        .map_err(|e| ConversionError {
            field: field.to_owned(),
            source: DecodeError {
                path: field.to_owned(),
                ..crate::model::go_json::syntax_error(&e)
            },
        })
}

impl From<k8s_meta::OwnerReference> for OwnerReference {
    fn from(v: k8s_meta::OwnerReference) -> Self {
        OwnerReference {
            api_version: Some(v.api_version),
            kind: Some(v.kind),
            name: Some(v.name),
            uid: Some(v.uid),
            controller: v.controller,
            block_owner_deletion: v.block_owner_deletion,
            extra: serde_json::Map::new(),
        }
    }
}

impl From<OwnerReference> for k8s_meta::OwnerReference {
    fn from(v: OwnerReference) -> Self {
        k8s_meta::OwnerReference {
            api_version: v.api_version.unwrap_or_default(),
            kind: v.kind.unwrap_or_default(),
            name: v.name.unwrap_or_default(),
            uid: v.uid.unwrap_or_default(),
            controller: v.controller,
            block_owner_deletion: v.block_owner_deletion,
        }
    }
}

impl From<k8s_meta::ManagedFieldsEntry> for ManagedFieldsEntry {
    fn from(v: k8s_meta::ManagedFieldsEntry) -> Self {
        ManagedFieldsEntry {
            manager: v.manager,
            operation: v.operation,
            api_version: v.api_version,
            time: v.time.map(time_from),
            fields_type: v.fields_type,
            fields_v1: v.fields_v1.map(|f| f.0),
            subresource: v.subresource,
            extra: serde_json::Map::new(),
        }
    }
}

impl From<k8s_meta::ObjectMeta> for ObjectMeta {
    fn from(v: k8s_meta::ObjectMeta) -> Self {
        ObjectMeta {
            name: v.name,
            generate_name: v.generate_name,
            namespace: v.namespace,
            self_link: v.self_link,
            uid: v.uid,
            resource_version: v.resource_version,
            generation: v.generation,
            creation_timestamp: v.creation_timestamp.map(time_from),
            deletion_timestamp: v.deletion_timestamp.map(time_from),
            deletion_grace_period_seconds: v.deletion_grace_period_seconds,
            labels: v.labels,
            annotations: v.annotations,
            owner_references: map_vec(v.owner_references),
            finalizers: v.finalizers,
            managed_fields: map_vec(v.managed_fields),
            extra: serde_json::Map::new(),
        }
    }
}

impl TryFrom<ObjectMeta> for k8s_meta::ObjectMeta {
    type Error = ConversionError;

    fn try_from(v: ObjectMeta) -> Result<Self, ConversionError> {
        let mut managed_fields = None;
        if let Some(entries) = v.managed_fields {
            let mut out = Vec::with_capacity(entries.len());
            for (i, e) in entries.into_iter().enumerate() {
                out.push(k8s_meta::ManagedFieldsEntry {
                    manager: e.manager,
                    operation: e.operation,
                    api_version: e.api_version,
                    time: match e.time {
                        Some(t) => time_into(t, &format!("metadata.managedFields[{i}].time"))?,
                        None => None,
                    },
                    fields_type: e.fields_type,
                    fields_v1: e.fields_v1.map(k8s_meta::FieldsV1),
                    subresource: e.subresource,
                });
            }
            managed_fields = Some(out);
        }
        Ok(k8s_meta::ObjectMeta {
            name: v.name,
            generate_name: v.generate_name,
            namespace: v.namespace,
            self_link: v.self_link,
            uid: v.uid,
            resource_version: v.resource_version,
            generation: v.generation,
            creation_timestamp: match v.creation_timestamp {
                Some(t) => time_into(t, "metadata.creationTimestamp")?,
                None => None,
            },
            deletion_timestamp: match v.deletion_timestamp {
                Some(t) => time_into(t, "metadata.deletionTimestamp")?,
                None => None,
            },
            deletion_grace_period_seconds: v.deletion_grace_period_seconds,
            labels: v.labels,
            annotations: v.annotations,
            owner_references: map_vec(v.owner_references),
            finalizers: v.finalizers,
            managed_fields,
        })
    }
}

impl From<k8s::NetworkPolicy> for NetworkPolicy {
    fn from(v: k8s::NetworkPolicy) -> Self {
        use ::k8s_openapi::Resource;
        NetworkPolicy {
            api_version: Some(k8s::NetworkPolicy::API_VERSION.to_owned()),
            kind: Some(k8s::NetworkPolicy::KIND.to_owned()),
            metadata: v.metadata.into(),
            spec: v.spec.map(Into::into).unwrap_or_default(),
            extra: serde_json::Map::new(),
        }
    }
}

impl TryFrom<NetworkPolicy> for k8s::NetworkPolicy {
    type Error = ConversionError;

    fn try_from(v: NetworkPolicy) -> Result<Self, ConversionError> {
        Ok(k8s::NetworkPolicy {
            metadata: v.metadata.try_into()?,
            spec: Some(v.spec.into()),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Core objects: Namespace, Node, Pod (k8s-openapi → this crate)
// ---------------------------------------------------------------------------------------

use ::k8s_openapi::api::core::v1 as k8s_core;

use crate::model::{
    Container, ContainerPort, Namespace, Node, NodeAddress, NodeSpec, NodeStatus, Pod, PodIp,
    PodSpec, PodStatus,
};

/// The fields of `value` other than `known`, as the `extra` map of a model that reads only
/// `known`: nothing k8s-openapi holds is lost.
fn rest<T: serde::Serialize>(
    value: &T,
    known: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(mut map)) => {
            for key in known {
                map.remove(*key);
            }
            map
        }
        _ => serde_json::Map::new(),
    }
}

/// A top-level object's other fields (`spec`, `status`) with `apiVersion` and `kind`
/// left out: the model has fields of its own for them.
fn rest_top<T: serde::Serialize>(
    value: &T,
    known: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let mut map = rest(value, known);
    map.remove("apiVersion");
    map.remove("kind");
    map.remove("metadata");
    map
}

/// k8s-openapi's Namespace: metadata, with `spec` and `status` kept in `extra`.
///
/// ```
/// use k8s_openapi::api::core::v1 as k8s;
/// let mut ns = k8s::Namespace::default();
/// ns.metadata.name = Some("shop".into());
/// ns.metadata.labels = Some([("team".to_owned(), "shop".to_owned())].into());
/// let ours = netpol::model::Namespace::from(ns);
/// assert_eq!(ours.kind.as_deref(), Some("Namespace"));
/// assert_eq!(ours.metadata.labels.unwrap()["team"], "shop");
/// ```
impl From<k8s_core::Namespace> for Namespace {
    fn from(v: k8s_core::Namespace) -> Self {
        use ::k8s_openapi::Resource;
        let extra = rest_top(&v, &[]);
        Namespace {
            api_version: Some(k8s_core::Namespace::API_VERSION.to_owned()),
            kind: Some(k8s_core::Namespace::KIND.to_owned()),
            metadata: v.metadata.into(),
            extra,
        }
    }
}

/// k8s-openapi's Node: metadata, `spec.podCIDR(s)` and `status.addresses`, everything else
/// in `extra` maps.
///
/// ```
/// use k8s_openapi::api::core::v1 as k8s;
/// let node = k8s::Node {
///     metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
///         name: Some("n1".into()), ..Default::default()
///     },
///     spec: Some(k8s::NodeSpec { pod_cidr: Some("10.244.1.0/24".into()), ..Default::default() }),
///     status: Some(k8s::NodeStatus {
///         addresses: Some(vec![k8s::NodeAddress { type_: "InternalIP".into(), address: "192.168.0.11".into() }]),
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// let ours = netpol::model::Node::from(node);
/// assert_eq!(ours.status.addresses.unwrap()[0].address, "192.168.0.11");
/// assert_eq!(ours.spec.pod_cidr.as_deref(), Some("10.244.1.0/24"));
/// ```
impl From<k8s_core::Node> for Node {
    fn from(v: k8s_core::Node) -> Self {
        use ::k8s_openapi::Resource;
        let extra = rest_top(&v, &["spec", "status"]);
        let spec = v.spec.map(|s| NodeSpec {
            extra: rest(&s, &["podCIDR", "podCIDRs"]),
            pod_cidr: s.pod_cidr,
            pod_cidrs: s.pod_cidrs,
        });
        let status = v.status.map(|s| NodeStatus {
            extra: rest(&s, &["addresses"]),
            addresses: s.addresses.map(|list| {
                list.into_iter()
                    .map(|a| NodeAddress {
                        type_: a.type_,
                        address: a.address,
                    })
                    .collect()
            }),
        });
        Node {
            api_version: Some(k8s_core::Node::API_VERSION.to_owned()),
            kind: Some(k8s_core::Node::KIND.to_owned()),
            metadata: v.metadata.into(),
            spec: spec.unwrap_or_default(),
            status: status.unwrap_or_default(),
            extra,
        }
    }
}

/// k8s-openapi's Pod: the fields the cluster reads (node, host network, service account,
/// container ports, phase, addresses), everything else in `extra` maps.
///
/// ```
/// use k8s_openapi::api::core::v1 as k8s;
/// let pod = k8s::Pod {
///     metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
///         name: Some("db".into()), namespace: Some("shop".into()), ..Default::default()
///     },
///     spec: Some(k8s::PodSpec {
///         node_name: Some("n1".into()),
///         containers: vec![k8s::Container {
///             name: "pg".into(),
///             image: Some("postgres:16".into()),
///             ports: Some(vec![k8s::ContainerPort { name: Some("pg".into()), container_port: 5432, ..Default::default() }]),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }),
///     status: Some(k8s::PodStatus { pod_ip: Some("10.244.1.5".into()), ..Default::default() }),
/// };
/// let ours = netpol::model::Pod::from(pod);
/// let container = &ours.spec.containers.as_ref().unwrap()[0];
/// assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 5432);
/// assert_eq!(container.extra["image"], "postgres:16");
/// assert_eq!(ours.status.pod_ip.as_deref(), Some("10.244.1.5"));
///
/// let mut objects = netpol::cluster::ClusterObjects::new();
/// objects.add_pod(ours);
/// assert!(objects.build()?.cluster.pod_id("shop", "db").is_some());
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
impl From<k8s_core::Pod> for Pod {
    fn from(v: k8s_core::Pod) -> Self {
        use ::k8s_openapi::Resource;
        let extra = rest_top(&v, &["spec", "status"]);
        let spec = v.spec.map(|s| PodSpec {
            extra: rest(
                &s,
                &[
                    "nodeName",
                    "hostNetwork",
                    "serviceAccountName",
                    "serviceAccount",
                    "containers",
                ],
            ),
            node_name: s.node_name,
            host_network: s.host_network,
            service_account_name: s.service_account_name,
            service_account: s.service_account,
            containers: Some(s.containers.into_iter().map(Container::from).collect()),
        });
        let status = v.status.map(|s| PodStatus {
            extra: rest(&s, &["phase", "podIP", "podIPs", "hostIP"]),
            phase: s.phase,
            pod_ip: s.pod_ip,
            pod_ips: s
                .pod_ips
                .map(|ips| ips.into_iter().map(|p| PodIp { ip: p.ip }).collect()),
            host_ip: s.host_ip,
        });
        Pod {
            api_version: Some(k8s_core::Pod::API_VERSION.to_owned()),
            kind: Some(k8s_core::Pod::KIND.to_owned()),
            metadata: v.metadata.into(),
            spec: spec.unwrap_or_default(),
            status: status.unwrap_or_default(),
            extra,
        }
    }
}

/// k8s-openapi's Container: its name and ports, everything else in `extra`.
///
/// ```
/// use k8s_openapi::api::core::v1 as k8s;
/// let c = netpol::model::Container::from(k8s::Container { name: "web".into(), ..Default::default() });
/// assert_eq!(c.name.as_deref(), Some("web"));
/// ```
impl From<k8s_core::Container> for Container {
    fn from(c: k8s_core::Container) -> Self {
        Container {
            extra: rest(&c, &["name", "ports"]),
            name: Some(c.name),
            ports: c
                .ports
                .map(|ports| ports.into_iter().map(ContainerPort::from).collect()),
        }
    }
}

/// k8s-openapi's ContainerPort, field for field.
///
/// ```
/// use k8s_openapi::api::core::v1 as k8s;
/// let p = netpol::model::ContainerPort::from(k8s::ContainerPort {
///     container_port: 53, protocol: Some("UDP".into()), ..Default::default() });
/// assert_eq!((p.container_port, p.protocol.as_deref()), (53, Some("UDP")));
/// ```
impl From<k8s_core::ContainerPort> for ContainerPort {
    fn from(p: k8s_core::ContainerPort) -> Self {
        ContainerPort {
            name: p.name,
            host_port: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol,
            host_ip: p.host_ip,
        }
    }
}
