//! A deterministic generator of realistic clusters, NetworkPolicies and flows.
//!
//! Used by the benchmarks (`benches/engine.rs`), `examples/gen_scenario.rs` and the
//! tests. It produces a [`Scenario`] (the conformance file format, policies as
//! NetworkPolicy JSON), so that what the criterion bench measures can also be written to
//! a file and timed by the conformance runner or fed to `netpol serve`.
//!
//! The same scale and seed always give the same scenario: the only randomness is a
//! splitmix64 stream seeded by the caller, and nothing iterates over a hash map.
//!
//! Shape:
//! - namespaces labelled `team`, `env`, `purpose` (plus `kube-system` with CoreDNS and a
//!   `monitoring` namespace with Prometheus);
//! - pods grouped into apps, labelled `app`, `tier`, `version`, `pod-template-hash`, with
//!   several named container ports whose numbers differ between apps (`http` is 80 in
//!   one app and 8080 in another);
//! - nodes with host IPs in 192.168.0.0/16 and per-node pod /24s inside 10.244.0.0/16,
//!   or inside 10.64.0.0/10 when there are more than 256 nodes;
//! - policies mixing default-deny (ingress, or both directions), allow-same-namespace,
//!   podSelector peers, namespaceSelector peers, both combined, matchExpressions with every
//!   operator, ipBlocks with excepts (a pool of distinct CIDRs with a realistic length
//!   distribution, mostly IPv4, some IPv6), named ports, endPort ranges and DNS egress;
//! - flows: pod→pod, address→pod (a fifth of all flows; half of them inside a pool CIDR),
//!   pod→address and node→pod, in a fixed list per scale and seed.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::scenario::{
    Scenario, ScenarioEndpoint, ScenarioNamespace, ScenarioNode, ScenarioPod, ScenarioPolicy,
    ScenarioPort, ScenarioQuery,
};
use serde_json::{Value, json};

/// splitmix64: small, fast, and good enough for workload generation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// An index drawn by weight.
    pub fn weighted(&mut self, weights: &[usize]) -> usize {
        let total: usize = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// A workload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 100 pods, 10 policies.
    S,
    /// 1,000 pods, 100 policies, 1,000 CIDRs.
    M,
    /// 10,000 pods in 100 namespaces, 1,000 policies, 10,000 CIDRs.
    L,
    /// The largest cluster Kubernetes supports: 150,000 pods on 5,000 nodes in 140
    /// namespaces, 10,000 policies, 40,000 CIDRs (about 50,000 with their excepts). Not in
    /// [`Scale::ALL`].
    XL,
}

/// The sizes a [`Scale`] stands for.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Namespaces, `kube-system` included.
    pub namespaces: usize,
    /// Pods, CoreDNS included.
    pub pods: usize,
    /// Nodes.
    pub nodes: usize,
    /// Policies.
    pub policies: usize,
    /// Distinct `ipBlock.cidr` networks (excepts come on top).
    pub cidrs: usize,
}

/// Flows of each kind in every scale's flow list (a fifth from outside addresses).
pub const POD_TO_POD: usize = 3072;
/// See [`POD_TO_POD`].
pub const ADDR_TO_POD: usize = 1024;
/// See [`POD_TO_POD`].
pub const POD_TO_ADDR: usize = 512;
/// See [`POD_TO_POD`].
pub const NODE_TO_POD: usize = 512;

impl Scale {
    /// Every scale, smallest first.
    pub const ALL: [Scale; 3] = [Scale::S, Scale::M, Scale::L];

    /// `S`, `M` or `L`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::S => "S",
            Scale::M => "M",
            Scale::L => "L",
            Scale::XL => "XL",
        }
    }

    /// Parses `S`, `M`, `L` or `XL` (any case).
    pub fn parse(s: &str) -> Option<Scale> {
        match s.to_ascii_uppercase().as_str() {
            "S" => Some(Scale::S),
            "M" => Some(Scale::M),
            "L" => Some(Scale::L),
            "XL" => Some(Scale::XL),
            _ => None,
        }
    }

    /// The sizes.
    pub fn params(self) -> Params {
        match self {
            Scale::S => Params {
                namespaces: 5,
                pods: 100,
                nodes: 4,
                policies: 10,
                cidrs: 100,
            },
            Scale::M => Params {
                namespaces: 20,
                pods: 1_000,
                nodes: 20,
                policies: 100,
                cidrs: 1_000,
            },
            Scale::L => Params {
                namespaces: 100,
                pods: 10_000,
                nodes: 300,
                policies: 1_000,
                cidrs: 10_000,
            },
            Scale::XL => Params {
                namespaces: 140,
                pods: 150_000,
                nodes: 5_000,
                policies: 10_000,
                cidrs: 40_000,
            },
        }
    }
}

/// What a query of the generated flow list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Pod to pod.
    PodToPod,
    /// Outside address to pod.
    AddrToPod,
    /// Pod to outside address.
    PodToAddr,
    /// Node host network to pod.
    NodeToPod,
}

/// A generated scenario and the kind of each of its queries.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Cluster, policies (NetworkPolicy JSON) and queries (without `expect`).
    pub scenario: Scenario,
    /// `kinds[i]` is the kind of `scenario.queries[i]`.
    pub kinds: Vec<FlowKind>,
    /// Distinct `cidr` and `except` networks in the policies.
    pub distinct_prefixes: usize,
}

const TEAMS: &[&str] = &[
    "payments", "search", "identity", "catalog", "orders", "shipping", "growth", "platform",
    "data", "ml", "mobile", "web", "billing", "support", "ads", "risk",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const PURPOSES: &[&str] = &["app", "data", "batch", "ingress"];

/// App templates: name, tier, named ports.
const APPS: &[(&str, &str, &[&str])] = &[
    ("frontend", "web", &["http", "metrics"]),
    ("gateway", "web", &["http", "https", "metrics"]),
    ("api", "backend", &["http", "grpc", "metrics"]),
    ("auth", "backend", &["grpc", "http"]),
    ("cart", "backend", &["grpc", "metrics"]),
    ("checkout", "backend", &["http", "grpc", "metrics"]),
    ("catalog", "backend", &["http", "metrics"]),
    ("search", "backend", &["http", "grpc"]),
    ("worker", "backend", &["metrics"]),
    ("postgres", "data", &["db", "metrics"]),
    ("redis", "cache", &["db"]),
    ("kafka", "data", &["broker", "metrics"]),
];

/// Port numbers a named port takes in different apps.
fn port_numbers(name: &str) -> &'static [u16] {
    match name {
        "http" => &[80, 8080, 8000, 3000, 5000, 9000],
        "https" => &[443, 8443, 9443],
        "grpc" => &[50051, 9090, 7070, 8980],
        "metrics" => &[9100, 9102, 8081, 15020, 9464],
        "db" => &[5432, 5433, 6379, 6380, 3306],
        "broker" => &[9092, 9093],
        _ => &[8080],
    }
}

#[derive(Debug, Clone)]
struct App {
    name: String,
    tier: &'static str,
    /// (name, number)
    ports: Vec<(&'static str, u16)>,
}

#[derive(Debug, Clone)]
struct Ns {
    name: String,
    team: &'static str,
    env: &'static str,
    purpose: &'static str,
    apps: Vec<App>,
}

#[derive(Debug, Clone)]
struct PodRef {
    ns: usize,
    app: String,
    name: String,
    /// (protocol, number) of its container ports.
    ports: Vec<(&'static str, u16)>,
}

/// A CIDR in the pool: address bits, length, family, excepts.
#[derive(Debug, Clone)]
struct Block {
    v6: bool,
    bits: u128,
    len: u8,
    except: Vec<(u128, u8)>,
}

fn width(v6: bool) -> u8 {
    if v6 { 128 } else { 32 }
}

fn net_mask(v6: bool, len: u8, x: u128) -> u128 {
    let w = u32::from(width(v6));
    if len == 0 {
        0
    } else {
        let keep = x >> (w - u32::from(len)) << (w - u32::from(len));
        if v6 { keep } else { keep & 0xFFFF_FFFF }
    }
}

fn addr(v6: bool, bits: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    }
}

fn cidr_text(v6: bool, bits: u128, len: u8) -> String {
    format!("{}/{}", addr(v6, bits), len)
}

/// A random public-looking IPv4 address (first octet 1-223, not 10 or 127).
fn public_v4(rng: &mut Rng) -> u128 {
    loop {
        let x = rng.next_u64() as u32;
        let first = x >> 24;
        if (1..=223).contains(&first) && first != 10 && first != 127 {
            return u128::from(x);
        }
    }
}

fn random_v6(rng: &mut Rng) -> u128 {
    let hi = match rng.below(3) {
        0 => 0x2001_0db8u128 << 96,
        1 => (0xfd00u128 | rng.below(256) as u128) << 112,
        _ => (0x2600u128 | rng.below(0x100) as u128) << 112,
    };
    let low = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    let keep = if hi >> 112 == 0x2001 { 32 } else { 16 };
    hi | (low >> keep)
}

/// The pool of distinct CIDRs with a realistic length distribution.
fn cidr_pool(rng: &mut Rng, n: usize) -> Vec<Block> {
    let mut seen: HashSet<(bool, u128, u8)> = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let v6 = rng.chance(10);
        let (len, raw) = if v6 {
            let len = [128u8, 64, 56, 48, 32][rng.weighted(&[30, 30, 15, 20, 5])];
            (len, random_v6(rng))
        } else {
            let len = match rng.weighted(&[35, 15, 15, 10, 15, 5, 5]) {
                0 => 32,
                1 => 24,
                2 => rng.range(28, 31) as u8,
                3 => rng.range(25, 27) as u8,
                4 => rng.range(17, 23) as u8,
                5 => 16,
                _ => rng.range(8, 15) as u8,
            };
            let raw = match rng.weighted(&[85, 7, 4, 4]) {
                0 => public_v4(rng),
                1 => (10u128 << 24) | u128::from(rng.next_u64() as u32 & 0x00FF_FFFF),
                2 => (0xAC10u128 << 16) | u128::from(rng.next_u64() as u32 & 0x000F_FFFF),
                _ => (0xC0A8u128 << 16) | u128::from(rng.next_u64() as u32 & 0x0000_FFFF),
            };
            (len, raw)
        };
        let bits = net_mask(v6, len, raw);
        if !seen.insert((v6, bits, len)) {
            continue;
        }
        let mut except = Vec::new();
        let room = width(v6) - len;
        if room >= 4 && rng.chance(30) {
            for _ in 0..rng.range(1, 3) {
                let elen = len + rng.range(1, usize::from(room.min(8))) as u8;
                let inside = if v6 {
                    (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
                } else {
                    u128::from(rng.next_u64() as u32)
                };
                let host_mask = if v6 {
                    u128::MAX >> len
                } else {
                    (u128::from(u32::MAX) >> len) & 0xFFFF_FFFF
                };
                let e = net_mask(v6, elen, bits | (inside & host_mask));
                if !except.contains(&(e, elen)) {
                    except.push((e, elen));
                }
            }
        }
        out.push(Block {
            v6,
            bits,
            len,
            except,
        });
    }
    out
}

fn block_json(b: &Block) -> Value {
    let mut ip = json!({ "cidr": cidr_text(b.v6, b.bits, b.len) });
    if !b.except.is_empty() {
        ip["except"] = b
            .except
            .iter()
            .map(|(e, l)| Value::from(cidr_text(b.v6, *e, *l)))
            .collect();
    }
    json!({ "ipBlock": ip })
}

/// A random address inside a pool block (possibly inside one of its excepts).
fn addr_in(rng: &mut Rng, b: &Block) -> IpAddr {
    let host = if b.v6 {
        // A /128 has no host bits (`>> 128` would overflow).
        ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
            & u128::MAX.checked_shr(u32::from(b.len)).unwrap_or(0)
    } else {
        u128::from(rng.next_u64() as u32) & ((u128::from(u32::MAX) >> b.len) & 0xFFFF_FFFF)
    };
    addr(b.v6, b.bits | host)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DefaultDeny { egress: bool },
    AllowSameNamespace,
    AppToApp,
    FromNamespaces,
    Combined,
    Expressions,
    IpBlockIngress,
    IpBlockEgress,
    PortRange,
    DnsEgress,
    MixedEgress,
}

const RANDOM_KINDS: &[(Kind, usize)] = &[
    (Kind::AllowSameNamespace, 6),
    (Kind::AppToApp, 22),
    (Kind::FromNamespaces, 10),
    (Kind::Combined, 8),
    (Kind::Expressions, 10),
    (Kind::IpBlockIngress, 14),
    (Kind::IpBlockEgress, 10),
    (Kind::PortRange, 6),
    (Kind::DnsEgress, 4),
    (Kind::MixedEgress, 10),
];

fn uses_blocks(k: Kind) -> bool {
    matches!(
        k,
        Kind::IpBlockIngress | Kind::IpBlockEgress | Kind::MixedEgress
    )
}

fn labels(pairs: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_owned(), Value::from(*v));
    }
    Value::Object(m)
}

fn match_labels(pairs: &[(&str, &str)]) -> Value {
    json!({ "matchLabels": labels(pairs) })
}

fn port_json(proto: &str, port: Value) -> Value {
    json!({ "protocol": proto, "port": port })
}

fn dns_rule() -> Value {
    json!({
        "to": [{
            "namespaceSelector": match_labels(&[("kubernetes.io/metadata.name", "kube-system")]),
            "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
        }],
        "ports": [port_json("UDP", json!(53)), port_json("TCP", json!(53))],
    })
}

/// A port of `app`, by name (40%) or number.
fn app_port(rng: &mut Rng, app: &App) -> Value {
    let (name, number) = *rng.pick(&app.ports);
    if rng.chance(40) {
        port_json("TCP", json!(name))
    } else {
        port_json("TCP", json!(number))
    }
}

struct PolicyGen<'a> {
    rng: &'a mut Rng,
    namespaces: &'a [Ns],
    pool: &'a [Block],
    cursor: usize,
    block_policies_left: usize,
    /// Ingress the policies allow, to aim part of the flows at.
    hints: Vec<Hint>,
}

/// An ingress a generated policy allows: to pods of `app` (any app when `None`) in
/// namespace `ns`, from `from`.
#[derive(Debug, Clone)]
struct Hint {
    ns: usize,
    app: Option<String>,
    from: HintFrom,
}

#[derive(Debug, Clone)]
enum HintFrom {
    /// Pods of this app (any app when `None`) in the same namespace.
    Pods(Option<String>),
    /// Addresses in these pool blocks.
    Blocks(Vec<usize>),
}

impl PolicyGen<'_> {
    /// This policy's share of the CIDR pool, so every pool CIDR is used.
    fn take_blocks(&mut self) -> (Vec<Value>, Vec<usize>) {
        let left = self.pool.len() - self.cursor;
        let n = left.div_ceil(self.block_policies_left.max(1)).max(1);
        self.block_policies_left = self.block_policies_left.saturating_sub(1);
        let mut out = Vec::with_capacity(n);
        let mut used = Vec::with_capacity(n);
        for _ in 0..n {
            let i = if self.cursor < self.pool.len() {
                self.cursor += 1;
                self.cursor - 1
            } else {
                self.rng.below(self.pool.len())
            };
            out.push(block_json(&self.pool[i]));
            used.push(i);
        }
        (out, used)
    }

    /// Splits peers into 1-3 rules with different ports.
    fn block_rules(&mut self, peers: Vec<Value>, key: &str, app: &App) -> Vec<Value> {
        let parts = self.rng.range(1, 3).min(peers.len());
        let per = peers.len().div_ceil(parts);
        peers
            .chunks(per)
            .map(|chunk| {
                let ports = match self.rng.below(4) {
                    0 => json!([port_json("TCP", json!(443))]),
                    1 => json!([app_port(self.rng, app)]),
                    2 => json!([
                        port_json("TCP", json!(443)),
                        {"protocol": "TCP", "port": 8000, "endPort": 8999}
                    ]),
                    _ => Value::Null,
                };
                let mut rule = json!({ key: chunk });
                if !ports.is_null() {
                    rule["ports"] = ports;
                }
                rule
            })
            .collect()
    }

    fn policy(&mut self, ns_index: usize, serial: usize, kind: Kind) -> Value {
        let namespaces = self.namespaces;
        let ns = &namespaces[ns_index];
        let app = self.rng.pick(&ns.apps).clone();
        let other = self.rng.pick(&ns.apps).clone();
        let select_app = match_labels(&[("app", &app.name)]);
        let (name, spec) = match kind {
            Kind::DefaultDeny { egress } => {
                let types = if egress {
                    json!(["Ingress", "Egress"])
                } else {
                    json!(["Ingress"])
                };
                (
                    "default-deny".to_owned(),
                    json!({ "podSelector": {}, "policyTypes": types }),
                )
            }
            Kind::AllowSameNamespace => {
                self.hints.push(Hint {
                    ns: ns_index,
                    app: None,
                    from: HintFrom::Pods(None),
                });
                (
                    "allow-same-namespace".to_owned(),
                    json!({ "podSelector": {}, "ingress": [{ "from": [{ "podSelector": {} }] }] }),
                )
            }
            Kind::AppToApp => {
                self.hints.push(Hint {
                    ns: ns_index,
                    app: Some(app.name.clone()),
                    from: HintFrom::Pods(Some(other.name.clone())),
                });
                let mut from =
                    vec![json!({ "podSelector": match_labels(&[("app", &other.name)]) })];
                if self.rng.chance(30) {
                    let third = self.rng.pick(&ns.apps).name.clone();
                    from.push(json!({ "podSelector": match_labels(&[("app", &third), ("version", "v1")]) }));
                }
                (
                    format!("{}-from-{}", app.name, other.name),
                    json!({
                        "podSelector": select_app,
                        "policyTypes": ["Ingress"],
                        "ingress": [{ "from": from, "ports": [app_port(self.rng, &app)] }],
                    }),
                )
            }
            Kind::FromNamespaces => {
                let peer_ns = self.rng.pick(namespaces);
                let sel = match self.rng.below(3) {
                    0 => match_labels(&[("team", peer_ns.team)]),
                    1 => match_labels(&[("env", peer_ns.env)]),
                    _ => match_labels(&[("team", peer_ns.team), ("env", peer_ns.env)]),
                };
                (
                    format!("{}-from-team-{}", app.tier, peer_ns.team),
                    json!({
                        "podSelector": match_labels(&[("tier", app.tier)]),
                        "ingress": [{
                            "from": [{ "namespaceSelector": sel }],
                            "ports": [app_port(self.rng, &app), port_json("TCP", json!(443))],
                        }],
                    }),
                )
            }
            Kind::Combined => (
                "allow-prometheus-scrape".to_owned(),
                json!({
                    "podSelector": { "matchExpressions": [{ "key": "app", "operator": "Exists" }] },
                    "ingress": [{
                        "from": [{
                            "namespaceSelector": match_labels(&[("purpose", "monitoring")]),
                            "podSelector": match_labels(&[("app", "prometheus")]),
                        }],
                        "ports": [port_json("TCP", json!("metrics"))],
                    }],
                }),
            ),
            Kind::Expressions => {
                let env = *self.rng.pick(ENVS);
                (
                    format!("{}-expressions", app.tier),
                    json!({
                        "podSelector": { "matchExpressions": [
                            { "key": "tier", "operator": "In", "values": [app.tier, "web"] },
                            { "key": "version", "operator": "NotIn", "values": ["v3"] },
                        ]},
                        "ingress": [{
                            "from": [{
                                "namespaceSelector": { "matchExpressions": [
                                    { "key": "env", "operator": "In", "values": [env, "prod"] },
                                    { "key": "purpose", "operator": "NotIn", "values": ["batch"] },
                                ]},
                                "podSelector": { "matchExpressions": [
                                    { "key": "app", "operator": "Exists" },
                                    { "key": "canary", "operator": "DoesNotExist" },
                                ]},
                            }],
                            "ports": [app_port(self.rng, &app)],
                        }],
                    }),
                )
            }
            Kind::IpBlockIngress => {
                let (peers, used) = self.take_blocks();
                self.hints.push(Hint {
                    ns: ns_index,
                    app: Some(app.name.clone()),
                    from: HintFrom::Blocks(used),
                });
                let rules = self.block_rules(peers, "from", &app);
                (
                    format!("{}-from-partners", app.name),
                    json!({ "podSelector": select_app, "policyTypes": ["Ingress"], "ingress": rules }),
                )
            }
            Kind::IpBlockEgress => {
                let (peers, _) = self.take_blocks();
                let rules = self.block_rules(peers, "to", &app);
                (
                    format!("{}-to-external", app.name),
                    json!({ "podSelector": select_app, "policyTypes": ["Egress"], "egress": rules }),
                )
            }
            Kind::PortRange => (
                "allow-nodeport-ranges".to_owned(),
                json!({
                    "podSelector": match_labels(&[("tier", app.tier)]),
                    "ingress": [{
                        "from": [{ "namespaceSelector": match_labels(&[("env", ns.env)]), "podSelector": {} }],
                        "ports": [
                            { "protocol": "TCP", "port": 30000, "endPort": 32767 },
                            { "protocol": "UDP", "port": 5000, "endPort": 5100 },
                            { "protocol": "SCTP", "port": 3868 },
                        ],
                    }],
                }),
            ),
            Kind::DnsEgress => (
                "allow-dns".to_owned(),
                json!({ "podSelector": {}, "policyTypes": ["Egress"], "egress": [dns_rule()] }),
            ),
            Kind::MixedEgress => {
                let (mut peers, _) = self.take_blocks();
                if self.rng.chance(50) {
                    peers.push(json!({ "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
                    }}));
                }
                (
                    format!("{}-egress", app.name),
                    json!({
                        "podSelector": select_app,
                        "policyTypes": ["Egress"],
                        "egress": [
                            dns_rule(),
                            { "to": [{ "podSelector": match_labels(&[("app", &other.name)]) }],
                              "ports": [app_port(self.rng, &other)] },
                            { "to": peers, "ports": [port_json("TCP", json!(443)), port_json("TCP", json!(5432))] },
                        ],
                    }),
                )
            }
        };
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": { "name": format!("{name}-{serial}"), "namespace": ns.name },
            "spec": spec,
        })
    }
}

fn protocol_of(port: u16) -> &'static str {
    if port == 53 { "UDP" } else { "TCP" }
}

/// A destination port for a flow to `pod`: mostly one it declares.
fn flow_port(rng: &mut Rng, pod: &PodRef) -> (u16, &'static str) {
    if !pod.ports.is_empty() && rng.chance(75) {
        let (proto, n) = *rng.pick(&pod.ports);
        return (n, proto);
    }
    match rng.below(4) {
        0 => (rng.range(30000, 32767) as u16, "TCP"),
        1 => (rng.range(5000, 5100) as u16, "UDP"),
        2 => (*rng.pick(&[22u16, 443, 5432, 8080, 3868]), "TCP"),
        _ => (rng.range(1, 65535) as u16, "TCP"),
    }
}

/// Generates the scenario for `scale` from `seed`.
pub fn generate(scale: Scale, seed: u64) -> Generated {
    let p = scale.params();
    let mut rng = Rng::new(seed ^ 0x6E65_7470_6F6C);

    // Namespaces: kube-system, monitoring, then app namespaces.
    let mut namespaces: Vec<Ns> = Vec::with_capacity(p.namespaces);
    namespaces.push(Ns {
        name: "kube-system".into(),
        team: "platform",
        env: "prod",
        purpose: "infra",
        apps: Vec::new(),
    });
    namespaces.push(Ns {
        name: "monitoring".into(),
        team: "platform",
        env: "prod",
        purpose: "monitoring",
        apps: vec![App {
            name: "prometheus".into(),
            tier: "backend",
            ports: vec![("http", 9090)],
        }],
    });
    for i in namespaces.len()..p.namespaces {
        let team = *rng.pick(TEAMS);
        let env = ENVS[rng.weighted(&[40, 30, 30])];
        let purpose = *rng.pick(PURPOSES);
        namespaces.push(Ns {
            name: format!("{team}-{env}-{i}"),
            team,
            env,
            purpose,
            apps: Vec::new(),
        });
    }

    // Nodes and their pod subnets.
    let node_names: Vec<String> = (0..p.nodes).map(|i| format!("node-{i:03}")).collect();
    let node_subnet = |i: usize| -> u32 {
        if p.nodes <= 256 {
            (10 << 24) | (244 << 16) | ((i as u32) << 8)
        } else {
            (10 << 24) | ((64 + (i as u32 >> 8)) << 16) | ((i as u32 & 255) << 8)
        }
    };
    let nodes: Vec<ScenarioNode> = node_names
        .iter()
        .enumerate()
        .map(|(i, name)| ScenarioNode {
            name: name.clone(),
            ip: Some(format!("192.168.{}.{}", i / 200, i % 200 + 10)),
            ips: Vec::new(),
            labels: Default::default(),
            ..ScenarioNode::default()
        })
        .collect();
    let mut node_fill = vec![0u32; p.nodes];
    let mut next_ip = |rng: &mut Rng| -> (String, String) {
        let mut n = rng.below(p.nodes);
        while node_fill[n] >= 250 {
            n = (n + 1) % p.nodes;
        }
        node_fill[n] += 1;
        let ip = Ipv4Addr::from(node_subnet(n) | (node_fill[n] + 1));
        (ip.to_string(), node_names[n].clone())
    };

    // Pods.
    let mut pods: Vec<ScenarioPod> = Vec::with_capacity(p.pods);
    let mut pod_refs: Vec<PodRef> = Vec::with_capacity(p.pods);
    let dns_pods = (p.pods / 500).max(2);
    for j in 0..dns_pods {
        let (ip, node) = next_ip(&mut rng);
        pods.push(ScenarioPod {
            namespace: "kube-system".into(),
            name: format!("coredns-5d78c9869d-{j}"),
            labels: [("k8s-app", "kube-dns"), ("pod-template-hash", "5d78c9869d")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ip: Some(ip),
            ips: Vec::new(),
            node: Some(node),
            service_account: None,
            ports: vec![
                ScenarioPort {
                    name: Some("dns".into()),
                    port: 53,
                    protocol: Some("UDP".into()),
                },
                ScenarioPort {
                    name: Some("dns-tcp".into()),
                    port: 53,
                    protocol: Some("TCP".into()),
                },
                ScenarioPort {
                    name: Some("metrics".into()),
                    port: 9153,
                    protocol: Some("TCP".into()),
                },
            ],
        });
        pod_refs.push(PodRef {
            ns: 0,
            app: "coredns".into(),
            name: format!("coredns-5d78c9869d-{j}"),
            ports: vec![("UDP", 53), ("TCP", 53), ("TCP", 9153)],
        });
    }
    let app_ns = namespaces.len() - 1; // every namespace but kube-system
    let remaining = p.pods - dns_pods;
    for (k, ns_index) in (1..namespaces.len()).enumerate() {
        let quota = remaining / app_ns + usize::from(k < remaining % app_ns);
        let mut made = 0;
        let mut app_i = 0;
        while made < quota {
            // The monitoring namespace's first app is Prometheus.
            if app_i >= namespaces[ns_index].apps.len() {
                let (base, tier, names) = *rng.pick(APPS);
                let n_same = namespaces[ns_index]
                    .apps
                    .iter()
                    .filter(|a| a.name == base || a.name.starts_with(&format!("{base}-")))
                    .count();
                let name = if n_same == 0 {
                    base.to_owned()
                } else {
                    format!("{base}-{}", n_same + 1)
                };
                let ports = names
                    .iter()
                    .map(|n| (*n, *rng.pick(port_numbers(n))))
                    .collect();
                namespaces[ns_index].apps.push(App { name, tier, ports });
            }
            let app = namespaces[ns_index].apps[app_i].clone();
            app_i += 1;
            let replicas = rng.range(1, 8).min(quota - made);
            let hash = format!("{:08x}", rng.next_u64() as u32);
            let version = ["v1", "v2", "v3"][rng.weighted(&[80, 15, 5])];
            for r in 0..replicas {
                let (ip, node) = next_ip(&mut rng);
                let name = format!("{}-{hash}-{r}", app.name);
                let mut labels: netpol::model::Labels = [
                    ("app", app.name.as_str()),
                    ("tier", app.tier),
                    ("version", version),
                    ("pod-template-hash", hash.as_str()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
                if version == "v3" {
                    labels.insert("canary".into(), "true".into());
                }
                pods.push(ScenarioPod {
                    namespace: namespaces[ns_index].name.clone(),
                    name: name.clone(),
                    labels,
                    ip: Some(ip),
                    ips: Vec::new(),
                    node: Some(node),
                    service_account: None,
                    ports: app
                        .ports
                        .iter()
                        .map(|(n, num)| ScenarioPort {
                            name: Some((*n).to_owned()),
                            port: *num,
                            protocol: Some("TCP".into()),
                        })
                        .collect(),
                });
                pod_refs.push(PodRef {
                    ns: ns_index,
                    app: app.name.clone(),
                    name,
                    ports: app.ports.iter().map(|(_, n)| ("TCP", *n)).collect(),
                });
            }
            made += replicas;
        }
    }

    // Policies: round-robin over app namespaces; each namespace's first is a default
    // deny, its second allows DNS when the first denied egress.
    let pool = cidr_pool(&mut rng, p.cidrs);
    let mut kinds: Vec<(usize, Kind)> = Vec::with_capacity(p.policies);
    let mut per_ns = vec![0usize; namespaces.len()];
    let mut deny_egress = vec![false; namespaces.len()];
    let weights: Vec<usize> = RANDOM_KINDS.iter().map(|(_, w)| *w).collect();
    for i in 0..p.policies {
        let ns = 1 + i % app_ns;
        let kind = match per_ns[ns] {
            0 => {
                let egress = rng.chance(30);
                deny_egress[ns] = egress;
                Kind::DefaultDeny { egress }
            }
            1 if deny_egress[ns] => Kind::DnsEgress,
            _ => RANDOM_KINDS[rng.weighted(&weights)].0,
        };
        per_ns[ns] += 1;
        kinds.push((ns, kind));
    }
    if !kinds.iter().any(|(_, k)| uses_blocks(*k)) {
        // Small scales: make sure the CIDR pool is used.
        if let Some(last) = kinds
            .iter_mut()
            .rev()
            .find(|(_, k)| !matches!(k, Kind::DefaultDeny { .. } | Kind::DnsEgress))
        {
            last.1 = Kind::IpBlockIngress;
        }
    }
    let mut g = PolicyGen {
        rng: &mut rng,
        namespaces: &namespaces,
        pool: &pool,
        cursor: 0,
        block_policies_left: kinds.iter().filter(|(_, k)| uses_blocks(*k)).count(),
        hints: Vec::new(),
    };
    let policies: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(serial, (ns, kind))| g.policy(*ns, serial, *kind))
        .collect();

    let mut prefixes: HashSet<(bool, u128, u8)> = HashSet::new();
    for b in &pool {
        prefixes.insert((b.v6, b.bits, b.len));
        for (e, l) in &b.except {
            prefixes.insert((b.v6, *e, *l));
        }
    }

    // Flows.
    let pod_ep =
        |r: &PodRef| ScenarioEndpoint::Pod(format!("{}/{}", namespaces[r.ns].name, r.name));
    let mut queries = Vec::new();
    let mut flow_kinds = Vec::new();
    let outside = |rng: &mut Rng| -> String {
        if rng.chance(50) {
            let b = &pool[rng.below(pool.len())];
            addr_in(rng, b).to_string()
        } else if rng.chance(90) {
            addr(false, public_v4(rng)).to_string()
        } else {
            addr(true, random_v6(rng)).to_string()
        }
    };
    let hints = g.hints;
    let mut by_ns: Vec<Vec<usize>> = vec![Vec::new(); namespaces.len()];
    for (i, r) in pod_refs.iter().enumerate() {
        by_ns[r.ns].push(i);
    }
    // Pods of `app` (any when None) in namespace `ns`.
    let pods_of = |ns: usize, app: &Option<String>| -> Vec<usize> {
        by_ns[ns]
            .iter()
            .copied()
            .filter(|i| app.as_ref().is_none_or(|a| pod_refs[*i].app == *a))
            .collect()
    };
    let pod_hints: Vec<&Hint> = hints
        .iter()
        .filter(|h| matches!(h.from, HintFrom::Pods(_)))
        .collect();
    let block_hints: Vec<&Hint> = hints
        .iter()
        .filter(|h| matches!(h.from, HintFrom::Blocks(_)))
        .collect();
    for _ in 0..POD_TO_POD {
        // Half the flows follow an ingress some policy allows (the port may still miss).
        if !pod_hints.is_empty() && rng.chance(50) {
            let h = *rng.pick(&pod_hints);
            let HintFrom::Pods(src_app) = &h.from else {
                continue;
            };
            let dsts = pods_of(h.ns, &h.app);
            let srcs = pods_of(h.ns, src_app);
            if !dsts.is_empty() && !srcs.is_empty() {
                let dst = &pod_refs[*rng.pick(&dsts)];
                let src = &pod_refs[*rng.pick(&srcs)];
                let (port, proto) = flow_port(&mut rng, dst);
                queries.push(query(pod_ep(src), pod_ep(dst), port, proto));
                flow_kinds.push(FlowKind::PodToPod);
                continue;
            }
        }
        let dst = rng.pick(&pod_refs).clone();
        let src = if rng.chance(50) {
            pod_refs[*rng.pick(&by_ns[dst.ns])].clone()
        } else {
            rng.pick(&pod_refs).clone()
        };
        let (port, proto) = flow_port(&mut rng, &dst);
        queries.push(query(pod_ep(&src), pod_ep(&dst), port, proto));
        flow_kinds.push(FlowKind::PodToPod);
    }
    while flow_kinds.len() < POD_TO_POD {
        let dst = rng.pick(&pod_refs).clone();
        let src = rng.pick(&pod_refs).clone();
        let (port, proto) = flow_port(&mut rng, &dst);
        queries.push(query(pod_ep(&src), pod_ep(&dst), port, proto));
        flow_kinds.push(FlowKind::PodToPod);
    }
    for _ in 0..ADDR_TO_POD {
        // Half the outside addresses aim at pods an ipBlock rule admits them to.
        if !block_hints.is_empty() && rng.chance(50) {
            let h = *rng.pick(&block_hints);
            let HintFrom::Blocks(blocks) = &h.from else {
                continue;
            };
            let dsts = pods_of(h.ns, &h.app);
            if !dsts.is_empty() && !blocks.is_empty() {
                let dst = &pod_refs[*rng.pick(&dsts)];
                let block = &pool[*rng.pick(blocks)];
                let ip = addr_in(&mut rng, block).to_string();
                let (port, proto) = flow_port(&mut rng, dst);
                queries.push(query(
                    ScenarioEndpoint::Ip {
                        ip,
                        domain: None,
                        node: None,
                    },
                    pod_ep(dst),
                    port,
                    proto,
                ));
                flow_kinds.push(FlowKind::AddrToPod);
                continue;
            }
        }
        let ip = outside(&mut rng);
        let dst = rng.pick(&pod_refs).clone();
        let (port, proto) = flow_port(&mut rng, &dst);
        queries.push(query(
            ScenarioEndpoint::Ip {
                ip,
                domain: None,
                node: None,
            },
            pod_ep(&dst),
            port,
            proto,
        ));
        flow_kinds.push(FlowKind::AddrToPod);
    }
    while flow_kinds.len() < POD_TO_POD + ADDR_TO_POD {
        let ip = outside(&mut rng);
        let dst = rng.pick(&pod_refs).clone();
        let (port, proto) = flow_port(&mut rng, &dst);
        queries.push(query(
            ScenarioEndpoint::Ip {
                ip,
                domain: None,
                node: None,
            },
            pod_ep(&dst),
            port,
            proto,
        ));
        flow_kinds.push(FlowKind::AddrToPod);
    }
    for _ in 0..POD_TO_ADDR {
        let src = rng.pick(&pod_refs).clone();
        let ip = outside(&mut rng);
        let port = *rng.pick(&[443u16, 443, 53, 5432, 80, 8443]);
        queries.push(query(
            pod_ep(&src),
            ScenarioEndpoint::Ip {
                ip,
                domain: None,
                node: None,
            },
            port,
            protocol_of(port),
        ));
        flow_kinds.push(FlowKind::PodToAddr);
    }
    for _ in 0..NODE_TO_POD {
        let node = rng.pick(&node_names).clone();
        let dst = rng.pick(&pod_refs).clone();
        let (port, proto) = flow_port(&mut rng, &dst);
        queries.push(query(
            ScenarioEndpoint::Node { node },
            pod_ep(&dst),
            port,
            proto,
        ));
        flow_kinds.push(FlowKind::NodeToPod);
    }

    let scenario = Scenario {
        description: Some(format!(
            "generated by netpol_testing::workload: scale {}, seed {seed}: {} namespaces, {} nodes, \
             {} pods, {} policies, {} pool CIDRs ({} distinct cidr/except prefixes), {} queries",
            scale.name(),
            namespaces.len(),
            p.nodes,
            pods.len(),
            policies.len(),
            pool.len(),
            prefixes.len(),
            queries.len()
        )),
        profile: None,
        kube_proxy: None,
        namespaces: namespaces
            .iter()
            .map(|ns| ScenarioNamespace {
                name: ns.name.clone(),
                labels: [("team", ns.team), ("env", ns.env), ("purpose", ns.purpose)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            })
            .collect(),
        nodes,
        pods,
        policies: policies.into_iter().map(ScenarioPolicy::from).collect(),
        services: Vec::new(),
        queries,
        expect_rejected: Vec::new(),
    };
    Generated {
        scenario,
        kinds: flow_kinds,
        distinct_prefixes: prefixes.len(),
    }
}

fn query(from: ScenarioEndpoint, to: ScenarioEndpoint, port: u16, proto: &str) -> ScenarioQuery {
    ScenarioQuery {
        from,
        to,
        port: u32::from(port),
        protocol: Some(proto.to_owned()),
        expect: None,
        expect_endpoints: None,
    }
}

/// Appends `n` ClusterNetworkPolicies to a generated scenario, from `seed`: Admin (70%)
/// and Baseline tiers, priorities in 0..=1000 with ties, subjects by namespace labels or
/// by namespace and app, one to four rules per direction mixing Accept, Deny and Pass (no
/// Pass in Baseline), peers by namespace labels, by namespace and app, networks from
/// outside address space, and nodes; ports by number, range and name. Namespaces and
/// apps are read back from the scenario, so any generated scale can take them.
pub fn add_cluster_policies(g: &mut Generated, n: usize, seed: u64) {
    let mut rng = Rng::new(seed ^ 0x636e_7073);
    let label_values = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = g
            .scenario
            .namespaces
            .iter()
            .filter_map(|ns| ns.labels.get(key).cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let teams = label_values("team");
    let envs = label_values("env");
    let mut apps: Vec<String> = g
        .scenario
        .pods
        .iter()
        .filter_map(|p| p.labels.get("app").cloned())
        .collect();
    apps.sort();
    apps.dedup();
    let ns_selector = |rng: &mut Rng| -> Value {
        match rng.below(3) {
            0 => json!({"matchLabels": {"team": rng.pick(&teams)}}),
            1 => json!({"matchLabels": {"env": rng.pick(&envs)}}),
            _ => json!({"matchExpressions": [{"key": "env", "operator": "In",
                                              "values": [rng.pick(&envs), "prod"]}]}),
        }
    };
    let network = |rng: &mut Rng| -> String {
        let len = *rng.pick(&[16u8, 20, 24, 24, 28, 32]);
        cidr_text(false, net_mask(false, len, public_v4(rng)), len)
    };
    for i in 0..n {
        let admin = rng.chance(70);
        let subject = if rng.chance(60) {
            json!({"namespaces": ns_selector(&mut rng)})
        } else {
            json!({"pods": {"namespaceSelector": ns_selector(&mut rng),
                            "podSelector": {"matchLabels": {"app": rng.pick(&apps)}}}})
        };
        let mut spec = json!({
            "tier": if admin { "Admin" } else { "Baseline" },
            "priority": rng.below(1001).min(rng.below(1001)),
            "subject": subject,
        });
        for (dir, peers_key) in [("ingress", "from"), ("egress", "to")] {
            if !rng.chance(60) {
                continue;
            }
            let rules: Vec<Value> = (0..rng.range(1, 5))
                .map(|r| {
                    let action = match rng.below(10) {
                        0..=3 => "Deny",
                        4..=6 => "Accept",
                        _ if admin => "Pass",
                        _ => "Deny",
                    };
                    let mut peers: Vec<Value> = (0..rng.range(1, 3))
                        .map(|_| match rng.below(if dir == "egress" { 4 } else { 2 }) {
                            0 => json!({"namespaces": ns_selector(&mut rng)}),
                            1 => json!({"pods": {"namespaceSelector": ns_selector(&mut rng),
                                                 "podSelector": {"matchLabels": {"app": rng.pick(&apps)}}}}),
                            2 => json!({"networks": (0..rng.range(1, 4)).map(|_| network(&mut rng)).collect::<Vec<_>>()}),
                            _ => json!({"nodes": {}}),
                        })
                        .collect();
                    peers.dedup();
                    let mut rule = json!({"name": format!("r{r}"), "action": action, peers_key: peers});
                    let named_ok = !peers.iter().any(|p| p.get("networks").is_some() || p.get("nodes").is_some());
                    match rng.below(4) {
                        0 => {}
                        1 => rule["protocols"] = json!([{"tcp": {"destinationPort": {"number": *rng.pick(&[80u16, 443, 5432, 8080, 9090])}}}]),
                        2 => {
                            let start = rng.range(1000, 30000) as u16;
                            rule["protocols"] = json!([{"tcp": {"destinationPort": {"range": {"start": start, "end": start + 100}}}},
                                                       {"udp": {"destinationPort": {"number": 53}}}]);
                        }
                        _ if named_ok => rule["protocols"] = json!([{"destinationNamedPort": *rng.pick(&["http", "metrics", "grpc", "db"])}]),
                        _ => rule["protocols"] = json!([{"udp": {"destinationPort": {"number": 53}}}]),
                    }
                    rule
                })
                .collect();
            spec[dir] = Value::Array(rules);
        }
        g.scenario.policies.push(ScenarioPolicy::from(json!({
            "apiVersion": "policy.networking.k8s.io/v1alpha2",
            "kind": "ClusterNetworkPolicy",
            "metadata": {"name": format!("cnp-{i:04}")},
            "spec": spec,
        })));
    }
}

/// Appends `n` Calico policies to a generated scenario, from `seed`, and sets its profile
/// to `calico` (only Felix enforces them): about a third `GlobalNetworkPolicy`, the rest
/// namespaced `projectcalico.org/v3` `NetworkPolicy` in the app namespaces; spread over
/// three Tiers the function adds (`security`, order 100; `platform`, order 200, default
/// action Pass; `app`, order 500) and the `default` tier (where the Kubernetes
/// NetworkPolicies are), with orders in 0..=1000 (some absent). Policies select by app,
/// tier, version or canary labels, global ones also by a namespace selector; each has one
/// to four ingress rules and, for 40%, egress rules mixing Allow, Deny, Pass and Log, with
/// protocols, peers by selector, namespace selector, nets or notNets (public CIDRs, and
/// the addresses of four GlobalNetworkSets and a NetworkSet per tenth namespace the
/// function adds), and destination ports by number, range and name (notPorts now and
/// then). Namespaces and apps are read back from the scenario, so any generated scale
/// can take them.
pub fn add_calico_policies(g: &mut Generated, n: usize, seed: u64) {
    let mut rng = Rng::new(seed ^ 0x6361_6c69_636f);
    let label_values = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = g
            .scenario
            .namespaces
            .iter()
            .filter_map(|ns| ns.labels.get(key).cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let teams = label_values("team");
    let envs = label_values("env");
    // App namespaces and the apps of each.
    let mut apps_in: Vec<(String, Vec<String>)> = Vec::new();
    for p in &g.scenario.pods {
        let Some(app) = p.labels.get("app") else {
            continue;
        };
        match apps_in.iter_mut().find(|(ns, _)| *ns == p.namespace) {
            Some((_, list)) => {
                if !list.contains(app) {
                    list.push(app.clone());
                }
            }
            None => apps_in.push((p.namespace.clone(), vec![app.clone()])),
        }
    }
    let mut apps: Vec<String> = apps_in.iter().flat_map(|(_, a)| a.clone()).collect();
    apps.sort();
    apps.dedup();
    if apps_in.is_empty() || teams.is_empty() || envs.is_empty() {
        return;
    }
    g.scenario.profile = Some("calico".into());

    for (name, order, action) in [
        ("security", 100, "Deny"),
        ("platform", 200, "Pass"),
        ("app", 500, "Deny"),
    ] {
        g.scenario.policies.push(ScenarioPolicy::from(json!({
            "apiVersion": "projectcalico.org/v3", "kind": "Tier",
            "metadata": {"name": name},
            "spec": {"order": order, "defaultAction": action},
        })));
    }
    let network = |rng: &mut Rng| -> String {
        let len = *rng.pick(&[16u8, 20, 24, 24, 28, 32]);
        cidr_text(false, net_mask(false, len, public_v4(rng)), len)
    };
    for (i, role) in ["scanner", "partner", "cdn", "partner"].iter().enumerate() {
        let nets: Vec<String> = (0..rng.range(2, 6)).map(|_| network(&mut rng)).collect();
        g.scenario.policies.push(ScenarioPolicy::from(json!({
            "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": format!("gns-{i}"), "labels": {"role": role}},
            "spec": {"nets": nets},
        })));
    }
    for (ns, _) in apps_in.iter().step_by(10) {
        let nets: Vec<String> = (0..rng.range(1, 4)).map(|_| network(&mut rng)).collect();
        g.scenario.policies.push(ScenarioPolicy::from(json!({
            "apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
            "metadata": {"name": "egress-targets", "namespace": ns, "labels": {"role": "partner"}},
            "spec": {"nets": nets},
        })));
    }

    let app_sel = |rng: &mut Rng, apps: &[String]| -> String {
        match rng.below(6) {
            0 | 1 => format!("app == '{}'", rng.pick(apps)),
            2 => format!("app in {{'{}', '{}'}}", rng.pick(apps), rng.pick(apps)),
            3 => format!(
                "tier == '{}'",
                rng.pick(&["web", "backend", "data", "cache"])
            ),
            4 => "has(canary)".to_owned(),
            _ => format!(
                "version != 'v1' && tier == '{}'",
                rng.pick(&["web", "backend"])
            ),
        }
    };
    let ns_sel = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => format!("team == '{}'", rng.pick(&teams)),
            1 => format!("env == '{}'", rng.pick(&envs)),
            2 => format!("env in {{'{}', 'prod'}}", rng.pick(&envs)),
            _ => "all()".to_owned(),
        }
    };
    for i in 0..n {
        let global = rng.chance(33);
        let (ns, local_apps) = rng.pick(&apps_in).clone();
        let tier = ["security", "platform", "app", "default"][rng.weighted(&[25, 20, 20, 35])];
        let pick_apps: &[String] = if global { &apps } else { &local_apps };
        let mut spec = json!({ "selector": app_sel(&mut rng, pick_apps) });
        if tier != "default" {
            spec["tier"] = json!(tier);
        }
        if rng.chance(80) {
            spec["order"] = json!(rng.below(1001) as f64);
        }
        if global && rng.chance(50) {
            spec["namespaceSelector"] = json!(ns_sel(&mut rng));
        }
        let mut types = vec!["Ingress"];
        let egress = rng.chance(40);
        if egress {
            types.push("Egress");
        }
        spec["types"] = json!(types);
        for dir in ["ingress", "egress"] {
            if dir == "egress" && !egress {
                continue;
            }
            let rules: Vec<Value> = (0..rng.range(1, 4))
                .map(|_| {
                    let action = ["Allow", "Deny", "Pass", "Log"][rng.weighted(&[45, 25, 15, 15])];
                    let protocol = [Some("TCP"), Some("UDP"), None][rng.weighted(&[60, 15, 25])];
                    let mut peer = json!({});
                    match rng.below(6) {
                        0 | 1 => peer["selector"] = json!(app_sel(&mut rng, &apps)),
                        2 => {
                            peer["namespaceSelector"] = json!(ns_sel(&mut rng));
                            if rng.chance(50) {
                                peer["selector"] = json!(app_sel(&mut rng, &apps));
                            }
                        }
                        3 => {
                            peer["nets"] = json!(
                                (0..rng.range(1, 3))
                                    .map(|_| network(&mut rng))
                                    .collect::<Vec<_>>()
                            )
                        }
                        4 => {
                            peer["selector"] = json!(format!(
                                "role == '{}'",
                                rng.pick(&["scanner", "partner", "cdn"])
                            ))
                        }
                        _ => {
                            peer["notNets"] = json!([network(&mut rng)]);
                            if rng.chance(50) {
                                peer["notSelector"] =
                                    json!(format!("tier == '{}'", rng.pick(&["web", "data"])));
                            }
                        }
                    }
                    let mut dest = json!({});
                    if let Some(p) = protocol {
                        match rng.below(5) {
                            0 => {}
                            1 => {
                                dest["ports"] = json!([*rng.pick(&[80u16, 443, 5432, 8080, 9090])])
                            }
                            2 => {
                                let start = rng.range(1000, 30000);
                                dest["ports"] = json!([format!("{start}:{}", start + 100), 53]);
                            }
                            3 => {
                                dest["ports"] =
                                    json!([*rng.pick(&["http", "grpc", "metrics", "db"]), 8443])
                            }
                            _ => dest["notPorts"] = json!([*rng.pick(&[22u16, 23, 3389])]),
                        }
                        if p == "UDP" && dest.get("ports").is_some() {
                            dest["ports"] = json!([53]);
                        }
                    }
                    let mut rule = json!({"action": action});
                    if let Some(p) = protocol {
                        rule["protocol"] = json!(p);
                    }
                    // The peer is the source in ingress, the destination in egress.
                    if dir == "ingress" {
                        rule["source"] = peer;
                        if dest.as_object().is_some_and(|o| !o.is_empty()) {
                            rule["destination"] = dest;
                        }
                    } else {
                        if let (Some(d), Some(p)) = (dest.as_object_mut(), peer.as_object()) {
                            d.extend(p.clone());
                        }
                        rule["destination"] = dest;
                    }
                    rule
                })
                .collect();
            spec[dir] = Value::Array(rules);
        }
        let name = format!("calico-{i:04}");
        g.scenario.policies.push(ScenarioPolicy::from(if global {
            json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                   "metadata": {"name": name}, "spec": spec})
        } else {
            json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                   "metadata": {"name": name, "namespace": ns}, "spec": spec})
        }));
    }
}
