//! The parts of the core `v1` objects a cluster is built from: Namespace, Node and Pod.
//!
//! Each model declares the fields [`crate::cluster::ClusterObjects`] reads, with the Go
//! types of `k8s.io/api/core/v1`, and keeps everything else verbatim in an `extra` map
//! (unchecked), so an object decodes and serializes back whole. They decode with the
//! apiserver's rules ([`super::go_json`]): `null` is the zero value, an array never stands
//! for an object, `containerPort: "80"` is an error, and a top-level object must be of
//! its kind (`apiVersion: apps/v1, kind: Pod` is refused, as no group but the core one has
//! a Pod).

use super::ObjectMeta;
use super::go_json::{self, DecodeError, go_struct, go_value};

/// Unknown or unread fields, kept as written.
type Extra = serde_json::Map<String, serde_json::Value>;

go_struct! {
    /// A `v1` Namespace: its name and labels are what policies select it by.
    ///
    /// ```
    /// use netpol::model::Namespace;
    /// let ns = Namespace::from_json(r#"{"apiVersion": "v1", "kind": "Namespace",
    ///   "metadata": {"name": "shop", "labels": {"team": "shop"}}, "status": {"phase": "Active"}}"#)?;
    /// assert_eq!(ns.metadata.name.as_deref(), Some("shop"));
    /// assert_eq!(ns.extra["status"]["phase"], "Active"); // kept, not read
    /// assert!(Namespace::from_json(r#"{"kind": "Pod"}"#).is_err());
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Namespace {
        /// `apiVersion`, normally `v1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind`, normally `Namespace`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// `metadata`.
        pub metadata: ObjectMeta,
        /// Every other top-level field (`spec`, `status`), kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
    kind("v1", "Namespace");
}

go_struct! {
    /// A `v1` Node: its name, labels, annotations (where network plugins record their
    /// per-node addresses), pod subnets and addresses.
    ///
    /// ```
    /// use netpol::model::Node;
    /// let node = Node::from_json(r#"{"kind": "Node", "metadata": {"name": "n1"},
    ///   "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "providerID": "kind://n1"},
    ///   "status": {"addresses": [{"type": "Hostname", "address": "n1"},
    ///                            {"type": "InternalIP", "address": "192.168.0.11"}]}}"#)?;
    /// let addresses = node.status.addresses.as_deref().unwrap_or_default();
    /// assert_eq!(addresses[1].type_, "InternalIP");
    /// assert_eq!(node.spec.pod_cidr.as_deref(), Some("10.244.1.0/24"));
    /// assert_eq!(node.spec.extra["providerID"], "kind://n1"); // kept, not read
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Node {
        /// `apiVersion`, normally `v1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind`, normally `Node`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// `metadata`.
        pub metadata: ObjectMeta,
        /// `spec`.
        #[serde(skip_serializing_if = "NodeSpec::is_empty")]
        pub spec: NodeSpec,
        /// `status`.
        pub status: NodeStatus,
        /// Every other top-level field, kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
    kind("v1", "Node");
}

go_struct! {
    /// `spec` of a Node (`v1.NodeSpec`): its pod subnets.
    ///
    /// ```
    /// let s: netpol::model::NodeSpec =
    ///     serde_json::from_str(r#"{"podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}"#).unwrap();
    /// assert_eq!(s.pod_cidrs.unwrap().len(), 2);
    /// assert!(serde_json::from_str::<netpol::model::NodeSpec>(r#"{"podCIDR": 7}"#).is_err());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct NodeSpec {
        /// `podCIDR`: the node's pod subnet (the first of `podCIDRs`).
        #[serde(rename = "podCIDR", skip_serializing_if = "Option::is_none")]
        pub pod_cidr: Option<String>,
        /// `podCIDRs`: one pod subnet per family (dual stack).
        #[serde(rename = "podCIDRs", skip_serializing_if = "Option::is_none")]
        pub pod_cidrs: Option<Vec<String>>,
        /// Every other field (`providerID`, `taints`, …), kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
}

impl NodeSpec {
    /// Whether nothing is set (so that a Node read without `spec` writes none back).
    ///
    /// ```
    /// assert!(netpol::model::NodeSpec::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pod_cidr.is_none() && self.pod_cidrs.is_none() && self.extra.is_empty()
    }
}

go_struct! {
    /// `status` of a Node (`v1.NodeStatus`).
    ///
    /// ```
    /// let s: netpol::model::NodeStatus = serde_json::from_str(r#"{"addresses": null}"#).unwrap();
    /// assert!(s.addresses.is_none());
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct NodeStatus {
        /// `addresses`: InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub addresses: Option<Vec<NodeAddress>>,
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `status.addresses` entry of a Node (`v1.NodeAddress`).
    ///
    /// ```
    /// let a: netpol::model::NodeAddress =
    ///     serde_json::from_str(r#"{"type": "ExternalIP", "address": "203.0.113.10"}"#).unwrap();
    /// assert_eq!((a.type_.as_str(), a.address.as_str()), ("ExternalIP", "203.0.113.10"));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct NodeAddress {
        /// `type`: `InternalIP`, `ExternalIP`, `Hostname`, `InternalDNS`, `ExternalDNS`.
        #[serde(rename = "type")]
        pub type_: String,
        /// `address`.
        pub address: String,
    }
}

go_struct! {
    /// A `v1` Pod: its name, labels, node, container ports, service account, network
    /// (`hostNetwork`), phase and addresses.
    ///
    /// ```
    /// use netpol::model::Pod;
    /// let pod = Pod::from_json(r#"{"apiVersion": "v1", "kind": "Pod",
    ///   "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
    ///   "spec": {"nodeName": "n1", "containers": [{"name": "pg", "image": "postgres:16",
    ///            "ports": [{"name": "pg", "containerPort": 5432}]}]},
    ///   "status": {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]}}"#)?;
    /// let containers = pod.spec.containers.as_deref().unwrap_or_default();
    /// assert_eq!(containers[0].ports.as_deref().unwrap_or_default()[0].container_port, 5432);
    /// assert_eq!(containers[0].extra["image"], "postgres:16"); // kept, not read
    /// assert_eq!(pod.status.phase.as_deref(), Some("Running"));
    ///
    /// // The apiserver's rules: a string is not an int32, and only `v1` has a Pod.
    /// assert!(Pod::from_json(r#"{"spec": {"containers": [{"ports": [{"containerPort": "80"}]}]}}"#).is_err());
    /// assert!(Pod::from_json(r#"{"apiVersion": "apps/v1", "kind": "Pod"}"#).is_err());
    /// # Ok::<(), netpol::model::DecodeError>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Pod {
        /// `apiVersion`, normally `v1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind`, normally `Pod`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// `metadata`.
        pub metadata: ObjectMeta,
        /// `spec`.
        pub spec: PodSpec,
        /// `status`.
        pub status: PodStatus,
        /// Every other top-level field, kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
    kind("v1", "Pod");
}

go_struct! {
    /// `spec` of a Pod (`v1.PodSpec`), the fields the cluster reads.
    ///
    /// ```
    /// let s: netpol::model::PodSpec =
    ///     serde_json::from_str(r#"{"hostNetwork": true, "nodeName": "n1", "serviceAccountName": "kube-proxy"}"#).unwrap();
    /// assert_eq!(s.host_network, Some(true));
    /// assert_eq!(s.service_account_name.as_deref(), Some("kube-proxy"));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct PodSpec {
        /// `nodeName`: the node the pod was scheduled to.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub node_name: Option<String>,
        /// `hostNetwork`: the pod uses its node's network namespace.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub host_network: Option<bool>,
        /// `serviceAccountName`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub service_account_name: Option<String>,
        /// `serviceAccount`: the deprecated alias of `serviceAccountName`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub service_account: Option<String>,
        /// `containers`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub containers: Option<Vec<Container>>,
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `spec.containers` entry of a Pod (`v1.Container`): its name and ports.
    ///
    /// ```
    /// let c: netpol::model::Container = serde_json::from_str(r#"{"name": "web", "ports": [null]}"#).unwrap();
    /// assert_eq!(c.ports.unwrap()[0].container_port, 0); // null is the zero value
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Container {
        /// `name`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub name: Option<String>,
        /// `ports`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ports: Option<Vec<ContainerPort>>,
        /// Every other field (`image`, `command`, ...), kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `ports` entry of a container (`v1.ContainerPort`).
    ///
    /// ```
    /// let p: netpol::model::ContainerPort =
    ///     serde_json::from_str(r#"{"name": "dns", "containerPort": 53, "protocol": "UDP"}"#).unwrap();
    /// assert_eq!((p.name.as_deref(), p.container_port, p.protocol.as_deref()), (Some("dns"), 53, Some("UDP")));
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct ContainerPort {
        /// `name`: what a NetworkPolicy or a Service `targetPort` may name it by.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub name: Option<String>,
        /// `hostPort`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub host_port: Option<i32>,
        /// `containerPort` (Go `int32`).
        pub container_port: i32,
        /// `protocol`: `TCP` (the default), `UDP` or `SCTP`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub protocol: Option<String>,
        /// `hostIP`.
        #[serde(rename = "hostIP", skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub host_ip: Option<String>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// `status` of a Pod (`v1.PodStatus`), the fields the cluster reads.
    ///
    /// ```
    /// let s: netpol::model::PodStatus = serde_json::from_str(
    ///     r#"{"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}"#).unwrap();
    /// assert_eq!(s.pod_ips.unwrap()[1].ip, "fd00::5");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct PodStatus {
        /// `phase`: `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub phase: Option<String>,
        /// `podIP`: the first address.
        #[serde(rename = "podIP", skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub pod_ip: Option<String>,
        /// `podIPs`: every address, at most one per family.
        #[serde(rename = "podIPs", skip_serializing_if = "Option::is_none")]
        pub pod_ips: Option<Vec<PodIp>>,
        /// `hostIP`: the node's address.
        #[serde(rename = "hostIP", skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub host_ip: Option<String>,
        /// Every other field, kept verbatim.
        #[serde(flatten)]
        pub extra: Extra,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `status.podIPs` entry (`v1.PodIP`).
    ///
    /// ```
    /// let ip: netpol::model::PodIp = serde_json::from_str(r#"{"ip": "10.244.1.5"}"#).unwrap();
    /// assert_eq!(ip.ip, "10.244.1.5");
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct PodIp {
        /// `ip`.
        pub ip: String,
    }
}

macro_rules! from_text {
    ($($t:ident),*) => {$(
        impl $t {
            #[doc = concat!("Decodes a `v1` ", stringify!($t), " from JSON text, as the apiserver decodes it.")]
            ///
            /// ```
            #[doc = concat!("let e = netpol::model::", stringify!($t), "::from_json(r#\"{\"metadata\": []}\"#).unwrap_err();")]
            /// assert_eq!(e.path, "metadata");
            /// ```
            pub fn from_json(text: &str) -> Result<Self, DecodeError> {
                go_json::from_str(text)
            }

            #[doc = concat!("Decodes a `v1` ", stringify!($t), " from a JSON value (from a YAML reader, for instance).")]
            ///
            /// ```
            #[doc = concat!("let v = serde_json::json!({\"kind\": \"", stringify!($t), "\", \"metadata\": {\"name\": \"a\"}});")]
            #[doc = concat!("let o = netpol::model::", stringify!($t), "::from_value(&v)?;")]
            /// assert_eq!(o.metadata.name.as_deref(), Some("a"));
            /// # Ok::<(), netpol::model::DecodeError>(())
            /// ```
            pub fn from_value(value: &serde_json::Value) -> Result<Self, DecodeError> {
                go_json::from_value(value)
            }
        }
    )*};
}

from_text!(Namespace, Node, Pod);
