//! [`PrefixMap`]: a longest-prefix-match map from IP prefixes to values.

use super::bits::Bits;
use super::trie::{Entry, Trie};
use core::fmt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address family: the exact-match index, the values and the compiled
/// trie over them.
#[derive(Clone)]
struct Family<K, V> {
    /// `(network, length) -> value code` (index + 1 into `values`).
    index: BTreeMap<(K, u8), u32>,
    /// Prefix of each value, parallel to `values`.
    keys: Vec<(K, u8)>,
    values: Vec<V>,
    trie: Trie<K>,
}

impl<K: Bits, V> Family<K, V> {
    fn new() -> Self {
        Self {
            index: BTreeMap::new(),
            keys: Vec::new(),
            values: Vec::new(),
            trie: Trie::default(),
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// Insert without touching the trie. Returns the old value, or the new
    /// code when the prefix is new.
    fn insert_raw(&mut self, key: (K, u8), value: V) -> Result<V, u32> {
        if let Some(&code) = self.index.get(&key) {
            if let Some(slot) = (code as usize)
                .checked_sub(1)
                .and_then(|i| self.values.get_mut(i))
            {
                return Ok(core::mem::replace(slot, value));
            }
        }
        self.values.push(value);
        self.keys.push(key);
        let code = self.values.len() as u32;
        self.index.insert(key, code);
        Err(code)
    }

    fn insert(&mut self, key: (K, u8), value: V) -> Option<V> {
        match self.insert_raw(key, value) {
            Ok(old) => Some(old),
            Err(code) => {
                self.place(key, code);
                None
            }
        }
    }

    fn entries(&self) -> Vec<Entry<K>> {
        self.index.iter().map(|(&(k, l), &c)| (k, l, c)).collect()
    }

    fn rebuild(&mut self) {
        let entries = self.entries();
        self.trie.rebuild(&entries);
        self.keys.shrink_to_fit();
        self.values.shrink_to_fit();
    }

    /// Update the trie for a newly inserted prefix.
    fn place(&mut self, (addr, len): (K, u8), code: u32) {
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
        (0..=t as u8)
            .rev()
            .find_map(|l| self.index.get(&(base.network(l), l)).copied())
            .unwrap_or(0)
    }

    fn refresh_slot(&mut self, slot: usize) {
        let t = self.trie.top_bits();
        let lo = K::from_top(slot, t);
        let hi = lo.last(t as u8);
        let entries: Vec<Entry<K>> = self
            .index
            .range((lo, 0)..=(hi, K::WIDTH))
            .map(|(&(k, l), &c)| (k, l, c))
            .collect();
        let default = self.best_short(slot);
        self.trie.update_slot(slot, &entries, default);
    }

    fn remove(&mut self, key: &(K, u8)) -> Option<V> {
        let code = self.index.remove(key)?;
        let i = (code as usize).checked_sub(1)?;
        if i >= self.values.len() {
            return None;
        }
        let old = self.values.swap_remove(i);
        self.keys.swap_remove(i);
        if let Some(moved) = self.keys.get(i) {
            if let Some(c) = self.index.get_mut(moved) {
                *c = code;
            }
        }
        self.rebuild();
        Some(old)
    }

    fn get(&self, key: &(K, u8)) -> Option<&V> {
        let code = *self.index.get(key)?;
        self.value(code)
    }

    #[inline(always)]
    fn value(&self, code: u32) -> Option<&V> {
        self.values.get((code as usize).wrapping_sub(1))
    }

    #[inline(always)]
    fn lookup(&self, addr: K) -> Option<&V> {
        self.value(self.trie.lookup(addr))
    }

    fn longest_match(&self, addr: K) -> Option<((K, u8), &V)> {
        let code = self.trie.lookup(addr);
        let i = (code as usize).wrapping_sub(1);
        Some((*self.keys.get(i)?, self.values.get(i)?))
    }

    fn heap_bytes(&self) -> usize {
        // A B-tree leaf holds up to 11 keys and values plus a small header;
        // count the entries at their own size plus that share of overhead.
        let entry = core::mem::size_of::<(K, u8)>() + 4;
        self.index.len() * (entry + entry / 2)
            + self.keys.capacity() * core::mem::size_of::<(K, u8)>()
            + self.values.capacity() * core::mem::size_of::<V>()
            + self.trie.heap_bytes()
    }
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
/// population count, with the best match pushed down to the leaves. They take
/// `&self`, never allocate and never mutate, so a built map can be shared
/// across threads.
///
/// [`insert`](Self::insert) keeps the compiled form up to date eagerly: it
/// rebuilds only the part of the trie under the top-level slots the new prefix
/// touches (a prefix shorter than the top level touches several), and the
/// whole trie now and then when the map has grown or old parts pile up.
/// Building from an iterator ([`FromIterator`], [`Extend`] with many items)
/// compiles once at the end. [`remove`](Self::remove) rebuilds the trie of its
/// address family and so costs time linear in the map's size.
///
/// Each family holds at most `2^31 - 1` prefixes.
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
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the map holds no prefix.
    ///
    /// ```
    /// assert!(netpol::cidr::PrefixMap::<u8>::new().is_empty());
    /// ```
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
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            v4: self.v4.index.iter(),
            v6: self.v6.index.iter(),
            v4_values: &self.v4.values,
            v6_values: &self.v6.values,
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
        let (mut new4, mut new6) = (false, false);
        for (net, v) in items {
            match net {
                IpNet::V4(n) => new4 |= self.v4.insert_raw(v4_key(&n), v).is_err(),
                IpNet::V6(n) => new6 |= self.v6.insert_raw(v6_key(&n), v).is_err(),
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
    v4: std::collections::btree_map::Iter<'a, (u32, u8), u32>,
    v6: std::collections::btree_map::Iter<'a, (u128, u8), u32>,
    v4_values: &'a [V],
    v6_values: &'a [V],
}

impl<V> fmt::Debug for Iter<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("remaining", &(self.v4.len() + self.v6.len()))
            .finish()
    }
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (IpNet, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        for (&k, &c) in self.v4.by_ref() {
            if let (Some(n), Some(v)) =
                (v4_net(k), self.v4_values.get((c as usize).wrapping_sub(1)))
            {
                return Some((n, v));
            }
        }
        for (&k, &c) in self.v6.by_ref() {
            if let (Some(n), Some(v)) =
                (v6_net(k), self.v6_values.get((c as usize).wrapping_sub(1)))
            {
                return Some((n, v));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.v4.len() + self.v6.len();
        (0, Some(n))
    }
}
