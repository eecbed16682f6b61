//! The check of the fuzz target `calico_json`, in a file of its own so that the target
//! builds from it alone (`#[path = "../../tests/fuzz_checks/calico.rs"] mod checks;`);
//! `mod.rs` includes it too, for `tests/fuzz_replay.rs`.

use netpol::calico::{
    CalicoNetworkSet, CalicoPolicy, CalicoTier, GlobalNetworkPolicy, GlobalNetworkSet,
    NetworkPolicy, NetworkSet, Tier, validate_global_network_policy, validate_global_network_set,
    validate_network_policy, validate_network_set, validate_tier,
};
use netpol::model::{PolicyObject, decode_policy_objects};
use netpol::policy::Direction;
use netpol::validate::{ErrorKind, ValidationErrors};

/// Normalisation succeeds exactly when validation accepts, and refuses with the same
/// errors; every error has a field and a message.
fn same_verdict<T>(
    validated: Result<(), ValidationErrors>,
    normalised: Result<T, ValidationErrors>,
) {
    match (&validated, &normalised) {
        (Ok(()), Ok(_)) => {}
        (Err(v), Err(n)) => assert_eq!(v, n, "normalisation refused with other errors"),
        (Ok(()), Err(n)) => panic!("validation accepted, normalisation refused: {n}"),
        (Err(v), Ok(_)) => panic!("validation refused, normalisation accepted: {v}"),
    }
    if let Err(errs) = validated {
        assert!(!errs.is_empty());
        for e in errs.errors() {
            assert!(!e.field.is_empty(), "error without a field: {e}");
            // `Required value` is the whole message of a missing required field.
            assert!(
                !e.detail.is_empty() || e.value.is_some() || e.kind == ErrorKind::Required,
                "error without a message: {e}"
            );
        }
    }
}

/// Prints `object`, decodes the text with `decode` and checks the JSON is unchanged.
fn round_trip<T: serde::Serialize>(
    object: &T,
    decode: fn(&str) -> Result<T, netpol::model::DecodeError>,
) {
    let printed = serde_json::to_string(object).expect("a decoded object serializes");
    let back = decode(&printed)
        .unwrap_or_else(|e| panic!("printed object does not decode: {e}\n{printed}"));
    assert_eq!(
        serde_json::to_value(&back).expect("serializes"),
        serde_json::to_value(object).expect("serializes"),
        "round trip changed the object"
    );
}

/// `decode_policy_objects` → Calico validation → normalisation never panics; a decoded
/// Calico object prints and decodes back (as the same API group) to the same JSON value;
/// normalisation succeeds exactly when validation accepts, with the same errors; a
/// normalised policy has rules only for the directions it governs, and every rule's
/// folded selectors are consistent (a negative one only without a positive one).
pub fn calico_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let objects = match decode_policy_objects(text) {
        Ok(o) => o,
        Err(e) => {
            assert!(!e.message.is_empty(), "decode error without a message");
            return;
        }
    };
    for object in objects {
        match object {
            PolicyObject::CalicoNetworkPolicy(p) => {
                round_trip(&p, NetworkPolicy::from_json);
                // The group survives printing when the object names it.
                if p.api_version.is_some() {
                    let printed = serde_json::to_string(&p).expect("serializes");
                    let back = NetworkPolicy::from_json(&printed).expect("decodes");
                    assert_eq!(back.api_group, p.api_group);
                }
                let n = CalicoPolicy::new(&p);
                if let Ok(n) = &n {
                    check_policy(n);
                }
                same_verdict(validate_network_policy(&p), n);
            }
            PolicyObject::GlobalNetworkPolicy(p) => {
                round_trip(&p, GlobalNetworkPolicy::from_json);
                let n = CalicoPolicy::new(&p);
                if let Ok(n) = &n {
                    check_policy(n);
                }
                same_verdict(validate_global_network_policy(&p), n);
            }
            PolicyObject::NetworkSet(s) => {
                round_trip(&s, NetworkSet::from_json);
                same_verdict(validate_network_set(&s), CalicoNetworkSet::new(&s));
            }
            PolicyObject::GlobalNetworkSet(s) => {
                round_trip(&s, GlobalNetworkSet::from_json);
                same_verdict(validate_global_network_set(&s), CalicoNetworkSet::new(&s));
            }
            PolicyObject::Tier(t) => {
                round_trip(&t, Tier::from_json);
                let n = CalicoTier::new(&t);
                if let Ok(n) = &n {
                    assert!(n.order().is_finite());
                }
                same_verdict(validate_tier(&t), n);
            }
            _ => {}
        }
    }
}

fn check_policy(p: &CalicoPolicy) {
    assert!(!p.tier().is_empty());
    assert!(p.governs(Direction::Ingress) || p.governs(Direction::Egress));
    for d in Direction::BOTH {
        if !p.governs(d) {
            assert!(p.rules(d).is_empty());
        }
        for r in p.rules(d) {
            for side in [r.source(), r.destination()] {
                assert!(side.ip_set_selector().is_none() || side.not_ip_set_selector().is_none());
                if side.felix_selector().is_some() {
                    assert!(side.ip_set_selector().is_some());
                }
                // Printed selectors parse back to themselves.
                for sel in [side.ip_set_selector(), side.not_ip_set_selector()]
                    .into_iter()
                    .flatten()
                {
                    let again: netpol::calico::selector::Selector =
                        sel.to_string().parse().expect("reparses");
                    if !sel.has_double_negation() {
                        assert_eq!(&again, sel);
                    }
                }
            }
        }
    }
}
