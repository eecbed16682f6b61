use std::fmt;

use serde::{Deserialize, Serialize};

use super::{IntOrString, LabelSelector, ObjectMeta};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    /// `apiVersion`, normally `networking.k8s.io/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind`, normally `NetworkPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: NetworkPolicySpec,
    /// Every other top-level field (for instance a `status`), kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `spec` of a NetworkPolicy.
///
/// ```
/// use netpol::model::NetworkPolicySpec;
/// let spec: NetworkPolicySpec =
///     serde_json::from_str(r#"{"podSelector": {}, "policyTypes": ["Egress"]}"#).unwrap();
/// assert_eq!(spec.policy_types.as_deref(), Some(&["Egress".to_string()][..]));
/// assert!(spec.ingress.is_none() && spec.egress.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// `podSelector`: the pods of the policy's namespace it applies to. The API requires
    /// it; `kubectl` prints `{}` for "all pods". Absent is treated like `{}` (that is what
    /// the apiserver's decoding does) but kept apart so it serializes back as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// `ingress` rules. `None` and `Some(vec![])` differ only when `policyTypes` is
    /// written; both allow no ingress when the policy isolates ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<NetworkPolicyIngressRule>>,
    /// `egress` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<NetworkPolicyEgressRule>>,
    /// `policyTypes` as written (`Ingress`, `Egress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_types: Option<Vec<String>>,
}

/// One `ingress` rule: traffic from any of `from`, to any of `ports`.
///
/// A missing or empty `from` matches every source; a missing or empty `ports` every port.
///
/// ```
/// use netpol::model::NetworkPolicyIngressRule;
/// let allow_all = NetworkPolicyIngressRule::default();
/// assert!(allow_all.from.is_none() && allow_all.ports.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPolicyIngressRule {
    /// `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPolicyPort>>,
    /// `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NetworkPolicyPeer>>,
}

/// One `egress` rule: traffic to any of `to`, on any of `ports`.
///
/// ```
/// use netpol::model::NetworkPolicyEgressRule;
/// let rule: NetworkPolicyEgressRule =
///     serde_json::from_str(r#"{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}"#).unwrap();
/// assert_eq!(rule.to.unwrap()[0].ip_block.as_ref().unwrap().cidr, "10.0.0.0/8");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPolicyEgressRule {
    /// `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPolicyPort>>,
    /// `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<NetworkPolicyPeer>>,
}

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    /// `podSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// `namespaceSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// `ipBlock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// An `ipBlock`: a CIDR minus `except` CIDRs, kept as the strings written.
///
/// ```
/// use netpol::model::IpBlock;
/// let b = IpBlock::new("172.17.0.0/16", ["172.17.1.0/24"]);
/// assert_eq!(b.except.unwrap(), vec!["172.17.1.0/24".to_string()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBlock {
    /// `cidr`, e.g. `10.0.0.0/8` or `2001:db8::/32`.
    #[serde(default)]
    pub cidr: String,
    /// `except`: CIDRs inside `cidr` that are not part of the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Vec<String>>,
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

/// A `ports` entry: protocol, port number or name, and optional `endPort`.
///
/// ```
/// use netpol::model::{IntOrString, NetworkPolicyPort};
/// let p: NetworkPolicyPort =
///     serde_json::from_str(r#"{"protocol": "UDP", "port": 32000, "endPort": 32768}"#).unwrap();
/// assert_eq!(p.port, Some(IntOrString::Int(32000)));
/// assert_eq!(p.end_port, Some(32768));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    /// `protocol` as written: `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `port`: a number or a container port name; absent means every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// `endPort`: with a numeric `port`, the last port of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

/// A `NetworkPolicyList` (or a generic `List`) as `kubectl get networkpolicies -o json` prints.
///
/// ```
/// use netpol::model::NetworkPolicyList;
/// let list: NetworkPolicyList = serde_json::from_str(
///     r#"{"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "a"}, "spec": {}}]}"#,
/// ).unwrap();
/// assert_eq!(list.items.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyList {
    /// `apiVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind`: `NetworkPolicyList` or `List`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The policies.
    #[serde(default)]
    pub items: Vec<NetworkPolicy>,
    /// Every other field (list `metadata`, …), kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// JSON that could not be decoded into a model type.
///
/// `path` is the field path where decoding failed, written the way the apiserver writes
/// paths (`spec.ingress[0].ports[0].port`); `line` and `column` locate the failure in the
/// text (1-based; 0 when unknown).
///
/// ```
/// use netpol::model::NetworkPolicy;
/// let err = NetworkPolicy::from_json(r#"{"spec": {"ingress": [{"ports": [{"port": true}]}]}}"#)
///     .unwrap_err();
/// assert_eq!(err.path, "spec.ingress[0].ports[0].port");
/// assert!(err.to_string().starts_with("spec.ingress[0].ports[0].port: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message} (line {line}, column {column})", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct DecodeError {
    /// Field path of the value that failed, empty for the document itself.
    pub path: String,
    /// What was wrong, from the JSON decoder.
    pub message: String,
    /// 1-based line of the failure, 0 when unknown.
    pub line: usize,
    /// 1-based column of the failure, 0 when unknown.
    pub column: usize,
}

impl DecodeError {
    fn from_path_error(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = format_path(e.path());
        let inner = e.into_inner();
        let line = inner.line();
        let column = inner.column();
        DecodeError {
            path,
            message: json_message(&inner),
            line,
            column,
        }
    }
}

/// serde_json's message without the " at line L column C" it appends: callers report the
/// position in fields of their own.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    if let Some(pos) = message.rfind(" at line ") {
        message.truncate(pos);
    }
    message
}

/// Writes a serde path the apiserver's way: `spec.ingress[0].from[1]`.
fn format_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// Decodes one JSON document into `T`, with the field path of any type error and an
/// error for trailing text.
pub(crate) fn from_json_with_path<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T =
        serde_path_to_error::deserialize(&mut de).map_err(DecodeError::from_path_error)?;
    de.end().map_err(|e| DecodeError {
        path: String::new(),
        message: json_message(&e),
        line: e.line(),
        column: e.column(),
    })?;
    Ok(value)
}

/// Decodes a parsed JSON value into `T`, with the field path of any type error.
pub(crate) fn from_value_with_path<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(DecodeError::from_path_error)
}

impl NetworkPolicy {
    /// Decodes one NetworkPolicy from JSON text, with the field path of any type error.
    ///
    /// ```
    /// let p = netpol::model::NetworkPolicy::from_json(r#"{"metadata": {"name": "x"}}"#).unwrap();
    /// assert_eq!(p.metadata.name.as_deref(), Some("x"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        from_json_with_path(text)
    }

    /// Decodes one NetworkPolicy from an already parsed JSON value.
    ///
    /// ```
    /// let v = serde_json::json!({"spec": {"policyTypes": ["Ingress"]}});
    /// let p = netpol::model::NetworkPolicy::from_value(&v).unwrap();
    /// assert!(p.spec.pod_selector.is_none());
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<Self, DecodeError> {
        from_value_with_path(value)
    }

    /// `namespace/name`, with `default` for a missing namespace and an empty name when none.
    ///
    /// ```
    /// let p = netpol::model::NetworkPolicy::new("prod", "deny-all");
    /// assert_eq!(p.key(), "prod/deny-all");
    /// ```
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
/// Items of a `List` whose `kind` is set to something other than `NetworkPolicy` are an
/// error naming the item, so nothing is dropped silently.
///
/// ```
/// let one = netpol::model::decode_policies(r#"{"kind": "NetworkPolicy", "metadata": {"name": "a"}}"#)?;
/// let many = netpol::model::decode_policies(
///     r#"{"kind": "NetworkPolicyList", "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#,
/// )?;
/// assert_eq!((one.len(), many.len()), (1, 2));
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn decode_policies(text: &str) -> Result<Vec<NetworkPolicy>, DecodeError> {
    let value: serde_json::Value = from_json_with_path(text)?;
    let is_list = value.get("items").is_some()
        || value
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.ends_with("List"));
    if !is_list {
        return Ok(vec![NetworkPolicy::from_value(&value)?]);
    }
    let items = match value.get("items") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => {
            return Err(DecodeError {
                path: "items".into(),
                message: "expected an array".into(),
                line: 0,
                column: 0,
            });
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(kind) = item.get("kind").and_then(|k| k.as_str()) {
            if kind != "NetworkPolicy" {
                return Err(DecodeError {
                    path: format!("items[{i}].kind"),
                    message: format!("expected a NetworkPolicy, found kind \"{kind}\""),
                    line: 0,
                    column: 0,
                });
            }
        }
        let policy = NetworkPolicy::from_value(item).map_err(|mut e| {
            e.path = if e.path.is_empty() {
                format!("items[{i}]")
            } else {
                format!("items[{i}].{}", e.path)
            };
            e
        })?;
        out.push(policy);
    }
    Ok(out)
}

impl fmt::Display for NetworkPolicy {
    /// Writes `namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}
