//! `netpol flannel [NET-CONF] [--nodes N | --names a,b,c] [--mode kube|flannel]`: checks a
//! flannel net-conf.json the way flanneld reads it (warnings where flannel is silent) and
//! prints the node → pod subnet table it implies.
//!
//! `--mode kube` (the default, as in kube-flannel.yml's `--kube-subnet-mgr`) allocates
//! like kube-controller-manager from `Network` (and `IPv6Network`); `--mode flannel`
//! walks flannel's own lease range `SubnetMin..=SubnetMax` in order (flanneld itself
//! picks among free subnets at random).

use std::fmt::Write as _;
use std::path::PathBuf;

use ipnet::IpNet;
use netpol::flannel::{KubeAllocatorConfig, KubeRangeAllocator, NetConf, NodeSubnetTable};

use super::write_stdout;
use crate::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

const DEFAULT_NET_CONF: &str = r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}"#;

const AFTER_HELP: &str = "\
Without NET-CONF, flannel's usual one: {\"Network\": \"10.244.0.0/16\", \"Backend\": {\"Type\": \"vxlan\"}}.

Exit status: 0 when the configuration is accepted and every node got its subnets
(warnings go to stderr); 1 when flannel would refuse the configuration or the subnets
run out; 2 on a usage error or a file that cannot be read.";

/// How node subnets are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// kube-controller-manager's range allocator (flannel's `--kube-subnet-mgr`).
    #[default]
    Kube,
    /// flannel's own leases, SubnetMin..=SubnetMax in order.
    Flannel,
}

/// `netpol flannel [NET-CONF] [OPTIONS]`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// A net-conf.json file (flannel's ConfigMap key `net-conf.json`).
    #[arg(value_name = "NET-CONF")]
    pub file: Option<PathBuf>,
    /// How many nodes: master, node1, node2, ...
    #[arg(long, value_name = "N", default_value_t = 3, conflicts_with = "names")]
    pub nodes: usize,
    /// The node names, comma-separated.
    #[arg(long, value_name = "a,b,c", value_delimiter = ',')]
    pub names: Vec<String>,
    /// Who allocates the node subnets.
    #[arg(long, value_enum, default_value_t = Mode::Kube)]
    pub mode: Mode,
    /// kube-controller-manager's --node-cidr-mask-size (single-stack clusters).
    #[arg(long, value_name = "N")]
    pub node_cidr_mask_size: Option<u8>,
    /// kube-controller-manager's --service-cluster-ip-range, kept out of node subnets
    /// (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub service_cidr: Vec<IpNet>,
    /// Print the configuration, warnings and table as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn node_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i == 0 {
                "master".to_owned()
            } else {
                format!("node{i}")
            }
        })
        .collect()
}

/// Runs `netpol flannel`.
pub fn run(args: Args) -> u8 {
    let text = match &args.file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("netpol flannel: {}: {e}", path.display());
                return EXIT_USAGE;
            }
        },
        None => DEFAULT_NET_CONF.to_owned(),
    };
    let source = args.file.as_ref().map_or_else(
        || "built-in net-conf.json".to_owned(),
        |p| p.display().to_string(),
    );
    let parsed = match NetConf::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            let message = match (e.line(), e.column()) {
                (Some(l), Some(c)) => format!("{source}:{l}:{c}: {e}"),
                _ => format!("{source}: {e}"),
            };
            if args.json {
                let doc = serde_json::json!({
                    "file": source, "accepted": false,
                    "error": {"stage": e.stage().as_str(), "message": e.message(), "line": e.line(), "column": e.column()},
                });
                let _ = write_stdout(&format!("{doc:#}\n"));
            }
            eprintln!("netpol flannel: {message}");
            return EXIT_REFUSED;
        }
    };
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    for w in &warnings {
        eprintln!("warning: {source}: {w}");
    }
    let names = if args.names.is_empty() {
        node_names(args.nodes)
    } else {
        args.names.clone()
    };
    let table = match allocate(&args, &parsed.config, &names) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("netpol flannel: {e}");
            return EXIT_REFUSED;
        }
    };
    let config = &parsed.config;
    let allocation = match args.mode {
        Mode::Kube => "kube-controller-manager allocation, --kube-subnet-mgr",
        Mode::Flannel => "flannel's own lease range",
    };
    let out = if args.json {
        let nodes: Vec<serde_json::Value> = names
            .iter()
            .map(|name| {
                let subnets: Vec<String> = table.subnets_of(name).map(|n| n.to_string()).collect();
                serde_json::json!({"name": name, "subnets": subnets})
            })
            .collect();
        let doc = serde_json::json!({
            "file": source,
            "accepted": true,
            "backend": config.backend.resolved(),
            "network": config.ipv4.map(|p| p.network.to_string()),
            "ipv6Network": config.ipv6.map(|p| p.network.to_string()),
            "mode": match args.mode { Mode::Kube => "kube", Mode::Flannel => "flannel" },
            "warnings": warnings,
            "nodes": nodes,
        });
        format!("{doc:#}\n")
    } else {
        let mut out = String::new();
        let _ = writeln!(out, "backend {} ({allocation})", config.backend.resolved());
        let line: Vec<String> = names
            .iter()
            .map(|name| {
                let subnets: Vec<String> = table.subnets_of(name).map(|n| n.to_string()).collect();
                format!("{name} {}", subnets.join(" "))
            })
            .collect();
        let _ = writeln!(out, "{}", line.join(", "));
        out
    };
    match write_stdout(&out) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

fn allocate(args: &Args, config: &NetConf, names: &[String]) -> Result<NodeSubnetTable, String> {
    let mut table = NodeSubnetTable::new();
    match args.mode {
        Mode::Kube => {
            let cluster: Vec<IpNet> = config
                .ipv4
                .iter()
                .map(|p| IpNet::V4(p.network))
                .chain(config.ipv6.iter().map(|p| IpNet::V6(p.network)))
                .collect();
            if cluster.len() > 1 && args.node_cidr_mask_size.is_some() {
                // Like kube-controller-manager, which wants the per-family flags then.
                return Err("--node-cidr-mask-size is for single-stack clusters".to_owned());
            }
            let mut allocator = KubeRangeAllocator::with_config(&KubeAllocatorConfig {
                cluster_cidrs: cluster,
                service_cidrs: args.service_cidr.clone(),
                node_cidr_mask_size_ipv4: args.node_cidr_mask_size,
                node_cidr_mask_size_ipv6: args.node_cidr_mask_size,
            })
            .map_err(|e| e.to_string())?;
            for name in names {
                let cidrs = allocator
                    .allocate()
                    .map_err(|e| format!("node {name}: {e}"))?;
                for cidr in cidrs {
                    table
                        .insert(name.clone(), cidr)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Mode::Flannel => {
            let mut v4 = config.ipv4.map(|p| p.leases());
            let mut v6 = config.ipv6.map(|p| p.leases());
            for name in names {
                let subnets = [
                    v4.as_mut().map(|it| it.next().map(IpNet::V4)),
                    v6.as_mut().map(|it| it.next().map(IpNet::V6)),
                ];
                for subnet in subnets.into_iter().flatten() {
                    let subnet =
                        subnet.ok_or_else(|| format!("node {name}: no subnet left to lease"))?;
                    table
                        .insert(name.clone(), subnet)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    Ok(table)
}
