//! Address sets and longest-prefix-match maps (placeholder: one hash table per length).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

/// A longest-prefix-match map.
#[derive(Debug, Clone)]
pub struct PrefixMap<V> {
    by_len: Vec<(bool, u8, HashMap<u128, V>)>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap { by_len: Vec::new() }
    }
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mask(v6: bool, len: u8, x: u128) -> u128 {
    let width = if v6 { 128 } else { 32 };
    if len == 0 {
        0
    } else {
        x >> (width - u32::from(len)) << (width - u32::from(len))
    }
}

impl<V> FromIterator<(IpNet, V)> for PrefixMap<V> {
    fn from_iter<I: IntoIterator<Item = (IpNet, V)>>(iter: I) -> Self {
        let mut m = PrefixMap::default();
        for (net, v) in iter {
            let v6 = net.addr().is_ipv6();
            let len = net.prefix_len();
            let k = mask(v6, len, bits(net.addr()));
            match m.by_len.iter_mut().find(|(f, l, _)| *f == v6 && *l == len) {
                Some((_, _, t)) => {
                    t.insert(k, v);
                }
                None => {
                    let mut t = HashMap::new();
                    t.insert(k, v);
                    m.by_len.push((v6, len, t));
                }
            }
        }
        m.by_len.sort_by_key(|e| std::cmp::Reverse(e.1));
        m
    }
}

impl<V> PrefixMap<V> {
    /// Longest-prefix lookup.
    pub fn lookup(&self, addr: IpAddr) -> Option<&V> {
        let v6 = addr.is_ipv6();
        let x = bits(addr);
        self.by_len
            .iter()
            .filter(|(f, _, _)| *f == v6)
            .find_map(|(_, len, t)| t.get(&mask(v6, *len, x)))
    }
}
