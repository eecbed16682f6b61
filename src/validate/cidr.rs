//! CIDR parsing exactly as the apiserver reads `ipBlock` CIDRs with default feature gates.
//!
//! `ipBlock.cidr` and `ipBlock.except` are "legacy" fields: with the `StrictIPCIDRValidation`
//! gate off (its default up to the current release), the apiserver accepts whatever
//! `k8s.io/utils/net.ParseCIDRSloppy` accepts. That parser is Go 1.16's `net.ParseCIDR`,
//! kept for compatibility:
//!
//! - IPv4 octets may have leading zeros, read as decimal (`010.0.0.0/8` is `10.0.0.0/8`);
//! - the prefix length may have leading zeros (`10.0.0.0/008`) but no sign or spaces;
//! - bits set after the prefix are allowed and cleared (`10.244.1.1/4` is `0.0.0.0/4`);
//! - IPv6 hex groups may have more than four digits when the extra ones are leading zeros;
//! - IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`) is accepted; Go's `IPNet.Contains` then
//!   treats a network whose masked address is IPv4-mapped as the IPv4 network with 96
//!   fewer prefix bits;
//! - zones (`fe80::1%eth0/64`) and anything else are refused.

/// A parsed network as Go's `*net.IPNet` holds it: the masked address (4 or 16 bytes) and
/// the prefix length over the written family (32 or 128 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoIpNet {
    /// The masked address, in 16 bytes; only the last 4 count when `v4` is set.
    addr: [u8; 16],
    /// Whether the address was written as IPv4 (4-byte address and mask).
    v4: bool,
    /// The prefix length as written.
    prefix: u32,
}

const BIG: u32 = 0x00FF_FFFF;

/// Go's `dtoi`: decimal digits at the start; `None` when there are none or they overflow.
fn dtoi(s: &[u8]) -> Option<(u32, usize)> {
    let mut n: u32 = 0;
    let mut i = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n * 10 + u32::from(c - b'0');
        if n >= BIG {
            return None;
        }
        i += 1;
    }
    if i == 0 { None } else { Some((n, i)) }
}

/// Go's `xtoi`: hex digits at the start.
fn xtoi(s: &[u8]) -> Option<(u32, usize)> {
    let mut n: u32 = 0;
    let mut i = 0;
    while let Some(d) = s.get(i).and_then(|c| char::from(*c).to_digit(16)) {
        n = n * 16 + d;
        if n >= BIG {
            return None;
        }
        i += 1;
    }
    if i == 0 { None } else { Some((n, i)) }
}

fn parse_ipv4(mut s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        if s.is_empty() {
            return None;
        }
        if i > 0 {
            s = s.strip_prefix(b".")?;
        }
        let (n, c) = dtoi(s)?;
        *slot = u8::try_from(n).ok()?;
        s = s.get(c..)?;
    }
    if s.is_empty() { Some(out) } else { None }
}

fn parse_ipv6(mut s: &[u8]) -> Option<[u8; 16]> {
    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;
    if s.starts_with(b"::") {
        ellipsis = Some(0);
        s = s.get(2..)?;
        if s.is_empty() {
            return Some(ip);
        }
    }
    let mut i = 0usize;
    while i < 16 {
        let (n, c) = xtoi(s)?;
        if n > 0xFFFF {
            return None;
        }
        if s.get(c) == Some(&b'.') {
            if ellipsis.is_none() && i != 12 {
                return None;
            }
            if i + 4 > 16 {
                return None;
            }
            let v4 = parse_ipv4(s)?;
            for (k, b) in v4.iter().enumerate() {
                *ip.get_mut(i + k)? = *b;
            }
            s = &[];
            i += 4;
            break;
        }
        let [hi, lo] = u16::try_from(n).ok()?.to_be_bytes();
        *ip.get_mut(i)? = hi;
        *ip.get_mut(i + 1)? = lo;
        i += 2;
        s = s.get(c..)?;
        if s.is_empty() {
            break;
        }
        if s.first() != Some(&b':') || s.len() == 1 {
            return None;
        }
        s = s.get(1..)?;
        if s.first() == Some(&b':') {
            if ellipsis.is_some() {
                return None;
            }
            ellipsis = Some(i);
            s = s.get(1..)?;
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if i < 16 {
        let e = ellipsis?;
        let n = 16 - i;
        let mut out = [0u8; 16];
        for (j, b) in ip.iter().enumerate().take(i) {
            let dst = if j >= e { j + n } else { j };
            *out.get_mut(dst)? = *b;
        }
        ip = out;
    } else if ellipsis.is_some() {
        return None;
    }
    Some(ip)
}

/// A 128-bit value with the top `prefix` bits set.
fn mask_u128(prefix: u32) -> u128 {
    match 128u32.checked_sub(prefix) {
        Some(shift) if shift < 128 => u128::MAX << shift,
        Some(_) => 0,
        None => u128::MAX,
    }
}

/// A 32-bit value with the top `prefix` bits set.
fn mask_u32(prefix: u32) -> u32 {
    u32::try_from(mask_u128(prefix.min(32)) >> 96).unwrap_or(u32::MAX)
}

impl GoIpNet {
    /// Parses like `ParseCIDRSloppy`; `None` where it returns an error.
    pub(crate) fn parse(s: &str) -> Option<GoIpNet> {
        let b = s.as_bytes();
        let slash = b.iter().position(|c| *c == b'/')?;
        let (addr, mask) = (b.get(..slash)?, b.get(slash + 1..)?);
        let (ip, v4) = match parse_ipv4(addr) {
            Some(v4) => {
                let mapped = (0xffff_u128 << 32) | u128::from(u32::from_be_bytes(v4));
                (mapped.to_be_bytes(), true)
            }
            None => (parse_ipv6(addr)?, false),
        };
        let (n, used) = dtoi(mask)?;
        let bits = if v4 { 32 } else { 128 };
        if used != mask.len() || n > bits {
            return None;
        }
        let full = u128::from_be_bytes(ip);
        let masked = if v4 {
            // Only the IPv4 part is masked; the result is a 4-byte address.
            (full & !u128::from(u32::MAX)) | (full & u128::from(mask_u32(n)))
        } else {
            full & mask_u128(n)
        };
        Some(GoIpNet {
            addr: masked.to_be_bytes(),
            v4,
            prefix: n,
        })
    }

    /// The prefix length as written (`Mask.Size()`).
    pub(crate) fn prefix(&self) -> u32 {
        self.prefix
    }

    /// The 4 bytes of the address when Go's `To4` yields them: an address written as IPv4,
    /// or an IPv4-mapped IPv6 address.
    fn to4(&self) -> Option<u32> {
        let v = u128::from_be_bytes(self.addr);
        if self.v4 || v >> 32 == 0xffff {
            u32::try_from(v & u128::from(u32::MAX)).ok()
        } else {
            None
        }
    }

    /// The network as Go's `IPNet.Contains` sees it: an IPv4 network (address, prefix) or
    /// an IPv6 one.
    fn effective(&self) -> Effective {
        match self.to4() {
            Some(a) => {
                let p = if self.v4 {
                    self.prefix
                } else {
                    self.prefix.saturating_sub(96)
                };
                Effective::V4(a, p)
            }
            None => Effective::V6(u128::from_be_bytes(self.addr), self.prefix),
        }
    }

    /// Go's `n.Contains(other.IP)`: whether the network address of `other` lies in `self`.
    pub(crate) fn contains_network_of(&self, other: &GoIpNet) -> bool {
        let ip = match other.to4() {
            Some(a) => Effective::V4(a, 0),
            None => Effective::V6(u128::from_be_bytes(other.addr), 0),
        };
        match (self.effective(), ip) {
            (Effective::V4(n, p), Effective::V4(a, _)) => {
                let m = mask_u32(p);
                n & m == a & m
            }
            (Effective::V6(n, p), Effective::V6(a, _)) => {
                let m = mask_u128(p);
                n & m == a & m
            }
            _ => false,
        }
    }

    /// The network as an [`ipnet::IpNet`], with the meaning Go gives it.
    pub(crate) fn to_ipnet(self) -> Option<ipnet::IpNet> {
        match self.effective() {
            Effective::V4(a, p) => {
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(a), u8::try_from(p).ok()?)
                    .ok()
                    .map(|n| ipnet::IpNet::V4(n.trunc()))
            }
            Effective::V6(a, p) => {
                ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(a), u8::try_from(p).ok()?)
                    .ok()
                    .map(|n| ipnet::IpNet::V6(n.trunc()))
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Effective {
    V4(u32, u32),
    V6(u128, u32),
}

#[cfg(test)]
mod tests {
    use super::GoIpNet;

    fn net(s: &str) -> Option<String> {
        GoIpNet::parse(s)
            .and_then(|n| n.to_ipnet())
            .map(|n| n.to_string())
    }

    #[test]
    fn accepts_what_parse_cidr_sloppy_accepts() {
        assert_eq!(net("10.0.0.0/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("10.244.1.1/4").as_deref(), Some("0.0.0.0/4"));
        assert_eq!(net("010.000.001.002/24").as_deref(), Some("10.0.1.0/24"));
        assert_eq!(net("10.0.0.0/008").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(net("2001:db8::/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(net("2001:DB8::1/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(net("::/0").as_deref(), Some("::/0"));
        assert_eq!(net("::1/128").as_deref(), Some("::1/128"));
        assert_eq!(net("00002001:db8::/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(net("1:2:3:4:5:6:7:8/64").as_deref(), Some("1:2:3:4::/64"));
        assert_eq!(net("::ffff:10.1.2.3/104").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(net("::ffff:10.1.2.3/88").as_deref(), Some("::ff00:0:0/88"));
        assert_eq!(net("64:ff9b::1.2.3.4/96").as_deref(), Some("64:ff9b::/96"));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            " 10.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0.0/8",
            "256.0.0.0/8",
            "10.0.0.0/8/8",
            "::/129",
            "fe80::1%eth0/64",
            "1:2:3:4:5:6:7:8:9/64",
            "1::2::3/64",
            ":1::/64",
            "1:2:3:4:5:6:7::8/64",
            "::ffff:1.2.3/96",
            "1:2:3:4:5:6:7:1.2.3.4/96",
            "1:2:3:4:5:6:1.2.3.4/96x",
            "10.0.0.0/99999999999",
            "0x10.0.0.0/8",
            "10.0.0.0/0x8",
            "12345::/16",
        ] {
            assert_eq!(net(bad), None, "{bad:?} should be refused");
        }
        assert!(GoIpNet::parse("1:2:3:4:5:6:1.2.3.4/96").is_some());
    }

    #[test]
    fn contains_like_go() {
        let p = |s| GoIpNet::parse(s).unwrap();
        assert!(p("10.0.0.0/8").contains_network_of(&p("10.1.0.0/16")));
        assert!(!p("10.0.0.0/8").contains_network_of(&p("11.0.0.0/16")));
        assert!(!p("0.0.0.0/0").contains_network_of(&p("::/1")));
        assert!(!p("::/0").contains_network_of(&p("10.0.0.0/8")));
        assert!(p("::/0").contains_network_of(&p("2001:db8::/32")));
        // Mapped forms meet plain IPv4 the way Go's To4 makes them.
        assert!(p("10.0.0.0/8").contains_network_of(&p("::ffff:10.1.0.0/112")));
        assert!(p("::ffff:10.0.0.0/104").contains_network_of(&p("10.1.0.0/16")));
    }
}
