//! NP030–NP032: ports no destination declares, and criteria that can never match.

use ipnet::IpNet;

use super::context::{AddrCtx, Context, PolicyId, RuleId, Scope, peers_key};
use super::sets::Bits;
use super::{Check, Finding, Out};
use crate::calico::{CalicoRule, EntityMatch, PortValue};
use crate::cidr::IpSet;
use crate::policy::{ClusterPort, Direction, Peer, PortSpec, Protocol, Subject};
use crate::selector::Selector;

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    network_policies(ctx, out);
    cluster_policies(ctx, out);
    calico_policies(ctx, out);
}

/// Whether one of `pods` declares a port `name` (of `protocol`, or any when `None`).
fn declares_named(ctx: &Context<'_>, pods: &Bits, name: &str, protocol: Option<Protocol>) -> bool {
    ctx.declared_numbers.get(name).is_some_and(|list| {
        list.iter().any(|(p, n)| {
            protocol.is_none_or(|want| want == *p)
                && ctx
                    .declared
                    .get(&(name.to_owned(), *p, *n))
                    .is_some_and(|b| b.intersects(pods))
        })
    })
}

/// The pods the destination of a rule may be: the subject's at ingress, the peers' at
/// egress.
fn destinations(ctx: &Context<'_>, rule: RuleId, subject: &Bits) -> Bits {
    match rule.dir {
        Direction::Ingress => subject.clone(),
        Direction::Egress => {
            let mut pods = Bits::new();
            for c in AddrCtx::ALL {
                if let Some(p) = ctx.rule_peers(rule, c) {
                    pods.union_with(&p.pods);
                }
            }
            pods
        }
    }
}

fn named_finding(
    ctx: &Context<'_>,
    id: PolicyId,
    rule: RuleId,
    field: String,
    name: &str,
    protocol: Option<Protocol>,
) -> Finding {
    let who = match rule.dir {
        Direction::Ingress => "the pods the policy selects",
        Direction::Egress => "the pods the rule's peers select",
    };
    let proto = protocol.map_or(String::new(), |p| format!("/{p}"));
    Finding::new(
        Check::UndeclaredNamedPort,
        ctx.object(id),
        field,
        format!(
            "none of {who} declares a container port named {name:?}{proto}: this port entry matches nothing"
        ),
        "use the name the pods declare (kubectl get pod -o jsonpath='{..ports}'), or a port number",
    )
}

fn network_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    for (i, policy) in ctx.policies.network_policies().iter().enumerate() {
        let id = PolicyId::Network(i);
        let subject = match ctx.ns_by_name.get(policy.namespace()) {
            Some(ns) => (*ctx.pods_matching(&Scope::Own(*ns), policy.pod_selector())).clone(),
            None => Bits::new(),
        };
        for d in Direction::BOTH {
            let key = peers_key(d);
            for (r, rule) in policy.rules(d).iter().enumerate() {
                let rid = RuleId {
                    policy: id,
                    dir: d,
                    index: r,
                };
                for (p, peer) in rule.peers.iter().flatten().enumerate() {
                    if let Peer::IpBlock(block) = peer {
                        if !block.except().is_empty()
                            && IpSet::from_block(block.cidr(), block.except()).is_empty()
                        {
                            out.push(Finding::new(
                                Check::NeverMatches,
                                ctx.object(id),
                                format!("spec.{}[{r}].{key}[{p}].ipBlock.except", d.field()),
                                format!(
                                    "the except entries cover all of {}: this ipBlock matches no address",
                                    block.cidr()
                                ),
                                "narrow the except list, or delete the peer",
                            ));
                        }
                    }
                }
                let dest = destinations(ctx, rid, &subject);
                if dest.is_empty() {
                    continue; // NP001 or NP003 say why
                }
                for (k, port) in rule.ports.iter().flatten().enumerate() {
                    let field = format!("spec.{}[{r}].ports[{k}]", d.field());
                    match &port.port {
                        PortSpec::Named(name)
                            if !declares_named(ctx, &dest, name, Some(port.protocol)) =>
                        {
                            out.push(named_finding(
                                ctx,
                                id,
                                rid,
                                format!("{field}.port"),
                                name,
                                Some(port.protocol),
                            ));
                        }
                        PortSpec::Range { start, end } if d == Direction::Ingress => {
                            undeclared_number(
                                ctx,
                                out,
                                id,
                                field,
                                &dest,
                                port.protocol,
                                *start,
                                *end,
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// NP032: a numeric ingress port none of the selected pods declares, each of them
/// declaring some.
#[allow(clippy::too_many_arguments)]
fn undeclared_number(
    ctx: &Context<'_>,
    out: &mut Out<'_>,
    id: PolicyId,
    field: String,
    dest: &Bits,
    protocol: Protocol,
    start: u16,
    end: u16,
) {
    let mut all_declare = true;
    for p in dest.iter() {
        let Some(pod) = ctx.pods.get(p) else { continue };
        if pod.ports.is_empty() {
            all_declare = false;
            break;
        }
        if pod
            .ports
            .iter()
            .any(|cp| cp.protocol == protocol && (start..=end).contains(&cp.port))
        {
            return;
        }
    }
    if !all_declare {
        return;
    }
    let ports = if start == end {
        format!("{start}/{protocol}")
    } else {
        format!("{start}-{end}/{protocol}")
    };
    out.push(Finding::new(
        Check::UndeclaredPort,
        ctx.object(id),
        field,
        format!("none of the {} pods the policy selects declares a container port in {ports}, though each declares some", dest.count()),
        "check the port against the pods' containerPorts; a pod may listen on a port it does not declare",
    ));
}

fn cluster_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    for (i, policy) in ctx.policies.cluster_policies().iter().enumerate() {
        let id = PolicyId::Cluster(i);
        let everything = Selector::everything();
        let subject = match policy.subject() {
            Subject::Namespaces(sel) => {
                ctx.pods_matching(&Scope::Namespaces(sel.clone()), &everything)
            }
            Subject::Pods { namespaces, pods } => {
                ctx.pods_matching(&Scope::Namespaces(namespaces.clone()), pods)
            }
        };
        for d in Direction::BOTH {
            for (r, rule) in policy.rules(d).iter().enumerate() {
                let rid = RuleId {
                    policy: id,
                    dir: d,
                    index: r,
                };
                let dest = destinations(ctx, rid, &subject);
                if dest.is_empty() {
                    continue;
                }
                for (k, port) in rule.ports().into_iter().flatten().enumerate() {
                    if let ClusterPort::Named(name) = port {
                        if !declares_named(ctx, &dest, name, None) {
                            out.push(named_finding(
                                ctx,
                                id,
                                rid,
                                format!(
                                    "spec.{}[{r}].protocols[{k}].destinationNamedPort",
                                    d.field()
                                ),
                                name,
                                None,
                            ));
                        }
                    }
                }
            }
        }
    }
}

fn set_of(nets: &[IpNet]) -> IpSet {
    let mut s = IpSet::new();
    for n in nets {
        s.insert(*n);
    }
    s
}

/// Why a Calico rule can never match, with the field to point at.
fn calico_never(rule: &CalicoRule, d: Direction, r: usize) -> Option<(String, String)> {
    let base = format!("spec.{}[{r}]", d.field());
    if let (Some(p), Some(q)) = (rule.protocol(), rule.not_protocol()) {
        if p == q {
            return Some((
                format!("{base}.notProtocol"),
                "protocol and notProtocol name the same protocol".into(),
            ));
        }
    }
    let sides: [(&str, &EntityMatch); 2] = [
        ("source", rule.source()),
        ("destination", rule.destination()),
    ];
    // A family works when the rule's ipVersion allows it and each non-empty net list keeps
    // a network of it.
    let family_ok = |v6: bool| {
        rule.ip_version().is_none_or(|v| (v == 6) == v6)
            && sides.iter().all(|(_, e)| {
                [e.nets(), e.not_nets()].iter().all(|list| {
                    list.is_empty() || list.iter().any(|n| matches!(n, IpNet::V6(_)) == v6)
                })
            })
    };
    if !family_ok(false) && !family_ok(true) {
        let field = match rule.ip_version() {
            Some(_) => format!("{base}.ipVersion"),
            None => base.clone(),
        };
        return Some((
            field,
            "no address family is left: ipVersion and the families of its nets and notNets exclude each other".into(),
        ));
    }
    for (side, e) in sides {
        if !e.nets().is_empty()
            && set_of(e.nets())
                .difference(&set_of(e.not_nets()))
                .is_empty()
        {
            return Some((
                format!("{base}.{side}.notNets"),
                format!("{side}.notNets covers every one of {side}.nets"),
            ));
        }
        let numeric = |list: &[PortValue]| {
            list.iter()
                .map(|p| match p {
                    PortValue::Range(a, b) => Some((*a, *b)),
                    PortValue::Name(_) => None,
                })
                .collect::<Option<Vec<_>>>()
        };
        if let (Some(ports), Some(not)) = (numeric(e.ports()), numeric(e.not_ports())) {
            if !ports.is_empty()
                && !not.is_empty()
                && ports.iter().all(|(a, b)| {
                    (*a..=*b).all(|p| not.iter().any(|(x, y)| (*x..=*y).contains(&p)))
                })
            {
                return Some((
                    format!("{base}.{side}.notPorts"),
                    format!("{side}.notPorts covers every one of {side}.ports"),
                ));
            }
        }
    }
    None
}

fn calico_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    for (i, policy) in ctx.policies.calico_policies().iter().enumerate() {
        for d in Direction::BOTH {
            for (r, rule) in policy.rules(d).iter().enumerate() {
                if let Some((field, why)) = calico_never(rule, d, r) {
                    out.push(Finding::new(
                        Check::NeverMatches,
                        ctx.object(PolicyId::Calico(i)),
                        field,
                        format!("{why}: this rule can never match"),
                        "fix the criteria, or delete the rule",
                    ));
                }
            }
        }
    }
}
