//! Criterion benchmarks of the whole-cluster analyses at the L scale of
//! `netpol_testing::workload` (10,000 pods in 100 namespaces, 1,000 NetworkPolicies,
//! 10,000 CIDRs; seed 1, what `cargo run --release --example gen_scenario -- --scale L`
//! writes).
//!
//! ```text
//! cargo bench -p netpol-bench --bench analysis
//! ```
//!
//! - `map`: `ConnectivityMap::new` from a built engine: every allowed connection between
//!   workloads, as port sets;
//! - `diff`: `SemanticDiff::new` between two versions of the policies that differ in 10
//!   policies (4 with other ports, 3 deleted, 3 with other peers; see [`changed`]), both
//!   engines built;
//! - `diff+build`: the same with the second engine built inside the measurement, as
//!   `analysis::impact` and `netpol diff` do;
//! - `exposure`: `analysis::exposure`;
//! - `impact` and `impact_live`: the flows one changed NetworkPolicy (the first of the 10,
//!   other ports) adds and removes, through `analysis::impact` (the engine after the
//!   change built) and `analysis::impact_live` (a `LiveEngine` updated incrementally).
//!
//! Before measuring, the bench prints the sizes of the results to stderr.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use netpol::analysis::{Change, ConnectivityMap, SemanticDiff, exposure, impact, impact_live};
use netpol::engine::Engine;
use netpol::engine::live::LiveEngine;
use netpol::policy::PolicySet;
use netpol_testing::scenario::Scenario;
use netpol_testing::workload::{self, Scale};
use serde_json::{Value, json};

/// The generator seed.
const SEED: u64 = 1;

/// The scenario with 10 of its policies changed: every 100th from the 37th on; the
/// first of each three gets other ports, the second is deleted, the third admits its
/// whole namespace instead of its peers.
fn changed(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    let mut keep = Vec::with_capacity(s.policies.len());
    for (i, p) in s.policies.iter().enumerate() {
        if i < 37 || (i - 37) % 100 != 0 || (i - 37) / 100 >= 10 {
            keep.push(p.clone());
            continue;
        }
        let k = (i - 37) / 100;
        let mut p = p.to_value().expect("a generated policy");
        let spec = &mut p["spec"];
        match k % 3 {
            0 => {
                for dir in ["ingress", "egress"] {
                    if let Some(rules) = spec[dir].as_array_mut() {
                        for r in rules {
                            r["ports"] = json!([{"port": 8443}, {"port": 9000, "endPort": 9100}]);
                        }
                    }
                }
                if spec["ingress"].is_null() && spec["egress"].is_null() {
                    spec["ingress"] = json!([{"ports": [{"port": 8443}]}]);
                }
            }
            1 => continue,
            _ => {
                spec["ingress"] = json!([{"from": [{"podSelector": {}}]}]);
                if let Some(map) = spec.as_object_mut() {
                    map.remove("egress");
                }
                spec["policyTypes"] = Value::from(vec!["Ingress"]);
            }
        }
        keep.push(p.into());
    }
    s.policies = keep;
    s
}

fn bench(c: &mut Criterion) {
    let generated = workload::generate(Scale::L, SEED);
    let before = match generated.scenario.load() {
        Ok(l) => l,
        Err(e) => panic!("the L scenario loads: {e}"),
    };
    let after_scenario = changed(&generated.scenario);
    let after = match after_scenario.load() {
        Ok(l) => l,
        Err(e) => panic!("the changed L scenario loads: {e}"),
    };
    let cluster = before.cluster.clone();
    let a_set: &PolicySet = &before.policies;
    let b_set: &PolicySet = &after.policies;
    eprintln!(
        "analysis L: {} pods, {} policies before, {} after",
        cluster.pod_count(),
        a_set.len(),
        b_set.len()
    );
    let a = Engine::build(&cluster, a_set);
    let b = Engine::build(&cluster, b_set);

    let map = ConnectivityMap::new(&a, a_set);
    eprintln!(
        "map: {} classes, {} workloads, {} connections",
        map.classes().len(),
        map.classes().workloads().len(),
        map.connections().len()
    );
    let diff = match SemanticDiff::new(&a, a_set, &b, b_set) {
        Ok(d) => d,
        Err(e) => panic!("diff: {e}"),
    };
    let s = diff.summary();
    eprintln!(
        "diff: {} entries, {} flows removed, {} added",
        s.entries, s.removed_flows, s.added_flows
    );

    // One change: the policy given other ports (position 37 in both versions).
    let Some(one) = b_set.network_policies().get(37).cloned() else {
        panic!("the changed L scenario has a policy at position 37");
    };
    let change = Change::Apply(one.into());
    let live = LiveEngine::new(&cluster, a_set.clone(), a.profile().clone());
    match (impact(&a, a_set, &change), impact_live(&live, &change)) {
        (Ok(built), Ok((incremental, after))) => {
            assert_eq!(
                built.entries(),
                incremental.entries(),
                "impact and impact_live differ"
            );
            eprintln!(
                "impact: {} entries; the live update: {} incremental policy change(s), {} rebuild(s)",
                built.entries().len(),
                after.stats().policies,
                after.stats().rebuilds
            );
        }
        (Err(e), _) | (_, Err(e)) => panic!("impact: {e}"),
    }

    let mut g = c.benchmark_group("L");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    g.bench_function("map", |bench| {
        bench.iter(|| black_box(ConnectivityMap::new(&a, a_set)))
    });
    g.bench_function("diff", |bench| {
        bench.iter(|| black_box(SemanticDiff::new(&a, a_set, &b, b_set)))
    });
    g.bench_function("diff+build", |bench| {
        bench.iter(|| {
            let b = Engine::build(&cluster, b_set);
            black_box(SemanticDiff::new(&a, a_set, &b, b_set))
        })
    });
    g.bench_function("exposure", |bench| {
        bench.iter(|| black_box(exposure(&a, a_set)))
    });
    g.bench_function("impact", |bench| {
        bench.iter(|| black_box(impact(&a, a_set, &change)))
    });
    g.bench_function("impact_live", |bench| {
        bench.iter(|| black_box(impact_live(&live, &change)))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
