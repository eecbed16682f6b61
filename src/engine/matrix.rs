//! Reachability matrices: many sources × many destinations on one port.

use ahash::AHashMap as HashMap;

use crate::cluster::{Endpoint, Flow};
use crate::explain::Verdict;
use crate::policy::{Direction, Protocol};

use super::{Engine, NOT_ISOLATED, Side, dir_index};

/// What a destination's ingress answer can depend on besides the source: its class,
/// which port sets of the class match it, and its named container ports.
type GroupKey = ([u32; 2], Vec<bool>, Vec<(u32, Protocol, u16)>);

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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    #[must_use]
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
    /// Equal to calling [`Engine::decide`] on each pair, with less work. Each side's
    /// answer depends on the other side only through a few facts, so answers are shared:
    /// the egress answer of a source depends on its egress class, the address family and
    /// the destination, so it is computed once per (class, family, destination); the
    /// ingress answer of a destination depends on its ingress class, which of that class's
    /// port sets match it (named ports resolve per pod), the family and the source, so
    /// destinations that agree on class and port sets share one column of answers. A side
    /// that no policy isolates allows without looking at the other side.
    ///
    /// Working memory is one byte per (source, group of destinations) and per
    /// (destination, group of sources) actually met, at most twice the matrix in bytes.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, PodSpec};
    /// # use netpol::{engine::Engine, model::NetworkPolicy, policy::{Policy, Protocol}};
    /// let cluster = Cluster::builder()
    ///     .pod(PodSpec::new("shop", "api").ip("10.244.1.6".parse()?))
    ///     .pod(PodSpec::new("shop", "db").ip("10.244.1.5".parse()?))
    ///     .build()?;
    /// let deny = [Policy::new(&NetworkPolicy::new("shop", "default-deny"))?];
    /// let pods: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    /// let m = Engine::build(&cluster, &deny).matrix(&pods, &pods, 5432, Protocol::Tcp);
    /// assert_eq!(m.allowed_count(), 2); // only each pod to itself
    /// assert!(!m.get(0, 1).unwrap().is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
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
        if inner.overlay.is_some() {
            // Walks an overlay touches differ from their class's: flow by flow.
            for (i, src) in sources.iter().enumerate() {
                for (j, dst) in destinations.iter().enumerate() {
                    if inner.allows(Flow::new(*src, *dst, port, protocol)) {
                        m.set(i, j);
                    }
                }
            }
            return m;
        }
        let sides_src: Vec<Side<'_>> = sources.iter().map(|e| inner.side(*e)).collect();
        let sides_dst: Vec<Side<'_>> = destinations.iter().map(|e| inner.side(*e)).collect();
        // The class of a pod for a direction and family against any side that is not its
        // own node.
        let plain_class = |side: &Side<'_>, direction: Direction, v6: bool| match side {
            Side::Pod(p) => inner.pod_class(p, dir_index(direction), v6),
            _ => NOT_ISOLATED,
        };

        // Destinations grouped by what their ingress answer can depend on besides the
        // source: the class, which of its instructions' port sets match them (named
        // ports resolve per pod), and for classes read through a rule index their named
        // container ports.
        let mut group_index: HashMap<GroupKey, usize> = HashMap::new();
        let dst_group: Vec<Option<usize>> = destinations
            .iter()
            .zip(&sides_dst)
            .map(|(dst, side)| {
                let classes = [false, true].map(|v6| plain_class(side, Direction::Ingress, v6));
                if classes == [NOT_ISOLATED; 2] {
                    return None;
                }
                let class = classes[0].max(classes[1]);
                // Any source will do to ask which port sets match: ports depend on the
                // destination alone.
                let probe = Flow::new(*dst, *dst, port, protocol);
                let (mask, uses_index) = inner.port_signature(class, probe);
                let named = match side {
                    Side::Pod(info) if uses_index => inner.named_of(info).to_vec(),
                    _ => Vec::new(),
                };
                let next = group_index.len();
                Some(*group_index.entry((classes, mask, named)).or_insert(next))
            })
            .collect();

        // Answer caches, allocated when first needed: 0 = not computed, 1 = denied,
        // 2 = allowed. Ingress: per (destination group, family) a column over sources.
        // Egress: per (egress class, family) a row over destinations.
        let mut ingress: Vec<Vec<u8>> = vec![Vec::new(); group_index.len() * 2];
        let mut egress: Vec<Vec<u8>> = vec![Vec::new(); inner.classes.len() * 2];
        fn cached(
            cache: &mut Vec<u8>,
            len: usize,
            at: usize,
            compute: impl FnOnce() -> bool,
        ) -> bool {
            if cache.is_empty() {
                cache.resize(len, 0);
            }
            match cache.get(at).copied() {
                Some(1) => false,
                Some(2) => true,
                _ => {
                    let ok = compute();
                    if let Some(slot) = cache.get_mut(at) {
                        *slot = if ok { 2 } else { 1 };
                    }
                    ok
                }
            }
        }

        for (i, (src, src_side)) in sources.iter().zip(&sides_src).enumerate() {
            let egress_classes =
                [false, true].map(|v6| plain_class(src_side, Direction::Egress, v6));
            for (j, (dst, dst_side)) in destinations.iter().zip(&sides_dst).enumerate() {
                let flow = Flow::new(*src, *dst, port, protocol);
                // Anything out of the ordinary is decided on its own: unknown ids, self
                // traffic, a profile enforcing nothing, a pod and its own node.
                if inner.special(flow).is_some() {
                    if inner.allows(flow) {
                        m.set(i, j);
                    }
                    continue;
                }
                let v6 = inner.flow_is_v6(flow);
                let egress_class = egress_classes
                    .get(usize::from(v6))
                    .copied()
                    .unwrap_or(NOT_ISOLATED);
                let egress_ok = egress_class == NOT_ISOLATED
                    || match egress.get_mut(egress_class as usize * 2 + usize::from(v6)) {
                        Some(row) => cached(row, destinations.len(), j, || {
                            inner.class_allows(egress_class, 1, flow, *dst_side, v6)
                        }),
                        None => inner.class_allows(egress_class, 1, flow, *dst_side, v6),
                    };
                if !egress_ok {
                    continue;
                }
                let ingress_ok = match dst_group.get(j).copied().flatten() {
                    None => true,
                    Some(g) => {
                        let class = plain_class(dst_side, Direction::Ingress, v6);
                        match ingress.get_mut(g * 2 + usize::from(v6)) {
                            Some(column) => cached(column, sources.len(), i, || {
                                inner.class_allows(class, 0, flow, *src_side, v6)
                            }),
                            None => inner.class_allows(class, 0, flow, *src_side, v6),
                        }
                    }
                };
                if ingress_ok {
                    m.set(i, j);
                }
            }
        }
        m
    }
}
