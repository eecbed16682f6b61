//! NP050 (policies the plugin ignores) and NP051 (ipBlocks meant for pods or nodes the
//! plugin does not match).

use super::context::{AddrCtx, Context, PolicyId, peers_key};
use super::{Check, Finding, Out};
use crate::cidr::IpSet;
use crate::policy::{Direction, Peer};

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    ignored(ctx, out);
    ip_blocks(ctx, out);
}

fn ignored(ctx: &Context<'_>, out: &mut Out<'_>) {
    let profile = ctx.profile;
    for r in ctx.engine.ignored_policies() {
        let Some(id) = PolicyId::of(&r) else { continue };
        let (message, suggestion) = if !profile.enforces_any() {
            (
                format!(
                    "the {} profile enforces no network policy: this {} takes no part, every flow is allowed",
                    profile.name(),
                    r.kind
                ),
                "run a plugin that enforces policy (canal adds Calico's enforcement to flannel), or lint with the profile of the plugin that does",
            )
        } else {
            (
                format!(
                    "the {} profile does not enforce {}: this policy takes no part in any decision",
                    profile.name(),
                    r.kind
                ),
                "express it with a kind this plugin enforces, or lint with the profile of the plugin that runs",
            )
        };
        out.push(Finding::new(
            Check::IgnoredByProfile,
            ctx.object(id),
            "",
            message,
            suggestion,
        ));
    }
}

fn ip_blocks(ctx: &Context<'_>, out: &mut Out<'_>) {
    let profile = ctx.profile;
    if !profile.enforces_network_policy()
        || (profile.ipblock_matches_pods() && profile.ipblock_matches_nodes())
    {
        return;
    }
    for (i, policy) in ctx.policies.network_policies().iter().enumerate() {
        for d in Direction::BOTH {
            let key = peers_key(d);
            for (r, rule) in policy.rules(d).iter().enumerate() {
                for (p, peer) in rule.peers.iter().flatten().enumerate() {
                    let Peer::IpBlock(block) = peer else { continue };
                    let set = IpSet::from_block(block.cidr(), block.except());
                    let mut what = Vec::new();
                    if !profile.ipblock_matches_pods() {
                        let mut pods = ctx.pods_in(&set, AddrCtx::V4);
                        pods.union_with(&ctx.pods_in(&set, AddrCtx::V6));
                        if let Some(first) = pods.first() {
                            what.push(format!(
                                "{} pod IP{} (such as {}'s)",
                                pods.count(),
                                if pods.count() == 1 { "" } else { "s" },
                                ctx.pod_name(first)
                            ));
                        }
                    }
                    if !profile.ipblock_matches_nodes() {
                        let mut nodes = ctx.nodes_in(&set, AddrCtx::V4);
                        nodes.union_with(&ctx.nodes_in(&set, AddrCtx::V6));
                        if let Some(first) = nodes.first() {
                            what.push(format!(
                                "{} node IP{} (such as {}'s)",
                                nodes.count(),
                                if nodes.count() == 1 { "" } else { "s" },
                                ctx.node_name(first)
                            ));
                        }
                    }
                    if what.is_empty() {
                        continue;
                    }
                    let unmatched = match (
                        profile.ipblock_matches_pods(),
                        profile.ipblock_matches_nodes(),
                    ) {
                        (false, false) => "pod or node IPs",
                        (false, true) => "pod IPs",
                        _ => "node IPs",
                    };
                    out.push(Finding::new(
                        Check::IpBlockNotMatchedByProfile,
                        ctx.object(PolicyId::Network(i)),
                        format!("spec.{}[{r}].{key}[{p}].ipBlock", d.field()),
                        format!(
                            "ipBlock {} holds {}, but under the {} profile an ipBlock matches no {unmatched}: the rule does not apply to them",
                            block.cidr(),
                            what.join(" and "),
                            profile.name()
                        ),
                        "select pods with podSelector/namespaceSelector; for nodes, use the plugin's own host policy",
                    ));
                }
            }
        }
    }
}
