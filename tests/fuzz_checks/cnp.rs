//! The check of the fuzz target `cnp_json`, in a file of its own so that the target
//! builds from it alone (`#[path = "../../tests/fuzz_checks/cnp.rs"] mod checks;`);
//! `mod.rs` includes it too, for `tests/fuzz_replay.rs`.

use netpol::model::{ClusterNetworkPolicy, PolicyObject, decode_policy_objects};
use netpol::policy::ClusterPolicy;
use netpol::validate::{Channel, ErrorKind, validate_cluster_network_policy_in};

/// `decode_policy_objects` → `validate_cluster_network_policy_in` → `ClusterPolicy::new_in`
/// never panics, in both channels; a decoded ClusterNetworkPolicy prints and decodes back
/// to the same JSON value; normalisation refuses what validation refuses, with the same
/// errors, and refuses a valid policy only for its label selectors (which the CRD does
/// not check); every error has a field and a message; the CEL stand-in error comes last
/// exactly when a blocking error is present; a normalised policy keeps every rule.
pub fn cnp_json(data: &[u8]) {
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
        let PolicyObject::ClusterNetworkPolicy(cnp) = object else {
            continue;
        };
        let printed = serde_json::to_string(&cnp).expect("a decoded policy serializes");
        let back = ClusterNetworkPolicy::from_json(&printed)
            .unwrap_or_else(|e| panic!("printed policy does not decode: {e}\n{printed}"));
        assert_eq!(
            serde_json::to_value(&back).expect("serializes"),
            serde_json::to_value(&cnp).expect("serializes"),
            "round trip changed the policy"
        );
        for channel in [Channel::Experimental, Channel::Standard] {
            let validated = validate_cluster_network_policy_in(&cnp, channel);
            let normalised = ClusterPolicy::new_in(&cnp, channel);
            match (validated, normalised) {
                (Err(v), Err(n)) => {
                    assert_eq!(v, n, "normalisation reports other errors than validation");
                    for e in v.errors() {
                        assert!(!e.field.is_empty() && !e.to_string().is_empty());
                    }
                    let blocking = v.errors().iter().any(|e| {
                        matches!(
                            e.kind,
                            ErrorKind::Required
                                | ErrorKind::Unsupported
                                | ErrorKind::TooLong
                                | ErrorKind::TooMany
                        )
                    });
                    let stand_in = v.errors().last().is_some_and(|e| e.field == "<nil>");
                    assert_eq!(blocking, stand_in, "CEL stand-in misplaced: {v}");
                }
                (Err(v), Ok(_)) => panic!("normalised an invalid policy: {v}"),
                (Ok(()), Err(n)) => assert!(
                    n.errors().iter().all(|e| e.field.contains(".match")),
                    "a valid policy refused for more than its selectors: {n}"
                ),
                (Ok(()), Ok(p)) => {
                    let spec = cnp.spec.as_ref().expect("a valid policy has a spec");
                    assert_eq!(p.ingress().len(), spec.ingress.as_ref().map_or(0, Vec::len));
                    assert_eq!(p.egress().len(), spec.egress.as_ref().map_or(0, Vec::len));
                }
            }
        }
    }
}
