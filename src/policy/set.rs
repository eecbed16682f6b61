//! Policies of every kind, together, for the evaluators.

use std::fmt;

use super::{ClusterPolicy, Policy};
use crate::calico::{CalicoNetworkSet, CalicoPolicy, CalicoTier};

/// The kind of a policy object.
///
/// ```
/// use netpol::policy::PolicyKind;
/// assert_eq!(PolicyKind::ClusterNetworkPolicy.to_string(), "ClusterNetworkPolicy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PolicyKind {
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
    /// Calico's `NetworkPolicy` (`projectcalico.org/v3` or `crd.projectcalico.org/v1`).
    CalicoNetworkPolicy,
    /// Calico's `GlobalNetworkPolicy`.
    GlobalNetworkPolicy,
    /// Calico's `NetworkSet`.
    NetworkSet,
    /// Calico's `GlobalNetworkSet`.
    GlobalNetworkSet,
    /// Calico's `Tier`.
    Tier,
}

impl PolicyKind {
    /// Every kind.
    ///
    /// ```
    /// assert_eq!(netpol::policy::PolicyKind::ALL.len(), 7);
    /// ```
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::NetworkPolicy,
        PolicyKind::ClusterNetworkPolicy,
        PolicyKind::CalicoNetworkPolicy,
        PolicyKind::GlobalNetworkPolicy,
        PolicyKind::NetworkSet,
        PolicyKind::GlobalNetworkSet,
        PolicyKind::Tier,
    ];

    /// The kind as `kubectl` writes a resource (Calico's NetworkPolicy as
    /// `NetworkPolicy.projectcalico.org`, to tell it from Kubernetes' own).
    ///
    /// ```
    /// use netpol::policy::PolicyKind;
    /// assert_eq!(PolicyKind::NetworkPolicy.as_str(), "NetworkPolicy");
    /// assert_eq!(PolicyKind::CalicoNetworkPolicy.as_str(), "NetworkPolicy.projectcalico.org");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "NetworkPolicy",
            PolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            PolicyKind::CalicoNetworkPolicy => "NetworkPolicy.projectcalico.org",
            PolicyKind::GlobalNetworkPolicy => "GlobalNetworkPolicy",
            PolicyKind::NetworkSet => "NetworkSet",
            PolicyKind::GlobalNetworkSet => "GlobalNetworkSet",
            PolicyKind::Tier => "Tier",
        }
    }
}

impl fmt::Display for PolicyKind {
    /// [`as_str`](PolicyKind::as_str); [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of [`PolicyKind::as_str`]'s.
///
/// ```
/// let err = "Policy".parse::<netpol::policy::PolicyKind>().unwrap_err();
/// assert!(err.to_string().starts_with(r#"unknown policy kind "Policy": expected one of "NetworkPolicy", "#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy kind \"{0}\": expected one of {known}", known = PolicyKind::ALL.map(|k| format!("\"{k}\"")).join(", "))]
pub struct UnknownPolicyKind(String);

impl std::str::FromStr for PolicyKind {
    type Err = UnknownPolicyKind;
    /// A kind as [`as_str`](PolicyKind::as_str) writes it (Calico's namespaced policy as
    /// `NetworkPolicy.projectcalico.org`).
    ///
    /// ```
    /// use netpol::policy::PolicyKind;
    /// assert_eq!("NetworkPolicy.projectcalico.org".parse(), Ok(PolicyKind::CalicoNetworkPolicy));
    /// assert_eq!("Tier".parse(), Ok(PolicyKind::Tier));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownPolicyKind(s.to_owned()))
    }
}

/// Validated policies of every kind the crate evaluates, in the order they were added
/// (which only matters for explanations: evaluation order comes from tiers and
/// priorities).
///
/// ```
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{ClusterPolicy, ClusterTier, Policy, PolicySet, Subject};
/// use netpol::selector::Selector;
///
/// let mut set = PolicySet::new();
/// set.push(Policy::new(&NetworkPolicy::new("prod", "default-deny")).unwrap());
/// set.push(ClusterPolicy::builder("guard", ClusterTier::Admin, 1,
///     Subject::Namespaces(Selector::everything())).build());
/// assert_eq!((set.network_policies().len(), set.cluster_policies().len()), (1, 1));
/// assert_eq!(set.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    network: Vec<Policy>,
    cluster: Vec<ClusterPolicy>,
    calico: Vec<CalicoPolicy>,
    network_sets: Vec<CalicoNetworkSet>,
    tiers: Vec<CalicoTier>,
}

/// Something that can be added to a [`PolicySet`].
///
/// ```
/// use netpol::policy::{Policy, PolicySet};
/// let mut set = PolicySet::new();
/// set.push(Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap());
/// assert!(!set.is_empty());
/// ```
pub trait IntoPolicySetItem {
    /// Adds `self` to `set`.
    fn add_to(self, set: &mut PolicySet);
}

impl IntoPolicySetItem for Policy {
    fn add_to(self, set: &mut PolicySet) {
        set.network.push(self);
    }
}

impl IntoPolicySetItem for ClusterPolicy {
    fn add_to(self, set: &mut PolicySet) {
        set.cluster.push(self);
    }
}

impl IntoPolicySetItem for CalicoPolicy {
    fn add_to(self, set: &mut PolicySet) {
        set.calico.push(self);
    }
}

impl IntoPolicySetItem for CalicoNetworkSet {
    fn add_to(self, set: &mut PolicySet) {
        set.network_sets.push(self);
    }
}

impl IntoPolicySetItem for CalicoTier {
    fn add_to(self, set: &mut PolicySet) {
        set.tiers.push(self);
    }
}

/// The tables of a [`PolicySet`], for the engine's updates.
pub(crate) struct PolicySetParts<'a> {
    pub(crate) network: &'a mut Vec<Policy>,
    pub(crate) cluster: &'a mut Vec<ClusterPolicy>,
    pub(crate) calico: &'a mut Vec<CalicoPolicy>,
    pub(crate) network_sets: &'a mut Vec<CalicoNetworkSet>,
    pub(crate) tiers: &'a mut Vec<CalicoTier>,
}

impl PolicySet {
    pub(crate) fn parts_mut(&mut self) -> PolicySetParts<'_> {
        PolicySetParts {
            network: &mut self.network,
            cluster: &mut self.cluster,
            calico: &mut self.calico,
            network_sets: &mut self.network_sets,
            tiers: &mut self.tiers,
        }
    }

    /// An empty set.
    ///
    /// ```
    /// assert!(netpol::policy::PolicySet::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        PolicySet::default()
    }

    /// Adds a policy of any kind.
    ///
    /// ```
    /// use netpol::policy::{Policy, PolicySet};
    /// let mut set = PolicySet::new();
    /// set.push(Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap());
    /// assert_eq!(set.network_policies()[0].name(), "b");
    /// ```
    pub fn push(&mut self, policy: impl IntoPolicySetItem) {
        policy.add_to(self);
    }

    /// The Kubernetes NetworkPolicies, in the order added.
    ///
    /// ```
    /// assert!(netpol::policy::PolicySet::new().network_policies().is_empty());
    /// ```
    #[must_use]
    pub fn network_policies(&self) -> &[Policy] {
        &self.network
    }

    /// The ClusterNetworkPolicies, in the order added.
    ///
    /// ```
    /// assert!(netpol::policy::PolicySet::new().cluster_policies().is_empty());
    /// ```
    #[must_use]
    pub fn cluster_policies(&self) -> &[ClusterPolicy] {
        &self.cluster
    }

    /// Calico's NetworkPolicies and GlobalNetworkPolicies, in the order added.
    ///
    /// ```
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// use netpol::policy::PolicySet;
    /// let mut set = PolicySet::new();
    /// set.push(CalicoPolicy::new(&GlobalNetworkPolicy::new("g")).unwrap());
    /// assert_eq!(set.calico_policies()[0].name(), "g");
    /// ```
    #[must_use]
    pub fn calico_policies(&self) -> &[CalicoPolicy] {
        &self.calico
    }

    /// Calico's NetworkSets and GlobalNetworkSets, in the order added.
    ///
    /// ```
    /// use netpol::calico::{CalicoNetworkSet, GlobalNetworkSet};
    /// use netpol::policy::PolicySet;
    /// let mut set = PolicySet::new();
    /// set.push(CalicoNetworkSet::new(&GlobalNetworkSet::new("s", ["10.0.0.0/8"])).unwrap());
    /// assert_eq!(set.network_sets().len(), 1);
    /// ```
    #[must_use]
    pub fn network_sets(&self) -> &[CalicoNetworkSet] {
        &self.network_sets
    }

    /// Calico's Tiers, in the order added (the built-in ones are not added implicitly:
    /// see [`CalicoTier::builtin`]).
    ///
    /// ```
    /// use netpol::calico::CalicoTier;
    /// use netpol::policy::PolicySet;
    /// let mut set = PolicySet::new();
    /// set.push(CalicoTier::builtin("default").unwrap());
    /// assert_eq!(set.tiers()[0].name(), "default");
    /// ```
    #[must_use]
    pub fn tiers(&self) -> &[CalicoTier] {
        &self.tiers
    }

    /// How many objects of all kinds there are (policies, network sets and tiers).
    ///
    /// ```
    /// assert_eq!(netpol::policy::PolicySet::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.network.len()
            + self.cluster.len()
            + self.calico.len()
            + self.network_sets.len()
            + self.tiers.len()
    }

    /// Whether the set holds nothing.
    ///
    /// ```
    /// assert!(netpol::policy::PolicySet::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<Policy>> for PolicySet {
    fn from(network: Vec<Policy>) -> Self {
        PolicySet {
            network,
            ..PolicySet::default()
        }
    }
}

impl<T: IntoPolicySetItem> FromIterator<T> for PolicySet {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut set = PolicySet::new();
        for p in iter {
            set.push(p);
        }
        set
    }
}

impl<T: IntoPolicySetItem> Extend<T> for PolicySet {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for p in iter {
            self.push(p);
        }
    }
}

/// A borrowed view of policies of every kind: what the evaluators read.
///
/// ```
/// use netpol::policy::{AsPolicySet, Policy};
/// let policies = vec![Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap()];
/// let view = policies.as_policy_set();
/// assert_eq!(view.network_policies().len(), 1);
/// assert!(view.cluster_policies().is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySetRef<'a> {
    network: &'a [Policy],
    cluster: &'a [ClusterPolicy],
    calico: &'a [CalicoPolicy],
    network_sets: &'a [CalicoNetworkSet],
    tiers: &'a [CalicoTier],
}

impl<'a> PolicySetRef<'a> {
    /// The Kubernetes NetworkPolicies.
    ///
    /// ```
    /// use netpol::policy::AsPolicySet;
    /// let none: [netpol::policy::Policy; 0] = [];
    /// assert!(none.as_policy_set().network_policies().is_empty());
    /// ```
    #[must_use]
    pub fn network_policies(&self) -> &'a [Policy] {
        self.network
    }

    /// The ClusterNetworkPolicies.
    ///
    /// ```
    /// use netpol::policy::{AsPolicySet, PolicySet};
    /// assert!(PolicySet::new().as_policy_set().cluster_policies().is_empty());
    /// ```
    #[must_use]
    pub fn cluster_policies(&self) -> &'a [ClusterPolicy] {
        self.cluster
    }

    /// Calico's NetworkPolicies and GlobalNetworkPolicies.
    ///
    /// ```
    /// use netpol::policy::{AsPolicySet, PolicySet};
    /// assert!(PolicySet::new().as_policy_set().calico_policies().is_empty());
    /// ```
    #[must_use]
    pub fn calico_policies(&self) -> &'a [CalicoPolicy] {
        self.calico
    }

    /// Calico's NetworkSets and GlobalNetworkSets.
    ///
    /// ```
    /// use netpol::policy::{AsPolicySet, PolicySet};
    /// assert!(PolicySet::new().as_policy_set().network_sets().is_empty());
    /// ```
    #[must_use]
    pub fn network_sets(&self) -> &'a [CalicoNetworkSet] {
        self.network_sets
    }

    /// Calico's Tiers.
    ///
    /// ```
    /// use netpol::policy::{AsPolicySet, PolicySet};
    /// assert!(PolicySet::new().as_policy_set().tiers().is_empty());
    /// ```
    #[must_use]
    pub fn tiers(&self) -> &'a [CalicoTier] {
        self.tiers
    }
}

/// Anything the evaluators can read policies from: a [`PolicySet`], or a slice, array or
/// vector of Kubernetes NetworkPolicies ([`Policy`]).
///
/// ```
/// use netpol::cluster::Cluster;
/// use netpol::engine::Engine;
/// use netpol::policy::{Policy, PolicySet};
/// let cluster = Cluster::builder().build().unwrap();
/// let plain: Vec<Policy> = Vec::new();
/// let _from_vec = Engine::build(&cluster, &plain);
/// let _from_set = Engine::build(&cluster, &PolicySet::new());
/// let _from_array = Engine::build(&cluster, &[]);
/// ```
pub trait AsPolicySet {
    /// The borrowed view.
    fn as_policy_set(&self) -> PolicySetRef<'_>;
}

impl AsPolicySet for PolicySet {
    fn as_policy_set(&self) -> PolicySetRef<'_> {
        PolicySetRef {
            network: &self.network,
            cluster: &self.cluster,
            calico: &self.calico,
            network_sets: &self.network_sets,
            tiers: &self.tiers,
        }
    }
}

impl AsPolicySet for PolicySetRef<'_> {
    fn as_policy_set(&self) -> PolicySetRef<'_> {
        *self
    }
}

impl AsPolicySet for [Policy] {
    fn as_policy_set(&self) -> PolicySetRef<'_> {
        PolicySetRef {
            network: self,
            ..PolicySetRef::default()
        }
    }
}

impl<const N: usize> AsPolicySet for [Policy; N] {
    fn as_policy_set(&self) -> PolicySetRef<'_> {
        self.as_slice().as_policy_set()
    }
}

impl AsPolicySet for Vec<Policy> {
    fn as_policy_set(&self) -> PolicySetRef<'_> {
        self.as_slice().as_policy_set()
    }
}
