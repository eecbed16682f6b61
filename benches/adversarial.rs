//! Adversarial input sizes: validation and engine build, each class at a tenth of its
//! size and at full size, so the growth factor shows (near-linear growth is about 10x).
//!
//! `cargo bench -p netpol-bench --bench adversarial`. Before the timings, one line per case gives the
//! input size, one build's wall time and the engine's `compiled_bytes()`.
//!
//! Classes:
//! - `except`: one ipBlock with 1,000 / 10,000 `except` entries;
//! - `policies`: 500 / 5,000 policies in one namespace of 2,000 pods;
//! - `object`: one policy object of ~150 KB / ~1.5 MB of JSON (the apiserver's request
//!   limit), many rules with selector peers, ports and ipBlocks; decoded, validated, built;
//! - `selector`: pod and peer selectors with 100 / 1,000 expressions each;
//! - `pods`: 10,000 / 100,000 pods in 100 namespaces under 50 policies;
//! - `shared_cidr`: 500 / 5,000 ipBlocks with the same `cidr`, each with its own
//!   `except` entry (many blocks open over many prefixes);
//! - `decode`: decoding alone, no validation: the `object` policy of ~150 KB / ~1.5 MB
//!   (`NetworkPolicy::from_json`, the streaming pass), the same with a repeated key at its
//!   end (which the streaming pass refuses, so it is read into a tree and decoded again
//!   from it, as Go decodes a repeated key), and a `NetworkPolicyList` of 500 / 5,000
//!   policies (`decode_policies`, item by item).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use netpol::cluster::{Cluster, PodSpec};
use netpol::engine::Engine;
use netpol::model::{NetworkPolicy, decode_policies};
use netpol::policy::Policy;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

/// `n` pods over `namespaces` namespaces, labels `app=app<i % 50>`, `role=r<i % 7>`.
fn cluster(n: u32, namespaces: u32) -> Cluster {
    let mut b = Cluster::builder();
    for ns in 0..namespaces {
        b = b.namespace(format!("ns{ns}"), [("team", format!("t{}", ns % 5))]);
    }
    for i in 0..n {
        b = b.pod(
            PodSpec::new(format!("ns{}", i % namespaces), format!("pod{i}"))
                .label("app", format!("app{}", i % 50))
                .label("role", format!("r{}", i % 7))
                .ip(v4(0x0a00_0000 + i)),
        );
    }
    b.build().expect("cluster builds")
}

fn decode(json: &str) -> NetworkPolicy {
    NetworkPolicy::from_json(json).expect("generated policy decodes")
}

fn except_block(n: u32) -> Vec<NetworkPolicy> {
    let except: Vec<String> = (0..n)
        .map(|i| format!("\"10.{}.{}.0/24\"", i / 256 % 256, i % 256))
        .collect();
    vec![decode(&format!(
        r#"{{"metadata": {{"name": "big-except", "namespace": "ns0"}},
            "spec": {{"podSelector": {{}}, "egress": [{{"to": [{{"ipBlock":
                {{"cidr": "10.0.0.0/8", "except": [{}]}}}}]}}]}}}}"#,
        except.join(",")
    ))]
}

fn policy_text(i: u32) -> String {
    format!(
        r#"{{"metadata": {{"name": "p{i}", "namespace": "ns0"}},
            "spec": {{"podSelector": {{"matchLabels": {{"app": "app{a}"}}}},
              "ingress": [{{"from": [{{"podSelector": {{"matchLabels": {{"role": "r{r}"}}}}}},
                                     {{"ipBlock": {{"cidr": "172.{x}.{y}.0/24"}}}}],
                           "ports": [{{"port": {p}}}, {{"port": 9000, "endPort": 9100}}]}}]}}}}"#,
        a = i % 50,
        r = i % 7,
        x = 16 + i / 256 % 16,
        y = i % 256,
        p = 1 + i % 60000,
    )
}

fn many_policies(n: u32) -> Vec<NetworkPolicy> {
    (0..n).map(|i| decode(&policy_text(i))).collect()
}

/// A `NetworkPolicyList` of `n` policies, as `kubectl get networkpolicies -o json`
/// prints one.
fn policy_list(n: u32) -> String {
    let items: Vec<String> = (0..n).map(policy_text).collect();
    format!(
        r#"{{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList",
            "metadata": {{"resourceVersion": "1"}}, "items": [{}]}}"#,
        items.join(",")
    )
}

fn big_object(rules: u32) -> String {
    let rule = |i: u32| {
        format!(
            r#"{{"from": [{{"podSelector": {{"matchLabels": {{"app": "app{a}"}}}},
                           "namespaceSelector": {{"matchExpressions": [{{"key": "team",
                             "operator": "In", "values": ["t{t}", "t{u}"]}}]}}}},
                          {{"ipBlock": {{"cidr": "172.{x}.{y}.0/24", "except": ["172.{x}.{y}.128/25"]}}}}],
                 "ports": [{{"protocol": "TCP", "port": {p}}}, {{"protocol": "UDP", "port": "dns"}}]}}"#,
            a = i % 50,
            t = i % 5,
            u = (i + 1) % 5,
            x = 16 + i / 256 % 16,
            y = i % 256,
            p = 1 + i % 60000,
        )
    };
    let rules: Vec<String> = (0..rules).map(rule).collect();
    format!(
        r#"{{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {{"name": "huge", "namespace": "ns0"}},
            "spec": {{"podSelector": {{}}, "ingress": [{}]}}}}"#,
        rules.join(",")
    )
}

fn big_selectors(n: u32) -> Vec<NetworkPolicy> {
    let exprs: Vec<String> = (0..n)
        .map(|i| match i % 3 {
            0 => format!(r#"{{"key": "k{i}", "operator": "DoesNotExist"}}"#),
            1 => format!(r#"{{"key": "role", "operator": "NotIn", "values": ["x{i}"]}}"#),
            _ => format!(
                r#"{{"key": "app", "operator": "In", "values": ["app{}", "app{}"]}}"#,
                i % 50,
                1
            ),
        })
        .collect();
    let exprs = exprs.join(",");
    vec![decode(&format!(
        r#"{{"metadata": {{"name": "wide", "namespace": "ns0"}},
            "spec": {{"podSelector": {{"matchExpressions": [{exprs}]}},
              "ingress": [{{"from": [{{"podSelector": {{"matchExpressions": [{exprs}]}},
                                      "namespaceSelector": {{"matchExpressions": [{exprs}]}}}}]}}]}}}}"#
    ))]
}

fn spread_policies(namespaces: u32) -> Vec<NetworkPolicy> {
    (0..50)
        .map(|i| {
            decode(&format!(
                r#"{{"metadata": {{"name": "p{i}", "namespace": "ns{ns}"}},
                    "spec": {{"podSelector": {{"matchLabels": {{"app": "app{i}"}}}},
                      "ingress": [{{"from": [{{"namespaceSelector": {{"matchLabels": {{"team": "t{t}"}}}},
                                              "podSelector": {{"matchExpressions": [{{"key": "role", "operator": "NotIn", "values": ["r1", "r2"]}}]}}}}]}}],
                      "egress": [{{"to": [{{"podSelector": {{}}}}]}}]}}}}"#,
                ns = i % namespaces,
                t = i % 5,
            ))
        })
        .collect()
}

fn shared_cidr(n: u32) -> Vec<NetworkPolicy> {
    let peers: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"ipBlock": {{"cidr": "10.0.0.0/8", "except": ["10.{}.{}.0/24"]}}}}"#,
                i / 256 % 256,
                i % 256
            )
        })
        .collect();
    vec![decode(&format!(
        r#"{{"metadata": {{"name": "shared", "namespace": "ns0"}},
            "spec": {{"podSelector": {{}}, "ingress": [{{"from": [{}]}}]}}}}"#,
        peers.join(",")
    ))]
}

fn validate(written: &[NetworkPolicy]) -> Vec<Policy> {
    written
        .iter()
        .map(|w| Policy::new(w).expect("generated policy is valid"))
        .collect()
}

fn validate_and_build(cluster: &Cluster, written: &[NetworkPolicy]) -> Engine {
    Engine::build(cluster, &validate(written))
}

/// Prints one build's figures, so the table does not depend on criterion's output.
fn report(class: &str, size: &str, input: &str, run: impl FnOnce() -> Engine) {
    let start = Instant::now();
    let engine = run();
    let took = start.elapsed();
    println!(
        "adversarial {class:<12} {size:<8} input {input:<22} validate+build {:>10.2?}  compiled {:>8} KiB",
        took,
        engine.compiled_bytes() / 1024
    );
}

fn group<'a>(
    c: &'a mut Criterion,
    class: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(format!("adversarial/{class}"));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(200));
    g.measurement_time(Duration::from_secs(2));
    g
}

fn bench(c: &mut Criterion) {
    let small = cluster(2_000, 10);

    let mut g = group(c, "except");
    for n in [1_000, 10_000] {
        let w = except_block(n);
        report("except", &n.to_string(), &format!("{n} except"), || {
            validate_and_build(&small, &w)
        });
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| validate_and_build(&small, black_box(w)))
        });
    }
    g.finish();

    let mut g = group(c, "policies");
    for n in [500, 5_000] {
        let w = many_policies(n);
        report("policies", &n.to_string(), &format!("{n} policies"), || {
            validate_and_build(&small, &w)
        });
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| validate_and_build(&small, black_box(w)))
        });
    }
    g.finish();

    let mut g = group(c, "object");
    for rules in [360, 3_600] {
        let text = big_object(rules);
        let size = format!("{} KiB", text.len() / 1024);
        let run = |text: &str| {
            let w = NetworkPolicy::from_json(text).expect("decodes");
            validate_and_build(&small, std::slice::from_ref(&w))
        };
        report("object", &format!("{rules}r"), &size, || run(&text));
        g.bench_with_input(BenchmarkId::from_parameter(&size), &text, |b, t| {
            b.iter(|| run(black_box(t)))
        });
    }
    g.finish();

    let mut g = group(c, "selector");
    for n in [100, 1_000] {
        let w = big_selectors(n);
        report(
            "selector",
            &n.to_string(),
            &format!("3x{n} expressions"),
            || validate_and_build(&small, &w),
        );
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| validate_and_build(&small, black_box(w)))
        });
    }
    g.finish();

    let mut g = group(c, "pods");
    for n in [10_000, 100_000] {
        let start = Instant::now();
        let big = cluster(n, 100);
        println!(
            "adversarial cluster      {n:<8} Cluster::build {:>10.2?}",
            start.elapsed()
        );
        let w = spread_policies(100);
        report("pods", &n.to_string(), &format!("{n} pods"), || {
            validate_and_build(&big, &w)
        });
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| validate_and_build(&big, black_box(w)))
        });
    }
    g.finish();

    decode_only(c);

    let mut g = group(c, "shared_cidr");
    for n in [500, 5_000] {
        let w = shared_cidr(n);
        report(
            "shared_cidr",
            &n.to_string(),
            &format!("{n} blocks"),
            || validate_and_build(&small, &w),
        );
        g.bench_with_input(BenchmarkId::from_parameter(n), &w, |b, w| {
            b.iter(|| validate_and_build(&small, black_box(w)))
        });
    }
    g.finish();
}

/// Decoding alone: one large object (streaming, and through the tree a repeated key
/// sends it to) and a large list.
fn decode_only(c: &mut Criterion) {
    let mut g = group(c, "decode");
    for rules in [360, 3_600] {
        let text = big_object(rules);
        let size = format!("{} KiB", text.len() / 1024);
        // The same object with `metadata` written twice: Go merges the two, the
        // streaming pass refuses the repeat and the tree path decodes it.
        let Some(body) = text.strip_suffix('}') else {
            panic!("an object ends with a brace");
        };
        let repeated = format!(r#"{body}, "metadata": {{"labels": {{"a": "b"}}}}}}"#);
        let start = Instant::now();
        let p = NetworkPolicy::from_json(&text).expect("decodes");
        let streamed = start.elapsed();
        let start = Instant::now();
        let q = NetworkPolicy::from_json(&repeated).expect("decodes");
        let tree = start.elapsed();
        assert_eq!(q.spec, p.spec, "the repeat changes only metadata");
        println!(
            "adversarial decode       {rules:<8} input {size:<22} streamed {streamed:>10.2?}  repeated key {tree:>10.2?}"
        );
        g.bench_with_input(BenchmarkId::new("policy", &size), &text, |b, t| {
            b.iter(|| NetworkPolicy::from_json(black_box(t)).expect("decodes"))
        });
        g.bench_with_input(
            BenchmarkId::new("policy-repeated-key", &size),
            &repeated,
            |b, t| b.iter(|| NetworkPolicy::from_json(black_box(t)).expect("decodes")),
        );
    }
    for n in [500, 5_000] {
        let text = policy_list(n);
        let start = Instant::now();
        let decoded = decode_policies(&text).expect("decodes");
        println!(
            "adversarial decode       {n:<8} input {:<22} decode_policies {:>10.2?}",
            format!("list of {} KiB", text.len() / 1024),
            start.elapsed()
        );
        assert_eq!(decoded.len(), n as usize);
        g.bench_with_input(BenchmarkId::new("list", n), &text, |b, t| {
            b.iter(|| decode_policies(black_box(t)).expect("decodes"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
