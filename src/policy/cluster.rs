//! `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy, normalised.
//!
//! A [`ClusterPolicy`] sits in one of two tiers around Kubernetes NetworkPolicy:
//! [`ClusterTier::Admin`] is evaluated before it and [`ClusterTier::Baseline`] after it.
//! Inside a tier, policies go by ascending priority (0 first), ties by name; inside a
//! policy, rules go in written order, and the first rule matching a flow decides with its
//! action ([`Action::Allow`] for `Accept`, [`Action::Deny`], or [`Action::Pass`] to skip
//! the rest of the tier). A policy that matches no rule of a flow decides nothing: a
//! ClusterNetworkPolicy never isolates by itself.
//!
//! Policies are built from the as-written model with [`ClusterPolicy::new`] (after
//! validation) or programmatically with [`ClusterPolicy::builder`].
//!
//! ```
//! use netpol::policy::{Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, Subject};
//! use netpol::selector::Selector;
//!
//! // Admin tier, priority 10: pods of every namespace may not reach 203.0.113.0/24.
//! let policy = ClusterPolicy::builder("deny-external", ClusterTier::Admin, 10,
//!         Subject::Namespaces(Selector::everything()))
//!     .egress(ClusterRule::new(Action::Deny,
//!         vec![ClusterPeer::Networks(vec!["203.0.113.0/24".parse().unwrap()])]))
//!     .build();
//! assert_eq!(policy.tier(), ClusterTier::Admin);
//! assert_eq!(policy.egress()[0].action(), Action::Deny);
//! assert!(policy.ingress().is_empty());
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

use super::{Action, Direction, Protocol};
use crate::model::{
    ClusterNetworkPolicy, ClusterNetworkPolicyEgressPeer, ClusterNetworkPolicyIngressPeer,
    ClusterNetworkPolicyPort, ClusterNetworkPolicyProtocol, ClusterNetworkPolicySpec,
    ClusterNetworkPolicySubject, LabelSelector, NamespacedPod,
};
use crate::selector::Selector;
use crate::validate::{
    Channel, ErrorKind, FieldError, ValidationErrors, parse_cnp_cidr,
    validate_cluster_network_policy_in, validate_label_selector,
};

/// The tier a ClusterNetworkPolicy sits in.
///
/// ```
/// use netpol::policy::ClusterTier;
/// assert_eq!("Baseline".parse::<ClusterTier>(), Ok(ClusterTier::Baseline));
/// assert_eq!(ClusterTier::Admin.to_string(), "Admin");
/// assert!("admin".parse::<ClusterTier>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterTier {
    /// Evaluated before Kubernetes NetworkPolicy; its decisions cannot be overridden.
    Admin,
    /// Evaluated after Kubernetes NetworkPolicy, only where none decided.
    Baseline,
}

impl ClusterTier {
    /// The name as written in `spec.tier`.
    ///
    /// ```
    /// assert_eq!(netpol::policy::ClusterTier::Baseline.as_str(), "Baseline");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterTier::Admin => "Admin",
            ClusterTier::Baseline => "Baseline",
        }
    }
}

impl fmt::Display for ClusterTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is not `Admin` or `Baseline`.
///
/// ```
/// let err = "Middle".parse::<netpol::policy::ClusterTier>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown tier "Middle": expected "Admin" or "Baseline""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier \"{0}\": expected \"Admin\" or \"Baseline\"")]
pub struct UnknownTier(String);

impl FromStr for ClusterTier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Admin" => Ok(ClusterTier::Admin),
            "Baseline" => Ok(ClusterTier::Baseline),
            other => Err(UnknownTier(other.to_owned())),
        }
    }
}

/// The pods a ClusterNetworkPolicy applies to.
///
/// ```
/// use netpol::policy::Subject;
/// use netpol::selector::Selector;
/// let all = Subject::Namespaces(Selector::everything());
/// assert!(matches!(all, Subject::Namespaces(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// Every pod of the namespaces the selector matches.
    Namespaces(Selector),
    /// The pods matching `pods` in the namespaces matching `namespaces`.
    Pods {
        /// Namespace selector (`{}`, every namespace, when not written).
        namespaces: Selector,
        /// Pod selector.
        pods: Selector,
    },
}

/// A peer of a ClusterNetworkPolicy rule: who is on the other side.
///
/// Ingress rules use only [`Namespaces`](Self::Namespaces) and [`Pods`](Self::Pods);
/// egress rules may also use the others.
///
/// ```
/// use netpol::policy::{ClusterPeer, DomainPattern};
/// let peer = ClusterPeer::DomainNames(vec!["*.example.com".parse().unwrap()]);
/// assert!(matches!(peer, ClusterPeer::DomainNames(ref d) if d[0].matches("api.example.com")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterPeer {
    /// Every pod of the namespaces the selector matches.
    Namespaces(Selector),
    /// The pods matching `pods` in the namespaces matching `namespaces`.
    Pods {
        /// Namespace selector.
        namespaces: Selector,
        /// Pod selector.
        pods: Selector,
    },
    /// Any address inside one of the networks: pod, node and outside addresses alike.
    Networks(Vec<IpNet>),
    /// The host addresses of the nodes whose labels the selector matches.
    Nodes(Selector),
    /// An outside address the source resolved from a name matching one of the patterns.
    DomainNames(Vec<DomainPattern>),
}

/// Which destination ports a ClusterNetworkPolicy rule matches.
///
/// ```
/// use netpol::policy::{ClusterPort, Protocol};
/// let p = ClusterPort::range(Protocol::Tcp, 8080, 8090).unwrap();
/// assert!(p.contains(Protocol::Tcp, 8085) && !p.contains(Protocol::Udp, 8085));
/// assert!(ClusterPort::range(Protocol::Tcp, 90, 80).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterPort {
    /// `tcp`/`udp`/`sctp` with `destinationPort`: `start..=end` of that protocol
    /// (`start == end` for a `number`).
    #[non_exhaustive]
    Ports {
        /// The protocol.
        protocol: Protocol,
        /// First port.
        start: u16,
        /// Last port, inclusive.
        end: u16,
    },
    /// `destinationNamedPort`: a container port of the destination pod with this name,
    /// of the flow's protocol.
    Named(String),
}

impl ClusterPort {
    /// Ports `start..=end` of one protocol; `None` unless `1 <= start <= end`.
    ///
    /// ```
    /// use netpol::policy::{ClusterPort, Protocol};
    /// assert!(ClusterPort::range(Protocol::Udp, 53, 53).is_some());
    /// ```
    #[must_use]
    pub fn range(protocol: Protocol, start: u16, end: u16) -> Option<Self> {
        (start >= 1 && start <= end).then_some(ClusterPort::Ports {
            protocol,
            start,
            end,
        })
    }

    /// Whether a number of a protocol is matched without looking at any pod (`Named` is
    /// false).
    ///
    /// ```
    /// use netpol::policy::{ClusterPort, Protocol};
    /// assert!(!ClusterPort::Named("http".into()).contains(Protocol::Tcp, 80));
    /// ```
    #[must_use]
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        match self {
            ClusterPort::Ports {
                protocol: p,
                start,
                end,
            } => *p == protocol && (*start..=*end).contains(&port),
            ClusterPort::Named(_) => false,
        }
    }
}

/// A `domainNames` entry: an exact name, or `*.` followed by a name to match one or more
/// leading labels. Matching ignores ASCII case and one trailing dot on either side.
///
/// ```
/// use netpol::policy::DomainPattern;
/// let exact: DomainPattern = "kubernetes.io".parse().unwrap();
/// assert!(exact.matches("Kubernetes.IO."));
/// assert!(!exact.matches("www.kubernetes.io"));
/// let wild: DomainPattern = "*.kubernetes.io".parse().unwrap();
/// assert!(wild.matches("latest.blog.kubernetes.io"));
/// assert!(!wild.matches("kubernetes.io") && !wild.matches("my-kubernetes.io"));
/// assert_eq!(wild.to_string(), "*.kubernetes.io");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainPattern {
    /// Lower-cased, without a trailing dot.
    name: String,
    wildcard: bool,
}

/// A domain pattern that is empty or has a misplaced `*`.
///
/// ```
/// let err = "a.*.com".parse::<netpol::policy::DomainPattern>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid domain name pattern "a.*.com""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain name pattern \"{0}\"")]
pub struct DomainPatternError(String);

impl FromStr for DomainPattern {
    type Err = DomainPatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (wildcard, rest) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let rest = rest.strip_suffix('.').unwrap_or(rest);
        if rest.is_empty() || rest.contains('*') || rest.split('.').any(str::is_empty) {
            return Err(DomainPatternError(s.to_owned()));
        }
        Ok(DomainPattern {
            name: rest.to_ascii_lowercase(),
            wildcard,
        })
    }
}

impl DomainPattern {
    /// Whether a resolved name matches the pattern.
    ///
    /// ```
    /// let p: netpol::policy::DomainPattern = "*.example.com".parse().unwrap();
    /// assert!(p.matches("a.example.com") && !p.matches("example.com"));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        if !self.wildcard {
            return name.eq_ignore_ascii_case(&self.name);
        }
        // One or more whole labels, then a dot, then the pattern's name.
        let Some(cut) = name.len().checked_sub(self.name.len() + 1) else {
            return false;
        };
        let (Some(head), Some(tail)) = (name.get(..cut), name.get(cut..)) else {
            return false;
        };
        !head.is_empty()
            && !head.split('.').any(str::is_empty)
            && tail.starts_with('.')
            && tail
                .get(1..)
                .is_some_and(|t| t.eq_ignore_ascii_case(&self.name))
    }

    /// Whether the pattern starts with `*.`.
    ///
    /// ```
    /// assert!("*.a.b".parse::<netpol::policy::DomainPattern>().unwrap().is_wildcard());
    /// ```
    #[must_use]
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)
    }
}

/// One rule of a ClusterNetworkPolicy: an action for the flows to (or from) any of its
/// peers on any of its ports.
///
/// ```
/// use netpol::policy::{Action, ClusterPeer, ClusterPort, ClusterRule, Protocol};
/// use netpol::selector::Selector;
/// let rule = ClusterRule::new(Action::Allow, vec![ClusterPeer::Namespaces(Selector::everything())])
///     .named("dns")
///     .with_ports(vec![ClusterPort::range(Protocol::Udp, 53, 53).unwrap()]);
/// assert_eq!(rule.name(), Some("dns"));
/// assert_eq!(rule.ports().unwrap().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterRule {
    name: Option<String>,
    action: Action,
    peers: Vec<ClusterPeer>,
    ports: Option<Vec<ClusterPort>>,
}

impl ClusterRule {
    /// A rule matching every port of the given peers.
    ///
    /// ```
    /// use netpol::policy::{Action, ClusterRule};
    /// let r = ClusterRule::new(Action::Deny, vec![]);
    /// assert!(r.peers().is_empty() && r.ports().is_none()); // matches nothing: no peer
    /// ```
    #[must_use]
    pub fn new(action: Action, peers: Vec<ClusterPeer>) -> Self {
        ClusterRule {
            name: None,
            action,
            peers,
            ports: None,
        }
    }

    /// Sets the rule's name.
    ///
    /// ```
    /// let r = netpol::policy::ClusterRule::new(netpol::policy::Action::Pass, vec![]).named("x");
    /// assert_eq!(r.name(), Some("x"));
    /// ```
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Restricts the rule to these ports (`protocols` in the API).
    ///
    /// ```
    /// use netpol::policy::{Action, ClusterPort, ClusterRule};
    /// let r = ClusterRule::new(Action::Allow, vec![]).with_ports(vec![ClusterPort::Named("http".into())]);
    /// assert!(matches!(r.ports(), Some([ClusterPort::Named(_)])));
    /// ```
    #[must_use]
    pub fn with_ports(mut self, ports: Vec<ClusterPort>) -> Self {
        self.ports = Some(ports);
        self
    }

    /// The rule's name, if written.
    ///
    /// ```
    /// assert_eq!(netpol::policy::ClusterRule::new(netpol::policy::Action::Allow, vec![]).name(), None);
    /// ```
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What the rule does with a matching flow.
    ///
    /// ```
    /// use netpol::policy::{Action, ClusterRule};
    /// assert_eq!(ClusterRule::new(Action::Pass, vec![]).action(), Action::Pass);
    /// ```
    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    /// The peers (`from` or `to`); the rule matches a flow when one of them matches.
    ///
    /// ```
    /// use netpol::policy::{Action, ClusterPeer, ClusterRule};
    /// use netpol::selector::Selector;
    /// let r = ClusterRule::new(Action::Allow, vec![ClusterPeer::Nodes(Selector::everything())]);
    /// assert_eq!(r.peers().len(), 1);
    /// ```
    #[must_use]
    pub fn peers(&self) -> &[ClusterPeer] {
        &self.peers
    }

    /// The ports (`protocols`); `None` matches every port of every protocol.
    ///
    /// ```
    /// use netpol::policy::{Action, ClusterRule};
    /// assert!(ClusterRule::new(Action::Allow, vec![]).ports().is_none());
    /// ```
    #[must_use]
    pub fn ports(&self) -> Option<&[ClusterPort]> {
        self.ports.as_deref()
    }
}

/// A validated, normalised ClusterNetworkPolicy. Built with [`ClusterPolicy::new`] from a
/// written policy or with [`ClusterPolicy::builder`].
///
/// ```
/// use netpol::policy::{ClusterPolicy, ClusterTier, Direction, Subject};
/// use netpol::selector::Selector;
/// let p = ClusterPolicy::builder("quiet", ClusterTier::Baseline, 5,
///     Subject::Namespaces(Selector::everything())).build();
/// assert_eq!((p.name(), p.priority()), ("quiet", 5));
/// assert!(!p.affects(Direction::Ingress)); // no rules: affects nothing
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClusterPolicy {
    /// Shared: a policy set is copied whole when one of its policies changes.
    inner: Arc<ClusterPolicyData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClusterPolicyData {
    name: String,
    tier: ClusterTier,
    priority: u32,
    subject: Subject,
    ingress: Vec<ClusterRule>,
    egress: Vec<ClusterRule>,
}

impl std::fmt::Debug for ClusterPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &*self.inner;
        f.debug_struct("ClusterPolicy")
            .field("name", &d.name)
            .field("tier", &d.tier)
            .field("priority", &d.priority)
            .field("subject", &d.subject)
            .field("ingress", &d.ingress)
            .field("egress", &d.egress)
            .finish()
    }
}

/// Builds a [`ClusterPolicy`] programmatically; see [`ClusterPolicy::builder`].
///
/// ```
/// use netpol::policy::{Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, Subject};
/// use netpol::selector::Selector;
/// let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything()))
///     .ingress(ClusterRule::new(Action::Allow, vec![ClusterPeer::Namespaces(Selector::everything())]))
///     .build();
/// assert_eq!(p.ingress().len(), 1);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClusterPolicyBuilder {
    policy: ClusterPolicyData,
}

impl ClusterPolicyBuilder {
    /// Appends an ingress rule.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything()))
    ///     .ingress(ClusterRule::new(Action::Deny, vec![])).build();
    /// assert_eq!(p.rules(Direction::Ingress).len(), 1);
    /// ```
    pub fn ingress(mut self, rule: ClusterRule) -> Self {
        self.policy.ingress.push(rule);
        self
    }

    /// Appends an egress rule.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything()))
    ///     .egress(ClusterRule::new(Action::Deny, vec![])).build();
    /// assert_eq!(p.rules(Direction::Egress).len(), 1);
    /// ```
    pub fn egress(mut self, rule: ClusterRule) -> Self {
        self.policy.egress.push(rule);
        self
    }

    /// The policy.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(p.name(), "p");
    /// ```
    #[must_use]
    pub fn build(self) -> ClusterPolicy {
        ClusterPolicy {
            inner: Arc::new(self.policy),
        }
    }
}

impl ClusterPolicy {
    /// Starts a policy with no rules.
    ///
    /// ```
    /// use netpol::policy::{ClusterPolicy, ClusterTier, Subject};
    /// use netpol::selector::Selector;
    /// let p = ClusterPolicy::builder("p", ClusterTier::Admin, 1000, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(p.priority(), 1000);
    /// ```
    pub fn builder(
        name: impl Into<String>,
        tier: ClusterTier,
        priority: u32,
        subject: Subject,
    ) -> ClusterPolicyBuilder {
        ClusterPolicyBuilder {
            policy: ClusterPolicyData {
                name: name.into(),
                tier,
                priority,
                subject,
                ingress: Vec::new(),
                egress: Vec::new(),
            },
        }
    }

    /// The name (ClusterNetworkPolicy is cluster-scoped: there is no namespace).
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(p.name(), "p");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The tier.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(p.tier(), ClusterTier::Admin);
    /// ```
    #[must_use]
    pub fn tier(&self) -> ClusterTier {
        self.inner.tier
    }

    /// The priority: lower values are evaluated first within the tier.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 7, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(p.priority(), 7);
    /// ```
    #[must_use]
    pub fn priority(&self) -> u32 {
        self.inner.priority
    }

    /// The pods the policy applies to.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert!(matches!(p.subject(), Subject::Namespaces(s) if s.is_everything()));
    /// ```
    #[must_use]
    pub fn subject(&self) -> &Subject {
        &self.inner.subject
    }

    /// Ingress rules, in order.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert!(p.ingress().is_empty());
    /// ```
    #[must_use]
    pub fn ingress(&self) -> &[ClusterRule] {
        &self.inner.ingress
    }

    /// Egress rules, in order.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert!(p.egress().is_empty());
    /// ```
    #[must_use]
    pub fn egress(&self) -> &[ClusterRule] {
        &self.inner.egress
    }

    /// The rules of one direction.
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert!(p.rules(Direction::Egress).is_empty());
    /// ```
    #[must_use]
    pub fn rules(&self, direction: Direction) -> &[ClusterRule] {
        match direction {
            Direction::Ingress => &self.inner.ingress,
            Direction::Egress => &self.inner.egress,
        }
    }

    /// Whether the policy has rules for `direction` (a policy without rules of a
    /// direction does not affect that direction).
    ///
    /// ```
    /// # use netpol::policy::*; use netpol::selector::Selector;
    /// # let p = ClusterPolicy::builder("p", ClusterTier::Admin, 0, Subject::Namespaces(Selector::everything())).build();
    /// assert!(!p.affects(Direction::Ingress));
    /// ```
    #[must_use]
    pub fn affects(&self, direction: Direction) -> bool {
        !self.rules(direction).is_empty()
    }
}

impl ClusterPolicy {
    /// Normalises a written ClusterNetworkPolicy, as the apiserver would store it with the
    /// experimental channel's CRD: validated with
    /// [`validate_cluster_network_policy`](crate::validate::validate_cluster_network_policy),
    /// then every label selector checked as implementations compile them
    /// (apimachinery's `LabelSelectorAsSelector`, reported like
    /// [`validate_label_selector`](crate::validate::validate_label_selector)), because
    /// the CRD itself does not check selectors. `Accept` becomes [`Action::Allow`],
    /// `networks` are parsed as the CRD's `isCIDR` reads them
    /// ([`parse_cnp_cidr`](crate::validate::parse_cnp_cidr), host bits cleared), a
    /// `number` port is a one-port range, and `pods` without `namespaceSelector` selects
    /// every namespace. The name is `metadata.name` (or `generateName` when only that is
    /// written).
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicy;
    /// use netpol::policy::{Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterTier, Protocol};
    ///
    /// let cnp = ClusterNetworkPolicy::from_json(r#"{
    ///   "metadata": {"name": "dns-only"},
    ///   "spec": {"tier": "Baseline", "priority": 50, "subject": {"namespaces": {}},
    ///     "egress": [
    ///       {"action": "Accept", "to": [{"pods": {"namespaceSelector": {"matchLabels": {"name": "kube-system"}},
    ///                                             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}}],
    ///        "protocols": [{"udp": {"destinationPort": {"number": 53}}}]},
    ///       {"action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0"]}]}]}
    /// }"#)?;
    /// let p = ClusterPolicy::new(&cnp)?;
    /// assert_eq!((p.name(), p.tier(), p.priority()), ("dns-only", ClusterTier::Baseline, 50));
    /// assert_eq!(p.egress()[0].action(), Action::Allow);
    /// assert!(p.egress()[0].ports().unwrap()[0].contains(Protocol::Udp, 53));
    /// assert!(matches!(&p.egress()[1].peers()[0], ClusterPeer::Networks(n) if n.len() == 2));
    ///
    /// let mut bad = cnp.clone();
    /// bad.spec.as_mut().unwrap().priority = Some(-1);
    /// let errs = ClusterPolicy::new(&bad).unwrap_err();
    /// assert_eq!(errs.errors()[0].field, "spec.priority");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(cnp: &ClusterNetworkPolicy) -> Result<Self, ValidationErrors> {
        Self::new_in(cnp, Channel::Experimental)
    }

    /// Like [`new`](Self::new), with the given channel's CRD: in the standard channel,
    /// `nodes` and `domainNames` peers are pruned (a peer holding only one of them is then
    /// refused) and named ports may sit next to `networks` peers.
    ///
    /// ```
    /// use netpol::model::ClusterNetworkPolicy;
    /// use netpol::policy::ClusterPolicy;
    /// use netpol::validate::Channel;
    /// let cnp = ClusterNetworkPolicy::from_json(r#"{"metadata": {"name": "n"},
    ///   "spec": {"tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
    ///            "egress": [{"action": "Deny", "to": [{"nodes": {}}]}]}}"#)?;
    /// assert!(ClusterPolicy::new_in(&cnp, Channel::Experimental).is_ok());
    /// let errs = ClusterPolicy::new_in(&cnp, Channel::Standard).unwrap_err();
    /// assert_eq!(errs.errors()[0].to_string(),
    ///     "spec.egress[0].to[0]: Invalid value: 0: spec.egress[0].to[0] in body should have at least 1 properties");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new_in(cnp: &ClusterNetworkPolicy, channel: Channel) -> Result<Self, ValidationErrors> {
        let cnp = channel.prune(cnp);
        validate_cluster_network_policy_in(&cnp, channel)?;
        let Some(spec) = &cnp.spec else {
            return Err(ValidationErrors(vec![FieldError::required("spec", "")]));
        };
        let selector_errors = selector_errors(spec);
        if !selector_errors.is_empty() {
            return Err(ValidationErrors(selector_errors));
        }
        normalise(&cnp, spec).map_err(|e| ValidationErrors(vec![e]))
    }
}

/// Every label selector of a spec, with its path, in the validator's order.
fn spec_selectors(spec: &ClusterNetworkPolicySpec) -> Vec<(String, &LabelSelector)> {
    fn pods<'a>(p: &'a NamespacedPod, path: &str, out: &mut Vec<(String, &'a LabelSelector)>) {
        if let Some(s) = &p.namespace_selector {
            out.push((format!("{path}.namespaceSelector"), s));
        }
        if let Some(s) = &p.pod_selector {
            out.push((format!("{path}.podSelector"), s));
        }
    }
    let mut out = Vec::new();
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            let path = format!("spec.egress[{i}].to[{j}]");
            if let Some(s) = &peer.namespaces {
                out.push((format!("{path}.namespaces"), s));
            }
            if let Some(s) = &peer.nodes {
                out.push((format!("{path}.nodes"), s));
            }
            if let Some(p) = &peer.pods {
                pods(p, &format!("{path}.pods"), &mut out);
            }
        }
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            let path = format!("spec.ingress[{i}].from[{j}]");
            if let Some(s) = &peer.namespaces {
                out.push((format!("{path}.namespaces"), s));
            }
            if let Some(p) = &peer.pods {
                pods(p, &format!("{path}.pods"), &mut out);
            }
        }
    }
    if let Some(subject) = &spec.subject {
        if let Some(s) = &subject.namespaces {
            out.push(("spec.subject.namespaces".into(), s));
        }
        if let Some(p) = &subject.pods {
            pods(p, "spec.subject.pods", &mut out);
        }
    }
    out
}

fn selector_errors(spec: &ClusterNetworkPolicySpec) -> Vec<FieldError> {
    spec_selectors(spec)
        .into_iter()
        .flat_map(|(path, sel)| validate_label_selector(sel, &path))
        .collect()
}

fn compile(sel: Option<&LabelSelector>, path: &str) -> Result<Selector, FieldError> {
    match sel {
        None => Ok(Selector::everything()),
        Some(sel) => Selector::new(sel).map_err(|e| object_error(path, e.to_string())),
    }
}

fn compile_pods(p: &NamespacedPod, path: &str) -> Result<(Selector, Selector), FieldError> {
    Ok((
        compile(
            p.namespace_selector.as_ref(),
            &format!("{path}.namespaceSelector"),
        )?,
        compile(p.pod_selector.as_ref(), &format!("{path}.podSelector"))?,
    ))
}

/// An `Invalid value` without a value, as the apiserver prints rule failures on objects.
fn object_error(path: &str, detail: String) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: path.to_owned(),
        value: None,
        detail,
    }
}

fn unexpected(path: &str, what: &str) -> FieldError {
    object_error(path, format!("cannot normalise: {what}"))
}

fn normalise(
    cnp: &ClusterNetworkPolicy,
    spec: &ClusterNetworkPolicySpec,
) -> Result<ClusterPolicy, FieldError> {
    let name = cnp
        .metadata
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(cnp.metadata.generate_name.as_deref())
        .unwrap_or("")
        .to_owned();
    let tier = spec
        .tier
        .as_deref()
        .and_then(|t| t.parse::<ClusterTier>().ok())
        .ok_or_else(|| unexpected("spec.tier", "no tier"))?;
    let priority = spec
        .priority
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| unexpected("spec.priority", "no priority"))?;
    let subject = match &spec.subject {
        Some(ClusterNetworkPolicySubject {
            namespaces: Some(sel),
            pods: None,
        }) => Subject::Namespaces(compile(Some(sel), "spec.subject.namespaces")?),
        Some(ClusterNetworkPolicySubject {
            namespaces: None,
            pods: Some(p),
        }) => {
            let (namespaces, pods) = compile_pods(p, "spec.subject.pods")?;
            Subject::Pods { namespaces, pods }
        }
        _ => return Err(unexpected("spec.subject", "not exactly one subject")),
    };
    let mut policy = ClusterPolicy::builder(name, tier, priority, subject);
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let path = format!("spec.ingress[{i}]");
        let mut peers = Vec::new();
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            let p_path = format!("{path}.from[{j}]");
            peers.push(match peer {
                ClusterNetworkPolicyIngressPeer {
                    namespaces: Some(sel),
                    pods: None,
                } => ClusterPeer::Namespaces(compile(Some(sel), &format!("{p_path}.namespaces"))?),
                ClusterNetworkPolicyIngressPeer {
                    namespaces: None,
                    pods: Some(p),
                } => {
                    let (namespaces, pods) = compile_pods(p, &format!("{p_path}.pods"))?;
                    ClusterPeer::Pods { namespaces, pods }
                }
                _ => return Err(unexpected(&p_path, "not exactly one peer")),
            });
        }
        let r = make_rule(
            rule.name.as_ref(),
            rule.action.as_deref(),
            peers,
            rule.protocols.as_deref(),
            &path,
        )?;
        policy = policy.ingress(r);
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let path = format!("spec.egress[{i}]");
        let mut peers = Vec::new();
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            peers.push(egress_peer(peer, &format!("{path}.to[{j}]"))?);
        }
        let r = make_rule(
            rule.name.as_ref(),
            rule.action.as_deref(),
            peers,
            rule.protocols.as_deref(),
            &path,
        )?;
        policy = policy.egress(r);
    }
    Ok(policy.build())
}

fn egress_peer(
    peer: &ClusterNetworkPolicyEgressPeer,
    path: &str,
) -> Result<ClusterPeer, FieldError> {
    let written = [
        peer.namespaces.is_some(),
        peer.pods.is_some(),
        peer.nodes.is_some(),
        peer.networks.is_some(),
        peer.domain_names.is_some(),
    ];
    if written.iter().filter(|w| **w).count() != 1 {
        return Err(unexpected(path, "not exactly one peer"));
    }
    if let Some(sel) = &peer.namespaces {
        return Ok(ClusterPeer::Namespaces(compile(
            Some(sel),
            &format!("{path}.namespaces"),
        )?));
    }
    if let Some(p) = &peer.pods {
        let (namespaces, pods) = compile_pods(p, &format!("{path}.pods"))?;
        return Ok(ClusterPeer::Pods { namespaces, pods });
    }
    if let Some(sel) = &peer.nodes {
        return Ok(ClusterPeer::Nodes(compile(
            Some(sel),
            &format!("{path}.nodes"),
        )?));
    }
    if let Some(networks) = &peer.networks {
        let nets = networks
            .iter()
            .enumerate()
            .map(|(k, c)| {
                parse_cnp_cidr(c)
                    .ok_or_else(|| unexpected(&format!("{path}.networks[{k}]"), "invalid CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ClusterPeer::Networks(nets));
    }
    let names = peer.domain_names.as_deref().unwrap_or(&[]);
    let patterns = names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            n.parse::<DomainPattern>()
                .map_err(|_| unexpected(&format!("{path}.domainNames[{k}]"), "invalid domain name"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClusterPeer::DomainNames(patterns))
}

fn make_rule(
    name: Option<&String>,
    action: Option<&str>,
    peers: Vec<ClusterPeer>,
    protocols: Option<&[ClusterNetworkPolicyProtocol]>,
    path: &str,
) -> Result<ClusterRule, FieldError> {
    let action = match action {
        Some("Accept") => Action::Allow,
        Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        _ => return Err(unexpected(&format!("{path}.action"), "unknown action")),
    };
    let mut rule = ClusterRule::new(action, peers);
    if let Some(name) = name {
        rule = rule.named(name.clone());
    }
    if let Some(protocols) = protocols {
        let mut ports = Vec::with_capacity(protocols.len());
        for (k, p) in protocols.iter().enumerate() {
            let p_path = format!("{path}.protocols[{k}]");
            let port = match p {
                ClusterNetworkPolicyProtocol {
                    destination_named_port: Some(n),
                    tcp: None,
                    udp: None,
                    sctp: None,
                } => Some(ClusterPort::Named(n.clone())),
                ClusterNetworkPolicyProtocol {
                    tcp: Some(b),
                    udp: None,
                    sctp: None,
                    destination_named_port: None,
                } => port_range(Protocol::Tcp, b.destination_port.as_ref()),
                ClusterNetworkPolicyProtocol {
                    udp: Some(b),
                    tcp: None,
                    sctp: None,
                    destination_named_port: None,
                } => port_range(Protocol::Udp, b.destination_port.as_ref()),
                ClusterNetworkPolicyProtocol {
                    sctp: Some(b),
                    tcp: None,
                    udp: None,
                    destination_named_port: None,
                } => port_range(Protocol::Sctp, b.destination_port.as_ref()),
                _ => None,
            };
            ports.push(port.ok_or_else(|| unexpected(&p_path, "not exactly one protocol"))?);
        }
        rule = rule.with_ports(ports);
    }
    Ok(rule)
}

fn port_range(protocol: Protocol, port: Option<&ClusterNetworkPolicyPort>) -> Option<ClusterPort> {
    let port = port?;
    let (start, end) = match (port.number, &port.range) {
        (Some(n), None) => (n, n),
        (None, Some(r)) => (r.start?, r.end?),
        _ => return None,
    };
    ClusterPort::range(
        protocol,
        u16::try_from(start).ok()?,
        u16::try_from(end).ok()?,
    )
}
