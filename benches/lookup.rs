//! Longest-prefix-match lookup: `netpol::cidr::PrefixMap` against other
//! crates and two baselines, on the same prefixes and address streams.
//!
//! Run everything:
//!
//! ```text
//! cargo bench -p netpol-bench --bench lookup
//! ```
//!
//! Environment:
//! * `LOOKUP_SIZES=100,1000,10000` — IPv4 table sizes (default
//!   100,1000,10000,100000,500000);
//! * `LOOKUP_V6_SIZES=10000` — IPv6 table sizes (default 10000,100000);
//! * `LOOKUP_REPORT=0` — skip the build-time and memory table printed first.
//!
//! Criterion filters select groups, e.g. `cargo bench -p netpol-bench --bench lookup -- 'v4/hit/100000'`.
//!
//! Lookups are measured in batches of 1024 addresses per iteration and
//! reported per address. The linear scan runs only up to 10k prefixes, the
//! poptrie crate only up to 100k IPv4 and 10k IPv6 prefixes (its build is
//! too slow beyond).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BATCH: usize = 1024;
const LINEAR_MAX: usize = 10_000;
/// The poptrie crate's build time grows faster than linearly (about 13 s for
/// 100k prefixes here), so it is left out above this size.
const POPTRIE_MAX: usize = 100_000;
/// The same for IPv6, where its build is slower still (about 2 s for 10k).
const POPTRIE_V6_MAX: usize = 10_000;
const NONE: u32 = u32::MAX;

use netpol_bench::splitmix::Rng;

/// IPv4 prefix lengths: mostly /24, many /16–/22, some /23, few short and
/// few longer than /24.
fn v4_len(r: &mut Rng) -> u8 {
    match r.below(100) {
        0..=59 => 24,
        60..=84 => 16 + r.below(7) as u8,
        85..=92 => 23,
        93..=96 => 25 + r.below(8) as u8,
        _ => 8 + r.below(8) as u8,
    }
}

/// `n` distinct IPv4 prefixes, as `(network, length)`.
fn v4_prefixes(n: usize, seed: u64) -> Vec<(u32, u8)> {
    let mut r = Rng(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = v4_len(&mut r);
        let a = (r.next_u64() as u32) & (u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0));
        if seen.insert((a, len)) {
            out.push((a, len));
        }
    }
    out
}

/// `n` distinct IPv6 prefixes inside 2000::/3: mostly /48, the rest /32–/64.
fn v6_prefixes(n: usize, seed: u64) -> Vec<(u128, u8)> {
    let mut r = Rng(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = if r.below(10) < 7 {
            48
        } else {
            32 + r.below(33) as u8
        };
        let raw = (u128::from(r.next_u64()) << 64 | u128::from(r.next_u64())) >> 3 | (1u128 << 125);
        let a = raw & (u128::MAX << (128 - u32::from(len)));
        if seen.insert((a, len)) {
            out.push((a, len));
        }
    }
    out
}

fn v4_uniform(seed: u64) -> Vec<u32> {
    let mut r = Rng(seed);
    (0..BATCH).map(|_| r.next_u64() as u32).collect()
}

fn v4_hitting(p: &[(u32, u8)], seed: u64) -> Vec<u32> {
    let mut r = Rng(seed);
    (0..BATCH)
        .map(|_| {
            let (a, len) = p[r.below(p.len() as u64) as usize];
            let host = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            a | (r.next_u64() as u32 & host)
        })
        .collect()
}

fn v6_uniform(seed: u64) -> Vec<u128> {
    // Uniform over 2000::/3, where the prefixes are: the whole space would
    // miss every time.
    let mut r = Rng(seed);
    (0..BATCH)
        .map(|_| (u128::from(r.next_u64()) << 64 | u128::from(r.next_u64())) >> 3 | (1u128 << 125))
        .collect()
}

fn v6_hitting(p: &[(u128, u8)], seed: u64) -> Vec<u128> {
    let mut r = Rng(seed);
    (0..BATCH)
        .map(|_| {
            let (a, len) = p[r.below(p.len() as u64) as usize];
            let host = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            a | ((u128::from(r.next_u64()) << 64 | u128::from(r.next_u64())) & host)
        })
        .collect()
}

/// Sorted disjoint intervals, each with the value of the longest prefix
/// covering it; lookup is a binary search.
struct Intervals<K> {
    starts: Vec<K>,
    values: Vec<u32>,
}

impl Intervals<u32> {
    fn build(p: &[(u32, u8)]) -> Self {
        let mut sorted: Vec<(u32, u8, u32)> = p
            .iter()
            .enumerate()
            .map(|(i, &(a, l))| (a, l, i as u32))
            .collect();
        sorted.sort_unstable();
        let mut starts = vec![0u32];
        let mut values = vec![NONE];
        let emit = |pos: u64, v: u32, starts: &mut Vec<u32>, values: &mut Vec<u32>| {
            if pos > u64::from(u32::MAX) {
                return;
            }
            let pos = pos as u32;
            if *starts.last().unwrap() == pos {
                *values.last_mut().unwrap() = v;
            } else if *values.last().unwrap() != v {
                starts.push(pos);
                values.push(v);
            }
        };
        let mut stack: Vec<(u64, u32)> = Vec::new();
        for (a, l, v) in sorted {
            let end = u64::from(a) + (1u64 << (32 - l)) - 1;
            while let Some(&(te, _)) = stack.last() {
                if te >= u64::from(a) {
                    break;
                }
                stack.pop();
                let parent = stack.last().map_or(NONE, |x| x.1);
                emit(te + 1, parent, &mut starts, &mut values);
            }
            emit(u64::from(a), v, &mut starts, &mut values);
            stack.push((end, v));
        }
        while let Some((te, _)) = stack.pop() {
            let parent = stack.last().map_or(NONE, |x| x.1);
            emit(te + 1, parent, &mut starts, &mut values);
        }
        starts.shrink_to_fit();
        values.shrink_to_fit();
        Self { starts, values }
    }

    #[inline]
    fn lookup(&self, a: u32) -> u32 {
        let i = self.starts.partition_point(|&s| s <= a);
        self.values[i - 1]
    }
}

/// All IPv4 structures built over the same prefixes (value = prefix index).
struct V4Tables {
    ours: netpol::cidr::PrefixMap<u32>,
    prefix_trie: prefix_trie::PrefixMap<Ipv4Net, u32>,
    poptrie: Option<poptrie::Poptrie<(u32, u8), u32>>,
    iptrie: iptrie::map::RTrieMap<Ipv4Net, u32>,
    iptrie_lc: iptrie::map::LCTrieMap<Ipv4Net, u32>,
    treebitmap: ip_network_table::IpNetworkTable<u32>,
    intervals: Intervals<u32>,
    linear: Vec<(Ipv4Net, u32)>,
}

fn net4(a: u32, l: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from_bits(a), l).unwrap()
}

fn build_ours(p: &[(u32, u8)]) -> netpol::cidr::PrefixMap<u32> {
    p.iter()
        .enumerate()
        .map(|(i, &(a, l))| (IpNet::V4(net4(a, l)), i as u32))
        .collect()
}

fn build_ours_incremental(p: &[(u32, u8)]) -> netpol::cidr::PrefixMap<u32> {
    let mut m = netpol::cidr::PrefixMap::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(IpNet::V4(net4(a, l)), i as u32);
    }
    m
}

fn build_prefix_trie(p: &[(u32, u8)]) -> prefix_trie::PrefixMap<Ipv4Net, u32> {
    let mut m = prefix_trie::PrefixMap::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(net4(a, l), i as u32);
    }
    m
}

fn build_poptrie(p: &[(u32, u8)]) -> poptrie::Poptrie<(u32, u8), u32> {
    let mut m = poptrie::Poptrie::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert((a, l), i as u32);
    }
    m
}

fn build_iptrie(p: &[(u32, u8)]) -> iptrie::map::RTrieMap<Ipv4Net, u32> {
    let mut m = iptrie::map::RTrieMap::with_root(NONE);
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(net4(a, l), i as u32);
    }
    m
}

fn build_treebitmap(p: &[(u32, u8)]) -> ip_network_table::IpNetworkTable<u32> {
    let mut m = ip_network_table::IpNetworkTable::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        let n = ip_network::Ipv4Network::new(Ipv4Addr::from_bits(a), l).unwrap();
        m.insert(n, i as u32);
    }
    m
}

fn build_linear(p: &[(u32, u8)]) -> Vec<(Ipv4Net, u32)> {
    p.iter()
        .enumerate()
        .map(|(i, &(a, l))| (net4(a, l), i as u32))
        .collect()
}

impl V4Tables {
    fn build(p: &[(u32, u8)]) -> Self {
        Self {
            ours: build_ours(p),
            prefix_trie: build_prefix_trie(p),
            poptrie: (p.len() <= POPTRIE_MAX).then(|| build_poptrie(p)),
            iptrie: build_iptrie(p),
            iptrie_lc: build_iptrie(p).compress(),
            treebitmap: build_treebitmap(p),
            intervals: Intervals::build(p),
            linear: if p.len() <= LINEAR_MAX {
                build_linear(p)
            } else {
                Vec::new()
            },
        }
    }

    fn ours(&self, a: u32) -> u32 {
        self.ours
            .lookup_v4(Ipv4Addr::from_bits(a))
            .copied()
            .unwrap_or(NONE)
    }
    fn prefix_trie(&self, a: u32) -> u32 {
        let q = Ipv4Net::from(Ipv4Addr::from_bits(a));
        self.prefix_trie.get_lpm(&q).map_or(NONE, |(_, v)| *v)
    }
    fn poptrie(&self, a: u32) -> u32 {
        self.poptrie
            .as_ref()
            .and_then(|m| m.lookup(a).copied())
            .unwrap_or(NONE)
    }
    fn iptrie(&self, a: u32) -> u32 {
        *self.iptrie.lookup(&Ipv4Addr::from_bits(a)).1
    }
    fn iptrie_lc(&self, a: u32) -> u32 {
        *self.iptrie_lc.lookup(&Ipv4Addr::from_bits(a)).1
    }
    fn treebitmap(&self, a: u32) -> u32 {
        self.treebitmap
            .longest_match_ipv4(Ipv4Addr::from_bits(a))
            .map_or(NONE, |(_, v)| *v)
    }
    fn intervals(&self, a: u32) -> u32 {
        self.intervals.lookup(a)
    }
    fn linear(&self, a: u32) -> u32 {
        let ip = Ipv4Addr::from_bits(a);
        let mut best: Option<(u8, u32)> = None;
        for (n, v) in &self.linear {
            if n.contains(&ip) && best.is_none_or(|(l, _)| n.prefix_len() > l) {
                best = Some((n.prefix_len(), *v));
            }
        }
        best.map_or(NONE, |b| b.1)
    }
}

type V4Fn = fn(&V4Tables, u32) -> u32;

fn v4_contenders(n: usize) -> Vec<(&'static str, V4Fn)> {
    let mut v: Vec<(&'static str, V4Fn)> = vec![
        ("netpol", V4Tables::ours),
        ("ip_network_table", V4Tables::treebitmap),
        ("prefix-trie", V4Tables::prefix_trie),
        ("iptrie-radix", V4Tables::iptrie),
        ("iptrie-lctrie", V4Tables::iptrie_lc),
        ("sorted-intervals", V4Tables::intervals),
    ];
    if n <= POPTRIE_MAX {
        v.push(("poptrie", V4Tables::poptrie));
    }
    if n <= LINEAR_MAX {
        v.push(("linear-scan", V4Tables::linear));
    }
    v
}

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

/// Bytes still allocated at the end of a region. `stats_alloc` already adds
/// a reallocation's growth to `bytes_allocated` (and its shrinkage to
/// `bytes_deallocated`); `bytes_reallocated` is the same change again and
/// must not be added a second time.
fn live(stats: stats_alloc::Stats) -> isize {
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// Build time (best of 3) and live heap bytes per prefix after the build.
fn measure<T>(p_len: usize, build: impl Fn() -> T) -> (Duration, f64) {
    let mut best = Duration::MAX;
    let mut bytes = 0isize;
    for _ in 0..3 {
        let region = Region::new(GLOBAL);
        let t0 = Instant::now();
        let x = build();
        let el = t0.elapsed();
        bytes = live(region.change());
        drop(black_box(x));
        best = best.min(el);
    }
    (best, bytes as f64 / p_len as f64)
}

fn report() {
    if std::env::var("LOOKUP_REPORT").is_ok_and(|v| v == "0") {
        return;
    }
    println!("\n| structure | prefixes | build (ms) | heap bytes/prefix |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, n: usize, (d, b): (Duration, f64)| {
        println!("| {name} | {n} | {:.2} | {b:.1} |", d.as_secs_f64() * 1e3);
    };
    for n in sizes("LOOKUP_SIZES", &[100, 1_000, 10_000, 100_000, 500_000]) {
        let p = v4_prefixes(n, 42);
        row("netpol (collect)", n, measure(n, || build_ours(&p)));
        row(
            "netpol (insert one by one)",
            n,
            measure(n, || build_ours_incremental(&p)),
        );
        if n <= POPTRIE_MAX {
            row("poptrie", n, measure(n, || build_poptrie(&p)));
        }
        row("ip_network_table", n, measure(n, || build_treebitmap(&p)));
        row("prefix-trie", n, measure(n, || build_prefix_trie(&p)));
        row("iptrie-radix", n, measure(n, || build_iptrie(&p)));
        row(
            "iptrie-lctrie",
            n,
            measure(n, || build_iptrie(&p).compress()),
        );
        row("sorted-intervals", n, measure(n, || Intervals::build(&p)));
        if n <= LINEAR_MAX {
            row("linear-scan", n, measure(n, || build_linear(&p)));
        }
    }
    for n in sizes("LOOKUP_V6_SIZES", &[10_000, 100_000]) {
        let p = v6_prefixes(n, 7);
        row("v6 netpol (collect)", n, measure(n, || build_ours6(&p)));
        if n <= POPTRIE_V6_MAX {
            row("v6 poptrie", n, measure(n, || build_poptrie6(&p)));
        }
        row(
            "v6 ip_network_table",
            n,
            measure(n, || build_treebitmap6(&p)),
        );
        row("v6 prefix-trie", n, measure(n, || build_prefix_trie6(&p)));
        row(
            "v6 iptrie-lctrie",
            n,
            measure(n, || build_iptrie6(&p).compress()),
        );
    }
    println!();
}

fn bench_v4(c: &mut Criterion) {
    report();
    for n in sizes("LOOKUP_SIZES", &[100, 1_000, 10_000, 100_000, 500_000]) {
        let p = v4_prefixes(n, 42);
        let t = V4Tables::build(&p);
        for (stream, addrs) in [("uniform", v4_uniform(1)), ("hit", v4_hitting(&p, 2))] {
            // Every structure must give the same answers before it is timed.
            let want: Vec<u32> = addrs.iter().map(|&a| t.intervals(a)).collect();
            for (name, f) in v4_contenders(n) {
                let got: Vec<u32> = addrs.iter().map(|&a| f(&t, a)).collect();
                assert_eq!(got, want, "{name} disagrees at n={n} ({stream})");
            }
            let mut g = c.benchmark_group(format!("v4/{stream}/{n}"));
            g.throughput(Throughput::Elements(BATCH as u64));
            for (name, f) in v4_contenders(n) {
                g.bench_with_input(BenchmarkId::from_parameter(name), &addrs, |b, addrs| {
                    b.iter(|| {
                        let mut acc = 0u32;
                        for &a in addrs {
                            acc = acc.wrapping_add(f(&t, black_box(a)));
                        }
                        acc
                    })
                });
            }
            g.finish();
        }
    }
}

fn net6(a: u128, l: u8) -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::from_bits(a), l).unwrap()
}

fn build_ours6(p: &[(u128, u8)]) -> netpol::cidr::PrefixMap<u32> {
    p.iter()
        .enumerate()
        .map(|(i, &(a, l))| (IpNet::V6(net6(a, l)), i as u32))
        .collect()
}

fn build_poptrie6(p: &[(u128, u8)]) -> poptrie::Poptrie<(u128, u8), u32> {
    let mut m = poptrie::Poptrie::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert((a, l), i as u32);
    }
    m
}

fn build_treebitmap6(p: &[(u128, u8)]) -> ip_network_table::IpNetworkTable<u32> {
    let mut m = ip_network_table::IpNetworkTable::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(
            ip_network::Ipv6Network::new(Ipv6Addr::from_bits(a), l).unwrap(),
            i as u32,
        );
    }
    m
}

fn build_prefix_trie6(p: &[(u128, u8)]) -> prefix_trie::PrefixMap<Ipv6Net, u32> {
    let mut m = prefix_trie::PrefixMap::new();
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(net6(a, l), i as u32);
    }
    m
}

fn build_iptrie6(p: &[(u128, u8)]) -> iptrie::map::RTrieMap<Ipv6Net, u32> {
    let mut m = iptrie::map::RTrieMap::with_root(NONE);
    for (i, &(a, l)) in p.iter().enumerate() {
        m.insert(net6(a, l), i as u32);
    }
    m
}

fn bench_v6(c: &mut Criterion) {
    for n in sizes("LOOKUP_V6_SIZES", &[10_000, 100_000]) {
        let p = v6_prefixes(n, 7);
        let ours = build_ours6(&p);
        let pop = (n <= POPTRIE_V6_MAX).then(|| build_poptrie6(&p));
        let tbm = build_treebitmap6(&p);
        let pt = build_prefix_trie6(&p);
        let lc = build_iptrie6(&p).compress();
        type F<'a> = Box<dyn Fn(u128) -> u32 + 'a>;
        let contenders: Vec<(&str, F<'_>)> = vec![
            (
                "netpol",
                Box::new(|a| {
                    ours.lookup_v6(Ipv6Addr::from_bits(a))
                        .copied()
                        .unwrap_or(NONE)
                }),
            ),
            (
                "ip_network_table",
                Box::new(|a| {
                    tbm.longest_match_ipv6(Ipv6Addr::from_bits(a))
                        .map_or(NONE, |(_, v)| *v)
                }),
            ),
            (
                "prefix-trie",
                Box::new(|a| {
                    pt.get_lpm(&Ipv6Net::from(Ipv6Addr::from_bits(a)))
                        .map_or(NONE, |(_, v)| *v)
                }),
            ),
            (
                "iptrie-lctrie",
                Box::new(|a| *lc.lookup(&Ipv6Addr::from_bits(a)).1),
            ),
        ];
        let mut contenders = contenders;
        if let Some(pop) = &pop {
            contenders.push((
                "poptrie",
                Box::new(move |a| pop.lookup(a).copied().unwrap_or(NONE)),
            ));
        }
        for (stream, addrs) in [("uniform", v6_uniform(3)), ("hit", v6_hitting(&p, 4))] {
            let want: Vec<u32> = addrs.iter().map(|&a| (contenders[1].1)(a)).collect();
            for (name, f) in &contenders {
                let got: Vec<u32> = addrs.iter().map(|&a| f(a)).collect();
                assert_eq!(got, want, "{name} disagrees at v6 n={n} ({stream})");
            }
            let mut g = c.benchmark_group(format!("v6/{stream}/{n}"));
            g.throughput(Throughput::Elements(BATCH as u64));
            for (name, f) in &contenders {
                g.bench_with_input(BenchmarkId::from_parameter(name), &addrs, |b, addrs| {
                    b.iter(|| {
                        let mut acc = 0u32;
                        for &a in addrs {
                            acc = acc.wrapping_add(f(black_box(a)));
                        }
                        acc
                    })
                });
            }
            g.finish();
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_v4, bench_v6
}
criterion_main!(benches);
