//! Sets of peers and of flows, for the checks that reason about everything a rule matches
//! at once (redundancy, shadowing, overlapping priorities).
//!
//! A *peer set* is a set of other sides of a flow: pods and nodes of the cluster (one bit
//! each) and outside addresses (an [`IpSet`]). A *flow set* at a subject (the pod whose
//! policies are read) is one peer set per *port segment*: the port space of each protocol
//! cut at every boundary any rule in play names, so that inside a segment every rule
//! matches every port or none. Operations work segment by segment.

use std::net::IpAddr;

use crate::cidr::IpSet;
use crate::policy::Protocol;

/// A fixed-size set of small numbers. An empty word vector stands for the empty set, so
/// that empty sets cost no allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub(super) fn new() -> Self {
        Bits { words: Vec::new() }
    }

    /// `0..n`.
    pub(super) fn full(n: usize) -> Self {
        let mut words = vec![u64::MAX; n.div_ceil(64)];
        if let Some(last) = words.last_mut() {
            let rem = n % 64;
            if rem != 0 {
                *last = (1u64 << rem) - 1;
            }
        }
        let mut b = Bits { words };
        b.trim();
        b
    }

    /// Inserts `i` into a set over `0..n`.
    pub(super) fn insert(&mut self, i: usize, n: usize) {
        if self.words.is_empty() {
            self.words = vec![0; n.div_ceil(64)];
        }
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    #[cfg(test)]
    fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    fn trim(&mut self) {
        if self.is_empty() {
            self.words = Vec::new();
        }
    }

    pub(super) fn union_with(&mut self, other: &Bits) {
        if other.words.is_empty() {
            return;
        }
        if self.words.is_empty() {
            self.words = other.words.clone();
            return;
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
        }
    }

    pub(super) fn intersect_with(&mut self, other: &Bits) {
        if self.words.is_empty() {
            return;
        }
        if other.words.is_empty() {
            self.words = Vec::new();
            return;
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= *b;
        }
        self.trim();
    }

    pub(super) fn subtract(&mut self, other: &Bits) {
        if self.words.is_empty() || other.words.is_empty() {
            return;
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !*b;
        }
        self.trim();
    }

    /// Whether every member is also in `other`.
    pub(super) fn is_subset(&self, other: &Bits) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, w)| w & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    pub(super) fn intersects(&self, other: &Bits) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    pub(super) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }

    pub(super) fn first(&self) -> Option<usize> {
        self.iter().next()
    }
}

/// Pods, nodes and outside addresses on the other side of flows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PeerSet {
    pub(super) pods: Bits,
    pub(super) nodes: Bits,
    pub(super) ext: IpSet,
}

/// Every IPv4 and IPv6 address.
pub(super) fn every_address() -> IpSet {
    let mut all = IpSet::new();
    for net in ["0.0.0.0/0", "::/0"] {
        if let Ok(n) = net.parse() {
            all.insert(n);
        }
    }
    all
}

impl PeerSet {
    pub(super) fn is_empty(&self) -> bool {
        self.pods.is_empty() && self.nodes.is_empty() && self.ext.is_empty()
    }

    pub(super) fn union_with(&mut self, other: &PeerSet) {
        self.pods.union_with(&other.pods);
        self.nodes.union_with(&other.nodes);
        if !other.ext.is_empty() {
            self.ext = if self.ext.is_empty() {
                other.ext.clone()
            } else {
                self.ext.union(&other.ext)
            };
        }
    }

    pub(super) fn intersect_with(&mut self, other: &PeerSet) {
        self.pods.intersect_with(&other.pods);
        self.nodes.intersect_with(&other.nodes);
        if !self.ext.is_empty() {
            self.ext = self.ext.intersection(&other.ext);
        }
    }

    pub(super) fn subtract(&mut self, other: &PeerSet) {
        self.pods.subtract(&other.pods);
        self.nodes.subtract(&other.nodes);
        if !self.ext.is_empty() && !other.ext.is_empty() {
            self.ext = self.ext.difference(&other.ext);
        }
    }

    pub(super) fn intersection(&self, other: &PeerSet) -> PeerSet {
        let mut out = self.clone();
        out.intersect_with(other);
        out
    }

    pub(super) fn difference(&self, other: &PeerSet) -> PeerSet {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    pub(super) fn is_subset(&self, other: &PeerSet) -> bool {
        self.pods.is_subset(&other.pods)
            && self.nodes.is_subset(&other.nodes)
            && (self.ext.is_empty() || self.ext.difference(&other.ext).is_empty())
    }

    /// One member, for messages.
    pub(super) fn witness(&self) -> Option<Peer> {
        if let Some(p) = self.pods.first() {
            return Some(Peer::Pod(p));
        }
        if let Some(n) = self.nodes.first() {
            return Some(Peer::Node(n));
        }
        self.ext
            .iter()
            .next()
            .map(|net| Peer::Address(net.network()))
    }
}

/// One member of a [`PeerSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Peer {
    Pod(usize),
    Node(usize),
    Address(IpAddr),
}

/// Ports `lo..=hi` of one protocol (`lo` may be 0: a flow's port is any `u16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Segment {
    pub(super) protocol: Protocol,
    pub(super) lo: u16,
    pub(super) hi: u16,
}

impl Segment {
    pub(super) fn is_single(&self) -> bool {
        self.lo == self.hi
    }

    /// Whether `start..=end` of `protocol` holds the whole segment (the segments are cut
    /// so that it holds all of it or none).
    pub(super) fn within(&self, protocol: Protocol, start: u16, end: u16) -> bool {
        self.protocol == protocol && start <= self.lo && self.hi <= end
    }
}

/// Collects cut points and produces the segments of every protocol.
#[derive(Debug, Clone, Default)]
pub(super) struct Cuts {
    /// Per protocol, ports at which a new segment starts.
    starts: [Vec<u32>; 3],
}

impl Cuts {
    /// `start..=end` must be a union of whole segments.
    pub(super) fn range(&mut self, protocol: Protocol, start: u16, end: u16) {
        if let Some(v) = self.starts.get_mut(protocol.index()) {
            v.push(u32::from(start));
            v.push(u32::from(end) + 1);
        }
    }

    /// `port` must be a segment of its own.
    pub(super) fn single(&mut self, protocol: Protocol, port: u16) {
        self.range(protocol, port, port);
    }

    pub(super) fn segments(mut self) -> Vec<Segment> {
        let mut out = Vec::new();
        for protocol in Protocol::ALL {
            let Some(starts) = self.starts.get_mut(protocol.index()) else {
                continue;
            };
            starts.push(0);
            starts.push(65536);
            starts.sort_unstable();
            starts.dedup();
            for w in starts.windows(2) {
                if let [a, b] = *w {
                    if let (Ok(lo), Ok(hi)) = (u16::try_from(a), u16::try_from(b - 1)) {
                        out.push(Segment { protocol, lo, hi });
                    }
                }
            }
        }
        out
    }
}

/// One peer set per segment.
pub(super) type FlowSet = Vec<PeerSet>;

pub(super) fn flow_union_with(a: &mut FlowSet, b: &FlowSet) {
    for (x, y) in a.iter_mut().zip(b) {
        x.union_with(y);
    }
}

pub(super) fn flow_intersection(a: &FlowSet, b: &FlowSet) -> FlowSet {
    a.iter().zip(b).map(|(x, y)| x.intersection(y)).collect()
}

pub(super) fn flow_subtract(a: &mut FlowSet, b: &FlowSet) {
    for (x, y) in a.iter_mut().zip(b) {
        x.subtract(y);
    }
}

pub(super) fn flow_is_empty(a: &FlowSet) -> bool {
    a.iter().all(PeerSet::is_empty)
}

/// One flow of a non-empty flow set: segment and peer.
pub(super) fn flow_witness(a: &FlowSet, segments: &[Segment]) -> Option<(Segment, Peer)> {
    a.iter()
        .zip(segments)
        .find_map(|(set, seg)| set.witness().map(|p| (*seg, p)))
}

/// What is left of a set once its outside addresses are known to be empty or not: the
/// pods and nodes it holds, gathered over segments.
#[derive(Debug, Clone, Default)]
pub(super) struct Residue {
    pub(super) ext: bool,
    pub(super) pods: Bits,
    pub(super) nodes: Bits,
}

impl Residue {
    pub(super) fn of(set: &FlowSet) -> Residue {
        let mut r = Residue::default();
        r.add(set);
        r
    }

    pub(super) fn add(&mut self, set: &FlowSet) {
        for s in set {
            self.add_set(s);
        }
    }

    pub(super) fn add_set(&mut self, s: &PeerSet) {
        self.ext |= !s.ext.is_empty();
        self.pods.union_with(&s.pods);
        self.nodes.union_with(&s.nodes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_operations() {
        let mut a = Bits::new();
        a.insert(3, 130);
        a.insert(129, 130);
        assert!(a.contains(129) && !a.contains(4));
        assert_eq!(a.iter().collect::<Vec<_>>(), [3, 129]);
        let full = Bits::full(130);
        assert_eq!(full.count(), 130);
        assert!(a.is_subset(&full) && !full.is_subset(&a));
        let mut d = full.clone();
        d.subtract(&a);
        assert_eq!(d.count(), 128);
        d.intersect_with(&a);
        assert!(d.is_empty() && d.words.is_empty());
        assert!(Bits::new().is_subset(&Bits::new()));
    }

    #[test]
    fn segments_cut_at_every_boundary() {
        let mut c = Cuts::default();
        c.range(Protocol::Tcp, 80, 90);
        c.single(Protocol::Tcp, 85);
        let segs = c.segments();
        let tcp: Vec<(u16, u16)> = segs
            .iter()
            .filter(|s| s.protocol == Protocol::Tcp)
            .map(|s| (s.lo, s.hi))
            .collect();
        assert_eq!(tcp, [(0, 79), (80, 84), (85, 85), (86, 90), (91, 65535)]);
        assert_eq!(
            segs.iter().filter(|s| s.protocol == Protocol::Udp).count(),
            1
        );
    }
}
