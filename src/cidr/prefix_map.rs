//! [`PrefixMap`]: a longest-prefix-match map from IP prefixes to values.

use super::bits::Bits;
use super::trie::{Entry, MAX_CODE, Trie};
use core::fmt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address family: the prefixes, their values and the compiled trie.
///
/// The prefixes live in parallel vectors (`addrs`, `lens`, `values`); a
/// prefix's value code is its position + 1, which is what the trie's leaves
/// hold. The first `sorted` positions are in `(address, length)` order and
/// are found by binary search. Prefixes inserted one at a time since the
/// last full rebuild are appended after them and indexed by `tail`; every
/// full rebuild sorts them in and empties `tail`, so a map built from an
/// iterator holds no B-tree at all.
///
/// Codes are 31 bits (see [`MAX_CODE`]). A family that would need more (over
/// two billion prefixes, or a trie of over two billion nodes or leaves) keeps
/// its trie empty ([`Trie::overflowed`]) and answers lookups from the vectors,
/// one binary search per prefix length: slower, never wrong.
#[derive(Clone)]
struct Family<K, V> {
    addrs: Vec<K>,
    lens: Vec<u8>,
    values: Vec<V>,
    /// Length of the sorted part of the vectors.
    sorted: usize,
    /// `(network, length) -> position` for the positions after `sorted`.
    tail: BTreeMap<(K, u8), usize>,
    trie: Trie<K>,
}

impl<K: Bits, V> Family<K, V> {
    fn new() -> Self {
        Self {
            addrs: Vec::new(),
            lens: Vec::new(),
            values: Vec::new(),
            sorted: 0,
            tail: BTreeMap::new(),
            trie: Trie::default(),
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// The position of exactly `key`, if present.
    fn position(&self, &(addr, len): &(K, u8)) -> Option<usize> {
        let addrs = self.addrs.get(..self.sorted).unwrap_or_default();
        let mut i = addrs.partition_point(|&a| a < addr);
        while addrs.get(i) == Some(&addr) {
            match self.lens.get(i) {
                Some(&l) if l == len => return Some(i),
                Some(&l) if l < len => i += 1,
                _ => break,
            }
        }
        self.tail.get(&(addr, len)).copied()
    }

    /// The prefix at position `i`.
    fn key_at(&self, i: usize) -> Option<(K, u8)> {
        Some((*self.addrs.get(i)?, *self.lens.get(i)?))
    }

    /// The position of the longest prefix containing `addr`, read from the
    /// vectors rather than the trie (for a family whose trie overflowed).
    fn longest_position(&self, addr: K) -> Option<usize> {
        (0..=K::WIDTH)
            .rev()
            .find_map(|l| self.position(&(addr.network(l), l)))
    }

    /// Insert without touching the trie. Returns the old value, or the new
    /// position when the prefix is new.
    fn insert_raw(&mut self, key: (K, u8), value: V) -> Result<V, usize> {
        if let Some(slot) = self.position(&key).and_then(|i| self.values.get_mut(i)) {
            return Ok(core::mem::replace(slot, value));
        }
        self.append(key, value);
        let at = self.values.len().saturating_sub(1);
        self.tail.insert(key, at);
        Err(at)
    }

    /// Append a prefix after the sorted part without indexing it.
    fn append(&mut self, (addr, len): (K, u8), value: V) {
        self.addrs.push(addr);
        self.lens.push(len);
        self.values.push(value);
    }

    fn insert(&mut self, key: (K, u8), value: V) -> Option<V> {
        match self.insert_raw(key, value) {
            Ok(old) => Some(old),
            Err(at) => {
                self.place(key, at);
                None
            }
        }
    }

    /// Sort every appended prefix into the sorted part; of equal prefixes the
    /// one appended last wins. Value codes change, so the trie must be
    /// rebuilt afterwards.
    fn merge(&mut self) {
        if self.sorted == self.len() {
            return;
        }
        let mut all: Vec<(K, u8, V)> = core::mem::take(&mut self.addrs)
            .into_iter()
            .zip(core::mem::take(&mut self.lens))
            .zip(core::mem::take(&mut self.values))
            .map(|((a, l), v)| (a, l, v))
            .collect();
        // Stable: equal prefixes keep their order of arrival.
        all.sort_by_key(|e| (e.0, e.1));
        let n = all.len();
        let (mut addrs, mut lens, mut values) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (a, l, v) in all {
            if addrs.last() == Some(&a) && lens.last() == Some(&l) {
                if let Some(old) = values.last_mut() {
                    *old = v;
                }
                continue;
            }
            addrs.push(a);
            lens.push(l);
            values.push(v);
        }
        addrs.shrink_to_fit();
        lens.shrink_to_fit();
        values.shrink_to_fit();
        self.sorted = addrs.len();
        (self.addrs, self.lens, self.values) = (addrs, lens, values);
        self.tail = BTreeMap::new();
    }

    /// Every prefix with its value code, sorted (the vectors must be merged);
    /// `None` when some position has no code.
    fn entries(&self) -> Option<Vec<Entry<K>>> {
        self.addrs
            .iter()
            .zip(&self.lens)
            .enumerate()
            .map(|(i, (&a, &l))| Some((a, l, code_at(i)?)))
            .collect()
    }

    fn rebuild(&mut self) {
        self.merge();
        match self.entries() {
            Some(entries) => self.trie.rebuild(&entries),
            None => self.trie.set_overflow(),
        }
    }

    /// Update the trie for a newly inserted prefix at position `at`.
    fn place(&mut self, (addr, len): (K, u8), at: usize) {
        if self.trie.overflowed() {
            // Lookups read the vectors; a rebuild (on a removal) tries again.
            return;
        }
        let Some(code) = code_at(at) else {
            self.trie.set_overflow();
            return;
        };
        if self.trie.wants_rebuild(self.len()) {
            self.rebuild();
            return;
        }
        let t = self.trie.top_bits();
        if u32::from(len) > t {
            self.refresh_slot(addr.top(t));
        } else {
            let start = addr.top(t);
            let span = 1usize << (t - u32::from(len));
            for slot in start..start + span {
                if self.best_short(slot) == code {
                    self.refresh_slot(slot);
                }
            }
        }
        if self.trie.wants_rebuild(self.len()) {
            self.rebuild();
        }
    }

    /// Code of the longest prefix of at most `t` bits covering top slot `slot`.
    fn best_short(&self, slot: usize) -> u32 {
        let t = self.trie.top_bits();
        let base = K::from_top(slot, t);
        (0..=self.trie.top_len())
            .rev()
            .find_map(|l| self.position(&(base.network(l), l)))
            .and_then(code_at)
            .unwrap_or(0)
    }

    fn refresh_slot(&mut self, slot: usize) {
        let t = self.trie.top_bits();
        let lo = K::from_top(slot, t);
        let hi = lo.last(self.trie.top_len());
        let addrs = self.addrs.get(..self.sorted).unwrap_or_default();
        let from = addrs.partition_point(|&a| a < lo);
        let to = addrs.partition_point(|&a| a <= hi);
        let mut entries: Vec<Entry<K>> = (from..to)
            .filter_map(|i| Some((*addrs.get(i)?, *self.lens.get(i)?, code_at(i)?)))
            .chain(
                self.tail
                    .range((lo, 0)..=(hi, K::WIDTH))
                    .filter_map(|(&(k, l), &i)| Some((k, l, code_at(i)?))),
            )
            .collect();
        entries.sort_unstable_by_key(|e| (e.0, e.1));
        let default = self.best_short(slot);
        self.trie.update_slot(slot, &entries, default);
    }

    fn remove(&mut self, key: &(K, u8)) -> Option<V> {
        self.position(key)?;
        self.merge();
        let i = self.position(key)?;
        if i >= self.values.len() {
            return None;
        }
        self.addrs.remove(i);
        self.lens.remove(i);
        let old = self.values.remove(i);
        self.sorted = self.values.len();
        self.rebuild();
        Some(old)
    }

    fn get(&self, key: &(K, u8)) -> Option<&V> {
        self.values.get(self.position(key)?)
    }

    #[inline(always)]
    fn value(&self, code: u32) -> Option<&V> {
        self.values.get((code as usize).wrapping_sub(1))
    }

    /// The position of the longest prefix containing `addr`.
    #[inline(always)]
    fn longest(&self, addr: K) -> Option<usize> {
        match self.trie.lookup(addr) {
            0 if self.trie.overflowed() => self.longest_position(addr),
            code => (code as usize).checked_sub(1),
        }
    }

    #[inline(always)]
    fn lookup(&self, addr: K) -> Option<&V> {
        match self.value(self.trie.lookup(addr)) {
            None if self.trie.overflowed() => self.values.get(self.longest_position(addr)?),
            found => found,
        }
    }

    fn longest_match(&self, addr: K) -> Option<((K, u8), &V)> {
        let i = self.longest(addr)?;
        Some((self.key_at(i)?, self.values.get(i)?))
    }

    fn iter(&self) -> FamilyIter<'_, K, V> {
        let mut tail = self.tail.iter();
        let next_tail = tail.next().map(|(&k, &c)| (k, c));
        FamilyIter {
            family: self,
            next_sorted: 0,
            tail,
            next_tail,
        }
    }

    fn heap_bytes(&self) -> usize {
        // A B-tree leaf holds up to 11 keys and values plus a header and
        // is on average about two thirds full: count each entry at twice its
        // own size.
        let entry = core::mem::size_of::<((K, u8), usize)>();
        self.addrs.capacity() * core::mem::size_of::<K>()
            + self.lens.capacity()
            + self.values.capacity() * core::mem::size_of::<V>()
            + self.tail.len() * entry * 2
            + self.trie.heap_bytes()
    }
}

/// The prefixes of one family in `(address, length)` order: the sorted part
/// merged with the not yet sorted tail.
struct FamilyIter<'a, K, V> {
    family: &'a Family<K, V>,
    next_sorted: usize,
    tail: std::collections::btree_map::Iter<'a, (K, u8), usize>,
    next_tail: Option<((K, u8), usize)>,
}

impl<K: Bits, V> FamilyIter<'_, K, V> {
    fn remaining(&self) -> usize {
        self.family.sorted.saturating_sub(self.next_sorted)
            + self.tail.len()
            + usize::from(self.next_tail.is_some())
    }
}

impl<'a, K: Bits, V> Iterator for FamilyIter<'a, K, V> {
    type Item = ((K, u8), &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let f = self.family;
        let sorted = if self.next_sorted < f.sorted {
            f.key_at(self.next_sorted)
        } else {
            None
        };
        let at = match (sorted, self.next_tail) {
            (Some(s), Some((t, i))) if t < s => {
                self.next_tail = self.tail.next().map(|(&k, &i)| (k, i));
                i
            }
            (Some(_), _) => {
                self.next_sorted += 1;
                self.next_sorted - 1
            }
            (None, Some((_, i))) => {
                self.next_tail = self.tail.next().map(|(&k, &i)| (k, i));
                i
            }
            (None, None) => return None,
        };
        Some((f.key_at(at)?, f.values.get(at)?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

/// The value code of position `i` (`i + 1`), `None` beyond [`MAX_CODE`].
fn code_at(i: usize) -> Option<u32> {
    u32::try_from(i)
        .ok()
        .and_then(|i| i.checked_add(1))
        .filter(|c| *c <= MAX_CODE)
}

fn v4_key(net: &Ipv4Net) -> (u32, u8) {
    (net.network().to_bits(), net.prefix_len())
}

fn v6_key(net: &Ipv6Net) -> (u128, u8) {
    (net.network().to_bits(), net.prefix_len())
}

fn v4_net((a, l): (u32, u8)) -> Option<IpNet> {
    Ipv4Net::new(Ipv4Addr::from_bits(a), l).ok().map(IpNet::V4)
}

fn v6_net((a, l): (u128, u8)) -> Option<IpNet> {
    Ipv6Net::new(Ipv6Addr::from_bits(a), l).ok().map(IpNet::V6)
}

/// A longest-prefix-match map from IP prefixes ([`IpNet`], IPv4 and IPv6) to
/// values, built for fast lookups.
///
/// Lookups ([`lookup`](Self::lookup), [`lookup_v4`](Self::lookup_v4),
/// [`lookup_v6`](Self::lookup_v6), [`longest_match`](Self::longest_match))
/// run on a compiled poptrie-style multibit trie: a direct-indexed first level
/// of up to 18 bits, then 6-bit nodes compressed with bitmaps and indexed by
/// population count, with the best match pushed down to the leaves, and skip
/// nodes that replace chains of single-child nodes by one comparison. They
/// take `&self`, never allocate and never mutate, so a built map can be
/// shared across threads.
///
/// The prefixes and values themselves are kept in vectors sorted by prefix
/// ([`get`](Self::get) is a binary search, [`iter`](Self::iter) a scan);
/// prefixes inserted one at a time since the last full recompilation wait in
/// a small B-tree until the next one.
///
/// [`insert`](Self::insert) keeps the compiled form up to date eagerly: it
/// rebuilds only the part of the trie under the top-level slots the new prefix
/// touches (a prefix shorter than the top level touches several), and the
/// whole trie now and then when the map has grown or old parts pile up.
/// Building from an iterator ([`FromIterator`], [`Extend`] with many items)
/// compiles once at the end. [`remove`](Self::remove) rebuilds the trie of its
/// address family and so costs time linear in the map's size.
///
/// The trie numbers prefixes, nodes and leaves in 31 bits. A family past
/// that (over two billion prefixes, or a trie of over two billion nodes or
/// leaves) is not compiled: its lookups do one binary search per prefix
/// length instead, slower but with the same answers.
///
/// # Example
///
/// ```
/// use ipnet::IpNet;
/// use netpol::cidr::PrefixMap;
///
/// let mut map = PrefixMap::new();
/// map.insert("10.0.0.0/8".parse::<IpNet>()?, "ten");
/// map.insert("10.1.0.0/16".parse::<IpNet>()?, "ten-one");
/// map.insert("2001:db8::/32".parse::<IpNet>()?, "doc");
///
/// assert_eq!(map.lookup("10.1.2.3".parse()?), Some(&"ten-one"));
/// assert_eq!(map.lookup("10.2.0.1".parse()?), Some(&"ten"));
/// assert_eq!(map.lookup("2001:db8::1".parse()?), Some(&"doc"));
/// assert_eq!(map.lookup("192.0.2.1".parse()?), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PrefixMap<V> {
    v4: Family<u32, V>,
    v6: Family<u128, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> PrefixMap<V> {
    /// An empty map. Allocates nothing.
    ///
    /// ```
    /// let map: netpol::cidr::PrefixMap<u32> = netpol::cidr::PrefixMap::new();
    /// assert!(map.is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            v4: Family::new(),
            v6: Family::new(),
        }
    }

    /// Insert `value` for the prefix `net`, truncated to its network first
    /// (`10.1.2.3/8` means `10.0.0.0/8`). Returns the previous value when the
    /// same prefix was already present.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut map = netpol::cidr::PrefixMap::new();
    /// assert_eq!(map.insert("10.1.2.3/8".parse::<IpNet>()?, 1), None);
    /// assert_eq!(map.insert("10.0.0.0/8".parse::<IpNet>()?, 2), Some(1));
    /// assert_eq!(map.get(&"10.0.0.0/8".parse()?), Some(&2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&mut self, net: IpNet, value: V) -> Option<V> {
        match net {
            IpNet::V4(n) => self.v4.insert(v4_key(&n), value),
            IpNet::V6(n) => self.v6.insert(v6_key(&n), value),
        }
    }

    /// The value stored for exactly the prefix `net` (truncated to its
    /// network), without longest-prefix matching.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("10.0.0.0/8".parse::<IpNet>()?, 'a')].into_iter().collect();
    /// assert_eq!(map.get(&"10.0.0.0/8".parse()?), Some(&'a'));
    /// assert_eq!(map.get(&"10.0.0.0/9".parse()?), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn get(&self, net: &IpNet) -> Option<&V> {
        match net {
            IpNet::V4(n) => self.v4.get(&v4_key(n)),
            IpNet::V6(n) => self.v6.get(&v6_key(n)),
        }
    }

    /// Whether exactly the prefix `net` (truncated to its network) is present.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("10.0.0.0/8".parse::<IpNet>()?, ())].into_iter().collect();
    /// assert!(map.contains_prefix(&"10.0.0.0/8".parse()?));
    /// assert!(!map.contains_prefix(&"10.0.0.0/16".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn contains_prefix(&self, net: &IpNet) -> bool {
        self.get(net).is_some()
    }

    /// Remove the exact prefix `net` (truncated to its network) and return
    /// its value. This recompiles the trie of that address family, so it costs
    /// time linear in the number of prefixes of that family.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut map: netpol::cidr::PrefixMap<_> = [
    ///     ("10.0.0.0/8".parse::<IpNet>()?, 8),
    ///     ("10.1.0.0/16".parse::<IpNet>()?, 16),
    /// ].into_iter().collect();
    /// assert_eq!(map.remove(&"10.1.0.0/16".parse()?), Some(16));
    /// assert_eq!(map.lookup("10.1.2.3".parse()?), Some(&8));
    /// assert_eq!(map.remove(&"10.1.0.0/16".parse()?), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&mut self, net: &IpNet) -> Option<V> {
        match net {
            IpNet::V4(n) => self.v4.remove(&v4_key(n)),
            IpNet::V6(n) => self.v6.remove(&v6_key(n)),
        }
    }

    /// The longest prefix containing `addr`, with its value.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> = [
    ///     ("10.0.0.0/8".parse::<IpNet>()?, 8),
    ///     ("10.1.0.0/16".parse::<IpNet>()?, 16),
    /// ].into_iter().collect();
    /// let (net, v) = map.longest_match("10.1.9.9".parse()?).ok_or("no match")?;
    /// assert_eq!(net.to_string(), "10.1.0.0/16");
    /// assert_eq!(*v, 16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn longest_match(&self, addr: IpAddr) -> Option<(IpNet, &V)> {
        match addr {
            IpAddr::V4(a) => {
                let (k, v) = self.v4.longest_match(a.to_bits())?;
                Some((v4_net(k)?, v))
            }
            IpAddr::V6(a) => {
                let (k, v) = self.v6.longest_match(a.to_bits())?;
                Some((v6_net(k)?, v))
            }
        }
    }

    /// The value of the longest prefix containing `addr`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("::/0".parse::<IpNet>()?, "any6")].into_iter().collect();
    /// assert_eq!(map.lookup("2001:db8::1".parse()?), Some(&"any6"));
    /// assert_eq!(map.lookup("10.0.0.1".parse()?), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn lookup(&self, addr: IpAddr) -> Option<&V> {
        match addr {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// The value of the longest IPv4 prefix containing `addr`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// use std::net::Ipv4Addr;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("192.168.0.0/16".parse::<IpNet>()?, 1)].into_iter().collect();
    /// assert_eq!(map.lookup_v4(Ipv4Addr::new(192, 168, 7, 7)), Some(&1));
    /// assert_eq!(map.lookup_v4(Ipv4Addr::new(192, 169, 0, 0)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Option<&V> {
        self.v4.lookup(addr.to_bits())
    }

    /// The value of the longest IPv6 prefix containing `addr`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// use std::net::Ipv6Addr;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("fd00::/8".parse::<IpNet>()?, 1)].into_iter().collect();
    /// assert_eq!(map.lookup_v6("fd12::1".parse::<Ipv6Addr>()?), Some(&1));
    /// assert_eq!(map.lookup_v6(Ipv6Addr::LOCALHOST), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn lookup_v6(&self, addr: Ipv6Addr) -> Option<&V> {
        self.v6.lookup(addr.to_bits())
    }

    /// Number of prefixes (IPv4 and IPv6).
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut map = netpol::cidr::PrefixMap::new();
    /// map.insert("10.0.0.0/8".parse::<IpNet>()?, ());
    /// map.insert("10.0.0.0/8".parse::<IpNet>()?, ());
    /// map.insert("::/0".parse::<IpNet>()?, ());
    /// assert_eq!(map.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the map holds no prefix.
    ///
    /// ```
    /// assert!(netpol::cidr::PrefixMap::<u8>::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The prefixes and their values: IPv4 before IPv6; within a family by
    /// network address, and for equal addresses shorter prefixes first (so a
    /// prefix comes before the prefixes nested in it).
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> = ["::/0", "10.1.0.0/16", "10.0.0.0/8", "9.0.0.0/8"]
    ///     .into_iter()
    ///     .map(|s| (s.parse::<IpNet>().unwrap(), ()))
    ///     .collect();
    /// let order: Vec<String> = map.iter().map(|(n, _)| n.to_string()).collect();
    /// assert_eq!(order, ["9.0.0.0/8", "10.0.0.0/8", "10.1.0.0/16", "::/0"]);
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            v4: self.v4.iter(),
            v6: self.v6.iter(),
        }
    }

    /// Approximate heap bytes held by the map (index, values and compiled
    /// trie), for capacity planning.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> =
    ///     [("10.0.0.0/8".parse::<IpNet>()?, 1u32)].into_iter().collect();
    /// assert!(map.heap_bytes() > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes()
    }

    fn extend_batch<I: IntoIterator<Item = (IpNet, V)>>(&mut self, iter: I) {
        let items: Vec<(IpNet, V)> = iter.into_iter().collect();
        if items.len() <= 16 || items.len() * 8 < self.len() {
            for (net, v) in items {
                self.insert(net, v);
            }
            return;
        }
        // Append everything and let the rebuild's merge sort the prefixes
        // in and resolve duplicates (the later one wins).
        let (mut new4, mut new6) = (false, false);
        for (net, v) in items {
            match net {
                IpNet::V4(n) => {
                    self.v4.append(v4_key(&n), v);
                    new4 = true;
                }
                IpNet::V6(n) => {
                    self.v6.append(v6_key(&n), v);
                    new6 = true;
                }
            }
        }
        if new4 {
            self.v4.rebuild();
        }
        if new6 {
            self.v6.rebuild();
        }
    }
}

impl<V> FromIterator<(IpNet, V)> for PrefixMap<V> {
    /// Collect prefixes into a map; a later duplicate prefix replaces the
    /// earlier value. The trie is compiled once, at the end.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let map: netpol::cidr::PrefixMap<_> = [
    ///     ("10.0.0.0/8".parse::<IpNet>()?, 1),
    ///     ("10.0.0.0/8".parse::<IpNet>()?, 2),
    /// ].into_iter().collect();
    /// assert_eq!(map.len(), 1);
    /// assert_eq!(map.lookup("10.9.9.9".parse()?), Some(&2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from_iter<I: IntoIterator<Item = (IpNet, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend_batch(iter);
        map
    }
}

impl<V> Extend<(IpNet, V)> for PrefixMap<V> {
    /// Insert every item; a large batch is compiled once at the end.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut map = netpol::cidr::PrefixMap::new();
    /// map.extend([("10.0.0.0/8".parse::<IpNet>()?, 1)]);
    /// assert_eq!(map.lookup("10.0.0.1".parse()?), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn extend<I: IntoIterator<Item = (IpNet, V)>>(&mut self, iter: I) {
        self.extend_batch(iter);
    }
}

impl<V: fmt::Debug> fmt::Debug for PrefixMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: PartialEq> PartialEq for PrefixMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<V: Eq> Eq for PrefixMap<V> {}

impl<'a, V> IntoIterator for &'a PrefixMap<V> {
    type Item = (IpNet, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

/// Iterator over a [`PrefixMap`]'s prefixes and values, in the order
/// described at [`PrefixMap::iter`].
///
/// ```
/// use ipnet::IpNet;
/// let map: netpol::cidr::PrefixMap<_> =
///     [("10.0.0.0/8".parse::<IpNet>()?, 1)].into_iter().collect();
/// let mut it: netpol::cidr::prefix_map::Iter<'_, i32> = map.iter();
/// assert_eq!(it.next().map(|(n, v)| (n.to_string(), *v)), Some(("10.0.0.0/8".into(), 1)));
/// assert!(it.next().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Iter<'a, V> {
    v4: FamilyIter<'a, u32, V>,
    v6: FamilyIter<'a, u128, V>,
}

impl<V> fmt::Debug for Iter<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("remaining", &(self.v4.remaining() + self.v6.remaining()))
            .finish()
    }
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (IpNet, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        for (k, v) in self.v4.by_ref() {
            if let Some(n) = v4_net(k) {
                return Some((n, v));
            }
        }
        for (k, v) in self.v6.by_ref() {
            if let Some(n) = v6_net(k) {
                return Some((n, v));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.v4.remaining() + self.v6.remaining();
        (0, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl<V> PrefixMap<V> {
        /// Gives up both tries, as a map past the 31-bit limits does.
        fn force_overflow(&mut self) {
            self.v4.trie.set_overflow();
            self.v6.trie.set_overflow();
        }
    }

    /// Addresses near a few seeds, so that prefixes nest and probes hit them.
    fn addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (0u32..4, any::<u16>()).prop_map(|(s, b)| IpAddr::V4(Ipv4Addr::from_bits(
                0x0a00_0000 | (s << 16) | u32::from(b)
            ))),
            (0u128..4, any::<u16>()).prop_map(|(s, b)| IpAddr::V6(Ipv6Addr::from_bits(
                (0xfd00_u128 << 112) | (s << 96) | u128::from(b)
            ))),
        ]
    }

    fn net() -> impl Strategy<Value = IpNet> {
        (addr(), 0u8..=128).prop_map(|(a, l)| match a {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, l % 33).unwrap_or_default().trunc()),
            IpAddr::V6(a) => IpNet::V6(Ipv6Net::new(a, l).unwrap_or_default().trunc()),
        })
    }

    fn same(a: &PrefixMap<usize>, b: &PrefixMap<usize>, probes: &[IpAddr]) {
        assert_eq!(a.len(), b.len());
        assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        for (n, v) in a.iter() {
            assert_eq!(b.get(&n), Some(v));
        }
        for p in probes {
            assert_eq!(a.lookup(*p), b.lookup(*p), "lookup {p}");
            assert_eq!(
                a.longest_match(*p),
                b.longest_match(*p),
                "longest_match {p}"
            );
        }
    }

    proptest! {
        /// A map whose trie overflowed answers every query from its vectors exactly as
        /// the trie would, through inserts, and is compiled again by a removal.
        #[test]
        fn overflowed_map_answers_like_the_trie(
            nets in prop::collection::vec(net(), 0..60),
            more in prop::collection::vec(net(), 0..12),
            probes in prop::collection::vec(addr(), 1..60),
        ) {
            let fast: PrefixMap<usize> = nets.iter().copied().zip(0..).collect();
            let mut slow = fast.clone();
            slow.force_overflow();
            prop_assert!(slow.v4.trie.overflowed() && slow.v6.trie.overflowed());
            let probes: Vec<IpAddr> = probes.into_iter().chain(nets.iter().map(IpNet::addr)).collect();
            same(&fast, &slow, &probes);

            let (mut fast, mut slow) = (fast, slow);
            for (i, n) in more.iter().enumerate() {
                prop_assert_eq!(fast.insert(*n, 1000 + i), slow.insert(*n, 1000 + i));
            }
            same(&fast, &slow, &probes);

            if let Some(n) = nets.first().or(more.first()) {
                prop_assert_eq!(fast.remove(n), slow.remove(n));
                let overflowed = if n.addr().is_ipv4() {
                    slow.v4.trie.overflowed()
                } else {
                    slow.v6.trie.overflowed()
                };
                prop_assert!(!overflowed);
                same(&fast, &slow, &probes);
            }
        }
    }
}
