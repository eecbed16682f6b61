//! Normalised policies: what validation proves, held in types.
//!
//! Every policy kind the crate reads has an as-written model ([`crate::model`]) and a
//! normalised form here, built only after validation accepted the object:
//!
//! - [`Policy`]: a Kubernetes `networking.k8s.io/v1` NetworkPolicy, with its effective
//!   `policyTypes` (rules are present for exactly the directions the policy isolates),
//!   compiled selectors, parsed CIDRs, defaulted protocols and port ranges;
//! - [`ClusterPolicy`]: a `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy, with
//!   its tier, priority, subject and ordered rules with actions.
//!
//! A [`PolicySet`] holds policies of every kind for the evaluators; a plain slice of
//! [`Policy`] works wherever a set is expected ([`AsPolicySet`]). Past this point invalid
//! states cannot be represented: the fields are private, read through accessors.
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

mod cluster;
mod network;
mod set;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use cluster::{
    ClusterPeer, ClusterPolicy, ClusterPolicyBuilder, ClusterPort, ClusterRule, ClusterTier,
    DomainPattern, DomainPatternError, Subject, UnknownTier,
};
pub use network::{Peer, Policy, Rule};
pub use set::{
    AsPolicySet, IntoPolicySetItem, PolicyKind, PolicySet, PolicySetRef, UnknownPolicyKind,
};

/// A transport protocol a flow can use and policies can name.
///
/// ```
/// use netpol::policy::Protocol;
/// assert_eq!("UDP".parse::<Protocol>(), Ok(Protocol::Udp));
/// assert_eq!(Protocol::Sctp.to_string(), "SCTP");
/// assert!("udp".parse::<Protocol>().is_err()); // the Kubernetes API is case-sensitive
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

    /// The name the Kubernetes API uses.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Protocol::Tcp.as_str(), "TCP");
    /// ```
    #[must_use]
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
    #[must_use]
    pub fn index(self) -> usize {
        match self {
            Protocol::Tcp => 0,
            Protocol::Udp => 1,
            Protocol::Sctp => 2,
        }
    }

    /// [`index`](Self::index) as a byte, for compact tables.
    pub(crate) fn index_u8(self) -> u8 {
        match self {
            Protocol::Tcp => 0,
            Protocol::Udp => 1,
            Protocol::Sctp => 2,
        }
    }

    /// The IANA protocol number (6, 17, 132).
    ///
    /// ```
    /// assert_eq!(netpol::policy::Protocol::Udp.number(), 17);
    /// ```
    #[must_use]
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
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
/// use netpol::policy::Protocol;
/// let err = "ICMP".parse::<Protocol>().unwrap_err();
/// assert_eq!(err.name(), "ICMP");
/// assert_eq!(err.to_string(), r#"unsupported protocol "ICMP": supported values are "SCTP", "TCP", "UDP""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported protocol \"{0}\": supported values are \"SCTP\", \"TCP\", \"UDP\"")]
pub struct UnknownProtocol(String);

impl UnknownProtocol {
    /// The name that was given.
    ///
    /// ```
    /// assert_eq!("tcp".parse::<netpol::policy::Protocol>().unwrap_err().name(), "tcp");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0
    }
}

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
/// assert_eq!("Ingress".parse::<Direction>(), Ok(Direction::Ingress));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Direction {
    /// Traffic into the selected pods.
    Ingress,
    /// Traffic out of the selected pods.
    Egress,
}

impl Direction {
    /// Both directions, ingress first.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Direction::BOTH.len(), 2);
    /// ```
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// The name the API uses in `policyTypes`.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Direction::Ingress.as_str(), "Ingress");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }

    /// The rule list's field name: `ingress` or `egress`.
    ///
    /// ```
    /// assert_eq!(netpol::policy::Direction::Egress.field(), "egress");
    /// ```
    #[must_use]
    pub fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A direction name that is not `Ingress` or `Egress`.
///
/// ```
/// let err = "ingress".parse::<netpol::policy::Direction>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown direction "ingress": expected "Ingress" or "Egress""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown direction \"{0}\": expected \"Ingress\" or \"Egress\"")]
pub struct UnknownDirection(String);

impl FromStr for Direction {
    type Err = UnknownDirection;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Ingress" => Ok(Direction::Ingress),
            "Egress" => Ok(Direction::Egress),
            other => Err(UnknownDirection(other.to_owned())),
        }
    }
}

/// What a matching rule does with a flow, in one direction.
///
/// Kubernetes NetworkPolicy rules are all `Allow`; ClusterNetworkPolicy's `Accept` is
/// `Allow`; Calico adds `Log`, which matches and lets evaluation go on.
///
/// ```
/// use netpol::policy::Action;
/// assert_eq!("Deny".parse::<Action>(), Ok(Action::Deny));
/// assert_eq!(Action::Allow.to_string(), "Allow");
/// assert!(Action::Pass.is_terminal_in_tier() && !Action::Log.is_terminal_in_tier());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Action {
    /// Allow this direction; no further rule is read.
    Allow,
    /// Deny this direction; no further rule is read.
    Deny,
    /// Skip the rest of this tier and go on with the next one.
    Pass,
    /// Record the match and go on with the next rule.
    Log,
}

impl Action {
    /// The name as written in Calico and in explanations (`Allow`, `Deny`, `Pass`, `Log`).
    ///
    /// ```
    /// assert_eq!(netpol::policy::Action::Pass.as_str(), "Pass");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
            Action::Log => "Log",
        }
    }

    /// Whether a match with this action ends the walk through the current tier (every
    /// action but `Log`).
    ///
    /// ```
    /// assert!(netpol::policy::Action::Deny.is_terminal_in_tier());
    /// ```
    #[must_use]
    pub fn is_terminal_in_tier(self) -> bool {
        !matches!(self, Action::Log)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not `Allow`, `Deny`, `Pass` or `Log`.
///
/// ```
/// let err = "Accept".parse::<netpol::policy::Action>().unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown action "Accept": expected "Allow", "Deny", "Pass" or "Log""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action \"{0}\": expected \"Allow\", \"Deny\", \"Pass\" or \"Log\"")]
pub struct UnknownAction(String);

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Allow" => Ok(Action::Allow),
            "Deny" => Ok(Action::Deny),
            "Pass" => Ok(Action::Pass),
            "Log" => Ok(Action::Log),
            other => Err(UnknownAction(other.to_owned())),
        }
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
/// assert_eq!(b.except().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CidrBlock {
    cidr: IpNet,
    except: Vec<IpNet>,
}

impl CidrBlock {
    /// A block from its parts; every network is truncated (host bits cleared).
    ///
    /// ```
    /// use netpol::policy::CidrBlock;
    /// let b = CidrBlock::new("10.244.1.1/4".parse().unwrap(), vec![]);
    /// assert_eq!(b.cidr().to_string(), "0.0.0.0/4");
    /// ```
    #[must_use]
    pub fn new(cidr: IpNet, except: Vec<IpNet>) -> Self {
        CidrBlock {
            cidr: cidr.trunc(),
            except: except.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// The network.
    ///
    /// ```
    /// let b = netpol::policy::CidrBlock::new("10.0.0.0/8".parse().unwrap(), vec![]);
    /// assert_eq!(b.cidr().prefix_len(), 8);
    /// ```
    #[must_use]
    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    /// Networks inside [`cidr`](Self::cidr) that are not part of the block.
    ///
    /// ```
    /// let b = netpol::policy::CidrBlock::new("10.0.0.0/8".parse().unwrap(), vec!["10.1.0.0/16".parse().unwrap()]);
    /// assert_eq!(b.except()[0].to_string(), "10.1.0.0/16");
    /// ```
    #[must_use]
    pub fn except(&self) -> &[IpNet] {
        &self.except
    }

    /// Whether `addr` is inside `cidr` and outside every `except` entry.
    ///
    /// ```
    /// use netpol::policy::CidrBlock;
    /// let all = CidrBlock::new("0.0.0.0/0".parse().unwrap(), vec![]);
    /// assert!(all.contains("203.0.113.7".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.cidr.contains(&addr) && !self.except.iter().any(|e| e.contains(&addr))
    }
}

/// A CIDR the apiserver would refuse.
///
/// ```
/// let err = netpol::policy::parse_cidr("10.0.0.0/33").unwrap_err();
/// assert_eq!(err.text(), "10.0.0.0/33");
/// assert_eq!(err.to_string(), r#"invalid CIDR address: "10.0.0.0/33""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR address: \"{0}\"")]
pub struct CidrError(String);

impl CidrError {
    /// The text that was given.
    ///
    /// ```
    /// assert_eq!(netpol::policy::parse_cidr("x").unwrap_err().text(), "x");
    /// ```
    #[must_use]
    pub fn text(&self) -> &str {
        &self.0
    }
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
pub fn parse_cidr(text: &str) -> Result<IpNet, CidrError> {
    crate::validate::GoIpNet::parse(text)
        .and_then(|n| n.to_ipnet())
        .ok_or_else(|| CidrError(text.to_owned()))
}

/// Which ports of a protocol a port entry names.
///
/// ```
/// use netpol::policy::PortSpec;
/// assert!(PortSpec::All.contains_number(1));
/// assert!(!PortSpec::Named("http".into()).contains_number(80));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PortSpec {
    /// No `port`: every port.
    All,
    /// `port` (and `endPort`): `start..=end` with `1 <= start <= end`; a single port has
    /// `start == end`.
    #[non_exhaustive]
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
    /// use netpol::policy::PortSpec;
    /// assert!(PortSpec::range(80, 90).unwrap().contains_number(85));
    /// ```
    #[must_use]
    pub fn contains_number(&self, port: u16) -> bool {
        match self {
            PortSpec::All => true,
            PortSpec::Range { start, end } => (*start..=*end).contains(&port),
            PortSpec::Named(_) => false,
        }
    }

    /// A range `start..=end`, `None` unless `1 <= start <= end`.
    ///
    /// ```
    /// use netpol::policy::PortSpec;
    /// assert!(PortSpec::range(90, 80).is_none() && PortSpec::range(0, 80).is_none());
    /// assert_eq!(PortSpec::range(53, 53), PortSpec::range(53, 53));
    /// ```
    #[must_use]
    pub fn range(start: u16, end: u16) -> Option<Self> {
        (start >= 1 && start <= end).then_some(PortSpec::Range { start, end })
    }
}

/// One `ports` entry, normalised.
///
/// ```
/// use netpol::policy::{PortRule, PortSpec, Protocol};
/// let r = PortRule::new(Protocol::Tcp, PortSpec::range(5432, 5432).unwrap());
/// assert_eq!(r.to_string(), "5432/TCP");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PortRule {
    /// The protocol (`TCP` when not written).
    pub protocol: Protocol,
    /// The ports.
    pub port: PortSpec,
}

impl PortRule {
    /// A port entry from its parts.
    ///
    /// ```
    /// use netpol::policy::{PortRule, PortSpec, Protocol};
    /// assert_eq!(PortRule::new(Protocol::Udp, PortSpec::All).to_string(), "*/UDP");
    /// ```
    #[must_use]
    pub fn new(protocol: Protocol, port: PortSpec) -> Self {
        PortRule { protocol, port }
    }
}

impl fmt::Display for PortRule {
    /// `PORT/PROTOCOL`: `5432/TCP`, a range `8080-8090/TCP`, a name `http/TCP`, or `*/UDP`
    /// for every port. [`FromStr`] reads it back.
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

/// Text that is not a [`PortRule`].
///
/// ```
/// use netpol::policy::PortRule;
/// let err = "80/ICMP".parse::<PortRule>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid port rule "80/ICMP": unsupported protocol "ICMP": supported values are "SCTP", "TCP", "UDP""#);
/// assert!(std::error::Error::source(&err).is_some());
/// let err = "0/TCP".parse::<PortRule>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid port rule "0/TCP": expected PORT/PROTOCOL with PORT a number 1-65535, a range START-END, a port name or *"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortRuleError {
    /// No `/`, or a port part that is not a number, a range, a port name or `*`.
    #[error(
        "invalid port rule \"{0}\": expected PORT/PROTOCOL with PORT a number 1-65535, a range START-END, a port name or *"
    )]
    Port(String),
    /// The protocol is not `TCP`, `UDP` or `SCTP`.
    #[error("invalid port rule \"{text}\": {source}")]
    Protocol {
        /// The text that was given.
        text: String,
        /// The protocol's error.
        #[source]
        source: UnknownProtocol,
    },
}

impl FromStr for PortRule {
    type Err = PortRuleError;
    /// Reads [`Display`](fmt::Display)'s form: `PORT/PROTOCOL` where PORT is a number
    /// (1-65535), a range `START-END` (`1 <= START <= END`), `*` for every port, or a port
    /// name as the API accepts it (an IANA service name: lowercase letters, digits and
    /// `-`, at least one letter, at most 15 characters); PROTOCOL is `TCP`, `UDP` or
    /// `SCTP`.
    ///
    /// ```
    /// use netpol::policy::{PortRule, PortSpec, Protocol};
    /// assert_eq!("53/UDP".parse(), Ok(PortRule::new(Protocol::Udp, PortSpec::range(53, 53).unwrap())));
    /// assert_eq!("8080-8090/TCP".parse(), Ok(PortRule::new(Protocol::Tcp, PortSpec::range(8080, 8090).unwrap())));
    /// assert_eq!("http-alt/TCP".parse(), Ok(PortRule::new(Protocol::Tcp, PortSpec::Named("http-alt".into()))));
    /// assert_eq!("*/SCTP".parse(), Ok(PortRule::new(Protocol::Sctp, PortSpec::All)));
    /// assert!("90-80/TCP".parse::<PortRule>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PortRuleError::Port(s.to_owned());
        let (port, protocol) = s.rsplit_once('/').ok_or_else(bad)?;
        let protocol = protocol
            .parse::<Protocol>()
            .map_err(|source| PortRuleError::Protocol {
                text: s.to_owned(),
                source,
            })?;
        let number = |n: &str| {
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<u16>().ok())
                .flatten()
        };
        let spec = if port == "*" {
            Some(PortSpec::All)
        } else if let Some(n) = number(port) {
            PortSpec::range(n, n)
        } else if let Some((a, b)) = port
            .split_once('-')
            .and_then(|(a, b)| Some((number(a)?, number(b)?)))
        {
            PortSpec::range(a, b)
        } else if crate::validate::is_valid_port_name(port).is_empty() {
            Some(PortSpec::Named(port.to_owned()))
        } else {
            None
        };
        spec.map(|port| PortRule::new(protocol, port))
            .ok_or_else(bad)
    }
}
