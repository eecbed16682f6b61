//! NP010–NP012: what was written about directions (`policyTypes`, `types`).

use super::context::Context;
use super::{Check, Finding, ObjectRef, Out};
use crate::model::PolicyObject;
use crate::policy::PolicyKind;

pub(super) fn run(ctx: &Context<'_>, out: &mut Out<'_>) {
    let Some(written) = ctx.input.written else {
        for check in [
            Check::RulesForUnisolatedDirection,
            Check::MissingPolicyTypes,
            Check::EmptyEgressWithoutPolicyTypes,
        ] {
            out.skip(
                check,
                "the policies as written were not given (LintInput::written): this check reads them",
            );
        }
        return;
    };
    for object in written {
        match object {
            PolicyObject::NetworkPolicy(p) => {
                let o = ObjectRef::new(
                    PolicyKind::NetworkPolicy.as_str(),
                    Some(p.metadata.namespace_or_default()),
                    p.metadata.name.as_deref().unwrap_or(""),
                );
                let s = &p.spec;
                let has_ingress = s.ingress.as_ref().is_some_and(|v| !v.is_empty());
                let has_egress = s.egress.as_ref().is_some_and(|v| !v.is_empty());
                match s.policy_types.as_deref() {
                    Some(types) if !types.is_empty() => {
                        let lists = [
                            ("Ingress", "ingress", has_ingress),
                            ("Egress", "egress", has_egress),
                        ];
                        unisolated(out, &o, types, &lists, "spec.policyTypes");
                    }
                    _ => {
                        let inferred = if has_egress {
                            "Ingress and Egress"
                        } else {
                            "Ingress only"
                        };
                        out.push(Finding::new(
                            Check::MissingPolicyTypes,
                            o.clone(),
                            "spec.policyTypes",
                            format!(
                                "policyTypes is not written: the policy isolates {inferred}, inferred from its rules"
                            ),
                            format!(
                                "write policyTypes: [{}] to say which directions it isolates",
                                if has_egress { "Ingress, Egress" } else { "Ingress" }
                            ),
                        ));
                        if s.egress.as_ref().is_some_and(Vec::is_empty) {
                            out.push(Finding::new(
                                Check::EmptyEgressWithoutPolicyTypes,
                                o,
                                "spec.egress",
                                "egress: [] without policyTypes does not isolate egress: the selected pods may still send anywhere",
                                "to deny all egress, write policyTypes: [Ingress, Egress] (or [Egress])",
                            ));
                        }
                    }
                }
            }
            PolicyObject::CalicoNetworkPolicy(p) => {
                let o = ObjectRef::new(
                    PolicyKind::CalicoNetworkPolicy.as_str(),
                    Some(p.metadata.namespace_or_default()),
                    p.metadata.name.as_deref().unwrap_or(""),
                );
                if let Some(s) = &p.spec {
                    calico(
                        out,
                        &o,
                        s.types.as_deref(),
                        s.ingress.as_ref(),
                        s.egress.as_ref(),
                    );
                }
            }
            PolicyObject::GlobalNetworkPolicy(p) => {
                let o = ObjectRef::new(
                    PolicyKind::GlobalNetworkPolicy.as_str(),
                    None,
                    p.metadata.name.as_deref().unwrap_or(""),
                );
                if let Some(s) = &p.spec {
                    calico(
                        out,
                        &o,
                        s.types.as_deref(),
                        s.ingress.as_ref(),
                        s.egress.as_ref(),
                    );
                }
            }
            _ => {}
        }
    }
}

fn calico<T>(
    out: &mut Out<'_>,
    o: &ObjectRef,
    types: Option<&[String]>,
    ingress: Option<&Vec<T>>,
    egress: Option<&Vec<T>>,
) {
    let Some(types) = types.filter(|t| !t.is_empty()) else {
        return;
    };
    let lists = [
        ("Ingress", "ingress", ingress.is_some_and(|v| !v.is_empty())),
        ("Egress", "egress", egress.is_some_and(|v| !v.is_empty())),
    ];
    unisolated(out, o, types, &lists, "spec.types");
}

fn unisolated(
    out: &mut Out<'_>,
    o: &ObjectRef,
    types: &[String],
    lists: &[(&str, &str, bool)],
    types_field: &str,
) {
    for (ty, field, has_rules) in lists {
        if *has_rules && !types.iter().any(|t| t == ty) {
            out.push(Finding::new(
                Check::RulesForUnisolatedDirection,
                o.clone(),
                format!("spec.{field}"),
                format!(
                    "{field} rules are written but {types_field} ({}) leaves out {ty}: they are ignored",
                    types.join(", ")
                ),
                format!(
                    "add {ty} to {types_field} if the rules are meant, or delete them"
                ),
            ));
        }
    }
}
