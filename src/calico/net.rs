//! CIDRs and addresses as Calico's Go code reads them: Go's `net.ParseCIDR` (no leading
//! zeros in IPv4 octets, no zones, decimal prefix lengths with leading zeros allowed) and
//! Calico's `ParseCIDROrIP` (a bare address is a full-length network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A network as Go's `net.ParseCIDR` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoCidr {
    /// The address as written, in 16 bytes (IPv4 as IPv4-mapped).
    addr: u128,
    /// Whether the address was written as IPv4 (a 32-bit mask).
    is4: bool,
    /// The prefix length, over 32 or 128 bits.
    prefix: u8,
}

const V4_MAPPED: u128 = 0xffff << 32;

fn mask128(prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix.min(128))
    }
}

impl GoCidr {
    fn masked(&self) -> u128 {
        let bits = if self.is4 {
            u32::from(self.prefix) + 96
        } else {
            u32::from(self.prefix)
        };
        if self.is4 {
            (self.addr & mask128(bits)) | V4_MAPPED
        } else {
            self.addr & mask128(bits)
        }
    }

    /// Whether no bit is set after the prefix (Calico's `net` tag: the masked network
    /// prints as the address).
    pub(crate) fn is_masked(&self) -> bool {
        self.masked() == self.addr
    }

    /// Calico's `IPNet.Version()` of the masked network: 4 when Go's `To4` succeeds on it.
    pub(crate) fn version(&self) -> u8 {
        if self.is4 || self.masked() >> 32 == 0xffff {
            4
        } else {
            6
        }
    }

    /// Whether this is IPv6's catch-all `::/0` as Calico's validator compares it (any
    /// spelling of a /0 over 128 bits).
    pub(crate) fn is_v6_catch_all(&self) -> bool {
        self.version() == 6 && self.prefix == 0
    }

    /// The network as Go's `IPNet.String()` (and so Felix) reads it: an IPv4 network when
    /// the masked address is IPv4 or IPv4-mapped, with the prefix taken over IPv4.
    pub(crate) fn network(&self) -> IpNet {
        let masked = self.masked();
        if self.is4 || masked >> 32 == 0xffff {
            let prefix = if self.is4 {
                self.prefix
            } else {
                self.prefix.saturating_sub(96)
            };
            let v4 = Ipv4Addr::from(u32::try_from(masked & u128::from(u32::MAX)).unwrap_or(0));
            Ipv4Net::new(v4, prefix.min(32))
                .map(IpNet::V4)
                .unwrap_or_else(|_| IpNet::V4(Ipv4Net::default()))
        } else {
            Ipv6Net::new(Ipv6Addr::from(masked), self.prefix.min(128))
                .map(IpNet::V6)
                .unwrap_or_else(|_| IpNet::V6(Ipv6Net::default()))
        }
    }
}

/// Go's `netip.ParseAddr` without a zone (what `net.ParseIP` and `net.ParseCIDR` accept).
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// Go's `dtoi`: decimal digits, leading zeros allowed, below 0xFFFFFF.
fn dtoi(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|n| *n < 0x00FF_FFFF)
}

/// Go's `net.ParseCIDR`.
pub(crate) fn parse_cidr(s: &str) -> Option<GoCidr> {
    let (addr, mask) = s.split_once('/')?;
    let ip = parse_addr(addr)?;
    let n = dtoi(mask)?;
    let (addr, is4, bits) = match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) | V4_MAPPED, true, 32),
        IpAddr::V6(v6) => (u128::from(v6), false, 128),
    };
    if n > bits {
        return None;
    }
    Some(GoCidr {
        addr,
        is4,
        prefix: u8::try_from(n).ok()?,
    })
}

/// Calico's `ParseCIDROrIP`: a CIDR, or an address as a full-length network.
pub(crate) fn parse_cidr_or_ip(s: &str) -> Option<GoCidr> {
    if let Some(c) = parse_cidr(s) {
        return Some(c);
    }
    match parse_addr(s)? {
        IpAddr::V4(v4) => Some(GoCidr {
            addr: u128::from(u32::from(v4)) | V4_MAPPED,
            is4: true,
            prefix: 32,
        }),
        IpAddr::V6(v6) => {
            // `To4` makes an IPv4-mapped address an IPv4 one, with a 32-bit network.
            let a = u128::from(v6);
            if a >> 32 == 0xffff {
                Some(GoCidr {
                    addr: a,
                    is4: true,
                    prefix: 32,
                })
            } else {
                Some(GoCidr {
                    addr: a,
                    is4: false,
                    prefix: 128,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Option<String> {
        parse_cidr(s).map(|c| c.network().to_string())
    }

    #[test]
    fn parse_cidr_follows_go() {
        assert_eq!(net("10.0.0.0/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("10.0.0.0/08").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("::ffff:10.0.0.0/104").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("fd00::/8").as_deref(), Some("fd00::/8"));
        for bad in [
            "010.0.0.0/8",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            " 10.0.0.0/8",
            "fe80::1%eth0/64",
            "::/129",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(net(bad), None, "{bad}");
        }
    }

    #[test]
    fn masks_versions_and_catch_alls() {
        assert!(parse_cidr("10.0.0.0/8").unwrap().is_masked());
        assert!(!parse_cidr("10.0.0.1/8").unwrap().is_masked());
        assert!(parse_cidr_or_ip("10.0.0.1").unwrap().is_masked());
        assert_eq!(parse_cidr("::ffff:10.0.0.0/104").unwrap().version(), 4);
        assert_eq!(parse_cidr("::ffff:10.0.0.0/80").unwrap().version(), 6);
        assert!(parse_cidr("0::/00").unwrap().is_v6_catch_all());
        assert!(!parse_cidr("0.0.0.0/0").unwrap().is_v6_catch_all());
        assert_eq!(
            parse_cidr_or_ip("::ffff:1.2.3.4")
                .unwrap()
                .network()
                .to_string(),
            "1.2.3.4/32"
        );
    }
}
