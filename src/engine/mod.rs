//! The compiled decision engine.
//!
//! [`Engine::build`] does the work once. Pods with the same namespace and labels form one
//! *identity* (selectors cannot tell them apart); every selector is resolved against the
//! identities, policies are put in evaluation order (ClusterNetworkPolicy's Admin tier by
//! priority, NetworkPolicy, Baseline by priority), and identities selected by the same
//! policies for a direction share a *class*. Each class is compiled into a short program:
//! its rules in walk order, consecutive rules with one action merged into a group (their
//! order among themselves cannot change a verdict), groups merged by port set, `Pass`
//! groups jumping to the end of their tier, and the NetworkPolicy tier ending in its
//! default deny. Every `ipBlock` and `networks` CIDR is lowered into one
//! longest-prefix-match map; the number of each pod's and node's address is looked up once.
//!
//! [`Engine::decide`] then answers a flow with a few array reads and bit tests per side, at
//! most two prefix lookups (for an address outside the cluster: in a small map of what
//! the rule index tells apart, and in the whole map when a rule's blocks need it), and
//! allocates nothing. A cluster holding only NetworkPolicy compiles to one group and a
//! deny per class, as fast as before tiers existed. Programs are read as 32-byte
//! instructions holding the common case inline, and where no tier is read through a rule
//! index, a class's first instruction is read from a record by class id, without its
//! head. Where one is and keeps its rows as flat arrays (at most 256 rules, as a hundred
//! ClusterNetworkPolicies make), a class whose walk begins with a scan of it has a record
//! too, holding the class's rules over that scan as one row and the program that follows:
//! such a walk reads neither its head nor the index's mask table, and builds with these
//! records decide in a copy of the decision code of their own, so that builds without
//! them run the code they ran before. A core that a [`live`] engine applied
//! ClusterNetworkPolicy or Calico policy changes to holds them in an overlay (its classes
//! left as they were) and decides in a mode of its own: a flow whose pods the overlay does
//! not touch as before, the others reading the overlay (see `live/policy.rs` and
//! `live/calico.rs`).
//! [`Engine::explain`] gives the same [`Explanation`]
//! as the [reference evaluator](crate::reference::Reference).
//!
//! The engine is immutable, `Send + Sync`, cheap to clone (one reference count), and
//! shares the [`Cluster`] it was built from instead of copying it.
//!
//! ```
//! use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
//! use netpol::engine::Engine;
//! use netpol::model::NetworkPolicy;
//! use netpol::policy::{Policy, Protocol};
//!
//! let cluster = Cluster::builder()
//!     .pod(PodSpec::new("shop", "db").label("app", "db").ip("10.244.1.5".parse().unwrap()))
//!     .pod(PodSpec::new("shop", "api").label("app", "api").ip("10.244.1.6".parse().unwrap()))
//!     .build()?;
//! let written = NetworkPolicy::from_json(r#"{
//!   "metadata": {"name": "db", "namespace": "shop"},
//!   "spec": {"podSelector": {"matchLabels": {"app": "db"}},
//!            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
//!                         "ports": [{"port": 5432}]}]}
//! }"#).unwrap();
//! let engine = Engine::build(&cluster, &[Policy::new(&written).unwrap()]);
//! let api = Endpoint::Pod(cluster.pod_id("shop", "api").unwrap());
//! let db = Endpoint::Pod(cluster.pod_id("shop", "db").unwrap());
//! assert!(engine.decide(Flow::new(api, db, 5432, Protocol::Tcp)).is_allowed());
//! assert!(!engine.decide(Flow::new(api, db, 5433, Protocol::Tcp)).is_allowed());
//! let why = engine.explain(Flow::new(api, db, 5432, Protocol::Tcp));
//! assert_eq!(why.ingress.allowed_by[0].to_string(), "shop/db spec.ingress[0]");
//! # Ok::<(), netpol::cluster::ClusterError>(())
//! ```

mod bitset;
mod blocks;
pub(crate) mod calico;
mod compile;
pub mod live;
mod matrix;
mod rule_index;
pub mod watch;

pub use matrix::Matrix;

use std::sync::Arc;

use smallvec::SmallVec;

use crate::cluster::{Cluster, Endpoint, Flow};
use crate::explain::{
    Decision, Explanation, PolicyRef, RuleRef, SideExplanation, Special, Step, TierRef, Verdict,
};
use crate::persist::{GrowVec, PVec};
use crate::policy::{Action, AsPolicySet, Direction, DomainPattern, PolicyKind, Protocol};
use crate::profile::Profile;

use bitset::{Bitset, BitsetTable};
use blocks::BlockIndex;

/// Builds an [`Engine`] with options.
///
/// ```
/// use netpol::engine::Engine;
/// use netpol::profile::Profile;
/// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
/// let engine = Engine::builder().profile(Profile::cilium()).build(&cluster, &[]);
/// assert_eq!(engine.profile().name(), "cilium");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct EngineBuilder {
    profile: Profile,
}

impl EngineBuilder {
    /// Chooses the plugin profile (the default is [`Profile::conformance`]).
    ///
    /// ```
    /// let b = netpol::engine::Engine::builder().profile(netpol::profile::Profile::conformance());
    /// # let _ = b;
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Compiles `policies` (already validated) against `cluster`. The engine shares the
    /// cluster (cloning a [`Cluster`] copies no data).
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::builder().build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(self, cluster: &Cluster, policies: &(impl AsPolicySet + ?Sized)) -> Engine {
        Engine {
            inner: Arc::new(compile::compile(
                self.profile,
                cluster,
                policies.as_policy_set(),
            )),
        }
    }
}

/// The compiled decision function. See the [module documentation](self).
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::engine::Engine;
/// let cluster = Cluster::builder()
///     .node("node-1", ["192.168.0.11".parse()?])
///     .pod(PodSpec::new("shop", "db").ip("10.244.1.5".parse()?).node("node-1"))
///     .build()?;
/// let engine = Engine::build(&cluster, &[]);
/// let db = Endpoint::Pod(cluster.pod_id("shop", "db").unwrap());
/// let kubelet = Endpoint::Node(cluster.node_id("node-1").unwrap());
/// assert!(engine.decide(Flow::new(kubelet, db, 8080, Default::default())).is_allowed());
/// let shared = engine.clone(); // cheap: the compiled tables are shared
/// assert_eq!(shared.cluster().pod_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// A flow names a pod or node that the engine's cluster does not hold: an id of another
/// cluster, or of an earlier build of it.
///
/// ```
/// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
/// use netpol::engine::Engine;
/// let old = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let new = old.to_builder().build()?;
/// let stale = Endpoint::Pod(old.pod_id("x", "a").unwrap());
/// let engine = Engine::build(&new, &[]);
/// let err = engine.try_decide(Flow::new(stale, stale, 80, Default::default())).unwrap_err();
/// assert_eq!(err.endpoint, stale);
/// assert!(!engine.decide(Flow::new(stale, stale, 80, Default::default())).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint} is not in the engine's cluster (an id of another cluster, or stale)")]
#[non_exhaustive]
pub struct UnknownEndpoint {
    /// The endpoint that was not found.
    pub endpoint: Endpoint,
}

/// Two ClusterNetworkPolicies of one tier with the same priority that both apply to some
/// pod of this cluster in the same direction: upstream leaves their relative order open
/// (this crate orders them by name).
///
/// ```
/// use netpol::cluster::{Cluster, PodSpec};
/// use netpol::engine::Engine;
/// use netpol::policy::{Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterTier, PolicySet, Subject};
/// use netpol::selector::Selector;
/// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build()?;
/// let rule = || ClusterRule::new(Action::Deny, vec![ClusterPeer::Namespaces(Selector::everything())]);
/// let all = || Subject::Namespaces(Selector::everything());
/// let set: PolicySet = [
///     ClusterPolicy::builder("b", ClusterTier::Admin, 5, all()).ingress(rule()).build(),
///     ClusterPolicy::builder("a", ClusterTier::Admin, 5, all()).ingress(rule()).build(),
///     ClusterPolicy::builder("c", ClusterTier::Admin, 5, all()).egress(rule()).build(),
/// ].into_iter().collect();
/// let ties = Engine::build(&cluster, &set).priority_ties();
/// assert_eq!(ties.len(), 1);
/// assert_eq!((ties[0].first.name.as_str(), ties[0].second.name.as_str()), ("a", "b"));
/// // "c" applies to egress only: it never competes with "a" or "b".
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriorityTie {
    /// The policy evaluated first (by name).
    pub first: PolicyRef,
    /// The policy evaluated second.
    pub second: PolicyRef,
    /// Their tier.
    pub tier: TierRef,
    /// Their shared priority.
    pub priority: u32,
}

/// Which ports of which protocols a rule (or a merged group of rules) matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct PortSet {
    /// Numeric ranges, inclusive.
    ranges: SmallVec<[(Protocol, u16, u16); 2]>,
    /// Named ports, by interned name, resolved against the destination pod; a protocol of
    /// `None` takes the flow's.
    named: SmallVec<[(Option<Protocol>, u32); 1]>,
}

/// Which peers a rule (or a merged group of rules) matches.
#[derive(Debug, Clone)]
struct PeerSet {
    all: bool,
    /// Identity bitsets (ids into `Inner::pod_sets`), any of which may hold the peer.
    pod_sets: SmallVec<[u32; 4]>,
    /// Sorted block ids.
    blocks: SmallVec<[u32; 4]>,
    /// Whether the blocks match every address (ClusterNetworkPolicy `networks`) rather
    /// than those the profile lets an `ipBlock` match.
    any_address: bool,
    /// Index into `Inner::extras` of the peers only ClusterNetworkPolicy has (nodes,
    /// domain names), `NO_EXTRA` when none: kept apart so that instructions stay small.
    extra: u32,
    /// For merged class entries: index into `Inner::value_bits`, a bitset over prefix-map
    /// values telling which address lookups meet `blocks`; `NO_VALUE_BITS` to search the
    /// blocks' intervals instead.
    value_bits: u32,
}

impl Default for PeerSet {
    fn default() -> Self {
        PeerSet {
            all: false,
            pod_sets: SmallVec::new(),
            blocks: SmallVec::new(),
            any_address: false,
            extra: NO_EXTRA,
            value_bits: NO_VALUE_BITS,
        }
    }
}

const NO_VALUE_BITS: u32 = u32::MAX;

/// No [`PeerExtra`].
const NO_EXTRA: u32 = u32::MAX;

/// The peers of an instruction that only ClusterNetworkPolicy rules have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct PeerExtra {
    /// Node bitsets (ids into `Inner::node_sets`).
    node_sets: Vec<u32>,
    /// Domain pattern lists (ids into `Inner::domains`).
    domains: Vec<u32>,
}

/// A prefix-map value not looked up yet.
const NO_VALUE: u32 = u32::MAX;

/// No named-port row.
const NO_ROW: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct CompiledRule {
    action: Action,
    peers: PeerSet,
    ports: PortSet,
    /// Holds criteria a flow cannot decide: taken as not matching, and reported.
    unsupported: bool,
}

/// What an instruction of a tier program does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpCode {
    /// If the flow matches the instruction's ports and peers, its action decides:
    /// `Allow` allows, `Deny` denies, `Pass` ends the tier without a decision; otherwise
    /// go on with the next instruction.
    Match,
    /// End of the tier's instructions: no rule decided (the tier's end applies).
    End,
}

/// One instruction of the engine's code as compiled: every tier program is a run of
/// instructions ending in [`OpCode::End`], lowered to [`Op`]s for deciding.
#[derive(Debug, Clone)]
struct Instr {
    op: OpCode,
    action: Action,
    ports: PortSet,
    peers: PeerSet,
}

impl Instr {
    fn terminator(op: OpCode) -> Self {
        Instr {
            op,
            action: Action::Allow,
            ports: PortSet::default(),
            peers: PeerSet::default(),
        }
    }
}

/// One instruction as deciding reads it, in 32 bytes (two to a cache line): lowered from
/// an [`Instr`] by [`Op::lower`], one for one, so that a program starts at the same
/// position in both. The common case is held inline: up to two port ranges, each with
/// the protocols it applies to, one named port and up to three pod sets. Anything else
/// (more ranges or named ports, more pod sets, blocks, node sets, domain names) sends the
/// test to the instruction's [`OpMore`], which keeps its whole port or peer set.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct Op {
    /// `OP_*` bits, the action among them.
    flags: u8,
    /// How many of `sets` hold a pod set.
    sets_len: u8,
    /// The protocols each inline port range applies to (bit [`Protocol::index_u8`]):
    /// the first range's in the low three bits, the second's in the next three; none for
    /// a range not used.
    protocols: u8,
    /// The protocols the inline named port applies to (none: no named port).
    name_protocols: u8,
    /// Inline port ranges, inclusive.
    ranges: [[u16; 2]; 2],
    /// Identity bitsets (ids into `Inner::pod_sets`), any of which may hold the peer.
    sets: [u32; 3],
    /// The inline named port, by interned name, resolved against the destination pod.
    name: u32,
    /// With `OP_MORE_PORTS` or `OP_MORE_PEERS`: index into `Core::code_more`.
    more: u32,
}

/// The end of a program ([`OpCode::End`]).
const OP_END: u8 = 1;
/// No [`OpCode::Match`] follows in the program: a miss here ends it.
const OP_LAST: u8 = 1 << 1;
/// Every peer matches.
const OP_ALL: u8 = 1 << 2;
/// The ports are tested by the [`OpMore`]'s port set when the inline ones miss.
const OP_MORE_PORTS: u8 = 1 << 3;
/// The peers are tested by the [`OpMore`]'s peer set when the inline pod sets miss.
const OP_MORE_PEERS: u8 = 1 << 4;
/// The action: two bits.
const OP_DENY: u8 = 1 << 5;
const OP_PASS: u8 = 2 << 5;
const OP_ACTION: u8 = 3 << 5;

/// Every protocol, as bits.
const ALL_PROTOCOLS: u8 = 0b111;

/// What an [`Op`] does not hold inline: its whole port set (when `OP_MORE_PORTS`) and
/// its peer set without the pod sets it holds inline (when `OP_MORE_PEERS`).
#[derive(Debug, Clone, Default)]
struct OpMore {
    ports: PortSet,
    peers: PeerSet,
}

impl Op {
    /// The instruction `instr` as deciding reads it, pushing what it does not hold inline
    /// with `push_more` (which returns its index); `last` when no `Match` follows it in
    /// its program.
    fn lower(instr: &Instr, last: bool, push_more: impl FnOnce(OpMore) -> u32) -> Op {
        let mut op = Op::default();
        if instr.op == OpCode::End {
            op.flags = OP_END | OP_LAST;
            return op;
        }
        op.flags = match instr.action {
            Action::Allow => 0,
            Action::Deny => OP_DENY,
            _ => OP_PASS,
        };
        if last {
            op.flags |= OP_LAST;
        }
        // Ranges with the same bounds share an entry, whatever their protocols.
        let mut ranges: SmallVec<[(u8, u16, u16); 3]> = SmallVec::new();
        for (p, lo, hi) in &instr.ports.ranges {
            let bit = 1u8 << p.index_u8();
            match ranges.iter_mut().find(|(_, l, h)| (l, h) == (lo, hi)) {
                Some((mask, _, _)) => *mask |= bit,
                None => ranges.push((bit, *lo, *hi)),
            }
        }
        let mut more = OpMore::default();
        if ranges.len() > op.ranges.len() || instr.ports.named.len() > 1 {
            op.flags |= OP_MORE_PORTS;
            more.ports = instr.ports.clone();
        } else {
            for (k, ((mask, lo, hi), bounds)) in ranges.iter().zip(op.ranges.iter_mut()).enumerate()
            {
                op.protocols |= mask << (3 * k);
                *bounds = [*lo, *hi];
            }
            if let Some((protocol, name)) = instr.ports.named.first() {
                op.name_protocols = protocol.map_or(ALL_PROTOCOLS, |p| 1u8 << p.index_u8());
                op.name = *name;
            }
        }
        let peers = &instr.peers;
        if peers.all {
            op.flags |= OP_ALL;
        } else {
            let inline = peers.pod_sets.len() <= op.sets.len();
            if inline {
                for (slot, s) in op.sets.iter_mut().zip(&peers.pod_sets) {
                    *slot = *s;
                }
                op.sets_len = u8::try_from(peers.pod_sets.len()).unwrap_or(0);
            }
            if !inline || !peers.blocks.is_empty() || peers.extra != NO_EXTRA {
                op.flags |= OP_MORE_PEERS;
                more.peers = PeerSet {
                    all: false,
                    pod_sets: if inline {
                        SmallVec::new()
                    } else {
                        peers.pod_sets.clone()
                    },
                    blocks: peers.blocks.clone(),
                    any_address: peers.any_address,
                    extra: peers.extra,
                    value_bits: peers.value_bits,
                };
            }
        }
        if op.flags & (OP_MORE_PORTS | OP_MORE_PEERS) != 0 {
            op.more = push_more(more);
        }
        op
    }

    /// Whether the flow's protocol (as a bit) and port fall in an inline range.
    #[inline]
    fn ranges_hit(&self, protocol: u8, port: u16) -> bool {
        let [[lo0, hi0], [lo1, hi1]] = self.ranges;
        (self.protocols & protocol != 0 && lo0 <= port && port <= hi0)
            || (self.protocols & (protocol << 3) != 0 && lo1 <= port && port <= hi1)
    }

    /// How a matching instruction ends its tier.
    #[inline]
    fn outcome(&self) -> Outcome {
        match self.flags & OP_ACTION {
            0 => Outcome::Allow,
            OP_DENY => Outcome::Deny,
            _ => Outcome::Pass,
        }
    }
}

/// Lowers a run of instructions, one [`Op`] per instruction: whole programs (each ending
/// in [`OpCode::End`]), or one program's `Match` instructions (the last of them then
/// marked as such).
fn lower_code(code: &[Instr], mut push_more: impl FnMut(OpMore) -> u32) -> Vec<Op> {
    code.iter()
        .enumerate()
        .map(|(k, instr)| {
            let last = code.get(k + 1).is_none_or(|next| next.op != OpCode::Match);
            Op::lower(instr, last, &mut push_more)
        })
        .collect()
}

/// What happens at the end of a tier that selected the endpoint when no rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TierEnd {
    /// The direction is denied (NetworkPolicy isolation; a Calico tier's default).
    Deny,
    /// The walk goes on with the next tier.
    Pass,
}

/// A tier of the walk.
#[derive(Debug, Clone)]
struct TierInfo {
    tier: TierRef,
    end: TierEnd,
}

/// How one tier decides for a class.
#[derive(Debug, Clone, Copy)]
enum Prog {
    /// The class's mask in the direction's rule index, over rules `lo..hi`.
    Index { lo: u32, hi: u32 },
    /// Instructions from `Inner::code[start]`.
    Code(u32),
    /// Allowed (traffic between a pod and its own node, or itself through a Service,
    /// which NetworkPolicy allows for the pods it selects).
    Allow,
}

/// The kind of a [`TierStep`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(u8)]
enum StepKind {
    #[default]
    Index,
    Code,
    Allow,
}

/// One tier of a class's walk, packed in 16 bytes.
#[derive(Debug, Clone, Copy)]
struct TierStep {
    /// Rule `lo` of an index step; the first instruction of a code step.
    at: u32,
    /// Rule `hi` of an index step.
    hi: u32,
    /// For an index step: a scan from here may run through the following index steps
    /// as long as each tier before them ends in `Pass` (their rules are numbered one
    /// after the other): up to rule `scan_hi`, step `scan_last` included.
    scan_hi: u32,
    kind: StepKind,
    end: TierEnd,
    scan_last: u16,
}

impl Default for TierStep {
    fn default() -> Self {
        TierStep {
            at: 0,
            hi: 0,
            scan_hi: 0,
            kind: StepKind::Allow,
            end: TierEnd::Pass,
            scan_last: 0,
        }
    }
}

impl TierStep {
    fn new(prog: Prog, end: TierEnd) -> Self {
        let (kind, at, hi) = match prog {
            Prog::Index { lo, hi } => (StepKind::Index, lo, hi),
            Prog::Code(start) => (StepKind::Code, start, 0),
            Prog::Allow => (StepKind::Allow, 0, 0),
        };
        TierStep {
            at,
            hi,
            scan_hi: hi,
            kind,
            end,
            scan_last: 0,
        }
    }

    #[inline]
    fn prog(&self) -> Prog {
        match self.kind {
            StepKind::Index => Prog::Index {
                lo: self.at,
                hi: self.hi,
            },
            StepKind::Code => Prog::Code(self.at),
            StepKind::Allow => Prog::Allow,
        }
    }

    /// Links the index steps of one class's walk: a scan may run on through the index
    /// steps after it while each tier before them ends in `Pass` (their rules are
    /// numbered one after the other), up to rule `scan_hi`, step `scan_last` included
    /// (positions in `steps`).
    fn link_scans(steps: &mut [TierStep]) {
        for k in (0..steps.len()).rev() {
            let next = steps.get(k + 1).copied();
            let Some(step) = steps.get_mut(k) else {
                continue;
            };
            let Prog::Index { hi, .. } = step.prog() else {
                continue;
            };
            match next {
                Some(n) if step.end == TierEnd::Pass && matches!(n.prog(), Prog::Index { .. }) => {
                    step.scan_hi = n.scan_hi;
                    step.scan_last = n.scan_last;
                }
                _ => {
                    step.scan_hi = hi;
                    step.scan_last = u16::try_from(k).unwrap_or(u16::MAX);
                }
            }
        }
    }
}

/// Steps kept in the class head itself: Admin, NetworkPolicy and Baseline fit.
const INLINE_STEPS: usize = 3;

/// What decides a class: its mask in the direction's rule index and its tier steps, in
/// the head when they fit (one cache line), else `Inner::steps[start..start + len]`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct ClassHead {
    mask: u32,
    len: u32,
    start: u32,
    inline: [TierStep; INLINE_STEPS],
}

/// A class whose walk is one program, as deciding reads it: that program's first
/// instruction, where the program starts and what its tier's end does (`pc` is
/// `NO_CODE` for any other class, whose walk is read from its head).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct ClassCode {
    first: Op,
    pc: u32,
    end: TierEnd,
}

/// Not a [`ClassCode`] of one program.
const NO_CODE: u32 = u32::MAX;

impl ClassCode {
    /// The record of the class with head `head`, its program read from `code`.
    fn new(head: &ClassHead, code: impl FnOnce(u32) -> Option<Op>) -> ClassCode {
        let other = ClassCode {
            first: Op::default(),
            pc: NO_CODE,
            end: TierEnd::Pass,
        };
        let [step, ..] = head.inline;
        if head.len != 1 {
            return other;
        }
        let Prog::Code(pc) = step.prog() else {
            return other;
        };
        match code(pc) {
            Some(first) => ClassCode {
                first,
                pc,
                end: step.end,
            },
            None => other,
        }
    }
}

/// A class whose walk begins with a scan of the rule index kept as flat rows, as deciding
/// reads it by class id, without its head: the class's rules over that scan (the first
/// index step and the one it runs on through, if any), as a flat row, and what the walk
/// does after it. Deciding then reads neither the head nor the mask table. `flags` is 0
/// for any other class (its walk is read from its head).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct ClassScan {
    /// The class's mask over the rules the scan reads.
    row: rule_index::FlatRow,
    /// With a scan over two tiers, where the first one's rules end: a `Pass` rule before
    /// it goes on with the second tier (0 for a scan over one tier).
    split: u32,
    /// With [`SCAN_THEN_CODE`], the program of the step after the scan.
    pc: u32,
    /// `SCAN_*` bits.
    flags: u8,
}

/// The record holds the class's walk.
const SCAN_LEAN: u8 = 1;
/// When no rule of the scan decides, the scan's last tier denies.
const SCAN_END_DENY: u8 = 1 << 1;
/// After the scan, the walk runs the program at `pc` (else it allows: the walk ends or
/// its next step allows).
const SCAN_THEN_CODE: u8 = 1 << 2;
/// The program's tier denies at its end.
const SCAN_CODE_DENY: u8 = 1 << 3;
/// Steps follow the program: when its tier decides nothing and does not deny, the class
/// is walked again from its head.
const SCAN_MORE: u8 = 1 << 4;

impl ClassScan {
    const OTHER: ClassScan = ClassScan {
        row: rule_index::ZERO_ROW,
        split: 0,
        pc: 0,
        flags: 0,
    };

    /// The record of a class with tier steps `steps` and mask `mask` in `index`, its
    /// direction's rule index.
    fn new(steps: &[TierStep], mask: u32, index: Option<&rule_index::RuleIndex>) -> ClassScan {
        let Some(first) = steps.first() else {
            return Self::OTHER;
        };
        let Prog::Index { lo, hi } = first.prog() else {
            return Self::OTHER;
        };
        let last = usize::from(first.scan_last);
        let split = match last {
            0 => 0,
            1 => hi,
            _ => return Self::OTHER,
        };
        let Some(row) = index.and_then(|i| i.flat_class_row(mask, lo, first.scan_hi)) else {
            return Self::OTHER;
        };
        let Some(last_step) = steps.get(last) else {
            return Self::OTHER;
        };
        let mut flags = SCAN_LEAN;
        if last_step.end == TierEnd::Deny {
            flags |= SCAN_END_DENY;
        }
        let mut pc = 0;
        match steps.get(last + 1) {
            None => {}
            Some(next) => match next.prog() {
                Prog::Allow => {}
                Prog::Code(start) => {
                    pc = start;
                    flags |= SCAN_THEN_CODE;
                    if next.end == TierEnd::Deny {
                        flags |= SCAN_CODE_DENY;
                    }
                    if steps.len() > last + 2 {
                        flags |= SCAN_MORE;
                    }
                }
                Prog::Index { .. } => return Self::OTHER,
            },
        }
        ClassScan {
            row,
            split,
            pc,
            flags,
        }
    }
}

/// How deciding walks a build's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalkMode {
    /// The profile enforces no policy: every flow is allowed.
    Off,
    /// From their heads (or [`ClassCode`] records).
    Heads,
    /// From their [`ClassScan`] records, where they have one.
    Scan,
    /// With an [`Overlay`]: the walks of the identities it touches read it, the others
    /// are walked as its `base` mode says.
    Overlay,
}

/// ClusterNetworkPolicy and Calico policy changes made since the build without new
/// classes (see `live/policy.rs`, `live/calico.rs`): the versions they replaced or
/// removed, which class lists still hold but no walk reads, and the versions they added,
/// each with the identities it selects (a Calico policy also with its rules, tested flow
/// by flow). The walk of an identity either touches reads the tiers holding them policy
/// by policy.
#[derive(Debug, Clone)]
struct Overlay {
    /// How deciding walks the classes of the identities the overlay does not touch.
    base: WalkMode,
    /// Per direction: the identities a walk reads the overlay for (those of `dropped`
    /// and those its entries select).
    affected: [Bitset; 2],
    /// Per direction: the identities the `disabled` policies selected.
    dropped: [Bitset; 2],
    /// Policies class lists hold that no walk reads any more (versions replaced or
    /// removed), ascending.
    disabled: Vec<u32>,
    /// Policies added since the build (new versions), in walk order.
    entries: Vec<Arc<OverlayEntry>>,
}

/// A policy version an [`Overlay`] adds (a ClusterNetworkPolicy, or under Felix a
/// Calico policy).
#[derive(Debug)]
struct OverlayEntry {
    /// Its number (past the build's: explained and decided from its compiled rules, or
    /// from `felix`).
    gid: u32,
    tier_pos: u32,
    /// Per direction: the identities it selects.
    subjects: [Bitset; 2],
    /// The policies numbered before it that come after it in walk order (where it goes
    /// in a class list).
    after: Bitset,
    /// For a Calico policy: its rules per direction (ingress, egress), tested flow by
    /// flow (`Inner::rules` holds their actions and whether they are supported).
    felix: Option<Arc<[Vec<calico::FelixRule>; 2]>>,
}

impl Overlay {
    /// Calls `f` on the policies of tier `tier_pos` that the walk of identity `id` in
    /// direction `di` reads, in walk order: those of `base` (a class list's run of that
    /// tier) not disabled, and the entries selecting the identity there; stops at the
    /// first answer.
    fn each<R>(
        &self,
        base: &[u32],
        tier_pos: u32,
        id: usize,
        di: usize,
        mut f: impl FnMut(u32) -> Option<R>,
    ) -> Option<R> {
        let mut entries = self
            .entries
            .iter()
            .filter(|e| {
                e.tier_pos == tier_pos && e.subjects.get(di).is_some_and(|s| s.contains(id))
            })
            .peekable();
        let mut base = base
            .iter()
            .filter(|g| self.disabled.binary_search(g).is_err())
            .peekable();
        loop {
            let next = match (base.peek(), entries.peek()) {
                (None, None) => return None,
                (Some(&&g), Some(e)) if !e.after.contains(g as usize) => {
                    base.next();
                    g
                }
                (Some(&&g), None) => {
                    base.next();
                    g
                }
                (_, Some(e)) => {
                    let g = e.gid;
                    entries.next();
                    g
                }
            };
            if let Some(r) = f(next) {
                return Some(r);
            }
        }
    }

    /// Whether the walk of identity `id` in direction `di` reads tier `tier_pos` policy by
    /// policy: an entry selects it there, or `base` (the class list's run of that tier)
    /// holds a disabled policy.
    fn touches(&self, base: &[u32], tier_pos: u32, id: usize, di: usize) -> bool {
        self.entries
            .iter()
            .any(|e| e.tier_pos == tier_pos && e.subjects.get(di).is_some_and(|s| s.contains(id)))
            || base.iter().any(|g| self.disabled.binary_search(g).is_ok())
    }

    /// Whether the walk of identity `id` in direction `di` reads the overlay.
    #[inline]
    fn affects(&self, id: u32, di: usize) -> bool {
        self.affected
            .get(di)
            .is_some_and(|a| a.contains(id as usize))
    }

    /// Heap bytes held.
    fn heap_bytes(&self) -> usize {
        let sets: usize = self
            .affected
            .iter()
            .chain(&self.dropped)
            .chain(self.entries.iter().flat_map(|e| e.subjects.iter()))
            .chain(self.entries.iter().map(|e| &e.after))
            .map(|s| s.words().len() * 8)
            .sum();
        let felix: usize = self
            .entries
            .iter()
            .filter_map(|e| e.felix.as_deref())
            .flat_map(|r| r.iter().flatten())
            .map(calico::FelixRule::heap_bytes)
            .sum();
        sets + felix + self.disabled.len() * 4
    }

    /// The rules of a Calico policy the overlay added as number `gid`.
    fn felix_rules(&self, gid: u32) -> Option<&[Vec<calico::FelixRule>; 2]> {
        self.entries
            .iter()
            .find(|e| e.gid == gid)
            .and_then(|e| e.felix.as_deref())
    }
}

/// Identities selected for one direction by exactly the same policies.
#[derive(Debug, Clone, Default)]
struct Class {
    /// Selecting policies, in evaluation order; empty = nothing selects.
    policies: Vec<u32>,
    head: ClassHead,
}

/// Which policies a flow skips at a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exemption {
    None,
    /// NetworkPolicy takes no part (its tier allows for the pods it selects).
    NetworkPolicy,
    /// No policy takes part (Felix never polices a node reaching its own pods).
    All,
}

/// How a tier's rules ended for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allow,
    Deny,
    /// A `Pass` rule matched: the tier's end does not apply.
    Pass,
    /// No rule decided: the tier's end applies.
    End,
}

#[derive(Debug, Clone, Copy, Default)]
struct Addrs {
    /// Peer rows in the ingress and egress rule indexes, for IPv4 and IPv6 flows.
    rows: [[u32; 2]; 2],
    /// Family of the first address, if any.
    first_v6: Option<bool>,
    /// Prefix-map values of the first IPv4 / IPv6 address (0 when none).
    value_v4: u32,
    value_v6: u32,
}

/// What deciding reads of a pod, in one cache line (64 bytes, laid out by hand).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct PodInfo {
    identity: u32,
    /// Per direction (ingress, egress): its identity's class (the one for traffic between
    /// the pod and its own node is read from the identity).
    class: [u32; 2],
    /// Its node, `NO_NODE` when it has none.
    node: u32,
    /// Peer rows in the ingress and egress rule indexes, for IPv4 and IPv6 flows.
    rows: [[u32; 2]; 2],
    /// Prefix-map values of its first IPv4 and IPv6 address (0 when none).
    values: [u32; 2],
    /// Its named container ports (name id, protocol, number):
    /// `Inner::pod_named[named_at..named_at + named_len]`.
    named_at: u32,
    /// Per (protocol, number) of its named container ports, the named-port rows of the
    /// ingress and egress rule indexes: `Inner::pod_named_rows[rows_at..rows_at +
    /// rows_len]`, the first of them also kept here.
    rows_at: u32,
    first_rows: [u32; 2],
    first_port: u16,
    named_len: u16,
    rows_len: u16,
    first_protocol: u8,
    /// Family of its first address: 0 none, 1 IPv4, 2 IPv6; with [`BY_FAMILY`] set when
    /// its class for the other family differs (`Inner::family_classes`).
    first_family: u8,
}

/// See [`PodInfo::first_family`].
const BY_FAMILY: u8 = 0x80;

/// No node.
const NO_NODE: u32 = u32::MAX;

impl PodInfo {
    #[inline]
    fn first_v6(&self) -> Option<bool> {
        match self.first_family & !BY_FAMILY {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct IdentityInfo {
    /// Per direction (ingress, egress): the class.
    class: [u32; 2],
    /// Per direction: the class for traffic between a pod and its own node where the
    /// profile exempts it (the NetworkPolicy tier allows whatever its rules say).
    own_node_class: [u32; 2],
}

#[derive(Debug, Clone)]
struct PolicyMeta {
    kind: PolicyKind,
    index: usize,
    /// Shared strings: updates copy metadata to renumber policies.
    namespace: Option<Arc<str>>,
    name: Arc<str>,
    tier: TierRef,
    /// Position of the tier in `Inner::tiers`.
    tier_pos: u32,
    priority: u32,
}

impl PolicyMeta {
    fn policy_ref(&self) -> PolicyRef {
        PolicyRef::new(self.kind, self.index, self.namespace.as_deref(), &self.name)
    }
}

/// What deciding reads: the per-pod table and the cluster, which a change to a pod
/// replaces chunk by chunk, and the compiled core, shared between engines a change to a pod
/// does not touch (see [`live`]).
#[derive(Debug, Clone)]
struct Inner {
    /// Lineage of the pod ids this engine answers (node ids are checked against the
    /// cluster, node by node).
    pod_lineage: u32,
    cluster: Cluster,
    pods: PVec<PodInfo>,
    core: Arc<Core>,
}

impl std::ops::Deref for Inner {
    type Target = Core;
    #[inline]
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// The compiled policies, identities and classes. Cheap to clone: every table is shared
/// (behind reference counts, or a [`GrowVec`] that incremental updates append to), so
/// that an update copies only what it changes (see [`live`]).
#[derive(Debug, Clone)]
struct Core {
    profile: Profile,
    /// Container port names some rule names, by id.
    names: ahash::AHashMap<String, u32>,
    /// The pod label keys identities are told apart by (`None`: every key), and whether
    /// the service account takes part.
    label_keys: Option<Vec<String>>,
    by_account: bool,
    /// Enforced policies, in evaluation order as built (policies added by incremental
    /// updates follow; a class's list is in evaluation order either way).
    policies: PVec<PolicyMeta>,
    /// How many of `policies` incremental updates removed: they keep their place, so
    /// that the others keep their numbers, and no class lists them.
    retired: usize,
    /// Per enforced policy: compiled ingress rules and egress rules.
    rules: PVec<Arc<[Vec<CompiledRule>; 2]>>,
    /// Policies of kinds the profile does not enforce, with the identities they would
    /// select per direction.
    ignored: Arc<[(PolicyMeta, [Option<Bitset>; 2])]>,
    nodes: Arc<[Addrs]>,
    identities: Arc<[IdentityInfo]>,
    classes: GrowVec<Class>,
    /// Per class: its head, kept apart from the policy lists so that deciding reads a
    /// small dense table.
    heads: GrowVec<ClassHead>,
    /// Per class: its program's first instruction when its walk is one program (most
    /// classes of NetworkPolicy alone), so that deciding reads it without the head.
    /// Empty when the build has a rule index (most walks then begin with an index step).
    class_code: GrowVec<ClassCode>,
    /// Whether classes have their [`ClassCode`] (see `class_code`).
    code_first: bool,
    /// Per class: its [`ClassScan`], when the build has a rule index kept as flat rows
    /// (empty otherwise).
    class_scan: GrowVec<ClassScan>,
    /// How deciding walks the classes.
    walk_mode: WalkMode,
    /// The tiers, in walk order.
    tiers: Vec<TierInfo>,
    /// Named container ports of every pod, one pod after the other.
    pod_named: Arc<[(u32, Protocol, u16)]>,
    /// Named-port rows of every pod (`NO_ROW` when no rule names the ports).
    pod_named_rows: Arc<[(Protocol, u16, [u32; 2])]>,
    /// Classes of pods for the family other than their first address's, where they
    /// differ: by (direction, family, identity, prefix-map value of its address).
    family_classes: Arc<ahash::AHashMap<(u8, u8, u32, u32), u32>>,
    /// Every class's tier steps, one after the other.
    steps: Arc<[TierStep]>,
    /// Every tier program, one after the other, as deciding reads it.
    code: GrowVec<Op>,
    /// What instructions of `code` do not hold inline.
    code_more: GrowVec<OpMore>,
    /// Per direction (ingress, egress): the indexed rules as bit vectors.
    rule_index: Arc<[rule_index::RuleIndex; 2]>,
    /// Per direction and enforced policy: the number of its first rule in the
    /// direction's index, when its tier is indexed (policies past the end: none).
    rule_start: [Arc<[Option<u32>]>; 2],
    /// Per direction: the peer row of an outside address, by the prefix-map value of
    /// the address, as its own small longest-prefix map (`u32::MAX` without an index).
    external_rows: [Arc<blocks::ValueTable>; 2],
    pod_sets: BitsetTable,
    node_sets: BitsetTable,
    domains: Arc<[Vec<DomainPattern>]>,
    extras: Arc<[PeerExtra]>,
    blocks: BlockIndex,
    /// Per instruction with blocks: which prefix-map values it accepts.
    value_bits: BitsetTable,
    /// ClusterNetworkPolicy and Calico policy changes made since the build without new
    /// classes (deciding then walks in [`WalkMode::Overlay`]).
    overlay: Option<Arc<Overlay>>,
}

impl Core {
    /// Makes `ov` the core's overlay, the identities it affects worked out from those its
    /// disabled policies selected and those its entries select; deciding then walks in
    /// [`WalkMode::Overlay`].
    fn set_overlay(&mut self, mut ov: Overlay) {
        ov.affected = ov.dropped.clone();
        for e in &ov.entries {
            for (into, from) in ov.affected.iter_mut().zip(&e.subjects) {
                into.union_with(from);
            }
        }
        self.walk_mode = WalkMode::Overlay;
        self.overlay = Some(Arc::new(ov));
    }

    /// Appends a tier program (its `Match` instructions, without the end) and its end;
    /// returns where it starts.
    fn push_program(&mut self, program: &[Instr]) -> u32 {
        let start = to_u32(self.code.len());
        let more = &mut self.code_more;
        let ops = lower_code(program, |m| {
            more.push(m);
            to_u32(more.len() - 1)
        });
        for op in ops {
            self.code.push(op);
        }
        self.code
            .push(Op::lower(&Instr::terminator(OpCode::End), true, |_| 0));
        start
    }

    /// Appends the head of a class of direction `di` (its programs already pushed), with
    /// its [`ClassCode`] or [`ClassScan`] when the classes have them.
    fn push_head(&mut self, head: ClassHead, di: usize) {
        if self.code_first {
            let code = &self.code;
            self.class_code
                .push(ClassCode::new(&head, |pc| code.get(pc as usize).copied()));
        }
        if self.class_scan.len() == self.heads.len() && self.class_scan.len() > 0 {
            let scan = self.class_scan_of(&head, di);
            self.class_scan.push(scan);
        }
        self.heads.push(head);
    }

    /// The [`ClassScan`] of a class of direction `di` with head `head`.
    fn class_scan_of(&self, head: &ClassHead, di: usize) -> ClassScan {
        let len = head.len as usize;
        let steps = if len <= INLINE_STEPS {
            head.inline.get(..len)
        } else {
            let start = head.start as usize;
            self.steps.get(start..start + len)
        };
        ClassScan::new(steps.unwrap_or(&[]), head.mask, self.rule_index.get(di))
    }
}

const NOT_ISOLATED: u32 = 0;

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// One side of a flow, resolved against the engine's tables.
#[derive(Clone, Copy)]
enum Side<'a> {
    Pod(&'a PodInfo),
    Node(u32, &'a Addrs),
    External(std::net::IpAddr),
    Unknown,
}

impl Engine {
    /// Compiles `policies` against `cluster` with the default profile.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    pub fn build(cluster: &Cluster, policies: &(impl AsPolicySet + ?Sized)) -> Engine {
        EngineBuilder::default().build(cluster, policies)
    }

    /// Starts a builder, to choose a profile.
    ///
    /// ```
    /// let cluster = netpol::cluster::Cluster::builder().build().unwrap();
    /// let engine = netpol::engine::Engine::builder().build(&cluster, &[]);
    /// assert_eq!(engine.profile(), &netpol::profile::Profile::default());
    /// ```
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The profile the engine was built with.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.profile().name(), "conformance");
    /// ```
    #[must_use]
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The cluster the engine was built for (shared, not copied).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.cluster().pod_count(), 1);
    /// ```
    #[must_use]
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// How many policies take part (policies of kinds the profile does not enforce are
    /// not counted: see [`ignored_policies`](Self::ignored_policies)).
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert_eq!(engine.policy_count(), 0);
    /// ```
    #[must_use]
    pub fn policy_count(&self) -> usize {
        self.inner.policies.len().saturating_sub(self.inner.retired)
    }

    /// The policies whose kind the profile's plugin does not enforce: they take no part
    /// in any verdict.
    ///
    /// ```
    /// use netpol::cluster::Cluster;
    /// use netpol::engine::Engine;
    /// use netpol::policy::{ClusterPolicy, ClusterTier, PolicySet, Subject};
    /// use netpol::profile::Profile;
    /// use netpol::selector::Selector;
    /// let set: PolicySet = [ClusterPolicy::builder("guard", ClusterTier::Admin, 1,
    ///     Subject::Namespaces(Selector::everything())).build()].into_iter().collect();
    /// let cluster = Cluster::builder().build().unwrap();
    /// let engine = Engine::builder().profile(Profile::cilium()).build(&cluster, &set);
    /// assert_eq!(engine.ignored_policies()[0].to_string(), "cnp/guard");
    /// ```
    #[must_use]
    pub fn ignored_policies(&self) -> Vec<PolicyRef> {
        self.inner
            .ignored
            .iter()
            .map(|(m, _)| m.policy_ref())
            .collect()
    }

    /// Every pair of ClusterNetworkPolicies of one tier with the same priority that both
    /// apply to some pod for the same direction: their order is left open upstream, so an
    /// analysis may want to flag them. See [`PriorityTie`] for an example.
    #[must_use]
    pub fn priority_ties(&self) -> Vec<PriorityTie> {
        let i = &*self.inner;
        // The classes pods are in (incremental updates leave classes no pod is in any
        // more: a pod removed keeps its identity), in order.
        // Where an overlay touches a pod's identity, the policies its walk reads instead.
        let mut used: Vec<u32> = Vec::new();
        let mut read: Vec<Vec<u32>> = Vec::new();
        let mut touched = ahash::AHashSet::new();
        for pod in i.pods.iter() {
            for (di, class) in pod.class.iter().enumerate() {
                match i.overlay.as_deref() {
                    Some(ov) if ov.affects(pod.identity, di) => {
                        if touched.insert((di, pod.identity)) {
                            let list = i
                                .classes
                                .get(*class as usize)
                                .map_or(&[][..], |c| c.policies.as_slice());
                            read.push(i.overlay_list(ov, list, pod.identity, di));
                        }
                    }
                    _ => used.push(*class),
                }
            }
        }
        used.sort_unstable();
        used.dedup();
        let lists = used
            .iter()
            .filter_map(|c| i.classes.get(*c as usize))
            .map(|c| c.policies.as_slice())
            .chain(read.iter().map(Vec::as_slice));
        let mut pairs: Vec<(&PolicyMeta, &PolicyMeta)> = Vec::new();
        let mut seen = ahash::AHashSet::new();
        for list in lists {
            for (a, &x) in list.iter().enumerate() {
                for &y in list.iter().skip(a + 1) {
                    let (Some(p), Some(q)) =
                        (i.policies.get(x as usize), i.policies.get(y as usize))
                    else {
                        continue;
                    };
                    if p.kind == PolicyKind::ClusterNetworkPolicy
                        && q.kind == PolicyKind::ClusterNetworkPolicy
                        && p.tier == q.tier
                        && p.priority == q.priority
                        && seen.insert((x, y))
                    {
                        pairs.push((p, q));
                    }
                }
            }
        }
        // In evaluation order, whatever the numbering.
        pairs.sort_by(|(p, q), (r, s)| {
            (p.tier_pos, p.priority, &p.name, &q.name)
                .cmp(&(r.tier_pos, r.priority, &r.name, &s.name))
        });
        pairs
            .into_iter()
            .map(|(p, q)| PriorityTie {
                first: p.policy_ref(),
                second: q.policy_ref(),
                tier: p.tier.clone(),
                priority: p.priority,
            })
            .collect()
    }

    /// Heap bytes held by the compiled structures (not counting the shared cluster),
    /// approximately: the sum of the capacities of its vectors and tables.
    ///
    /// ```
    /// # use netpol::cluster::{Cluster, PodSpec};
    /// # let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// assert!(engine.compiled_bytes() > 0);
    /// ```
    #[must_use]
    pub fn compiled_bytes(&self) -> usize {
        let i = &self.inner;
        let bitsets: usize =
            i.pod_sets.heap_bytes() + i.node_sets.heap_bytes() + i.value_bits.heap_bytes();
        let classes: usize = i
            .classes
            .iter()
            .map(|c| c.policies.capacity() * 4 + std::mem::size_of::<Class>())
            .sum::<usize>()
            + i.code.len() * std::mem::size_of::<Op>()
            + i.code_more.len() * std::mem::size_of::<OpMore>()
            + i.class_code.len() * std::mem::size_of::<ClassCode>()
            + i.class_scan.len() * std::mem::size_of::<ClassScan>();
        bitsets
            + classes
            + i.rule_index.iter().map(|r| r.heap_bytes()).sum::<usize>()
            + i.blocks.heap_bytes()
            + i.pods.len() * std::mem::size_of::<PodInfo>()
            + i.nodes.len() * std::mem::size_of::<Addrs>()
            + i.identities.len() * std::mem::size_of::<IdentityInfo>()
            + i.overlay.as_deref().map_or(0, Overlay::heap_bytes)
    }

    /// Whether the flow is allowed. Allocates nothing. A flow naming a pod or node this
    /// engine's cluster does not hold is denied (see [`try_decide`](Self::try_decide)).
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let outside = Endpoint::External("198.51.100.1".parse().unwrap());
    /// assert!(engine.decide(Flow::new(outside, a, 443, Default::default())).is_allowed());
    /// ```
    #[inline]
    pub fn decide(&self, flow: Flow<'_>) -> Verdict {
        Verdict::from(self.inner.allows(flow))
    }

    /// One side's answer: the source's egress answer (`Egress`) or the destination's
    /// ingress answer (`Ingress`). [`decide`](Self::decide) allows a flow exactly when
    /// both sides do; a side that is not a pod allows. Allocates nothing. For analyses
    /// that compute each side once and combine the answers.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// use netpol::engine::Engine;
    /// use netpol::model::NetworkPolicy;
    /// use netpol::policy::{Direction, Policy};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).pod(PodSpec::new("x", "b")).build()?;
    /// let deny = [Policy::new(&NetworkPolicy::new("x", "deny-ingress"))?];
    /// let engine = Engine::build(&cluster, &deny);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let b = Endpoint::Pod(cluster.pod_id("x", "b").unwrap());
    /// let flow = Flow::new(a, b, 80, Default::default());
    /// assert!(engine.decide_direction(flow, Direction::Egress).is_allowed());
    /// assert!(!engine.decide_direction(flow, Direction::Ingress).is_allowed());
    /// assert!(!engine.decide(flow).is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide_direction(&self, flow: Flow<'_>, direction: Direction) -> Verdict {
        Verdict::from(self.inner.side_allows(flow, direction))
    }

    /// Like [`decide`](Self::decide), but a flow naming a pod or node this engine's cluster
    /// does not hold is an error rather than a denial: for callers that keep ids across
    /// rebuilds.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// assert!(engine.try_decide(Flow::new(a, a, 80, Default::default()))?.is_allowed());
    /// # Ok::<(), netpol::engine::UnknownEndpoint>(())
    /// ```
    pub fn try_decide(&self, flow: Flow<'_>) -> Result<Verdict, UnknownEndpoint> {
        let i = &*self.inner;
        for endpoint in [flow.src, flow.dst] {
            if matches!(i.side(endpoint), Side::Unknown) {
                return Err(UnknownEndpoint { endpoint });
            }
        }
        Ok(self.decide(flow))
    }

    /// The verdict with its explanation; equal to the reference evaluator's.
    ///
    /// ```
    /// use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    /// let cluster = Cluster::builder().pod(PodSpec::new("x", "a")).build().unwrap();
    /// let engine = netpol::engine::Engine::build(&cluster, &[]);
    /// let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    /// let why = engine.explain(Flow::new(a, a, 80, Default::default()));
    /// assert_eq!(why.special, Some(netpol::explain::Special::SelfTraffic));
    /// ```
    #[must_use]
    pub fn explain(&self, flow: Flow<'_>) -> Explanation {
        let i = &*self.inner;
        let special = i.special(flow);
        let v6 = i.flow_is_v6(flow);
        let egress = i.explain_side(flow, Direction::Egress, v6);
        let ingress = i.explain_side(flow, Direction::Ingress, v6);
        Explanation::assemble(&i.cluster, flow, special, egress, ingress)
    }
}

impl Inner {
    #[inline]
    fn side(&self, e: Endpoint) -> Side<'_> {
        match e {
            Endpoint::Pod(id) if id.lineage() == self.pod_lineage => {
                self.pods.get(id.index()).map_or(Side::Unknown, Side::Pod)
            }
            Endpoint::Node(id) if self.cluster.has_node(id) => self
                .nodes
                .get(id.index())
                .map_or(Side::Unknown, |a| Side::Node(to_u32(id.index()), a)),
            Endpoint::External(ip) => Side::External(ip),
            _ => Side::Unknown,
        }
    }

    /// Whether, at `here`, the flow is between the pod and its own node and the profile
    /// exempts that direction from NetworkPolicy.
    #[inline]
    fn own_node(&self, here: &PodInfo, other: Side<'_>, direction: Direction) -> bool {
        let Side::Node(node, _) = other else {
            return false;
        };
        let exempt = match direction {
            Direction::Ingress => self.profile.own_node_exempt(),
            Direction::Egress => self.profile.pod_to_own_node_exempt(),
        };
        exempt && here.node == node
    }

    /// The pod's own class for a direction and family.
    #[inline]
    fn pod_class(&self, here: &PodInfo, di: usize, v6: bool) -> u32 {
        let class = here.class.get(di).copied().unwrap_or(NOT_ISOLATED);
        if here.first_family & BY_FAMILY == 0 || (here.first_v6() == Some(true)) == v6 {
            return class;
        }
        let fam = u8::from(v6);
        let value = here.values.get(usize::from(fam)).copied().unwrap_or(0);
        // `di` indexes the two directions; u8::MAX is no key, so the class stands.
        let d = u8::try_from(di).unwrap_or(u8::MAX);
        self.family_classes
            .get(&(d, fam, here.identity, value))
            .copied()
            .unwrap_or(class)
    }

    /// Which policies a flow at `here` skips: traffic between a pod and its own node, and
    /// a pod reaching itself through a Service, where the profile exempts them.
    #[inline]
    fn exemption(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
    ) -> Exemption {
        let felix = self.profile.enforces_calico_policy();
        match other {
            Side::Node(..) if self.own_node(here, other, direction) => {
                if felix && direction == Direction::Ingress {
                    Exemption::All
                } else {
                    Exemption::NetworkPolicy
                }
            }
            _ if flow.is_hairpin() && !felix => Exemption::NetworkPolicy,
            _ => Exemption::None,
        }
    }

    /// The class deciding `direction` at `here`.
    #[inline]
    fn class_for(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
        v6: bool,
    ) -> u32 {
        self.class_for_inline(here, other, flow, direction, v6)
    }

    /// [`class_for`](Self::class_for), always inlined (deciding from scan records reads it
    /// inline; the other builds keep the call they had).
    #[inline(always)]
    fn class_for_inline(
        &self,
        here: &PodInfo,
        other: Side<'_>,
        flow: Flow<'_>,
        direction: Direction,
        v6: bool,
    ) -> u32 {
        let di = dir_index(direction);
        match self.exemption(here, other, flow, direction) {
            Exemption::None => self.pod_class(here, di, v6),
            Exemption::NetworkPolicy => self
                .identities
                .get(here.identity as usize)
                .and_then(|info| info.own_node_class.get(di))
                .copied()
                .unwrap_or(NOT_ISOLATED),
            Exemption::All => NOT_ISOLATED,
        }
    }

    /// Whether the flow is allowed. The walks of a build with [`ClassScan`] records read
    /// them first, in a copy of their own, so that a build without them runs the code it
    /// ran before they existed.
    fn allows(&self, flow: Flow<'_>) -> bool {
        match self.walk_mode {
            WalkMode::Heads => self.allows_with::<false>(flow),
            WalkMode::Scan => self.allows_scan(flow),
            WalkMode::Off => true,
            WalkMode::Overlay => self.allows_overlay(flow),
        }
    }

    /// [`allows`](Self::allows) for a core with an [`Overlay`]: a flow whose sides it does
    /// not touch is decided as without it, the others side by side.
    #[inline(never)]
    fn allows_overlay(&self, flow: Flow<'_>) -> bool {
        let Some(ov) = self.overlay.as_deref() else {
            return self.allows_with::<false>(flow);
        };
        let touched = |e: Endpoint, di: usize| match self.side(e) {
            Side::Pod(p) => ov.affects(p.identity, di),
            _ => false,
        };
        if !touched(flow.src, 1) && !touched(flow.dst, 0) {
            return match ov.base {
                WalkMode::Scan => self.allows_with::<true>(flow),
                WalkMode::Off => true,
                _ => self.allows_with::<false>(flow),
            };
        }
        self.side_allows(flow, Direction::Egress) && self.side_allows(flow, Direction::Ingress)
    }

    /// [`allows`](Self::allows) for a build with [`ClassScan`] records.
    #[inline(never)]
    fn allows_scan(&self, flow: Flow<'_>) -> bool {
        self.allows_with::<true>(flow)
    }

    /// [`allows`](Self::allows) where the profile enforces some policy, reading the
    /// classes' [`ClassScan`] records with `SCAN`.
    #[inline(always)]
    fn allows_with<const SCAN: bool>(&self, flow: Flow<'_>) -> bool {
        let src = self.side(flow.src);
        let dst = self.side(flow.dst);
        if matches!(src, Side::Unknown) || matches!(dst, Side::Unknown) {
            return false;
        }
        if self.profile.self_exempt() && !flow.via_service {
            if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
                if a == b {
                    return true;
                }
            }
        }
        let v6 = self.sides_v6(flow, src, dst);
        if let Side::Pod(here) = src {
            let class = if SCAN {
                self.class_for_inline(here, dst, flow, Direction::Egress, v6)
            } else {
                self.class_for(here, dst, flow, Direction::Egress, v6)
            };
            if class != NOT_ISOLATED {
                // With an egress rule index, the source's walk scans it with the
                // destination's peer row, and the destination's own walk reads its
                // entry next: start reading it now, while the class head is read,
                // rather than one miss after the other. (Without one, a walk that
                // denies often never reads it.)
                if let Side::Pod(there) = dst {
                    if self
                        .rule_index
                        .get(1)
                        .is_some_and(|r| !r.actions.is_empty())
                    {
                        std::hint::black_box(there.identity);
                    }
                }
                if !self.walk::<SCAN>(class, 1, flow, dst, v6) {
                    return false;
                }
            }
        }
        if let Side::Pod(here) = dst {
            let class = if SCAN {
                self.class_for_inline(here, src, flow, Direction::Ingress, v6)
            } else {
                self.class_for(here, src, flow, Direction::Ingress, v6)
            };
            if class != NOT_ISOLATED && !self.walk::<SCAN>(class, 0, flow, src, v6) {
                return false;
            }
        }
        true
    }

    /// [`class_allows`](Self::class_allows), from the class's [`ClassScan`] when it has
    /// one and `SCAN`.
    #[inline(always)]
    fn walk<const SCAN: bool>(
        &self,
        class: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> bool {
        if SCAN {
            if let Some(allowed) = self.scan_class_allows(class, di, flow, other, v6) {
                return allowed;
            }
        }
        self.class_allows(class, di, flow, other, v6)
    }

    /// [`allows`](Self::allows) for one side only.
    fn side_allows(&self, flow: Flow<'_>, direction: Direction) -> bool {
        if !self.profile.enforces_any() {
            return true;
        }
        let src = self.side(flow.src);
        let dst = self.side(flow.dst);
        if matches!(src, Side::Unknown) || matches!(dst, Side::Unknown) {
            return false;
        }
        if self.profile.self_exempt() && !flow.via_service {
            if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
                if a == b {
                    return true;
                }
            }
        }
        let v6 = self.sides_v6(flow, src, dst);
        let (here, other, di) = match direction {
            Direction::Egress => (src, dst, 1),
            Direction::Ingress => (dst, src, 0),
        };
        let Side::Pod(here) = here else {
            return true;
        };
        let class = self.class_for(here, other, flow, direction, v6);
        if let Some(ov) = self.overlay.as_deref() {
            if ov.affects(here.identity, di)
                && self.exemption(here, other, flow, direction) != Exemption::All
            {
                return self.overlay_class_allows(ov, class, here.identity, di, flow, other, v6);
            }
        }
        class == NOT_ISOLATED || self.class_allows(class, di, flow, other, v6)
    }

    /// [`class_allows`](Self::class_allows) for identity `id`, whose walk in direction `di`
    /// reads the overlay `ov`: tier by tier, those it touches policy by policy (as
    /// explanations read them), the others from the class's steps.
    #[allow(clippy::too_many_arguments)]
    fn overlay_class_allows(
        &self,
        ov: &Overlay,
        class: u32,
        id: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> bool {
        let list: &[u32] = self
            .classes
            .get(class as usize)
            .map_or(&[], |c| c.policies.as_slice());
        let head = self.heads.get(class as usize).copied().unwrap_or_default();
        let steps = self.steps_of(&head);
        let mut value = NO_VALUE;
        let mut prepared = None;
        let (mut at, mut k) = (0usize, 0usize);
        for (t, tier) in self.tiers.iter().enumerate() {
            let t = to_u32(t);
            let base = self.tier_run(list, at, t);
            let len = base.len();
            at += len;
            let step = if len > 0 {
                k += 1;
                steps.get(k - 1).copied()
            } else {
                None
            };
            let (outcome, end) = if ov.touches(base, t, id as usize, di) {
                let outcome =
                    self.overlay_tier(ov, base, t, id, di, flow, other, head.mask, &mut value, v6);
                (outcome, tier.end)
            } else if let Some(step) = step {
                let outcome = match step.prog() {
                    Prog::Allow => return true,
                    Prog::Code(pc) => self.run_code(pc, flow, other, &mut value, v6),
                    Prog::Index { lo, hi } => {
                        match self.first_rule(di, head.mask, lo, hi, flow, other, v6, &mut prepared)
                        {
                            Some((_, Action::Allow)) => Outcome::Allow,
                            Some((_, Action::Deny)) => Outcome::Deny,
                            Some(_) => Outcome::Pass,
                            None => Outcome::End,
                        }
                    }
                };
                (outcome, step.end)
            } else {
                continue;
            };
            match outcome {
                Outcome::Allow => return true,
                Outcome::Deny => return false,
                Outcome::Pass => {}
                Outcome::End => {
                    if end == TierEnd::Deny {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// How tier `t` ends for identity `id` in direction `di`, read policy by policy over
    /// the overlay `ov` (`base`: the class list's run of that tier; `mask`: the class's
    /// rule index mask), as [`explain_side`](Self::explain_side) reads it: `Pass` when no
    /// policy of the tier selects it.
    #[allow(clippy::too_many_arguments)]
    fn overlay_tier(
        &self,
        ov: &Overlay,
        base: &[u32],
        t: u32,
        id: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        mask: u32,
        value: &mut u32,
        v6: bool,
    ) -> Outcome {
        let mut selected = false;
        let decided = ov.each(base, t, id as usize, di, |p| {
            selected = true;
            let network = self
                .policies
                .get(p as usize)
                .is_some_and(|m| m.kind == PolicyKind::NetworkPolicy);
            let count = self
                .rules
                .get(p as usize)
                .and_then(|r| r.get(di))
                .map_or(0, Vec::len);
            for r in 0..count {
                let Some((action, hit, unsupported)) =
                    self.rule_hits(p, di, r, flow, other, mask, value, v6)
                else {
                    continue;
                };
                if !hit || unsupported {
                    continue;
                }
                if network {
                    return Some(Outcome::Allow);
                }
                match action {
                    Action::Allow => return Some(Outcome::Allow),
                    Action::Deny => return Some(Outcome::Deny),
                    Action::Pass => return Some(Outcome::Pass),
                    _ => {}
                }
            }
            None
        });
        match decided {
            Some(outcome) => outcome,
            None if selected => Outcome::End,
            None => Outcome::Pass,
        }
    }

    /// The run of class list `list` from position `at` on whose policies sit in tier
    /// `tier` (a class list is in walk order, so by tier).
    fn tier_run<'l>(&self, list: &'l [u32], at: usize, tier: u32) -> &'l [u32] {
        let rest = list.get(at..).unwrap_or(&[]);
        let len = rest
            .iter()
            .take_while(|g| {
                self.policies
                    .get(**g as usize)
                    .is_some_and(|m| m.tier_pos == tier)
            })
            .count();
        rest.get(..len).unwrap_or(&[])
    }

    /// The policies the walk of identity `id` in direction `di` reads, in walk order,
    /// given its class list `list`: the list with the overlay's disabled policies left out
    /// and its entries selecting the identity put in.
    fn overlay_list(&self, ov: &Overlay, list: &[u32], id: u32, di: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(list.len() + 1);
        let mut at = 0usize;
        for t in 0..self.tiers.len() {
            let t = to_u32(t);
            let base = self.tier_run(list, at, t);
            at += base.len();
            ov.each(base, t, id as usize, di, |g| {
                out.push(g);
                None::<()>
            });
        }
        out
    }

    fn special(&self, flow: Flow<'_>) -> Option<Special> {
        if !self.profile.enforces_any() {
            return Some(Special::NotEnforced);
        }
        let src = self.side(flow.src);
        let dst = self.side(flow.dst);
        if matches!(src, Side::Unknown) || matches!(dst, Side::Unknown) {
            return Some(Special::UnknownEndpoint);
        }
        if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.src, flow.dst) {
            if a == b && !flow.via_service && self.profile.self_exempt() {
                return Some(Special::SelfTraffic);
            }
        }
        let own = |here: Side<'_>, other: Side<'_>, d: Direction| match here {
            Side::Pod(p) => self.own_node(p, other, d),
            _ => false,
        };
        if own(src, dst, Direction::Egress) || own(dst, src, Direction::Ingress) {
            return Some(Special::OwnNode);
        }
        None
    }

    /// Same rule as [`Cluster::flow_is_v6`], on sides already resolved.
    #[inline]
    fn sides_v6(&self, flow: Flow<'_>, src: Side<'_>, dst: Side<'_>) -> bool {
        if let Endpoint::External(ip) = flow.src {
            return ip.is_ipv6();
        }
        if let Endpoint::External(ip) = flow.dst {
            return ip.is_ipv6();
        }
        if let Some(family) = flow.family {
            return family.is_ipv6();
        }
        let first = |s: Side<'_>| match s {
            Side::Pod(p) => p.first_v6(),
            Side::Node(_, a) => a.first_v6,
            _ => None,
        };
        first(src).or_else(|| first(dst)).unwrap_or(false)
    }

    /// Same rule as [`Cluster::flow_is_v6`], on precomputed data.
    #[inline]
    fn flow_is_v6(&self, flow: Flow<'_>) -> bool {
        if let Endpoint::External(ip) = flow.src {
            return ip.is_ipv6();
        }
        if let Endpoint::External(ip) = flow.dst {
            return ip.is_ipv6();
        }
        if let Some(family) = flow.family {
            return family.is_ipv6();
        }
        let first = |e: Endpoint| match self.side(e) {
            Side::Pod(p) => p.first_v6(),
            Side::Node(_, a) => a.first_v6,
            _ => None,
        };
        first(flow.src).or_else(|| first(flow.dst)).unwrap_or(false)
    }

    /// The prefix-map value of the other side's address (0 when none).
    #[inline]
    fn raw_value(&self, other: Side<'_>, v6: bool) -> u32 {
        let pick = |a: &Addrs| if v6 { a.value_v6 } else { a.value_v4 };
        match other {
            Side::External(ip) => self.blocks.lookup(ip),
            Side::Pod(p) => p.values.get(usize::from(v6)).copied().unwrap_or(0),
            Side::Node(_, a) => pick(a),
            Side::Unknown => 0,
        }
    }

    #[inline]
    fn ports_match(&self, ports: &PortSet, flow: Flow<'_>) -> bool {
        if ports
            .ranges
            .iter()
            .any(|(p, lo, hi)| *p == flow.protocol && *lo <= flow.port && flow.port <= *hi)
        {
            return true;
        }
        if ports.named.is_empty() {
            return false;
        }
        let Side::Pod(info) = self.side(flow.dst) else {
            return false;
        };
        ports.named.iter().any(|(proto, name)| {
            proto.is_none_or(|p| p == flow.protocol)
                && self
                    .named_of(info)
                    .iter()
                    .any(|(n, p, num)| n == name && *p == flow.protocol && *num == flow.port)
        })
    }

    #[inline]
    fn peers_match(
        &self,
        peers: &PeerSet,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> bool {
        if peers.all {
            return true;
        }
        match other {
            Side::Pod(p) => {
                if peers
                    .pod_sets
                    .iter()
                    .any(|s| self.pod_sets.contains(*s, p.identity as usize))
                {
                    return true;
                }
            }
            Side::Node(n, _) => {
                if let Some(extra) = self.extras.get(peers.extra as usize) {
                    if extra
                        .node_sets
                        .iter()
                        .any(|s| self.node_sets.contains(*s, n as usize))
                    {
                        return true;
                    }
                }
            }
            Side::External(_) => {
                if let (Some(name), Some(extra)) =
                    (flow.domain, self.extras.get(peers.extra as usize))
                {
                    if extra.domains.iter().any(|d| {
                        self.domains
                            .get(*d as usize)
                            .is_some_and(|list| list.iter().any(|p| p.matches(name)))
                    }) {
                        return true;
                    }
                }
            }
            Side::Unknown => return false,
        }
        if peers.blocks.is_empty() {
            return false;
        }
        let eligible = peers.any_address
            || match other {
                Side::Pod(_) => self.profile.ipblock_matches_pods(),
                Side::Node(..) => self.profile.ipblock_matches_nodes(),
                _ => true,
            };
        if !eligible {
            return false;
        }
        if *value == NO_VALUE {
            *value = self.raw_value(other, v6);
        }
        let value = *value;
        if value == 0 {
            return false;
        }
        if self.value_bits.has(peers.value_bits) {
            return self.value_bits.contains(peers.value_bits, value as usize);
        }
        peers.blocks.iter().any(|b| self.blocks.contains(*b, value))
    }

    /// Whether a class allows the flow in direction `di` (0 ingress, 1 egress), given
    /// the other side: its tiers in order.
    #[inline]
    fn class_allows(
        &self,
        class: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> bool {
        if let Some(allowed) = self.code_class_allows(class, flow, other, v6) {
            return allowed;
        }
        let Some(head) = self.heads.get(class as usize) else {
            return true;
        };
        let steps = self.steps_of(head);
        let mut value = NO_VALUE;
        // What the rule index reads of the flow, looked up by the first index step.
        let mut prepared = None;
        let mut k = 0usize;
        while let Some(step) = steps.get(k) {
            let mut end = step.end;
            match step.prog() {
                Prog::Allow => return true,
                Prog::Code(pc) => match self.run_code(pc, flow, other, &mut value, v6) {
                    Outcome::Allow => return true,
                    Outcome::Deny => return false,
                    Outcome::Pass => {
                        k += 1;
                        continue;
                    }
                    Outcome::End => {}
                },
                Prog::Index { lo, .. } => {
                    match self.first_rule(
                        di,
                        head.mask,
                        lo,
                        step.scan_hi,
                        flow,
                        other,
                        v6,
                        &mut prepared,
                    ) {
                        Some((rule, action)) => match action {
                            Action::Allow => return true,
                            Action::Deny => return false,
                            _ => {
                                // Pass: on with the tier after the one holding the rule.
                                while let Some(Prog::Index { hi, .. }) =
                                    steps.get(k).map(TierStep::prog)
                                {
                                    if rule < hi {
                                        break;
                                    }
                                    k += 1;
                                }
                                k += 1;
                                continue;
                            }
                        },
                        None => {
                            k = step.scan_last as usize;
                            end = steps.get(k).map_or(TierEnd::Pass, |s| s.end);
                        }
                    }
                }
            }
            if end == TierEnd::Deny {
                return false;
            }
            k += 1;
        }
        true
    }

    /// A class's tier steps.
    #[inline]
    fn steps_of<'s>(&'s self, head: &'s ClassHead) -> &'s [TierStep] {
        let len = head.len as usize;
        if len <= INLINE_STEPS {
            head.inline.get(..len).unwrap_or(&[])
        } else {
            let start = head.start as usize;
            self.steps.get(start..start + len).unwrap_or(&[])
        }
    }

    /// A pod's named container ports.
    #[inline]
    fn named_of(&self, info: &PodInfo) -> &[(u32, Protocol, u16)] {
        let (at, len) = (info.named_at as usize, usize::from(info.named_len));
        self.pod_named.get(at..at + len).unwrap_or(&[])
    }

    /// For a class, which of its instructions' port sets a flow matches (they depend on
    /// the flow's destination, port and protocol only), and whether a tier of it is read
    /// through a rule index (whose named ports depend on the destination's).
    fn port_signature(&self, class: u32, flow: Flow<'_>) -> (Vec<bool>, bool) {
        let Some(head) = self.heads.get(class as usize) else {
            return (Vec::new(), false);
        };
        let mut mask = Vec::new();
        let mut uses_index = false;
        for step in self.steps_of(head) {
            match step.prog() {
                Prog::Allow => {}
                Prog::Index { .. } => uses_index = true,
                Prog::Code(pc) => {
                    for op in self.code.iter().skip(pc as usize) {
                        if op.flags & OP_END != 0 {
                            break;
                        }
                        mask.push(self.op_ports_match(op, flow));
                        if op.flags & OP_LAST != 0 {
                            break;
                        }
                    }
                }
            }
        }
        (mask, uses_index)
    }

    /// Runs the instructions from `pc` until one matches or the tier's end.
    #[inline(always)]
    fn run_code(
        &self,
        mut pc: u32,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> Outcome {
        while let Some(op) = self.code.get(pc as usize) {
            if let Some(outcome) = self.step_op(op, flow, other, value, v6) {
                return outcome;
            }
            pc += 1;
        }
        Outcome::End
    }

    /// Runs one instruction: how the tier ends when it matches or ends the program,
    /// `None` to go on with the next.
    #[inline(always)]
    fn step_op(
        &self,
        op: &Op,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> Option<Outcome> {
        let flags = op.flags;
        if flags & OP_END != 0 {
            return Some(Outcome::End);
        }
        if self.op_ports_match(op, flow)
            && (flags & OP_ALL != 0
                || self.sets_hold(op, other)
                || (flags & OP_MORE_PEERS != 0
                    && self.more_peers_match(op, flow, other, value, v6)))
        {
            return Some(op.outcome());
        }
        (flags & OP_LAST != 0).then_some(Outcome::End)
    }

    /// [`class_allows`](Self::class_allows) for a class whose walk is one program, from
    /// its [`ClassCode`]: `None` for any other class.
    #[inline]
    fn code_class_allows(
        &self,
        class: u32,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> Option<bool> {
        if !self.code_first {
            return None;
        }
        let cc = self.class_code.get(class as usize)?;
        if cc.pc == NO_CODE {
            return None;
        }
        let mut value = NO_VALUE;
        let outcome = match self.step_op(&cc.first, flow, other, &mut value, v6) {
            Some(outcome) => outcome,
            None => self.run_code(cc.pc + 1, flow, other, &mut value, v6),
        };
        Some(match outcome {
            Outcome::Allow | Outcome::Pass => true,
            Outcome::Deny => false,
            Outcome::End => cc.end != TierEnd::Deny,
        })
    }

    /// [`class_allows`](Self::class_allows) for a class with a [`ClassScan`] in
    /// direction `di` (0 ingress, 1 egress): its scan read from the record, then the
    /// program after it, if any. `None` for any other class, or when the flow carries a
    /// name or the walk goes on past the program.
    #[inline(never)]
    fn scan_class_allows(
        &self,
        class: u32,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> Option<bool> {
        let rec = self.class_scan.get(class as usize)?;
        if rec.flags == 0 {
            return None;
        }
        let index = self.rule_index.get(di)?;
        let peer = match other {
            Side::Pod(p) => p
                .rows
                .get(di)
                .and_then(|r| r.get(usize::from(v6)))
                .copied()
                .filter(|r| *r != NO_ROW),
            // A name is matched rule by rule.
            Side::External(_) if flow.domain.is_some() => return None,
            _ => self.peer_row(index, flow, other, di, v6),
        };
        let (mut hits, named) = index.hits(&rec.row, peer, flow.protocol, flow.port)?;
        if named {
            index.add_named(&mut hits, &rec.row, peer, self.named_row_of(flow, di));
        }
        loop {
            let Some(rule) = rule_index::first_set(&hits) else {
                if rec.flags & SCAN_END_DENY != 0 {
                    return Some(false);
                }
                break;
            };
            match index.actions.get(rule as usize)? {
                Action::Allow => return Some(true),
                Action::Deny => return Some(false),
                _ if rule < rec.split => rule_index::clear_below(&mut hits, rec.split),
                // Pass: on with the step after the scan.
                _ => break,
            }
        }
        if rec.flags & SCAN_THEN_CODE == 0 {
            return Some(true);
        }
        let mut value = NO_VALUE;
        match self.run_code(rec.pc, flow, other, &mut value, v6) {
            Outcome::Allow => Some(true),
            Outcome::Deny => Some(false),
            Outcome::End if rec.flags & SCAN_CODE_DENY != 0 => Some(false),
            _ if rec.flags & SCAN_MORE != 0 => None,
            _ => Some(true),
        }
    }

    /// The peer row in `index` (direction `di`'s) of a side other than a pod.
    #[inline(never)]
    fn peer_row(
        &self,
        index: &rule_index::RuleIndex,
        flow: Flow<'_>,
        other: Side<'_>,
        di: usize,
        v6: bool,
    ) -> Option<u32> {
        index.peer_row_id(&mut FlowQuery::new(self, flow, other, di, v6))
    }

    /// Whether the other side is a pod in one of the instruction's inline pod sets.
    #[inline]
    fn sets_hold(&self, op: &Op, other: Side<'_>) -> bool {
        let Side::Pod(p) = other else {
            return false;
        };
        let id = p.identity as usize;
        op.sets
            .get(..usize::from(op.sets_len))
            .unwrap_or(&[])
            .iter()
            .any(|s| self.pod_sets.contains(*s, id))
    }

    /// Whether the flow matches an instruction's ports.
    #[inline(always)]
    fn op_ports_match(&self, op: &Op, flow: Flow<'_>) -> bool {
        let protocol = 1u8 << flow.protocol.index_u8();
        op.ranges_hit(protocol, flow.port)
            || (op.name_protocols & protocol != 0 && self.named_port_holds(op.name, flow))
            || (op.flags & OP_MORE_PORTS != 0 && self.more_ports_match(op, flow))
    }

    /// Whether the destination pod has a container port named `name` with the flow's
    /// protocol and port.
    #[inline]
    fn named_port_holds(&self, name: u32, flow: Flow<'_>) -> bool {
        let Side::Pod(info) = self.side(flow.dst) else {
            return false;
        };
        self.named_of(info)
            .iter()
            .any(|(n, p, num)| *n == name && *p == flow.protocol && *num == flow.port)
    }

    /// The ports an instruction does not hold inline (named ports, more ranges).
    #[inline(never)]
    fn more_ports_match(&self, op: &Op, flow: Flow<'_>) -> bool {
        self.code_more
            .get(op.more as usize)
            .is_some_and(|m| self.ports_match(&m.ports, flow))
    }

    /// The peers an instruction does not hold inline (blocks, node sets, domain names,
    /// pod sets past three).
    #[inline(never)]
    fn more_peers_match(
        &self,
        op: &Op,
        flow: Flow<'_>,
        other: Side<'_>,
        value: &mut u32,
        v6: bool,
    ) -> bool {
        self.code_more
            .get(op.more as usize)
            .is_some_and(|m| self.peers_match(&m.peers, flow, other, value, v6))
    }

    /// The other side's peer row in direction `di`'s rule index.
    #[inline]
    fn row_of(&self, other: Side<'_>, di: usize, v6: bool) -> Option<u32> {
        let fam = usize::from(v6);
        let row = match other {
            Side::Pod(p) => p.rows.get(di)?.get(fam).copied(),
            Side::Node(_, a) => a.rows.get(di)?.get(fam).copied(),
            // Read from the direction's own table: the whole map is only read (for
            // `value`) when a rule's blocks need it.
            Side::External(ip) => self.external_rows.get(di).map(|t| t.get(ip)),
            Side::Unknown => None,
        };
        row.filter(|r| *r != NO_ROW)
    }

    /// Whether the destination pod has a container port with one of `names`, the flow's
    /// protocol and port.
    #[inline]
    fn named_ports_hold(&self, flow: Flow<'_>, names: &[(Option<Protocol>, u32)]) -> bool {
        let Side::Pod(info) = self.side(flow.dst) else {
            return false;
        };
        names.iter().any(|(proto, name)| {
            proto.is_none_or(|p| p == flow.protocol)
                && self
                    .named_of(info)
                    .iter()
                    .any(|(n, p, num)| n == name && *p == flow.protocol && *num == flow.port)
        })
    }

    /// The named-port row, in direction `di`'s index, of the destination pod's container
    /// ports with the flow's protocol and port.
    #[inline]
    fn named_row_of(&self, flow: Flow<'_>, di: usize) -> Option<u32> {
        let Side::Pod(info) = self.side(flow.dst) else {
            return None;
        };
        if info.rows_len == 0 {
            return None;
        }
        let row = if info.first_protocol == flow.protocol.index_u8() && info.first_port == flow.port
        {
            info.first_rows.get(di).copied()
        } else {
            let at = info.rows_at as usize;
            self.pod_named_rows
                .get(at + 1..at + usize::from(info.rows_len))
                .unwrap_or(&[])
                .iter()
                .find(|(p, n, _)| *p == flow.protocol && *n == flow.port)
                .and_then(|(_, _, rows)| rows.get(di).copied())
        };
        row.filter(|r| *r != NO_ROW)
    }

    /// Whether the flow's name matches one of the domain lists.
    fn domains_hold(&self, flow: Flow<'_>, lists: &[u32]) -> bool {
        flow.domain.is_some_and(|name| {
            lists.iter().any(|d| {
                self.domains
                    .get(*d as usize)
                    .is_some_and(|list| list.iter().any(|p| p.matches(name)))
            })
        })
    }

    /// The first indexed rule of class mask `mask` in `lo..hi` that matches the flow,
    /// with its action.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn first_rule<'s>(
        &'s self,
        di: usize,
        mask: u32,
        lo: u32,
        hi: u32,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
        prepared: &mut Option<Option<rule_index::Prepared<'s>>>,
    ) -> Option<(u32, Action)> {
        let index = self.rule_index.get(di)?;
        let mut query = FlowQuery::new(self, flow, other, di, v6);
        let prep = prepared
            .get_or_insert_with(|| index.prepare(&mut query))
            .as_mut()?;
        let rule = index.first_match(mask, lo, hi, prep, &mut query)?;
        Some((rule, index.actions.get(rule as usize).copied()?))
    }

    /// Rule `r` of direction `di` of enforced policy `p`: its action, whether the flow
    /// matches it (for an indexed rule, also its test on the local pod, held in the class
    /// mask `mask`), and whether it holds criteria a flow cannot decide.
    #[allow(clippy::too_many_arguments)]
    fn rule_hits(
        &self,
        p: u32,
        di: usize,
        r: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        mask: u32,
        value: &mut u32,
        v6: bool,
    ) -> Option<(Action, bool, bool)> {
        let rule = self.rules.get(p as usize)?.get(di)?.get(r)?;
        let indexed = self
            .rule_start
            .get(di)
            .and_then(|s| s.get(p as usize))
            .copied()
            .flatten();
        if let (Some(start), Some(index)) = (indexed, self.rule_index.get(di)) {
            let mut query = FlowQuery::new(self, flow, other, di, v6);
            let hit = index.matches(start + to_u32(r), mask, &mut query);
            return Some((rule.action, hit, rule.unsupported));
        }
        if let Some(felix) = self.overlay.as_deref().and_then(|ov| ov.felix_rules(p)) {
            let hit = self.felix_hits(felix.get(di)?.get(r)?, di, flow, other, v6);
            return Some((rule.action, hit, rule.unsupported));
        }
        let hit = self.ports_match(&rule.ports, flow)
            && self.peers_match(&rule.peers, flow, other, value, v6);
        Some((rule.action, hit, rule.unsupported))
    }

    /// Whether the flow matches a Calico rule an overlay entry holds, read in direction
    /// `di` (`other`: the other side): its families, protocols and ports (named ports on
    /// the destination pod, only for the identities `named_only` admits), the other
    /// side's atom and the local pod's, as the build's rule index and class masks decide
    /// a rule numbered there.
    fn felix_hits(
        &self,
        rule: &calico::FelixRule,
        di: usize,
        flow: Flow<'_>,
        other: Side<'_>,
        v6: bool,
    ) -> bool {
        if !rule.families.get(usize::from(v6)).copied().unwrap_or(false)
            || !rule
                .ports
                .protocols
                .get(flow.protocol.index())
                .copied()
                .unwrap_or(false)
        {
            return false;
        }
        let named_ok = |names: &[(Option<Protocol>, u32)]| {
            let Side::Pod(dst) = self.side(flow.dst) else {
                return false;
            };
            rule.named_only
                .as_ref()
                .is_none_or(|only| only.contains(dst.identity as usize))
                && self.named_ports_hold(flow, names)
        };
        if !rule.ports.holds(flow.protocol, flow.port, v6, named_ok) {
            return false;
        }
        let atom = |side: Side<'_>| match side {
            Side::Pod(p) => Some((Some(p.identity), self.raw_value(side, v6))),
            Side::Node(..) | Side::External(_) => Some((None, self.raw_value(side, v6))),
            Side::Unknown => None,
        };
        if let Some(remote) = &rule.remote {
            match atom(other) {
                Some((pod, value)) if remote.holds(pod, value) => {}
                _ => return false,
            }
        }
        if let Some(local) = &rule.local {
            let here = self.side(if di == 0 { flow.dst } else { flow.src });
            match (here, atom(here)) {
                (Side::Pod(_), Some((pod, value))) if local.holds(pod, value) => {}
                _ => return false,
            }
        }
        true
    }

    fn explain_side(&self, flow: Flow<'_>, direction: Direction, v6: bool) -> SideExplanation {
        let (here_e, other_e) = flow.sides(direction);
        let mut side = SideExplanation::open(&self.cluster, direction, here_e);
        let here = self.side(here_e);
        let other = self.side(other_e);
        let info = match here {
            Side::Pod(info) => info,
            Side::Unknown => {
                side.is_pod = matches!(here_e, Endpoint::Pod(_));
                side.decide(Decision::UnknownEndpoint);
                return side;
            }
            _ => return side,
        };
        side.is_pod = true;
        let di = dir_index(direction);
        for (meta, subjects) in self.ignored.iter() {
            if subjects
                .get(di)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.contains(info.identity as usize))
            {
                side.ignored.push(meta.policy_ref());
            }
        }
        let exemption = self.exemption(info, other, flow, direction);
        let own_node = matches!(other, Side::Node(..)) && exemption != Exemption::None;
        let class_id = match exemption {
            // The policies that select the pod are listed, and none is read.
            Exemption::All => self.pod_class(info, di, v6),
            _ => self.class_for(info, other, flow, direction, v6),
        };
        let Some(class) = self.classes.get(class_id as usize) else {
            side.decide(Decision::NoDecision);
            return side;
        };
        let meta = |p: u32| self.policies.get(p as usize);
        // With an overlay touching the identity: the policies its walk reads.
        let read: Option<Vec<u32>> = self
            .overlay
            .as_deref()
            .filter(|ov| ov.affects(info.identity, di))
            .map(|ov| self.overlay_list(ov, &class.policies, info.identity, di));
        let policies: &[u32] = read.as_deref().unwrap_or(&class.policies);
        side.policies = policies
            .iter()
            .filter_map(|p| meta(*p).map(PolicyMeta::policy_ref))
            .collect();
        side.isolated = policies
            .iter()
            .any(|p| meta(*p).is_some_and(|m| m.kind == PolicyKind::NetworkPolicy));
        for (a, &x) in policies.iter().enumerate() {
            for &y in policies.iter().skip(a + 1) {
                if let (Some(p), Some(q)) = (meta(x), meta(y)) {
                    if p.kind == PolicyKind::ClusterNetworkPolicy
                        && q.kind == PolicyKind::ClusterNetworkPolicy
                        && p.tier == q.tier
                        && p.priority == q.priority
                    {
                        side.priority_ties.push((p.policy_ref(), q.policy_ref()));
                    }
                }
            }
        }

        if exemption == Exemption::All {
            side.decide(Decision::OwnNode);
            return side;
        }
        let mask = self.heads.get(class_id as usize).map_or(0, |h| h.mask);
        let mut value = NO_VALUE;
        let mut decision = Decision::NoDecision;
        let mut at = 0usize;
        'tiers: while let Some(&first) = policies.get(at) {
            let Some(tier_pos) = meta(first).map(|m| m.tier_pos) else {
                break;
            };
            let in_tier = policies
                .iter()
                .skip(at)
                .take_while(|p| meta(**p).is_some_and(|m| m.tier_pos == tier_pos))
                .count();
            let tier_policies = policies.get(at..at + in_tier).unwrap_or(&[]);
            at += in_tier;
            let Some(tier) = self.tiers.get(tier_pos as usize) else {
                break;
            };
            if tier.tier == TierRef::NetworkPolicy && exemption == Exemption::NetworkPolicy {
                decision = if own_node {
                    Decision::OwnNode
                } else {
                    Decision::Hairpin
                };
                break;
            }
            let mut allowing: Option<RuleRef> = None;
            for &p in tier_policies {
                let Some(m) = meta(p) else {
                    continue;
                };
                let count = self
                    .rules
                    .get(p as usize)
                    .and_then(|r| r.get(di))
                    .map_or(0, Vec::len);
                for r in 0..count {
                    let Some((action, hit, unsupported)) =
                        self.rule_hits(p, di, r, flow, other, mask, &mut value, v6)
                    else {
                        continue;
                    };
                    if !hit {
                        continue;
                    }
                    let rule_ref = RuleRef::new(m.policy_ref(), direction, r);
                    if unsupported {
                        if allowing.is_none() {
                            side.unsupported.push(rule_ref);
                        }
                        continue;
                    }
                    if m.kind == PolicyKind::NetworkPolicy {
                        // Every NetworkPolicy rule allowing the flow is listed; the first
                        // one decides unless a rule of another kind decided before it.
                        side.allowed_by.push(rule_ref.clone());
                        allowing.get_or_insert(rule_ref);
                        continue;
                    }
                    if allowing.is_some() {
                        continue;
                    }
                    match action {
                        Action::Log => {
                            side.steps
                                .push(Step::new(tier.tier.clone(), rule_ref, action));
                        }
                        Action::Pass => {
                            side.steps
                                .push(Step::new(tier.tier.clone(), rule_ref, action));
                            continue 'tiers;
                        }
                        _ => {
                            decision = Decision::Rule {
                                tier: tier.tier.clone(),
                                rule: rule_ref,
                                action,
                            };
                            break 'tiers;
                        }
                    }
                }
            }
            if let Some(rule) = allowing {
                decision = Decision::Rule {
                    tier: tier.tier.clone(),
                    rule,
                    action: Action::Allow,
                };
                break;
            }
            if tier.end == TierEnd::Deny {
                decision = Decision::TierDefault {
                    tier: tier.tier.clone(),
                    action: Action::Deny,
                };
                side.tier_policies = tier_policies
                    .iter()
                    .filter_map(|p| meta(*p).map(PolicyMeta::policy_ref))
                    .collect();
                break;
            }
        }
        side.decide(decision);
        side
    }
}

/// A flow as one direction's rule index reads it.
struct FlowQuery<'i, 'f> {
    inner: &'i Inner,
    flow: Flow<'f>,
    other: Side<'i>,
    di: usize,
    v6: bool,
}

impl<'i, 'f> FlowQuery<'i, 'f> {
    #[inline]
    fn new(inner: &'i Inner, flow: Flow<'f>, other: Side<'i>, di: usize, v6: bool) -> Self {
        FlowQuery {
            inner,
            flow,
            other,
            di,
            v6,
        }
    }
}

impl rule_index::Query for FlowQuery<'_, '_> {
    #[inline]
    fn protocol(&self) -> Protocol {
        self.flow.protocol
    }
    #[inline]
    fn port(&self) -> u16 {
        self.flow.port
    }
    #[inline]
    fn v6(&self) -> bool {
        self.v6
    }
    #[inline]
    fn external(&self) -> bool {
        matches!(self.other, Side::External(_))
    }
    #[inline]
    fn row(&mut self) -> Option<u32> {
        self.inner.row_of(self.other, self.di, self.v6)
    }
    #[inline]
    fn named_row(&mut self) -> Option<u32> {
        self.inner.named_row_of(self.flow, self.di)
    }
    fn named_ok(&self, names: &[(Option<Protocol>, u32)]) -> bool {
        self.inner.named_ports_hold(self.flow, names)
    }
    #[inline]
    fn has_domain(&self) -> bool {
        matches!(self.other, Side::External(_)) && self.flow.domain.is_some()
    }
    fn domain_ok(&self, lists: &[u32]) -> bool {
        self.inner.domains_hold(self.flow, lists)
    }
}

/// A table position as the engine stores it. Positions in the engine's tables never
/// exceed `u32::MAX`: they number pods, nodes, namespaces, identities, policies or rules,
/// and the cluster refuses more than `u32::MAX` of any; a policy set that large would not
/// fit in memory.
pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl crate::explain::Evaluator for Engine {
    fn cluster(&self) -> &Cluster {
        Engine::cluster(self)
    }
    fn decide(&self, flow: Flow<'_>) -> Verdict {
        Engine::decide(self, flow)
    }
    fn explain(&self, flow: Flow<'_>) -> Explanation {
        Engine::explain(self, flow)
    }
}
