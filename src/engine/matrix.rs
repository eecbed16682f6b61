//! Reachability matrices: many sources × many destinations on one port.

use crate::cluster::{Endpoint, Flow};
use crate::explain::Verdict;
use crate::policy::Protocol;

use super::Engine;

/// Verdicts for every (source, destination) pair on one port and protocol.
///
/// Rows are sources, columns destinations, stored as one bit per pair.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::policy::Protocol;
///
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
/// let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
/// let engine = Engine::build(&cluster, &[]);
/// let m = engine.matrix(&pods, &pods, 80, Protocol::Tcp);
/// assert_eq!(m.allowed_count(), 4);
/// assert!(m.get(0, 1).unwrap().is_allowed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    sources: Vec<Endpoint>,
    destinations: Vec<Endpoint>,
    port: u16,
    protocol: Protocol,
    bits: Vec<u64>,
}

impl Matrix {
    /// The sources (rows).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert_eq!(m.sources().len(), 1);
    /// ```
    pub fn sources(&self) -> &[Endpoint] {
        &self.sources
    }

    /// The destinations (columns).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert_eq!(m.destinations(), &pods[..]);
    /// ```
    pub fn destinations(&self) -> &[Endpoint] {
        &self.destinations
    }

    /// The destination port.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert_eq!(m.port(), 80);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The protocol.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert_eq!(m.protocol(), netpol::policy::Protocol::Tcp);
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The verdict for source row `i` and destination column `j`, `None` out of range.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert!(m.get(0, 0).unwrap().is_allowed());
    /// assert_eq!(m.get(1, 0), None);
    /// ```
    pub fn get(&self, i: usize, j: usize) -> Option<Verdict> {
        if i >= self.sources.len() || j >= self.destinations.len() {
            return None;
        }
        let k = i * self.destinations.len() + j;
        self.bits
            .get(k / 64)
            .map(|w| Verdict::from((w >> (k % 64)) & 1 == 1))
    }

    /// How many pairs are allowed.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// # let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = netpol::engine::Engine::build(&cluster, &[]).matrix(&pods, &pods, 80, Default::default());
    /// assert_eq!(m.allowed_count(), 1);
    /// ```
    pub fn allowed_count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn set(&mut self, i: usize, j: usize) {
        let k = i * self.destinations.len() + j;
        if let Some(w) = self.bits.get_mut(k / 64) {
            *w |= 1u64 << (k % 64);
        }
    }
}

impl Engine {
    /// Decides every (source, destination) pair on `port`/`protocol`.
    ///
    /// Equal to calling [`Engine::decide`] on each pair, with less work: a side that no
    /// policy isolates is known to allow without looking at the other side, and the
    /// egress answer is computed once per (egress class, address family, destination)
    /// rather than once per source, since sources that the same policies select decide
    /// egress alike.
    pub fn matrix(
        &self,
        sources: &[Endpoint],
        destinations: &[Endpoint],
        port: u16,
        protocol: Protocol,
    ) -> Matrix {
        let n = sources.len().saturating_mul(destinations.len());
        let mut m = Matrix {
            sources: sources.to_vec(),
            destinations: destinations.to_vec(),
            port,
            protocol,
            bits: vec![0; n.div_ceil(64)],
        };
        let inner = &*self.inner;
        // Egress answers per (class, v6, destination column), filled lazily.
        let mut egress_cache: std::collections::HashMap<(u32, bool), Vec<Option<bool>>> =
            std::collections::HashMap::new();
        for (i, src) in sources.iter().enumerate() {
            let egress_class = match src {
                Endpoint::Pod(id) => inner
                    .pods
                    .get(id.index())
                    .map_or(super::NOT_ISOLATED, |p| p.egress_class),
                _ => super::NOT_ISOLATED,
            };
            for (j, dst) in destinations.iter().enumerate() {
                let flow = Flow::new(*src, *dst, port, protocol);
                let allowed = if inner.special(flow).is_some() {
                    true
                } else {
                    let v6 = inner.flow_is_v6(flow);
                    let egress_ok = egress_class == super::NOT_ISOLATED || {
                        let row = egress_cache
                            .entry((egress_class, v6))
                            .or_insert_with(|| vec![None; destinations.len()]);
                        match row.get(j).copied().flatten() {
                            Some(ok) => ok,
                            None => {
                                let ok = inner.class_allows(egress_class, flow, *dst, v6);
                                if let Some(slot) = row.get_mut(j) {
                                    *slot = Some(ok);
                                }
                                ok
                            }
                        }
                    };
                    egress_ok && inner.ingress_allows(flow, v6)
                };
                if allowed {
                    m.set(i, j);
                }
            }
        }
        m
    }
}
