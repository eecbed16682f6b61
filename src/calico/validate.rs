//! Validation of Calico's objects as Calico accepts or refuses them.
//!
//! Each function checks one object, reports every problem as a [`FieldError`] with the
//! JSON path of the refused part (`spec.ingress[0].destination.ports`) and Calico's own
//! message text, and returns `Ok(())` exactly when Calico would take the object:
//!
//! - [`validate_network_policy`], [`validate_global_network_policy`],
//!   [`validate_network_set`], [`validate_global_network_set`], [`validate_tier`].
//!
//! # What runs, per API group
//!
//! A `projectcalico.org/v3` object goes through Calico's API server: its registry checks
//! the object metadata as every Kubernetes API server does, Calico's client fills in
//! defaults (`types`, a Tier's `order` and `defaultAction`) and runs Calico's validator
//! (`libcalico-go/lib/validator/v3/validator.go`: field tags and struct-level
//! validators), and the object is then stored as a custom resource whose OpenAPI schema
//! and CEL rules (`api/config/crd/`) the Kubernetes API server applies to the object as
//! Calico's Go code re-encodes it (so `protocol: "6"` is the number 6 there, and an empty
//! `types` has been defaulted). A `crd.projectcalico.org/v1` object written directly gets
//! the metadata checks and the same schema and CEL rules on the object as written; Felix
//! then drops an object that Calico's validator refuses ("Validation failed; treating as
//! missing"), so the validator's rules are applied to it too, and either way a refused
//! object takes no part in any decision.
//!
//! The errors come in this order: metadata, Calico's validator, the CRD's schema, its
//! list-set rules (`Duplicate value`), its CEL rules. As on the Kubernetes API server, the
//! CEL rules are not evaluated when the schema found a blocking error (`Required value`,
//! `Unsupported value`, `Too long`, `Too many`); a single `<nil>: Invalid value: null:
//! some validation rules were not checked …` then stands for them.
//!
//! # Paths
//!
//! Calico's messages name Go fields (`Destination.Ports`); here every error carries the
//! JSON path of the refused part: a bad list entry is the entry
//! (`spec.ingress[0].source.nets[1]`), a rule about a whole list is the list
//! (`spec.egress[0].destination.ports`: numeric ports without a protocol; mixed address
//! families), and a CEL rule tying fields together names the field its message is about
//! (`spec.ingress[0].icmp` for "ICMP fields require protocol to be ICMP or ICMPv6",
//! `spec.applyOnForward`, `spec.preDNAT`, `spec.egress`, `spec.types`; a Tier's
//! `spec.order` and `spec.defaultAction`).
//!
//! # The rules
//!
//! | rule | path | message |
//! | --- | --- | --- |
//! | object metadata as the Kubernetes API server checks it ([`validate_object_meta`]; a cluster-scoped object's namespace is ignored) | `metadata.*` | Kubernetes' messages |
//! | NetworkPolicy name: a DNS label, or two joined by one dot, or `knp.default.`/`ossg.default.` and a DNS subdomain; at most 253 bytes | `metadata.name` | `name must consist of lower case alphanumeric characters or '-' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?)` / `name is too long by N bytes` |
//! | GlobalNetworkPolicy name: a DNS label, or two joined by one dot | `metadata.name` | the same |
//! | NetworkSet, GlobalNetworkSet name: a DNS subdomain | `metadata.name` | `name must consist of lower case alphanumeric characters, '-' or '.' (regex: …)` |
//! | Tier name: a DNS label, at most 63 bytes | `metadata.name` | `name must consist of lower case alphanumeric characters or '-' (regex: …)` / `name is too long by N bytes` |
//! | NetworkSet, GlobalNetworkSet: no label `projectcalico.org/namespace` | `metadata.labels` | `projectcalico.org/namespace is not a valid label name` |
//! | `tier`: a DNS subdomain | `spec.tier` | `failed to validate Field: Tier because of Tag: name` |
//! | `selector`, `serviceAccountSelector`, `namespaceSelector` and every rule selector parse | the field | `failed to validate Field: Selector because of Tag: selector` (the field's Go name) |
//! | selectors that Calico prefixes (`serviceAccountSelector`, a GlobalNetworkPolicy's and a rule's `namespaceSelector`, `serviceAccounts.selector`): no label key longer than 507 bytes (not Calico's validator: Felix cannot parse the selector it builds from such a key) | the field | `a label key is too long once Calico prefixes it (Felix cannot parse the selector it builds)` |
//! | selectors: at most 1024 characters (CRD; not a service account match's selector) | the field | `Too long: may not be more than 1024 bytes` |
//! | no `global(` in a policy's selectors or a rule's `selector` (CEL; a text test, so also inside a quoted value) | the field | `global() can only be used in an EntityRule namespaceSelector` |
//! | a rule's `namespaceSelector` mentioning `global(` must be only `global()` (blanks allowed) | `…namespaceSelector` | `global() cannot be combined with other selectors` |
//! | `types`: `Ingress` or `Egress` (CRD enum), 1 or 2 entries (CRD; an empty list only for v1, since v3 is defaulted first), each once (validator and CRD set) | `spec.types[i]` / `spec.types` | `Unsupported value` / `… should have at least 1 items` / `'Ingress' type specified more than once` and `Duplicate value` |
//! | `performanceHints`: `AssumeNeededOnEveryNode`, each once | `spec.performanceHints[i]` | `Unsupported value` / `Duplicate value` |
//! | at most 1024 rules per direction | `spec.ingress` / `spec.egress` | `Too many` |
//! | `action` required, one of `Allow`, `Deny`, `Log`, `Pass` | `spec.<dir>[i].action` | `Required value` / `Unsupported value` |
//! | `ipVersion` 4 or 6 | `…ipVersion` | `Unsupported value` |
//! | `protocol`/`notProtocol`: 1 to 255, or exactly `TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite` (`"6"` is 6); a JSON number above 255 does not decode | `…protocol` | `protocol number invalid` / `protocol name invalid` / `json: cannot unmarshal number 256 into Go value of type uint8` |
//! | no protocol: every port of the four port lists must be a name | the list | `rules with numeric port or port range must set protocol to TCP or UDP or SCTP` |
//! | a protocol other than TCP, UDP, SCTP (6, 17, 132): no ports at all | the list | `rules that specify ports must set protocol to TCP or UDP or SCTP` |
//! | a port entry: a number 1–65535, `"lo:hi"` with `1 <= lo <= hi <= 65535`, or a Kubernetes port name | `…ports[j]` | `invalid port format (…)`, `minimum port number (…) is greater than maximum port number (…) in port range`, `invalid name for named port (…)`, `port range invalid, port number must be between 1 and 65535`, `failed to validate Field: PortName because of Tag: portName` |
//! | at most 50 ports per list (CRD) | the list | `Too many` |
//! | `nets`/`notNets` entries: a CIDR with no host bits (`net` tag; a bare address passes the tag) that `net.ParseCIDR` reads (a bare address fails here) | `…nets[j]` | `failed to validate Field: Nets because of Tag: net` / `invalid CIDR` |
//! | `notNets` without `0.0.0.0/0` (written exactly so) or an IPv6 `/0` | `…notNets[j]` | `catch-all CIDR in negation creates logical contradiction (matches no traffic)` |
//! | the four net lists of a rule hold one address family, that of `ipVersion` when set | the list where it goes wrong | `rule contains both IPv4 and IPv6 CIDRs` / `rule IP version doesn't match CIDR version` |
//! | at most 256 entries per net list, each once (CRD set) | the list / the entry | `Too many` / `Duplicate value` |
//! | `icmp`/`notICMP`: `type` 0–254, `code` 0–255, `code` only with `type` | `…icmp.type` / `…icmp.code` | `… in body should be …` / `ICMP code specified without an ICMP type` |
//! | `icmp` only with `protocol` ICMP, ICMPv6, 1 or 58 (CEL; `notICMP` is not checked) | `…icmp` | `ICMP fields require protocol to be ICMP or ICMPv6` |
//! | `protocol` or `notProtocol` ICMP (1): `ipVersion` absent or 4; ICMPv6 (58): absent or 6 (CEL) | `…ipVersion` | `protocol ICMP requires ipVersion 4` / `protocol ICMPv6 requires ipVersion 6` |
//! | `http` only on `Allow` rules, with `protocol` TCP (6) or none (CEL) | `…http` | `HTTP match is only valid on Allow rules` / `rules with HTTP match must have protocol TCP or unset` |
//! | no `http` in egress rules | `spec.egress[i].http` | `not allowed in egress rule` (NetworkPolicy) / `not allowed in egress rules` (GlobalNetworkPolicy) |
//! | `http.methods` each once; each `http.paths` entry has exactly one of `exact`/`prefix`, starting with `/`, without `?`, `#` or a space; at most 20 of each, paths at most 1024 characters | `…http.methods` / `…http.paths` | Calico's messages (`Invalid methods (duplicates): [GET GET]`, `Invalid path match. …`) |
//! | `services`: only in an ingress rule's `source` and an egress rule's `destination`; with a name; not with `selector`, `notSelector`, `namespaceSelector`, `nets`, `notNets`, `serviceAccounts` (CEL), nor with destination `ports`/`notPorts`; in a GlobalNetworkPolicy with a namespace | `…services`, `…services.name`, `…services.namespace`, the other field | `not allowed in egress rule source`, `not allowed in ingress rule destination`, `services must specify a service name`, `cannot specify … and Services on the same rule`, `ports and notPorts cannot be specified with services`, `must specify a namespace` |
//! | `services.name`/`namespace`: DNS subdomains of at most 253 characters | the field | `failed to validate Field: Name because of Tag: name` |
//! | rule `metadata.annotations`: keys qualified names (lower-cased first), at most 256 KiB in all | `…metadata.annotations` | Kubernetes' qualified-name messages / `total size of annotations is too large by N bytes` |
//! | GlobalNetworkPolicy: `doNotTrack` or `preDNAT` need `applyOnForward`; not both; `preDNAT` without egress rules and without the `Egress` type (CEL) | `spec.applyOnForward` / `spec.preDNAT` / `spec.egress` / `spec.types` | `applyOnForward must be true if either preDNAT or doNotTrack is true`, `preDNAT and doNotTrack cannot both be true`, `preDNAT policy cannot have any egress rules`, `preDNAT policy cannot have 'Egress' type` |
//! | NetworkSet/GlobalNetworkSet `nets`: CIDRs or addresses, host bits allowed (`cidr` tag), each once (CRD set) | `spec.nets[j]` | `failed to validate Field: Nets because of Tag: cidr` / `Duplicate value` |
//! | Tier `defaultAction`: `Pass` or `Deny` (absent: `Deny`) | `spec.defaultAction` | `Unsupported value` |
//! | Tier `default`: order 1,000,000 and `Deny`; `kube-admin`: 1,000 and `Pass`; `kube-baseline`: 10,000,000 and `Pass` (CEL; a v3 Tier's absent order is 1,000,000 by then, a v1 Tier's absent order fails) | `spec.order` / `spec.defaultAction` | `default tier order must be 1000000`, `The 'default' tier must have default action 'Deny'`, … |
//!
//! A `crd.projectcalico.org/v1` object written by Calico's API server keeps its own labels,
//! annotations and (for a policy) name in the annotation [`CALICO_METADATA_ANNOTATION`];
//! one that does not decode is refused at `metadata.annotations`, since Calico cannot
//! read the object.
//!
//! `order` is not constrained (negative and fractional orders are accepted); only a NaN
//! or infinite order, which JSON cannot hold but code can set, is refused.
//!
//! # Not checked here
//!
//! - That a policy's tier exists: Calico's client looks the Tier up before creating a v3
//!   policy ("resource does not exist: Tier(…)"); that needs the other objects, and v1
//!   objects are not checked for it at all.
//! - What Felix's own (older) validator of v1 objects skips: it does not check policy
//!   names against the patterns above, and it silently drops `nets` entries it cannot
//!   parse. Here a v1 object gets Calico's v3 validator, which is stricter.
//!
//! ```
//! use netpol::calico::{NetworkPolicy, validate_network_policy};
//!
//! let p = NetworkPolicy::from_json(r#"{
//!   "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
//!   "metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"selector": "app == 'db'",
//!            "ingress": [{"action": "Allow", "destination": {"ports": [5432]}}]}
//! }"#)?;
//! let errs = validate_network_policy(&p).unwrap_err();
//! assert_eq!(errs.errors()[0].to_string(),
//!     "spec.ingress[0].destination.ports: Invalid value: [5432]: \
//!      rules with numeric port or port range must set protocol to TCP or UDP or SCTP");
//! # Ok::<(), netpol::model::DecodeError>(())
//! ```

use std::collections::HashSet;

use super::model::{
    ApiGroup, EntityRule, GlobalNetworkPolicy, GlobalNetworkPolicySpec, HttpMatch, IcmpFields,
    NetworkPolicy, NetworkPolicySpec, NetworkSet, Port, PortValue, Protocol, Rule, Tier,
};
use super::net;
use super::selector;
use super::{GlobalNetworkSet, NetworkSetSpec};
use crate::model::{Labels, ObjectMeta};
use crate::validate::{
    ErrorKind, FieldError, ValidationErrors, is_qualified_name, is_valid_port_name, quote,
    validate_object_meta,
};

/// The longest selector the CRD accepts, in characters.
///
/// ```
/// assert_eq!(netpol::calico::SELECTOR_MAX_LENGTH, 1024);
/// ```
pub const SELECTOR_MAX_LENGTH: usize = 1024;

const NAME_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const NAME_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const CEL_SKIPPED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";
const GLOBAL_ONLY_IN_NS: &str = "global() can only be used in an EntityRule namespaceSelector";
const PORTS_NEED_PROTOCOL: &str =
    "rules with numeric port or port range must set protocol to TCP or UDP or SCTP";
const PROTOCOL_WITHOUT_PORTS: &str =
    "rules that specify ports must set protocol to TCP or UDP or SCTP";
const ACTIONS: [&str; 4] = ["Allow", "Deny", "Log", "Pass"];
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// An order that JSON cannot hold (NaN, an infinity), set in code: refused, so that
/// normalised orders are always comparable.
fn finite_order(order: Option<f64>, found: &mut Found) {
    if let Some(o) = order.filter(|o| !o.is_finite()) {
        found.schema.push(FieldError::invalid(
            "spec.order",
            o.to_string(),
            "spec.order in body must be of type number",
        ));
    }
}

/// Which kind of policy a rule belongs to (messages and checks differ a little).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Namespaced,
    Global,
}

/// Errors found so far, by the stage that finds them.
#[derive(Default)]
struct Found {
    meta: Vec<FieldError>,
    go: Vec<FieldError>,
    schema: Vec<FieldError>,
    sets: Vec<FieldError>,
    cel: Vec<FieldError>,
}

impl Found {
    fn finish(self) -> Result<(), ValidationErrors> {
        let blocking = self.schema.iter().any(|e| {
            matches!(
                e.kind,
                ErrorKind::Required
                    | ErrorKind::Unsupported
                    | ErrorKind::TooLong
                    | ErrorKind::TooMany
            )
        });
        let mut all = self.meta;
        all.extend(self.go);
        all.extend(self.schema);
        all.extend(self.sets);
        if blocking {
            // Calico's schemas always hold CEL rules, so some went unchecked.
            all.push(FieldError::invalid("<nil>", "null".into(), CEL_SKIPPED));
        } else {
            all.extend(self.cel);
        }
        // The same rule can be reached twice (Calico checks some metadata twice).
        let mut seen = HashSet::new();
        all.retain(|e| seen.insert(e.clone()));
        if all.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(all))
        }
    }
}

/// An error of Calico's validator: `Invalid value` with the value and Calico's reason.
fn go_err(field: impl Into<String>, value: String, reason: impl Into<String>) -> FieldError {
    FieldError::invalid(field, value, reason)
}

fn tag_err(field: &str, value: &str, go_field: &str, tag: &str) -> FieldError {
    go_err(
        field,
        quote(value),
        format!("failed to validate Field: {go_field} because of Tag: {tag}"),
    )
}

fn cel_err(kind: ErrorKind, field: impl Into<String>, message: &str) -> FieldError {
    FieldError {
        kind,
        field: field.into(),
        value: None,
        detail: message.to_owned(),
    }
}

fn too_many(field: String, actual: usize, max: usize) -> FieldError {
    FieldError {
        kind: ErrorKind::TooMany,
        field,
        value: Some(actual.to_string()),
        detail: format!("must have at most {max} items"),
    }
}

fn too_long(field: &str, value: &str, max: usize) -> Option<FieldError> {
    (value.chars().count() > max).then(|| FieldError {
        kind: ErrorKind::TooLong,
        field: field.to_owned(),
        value: None,
        detail: format!("may not be more than {max} bytes"),
    })
}

fn duplicates<'a>(list: impl IntoIterator<Item = &'a str>, path: &str, out: &mut Vec<FieldError>) {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut reported: HashSet<&str> = HashSet::new();
    for (i, v) in list.into_iter().enumerate() {
        if !seen.insert(v) && reported.insert(v) {
            out.push(FieldError {
                kind: ErrorKind::Duplicate,
                field: format!("{path}[{i}]"),
                value: Some(quote(v)),
                detail: String::new(),
            });
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            (f.is_ascii_lowercase() || f.is_ascii_digit())
                && (l.is_ascii_lowercase() || l.is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        }
        _ => false,
    }
}

/// Calico's `nameRegex` (a DNS subdomain of any length).
fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

/// `^((L)(\.L)?|((knp|ossg)\.default\.(subdomain)))$`.
fn is_network_policy_name(s: &str) -> bool {
    if let Some(rest) = s
        .strip_prefix("knp.default.")
        .or_else(|| s.strip_prefix("ossg.default."))
    {
        if is_subdomain(rest) {
            return true;
        }
    }
    is_global_network_policy_name(s)
}

/// `^(L\.)?L$`.
fn is_global_network_policy_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (1..=2).contains(&parts.len()) && parts.iter().all(|p| is_dns_label(p))
}

/// The name the API server validates: the written one, or one generated from
/// `generateName` (a stand-in suffix).
fn effective_name(meta: &ObjectMeta) -> String {
    let written = meta.name.as_deref().unwrap_or("");
    let generate = meta.generate_name.as_deref().unwrap_or("");
    if written.is_empty() && !generate.is_empty() {
        let mut end = generate.len().min(58);
        while !generate.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}xxxxx", generate.get(..end).unwrap_or(""))
    } else {
        written.to_owned()
    }
}

/// The annotation in which Calico's API server keeps an object's own metadata (labels,
/// annotations, a policy's name) when it stores the object as a `crd.projectcalico.org/v1`
/// resource; Calico merges it back when it reads the resource.
///
/// ```
/// assert_eq!(netpol::calico::CALICO_METADATA_ANNOTATION, "projectcalico.org/metadata");
/// ```
pub const CALICO_METADATA_ANNOTATION: &str = "projectcalico.org/metadata";

/// For a `crd.projectcalico.org/v1` object: the metadata Calico's API server stored in
/// [`CALICO_METADATA_ANNOTATION`], when there is one (`Err`: it does not decode, and
/// Calico then cannot read the object).
pub(crate) fn crd_stored_metadata(
    meta: &ObjectMeta,
    group: ApiGroup,
) -> Result<Option<ObjectMeta>, String> {
    if group != ApiGroup::CrdV1 {
        return Ok(None);
    }
    let Some(text) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(CALICO_METADATA_ANNOTATION))
    else {
        return Ok(None);
    };
    crate::model::go_json::from_str::<ObjectMeta>(text)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn metadata_errors(meta: &ObjectMeta, namespaced: bool, group: ApiGroup) -> Vec<FieldError> {
    let mut errs = if namespaced {
        validate_object_meta(meta, "metadata")
    } else {
        let mut m = meta.clone();
        m.namespace = None;
        validate_object_meta(&m, "metadata")
    };
    if let Err(e) = crd_stored_metadata(meta, group) {
        errs.push(FieldError::invalid(
            "metadata.annotations",
            quote(CALICO_METADATA_ANNOTATION),
            format!("Calico cannot read the metadata it stored here: {e}"),
        ));
    }
    errs
}

fn name_too_long(name: &str, max: usize, out: &mut Vec<FieldError>) {
    if name.len() > max {
        out.push(go_err(
            "metadata.name",
            quote(name),
            format!("name is too long by {} bytes", name.len() - max),
        ));
    }
}

/// Calico's `validateObjectMeta` name rules.
fn object_meta_name(name: &str, out: &mut Vec<FieldError>) {
    name_too_long(name, 253, out);
    if !is_subdomain(name) {
        out.push(go_err(
            "metadata.name",
            quote(name),
            format!("name must consist of lower case alphanumeric characters, '-' or '.' (regex: {NAME_SUBDOMAIN})"),
        ));
    }
}

fn label_name_error(name: &str) -> FieldError {
    go_err(
        "metadata.name",
        quote(name),
        format!(
            "name must consist of lower case alphanumeric characters or '-' (regex: {NAME_LABEL})"
        ),
    )
}

fn selector_field(
    path: &str,
    value: Option<&str>,
    go_field: &str,
    max_len: bool,
    found: &mut Found,
) {
    let Some(v) = value else { return };
    if selector::parse(v).is_err() {
        found.go.push(tag_err(path, v, go_field, "selector"));
    }
    if max_len {
        if let Some(e) = too_long(path, v, SELECTOR_MAX_LENGTH) {
            found.schema.push(e);
        }
    }
}

/// The longest label key a selector mentions.
fn longest_key(sel: &selector::Selector) -> usize {
    use selector::TermKind;
    let mut longest = 0;
    let mut stack = vec![sel.root()];
    while let Some(term) = stack.pop() {
        match term.kind() {
            TermKind::All | TermKind::Global => {}
            TermKind::Has { key }
            | TermKind::Equals { key, .. }
            | TermKind::NotEquals { key, .. }
            | TermKind::Contains { key, .. }
            | TermKind::StartsWith { key, .. }
            | TermKind::EndsWith { key, .. }
            | TermKind::In { key, .. }
            | TermKind::NotIn { key, .. } => longest = longest.max(key.len()),
            TermKind::Not(inner) => stack.push(inner),
            TermKind::And(ops) | TermKind::Or(ops) => stack.extend(ops),
        }
    }
    longest
}

/// A selector Calico rewrites with a label prefix (`pcns.`, `pcsa.`): Felix cannot parse
/// the result when a key grows past 512 bytes (and would stop on it), so such a selector
/// is refused here although Calico's validator lets it through.
fn prefixed_keys_fit(path: &str, value: Option<&str>, found: &mut Found) {
    let Some(sel) = value.and_then(|v| selector::parse(v).ok()) else {
        return;
    };
    if longest_key(&sel) + "pcns.".len() > selector::MAX_KEY_LEN {
        found.go.push(go_err(
            path,
            quote(value.unwrap_or("")),
            "a label key is too long once Calico prefixes it (Felix cannot parse the selector it builds)",
        ));
    }
}

fn no_global(path: &str, value: Option<&str>, found: &mut Found) {
    if value.is_some_and(|v| v.contains("global(")) {
        found.cel.push(FieldError::invalid(
            path,
            quote(value.unwrap_or("")),
            GLOBAL_ONLY_IN_NS,
        ));
    }
}

/// The fields shared by NetworkPolicy and GlobalNetworkPolicy specs.
struct SpecView<'a> {
    tier: Option<&'a str>,
    ingress: Option<&'a [Rule]>,
    egress: Option<&'a [Rule]>,
    selector: Option<&'a str>,
    types: Option<&'a [String]>,
    service_account_selector: Option<&'a str>,
    performance_hints: Option<&'a [String]>,
    namespace_selector: Option<&'a str>,
}

impl<'a> SpecView<'a> {
    fn of_namespaced(s: &'a NetworkPolicySpec) -> Self {
        SpecView {
            tier: s.tier.as_deref(),
            ingress: s.ingress.as_deref(),
            egress: s.egress.as_deref(),
            selector: s.selector.as_deref(),
            types: s.types.as_deref(),
            service_account_selector: s.service_account_selector.as_deref(),
            performance_hints: s.performance_hints.as_deref(),
            namespace_selector: None,
        }
    }

    fn of_global(s: &'a GlobalNetworkPolicySpec) -> Self {
        SpecView {
            tier: s.tier.as_deref(),
            ingress: s.ingress.as_deref(),
            egress: s.egress.as_deref(),
            selector: s.selector.as_deref(),
            types: s.types.as_deref(),
            service_account_selector: s.service_account_selector.as_deref(),
            performance_hints: s.performance_hints.as_deref(),
            namespace_selector: s.namespace_selector.as_deref(),
        }
    }
}

/// `types` as Calico's API server defaults them (`api/pkg/defaults`): only when the list
/// is absent or empty, from the lengths of the rule lists.
pub(crate) fn defaulted_types(
    types: Option<&[String]>,
    ingress: Option<&[Rule]>,
    egress: Option<&[Rule]>,
) -> Vec<String> {
    match types {
        Some(t) if !t.is_empty() => t.to_vec(),
        _ => {
            let has_egress = egress.is_some_and(|e| !e.is_empty());
            let has_ingress = ingress.is_some_and(|i| !i.is_empty());
            match (has_ingress, has_egress) {
                (_, false) => vec!["Ingress".to_owned()],
                (false, true) => vec!["Egress".to_owned()],
                (true, true) => vec!["Ingress".to_owned(), "Egress".to_owned()],
            }
        }
    }
}

fn spec_errors(spec: &SpecView<'_>, scope: Scope, group: ApiGroup, found: &mut Found) {
    // Calico's validator, field by field.
    if let Some(tier) = spec.tier.filter(|t| !t.is_empty()) {
        if !is_subdomain(tier) {
            found.go.push(tag_err("spec.tier", tier, "Tier", "name"));
        }
    }
    for (dir, rules) in [("ingress", spec.ingress), ("egress", spec.egress)] {
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            rule_errors(rule, &format!("spec.{dir}[{i}]"), dir, scope, group, found);
        }
        if let Some(rules) = rules {
            if rules.len() > 1024 {
                found
                    .schema
                    .push(too_many(format!("spec.{dir}"), rules.len(), 1024));
            }
        }
    }
    selector_field("spec.selector", spec.selector, "Selector", true, found);
    selector_field(
        "spec.serviceAccountSelector",
        spec.service_account_selector,
        "ServiceAccountSelector",
        true,
        found,
    );
    prefixed_keys_fit(
        "spec.serviceAccountSelector",
        spec.service_account_selector,
        found,
    );
    if scope == Scope::Global {
        selector_field(
            "spec.namespaceSelector",
            spec.namespace_selector,
            "NamespaceSelector",
            true,
            found,
        );
        prefixed_keys_fit("spec.namespaceSelector", spec.namespace_selector, found);
    }

    // `types`: as the API server defaults them for v3, as written for v1.
    let effective_types: Option<Vec<String>> = match group {
        ApiGroup::V3 => Some(defaulted_types(spec.types, spec.ingress, spec.egress)),
        ApiGroup::CrdV1 => spec.types.map(<[String]>::to_vec),
    };
    if let Some(types) = &effective_types {
        let mut seen = HashSet::new();
        for t in types {
            if !seen.insert(t.as_str()) {
                found.go.push(go_err(
                    "spec.types",
                    format!("{types:?}"),
                    format!("'{t}' type specified more than once"),
                ));
            }
        }
        for (i, t) in types.iter().enumerate() {
            if !matches!(t.as_str(), "Ingress" | "Egress") {
                found.schema.push(FieldError::unsupported(
                    format!("spec.types[{i}]"),
                    t,
                    &["Ingress", "Egress"],
                ));
            }
        }
        if types.is_empty() {
            found.schema.push(FieldError::invalid(
                "spec.types",
                "0".into(),
                "spec.types in body should have at least 1 items",
            ));
        }
        if types.len() > 2 {
            found
                .schema
                .push(too_many("spec.types".into(), types.len(), 2));
        }
        duplicates(
            types.iter().map(String::as_str),
            "spec.types",
            &mut found.sets,
        );
    }
    if let Some(hints) = spec.performance_hints {
        for (i, h) in hints.iter().enumerate() {
            if h != "AssumeNeededOnEveryNode" {
                found.schema.push(FieldError::unsupported(
                    format!("spec.performanceHints[{i}]"),
                    h,
                    &["AssumeNeededOnEveryNode"],
                ));
            }
        }
        duplicates(
            hints.iter().map(String::as_str),
            "spec.performanceHints",
            &mut found.sets,
        );
    }

    // Calico's struct-level spec checks.
    for (i, rule) in spec.egress.into_iter().flatten().enumerate() {
        let p = format!("spec.egress[{i}]");
        if rule.source.as_ref().is_some_and(|s| s.services.is_some()) {
            found.go.push(go_err(
                format!("{p}.source.services"),
                "{…}".into(),
                "not allowed in egress rule source",
            ));
        }
        if rule.http.is_some() {
            let msg = match scope {
                Scope::Namespaced => "not allowed in egress rule",
                Scope::Global => "not allowed in egress rules",
            };
            found
                .go
                .push(go_err(format!("{p}.http"), "{…}".into(), msg));
        }
    }
    for (i, rule) in spec.ingress.into_iter().flatten().enumerate() {
        if rule
            .destination
            .as_ref()
            .is_some_and(|d| d.services.is_some())
        {
            found.go.push(go_err(
                format!("spec.ingress[{i}].destination.services"),
                "{…}".into(),
                "not allowed in ingress rule destination",
            ));
        }
    }
    if scope == Scope::Global {
        let needs_ns = spec
            .egress
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, r)| {
                r.destination
                    .as_ref()
                    .and_then(|d| d.services.as_ref())
                    .map(|s| (format!("spec.egress[{i}].destination.services"), s))
            })
            .chain(
                spec.ingress
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        r.source
                            .as_ref()
                            .and_then(|d| d.services.as_ref())
                            .map(|s| (format!("spec.ingress[{i}].source.services"), s))
                    }),
            );
        for (p, svc) in needs_ns {
            if svc.namespace.as_deref().unwrap_or("").is_empty() {
                found.go.push(go_err(
                    format!("{p}.namespace"),
                    quote(""),
                    "must specify a namespace",
                ));
            }
        }
    }

    // CEL rules on the spec.
    no_global("spec.selector", spec.selector, found);
    no_global(
        "spec.serviceAccountSelector",
        spec.service_account_selector,
        found,
    );
    if scope == Scope::Global {
        no_global("spec.namespaceSelector", spec.namespace_selector, found);
    }
}

/// How the CRD's CEL rules see a protocol: as written for v1, as Calico re-encodes it
/// for v3 (a string of digits becomes a number).
#[derive(PartialEq)]
enum CelProto<'a> {
    Int(i64),
    Str(&'a str),
}

fn cel_protocol(p: &Protocol, group: ApiGroup) -> CelProto<'_> {
    match (p, group) {
        (Protocol::Number(n), _) => CelProto::Int(*n),
        (Protocol::Name(s), ApiGroup::V3) => match p.numeric() {
            Some(n) => CelProto::Int(n),
            None => CelProto::Str(s),
        },
        (Protocol::Name(s), ApiGroup::CrdV1) => CelProto::Str(s),
    }
}

fn cel_is(p: &CelProto<'_>, name: &str, number: i64) -> bool {
    *p == CelProto::Str(name) || *p == CelProto::Int(number)
}

fn protocol_errors(path: &str, p: &Protocol, found: &mut Found) {
    match p {
        Protocol::Number(n) if !(0..=255).contains(n) => found.go.push(go_err(
            path,
            n.to_string(),
            format!("json: cannot unmarshal number {n} into Go value of type uint8"),
        )),
        _ => match p.numeric() {
            Some(0) => found
                .go
                .push(go_err(path, "0".into(), "protocol number invalid")),
            Some(_) => {}
            None => {
                let name = p.to_string();
                if !super::model::PROTOCOL_NAMES.iter().any(|(n, _)| *n == name) {
                    found
                        .go
                        .push(go_err(path, quote(&name), "protocol name invalid"));
                }
            }
        },
    }
}

fn icmp_errors(path: &str, f: &IcmpFields, found: &mut Found) {
    if let Some(t) = f.icmp_type {
        let p = format!("{path}.type");
        if t < 0 {
            found.schema.push(FieldError::invalid(
                &p,
                t.to_string(),
                format!("{p} in body should be greater than or equal to 0"),
            ));
        }
        if t > 254 {
            found.schema.push(FieldError::invalid(
                &p,
                t.to_string(),
                format!("{p} in body should be less than or equal to 254"),
            ));
        }
    }
    if let Some(c) = f.code {
        let p = format!("{path}.code");
        if c < 0 {
            found.schema.push(FieldError::invalid(
                &p,
                c.to_string(),
                format!("{p} in body should be greater than or equal to 0"),
            ));
        }
        if c > 255 {
            found.schema.push(FieldError::invalid(
                &p,
                c.to_string(),
                format!("{p} in body should be less than or equal to 255"),
            ));
        }
        if f.icmp_type.is_none() {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                p,
                "ICMP code specified without an ICMP type",
            ));
        }
    }
}

fn port_list_json(ports: &[Port]) -> String {
    let items: Vec<String> = ports
        .iter()
        .map(|p| match p {
            Port::Number(n) => n.to_string(),
            Port::String(s) => quote(s),
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn ports_errors(path: &str, ports: &[Port], found: &mut Found) {
    for (j, port) in ports.iter().enumerate() {
        let p = format!("{path}[{j}]");
        match port.parse() {
            Err(msg) => found.go.push(go_err(&p, port_value(port), msg)),
            Ok(PortValue::Range(0, _)) => found.go.push(go_err(
                &p,
                port_value(port),
                "port range invalid, port number must be between 1 and 65535",
            )),
            Ok(PortValue::Name(name)) if !is_valid_port_name(&name).is_empty() => {
                found.go.push(tag_err(&p, &name, "PortName", "portName"));
            }
            Ok(_) => {}
        }
    }
    if ports.len() > 50 {
        found
            .schema
            .push(too_many(path.to_owned(), ports.len(), 50));
    }
}

fn port_value(p: &Port) -> String {
    match p {
        Port::Number(n) => n.to_string(),
        Port::String(s) => quote(s),
    }
}

/// Whether Calico's decoder would read every entry as a name (`AllPortsAreNamed`); an
/// entry it cannot read at all is reported on its own and not counted here.
fn all_named(ports: &[Port]) -> bool {
    ports
        .iter()
        .all(|p| !matches!(p.parse(), Ok(PortValue::Range(..))))
}

fn entity_errors(path: &str, e: &EntityRule, found: &mut Found) {
    for (field, go_field, value, max) in [
        ("selector", "Selector", e.selector.as_deref(), true),
        (
            "namespaceSelector",
            "NamespaceSelector",
            e.namespace_selector.as_deref(),
            true,
        ),
        (
            "notSelector",
            "NotSelector",
            e.not_selector.as_deref(),
            true,
        ),
    ] {
        selector_field(&format!("{path}.{field}"), value, go_field, max, found);
    }
    prefixed_keys_fit(
        &format!("{path}.namespaceSelector"),
        e.namespace_selector.as_deref(),
        found,
    );
    if let Some(sa) = &e.service_accounts {
        selector_field(
            &format!("{path}.serviceAccounts.selector"),
            sa.selector.as_deref(),
            "Selector",
            false,
            found,
        );
        prefixed_keys_fit(
            &format!("{path}.serviceAccounts.selector"),
            sa.selector.as_deref(),
            found,
        );
        if let Some(names) = &sa.names {
            duplicates(
                names.iter().map(String::as_str),
                &format!("{path}.serviceAccounts.names"),
                &mut found.sets,
            );
        }
    }
    if let Some(svc) = &e.services {
        for (field, go_field, value) in [
            ("name", "Name", svc.name.as_deref()),
            ("namespace", "Namespace", svc.namespace.as_deref()),
        ] {
            let Some(v) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let p = format!("{path}.services.{field}");
            if !is_subdomain(v) {
                found.go.push(tag_err(&p, v, go_field, "name"));
            }
            if let Some(err) = too_long(&p, v, 253) {
                found.schema.push(err);
            }
        }
    }
    if let Some(ns) = e.namespace_selector.as_deref() {
        if ns.contains("global(") && ns != "global()" && !is_only_global(ns) {
            found.go.push(go_err(
                format!("{path}.namespaceSelector"),
                quote(ns),
                "global() cannot be combined with other selectors",
            ));
        }
    }
    for (field, list) in [("ports", &e.ports), ("notPorts", &e.not_ports)] {
        if let Some(ports) = list {
            ports_errors(&format!("{path}.{field}"), ports, found);
        }
    }
    for (field, list) in [("nets", &e.nets), ("notNets", &e.not_nets)] {
        if let Some(nets) = list {
            let p = format!("{path}.{field}");
            if nets.len() > 256 {
                found.schema.push(too_many(p.clone(), nets.len(), 256));
            }
            duplicates(nets.iter().map(String::as_str), &p, &mut found.sets);
        }
    }

    // CEL rules on the entity rule.
    no_global(&format!("{path}.selector"), e.selector.as_deref(), found);
    if e.services.is_some() {
        let non_empty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if non_empty(&e.namespace_selector) {
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{path}.namespaceSelector"),
                "cannot specify NamespaceSelector and Services on the same rule",
            ));
        }
        if e.service_accounts.is_some() {
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{path}.serviceAccounts"),
                "cannot specify ServiceAccounts and Services on the same rule",
            ));
        }
        let name_empty = e
            .services
            .as_ref()
            .is_none_or(|s| s.name.as_deref().unwrap_or("").is_empty());
        if name_empty {
            found.cel.push(cel_err(
                ErrorKind::Required,
                format!("{path}.services.name"),
                "services must specify a service name",
            ));
        }
        if non_empty(&e.selector) || non_empty(&e.not_selector) {
            let field = if non_empty(&e.selector) {
                "selector"
            } else {
                "notSelector"
            };
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{path}.{field}"),
                "cannot specify Selector/NotSelector and Services on the same rule",
            ));
        }
        let list_non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
        if list_non_empty(&e.nets) || list_non_empty(&e.not_nets) {
            let field = if list_non_empty(&e.nets) {
                "nets"
            } else {
                "notNets"
            };
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{path}.{field}"),
                "cannot specify Nets/NotNets and Services on the same rule",
            ));
        }
    }
}

/// Calico's tokenizer sees exactly `[global, EOF]`: `global(`, blanks, `)`, with blanks
/// around.
fn is_only_global(s: &str) -> bool {
    let blank = |c: char| c == ' ' || c == '\t';
    s.trim_matches(blank)
        .strip_prefix("global(")
        .map(|rest| rest.trim_start_matches(blank) == ")")
        .unwrap_or(false)
}

fn http_errors(path: &str, h: &HttpMatch, found: &mut Found) {
    if let Some(methods) = &h.methods {
        let distinct: HashSet<&str> = methods.iter().map(String::as_str).collect();
        if distinct.len() != methods.len() {
            found.go.push(go_err(
                format!("{path}.methods"),
                format!("{methods:?}"),
                format!("Invalid methods (duplicates): [{}]", methods.join(" ")),
            ));
        }
        if methods.len() > 20 {
            found
                .schema
                .push(too_many(format!("{path}.methods"), methods.len(), 20));
        }
    }
    if let Some(paths) = &h.paths {
        let mut problem = None;
        for hp in paths {
            let exact = hp.exact.as_deref().unwrap_or("");
            let prefix = hp.prefix.as_deref().unwrap_or("");
            if !exact.is_empty() && !prefix.is_empty() {
                problem = Some("Invalid path match. Both 'exact' and 'prefix' are set".to_owned());
                break;
            }
            let v = if exact.is_empty() { prefix } else { exact };
            if v.is_empty() {
                problem =
                    Some("Invalid path match. Either 'exact' or 'prefix' must be set".to_owned());
                break;
            }
            if !v.starts_with('/') || v.contains(['?', ' ', '#']) {
                problem = Some(format!(
                    "Invalid path {v}. (must start with `/` and not contain `?` or `#`"
                ));
                break;
            }
        }
        if let Some(msg) = problem {
            found
                .go
                .push(go_err(format!("{path}.paths"), "[…]".into(), msg));
        }
        for (j, hp) in paths.iter().enumerate() {
            for (field, v) in [("exact", &hp.exact), ("prefix", &hp.prefix)] {
                if let Some(err) = v
                    .as_deref()
                    .and_then(|v| too_long(&format!("{path}.paths[{j}].{field}"), v, 1024))
                {
                    found.schema.push(err);
                }
            }
        }
        if paths.len() > 20 {
            found
                .schema
                .push(too_many(format!("{path}.paths"), paths.len(), 20));
        }
    }
}

fn annotations_errors(path: &str, annotations: &Labels, out: &mut Vec<FieldError>) {
    let mut total: usize = 0;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            out.push(go_err(path, quote(k), msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        out.push(go_err(
            path,
            "{…}".into(),
            format!(
                "total size of annotations is too large by {} bytes",
                total - TOTAL_ANNOTATION_SIZE_LIMIT
            ),
        ));
    }
}

fn rule_errors(
    rule: &Rule,
    p: &str,
    _dir: &str,
    _scope: Scope,
    group: ApiGroup,
    found: &mut Found,
) {
    // Field-level checks, in the order of Calico's `Rule` fields.
    match rule.action.as_deref() {
        None | Some("") => found
            .schema
            .push(FieldError::required(format!("{p}.action"), "")),
        Some(a) if !ACTIONS.contains(&a) => {
            found
                .schema
                .push(FieldError::unsupported(format!("{p}.action"), a, &ACTIONS))
        }
        Some(_) => {}
    }
    if let Some(v) = rule.ip_version {
        if v != 4 && v != 6 {
            found.schema.push(FieldError {
                kind: ErrorKind::Unsupported,
                field: format!("{p}.ipVersion"),
                value: Some(v.to_string()),
                detail: "supported values: 4, 6".into(),
            });
        }
    }
    if let Some(proto) = &rule.protocol {
        protocol_errors(&format!("{p}.protocol"), proto, found);
    }
    if let Some(icmp) = &rule.icmp {
        icmp_errors(&format!("{p}.icmp"), icmp, found);
    }
    if let Some(proto) = &rule.not_protocol {
        protocol_errors(&format!("{p}.notProtocol"), proto, found);
    }
    if let Some(icmp) = &rule.not_icmp {
        icmp_errors(&format!("{p}.notICMP"), icmp, found);
    }
    for (side, entity) in [("source", &rule.source), ("destination", &rule.destination)] {
        if let Some(e) = entity {
            entity_errors(&format!("{p}.{side}"), e, found);
        }
    }
    if let Some(h) = &rule.http {
        http_errors(&format!("{p}.http"), h, found);
    }
    if let Some(annotations) = rule.metadata.as_ref().and_then(|m| m.annotations.as_ref()) {
        annotations_errors(
            &format!("{p}.metadata.annotations"),
            annotations,
            &mut found.go,
        );
    }

    // `validateRule`: ports against the protocol.
    let empty = EntityRule::default();
    let src = rule.source.as_ref().unwrap_or(&empty);
    let dst = rule.destination.as_ref().unwrap_or(&empty);
    let lists = [
        ("source.ports", &src.ports),
        ("source.notPorts", &src.not_ports),
        ("destination.ports", &dst.ports),
        ("destination.notPorts", &dst.not_ports),
    ];
    for (field, list) in lists {
        let Some(ports) = list else { continue };
        let bad = match &rule.protocol {
            None => (!all_named(ports)).then_some(PORTS_NEED_PROTOCOL),
            Some(proto) => {
                (!proto.supports_ports() && !ports.is_empty()).then_some(PROTOCOL_WITHOUT_PORTS)
            }
        };
        if let Some(msg) = bad {
            found
                .go
                .push(go_err(format!("{p}.{field}"), port_list_json(ports), msg));
        }
    }
    // `validateRule`: the nets.
    let mut seen_v4 = false;
    let mut seen_v6 = false;
    for (field, list, negated) in [
        ("source.nets", &src.nets, false),
        ("source.notNets", &src.not_nets, true),
        ("destination.nets", &dst.nets, false),
        ("destination.notNets", &dst.not_nets, true),
    ] {
        let Some(nets) = list else { continue };
        let path = format!("{p}.{field}");
        let mut v4 = false;
        let mut v6 = false;
        for (j, n) in nets.iter().enumerate() {
            let entry = format!("{path}[{j}]");
            // The `net` tag: a CIDR or address with no host bits.
            if !net::parse_cidr_or_ip(n).is_some_and(|c| c.is_masked()) {
                found.go.push(tag_err(&entry, n, go_field_of(field), "net"));
            }
            match net::parse_cidr(n) {
                None => found.go.push(go_err(&entry, quote(n), "invalid CIDR")),
                Some(c) => {
                    v4 |= c.version() == 4;
                    v6 |= c.version() == 6;
                    if negated && ((c.version() == 4 && n == "0.0.0.0/0") || c.is_v6_catch_all()) {
                        found.go.push(go_err(
                            &entry,
                            quote(n),
                            "catch-all CIDR in negation creates logical contradiction (matches no traffic)",
                        ));
                    }
                }
            }
        }
        if let Some(version) = rule.ip_version {
            if (v4 && version != 4) || (v6 && version != 6) {
                found.go.push(go_err(
                    &path,
                    format!("{nets:?}"),
                    "rule IP version doesn't match CIDR version",
                ));
            }
        }
        if (v4 && seen_v6) || (v6 && seen_v4) || (v4 && v6) {
            found.go.push(go_err(
                &path,
                format!("{nets:?}"),
                "rule contains both IPv4 and IPv6 CIDRs",
            ));
        }
        seen_v4 |= v4;
        seen_v6 |= v6;
    }

    // CEL rules on the rule.
    let proto = rule.protocol.as_ref().map(|x| cel_protocol(x, group));
    let not_proto = rule.not_protocol.as_ref().map(|x| cel_protocol(x, group));
    if rule.http.is_some() {
        if let Some(pr) = &proto {
            if !cel_is(pr, "TCP", 6) {
                found.cel.push(cel_err(
                    ErrorKind::Invalid,
                    format!("{p}.http"),
                    "rules with HTTP match must have protocol TCP or unset",
                ));
            }
        }
        if rule.action.as_deref() != Some("Allow") {
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{p}.http"),
                "HTTP match is only valid on Allow rules",
            ));
        }
    }
    if dst.services.is_some() {
        let non_empty = |l: &Option<Vec<Port>>| l.as_ref().is_some_and(|l| !l.is_empty());
        if non_empty(&dst.ports) || non_empty(&dst.not_ports) {
            let field = if non_empty(&dst.ports) {
                "ports"
            } else {
                "notPorts"
            };
            found.cel.push(cel_err(
                ErrorKind::Forbidden,
                format!("{p}.destination.{field}"),
                "ports and notPorts cannot be specified with services",
            ));
        }
    }
    if rule.icmp.is_some() {
        let ok = proto
            .as_ref()
            .is_some_and(|pr| cel_is(pr, "ICMP", 1) || cel_is(pr, "ICMPv6", 58));
        if !ok {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                format!("{p}.icmp"),
                "ICMP fields require protocol to be ICMP or ICMPv6",
            ));
        }
    }
    for pr in [&proto, &not_proto].into_iter().flatten() {
        if cel_is(pr, "ICMP", 1) && rule.ip_version.is_some_and(|v| v != 4) {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                format!("{p}.ipVersion"),
                "protocol ICMP requires ipVersion 4",
            ));
        }
        if cel_is(pr, "ICMPv6", 58) && rule.ip_version.is_some_and(|v| v != 6) {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                format!("{p}.ipVersion"),
                "protocol ICMPv6 requires ipVersion 6",
            ));
        }
    }
}

fn go_field_of(field: &str) -> &'static str {
    if field.ends_with("notNets") {
        "NotNets"
    } else {
        "Nets"
    }
}

/// Validates a Calico `NetworkPolicy` as Calico does for its API group (see the [module
/// docs](self) for the rules).
///
/// ```
/// use netpol::calico::{NetworkPolicy, validate_network_policy};
/// let ok = NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "a"},
///   "spec": {"types": ["Ingress"], "ingress": [{"action": "Deny"}]}}"#)?;
/// assert!(validate_network_policy(&ok).is_ok());
/// let bad = NetworkPolicy::from_json(r#"{"metadata": {"name": "a.b.c", "namespace": "a"},
///   "spec": {"ingress": [{"action": "Drop"}]}}"#)?;
/// let fields: Vec<String> = validate_network_policy(&bad).unwrap_err().errors()
///     .iter().map(|e| e.field.clone()).collect();
/// assert_eq!(fields, ["metadata.name", "spec.ingress[0].action", "<nil>"]);
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn validate_network_policy(policy: &NetworkPolicy) -> Result<(), ValidationErrors> {
    let mut found = Found {
        meta: metadata_errors(&policy.metadata, true, policy.api_group),
        ..Found::default()
    };
    let name = effective_name(&policy.metadata);
    if !name.is_empty() {
        name_too_long(&name, 253, &mut found.go);
        if !is_network_policy_name(&name) {
            found.go.push(label_name_error(&name));
        }
    }
    let empty = NetworkPolicySpec::default();
    let spec = policy.spec.as_ref().unwrap_or(&empty);
    finite_order(spec.order, &mut found);
    spec_errors(
        &SpecView::of_namespaced(spec),
        Scope::Namespaced,
        policy.api_group,
        &mut found,
    );
    found.finish()
}

/// Validates a Calico `GlobalNetworkPolicy` as Calico does for its API group (see the
/// [module docs](self) for the rules).
///
/// ```
/// use netpol::calico::{GlobalNetworkPolicy, validate_global_network_policy};
/// let p = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "host-guard"},
///   "spec": {"preDNAT": true, "selector": "has(host)",
///            "ingress": [{"action": "Deny", "source": {"nets": ["10.0.0.1/8"]}}]}}"#)?;
/// let lines: Vec<String> = validate_global_network_policy(&p).unwrap_err().errors()
///     .iter().map(|e| e.to_string()).collect();
/// assert_eq!(lines, [
///     r#"spec.ingress[0].source.nets[0]: Invalid value: "10.0.0.1/8": failed to validate Field: Nets because of Tag: net"#,
///     "spec.applyOnForward: Invalid value: applyOnForward must be true if either preDNAT or doNotTrack is true",
/// ]);
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn validate_global_network_policy(
    policy: &GlobalNetworkPolicy,
) -> Result<(), ValidationErrors> {
    let mut found = Found {
        meta: metadata_errors(&policy.metadata, false, policy.api_group),
        ..Found::default()
    };
    let name = effective_name(&policy.metadata);
    if !name.is_empty() {
        name_too_long(&name, 253, &mut found.go);
        if !is_global_network_policy_name(&name) {
            found.go.push(label_name_error(&name));
        }
    }
    let empty = GlobalNetworkPolicySpec::default();
    let spec = policy.spec.as_ref().unwrap_or(&empty);
    finite_order(spec.order, &mut found);
    let view = SpecView::of_global(spec);
    spec_errors(&view, Scope::Global, policy.api_group, &mut found);

    // CEL rules of the GlobalNetworkPolicy spec.
    let do_not_track = spec.do_not_track == Some(true);
    let pre_dnat = spec.pre_dnat == Some(true);
    let apply_on_forward = spec.apply_on_forward == Some(true);
    if do_not_track && pre_dnat {
        found.cel.push(cel_err(
            ErrorKind::Forbidden,
            "spec.preDNAT",
            "preDNAT and doNotTrack cannot both be true",
        ));
    }
    if pre_dnat && spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
        found.cel.push(cel_err(
            ErrorKind::Forbidden,
            "spec.egress",
            "preDNAT policy cannot have any egress rules",
        ));
    }
    let types: Option<Vec<String>> = match policy.api_group {
        ApiGroup::V3 => Some(defaulted_types(view.types, view.ingress, view.egress)),
        ApiGroup::CrdV1 => view.types.map(<[String]>::to_vec),
    };
    if pre_dnat && types.is_some_and(|t| t.iter().any(|t| t == "Egress")) {
        found.cel.push(cel_err(
            ErrorKind::Forbidden,
            "spec.types",
            "preDNAT policy cannot have 'Egress' type",
        ));
    }
    if !apply_on_forward && (do_not_track || pre_dnat) {
        found.cel.push(cel_err(
            ErrorKind::Invalid,
            "spec.applyOnForward",
            "applyOnForward must be true if either preDNAT or doNotTrack is true",
        ));
    }
    found.finish()
}

fn set_errors(
    meta: &ObjectMeta,
    spec: Option<&NetworkSetSpec>,
    namespaced: bool,
    group: ApiGroup,
) -> Result<(), ValidationErrors> {
    let mut found = Found {
        meta: metadata_errors(meta, namespaced, group),
        ..Found::default()
    };
    let name = effective_name(meta);
    if !name.is_empty() {
        object_meta_name(&name, &mut found.go);
    }
    if meta
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key("projectcalico.org/namespace"))
    {
        found.go.push(go_err(
            "metadata.labels",
            quote("projectcalico.org/namespace"),
            "projectcalico.org/namespace is not a valid label name",
        ));
    }
    if let Some(nets) = spec.and_then(|s| s.nets.as_ref()) {
        for (j, n) in nets.iter().enumerate() {
            if net::parse_cidr_or_ip(n).is_none() {
                found
                    .go
                    .push(tag_err(&format!("spec.nets[{j}]"), n, "Nets", "cidr"));
            }
        }
        duplicates(
            nets.iter().map(String::as_str),
            "spec.nets",
            &mut found.sets,
        );
    }
    found.finish()
}

/// Validates a Calico `NetworkSet` (see the [module docs](self) for the rules).
///
/// ```
/// use netpol::calico::{NetworkSet, validate_network_set};
/// assert!(validate_network_set(&NetworkSet::new("a", "b", ["10.0.0.1", "10.1.2.3/8"])).is_ok());
/// let errs = validate_network_set(&NetworkSet::new("a", "b", ["10.0.0.0/33"])).unwrap_err();
/// assert_eq!(errs.errors()[0].to_string(),
///     r#"spec.nets[0]: Invalid value: "10.0.0.0/33": failed to validate Field: Nets because of Tag: cidr"#);
/// ```
pub fn validate_network_set(set: &NetworkSet) -> Result<(), ValidationErrors> {
    set_errors(&set.metadata, set.spec.as_ref(), true, set.api_group)
}

/// Validates a Calico `GlobalNetworkSet` (see the [module docs](self) for the rules).
///
/// ```
/// use netpol::calico::{GlobalNetworkSet, validate_global_network_set};
/// let mut s = GlobalNetworkSet::new("threats", ["203.0.113.0/24"]);
/// assert!(validate_global_network_set(&s).is_ok());
/// s.metadata.labels = Some([("projectcalico.org/namespace".to_string(), "x".to_string())].into());
/// assert_eq!(validate_global_network_set(&s).unwrap_err().errors()[0].field, "metadata.labels");
/// ```
pub fn validate_global_network_set(set: &GlobalNetworkSet) -> Result<(), ValidationErrors> {
    set_errors(&set.metadata, set.spec.as_ref(), false, set.api_group)
}

/// The built-in tiers: name, order, default action.
pub(crate) const BUILTIN_TIERS: [(&str, f64, &str); 3] = [
    ("kube-admin", 1_000.0, "Pass"),
    ("default", 1_000_000.0, "Deny"),
    ("kube-baseline", 10_000_000.0, "Pass"),
];

/// Validates a Calico `Tier` (see the [module docs](self) for the rules).
///
/// ```
/// use netpol::calico::{Tier, validate_tier};
/// assert!(validate_tier(&Tier::new("security", 10.0, "Pass")).is_ok());
/// let errs = validate_tier(&Tier::new("default", 10.0, "Pass")).unwrap_err();
/// let lines: Vec<String> = errs.errors().iter().map(|e| e.to_string()).collect();
/// assert_eq!(lines, [
///     "spec.defaultAction: Invalid value: The 'default' tier must have default action 'Deny'",
///     "spec.order: Invalid value: default tier order must be 1000000",
/// ]);
/// ```
pub fn validate_tier(tier: &Tier) -> Result<(), ValidationErrors> {
    let mut found = Found {
        meta: metadata_errors(&tier.metadata, false, tier.api_group),
        ..Found::default()
    };
    let name = effective_name(&tier.metadata);
    if !name.is_empty() {
        name_too_long(&name, 63, &mut found.go);
        if !is_dns_label(&name) {
            found.go.push(label_name_error(&name));
        }
    }
    let spec = tier.spec.as_ref();
    finite_order(spec.and_then(|s| s.order), &mut found);
    let written_action = spec.and_then(|s| s.default_action.as_deref());
    if let Some(a) = written_action {
        if !ACTIONS.contains(&a) {
            found
                .schema
                .push(FieldError::unsupported("spec.defaultAction", a, &ACTIONS));
        }
        if !matches!(a, "Pass" | "Deny") {
            found.schema.push(FieldError::unsupported(
                "spec.defaultAction",
                a,
                &["Pass", "Deny"],
            ));
        }
    }
    // Both paths default the action to Deny before the CEL rules; only Calico's client
    // (v3) fills in the order.
    let action = written_action.unwrap_or("Deny");
    let order = match tier.api_group {
        ApiGroup::V3 => Some(spec.and_then(|s| s.order).unwrap_or(1_000_000.0)),
        ApiGroup::CrdV1 => spec.and_then(|s| s.order),
    };
    let written_name = tier.metadata.name.as_deref().unwrap_or("");
    for (builtin, builtin_order, builtin_action) in BUILTIN_TIERS {
        if written_name != builtin {
            continue;
        }
        if action != builtin_action {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                "spec.defaultAction",
                &format!("The '{builtin}' tier must have default action '{builtin_action}'"),
            ));
        }
        #[allow(clippy::float_cmp)]
        if order != Some(builtin_order) {
            found.cel.push(cel_err(
                ErrorKind::Invalid,
                "spec.order",
                &format!("{builtin} tier order must be {builtin_order}"),
            ));
        }
    }
    found.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns() {
        for ok in ["a", "a-b", "a.b", "knp.default.a.b.c", "ossg.default.x"] {
            assert!(is_network_policy_name(ok), "{ok}");
        }
        for bad in ["a.b.c", "A", "-a", "a_b", "", "knp.default.", "a..b"] {
            assert!(!is_network_policy_name(bad), "{bad}");
        }
        assert!(is_global_network_policy_name("a.b"));
        assert!(!is_global_network_policy_name("knp.default.a"));
    }

    #[test]
    fn only_global() {
        for ok in ["global()", " global( ) ", "\tglobal(\t)"] {
            assert!(is_only_global(ok), "{ok:?}");
        }
        for bad in [
            "(global())",
            "!!global()",
            "global() && has(a)",
            "a == 'global()'",
        ] {
            assert!(!is_only_global(bad), "{bad:?}");
        }
    }
}
