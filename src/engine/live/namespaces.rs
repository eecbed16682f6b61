//! Namespace changes without a rebuild.
//!
//! What deciding reads of a namespace's labels is what the namespace selectors of the
//! policies made of them when they were compiled, and only for the namespace's
//! identities: a NetworkPolicy's `namespaceSelector` peers and a ClusterNetworkPolicy's
//! subject and `namespaces` and `pods` peers (their pod sets, and which identities the
//! policy selects). Pod selectors, node selectors, addresses and ports never read them;
//! neither do NetworkPolicy subjects (their own namespace, by name).
//!
//! Where Calico's Felix decides, namespace labels are also pod labels: Felix's view of a
//! pod is its own labels, then its namespace's under `pcns.` (a pod's own `pcns.` label
//! first), then its service account (`calico::PodLabels`). Every selector as Calico
//! converts it may then read them (`calico::Converted`): namespace selectors (under
//! `pcns.`), and pod selectors written with `pcns.` keys, NetworkPolicy subjects
//! included. What a relabel changes there is which of the namespace's identities those
//! selectors match: a policy is taken as answering otherwise when one of its selectors
//! reads a `pcns.` key (or a namespace selector key) on which the old and new labels
//! differ and, tested on Felix's view of an identity of the namespace with the old labels
//! and with the new, answers otherwise for one of them. Identities there are told apart by
//! every label and the service account, never by the namespace's labels: a relabel
//! changes no identity or kind. A ClusterNetworkPolicy answering otherwise is always
//! compiled again there (its subject is tested per identity, not per namespace). With a
//! Calico policy or network set in the set (or, under Felix, a tier), a relabel or removal
//! rebuilds: Calico's selectors read namespace labels on network sets too, Calico's rules
//! may test the local pod (a pod's classes then depend on more than its identity), and
//! NetworkPolicy and ClusterNetworkPolicy changes there rebuild anyway.
//!
//! A namespace relabelled then takes:
//! - when every namespace selector of the policies answers the same for the new labels as
//!   for the old, or the core knows no identity of the namespace (it held no pod at the
//!   build; a pod added to it rebuilds, as a new namespace's does): the cluster's
//!   namespace table only;
//! - otherwise, for each policy with a selector that answers differently:
//!   - a ClusterNetworkPolicy whose subject alone does: the namespace's identities move in
//!     or out of it (`policy::reselect_cluster`), keeping its number and rules; the classes
//!     they move to run its tier as instructions. The cost follows the namespace's
//!     identities and the classes they are in. Not when identities enter a policy
//!     numbered at the build whose rules a rule index holds (explanations read them
//!     through the class mask, which moved identities keep): that one is compiled again
//!     as below, after which it is numbered anew and the next relabels can take this way;
//!   - any other (a NetworkPolicy `namespaceSelector` peer, a ClusterNetworkPolicy peer:
//!     the pod sets of its rules change, and every class running them) is compiled again,
//!     as the same version replacing itself (see `live/policy.rs`): its rules against the
//!     new labels, its subjects (a ClusterNetworkPolicy's: those of before and after)
//!     moved to classes with its new number. The cost is that of those policy updates:
//!     their subjects and the classes they are in, not the cluster's.
//!
//!   Under Felix the old version's subjects are read with the old labels (the update
//!   names the cluster before the relabel).
//!
//!   When one of them cannot be taken so (the profile does not enforce its kind, past the
//!   budget, and every case `live/policy.rs` lists), or when so many answer otherwise
//!   that together they would cost about a build (more than a quarter of the policies, 64
//!   to 256, a ClusterNetworkPolicy compiled again weighing as 8 NetworkPolicies: see
//!   [`MAX_RECOMPILED`]), the core is rebuilt.
//!
//! A namespace removed that still holds pods (or host-network pods) stays, with no label
//! but its name: a relabel as above. One that holds none is removed as the cluster
//! removes it: the last namespace moves into its place (its pods, found through the pod
//! table's identity column, take its new id; the other namespaces and all pods keep
//! theirs). The core holds no namespace number (its tables are by identity); the kind
//! index files by namespace its identity keys, identities, label index, selector scopes
//! and learned label sets: what is filed under the removed namespace is dropped, and what
//! is filed under the moved one is filed under its new number, at the cost of the two
//! namespaces' identities, the label keys selectors read and the policies changed since
//! the build. The removed namespace's identities stay in the core, held by no pod. Under
//! Felix too (identity keys then hold every label and the service account, which the
//! moved keys keep); not with a Calico policy, network set or tier in the set.
//!
//! A namespace added holds no pod: the cluster's namespace table only, under every
//! profile (a pod added to it is of no known identity, and rebuilds).
//!
//! What this relies on: the namespace selectors listed above are all that reads namespace
//! labels outside Calico's selectors (and, under Felix with no Calico object, the
//! converted selectors are all that does), and the identities the core knows of a namespace are
//! those `Fixed::by_namespace` lists, which hold the identity of every pod of the pod
//! table.

use std::sync::Arc;

use super::super::bitset::Bitset;
use super::super::calico::Converted;
use super::super::{Core, to_u32};
use super::{
    Fixed, IdentityBucket, KindIndex, UpdateError, Work, identity_hash, policy, projected,
    same_identity,
};
use crate::cluster::Cluster;
use crate::model::Labels;
use crate::persist::{GrowMap, PMap};
use crate::policy::{ClusterPeer, Direction, Peer, PolicySet, Subject};
use crate::selector::Selector;

/// Past this much work, a relabel rebuilds at once: each policy to compile again costs
/// what a change to it costs, and together they would soon cost more than a build (and
/// pass the budget of what incremental changes may push). A NetworkPolicy or a
/// ClusterNetworkPolicy taking or dropping identities counts 1, a ClusterNetworkPolicy
/// compiled again [`CLUSTER_WEIGHT`] (what such changes cost, measured, relative to a
/// NetworkPolicy's); the limit is a quarter of the policies counted so, between this and
/// [`MAX_RECOMPILED_CAP`] (a policy change costs more in a larger cluster: at 150,000
/// pods, a few hundred of them cost a build).
const MAX_RECOMPILED: usize = 64;

/// See [`MAX_RECOMPILED`].
const MAX_RECOMPILED_CAP: usize = 256;

/// See [`MAX_RECOMPILED`].
const CLUSTER_WEIGHT: usize = 8;

/// Applies a namespace added or relabelled: to the cluster, and to the core when it can
/// (else a rebuild is due).
pub(super) fn upsert(work: &mut Work, name: &str, labels: Labels) -> Result<(), UpdateError> {
    let before = work.cluster.clone();
    let (cluster, result) = work.cluster.edit(|d| d.upsert_namespace(name, labels));
    let (_, new) = result?;
    work.cluster = cluster;
    if new {
        // A new namespace holds no pod yet.
        work.incremental += 1;
        return Ok(());
    }
    relabelled(work, &before, name);
    Ok(())
}

/// Whether the set holds what keeps namespace changes from being taken without a rebuild:
/// a Calico policy or network set (Calico's selectors read namespace labels on pods and
/// network sets, and a namespace's policies may test the local pod), or, where Calico's
/// Felix decides, a tier (NetworkPolicy and ClusterNetworkPolicy changes then rebuild).
fn calico_objects(set: &PolicySet, felix: bool) -> bool {
    !set.calico_policies().is_empty()
        || !set.network_sets().is_empty()
        || (felix && !set.tiers().is_empty())
}

/// Applies a namespace removed: to the cluster, and to the core when it can (else a
/// rebuild is due).
pub(super) fn remove(work: &mut Work, name: &str) {
    let Some(id) = work.cluster.namespace_id(name) else {
        return;
    };
    let gone = to_u32(id.index());
    let last = to_u32(work.cluster.namespace_count().saturating_sub(1));
    // The pods of the two namespaces, from the kind index while the core holds.
    let positions = work.pods.as_ref().map(|_| pods_of(&work.kinds, gone, last));
    let before = work.cluster.clone();
    let (cluster, changed) = work
        .cluster
        .edit(|d| d.remove_namespace(name, positions.as_deref()));
    work.cluster = cluster;
    if !changed {
        return;
    }
    if work.cluster.namespace_id(name).is_some() {
        // It still holds pods: it stays, relabelled.
        relabelled(work, &before, name);
        return;
    }
    if work.pods.is_none() {
        return;
    }
    if !calico_objects(&work.policies, true) && renumber(&mut work.kinds, &work.core, gone, last) {
        work.incremental += 1;
    } else {
        work.pods = None;
    }
}

/// The positions in the pod table of the pods of namespaces `gone` and `last`: those of
/// their identities, read from the pod table's identity column.
fn pods_of(kinds: &KindIndex, gone: u32, last: u32) -> Vec<usize> {
    let ids: Vec<u32> = [gone, last]
        .iter()
        .filter_map(|n| kinds.fixed.by_namespace.get(n))
        .flatten()
        .copied()
        .collect();
    let Some(top) = ids.iter().max() else {
        return Vec::new();
    };
    let mut set = Bitset::new(*top as usize + 1);
    for id in &ids {
        set.insert(*id as usize);
    }
    kinds
        .pod_identities
        .iter()
        .enumerate()
        .filter(|(_, id)| set.contains(**id as usize))
        .map(|(i, _)| i)
        .collect()
}

/// Takes the removal of namespace `gone` (holding no pod) into the kind index, the last
/// namespace `last` moving into its place as the cluster moves it: what is filed under
/// `gone` is dropped, what is filed under `last` is filed under `gone`. The core holds no
/// namespace number (its tables are by identity). False when a rebuild is due.
fn renumber(kinds: &mut KindIndex, core: &Core, gone: u32, last: u32) -> bool {
    let keys = core.label_keys.as_deref();
    let to = |n: u32| match n {
        n if n == gone => None,
        n if n == last => Some(gone),
        n => Some(n),
    };
    let fixed = Arc::make_mut(&mut kinds.fixed);
    let of_identity = Arc::clone(&fixed.of_identity);
    let accounts = Arc::clone(&fixed.accounts);
    // Per identity of namespace `n`: the labels of a pod of it, and the service account
    // its key holds (where the core tells identities apart by it).
    // `None` when an identity's account is missing there.
    let labels_of = |n: u32| -> Option<Vec<(&Labels, &str)>> {
        let mut out = Vec::new();
        for id in fixed.by_namespace.get(&n).into_iter().flatten() {
            let account = match core.by_account {
                true => accounts.get(id).map(String::as_str)?,
                false => "",
            };
            if let Some((_, labels)) = of_identity.get(id) {
                out.push((&**labels, account));
            }
        }
        Some(out)
    };
    let moved = if last == gone {
        Vec::new()
    } else {
        let Some(moved) = labels_of(last) else {
            return false;
        };
        moved
    };
    let Some(dropped) = labels_of(gone) else {
        return false;
    };
    // The identity keys of the two namespaces: those of the build, and those learned.
    let learned = |n: u32| kinds.learned.iter().filter(move |(m, _, _)| *m == n);
    // (Labels are learned only where the core does not tell identities apart by the
    // service account.)
    for (labels, account) in dropped
        .iter()
        .copied()
        .chain(learned(gone).map(|(_, l, _)| (l, "")))
    {
        rekey(&mut kinds.identities, (gone, None), labels, account, keys);
    }
    for (labels, account) in moved
        .iter()
        .copied()
        .chain(learned(last).map(|(_, l, _)| (l, "")))
    {
        rekey(
            &mut kinds.identities,
            (last, Some(gone)),
            labels,
            account,
            keys,
        );
    }
    fixed
        .index
        .rename(gone, None, dropped.iter().map(|(l, _)| *l));
    fixed
        .index
        .rename(last, Some(gone), moved.iter().map(|(l, _)| *l));
    fixed.by_namespace.remove(&gone);
    if last != gone {
        if let Some(ids) = fixed.by_namespace.remove(&last) {
            fixed.by_namespace.insert(gone, ids);
        }
    }
    if kinds
        .learned
        .iter()
        .any(|(n, _, _)| *n == gone || *n == last)
    {
        kinds.learned = kinds
            .learned
            .iter()
            .filter_map(|(n, labels, id)| to(*n).map(|n| (n, labels.clone(), *id)))
            .collect();
    }
    if let Some(selectors) = kinds.selectors.as_mut() {
        for key in keys.into_iter().flatten() {
            selectors.by_key.remove(&(gone, key.clone()));
            if last != gone {
                if let Some(list) = selectors.by_key.remove(&(last, key.clone())) {
                    selectors.by_key.insert((gone, key.clone()), list);
                }
            }
        }
        let touched = |scope: &[u32]| scope.contains(&gone) || scope.contains(&last);
        if selectors.added.iter().any(|a| touched(&a.1)) {
            let added = std::mem::take(&mut selectors.added);
            selectors.added_set = PMap::new();
            for a in added.iter() {
                let (sel, scope) = &**a;
                let scope: Arc<[u32]> = scope.iter().filter_map(|n| to(*n)).collect();
                selectors.add_scoped(sel, scope);
            }
        }
    }
    true
}

/// Files the identity key of namespace `from`, `labels` (projected on `keys`, all when
/// `None`) and service account `account` (empty where the core does not tell identities
/// apart by it) under namespace `to`, or drops it.
fn rekey(
    map: &mut GrowMap<u64, IdentityBucket>,
    (from, to): (u32, Option<u32>),
    labels: &Labels,
    account: &str,
    keys: Option<&[String]>,
) {
    let labels = projected(labels, keys);
    let hash = identity_hash(from, &labels, account);
    let Some(bucket) = map.get(&hash) else {
        return;
    };
    let (mine, others): (IdentityBucket, IdentityBucket) = bucket
        .iter()
        .cloned()
        .partition(|(k, _)| same_identity(k, keys, from, &labels, account));
    if mine.is_empty() {
        return;
    }
    if others.is_empty() {
        map.remove(&hash);
    } else {
        map.insert(hash, others);
    }
    let Some(to) = to else {
        return;
    };
    let hash = identity_hash(to, &labels, account);
    let mut bucket = map.get(&hash).cloned().unwrap_or_default();
    for ((_, l, a), id) in mine {
        bucket.push(((to, l, a), id));
    }
    map.insert(hash, bucket);
}

/// Takes namespace `name`, relabelled since `before`, into the core; counts it when no
/// rebuild is due.
fn relabelled(work: &mut Work, before: &Cluster, name: &str) {
    let labels = |c: &Cluster| {
        c.namespace_id(name)
            .and_then(|id| c.namespace(id))
            .map(|n| n.labels.clone())
    };
    let (Some(old), Some(new)) = (labels(before), labels(&work.cluster)) else {
        work.pods = None;
        return;
    };
    if old == new {
        work.incremental += 1;
        return;
    }
    if work.pods.is_none() {
        return;
    }
    if relabel(work, before, name, &old, &new) {
        work.incremental += 1;
    } else {
        work.pods = None;
    }
}

/// The policies with a namespace selector that answers differently for `old` and `new`:
/// (NetworkPolicy positions, ClusterNetworkPolicy positions each with whether only its
/// subject's does).
fn affected(set: &PolicySet, old: &Labels, new: &Labels) -> (Vec<usize>, Vec<(usize, bool)>) {
    let differs = |sel: &Selector| sel.matches(old) != sel.matches(new);
    let network = set
        .network_policies()
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            Direction::BOTH.iter().any(|d| {
                p.rules(*d).iter().any(|rule| {
                    rule.peers.iter().flatten().any(|peer| {
                        matches!(peer, Peer::Pods { namespaces: Some(sel), .. } if differs(sel))
                    })
                })
            })
        })
        .map(|(i, _)| i)
        .collect();
    let cluster = set
        .cluster_policies()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let subject = match p.subject() {
                Subject::Namespaces(sel) => sel,
                Subject::Pods { namespaces, .. } => namespaces,
            };
            let peers = Direction::BOTH.iter().any(|d| {
                p.rules(*d).iter().any(|rule| {
                    rule.peers().iter().any(|peer| match peer {
                        ClusterPeer::Namespaces(sel) => differs(sel),
                        ClusterPeer::Pods { namespaces, .. } => differs(namespaces),
                        _ => false,
                    })
                })
            });
            (peers || differs(subject)).then_some((i, !peers))
        })
        .collect();
    (network, cluster)
}

/// Under Felix: the policies with a selector, as Calico converts it, that answers
/// differently for an identity of namespace `ns` (named `name`) when the namespace's
/// labels are `old` and when they are `new`, read over Felix's view of the identity (its
/// own labels first, then its namespace's under `pcns.`, its service account): the
/// NetworkPolicies' subjects and pod peers, the ClusterNetworkPolicies' subjects and
/// `namespaces` and `pods` peers. (NetworkPolicy positions, ClusterNetworkPolicy
/// positions each with `false`: a ClusterNetworkPolicy whose subject alone answers
/// otherwise is compiled again too.) Only a selector that reads a label on which `old`
/// and `new` differ is tested on the identities.
fn felix_affected(
    set: &PolicySet,
    fixed: &Fixed,
    (name, ns): (&str, u32),
    old: &Labels,
    new: &Labels,
) -> (Vec<usize>, Vec<(usize, bool)>) {
    let Some(ids) = fixed.by_namespace.get(&ns).filter(|ids| !ids.is_empty()) else {
        // No identity of the namespace: no subject or pod set holds any of it.
        return (Vec::new(), Vec::new());
    };
    let changed = |key: &str| old.get(key) != new.get(key);
    let differs = |conv: &Converted<'_>| {
        conv.reads_namespace_label(changed)
            && ids.iter().any(|id| {
                fixed.of_identity.get(id).is_some_and(|(_, own)| {
                    let account = fixed.accounts.get(id).map_or("default", String::as_str);
                    conv.answers_otherwise(own, name, account, [old, new])
                })
            })
    };
    let network = set
        .network_policies()
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            differs(&Converted::network_subject(p))
                || Direction::BOTH.iter().any(|d| {
                    p.rules(*d).iter().any(|rule| {
                        rule.peers.iter().flatten().any(|peer| match peer {
                            Peer::Pods { namespaces, pods } => differs(&Converted::network_peer(
                                p.namespace(),
                                namespaces.as_ref(),
                                pods,
                            )),
                            Peer::IpBlock(_) => false,
                        })
                    })
                })
        })
        .map(|(i, _)| i)
        .collect();
    let cluster = set
        .cluster_policies()
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            differs(&Converted::cluster_subject(p.subject()))
                || Direction::BOTH.iter().any(|d| {
                    p.rules(*d).iter().any(|rule| {
                        rule.peers()
                            .iter()
                            .filter_map(Converted::cluster_peer)
                            .any(|conv| differs(&conv))
                    })
                })
        })
        .map(|(i, _)| (i, false))
        .collect();
    (network, cluster)
}

/// Takes namespace `name`'s labels from `old` to `new` (the cluster already holds the
/// new ones; `before` the old) into the core; false when a rebuild is due.
fn relabel(work: &mut Work, before: &Cluster, name: &str, old: &Labels, new: &Labels) -> bool {
    let set = &work.policies;
    let felix = work.core.profile.enforces_calico_policy();
    if calico_objects(set, felix) {
        return false;
    }
    let Some(ns) = work
        .cluster
        .namespace_id(name)
        .and_then(|id| u32::try_from(id.index()).ok())
    else {
        return false;
    };
    let (network, cluster) = if felix {
        felix_affected(set, &work.kinds.fixed, (name, ns), old, new)
    } else {
        affected(set, old, new)
    };
    if network.is_empty() && cluster.is_empty() {
        return true;
    }
    let total = set.network_policies().len() + CLUSTER_WEIGHT * set.cluster_policies().len();
    let work_to_do = network.len()
        + cluster
            .iter()
            .map(|(_, subject_only)| if *subject_only { 1 } else { CLUSTER_WEIGHT })
            .sum::<usize>();
    if work_to_do > (total / 4).clamp(MAX_RECOMPILED, MAX_RECOMPILED_CAP) {
        return false;
    }
    if !work.kinds.fixed.by_namespace.contains_key(&ns) {
        // No identity of the namespace: no pod set or subject holds any of it.
        return true;
    }
    let policies = Arc::clone(&work.policies);
    for pos in network {
        let Some(p) = policies.network_policies().get(pos) else {
            return false;
        };
        let up = policy::Update {
            old_pos: Some(pos),
            old: Some(p),
            new: Some(p),
            before: Some(before),
        };
        let Some(pods) = work.pods.as_mut() else {
            return false;
        };
        if !policy::apply(&mut work.core, pods, &mut work.kinds, &work.cluster, &up) {
            return false;
        }
    }
    for (pos, subject_only) in cluster {
        let Some(p) = policies.cluster_policies().get(pos) else {
            return false;
        };
        if subject_only {
            // Only the namespace's identities move in or out of it.
            let Some(pods) = work.pods.as_mut() else {
                return false;
            };
            let (core, kinds) = (&mut work.core, &mut work.kinds);
            match policy::reselect_cluster(
                core,
                pods,
                kinds,
                &work.cluster,
                before,
                pos,
                p,
                (name, ns),
            ) {
                Some(true) => continue,
                Some(false) => return false,
                None => {}
            }
        }
        let up = policy::ClusterUpdate {
            old_pos: Some(pos),
            old: Some(p),
            new: Some(p),
            before: Some(before),
        };
        let Some(pods) = work.pods.as_mut() else {
            return false;
        };
        if !policy::apply_cluster(&mut work.core, pods, &mut work.kinds, &work.cluster, &up) {
            return false;
        }
    }
    true
}
