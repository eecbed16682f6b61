//! A fixed-size bitset over pod ids.

use std::sync::Arc;

use crate::persist::PVec;

/// Bits `0..len`, stored in 64-bit words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub(crate) fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The set of these words (bit `i` is bit `i % 64` of word `i / 64`).
    pub(crate) fn from_words(words: Vec<u64>) -> Self {
        Bitset { words }
    }

    pub(crate) fn insert(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i >> 6) {
            *w |= 1u64 << (i & 63);
        }
    }

    /// Bits `0..len`, all set.
    pub(crate) fn full(len: usize) -> Self {
        let mut set = Bitset::new(len);
        set.insert_range(0, len);
        set
    }

    pub(crate) fn intersect_with(&mut self, other: &Bitset) {
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    pub(crate) fn subtract(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !*b;
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i >> 6) {
            *w &= !(1u64 << (i & 63));
        }
    }

    /// Sets bits `lo..hi`.
    pub(crate) fn insert_range(&mut self, lo: usize, hi: usize) {
        let mut i = lo;
        while i < hi {
            if i % 64 == 0 && hi - i >= 64 {
                if let Some(w) = self.words.get_mut(i >> 6) {
                    *w = u64::MAX;
                }
                i += 64;
            } else {
                self.insert(i);
                i += 1;
            }
        }
    }

    #[inline]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words
            .get(i >> 6)
            .is_some_and(|w| (w >> (i & 63)) & 1 == 1)
    }

    pub(crate) fn union_with(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
        }
    }

    /// The words.
    #[inline]
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// The set bits, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
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
}

/// Equal-length bitsets stored one after the other in one vector, so that a membership
/// test is one load: set `s`, bit `i` is bit `i & 63` of word `s * words + i / 64`.
///
/// The built sets are one shared slice; sets pushed later (by incremental updates, see
/// [`live`](super::live)) are kept apart, one shared slice each, so that a clone is
/// cheap and pushing copies no built set. Reading a pushed set costs one branch more.
#[derive(Debug, Clone)]
pub(crate) struct BitsetTable {
    words: Arc<[u64]>,
    /// Words per set.
    stride: usize,
    /// Sets pushed after the build, `stride` words each.
    tail: PVec<Arc<[u64]>>,
}

impl Default for BitsetTable {
    fn default() -> Self {
        BitsetTable {
            words: Arc::from(Vec::new()),
            stride: 0,
            tail: PVec::default(),
        }
    }
}

impl BitsetTable {
    /// The table of `sets`, each of `len` bits.
    pub(crate) fn new(sets: Vec<Bitset>, len: usize) -> Self {
        let stride = len.div_ceil(64);
        let mut words = Vec::with_capacity(sets.len() * stride);
        for s in sets {
            let mut w = s.words;
            w.resize(stride, 0);
            words.extend(w);
        }
        BitsetTable {
            words: Arc::from(words),
            stride,
            tail: PVec::default(),
        }
    }

    #[inline]
    pub(crate) fn contains(&self, set: u32, i: usize) -> bool {
        match (set as usize)
            .checked_mul(self.stride)
            .and_then(|at| self.words.get(at + (i >> 6)))
        {
            Some(w) => (w >> (i & 63)) & 1 == 1,
            None => self.pushed_contains(set, i),
        }
    }

    #[cold]
    #[inline(never)]
    fn pushed_contains(&self, set: u32, i: usize) -> bool {
        (set as usize)
            .checked_sub(self.built())
            .and_then(|k| self.tail.get(k))
            .and_then(|words| words.get(i >> 6))
            .is_some_and(|w| (w >> (i & 63)) & 1 == 1)
    }

    /// How many sets the build made.
    fn built(&self) -> usize {
        self.words.len().checked_div(self.stride).unwrap_or(0)
    }

    /// Words per set.
    #[inline]
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// The words of set `set` (empty when out of range).
    #[inline]
    pub(crate) fn row(&self, set: u32) -> &[u64] {
        match (set as usize)
            .checked_mul(self.stride)
            .and_then(|at| self.words.get(at..at + self.stride))
        {
            Some(row) => row,
            None => (set as usize)
                .checked_sub(self.built())
                .and_then(|k| self.tail.get(k))
                .map_or(&[], |w| &w[..]),
        }
    }

    /// Whether the table holds set `set`.
    pub(crate) fn has(&self, set: u32) -> bool {
        (set as usize) < self.built() + self.tail.len()
    }

    /// Appends `set` (of the table's length in bits) and returns its id; copies no
    /// built set.
    pub(crate) fn push(&mut self, set: Bitset) -> u32 {
        let id = u32::try_from(self.built() + self.tail.len()).unwrap_or(u32::MAX);
        let mut w = set.words;
        w.resize(self.stride, 0);
        self.tail.push(Arc::from(w));
        id
    }

    /// How many sets the table holds.
    pub(crate) fn len(&self) -> usize {
        self.built() + self.tail.len()
    }

    /// A copy of the table with sets of `len` bits (bits past `len` dropped), where
    /// `edit` may change each set (given its id) first. Copies every set: `O(sets × len /
    /// 64)`.
    pub(crate) fn resized(&self, len: usize, mut edit: impl FnMut(u32, &mut Bitset)) -> Self {
        let stride = len.div_ceil(64);
        let mut sets = Vec::with_capacity(self.len());
        for s in 0..self.len() {
            let id = u32::try_from(s).unwrap_or(u32::MAX);
            let mut words = self.row(id).to_vec();
            words.resize(stride, 0);
            let mut set = Bitset { words };
            edit(id, &mut set);
            if len % 64 != 0 {
                if let Some(last) = set.words.last_mut() {
                    *last &= (1u64 << (len % 64)) - 1;
                }
            }
            sets.push(set);
        }
        BitsetTable::new(sets, len)
    }

    /// Heap bytes of the sets pushed since the build.
    pub(crate) fn pushed_bytes(&self) -> usize {
        self.tail.len() * (self.stride * 8 + 16)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.len() * 8 + self.pushed_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(len: usize, bits: &[usize]) -> Bitset {
        let mut s = Bitset::new(len);
        for b in bits {
            s.insert(*b);
        }
        s
    }

    /// Sets pushed after the build read like built ones, and the value pushed from is
    /// untouched.
    #[test]
    fn pushed_sets_read_like_built_ones() {
        let built = BitsetTable::new(vec![set(130, &[0, 129]), set(130, &[64])], 130);
        let mut grown = built.clone();
        assert_eq!(grown.push(set(130, &[1, 128])), 2);
        assert_eq!(grown.push(Bitset::new(130)), 3);
        for i in 0..130 {
            assert_eq!(grown.contains(0, i), i == 0 || i == 129);
            assert_eq!(grown.contains(1, i), i == 64);
            assert_eq!(grown.contains(2, i), i == 1 || i == 128);
            assert!(!grown.contains(3, i));
            assert!(!grown.contains(4, i));
            assert!(!built.contains(2, i));
        }
        assert!(grown.has(3) && !grown.has(4) && !built.has(2));
        assert_eq!(grown.row(2), &[2, 0, 1]);
        assert_eq!(grown.row(9), &[] as &[u64]);
    }
}
