//! NP070: pods no policy isolates in a namespace where other pods are isolated.

use super::context::{Context, PolicyId, dir_index};
use super::{Check, Finding, Out};
use crate::policy::Direction;

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if !out.enabled(Check::NotIsolated) {
        return;
    }
    for d in Direction::BOTH {
        let di = dir_index(d);
        // Per class: whether a policy that isolates (NetworkPolicy, Calico) selects it.
        let isolated: Vec<bool> = ctx
            .classes
            .iter()
            .map(|c| {
                c.selecting.get(di).is_some_and(|l| {
                    l.iter()
                        .any(|p| matches!(p, PolicyId::Network(_) | PolicyId::Calico(_)))
                })
            })
            .collect();
        let mut per_ns = vec![(0usize, 0usize); ctx.ns_names.len()];
        for (c, class) in ctx.classes.iter().enumerate() {
            if let Some(e) = per_ns.get_mut(class.ns) {
                if isolated.get(c).copied().unwrap_or(false) {
                    e.0 += class.pods.len();
                } else {
                    e.1 += class.pods.len();
                }
            }
        }
        for (c, class) in ctx.classes.iter().enumerate() {
            if isolated.get(c).copied().unwrap_or(true) {
                continue;
            }
            let Some(&(isolated_here, _)) = per_ns.get(class.ns) else {
                continue;
            };
            if isolated_here == 0 {
                continue;
            }
            let Some(&first) = class.pods.first() else {
                continue;
            };
            let ns = ctx.ns_names.get(class.ns).copied().unwrap_or("");
            let others = match class.pods.len() {
                1 => String::new(),
                n => format!(" (and {} other pods with the same labels)", n - 1),
            };
            let open = match d {
                Direction::Ingress => "it accepts connections from anywhere",
                Direction::Egress => "it may connect anywhere",
            };
            out.push(Finding::new(
                Check::NotIsolated,
                ctx.pod_object(first),
                "metadata.labels",
                format!(
                    "no policy isolates this pod{others} for {}, while {isolated_here} other pod{} of namespace {ns} {} isolated: {open}",
                    d.as_str().to_lowercase(),
                    if isolated_here == 1 { "" } else { "s" },
                    if isolated_here == 1 { "is" } else { "are" },
                ),
                "check its labels against the policies' pod selectors, or add a policy that selects it (podSelector: {} selects every pod of the namespace)",
            ));
        }
    }
}
