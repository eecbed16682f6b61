//! NP024: Calico rules that are never read, because a catch-all or an identical rule
//! decides first (in the same policy), or because an earlier policy of the same tier
//! decides every flow of every pod the policy applies to.

use std::collections::BTreeMap;

use super::context::{Context, PolicyId};
use super::{Check, Finding, Out};
use crate::calico::CalicoRule;
use crate::policy::{Action, Direction};

fn terminal(rule: &CalicoRule) -> bool {
    matches!(rule.action(), Action::Allow | Action::Deny | Action::Pass)
}

/// A rule with no criteria: it matches every flow of its direction.
fn catch_all(rule: &CalicoRule) -> bool {
    rule.ip_version().is_none()
        && rule.protocol().is_none()
        && rule.not_protocol().is_none()
        && rule.icmp().is_none()
        && rule.not_icmp().is_none()
        && rule.http().is_none()
        && rule.source().is_empty()
        && rule.destination().is_empty()
}

/// Two rules that match the same flows (their actions and annotations aside).
fn same_criteria(a: &CalicoRule, b: &CalicoRule) -> bool {
    a.ip_version() == b.ip_version()
        && a.protocol() == b.protocol()
        && a.not_protocol() == b.not_protocol()
        && a.icmp() == b.icmp()
        && a.not_icmp() == b.not_icmp()
        && a.http() == b.http()
        && a.source() == b.source()
        && a.destination() == b.destination()
}

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if !out.enabled(Check::CalicoShadowedRule) || !ctx.felix() {
        return;
    }
    let policies = ctx.policies.calico_policies();
    // Within one policy.
    for (i, policy) in policies.iter().enumerate() {
        for d in Direction::BOTH {
            let rules = policy.rules(d);
            for (j, rule) in rules.iter().enumerate() {
                let cover = rules.iter().take(j).position(|earlier| {
                    terminal(earlier) && (catch_all(earlier) || same_criteria(earlier, rule))
                });
                let Some(k) = cover else { continue };
                let why = match rules.get(k) {
                    Some(e) if catch_all(e) => "has no criteria: it decides every flow",
                    _ => "has the same criteria",
                };
                out.push(Finding::new(
                    Check::CalicoShadowedRule,
                    ctx.object(PolicyId::Calico(i)),
                    format!("spec.{}[{j}]", d.field()),
                    format!(
                        "this rule is never read: spec.{}[{k}] before it {why}",
                        d.field()
                    ),
                    "delete it, or move it before the rule that shadows it",
                ));
            }
        }
    }
    // Across the policies of a tier: per policy and direction, whether at every class of
    // pods it applies to an earlier policy of its tier decides every flow.
    let decides_all = |p: usize, d: Direction| {
        policies
            .get(p)
            .and_then(|x| x.rules(d).iter().position(|r| terminal(r) && catch_all(r)))
    };
    let mut state: BTreeMap<(usize, Direction), Option<(usize, usize)>> = BTreeMap::new();
    for class in &ctx.classes {
        for d in Direction::BOTH {
            let calico = class.calico_selecting(d);
            for (k, &b) in calico.iter().enumerate() {
                let Some(pb) = policies.get(b) else { continue };
                let blocker = calico.iter().take(k).find_map(|&a| {
                    let pa = policies.get(a)?;
                    if pa.tier() != pb.tier() {
                        return None;
                    }
                    decides_all(a, d).map(|r| (a, r))
                });
                let entry = state.entry((b, d)).or_insert(blocker);
                if blocker.is_none() {
                    *entry = None;
                }
            }
        }
    }
    for ((b, d), blocker) in state {
        let Some((a, r)) = blocker else { continue };
        if policies.get(b).is_none_or(|p| p.rules(d).is_empty()) {
            continue;
        }
        out.push(Finding::new(
            Check::CalicoShadowedRule,
            ctx.object(PolicyId::Calico(b)),
            format!("spec.{}", d.field()),
            format!(
                "none of its {} rules is ever read: at every pod it applies to, {} comes first in tier {} and decides every flow with spec.{}[{r}], which has no criteria",
                d.field(),
                ctx.policy_name(PolicyId::Calico(a)),
                policies.get(b).map_or("", |p| p.tier()),
                d.field(),
            ),
            "give it a lower order than the policy that decides first, or narrow that policy's catch-all rule",
        ));
    }
}
