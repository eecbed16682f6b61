//! `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy rules: the CRD's OpenAPI
//! schema, list-set and CEL rules, and object metadata, as apiextensions-apiserver applies
//! them on create (see [`validate_cluster_network_policy`]).

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::{ErrorKind, FieldError, ValidationErrors, quote, validate_object_meta};
use crate::model::{
    ClusterNetworkPolicy, ClusterNetworkPolicyEgressPeer, ClusterNetworkPolicyEgressRule,
    ClusterNetworkPolicyIngressPeer, ClusterNetworkPolicyIngressRule, ClusterNetworkPolicyPort,
    ClusterNetworkPolicyProtocol, ClusterNetworkPolicySpec, ClusterNetworkPolicySubject,
    NamespacedPod,
};

#[cfg(doc)]
use super::validate_label_selector;

/// Most rules per direction, peers per rule, protocols per rule, and entries of
/// `networks` and `domainNames`.
///
/// ```
/// assert_eq!(netpol::validate::CNP_MAX_ITEMS, 25);
/// ```
pub const CNP_MAX_ITEMS: usize = 25;

/// Longest rule `name`, in characters.
///
/// ```
/// assert_eq!(netpol::validate::CNP_RULE_NAME_MAX_LENGTH, 100);
/// ```
pub const CNP_RULE_NAME_MAX_LENGTH: usize = 100;

/// Longest `networks` entry, in characters.
///
/// ```
/// assert_eq!(netpol::validate::CNP_CIDR_MAX_LENGTH, 43);
/// ```
pub const CNP_CIDR_MAX_LENGTH: usize = 43;

/// The CRD's `pattern` for `domainNames` entries, as the apiserver prints it in errors.
///
/// Note `A-z` where `A-Z` was meant: the first character of a label may also be one of
/// `` [\]^_` ``. [`is_cnp_domain_name`] implements the pattern exactly.
///
/// ```
/// assert!(netpol::validate::CNP_DOMAIN_NAME_PATTERN.starts_with(r"^(\*\.)?"));
/// ```
pub const CNP_DOMAIN_NAME_PATTERN: &str = r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$";

const CEL_SKIPPED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";
const CIDR_RULE_MESSAGE: &str = "Invalid CIDR format provided";
const RANGE_RULE_MESSAGE: &str = "Start port must be less than End port";
const NAMED_PORT_RULE_MESSAGE: &str = "networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames";

/// The release channel of network-policy-api's CRD installed in the cluster.
///
/// ```
/// use netpol::validate::Channel;
/// assert_eq!(Channel::default(), Channel::Experimental);
/// assert_eq!("standard".parse::<Channel>(), Ok(Channel::Standard));
/// assert_eq!(Channel::Standard.to_string(), "standard");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// `config/crd/standard`: no `nodes` or `domainNames` peers (pruned as unknown
    /// fields) and no named-port rule on egress rules.
    Standard,
    /// `config/crd/experimental`, the default: every field, and egress rules with a
    /// `networks`, `nodes` or `domainNames` peer may not use `destinationNamedPort`.
    #[default]
    Experimental,
}

impl Channel {
    /// The channel's name as network-policy-api spells it (`standard`, `experimental`).
    ///
    /// ```
    /// assert_eq!(netpol::validate::Channel::Experimental.as_str(), "experimental");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Standard => "standard",
            Channel::Experimental => "experimental",
        }
    }

    /// What the apiserver keeps of a written policy under this channel's schema: in the
    /// standard channel, `nodes` and `domainNames` egress peers are unknown fields and
    /// are pruned; the experimental channel keeps everything.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicy;
    /// use netpol::validate::Channel;
    /// let cnp = ClusterNetworkPolicy::from_json(r#"{"spec": {"egress": [
    ///   {"action": "Deny", "to": [{"nodes": {}}]}]}}"#).unwrap();
    /// let pruned = Channel::Standard.prune(&cnp);
    /// let to = pruned.spec.unwrap().egress.unwrap()[0].to.clone().unwrap();
    /// assert!(to[0].nodes.is_none());
    /// assert_eq!(Channel::Experimental.prune(&cnp), cnp);
    /// ```
    #[must_use]
    pub fn prune(self, cnp: &ClusterNetworkPolicy) -> ClusterNetworkPolicy {
        let mut out = cnp.clone();
        if self == Channel::Standard {
            let rules = out
                .spec
                .iter_mut()
                .flat_map(|s| s.egress.iter_mut().flatten());
            for peer in rules.flat_map(|r| r.to.iter_mut().flatten()) {
                peer.nodes = None;
                peer.domain_names = None;
            }
        }
        out
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel name that is not `standard` or `experimental`.
///
/// ```
/// let err = "beta".parse::<netpol::validate::Channel>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown channel "beta": expected "standard" or "experimental""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel \"{0}\": expected \"standard\" or \"experimental\"")]
pub struct UnknownChannel(String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Channel::Standard),
            "experimental" => Ok(Channel::Experimental),
            other => Err(UnknownChannel(other.to_owned())),
        }
    }
}

/// Validates a ClusterNetworkPolicy as the apiserver does on create with the
/// experimental channel's CRD.
///
/// On create, the apiserver (apiextensions-apiserver's custom-resource strategy) checks,
/// in this order:
///
/// 1. `metadata` as for any cluster-scoped object: upstream `ValidateObjectMetaAccessor`
///    with names that are DNS-1123 subdomains ([`validate_object_meta`]). A
///    `metadata.namespace` is not an error: the apiserver clears the namespace of a
///    cluster-scoped object before validating it. `metadata.generation` is set to 1 on
///    create, so a written one is not checked either.
/// 2. The CRD's OpenAPI schema (k8s.io/kube-openapi's validator): required fields,
///    enums, `minimum`/`maximum`, `maxLength`, `pattern`, `minItems`/`maxItems`,
///    `minProperties`/`maxProperties` (the "exactly one of" objects). Within an object the
///    validator visits properties before it reports missing required ones; upstream
///    visits properties in Go map order (random), here in alphabetical order. Within a
///    list, every item comes before the list's own `minItems`/`maxItems`.
/// 3. `x-kubernetes-list-type: set` (`networks`, `domainNames`): each value written
///    twice is a `Duplicate value` at the index of its second occurrence.
/// 4. The `x-kubernetes-validations` CEL rules, top-down (a node's own rules before its
///    children's), but only when nothing before is of a blocking kind (`Required value`,
///    `Unsupported value`, `Too long`, `Too many`); otherwise a single `<nil>: Invalid
///    value: null: some validation rules were not checked …` stands for all of them. A
///    failed rule prints the value of a string (`Invalid value: "10.0.0.0/33": Invalid
///    CIDR format provided`) and leaves out the value of an object (`Invalid value: Start
///    port must be less than End port`), as apiextensions-apiserver does since Kubernetes
///    1.35 (before, it printed the schema type, `"string"` or `"object"`).
///
/// `status` is dropped on create (the CRD has a status subresource), so it is not
/// checked. Unknown fields are pruned by the apiserver (with `kubectl`'s default strict
/// field validation they are refused before validation; that is not modelled); decoding
/// into [`ClusterNetworkPolicy`] drops them likewise.
///
/// The CRD's label selectors carry no validation beyond their JSON types: the apiserver
/// accepts `operator: Like` or an invalid label key in a ClusterNetworkPolicy. They are
/// checked (with [`validate_label_selector`]) only when the policy is normalised by
/// [`ClusterPolicy::new`](crate::policy::ClusterPolicy::new), since a selector that
/// cannot be compiled has no meaning.
///
/// # Channels
///
/// network-policy-api publishes the CRD in two channels ([`Channel`]); the experimental
/// one is the default here. The standard channel's schema has no `nodes` and no
/// `domainNames` egress peers (the apiserver prunes them as unknown fields, so a peer
/// holding only one of them has no property left) and no rule against named ports next
/// to `networks`, `nodes` or `domainNames` peers.
///
/// ```
/// use netpol::model::ClusterNetworkPolicy;
/// use netpol::validate::validate_cluster_network_policy;
///
/// let cnp = ClusterNetworkPolicy::from_json(r#"{
///   "metadata": {"name": "deny-external"},
///   "spec": {"tier": "Admin", "priority": 1001, "subject": {"namespaces": {}},
///            "egress": [{"action": "Allow", "to": [{"networks": ["10.0.0.0/33"]}]}]}
/// }"#).unwrap();
/// let errs = validate_cluster_network_policy(&cnp).unwrap_err();
/// let lines: Vec<String> = errs.errors().iter().map(|e| e.to_string()).collect();
/// assert_eq!(lines, [
///     r#"spec.egress[0].action: Unsupported value: "Allow": supported values: "Accept", "Deny", "Pass""#,
///     "spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000",
///     // "Unsupported value" blocks the CEL rules, among them isCIDR:
///     "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
/// ]);
/// ```
///
/// A valid one:
///
/// ```
/// use netpol::model::ClusterNetworkPolicy;
/// let ok = ClusterNetworkPolicy::from_json(r#"{"metadata": {"name": "a"},
///   "spec": {"tier": "Baseline", "priority": 0, "subject": {"namespaces": {}}}}"#).unwrap();
/// assert!(netpol::validate::validate_cluster_network_policy(&ok).is_ok());
/// ```
pub fn validate_cluster_network_policy(cnp: &ClusterNetworkPolicy) -> Result<(), ValidationErrors> {
    validate_cluster_network_policy_in(cnp, Channel::Experimental)
}

/// Validates a ClusterNetworkPolicy as the apiserver does on create with the given
/// channel's CRD (after pruning what that channel does not know, see
/// [`Channel::prune`]); see [`validate_cluster_network_policy`] for the rules.
///
/// ```
/// use netpol::model::ClusterNetworkPolicy;
/// use netpol::validate::{Channel, validate_cluster_network_policy_in};
/// let cnp = ClusterNetworkPolicy::from_json(r#"{"metadata": {"name": "a"},
///   "spec": {"tier": "Admin", "priority": 5, "subject": {"namespaces": {}},
///            "egress": [{"action": "Accept", "to": [{"networks": ["10.0.0.0/8"]}],
///                        "protocols": [{"destinationNamedPort": "http"}]}]}}"#).unwrap();
/// assert!(validate_cluster_network_policy_in(&cnp, Channel::Standard).is_ok());
/// let errs = validate_cluster_network_policy_in(&cnp, Channel::Experimental).unwrap_err();
/// assert_eq!(errs.errors()[0].to_string(), "spec.egress[0]: Invalid value: networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames");
/// ```
pub fn validate_cluster_network_policy_in(
    cnp: &ClusterNetworkPolicy,
    channel: Channel,
) -> Result<(), ValidationErrors> {
    let errors = cluster_network_policy_errors(cnp, channel);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

fn cluster_network_policy_errors(cnp: &ClusterNetworkPolicy, channel: Channel) -> Vec<FieldError> {
    let pruned;
    let cnp = if channel == Channel::Experimental {
        cnp
    } else {
        pruned = channel.prune(cnp);
        &pruned
    };
    let mut meta = cnp.metadata.clone();
    meta.namespace = None;
    let mut errs = validate_object_meta(&meta, "metadata");

    let mut schema = Vec::new();
    match &cnp.spec {
        Some(spec) => schema_spec(spec, "spec", &mut schema),
        None => schema.push(FieldError::required("spec", "")),
    }
    errs.extend(schema);

    if let Some(spec) = &cnp.spec {
        list_sets_spec(spec, "spec", &mut errs);
    }

    let blocking = errs.iter().any(|e| {
        matches!(
            e.kind,
            ErrorKind::Required | ErrorKind::Unsupported | ErrorKind::TooLong | ErrorKind::TooMany
        )
    });
    if blocking {
        errs.push(FieldError::invalid("<nil>", "null".into(), CEL_SKIPPED));
    } else if let Some(spec) = &cnp.spec {
        cel_spec(spec, "spec", channel, &mut errs);
    }
    errs
}

// ---- OpenAPI schema -------------------------------------------------------------------

fn too_many(field: String, actual: usize, max: usize) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    FieldError {
        kind: ErrorKind::TooMany,
        field,
        value: Some(actual.to_string()),
        detail: format!("must have at most {max} {unit}"),
    }
}

/// `minItems`/`maxItems` of a list, after its items.
fn items_bounds(path: &str, len: usize, min: usize, errs: &mut Vec<FieldError>) {
    if len < min {
        errs.push(FieldError::invalid(
            path,
            len.to_string(),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if len > CNP_MAX_ITEMS {
        errs.push(too_many(path.to_owned(), len, CNP_MAX_ITEMS));
    }
}

/// `minProperties: 1` and (when `exactly_one`) `maxProperties: 1` of an object.
fn one_of(path: &str, count: usize, exactly_one: bool, errs: &mut Vec<FieldError>) {
    if count < 1 {
        errs.push(FieldError::invalid(
            path,
            count.to_string(),
            format!("{path} in body should have at least 1 properties"),
        ));
    }
    if exactly_one && count > 1 {
        errs.push(too_many(path.to_owned(), count, 1));
    }
}

/// `minimum` then `maximum` of an integer.
fn int_bounds(path: &str, value: i64, min: i64, max: i64, errs: &mut Vec<FieldError>) {
    if value < min {
        errs.push(FieldError::invalid(
            path,
            value.to_string(),
            format!("{path} in body should be greater than or equal to {min}"),
        ));
    }
    if value > max {
        errs.push(FieldError::invalid(
            path,
            value.to_string(),
            format!("{path} in body should be less than or equal to {max}"),
        ));
    }
}

fn max_length(path: &str, value: &str, max: usize, errs: &mut Vec<FieldError>) -> bool {
    if value.chars().count() > max {
        errs.push(FieldError {
            kind: ErrorKind::TooLong,
            field: path.to_owned(),
            value: None,
            detail: format!("may not be more than {max} bytes"),
        });
        return false;
    }
    true
}

fn enum_value(path: &str, value: &str, supported: &[&str], errs: &mut Vec<FieldError>) {
    if !supported.contains(&value) {
        errs.push(FieldError::unsupported(path, value, supported));
    }
}

fn schema_spec(spec: &ClusterNetworkPolicySpec, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(rules) = &spec.egress {
        let list = format!("{path}.egress");
        for (i, rule) in rules.iter().enumerate() {
            schema_egress_rule(rule, &format!("{list}[{i}]"), errs);
        }
        items_bounds(&list, rules.len(), 0, errs);
    }
    if let Some(rules) = &spec.ingress {
        let list = format!("{path}.ingress");
        for (i, rule) in rules.iter().enumerate() {
            schema_ingress_rule(rule, &format!("{list}[{i}]"), errs);
        }
        items_bounds(&list, rules.len(), 0, errs);
    }
    if let Some(p) = spec.priority {
        int_bounds(&format!("{path}.priority"), p, 0, 1000, errs);
    }
    if let Some(subject) = &spec.subject {
        schema_subject(subject, &format!("{path}.subject"), errs);
    }
    if let Some(tier) = &spec.tier {
        enum_value(&format!("{path}.tier"), tier, &["Admin", "Baseline"], errs);
    }
    for (present, field) in [
        (spec.priority.is_some(), "priority"),
        (spec.subject.is_some(), "subject"),
        (spec.tier.is_some(), "tier"),
    ] {
        if !present {
            errs.push(FieldError::required(format!("{path}.{field}"), ""));
        }
    }
}

fn schema_subject(s: &ClusterNetworkPolicySubject, path: &str, errs: &mut Vec<FieldError>) {
    let count = usize::from(s.namespaces.is_some()) + usize::from(s.pods.is_some());
    one_of(path, count, true, errs);
    if let Some(sel) = &s.namespaces {
        schema_selector(sel, &format!("{path}.namespaces"), errs);
    }
    if let Some(pods) = &s.pods {
        schema_namespaced_pod(pods, &format!("{path}.pods"), errs);
    }
}

fn schema_namespaced_pod(p: &NamespacedPod, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(sel) = &p.namespace_selector {
        schema_selector(sel, &format!("{path}.namespaceSelector"), errs);
    }
    match &p.pod_selector {
        Some(sel) => schema_selector(sel, &format!("{path}.podSelector"), errs),
        None => errs.push(FieldError::required(format!("{path}.podSelector"), "")),
    }
}

/// The only schema of `metav1.LabelSelector` in the CRD: each `matchExpressions` entry
/// requires `key` and `operator` (their values are not checked).
fn schema_selector(sel: &crate::model::LabelSelector, path: &str, errs: &mut Vec<FieldError>) {
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        for (present, field) in [
            (req.key.is_some(), "key"),
            (req.operator.is_some(), "operator"),
        ] {
            if !present {
                errs.push(FieldError::required(
                    format!("{path}.matchExpressions[{i}].{field}"),
                    "",
                ));
            }
        }
    }
}

fn schema_action(action: Option<&String>, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(a) = action {
        enum_value(
            &format!("{path}.action"),
            a,
            &["Accept", "Deny", "Pass"],
            errs,
        );
    }
}

fn schema_name(name: Option<&String>, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = name {
        max_length(&format!("{path}.name"), n, CNP_RULE_NAME_MAX_LENGTH, errs);
    }
}

fn schema_protocols(
    protocols: Option<&Vec<ClusterNetworkPolicyProtocol>>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let Some(protocols) = protocols else { return };
    let list = format!("{path}.protocols");
    for (i, p) in protocols.iter().enumerate() {
        let p_path = format!("{list}[{i}]");
        let count = usize::from(p.tcp.is_some())
            + usize::from(p.udp.is_some())
            + usize::from(p.sctp.is_some())
            + usize::from(p.destination_named_port.is_some());
        one_of(&p_path, count, true, errs);
        for (body, field) in [(&p.sctp, "sctp"), (&p.tcp, "tcp"), (&p.udp, "udp")] {
            if let Some(body) = body {
                let b_path = format!("{p_path}.{field}");
                one_of(
                    &b_path,
                    usize::from(body.destination_port.is_some()),
                    false,
                    errs,
                );
                if let Some(port) = &body.destination_port {
                    schema_port(port, &format!("{b_path}.destinationPort"), errs);
                }
            }
        }
    }
    items_bounds(&list, protocols.len(), 1, errs);
}

fn schema_port(port: &ClusterNetworkPolicyPort, path: &str, errs: &mut Vec<FieldError>) {
    let count = usize::from(port.number.is_some()) + usize::from(port.range.is_some());
    one_of(path, count, true, errs);
    if let Some(n) = port.number {
        int_bounds(&format!("{path}.number"), n, 1, 65535, errs);
    }
    if let Some(range) = &port.range {
        let r_path = format!("{path}.range");
        if let Some(end) = range.end {
            int_bounds(&format!("{r_path}.end"), end, 1, 65535, errs);
        }
        if let Some(start) = range.start {
            int_bounds(&format!("{r_path}.start"), start, 1, 65535, errs);
        }
        if range.end.is_none() {
            errs.push(FieldError::required(format!("{r_path}.end"), ""));
        }
        if range.start.is_none() {
            errs.push(FieldError::required(format!("{r_path}.start"), ""));
        }
    }
}

fn schema_ingress_rule(
    rule: &ClusterNetworkPolicyIngressRule,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    schema_action(rule.action.as_ref(), path, errs);
    if let Some(from) = &rule.from {
        let list = format!("{path}.from");
        for (i, peer) in from.iter().enumerate() {
            schema_ingress_peer(peer, &format!("{list}[{i}]"), errs);
        }
        items_bounds(&list, from.len(), 1, errs);
    }
    schema_name(rule.name.as_ref(), path, errs);
    schema_protocols(rule.protocols.as_ref(), path, errs);
    if rule.action.is_none() {
        errs.push(FieldError::required(format!("{path}.action"), ""));
    }
    if rule.from.is_none() {
        errs.push(FieldError::required(format!("{path}.from"), ""));
    }
}

fn schema_egress_rule(
    rule: &ClusterNetworkPolicyEgressRule,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    schema_action(rule.action.as_ref(), path, errs);
    schema_name(rule.name.as_ref(), path, errs);
    schema_protocols(rule.protocols.as_ref(), path, errs);
    if let Some(to) = &rule.to {
        let list = format!("{path}.to");
        for (i, peer) in to.iter().enumerate() {
            schema_egress_peer(peer, &format!("{list}[{i}]"), errs);
        }
        items_bounds(&list, to.len(), 1, errs);
    }
    if rule.action.is_none() {
        errs.push(FieldError::required(format!("{path}.action"), ""));
    }
    if rule.to.is_none() {
        errs.push(FieldError::required(format!("{path}.to"), ""));
    }
}

fn schema_ingress_peer(
    peer: &ClusterNetworkPolicyIngressPeer,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let count = usize::from(peer.namespaces.is_some()) + usize::from(peer.pods.is_some());
    one_of(path, count, true, errs);
    if let Some(sel) = &peer.namespaces {
        schema_selector(sel, &format!("{path}.namespaces"), errs);
    }
    if let Some(pods) = &peer.pods {
        schema_namespaced_pod(pods, &format!("{path}.pods"), errs);
    }
}

fn schema_egress_peer(
    peer: &ClusterNetworkPolicyEgressPeer,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let count = usize::from(peer.namespaces.is_some())
        + usize::from(peer.pods.is_some())
        + usize::from(peer.nodes.is_some())
        + usize::from(peer.networks.is_some())
        + usize::from(peer.domain_names.is_some());
    one_of(path, count, true, errs);
    if let Some(names) = &peer.domain_names {
        let list = format!("{path}.domainNames");
        for (i, name) in names.iter().enumerate() {
            if !is_cnp_domain_name(name) {
                let item = format!("{list}[{i}]");
                let detail = format!("{item} in body should match '{CNP_DOMAIN_NAME_PATTERN}'");
                errs.push(FieldError::invalid(item, quote(name), detail));
            }
        }
        items_bounds(&list, names.len(), 1, errs);
    }
    if let Some(networks) = &peer.networks {
        let list = format!("{path}.networks");
        for (i, cidr) in networks.iter().enumerate() {
            max_length(&format!("{list}[{i}]"), cidr, CNP_CIDR_MAX_LENGTH, errs);
        }
        items_bounds(&list, networks.len(), 1, errs);
    }
    for (sel, field) in [(&peer.namespaces, "namespaces"), (&peer.nodes, "nodes")] {
        if let Some(sel) = sel {
            schema_selector(sel, &format!("{path}.{field}"), errs);
        }
    }
    if let Some(pods) = &peer.pods {
        schema_namespaced_pod(pods, &format!("{path}.pods"), errs);
    }
}

// ---- x-kubernetes-list-type: set --------------------------------------------------------

fn duplicates(list: &[String], path: &str, errs: &mut Vec<FieldError>) {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut reported: HashSet<&str> = HashSet::new();
    for (i, v) in list.iter().enumerate() {
        if !seen.insert(v.as_str()) && reported.insert(v.as_str()) {
            errs.push(FieldError {
                kind: ErrorKind::Duplicate,
                field: format!("{path}[{i}]"),
                value: Some(quote(v)),
                detail: String::new(),
            });
        }
    }
}

fn list_sets_spec(spec: &ClusterNetworkPolicySpec, path: &str, errs: &mut Vec<FieldError>) {
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            let p = format!("{path}.egress[{i}].to[{j}]");
            if let Some(names) = &peer.domain_names {
                duplicates(names, &format!("{p}.domainNames"), errs);
            }
            if let Some(networks) = &peer.networks {
                duplicates(networks, &format!("{p}.networks"), errs);
            }
        }
    }
}

// ---- x-kubernetes-validations (CEL) -----------------------------------------------------

/// A failed CEL rule on an object: since Kubernetes 1.35 the value of an object (or
/// list) is left out of the message.
fn cel_object_failure(path: String, message: &str) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: path,
        value: None,
        detail: message.to_owned(),
    }
}

fn cel_protocols(
    protocols: Option<&Vec<ClusterNetworkPolicyProtocol>>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for (i, p) in protocols.iter().copied().flatten().enumerate() {
        for (body, field) in [(&p.sctp, "sctp"), (&p.tcp, "tcp"), (&p.udp, "udp")] {
            let range = body
                .as_ref()
                .and_then(|b| b.destination_port.as_ref())
                .and_then(|d| d.range.as_ref());
            if let Some(range) = range {
                if let (Some(start), Some(end)) = (range.start, range.end) {
                    if start >= end {
                        errs.push(cel_object_failure(
                            format!("{path}.protocols[{i}].{field}.destinationPort.range"),
                            RANGE_RULE_MESSAGE,
                        ));
                    }
                }
            }
        }
    }
}

fn cel_spec(
    spec: &ClusterNetworkPolicySpec,
    path: &str,
    channel: Channel,
    errs: &mut Vec<FieldError>,
) {
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let r_path = format!("{path}.egress[{i}]");
        if channel == Channel::Experimental {
            let to = rule.to.as_deref().unwrap_or(&[]);
            let outside = to
                .iter()
                .any(|p| p.networks.is_some() || p.nodes.is_some() || p.domain_names.is_some());
            let named = rule
                .protocols
                .iter()
                .flatten()
                .any(|p| p.destination_named_port.is_some());
            if outside && named {
                errs.push(cel_object_failure(r_path.clone(), NAMED_PORT_RULE_MESSAGE));
            }
        }
        cel_protocols(rule.protocols.as_ref(), &r_path, errs);
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            for (k, cidr) in peer.networks.iter().flatten().enumerate() {
                if parse_cnp_cidr(cidr).is_none() {
                    // A string's value is shown (Kubernetes 1.35 and later).
                    errs.push(FieldError::invalid(
                        format!("{r_path}.to[{j}].networks[{k}]"),
                        quote(cidr),
                        CIDR_RULE_MESSAGE,
                    ));
                }
            }
        }
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        cel_protocols(
            rule.protocols.as_ref(),
            &format!("{path}.ingress[{i}]"),
            errs,
        );
    }
}

// ---- value checks -----------------------------------------------------------------------

/// Whether a `domainNames` entry matches the CRD's pattern ([`CNP_DOMAIN_NAME_PATTERN`]):
/// an optional `*.`, then two or more dot-separated labels, then an optional trailing dot.
/// A label is letters, digits, `-` and `_`, starts with a letter, a digit or one of
/// `` [\]^_` `` (the pattern's `A-z`), and ends with a letter or a digit.
///
/// ```
/// use netpol::validate::is_cnp_domain_name;
/// assert!(is_cnp_domain_name("*.kubernetes.io") && is_cnp_domain_name("Kubernetes.IO."));
/// assert!(is_cnp_domain_name("_dmarc.example.com")); // `_` is inside `A-z`
/// assert!(!is_cnp_domain_name("localhost")); // one label
/// assert!(!is_cnp_domain_name("a.*.com") && !is_cnp_domain_name("-a.com") && !is_cnp_domain_name("a-.com"));
/// ```
#[must_use]
pub fn is_cnp_domain_name(name: &str) -> bool {
    let rest = name.strip_prefix("*.").unwrap_or(name);
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    let labels: Vec<&str> = rest.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| is_pattern_label(l))
}

fn is_pattern_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    // `[a-zA-z0-9]`: `A-z` is 0x41..=0x7a, which holds the upper and lower letters.
    let first_ok = first.is_ascii_digit() || (b'A'..=b'z').contains(&first);
    let Some((&last, middle)) = rest.split_last() else {
        return first_ok;
    };
    first_ok
        && last.is_ascii_alphanumeric()
        && middle
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Parses a `networks` entry as the CRD's CEL rule `isCIDR(self)` accepts it: Go's
/// `netip.ParsePrefix`, minus IPv4-mapped IPv6 addresses. Returns the network, with host
/// bits cleared (`isCIDR` accepts them; matching ignores them).
///
/// Stricter than NetworkPolicy's `ipBlock` parsing ([`crate::policy::parse_cidr`]): no
/// leading zeros in IPv4 octets or in the prefix length, no `::ffff:a.b.c.d` addresses,
/// no zones; an IPv6 address may still end in dotted IPv4 (`64:ff9b::1.2.3.4/120`).
///
/// ```
/// use netpol::validate::parse_cnp_cidr;
/// assert_eq!(parse_cnp_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
/// assert_eq!(parse_cnp_cidr("fd00::/8").unwrap().to_string(), "fd00::/8");
/// for bad in ["010.0.0.0/8", "10.0.0.0/08", "10.0.0.0", "10.0.0.0/33", "::ffff:10.0.0.0/104",
///             "fe80::1%eth0/64", " 10.0.0.0/8", "10.0.0.0/+8"] {
///     assert!(parse_cnp_cidr(bad).is_none(), "{bad}");
/// }
/// ```
pub fn parse_cnp_cidr(text: &str) -> Option<IpNet> {
    let (addr, bits) = text.rsplit_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    if let IpAddr::V6(v6) = addr {
        if v6.to_ipv4_mapped().is_some() {
            return None;
        }
    }
    let digits_ok = match bits.as_bytes() {
        [d] => d.is_ascii_digit(),
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.len() <= 2 && rest.iter().all(u8::is_ascii_digit)
        }
        [] => false,
    };
    if !digits_ok {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    IpNet::new(addr, bits).ok().map(|n| n.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnp_cidr_follows_go_netip_parse_prefix() {
        let accepted = [
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("1.2.3.4/0", "0.0.0.0/0"),
            ("255.255.255.255/32", "255.255.255.255/32"),
            ("::/0", "::/0"),
            ("::/128", "::/128"),
            ("::1.2.3.4/128", "::102:304/128"),
            ("64:ff9b::1.2.3.4/96", "64:ff9b::/96"),
            ("FD00:AB::/32", "fd00:ab::/32"),
            ("1:2:3:4:5:6:7::/112", "1:2:3:4:5:6:7:0/112"),
        ];
        for (text, net) in accepted {
            assert_eq!(
                parse_cnp_cidr(text).map(|n| n.to_string()).as_deref(),
                Some(net),
                "{text}"
            );
        }
        let refused = [
            "1:2:3:4:5:6:7:8::/64", // :: must stand for at least one group
            "1::2:3:4:5:6:7:8/64",
            "00000::/8", // five hex digits
            "1.2.3.4/32 ",
            "/8",
            "1.2.3.4//8",
            "1.2.3.4/",
            "1.2.3.256/8",
            "1.2.3/8",
            "::ffff:0.0.0.0/96", // IPv4-mapped
            "::FFFF:1.2.3.4/128",
            "fe80::%eth0/64",
            "1.2.3.4/1e1",
            "1.2.3.4/0x8",
            "1.2.3.4/00",
            "1.2.3.4/100000000000000000000",
        ];
        for text in refused {
            assert_eq!(parse_cnp_cidr(text), None, "{text}");
        }
    }

    #[test]
    fn domain_pattern_labels() {
        for ok in [
            "a.b", "a-b.c_d", "[.io", "`x.io", "^a.b.", "9.9", "*.a.b", "A1.B2",
        ] {
            assert!(is_cnp_domain_name(ok), "{ok}");
        }
        for bad in [
            "a", "*.a", "*", "a.b..", "a_.b", "_", "a.-b", "a.b-", "{.io", "a b.c", "*.*.a.b",
            "a.b*",
        ] {
            assert!(!is_cnp_domain_name(bad), "{bad}");
        }
    }

    #[test]
    fn duplicates_reported_once_at_the_second_occurrence() {
        let list: Vec<String> = ["a", "b", "a", "a", "b", "c"].map(String::from).to_vec();
        let mut errs = Vec::new();
        duplicates(&list, "x", &mut errs);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["x[2]", "x[4]"]);
    }
}
