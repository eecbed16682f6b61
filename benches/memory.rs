//! Memory per pod and per policy: the heap an engine holds, counted by a counting
//! allocator, on the generated workloads.
//!
//! ```text
//! cargo bench -p netpol-bench --bench memory                      # S, M, L
//! MEMORY_SCALES=L,XL cargo bench -p netpol-bench --bench memory   # and 150,000 pods
//! ```
//!
//! For each scale of `netpol_testing::workload` (seed 1) it prints one table row per
//! measured value, each the bytes still allocated after the value was made and while it
//! is alive (so shared parts are counted where they were first allocated):
//!
//! - `cluster`: the cluster and policies as the scenario loader makes them (the input
//!   models, which an engine shares rather than copies where it can);
//! - `engine, no policy`: [`Engine::build`] of the cluster with an empty policy set
//!   (per pod: what deciding needs of each pod and its identity);
//! - `engine`: [`Engine::build`] with the scale's NetworkPolicies (per policy: the
//!   difference to the row above over the number of policies);
//! - `engine + 100 CNPs` and `engine + 100 Calico`: the same with 100
//!   ClusterNetworkPolicies or 100 Calico policies (and their network sets) added to the
//!   set, per added policy;
//! - `live`: [`LiveEngine::new`] with the NetworkPolicies (the engine plus what updates
//!   need: the kind index and the policy set), and `live, calico profile` the same where
//!   Calico's Felix decides.
//!
//! `Engine::compiled_bytes()`, the engine's own estimate of its compiled structures,
//! is printed beside each engine for comparison. The whole process's peak resident set
//! (input text included) is measured by the conformance runner instead: see
//! `BENCHMARKS.md`, "150,000 pods".

use netpol::engine::Engine;
use netpol::engine::live::LiveEngine;
use netpol::policy::PolicySet;
use netpol::profile::Profile;
use netpol_testing::workload::{self, Generated, Scale};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes still allocated at the end of a region (a reallocation's growth is already in
/// `bytes_allocated`, its shrinkage in `bytes_deallocated`).
fn live(stats: stats_alloc::Stats) -> i64 {
    i64::try_from(stats.bytes_allocated).unwrap_or(i64::MAX)
        - i64::try_from(stats.bytes_deallocated).unwrap_or(i64::MAX)
}

/// Makes a value and returns it with the bytes it holds.
fn measured<T>(make: impl FnOnce() -> T) -> (T, i64) {
    let region = Region::new(GLOBAL);
    let x = black_box(make());
    let bytes = live(region.change());
    (x, bytes)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn per(bytes: i64, n: usize) -> String {
    if n == 0 {
        return "-".to_owned();
    }
    format!("{:.0}", bytes as f64 / n as f64)
}

fn loaded(g: &Generated) -> (netpol::cluster::Cluster, PolicySet) {
    let l = g.scenario.load().expect("the generated scenario loads");
    (l.cluster, l.policies)
}

fn row(scale: &str, what: &str, bytes: i64, pods: usize, per_policy: Option<(i64, usize)>) {
    let (extra, n) = per_policy.unwrap_or((0, 0));
    println!(
        "| {scale} | {what} | {:.2} | {} | {} |",
        mib(bytes),
        per(bytes, pods),
        per_policy.map_or("-".to_owned(), |_| per(extra, n)),
    );
}

fn scale(s: Scale) {
    let name = s.name();
    let generated = workload::generate(s, 1);
    let ((cluster, policies), input) = measured(|| loaded(&generated));
    let pods = cluster.pod_count();
    let n_policies = policies.len();
    row(name, "cluster and policies (input)", input, pods, None);

    let empty = PolicySet::default();
    let (bare, bare_bytes) = measured(|| Engine::build(&cluster, &empty));
    row(name, "engine, no policy", bare_bytes, pods, None);
    eprintln!(
        "[{name}] compiled_bytes, no policy: {}",
        bare.compiled_bytes()
    );
    drop(bare);

    let (engine, bytes) = measured(|| Engine::build(&cluster, &policies));
    row(
        name,
        &format!("engine, {n_policies} NetworkPolicies"),
        bytes,
        pods,
        Some((bytes - bare_bytes, n_policies)),
    );
    eprintln!("[{name}] compiled_bytes: {}", engine.compiled_bytes());
    drop(engine);

    for (label, add) in [
        (
            "100 ClusterNetworkPolicies",
            workload::add_cluster_policies as fn(&mut Generated, usize, u64),
        ),
        ("100 Calico policies", workload::add_calico_policies),
    ] {
        let mut g = workload::generate(s, 1);
        add(&mut g, 100, 7);
        let (c, p) = loaded(&g);
        let profile = if label.contains("Calico") {
            Profile::calico()
        } else {
            Profile::default()
        };
        let (base, base_bytes) = measured(|| {
            Engine::builder()
                .profile(profile.clone())
                .build(&c, &policies)
        });
        drop(base);
        let (e, b) = measured(|| Engine::builder().profile(profile.clone()).build(&c, &p));
        let added = p.len().saturating_sub(policies.len());
        row(
            name,
            &format!("engine + {label} ({} profile)", profile.name()),
            b,
            pods,
            Some((b - base_bytes, added)),
        );
        drop(e);
    }

    let (l, live_bytes) =
        measured(|| LiveEngine::new(&cluster, policies.clone(), Profile::default()));
    row(name, "live engine", live_bytes, pods, None);
    drop(l);
    let (l, felix_bytes) =
        measured(|| LiveEngine::new(&cluster, policies.clone(), Profile::calico()));
    row(name, "live engine, calico profile", felix_bytes, pods, None);
    drop(l);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, at S only.
    let testing =
        std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let scales: Vec<Scale> = if testing {
        vec![Scale::S]
    } else {
        std::env::var("MEMORY_SCALES")
            .unwrap_or_else(|_| "S,M,L".to_owned())
            .split(',')
            .filter_map(|x| Scale::parse(x.trim()))
            .collect()
    };
    println!("| scale | value | MiB | bytes per pod | bytes per policy |");
    println!("|---|---|---:|---:|---:|");
    for s in scales {
        scale(s);
    }
}
