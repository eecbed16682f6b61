//! NP001–NP005: selectors that match nothing or everything, and split peers.

use super::context::{Context, PolicyId, Scope, dir_index, peers_key};
use super::{Check, Finding, Out};
use crate::calico::selector::{LabelMap, Selector as CalicoSelector};
use crate::engine::calico::{PodLabels, SetLabels};
use crate::policy::{ClusterPeer, Direction, Peer, Subject};
use crate::selector::Selector;

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    network_policies(ctx, out);
    cluster_policies(ctx, out);
    calico_policies(ctx, out);
}

/// NP004 for a written selector with terms that matches every namespace.
fn matches_all(ctx: &Context<'_>, sel: &Selector, matched: usize) -> bool {
    !sel.is_everything() && ctx.ns_names.len() >= 2 && matched == ctx.ns_names.len()
}

fn all_namespaces_finding(ctx: &Context<'_>, id: PolicyId, field: String) -> Finding {
    Finding::new(
        Check::NamespaceSelectorMatchesAll,
        ctx.object(id),
        field,
        format!(
            "this namespace selector has terms but selects every namespace of the cluster ({})",
            ctx.ns_names.len()
        ),
        "if every namespace is meant, write namespaceSelector: {} so that new namespaces are included on purpose; otherwise narrow it",
    )
}

fn network_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    for (i, policy) in ctx.policies.network_policies().iter().enumerate() {
        let id = PolicyId::Network(i);
        let own = ctx.ns_by_name.get(policy.namespace()).copied();
        let subject = match own {
            Some(ns) => ctx
                .pods_matching(&Scope::Own(ns), policy.pod_selector())
                .count(),
            None => 0,
        };
        if subject == 0 {
            let message = match own {
                None => format!(
                    "namespace {} holds no pod of the cluster: the policy selects nothing",
                    policy.namespace()
                ),
                Some(_) => format!(
                    "podSelector selects no pod of namespace {}: the policy applies to nothing",
                    policy.namespace()
                ),
            };
            out.push(Finding::new(
                Check::EmptySubject,
                ctx.object(id),
                "spec.podSelector",
                message,
                "check the labels against the pods' (kubectl get pods --show-labels), or delete the policy",
            ));
        }
        for d in Direction::BOTH {
            for (r, rule) in policy.rules(d).iter().enumerate() {
                let peers = rule.peers.as_deref().unwrap_or(&[]);
                for (p, peer) in peers.iter().enumerate() {
                    let path = format!("spec.{}[{r}].{}[{p}]", d.field(), peers_key(d));
                    let Peer::Pods { namespaces, pods } = peer else {
                        continue;
                    };
                    let scope = match (namespaces, own) {
                        (Some(sel), _) => {
                            let matched = ctx.namespaces_matching(sel).len();
                            if matched == 0 {
                                out.push(Finding::new(
                                    Check::NamespaceSelectorMatchesNothing,
                                    ctx.object(id),
                                    format!("{path}.namespaceSelector"),
                                    "namespaceSelector selects no namespace of the cluster: this peer matches nothing",
                                    "check the labels against the namespaces' (kubectl get ns --show-labels); every namespace carries kubernetes.io/metadata.name",
                                ));
                                continue;
                            }
                            if matches_all(ctx, sel, matched) {
                                out.push(all_namespaces_finding(
                                    ctx,
                                    id,
                                    format!("{path}.namespaceSelector"),
                                ));
                            }
                            Scope::Namespaces(sel.clone())
                        }
                        (None, Some(ns)) => Scope::Own(ns),
                        (None, None) => {
                            // The policy's namespace does not exist: NP001 says so.
                            continue;
                        }
                    };
                    if ctx.pods_matching(&scope, pods).is_empty() {
                        let (field, what) = if pods.is_everything() {
                            (path.clone(), "the namespaces it selects hold no pod")
                        } else {
                            (
                                format!("{path}.podSelector"),
                                "podSelector selects no pod in the namespaces it looks at",
                            )
                        };
                        out.push(Finding::new(
                            Check::PeerMatchesNothing,
                            ctx.object(id),
                            field,
                            format!("{what}: this peer matches nothing"),
                            "check the labels against the pods' (kubectl get pods -A --show-labels)",
                        ));
                    }
                }
                split_peers(ctx, id, d, r, peers, out);
            }
        }
    }
}

/// NP005: `- namespaceSelector: …` and `- podSelector: …` as two peers of one rule.
fn split_peers(
    ctx: &Context<'_>,
    id: PolicyId,
    d: Direction,
    r: usize,
    peers: &[Peer],
    out: &mut Out<'_>,
) {
    let ns_only = peers.iter().position(|p| {
        matches!(p, Peer::Pods { namespaces: Some(ns), pods } if pods.is_everything() && !ns.is_everything())
    });
    let pods_only = peers
        .iter()
        .position(|p| matches!(p, Peer::Pods { namespaces: None, pods } if !pods.is_everything()));
    if let (Some(a), Some(b)) = (ns_only, pods_only) {
        let key = peers_key(d);
        out.push(Finding::new(
            Check::SplitPeer,
            ctx.object(id),
            format!("spec.{}[{r}].{key}", d.field()),
            format!(
                "{key}[{a}] has only a namespaceSelector and {key}[{b}] only a podSelector: these are two peers (every pod of those namespaces, or those pods of the policy's own namespace), not the pods matching both"
            ),
            format!(
                "to mean those pods in those namespaces, put namespaceSelector and podSelector in one item of {key} (no dash before the second); if two peers are meant, keep it"
            ),
        ));
    }
}

fn cluster_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    for (i, policy) in ctx.policies.cluster_policies().iter().enumerate() {
        let id = PolicyId::Cluster(i);
        let (ns_sel, pod_sel, ns_field) = match policy.subject() {
            Subject::Namespaces(sel) => (sel, None, "spec.subject.namespaces"),
            Subject::Pods { namespaces, pods } => (
                namespaces,
                Some(pods),
                "spec.subject.pods.namespaceSelector",
            ),
        };
        let matched = ctx.namespaces_matching(ns_sel).len();
        if matched == 0 {
            out.push(Finding::new(
                Check::NamespaceSelectorMatchesNothing,
                ctx.object(id),
                ns_field,
                "the subject's namespace selector selects no namespace: the policy applies to nothing",
                "check the labels against the namespaces' (kubectl get ns --show-labels)",
            ));
        } else {
            if matches_all(ctx, ns_sel, matched) {
                out.push(all_namespaces_finding(ctx, id, ns_field.to_owned()));
            }
            let everything = Selector::everything();
            let pods = ctx.pods_matching(
                &Scope::Namespaces(ns_sel.clone()),
                pod_sel.unwrap_or(&everything),
            );
            if pods.is_empty() {
                out.push(Finding::new(
                    Check::EmptySubject,
                    ctx.object(id),
                    "spec.subject",
                    "the subject selects no pod of the cluster: the policy applies to nothing",
                    "check the labels against the pods' and namespaces' (kubectl get pods -A --show-labels)",
                ));
            }
        }
        for d in Direction::BOTH {
            let key = peers_key(d);
            for (r, rule) in policy.rules(d).iter().enumerate() {
                for (p, peer) in rule.peers().iter().enumerate() {
                    let path = format!("spec.{}[{r}].{key}[{p}]", d.field());
                    let (ns_sel, pod_sel, ns_field) = match peer {
                        ClusterPeer::Namespaces(sel) => (sel, None, format!("{path}.namespaces")),
                        ClusterPeer::Pods { namespaces, pods } => (
                            namespaces,
                            Some(pods),
                            format!("{path}.pods.namespaceSelector"),
                        ),
                        ClusterPeer::Nodes(sel) => {
                            if ctx.nodes_matching(sel).is_empty() {
                                out.push(Finding::new(
                                    Check::PeerMatchesNothing,
                                    ctx.object(id),
                                    format!("{path}.nodes"),
                                    "the nodes selector selects no node of the cluster: this peer matches nothing",
                                    "check the labels against the nodes' (kubectl get nodes --show-labels)",
                                ));
                            }
                            continue;
                        }
                        _ => continue,
                    };
                    let matched = ctx.namespaces_matching(ns_sel).len();
                    if matched == 0 {
                        out.push(Finding::new(
                            Check::NamespaceSelectorMatchesNothing,
                            ctx.object(id),
                            ns_field,
                            "namespace selector selects no namespace of the cluster: this peer matches nothing",
                            "check the labels against the namespaces' (kubectl get ns --show-labels)",
                        ));
                        continue;
                    }
                    if matches_all(ctx, ns_sel, matched) {
                        out.push(all_namespaces_finding(ctx, id, ns_field));
                    }
                    let everything = Selector::everything();
                    let pods = ctx.pods_matching(
                        &Scope::Namespaces(ns_sel.clone()),
                        pod_sel.unwrap_or(&everything),
                    );
                    if pods.is_empty() {
                        let field = match pod_sel {
                            Some(_) => format!("{path}.pods.podSelector"),
                            None => format!("{path}.namespaces"),
                        };
                        out.push(Finding::new(
                            Check::PeerMatchesNothing,
                            ctx.object(id),
                            field,
                            "no pod of the namespaces it selects matches: this peer matches nothing",
                            "check the labels against the pods' (kubectl get pods -A --show-labels)",
                        ));
                    }
                }
            }
        }
    }
}

/// A namespace's labels as a Calico `namespaceSelector` sees them.
struct NamespaceLabels<'a> {
    name: &'a str,
    labels: &'a crate::model::Labels,
}

impl LabelMap for NamespaceLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        if key == "projectcalico.org/name" {
            return Some(self.name);
        }
        self.labels.get(key).map(String::as_str)
    }
}

/// Whether a Calico peer selector (as Felix evaluates it) matches a pod or a network set.
fn calico_members(ctx: &Context<'_>, sel: &CalicoSelector) -> bool {
    let pods = ctx.pods.iter().enumerate().any(|(i, pod)| {
        let ns = ctx.pod_ns.get(i).copied().unwrap_or(0);
        sel.matches(&PodLabels {
            own: &pod.labels,
            namespace: ctx.ns_names.get(ns).copied().unwrap_or(""),
            namespace_labels: ctx.ns_labels.get(ns).copied(),
            account: &pod.service_account,
        })
    });
    pods || ctx.policies.network_sets().iter().any(|set| {
        let ns = set.namespace().and_then(|n| ctx.ns_by_name.get(n).copied());
        sel.matches(&SetLabels {
            own: set.labels(),
            namespace: set.namespace(),
            namespace_labels: ns.and_then(|n| ctx.ns_labels.get(n).copied()),
        })
    })
}

/// NP002/NP003 for Calico rules: `namespaceSelector` and the peer selectors.
fn calico_peers(ctx: &Context<'_>, out: &mut Out<'_>) {
    let globals = ctx
        .policies
        .network_sets()
        .iter()
        .any(|s| s.namespace().is_none());
    for (i, policy) in ctx.policies.calico_policies().iter().enumerate() {
        let id = PolicyId::Calico(i);
        for d in Direction::BOTH {
            for (r, rule) in policy.rules(d).iter().enumerate() {
                for (side, e) in [
                    ("source", rule.source()),
                    ("destination", rule.destination()),
                ] {
                    let path = format!("spec.{}[{r}].{side}", d.field());
                    if let Some(ns_sel) = e.namespace_selector() {
                        let any = ctx
                            .ns_names
                            .iter()
                            .zip(&ctx.ns_labels)
                            .any(|(name, labels)| {
                                ns_sel.matches_namespace(&NamespaceLabels { name, labels })
                            })
                            || (globals && ns_sel.matches_non_namespaced());
                        if !any {
                            out.push(Finding::new(
                                Check::NamespaceSelectorMatchesNothing,
                                ctx.object(id),
                                format!("{path}.namespaceSelector"),
                                format!("namespaceSelector {ns_sel} selects no namespace of the cluster: this rule matches nothing on its {side} side"),
                                "check the selector against the namespaces' labels (kubectl get ns --show-labels)",
                            ));
                            continue;
                        }
                    }
                    let Some(members) = e.ip_set_selector() else {
                        continue;
                    };
                    if calico_members(ctx, members) {
                        continue;
                    }
                    let field = if e.selector().is_some() {
                        format!("{path}.selector")
                    } else if e.service_accounts().is_some() {
                        format!("{path}.serviceAccounts")
                    } else {
                        path.clone()
                    };
                    out.push(Finding::new(
                        Check::PeerMatchesNothing,
                        ctx.object(id),
                        field,
                        format!("no pod or network set matches the {side} (Felix's selector: {members}): this rule matches nothing"),
                        "check the selector against the pods' and network sets' labels",
                    ));
                }
            }
        }
    }
}

fn calico_policies(ctx: &Context<'_>, out: &mut Out<'_>) {
    calico_peers(ctx, out);
    let mut selected = vec![false; ctx.policies.calico_policies().len()];
    for class in &ctx.classes {
        for d in Direction::BOTH {
            let di = dir_index(d);
            let lists = [class.selecting.get(di), class.ignored.get(di)];
            for id in lists.into_iter().flatten().flatten() {
                if let PolicyId::Calico(i) = id {
                    if let Some(s) = selected.get_mut(*i) {
                        *s = true;
                    }
                }
            }
        }
    }
    for (i, policy) in ctx.policies.calico_policies().iter().enumerate() {
        if !policy.applies_to_pods() || selected.get(i).copied().unwrap_or(true) {
            continue;
        }
        out.push(Finding::new(
            Check::EmptySubject,
            ctx.object(PolicyId::Calico(i)),
            "spec.selector",
            format!(
                "the policy selects no pod of the cluster (Felix's selector: {})",
                policy.endpoint_selector()
            ),
            "check the selector against the pods' labels (and namespaceSelector, serviceAccountSelector)",
        ));
    }
}
