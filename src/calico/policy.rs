//! Calico's objects normalised for the evaluators: [`CalicoPolicy`] (a NetworkPolicy or
//! GlobalNetworkPolicy), [`CalicoNetworkSet`] (a NetworkSet or GlobalNetworkSet) and
//! [`CalicoTier`], each built only from an object [`validate`](super::validate) accepts,
//! with parsed selectors and CIDRs, effective `types`, the tier, the order, and rules with
//! an [`Action`].
//!
//! Next to what was written, a normalised policy holds the selectors Felix actually
//! evaluates, built as Calico's update processors build them
//! (`libcalico-go/lib/backend/syncersv1/updateprocessors`), so an evaluator matches them
//! against an endpoint's labels and does not redo Calico's rewriting:
//! [`CalicoPolicy::endpoint_selector`] for the endpoints a policy applies to, and
//! [`EntityMatch::ip_set_selector`] / [`EntityMatch::not_ip_set_selector`] for a rule's
//! peers.
//!
//! # What an evaluator must do with each field
//!
//! **Labels.** Every selector below is matched against an endpoint's labels as Felix sees
//! them: a pod's own labels, then (overwriting) `projectcalico.org/namespace: <ns>`,
//! `projectcalico.org/orchestrator: k8s` and, when the pod's service account name is
//! non-empty and shorter than 63 characters, `projectcalico.org/serviceaccount: <sa>`;
//! keys it does not have are then looked up in its namespace's labels under `pcns.` (plus
//! `pcns.projectcalico.org/name: <ns>`) and its service account's labels under `pcsa.`
//! (plus `pcsa.projectcalico.org/name: <sa>`). A [`CalicoNetworkSet`]'s labels are its own
//! with `projectcalico.org/namespace` overwritten for a namespaced set (plus its
//! namespace's `pcns.` labels); a global set has only its own labels.
//!
//! **Which policies apply to an endpoint, per direction.** A policy applies to a pod when
//! [`endpoint_selector`](CalicoPolicy::endpoint_selector) matches the pod's labels
//! (a NetworkPolicy's includes `projectcalico.org/namespace == '<ns>'`; a
//! GlobalNetworkPolicy's `namespaceSelector` and either kind's `serviceAccountSelector`
//! are folded in with the `pcns.`/`pcsa.` prefixes, and in a GlobalNetworkPolicy every
//! `all()` of the combined text is rewritten to "is in a namespace" / "has a service
//! account", exactly as Calico does). Network sets are never selected by a policy. The
//! policy governs the directions [`governs`](CalicoPolicy::governs) says; a policy
//! that does not govern a direction is not listed for it at all. A policy with
//! [`applies_to_pods`](CalicoPolicy::applies_to_pods) false (`doNotTrack` or `preDNAT`)
//! takes no part in pod traffic (host endpoints only), and a tier holding only such
//! policies is not rendered for pods; `applyOnForward` alone changes nothing for pods.
//!
//! **Tiers and order.** Policies are grouped by [`tier`](CalicoPolicy::tier) (`default`
//! when none is written). Tiers are walked by [`CalicoTier::order`] ascending (an absent
//! order is 1,000,000), equal orders by name; tiers named by policies but with no Tier
//! object sort after every existing tier and end in Deny. Inside a tier, policies go by
//! [`order`](CalicoPolicy::order) ascending with an absent order after every ordered one,
//! and equal orders by the byte order of [`sort_key`](CalicoPolicy::sort_key),
//! `name/namespace/kind` (kinds `NetworkPolicy`, `GlobalNetworkPolicy`,
//! `KubernetesNetworkPolicy`, `KubernetesClusterNetworkPolicy`).
//!
//! **Rules.** In a governed direction the rules are tried in order; the first that
//! matches acts: [`Action::Allow`] allows the direction, [`Action::Deny`] denies it,
//! [`Action::Pass`] skips the rest of the tier (its other policies and its default) and
//! goes to the next tier, [`Action::Log`] goes on with the next rule. A policy whose
//! rules all miss falls through to the next policy. When no rule of the tier decided and
//! at least one of its policies applies to the endpoint for this direction, the tier's
//! [`default_action`](CalicoTier::default_action) applies (Deny, or Pass: next tier).
//! After the last tier the direction is allowed (Calico's namespace profiles allow all).
//!
//! **Matching one rule** against a flow, with the packet's source and destination: in
//! ingress the destination is the local pod, in egress the source is.
//!
//! 1. [`ip_version`](CalicoRule::ip_version): the flow's family must be it.
//! 2. Family filter: for each of the four net lists (source/destination nets/notNets),
//!    keep only the flow family's CIDRs; a list that was non-empty and keeps none makes
//!    the whole rule miss (so a rule whose `notNets` hold only the other family matches
//!    nothing of this family).
//! 3. [`protocol`](CalicoRule::protocol) must be the flow's protocol (by number: TCP 6,
//!    UDP 17, SCTP 132); [`not_protocol`](CalicoRule::not_protocol) must not be.
//! 4. [`icmp`](CalicoRule::icmp) matches ICMP flows of that type (and code) only, so a
//!    rule with it misses every TCP/UDP/SCTP flow. [`not_icmp`](CalicoRule::not_icmp) is
//!    rendered as iptables' `-m icmp ! --icmp-type …`, a match that only exists for ICMP
//!    packets (the kernel wants the rule to be an ICMP rule); for TCP/UDP/SCTP flows its
//!    effect is not something Calico defines, so an evaluator of such flows should treat a
//!    rule with either ([`has_icmp_match`](CalicoRule::has_icmp_match)) as one it cannot
//!    decide.
//! 5. Per side ([`EntityMatch`]): the address in at least one of `nets` (when any), in
//!    none of `notNets`; member of a [`ip_set_selector`](EntityMatch::ip_set_selector)
//!    member (a pod's IP, or any address inside a matching network set's nets) when there
//!    is one; member of no [`not_ip_set_selector`](EntityMatch::not_ip_set_selector)
//!    member when there is one (an address of no pod and no set — a node, the outside —
//!    is a member of nothing, so it passes a negative selector alone and fails a positive
//!    one).
//! 6. Ports, per side: numeric entries of [`ports`](EntityMatch::ports) are inclusive
//!    ranges; a named entry matches when the address is a pod matching the side's
//!    `ip_set_selector` (every pod when there is none) that declares a container port of
//!    that name whose protocol is the rule's protocol (any, when the rule has none), and
//!    the flow uses exactly that port number and protocol; the entries of one list are
//!    ORed; [`not_ports`](EntityMatch::not_ports) excludes both kinds. Flows carry no
//!    source port: a rule with source ports ([`has_source_ports`](CalicoRule::has_source_ports))
//!    cannot be decided for them.
//! 7. [`http`](CalicoRule::http): not enforced by Felix's iptables/nftables dataplane; a
//!    rule with it matches as an L4 rule.
//! 8. [`services`](EntityMatch::services): the endpoints of a Kubernetes Service (and,
//!    in a destination, their ports); an evaluator that does not model Service endpoints
//!    cannot decide such a rule ([`CalicoRule::has_service_match`]).
//!
//! A rule with no criteria matches every flow of its direction. A pod's own node reaching
//! the pod is not policed at all by Felix; a pod reaching its own node goes through the
//! pod's egress policies.
//!
//! **Peers of a namespaced policy** ([`ip_set_selector`](EntityMatch::ip_set_selector)):
//! with no `namespaceSelector`, `selector`, `notSelector` and `serviceAccounts` all keep
//! the peer in the policy's namespace (a `notSelector`-only rule then matches only
//! members of that namespace not matching it), and a side with none of them is not
//! restricted. A `namespaceSelector` alone matches every member (pod or namespaced network
//! set) of the matching namespaces; `all()` there means every namespaced member and
//! `global()` only members outside any namespace (global network sets). A
//! GlobalNetworkPolicy side without `namespaceSelector` is not restricted by namespace.
//! `serviceAccounts` `names` become `projectcalico.org/serviceaccount in {…}` (pods whose
//! service account name has 63 characters or more never carry that label), its
//! `selector` is matched under `pcsa.`; a name holding `'` makes Calico drop the whole
//! `serviceAccounts` match (the selector Calico would write for the names does not parse).
//!
//! ```
//! use netpol::calico::{CalicoPolicy, NetworkPolicy};
//! use netpol::policy::{Action, Direction};
//!
//! let written = NetworkPolicy::from_json(r#"{
//!   "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
//!   "metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"order": 10, "selector": "app == 'db'",
//!            "ingress": [{"action": "Allow", "protocol": "TCP",
//!                         "source": {"selector": "app == 'api'"},
//!                         "destination": {"ports": [5432]}}]}
//! }"#)?;
//! let policy = CalicoPolicy::new(&written)?;
//! assert_eq!((policy.tier(), policy.order()), ("default", Some(10.0)));
//! assert!(policy.governs(Direction::Ingress) && !policy.governs(Direction::Egress));
//! assert_eq!(policy.endpoint_selector().to_string(),
//!     r#"(app == "db" && projectcalico.org/namespace == "shop")"#);
//! let rule = &policy.rules(Direction::Ingress)[0];
//! assert_eq!(rule.action(), Action::Allow);
//! assert_eq!(rule.source().ip_set_selector().unwrap().to_string(),
//!     r#"(projectcalico.org/namespace == "shop" && app == "api")"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use ipnet::IpNet;

use super::model::{
    ApiGroup, EntityRule, GlobalNetworkPolicy, GlobalNetworkPolicySpec, GlobalNetworkSet,
    HttpMatch, IcmpFields, NetworkPolicy, NetworkPolicySpec, NetworkSet, PortValue, Protocol, Rule,
    ServiceAccountMatch, Tier,
};
use super::net;
use super::selector::{self, Selector, Term, TermKind};
use super::validate::{
    crd_stored_metadata, defaulted_types, validate_global_network_policy,
    validate_global_network_set, validate_network_policy, validate_network_set, validate_tier,
};
use crate::model::Labels;
use crate::policy::{Action, Direction};
use crate::validate::{ErrorKind, FieldError, ValidationErrors};

/// The order of a Tier without one, and of the `default` tier.
///
/// ```
/// assert_eq!(netpol::calico::DEFAULT_TIER_ORDER, 1_000_000.0);
/// ```
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;

/// The tier of a policy that names none.
///
/// ```
/// assert_eq!(netpol::calico::DEFAULT_TIER, "default");
/// ```
pub const DEFAULT_TIER: &str = "default";

/// Which Calico policy kind.
///
/// ```
/// use netpol::calico::CalicoPolicyKind;
/// assert_eq!(CalicoPolicyKind::Global.as_str(), "GlobalNetworkPolicy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CalicoPolicyKind {
    /// A namespaced `NetworkPolicy`.
    Namespaced,
    /// A `GlobalNetworkPolicy`.
    Global,
}

impl CalicoPolicyKind {
    /// The kind as Felix names it in its policy keys (`NetworkPolicy`,
    /// `GlobalNetworkPolicy`).
    ///
    /// ```
    /// assert_eq!(netpol::calico::CalicoPolicyKind::Namespaced.as_str(), "NetworkPolicy");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CalicoPolicyKind::Namespaced => "NetworkPolicy",
            CalicoPolicyKind::Global => "GlobalNetworkPolicy",
        }
    }
}

/// A written Calico policy of either kind, to build a [`CalicoPolicy`] from.
///
/// ```
/// use netpol::calico::{GlobalNetworkPolicy, WrittenPolicy};
/// let g = GlobalNetworkPolicy::new("p");
/// assert!(matches!(WrittenPolicy::from(&g), WrittenPolicy::Global(_)));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum WrittenPolicy<'a> {
    /// A NetworkPolicy.
    Namespaced(&'a NetworkPolicy),
    /// A GlobalNetworkPolicy.
    Global(&'a GlobalNetworkPolicy),
}

impl<'a> From<&'a NetworkPolicy> for WrittenPolicy<'a> {
    fn from(p: &'a NetworkPolicy) -> Self {
        WrittenPolicy::Namespaced(p)
    }
}

impl<'a> From<&'a GlobalNetworkPolicy> for WrittenPolicy<'a> {
    fn from(p: &'a GlobalNetworkPolicy) -> Self {
        WrittenPolicy::Global(p)
    }
}

/// A validated Calico NetworkPolicy or GlobalNetworkPolicy (see the [module
/// docs](self) for what an evaluator does with each part).
///
/// ```
/// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
/// let p = CalicoPolicy::new(&GlobalNetworkPolicy::new("everything"))?;
/// assert_eq!(p.key(), "everything");
/// assert!(p.endpoint_selector().is_all());
/// # Ok::<(), netpol::validate::ValidationErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CalicoPolicy {
    kind: CalicoPolicyKind,
    api_group: ApiGroup,
    name: String,
    namespace: Option<String>,
    tier: String,
    order: Option<f64>,
    selector: Selector,
    selector_written: bool,
    namespace_selector: Option<Selector>,
    service_account_selector: Option<Selector>,
    endpoint_selector: Selector,
    ingress: Option<Vec<CalicoRule>>,
    egress: Option<Vec<CalicoRule>>,
    do_not_track: bool,
    pre_dnat: bool,
    apply_on_forward: bool,
    performance_hints: Vec<String>,
}

/// A validated rule.
///
/// ```
/// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
/// use netpol::policy::{Action, Direction};
/// let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"},
///   "spec": {"egress": [{"action": "Log"}]}}"#).unwrap();
/// let p = CalicoPolicy::new(&g).unwrap();
/// let r = &p.rules(Direction::Egress)[0];
/// assert_eq!(r.action(), Action::Log);
/// assert!(r.protocol().is_none() && r.source().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CalicoRule {
    action: Action,
    ip_version: Option<u8>,
    protocol: Option<ProtocolMatch>,
    not_protocol: Option<ProtocolMatch>,
    icmp: Option<IcmpMatch>,
    not_icmp: Option<IcmpMatch>,
    source: EntityMatch,
    destination: EntityMatch,
    http: Option<HttpMatch>,
    annotations: Option<Labels>,
}

/// A protocol a rule matches: a number 1–255 (names are read as their numbers).
///
/// ```
/// use netpol::calico::ProtocolMatch;
/// use netpol::policy::Protocol;
/// let tcp = ProtocolMatch::new(6).unwrap();
/// assert_eq!(tcp.name(), Some("TCP"));
/// assert!(tcp.matches(Protocol::Tcp) && !tcp.matches(Protocol::Udp));
/// assert!(ProtocolMatch::new(0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolMatch(u8);

/// ICMP type and code of a rule's `icmp` or `notICMP`.
///
/// ```
/// use netpol::calico::IcmpMatch;
/// let m = IcmpMatch::new(Some(8), None);
/// assert_eq!((m.icmp_type(), m.code()), (Some(8), None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpMatch {
    icmp_type: Option<u8>,
    code: Option<u8>,
}

/// The validated criteria of one side of a rule.
///
/// ```
/// use netpol::calico::EntityMatch;
/// let e = EntityMatch::default();
/// assert!(e.is_empty() && e.ip_set_selector().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityMatch {
    nets: Vec<IpNet>,
    not_nets: Vec<IpNet>,
    selector: Option<Selector>,
    not_selector: Option<Selector>,
    namespace_selector: Option<Selector>,
    service_accounts: Option<ServiceAccounts>,
    services: Option<ServiceRef>,
    ports: Vec<PortValue>,
    not_ports: Vec<PortValue>,
    felix_selector: Option<Selector>,
    ip_set_selector: Option<Selector>,
    not_ip_set_selector: Option<Selector>,
}

/// A rule's `serviceAccounts`, validated.
///
/// ```
/// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
/// use netpol::policy::Direction;
/// let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [
///   {"action": "Allow", "source": {"serviceAccounts": {"names": ["b", "a"], "selector": "team == 'x'"}}}]}}"#).unwrap();
/// let p = CalicoPolicy::new(&g).unwrap();
/// let sa = p.rules(Direction::Ingress)[0].source().service_accounts().unwrap();
/// assert_eq!(sa.names(), ["a", "b"]);
/// assert_eq!(sa.names_selector().unwrap().to_string(),
///     r#"projectcalico.org/serviceaccount in {"a", "b"}"#);
/// assert_eq!(sa.selector().unwrap().to_string(), r#"team == "x""#);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceAccounts {
    names: Vec<String>,
    names_selector: Option<Selector>,
    selector: Option<Selector>,
}

/// A rule's `services`: a Kubernetes Service by namespace and name.
///
/// ```
/// use netpol::calico::ServiceRef;
/// let s = ServiceRef::new("kube-system", "kube-dns");
/// assert_eq!((s.namespace(), s.name()), ("kube-system", "kube-dns"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    namespace: String,
    name: String,
}

impl ServiceRef {
    /// A Service reference.
    ///
    /// ```
    /// assert_eq!(netpol::calico::ServiceRef::new("a", "b").name(), "b");
    /// ```
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceRef {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The Service's namespace (a namespaced policy's own when none was written).
    ///
    /// ```
    /// assert_eq!(netpol::calico::ServiceRef::new("a", "b").namespace(), "a");
    /// ```
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Service's name.
    ///
    /// ```
    /// assert_eq!(netpol::calico::ServiceRef::new("a", "b").name(), "b");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

// ---------------------------------------------------------------------------------------
// Selectors as Calico rewrites them
// ---------------------------------------------------------------------------------------

fn write_quoted(out: &mut String, s: &str) {
    let q = if s.contains('"') { '\'' } else { '"' };
    out.push(q);
    out.push_str(s);
    out.push(q);
}

enum Item<'a> {
    Term(Term<'a>),
    Text(&'static str),
}

/// Calico's `PrefixVisitor` then `String()`: the canonical form with every label key
/// prefixed (without recursion).
fn prefixed(sel: &Selector, prefix: &str) -> String {
    let mut out = String::new();
    let mut stack = vec![Item::Term(sel.root())];
    while let Some(item) = stack.pop() {
        let term = match item {
            Item::Text(s) => {
                out.push_str(s);
                continue;
            }
            Item::Term(t) => t,
        };
        let cmp = |out: &mut String, key: &str, op: &str, value: &str| {
            out.push_str(prefix);
            out.push_str(key);
            out.push_str(op);
            write_quoted(out, value);
        };
        match term.kind() {
            TermKind::All => out.push_str("all()"),
            TermKind::Global => out.push_str("global()"),
            TermKind::Has { key } => {
                out.push_str("has(");
                out.push_str(prefix);
                out.push_str(key);
                out.push(')');
            }
            TermKind::Equals { key, value } => cmp(&mut out, key, " == ", value),
            TermKind::NotEquals { key, value } => cmp(&mut out, key, " != ", value),
            TermKind::Contains { key, value } => cmp(&mut out, key, " contains ", value),
            TermKind::StartsWith { key, value } => cmp(&mut out, key, " starts with ", value),
            TermKind::EndsWith { key, value } => cmp(&mut out, key, " ends with ", value),
            TermKind::In { key, values } | TermKind::NotIn { key, values } => {
                let not = matches!(term.kind(), TermKind::NotIn { .. });
                out.push_str(prefix);
                out.push_str(key);
                out.push_str(if not { " not in {" } else { " in {" });
                for (i, v) in values.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_quoted(&mut out, v);
                }
                out.push('}');
            }
            TermKind::Not(inner) => {
                out.push('!');
                stack.push(Item::Term(inner));
            }
            TermKind::And(ops) | TermKind::Or(ops) => {
                let sep = if matches!(term.kind(), TermKind::And(_)) {
                    " && "
                } else {
                    " || "
                };
                out.push('(');
                stack.push(Item::Text(")"));
                let ops: Vec<Term<'_>> = ops.collect();
                let n = ops.len();
                for (i, t) in ops.into_iter().enumerate().rev() {
                    stack.push(Item::Term(t));
                    if i > 0 && i < n {
                        stack.push(Item::Text(sep));
                    }
                }
            }
        }
    }
    out
}

/// Parses a selector Calico builds; its failure is reported against `field`.
fn felix_parse(text: &str, field: &str) -> Result<Selector, FieldError> {
    selector::parse(text).map_err(|e| FieldError {
        kind: ErrorKind::Invalid,
        field: field.to_owned(),
        value: None,
        detail: format!("Felix cannot parse the selector Calico builds from it ({e})"),
    })
}

/// Parses a written selector field (empty and absent are `None`).
fn written(value: Option<&str>, field: &str) -> Result<Option<Selector>, FieldError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => selector::parse(v).map(Some).map_err(|e| FieldError {
            kind: ErrorKind::Invalid,
            field: field.to_owned(),
            value: None,
            detail: e.to_string(),
        }),
    }
}

/// `parseServiceAccounts`: the selector prefixed `pcsa.`, the names as an `in` set; both
/// ANDed. A name holding `'` makes Calico's set text unparseable, and Calico then drops
/// the whole match: the selector goes with the names.
fn service_account_text(sa: &ServiceAccountMatch) -> Option<String> {
    let sel_text = sa
        .selector
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| selector::parse(s).ok())
        .map(|s| prefixed(&s, "pcsa."));
    let names = sa.names.as_deref().unwrap_or(&[]);
    if names.is_empty() {
        return sel_text;
    }
    let set = format!(
        "projectcalico.org/serviceaccount in {{ '{}' }}",
        names.join("', '")
    );
    let Ok(parsed) = selector::parse(&set) else {
        return None;
    };
    let names_text = parsed.to_string();
    Some(match sel_text {
        Some(s) => format!("({s}) && ({names_text})"),
        None => names_text,
    })
}

/// `getEndpointSelector`: the positive selector of one side, namespaced as Calico does.
fn endpoint_side_text(e: &EntityRule, namespace: &str) -> Option<String> {
    let ns_written = e.namespace_selector.as_deref().unwrap_or("");
    let ns_sel = if !ns_written.is_empty() {
        selector::parse(ns_written).ok().map(|s| {
            prefixed(&s, "pcns.")
                .replace("all()", "has(projectcalico.org/namespace)")
                .replace("global()", "!has(projectcalico.org/namespace)")
        })
    } else if !namespace.is_empty() {
        Some(format!("projectcalico.org/namespace == '{namespace}'"))
    } else {
        None
    };
    let mut parts = Vec::new();
    if let Some(sa) = e.service_accounts.as_ref().and_then(service_account_text) {
        parts.push(sa);
    }
    if let Some(s) = e.selector.as_deref().filter(|s| !s.is_empty()) {
        parts.push(s.to_owned());
    }
    let sel = match parts.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(format!("({})", many.join(") && ("))),
    };
    let not_sel = e.not_selector.as_deref().unwrap_or("");
    match ns_sel {
        Some(ns) if sel.is_some() || !not_sel.is_empty() || !ns_written.is_empty() => {
            Some(match sel {
                Some(s) => format!("({ns}) && ({s})"),
                None => ns,
            })
        }
        _ => sel,
    }
}

// ---------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------

fn protocol_match(p: Option<&Protocol>) -> Option<ProtocolMatch> {
    p.and_then(Protocol::number).and_then(ProtocolMatch::new)
}

fn icmp_match(f: Option<&IcmpFields>) -> Option<IcmpMatch> {
    f.map(|f| IcmpMatch {
        icmp_type: f.icmp_type.and_then(|t| u8::try_from(t).ok()),
        code: f.code.and_then(|c| u8::try_from(c).ok()),
    })
}

fn nets(list: Option<&Vec<String>>) -> Vec<IpNet> {
    list.into_iter()
        .flatten()
        .filter_map(|n| net::parse_cidr_or_ip(n))
        .map(|c| c.network())
        .collect()
}

fn ports(list: Option<&Vec<super::model::Port>>) -> Vec<PortValue> {
    list.into_iter()
        .flatten()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn entity(e: Option<&EntityRule>, namespace: &str, path: &str) -> Result<EntityMatch, FieldError> {
    let empty = EntityRule::default();
    let e = e.unwrap_or(&empty);
    let service_accounts = match &e.service_accounts {
        None => None,
        Some(sa) => {
            let mut names: Vec<String> = sa.names.clone().unwrap_or_default();
            names.sort();
            names.dedup();
            let names_selector = if names.is_empty() {
                None
            } else {
                let set = format!(
                    "projectcalico.org/serviceaccount in {{ '{}' }}",
                    sa.names.as_deref().unwrap_or(&[]).join("', '")
                );
                selector::parse(&set).ok()
            };
            Some(ServiceAccounts {
                names,
                names_selector,
                selector: written(
                    sa.selector.as_deref(),
                    &format!("{path}.serviceAccounts.selector"),
                )?,
            })
        }
    };
    let felix_text = endpoint_side_text(e, namespace);
    let felix_selector = felix_text
        .as_deref()
        .map(|t| felix_parse(t, &format!("{path}.selector")))
        .transpose()?;
    let not_written = e.not_selector.as_deref().filter(|s| !s.is_empty());
    let (ip_set_selector, not_ip_set_selector) = match (&felix_text, not_written) {
        (Some(pos), Some(neg)) => (
            Some(felix_parse(
                &format!("({pos}) && (!({neg}))"),
                &format!("{path}.notSelector"),
            )?),
            None,
        ),
        (Some(_), None) => (felix_selector.clone(), None),
        (None, neg) => (
            None,
            neg.map(|n| felix_parse(n, &format!("{path}.notSelector")))
                .transpose()?,
        ),
    };
    Ok(EntityMatch {
        nets: nets(e.nets.as_ref()),
        not_nets: nets(e.not_nets.as_ref()),
        selector: written(e.selector.as_deref(), &format!("{path}.selector"))?,
        not_selector: written(e.not_selector.as_deref(), &format!("{path}.notSelector"))?,
        namespace_selector: written(
            e.namespace_selector.as_deref(),
            &format!("{path}.namespaceSelector"),
        )?,
        service_accounts,
        services: e.services.as_ref().map(|s| {
            let ns = s.namespace.as_deref().filter(|n| !n.is_empty());
            ServiceRef::new(ns.unwrap_or(namespace), s.name.as_deref().unwrap_or(""))
        }),
        ports: ports(e.ports.as_ref()),
        not_ports: ports(e.not_ports.as_ref()),
        felix_selector,
        ip_set_selector,
        not_ip_set_selector,
    })
}

fn rule(r: &Rule, namespace: &str, path: &str) -> Result<CalicoRule, FieldError> {
    let action = match r.action.as_deref() {
        Some("Allow") => Action::Allow,
        Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        Some("Log") => Action::Log,
        other => {
            return Err(FieldError::unsupported(
                format!("{path}.action"),
                other.unwrap_or(""),
                &["Allow", "Deny", "Log", "Pass"],
            ));
        }
    };
    Ok(CalicoRule {
        action,
        ip_version: r.ip_version.and_then(|v| u8::try_from(v).ok()),
        protocol: protocol_match(r.protocol.as_ref()),
        not_protocol: protocol_match(r.not_protocol.as_ref()),
        icmp: icmp_match(r.icmp.as_ref()),
        not_icmp: icmp_match(r.not_icmp.as_ref()),
        source: entity(r.source.as_ref(), namespace, &format!("{path}.source"))?,
        destination: entity(
            r.destination.as_ref(),
            namespace,
            &format!("{path}.destination"),
        )?,
        http: r.http.clone(),
        annotations: r.metadata.as_ref().and_then(|m| m.annotations.clone()),
    })
}

fn rules(
    list: Option<&Vec<Rule>>,
    namespace: &str,
    dir: &str,
) -> Result<Vec<CalicoRule>, FieldError> {
    list.into_iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| rule(r, namespace, &format!("spec.{dir}[{i}]")))
        .collect()
}

/// The common parts of both specs.
struct Common<'a> {
    tier: Option<&'a str>,
    order: Option<f64>,
    ingress: Option<&'a Vec<Rule>>,
    egress: Option<&'a Vec<Rule>>,
    selector: Option<&'a str>,
    types: Option<&'a [String]>,
    service_account_selector: Option<&'a str>,
    performance_hints: Option<&'a Vec<String>>,
}

impl CalicoPolicy {
    /// Validates a Calico NetworkPolicy or GlobalNetworkPolicy (with
    /// [`validate_network_policy`] / [`validate_global_network_policy`]) and normalises it.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// use netpol::policy::Direction;
    /// // v3: no `types`, egress rules only: Egress.
    /// let v3 = NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "a"},
    ///   "spec": {"egress": [{"action": "Deny"}]}}"#).unwrap();
    /// let p = CalicoPolicy::new(&v3)?;
    /// assert!(p.governs(Direction::Egress) && !p.governs(Direction::Ingress));
    /// // The same as a crd.projectcalico.org/v1 object: both directions.
    /// let v1 = NetworkPolicy::from_json(r#"{"apiVersion": "crd.projectcalico.org/v1",
    ///   "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "a"},
    ///   "spec": {"egress": [{"action": "Deny"}]}}"#).unwrap();
    /// let p = CalicoPolicy::new(&v1)?;
    /// assert!(p.governs(Direction::Egress) && p.governs(Direction::Ingress));
    /// // Refused input gives the validator's errors.
    /// let mut bad = v3.clone();
    /// bad.spec.as_mut().unwrap().selector = Some("app = 'x'".into());
    /// assert_eq!(CalicoPolicy::new(&bad).unwrap_err().errors()[0].field, "spec.selector");
    /// # Ok::<(), netpol::validate::ValidationErrors>(())
    /// ```
    pub fn new<'a>(written: impl Into<WrittenPolicy<'a>>) -> Result<Self, ValidationErrors> {
        let built = match written.into() {
            WrittenPolicy::Namespaced(p) => {
                validate_network_policy(p)?;
                let empty = NetworkPolicySpec::default();
                let s = p.spec.as_ref().unwrap_or(&empty);
                let common = Common {
                    tier: s.tier.as_deref(),
                    order: s.order,
                    ingress: s.ingress.as_ref(),
                    egress: s.egress.as_ref(),
                    selector: s.selector.as_deref(),
                    types: s.types.as_deref(),
                    service_account_selector: s.service_account_selector.as_deref(),
                    performance_hints: s.performance_hints.as_ref(),
                };
                Self::build(
                    CalicoPolicyKind::Namespaced,
                    p.api_group,
                    &crd_policy_name(&p.metadata, p.api_group, s.tier.as_deref()),
                    Some(p.metadata.namespace_or_default()),
                    &common,
                    None,
                    (false, false, false),
                )
            }
            WrittenPolicy::Global(p) => {
                validate_global_network_policy(p)?;
                let empty = GlobalNetworkPolicySpec::default();
                let s = p.spec.as_ref().unwrap_or(&empty);
                let common = Common {
                    tier: s.tier.as_deref(),
                    order: s.order,
                    ingress: s.ingress.as_ref(),
                    egress: s.egress.as_ref(),
                    selector: s.selector.as_deref(),
                    types: s.types.as_deref(),
                    service_account_selector: s.service_account_selector.as_deref(),
                    performance_hints: s.performance_hints.as_ref(),
                };
                Self::build(
                    CalicoPolicyKind::Global,
                    p.api_group,
                    &crd_policy_name(&p.metadata, p.api_group, s.tier.as_deref()),
                    None,
                    &common,
                    s.namespace_selector.as_deref(),
                    (
                        s.do_not_track == Some(true),
                        s.pre_dnat == Some(true),
                        s.apply_on_forward == Some(true),
                    ),
                )
            }
        };
        built.map_err(|e| ValidationErrors(vec![e]))
    }

    fn build(
        kind: CalicoPolicyKind,
        api_group: ApiGroup,
        name: &str,
        namespace: Option<&str>,
        s: &Common<'_>,
        namespace_selector: Option<&str>,
        (do_not_track, pre_dnat, apply_on_forward): (bool, bool, bool),
    ) -> Result<Self, FieldError> {
        let ns = namespace.unwrap_or("");
        // Effective types.
        let types: Vec<String> = match api_group {
            ApiGroup::V3 => defaulted_types(
                s.types,
                s.ingress.map(Vec::as_slice),
                s.egress.map(Vec::as_slice),
            ),
            ApiGroup::CrdV1 => match s.types {
                Some(t) if !t.is_empty() => t.to_vec(),
                _ => vec!["Ingress".to_owned(), "Egress".to_owned()],
            },
        };
        let ingress = rules(s.ingress, ns, "ingress")?;
        let egress = rules(s.egress, ns, "egress")?;

        // The policy selector, as the update processors build it.
        let mut text = s.selector.unwrap_or("").to_owned();
        match kind {
            CalicoPolicyKind::Namespaced => {
                let ns_term = format!("projectcalico.org/namespace == '{ns}'");
                text = if text.is_empty() {
                    ns_term
                } else {
                    format!("({text}) && {ns_term}")
                };
                text = append_prefixed(&text, s.service_account_selector, "pcsa.");
            }
            CalicoPolicyKind::Global => {
                if namespace_selector.is_some_and(|n| !n.is_empty()) {
                    text = append_prefixed(&text, namespace_selector, "pcns.")
                        .replace("all()", "has(projectcalico.org/namespace)");
                }
                if s.service_account_selector.is_some_and(|n| !n.is_empty()) {
                    text = append_prefixed(&text, s.service_account_selector, "pcsa.")
                        .replace("all()", "has(projectcalico.org/serviceaccount)");
                }
            }
        }
        let endpoint_selector = felix_parse(&text, "spec.selector")?;

        Ok(CalicoPolicy {
            kind,
            api_group,
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            tier: s
                .tier
                .filter(|t| !t.is_empty())
                .unwrap_or(DEFAULT_TIER)
                .to_owned(),
            order: s.order,
            selector: written(s.selector, "spec.selector")?.unwrap_or_default(),
            selector_written: s.selector.is_some_and(|t| !t.is_empty()),
            namespace_selector: written(namespace_selector, "spec.namespaceSelector")?,
            service_account_selector: written(
                s.service_account_selector,
                "spec.serviceAccountSelector",
            )?,
            endpoint_selector,
            ingress: types.iter().any(|t| t == "Ingress").then_some(ingress),
            egress: types.iter().any(|t| t == "Egress").then_some(egress),
            do_not_track,
            pre_dnat,
            apply_on_forward,
            performance_hints: s.performance_hints.cloned().unwrap_or_default(),
        })
    }

    /// NetworkPolicy or GlobalNetworkPolicy.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, CalicoPolicyKind, NetworkPolicy};
    /// let p = CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap();
    /// assert_eq!(p.kind(), CalicoPolicyKind::Namespaced);
    /// ```
    #[must_use]
    pub fn kind(&self) -> CalicoPolicyKind {
        self.kind
    }

    /// The API group the policy was read as.
    ///
    /// ```
    /// use netpol::calico::{ApiGroup, CalicoPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().api_group(), ApiGroup::V3);
    /// ```
    #[must_use]
    pub fn api_group(&self) -> ApiGroup {
        self.api_group
    }

    /// The name.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().name(), "b");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace of a NetworkPolicy (`default` when none was written); `None` for a
    /// GlobalNetworkPolicy.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().namespace(), Some("a"));
    /// assert_eq!(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().namespace(), None);
    /// ```
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `namespace/name` for a NetworkPolicy, `name` for a GlobalNetworkPolicy.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().key(), "a/b");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The string Felix breaks equal orders with, compared byte by byte:
    /// `name/namespace/kind` (`name//GlobalNetworkPolicy` for a global policy).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().sort_key(), "b/a/NetworkPolicy");
    /// assert_eq!(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().sort_key(), "g//GlobalNetworkPolicy");
    /// ```
    #[must_use]
    pub fn sort_key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.name,
            self.namespace.as_deref().unwrap_or(""),
            self.kind.as_str()
        )
    }

    /// Calico's API server refuses to create a `projectcalico.org/v3` policy in a tier
    /// that does not exist (its client looks the Tier up first). `existing` are the
    /// cluster's Tier objects; the built-in tiers (`default`, `kube-admin`,
    /// `kube-baseline`) always exist. A `crd.projectcalico.org/v1` object is written
    /// without that check, and Felix orders its unknown tier after every existing one.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, CalicoTier, NetworkPolicy, Tier};
    /// let mut p = NetworkPolicy::new("a", "b");
    /// p.spec.get_or_insert_with(Default::default).tier = Some("platform".into());
    /// let policy = CalicoPolicy::new(&p)?;
    /// let err = policy.missing_tier(&[]).unwrap();
    /// assert_eq!(err.field, "spec.tier");
    /// assert_eq!(err.to_string(), r#"spec.tier: Not found: "platform": resource does not exist: Tier(platform)"#);
    /// let platform = CalicoTier::new(&Tier::new("platform", 100.0, "Deny"))?;
    /// assert!(policy.missing_tier(&[platform]).is_none());
    /// assert!(CalicoPolicy::new(&NetworkPolicy::new("a", "c"))?.missing_tier(&[]).is_none());
    /// # Ok::<(), netpol::validate::ValidationErrors>(())
    /// ```
    #[must_use]
    pub fn missing_tier(&self, existing: &[CalicoTier]) -> Option<FieldError> {
        let builtin = matches!(
            self.tier.as_str(),
            "default" | "kube-admin" | "kube-baseline"
        );
        if self.api_group != ApiGroup::V3
            || builtin
            || existing.iter().any(|t| t.name() == self.tier)
        {
            return None;
        }
        Some(FieldError {
            kind: ErrorKind::NotFound,
            field: "spec.tier".into(),
            value: Some(format!("\"{}\"", self.tier)),
            detail: format!("resource does not exist: Tier({})", self.tier),
        })
    }

    /// The tier's name: `default` when none was written.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().tier(), "default");
    /// ```
    #[must_use]
    pub fn tier(&self) -> &str {
        &self.tier
    }

    /// The order in the tier; `None` (written as absent) sorts after every ordered policy.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// assert_eq!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().order(), None);
    /// ```
    #[must_use]
    pub fn order(&self) -> Option<f64> {
        self.order
    }

    /// `spec.selector` as written and parsed (`all()` when empty or absent), without the
    /// namespace and prefixes [`endpoint_selector`](Self::endpoint_selector) adds.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// assert!(CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap().selector().is_all());
    /// ```
    #[must_use]
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// Whether `spec.selector` was written (not absent, not empty). Calico's update
    /// processor rewrites the text of a GlobalNetworkPolicy's selector, so a written
    /// `all()` and an absent selector can end up meaning different things (see
    /// [`endpoint_selector`](Self::endpoint_selector)), while [`selector`](Self::selector)
    /// is `all()` for both.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// let absent = CalicoPolicy::new(&GlobalNetworkPolicy::new("g"))?;
    /// let written = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "g"},
    ///   "spec": {"selector": "all()"}}"#).unwrap();
    /// let written = CalicoPolicy::new(&written)?;
    /// assert!(!absent.selector_is_written() && written.selector_is_written());
    /// assert_eq!(absent.selector(), written.selector());
    /// # Ok::<(), netpol::validate::ValidationErrors>(())
    /// ```
    #[must_use]
    pub fn selector_is_written(&self) -> bool {
        self.selector_written
    }

    /// A GlobalNetworkPolicy's `namespaceSelector`, parsed (`None` when empty or absent).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().namespace_selector().is_none());
    /// ```
    #[must_use]
    pub fn namespace_selector(&self) -> Option<&Selector> {
        self.namespace_selector.as_ref()
    }

    /// `serviceAccountSelector`, parsed (`None` when empty or absent).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().service_account_selector().is_none());
    /// ```
    #[must_use]
    pub fn service_account_selector(&self) -> Option<&Selector> {
        self.service_account_selector.as_ref()
    }

    /// The selector Felix matches endpoints with (see the [module docs](self)).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "g"},
    ///   "spec": {"selector": "app == 'x'", "namespaceSelector": "all()"}}"#).unwrap();
    /// assert_eq!(CalicoPolicy::new(&g).unwrap().endpoint_selector().to_string(),
    ///     r#"(app == "x" && has(projectcalico.org/namespace))"#);
    /// ```
    #[must_use]
    pub fn endpoint_selector(&self) -> &Selector {
        &self.endpoint_selector
    }

    /// Whether the policy governs a direction (its effective `types`).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// use netpol::policy::Direction;
    /// let p = CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap();
    /// assert!(p.governs(Direction::Ingress) && !p.governs(Direction::Egress));
    /// ```
    #[must_use]
    pub fn governs(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.ingress.is_some(),
            Direction::Egress => self.egress.is_some(),
        }
    }

    /// The rules of a direction, in order; empty when the policy does not govern it (its
    /// written rules of that direction are ignored, as Felix ignores them).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, NetworkPolicy};
    /// use netpol::policy::Direction;
    /// let p = CalicoPolicy::new(&NetworkPolicy::new("a", "b")).unwrap();
    /// assert!(p.rules(Direction::Ingress).is_empty());
    /// ```
    #[must_use]
    pub fn rules(&self, direction: Direction) -> &[CalicoRule] {
        match direction {
            Direction::Ingress => self.ingress.as_deref().unwrap_or(&[]),
            Direction::Egress => self.egress.as_deref().unwrap_or(&[]),
        }
    }

    /// `doNotTrack`.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(!CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().do_not_track());
    /// ```
    #[must_use]
    pub fn do_not_track(&self) -> bool {
        self.do_not_track
    }

    /// `preDNAT`.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(!CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().pre_dnat());
    /// ```
    #[must_use]
    pub fn pre_dnat(&self) -> bool {
        self.pre_dnat
    }

    /// `applyOnForward`.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(!CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().apply_on_forward());
    /// ```
    #[must_use]
    pub fn apply_on_forward(&self) -> bool {
        self.apply_on_forward
    }

    /// Whether the policy takes part in pod traffic: not `doNotTrack`, not `preDNAT`
    /// (those govern host endpoints only).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "g"},
    ///   "spec": {"doNotTrack": true, "applyOnForward": true}}"#).unwrap();
    /// assert!(!CalicoPolicy::new(&g).unwrap().applies_to_pods());
    /// ```
    #[must_use]
    pub fn applies_to_pods(&self) -> bool {
        !self.do_not_track && !self.pre_dnat
    }

    /// `performanceHints` (no effect on what is allowed).
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// assert!(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap().performance_hints().is_empty());
    /// ```
    #[must_use]
    pub fn performance_hints(&self) -> &[String] {
        &self.performance_hints
    }
}

/// A policy's name as Calico reads it: for a v1 object with Calico's stored metadata, the
/// name kept there, or else (in the default tier) the written one without a `default.`
/// prefix (`determinePolicyName`).
fn crd_policy_name(meta: &crate::model::ObjectMeta, group: ApiGroup, tier: Option<&str>) -> String {
    let written = meta.name.as_deref().unwrap_or("");
    match crd_stored_metadata(meta, group) {
        Ok(Some(stored)) => match stored.name.filter(|n| !n.is_empty()) {
            Some(name) => name,
            None if tier.is_none_or(|t| t.is_empty() || t == DEFAULT_TIER) => written
                .strip_prefix("default.")
                .unwrap_or(written)
                .to_owned(),
            None => written.to_owned(),
        },
        _ => written.to_owned(),
    }
}

/// `prefixAndAppendSelector`: appends `new` (parsed, prefixed, canonical) to `current`.
fn append_prefixed(current: &str, new: Option<&str>, prefix: &str) -> String {
    let Some(parsed) = new
        .filter(|n| !n.is_empty())
        .and_then(|n| selector::parse(n).ok())
    else {
        return current.to_owned();
    };
    let p = prefixed(&parsed, prefix);
    if current.is_empty() {
        p
    } else {
        format!("({current}) && {p}")
    }
}

// Orders are finite: validation refuses NaN and infinities.
impl Eq for CalicoPolicy {}

impl fmt::Display for CalicoPolicy {
    /// Writes the [`key`](CalicoPolicy::key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl CalicoRule {
    /// The action.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::{Action, Direction};
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Pass"}]}}"#).unwrap();
    /// let p = CalicoPolicy::new(&g).unwrap();
    /// assert_eq!(p.rules(Direction::Ingress)[0].action(), Action::Pass);
    /// ```
    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    /// `ipVersion`: 4 or 6.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Deny", "ipVersion": 6}]}}"#).unwrap();
    /// assert_eq!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].ip_version(), Some(6));
    /// ```
    #[must_use]
    pub fn ip_version(&self) -> Option<u8> {
        self.ip_version
    }

    /// `protocol`, by number.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Deny", "protocol": "UDP"}]}}"#).unwrap();
    /// let r = &CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].clone();
    /// assert_eq!(r.protocol().unwrap().number(), 17);
    /// ```
    #[must_use]
    pub fn protocol(&self) -> Option<ProtocolMatch> {
        self.protocol
    }

    /// `notProtocol`, by number.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Deny", "notProtocol": 1}]}}"#).unwrap();
    /// assert_eq!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].not_protocol().unwrap().name(), Some("ICMP"));
    /// ```
    #[must_use]
    pub fn not_protocol(&self) -> Option<ProtocolMatch> {
        self.not_protocol
    }

    /// `icmp`: matches ICMP flows of this type (and code) only.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}}]}}"#).unwrap();
    /// assert_eq!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].icmp().unwrap().icmp_type(), Some(8));
    /// ```
    #[must_use]
    pub fn icmp(&self) -> Option<IcmpMatch> {
        self.icmp
    }

    /// `notICMP`.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].not_icmp().is_none());
    /// ```
    #[must_use]
    pub fn not_icmp(&self) -> Option<IcmpMatch> {
        self.not_icmp
    }

    /// `source`.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow", "source": {"nets": ["10.0.0.0/8"]}}]}}"#).unwrap();
    /// let p = CalicoPolicy::new(&g).unwrap();
    /// assert_eq!(p.rules(Direction::Ingress)[0].source().nets()[0].to_string(), "10.0.0.0/8");
    /// ```
    #[must_use]
    pub fn source(&self) -> &EntityMatch {
        &self.source
    }

    /// `destination`.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].destination().is_empty());
    /// ```
    #[must_use]
    pub fn destination(&self) -> &EntityMatch {
        &self.destination
    }

    /// A side by name: `source` for ingress peers, `destination` for egress peers.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// let p = CalicoPolicy::new(&g).unwrap();
    /// let r = &p.rules(Direction::Ingress)[0];
    /// assert!(std::ptr::eq(r.peer(Direction::Ingress), r.source()));
    /// ```
    #[must_use]
    pub fn peer(&self, direction: Direction) -> &EntityMatch {
        match direction {
            Direction::Ingress => &self.source,
            Direction::Egress => &self.destination,
        }
    }

    /// `http` as written: not enforced by Felix's iptables/nftables dataplane.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow", "http": {"methods": ["GET"]}}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].http().is_some());
    /// ```
    #[must_use]
    pub fn http(&self) -> Option<&HttpMatch> {
        self.http.as_ref()
    }

    /// Rule `metadata.annotations` (no effect on matching).
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].annotations().is_none());
    /// ```
    #[must_use]
    pub fn annotations(&self) -> Option<&Labels> {
        self.annotations.as_ref()
    }

    /// Whether the rule matches on source ports (`source.ports`/`notPorts`), which flows
    /// without a source port cannot decide.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow", "protocol": "TCP", "source": {"ports": [1024]}}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].has_source_ports());
    /// ```
    #[must_use]
    pub fn has_source_ports(&self) -> bool {
        !self.source.ports.is_empty() || !self.source.not_ports.is_empty()
    }

    /// Whether the rule has `icmp` or `notICMP`.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// assert!(!CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].has_icmp_match());
    /// ```
    #[must_use]
    pub fn has_icmp_match(&self) -> bool {
        self.icmp.is_some() || self.not_icmp.is_some()
    }

    /// Whether the rule has `http`.
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"ingress": [{"action": "Allow"}]}}"#).unwrap();
    /// assert!(!CalicoPolicy::new(&g).unwrap().rules(Direction::Ingress)[0].has_http_match());
    /// ```
    #[must_use]
    pub fn has_http_match(&self) -> bool {
        self.http.is_some()
    }

    /// Whether either side names a Kubernetes Service (`services`).
    ///
    /// ```
    /// # use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// # use netpol::policy::Direction;
    /// # let g = GlobalNetworkPolicy::from_json(r#"{"metadata": {"name": "p"}, "spec": {"egress": [{"action": "Allow", "destination": {"services": {"name": "dns", "namespace": "kube-system"}}}]}}"#).unwrap();
    /// assert!(CalicoPolicy::new(&g).unwrap().rules(Direction::Egress)[0].has_service_match());
    /// ```
    #[must_use]
    pub fn has_service_match(&self) -> bool {
        self.source.services.is_some() || self.destination.services.is_some()
    }
}

impl ProtocolMatch {
    /// A protocol by number, 1 to 255.
    ///
    /// ```
    /// assert_eq!(netpol::calico::ProtocolMatch::new(132).unwrap().name(), Some("SCTP"));
    /// ```
    #[must_use]
    pub fn new(number: u8) -> Option<Self> {
        (number != 0).then_some(ProtocolMatch(number))
    }

    /// The IANA number.
    ///
    /// ```
    /// assert_eq!(netpol::calico::ProtocolMatch::new(58).unwrap().number(), 58);
    /// ```
    #[must_use]
    pub fn number(self) -> u8 {
        self.0
    }

    /// Calico's name for it, when it has one (`TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`,
    /// `UDPLite`).
    ///
    /// ```
    /// assert_eq!(netpol::calico::ProtocolMatch::new(47).unwrap().name(), None);
    /// ```
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        super::model::PROTOCOL_NAMES
            .iter()
            .find(|(_, n)| *n == self.0)
            .map(|(name, _)| *name)
    }

    /// Whether a flow of this transport protocol has this protocol.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// assert!(netpol::calico::ProtocolMatch::new(132).unwrap().matches(Protocol::Sctp));
    /// ```
    #[must_use]
    pub fn matches(self, protocol: crate::policy::Protocol) -> bool {
        protocol.number() == self.0
    }
}

impl IcmpMatch {
    /// ICMP type and code.
    ///
    /// ```
    /// assert_eq!(netpol::calico::IcmpMatch::new(Some(3), Some(1)).code(), Some(1));
    /// ```
    #[must_use]
    pub fn new(icmp_type: Option<u8>, code: Option<u8>) -> Self {
        IcmpMatch { icmp_type, code }
    }

    /// The ICMP type (0–254).
    ///
    /// ```
    /// assert_eq!(netpol::calico::IcmpMatch::new(None, None).icmp_type(), None);
    /// ```
    #[must_use]
    pub fn icmp_type(self) -> Option<u8> {
        self.icmp_type
    }

    /// The ICMP code (0–255), only with a type.
    ///
    /// ```
    /// assert_eq!(netpol::calico::IcmpMatch::new(Some(0), None).code(), None);
    /// ```
    #[must_use]
    pub fn code(self) -> Option<u8> {
        self.code
    }
}

impl EntityMatch {
    /// Whether the side has no criteria at all.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
            && self.not_nets.is_empty()
            && self.selector.is_none()
            && self.not_selector.is_none()
            && self.namespace_selector.is_none()
            && self.service_accounts.is_none()
            && self.services.is_none()
            && self.ports.is_empty()
            && self.not_ports.is_empty()
    }

    /// `nets`, each as the network it denotes (host bits cleared; an IPv4-mapped IPv6
    /// network as the IPv4 one). Empty: no constraint.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().nets().is_empty());
    /// ```
    #[must_use]
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// `notNets`, likewise.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().not_nets().is_empty());
    /// ```
    #[must_use]
    pub fn not_nets(&self) -> &[IpNet] {
        &self.not_nets
    }

    /// `selector` as written, parsed (`None` when empty or absent).
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().selector().is_none());
    /// ```
    #[must_use]
    pub fn selector(&self) -> Option<&Selector> {
        self.selector.as_ref()
    }

    /// `notSelector` as written, parsed.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().not_selector().is_none());
    /// ```
    #[must_use]
    pub fn not_selector(&self) -> Option<&Selector> {
        self.not_selector.as_ref()
    }

    /// `namespaceSelector` as written, parsed (`all()`: every namespace; `global()`:
    /// outside any namespace).
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().namespace_selector().is_none());
    /// ```
    #[must_use]
    pub fn namespace_selector(&self) -> Option<&Selector> {
        self.namespace_selector.as_ref()
    }

    /// `serviceAccounts`.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().service_accounts().is_none());
    /// ```
    #[must_use]
    pub fn service_accounts(&self) -> Option<&ServiceAccounts> {
        self.service_accounts.as_ref()
    }

    /// `services`: a Kubernetes Service.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().services().is_none());
    /// ```
    #[must_use]
    pub fn services(&self) -> Option<&ServiceRef> {
        self.services.as_ref()
    }

    /// `ports`: ranges and names (empty: no constraint).
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().ports().is_empty());
    /// ```
    #[must_use]
    pub fn ports(&self) -> &[PortValue] {
        &self.ports
    }

    /// `notPorts`.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().not_ports().is_empty());
    /// ```
    #[must_use]
    pub fn not_ports(&self) -> &[PortValue] {
        &self.not_ports
    }

    /// The positive selector Calico builds for this side (`getEndpointSelector`: the
    /// namespace term or prefixed `namespaceSelector`, the service accounts and the
    /// `selector`), before Felix folds the `notSelector` in.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().felix_selector().is_none());
    /// ```
    #[must_use]
    pub fn felix_selector(&self) -> Option<&Selector> {
        self.felix_selector.as_ref()
    }

    /// The selector of the members an address must belong to (see the [module
    /// docs](self)): Felix's positive selector with the `notSelector` folded in as
    /// `(sel) && (!(notSel))` when both exist. `None`: no such constraint.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().ip_set_selector().is_none());
    /// ```
    #[must_use]
    pub fn ip_set_selector(&self) -> Option<&Selector> {
        self.ip_set_selector.as_ref()
    }

    /// The selector of the members an address must not belong to: the `notSelector`,
    /// when there is no positive selector to fold it into.
    ///
    /// ```
    /// assert!(netpol::calico::EntityMatch::default().not_ip_set_selector().is_none());
    /// ```
    #[must_use]
    pub fn not_ip_set_selector(&self) -> Option<&Selector> {
        self.not_ip_set_selector.as_ref()
    }
}

impl ServiceAccounts {
    /// `names`, sorted and deduplicated.
    ///
    /// ```
    /// assert!(netpol::calico::ServiceAccounts::default().names().is_empty());
    /// ```
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The selector Calico builds from the names over the pod label
    /// `projectcalico.org/serviceaccount`; `None` when there are no names, or when Calico
    /// cannot build it (a name holding `'`: Calico then drops the whole `serviceAccounts`
    /// match, its [`selector`](Self::selector) included).
    ///
    /// ```
    /// assert!(netpol::calico::ServiceAccounts::default().names_selector().is_none());
    /// ```
    #[must_use]
    pub fn names_selector(&self) -> Option<&Selector> {
        self.names_selector.as_ref()
    }

    /// `selector` as written, parsed: over the service account's labels (which the
    /// endpoint sees under `pcsa.`).
    ///
    /// ```
    /// assert!(netpol::calico::ServiceAccounts::default().selector().is_none());
    /// ```
    #[must_use]
    pub fn selector(&self) -> Option<&Selector> {
        self.selector.as_ref()
    }
}

// ---------------------------------------------------------------------------------------
// Network sets and tiers
// ---------------------------------------------------------------------------------------

/// A validated NetworkSet or GlobalNetworkSet: labelled networks rule selectors can match.
///
/// ```
/// use netpol::calico::{CalicoNetworkSet, NetworkSet};
/// let s = CalicoNetworkSet::new(&NetworkSet::new("shop", "partners", ["198.51.100.7/24"]))?;
/// assert_eq!(s.namespace(), Some("shop"));
/// assert_eq!(s.nets()[0].to_string(), "198.51.100.0/24");
/// assert_eq!(s.labels()["projectcalico.org/namespace"], "shop");
/// # Ok::<(), netpol::validate::ValidationErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalicoNetworkSet {
    api_group: ApiGroup,
    name: String,
    namespace: Option<String>,
    labels: Labels,
    nets: Vec<IpNet>,
}

/// A written network set of either kind, to build a [`CalicoNetworkSet`] from.
///
/// ```
/// use netpol::calico::{GlobalNetworkSet, WrittenNetworkSet};
/// let g = GlobalNetworkSet::new("g", ["10.0.0.0/8"]);
/// assert!(matches!(WrittenNetworkSet::from(&g), WrittenNetworkSet::Global(_)));
/// ```
#[derive(Debug, Clone, Copy)]
pub enum WrittenNetworkSet<'a> {
    /// A NetworkSet.
    Namespaced(&'a NetworkSet),
    /// A GlobalNetworkSet.
    Global(&'a GlobalNetworkSet),
}

impl<'a> From<&'a NetworkSet> for WrittenNetworkSet<'a> {
    fn from(s: &'a NetworkSet) -> Self {
        WrittenNetworkSet::Namespaced(s)
    }
}

impl<'a> From<&'a GlobalNetworkSet> for WrittenNetworkSet<'a> {
    fn from(s: &'a GlobalNetworkSet) -> Self {
        WrittenNetworkSet::Global(s)
    }
}

impl CalicoNetworkSet {
    /// Validates a NetworkSet or GlobalNetworkSet and normalises it.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    /// let s = CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.1", "fd00::/8"]))?;
    /// assert_eq!(s.nets().len(), 2);
    /// assert!(s.labels().is_empty());
    /// assert!(CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["nope"])).is_err());
    /// # Ok::<(), netpol::validate::ValidationErrors>(())
    /// ```
    pub fn new<'a>(written: impl Into<WrittenNetworkSet<'a>>) -> Result<Self, ValidationErrors> {
        let (meta, spec, api_group, namespace) = match written.into() {
            WrittenNetworkSet::Namespaced(s) => {
                validate_network_set(s)?;
                (
                    &s.metadata,
                    s.spec.as_ref(),
                    s.api_group,
                    Some(s.metadata.namespace_or_default().to_owned()),
                )
            }
            WrittenNetworkSet::Global(s) => {
                validate_global_network_set(s)?;
                (&s.metadata, s.spec.as_ref(), s.api_group, None)
            }
        };
        let mut labels = meta.labels.clone().unwrap_or_default();
        // Labels Calico's API server stored in its metadata annotation win.
        if let Ok(Some(stored)) = crd_stored_metadata(meta, api_group) {
            labels.extend(stored.labels.unwrap_or_default());
        }
        if let Some(ns) = &namespace {
            labels.insert("projectcalico.org/namespace".into(), ns.clone());
        }
        Ok(CalicoNetworkSet {
            api_group,
            name: meta.name.clone().unwrap_or_default(),
            namespace,
            labels,
            nets: nets(spec.and_then(|s| s.nets.as_ref())),
        })
    }

    /// The API group it was read as.
    ///
    /// ```
    /// use netpol::calico::{ApiGroup, CalicoNetworkSet, GlobalNetworkSet};
    /// assert_eq!(CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.0/8"])).unwrap().api_group(), ApiGroup::V3);
    /// ```
    #[must_use]
    pub fn api_group(&self) -> ApiGroup {
        self.api_group
    }

    /// The name.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    /// assert_eq!(CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.0/8"])).unwrap().name(), "g");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace of a NetworkSet; `None` for a GlobalNetworkSet.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    /// assert!(CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.0/8"])).unwrap().namespace().is_none());
    /// ```
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `namespace/name`, or `name` for a global set.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, NetworkSet};
    /// assert_eq!(CalicoNetworkSet::new(&NetworkSet::new("a", "b", ["10.0.0.0/8"])).unwrap().key(), "a/b");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The labels selectors see (before the namespace's `pcns.` labels): its own (for a
    /// `crd.projectcalico.org/v1` set, with those Calico stored in
    /// [`CALICO_METADATA_ANNOTATION`](super::CALICO_METADATA_ANNOTATION) over them), with
    /// `projectcalico.org/namespace` set for a namespaced set.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, NetworkSet};
    /// let s = CalicoNetworkSet::new(&NetworkSet::new("a", "b", ["10.0.0.0/8"])).unwrap();
    /// assert_eq!(s.labels().len(), 1);
    /// ```
    #[must_use]
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The networks (host bits cleared; a bare address is a /32 or /128).
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    /// let s = CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.1"])).unwrap();
    /// assert_eq!(s.nets()[0].to_string(), "10.0.0.1/32");
    /// ```
    #[must_use]
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

impl fmt::Display for CalicoNetworkSet {
    /// Writes the [`key`](CalicoNetworkSet::key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A validated Tier.
///
/// ```
/// use netpol::calico::{CalicoTier, Tier};
/// use netpol::policy::Action;
/// let t = CalicoTier::new(&Tier::from_json(r#"{"metadata": {"name": "security"}}"#).unwrap())?;
/// assert_eq!((t.order(), t.default_action()), (1_000_000.0, Action::Deny));
/// # Ok::<(), netpol::validate::ValidationErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CalicoTier {
    api_group: ApiGroup,
    name: String,
    order: f64,
    default_action: Action,
}

impl CalicoTier {
    /// Validates a Tier and normalises it: an absent order is 1,000,000 and an absent
    /// `defaultAction` is Deny, as Calico fills them in.
    ///
    /// ```
    /// use netpol::calico::{CalicoTier, Tier};
    /// assert!(CalicoTier::new(&Tier::new("t", 5.0, "Pass")).is_ok());
    /// assert!(CalicoTier::new(&Tier::new("t", 5.0, "Allow")).is_err());
    /// ```
    pub fn new(written: &Tier) -> Result<Self, ValidationErrors> {
        validate_tier(written)?;
        let spec = written.spec.as_ref();
        let default_action = match spec.and_then(|s| s.default_action.as_deref()) {
            Some("Pass") => Action::Pass,
            _ => Action::Deny,
        };
        Ok(CalicoTier {
            api_group: written.api_group,
            name: written.name().to_owned(),
            order: spec.and_then(|s| s.order).unwrap_or(DEFAULT_TIER_ORDER),
            default_action,
        })
    }

    /// One of the built-in tiers (`kube-admin`, `default`, `kube-baseline`) as Calico
    /// creates it, or `None` for another name.
    ///
    /// ```
    /// use netpol::calico::CalicoTier;
    /// use netpol::policy::Action;
    /// let t = CalicoTier::builtin("kube-admin").unwrap();
    /// assert_eq!((t.order(), t.default_action()), (1000.0, Action::Pass));
    /// assert!(CalicoTier::builtin("other").is_none());
    /// ```
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        super::validate::BUILTIN_TIERS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(n, order, action)| CalicoTier {
                api_group: ApiGroup::V3,
                name: (*n).to_owned(),
                order: *order,
                default_action: if *action == "Pass" {
                    Action::Pass
                } else {
                    Action::Deny
                },
            })
    }

    /// The API group it was read as.
    ///
    /// ```
    /// use netpol::calico::{ApiGroup, CalicoTier};
    /// assert_eq!(CalicoTier::builtin("default").unwrap().api_group(), ApiGroup::V3);
    /// ```
    #[must_use]
    pub fn api_group(&self) -> ApiGroup {
        self.api_group
    }

    /// The name.
    ///
    /// ```
    /// assert_eq!(netpol::calico::CalicoTier::builtin("default").unwrap().name(), "default");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The order: tiers are walked ascending, equal orders by name.
    ///
    /// ```
    /// assert_eq!(netpol::calico::CalicoTier::builtin("kube-baseline").unwrap().order(), 10_000_000.0);
    /// ```
    #[must_use]
    pub fn order(&self) -> f64 {
        self.order
    }

    /// What happens when policies of the tier apply to an endpoint but none decided:
    /// [`Action::Deny`] or [`Action::Pass`] (on to the next tier).
    ///
    /// ```
    /// use netpol::policy::Action;
    /// assert_eq!(netpol::calico::CalicoTier::builtin("default").unwrap().default_action(), Action::Deny);
    /// ```
    #[must_use]
    pub fn default_action(&self) -> Action {
        self.default_action
    }
}

// The order is finite: validation refuses NaN and infinities.
impl Eq for CalicoTier {}

impl fmt::Display for CalicoTier {
    /// Writes the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_prints_calico_canonical_form() {
        let s = selector::parse("a == 'x' && !(has(b) || c in {'q','p'}) && d != \"'\"").unwrap();
        assert_eq!(
            prefixed(&s, "pcns."),
            r#"(pcns.a == "x" && !(has(pcns.b) || pcns.c in {"p", "q"}) && pcns.d != "'")"#
        );
        let plain = selector::parse(&prefixed(&s, "")).unwrap();
        assert_eq!(plain, s);
    }
}
