//! The impact of one change: the flows one new, changed or deleted policy object adds
//! and removes.

use crate::calico::{CalicoNetworkSet, CalicoPolicy, CalicoPolicyKind, CalicoTier};
use crate::engine::Engine;
use crate::engine::live::{self, LiveEngine, PolicyKey};
use crate::policy::{AsPolicySet, ClusterPolicy, Policy, PolicyKind, PolicySet};

use super::AnalysisError;
use super::diff::SemanticDiff;

/// A policy object of any kind the engine reads.
///
/// ```
/// use netpol::analysis::PolicyItem;
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Policy, PolicyKind};
/// let item = PolicyItem::from(Policy::new(&NetworkPolicy::new("x", "deny"))?);
/// assert_eq!(item.kind(), PolicyKind::NetworkPolicy);
/// assert_eq!(item.name(), "x/deny");
/// # Ok::<(), netpol::validate::ValidationErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PolicyItem {
    /// A Kubernetes NetworkPolicy.
    Network(Policy),
    /// A ClusterNetworkPolicy.
    Cluster(ClusterPolicy),
    /// A Calico NetworkPolicy or GlobalNetworkPolicy.
    Calico(Box<CalicoPolicy>),
    /// A Calico NetworkSet or GlobalNetworkSet.
    NetworkSet(CalicoNetworkSet),
    /// A Calico Tier.
    Tier(CalicoTier),
}

impl From<Policy> for PolicyItem {
    fn from(p: Policy) -> Self {
        PolicyItem::Network(p)
    }
}

impl From<ClusterPolicy> for PolicyItem {
    fn from(p: ClusterPolicy) -> Self {
        PolicyItem::Cluster(p)
    }
}

impl From<CalicoPolicy> for PolicyItem {
    fn from(p: CalicoPolicy) -> Self {
        PolicyItem::Calico(Box::new(p))
    }
}

impl From<CalicoNetworkSet> for PolicyItem {
    fn from(p: CalicoNetworkSet) -> Self {
        PolicyItem::NetworkSet(p)
    }
}

impl From<CalicoTier> for PolicyItem {
    fn from(p: CalicoTier) -> Self {
        PolicyItem::Tier(p)
    }
}

fn calico_kind(p: &CalicoPolicy) -> PolicyKind {
    match p.kind() {
        CalicoPolicyKind::Namespaced => PolicyKind::CalicoNetworkPolicy,
        _ => PolicyKind::GlobalNetworkPolicy,
    }
}

fn set_kind(s: &CalicoNetworkSet) -> PolicyKind {
    if s.namespace().is_some() {
        PolicyKind::NetworkSet
    } else {
        PolicyKind::GlobalNetworkSet
    }
}

impl PolicyItem {
    /// The object's kind.
    ///
    /// ```
    /// use netpol::analysis::PolicyItem;
    /// use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy};
    /// let item = PolicyItem::from(CalicoPolicy::new(&GlobalNetworkPolicy::new("g"))?);
    /// assert_eq!(item.kind(), netpol::policy::PolicyKind::GlobalNetworkPolicy);
    /// # Ok::<(), netpol::validate::ValidationErrors>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyItem::Network(_) => PolicyKind::NetworkPolicy,
            PolicyItem::Cluster(_) => PolicyKind::ClusterNetworkPolicy,
            PolicyItem::Calico(p) => calico_kind(p),
            PolicyItem::NetworkSet(s) => set_kind(s),
            PolicyItem::Tier(_) => PolicyKind::Tier,
        }
    }

    /// `namespace/name` for a namespaced kind, `name` for a cluster-scoped one.
    ///
    /// ```
    /// use netpol::analysis::PolicyItem;
    /// use netpol::policy::{ClusterPolicy, ClusterTier, Subject};
    /// use netpol::selector::Selector;
    /// let cnp = ClusterPolicy::builder("guard", ClusterTier::Admin, 1, Subject::Namespaces(Selector::everything())).build();
    /// assert_eq!(PolicyItem::from(cnp).name(), "guard");
    /// ```
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            PolicyItem::Network(p) => p.key(),
            PolicyItem::Cluster(p) => p.name().to_owned(),
            PolicyItem::Calico(p) => p.key(),
            PolicyItem::NetworkSet(s) => s.key(),
            PolicyItem::Tier(t) => t.name().to_owned(),
        }
    }
}

/// One change to a policy set: an object created or replaced (`Apply`, matched by kind,
/// namespace and name), or deleted.
///
/// ```
/// use netpol::analysis::Change;
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Policy, PolicyKind};
/// let old = vec![Policy::new(&NetworkPolicy::new("x", "a"))?];
/// let delete = Change::Delete { kind: PolicyKind::NetworkPolicy, namespace: Some("x".into()), name: "a".into() };
/// assert!(delete.apply_to(&old)?.is_empty());
/// let add = Change::Apply(Policy::new(&NetworkPolicy::new("x", "b"))?.into());
/// assert_eq!(add.apply_to(&old)?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// Create the object, or replace the one of the same kind, namespace and name.
    Apply(PolicyItem),
    /// Delete an object.
    Delete {
        /// Its kind.
        kind: PolicyKind,
        /// Its namespace, for a namespaced kind.
        namespace: Option<String>,
        /// Its name.
        name: String,
    },
}

impl Change {
    /// The policy set after the change: the objects in the same order, a replaced
    /// object where the old one was, a new one last.
    ///
    /// ```
    /// use netpol::analysis::Change;
    /// use netpol::policy::{PolicyKind, PolicySet};
    /// let gone = Change::Delete { kind: PolicyKind::Tier, namespace: None, name: "t".into() };
    /// assert!(gone.apply_to(&PolicySet::new()).is_err());
    /// ```
    pub fn apply_to(
        &self,
        policies: &(impl AsPolicySet + ?Sized),
    ) -> Result<PolicySet, AnalysisError> {
        let set = policies.as_policy_set();
        let (kind, key) = match self {
            Change::Apply(item) => (item.kind(), item.name()),
            Change::Delete {
                kind,
                namespace,
                name,
            } => (
                *kind,
                match namespace {
                    Some(ns) => format!("{ns}/{name}"),
                    None => name.clone(),
                },
            ),
        };
        let mut found = false;
        let mut out = PolicySet::new();
        let mut keep = |k: PolicyKind, name: String| -> bool {
            if k == kind && name == key {
                found = true;
                return false;
            }
            true
        };
        // Each list is rebuilt with the object taken out; a replacement goes where it was.
        let mut at: Option<usize> = None;
        let mut network: Vec<Policy> = Vec::new();
        for p in set.network_policies() {
            if keep(PolicyKind::NetworkPolicy, p.key()) {
                network.push(p.clone());
            } else if at.is_none() {
                at = Some(network.len());
            }
        }
        let mut cluster: Vec<ClusterPolicy> = Vec::new();
        let mut at_cluster = None;
        for p in set.cluster_policies() {
            if keep(PolicyKind::ClusterNetworkPolicy, p.name().to_owned()) {
                cluster.push(p.clone());
            } else if at_cluster.is_none() {
                at_cluster = Some(cluster.len());
            }
        }
        let mut calico: Vec<CalicoPolicy> = Vec::new();
        let mut at_calico = None;
        for p in set.calico_policies() {
            if keep(calico_kind(p), p.key()) {
                calico.push(p.clone());
            } else if at_calico.is_none() {
                at_calico = Some(calico.len());
            }
        }
        let mut sets: Vec<CalicoNetworkSet> = Vec::new();
        let mut at_sets = None;
        for s in set.network_sets() {
            if keep(set_kind(s), s.key()) {
                sets.push(s.clone());
            } else if at_sets.is_none() {
                at_sets = Some(sets.len());
            }
        }
        let mut tiers: Vec<CalicoTier> = Vec::new();
        let mut at_tiers = None;
        for t in set.tiers() {
            if keep(PolicyKind::Tier, t.name().to_owned()) {
                tiers.push(t.clone());
            } else if at_tiers.is_none() {
                at_tiers = Some(tiers.len());
            }
        }
        match self {
            Change::Delete { .. } if !found => {
                return Err(AnalysisError::NotFound {
                    kind: kind.as_str().to_owned(),
                    name: key,
                });
            }
            Change::Delete { .. } => {}
            Change::Apply(item) => match item {
                PolicyItem::Network(p) => {
                    network.insert(at.unwrap_or(network.len()), p.clone());
                }
                PolicyItem::Cluster(p) => {
                    cluster.insert(at_cluster.unwrap_or(cluster.len()), p.clone());
                }
                PolicyItem::Calico(p) => {
                    calico.insert(at_calico.unwrap_or(calico.len()), (**p).clone());
                }
                PolicyItem::NetworkSet(s) => sets.insert(at_sets.unwrap_or(sets.len()), s.clone()),
                PolicyItem::Tier(t) => tiers.insert(at_tiers.unwrap_or(tiers.len()), t.clone()),
            },
        }
        out.extend(network);
        out.extend(cluster);
        out.extend(calico);
        out.extend(sets);
        out.extend(tiers);
        Ok(out)
    }
}

/// The flows one change adds and removes: a [`SemanticDiff`] from the current policies
/// (those `engine` was built from) to the policies after the change, with
/// [`DiffEntry::added`](super::DiffEntry::added) and
/// [`removed`](super::DiffEntry::removed) per group of workloads.
///
/// The current engine is used as it is; only the engine after the change is built, and
/// only the classes of pods that a policy changed by it selects are compared (the pods
/// the changed object selects, in either version; for a Calico Tier or network set,
/// those that a Calico policy selects).
///
/// ```
/// use netpol::analysis::{Change, impact};
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::Policy;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
/// let current: Vec<Policy> = Vec::new();
/// let engine = Engine::build(&cluster, &current);
/// let change = Change::Apply(Policy::new(&NetworkPolicy::new("x", "deny-all"))?.into());
/// let diff = impact(&engine, &current, &change)?;
/// assert!(diff.entries()[0].removed.is_all());
/// assert!(diff.entries().iter().all(|e| e.added.is_empty()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn impact(
    engine: &Engine,
    policies: &(impl AsPolicySet + ?Sized),
    change: &Change,
) -> Result<SemanticDiff, AnalysisError> {
    let after = change.apply_to(policies)?;
    let after_engine = Engine::builder()
        .profile(engine.profile().clone())
        .build(engine.cluster(), &after);
    SemanticDiff::new(engine, policies, &after_engine, &after)
}

/// [`impact`] for a caller that keeps a [`LiveEngine`] (an admission webhook, a
/// controller): the engine after the change is the live engine's update, applied
/// incrementally where the live engine can (a NetworkPolicy the compiled core can
/// express; see [`engine::live`](crate::engine::live)) and rebuilt otherwise. The diff
/// comes with that engine, so that a caller admitting the change keeps it instead of
/// building again.
///
/// The diff is the one [`impact`] gives for the same change on the same policies.
///
/// ```
/// use netpol::analysis::{Change, impact_live};
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::live::LiveEngine;
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Policy, PolicySet};
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
/// let live = LiveEngine::new(&cluster, PolicySet::new(), Default::default());
/// let change = Change::Apply(Policy::new(&NetworkPolicy::new("x", "deny-all"))?.into());
/// let (diff, after) = impact_live(&live, &change)?;
/// assert!(diff.entries()[0].removed.is_all());
/// assert_eq!(after.policies().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`AnalysisError::NotFound`] for a deletion of an object the policies do not hold;
/// [`AnalysisError::Update`] if the live engine refuses the change.
pub fn impact_live(
    live: &LiveEngine,
    change: &Change,
) -> Result<(SemanticDiff, LiveEngine), AnalysisError> {
    let update = match change {
        Change::Apply(item) => live::Change::Policy(match item {
            PolicyItem::Network(p) => live::PolicyItem::Network(p.clone()),
            PolicyItem::Cluster(p) => live::PolicyItem::Cluster(p.clone()),
            PolicyItem::Calico(p) => live::PolicyItem::Calico((**p).clone()),
            PolicyItem::NetworkSet(s) => live::PolicyItem::NetworkSet(s.clone()),
            PolicyItem::Tier(t) => live::PolicyItem::Tier(t.clone()),
        }),
        Change::Delete {
            kind,
            namespace,
            name,
        } => {
            let key = match namespace {
                Some(ns) => format!("{ns}/{name}"),
                None => name.clone(),
            };
            if !holds(live.policies(), *kind, &key) {
                return Err(AnalysisError::NotFound {
                    kind: kind.to_string(),
                    name: key,
                });
            }
            live::Change::PolicyRemoved(policy_key(*kind, namespace.clone(), name.clone()))
        }
    };
    let after = live.apply(update).map_err(AnalysisError::Update)?;
    let diff = SemanticDiff::new(
        live.engine(),
        live.policies(),
        after.engine(),
        after.policies(),
    )?;
    Ok((diff, after))
}

/// The live engine's key of an object of `kind`.
fn policy_key(kind: PolicyKind, namespace: Option<String>, name: String) -> PolicyKey {
    match kind {
        PolicyKind::NetworkPolicy => PolicyKey::Network {
            namespace: namespace.unwrap_or_default(),
            name,
        },
        PolicyKind::ClusterNetworkPolicy => PolicyKey::Cluster { name },
        PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy => {
            PolicyKey::Calico { namespace, name }
        }
        PolicyKind::NetworkSet | PolicyKind::GlobalNetworkSet => {
            PolicyKey::NetworkSet { namespace, name }
        }
        PolicyKind::Tier => PolicyKey::Tier { name },
    }
}

/// Whether `policies` hold an object of `kind` named `key` (`namespace/name`, or `name`).
fn holds(policies: &PolicySet, kind: PolicyKind, key: &str) -> bool {
    match kind {
        PolicyKind::NetworkPolicy => policies.network_policies().iter().any(|p| p.key() == key),
        PolicyKind::ClusterNetworkPolicy => {
            policies.cluster_policies().iter().any(|p| p.name() == key)
        }
        PolicyKind::CalicoNetworkPolicy | PolicyKind::GlobalNetworkPolicy => policies
            .calico_policies()
            .iter()
            .any(|p| calico_kind(p) == kind && p.key() == key),
        PolicyKind::NetworkSet | PolicyKind::GlobalNetworkSet => policies
            .network_sets()
            .iter()
            .any(|s| set_kind(s) == kind && s.key() == key),
        PolicyKind::Tier => policies.tiers().iter().any(|t| t.name() == key),
    }
}
