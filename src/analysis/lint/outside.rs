//! NP052: ingress `ipBlock`s on pods a Service exposes outside the cluster, where the
//! service proxy's masquerade decides what they match.

use std::net::IpAddr;

use super::context::{Context, PolicyId};
use super::{Check, Finding, Out};
use crate::cidr::IpSet;
use crate::cluster::Endpoint;
use crate::policy::{Direction, Peer, Rule};
use crate::service::{ClientMatch, ServiceFromOutside, ServiceProxy, SourceSeen};

const REFUSED: &str = "to filter outside clients by address, set externalTrafficPolicy: Local on the Service (endpoints then see the client's own address, and only those on the receiving node serve), or use a data plane that keeps the client's address; allowing the masquerade addresses instead would admit every outside client";
const ADMITTED: &str = "if the block is meant for nodes or pods of the cluster, leave the masquerade addresses out of it (or select pods with podSelector); to filter outside clients by address, set externalTrafficPolicy: Local on the Service";

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    let check = Check::IpBlockMasqueraded;
    if !out.enabled(check) {
        return;
    }
    let Some(table) = ctx.input.services else {
        out.skip(
            check,
            "no Services were given: which pods are reached from outside the cluster is not known",
        );
        return;
    };
    if !ctx.profile.enforces_network_policy() {
        return;
    }
    let foreign = table.services().any(|(id, svc)| {
        svc.ports.iter().any(|p| {
            table.endpoints(id, p.port, p.protocol).is_ok_and(|e| {
                e.iter()
                    .any(|e| !ctx.cluster.contains(Endpoint::Pod(e.pod)))
            })
        })
    });
    if foreign {
        out.skip(check, "the Services' table was built for another cluster");
        return;
    }
    let proxy = ServiceProxy::new(ctx.profile);
    let outside = table.outside(ctx.cluster, &proxy);
    for (i, policy) in ctx.policies.network_policies().iter().enumerate() {
        for (r, rule) in policy.rules(Direction::Ingress).iter().enumerate() {
            let Ok(answer) = outside.ingress_rule(policy, r) else {
                continue;
            };
            for s in &answer.services {
                if let Some(message) = answer.refused_text(s) {
                    let field = peer_field(r, rule, refused_address(s));
                    out.push(Finding::new(
                        check,
                        ctx.object(PolicyId::Network(i)),
                        field,
                        message,
                        REFUSED,
                    ));
                }
                if let Some(message) = answer.admitted_text(s) {
                    let field = peer_field(r, rule, admitted_address(s));
                    out.push(Finding::new(
                        check,
                        ctx.object(PolicyId::Network(i)),
                        field,
                        message,
                        ADMITTED,
                    ));
                }
            }
        }
    }
}

/// An outside client the blocks hold, through an entrance where some endpoint sees it
/// masqueraded and refuses it.
fn refused_address(s: &ServiceFromOutside) -> Option<IpAddr> {
    s.entrances
        .iter()
        .filter(|e| e.clients != ClientMatch::None)
        .find_map(|e| e.example)
}

/// A masquerade address the blocks hold and every client is admitted through.
fn admitted_address(s: &ServiceFromOutside) -> Option<IpAddr> {
    s.receivers.iter().find_map(|r| {
        let m = r.masquerade.as_ref().filter(|m| m.matched)?;
        match &m.source_seen {
            SourceSeen::Masqueraded { address, .. } => *address,
            _ => None,
        }
    })
}

/// The path of the `ipBlock` peer holding `address` (the rule's `from` without one).
fn peer_field(r: usize, rule: &Rule, address: Option<IpAddr>) -> String {
    let peer = address.and_then(|a| {
        rule.peers.iter().flatten().position(|peer| match peer {
            Peer::IpBlock(b) => IpSet::from_block(b.cidr(), b.except()).contains(a),
            _ => false,
        })
    });
    match peer {
        Some(p) => format!("spec.ingress[{r}].from[{p}].ipBlock"),
        None => format!("spec.ingress[{r}].from"),
    }
}
