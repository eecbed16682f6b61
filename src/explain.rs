//! Verdicts and explanations, shared by the compiled engine and the reference evaluator.
//!
//! An [`Explanation`] says, for each side of a flow, which policies select the pod there,
//! whether it is isolated in that direction, and which rules (policy, direction, index)
//! allow the flow; or which special case decided it. It serializes to JSON and prints as
//! text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::policy::Direction;

/// Allowed or denied.
///
/// ```
/// use netpol::explain::Verdict;
/// assert_eq!(serde_json::to_string(&Verdict::Allow).unwrap(), "\"allow\"");
/// assert!(Verdict::from(true).is_allowed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    pub fn is_allowed(self) -> bool {
        self == Verdict::Allow
    }

    /// `allow` or `deny`.
    ///
    /// ```
    /// assert_eq!(netpol::explain::Verdict::Deny.as_str(), "deny");
    /// ```
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

/// A case decided before any policy is read.
///
/// ```
/// use netpol::explain::Special;
/// assert_eq!(serde_json::to_string(&Special::SelfTraffic)?, "\"selfTraffic\"");
/// assert_eq!(
///     Special::OwnNode.to_string(),
///     "traffic between a pod and its own node is always allowed"
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Special {
    /// A pod talking to itself.
    SelfTraffic,
    /// A pod and the node it runs on.
    OwnNode,
    /// The profile enforces no policy.
    NotEnforced,
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Special::SelfTraffic => "traffic from a pod to itself is always allowed",
            Special::OwnNode => "traffic between a pod and its own node is always allowed",
            Special::NotEnforced => "the network plugin enforces no NetworkPolicy",
        })
    }
}

/// A policy, by its position in the evaluator's accepted list and by name.
///
/// ```
/// use netpol::explain::PolicyRef;
/// let p = PolicyRef { index: 0, namespace: "prod".into(), name: "allow-api-to-db".into() };
/// assert_eq!(p.to_string(), "prod/allow-api-to-db");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Position among the accepted policies.
    pub index: usize,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A rule of a policy: `spec.ingress[rule]` or `spec.egress[rule]`.
///
/// ```
/// use netpol::explain::{PolicyRef, RuleRef};
/// use netpol::policy::Direction;
/// let policy = PolicyRef { index: 0, namespace: "prod".into(), name: "allow-dns".into() };
/// let rule = RuleRef { policy, direction: Direction::Egress, rule: 1 };
/// assert_eq!(rule.to_string(), "prod/allow-dns spec.egress[1]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    /// The policy.
    pub policy: PolicyRef,
    /// Which list the rule is in.
    pub direction: Direction,
    /// Index in that list.
    pub rule: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = match self.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        write!(f, "{} spec.{list}[{}]", self.policy, self.rule)
    }
}

/// What one side of a flow decided: egress at the source, ingress at the destination.
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
pub struct SideExplanation {
    /// The direction checked on this side.
    pub direction: Direction,
    /// The endpoint, as [`Cluster::describe`] writes it.
    pub endpoint: String,
    /// Whether the endpoint is a pod (only pods are subject to policy).
    pub is_pod: bool,
    /// Policies that select the pod and have this direction in their effective `policyTypes`.
    pub policies: Vec<PolicyRef>,
    /// Whether the pod is isolated in this direction (some policy above exists).
    pub isolated: bool,
    /// Every rule of those policies that allows the flow, in policy then rule order.
    pub allowed_by: Vec<RuleRef>,
    /// Whether this side allows the flow.
    pub allowed: bool,
}

impl SideExplanation {
    /// The answer for a side before any policy is read: allowed, not isolated; `is_pod`
    /// and the rest are filled in by the evaluator.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint};
    /// use netpol::explain::SideExplanation;
    /// use netpol::policy::Direction;
    /// let c = Cluster::builder().build().unwrap();
    /// let side = SideExplanation::open(&c, Direction::Ingress, Endpoint::External("192.0.2.1".parse().unwrap()));
    /// assert!(side.allowed && !side.isolated && !side.is_pod);
    /// ```
    pub fn open(cluster: &Cluster, direction: Direction, endpoint: Endpoint) -> Self {
        SideExplanation {
            direction,
            endpoint: cluster.describe(endpoint),
            is_pod: false,
            policies: Vec::new(),
            isolated: false,
            allowed_by: Vec::new(),
            allowed: true,
        }
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
pub struct Explanation {
    /// The flow, described: `source -> destination port/protocol`.
    pub flow: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The special case that decided the flow, if any (the sides are still reported).
    pub special: Option<Special>,
    /// Egress at the source.
    pub egress: SideExplanation,
    /// Ingress at the destination.
    pub ingress: SideExplanation,
}

impl Explanation {
    /// Describes a flow as explanations write it.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow};
    /// use netpol::explain::Explanation;
    /// let c = Cluster::builder().build().unwrap();
    /// let ip = Endpoint::External("192.0.2.1".parse().unwrap());
    /// let f = Flow::new(ip, ip, 53, netpol::policy::Protocol::Udp);
    /// assert_eq!(Explanation::describe_flow(&c, f), "192.0.2.1 -> 192.0.2.1 53/UDP");
    /// ```
    pub fn describe_flow(cluster: &Cluster, flow: Flow) -> String {
        format!(
            "{} -> {} {}/{}",
            cluster.describe(flow.src),
            cluster.describe(flow.dst),
            flow.port,
            flow.protocol
        )
    }
}

impl fmt::Display for SideExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        if !self.is_pod {
            return write!(
                f,
                "{dir} at {}: not a pod, no policy applies",
                self.endpoint
            );
        }
        if !self.isolated {
            return write!(
                f,
                "{dir} at {}: not isolated (no policy selects it for {dir}), allowed",
                self.endpoint
            );
        }
        let names: Vec<String> = self.policies.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{dir} at {}: isolated by {}; ",
            self.endpoint,
            names.join(", ")
        )?;
        if self.allowed_by.is_empty() {
            f.write_str("no rule allows it, denied")
        } else {
            let rules: Vec<String> = self.allowed_by.iter().map(ToString::to_string).collect();
            write!(f, "allowed by {}", rules.join(", "))
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.flow, self.verdict.as_str().to_uppercase())?;
        if let Some(s) = self.special {
            writeln!(f, "  {s}")?;
        }
        writeln!(f, "  {}", self.egress)?;
        write!(f, "  {}", self.ingress)
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
    fn decide(&self, flow: Flow) -> Verdict;
    /// The verdict with its explanation.
    fn explain(&self, flow: Flow) -> Explanation;
}
