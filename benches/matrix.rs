//! `Engine::matrix` against calling `Engine::decide` for every pair, on a generated
//! cluster of 1,000 pods (every pod both a source and a destination, one port).
//!
//! ```text
//! cargo bench -p netpol-bench --bench matrix
//! ```
//!
//! The cluster and policies come from a small seeded generator, so every run measures
//! the same input.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use netpol::cluster::{Cluster, ContainerPort, Endpoint, Flow, PodSpec};
use netpol::engine::Engine;
use netpol::model::NetworkPolicy;
use netpol::policy::{Policy, Protocol};
use serde_json::json;

use netpol_bench::splitmix::Rng;

const NAMESPACES: usize = 20;
const APPS: u64 = 12;

/// `pods` pods over 20 namespaces and 10 nodes, with `app`/`tier` labels and named
/// ports, and per namespace a default deny, selector rules, ipBlocks and named ports.
fn generate(seed: u64, pods: usize) -> (Cluster, Vec<Policy>) {
    let mut rng = Rng(seed);
    let mut b = Cluster::builder();
    for n in 0..NAMESPACES {
        let team = ["shop", "data", "ops", "web"][n % 4];
        b = b.namespace(
            format!("ns-{n}"),
            [
                ("team", team),
                ("env", if n % 3 == 0 { "prod" } else { "dev" }),
            ],
        );
    }
    for node in 0..10u8 {
        b = b.node(
            format!("node-{node}"),
            [IpAddr::V4(Ipv4Addr::new(192, 168, 0, node + 1))],
        );
    }
    for i in 0..pods {
        let ns = i % NAMESPACES;
        let app = rng.below(APPS);
        let tier = ["web", "api", "db"][rng.below(3) as usize];
        let ip = Ipv4Addr::new(10, 244, (i / 250) as u8, (i % 250) as u8 + 2);
        b = b.pod(
            PodSpec::new(format!("ns-{ns}"), format!("pod-{i}"))
                .label("app", format!("app-{app}"))
                .label("tier", tier)
                .ip(IpAddr::V4(ip))
                .node(format!("node-{}", rng.below(10)))
                .port(ContainerPort::named("http", 8080, Protocol::Tcp))
                .port(ContainerPort::named("metrics", 9090, Protocol::Tcp)),
        );
    }
    let cluster = match b.build() {
        Ok(c) => c,
        Err(e) => panic!("generated cluster: {e}"),
    };

    let mut written = Vec::new();
    for n in 0..NAMESPACES {
        let ns = format!("ns-{n}");
        if n % 2 == 0 {
            written.push(json!({
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
            }));
        }
        for r in 0..4 {
            let app = format!("app-{}", rng.below(APPS));
            let peer_app = format!("app-{}", rng.below(APPS));
            let team = ["shop", "data", "ops", "web"][rng.below(4) as usize];
            let block = rng.below(4);
            let cidr = format!("10.244.{block}.0/24");
            let except = format!("10.244.{block}.{}/28", rng.below(16) * 16);
            let port = [json!(80), json!(8080), json!("http"), json!("metrics")]
                [rng.below(4) as usize]
                .clone();
            written.push(json!({
                "metadata": {"name": format!("rule-{r}"), "namespace": ns},
                "spec": {
                    "podSelector": {"matchLabels": {"app": app}},
                    "ingress": [
                        {"from": [
                            {"podSelector": {"matchLabels": {"app": peer_app}}},
                            {"namespaceSelector": {"matchLabels": {"team": team}},
                             "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}}
                         ],
                         "ports": [{"port": port}, {"port": 80, "endPort": 90}]},
                        {"from": [{"ipBlock": {"cidr": cidr, "except": [except]}}]}
                    ],
                    "egress": [
                        {"to": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]},
                        {"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}], "ports": [{"port": 80}]}
                    ]
                }
            }));
        }
    }
    let policies = written
        .iter()
        .map(|v| {
            let p = NetworkPolicy::from_value(v).map_err(|e| e.to_string())?;
            Policy::new(&p).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>();
    match policies {
        Ok(p) => (cluster, p),
        Err(e) => panic!("generated policy: {e}"),
    }
}

fn decide_all(engine: &Engine, pods: &[Endpoint], port: u16) -> usize {
    let mut allowed = 0;
    for src in pods {
        for dst in pods {
            if engine
                .decide(Flow::new(*src, *dst, port, Protocol::Tcp))
                .is_allowed()
            {
                allowed += 1;
            }
        }
    }
    allowed
}

fn bench(c: &mut Criterion) {
    let (cluster, policies) = generate(0x5eed, 1_000);
    let engine = Engine::build(&cluster, &policies);
    let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    // Both ways must agree before their times mean anything.
    let m = engine.matrix(&pods, &pods, 80, Protocol::Tcp);
    let n2 = decide_all(&engine, &pods, 80);
    assert_eq!(m.allowed_count(), n2, "matrix and decide disagree");
    eprintln!(
        "{} pods, {} policies: {} of {} pairs allowed on 80/TCP",
        pods.len(),
        policies.len(),
        n2,
        pods.len() * pods.len()
    );

    let mut g = c.benchmark_group("reachability_1000x1000_80tcp");
    g.sample_size(10);
    g.bench_function("matrix", |b| {
        b.iter(|| black_box(engine.matrix(black_box(&pods), black_box(&pods), 80, Protocol::Tcp)))
    });
    g.bench_function("decide_n2", |b| {
        b.iter(|| black_box(decide_all(black_box(&engine), black_box(&pods), 80)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
