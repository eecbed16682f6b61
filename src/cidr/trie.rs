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
//!   by a population count of the bitmap below the position;
//! * path compression: where every prefix below a point lies under one path
//!   that runs at least a stride deeper, or only one prefix is left, a *skip
//!   node* replaces the chain of single-child nodes. It holds the path as a
//!   128-bit word (the path bits left-aligned, then a terminating 1 bit, so
//!   the word also gives the path's end), the code for keys that leave the
//!   path, and what follows the path: another node at the path's end (any
//!   bit offset, not only multiples of the stride) or directly a leaf code.
//!   A lone prefix below a top-level slot or a 6-bit node thus costs one
//!   node and no leaves, and a /48 in a sparse IPv6 table is reached in two
//!   or three node reads instead of five or six.
//!
//! Prefixes are expanded and pushed to the leaves when a subtree is built
//! (each leaf holds the longest prefix covering it), so a lookup reads one
//! top slot, walks down the nodes and reads a single leaf (or takes the code
//! from a skip node).
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
/// Marks a skip node (in `base0`, which then holds the code for a key off
/// the node's path).
const SKIP_BIT: u32 = 1 << 31;
/// Bits consumed per node.
const STRIDE: u32 = 6;
/// The largest value code the trie holds: codes, node positions and leaf
/// positions share their word with [`NODE_BIT`] / [`SKIP_BIT`], so each must
/// fit in 31 bits. A structure that would need more is not built (see
/// [`Trie::overflowed`]).
pub(crate) const MAX_CODE: u32 = NODE_BIT - 1;

/// `(network address, prefix length, value code)`, sorted by address then
/// length wherever a slice of them is passed around.
pub(crate) type Entry<K> = (K, u8, u32);

/// A child position of a node and the entries below it.
type Run<'a, K> = (usize, &'a [Entry<K>]);

/// A 6-bit node, or a skip node when `base0` has `SKIP_BIT`: then
/// `vector`/`leafvec` are the high/low halves of the path word
/// ([`Bits::skip_word`]), `base0` (without the flag) is the code for keys off
/// the path and `base1` is a slot value (leaf code, or `NODE_BIT` and a node
/// index) for keys on it.
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
    t: u8,
    top: Vec<u32>,
    nodes: Vec<Node>,
    leaves: Vec<u32>,
    garbage_nodes: usize,
    garbage_leaves: usize,
    /// A code, node position or leaf position did not fit in 31 bits: the
    /// structure is left empty (every lookup answers 0) and the owning map
    /// answers from its sorted prefixes instead.
    overflow: bool,
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
            overflow: false,
            _key: PhantomData,
        }
    }
}

/// The top-level width preferred for `n` prefixes: about 2–4 slots per
/// prefix, between 4 and 18 bits. At 18 bits a top slot is a /18 (IPv4) and
/// its first node ends exactly at /24, the most common IPv4 length.
fn choose_t(n: usize) -> u8 {
    if n == 0 {
        0
    } else {
        // Clamped to 4..=18, so the fallback is never taken.
        u8::try_from((usize::BITS - n.leading_zeros() + 1).clamp(4, 18)).unwrap_or(18)
    }
}

impl<K: Bits> Trie<K> {
    /// Width of the top level in bits.
    pub(crate) fn top_bits(&self) -> u32 {
        u32::from(self.t)
    }

    /// Width of the top level in bits, as a prefix length.
    pub(crate) fn top_len(&self) -> u8 {
        self.t
    }

    /// Whether the last build needed a code, node or leaf position beyond 31
    /// bits: the structure is then empty and lookups must not rely on it.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Gives up the compiled structure because it cannot be addressed: every
    /// lookup answers 0 until the next [`rebuild`](Self::rebuild).
    pub(crate) fn set_overflow(&mut self) {
        self.overflow = true;
        self.top = Vec::new();
        self.nodes = Vec::new();
        self.leaves = Vec::new();
        self.garbage_nodes = 0;
        self.garbage_leaves = 0;
    }

    /// `n` as a 31-bit position; one that does not fit marks the structure
    /// overflowed (it is then dropped) and gives 0.
    fn position31(&mut self, n: usize) -> u32 {
        match u32::try_from(n) {
            Ok(v) if v <= MAX_CODE => v,
            _ => {
                self.overflow = true;
                0
            }
        }
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
        let t = u32::from(self.t);
        let Some(&first) = self.top.get(key.top(t)) else {
            return 0;
        };
        let mut slot = first;
        let mut off = t;
        while slot & NODE_BIT != 0 {
            let Some(node) = self.nodes.get((slot & !NODE_BIT) as usize) else {
                return 0;
            };
            if node.base0 & SKIP_BIT != 0 {
                let (matched, end) = key.skip_test(node.vector, node.leafvec);
                if !matched {
                    return node.base0 & !SKIP_BIT;
                }
                slot = node.base1;
                off = end;
                continue;
            }
            let pos = key.chunk(off);
            let bit = 1u64 << pos;
            if node.vector & bit != 0 {
                slot = NODE_BIT | (node.base1 + (node.vector & (bit - 1)).count_ones());
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
        slot
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
        self.t = choose_t(entries.len());
        let t = u32::from(self.t);
        self.nodes = Vec::new();
        self.leaves = Vec::new();
        self.garbage_nodes = 0;
        self.garbage_leaves = 0;
        self.overflow = false;
        if entries.iter().any(|e| e.2 > MAX_CODE) {
            self.set_overflow();
            return;
        }
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
        if self.overflow {
            self.set_overflow();
        }
    }

    /// Replace top-level slot `slot` given every entry inside the slot's
    /// range (sorted) and the code of the longest prefix of at most `t` bits
    /// covering the slot.
    pub(crate) fn update_slot(&mut self, slot: usize, entries: &[Entry<K>], default: u32) {
        if self.overflow || default > MAX_CODE || entries.iter().any(|e| e.2 > MAX_CODE) {
            self.set_overflow();
            return;
        }
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
        if self.overflow {
            self.set_overflow();
        }
    }

    /// Build the subtree for one top-level slot; returns the slot value.
    fn subtree(&mut self, entries: &[Entry<K>], default: u32) -> u32 {
        self.sub(entries, u32::from(self.t), default)
    }

    /// Build the part of the trie for the region of `entries` at bit offset
    /// `off` and return what points at it: `default` when no entry is longer
    /// than `off`, else `NODE_BIT` and the index of a new node.
    fn sub(&mut self, entries: &[Entry<K>], off: u32, default: u32) -> u32 {
        if !entries.iter().any(|e| u32::from(e.1) > off) {
            return default;
        }
        let index = self.nodes.len();
        self.nodes.push(Node::default());
        let node = self.node_for(entries, off, default);
        if let Some(dst) = self.nodes.get_mut(index) {
            *dst = node;
        }
        NODE_BIT | self.position31(index)
    }

    /// The node for the region of `entries` at bit offset `off`. Entries no
    /// longer than `off` are ignored (they were pushed into `default`
    /// already).
    ///
    /// When every longer entry lies under one path that runs at least a
    /// stride below `off`, or the region holds a single entry, this is a skip
    /// node: it compares the path and either continues below it or answers
    /// `default`. Otherwise it is a 6-bit node.
    fn node_for(&mut self, entries: &[Entry<K>], off: u32, default: u32) -> Node {
        let mut live = entries.iter().filter(|e| u32::from(e.1) > off);
        let (Some(first), last) = (live.next(), live.next_back()) else {
            return self.leaf_node(default);
        };
        let last = last.unwrap_or(first);
        let min_len = entries
            .iter()
            .filter(|e| u32::from(e.1) > off)
            .map(|e| u32::from(e.1))
            .min()
            .unwrap_or(0);
        let common =
            (first.0.widen() ^ last.0.widen()).leading_zeros() - (128 - u32::from(K::WIDTH));
        let end = common.min(min_len).min(K::MAX_SKIP_END);
        let single = first.0 == last.0 && first.1 == last.1;
        if end > off && (end - off >= STRIDE || (single && end == min_len)) {
            let inner = entries
                .iter()
                .find(|e| u32::from(e.1) == end && u32::from(e.1) > off)
                .map_or(default, |e| e.2);
            let target = self.sub(entries, end, inner);
            let (vector, leafvec) = K::skip_word(first.0, end);
            return Node {
                vector,
                leafvec,
                base0: SKIP_BIT | default,
                base1: target,
            };
        }
        self.build_node(entries, off, default)
    }

    /// A 6-bit node whose every position is the leaf `code`.
    fn leaf_node(&mut self, code: u32) -> Node {
        let base0 = self.position31(self.leaves.len());
        self.leaves.push(code);
        Node {
            vector: 0,
            leafvec: 1,
            base0,
            base1: 0,
        }
    }

    /// Build a 6-bit node for the region of `entries` at bit offset `off`.
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

        let base0 = self.position31(self.leaves.len());
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
        // Every child's position, not only the first, must fit.
        self.position31(self.nodes.len());
        for (j, (c, run)) in runs.into_iter().enumerate() {
            let d = vals.get(c).copied().unwrap_or(default);
            let child = self.node_for(run, end, d);
            if let Some(dst) = self.nodes.get_mut(base1 + j) {
                *dst = child;
            }
        }
        Node {
            vector,
            leafvec,
            base0,
            base1: self.position31(base1),
        }
    }

    /// Nodes and leaves used by the subtree rooted at `index`.
    fn subtree_size(&self, index: usize) -> (usize, usize) {
        let Some(node) = self.nodes.get(index) else {
            return (0, 0);
        };
        if node.base0 & SKIP_BIT != 0 {
            if node.base1 & NODE_BIT == 0 {
                return (1, 0);
            }
            let (n, l) = self.subtree_size((node.base1 & !NODE_BIT) as usize);
            return (n + 1, l);
        }
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
