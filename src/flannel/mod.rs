//! The pod network underneath: flannel's net-conf.json and the per-node pod subnets
//! it implies.
//!
//! # Decoding
//! [`NetConf::parse`] decodes a net-conf.json the way flanneld's Go code does — keys
//! matched exactly, then case-insensitively (Go's encoding/json), unknown keys
//! ignored, a repeated key resolved to its last value — and then applies flannel's
//! `CheckNetworkConfig` (the defaults for `SubnetLen`, `SubnetMin`, `SubnetMax` and
//! their IPv6 twins, with flannel's own messages), the address-family check and the
//! chosen backend's option decoding. Errors carry the [`Stage`] that refused the
//! input. Where flannel is silent the decoder adds [`Warning`]s: unknown keys close to
//! known ones, keys that matched only case-insensitively, options the chosen backend
//! does not read, repeated keys, values that are read but not used.
//!
//! ```
//! use netpol::flannel::NetConf;
//! let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "Direcrouting": true}}"#).unwrap();
//! assert_eq!(parsed.warnings[0].path, "Backend.Direcrouting");
//! assert!(parsed.warnings[0].message.contains("DirectRouting"));
//! ```
//!
//! # The two ways nodes get subnets
//! - **flannel's own subnet manager** (etcd mode): each flanneld leases a subnet of
//!   `SubnetLen` between `SubnetMin` and `SubnetMax`. [`Ipv4Pool::leases`] and
//!   [`Ipv6Pool::leases`] enumerate that range lazily. flanneld itself picks a free
//!   subnet at random among the first free ones, so which node gets which subnet is
//!   not predictable; the example below assigns them in order.
//! - **`--kube-subnet-mgr`** (the kube-flannel.yml default): flannel uses the node's
//!   `spec.podCIDR(s)`, which kube-controller-manager's range allocator assigned from
//!   `--cluster-cidr` in blocks of `--node-cidr-mask-size` (24 for IPv4, 64 for
//!   IPv6), in order from the start of the range: the first node gets `10.244.0.0/24`,
//!   a block flannel's own manager never leases. [`KubeRangeAllocator`] models it. In
//!   this mode flannel does not run `CheckNetworkConfig`, so `SubnetLen`/`SubnetMin`/
//!   `SubnetMax` have no effect.
//!
//! [`NodeSubnetTable`] then answers which node a pod IP belongs to.
//!
//! ```
//! use netpol::flannel::{NetConf, NodeSubnetTable};
//! let pool = NetConf::parse(r#"{"Network": "10.244.0.0/16"}"#)?.config.ipv4.unwrap();
//! let leases = pool.leases().map(ipnet::IpNet::V4); // flanneld would pick at random
//! let table = NodeSubnetTable::from_pairs(["node-1", "node-2"].into_iter().zip(leases))?;
//! assert_eq!(table.node_of("10.244.2.7".parse()?), Some("node-2"));
//! assert_eq!(table.node_of("10.244.0.7".parse()?), None); // never leased in this mode
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # flannel's address fields read raw JSON text
//! `Network`, `IPv6Network`, `SubnetMin`, `SubnetMax`, `IPv6SubnetMin` and
//! `IPv6SubnetMax` are flannel `ip` types whose `UnmarshalJSON` (pkg/ip/ipnet.go,
//! pkg/ip/ip6net.go) trims the quotes off the raw JSON bytes and parses what is left,
//! without decoding escapes. The decoder does the same: `"10.244.0.0\/16"` is refused
//! (with a message naming the escape), an escaped quote leaves a backslash that fails,
//! and a number or `null` is parsed as its text and fails, except in the pointer fields
//! `IPv6SubnetMin`/`IPv6SubnetMax`, where `null` means unset. Elsewhere a lone UTF-16
//! surrogate escape reads as U+FFFD, as in Go's decoder. `Networks` and `IPv6Networks`
//! left flannel's config in v0.25.0 and are unknown keys (with a warning).
//!
//! ```
//! use netpol::flannel::{NetConf, Stage};
//! let err = NetConf::parse(r#"{"Network": "10.244.0.0\/16"}"#).unwrap_err();
//! assert_eq!(err.stage(), Stage::Parse);
//! assert!(err.to_string().contains("does not decode escapes"), "{err}");
//! ```
//!
//! # Where flannel's code and its documentation disagree
//! - With no `Backend`, flannel's `parseBackendType` picks `udp`, while
//!   Documentation/configuration.md says the default is `vxlan`. This crate follows
//!   the code and warns.
//! - `SubnetMin` defaults to the *second* subnet (`10.244.1.0` for `10.244.0.0/16`):
//!   the code skips the first, while kube-controller-manager hands the first block
//!   (`10.244.0.0/24`) to the first node, so the two modes never agree on it.
//!
//! # Deliberate differences from flanneld
//! - An IPv6 CIDR in `Network` (or an IPv4 one in `IPv6Network`, an IPv6 address in
//!   `SubnetMin`/`SubnetMax`) makes flanneld panic or compute nonsense; here it is a
//!   `parse` error.
//! - Values nested more than 128 deep inside known keys are refused (`parse`) where Go
//!   would accept them (serde_json's depth limit).
//! - Options flannel rejects only when it configures the backend (an invalid
//!   wireguard `Mode`, an ipsec `PSK` shorter than 96 characters) are `backend` errors.

mod backend;
mod config;
mod error;
mod json;
mod kube;
mod lease;
mod table;

pub use backend::{
    Backend, BackendOptions, ExtensionOptions, IPSEC_MIN_PSK_LEN, IpIpOptions, IpsecOptions,
    REGISTERED_BACKENDS, UdpOptions, VxlanOptions, WireguardMode, WireguardOptions,
};
pub use config::{NetConf, Parsed};
pub use error::{NetConfError, Stage, UnknownStage, Warning, WarningKind};
pub use kube::{AllocError, KubeAllocatorConfig, KubeRangeAllocator, NodeCidrs};
pub use lease::{Ipv4Leases, Ipv4Pool, Ipv6Leases, Ipv6Pool};
pub use table::{NodeSubnetTable, TableError};
