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

use ahash::AHashMap as HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cidr::PrefixMap;
use crate::policy::CidrBlock;

/// The value of the prefix at position `i` of the sorted list: `i + 1`.
///
/// Values are `u32` like every position in the engine's tables (see `compile::to_u32`):
/// 2^32 distinct CIDRs would take over 70 GiB in the sorted list alone, so a real policy
/// set stays far below; past it the value saturates rather than wrapping around.
fn value_of(i: usize) -> u32 {
    u32::try_from(i).map_or(u32::MAX, |i| i.saturating_add(1))
}

#[derive(Debug, Clone)]
pub(crate) struct BlockIndex {
    /// Prefix → value (pre-order number + 1).
    map: PrefixMap<u32>,
    /// Per block: sorted, disjoint, half-open intervals of values it contains.
    intervals: Vec<Vec<(u32, u32)>>,
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
        let position: HashMap<IpNet, u32> = prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, value_of(i)))
            .collect();
        let run = |net: &IpNet| -> Option<(u32, u32)> {
            let start = *position.get(net)?;
            let stop = *end.get(start as usize - 1)?;
            Some((start, stop))
        };

        let intervals = blocks
            .iter()
            .map(|b| {
                let Some((lo, hi)) = run(&b.cidr()) else {
                    return Vec::new();
                };
                let mut holes: Vec<(u32, u32)> = b
                    .except()
                    .iter()
                    .filter_map(&run)
                    .map(|(s, t)| (s.max(lo), t.min(hi)))
                    .filter(|(s, t)| s < t)
                    .collect();
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
                out
            })
            .collect();

        BlockIndex {
            map: prefixes
                .into_iter()
                .enumerate()
                .map(|(i, p)| (p, value_of(i)))
                .collect(),
            intervals,
            values: n + 1,
        }
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
            + self
                .intervals
                .iter()
                .map(|v| v.capacity() * 8 + 24)
                .sum::<usize>()
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
