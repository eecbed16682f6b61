//! Node changes without a rebuild.
//!
//! What deciding reads of a node is its entry of `Core::nodes` (its peer rows in the rule
//! indexes and the prefix-map values of its addresses), its bit in each node set
//! (ClusterNetworkPolicy `nodes` peers), and, on the pod side, the node id each pod entry
//! holds (`PodInfo::node`, for the own-node exemption). Nothing else of the core knows
//! nodes: identities, classes and programs are the same whatever nodes there are.
//!
//! A node's peer row in a rule index is the set of rules whose peers hold it: rules for
//! every peer, rules with a node set holding it, rules with blocks holding the prefix-map
//! value of its address. So it follows from the node's *membership* (the node sets holding
//! it) and that value, and the prefix map gives every address some value it already knows.
//! A node added or changed then takes:
//! - its membership from a node the core knows whose labels every `nodes` selector of the
//!   enforced ClusterNetworkPolicies answers the same for (each node set is what one of
//!   those selectors matches), or none when no selector matches it;
//! - its rows, per address family, from a node the core knows with the same membership and
//!   the same value; for a node in no node set, where `ipBlock`s match node addresses and
//!   Calico's Felix does not decide, from the row of an outside address with that value
//!   (the peers of every rule hold both alike); in a direction with no indexed rule, all
//!   rows are that one.
//!
//! Otherwise (a label combination some selector tells apart from every known node, a
//! selector that matched no node at the build matching it, or rows no known atom has) the
//! core is rebuilt.
//!
//! A node removed moves the last node into its place, as the cluster does: its entry and
//! its bit in every node set move, the pods of the removed node lose their node and those
//! of the moved one take its new id. That is always possible without a rebuild.
//!
//! Calico's selectors never read node labels (host endpoints are not modelled): under
//! Felix a node's rows follow from its value as well, and only the outside-address
//! shortcut is left out. Host-network pods are the cluster's business (it resolves them to
//! their node by name, also to a node added after them); the core holds nothing of them.
//!
//! What this relies on, which incremental policy changes must keep: every node set a rule
//! reads is the nodes its selector matches among the current ones, and `Core::nodes` and
//! `Core::external_rows` hold the current rows.
//!
//! Costs: the node table (`O(nodes)` words, copied), each node set (`O(nodes / 64)`
//! words, copied), the selectors of the ClusterNetworkPolicies (evaluated on the node, and
//! on known nodes until one answers alike), and for a removal a scan of the pod table for
//! the pods of the two nodes (one read per pod) plus the chunks of those pods.

use std::net::IpAddr;
use std::sync::Arc;

use super::super::{Addrs, Core, NO_NODE, NO_ROW, to_u32};
use super::{UpdateError, Work};
use crate::cluster::{Cluster, NodeSpec};
use crate::model::Labels;
use crate::policy::{ClusterPeer, Direction, PolicySet};
use crate::selector::Selector;

/// Applies a node added or changed: to the cluster, and to the core when it can express
/// the result (else a rebuild is due).
pub(super) fn upsert(work: &mut Work, spec: NodeSpec) -> Result<(), UpdateError> {
    let name = spec.name.clone();
    let before = work.cluster.clone();
    let (cluster, result) = work.cluster.edit(|d| d.upsert_node(spec));
    let at = result?;
    work.cluster = cluster;
    if work.pods.is_none() {
        return Ok(());
    }
    match derive(work, &before, &name, at as usize) {
        Some((addrs, membership)) => {
            let core = Arc::make_mut(&mut work.core);
            let count = work.cluster.node_count();
            let mut nodes = core.nodes.to_vec();
            match nodes.get_mut(at as usize) {
                Some(slot) => *slot = addrs,
                None => nodes.push(addrs),
            }
            core.nodes = nodes.into();
            if core.node_sets.len() > 0 {
                let at = at as usize;
                core.node_sets = core.node_sets.resized(count, |s, set| {
                    if membership.get(s as usize).copied().unwrap_or(false) {
                        set.insert(at);
                    } else {
                        set.remove(at);
                    }
                });
            }
            work.incremental += 1;
        }
        None => work.pods = None,
    }
    Ok(())
}

/// Applies a node removed: to the cluster, and to the core (always possible).
pub(super) fn remove(work: &mut Work, name: &str) {
    let Some(id) = work.cluster.node_id(name) else {
        return;
    };
    let gone = u32::try_from(id.index()).unwrap_or(NO_NODE);
    let last = u32::try_from(work.cluster.node_count().saturating_sub(1)).unwrap_or(NO_NODE);
    // The pods of the removed node and of the one moved into its place, with their new
    // node.
    let moves: Option<Vec<(usize, u32)>> = work.pods.as_ref().map(|pods| {
        pods.iter()
            .enumerate()
            .filter_map(|(p, info)| match info.node {
                n if n == gone => Some((p, NO_NODE)),
                n if n == last => Some((p, gone)),
                _ => None,
            })
            .collect()
    });
    let on_nodes: Option<Vec<usize>> = moves
        .as_ref()
        .map(|list| list.iter().map(|(p, _)| *p).collect());
    let (cluster, changed) = work
        .cluster
        .edit(|d| d.remove_node(name, on_nodes.as_deref()));
    work.cluster = cluster;
    let (Some(pods), Some(moves), true) = (work.pods.as_mut(), moves, changed) else {
        return;
    };
    for (p, node) in moves {
        let Some(mut info) = pods.get(p).cloned() else {
            continue;
        };
        info.node = node;
        pods.set(p, info);
    }
    let core = Arc::make_mut(&mut work.core);
    let mut nodes = core.nodes.to_vec();
    if (gone as usize) < nodes.len() {
        nodes.swap_remove(gone as usize);
    }
    core.nodes = nodes.into();
    if core.node_sets.len() > 0 {
        let old = core.node_sets.clone();
        let (gone, last) = (gone as usize, last as usize);
        core.node_sets = old.resized(last, |s, set| {
            if gone == last {
                return;
            }
            if old.contains(s, last) {
                set.insert(gone);
            } else {
                set.remove(gone);
            }
        });
    }
    work.incremental += 1;
}

/// The `nodes` selectors of the ClusterNetworkPolicies the core enforces: every node set
/// is the nodes one of them matches.
fn node_selectors<'a>(policies: &'a PolicySet, core: &Core) -> Vec<&'a Selector> {
    if !core.profile.enforces_cluster_network_policy() {
        return Vec::new();
    }
    policies
        .cluster_policies()
        .iter()
        .flat_map(|p| Direction::BOTH.into_iter().flat_map(move |d| p.rules(d)))
        .flat_map(|r| r.peers())
        .filter_map(|peer| match peer {
            ClusterPeer::Nodes(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The entry and node-set membership of node `at` of the changed cluster, derived from
/// what the core knows of the nodes of `before` (as the core holds them); `None` when
/// the core cannot express it.
fn derive(work: &Work, before: &Cluster, name: &str, at: usize) -> Option<(Addrs, Vec<bool>)> {
    let core = &*work.core;
    let node = work.cluster.node(work.cluster.node_id(name)?)?;
    let selectors = node_selectors(&work.policies, core);
    let answers: Vec<bool> = selectors.iter().map(|s| s.matches(&node.labels)).collect();
    let alike = |labels: &Labels| {
        selectors
            .iter()
            .zip(&answers)
            .all(|(s, a)| s.matches(labels) == *a)
    };
    let sets = &core.node_sets;
    let n_sets = sets.len();
    let known = before.node_count().min(core.nodes.len());
    // Known nodes to try, the node's own former entry first.
    let order = || std::iter::once(at).chain((0..known).filter(move |j| *j != at));
    let membership: Vec<bool> = if answers.iter().all(|a| !a) {
        vec![false; n_sets]
    } else {
        // The node's own former entry when its labels answer alike, else the first
        // known node whose labels do.
        let own = at < known
            && before
                .node_id(name)
                .and_then(|id| before.node(id))
                .is_some_and(|n| alike(&n.labels));
        let j = if own {
            at
        } else {
            before
                .nodes()
                .take(known)
                .position(|(_, n)| alike(&n.labels))?
        };
        (0..n_sets).map(|s| sets.contains(to_u32(s), j)).collect()
    };
    let member_of = |j: usize| {
        membership
            .iter()
            .enumerate()
            .all(|(s, m)| sets.contains(to_u32(s), j) == *m)
    };
    let first = |fam: bool| {
        node.ips
            .iter()
            .copied()
            .find(|ip: &IpAddr| ip.is_ipv6() == fam)
    };
    let values = [false, true].map(|fam| first(fam).map_or(0, |ip| core.blocks.lookup(ip)));
    let [value_v4, value_v6] = values;
    let like_outside = membership.iter().all(|m| !m)
        && core.profile.ipblock_matches_nodes()
        && !core.profile.enforces_calico_policy();
    let mut rows = [[NO_ROW; 2]; 2];
    for (fam, value) in values.iter().enumerate() {
        let value_of = |a: &Addrs| if fam == 1 { a.value_v6 } else { a.value_v4 };
        let from_node = order().find(|j| {
            core.nodes
                .get(*j)
                .is_some_and(|a| value_of(a) == *value && member_of(*j))
        });
        for (di, per_dir) in rows.iter_mut().enumerate() {
            let slot = per_dir.get_mut(fam)?;
            let external = || {
                let table = core.external_rows.get(di)?;
                Some(first(fam == 1).map_or(table.none(), |ip| table.get(ip)))
            };
            let unindexed = core
                .rule_start
                .get(di)
                .is_none_or(|starts| starts.iter().all(Option::is_none));
            *slot = match from_node.and_then(|j| core.nodes.get(j)) {
                Some(a) => *a.rows.get(di)?.get(fam)?,
                None if like_outside || unindexed => external()?,
                None => return None,
            };
        }
    }
    let addrs = Addrs {
        rows,
        first_v6: node.ips.first().map(IpAddr::is_ipv6),
        value_v4,
        value_v6,
    };
    Some((addrs, membership))
}
