//! net-conf.json: decoding (flannel's `ParseConfig`) and the network check
//! (`CheckNetworkConfig`).

use super::backend::{
    BACKEND_FIELDS, Backend, BackendDoc, backend_type, decode_backend, set_bool, set_uint,
};
use super::error::{NetConfError, Stage, Warning, WarningKind};
use super::json::{Doc, DocSeed, Object, Scalar, suggest};
use super::lease::{Ipv4Pool, Ipv6Pool};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The fields of flannel's `subnet.Config` (pkg/subnet/config.go). `Networks` and
/// `IPv6Networks` were removed in flannel v0.25.0 and are unknown keys since.
const TOP_FIELDS: &[&str] = &[
    "EnableIPv4",
    "EnableIPv6",
    "Network",
    "IPv6Network",
    "SubnetMin",
    "SubnetMax",
    "IPv6SubnetMin",
    "IPv6SubnetMax",
    "SubnetLen",
    "IPv6SubnetLen",
    "Backend",
    "EnableNFTables",
];
const T_ENABLE_IPV4: usize = 0;
const T_ENABLE_IPV6: usize = 1;
const T_NETWORK: usize = 2;
const T_IPV6_NETWORK: usize = 3;
const T_SUBNET_MIN: usize = 4;
const T_SUBNET_MAX: usize = 5;
const T_IPV6_SUBNET_MIN: usize = 6;
const T_IPV6_SUBNET_MAX: usize = 7;
const T_SUBNET_LEN: usize = 8;
const T_IPV6_SUBNET_LEN: usize = 9;
const T_BACKEND: usize = 10;
const T_ENABLE_NFTABLES: usize = 11;
const FIELD_COUNT: usize = 12;

/// A top-level value: the Backend object is decoded against the backend option
/// table; everything else is a scalar. The raw JSON text is kept too: flannel's address
/// types read it (see [`raw_text`]).
#[derive(Debug, Clone, PartialEq)]
struct TopValue {
    raw: String,
    value: TopKind,
}

#[derive(Debug, Clone, PartialEq)]
enum TopKind {
    Scalar(Scalar),
    Object(Object<Scalar>),
}

impl<'de> de::Deserialize<'de> for TopValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<serde_json::value::RawValue> = de::Deserialize::deserialize(d)?;
        let mut inner = serde_json::Deserializer::from_str(raw.get());
        let value = de::Deserializer::deserialize_any(&mut inner, TopValueVisitor)
            .map_err(de::Error::custom)?;
        Ok(TopValue {
            raw: raw.get().to_owned(),
            value,
        })
    }
}

struct TopValueVisitor;

impl<'de> Visitor<'de> for TopValueVisitor {
    type Value = TopKind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::Bool(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::U64(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::I64(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::F64(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::Str(v)))
    }
    fn visit_unit<E>(self) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::Null))
    }
    fn visit_none<E>(self) -> Result<TopKind, E> {
        Ok(TopKind::Scalar(Scalar::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar>()? {
            items.push(item);
        }
        Ok(TopKind::Scalar(Scalar::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TopKind, A::Error> {
        let seed = DocSeed::<Scalar> {
            fields: BACKEND_FIELDS,
            marker: std::marker::PhantomData,
        };
        match seed.visit_map(map)? {
            Doc::Object(o) => Ok(TopKind::Object(o)),
            _ => Ok(TopKind::Scalar(Scalar::Object)),
        }
    }
}

impl TopValue {
    fn scalar(&self) -> Scalar {
        match &self.value {
            TopKind::Scalar(s) => s.clone(),
            TopKind::Object(_) => Scalar::Object,
        }
    }
}

/// A checked net-conf.json: what flannel runs with after `ParseConfig` and
/// `CheckNetworkConfig` (the path flannel takes with its own subnet manager, which
/// fills in the defaults).
///
/// ```
/// use netpol::flannel::NetConf;
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}"#).unwrap();
/// let v4 = parsed.config.ipv4.as_ref().unwrap();
/// assert_eq!(v4.network.to_string(), "10.244.0.0/16");
/// assert_eq!(v4.subnet_len, 24);
/// assert_eq!(v4.subnet_min.to_string(), "10.244.1.0");
/// assert_eq!(v4.subnet_max.to_string(), "10.244.255.0");
/// assert!(parsed.config.ipv6.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConf {
    /// `EnableIPv4` (default true).
    pub enable_ipv4: bool,
    /// `EnableIPv6` (default false).
    pub enable_ipv6: bool,
    /// `EnableNFTables` (default false).
    pub enable_nftables: bool,
    /// The IPv4 pool, present exactly when IPv4 is enabled.
    pub ipv4: Option<Ipv4Pool>,
    /// The IPv6 pool, present exactly when IPv6 is enabled.
    pub ipv6: Option<Ipv6Pool>,
    /// The backend and its options.
    pub backend: Backend,
}

/// A decoded configuration with the warnings found on the way.
///
/// ```
/// use netpol::flannel::NetConf;
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}"#).unwrap();
/// assert!(parsed.warnings.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Parsed {
    /// The configuration.
    pub config: NetConf,
    /// Things flannel accepts silently but that are likely mistakes.
    pub warnings: Vec<Warning>,
}

/// The fields as Go's encoding/json leaves them in flannel's `Config`.
#[derive(Debug, Default)]
struct Written {
    enable_ipv4: bool,
    enable_ipv6: bool,
    enable_nftables: bool,
    network: Option<Ipv4Net>,
    ipv6_network: Option<Ipv6Net>,
    subnet_min: Option<Ipv4Addr>,
    subnet_max: Option<Ipv4Addr>,
    ipv6_subnet_min: Option<Ipv6Addr>,
    ipv6_subnet_max: Option<Ipv6Addr>,
    subnet_len: u64,
    ipv6_subnet_len: u64,
    /// Which keys were present (by field index), for the unused-value warnings.
    present: [bool; FIELD_COUNT],
}

impl NetConf {
    /// Decodes and checks a net-conf.json as flanneld does with its own subnet
    /// manager: `ParseConfig` (stage `parse`), `CheckNetworkConfig` (`check`), the
    /// address-family check (`ipfamily`) and the backend's own option decoding
    /// (`backend`).
    ///
    /// ```
    /// use netpol::flannel::{NetConf, Stage};
    /// let err = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "geneve"}}"#).unwrap_err();
    /// assert_eq!(err.stage(), Stage::Backend);
    /// let err = NetConf::parse(r#"{"EnableIPv4": false}"#).unwrap_err();
    /// assert_eq!(err.stage(), Stage::IpFamily);
    /// ```
    pub fn parse(text: &str) -> Result<Parsed, NetConfError> {
        let mut warnings = Vec::new();
        // Go's decoder reads a lone UTF-16 surrogate escape as U+FFFD.
        let text = crate::model::go_json::go_text(text);
        let mut de = serde_json::Deserializer::from_str(&text);
        let seed = DocSeed::<TopValue> {
            fields: TOP_FIELDS,
            marker: std::marker::PhantomData,
        };
        let doc = seed
            .deserialize(&mut de)
            .and_then(|d| de.end().map(|()| d))
            .map_err(|e| NetConfError::syntax(&e))?;
        let empty = Object::default();
        let obj = match &doc {
            Doc::Object(o) => o,
            // Go's encoding/json leaves the struct untouched for a top-level `null`.
            Doc::Null => &empty,
            Doc::Other(kind) => {
                return Err(NetConfError::new(
                    Stage::Parse,
                    format!("cannot unmarshal {kind} into the flannel config (an object)"),
                ));
            }
        };
        let (written, backend_doc) = decode_top(obj, &mut warnings)?;
        let type_name = backend_type(&backend_doc)?;
        let ipv4 = if written.enable_ipv4 {
            Some(check_ipv4(&written)?)
        } else {
            None
        };
        let ipv6 = if written.enable_ipv6 {
            Some(check_ipv6(&written)?)
        } else {
            None
        };
        if !written.enable_ipv4 && !written.enable_ipv6 {
            return Err(NetConfError::new(
                Stage::IpFamily,
                "neither IPv4 nor IPv6 is enabled (EnableIPv4 and EnableIPv6 are both false)",
            ));
        }
        if matches!(backend_doc, BackendDoc::Absent) {
            warnings.push(Warning {
                path: String::new(),
                kind: WarningKind::Suspicious,
                message: "no `Backend`: flannel uses the udp backend, although its documentation \
                          gives vxlan as the default"
                    .to_owned(),
            });
        }
        unused_warnings(&written, &mut warnings);
        range_warnings(ipv4.as_ref(), ipv6.as_ref(), &mut warnings);
        let backend = decode_backend(&type_name, &backend_doc, &mut warnings)?;
        Ok(Parsed {
            config: NetConf {
                enable_ipv4: written.enable_ipv4,
                enable_ipv6: written.enable_ipv6,
                enable_nftables: written.enable_nftables,
                ipv4,
                ipv6,
                backend,
            },
            warnings,
        })
    }
}

fn parse_error(m: String) -> NetConfError {
    NetConfError::new(Stage::Parse, m)
}

/// Go's `net.ParseCIDR`: an address, `/`, decimal digits (leading zeros allowed).
fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = len.trim_start_matches('0');
    if digits.len() > 3 {
        return None;
    }
    let n = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    Some((ip, n))
}

/// What flannel's address types parse: their `UnmarshalJSON` gets the raw JSON bytes and
/// trims every leading and trailing `"` (`bytes.Trim(j, "\"")`, pkg/ip/ipnet.go and
/// ip6net.go), without decoding escapes. So `"10.0.0.0\/8"` reaches the parser with its
/// backslash and fails, a number or `null` reaches it as `10` or `null`, and an escaped
/// quote leaves a backslash behind.
fn raw_text(raw: &str) -> &str {
    raw.trim_matches('"')
}

/// The error for an address flannel cannot parse, naming escapes as the cause.
fn address_error(path: &str, what: &str, raw: &str) -> NetConfError {
    let text = raw_text(raw);
    if raw.starts_with('"') && text.contains('\\') {
        parse_error(format!(
            "{path}: invalid {what}: {text}: flannel parses the raw JSON text and does not decode \
             escapes, so the backslash stays in the address; write the address without escapes"
        ))
    } else {
        parse_error(format!("{path}: invalid {what}: {text}"))
    }
}

fn cidr_v4(raw: &str, path: &str) -> Result<Ipv4Net, NetConfError> {
    let s = raw_text(raw);
    match parse_cidr(s) {
        Some((IpAddr::V4(ip), n)) if n <= 32 => u8::try_from(n)
            .ok()
            .and_then(|n| Ipv4Net::new(ip, n).ok())
            .map(|n| n.trunc())
            .ok_or_else(|| address_error(path, "CIDR address", raw)),
        Some((IpAddr::V6(_), n)) if n <= 128 => Err(parse_error(format!(
            "{path}: {s:?} is an IPv6 CIDR; flannel needs an IPv4 network here"
        ))),
        _ => Err(address_error(path, "CIDR address", raw)),
    }
}

fn cidr_v6(raw: &str, path: &str) -> Result<Ipv6Net, NetConfError> {
    let s = raw_text(raw);
    match parse_cidr(s) {
        Some((IpAddr::V6(ip), n)) if n <= 128 => u8::try_from(n)
            .ok()
            .and_then(|n| Ipv6Net::new(ip, n).ok())
            .map(|n| n.trunc())
            .ok_or_else(|| address_error(path, "CIDR address", raw)),
        Some((IpAddr::V4(_), n)) if n <= 32 => Err(parse_error(format!(
            "{path}: {s:?} is an IPv4 CIDR; flannel needs an IPv6 network here"
        ))),
        _ => Err(address_error(path, "CIDR address", raw)),
    }
}

/// `SubnetMin`/`SubnetMax`: `ip.IP4` values, so even `null` goes to `UnmarshalJSON`.
fn addr_v4(raw: &str, path: &str) -> Result<Ipv4Addr, NetConfError> {
    match raw_text(raw).parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Ok(ip),
        Ok(IpAddr::V6(ip)) => ip
            .to_ipv4_mapped()
            .ok_or_else(|| parse_error(format!("{path}: {ip} is not an IPv4 address"))),
        Err(_) => Err(address_error(path, "IP address format", raw)),
    }
}

/// `IPv6SubnetMin`/`IPv6SubnetMax`: `*ip.IP6` pointers, so `null` leaves them nil (unset)
/// and anything else goes to `UnmarshalJSON`.
fn addr_v6(raw: &str, path: &str) -> Result<Option<Ipv6Addr>, NetConfError> {
    if raw == "null" {
        return Ok(None);
    }
    match raw_text(raw).parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => Ok(Some(ip)),
        Ok(IpAddr::V4(ip)) => Ok(Some(ip.to_ipv6_mapped())),
        Err(_) => Err(address_error(path, "IP address format", raw)),
    }
}

fn decode_top<'a>(
    obj: &'a Object<TopValue>,
    warnings: &mut Vec<Warning>,
) -> Result<(Written, BackendDoc<'a>), NetConfError> {
    let mut w = Written {
        enable_ipv4: true,
        ..Written::default()
    };
    let mut backend = BackendDoc::Absent;
    let mut first_error: Option<NetConfError> = None;
    let mut seen = [false; FIELD_COUNT];
    for e in &obj.entries {
        let (Some(field), Some(value)) = (e.field, &e.value) else {
            let suggestion = suggest(&e.key, TOP_FIELDS.iter().copied());
            let message = match suggestion {
                Some(s) => format!("unknown key, ignored by flannel; did you mean `{s}`?"),
                None => "unknown key, ignored by flannel".to_owned(),
            };
            warnings.push(Warning {
                path: e.key.clone(),
                kind: WarningKind::UnknownKey {
                    suggestion: suggestion.map(str::to_owned),
                },
                message,
            });
            continue;
        };
        let canonical = TOP_FIELDS.get(field).copied().unwrap_or_default();
        if e.folded {
            warnings.push(Warning {
                path: e.key.clone(),
                kind: WarningKind::CaseInsensitiveMatch {
                    canonical: canonical.to_owned(),
                },
                message: format!("matches `{canonical}` only case-insensitively"),
            });
        }
        if let Some(slot) = seen.get_mut(field) {
            if *slot {
                warnings.push(Warning {
                    path: e.key.clone(),
                    kind: WarningKind::DuplicateKey,
                    message: format!("`{canonical}` is given more than once; the last value wins"),
                });
            }
            *slot = true;
        }
        let path = e.key.as_str();
        let scalar = value.scalar();
        let result: Result<(), NetConfError> = match field {
            T_ENABLE_IPV4 => set_bool(&mut w.enable_ipv4, &scalar, path).map_err(parse_error),
            T_ENABLE_IPV6 => set_bool(&mut w.enable_ipv6, &scalar, path).map_err(parse_error),
            T_ENABLE_NFTABLES => {
                set_bool(&mut w.enable_nftables, &scalar, path).map_err(parse_error)
            }
            T_NETWORK => cidr_v4(&value.raw, path).map(|n| w.network = Some(n)),
            T_IPV6_NETWORK => cidr_v6(&value.raw, path).map(|n| w.ipv6_network = Some(n)),
            T_SUBNET_MIN => addr_v4(&value.raw, path).map(|a| w.subnet_min = Some(a)),
            T_SUBNET_MAX => addr_v4(&value.raw, path).map(|a| w.subnet_max = Some(a)),
            T_IPV6_SUBNET_MIN => addr_v6(&value.raw, path).map(|a| w.ipv6_subnet_min = a),
            T_IPV6_SUBNET_MAX => addr_v6(&value.raw, path).map(|a| w.ipv6_subnet_max = a),
            T_SUBNET_LEN => set_uint(&mut w.subnet_len, &scalar, path).map_err(parse_error),
            T_IPV6_SUBNET_LEN => {
                set_uint(&mut w.ipv6_subnet_len, &scalar, path).map_err(parse_error)
            }
            T_BACKEND => {
                backend = match &value.value {
                    TopKind::Object(o) => BackendDoc::Object(o),
                    TopKind::Scalar(Scalar::Null) => BackendDoc::Null,
                    TopKind::Scalar(s) => BackendDoc::Other(s.kind()),
                };
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(err) = result {
            first_error.get_or_insert(err);
        }
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    w.present = seen;
    Ok((w, backend))
}

/// flannel's `CheckNetworkConfig` for IPv4, with its defaults and messages.
fn check_ipv4(w: &Written) -> Result<Ipv4Pool, NetConfError> {
    let err = |m: String| NetConfError::new(Stage::Check, m);
    let network = match w.network {
        Some(n) if n.prefix_len() != 0 => n,
        _ => {
            return Err(err(
                "please define a correct Network parameter in the flannel config".to_owned(),
            ));
        }
    };
    let prefix = u64::from(network.prefix_len());
    let subnet_len = if w.subnet_len > 0 {
        if w.subnet_len > 30 {
            return Err(err("SubnetLen must be less than /31".to_owned()));
        }
        if w.subnet_len < prefix + 2 {
            return Err(err(
                "network must be able to accommodate at least four subnets".to_owned(),
            ));
        }
        w.subnet_len
    } else if prefix > 28 {
        return Err(err(
            "network is too small. Minimum useful network prefix is /28".to_owned(),
        ));
    } else if prefix <= 22 {
        24
    } else {
        prefix + 2
    };
    let len = u8::try_from(subnet_len).unwrap_or(30);
    let size: u32 = 1u32 << (32 - u32::from(len));
    let base = u32::from(network.network());
    let zero = Ipv4Addr::UNSPECIFIED;
    let subnet_min = match w.subnet_min {
        Some(a) if a != zero => {
            if !network.contains(&a) {
                return Err(err(
                    "SubnetMin is not in the range of the Network".to_owned()
                ));
            }
            a
        }
        _ => Ipv4Addr::from(base.wrapping_add(size)),
    };
    let subnet_max = match w.subnet_max {
        Some(a) if a != zero => {
            if !network.contains(&a) {
                return Err(err(
                    "SubnetMax is not in the range of the Network".to_owned()
                ));
            }
            a
        }
        _ => {
            // Network.Next() - size, in flannel's wrapping uint32 arithmetic
            // (the prefix is at least 1 here).
            let next = base.wrapping_add(1u32 << (32 - u32::from(network.prefix_len())));
            Ipv4Addr::from(next.wrapping_sub(size))
        }
    };
    let mask = u32::MAX << (32 - u32::from(len));
    if u32::from(subnet_min) & !mask != 0 {
        return Err(err(format!(
            "SubnetMin is not on a SubnetLen boundary: {subnet_min}"
        )));
    }
    if u32::from(subnet_max) & !mask != 0 {
        return Err(err(format!(
            "SubnetMax is not on a SubnetLen boundary: {subnet_max}"
        )));
    }
    Ok(Ipv4Pool {
        network,
        subnet_len: len,
        subnet_min,
        subnet_max,
    })
}

/// flannel's `CheckNetworkConfig` for IPv6.
fn check_ipv6(w: &Written) -> Result<Ipv6Pool, NetConfError> {
    let err = |m: String| NetConfError::new(Stage::Check, m);
    let network = match w.ipv6_network {
        // Go's IP6Net.Empty(): `::/0`, the only masked network with address 0 and prefix 0.
        Some(n) if n.prefix_len() != 0 => n,
        _ => {
            return Err(err(
                "please define a correct IPv6Network parameter in the flannel config".to_owned(),
            ));
        }
    };
    let prefix = u64::from(network.prefix_len());
    let subnet_len = if w.ipv6_subnet_len > 0 {
        if w.ipv6_subnet_len > 126 {
            return Err(err("SubnetLen must be less than /127".to_owned()));
        }
        if w.ipv6_subnet_len < prefix + 2 {
            return Err(err(
                "network must be able to accommodate at least four subnets".to_owned(),
            ));
        }
        w.ipv6_subnet_len
    } else if prefix > 124 {
        return Err(err(
            "IPv6Network is too small. Minimum useful network prefix is /124".to_owned(),
        ));
    } else if prefix <= 62 {
        64
    } else {
        prefix + 2
    };
    let len = u8::try_from(subnet_len).unwrap_or(126);
    let size: u128 = 1u128 << (128 - u32::from(len));
    let base = u128::from(network.network());
    let subnet_min = match w.ipv6_subnet_min {
        Some(a) if a != Ipv6Addr::UNSPECIFIED => {
            if !network.contains(&a) {
                return Err(err(
                    "IPv6SubnetMin is not in the range of the IPv6Network".to_owned()
                ));
            }
            a
        }
        _ => Ipv6Addr::from(base.wrapping_add(size)),
    };
    let subnet_max = match w.ipv6_subnet_max {
        Some(a) if a != Ipv6Addr::UNSPECIFIED => {
            if !network.contains(&a) {
                return Err(err(
                    "IPv6SubnetMax is not in the range of the IPv6Network".to_owned()
                ));
            }
            a
        }
        _ => {
            // network + 2^(128-prefix) - size, without leaving u128 (prefix >= 1 here).
            let span = 1u128
                .checked_shl(128 - u32::from(network.prefix_len()))
                .unwrap_or(0)
                .wrapping_sub(size);
            Ipv6Addr::from(base.wrapping_add(span))
        }
    };
    let mask = u128::MAX << (128 - u32::from(len));
    if u128::from(subnet_min) & !mask != 0 {
        return Err(err(format!(
            "IPv6SubnetMin is not on a SubnetLen boundary: {subnet_min}"
        )));
    }
    if u128::from(subnet_max) & !mask != 0 {
        return Err(err(format!(
            "IPv6SubnetMax is not on a SubnetLen boundary: {subnet_max}"
        )));
    }
    Ok(Ipv6Pool {
        network,
        subnet_len: len,
        subnet_min,
        subnet_max,
    })
}

fn unused_warnings(w: &Written, warnings: &mut Vec<Warning>) {
    let p = |i: usize| w.present.get(i).copied().unwrap_or(false);
    let mut push = |field: usize, message: String| {
        warnings.push(Warning {
            path: TOP_FIELDS
                .get(field)
                .copied()
                .unwrap_or_default()
                .to_owned(),
            kind: WarningKind::Unused,
            message,
        });
    };
    if !w.enable_ipv4 {
        for f in [T_NETWORK, T_SUBNET_LEN, T_SUBNET_MIN, T_SUBNET_MAX] {
            if p(f) {
                push(f, "not used: EnableIPv4 is false".to_owned());
            }
        }
    }
    if !w.enable_ipv6 {
        for f in [
            T_IPV6_NETWORK,
            T_IPV6_SUBNET_LEN,
            T_IPV6_SUBNET_MIN,
            T_IPV6_SUBNET_MAX,
        ] {
            if p(f) {
                push(
                    f,
                    "not used: EnableIPv6 is false (set \"EnableIPv6\": true to use it)".to_owned(),
                );
            }
        }
    }
}

fn range_warnings(v4: Option<&Ipv4Pool>, v6: Option<&Ipv6Pool>, warnings: &mut Vec<Warning>) {
    if let Some(p) = v4 {
        if p.subnet_min > p.subnet_max {
            warnings.push(Warning {
                path: "SubnetMin".to_owned(),
                kind: WarningKind::Suspicious,
                message: format!(
                    "SubnetMin {} is above SubnetMax {}: flannel can lease no subnet",
                    p.subnet_min, p.subnet_max
                ),
            });
        }
    }
    if let Some(p) = v6 {
        if p.subnet_min > p.subnet_max {
            warnings.push(Warning {
                path: "IPv6SubnetMin".to_owned(),
                kind: WarningKind::Suspicious,
                message: format!(
                    "IPv6SubnetMin {} is above IPv6SubnetMax {}: flannel can lease no subnet",
                    p.subnet_min, p.subnet_max
                ),
            });
        }
    }
}
