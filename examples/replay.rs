//! Generates a recorded watch-event stream (JSON lines, one `{"type", "object"}` event per
//! line) for a generated workload, then replays it through the change feed
//! (`netpol::engine::watch::Feed`), printing updates per second, while another thread
//! keeps deciding flows on whatever engine is current.
//!
//! ```text
//! cargo run --release --example replay -- [--scale S|M|L|XL] [--seed N] [--churn N] [-o FILE]
//! cargo run --release --example replay -- --replay FILE
//! ```
//!
//! The stream starts with the initial list (every namespace, node, pod and policy
//! `ADDED`), applied as one batch; then `--churn N` events (default 10,000), applied one by
//! one as a controller would:
//! - 40% a rollout step: a pod `DELETED` and a replacement `ADDED` (a new name and
//!   `pod-template-hash`, the address the deleted pod freed, its node);
//! - 30% a pod relabelled (`MODIFIED`: its `version` label flipped between v1 and v2);
//! - 20% a pod moved (`MODIFIED`: another address on its node, from a spare range);
//! - 9% a namespace relabelled to the labels it has (`MODIFIED`, no change);
//! - 1% a NetworkPolicy `MODIFIED` (one more port on its first ingress rule, or back).
//!
//! `-o FILE` keeps the stream; `--replay FILE` replays a stream written before.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use netpol::cluster::{Endpoint, Flow};
use netpol::engine::Engine;
use netpol::engine::live::LiveEngine;
use netpol::engine::watch::{EventKind, Feed, WatchEvent, WatchObject};
use netpol_testing::workload::{self, Rng};
use serde_json::{Value, json};

struct Options {
    scale: workload::Scale,
    seed: u64,
    churn: usize,
    output: Option<String>,
    replay: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        scale: workload::Scale::L,
        seed: 1,
        churn: 10_000,
        output: None,
        replay: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            "--scale" => {
                let s = value("S, M, L or XL")?;
                o.scale = workload::Scale::parse(&s).ok_or(format!("unknown scale \"{s}\""))?;
            }
            "--seed" => o.seed = value("a number")?.parse().map_err(|_| "bad --seed")?,
            "--churn" => o.churn = value("a number")?.parse().map_err(|_| "bad --churn")?,
            "-o" => o.output = Some(value("a file")?),
            "--replay" => o.replay = Some(value("a file")?),
            _ => {
                return Err(
                    "usage: replay [--scale S|M|L|XL] [--seed N] [--churn N] [-o FILE] | --replay FILE"
                        .into(),
                );
            }
        }
    }
    Ok(o)
}

fn event(kind: &str, object: &Value) -> String {
    json!({"type": kind, "object": object}).to_string()
}

/// The recorded stream: the initial list, then the churn.
fn generate(o: &Options) -> Vec<String> {
    let g = workload::generate(o.scale, o.seed);
    let objects = g.scenario.cluster_objects();
    let mut lines: Vec<String> = objects.iter().map(|x| event("ADDED", x)).collect();
    let mut policies: Vec<Value> = g
        .scenario
        .policies
        .iter()
        .map(|p| {
            let mut p = p.to_value().expect("a generated policy");
            if let Some(m) = p.as_object_mut() {
                m.entry("apiVersion")
                    .or_insert(json!("networking.k8s.io/v1"));
                m.entry("kind").or_insert(json!("NetworkPolicy"));
            }
            p
        })
        .collect();
    lines.extend(policies.iter().map(|p| event("ADDED", p)));
    let namespaces: Vec<Value> = objects
        .iter()
        .filter(|x| x["kind"] == "Namespace")
        .cloned()
        .collect();
    let mut pods: Vec<Value> = objects
        .iter()
        .filter(|x| x["kind"] == "Pod")
        .cloned()
        .collect();
    let mut rng = Rng::new(o.seed ^ 0x7265_706c_6179);
    let mut serial = 0u64;
    let mut spare = 0u32;
    for _ in 0..o.churn {
        let roll = rng.below(100);
        if roll < 40 && !pods.is_empty() {
            let i = rng.below(pods.len());
            let old = pods[i].clone();
            lines.push(event("DELETED", &old));
            let mut new = old.clone();
            serial += 1;
            let hash = format!("{:08x}", rng.next_u64() as u32);
            let app = old["metadata"]["labels"]["app"]
                .as_str()
                .unwrap_or("pod")
                .to_owned();
            new["metadata"]["name"] = json!(format!("{app}-{hash}-r{serial}"));
            if new["metadata"]["labels"].get("pod-template-hash").is_some() {
                new["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            }
            lines.push(event("ADDED", &new));
            pods[i] = new;
        } else if roll < 70 && !pods.is_empty() {
            let i = rng.below(pods.len());
            let labels = &mut pods[i]["metadata"]["labels"];
            if let Some(v) = labels.get("version").and_then(Value::as_str) {
                let flipped = if v == "v1" { "v2" } else { "v1" };
                labels["version"] = json!(flipped);
            }
            lines.push(event("MODIFIED", &pods[i]));
        } else if roll < 90 && !pods.is_empty() {
            let i = rng.below(pods.len());
            spare += 1;
            let ip = format!("10.250.{}.{}", (spare >> 8) & 255, spare & 255);
            pods[i]["status"]["podIP"] = json!(ip);
            pods[i]["status"]["podIPs"] = json!([{"ip": ip}]);
            lines.push(event("MODIFIED", &pods[i]));
        } else if roll < 99 && !namespaces.is_empty() {
            lines.push(event("MODIFIED", &namespaces[rng.below(namespaces.len())]));
        } else if !policies.is_empty() {
            let i = rng.below(policies.len());
            let p = &mut policies[i];
            if let Some(rule) = p["spec"]["ingress"].get_mut(0) {
                let extra = json!({"protocol": "TCP", "port": 8443});
                match rule.get_mut("ports").and_then(Value::as_array_mut) {
                    Some(ports) if ports.contains(&extra) => ports.retain(|x| *x != extra),
                    Some(ports) => ports.push(extra),
                    None => rule["ports"] = json!([extra]),
                }
            }
            lines.push(event("MODIFIED", p));
        }
    }
    lines
}

fn kind_of(e: &WatchEvent) -> &'static str {
    match (&e.object, e.kind) {
        (WatchObject::Pod(_), EventKind::Deleted) => "pod deleted",
        (WatchObject::Pod(_), EventKind::Added) => "pod added",
        (WatchObject::Pod(_), _) => "pod modified",
        (WatchObject::Namespace(_), _) => "namespace",
        (WatchObject::Node(_), _) => "node",
        (WatchObject::Policy(_), _) => "policy",
        _ => "other",
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("replay: {e}");
            std::process::exit(2);
        }
    };
    let lines: Vec<String> = match &o.replay {
        Some(path) => {
            let file = std::fs::File::open(path).unwrap_or_else(|e| {
                eprintln!("replay: {path}: {e}");
                std::process::exit(2)
            });
            std::io::BufReader::new(file)
                .lines()
                .map_while(Result::ok)
                .collect()
        }
        None => {
            let t = Instant::now();
            let lines = generate(&o);
            eprintln!(
                "generated {} events (scale {}, seed {}, churn {}) in {:.2?}",
                lines.len(),
                o.scale.name(),
                o.seed,
                o.churn,
                t.elapsed()
            );
            if let Some(path) = &o.output {
                let mut f =
                    std::io::BufWriter::new(std::fs::File::create(path).unwrap_or_else(|e| {
                        eprintln!("replay: {path}: {e}");
                        std::process::exit(2)
                    }));
                for l in &lines {
                    let _ = writeln!(f, "{l}");
                }
            }
            lines
        }
    };
    // Decode everything first: the replay times the engine, not JSON.
    let t = Instant::now();
    let events: Vec<WatchEvent> = lines
        .iter()
        .map(|l| {
            WatchEvent::from_json(l).unwrap_or_else(|e| {
                eprintln!("replay: {e}");
                std::process::exit(1)
            })
        })
        .collect();
    drop(lines);
    eprintln!("decoded {} events in {:.2?}", events.len(), t.elapsed());
    // The initial list ends at the first event that is not ADDED.
    let initial = events
        .iter()
        .position(|e| e.kind != EventKind::Added)
        .unwrap_or(events.len());
    let mut feed = Feed::new(LiveEngine::new(
        &Default::default(),
        Default::default(),
        Default::default(),
    ));
    let t = Instant::now();
    if let Err(e) = feed.apply_all(&events[..initial]) {
        eprintln!("replay: initial list: {e}");
        std::process::exit(1);
    }
    println!(
        "initial list: {initial} events in one batch, {:.2?} ({} pods, {} policies)",
        t.elapsed(),
        feed.live().cluster().pod_count(),
        feed.live().engine().policy_count()
    );

    // A reader deciding on the current engine while the churn goes on.
    let current: Arc<RwLock<Engine>> = Arc::new(RwLock::new(feed.live().engine().clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let decided = Arc::new(AtomicU64::new(0));
    let reader = {
        let (current, stop, decided) = (current.clone(), stop.clone(), decided.clone());
        std::thread::spawn(move || {
            let mut rng = Rng::new(7);
            while !stop.load(Ordering::Relaxed) {
                let engine = current.read().map(|e| e.clone());
                let Ok(engine) = engine else { break };
                let ids: Vec<_> = engine.cluster().pod_ids().collect();
                if ids.is_empty() {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let mut allowed = 0u64;
                for _ in 0..10_000 {
                    let a = Endpoint::Pod(ids[rng.below(ids.len())]);
                    let b = Endpoint::Pod(ids[rng.below(ids.len())]);
                    allowed += u64::from(
                        engine
                            .decide(Flow::new(a, b, 80, Default::default()))
                            .is_allowed(),
                    );
                }
                std::hint::black_box(allowed);
                decided.fetch_add(10_000, Ordering::Relaxed);
            }
        })
    };

    let mut per_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let before = feed.live().stats();
    let t = Instant::now();
    let decided_before = decided.load(Ordering::Relaxed);
    for e in &events[initial..] {
        let t1 = Instant::now();
        if let Err(err) = feed.apply(e) {
            eprintln!("replay: {err}");
            std::process::exit(1);
        }
        if let Ok(mut slot) = current.write() {
            *slot = feed.live().engine().clone();
        }
        per_kind.entry(kind_of(e)).or_default().push(t1.elapsed());
    }
    let elapsed = t.elapsed();
    let decided_during = decided.load(Ordering::Relaxed) - decided_before;
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let churn = events.len() - initial;
    let after = feed.live().stats();
    println!(
        "churn: {churn} events in {elapsed:.2?}: {:.0} updates/s; {} applied incrementally, {} core rebuilds",
        churn as f64 / elapsed.as_secs_f64().max(1e-9),
        after.incremental - before.incremental,
        after.rebuilds - before.rebuilds
    );
    println!(
        "decisions on the current engine meanwhile (another thread): {decided_during} ({:.1} M/s)",
        decided_during as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6
    );
    println!(
        "{:<14} {:>7} {:>12} {:>12} {:>12}",
        "event", "count", "median", "p99", "max"
    );
    for (kind, mut times) in per_kind {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "{kind:<14} {:>7} {:>12.2?} {:>12.2?} {:>12.2?}",
            times.len(),
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    }
}
