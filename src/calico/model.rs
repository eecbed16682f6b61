//! Calico's own policy objects as written: `projectcalico.org/v3` NetworkPolicy,
//! GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet and Tier, and the same objects under
//! `crd.projectcalico.org/v1`.
//!
//! The types mirror Calico's Go types (`api/pkg/apis/projectcalico/v3`) field for field
//! and decode with the rules the apiserver applies to Kubernetes objects, stated in
//! [`go_json`] (`null` is the zero value, objects only where Go
//! has a struct, typed `metadata`, `apiVersion`/`kind` read first, escapes, numbers).
//! Calico's API server decodes a `projectcalico.org/v3` object into these Go structs, so
//! a repeated key is decoded again into the same field, and a port or protocol runs its
//! `UnmarshalJSON` on every occurrence; a `crd.projectcalico.org/v1` object is a custom
//! resource, which the apiserver reads into a map first, so the last occurrence of a
//! repeated key wins whole. Like the crate's other models they keep exactly what was
//! written:
//!
//! - every field is an `Option`, so an absent field and an empty one stay apart
//!   (`types: []` is not a missing `types`; `source: {}` is not a missing `source`);
//! - everything Calico checks is kept as written, so that invalid input survives decoding
//!   and [`validate`](super::validate) reports it with its path: actions, `types`,
//!   selectors, CIDRs, port strings (`"80:90"`, `"http"`, `"99999"`), protocol names,
//!   `ipVersion`, ICMP numbers;
//! - a port or protocol is kept in the JSON type it was written in ([`Port`],
//!   [`Protocol`]): Calico's own decoder reads `"80"` as the port 80 and `"6"` as the
//!   protocol 6, which the accessors here do too, while the object prints back as written;
//! - unknown top-level fields (a Tier's `status`, anything else) are kept in `extra`, and
//!   unknown `metadata` fields in [`ObjectMeta::extra`]; unknown fields inside `spec` are
//!   dropped, as Calico's API server and the CRD's structural schema drop them.
//!
//! `order` is a JSON number read as Go's `float64` and printed back as Go prints it
//! (`100`, not `100.0`).
//!
//! # Two API groups
//!
//! On a cluster with Calico's API server the objects are `projectcalico.org/v3`; without
//! it, `kubectl get networkpolicies.crd.projectcalico.org -o json` prints them as
//! `crd.projectcalico.org/v1` custom resources. The JSON of the two is the same (the v1
//! CRD types embed the v3 spec structs; field names do not differ), but they are not
//! written through the same code, and [`ApiGroup`] keeps which one an object came as:
//!
//! | | `projectcalico.org/v3` | `crd.projectcalico.org/v1` |
//! | --- | --- | --- |
//! | checked on write by | Calico's validator (`libcalico-go/lib/validator/v3`), then the CRD's schema and CEL rules on the object as Calico's Go code re-encodes it | the CRD's OpenAPI schema and CEL rules, on the object as written (Felix later ignores an object its validator refuses) |
//! | `types` absent or empty | defaulted by the API server (`api/pkg/defaults`): `[Ingress]` without egress rules, `[Egress]` with egress rules only, both with both | stored as written (`types: []` is refused by the CRD's `minItems`); Felix reads no `types` as both directions |
//! | `tier` absent | `default` | `default` (the CRD's default) |
//! | a Tier's `order`/`defaultAction` absent | 1,000,000 / `Deny`, filled in by Calico's client | the same, filled in when Calico reads the object |
//!
//! [`NetworkPolicy::from_json`] and the other `from_json`/`from_value` functions read
//! either group and set [`ApiGroup`] from the written `apiVersion`;
//! [`decode_policy_objects`](crate::model::decode_policy_objects) reads either group in
//! documents and lists, mixed with Kubernetes NetworkPolicies and ClusterNetworkPolicies.
//! Serde's `Deserialize` reads `projectcalico.org/v3` only (an object without
//! `apiVersion` counts as v3).
//!
//! ```
//! use netpol::calico::{ApiGroup, GlobalNetworkPolicy, Port, Protocol};
//!
//! let gnp = GlobalNetworkPolicy::from_json(r#"{
//!   "apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
//!   "metadata": {"name": "deny-dns-bypass"},
//!   "spec": {"order": 100, "selector": "all()", "types": ["Egress"],
//!            "egress": [{"action": "Deny", "protocol": "UDP",
//!                        "destination": {"ports": [53, "5353:5355"]}}]}
//! }"#)?;
//! assert_eq!(gnp.api_group, ApiGroup::CrdV1);
//! let spec = gnp.spec.as_ref().unwrap();
//! assert_eq!(spec.order, Some(100.0));
//! let rule = &spec.egress.as_ref().unwrap()[0];
//! assert_eq!(rule.protocol, Some(Protocol::Name("UDP".into())));
//! let ports = rule.destination.as_ref().unwrap().ports.as_ref().unwrap();
//! assert_eq!(ports, &[Port::Number(53), Port::String("5353:5355".into())]);
//! // Printed back as written.
//! let back = serde_json::to_value(&gnp).unwrap();
//! assert_eq!(back["spec"]["order"], serde_json::json!(100));
//! # Ok::<(), netpol::model::DecodeError>(())
//! ```

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::model::go_json::{self, DecodeError, go_struct, go_value};
use crate::model::{Labels, ObjectMeta};

/// `projectcalico.org/v3`: the API group and version Calico's API server serves.
///
/// ```
/// assert_eq!(netpol::calico::CALICO_API_VERSION, "projectcalico.org/v3");
/// ```
pub const CALICO_API_VERSION: &str = "projectcalico.org/v3";

/// `crd.projectcalico.org/v1`: the custom resources Calico stores its objects in, and what
/// `kubectl get` prints on a cluster without Calico's API server.
///
/// ```
/// assert_eq!(netpol::calico::CALICO_CRD_API_VERSION, "crd.projectcalico.org/v1");
/// ```
pub const CALICO_CRD_API_VERSION: &str = "crd.projectcalico.org/v1";

/// Which API group an object was read as (see the [module docs](self) for what differs).
///
/// ```
/// use netpol::calico::ApiGroup;
/// assert_eq!(ApiGroup::default(), ApiGroup::V3);
/// assert_eq!(ApiGroup::CrdV1.api_version(), "crd.projectcalico.org/v1");
/// assert_eq!(ApiGroup::V3.to_string(), "projectcalico.org/v3");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiGroup {
    /// `projectcalico.org/v3`, written through Calico's API server (the default).
    #[default]
    V3,
    /// `crd.projectcalico.org/v1`, the custom resource written directly.
    CrdV1,
}

impl ApiGroup {
    /// The `apiVersion` of the group.
    ///
    /// ```
    /// assert_eq!(netpol::calico::ApiGroup::V3.api_version(), "projectcalico.org/v3");
    /// ```
    #[must_use]
    pub fn api_version(self) -> &'static str {
        match self {
            ApiGroup::V3 => CALICO_API_VERSION,
            ApiGroup::CrdV1 => CALICO_CRD_API_VERSION,
        }
    }
}

impl fmt::Display for ApiGroup {
    /// The `apiVersion`; [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_version())
    }
}

/// An `apiVersion` that is not one of Calico's.
///
/// ```
/// let err = "projectcalico.org/v1".parse::<netpol::calico::ApiGroup>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown Calico apiVersion "projectcalico.org/v1": expected "projectcalico.org/v3" or "crd.projectcalico.org/v1""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown Calico apiVersion \"{0}\": expected \"{CALICO_API_VERSION}\" or \"{CALICO_CRD_API_VERSION}\""
)]
pub struct UnknownApiGroup(String);

impl std::str::FromStr for ApiGroup {
    type Err = UnknownApiGroup;
    /// The group of an `apiVersion`.
    ///
    /// ```
    /// use netpol::calico::ApiGroup;
    /// assert_eq!("crd.projectcalico.org/v1".parse(), Ok(ApiGroup::CrdV1));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            CALICO_API_VERSION => Ok(ApiGroup::V3),
            CALICO_CRD_API_VERSION => Ok(ApiGroup::CrdV1),
            other => Err(UnknownApiGroup(other.to_owned())),
        }
    }
}

/// The group an object's text names in its `apiVersion` (`None` when it names none, or
/// cannot be read: the v3 decoder then reports what is wrong).
fn written_group_of(value: &Value) -> Option<ApiGroup> {
    group_of(&go_json::Node::from_value(value))
}

fn written_group_of_text(text: &str) -> Option<ApiGroup> {
    let text = go_json::go_text(text);
    let (top, _) = go_json::scan_top(&text)?;
    group_of(&top)
}

/// The group `apiVersion` names, read as the kind check reads it (see
/// [`go_json`]).
fn group_of(top: &go_json::Node<'_>) -> Option<ApiGroup> {
    let tm = go_json::interpret(top).ok()?;
    let (_, api) = tm.api_version?;
    let (group, _) = go_json::parse_group_version(&api)?;
    (group == "crd.projectcalico.org").then_some(ApiGroup::CrdV1)
}

/// Prints an optional `float64` the way Go's `encoding/json` does for the common cases:
/// an integral value as an integer (`100`, not `100.0`).
fn go_float<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => go_float_value(*v, s),
        None => s.serialize_none(),
    }
}

fn go_float_value<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let integral = v.is_finite() && v.fract() == 0.0 && !(v == 0.0 && v.is_sign_negative());
    if integral && v.abs() < TWO_63 {
        // In range and integral, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return s.serialize_i64(v as i64);
    }
    s.serialize_f64(v)
}

/// Declares a top-level Calico object: the public type (decoded as
/// `projectcalico.org/v3`) and a private twin decoded as `crd.projectcalico.org/v1`.
macro_rules! calico_object {
    (
        $(#[$doc:meta])*
        $name:ident, $crd:ident, $spec:ty, $kind:literal, $spec_doc:literal
    ) => {
        go_struct! {
            $(#[$doc])*
            #[derive(Debug, Clone, Default, PartialEq)]
            pub struct $name {
                /// `apiVersion` as written (the spelling the kind check read, see
                /// [`go_json`]): `projectcalico.org/v3` or
                /// `crd.projectcalico.org/v1`.
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                pub api_version: Option<String>,
                /// `kind` as written.
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                pub kind: Option<String>,
                /// `metadata`.
                #[serde(default)]
                pub metadata: ObjectMeta,
                #[doc = $spec_doc]
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                pub spec: Option<$spec>,
                /// The API group the object was read as (not serialized: the written
                /// `apiVersion` is).
                #[serde(skip)]
                pub api_group: ApiGroup,
                /// Every other top-level field (a `status`, …), kept verbatim.
                #[serde(flatten)]
                pub extra: serde_json::Map<String, Value>,
            }
            serde(rename_all = "camelCase");
            kind("projectcalico.org/v3", $kind);
        }

        go_struct! {
            /// The same object decoded as `crd.projectcalico.org/v1`.
            #[derive(Default)]
            pub(crate) struct $crd {
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                api_version: Option<String>,
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                kind: Option<String>,
                #[serde(default)]
                metadata: ObjectMeta,
                #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
                spec: Option<$spec>,
                #[serde(flatten)]
                extra: serde_json::Map<String, Value>,
            }
            serde(rename_all = "camelCase");
            // A custom resource: the apiserver reads it into a map first (last of
            // repeated keys wins whole), see `go_json`.
            kind("crd.projectcalico.org/v1", $kind, "unstructured");
        }

        impl From<$crd> for $name {
            fn from(c: $crd) -> Self {
                $name {
                    api_version: c.api_version,
                    kind: c.kind,
                    metadata: c.metadata,
                    spec: c.spec,
                    api_group: ApiGroup::CrdV1,
                    extra: c.extra,
                }
            }
        }

        impl $name {
            /// Decodes one object from JSON text with the apiserver's rules (see
            /// [`go_json`]), as `crd.projectcalico.org/v1` when its
            /// `apiVersion` says so and as `projectcalico.org/v3` otherwise (a missing
            /// `apiVersion` counts as v3); errors carry the field path, line and column.
            ///
            /// ```
            #[doc = concat!("use netpol::calico::{ApiGroup, ", stringify!($name), "};")]
            #[doc = concat!("let v1 = ", stringify!($name), "::from_json(r#\"{\"apiVersion\": \"crd.projectcalico.org/v1\", \"kind\": \"", $kind, "\"}\"#)?;")]
            /// assert_eq!(v1.api_group, ApiGroup::CrdV1);
            #[doc = concat!("let v3 = ", stringify!($name), "::from_json(r#\"{\"metadata\": {\"name\": \"x\"}}\"#)?;")]
            /// assert_eq!(v3.api_group, ApiGroup::V3);
            #[doc = concat!("let err = ", stringify!($name), "::from_json(r#\"{\"spec\": []}\"#).unwrap_err();")]
            /// assert_eq!(err.path, "spec");
            /// # Ok::<(), netpol::model::DecodeError>(())
            /// ```
            pub fn from_json(text: &str) -> Result<Self, DecodeError> {
                match written_group_of_text(text) {
                    Some(ApiGroup::CrdV1) => go_json::from_str::<$crd>(text).map(Into::into),
                    _ => go_json::from_str::<$name>(text),
                }
            }

            /// Decodes one object from an already parsed JSON value (see
            #[doc = concat!("[`", stringify!($name), "::from_json`]).")]
            ///
            /// ```
            #[doc = concat!("use netpol::calico::{ApiGroup, ", stringify!($name), "};")]
            #[doc = concat!(r#"let v = serde_json::json!({"apiVersion": "crd.projectcalico.org/v1", "kind": ""#, $kind, r#""});"#)]
            #[doc = concat!("assert_eq!(", stringify!($name), "::from_value(&v)?.api_group, ApiGroup::CrdV1);")]
            /// # Ok::<(), netpol::model::DecodeError>(())
            /// ```
            pub fn from_value(value: &Value) -> Result<Self, DecodeError> {
                match written_group_of(value) {
                    Some(ApiGroup::CrdV1) => go_json::from_value::<$crd>(value).map(Into::into),
                    _ => go_json::from_value::<$name>(value),
                }
            }

            /// The name, empty when none is written.
            ///
            /// ```
            #[doc = concat!("let o = netpol::calico::", stringify!($name), "::default();")]
            /// assert_eq!(o.name(), "");
            /// ```
            pub fn name(&self) -> &str {
                self.metadata.name.as_deref().unwrap_or("")
            }
        }
    };
}

calico_object! {
    /// A Calico `NetworkPolicy` (namespaced): ordered rules in a tier, applied to the
    /// endpoints of its namespace that its `selector` picks.
    ///
    /// ```
    /// use netpol::calico::NetworkPolicy;
    /// let p = NetworkPolicy::new("shop", "allow-web");
    /// assert_eq!(p.kind.as_deref(), Some("NetworkPolicy"));
    /// assert_eq!(p.to_string(), "shop/allow-web");
    /// ```
    NetworkPolicy, CrdNetworkPolicy, NetworkPolicySpec, "NetworkPolicy",
    "`spec`; absent reads as an empty spec (Calico decodes into a Go struct)."
}

calico_object! {
    /// A Calico `GlobalNetworkPolicy` (cluster-scoped): like [`NetworkPolicy`] for
    /// endpoints of every namespace, with a `namespaceSelector` and the host-endpoint
    /// options `doNotTrack`, `preDNAT` and `applyOnForward`.
    ///
    /// ```
    /// use netpol::calico::GlobalNetworkPolicy;
    /// let p = GlobalNetworkPolicy::new("deny-all");
    /// assert_eq!(p.to_string(), "deny-all");
    /// ```
    GlobalNetworkPolicy, CrdGlobalNetworkPolicy, GlobalNetworkPolicySpec, "GlobalNetworkPolicy",
    "`spec`; absent reads as an empty spec."
}

calico_object! {
    /// A Calico `NetworkSet` (namespaced): labelled CIDRs that rule selectors can match,
    /// like endpoints of its namespace.
    ///
    /// ```
    /// use netpol::calico::NetworkSet;
    /// let s = NetworkSet::from_json(r#"{"metadata": {"name": "partners", "namespace": "shop",
    ///   "labels": {"role": "partner"}}, "spec": {"nets": ["198.51.100.0/24"]}}"#)?;
    /// assert_eq!(s.spec.unwrap().nets.unwrap(), ["198.51.100.0/24"]);
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    NetworkSet, CrdNetworkSet, NetworkSetSpec, "NetworkSet",
    "`spec`; absent reads as a set without nets."
}

calico_object! {
    /// A Calico `GlobalNetworkSet` (cluster-scoped): labelled CIDRs outside any namespace.
    ///
    /// ```
    /// use netpol::calico::GlobalNetworkSet;
    /// let s = GlobalNetworkSet::from_json(r#"{"metadata": {"name": "threats"},
    ///   "spec": {"nets": ["203.0.113.7"]}}"#)?;
    /// assert_eq!(s.name(), "threats");
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    GlobalNetworkSet, CrdGlobalNetworkSet, NetworkSetSpec, "GlobalNetworkSet",
    "`spec` (Calico's `GlobalNetworkSetSpec`, the same fields as a NetworkSet's)."
}

calico_object! {
    /// A Calico `Tier` (cluster-scoped): a position among tiers and the action taken when
    /// policies of the tier select an endpoint but none decides.
    ///
    /// ```
    /// use netpol::calico::Tier;
    /// let t = Tier::from_json(r#"{"metadata": {"name": "security"},
    ///   "spec": {"order": 100, "defaultAction": "Pass"}}"#)?;
    /// assert_eq!(t.spec.unwrap().default_action.as_deref(), Some("Pass"));
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    Tier, CrdTier, TierSpec, "Tier",
    "`spec`; the CRD requires it, Calico's client does not."
}

impl NetworkPolicy {
    /// A `projectcalico.org/v3` policy with a namespace and name and an empty spec.
    ///
    /// ```
    /// let p = netpol::calico::NetworkPolicy::new("a", "b");
    /// assert_eq!(p.api_version.as_deref(), Some("projectcalico.org/v3"));
    /// assert!(p.spec.is_some());
    /// ```
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        NetworkPolicy {
            api_version: Some(CALICO_API_VERSION.into()),
            kind: Some("NetworkPolicy".into()),
            metadata: ObjectMeta::named(namespace, name),
            spec: Some(NetworkPolicySpec::default()),
            ..NetworkPolicy::default()
        }
    }

    /// `namespace/name`, with `default` for a missing namespace (as `kubectl` fills it in).
    ///
    /// ```
    /// assert_eq!(netpol::calico::NetworkPolicy::new("prod", "p").key(), "prod/p");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace_or_default(), self.name())
    }
}

impl fmt::Display for NetworkPolicy {
    /// Writes `namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl GlobalNetworkPolicy {
    /// A `projectcalico.org/v3` policy with a name and an empty spec.
    ///
    /// ```
    /// let p = netpol::calico::GlobalNetworkPolicy::new("p");
    /// assert_eq!(p.name(), "p");
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        GlobalNetworkPolicy {
            api_version: Some(CALICO_API_VERSION.into()),
            kind: Some("GlobalNetworkPolicy".into()),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(GlobalNetworkPolicySpec::default()),
            ..GlobalNetworkPolicy::default()
        }
    }
}

impl fmt::Display for GlobalNetworkPolicy {
    /// Writes the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl NetworkSet {
    /// A `projectcalico.org/v3` set with a namespace, a name and nets.
    ///
    /// ```
    /// let s = netpol::calico::NetworkSet::new("a", "b", ["10.0.0.0/8"]);
    /// assert_eq!(s.key(), "a/b");
    /// ```
    pub fn new<S: Into<String>>(
        namespace: impl Into<String>,
        name: impl Into<String>,
        nets: impl IntoIterator<Item = S>,
    ) -> Self {
        NetworkSet {
            api_version: Some(CALICO_API_VERSION.into()),
            kind: Some("NetworkSet".into()),
            metadata: ObjectMeta::named(namespace, name),
            spec: Some(NetworkSetSpec {
                nets: Some(nets.into_iter().map(Into::into).collect()),
            }),
            ..NetworkSet::default()
        }
    }

    /// `namespace/name`, with `default` for a missing namespace.
    ///
    /// ```
    /// assert_eq!(netpol::calico::NetworkSet::default().key(), "default/");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace_or_default(), self.name())
    }
}

impl fmt::Display for NetworkSet {
    /// Writes `namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl GlobalNetworkSet {
    /// A `projectcalico.org/v3` set with a name and nets.
    ///
    /// ```
    /// let s = netpol::calico::GlobalNetworkSet::new("b", ["10.0.0.0/8"]);
    /// assert_eq!(s.to_string(), "b");
    /// ```
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        nets: impl IntoIterator<Item = S>,
    ) -> Self {
        GlobalNetworkSet {
            api_version: Some(CALICO_API_VERSION.into()),
            kind: Some("GlobalNetworkSet".into()),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(NetworkSetSpec {
                nets: Some(nets.into_iter().map(Into::into).collect()),
            }),
            ..GlobalNetworkSet::default()
        }
    }
}

impl fmt::Display for GlobalNetworkSet {
    /// Writes the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Tier {
    /// A `projectcalico.org/v3` tier with a name, an order and a default action.
    ///
    /// ```
    /// let t = netpol::calico::Tier::new("security", 100.0, "Pass");
    /// assert_eq!(t.spec.unwrap().order, Some(100.0));
    /// ```
    pub fn new(name: impl Into<String>, order: f64, default_action: impl Into<String>) -> Self {
        Tier {
            api_version: Some(CALICO_API_VERSION.into()),
            kind: Some("Tier".into()),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(TierSpec {
                order: Some(order),
                default_action: Some(default_action.into()),
            }),
            ..Tier::default()
        }
    }
}

impl fmt::Display for Tier {
    /// Writes the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

go_struct! {
    /// `spec` of a Calico [`NetworkPolicy`].
    ///
    /// ```
    /// use netpol::calico::NetworkPolicySpec;
    /// let spec: NetworkPolicySpec = serde_json::from_str(
    ///     r#"{"order": 10.5, "selector": "app == 'db'", "types": [], "ingress": []}"#).unwrap();
    /// assert_eq!(spec.order, Some(10.5));
    /// assert_eq!(spec.types.as_deref(), Some(&[][..])); // kept apart from no `types`
    /// assert!(spec.egress.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct NetworkPolicySpec {
        /// `tier`: the tier's name; absent means `default`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub tier: Option<String>,
        /// `order`: position in the tier, ascending; absent is after every ordered policy.
        #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "go_float")]
        pub order: Option<f64>,
        /// `ingress` rules, in order (at most 1024).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Vec<Rule>>,
        /// `egress` rules, in order (at most 1024).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub egress: Option<Vec<Rule>>,
        /// `selector`: the endpoints of the namespace the policy applies to; empty is `all()`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
        /// `types` as written: `Ingress`, `Egress`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub types: Option<Vec<String>>,
        /// `serviceAccountSelector`: a selector over the labels of the endpoint's service
        /// account.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub service_account_selector: Option<String>,
        /// `performanceHints` (`AssumeNeededOnEveryNode`): no effect on what is allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub performance_hints: Option<Vec<String>>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// `spec` of a Calico [`GlobalNetworkPolicy`].
    ///
    /// ```
    /// use netpol::calico::GlobalNetworkPolicySpec;
    /// let spec: GlobalNetworkPolicySpec = serde_json::from_str(
    ///     r#"{"namespaceSelector": "team == 'a'", "preDNAT": true, "applyOnForward": true}"#).unwrap();
    /// assert_eq!(spec.pre_dnat, Some(true));
    /// assert!(spec.do_not_track.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct GlobalNetworkPolicySpec {
        /// `tier`: the tier's name; absent means `default`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub tier: Option<String>,
        /// `order`: position in the tier, ascending; absent is after every ordered policy.
        #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "go_float")]
        pub order: Option<f64>,
        /// `ingress` rules, in order (at most 1024).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ingress: Option<Vec<Rule>>,
        /// `egress` rules, in order (at most 1024).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub egress: Option<Vec<Rule>>,
        /// `selector`: the endpoints the policy applies to; empty is `all()`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
        /// `types` as written: `Ingress`, `Egress`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub types: Option<Vec<String>>,
        /// `doNotTrack`: rules applied before connection tracking, to host endpoints only.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub do_not_track: Option<bool>,
        /// `preDNAT`: rules applied before DNAT, to host endpoints only.
        #[serde(default, deserialize_with = "go_value", rename = "preDNAT", skip_serializing_if = "Option::is_none")]
        pub pre_dnat: Option<bool>,
        /// `applyOnForward`: rules also applied to traffic forwarded through host endpoints.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub apply_on_forward: Option<bool>,
        /// `serviceAccountSelector`: a selector over the labels of the endpoint's service
        /// account.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub service_account_selector: Option<String>,
        /// `namespaceSelector`: a selector over the labels of the endpoint's namespace.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<String>,
        /// `performanceHints` (`AssumeNeededOnEveryNode`): no effect on what is allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub performance_hints: Option<Vec<String>>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One Calico rule: match criteria and an action.
    ///
    /// ```
    /// use netpol::calico::{Protocol, Rule};
    /// let r: Rule = serde_json::from_str(r#"{"action": "Allow", "protocol": 6,
    ///   "notICMP": {"type": 8}, "source": {"selector": "app == 'web'"}}"#).unwrap();
    /// assert_eq!(r.action.as_deref(), Some("Allow"));
    /// assert_eq!(r.protocol, Some(Protocol::Number(6)));
    /// assert_eq!(r.not_icmp.unwrap().icmp_type, Some(8));
    /// assert!(r.destination.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Rule {
        /// `action` as written: `Allow`, `Deny`, `Log` or `Pass` (required).
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub action: Option<String>,
        /// `ipVersion`: 4 or 6.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ip_version: Option<i64>,
        /// `protocol`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub protocol: Option<Protocol>,
        /// `icmp`: ICMP type and code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub icmp: Option<IcmpFields>,
        /// `notProtocol`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not_protocol: Option<Protocol>,
        /// `notICMP`.
        #[serde(default, rename = "notICMP", skip_serializing_if = "Option::is_none")]
        pub not_icmp: Option<IcmpFields>,
        /// `source`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub source: Option<EntityRule>,
        /// `destination`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub destination: Option<EntityRule>,
        /// `http`: an L7 match (methods, paths).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub http: Option<HttpMatch>,
        /// `metadata`: annotations, no effect on matching.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<RuleMetadata>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// The match criteria of one side (`source` or `destination`) of a rule.
    ///
    /// ```
    /// use netpol::calico::{EntityRule, Port};
    /// let e: EntityRule = serde_json::from_str(r#"{"nets": ["10.0.0.0/8"],
    ///   "notPorts": ["http"], "serviceAccounts": {"names": ["api"]}}"#).unwrap();
    /// assert_eq!(e.not_ports.unwrap(), [Port::String("http".into())]);
    /// assert_eq!(e.service_accounts.unwrap().names.unwrap(), ["api"]);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct EntityRule {
        /// `nets`: CIDRs the address must be in (any of them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub nets: Option<Vec<String>>,
        /// `selector`: endpoints (and network sets) the address must belong to.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
        /// `namespaceSelector`: namespaces the matched endpoints must be in; `global()` for
        /// endpoints in no namespace.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<String>,
        /// `services`: a Kubernetes Service's endpoints.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub services: Option<ServiceMatch>,
        /// `ports`: numbers, `"lo:hi"` ranges or port names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ports: Option<Vec<Port>>,
        /// `notNets`: CIDRs the address must not be in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not_nets: Option<Vec<String>>,
        /// `notSelector`: endpoints the address must not belong to.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub not_selector: Option<String>,
        /// `notPorts`: ports the flow must not use.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not_ports: Option<Vec<Port>>,
        /// `serviceAccounts`: the service accounts the endpoint must run as.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service_accounts: Option<ServiceAccountMatch>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// `services` of an entity rule: a Kubernetes Service by name and namespace.
    ///
    /// ```
    /// use netpol::calico::ServiceMatch;
    /// let s: ServiceMatch = serde_json::from_str(r#"{"name": "kube-dns", "namespace": "kube-system"}"#).unwrap();
    /// assert_eq!(s.namespace.as_deref(), Some("kube-system"));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ServiceMatch {
        /// `name` of the Service (required).
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// `namespace` of the Service; absent is the policy's own.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub namespace: Option<String>,
    }
}

go_struct! {
    /// `serviceAccounts` of an entity rule: service account names and/or a selector over
    /// service account labels (both must hold when both are written).
    ///
    /// ```
    /// use netpol::calico::ServiceAccountMatch;
    /// let m: ServiceAccountMatch = serde_json::from_str(r#"{"selector": "team == 'a'"}"#).unwrap();
    /// assert!(m.names.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ServiceAccountMatch {
        /// `names`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub names: Option<Vec<String>>,
        /// `selector`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
    }
}

go_struct! {
    /// `icmp` / `notICMP` of a rule.
    ///
    /// ```
    /// use netpol::calico::IcmpFields;
    /// let f: IcmpFields = serde_json::from_str(r#"{"type": 3, "code": 4}"#).unwrap();
    /// assert_eq!((f.icmp_type, f.code), (Some(3), Some(4)));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct IcmpFields {
        /// `type`: 0 to 254.
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        pub icmp_type: Option<i64>,
        /// `code`: 0 to 255, only with a `type`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub code: Option<i64>,
    }
}

/// Calico's name for [`IcmpFields`] (`ICMPFields`).
pub type ICMPFields = IcmpFields;

go_struct! {
    /// `http` of a rule: methods and paths of HTTP requests.
    ///
    /// ```
    /// use netpol::calico::HttpMatch;
    /// let h: HttpMatch = serde_json::from_str(r#"{"methods": ["GET"], "paths": [{"prefix": "/api"}]}"#).unwrap();
    /// assert_eq!(h.paths.unwrap()[0].prefix.as_deref(), Some("/api"));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct HttpMatch {
        /// `methods` (at most 20).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub methods: Option<Vec<String>>,
        /// `paths` (at most 20).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub paths: Option<Vec<HttpPath>>,
    }
}

/// Calico's name for [`HttpMatch`] (`HTTPMatch`).
pub type HTTPMatch = HttpMatch;

go_struct! {
    /// One `paths` entry of an HTTP match: exactly one of `exact` and `prefix`.
    ///
    /// ```
    /// use netpol::calico::HttpPath;
    /// let p: HttpPath = serde_json::from_str(r#"{"exact": "/healthz"}"#).unwrap();
    /// assert!(p.prefix.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct HttpPath {
        /// `exact`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub exact: Option<String>,
        /// `prefix`.
        #[serde(default, deserialize_with = "go_value", skip_serializing_if = "Option::is_none")]
        pub prefix: Option<String>,
    }
}

go_struct! {
    /// `metadata` of a rule.
    ///
    /// ```
    /// use netpol::calico::RuleMetadata;
    /// let m: RuleMetadata = serde_json::from_str(r#"{"annotations": {"owner": "team-a"}}"#).unwrap();
    /// assert_eq!(m.annotations.unwrap()["owner"], "team-a");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct RuleMetadata {
        /// `annotations`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub annotations: Option<Labels>,
    }
}

go_struct! {
    /// `spec` of a [`NetworkSet`] or [`GlobalNetworkSet`].
    ///
    /// ```
    /// use netpol::calico::NetworkSetSpec;
    /// let s: NetworkSetSpec = serde_json::from_str(r#"{"nets": ["10.0.0.1", "fd00::/8"]}"#).unwrap();
    /// assert_eq!(s.nets.unwrap().len(), 2);
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NetworkSetSpec {
        /// `nets`: CIDRs or bare addresses (host bits allowed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub nets: Option<Vec<String>>,
    }
}

go_struct! {
    /// `spec` of a [`Tier`].
    ///
    /// ```
    /// use netpol::calico::TierSpec;
    /// let s: TierSpec = serde_json::from_str(r#"{"order": 1e3}"#).unwrap();
    /// assert_eq!(s.order, Some(1000.0));
    /// assert!(s.default_action.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct TierSpec {
        /// `order`: position among tiers, ascending; absent is 1,000,000.
        #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "go_float")]
        pub order: Option<f64>,
        /// `defaultAction` as written: `Deny` (the default) or `Pass`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub default_action: Option<String>,
    }
    serde(rename_all = "camelCase");
}

/// A port entry (Calico's `numorstring.Port`) as written: a JSON number, or a string
/// holding a number, a `"lo:hi"` range or a port name.
///
/// Calico's decoder reads the string at once and refuses a bad one; here the text is
/// kept and [`validate`](super::validate) reports it. [`Port::parse`] reads it as Calico
/// does. A `null` entry decodes as `Number(0)`, as Calico's decoder reads it (and
/// validation then refuses it).
///
/// ```
/// use netpol::calico::{Port, PortValue};
/// let ports: Vec<Port> = serde_json::from_str(r#"[80, "8080", "9000:9100", "http", "99999"]"#).unwrap();
/// assert_eq!(ports[0].parse(), Ok(PortValue::Range(80, 80)));
/// assert_eq!(ports[1].parse(), Ok(PortValue::Range(8080, 8080)));
/// assert_eq!(ports[2].parse(), Ok(PortValue::Range(9000, 9100)));
/// assert_eq!(ports[3].parse(), Ok(PortValue::Name("http".into())));
/// assert_eq!(ports[4].parse().unwrap_err(), "invalid port format (99999)");
/// assert_eq!(serde_json::to_string(&ports).unwrap(), r#"[80,"8080","9000:9100","http","99999"]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Port {
    /// A JSON number (Calico requires 1 to 65535; kept wider so validation reports it).
    Number(i64),
    /// A JSON string.
    String(String),
}

/// A port entry as Calico reads it: an inclusive range (a single port is `lo == hi`) or a
/// name.
///
/// ```
/// use netpol::calico::PortValue;
/// assert!(PortValue::Range(80, 90).contains(85));
/// assert!(!PortValue::Name("http".into()).contains(80));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortValue {
    /// Ports `lo..=hi` (as read; validation requires `1 <= lo <= hi`).
    Range(u16, u16),
    /// A named port.
    Name(String),
}

impl PortValue {
    /// Whether a port number lies in the range (never, for a name).
    ///
    /// ```
    /// assert!(netpol::calico::PortValue::Range(443, 443).contains(443));
    /// ```
    #[must_use]
    pub fn contains(&self, port: u16) -> bool {
        match self {
            PortValue::Range(lo, hi) => (*lo..=*hi).contains(&port),
            PortValue::Name(_) => false,
        }
    }
}

impl fmt::Display for PortValue {
    /// As Calico prints a port: `80`, `80:90`, or the name. [`FromStr`](std::str::FromStr)
    /// reads it back for every value Calico's decoder gives (`lo <= hi`, names that are not
    /// digits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortValue::Range(lo, hi) if lo == hi => write!(f, "{lo}"),
            PortValue::Range(lo, hi) => write!(f, "{lo}:{hi}"),
            PortValue::Name(n) => f.write_str(n),
        }
    }
}

/// A port string Calico's decoder refuses, with Calico's message.
///
/// ```
/// let err = "9000:80".parse::<netpol::calico::PortValue>().unwrap_err();
/// assert_eq!(err.to_string(),
///     "minimum port number (9000) is greater than maximum port number (80) in port range");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(String);

impl std::str::FromStr for PortValue {
    type Err = PortError;
    /// Reads a port string as Calico's decoder does (`numorstring.PortFromString`; see
    /// [`Port::parse`]).
    ///
    /// ```
    /// use netpol::calico::PortValue;
    /// assert_eq!("9000:9100".parse(), Ok(PortValue::Range(9000, 9100)));
    /// assert_eq!("metrics".parse(), Ok(PortValue::Name("metrics".into())));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        port_from_string(s).map_err(PortError)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `strconv.ParseUint(s, 10, 16)` on a string of digits.
fn parse_u16(s: &str) -> Option<u16> {
    s.parse::<u16>().ok()
}

impl Port {
    /// Reads the entry as Calico's decoder does (`numorstring.PortFromString` for a string):
    /// digits are one port (at most 65535), `digits:digits` a range (minimum not above
    /// maximum), anything else a name of 1 to 128 characters from `[a-zA-Z0-9_.-]`. The
    /// error is Calico's message. A number outside 0..=65535 is refused with the message
    /// Go's decoder gives.
    ///
    /// The range is not checked further here: validation refuses port 0 and names that are
    /// not Kubernetes port names.
    ///
    /// ```
    /// use netpol::calico::{Port, PortValue};
    /// assert_eq!(Port::String("20:10".into()).parse().unwrap_err(),
    ///     "minimum port number (20) is greater than maximum port number (10) in port range");
    /// assert_eq!(Port::String("a b".into()).parse().unwrap_err(), "invalid name for named port (a b)");
    /// assert_eq!(Port::Number(0).parse(), Ok(PortValue::Range(0, 0)));
    /// assert!(Port::Number(65536).parse().is_err());
    /// ```
    pub fn parse(&self) -> Result<PortValue, String> {
        match self {
            Port::Number(n) => u16::try_from(*n)
                .map(|p| PortValue::Range(p, p))
                .map_err(|_| {
                    format!("json: cannot unmarshal number {n} into Go value of type uint16")
                }),
            Port::String(s) => port_from_string(s),
        }
    }
}

fn port_from_string(s: &str) -> Result<PortValue, String> {
    if all_digits(s) {
        return parse_u16(s)
            .map(|p| PortValue::Range(p, p))
            .ok_or_else(|| format!("invalid port format ({s})"));
    }
    if let Some((lo, hi)) = s.split_once(':') {
        if all_digits(lo) && all_digits(hi) {
            let Some(min) = parse_u16(lo) else {
                return Err(format!("invalid minimum port number in range ({s})"));
            };
            let Some(max) = parse_u16(hi) else {
                return Err(format!("invalid maximum port number in range ({s})"));
            };
            if min > max {
                return Err(format!(
                    "minimum port number ({min}) is greater than maximum port number ({max}) in port range"
                ));
            }
            return Ok(PortValue::Range(min, max));
        }
    }
    let name_ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name_ok {
        Ok(PortValue::Name(s.to_owned()))
    } else {
        Err(format!("invalid name for named port ({s})"))
    }
}

impl fmt::Display for Port {
    /// The entry as written. Not parsed back (there is no `FromStr`): a number and a
    /// string of digits print alike; [`PortValue`] is the parsed form, and parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::String(s) => f.write_str(s),
        }
    }
}

impl From<u16> for Port {
    fn from(p: u16) -> Self {
        Port::Number(i64::from(p))
    }
}

impl From<&str> for Port {
    fn from(s: &str) -> Self {
        Port::String(s.to_owned())
    }
}

/// A protocol (Calico's `numorstring.Protocol`) as written: a JSON number, or a string
/// holding a name (`TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite`, exact case) or a
/// number (`"6"` is 6, as Calico's decoder reads it).
///
/// ```
/// use netpol::calico::Protocol;
/// let p: Vec<Protocol> = serde_json::from_str(r#"[6, "17", "TCP", "tcp"]"#).unwrap();
/// assert_eq!(p[0].number(), Some(6));
/// assert_eq!(p[1].number(), Some(17));
/// assert_eq!(p[2].number(), Some(6));
/// assert_eq!(p[3].number(), None); // names are case-sensitive: validation refuses it
/// assert!(p[2].supports_ports() && !Protocol::Name("ICMP".into()).supports_ports());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// A JSON number (Calico requires 1 to 255; kept wider so validation reports it).
    Number(i64),
    /// A JSON string: a name or a number in decimal.
    Name(String),
}

/// Calico's protocol names with their numbers.
pub(crate) const PROTOCOL_NAMES: [(&str, u8); 6] = [
    ("TCP", 6),
    ("UDP", 17),
    ("ICMP", 1),
    ("ICMPv6", 58),
    ("SCTP", 132),
    ("UDPLite", 136),
];

impl Protocol {
    /// The number Calico reads: a JSON number as is, a string of digits (at most 255) as
    /// that number, a protocol name as its IANA number; `None` for anything else (and for
    /// a JSON number outside 0..=255).
    ///
    /// ```
    /// use netpol::calico::Protocol;
    /// assert_eq!(Protocol::Name("UDPLite".into()).number(), Some(136));
    /// assert_eq!(Protocol::Name("256".into()).number(), None);
    /// ```
    #[must_use]
    pub fn number(&self) -> Option<u8> {
        match self {
            Protocol::Number(n) => u8::try_from(*n).ok(),
            Protocol::Name(s) => {
                if let Some(n) = go_parse_u8(s) {
                    return Some(n);
                }
                PROTOCOL_NAMES
                    .iter()
                    .find(|(name, _)| name == s)
                    .map(|(_, n)| *n)
            }
        }
    }

    /// Whether the string is a number as Calico's decoder reads it (`"6"`), so that Calico
    /// holds it as a number.
    pub(crate) fn numeric(&self) -> Option<i64> {
        match self {
            Protocol::Number(n) => Some(*n),
            Protocol::Name(s) => go_parse_u8(s).map(i64::from),
        }
    }

    /// Whether Calico lets a rule with this protocol have ports (`SupportsPorts`): TCP,
    /// UDP and SCTP, by name or number (6, 17, 132).
    ///
    /// ```
    /// use netpol::calico::Protocol;
    /// assert!(Protocol::Number(132).supports_ports());
    /// assert!(!Protocol::Name("UDPLite".into()).supports_ports());
    /// ```
    #[must_use]
    pub fn supports_ports(&self) -> bool {
        match self.numeric() {
            Some(n) => matches!(n, 6 | 17 | 132),
            None => matches!(
                self,
                Protocol::Name(s) if matches!(s.as_str(), "TCP" | "UDP" | "SCTP" | "tcp" | "udp" | "sctp")
            ),
        }
    }
}

/// Go's `strconv.ParseUint(s, 10, 8)`: decimal digits only, at most 255.
fn go_parse_u8(s: &str) -> Option<u8> {
    if all_digits(s) {
        s.parse::<u8>().ok()
    } else {
        None
    }
}

impl fmt::Display for Protocol {
    /// The protocol as written. Not parsed back (there is no `FromStr`): a number and a
    /// string of digits print alike.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Number(n) => write!(f, "{n}"),
            Protocol::Name(s) => f.write_str(s),
        }
    }
}

impl From<u8> for Protocol {
    fn from(n: u8) -> Self {
        Protocol::Number(i64::from(n))
    }
}

impl From<&str> for Protocol {
    fn from(s: &str) -> Self {
        Protocol::Name(s.to_owned())
    }
}

/// A number-or-string as written, shared by [`Port`] and [`Protocol`].
enum NumOrString {
    Number(i64),
    String(String),
}

struct NumOrStringVisitor(&'static str);

impl NumOrStringVisitor {
    fn refuse<E: de::Error>(&self, found: &str) -> E {
        E::custom(format!("cannot unmarshal {found} into {}", self.0))
    }
}

impl<'de> Visitor<'de> for NumOrStringVisitor {
    type Value = NumOrString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumOrString, E> {
        Ok(NumOrString::Number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumOrString, E> {
        i64::try_from(v)
            .map(NumOrString::Number)
            .map_err(|_| self.refuse(&format!("number {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumOrString, E> {
        Err(self.refuse(&format!("number {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NumOrString, E> {
        Ok(NumOrString::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<NumOrString, E> {
        Ok(NumOrString::String(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NumOrString, E> {
        Err(self.refuse(&format!("bool {v}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<NumOrString, E> {
        // Calico's UnmarshalJSON reads `null` into a zero number.
        Ok(NumOrString::Number(0))
    }

    fn visit_none<E: de::Error>(self) -> Result<NumOrString, E> {
        Ok(NumOrString::Number(0))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NumOrString, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _seq: A) -> Result<NumOrString, A::Error> {
        Err(self.refuse("array"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<NumOrString, A::Error> {
        Err(self.refuse("object"))
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Port::Number(n) => s.serialize_i64(*n),
            Port::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for Port {
    /// As `numorstring.Port.UnmarshalJSON`, a method Go runs on every occurrence of a
    /// repeated key and whose error stops decoding (see `go_json::each`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        go_json::each(d, |one: OnePort| one.0)
    }
}

/// [`Port`]'s `UnmarshalJSON` on one occurrence.
struct OnePort(Port);

impl<'de> Deserialize<'de> for OnePort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OnePort(
            match d.deserialize_any(NumOrStringVisitor("a port (number or string)"))? {
                NumOrString::Number(n) => Port::Number(n),
                NumOrString::String(s) => Port::String(s),
            },
        ))
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Protocol::Number(n) => s.serialize_i64(*n),
            Protocol::Name(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for Protocol {
    /// As `numorstring.Protocol.UnmarshalJSON`, a method Go runs on every occurrence of a
    /// repeated key and whose error stops decoding (see `go_json::each`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        go_json::each(d, |one: OneProtocol| one.0)
    }
}

/// [`Protocol`]'s `UnmarshalJSON` on one occurrence.
struct OneProtocol(Protocol);

impl<'de> Deserialize<'de> for OneProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OneProtocol(
            match d.deserialize_any(NumOrStringVisitor("a protocol (number or string)"))? {
                NumOrString::Number(n) => Protocol::Number(n),
                NumOrString::String(s) => Protocol::Name(s),
            },
        ))
    }
}
