//! The subnets flannel's own subnet manager may lease: `SubnetMin..=SubnetMax`
//! stepping by `SubnetLen`.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The checked IPv4 part of a net-conf.json.
///
/// ```
/// use netpol::flannel::NetConf;
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/22", "Backend": {"Type": "vxlan"}}"#).unwrap();
/// let pool = parsed.config.ipv4.unwrap();
/// let leases: Vec<String> = pool.leases().map(|n| n.to_string()).collect();
/// assert_eq!(leases, ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
/// assert_eq!(pool.lease_count(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Pool {
    /// `Network`, with host bits cleared.
    pub network: Ipv4Net,
    /// `SubnetLen`, defaulted.
    pub subnet_len: u8,
    /// `SubnetMin`, defaulted to the second subnet.
    pub subnet_min: Ipv4Addr,
    /// `SubnetMax`, defaulted to the last subnet.
    pub subnet_max: Ipv4Addr,
}

impl Ipv4Pool {
    /// Every subnet flannel's subnet manager may lease, in address order.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"Network": "10.244.0.0/16"}"#).unwrap().config.ipv4.unwrap();
    /// assert_eq!(pool.leases().next().unwrap().to_string(), "10.244.1.0/24");
    /// assert_eq!(pool.leases().last().unwrap().to_string(), "10.244.255.0/24");
    /// ```
    #[must_use]
    pub fn leases(&self) -> Ipv4Leases {
        let shift = 32 - u32::from(self.subnet_len);
        let (lo, hi) = (u32::from(self.subnet_min), u32::from(self.subnet_max));
        let remaining = if hi >= lo {
            u64::from((hi - lo) >> shift) + 1
        } else {
            0
        };
        Ipv4Leases {
            next: lo,
            shift,
            len: self.subnet_len,
            remaining,
        }
    }

    /// How many subnets [`leases`](Self::leases) yields.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"Network": "10.244.0.0/16"}"#).unwrap().config.ipv4.unwrap();
    /// assert_eq!(pool.lease_count(), 255);
    /// ```
    #[must_use]
    pub fn lease_count(&self) -> u64 {
        self.leases().remaining
    }
}

/// Iterator over an [`Ipv4Pool`]'s leasable subnets.
///
/// ```
/// # use netpol::flannel::NetConf;
/// let pool = NetConf::parse(r#"{"Network": "10.244.0.0/16"}"#).unwrap().config.ipv4.unwrap();
/// let mut it = pool.leases();
/// assert_eq!(it.nth(9).unwrap().to_string(), "10.244.10.0/24");
/// assert_eq!(it.remaining(), 245);
/// ```
#[derive(Debug, Clone)]
pub struct Ipv4Leases {
    next: u32,
    shift: u32,
    len: u8,
    remaining: u64,
}

impl Ipv4Leases {
    /// How many subnets are left.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"Network": "10.0.0.0/8"}"#).unwrap().config.ipv4.unwrap();
    /// assert_eq!(pool.leases().remaining(), 65535);
    /// ```
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl Iterator for Ipv4Leases {
    type Item = Ipv4Net;

    fn next(&mut self) -> Option<Ipv4Net> {
        if self.remaining == 0 {
            return None;
        }
        let net = Ipv4Net::new(Ipv4Addr::from(self.next), self.len).ok();
        self.remaining -= 1;
        self.next = self
            .next
            .wrapping_add(1u32.checked_shl(self.shift).unwrap_or(0));
        net
    }

    fn nth(&mut self, n: usize) -> Option<Ipv4Net> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if n >= self.remaining {
            self.remaining = 0;
            return None;
        }
        self.remaining -= n;
        // n < 2^32 here because remaining never exceeds 2^30 + 1.
        let step = u32::try_from(n).unwrap_or(0).wrapping_shl(self.shift);
        self.next = self.next.wrapping_add(step);
        self.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}

/// The checked IPv6 part of a net-conf.json.
///
/// ```
/// use netpol::flannel::NetConf;
/// let parsed = NetConf::parse(r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48"}"#).unwrap();
/// let pool = parsed.config.ipv6.unwrap();
/// assert_eq!(pool.subnet_len, 64);
/// assert_eq!(pool.lease_count(), 65535);
/// assert_eq!(pool.leases().next().unwrap().to_string(), "fc00:0:0:1::/64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Pool {
    /// `IPv6Network`, with host bits cleared.
    pub network: Ipv6Net,
    /// `IPv6SubnetLen`, defaulted.
    pub subnet_len: u8,
    /// `IPv6SubnetMin`, defaulted to the second subnet.
    pub subnet_min: Ipv6Addr,
    /// `IPv6SubnetMax`, defaulted to the last subnet.
    pub subnet_max: Ipv6Addr,
}

impl Ipv6Pool {
    /// Every subnet flannel's subnet manager may lease, in address order, computed
    /// lazily (a /32 split into /64s has 2^32 - 1 of them).
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"EnableIPv6": true, "EnableIPv4": false, "IPv6Network": "2001:db8::/32"}"#)
    ///     .unwrap().config.ipv6.unwrap();
    /// assert_eq!(pool.lease_count(), (1u128 << 32) - 1);
    /// assert_eq!(pool.leases().nth(1).unwrap().to_string(), "2001:db8:0:2::/64");
    /// ```
    #[must_use]
    pub fn leases(&self) -> Ipv6Leases {
        let shift = 128 - u32::from(self.subnet_len);
        let (lo, hi) = (u128::from(self.subnet_min), u128::from(self.subnet_max));
        let remaining = if hi >= lo {
            ((hi - lo) >> shift) + 1
        } else {
            0
        };
        Ipv6Leases {
            next: lo,
            shift,
            len: self.subnet_len,
            remaining,
        }
    }

    /// How many subnets [`leases`](Self::leases) yields.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"EnableIPv6": true, "IPv6Network": "fc00::/62", "Network": "10.0.0.0/8"}"#)
    ///     .unwrap().config.ipv6.unwrap();
    /// assert_eq!(pool.subnet_len, 64);
    /// assert_eq!(pool.lease_count(), 3);
    /// ```
    #[must_use]
    pub fn lease_count(&self) -> u128 {
        self.leases().remaining
    }
}

/// Iterator over an [`Ipv6Pool`]'s leasable subnets.
///
/// ```
/// # use netpol::flannel::NetConf;
/// let pool = NetConf::parse(r#"{"EnableIPv6": true, "EnableIPv4": false, "IPv6Network": "fc00::/48"}"#)
///     .unwrap().config.ipv6.unwrap();
/// let mut it = pool.leases();
/// it.next();
/// assert_eq!(it.remaining(), 65534);
/// ```
#[derive(Debug, Clone)]
pub struct Ipv6Leases {
    next: u128,
    shift: u32,
    len: u8,
    remaining: u128,
}

impl Ipv6Leases {
    /// How many subnets are left.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let pool = NetConf::parse(r#"{"EnableIPv6": true, "EnableIPv4": false, "IPv6Network": "fc00::/120"}"#)
    ///     .unwrap().config.ipv6.unwrap();
    /// assert_eq!(pool.subnet_len, 122);
    /// assert_eq!(pool.leases().remaining(), 3);
    /// ```
    #[must_use]
    pub fn remaining(&self) -> u128 {
        self.remaining
    }
}

impl Iterator for Ipv6Leases {
    type Item = Ipv6Net;

    fn next(&mut self) -> Option<Ipv6Net> {
        if self.remaining == 0 {
            return None;
        }
        let net = Ipv6Net::new(Ipv6Addr::from(self.next), self.len).ok();
        self.remaining -= 1;
        self.next = self
            .next
            .wrapping_add(1u128.checked_shl(self.shift).unwrap_or(0));
        net
    }

    fn nth(&mut self, n: usize) -> Option<Ipv6Net> {
        let n = n as u128;
        if n >= self.remaining {
            self.remaining = 0;
            return None;
        }
        self.remaining -= n;
        self.next = self.next.wrapping_add(n.wrapping_shl(self.shift));
        self.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}
