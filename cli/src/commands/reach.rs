//! `netpol reach`: reachability truth tables for Kubernetes manifests.
//!
//! Reads Namespaces, Nodes, Pods, Services, NetworkPolicies and ClusterNetworkPolicies
//! from YAML or JSON files and folders (multi-document YAML, `kind: List` and `*List`
//! with `items`), validates the policies as the apiserver would, builds the engine and
//! prints, per port, a table with a row per source pod and a column per destination pod;
//! then, per Service port, a table with a row per source pod and a column per Service,
//! saying whether the source reaches all, some or none of the Service's endpoints
//! (decided per endpoint after the address translation, by `netpol::service`). Anything
//! it cannot use is reported on stderr with its file, document and line. Without PATH,
//! the built-in demo cluster.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use netpol::cluster::Endpoint;
use netpol::engine::{Engine, Matrix};
use netpol::policy::{ClusterPort, PolicySet, PortSpec, Protocol};
use netpol::profile::Profile;
use netpol::service::{Addressing, ServiceProxy};

use super::{Answer, Loaded, Question, parse_port, parse_profile, print_issues, write_stdout};
use crate::input::{Issue, Severity};
use crate::{EXIT_USAGE, demo, outside, render, services, svg};

const AFTER_HELP: &str = "\
Service tables mark each (pod, Service) pair: ✓ every endpoint reachable, ◐ some,
✗ none, – no endpoints (no selector, no matching pod, no pod with the named
targetPort, ExternalName). Traffic to a Service is decided per endpoint pod at its
target port, after the address translation, as the policies see it.

With --from SOURCE (an outside address, ns/pod or node/NAME), a table per Service
instead: a row per address it takes traffic on (node port, load-balancer IP, external
IP, and for a source inside the cluster its cluster IPs) and a column per node: the node
whose node port is dialled, or that receives the traffic from outside (the load
balancer's or router's choice). Each cell is decided per endpoint after kube-proxy's
translation as the --profile's plugin does it (externalTrafficPolicy, the masquerade
address a remote endpoint sees, loadBalancerSourceRanges). --to-service NS/NAME,
--port and --node narrow it; --details explains every cell.

  netpol reach cluster.yaml --from 198.51.100.7 --profile calico
  netpol reach cluster.yaml --from 198.51.100.7 --to-service shop/web --port 80 --node node-2 --details

Problems in the input go to stderr, each with file:line (document N). Exit status:
0 when everything read was used (host-network, pending and finished pods are notes),
1 when something was refused or left out (the output covers the rest), 2 on a usage
error or when the cluster cannot be built.";

/// `netpol reach [OPTIONS] [PATH...]`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// YAML or JSON manifest files, or folders of them (searched for .yaml, .yml and
    /// .json); multi-document YAML and List/*List objects are read. Namespace, Node,
    /// Pod, Service, NetworkPolicy and ClusterNetworkPolicy objects are used; anything
    /// else is reported. Without PATH: the built-in demo cluster.
    pub paths: Vec<PathBuf>,
    /// A port to tabulate, such as 80/TCP or 53/UDP (repeatable; default: every port the
    /// policies name, plus 80/TCP, and a Service table per Service port); Service tables
    /// are then limited to the Service ports given.
    #[arg(long = "port", value_name = "PORT[/PROTO]", value_parser = parse_port)]
    pub ports: Vec<(u16, Protocol)>,
    /// Explain one flow instead of printing tables (repeatable): FROM and TO are ns/pod,
    /// node/NAME or an IP address; TO may be a Service, svc/NS/NAME or its cluster IP,
    /// and PORT is then the Service port (see `netpol explain`).
    #[arg(long, num_args = 3, value_names = ["FROM", "TO", "PORT[/PROTO]"])]
    pub explain: Vec<String>,
    /// The network plugin's behaviour: conformance (default), flannel, calico, canal,
    /// kube-router, cilium.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print matrices, policies, explanations and issues as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also write the matrices as an SVG heatmap.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// No ANSI colours (the default when stdout is not a terminal or NO_COLOR is set).
    #[arg(long, alias = "no-colour")]
    pub no_color: bool,
    /// Tabulate the Services as reached from this source (an outside address, ns/pod or
    /// node/NAME) through every address they take traffic on, per receiving node.
    #[arg(long, value_name = "SOURCE")]
    pub from: Option<String>,
    /// With --from: only this Service (svc/NS/NAME or NS/NAME).
    #[arg(long, value_name = "NS/NAME")]
    pub to_service: Option<String>,
    /// With --from: only these receiving nodes (repeatable); with --explain, the node
    /// receiving traffic from outside.
    #[arg(long = "node", value_name = "NAME")]
    pub nodes: Vec<String>,
    /// With --from: print every cell's explanation after the table.
    #[arg(long)]
    pub details: bool,
    /// kube-proxy runs with --masquerade-all: pods' traffic to cluster IPs is
    /// masqueraded too.
    #[arg(long)]
    pub masquerade_all: bool,
}

/// What the profile means, from its knobs: a headline and the ways it differs from the
/// conformance semantics.
pub fn profile_summary(p: &Profile) -> (&'static str, Vec<&'static str>) {
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
pub fn default_ports(loaded: &Loaded) -> Vec<(u16, Protocol)> {
    let cluster = &loaded.built.cluster;
    let mut ports = BTreeSet::from([(80, Protocol::Tcp)]);
    let mut named = BTreeSet::new();
    for policy in loaded.policies.network_policies() {
        let rules = policy
            .ingress()
            .into_iter()
            .chain(policy.egress())
            .flatten();
        for port in rules.filter_map(|r| r.ports.as_ref()).flatten() {
            match &port.port {
                PortSpec::Range { start, end, .. } => {
                    ports.insert((*start, port.protocol));
                    ports.insert((*end, port.protocol));
                }
                PortSpec::Named(name) => {
                    named.insert((name.clone(), Some(port.protocol)));
                }
                _ => {}
            }
        }
    }
    for policy in loaded.policies.cluster_policies() {
        let rules = policy.ingress().iter().chain(policy.egress());
        for port in rules.filter_map(|r| r.ports()).flatten() {
            match port {
                ClusterPort::Ports {
                    protocol,
                    start,
                    end,
                    ..
                } => {
                    ports.insert((*start, *protocol));
                    ports.insert((*end, *protocol));
                }
                ClusterPort::Named(name) => {
                    named.insert((name.clone(), None));
                }
                _ => {}
            }
        }
    }
    for (_, pod) in cluster.pods() {
        for cp in pod.ports.iter() {
            let wanted = |(name, proto): &(String, Option<Protocol>)| {
                cp.name.as_deref() == Some(name) && proto.is_none_or(|p| p == cp.protocol)
            };
            if named.iter().any(wanted) {
                ports.insert((cp.port, cp.protocol));
            }
        }
    }
    ports.into_iter().collect()
}

/// The ClusterNetworkPolicies as listed in the output: name, tier, priority, in the order
/// they are evaluated (tier, then priority).
fn cluster_policy_list(policies: &PolicySet) -> Vec<serde_json::Value> {
    let mut list: Vec<_> = policies.cluster_policies().iter().collect();
    list.sort_by_key(|p| (p.tier(), p.priority()));
    list.iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name(),
                "tier": p.tier().as_str(),
                "priority": p.priority(),
                "ingressRules": p.ingress().len(),
                "egressRules": p.egress().len(),
            })
        })
        .collect()
}

/// Runs `netpol reach`.
pub fn run(args: Args) -> u8 {
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol reach: {e}");
            return EXIT_USAGE;
        }
    };
    let mut questions_text = Vec::new();
    for chunk in args.explain.chunks(3) {
        if let [from, to, port] = chunk {
            match parse_port(port) {
                Ok(p) => questions_text.push((from.clone(), to.clone(), p)),
                Err(e) => {
                    eprintln!("netpol reach: --explain: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    }
    let mut loaded = match super::load(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netpol reach: {e}");
            return EXIT_USAGE;
        }
    };
    for (_, s) in loaded.built.services.services() {
        if s.ports.is_empty() {
            let message = if s.addressing == Addressing::Headless {
                format!(
                    "Service {} is headless and declares no port: not tabulated (ask with netpol explain FROM svc/{} PORT)",
                    s.key(),
                    s.key()
                )
            } else {
                format!("Service {} declares no port: nothing reaches it", s.key())
            };
            loaded.issues.push(Issue {
                position: super::input_position(),
                severity: Severity::Note,
                message,
                details: Vec::new(),
            });
        }
    }
    let cluster = &loaded.built.cluster;
    let table = &loaded.built.services;
    let proxy = ServiceProxy::new(&profile).with_masquerade_all(args.masquerade_all);
    let engine = Engine::builder()
        .profile(profile)
        .build(cluster, &loaded.policies);
    if let Some(from) = &args.from {
        return run_outside(&args, from, &loaded, &engine, &proxy);
    }
    if args.to_service.is_some() || args.details {
        eprintln!("netpol reach: --to-service and --details go with --from");
        return EXIT_USAGE;
    }
    if args.nodes.len() > 1 {
        eprintln!("netpol reach: --explain takes one --node");
        return EXIT_USAGE;
    }

    let mut questions = Vec::new();
    for (from, to, port) in &questions_text {
        match Question::resolve(
            &loaded.built,
            from,
            to,
            *port,
            args.nodes.first().map(String::as_str),
        ) {
            Ok(q) => questions.push(q),
            Err(e) => {
                eprintln!("netpol reach: --explain {from} {to}: {e}");
                return EXIT_USAGE;
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
    let ports = if args.ports.is_empty() {
        default_ports(&loaded)
    } else {
        args.ports.clone()
    };
    let tables = questions.is_empty() || args.json || args.svg.is_some();
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
        services::grids(&engine, &proxy, table, &pods, &args.ports)
    } else {
        Vec::new()
    };

    print_issues(&loaded.issues);

    if let Some(path) = &args.svg {
        let title = if loaded.demo {
            "netpol reach: built-in demo".to_owned()
        } else {
            format!(
                "netpol reach: {}",
                loaded.input_names(&args.paths).join(" ")
            )
        };
        let text = svg::heatmap(&title, &names, &matrices);
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("netpol reach: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }

    let mut answers: Vec<Answer> = Vec::new();
    for q in &questions {
        match q.answer(&engine, &proxy, table) {
            Ok(a) => answers.push(a),
            Err(e) => {
                eprintln!("netpol reach: --explain: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let mut out = String::new();
    if args.json {
        let (head, details) = profile_summary(engine.profile());
        let profile_text = if details.is_empty() {
            head.to_owned()
        } else {
            format!("{head}: {}", details.join("; "))
        };
        let policies: Vec<serde_json::Value> = loaded
            .manifests
            .policies
            .iter()
            .filter(|r| !r.is_refused())
            .map(|r| {
                let mut v =
                    serde_json::json!({"kind": r.kind, "name": r.name, "position": r.position});
                if let crate::input::Outcome::ClusterPolicy(p) = &r.outcome {
                    v["tier"] = serde_json::json!(p.tier().as_str());
                    v["priority"] = serde_json::json!(p.priority());
                }
                if let crate::input::Outcome::NotEvaluated(_) = &r.outcome {
                    v["evaluated"] = serde_json::json!(false);
                }
                v
            })
            .collect();
        let service_list: Vec<serde_json::Value> = table
            .services()
            .map(|(_, s)| serde_json::json!({"name": s.key(), "resolved": s}))
            .collect();
        let doc = serde_json::json!({
            "profile": engine.profile().name(),
            "profileSummary": profile_text,
            "input": loaded.input_names(&args.paths),
            "pods": names,
            "policies": policies,
            "clusterPolicies": cluster_policy_list(&loaded.policies),
            "matrices": matrices.iter().map(render::matrix_json).collect::<Vec<_>>(),
            "services": service_list,
            "serviceTables": grids.iter().map(|g| render::grid_json(g, &names)).collect::<Vec<_>>(),
            "explanations": answers,
            "issues": loaded.issues,
        });
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
            }
            Err(e) => {
                eprintln!("netpol reach: cannot write JSON: {e}");
                return EXIT_USAGE;
            }
        }
    } else if !answers.is_empty() {
        for (i, a) in answers.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{a}");
        }
    } else {
        let colour = !args.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        if loaded.demo {
            let _ = writeln!(out, "{}\n", demo::DESCRIPTION);
        }
        let _ = writeln!(
            out,
            "{} pods, {} policies, {} service{}; rows are sources (from), columns destinations (to).",
            names.len(),
            loaded.policies.len(),
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
        let cluster_policies = loaded.policies.cluster_policies();
        if !cluster_policies.is_empty() {
            let _ = writeln!(
                out,
                "ClusterNetworkPolicies, in evaluation order (Admin before NetworkPolicy, Baseline after):"
            );
            let mut list: Vec<_> = cluster_policies.iter().collect();
            list.sort_by_key(|p| (p.tier(), p.priority()));
            for p in list {
                let _ = writeln!(
                    out,
                    "  {:<8} priority {:<5} {} ({} ingress, {} egress rules)",
                    p.tier().as_str(),
                    p.priority(),
                    p.name(),
                    p.ingress().len(),
                    p.egress().len()
                );
            }
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
    if let Err(code) = write_stdout(&out) {
        return code;
    }
    loaded.exit_code()
}

/// `netpol reach --from SOURCE`: the Services as that source reaches them.
fn run_outside(
    args: &Args,
    from: &str,
    loaded: &Loaded,
    engine: &Engine,
    proxy: &ServiceProxy,
) -> u8 {
    let cluster = &loaded.built.cluster;
    let table = &loaded.built.services;
    let src = match super::resolve(cluster, from) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("netpol reach: --from: {e}");
            return EXIT_USAGE;
        }
    };
    let mut selection = outside::Selection {
        ports: args.ports.clone(),
        ..outside::Selection::default()
    };
    if let Some(text) = &args.to_service {
        let with_prefix = if text.starts_with("svc/") || text.starts_with("service/") {
            text.clone()
        } else {
            format!("svc/{text}")
        };
        match super::resolve_service(table, &with_prefix) {
            Some(Ok(id)) => selection.service = Some(id),
            Some(Err(e)) => {
                eprintln!("netpol reach: --to-service: {e}");
                return EXIT_USAGE;
            }
            None => {
                eprintln!("netpol reach: --to-service: write a Service as NS/NAME");
                return EXIT_USAGE;
            }
        }
    }
    for name in &args.nodes {
        match cluster.node_id(name) {
            Some(n) => selection.nodes.push(n),
            None => {
                eprintln!("netpol reach: --node {name:?}: no node {name:?} was read");
                return EXIT_USAGE;
            }
        }
    }
    let t = outside::table(engine, proxy, table, src, &selection);
    print_issues(&loaded.issues);
    let mut out = String::new();
    if args.json {
        let doc = serde_json::json!({
            "profile": engine.profile().name(),
            "masqueradeAll": proxy.masquerade_all(),
            "input": loaded.input_names(&args.paths),
            "from": t.from,
            "nodes": t.nodes,
            "services": t.services,
            "explanations": if args.details {
                t.services.iter().flat_map(|s| s.rows.iter().flat_map(|r| r.cells.iter().filter_map(|c| c.answer.as_ref()))).collect::<Vec<_>>()
            } else {
                Vec::new()
            },
            "issues": loaded.issues,
        });
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(e) => {
                eprintln!("netpol reach: cannot write JSON: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        let colour = !args.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        let masquerade = engine.profile().service_masquerade();
        let _ = writeln!(
            out,
            "From {}{}: the Services through every address they take traffic on, per receiving node.",
            t.from,
            if matches!(src, Endpoint::External(_)) {
                " (outside the cluster)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "Profile {}: a node masquerading Service traffic is seen by endpoints on other nodes at {}{}.",
            engine.profile().name(),
            masquerade.describe(),
            if engine.profile().socket_load_balancer() {
                "; pods go through the socket load balancer"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "{}\n", outside::legend(colour));
        out.push_str(&outside::render(&t, colour));
        if args.details {
            out.push_str(&outside::details(&t));
        }
    }
    if let Err(code) = write_stdout(&out) {
        return code;
    }
    loaded.exit_code()
}
