//! A change feed a controller drives from watch events: [`Feed`] turns each event (an
//! object `ADDED`, `MODIFIED` or `DELETED`, as the API's watch streams send them) into
//! [`Change`]s and applies them to its [`LiveEngine`].
//!
//! Objects are read as [`ClusterObjects`](crate::cluster::ClusterObjects) reads them: a
//! host-network pod is its node's endpoint, a pod without an address or finished
//! (`Succeeded`, `Failed`) is left out (so a pod that finishes is removed), a pod on a node
//! not seen (yet) runs without a node until that node arrives. Policies are validated as
//! the apiserver would; an object it would refuse is an error, and the engine is left as
//! it was (`DELETED` of it is accepted). Events of other kinds than Namespace, Node, Pod
//! and the policy kinds of [`PolicyObject`] are errors, `BOOKMARK` and `ERROR` events are
//! skipped.
//!
//! ```
//! use netpol::engine::watch::{Feed, WatchEvent};
//! use netpol::engine::live::LiveEngine;
//! let mut feed = Feed::new(LiveEngine::new(&Default::default(), Default::default(), Default::default()));
//! for line in [
//!     r#"{"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1",
//!        "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
//!        "spec": {"nodeName": "n1"}, "status": {"podIP": "10.244.1.5"}}}"#,
//!     r#"{"type": "ADDED", "object": {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"},
//!        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.11"}]}}}"#,
//!     r#"{"type": "ADDED", "object": {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
//!        "metadata": {"name": "deny", "namespace": "shop"}, "spec": {"podSelector": {}}}}"#,
//! ] {
//!     feed.apply(&WatchEvent::from_json(line)?)?;
//! }
//! let c = feed.live().cluster();
//! let db = c.pod(c.pod_id("shop", "db").unwrap()).unwrap();
//! assert_eq!(db.node, c.node_id("n1")); // placed once its node arrived
//! assert_eq!(feed.live().engine().policy_count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ahash::AHashSet as HashSet;

use super::live::{Change, LiveEngine, PolicyItem, PolicyKey, UpdateError};
use crate::calico::{CalicoNetworkSet, CalicoPolicy, CalicoTier};
use crate::cluster::{PodObject, PodSpec, namespace_object, node_object, pod_object};
use crate::model::{self, DecodeError, PolicyObject};
use crate::persist::PMap;
use crate::policy::{ClusterPolicy, Policy};
use crate::validate::ValidationErrors;

/// What happened to the object of a [`WatchEvent`].
///
/// ```
/// assert_eq!(netpol::engine::watch::EventKind::parse("DELETED"),
///            Some(netpol::engine::watch::EventKind::Deleted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
    /// `BOOKMARK` or `ERROR`: nothing to apply.
    Other,
}

impl EventKind {
    /// Reads a watch event's `type`.
    ///
    /// ```
    /// assert!(netpol::engine::watch::EventKind::parse("UPDATED").is_none());
    /// ```
    #[must_use]
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "ADDED" => Some(EventKind::Added),
            "MODIFIED" => Some(EventKind::Modified),
            "DELETED" => Some(EventKind::Deleted),
            "BOOKMARK" | "ERROR" => Some(EventKind::Other),
            _ => None,
        }
    }

    /// The `type` as the API writes it (`BOOKMARK` for [`EventKind::Other`]).
    ///
    /// ```
    /// assert_eq!(netpol::engine::watch::EventKind::Added.as_str(), "ADDED");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
            EventKind::Other => "BOOKMARK",
        }
    }
}

/// The object of a [`WatchEvent`], decoded.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchObject {
    /// A `v1` Namespace.
    Namespace(model::Namespace),
    /// A `v1` Node.
    Node(model::Node),
    /// A `v1` Pod.
    Pod(model::Pod),
    /// A policy, network set or tier of any kind the crate reads.
    Policy(PolicyObject),
    /// Nothing (a `BOOKMARK` or `ERROR` event).
    None,
}

/// One watch event: `{"type": "ADDED", "object": {...}}`.
///
/// ```
/// use netpol::engine::watch::{EventKind, WatchEvent, WatchObject};
/// let e = WatchEvent::from_json(r#"{"type": "DELETED", "object": {"kind": "Namespace",
///     "apiVersion": "v1", "metadata": {"name": "shop"}}}"#)?;
/// assert_eq!(e.kind, EventKind::Deleted);
/// assert!(matches!(e.object, WatchObject::Namespace(_)));
/// # Ok::<(), netpol::engine::watch::FeedError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventKind,
    /// To what.
    pub object: WatchObject,
}

/// An event that cannot be read or applied.
///
/// A decode error and a refusal keep the underlying error as their
/// [`source`](std::error::Error::source).
///
/// ```
/// use netpol::engine::watch::{FeedError, WatchEvent};
/// let err = WatchEvent::from_json(r#"{"type": "ADDED"}"#).unwrap_err();
/// assert_eq!(err.to_string(), "watch event: object: missing");
///
/// let err = WatchEvent::from_json(r#"{"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1",
///     "metadata": {"name": 7}}}"#).unwrap_err();
/// assert!(matches!(&err, FeedError::Decode(d) if d.path == "metadata.name"));
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Not a watch event: its `type` or `object` is missing, or its `type` is not one a
    /// watch sends.
    #[error("watch event: {field}: {problem}")]
    NotAnEvent {
        /// `type` or `object`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The event's text is not JSON, or its object does not decode.
    #[error("watch event: {0}")]
    Decode(#[from] DecodeError),
    /// A policy the apiserver would refuse (or this crate does not evaluate).
    #[error("{key}: refused: {errors}")]
    Refused {
        /// The policy.
        key: String,
        /// Why: every field error.
        #[source]
        errors: ValidationErrors,
    },
    /// The change cannot be applied.
    #[error(transparent)]
    Update(#[from] UpdateError),
}

impl WatchEvent {
    /// Decodes one event from JSON text.
    ///
    /// ```
    /// let e = netpol::engine::watch::WatchEvent::from_json(r#"{"type": "BOOKMARK", "object": {}}"#)?;
    /// assert_eq!(e.kind, netpol::engine::watch::EventKind::Other);
    /// # Ok::<(), netpol::engine::watch::FeedError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<WatchEvent, FeedError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| FeedError::Decode(model::go_json::syntax_error(&e)))?;
        WatchEvent::from_value(&value)
    }

    /// Decodes one event from a parsed value.
    ///
    /// ```
    /// let v = serde_json::json!({"type": "ADDED", "object": {"kind": "Node", "apiVersion": "v1",
    ///     "metadata": {"name": "n1"}}});
    /// let e = netpol::engine::watch::WatchEvent::from_value(&v)?;
    /// assert!(matches!(e.object, netpol::engine::watch::WatchObject::Node(_)));
    /// # Ok::<(), netpol::engine::watch::FeedError>(())
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<WatchEvent, FeedError> {
        let kind = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| not_an_event("type", "missing".into()))?;
        let kind = EventKind::parse(kind)
            .ok_or_else(|| not_an_event("type", format!("unknown \"{kind}\"")))?;
        let object = value
            .get("object")
            .ok_or_else(|| not_an_event("object", "missing".into()))?;
        if kind == EventKind::Other {
            return Ok(WatchEvent {
                kind,
                object: WatchObject::None,
            });
        }
        let object_kind = object.get("kind").and_then(serde_json::Value::as_str);
        let object = match object_kind {
            Some("Namespace") => WatchObject::Namespace(model::Namespace::from_value(object)?),
            Some("Node") => WatchObject::Node(model::Node::from_value(object)?),
            Some("Pod") => WatchObject::Pod(model::Pod::from_value(object)?),
            _ => WatchObject::Policy(PolicyObject::from_value(object)?),
        };
        Ok(WatchEvent { kind, object })
    }
}

/// Applies watch events to a [`LiveEngine`]. See the [module documentation](self).
/// Cheap to clone: its tables are persistent, like the engine's.
#[derive(Debug, Clone)]
pub struct Feed {
    live: LiveEngine,
    /// Every pod read, as read (with the node it asks for).
    pods: PMap<(String, String), PodSpec>,
    /// Per node name: the pods asking for it.
    on_node: PMap<String, HashSet<(String, String)>>,
    nodes: PMap<String, ()>,
}

impl Feed {
    /// A feed over `live` (whose cluster should hold what the events do not: usually an
    /// empty one, the events starting with the initial list).
    ///
    /// ```
    /// let feed = netpol::engine::watch::Feed::new(netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default()));
    /// assert_eq!(feed.live().cluster().pod_count(), 0);
    /// ```
    #[must_use]
    pub fn new(live: LiveEngine) -> Feed {
        let nodes = live
            .cluster()
            .nodes()
            .map(|(_, n)| (n.name.clone(), ()))
            .collect();
        Feed {
            live,
            pods: PMap::new(),
            on_node: PMap::new(),
            nodes,
        }
    }

    /// The engine as the events so far made it (cheap to clone, to hand to readers).
    ///
    /// ```
    /// let feed = netpol::engine::watch::Feed::new(netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default()));
    /// assert_eq!(feed.live().engine().policy_count(), 0);
    /// ```
    #[must_use]
    pub fn live(&self) -> &LiveEngine {
        &self.live
    }

    /// Applies one event; on an error the engine is left as it was.
    ///
    /// ```
    /// use netpol::engine::watch::{Feed, WatchEvent};
    /// let mut feed = Feed::new(netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default()));
    /// let bad = WatchEvent::from_json(r#"{"type": "ADDED", "object": {"kind": "NetworkPolicy",
    ///     "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "x", "namespace": "a"},
    ///     "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]}}}"#)?;
    /// assert!(feed.apply(&bad).is_err());
    /// # Ok::<(), netpol::engine::watch::FeedError>(())
    /// ```
    pub fn apply(&mut self, event: &WatchEvent) -> Result<(), FeedError> {
        self.apply_all(std::slice::from_ref(event))
    }

    /// Applies events in order as one batch (the engine's core is rebuilt at most once);
    /// on an error nothing of the batch is applied.
    ///
    /// ```
    /// use netpol::engine::watch::{Feed, WatchEvent};
    /// let mut feed = Feed::new(netpol::engine::live::LiveEngine::new(
    ///     &Default::default(), Default::default(), Default::default()));
    /// let events: Vec<WatchEvent> = (0..3).map(|i| WatchEvent::from_json(&format!(
    ///     r#"{{"type": "ADDED", "object": {{"kind": "Pod", "apiVersion": "v1",
    ///        "metadata": {{"name": "p{i}", "namespace": "a"}}, "status": {{"podIP": "10.0.0.{i}"}}}}}}"#)))
    ///     .collect::<Result<_, _>>()?;
    /// feed.apply_all(&events)?;
    /// assert_eq!(feed.live().cluster().pod_count(), 3);
    /// # Ok::<(), netpol::engine::watch::FeedError>(())
    /// ```
    pub fn apply_all(&mut self, events: &[WatchEvent]) -> Result<(), FeedError> {
        let mut next = self.clone();
        let mut changes = Vec::new();
        for e in events {
            next.changes(e, &mut changes)?;
        }
        next.live = next.live.apply_all(changes)?;
        *self = next;
        Ok(())
    }

    /// The changes an event makes, recording what the feed must remember.
    fn changes(&mut self, event: &WatchEvent, out: &mut Vec<Change>) -> Result<(), FeedError> {
        let deleted = event.kind == EventKind::Deleted;
        match &event.object {
            WatchObject::None => {}
            WatchObject::Namespace(ns) => {
                if let Some((name, labels)) = namespace_object(ns) {
                    out.push(if deleted {
                        Change::NamespaceRemoved(name)
                    } else {
                        Change::Namespace { name, labels }
                    });
                }
            }
            WatchObject::Node(node) => {
                let Some(spec) = node_object(node) else {
                    return Ok(());
                };
                let name = spec.name.clone();
                if deleted {
                    self.nodes.remove(&name);
                    out.push(Change::NodeRemoved(name));
                } else {
                    let new = self.nodes.insert(name.clone(), ()).is_none();
                    out.push(Change::Node(spec));
                    if new {
                        // Pods that asked for it before it arrived.
                        for key in self.on_node.get(&name).into_iter().flatten() {
                            if let Some(p) = self.pods.get(key) {
                                out.push(Change::Pod(p.clone()));
                            }
                        }
                    }
                }
            }
            WatchObject::Pod(pod) => match pod_object(pod) {
                PodObject::Unnamed => {}
                PodObject::LeftOut(namespace, name) => {
                    self.forget((namespace.clone(), name.clone()));
                    out.push(Change::PodRemoved { namespace, name });
                }
                PodObject::Pod(spec) => {
                    let key = (spec.namespace.clone(), spec.name.clone());
                    self.forget(key.clone());
                    if deleted {
                        out.push(Change::PodRemoved {
                            namespace: key.0,
                            name: key.1,
                        });
                        return Ok(());
                    }
                    if let Some(n) = &spec.node {
                        match self.on_node.get_mut(n) {
                            Some(set) => {
                                set.insert(key.clone());
                            }
                            None => {
                                self.on_node
                                    .insert(n.clone(), std::iter::once(key.clone()).collect());
                            }
                        }
                    }
                    self.pods.insert(key, spec.clone());
                    let mut spec = spec;
                    if spec
                        .node
                        .as_ref()
                        .is_some_and(|n| !self.nodes.contains_key(n))
                    {
                        spec.node = None;
                    }
                    out.push(Change::Pod(spec));
                }
            },
            WatchObject::Policy(object) => {
                let item = match policy_item(object) {
                    Ok(item) => item,
                    Err(e) if deleted => {
                        // Deleting what could not be added is fine.
                        let _ = e;
                        out.push(Change::PolicyRemoved(policy_key(object)));
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                out.push(if deleted {
                    Change::PolicyRemoved(item.key())
                } else {
                    Change::Policy(item)
                });
            }
        }
        Ok(())
    }

    fn forget(&mut self, key: (String, String)) {
        if let Some(old) = self.pods.remove(&key) {
            if let Some(n) = &old.node {
                if let Some(set) = self.on_node.get_mut(n) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.on_node.remove(n);
                    }
                }
            }
        }
    }
}

fn not_an_event(field: &'static str, problem: String) -> FeedError {
    FeedError::NotAnEvent { field, problem }
}

fn refused(object: &PolicyObject, errors: ValidationErrors) -> FeedError {
    FeedError::Refused {
        key: policy_key(object).to_string(),
        errors,
    }
}

/// A policy object validated and normalised.
fn policy_item(object: &PolicyObject) -> Result<PolicyItem, FeedError> {
    let err = |e: ValidationErrors| refused(object, e);
    Ok(match object {
        PolicyObject::NetworkPolicy(w) => PolicyItem::Network(Policy::new(w).map_err(err)?),
        PolicyObject::ClusterNetworkPolicy(w) => {
            crate::validate::validate_cluster_network_policy(w).map_err(err)?;
            PolicyItem::Cluster(ClusterPolicy::new(w).map_err(err)?)
        }
        PolicyObject::CalicoNetworkPolicy(w) => {
            PolicyItem::Calico(CalicoPolicy::new(w).map_err(err)?)
        }
        PolicyObject::GlobalNetworkPolicy(w) => {
            PolicyItem::Calico(CalicoPolicy::new(w).map_err(err)?)
        }
        PolicyObject::NetworkSet(w) => {
            PolicyItem::NetworkSet(CalicoNetworkSet::new(w).map_err(err)?)
        }
        PolicyObject::GlobalNetworkSet(w) => {
            PolicyItem::NetworkSet(CalicoNetworkSet::new(w).map_err(err)?)
        }
        PolicyObject::Tier(w) => PolicyItem::Tier(CalicoTier::new(w).map_err(err)?),
    })
}

/// The key of a policy object, read from its metadata alone.
fn policy_key(object: &PolicyObject) -> PolicyKey {
    let meta = |m: &model::ObjectMeta| {
        (
            m.namespace.clone().filter(|n| !n.is_empty()),
            m.name.clone().unwrap_or_default(),
        )
    };
    match object {
        PolicyObject::NetworkPolicy(w) => {
            let (ns, name) = meta(&w.metadata);
            PolicyKey::Network {
                namespace: ns.unwrap_or_else(|| "default".into()),
                name,
            }
        }
        PolicyObject::ClusterNetworkPolicy(w) => PolicyKey::Cluster {
            name: meta(&w.metadata).1,
        },
        PolicyObject::CalicoNetworkPolicy(w) => {
            let (ns, name) = meta(&w.metadata);
            PolicyKey::Calico {
                namespace: Some(ns.unwrap_or_else(|| "default".into())),
                name,
            }
        }
        PolicyObject::GlobalNetworkPolicy(w) => PolicyKey::Calico {
            namespace: None,
            name: meta(&w.metadata).1,
        },
        PolicyObject::NetworkSet(w) => {
            let (ns, name) = meta(&w.metadata);
            PolicyKey::NetworkSet {
                namespace: Some(ns.unwrap_or_else(|| "default".into())),
                name,
            }
        }
        PolicyObject::GlobalNetworkSet(w) => PolicyKey::NetworkSet {
            namespace: None,
            name: meta(&w.metadata).1,
        },
        PolicyObject::Tier(w) => PolicyKey::Tier {
            name: meta(&w.metadata).1,
        },
    }
}
