//! NP060 (equal-priority ClusterNetworkPolicies that decide a flow differently) and NP061
//! (equal-order Calico policies with different actions).

use std::collections::BTreeSet;

use super::context::{Context, PolicyId};
use super::redundancy::keys;
use super::sets::{Peer, Segment, flow_intersection, flow_witness};
use super::symbolic::{Model, TierKind};
use super::{Check, Finding, Out};
use crate::policy::{Action, Direction};

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if out.enabled(Check::PriorityConflict) && ctx.profile.enforces_cluster_network_policy() {
        cluster(ctx, out);
    }
    if out.enabled(Check::CalicoOrderConflict) {
        calico(ctx, out);
    }
}

pub(super) fn describe_peer(ctx: &Context<'_>, p: Peer) -> String {
    match p {
        Peer::Pod(i) => ctx.pod_name(i),
        Peer::Node(i) => ctx.node_name(i),
        Peer::Address(ip) => ip.to_string(),
    }
}

pub(super) fn describe_flow(
    ctx: &Context<'_>,
    subject: usize,
    dir: Direction,
    seg: Segment,
    peer: Peer,
) -> String {
    let here = ctx.pod_name(subject);
    let there = describe_peer(ctx, peer);
    let port = if seg.lo == 0 && seg.hi > 0 { 1 } else { seg.lo };
    match dir {
        Direction::Ingress => format!("{there} -> {here} {port}/{}", seg.protocol),
        Direction::Egress => format!("{here} -> {there} {port}/{}", seg.protocol),
    }
}

fn cluster(ctx: &Context<'_>, out: &mut Out<'_>) {
    let mut done: BTreeSet<(PolicyId, PolicyId)> = BTreeSet::new();
    let mut skipped = false;
    for (key, classes) in keys(ctx) {
        let cnps: Vec<PolicyId> = key
            .policies
            .iter()
            .filter(|p| matches!(p, PolicyId::Cluster(_)))
            .copied()
            .collect();
        if cnps.len() < 2 {
            continue;
        }
        let Some(model) = Model::new(ctx, key.clone()) else {
            skipped = true;
            continue;
        };
        if model.domains {
            skipped = true;
            continue;
        }
        let Some(&subject) = classes
            .first()
            .and_then(|c| ctx.classes.get(*c))
            .and_then(|c| c.pods.first())
        else {
            continue;
        };
        for (t, tier) in model.tiers.iter().enumerate() {
            if tier.kind != TierKind::Ordered {
                continue;
            }
            let priority = |p: &PolicyId| match p {
                PolicyId::Cluster(i) => ctx.cnp(*i).map(|c| c.priority()),
                _ => None,
            };
            for (a_pos, (a, a_range)) in tier.policies.iter().enumerate() {
                for (b, b_range) in tier.policies.iter().skip(a_pos + 1) {
                    if priority(a) != priority(b) || done.contains(&(*a, *b)) {
                        continue;
                    }
                    // The flows reaching the first policy of this priority.
                    let first = tier
                        .policies
                        .iter()
                        .find(|(p, _)| priority(p) == priority(a))
                        .map_or(a_range.start, |(_, r)| r.start);
                    let input = model.reaching_at(t, first);
                    let da = model.decide_alone(a_range.clone(), &input);
                    let db = model.decide_alone(b_range.clone(), &input);
                    let names = [Action::Allow, Action::Deny, Action::Pass];
                    let mut conflict = None;
                    'pairs: for (i, x) in da.iter().enumerate() {
                        for (j, y) in db.iter().enumerate() {
                            if i == j {
                                continue;
                            }
                            let both = flow_intersection(x, y);
                            if let Some(w) = flow_witness(&both, &model.segs) {
                                conflict = Some((names.get(i), names.get(j), w));
                                break 'pairs;
                            }
                        }
                    }
                    let Some((Some(xa), Some(xb), (seg, peer))) = conflict else {
                        continue;
                    };
                    done.insert((*a, *b));
                    let flow = describe_flow(ctx, subject, key.dir, seg, peer);
                    out.push(Finding::new(
                        Check::PriorityConflict,
                        ctx.object(*b),
                        "spec.priority",
                        format!(
                            "{} and {} share tier and priority {}, and decide some flows differently: {} says {xa} and {} says {xb} (for example {flow}); which one wins is not defined",
                            ctx.policy_name(*a),
                            ctx.policy_name(*b),
                            priority(a).unwrap_or(0),
                            ctx.policy_name(*a),
                            ctx.policy_name(*b),
                        ),
                        "give one of them a lower priority number so that the order is defined",
                    ));
                }
            }
        }
    }
    if skipped {
        out.skip(
            Check::PriorityConflict,
            "in part: pods where ClusterNetworkPolicies meet Calico policies, Felix's conversion or domainNames peers are not analysed",
        );
    }
}

fn calico(ctx: &Context<'_>, out: &mut Out<'_>) {
    let mut done: BTreeSet<(usize, usize)> = BTreeSet::new();
    for class in &ctx.classes {
        for d in Direction::BOTH {
            let calico = class.calico_selecting(d);
            for (k, &a) in calico.iter().enumerate() {
                for &b in calico.iter().skip(k + 1) {
                    let (Some(pa), Some(pb)) = (ctx.calico(a), ctx.calico(b)) else {
                        continue;
                    };
                    let (Some(oa), Some(ob)) = (pa.order(), pb.order()) else {
                        continue;
                    };
                    if pa.tier() != pb.tier() || oa != ob || done.contains(&(a, b)) {
                        continue;
                    }
                    let actions = |p: &crate::calico::CalicoPolicy| -> BTreeSet<Action> {
                        p.rules(d)
                            .iter()
                            .map(|r| r.action())
                            .filter(|x| matches!(x, Action::Allow | Action::Deny | Action::Pass))
                            .collect()
                    };
                    let (xa, xb) = (actions(pa), actions(pb));
                    let differ = xa.iter().any(|x| xb.iter().any(|y| x != y));
                    if !differ {
                        continue;
                    }
                    done.insert((a, b));
                    let (first, second) = if pa.sort_key() <= pb.sort_key() {
                        (a, b)
                    } else {
                        (b, a)
                    };
                    let pod = class
                        .pods
                        .first()
                        .map_or_else(String::new, |p| ctx.pod_name(*p));
                    out.push(Finding::new(
                        Check::CalicoOrderConflict,
                        ctx.object(PolicyId::Calico(second)),
                        "spec.order",
                        format!(
                            "{} and {} are both in tier {} at order {oa} and both apply to pod {pod} for {}, with rules of different actions: Felix reads {} first only because of its name",
                            ctx.policy_name(PolicyId::Calico(first)),
                            ctx.policy_name(PolicyId::Calico(second)),
                            pa.tier(),
                            d.as_str().to_lowercase(),
                            ctx.policy_name(PolicyId::Calico(first)),
                        ),
                        "give them different orders so that the intended one is read first",
                    ));
                }
            }
        }
    }
}
