//! The reference's reading of Calico's Felix: what a profile that
//! [enforces Calico policy](crate::profile::Profile::enforces_calico_policy) decides.
//!
//! Everything here is read from Calico's code, not from the engine, and kept literal:
//!
//! - Every endpoint (pod or network set) is seen with the labels Felix gives it
//!   ([`Member`]): a pod's own labels with `projectcalico.org/namespace`,
//!   `projectcalico.org/orchestrator: k8s` and (for a service account name shorter than
//!   63 characters) `projectcalico.org/serviceaccount` written over them, then, for keys
//!   it lacks, its namespace's labels under `pcns.` (with `pcns.projectcalico.org/name`)
//!   and `pcsa.projectcalico.org/name: <service account>`.
//! - Every policy kind becomes what Felix holds: Kubernetes NetworkPolicy and
//!   ClusterNetworkPolicy are converted rule by rule as Calico's converters do (one rule
//!   per protocol and peer; a ClusterNetworkPolicy rule with a peer Calico cannot convert
//!   fails: a `Deny` or `Pass` becomes a `Deny` of everything, an `Accept` is dropped),
//!   Calico's own rules are taken as written. Selectors are never rewritten as text:
//!   each is evaluated term by term with the key prefix (`pcns.`, `pcsa.`) and the
//!   meaning of `all()` and `global()` that Calico's rewriting gives it ([`Pred`]).
//! - A rule side's selectors become sets of members; an endpoint matches a selector when
//!   it is a matching pod (pod addresses are unique, so the pod is the member its
//!   address names) or its address lies in the nets of a matching network set, and a
//!   named port when it is a matching pod declaring that port with the flow's protocol
//!   and number. `serviceAccounts` names go through the set literal Calico writes for
//!   them: when that text does not parse (a name holding `'`), Calico drops the whole
//!   `serviceAccounts` match, and so does this reading.
//! - A flow is of the family of its addresses ([`Cluster::flow_is_v6`]); a flow with no
//!   address at all (pods without IPs, which Felix never sees) is taken as IPv4.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Item, Reference, Walk, WalkDecision};
use crate::calico::selector::{Selector as CalicoSelector, Term, TermKind, parse};
use crate::calico::{CalicoPolicy, CalicoPolicyKind, EntityMatch, PortValue};
use crate::cluster::{Cluster, Endpoint, Flow, Pod};
use crate::explain::TierRef;
use crate::model::Labels;
use crate::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterTier, Direction, Peer, Policy,
    PolicySetRef, PortSpec, Protocol, Subject,
};
use crate::selector::Selector as K8sSelector;

const NAMESPACE: &str = "projectcalico.org/namespace";
const ORCHESTRATOR: &str = "projectcalico.org/orchestrator";
const SERVICE_ACCOUNT: &str = "projectcalico.org/serviceaccount";
const NAME: &str = "projectcalico.org/name";
const NS_PREFIX: &str = "pcns.";
const SA_PREFIX: &str = "pcsa.";

/// What `all()` or `global()` means where a selector sits, after Calico's rewriting.
#[derive(Debug, Clone, Copy)]
enum Fixed {
    /// Left as it is: always true.
    True,
    /// Rewritten to `has(key)`.
    Has(&'static str),
    /// Rewritten to `!has(key)`.
    NotHas(&'static str),
}

impl Fixed {
    fn holds(self, view: &Labels) -> bool {
        match self {
            Fixed::True => true,
            Fixed::Has(k) => view.contains_key(k),
            Fixed::NotHas(k) => !view.contains_key(k),
        }
    }
}

/// A test on a member's labels: the selectors Felix ends up with, unrewritten.
#[derive(Debug, Clone)]
enum Pred<'a> {
    /// A Calico selector whose keys are looked up under `prefix`.
    Calico {
        sel: &'a CalicoSelector,
        prefix: &'static str,
        all: Fixed,
        global: Fixed,
    },
    /// A Kubernetes pod selector as Calico converts it:
    /// `projectcalico.org/orchestrator == 'k8s'` and the selector.
    K8sPods(&'a K8sSelector),
    /// A Kubernetes namespace selector as Calico converts it: `{}` is `all()`, rewritten
    /// to "is in a namespace"; otherwise its keys are looked up under `pcns.`.
    K8sNamespaces(&'a K8sSelector),
    /// `projectcalico.org/namespace == '<ns>'`.
    NamespaceIs(&'a str),
    /// `projectcalico.org/serviceaccount in {…}`.
    ServiceAccountIn(Vec<String>),
    And(Vec<Pred<'a>>),
    Not(Box<Pred<'a>>),
}

fn eval_term(t: Term<'_>, m: &Member<'_>, prefix: &str, all: Fixed, global: Fixed) -> bool {
    let get = |key: &str| -> Option<&str> {
        if prefix.is_empty() {
            m.view.get(key).map(String::as_str)
        } else {
            m.view.get(&format!("{prefix}{key}")).map(String::as_str)
        }
    };
    match t.kind() {
        TermKind::All => all.holds(&m.view),
        TermKind::Global => global.holds(&m.view),
        TermKind::Has { key } => get(key).is_some(),
        TermKind::Equals { key, value } => get(key) == Some(value),
        TermKind::NotEquals { key, value } => get(key) != Some(value),
        TermKind::Contains { key, value } => get(key).is_some_and(|v| v.contains(value)),
        TermKind::StartsWith { key, value } => get(key).is_some_and(|v| v.starts_with(value)),
        TermKind::EndsWith { key, value } => get(key).is_some_and(|v| v.ends_with(value)),
        TermKind::In { key, mut values } => get(key).is_some_and(|v| values.any(|x| x == v)),
        TermKind::NotIn { key, mut values } => !get(key).is_some_and(|v| values.any(|x| x == v)),
        TermKind::Not(inner) => !eval_term(inner, m, prefix, all, global),
        TermKind::And(mut ops) => ops.all(|o| eval_term(o, m, prefix, all, global)),
        TermKind::Or(mut ops) => ops.any(|o| eval_term(o, m, prefix, all, global)),
    }
}

impl Pred<'_> {
    fn holds(&self, m: &Member<'_>) -> bool {
        match self {
            Pred::Calico {
                sel,
                prefix,
                all,
                global,
            } => eval_term(sel.root(), m, prefix, *all, *global),
            Pred::K8sPods(sel) => {
                m.view.get(ORCHESTRATOR).map(String::as_str) == Some("k8s") && sel.matches(&m.view)
            }
            Pred::K8sNamespaces(sel) => {
                if sel.is_everything() {
                    m.view.contains_key(NAMESPACE)
                } else {
                    sel.matches(&m.namespace_view)
                }
            }
            Pred::NamespaceIs(ns) => m.view.get(NAMESPACE).map(String::as_str) == Some(*ns),
            Pred::ServiceAccountIn(names) => m
                .view
                .get(SERVICE_ACCOUNT)
                .is_some_and(|sa| names.iter().any(|n| n == sa)),
            Pred::And(ps) => ps.iter().all(|p| p.holds(m)),
            Pred::Not(p) => !p.holds(m),
        }
    }
}

fn calico<'a>(
    sel: &'a CalicoSelector,
    prefix: &'static str,
    all: Fixed,
    global: Fixed,
) -> Pred<'a> {
    Pred::Calico {
        sel,
        prefix,
        all,
        global,
    }
}

/// Something a rule's selectors can match: a pod or a network set, with its addresses
/// and the labels Felix sees.
#[derive(Debug, Clone)]
pub(super) struct Member<'a> {
    nets: Vec<IpNet>,
    view: Labels,
    /// The `pcns.` labels without their prefix: what a converted Kubernetes namespace
    /// selector is matched against.
    namespace_view: Labels,
    pod: Option<&'a Pod>,
}

impl Member<'_> {
    fn holds(&self, addr: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&addr))
    }
}

fn namespace_view(view: &Labels) -> Labels {
    view.iter()
        .filter_map(|(k, v)| k.strip_prefix(NS_PREFIX).map(|k| (k.to_owned(), v.clone())))
        .collect()
}

/// The labels a namespace's profile (`kns.<ns>`) gives the endpoints in it.
fn namespace_profile(cluster: &Cluster, ns: &str) -> Labels {
    let mut out = Labels::new();
    if let Some((_, n)) = cluster.namespaces().find(|(_, n)| n.name == ns) {
        for (k, v) in &n.labels {
            out.insert(format!("{NS_PREFIX}{k}"), v.clone());
        }
        out.insert(format!("{NS_PREFIX}{NAME}"), ns.to_owned());
    }
    out
}

fn pod_member<'a>(cluster: &Cluster, pod: &'a Pod) -> Member<'a> {
    let ns = cluster
        .namespace(pod.namespace)
        .map_or("", |n| n.name.as_str());
    // Parents first, so that the endpoint's own labels win.
    let mut view = namespace_profile(cluster, ns);
    let sa = pod.service_account.as_str();
    if !sa.is_empty() {
        view.insert(format!("{SA_PREFIX}{NAME}"), sa.to_owned());
    }
    view.extend(pod.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    view.insert(NAMESPACE.into(), ns.to_owned());
    view.insert(ORCHESTRATOR.into(), "k8s".into());
    if !sa.is_empty() && sa.len() < 63 {
        view.insert(SERVICE_ACCOUNT.into(), sa.to_owned());
    }
    Member {
        nets: pod.ips.iter().map(|ip| IpNet::from(*ip)).collect(),
        namespace_view: namespace_view(&view),
        view,
        pod: Some(pod),
    }
}

fn set_member<'a>(cluster: &Cluster, set: &crate::calico::CalicoNetworkSet) -> Member<'a> {
    let mut view = match set.namespace() {
        Some(ns) => namespace_profile(cluster, ns),
        None => Labels::new(),
    };
    view.extend(set.labels().iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(ns) = set.namespace() {
        view.insert(NAMESPACE.into(), ns.to_owned());
    }
    Member {
        nets: set.nets().to_vec(),
        namespace_view: namespace_view(&view),
        view,
        pod: None,
    }
}

/// One side (source or destination) of a rule as Felix renders it.
#[derive(Debug, Clone, Default)]
struct Side<'a> {
    nets: Vec<IpNet>,
    not_nets: Vec<IpNet>,
    /// The members the address must belong to (the positive selector, with the negative
    /// one folded in when both exist).
    members: Option<Pred<'a>>,
    /// The members the address must not belong to (a negative selector alone).
    not_members: Option<Pred<'a>>,
    ports: Vec<PortValue>,
    not_ports: Vec<PortValue>,
    services: bool,
}

/// Calico's `getEndpointSelector` and Felix's folding of the negative selector:
/// `ns_written` is a written `namespaceSelector`, `policy_ns` the namespace of a
/// namespaced policy, `selector` the positive selectors, `not` the `notSelector`.
fn side_selectors<'a>(
    ns_written: Option<Pred<'a>>,
    policy_ns: Option<&'a str>,
    selector: Option<Pred<'a>>,
    not: Option<Pred<'a>>,
) -> (Option<Pred<'a>>, Option<Pred<'a>>) {
    let written = ns_written.is_some();
    let ns = ns_written.or(policy_ns.map(Pred::NamespaceIs));
    let positive = match ns {
        Some(ns) if selector.is_some() || not.is_some() || written => Some(match selector {
            Some(s) => Pred::And(vec![ns, s]),
            None => ns,
        }),
        _ => selector,
    };
    match (positive, not) {
        (Some(p), Some(n)) => (Some(Pred::And(vec![p, Pred::Not(Box::new(n))])), None),
        (p, n) => (p, n),
    }
}

/// A Calico rule as Felix holds it.
#[derive(Debug, Clone)]
pub(super) struct FelixRule<'a> {
    action: Action,
    ip_version: Option<u8>,
    protocol: Option<u8>,
    not_protocol: Option<u8>,
    icmp: bool,
    not_icmp: bool,
    src: Side<'a>,
    dst: Side<'a>,
}

impl<'a> FelixRule<'a> {
    fn new(action: Action) -> Self {
        FelixRule {
            action,
            ip_version: None,
            protocol: None,
            not_protocol: None,
            icmp: false,
            not_icmp: false,
            src: Side::default(),
            dst: Side::default(),
        }
    }

    /// Criteria a flow cannot decide: source ports, Service matches, an ICMP negation.
    fn undecidable(&self) -> bool {
        !self.src.ports.is_empty()
            || !self.src.not_ports.is_empty()
            || self.src.services
            || self.dst.services
            || self.not_icmp
    }
}

/// A side of a Calico policy's rule.
fn native_side<'a>(e: &'a EntityMatch, policy_ns: Option<&'a str>) -> Side<'a> {
    // `parseServiceAccounts`: the selector under `pcsa.`, the names as an `in` set built
    // as text; when that text does not parse, the whole match is dropped.
    let service_accounts = e.service_accounts().and_then(|sa| {
        let sel = sa
            .selector()
            .map(|s| calico(s, SA_PREFIX, Fixed::True, Fixed::True));
        if sa.names().is_empty() {
            return sel;
        }
        let text = format!("{SERVICE_ACCOUNT} in {{ '{}' }}", sa.names().join("', '"));
        let parsed = parse(&text).ok()?;
        let names = match parsed.root().kind() {
            TermKind::In { values, .. } => values.map(str::to_owned).collect(),
            _ => return None,
        };
        let names = Pred::ServiceAccountIn(names);
        Some(match sel {
            Some(s) => Pred::And(vec![s, names]),
            None => names,
        })
    });
    let mut parts: Vec<Pred<'a>> = service_accounts.into_iter().collect();
    if let Some(s) = e.selector() {
        parts.push(calico(s, "", Fixed::True, Fixed::True));
    }
    let selector = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Pred::And(parts)),
    };
    let ns_written = e.namespace_selector().map(|s| {
        calico(
            s,
            NS_PREFIX,
            Fixed::Has(NAMESPACE),
            Fixed::NotHas(NAMESPACE),
        )
    });
    let not = e
        .not_selector()
        .map(|s| calico(s, "", Fixed::True, Fixed::True));
    let (members, not_members) = side_selectors(ns_written, policy_ns, selector, not);
    Side {
        nets: e.nets().to_vec(),
        not_nets: e.not_nets().to_vec(),
        members,
        not_members,
        ports: e.ports().to_vec(),
        not_ports: e.not_ports().to_vec(),
        services: e.services().is_some(),
    }
}

fn native_rules(p: &CalicoPolicy, direction: Direction) -> Vec<(usize, FelixRule<'_>)> {
    let ns = p.namespace();
    p.rules(direction)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rule = FelixRule {
                action: r.action(),
                ip_version: r.ip_version(),
                protocol: r.protocol().map(|p| p.number()),
                not_protocol: r.not_protocol().map(|p| p.number()),
                icmp: r.icmp().is_some(),
                not_icmp: r.not_icmp().is_some(),
                src: native_side(r.source(), ns),
                dst: native_side(r.destination(), ns),
            };
            (i, rule)
        })
        .collect()
}

/// Ports grouped by protocol, as Calico's converters group them: `None` as the ports of
/// a protocol means every port; the protocol `None` (with no ports) means every protocol.
type Group = (Option<u8>, Option<Vec<PortValue>>);
type Groups = Vec<Group>;

fn group_ports(entries: impl Iterator<Item = (Option<Protocol>, Option<PortValue>)>) -> Groups {
    let mut map: BTreeMap<Option<&'static str>, Group> = BTreeMap::new();
    for (protocol, port) in entries {
        let key = protocol.map(Protocol::as_str);
        let number = protocol.map(Protocol::number);
        match port {
            None => {
                map.insert(key, (number, None));
            }
            Some(port) => match map.get_mut(&key) {
                None => {
                    map.insert(key, (number, Some(vec![port])));
                }
                Some((_, Some(list))) => list.push(port),
                Some((_, None)) => {}
            },
        }
    }
    map.into_values().collect()
}

/// Calico's conversion of a Kubernetes NetworkPolicy's rules of a direction.
fn network_policy_rules(p: &Policy, direction: Direction) -> Vec<(usize, FelixRule<'_>)> {
    let mut out = Vec::new();
    for (ri, rule) in p.rules(direction).iter().enumerate() {
        let peers: Vec<Option<&Peer>> = match &rule.peers {
            Some(list) if !list.is_empty() => list.iter().map(Some).collect(),
            _ => vec![None],
        };
        let groups = match &rule.ports {
            Some(list) if !list.is_empty() => group_ports(list.iter().map(|pr| {
                let port = match &pr.port {
                    PortSpec::All => None,
                    PortSpec::Range { start, end } => Some(PortValue::Range(*start, *end)),
                    PortSpec::Named(n) => Some(PortValue::Name(n.clone())),
                };
                (Some(pr.protocol), port)
            })),
            _ => vec![(None, None)],
        };
        for (protocol, ports) in &groups {
            for peer in &peers {
                let mut side = Side::default();
                match peer {
                    None => {}
                    Some(Peer::IpBlock(block)) => {
                        side.nets = vec![block.cidr()];
                        side.not_nets = block.except().to_vec();
                    }
                    Some(Peer::Pods { namespaces, pods }) => {
                        let (members, _) = side_selectors(
                            namespaces.as_ref().map(Pred::K8sNamespaces),
                            Some(p.namespace()),
                            Some(Pred::K8sPods(pods)),
                            None,
                        );
                        side.members = members;
                    }
                }
                let mut r = FelixRule::new(Action::Allow);
                r.protocol = *protocol;
                let ports = ports.clone().unwrap_or_default();
                match direction {
                    Direction::Ingress => {
                        r.src = side;
                        r.dst.ports = ports;
                    }
                    Direction::Egress => {
                        side.ports = ports;
                        r.dst = side;
                    }
                }
                out.push((ri, r));
            }
        }
    }
    out
}

/// Calico's conversion of a ClusterNetworkPolicy's rules of a direction.
fn cluster_policy_rules(p: &ClusterPolicy, direction: Direction) -> Vec<(usize, FelixRule<'_>)> {
    let mut out = Vec::new();
    for (ri, rule) in p.rules(direction).iter().enumerate() {
        let convertible = |peer: &ClusterPeer| match peer {
            ClusterPeer::Namespaces(_) | ClusterPeer::Pods { .. } => true,
            ClusterPeer::Networks(_) => direction == Direction::Egress,
            _ => false,
        };
        if !rule.peers().iter().all(convertible) {
            // Fail closed: a Deny or Pass becomes a Deny of everything, an Accept goes.
            if rule.action() != Action::Allow {
                out.push((ri, FelixRule::new(Action::Deny)));
            }
            continue;
        }
        let groups = match rule.ports() {
            Some(list) if !list.is_empty() => group_ports(list.iter().map(|port| match port {
                ClusterPort::Ports {
                    protocol,
                    start,
                    end,
                    ..
                } => (Some(*protocol), Some(PortValue::Range(*start, *end))),
                ClusterPort::Named(n) => (None, Some(PortValue::Name(n.clone()))),
            })),
            _ => vec![(None, None)],
        };
        for (protocol, ports) in &groups {
            for peer in rule.peers() {
                let mut side = Side::default();
                match peer {
                    ClusterPeer::Namespaces(sel) => {
                        side.members =
                            side_selectors(Some(Pred::K8sNamespaces(sel)), None, None, None).0;
                    }
                    ClusterPeer::Pods { namespaces, pods } => {
                        side.members = side_selectors(
                            Some(Pred::K8sNamespaces(namespaces)),
                            None,
                            Some(Pred::K8sPods(pods)),
                            None,
                        )
                        .0;
                    }
                    ClusterPeer::Networks(nets) => side.nets = nets.clone(),
                    _ => {}
                }
                let mut r = FelixRule::new(rule.action());
                r.protocol = *protocol;
                let ports = ports.clone().unwrap_or_default();
                match direction {
                    Direction::Ingress => {
                        r.src = side;
                        r.dst.ports = ports;
                    }
                    Direction::Egress => {
                        side.ports = ports;
                        r.dst = side;
                    }
                }
                out.push((ri, r));
            }
        }
    }
    out
}

/// A tier as Felix orders it, with its policies in order.
#[derive(Debug, Clone)]
pub(super) struct Tier {
    tier: TierRef,
    pass: bool,
    items: Vec<Item>,
}

/// What the Felix reading derives once from the cluster and policies.
#[derive(Debug, Clone)]
pub(super) struct Prep<'a> {
    pods: Vec<Member<'a>>,
    sets: Vec<Member<'a>>,
    tiers: Vec<Tier>,
    network: Vec<[Vec<(usize, FelixRule<'a>)>; 2]>,
    cluster: Vec<[Vec<(usize, FelixRule<'a>)>; 2]>,
    calico: Vec<[Vec<(usize, FelixRule<'a>)>; 2]>,
}

fn dir_index(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Built-in tiers: name, order, whether the default action is Pass.
const BUILTIN_TIERS: [(&str, f64, bool); 3] = [
    ("kube-admin", 1_000.0, true),
    ("default", 1_000_000.0, false),
    ("kube-baseline", 10_000_000.0, true),
];

impl<'a> Prep<'a> {
    pub(super) fn new(cluster: &'a Cluster, policies: PolicySetRef<'a>) -> Self {
        let pods = cluster
            .pods()
            .map(|(_, p)| pod_member(cluster, p))
            .collect();
        let sets = policies
            .network_sets()
            .iter()
            .map(|s| set_member(cluster, s))
            .collect();

        // Tiers: the existing ones (built-in, then Tier objects, a later one replacing an
        // earlier of the same name) by order then name; then the tiers only policies name,
        // by name, each ending in Deny.
        let mut existing: Vec<(String, f64, bool)> = BUILTIN_TIERS
            .iter()
            .map(|(n, o, p)| ((*n).to_owned(), *o, *p))
            .collect();
        for t in policies.tiers() {
            let entry = (
                t.name().to_owned(),
                t.order(),
                t.default_action() == Action::Pass,
            );
            match existing.iter_mut().find(|(n, _, _)| n == t.name()) {
                Some(slot) => *slot = entry,
                None => existing.push(entry),
            }
        }
        existing.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
        let mut missing: Vec<String> = policies
            .calico_policies()
            .iter()
            .map(|p| p.tier().to_owned())
            .filter(|t| !existing.iter().any(|(n, _, _)| n == t))
            .collect();
        missing.sort();
        missing.dedup();
        let names: Vec<(String, bool)> = existing
            .into_iter()
            .map(|(n, _, p)| (n, p))
            .chain(missing.into_iter().map(|n| (n, false)))
            .collect();

        // Policies by tier: (order, `name/namespace/kind`, item).
        let mut entries: Vec<(String, f64, String, Item)> = Vec::new();
        for (i, p) in policies.network_policies().iter().enumerate() {
            entries.push((
                "default".into(),
                1000.0,
                format!("{}/{}/KubernetesNetworkPolicy", p.name(), p.namespace()),
                Item::Network(i),
            ));
        }
        for (i, p) in policies.cluster_policies().iter().enumerate() {
            let tier = match p.tier() {
                ClusterTier::Admin => "kube-admin",
                ClusterTier::Baseline => "kube-baseline",
            };
            entries.push((
                tier.into(),
                f64::from(p.priority()),
                format!("{}//KubernetesClusterNetworkPolicy", p.name()),
                Item::Cluster(i),
            ));
        }
        for (i, p) in policies.calico_policies().iter().enumerate() {
            let kind = match p.kind() {
                CalicoPolicyKind::Namespaced => "NetworkPolicy",
                CalicoPolicyKind::Global => "GlobalNetworkPolicy",
            };
            entries.push((
                p.tier().to_owned(),
                p.order().unwrap_or(f64::INFINITY),
                format!("{}/{}/{kind}", p.name(), p.namespace().unwrap_or("")),
                Item::Calico(i),
            ));
        }
        entries.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(Ordering::Equal)
                .then(a.2.cmp(&b.2))
        });
        let tiers = names
            .into_iter()
            .map(|(name, pass)| Tier {
                tier: TierRef::from_calico(&name),
                pass,
                items: entries
                    .iter()
                    .filter(|e| e.0 == name)
                    .map(|e| e.3)
                    .collect(),
            })
            .collect();

        let both = |f: &dyn Fn(Direction) -> Vec<(usize, FelixRule<'a>)>| {
            [f(Direction::Ingress), f(Direction::Egress)]
        };
        Prep {
            pods,
            sets,
            tiers,
            network: policies
                .network_policies()
                .iter()
                .map(|p| both(&|d| network_policy_rules(p, d)))
                .collect(),
            cluster: policies
                .cluster_policies()
                .iter()
                .map(|p| both(&|d| cluster_policy_rules(p, d)))
                .collect(),
            calico: policies
                .calico_policies()
                .iter()
                .map(|p| both(&|d| native_rules(p, d)))
                .collect(),
        }
    }

    fn rules(&self, item: Item, direction: Direction) -> &[(usize, FelixRule<'a>)] {
        let d = dir_index(direction);
        let list = match item {
            Item::Network(i) => self.network.get(i),
            Item::Cluster(i) => self.cluster.get(i),
            Item::Calico(i) => self.calico.get(i),
        };
        list.and_then(|l| l.get(d)).map_or(&[], Vec::as_slice)
    }

    /// Every policy item in Felix's walk order.
    pub(super) fn walk_order(&self) -> impl Iterator<Item = Item> + '_ {
        self.tiers.iter().flat_map(|t| t.items.iter().copied())
    }
}

/// How a rule fares against a flow.
#[derive(PartialEq, Eq)]
enum Outcome {
    NoMatch,
    Match,
    /// Every criterion the flow can decide matches, but the rule has others.
    Undecidable,
}

impl<'a> Reference<'a> {
    fn prep(&self) -> &Prep<'a> {
        &self.felix
    }

    /// Whether a policy selects the pod (by its position in the cluster) for the
    /// direction, as Felix decides it (whatever the profile enforces).
    pub(super) fn felix_selects(&self, item: Item, pod: usize, direction: Direction) -> bool {
        let Some(m) = self.prep().pods.get(pod) else {
            return false;
        };
        match item {
            Item::Network(i) => self.policies.network_policies().get(i).is_some_and(|p| {
                p.affects(direction)
                    && Pred::NamespaceIs(p.namespace()).holds(m)
                    && Pred::K8sPods(p.pod_selector()).holds(m)
            }),
            // A converted ClusterNetworkPolicy governs the directions it has rules for.
            Item::Cluster(i) => self.policies.cluster_policies().get(i).is_some_and(|p| {
                !self.prep().rules(item, direction).is_empty()
                    && match p.subject() {
                        Subject::Namespaces(sel) => {
                            // The pod selector is the orchestrator term alone.
                            let everything = K8sSelector::everything();
                            Pred::And(vec![Pred::K8sPods(&everything), Pred::K8sNamespaces(sel)])
                                .holds(m)
                        }
                        Subject::Pods { namespaces, pods } => {
                            Pred::And(vec![Pred::K8sPods(pods), Pred::K8sNamespaces(namespaces)])
                                .holds(m)
                        }
                    }
            }),
            Item::Calico(i) => self.policies.calico_policies().get(i).is_some_and(|p| {
                p.applies_to_pods() && p.governs(direction) && calico_endpoint_selects(p, m)
            }),
        }
    }

    /// The Felix walk of one direction at a pod, from the tiers on (the caller has
    /// handled what comes before any tier).
    pub(super) fn felix_walk(
        &self,
        flow: Flow<'_>,
        direction: Direction,
        own_node: bool,
        walk: &mut Walk,
    ) {
        let prep = self.prep();
        for tier in &prep.tiers {
            let applying: Vec<Item> = tier
                .items
                .iter()
                .copied()
                .filter(|i| walk.selecting.contains(i))
                .collect();
            if applying.is_empty() {
                continue;
            }
            // Once a NetworkPolicy rule allowed, the rest of the tier only adds the other
            // NetworkPolicy rules that allow to the explanation.
            let mut allowed = false;
            let mut passed = false;
            'policies: for &item in &applying {
                if own_node && matches!(item, Item::Network(_)) {
                    // NetworkPolicy always allows traffic between a pod and its own node
                    // where the profile exempts it.
                    if !allowed {
                        walk.decision = WalkDecision::OwnNode;
                        return;
                    }
                    continue;
                }
                for (ri, rule) in prep.rules(item, direction) {
                    let outcome = self.felix_outcome(rule, flow);
                    if let (Item::Network(i), Outcome::Match) = (item, &outcome) {
                        if !walk.allowed_by.contains(&(i, *ri)) {
                            walk.allowed_by.push((i, *ri));
                        }
                        if !allowed {
                            walk.decision = WalkDecision::Rule(item, *ri, Action::Allow);
                            allowed = true;
                        }
                        continue;
                    }
                    if allowed {
                        continue;
                    }
                    match outcome {
                        Outcome::NoMatch => {}
                        Outcome::Undecidable => {
                            if !walk.unsupported.contains(&(item, *ri)) {
                                walk.unsupported.push((item, *ri));
                            }
                        }
                        Outcome::Match => match rule.action {
                            Action::Pass => {
                                walk.steps.push((item, *ri, Action::Pass));
                                passed = true;
                                break 'policies;
                            }
                            Action::Log => walk.steps.push((item, *ri, Action::Log)),
                            action => {
                                walk.decision = WalkDecision::Rule(item, *ri, action);
                                return;
                            }
                        },
                    }
                }
            }
            if allowed {
                return;
            }
            if passed || tier.pass {
                continue;
            }
            walk.decision = WalkDecision::TierDefault(tier.tier.clone());
            walk.defaulted = applying;
            return;
        }
    }

    fn felix_outcome(&self, rule: &FelixRule<'_>, flow: Flow<'_>) -> Outcome {
        // A flow without any address (pods without IPs, which Felix never sees) is taken
        // as IPv4.
        let v6 = self.cluster.flow_is_v6(flow).unwrap_or(false);
        if let Some(v) = rule.ip_version {
            if v6 != (v == 6) {
                return Outcome::NoMatch;
            }
        }
        // The family filter: a list of nets holding none of the flow's family drops the
        // rule, and so does a negated list holding the family's catch-all.
        let family = |n: &IpNet| matches!(n, IpNet::V6(_)) == v6;
        for (list, negated) in [
            (&rule.src.nets, false),
            (&rule.src.not_nets, true),
            (&rule.dst.nets, false),
            (&rule.dst.not_nets, true),
        ] {
            if list.is_empty() {
                continue;
            }
            let kept: Vec<&IpNet> = list.iter().filter(|n| family(n)).collect();
            if kept.is_empty() || (negated && kept.iter().any(|n| n.prefix_len() == 0)) {
                return Outcome::NoMatch;
            }
        }
        let proto = flow.protocol.number();
        if rule.protocol.is_some_and(|p| p != proto) || rule.not_protocol == Some(proto) {
            return Outcome::NoMatch;
        }
        if rule.icmp {
            // Flows are TCP, UDP or SCTP: an ICMP type match never holds.
            return Outcome::NoMatch;
        }
        if !self.side_matches(&rule.src, flow.src, rule.protocol, flow, false)
            || !self.side_matches(&rule.dst, flow.dst, rule.protocol, flow, true)
        {
            return Outcome::NoMatch;
        }
        if rule.undecidable() {
            Outcome::Undecidable
        } else {
            Outcome::Match
        }
    }

    /// The member a pod endpoint is (pod addresses are unique in a cluster, so a pod is
    /// the member its address names).
    fn pod_of(&self, e: Endpoint) -> Option<&Member<'a>> {
        match e {
            Endpoint::Pod(id) => self.prep().pods.get(id.index()),
            _ => None,
        }
    }

    /// Whether the endpoint, at its address in the flow, belongs to a member `pred`
    /// matches: the pod itself, or a network set whose nets hold the address.
    fn in_members(&self, e: Endpoint, addr: Option<IpAddr>, pred: &Pred<'_>) -> bool {
        self.pod_of(e).is_some_and(|m| pred.holds(m))
            || addr.is_some_and(|a| self.prep().sets.iter().any(|m| m.holds(a) && pred.holds(m)))
    }

    /// Whether the endpoint, with the flow's protocol and port, is a member of a named
    /// port's set: a pod matching `members` (every pod when `None`) declaring a port of
    /// that name whose protocol suits the rule's, with the flow's protocol and number.
    fn in_named_port(
        &self,
        e: Endpoint,
        name: &str,
        rule_protocol: Option<u8>,
        members: Option<&Pred<'_>>,
        flow: Flow<'_>,
    ) -> bool {
        self.pod_of(e).is_some_and(|m| {
            members.is_none_or(|p| p.holds(m))
                && m.pod.is_some_and(|pod| {
                    pod.ports.iter().any(|cp| {
                        cp.name.as_deref() == Some(name)
                            && rule_protocol.is_none_or(|p| p == cp.protocol.number())
                            && cp.protocol == flow.protocol
                            && cp.port == flow.port
                    })
                })
        })
    }

    fn side_matches(
        &self,
        side: &Side<'_>,
        e: Endpoint,
        rule_protocol: Option<u8>,
        flow: Flow<'_>,
        destination: bool,
    ) -> bool {
        let addr = self.cluster.address(flow, e);
        let v6 = self.cluster.flow_is_v6(flow).unwrap_or(false);
        let family = |n: &&IpNet| matches!(n, IpNet::V6(_)) == v6;
        if !side.nets.is_empty()
            && !addr.is_some_and(|a| side.nets.iter().filter(family).any(|n| n.contains(&a)))
        {
            return false;
        }
        if addr.is_some_and(|a| side.not_nets.iter().filter(family).any(|n| n.contains(&a))) {
            return false;
        }
        if let Some(p) = &side.members {
            if !self.in_members(e, addr, p) {
                return false;
            }
        }
        if let Some(n) = &side.not_members {
            if self.in_members(e, addr, n) {
                return false;
            }
        }
        if !destination {
            // Source ports are undecidable: the caller reports the rule.
            return true;
        }
        let port_in = |p: &PortValue| match p {
            PortValue::Range(lo, hi) => (*lo..=*hi).contains(&flow.port),
            PortValue::Name(n) => {
                self.in_named_port(e, n, rule_protocol, side.members.as_ref(), flow)
            }
        };
        if !side.ports.is_empty() && !side.ports.iter().any(port_in) {
            return false;
        }
        !side.not_ports.iter().any(port_in)
    }
}

/// Whether a Calico policy's selector (with its namespace, `namespaceSelector` and
/// `serviceAccountSelector` as Calico's update processors fold them in) selects the pod.
fn calico_endpoint_selects(p: &CalicoPolicy, m: &Member<'_>) -> bool {
    match p.kind() {
        CalicoPolicyKind::Namespaced => {
            p.namespace()
                .is_some_and(|ns| Pred::NamespaceIs(ns).holds(m))
                && calico(p.selector(), "", Fixed::True, Fixed::True).holds(m)
                && p.service_account_selector()
                    .is_none_or(|s| calico(s, SA_PREFIX, Fixed::True, Fixed::True).holds(m))
        }
        CalicoPolicyKind::Global => {
            // Every `all()` of the text built so far is rewritten when a namespace or
            // service account selector is appended.
            let ns = p.namespace_selector();
            let sa = p.service_account_selector();
            let main_all = match (ns, sa) {
                (Some(_), _) => Fixed::Has(NAMESPACE),
                // A selector that was not written is no text: nothing to rewrite.
                (None, Some(_)) if p.selector_is_written() => Fixed::Has(SERVICE_ACCOUNT),
                _ => Fixed::True,
            };
            calico(p.selector(), "", main_all, Fixed::True).holds(m)
                && ns.is_none_or(|s| {
                    calico(s, NS_PREFIX, Fixed::Has(NAMESPACE), Fixed::True).holds(m)
                })
                && sa.is_none_or(|s| {
                    calico(s, SA_PREFIX, Fixed::Has(SERVICE_ACCOUNT), Fixed::True).holds(m)
                })
        }
    }
}
