//! Port sets and port equivalence classes.
//!
//! [`PortRanges`] is a set of port numbers of one protocol, held as sorted disjoint
//! ranges; [`Ports`] holds one per protocol and prints the way people write firewall
//! rules (`TCP 80, 8080-8090; UDP 53`). [`PortClasses`] cuts each protocol's ports into
//! the intervals no policy can tell apart: every port range of every rule, of every policy
//! kind, and every number a named port resolves to on some pod starts or ends one, so that
//! an analysis decides one port per interval instead of probing every port.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calico::{CalicoPolicy, PortValue};
use crate::cluster::Cluster;
use crate::policy::{
    AsPolicySet, ClusterPolicy, ClusterPort, Direction, Policy, PolicySetRef, PortSpec, Protocol,
};

/// A set of port numbers (1 to 65535) of one protocol, as sorted, disjoint, non-adjacent
/// inclusive ranges.
///
/// ```
/// use netpol::analysis::PortRanges;
/// let web = PortRanges::from_ranges([(8080, 8090), (80, 80), (8091, 8100)]);
/// assert_eq!(web.ranges(), &[(80, 80), (8080, 8100)]);
/// assert_eq!(web.to_string(), "80, 8080-8100");
/// assert!(web.contains(8085) && !web.contains(81));
/// assert_eq!(web.count(), 22);
/// let http = PortRanges::from_ranges([(80, 80)]);
/// assert_eq!(web.difference(&http).to_string(), "8080-8100");
/// assert_eq!(PortRanges::all().to_string(), "all");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRanges(Vec<(u16, u16)>);

impl PortRanges {
    /// No port.
    ///
    /// ```
    /// assert!(netpol::analysis::PortRanges::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        PortRanges(Vec::new())
    }

    /// Every port, 1 to 65535.
    ///
    /// ```
    /// assert!(netpol::analysis::PortRanges::all().is_all());
    /// ```
    #[must_use]
    pub fn all() -> Self {
        PortRanges(vec![(1, u16::MAX)])
    }

    /// The set of the given inclusive ranges, in any order, overlapping or not; ranges
    /// with `start > end` and port 0 are left out.
    ///
    /// ```
    /// use netpol::analysis::PortRanges;
    /// assert_eq!(PortRanges::from_ranges([(0, 2), (5, 4)]).ranges(), &[(1, 2)]);
    /// ```
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u16, u16)>) -> Self {
        let mut v: Vec<(u16, u16)> = ranges
            .into_iter()
            .map(|(a, b)| (a.max(1), b))
            .filter(|(a, b)| a <= b)
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        PortRanges(out)
    }

    /// Adds `start..=end` after every range already held (`start` above them all);
    /// merges with the last range when adjacent. Out of order input is merged properly
    /// but more slowly.
    fn push(&mut self, start: u16, end: u16) {
        match self.0.last_mut() {
            Some(last) if u32::from(start) <= u32::from(last.1) + 1 && start >= last.0 => {
                last.1 = last.1.max(end);
            }
            Some(last) if start < last.0 => {
                let mut v = std::mem::take(&mut self.0);
                v.push((start, end));
                *self = PortRanges::from_ranges(v);
            }
            _ => self.0.push((start, end)),
        }
    }

    /// The ranges, sorted.
    ///
    /// ```
    /// assert_eq!(netpol::analysis::PortRanges::all().ranges(), &[(1, 65535)]);
    /// ```
    #[must_use]
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// Whether no port is held.
    ///
    /// ```
    /// assert!(!netpol::analysis::PortRanges::all().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every port 1 to 65535 is held.
    ///
    /// ```
    /// assert!(!netpol::analysis::PortRanges::new().is_all());
    /// ```
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.0 == [(1, u16::MAX)]
    }

    /// Whether `port` is held.
    ///
    /// ```
    /// assert!(netpol::analysis::PortRanges::all().contains(1));
    /// ```
    #[must_use]
    pub fn contains(&self, port: u16) -> bool {
        let i = self.0.partition_point(|(_, end)| *end < port);
        self.0.get(i).is_some_and(|(start, _)| *start <= port)
    }

    /// How many ports are held.
    ///
    /// ```
    /// assert_eq!(netpol::analysis::PortRanges::all().count(), 65535);
    /// ```
    #[must_use]
    pub fn count(&self) -> u32 {
        self.0
            .iter()
            .map(|(a, b)| u32::from(*b) - u32::from(*a) + 1)
            .sum()
    }

    /// The ports held here or in `other`.
    ///
    /// ```
    /// use netpol::analysis::PortRanges;
    /// let a = PortRanges::from_ranges([(1, 5)]);
    /// assert_eq!(a.union(&PortRanges::from_ranges([(6, 9)])).ranges(), &[(1, 9)]);
    /// ```
    #[must_use]
    pub fn union(&self, other: &PortRanges) -> PortRanges {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        PortRanges::from_ranges(self.0.iter().chain(&other.0).copied())
    }

    /// The ports held both here and in `other`.
    ///
    /// ```
    /// use netpol::analysis::PortRanges;
    /// let a = PortRanges::from_ranges([(1, 5), (10, 20)]);
    /// let b = PortRanges::from_ranges([(4, 12)]);
    /// assert_eq!(a.intersection(&b).ranges(), &[(4, 5), (10, 12)]);
    /// ```
    #[must_use]
    pub fn intersection(&self, other: &PortRanges) -> PortRanges {
        if self.is_all() {
            return other.clone();
        }
        if other.is_all() {
            return self.clone();
        }
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), other.0.get(j)) {
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortRanges(out)
    }

    /// The ports held here and not in `other`.
    ///
    /// ```
    /// use netpol::analysis::PortRanges;
    /// let d = PortRanges::all().difference(&PortRanges::from_ranges([(2, 65534)]));
    /// assert_eq!(d.ranges(), &[(1, 1), (65535, 65535)]);
    /// ```
    #[must_use]
    pub fn difference(&self, other: &PortRanges) -> PortRanges {
        if other.is_empty() || self.is_empty() {
            return self.clone();
        }
        let mut out = Vec::new();
        let mut j = 0;
        for &(a0, a1) in &self.0 {
            let mut start = u32::from(a0);
            let end = u32::from(a1);
            while let Some(&(b0, b1)) = other.0.get(j) {
                if u32::from(b1) < start {
                    j += 1;
                    continue;
                }
                if u32::from(b0) > end {
                    break;
                }
                if u32::from(b0) > start {
                    out.push((to_port(start), b0 - 1));
                }
                start = u32::from(b1) + 1;
                if u32::from(b1) >= end {
                    break;
                }
                j += 1;
            }
            if start <= end {
                out.push((to_port(start), to_port(end)));
            }
        }
        PortRanges(out)
    }
}

fn to_port(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl fmt::Display for PortRanges {
    /// `all`, `none`, or the ranges separated by `", "` (`80, 8080-8100`);
    /// [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Text that is not a port set: the text and what was expected.
///
/// ```
/// use netpol::analysis::Ports;
/// let err = "TCP 0".parse::<Ports>().unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid ports "TCP 0": a port 1-65535 or a range START-END"#);
/// let err = "ICMP 1".parse::<Ports>().unwrap_err();
/// assert!(std::error::Error::source(&err).is_some()); // the protocol's error
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ports \"{text}\": {expected}")]
pub struct PortsError {
    text: String,
    expected: &'static str,
    #[source]
    protocol: Option<crate::policy::UnknownProtocol>,
}

impl PortsError {
    fn new(text: &str, expected: &'static str) -> Self {
        PortsError {
            text: text.to_owned(),
            expected,
            protocol: None,
        }
    }

    /// The text that was given.
    ///
    /// ```
    /// assert_eq!("5-".parse::<netpol::analysis::PortRanges>().unwrap_err().text(), "5-");
    /// ```
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }
}

const PORT_OR_RANGE: &str = "a port 1-65535 or a range START-END";

impl std::str::FromStr for PortRanges {
    type Err = PortsError;
    /// `all`, `none`, or ports and ranges `START-END` separated by commas, in any order
    /// (whitespace around them is ignored). Port 0 and a range with `START > END` are
    /// refused.
    ///
    /// ```
    /// use netpol::analysis::PortRanges;
    /// let p: PortRanges = "8091-8100, 80,8080-8090".parse()?;
    /// assert_eq!(p.to_string(), "80, 8080-8100");
    /// assert!("all".parse::<PortRanges>()?.is_all());
    /// # Ok::<(), netpol::analysis::PortsError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => return Ok(PortRanges::all()),
            "none" => return Ok(PortRanges::new()),
            _ => {}
        }
        let port = |t: &str| {
            let t = t.trim();
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u16>().ok())
                .flatten()
                .filter(|p| *p > 0)
        };
        s.split(',')
            .map(|entry| {
                let range = match entry.split_once('-') {
                    Some((a, b)) => port(a).zip(port(b)),
                    None => port(entry).map(|p| (p, p)),
                };
                range
                    .filter(|(a, b)| a <= b)
                    .ok_or_else(|| PortsError::new(s, PORT_OR_RANGE))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(PortRanges::from_ranges)
    }
}

impl Serialize for PortRanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PortRanges {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<(u16, u16)>::deserialize(d)?;
        Ok(PortRanges::from_ranges(v))
    }
}

/// Port sets per protocol (TCP, UDP, SCTP): what a connection allows.
///
/// Prints as `TCP 80, 8080-8090; UDP 53`, `all` for every port of every protocol and
/// `none` for the empty set; serializes as an object with a list of inclusive
/// `[first, last]` ranges per protocol that holds any port.
///
/// ```
/// use netpol::analysis::{PortRanges, Ports};
/// use netpol::policy::Protocol;
/// let mut p = Ports::none();
/// p.insert(Protocol::Tcp, 8080, 8090);
/// p.insert(Protocol::Tcp, 80, 80);
/// p.insert(Protocol::Udp, 53, 53);
/// assert_eq!(p.to_string(), "TCP 80, 8080-8090; UDP 53");
/// assert_eq!(serde_json::to_string(&p)?, r#"{"TCP":[[80,80],[8080,8090]],"UDP":[[53,53]]}"#);
/// assert!(p.contains(Protocol::Udp, 53) && !p.contains(Protocol::Sctp, 53));
/// assert_eq!(serde_json::from_str::<Ports>(r#"{"UDP":[[53,53]]}"#)?.get(Protocol::Udp), &PortRanges::from_ranges([(53, 53)]));
/// assert_eq!(Ports::all().to_string(), "all");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ports([PortRanges; 3]);

impl Ports {
    /// No port of any protocol.
    ///
    /// ```
    /// assert!(netpol::analysis::Ports::none().is_empty());
    /// ```
    #[must_use]
    pub fn none() -> Self {
        Ports::default()
    }

    /// Every port of every protocol.
    ///
    /// ```
    /// assert!(netpol::analysis::Ports::all().is_all());
    /// ```
    #[must_use]
    pub fn all() -> Self {
        Ports([PortRanges::all(), PortRanges::all(), PortRanges::all()])
    }

    /// One protocol's ports.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// assert!(netpol::analysis::Ports::all().get(Protocol::Sctp).is_all());
    /// ```
    #[must_use]
    pub fn get(&self, protocol: Protocol) -> &PortRanges {
        let [tcp, udp, sctp] = &self.0;
        match protocol {
            Protocol::Tcp => tcp,
            Protocol::Udp => udp,
            Protocol::Sctp => sctp,
        }
    }

    fn get_mut(&mut self, protocol: Protocol) -> &mut PortRanges {
        let [tcp, udp, sctp] = &mut self.0;
        match protocol {
            Protocol::Tcp => tcp,
            Protocol::Udp => udp,
            Protocol::Sctp => sctp,
        }
    }

    /// Replaces one protocol's ports.
    ///
    /// ```
    /// use netpol::analysis::{PortRanges, Ports};
    /// use netpol::policy::Protocol;
    /// let mut p = Ports::none();
    /// p.set(Protocol::Udp, PortRanges::all());
    /// assert_eq!(p.to_string(), "UDP all");
    /// ```
    pub fn set(&mut self, protocol: Protocol, ports: PortRanges) {
        *self.get_mut(protocol) = ports;
    }

    /// Adds the ports `start..=end` of a protocol.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// let mut p = netpol::analysis::Ports::none();
    /// p.insert(Protocol::Tcp, 1, 65535);
    /// assert_eq!(p.to_string(), "TCP all");
    /// ```
    pub fn insert(&mut self, protocol: Protocol, start: u16, end: u16) {
        if start.max(1) <= end {
            self.get_mut(protocol).push(start.max(1), end);
        }
    }

    /// Whether a port of a protocol is held.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// assert!(netpol::analysis::Ports::all().contains(Protocol::Tcp, 80));
    /// ```
    #[must_use]
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.get(protocol).contains(port)
    }

    /// Whether no port of any protocol is held.
    ///
    /// ```
    /// assert!(!netpol::analysis::Ports::all().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(PortRanges::is_empty)
    }

    /// Whether every port of every protocol is held.
    ///
    /// ```
    /// assert!(!netpol::analysis::Ports::none().is_all());
    /// ```
    pub fn is_all(&self) -> bool {
        self.0.iter().all(PortRanges::is_all)
    }

    /// The protocols holding a port, with their ports, in TCP, UDP, SCTP order.
    ///
    /// ```
    /// use netpol::policy::Protocol;
    /// let mut p = netpol::analysis::Ports::none();
    /// p.insert(Protocol::Udp, 53, 53);
    /// assert_eq!(p.iter().map(|(proto, _)| proto).collect::<Vec<_>>(), [Protocol::Udp]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (Protocol, &PortRanges)> + '_ {
        Protocol::ALL
            .into_iter()
            .zip(self.0.iter())
            .filter(|(_, r)| !r.is_empty())
    }

    fn zip_with(&self, other: &Ports, f: impl Fn(&PortRanges, &PortRanges) -> PortRanges) -> Ports {
        let [a, b, c] = &self.0;
        let [x, y, z] = &other.0;
        Ports([f(a, x), f(b, y), f(c, z)])
    }

    /// The ports held here or in `other`.
    ///
    /// ```
    /// use netpol::analysis::Ports;
    /// assert!(Ports::none().union(&Ports::all()).is_all());
    /// ```
    #[must_use]
    pub fn union(&self, other: &Ports) -> Ports {
        self.zip_with(other, PortRanges::union)
    }

    /// The ports held both here and in `other`.
    ///
    /// ```
    /// use netpol::analysis::Ports;
    /// assert!(Ports::none().intersection(&Ports::all()).is_empty());
    /// ```
    #[must_use]
    pub fn intersection(&self, other: &Ports) -> Ports {
        self.zip_with(other, PortRanges::intersection)
    }

    /// The ports held here and not in `other`.
    ///
    /// ```
    /// use netpol::analysis::Ports;
    /// assert!(Ports::all().difference(&Ports::all()).is_empty());
    /// ```
    #[must_use]
    pub fn difference(&self, other: &Ports) -> Ports {
        self.zip_with(other, PortRanges::difference)
    }
}

impl fmt::Display for Ports {
    /// `all`, `none`, or per protocol holding a port its ranges, separated by `"; "`
    /// (`TCP 80, 8080-8090; UDP 53`); [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, (proto, ranges)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{proto} {ranges}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Ports {
    type Err = PortsError;
    /// `all`, `none`, or `PROTOCOL PORTS` entries separated by `;`, PROTOCOL one of `TCP`,
    /// `UDP`, `SCTP` and PORTS as [`PortRanges`] reads them; a protocol named twice holds
    /// the union.
    ///
    /// ```
    /// use netpol::analysis::Ports;
    /// use netpol::policy::Protocol;
    /// let p: Ports = "TCP 80, 443; UDP all".parse()?;
    /// assert!(p.contains(Protocol::Tcp, 443) && p.get(Protocol::Udp).is_all());
    /// assert_eq!(p.to_string(), "TCP 80, 443; UDP all");
    /// # Ok::<(), netpol::analysis::PortsError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => return Ok(Ports::all()),
            "none" => return Ok(Ports::none()),
            _ => {}
        }
        let mut out = Ports::none();
        for entry in s.split(';') {
            let (protocol, ranges) = entry
                .trim()
                .split_once(char::is_whitespace)
                .ok_or_else(|| PortsError::new(s, "PROTOCOL PORTS entries separated by ';'"))?;
            let protocol = protocol.parse::<Protocol>().map_err(|e| PortsError {
                protocol: Some(e),
                ..PortsError::new(s, "a protocol TCP, UDP or SCTP")
            })?;
            let ranges = ranges
                .parse::<PortRanges>()
                .map_err(|_| PortsError::new(s, PORT_OR_RANGE))?;
            let merged = out.get(protocol).union(&ranges);
            out.set(protocol, merged);
        }
        Ok(out)
    }
}

impl Serialize for Ports {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, &PortRanges> = self.iter().map(|(p, r)| (p.as_str(), r)).collect();
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ports {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<Protocol, PortRanges>::deserialize(d)?;
        let mut out = Ports::none();
        for (p, r) in map {
            out.set(p, r);
        }
        Ok(out)
    }
}

/// Interval starts per protocol (in [`Protocol::ALL`] order), unsorted until
/// [`Breaks::finish`]: a port where some rule's port condition may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Breaks(pub(crate) [Vec<u16>; 3]);

impl Breaks {
    fn of(&mut self, protocol: Protocol) -> &mut Vec<u16> {
        let [tcp, udp, sctp] = &mut self.0;
        match protocol {
            Protocol::Tcp => tcp,
            Protocol::Udp => udp,
            Protocol::Sctp => sctp,
        }
    }

    /// Ports `start..=end` of `protocol` (every protocol when `None`) behave alike.
    pub(crate) fn range(&mut self, protocol: Option<Protocol>, start: u16, end: u16) {
        for p in Protocol::ALL {
            if protocol.is_none_or(|q| q == p) {
                let v = self.of(p);
                v.push(start.max(1));
                if end < u16::MAX {
                    v.push(end + 1);
                }
            }
        }
    }

    /// Sorts and deduplicates.
    pub(crate) fn finish(&mut self) {
        for v in &mut self.0 {
            v.sort_unstable();
            v.dedup();
        }
    }

    /// Adds every start of `other`.
    pub(crate) fn extend(&mut self, other: &Breaks) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.extend_from_slice(b);
        }
    }

    /// The starts of one protocol.
    pub(crate) fn get(&self, protocol: Protocol) -> &[u16] {
        let [tcp, udp, sctp] = &self.0;
        match protocol {
            Protocol::Tcp => tcp,
            Protocol::Udp => udp,
            Protocol::Sctp => sctp,
        }
    }

    /// The rules of a NetworkPolicy in one direction.
    pub(crate) fn network_policy(&mut self, p: &Policy, direction: Direction) {
        for rule in p.rules(direction) {
            for port in rule.ports.iter().flatten() {
                if let PortSpec::Range { start, end } = port.port {
                    self.range(Some(port.protocol), start, end);
                }
            }
        }
    }

    /// The rules of a ClusterNetworkPolicy in one direction.
    pub(crate) fn cluster_policy(&mut self, p: &ClusterPolicy, direction: Direction) {
        for rule in p.rules(direction) {
            for port in rule.ports().unwrap_or(&[]) {
                if let ClusterPort::Ports {
                    protocol,
                    start,
                    end,
                } = port
                {
                    self.range(Some(*protocol), *start, *end);
                }
            }
        }
    }

    /// The rules of a Calico policy in one direction (ports and notPorts of both ends,
    /// for every protocol the rule may match).
    pub(crate) fn calico_policy(&mut self, p: &CalicoPolicy, direction: Direction) {
        for rule in p.rules(direction) {
            let protocols: Vec<Protocol> = Protocol::ALL
                .into_iter()
                .filter(|q| rule.protocol().is_none_or(|m| m.matches(*q)))
                .collect();
            for entity in [rule.source(), rule.destination()] {
                for value in entity.ports().iter().chain(entity.not_ports()) {
                    if let PortValue::Range(lo, hi) = value {
                        for q in &protocols {
                            self.range(Some(*q), *lo, *hi);
                        }
                    }
                }
            }
        }
    }

    /// Every number a container port of a pod of the cluster has (where named ports may
    /// resolve).
    pub(crate) fn named_ports(&mut self, cluster: &Cluster) {
        for (_, pod) in cluster.pods() {
            for c in pod.ports.iter() {
                if c.name.is_some() {
                    self.range(Some(c.protocol), c.port, c.port);
                }
            }
        }
    }

    /// Every rule of every policy of a set, both directions.
    pub(crate) fn policy_set(&mut self, set: PolicySetRef<'_>) {
        for d in [Direction::Ingress, Direction::Egress] {
            for p in set.network_policies() {
                self.network_policy(p, d);
            }
            for p in set.cluster_policies() {
                self.cluster_policy(p, d);
            }
            for p in set.calico_policies() {
                self.calico_policy(p, d);
            }
        }
    }
}

/// The intervals of one protocol's ports cut at sorted `starts`: `(first, last)` pairs
/// covering 1 to 65535.
pub(crate) fn intervals(starts: &[u16]) -> impl Iterator<Item = (u16, u16)> + '_ {
    let first = std::iter::once(1u16).chain(starts.iter().copied().filter(|s| *s > 1));
    let mut it = first.peekable();
    std::iter::from_fn(move || {
        let a = it.next()?;
        while it.peek() == Some(&a) {
            it.next();
        }
        let b = it.peek().map_or(u16::MAX, |n| n - 1);
        Some((a, b))
    })
}

/// The ports of each protocol cut into intervals that no policy can tell apart: inside an
/// interval, every rule of every policy (NetworkPolicy, ClusterNetworkPolicy, Calico)
/// matches all of its ports or none, and no pod has a named container port at a number
/// other than the interval's other numbers. So every flow's verdict is the same for all
/// ports of an interval, and one port decides for all.
///
/// ```
/// use netpol::analysis::PortClasses;
/// use netpol::cluster::{Cluster, ContainerPort, PodSpec};
/// use netpol::model::decode_policies;
/// use netpol::policy::{Policy, Protocol};
/// let cluster = Cluster::builder()
///     .pod(PodSpec::new("x", "a").port(ContainerPort::named("http", 8080, Protocol::Tcp)))
///     .build()?;
/// let written = decode_policies(r#"{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
///   "metadata": {"name": "p", "namespace": "x"},
///   "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": 8000, "endPort": 8999}, {"port": "http"}]}]}}"#)?;
/// let policies: Vec<Policy> = written.iter().map(Policy::new).collect::<Result<_, _>>()?;
/// let classes = PortClasses::new(&cluster, &policies);
/// let tcp: Vec<(u16, u16)> = classes.intervals(Protocol::Tcp).collect();
/// assert_eq!(tcp, [(1, 79), (80, 80), (81, 7999), (8000, 8079), (8080, 8080), (8081, 8999), (9000, 65535)]);
/// assert_eq!(classes.intervals(Protocol::Udp).count(), 1);
/// assert_eq!(classes.class_of(Protocol::Tcp, 8500), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortClasses {
    breaks: Breaks,
}

impl PortClasses {
    /// The port classes of a cluster's named ports and a set of policies.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let classes = netpol::analysis::PortClasses::new(&cluster, &[]);
    /// assert_eq!(classes.len(netpol::policy::Protocol::Tcp), 1);
    /// ```
    pub fn new(cluster: &Cluster, policies: &(impl AsPolicySet + ?Sized)) -> Self {
        let mut breaks = Breaks::default();
        breaks.policy_set(policies.as_policy_set());
        breaks.named_ports(cluster);
        breaks.finish();
        PortClasses { breaks }
    }

    /// The intervals of a protocol, `(first, last)`, in order, covering 1 to 65535.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let classes = netpol::analysis::PortClasses::new(&cluster, &[]);
    /// assert_eq!(classes.intervals(netpol::policy::Protocol::Udp).collect::<Vec<_>>(), [(1, 65535)]);
    /// ```
    pub fn intervals(&self, protocol: Protocol) -> impl Iterator<Item = (u16, u16)> + '_ {
        intervals(self.breaks.get(protocol))
    }

    /// How many intervals a protocol has.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let classes = netpol::analysis::PortClasses::new(&cluster, &[]);
    /// assert_eq!(classes.len(netpol::policy::Protocol::Sctp), 1);
    /// ```
    #[must_use]
    pub fn len(&self, protocol: Protocol) -> usize {
        self.intervals(protocol).count()
    }

    /// The index of the interval holding `port` (port 0 is in the first).
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let classes = netpol::analysis::PortClasses::new(&cluster, &[]);
    /// assert_eq!(classes.class_of(netpol::policy::Protocol::Tcp, 443), 0);
    /// ```
    #[must_use]
    pub fn class_of(&self, protocol: Protocol, port: u16) -> usize {
        self.breaks
            .get(protocol)
            .iter()
            .filter(|s| **s > 1)
            .take_while(|s| **s <= port)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(r: &PortRanges) -> Vec<bool> {
        (0..=u16::MAX).map(|p| r.contains(p)).collect()
    }

    #[test]
    fn set_operations_agree_with_membership() {
        let sets = [
            PortRanges::new(),
            PortRanges::all(),
            PortRanges::from_ranges([(1, 1), (65535, 65535)]),
            PortRanges::from_ranges([(5, 10), (20, 30), (31, 40)]),
            PortRanges::from_ranges([(8, 25), (100, 200)]),
            PortRanges::from_ranges([(2, 65534)]),
        ];
        for a in &sets {
            for b in &sets {
                let (x, y) = (brute(a), brute(b));
                let u = brute(&a.union(b));
                let i = brute(&a.intersection(b));
                let d = brute(&a.difference(b));
                for p in 1..=usize::from(u16::MAX) {
                    assert_eq!(u[p], x[p] || y[p], "{a} | {b} at {p}");
                    assert_eq!(i[p], x[p] && y[p], "{a} & {b} at {p}");
                    assert_eq!(d[p], x[p] && !y[p], "{a} - {b} at {p}");
                }
            }
        }
    }

    #[test]
    fn intervals_cover_every_port_once() {
        let starts = [1u16, 2, 2, 80, 81, 65535];
        let v: Vec<_> = intervals(&starts).collect();
        assert_eq!(v, [(1, 1), (2, 79), (80, 80), (81, 65534), (65535, 65535)]);
        assert_eq!(intervals(&[]).collect::<Vec<_>>(), [(1, 65535)]);
    }

    #[test]
    fn push_out_of_order_merges() {
        let mut r = PortRanges::new();
        r.push(10, 20);
        r.push(21, 30);
        r.push(1, 5);
        assert_eq!(r.ranges(), &[(1, 5), (10, 30)]);
    }
}
