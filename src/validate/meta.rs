//! `metadata` rules: upstream `ValidateObjectMeta` for a namespaced object whose name is a
//! DNS-1123 subdomain (`NameIsDNSSubdomain`).

use super::names::{
    is_dns1123_label, is_qualified_name, is_valid_label_value, name_is_dns_subdomain,
};
use super::{ErrorKind, FieldError, quote};
use crate::model::{Labels, ObjectMeta};

/// Largest total size of annotation keys and values, in bytes.
///
/// The example shows the limit at work in [`validate_object_meta`]:
///
/// ```
/// use netpol::model::ObjectMeta;
/// use netpol::validate::{ErrorKind, validate_object_meta};
/// let mut meta = ObjectMeta::named("shop", "allow-web");
/// let value = "x".repeat(256 * 1024); // plus the key's 4 bytes: over the limit
/// meta.annotations = Some([("note".to_owned(), value)].into());
/// let errs = validate_object_meta(&meta, "metadata");
/// assert_eq!((errs[0].kind, errs[0].field.as_str()), (ErrorKind::TooLong, "metadata.annotations"));
/// ```
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// What the apiserver's generated names are built from: at most this many bytes of
/// `generateName`, then five random characters.
const MAX_GENERATED_PREFIX: usize = 58;

/// Stands in for the five random characters of a generated name. Upstream draws them from
/// `bcdfghjklmnpqrstvwxz2456789`; `x` is one of them, so the checks are the same.
const GENERATED_SUFFIX: &str = "xxxxx";

/// Validates `metadata` of a namespaced object whose name must be a DNS-1123 subdomain.
///
/// Checks, in the apiserver's order: `generateName` (as a name prefix), `name` (required
/// unless `generateName` is set; when only `generateName` is set the name the server would
/// generate is checked, with a fixed stand-in for its random suffix), `namespace` (a
/// DNS-1123 label; absent or empty means the request's namespace, here `default`),
/// `labels`, and
/// `annotations` (keys are qualified names compared case-insensitively; total size at
/// most 256 KiB). `generation` is not checked: on create the apiserver sets it to 1 before
/// validating (`PrepareForCreate` of the registry strategies), so a written value never
/// reaches validation.
///
/// ```
/// use netpol::model::ObjectMeta;
/// use netpol::validate::validate_object_meta;
///
/// assert!(validate_object_meta(&ObjectMeta::named("prod", "web"), "metadata").is_empty());
/// let errs = validate_object_meta(&ObjectMeta::named("Prod", "web"), "metadata");
/// assert_eq!(errs[0].field, "metadata.namespace");
/// assert!(errs[0].to_string().starts_with(
///     r#"metadata.namespace: Invalid value: "Prod": a lowercase RFC 1123 label"#));
/// ```
pub fn validate_object_meta(meta: &ObjectMeta, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for msg in name_is_dns_subdomain(generate_name, true) {
            errs.push(FieldError::invalid(
                format!("{path}.generateName"),
                quote(generate_name),
                msg,
            ));
        }
    }
    let written_name = meta.name.as_deref().unwrap_or("");
    let name = if written_name.is_empty() && !generate_name.is_empty() {
        generated_name(generate_name)
    } else {
        written_name.to_owned()
    };
    if name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "name or generateName is required",
        ));
    } else {
        for msg in name_is_dns_subdomain(&name, false) {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                quote(&name),
                msg,
            ));
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if !namespace.is_empty() {
        for msg in is_dns1123_label(namespace) {
            errs.push(FieldError::invalid(
                format!("{path}.namespace"),
                quote(namespace),
                msg,
            ));
        }
    }
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &format!("{path}.labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &format!("{path}.annotations"),
        ));
    }
    errs
}

/// The name the apiserver generates from `generateName`, with a fixed stand-in suffix.
fn generated_name(prefix: &str) -> String {
    let mut end = prefix.len().min(MAX_GENERATED_PREFIX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    let mut name = prefix.get(..end).unwrap_or("").to_owned();
    name.push_str(GENERATED_SUFFIX);
    name
}

/// Validates a label map: every key a qualified name, every value a label value. Errors
/// carry `path` itself (upstream does not index by key) and the offending key or value.
///
/// ```
/// use netpol::model::Labels;
/// let labels: Labels = [("app".to_string(), "-web".to_string())].into();
/// let errs = netpol::validate::validate_labels(&labels, "metadata.labels");
/// assert_eq!(errs[0].field, "metadata.labels");
/// assert_eq!(errs[0].value.as_deref(), Some("\"-web\""));
/// ```
pub fn validate_labels(labels: &Labels, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, quote(k), msg));
        }
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, quote(v), msg));
        }
    }
    errs
}

fn validate_annotations(annotations: &Labels, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total: usize = 0;
    for (k, v) in annotations {
        for msg in is_qualified_name(&go_to_lower(k)) {
            errs.push(FieldError::invalid(path, quote(k), msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError {
            kind: ErrorKind::TooLong,
            field: path.to_owned(),
            value: None,
            detail: format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    errs
}

/// Go's `strings.ToLower`: each character's simple lowercase mapping.
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}
