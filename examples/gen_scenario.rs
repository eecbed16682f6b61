//! Writes a generated benchmark scenario (the conformance file format) as JSON.
//!
//! ```text
//! cargo run --release --example gen_scenario -- [--scale S|M|L] [--seed N] [--cnp N] [--calico N] [--expect] [-o FILE]
//! ```
//!
//! - `--scale`: `S` (100 pods, 10 policies), `M` (1,000 pods, 100 policies, 1,000 CIDRs)
//!   `L` (10,000 pods in 100 namespaces, 1,000 policies, 10,000 CIDRs) or `XL` (150,000
//!   pods on 5,000 nodes in 140 namespaces, 10,000 policies, 40,000 CIDRs: the largest
//!   cluster Kubernetes supports); `S` by default.
//! - `--seed`: the generator's seed (default 1, the seed `benches/engine.rs` uses). The
//!   same scale and seed always give the same file.
//! - `--cnp N`: add N ClusterNetworkPolicies (Admin and Baseline tiers, mixed actions;
//!   see `add_cluster_policies` in `netpol_testing::workload`).
//! - `--calico N`: add N Calico policies (GlobalNetworkPolicy and namespaced NetworkPolicy
//!   in three Tiers and the `default` tier, with network sets; see `add_calico_policies`
//!   in `netpol_testing::workload`), and set the scenario's profile to `calico`.
//! - `--expect`: fill in every query's `expect` with the reference evaluator's verdict
//!   (slow at `L`: the reference scans every policy for every query). Without it the
//!   queries carry no `expect` and are only answered.
//! - `--serve N`: write a `netpol serve` session instead of the scenario: one `load`
//!   request (the cluster as v1 objects, the policies, the profile) and N `decide`
//!   requests cycling through the queries, one JSON request per line (see
//!   `Scenario::serve_session`). Measures the service:
//!   `cargo run --release --example gen_scenario -- --scale L --serve 1000000 -o /tmp/L.jsonl`,
//!   then `time netpol serve < /tmp/L.jsonl > /dev/null` (BENCHMARKS.md).
//! - `-o FILE`: write to FILE instead of stdout.
//!
//! The scenario is the one the criterion benchmark measures (see `netpol_testing::workload`
//! for its shape), so the engine and the reference can be timed side by side with the
//! conformance runner:
//!
//! ```text
//! cargo run --release --example gen_scenario -- --scale M --expect -o /tmp/m.json
//! cargo run --release --example conformance -- --bench 100 /tmp/m.json
//! cargo run --release --example conformance -- --reference --bench 10 /tmp/m.json
//! ```

use std::io::Write;
use std::process::ExitCode;

use netpol::reference::Reference;
use netpol_testing::workload;

const USAGE: &str = "usage: gen_scenario [--scale S|M|L|XL] [--seed N] [--cnp N] [--calico N] [--expect] [--serve N] [-o FILE]";

struct Options {
    scale: workload::Scale,
    seed: u64,
    cnp: usize,
    calico: usize,
    expect: bool,
    serve: Option<usize>,
    output: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut opts = Options {
        scale: workload::Scale::S,
        seed: 1,
        cnp: 0,
        calico: 0,
        expect: false,
        serve: None,
        output: None,
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => {
                let s = args.next().ok_or("--scale needs S, M, L or XL")?;
                opts.scale = workload::Scale::parse(&s)
                    .ok_or(format!("--scale needs S, M, L or XL, not \"{s}\""))?;
            }
            "--seed" => {
                let s = args.next().ok_or("--seed needs a number")?;
                opts.seed = s
                    .parse()
                    .map_err(|_| format!("--seed needs a number, not \"{s}\""))?;
            }
            "--cnp" => {
                let s = args.next().ok_or("--cnp needs a number")?;
                opts.cnp = s
                    .parse()
                    .map_err(|_| format!("--cnp needs a number, not \"{s}\""))?;
            }
            "--calico" => {
                let s = args.next().ok_or("--calico needs a number")?;
                opts.calico = s
                    .parse()
                    .map_err(|_| format!("--calico needs a number, not \"{s}\""))?;
            }
            "--expect" => opts.expect = true,
            "--serve" => {
                let s = args
                    .next()
                    .ok_or("--serve needs a number of decide requests")?;
                opts.serve = Some(s.parse().map_err(|_| {
                    format!("--serve needs a number of decide requests, not \"{s}\"")
                })?);
            }
            "-o" | "--output" => opts.output = Some(args.next().ok_or("-o needs a file name")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

fn run(opts: &Options) -> Result<(), String> {
    let mut generated = workload::generate(opts.scale, opts.seed);
    workload::add_cluster_policies(&mut generated, opts.cnp, opts.seed);
    if opts.calico > 0 {
        workload::add_calico_policies(&mut generated, opts.calico, opts.seed);
    }
    if opts.expect {
        let loaded = generated
            .scenario
            .load()
            .map_err(|e| format!("the generated scenario does not load: {e}"))?;
        if let Some(bad) = loaded.outcomes.iter().find(|o| !o.errors.is_empty()) {
            return Err(format!(
                "the generated policy {} is refused: {:?}",
                bad.key, bad.errors
            ));
        }
        let reference = Reference::new(&loaded.cluster, &loaded.policies, loaded.profile.clone());
        for (q, l) in generated.scenario.queries.iter_mut().zip(&loaded.queries) {
            q.expect = Some(reference.decide(l.flow()).into());
        }
    }
    let text = match opts.serve {
        Some(n) => generated.scenario.serve_session(n).join("\n"),
        None => serde_json::to_string_pretty(&generated.scenario)
            .map_err(|e| format!("cannot serialize the scenario: {e}"))?,
    };
    match &opts.output {
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            writeln!(out, "{text}").map_err(|e| format!("stdout: {e}"))
        }
        Some(path) => std::fs::write(path, text + "\n").map_err(|e| format!("{path}: {e}")),
    }
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("gen_scenario: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gen_scenario: {msg}");
            ExitCode::FAILURE
        }
    }
}
