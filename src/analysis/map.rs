//! The connectivity map: allowed connections between workloads.

use std::fmt::{self, Write as _};

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::cluster::PodId;
use crate::engine::Engine;
use crate::policy::AsPolicySet;

use super::Setup;
use super::classes::{ClassId, PodClasses, WorkloadId};
use super::ports::Ports;

/// One allowed connection of a [`ConnectivityMap`]: from a workload to a workload (to
/// itself: between two different pods of it), on some ports.
///
/// ```
/// # use netpol::analysis::ConnectivityMap;
/// # use netpol::cluster::{Cluster, PodSpec};
/// # use netpol::engine::Engine;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
/// let map = ConnectivityMap::new(&Engine::build(&cluster, &[]), &[]);
/// let c = &map.connections()[0];
/// assert_eq!(map.workload_name(c.from), "x/a");
/// assert!(map.ports(c).is_all());
/// # Ok::<(), netpol::cluster::ClusterError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Connection {
    /// The source workload.
    pub from: WorkloadId,
    /// The destination workload.
    pub to: WorkloadId,
    ports: u32,
}

/// The allowed connections between the workloads of a cluster, as port sets per protocol,
/// computed over classes of pods and of ports (see the [module documentation](super)).
///
/// A pod reaching itself is left out. Every other pair of pods `p`, `q` (in workloads
/// `P`, `Q`) is allowed on exactly the ports [`between`](Self::between)`(P, Q)` gives.
///
/// ```
/// use netpol::analysis::ConnectivityMap;
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::model::decode_policies;
/// use netpol::policy::{Policy, Protocol};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("shop", "web").label("app", "web"))
///     .pod(PodSpec::new("shop", "db").label("app", "db"))
///     .pod(PodSpec::new("ops", "backup").label("app", "backup"))
///     .build()?;
/// let policies: Vec<Policy> = decode_policies(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
///   "metadata": {"name": "db", "namespace": "shop"},
///   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
///            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
///                         "ports": [{"port": 5432}, {"port": 8000, "endPort": 8010}, {"port": 53, "protocol": "UDP"}]}]}}"#)?
///     .iter().map(Policy::new).collect::<Result<_, _>>()?;
/// let map = ConnectivityMap::new(&Engine::build(&cluster, &policies), &policies);
/// let id = |name: &str| map.classes().workloads().iter().position(|w| w.to_string() == name).unwrap();
/// let web = map.classes().workload_ids().nth(id("shop/web")).unwrap();
/// let db = map.classes().workload_ids().nth(id("shop/db")).unwrap();
/// let backup = map.classes().workload_ids().nth(id("ops/backup")).unwrap();
/// assert_eq!(map.between(web, db).to_string(), "TCP 5432, 8000-8010; UDP 53");
/// assert!(map.between(backup, db).is_empty());
/// assert!(map.between(db, backup).is_all());
/// assert!(map.to_csv().contains("shop/web,shop/db,TCP,\"5432,8000-8010\"\n"));
/// assert!(map.to_dot().contains("\"shop/web\" -> \"shop/db\" [label=\"TCP 5432, 8000-8010; UDP 53\"];"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConnectivityMap {
    classes: PodClasses,
    ports: Vec<Ports>,
    class_pairs: Vec<(u32, u32, u32)>,
    connections: Vec<Connection>,
    profile: String,
}

impl ConnectivityMap {
    /// Computes the map of the cluster `engine` was built for; `policies` are the ones
    /// the engine was built from.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # use netpol::engine::Engine;
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
    /// let map = ConnectivityMap::new(&Engine::build(&cluster, &[]), &[]);
    /// assert!(map.connections().is_empty()); // one pod: nothing but itself
    /// # Ok::<(), netpol::cluster::ClusterError>(())
    /// ```
    pub fn new(engine: &Engine, policies: &(impl AsPolicySet + ?Sized)) -> Self {
        let mut setup = Setup::new(engine, policies.as_policy_set());
        let class_pairs = setup.class_pairs();
        let ports = setup.table.into_list();
        let classes = setup.classes;
        let mut connections = Vec::new();
        for &(src, dst, ports) in &class_pairs {
            for &from in classes.workloads_of(ClassId(src)) {
                for &to in classes.workloads_of(ClassId(dst)) {
                    if from == to && classes.workload(from).is_none_or(|w| w.pod_ids.len() < 2) {
                        continue;
                    }
                    connections.push(Connection { from, to, ports });
                }
            }
        }
        connections.sort_unstable();
        ConnectivityMap {
            ports,
            classes,
            class_pairs,
            connections,
            profile: engine.profile().name().to_owned(),
        }
    }

    /// The classes and workloads of the pods.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert!(map.classes().is_empty());
    /// ```
    #[must_use]
    pub fn classes(&self) -> &PodClasses {
        &self.classes
    }

    /// The name of the profile the engine was built with.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.profile(), "conformance");
    /// ```
    #[must_use]
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The connections, sorted by source then destination workload.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.connections().len(), 2); // a to b, b to a
    /// ```
    #[must_use]
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// The ports of a connection.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert!(map.ports(&map.connections()[0]).is_all());
    /// ```
    #[must_use]
    pub fn ports(&self, connection: &Connection) -> &Ports {
        self.port_set(connection.ports)
    }

    fn port_set(&self, id: u32) -> &Ports {
        static NONE: std::sync::OnceLock<Ports> = std::sync::OnceLock::new();
        self.ports
            .get(id as usize)
            .unwrap_or_else(|| NONE.get_or_init(Ports::none))
    }

    /// The ports allowed from every pod of workload `from` to every other pod of
    /// workload `to` (empty when none).
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// let a = map.classes().workload_ids().next().unwrap();
    /// assert!(map.between(a, a).is_empty()); // only itself
    /// ```
    #[must_use]
    pub fn between(&self, from: WorkloadId, to: WorkloadId) -> &Ports {
        match self
            .connections
            .binary_search_by(|c| (c.from, c.to).cmp(&(from, to)))
        {
            Ok(i) => self
                .connections
                .get(i)
                .map_or_else(|| self.port_set(u32::MAX), |c| self.port_set(c.ports)),
            Err(_) => self.port_set(u32::MAX),
        }
    }

    /// The ports allowed from pod `from` to pod `to`; `None` for a pod to itself or a
    /// pod of another cluster.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// let a = cluster.pod_id("x", "a").unwrap();
    /// let b = cluster.pod_id("x", "b").unwrap();
    /// assert!(map.between_pods(a, b).unwrap().is_all());
    /// assert!(map.between_pods(a, a).is_none());
    /// ```
    #[must_use]
    pub fn between_pods(&self, from: PodId, to: PodId) -> Option<&Ports> {
        if from == to {
            return None;
        }
        let a = self.classes.class_of(from)?;
        let b = self.classes.class_of(to)?;
        Some(self.between_classes(a, b))
    }

    /// The ports allowed between two different pods of classes `from` and `to`.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// let c = map.classes().ids().next().unwrap();
    /// assert!(map.between_classes(c, c).is_all());
    /// ```
    #[must_use]
    pub fn between_classes(&self, from: ClassId, to: ClassId) -> &Ports {
        match self
            .class_pairs
            .binary_search_by(|(s, d, _)| (*s, *d).cmp(&(from.0, to.0)))
        {
            Ok(i) => self
                .class_pairs
                .get(i)
                .map_or_else(|| self.port_set(u32::MAX), |c| self.port_set(c.2)),
            Err(_) => self.port_set(u32::MAX),
        }
    }

    /// Every pair of classes holding two different pods with what is allowed between
    /// them, when that is not nothing: (source, destination, ports).
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.class_connections().count(), 1); // one class, two pods
    /// ```
    pub fn class_connections(&self) -> impl Iterator<Item = (ClassId, ClassId, &Ports)> + '_ {
        self.class_pairs
            .iter()
            .map(|(s, d, p)| (ClassId(*s), ClassId(*d), self.port_set(*p)))
    }

    /// A workload's name, `namespace/name`.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.workload_name(map.classes().workload_ids().next().unwrap()), "x/a");
    /// ```
    pub fn workload_name(&self, id: WorkloadId) -> String {
        self.classes
            .workload(id)
            .map_or_else(String::new, ToString::to_string)
    }

    /// One line per connection: `FROM -> TO: PORTS`.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.to_text(), "x/a -> x/b: all\nx/b -> x/a: all\n");
    /// ```
    #[must_use]
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// CSV with a header, one row per connection and protocol:
    /// `from,to,protocol,ports` (`ports` such as `"80,8080-8090"`, or `all`).
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert!(map.to_csv().starts_with("from,to,protocol,ports\nx/a,x/b,TCP,all\nx/a,x/b,UDP,all\n"));
    /// ```
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut s = String::from("from,to,protocol,ports\n");
        for c in &self.connections {
            let (from, to) = (
                csv_field(&self.workload_name(c.from)),
                csv_field(&self.workload_name(c.to)),
            );
            for (proto, ranges) in self.ports(c).iter() {
                let list = ranges.to_string().replace(", ", ",");
                let _ = writeln!(s, "{from},{to},{proto},{}", csv_field(&list));
            }
        }
        s
    }

    /// A Markdown table: `| from | to | ports |`.
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// assert_eq!(map.to_markdown(), "| from | to | ports |\n| --- | --- | --- |\n| x/a | x/b | all |\n| x/b | x/a | all |\n");
    /// ```
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| from | to | ports |\n| --- | --- | --- |\n");
        for c in &self.connections {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md_cell(&self.workload_name(c.from)),
                md_cell(&self.workload_name(c.to)),
                md_cell(&self.ports(c).to_string())
            );
        }
        s
    }

    /// A Graphviz digraph: a node per workload, boxed by namespace, an edge per
    /// connection labelled with its ports (`dot -Tsvg map.dot > map.svg`).
    ///
    /// ```
    /// # use netpol::analysis::ConnectivityMap;
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build().unwrap();
    /// let map = ConnectivityMap::new(&netpol::engine::Engine::build(&cluster, &[]), &[]);
    /// let dot = map.to_dot();
    /// assert!(dot.starts_with("digraph netpol {\n"));
    /// assert!(dot.contains("\"x/a\" -> \"x/b\" [label=\"all\"];"));
    /// ```
    #[must_use]
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph netpol {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        let mut current: Option<&str> = None;
        for (i, w) in self.classes.workloads().iter().enumerate() {
            if current != Some(w.namespace.as_str()) {
                if current.is_some() {
                    s.push_str("  }\n");
                }
                let _ = writeln!(
                    s,
                    "  subgraph \"cluster_{}\" {{\n    label=\"{}\";",
                    dot_escape(&w.namespace),
                    dot_escape(&w.namespace)
                );
                current = Some(&w.namespace);
            }
            let _ = writeln!(
                s,
                "    \"{}\" [label=\"{}\"]; // {i}",
                dot_escape(&w.to_string()),
                dot_escape(&w.name)
            );
        }
        if current.is_some() {
            s.push_str("  }\n");
        }
        for c in &self.connections {
            let _ = writeln!(
                s,
                "  \"{}\" -> \"{}\" [label=\"{}\"];",
                dot_escape(&self.workload_name(c.from)),
                dot_escape(&self.workload_name(c.to)),
                dot_escape(&self.ports(c).to_string())
            );
        }
        s.push_str("}\n");
        s
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl fmt::Display for ConnectivityMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.connections {
            writeln!(
                f,
                "{} -> {}: {}",
                self.workload_name(c.from),
                self.workload_name(c.to),
                self.ports(c)
            )?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct ConnectionOut<'a> {
    from: String,
    to: String,
    ports: &'a Ports,
}

/// `{"profile", "workloads": [...], "connections": [{"from", "to", "ports"}]}`, the
/// workloads with their namespace, name, pods and class, the connections by workload
/// name (`namespace/name`).
impl Serialize for ConnectivityMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let connections: Vec<ConnectionOut<'_>> = self
            .connections
            .iter()
            .map(|c| ConnectionOut {
                from: self.workload_name(c.from),
                to: self.workload_name(c.to),
                ports: self.ports(c),
            })
            .collect();
        let mut st = s.serialize_struct("ConnectivityMap", 3)?;
        st.serialize_field("profile", &self.profile)?;
        st.serialize_field("workloads", self.classes.workloads())?;
        st.serialize_field("connections", &connections)?;
        st.end()
    }
}
