use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::go_json::{
    self, Checked, DecodeError, GoError, Gvk, Json, Node, Segment, TypeMeta, go_struct, go_value,
};
use super::{CNP_API_VERSION, ClusterNetworkPolicy, IntOrString, LabelSelector, ObjectMeta};
use crate::calico;

go_struct! {
    /// A `networking.k8s.io/v1` NetworkPolicy as written.
    ///
    /// ```
    /// use netpol::model::NetworkPolicy;
    ///
    /// let p = NetworkPolicy::from_json(r#"{
    ///   "metadata": {"name": "db", "namespace": "default"},
    ///   "spec": {
    ///     "podSelector": {"matchLabels": {"role": "db"}},
    ///     "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "api"}}}],
    ///                  "ports": [{"port": 5432}]}]
    ///   }
    /// }"#)?;
    /// let rule = &p.spec.ingress.as_ref().unwrap()[0];
    /// assert_eq!(rule.ports.as_ref().unwrap()[0].port, Some(5432.into()));
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct NetworkPolicy {
        /// `apiVersion`, normally `networking.k8s.io/v1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind`, normally `NetworkPolicy`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// `metadata`.
        pub metadata: ObjectMeta,
        /// `spec`.
        pub spec: NetworkPolicySpec,
        /// Every other top-level field (for instance a `status`), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    kind("networking.k8s.io/v1", "NetworkPolicy");
}

go_struct! {
    /// `spec` of a NetworkPolicy.
    ///
    /// ```
    /// use netpol::model::NetworkPolicySpec;
    /// let spec: NetworkPolicySpec =
    ///     serde_json::from_str(r#"{"podSelector": {}, "policyTypes": ["Egress"]}"#).unwrap();
    /// assert_eq!(spec.policy_types.as_deref(), Some(&["Egress".to_string()][..]));
    /// assert!(spec.ingress.is_none() && spec.egress.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkPolicySpec {
        /// `podSelector`: the pods of the policy's namespace it applies to. The API requires
        /// it; `kubectl` prints `{}` for "all pods". Absent is treated like `{}` (that is what
        /// the apiserver's decoding does) but kept apart so it serializes back as written.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub pod_selector: Option<LabelSelector>,
        /// `ingress` rules. `None` and `Some(vec![])` differ only when `policyTypes` is
        /// written; both allow no ingress when the policy isolates ingress.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Vec<NetworkPolicyIngressRule>>,
        /// `egress` rules.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub egress: Option<Vec<NetworkPolicyEgressRule>>,
        /// `policyTypes` as written (`Ingress`, `Egress`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub policy_types: Option<Vec<String>>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `ingress` rule: traffic from any of `from`, to any of `ports`.
    ///
    /// A missing or empty `from` matches every source; a missing or empty `ports` every port.
    ///
    /// ```
    /// use netpol::model::NetworkPolicyIngressRule;
    /// let allow_all = NetworkPolicyIngressRule::default();
    /// assert!(allow_all.from.is_none() && allow_all.ports.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkPolicyIngressRule {
        /// `ports`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ports: Option<Vec<NetworkPolicyPort>>,
        /// `from`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub from: Option<Vec<NetworkPolicyPeer>>,
    }
}

go_struct! {
    /// One `egress` rule: traffic to any of `to`, on any of `ports`.
    ///
    /// ```
    /// use netpol::model::NetworkPolicyEgressRule;
    /// let rule: NetworkPolicyEgressRule =
    ///     serde_json::from_str(r#"{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}"#).unwrap();
    /// assert_eq!(rule.to.unwrap()[0].ip_block.as_ref().unwrap().cidr, "10.0.0.0/8");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkPolicyEgressRule {
        /// `ports`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ports: Option<Vec<NetworkPolicyPort>>,
        /// `to`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub to: Option<Vec<NetworkPolicyPeer>>,
    }
}

go_struct! {
    /// A peer: pods chosen by selectors, or an `ipBlock`.
    ///
    /// Exactly one of the forms must be used: `podSelector` and/or `namespaceSelector`, or
    /// `ipBlock` alone (checked by [`crate::validate`]).
    ///
    /// ```
    /// use netpol::model::NetworkPolicyPeer;
    /// let peer: NetworkPolicyPeer = serde_json::from_str(
    ///     r#"{"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {}}"#,
    /// ).unwrap();
    /// assert!(peer.pod_selector.is_some() && peer.namespace_selector.is_some());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkPolicyPeer {
        /// `podSelector`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub pod_selector: Option<LabelSelector>,
        /// `namespaceSelector`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<LabelSelector>,
        /// `ipBlock`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ip_block: Option<IpBlock>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// An `ipBlock`: a CIDR minus `except` CIDRs, kept as the strings written.
    ///
    /// ```
    /// use netpol::model::IpBlock;
    /// let b = IpBlock::new("172.17.0.0/16", ["172.17.1.0/24"]);
    /// assert_eq!(b.except.unwrap(), vec!["172.17.1.0/24".to_string()]);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct IpBlock {
        /// `cidr`, e.g. `10.0.0.0/8` or `2001:db8::/32`.
        pub cidr: String,
        /// `except`: CIDRs inside `cidr` that are not part of the block.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub except: Option<Vec<String>>,
    }
}

impl IpBlock {
    /// An ipBlock from a CIDR and except entries (`None` when there are none).
    ///
    /// ```
    /// let b = netpol::model::IpBlock::new("0.0.0.0/0", Vec::<String>::new());
    /// assert!(b.except.is_none());
    /// ```
    pub fn new<S: Into<String>>(
        cidr: impl Into<String>,
        except: impl IntoIterator<Item = S>,
    ) -> Self {
        let except: Vec<String> = except.into_iter().map(Into::into).collect();
        IpBlock {
            cidr: cidr.into(),
            except: if except.is_empty() {
                None
            } else {
                Some(except)
            },
        }
    }
}

go_struct! {
    /// A `ports` entry: protocol, port number or name, and optional `endPort`.
    ///
    /// ```
    /// use netpol::model::{IntOrString, NetworkPolicyPort};
    /// let p: NetworkPolicyPort =
    ///     serde_json::from_str(r#"{"protocol": "UDP", "port": 32000, "endPort": 32768}"#).unwrap();
    /// assert_eq!(p.port, Some(IntOrString::Int(32000)));
    /// assert_eq!(p.end_port, Some(32768));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkPolicyPort {
        /// `protocol` as written: `TCP` (the default), `UDP` or `SCTP`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub protocol: Option<String>,
        /// `port`: a number or a container port name; absent means every port.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub port: Option<IntOrString>,
        /// `endPort`: with a numeric `port`, the last port of the range.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub end_port: Option<i32>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// A `NetworkPolicyList` (or a generic `List`) as `kubectl get networkpolicies -o json` prints.
    ///
    /// ```
    /// use netpol::model::NetworkPolicyList;
    /// let list: NetworkPolicyList = serde_json::from_str(
    ///     r#"{"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "a"}, "spec": {}}]}"#,
    /// ).unwrap();
    /// assert_eq!(list.items.len(), 1);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct NetworkPolicyList {
        /// `apiVersion`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind`: `NetworkPolicyList` or `List`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// The policies.
        pub items: Vec<NetworkPolicy>,
        /// Every other field (list `metadata`, …), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

impl NetworkPolicy {
    /// Decodes one NetworkPolicy from JSON text with the apiserver's rules (see
    /// [`go_json`](super::go_json)); errors carry the field path, line and column.
    ///
    /// ```
    /// let p = netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "x"}}"#).unwrap();
    /// assert_eq!(p.metadata.name.as_deref(), Some("x"));
    /// let err = netpol::model::NetworkPolicy::from_json(r#"{"spec": {"podSelector": []}}"#).unwrap_err();
    /// assert_eq!(err.path, "spec.podSelector");
    /// assert_eq!(err.message, "cannot unmarshal array into an object (LabelSelector)");
    /// ```
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        go_json::from_str(text)
    }

    /// Decodes one NetworkPolicy from an already parsed JSON value.
    ///
    /// ```
    /// let v = serde_json::json!({"spec": {"policyTypes": ["Ingress"]}});
    /// let p = netpol::model::NetworkPolicy::from_value(&v).unwrap();
    /// assert!(p.spec.pod_selector.is_none());
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<Self, DecodeError> {
        go_json::from_value(value)
    }

    /// `namespace/name`, with `default` for a missing namespace and an empty name when none.
    ///
    /// ```
    /// let p = netpol::model::NetworkPolicy::new("prod", "deny-all");
    /// assert_eq!(p.key(), "prod/deny-all");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace_or_default(),
            self.metadata.name.as_deref().unwrap_or("")
        )
    }

    /// A policy with a namespace and name, `apiVersion` and `kind` set, and an empty spec.
    ///
    /// ```
    /// let p = netpol::model::NetworkPolicy::new("default", "p");
    /// assert_eq!(p.kind.as_deref(), Some("NetworkPolicy"));
    /// ```
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        NetworkPolicy {
            api_version: Some("networking.k8s.io/v1".into()),
            kind: Some("NetworkPolicy".into()),
            metadata: ObjectMeta::named(namespace, name),
            spec: NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                ..NetworkPolicySpec::default()
            },
            extra: serde_json::Map::new(),
        }
    }
}

/// Decodes JSON holding either one NetworkPolicy, or a `NetworkPolicyList` / `List` of them
/// (what `kubectl get networkpolicy -o json` prints for one object and for many).
///
/// Each object is decoded with the apiserver's rules (see [`go_json`](super::go_json)),
/// after its `apiVersion` and `kind` say what it is: an object of another kind (a
/// Deployment, an Ingress, `apiVersion: a/b/c`) is an error naming what was found, so
/// nothing is dropped or misread silently. A missing `apiVersion` or `kind` is filled
/// in as the apiserver fills it from the endpoint a manifest is sent to (here the
/// NetworkPolicy one); items of a typed list (`NetworkPolicyList`) that carry neither
/// get the list's, as kubectl does. A list is decoded one item at a time, without
/// holding the whole document as a JSON value.
///
/// ```
/// let one = netpol::model::decode_policies(r#"{"kind": "NetworkPolicy", "metadata": {"name": "a"}}"#)?;
/// let many = netpol::model::decode_policies(
///     r#"{"kind": "NetworkPolicyList", "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#,
/// )?;
/// assert_eq!((one.len(), many.len()), (1, 2));
/// let err = netpol::model::decode_policies(r#"{"apiVersion": "apps/v1", "kind": "Deployment"}"#).unwrap_err();
/// assert_eq!(err.path, "kind");
/// assert_eq!(err.message,
///     r#"found kind "Deployment" of apiVersion "apps/v1", not a NetworkPolicy (apiVersion "networking.k8s.io/v1")"#);
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn decode_policies(text: &str) -> Result<Vec<NetworkPolicy>, DecodeError> {
    Ok(decode_objects(text, NETWORK_POLICY_ONLY)?
        .into_iter()
        .filter_map(|object| match object {
            PolicyObject::NetworkPolicy(p) => Some(p),
            // Not in the table this function reads with.
            _ => None,
        })
        .collect())
}

/// Decodes JSON holding one policy object of any kind this crate models, or a list of
/// them mixed (what `kubectl get networkpolicies,clusternetworkpolicies -A -o json` prints:
/// `kind: List`), or a typed list (`NetworkPolicyList`, `ClusterNetworkPolicyList`).
///
/// Each object is decoded with the apiserver's rules after its `apiVersion` and `kind`
/// say what it is (see [`decode_policies`] for how missing ones are filled in); an object
/// of a kind this crate does not model is an error naming what was found.
///
/// ```
/// use netpol::model::{PolicyObject, decode_policy_objects};
/// let objs = decode_policy_objects(r#"{"kind": "List", "items": [
///   {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
///    "metadata": {"name": "np", "namespace": "a"}, "spec": {"podSelector": {}}},
///   {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
///    "metadata": {"name": "cnp"}, "spec": {"tier": "Admin", "priority": 1, "subject": {"namespaces": {}}}}
/// ]}"#)?;
/// assert!(matches!(&objs[0], PolicyObject::NetworkPolicy(p) if p.key() == "a/np"));
/// assert!(matches!(&objs[1], PolicyObject::ClusterNetworkPolicy(c) if c.name() == "cnp"));
/// assert_eq!(objs[1].kind(), "ClusterNetworkPolicy");
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn decode_policy_objects(text: &str) -> Result<Vec<PolicyObject>, DecodeError> {
    decode_objects(text, KINDS)
}

/// One decoded policy object of any kind this crate models.
///
/// More kinds may join, so matches need a wildcard arm.
///
/// ```
/// use netpol::model::{NetworkPolicy, PolicyObject};
/// let p = PolicyObject::NetworkPolicy(NetworkPolicy::new("a", "b"));
/// assert_eq!(p.kind(), "NetworkPolicy");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PolicyObject {
    /// A `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// A `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy(ClusterNetworkPolicy),
    /// A Calico `NetworkPolicy` (`projectcalico.org/v3` or `crd.projectcalico.org/v1`,
    /// told apart by its [`api_group`](calico::NetworkPolicy::api_group)).
    CalicoNetworkPolicy(calico::NetworkPolicy),
    /// A Calico `GlobalNetworkPolicy` (either API group).
    GlobalNetworkPolicy(calico::GlobalNetworkPolicy),
    /// A Calico `NetworkSet` (either API group).
    NetworkSet(calico::NetworkSet),
    /// A Calico `GlobalNetworkSet` (either API group).
    GlobalNetworkSet(calico::GlobalNetworkSet),
    /// A Calico `Tier` (either API group).
    Tier(calico::Tier),
}

impl PolicyObject {
    /// Decodes one object of any supported kind from a parsed value, told apart by its
    /// `apiVersion` and `kind` (absent: NetworkPolicy, as the NetworkPolicy endpoint reads
    /// it).
    ///
    /// ```
    /// use netpol::model::PolicyObject;
    /// let v = serde_json::json!({"apiVersion": "policy.networking.k8s.io/v1alpha2",
    ///     "kind": "ClusterNetworkPolicy", "metadata": {"name": "guard"}});
    /// assert_eq!(PolicyObject::from_value(&v)?.kind(), "ClusterNetworkPolicy");
    /// let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod"});
    /// assert_eq!(PolicyObject::from_value(&pod).unwrap_err().path, "kind");
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    pub fn from_value(value: &Value) -> Result<Self, DecodeError> {
        decode_object(&Node::from_value(value), &endpoint_default(), KINDS)
            .map_err(|e| e.into_decode_error(None))
    }

    /// Decodes one object of any supported kind from its JSON text, told apart by its
    /// `apiVersion` and `kind` as [`PolicyObject::from_value`] does. Unlike a parsed value,
    /// the text keeps what the apiserver's decoder sees and a `Value` loses: keys in the
    /// order written and repeated keys (decoded again into the same field, see
    /// [`go_json`](super::go_json)), and numbers as written (`-0` is the integer 0).
    ///
    /// ```
    /// use netpol::model::PolicyObject;
    /// let text = r#"{"metadata": {"name": "web", "name": null}, "spec": {"podSelector": {}}}"#;
    /// let PolicyObject::NetworkPolicy(p) = PolicyObject::from_json(text)? else { panic!() };
    /// assert_eq!(p.metadata.name.as_deref(), Some("web")); // null leaves a string as it was
    /// let err = PolicyObject::from_json(r#"{"spec": {"podSelector": [], "podSelector": {}}}"#)
    ///     .unwrap_err(); // the first type error is kept
    /// assert_eq!(err.path, "spec.podSelector");
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        let text = go_json::go_text(text);
        let default = endpoint_default();
        if let Some(decoded) = fast_object(&text, &default, KINDS) {
            return Ok(decoded);
        }
        let node = go_json::parse_node(&text)?;
        decode_object(&node, &default, KINDS).map_err(|e| e.into_decode_error(Some(&text)))
    }

    /// The object's kind.
    ///
    /// ```
    /// use netpol::model::{NetworkPolicy, PolicyObject};
    /// assert_eq!(PolicyObject::NetworkPolicy(NetworkPolicy::new("a", "b")).kind(), "NetworkPolicy");
    /// ```
    ///
    /// Calico's NetworkPolicy is `NetworkPolicy.projectcalico.org`, as `kubectl` writes the
    /// resource to tell it from Kubernetes' own (whichever API group it came as):
    ///
    /// ```
    /// use netpol::model::PolicyObject;
    /// let p = PolicyObject::CalicoNetworkPolicy(netpol::calico::NetworkPolicy::new("a", "b"));
    /// assert_eq!(p.kind(), "NetworkPolicy.projectcalico.org");
    /// ```
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyObject::NetworkPolicy(_) => "NetworkPolicy",
            PolicyObject::ClusterNetworkPolicy(_) => "ClusterNetworkPolicy",
            PolicyObject::CalicoNetworkPolicy(_) => "NetworkPolicy.projectcalico.org",
            PolicyObject::GlobalNetworkPolicy(_) => "GlobalNetworkPolicy",
            PolicyObject::NetworkSet(_) => "NetworkSet",
            PolicyObject::GlobalNetworkSet(_) => "GlobalNetworkSet",
            PolicyObject::Tier(_) => "Tier",
        }
    }

    /// The `apiVersion` of the group the object was read as.
    ///
    /// ```
    /// use netpol::model::decode_policy_objects;
    /// let objs = decode_policy_objects(r#"{"kind": "List", "items": [
    ///   {"apiVersion": "crd.projectcalico.org/v1", "kind": "Tier", "metadata": {"name": "t"}},
    ///   {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "u"}}]}"#)?;
    /// assert_eq!(objs[0].api_version(), "crd.projectcalico.org/v1");
    /// assert_eq!(objs[1].api_version(), "projectcalico.org/v3");
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    #[must_use]
    pub fn api_version(&self) -> &'static str {
        match self {
            PolicyObject::NetworkPolicy(_) => "networking.k8s.io/v1",
            PolicyObject::ClusterNetworkPolicy(_) => CNP_API_VERSION,
            PolicyObject::CalicoNetworkPolicy(o) => o.api_group.api_version(),
            PolicyObject::GlobalNetworkPolicy(o) => o.api_group.api_version(),
            PolicyObject::NetworkSet(o) => o.api_group.api_version(),
            PolicyObject::GlobalNetworkSet(o) => o.api_group.api_version(),
            PolicyObject::Tier(o) => o.api_group.api_version(),
        }
    }
}

type Decoded = PolicyObject;

/// One policy kind a document may hold.
struct KindEntry {
    /// `group/version`.
    api_version: &'static str,
    kind: &'static str,
    /// Decodes a parsed object (the authority, with error paths).
    decode: fn(&Node<'_>) -> Result<Decoded, GoError>,
    /// Decodes the object's text in one streaming pass, `None` on any error (see
    /// [`go_json::decode_streaming`]); its kind is already checked.
    fast: fn(&str) -> Option<Decoded>,
}

/// A table of kinds to decode.
type Kinds = &'static [KindEntry];

/// The policy kinds, chosen by `apiVersion` and `kind`: a new kind is one more entry
/// (and one more [`Decoded`] variant). [`decode_policies`] reads only the first.
const KINDS: Kinds = &[
    KindEntry {
        api_version: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        decode: |v| go_json::decode_node::<NetworkPolicy>(v).map(Decoded::NetworkPolicy),
        fast: |t| {
            go_json::decode_streaming::<NetworkPolicy>(t, go_json::Root::Checked)
                .map(Decoded::NetworkPolicy)
        },
    },
    KindEntry {
        api_version: CNP_API_VERSION,
        kind: "ClusterNetworkPolicy",
        decode: |v| {
            go_json::decode_node::<ClusterNetworkPolicy>(v).map(Decoded::ClusterNetworkPolicy)
        },
        fast: |t| {
            go_json::decode_streaming::<ClusterNetworkPolicy>(t, go_json::Root::Checked)
                .map(Decoded::ClusterNetworkPolicy)
        },
    },
    // Calico's kinds, each under both API groups (v3 first: a `kind` without
    // `apiVersion` takes the first entry of that kind, after Kubernetes' own).
    KindEntry {
        api_version: calico::CALICO_API_VERSION,
        kind: "NetworkPolicy",
        decode: |v| {
            go_json::decode_node::<calico::NetworkPolicy>(v).map(Decoded::CalicoNetworkPolicy)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::NetworkPolicy>(t, go_json::Root::Checked)
                .map(Decoded::CalicoNetworkPolicy)
        },
    },
    KindEntry {
        api_version: calico::CALICO_CRD_API_VERSION,
        kind: "NetworkPolicy",
        decode: |v| {
            go_json::decode_node::<calico::model::CrdNetworkPolicy>(v)
                .map(Into::into)
                .map(Decoded::CalicoNetworkPolicy)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::model::CrdNetworkPolicy>(t, go_json::Root::Checked)
                .map(Into::into)
                .map(Decoded::CalicoNetworkPolicy)
        },
    },
    KindEntry {
        api_version: calico::CALICO_API_VERSION,
        kind: "GlobalNetworkPolicy",
        decode: |v| {
            go_json::decode_node::<calico::GlobalNetworkPolicy>(v).map(Decoded::GlobalNetworkPolicy)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::GlobalNetworkPolicy>(t, go_json::Root::Checked)
                .map(Decoded::GlobalNetworkPolicy)
        },
    },
    KindEntry {
        api_version: calico::CALICO_CRD_API_VERSION,
        kind: "GlobalNetworkPolicy",
        decode: |v| {
            go_json::decode_node::<calico::model::CrdGlobalNetworkPolicy>(v)
                .map(Into::into)
                .map(Decoded::GlobalNetworkPolicy)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::model::CrdGlobalNetworkPolicy>(
                t,
                go_json::Root::Checked,
            )
            .map(Into::into)
            .map(Decoded::GlobalNetworkPolicy)
        },
    },
    KindEntry {
        api_version: calico::CALICO_API_VERSION,
        kind: "NetworkSet",
        decode: |v| go_json::decode_node::<calico::NetworkSet>(v).map(Decoded::NetworkSet),
        fast: |t| {
            go_json::decode_streaming::<calico::NetworkSet>(t, go_json::Root::Checked)
                .map(Decoded::NetworkSet)
        },
    },
    KindEntry {
        api_version: calico::CALICO_CRD_API_VERSION,
        kind: "NetworkSet",
        decode: |v| {
            go_json::decode_node::<calico::model::CrdNetworkSet>(v)
                .map(Into::into)
                .map(Decoded::NetworkSet)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::model::CrdNetworkSet>(t, go_json::Root::Checked)
                .map(Into::into)
                .map(Decoded::NetworkSet)
        },
    },
    KindEntry {
        api_version: calico::CALICO_API_VERSION,
        kind: "GlobalNetworkSet",
        decode: |v| {
            go_json::decode_node::<calico::GlobalNetworkSet>(v).map(Decoded::GlobalNetworkSet)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::GlobalNetworkSet>(t, go_json::Root::Checked)
                .map(Decoded::GlobalNetworkSet)
        },
    },
    KindEntry {
        api_version: calico::CALICO_CRD_API_VERSION,
        kind: "GlobalNetworkSet",
        decode: |v| {
            go_json::decode_node::<calico::model::CrdGlobalNetworkSet>(v)
                .map(Into::into)
                .map(Decoded::GlobalNetworkSet)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::model::CrdGlobalNetworkSet>(
                t,
                go_json::Root::Checked,
            )
            .map(Into::into)
            .map(Decoded::GlobalNetworkSet)
        },
    },
    KindEntry {
        api_version: calico::CALICO_API_VERSION,
        kind: "Tier",
        decode: |v| go_json::decode_node::<calico::Tier>(v).map(Decoded::Tier),
        fast: |t| {
            go_json::decode_streaming::<calico::Tier>(t, go_json::Root::Checked).map(Decoded::Tier)
        },
    },
    KindEntry {
        api_version: calico::CALICO_CRD_API_VERSION,
        kind: "Tier",
        decode: |v| {
            go_json::decode_node::<calico::model::CrdTier>(v)
                .map(Into::into)
                .map(Decoded::Tier)
        },
        fast: |t| {
            go_json::decode_streaming::<calico::model::CrdTier>(t, go_json::Root::Checked)
                .map(Into::into)
                .map(Decoded::Tier)
        },
    },
];

/// The NetworkPolicy entry alone, for [`decode_policies`].
const NETWORK_POLICY_ONLY: Kinds = match KINDS.split_first() {
    Some((first, _)) => std::slice::from_ref(first),
    None => &[],
};

/// The kind of a bare object without `apiVersion` and `kind`: the endpoint a
/// NetworkPolicy manifest is sent to.
fn endpoint_default() -> Gvk {
    Gvk {
        group: "networking.k8s.io".into(),
        version: "v1".into(),
        kind: "NetworkPolicy".into(),
    }
}

/// One object's text decoded in one streaming pass as the kind its top-level
/// `apiVersion` and `kind` name; `None` when anything fails.
fn fast_object(text: &str, default: &Gvk, kinds: Kinds) -> Option<Decoded> {
    let (top, _) = go_json::scan_top(text)?;
    fast_object_with(text, &top, default, kinds)
}

/// [`fast_object`] with the top-level keys already scanned.
fn fast_object_with(text: &str, top: &Node<'_>, default: &Gvk, kinds: Kinds) -> Option<Decoded> {
    if !go_json::exact_type_meta_keys(top) {
        return None;
    }
    let tm = go_json::interpret(top).ok()?;
    let default = defaults_for(&tm, default, kinds);
    let found = go_json::resolve_type_meta(&tm, &default).ok()?;
    let entry = kinds.iter().find(|e| e.gvk() == found)?;
    (entry.fast)(text)
}

/// The defaults for an object: `default`, except that an object naming one of the
/// [`KINDS`] by `kind` alone, without `apiVersion`, takes that kind's group and version
/// (the only endpoint such a manifest can be meant for).
fn defaults_for(tm: &TypeMeta, default: &Gvk, kinds: Kinds) -> Gvk {
    match (&tm.api_version, &tm.kind) {
        (None, Some((_, kind))) => kinds
            .iter()
            .map(KindEntry::gvk)
            .find(|g| &g.kind == kind)
            .unwrap_or_else(|| default.clone()),
        _ => default.clone(),
    }
}

/// Decodes one object as the kind its `apiVersion` and `kind` name (missing parts taken
/// from `default`, see [`defaults_for`]).
fn decode_object(node: &Node<'_>, default: &Gvk, kinds: Kinds) -> Result<Decoded, GoError> {
    let tm = go_json::interpret(node)?;
    let default = &defaults_for(&tm, default, kinds);
    let found = go_json::resolve_type_meta(&tm, default)?;
    for entry in kinds {
        if found == entry.gvk() {
            return (entry.decode)(node);
        }
    }
    Err(go_json::wrong_kind(
        &found,
        &tm,
        &kinds.iter().map(KindEntry::gvk).collect::<Vec<_>>(),
    ))
}

/// The value of the last top-level key exactly `kind`, when it is a string.
fn exact_kind(top: &Node<'_>) -> Option<String> {
    let Json::Object(pairs) = &top.v else {
        return None;
    };
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "kind")
        .and_then(|(_, v)| match &v.v {
            Json::String(s) => Some(s.clone().into_owned()),
            _ => None,
        })
}

impl KindEntry {
    fn gvk(&self) -> Gvk {
        let (group, version) = go_json::parse_group_version(self.api_version).unwrap_or_default();
        Gvk {
            group,
            version,
            kind: self.kind.to_owned(),
        }
    }
}

/// Decodes a document of policy objects: one object, or a list of them streamed item by
/// item.
fn decode_objects(text: &str, kinds: Kinds) -> Result<Vec<Decoded>, DecodeError> {
    let text = go_json::go_text(text);
    // One object (no `items`, no `kind: ...List`): decoded whole, streaming when it can.
    if let Some((top, has_items)) = go_json::scan_top(&text) {
        let list_kind = exact_kind(&top).is_some_and(|k| k.ends_with("List"));
        if !has_items && !list_kind {
            if let Some(decoded) = fast_object_with(&text, &top, &endpoint_default(), kinds) {
                return Ok(vec![decoded]);
            }
        }
    }
    let mut de = serde_json::Deserializer::from_str(&text);
    let doc = match DocVisitor
        .deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc))
    {
        Ok(doc) => doc,
        Err(e) => return Err(first_syntax_error(&text, go_json::syntax_error(&e))),
    };
    doc.finish(&text, kinds)
}

/// The first syntax error of the whole `text`, as reading it into a `serde_json::Value`
/// reports it (what [`NetworkPolicy::from_json`] reports), or `found` if there is none.
///
/// The first pass over a document reads the items and the `apiVersion`/`kind` values as
/// raw text, which serde_json checks without parsing numbers or counting levels: an
/// error found later (in such a value, or by serde_json after it) may not be the first.
fn first_syntax_error(text: &str, found: DecodeError) -> DecodeError {
    go_json::check_syntax(text).err().unwrap_or(found)
}

/// Decodes the whole `text` as one object.
fn decode_whole(text: &str, kinds: Kinds) -> Result<Vec<Decoded>, DecodeError> {
    let node = go_json::parse_node(text)?;
    decode_object(&node, &endpoint_default(), kinds)
        .map(|d| vec![d])
        .map_err(|e| e.into_decode_error(Some(text)))
}

/// A top-level document as read from the text.
enum Doc<'a> {
    /// An object: its `apiVersion` and `kind` keys (any spelling) in order, repeats kept,
    /// and its items if it has any.
    Object {
        fields: Vec<(String, &'a str)>,
        items: Option<Items<'a>>,
    },
    /// Anything else (a scalar, an array): decoded from the text, as one object.
    Other,
}

/// The `items` of a list, decoded as they were read.
#[derive(Default)]
enum Items<'a> {
    /// `items: null`.
    #[default]
    Null,
    /// Not an array.
    Other(&'static str),
    /// The items' text, decoded once the whole document (and the list's kind) is read.
    Array(Vec<&'a str>),
}

impl Doc<'_> {
    fn finish(self, text: &str, kinds: Kinds) -> Result<Vec<Decoded>, DecodeError> {
        let located = |e: GoError| e.into_decode_error(Some(text));
        let (fields, items) = match self {
            // Decoded from its text, which has a number as written.
            Doc::Other => return decode_whole(text, kinds),
            Doc::Object { fields, items } => (fields, items),
        };
        // `apiVersion` and `kind` from their text: a number as written (`-0`), located.
        let mut nodes: Vec<(&str, Node<'_>)> = Vec::with_capacity(fields.len());
        for (k, raw) in &fields {
            let mut node = go_json::parse_node(raw).map_err(|e| first_syntax_error(text, e))?;
            node.shift(offset_in(text, raw));
            nodes.push((k.as_str(), node));
        }
        let list = go_json::interpret_pairs(nodes.iter().map(|(k, v)| (*k, v))).map_err(located)?;
        let list_kind = nodes
            .iter()
            .rev()
            .find(|(k, _)| *k == "kind")
            .and_then(|(_, v)| match &v.v {
                Json::String(s) => Some(s.as_ref()),
                _ => None,
            })
            .unwrap_or("");
        let items = match items {
            Some(items) => items,
            None if list_kind.ends_with("List") => Items::Null,
            // One object after all: decoded from its text, repeated keys and all.
            None => return decode_whole(text, kinds),
        };
        let items = match items {
            Items::Null => return Ok(Vec::new()),
            Items::Other(found) => {
                return Err(located(GoError::at_path(
                    vec![Segment::Key("items".into())],
                    format!("cannot unmarshal {found} into an array"),
                )));
            }
            Items::Array(items) => items,
        };
        // kubectl gives items with neither apiVersion nor kind those of the list, minus
        // the `List` suffix (`UnstructuredList` decoding); a plain `List` has none to give.
        let list_kind = list.kind.as_ref().map(|(_, k)| k.as_str()).unwrap_or("");
        let item_kind = list_kind.strip_suffix("List").unwrap_or("");
        let list_default = if item_kind.is_empty() {
            None
        } else {
            let api = list
                .api_version
                .as_ref()
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let (group, version) = go_json::parse_group_version(api).unwrap_or_default();
            let gvk = Gvk {
                group,
                version,
                kind: item_kind.to_owned(),
            };
            Some(go_json::with_defaults(gvk, &endpoint_default()))
        };
        let default = list_default.unwrap_or_else(endpoint_default);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let at = [Segment::Key("items".into()), Segment::Index(i)];
            let base = offset_in(text, item);
            // An item of a typed list that names another kind is a mistake.
            if !item_kind.is_empty() {
                let written = go_json::scan_top(item)
                    .and_then(|(top, _)| go_json::interpret(&top).ok())
                    .and_then(|tm| tm.kind);
                if let Some((key, kind)) = written.filter(|(_, k)| !k.is_empty() && k != item_kind)
                {
                    return Err(located(
                        GoError::at_path(
                            vec![Segment::Key(key)],
                            format!("a {list_kind} holds {item_kind} objects, not a {kind}"),
                        )
                        .under(&at),
                    ));
                }
            }
            // In one streaming pass when it decodes, else from its tree, which gives the error.
            let decoded = match fast_object(item, &default, kinds) {
                Some(decoded) => decoded,
                None => {
                    let node =
                        go_json::parse_node(item).map_err(|e| first_syntax_error(text, e))?;
                    decode_object(&node, &default, kinds)
                        .map_err(|e| located(e.under(&at).shifted(base)))?
                }
            };
            out.push(decoded);
        }
        Ok(out)
    }
}

/// Where `part`, a slice of `text`, starts in it.
fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

/// Reads the top level of a document.
struct DocVisitor;

impl<'de> DeserializeSeed<'de> for DocVisitor {
    type Value = Doc<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Doc<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut fields = Vec::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                // A repeated key: the last one wins.
                items = Some(map.next_value_seed(ItemsSeed)?);
            } else if go_json::fold_eq(&key, "apiVersion") || go_json::fold_eq(&key, "kind") {
                let raw: &'de RawValue = map.next_value()?;
                fields.push((key, raw.get()));
            } else {
                // Only checked: a single object is decoded from its text.
                map.next_value::<Checked>()?;
            }
        }
        Ok(Doc::Object { fields, items })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Doc::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Doc<'de>, E> {
        Ok(Doc::Other)
    }
}

/// Reads `items`, keeping each element's text (decoded once the list's kind is known).
struct ItemsSeed;

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Items<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Items<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Items<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            items.push(raw.get());
        }
        Ok(Items::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Items<'de>, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Items::Other("object"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Items<'de>, E> {
        Ok(Items::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Items<'de>, E> {
        Ok(Items::Other("bool"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Items<'de>, E> {
        Ok(Items::Other("number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Items<'de>, E> {
        Ok(Items::Other("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Items<'de>, E> {
        Ok(Items::Other("number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Items<'de>, E> {
        Ok(Items::Other("string"))
    }
}

impl fmt::Display for NetworkPolicy {
    /// Writes `namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}
