//! First-match over ClusterNetworkPolicy rules by bit vectors.
//!
//! The rules of one direction are numbered in evaluation order (Admin tier by priority,
//! then Baseline), so that "the first rule of this class that matches the flow" is the
//! lowest set bit of an intersection of bit vectors over rule numbers:
//!
//! - the class's *mask*: the rules of the policies selecting the class;
//! - the *port row* of the flow's protocol and port: rules whose ports hold it, or that
//!   have no port restriction (found by binary search over the ports where some rule's
//!   set starts or ends), plus every rule with a named port, checked one by one;
//! - the *peer row* of the other side: rules with a `namespaces` or `pods` peer holding
//!   the other side's identity, a `nodes` peer holding its node, or a `networks` peer
//!   holding its address (one row per prefix-map value), plus every rule with a
//!   `domainNames` peer when the flow carries a name, checked one by one.
//!
//! Each row is stored once per identity, node, value and port interval, and a decision
//! reads a few words of each: the cost grows with the number of rules divided by 64, not
//! with the number of rules a class holds, and no entry is scanned one by one. This is
//! the bit-vector scheme of packet classifiers (Lakshman and Stiliadis, SIGCOMM 1998).

use super::bitset::{Bitset, BitsetTable};
use crate::policy::{Action, Protocol};

/// One protocol's port intervals: interval `i` is `starts[i]..starts[i + 1]` (the last
/// one runs to 65535), with the rules whose numeric ports hold it.
#[derive(Debug, Clone, Default)]
pub(super) struct PortIndex {
    starts: Vec<u16>,
    /// With many intervals: the interval of every port (65,536 entries), so that finding
    /// it is one load instead of a binary search; one byte each while there are fewer
    /// than 256 intervals.
    direct: Vec<u16>,
    direct_small: Vec<u8>,
    rows: BitsetTable,
}

/// From this many intervals on, a protocol's index keeps a direct table.
const DIRECT_FROM: usize = 16;

impl PortIndex {
    fn new(starts: Vec<u16>, rows: BitsetTable) -> Self {
        let mut direct = Vec::new();
        if starts.len() >= DIRECT_FROM {
            direct = Vec::with_capacity(1 << 16);
            let mut row = 0u16;
            for port in 0..=u16::MAX {
                while starts
                    .get(usize::from(row) + 1)
                    .is_some_and(|next| *next <= port)
                {
                    row += 1;
                }
                direct.push(row);
            }
        }
        let direct_small: Vec<u8> = if starts.len() <= 256 {
            direct
                .iter()
                .filter_map(|r| u8::try_from(*r).ok())
                .collect()
        } else {
            Vec::new()
        };
        if !direct_small.is_empty() {
            direct = Vec::new();
        }
        PortIndex {
            starts,
            direct,
            direct_small,
            rows,
        }
    }

    /// The interval holding `port`.
    #[inline]
    fn row(&self, port: u16) -> u32 {
        if let Some(row) = self.direct_small.get(usize::from(port)) {
            return u32::from(*row);
        }
        if let Some(row) = self.direct.get(usize::from(port)) {
            return u32::from(*row);
        }
        let i = self.starts.partition_point(|s| *s <= port);
        u32::try_from(i.saturating_sub(1)).unwrap_or(0)
    }
}

/// The rules of one direction and their rows. See the module documentation.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleIndex {
    /// Per rule, in evaluation order: its action.
    pub(super) actions: Vec<Action>,
    /// Rules `0..admin_end` are the Admin tier's, the rest the Baseline tier's.
    pub(super) admin_end: u32,
    by_identity: BitsetTable,
    by_node: BitsetTable,
    /// Per prefix-map value; empty when no rule has a `networks` peer.
    by_value: BitsetTable,
    /// Rules with a `domainNames` peer, and which domain lists (ids into
    /// `Inner::domains`) each has.
    domain_rules: Bitset,
    /// Per rule: its domain lists (empty for most).
    domain_lists: Vec<Vec<u32>>,
    ports: [PortIndex; 3],
    /// Rules with a named port, and which names (with the protocol, `None` for the
    /// flow's) each has.
    named_rules: Bitset,
    /// Per rule: its named ports (empty for most).
    named_ports: Vec<Vec<(Option<Protocol>, u32)>>,
    /// Class masks.
    pub(super) masks: BitsetTable,
}

/// What the index is built from, per rule.
pub(super) struct RuleFacts {
    pub(super) action: Action,
    /// Identities a `namespaces`/`pods` peer holds.
    pub(super) identities: Option<Bitset>,
    /// Nodes a `nodes` peer holds.
    pub(super) nodes: Option<Bitset>,
    /// Prefix-map values a `networks` peer holds.
    pub(super) values: Option<Bitset>,
    /// Domain lists.
    pub(super) domains: Vec<u32>,
    /// Numeric port ranges (protocol, first, last); `None` = every port of every protocol.
    pub(super) ranges: Option<Vec<(Protocol, u16, u16)>>,
    /// Named ports.
    pub(super) named: Vec<(Option<Protocol>, u32)>,
}

/// Checks a rule's domain lists (ids into `Inner::domains`) against the flow's name.
pub(super) type DomainCheck<'a> = &'a dyn Fn(&[u32]) -> bool;

/// The other side of a flow, as the index reads it; its prefix-map value is asked for
/// only when a rule with a `networks` peer could still match.
#[derive(Clone, Copy)]
pub(super) enum Other {
    Pod { identity: u32 },
    Node { node: u32 },
    External,
}

impl RuleIndex {
    /// Builds the index of `rules` (in evaluation order, the first `admin_end` being the
    /// Admin tier's) over `identities` identities, `nodes` nodes and `values` prefix-map
    /// values, with class masks given as sets of rule numbers.
    pub(super) fn build(
        rules: Vec<RuleFacts>,
        admin_end: u32,
        identities: usize,
        nodes: usize,
        values: usize,
        masks: Vec<Bitset>,
    ) -> Self {
        let n = rules.len();
        let row_set = |count: usize, select: &dyn Fn(&RuleFacts) -> Option<&Bitset>| {
            let mut rows: Vec<Bitset> = (0..count).map(|_| Bitset::new(n)).collect();
            let mut any = false;
            for (r, facts) in rules.iter().enumerate() {
                if let Some(set) = select(facts) {
                    for i in set.iter() {
                        if let Some(row) = rows.get_mut(i) {
                            row.insert(r);
                            any = true;
                        }
                    }
                }
            }
            (rows, any)
        };
        let (id_rows, _) = row_set(identities, &|f| f.identities.as_ref());
        let (node_rows, _) = row_set(nodes, &|f| f.nodes.as_ref());
        let (value_rows, any_values) = row_set(values, &|f| f.values.as_ref());

        let mut domain_rules = Bitset::new(n);
        let mut named_rules = Bitset::new(n);
        for (r, facts) in rules.iter().enumerate() {
            if !facts.domains.is_empty() {
                domain_rules.insert(r);
            }
            if !facts.named.is_empty() {
                named_rules.insert(r);
            }
        }
        let domain_lists = rules.iter().map(|f| f.domains.clone()).collect();
        let named_ports = rules.iter().map(|f| f.named.clone()).collect();

        let ports = Protocol::ALL.map(|proto| {
            let mut starts: Vec<u16> = vec![0];
            for facts in &rules {
                for (p, lo, hi) in facts.ranges.iter().flatten() {
                    if *p == proto {
                        starts.push(*lo);
                        if let Some(next) = hi.checked_add(1) {
                            starts.push(next);
                        }
                    }
                }
            }
            starts.sort_unstable();
            starts.dedup();
            let rows: Vec<Bitset> = starts
                .iter()
                .map(|&port| {
                    let mut row = Bitset::new(n);
                    for (r, facts) in rules.iter().enumerate() {
                        let hit = match &facts.ranges {
                            None => true,
                            Some(ranges) => ranges
                                .iter()
                                .any(|(p, lo, hi)| *p == proto && *lo <= port && port <= *hi),
                        };
                        if hit {
                            row.insert(r);
                        }
                    }
                    row
                })
                .collect();
            PortIndex::new(starts, BitsetTable::new(rows, n))
        });

        RuleIndex {
            actions: rules.iter().map(|f| f.action).collect(),
            admin_end,
            by_identity: BitsetTable::new(id_rows, n),
            by_node: BitsetTable::new(node_rows, n),
            by_value: if any_values {
                BitsetTable::new(value_rows, n)
            } else {
                BitsetTable::default()
            },
            domain_rules,
            domain_lists,
            ports,
            named_rules,
            named_ports,
            masks: BitsetTable::new(masks, n),
        }
    }

    /// The words of a class mask.
    pub(super) fn mask(&self, mask: u32) -> &[u64] {
        self.masks.row(mask)
    }

    /// The first rule of `mask` (its words) in `lo..hi` that matches: ports by the
    /// numeric row of the flow's protocol and port, or by `named_ok` given the rule's
    /// named ports; peers by the rows of `other` (and its prefix-map value, asked for
    /// when a `networks` rule could still match), or by `domain_ok` given the rule's
    /// domain lists.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn first_match(
        &self,
        mask: &[u64],
        lo: u32,
        hi: u32,
        protocol: Protocol,
        port: u16,
        other: Other,
        mut value: impl FnMut() -> u32,
        named_ok: impl Fn(&[(Option<Protocol>, u32)]) -> bool,
        domain_ok: Option<DomainCheck<'_>>,
    ) -> Option<u32> {
        if lo >= hi {
            return None;
        }
        let ports = self.ports.get(protocol.index())?;
        let numeric_row = ports.rows.row(ports.row(port));
        let named_row = self.named_rules.words();
        let direct_row = match other {
            Other::Pod { identity } => self.by_identity.row(identity),
            Other::Node { node } => self.by_node.row(node),
            Other::External => &[],
        };
        let domain_row = if domain_ok.is_some() {
            self.domain_rules.words()
        } else {
            &[]
        };
        let mut value_row: Option<&[u64]> = None;
        let first = (lo / 64) as usize;
        let last = ((hi - 1) / 64) as usize;
        for w in first..=last {
            let Some(&mask_w) = mask.get(w) else {
                break;
            };
            let numeric = numeric_row.get(w).copied().unwrap_or(0);
            let mut m = mask_w & (numeric | named_row.get(w).copied().unwrap_or(0));
            if m == 0 {
                continue;
            }
            let base = u32::try_from(w * 64).unwrap_or(u32::MAX);
            if lo > base {
                m &= !0u64 << (lo - base);
            }
            if hi < base + 64 {
                m &= (1u64 << (hi - base)) - 1;
            }
            let direct = direct_row.get(w).copied().unwrap_or(0);
            let by_address = if self.by_value.is_empty() {
                0
            } else {
                let row = *value_row.get_or_insert_with(|| match value() {
                    0 => &[],
                    v => self.by_value.row(v),
                });
                row.get(w).copied().unwrap_or(0)
            };
            let known = direct | by_address;
            m &= known | domain_row.get(w).copied().unwrap_or(0);
            while m != 0 {
                let bit = m.trailing_zeros();
                let rule = base + bit;
                let one = 1u64 << bit;
                m &= m - 1;
                let port_hit = numeric & one != 0
                    || self
                        .named_ports
                        .get(rule as usize)
                        .is_some_and(|names| named_ok(names));
                if !port_hit {
                    continue;
                }
                let peer_hit = known & one != 0
                    || domain_ok.is_some_and(|ok| {
                        self.domain_lists
                            .get(rule as usize)
                            .is_some_and(|lists| ok(lists))
                    });
                if peer_hit {
                    return Some(rule);
                }
            }
        }
        None
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.actions.capacity()
            + self.by_identity.heap_bytes()
            + self.by_node.heap_bytes()
            + self.by_value.heap_bytes()
            + self.masks.heap_bytes()
            + self
                .ports
                .iter()
                .map(|p| {
                    p.rows.heap_bytes()
                        + (p.starts.capacity() + p.direct.capacity()) * 2
                        + p.direct_small.capacity()
                })
                .sum::<usize>()
    }
}
