//! First-match over indexed rules by bit vectors.
//!
//! The indexed rules of one direction are numbered in walk order (tiers in order, the
//! policies of a tier in order, the rules of a policy as written), so that "the first
//! rule of this class, from rule `lo` on, that matches the flow" is the lowest set bit of
//! an intersection of bit vectors over rule numbers:
//!
//! - the class's *mask*: the rules of the policies selecting the class (stored with the
//!   list of its non-zero words, so that a class selected by a few policies among
//!   thousands reads a few words);
//! - the *port row* of the flow's protocol and port: rules whose port condition holds
//!   there (found by one table load or a binary search over the ports where some rule's
//!   condition changes), or the row of the destination pod's container ports with the
//!   flow's protocol and port for rules with named ports;
//! - the *peer row* of the other side's *atom*: rules whose peers hold it. An atom is
//!   what a peer condition can tell apart: a pod identity with the prefix-map value of
//!   its address, a node with its value, or the value of an outside address. Atoms with
//!   the same row share it;
//! - the *family row*, when some rule applies to one address family only;
//! - plus every rule with a `domainNames` peer when the flow carries a name, checked one
//!   by one.
//!
//! A decision reads a few words of each: the cost grows with the number of rules divided
//! by 64, not with the number of rules a class holds. This is the bit-vector scheme of
//! packet classifiers (Lakshman and Stiliadis, SIGCOMM 1998). An index of at most 256
//! rules with no rule checked one by one (as a hundred ClusterNetworkPolicies make) also
//! keeps its rows as fixed arrays of four words, which a scan intersects whole (see
//! `Flat`); a class's mask over a scan can then be kept by the class itself, as one such
//! row (`RuleIndex::flat_class_row`, read by `RuleIndex::hits`).

use ahash::AHashMap as HashMap;
use std::sync::Arc;

use super::bitset::{Bitset, BitsetTable};
use super::to_u32;
use crate::policy::{Action, Protocol};

/// One protocol's port intervals: interval `i` is `starts[i]..starts[i + 1]` (the last
/// one runs to 65535), with the rules whose port condition holds in it.
#[derive(Debug, Clone, Default)]
struct PortIndex {
    starts: Vec<u16>,
    /// With many intervals: the interval of every port (65,536 entries), so that finding
    /// it is one load instead of a binary search; one byte each while there are at most
    /// 256 intervals.
    direct: Vec<u16>,
    direct_small: Vec<u8>,
    rows: BitsetTable,
    /// Per interval: the rules with named ports that the container ports some pod
    /// declares at a port of the interval may satisfy (a superset of what any
    /// destination's named-port row holds there), so that a flow to another port does
    /// not look up its destination's row. Set by [`RuleIndex::set_named_rows`].
    named: BitsetTable,
}

/// From this many intervals on, a protocol's index keeps a direct table.
const DIRECT_FROM: usize = 16;

impl PortIndex {
    fn new(starts: Vec<u16>, rows: BitsetTable) -> Self {
        let mut direct = Vec::new();
        let mut direct_small = Vec::new();
        if starts.len() >= DIRECT_FROM {
            let small = starts.len() <= 256;
            if small {
                direct_small.reserve(1 << 16);
            } else {
                direct.reserve(1 << 16);
            }
            let mut row = 0usize;
            for port in 0..=u16::MAX {
                while starts.get(row + 1).is_some_and(|next| *next <= port) {
                    row += 1;
                }
                if small {
                    direct_small.push(u8::try_from(row).unwrap_or(u8::MAX));
                } else {
                    direct.push(u16::try_from(row).unwrap_or(u16::MAX));
                }
            }
        }
        PortIndex {
            starts,
            direct,
            direct_small,
            rows,
            named: BitsetTable::default(),
        }
    }

    /// The interval holding `port`, read inline from the table of one byte per port and
    /// through a call otherwise.
    #[inline(always)]
    fn row_inline(&self, port: u16) -> u32 {
        match self.direct_small.get(usize::from(port)) {
            Some(row) => u32::from(*row),
            None => self.row_of_large(port),
        }
    }

    /// [`row`](Self::row), not inlined.
    #[inline(never)]
    fn row_of_large(&self, port: u16) -> u32 {
        self.row(port)
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

    fn heap_bytes(&self) -> usize {
        self.rows.heap_bytes()
            + self.named.heap_bytes()
            + (self.starts.capacity() + self.direct.capacity()) * 2
            + self.direct_small.capacity()
    }
}

/// A rule's port condition, on the flow's destination port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PortFacts {
    /// The protocols (in [`Protocol::ALL`] order) the rule can match at all.
    pub(super) protocols: [bool; 3],
    /// Numeric ranges (protocol, first, last) the port must lie in, or one of `named`
    /// must hold; `None` = any port.
    pub(super) ranges: Option<Vec<(Protocol, u16, u16)>>,
    /// Named ports (protocol, `None` for the flow's; interned name), resolved against the
    /// destination pod's container ports.
    pub(super) named: Vec<(Option<Protocol>, u32)>,
    /// Numeric ranges the port must not lie in.
    pub(super) not_ranges: Vec<(Protocol, u16, u16)>,
    /// Named ports that must not hold.
    pub(super) not_named: Vec<(Option<Protocol>, u32)>,
    /// Named ports that may hold besides `named` for flows of one family only (IPv4,
    /// IPv6): under Calico, those of a rule's `nets`, which only an address of that family
    /// is in.
    pub(super) named_by_family: [Vec<(Option<Protocol>, u32)>; 2],
}

impl PortFacts {
    /// Every port of every protocol.
    pub(super) fn any() -> Self {
        PortFacts {
            protocols: [true; 3],
            ranges: None,
            named: Vec::new(),
            not_ranges: Vec::new(),
            not_named: Vec::new(),
            named_by_family: [Vec::new(), Vec::new()],
        }
    }

    /// Named ports need the destination pod. A rule's positive named ports are read
    /// through the destination's named-port row; negated named ports (or named ports
    /// beside negated ranges, or named ports of one family) leave the row bit saying only
    /// that the protocol can match, and the rest is checked rule by rule.
    fn needs_check(&self) -> bool {
        !self.not_named.is_empty()
            || (!self.named.is_empty() && !self.not_ranges.is_empty())
            || self.named_by_family.iter().any(|l| !l.is_empty())
    }

    /// The ports of `proto` where the row bit is set, as sorted disjoint inclusive
    /// intervals.
    fn intervals(&self, proto: Protocol) -> Vec<(u16, u16)> {
        if !self.protocols.get(proto.index()).copied().unwrap_or(false) {
            return Vec::new();
        }
        if self.needs_check() {
            return vec![(0, u16::MAX)];
        }
        let mut base: Vec<(u16, u16)> = match &self.ranges {
            None => vec![(0, u16::MAX)],
            Some(list) => list
                .iter()
                .filter(|(p, _, _)| *p == proto)
                .map(|(_, lo, hi)| (*lo, *hi))
                .collect(),
        };
        base = merge(base);
        for (p, lo, hi) in &self.not_ranges {
            if *p == proto {
                base = subtract(&base, *lo, *hi);
            }
        }
        base
    }

    /// The whole condition, for a rule that [`needs_check`](Self::needs_check), on a
    /// flow of the family `v6` says (the protocols aside).
    pub(super) fn holds(
        &self,
        proto: Protocol,
        port: u16,
        v6: bool,
        named_ok: impl Fn(&[(Option<Protocol>, u32)]) -> bool,
    ) -> bool {
        let in_ranges = |list: &[(Protocol, u16, u16)]| {
            list.iter()
                .any(|(p, lo, hi)| *p == proto && *lo <= port && port <= *hi)
        };
        let of_family = self
            .named_by_family
            .get(usize::from(v6))
            .map_or(&[][..], Vec::as_slice);
        let positive = match &self.ranges {
            None => true,
            Some(list) => {
                in_ranges(list)
                    || (!self.named.is_empty() && named_ok(&self.named))
                    || (!of_family.is_empty() && named_ok(of_family))
            }
        };
        positive
            && !in_ranges(&self.not_ranges)
            && (self.not_named.is_empty() || !named_ok(&self.not_named))
    }
}

/// Sorted, merged inclusive intervals.
fn merge(mut list: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    list.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(list.len());
    for (lo, hi) in list {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// `list` without `lo..=hi`.
fn subtract(list: &[(u16, u16)], lo: u16, hi: u16) -> Vec<(u16, u16)> {
    let mut out = Vec::with_capacity(list.len() + 1);
    for &(a, b) in list {
        if b < lo || a > hi {
            out.push((a, b));
            continue;
        }
        if a < lo {
            out.push((a, lo - 1));
        }
        if b > hi {
            out.push((hi + 1, b));
        }
    }
    out
}

/// What the index is built from, per rule.
#[derive(Debug, Clone)]
pub(super) struct RuleFacts {
    pub(super) action: Action,
    /// The atoms the rule's peers hold; `None` = every peer. Rules with the same peers
    /// share one set.
    pub(super) peers: Option<Arc<Bitset>>,
    /// Domain lists (ids into `Inner::domains`): the rule also matches an outside address
    /// resolved from a matching name.
    pub(super) domains: Vec<u32>,
    pub(super) ports: PortFacts,
    /// Whether the rule applies to IPv4 flows and to IPv6 flows.
    pub(super) families: [bool; 2],
    /// Whether a match decides anything: false for `Log` rules (they match and go on)
    /// and for rules holding criteria a flow cannot decide (taken as not matching).
    pub(super) actionable: bool,
}

/// What a lookup needs of the flow besides the class. Rows are asked for only when some
/// rule could still match.
pub(super) trait Query {
    fn protocol(&self) -> Protocol;
    fn port(&self) -> u16;
    fn v6(&self) -> bool;
    /// Whether the other side is an address outside the cluster.
    fn external(&self) -> bool;
    /// The other side's peer row in this index ([`RuleIndex::row_of_atom`]; for an
    /// outside address it costs a prefix lookup); `None` when it has none.
    fn row(&mut self) -> Option<u32>;
    /// The row of the destination pod's container ports with the flow's protocol and
    /// port ([`RuleIndex::set_named_rows`]), if any.
    fn named_row(&mut self) -> Option<u32>;
    /// Whether the destination pod has a container port with one of these names, the
    /// flow's protocol (or the given one) and the flow's port.
    fn named_ok(&self, names: &[(Option<Protocol>, u32)]) -> bool;
    /// Whether the flow goes to an outside address resolved from a name.
    fn has_domain(&self) -> bool;
    /// Whether that name matches one of these domain lists (ids into `Inner::domains`).
    fn domain_ok(&self, lists: &[u32]) -> bool;
}

/// A rule with named ports read through rows: its number, protocols and (protocol,
/// name) pairs.
type NamedRule = (u32, [bool; 3], Vec<(Option<Protocol>, u32)>);

/// The indexed rules of one direction and their rows. See the module documentation.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleIndex {
    /// Per rule, in walk order: its action.
    pub(super) actions: Vec<Action>,
    /// Per atom: its row in `peer_rows`.
    atom_rows: Vec<u32>,
    peer_rows: BitsetTable,
    /// Per family (IPv4, IPv6): the rules applying to it; empty when every rule applies
    /// to both.
    families: [Bitset; 2],
    /// Rules with a `domainNames` peer.
    domain_rules: Bitset,
    /// Per rule: its domain lists (empty for most).
    domain_lists: Vec<Vec<u32>>,
    ports: [PortIndex; 3],
    /// Per (name, protocol) of a container port some pod declares: the rules whose named
    /// ports it satisfies, interned.
    named_rows: BitsetTable,
    /// Rules whose named ports are read through rows.
    named_rules: Bitset,
    /// Per rule with named ports read through rows: its protocols and (protocol, name)
    /// pairs.
    named_of: Vec<NamedRule>,
    /// Rules whose port condition is checked one by one, and their conditions by rule
    /// number.
    checked: Bitset,
    checks: Vec<(u32, PortFacts)>,
    /// The peer row every outside address has, when they all have the same one: then
    /// no prefix lookup is needed.
    external_row: Option<u32>,
    /// The peer row with no rule, if some atom has it: a flow whose other side has it
    /// matches no rule (unless by a domain name), so nothing else is read.
    empty_row: Option<u32>,
    /// Class masks.
    masks: BitsetTable,
    /// What a scan reads of the class, per family (IPv4, IPv6) of the flow: the mask
    /// folded with the rules that decide and apply to that family, so that a word costs
    /// one load. See [`ScanMasks`].
    scan: [ScanMasks; 2],
    /// The rows a scan reads as arrays of [`FLAT`] words, when the index has at most
    /// `FLAT * 64` rules and none is checked one by one. See [`Flat`].
    flat: Option<Flat>,
}

/// Words of a row of [`Flat`].
const FLAT: usize = 4;

/// A row of [`Flat`]: rules `64 * w..64 * (w + 1)` in word `w`.
pub(super) type FlatRow = [u64; FLAT];

/// The row with no rule.
pub(super) const ZERO_ROW: FlatRow = [0; FLAT];

/// The rows a scan reads, copied into fixed-size arrays for an index of at most
/// `FLAT * 64` rules with no per-rule check: a scan of a flow without a domain name then
/// intersects one array of each (class mask, peer row, port row) without a list of
/// words, bounds checks or branches per word. Rows a table lacks read as empty.
#[derive(Debug, Clone, Default)]
struct Flat {
    /// Per family of flow (as an index into [`RuleIndex::scan`]), per class mask: the
    /// words a scan reads of it.
    masks: [Vec<FlatRow>; 2],
    /// Per peer row.
    peers: Vec<FlatRow>,
    /// Per protocol and port interval: the port row, and the rules with named ports that
    /// a destination's named-port row may hold there.
    ports: [Vec<FlatRow>; 3],
    named_maybe: [Vec<FlatRow>; 3],
    /// Per named-port row.
    named: Vec<FlatRow>,
}

impl Flat {
    fn heap_bytes(&self) -> usize {
        let rows = self.masks.iter().map(Vec::len).sum::<usize>()
            + self.peers.len()
            + self.ports.iter().map(Vec::len).sum::<usize>()
            + self.named_maybe.iter().map(Vec::len).sum::<usize>()
            + self.named.len();
        rows * std::mem::size_of::<FlatRow>()
    }
}

/// The sets of `table` as flat rows (`table` has at most [`FLAT`] words per set).
fn flat_rows(table: &BitsetTable) -> Vec<FlatRow> {
    (0..table.len())
        .map(|i| {
            let mut out = ZERO_ROW;
            for (o, w) in out.iter_mut().zip(table.row(to_u32(i))) {
                *o = *w;
            }
            out
        })
        .collect()
}

/// The rules of `lo..hi` in word `w`.
#[inline]
fn range_word(lo: u32, hi: u32, w: usize) -> u64 {
    let base = to_u32(w * 64);
    let from = lo.saturating_sub(base);
    let to = hi.saturating_sub(base);
    let below = (!0u64).checked_shl(from).unwrap_or(0);
    let above = if to >= 64 { !0u64 } else { !((!0u64) << to) };
    below & above
}

/// Word by word `a & b`.
#[inline]
fn and_rows(a: &FlatRow, b: &FlatRow) -> FlatRow {
    let mut out = ZERO_ROW;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x & y;
    }
    out
}

/// The first rule of a flat row.
#[inline]
pub(super) fn first_set(row: &FlatRow) -> Option<u32> {
    row.iter()
        .enumerate()
        .find(|(_, w)| **w != 0)
        .map(|(i, w)| to_u32(i * 64) + w.trailing_zeros())
}

/// `row` without its rules below `n`.
#[inline]
pub(super) fn clear_below(row: &mut FlatRow, n: u32) {
    for (w, word) in row.iter_mut().enumerate() {
        *word &= range_word(n, u32::MAX, w);
    }
}

/// What a flat scan reads of one side of a flow ([`Flat`]).
#[derive(Debug, Clone, Copy)]
struct FlatSide<'a> {
    peer: &'a FlatRow,
    ports: &'a FlatRow,
    named_maybe: &'a FlatRow,
    /// The named-port row of the destination pod, once a scan has needed it.
    named: Option<&'a FlatRow>,
}

/// Bit `w` set for each word `w` of `words` that is not zero (words past 64 are left
/// out: bitmaps are only kept for masks of at most 64 words).
fn word_bits(words: &[u64]) -> u64 {
    words
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, w)| **w != 0)
        .fold(0u64, |bits, (i, _)| bits | (1u64 << i))
}

/// The class masks as a scan reads them for one family of flows: each mask intersected
/// with the rules whose match decides and that apply to the family, with where its
/// non-zero words are.
#[derive(Debug, Clone, Default)]
struct ScanMasks {
    /// The folded masks; empty when they equal the class masks (every rule decides and
    /// applies to both families).
    words: BitsetTable,
    /// With at most 64 words per mask: per mask, bit `w` set when its word `w` is not
    /// zero.
    bits: Vec<u64>,
    /// With more: per mask, its non-zero words, from `nonzero[mask_words[m]]` to
    /// `nonzero[mask_words[m + 1]]`.
    nonzero: Vec<u32>,
    mask_words: Vec<u32>,
}

impl ScanMasks {
    /// `masks` folded with `keep` (no folding when `keep` is `None`).
    fn new(masks: &[Bitset], keep: Option<&Bitset>, n: usize) -> Self {
        let stride = n.div_ceil(64);
        let folded: Option<Vec<Bitset>> = keep.map(|keep| {
            masks
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m.intersect_with(keep);
                    m
                })
                .collect()
        });
        let sets = folded.as_deref().unwrap_or(masks);
        let mut out = ScanMasks::default();
        if stride <= 64 {
            out.bits = sets.iter().map(|m| word_bits(m.words())).collect();
        } else {
            out.mask_words.reserve(sets.len() + 1);
            for m in sets {
                out.mask_words.push(to_u32(out.nonzero.len()));
                for (w, word) in m.words().iter().enumerate() {
                    if *word != 0 {
                        out.nonzero.push(to_u32(w));
                    }
                }
            }
            out.mask_words.push(to_u32(out.nonzero.len()));
        }
        if let Some(folded) = folded {
            out.words = BitsetTable::new(folded, n);
        }
        out
    }

    fn heap_bytes(&self) -> usize {
        self.words.heap_bytes()
            + self.bits.capacity() * 8
            + (self.nonzero.capacity() + self.mask_words.capacity()) * 4
    }
}

/// What the scans of one side of a flow read of it, looked up once for them all
/// ([`RuleIndex::prepare`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Prepared<'a> {
    /// The port row of the flow's protocol and port.
    ports: &'a [u64],
    /// The rules with named ports the destination's named-port row may hold at the
    /// flow's port (see [`PortIndex::named`]).
    named_maybe: &'a [u64],
    /// The other side's peer row; empty when no rule's peers hold it.
    peer: &'a [u64],
    /// The named-port row of the destination pod, once a scan has needed it.
    named: Option<&'a [u64]>,
    /// The family of the flow, as an index into [`RuleIndex::scan`].
    family: usize,
    /// Whether the flow carries a name that `domainNames` peers may match.
    domain: bool,
    /// The same rows as flat arrays, when the index keeps them and the flow carries no
    /// name (then the slices above are left empty).
    flat: Option<FlatSide<'a>>,
}

/// The words a scan reads: the set bits of a bitmap, or a list of word numbers up to a
/// last one.
enum Words<'a> {
    Bits(u64),
    List(std::slice::Iter<'a, u32>, usize),
}

impl Iterator for Words<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            Words::Bits(bits) => {
                if *bits == 0 {
                    return None;
                }
                let w = bits.trailing_zeros() as usize;
                *bits &= *bits - 1;
                Some(w)
            }
            Words::List(list, last) => list.next().map(|w| *w as usize).filter(|w| w <= last),
        }
    }
}

impl RuleIndex {
    /// Builds the index of `rules` (in walk order) over `atoms` atoms, with class masks
    /// given as sets of rule numbers.
    pub(super) fn build(
        rules: Vec<RuleFacts>,
        atoms: usize,
        external_atoms: &[u32],
        masks: Vec<Bitset>,
    ) -> Self {
        let n = rules.len();

        // Peer rows: each atom's set of rules, interned.
        let (atom_rows, rows) = peer_rows(&rules, atoms);
        let empty_row = rows.iter().position(Bitset::is_empty).map(to_u32);
        let mut external = external_atoms.iter().map(|a| atom_rows.get(*a as usize));
        let external_row = match external.next() {
            Some(Some(first)) if external.all(|r| r == Some(first)) => Some(*first),
            _ => None,
        };

        let mut families = [Bitset::new(n), Bitset::new(n)];
        let mut one_family = false;
        let mut domain_rules = Bitset::new(n);
        let mut actionable = Bitset::new(n);
        let mut any_inert = false;
        let mut checked = Bitset::new(n);
        let mut checks = Vec::new();
        for (r, facts) in rules.iter().enumerate() {
            for (f, set) in families.iter_mut().enumerate() {
                if facts.families.get(f).copied().unwrap_or(false) {
                    set.insert(r);
                } else {
                    one_family = true;
                }
            }
            if !facts.domains.is_empty() {
                domain_rules.insert(r);
            }
            if facts.actionable {
                actionable.insert(r);
            } else {
                any_inert = true;
            }
            if facts.ports.needs_check() {
                checked.insert(r);
                checks.push((to_u32(r), facts.ports.clone()));
            }
        }
        if !one_family {
            families = [Bitset::default(), Bitset::default()];
        }
        if !any_inert {
            actionable = Bitset::default();
        }

        let ports = Protocol::ALL.map(|proto| port_index(&rules, proto));
        let named_of: Vec<NamedRule> = rules
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                !f.ports.needs_check() && f.ports.ranges.is_some() && !f.ports.named.is_empty()
            })
            .map(|(r, f)| (to_u32(r), f.ports.protocols, f.ports.named.clone()))
            .collect();

        // The masks a scan reads: folded with the rules that decide and, per family,
        // with the rules that apply to it.
        let keep = |family: &Bitset| -> Option<Bitset> {
            match (any_inert, one_family) {
                (false, false) => None,
                (true, false) => Some(actionable.clone()),
                (false, true) => Some(family.clone()),
                (true, true) => {
                    let mut k = actionable.clone();
                    k.intersect_with(family);
                    Some(k)
                }
            }
        };
        let [v4, v6] = &families;
        let scan = [
            ScanMasks::new(&masks, keep(v4).as_ref(), n),
            if one_family {
                ScanMasks::new(&masks, keep(v6).as_ref(), n)
            } else {
                ScanMasks::default()
            },
        ];

        let masks = BitsetTable::new(masks, n);
        let peer_rows = BitsetTable::new(rows, n);
        // The named-port rows come with `set_named_rows`.
        let flat = (n <= FLAT * 64 && checks.is_empty()).then(|| {
            let of_family = |scan: &ScanMasks| {
                if scan.words.stride() == 0 {
                    flat_rows(&masks)
                } else {
                    flat_rows(&scan.words)
                }
            };
            Flat {
                masks: [
                    of_family(&scan[0]),
                    if one_family {
                        of_family(&scan[1])
                    } else {
                        Vec::new()
                    },
                ],
                peers: flat_rows(&peer_rows),
                ports: ports.each_ref().map(|p| flat_rows(&p.rows)),
                named_maybe: Default::default(),
                named: Vec::new(),
            }
        });

        RuleIndex {
            flat,
            actions: rules.iter().map(|f| f.action).collect(),
            atom_rows,
            peer_rows,
            families,
            domain_rules,
            domain_lists: rules.into_iter().map(|f| f.domains).collect(),
            ports,
            named_rows: BitsetTable::default(),
            named_rules: {
                let mut set = Bitset::new(n);
                for (r, _, _) in &named_of {
                    set.insert(*r as usize);
                }
                set
            },
            named_of,
            checked,
            checks,
            external_row,
            empty_row,
            masks,
            scan,
        }
    }

    /// What the scans of one side of a flow read of it; `None` when no rule can match
    /// it.
    #[inline]
    pub(super) fn prepare(&self, query: &mut impl Query) -> Option<Prepared<'_>> {
        let ports = self.ports.get(query.protocol().index())?;
        let family = if self.scan[1].bits.is_empty() && self.scan[1].mask_words.is_empty() {
            0
        } else {
            usize::from(query.v6())
        };
        let domain = query.has_domain();
        let peer_id = match self.peer_row_id(query) {
            Some(p) if Some(p) != self.empty_row => Some(p),
            _ if domain => None,
            // No rule's peers hold the other side.
            _ => return None,
        };
        let interval = ports.row(query.port());
        if let (Some(flat), false, Some(p)) = (&self.flat, domain, peer_id) {
            let proto = query.protocol().index();
            fn at(rows: &[Vec<FlatRow>; 3], proto: usize, interval: u32) -> &FlatRow {
                rows.get(proto)
                    .and_then(|r| r.get(interval as usize))
                    .unwrap_or(&ZERO_ROW)
            }
            return Some(Prepared {
                ports: &[],
                named_maybe: &[],
                peer: &[],
                named: None,
                family,
                domain,
                flat: Some(FlatSide {
                    peer: flat.peers.get(p as usize).unwrap_or(&ZERO_ROW),
                    ports: at(&flat.ports, proto, interval),
                    named_maybe: at(&flat.named_maybe, proto, interval),
                    named: None,
                }),
            });
        }
        Some(Prepared {
            ports: ports.rows.row(interval),
            named_maybe: ports.named.row(interval),
            peer: peer_id.map_or(&[][..], |p| self.peer_rows.row(p)),
            named: None,
            family,
            domain,
            flat: None,
        })
    }

    /// Class mask `mask` over rules `lo..hi` as a flat row, for a walk that reads it
    /// without the mask table ([`hits`](Self::hits)): `None` unless the index keeps flat
    /// rows and every rule applies to both families (the row then holds for every flow).
    pub(super) fn flat_class_row(&self, mask: u32, lo: u32, hi: u32) -> Option<FlatRow> {
        let flat = self.flat.as_ref()?;
        if flat.masks.get(1).is_some_and(|m| !m.is_empty()) {
            return None;
        }
        let row = flat.masks.first()?.get(mask as usize)?;
        let mut out = ZERO_ROW;
        for (w, (o, m)) in out.iter_mut().zip(row).enumerate() {
            *o = m & range_word(lo, hi, w);
        }
        Some(out)
    }

    /// The rules of `row` (a class's rules over a scan, from
    /// [`flat_class_row`](Self::flat_class_row)) that a flow of protocol `protocol` to
    /// port `port` matches by its port row, given the other side's peer row
    /// ([`peer_row_id`](Self::peer_row_id)), and whether rules with named ports may add
    /// to them (then [`add_named`](Self::add_named) adds those the destination's
    /// named-port row holds): what [`prepare`](Self::prepare) and
    /// [`first_match`](Self::first_match) find, all at once, without the class's mask id.
    /// `None` when the index keeps no flat rows; the flow must carry no name (the
    /// rule-by-rule scan decides those).
    #[inline(always)]
    pub(super) fn hits(
        &self,
        row: &FlatRow,
        peer: Option<u32>,
        protocol: Protocol,
        port: u16,
    ) -> Option<(FlatRow, bool)> {
        let flat = self.flat.as_ref()?;
        let Some(peer) = peer.and_then(|p| flat.peers.get(p as usize)) else {
            return Some((ZERO_ROW, false));
        };
        let proto = protocol.index();
        let interval = self.ports.get(proto).map_or(0, |p| p.row_inline(port)) as usize;
        fn at(rows: &[Vec<FlatRow>; 3], proto: usize, interval: usize) -> &FlatRow {
            rows.get(proto)
                .and_then(|r| r.get(interval))
                .unwrap_or(&ZERO_ROW)
        }
        let ports = at(&flat.ports, proto, interval);
        let maybe = at(&flat.named_maybe, proto, interval);
        let mut hits = ZERO_ROW;
        let mut need = 0;
        for ((((h, r), p), q), n) in hits.iter_mut().zip(row).zip(peer).zip(ports).zip(maybe) {
            let cand = r & p;
            *h = cand & q;
            need |= cand & !q & n;
        }
        Some((hits, need != 0))
    }

    /// Adds to `hits` (from [`hits`](Self::hits)) the rules of `row` that peer row `peer`
    /// and named-port row `named` hold.
    pub(super) fn add_named(
        &self,
        hits: &mut FlatRow,
        row: &FlatRow,
        peer: Option<u32>,
        named: Option<u32>,
    ) {
        let Some(flat) = self.flat.as_ref() else {
            return;
        };
        let (Some(peer), Some(named)) = (
            peer.and_then(|p| flat.peers.get(p as usize)),
            named.and_then(|r| flat.named.get(r as usize)),
        ) else {
            return;
        };
        for (((h, r), p), n) in hits.iter_mut().zip(row).zip(peer).zip(named) {
            *h |= r & p & n;
        }
    }

    /// The first rule of class mask `mask` in `lo..hi` that matches the flow, given what
    /// [`prepare`](Self::prepare) read of it. Only the words where the class has rules
    /// that decide for the flow's family are read.
    #[inline]
    pub(super) fn first_match<'s>(
        &'s self,
        mask: u32,
        lo: u32,
        hi: u32,
        flow: &mut Prepared<'s>,
        query: &mut impl Query,
    ) -> Option<u32> {
        if lo >= hi {
            return None;
        }
        if let Some(side) = flow.flat.as_mut() {
            return self.first_flat(mask, lo, hi, flow.family, side, query);
        }
        let scan = self.scan.get(flow.family)?;
        let rows = if scan.words.stride() == 0 {
            self.masks.row(mask)
        } else {
            scan.words.row(mask)
        };
        let first = (lo / 64) as usize;
        let last = ((hi - 1) / 64) as usize;
        let words = match scan.bits.get(mask as usize) {
            Some(bits) => {
                let from = (!0u64).checked_shl(to_u32(first)).unwrap_or(0);
                Words::Bits(bits & from & (!0u64 >> (63 - last.min(63))))
            }
            None => {
                let m = mask as usize;
                let from = *scan.mask_words.get(m)? as usize;
                let to = *scan.mask_words.get(m + 1)? as usize;
                let list = scan.nonzero.get(from..to)?;
                let start = list.partition_point(|w| (*w as usize) < first);
                Words::List(list.get(start..)?.iter(), last)
            }
        };
        for wi in words {
            let mut m = rows.get(wi).copied().unwrap_or(0);
            if wi == first {
                m &= !0u64 << (lo % 64);
            }
            if wi == last {
                m &= !0u64 >> (63 - (hi - 1) % 64);
            }
            if let Some(rule) = self.scan_word(wi, m, flow, query) {
                return Some(rule);
            }
        }
        None
    }

    /// [`first_match`](Self::first_match) on the flat rows: the rules of the class in
    /// `lo..hi` that the peer row holds, with the port row, or where a rule's named ports
    /// may hold before the first of those, the destination's named-port row.
    #[inline]
    fn first_flat<'s>(
        &'s self,
        mask: u32,
        lo: u32,
        hi: u32,
        family: usize,
        side: &mut FlatSide<'s>,
        query: &mut impl Query,
    ) -> Option<u32> {
        let flat = self.flat.as_ref()?;
        let mask = flat.masks.get(family)?.get(mask as usize)?;
        let mut cand = ZERO_ROW;
        for (w, ((c, m), p)) in cand.iter_mut().zip(mask).zip(side.peer).enumerate() {
            *c = m & p & range_word(lo, hi, w);
        }
        let plain = first_set(&and_rows(&cand, side.ports));
        let mut need = ZERO_ROW;
        for (((o, c), p), n) in need
            .iter_mut()
            .zip(&cand)
            .zip(side.ports)
            .zip(side.named_maybe)
        {
            *o = c & !p & n;
        }
        match first_set(&need) {
            Some(first) if plain.is_none_or(|h| first < h) => {
                let named = self.flat_named(side, query);
                let by_name = first_set(&and_rows(&cand, named));
                match (plain, by_name) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            _ => plain,
        }
    }

    /// The destination's named-port row as a flat row, looked up once per side of a
    /// flow.
    #[inline(never)]
    fn flat_named<'s>(&'s self, side: &mut FlatSide<'s>, query: &mut impl Query) -> &'s FlatRow {
        side.named.get_or_insert_with(|| {
            query
                .named_row()
                .and_then(|r| self.flat.as_ref()?.named.get(r as usize))
                .unwrap_or(&ZERO_ROW)
        })
    }

    /// The first rule among `m` (rules of the class in word `wi`, within the scan's
    /// bounds) that matches the flow.
    #[inline]
    fn scan_word<'s>(
        &'s self,
        wi: usize,
        mut m: u64,
        flow: &mut Prepared<'s>,
        query: &mut impl Query,
    ) -> Option<u32> {
        let known = flow.peer.get(wi).copied().unwrap_or(0);
        if !flow.domain && self.checks.is_empty() {
            // Only the rows decide: the first rule left is the one.
            m &= known;
            if m == 0 {
                return None;
            }
            let mut ports_w = flow.ports.get(wi).copied().unwrap_or(0);
            if m & !ports_w & flow.named_maybe.get(wi).copied().unwrap_or(0) != 0 {
                ports_w |= self.named_words(wi, flow, query);
            }
            m &= ports_w;
            return (m != 0).then(|| to_u32(wi * 64) + m.trailing_zeros());
        }
        self.scan_word_slow(wi, m, known, flow, query)
    }

    /// The named-port row's word `wi`, looked up once per side of a flow.
    #[inline(never)]
    fn named_words<'s>(
        &'s self,
        wi: usize,
        flow: &mut Prepared<'s>,
        query: &mut impl Query,
    ) -> u64 {
        let named = *flow.named.get_or_insert_with(|| {
            query
                .named_row()
                .map_or(&[][..], |r| self.named_rows.row(r))
        });
        named.get(wi).copied().unwrap_or(0)
    }

    /// [`scan_word`](Self::scan_word) with domain names or port conditions checked
    /// rule by rule.
    #[inline(never)]
    fn scan_word_slow<'s>(
        &'s self,
        wi: usize,
        mut m: u64,
        known: u64,
        flow: &mut Prepared<'s>,
        query: &mut impl Query,
    ) -> Option<u32> {
        let domains = if flow.domain {
            self.domain_rules.words().get(wi).copied().unwrap_or(0)
        } else {
            0
        };
        m &= known | domains;
        if m == 0 {
            return None;
        }
        let mut ports_w = flow.ports.get(wi).copied().unwrap_or(0);
        if m & !ports_w & flow.named_maybe.get(wi).copied().unwrap_or(0) != 0 {
            ports_w |= self.named_words(wi, flow, query);
        }
        m &= ports_w;
        let base = to_u32(wi * 64);
        while m != 0 {
            let bit = m.trailing_zeros();
            let rule = base + bit;
            m &= m - 1;
            let peer_hit = (known >> bit) & 1 == 1
                || (flow.domain
                    && self
                        .domain_lists
                        .get(rule as usize)
                        .is_some_and(|lists| query.domain_ok(lists)));
            if peer_hit && (!self.checked.contains(rule as usize) || self.check(rule, query)) {
                return Some(rule);
            }
        }
        None
    }

    /// Whether rule `rule` of class mask `mask` matches the flow (for explanations: a
    /// rule of the class's policies that the mask leaves out fails its test on the local
    /// pod; whether the rule decides is not read).
    pub(super) fn matches(&self, rule: u32, mask: u32, query: &mut impl Query) -> bool {
        let r = rule as usize;
        let Some(ports) = self.ports.get(query.protocol().index()) else {
            return false;
        };
        let bit = |row: &[u64]| row.get(r / 64).is_some_and(|w| (w >> (r % 64)) & 1 == 1);
        if !bit(self.masks.row(mask)) {
            return false;
        }
        let by_port = bit(ports.rows.row(ports.row(query.port())))
            || (self.named_rules.contains(r)
                && query
                    .named_row()
                    .is_some_and(|n| bit(self.named_rows.row(n))));
        if !by_port {
            return false;
        }
        // A family set without words means every rule applies to both families; one with
        // words lists the rules of that family, and may list none.
        if let Some(fam) = self.families.get(usize::from(query.v6())) {
            if !fam.words().is_empty() && !fam.contains(r) {
                return false;
            }
        }
        if self.checked.contains(r) && !self.check(rule, query) {
            return false;
        }
        let by_atom = self
            .peer_row_id(query)
            .is_some_and(|p| bit(self.peer_rows.row(p)));
        by_atom
            || (query.has_domain()
                && self
                    .domain_lists
                    .get(r)
                    .is_some_and(|lists| !lists.is_empty() && query.domain_ok(lists)))
    }

    /// The peer row of an atom (every atom has one).
    pub(super) fn row_of_atom(&self, atom: u32) -> u32 {
        self.atom_rows
            .get(atom as usize)
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// Builds the named-port rows: for each set of (name, protocol) pairs (the container
    /// ports a pod declares with one protocol and number), the rules whose named ports
    /// one of them satisfies. Returns each set's row, `None` when no rule has any of its
    /// names; equal rows are stored once. `declared` lists every (protocol, number, set)
    /// some pod declares: a flow to a port no pod declares a set at reads no row.
    pub(super) fn set_named_rows(
        &mut self,
        sets: &[Vec<(u32, Protocol)>],
        declared: &[(Protocol, u16, usize)],
    ) -> Vec<Option<u32>> {
        let n = self.actions.len();
        let mut ids: HashMap<Bitset, u32> = HashMap::new();
        let mut rows: Vec<Bitset> = Vec::new();
        let out = sets
            .iter()
            .map(|set| {
                let mut row = Bitset::new(n);
                let mut any = false;
                for (rule, protocols, list) in &self.named_of {
                    let hit = set.iter().any(|(name, p)| {
                        protocols.get(p.index()).copied().unwrap_or(false)
                            && list
                                .iter()
                                .any(|(proto, n)| n == name && proto.is_none_or(|q| q == *p))
                    });
                    if hit {
                        row.insert(*rule as usize);
                        any = true;
                    }
                }
                any.then(|| {
                    *ids.entry(row).or_insert_with_key(|row| {
                        rows.push(row.clone());
                        to_u32(rows.len() - 1)
                    })
                })
            })
            .collect::<Vec<Option<u32>>>();
        // Per protocol and port interval: the union of the rows declared in it.
        let mut maybe: [Vec<Bitset>; 3] = Default::default();
        for (proto, list) in maybe.iter_mut().enumerate() {
            let intervals = self.ports.get(proto).map_or(0, |p| p.starts.len());
            *list = (0..intervals).map(|_| Bitset::new(n)).collect();
        }
        for (proto, port, set) in declared {
            let (Some(Some(row)), Some(ports), Some(list)) = (
                out.get(*set).map(|r| r.and_then(|r| rows.get(r as usize))),
                self.ports.get(proto.index()),
                maybe.get_mut(proto.index()),
            ) else {
                continue;
            };
            if let Some(into) = list.get_mut(ports.row(*port) as usize) {
                into.union_with(row);
            }
        }
        for (ports, list) in self.ports.iter_mut().zip(maybe) {
            ports.named = BitsetTable::new(list, n);
        }
        self.named_rows = BitsetTable::new(rows, n);
        if let Some(flat) = self.flat.as_mut() {
            flat.named = flat_rows(&self.named_rows);
            flat.named_maybe = self.ports.each_ref().map(|p| flat_rows(&p.named));
        }
        out
    }

    /// The peer row of the other side.
    #[inline]
    pub(super) fn peer_row_id(&self, query: &mut impl Query) -> Option<u32> {
        match self.external_row {
            Some(row) if query.external() => Some(row),
            _ => query.row(),
        }
    }

    /// The whole port condition of a rule that needs one.
    fn check(&self, rule: u32, query: &impl Query) -> bool {
        self.checks
            .binary_search_by_key(&rule, |(r, _)| *r)
            .ok()
            .and_then(|i| self.checks.get(i))
            .is_some_and(|(_, c)| {
                c.holds(query.protocol(), query.port(), query.v6(), |n| {
                    query.named_ok(n)
                })
            })
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.actions.capacity()
            + self.atom_rows.capacity() * 4
            + self.peer_rows.heap_bytes()
            + self.masks.heap_bytes()
            + self.scan.iter().map(ScanMasks::heap_bytes).sum::<usize>()
            + self.flat.as_ref().map_or(0, Flat::heap_bytes)
            + self.ports.iter().map(PortIndex::heap_bytes).sum::<usize>()
            + self
                .families
                .iter()
                .map(|f| f.words().len() * 8)
                .sum::<usize>()
            + self.domain_lists.capacity() * std::mem::size_of::<Vec<u32>>()
    }
}

/// Per atom of `0..atoms`: its peer row, the set of rules whose peers hold it; and the
/// distinct rows, numbered in the order of the first atom having each.
///
/// The rules' peer sets are the columns of a bit matrix of atoms by rules, and the rows
/// its transpose: it is read 64 atoms by 64 rules at a time, as one word of each of 64
/// peer sets, and each such block is transposed in registers. Each atom's row is then
/// looked up among the rows so far (first against the previous atom's, which it often
/// equals). The cost is `O(atoms × rules / 64)` word operations, however many atoms the
/// peer sets hold.
fn peer_rows(rules: &[RuleFacts], atoms: usize) -> (Vec<u32>, Vec<Bitset>) {
    let n = rules.len();
    let stride = n.div_ceil(64);
    // Per rule: the words of its peer set, `None` for every peer.
    let peers: Vec<Option<&[u64]>> = rules
        .iter()
        .map(|f| f.peers.as_deref().map(Bitset::words))
        .collect();
    if stride == 0 {
        let rows = if atoms == 0 {
            Vec::new()
        } else {
            vec![Bitset::new(0)]
        };
        return (vec![0; atoms], rows);
    }
    let mut atom_rows: Vec<u32> = Vec::with_capacity(atoms);
    let mut rows: Vec<Bitset> = Vec::new();
    let mut row_ids: HashMap<Vec<u64>, u32> = HashMap::new();
    // The rows of the 64 atoms of a block, `stride` words each.
    let mut block = vec![0u64; 64 * stride];
    let mut last: Option<u32> = None;
    for b in 0..atoms.div_ceil(64) {
        for (g, group) in peers.chunks(64).enumerate() {
            let mut tile = [0u64; 64];
            for (t, p) in tile.iter_mut().zip(group) {
                *t = match p {
                    None => !0,
                    Some(words) => words.get(b).copied().unwrap_or(0),
                };
            }
            if tile.iter().any(|w| *w != 0) {
                transpose64(&mut tile);
            }
            for (row, word) in block.chunks_exact_mut(stride).zip(tile) {
                if let Some(w) = row.get_mut(g) {
                    *w = word;
                }
            }
        }
        let in_block = atoms.saturating_sub(b * 64).min(64);
        for row in block.chunks_exact(stride).take(in_block) {
            let same = last
                .and_then(|id| rows.get(id as usize))
                .is_some_and(|prev| prev.words() == row);
            let id = match last {
                Some(id) if same => id,
                _ => match row_ids.get(row) {
                    Some(id) => *id,
                    None => {
                        let id = to_u32(rows.len());
                        rows.push(Bitset::from_words(row.to_vec()));
                        row_ids.insert(row.to_vec(), id);
                        id
                    }
                },
            };
            last = Some(id);
            atom_rows.push(id);
        }
    }
    (atom_rows, rows)
}

/// Transposes a 64 × 64 bit matrix held as 64 words (bit `j` of word `i` is entry
/// `(i, j)`): swaps ever smaller off-diagonal blocks, halves of 32 then 16 and so on
/// down to single bits.
fn transpose64(m: &mut [u64; 64]) {
    let mut width = 32usize;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while width > 0 {
        for pair in m.chunks_exact_mut(2 * width) {
            let (lo, hi) = pair.split_at_mut(width);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let t = ((*a >> width) ^ *b) & mask;
                *a ^= t << width;
                *b ^= t;
            }
        }
        width /= 2;
        mask ^= mask << width;
    }
}

/// One protocol's port index, by a sweep over the points where some rule's condition
/// starts or stops holding: rows are written once per interval, each from the previous.
fn port_index(rules: &[RuleFacts], proto: Protocol) -> PortIndex {
    let n = rules.len();
    // (port, rule, on): the rule's condition starts (on) or stops holding at `port`.
    let mut events: Vec<(u32, u32, bool)> = Vec::new();
    for (r, facts) in rules.iter().enumerate() {
        for (lo, hi) in facts.ports.intervals(proto) {
            events.push((u32::from(lo), to_u32(r), true));
            events.push((u32::from(hi) + 1, to_u32(r), false));
        }
    }
    events.sort_unstable_by_key(|(port, _, on)| (*port, *on));
    let mut starts: Vec<u16> = vec![0];
    let mut current = Bitset::new(n);
    let mut i = 0;
    let apply = |point: u32, i: &mut usize, current: &mut Bitset| {
        while let Some(&(p, r, on)) = events.get(*i) {
            if p != point {
                break;
            }
            if on {
                current.insert(r as usize);
            } else {
                current.remove(r as usize);
            }
            *i += 1;
        }
    };
    apply(0, &mut i, &mut current);
    let mut rows: Vec<Bitset> = vec![current.clone()];
    while let Some(&(point, _, _)) = events.get(i) {
        let Ok(start) = u16::try_from(point) else {
            break;
        };
        apply(point, &mut i, &mut current);
        starts.push(start);
        rows.push(current.clone());
    }
    PortIndex::new(starts, BitsetTable::new(rows, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(ports: PortFacts) -> RuleFacts {
        RuleFacts {
            action: Action::Allow,
            peers: None,
            domains: Vec::new(),
            ports,
            families: [true, true],
            actionable: true,
        }
    }

    /// Peer rows read by transposing blocks of the atom-by-rule matrix are each atom's
    /// rules, numbered by first atom, for counts of atoms and rules on and off multiples
    /// of 64, with rules for every peer, for no peer and for scattered ones.
    #[test]
    fn peer_rows_are_each_atoms_rules() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (atoms, n) in [
            (0, 3),
            (5, 0),
            (1, 1),
            (63, 64),
            (64, 65),
            (200, 130),
            (131, 7),
        ] {
            let rules: Vec<RuleFacts> = (0..n)
                .map(|r| {
                    let peers = match r % 5 {
                        0 => None,
                        1 => Some(Arc::new(Bitset::new(atoms))),
                        _ => {
                            let mut set = Bitset::new(atoms);
                            // Few distinct rows: atoms fall into a handful of groups.
                            let groups = next() | 1;
                            for a in 0..atoms {
                                if (groups >> (a % 7)) & 1 == 1 {
                                    set.insert(a);
                                }
                            }
                            if next() % 3 == 0 && atoms > 0 {
                                set.insert((next() % atoms as u64) as usize);
                            }
                            Some(Arc::new(set))
                        }
                    };
                    RuleFacts {
                        peers,
                        ..facts(PortFacts::any())
                    }
                })
                .collect();
            let (atom_rows, rows) = peer_rows(&rules, atoms);
            let mut expected_rows: Vec<Vec<usize>> = Vec::new();
            let mut expected_ids = Vec::new();
            for a in 0..atoms {
                let row: Vec<usize> = (0..n)
                    .filter(|r| rules[*r].peers.as_ref().is_none_or(|set| set.contains(a)))
                    .collect();
                let id = match expected_rows.iter().position(|e| *e == row) {
                    Some(id) => id,
                    None => {
                        expected_rows.push(row);
                        expected_rows.len() - 1
                    }
                };
                expected_ids.push(to_u32(id));
            }
            assert_eq!(atom_rows, expected_ids, "{atoms} atoms, {n} rules");
            let got: Vec<Vec<usize>> = rows.iter().map(|r| r.iter().collect()).collect();
            assert_eq!(got, expected_rows, "{atoms} atoms, {n} rules");
            assert!(rows.iter().all(|r| r.words().len() == n.div_ceil(64)));
        }
    }

    fn row_at(index: &PortIndex, port: u16) -> Vec<usize> {
        let row = index.rows.row(index.row(port));
        (0..64)
            .filter(|r| row.first().is_some_and(|w| (w >> r) & 1 == 1))
            .collect()
    }

    #[test]
    fn port_sweep_matches_each_rule_condition() {
        let tcp = Protocol::Tcp;
        let rules = vec![
            facts(PortFacts::any()),
            facts(PortFacts {
                ranges: Some(vec![(tcp, 80, 80), (tcp, 8000, 8100)]),
                ..PortFacts::any()
            }),
            facts(PortFacts {
                not_ranges: vec![(tcp, 0, 1023)],
                ..PortFacts::any()
            }),
            facts(PortFacts {
                protocols: [false, true, false],
                ..PortFacts::any()
            }),
            facts(PortFacts {
                ranges: Some(vec![(tcp, 65535, 65535)]),
                ..PortFacts::any()
            }),
        ];
        let index = port_index(&rules, tcp);
        for port in [
            0u16, 1, 79, 80, 81, 1023, 1024, 7999, 8000, 8100, 8101, 65534, 65535,
        ] {
            let expected: Vec<usize> = rules
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    f.ports
                        .intervals(tcp)
                        .iter()
                        .any(|(lo, hi)| *lo <= port && port <= *hi)
                })
                .map(|(r, _)| r)
                .collect();
            assert_eq!(row_at(&index, port), expected, "port {port}");
        }
        assert_eq!(row_at(&index, 80), vec![0, 1]);
        assert_eq!(row_at(&index, 2000), vec![0, 2]);
        assert_eq!(row_at(&index, 65535), vec![0, 2, 4]);
    }

    /// A flow from atom 0 on TCP port 80, with no names.
    struct Flow80 {
        v6: bool,
        row: u32,
    }

    impl Query for Flow80 {
        fn protocol(&self) -> Protocol {
            Protocol::Tcp
        }
        fn port(&self) -> u16 {
            80
        }
        fn v6(&self) -> bool {
            self.v6
        }
        fn external(&self) -> bool {
            false
        }
        fn row(&mut self) -> Option<u32> {
            Some(self.row)
        }
        fn named_row(&mut self) -> Option<u32> {
            None
        }
        fn named_ok(&self, _: &[(Option<Protocol>, u32)]) -> bool {
            false
        }
        fn has_domain(&self) -> bool {
            false
        }
        fn domain_ok(&self, _: &[u32]) -> bool {
            false
        }
    }

    /// Scans of flat rows (at most 256 rules), through bitmaps of words (at most 64
    /// words per mask) and through lists of words (more) all find the first rule of the
    /// range that is in the class, decides and applies to the flow's family.
    #[test]
    fn first_match_skips_inert_and_other_family_rules() {
        for n in [200usize, 256, 300, 5000] {
            let rules: Vec<RuleFacts> = (0..n)
                .map(|r| RuleFacts {
                    actionable: r % 7 != 3,
                    families: [r % 5 != 1, r % 11 != 2],
                    ..facts(PortFacts {
                        ranges: Some(vec![(Protocol::Tcp, 80, 80)]),
                        ..PortFacts::any()
                    })
                })
                .collect();
            let masks: Vec<Bitset> = [2usize, 3, 13]
                .iter()
                .map(|step| {
                    let mut m = Bitset::new(n);
                    (0..n).step_by(*step).for_each(|r| m.insert(r));
                    m
                })
                .collect();
            let index = RuleIndex::build(rules.clone(), 1, &[], masks.clone());
            assert_eq!(index.flat.is_some(), n <= FLAT * 64);
            for v6 in [false, true] {
                let mut query = Flow80 {
                    v6,
                    row: index.row_of_atom(0),
                };
                for (mask, set) in masks.iter().enumerate() {
                    for (lo, hi) in [(0, n), (1, 64), (64, 65), (70, n - 1), (n - 200, n)] {
                        let expected = (lo..hi).find(|r| {
                            set.contains(*r)
                                && rules[*r].actionable
                                && rules[*r].families[usize::from(v6)]
                        });
                        let mut flow = index.prepare(&mut query).expect("prepared");
                        let got = index.first_match(
                            to_u32(mask),
                            to_u32(lo),
                            to_u32(hi),
                            &mut flow,
                            &mut query,
                        );
                        assert_eq!(
                            got.map(|r| r as usize),
                            expected,
                            "n {n} v6 {v6} mask {mask} {lo}..{hi}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn intervals_subtract_negated_ranges() {
        let tcp = Protocol::Tcp;
        let f = PortFacts {
            ranges: Some(vec![(tcp, 10, 20), (tcp, 15, 30), (Protocol::Udp, 1, 5)]),
            not_ranges: vec![(tcp, 12, 13), (tcp, 30, 40)],
            ..PortFacts::any()
        };
        assert_eq!(f.intervals(tcp), vec![(10, 11), (14, 29)]);
        assert_eq!(f.intervals(Protocol::Udp), vec![(1, 5)]);
        assert!(f.intervals(Protocol::Sctp).is_empty());
    }
}
