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
//! | profile       | NetworkPolicy | ClusterNetworkPolicy | ipBlock ∋ pods | ipBlock ∋ nodes | node → own pods | pod → own node | self |
//! |---------------|---------------|----------------------|----------------|-----------------|-----------------|----------------|------|
//! | `conformance` | enforced      | enforced             | yes            | yes             | exempt          | exempt         | exempt |
//! | `flannel`     | **ignored**   | **ignored**          | –              | –               | –               | –              | –    |
//! | `calico`      | enforced      | enforced             | yes            | yes             | exempt          | **policed**    | exempt |
//! | `canal`       | enforced      | enforced             | yes            | yes             | exempt          | **policed**    | exempt |
//! | `kube-router` | enforced      | **ignored**          | yes            | yes             | exempt          | exempt         | exempt |
//! | `cilium`      | enforced      | **ignored**          | **no**         | **no**          | exempt          | **policed**    | exempt |
//!
//! For traffic to Services from outside the cluster (and the in-cluster cases kube-proxy
//! treats alike), two more knobs say how the plugin and its service proxy translate it:
//!
//! | profile       | masquerade source seen by a remote endpoint ([`ServiceMasquerade`]) | in-cluster clients |
//! |---------------|--------------------------------------------------|--------------------|
//! | `conformance` | node IP                                          | kube-proxy         |
//! | `flannel`     | `flannel.1` address (pod subnet network address) | kube-proxy         |
//! | `calico`      | tunnel address (`tunl0`), node IP without one     | kube-proxy         |
//! | `canal`       | `flannel.1` address (pod subnet network address) | kube-proxy         |
//! | `kube-router` | node IP                                          | kube-proxy         |
//! | `cilium`      | node (remote-node identity)                      | **socket LB**      |
//!
//! A policy kind the plugin does not implement takes no part in any verdict, and
//! explanations list the policies of that kind that would have selected an endpoint as
//! ignored, so a policy is never applied silently where the plugin would not apply it.
//!
//! Each constructor documents the evidence for its values.
//!
//! ```
//! use netpol::profile::Profile;
//! let p = Profile::default();
//! assert!(p.enforces_network_policy() && p.ipblock_matches_pods() && p.own_node_exempt() && p.self_exempt());
//! for name in Profile::NAMES {
//!     assert_eq!(Profile::named(name).unwrap().name(), *name);
//! }
//! assert!(!"cilium".parse::<Profile>().unwrap().ipblock_matches_pods());
//! ```

use serde::{Deserialize, Serialize};

/// Knobs for what the documentation leaves to the network plugin.
///
/// Build one from a named plugin ([`Profile::calico`], [`Profile::named`], ...) and change
/// knobs with the `with_*` methods; it serializes to JSON with every knob, so a custom
/// profile can be stored and read back.
///
/// ```
/// use netpol::profile::Profile;
/// // A custom profile: conformance, except that ipBlocks never match pod IPs.
/// let p = Profile::conformance().with_name("mine").with_ipblock_matches_pods(false);
/// assert!(p.enforces_network_policy() && !p.ipblock_matches_pods());
/// let json = serde_json::to_string(&p)?;
/// assert_eq!(serde_json::from_str::<Profile>(&json)?, p);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    name: String,
    #[serde(alias = "enforcesPolicies")]
    enforces_network_policy: bool,
    #[serde(default = "yes")]
    enforces_cluster_network_policy: bool,
    #[serde(default)]
    enforces_calico_policy: bool,
    ipblock_matches_pods: bool,
    ipblock_matches_nodes: bool,
    own_node_exempt: bool,
    #[serde(default = "yes")]
    pod_to_own_node_exempt: bool,
    self_exempt: bool,
    #[serde(default)]
    service_masquerade: ServiceMasquerade,
    #[serde(default)]
    socket_load_balancer: bool,
}

/// The address an endpoint's policy sees when the node that received Service traffic
/// masquerades it towards an endpoint on another node (see [`service`](crate::service)).
///
/// kube-proxy only marks such a packet (`KUBE-MARK-MASQ`); the kernel rewrites its source
/// in nat POSTROUTING to an address of the device the packet leaves by
/// (`nf_nat_masquerade_ipv4` picks `inet_select_addr` of the out device), after the filter
/// hooks where iptables- and nftables-based policy engines judge it. So an endpoint on the
/// receiving node itself is judged with the client's own address, and an endpoint on
/// another node with the receiving node's address on the device towards it: the node IP
/// when pod traffic between nodes is routed, the overlay device's address when it is
/// tunnelled. Every profile of this crate judges before that masquerade on the receiving
/// node; [`Client`](Self::Client) is for data planes that keep the client address
/// everywhere.
///
/// When the address is not one of the node's host IPs (a tunnel address, which lies in
/// the pod network), a policy's `ipBlock` matches it as an address, and only where the
/// profile lets `ipBlock`s match node addresses
/// ([`ipblock_matches_nodes`](Profile::ipblock_matches_nodes)): it still belongs to the
/// node.
///
/// ```
/// use netpol::profile::{Profile, ServiceMasquerade};
/// assert_eq!(Profile::calico().service_masquerade(), ServiceMasquerade::TunnelIp);
/// assert_eq!(serde_json::to_string(&ServiceMasquerade::TunnelNetworkAddress).unwrap(),
///     "\"tunnelNetworkAddress\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ServiceMasquerade {
    /// The receiving node's host IP (of the flow's family): pod traffic between nodes is
    /// routed, not tunnelled.
    #[default]
    NodeIp,
    /// The receiving node's tunnel address as the plugin recorded it
    /// ([`Node::tunnel_ips`](crate::cluster::Node::tunnel_ips), from Calico's
    /// `projectcalico.org/IPv4IPIPTunnelAddr` or `IPv4VXLANTunnelAddr` annotation); a node
    /// with none recorded uses no encapsulation (Calico allocates a tunnel address only
    /// while an IP pool uses IPIP or VXLAN), and its host IP is used.
    TunnelIp,
    /// The receiving node's tunnel address when one is recorded, else the network address
    /// of its pod subnet ([`Node::pod_cidrs`](crate::cluster::Node::pod_cidrs)), which is
    /// what flannel's VXLAN backend gives its `flannel.1` device; else its host IP.
    TunnelNetworkAddress,
    /// No masquerade is visible to policy: the client's own address is seen everywhere (a
    /// data plane that keeps it, such as Calico's eBPF data plane or Cilium in DSR mode).
    Client,
}

impl ServiceMasquerade {
    /// `nodeIp`, `tunnelIp`, `tunnelNetworkAddress` or `client`.
    ///
    /// ```
    /// assert_eq!(netpol::profile::ServiceMasquerade::NodeIp.as_str(), "nodeIp");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceMasquerade::NodeIp => "nodeIp",
            ServiceMasquerade::TunnelIp => "tunnelIp",
            ServiceMasquerade::TunnelNetworkAddress => "tunnelNetworkAddress",
            ServiceMasquerade::Client => "client",
        }
    }

    /// A few words for explanations: what the masquerade address is.
    ///
    /// ```
    /// assert_eq!(netpol::profile::ServiceMasquerade::NodeIp.describe(), "the node's IP");
    /// ```
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            ServiceMasquerade::NodeIp => "the node's IP",
            ServiceMasquerade::TunnelIp => "the node's tunnel address, or its IP without one",
            ServiceMasquerade::TunnelNetworkAddress => {
                "the node's tunnel address, or its pod subnet's network address"
            }
            ServiceMasquerade::Client => "none: the client's address is kept",
        }
    }
}

macro_rules! knob {
    ($(#[$doc:meta])* $field:ident, $setter:ident) => {
        $(#[$doc])*
        pub fn $field(&self) -> bool {
            self.$field
        }

        #[doc = concat!("The same profile with [`", stringify!($field), "`](Self::", stringify!($field), ") set.")]
        ///
        /// ```
        /// use netpol::profile::Profile;
        #[doc = concat!("let p = Profile::conformance().", stringify!($setter), "(false);")]
        #[doc = concat!("assert!(!p.", stringify!($field), "());")]
        /// ```
        #[must_use]
        pub fn $setter(mut self, value: bool) -> Self {
            self.$field = value;
            self
        }
    };
}

impl Profile {
    /// A short name, for explanations.
    ///
    /// ```
    /// assert_eq!(netpol::profile::Profile::cilium().name(), "cilium");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same profile under another name.
    ///
    /// ```
    /// let p = netpol::profile::Profile::calico().with_name("calico-3.28");
    /// assert_eq!(p.name(), "calico-3.28");
    /// ```
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether any policy kind is enforced. When none is (flannel alone), every flow is
    /// allowed, explained by [`Special::NotEnforced`](crate::explain::Special).
    ///
    /// ```
    /// assert!(!netpol::profile::Profile::flannel().enforces_any());
    /// ```
    #[must_use]
    pub fn enforces_any(&self) -> bool {
        self.enforces_network_policy
            || self.enforces_cluster_network_policy
            || self.enforces_calico_policy
    }

    knob!(
        /// Whether Kubernetes NetworkPolicy is enforced. A plugin that only lays the pod
        /// network (flannel alone) accepts policies through the API and enforces none of
        /// them.
        ///
        /// ```
        /// assert!(netpol::profile::Profile::conformance().enforces_network_policy());
        /// ```
        enforces_network_policy,
        with_network_policy
    );
    knob!(
        /// Whether ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`) is enforced.
        ///
        /// ```
        /// assert!(!netpol::profile::Profile::cilium().enforces_cluster_network_policy());
        /// ```
        enforces_cluster_network_policy,
        with_cluster_network_policy
    );
    knob!(
        /// Whether Calico's Felix enforces policy, and so decides as Felix does: Calico's
        /// own policies (`NetworkPolicy.projectcalico.org`, `GlobalNetworkPolicy`, with
        /// `NetworkSet`, `GlobalNetworkSet` and `Tier`) are enforced, every kind is walked
        /// through Calico's ordered tiers (ClusterNetworkPolicy's Admin and Baseline are
        /// `kube-admin` and `kube-baseline`, Kubernetes NetworkPolicy sits in `default` at
        /// order 1000), ClusterNetworkPolicy is read through Calico's conversion (a rule
        /// with a `nodes` or `domainNames` peer becomes a Deny of everything when it
        /// denies or passes and is dropped when it accepts), traffic from a node to its own
        /// pods is never policed when [`own_node_exempt`](Self::own_node_exempt) holds (no
        /// policy of any kind), and a pod reaching itself through a Service is policed like
        /// any other flow. Where it is false, Calico's kinds are reported as ignored.
        ///
        /// ```
        /// assert!(netpol::profile::Profile::canal().enforces_calico_policy());
        /// assert!(!netpol::profile::Profile::conformance().enforces_calico_policy());
        /// ```
        enforces_calico_policy,
        with_calico_policy
    );
    knob!(
        /// Whether an `ipBlock` matches the IPs of in-cluster pods.
        ///
        /// ```
        /// assert!(netpol::profile::Profile::calico().ipblock_matches_pods());
        /// ```
        ipblock_matches_pods,
        with_ipblock_matches_pods
    );
    knob!(
        /// Whether an `ipBlock` matches node host IPs.
        ///
        /// ```
        /// assert!(!netpol::profile::Profile::cilium().ipblock_matches_nodes());
        /// ```
        ipblock_matches_nodes,
        with_ipblock_matches_nodes
    );
    knob!(
        /// Whether NetworkPolicy takes no part in traffic from a node to the pods running
        /// on it (kubelet probes, host processes): with no other policy kind selecting the
        /// pod, that traffic is allowed whatever the pod's ingress policy says.
        ///
        /// ```
        /// assert!(netpol::profile::Profile::kube_router().own_node_exempt());
        /// ```
        own_node_exempt,
        with_own_node_exempt
    );
    knob!(
        /// Whether NetworkPolicy takes no part in traffic from a pod to the node it runs
        /// on. When false, that traffic passes the pod's egress NetworkPolicy like any other
        /// (the node is then matched only by an `ipBlock`, and only when
        /// [`ipblock_matches_nodes`](Self::ipblock_matches_nodes) holds, or by a rule
        /// without peers).
        ///
        /// ```
        /// assert!(!netpol::profile::Profile::calico().pod_to_own_node_exempt());
        /// ```
        pod_to_own_node_exempt,
        with_pod_to_own_node_exempt
    );
    knob!(
        /// Whether traffic from a pod to itself is allowed before any policy is read.
        ///
        /// ```
        /// assert!(netpol::profile::Profile::conformance().self_exempt());
        /// ```
        self_exempt,
        with_self_exempt
    );
    knob!(
        /// Whether the plugin load-balances Services for in-cluster clients in the socket
        /// layer (Cilium's socket LB): a pod's connection to any Service address (cluster
        /// IP, load-balancer IP, external IP, any node's node port) goes straight to an
        /// endpoint picked at `connect()`, so it is never masqueraded, reaches every
        /// endpoint whatever `externalTrafficPolicy` says (`internalTrafficPolicy: Local`
        /// still narrows it to the pod's node), and is not subject to
        /// `loadBalancerSourceRanges`. When false, kube-proxy's rules apply to pods as to
        /// anyone (see [`service`](crate::service)).
        ///
        /// ```
        /// assert!(netpol::profile::Profile::cilium().socket_load_balancer());
        /// assert!(!netpol::profile::Profile::calico().socket_load_balancer());
        /// ```
        socket_load_balancer,
        with_socket_load_balancer
    );

    /// The address an endpoint's policy sees when a node masquerades Service traffic
    /// towards an endpoint on another node.
    ///
    /// ```
    /// use netpol::profile::{Profile, ServiceMasquerade};
    /// assert_eq!(Profile::conformance().service_masquerade(), ServiceMasquerade::NodeIp);
    /// assert_eq!(Profile::canal().service_masquerade(), ServiceMasquerade::TunnelNetworkAddress);
    /// ```
    #[must_use]
    pub fn service_masquerade(&self) -> ServiceMasquerade {
        self.service_masquerade
    }

    /// The same profile with [`service_masquerade`](Self::service_masquerade) set.
    ///
    /// ```
    /// use netpol::profile::{Profile, ServiceMasquerade};
    /// // Calico without encapsulation (BGP): the node IP.
    /// let p = Profile::calico().with_name("calico-bgp").with_service_masquerade(ServiceMasquerade::NodeIp);
    /// assert_eq!(p.service_masquerade(), ServiceMasquerade::NodeIp);
    /// ```
    #[must_use]
    pub fn with_service_masquerade(mut self, value: ServiceMasquerade) -> Self {
        self.service_masquerade = value;
        self
    }
}

fn yes() -> bool {
    true
}

impl Profile {
    /// The upstream conformance semantics: NetworkPolicy and ClusterNetworkPolicy enforced
    /// (the semantics of the Kubernetes and network-policy-api conformance tests),
    /// `ipBlock` matches every address (pods, nodes and outside alike), NetworkPolicy takes
    /// no part between a pod and its own node (both ways), and the pod itself is always
    /// allowed. This is what the NetworkPolicy API reference writes
    /// ("traffic is allowed … if the traffic source is the pod's local node") and what the
    /// concept page says ("traffic to and from the node where a Pod is running is always
    /// allowed, regardless of the IP address of the Pod or the node").
    ///
    /// Service traffic goes through kube-proxy (no socket load balancing), and a node that
    /// masquerades it towards an endpoint on another node is seen at its IP
    /// ([`ServiceMasquerade::NodeIp`]). Upstream leaves this open (the concept page,
    /// "Behavior of ipBlock": "it is not defined whether this happens before or after
    /// NetworkPolicy processing … the \"source IP\" that the NetworkPolicy acts on may be
    /// the IP of a LoadBalancer or of the Pod's node"); the node IP is what the
    /// "Using Source IP" tutorial shows for NodePort clients answered by another node's
    /// endpoint.
    ///
    /// ```
    /// assert_eq!(netpol::profile::Profile::conformance().name(), "conformance");
    /// ```
    #[must_use]
    pub fn conformance() -> Self {
        Profile {
            name: "conformance".into(),
            enforces_network_policy: true,
            enforces_cluster_network_policy: true,
            enforces_calico_policy: false,
            ipblock_matches_pods: true,
            ipblock_matches_nodes: true,
            own_node_exempt: true,
            pod_to_own_node_exempt: true,
            self_exempt: true,
            service_masquerade: ServiceMasquerade::NodeIp,
            socket_load_balancer: false,
        }
    }

    /// flannel alone: a pod network without policy enforcement. The apiserver accepts
    /// NetworkPolicy objects, but flannel implements none of them: flannel's README says it
    /// is focused on networking and points to other projects such as Calico for network
    /// policy, and the Kubernetes "Network Policies" concept page warns that creating a
    /// NetworkPolicy without a controller that implements it has no effect (canal exists to
    /// add Calico's policy on top of flannel). Every flow is allowed, and explanations say
    /// why ([`Special::NotEnforced`](crate::explain::Special)). The other policy knobs are
    /// those of the conformance profile and are never consulted.
    ///
    /// Masqueraded Service traffic comes from the receiving node's `flannel.1` address
    /// ([`ServiceMasquerade::TunnelNetworkAddress`]), which explanations show: flannel's
    /// manifest (`Documentation/kube-flannel.yml`) configures the VXLAN backend, which
    /// gives `flannel.1` the node's subnet address as a /32 ("This IP is just used as a
    /// source address for host to workload traffic", `pkg/backend/vxlan/vxlan.go`) and
    /// routes every other node's subnet through it (`vxlan_network.go`). With the
    /// `host-gw` backend it is the node IP
    /// (`with_service_masquerade(ServiceMasquerade::NodeIp)`).
    ///
    /// ```
    /// assert!(!netpol::profile::Profile::flannel().enforces_network_policy());
    /// ```
    #[must_use]
    pub fn flannel() -> Self {
        Profile {
            name: "flannel".into(),
            enforces_network_policy: false,
            enforces_cluster_network_policy: false,
            service_masquerade: ServiceMasquerade::TunnelNetworkAddress,
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
    /// - ClusterNetworkPolicy: enforced. The network-policy-api project's implementations
    ///   page (site-src/implementations.md, updated April 2026) lists "Calico CNI
    ///   (Standard support in Calico v3.32)" under ClusterNetworkPolicy; earlier Calico
    ///   releases (3.29-3.31) implemented its predecessors AdminNetworkPolicy and
    ///   BaselineAdminNetworkPolicy. For an older Calico, turn it off with
    ///   [`with_cluster_network_policy`](Self::with_cluster_network_policy).
    /// - Policy sees traffic after Service DNAT (Calico "Troubleshoot policies": "Calico
    ///   then blocks the traffic because it sees the traffic after the DNAT"), which is how
    ///   [`service`](crate::service) decides Service traffic for every profile.
    /// - Calico's own policies are enforced and every kind is decided as Felix decides it
    ///   ([`enforces_calico_policy`](Self::enforces_calico_policy)): Felix's filter chains
    ///   (`felix/rules/static.go`) return before any policy for traffic from the host to a
    ///   local workload ("We don't currently police host -> endpoint according to the
    ///   endpoint's ingress policy"), and check a workload's egress and the destination's
    ///   ingress before kube-proxy's masquerade, so a pod reaching itself through a
    ///   Service is checked with its own address at both ends.
    /// - Service traffic a node masquerades towards an endpoint on another node comes from
    ///   that node's tunnel address ([`ServiceMasquerade::TunnelIp`]): Calico's manifest
    ///   (`manifests/calico.yaml`) sets `CALICO_IPV4POOL_IPIP` to `Always` with
    ///   `calico-ipam`, Felix puts the IPAM-assigned tunnel address on `tunl0` and routes
    ///   other nodes' blocks through it (`felix/dataplane/linux/ipip_mgr.go`), and the
    ///   address is recorded on the Node as `projectcalico.org/IPv4IPIPTunnelAddr`
    ///   (`IPv4VXLANTunnelAddr` for VXLAN). A node without one uses no encapsulation
    ///   (BGP), and its IP is seen. The eBPF data plane keeps the client address
    ///   ("Preserves external client source IP addresses all the way to the pod", Calico's
    ///   eBPF documentation): `with_service_masquerade(ServiceMasquerade::Client)`.
    ///
    /// ```
    /// let p = netpol::profile::Profile::calico();
    /// assert!(p.enforces_calico_policy());
    /// assert!(p.ipblock_matches_pods() && !p.pod_to_own_node_exempt());
    /// assert!(p.enforces_cluster_network_policy());
    /// ```
    #[must_use]
    pub fn calico() -> Self {
        Profile {
            name: "calico".into(),
            enforces_calico_policy: true,
            pod_to_own_node_exempt: false,
            service_masquerade: ServiceMasquerade::TunnelIp,
            ..Profile::conformance()
        }
    }

    /// canal: flannel networking with Calico's Felix enforcing policy, so the policy knobs
    /// are [`Profile::calico`]'s (Calico's "Install Calico for policy and flannel (aka
    /// Canal) for networking" guide: flannel for networking, Calico for network policy),
    /// and Service traffic is masqueraded as flannel's VXLAN backend does
    /// ([`ServiceMasquerade::TunnelNetworkAddress`]: Calico's `manifests/canal.yaml`
    /// configures flannel with `"Backend": {"Type": "vxlan"}` and Calico's CNI with
    /// host-local IPAM, so Calico records no tunnel address).
    ///
    /// ```
    /// use netpol::profile::{Profile, ServiceMasquerade};
    /// let canal = Profile::canal();
    /// assert_eq!(canal, Profile::calico().with_name("canal")
    ///     .with_service_masquerade(ServiceMasquerade::TunnelNetworkAddress));
    /// ```
    #[must_use]
    pub fn canal() -> Self {
        Profile {
            name: "canal".into(),
            service_masquerade: ServiceMasquerade::TunnelNetworkAddress,
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
    /// - ClusterNetworkPolicy: not implemented; kube-router is not among the implementations
    ///   the network-policy-api project lists (site-src/implementations.md, April 2026), so
    ///   ClusterNetworkPolicy objects are reported as ignored.
    /// - Service traffic (kube-proxy beside kube-router's policy controller) a node
    ///   masquerades towards another node's endpoint comes from its IP
    ///   ([`ServiceMasquerade::NodeIp`]): kube-router routes pod traffic directly between
    ///   nodes of one subnet and tunnels only to a node "that is not within the subnet of
    ///   its primary interface" (kube-router `docs/tunnels.md`). kube-router's own IPVS
    ///   service proxy is not modelled.
    ///
    /// The other knobs are therefore the conformance ones.
    ///
    /// ```
    /// let p = netpol::profile::Profile::kube_router();
    /// assert_eq!(p.name(), "kube-router");
    /// assert!(p.own_node_exempt() && p.ipblock_matches_nodes());
    /// assert!(!p.enforces_cluster_network_policy());
    /// ```
    #[must_use]
    pub fn kube_router() -> Self {
        Profile {
            name: "kube-router".into(),
            enforces_cluster_network_policy: false,
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
    /// - ClusterNetworkPolicy: not implemented; the network-policy-api implementations page
    ///   lists Cilium only with a tracking issue for the earlier AdminNetworkPolicy
    ///   (cilium/cilium issue #23380), so ClusterNetworkPolicy objects are reported as
    ///   ignored.
    /// - Pod → its own node: policed by the pod's egress policy; it takes a rule allowing
    ///   the `host` entity, which a Kubernetes NetworkPolicy can only express with a rule
    ///   without peers (cilium/cilium #34387: an `ipBlock: 0.0.0.0/0` egress rule is
    ///   "EGRESS DENIED" towards a host-network address, `egress: [{}]` works; #13081).
    ///
    /// - Services, with the kube-proxy replacement in its default SNAT mode (Cilium's
    ///   `Documentation/network/kubernetes/kubeproxy-free.rst`): "when node-external
    ///   traffic arrives and the node determines that the backend for the LoadBalancer,
    ///   NodePort, or services with externalIPs is at a remote node, then the node is
    ///   redirecting the request to the remote backend on its behalf by performing SNAT";
    ///   a local backend keeps the client. The remote backend sees the receiving node
    ///   ([`ServiceMasquerade::NodeIp`]), which it classifies as the `remote-node` identity,
    ///   so no `ipBlock` admits it (see above) — "In the SNAT mode this is not possible"
    ///   to match the client. In-cluster clients go through the socket-level load
    ///   balancer ([`socket_load_balancer`](Self::socket_load_balancer)): "upon connect …
    ///   one of the service backends is selected … no additional lower layer NAT is
    ///   required"; with `externalTrafficPolicy=Local` "all service endpoints are available
    ///   for load balancing from in-cluster side"; "When accessing the service from inside
    ///   a cluster, the kube-proxy replacement will ignore the field
    ///   (`loadBalancerSourceRanges`) regardless whether it is set". DSR mode keeps the
    ///   client everywhere: `with_service_masquerade(ServiceMasquerade::Client)`.
    ///
    /// ```
    /// let p = netpol::profile::Profile::cilium();
    /// assert!(!p.ipblock_matches_pods() && !p.ipblock_matches_nodes());
    /// assert!(p.own_node_exempt() && !p.pod_to_own_node_exempt());
    /// assert!(p.socket_load_balancer());
    /// ```
    #[must_use]
    pub fn cilium() -> Self {
        Profile {
            name: "cilium".into(),
            enforces_cluster_network_policy: false,
            ipblock_matches_pods: false,
            ipblock_matches_nodes: false,
            pod_to_own_node_exempt: false,
            socket_load_balancer: true,
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
    #[must_use]
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

/// A profile name that is not one of [`Profile::NAMES`].
///
/// ```
/// let err = "weave".parse::<netpol::profile::Profile>().unwrap_err();
/// assert_eq!(err.to_string(),
///     r#"unknown profile "weave" (known: conformance, flannel, calico, canal, kube-router, cilium)"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile \"{0}\" (known: {known})", known = Profile::NAMES.join(", "))]
pub struct UnknownProfile(String);

impl std::str::FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::named(s).ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

impl std::fmt::Display for Profile {
    /// The profile's name. [`FromStr`](std::str::FromStr) reads it back to the same profile
    /// for the named ones ([`Profile::NAMES`]); a profile with knobs changed prints its
    /// name only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::conformance()
    }
}
