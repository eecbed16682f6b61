//! Prints the node → pod subnet table a flannel net-conf.json implies.
//!
//! ```text
//! cargo run --example flannel_nodes -- [NET-CONF.json] [--nodes N | --names a,b,c]
//!     [--mode kube|flannel] [--node-cidr-mask-size N] [--service-cidr CIDR]
//! ```
//!
//! `--mode kube` (the default, as in kube-flannel.yml's `--kube-subnet-mgr`) allocates
//! like kube-controller-manager from `Network` (and `IPv6Network`); `--mode flannel`
//! walks flannel's own lease range `SubnetMin..=SubnetMax` in order (flanneld itself
//! picks among free subnets at random).

use ipnet::IpNet;
use netpol::flannel::{KubeAllocatorConfig, KubeRangeAllocator, NetConf, NodeSubnetTable};
use std::process::ExitCode;

const DEFAULT_NET_CONF: &str = r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}"#;

struct Options {
    file: Option<String>,
    names: Vec<String>,
    kube: bool,
    mask: Option<u8>,
    services: Vec<IpNet>,
}

fn usage() -> String {
    "usage: flannel_nodes [NET-CONF.json] [--nodes N | --names a,b,c] [--mode kube|flannel] \
     [--node-cidr-mask-size N] [--service-cidr CIDR]"
        .to_owned()
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

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        file: None,
        names: node_names(3),
        kube: true,
        mask: None,
        services: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        match arg.as_str() {
            "--nodes" => {
                let n: usize = value("--nodes")?
                    .parse()
                    .map_err(|e| format!("--nodes: {e}"))?;
                o.names = node_names(n);
            }
            "--names" => {
                o.names = value("--names")?.split(',').map(str::to_owned).collect();
            }
            "--mode" => {
                o.kube = match value("--mode")?.as_str() {
                    "kube" => true,
                    "flannel" => false,
                    other => return Err(format!("unknown mode {other:?}\n{}", usage())),
                }
            }
            "--node-cidr-mask-size" => {
                let v = value("--node-cidr-mask-size")?;
                o.mask = Some(
                    v.parse()
                        .map_err(|e| format!("--node-cidr-mask-size: {e}"))?,
                );
            }
            "--service-cidr" => {
                let v = value("--service-cidr")?;
                o.services.push(
                    v.parse()
                        .map_err(|e| format!("--service-cidr {v:?}: {e}"))?,
                );
            }
            "-h" | "--help" => return Err(usage()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}\n{}", usage())),
            _ => o.file = Some(arg),
        }
    }
    Ok(o)
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let text = match &o.file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => DEFAULT_NET_CONF.to_owned(),
    };
    let source = o.file.as_deref().unwrap_or("built-in net-conf.json");
    let parsed = NetConf::parse(&text).map_err(|e| match (e.line(), e.column()) {
        (Some(l), Some(c)) => format!("{source}:{l}:{c}: {e}"),
        _ => format!("{source}: {e}"),
    })?;
    for w in &parsed.warnings {
        eprintln!("warning: {source}: {w}");
    }
    let config = &parsed.config;
    println!(
        "backend {} ({})",
        config.backend.resolved(),
        if o.kube {
            "kube-controller-manager allocation, --kube-subnet-mgr"
        } else {
            "flannel's own lease range"
        }
    );

    let mut table = NodeSubnetTable::new();
    if o.kube {
        let cluster: Vec<IpNet> = config
            .ipv4
            .iter()
            .map(|p| IpNet::V4(p.network))
            .chain(config.ipv6.iter().map(|p| IpNet::V6(p.network)))
            .collect();
        if cluster.len() > 1 && o.mask.is_some() {
            // Like kube-controller-manager, which wants the per-family flags then.
            return Err("--node-cidr-mask-size is for single-stack clusters".to_owned());
        }
        let mut allocator = KubeRangeAllocator::with_config(&KubeAllocatorConfig {
            cluster_cidrs: cluster,
            service_cidrs: o.services.clone(),
            node_cidr_mask_size_ipv4: o.mask,
            node_cidr_mask_size_ipv6: o.mask,
        })
        .map_err(|e| e.to_string())?;
        for name in &o.names {
            let cidrs = allocator
                .allocate()
                .map_err(|e| format!("node {name}: {e}"))?;
            for cidr in cidrs {
                table
                    .insert(name.clone(), cidr)
                    .map_err(|e| e.to_string())?;
            }
        }
    } else {
        let mut v4 = config.ipv4.map(|p| p.leases());
        let mut v6 = config.ipv6.map(|p| p.leases());
        for name in &o.names {
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
    let line: Vec<String> = o
        .names
        .iter()
        .map(|name| {
            let subnets: Vec<String> = table.subnets_of(name).map(|n| n.to_string()).collect();
            format!("{name} {}", subnets.join(" "))
        })
        .collect();
    println!("{}", line.join(", "));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
