//! Criterion benchmark of the lint pass (`netpol::analysis::lint`).
//!
//! ```text
//! cargo bench -p netpol-bench --bench lint                 # S, M and L
//! cargo bench -p netpol-bench --bench lint -- '^lint/L'    # L only
//! ```
//!
//! `L_with_services` is the L workload with a LoadBalancer Service
//! (`externalTrafficPolicy: Cluster`, a node port and a VIP ingress IP) per app of each
//! namespace, so that NP052 answers for every ingress rule with ipBlocks on exposed pods.
//!
//! For each scale of `netpol_testing::workload` (seed 1, the `gen_scenario` example's
//! default), and for `L_with_cnp` (the L workload plus 18 ClusterNetworkPolicies: per team an
//! Admin policy with Pass and Deny rules, a monitoring accept, a Baseline default deny),
//! `lint/<case>` times `lint(&LintInput)` on the generated cluster and
//! policies with every check enabled: building the engine, the classes of pods, and every
//! check, redundancy included. The number of findings per check is printed to stderr once
//! per scale, so that a change in what the pass finds shows next to its time.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use netpol::analysis::lint::{LintInput, lint};
use netpol::cluster::Cluster;
use netpol::model::LabelSelector;
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterRule, ClusterTier, PolicySet, Protocol,
    Subject,
};
use netpol::selector::Selector;
use netpol::service::{Service, ServiceTable};
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

/// ClusterNetworkPolicies to add to a workload: per team an Admin policy (pass traffic
/// from the team's namespaces, deny from `env: dev`, deny SMTP out), a monitoring accept
/// and a Baseline default deny, 18 in all.
fn cluster_policies() -> Vec<ClusterPolicy> {
    let teams = [
        "payments", "search", "identity", "catalog", "orders", "shipping", "growth", "platform",
        "data", "ml", "mobile", "web", "billing", "support", "ads", "risk",
    ];
    let sel = |k: &str, v: &str| {
        Selector::new(&LabelSelector::match_labels([(k, v)])).expect("a valid selector")
    };
    let mut out = Vec::new();
    for (i, team) in teams.iter().enumerate() {
        let priority = u32::try_from(10 + i).unwrap_or(10);
        out.push(
            ClusterPolicy::builder(
                format!("team-{team}"),
                ClusterTier::Admin,
                priority,
                Subject::Namespaces(sel("team", team)),
            )
            .ingress(ClusterRule::new(
                Action::Pass,
                vec![ClusterPeer::Namespaces(sel("team", team))],
            ))
            .ingress(ClusterRule::new(
                Action::Deny,
                vec![ClusterPeer::Namespaces(sel("env", "dev"))],
            ))
            .egress(
                ClusterRule::new(
                    Action::Deny,
                    vec![ClusterPeer::Networks(vec![
                        "0.0.0.0/0".parse().expect("a CIDR"),
                    ])],
                )
                .with_ports(vec![
                    ClusterPort::range(Protocol::Tcp, 25, 25).expect("a port"),
                ]),
            )
            .build(),
        );
    }
    out.push(
        ClusterPolicy::builder(
            "monitoring",
            ClusterTier::Admin,
            1,
            Subject::Namespaces(Selector::everything()),
        )
        .ingress(
            ClusterRule::new(
                Action::Allow,
                vec![ClusterPeer::Namespaces(sel("purpose", "monitoring"))],
            )
            .with_ports(vec![ClusterPort::Named("metrics".into())]),
        )
        .build(),
    );
    out.push(
        ClusterPolicy::builder(
            "default-deny",
            ClusterTier::Baseline,
            100,
            Subject::Namespaces(Selector::everything()),
        )
        .ingress(ClusterRule::new(
            Action::Deny,
            vec![ClusterPeer::Namespaces(Selector::everything())],
        ))
        .build(),
    );
    out
}

/// A LoadBalancer Service with `externalTrafficPolicy: Cluster` per app of each namespace.
fn exposing_services(cluster: &Cluster) -> ServiceTable {
    let mut apps = BTreeSet::new();
    for (id, pod) in cluster.pods() {
        if let Some(app) = pod.labels.get("app") {
            apps.insert((cluster.pod_namespace_name(id).to_owned(), app.clone()));
        }
    }
    let services: Vec<_> = apps
        .iter()
        .enumerate()
        .map(|(i, (ns, app))| {
            let (hi, lo) = (i / 250, i % 250 + 1);
            let svc = Service::from_value(&serde_json::json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("{app}-lb"), "namespace": ns},
                "spec": {"type": "LoadBalancer", "clusterIP": format!("10.96.{hi}.{lo}"),
                         "selector": {"app": app}, "externalTrafficPolicy": "Cluster",
                         "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30000 + i}]},
                "status": {"loadBalancer": {"ingress": [{"ip": format!("100.64.{hi}.{lo}")}]}}
            }))
            .expect("a valid Service");
            svc.resolve().expect("a valid Service")
        })
        .collect();
    ServiceTable::build(cluster, &services).expect("distinct names and addresses")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lint");
    let mut cases: Vec<(String, Scale, bool, bool)> = Scale::ALL
        .iter()
        .map(|s| (s.name().to_owned(), *s, false, false))
        .collect();
    cases.push(("L_with_cnp".to_owned(), Scale::L, true, false));
    cases.push(("L_with_services".to_owned(), Scale::L, false, true));
    for (name, scale, with_cnp, with_services) in cases {
        let (cluster, mut policies) = fixture(scale);
        if with_cnp {
            policies.extend(cluster_policies());
        }
        let table = with_services.then(|| exposing_services(&cluster));
        let mut input = LintInput::new(&cluster, &policies);
        if let Some(table) = &table {
            input = input.services(table);
        }
        let started = Instant::now();
        let report = lint(&input);
        let once = started.elapsed();
        let mut per_check: BTreeMap<String, usize> = BTreeMap::new();
        for f in &report.findings {
            *per_check.entry(f.check.code().to_owned()).or_default() += 1;
        }
        eprintln!(
            "[{name}] {} pods, {} policies: {} findings {per_check:?}, skipped {:?}; one pass {once:?}",
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
        group.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(lint(black_box(&input))))
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
