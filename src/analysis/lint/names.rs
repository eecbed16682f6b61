//! NP080: duplicate names.

use std::collections::BTreeMap;

use super::context::Context;
use super::{Check, Finding, ObjectRef, Out};
use crate::model::{ObjectMeta, PolicyObject};
use crate::policy::PolicyKind;

type Key = (String, Option<String>, String);

fn written_key(o: &PolicyObject) -> Key {
    let (meta, namespaced): (&ObjectMeta, bool) = match o {
        PolicyObject::NetworkPolicy(p) => (&p.metadata, true),
        PolicyObject::ClusterNetworkPolicy(p) => (&p.metadata, false),
        PolicyObject::CalicoNetworkPolicy(p) => (&p.metadata, true),
        PolicyObject::GlobalNetworkPolicy(p) => (&p.metadata, false),
        PolicyObject::NetworkSet(p) => (&p.metadata, true),
        PolicyObject::GlobalNetworkSet(p) => (&p.metadata, false),
        PolicyObject::Tier(p) => (&p.metadata, false),
    };
    (
        o.kind().to_owned(),
        namespaced.then(|| meta.namespace_or_default().to_owned()),
        meta.name.clone().unwrap_or_default(),
    )
}

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    if !out.enabled(Check::DuplicateName) {
        return;
    }
    let set = ctx.policies;
    let mut from_set: BTreeMap<Key, usize> = BTreeMap::new();
    let mut add = |kind: PolicyKind, ns: Option<&str>, name: &str| {
        *from_set
            .entry((
                kind.as_str().to_owned(),
                ns.map(str::to_owned),
                name.to_owned(),
            ))
            .or_default() += 1;
    };
    for p in set.network_policies() {
        add(PolicyKind::NetworkPolicy, Some(p.namespace()), p.name());
    }
    for p in set.cluster_policies() {
        add(PolicyKind::ClusterNetworkPolicy, None, p.name());
    }
    for p in set.calico_policies() {
        let kind = match p.namespace() {
            Some(_) => PolicyKind::CalicoNetworkPolicy,
            None => PolicyKind::GlobalNetworkPolicy,
        };
        add(kind, p.namespace(), p.name());
    }
    for s in set.network_sets() {
        let kind = match s.namespace() {
            Some(_) => PolicyKind::NetworkSet,
            None => PolicyKind::GlobalNetworkSet,
        };
        add(kind, s.namespace(), s.name());
    }
    for t in set.tiers() {
        add(PolicyKind::Tier, None, t.name());
    }
    let mut from_written: BTreeMap<Key, usize> = BTreeMap::new();
    for o in ctx.input.written.unwrap_or(&[]) {
        *from_written.entry(written_key(o)).or_default() += 1;
    }
    let mut counts = from_set;
    for (k, n) in from_written {
        let e = counts.entry(k).or_default();
        *e = (*e).max(n);
    }
    for ((kind, ns, name), n) in counts {
        if n < 2 {
            continue;
        }
        let object = ObjectRef::new(&kind, ns.as_deref(), &name);
        out.push(Finding::new(
            Check::DuplicateName,
            object.clone(),
            "metadata.name",
            format!(
                "{n} objects are named {object}: the API keeps one of them, the others do not exist"
            ),
            "give each object its own name, or remove the copies",
        ));
    }
}
