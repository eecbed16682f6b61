//! Verdicts and explanations, shared by the compiled engine and the reference evaluator.
//!
//! An [`Explanation`] says, for each direction of a flow (egress at the source, ingress
//! at the destination), which policies select the endpoint there, how the walk through
//! the tiers went (rules that passed the flow on, or logged it) and what decided: a rule
//! with its tier, policy, index and action, a tier's default (NetworkPolicy isolation), or
//! nothing at all (no policy selects the endpoint, which allows). It serializes to JSON
//! and prints as text.
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::explain::{Decision, TierRef};
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Action, Policy};
//! use netpol::reference::Reference;
//!
//! let cluster = Cluster::builder().pod(PodSpec::new("prod", "db")).build()?;
//! let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
//! let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
//! let outside = Endpoint::External("203.0.113.7".parse()?);
//! let why = Reference::new(&cluster, &policies, Default::default())
//!     .explain(Flow::new(outside, db, 5432, Default::default()));
//! assert!(!why.verdict.is_allowed());
//! assert!(matches!(why.ingress.decision,
//!     Decision::TierDefault { tier: TierRef::NetworkPolicy, action: Action::Deny }));
//! assert_eq!(why.to_string(), "\
//! 203.0.113.7 -> prod/db 5432/TCP: DENY
//!   egress at 203.0.113.7: not a pod, no policy applies
//!   ingress at prod/db: isolated by prod/default-deny; no rule allows it, denied");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::policy::{Action, Direction, PolicyKind};

/// Allowed or denied.
///
/// ```
/// use netpol::explain::Verdict;
/// assert_eq!(serde_json::to_string(&Verdict::Allow).unwrap(), "\"allow\"");
/// assert!(Verdict::from(true).is_allowed());
/// assert_eq!("deny".parse::<Verdict>(), Ok(Verdict::Deny));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[must_use]
pub enum Verdict {
    /// The flow is allowed.
    Allow,
    /// The flow is denied.
    Deny,
}

impl Verdict {
    /// True for [`Verdict::Allow`].
    ///
    /// ```
    /// assert!(!netpol::explain::Verdict::Deny.is_allowed());
    /// ```
    #[must_use]
    pub fn is_allowed(self) -> bool {
        self == Verdict::Allow
    }

    /// `allow` or `deny`.
    ///
    /// ```
    /// assert_eq!(netpol::explain::Verdict::Deny.as_str(), "deny");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

impl From<bool> for Verdict {
    fn from(allowed: bool) -> Self {
        if allowed {
            Verdict::Allow
        } else {
            Verdict::Deny
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict name that is not `allow` or `deny`.
///
/// ```
/// let err = "maybe".parse::<netpol::explain::Verdict>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown verdict "maybe": expected "allow" or "deny""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verdict \"{0}\": expected \"allow\" or \"deny\"")]
pub struct UnknownVerdict(String);

impl FromStr for Verdict {
    type Err = UnknownVerdict;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Verdict::Allow),
            "deny" => Ok(Verdict::Deny),
            other => Err(UnknownVerdict(other.to_owned())),
        }
    }
}

/// A case that changes how the whole flow is evaluated.
///
/// ```
/// use netpol::explain::Special;
/// assert_eq!(serde_json::to_string(&Special::SelfTraffic)?, "\"selfTraffic\"");
/// assert_eq!(
///     Special::OwnNode.to_string(),
///     "traffic between a pod and its own node: NetworkPolicy always allows it"
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Special {
    /// A pod talking to itself: allowed before any policy is read.
    SelfTraffic,
    /// A pod and the node it runs on, where the profile exempts that traffic from
    /// NetworkPolicy: the NetworkPolicy tier allows it for a pod it selects (whatever its
    /// rules say), and other policy kinds still apply.
    OwnNode,
    /// The profile enforces no policy of any kind: every flow is allowed.
    NotEnforced,
    /// A pod or node id that the evaluator's cluster does not hold (another cluster's,
    /// or stale): the flow is denied.
    UnknownEndpoint,
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Special::SelfTraffic => "traffic from a pod to itself is always allowed",
            Special::OwnNode => {
                "traffic between a pod and its own node: NetworkPolicy always allows it"
            }
            Special::NotEnforced => "the network plugin enforces no network policy",
            Special::UnknownEndpoint => {
                "a pod or node of the flow is not in this cluster (an id of another cluster, or stale): denied"
            }
        })
    }
}

/// A tier of the evaluation order.
///
/// ```
/// use netpol::explain::TierRef;
/// assert_eq!(TierRef::Admin.to_string(), "Admin tier");
/// assert_eq!(TierRef::NetworkPolicy.to_string(), "NetworkPolicy tier");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TierRef {
    /// ClusterNetworkPolicy's Admin tier, before NetworkPolicy (Calico's `kube-admin`).
    Admin,
    /// The tier of Kubernetes NetworkPolicy. Under Calico this is Calico's `default`
    /// tier, which also holds the Calico policies that name no tier.
    NetworkPolicy,
    /// ClusterNetworkPolicy's Baseline tier, after NetworkPolicy (Calico's
    /// `kube-baseline`).
    Baseline,
    /// Any other Calico tier, by name.
    Calico(String),
}

impl TierRef {
    /// The tier of Calico's tier name: `kube-admin`, `default` and `kube-baseline` are
    /// [`Admin`](Self::Admin), [`NetworkPolicy`](Self::NetworkPolicy) and
    /// [`Baseline`](Self::Baseline).
    ///
    /// ```
    /// use netpol::explain::TierRef;
    /// assert_eq!(TierRef::from_calico("default"), TierRef::NetworkPolicy);
    /// assert_eq!(TierRef::from_calico("security"), TierRef::Calico("security".into()));
    /// ```
    #[must_use]
    pub fn from_calico(name: &str) -> Self {
        match name {
            "kube-admin" => TierRef::Admin,
            "default" => TierRef::NetworkPolicy,
            "kube-baseline" => TierRef::Baseline,
            other => TierRef::Calico(other.to_owned()),
        }
    }
}

impl fmt::Display for TierRef {
    /// For people (`Admin tier`, `Calico tier security`): not parsed back;
    /// [`TierRef::from_calico`] reads Calico's tier names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierRef::Admin => f.write_str("Admin tier"),
            TierRef::NetworkPolicy => f.write_str("NetworkPolicy tier"),
            TierRef::Baseline => f.write_str("Baseline tier"),
            TierRef::Calico(name) => write!(f, "Calico tier {name}"),
        }
    }
}

/// A policy, by kind, position and name.
///
/// `index` is the policy's position among the evaluator's policies of its kind
/// ([`PolicySet::network_policies`](crate::policy::PolicySet::network_policies) or
/// [`cluster_policies`](crate::policy::PolicySet::cluster_policies)).
///
/// ```
/// use netpol::explain::PolicyRef;
/// use netpol::policy::PolicyKind;
/// let p = PolicyRef::new(PolicyKind::NetworkPolicy, 0, Some("prod"), "allow-api-to-db");
/// assert_eq!(p.to_string(), "prod/allow-api-to-db");
/// let c = PolicyRef::new(PolicyKind::ClusterNetworkPolicy, 3, None, "deny-external");
/// assert_eq!(c.to_string(), "cnp/deny-external");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PolicyRef {
    /// The policy's kind.
    #[serde(with = "kind_serde")]
    pub kind: PolicyKind,
    /// Position among the evaluator's policies of that kind.
    pub index: usize,
    /// Namespace, for namespaced kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

mod kind_serde {
    use crate::policy::PolicyKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(k: &PolicyKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PolicyKind, D::Error> {
        let s = String::deserialize(d)?;
        match PolicyKind::ALL.iter().find(|k| k.as_str() == s) {
            Some(kind) => Ok(*kind),
            None => Err(serde::de::Error::custom(format!(
                "unknown policy kind \"{s}\""
            ))),
        }
    }
}

impl PolicyRef {
    /// A reference from its parts.
    ///
    /// ```
    /// use netpol::explain::PolicyRef;
    /// let p = PolicyRef::new(netpol::policy::PolicyKind::NetworkPolicy, 1, Some("a"), "b");
    /// assert_eq!((p.index, p.name.as_str()), (1, "b"));
    /// ```
    pub fn new(kind: PolicyKind, index: usize, namespace: Option<&str>, name: &str) -> Self {
        PolicyRef {
            kind,
            index,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.namespace) {
            (PolicyKind::ClusterNetworkPolicy, _) => write!(f, "cnp/{}", self.name),
            (PolicyKind::CalicoNetworkPolicy, Some(ns)) => write!(f, "calico/{ns}/{}", self.name),
            (PolicyKind::GlobalNetworkPolicy, _) => write!(f, "gnp/{}", self.name),
            (_, Some(ns)) => write!(f, "{ns}/{}", self.name),
            (_, None) => f.write_str(&self.name),
        }
    }
}

/// A rule of a policy: `spec.ingress[rule]` or `spec.egress[rule]`.
///
/// ```
/// use netpol::explain::{PolicyRef, RuleRef};
/// use netpol::policy::{Direction, PolicyKind};
/// let policy = PolicyRef::new(PolicyKind::NetworkPolicy, 0, Some("prod"), "allow-dns");
/// let rule = RuleRef::new(policy, Direction::Egress, 1);
/// assert_eq!(rule.to_string(), "prod/allow-dns spec.egress[1]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleRef {
    /// The policy.
    pub policy: PolicyRef,
    /// Which list the rule is in.
    pub direction: Direction,
    /// Index in that list.
    pub rule: usize,
}

impl RuleRef {
    /// A reference from its parts.
    ///
    /// ```
    /// use netpol::explain::{PolicyRef, RuleRef};
    /// use netpol::policy::{Direction, PolicyKind};
    /// let r = RuleRef::new(PolicyRef::new(PolicyKind::ClusterNetworkPolicy, 0, None, "x"), Direction::Ingress, 0);
    /// assert_eq!(r.to_string(), "cnp/x spec.ingress[0]");
    /// ```
    #[must_use]
    pub fn new(policy: PolicyRef, direction: Direction, rule: usize) -> Self {
        RuleRef {
            policy,
            direction,
            rule,
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} spec.{}[{}]",
            self.policy,
            self.direction.field(),
            self.rule
        )
    }
}

/// A rule that matched without deciding: a `Pass` (the walk went on with the next tier)
/// or a `Log` (it went on with the next rule).
///
/// ```
/// use netpol::explain::{PolicyRef, RuleRef, Step, TierRef};
/// use netpol::policy::{Action, Direction, PolicyKind};
/// let rule = RuleRef::new(PolicyRef::new(PolicyKind::ClusterNetworkPolicy, 0, None, "delegate"), Direction::Egress, 0);
/// let step = Step::new(TierRef::Admin, rule, Action::Pass);
/// assert_eq!(step.to_string(), "Admin tier, cnp/delegate spec.egress[0]: Pass");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// The tier of the rule's policy.
    pub tier: TierRef,
    /// The rule.
    pub rule: RuleRef,
    /// `Pass` or `Log`.
    pub action: Action,
}

impl Step {
    /// A step from its parts.
    ///
    /// ```
    /// # use netpol::explain::{PolicyRef, RuleRef, Step, TierRef};
    /// # use netpol::policy::{Action, Direction, PolicyKind};
    /// # let rule = RuleRef::new(PolicyRef::new(PolicyKind::ClusterNetworkPolicy, 0, None, "p"), Direction::Egress, 0);
    /// assert_eq!(Step::new(TierRef::Baseline, rule, Action::Pass).action, Action::Pass);
    /// ```
    #[must_use]
    pub fn new(tier: TierRef, rule: RuleRef, action: Action) -> Self {
        Step { tier, rule, action }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}: {}", self.tier, self.rule, self.action)
    }
}

/// What decided one direction of a flow.
///
/// ```
/// use netpol::explain::Decision;
/// assert!(Decision::NotAPod.is_allowed() && Decision::NoDecision.is_allowed());
/// assert!(!Decision::UnknownEndpoint.is_allowed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "by")]
#[non_exhaustive]
pub enum Decision {
    /// The endpoint is not a pod (a node or an outside address): no policy applies.
    NotAPod,
    /// The endpoint is not in the evaluator's cluster: denied.
    UnknownEndpoint,
    /// The flow is decided before any policy is read (self traffic, or a profile that
    /// enforces nothing).
    Exempt,
    /// A rule matched and decided with its action (`Allow` or `Deny`).
    Rule {
        /// The tier of the rule's policy.
        tier: TierRef,
        /// The rule.
        rule: RuleRef,
        /// `Allow` or `Deny`.
        action: Action,
    },
    /// Traffic between a pod and its own node, which NetworkPolicy always allows (where
    /// the profile says so): a NetworkPolicy selects the pod for this direction, so the
    /// NetworkPolicy tier decides, and allows.
    OwnNode,
    /// A pod reaching itself through a Service address (hairpin): the service proxy
    /// masquerades it to its node's address, so the NetworkPolicy tier allows it for a pod
    /// it selects, as it allows a node's traffic to its own pods.
    Hairpin,
    /// A tier whose policies select the endpoint matched no rule, and its default
    /// applied: for the NetworkPolicy tier, isolation (`Deny`).
    TierDefault {
        /// The tier.
        tier: TierRef,
        /// The default action (`Deny`).
        action: Action,
    },
    /// Every tier was walked and none decided: allowed (the Kubernetes default).
    NoDecision,
}

impl Decision {
    /// Whether this decision allows the direction.
    ///
    /// ```
    /// use netpol::explain::{Decision, TierRef};
    /// use netpol::policy::Action;
    /// assert!(!Decision::TierDefault { tier: TierRef::NetworkPolicy, action: Action::Deny }.is_allowed());
    /// ```
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        match self {
            Decision::NotAPod
            | Decision::Exempt
            | Decision::OwnNode
            | Decision::Hairpin
            | Decision::NoDecision => true,
            Decision::UnknownEndpoint => false,
            Decision::Rule { action, .. } | Decision::TierDefault { action, .. } => {
                *action == Action::Allow
            }
        }
    }
}

/// What one direction of a flow decided: egress at the source, ingress at the destination.
///
/// ```
/// # use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// # use netpol::model::NetworkPolicy;
/// # use netpol::policy::Policy;
/// # use netpol::reference::Reference;
/// let cluster = Cluster::builder().pod(PodSpec::new("prod", "db")).build()?;
/// let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
/// let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
/// let web = Endpoint::External("203.0.113.7".parse()?);
/// let reference = Reference::new(&cluster, &policies, Default::default());
/// let side = reference.explain(Flow::new(web, db, 5432, Default::default())).ingress;
/// assert!(side.is_pod && side.isolated && side.allowed_by.is_empty() && !side.allowed);
/// assert_eq!(side.to_string(),
///     "ingress at prod/db: isolated by prod/default-deny; no rule allows it, denied");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SideExplanation {
    /// The direction checked on this side.
    pub direction: Direction,
    /// The endpoint, as [`Cluster::describe`] writes it.
    pub endpoint: String,
    /// Whether the endpoint is a pod (only pods are subject to policy).
    pub is_pod: bool,
    /// Every policy taking part that selects the endpoint for this direction, in
    /// evaluation order: Admin tier (by priority, then name), NetworkPolicy tier (in the
    /// evaluator's order), Baseline tier.
    pub policies: Vec<PolicyRef>,
    /// Whether a NetworkPolicy isolates the pod in this direction.
    pub isolated: bool,
    /// When a tier's default decided ([`Decision::TierDefault`]): the policies of that
    /// tier that select the endpoint for this direction, whose default applied, in
    /// evaluation order (for the NetworkPolicy tier, which under Calico is Calico's
    /// `default` tier, the NetworkPolicies and the Calico policies of that tier);
    /// otherwise empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier_policies: Vec<PolicyRef>,
    /// When the walk reached the NetworkPolicy tier: every NetworkPolicy rule that allows
    /// the flow, in policy then rule order (rules of NetworkPolicy only add up).
    pub allowed_by: Vec<RuleRef>,
    /// Rules that matched without deciding, in walk order.
    pub steps: Vec<Step>,
    /// What decided.
    pub decision: Decision,
    /// Pairs of selecting ClusterNetworkPolicies of one tier with the same priority: their
    /// relative order is left open upstream (this crate orders them by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_ties: Vec<(PolicyRef, PolicyRef)>,
    /// Policies that select the endpoint but that the profile's plugin does not enforce
    /// (they take no part).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<PolicyRef>,
    /// Rules the walk met before deciding that could match this flow but hold criteria a
    /// flow cannot decide (Calico source ports, Service matches, an ICMP negation on a
    /// rule that is not ICMP's): they were taken as not matching, so the answer holds
    /// only if they do not match the real traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<RuleRef>,
    /// Whether this side allows the flow.
    pub allowed: bool,
}

impl SideExplanation {
    /// The answer for a side before any policy is read: allowed, nothing selects it; the
    /// evaluator fills in the rest.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint};
    /// use netpol::explain::{Decision, SideExplanation};
    /// use netpol::policy::Direction;
    /// let c = Cluster::builder().build().unwrap();
    /// let side = SideExplanation::open(&c, Direction::Ingress, Endpoint::External("192.0.2.1".parse().unwrap()));
    /// assert!(side.allowed && !side.isolated && !side.is_pod);
    /// assert_eq!(side.decision, Decision::NotAPod);
    /// ```
    #[must_use]
    pub fn open(cluster: &Cluster, direction: Direction, endpoint: Endpoint) -> Self {
        SideExplanation {
            direction,
            endpoint: cluster.describe(endpoint),
            is_pod: false,
            policies: Vec::new(),
            isolated: false,
            tier_policies: Vec::new(),
            allowed_by: Vec::new(),
            steps: Vec::new(),
            decision: Decision::NotAPod,
            priority_ties: Vec::new(),
            ignored: Vec::new(),
            unsupported: Vec::new(),
            allowed: true,
        }
    }

    /// Sets the decision and `allowed` from it.
    pub(crate) fn decide(&mut self, decision: Decision) {
        self.allowed = decision.is_allowed();
        self.decision = decision;
    }
}

/// The full answer for one flow.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::reference::Reference;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
/// let r = Reference::new(&cluster, &[], Default::default());
/// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
/// let b = Endpoint::Pod(cluster.pod_id("x", "b").unwrap());
/// let e = r.explain(Flow::new(a, b, 80, Default::default()));
/// assert!(e.verdict.is_allowed());
/// assert!(!e.ingress.isolated);
/// assert!(e.to_string().contains("not isolated"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Explanation {
    /// The flow, described: `source -> destination port/protocol`.
    pub flow: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A case that changed how the flow was evaluated, if any (the sides are still
    /// reported).
    pub special: Option<Special>,
    /// Egress at the source.
    pub egress: SideExplanation,
    /// Ingress at the destination.
    pub ingress: SideExplanation,
    /// What is worth knowing about the flow beyond the verdict (it never changes it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// Something worth knowing about a flow that does not change its verdict.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::explain::Note;
/// use netpol::reference::Reference;
/// let cluster = Cluster::builder()
///     .node("node-1", ["192.168.0.11".parse()?])
///     .pod(PodSpec::new("shop", "app").ip("10.244.1.20".parse()?).node("node-1"))
///     .build()?;
/// let app = Endpoint::Pod(cluster.pod_id("shop", "app").unwrap());
/// let out = Endpoint::External("198.51.100.7".parse()?);
/// let why = Reference::new(&cluster, &[], Default::default()).explain(Flow::new(app, out, 443, Default::default()));
/// assert_eq!(why.notes, [Note::OutgoingNat { node: Some("node-1".into()), address: Some("192.168.0.11".parse()?) }]);
/// assert!(why.to_string().ends_with("note: outside the cluster the connection comes from node-1's address \
/// 192.168.0.11 (the network plugin's outgoing NAT, after the policy): the policy decides on the pod's own address"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "note")]
#[non_exhaustive]
pub enum Note {
    /// A pod connects to an address outside the cluster: the policy judges the pod's own
    /// address, and after it the network plugin's outgoing NAT (a MASQUERADE in nat
    /// POSTROUTING: Calico's IP pool `natOutgoing`, flannel's `--ip-masq`, kube-router's
    /// `--enable-pod-egress`, Cilium's masquerading) gives the connection its node's
    /// address, which is what the outside world sees.
    OutgoingNat {
        /// The pod's node, when known.
        node: Option<String>,
        /// That node's address of the flow's family, when known.
        address: Option<std::net::IpAddr>,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::OutgoingNat { node, address } => {
                f.write_str("outside the cluster the connection comes from ")?;
                match (node, address) {
                    (Some(n), Some(a)) => write!(f, "{n}'s address {a}")?,
                    (Some(n), None) => write!(f, "{n}'s address")?,
                    _ => f.write_str("its node's address")?,
                }
                f.write_str(
                    " (the network plugin's outgoing NAT, after the policy): the policy decides on the pod's own address",
                )
            }
        }
    }
}

impl Explanation {
    /// Describes a flow as explanations write it (see [`Cluster::describe_flow`]).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow};
    /// use netpol::explain::Explanation;
    /// let c = Cluster::builder().build().unwrap();
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let f = Flow::new(ip, ip, 53, netpol::policy::Protocol::Udp);
    /// assert_eq!(Explanation::describe_flow(&c, f), "192.0.2.1 -> 192.0.2.1 53/UDP");
    /// ```
    #[must_use]
    pub fn describe_flow(cluster: &Cluster, flow: Flow<'_>) -> String {
        let mut text = cluster.describe_flow(flow);
        if let Some(domain) = flow.domain {
            text.push_str(&format!(" (resolved from {domain})"));
        }
        text
    }

    /// Assembles the answer from the two sides and the special case, with the verdict
    /// the sides and the special case imply.
    pub(crate) fn assemble(
        cluster: &Cluster,
        flow: Flow<'_>,
        special: Option<Special>,
        egress: SideExplanation,
        ingress: SideExplanation,
    ) -> Self {
        let allowed = match special {
            Some(Special::SelfTraffic | Special::NotEnforced) => true,
            Some(Special::UnknownEndpoint) => false,
            Some(Special::OwnNode) | None => egress.allowed && ingress.allowed,
        };
        let mut notes = Vec::new();
        if let (Endpoint::Pod(id), Endpoint::External(_)) = (flow.src, flow.dst) {
            if special != Some(Special::UnknownEndpoint) {
                let node = cluster.pod(id).and_then(|p| p.node);
                let address = node.and_then(|n| cluster.address(flow, Endpoint::Node(n)));
                notes.push(Note::OutgoingNat {
                    node: node.and_then(|n| cluster.node(n)).map(|n| n.name.clone()),
                    address,
                });
            }
        }
        Explanation {
            flow: Explanation::describe_flow(cluster, flow),
            verdict: Verdict::from(allowed),
            special,
            egress,
            ingress,
            notes,
        }
    }
}

impl fmt::Display for SideExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.direction.field();
        write!(f, "{dir} at {}: ", self.endpoint)?;
        if !self.is_pod {
            return match self.decision {
                Decision::UnknownEndpoint => f.write_str("not in this cluster, denied"),
                _ => f.write_str("not a pod, no policy applies"),
            };
        }
        for step in &self.steps {
            write!(f, "{step}; ")?;
        }
        let join = |list: &mut dyn Iterator<Item = &PolicyRef>| {
            list.map(ToString::to_string).collect::<Vec<_>>().join(", ")
        };
        let isolated_by = || {
            join(
                &mut self
                    .policies
                    .iter()
                    .filter(|p| p.kind == PolicyKind::NetworkPolicy),
            )
        };
        // "isolated by" the NetworkPolicies selecting the pod, or else "selected by" the
        // policies that do (under Calico, policies of other kinds).
        let selected_by = || {
            if self.isolated {
                format!("isolated by {}; ", isolated_by())
            } else if self.policies.is_empty() {
                String::new()
            } else {
                format!("selected by {}; ", join(&mut self.policies.iter()))
            }
        };
        match &self.decision {
            Decision::NotAPod => f.write_str("not a pod, no policy applies")?,
            Decision::UnknownEndpoint => f.write_str("not in this cluster, denied")?,
            Decision::Exempt => f.write_str("exempt, allowed")?,
            Decision::OwnNode => write!(
                f,
                "{}traffic between a pod and its own node is always allowed",
                selected_by()
            )?,
            Decision::Hairpin => write!(
                f,
                "{}a pod reaching itself through a Service is masqueraded to its node, which NetworkPolicy allows",
                selected_by()
            )?,
            Decision::Rule {
                tier: TierRef::NetworkPolicy,
                rule,
                action: Action::Allow,
            } if rule.policy.kind == PolicyKind::NetworkPolicy => {
                let rules: Vec<String> = self.allowed_by.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "isolated by {}; allowed by {}",
                    isolated_by(),
                    rules.join(", ")
                )?;
            }
            Decision::Rule { tier, rule, action } => write!(f, "{tier}, {rule}: {action}")?,
            Decision::TierDefault {
                tier: TierRef::NetworkPolicy,
                ..
            } => write!(
                f,
                "isolated by {}; no rule allows it, denied",
                join(&mut self.tier_policies.iter())
            )?,
            Decision::TierDefault { tier, action } => write!(
                f,
                "{tier}: no rule of {} matched, default {action}",
                join(&mut self.tier_policies.iter())
            )?,
            Decision::NoDecision if self.policies.is_empty() => {
                write!(f, "not isolated (no policy selects it for {dir}), allowed")?
            }
            Decision::NoDecision => f.write_str("no rule decided in any tier, allowed")?,
        }
        for (a, b) in &self.priority_ties {
            write!(
                f,
                "; note: {a} and {b} share a priority, so their order is left open upstream (here: by name)"
            )?;
        }
        if !self.ignored.is_empty() {
            let names: Vec<String> = self.ignored.iter().map(ToString::to_string).collect();
            write!(
                f,
                "; ignored (not enforced by this plugin): {}",
                names.join(", ")
            )?;
        }
        if !self.unsupported.is_empty() {
            let rules: Vec<String> = self.unsupported.iter().map(ToString::to_string).collect();
            write!(
                f,
                "; warning: taken as not matching, as a flow cannot decide them: {}",
                rules.join(", ")
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.flow, self.verdict.as_str().to_uppercase())?;
        if let Some(s) = self.special {
            writeln!(f, "  {s}")?;
        }
        writeln!(f, "  {}", self.egress)?;
        write!(f, "  {}", self.ingress)?;
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

/// What the compiled [`Engine`](crate::engine::Engine) and the
/// [`Reference`](crate::reference::Reference) evaluator have in common, for code that
/// works with either (tools, differential tests, service resolution).
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::explain::Evaluator;
/// use netpol::reference::Reference;
///
/// fn allowed(e: &dyn Evaluator, flow: Flow) -> bool { e.decide(flow).is_allowed() }
///
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
/// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
/// let flow = Flow::new(a, a, 80, Default::default());
/// let engine = Engine::build(&cluster, &[]);
/// let reference = Reference::new(&cluster, &[], Default::default());
/// assert_eq!(allowed(&engine, flow), allowed(&reference, flow));
/// ```
pub trait Evaluator {
    /// The cluster the evaluator answers for.
    fn cluster(&self) -> &Cluster;
    /// Whether the flow is allowed.
    fn decide(&self, flow: Flow<'_>) -> Verdict;
    /// The verdict with its explanation.
    fn explain(&self, flow: Flow<'_>) -> Explanation;
}
