//! flannel backends and their options, decoded as each backend's `RegisterNetwork`
//! decodes the `Backend` object (Linux builds).

use super::error::{NetConfError, Stage, Warning, WarningKind};
use super::json::{Object, Scalar, suggest};

/// Every option name any backend reads, plus `Type`; the Backend object is decoded
/// against this table and each backend then picks its own.
pub(crate) const BACKEND_FIELDS: &[&str] = &[
    "Type",
    "VNI",
    "Port",
    "MTU",
    "GBP",
    "Learning",
    "DirectRouting",
    "ListenPort",
    "ListenPortV6",
    "PSK",
    "PersistentKeepaliveInterval",
    "Mode",
    "UDPEncap",
    "ESPProposal",
    "PreStartupCommand",
    "PostStartupCommand",
    "SubnetAddCommand",
    "SubnetRemoveCommand",
    "MacPrefix",
    "Name",
];

const F_TYPE: usize = 0;
const F_VNI: usize = 1;
const F_PORT: usize = 2;
const F_MTU: usize = 3;
const F_GBP: usize = 4;
const F_LEARNING: usize = 5;
const F_DIRECT_ROUTING: usize = 6;
const F_LISTEN_PORT: usize = 7;
const F_LISTEN_PORT_V6: usize = 8;
const F_PSK: usize = 9;
const F_KEEPALIVE: usize = 10;
const F_MODE: usize = 11;
const F_UDP_ENCAP: usize = 12;
const F_ESP_PROPOSAL: usize = 13;
const F_PRE_STARTUP: usize = 14;
const F_POST_STARTUP: usize = 15;
const F_SUBNET_ADD: usize = 16;
const F_SUBNET_REMOVE: usize = 17;
const F_MAC_PREFIX: usize = 18;
const F_NAME: usize = 19;

/// The backends a Linux flanneld registers, by their registered (lower-case) names.
///
/// ```
/// use netpol::flannel::{NetConf, REGISTERED_BACKENDS};
/// assert!(REGISTERED_BACKENDS.contains(&"host-gw"));
/// let err = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "geneve"}}"#).unwrap_err();
/// assert_eq!(err.message(), r#"unknown backend type: "geneve""#);
/// ```
pub const REGISTERED_BACKENDS: &[&str] = &[
    "vxlan",
    "udp",
    "host-gw",
    "ipip",
    "wireguard",
    "ipsec",
    "alloc",
    "extension",
    "tencent-vpc",
];

/// The ipsec backend refuses a pre-shared key shorter than this.
///
/// ```
/// use netpol::flannel::{IPSEC_MIN_PSK_LEN, NetConf};
/// let conf = |psk: String| format!(
///     r#"{{"Network": "10.244.0.0/16", "Backend": {{"Type": "ipsec", "PSK": "{psk}"}}}}"#);
/// assert!(NetConf::parse(&conf("k".repeat(IPSEC_MIN_PSK_LEN))).is_ok());
/// let err = NetConf::parse(&conf("k".repeat(IPSEC_MIN_PSK_LEN - 1))).unwrap_err();
/// assert!(err.message().contains("password is too short"));
/// ```
pub const IPSEC_MIN_PSK_LEN: usize = 96;

/// The chosen backend: its type as written and its decoded options.
///
/// ```
/// use netpol::flannel::{NetConf, BackendOptions};
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "VXLAN", "VNI": 4096}}"#).unwrap();
/// let backend = &parsed.config.backend;
/// assert_eq!(backend.type_name, "VXLAN");
/// assert_eq!(backend.resolved(), "vxlan");
/// assert!(matches!(&backend.options, BackendOptions::Vxlan(v) if v.vni == 4096));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// `Backend.Type` as written; `udp` when `Backend` is absent.
    pub type_name: String,
    /// The options the backend reads, with flannel's defaults filled in.
    pub options: BackendOptions,
}

impl Backend {
    /// The registered name flannel resolves the type to (`Type` lower-cased).
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "Host-GW"}}"#).unwrap();
    /// assert_eq!(parsed.config.backend.resolved(), "host-gw");
    /// ```
    #[must_use]
    pub fn resolved(&self) -> &'static str {
        self.options.name()
    }
}

/// Each backend's options, with flannel's defaults.
///
/// ```
/// use netpol::flannel::{NetConf, BackendOptions};
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16"}"#).unwrap();
/// assert!(matches!(parsed.config.backend.options, BackendOptions::Udp(u) if u.port == 8285));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendOptions {
    /// `vxlan`.
    Vxlan(VxlanOptions),
    /// `udp`.
    Udp(UdpOptions),
    /// `host-gw` (no options).
    HostGw,
    /// `ipip`.
    IpIp(IpIpOptions),
    /// `wireguard`.
    Wireguard(WireguardOptions),
    /// `ipsec`.
    Ipsec(IpsecOptions),
    /// `alloc` (no options: it only allocates subnets).
    Alloc,
    /// `extension`.
    Extension(ExtensionOptions),
    /// `tencent-vpc` (options not modelled).
    TencentVpc,
}

impl BackendOptions {
    /// The backend's registered name.
    ///
    /// ```
    /// assert_eq!(netpol::flannel::BackendOptions::HostGw.name(), "host-gw");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            BackendOptions::Vxlan(_) => "vxlan",
            BackendOptions::Udp(_) => "udp",
            BackendOptions::HostGw => "host-gw",
            BackendOptions::IpIp(_) => "ipip",
            BackendOptions::Wireguard(_) => "wireguard",
            BackendOptions::Ipsec(_) => "ipsec",
            BackendOptions::Alloc => "alloc",
            BackendOptions::Extension(_) => "extension",
            BackendOptions::TencentVpc => "tencent-vpc",
        }
    }
}

/// vxlan options (`VNI`, `Port`, `MTU`, `GBP`, `Learning`, `DirectRouting`).
///
/// ```
/// let v = netpol::flannel::VxlanOptions::default();
/// assert_eq!((v.vni, v.port, v.mtu), (1, 0, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanOptions {
    /// VXLAN network identifier; default 1 (device `flannel.1`).
    pub vni: i64,
    /// UDP port; 0 means the kernel default (8472 on Linux).
    pub port: i64,
    /// Device MTU; `None` means the external interface's MTU.
    pub mtu: Option<i64>,
    /// VXLAN Group Based Policy.
    pub gbp: bool,
    /// Kernel FDB learning.
    pub learning: bool,
    /// Route directly between hosts on the same subnet.
    pub direct_routing: bool,
}

impl Default for VxlanOptions {
    fn default() -> Self {
        VxlanOptions {
            vni: 1,
            port: 0,
            mtu: None,
            gbp: false,
            learning: false,
            direct_routing: false,
        }
    }
}

/// udp options (`Port`).
///
/// ```
/// assert_eq!(netpol::flannel::UdpOptions::default().port, 8285);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    /// UDP port; default 8285.
    pub port: i64,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions { port: 8285 }
    }
}

/// ipip options (`DirectRouting`).
///
/// ```
/// assert!(!netpol::flannel::IpIpOptions::default().direct_routing);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpIpOptions {
    /// Route directly between hosts on the same subnet.
    pub direct_routing: bool,
}

/// wireguard's `Mode`.
///
/// ```
/// assert_eq!(netpol::flannel::WireguardMode::default().as_str(), "separate");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WireguardMode {
    /// One device per address family (default).
    #[default]
    Separate,
    /// One device, endpoint family chosen automatically.
    Auto,
    /// One device, IPv4 endpoints.
    Ipv4,
    /// One device, IPv6 endpoints.
    Ipv6,
}

impl WireguardMode {
    /// The name as flannel spells it.
    ///
    /// ```
    /// assert_eq!(netpol::flannel::WireguardMode::Ipv6.as_str(), "ipv6");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WireguardMode::Separate => "separate",
            WireguardMode::Auto => "auto",
            WireguardMode::Ipv4 => "ipv4",
            WireguardMode::Ipv6 => "ipv6",
        }
    }
}

/// wireguard options, with flannel's names: `ListenPort`, `ListenPortV6`, `MTU`, `PSK`,
/// `PersistentKeepaliveInterval` (seconds), `Mode`.
///
/// ```
/// let w = netpol::flannel::WireguardOptions::default();
/// assert_eq!((w.listen_port, w.listen_port_v6), (51820, 51821));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireguardOptions {
    /// IPv4 device listen port; default 51820.
    pub listen_port: i64,
    /// IPv6 device listen port; default 51821.
    pub listen_port_v6: i64,
    /// Device MTU; `None` means the external interface's MTU.
    pub mtu: Option<i64>,
    /// Pre-shared key; empty means none.
    pub psk: String,
    /// Keepalive interval in seconds; 0 disables it.
    pub persistent_keepalive_interval: i64,
    /// Device layout.
    pub mode: WireguardMode,
}

impl Default for WireguardOptions {
    fn default() -> Self {
        WireguardOptions {
            listen_port: 51820,
            listen_port_v6: 51821,
            mtu: None,
            psk: String::new(),
            persistent_keepalive_interval: 0,
            mode: WireguardMode::Separate,
        }
    }
}

/// ipsec options (`UDPEncap`, `ESPProposal`, `PSK`).
///
/// ```
/// let i = netpol::flannel::IpsecOptions::default();
/// assert_eq!(i.esp_proposal, "aes128gcm16-sha256-prfsha256-ecp256");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsecOptions {
    /// Encapsulate ESP in UDP.
    pub udp_encap: bool,
    /// strongSwan ESP proposal.
    pub esp_proposal: String,
    /// Pre-shared key; flannel refuses fewer than 96 characters.
    pub psk: String,
}

impl Default for IpsecOptions {
    fn default() -> Self {
        IpsecOptions {
            udp_encap: false,
            esp_proposal: "aes128gcm16-sha256-prfsha256-ecp256".to_owned(),
            psk: String::new(),
        }
    }
}

/// extension options: the shell commands flannel runs.
///
/// ```
/// assert!(netpol::flannel::ExtensionOptions::default().subnet_add_command.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionOptions {
    /// Run before the lease is acquired; its output becomes the lease's backend data.
    pub pre_startup_command: String,
    /// Run after the lease is acquired.
    pub post_startup_command: String,
    /// Run when a remote subnet appears.
    pub subnet_add_command: String,
    /// Run when a remote subnet disappears.
    pub subnet_remove_command: String,
}

/// Which option fields each backend reads.
fn fields_of(name: &str) -> &'static [usize] {
    match name {
        "vxlan" => &[F_VNI, F_PORT, F_MTU, F_GBP, F_LEARNING, F_DIRECT_ROUTING],
        "udp" => &[F_PORT],
        "ipip" => &[F_DIRECT_ROUTING],
        "wireguard" => &[
            F_LISTEN_PORT,
            F_LISTEN_PORT_V6,
            F_MTU,
            F_PSK,
            F_KEEPALIVE,
            F_MODE,
        ],
        "ipsec" => &[F_UDP_ENCAP, F_ESP_PROPOSAL, F_PSK],
        "extension" => &[F_PRE_STARTUP, F_POST_STARTUP, F_SUBNET_ADD, F_SUBNET_REMOVE],
        _ => &[],
    }
}

fn type_error(path: &str, value: &Scalar, go_type: &str) -> String {
    format!(
        "cannot unmarshal {} into {path} of type {go_type}",
        value.kind()
    )
}

/// Go's `bool` field: `null` keeps the value.
pub(crate) fn set_bool(slot: &mut bool, v: &Scalar, path: &str) -> Result<(), String> {
    match v {
        Scalar::Null => Ok(()),
        Scalar::Bool(b) => {
            *slot = *b;
            Ok(())
        }
        other => Err(type_error(path, other, "bool")),
    }
}

/// Go's `int` field: only integer literals that fit in 64 bits.
pub(crate) fn set_int(slot: &mut i64, v: &Scalar, path: &str) -> Result<(), String> {
    match v {
        Scalar::Null => Ok(()),
        Scalar::I64(i) => {
            *slot = *i;
            Ok(())
        }
        Scalar::U64(u) => match i64::try_from(*u) {
            Ok(i) => {
                *slot = i;
                Ok(())
            }
            Err(_) => Err(format!("number {u} overflows {path} of type int")),
        },
        Scalar::F64(f) => Err(format!(
            "cannot unmarshal number {f} into {path} of type int"
        )),
        other => Err(type_error(path, other, "int")),
    }
}

/// An `int` whose default is decided later (the interface MTU): `None` until set.
fn set_optional_int(slot: &mut Option<i64>, v: &Scalar, path: &str) -> Result<(), String> {
    if matches!(v, Scalar::Null) {
        return Ok(());
    }
    let mut value = 0;
    set_int(&mut value, v, path)?;
    *slot = Some(value);
    Ok(())
}

/// Go's `uint` field.
pub(crate) fn set_uint(slot: &mut u64, v: &Scalar, path: &str) -> Result<(), String> {
    match v {
        Scalar::Null => Ok(()),
        Scalar::U64(u) => {
            *slot = *u;
            Ok(())
        }
        Scalar::I64(i) => Err(format!(
            "cannot unmarshal number {i} into {path} of type uint"
        )),
        Scalar::F64(f) => Err(format!(
            "cannot unmarshal number {f} into {path} of type uint"
        )),
        other => Err(type_error(path, other, "uint")),
    }
}

/// Go's `string` field.
pub(crate) fn set_string(slot: &mut String, v: &Scalar, path: &str) -> Result<(), String> {
    match v {
        Scalar::Null => Ok(()),
        Scalar::Str(s) => {
            slot.clone_from(s);
            Ok(())
        }
        other => Err(type_error(path, other, "string")),
    }
}

/// How `Backend` appeared in the document.
pub(crate) enum BackendDoc<'a> {
    Absent,
    Null,
    Object(&'a Object<Scalar>),
    Other(&'static str),
}

/// flannel's `parseBackendType`: the type as written (`udp` when `Backend` is absent).
pub(crate) fn backend_type(doc: &BackendDoc<'_>) -> Result<String, NetConfError> {
    let err = |m: String| {
        NetConfError::new(
            Stage::Parse,
            format!("error decoding Backend property of config: {m}"),
        )
    };
    match doc {
        BackendDoc::Absent => Ok("udp".to_owned()),
        BackendDoc::Null => Ok(String::new()),
        BackendDoc::Other(kind) => Err(err(format!(
            "cannot unmarshal {kind} into Backend of type object"
        ))),
        BackendDoc::Object(obj) => {
            let mut ty = String::new();
            for e in &obj.entries {
                if let (Some(F_TYPE), Some(v)) = (e.field, &e.value) {
                    set_string(&mut ty, v, "Backend.Type").map_err(err)?;
                }
            }
            Ok(ty)
        }
    }
}

/// Decodes the options of the backend named `type_name`, as its `RegisterNetwork` does.
pub(crate) fn decode_backend(
    type_name: &str,
    doc: &BackendDoc<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<Backend, NetConfError> {
    let lower = type_name.to_lowercase();
    let Some(name) = REGISTERED_BACKENDS.iter().copied().find(|n| *n == lower) else {
        return Err(NetConfError::new(
            Stage::Backend,
            format!("unknown backend type: {lower:?}"),
        ));
    };
    let mine = fields_of(name);
    let mut options = match name {
        "vxlan" => BackendOptions::Vxlan(VxlanOptions::default()),
        "udp" => BackendOptions::Udp(UdpOptions::default()),
        "host-gw" => BackendOptions::HostGw,
        "ipip" => BackendOptions::IpIp(IpIpOptions::default()),
        "wireguard" => BackendOptions::Wireguard(WireguardOptions::default()),
        "ipsec" => BackendOptions::Ipsec(IpsecOptions::default()),
        "alloc" => BackendOptions::Alloc,
        "extension" => BackendOptions::Extension(ExtensionOptions::default()),
        _ => BackendOptions::TencentVpc,
    };
    let mut mode = String::from("separate");
    let mut first_error: Option<String> = None;
    if let BackendDoc::Object(obj) = doc {
        for e in &obj.entries {
            let path = format!("Backend.{}", e.key);
            let (Some(field), Some(value)) = (e.field, &e.value) else {
                let known = mine
                    .iter()
                    .chain(std::iter::once(&F_TYPE))
                    .filter_map(|f| BACKEND_FIELDS.get(*f).copied());
                let suggestion = suggest(&e.key, known);
                let message = match suggestion {
                    Some(s) => format!("unknown key, ignored by flannel; did you mean `{s}`?"),
                    None => format!("unknown key, ignored by the {name} backend"),
                };
                warnings.push(Warning {
                    path,
                    kind: WarningKind::UnknownKey {
                        suggestion: suggestion.map(str::to_owned),
                    },
                    message,
                });
                continue;
            };
            let canonical = BACKEND_FIELDS.get(field).copied().unwrap_or_default();
            if field == F_TYPE {
                if e.folded {
                    fold_warning(warnings, &path, canonical);
                }
                continue;
            }
            if !mine.contains(&field) {
                let (kind, message) = if (field == F_MAC_PREFIX || field == F_NAME)
                    && name == "vxlan"
                {
                    (
                        WarningKind::WindowsOnly,
                        format!("`{canonical}` is read only by flannel's Windows vxlan backend"),
                    )
                } else {
                    (
                        WarningKind::IgnoredByBackend {
                            backend: name.to_owned(),
                        },
                        format!("`{canonical}` is not an option of the {name} backend; ignored"),
                    )
                };
                warnings.push(Warning {
                    path,
                    kind,
                    message,
                });
                continue;
            }
            if e.folded {
                fold_warning(warnings, &path, canonical);
            }
            let result = apply(&mut options, &mut mode, field, value, &path);
            if let Err(m) = result {
                first_error.get_or_insert(m);
            }
        }
    }
    if let Some(m) = first_error {
        let what = match name {
            "vxlan" => "VXLAN backend config",
            "udp" => "UDP backend config",
            "ipip" => "IPIP backend config",
            "ipsec" => "IPSEC backend config",
            _ => "backend config",
        };
        return Err(NetConfError::new(
            Stage::Backend,
            format!("error decoding {what}: {m}"),
        ));
    }
    match &mut options {
        BackendOptions::Wireguard(w) => {
            w.mode = match mode.as_str() {
                "separate" => WireguardMode::Separate,
                "auto" => WireguardMode::Auto,
                "ipv4" => WireguardMode::Ipv4,
                "ipv6" => WireguardMode::Ipv6,
                _ => {
                    return Err(NetConfError::new(
                        Stage::Backend,
                        format!("no valid Mode configured: {mode:?}"),
                    ));
                }
            };
        }
        BackendOptions::Ipsec(i) if i.psk.chars().count() < IPSEC_MIN_PSK_LEN => {
            return Err(NetConfError::new(
                Stage::Backend,
                format!(
                    "config error, password is too short (PSK needs at least {IPSEC_MIN_PSK_LEN} characters)"
                ),
            ));
        }
        _ => {}
    }
    range_warnings(&options, warnings);
    Ok(Backend {
        type_name: type_name.to_owned(),
        options,
    })
}

fn fold_warning(warnings: &mut Vec<Warning>, path: &str, canonical: &str) {
    warnings.push(Warning {
        path: path.to_owned(),
        kind: WarningKind::CaseInsensitiveMatch {
            canonical: canonical.to_owned(),
        },
        message: format!("matches `{canonical}` only case-insensitively"),
    });
}

fn apply(
    options: &mut BackendOptions,
    mode: &mut String,
    field: usize,
    v: &Scalar,
    path: &str,
) -> Result<(), String> {
    match options {
        BackendOptions::Vxlan(o) => match field {
            F_VNI => set_int(&mut o.vni, v, path),
            F_PORT => set_int(&mut o.port, v, path),
            F_MTU => set_optional_int(&mut o.mtu, v, path),
            F_GBP => set_bool(&mut o.gbp, v, path),
            F_LEARNING => set_bool(&mut o.learning, v, path),
            _ => set_bool(&mut o.direct_routing, v, path),
        },
        BackendOptions::Udp(o) => set_int(&mut o.port, v, path),
        BackendOptions::IpIp(o) => set_bool(&mut o.direct_routing, v, path),
        BackendOptions::Wireguard(o) => match field {
            F_LISTEN_PORT => set_int(&mut o.listen_port, v, path),
            F_LISTEN_PORT_V6 => set_int(&mut o.listen_port_v6, v, path),
            F_MTU => set_optional_int(&mut o.mtu, v, path),
            F_PSK => set_string(&mut o.psk, v, path),
            F_KEEPALIVE => set_int(&mut o.persistent_keepalive_interval, v, path),
            _ => set_string(mode, v, path),
        },
        BackendOptions::Ipsec(o) => match field {
            F_UDP_ENCAP => set_bool(&mut o.udp_encap, v, path),
            F_ESP_PROPOSAL => set_string(&mut o.esp_proposal, v, path),
            _ => set_string(&mut o.psk, v, path),
        },
        BackendOptions::Extension(o) => match field {
            F_PRE_STARTUP => set_string(&mut o.pre_startup_command, v, path),
            F_POST_STARTUP => set_string(&mut o.post_startup_command, v, path),
            F_SUBNET_ADD => set_string(&mut o.subnet_add_command, v, path),
            _ => set_string(&mut o.subnet_remove_command, v, path),
        },
        BackendOptions::HostGw | BackendOptions::Alloc | BackendOptions::TencentVpc => Ok(()),
    }
}

fn range_warnings(options: &BackendOptions, warnings: &mut Vec<Warning>) {
    let mut check = |path: &str, value: i64, lo: i64, hi: i64, what: &str| {
        if value < lo || value > hi {
            warnings.push(Warning {
                path: path.to_owned(),
                kind: WarningKind::Suspicious,
                message: format!(
                    "{value} is outside {lo}..={hi}; flannel passes it on truncated to {what}"
                ),
            });
        }
    };
    match options {
        BackendOptions::Vxlan(o) => {
            check("Backend.VNI", o.vni, 0, 0xFF_FFFF, "a 24-bit VNI");
            check("Backend.Port", o.port, 0, 65535, "a 16-bit port");
        }
        BackendOptions::Udp(o) => check("Backend.Port", o.port, 1, 65535, "a 16-bit port"),
        BackendOptions::Wireguard(o) => {
            check(
                "Backend.ListenPort",
                o.listen_port,
                1,
                65535,
                "a 16-bit port",
            );
            check(
                "Backend.ListenPortV6",
                o.listen_port_v6,
                1,
                65535,
                "a 16-bit port",
            );
        }
        _ => {}
    }
}
