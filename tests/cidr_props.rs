//! Property tests: `PrefixMap` and `IpSet` against naive models.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netpol::cidr::{IpSet, PrefixMap};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A few fixed addresses so that generated prefixes nest and overlap often.
const SEEDS4: [u32; 4] = [0x0a00_0000, 0x0a01_0203, 0xc0a8_0000, 0xffff_ffff];
const SEEDS6: [u128; 3] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0000,
    0x2001_0db8_0001_0002_0000_0000_0000_0001,
    0xfd00_0000_0000_0000_0000_0000_0000_0000,
];

fn v4_len() -> impl Strategy<Value = u8> {
    prop_oneof![
        1 => Just(0u8),
        1 => Just(32u8),
        2 => 1u8..=15,
        4 => 16u8..=24,
        2 => 25u8..=31,
    ]
}

fn v6_len() -> impl Strategy<Value = u8> {
    prop_oneof![
        1 => Just(0u8),
        1 => Just(128u8),
        2 => 1u8..=31,
        4 => 32u8..=64,
        2 => 65u8..=127,
    ]
}

fn v4_addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        prop::sample::select(&SEEDS4[..]),
        (prop::sample::select(&SEEDS4[..]), any::<u16>()).prop_map(|(s, b)| s ^ u32::from(b)),
    ]
}

fn v6_addr() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u128>(),
        prop::sample::select(&SEEDS6[..]),
        (prop::sample::select(&SEEDS6[..]), any::<u64>())
            .prop_map(|(s, b)| s ^ (u128::from(b) << 40)),
    ]
}

fn net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        3 => (v4_addr(), v4_len()).prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from_bits(a), l).unwrap())),
        1 => (v6_addr(), v6_len()).prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from_bits(a), l).unwrap())),
    ]
}

/// An address inside `net`: its low bits replaced by `noise`.
fn inside(net: &IpNet, noise: u128) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = !u32::from(n.netmask());
            IpAddr::V4(Ipv4Addr::from_bits(
                n.network().to_bits() | (noise as u32 & host),
            ))
        }
        IpNet::V6(n) => {
            let host = !u128::from(n.netmask());
            IpAddr::V6(Ipv6Addr::from_bits(n.network().to_bits() | (noise & host)))
        }
    }
}

/// Probe addresses: uniform ones, and for each prefix its first and last
/// address and one inside it.
fn probes(nets: &[IpNet], uniform: &[(u32, u128)]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for &(a, b) in uniform {
        out.push(IpAddr::V4(Ipv4Addr::from_bits(a)));
        out.push(IpAddr::V6(Ipv6Addr::from_bits(b)));
    }
    for (i, n) in nets.iter().enumerate() {
        out.push(n.network());
        out.push(n.broadcast());
        let (a, b) = uniform
            .get(i % uniform.len().max(1))
            .copied()
            .unwrap_or((7, 7));
        out.push(inside(n, u128::from(a) ^ b));
    }
    out
}

/// The naive model: later equal prefixes replace earlier ones; the longest
/// containing prefix wins.
#[derive(Default)]
struct Model(Vec<(IpNet, u32)>);

impl Model {
    fn insert(&mut self, net: IpNet, v: u32) -> Option<u32> {
        let net = net.trunc();
        if let Some(e) = self.0.iter_mut().find(|e| e.0 == net) {
            return Some(std::mem::replace(&mut e.1, v));
        }
        self.0.push((net, v));
        None
    }

    fn remove(&mut self, net: &IpNet) -> Option<u32> {
        let net = net.trunc();
        let i = self.0.iter().position(|e| e.0 == net)?;
        Some(self.0.remove(i).1)
    }

    fn longest(&self, addr: IpAddr) -> Option<(IpNet, u32)> {
        self.0
            .iter()
            .filter(|(n, _)| n.contains(&addr))
            .max_by_key(|(n, _)| n.prefix_len())
            .copied()
    }
}

fn check_against(
    map: &PrefixMap<u32>,
    model: &Model,
    addrs: &[IpAddr],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(map.len(), model.0.len());
    for &a in addrs {
        let want = model.longest(a);
        prop_assert_eq!(
            map.longest_match(a).map(|(n, v)| (n, *v)),
            want,
            "addr {}",
            a
        );
        prop_assert_eq!(map.lookup(a).copied(), want.map(|w| w.1), "addr {}", a);
        match a {
            IpAddr::V4(a4) => prop_assert_eq!(map.lookup_v4(a4).copied(), want.map(|w| w.1)),
            IpAddr::V6(a6) => prop_assert_eq!(map.lookup_v6(a6).copied(), want.map(|w| w.1)),
        }
    }
    for (n, v) in &model.0 {
        prop_assert_eq!(map.get(n).copied(), Some(*v));
    }
    let mut sorted: Vec<(IpNet, u32)> = model.0.clone();
    sorted.sort_by_key(|(n, _)| match n {
        IpNet::V4(n) => (0u8, u128::from(n.network().to_bits()), n.prefix_len()),
        IpNet::V6(n) => (1u8, n.network().to_bits(), n.prefix_len()),
    });
    let got: Vec<(IpNet, u32)> = map.iter().map(|(n, v)| (n, *v)).collect();
    prop_assert_eq!(got, sorted);
    Ok(())
}

proptest! {
    #[test]
    fn map_incremental_matches_model(
        nets in prop::collection::vec(net(), 0..120),
        uniform in prop::collection::vec((any::<u32>(), any::<u128>()), 1..40),
    ) {
        let mut map = PrefixMap::new();
        let mut model = Model::default();
        for (i, n) in nets.iter().enumerate() {
            prop_assert_eq!(map.insert(*n, i as u32), model.insert(*n, i as u32));
        }
        check_against(&map, &model, &probes(&nets, &uniform))?;
    }

    #[test]
    fn map_batch_matches_model(
        nets in prop::collection::vec(net(), 0..300),
        uniform in prop::collection::vec((any::<u32>(), any::<u128>()), 1..40),
    ) {
        let map: PrefixMap<u32> = nets.iter().enumerate().map(|(i, n)| (*n, i as u32)).collect();
        let mut model = Model::default();
        for (i, n) in nets.iter().enumerate() {
            model.insert(*n, i as u32);
        }
        check_against(&map, &model, &probes(&nets, &uniform))?;
    }

    #[test]
    fn map_mixed_updates_match_model(
        first in prop::collection::vec(net(), 0..200),
        ops in prop::collection::vec((net(), any::<bool>(), any::<prop::sample::Index>()), 0..60),
        uniform in prop::collection::vec((any::<u32>(), any::<u128>()), 1..20),
    ) {
        let mut map: PrefixMap<u32> = first.iter().enumerate().map(|(i, n)| (*n, i as u32)).collect();
        let mut model = Model::default();
        for (i, n) in first.iter().enumerate() {
            model.insert(*n, i as u32);
        }
        let mut all = first.clone();
        for (k, (n, remove, pick)) in ops.iter().enumerate() {
            let v = 10_000 + k as u32;
            if *remove && !all.is_empty() {
                let victim = all[pick.index(all.len())];
                prop_assert_eq!(map.remove(&victim), model.remove(&victim));
            } else {
                prop_assert_eq!(map.insert(*n, v), model.insert(*n, v));
                all.push(*n);
            }
        }
        check_against(&map, &model, &probes(&all, &uniform))?;
    }

    #[test]
    fn set_ops_match_membership(
        a in prop::collection::vec(net(), 0..30),
        b in prop::collection::vec(net(), 0..30),
        uniform in prop::collection::vec((any::<u32>(), any::<u128>()), 1..20),
    ) {
        let sa: IpSet = a.iter().copied().collect();
        let sb: IpSet = b.iter().copied().collect();
        let in_a = |x: &IpAddr| a.iter().any(|n| n.contains(x));
        let in_b = |x: &IpAddr| b.iter().any(|n| n.contains(x));
        let u = sa.union(&sb);
        let i = sa.intersection(&sb);
        let d = sa.difference(&sb);
        let mut all = a.clone();
        all.extend(b.iter().copied());
        for x in probes(&all, &uniform) {
            prop_assert_eq!(sa.contains(x), in_a(&x), "a {}", x);
            prop_assert_eq!(u.contains(x), in_a(&x) || in_b(&x), "union {}", x);
            prop_assert_eq!(i.contains(x), in_a(&x) && in_b(&x), "intersection {}", x);
            prop_assert_eq!(d.contains(x), in_a(&x) && !in_b(&x), "difference {}", x);
        }
        for s in [&sa, &u, &i, &d] {
            assert_canonical(s)?;
        }
        prop_assert_eq!(sa.is_empty(), a.is_empty());
    }

    #[test]
    fn block_matches_membership(
        cidr in net(),
        excepts in prop::collection::vec(net(), 0..8),
        noise in prop::collection::vec(any::<u128>(), 1..20),
        uniform in prop::collection::vec((any::<u32>(), any::<u128>()), 1..10),
    ) {
        // Excepts drawn inside the block too, as Kubernetes requires.
        let mut ex = excepts.clone();
        for (k, n) in noise.iter().enumerate() {
            let a = inside(&cidr, *n);
            let extra = (k as u8) % 8 + 1;
            let max = cidr.max_prefix_len();
            let len = cidr.prefix_len().saturating_add(extra).min(max);
            ex.push(IpNet::new(a, len).unwrap().trunc());
        }
        let s = IpSet::from_block(cidr, &ex);
        let mut all = ex.clone();
        all.push(cidr);
        for x in probes(&all, &uniform) {
            let want = cidr.contains(&x) && !ex.iter().any(|e| e.contains(&x));
            prop_assert_eq!(s.contains(x), want, "addr {}", x);
        }
        assert_canonical(&s)?;
    }
}

/// The prefix list is sorted, none nested in another, no two siblings of
/// equal length that could merge, and it rebuilds the same set.
fn assert_canonical(s: &IpSet) -> Result<(), TestCaseError> {
    let list: Vec<IpNet> = s.iter().collect();
    for w in list.windows(2) {
        let (x, y) = (w[0], w[1]);
        prop_assert!(!x.contains(&y) && !y.contains(&x), "nested {} {}", x, y);
        let same_family = x.max_prefix_len() == y.max_prefix_len();
        if same_family {
            prop_assert!(x.network() < y.network(), "unsorted {} {}", x, y);
            if x.prefix_len() == y.prefix_len() && x.prefix_len() > 0 {
                prop_assert!(x.supernet() != y.supernet(), "mergeable {} {}", x, y);
            }
        }
    }
    let back: IpSet = list.iter().copied().collect();
    prop_assert_eq!(&back, s);
    let json = serde_json::to_string(s).unwrap();
    let parsed: IpSet = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&parsed, s);
    Ok(())
}

#[test]
fn large_incremental_build_matches_batch() {
    // Enough prefixes to walk through every top-level width and several
    // garbage-triggered rebuilds on the incremental path.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut nets = Vec::new();
    for _ in 0..20_000 {
        let r = next();
        let len = [8u8, 12, 16, 20, 22, 24, 24, 24, 28, 32][(r % 10) as usize];
        let a = Ipv4Addr::from_bits((r >> 32) as u32);
        nets.push(IpNet::V4(Ipv4Net::new(a, len).unwrap().trunc()));
    }
    let mut inc = PrefixMap::new();
    for (i, n) in nets.iter().enumerate() {
        inc.insert(*n, i);
    }
    let batch: PrefixMap<usize> = nets.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    assert_eq!(inc, batch);
    for _ in 0..100_000 {
        let a = IpAddr::V4(Ipv4Addr::from_bits(next() as u32));
        assert_eq!(inc.lookup(a), batch.lookup(a));
    }
    for n in nets.iter().take(2000) {
        let a = n.network();
        assert_eq!(inc.lookup(a), batch.lookup(a));
        assert!(inc.lookup(a).is_some());
    }
}
