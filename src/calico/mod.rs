//! Calico's policy model: `projectcalico.org/v3` (and `crd.projectcalico.org/v1`)
//! NetworkPolicy, GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet and Tier, as written
//! ([`model`]), validated as Calico validates them ([`validate`]) and normalised for the
//! evaluators ([`policy`]), with Calico's selector language ([`selector`]).
//!
//! Calico's policies pick endpoints with selector expressions such as
//! `role == 'db' && env in {'prod', 'staging'}` rather than Kubernetes'
//! `matchLabels`/`matchExpressions`. [`selector`] parses them exactly as Calico does,
//! prints them in Calico's canonical form and matches them against labels.
//!
//! ```
//! use netpol::calico::selector::Selector;
//! use netpol::model::Labels;
//!
//! let sel: Selector = "role == 'db' && !has(legacy)".parse()?;
//! assert_eq!(sel.to_string(), r#"(role == "db" && !has(legacy))"#);
//! let labels: Labels = [("role".to_string(), "db".to_string())].into();
//! assert!(sel.matches(&labels));
//! # Ok::<(), netpol::calico::selector::ParseError>(())
//! ```

pub mod model;
mod net;
pub mod policy;
pub mod selector;
pub mod validate;

pub use model::{
    ApiGroup, CALICO_API_VERSION, CALICO_CRD_API_VERSION, EntityRule, GlobalNetworkPolicy,
    GlobalNetworkPolicySpec, GlobalNetworkSet, HTTPMatch, HttpMatch, HttpPath, ICMPFields,
    IcmpFields, NetworkPolicy, NetworkPolicySpec, NetworkSet, NetworkSetSpec, Port, PortError,
    PortValue, Protocol, Rule, RuleMetadata, ServiceAccountMatch, ServiceMatch, Tier, TierSpec,
    UnknownApiGroup,
};
pub use policy::{
    CalicoNetworkSet, CalicoPolicy, CalicoPolicyKind, CalicoRule, CalicoTier, DEFAULT_TIER,
    DEFAULT_TIER_ORDER, EntityMatch, IcmpMatch, ProtocolMatch, ServiceAccounts, ServiceRef,
    WrittenNetworkSet, WrittenPolicy,
};
pub use validate::{
    CALICO_METADATA_ANNOTATION, SELECTOR_MAX_LENGTH, validate_global_network_policy,
    validate_global_network_set, validate_network_policy, validate_network_set, validate_tier,
};
