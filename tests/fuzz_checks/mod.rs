//! The checks of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs` and by
//! `tests/fuzz_replay.rs`, which replays the seed corpora and every regression input on
//! stable with `cargo test`.
//!
//! Each check takes the raw fuzzer input and panics when a property fails. Structured
//! targets read their input through [`Bytes`], a small deterministic decoder with no
//! dependency, so that a crash file found by libFuzzer replays identically here.

#![allow(dead_code)]

mod calico;
mod cnp;
pub use calico::calico_json;
pub use cnp::cnp_json;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netpol::cidr::{IpSet, PrefixMap};
use netpol::cluster::{Cluster, ContainerPort, Endpoint, Flow, PodSpec};
use netpol::engine::Engine;
use netpol::flannel::{NetConf, Stage};
use netpol::model::{
    IntOrString, IpBlock, LabelSelector, LabelSelectorRequirement, Labels, NetworkPolicy,
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    decode_policies,
};
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterRule, ClusterTier, DomainPattern,
    Policy, PolicySet, Protocol, Subject,
};
use netpol::profile::Profile;
use netpol::reference::Reference;
use netpol::selector::{Selector, format, parse};
use netpol::validate::{validate_label_selector, validate_network_policy};

/// A check: panics when a property fails on the input.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name; each has `fuzz/seeds/<name>/` and
/// `tests/fuzz_regressions/<name>/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("policy_json", policy_json),
    ("differential", differential),
    ("selector_text", selector_text),
    ("prefix_map", prefix_map),
    ("netconf", netconf),
    ("calico_selector", calico_selector),
    ("cnp_json", cnp_json),
    ("calico_json", calico_json),
    ("live", live),
];

// ---------------------------------------------------------------------------------------
// Input decoding
// ---------------------------------------------------------------------------------------

/// Reads choices from fuzzer bytes; past the end every read is zero, so any input decodes.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// Whether every byte was used.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next sixteen bytes, big-endian.
    pub fn u128(&mut self) -> u128 {
        let mut b = [0u8; 16];
        for x in &mut b {
            *x = self.u8();
        }
        u128::from_be_bytes(b)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// A coin flip.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// One of `items` (non-empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// policy_json: bytes -> JSON -> NetworkPolicy -> validate -> engine -> decide/explain
// ---------------------------------------------------------------------------------------

/// Decoding, validation, normalisation, engine build and evaluation never panic;
/// validation errors are well formed; accepted policies survive a JSON round trip; the
/// engine agrees with the reference on a small cluster built around the policies.
pub fn policy_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = decode_policies(text);
    decode_routes_agree(text, &decoded);
    let written = match decoded {
        Ok(w) => w,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "empty decode error");
            assert!(!e.message.is_empty(), "decode error without a message");
            if e.line > 0 {
                assert!(
                    e.line <= text.lines().count().max(1) + 1,
                    "line {} past the text",
                    e.line
                );
                // serde_json gives column 0 at the end of the text; a located value has one.
                assert!(
                    e.path.is_empty() || e.column >= 1,
                    "column 0 at {}, line {}",
                    e.path,
                    e.line
                );
            }
            return;
        }
    };
    if let Some(first) = written.first() {
        null_is_the_zero_value(first);
    }
    let mut accepted = Vec::new();
    for w in &written {
        // The model round-trips: what it prints decodes to the same value.
        let printed = serde_json::to_string(w).expect("a decoded policy serializes");
        let back = NetworkPolicy::from_json(&printed)
            .unwrap_or_else(|e| panic!("printed policy does not decode: {e}\n{printed}"));
        assert_eq!(
            serde_json::to_value(&back).expect("serializes"),
            serde_json::to_value(w).expect("serializes"),
            "round trip changed the policy: {printed}"
        );
        let verdict = validate_network_policy(w);
        match Policy::new(w) {
            Ok(p) => {
                assert!(verdict.is_ok(), "normalised a refused policy");
                accepted.push(p);
            }
            Err(errs) => {
                assert!(!errs.is_empty(), "refused without errors");
                assert!(!errs.to_string().is_empty(), "empty error list display");
                // Policy::new refuses exactly what validation refuses.
                let from_validate = verdict.expect_err("Policy::new refused a valid policy");
                assert_eq!(errs, from_validate, "Policy::new and validation disagree");
                for e in errs.errors() {
                    assert!(
                        e.field.starts_with("metadata") || e.field.starts_with("spec"),
                        "field path {:?} outside metadata/spec: {e}",
                        e.field
                    );
                    assert!(!e.to_string().is_empty(), "empty field error display");
                    assert!(
                        !e.field.contains("..") && !e.field.ends_with('.'),
                        "malformed field path {:?}",
                        e.field
                    );
                }
            }
        }
    }
    evaluate_on_small_cluster(&accepted);
}

/// One object decodes the same through `decode_policies`, `NetworkPolicy::from_json` and
/// serde_json driving the model's `Deserialize`: the Go rules do not depend on the route.
fn decode_routes_agree(
    text: &str,
    decoded: &Result<Vec<NetworkPolicy>, netpol::model::DecodeError>,
) {
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value,
        Err(e) => {
            // Not JSON to serde_json (syntax, a huge number, nesting, a lone surrogate):
            // every route reports serde_json's first error where it reports it, lists
            // too. A lone surrogate escape is U+FFFD to the decoder, not an error.
            if !text.to_ascii_lowercase().contains("\\ud") {
                let mut message = e.to_string();
                if let Some(at) = message.rfind(" at line ") {
                    message.truncate(at);
                }
                let want = (String::new(), message, e.line(), e.column());
                let fields = |d: &netpol::model::DecodeError| {
                    (d.path.clone(), d.message.clone(), d.line, d.column)
                };
                assert_eq!(
                    decoded.as_ref().err().map(fields),
                    Some(want.clone()),
                    "decode_policies"
                );
                let one = NetworkPolicy::from_json(text);
                assert_eq!(one.as_ref().err().map(fields), Some(want), "from_json");
            }
            return;
        }
    };
    let is_list = value.get("items").is_some()
        || value
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|k| k.ends_with("List"));
    let one = NetworkPolicy::from_json(text);
    let via_serde = serde_json::from_str::<NetworkPolicy>(text);
    // serde_json hands the model every key in order, repeats included, but numbers
    // already read: `-0` is a float to it.
    if !has_negative_zero(text) {
        assert_eq!(
            one.as_ref().ok(),
            via_serde.as_ref().ok(),
            "from_json and serde_json disagree"
        );
    }
    // A `Value` keeps one of repeated keys and sorts them: it means the same as the text
    // only without repeats (also up to case, for `apiVersion`/`kind`) and without `-0`,
    // and it reports the same first error only when the keys were written sorted.
    let (faithful, sorted) = value_faithful(text);
    if faithful {
        let via_value = NetworkPolicy::from_value(&value);
        assert_eq!(
            one.as_ref().ok(),
            via_value.as_ref().ok(),
            "from_json and from_value disagree"
        );
        if let (Err(a), Err(b), true) = (&one, &via_value, sorted) {
            assert_eq!(&a.path, &b.path);
            // Numbers are named as written in the text, as serde_json prints them in a value.
            if !a.message.contains("number") {
                assert_eq!(&a.message, &b.message);
            }
        }
    }
    if !is_list {
        match (decoded, &one) {
            (Ok(many), Ok(p)) => assert_eq!(many.as_slice(), std::slice::from_ref(p)),
            (Err(a), Err(b)) => assert_eq!(a, b, "decode_policies and from_json disagree"),
            (a, b) => panic!("decode_policies {a:?} but from_json {b:?}"),
        }
    }
}

/// Whether the text has a number literal `-0` (outside strings), which Go reads as the
/// integer 0 and serde_json as the float -0.0.
fn has_negative_zero(text: &str) -> bool {
    let b = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        match (in_string, b[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'-') => {
                let zero = b.get(i + 1) == Some(&b'0');
                let more = b
                    .get(i + 2)
                    .is_some_and(|c| matches!(c, b'.' | b'e' | b'E' | b'0'..=b'9'));
                if zero && !more {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether a `serde_json::Value` of `text` means what the text means to the apiserver's
/// decoder (no object writes a key twice, also not up to case, as `Interpret` reads
/// `apiVersion` and `kind` case-insensitively in the order written; no number is `-0`),
/// and whether, moreover, every object's keys are written in the order a `Value` sorts
/// them (so that the first of two errors is the same in both).
fn value_faithful(text: &str) -> (bool, bool) {
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Probe {
        faithful: bool,
        sorted: bool,
    }
    impl<'de> Deserialize<'de> for Probe {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            const LEAF: Probe = Probe {
                faithful: true,
                sorted: true,
            };
            impl<'de> Visitor<'de> for V {
                type Value = Probe;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_str<E>(self, _: &str) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_unit<E>(self) -> Result<Probe, E> {
                    Ok(LEAF)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
                    let mut out = LEAF;
                    while let Some(p) = seq.next_element::<Probe>()? {
                        out.faithful &= p.faithful;
                        out.sorted &= p.sorted;
                    }
                    Ok(out)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
                    let mut out = LEAF;
                    let mut keys = BTreeSet::new();
                    let mut last: Option<String> = None;
                    while let Some((k, p)) = map.next_entry::<String, Probe>()? {
                        let folded: String = k
                            .chars()
                            .map(|c| match c {
                                '\u{212a}' => 'k',
                                '\u{17f}' => 's',
                                c => c.to_ascii_lowercase(),
                            })
                            .collect();
                        out.faithful &= p.faithful && keys.insert(folded);
                        out.sorted &= p.sorted && last.as_ref().is_none_or(|l| *l < k);
                        last = Some(k);
                    }
                    Ok(out)
                }
            }
            d.deserialize_any(V)
        }
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(p) if !has_negative_zero(text) => (p.faithful, p.faithful && p.sorted),
        _ => (false, false),
    }
}

/// `null` anywhere in an accepted policy decodes as the zero value there: like the key's
/// absence in an object, like the zero literal of the element's JSON type in an array or a
/// map (checked on the first positions only, to keep runs fast). Unknown fields and
/// `fieldsV1` hold any JSON, kept as written, so positions inside them are skipped.
fn null_is_the_zero_value(policy: &NetworkPolicy) {
    use serde_json::{Value, json};
    fn positions(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        if out.len() >= 48 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    path.push(json!(k));
                    out.push(path.clone());
                    positions(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(json!(i));
                    out.push(path.clone());
                    positions(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
        path.iter().fold(v, |cur, seg| match seg {
            Value::String(k) => &mut cur[k.as_str()],
            _ => &mut cur[seg.as_u64().unwrap_or(0) as usize],
        })
    }
    let doc = serde_json::to_value(policy).expect("serializes");
    let mut all = Vec::new();
    positions(&doc, &mut Vec::new(), &mut all);
    for path in all {
        // Where the position is in the model: a struct field, an element or a map value.
        let Some(slot) = model_slot(&path) else {
            continue;
        };
        let mut with_null = doc.clone();
        let original = std::mem::replace(at(&mut with_null, &path), Value::Null);
        let mut expected = doc.clone();
        match (slot, path.split_last()) {
            (Slot::Field, Some((Value::String(k), parent))) => {
                if let Value::Object(map) = at(&mut expected, parent) {
                    map.remove(k);
                }
            }
            _ => {
                *at(&mut expected, &path) = match original {
                    Value::Object(_) => json!({}),
                    Value::Array(_) => json!([]),
                    Value::String(_) => json!(""),
                    Value::Number(_) => json!(0),
                    Value::Bool(_) => json!(false),
                    Value::Null => Value::Null,
                };
            }
        }
        let a = NetworkPolicy::from_value(&with_null);
        let b = NetworkPolicy::from_value(&expected);
        assert_eq!(a.ok(), b.ok(), "null at {path:?} is not the zero value");
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Field,
    Element,
}

/// Walks `path` through the NetworkPolicy model (its Go types): the slot of the last
/// step, or `None` when the path leaves the model (an unknown field, `fieldsV1`).
fn model_slot(path: &[serde_json::Value]) -> Option<Slot> {
    use serde_json::Value;
    let field = |ctx: &str, key: &str| -> Option<&'static str> {
        Some(match (ctx, key) {
            ("root", "apiVersion" | "kind") => "leaf",
            ("root", "metadata") => "meta",
            ("root", "spec") => "spec",
            (
                "meta",
                "name"
                | "generateName"
                | "namespace"
                | "selfLink"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds",
            ) => "leaf",
            ("meta", "labels" | "annotations") => "map",
            ("meta", "finalizers") => "list:leaf",
            ("meta", "ownerReferences") => "list:owner",
            ("meta", "managedFields") => "list:managed",
            (
                "owner",
                "apiVersion" | "kind" | "name" | "uid" | "controller" | "blockOwnerDeletion",
            ) => "leaf",
            (
                "managed",
                "manager" | "operation" | "apiVersion" | "time" | "fieldsType" | "subresource",
            ) => "leaf",
            ("managed", "fieldsV1") => "raw",
            ("spec", "podSelector") => "selector",
            ("spec", "ingress") => "list:ingress",
            ("spec", "egress") => "list:egress",
            ("spec", "policyTypes") => "list:leaf",
            ("ingress" | "egress", "ports") => "list:port",
            ("ingress", "from") | ("egress", "to") => "list:peer",
            ("peer", "podSelector" | "namespaceSelector") => "selector",
            ("peer", "ipBlock") => "ipblock",
            ("selector", "matchLabels") => "map",
            ("selector", "matchExpressions") => "list:req",
            ("req", "key" | "operator") => "leaf",
            ("req", "values") | ("ipblock", "except") => "list:leaf",
            ("ipblock", "cidr") => "leaf",
            ("port", "protocol" | "port" | "endPort") => "leaf",
            ("map", _) => "leaf",
            _ => return None,
        })
    };
    let mut ctx = "root";
    let mut slot = Slot::Field;
    for seg in path {
        match seg {
            Value::String(k) => {
                slot = if ctx == "map" {
                    Slot::Element
                } else {
                    Slot::Field
                };
                ctx = field(ctx, k)?;
            }
            _ => {
                ctx = ctx.strip_prefix("list:")?;
                slot = Slot::Element;
            }
        }
    }
    Some(slot)
}

/// Builds a cluster with pods in every namespace the policies name, labelled from the
/// labels the policies mention, and compares engine and reference on every pair.
fn evaluate_on_small_cluster(policies: &[Policy]) {
    let mut namespaces: BTreeSet<&str> = BTreeSet::new();
    namespaces.insert("default");
    for p in policies.iter().take(8) {
        namespaces.insert(p.namespace());
    }
    let label_sets: [&[(&str, &str)]; 3] = [
        &[("app", "web"), ("role", "frontend")],
        &[("app", "db"), ("role", "db")],
        &[],
    ];
    let mut b = Cluster::builder().node("n0", [IpAddr::V4(Ipv4Addr::new(192, 168, 0, 11))]);
    let mut n = 0u32;
    for ns in &namespaces {
        for labels in label_sets {
            let ip = Ipv4Addr::from(0x0af4_0000 + n);
            let mut spec = PodSpec::new(*ns, format!("p{n}"))
                .ip(IpAddr::V4(ip))
                .port(ContainerPort::named("http", 80, Protocol::Tcp))
                .port(ContainerPort::named("dns", 53, Protocol::Udp));
            if n % 2 == 0 {
                spec = spec.node("n0");
            }
            for (k, v) in labels {
                spec = spec.label(*k, *v);
            }
            b = b.pod(spec);
            n += 1;
        }
    }
    let cluster = b.build().expect("the fixed cluster builds");
    let engine = Engine::build(&cluster, policies);
    let reference = Reference::new(&cluster, policies, Profile::default());
    let mut endpoints: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    endpoints.truncate(9);
    endpoints.push(Endpoint::Node(cluster.node_id("n0").expect("node")));
    endpoints.push(Endpoint::External(IpAddr::V4(Ipv4Addr::new(
        203, 0, 113, 7,
    ))));
    endpoints.push(Endpoint::External(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    for &src in &endpoints {
        for &dst in &endpoints {
            for (port, proto) in [(80, Protocol::Tcp), (53, Protocol::Udp)] {
                let flow = Flow::new(src, dst, port, proto);
                let verdict = engine.decide(flow);
                let why = engine.explain(flow);
                assert_eq!(verdict, why.verdict, "decide and explain differ on {flow}");
                assert!(!why.to_string().is_empty());
                assert_eq!(
                    why,
                    reference.explain(flow),
                    "engine != reference on {flow}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// differential: structured cluster + policies + flows, engine == reference
// ---------------------------------------------------------------------------------------

const NAMESPACES: &[&str] = &["a", "b", "c"];
const KEYS: &[&str] = &["app", "tier", "env", "kubernetes.io/metadata.name"];
const VALUES: &[&str] = &["x", "y", "z", "a", "b"];
const PORT_NAMES: &[&str] = &["http", "dns", "web"];
const PORTS: &[u16] = &[53, 80, 81, 8080, 1, 65535];
const OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];
const V4_POOL: &[u32] = &[
    0x0a00_0001,
    0x0a00_0002,
    0x0a00_0003,
    0x0a00_0004,
    0x0a00_0105,
    0xc0a8_000b,
    0xc0a8_000c,
    0xcb00_7107,
    0,
    u32::MAX,
];
const V6_POOL: &[u128] = &[
    0xfd00 << 112 | 1,
    0xfd00 << 112 | 2,
    0xfd00 << 112 | 0x1_0005,
    0xfd00_ffff << 96 | 1,
    0x2001_0db8 << 96 | 1,
    0,
];

fn ip_from(u: &mut Bytes<'_>) -> IpAddr {
    match u.below(8) {
        0..=4 => IpAddr::V4(Ipv4Addr::from(u.pick(V4_POOL))),
        5 => IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | u32::from(u.u8()))),
        6 => IpAddr::V6(Ipv6Addr::from(u.pick(V6_POOL))),
        _ => IpAddr::V6(Ipv6Addr::from(0xfd00 << 112 | u128::from(u.u8()))),
    }
}

/// A network around a pool address, host bits possibly set.
fn net_from(u: &mut Bytes<'_>) -> IpNet {
    match ip_from(u) {
        IpAddr::V4(a) => {
            let len = u.pick(&[0u8, 1, 4, 8, 16, 24, 29, 30, 31, 32]);
            IpNet::V4(Ipv4Net::new(a, len).expect("len <= 32"))
        }
        IpAddr::V6(a) => {
            let len = u.pick(&[0u8, 1, 16, 64, 112, 127, 128]);
            IpNet::V6(Ipv6Net::new(a, len).expect("len <= 128"))
        }
    }
}

/// A network inside `cidr`: longer, with random bits below the prefix.
fn subnet_of(u: &mut Bytes<'_>, cidr: IpNet) -> IpNet {
    let extra = 1 + u.below(8) as u8;
    match cidr {
        IpNet::V4(n) => {
            let len = (n.prefix_len() + extra).min(32);
            let bits = u32::from(n.network()) | (u.u32() & !u32::from(n.netmask()));
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits), len).expect("len <= 32"))
        }
        IpNet::V6(n) => {
            let len = (n.prefix_len() + extra).min(128);
            let bits = u128::from(n.network()) | (u.u128() & !u128::from(n.netmask()));
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).expect("len <= 128"))
        }
    }
}

fn labels_from(u: &mut Bytes<'_>) -> Labels {
    (0..u.below(3))
        .map(|_| (u.pick(KEYS).to_owned(), u.pick(VALUES).to_owned()))
        .collect()
}

fn selector_from(u: &mut Bytes<'_>) -> LabelSelector {
    let match_labels = u.bool().then(|| labels_from(u));
    let match_expressions = u.bool().then(|| {
        (0..u.below(3))
            .map(|_| {
                let key = u.pick(KEYS);
                let op = u.pick(OPERATORS);
                let values: Vec<&str> = if op.starts_with('I') || op.starts_with('N') {
                    (0..1 + u.below(2)).map(|_| u.pick(VALUES)).collect()
                } else {
                    Vec::new()
                };
                LabelSelectorRequirement::new(key, op, values)
            })
            .collect()
    });
    LabelSelector {
        match_labels,
        match_expressions,
    }
}

fn peer_from(u: &mut Bytes<'_>) -> NetworkPolicyPeer {
    match u.below(4) {
        0 => NetworkPolicyPeer {
            pod_selector: Some(selector_from(u)),
            ..Default::default()
        },
        1 => NetworkPolicyPeer {
            namespace_selector: Some(selector_from(u)),
            ..Default::default()
        },
        2 => NetworkPolicyPeer {
            pod_selector: Some(selector_from(u)),
            namespace_selector: Some(selector_from(u)),
            ..Default::default()
        },
        _ => {
            let cidr = net_from(u);
            let except: Vec<String> = (0..u.below(4))
                .map(|_| subnet_of(u, cidr.trunc()).to_string())
                .collect();
            NetworkPolicyPeer {
                ip_block: Some(IpBlock::new(cidr.to_string(), except)),
                ..Default::default()
            }
        }
    }
}

fn port_from(u: &mut Bytes<'_>) -> NetworkPolicyPort {
    let protocol = [None, Some("TCP"), Some("UDP"), Some("SCTP")][u.below(4)].map(str::to_owned);
    let number = i32::from(u.pick(PORTS));
    match u.below(4) {
        0 => NetworkPolicyPort {
            protocol,
            port: None,
            end_port: None,
        },
        1 => NetworkPolicyPort {
            protocol,
            port: Some(IntOrString::Int(number)),
            end_port: None,
        },
        2 => NetworkPolicyPort {
            protocol,
            port: Some(IntOrString::Int(number)),
            end_port: Some((number + i32::from(u.u8())).min(65535)),
        },
        _ => NetworkPolicyPort {
            protocol,
            port: Some(IntOrString::String(u.pick(PORT_NAMES).to_owned())),
            end_port: None,
        },
    }
}

fn list_from<T>(u: &mut Bytes<'_>, max: usize, f: fn(&mut Bytes<'_>) -> T) -> Option<Vec<T>> {
    match u.below(4) {
        0 => None,
        _ => Some((0..u.below(max + 1)).map(|_| f(u)).collect()),
    }
}

fn policy_from(u: &mut Bytes<'_>, index: usize) -> NetworkPolicy {
    let mut p = NetworkPolicy::new(u.pick(NAMESPACES), format!("p{index}"));
    p.spec.pod_selector = u.bool().then(|| selector_from(u));
    p.spec.policy_types = match u.below(6) {
        0 => None,
        1 => Some(vec![]),
        2 => Some(vec!["Ingress".into()]),
        3 => Some(vec!["Egress".into()]),
        4 => Some(vec!["Ingress".into(), "Egress".into()]),
        _ => Some(vec!["Egress".into(), "Egress".into()]),
    };
    p.spec.ingress = list_from(u, 3, |u| NetworkPolicyIngressRule {
        from: list_from(u, 3, peer_from),
        ports: list_from(u, 3, port_from),
    });
    p.spec.egress = list_from(u, 3, |u| NetworkPolicyEgressRule {
        to: list_from(u, 3, peer_from),
        ports: list_from(u, 3, port_from),
    });
    p
}

fn cluster_from(u: &mut Bytes<'_>) -> Cluster {
    let mut b = Cluster::builder();
    for ns in NAMESPACES {
        b = b.namespace(*ns, labels_from(u));
    }
    let node_v6 = u.bool();
    for i in 0..2u32 {
        let mut ips = vec![IpAddr::V4(Ipv4Addr::from(0xc0a8_000b + i))];
        if node_v6 {
            ips.push(IpAddr::V6(Ipv6Addr::from(
                0xfd00_ffff << 96 | u128::from(i + 1),
            )));
        }
        b = b.node(format!("n{i}"), ips);
    }
    for i in 0..1 + u.below(6) {
        let mut spec = PodSpec::new(u.pick(NAMESPACES), format!("pod{i}"));
        spec.labels = labels_from(u).into();
        spec.ips = (0..u.below(3)).map(|_| ip_from(u)).collect();
        spec.node = match u.below(3) {
            0 => None,
            n => Some(format!("n{}", n - 1)),
        };
        spec.ports = (0..u.below(3))
            .map(|_| {
                let proto = u.pick(&Protocol::ALL);
                ContainerPort::named(u.pick(PORT_NAMES), u.pick(PORTS), proto)
            })
            .collect();
        b = b.pod(spec);
    }
    b.build()
        .expect("distinct pod names and known nodes always build")
}

fn profile_from(u: &mut Bytes<'_>) -> Profile {
    let bits = u.u8();
    if bits & 0x80 != 0 {
        // One of the named plugin profiles.
        let name = Profile::NAMES[usize::from(bits & 0x7f) % Profile::NAMES.len()];
        return Profile::named(name).expect("a listed profile name");
    }
    Profile::conformance()
        .with_name("fuzz")
        .with_network_policy(bits & 1 != 0 || bits & 2 != 0)
        .with_cluster_network_policy(bits & 64 != 0)
        .with_ipblock_matches_pods(bits & 2 != 0)
        .with_ipblock_matches_nodes(bits & 4 != 0)
        .with_own_node_exempt(bits & 8 != 0)
        .with_pod_to_own_node_exempt(bits & 32 != 0)
        .with_self_exempt(bits & 16 != 0)
}

const CNP_PRIORITIES: &[u32] = &[0, 1, 1, 5, 1000];
const CNP_ACTIONS: &[Action] = &[Action::Allow, Action::Deny, Action::Pass];
const DOMAIN_PATTERNS: &[&str] = &["example.com", "*.example.com", "db.example.com."];
const FLOW_DOMAINS: &[&str] = &[
    "example.com",
    "db.example.com",
    "a.b.example.com",
    "other.org",
];

/// A compiled label selector from fuzzer bytes (`{}` where the written one is refused).
fn compiled_selector_from(u: &mut Bytes<'_>) -> Selector {
    Selector::new(&selector_from(u)).unwrap_or_else(|_| Selector::everything())
}

/// A ClusterNetworkPolicy as the experimental channel accepts it: tied priorities, every
/// action, subjects and peers overlapping, every peer kind in egress, numbered ports,
/// ranges, and named ports only beside pod peers.
fn cluster_policy_from(u: &mut Bytes<'_>, index: usize) -> ClusterPolicy {
    let tier = if u.bool() {
        ClusterTier::Admin
    } else {
        ClusterTier::Baseline
    };
    let subject = if u.bool() {
        Subject::Namespaces(compiled_selector_from(u))
    } else {
        Subject::Pods {
            namespaces: compiled_selector_from(u),
            pods: compiled_selector_from(u),
        }
    };
    let mut b = ClusterPolicy::builder(format!("c{index}"), tier, u.pick(CNP_PRIORITIES), subject);
    for egress in [false, true] {
        for _ in 0..u.below(3) {
            let mut pods_only = true;
            let peers: Vec<ClusterPeer> = (0..1 + u.below(2))
                .map(|_| match u.below(if egress { 5 } else { 2 }) {
                    0 => ClusterPeer::Namespaces(compiled_selector_from(u)),
                    1 => ClusterPeer::Pods {
                        namespaces: compiled_selector_from(u),
                        pods: compiled_selector_from(u),
                    },
                    2 => {
                        pods_only = false;
                        ClusterPeer::Networks((0..1 + u.below(2)).map(|_| net_from(u)).collect())
                    }
                    3 => {
                        pods_only = false;
                        ClusterPeer::Nodes(compiled_selector_from(u))
                    }
                    _ => {
                        pods_only = false;
                        ClusterPeer::DomainNames(
                            (0..1 + u.below(2))
                                .filter_map(|_| {
                                    u.pick(DOMAIN_PATTERNS).parse::<DomainPattern>().ok()
                                })
                                .collect(),
                        )
                    }
                })
                .collect();
            let mut rule = ClusterRule::new(u.pick(CNP_ACTIONS), peers);
            if u.bool() {
                let ports: Vec<ClusterPort> = (0..1 + u.below(2))
                    .filter_map(|_| {
                        if pods_only && u.below(3) == 0 {
                            return Some(ClusterPort::Named(u.pick(PORT_NAMES).to_owned()));
                        }
                        let start = u.pick(PORTS);
                        let end = if u.bool() {
                            start
                        } else {
                            start.saturating_add(u.pick(&[1u16, 100]))
                        };
                        ClusterPort::range(u.pick(&Protocol::ALL), start, end)
                    })
                    .collect();
                if !ports.is_empty() {
                    rule = rule.with_ports(ports);
                }
            }
            b = if egress {
                b.egress(rule)
            } else {
                b.ingress(rule)
            };
        }
    }
    b.build()
}

/// The compiled engine equals the reference evaluator (decide, explain, and
/// `Engine::matrix`) on every flow between every endpoint of a generated cluster, under a
/// generated profile, with NetworkPolicies and then ClusterNetworkPolicies (read from the
/// input's tail, so inputs written before they were added decode as before), and on the
/// flows to outside addresses with a resolved name.
pub fn differential(data: &[u8]) {
    let mut u = Bytes::new(data);
    let profile = profile_from(&mut u);
    let cluster = cluster_from(&mut u);
    let mut policies = Vec::new();
    for i in 0..u.below(6) {
        let written = policy_from(&mut u, i);
        // Generated policies may be refused (an except equal to its cidr, say); only
        // accepted ones take part, as with the apiserver.
        if let Ok(p) = Policy::new(&written) {
            policies.push(p);
        }
    }
    let ports: Vec<(u16, Protocol)> = (0..1 + u.below(3))
        .map(|_| {
            let port = if u.bool() { u.pick(PORTS) } else { u.u16() };
            (port, u.pick(&Protocol::ALL))
        })
        .collect();
    let mut endpoints: Vec<Endpoint> = cluster.pod_ids().map(Endpoint::Pod).collect();
    endpoints.extend((0..2).filter_map(|i| cluster.node_id(&format!("n{i}")).map(Endpoint::Node)));
    for _ in 0..1 + u.below(3) {
        endpoints.push(Endpoint::External(ip_from(&mut u)));
    }
    let mut set = PolicySet::from(policies);
    for i in 0..u.below(5) {
        set.push(cluster_policy_from(&mut u, i));
    }
    let domain = u.bool().then(|| u.pick(FLOW_DOMAINS).to_owned());
    let engine = Engine::builder()
        .profile(profile.clone())
        .build(&cluster, &set);
    let reference = Reference::new(&cluster, &set, profile);
    for &(port, proto) in &ports {
        let matrix = engine.matrix(&endpoints, &endpoints, port, proto);
        for (i, &src) in endpoints.iter().enumerate() {
            for (j, &dst) in endpoints.iter().enumerate() {
                let flow = Flow::new(src, dst, port, proto);
                let want = reference.explain(flow);
                assert_eq!(reference.decide(flow), want.verdict, "reference: {flow}");
                assert_eq!(engine.decide(flow), want.verdict, "decide: {}", want.flow);
                assert_eq!(engine.explain(flow), want, "explain: {}", want.flow);
                assert_eq!(
                    matrix.get(i, j),
                    Some(want.verdict),
                    "matrix: {}",
                    want.flow
                );
                if let (Some(name), Endpoint::External(_)) = (&domain, dst) {
                    let named = flow.with_domain(name);
                    let want = reference.explain(named);
                    assert_eq!(reference.decide(named), want.verdict, "reference: {named}");
                    assert_eq!(engine.decide(named), want.verdict, "decide: {}", want.flow);
                    assert_eq!(engine.explain(named), want, "explain: {}", want.flow);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// selector_text: parse -> format -> parse
// ---------------------------------------------------------------------------------------

/// Parsing never panics; errors point into the input; whatever parses validates, formats
/// to text that parses back to the same normal form, and the compiled selector's
/// `Display` parses back to a selector that matches the same label sets.
pub fn selector_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sel = match parse(text) {
        Ok(sel) => sel,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "empty parse error");
            assert!(e.position <= text.len(), "position past the end: {e:?}");
            let rest = text
                .get(e.position..)
                .unwrap_or_else(|| panic!("position {} is not a char boundary: {e:?}", e.position));
            assert!(
                rest.starts_with(&e.found),
                "found text not at position: {e:?}"
            );
            return;
        }
    };
    let problems = validate_label_selector(&sel, "");
    assert!(
        problems.is_empty(),
        "parsed selector does not validate: {problems:?}"
    );
    let printed = format(&sel);
    assert_ne!(printed, "<error>", "valid selector printed as <error>");
    let compiled = Selector::new(&sel).expect("a parsed selector compiles");
    if printed == "<none>" {
        assert_eq!(
            sel,
            LabelSelector::default(),
            "<none> for a non-empty selector"
        );
    } else {
        let again = parse(&printed)
            .unwrap_or_else(|e| panic!("format output {printed:?} does not parse: {e}"));
        assert_eq!(format(&again), printed, "format is not a fixed point");
        let recompiled = Selector::new(&again).expect("compiles");
        same_matches(&compiled, &recompiled, &sel, &printed);
    }
    let shown = compiled.to_string();
    let reparsed =
        parse(&shown).unwrap_or_else(|e| panic!("Selector display {shown:?} does not parse: {e}"));
    let recompiled = Selector::new(&reparsed).expect("compiles");
    same_matches(&compiled, &recompiled, &sel, &shown);
}

/// Compares two selectors on label sets built from the keys and values `sel` mentions.
fn same_matches(a: &Selector, b: &Selector, sel: &LabelSelector, text: &str) {
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    let mut values: BTreeSet<&str> = BTreeSet::new();
    values.insert("__other__");
    for (k, v) in sel.match_labels.iter().flatten() {
        keys.insert(k);
        values.insert(v);
    }
    for e in sel.match_expressions.iter().flatten() {
        keys.insert(e.key());
        values.extend(e.values.iter().flatten().map(String::as_str));
    }
    let keys: Vec<&str> = keys.into_iter().take(4).collect();
    let values: Vec<&str> = values.into_iter().take(4).collect();
    // Every assignment of (absent | one of the values) to each key.
    let choices = values.len() + 1;
    let total = choices.pow(keys.len() as u32);
    for mut n in 0..total {
        let mut labels = Labels::new();
        for k in &keys {
            let c = n % choices;
            n /= choices;
            if c > 0 {
                labels.insert((*k).to_owned(), values[c - 1].to_owned());
            }
        }
        assert_eq!(
            a.matches(&labels),
            b.matches(&labels),
            "{text:?} matches differently from the original on {labels:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// prefix_map: longest-prefix match against a naive model
// ---------------------------------------------------------------------------------------

/// A prefix near a few bases, so that generated prefixes nest and overlap.
fn clustered_net(u: &mut Bytes<'_>, v6: bool) -> IpNet {
    if v6 {
        let base = u.pick(&[0u128, u128::MAX, 0xfd00 << 112, 0x2001_0db8 << 96]);
        let bits = base ^ u.u128().checked_shr(u32::from(u.u8() % 129)).unwrap_or(0);
        let len = u.below(129) as u8;
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).expect("len <= 128"))
    } else {
        let base = u.pick(&[0u32, u32::MAX, 0x0a00_0000, 0xc0a8_0000]);
        let bits = base ^ u.u32().checked_shr(u32::from(u.u8() % 33)).unwrap_or(0);
        let len = u.below(33) as u8;
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits), len).expect("len <= 32"))
    }
}

/// Addresses on and next to the edges of `nets`, and a few from the input.
fn edge_queries(u: &mut Bytes<'_>, nets: &[IpNet]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for n in nets.iter().take(24) {
        for a in [n.network(), n.broadcast()] {
            out.push(a);
            match a {
                IpAddr::V4(x) => {
                    let x = u32::from(x);
                    out.push(IpAddr::V4(Ipv4Addr::from(x.wrapping_sub(1))));
                    out.push(IpAddr::V4(Ipv4Addr::from(x.wrapping_add(1))));
                }
                IpAddr::V6(x) => {
                    let x = u128::from(x);
                    out.push(IpAddr::V6(Ipv6Addr::from(x.wrapping_sub(1))));
                    out.push(IpAddr::V6(Ipv6Addr::from(x.wrapping_add(1))));
                }
            }
        }
    }
    for _ in 0..u.below(8) {
        let v6 = u.bool();
        out.push(clustered_net(u, v6).addr());
    }
    out
}

/// The longest prefix of `model` containing `q`, by a linear scan.
fn naive_longest(model: &BTreeMap<IpNet, u32>, q: IpAddr) -> Option<(IpNet, u32)> {
    model
        .iter()
        .filter(|(n, _)| n.contains(&q))
        .max_by_key(|(n, _)| n.prefix_len())
        .map(|(n, v)| (*n, *v))
}

/// `PrefixMap` (built by `insert`/`remove` and by `collect`) answers `lookup`,
/// `longest_match`, `get`, `len` and `iter` like a map of truncated prefixes searched by
/// a linear scan; `IpSet` membership and set operations agree with the prefixes it was
/// built from, and its prefix list is minimal and rebuilds the set.
pub fn prefix_map(data: &[u8]) {
    let mut u = Bytes::new(data);
    let mut map: PrefixMap<u32> = PrefixMap::new();
    let mut model: BTreeMap<IpNet, u32> = BTreeMap::new();
    let mut inserted: Vec<(IpNet, u32)> = Vec::new();
    let mut nets: Vec<IpNet> = Vec::new();
    for i in 0..u.below(48) as u32 {
        let net = if !nets.is_empty() && u.below(4) == 0 {
            nets[u.below(nets.len())]
        } else {
            let v6 = u.below(4) == 0;
            clustered_net(&mut u, v6)
        };
        nets.push(net);
        if u.below(5) == 0 {
            let got = map.remove(&net);
            assert_eq!(got, model.remove(&net.trunc()), "remove({net})");
        } else {
            let got = map.insert(net, i);
            assert_eq!(got, model.insert(net.trunc(), i), "insert({net}, {i})");
            inserted.push((net, i));
        }
    }
    let collected: PrefixMap<u32> = inserted.iter().copied().collect();
    let mut collected_model: BTreeMap<IpNet, u32> = BTreeMap::new();
    for (n, v) in &inserted {
        collected_model.insert(n.trunc(), *v);
    }
    let queries = edge_queries(&mut u, &nets);
    let maps = [
        (&map, &model, "inserted"),
        (&collected, &collected_model, "collected"),
    ];
    for (m, want_all, what) in maps {
        assert_eq!(m.len(), want_all.len(), "{what}: len");
        let listed: BTreeMap<IpNet, u32> = m.iter().map(|(n, v)| (n, *v)).collect();
        assert_eq!(&listed, want_all, "{what}: iter");
        for n in &nets {
            let want = want_all.get(&n.trunc()).copied();
            assert_eq!(m.get(n).copied(), want, "{what}: get({n})");
            assert_eq!(
                m.contains_prefix(n),
                want.is_some(),
                "{what}: contains_prefix({n})"
            );
        }
        for &q in &queries {
            let want = naive_longest(want_all, q);
            assert_eq!(
                m.lookup(q).copied(),
                want.map(|w| w.1),
                "{what}: lookup({q})"
            );
            let got = m.longest_match(q).map(|(n, v)| (n, *v));
            assert_eq!(got, want, "{what}: longest_match({q})");
        }
    }

    // IpSet against membership in the prefixes it was built from.
    let (left, right) = nets.split_at(nets.len() / 2);
    let a: IpSet = left.iter().copied().collect();
    let b: IpSet = right.iter().copied().collect();
    let (cidr, excepts) = match right.split_first() {
        Some((c, e)) => (*c, e),
        None => (IpNet::V4(Ipv4Net::default()), &[][..]),
    };
    let block = IpSet::from_block(cidr, excepts);
    let union = a.union(&b);
    let inter = a.intersection(&b);
    let diff = a.difference(&b);
    let in_any = |set: &[IpNet], q: IpAddr| set.iter().any(|n| n.contains(&q));
    for &q in &queries {
        let (ina, inb) = (in_any(left, q), in_any(right, q));
        assert_eq!(a.contains(q), ina, "IpSet::contains({q})");
        assert_eq!(union.contains(q), ina || inb, "union contains {q}");
        assert_eq!(inter.contains(q), ina && inb, "intersection contains {q}");
        assert_eq!(diff.contains(q), ina && !inb, "difference contains {q}");
        let in_block = cidr.contains(&q) && !in_any(excepts, q);
        assert_eq!(block.contains(q), in_block, "from_block contains {q}");
    }
    for set in [&a, &union, &inter, &diff, &block] {
        let prefixes: Vec<IpNet> = set.iter().collect();
        // Minimal: ascending, disjoint, and no two siblings that would merge.
        for w in prefixes.windows(2) {
            let (x, y) = (w[0], w[1]);
            assert!(
                !x.contains(&y) && !y.contains(&x),
                "nested prefixes {x} {y}"
            );
            if x.addr().is_ipv6() == y.addr().is_ipv6() {
                assert!(x.broadcast() < y.network(), "unsorted prefixes {x} {y}");
                let siblings = x.prefix_len() == y.prefix_len() && x.supernet() == y.supernet();
                assert!(!siblings, "{x} and {y} should have merged");
            } else {
                assert!(!x.addr().is_ipv6(), "IPv6 listed before IPv4: {x} {y}");
            }
        }
        for p in &prefixes {
            assert!(set.contains_net(p), "contains_net({p}) of its own prefix");
        }
        let rebuilt: IpSet = prefixes.iter().copied().collect();
        assert!(
            &rebuilt == set,
            "prefix list {prefixes:?} does not rebuild the set"
        );
        for n in &nets {
            let whole = IpSet::from(*n).difference(set).is_empty();
            assert_eq!(set.contains_net(n), whole, "contains_net({n})");
        }
    }
}

// ---------------------------------------------------------------------------------------
// netconf: flannel net-conf.json decoding
// ---------------------------------------------------------------------------------------

/// Decoding never panics; every error carries a stage and a message, and JSON syntax
/// errors a line and column inside the input; an accepted configuration holds a pool for
/// exactly the enabled families.
/// `text` with every `\\uXXXX` escape of a surrogate that is not half of a valid pair
/// replaced by `\\ufffd` (what Go's decoder reads), written independently of the crate's
/// own replacement.
fn lone_surrogates_replaced(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let hex = |at: usize| -> Option<u32> {
        let s: String = chars.get(at..at + 4)?.iter().collect();
        u32::from_str_radix(&s, 16).ok()
    };
    let escape_at = |at: usize| chars.get(at) == Some(&'\\') && chars.get(at + 1) == Some(&'u');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\\' && chars.get(i + 1) != Some(&'u') {
            out.push(c);
            if let Some(&next) = chars.get(i + 1) {
                out.push(next);
            }
            i += 2;
            continue;
        }
        if escape_at(i) {
            let lead = hex(i + 2);
            if lead.is_some_and(|u| (0xD800..0xDC00).contains(&u))
                && escape_at(i + 6)
                && hex(i + 8).is_some_and(|u| (0xDC00..0xE000).contains(&u))
            {
                out.extend(chars.get(i..i + 12).unwrap_or_default());
                i += 12;
                continue;
            }
            if lead.is_some_and(|u| (0xD800..0xE000).contains(&u)) {
                out.push_str("\\ufffd");
                i += 6;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

pub fn netconf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // JSON as Go reads it: a lone surrogate escape is U+FFFD, not an error.
    let is_json =
        serde_json::from_str::<serde::de::IgnoredAny>(&lone_surrogates_replaced(text)).is_ok();
    match NetConf::parse(text) {
        Ok(parsed) => {
            assert!(is_json, "accepted text that is not JSON: {text:?}");
            let c = &parsed.config;
            assert!(
                c.enable_ipv4 || c.enable_ipv6,
                "accepted with no family enabled"
            );
            assert_eq!(c.ipv4.is_some(), c.enable_ipv4, "v4 pool vs EnableIPv4");
            assert_eq!(c.ipv6.is_some(), c.enable_ipv6, "v6 pool vs EnableIPv6");
            for w in &parsed.warnings {
                assert!(!w.to_string().is_empty(), "empty warning");
            }
        }
        Err(e) => {
            assert!(!e.message().is_empty(), "error without a message");
            let shown = e.to_string();
            assert!(
                shown.starts_with(e.stage().as_str()),
                "display {shown:?} does not start with the stage"
            );
            if !is_json {
                assert_eq!(
                    e.stage(),
                    Stage::Parse,
                    "syntax error at stage {}",
                    e.stage()
                );
                let (line, column) = (e.line(), e.column());
                let line = line.unwrap_or_else(|| panic!("syntax error without a line: {e}"));
                assert!(column.is_some(), "syntax error without a column: {e}");
                assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "line {line}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// calico_selector: Calico selector text -> parse -> print -> parse, matching checked
// ---------------------------------------------------------------------------------------

/// Calico's `Evaluate` read literally off the parsed terms, recursively: the reference
/// the compiled branch program must agree with. `scope` is `None` for plain matching
/// (`all()` and `global()` hold) or `Some(namespaced)` for a namespace selector. `None`
/// when the terms nest deeper than the check cares to recurse.
fn calico_reference(
    t: netpol::calico::selector::Term<'_>,
    labels: &Labels,
    scope: Option<bool>,
    depth: usize,
) -> Option<bool> {
    use netpol::calico::selector::TermKind as K;
    if depth > 200 {
        return None;
    }
    let get = |k: &str| labels.get(k).map(String::as_str);
    Some(match t.kind() {
        K::All => scope.unwrap_or(true),
        K::Global => scope.is_none_or(|namespaced| !namespaced),
        K::Has { key } => get(key).is_some(),
        K::Equals { key, value } => get(key) == Some(value),
        K::NotEquals { key, value } => get(key) != Some(value),
        K::Contains { key, value } => get(key).is_some_and(|v| v.contains(value)),
        K::StartsWith { key, value } => get(key).is_some_and(|v| v.starts_with(value)),
        K::EndsWith { key, value } => get(key).is_some_and(|v| v.ends_with(value)),
        K::In { key, mut values } => get(key).is_some_and(|v| values.any(|x| x == v)),
        K::NotIn { key, mut values } => get(key).is_none_or(|v| !values.any(|x| x == v)),
        K::Not(inner) => !calico_reference(inner, labels, scope, depth + 1)?,
        K::And(ops) => {
            let mut all = true;
            for op in ops {
                all &= calico_reference(op, labels, scope, depth + 1)?;
            }
            all
        }
        K::Or(ops) => {
            let mut any = false;
            for op in ops {
                any |= calico_reference(op, labels, scope, depth + 1)?;
            }
            any
        }
    })
}

/// Parsing never panics; an error's position is a char boundary inside the input where
/// its `found` text starts; a parsed selector prints (Calico's canonical form) as text
/// that parses back to the same print (after one more round for `!(!x)`, which Calico
/// prints as `!!x`) and to a selector that matches alike; and matching agrees with a
/// literal reading of the parsed terms, on label sets built from the keys and values
/// the selector mentions (plain, as a namespace selector in and outside a namespace),
/// with every `equalities()` pair present in every matching set.
pub fn calico_selector(data: &[u8]) {
    use netpol::calico::selector::{TermKind, parse as calico_parse};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sel = match calico_parse(text) {
        Ok(sel) => sel,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "empty parse error");
            let rest = text.get(e.position()..).unwrap_or_else(|| {
                panic!(
                    "position {} is not a char boundary of {text:?}",
                    e.position()
                )
            });
            assert!(
                rest.starts_with(e.found()),
                "found text not at position: {e:?}"
            );
            assert!(!e.expected().is_empty());
            return;
        }
    };
    let printed = sel.to_string();
    let again = calico_parse(&printed)
        .unwrap_or_else(|e| panic!("canonical form {printed:?} of {text:?} does not parse: {e}"));
    let reprinted = again.to_string();
    if sel.has_double_negation() {
        assert!(
            printed.contains("!!"),
            "double negation printed as {printed:?}"
        );
        assert!(!again.has_double_negation());
        let third = calico_parse(&reprinted).map(|s| s.to_string());
        assert_eq!(
            third,
            Ok(reprinted.clone()),
            "not a fixed point: {printed:?}"
        );
    } else {
        assert_eq!(
            reprinted, printed,
            "print -> parse -> print changed {text:?}"
        );
        assert_eq!(again, sel, "print -> parse changed {text:?}");
    }
    let serialized = serde_json::to_string(&sel).expect("serializes");
    let back: netpol::calico::selector::Selector =
        serde_json::from_str(&serialized).expect("its JSON reads back");
    assert_eq!(back, again);

    // Keys and values the selector mentions, walked without recursion.
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    let mut values: BTreeSet<String> = BTreeSet::new();
    let mut stack = vec![sel.root()];
    while let Some(t) = stack.pop() {
        match t.kind() {
            TermKind::Has { key } => {
                keys.insert(key);
            }
            TermKind::Equals { key, value }
            | TermKind::NotEquals { key, value }
            | TermKind::Contains { key, value }
            | TermKind::StartsWith { key, value }
            | TermKind::EndsWith { key, value } => {
                keys.insert(key);
                values.insert(value.to_owned());
                values.insert(format!("x{value}x"));
            }
            TermKind::In { key, values: vs } | TermKind::NotIn { key, values: vs } => {
                keys.insert(key);
                values.extend(vs.map(str::to_owned));
            }
            TermKind::Not(inner) => stack.push(inner),
            TermKind::And(ops) | TermKind::Or(ops) => stack.extend(ops),
            TermKind::All | TermKind::Global => {}
        }
    }
    let keys: Vec<&str> = keys.into_iter().take(3).collect();
    let values: Vec<String> = values.into_iter().take(3).collect();
    let choices = values.len() + 1;
    let total = choices.pow(keys.len() as u32);
    let equalities: Vec<(&str, &str)> = sel.equalities().collect();
    for mut n in 0..total {
        let mut labels = Labels::new();
        for k in &keys {
            let c = n % choices;
            n /= choices;
            if c > 0 {
                labels.insert((*k).to_owned(), values[c - 1].clone());
            }
        }
        let got = sel.matches(&labels);
        assert_eq!(
            again.matches(&labels),
            got,
            "{printed:?} matches differently from {text:?} on {labels:?}"
        );
        if let Some(want) = calico_reference(sel.root(), &labels, None, 0) {
            assert_eq!(got, want, "{text:?} on {labels:?}");
        }
        if let Some(want) = calico_reference(sel.root(), &labels, Some(true), 0) {
            assert_eq!(
                sel.matches_namespace(&labels),
                want,
                "namespace {text:?} on {labels:?}"
            );
        }
        if got {
            for (k, v) in &equalities {
                assert_eq!(
                    labels.get(*k).map(String::as_str),
                    Some(*v),
                    "{text:?} matched {labels:?} without its equality {k} == {v}"
                );
            }
        }
    }
    if let Some(want) = calico_reference(sel.root(), &Labels::new(), Some(false), 0) {
        assert_eq!(
            sel.matches_non_namespaced(),
            want,
            "outside namespaces: {text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// live: incremental updates against a fresh build and the reference
// ---------------------------------------------------------------------------------------

/// A NetworkPolicy for the `live` check: one of [`policy_from`], sometimes with a pod
/// selector or a peer on a label key no other policy reads, or a port by a name no pod of
/// [`cluster_from`] declares.
fn live_policy_from(u: &mut Bytes<'_>, index: usize) -> NetworkPolicy {
    let mut p = policy_from(u, index);
    let on_new_key = |u: &mut Bytes<'_>| LabelSelector {
        match_labels: Some([(u.pick(LIVE_KEYS).to_owned(), u.pick(VALUES).to_owned())].into()),
        match_expressions: None,
    };
    match u.below(4) {
        0 => p.spec.pod_selector = Some(on_new_key(u)),
        1 => {
            let peer = NetworkPolicyPeer {
                pod_selector: Some(on_new_key(u)),
                ..Default::default()
            };
            p.spec
                .ingress
                .get_or_insert_with(Vec::new)
                .push(NetworkPolicyIngressRule {
                    from: Some(vec![peer]),
                    ports: None,
                });
        }
        2 => {
            let port = NetworkPolicyPort {
                protocol: None,
                port: Some(IntOrString::String(LIVE_PORT_NAME.to_owned())),
                end_port: None,
            };
            p.spec
                .egress
                .get_or_insert_with(Vec::new)
                .push(NetworkPolicyEgressRule {
                    to: None,
                    ports: Some(vec![port]),
                });
        }
        _ => {}
    }
    p
}

/// Calico selectors for the `live` check, over the labels of [`cluster_from`]'s pods and
/// those Calico adds.
const CALICO_SELECTORS: &[&str] = &[
    "all()",
    "app == 'x'",
    "has(tier)",
    "!has(app)",
    "env in {'y', 'z'}",
    "projectcalico.org/namespace == 'a'",
    "pcns.app == 'x'",
    "has(projectcalico.org/serviceaccount)",
    "role == 'ext'",
];
const CALICO_ACTIONS: &[&str] = &["Allow", "Deny", "Pass", "Log"];

/// One side of a Calico rule: nets, notNets, selector, notSelector, namespace selector,
/// ports (numbers and names), each now and then.
fn calico_entity_from(u: &mut Bytes<'_>, ports: bool) -> serde_json::Value {
    let mut side = serde_json::Map::new();
    let nets = |u: &mut Bytes<'_>| -> serde_json::Value {
        (0..1 + u.below(2))
            .map(|_| net_from(u).trunc().to_string())
            .collect()
    };
    if u.below(4) == 0 {
        side.insert("nets".into(), nets(u));
    }
    if u.below(5) == 0 {
        side.insert("notNets".into(), nets(u));
    }
    if u.below(3) == 0 {
        side.insert("selector".into(), u.pick(CALICO_SELECTORS).into());
    }
    if u.below(6) == 0 {
        side.insert("notSelector".into(), u.pick(CALICO_SELECTORS).into());
    }
    if u.below(6) == 0 {
        side.insert("namespaceSelector".into(), u.pick(CALICO_SELECTORS).into());
    }
    if ports && u.below(3) == 0 {
        let list: Vec<serde_json::Value> = (0..1 + u.below(2))
            .map(|_| match u.below(3) {
                0 => u.pick(PORT_NAMES).into(),
                _ => u.pick(PORTS).into(),
            })
            .collect();
        side.insert("ports".into(), list.into());
    }
    serde_json::Value::Object(side)
}

/// A Calico policy for the `live` check: a GlobalNetworkPolicy or a namespaced one named
/// by `index`, in a tier of two, with rules of every action testing either side (the
/// local pod too); `None` when Calico's validation refuses it.
fn calico_policy_from(u: &mut Bytes<'_>, index: usize) -> Option<netpol::calico::CalicoPolicy> {
    use netpol::calico::{CalicoPolicy, GlobalNetworkPolicy, NetworkPolicy as CalicoNp};
    let tier = u.pick(&["default", "security"]);
    let name = if tier == "default" {
        format!("cp{index}")
    } else {
        format!("{tier}.cp{index}")
    };
    let rules = |u: &mut Bytes<'_>| -> Vec<serde_json::Value> {
        (0..u.below(3))
            .map(|_| {
                let tcp = u.below(2) == 0;
                let mut rule = serde_json::json!({
                    "action": u.pick(CALICO_ACTIONS),
                    "source": calico_entity_from(u, false),
                    "destination": calico_entity_from(u, tcp),
                });
                if tcp {
                    rule["protocol"] = "TCP".into();
                }
                rule
            })
            .collect()
    };
    let mut spec = serde_json::json!({
        "tier": tier,
        "selector": u.pick(CALICO_SELECTORS),
        "ingress": rules(u),
        "egress": rules(u),
    });
    spec["types"] = match u.below(3) {
        0 => serde_json::json!(["Ingress"]),
        1 => serde_json::json!(["Egress"]),
        _ => serde_json::json!(["Ingress", "Egress"]),
    };
    if u.below(3) > 0 {
        spec["order"] = u.pick(&[1.0, 10.0, 1000.0]).into();
    }
    let doc = if u.bool() {
        serde_json::json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                           "metadata": {"name": name}, "spec": spec})
    } else {
        serde_json::json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                           "metadata": {"name": name, "namespace": u.pick(NAMESPACES)},
                           "spec": spec})
    };
    if doc["metadata"]["namespace"].is_string() {
        CalicoPolicy::new(&CalicoNp::from_value(&doc).ok()?).ok()
    } else {
        CalicoPolicy::new(&GlobalNetworkPolicy::from_value(&doc).ok()?).ok()
    }
}

/// Label keys only the `live` check's changes use.
const LIVE_KEYS: &[&str] = &["role", "zone"];
/// A container port name only the `live` check's changes use.
const LIVE_PORT_NAME: &str = "metrics";

/// A cluster and policies, then a sequence of changes (pods added, changed and removed,
/// host-network pods, namespaces relabelled or removed, nodes added, changed or removed
/// among ClusterNetworkPolicies with `nodes` peers, NetworkPolicies added, changed and
/// removed, the most frequent: some reading label keys no other policy reads, with
/// ipBlocks over new networks, or naming ports no pod declared; ClusterNetworkPolicies
/// added, replaced and removed; Calico policies added, replaced and removed, which
/// Felix's profiles take without a rebuild where the core can express them) applied to a
/// `LiveEngine`, one at a time or a few in a batch; after each, its decisions and
/// explanations equal those of an engine built afresh from the changed cluster and
/// policies, and the reference's, on every flow between its endpoints.
pub fn live(data: &[u8]) {
    use netpol::engine::live::{Change, LiveEngine, PolicyItem, PolicyKey};
    use netpol::policy::PolicySet;
    let mut u = Bytes::new(data);
    let profile = profile_from(&mut u);
    let cluster = cluster_from(&mut u);
    let mut set = PolicySet::new();
    for i in 0..u.below(4) {
        if let Ok(p) = Policy::new(&policy_from(&mut u, i)) {
            set.push(p);
        }
    }
    // ClusterNetworkPolicies, whose `nodes` peers node changes meet.
    for i in 0..u.below(3) {
        set.push(cluster_policy_from(&mut u, i));
    }
    let mut live = LiveEngine::new(&cluster, set, profile.clone());
    let mut batch: Vec<Change> = Vec::new();
    for _ in 0..1 + u.below(8) {
        let change = match u.below(18) {
            0..=2 => {
                let mut spec = PodSpec::new(u.pick(NAMESPACES), format!("pod{}", u.below(8)));
                let mut labels = labels_from(&mut u);
                if u.below(4) == 0 {
                    labels.insert(u.pick(LIVE_KEYS).to_owned(), u.pick(VALUES).to_owned());
                }
                spec.labels = labels.into();
                spec.ips = (0..u.below(3)).map(|_| ip_from(&mut u)).collect();
                spec.node = match u.below(4) {
                    0 => None,
                    n => Some(format!("n{}", n - 1)),
                };
                spec.ports = (0..u.below(3))
                    .map(|_| {
                        let proto = u.pick(&Protocol::ALL);
                        let name = match u.below(5) {
                            0 => LIVE_PORT_NAME,
                            _ => u.pick(PORT_NAMES),
                        };
                        ContainerPort::named(name, u.pick(PORTS), proto)
                    })
                    .collect();
                spec.host_network = u.below(6) == 0;
                Change::Pod(spec)
            }
            3 => Change::PodRemoved {
                namespace: u.pick(NAMESPACES).to_owned(),
                name: format!("pod{}", u.below(8)),
            },
            4 => Change::Namespace {
                name: u.pick(NAMESPACES).to_owned(),
                labels: labels_from(&mut u),
            },
            5 => Change::NamespaceRemoved(u.pick(NAMESPACES).to_owned()),
            6 => {
                let i = u.below(3);
                if u.bool() {
                    Change::NodeRemoved(format!("n{i}"))
                } else {
                    let mut n = netpol::cluster::NodeSpec::new(format!("n{i}"));
                    n.ips = (0..u.below(2)).map(|_| ip_from(&mut u)).collect();
                    n.labels = labels_from(&mut u);
                    Change::Node(n)
                }
            }
            7..=9 => match Policy::new(&{
                let index = u.below(5);
                live_policy_from(&mut u, index)
            }) {
                Ok(p) => Change::Policy(PolicyItem::Network(p)),
                Err(_) => continue,
            },
            10..=11 => Change::PolicyRemoved(PolicyKey::Network {
                namespace: u.pick(NAMESPACES).to_owned(),
                name: format!("p{}", u.below(5)),
            }),
            12..=13 => {
                let index = u.below(4);
                Change::Policy(PolicyItem::Cluster(cluster_policy_from(&mut u, index)))
            }
            14 => Change::PolicyRemoved(PolicyKey::Cluster {
                name: format!("c{}", u.below(4)),
            }),
            15 => {
                let index = u.below(4);
                match calico_policy_from(&mut u, index) {
                    Some(p) => Change::Policy(PolicyItem::Calico(p)),
                    None => continue,
                }
            }
            _ => {
                // A Calico policy removed, by the key of one in the set.
                let list = live.policies().calico_policies();
                if list.is_empty() {
                    continue;
                }
                let p = list[u.below(list.len()) % list.len()].clone();
                Change::PolicyRemoved(PolicyItem::Calico(p).key())
            }
        };
        // Sometimes gathered into a batch, applied with the next change that is not.
        batch.push(change);
        if u.below(3) == 1 {
            continue;
        }
        match live.apply_all(std::mem::take(&mut batch)) {
            Ok(next) => {
                assert!(next.stats().rebuilds <= live.stats().rebuilds + 1);
                live = next;
            }
            // A pod on a node that is not there: refused, nothing applied.
            Err(_) => continue,
        }
        let fresh_cluster = live
            .cluster()
            .to_builder()
            .build()
            .expect("a changed cluster rebuilds");
        let fresh = Engine::builder()
            .profile(profile.clone())
            .build(&fresh_cluster, live.policies());
        let reference = Reference::new(&fresh_cluster, live.policies(), profile.clone());
        let mut endpoints: Vec<Endpoint> = fresh_cluster.pod_ids().map(Endpoint::Pod).collect();
        endpoints.extend(fresh_cluster.node_ids().map(Endpoint::Node));
        endpoints.push(Endpoint::External(ip_from(&mut u)));
        let same = |e: Endpoint| match e {
            Endpoint::Pod(id) => {
                let pod = fresh_cluster.pod(id).expect("pod of the fresh cluster");
                let ns = fresh_cluster.pod_namespace_name(id);
                Endpoint::Pod(
                    live.cluster()
                        .pod_id(ns, &pod.name)
                        .expect("pod in the live cluster"),
                )
            }
            Endpoint::Node(id) => {
                let name = &fresh_cluster
                    .node(id)
                    .expect("node of the fresh cluster")
                    .name;
                Endpoint::Node(
                    live.cluster()
                        .node_id(name)
                        .expect("node in the live cluster"),
                )
            }
            other => other,
        };
        assert_eq!(live.engine().policy_count(), fresh.policy_count());
        let port = u.pick(PORTS);
        let proto = u.pick(&Protocol::ALL);
        for &src in &endpoints {
            for &dst in &endpoints {
                let flow = Flow::new(src, dst, port, proto);
                let mapped = Flow::new(same(src), same(dst), port, proto);
                let want = reference.explain(flow);
                assert_eq!(fresh.decide(flow), want.verdict, "fresh: {}", want.flow);
                assert_eq!(
                    live.engine().decide(mapped),
                    want.verdict,
                    "live: {}",
                    want.flow
                );
                assert_eq!(
                    live.engine().explain(mapped),
                    want,
                    "live explain: {}",
                    want.flow
                );
            }
        }
    }
}
