//! The compiled lookup structure behind [`PrefixMap`](super::PrefixMap): a
//! poptrie-style multibit trie.
//!
//! Layout:
//!
//! * a direct-indexed top level of `2^t` slots (`t` between 4 and 18 bits,
//!   chosen from the number of prefixes), each slot either a leaf (a value
//!   code) or the index of a subtree root node;
//! * below it, nodes with a stride of 6 bits. Each node has two 64-bit
//!   bitmaps: `vector` marks the positions that continue in a child node,
//!   `leafvec` marks where a run of equal leaves starts. Children of a node
//!   are contiguous in `nodes` (starting at `base1`), leaves of a node are
//!   contiguous in `leaves` (starting at `base0`), so a child or leaf is found
//!   by a population count of the bitmap below the position.
//!
//! Prefixes are expanded and pushed to the leaves when a subtree is built
//! (each leaf holds the longest prefix covering it), so a lookup reads one
//! top slot, walks down the nodes and reads a single leaf.
//!
//! A value code is `index + 1` into the owning map's value vector; `0` means
//! "no prefix matches".
//!
//! Updates rebuild only the subtrees under the top-level slots a new prefix
//! touches; the old subtree becomes garbage in the arrays, and the whole
//! structure is rebuilt when the garbage reaches a third of the arrays or when the
//! preferred top-level width changes, which keeps updates amortised cheap.

use super::bits::Bits;
use core::marker::PhantomData;
use smallvec::SmallVec;

/// Marks a top-level slot that points at a node rather than holding a leaf.
const NODE_BIT: u32 = 1 << 31;
/// Bits consumed per node.
const STRIDE: u32 = 6;

/// `(network address, prefix length, value code)`, sorted by address then
/// length wherever a slice of them is passed around.
pub(crate) type Entry<K> = (K, u8, u32);

/// A child position of a node and the entries below it.
type Run<'a, K> = (usize, &'a [Entry<K>]);

#[derive(Clone, Copy, Default, Debug)]
struct Node {
    vector: u64,
    leafvec: u64,
    base0: u32,
    base1: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Trie<K> {
    /// Width of the top level in bits; 0 when empty (then `top` is empty).
    t: u32,
    top: Vec<u32>,
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    garbage_nodes: usize,
    garbage_leaves: usize,
    _key: PhantomData<K>,
}

impl<K: Bits> Default for Trie<K> {
    fn default() -> Self {
        Self {
            t: 0,
            top: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::new(),
            garbage_nodes: 0,
            garbage_leaves: 0,
            _key: PhantomData,
        }
    }
}

/// The top-level width preferred for `n` prefixes: about 2–4 slots per
/// prefix, between 4 and 18 bits. At 18 bits a top slot is a /18 (IPv4) and
/// its first node ends exactly at /24, the most common IPv4 length.
fn choose_t(n: usize) -> u32 {
    if n == 0 {
        0
    } else {
        (usize::BITS - n.leading_zeros() + 1).clamp(4, 18)
    }
}

impl<K: Bits> Trie<K> {
    /// Width of the top level in bits.
    pub(crate) fn top_bits(&self) -> u32 {
        self.t
    }

    /// Heap bytes held by the compiled structure (capacity, not length).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.top.capacity() * 4
            + self.nodes.capacity() * core::mem::size_of::<Node>()
            + self.leaves.capacity() * 4
    }

    /// The value code of the longest prefix containing `key`, 0 if none.
    #[inline]
    pub(crate) fn lookup(&self, key: K) -> u32 {
        let Some(&slot) = self.top.get(key.top(self.t)) else {
            return 0;
        };
        if slot & NODE_BIT == 0 {
            return slot;
        }
        let mut index = (slot & !NODE_BIT) as usize;
        let mut off = self.t;
        while let Some(node) = self.nodes.get(index) {
            let pos = key.chunk(off);
            let bit = 1u64 << pos;
            if node.vector & bit != 0 {
                index = node.base1 as usize + (node.vector & (bit - 1)).count_ones() as usize;
                off += STRIDE;
            } else {
                let below = (node.leafvec & (u64::MAX >> (63 - pos))).count_ones() as usize;
                return self
                    .leaves
                    .get((node.base0 as usize + below).wrapping_sub(1))
                    .copied()
                    .unwrap_or(0);
            }
        }
        0
    }

    /// Whether a full rebuild is due for a structure that will hold `n`
    /// prefixes: the preferred top width changed or garbage piled up.
    pub(crate) fn wants_rebuild(&self, n: usize) -> bool {
        choose_t(n) != self.t
            || (self.garbage_nodes > 64 && self.garbage_nodes * 3 > self.nodes.len())
            || (self.garbage_leaves > 256 && self.garbage_leaves * 3 > self.leaves.len())
    }

    /// Rebuild everything from `entries` (sorted by address, then length).
    pub(crate) fn rebuild(&mut self, entries: &[Entry<K>]) {
        let t = choose_t(entries.len());
        self.t = t;
        self.nodes = Vec::new();
        self.leaves = Vec::new();
        self.garbage_nodes = 0;
        self.garbage_leaves = 0;
        if t == 0 {
            self.top = Vec::new();
            return;
        }
        let mut top = vec![0u32; 1usize << t];
        let mut shorts: Vec<&Entry<K>> = entries.iter().filter(|e| u32::from(e.1) <= t).collect();
        shorts.sort_by_key(|e| e.1);
        for e in shorts {
            let span = 1usize << (t - u32::from(e.1));
            for s in top.iter_mut().skip(e.0.top(t)).take(span) {
                *s = e.2;
            }
        }
        let mut rest = entries;
        while let Some(first) = rest.first() {
            let slot = first.0.top(t);
            let k = rest
                .iter()
                .position(|e| e.0.top(t) != slot)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at_checked(k).unwrap_or((rest, &[]));
            rest = tail;
            if let Some(s) = top.get(slot).copied() {
                let new = self.subtree(run, s);
                if let Some(dst) = top.get_mut(slot) {
                    *dst = new;
                }
            }
        }
        self.top = top;
        self.nodes.shrink_to_fit();
        self.leaves.shrink_to_fit();
    }

    /// Replace top-level slot `slot` given every entry inside the slot's
    /// range (sorted) and the code of the longest prefix of at most `t` bits
    /// covering the slot.
    pub(crate) fn update_slot(&mut self, slot: usize, entries: &[Entry<K>], default: u32) {
        if let Some(&old) = self.top.get(slot) {
            if old & NODE_BIT != 0 {
                let (n, l) = self.subtree_size((old & !NODE_BIT) as usize);
                self.garbage_nodes += n;
                self.garbage_leaves += l;
            }
        }
        let new = self.subtree(entries, default);
        if let Some(dst) = self.top.get_mut(slot) {
            *dst = new;
        }
    }

    /// Build the subtree for one top-level slot; returns the slot value.
    fn subtree(&mut self, entries: &[Entry<K>], default: u32) -> u32 {
        let t = self.t;
        if !entries.iter().any(|e| u32::from(e.1) > t) {
            return default;
        }
        let index = self.nodes.len();
        self.nodes.push(Node::default());
        let node = self.build_node(entries, t, default);
        if let Some(dst) = self.nodes.get_mut(index) {
            *dst = node;
        }
        NODE_BIT | index as u32
    }

    /// Build a node for the region of `entries` at bit offset `off`.
    /// Entries no longer than `off` are ignored (they were pushed into
    /// `default` already).
    fn build_node(&mut self, entries: &[Entry<K>], off: u32, default: u32) -> Node {
        let end = off + STRIDE;
        let mut vals = [default; 64];
        let mut shorts: SmallVec<[(u8, usize, u32); 16]> = entries
            .iter()
            .filter(|e| u32::from(e.1) > off && u32::from(e.1) <= end)
            .map(|e| (e.1, e.0.chunk(off), e.2))
            .collect();
        shorts.sort_by_key(|s| s.0);
        for (len, start, code) in shorts {
            let span = 1usize << (end - u32::from(len));
            for v in vals.iter_mut().skip(start).take(span) {
                *v = code;
            }
        }

        let mut vector = 0u64;
        let mut runs: SmallVec<[Run<'_, K>; 8]> = SmallVec::new();
        let mut rest = entries;
        while let Some(first) = rest.first() {
            let c = first.0.chunk(off);
            let k = rest
                .iter()
                .position(|e| e.0.chunk(off) != c)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at_checked(k).unwrap_or((rest, &[]));
            rest = tail;
            if run.iter().any(|e| u32::from(e.1) > end) {
                vector |= 1u64 << c;
                runs.push((c, run));
            }
        }

        let base0 = self.leaves.len() as u32;
        let mut leafvec = 0u64;
        let mut last = None;
        for (c, &v) in vals.iter().enumerate() {
            if vector & (1u64 << c) != 0 {
                continue;
            }
            if last != Some(v) {
                leafvec |= 1u64 << c;
                self.leaves.push(v);
                last = Some(v);
            }
        }

        let base1 = self.nodes.len();
        self.nodes.resize(base1 + runs.len(), Node::default());
        for (j, (c, run)) in runs.into_iter().enumerate() {
            let d = vals.get(c).copied().unwrap_or(default);
            let child = self.build_node(run, end, d);
            if let Some(dst) = self.nodes.get_mut(base1 + j) {
                *dst = child;
            }
        }
        Node {
            vector,
            leafvec,
            base0,
            base1: base1 as u32,
        }
    }

    /// Nodes and leaves used by the subtree rooted at `index`.
    fn subtree_size(&self, index: usize) -> (usize, usize) {
        let Some(node) = self.nodes.get(index) else {
            return (0, 0);
        };
        let mut n = 1;
        let mut l = node.leafvec.count_ones() as usize;
        for j in 0..node.vector.count_ones() as usize {
            let (cn, cl) = self.subtree_size(node.base1 as usize + j);
            n += cn;
            l += cl;
        }
        (n, l)
    }
}
