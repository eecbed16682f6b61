//! Lints: a catalogue of checks of a policy set on a cluster, each with a stable code, a
//! severity, and what it guarantees.
//!
//! [`lint`] (or a configured [`Linter`]) reads a [`LintInput`] — the cluster, the policies
//! of every kind, the network plugin's [`Profile`], and optionally the Services and the
//! policies as written — builds the compiled [`Engine`](crate::engine::Engine) itself (so
//! the engine always matches the input) and returns a [`Report`]: one [`Finding`] per
//! problem, each naming the object (kind, namespace, name) and the field path it concerns,
//! apiserver style (`spec.ingress[0].from[1].podSelector`), with a message and a
//! suggestion. Everything serializes to JSON.
//!
//! ```
//! use netpol::analysis::lint::{Check, LintInput, Severity, lint};
//! use netpol::cluster::{Cluster, PodSpec};
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Policy, PolicySet};
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.244.1.5".parse()?))
//!     .build()?;
//! let written = NetworkPolicy::from_json(r#"{"metadata": {"name": "api", "namespace": "shop"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"]}}"#)?;
//! let policies: PolicySet = [Policy::new(&written)?].into_iter().collect();
//! let report = lint(&LintInput::new(&cluster, &policies));
//! let finding = &report.findings[0];
//! assert_eq!(finding.check, Check::EmptySubject);
//! assert_eq!(finding.check.code(), "NP001");
//! assert_eq!((finding.object.name.as_str(), finding.field.as_str()), ("api", "spec.podSelector"));
//! assert_eq!(report.worst(), Some(Severity::Warning));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The catalogue
//!
//! Codes are stable: a check keeps its code, a retired code is never reused. *Exact*
//! checks report a fact about this cluster and these policies (no false positives, and,
//! unless said otherwise, nothing missed); *heuristic* checks report a likely mistake that
//! may be intended. Checks that reason about flows (redundancy, shadowing, overlaps, DNS)
//! consider every flow between the cluster's pods and nodes and outside addresses, on
//! every port of TCP, UDP and SCTP, and follow the chosen profile.
//!
//! | code | check | severity | guarantee |
//! | --- | --- | --- | --- |
//! | NP001 | [`EmptySubject`](Check::EmptySubject): a policy selects no pod | warning | exact |
//! | NP002 | [`NamespaceSelectorMatchesNothing`](Check::NamespaceSelectorMatchesNothing): a namespace selector selects no namespace | warning | exact |
//! | NP003 | [`PeerMatchesNothing`](Check::PeerMatchesNothing): a pod or node peer selects nothing | warning | exact |
//! | NP004 | [`NamespaceSelectorMatchesAll`](Check::NamespaceSelectorMatchesAll): a written namespace selector selects every namespace | info | heuristic |
//! | NP005 | [`SplitPeer`](Check::SplitPeer): separate `namespaceSelector` and `podSelector` peers | warning | heuristic |
//! | NP010 | [`RulesForUnisolatedDirection`](Check::RulesForUnisolatedDirection): rules of a direction `policyTypes` leaves out | warning | exact |
//! | NP011 | [`MissingPolicyTypes`](Check::MissingPolicyTypes): no `policyTypes` written | info | exact |
//! | NP012 | [`EmptyEgressWithoutPolicyTypes`](Check::EmptyEgressWithoutPolicyTypes): `egress: []` without `policyTypes` isolates nothing | warning | exact |
//! | NP020 | [`RedundantRule`](Check::RedundantRule): a NetworkPolicy rule changes no decision | warning | exact (see below) |
//! | NP021 | [`RedundantPolicy`](Check::RedundantPolicy): a NetworkPolicy changes no decision | warning | sound |
//! | NP022 | [`ShadowedRule`](Check::ShadowedRule): a tier rule never decides a flow | warning | exact |
//! | NP023 | [`IneffectiveRule`](Check::IneffectiveRule): a tier rule decides flows as they would be decided without it | warning | sound |
//! | NP024 | [`CalicoShadowedRule`](Check::CalicoShadowedRule): a Calico rule behind a catch-all or identical rule, or behind a policy that decides everything first | warning | sound |
//! | NP030 | [`UndeclaredNamedPort`](Check::UndeclaredNamedPort): no destination declares a named port | warning | exact |
//! | NP031 | [`NeverMatches`](Check::NeverMatches): criteria that can never match | warning | exact |
//! | NP032 | [`UndeclaredPort`](Check::UndeclaredPort): no selected pod declares a port | info | heuristic |
//! | NP040 | [`NoDns`](Check::NoDns): pods cannot reach cluster DNS on 53/UDP or 53/TCP | warning | exact |
//! | NP050 | [`IgnoredByProfile`](Check::IgnoredByProfile): the plugin ignores a policy | warning | exact |
//! | NP051 | [`IpBlockNotMatchedByProfile`](Check::IpBlockNotMatchedByProfile): an ipBlock holds pod or node IPs the plugin does not match | warning | exact |
//! | NP052 | [`IpBlockMasqueraded`](Check::IpBlockMasqueraded): an ingress ipBlock misses or admits every outside client of a Service because of the masquerade | warning | exact |
//! | NP060 | [`PriorityConflict`](Check::PriorityConflict): equal-priority ClusterNetworkPolicies decide a flow differently | warning | exact |
//! | NP061 | [`CalicoOrderConflict`](Check::CalicoOrderConflict): equal-order Calico policies with different actions on shared endpoints | warning | heuristic |
//! | NP070 | [`NotIsolated`](Check::NotIsolated): a pod no policy isolates where others are isolated | warning | exact |
//! | NP080 | [`DuplicateName`](Check::DuplicateName): two objects with one kind, namespace and name | error | exact |
//!
//! Each [`Check`] variant documents what it reports and what it guarantees;
//! [`Check::guarantee`] gives the same as data. Checks that cannot run on an input (no
//! written policies for NP010–NP012, no DNS Service or CoreDNS pod for NP040, no
//! Services for NP052, tier semantics Calico converts for NP022/NP023/NP060) are listed in
//! [`Report::skipped`] with the reason, never silently dropped.
//!
//! # How the flow checks compute
//!
//! Pods with the same namespace, labels, service account, declared named ports and
//! address family are *classes*: no selector or rule tells them apart as subjects, and
//! the engine (through [`explain`](crate::engine::Engine::explain)) says which policies
//! select each class, in evaluation order. At each class the checks work on sets of flows:
//! per port segment (the port space cut at every boundary a rule names, named ports
//! resolved per pod), the pods and nodes and outside addresses on the other side, once per
//! address the other side may use (its own first address, or its first of the family
//! dialled, where that changes what a rule matches). The
//! property tests in `tests/lint_props.rs` hold every claim of NP020–NP023 equal to brute force:
//! the engine rebuilt without the rule or policy, compared on every flow between every
//! pair of pods, nodes and outside addresses, on every port class and protocol.

mod context;
mod coverage;
mod directions;
mod dns;
mod names;
mod outside;
mod ports;
mod priority;
mod profile;
mod redundancy;
mod selectors;
mod sets;
mod symbolic;
mod tiers;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::model::PolicyObject;
use crate::policy::PolicySet;
use crate::profile::Profile;
use crate::service::ServiceTable;

/// How bad a finding is.
///
/// ```
/// use netpol::analysis::lint::Severity;
/// assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
/// assert_eq!(serde_json::to_string(&Severity::Warning)?, "\"warning\"");
/// assert_eq!("error".parse::<Severity>(), Ok(Severity::Error));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; probably intended.
    Info,
    /// Probably a mistake, or dead weight.
    Warning,
    /// Wrong: the cluster will not do what the objects say.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    ///
    /// ```
    /// assert_eq!(netpol::analysis::lint::Severity::Info.as_str(), "info");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not `info`, `warning` or `error`.
///
/// ```
/// let err = "fatal".parse::<netpol::analysis::lint::Severity>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown severity "fatal": expected "info", "warning" or "error""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity \"{0}\": expected \"info\", \"warning\" or \"error\"")]
pub struct UnknownSeverity(String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(UnknownSeverity(other.to_owned())),
        }
    }
}

/// What a check's findings can be relied on for.
///
/// ```
/// use netpol::analysis::lint::{Check, Guarantee};
/// assert_eq!(Check::RedundantRule.guarantee(), Guarantee::Exact);
/// assert_eq!(Check::SplitPeer.guarantee(), Guarantee::Heuristic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Guarantee {
    /// Every finding is a fact about this cluster and policies (no false positives), and
    /// every case the check describes is found.
    Exact,
    /// Every finding is a fact (no false positives), but some cases may be missed.
    Sound,
    /// A likely mistake: the finding may describe something intended.
    Heuristic,
}

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $sev:ident, $guarantee:ident, $title:literal; )*) => {
        /// A check of the catalogue. See the [module documentation](self) for the table.
        ///
        /// ```
        /// use netpol::analysis::lint::{Check, Severity};
        /// let c: Check = "NP020".parse()?;
        /// assert_eq!(c, Check::RedundantRule);
        /// assert_eq!(c.severity(), Severity::Warning);
        /// assert_eq!(serde_json::to_string(&c)?, "\"NP020\"");
        /// assert!(Check::ALL.windows(2).all(|w| w[0].code() < w[1].code()));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Check {
            $( $(#[$doc])* $variant, )*
        }

        impl Check {
            /// Every check, by code.
            ///
            /// ```
            /// assert!(netpol::analysis::lint::Check::ALL.len() >= 20);
            /// ```
            pub const ALL: &'static [Check] = &[ $( Check::$variant, )* ];

            /// The stable code, `NP` and three digits.
            ///
            /// ```
            /// assert_eq!(netpol::analysis::lint::Check::EmptySubject.code(), "NP001");
            /// ```
            pub fn code(self) -> &'static str {
                match self { $( Check::$variant => $code, )* }
            }

            /// The severity of its findings.
            ///
            /// ```
            /// use netpol::analysis::lint::{Check, Severity};
            /// assert_eq!(Check::DuplicateName.severity(), Severity::Error);
            /// ```
            pub fn severity(self) -> Severity {
                match self { $( Check::$variant => Severity::$sev, )* }
            }

            /// What its findings can be relied on for.
            ///
            /// ```
            /// use netpol::analysis::lint::{Check, Guarantee};
            /// assert_eq!(Check::IneffectiveRule.guarantee(), Guarantee::Sound);
            /// ```
            pub fn guarantee(self) -> Guarantee {
                match self { $( Check::$variant => Guarantee::$guarantee, )* }
            }

            /// A one-line title.
            ///
            /// ```
            /// assert_eq!(netpol::analysis::lint::Check::NoDns.title(), "pods cannot reach cluster DNS");
            /// ```
            pub fn title(self) -> &'static str {
                match self { $( Check::$variant => $title, )* }
            }
        }
    };
}

catalogue! {
    /// NP001. A policy's subject (a NetworkPolicy's `podSelector` in its namespace, a
    /// ClusterNetworkPolicy's `subject`, a Calico policy's `selector` with its namespace
    /// and service account selectors) selects no pod of the cluster, as the engine
    /// resolves it. Exact.
    EmptySubject = "NP001", Warning, Exact, "policy selects no pod";
    /// NP002. A peer's `namespaceSelector` (NetworkPolicy, Calico rule sides), a
    /// ClusterNetworkPolicy's `namespaces` or `pods.namespaceSelector` (peers and subject)
    /// selects no namespace of the cluster. Exact.
    NamespaceSelectorMatchesNothing = "NP002", Warning, Exact, "namespace selector selects no namespace";
    /// NP003. A pod peer selects namespaces but no pod in them (NetworkPolicy
    /// `podSelector`, ClusterNetworkPolicy `pods`), a ClusterNetworkPolicy `nodes` peer
    /// selects no node, or a Calico rule side's selectors (`selector`,
    /// `serviceAccounts`, with its namespace) match no pod and no network set as Felix
    /// sees them. Exact.
    PeerMatchesNothing = "NP003", Warning, Exact, "peer selects nothing";
    /// NP004. A written `namespaceSelector` with terms selects every namespace of the
    /// cluster: if every namespace is meant, `{}` says so and keeps saying it when
    /// namespaces are added; if not, the selector is broader than intended. Heuristic.
    NamespaceSelectorMatchesAll = "NP004", Info, Heuristic, "namespace selector selects every namespace";
    /// NP005. One rule lists a peer with only a `namespaceSelector` and another with only a
    /// `podSelector`: two peers (any pod of those namespaces, or those pods of the
    /// policy's namespace), where one peer with both selectors (those pods in those
    /// namespaces) is the usual intent. Heuristic.
    SplitPeer = "NP005", Warning, Heuristic, "namespaceSelector and podSelector in separate peers";
    /// NP010. A NetworkPolicy or Calico policy writes rules for a direction its
    /// `policyTypes` (`types`) leaves out: the rules are ignored. Exact; needs the
    /// written policies ([`LintInput::written`]).
    RulesForUnisolatedDirection = "NP010", Warning, Exact, "rules for a direction the policy does not isolate";
    /// NP011. A NetworkPolicy writes no `policyTypes`: the directions it isolates are
    /// inferred (Ingress, plus Egress when it has egress rules). Exact; needs the written
    /// policies.
    MissingPolicyTypes = "NP011", Info, Exact, "policyTypes not written";
    /// NP012. A NetworkPolicy writes `egress: []` (or `egress` with no rule) and no
    /// `policyTypes`: it does not isolate egress, whatever the empty list suggests.
    /// Exact; needs the written policies.
    EmptyEgressWithoutPolicyTypes = "NP012", Warning, Exact, "empty egress without policyTypes isolates nothing";
    /// NP020. Removing this NetworkPolicy rule (the policy still isolating its pods)
    /// changes the decision of no flow in this cluster, in its direction: everything it
    /// allows is allowed by other rules, decided earlier by the Admin tier, or never
    /// policed (a pod's traffic with itself and, where the profile exempts it, with its
    /// own node). Names the rule that covers it alone when there is one. Each finding is
    /// about removing that rule alone: two rules that cover each other are both reported,
    /// and only one of them can go. Exact under
    /// profiles without Calico's Felix; under Felix, sound (when Calico policies share the
    /// `default` tier the check is skipped). Rules that match no flow at all are left to
    /// NP002/NP003/NP030.
    RedundantRule = "NP020", Warning, Exact, "redundant NetworkPolicy rule";
    /// NP021. Removing this whole NetworkPolicy changes no decision: where other
    /// NetworkPolicies also isolate its pods, their rules cover its rules (exact there);
    /// where it is the only one, what it allows and what happens without it are the same
    /// (compared under both ways the NetworkPolicy tier treats a pod's traffic with itself
    /// and its own node, which may miss a policy that only matters for those). Sound. As
    /// for NP020, two policies that cover each other are both reported.
    RedundantPolicy = "NP021", Warning, Sound, "redundant NetworkPolicy";
    /// NP022. A ClusterNetworkPolicy rule decides no flow: earlier rules of its tier (or
    /// earlier tiers, or the NetworkPolicy tier for a Baseline rule) decide every flow it
    /// matches first. Names the earlier rule that covers it alone when there is one.
    /// Exact; skipped under Felix (which converts ClusterNetworkPolicy) and for egress
    /// tiers with `domainNames` peers.
    ShadowedRule = "NP022", Warning, Exact, "shadowed tier rule";
    /// NP023. A ClusterNetworkPolicy rule decides flows, but removing it leaves every
    /// verdict the same: the rules and tiers after it decide those flows the same way.
    /// Sound; skipped where NP022 is.
    IneffectiveRule = "NP023", Warning, Sound, "tier rule decides nothing that would change";
    /// NP024. A Calico rule that is never read: an earlier rule of its policy with a
    /// terminal action (Allow, Deny, Pass) has no criteria or the same criteria; or, at
    /// every pod the policy applies to, an earlier policy of its tier has such a catch-all
    /// rule and so decides every flow first. Sound (only these syntactic forms of
    /// shadowing are found); runs where the profile enforces Calico's policies.
    CalicoShadowedRule = "NP024", Warning, Sound, "Calico rule never read";
    /// NP030. A rule names a port that no pod it concerns declares (with that name and
    /// protocol): for ingress, the pods the policy selects; for egress, the pods its
    /// peers select (every pod when it has none). That port entry matches nothing. Exact.
    UndeclaredNamedPort = "NP030", Warning, Exact, "named port no destination declares";
    /// NP031. Criteria that can never match any flow: an `ipBlock` whose `except` entries
    /// cover its `cidr`; a Calico rule whose `protocol` equals its `notProtocol`, whose
    /// `ipVersion` leaves none of its nets, whose `notNets` cover its `nets`, or whose
    /// `notPorts` cover its numeric `ports`. Exact.
    NeverMatches = "NP031", Warning, Exact, "criteria that can never match";
    /// NP032. An ingress rule's numeric port or range that none of the pods the policy
    /// selects declares as a container port, where each of those pods declares some:
    /// pods may listen on ports they do not declare, so this is a hint. Heuristic.
    UndeclaredPort = "NP032", Info, Heuristic, "port no selected pod declares";
    /// NP040. Pods that cannot reach cluster DNS on 53/UDP or on 53/TCP: through the
    /// `kube-system/kube-dns` Service (every endpoint decided after the address
    /// translation) when the Services are given and hold it, else to the CoreDNS pods
    /// (`k8s-app: kube-dns` in `kube-system`), decided by the engine. Reported per group
    /// of pods with the same namespace and policies. Exact.
    NoDns = "NP040", Warning, Exact, "pods cannot reach cluster DNS";
    /// NP050. A policy of a kind the profile's plugin does not enforce (flannel: every
    /// policy; Cilium and kube-router: ClusterNetworkPolicy; every profile but Calico's:
    /// Calico's policies): it takes no part in any decision. Exact.
    IgnoredByProfile = "NP050", Warning, Exact, "policy ignored by the network plugin";
    /// NP051. An `ipBlock` holds pod IPs (or node IPs) and the profile's plugin does not
    /// match ipBlocks against pods (nodes), as Cilium does not: the block does not match
    /// those pods. Exact.
    IpBlockNotMatchedByProfile = "NP051", Warning, Exact, "ipBlock meant for pods or nodes the plugin does not match";
    /// NP052. A NetworkPolicy ingress rule's `ipBlock`s on pods that a Service exposes
    /// outside the cluster (a node port, a load-balancer IP in `VIP` mode, an external
    /// IP) with `externalTrafficPolicy: Cluster`, where kube-proxy's masquerade decides
    /// what they match: an endpoint on another node than the one receiving the traffic
    /// sees that node's masquerade address ([`Profile::service_masquerade`]), not the
    /// client. Reported per rule and Service when outside clients the blocks hold are
    /// refused at such endpoints (an allow-list of client networks admits them only
    /// where the receiving node runs the endpoint, or never), or when every outside
    /// client is admitted because the blocks hold a masquerade address (the node
    /// network, or the pod network where the plugin masquerades to a tunnel address)
    /// while they do not hold every client's own address. Names the Service, its
    /// entrances, the masquerade addresses and their nodes. Exact, as
    /// [`ServiceTable::outside`](crate::service::ServiceTable::outside) answers (held to
    /// the engine by property tests); needs the Services ([`LintInput::services`]); runs
    /// where the profile enforces NetworkPolicy.
    ///
    /// [`Profile::service_masquerade`]: crate::profile::Profile::service_masquerade
    IpBlockMasqueraded = "NP052", Warning, Exact, "ipBlock and outside clients the service proxy masquerades";
    /// NP060. Two ClusterNetworkPolicies of one tier with the same priority both decide
    /// some flow of a pod they both select, with different actions: the verdict depends
    /// on an order upstream leaves open. Names a flow. Exact; skipped where NP022 is.
    PriorityConflict = "NP060", Warning, Exact, "equal-priority ClusterNetworkPolicies disagree";
    /// NP061. Two Calico policies of one tier with the same `order` apply to a common pod
    /// in one direction and hold rules with different actions: Felix orders them by name,
    /// so the verdict may depend on their names. Heuristic (the rules may not overlap).
    CalicoOrderConflict = "NP061", Warning, Heuristic, "equal-order Calico policies with different actions";
    /// NP070. A pod that no isolating policy (a NetworkPolicy, or a Calico policy, as
    /// the profile enforces them; a ClusterNetworkPolicy alone isolates nothing) selects
    /// for a direction, in a namespace where such policies select other pods for that
    /// direction: it is open while its neighbours are protected. Reported per class of
    /// pods (same labels). Exact.
    NotIsolated = "NP070", Warning, Exact, "pod not isolated where its neighbours are";
    /// NP080. Two objects of one kind with the same namespace and name: the API keeps
    /// one, so one of them does not exist. Exact.
    DuplicateName = "NP080", Error, Exact, "duplicate name";
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A code that is not in the catalogue.
///
/// ```
/// let err = "NP999".parse::<netpol::analysis::lint::Check>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown check "NP999""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check \"{0}\"")]
pub struct UnknownCheck(String);

impl std::str::FromStr for Check {
    type Err = UnknownCheck;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Check::ALL
            .iter()
            .copied()
            .find(|c| c.code() == s)
            .ok_or_else(|| UnknownCheck(s.to_owned()))
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The object a finding concerns.
///
/// ```
/// use netpol::analysis::lint::ObjectRef;
/// let o = ObjectRef::new("NetworkPolicy", Some("shop"), "db");
/// assert_eq!(o.to_string(), "NetworkPolicy shop/db");
/// assert_eq!(serde_json::to_string(&o)?, r#"{"kind":"NetworkPolicy","namespace":"shop","name":"db"}"#);
/// let c = ObjectRef::new("ClusterNetworkPolicy", None, "guard");
/// assert_eq!(serde_json::to_string(&c)?, r#"{"kind":"ClusterNetworkPolicy","namespace":null,"name":"guard"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectRef {
    /// The kind, as `kubectl` writes it (Calico's NetworkPolicy is
    /// `NetworkPolicy.projectcalico.org`).
    pub kind: String,
    /// The namespace; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A reference from its parts.
    ///
    /// ```
    /// let o = netpol::analysis::lint::ObjectRef::new("Pod", Some("x"), "a");
    /// assert_eq!(o.namespace.as_deref(), Some("x"));
    /// ```
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One problem found.
///
/// Serializes to `{"code", "severity", "object": {"kind", "namespace", "name"}, "field",
/// "message", "suggestion"}`.
///
/// ```
/// use netpol::analysis::lint::{Check, Finding, ObjectRef};
/// let f = Finding::new(Check::MissingPolicyTypes, ObjectRef::new("NetworkPolicy", Some("a"), "b"),
///     "spec.policyTypes", "no policyTypes", "write them");
/// let json = serde_json::to_value(&f)?;
/// assert_eq!(json["code"], "NP011");
/// assert_eq!(json["severity"], "info");
/// assert_eq!(f.to_string(), "NP011 info: NetworkPolicy a/b spec.policyTypes: no policyTypes (write them)");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// The check, serialized as its code.
    #[serde(rename = "code")]
    pub check: Check,
    /// The check's severity.
    pub severity: Severity,
    /// The object concerned.
    pub object: ObjectRef,
    /// The field path inside the object, apiserver style; empty for the object as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub suggestion: String,
}

impl Finding {
    /// A finding of `check`, with the check's severity.
    ///
    /// ```
    /// use netpol::analysis::lint::{Check, Finding, ObjectRef, Severity};
    /// let f = Finding::new(Check::DuplicateName, ObjectRef::new("Tier", None, "t"), "metadata.name", "m", "s");
    /// assert_eq!(f.severity, Severity::Error);
    /// ```
    pub fn new(
        check: Check,
        object: ObjectRef,
        field: impl Into<String>,
        message: impl Into<String>,
        suggestion: impl Into<String>,
    ) -> Self {
        Finding {
            check,
            severity: check.severity(),
            object,
            field: field.into(),
            message: message.into(),
            suggestion: suggestion.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.check, self.severity, self.object)?;
        if !self.field.is_empty() {
            write!(f, " {}", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.suggestion.is_empty() {
            write!(f, " ({})", self.suggestion)?;
        }
        Ok(())
    }
}

/// A check that did not run on this input, and why.
///
/// ```
/// use netpol::analysis::lint::{Check, LintInput, lint};
/// use netpol::cluster::Cluster;
/// use netpol::policy::PolicySet;
/// let cluster = Cluster::builder().build()?;
/// let report = lint(&LintInput::new(&cluster, &PolicySet::new()));
/// // No written policies were given: the checks that read them say so.
/// assert!(report.skipped.iter().any(|s| s.check == Check::MissingPolicyTypes));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The check, serialized as its code.
    #[serde(rename = "code")]
    pub check: Check,
    /// Why it did not run (or ran only in part).
    pub reason: String,
}

/// The findings of a lint pass, sorted by object, field and code, and the checks that did
/// not run.
///
/// ```
/// use netpol::analysis::lint::{LintInput, lint};
/// use netpol::cluster::Cluster;
/// use netpol::policy::PolicySet;
/// let cluster = Cluster::builder().build()?;
/// let report = lint(&LintInput::new(&cluster, &PolicySet::new()));
/// assert!(report.findings.is_empty() && report.worst().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Checks that could not run (or ran in part), with the reason.
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// The worst severity among the findings.
    ///
    /// ```
    /// assert_eq!(netpol::analysis::lint::Report::default().worst(), None);
    /// ```
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether a finding has at least this severity.
    ///
    /// ```
    /// use netpol::analysis::lint::{Report, Severity};
    /// assert!(!Report::default().has_at_least(Severity::Info));
    /// ```
    pub fn has_at_least(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= severity)
    }

    /// The findings of one check.
    ///
    /// ```
    /// use netpol::analysis::lint::{Check, Report};
    /// assert_eq!(Report::default().of(Check::NoDns).count(), 0);
    /// ```
    pub fn of(&self, check: Check) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(move |f| f.check == check)
    }
}

/// What a lint pass reads: the cluster and its policies (required), the network plugin's
/// profile (conformance by default), the Services (for the DNS check through
/// `kube-system/kube-dns`, and for NP052 on what reaches pods from outside), and the policy objects as written (for the checks about what
/// was written: `policyTypes`, rules of a direction left out, duplicate names).
///
/// The linter builds its own engine from these, so the flows it reasons about always
/// belong to this cluster, these policies and this profile.
///
/// ```
/// use netpol::analysis::lint::{Check, LintInput, lint};
/// use netpol::cluster::Cluster;
/// use netpol::model::{PolicyObject, decode_policy_objects};
/// use netpol::policy::{Policy, PolicySet};
/// use netpol::profile::Profile;
///
/// let cluster = Cluster::builder().build()?;
/// let written = decode_policy_objects(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
///   "metadata": {"name": "p", "namespace": "x"},
///   "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}}"#)?;
/// let mut policies = PolicySet::new();
/// for object in &written {
///     if let PolicyObject::NetworkPolicy(np) = object {
///         policies.push(Policy::new(np)?);
///     }
/// }
/// let input = LintInput::new(&cluster, &policies).profile(Profile::calico()).written(&written);
/// let report = lint(&input);
/// assert_eq!(report.of(Check::RulesForUnisolatedDirection).next().unwrap().field, "spec.egress");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LintInput<'a> {
    cluster: &'a Cluster,
    policies: &'a PolicySet,
    profile: Profile,
    services: Option<&'a ServiceTable>,
    written: Option<&'a [PolicyObject]>,
}

impl<'a> LintInput<'a> {
    /// The cluster and its validated policies, with the conformance profile.
    ///
    /// ```
    /// # use netpol::analysis::lint::LintInput;
    /// let cluster = netpol::cluster::Cluster::builder().build()?;
    /// let set = netpol::policy::PolicySet::new();
    /// let input = LintInput::new(&cluster, &set);
    /// assert_eq!(input.profile_ref().name(), "conformance");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(cluster: &'a Cluster, policies: &'a PolicySet) -> Self {
        LintInput {
            cluster,
            policies,
            profile: Profile::default(),
            services: None,
            written: None,
        }
    }

    /// The network plugin's profile.
    ///
    /// ```
    /// # use netpol::analysis::lint::LintInput;
    /// # let cluster = netpol::cluster::Cluster::builder().build()?;
    /// # let set = netpol::policy::PolicySet::new();
    /// let input = LintInput::new(&cluster, &set).profile(netpol::profile::Profile::cilium());
    /// assert_eq!(input.profile_ref().name(), "cilium");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The cluster's Services (a table built for this cluster): the DNS check then goes
    /// through `kube-system/kube-dns` when it exists, and NP052 runs.
    ///
    /// ```
    /// # use netpol::analysis::lint::LintInput;
    /// use netpol::service::ServiceTable;
    /// # let cluster = netpol::cluster::Cluster::builder().build()?;
    /// # let set = netpol::policy::PolicySet::new();
    /// let table = ServiceTable::build(&cluster, &[])?;
    /// let input = LintInput::new(&cluster, &set).services(&table);
    /// # let _ = input;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn services(mut self, services: &'a ServiceTable) -> Self {
        self.services = Some(services);
        self
    }

    /// The policy objects as written (decoded, before normalisation), every one that was
    /// read, duplicates included: the checks about what was written read them.
    ///
    /// ```
    /// # use netpol::analysis::lint::LintInput;
    /// # let cluster = netpol::cluster::Cluster::builder().build()?;
    /// # let set = netpol::policy::PolicySet::new();
    /// let written = netpol::model::decode_policy_objects(r#"{"kind": "List", "items": []}"#)?;
    /// let input = LintInput::new(&cluster, &set).written(&written);
    /// # let _ = input;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn written(mut self, objects: &'a [PolicyObject]) -> Self {
        self.written = Some(objects);
        self
    }

    /// The profile chosen.
    ///
    /// ```
    /// # use netpol::analysis::lint::LintInput;
    /// # let cluster = netpol::cluster::Cluster::builder().build()?;
    /// # let set = netpol::policy::PolicySet::new();
    /// assert!(LintInput::new(&cluster, &set).profile_ref().enforces_network_policy());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn profile_ref(&self) -> &Profile {
        &self.profile
    }
}

/// A configured lint pass: which checks run (all by default).
///
/// ```
/// use netpol::analysis::lint::{Check, LintInput, Linter};
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Policy, PolicySet};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let set: PolicySet = [Policy::new(&NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "x"},
///   "spec": {"podSelector": {"matchLabels": {"app": "none"}}}}"#)?)?].into_iter().collect();
/// let input = LintInput::new(&cluster, &set);
/// assert_eq!(Linter::new().lint(&input).of(Check::EmptySubject).count(), 1);
/// assert_eq!(Linter::new().disable(Check::EmptySubject).lint(&input).of(Check::EmptySubject).count(), 0);
/// assert!(Linter::only([Check::NoDns]).lint(&input).findings.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Linter {
    enabled: BTreeSet<Check>,
}

impl Default for Linter {
    fn default() -> Self {
        Linter::new()
    }
}

impl Linter {
    /// Every check of the catalogue.
    ///
    /// ```
    /// assert!(netpol::analysis::lint::Linter::new().is_enabled(netpol::analysis::lint::Check::NoDns));
    /// ```
    pub fn new() -> Self {
        Linter {
            enabled: Check::ALL.iter().copied().collect(),
        }
    }

    /// Only these checks.
    ///
    /// ```
    /// use netpol::analysis::lint::{Check, Linter};
    /// assert!(!Linter::only([Check::NoDns]).is_enabled(Check::EmptySubject));
    /// ```
    pub fn only(checks: impl IntoIterator<Item = Check>) -> Self {
        Linter {
            enabled: checks.into_iter().collect(),
        }
    }

    /// Without this check.
    ///
    /// ```
    /// use netpol::analysis::lint::{Check, Linter};
    /// assert!(!Linter::new().disable(Check::NoDns).is_enabled(Check::NoDns));
    /// ```
    pub fn disable(mut self, check: Check) -> Self {
        self.enabled.remove(&check);
        self
    }

    /// Whether a check runs.
    ///
    /// ```
    /// use netpol::analysis::lint::{Check, Linter};
    /// assert!(Linter::new().is_enabled(Check::SplitPeer));
    /// ```
    pub fn is_enabled(&self, check: Check) -> bool {
        self.enabled.contains(&check)
    }

    /// Runs the enabled checks.
    ///
    /// ```
    /// use netpol::analysis::lint::{LintInput, Linter};
    /// let cluster = netpol::cluster::Cluster::builder().build()?;
    /// let set = netpol::policy::PolicySet::new();
    /// assert!(Linter::new().lint(&LintInput::new(&cluster, &set)).findings.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lint(&self, input: &LintInput<'_>) -> Report {
        let ctx = context::Context::new(input);
        let mut out = Out {
            linter: self,
            report: Report::default(),
        };
        names::run(&ctx, &mut out);
        profile::run(&ctx, &mut out);
        outside::run(&ctx, &mut out);
        selectors::run(&ctx, &mut out);
        directions::run(&ctx, &mut out);
        ports::run(&ctx, &mut out);
        coverage::run(&ctx, &mut out);
        dns::run(&ctx, &mut out);
        redundancy::run(&ctx, &mut out);
        priority::run(&ctx, &mut out);
        tiers::run(&ctx, &mut out);
        let mut report = out.report;
        report.findings.sort_by(|a, b| {
            (
                &a.object.namespace,
                &a.object.name,
                &a.object.kind,
                &a.field,
                a.check,
            )
                .cmp(&(
                    &b.object.namespace,
                    &b.object.name,
                    &b.object.kind,
                    &b.field,
                    b.check,
                ))
        });
        report.findings.dedup();
        report.skipped.sort_by_key(|s| s.check);
        report
    }
}

/// Runs every check of the catalogue: `Linter::new().lint(input)`.
///
/// ```
/// use netpol::analysis::lint::{LintInput, lint};
/// let cluster = netpol::cluster::Cluster::builder().build()?;
/// let set = netpol::policy::PolicySet::new();
/// assert!(lint(&LintInput::new(&cluster, &set)).findings.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lint(input: &LintInput<'_>) -> Report {
    Linter::new().lint(input)
}

/// Where the checks write.
struct Out<'l> {
    linter: &'l Linter,
    report: Report,
}

impl Out<'_> {
    fn enabled(&self, check: Check) -> bool {
        self.linter.is_enabled(check)
    }

    fn push(&mut self, finding: Finding) {
        if self.enabled(finding.check) {
            self.report.findings.push(finding);
        }
    }

    fn skip(&mut self, check: Check, reason: impl Into<String>) {
        if self.enabled(check) {
            self.report.skipped.push(Skipped {
                check,
                reason: reason.into(),
            });
        }
    }
}
