//! Calico selectors: parsing, printing the canonical form, and matching a pod's labels
//! (the cost an engine pays per selector and pod at build time).
//!
//! ```text
//! cargo bench -p netpol-bench --bench calico_selector
//! ```

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use netpol::calico::selector::parse;
use netpol::model::Labels;

/// A selector of the size policies use, and a short one.
const TYPICAL: &str = "app == 'checkout' && tier in {'web', 'api', 'worker'} \
    && env != 'dev' && !has(legacy) && (team starts with 'pay' || owner ends with '-sre')";
const SHORT: &str = "role == 'database'";

/// A pod's labels as Calico sees them: its own and the ones Calico adds.
fn pod_labels(app: &str) -> Labels {
    [
        ("app", app),
        ("tier", "api"),
        ("env", "prod"),
        ("team", "payments"),
        ("pod-template-hash", "5d8f7c9b4"),
        ("app.kubernetes.io/name", "checkout"),
        ("app.kubernetes.io/part-of", "shop"),
        ("projectcalico.org/namespace", "shop"),
        ("projectcalico.org/orchestrator", "k8s"),
        ("projectcalico.org/serviceaccount", "default"),
        ("pcns.projectcalico.org/name", "shop"),
        ("pcns.kubernetes.io/metadata.name", "shop"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("calico_selector");
    group.bench_function("parse/typical", |b| b.iter(|| parse(black_box(TYPICAL))));
    group.bench_function("parse/short", |b| b.iter(|| parse(black_box(SHORT))));
    let typical = parse(TYPICAL).expect("parses");
    let short = parse(SHORT).expect("parses");
    group.bench_function("display/typical", |b| {
        b.iter(|| black_box(&typical).to_string())
    });
    let hit = pod_labels("checkout");
    let miss = pod_labels("frontend");
    assert!(typical.matches(&hit) && !typical.matches(&miss));
    group.bench_function("matches/typical-hit", |b| {
        b.iter(|| black_box(&typical).matches(black_box(&hit)))
    });
    group.bench_function("matches/typical-miss-first-term", |b| {
        b.iter(|| black_box(&typical).matches(black_box(&miss)))
    });
    group.bench_function("matches/short", |b| {
        b.iter(|| black_box(&short).matches(black_box(&hit)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
