//! Reachability of Services from one source through every address they take traffic
//! on: node ports at each node, load-balancer and external IPs through each receiving
//! node, cluster IPs. The library's [`ServiceTable::answer`] does the translation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netpol::cluster::{Cluster, Endpoint, NodeId};
use netpol::explain::{Evaluator, Verdict};
use netpol::policy::Protocol;
use netpol::service::{
    Reachability, ServiceAddress, ServiceId, ServiceProxy, ServiceRequest, ServiceTable,
    ServiceVerdict,
};
use serde::Serialize;

use crate::render;

/// One cell: a request through one address at one node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideCell {
    /// The node that receives the traffic (or whose node port is dialled).
    pub node: String,
    /// All, some, none or no endpoints; `None` when the traffic cannot arrive at this
    /// node (a pod's or a node's traffic to a load-balancer, external or cluster IP is
    /// translated on its own node).
    pub reachability: Option<Reachability>,
    /// Whether `loadBalancerSourceRanges` dropped it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// Each endpoint's verdict, by `namespace/name`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, Verdict>,
    /// Why there is no endpoint, or why the request cannot be answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The full answer.
    #[serde(skip)]
    pub answer: Option<ServiceVerdict>,
}

/// One address of a Service at one port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideRow {
    /// `node port 30080/TCP`, `load-balancer IP 203.0.113.10:80/TCP`, ...
    pub address: String,
    /// The Service port it forwards.
    pub service_port: u16,
    /// A cell per node, in the table's node order.
    pub cells: Vec<OutsideCell>,
}

/// A Service's rows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideService {
    /// `namespace/name`.
    pub service: String,
    /// `type`, `externalTrafficPolicy` and `internalTrafficPolicy`, in words.
    pub summary: String,
    /// Its addresses.
    pub rows: Vec<OutsideRow>,
}

/// The table for one source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideTable {
    /// The source, as named in explanations.
    pub from: String,
    /// The nodes, in column order.
    pub nodes: Vec<String>,
    /// The Services, in input order.
    pub services: Vec<OutsideService>,
}

/// What to tabulate.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this Service (every Service reachable other than by cluster IP otherwise, and
    /// for a source inside the cluster, cluster IPs too).
    pub service: Option<ServiceId>,
    /// Only these Service ports (a node port row counts by its Service port).
    pub ports: Vec<(u16, Protocol)>,
    /// Only these nodes (every node otherwise).
    pub nodes: Vec<NodeId>,
}

/// The table of `src` towards the Services.
pub fn table<E: Evaluator + ?Sized>(
    evaluator: &E,
    proxy: &ServiceProxy,
    services: &ServiceTable,
    src: Endpoint,
    selection: &Selection,
) -> OutsideTable {
    let cluster = evaluator.cluster();
    let nodes: Vec<NodeId> = if selection.nodes.is_empty() {
        cluster.node_ids().collect()
    } else {
        selection.nodes.clone()
    };
    let names: Vec<String> = nodes.iter().map(|n| node_name(cluster, *n)).collect();
    let outside = matches!(src, Endpoint::External(_));
    // The node a client inside the cluster translates on.
    let own = match src {
        Endpoint::Pod(p) => cluster.pod(p).and_then(|p| p.node),
        Endpoint::Node(n) => Some(n),
        Endpoint::External(_) => None,
        _ => None,
    };
    let mut blocks = Vec::new();
    for (id, svc) in services.services() {
        if selection.service.is_some_and(|s| s != id) {
            continue;
        }
        if selection.service.is_none() && outside && !svc.externally_accessible() {
            continue;
        }
        let mut rows = Vec::new();
        for p in &svc.ports {
            if !selection.ports.is_empty() && !selection.ports.contains(&(p.port, p.protocol)) {
                continue;
            }
            let ask = |address: ServiceAddress, port: u16, node: Option<NodeId>| {
                let mut r = ServiceRequest::new(src, id, address, port, p.protocol);
                if let Some(n) = node {
                    r = r.received_by(n);
                }
                services.answer(evaluator, proxy, r)
            };
            if let Some(np) = p.node_port {
                let cells = nodes
                    .iter()
                    .map(|n| {
                        cell(
                            cluster,
                            *n,
                            Some(ask(ServiceAddress::NodePort(*n), np, None)),
                        )
                    })
                    .collect();
                rows.push(OutsideRow {
                    address: format!("node port {np}/{}", p.protocol),
                    service_port: p.port,
                    cells,
                });
            }
            let mut addresses: Vec<ServiceAddress> = svc
                .load_balancer_vips()
                .map(ServiceAddress::LoadBalancerIp)
                .chain(
                    svc.external_ips
                        .iter()
                        .map(|ip| ServiceAddress::ExternalIp(*ip)),
                )
                .collect();
            if !outside {
                addresses.extend(
                    svc.addressing
                        .cluster_ips()
                        .iter()
                        .map(|ip| ServiceAddress::ClusterIp(*ip)),
                );
            }
            for address in addresses {
                let (kind, ip) = match address {
                    ServiceAddress::LoadBalancerIp(ip) => ("load-balancer IP", ip),
                    ServiceAddress::ExternalIp(ip) => ("external IP", ip),
                    ServiceAddress::ClusterIp(ip) => ("cluster IP", ip),
                    _ => continue,
                };
                let ip_text = if ip.is_ipv6() {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                let cells = nodes
                    .iter()
                    .map(|n| {
                        let answer = if outside {
                            Some(ask(address, p.port, Some(*n)))
                        } else if own == Some(*n) {
                            Some(ask(address, p.port, None))
                        } else {
                            None
                        };
                        cell(cluster, *n, answer)
                    })
                    .collect();
                rows.push(OutsideRow {
                    address: format!("{kind} {ip_text}:{}/{}", p.port, p.protocol),
                    service_port: p.port,
                    cells,
                });
            }
        }
        if rows.is_empty() {
            continue;
        }
        blocks.push(OutsideService {
            service: svc.key(),
            summary: format!(
                "{}, externalTrafficPolicy {}, internalTrafficPolicy {}",
                svc.service_type, svc.external_traffic_policy, svc.internal_traffic_policy
            ),
            rows,
        });
    }
    OutsideTable {
        from: cluster.describe(src),
        nodes: names,
        services: blocks,
    }
}

fn node_name(cluster: &Cluster, n: NodeId) -> String {
    cluster
        .node(n)
        .map_or_else(|| n.to_string(), |n| n.name.clone())
}

fn cell(
    cluster: &Cluster,
    node: NodeId,
    answer: Option<Result<ServiceVerdict, netpol::service::ServiceRequestError>>,
) -> OutsideCell {
    let mut c = OutsideCell {
        node: node_name(cluster, node),
        reachability: None,
        dropped: false,
        endpoints: BTreeMap::new(),
        note: None,
        answer: None,
    };
    match answer {
        None => {}
        Some(Err(e)) => c.note = Some(e.to_string()),
        Some(Ok(v)) => {
            c.reachability = Some(v.reachability);
            c.dropped = v.dropped.is_some();
            c.endpoints = v
                .endpoints
                .iter()
                .map(|e| (e.endpoint.clone(), e.explanation.verdict))
                .collect();
            c.note = v
                .no_endpoints
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| v.dropped.as_ref().map(ToString::to_string));
            c.answer = Some(v);
        }
    }
    c
}

/// The table as text: a block per Service, a row per address, a column per node.
pub fn render(t: &OutsideTable, colour: bool) -> String {
    let mut out = String::new();
    if t.services.is_empty() {
        let _ = writeln!(out, "No Service takes traffic from {} here.", t.from);
        return out;
    }
    let width = t
        .services
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| r.address.chars().count() + 2))
        .max()
        .unwrap_or(0);
    for (i, s) in t.services.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} ({})", s.service, s.summary);
        let _ = write!(out, "{:width$}", "");
        for n in &t.nodes {
            let _ = write!(out, " {n}");
        }
        out.push('\n');
        for row in &s.rows {
            let mut line = format!("  {:<w$}", row.address, w = width - 2);
            for c in &row.cells {
                let mark = symbol(c, colour);
                let w = c.node.chars().count();
                let pad = w.saturating_sub(1);
                let left = pad / 2;
                let _ = write!(
                    line,
                    " {}{mark}{}",
                    " ".repeat(left),
                    " ".repeat(pad - left)
                );
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out
}

/// The legend of [`render()`].
pub fn legend(colour: bool) -> String {
    format!(
        "{}, ⊘ = dropped by loadBalancerSourceRanges, · = does not arrive there (translated on the client's own node), ? = cannot be answered",
        render::reach_legend(colour)
    )
}

fn symbol(c: &OutsideCell, colour: bool) -> String {
    if c.dropped {
        return "⊘".to_owned();
    }
    match c.reachability {
        None if c.note.is_some() => "?".to_owned(),
        None => "·".to_owned(),
        Some(r) => render::reach_mark(r, colour),
    }
}

/// Every answered cell's explanation, for `--details`.
pub fn details(t: &OutsideTable) -> String {
    let mut out = String::new();
    for s in &t.services {
        for row in &s.rows {
            for c in &row.cells {
                match (&c.answer, &c.note) {
                    (Some(a), _) => {
                        let _ = writeln!(out, "\n{a}");
                    }
                    (None, Some(note)) => {
                        let _ = writeln!(
                            out,
                            "\n{} at {} ({}): {note}",
                            s.service, row.address, c.node
                        );
                    }
                    (None, None) => {}
                }
            }
        }
    }
    out
}
