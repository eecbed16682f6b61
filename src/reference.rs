//! The reference evaluator: a deliberately literal reading of the documented semantics.
//!
//! It is the executable specification the compiled [`Engine`](crate::engine::Engine) is
//! held equal to by property tests and fuzzing. It is written to be read, not to be fast:
//! every decision scans every policy.
//!
//! The rules it follows, in order:
//! 1. If the profile enforces no policy, every flow is allowed.
//! 2. A pod talking to itself, a node talking to the pods it runs, and a pod talking to
//!    the node it runs on are allowed, each when the profile says so (the default does).
//! 3. Otherwise the source must allow the flow as egress and the destination as ingress.
//!    A side that is not a pod allows. A pod that no policy of its namespace selects for
//!    that direction (no policy whose effective `policyTypes` holds it) is not isolated
//!    and allows. An isolated pod allows when some rule of some selecting policy of that
//!    direction has a peer matching the other side (or no peers) and a port matching the
//!    destination port (or no ports).
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::Policy;
//! use netpol::reference::Reference;
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("x", "a").label("app", "a").ip("10.0.0.1".parse().unwrap()))
//!     .pod(PodSpec::new("x", "b").label("app", "b").ip("10.0.0.2".parse().unwrap()))
//!     .build()?;
//! // Deny all ingress in namespace x.
//! let policies = [Policy::new(&NetworkPolicy::new("x", "deny-all")).unwrap()];
//! let r = Reference::new(&cluster, &policies, Default::default());
//! let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
//! let b = Endpoint::Pod(cluster.pod_id("x", "b").unwrap());
//! assert!(!r.decide(Flow::new(a, b, 80, Default::default())).is_allowed());
//! assert!(r.decide(Flow::new(a, a, 80, Default::default())).is_allowed()); // self traffic
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

use crate::cluster::{Cluster, Endpoint, Flow, PodId};
use crate::explain::{Explanation, PolicyRef, RuleRef, SideExplanation, Special, Verdict};
use crate::policy::{Direction, Peer, Policy, PortRule, PortSpec, Rule};
use crate::profile::Profile;

/// The literal evaluator over a borrowed cluster and policy list.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::profile::Profile;
/// use netpol::reference::Reference;
/// let cluster = Cluster::builder().pod(PodSpec::new("prod", "web").ip("10.244.1.5".parse()?)).build()?;
/// let web = Endpoint::Pod(cluster.pod_id("prod", "web").unwrap());
/// let reference = Reference::new(&cluster, &[], Profile::flannel());
/// let e = reference.explain(Flow::new(Endpoint::External("203.0.113.7".parse()?), web, 80, Default::default()));
/// assert_eq!(e.special, Some(netpol::explain::Special::NotEnforced));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reference<'a> {
    cluster: &'a Cluster,
    policies: &'a [Policy],
    profile: Profile,
}

impl<'a> Reference<'a> {
    /// An evaluator for `policies` (already validated) over `cluster`.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let r = netpol::reference::Reference::new(&cluster, &[], Default::default());
    /// assert!(r.cluster().pods().is_empty());
    /// ```
    pub fn new(cluster: &'a Cluster, policies: &'a [Policy], profile: Profile) -> Self {
        Reference {
            cluster,
            policies,
            profile,
        }
    }

    /// The cluster.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let r = netpol::reference::Reference::new(&cluster, &[], Default::default());
    /// assert!(std::ptr::eq(r.cluster(), &cluster));
    /// ```
    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// Whether the flow is allowed: the same rules as [`Reference::explain`], without
    /// building the explanation.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::{Policy, Protocol};
    /// # use netpol::reference::Reference;
    /// let cluster = Cluster::builder().pod(PodSpec::new("prod", "db").ip("10.244.1.5".parse()?)).build()?;
    /// let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
    /// let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
    /// let outside = Endpoint::External("203.0.113.7".parse()?);
    /// let reference = Reference::new(&cluster, &policies, Default::default());
    /// assert!(!reference.decide(Flow::new(outside, db, 5432, Protocol::Tcp)).is_allowed());
    /// assert!(reference.decide(Flow::new(db, outside, 443, Protocol::Tcp)).is_allowed()); // egress not isolated
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide(&self, flow: Flow) -> Verdict {
        Verdict::from(
            self.special(flow).is_some()
                || (self.side_allows(flow, Direction::Egress)
                    && self.side_allows(flow, Direction::Ingress)),
        )
    }

    /// The verdict with its explanation.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// # use netpol::model::NetworkPolicy;
    /// # use netpol::policy::{Policy, Protocol};
    /// # use netpol::reference::Reference;
    /// let cluster = Cluster::builder().pod(PodSpec::new("prod", "db").ip("10.244.1.5".parse()?)).build()?;
    /// let policies = [Policy::new(&NetworkPolicy::new("prod", "default-deny"))?];
    /// let db = Endpoint::Pod(cluster.pod_id("prod", "db").unwrap());
    /// let outside = Endpoint::External("203.0.113.7".parse()?);
    /// let e = Reference::new(&cluster, &policies, Default::default())
    ///     .explain(Flow::new(outside, db, 5432, Protocol::Tcp));
    /// assert_eq!(e.flow, "203.0.113.7 -> prod/db 5432/TCP");
    /// assert!(!e.verdict.is_allowed() && e.egress.allowed && !e.ingress.allowed);
    /// assert_eq!(e.ingress.policies[0].name, "default-deny");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, flow: Flow) -> Explanation {
        let egress = self.side(flow, Direction::Egress);
        let ingress = self.side(flow, Direction::Ingress);
        let special = self.special(flow);
        let allowed = special.is_some() || (egress.allowed && ingress.allowed);
        Explanation {
            flow: Explanation::describe_flow(self.cluster, flow),
            verdict: Verdict::from(allowed),
            special,
            egress,
            ingress,
        }
    }

    fn special(&self, flow: Flow) -> Option<Special> {
        if !self.profile.enforces_policies {
            return Some(Special::NotEnforced);
        }
        if self.profile.self_exempt {
            if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
                if a == b {
                    return Some(Special::SelfTraffic);
                }
            }
        }
        let on_node =
            |pod: PodId, node| self.cluster.pod(pod).is_some_and(|p| p.node == Some(node));
        match (flow.src, flow.dst) {
            (Endpoint::Node(n), Endpoint::Pod(p))
                if self.profile.own_node_exempt && on_node(p, n) =>
            {
                return Some(Special::OwnNode);
            }
            (Endpoint::Pod(p), Endpoint::Node(n))
                if self.profile.pod_to_own_node_exempt && on_node(p, n) =>
            {
                return Some(Special::OwnNode);
            }
            _ => {}
        }
        None
    }

    /// Whether one side allows the flow: not a pod, not isolated, or some rule of some
    /// selecting policy matches.
    fn side_allows(&self, flow: Flow, direction: Direction) -> bool {
        let (here, other) = flow.sides(direction);
        let Endpoint::Pod(pod_id) = here else {
            return true;
        };
        let Some(pod) = self.cluster.pod(pod_id) else {
            return true;
        };
        let namespace = self.cluster.pod_namespace_name(pod_id);
        let mut isolated = false;
        for policy in self.policies {
            if policy.namespace() == namespace
                && policy.affects(direction)
                && policy.pod_selector().matches(&pod.labels)
            {
                isolated = true;
                if policy
                    .rules(direction)
                    .iter()
                    .any(|rule| self.rule_matches(policy, rule, flow, other))
                {
                    return true;
                }
            }
        }
        !isolated
    }

    fn side(&self, flow: Flow, direction: Direction) -> SideExplanation {
        let (here, other) = flow.sides(direction);
        let mut side = SideExplanation::open(self.cluster, direction, here);
        let Endpoint::Pod(pod_id) = here else {
            return side;
        };
        let Some(pod) = self.cluster.pod(pod_id) else {
            return side;
        };
        side.is_pod = true;
        let namespace = self.cluster.pod_namespace_name(pod_id);
        for (index, policy) in self.policies.iter().enumerate() {
            if policy.namespace() != namespace
                || !policy.affects(direction)
                || !policy.pod_selector().matches(&pod.labels)
            {
                continue;
            }
            let pref = PolicyRef {
                index,
                namespace: policy.namespace().to_owned(),
                name: policy.name().to_owned(),
            };
            for (rule_index, rule) in policy.rules(direction).iter().enumerate() {
                if self.rule_matches(policy, rule, flow, other) {
                    side.allowed_by.push(RuleRef {
                        policy: pref.clone(),
                        direction,
                        rule: rule_index,
                    });
                }
            }
            side.policies.push(pref);
        }
        side.isolated = !side.policies.is_empty();
        side.allowed = !side.isolated || !side.allowed_by.is_empty();
        side
    }

    fn rule_matches(&self, policy: &Policy, rule: &Rule, flow: Flow, other: Endpoint) -> bool {
        let peer_ok = match &rule.peers {
            None => true,
            Some(peers) => peers
                .iter()
                .any(|peer| self.peer_matches(policy, peer, flow, other)),
        };
        let port_ok = match &rule.ports {
            None => true,
            Some(ports) => ports.iter().any(|p| self.port_matches(p, flow)),
        };
        peer_ok && port_ok
    }

    fn peer_matches(&self, policy: &Policy, peer: &Peer, flow: Flow, other: Endpoint) -> bool {
        match peer {
            Peer::Pods { namespaces, pods } => {
                let Endpoint::Pod(id) = other else {
                    return false;
                };
                let Some(pod) = self.cluster.pod(id) else {
                    return false;
                };
                let Some(ns) = self.cluster.namespace(pod.namespace) else {
                    return false;
                };
                let ns_ok = match namespaces {
                    None => ns.name == policy.namespace(),
                    Some(sel) => sel.matches(&ns.labels),
                };
                ns_ok && pods.matches(&pod.labels)
            }
            Peer::IpBlock(block) => {
                let eligible = match other {
                    Endpoint::Pod(_) => self.profile.ipblock_matches_pods,
                    Endpoint::Node(_) => self.profile.ipblock_matches_nodes,
                    Endpoint::External(_) => true,
                };
                eligible
                    && self
                        .cluster
                        .address(flow, other)
                        .is_some_and(|addr| block.contains(addr))
            }
        }
    }

    fn port_matches(&self, rule: &PortRule, flow: Flow) -> bool {
        if rule.protocol != flow.protocol {
            return false;
        }
        match &rule.port {
            PortSpec::Named(name) => {
                let Endpoint::Pod(id) = flow.dst else {
                    return false;
                };
                self.cluster.pod(id).is_some_and(|pod| {
                    pod.ports.iter().any(|cp| {
                        cp.name.as_deref() == Some(name.as_str())
                            && cp.protocol == flow.protocol
                            && cp.port == flow.port
                    })
                })
            }
            other => other.contains_number(flow.port),
        }
    }
}

impl crate::explain::Evaluator for Reference<'_> {
    fn cluster(&self) -> &Cluster {
        self.cluster
    }
    fn decide(&self, flow: Flow) -> Verdict {
        Reference::decide(self, flow)
    }
    fn explain(&self, flow: Flow) -> Explanation {
        Reference::explain(self, flow)
    }
}
