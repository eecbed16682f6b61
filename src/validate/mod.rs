//! Validation equal to the apiserver's for `networking.k8s.io/v1` NetworkPolicy and for
//! `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy
//! ([`validate_cluster_network_policy`], see `validate/cnp.rs` for its rules and
//! [`Channel`] for the CRD channels).
//!
//! [`validate_network_policy`] applies every rule of upstream
//! `pkg/apis/networking/validation` (with the apiserver's create-time options and default
//! feature gates), apimachinery's object-metadata and label-selector validation, and
//! reports all problems at once, each as a [`FieldError`] with the apiserver's field path,
//! error kind and message, in the order the apiserver finds them.
//!
//! ```
//! use netpol::model::NetworkPolicy;
//! use netpol::validate::validate_network_policy;
//!
//! let p = NetworkPolicy::from_json(r#"{
//!   "metadata": {"name": "db", "namespace": "prod"},
//!   "spec": {"podSelector": {},
//!            "ingress": [{"ports": [{"protocol": "ICMP", "port": 0}]}]}
//! }"#).unwrap();
//! let errs = validate_network_policy(&p).unwrap_err();
//! let lines: Vec<String> = errs.errors().iter().map(|e| e.to_string()).collect();
//! assert_eq!(lines, [
//!     r#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#,
//!     "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
//! ]);
//! ```
//!
//! Where upstream iterates a Go map (label and annotation keys), the order is random
//! there; here it is the sorted key order of [`Labels`](crate::model::Labels).

mod cidr;
mod cnp;
mod meta;
mod names;
mod spec;

use std::fmt;

use crate::model::NetworkPolicy;

pub(crate) use cidr::GoIpNet;
pub use cnp::{
    CNP_CIDR_MAX_LENGTH, CNP_DOMAIN_NAME_PATTERN, CNP_MAX_ITEMS, CNP_RULE_NAME_MAX_LENGTH, Channel,
    UnknownChannel, is_cnp_domain_name, parse_cnp_cidr, validate_cluster_network_policy,
    validate_cluster_network_policy_in,
};
pub use meta::{
    TOTAL_ANNOTATION_SIZE_LIMIT, validate_kube_finalizer_names, validate_object_meta,
    validate_resource_version_on_create,
};
pub use names::{
    DNS1123_LABEL_MAX_LENGTH, DNS1123_SUBDOMAIN_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH,
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    is_valid_port_name, is_valid_port_num, name_is_dns_subdomain,
};
pub use spec::{
    validate_ip_block, validate_label_selector, validate_labels, validate_network_policy_peer,
    validate_network_policy_port, validate_network_policy_spec,
};

/// The kind of a field error, as apimachinery's `field.ErrorType` names it.
///
/// ```
/// use netpol::model::NetworkPolicy;
/// use netpol::validate::{ErrorKind, validate_network_policy};
/// let written = NetworkPolicy::from_json(r#"{"metadata": {"name": "allow-web", "namespace": "shop"},
///   "spec": {"podSelector": {}, "policyTypes": ["Inbound"]}}"#)?;
/// let errs = validate_network_policy(&written).unwrap_err();
/// assert_eq!(errs.errors()[0].kind, ErrorKind::Unsupported);
/// assert_eq!(ErrorKind::Unsupported.phrase(), "Unsupported value");
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `Required value`: a required field is missing or empty.
    Required,
    /// `Invalid value`: the value is malformed or out of range.
    Invalid,
    /// `Unsupported value`: the value is not one of the accepted ones.
    Unsupported,
    /// `Forbidden`: the field may not be set here.
    Forbidden,
    /// `Duplicate value`.
    Duplicate,
    /// `Too long`.
    TooLong,
    /// `Too many`.
    TooMany,
    /// `Not found`: the field names an object that does not exist.
    NotFound,
}

impl ErrorKind {
    /// The phrase the apiserver prints for this kind.
    ///
    /// ```
    /// assert_eq!(netpol::validate::ErrorKind::Invalid.phrase(), "Invalid value");
    /// ```
    #[must_use]
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorKind::Required => "Required value",
            ErrorKind::Invalid => "Invalid value",
            ErrorKind::Unsupported => "Unsupported value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
            ErrorKind::NotFound => "Not found",
        }
    }
}

/// One refused field.
///
/// ```
/// use netpol::validate::{ErrorKind, FieldError};
/// let e = FieldError {
///     kind: ErrorKind::Invalid,
///     field: "spec.ingress[0].ports[0].port".into(),
///     value: Some("0".into()),
///     detail: "must be between 1 and 65535, inclusive".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The field path, e.g. `spec.ingress[0].from[1].ipBlock.except[0]`.
    pub field: String,
    /// The refused value as the apiserver prints it (strings quoted), when it prints one.
    pub value: Option<String>,
    /// The explanation.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.phrase())?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

/// Every problem found in one object, in the order the apiserver finds them.
///
/// ```
/// use netpol::model::NetworkPolicy;
/// let mut p = NetworkPolicy::new("default", "x");
/// p.spec.policy_types = Some(vec!["Sideways".into()]);
/// let errs = netpol::validate::validate_network_policy(&p).unwrap_err();
/// assert_eq!(errs.errors()[0].field, "spec.policyTypes[0]");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// The errors.
    ///
    /// ```
    /// assert!(netpol::validate::ValidationErrors::default().errors().is_empty());
    /// ```
    #[must_use]
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// True when there is no error.
    ///
    /// ```
    /// assert!(netpol::validate::ValidationErrors::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ValidationErrors {
    /// Like the apiserver's aggregate: identical messages once, one error alone, several
    /// as `[a, b]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<String> = self
            .0
            .iter()
            .map(ToString::to_string)
            .filter(|m| seen.insert(m.clone()))
            .collect();
        match unique.as_slice() {
            [] => f.write_str("no errors"),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for ValidationErrors {}

impl FieldError {
    /// `Invalid value` with the value as the apiserver prints it.
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: String,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind: ErrorKind::Invalid,
            field: field.into(),
            value: Some(value),
            detail: detail.into(),
        }
    }

    /// `Required value`; the apiserver prints no value.
    pub(crate) fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: ErrorKind::Required,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    /// `Forbidden`; the apiserver prints no value.
    pub(crate) fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: ErrorKind::Forbidden,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    /// `Unsupported value` with the supported values quoted, in the order given.
    pub(crate) fn unsupported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| quote(s)).collect();
        FieldError {
            kind: ErrorKind::Unsupported,
            field: field.into(),
            value: Some(quote(value)),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }
}

/// Quotes a string the way Go's `%q` (`strconv.Quote`) prints it, as the apiserver does
/// for string values in field errors.
///
/// Printable characters are kept; `"` and `\` are escaped; control characters use `\a`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, `\v` or `\xNN`; other non-printable characters use
/// `\uNNNN` / `\UNNNNNNNN`. Go decides "printable" from Unicode tables; this keeps
/// everything but control, whitespace other than space, and format characters, which
/// agrees except for unassigned code points.
///
/// ```
/// assert_eq!(netpol::validate::quote("a\"b\n\u{a0}é"), r#""a\"b\n\u00a0é""#);
/// ```
#[must_use]
pub fn quote(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() || c.is_whitespace() || is_format_char(c) => {
                if u32::from(c) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                } else {
                    let _ = write!(out, "\\U{:08x}", u32::from(c));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, approximated as [`quote`] decides what to print: everything
/// but control characters, whitespace other than the ASCII space, and format characters.
pub(crate) fn is_go_print(c: char) -> bool {
    c == ' ' || !(c.is_control() || c.is_whitespace() || is_format_char(c))
}

/// Unicode format characters (category Cf) that Go does not print.
fn is_format_char(c: char) -> bool {
    matches!(u32::from(c),
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xf0000..=0x10ffff)
}

/// Validates a NetworkPolicy as the apiserver's validation does on create: `metadata`
/// first, then `spec`, every error reported.
///
/// The storage's refusal of a `resourceVersion` on create, which comes after validation,
/// is not part of it: an object read back from a cluster (`kubectl get -o json`) always
/// carries one and was accepted. To ask whether a create request would succeed, run
/// [`validate_resource_version_on_create`] too once this passes.
///
/// ```
/// let p = netpol::model::NetworkPolicy::new("default", "ok");
/// assert!(netpol::validate::validate_network_policy(&p).is_ok());
///
/// let mut bad = netpol::model::NetworkPolicy::new("default", "Bad_Name");
/// bad.spec.policy_types = Some(vec!["Ingress".into(), "Ingress".into()]); // duplicates are fine
/// let errs = netpol::validate::validate_network_policy(&bad).unwrap_err();
/// assert_eq!(errs.errors().len(), 1);
/// assert_eq!(errs.errors()[0].field, "metadata.name");
/// ```
pub fn validate_network_policy(policy: &NetworkPolicy) -> Result<(), ValidationErrors> {
    let mut errors = validate_object_meta(&policy.metadata, "metadata");
    errors.extend(validate_kube_finalizer_names(&policy.metadata, "metadata"));
    errors.extend(validate_network_policy_spec(&policy.spec, "spec"));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}
