//! Analyses over a whole cluster: the connectivity map, semantic diffs, the impact of one
//! change, and exposure.
//!
//! Every analysis is computed over equivalence classes, never by probing each pod pair
//! and port: pods no policy can tell apart share a class ([`PodClasses`]), ports no rule
//! can tell apart share an interval ([`PortClasses`]), and for each side of a flow the
//! engine is asked once per group of peers its policies cannot tell apart and once per
//! port interval ([`Engine::decide_direction`](crate::engine::Engine::decide_direction)).
//! Results are exact: property tests hold them equal to deciding every (pod pair, port,
//! protocol) with [`Engine::decide`](crate::engine::Engine::decide).
//!
//! - [`ConnectivityMap`]: the allowed connections between workloads, as port sets per
//!   protocol (`TCP 80, 8080-8090; UDP 53`), printable as text, CSV, Markdown, Graphviz
//!   DOT and JSON.
//! - [`SemanticDiff`]: what two policy sets on one cluster allow differently, grouped by
//!   workloads and port sets, with the changed policies responsible on each side; an
//!   equivalence check; every changed flow one by one for scripts ([`FlatChange`]).
//! - [`impact`]: the flows one new, changed or deleted policy object adds and removes
//!   ([`impact_live`] with a [`LiveEngine`](crate::engine::live::LiveEngine), updated
//!   incrementally where it can be).
//! - [`exposure`]: per workload and direction, whether it is isolated, which outside
//!   addresses reach it (or it reaches), and whether every pod and namespace does.
//! - [`lint`]: a catalogue of checks with stable codes (selectors that match nothing,
//!   redundant and shadowed rules, ports nobody declares, pods without DNS, what the
//!   plugin ignores, ...).
//!
//! Flows between pods are analysed (a pod reaching itself is left out of the map and
//! covered by the diff); outside addresses by [`exposure`] and
//! [`SemanticDiff::flows`]. Flows carrying a domain name (ClusterNetworkPolicy
//! `domainNames`) and flows through Services are not.
//!
//! ```
//! use netpol::analysis::{ConnectivityMap, SemanticDiff};
//! use netpol::cluster::{Cluster, PodSpec};
//! use netpol::engine::Engine;
//! use netpol::model::decode_policies;
//! use netpol::policy::Policy;
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "web").label("app", "web").ip("10.0.0.1".parse()?))
//!     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.0.0.2".parse()?))
//!     .build()?;
//! let parse = |text: &str| -> Vec<Policy> {
//!     decode_policies(text).unwrap().iter().map(|p| Policy::new(p).unwrap()).collect()
//! };
//! let before = parse(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
//!   "metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
//!            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
//!                         "ports": [{"port": 5432}]}]}}"#);
//! let map = ConnectivityMap::new(&Engine::build(&cluster, &before), &before);
//! assert_eq!(map.to_text(), "shop/db -> shop/web: all\nshop/web -> shop/db: TCP 5432\n");
//!
//! let after: Vec<Policy> = Vec::new(); // the policy deleted
//! let diff = SemanticDiff::new(&Engine::build(&cluster, &before), &before,
//!                              &Engine::build(&cluster, &after), &after)?;
//! assert!(!diff.is_equivalent());
//! assert_eq!(diff.to_text(), "+ shop/web -> shop/db: TCP 1-5431, 5433-65535; UDP all; SCTP all\n    before: shop/db\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod lint;

mod classes;
mod diff;
mod exposure;
mod impact;
mod map;
mod ports;
mod solve;

pub use classes::{ClassId, PodClasses, Workload, WorkloadId, workload_name};
pub use diff::{DiffEntry, DiffSummary, FlatChange, FlatEndpoint, SemanticDiff};
pub use exposure::{OutsideReach, SideExposure, WorkloadExposure, exposure};
pub use impact::{Change, PolicyItem, impact, impact_live};
pub use map::{Connection, ConnectivityMap};
pub use ports::{PortClasses, PortRanges, Ports, PortsError};

use crate::engine::Engine;
use crate::policy::PolicySetRef;

/// Why an analysis cannot be computed.
///
/// ```
/// use netpol::analysis::{AnalysisError, SemanticDiff};
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// let a = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let b = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let err = SemanticDiff::new(&Engine::build(&a, &[]), &[], &Engine::build(&b, &[]), &[]).unwrap_err();
/// assert_eq!(err, AnalysisError::ClusterMismatch);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// The two engines were built for different clusters (build both from one
    /// [`Cluster`](crate::cluster::Cluster) value, or clones of it).
    #[error("the two engines were built for different clusters")]
    ClusterMismatch,
    /// The two engines were built with different profiles.
    #[error("the two engines were built with different profiles: \"{before}\" and \"{after}\"")]
    ProfileMismatch {
        /// The first engine's profile name.
        before: String,
        /// The second engine's profile name.
        after: String,
    },
    /// A deletion names an object the policies do not hold.
    #[error("no {kind} \"{name}\" to delete")]
    NotFound {
        /// The kind, as `kubectl` writes it.
        kind: String,
        /// `namespace/name`, or `name` for a cluster-scoped kind.
        name: String,
    },
    /// The live engine refused the change.
    #[error("the live engine refused the change")]
    Update(#[source] crate::engine::live::UpdateError),
}

/// What every analysis of one policy set builds first.
struct Setup {
    classes: PodClasses,
    preds: solve::Preds,
    view: solve::View,
    table: solve::PortsTable,
    solver: solve::Solver,
}

impl Setup {
    fn new(engine: &Engine, set: PolicySetRef<'_>) -> Self {
        let classes = PodClasses::new(engine.cluster(), &[set]);
        let mut preds = solve::Preds::default();
        let view = solve::View::new(engine, set, &classes, &mut preds);
        let solver = solve::Solver::new(&classes);
        Setup {
            classes,
            preds,
            view,
            table: solve::PortsTable::new(),
            solver,
        }
    }

    /// Every pair of classes (source, destination) holding two different pods with what
    /// both sides allow, when that is not nothing.
    fn class_pairs(&mut self) -> Vec<(u32, u32, u32)> {
        let n = u32::try_from(self.classes.len()).unwrap_or(u32::MAX);
        let mut out = Vec::new();
        // Sources outside, so that the list comes out sorted.
        for src in 0..n {
            for dst in 0..n {
                let Some(answer) = self.solver.pair(
                    &self.view,
                    &self.classes,
                    &self.preds,
                    &mut self.table,
                    src,
                    dst,
                ) else {
                    continue;
                };
                if answer.both != solve::EMPTY {
                    out.push((src, dst, answer.both));
                }
            }
        }
        out
    }
}
