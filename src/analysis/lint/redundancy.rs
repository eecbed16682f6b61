//! NP020–NP023: rules and policies whose removal changes no decision.

use std::collections::{BTreeMap, BTreeSet};

use super::context::{AddrCtx, Context, PolicyId, RuleId, dir_index};
use super::sets::{FlowSet, PeerSet, Residue, flow_is_empty};
use super::symbolic::{Key, Model, Specials, TierKind, Variant, Without, flow_xor};
use super::{Check, Finding, Out};
use crate::policy::{Action, Direction};

const CHECKS: [Check; 4] = [
    Check::RedundantRule,
    Check::RedundantPolicy,
    Check::ShadowedRule,
    Check::IneffectiveRule,
];

const DOMAINS: &str = "where ClusterNetworkPolicy rules have domainNames peers, what happens without a rule is not analysed";
const PASS_DOMAINS: &str = "where ClusterNetworkPolicy rules with domainNames peers pass, the tiers after them are not analysed";

/// What is known of a rule or policy over every key it takes part in.
#[derive(Debug, Clone, Default)]
struct State {
    /// It took part in at least one key.
    seen: bool,
    /// A key could not be modelled: nothing is claimed.
    unknown: bool,
    /// Whether its removal changes a verdict could not be modelled (NP023).
    unknown_effect: bool,
    /// Removing it changes some decision.
    needed: bool,
    /// It matches some flow (NetworkPolicy rules; ClusterNetworkPolicy rules).
    matches: bool,
    /// ClusterNetworkPolicy rules: it decides some flow.
    fires: bool,
    /// ClusterNetworkPolicy rules: whether every key where it matched had the
    /// NetworkPolicy tier before it.
    np_first: Option<bool>,
    /// NetworkPolicies: some key had it as the only NetworkPolicy selecting the pods.
    sole: bool,
    /// Rules that alone cover it at every key (naming pass).
    covers: Option<BTreeSet<RuleId>>,
}

#[derive(Default)]
struct States {
    rules: BTreeMap<RuleId, State>,
    policies: BTreeMap<PolicyId, State>,
    /// Which checks some keys could not be modelled for, and why.
    unmodelled: BTreeSet<(Check, &'static str)>,
}

/// The keys: per direction, the classes with the same walk. A flow may also be given
/// the family of the address dialled ([`Flow::in_family`](crate::cluster::Flow::in_family)):
/// the other side then uses its first address of that family, so a key is added for each
/// family where that changes a rule's peers.
pub(super) fn keys(ctx: &Context<'_>) -> BTreeMap<Key, Vec<usize>> {
    let mut base: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (c, class) in ctx.classes.iter().enumerate() {
        for d in Direction::BOTH {
            let Some(list) = class.selecting.get(dir_index(d)) else {
                continue;
            };
            if !list
                .iter()
                .any(|p| matches!(p, PolicyId::Network(_) | PolicyId::Cluster(_)))
            {
                continue;
            }
            base.entry(Key::of(class, d, list.clone()))
                .or_default()
                .push(c);
        }
    }
    let mut keys = BTreeMap::new();
    for (key, classes) in base {
        for alt in [AddrCtx::V4, AddrCtx::V6] {
            if alt != key.ctx && peers_differ(ctx, &key, alt) {
                let mut k = key.clone();
                k.ctx = alt;
                keys.entry(k)
                    .or_insert_with(Vec::new)
                    .extend(classes.iter().copied());
            }
        }
        keys.entry(key).or_insert_with(Vec::new).extend(classes);
    }
    keys
}

/// Whether some rule of the key matches other peers when the other side's address is
/// taken in `alt`.
fn peers_differ(ctx: &Context<'_>, key: &Key, alt: AddrCtx) -> bool {
    key.policies.iter().any(|p| {
        let n = match p {
            PolicyId::Network(i) => ctx.np(*i).map_or(0, |x| x.rules(key.dir).len()),
            PolicyId::Cluster(i) => ctx.cnp(*i).map_or(0, |x| x.rules(key.dir).len()),
            PolicyId::Calico(_) => 0,
        };
        (0..n).any(|index| {
            let r = RuleId {
                policy: *p,
                dir: key.dir,
                index,
            };
            ctx.rule_peers(r, key.ctx) != ctx.rule_peers(r, alt)
        })
    })
}

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if !CHECKS.iter().any(|c| out.enabled(*c)) || !ctx.profile.enforces_any() {
        return;
    }
    let keys = keys(ctx);
    let mut st = States::default();
    for (key, classes) in &keys {
        let specials: Vec<Specials> = classes
            .iter()
            .filter_map(|c| ctx.classes.get(*c))
            .map(|c| Specials::of(ctx, c, key.dir))
            .collect();
        match Model::new(ctx, key.clone()) {
            Some(model) => analyse(&model, &specials, &mut st),
            None => {
                let why = if key
                    .policies
                    .iter()
                    .any(|p| matches!(p, PolicyId::Calico(_)))
                {
                    "rules and policies sharing pods with Calico policies are not analysed"
                } else {
                    "ClusterNetworkPolicy under Felix (Calico's conversion) is not analysed"
                };
                for check in CHECKS {
                    st.unmodelled.insert((check, why));
                }
                for p in &key.policies {
                    mark_unknown(ctx, &mut st, *p, key.dir);
                }
            }
        }
    }
    // Name what covers each finding: a second pass over the keys that hold one.
    let flagged = |st: &States, r: &RuleId| {
        st.rules
            .get(r)
            .is_some_and(|s| s.seen && !s.unknown && !s.needed && s.matches)
    };
    let wanted: BTreeSet<RuleId> = st
        .rules
        .keys()
        .filter(|r| flagged(&st, r))
        .copied()
        .collect();
    if !wanted.is_empty() {
        for key in keys.keys() {
            if !key
                .policies
                .iter()
                .any(|p| wanted.iter().any(|r| r.policy == *p))
            {
                continue;
            }
            if let Some(model) = Model::new(ctx, key.clone()) {
                name_covers(&model, &wanted, &mut st);
            }
        }
    }
    for (check, why) in &st.unmodelled {
        out.skip(*check, format!("in part: {why}"));
    }
    report(ctx, &st, out);
}

fn mark_unknown(ctx: &Context<'_>, st: &mut States, p: PolicyId, dir: Direction) {
    let n = match p {
        PolicyId::Network(i) => ctx.np(i).map_or(0, |x| x.rules(dir).len()),
        PolicyId::Cluster(i) => ctx.cnp(i).map_or(0, |x| x.rules(dir).len()),
        PolicyId::Calico(_) => return,
    };
    let s = st.policies.entry(p).or_default();
    s.seen = true;
    s.unknown = true;
    for index in 0..n {
        let r = st
            .rules
            .entry(RuleId {
                policy: p,
                dir,
                index,
            })
            .or_default();
        r.seen = true;
        r.unknown = true;
    }
}

/// Per segment, the union of the sets of every member but one, for each member.
fn unions_but_one(sets: &[&PeerSet]) -> Vec<PeerSet> {
    let n = sets.len();
    let mut prefix = Vec::with_capacity(n);
    let mut acc = PeerSet::default();
    for s in sets {
        prefix.push(acc.clone());
        acc.union_with(s);
    }
    let mut out = vec![PeerSet::default(); n];
    let mut acc = PeerSet::default();
    for i in (0..n).rev() {
        if let (Some(o), Some(p)) = (out.get_mut(i), prefix.get(i)) {
            let mut u = p.clone();
            u.union_with(&acc);
            *o = u;
        }
        if let Some(s) = sets.get(i) {
            acc.union_with(s);
        }
    }
    out
}

fn analyse(model: &Model, specials: &[Specials], st: &mut States) {
    let walk = model
        .has_cluster
        .then(|| model.walk(Without::default(), Variant::Rules, true));
    let reached: Option<&FlowSet> = walk.as_ref().and_then(|w| w.reached.as_ref());
    let np_tier = model.tiers.iter().find(|t| t.kind == TierKind::Union);
    let absorbed = |res: &Residue| specials.iter().all(|s| s.absorbs(res));
    let avoided = |res: &Residue| specials.iter().all(|s| s.avoids(res));

    // NetworkPolicy rules and policies.
    if let (Some(tier), true) = (np_tier, model.domain_pass) {
        for check in [Check::RedundantRule, Check::RedundantPolicy] {
            st.unmodelled.insert((check, PASS_DOMAINS));
        }
        for (p, range) in &tier.policies {
            st.policies.entry(*p).or_default().unknown = true;
            for r in range.clone() {
                if let Some(rule) = model.rules.get(r) {
                    let s = st.rules.entry(rule.id).or_default();
                    s.seen = true;
                    s.unknown = true;
                }
            }
        }
    } else if let Some(tier) = np_tier {
        let np_rules: Vec<(usize, PolicyId)> = tier
            .policies
            .iter()
            .flat_map(|(p, range)| range.clone().map(move |r| (r, *p)))
            .collect();
        // Whether the NetworkPolicy tier is reached at all (a key with ClusterNetworkPolicy
        // may decide everything first).
        let mut rule_res: BTreeMap<usize, Residue> = BTreeMap::new();
        let mut policy_res: BTreeMap<PolicyId, Residue> = BTreeMap::new();
        let several = tier.policies.len() >= 2;
        let nothing = PeerSet::default();
        for (si, _) in model.segs.iter().enumerate() {
            let members: Vec<(usize, PolicyId, &PeerSet)> = np_rules
                .iter()
                .filter_map(|(r, p)| {
                    let m = model.rules.get(*r)?.m.get(si)?;
                    (!m.is_empty()).then_some((*r, *p, &**m))
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            for (r, _, _) in &members {
                if let Some(rule) = model.rules.get(*r) {
                    let s = st.rules.entry(rule.id).or_default();
                    s.matches = true;
                }
            }
            // `None`: every flow reaches the NetworkPolicy tier.
            let reached_here: Option<&PeerSet> = match (model.has_cluster, reached) {
                (false, _) => None,
                (true, Some(r)) => Some(r.get(si).unwrap_or(&nothing)),
                (true, None) => Some(&nothing),
            };
            if reached_here.is_some_and(PeerSet::is_empty) {
                continue;
            }
            let sets: Vec<&PeerSet> = members.iter().map(|(_, _, m)| *m).collect();
            let others = unions_but_one(&sets);
            for ((r, _, m), other) in members.iter().zip(&others) {
                let mut rem = match reached_here {
                    Some(reach) => m.intersection(reach),
                    None => (*m).clone(),
                };
                rem.subtract(other);
                rule_res.entry(*r).or_default().add_set(&rem);
            }
            if several {
                // Per policy: its rules' union against every other policy's.
                let mut by_policy: BTreeMap<PolicyId, PeerSet> = BTreeMap::new();
                for (_, p, m) in &members {
                    by_policy.entry(*p).or_default().union_with(m);
                }
                let ids: Vec<PolicyId> = by_policy.keys().copied().collect();
                let sets: Vec<&PeerSet> = by_policy.values().collect();
                let others = unions_but_one(&sets);
                for ((p, set), other) in ids.iter().zip(&sets).zip(&others) {
                    let mut rem = match reached_here {
                        Some(reach) => set.intersection(reach),
                        None => (*set).clone(),
                    };
                    rem.subtract(other);
                    policy_res.entry(*p).or_default().add_set(&rem);
                }
            }
        }
        for (r, _) in &np_rules {
            let Some(rule) = model.rules.get(*r) else {
                continue;
            };
            let s = st.rules.entry(rule.id).or_default();
            s.seen = true;
            if let Some(res) = rule_res.get(r) {
                if !absorbed(res) {
                    s.needed = true;
                }
            }
        }
        for (p, _) in &tier.policies {
            let s = st.policies.entry(*p).or_default();
            s.seen = true;
            if s.needed || s.unknown {
                continue;
            }
            if several {
                if let Some(res) = policy_res.get(p) {
                    if !absorbed(res) {
                        s.needed = true;
                    }
                }
                continue;
            }
            // The only NetworkPolicy here: without it, the tier does not select the pods.
            s.sole = true;
            if model.domains {
                s.unknown = true;
                st.unmodelled.insert((Check::RedundantPolicy, DOMAINS));
                continue;
            }
            let without = Without {
                policy: Some(*p),
                rule: None,
            };
            let (delta_a, delta_b) = if model.has_cluster {
                let after = model.walk(without, Variant::Rules, false).allowed;
                let with_a = model
                    .walk(Without::default(), Variant::Rules, false)
                    .allowed;
                let with_b = model
                    .walk(Without::default(), Variant::AllowAll, false)
                    .allowed;
                (flow_xor(&with_a, &after), flow_xor(&with_b, &after))
            } else {
                // Without it every flow is allowed; with it, what its rules allow (and
                // the own-node and hairpin flows).
                let mut denied = model.universe();
                let allowed =
                    model.union_of(tier.policies.iter().flat_map(|(_, range)| range.clone()));
                super::sets::flow_subtract(&mut denied, &allowed);
                (denied, model.empty())
            };
            if !absorbed(&Residue::of(&delta_a)) || !avoided(&Residue::of(&delta_b)) {
                s.needed = true;
            }
        }
    }

    // ClusterNetworkPolicy rules.
    let Some(walk) = walk else { return };
    let np_first_tier = model.tiers.iter().position(|t| t.kind == TierKind::Union);
    for (r, rule) in model.rules.iter().enumerate() {
        if !matches!(rule.id.policy, PolicyId::Cluster(_)) {
            continue;
        }
        if model.domain_pass {
            st.unmodelled.insert((Check::ShadowedRule, PASS_DOMAINS));
            st.unmodelled.insert((Check::IneffectiveRule, PASS_DOMAINS));
        }
        let s = st.rules.entry(rule.id).or_default();
        s.seen = true;
        if model.domain_pass {
            s.unknown = true;
            continue;
        }
        let matched = rule.m.iter().any(|m| !m.is_empty());
        if matched {
            s.matches = true;
            let np_before = np_first_tier.is_some_and(|t| t < rule.tier);
            s.np_first = Some(s.np_first.unwrap_or(true) && np_before);
        }
        let fired = walk.fired.get(r).cloned().unwrap_or_default();
        if flow_is_empty(&fired) {
            continue;
        }
        s.fires = true;
        if model.domains {
            s.unknown_effect = true;
            st.unmodelled.insert((Check::IneffectiveRule, DOMAINS));
            continue;
        }
        if s.needed {
            continue;
        }
        // Would the verdicts of the flows it decides be the same without it?
        let (tier_after, rule_after) = model.after(r);
        for variant in [Variant::Rules, Variant::AllowAll] {
            let with = match rule.action {
                Action::Allow => fired.clone(),
                Action::Deny => model.empty(),
                _ => {
                    model
                        .walk_from(
                            fired.clone(),
                            rule.tier + 1,
                            0,
                            Without::default(),
                            variant,
                            false,
                        )
                        .allowed
                }
            };
            let without = model
                .walk_from(
                    fired.clone(),
                    tier_after,
                    rule_after,
                    Without::default(),
                    variant,
                    false,
                )
                .allowed;
            let delta = Residue::of(&flow_xor(&with, &without));
            let ok = match variant {
                Variant::Rules => absorbed(&delta),
                Variant::AllowAll => avoided(&delta),
            };
            if !ok {
                s.needed = true;
                break;
            }
        }
    }
}

/// The naming pass: which single rule covers each flagged rule at this key.
fn name_covers(model: &Model, wanted: &BTreeSet<RuleId>, st: &mut States) {
    let reached = model
        .has_cluster
        .then(|| {
            model
                .walk(Without::default(), Variant::Rules, false)
                .reached
        })
        .flatten();
    for (r, rule) in model.rules.iter().enumerate() {
        if !wanted.contains(&rule.id) {
            continue;
        }
        let network = matches!(rule.id.policy, PolicyId::Network(_));
        // What must be covered: what reaches the rule (NetworkPolicy: what reaches the
        // tier) and it matches.
        let target: FlowSet = if network {
            match &reached {
                Some(reach) => model.hit(reach, r),
                None if model.has_cluster => model.empty(),
                None => model.matched(r),
            }
        } else {
            // What reaches its tier: a shadowed rule is reached by nothing itself.
            let start = model
                .tiers
                .get(rule.tier)
                .and_then(|t| t.policies.first())
                .map_or(r, |(_, range)| range.start);
            model.hit(&model.reaching_at(rule.tier, start), r)
        };
        if flow_is_empty(&target) {
            continue;
        }
        let mut here = BTreeSet::new();
        for (q, other) in model.rules.iter().enumerate() {
            if q == r || other.tier != rule.tier {
                continue;
            }
            if !network
                && (q > r || !matches!(other.action, Action::Allow | Action::Deny | Action::Pass))
            {
                continue;
            }
            let covers = target
                .iter()
                .zip(&other.m)
                .all(|(t, m)| t.is_empty() || t.is_subset(m));
            if covers {
                here.insert(other.id);
            }
        }
        let s = st.rules.entry(rule.id).or_default();
        s.covers = Some(match s.covers.take() {
            None => here,
            Some(prev) => prev.intersection(&here).copied().collect(),
        });
    }
}

fn report(ctx: &Context<'_>, st: &States, out: &mut Out<'_>) {
    let redundant_policies: BTreeSet<PolicyId> = st
        .policies
        .iter()
        .filter(|(p, s)| matches!(p, PolicyId::Network(_)) && s.seen && !s.unknown && !s.needed)
        .map(|(p, _)| *p)
        .collect();
    for p in &redundant_policies {
        let rules: usize = Direction::BOTH
            .iter()
            .map(|d| match p {
                PolicyId::Network(i) => ctx.np(*i).map_or(0, |x| x.rules(*d).len()),
                _ => 0,
            })
            .sum();
        let sole = st.policies.get(p).is_some_and(|s| s.sole);
        let what = match (sole, rules) {
            (false, 0) => "every pod it selects is isolated by other NetworkPolicies too",
            (false, _) => {
                "every pod it selects is isolated by other NetworkPolicies too, and their rules allow everything its rules allow"
            }
            (true, _) => {
                "where it is the only NetworkPolicy of its pods, what it allows and what it denies would be so without it"
            }
        };
        out.push(Finding::new(
            Check::RedundantPolicy,
            ctx.object(*p),
            "spec",
            format!("removing this policy changes no decision in this cluster: {what}"),
            "delete it (one at a time: policies that cover each other are each reported), or keep it deliberately as a safety net for pods the other policies may stop selecting",
        ));
    }
    for (r, s) in &st.rules {
        if !s.seen || s.unknown || s.needed || !s.matches {
            continue;
        }
        let field = format!("spec.{}[{}]", r.dir.field(), r.index);
        let cover = s
            .covers
            .as_ref()
            .and_then(|c| c.iter().next())
            .map(|c| ctx.rule_name(*c));
        match r.policy {
            PolicyId::Network(_) => {
                if redundant_policies.contains(&r.policy) {
                    continue;
                }
                let by = match cover {
                    Some(c) => format!("everything it allows is also allowed by {c}"),
                    None => "everything it allows is allowed by other rules together, decided first by a ClusterNetworkPolicy, or traffic of a pod with itself or its own node".to_owned(),
                };
                out.push(Finding::new(
                    Check::RedundantRule,
                    ctx.object(r.policy),
                    field,
                    format!("removing this rule changes no decision in this cluster: {by}"),
                    "delete the rule (one at a time: rules that cover each other are each reported), or narrow the rule that covers it if that one is too broad",
                ));
            }
            PolicyId::Cluster(_) if !s.fires => {
                let by = match cover {
                    Some(c) => format!("{c} decides every flow it matches first"),
                    None if s.np_first == Some(true) => "every pod it applies to is isolated by a NetworkPolicy, whose tier decides first".to_owned(),
                    None => "earlier rules and tiers decide every flow it matches first".to_owned(),
                };
                out.push(Finding::new(
                    Check::ShadowedRule,
                    ctx.object(r.policy),
                    field,
                    format!("this rule never decides a flow: {by}"),
                    "delete it, or move it before the rules that shadow it (a lower priority number, or earlier in the list)",
                ));
            }
            PolicyId::Cluster(_) if !s.unknown_effect => {
                out.push(Finding::new(
                    Check::IneffectiveRule,
                    ctx.object(r.policy),
                    field,
                    "this rule decides flows, but without it the rules and tiers after it would decide them the same way: removing it changes no verdict",
                    "delete it, unless it is meant to keep those flows decided if later rules change",
                ));
            }
            _ => {}
        }
    }
}
