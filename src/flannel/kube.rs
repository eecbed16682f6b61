//! kube-controller-manager's range allocator (`--allocate-node-cidrs` with
//! `--cluster-cidr`, `--service-cluster-ip-range` and `--node-cidr-mask-size*`), which is
//! where nodes get their `spec.podCIDRs` when flannel runs with `--kube-subnet-mgr`.

use ipnet::IpNet;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The pod CIDRs of one node: one per cluster CIDR (one per address family).
///
/// ```
/// use netpol::flannel::{KubeRangeAllocator, NodeCidrs};
/// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse()?, "fd00:10:244::/56".parse()?])?;
/// let cidrs: NodeCidrs = a.allocate()?;
/// assert_eq!(cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
///     ["10.244.0.0/24", "fd00:10:244::/64"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type NodeCidrs = SmallVec<[IpNet; 2]>;

/// Why the allocator could not be built or could not allocate.
///
/// ```
/// use netpol::flannel::{KubeRangeAllocator, AllocError};
/// let mut a = KubeRangeAllocator::new(&["10.244.0.0/23".parse().unwrap()]).unwrap();
/// a.allocate().unwrap();
/// a.allocate().unwrap();
/// assert!(matches!(a.allocate(), Err(AllocError::RangeFull { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// No cluster CIDR was given.
    #[error("no cluster CIDR given (--cluster-cidr is empty)")]
    NoClusterCidr,
    /// More than two cluster CIDRs, or two of one family.
    #[error(
        "invalid cluster CIDRs {cidrs:?}: give one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack"
    )]
    InvalidClusterCidrs {
        /// The CIDRs as given.
        cidrs: Vec<IpNet>,
    },
    /// The node mask is shorter than the cluster CIDR's prefix, or longer than the address.
    #[error("node CIDR mask size /{mask} does not fit cluster CIDR {cluster}")]
    BadMaskSize {
        /// The cluster CIDR.
        cluster: IpNet,
        /// The node mask size.
        mask: u8,
    },
    /// For IPv6 the node mask may be at most 16 bits longer than the cluster prefix.
    #[error(
        "New CIDR set failed; the node CIDR size is too big: /{mask} is more than 16 bits longer than {cluster}"
    )]
    SubnetTooBig {
        /// The cluster CIDR.
        cluster: IpNet,
        /// The node mask size.
        mask: u8,
    },
    /// Every block of a cluster CIDR is in use.
    #[error(
        "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range {cluster}"
    )]
    RangeFull {
        /// The exhausted cluster CIDR.
        cluster: IpNet,
    },
    /// A CIDR to occupy or release lies outside every cluster CIDR of its family.
    #[error("cidr {cidr} is out the range of cluster cidr {cluster}")]
    OutOfRange {
        /// The CIDR.
        cidr: IpNet,
        /// The cluster CIDR of the same family, if any.
        cluster: String,
    },
}

/// Inclusive index ranges, merged and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct IntervalSet {
    ranges: BTreeMap<u64, u64>,
}

impl IntervalSet {
    /// The range containing `i`, if any.
    fn containing(&self, i: u64) -> Option<(u64, u64)> {
        self.ranges
            .range(..=i)
            .next_back()
            .filter(|(_, end)| **end >= i)
            .map(|(s, e)| (*s, *e))
    }

    /// Marks `lo..=hi`; returns how many indices were newly marked.
    fn insert(&mut self, lo: u64, hi: u64) -> u64 {
        let mut start = lo;
        let mut end = hi;
        let mut covered = 0u64;
        // Absorb every range that overlaps or touches lo..=hi.
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=hi.saturating_add(1))
            .rev()
            .take_while(|(_, e)| e.saturating_add(1) >= lo)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (s, e) in touching {
            self.ranges.remove(&s);
            let (os, oe) = (s.max(lo), e.min(hi));
            if os <= oe {
                covered += oe - os + 1;
            }
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
        (hi - lo + 1) - covered
    }

    /// Unmarks `lo..=hi`; returns how many indices were marked before.
    fn remove(&mut self, lo: u64, hi: u64) -> u64 {
        let overlapping: Vec<(u64, u64)> = self
            .ranges
            .range(..=hi)
            .rev()
            .take_while(|(_, e)| **e >= lo)
            .map(|(s, e)| (*s, *e))
            .collect();
        let mut removed = 0;
        for (s, e) in overlapping {
            self.ranges.remove(&s);
            removed += e.min(hi) - s.max(lo) + 1;
            if s < lo {
                self.ranges.insert(s, lo - 1);
            }
            if e > hi {
                self.ranges.insert(hi + 1, e);
            }
        }
        removed
    }
}

/// One cluster CIDR cut into node blocks (kube's `CidrSet`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct CidrSet {
    cluster: IpNet,
    node_mask: u8,
    max: u64,
    used: IntervalSet,
    allocated: u64,
    next_candidate: u64,
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl CidrSet {
    fn new(cluster: IpNet, node_mask: u8) -> Result<Self, AllocError> {
        let cluster = cluster.trunc();
        let width = cluster.max_prefix_len();
        let prefix = cluster.prefix_len();
        if node_mask < prefix || node_mask > width {
            return Err(AllocError::BadMaskSize {
                cluster,
                mask: node_mask,
            });
        }
        let diff = u32::from(node_mask - prefix);
        if matches!(cluster, IpNet::V6(_)) && diff > 16 {
            return Err(AllocError::SubnetTooBig {
                cluster,
                mask: node_mask,
            });
        }
        Ok(CidrSet {
            cluster,
            node_mask,
            max: 1u64 << diff,
            used: IntervalSet::default(),
            allocated: 0,
            next_candidate: 0,
        })
    }

    fn block(&self, index: u64) -> Option<IpNet> {
        let shift = u32::from(self.cluster.max_prefix_len() - self.node_mask);
        let offset = u128::from(index).checked_shl(shift).unwrap_or(0);
        let addr = bits(self.cluster.network()) | offset;
        let ip = match self.cluster {
            IpNet::V4(_) => IpAddr::V4(u32::try_from(addr).ok()?.into()),
            IpNet::V6(_) => IpAddr::V6(addr.into()),
        };
        IpNet::new(ip, self.node_mask).ok()
    }

    fn allocate_next(&mut self) -> Result<IpNet, AllocError> {
        if self.allocated >= self.max {
            return Err(AllocError::RangeFull {
                cluster: self.cluster,
            });
        }
        let mut candidate = self.next_candidate;
        // Skip used runs; bounded because at least one index is free.
        while let Some((_, end)) = self.used.containing(candidate) {
            candidate = if end + 1 >= self.max { 0 } else { end + 1 };
        }
        self.used.insert(candidate, candidate);
        self.allocated += 1;
        self.next_candidate = (candidate + 1) % self.max;
        self.block(candidate).ok_or(AllocError::RangeFull {
            cluster: self.cluster,
        })
    }

    /// The node-block indices a CIDR covers (kube's `getBeginningAndEndIndices`).
    fn indices(&self, cidr: IpNet) -> Result<(u64, u64), AllocError> {
        let cidr = cidr.trunc();
        if !(self.cluster.contains(&cidr.network()) || cidr.contains(&self.cluster.network())) {
            return Err(AllocError::OutOfRange {
                cidr,
                cluster: self.cluster.to_string(),
            });
        }
        if cidr.prefix_len() <= self.cluster.prefix_len() {
            return Ok((0, self.max - 1));
        }
        let shift = u32::from(self.cluster.max_prefix_len() - self.node_mask);
        let base = bits(self.cluster.network());
        let index = |ip: IpAddr| -> u64 {
            u64::try_from(((bits(ip) ^ base) >> shift).min(u128::from(self.max - 1))).unwrap_or(0)
        };
        Ok((index(cidr.network()), index(cidr.broadcast())))
    }

    fn occupy(&mut self, cidr: IpNet) -> Result<(), AllocError> {
        let (lo, hi) = self.indices(cidr)?;
        self.allocated += self.used.insert(lo, hi);
        Ok(())
    }

    fn release(&mut self, cidr: IpNet) -> Result<(), AllocError> {
        let (lo, hi) = self.indices(cidr)?;
        self.allocated -= self.used.remove(lo, hi);
        Ok(())
    }
}

/// Settings of kube-controller-manager's range allocator.
///
/// ```
/// use netpol::flannel::{KubeAllocatorConfig, KubeRangeAllocator};
/// let config = KubeAllocatorConfig {
///     cluster_cidrs: vec!["10.244.0.0/16".parse().unwrap()],
///     service_cidrs: vec!["10.244.0.0/24".parse().unwrap()],
///     ..KubeAllocatorConfig::default()
/// };
/// let mut a = KubeRangeAllocator::with_config(&config).unwrap();
/// assert_eq!(a.allocate().unwrap()[0].to_string(), "10.244.1.0/24");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeAllocatorConfig {
    /// `--cluster-cidr`: one CIDR, or one IPv4 and one IPv6 for dual-stack.
    pub cluster_cidrs: Vec<IpNet>,
    /// `--service-cluster-ip-range` (and the secondary range): blocks they overlap are
    /// never handed to nodes.
    pub service_cidrs: Vec<IpNet>,
    /// `--node-cidr-mask-size-ipv4` (or `--node-cidr-mask-size` single-stack); default 24.
    pub node_cidr_mask_size_ipv4: Option<u8>,
    /// `--node-cidr-mask-size-ipv6` (or `--node-cidr-mask-size` single-stack); default 64.
    pub node_cidr_mask_size_ipv6: Option<u8>,
}

/// kube-controller-manager's range allocator: node blocks handed out in order from
/// the start of each cluster CIDR, a cursor that moves on after each allocation (so
/// a released block is reused only after the cursor wraps around), service ranges
/// pre-occupied, and one block per family per node in dual-stack clusters.
///
/// ```
/// use netpol::flannel::KubeRangeAllocator;
/// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap()]).unwrap();
/// assert_eq!(a.allocate().unwrap()[0].to_string(), "10.244.0.0/24");
/// assert_eq!(a.allocate().unwrap()[0].to_string(), "10.244.1.0/24");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeRangeAllocator {
    sets: SmallVec<[CidrSet; 2]>,
}

impl KubeRangeAllocator {
    /// An allocator with the default mask sizes (24 for IPv4, 64 for IPv6) and no
    /// service range.
    ///
    /// ```
    /// use netpol::flannel::KubeRangeAllocator;
    /// let a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap(), "fd00:10:244::/48".parse().unwrap()]).unwrap();
    /// assert_eq!(a.capacity().as_slice(), [256, 65536]);
    /// ```
    pub fn new(cluster_cidrs: &[IpNet]) -> Result<Self, AllocError> {
        Self::with_config(&KubeAllocatorConfig {
            cluster_cidrs: cluster_cidrs.to_vec(),
            ..KubeAllocatorConfig::default()
        })
    }

    /// An allocator with explicit settings.
    ///
    /// ```
    /// use netpol::flannel::{KubeAllocatorConfig, KubeRangeAllocator};
    /// let a = KubeRangeAllocator::with_config(&KubeAllocatorConfig {
    ///     cluster_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
    ///     node_cidr_mask_size_ipv4: Some(16),
    ///     ..Default::default()
    /// }).unwrap();
    /// assert_eq!(a.capacity().as_slice(), [256]);
    /// ```
    pub fn with_config(config: &KubeAllocatorConfig) -> Result<Self, AllocError> {
        let cidrs = &config.cluster_cidrs;
        let valid = match cidrs.as_slice() {
            [] => return Err(AllocError::NoClusterCidr),
            [_] => true,
            [a, b] => matches!(a, IpNet::V4(_)) != matches!(b, IpNet::V4(_)),
            _ => false,
        };
        if !valid {
            return Err(AllocError::InvalidClusterCidrs {
                cidrs: cidrs.clone(),
            });
        }
        let mut sets = SmallVec::new();
        for cidr in cidrs {
            let mask = match cidr {
                IpNet::V4(_) => config.node_cidr_mask_size_ipv4.unwrap_or(24),
                IpNet::V6(_) => config.node_cidr_mask_size_ipv6.unwrap_or(64),
            };
            let mut set = CidrSet::new(*cidr, mask)?;
            for svc in &config.service_cidrs {
                if set.indices(*svc).is_ok() {
                    set.occupy(*svc)?;
                }
            }
            sets.push(set);
        }
        Ok(KubeRangeAllocator { sets })
    }

    /// The cluster CIDRs, in the order given.
    ///
    /// ```
    /// # use netpol::flannel::KubeRangeAllocator;
    /// let a = KubeRangeAllocator::new(&["10.244.1.0/16".parse().unwrap()]).unwrap();
    /// assert_eq!(a.cluster_cidrs().next().unwrap().to_string(), "10.244.0.0/16");
    /// ```
    pub fn cluster_cidrs(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.sets.iter().map(|s| s.cluster)
    }

    /// Node blocks per cluster CIDR.
    ///
    /// ```
    /// # use netpol::flannel::KubeRangeAllocator;
    /// let a = KubeRangeAllocator::new(&["fd00::/48".parse().unwrap()]).unwrap();
    /// assert_eq!(a.capacity().as_slice(), [65536]);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> SmallVec<[u64; 2]> {
        self.sets.iter().map(|s| s.max).collect()
    }

    /// Blocks in use per cluster CIDR (allocated, occupied, or taken by a service range).
    ///
    /// ```
    /// # use netpol::flannel::KubeRangeAllocator;
    /// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap()]).unwrap();
    /// a.allocate().unwrap();
    /// assert_eq!(a.used().as_slice(), [1]);
    /// ```
    #[must_use]
    pub fn used(&self) -> SmallVec<[u64; 2]> {
        self.sets.iter().map(|s| s.allocated).collect()
    }

    /// Allocates the next node's pod CIDRs, one from each cluster CIDR. When one
    /// family is full nothing is allocated from the other either.
    ///
    /// ```
    /// use netpol::flannel::KubeRangeAllocator;
    /// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap(), "fd00:10:244::/56".parse().unwrap()]).unwrap();
    /// let node = a.allocate().unwrap();
    /// assert_eq!(node[0].to_string(), "10.244.0.0/24");
    /// assert_eq!(node[1].to_string(), "fd00:10:244::/64");
    /// ```
    pub fn allocate(&mut self) -> Result<NodeCidrs, AllocError> {
        let mut out = NodeCidrs::new();
        let mut failure = None;
        for set in &mut self.sets {
            match set.allocate_next() {
                Ok(cidr) => out.push(cidr),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            for cidr in &out {
                self.release(*cidr).ok();
            }
            return Err(e);
        }
        Ok(out)
    }

    /// Marks a CIDR as used (a node that already has `spec.podCIDRs`, or any other
    /// reserved range). Blocks it only partly covers are taken whole.
    ///
    /// ```
    /// # use netpol::flannel::KubeRangeAllocator;
    /// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap()]).unwrap();
    /// a.occupy("10.244.0.0/23".parse().unwrap()).unwrap();
    /// assert_eq!(a.allocate().unwrap()[0].to_string(), "10.244.2.0/24");
    /// ```
    pub fn occupy(&mut self, cidr: IpNet) -> Result<(), AllocError> {
        self.set_for(cidr)?.occupy(cidr)
    }

    /// Frees a CIDR. The cursor does not move back: the block is handed out again
    /// only once allocation has wrapped around the range.
    ///
    /// ```
    /// # use netpol::flannel::KubeRangeAllocator;
    /// let mut a = KubeRangeAllocator::new(&["10.244.0.0/16".parse().unwrap()]).unwrap();
    /// let first = a.allocate().unwrap()[0];
    /// a.release(first).unwrap();
    /// assert_eq!(a.allocate().unwrap()[0].to_string(), "10.244.1.0/24");
    /// ```
    pub fn release(&mut self, cidr: IpNet) -> Result<(), AllocError> {
        self.set_for(cidr)?.release(cidr)
    }

    fn set_for(&mut self, cidr: IpNet) -> Result<&mut CidrSet, AllocError> {
        let v4 = matches!(cidr, IpNet::V4(_));
        let mut family = self
            .sets
            .iter_mut()
            .filter(|s| matches!(s.cluster, IpNet::V4(_)) == v4);
        match family.next() {
            Some(set) => match set.indices(cidr) {
                Ok(_) => Ok(set),
                Err(e) => Err(e),
            },
            None => Err(AllocError::OutOfRange {
                cidr,
                cluster: "(none of this family)".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_set_merges_and_splits() {
        let mut s = IntervalSet::default();
        assert_eq!(s.insert(5, 9), 5);
        assert_eq!(s.insert(0, 2), 3);
        assert_eq!(s.insert(3, 4), 2);
        assert_eq!(s.ranges.len(), 1);
        assert_eq!(s.insert(8, 12), 3);
        assert_eq!(s.containing(12), Some((0, 12)));
        assert_eq!(s.remove(4, 6), 3);
        assert_eq!(s.containing(5), None);
        assert_eq!(s.containing(3), Some((0, 3)));
        assert_eq!(s.containing(7), Some((7, 12)));
        assert_eq!(s.remove(0, 100), 10);
        assert!(s.ranges.is_empty());
    }
}
