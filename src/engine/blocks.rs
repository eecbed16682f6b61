//! Lowering ipBlocks into one longest-prefix-match map.
//!
//! Every `cidr` and `except` network becomes a prefix, and the prefixes are numbered in
//! pre-order of their containment tree (by family, network address, then length), so
//! that the prefixes inside any prefix form one contiguous run of numbers. An address is
//! answered with one longest-prefix lookup, which gives the number of the longest prefix
//! containing it (its *value*; 0 when none does).
//!
//! A block contains the addresses whose value lies in its `cidr`'s run and outside the
//! runs of its `except` entries: for each block that is a short list of intervals of
//! values, computed in time linear in its size. Nothing is stored per (prefix, block)
//! pair, so ten thousand blocks over `0.0.0.0/0`, each with its own except, cost ten
//! thousand intervals rather than a hundred million set entries.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::cidr::PrefixMap;
use crate::persist::GrowVec;
use crate::policy::CidrBlock;

/// The value of the prefix at position `i` of the sorted list: `i + 1`.
///
/// Values are `u32` like every position in the engine's tables (see `engine::to_u32`):
/// 2^32 distinct CIDRs would take over 70 GiB in the sorted list alone, so a real policy
/// set stays far below; past it the value saturates rather than wrapping around.
fn value_of(i: usize) -> u32 {
    u32::try_from(i).map_or(u32::MAX, |i| i.saturating_add(1))
}

/// The prefix map of every block's networks and each block's value intervals. Cheap to
/// clone: the map is shared, and blocks added after the build ([`push`](Self::push), for
/// incremental updates) are kept apart from the built ones.
#[derive(Debug, Clone)]
pub(crate) struct BlockIndex {
    /// Prefix → value (pre-order number + 1).
    map: Arc<PrefixMap<u32>>,
    /// Per value − 1: the end of its prefix's run (the values of the prefixes inside it
    /// are `value..end`).
    ends: Arc<[u32]>,
    /// Per block: sorted, disjoint, half-open intervals of values it contains.
    intervals: GrowVec<Vec<(u32, u32)>>,
    /// Number of values, including 0.
    values: usize,
}

impl BlockIndex {
    pub(crate) fn build(blocks: &[CidrBlock]) -> Self {
        let mut prefixes: Vec<IpNet> = blocks
            .iter()
            .flat_map(|b| std::iter::once(b.cidr()).chain(b.except().iter().copied()))
            .collect();
        prefixes.sort_by_key(|n| (n.addr().is_ipv6(), key(n.network()), n.prefix_len()));
        prefixes.dedup();

        // Values are 1-based positions; a prefix's subtree is [value, end).
        let n = prefixes.len();
        let mut end: Vec<u32> = vec![0; n];
        let mut stack: Vec<(IpNet, usize)> = Vec::new();
        for (i, p) in prefixes.iter().enumerate() {
            while let Some((top, at)) = stack.last().copied() {
                if top.contains(p) {
                    break;
                }
                if let Some(e) = end.get_mut(at) {
                    *e = value_of(i);
                }
                stack.pop();
            }
            stack.push((*p, i));
        }
        for (_, at) in stack {
            if let Some(e) = end.get_mut(at) {
                *e = value_of(n);
            }
        }
        let mut index = BlockIndex {
            map: Arc::new(
                prefixes
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (p, value_of(i)))
                    .collect(),
            ),
            ends: Arc::from(end),
            intervals: GrowVec::default(),
            values: n + 1,
        };
        let intervals: Vec<Vec<(u32, u32)>> = blocks
            .iter()
            .map(|b| index.intervals_of(b).unwrap_or_default())
            .collect();
        index.intervals = intervals.into();
        index
    }

    /// The run of values of prefix `net`, when the map holds it.
    fn run(&self, net: &IpNet) -> Option<(u32, u32)> {
        let start = *self.map.get(net)?;
        let stop = *self.ends.get(start as usize - 1)?;
        Some((start, stop))
    }

    /// The value intervals of `block`, `None` when the map lacks one of its networks (the
    /// values of addresses would then change: a new block of that kind needs a build).
    pub(crate) fn intervals_of(&self, block: &CidrBlock) -> Option<Vec<(u32, u32)>> {
        let (lo, hi) = self.run(&block.cidr())?;
        let mut holes: Vec<(u32, u32)> = Vec::with_capacity(block.except().len());
        for e in block.except() {
            let (s, t) = self.run(e)?;
            let (s, t) = (s.max(lo), t.min(hi));
            if s < t {
                holes.push((s, t));
            }
        }
        holes.sort_unstable();
        let mut out = Vec::with_capacity(holes.len() + 1);
        let mut cursor = lo;
        for (s, t) in holes {
            if s > cursor {
                out.push((cursor, s));
            }
            cursor = cursor.max(t);
        }
        if cursor < hi {
            out.push((cursor, hi));
        }
        Some(out)
    }

    /// Adds a block by its value intervals (from [`intervals_of`](Self::intervals_of));
    /// returns its id. Copies no built block.
    pub(crate) fn push(&mut self, intervals: Vec<(u32, u32)>) -> u32 {
        let id = u32::try_from(self.intervals.len()).unwrap_or(u32::MAX);
        self.intervals.push(intervals);
        id
    }

    /// Heap bytes of the blocks pushed since the build.
    pub(crate) fn pushed_bytes(&self) -> usize {
        self.intervals.pushed() * 40
    }

    /// The value of an address: the number of its longest matching prefix, 0 for none.
    #[inline]
    pub(crate) fn lookup(&self, addr: IpAddr) -> u32 {
        self.map.lookup(addr).copied().unwrap_or(0)
    }

    /// How many values there are, 0 included.
    pub(crate) fn values(&self) -> usize {
        self.values
    }

    /// The value intervals of a block.
    pub(crate) fn intervals(&self, block: u32) -> &[(u32, u32)] {
        self.intervals
            .get(block as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether the addresses of `value` lie in `block`.
    #[inline]
    pub(crate) fn contains(&self, block: u32, value: u32) -> bool {
        let iv = self.intervals(block);
        // The last interval starting at or before `value`.
        let i = iv.partition_point(|(s, _)| *s <= value);
        i > 0 && iv.get(i - 1).is_some_and(|(_, t)| value < *t)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.map.heap_bytes()
            + self.ends.len() * 4
            + self
                .intervals
                .iter()
                .map(|v| v.capacity() * 8 + 24)
                .sum::<usize>()
    }
}

/// A table over the values of a [`BlockIndex`], as its own longest-prefix map: only the
/// prefixes whose entry differs from that of the prefix they lie in are kept, so that a
/// table telling few prefixes apart is read without the whole map.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueTable {
    map: PrefixMap<u32>,
    /// The entry of value 0 (an address in no prefix).
    none: u32,
}

impl ValueTable {
    /// The entry of the value of `addr`; `u32::MAX` past the table's end.
    #[inline]
    pub(crate) fn get(&self, addr: IpAddr) -> u32 {
        self.map.lookup(addr).copied().unwrap_or(self.none)
    }

    /// The entry of value 0 (an address in no prefix, or no address).
    #[inline]
    pub(crate) fn none(&self) -> u32 {
        self.none
    }
}

impl BlockIndex {
    /// `entries` (one per value; values past its end read `u32::MAX`) as a
    /// [`ValueTable`]. The value of an address is its longest prefix's, and the prefixes
    /// holding an address form one chain: a prefix whose entry equals that of the prefix
    /// it lies in (or of value 0, for an outermost one) can be left out.
    pub(crate) fn table(&self, entries: &[u32]) -> ValueTable {
        let entry = |value: u32| entries.get(value as usize).copied().unwrap_or(u32::MAX);
        let none = entry(0);
        let mut kept: Vec<(IpNet, u32)> = Vec::new();
        // The prefixes holding the current one (the map iterates in pre-order).
        let mut stack: Vec<(IpNet, u32)> = Vec::new();
        for (net, value) in self.map.iter() {
            while stack.last().is_some_and(|(top, _)| !top.contains(&net)) {
                stack.pop();
            }
            let outer = stack.last().map_or(none, |(_, e)| *e);
            let e = entry(*value);
            if e != outer {
                kept.push((net, e));
            }
            stack.push((net, e));
        }
        ValueTable {
            map: kept.into_iter().collect(),
            none,
        }
    }
}

fn key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(cidr: &str, except: &[&str]) -> CidrBlock {
        CidrBlock::new(
            cidr.parse().unwrap(),
            except.iter().map(|e| e.parse().unwrap()).collect(),
        )
    }

    /// Every address of a small space, answered through the index, agrees with the
    /// blocks' own definition.
    #[test]
    fn index_agrees_with_block_definition() {
        let blocks = vec![
            block(
                "10.0.0.0/24",
                &["10.0.0.0/26", "10.0.0.16/28", "10.0.0.128/25"],
            ),
            block("10.0.0.0/26", &["10.0.0.8/29"]),
            block("0.0.0.0/0", &["10.0.0.64/26"]),
            block("10.0.0.200/32", &[]),
            block("10.0.0.0/25", &["10.0.0.0/25"]), // an except equal to its cidr
            block("fd00::/120", &["fd00::80/121"]),
        ];
        let index = BlockIndex::build(&blocks);
        let addrs = (0..=255u8)
            .map(|i| IpAddr::from([10, 0, 0, i]))
            .chain((0..=255u16).map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i])))
            .chain(["11.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
        for addr in addrs {
            let value = index.lookup(addr);
            for (b, blk) in blocks.iter().enumerate() {
                assert_eq!(
                    value != 0 && index.contains(b as u32, value),
                    blk.contains(addr),
                    "block {b} ({blk:?}) at {addr}"
                );
            }
        }
    }

    /// A block made of networks the map holds gets the intervals a build with it would
    /// give it; one with a network the map lacks gets none.
    #[test]
    fn blocks_added_later_match_a_build() {
        let built = vec![
            block("10.0.0.0/24", &["10.0.0.0/26", "10.0.0.128/25"]),
            block("0.0.0.0/0", &["10.0.0.64/26"]),
            block("fd00::/120", &["fd00::80/121"]),
        ];
        let later = [
            block("10.0.0.0/24", &["10.0.0.64/26"]),
            block("0.0.0.0/0", &["10.0.0.0/24", "10.0.0.0/26"]),
            block("10.0.0.128/25", &[]),
            block("fd00::80/121", &[]),
            block("10.0.0.0/26", &["10.0.0.0/24"]),
        ];
        let mut index = BlockIndex::build(&built);
        for (i, b) in later.iter().enumerate() {
            let mut all = built.clone();
            all.push(b.clone());
            let fresh = BlockIndex::build(&all);
            assert_eq!(fresh.values(), index.values());
            let got = index.intervals_of(b).expect("known networks");
            assert_eq!(got.as_slice(), fresh.intervals(built.len() as u32), "{b:?}");
            assert_eq!(index.push(got), (built.len() + i) as u32);
        }
        assert_eq!(
            index.intervals(3),
            index.intervals_of(&later[0]).unwrap().as_slice()
        );
        assert!(index.intervals_of(&block("10.0.0.0/25", &[])).is_none());
        assert!(
            index
                .intervals_of(&block("10.0.0.0/24", &["10.0.0.0/30"]))
                .is_none()
        );
    }

    /// A table over values answers every address as the table of its value does.
    #[test]
    fn value_table_agrees_with_lookup() {
        let blocks = vec![
            block("10.0.0.0/24", &["10.0.0.0/26", "10.0.0.128/25"]),
            block("10.0.0.0/26", &["10.0.0.8/29"]),
            block("0.0.0.0/0", &["10.0.0.64/26"]),
            block("fd00::/120", &["fd00::80/121"]),
        ];
        let index = BlockIndex::build(&blocks);
        let addrs: Vec<IpAddr> = (0..=255u8)
            .map(|i| IpAddr::from([10, 0, 0, i]))
            .chain((0..=255u16).map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i])))
            .chain(["11.0.0.1".parse().unwrap(), "::1".parse().unwrap()])
            .collect();
        let n = index.values() as u32;
        let tables: [Vec<u32>; 4] = [
            (0..n).map(|v| v % 2).collect(),
            (0..n).map(|v| u32::from(v > 2)).collect(),
            (0..n).map(|v| v / 3).collect(),
            (0..n - 1).map(|v| 7 * v).collect(), // the last value reads u32::MAX
        ];
        for entries in &tables {
            let table = index.table(entries);
            for addr in &addrs {
                let value = index.lookup(*addr) as usize;
                let want = entries.get(value).copied().unwrap_or(u32::MAX);
                assert_eq!(table.get(*addr), want, "{addr} (value {value})");
            }
        }
    }

    /// Many blocks over the same network, each with its own except, cost one interval
    /// list each rather than a set per prefix.
    #[test]
    fn many_overlapping_blocks_stay_small() {
        let blocks: Vec<CidrBlock> = (0..10_000u32)
            .map(|i| {
                let e = std::net::Ipv4Addr::from(0x0a00_0000 + i * 4);
                CidrBlock::new(
                    "0.0.0.0/0".parse().unwrap(),
                    vec![format!("{e}/30").parse().unwrap()],
                )
            })
            .collect();
        let index = BlockIndex::build(&blocks);
        assert_eq!(index.values(), 10_002);
        assert!(
            index.heap_bytes() < 16 << 20,
            "{} bytes",
            index.heap_bytes()
        );
        let inside = index.lookup("10.0.0.5".parse().unwrap());
        assert!(!index.contains(1, inside)); // 10.0.0.4/30 is block 1's hole
        assert!(index.contains(0, inside));
    }
}
