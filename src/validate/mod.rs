//! Validation equal to the apiserver's for `networking.k8s.io/v1` NetworkPolicy.
//!
//! [`validate_network_policy`] applies every rule of upstream
//! `pkg/apis/networking/validation` and apimachinery's label-selector validation and
//! reports all problems at once, each as a [`FieldError`] with the apiserver's field path,
//! error kind and message.

use std::fmt;

use crate::model::NetworkPolicy;

/// The kind of a field error, as apimachinery's `field.ErrorType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
}

impl ErrorKind {
    /// The phrase the apiserver prints for this kind.
    ///
    /// ```
    /// assert_eq!(netpol::validate::ErrorKind::Invalid.phrase(), "Invalid value");
    /// ```
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorKind::Required => "Required value",
            ErrorKind::Invalid => "Invalid value",
            ErrorKind::Unsupported => "Unsupported value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
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
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// True when there is no error.
    ///
    /// ```
    /// assert!(netpol::validate::ValidationErrors::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ValidationErrors {
    /// Like the apiserver's aggregate: one error alone, several as `[a, b]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("no errors"),
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("[")?;
                for (i, e) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl std::error::Error for ValidationErrors {}

/// Validates a NetworkPolicy as the apiserver does on create.
///
/// ```
/// let p = netpol::model::NetworkPolicy::new("default", "ok");
/// assert!(netpol::validate::validate_network_policy(&p).is_ok());
/// ```
pub fn validate_network_policy(policy: &NetworkPolicy) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    for (i, t) in policy.spec.policy_types.iter().flatten().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errors.push(FieldError {
                kind: ErrorKind::Unsupported,
                field: format!("spec.policyTypes[{i}]"),
                value: Some(format!("{t:?}")),
                detail: "supported values: \"Egress\", \"Ingress\"".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}
