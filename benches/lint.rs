//! Criterion benchmark of the lint pass (`netpol::analysis::lint`).
//!
//! ```text
//! cargo bench -p netpol-bench --bench lint                 # S, M and L
//! cargo bench -p netpol-bench --bench lint -- '^lint/L'    # L only
//! ```
//!
//! For each scale of `netpol_testing::workload` (seed 1, the `gen_scenario` example's
//! default), `lint/<scale>` times `lint(&LintInput)` on the generated cluster and
//! policies with every check enabled: building the engine, the classes of pods, and every
//! check, redundancy included. The number of findings per check is printed to stderr once
//! per scale, so that a change in what the pass finds shows next to its time.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use netpol::analysis::lint::{LintInput, lint};
use netpol::cluster::Cluster;
use netpol::policy::PolicySet;
use netpol_testing::workload::{self, Scale};

const SEED: u64 = 1;

fn fixture(scale: Scale) -> (Cluster, PolicySet) {
    let generated = workload::generate(scale, SEED);
    let loaded = generated
        .scenario
        .load()
        .expect("the generated scenario loads");
    (loaded.cluster, loaded.policies)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lint");
    for scale in Scale::ALL {
        let (cluster, policies) = fixture(scale);
        let input = LintInput::new(&cluster, &policies);
        let started = Instant::now();
        let report = lint(&input);
        let once = started.elapsed();
        let mut per_check: BTreeMap<String, usize> = BTreeMap::new();
        for f in &report.findings {
            *per_check.entry(f.check.code().to_owned()).or_default() += 1;
        }
        eprintln!(
            "[{}] {} pods, {} policies: {} findings {per_check:?}, skipped {:?}; one pass {once:?}",
            scale.name(),
            cluster.pod_count(),
            policies.len(),
            report.findings.len(),
            report
                .skipped
                .iter()
                .map(|s| s.check.code())
                .collect::<Vec<_>>(),
        );
        if scale == Scale::L {
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(20));
        }
        group.bench_function(scale.name(), |b| {
            b.iter(|| black_box(lint(black_box(&input))))
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
