//! Changing a built cluster: each change yields a new [`Cluster`] sharing every untouched
//! table chunk and map shard with the old one (see `crate::persist`).
//!
//! What a change costs and which ids it keeps:
//! - a pod added, or changed in place (labels, addresses, node, ports, service account):
//!   the pod's table chunk, one shard of the name index and one per address; every id
//!   stays valid (the changed pod keeps its id);
//! - a pod removed: the last pod moves into its place, and pod ids get a new lineage (ids
//!   handed out before are stale: [`Cluster::pod`] no longer finds them, rather than
//!   finding another pod);
//! - a namespace added or relabelled, a node added or changed: that entry; ids stay valid;
//! - a node removed: the last node moves into its place and gets a new id (the removed
//!   node's id and the moved node's old one are stale; every other node keeps its id),
//!   and the pods of those two nodes are rewritten; finding them scans the pod table
//!   unless the caller knows them;
//! - a namespace removed: the last namespace moves into its place and gets a new id (the
//!   removed namespace's id and the moved one's old id are stale; every other namespace
//!   keeps its id), and the pods of the moved namespace are rewritten; finding them (and
//!   whether the removed one still holds pods) scans the pod table unless the caller
//!   knows them.

use std::net::IpAddr;
use std::sync::Arc;

use super::{
    Cluster, ClusterData, ClusterError, NAMESPACE_NAME_LABEL, Namespace, NamespaceId, Node, NodeId,
    NodeSpec, Owner, Pod, PodSpec, implicit_namespace, index_u32, next_lineage, pod_key, to_u32,
};
use crate::model::Labels;

/// What a pod change did to the pod table, for tables kept in step with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodEdit {
    /// Nothing changed in the pod table (a host-network pod, or a pod that was not there).
    None,
    /// A pod was appended at this index.
    Added(u32),
    /// The pod at this index was replaced.
    Replaced(u32),
    /// The pod at this index was removed, the last one moved into its place.
    Removed(u32),
}

impl ClusterData {
    fn namespace_index(&mut self, name: &str) -> Result<u32, ClusterError> {
        if let Some(i) = self.ns_index.get(name) {
            return Ok(*i);
        }
        let i = to_u32(self.namespaces.len(), "namespaces")?;
        self.ns_index.insert(name.to_owned(), i);
        self.namespaces.push(implicit_namespace(name));
        self.ns_gens.push(next_lineage());
        Ok(i)
    }

    fn remove_pod_at(&mut self, i: u32) -> Option<Arc<Pod>> {
        let last = index_u32(self.pods.len().checked_sub(1)?);
        let old = Arc::clone(self.pods.get(i as usize)?);
        for ip in &old.ips {
            self.unclaim(*ip, Owner::Pod(i));
        }
        self.unindex_pod(self.key_of(&old), i);
        if last != i {
            if let Some(moved) = self.pods.get(last as usize).cloned() {
                for ip in &moved.ips {
                    self.unclaim(*ip, Owner::Pod(last));
                    self.claim(*ip, Owner::Pod(i));
                }
                let key = self.key_of(&moved);
                self.unindex_pod(key, last);
                self.index_pod(key, i);
            }
        }
        self.pods.swap_remove(i as usize);
        self.pod_lineage = next_lineage();
        Some(old)
    }

    pub(crate) fn upsert_pod(&mut self, spec: PodSpec) -> Result<PodEdit, ClusterError> {
        let key = (spec.namespace.clone(), spec.name.clone());
        let position = self.pod_position(&spec.namespace, &spec.name);
        let node = match &spec.node {
            None => None,
            Some(n) => match self.node_index.get(n).and_then(|i| self.node_id_at(*i)) {
                Some(id) => Some(id),
                None => {
                    return Err(ClusterError::UnknownNode(
                        spec.namespace,
                        spec.name,
                        n.clone(),
                    ));
                }
            },
        };
        if spec.host_network {
            // Its namespace exists, as when a cluster is built with it.
            self.namespace_index(&spec.namespace)?;
            let edit = match position {
                Some(i) => {
                    self.remove_pod_at(i);
                    PodEdit::Removed(i)
                }
                None => PodEdit::None,
            };
            self.host_pods.insert(key, spec.node);
            return Ok(edit);
        }
        self.host_pods.remove(&key);
        let ns = self.namespace_index(&spec.namespace)?;
        let pod = Pod {
            namespace: self
                .namespace_id_at(ns)
                .unwrap_or_else(|| NamespaceId::new(ns, 0)),
            name: spec.name,
            labels: spec.labels,
            ips: spec.ips,
            node,
            ports: spec.ports,
            service_account: spec.service_account.unwrap_or_else(|| "default".into()),
        };
        let new_ips = pod.ips.clone();
        match position {
            Some(i) => {
                let old_ips = self
                    .pods
                    .get(i as usize)
                    .map(|p| p.ips.clone())
                    .unwrap_or_default();
                for ip in old_ips {
                    self.unclaim(ip, Owner::Pod(i));
                }
                self.pods.set(i as usize, Arc::new(pod));
                for ip in new_ips {
                    self.claim(ip, Owner::Pod(i));
                }
                Ok(PodEdit::Replaced(i))
            }
            None => {
                let i = to_u32(self.pods.len(), "pods")?;
                self.pods.push(Arc::new(pod));
                self.index_pod(pod_key(&key.0, &key.1), i);
                for ip in new_ips {
                    self.claim(ip, Owner::Pod(i));
                }
                Ok(PodEdit::Added(i))
            }
        }
    }

    pub(crate) fn remove_pod(&mut self, namespace: &str, name: &str) -> PodEdit {
        let key = (namespace.to_owned(), name.to_owned());
        if self.host_pods.remove(&key).is_some() {
            return PodEdit::None;
        }
        match self.pod_position(namespace, name) {
            Some(i) => {
                self.remove_pod_at(i);
                PodEdit::Removed(i)
            }
            None => PodEdit::None,
        }
    }

    /// Adds or relabels a namespace; returns its index and whether it was new.
    pub(crate) fn upsert_namespace(
        &mut self,
        name: &str,
        mut labels: Labels,
    ) -> Result<(u32, bool), ClusterError> {
        labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
        let ns = Namespace {
            name: name.to_owned(),
            labels,
        };
        match self.ns_index.get(name).copied() {
            Some(i) => {
                self.namespaces.set(i as usize, ns);
                Ok((i, false))
            }
            None => {
                let i = to_u32(self.namespaces.len(), "namespaces")?;
                self.ns_index.insert(name.to_owned(), i);
                self.namespaces.push(ns);
                self.ns_gens.push(next_lineage());
                Ok((i, true))
            }
        }
    }

    /// The positions of the pods `keep` accepts, by a scan of the pod table (what a
    /// removal does when the caller cannot name the pods it touches).
    fn pod_positions(&self, keep: impl Fn(&Pod) -> bool) -> Vec<usize> {
        self.pods
            .iter()
            .enumerate()
            .filter(|(_, p)| keep(p))
            .map(|(k, _)| k)
            .collect()
    }

    /// Removes a namespace. One that still holds pods keeps existing, with no label but
    /// its name (as a namespace created for its pods would be). Otherwise the last
    /// namespace moves into its place, with a new id, and its pods are rewritten.
    /// `on_namespaces`, when given, holds the positions of the pods of the removed
    /// namespace and of the last one (others are left alone); otherwise the pod table is
    /// scanned for them. Returns whether anything changed.
    pub(crate) fn remove_namespace(&mut self, name: &str, on_namespaces: Option<&[usize]>) -> bool {
        let Some(i) = self.ns_index.get(name).copied() else {
            return false;
        };
        let last = index_u32(self.namespaces.len().saturating_sub(1));
        let found: Vec<usize>;
        let positions = match on_namespaces {
            Some(list) => list,
            None => {
                found = self.pod_positions(|p| {
                    let at = p.namespace.index();
                    at == i as usize || at == last as usize
                });
                &found
            }
        };
        let in_it = |k: &usize| {
            self.pods
                .get(*k)
                .is_some_and(|p| p.namespace.index() == i as usize)
        };
        let has_pods =
            positions.iter().any(in_it) || self.host_pods.iter().any(|((ns, _), _)| ns == name);
        if has_pods {
            self.namespaces.set(i as usize, implicit_namespace(name));
            return true;
        }
        if last != i {
            if let Some(moved) = self.namespaces.get(last as usize).cloned() {
                self.ns_index.insert(moved.name, i);
            }
        }
        self.namespaces.swap_remove(i as usize);
        self.ns_gens.swap_remove(i as usize);
        self.ns_index.remove(name);
        if last == i {
            return true;
        }
        let lineage = next_lineage();
        self.ns_gens.set(i as usize, lineage);
        let moved = NamespaceId::new(i, lineage);
        for &k in positions {
            let Some(pod) = self.pods.get(k) else {
                continue;
            };
            if pod.namespace.index() != last as usize {
                continue;
            }
            let mut pod = Pod::clone(pod);
            pod.namespace = moved;
            self.pods.set(k, Arc::new(pod));
        }
        true
    }

    /// Adds or changes a node; returns its index.
    pub(crate) fn upsert_node(&mut self, spec: NodeSpec) -> Result<u32, ClusterError> {
        let node = Node {
            name: spec.name,
            labels: spec.labels,
            ips: spec.ips,
            pod_cidrs: spec.pod_cidrs,
            tunnel_ips: spec.tunnel_ips,
        };
        match self.node_index.get(&node.name).copied() {
            Some(i) => {
                let old_ips = self
                    .nodes
                    .get(i as usize)
                    .map(|n| n.ips.clone())
                    .unwrap_or_default();
                for ip in old_ips {
                    self.unclaim(ip, Owner::Node(i));
                }
                for ip in &node.ips {
                    self.claim(*ip, Owner::Node(i));
                }
                self.nodes.set(i as usize, node);
                Ok(i)
            }
            None => {
                let i = to_u32(self.nodes.len(), "nodes")?;
                for ip in &node.ips {
                    self.claim(*ip, Owner::Node(i));
                }
                self.node_index.insert(node.name.clone(), i);
                self.nodes.push(node);
                self.node_gens.push(next_lineage());
                Ok(i)
            }
        }
    }

    /// Removes a node: the pods that ran on it keep running without a node, and the last
    /// node moves into its place, with a new id. `on_nodes`, when given, holds the
    /// positions of the pods of the removed node and of the last one (others are left
    /// alone); otherwise the pod table is scanned for them. Returns whether it was there.
    pub(crate) fn remove_node(&mut self, name: &str, on_nodes: Option<&[usize]>) -> bool {
        let Some(i) = self.node_index.get(name).copied() else {
            return false;
        };
        let last = index_u32(self.nodes.len().saturating_sub(1));
        let ips: Vec<IpAddr> = self
            .nodes
            .get(i as usize)
            .map(|n| n.ips.clone())
            .unwrap_or_default();
        for ip in ips {
            self.unclaim(ip, Owner::Node(i));
        }
        if last != i {
            if let Some(moved) = self.nodes.get(last as usize).cloned() {
                for ip in &moved.ips {
                    self.unclaim(*ip, Owner::Node(last));
                    self.claim(*ip, Owner::Node(i));
                }
                self.node_index.insert(moved.name, i);
            }
        }
        self.nodes.swap_remove(i as usize);
        self.node_gens.swap_remove(i as usize);
        self.node_index.remove(name);
        self.node_lineage = next_lineage();
        let moved = if last != i {
            let lineage = next_lineage();
            self.node_gens.set(i as usize, lineage);
            Some(NodeId::new(i, lineage))
        } else {
            None
        };
        let found: Vec<usize>;
        let positions = match on_nodes {
            Some(list) => list,
            None => {
                found = self.pod_positions(|p| {
                    p.node
                        .is_some_and(|n| n.index() == i as usize || n.index() == last as usize)
                });
                &found
            }
        };
        for &k in positions {
            let Some(pod) = self.pods.get(k) else {
                continue;
            };
            let node = match pod.node {
                Some(n) if n.index() == i as usize => None,
                Some(n) if n.index() == last as usize => moved,
                _ => continue,
            };
            let mut pod = Pod::clone(pod);
            pod.node = node;
            self.pods.set(k, Arc::new(pod));
        }
        true
    }
}

impl Cluster {
    /// The pod at table position `i`, whatever the lineage.
    pub(crate) fn pod_at(&self, i: usize) -> Option<&Pod> {
        self.data.pods.get(i).map(|p| &**p)
    }

    /// A copy of this cluster to change (cheap: tables are shared until written).
    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut ClusterData) -> R) -> (Cluster, R) {
        let mut data = (*self.data).clone();
        let r = f(&mut data);
        (
            Cluster {
                data: Arc::new(data),
            },
            r,
        )
    }
}
