//! `netpol diff BEFORE AFTER`: what two policy sets on one cluster allow differently
//! (`netpol::analysis::SemanticDiff`), and `netpol diff CURRENT --apply FILE` /
//! `--delete KIND/NS/NAME`: the impact of changes (`netpol::analysis::impact`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use netpol::analysis::{Change, PolicyItem, SemanticDiff, impact};
use netpol::cluster::Cluster;
use netpol::engine::Engine;
use netpol::policy::{PolicyKind, PolicySet, Protocol};

use super::{load_manifests, parse_port, parse_profile, print_issues, write_stdout};
use crate::input::{Manifests, Outcome, Severity};
use crate::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

const AFTER_HELP: &str = "\
BEFORE and AFTER are manifest files or folders (as for `netpol reach`), each holding
the cluster (Namespaces, Nodes, Pods) and the policies; the cluster objects read from
both must agree. Every flow between pods that one set allows and the other denies is
reported, grouped: `- FROM -> TO: PORTS` is allowed before and denied after, `+ ...` the
reverse, then the changed policies selecting the side whose answer changed, in each set.
`ns/*` is every workload of a namespace; JSON lists every workload.

--flat prints every changed flow on the --port ports (required), between pods and
between pods and the --ip addresses, one per line; with --json one JSON object per line:
{\"from\": \"ns/pod\" or {\"ip\": \"...\"}, \"to\": ..., \"port\": 80, \"protocol\": \"TCP\",
\"before\": \"allow\", \"after\": \"deny\"}.

--apply FILE (repeatable) creates or replaces the policy objects of FILE in BEFORE
instead of reading AFTER; --delete KIND/NAMESPACE/NAME or KIND/NAME (repeatable)
deletes one (KIND: NetworkPolicy, ClusterNetworkPolicy, NetworkPolicy.projectcalico.org,
GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet, Tier): the impact of the change.

Examples:
  netpol diff before/ after/
  netpol diff --json cluster-old.yaml cluster-new.yaml
  netpol diff --flat --json before/ after/ --port 80/TCP --port 53/UDP --ip 203.0.113.7
  netpol diff cluster/ --apply new-policy.yaml
  netpol diff cluster/ --delete NetworkPolicy/shop/allow-web

Exit status, as diff(1): 0 when both allow the same flows, 1 when something changed,
2 on an error: a usage error, an unreadable path, an object that cannot be used (a
policy the apiserver would refuse), clusters that differ, or output that cannot be
written.";

/// `netpol diff [OPTIONS] BEFORE [AFTER]`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The cluster and policies before: a manifest file or folder.
    pub before: PathBuf,
    /// The cluster and policies after (not with --apply or --delete).
    pub after: Option<PathBuf>,
    /// Print JSON: the grouped changes, or with --flat one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Print every changed flow on the --port ports, one per line.
    #[arg(long)]
    pub flat: bool,
    /// A port for --flat, such as 80/TCP or 53/UDP (repeatable).
    #[arg(long = "port", value_name = "PORT[/PROTO]", value_parser = parse_port)]
    pub ports: Vec<(u16, Protocol)>,
    /// An outside address for --flat (repeatable): flows between it and every pod.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ips: Vec<IpAddr>,
    /// Policy objects to create or replace in BEFORE (repeatable).
    #[arg(long = "apply", value_name = "FILE")]
    pub apply: Vec<PathBuf>,
    /// A policy object to delete from BEFORE: KIND/NAMESPACE/NAME or KIND/NAME.
    #[arg(long = "delete", value_name = "KIND/[NS/]NAME")]
    pub delete: Vec<String>,
    /// The network plugin's behaviour (default: conformance).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// The first way two clusters differ, if any: namespaces, nodes, pods.
pub fn cluster_difference(a: &Cluster, b: &Cluster) -> Option<String> {
    let namespaces = |c: &Cluster| -> BTreeMap<String, String> {
        c.namespaces()
            .map(|(_, n)| (n.name.clone(), format!("labels {:?}", n.labels)))
            .collect()
    };
    let nodes = |c: &Cluster| -> BTreeMap<String, String> {
        c.nodes()
            .map(|(_, n)| {
                (
                    n.name.clone(),
                    format!("labels {:?}, addresses {:?}", n.labels, n.ips),
                )
            })
            .collect()
    };
    let pods = |c: &Cluster| -> BTreeMap<String, String> {
        c.pods()
            .map(|(id, p)| {
                let node = p
                    .node
                    .and_then(|n| c.node(n))
                    .map_or("none", |n| n.name.as_str());
                let ports: Vec<String> = p
                    .ports
                    .iter()
                    .map(|cp| {
                        format!(
                            "{}{}/{}",
                            cp.name.as_deref().map_or(String::new(), |n| format!("{n}=")),
                            cp.port,
                            cp.protocol
                        )
                    })
                    .collect();
                (
                    format!("{}/{}", c.pod_namespace_name(id), p.name),
                    format!(
                        "labels {:?}, addresses {:?}, node {node}, service account {}, container ports {:?}",
                        p.labels, p.ips, p.service_account, ports
                    ),
                )
            })
            .collect()
    };
    for (what, x, y) in [
        ("namespace", namespaces(a), namespaces(b)),
        ("node", nodes(a), nodes(b)),
        ("pod", pods(a), pods(b)),
    ] {
        for (name, v) in &x {
            match y.get(name) {
                None => return Some(format!("{what} {name} is read from BEFORE only")),
                Some(w) if w != v => {
                    return Some(format!(
                        "{what} {name} differs: BEFORE has {v}; AFTER has {w}"
                    ));
                }
                _ => {}
            }
        }
        if let Some(name) = y.keys().find(|k| !x.contains_key(*k)) {
            return Some(format!("{what} {name} is read from AFTER only"));
        }
    }
    None
}

/// Parses `KIND/NAMESPACE/NAME` or `KIND/NAME` into a deletion.
pub fn parse_delete(text: &str) -> Result<Change, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let (kind_text, namespace, name) = match parts.as_slice() {
        [k, ns, n] => (*k, Some((*ns).to_owned()), (*n).to_owned()),
        [k, n] => (*k, None, (*n).to_owned()),
        _ => {
            return Err(format!(
                "--delete {text:?}: write KIND/NAMESPACE/NAME or KIND/NAME"
            ));
        }
    };
    let kind = PolicyKind::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(kind_text))
        .ok_or_else(|| {
            format!(
                "--delete {text:?}: unknown kind {kind_text:?}; known kinds: {}",
                PolicyKind::ALL.map(PolicyKind::as_str).join(", ")
            )
        })?;
    let namespaced = matches!(
        kind,
        PolicyKind::NetworkPolicy | PolicyKind::CalicoNetworkPolicy | PolicyKind::NetworkSet
    );
    if namespaced != namespace.is_some() || name.is_empty() {
        return Err(format!(
            "--delete {text:?}: a {} is written {}",
            kind.as_str(),
            if namespaced {
                "KIND/NAMESPACE/NAME"
            } else {
                "KIND/NAME"
            }
        ));
    }
    Ok(Change::Delete {
        kind,
        namespace,
        name,
    })
}

/// The policy objects of change files, as changes.
fn read_changes(paths: &[PathBuf]) -> Result<Vec<Change>, String> {
    let manifests = Manifests::read_paths(paths);
    let problems: Vec<String> = manifests
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !problems.is_empty() {
        return Err(format!("--apply: {}", problems.join("\n")));
    }
    if !manifests.objects.is_empty() {
        return Err(
            "--apply: the files hold cluster objects (Namespace, Node, Pod, Service); only policy objects are changes"
                .to_owned(),
        );
    }
    let mut out = Vec::new();
    for r in &manifests.policies {
        let item = match &r.outcome {
            Outcome::NetworkPolicy(p) => PolicyItem::from((**p).clone()),
            Outcome::ClusterPolicy(p) => PolicyItem::from((**p).clone()),
            Outcome::CalicoPolicy(p) => PolicyItem::from((**p).clone()),
            Outcome::NetworkSet(s) => PolicyItem::from((**s).clone()),
            Outcome::Tier(t) => PolicyItem::from((**t).clone()),
            _ => {
                let issues = manifests.policy_issues();
                let why: Vec<String> = issues.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "--apply: {} {} cannot be used\n{}",
                    r.kind,
                    r.name,
                    why.join("\n")
                ));
            }
        };
        out.push(Change::Apply(item));
    }
    if out.is_empty() {
        return Err("--apply: the files hold no policy object".to_owned());
    }
    Ok(out)
}

/// Reads one side; an error when anything in it cannot be used.
fn read_side(path: &PathBuf, which: &str) -> Result<super::Loaded, String> {
    let loaded = load_manifests(Manifests::read_paths(std::slice::from_ref(path)), false)
        .map_err(|e| format!("{which}: {e}"))?;
    print_issues(&loaded.issues);
    if loaded.has_errors() {
        return Err(format!(
            "{which} ({}) holds objects that cannot be used (see above)",
            path.display()
        ));
    }
    Ok(loaded)
}

/// Runs `netpol diff`.
pub fn run(args: Args) -> u8 {
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netpol diff: {e}");
            EXIT_USAGE
        }
    }
}

fn run_inner(args: &Args) -> Result<u8, String> {
    let profile = parse_profile(args.profile.as_deref())?;
    let changing = !args.apply.is_empty() || !args.delete.is_empty();
    if changing == args.after.is_some() {
        return Err("give AFTER, or --apply/--delete, not both and not neither".to_owned());
    }
    if args.flat && args.ports.is_empty() {
        return Err("--flat needs at least one --port".to_owned());
    }
    if !args.flat && !args.ips.is_empty() {
        return Err("--ip is for --flat".to_owned());
    }
    let mut changes: Vec<Change> = args
        .delete
        .iter()
        .map(|d| parse_delete(d))
        .collect::<Result<_, _>>()?;
    if !args.apply.is_empty() {
        changes.extend(read_changes(&args.apply)?);
    }
    let before = read_side(&args.before, "BEFORE")?;
    let cluster = &before.built.cluster;
    let engine_before = Engine::builder()
        .profile(profile.clone())
        .build(cluster, &before.policies);
    let diff = if let Some(after_path) = &args.after {
        let after = read_side(after_path, "AFTER")?;
        if let Some(why) = cluster_difference(cluster, &after.built.cluster) {
            return Err(format!("BEFORE and AFTER hold different clusters: {why}"));
        }
        let engine_after = Engine::builder()
            .profile(profile)
            .build(cluster, &after.policies);
        SemanticDiff::new(
            &engine_before,
            &before.policies,
            &engine_after,
            &after.policies,
        )
        .map_err(|e| e.to_string())?
    } else if let [change] = changes.as_slice() {
        impact(&engine_before, &before.policies, change).map_err(|e| e.to_string())?
    } else {
        let mut set: PolicySet = before.policies.clone();
        for change in &changes {
            set = change.apply_to(&set).map_err(|e| e.to_string())?;
        }
        let engine_after = Engine::builder().profile(profile).build(cluster, &set);
        SemanticDiff::new(&engine_before, &before.policies, &engine_after, &set)
            .map_err(|e| e.to_string())?
    };

    let mut out = String::new();
    if args.flat {
        for c in diff.flows(&args.ports, &args.ips) {
            if args.json {
                let line = serde_json::to_string(&c).map_err(|e| e.to_string())?;
                out.push_str(&line);
                out.push('\n');
            } else {
                let _ = writeln!(
                    out,
                    "{} -> {} {}/{}: {} -> {}",
                    c.from,
                    c.to,
                    c.port,
                    c.protocol,
                    verdict(c.before),
                    verdict(c.after)
                );
            }
        }
    } else if args.json {
        out = serde_json::to_string_pretty(&diff).map_err(|e| e.to_string())? + "\n";
    } else {
        out = diff.to_text();
        let s = diff.summary();
        if diff.is_equivalent() {
            out.push_str("no change: both allow the same flows between pods\n");
        } else {
            let _ = writeln!(
                out,
                "{} change{}: {} flows (pod, pod, port, protocol) allowed before and denied after, {} the reverse",
                s.entries,
                if s.entries == 1 { "" } else { "s" },
                s.removed_flows,
                s.added_flows
            );
        }
    }
    if let Err(code) = write_stdout(&out) {
        return Ok(code);
    }
    Ok(if diff.is_equivalent() {
        EXIT_OK
    } else {
        EXIT_REFUSED
    })
}

fn verdict(v: netpol::explain::Verdict) -> &'static str {
    if v.is_allowed() { "allow" } else { "deny" }
}
