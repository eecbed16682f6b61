//! IP address sets and the longest-prefix-match map.
//!
//! * [`PrefixMap`] maps IP prefixes (IPv4 and IPv6 in one value) to values and
//!   answers "which is the longest prefix containing this address" in a few
//!   nanoseconds, on a compiled poptrie-style multibit trie. The policy engine
//!   lowers `ipBlock`s into one of these: `cidr` and `except` entries become
//!   prefixes whose value is the set of blocks an address inside them is in.
//! * [`IpSet`] is a set of addresses with union, intersection and difference,
//!   built from prefixes or from an `ipBlock` (a CIDR minus its excepts), and
//!   printed or serialized as its minimal list of prefixes.
//!
//! Neither panics on any input, and both are `Send + Sync` when their contents
//! are.
//!
//! ```
//! use ipnet::IpNet;
//! use netpol::cidr::{IpSet, PrefixMap};
//!
//! let block = IpSet::from_block("10.0.0.0/8".parse()?, &["10.1.0.0/16".parse()?]);
//! let map: PrefixMap<&str> = block.iter().map(|net| (net, "block-0")).collect();
//! assert_eq!(map.lookup("10.2.3.4".parse()?), Some(&"block-0"));
//! assert_eq!(map.lookup("10.1.3.4".parse()?), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bits;
pub mod ip_set;
pub mod prefix_map;
mod trie;

pub use ip_set::IpSet;
pub use prefix_map::PrefixMap;

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;
    use std::net::IpAddr;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn send_sync() {
        fn check<T: Send + Sync>() {}
        check::<PrefixMap<u32>>();
        check::<IpSet>();
    }

    #[test]
    fn empty_map() {
        let m: PrefixMap<u8> = PrefixMap::new();
        assert_eq!(m.lookup(ip("0.0.0.0")), None);
        assert_eq!(m.lookup(ip("255.255.255.255")), None);
        assert_eq!(m.lookup(ip("::")), None);
        assert_eq!(m.longest_match(ip("1.2.3.4")), None);
        assert_eq!(m.iter().count(), 0);
        assert_eq!(format!("{m:?}"), "{}");
    }

    #[test]
    fn default_routes_and_host_routes() {
        let mut m = PrefixMap::new();
        m.insert(net("0.0.0.0/0"), 0);
        m.insert(net("::/0"), 100);
        m.insert(net("255.255.255.255/32"), 32);
        m.insert(net("0.0.0.0/32"), 33);
        m.insert(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), 128);
        m.insert(net("::/128"), 129);
        assert_eq!(m.lookup(ip("255.255.255.255")), Some(&32));
        assert_eq!(m.lookup(ip("255.255.255.254")), Some(&0));
        assert_eq!(m.lookup(ip("0.0.0.0")), Some(&33));
        assert_eq!(m.lookup(ip("0.0.0.1")), Some(&0));
        assert_eq!(
            m.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some(&128)
        );
        assert_eq!(m.lookup(ip("::")), Some(&129));
        assert_eq!(m.lookup(ip("::1")), Some(&100));
        assert_eq!(
            m.longest_match(ip("0.0.0.0")).map(|(n, _)| n),
            Some(net("0.0.0.0/32"))
        );
    }

    #[test]
    fn insert_truncates_and_replaces() {
        let mut m = PrefixMap::new();
        assert_eq!(m.insert(net("10.1.2.3/8"), 1), None);
        assert_eq!(m.insert(net("10.0.0.0/8"), 2), Some(1));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&net("10.9.9.9/8")), Some(&2));
        assert_eq!(m.iter().next().map(|(n, _)| n), Some(net("10.0.0.0/8")));
    }

    #[test]
    fn short_prefix_after_long_ones() {
        // A short prefix inserted after subtrees exist must reach every
        // subtree it covers, and not override longer ones.
        let mut m = PrefixMap::new();
        for i in 0..200u32 {
            let a = std::net::Ipv4Addr::from_bits(0x0a00_0000 | (i << 12));
            m.insert(IpNet::V4(ipnet::Ipv4Net::new(a, 24).unwrap()), i);
        }
        m.insert(net("10.0.0.0/8"), 1000);
        m.insert(net("0.0.0.0/0"), 2000);
        assert_eq!(m.lookup(ip("10.0.0.1")), Some(&0));
        assert_eq!(m.lookup(ip("10.0.1.1")), Some(&1000));
        assert_eq!(m.lookup(ip("10.0.16.1")), Some(&1));
        assert_eq!(m.lookup(ip("11.0.0.0")), Some(&2000));
        assert_eq!(m.remove(&net("10.0.0.0/8")), Some(1000));
        assert_eq!(m.lookup(ip("10.0.1.1")), Some(&2000));
        assert_eq!(m.lookup(ip("10.0.16.1")), Some(&1));
    }

    #[test]
    fn remove_every_prefix() {
        let nets = [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.1.0/24",
            "::/0",
            "fd00::/8",
        ];
        let mut m: PrefixMap<usize> = nets.iter().enumerate().map(|(i, s)| (net(s), i)).collect();
        for (i, s) in nets.iter().enumerate() {
            assert_eq!(m.remove(&net(s)), Some(i));
            assert_eq!(m.get(&net(s)), None);
            for s2 in &nets[i + 1..] {
                assert!(m.get(&net(s2)).is_some());
            }
        }
        assert!(m.is_empty());
        assert_eq!(m.lookup(ip("10.1.1.1")), None);
    }

    #[test]
    fn map_debug_and_eq() {
        let a: PrefixMap<i32> = [(net("10.0.0.0/8"), 1), (net("::/0"), 2)]
            .into_iter()
            .collect();
        let mut b = PrefixMap::new();
        b.insert(net("::/0"), 2);
        b.insert(net("10.0.0.0/8"), 1);
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), "{10.0.0.0/8: 1, ::/0: 2}");
    }

    #[test]
    fn set_full_space_and_edges() {
        let all4 = IpSet::from(net("0.0.0.0/0"));
        assert_eq!(all4.to_string(), "0.0.0.0/0");
        assert!(all4.contains(ip("255.255.255.255")));
        assert!(!all4.contains(ip("::")));
        let all6 = IpSet::from(net("::/0"));
        assert_eq!(all6.to_string(), "::/0");
        let both = all4.union(&all6);
        assert_eq!(both.iter().count(), 2);
        let top = IpSet::from_block(net("::/0"), &[net("::/1")]);
        assert_eq!(top.to_string(), "8000::/1");
        let last = IpSet::from_block(net("0.0.0.0/0"), &[net("0.0.0.0/1"), net("128.0.0.0/2")]);
        assert_eq!(last.to_string(), "192.0.0.0/2");
        let holes = IpSet::from_block(
            net("0.0.0.0/0"),
            &[net("0.0.0.0/32"), net("255.255.255.255/32")],
        );
        assert!(!holes.contains(ip("0.0.0.0")));
        assert!(holes.contains(ip("0.0.0.1")));
        assert!(!holes.contains(ip("255.255.255.255")));
        assert_eq!(holes.iter().count(), 62);
        assert!(IpSet::new().to_string().is_empty());
    }

    #[test]
    fn set_serde_roundtrip() {
        let s = IpSet::from_block(net("10.0.0.0/8"), &[net("10.0.0.0/9")])
            .union(&IpSet::from(net("fd00::/8")));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["10.128.0.0/9","fd00::/8"]"#);
        let back: IpSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let messy: IpSet =
            serde_json::from_str(r#"["10.0.0.0/9","10.128.0.0/9","10.1.0.0/16"]"#).unwrap();
        assert_eq!(messy.to_string(), "10.0.0.0/8");
        assert!(serde_json::from_str::<IpSet>(r#"["10.0.0.0/33"]"#).is_err());
    }

    #[test]
    fn except_outside_and_other_family() {
        let s = IpSet::from_block(
            net("10.0.0.0/8"),
            &[net("11.0.0.0/8"), net("::/0"), net("0.0.0.0/0")],
        );
        assert!(s.is_empty());
        let s = IpSet::from_block(net("10.0.0.0/8"), &[net("11.0.0.0/8"), net("::/0")]);
        assert_eq!(s.to_string(), "10.0.0.0/8");
    }
}
