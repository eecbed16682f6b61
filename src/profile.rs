//! Network plugin profiles: the behaviour the NetworkPolicy documentation leaves open.
//!
//! A [`Profile`] is a set of named knobs, chosen when building an evaluator. The default,
//! [`Profile::conformance`], follows the upstream network-policy conformance semantics
//! (see the crate documentation).
//!
//! ```
//! use netpol::profile::Profile;
//! let p = Profile::default();
//! assert!(p.enforces_policies && p.ipblock_matches_pods && p.own_node_exempt && p.self_exempt);
//! ```

use serde::{Deserialize, Serialize};

/// Knobs for what the documentation leaves to the network plugin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// A short name, for explanations.
    pub name: String,
    /// Whether NetworkPolicy is enforced at all. A plugin that only lays the pod network
    /// (flannel alone) accepts policies through the API and enforces none of them.
    pub enforces_policies: bool,
    /// Whether an `ipBlock` matches the IPs of in-cluster pods.
    pub ipblock_matches_pods: bool,
    /// Whether an `ipBlock` matches node host IPs.
    pub ipblock_matches_nodes: bool,
    /// Whether traffic between a pod and the node it runs on is always allowed.
    pub own_node_exempt: bool,
    /// Whether traffic from a pod to itself is always allowed.
    pub self_exempt: bool,
}

impl Profile {
    /// The upstream conformance semantics: policies enforced, `ipBlock` matches every
    /// address (pods, nodes and outside alike), a pod's own node and the pod itself are
    /// always allowed.
    ///
    /// ```
    /// assert_eq!(netpol::profile::Profile::conformance().name, "conformance");
    /// ```
    pub fn conformance() -> Self {
        Profile {
            name: "conformance".into(),
            enforces_policies: true,
            ipblock_matches_pods: true,
            ipblock_matches_nodes: true,
            own_node_exempt: true,
            self_exempt: true,
        }
    }
}

impl Profile {
    /// The names [`Profile::named`] knows.
    pub const NAMES: &'static [&'static str] = &["conformance"];

    /// A profile by name.
    ///
    /// ```
    /// assert!(netpol::profile::Profile::named("conformance").is_some());
    /// assert!(netpol::profile::Profile::named("nope").is_none());
    /// ```
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "conformance" => Some(Profile::conformance()),
            _ => None,
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::conformance()
    }
}
