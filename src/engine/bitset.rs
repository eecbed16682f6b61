//! A fixed-size bitset over pod ids.

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
#[derive(Debug, Clone, Default)]
pub(crate) struct BitsetTable {
    words: Vec<u64>,
    /// Words per set.
    stride: usize,
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
        BitsetTable { words, stride }
    }

    #[inline]
    pub(crate) fn contains(&self, set: u32, i: usize) -> bool {
        (set as usize)
            .checked_mul(self.stride)
            .and_then(|at| self.words.get(at + (i >> 6)))
            .is_some_and(|w| (w >> (i & 63)) & 1 == 1)
    }

    /// Words per set.
    #[inline]
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// The words of set `set` (empty when out of range).
    #[inline]
    pub(crate) fn row(&self, set: u32) -> &[u64] {
        (set as usize)
            .checked_mul(self.stride)
            .and_then(|at| self.words.get(at..at + self.stride))
            .unwrap_or(&[])
    }

    /// Whether the table holds set `set`.
    pub(crate) fn has(&self, set: u32) -> bool {
        (set as usize) < self.words.len().checked_div(self.stride).unwrap_or(0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}
