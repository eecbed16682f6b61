//! Criterion benchmarks of the compiled engine, side by side with the reference evaluator.
//!
//! ```text
//! cargo bench -p netpol-bench --bench engine                 # every scale
//! cargo bench -p netpol-bench --bench engine -- '^M/'        # one scale (criterion filter)
//! ```
//!
//! For each scale of `netpol_testing::workload` (`testing/src/workload.rs`) (S, M, L; seed [`SEED`]):
//! - `build`: `Engine::build` on the generated cluster and policies;
//! - `decide/<kind>`: `Engine::decide` over a batch of pre-made flows of one kind
//!   (`pod-pod`, `addr-pod`, `pod-addr`, `node-pod`), `Throughput::Elements(batch)`,
//!   so criterion's time per iteration divided by the batch is the time per decision;
//! - `explain/<kind>`: `Engine::explain` on the same batches;
//! - `reference/<kind>`: the reference evaluator's `decide` on the same batches (fewer
//!   samples at `L`, where it is slowest), so the ratio reference/engine compares the
//!   same flows measured in the same run.
//!
//! Memory is printed to stderr once per scale, since criterion does not measure it. A
//! counting global allocator would need `unsafe impl GlobalAlloc`, which the crate's
//! `unsafe_code = "forbid"` lint rules out in every target, so the bench reads the
//! process's resident set size (`VmRSS` in `/proc/self/status`, Linux only) instead: it
//! builds the engine [`MEMORY_COPIES`] times, keeping every copy alive, and reports the
//! growth per copy after the first (the first build also leaves the allocator's free
//! lists warm with the build's temporaries, so later copies grow the heap by about the
//! engine's live size). It also prints `Engine::compiled_bytes()`, the engine's own
//! estimate, which leaves out its copy of the cluster.
//!
//! Then, at `L` under the `calico` profile (Felix enforces every policy kind), on the
//! same flows:
//! - `L-felix`: the same 1,000 NetworkPolicies, which Felix reads as Calico's `default`
//!   tier;
//! - `L-calico`: the same plus [`CALICO_POLICIES`] Calico policies (GlobalNetworkPolicy
//!   and namespaced NetworkPolicy in three Tiers and the `default` tier, with network
//!   sets: `add_calico_policies` in `netpol_testing::workload`), the same measurements as
//!   a scale (reference included).
//!
//! And at `L` under the default profile, `L-cnp`: the same 1,000 NetworkPolicies plus
//! [`CLUSTER_POLICIES`] ClusterNetworkPolicies in the Admin and Baseline tiers
//! (`add_cluster_policies` in `netpol_testing::workload`), the same measurements.
//!
//! `cargo bench -p netpol-bench --bench engine -- '^L'` runs `L`, `L-felix`, `L-calico`
//! and `L-cnp` in one run, so the NetworkPolicy-only case and the Calico and
//! ClusterNetworkPolicy ones are measured side by side.
//!
//! Before measuring, every flow of the scale is decided by both the engine and the
//! reference, and the bench stops if they ever differ.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use netpol::cluster::{Cluster, Flow};
use netpol::engine::Engine;
use netpol::policy::PolicySet;
use netpol::profile::Profile;
use netpol::reference::Reference;

use netpol_testing::workload::{self, FlowKind, Scale};

/// The generator seed every scale uses (the `gen_scenario` example's default).
const SEED: u64 = 1;
/// Flows per measured iteration.
const BATCH: usize = 1024;
/// Engines kept alive at once to measure memory.
const MEMORY_COPIES: usize = 4;
/// Calico policies added to the `L` workload for the `L-calico` group.
const CALICO_POLICIES: usize = 200;
/// ClusterNetworkPolicies added to the `L` workload for the `L-cnp` group.
const CLUSTER_POLICIES: usize = 100;

/// Which policies a group measures, and under which profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The scale's NetworkPolicies under the default (conformance) profile.
    Plain,
    /// The same under the `calico` profile.
    Felix,
    /// The same plus this many Calico policies, under the `calico` profile.
    Calico(usize),
    /// The same plus this many ClusterNetworkPolicies, under the default profile.
    Cluster(usize),
}

impl Variant {
    fn group(self, scale: Scale) -> String {
        match self {
            Variant::Plain => scale.name().to_owned(),
            Variant::Felix => format!("{}-felix", scale.name()),
            Variant::Calico(_) => format!("{}-calico", scale.name()),
            Variant::Cluster(_) => format!("{}-cnp", scale.name()),
        }
    }
}

const KINDS: [(FlowKind, &str); 4] = [
    (FlowKind::PodToPod, "pod-pod"),
    (FlowKind::AddrToPod, "addr-pod"),
    (FlowKind::PodToAddr, "pod-addr"),
    (FlowKind::NodeToPod, "node-pod"),
];

struct Fixture {
    name: String,
    cluster: Cluster,
    policies: PolicySet,
    profile: Profile,
    /// Flows of each kind, in `KINDS` order, at most `BATCH` each.
    batches: Vec<Vec<Flow<'static>>>,
}

fn fixture(scale: Scale, variant: Variant) -> Fixture {
    let mut generated = workload::generate(scale, SEED);
    match variant {
        Variant::Plain => {}
        Variant::Felix => generated.scenario.profile = Some("calico".into()),
        Variant::Calico(n) => workload::add_calico_policies(&mut generated, n, SEED),
        Variant::Cluster(n) => workload::add_cluster_policies(&mut generated, n, SEED),
    }
    let name = variant.group(scale);
    let loaded = generated
        .scenario
        .load()
        .expect("the generated scenario loads");
    let refused: Vec<_> = loaded
        .outcomes
        .iter()
        .filter(|o| !o.errors.is_empty())
        .collect();
    assert!(
        refused.is_empty(),
        "generated policies refused: {refused:?}"
    );
    let batches = KINDS
        .iter()
        .map(|(kind, _)| {
            loaded
                .queries
                .iter()
                .zip(&generated.kinds)
                .filter(|(_, k)| *k == kind)
                .map(|(q, _)| q.flow)
                .take(BATCH)
                .collect()
        })
        .collect();
    let p = scale.params();
    eprintln!(
        "[{name}] profile {}: {} namespaces, {} nodes, {} pods, {} policies ({} Calico), {} pool CIDRs, {} distinct cidr/except prefixes, {} flows",
        loaded.profile.name(),
        loaded.cluster.namespaces().len(),
        loaded.cluster.nodes().len(),
        loaded.cluster.pods().len(),
        loaded.policies.len(),
        loaded.policies.calico_policies().len(),
        p.cidrs,
        generated.distinct_prefixes,
        loaded.queries.len()
    );

    // The engine and the reference must agree before either is timed.
    let engine = Engine::builder()
        .profile(loaded.profile.clone())
        .build(&loaded.cluster, &loaded.policies);
    let reference = Reference::new(&loaded.cluster, &loaded.policies, loaded.profile.clone());
    let mut allowed = [0usize; 4];
    let mut total = [0usize; 4];
    for (q, kind) in loaded.queries.iter().zip(&generated.kinds) {
        let e = engine.decide(q.flow());
        let r = reference.decide(q.flow());
        assert_eq!(
            e,
            r,
            "engine and reference differ on {}",
            netpol::explain::Explanation::describe_flow(&loaded.cluster, q.flow())
        );
        let k = KINDS.iter().position(|(x, _)| x == kind).unwrap_or(0);
        total[k] += 1;
        allowed[k] += usize::from(e.is_allowed());
    }
    let mix: Vec<String> = KINDS
        .iter()
        .enumerate()
        .map(|(i, (_, name))| format!("{name} {}/{} allowed", allowed[i], total[i]))
        .collect();
    eprintln!(
        "[{name}] engine = reference on every flow; {}",
        mix.join(", ")
    );
    Fixture {
        name,
        cluster: loaded.cluster,
        policies: loaded.policies,
        profile: loaded.profile,
        batches,
    }
}

/// Resident set size in bytes (Linux), or `None` where `/proc` is missing.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn memory_report(fx: &Fixture) {
    let before = rss_bytes();
    let mut engines = Vec::with_capacity(MEMORY_COPIES);
    let mut after = Vec::with_capacity(MEMORY_COPIES);
    for _ in 0..MEMORY_COPIES {
        engines.push(build(fx));
        after.push(rss_bytes());
    }
    let compiled = engines.first().map_or(0, Engine::compiled_bytes);
    match (
        before,
        after.first().copied().flatten(),
        after.last().copied().flatten(),
    ) {
        (Some(b), Some(first), Some(last)) => {
            let per_copy = last.saturating_sub(first) / (MEMORY_COPIES - 1);
            eprintln!(
                "[{}] memory: {:.2} MiB RSS per engine ({} copies alive: +{:.2} MiB after the first build, +{:.2} MiB per further copy); compiled_bytes() = {:.2} MiB",
                fx.name,
                mib(per_copy),
                MEMORY_COPIES,
                mib(first.saturating_sub(b)),
                mib(per_copy),
                mib(compiled)
            );
        }
        _ => eprintln!(
            "[{}] memory: no /proc/self/status here; compiled_bytes() = {:.2} MiB",
            fx.name,
            mib(compiled)
        ),
    }
    drop(engines);
}

fn build(fx: &Fixture) -> Engine {
    Engine::builder()
        .profile(fx.profile.clone())
        .build(black_box(&fx.cluster), black_box(&fx.policies))
}

fn bench_scale(c: &mut Criterion, scale: Scale, variant: Variant) {
    let fx = fixture(scale, variant);
    memory_report(&fx);
    let engine = build(&fx);
    let reference = Reference::new(&fx.cluster, &fx.policies, fx.profile.clone());
    let large = scale == Scale::L;

    let mut group = c.benchmark_group(fx.name.as_str());
    group.warm_up_time(Duration::from_millis(500));

    group
        .sample_size(if large { 10 } else { 20 })
        .measurement_time(Duration::from_secs(if large { 4 } else { 2 }))
        .sampling_mode(SamplingMode::Flat);
    group.bench_function("build", |b| b.iter(|| build(&fx)));

    group
        .sample_size(40)
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Auto);
    for ((_, name), batch) in KINDS.iter().zip(&fx.batches) {
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(format!("decide/{name}"), |b| {
            b.iter(|| {
                for f in batch {
                    let _ = black_box(engine.decide(black_box(*f)));
                }
            })
        });
    }
    for ((_, name), batch) in KINDS.iter().zip(&fx.batches).take(2) {
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(format!("explain/{name}"), |b| {
            b.iter(|| {
                for f in batch {
                    black_box(engine.explain(black_box(*f)));
                }
            })
        });
    }

    if large {
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .sampling_mode(SamplingMode::Flat);
    }
    for ((_, name), batch) in KINDS.iter().zip(&fx.batches).take(2) {
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(format!("reference/{name}"), |b| {
            b.iter(|| {
                for f in batch {
                    let _ = black_box(reference.decide(black_box(*f)));
                }
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    for scale in Scale::ALL {
        bench_scale(c, scale, Variant::Plain);
    }
    bench_scale(c, Scale::L, Variant::Felix);
    bench_scale(c, Scale::L, Variant::Calico(CALICO_POLICIES));
    bench_scale(c, Scale::L, Variant::Cluster(CLUSTER_POLICIES));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
