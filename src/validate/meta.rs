//! `metadata` rules: upstream `ValidateObjectMeta` for a namespaced object whose name is a
//! DNS-1123 subdomain (`NameIsDNSSubdomain`).

use super::names::{
    is_dns1123_label, is_qualified_name, is_valid_label_value, name_is_dns_subdomain,
};
use super::{ErrorKind, FieldError, is_go_print, quote};
use crate::model::go_json::parse_group_version;
use crate::model::{Labels, ManagedFieldsEntry, ObjectMeta, OwnerReference};

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
/// Checks, in the apiserver's order (apimachinery `ValidateObjectMetaAccessor` and
/// `validateObjectMetaAccessorWithOptsCommon`): `generateName` (as a name prefix),
/// `name` (required unless `generateName` is set; when only `generateName` is set the
/// name the server would generate is checked, with a fixed stand-in for its random
/// suffix), `namespace` (a DNS-1123 label; absent or empty means the request's
/// namespace, here `default`), `labels`, `annotations` (keys are qualified names
/// compared case-insensitively; total size at most 256 KiB), `ownerReferences`
/// (`ValidateOwnerReferences`), `finalizers` (`ValidateFinalizers`) and `managedFields`
/// (`ValidateManagedFields`).
///
/// What the create handler does to the object before validating it is modelled too:
/// exact duplicate owner references are dropped (`dedupOwnerReferences`), and managed
/// fields are kept only when the field manager can read every entry (otherwise it
/// replaces them with its own, which are valid). `generation` is not checked: on create
/// the apiserver sets it to 1 before validating (`PrepareForCreate` of the registry
/// strategies), so a written value never reaches validation.
///
/// The check of finalizer names that only built-in kinds make (a name without `/` must
/// be a standard finalizer) is [`validate_kube_finalizer_names`];
/// [`validate_network_policy`](super::validate_network_policy) runs both. A
/// `resourceVersion`, which the storage refuses on create after validation, is
/// [`validate_resource_version_on_create`], for callers asking whether a create would
/// succeed (objects read from a cluster carry one).
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
    let refs = dedup_owner_references(meta.owner_references.as_deref().unwrap_or(&[]));
    errs.extend(validate_owner_references(
        &refs,
        &format!("{path}.ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or(&[]),
        &format!("{path}.finalizers"),
    ));
    let managed = meta.managed_fields.as_deref().unwrap_or(&[]);
    if managed.iter().all(field_manager_reads) {
        errs.extend(validate_managed_fields(
            managed,
            &format!("{path}.managedFields"),
        ));
    }
    errs
}

/// The finalizer check that the validation of built-in kinds adds to
/// [`validate_object_meta`] (`ValidateObjectMeta` of `pkg/apis/core/validation`,
/// `validateKubeFinalizerName`): a finalizer name without `/` must be one of the
/// standard ones (`kubernetes`, `orphan`, `foregroundDeletion`). Errors carry the
/// finalizer's index. Custom resources do not get it (a warning there).
///
/// ```
/// use netpol::model::ObjectMeta;
/// use netpol::validate::validate_kube_finalizer_names;
/// let mut meta = ObjectMeta::named("prod", "web");
/// meta.finalizers = Some(vec!["orphan".into(), "example.com/keep".into(), "keep".into()]);
/// let errs = validate_kube_finalizer_names(&meta, "metadata");
/// assert_eq!(errs.len(), 1);
/// assert_eq!(errs[0].field, "metadata.finalizers[2]");
/// ```
#[must_use]
pub fn validate_kube_finalizer_names(meta: &ObjectMeta, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldError::invalid(
                format!("{path}.finalizers[{i}]"),
                quote(f),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// The storage's refusal of a `resourceVersion` on create (`store.Create` of the etcd3
/// storage: `ObjectResourceVersion` parses it with `strconv.ParseUint`, and a non-zero
/// number is `ErrResourceVersionSetOnCreate`). Text that is not such a number, and `0`,
/// are cleared and pass. The apiserver checks this only after validation passed, so
/// callers report it only for an otherwise valid object. It is not part of
/// [`validate_network_policy`](super::validate_network_policy): an object read back from
/// a cluster carries a `resourceVersion` and was created.
///
/// ```
/// use netpol::model::ObjectMeta;
/// use netpol::validate::validate_resource_version_on_create;
/// let mut meta = ObjectMeta::named("prod", "web");
/// meta.resource_version = Some("12345".into());
/// let err = validate_resource_version_on_create(&meta, "metadata").unwrap();
/// assert_eq!(err.field, "metadata.resourceVersion");
/// meta.resource_version = Some("0".into());
/// assert!(validate_resource_version_on_create(&meta, "metadata").is_none());
/// meta.resource_version = Some("abc".into());
/// assert!(validate_resource_version_on_create(&meta, "metadata").is_none());
/// ```
#[must_use]
pub fn validate_resource_version_on_create(meta: &ObjectMeta, path: &str) -> Option<FieldError> {
    let rv = meta.resource_version.as_deref().unwrap_or("");
    // strconv.ParseUint(s, 10, 64): ASCII digits only, no sign, in range.
    let parsed = if !rv.is_empty() && rv.bytes().all(|b| b.is_ascii_digit()) {
        rv.parse::<u64>().ok()
    } else {
        None
    };
    match parsed {
        Some(n) if n != 0 => Some(FieldError::invalid(
            format!("{path}.resourceVersion"),
            quote(rv),
            "resourceVersion should not be set on objects to be created",
        )),
        _ => None,
    }
}

/// The finalizers every kind accepts without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `dedupOwnerReferences` of the create handler: a reference equal in every field to an
/// earlier one is dropped.
fn dedup_owner_references(refs: &[OwnerReference]) -> Vec<&OwnerReference> {
    let mut out: Vec<&OwnerReference> = Vec::with_capacity(refs.len());
    for r in refs {
        if !out.iter().any(|seen| same_reference(seen, r)) {
            out.push(r);
        }
    }
    out
}

/// `apiequality.Semantic.DeepEqual` of two owner references as Go holds them: strings
/// compare as written (absent is empty), the two booleans are pointers (absent is nil,
/// unlike `false`). Unknown fields are not part of the Go struct.
fn same_reference(a: &OwnerReference, b: &OwnerReference) -> bool {
    let s = |o: &Option<String>| o.as_deref().unwrap_or("").to_owned();
    s(&a.api_version) == s(&b.api_version)
        && s(&a.kind) == s(&b.kind)
        && s(&a.name) == s(&b.name)
        && s(&a.uid) == s(&b.uid)
        && a.controller == b.controller
        && a.block_owner_deletion == b.block_owner_deletion
}

/// apimachinery `ValidateOwnerReferences`: each reference (`validateOwnerReference`)
/// with errors under `path` itself (upstream passes the list's path, not an indexed
/// one), then at most one controller.
fn validate_owner_references(refs: &[&OwnerReference], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller = String::new();
    for r in refs {
        let api_version = r.api_version.as_deref().unwrap_or("");
        let kind = r.kind.as_deref().unwrap_or("");
        let name = r.name.as_deref().unwrap_or("");
        let uid = r.uid.as_deref().unwrap_or("");
        // schema.FromAPIVersionAndKind: an unparsable apiVersion gives no group/version.
        let (group, version) = parse_group_version(api_version).unwrap_or_default();
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                quote(api_version),
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.kind"),
                quote(kind),
                "must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                quote(name),
                "must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.uid"),
                quote(uid),
                "must not be empty",
            ));
        }
        // BannedOwners: events cannot own objects.
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                format!("{{{api_version} {kind} {name} {uid}}}"),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{kind}/{name}");
            if first_controller.is_empty() {
                first_controller = current;
            } else {
                errs.push(FieldError::invalid(
                    path,
                    "[...]".to_owned(),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {current}"
                    ),
                ));
            }
        }
    }
    errs
}

/// apimachinery `ValidateFinalizers`: every name a qualified name (errors under `path`,
/// not indexed), and not both `orphan` and `foregroundDeletion`.
fn validate_finalizers(finalizers: &[String], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, quote(f), msg));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has("orphan") && has("foregroundDeletion") {
        let listed: Vec<String> = finalizers.iter().map(|f| quote(f)).collect();
        errs.push(FieldError::invalid(
            path,
            format!("[]string{{{}}}", listed.join(", ")),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Whether the field manager keeps a managed-fields entry a client wrote
/// (`DecodeManagedFields`: operation `Apply` or `Update`, an `apiVersion`, `fieldsType`
/// `FieldsV1`, and a field set). When one entry fails, the field manager drops them all
/// and writes its own. Reading a field set is approximated as "`fieldsV1` is an
/// object"; an absent one, which Go reads as the empty set, is taken as dropped (the
/// manager of an empty set does not stay).
fn field_manager_reads(e: &ManagedFieldsEntry) -> bool {
    matches!(e.operation.as_deref(), Some("Apply" | "Update"))
        && !e.api_version.as_deref().unwrap_or("").is_empty()
        && e.fields_type.as_deref() == Some("FieldsV1")
        && matches!(e.fields_v1, Some(serde_json::Value::Object(_)))
}

/// Longest `managedFields[].manager`, in bytes (`FieldManagerMaxLength`).
const FIELD_MANAGER_MAX_LENGTH: usize = 128;
/// Longest `managedFields[].subresource`, in bytes (`MaxSubresourceNameLength`).
const MAX_SUBRESOURCE_NAME_LENGTH: usize = 256;

/// apimachinery `ValidateManagedFields` (with `ValidateFieldManager`).
fn validate_managed_fields(entries: &[ManagedFieldsEntry], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let operation = e.operation.as_deref().unwrap_or("");
        if !matches!(operation, "Apply" | "Update") {
            errs.push(FieldError::invalid(
                format!("{p}.operation"),
                quote(operation),
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = e.fields_type.as_deref().unwrap_or("");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errs.push(FieldError::invalid(
                format!("{p}.fieldsType"),
                quote(fields_type),
                "must be `FieldsV1`",
            ));
        }
        let manager = e.manager.as_deref().unwrap_or("");
        if manager.len() > FIELD_MANAGER_MAX_LENGTH {
            errs.push(too_long(format!("{p}.manager"), FIELD_MANAGER_MAX_LENGTH));
        }
        for (j, c) in manager.chars().enumerate() {
            if !is_go_print(c) {
                errs.push(FieldError::invalid(
                    format!("{p}.manager"),
                    quote(manager),
                    format!("invalid character U+{:04X} (at position {j})", u32::from(c)),
                ));
            }
        }
        let subresource = e.subresource.as_deref().unwrap_or("");
        if subresource.len() > MAX_SUBRESOURCE_NAME_LENGTH {
            errs.push(too_long(
                format!("{p}.subresource"),
                MAX_SUBRESOURCE_NAME_LENGTH,
            ));
        }
    }
    errs
}

/// `field.TooLong` with the limit in bytes.
fn too_long(field: String, limit: usize) -> FieldError {
    FieldError {
        kind: ErrorKind::TooLong,
        field,
        value: None,
        detail: format!("may not be more than {limit} bytes"),
    }
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
#[must_use]
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
        errs.push(too_long(path.to_owned(), TOTAL_ANNOTATION_SIZE_LIMIT));
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
