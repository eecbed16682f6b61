//! Properties of Calico validation and normalisation on generated objects.

mod support;

use netpol::calico::{
    CalicoPolicy, GlobalNetworkPolicy, NetworkPolicy, validate_global_network_policy,
    validate_network_policy,
};
use netpol::model::{PolicyObject, decode_policy_objects};
use netpol::policy::Direction;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Validation never panics, and normalisation succeeds exactly when validation
    /// accepts, with the same errors.
    #[test]
    fn normalisation_agrees_with_validation(v in support::calico::raw_object()) {
        let Ok(objs) = decode_policy_objects(&v.to_string()) else { return Ok(()); };
        for o in objs {
            match o {
                PolicyObject::CalicoNetworkPolicy(p) => {
                    let (a, b) = (validate_network_policy(&p), CalicoPolicy::new(&p));
                    prop_assert_eq!(a.clone().err(), b.clone().err());
                    prop_assert_eq!(a.is_ok(), b.is_ok());
                }
                PolicyObject::GlobalNetworkPolicy(p) => {
                    let (a, b) = (validate_global_network_policy(&p), CalicoPolicy::new(&p));
                    prop_assert_eq!(a.clone().err(), b.clone().err());
                }
                _ => {}
            }
        }
    }

    /// Generated valid policies validate, normalise, round-trip through JSON in their
    /// API group, and keep their rules for governed directions only.
    #[test]
    fn generated_policies_are_valid(p in support::calico::network_policy(), g in support::calico::global_network_policy()) {
        prop_assert!(validate_network_policy(&p).is_ok(), "{:?}", validate_network_policy(&p));
        prop_assert!(validate_global_network_policy(&g).is_ok(), "{:?}", validate_global_network_policy(&g));
        let back = NetworkPolicy::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
        prop_assert_eq!(&back, &p);
        let back = GlobalNetworkPolicy::from_json(&serde_json::to_string(&g).unwrap()).unwrap();
        prop_assert_eq!(&back, &g);
        for n in [CalicoPolicy::new(&p).unwrap(), CalicoPolicy::new(&g).unwrap()] {
            for d in Direction::BOTH {
                if !n.governs(d) {
                    prop_assert!(n.rules(d).is_empty());
                }
            }
        }
    }

    /// The generators of normalised objects cover what the engine needs.
    #[test]
    fn normalised_generators(p in support::calico::normalised_policy(),
                             s in support::calico::network_set(),
                             t in support::calico::tier()) {
        prop_assert!(!p.tier().is_empty());
        prop_assert!(s.nets().iter().all(|n| n.prefix_len() <= 128));
        prop_assert!(t.order().is_finite());
    }
}
