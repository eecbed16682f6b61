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
//! packet classifiers (Lakshman and Stiliadis, SIGCOMM 1998).

use ahash::AHashMap as HashMap;

use super::bitset::{Bitset, BitsetTable};
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
}

/// Up to this many words per row, a scan reads every word of its range; beyond, only the
/// class mask's non-zero words.
const DENSE_WORDS: usize = 8;

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

    fn heap_bytes(&self) -> usize {
        self.rows.heap_bytes()
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
    /// flow of the family `v6` says.
    fn holds(
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
    /// The atoms the rule's peers hold; `None` = every peer.
    pub(super) peers: Option<Bitset>,
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
    /// Rules whose match decides; empty when every rule's does.
    actionable: Bitset,
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
    /// Per mask: its non-zero words, from `nonzero[mask_words[m]]` to
    /// `nonzero[mask_words[m + 1]]`.
    nonzero: Vec<u32>,
    mask_words: Vec<u32>,
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
        let mut per_atom: Vec<Bitset> = (0..atoms).map(|_| Bitset::new(n)).collect();
        for (r, facts) in rules.iter().enumerate() {
            match &facts.peers {
                None => per_atom.iter_mut().for_each(|row| row.insert(r)),
                Some(set) => {
                    for a in set.iter() {
                        if let Some(row) = per_atom.get_mut(a) {
                            row.insert(r);
                        }
                    }
                }
            }
        }
        let mut row_ids: HashMap<Bitset, u32> = HashMap::new();
        let mut rows: Vec<Bitset> = Vec::new();
        let atom_rows: Vec<u32> = per_atom
            .into_iter()
            .map(|row| {
                *row_ids.entry(row).or_insert_with_key(|row| {
                    rows.push(row.clone());
                    to_u32(rows.len() - 1)
                })
            })
            .collect();
        drop(row_ids);
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

        let mut nonzero = Vec::new();
        let mut mask_words = Vec::with_capacity(masks.len() + 1);
        for m in &masks {
            mask_words.push(to_u32(nonzero.len()));
            for (w, word) in m.words().iter().enumerate() {
                if *word != 0 {
                    nonzero.push(to_u32(w));
                }
            }
        }
        mask_words.push(to_u32(nonzero.len()));

        RuleIndex {
            actions: rules.iter().map(|f| f.action).collect(),
            atom_rows,
            peer_rows: BitsetTable::new(rows, n),
            families,
            actionable,
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
            masks: BitsetTable::new(masks, n),
            nonzero,
            mask_words,
        }
    }

    /// The first rule of class mask `mask` in `lo..hi` that matches the flow.
    #[inline]
    pub(super) fn first_match(
        &self,
        mask: u32,
        lo: u32,
        hi: u32,
        query: &mut impl Query,
    ) -> Option<u32> {
        if lo >= hi {
            return None;
        }
        let domain = query.has_domain();
        let peer = self.peer_row_id(query);
        if peer.is_none_or(|p| Some(p) == self.empty_row) && !domain {
            return None;
        }
        let row = peer.map_or(&[][..], |p| self.peer_rows.row(p));
        let mask_row = self.masks.row(mask);
        let ports = self.ports.get(query.protocol().index())?;
        let port_row = ports.rows.row(ports.row(query.port()));
        let named_rules = self.named_rules.words();
        let mut named: Option<&[u64]> = None;
        let family_row = self
            .families
            .get(usize::from(query.v6()))
            .map(Bitset::words)
            .filter(|f| !f.is_empty());
        let actionable = Some(self.actionable.words()).filter(|a| !a.is_empty());
        let first = (lo / 64) as usize;
        let last = ((hi - 1) / 64) as usize;
        let lo_mask = !0u64 << (lo % 64);
        let hi_mask = !0u64 >> (63 - (hi - 1) % 64);
        let scan = |wi: usize| -> Option<u32> {
            let mask_w = mask_row.get(wi).copied().unwrap_or(0);
            if mask_w == 0 {
                return None;
            }
            let mut ports_w = port_row.get(wi).copied().unwrap_or(0);
            if mask_w & named_rules.get(wi).copied().unwrap_or(0) != 0 {
                let named = *named.get_or_insert_with(|| {
                    query
                        .named_row()
                        .map_or(&[][..], |r| self.named_rows.row(r))
                });
                ports_w |= named.get(wi).copied().unwrap_or(0);
            }
            let mut m = mask_w & ports_w;
            if let Some(act) = actionable {
                m &= act.get(wi).copied().unwrap_or(0);
            }
            if let Some(fam) = family_row {
                m &= fam.get(wi).copied().unwrap_or(0);
            }
            if wi == first {
                m &= lo_mask;
            }
            if wi == last {
                m &= hi_mask;
            }
            if m == 0 {
                return None;
            }
            let known = row.get(wi).copied().unwrap_or(0);
            let domains = if domain {
                self.domain_rules.words().get(wi).copied().unwrap_or(0)
            } else {
                0
            };
            m &= known | domains;
            let base = to_u32(wi * 64);
            while m != 0 {
                let bit = m.trailing_zeros();
                let rule = base + bit;
                m &= m - 1;
                let peer_hit = (known >> bit) & 1 == 1
                    || (domain
                        && self
                            .domain_lists
                            .get(rule as usize)
                            .is_some_and(|lists| query.domain_ok(lists)));
                if peer_hit && (!self.checked.contains(rule as usize) || self.check(rule, query)) {
                    return Some(rule);
                }
            }
            None
        };
        if self.masks.stride() <= DENSE_WORDS {
            (first..=last).find_map(scan)
        } else {
            let m = mask as usize;
            let from = *self.mask_words.get(m)? as usize;
            let to = *self.mask_words.get(m + 1)? as usize;
            let words = self.nonzero.get(from..to)?;
            let start = words.partition_point(|w| (*w as usize) < first);
            words
                .get(start..)?
                .iter()
                .map(|w| *w as usize)
                .take_while(|w| *w <= last)
                .find_map(scan)
        }
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
    /// names; equal rows are stored once.
    pub(super) fn set_named_rows(&mut self, sets: &[Vec<(u32, Protocol)>]) -> Vec<Option<u32>> {
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
            .collect();
        self.named_rows = BitsetTable::new(rows, n);
        out
    }

    /// The peer row of the other side.
    #[inline]
    fn peer_row_id(&self, query: &mut impl Query) -> Option<u32> {
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
            + (self.nonzero.capacity() + self.mask_words.capacity()) * 4
            + self.ports.iter().map(PortIndex::heap_bytes).sum::<usize>()
            + self
                .families
                .iter()
                .map(|f| f.words().len() * 8)
                .sum::<usize>()
            + self.domain_lists.capacity() * std::mem::size_of::<Vec<u32>>()
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

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
