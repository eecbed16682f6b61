//! NP040: pods that cannot reach cluster DNS.

use std::collections::BTreeMap;

use super::context::{Context, dir_index};
use super::{Check, Finding, Out};
use crate::cluster::{Endpoint, Flow, PodId};
use crate::policy::{Direction, Protocol};

/// Where DNS is answered for one protocol: (pod, port) pairs, and whether they are reached
/// through the Service.
struct Targets {
    what: String,
    via_service: bool,
    per_protocol: [(Protocol, Vec<(PodId, u16)>); 2],
}

fn targets(ctx: &Context<'_>) -> Result<Targets, String> {
    if let Some(table) = ctx.input.services {
        if let Some(id) = table.lookup("kube-system", "kube-dns") {
            let mut per_protocol = [(Protocol::Udp, Vec::new()), (Protocol::Tcp, Vec::new())];
            for (proto, list) in &mut per_protocol {
                if let Ok(endpoints) = table.endpoints(id, 53, *proto) {
                    for e in endpoints.iter() {
                        if !ctx.cluster.contains(Endpoint::Pod(e.pod)) {
                            return Err("the Services' table was built for another cluster".into());
                        }
                        list.push((e.pod, e.target_port));
                    }
                }
            }
            return Ok(Targets {
                what: "the endpoints of Service kube-system/kube-dns".into(),
                via_service: true,
                per_protocol,
            });
        }
    }
    let mut pods = Vec::new();
    if let Some(&ns) = ctx.ns_by_name.get("kube-system") {
        for (i, pod) in ctx.pods.iter().enumerate() {
            if ctx.pod_ns.get(i) == Some(&ns)
                && pod.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
            {
                if let Some(&id) = ctx.pod_ids.get(i) {
                    pods.push((id, 53));
                }
            }
        }
    }
    if pods.is_empty() {
        return Err("no Service kube-system/kube-dns and no pod labelled k8s-app=kube-dns in kube-system: cluster DNS was not found".into());
    }
    Ok(Targets {
        what: "the CoreDNS pods (k8s-app=kube-dns in kube-system)".into(),
        via_service: false,
        per_protocol: [(Protocol::Udp, pods.clone()), (Protocol::Tcp, pods)],
    })
}

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if !out.enabled(Check::NoDns) {
        return;
    }
    let targets = match targets(ctx) {
        Ok(t) => t,
        Err(reason) => {
            out.skip(Check::NoDns, reason);
            return;
        }
    };
    if targets.per_protocol.iter().all(|(_, l)| l.is_empty()) {
        out.skip(
            Check::NoDns,
            format!("{} has no endpoint on port 53", targets.what),
        );
        return;
    }
    let flow = |src: PodId, dst: PodId, port: u16, proto: Protocol| {
        let f = Flow::new(Endpoint::Pod(src), Endpoint::Pod(dst), port, proto);
        if targets.via_service {
            f.through_service()
        } else {
            f
        }
    };
    // Per group of pods (namespace, egress policies, outcome): the pods.
    type GroupKey = (usize, Vec<super::context::PolicyId>, [(usize, usize); 2]);
    let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for (i, &src) in ctx.pod_ids.iter().enumerate() {
        let mut counts = [(0usize, 0usize); 2];
        for (k, (proto, list)) in targets.per_protocol.iter().enumerate() {
            let allowed = list
                .iter()
                .filter(|(dst, port)| {
                    ctx.engine
                        .decide(flow(src, *dst, *port, *proto))
                        .is_allowed()
                })
                .count();
            if let Some(c) = counts.get_mut(k) {
                *c = (allowed, list.len());
            }
        }
        if counts.iter().all(|(a, t)| a == t) {
            continue;
        }
        let class = ctx.pod_class.get(i).and_then(|c| ctx.classes.get(*c));
        let egress = class
            .and_then(|c| c.selecting.get(dir_index(Direction::Egress)))
            .cloned()
            .unwrap_or_default();
        let ns = ctx.pod_ns.get(i).copied().unwrap_or(0);
        groups.entry((ns, egress, counts)).or_default().push(i);
    }
    for ((_, _, counts), pods) in groups {
        let Some(&first) = pods.first() else { continue };
        let Some(&src) = ctx.pod_ids.get(first) else {
            continue;
        };
        let mut problems = Vec::new();
        let mut why = String::new();
        for ((allowed, total), (proto, list)) in counts.iter().zip(&targets.per_protocol) {
            if allowed == total {
                continue;
            }
            problems.push(if *allowed == 0 {
                format!("on 53/{proto} it reaches none of {total}")
            } else {
                format!("on 53/{proto} it reaches only {allowed} of {total}")
            });
            if why.is_empty() {
                let denied = list.iter().find(|(dst, port)| {
                    !ctx.engine
                        .decide(flow(src, *dst, *port, *proto))
                        .is_allowed()
                });
                if let Some(&(dst, port)) = denied {
                    let e = ctx.engine.explain(flow(src, dst, port, *proto));
                    why = if e.egress.allowed {
                        format!("; {}", e.ingress)
                    } else {
                        format!("; {}", e.egress)
                    };
                }
            }
        }
        let others = match pods.len() {
            1 => String::new(),
            n => format!(
                " and {} other pods of its namespace with the same egress policies",
                n - 1
            ),
        };
        out.push(Finding::new(
            Check::NoDns,
            ctx.pod_object(first),
            "",
            format!(
                "this pod{others} cannot reach cluster DNS, {}: {}{why}",
                targets.what,
                problems.join(", ")
            ),
            "allow egress to namespace kube-system, pods k8s-app=kube-dns, on 53/UDP and 53/TCP (and let their ingress accept it)",
        ));
    }
}
