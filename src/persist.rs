//! Persistent tables: cheap to clone, and a clone changed in one place copies only the
//! chunk or shard holding that place. They let a changed cluster or engine share every
//! untouched part with the value it was made from, so that readers of the old value are
//! never disturbed and a change costs what it touches.
//!
//! - [`PVec`]: a vector in chunks of [`CHUNK`] elements, each behind its own `Arc`. Cloning
//!   it copies one pointer per chunk; setting, pushing or popping one element copies that
//!   element's chunk (when shared) and nothing else.
//! - [`PMap`]: a hash map in 64 × 64 shards behind two levels of `Arc`. Cloning it copies
//!   64 pointers; inserting or removing a key copies one pointer table of 64 and the one
//!   shard holding the key (about `len / 4096` entries).
//! - [`GrowVec`]: a vector that a build fills once and later values only extend: the built
//!   part is one shared slice, read as fast as a `Vec`; what was pushed since lives in a
//!   [`PVec`]. For the compiled engine's tables, which incremental updates append to.
//! - [`GrowMap`]: the same for a hash map: the built part is one shared hash map, taken
//!   as a build filled it (no copy into shards), and what was inserted or removed since
//!   lives in a [`PMap`]. For the indexes a build makes and changes rarely touch.

use std::hash::Hash;
use std::sync::Arc;

use ahash::AHashMap as HashMap;

/// Elements per chunk of a [`PVec`].
pub(crate) const CHUNK: usize = 256;

/// A persistent vector; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct PVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for PVec<T> {
    fn default() -> Self {
        PVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> PVec<T> {
    pub(crate) fn new() -> Self {
        PVec::default()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// Replaces element `i`; false when out of range.
    pub(crate) fn set(&mut self, i: usize, value: T) -> bool {
        let Some(chunk) = self.chunks.get_mut(i / CHUNK) else {
            return false;
        };
        match Arc::make_mut(chunk).get_mut(i % CHUNK) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => Arc::make_mut(chunk).push(value),
            _ => {
                // Grown as pushed: an engine extended by a few incremental updates should
                // not hold a full chunk for each of its tables.
                self.chunks.push(Arc::new(vec![value]));
            }
        }
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        let chunk = self.chunks.last_mut()?;
        let value = Arc::make_mut(chunk).pop()?;
        if chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        Some(value)
    }

    /// Removes element `i`, moving the last element into its place; returns it.
    pub(crate) fn swap_remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let last = self.pop()?;
        if i == self.len {
            return Some(last);
        }
        let old = self.get(i).cloned();
        self.set(i, last);
        old
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &T> + '_ {
        PIter {
            inner: self.chunks.iter().flat_map(|c| c.iter()),
            left: self.len,
        }
    }
}

struct PIter<I> {
    inner: I,
    left: usize,
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> Iterator for PIter<I> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let x = self.inner.next()?;
        self.left = self.left.saturating_sub(1);
        Some(x)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> ExactSizeIterator for PIter<I> {}

impl<T: Clone> FromIterator<T> for PVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = PVec::new();
        let mut chunk: Vec<T> = Vec::with_capacity(CHUNK);
        for x in iter {
            chunk.push(x);
            if chunk.len() == CHUNK {
                out.len += CHUNK;
                out.chunks.push(Arc::new(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(CHUNK),
                )));
            }
        }
        if !chunk.is_empty() {
            out.len += chunk.len();
            out.chunks.push(Arc::new(chunk));
        }
        out
    }
}

/// A vector built once and then only extended; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct GrowVec<T> {
    base: Arc<[T]>,
    tail: PVec<T>,
}

impl<T> Default for GrowVec<T> {
    fn default() -> Self {
        GrowVec {
            base: Arc::from(Vec::new()),
            tail: PVec::default(),
        }
    }
}

impl<T> From<Vec<T>> for GrowVec<T> {
    fn from(v: Vec<T>) -> Self {
        GrowVec {
            base: Arc::from(v),
            tail: PVec::default(),
        }
    }
}

impl<T: Clone> GrowVec<T> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.base.len() + self.tail.len()
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        match self.base.get(i) {
            Some(x) => Some(x),
            None => self.tail_get(i),
        }
    }

    #[cold]
    fn tail_get(&self, i: usize) -> Option<&T> {
        self.tail.get(i.checked_sub(self.base.len())?)
    }

    /// Appends; copies at most the last chunk of what was pushed since the build.
    pub(crate) fn push(&mut self, value: T) {
        self.tail.push(value);
    }

    /// How many elements were pushed since the build.
    pub(crate) fn pushed(&self) -> usize {
        self.tail.len()
    }

    /// The elements in order; `nth` (and so `skip`) jumps in constant time.
    pub(crate) fn iter(&self) -> GrowIter<'_, T> {
        GrowIter { v: self, at: 0 }
    }
}

/// The iterator of [`GrowVec::iter`].
pub(crate) struct GrowIter<'a, T> {
    v: &'a GrowVec<T>,
    at: usize,
}

impl<'a, T: Clone> Iterator for GrowIter<'a, T> {
    type Item = &'a T;
    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        let x = self.v.get(self.at)?;
        self.at += 1;
        Some(x)
    }
    fn nth(&mut self, n: usize) -> Option<&'a T> {
        self.at = self.at.saturating_add(n);
        self.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.v.len().saturating_sub(self.at);
        (left, Some(left))
    }
}

impl<T: Clone> ExactSizeIterator for GrowIter<'_, T> {}

const FAN: usize = 64;

type Shard<K, V> = Arc<HashMap<K, V>>;

/// One of the 64 second-level tables of shards (absent until a key lands in it).
type Mid<K, V> = Option<Arc<Vec<Option<Shard<K, V>>>>>;

/// A persistent hash map; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct PMap<K, V> {
    top: Vec<Mid<K, V>>,
    len: usize,
    hasher: ahash::RandomState,
}

impl<K, V> Default for PMap<K, V> {
    fn default() -> Self {
        PMap {
            top: vec![None; FAN],
            len: 0,
            // Fixed keys: the shard of a key must not depend on the process.
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> PMap<K, V> {
    pub(crate) fn new() -> Self {
        PMap::default()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn place<Q: Hash + ?Sized>(&self, key: &Q) -> (usize, usize) {
        let h = self.hasher.hash_one(key);
        ((h >> 58) as usize % FAN, (h >> 52) as usize % FAN)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (a, b) = self.place(key);
        self.top.get(a)?.as_ref()?.get(b)?.as_ref()?.get(key)
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    fn shard_mut(&mut self, a: usize, b: usize) -> Option<&mut HashMap<K, V>> {
        let mid = self.top.get_mut(a)?;
        let mid = Arc::make_mut(mid.get_or_insert_with(|| Arc::new(vec![None; FAN])));
        let shard = mid.get_mut(b)?;
        Some(Arc::make_mut(
            shard.get_or_insert_with(|| Arc::new(HashMap::new())),
        ))
    }

    /// Inserts, returning the value the key had.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let (a, b) = self.place(&key);
        let old = self.shard_mut(a, b)?.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (a, b) = self.place(key);
        // Only copy the path when the key is there.
        self.get(key)?;
        let old = self.shard_mut(a, b)?.remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// A mutable reference to the value of `key`, copying its shard when shared.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (a, b) = self.place(key);
        self.get(key)?;
        self.shard_mut(a, b)?.get_mut(key)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.top
            .iter()
            .flatten()
            .flat_map(|mid| mid.iter().flatten())
            .flat_map(|shard| shard.iter())
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FromIterator<(K, V)> for PMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        // Count the keys of each shard first so that each shard is allocated once, at
        // its size.
        let mut out = PMap::new();
        let entries: Vec<(usize, K, V)> = iter
            .into_iter()
            .map(|(k, v)| {
                let (a, b) = out.place(&k);
                (a * FAN + b, k, v)
            })
            .collect();
        let mut sizes = vec![0usize; FAN * FAN];
        for (at, _, _) in &entries {
            if let Some(n) = sizes.get_mut(*at) {
                *n += 1;
            }
        }
        let mut shards: Vec<HashMap<K, V>> = sizes
            .into_iter()
            .map(|n| {
                if n == 0 {
                    HashMap::new()
                } else {
                    HashMap::with_capacity(n)
                }
            })
            .collect();
        for (at, k, v) in entries {
            if let Some(s) = shards.get_mut(at) {
                if s.insert(k, v).is_none() {
                    out.len += 1;
                }
            }
        }
        let mut shards = shards.into_iter();
        for slot in out.top.iter_mut() {
            let mid: Vec<Option<Shard<K, V>>> = shards
                .by_ref()
                .take(FAN)
                .map(|s| (!s.is_empty()).then(|| Arc::new(s)))
                .collect();
            if mid.iter().any(Option::is_some) {
                *slot = Some(Arc::new(mid));
            }
        }
        out
    }
}

/// A hash map that a build fills once and later values change in a few places; see the
/// module documentation. A key inserted or removed since the build is looked up among
/// the changes first (a removed key is held there as `None`).
#[derive(Debug, Clone)]
pub(crate) struct GrowMap<K, V> {
    base: Arc<HashMap<K, V>>,
    changed: Option<PMap<K, Option<V>>>,
}

impl<K, V> Default for GrowMap<K, V> {
    fn default() -> Self {
        GrowMap {
            base: Arc::new(HashMap::new()),
            changed: None,
        }
    }
}

impl<K, V> From<HashMap<K, V>> for GrowMap<K, V> {
    fn from(base: HashMap<K, V>) -> Self {
        GrowMap {
            base: Arc::new(base),
            changed: None,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> GrowMap<K, V> {
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(changed) = &self.changed {
            if let Some(v) = changed.get(key) {
                return v.as_ref();
            }
        }
        self.base.get(key)
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Inserts, returning the value the key had.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.get(&key).cloned();
        self.changed
            .get_or_insert_with(PMap::new)
            .insert(key, Some(value));
        old
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let old = self.get(key).cloned()?;
        let changed = self.changed.get_or_insert_with(PMap::new);
        if self.base.contains_key(key) {
            changed.insert(key.to_owned(), None);
        } else {
            changed.remove(key);
        }
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growmap_changes_leave_the_built_part_and_clones_alone() {
        let built: HashMap<u32, u32> = (0..100).map(|k| (k, k * 2)).collect();
        let a: GrowMap<u32, u32> = built.into();
        let mut b = a.clone();
        assert_eq!(b.insert(5, 7), Some(10));
        assert_eq!(b.insert(500, 1), None);
        assert_eq!(b.remove(&6), Some(12));
        assert_eq!(b.remove(&6), None);
        assert_eq!(b.remove(&500), Some(1));
        assert_eq!(b.remove(&1000), None);
        assert_eq!(
            (b.get(&5), b.get(&6), b.get(&500), b.get(&7)),
            (Some(&7), None, None, Some(&14))
        );
        assert!(!b.contains_key(&6) && b.contains_key(&7));
        assert_eq!(b.insert(6, 3), None);
        assert_eq!(b.get(&6), Some(&3));
        assert_eq!(
            (a.get(&5), a.get(&6), a.get(&500)),
            (Some(&10), Some(&12), None)
        );
    }

    #[test]
    fn growvec_reads_built_and_pushed_parts() {
        let a: GrowVec<u32> = (0..300).collect::<Vec<_>>().into();
        let mut b = a.clone();
        for x in 300..900 {
            b.push(x);
        }
        assert_eq!((a.len(), b.len(), b.pushed()), (300, 900, 600));
        assert_eq!(a.get(300), None);
        assert!((0..900).all(|i| b.get(i) == Some(&(i as u32))));
        assert_eq!(b.get(900), None);
        assert_eq!(
            b.iter().skip(299).take(3).copied().collect::<Vec<_>>(),
            [299, 300, 301]
        );
        assert_eq!(b.iter().skip(850).count(), 50);
        assert_eq!(b.iter().len(), 900);
    }

    #[test]
    fn pvec_shares_untouched_chunks() {
        let a: PVec<u32> = (0..1000).collect();
        let mut b = a.clone();
        b.set(3, 7);
        b.push(1000);
        assert_eq!(a.get(3), Some(&3));
        assert_eq!(b.get(3), Some(&7));
        assert_eq!((a.len(), b.len()), (1000, 1001));
        assert!(Arc::ptr_eq(&a.chunks[1], &b.chunks[1]));
        assert!(!Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert_eq!(b.swap_remove(0), Some(0));
        assert_eq!(b.get(0), Some(&1000));
        assert_eq!(b.len(), 1000);
        assert_eq!(b.iter().count(), 1000);
        assert_eq!(b.swap_remove(999), Some(999));
        assert_eq!(b.len(), 999);
        let mut c: PVec<u32> = PVec::new();
        assert_eq!(c.pop(), None);
        c.push(1);
        assert_eq!(c.swap_remove(0), Some(1));
        assert_eq!(c.len(), 0);
        assert_eq!(c.swap_remove(0), None);
    }

    #[test]
    fn pmap_behaves_like_a_map() {
        let mut reference = std::collections::HashMap::new();
        let mut m: PMap<u64, u64> = (0..5000u64).map(|i| (i, i * 2)).collect();
        for i in 0..5000u64 {
            reference.insert(i, i * 2);
        }
        let before = m.clone();
        for i in (0..8000u64).step_by(3) {
            assert_eq!(m.insert(i, i), reference.insert(i, i));
        }
        for i in (0..8000u64).step_by(7) {
            assert_eq!(m.remove(&i), reference.remove(&i));
        }
        if let Some(v) = m.get_mut(&1) {
            *v = 99;
        }
        reference.insert(1, 99);
        assert_eq!(m.len(), reference.len());
        for (k, v) in &reference {
            assert_eq!(m.get(k), Some(v));
        }
        assert_eq!(m.iter().count(), reference.len());
        assert_eq!(before.len(), 5000);
        assert_eq!(before.get(&3), Some(&6));
    }
}
