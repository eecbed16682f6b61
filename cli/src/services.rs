//! Reachability through Services: per Service port, a row per source and a column per
//! Service exposing that port, each cell saying how many of the Service's endpoints the
//! source reaches (all, some, none, or there is no endpoint), with the verdict of each
//! endpoint. The library's [`ServiceTable`] does the translation and the counting.

use std::collections::BTreeMap;

use netpol::cluster::{Cluster, Endpoint};
use netpol::explain::{Evaluator, Verdict};
use netpol::policy::Protocol;
use netpol::service::{
    Addressing, NoEndpoints, Reachability, ServiceAddress, ServiceId, ServiceProxy, ServiceRequest,
    ServiceTable,
};
use serde::Serialize;

/// One endpoint of a Service port: the pod (`namespace/name`) and the port it receives on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointName {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The port after translation.
    pub target_port: u16,
}

/// A Service exposing the grid's port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// The Service in the table.
    #[serde(skip)]
    pub id: ServiceId,
    /// `namespace/name`.
    pub service: String,
    /// Where the port forwards: the `targetPort` as written (a number or a container port
    /// name), or `unchanged` for a headless Service.
    pub target_port: String,
    /// The endpoints, in pod order.
    pub endpoints: Vec<EndpointName>,
    /// Why there is no endpoint, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_endpoints: Option<NoEndpoints>,
}

/// What one source gets from one Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// All, some, none or no endpoints.
    pub reachability: Reachability,
    /// The verdict at each endpoint of the column, in the column's order; `None` for an
    /// endpoint that does not serve this source (`internalTrafficPolicy: Local` keeps the
    /// endpoints on the source's node).
    pub endpoints: Vec<Option<Verdict>>,
}

/// The table for one Service port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grid {
    /// The Service port.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The Services exposing it, in input order.
    pub columns: Vec<Column>,
    /// A row per source, a cell per column.
    pub cells: Vec<Vec<Cell>>,
}

impl Grid {
    /// How many cells have this reachability.
    pub fn count(&self, r: Reachability) -> usize {
        self.cells
            .iter()
            .flatten()
            .filter(|c| c.reachability == r)
            .count()
    }
}

/// The Service ports to tabulate: every `(port, protocol)` some Service declares, with
/// the Services declaring it, sorted by port; restricted to `only` when it is not empty.
pub fn service_ports(
    table: &ServiceTable,
    only: &[(u16, Protocol)],
) -> BTreeMap<(u16, Protocol), Vec<ServiceId>> {
    let mut out: BTreeMap<(u16, Protocol), Vec<ServiceId>> = BTreeMap::new();
    for (id, service) in table.services() {
        for p in &service.ports {
            let key = (p.port, p.protocol);
            if !only.is_empty() && !only.contains(&key) {
                continue;
            }
            let ids = out.entry(key).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    out
}

/// The grids for `sources`, one per Service port, each source reaching the Services by
/// name, translated by `proxy`.
pub fn grids<E: Evaluator + ?Sized>(
    evaluator: &E,
    proxy: &ServiceProxy,
    table: &ServiceTable,
    sources: &[Endpoint],
    only: &[(u16, Protocol)],
) -> Vec<Grid> {
    let cluster: &Cluster = evaluator.cluster();
    service_ports(table, only)
        .into_iter()
        .map(|((port, protocol), ids)| {
            let columns: Vec<Column> = ids
                .iter()
                .map(|&id| column(cluster, table, id, port, protocol))
                .collect();
            let cells = sources
                .iter()
                .map(|&src| {
                    columns
                        .iter()
                        .map(|c| cell(evaluator, proxy, table, src, c, port, protocol))
                        .collect()
                })
                .collect();
            Grid {
                port,
                protocol,
                columns,
                cells,
            }
        })
        .collect()
}

fn column(
    cluster: &Cluster,
    table: &ServiceTable,
    id: ServiceId,
    port: u16,
    protocol: Protocol,
) -> Column {
    let service = table.service(id);
    let target_port = match service.map(|s| &s.addressing) {
        Some(Addressing::Headless) => "unchanged".to_owned(),
        _ => service
            .and_then(|s| {
                s.ports
                    .iter()
                    .find(|p| p.port == port && p.protocol == protocol)
            })
            .map_or_else(|| port.to_string(), |p| p.target.to_string()),
    };
    let (endpoints, no_endpoints) = match table.endpoints(id, port, protocol) {
        Ok(list) => (
            list.iter()
                .map(|e| EndpointName {
                    pod: cluster.describe(Endpoint::Pod(e.pod)),
                    target_port: e.target_port,
                })
                .collect(),
            None,
        ),
        Err(why) => (Vec::new(), Some(why)),
    };
    Column {
        id,
        service: service.map(|s| s.key()).unwrap_or_default(),
        target_port,
        endpoints,
        no_endpoints,
    }
}

fn cell<E: Evaluator + ?Sized>(
    evaluator: &E,
    proxy: &ServiceProxy,
    table: &ServiceTable,
    src: Endpoint,
    column: &Column,
    port: u16,
    protocol: Protocol,
) -> Cell {
    let request = ServiceRequest::new(src, column.id, ServiceAddress::Name, port, protocol);
    match table.answer(evaluator, proxy, request) {
        Ok(answer) => Cell {
            reachability: answer.reachability,
            endpoints: column
                .endpoints
                .iter()
                .map(|name| {
                    answer
                        .endpoints
                        .iter()
                        .find(|e| e.endpoint == name.pod)
                        .map(|e| e.explanation.verdict)
                })
                .collect(),
        },
        // The endpoints cannot be told (a Local policy, a pod whose node is unknown).
        Err(_) => Cell {
            reachability: Reachability::NoEndpoints,
            endpoints: vec![None; column.endpoints.len()],
        },
    }
}
