//! Pod IP → node: one longest-prefix lookup in the crate's prefix map answers which node
//! owns an address. A sorted vector of the (disjoint) subnets keeps insertion's overlap
//! check and iteration cheap.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cidr::PrefixMap;

/// Why a subnet could not be added to a [`NodeSubnetTable`].
///
/// ```
/// use netpol::flannel::{NodeSubnetTable, TableError};
/// let mut t = NodeSubnetTable::new();
/// t.insert("a", "10.244.0.0/24".parse().unwrap()).unwrap();
/// let err = t.insert("b", "10.244.0.128/25".parse().unwrap()).unwrap_err();
/// assert!(matches!(err, TableError::Overlap { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The subnet overlaps one already in the table.
    #[error("subnet {subnet} of node {node:?} overlaps {existing} of node {existing_node:?}")]
    Overlap {
        /// The subnet being added.
        subnet: IpNet,
        /// Its node.
        node: String,
        /// The subnet already in the table.
        existing: IpNet,
        /// That subnet's node.
        existing_node: String,
    },
}

/// Which node owns each pod subnet, and so which node a pod IP lives on.
///
/// ```
/// use netpol::flannel::NodeSubnetTable;
/// let table = NodeSubnetTable::from_pairs([
///     ("master", "10.244.0.0/24".parse().unwrap()),
///     ("node1", "10.244.1.0/24".parse().unwrap()),
///     ("node1", "fd00:10:244:1::/64".parse().unwrap()),
/// ]).unwrap();
/// assert_eq!(table.node_of("10.244.1.17".parse().unwrap()), Some("node1"));
/// assert_eq!(table.node_of("fd00:10:244:1::5".parse().unwrap()), Some("node1"));
/// assert_eq!(table.node_of("10.244.2.1".parse().unwrap()), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSubnetTable {
    nodes: Vec<String>,
    node_index: HashMap<String, usize>,
    /// Sorted by (family, network address); disjoint.
    entries: Vec<(IpNet, usize)>,
    /// Subnet → node index, for lookups.
    map: PrefixMap<usize>,
}

/// Sort key: IPv4 before IPv6, then by address.
fn key(net: &IpNet) -> (bool, u128) {
    match net {
        IpNet::V4(n) => (false, u128::from(u32::from(n.network()))),
        IpNet::V6(n) => (true, u128::from(n.network())),
    }
}

impl NodeSubnetTable {
    /// An empty table.
    ///
    /// ```
    /// assert!(netpol::flannel::NodeSubnetTable::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A table from (node, subnet) pairs; a node may have several subnets.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("n", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// assert_eq!(t.len(), 1);
    /// ```
    pub fn from_pairs<S: Into<String>>(
        pairs: impl IntoIterator<Item = (S, IpNet)>,
    ) -> Result<Self, TableError> {
        let mut t = Self::new();
        for (node, subnet) in pairs {
            t.insert(node, subnet)?;
        }
        Ok(t)
    }

    /// Adds a node's subnet (host bits are cleared).
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let mut t = NodeSubnetTable::new();
    /// t.insert("n", "10.0.0.7/24".parse().unwrap()).unwrap();
    /// assert_eq!(t.subnets_of("n").next().unwrap().to_string(), "10.0.0.0/24");
    /// ```
    pub fn insert(&mut self, node: impl Into<String>, subnet: IpNet) -> Result<(), TableError> {
        let node = node.into();
        let subnet = subnet.trunc();
        let pos = self.entries.partition_point(|(n, _)| key(n) < key(&subnet));
        let neighbours = [pos.checked_sub(1), Some(pos)];
        for (existing, idx) in neighbours
            .into_iter()
            .flatten()
            .filter_map(|i| self.entries.get(i))
        {
            if existing.contains(&subnet.network()) || subnet.contains(&existing.network()) {
                return Err(TableError::Overlap {
                    subnet,
                    node,
                    existing: *existing,
                    existing_node: self.nodes.get(*idx).cloned().unwrap_or_default(),
                });
            }
        }
        let idx = match self.node_index.get(&node) {
            Some(i) => *i,
            None => {
                self.node_index.insert(node.clone(), self.nodes.len());
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.entries.insert(pos, (subnet, idx));
        self.map.insert(subnet, idx);
        Ok(())
    }

    /// The node whose subnet contains `ip`.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("n", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// assert_eq!(t.node_of("10.0.0.255".parse().unwrap()), Some("n"));
    /// ```
    #[must_use]
    pub fn node_of(&self, ip: IpAddr) -> Option<&str> {
        self.lookup(ip).map(|(_, node)| node)
    }

    /// The subnet containing `ip` and its node.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("n", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// let (net, node) = t.lookup("10.0.0.9".parse().unwrap()).unwrap();
    /// assert_eq!((net.to_string().as_str(), node), ("10.0.0.0/24", "n"));
    /// ```
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<(IpNet, &str)> {
        let (net, idx) = self.map.longest_match(ip)?;
        Some((net, self.nodes.get(*idx)?.as_str()))
    }

    /// A node's subnets, IPv4 first.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("n", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// assert_eq!(t.subnets_of("m").count(), 0);
    /// ```
    pub fn subnets_of<'a>(&'a self, node: &str) -> impl Iterator<Item = IpNet> + 'a {
        let idx = self.nodes.iter().position(|n| n == node);
        self.entries
            .iter()
            .filter(move |(_, i)| Some(*i) == idx)
            .map(|(net, _)| *net)
    }

    /// Every (node, subnet) pair in address order, IPv4 first.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("b", "10.0.1.0/24".parse().unwrap()), ("a", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// let names: Vec<&str> = t.iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, IpNet)> + '_ {
        self.entries.iter().map(|(net, idx)| {
            (
                self.nodes.get(*idx).map(String::as_str).unwrap_or_default(),
                *net,
            )
        })
    }

    /// The node names, in the order they were first added.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// let t = NodeSubnetTable::from_pairs([("b", "10.0.1.0/24".parse().unwrap()), ("a", "10.0.0.0/24".parse().unwrap())]).unwrap();
    /// assert_eq!(t.nodes().collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn nodes(&self) -> impl Iterator<Item = &str> + '_ {
        self.nodes.iter().map(String::as_str)
    }

    /// Number of subnets.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// assert_eq!(NodeSubnetTable::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table holds no subnet.
    ///
    /// ```
    /// # use netpol::flannel::NodeSubnetTable;
    /// assert!(NodeSubnetTable::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
