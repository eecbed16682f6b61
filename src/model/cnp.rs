//! `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy as written.
//!
//! These types mirror kubernetes-sigs/network-policy-api's `apis/v1alpha2` field for field
//! (both channels: the experimental-only `nodes` and `domainNames` peers are here too).
//! Like the NetworkPolicy models they keep exactly what was written: every field is an
//! `Option` so that an absent field and an empty one stay apart (`protocols: []` is
//! refused by the apiserver, no `protocols` means every port), and everything the
//! apiserver checks (tier, action, CIDRs, domain names, numbers out of range) is kept as
//! written so that [`crate::validate::validate_cluster_network_policy`] can report it
//! with its field path.
//!
//! Unknown fields inside `spec` are dropped by decoding, as the apiserver prunes them
//! (the CRD does not preserve unknown fields); unknown top-level fields are kept in
//! [`ClusterNetworkPolicy::extra`] and unknown metadata fields in
//! [`ObjectMeta::extra`], so what `kubectl get -o json` prints serializes back unchanged.
//!
//! ```
//! use netpol::model::ClusterNetworkPolicy;
//!
//! let cnp = ClusterNetworkPolicy::from_json(r#"{
//!   "apiVersion": "policy.networking.k8s.io/v1alpha2",
//!   "kind": "ClusterNetworkPolicy",
//!   "metadata": {"name": "deny-egress", "uid": "7f3a"},
//!   "spec": {
//!     "tier": "Admin", "priority": 10,
//!     "subject": {"namespaces": {}},
//!     "egress": [{"action": "Deny", "to": [{"networks": ["203.0.113.0/24"]}]}]
//!   }
//! }"#)?;
//! let spec = cnp.spec.as_ref().unwrap();
//! assert_eq!(spec.tier.as_deref(), Some("Admin"));
//! assert!(spec.ingress.is_none());
//! let back = serde_json::to_value(&cnp).unwrap();
//! assert_eq!(back["metadata"]["uid"], "7f3a");
//! assert_eq!(back["spec"]["egress"][0]["to"][0]["networks"][0], "203.0.113.0/24");
//! # Ok::<(), netpol::model::DecodeError>(())
//! ```

use std::fmt;

use super::go_json::{self, DecodeError, go_struct};
use super::{LabelSelector, ObjectMeta};

/// The API group and version of ClusterNetworkPolicy: `policy.networking.k8s.io/v1alpha2`.
///
/// ```
/// assert_eq!(netpol::model::CNP_API_VERSION, "policy.networking.k8s.io/v1alpha2");
/// ```
pub const CNP_API_VERSION: &str = "policy.networking.k8s.io/v1alpha2";

go_struct! {
    /// A `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy as written. It is
    /// cluster-scoped: a `metadata.namespace` is kept as written but means nothing (the
    /// apiserver clears it).
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicy;
    /// let cnp = ClusterNetworkPolicy::new("baseline-dns");
    /// assert_eq!(cnp.kind.as_deref(), Some("ClusterNetworkPolicy"));
    /// assert_eq!(cnp.to_string(), "baseline-dns");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ClusterNetworkPolicy {
        /// `apiVersion`, normally `policy.networking.k8s.io/v1alpha2`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub api_version: Option<String>,
        /// `kind`, normally `ClusterNetworkPolicy`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kind: Option<String>,
        /// `metadata`.
        #[serde(default)]
        pub metadata: ObjectMeta,
        /// `spec`; required by the API (absent is reported by validation).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spec: Option<ClusterNetworkPolicySpec>,
        /// `status`, written by implementations; the apiserver drops it on create.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ClusterNetworkPolicyStatus>,
        /// Every other top-level field, kept verbatim (the apiserver would prune them).
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
    kind("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy", "unstructured");
}

go_struct! {
    /// `spec` of a ClusterNetworkPolicy.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicySpec;
    /// let spec: ClusterNetworkPolicySpec = serde_json::from_str(
    ///     r#"{"tier": "Baseline", "priority": 1000, "subject": {"namespaces": {}}, "ingress": []}"#,
    /// ).unwrap();
    /// assert_eq!(spec.priority, Some(1000));
    /// assert_eq!(spec.ingress.as_deref(), Some(&[][..]));
    /// assert!(spec.egress.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicySpec {
        /// `tier` as written: `Admin` or `Baseline`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tier: Option<String>,
        /// `priority`: 0 to 1000, lower first. Kept as a 64-bit integer so that values out
        /// of range survive decoding and are reported by validation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub priority: Option<i64>,
        /// `subject`: the pods the policy applies to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subject: Option<ClusterNetworkPolicySubject>,
        /// `ingress` rules, in precedence order (at most 25).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Vec<ClusterNetworkPolicyIngressRule>>,
        /// `egress` rules, in precedence order (at most 25).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub egress: Option<Vec<ClusterNetworkPolicyEgressRule>>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// `status` of a ClusterNetworkPolicy: conditions kept as the JSON written.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyStatus;
    /// let s: ClusterNetworkPolicyStatus =
    ///     serde_json::from_str(r#"{"conditions": [{"type": "Ready", "status": "True"}]}"#).unwrap();
    /// assert_eq!(s.conditions.unwrap()[0]["type"], "Ready");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ClusterNetworkPolicyStatus {
        /// `conditions` (`metav1.Condition`), verbatim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub conditions: Option<Vec<serde_json::Value>>,
        /// Every other status field, verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
}

go_struct! {
    /// `spec.subject`: exactly one of `namespaces` and `pods` must be set.
    ///
    /// ```
    /// use netpol::model::{ClusterNetworkPolicySubject, LabelSelector};
    /// let s = ClusterNetworkPolicySubject::namespaces(LabelSelector::match_labels([("team", "a")]));
    /// assert!(s.pods.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicySubject {
        /// `namespaces`: every pod of the selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespaces: Option<LabelSelector>,
        /// `pods`: pods selected in selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pods: Option<NamespacedPod>,
    }
}

impl ClusterNetworkPolicySubject {
    /// A subject of every pod of the namespaces the selector matches.
    ///
    /// ```
    /// use netpol::model::{ClusterNetworkPolicySubject, LabelSelector};
    /// assert!(ClusterNetworkPolicySubject::namespaces(LabelSelector::default()).namespaces.is_some());
    /// ```
    #[must_use]
    pub fn namespaces(selector: LabelSelector) -> Self {
        ClusterNetworkPolicySubject {
            namespaces: Some(selector),
            pods: None,
        }
    }
}

go_struct! {
    /// `pods` of a subject or peer: a namespace selector and a pod selector.
    ///
    /// ```
    /// use netpol::model::{LabelSelector, NamespacedPod};
    /// let p = NamespacedPod::new(LabelSelector::default(), LabelSelector::match_labels([("app", "db")]));
    /// assert!(p.namespace_selector.unwrap().is_empty());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NamespacedPod {
        /// `namespaceSelector`; absent selects every namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<LabelSelector>,
        /// `podSelector`; required by the API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pod_selector: Option<LabelSelector>,
    }
    serde(rename_all = "camelCase");
}

impl NamespacedPod {
    /// Both selectors written.
    ///
    /// ```
    /// use netpol::model::{LabelSelector, NamespacedPod};
    /// assert!(NamespacedPod::new(LabelSelector::default(), LabelSelector::default()).pod_selector.is_some());
    /// ```
    #[must_use]
    pub fn new(namespace_selector: LabelSelector, pod_selector: LabelSelector) -> Self {
        NamespacedPod {
            namespace_selector: Some(namespace_selector),
            pod_selector: Some(pod_selector),
        }
    }
}

go_struct! {
    /// One `ingress` rule: an action for traffic from any of `from` on any of `protocols`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyIngressRule;
    /// let r: ClusterNetworkPolicyIngressRule = serde_json::from_str(
    ///     r#"{"name": "from-monitoring", "action": "Accept", "from": [{"namespaces": {}}]}"#,
    /// ).unwrap();
    /// assert_eq!(r.action.as_deref(), Some("Accept"));
    /// assert!(r.protocols.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyIngressRule {
        /// `name`: at most 100 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// `action` as written: `Accept`, `Deny` or `Pass`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub action: Option<String>,
        /// `from`: 1 to 25 peers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub from: Option<Vec<ClusterNetworkPolicyIngressPeer>>,
        /// `protocols`: 1 to 25 entries; absent matches every port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub protocols: Option<Vec<ClusterNetworkPolicyProtocol>>,
    }
}

go_struct! {
    /// One `egress` rule: an action for traffic to any of `to` on any of `protocols`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyEgressRule;
    /// let r: ClusterNetworkPolicyEgressRule = serde_json::from_str(
    ///     r#"{"action": "Accept", "to": [{"domainNames": ["*.example.com"]}]}"#,
    /// ).unwrap();
    /// assert_eq!(r.to.unwrap()[0].domain_names.as_ref().unwrap()[0], "*.example.com");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyEgressRule {
        /// `name`: at most 100 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// `action` as written: `Accept`, `Deny` or `Pass`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub action: Option<String>,
        /// `to`: 1 to 25 peers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub to: Option<Vec<ClusterNetworkPolicyEgressPeer>>,
        /// `protocols`: 1 to 25 entries; absent matches every port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub protocols: Option<Vec<ClusterNetworkPolicyProtocol>>,
    }
}

go_struct! {
    /// A peer of an ingress rule: exactly one of `namespaces` and `pods`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyIngressPeer;
    /// let p: ClusterNetworkPolicyIngressPeer =
    ///     serde_json::from_str(r#"{"pods": {"podSelector": {"matchLabels": {"app": "x"}}}}"#).unwrap();
    /// assert!(p.pods.unwrap().namespace_selector.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyIngressPeer {
        /// `namespaces`: every pod of the selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespaces: Option<LabelSelector>,
        /// `pods`: pods selected in selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pods: Option<NamespacedPod>,
    }
}

go_struct! {
    /// A peer of an egress rule: exactly one of its fields. `nodes` and `domainNames` exist
    /// in the experimental channel only.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyEgressPeer;
    /// let p: ClusterNetworkPolicyEgressPeer =
    ///     serde_json::from_str(r#"{"networks": ["10.0.0.0/8", "fd00::/8"]}"#).unwrap();
    /// assert_eq!(p.networks.unwrap().len(), 2);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyEgressPeer {
        /// `namespaces`: every pod of the selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespaces: Option<LabelSelector>,
        /// `pods`: pods selected in selected namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pods: Option<NamespacedPod>,
        /// `nodes` (experimental): the node addresses of the selected nodes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub nodes: Option<LabelSelector>,
        /// `networks`: 1 to 25 CIDRs, as written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub networks: Option<Vec<String>>,
        /// `domainNames` (experimental): 1 to 25 names or `*.` patterns, as written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub domain_names: Option<Vec<String>>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `protocols` entry: exactly one of `tcp`, `udp`, `sctp` and `destinationNamedPort`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyProtocol;
    /// let p: ClusterNetworkPolicyProtocol = serde_json::from_str(
    ///     r#"{"udp": {"destinationPort": {"range": {"start": 30000, "end": 32767}}}}"#,
    /// ).unwrap();
    /// let range = p.udp.unwrap().destination_port.unwrap().range.unwrap();
    /// assert_eq!((range.start, range.end), (Some(30000), Some(32767)));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyProtocol {
        /// `tcp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tcp: Option<ClusterNetworkPolicyProtocolPort>,
        /// `udp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub udp: Option<ClusterNetworkPolicyProtocolPort>,
        /// `sctp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sctp: Option<ClusterNetworkPolicyProtocolPort>,
        /// `destinationNamedPort`: a container port name of the destination pod.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub destination_named_port: Option<String>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// The body of `tcp`, `udp` or `sctp` (upstream has one identical type for each).
    ///
    /// ```
    /// use netpol::model::{ClusterNetworkPolicyPort, ClusterNetworkPolicyProtocolPort};
    /// let p = ClusterNetworkPolicyProtocolPort::number(443);
    /// assert_eq!(p.destination_port, Some(ClusterNetworkPolicyPort { number: Some(443), range: None }));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyProtocolPort {
        /// `destinationPort`; the API requires it (the object needs one property).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub destination_port: Option<ClusterNetworkPolicyPort>,
    }
    serde(rename_all = "camelCase");
}

impl ClusterNetworkPolicyProtocolPort {
    /// `{"destinationPort": {"number": n}}`.
    ///
    /// ```
    /// let p = netpol::model::ClusterNetworkPolicyProtocolPort::number(53);
    /// assert_eq!(p.destination_port.unwrap().number, Some(53));
    /// ```
    #[must_use]
    pub fn number(number: i64) -> Self {
        ClusterNetworkPolicyProtocolPort {
            destination_port: Some(ClusterNetworkPolicyPort {
                number: Some(number),
                range: None,
            }),
        }
    }

    /// `{"destinationPort": {"range": {"start": start, "end": end}}}`.
    ///
    /// ```
    /// let p = netpol::model::ClusterNetworkPolicyProtocolPort::range(8000, 8080);
    /// assert_eq!(p.destination_port.unwrap().range.unwrap().end, Some(8080));
    /// ```
    #[must_use]
    pub fn range(start: i64, end: i64) -> Self {
        ClusterNetworkPolicyProtocolPort {
            destination_port: Some(ClusterNetworkPolicyPort {
                number: None,
                range: Some(ClusterNetworkPolicyPortRange {
                    start: Some(start),
                    end: Some(end),
                }),
            }),
        }
    }
}

go_struct! {
    /// `destinationPort`: exactly one of `number` and `range`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyPort;
    /// let p: ClusterNetworkPolicyPort = serde_json::from_str(r#"{"number": 0}"#).unwrap();
    /// assert_eq!(p.number, Some(0)); // kept: validation refuses it
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyPort {
        /// `number`: 1 to 65535.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub number: Option<i64>,
        /// `range`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub range: Option<ClusterNetworkPolicyPortRange>,
    }
}

go_struct! {
    /// `range`: ports `start..=end`, with `start < end`.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyPortRange;
    /// let r: ClusterNetworkPolicyPortRange = serde_json::from_str(r#"{"start": 80}"#).unwrap();
    /// assert_eq!((r.start, r.end), (Some(80), None));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ClusterNetworkPolicyPortRange {
        /// `start`: 1 to 65535.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub start: Option<i64>,
        /// `end`: 1 to 65535.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub end: Option<i64>,
    }
}

go_struct! {
    /// A `ClusterNetworkPolicyList` as `kubectl get clusternetworkpolicies -o json` prints
    /// it (a generic `List` of ClusterNetworkPolicies decodes too).
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicyList;
    /// let list: ClusterNetworkPolicyList = serde_json::from_str(
    ///     r#"{"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicyList",
    ///         "metadata": {"resourceVersion": "42"}, "items": [{"metadata": {"name": "a"}}]}"#,
    /// ).unwrap();
    /// assert_eq!(list.items.len(), 1);
    /// assert_eq!(list.extra["metadata"]["resourceVersion"], "42");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ClusterNetworkPolicyList {
        /// `apiVersion`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub api_version: Option<String>,
        /// `kind`: `ClusterNetworkPolicyList` or `List`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub kind: Option<String>,
        /// The policies.
        #[serde(default)]
        pub items: Vec<ClusterNetworkPolicy>,
        /// Every other field (list `metadata`, …), kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

impl ClusterNetworkPolicy {
    /// Decodes one ClusterNetworkPolicy from JSON text with the apiserver's rules, with
    /// the field path of any type error; a written `apiVersion` or `kind` must be
    /// ClusterNetworkPolicy's.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicy;
    /// let err = ClusterNetworkPolicy::from_json(r#"{"spec": {"priority": "high"}}"#).unwrap_err();
    /// assert_eq!(err.path, "spec.priority");
    /// ```
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        go_json::from_str(text)
    }

    /// Decodes one ClusterNetworkPolicy from an already parsed JSON value.
    ///
    /// ```
    /// let v = serde_json::json!({"metadata": {"name": "x"}, "spec": {"tier": "Admin"}});
    /// let cnp = netpol::model::ClusterNetworkPolicy::from_value(&v).unwrap();
    /// assert_eq!(cnp.spec.unwrap().tier.as_deref(), Some("Admin"));
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<Self, DecodeError> {
        go_json::from_value(value)
    }

    /// A policy with a name, `apiVersion` and `kind` set and an empty spec.
    ///
    /// ```
    /// let cnp = netpol::model::ClusterNetworkPolicy::new("p");
    /// assert_eq!(cnp.api_version.as_deref(), Some("policy.networking.k8s.io/v1alpha2"));
    /// assert!(cnp.spec.is_some());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        ClusterNetworkPolicy {
            api_version: Some(CNP_API_VERSION.into()),
            kind: Some("ClusterNetworkPolicy".into()),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(ClusterNetworkPolicySpec::default()),
            status: None,
            extra: serde_json::Map::new(),
        }
    }

    /// The name, empty when none is written.
    ///
    /// ```
    /// assert_eq!(netpol::model::ClusterNetworkPolicy::new("p").name(), "p");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }
}

impl fmt::Display for ClusterNetworkPolicy {
    /// Writes the name (the object is cluster-scoped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
