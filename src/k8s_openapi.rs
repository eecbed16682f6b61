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
    IntOrString, IpBlock, LabelSelector, LabelSelectorRequirement, ManagedFieldsEntry,
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConversionError {
    /// The field path, such as `metadata.creationTimestamp`.
    pub field: String,
    /// What was wrong, from the decoder.
    pub message: String,
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
            message: e.to_string(),
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
