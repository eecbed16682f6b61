//! Kubernetes `networking.k8s.io/v1` NetworkPolicy, normalised.

use std::fmt;
use std::sync::Arc;

use crate::model::{IntOrString, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use crate::selector::Selector;
use crate::validate::{ErrorKind, FieldError, ValidationErrors, validate_network_policy};

use super::{CidrBlock, Direction, PortRule, PortSpec, Protocol, parse_cidr};

/// A rule peer.
///
/// ```
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Direction, Peer, Policy};
/// let written = NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": "prod"},
///   "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}"#)?;
/// let policy = Policy::new(&written)?;
/// let peers = policy.rules(Direction::Ingress)[0].peers.as_deref().unwrap();
/// assert!(matches!(&peers[0], Peer::Pods { namespaces: None, .. })); // own namespace
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Peer {
    /// Pods: `podSelector` and/or `namespaceSelector`.
    #[non_exhaustive]
    Pods {
        /// `None`: only the policy's own namespace (no `namespaceSelector`). `Some`: every
        /// namespace the selector matches.
        namespaces: Option<Selector>,
        /// The pods within those namespaces (everything when `podSelector` is absent).
        pods: Selector,
    },
    /// An `ipBlock`.
    #[non_exhaustive]
    IpBlock(CidrBlock),
}

/// A rule of one direction: it allows traffic when a peer matches and a port matches.
///
/// `peers` and `ports` are `None` when the list was absent or empty, meaning "every".
///
/// ```
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::{Direction, Policy, PortSpec};
/// let written = NetworkPolicy::from_json(r#"{"metadata": {"name": "allow-dns", "namespace": "prod"},
///   "spec": {"podSelector": {}, "policyTypes": ["Egress"],
///            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}"#)?;
/// let policy = Policy::new(&written)?;
/// let rule = &policy.rules(Direction::Egress)[0];
/// assert!(rule.peers.is_none()); // no `to`: every peer
/// assert_eq!(rule.ports.as_ref().unwrap()[0].port, PortSpec::range(53, 53).unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Rule {
    /// `from` (ingress) or `to` (egress); `None` = every peer.
    pub peers: Option<Vec<Peer>>,
    /// `ports`; `None` = every port.
    pub ports: Option<Vec<PortRule>>,
}

/// A validated, normalised NetworkPolicy.
///
/// ```
/// use netpol::model::NetworkPolicy;
/// use netpol::policy::Policy;
/// let written = NetworkPolicy::from_json(r#"{"metadata": {"name": "default-deny"},
///   "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}"#)?;
/// let policy = Policy::new(&written)?;
/// assert_eq!(policy.namespace(), "default"); // none written
/// assert_eq!(policy.ingress(), Some(&[][..])); // isolates ingress, allows nothing
/// assert_eq!(policy.egress(), Some(&[][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Cheap to clone: the normalised policy is shared.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    inner: Arc<PolicyData>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &*self.inner;
        f.debug_struct("Policy")
            .field("namespace", &d.namespace)
            .field("name", &d.name)
            .field("pod_selector", &d.pod_selector)
            .field("ingress", &d.ingress)
            .field("egress", &d.egress)
            .finish()
    }
}

#[derive(PartialEq, Eq, Hash)]
struct PolicyData {
    namespace: String,
    name: String,
    pod_selector: Selector,
    /// `Some` exactly when the effective `policyTypes` holds `Ingress`.
    ingress: Option<Vec<Rule>>,
    /// `Some` exactly when the effective `policyTypes` holds `Egress`.
    egress: Option<Vec<Rule>>,
}

impl Policy {
    /// Validates and normalises a written policy.
    ///
    /// ```
    /// use netpol::model::NetworkPolicy;
    /// let mut p = NetworkPolicy::new("default", "bad");
    /// p.spec.policy_types = Some(vec!["Sideways".into()]);
    /// assert!(netpol::policy::Policy::new(&p).is_err());
    /// ```
    pub fn new(written: &NetworkPolicy) -> Result<Self, ValidationErrors> {
        validate_network_policy(written)?;
        Self::normalise(written).map_err(|e| ValidationErrors(vec![e]))
    }

    fn normalise(written: &NetworkPolicy) -> Result<Self, FieldError> {
        let spec = &written.spec;
        let pod_selector = match &spec.pod_selector {
            Some(s) => Selector::new(s).map_err(|e| internal("spec.podSelector", e))?,
            None => Selector::everything(),
        };
        let types = spec.policy_types.as_deref().unwrap_or(&[]);
        let (has_ingress, has_egress) = if types.is_empty() {
            (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty()))
        } else {
            (
                types.iter().any(|t| t == "Ingress"),
                types.iter().any(|t| t == "Egress"),
            )
        };
        let ingress = if has_ingress {
            let mut rules = Vec::new();
            for (i, r) in spec.ingress.iter().flatten().enumerate() {
                let path = format!("spec.ingress[{i}]");
                rules.push(normalise_rule(
                    &path,
                    "from",
                    r.from.as_deref(),
                    r.ports.as_deref(),
                )?);
            }
            Some(rules)
        } else {
            None
        };
        let egress = if has_egress {
            let mut rules = Vec::new();
            for (i, r) in spec.egress.iter().flatten().enumerate() {
                let path = format!("spec.egress[{i}]");
                rules.push(normalise_rule(
                    &path,
                    "to",
                    r.to.as_deref(),
                    r.ports.as_deref(),
                )?);
            }
            Some(rules)
        } else {
            None
        };
        Ok(Policy {
            inner: Arc::new(PolicyData {
                namespace: written.metadata.namespace_or_default().to_owned(),
                name: written.metadata.name.clone().unwrap_or_default(),
                pod_selector,
                ingress,
                egress,
            }),
        })
    }

    /// The namespace (`default` when none was written).
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("prod", "p")).unwrap();
    /// assert_eq!(p.namespace(), "prod");
    /// ```
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The name.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("prod", "p")).unwrap();
    /// assert_eq!(p.name(), "p");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Which pods of the namespace the policy selects.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("prod", "p")).unwrap();
    /// assert!(p.pod_selector().is_everything());
    /// ```
    #[must_use]
    pub fn pod_selector(&self) -> &Selector {
        &self.inner.pod_selector
    }

    /// Ingress rules; `Some` exactly when the effective `policyTypes` holds `Ingress`.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("prod", "p")).unwrap();
    /// assert_eq!(p.ingress().map(<[_]>::len), Some(0));
    /// ```
    #[must_use]
    pub fn ingress(&self) -> Option<&[Rule]> {
        self.inner.ingress.as_deref()
    }

    /// Egress rules; `Some` exactly when the effective `policyTypes` holds `Egress`.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("prod", "p")).unwrap();
    /// assert!(p.egress().is_none());
    /// ```
    #[must_use]
    pub fn egress(&self) -> Option<&[Rule]> {
        self.inner.egress.as_deref()
    }

    /// Whether the policy isolates `direction` for the pods it selects.
    ///
    /// ```
    /// use netpol::policy::{Direction, Policy};
    /// let p = Policy::new(&netpol::model::NetworkPolicy::new("default", "p")).unwrap();
    /// assert!(p.affects(Direction::Ingress) && !p.affects(Direction::Egress));
    /// ```
    #[must_use]
    pub fn affects(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.inner.ingress.is_some(),
            Direction::Egress => self.inner.egress.is_some(),
        }
    }

    /// The rules of `direction` (empty when the policy does not affect it).
    ///
    /// ```
    /// use netpol::policy::{Direction, Policy};
    /// let p = Policy::new(&netpol::model::NetworkPolicy::new("default", "p")).unwrap();
    /// assert!(p.rules(Direction::Egress).is_empty());
    /// ```
    #[must_use]
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => self.inner.ingress.as_deref().unwrap_or(&[]),
            Direction::Egress => self.inner.egress.as_deref().unwrap_or(&[]),
        }
    }

    /// `namespace/name`.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap();
    /// assert_eq!(p.key(), "a/b");
    /// ```
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.inner.namespace, self.inner.name)
    }
}

fn internal(field: &str, e: impl fmt::Display) -> FieldError {
    FieldError {
        kind: ErrorKind::Invalid,
        field: field.to_owned(),
        value: None,
        detail: e.to_string(),
    }
}

fn normalise_rule(
    path: &str,
    peers_key: &str,
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&[NetworkPolicyPort]>,
) -> Result<Rule, FieldError> {
    let peers = match peers {
        None | Some([]) => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, p) in list.iter().enumerate() {
                let ppath = format!("{path}.{peers_key}[{i}]");
                out.push(normalise_peer(&ppath, p)?);
            }
            Some(out)
        }
    };
    let ports = match ports {
        None | Some([]) => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, p) in list.iter().enumerate() {
                let ppath = format!("{path}.ports[{i}]");
                out.push(normalise_port(&ppath, p)?);
            }
            Some(out)
        }
    };
    Ok(Rule { peers, ports })
}

fn normalise_peer(path: &str, peer: &NetworkPolicyPeer) -> Result<Peer, FieldError> {
    if let Some(block) = &peer.ip_block {
        let cidr =
            parse_cidr(&block.cidr).map_err(|e| internal(&format!("{path}.ipBlock.cidr"), e))?;
        let mut except = Vec::new();
        for (i, e) in block.except.iter().flatten().enumerate() {
            except.push(
                parse_cidr(e)
                    .map_err(|err| internal(&format!("{path}.ipBlock.except[{i}]"), err))?,
            );
        }
        return Ok(Peer::IpBlock(CidrBlock::new(cidr, except)));
    }
    let namespaces = match &peer.namespace_selector {
        Some(s) => {
            Some(Selector::new(s).map_err(|e| internal(&format!("{path}.namespaceSelector"), e))?)
        }
        None => None,
    };
    let pods = match &peer.pod_selector {
        Some(s) => Selector::new(s).map_err(|e| internal(&format!("{path}.podSelector"), e))?,
        None => Selector::everything(),
    };
    Ok(Peer::Pods { namespaces, pods })
}

fn normalise_port(path: &str, port: &NetworkPolicyPort) -> Result<PortRule, FieldError> {
    let protocol = match &port.protocol {
        None => Protocol::Tcp,
        Some(p) => p
            .parse()
            .map_err(|e| internal(&format!("{path}.protocol"), e))?,
    };
    let to_u16 = |field: &str, n: i32| {
        u16::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| internal(&format!("{path}.{field}"), "port out of range"))
    };
    let spec = match &port.port {
        None => PortSpec::All,
        Some(IntOrString::Int(n)) => {
            let start = to_u16("port", *n)?;
            let end = match port.end_port {
                Some(e) => to_u16("endPort", e)?,
                None => start,
            };
            if start > end {
                return Err(internal(&format!("{path}.endPort"), "endPort below port"));
            }
            PortSpec::Range { start, end }
        }
        Some(IntOrString::String(name)) => PortSpec::Named(name.clone()),
    };
    Ok(PortRule::new(protocol, spec))
}
