//! A demo on a built-in example cluster: the annotated `test-network-policy` example of
//! the Kubernetes documentation, checked with the compiled engine.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! It prints who can reach whom on each port the policy talks about, and the explanation
//! of a few flows.

use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::policy::Protocol;
use netpol::scenario::Scenario;

const EXAMPLE: &str = include_str!("../tests/scenarios/example-test-network-policy.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::from_json(EXAMPLE)?;
    let loaded = scenario.load()?;
    let cluster = &loaded.cluster;
    let engine = Engine::builder()
        .profile(loaded.profile.clone())
        .build(cluster, &loaded.policies);

    if let Some(d) = &scenario.description {
        println!("{d}\n");
    }
    let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    let names: Vec<String> = pods.iter().map(|p| cluster.describe(*p)).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for (port, protocol) in [(6379, Protocol::Tcp), (80, Protocol::Tcp)] {
        println!(
            "{port}/{protocol}: rows are sources, columns destinations (X = allowed, . = denied)"
        );
        print!("{:width$} ", "");
        for i in 0..names.len() {
            print!(" {i:>2}");
        }
        println!();
        for (i, src) in pods.iter().enumerate() {
            print!("{:>width$} ", names[i]);
            for dst in &pods {
                let v = engine.decide(Flow::new(*src, *dst, port, protocol));
                print!("  {}", if v.is_allowed() { 'X' } else { '.' });
            }
            println!("   {i:>2}");
        }
        println!();
    }

    println!("Explanations:\n");
    for q in loaded.queries.iter().take(8) {
        println!("{}\n", engine.explain(q.flow));
    }
    Ok(())
}
