//! The subcommands, one module each, and what several of them share: loading a cluster
//! from manifests (or the demo), naming endpoints and ports, writing the output.

pub mod diff;
pub mod explain;
pub mod exposure;
pub mod flannel;
pub mod lint;
pub mod map;
pub mod reach;
pub mod serve;
pub mod validate;

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use netpol::cluster::{BuiltCluster, Cluster, Endpoint, Flow};
use netpol::explain::Explanation;
use netpol::policy::{PolicySet, Protocol};
use netpol::profile::Profile;
use netpol::service::{
    ServiceAddress, ServiceId, ServiceProxy, ServiceRequest, ServiceTable, ServiceVerdict,
};
use serde::Serialize;

use crate::input::{Issue, Manifests, Position, Severity};
use crate::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE, demo};

/// A port and protocol written `PORT[/PROTO]` (`80`, `53/UDP`, `5432/tcp`).
pub fn parse_port(text: &str) -> Result<(u16, Protocol), String> {
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

/// A profile by name (`conformance` when none is given).
pub fn parse_profile(name: Option<&str>) -> Result<Profile, String> {
    match name {
        None => Ok(Profile::default()),
        Some(name) => Profile::named(name).ok_or_else(|| {
            format!(
                "unknown profile {name:?}; known profiles: {}",
                Profile::NAMES.join(", ")
            )
        }),
    }
}

/// A cluster read from manifests (or the demo), ready to answer.
pub struct Loaded {
    /// What was read.
    pub manifests: Manifests,
    /// The cluster and the Services.
    pub built: BuiltCluster,
    /// The policies that take part in the answers.
    pub policies: PolicySet,
    /// Every issue (the reading's, the cluster's, the policies'), errors first.
    pub issues: Vec<Issue>,
    /// Whether this is the built-in demo.
    pub demo: bool,
}

impl Loaded {
    /// Whether anything was refused or left out as unusable (exit code 1).
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    /// The exit code once the output is written: 0, or 1 when something was refused.
    pub fn exit_code(&self) -> u8 {
        if self.has_errors() {
            EXIT_REFUSED
        } else {
            EXIT_OK
        }
    }

    /// The input's names for the output: the paths, or `<built-in>`.
    pub fn input_names(&self, paths: &[PathBuf]) -> Vec<String> {
        if self.demo {
            vec!["<built-in>".to_owned()]
        } else {
            paths.iter().map(|p| p.display().to_string()).collect()
        }
    }
}

/// Reads the manifests under `paths` (the demo when there is none) and builds the
/// cluster; an error (exit code 2) when the cluster cannot be built.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, String> {
    let demo = paths.is_empty();
    let manifests = if demo {
        demo::manifests()
    } else {
        Manifests::read_paths(paths)
    };
    load_manifests(manifests, demo)
}

/// Builds the cluster of manifests already read.
pub fn load_manifests(mut manifests: Manifests, demo: bool) -> Result<Loaded, String> {
    let built = manifests
        .build_cluster()
        .map_err(|e| format!("the cluster cannot be built: {e}"))?;
    let policies = manifests.policy_set();
    let mut issues = manifests.issues.clone();
    issues.extend(manifests.policy_issues());
    // Errors first, then warnings, then notes; input order within each.
    issues.sort_by_key(|i| std::cmp::Reverse(i.severity));
    Ok(Loaded {
        manifests,
        built,
        policies,
        issues,
        demo,
    })
}

/// Resolves `ns/pod`, `node/NAME` or an IP (a pod's or node's IP names that pod or
/// node). A host-network pod names its node.
pub fn resolve(cluster: &Cluster, text: &str) -> Result<Endpoint, String> {
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
            .resolve_pod(ns, pod)
            .ok_or_else(|| format!("{text:?}: no pod {pod:?} in namespace {ns:?} was read")),
        None => Err(format!(
            "{text:?}: write a pod as namespace/name, a node as node/NAME, or an IP address"
        )),
    }
}

/// Resolves TO as a Service when it is `svc/NS/NAME` (`service/NS/NAME`); `None` when it
/// is not.
pub fn resolve_service(table: &ServiceTable, text: &str) -> Option<Result<ServiceId, String>> {
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

/// What an explanation is asked about: a flow between endpoints, or a flow to a Service.
#[derive(Debug, Clone, Copy)]
pub enum Question {
    /// Between endpoints.
    Flow(Flow<'static>),
    /// To a Service, through one of its addresses.
    Service(ServiceRequest),
}

impl Question {
    /// Resolves FROM, TO and the port against the cluster and its Services. TO is a
    /// Service when it is `svc/NS/NAME`, one of a Service's addresses (cluster IP,
    /// load-balancer IP in VIP mode, external IP) with PORT its port, or a node
    /// (`node/NAME` or its address) with PORT one of the Services' node ports. `node` is
    /// the node receiving traffic from outside (`--node`): required for an outside
    /// client of a load-balancer or external IP, refused for anything but a Service
    /// address.
    pub fn resolve(
        built: &BuiltCluster,
        from: &str,
        to: &str,
        (port, protocol): (u16, Protocol),
        node: Option<&str>,
    ) -> Result<Question, String> {
        let cluster = &built.cluster;
        let table = &built.services;
        let src = resolve(cluster, from)?;
        let node = match node {
            None => None,
            Some(name) => Some(
                cluster
                    .node_id(name)
                    .ok_or_else(|| format!("--node {name:?}: no node {name:?} was read"))?,
            ),
        };
        let request = |id: ServiceId, address: ServiceAddress| {
            let r = ServiceRequest::new(src, id, address, port, protocol);
            Question::Service(match node {
                Some(n) => r.received_by(n),
                None => r,
            })
        };
        if let Some(service) = resolve_service(table, to) {
            return service.map(|id| request(id, ServiceAddress::Name));
        }
        if let Ok(ip) = to.parse::<IpAddr>() {
            if let Some((id, address)) = table.lookup_address(ip, port, protocol) {
                return Ok(request(id, address));
            }
        }
        let dst = resolve(cluster, to)?;
        if let Endpoint::Node(n) = dst {
            if let Some(id) = table.lookup_node_port(port, protocol) {
                return Ok(request(id, ServiceAddress::NodePort(n)));
            }
        }
        if node.is_some() {
            return Err(format!(
                "{to:?} is no Service address: --node applies to traffic to a Service"
            ));
        }
        Ok(Question::Flow(Flow::new(src, dst, port, protocol)))
    }

    /// The answer with `evaluator`, Services translated by `proxy`.
    pub fn answer<E: netpol::explain::Evaluator + ?Sized>(
        self,
        evaluator: &E,
        proxy: &ServiceProxy,
        services: &ServiceTable,
    ) -> Result<Answer, String> {
        match self {
            Question::Flow(f) => Ok(Answer::Flow(Box::new(evaluator.explain(f)))),
            Question::Service(request) => services
                .answer(evaluator, proxy, request)
                .map(|v| Answer::Service(Box::new(v)))
                .map_err(|e| e.to_string()),
        }
    }
}

/// The answer to a [`Question`].
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// A flow's explanation.
    Flow(Box<Explanation>),
    /// A flow to a Service: every endpoint's.
    Service(Box<ServiceVerdict>),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Flow(e) => write!(f, "{e}"),
            Answer::Service(v) => write!(f, "{v}"),
        }
    }
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error. Returns the exit
/// code to use when writing failed otherwise.
pub fn write_stdout(text: &str) -> Result<(), u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("netpol: cannot write the output: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Prints the issues on stderr, one per line (details indented below).
pub fn print_issues(issues: &[Issue]) {
    for issue in issues {
        eprintln!("{issue}");
    }
}

/// A position for an issue about the input as a whole.
pub fn input_position() -> Position {
    Position::file("<input>")
}
