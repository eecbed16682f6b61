//! The lint's flow checks against brute force, on small generated clusters: every rule
//! and policy is removed in turn, the engine rebuilt, and every flow between every pod,
//! node and outside address (one per address region the policies' CIDRs cut, on every
//! port class of every protocol, between pods and nodes also in each address family
//! dialled, and every pod's traffic to itself through a Service)
//! compared with the original.
//!
//! - NP020 (redundant NetworkPolicy rule): flagged exactly when removing the rule (the
//!   policy still isolating) changes no decision in its direction, for rules that match
//!   some flow and whose policy is not flagged whole; when the lint says part of the
//!   input was not analysed, only "flagged ⇒ unchanged" is required.
//! - NP021 (redundant policy) and NP023 (ineffective tier rule): flagged ⇒ unchanged.
//! - NP022 (shadowed tier rule): flagged exactly when the rule matches some flow and
//!   decides none.
//!
//! For a long campaign: `PROPTEST_CASES=2000 cargo test --release --test lint_props`.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;

use netpol::analysis::lint::{Check, LintInput, Report, lint};
use netpol::cluster::{Cluster, Endpoint, Flow, IpFamily};
use netpol::engine::Engine;
use netpol::explain::{Decision, Explanation, PolicyRef, RuleRef, Special};
use netpol::model::NetworkPolicy;
use netpol::policy::{
    ClusterPeer, ClusterPolicy, ClusterPort, Direction, Peer, Policy, PolicyKind, PolicySet,
    PortSpec, Protocol,
};
use netpol::profile::Profile;
use proptest::prelude::*;
use support::tiers::cluster_policies;
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(48),
        ..ProptestConfig::default()
    }
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop_oneof![
        4 => Just(Profile::conformance()),
        1 => Just(Profile::cilium()),
        1 => Just(Profile::calico()),
        1 => Just(Profile::kube_router()),
        1 => Just(Profile::conformance().with_name("strict").with_own_node_exempt(false).with_self_exempt(false)),
    ]
}

fn build(nps: &[NetworkPolicy], cnps: &[ClusterPolicy]) -> PolicySet {
    let mut set: PolicySet = accept(nps).into_iter().collect();
    set.extend(cnps.iter().cloned());
    set
}

/// Addresses on both sides of every boundary the policies' CIDRs draw, and the fixed
/// outside addresses.
fn outside(set: &PolicySet) -> Vec<IpAddr> {
    let mut nets = Vec::new();
    for p in set.network_policies() {
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers.iter().flatten() {
                    if let Peer::IpBlock { 0: b, .. } = peer {
                        nets.push(b.cidr());
                        nets.extend(b.except().iter().copied());
                    }
                }
            }
        }
    }
    for p in set.cluster_policies() {
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for peer in rule.peers() {
                    if let ClusterPeer::Networks(n) = peer {
                        nets.extend(n.iter().copied());
                    }
                }
            }
        }
    }
    let mut out: BTreeSet<IpAddr> = EXTERNAL.iter().map(|s| s.parse().unwrap()).collect();
    for net in nets {
        let (lo, hi) = (net.network(), net.broadcast());
        out.insert(lo);
        out.insert(hi);
        match (lo, hi) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                if let Some(x) = u32::from(a).checked_sub(1) {
                    out.insert(IpAddr::V4(x.into()));
                }
                if let Some(x) = u32::from(b).checked_add(1) {
                    out.insert(IpAddr::V4(x.into()));
                }
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                if let Some(x) = u128::from(a).checked_sub(1) {
                    out.insert(IpAddr::V6(x.into()));
                }
                if let Some(x) = u128::from(b).checked_add(1) {
                    out.insert(IpAddr::V6(x.into()));
                }
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// Every port class: 0, 1, 65535, both sides of every range boundary, every declared
/// container port.
fn ports(cluster: &Cluster, set: &PolicySet) -> Vec<u16> {
    let mut out: BTreeSet<u16> = [0, 1, 65535].into();
    let mut range = |a: u16, b: u16| {
        for x in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
            out.insert(x);
        }
    };
    for p in set.network_policies() {
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for port in rule.ports.iter().flatten() {
                    if let PortSpec::Range { start, end, .. } = port.port {
                        range(start, end);
                    }
                }
            }
        }
    }
    for p in set.cluster_policies() {
        for d in Direction::BOTH {
            for rule in p.rules(d) {
                for port in rule.ports().into_iter().flatten() {
                    if let ClusterPort::Ports { start, end, .. } = port {
                        range(*start, *end);
                    }
                }
            }
        }
    }
    for (_, pod) in cluster.pods() {
        for cp in pod.ports.iter() {
            out.insert(cp.port);
        }
    }
    out.into_iter().collect()
}

fn grid(cluster: &Cluster, set: &PolicySet) -> Vec<Flow<'static>> {
    let mut eps: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    eps.extend(cluster.node_ids().map(Endpoint::Node));
    eps.extend(outside(set).into_iter().map(Endpoint::External));
    let ports = ports(cluster, set);
    let mut out = Vec::new();
    for &src in &eps {
        for &dst in &eps {
            if src.pod().is_none() && dst.pod().is_none() {
                continue;
            }
            // Between pods and nodes a flow may also carry the family of the address
            // dialled.
            let inside =
                !matches!(src, Endpoint::External(_)) && !matches!(dst, Endpoint::External(_));
            let families: &[Option<IpFamily>] = if inside {
                &[None, Some(IpFamily::Ipv4), Some(IpFamily::Ipv6)]
            } else {
                &[None]
            };
            for proto in Protocol::ALL {
                for &port in &ports {
                    for family in families {
                        let mut f = Flow::new(src, dst, port, proto);
                        if let Some(fam) = family {
                            f = f.in_family(*fam);
                        }
                        out.push(f);
                        if src == dst {
                            out.push(f.through_service());
                        }
                    }
                }
            }
        }
    }
    out
}

fn side(e: &Explanation, d: Direction) -> &netpol::explain::SideExplanation {
    match d {
        Direction::Ingress => &e.ingress,
        Direction::Egress => &e.egress,
    }
}

struct Base {
    flows: Vec<Flow<'static>>,
    explained: Vec<Explanation>,
}

impl Base {
    fn new(cluster: &Cluster, set: &PolicySet, profile: &Profile) -> Base {
        let flows = grid(cluster, set);
        let engine = Engine::builder()
            .profile(profile.clone())
            .build(cluster, set);
        // A pod's traffic to itself (not through a Service) is allowed before any policy
        // is read: the sides' walks do not decide it.
        let flows: Vec<Flow<'static>> = flows
            .into_iter()
            .filter(|f| engine.explain(*f).special != Some(Special::SelfTraffic))
            .collect();
        let explained = flows.iter().map(|f| engine.explain(*f)).collect();
        Base { flows, explained }
    }

    /// Whether any flow whose `d` side is selected by `policy` decides that side
    /// differently with `other`.
    fn changed(
        &self,
        cluster: &Cluster,
        other: &PolicySet,
        profile: &Profile,
        policy: &PolicyRef,
        dirs: &[Direction],
    ) -> Option<String> {
        let engine = Engine::builder()
            .profile(profile.clone())
            .build(cluster, other);
        for (f, before) in self.flows.iter().zip(&self.explained) {
            for &d in dirs {
                let b = side(before, d);
                if !b.policies.contains(policy) {
                    continue;
                }
                let after = engine.explain(*f);
                if side(&after, d).allowed != b.allowed {
                    return Some(format!(
                        "{}{}",
                        cluster.describe_flow(*f),
                        if f.via_service {
                            " (through a Service)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        None
    }
}

fn flagged(
    report: &Report,
    check: Check,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    field: &str,
) -> bool {
    report.of(check).any(|f| {
        f.object.kind == kind
            && f.object.namespace.as_deref() == ns
            && f.object.name == name
            && f.field == field
    })
}

fn skipped(report: &Report, check: Check) -> bool {
    report.skipped.iter().any(|s| s.check == check)
}

fn np_without(w: &NetworkPolicy, d: Direction, r: usize) -> NetworkPolicy {
    let p = Policy::new(w).unwrap();
    let mut w = w.clone();
    w.spec.policy_types = Some(
        Direction::BOTH
            .iter()
            .filter(|x| p.affects(**x))
            .map(|x| x.as_str().to_owned())
            .collect(),
    );
    let list = match d {
        Direction::Ingress => w.spec.ingress.as_mut().map(|v| v.len()),
        Direction::Egress => w.spec.egress.as_mut().map(|v| v.len()),
    };
    assert!(list.is_some_and(|n| r < n));
    match d {
        Direction::Ingress => {
            w.spec.ingress.as_mut().unwrap().remove(r);
        }
        Direction::Egress => {
            w.spec.egress.as_mut().unwrap().remove(r);
        }
    }
    w
}

/// The policy with only rule `r` of direction `d` (its directions kept).
fn np_only(w: &NetworkPolicy, d: Direction, r: usize) -> NetworkPolicy {
    let rule_in = np_without(w, d, r);
    let mut only = rule_in.clone();
    match d {
        Direction::Ingress => {
            only.spec.ingress = Some(vec![w.spec.ingress.as_ref().unwrap()[r].clone()]);
        }
        Direction::Egress => {
            only.spec.egress = Some(vec![w.spec.egress.as_ref().unwrap()[r].clone()]);
        }
    }
    only
}

fn cnp_rebuild(p: &ClusterPolicy, keep: impl Fn(Direction, usize) -> bool) -> ClusterPolicy {
    let mut b = ClusterPolicy::builder(p.name(), p.tier(), p.priority(), p.subject().clone());
    for (i, r) in p.ingress().iter().enumerate() {
        if keep(Direction::Ingress, i) {
            b = b.ingress(r.clone());
        }
    }
    for (i, r) in p.egress().iter().enumerate() {
        if keep(Direction::Egress, i) {
            b = b.egress(r.clone());
        }
    }
    b.build()
}

fn check(
    cluster: &Cluster,
    nps: &[NetworkPolicy],
    cnps: &[ClusterPolicy],
    profile: &Profile,
) -> Result<(), TestCaseError> {
    let set = build(nps, cnps);
    let report = lint(&LintInput::new(cluster, &set).profile(profile.clone()));
    let base = Base::new(cluster, &set, profile);
    let normalised = accept(nps);

    // NetworkPolicy rules and policies.
    for (i, (w, p)) in nps.iter().zip(&normalised).enumerate() {
        let pref = PolicyRef::new(PolicyKind::NetworkPolicy, i, Some(p.namespace()), p.name());
        let policy_flagged = flagged(
            &report,
            Check::RedundantPolicy,
            "NetworkPolicy",
            Some(p.namespace()),
            p.name(),
            "spec",
        );
        if policy_flagged {
            let mut rest: Vec<NetworkPolicy> = nps.to_vec();
            rest.remove(i);
            // Keep the positions of the others: explanations name policies by index.
            let without = build(&rest, cnps);
            let engine = Engine::builder()
                .profile(profile.clone())
                .build(cluster, &without);
            for (f, before) in base.flows.iter().zip(&base.explained) {
                let after = engine.explain(*f);
                for d in Direction::BOTH {
                    prop_assert_eq!(
                        side(&after, d).allowed,
                        side(before, d).allowed,
                        "{} flagged redundant, but removing it changes {} at {}",
                        p.key(),
                        d,
                        cluster.describe_flow(*f)
                    );
                }
            }
        }
        for d in Direction::BOTH {
            for r in 0..p.rules(d).len() {
                let field = format!("spec.{}[{r}]", d.field());
                let is_flagged = flagged(
                    &report,
                    Check::RedundantRule,
                    "NetworkPolicy",
                    Some(p.namespace()),
                    p.name(),
                    &field,
                );
                let mut other = nps.to_vec();
                other[i] = np_without(w, d, r);
                let changed = base.changed(cluster, &build(&other, cnps), profile, &pref, &[d]);
                if is_flagged {
                    prop_assert!(
                        changed.is_none(),
                        "{} {} flagged redundant, but removing it changes {:?}\n{:#?}",
                        p.key(),
                        field,
                        changed,
                        report.findings
                    );
                }
                if changed.is_none() && !policy_flagged && !skipped(&report, Check::RedundantRule) {
                    let single = build(&[np_only(w, d, r)], &[]);
                    if matches_any(cluster, &single, profile, &base, d) {
                        prop_assert!(
                            is_flagged,
                            "{} {} changes nothing when removed but is not flagged\n{:#?}",
                            p.key(),
                            field,
                            report.findings
                        );
                    }
                }
            }
        }
    }

    // ClusterNetworkPolicy rules.
    for (j, c) in cnps.iter().enumerate() {
        let pref = PolicyRef::new(PolicyKind::ClusterNetworkPolicy, j, None, c.name());
        for d in Direction::BOTH {
            for r in 0..c.rules(d).len() {
                let field = format!("spec.{}[{r}]", d.field());
                let rref = RuleRef::new(pref.clone(), d, r);
                let fires = base.explained.iter().any(|e| {
                    let s = side(e, d);
                    matches!(&s.decision, Decision::Rule { rule, .. } if *rule == rref)
                        || s.steps.iter().any(|st| st.rule == rref)
                });
                let shadowed = flagged(
                    &report,
                    Check::ShadowedRule,
                    "ClusterNetworkPolicy",
                    None,
                    c.name(),
                    &field,
                );
                if shadowed {
                    prop_assert!(
                        !fires,
                        "cnp/{} {} flagged shadowed but decides a flow",
                        c.name(),
                        field
                    );
                }
                if !fires && !skipped(&report, Check::ShadowedRule) {
                    let only = cnp_rebuild(c, |dd, i| dd == d && i == r);
                    let single: PolicySet = [only].into_iter().collect();
                    let engine = Engine::builder()
                        .profile(profile.clone())
                        .build(cluster, &single);
                    let first = RuleRef::new(
                        PolicyRef::new(PolicyKind::ClusterNetworkPolicy, 0, None, c.name()),
                        d,
                        0,
                    );
                    let matches = base.flows.iter().any(|f| {
                        let e = engine.explain(*f);
                        let s = side(&e, d);
                        matches!(&s.decision, Decision::Rule { rule, .. } if *rule == first)
                            || s.steps.iter().any(|st| st.rule == first)
                    });
                    prop_assert_eq!(
                        shadowed,
                        matches,
                        "cnp/{} {}: decides no flow, matches some: {}\n{:#?}",
                        c.name(),
                        field,
                        matches,
                        report
                    );
                }
                if flagged(
                    &report,
                    Check::IneffectiveRule,
                    "ClusterNetworkPolicy",
                    None,
                    c.name(),
                    &field,
                ) {
                    let mut other = cnps.to_vec();
                    other[j] = cnp_rebuild(c, |dd, i| !(dd == d && i == r));
                    let changed = base.changed(cluster, &build(nps, &other), profile, &pref, &[d]);
                    prop_assert!(
                        changed.is_none(),
                        "cnp/{} {} flagged ineffective, but removing it changes {:?}",
                        c.name(),
                        field,
                        changed
                    );
                }
            }
        }
    }
    Ok(())
}

/// Whether a NetworkPolicy rule (alone in its policy, alone in `single`) allows some flow
/// of the grid at a pod its policy selects.
fn matches_any(
    cluster: &Cluster,
    single: &PolicySet,
    profile: &Profile,
    base: &Base,
    d: Direction,
) -> bool {
    let engine = Engine::builder()
        .profile(profile.clone())
        .build(cluster, single);
    base.flows
        .iter()
        .any(|f| !side(&engine.explain(*f), d).allowed_by.is_empty())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn flow_checks_match_brute_force(
        cluster in cluster(),
        nps in written_policies(3),
        cnps in cluster_policies(2),
        profile in profiles(),
    ) {
        check(&cluster, &nps, &cnps, &profile)?;
    }

    #[test]
    fn network_policy_checks_match_brute_force(
        cluster in cluster(),
        nps in written_policies(4),
        profile in profiles(),
    ) {
        check(&cluster, &nps, &[], &profile)?;
    }
}
