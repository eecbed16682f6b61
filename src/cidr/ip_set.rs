//! [`IpSet`]: a set of IPv4 and IPv6 addresses held as sorted, disjoint,
//! non-adjacent address ranges.

use super::bits::Bits;
use core::fmt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A set of IP addresses, IPv4 and IPv6 in one value.
///
/// Held as sorted, disjoint, non-adjacent inclusive ranges per family, so
/// equal sets compare equal whatever prefixes built them, membership is a
/// binary search, and the set operations are linear merges.
/// [`iter`](Self::iter) yields the set as the minimal list of prefixes: none
/// nested in another, no two that could merge into their parent.
///
/// Serializes as a list of CIDR strings (`["10.0.0.0/8", "fd00::/8"]`) and
/// deserializes from one (overlapping or non-canonical entries are fine).
/// [`Display`](fmt::Display) prints the prefixes separated by `", "`; the
/// empty set prints as nothing. [`FromStr`](std::str::FromStr) reads that text
/// back (any CIDRs, separated by commas).
///
/// # Example
///
/// A Kubernetes `ipBlock` (a CIDR minus its `except` list):
///
/// ```
/// use ipnet::IpNet;
/// use netpol::cidr::IpSet;
///
/// let cidr: IpNet = "10.0.0.0/8".parse()?;
/// let except: Vec<IpNet> = vec!["10.0.0.0/9".parse()?, "10.128.0.0/10".parse()?];
/// let block = IpSet::from_block(cidr, &except);
///
/// assert!(block.contains("10.200.0.1".parse()?));
/// assert!(!block.contains("10.1.2.3".parse()?));
/// assert_eq!(block.to_string(), "10.192.0.0/10");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn normalize<K: Bits>(mut r: Vec<(K, K)>) -> Vec<(K, K)> {
    r.sort_unstable();
    let mut out: Vec<(K, K)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        if let Some(last) = out.last_mut() {
            let touches = match last.1.succ() {
                None => true,
                Some(next) => lo <= next,
            };
            if touches {
                if hi > last.1 {
                    last.1 = hi;
                }
                continue;
            }
        }
        out.push((lo, hi));
    }
    out
}

fn union<K: Bits>(a: &[(K, K)], b: &[(K, K)]) -> Vec<(K, K)> {
    let mut all = Vec::with_capacity(a.len() + b.len());
    all.extend_from_slice(a);
    all.extend_from_slice(b);
    normalize(all)
}

fn intersection<K: Bits>(a: &[(K, K)], b: &[(K, K)]) -> Vec<(K, K)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(&(alo, ahi)), Some(&(blo, bhi))) = (a.get(i), b.get(j)) {
        let lo = alo.max(blo);
        let hi = ahi.min(bhi);
        if lo <= hi {
            out.push((lo, hi));
        }
        if ahi < bhi {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn difference<K: Bits>(a: &[(K, K)], b: &[(K, K)]) -> Vec<(K, K)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(lo, hi) in a {
        while b.get(j).is_some_and(|r| r.1 < lo) {
            j += 1;
        }
        let mut cur = Some(lo);
        let mut k = j;
        while let (Some(c), Some(&(blo, bhi))) = (cur, b.get(k)) {
            if blo > hi {
                break;
            }
            if blo > c {
                if let Some(p) = blo.pred() {
                    out.push((c, p));
                }
            }
            cur = bhi.succ().filter(|n| *n <= hi).map(|n| n.max(c));
            k += 1;
        }
        if let Some(c) = cur {
            out.push((c, hi));
        }
    }
    out
}

fn contains<K: Bits>(r: &[(K, K)], x: K) -> bool {
    let i = r.partition_point(|&(_, hi)| hi < x);
    r.get(i).is_some_and(|&(lo, _)| lo <= x)
}

/// The largest prefix starting at `lo` that ends at or before `hi`, as
/// `(prefix length, next address after it or None at the end of the space)`.
fn first_block(lo: u128, hi: u128, width: u8) -> (u8, Option<u128>) {
    let w = u32::from(width);
    let align = lo.trailing_zeros().min(w);
    let span = hi - lo; // number of addresses minus one
    let fits = if span == u128::MAX {
        128
    } else {
        127 - (span + 1).leading_zeros()
    };
    let k = align.min(fits);
    let next = if k >= 128 {
        None
    } else {
        lo.checked_add(1u128 << k).filter(|n| *n <= hi)
    };
    // k <= w <= 128, so the length fits; a host-sized block is the fallback.
    (u8::try_from(w - k).unwrap_or(width), next)
}

fn range_of<K: Bits>(addr: K, len: u8) -> (K, K) {
    (addr.network(len), addr.last(len))
}

impl IpSet {
    /// The empty set.
    ///
    /// ```
    /// assert!(netpol::cidr::IpSet::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The addresses of `cidr` that are in none of `excepts`, as a Kubernetes
    /// `ipBlock` means them. Excepts outside `cidr` (or of the other address
    /// family) remove nothing.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set = netpol::cidr::IpSet::from_block(
    ///     "192.168.0.0/16".parse::<IpNet>()?,
    ///     &["192.168.1.0/24".parse::<IpNet>()?],
    /// );
    /// assert!(set.contains("192.168.2.1".parse()?));
    /// assert!(!set.contains("192.168.1.1".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn from_block(cidr: IpNet, excepts: &[IpNet]) -> Self {
        Self::from(cidr).difference(&excepts.iter().copied().collect())
    }

    /// Add every address of `net`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut set = netpol::cidr::IpSet::new();
    /// set.insert("10.0.0.0/25".parse::<IpNet>()?);
    /// set.insert("10.0.0.128/25".parse::<IpNet>()?);
    /// assert_eq!(set.to_string(), "10.0.0.0/24");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&mut self, net: IpNet) {
        match net {
            IpNet::V4(n) => {
                self.v4 = union(&self.v4, &[range_of(n.addr().to_bits(), n.prefix_len())]);
            }
            IpNet::V6(n) => {
                self.v6 = union(&self.v6, &[range_of(n.addr().to_bits(), n.prefix_len())]);
            }
        }
    }

    /// Whether `addr` is in the set.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set: netpol::cidr::IpSet = ["fd00::/8".parse::<IpNet>()?].into_iter().collect();
    /// assert!(set.contains("fd00::1".parse()?));
    /// assert!(!set.contains("fe80::1".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => contains(&self.v4, a.to_bits()),
            IpAddr::V6(a) => contains(&self.v6, a.to_bits()),
        }
    }

    /// Whether every address of `net` is in the set.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set: netpol::cidr::IpSet = ["10.0.0.0/8".parse::<IpNet>()?].into_iter().collect();
    /// assert!(set.contains_net(&"10.1.0.0/16".parse()?));
    /// assert!(!set.contains_net(&"10.0.0.0/7".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn contains_net(&self, net: &IpNet) -> bool {
        fn covered<K: Bits>(r: &[(K, K)], (lo, hi): (K, K)) -> bool {
            let i = r.partition_point(|&(_, h)| h < lo);
            r.get(i).is_some_and(|&(l, h)| l <= lo && hi <= h)
        }
        match net {
            IpNet::V4(n) => covered(&self.v4, range_of(n.addr().to_bits(), n.prefix_len())),
            IpNet::V6(n) => covered(&self.v6, range_of(n.addr().to_bits(), n.prefix_len())),
        }
    }

    /// Whether the set holds no address.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let a = netpol::cidr::IpSet::from("10.0.0.0/8".parse::<IpNet>()?);
    /// assert!(!a.is_empty());
    /// assert!(a.difference(&a).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Addresses in `self` or in `other`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// use netpol::cidr::IpSet;
    /// let a = IpSet::from("10.0.0.0/9".parse::<IpNet>()?);
    /// let b = IpSet::from("10.128.0.0/9".parse::<IpNet>()?);
    /// assert_eq!(a.union(&b).to_string(), "10.0.0.0/8");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        Self {
            v4: union(&self.v4, &other.v4),
            v6: union(&self.v6, &other.v6),
        }
    }

    /// Addresses in both `self` and `other`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// use netpol::cidr::IpSet;
    /// let a = IpSet::from("10.0.0.0/8".parse::<IpNet>()?);
    /// let b = IpSet::from("10.1.0.0/16".parse::<IpNet>()?);
    /// assert_eq!(a.intersection(&b).to_string(), "10.1.0.0/16");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        Self {
            v4: intersection(&self.v4, &other.v4),
            v6: intersection(&self.v6, &other.v6),
        }
    }

    /// Addresses in `self` but not in `other`.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// use netpol::cidr::IpSet;
    /// let a = IpSet::from("10.0.0.0/8".parse::<IpNet>()?);
    /// let b = IpSet::from("10.0.0.0/9".parse::<IpNet>()?);
    /// assert_eq!(a.difference(&b).to_string(), "10.128.0.0/9");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        Self {
            v4: difference(&self.v4, &other.v4),
            v6: difference(&self.v6, &other.v6),
        }
    }

    /// The set as the minimal list of prefixes: IPv4 before IPv6, ascending,
    /// none nested in another and no two siblings that could merge.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set = netpol::cidr::IpSet::from_block(
    ///     "10.0.0.0/30".parse::<IpNet>()?,
    ///     &["10.0.0.1/32".parse::<IpNet>()?],
    /// );
    /// let v: Vec<String> = set.iter().map(|n| n.to_string()).collect();
    /// assert_eq!(v, ["10.0.0.0/32", "10.0.0.2/31"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            v4: self.v4.iter(),
            v6: self.v6.iter(),
            cur: None,
        }
    }
}

impl From<IpNet> for IpSet {
    /// The set of the addresses of one prefix.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set = netpol::cidr::IpSet::from("10.1.2.3/24".parse::<IpNet>()?);
    /// assert_eq!(set.to_string(), "10.1.2.0/24");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(net: IpNet) -> Self {
        let mut s = Self::new();
        s.insert(net);
        s
    }
}

impl FromIterator<IpNet> for IpSet {
    /// The union of the prefixes.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let set: netpol::cidr::IpSet = ["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8"]
    ///     .iter()
    ///     .map(|s| s.parse::<IpNet>())
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(set.to_string(), "10.0.0.0/7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from_iter<I: IntoIterator<Item = IpNet>>(iter: I) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in iter {
            match net {
                IpNet::V4(n) => v4.push(range_of(n.addr().to_bits(), n.prefix_len())),
                IpNet::V6(n) => v6.push(range_of(n.addr().to_bits(), n.prefix_len())),
            }
        }
        Self {
            v4: normalize(v4),
            v6: normalize(v6),
        }
    }
}

impl Extend<IpNet> for IpSet {
    /// Add the addresses of every prefix.
    ///
    /// ```
    /// use ipnet::IpNet;
    /// let mut set = netpol::cidr::IpSet::new();
    /// set.extend(["10.0.0.0/8".parse::<IpNet>()?]);
    /// assert!(set.contains("10.0.0.1".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn extend<I: IntoIterator<Item = IpNet>>(&mut self, iter: I) {
        let more: IpSet = iter.into_iter().collect();
        *self = self.union(&more);
    }
}

impl<'a> IntoIterator for &'a IpSet {
    type Item = IpNet;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl std::str::FromStr for IpSet {
    type Err = crate::policy::CidrError;
    /// The union of CIDRs separated by commas (whitespace around them is
    /// ignored; nothing at all is the empty set). Each CIDR is read as the
    /// apiserver reads an `ipBlock` CIDR ([`parse_cidr`](crate::policy::parse_cidr)):
    /// host bits are cleared.
    ///
    /// ```
    /// use netpol::cidr::IpSet;
    /// let set: IpSet = "10.0.0.0/9, 10.128.0.0/9,fd00::/8".parse()?;
    /// assert_eq!(set.to_string(), "10.0.0.0/8, fd00::/8");
    /// assert_eq!("".parse::<IpSet>()?, IpSet::new());
    /// assert_eq!("10.0.0.0/8, x".parse::<IpSet>().unwrap_err().text(), "x");
    /// # Ok::<(), netpol::policy::CidrError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Ok(IpSet::new());
        }
        s.split(',')
            .map(|entry| crate::policy::parse_cidr(entry.trim()))
            .collect()
    }
}

impl fmt::Display for IpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(&net, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for IpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for IpSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for IpSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let nets = Vec::<IpNet>::deserialize(d)?;
        Ok(nets.into_iter().collect())
    }
}

/// Iterator over the minimal prefixes of an [`IpSet`]; see [`IpSet::iter`].
///
/// ```
/// use ipnet::IpNet;
/// let set = netpol::cidr::IpSet::from("10.0.0.0/8".parse::<IpNet>()?);
/// let mut it: netpol::cidr::ip_set::Iter<'_> = set.iter();
/// assert_eq!(it.next(), Some("10.0.0.0/8".parse()?));
/// assert_eq!(it.next(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    v4: core::slice::Iter<'a, (u32, u32)>,
    v6: core::slice::Iter<'a, (u128, u128)>,
    /// Remaining part of the current range: `(lo, hi, is_v6)`.
    cur: Option<(u128, u128, bool)>,
}

impl Iterator for Iter<'_> {
    type Item = IpNet;

    fn next(&mut self) -> Option<IpNet> {
        loop {
            if let Some((lo, hi, v6)) = self.cur {
                let width = if v6 { 128 } else { 32 };
                let (len, next) = first_block(lo, hi, width);
                self.cur = next.map(|n| (n, hi, v6));
                let net = if v6 {
                    Ipv6Net::new(Ipv6Addr::from_bits(lo), len)
                        .ok()
                        .map(IpNet::V6)
                } else {
                    u32::narrow(lo)
                        .and_then(|a| Ipv4Net::new(Ipv4Addr::from_bits(a), len).ok())
                        .map(IpNet::V4)
                };
                if net.is_some() {
                    return net;
                }
                continue;
            }
            if let Some(&(lo, hi)) = self.v4.next() {
                self.cur = Some((lo.widen(), hi.widen(), false));
            } else if let Some(&(lo, hi)) = self.v6.next() {
                self.cur = Some((lo, hi, true));
            } else {
                return None;
            }
        }
    }
}
