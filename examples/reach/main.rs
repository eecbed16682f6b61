//! Who can reach whom: reachability truth tables for Kubernetes manifests.
//!
//! ```text
//! cargo run --release --example reach                       # the built-in demo cluster
//! cargo run --release --example reach -- cluster.yaml policies/
//! cargo run --release --example reach -- --explain x/b x/a 6379/TCP
//! cargo run --release --example reach -- --explain x/b svc/x/db 6379/TCP
//! ```
//!
//! Reads Namespaces, Nodes, Pods, Services and NetworkPolicies from YAML or JSON files and
//! folders (multi-document YAML, `kind: List` and `*List` with `items`), validates the
//! policies as the apiserver would, builds the engine and prints, per port, a table with a
//! row per source pod and a column per destination pod; then, per Service port, a table
//! with a row per source pod and a column per Service, saying whether the source reaches
//! all, some or none of the Service's endpoints (decided per endpoint after the address
//! translation, by `netpol::service`). Anything it cannot use is reported on stderr with
//! its file, document and line.

mod demo;
mod manifest;
mod render;
mod services;
mod svg;

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use netpol::cluster::{Cluster, Endpoint, Flow};
use netpol::engine::{Engine, Matrix};
use netpol::explain::Explanation;
use netpol::policy::{PortSpec, Protocol};
use netpol::profile::Profile;
use netpol::service::{Addressing, ServiceId, ServiceTable, ServiceVerdict};
use serde::Serialize;

use manifest::{Issue, Manifests, Position, Severity};

const USAGE: &str = "\
usage: reach [OPTIONS] [PATH...]

Reachability between the pods of a cluster, per port, and from each pod to each
Service, per Service port, from Kubernetes manifests.

  PATH                      YAML or JSON manifest files, or folders of them (searched
                            for .yaml, .yml and .json); multi-document YAML and
                            List/*List objects are read. Namespace, Node, Pod, Service
                            and NetworkPolicy objects are used; anything else is
                            reported. Without PATH: the built-in demo cluster.
  --port PORT[/PROTO]       a port to tabulate, such as 80/TCP or 53/UDP (repeatable;
                            default: every port the policies name, plus 80/TCP, and
                            a Service table per Service port); Service tables are
                            then limited to the Service ports given
  --explain FROM TO PORT[/PROTO]
                            explain one flow instead of printing tables (repeatable);
                            FROM and TO are ns/pod, node/NAME or an IP address; TO may
                            be a Service, svc/NS/NAME or its cluster IP, and PORT is
                            then the Service port: each endpoint is explained at its
                            target port
  --profile NAME            the network plugin's behaviour (default: conformance)
  --json                    print matrices, explanations and issues as one JSON object
  --svg FILE                also write the matrices as an SVG heatmap
  --no-color                no ANSI colours (the default when stdout is not a
                            terminal or NO_COLOR is set)
  -h, --help                this text

Service tables mark each (pod, Service) pair: ✓ every endpoint reachable, ◐ some,
✗ none, – no endpoints (no selector, no matching pod, no pod with the named
targetPort, ExternalName). Traffic to a Service is decided per endpoint pod at its
target port, after the address translation, as the policies see it.

Problems in the input go to stderr, each with file:line (document N). Exit status:
0 when everything read was used, 1 when something was left out (the output covers the
rest), 2 on a usage error or when the cluster cannot be built.";

#[derive(Debug, Default)]
struct Options {
    paths: Vec<PathBuf>,
    ports: Vec<(u16, Protocol)>,
    explain: Vec<(String, String, (u16, Protocol))>,
    profile: Option<String>,
    json: bool,
    svg: Option<PathBuf>,
    no_color: bool,
}

fn parse_port(text: &str) -> Result<(u16, Protocol), String> {
    let (num, proto) = match text.split_once('/') {
        Some((n, p)) => (n, p),
        None => (text, "TCP"),
    };
    let port = num
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{text:?}: the port must be a number from 1 to 65535"))?;
    let protocol = proto
        .to_ascii_uppercase()
        .parse::<Protocol>()
        .map_err(|_| format!("{text:?}: the protocol must be TCP, UDP or SCTP"))?;
    Ok((port, protocol))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    let mut only_paths = false;
    while let Some(arg) = args.next() {
        if only_paths || !arg.starts_with('-') || arg == "-" {
            o.paths.push(PathBuf::from(arg));
            continue;
        }
        match arg.as_str() {
            "--" => only_paths = true,
            "-h" | "--help" => return Ok(None),
            "--port" => o.ports.push(parse_port(&value(&mut args, "--port")?)?),
            "--explain" => {
                let from = value(&mut args, "--explain")?;
                let to = value(&mut args, "--explain FROM")?;
                let port = parse_port(&value(&mut args, "--explain FROM TO")?)?;
                o.explain.push((from, to, port));
            }
            "--profile" => o.profile = Some(value(&mut args, "--profile")?),
            "--json" => o.json = true,
            "--svg" => o.svg = Some(PathBuf::from(value(&mut args, "--svg")?)),
            "--no-color" | "--no-colour" => o.no_color = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(o))
}

/// Resolves `ns/pod`, `node/NAME` or an IP (a pod's or node's IP names that pod or node).
fn resolve(cluster: &Cluster, text: &str) -> Result<Endpoint, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(cluster.endpoint_at(ip));
    }
    if let Some(name) = text.strip_prefix("node/") {
        return cluster
            .node_id(name)
            .map(Endpoint::Node)
            .ok_or_else(|| format!("{text:?}: no node {name:?} was read"));
    }
    match text.split_once('/') {
        Some((ns, pod)) => cluster
            .pod_id(ns, pod)
            .map(Endpoint::Pod)
            .ok_or_else(|| format!("{text:?}: no pod {pod:?} in namespace {ns:?} was read")),
        None => Err(format!(
            "{text:?}: write a pod as namespace/name, a node as node/NAME, or an IP address"
        )),
    }
}

/// What `--explain` asks about: a flow between endpoints, or a flow to a Service.
enum Question {
    Flow(Flow<'static>),
    Service(Endpoint, ServiceId, u16, Protocol),
}

/// The answer to a [`Question`].
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Flow(Box<Explanation>),
    Service(ServiceVerdict),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Flow(e) => write!(f, "{e}"),
            Answer::Service(v) => write!(f, "{v}"),
        }
    }
}

/// Resolves the TO of `--explain` as a Service when it is `svc/NS/NAME`
/// (`service/NS/NAME`) or one of the Services' cluster IPs; `None` when it is neither.
fn resolve_service(table: &ServiceTable, text: &str) -> Option<Result<ServiceId, String>> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return table.lookup_ip(ip).map(Ok);
    }
    let rest = text
        .strip_prefix("svc/")
        .or_else(|| text.strip_prefix("service/"))?;
    Some(match rest.split_once('/') {
        Some((ns, name)) => table
            .lookup(ns, name)
            .ok_or_else(|| format!("{text:?}: no Service {name:?} in namespace {ns:?} was read")),
        None => Err(format!("{text:?}: write a Service as svc/NAMESPACE/NAME")),
    })
}

/// What the profile means, from its knobs: a headline and the ways it differs from the
/// conformance semantics.
fn profile_summary(p: &Profile) -> (&'static str, Vec<&'static str>) {
    if !p.enforces_any() {
        return (
            "the network plugin enforces no network policy",
            vec!["every flow is allowed, whatever the policies say"],
        );
    }
    let mut differences = Vec::new();
    if !p.enforces_network_policy() {
        differences.push("NetworkPolicy is not enforced");
    }
    if !p.enforces_cluster_network_policy() {
        differences.push("ClusterNetworkPolicy is not enforced (reported as ignored)");
    }
    if !p.ipblock_matches_pods() {
        differences.push("ipBlock does not match pod IPs");
    }
    if !p.ipblock_matches_nodes() {
        differences.push("ipBlock does not match node IPs");
    }
    if !p.own_node_exempt() {
        differences.push("a node's traffic to its own pods passes their ingress policies");
    }
    if !p.pod_to_own_node_exempt() {
        differences.push("a pod's traffic to its own node passes its egress policies");
    }
    if !p.self_exempt() {
        differences.push("a pod's traffic to itself passes its policies");
    }
    if differences.is_empty() {
        (
            "policies enforced with the upstream conformance semantics",
            differences,
        )
    } else {
        ("policies enforced; unlike conformance", differences)
    }
}

/// The ports the policies name (named ports resolved through the pods' container ports),
/// plus 80/TCP, sorted.
fn default_ports(cluster: &Cluster, m: &Manifests) -> Vec<(u16, Protocol)> {
    let mut ports = std::collections::BTreeSet::from([(80, Protocol::Tcp)]);
    for (_, policy) in &m.policies {
        let rules = policy
            .ingress()
            .into_iter()
            .chain(policy.egress())
            .flatten();
        for port in rules.filter_map(|r| r.ports.as_ref()).flatten() {
            match &port.port {
                PortSpec::All => {}
                PortSpec::Range { start, end, .. } => {
                    ports.insert((*start, port.protocol));
                    ports.insert((*end, port.protocol));
                }
                PortSpec::Named(name) => {
                    for (_, pod) in cluster.pods() {
                        for cp in &pod.ports {
                            if cp.name.as_deref() == Some(name) && cp.protocol == port.protocol {
                                ports.insert((cp.port, cp.protocol));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    ports.into_iter().collect()
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("reach: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let profile = match &opts.profile {
        None => Profile::default(),
        Some(name) => match Profile::named(name) {
            Some(p) => p,
            None => {
                eprintln!(
                    "reach: unknown profile {name:?}; known profiles: {}",
                    Profile::NAMES.join(", ")
                );
                return ExitCode::from(2);
            }
        },
    };
    let demo = opts.paths.is_empty();
    let mut m = if demo {
        demo::manifests()
    } else {
        Manifests::read_paths(&opts.paths)
    };
    let cluster = match m.build_cluster() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reach: the cluster cannot be built: {e}");
            return ExitCode::from(2);
        }
    };
    let table = match m.build_services(&cluster) {
        Ok(t) => t,
        Err(e) => {
            m.issues.push(Issue {
                position: Position {
                    file: "<input>".into(),
                    document: 0,
                    line: 0,
                    item: None,
                },
                severity: Severity::Error,
                message: "the Services cannot be used together; none is evaluated".into(),
                details: vec![e.to_string()],
            });
            ServiceTable::default()
        }
    };
    for (position, s) in &m.services {
        if s.ports.is_empty() {
            let message = if s.addressing == Addressing::Headless {
                format!(
                    "Service {} is headless and declares no port: not tabulated (ask with --explain FROM svc/{} PORT)",
                    s.key(),
                    s.key()
                )
            } else {
                format!("Service {} declares no port: nothing reaches it", s.key())
            };
            m.issues.push(Issue {
                position: position.clone(),
                severity: Severity::Note,
                message,
                details: Vec::new(),
            });
        }
    }
    let policies = m.policy_list();
    let engine = Engine::builder()
        .profile(profile)
        .build(&cluster, &policies);

    let mut questions = Vec::new();
    for (from, to, (port, protocol)) in &opts.explain {
        let src = resolve(&cluster, from);
        let question = match resolve_service(&table, to) {
            Some(service) => {
                service.and_then(|id| src.map(|s| Question::Service(s, id, *port, *protocol)))
            }
            None => src.and_then(|s| {
                resolve(&cluster, to).map(|d| Question::Flow(Flow::new(s, d, *port, *protocol)))
            }),
        };
        match question {
            Ok(q) => questions.push(q),
            Err(e) => {
                eprintln!("reach: --explain {from} {to}: {e}");
                return ExitCode::from(2);
            }
        }
    }

    // Rows and columns: every pod, by namespace then name.
    let mut pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    pods.sort_by_key(|e| {
        let id = e.pod();
        let name = id
            .and_then(|id| cluster.pod(id))
            .map_or("", |p| p.name.as_str());
        (
            id.map_or("", |id| cluster.pod_namespace_name(id))
                .to_owned(),
            name.to_owned(),
        )
    });
    let ports = if opts.ports.is_empty() {
        default_ports(&cluster, &m)
    } else {
        opts.ports.clone()
    };
    let tables = opts.explain.is_empty() || opts.json || opts.svg.is_some();
    let matrices: Vec<Matrix> = if tables {
        ports
            .iter()
            .map(|(port, proto)| engine.matrix(&pods, &pods, *port, *proto))
            .collect()
    } else {
        Vec::new()
    };
    let names: Vec<String> = pods.iter().map(|e| cluster.describe(*e)).collect();
    let grids = if tables {
        services::grids(&engine, &table, &pods, &opts.ports)
    } else {
        Vec::new()
    };

    let mut issues = m.issues.clone();
    issues.sort_by_key(|i| i.severity == Severity::Note);
    for issue in &issues {
        eprintln!("{issue}");
    }

    if let Some(path) = &opts.svg {
        let title = if demo {
            "netpol reach: built-in demo".to_owned()
        } else {
            format!(
                "netpol reach: {}",
                opts.paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let text = svg::heatmap(&title, &names, &matrices);
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("reach: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }

    let mut out = String::new();
    let explanations: Vec<Answer> = questions
        .iter()
        .map(|q| match *q {
            Question::Flow(f) => Answer::Flow(Box::new(engine.explain(f))),
            Question::Service(src, id, port, protocol) => {
                Answer::Service(table.explain(&engine, src, id, port, protocol))
            }
        })
        .collect();
    if opts.json {
        let (head, details) = profile_summary(engine.profile());
        let profile_text = if details.is_empty() {
            head.to_owned()
        } else {
            format!("{head}: {}", details.join("; "))
        };
        let doc = serde_json::json!({
            "profile": engine.profile().name(),
            "profileSummary": profile_text,
            "input": if demo { vec!["<built-in>".to_owned()] } else { opts.paths.iter().map(|p| p.display().to_string()).collect() },
            "pods": names,
            "policies": m.policies.iter().map(|(pos, p)| serde_json::json!({"name": p.key(), "position": pos})).collect::<Vec<_>>(),
            "matrices": matrices.iter().map(render::matrix_json).collect::<Vec<_>>(),
            "services": m.services.iter().map(|(pos, s)| serde_json::json!({"name": s.key(), "position": pos, "resolved": s})).collect::<Vec<_>>(),
            "serviceTables": grids.iter().map(|g| render::grid_json(g, &names)).collect::<Vec<_>>(),
            "explanations": explanations,
            "issues": issues,
        });
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
            }
            Err(e) => {
                eprintln!("reach: cannot write JSON: {e}");
                return ExitCode::from(2);
            }
        }
    } else if !explanations.is_empty() {
        for (i, e) in explanations.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{e}");
        }
    } else {
        let colour = !opts.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        if demo {
            let _ = writeln!(out, "{}\n", demo::DESCRIPTION);
        }
        let _ = writeln!(
            out,
            "{} pods, {} policies, {} service{}; rows are sources (from), columns destinations (to).",
            names.len(),
            policies.len(),
            table.len(),
            if table.len() == 1 { "" } else { "s" },
        );
        let (head, details) = profile_summary(engine.profile());
        let _ = writeln!(
            out,
            "Profile {}: {head}{}",
            engine.profile().name(),
            if details.is_empty() { "." } else { ":" }
        );
        for d in details {
            let _ = writeln!(out, "  - {d}");
        }
        out.push('\n');
        if names.is_empty() {
            let _ = writeln!(out, "No pod to tabulate.");
        }
        for (i, mx) in matrices.iter().enumerate().filter(|_| !names.is_empty()) {
            if i > 0 {
                let _ = writeln!(out);
            }
            let _ = write!(out, "{}", render::table(mx, &names, colour));
        }
        if !grids.is_empty() && !names.is_empty() {
            let _ = writeln!(
                out,
                "\nThrough Services: each endpoint pod decided at its target port, after the\naddress translation ({})",
                render::reach_legend(colour)
            );
            let _ = write!(out, "{}", render::service_tables(&grids, &names, colour));
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("reach: cannot write the output: {e}");
            return ExitCode::from(2);
        }
    }
    if m.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
