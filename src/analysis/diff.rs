//! Semantic diff of two policy sets on one cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ahash::{AHashMap as HashMap, AHashSet as HashSet};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::cluster::{Endpoint, Flow, PodId};
use crate::engine::Engine;
use crate::explain::{PolicyRef, Verdict};
use crate::policy::{AsPolicySet, PolicyKind, PolicySetRef, Protocol};

use super::AnalysisError;
use super::classes::{ClassId, PodClasses, WorkloadId};
use super::ports::{Breaks, Ports};
use super::solve::{EMPTY, NONE, PortsTable, Preds, Solver, View, decide_ports, pair_v6};

/// A group of changed connections: from every workload of `from` to every workload of
/// `to`, the ports that were allowed and are now denied (`removed`) and those that were
/// denied and are now allowed (`added`), with the changed policies that select the side
/// whose answer changed, in each policy set.
///
/// ```
/// # use netpol::analysis::SemanticDiff;
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::engine::Engine;
/// # use netpol::model::NetworkPolicy;
/// # use netpol::policy::Policy;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
/// let deny = vec![Policy::new(&NetworkPolicy::new("x", "deny"))?];
/// let none: Vec<Policy> = Vec::new();
/// let diff = SemanticDiff::new(&Engine::build(&cluster, &none), &none, &Engine::build(&cluster, &deny), &deny)?;
/// let e = &diff.entries()[0];
/// assert!(e.removed.is_all() && e.added.is_empty());
/// assert_eq!(e.after[0].to_string(), "x/deny");
/// assert!(e.before.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffEntry {
    /// The source workloads.
    pub from: Vec<WorkloadId>,
    /// The destination workloads (equal to `from` when `to_itself`).
    pub to: Vec<WorkloadId>,
    /// Whether these are flows from each pod of `from` to itself.
    pub to_itself: bool,
    /// Allowed before, denied after.
    pub removed: Ports,
    /// Denied before, allowed after.
    pub added: Ports,
    /// The changed policies of the first set selecting the side whose answer changed.
    pub before: Vec<PolicyRef>,
    /// The changed policies of the second set selecting the side whose answer changed.
    pub after: Vec<PolicyRef>,
}

/// Counts of a [`SemanticDiff`].
///
/// ```
/// # use netpol::analysis::SemanticDiff;
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::engine::Engine;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let engine = Engine::build(&cluster, &[]);
/// let s = SemanticDiff::new(&engine, &[], &engine, &[])?.summary();
/// assert_eq!((s.entries, s.removed_flows, s.added_flows), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DiffSummary {
    /// How many entries.
    pub entries: usize,
    /// How many (source pod, destination pod, port, protocol) flows were allowed and
    /// are now denied.
    pub removed_flows: u64,
    /// How many were denied and are now allowed.
    pub added_flows: u64,
}

/// One side of a [`FlatChange`]: a pod, written `namespace/name`, or an address.
///
/// ```
/// use netpol::analysis::FlatEndpoint;
/// let pod = FlatEndpoint::Pod("x/a".into());
/// let ip = FlatEndpoint::Ip { ip: "203.0.113.7".parse().unwrap() };
/// assert_eq!(serde_json::to_string(&pod).unwrap(), r#""x/a""#);
/// assert_eq!(serde_json::to_string(&ip).unwrap(), r#"{"ip":"203.0.113.7"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum FlatEndpoint {
    /// A pod, `namespace/name`.
    Pod(String),
    /// An outside address.
    Ip {
        /// The address.
        ip: IpAddr,
    },
}

impl fmt::Display for FlatEndpoint {
    /// `namespace/name` or the address, for people: not parsed back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlatEndpoint::Pod(p) => f.write_str(p),
            FlatEndpoint::Ip { ip } => write!(f, "{ip}"),
        }
    }
}

/// One flow whose verdict changed.
///
/// ```
/// use netpol::analysis::{FlatChange, FlatEndpoint};
/// use netpol::explain::Verdict;
/// use netpol::policy::Protocol;
/// let c = FlatChange {
///     from: FlatEndpoint::Pod("x/a".into()), to: FlatEndpoint::Pod("x/b".into()),
///     port: 80, protocol: Protocol::Tcp, before: Verdict::Allow, after: Verdict::Deny,
/// };
/// assert_eq!(serde_json::to_string(&c).unwrap(),
///     r#"{"from":"x/a","to":"x/b","port":80,"protocol":"TCP","before":"allow","after":"deny"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FlatChange {
    /// The source.
    pub from: FlatEndpoint,
    /// The destination.
    pub to: FlatEndpoint,
    /// The destination port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The verdict with the first policy set.
    pub before: Verdict,
    /// The verdict with the second policy set.
    pub after: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ClassChange {
    src: u32,
    dst: u32,
    removed: u32,
    added: u32,
    why: u32,
}

/// What two policy sets allow differently on one cluster: every flow between pods that
/// one allows and the other denies, grouped by workloads and port sets, with the
/// policies responsible on each side (see the [module documentation](super) for how it
/// is computed: over classes of pods and ports, only where a changed policy selects a
/// side).
///
/// A policy counts as changed when the other set holds no equal object of the same kind,
/// namespace and name (a change of a Calico Tier or network set changes every Calico
/// policy).
///
/// ```
/// use netpol::analysis::SemanticDiff;
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::model::decode_policies;
/// use netpol::policy::{Policy, Protocol};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("shop", "web").label("app", "web"))
///     .pod(PodSpec::new("shop", "db").label("app", "db"))
///     .build()?;
/// let parse = |port: u16| -> Vec<Policy> {
///     decode_policies(&format!(r#"{{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
///       "metadata": {{"name": "db", "namespace": "shop"}},
///       "spec": {{"podSelector": {{"matchLabels": {{"app": "db"}}}},
///                "ingress": [{{"ports": [{{"port": {port}}}]}}]}}}}"#)).unwrap()
///         .iter().map(|p| Policy::new(p).unwrap()).collect()
/// };
/// let (before, after) = (parse(5432), parse(5433));
/// let diff = SemanticDiff::new(&Engine::build(&cluster, &before), &before,
///                              &Engine::build(&cluster, &after), &after)?;
/// assert_eq!(diff.to_text(), "\
/// - shop/web -> shop/db: TCP 5432
/// + shop/web -> shop/db: TCP 5433
///     before: shop/db
///     after: shop/db
/// ");
/// let flat = diff.flows(&[(5432, Protocol::Tcp), (80, Protocol::Tcp)], &[]);
/// assert_eq!(flat.len(), 1);
/// assert_eq!(serde_json::to_string(&flat[0])?,
///     r#"{"from":"shop/web","to":"shop/db","port":5432,"protocol":"TCP","before":"allow","after":"deny"}"#);
/// assert_eq!(diff.summary().removed_flows, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SemanticDiff {
    classes: PodClasses,
    ports: Vec<Ports>,
    changes: Vec<ClassChange>,
    self_changes: Vec<ClassChange>,
    entries: Vec<DiffEntry>,
    before: Engine,
    after: Engine,
}

/// Which policies of each set are changed: by (kind, index).
type Changed = [HashSet<(PolicyKind, usize)>; 2];

/// Marks the objects of two lists with no equal object of the same key on the other side.
fn compare<T: PartialEq>(
    a: &[T],
    b: &[T],
    key: impl Fn(&T) -> String,
    mut mark: impl FnMut(usize, usize),
) -> bool {
    let mut keys: BTreeMap<String, [Vec<usize>; 2]> = BTreeMap::new();
    for (i, x) in a.iter().enumerate() {
        keys.entry(key(x)).or_default()[0].push(i);
    }
    for (i, x) in b.iter().enumerate() {
        keys.entry(key(x)).or_default()[1].push(i);
    }
    let mut any = false;
    for [la, lb] in keys.values() {
        let same = match (la.as_slice(), lb.as_slice()) {
            ([i], [j]) => a.get(*i).is_some_and(|x| b.get(*j) == Some(x)),
            _ => false,
        };
        if !same {
            any = true;
            for i in la {
                mark(0, *i);
            }
            for j in lb {
                mark(1, *j);
            }
        }
    }
    any
}

fn calico_kind(p: &crate::calico::CalicoPolicy) -> PolicyKind {
    match p.kind() {
        crate::calico::CalicoPolicyKind::Namespaced => PolicyKind::CalicoNetworkPolicy,
        _ => PolicyKind::GlobalNetworkPolicy,
    }
}

fn changed_policies(a: PolicySetRef<'_>, b: PolicySetRef<'_>, felix: bool) -> Changed {
    let mut out: Changed = [HashSet::new(), HashSet::new()];
    let sets = [a, b];
    compare(
        a.network_policies(),
        b.network_policies(),
        crate::policy::Policy::key,
        |s, i| {
            if let Some(set) = out.get_mut(s) {
                set.insert((PolicyKind::NetworkPolicy, i));
            }
        },
    );
    compare(
        a.cluster_policies(),
        b.cluster_policies(),
        |p| p.name().to_owned(),
        |s, i| {
            if let Some(set) = out.get_mut(s) {
                set.insert((PolicyKind::ClusterNetworkPolicy, i));
            }
        },
    );
    let calico_of = |s: usize, i: usize| {
        sets.get(s)
            .and_then(|set| set.calico_policies().get(i))
            .map(calico_kind)
    };
    let mut calico_marks = Vec::new();
    compare(
        a.calico_policies(),
        b.calico_policies(),
        |p| format!("{:?}/{}", p.kind(), p.key()),
        |s, i| calico_marks.push((s, i)),
    );
    let sets_changed = compare(a.network_sets(), b.network_sets(), |s| s.key(), |_, _| {});
    let tiers_changed = compare(a.tiers(), b.tiers(), |t| t.name().to_owned(), |_, _| {});
    if sets_changed || tiers_changed {
        for (s, set) in sets.iter().enumerate() {
            for i in 0..set.calico_policies().len() {
                calico_marks.push((s, i));
            }
        }
    }
    if tiers_changed && felix {
        // Felix orders every kind through the tiers.
        for (s, set) in sets.iter().enumerate() {
            if let Some(o) = out.get_mut(s) {
                o.extend((0..set.network_policies().len()).map(|i| (PolicyKind::NetworkPolicy, i)));
                o.extend(
                    (0..set.cluster_policies().len())
                        .map(|i| (PolicyKind::ClusterNetworkPolicy, i)),
                );
            }
        }
    }
    for (s, i) in calico_marks {
        if let (Some(kind), Some(o)) = (calico_of(s, i), out.get_mut(s)) {
            o.insert((kind, i));
        }
    }
    out
}

/// Which classes have a changed policy selecting them, per direction, in either view.
fn affected(views: &[&View; 2], classes: &PodClasses, di: usize) -> Vec<bool> {
    (0..classes.len())
        .map(|c| {
            let c = u32::try_from(c).unwrap_or(NONE);
            views.iter().any(|v| {
                [false, true]
                    .into_iter()
                    .any(|f| v.sel_of(c, di, f).is_some_and(|s| s.changed))
            })
        })
        .collect()
}

impl SemanticDiff {
    /// What `after` (built from `after_policies`) allows differently from `before`
    /// (built from `before_policies`). Both engines must be built from the same
    /// [`Cluster`](crate::cluster::Cluster) value (or clones of it) with the same
    /// profile.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
    /// let engine = Engine::build(&cluster, &[]);
    /// assert!(SemanticDiff::new(&engine, &[], &engine, &[])?.is_equivalent());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        before: &Engine,
        before_policies: &(impl AsPolicySet + ?Sized),
        after: &Engine,
        after_policies: &(impl AsPolicySet + ?Sized),
    ) -> Result<Self, AnalysisError> {
        if before.cluster().lineages() != after.cluster().lineages() {
            return Err(AnalysisError::ClusterMismatch);
        }
        if before.profile() != after.profile() {
            return Err(AnalysisError::ProfileMismatch {
                before: before.profile().name().to_owned(),
                after: after.profile().name().to_owned(),
            });
        }
        let (a, b) = (
            before_policies.as_policy_set(),
            after_policies.as_policy_set(),
        );
        let classes = PodClasses::new(before.cluster(), &[a, b]);
        let mut preds = Preds::default();
        let mut va = View::new(before, a, &classes, &mut preds);
        let mut vb = View::new(after, b, &classes, &mut preds);
        let changed = changed_policies(a, b, before.profile().enforces_calico_policy());
        for (v, set) in [(&mut va, &changed[0]), (&mut vb, &changed[1])] {
            for s in &mut v.sels {
                s.changed = s.policies.iter().any(|p| set.contains(&(p.kind, p.index)));
            }
        }
        let views = [&va, &vb];
        let egress = affected(&views, &classes, 1);
        let ingress = affected(&views, &classes, 0);

        let mut table = PortsTable::new();
        let mut sa = Solver::new(&classes);
        let mut sb = Solver::new(&classes);
        let mut why_index: HashMap<(Vec<PolicyRef>, Vec<PolicyRef>), u32> = HashMap::new();
        let mut whys: Vec<(Vec<PolicyRef>, Vec<PolicyRef>)> = Vec::new();
        let mut intern_why = |w: (Vec<PolicyRef>, Vec<PolicyRef>)| -> u32 {
            if let Some(id) = why_index.get(&w) {
                return *id;
            }
            let id = u32::try_from(whys.len()).unwrap_or(NONE);
            why_index.insert(w.clone(), id);
            whys.push(w);
            id
        };
        let changed_of =
            |side: usize, class: u32, di: usize, v6: bool, out: &mut Vec<PolicyRef>| {
                let (Some(v), Some(set)) = (views.get(side), changed.get(side)) else {
                    return;
                };
                if let Some(s) = v.sel_of(class, di, v6) {
                    for p in &s.policies {
                        if set.contains(&(p.kind, p.index)) && !out.contains(p) {
                            out.push(p.clone());
                        }
                    }
                }
            };

        let n = u32::try_from(classes.len()).unwrap_or(NONE);
        let mut changes = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for src in 0..n {
            let src_changed = egress.get(src as usize).copied().unwrap_or(false);
            for dst in 0..n {
                if src_changed || ingress.get(dst as usize).copied().unwrap_or(false) {
                    pairs.push((src, dst));
                }
            }
        }
        for (src, dst) in pairs {
            let (Some(pa), Some(pb)) = (
                sa.pair(&va, &classes, &preds, &mut table, src, dst),
                sb.pair(&vb, &classes, &preds, &mut table, src, dst),
            ) else {
                continue;
            };
            if pa.both == pb.both {
                continue;
            }
            let (x, y) = (table.get(pa.both).clone(), table.get(pb.both).clone());
            let removed = table.intern(x.difference(&y));
            let added = table.intern(y.difference(&x));
            let ea = if pa.egress == NONE {
                sa.side(&va, &classes, &preds, &mut table, 1, src, dst)
                    .unwrap_or(EMPTY)
            } else {
                pa.egress
            };
            let eb = if pb.egress == NONE {
                sb.side(&vb, &classes, &preds, &mut table, 1, src, dst)
                    .unwrap_or(EMPTY)
            } else {
                pb.egress
            };
            let (Some(cs), Some(cd)) = (classes.data(src), classes.data(dst)) else {
                continue;
            };
            let v6 = pair_v6(cs, cd);
            let mut before_why = Vec::new();
            let mut after_why = Vec::new();
            if ea != eb {
                changed_of(0, src, 1, v6, &mut before_why);
                changed_of(1, src, 1, v6, &mut after_why);
            }
            if pa.ingress != pb.ingress {
                changed_of(0, dst, 0, v6, &mut before_why);
                changed_of(1, dst, 0, v6, &mut after_why);
            }
            let why = intern_why((before_why, after_why));
            changes.push(ClassChange {
                src,
                dst,
                removed,
                added,
                why,
            });
        }

        // Each pod to itself.
        let mut self_changes = Vec::new();
        for c in 0..n {
            let touched = egress.get(c as usize).copied().unwrap_or(false)
                || ingress.get(c as usize).copied().unwrap_or(false);
            let Some(data) = classes.data(c).filter(|_| touched) else {
                continue;
            };
            let Some(&pod) = data.pods.first() else {
                continue;
            };
            let v6 = data.family.unwrap_or(false);
            let mut breaks = Breaks::default();
            for v in [&va, &vb] {
                for di in [0, 1] {
                    if let Some(s) = v.sel_of(c, di, v6) {
                        breaks.extend(&s.breaks);
                    }
                }
            }
            breaks.finish();
            let flow = |port, proto| Flow::new(Endpoint::Pod(pod), Endpoint::Pod(pod), port, proto);
            let x = decide_ports(&breaks, &data.named_ports, flow, |f| {
                before.decide(f).is_allowed()
            });
            let y = decide_ports(&breaks, &data.named_ports, flow, |f| {
                after.decide(f).is_allowed()
            });
            if x == y {
                continue;
            }
            let removed = table.intern(x.difference(&y));
            let added = table.intern(y.difference(&x));
            let mut before_why = Vec::new();
            let mut after_why = Vec::new();
            for di in [1, 0] {
                changed_of(0, c, di, v6, &mut before_why);
                changed_of(1, c, di, v6, &mut after_why);
            }
            let why = intern_why((before_why, after_why));
            self_changes.push(ClassChange {
                src: c,
                dst: c,
                removed,
                added,
                why,
            });
        }
        let ports = table.into_list();
        let entries = group(&classes, &ports, &whys, &changes, &self_changes);
        Ok(SemanticDiff {
            classes,
            ports,
            changes,
            self_changes,
            entries,
            before: before.clone(),
            after: after.clone(),
        })
    }

    /// Whether both sets allow exactly the same flows between pods.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::Policy;
    /// // A deny-all in a namespace without pods changes nothing.
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
    /// let deny = vec![Policy::new(&NetworkPolicy::new("elsewhere", "deny"))?];
    /// let none: Vec<Policy> = Vec::new();
    /// let diff = SemanticDiff::new(&Engine::build(&cluster, &none), &none, &Engine::build(&cluster, &deny), &deny)?;
    /// assert!(diff.is_equivalent());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_equivalent(&self) -> bool {
        self.changes.is_empty() && self.self_changes.is_empty()
    }

    /// The changes, grouped: connections with the same change and the same responsible
    /// policies are gathered into one entry from several sources to several destinations.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
    /// let engine = Engine::build(&cluster, &[]);
    /// assert!(SemanticDiff::new(&engine, &[], &engine, &[])?.entries().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entries(&self) -> &[DiffEntry] {
        &self.entries
    }

    /// The classes and workloads of the pods.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
    /// let engine = Engine::build(&cluster, &[]);
    /// assert_eq!(SemanticDiff::new(&engine, &[], &engine, &[])?.classes().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn classes(&self) -> &PodClasses {
        &self.classes
    }

    fn port_set(&self, id: u32) -> &Ports {
        static NONE_PORTS: std::sync::OnceLock<Ports> = std::sync::OnceLock::new();
        self.ports
            .get(id as usize)
            .unwrap_or_else(|| NONE_PORTS.get_or_init(Ports::none))
    }

    /// The change from pod `from` to pod `to` (the same pod: to itself): the ports
    /// allowed before and denied after, and the reverse; `None` when nothing changed.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::Policy;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("y", "b")).build()?;
    /// let deny = vec![Policy::new(&NetworkPolicy::new("y", "deny"))?];
    /// let none: Vec<Policy> = Vec::new();
    /// let diff = SemanticDiff::new(&Engine::build(&cluster, &none), &none, &Engine::build(&cluster, &deny), &deny)?;
    /// let (a, b) = (cluster.pod_id("x", "a").unwrap(), cluster.pod_id("y", "b").unwrap());
    /// assert!(diff.change(a, b).unwrap().0.is_all());
    /// assert!(diff.change(b, a).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn change(&self, from: PodId, to: PodId) -> Option<(&Ports, &Ports)> {
        let a = self.classes.class_of(from)?.0;
        let b = self.classes.class_of(to)?.0;
        let list = if from == to {
            &self.self_changes
        } else {
            &self.changes
        };
        let i = list
            .binary_search_by(|c| (c.src, c.dst).cmp(&(a, b)))
            .ok()?;
        let c = list.get(i)?;
        Some((self.port_set(c.removed), self.port_set(c.added)))
    }

    /// Counts of entries and of changed flows.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::Policy;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
    /// let deny = vec![Policy::new(&NetworkPolicy::new("x", "deny"))?];
    /// let none: Vec<Policy> = Vec::new();
    /// let diff = SemanticDiff::new(&Engine::build(&cluster, &none), &none, &Engine::build(&cluster, &deny), &deny)?;
    /// // a to b and b to a, every port of three protocols.
    /// assert_eq!(diff.summary().removed_flows, 2 * 3 * 65535);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn summary(&self) -> DiffSummary {
        let count = |p: &Ports| -> u64 { p.iter().map(|(_, r)| u64::from(r.count())).sum::<u64>() };
        let size = |c: u32| self.classes.pods(ClassId(c)).len() as u64;
        let mut s = DiffSummary {
            entries: self.entries.len(),
            ..DiffSummary::default()
        };
        for c in &self.changes {
            let pairs = if c.src == c.dst {
                size(c.src) * size(c.src).saturating_sub(1)
            } else {
                size(c.src) * size(c.dst)
            };
            s.removed_flows += pairs * count(self.port_set(c.removed));
            s.added_flows += pairs * count(self.port_set(c.added));
        }
        for c in &self.self_changes {
            s.removed_flows += size(c.src) * count(self.port_set(c.removed));
            s.added_flows += size(c.src) * count(self.port_set(c.added));
        }
        s
    }

    /// Every changed flow on the given ports, one by one: between pods (a pod to itself
    /// included), and between pods and the given outside addresses, both ways. Sorted
    /// by source, destination, then the order of `ports`.
    ///
    /// ```
    /// # use netpol::analysis::{FlatEndpoint, SemanticDiff};
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::{Policy, Protocol};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a").ip("10.0.0.1".parse()?)).build()?;
    /// let deny = vec![Policy::new(&NetworkPolicy::new("x", "deny"))?];
    /// let none: Vec<Policy> = Vec::new();
    /// let diff = SemanticDiff::new(&Engine::build(&cluster, &none), &none, &Engine::build(&cluster, &deny), &deny)?;
    /// let flat = diff.flows(&[(80, Protocol::Tcp)], &["203.0.113.7".parse()?]);
    /// assert_eq!(flat.len(), 1); // the address to the pod; the pod's egress is not isolated
    /// assert_eq!(flat[0].from, FlatEndpoint::Ip { ip: "203.0.113.7".parse()? });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn flows(&self, ports: &[(u16, Protocol)], ips: &[IpAddr]) -> Vec<FlatChange> {
        let cluster = self.before.cluster();
        let pod_name = |p: PodId| FlatEndpoint::Pod(cluster.describe(Endpoint::Pod(p)));
        let verdicts = |allowed_before: bool| {
            if allowed_before {
                (Verdict::Allow, Verdict::Deny)
            } else {
                (Verdict::Deny, Verdict::Allow)
            }
        };
        let mut out: Vec<(usize, FlatChange)> = Vec::new();
        for (list, itself) in [(&self.changes, false), (&self.self_changes, true)] {
            for c in list {
                let (removed, added) = (self.port_set(c.removed), self.port_set(c.added));
                for (k, (port, proto)) in ports.iter().enumerate() {
                    let change = if removed.contains(*proto, *port) {
                        verdicts(true)
                    } else if added.contains(*proto, *port) {
                        verdicts(false)
                    } else {
                        continue;
                    };
                    for &p in self.classes.pods(ClassId(c.src)) {
                        let targets: &[PodId] = if itself {
                            std::slice::from_ref(&p)
                        } else {
                            self.classes.pods(ClassId(c.dst))
                        };
                        for &q in targets {
                            if !itself && p == q {
                                continue;
                            }
                            out.push((
                                k,
                                FlatChange {
                                    from: pod_name(p),
                                    to: pod_name(q),
                                    port: *port,
                                    protocol: *proto,
                                    before: change.0,
                                    after: change.1,
                                },
                            ));
                        }
                    }
                }
            }
        }
        for ip in ips {
            let outside = Endpoint::External(*ip);
            for class in self.classes.ids() {
                let pods = self.classes.pods(class);
                let Some(&rep) = pods.first() else {
                    continue;
                };
                for inbound in [true, false] {
                    for (k, (port, proto)) in ports.iter().enumerate() {
                        let flow = if inbound {
                            Flow::new(outside, Endpoint::Pod(rep), *port, *proto)
                        } else {
                            Flow::new(Endpoint::Pod(rep), outside, *port, *proto)
                        };
                        let was = self.before.decide(flow).is_allowed();
                        if was == self.after.decide(flow).is_allowed() {
                            continue;
                        }
                        let (before, after) = verdicts(was);
                        for &p in pods {
                            let (from, to) = if inbound {
                                (FlatEndpoint::Ip { ip: *ip }, pod_name(p))
                            } else {
                                (pod_name(p), FlatEndpoint::Ip { ip: *ip })
                            };
                            out.push((
                                k,
                                FlatChange {
                                    from,
                                    to,
                                    port: *port,
                                    protocol: *proto,
                                    before,
                                    after,
                                },
                            ));
                        }
                    }
                }
            }
        }
        out.sort_by(|(i, a), (j, b)| (&a.from, &a.to, i).cmp(&(&b.from, &b.to, j)));
        out.into_iter().map(|(_, c)| c).collect()
    }

    /// A workload's name, `namespace/name`.
    fn name(&self, id: WorkloadId) -> String {
        self.classes
            .workload(id)
            .map_or_else(String::new, ToString::to_string)
    }

    /// A list of workloads, shortened: `ns/*` for every workload of a namespace,
    /// `every workload` for all of them; at most `max` items, then how many more.
    fn names(&self, ids: &[WorkloadId], max: usize) -> String {
        let all = self.classes.workloads().len();
        if ids.len() == all && all > 1 {
            return "every workload".to_owned();
        }
        let mut per_ns: BTreeMap<&str, Vec<WorkloadId>> = BTreeMap::new();
        for id in ids {
            if let Some(w) = self.classes.workload(*id) {
                per_ns.entry(w.namespace.as_str()).or_default().push(*id);
            }
        }
        let mut ns_total: HashMap<&str, usize> = HashMap::new();
        for w in self.classes.workloads() {
            *ns_total.entry(w.namespace.as_str()).or_insert(0) += 1;
        }
        let mut items: Vec<String> = Vec::new();
        for (ns, list) in &per_ns {
            if list.len() > 1 && ns_total.get(ns).copied() == Some(list.len()) {
                items.push(format!("{ns}/*"));
            } else {
                items.extend(list.iter().map(|id| self.name(*id)));
            }
        }
        if items.len() > max {
            let more = items.len() - max;
            items.truncate(max);
            items.push(format!("and {more} more"));
        }
        items.join(", ")
    }

    /// The diff as text: per entry, a line `- FROM -> TO: PORTS` for what is now denied
    /// and `+ FROM -> TO: PORTS` for what is now allowed, then the changed policies
    /// selecting the side that changed, in each set (`before:`, `after:`). Long lists of
    /// workloads are shortened (`ns/*`, `every workload`, `and N more`); JSON has them
    /// all.
    ///
    /// ```
    /// # use netpol::analysis::SemanticDiff;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
    /// let engine = Engine::build(&cluster, &[]);
    /// assert_eq!(SemanticDiff::new(&engine, &[], &engine, &[])?.to_text(), "");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SemanticDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            let from = self.names(&e.from, 8);
            let to = if e.to_itself {
                "itself".to_owned()
            } else {
                self.names(&e.to, 8)
            };
            if !e.removed.is_empty() {
                writeln!(f, "- {from} -> {to}: {}", e.removed)?;
            }
            if !e.added.is_empty() {
                writeln!(f, "+ {from} -> {to}: {}", e.added)?;
            }
            let list = |l: &[PolicyRef]| {
                l.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !e.before.is_empty() {
                writeln!(f, "    before: {}", list(&e.before))?;
            }
            if !e.after.is_empty() {
                writeln!(f, "    after: {}", list(&e.after))?;
            }
        }
        Ok(())
    }
}

/// Groups class changes into entries: per destination workload the sources with the same
/// change, then per source list the destinations.
fn group(
    classes: &PodClasses,
    ports: &[Ports],
    whys: &[(Vec<PolicyRef>, Vec<PolicyRef>)],
    changes: &[ClassChange],
    self_changes: &[ClassChange],
) -> Vec<DiffEntry> {
    type Key = (u32, u32, u32);
    let mut by_dst: BTreeMap<(WorkloadId, Key), Vec<WorkloadId>> = BTreeMap::new();
    for c in changes {
        let key = (c.removed, c.added, c.why);
        for &to in classes.workloads_of(ClassId(c.dst)) {
            for &from in classes.workloads_of(ClassId(c.src)) {
                if from == to && classes.workload(from).is_none_or(|w| w.pod_ids.len() < 2) {
                    continue;
                }
                by_dst.entry((to, key)).or_default().push(from);
            }
        }
    }
    let mut by_src: BTreeMap<(Vec<WorkloadId>, Key), Vec<WorkloadId>> = BTreeMap::new();
    for ((to, key), mut from) in by_dst {
        from.sort_unstable();
        by_src.entry((from, key)).or_default().push(to);
    }
    let mut itself: BTreeMap<Key, Vec<WorkloadId>> = BTreeMap::new();
    for c in self_changes {
        itself
            .entry((c.removed, c.added, c.why))
            .or_default()
            .extend_from_slice(classes.workloads_of(ClassId(c.src)));
    }
    let get = |id: u32| ports.get(id as usize).cloned().unwrap_or_default();
    let why = |id: u32| whys.get(id as usize).cloned().unwrap_or_default();
    let mut out: Vec<DiffEntry> = Vec::new();
    for ((from, key), to) in by_src {
        let (before, after) = why(key.2);
        out.push(DiffEntry {
            from,
            to,
            to_itself: false,
            removed: get(key.0),
            added: get(key.1),
            before,
            after,
        });
    }
    for (key, mut list) in itself {
        list.sort_unstable();
        let (before, after) = why(key.2);
        out.push(DiffEntry {
            from: list.clone(),
            to: list,
            to_itself: true,
            removed: get(key.0),
            added: get(key.1),
            before,
            after,
        });
    }
    out.sort_by(|a, b| (&a.to, &a.from, a.to_itself).cmp(&(&b.to, &b.from, b.to_itself)));
    out
}

#[derive(Serialize)]
struct EntryOut<'a> {
    from: Vec<String>,
    to: Vec<String>,
    #[serde(rename = "toItself", skip_serializing_if = "std::ops::Not::not")]
    to_itself: bool,
    removed: &'a Ports,
    added: &'a Ports,
    before: Vec<String>,
    after: Vec<String>,
}

/// `{"equivalent", "summary", "changes": [{"from", "to", "toItself"?, "removed",
/// "added", "before", "after"}]}`: workloads as `namespace/name`, policies as
/// [`PolicyRef`] prints them.
impl Serialize for SemanticDiff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names = |ids: &[WorkloadId]| ids.iter().map(|i| self.name(*i)).collect::<Vec<_>>();
        let refs = |l: &[PolicyRef]| l.iter().map(ToString::to_string).collect::<Vec<_>>();
        let entries: Vec<EntryOut<'_>> = self
            .entries
            .iter()
            .map(|e| EntryOut {
                from: names(&e.from),
                to: names(&e.to),
                to_itself: e.to_itself,
                removed: &e.removed,
                added: &e.added,
                before: refs(&e.before),
                after: refs(&e.after),
            })
            .collect();
        let mut st = s.serialize_struct("SemanticDiff", 3)?;
        st.serialize_field("equivalent", &self.is_equivalent())?;
        st.serialize_field("summary", &self.summary())?;
        st.serialize_field("changes", &entries)?;
        st.end()
    }
}
