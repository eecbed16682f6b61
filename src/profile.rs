//! Network plugin profiles: the behaviour the NetworkPolicy documentation leaves open.
//!
//! A [`Profile`] is a set of named knobs, chosen when building an evaluator (the compiled
//! [`Engine`](crate::engine::Engine) through
//! [`EngineBuilder::profile`](crate::engine::EngineBuilder::profile), the
//! [`Reference`](crate::reference::Reference) through its constructor). The default,
//! [`Profile::conformance`], follows the upstream network-policy conformance semantics
//! (see the crate documentation). Plugins differ from it only through the knobs, never
//! through code that tests a plugin's name.
//!
//! | profile       | enforces | ipBlock ∋ pods | ipBlock ∋ nodes | node → own pods | pod → own node | self |
//! |---------------|----------|----------------|-----------------|-----------------|----------------|------|
//! | `conformance` | yes      | yes            | yes             | exempt          | exempt         | exempt |
//! | `flannel`     | **no**   | –              | –               | –               | –              | –    |
//! | `calico`      | yes      | yes            | yes             | exempt          | **policed**    | exempt |
//! | `canal`       | yes      | yes            | yes             | exempt          | **policed**    | exempt |
//! | `kube-router` | yes      | yes            | yes             | exempt          | exempt         | exempt |
//! | `cilium`      | yes      | **no**         | **no**          | exempt          | **policed**    | exempt |
//!
//! Each constructor documents the evidence for its values.
//!
//! ```
//! use netpol::profile::Profile;
//! let p = Profile::default();
//! assert!(p.enforces_policies && p.ipblock_matches_pods && p.own_node_exempt && p.self_exempt);
//! for name in Profile::NAMES {
//!     assert_eq!(Profile::named(name).unwrap().name, *name);
//! }
//! assert!(!Profile::named("cilium").unwrap().ipblock_matches_pods);
//! ```

use serde::{Deserialize, Serialize};

/// Knobs for what the documentation leaves to the network plugin.
///
/// ```
/// use netpol::profile::Profile;
/// // A custom profile: conformance, except that ipBlocks never match pod IPs.
/// let p = Profile { name: "mine".into(), ipblock_matches_pods: false, ..Profile::conformance() };
/// assert!(p.enforces_policies);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// A short name, for explanations.
    pub name: String,
    /// Whether NetworkPolicy is enforced at all. A plugin that only lays the pod network
    /// (flannel alone) accepts policies through the API and enforces none of them: every
    /// flow is allowed, explained by [`Special::NotEnforced`](crate::explain::Special).
    pub enforces_policies: bool,
    /// Whether an `ipBlock` matches the IPs of in-cluster pods.
    pub ipblock_matches_pods: bool,
    /// Whether an `ipBlock` matches node host IPs.
    pub ipblock_matches_nodes: bool,
    /// Whether traffic from a node to the pods running on it (kubelet probes, host
    /// processes) is always allowed, whatever the pod's ingress policy says.
    pub own_node_exempt: bool,
    /// Whether traffic from a pod to the node it runs on is always allowed, whatever the
    /// pod's egress policy says. When false, that traffic passes the pod's egress policy
    /// like any other (the node is then matched only by an `ipBlock`, and only when
    /// [`ipblock_matches_nodes`](Self::ipblock_matches_nodes) holds, or by a rule without
    /// peers).
    #[serde(default = "yes")]
    pub pod_to_own_node_exempt: bool,
    /// Whether traffic from a pod to itself is always allowed.
    pub self_exempt: bool,
}

fn yes() -> bool {
    true
}

impl Profile {
    /// The upstream conformance semantics: policies enforced, `ipBlock` matches every
    /// address (pods, nodes and outside alike), a pod's own node (both ways) and the pod
    /// itself are always allowed. This is what the NetworkPolicy API reference writes
    /// ("traffic is allowed … if the traffic source is the pod's local node") and what the
    /// concept page says ("traffic to and from the node where a Pod is running is always
    /// allowed, regardless of the IP address of the Pod or the node").
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
            pod_to_own_node_exempt: true,
            self_exempt: true,
        }
    }

    /// flannel alone: a pod network without policy enforcement. The apiserver accepts
    /// NetworkPolicy objects, but flannel implements none of them: flannel's README says it
    /// is focused on networking and points to other projects such as Calico for network
    /// policy, and the Kubernetes "Network Policies" concept page warns that creating a
    /// NetworkPolicy without a controller that implements it has no effect (canal exists to
    /// add Calico's policy on top of flannel). Every flow is allowed, and explanations say
    /// why ([`Special::NotEnforced`](crate::explain::Special)). The other knobs are those
    /// of the conformance profile and are never consulted.
    ///
    /// ```
    /// assert!(!netpol::profile::Profile::flannel().enforces_policies);
    /// ```
    pub fn flannel() -> Self {
        Profile {
            name: "flannel".into(),
            enforces_policies: false,
            ..Profile::conformance()
        }
    }

    /// Calico (Felix, iptables or eBPF data plane).
    ///
    /// - `ipBlock` matches in-cluster pod IPs, and node IPs: Calico turns an `ipBlock` into
    ///   a CIDR match on the packet's address, whatever owns it (projectcalico/calico issue
    ///   #6634 "ipBlock matches cluster internal IPs": `0.0.0.0/0` reaches in-cluster
    ///   services and pods unless the pod CIDR is listed in `except`;
    ///   kubernetes/kubernetes issue #100247 shows the same on Calico 3.18).
    /// - Node → pods on it: always allowed. Calico's "Host Policies in Calico" notes
    ///   (projectcalico/vpp-dataplane docs, describing the Linux iptables data plane):
    ///   "Traffic from host to local pods is always allowed … The purpose of this is health
    ///   check of pods."
    /// - Pod → its own node: policed by the pod's egress policy. Felix's
    ///   `DefaultEndpointToHostAction` decides workload-to-host traffic only "once it has
    ///   completed processing workload endpoint egress policy" (Felix configuration
    ///   reference, quoted in kubernetes/kops PR #3272 "Allow user defined endpoint to host
    ///   action for Canal").
    /// - Policy sees traffic after Service DNAT (Calico "Troubleshoot policies": "Calico
    ///   then blocks the traffic because it sees the traffic after the DNAT"), which is how
    ///   [`service`](crate::service) decides Service traffic for every profile.
    ///
    /// ```
    /// let p = netpol::profile::Profile::calico();
    /// assert!(p.ipblock_matches_pods && !p.pod_to_own_node_exempt);
    /// ```
    pub fn calico() -> Self {
        Profile {
            name: "calico".into(),
            pod_to_own_node_exempt: false,
            ..Profile::conformance()
        }
    }

    /// canal: flannel networking with Calico's Felix enforcing policy, so the policy knobs
    /// are [`Profile::calico`]'s (Calico's "Install Calico for policy and flannel (aka
    /// Canal) for networking" guide: flannel for networking, Calico for network policy).
    ///
    /// ```
    /// let canal = netpol::profile::Profile::canal();
    /// assert_eq!(canal, netpol::profile::Profile { name: "canal".into(), ..netpol::profile::Profile::calico() });
    /// ```
    pub fn canal() -> Self {
        Profile {
            name: "canal".into(),
            ..Profile::calico()
        }
    }

    /// kube-router's network policy controller (iptables and ipsets).
    ///
    /// - Its design document ("Kube-router network policy design", Documentation) sets "full
    ///   compliance to Kubernetes v1 network policy specification" as the first goal, and
    ///   `ipBlock` CIDRs become ipsets matched on the packet's source or destination
    ///   address, so they match pod and node IPs alike.
    /// - Node → pods on it: cloudnativelabs/kube-router issue #87 "local node should be
    ///   able to access pod irrespective of ingress network policies", fixed by PR #195
    ///   "always permit traffic from local node to the pods"; the generated rule reads
    ///   "rule to permit the traffic traffic to pods when source is the pod's local node"
    ///   (`-m addrtype --src-type LOCAL -j ACCEPT`, quoted in k3s-io/k3s issue #5611).
    ///
    /// The knobs are therefore the conformance ones.
    ///
    /// ```
    /// let p = netpol::profile::Profile::kube_router();
    /// assert_eq!(p.name, "kube-router");
    /// assert!(p.own_node_exempt && p.ipblock_matches_nodes);
    /// ```
    pub fn kube_router() -> Self {
        Profile {
            name: "kube-router".into(),
            ..Profile::conformance()
        }
    }

    /// Cilium (default configuration).
    ///
    /// - `ipBlock` never selects in-cluster pods: Cilium classifies a peer as a cluster
    ///   endpoint first and applies CIDR matches only to peers outside the cluster
    ///   (cilium/cilium issue #35212 "NetworkPolicy Not Honoring CIDR", maintainer answer;
    ///   #9209 "L3 policy denied for a k8s network ipBlock where ipBlock belongs to
    ///   podCIDR", listed under "Known missing features" in Cilium's Kubernetes
    ///   compatibility page, PR #12783; #19601 "Cilium doesn't support using ipBlock
    ///   statements to match on pod IPs").
    /// - `ipBlock` does not select nodes either: node IPs carry the reserved `host` and
    ///   `remote-node` identities (cilium/cilium #12277 "Kubernetes network policy with node
    ///   ip cidr doesn't work", #46571, #13081: "To match the host, you need to use the
    ///   `host` entity"). Cilium 1.15 added the opt-in `policy-cidr-match-mode: nodes`
    ///   (PR #27464, documented in PR #28421) which makes CIDR selectors match nodes; that
    ///   configuration is this profile with `ipblock_matches_nodes: true`.
    /// - Node → pods on it: allowed by the agent's `--allow-localhost` option, whose
    ///   default `auto` always allows the local host to reach local endpoints (PR #754
    ///   "Add option to always allow localhost to reach endpoints"; issue #48444 calls it
    ///   "the Kubernetes behavior of always allowing localhost").
    /// - Pod → its own node: policed by the pod's egress policy; it takes a rule allowing
    ///   the `host` entity, which a Kubernetes NetworkPolicy can only express with a rule
    ///   without peers (cilium/cilium #34387: an `ipBlock: 0.0.0.0/0` egress rule is
    ///   "EGRESS DENIED" towards a host-network address, `egress: [{}]` works; #13081).
    ///
    /// ```
    /// let p = netpol::profile::Profile::cilium();
    /// assert!(!p.ipblock_matches_pods && !p.ipblock_matches_nodes);
    /// assert!(p.own_node_exempt && !p.pod_to_own_node_exempt);
    /// ```
    pub fn cilium() -> Self {
        Profile {
            name: "cilium".into(),
            ipblock_matches_pods: false,
            ipblock_matches_nodes: false,
            pod_to_own_node_exempt: false,
            ..Profile::conformance()
        }
    }
}

impl Profile {
    /// The names [`Profile::named`] knows.
    ///
    /// ```
    /// use netpol::profile::Profile;
    /// assert_eq!(Profile::NAMES.len(), 6);
    /// assert!(Profile::NAMES.contains(&"kube-router"));
    /// assert!(Profile::NAMES.iter().all(|n| Profile::named(n).is_some()));
    /// ```
    pub const NAMES: &'static [&'static str] = &[
        "conformance",
        "flannel",
        "calico",
        "canal",
        "kube-router",
        "cilium",
    ];

    /// A profile by name (one of [`Profile::NAMES`]).
    ///
    /// ```
    /// assert!(netpol::profile::Profile::named("conformance").is_some());
    /// assert!(netpol::profile::Profile::named("kube-router").is_some());
    /// assert!(netpol::profile::Profile::named("nope").is_none());
    /// ```
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "conformance" => Some(Profile::conformance()),
            "flannel" => Some(Profile::flannel()),
            "calico" => Some(Profile::calico()),
            "canal" => Some(Profile::canal()),
            "kube-router" => Some(Profile::kube_router()),
            "cilium" => Some(Profile::cilium()),
            _ => None,
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::conformance()
    }
}
