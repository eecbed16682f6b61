//! Exposure: per workload and direction, whether it is isolated, which outside
//! addresses reach it (or it reaches), and whether every pod and every namespace does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ahash::AHashMap as HashMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use crate::cluster::{Endpoint, Flow};
use crate::engine::Engine;
use crate::policy::AsPolicySet;

use super::Setup;
use super::classes::CidrBounds;
use super::ports::{Breaks, Ports};
use super::solve::decide_ports;

/// Outside addresses a workload is reachable from (ingress) or reaches (egress) on the
/// same ports.
///
/// ```
/// use netpol::analysis::{OutsideReach, Ports};
/// let r = OutsideReach { cidrs: vec!["0.0.0.0/0".parse().unwrap()], ports: Ports::all() };
/// assert_eq!(r.to_string(), "0.0.0.0/0: all");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutsideReach {
    /// The addresses, as the fewest CIDRs.
    pub cidrs: Vec<IpNet>,
    /// The ports.
    pub ports: Ports,
}

impl fmt::Display for OutsideReach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cidrs: Vec<String> = self.cidrs.iter().map(ToString::to_string).collect();
        write!(f, "{}: {}", cidrs.join(", "), self.ports)
    }
}

/// One direction of a workload's exposure: for ingress, who reaches it; for egress,
/// whom it reaches.
///
/// ```
/// # use netpol::analysis::exposure;
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::engine::Engine;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("y", "b")).build()?;
/// let report = exposure(&Engine::build(&cluster, &[]), &[]);
/// let a = &report[0].ingress;
/// assert!(!a.isolated && a.every_pod && a.every_namespace);
/// assert!(a.open_to_every_pod.is_all());
/// assert_eq!(a.outside[0].cidrs.len(), 2); // 0.0.0.0/0 and ::/0
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SideExposure {
    /// Whether a NetworkPolicy isolates it in this direction.
    pub isolated: bool,
    /// Every policy selecting it for this direction (any kind), as
    /// [`PolicyRef`](crate::explain::PolicyRef) prints them.
    pub policies: Vec<String>,
    /// The outside addresses allowed, grouped by the ports allowed.
    pub outside: Vec<OutsideReach>,
    /// How many other pods it is reachable from (reaches), on some port.
    pub pods: usize,
    /// How many namespaces those pods are in.
    pub namespaces: usize,
    /// Whether every other pod of the cluster is among them (false when there is none).
    pub every_pod: bool,
    /// Whether every namespace holding a pod other than its own pods holds one of them.
    pub every_namespace: bool,
    /// The ports every other pod reaches it on (it reaches every other pod on).
    pub open_to_every_pod: Ports,
}

/// How exposed one workload is.
///
/// ```
/// # use netpol::analysis::exposure;
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::engine::Engine;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let report = exposure(&Engine::build(&cluster, &[]), &[]);
/// assert_eq!(report[0].workload, "x/a");
/// assert_eq!(report[0].pods, 1);
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WorkloadExposure {
    /// The workload, `namespace/name`.
    pub workload: String,
    /// How many pods it has.
    pub pods: usize,
    /// Who reaches it.
    pub ingress: SideExposure,
    /// Whom it reaches.
    pub egress: SideExposure,
}

/// The exposure of every workload of the cluster `engine` was built for (`policies` are
/// the ones it was built from), sorted by workload.
///
/// Outside addresses are every address, outside the cluster or not, taken as an outside
/// endpoint (no pod or node identity): the policies' own CIDRs cut the address space, and
/// one address per piece is decided on one port per port interval. A workload with
/// addresses of one family only is reported for that family.
///
/// ```
/// use netpol::analysis::exposure;
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::model::decode_policies;
/// use netpol::policy::Policy;
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("shop", "web").label("app", "web").ip("10.0.0.1".parse()?))
///     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.0.0.2".parse()?))
///     .build()?;
/// let policies: Vec<Policy> = decode_policies(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
///   "metadata": {"name": "web", "namespace": "shop"},
///   "spec": {"podSelector": {"matchLabels": {"app": "web"}},
///            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
///                         "ports": [{"port": 443}]}]}}"#)?
///     .iter().map(Policy::new).collect::<Result<_, _>>()?;
/// let report = exposure(&Engine::build(&cluster, &policies), &policies);
/// let web = report.iter().find(|w| w.workload == "shop/web").unwrap();
/// assert!(web.ingress.isolated && !web.ingress.every_pod);
/// let outside: Vec<String> = web.ingress.outside.iter().map(|r| r.to_string()).collect();
/// assert_eq!(outside, ["0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, 32.0.0.0/3, 64.0.0.0/2, 128.0.0.0/1: TCP 443"]);
/// let db = report.iter().find(|w| w.workload == "shop/db").unwrap();
/// assert!(!db.ingress.isolated && db.ingress.every_pod);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn exposure(engine: &Engine, policies: &(impl AsPolicySet + ?Sized)) -> Vec<WorkloadExposure> {
    let mut setup = Setup::new(engine, policies.as_policy_set());
    let pairs = setup.class_pairs();
    let cluster = engine.cluster();
    let classes = &setup.classes;
    let k = classes.len();
    let size = |c: u32| classes.data(c).map_or(0, |d| d.pods.len());
    let total_pods = cluster.pod_count();

    // Per class and direction: (pods, namespaces, sources seen, intersection of ports).
    struct Acc {
        pods: usize,
        namespaces: Vec<bool>,
        classes_seen: usize,
        pods_seen: usize,
        open: u32,
    }
    let new_acc = || Acc {
        pods: 0,
        namespaces: vec![false; cluster.namespace_count()],
        classes_seen: 0,
        pods_seen: 0,
        open: super::solve::ALL,
    };
    let mut acc: [Vec<Acc>; 2] = [
        (0..k).map(|_| new_acc()).collect(),
        (0..k).map(|_| new_acc()).collect(),
    ];
    for &(src, dst, ports) in &pairs {
        for (di, here, peer) in [(0usize, dst, src), (1usize, src, dst)] {
            let Some(a) = acc.get_mut(di).and_then(|v| v.get_mut(here as usize)) else {
                continue;
            };
            let n = if here == peer {
                size(peer).saturating_sub(1)
            } else {
                size(peer)
            };
            a.pods += n;
            if let Some(ns) = classes
                .data(peer)
                .and_then(|d| a.namespaces.get_mut(d.namespace.index()))
            {
                *ns = true;
            }
            a.classes_seen += 1;
            a.pods_seen += n;
            a.open = setup.table.meet(a.open, ports);
        }
    }
    // Namespaces holding a pod other than the pods of class `c`.
    let mut ns_pods = vec![0usize; cluster.namespace_count()];
    for (_, p) in cluster.pods() {
        if let Some(n) = ns_pods.get_mut(p.namespace.index()) {
            *n += 1;
        }
    }

    let mut class_out: Vec<[SideExposure; 2]> = Vec::with_capacity(k);
    for c in 0..k {
        let c32 = u32::try_from(c).unwrap_or(u32::MAX);
        let Some(data) = classes.data(c32) else {
            continue;
        };
        let own_v6 = data.family.unwrap_or(false);
        let others = total_pods.saturating_sub(1);
        let sides = [0usize, 1].map(|di| {
            let sel = setup.view.sel_of(c32, di, own_v6);
            let a = acc.get(di).and_then(|v| v.get(c));
            let pods = a.map_or(0, |a| a.pods);
            let every_pod = others > 0 && pods == others;
            // From one pod's point of view: every namespace holding another pod holds one
            // that reaches it (that it reaches).
            let every_namespace = others > 0
                && ns_pods.iter().enumerate().all(|(i, n)| {
                    let mine = usize::from(i == data.namespace.index());
                    n.saturating_sub(mine) == 0
                        || a.is_some_and(|a| a.namespaces.get(i) == Some(&true))
                });
            let open = match a {
                Some(a) if every_pod && a.pods_seen == others => setup.table.get(a.open).clone(),
                _ => Ports::none(),
            };
            SideExposure {
                isolated: sel.is_some_and(|s| s.isolated),
                policies: sel.map_or_else(Vec::new, |s| {
                    s.policies.iter().map(ToString::to_string).collect()
                }),
                outside: outside(&setup, c32, di),
                pods,
                namespaces: a.map_or(0, |a| a.namespaces.iter().filter(|x| **x).count()),
                every_pod,
                every_namespace,
                open_to_every_pod: open,
            }
        });
        class_out.push(sides);
    }
    let mut out = Vec::with_capacity(classes.workloads().len());
    for w in classes.workloads() {
        let Some([ingress, egress]) = class_out.get(w.class.index()).cloned() else {
            continue;
        };
        out.push(WorkloadExposure {
            workload: w.to_string(),
            pods: w.pod_ids.len(),
            ingress,
            egress,
        });
    }
    out
}

/// Outside addresses allowed to reach class `c` (`di` 0) or reached by it (`di` 1).
fn outside(setup: &Setup, c: u32, di: usize) -> Vec<OutsideReach> {
    let Some(data) = setup.classes.data(c) else {
        return Vec::new();
    };
    let Some(&pod) = data.pods.first() else {
        return Vec::new();
    };
    let families: Vec<bool> = match (data.addr[0].is_some(), data.addr[1].is_some()) {
        (true, false) => vec![false],
        (false, true) => vec![true],
        _ => vec![false, true],
    };
    let engine = &setup.view.engine;
    // Per ports: the address ranges, per family.
    // (family, first, last) address ranges.
    type Ranges = Vec<(bool, u128, u128)>;
    let mut by_ports: Vec<(Ports, Ranges)> = Vec::new();
    let mut index: HashMap<Ports, usize> = HashMap::new();
    for v6 in families {
        let sel = setup.view.sel_of(c, di, v6);
        let empty_breaks = Breaks::default();
        let breaks = sel.map_or(&empty_breaks, |s| &s.breaks);
        let bounds: &CidrBounds = match sel {
            Some(s) if !s.opaque => &s.cidrs,
            _ => &setup.view.all_cidrs,
        };
        let starts = bounds.0.get(usize::from(v6)).map_or(&[][..], Vec::as_slice);
        let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        let named: &[_] = if di == 0 { &data.named_ports } else { &[] };
        let mut last: Option<(usize, u128, u128)> = None;
        let mut lo = 0u128;
        let mut cuts = starts.iter().copied().filter(|s| *s > 0).peekable();
        loop {
            let hi = cuts.peek().map_or(max, |n| n - 1);
            let ip = to_ip(v6, lo);
            let here = Endpoint::Pod(pod);
            let there = Endpoint::External(ip);
            let ports = decide_ports(
                breaks,
                named,
                |port, proto| {
                    if di == 0 {
                        Flow::new(there, here, port, proto)
                    } else {
                        Flow::new(here, there, port, proto)
                    }
                },
                |f| engine.decide(f).is_allowed(),
            );
            if !ports.is_empty() {
                let next = by_ports.len();
                let at = *index.entry(ports.clone()).or_insert(next);
                if at == next {
                    by_ports.push((ports, Vec::new()));
                }
                match &mut last {
                    Some((i, _, end)) if *i == at && *end + 1 == lo => *end = hi,
                    _ => {
                        if let Some((i, a, b)) = last.take() {
                            if let Some(e) = by_ports.get_mut(i) {
                                e.1.push((v6, a, b));
                            }
                        }
                        last = Some((at, lo, hi));
                    }
                }
            }
            match cuts.next() {
                Some(n) => lo = n,
                None => break,
            }
        }
        if let Some((i, a, b)) = last {
            if let Some(e) = by_ports.get_mut(i) {
                e.1.push((v6, a, b));
            }
        }
    }
    by_ports
        .into_iter()
        .map(|(ports, ranges)| OutsideReach {
            cidrs: ranges
                .into_iter()
                .flat_map(|(v6, a, b)| range_cidrs(v6, a, b))
                .collect(),
            ports,
        })
        .collect()
}

fn to_ip(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap_or(u32::MAX)))
    }
}

/// The fewest CIDRs covering `lo..=hi` exactly.
fn range_cidrs(v6: bool, lo: u128, hi: u128) -> Vec<IpNet> {
    let width: u32 = if v6 { 128 } else { 32 };
    let mut out = Vec::new();
    let mut lo = lo;
    loop {
        // The largest aligned block starting at `lo` that stays within `hi`.
        let mut size_bits = if lo == 0 {
            width
        } else {
            lo.trailing_zeros().min(width)
        };
        while size_bits > 0 {
            let last = if size_bits >= 128 {
                u128::MAX
            } else {
                lo | ((1u128 << size_bits) - 1)
            };
            if last <= hi {
                break;
            }
            size_bits -= 1;
        }
        let prefix = u8::try_from(width - size_bits).unwrap_or(0);
        let net = if v6 {
            Ipv6Net::new(Ipv6Addr::from(lo), prefix).map(IpNet::V6)
        } else {
            Ipv4Net::new(Ipv4Addr::from(u32::try_from(lo).unwrap_or(0)), prefix).map(IpNet::V4)
        };
        if let Ok(n) = net {
            out.push(n);
        }
        let last = if size_bits >= 128 {
            u128::MAX
        } else {
            lo | ((1u128 << size_bits) - 1)
        };
        if last >= hi {
            break;
        }
        lo = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_the_fewest_cidrs() {
        let show = |v: Vec<IpNet>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            show(range_cidrs(false, 0, u128::from(u32::MAX))),
            ["0.0.0.0/0"]
        );
        assert_eq!(show(range_cidrs(true, 0, u128::MAX)), ["::/0"]);
        assert_eq!(
            show(range_cidrs(false, 10, 20)),
            ["0.0.0.10/31", "0.0.0.12/30", "0.0.0.16/30", "0.0.0.20/32"]
        );
        assert_eq!(show(range_cidrs(false, 5, 5)), ["0.0.0.5/32"]);
    }
}
