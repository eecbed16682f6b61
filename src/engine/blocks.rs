//! Lowering ipBlocks into one longest-prefix-match map.
//!
//! Every `cidr` and `except` network becomes a prefix. The value of a prefix `P` is the set
//! of blocks that contain every address whose longest matching prefix is `P`: the blocks
//! whose `cidr` contains `P` and none of whose `except` entries contains `P`. One lookup
//! then answers "which ipBlocks contain this address" for every rule at once.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::cidr::PrefixMap;
use crate::policy::CidrBlock;

/// Interned sets of block ids; set 0 is the empty set.
#[derive(Debug, Clone)]
pub(crate) struct BlockIndex {
    /// Sorted block ids per set.
    pub(crate) sets: Vec<Vec<u32>>,
    /// Prefix → set id.
    pub(crate) map: PrefixMap<u32>,
}

impl BlockIndex {
    pub(crate) fn build(blocks: &[CidrBlock]) -> Self {
        // Marks per prefix: blocks whose cidr it is, blocks it is an except of.
        let mut marks: HashMap<IpNet, (Vec<u32>, Vec<u32>)> = HashMap::new();
        for (id, block) in blocks.iter().enumerate() {
            let id = id as u32;
            marks.entry(block.cidr).or_default().0.push(id);
            for e in &block.except {
                marks.entry(*e).or_default().1.push(id);
            }
        }
        let mut prefixes: Vec<IpNet> = marks.keys().copied().collect();
        // Pre-order of the containment tree: by family, then network address, then length.
        prefixes.sort_by_key(|n| (n.addr().is_ipv6(), key(n.network()), n.prefix_len()));

        let mut interner: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut sets: Vec<Vec<u32>> = vec![Vec::new()];
        interner.insert(Vec::new(), 0);
        let mut entries: Vec<(IpNet, u32)> = Vec::with_capacity(prefixes.len());
        // Stack of open ancestors with their set ids.
        let mut stack: Vec<(IpNet, u32)> = Vec::new();
        for p in prefixes {
            while stack.last().is_some_and(|(top, _)| !top.contains(&p)) {
                stack.pop();
            }
            let parent_set = stack.last().map_or(0, |(_, s)| *s);
            let mut set = sets.get(parent_set as usize).cloned().unwrap_or_default();
            if let Some((adds, removes)) = marks.get(&p) {
                set.extend(adds.iter().copied());
                set.sort_unstable();
                set.dedup();
                set.retain(|b| !removes.contains(b));
            }
            let id = match interner.get(&set) {
                Some(id) => *id,
                None => {
                    let id = sets.len() as u32;
                    interner.insert(set.clone(), id);
                    sets.push(set);
                    id
                }
            };
            entries.push((p, id));
            stack.push((p, id));
        }
        BlockIndex {
            sets,
            map: entries.into_iter().collect(),
        }
    }

    /// The set id for an address (0 = no block contains it).
    #[inline]
    pub(crate) fn lookup(&self, addr: IpAddr) -> u32 {
        self.map.lookup(addr).copied().unwrap_or(0)
    }

    #[inline]
    pub(crate) fn set(&self, id: u32) -> &[u32] {
        self.sets.get(id as usize).map_or(&[], Vec::as_slice)
    }
}

fn key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}
