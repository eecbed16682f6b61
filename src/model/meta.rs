use serde::{Deserialize, Serialize};

use super::Labels;

/// The part of `metadata` that policy semantics use, plus everything else kept verbatim.
///
/// Server-set fields (`uid`, `resourceVersion`, `generation`, `creationTimestamp`,
/// `managedFields`, …) are tolerated and kept in [`extra`](Self::extra) so that a decoded
/// object serializes back as it was read.
///
/// ```
/// use netpol::model::ObjectMeta;
///
/// let meta = ObjectMeta::named("prod", "web");
/// assert_eq!(meta.namespace.as_deref(), Some("prod"));
/// assert_eq!(meta.name.as_deref(), Some("web"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `metadata.generateName`: a prefix the server completes when `name` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// `metadata.namespace`; absent means `default` wherever a namespace is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    /// `metadata.annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Labels>,
    /// Every other metadata field, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ObjectMeta {
    /// Metadata with a namespace and a name and nothing else.
    ///
    /// ```
    /// let meta = netpol::model::ObjectMeta::named("default", "db");
    /// assert!(meta.labels.is_none());
    /// ```
    pub fn named(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        }
    }

    /// The namespace, or `default` when none is written.
    ///
    /// ```
    /// let meta = netpol::model::ObjectMeta::default();
    /// assert_eq!(meta.namespace_or_default(), "default");
    /// ```
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}
