//! Normalised policies: what validation proves, held in types.
//!
//! A [`Policy`] is built from a [`NetworkPolicy`] only after
//! [`validate_network_policy`](crate::validate::validate_network_policy()) accepted it. It
//! holds the effective `policyTypes` (rules are present for exactly the directions the
//! policy isolates), compiled selectors, parsed CIDRs (truncated to their network, as the
//! apiserver's consumers read them), defaulted protocols and port ranges. Past this point
//! invalid states cannot be represented.
//!
//! ```
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Direction, Policy};
//!
//! let written = NetworkPolicy::from_json(r#"{
//!   "metadata": {"name": "p", "namespace": "default"},
//!   "spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}
//! }"#).unwrap();
//! let policy = Policy::new(&written)?;
//! // No policyTypes written: Ingress, plus Egress because there is an egress rule.
//! assert!(policy.affects(Direction::Ingress) && policy.affects(Direction::Egress));
//! assert!(policy.rules(Direction::Ingress).is_empty());
//! # Ok::<(), netpol::validate::ValidationErrors>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::{IntOrString, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use crate::selector::Selector;
use crate::validate::{ErrorKind, FieldError, ValidationErrors, validate_network_policy};

/// A transport protocol NetworkPolicy can name.
///
/// ```
/// use netpol::policy::Protocol;
/// assert_eq!("UDP".parse::<Protocol>(), Ok(Protocol::Udp));
/// assert_eq!(Protocol::Sctp.to_string(), "SCTP");
/// assert!("udp".parse::<Protocol>().is_err()); // the API is case-sensitive
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Protocol {
    /// TCP, the default.
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    /// All protocols, in a fixed order.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
    /// assert_eq!(names, ["TCP", "UDP", "SCTP"]);
    /// assert!(Protocol::ALL.iter().enumerate().all(|(i, p)| p.index() == i));
    /// ```
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The name the API uses.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Protocol::Tcp.as_str(), "TCP");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// A small index (0, 1, 2), handy for tables.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Protocol::Sctp.index(), 2);
    /// ```
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name that is not `TCP`, `UDP` or `SCTP`.
///
/// ```
/// use netpol::policy::{Protocol, UnknownProtocol};
/// let err = "ICMP".parse::<Protocol>().unwrap_err();
/// assert_eq!(err, UnknownProtocol("ICMP".into()));
/// assert_eq!(err.to_string(), r#"unsupported protocol "ICMP": supported values are "SCTP", "TCP", "UDP""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported protocol \"{0}\": supported values are \"SCTP\", \"TCP\", \"UDP\"")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(UnknownProtocol(other.to_owned())),
        }
    }
}

/// The direction of a rule or of isolation.
///
/// ```
/// use netpol::policy::Direction;
/// assert_eq!(Direction::Egress.to_string(), "Egress");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Direction {
    /// Traffic into the selected pods.
    Ingress,
    /// Traffic out of the selected pods.
    Egress,
}

impl Direction {
    /// The name the API uses in `policyTypes`.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Direction::Ingress.as_str(), "Ingress");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `ipBlock`: `cidr` minus every `except` entry, parsed and truncated to networks.
///
/// ```
/// use netpol::policy::CidrBlock;
/// let b = CidrBlock::new("172.17.0.0/16".parse().unwrap(), vec!["172.17.1.0/24".parse().unwrap()]);
/// assert!(b.contains("172.17.0.5".parse().unwrap()));
/// assert!(!b.contains("172.17.1.5".parse().unwrap()));
/// assert!(!b.contains("2001:db8::1".parse().unwrap())); // families never match each other
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CidrBlock {
    /// The network.
    pub cidr: IpNet,
    /// Networks inside `cidr` that are not part of the block.
    pub except: Vec<IpNet>,
}

impl CidrBlock {
    /// A block from its parts; every network is truncated (host bits cleared).
    ///
    /// ```
    /// use netpol::policy::CidrBlock;
    /// let b = CidrBlock::new("10.244.1.1/4".parse().unwrap(), vec![]);
    /// assert_eq!(b.cidr.to_string(), "0.0.0.0/4");
    /// ```
    pub fn new(cidr: IpNet, except: Vec<IpNet>) -> Self {
        CidrBlock {
            cidr: cidr.trunc(),
            except: except.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// Whether `addr` is inside `cidr` and outside every `except` entry.
    ///
    /// ```
    /// use netpol::policy::CidrBlock;
    /// let all = CidrBlock::new("0.0.0.0/0".parse().unwrap(), vec![]);
    /// assert!(all.contains("203.0.113.7".parse().unwrap()));
    /// ```
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.cidr.contains(&addr) && !self.except.iter().any(|e| e.contains(&addr))
    }
}

/// A rule peer.
///
/// ```
/// use netpol::policy::Peer;
/// use netpol::selector::Selector;
/// let p = Peer::Pods { namespaces: None, pods: Selector::everything() };
/// assert!(matches!(p, Peer::Pods { namespaces: None, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Pods: `podSelector` and/or `namespaceSelector`.
    Pods {
        /// `None`: only the policy's own namespace (no `namespaceSelector`). `Some`: every
        /// namespace the selector matches.
        namespaces: Option<Selector>,
        /// The pods within those namespaces (everything when `podSelector` is absent).
        pods: Selector,
    },
    /// An `ipBlock`.
    IpBlock(CidrBlock),
}

/// Which ports of a protocol a port entry names.
///
/// ```
/// use netpol::policy::PortSpec;
/// assert!(PortSpec::Range { start: 80, end: 90 }.contains_number(85));
/// assert!(PortSpec::All.contains_number(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// No `port`: every port.
    All,
    /// `port` (and `endPort`): `start..=end`; a single port has `start == end`.
    Range {
        /// First port.
        start: u16,
        /// Last port, inclusive.
        end: u16,
    },
    /// A container port name, resolved against the destination pod.
    Named(String),
}

impl PortSpec {
    /// Whether a number is named by this spec without looking at any pod (`Named` is false).
    ///
    /// ```
    /// assert!(!netpol::policy::PortSpec::Named("http".into()).contains_number(80));
    /// ```
    pub fn contains_number(&self, port: u16) -> bool {
        match self {
            PortSpec::All => true,
            PortSpec::Range { start, end } => (*start..=*end).contains(&port),
            PortSpec::Named(_) => false,
        }
    }
}

/// One `ports` entry, normalised.
///
/// ```
/// use netpol::policy::{PortRule, PortSpec, Protocol};
/// let r = PortRule { protocol: Protocol::Tcp, port: PortSpec::Range { start: 5432, end: 5432 } };
/// assert_eq!(r.to_string(), "5432/TCP");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRule {
    /// The protocol (`TCP` when not written).
    pub protocol: Protocol,
    /// The ports.
    pub port: PortSpec,
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            PortSpec::All => write!(f, "*/{}", self.protocol),
            PortSpec::Range { start, end } if start == end => {
                write!(f, "{start}/{}", self.protocol)
            }
            PortSpec::Range { start, end } => write!(f, "{start}-{end}/{}", self.protocol),
            PortSpec::Named(n) => write!(f, "{n}/{}", self.protocol),
        }
    }
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
/// assert_eq!(rule.ports.as_ref().unwrap()[0].port, PortSpec::Range { start: 53, end: 53 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
/// assert_eq!(policy.namespace, "default"); // none written
/// assert_eq!(policy.ingress, Some(vec![])); // isolates ingress, allows nothing
/// assert_eq!(policy.egress, Some(vec![]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The namespace (`default` when none was written).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Which pods of the namespace the policy selects.
    pub pod_selector: Selector,
    /// Ingress rules; `Some` exactly when the effective `policyTypes` holds `Ingress`.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules; `Some` exactly when the effective `policyTypes` holds `Egress`.
    pub egress: Option<Vec<Rule>>,
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
            namespace: written.metadata.namespace_or_default().to_owned(),
            name: written.metadata.name.clone().unwrap_or_default(),
            pod_selector,
            ingress,
            egress,
        })
    }

    /// Whether the policy isolates `direction` for the pods it selects.
    ///
    /// ```
    /// use netpol::policy::{Direction, Policy};
    /// let p = Policy::new(&netpol::model::NetworkPolicy::new("default", "p")).unwrap();
    /// assert!(p.affects(Direction::Ingress) && !p.affects(Direction::Egress));
    /// ```
    pub fn affects(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.ingress.is_some(),
            Direction::Egress => self.egress.is_some(),
        }
    }

    /// The rules of `direction` (empty when the policy does not affect it).
    ///
    /// ```
    /// use netpol::policy::{Direction, Policy};
    /// let p = Policy::new(&netpol::model::NetworkPolicy::new("default", "p")).unwrap();
    /// assert!(p.rules(Direction::Egress).is_empty());
    /// ```
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => self.ingress.as_deref().unwrap_or(&[]),
            Direction::Egress => self.egress.as_deref().unwrap_or(&[]),
        }
    }

    /// `namespace/name`.
    ///
    /// ```
    /// let p = netpol::policy::Policy::new(&netpol::model::NetworkPolicy::new("a", "b")).unwrap();
    /// assert_eq!(p.key(), "a/b");
    /// ```
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
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

/// Parses a CIDR exactly as the apiserver accepts `ipBlock` CIDRs (with default feature
/// gates, `k8s.io/utils/net.ParseCIDRSloppy`: Go 1.16's `net.ParseCIDR`), and returns the
/// network it means, truncated.
///
/// Accepted beyond the canonical form: host bits (`10.244.1.1/4` is `0.0.0.0/4`), leading
/// zeros in IPv4 octets, read as decimal (`010.0.0.0/8` is `10.0.0.0/8`), and in the prefix
/// length (`10.0.0.0/008`), IPv6 hex groups padded with leading zeros, and IPv4-mapped IPv6
/// (`::ffff:10.0.0.0/104`), which means what Go's `IPNet.Contains` makes of it: a network
/// whose masked address is IPv4-mapped is the IPv4 network with 96 fewer prefix bits
/// (`10.0.0.0/8` here). Zones, signs, spaces and anything else are refused, as upstream.
///
/// ```
/// use netpol::policy::parse_cidr;
/// assert_eq!(parse_cidr("10.244.1.1/4").unwrap().to_string(), "0.0.0.0/4");
/// assert_eq!(parse_cidr("010.001.0.0/016").unwrap().to_string(), "10.1.0.0/16");
/// assert_eq!(parse_cidr("::ffff:10.1.2.3/104").unwrap().to_string(), "10.0.0.0/8");
/// assert!(parse_cidr("10.0.0.0/33").is_err());
/// assert!(parse_cidr("10.0.0.0").is_err());
/// assert!(parse_cidr("fe80::1%eth0/64").is_err());
/// ```
pub fn parse_cidr(text: &str) -> Result<IpNet, ipnet::AddrParseError> {
    match crate::validate::GoIpNet::parse(text).and_then(|n| n.to_ipnet()) {
        Some(net) => Ok(net),
        // `AddrParseError` has no public constructor; the empty string never parses, so
        // this yields the crate's error value.
        None => IpNet::from_str("").map(|n| n.trunc()),
    }
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
            PortSpec::Range { start, end }
        }
        Some(IntOrString::String(name)) => PortSpec::Named(name.clone()),
    };
    Ok(PortRule {
        protocol,
        port: spec,
    })
}
