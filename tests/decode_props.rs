//! Property tests of the Go decoding rules on generated policies and Services:
//!
//! - every struct-typed (or map-typed) position given an array, a string, a number or a
//!   bool is refused, with that position's path (Go: `UnmarshalTypeError` from `array` /
//!   `literalStore`);
//! - every position given `null` decodes like its zero value: a struct field like its
//!   absence (Go: `null` sets a pointer, slice or map to nil and leaves any other field
//!   untouched), an array element or map value like the zero value of its type (Go
//!   decodes into a fresh zero element); and where the Rust model keeps "absent" apart
//!   from a Go value field's zero value (`podSelector`, `metadata.name`, `cidr`, …), the
//!   two are refused alike or compile to engines that decide every flow the same way.
//!
//! - a repeated key (Go decodes it again into the same field) is decoded alike by every
//!   route: the crate's text decoding (its streaming pass, and the tree it falls back
//!   to), serde_json driving the models, and the document decoder; and a repeat of a
//!   key with its own value changes nothing.
//!
//! `PROPTEST_CASES` raises the case count for a long run.

mod support;

use netpol::engine::Engine;
use netpol::model::NetworkPolicy;
use netpol::policy::Policy;
use netpol::service::{Service, ServiceError};
use netpol::validate::validate_network_policy;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(48),
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// What a position is, for its zero value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// The document itself.
    Root,
    /// A field of a struct.
    Field,
    /// An entry of a map (`matchLabels`, `labels`, `annotations`, `selector`).
    MapValue,
    /// An element of an array.
    Element,
}

const MAPS: &[&str] = &["matchLabels", "labels", "annotations", "selector"];

/// Every position of `v`, with its path and slot.
fn positions(v: &Value) -> Vec<(Vec<Seg>, Slot)> {
    fn walk(v: &Value, path: &mut Vec<Seg>, slot: Slot, out: &mut Vec<(Vec<Seg>, Slot)>) {
        out.push((path.clone(), slot));
        match v {
            Value::Object(map) => {
                let is_map = matches!(path.last(), Some(Seg::Key(k)) if MAPS.contains(&k.as_str()));
                for (k, child) in map {
                    path.push(Seg::Key(k.clone()));
                    let slot = if is_map { Slot::MapValue } else { Slot::Field };
                    walk(child, path, slot, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(child, path, Slot::Element, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), Slot::Root, &mut out);
    out
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |cur, seg| match seg {
        Seg::Key(k) => &mut cur[k.as_str()],
        Seg::Index(i) => &mut cur[*i],
    })
}

fn get<'a>(v: &'a Value, path: &[Seg]) -> &'a Value {
    path.iter().fold(v, |cur, seg| match seg {
        Seg::Key(k) => &cur[k.as_str()],
        Seg::Index(i) => &cur[*i],
    })
}

fn replaced(v: &Value, path: &[Seg], with: Value) -> Value {
    let mut out = v.clone();
    *get_mut(&mut out, path) = with;
    out
}

fn removed(v: &Value, path: &[Seg]) -> Value {
    let mut out = v.clone();
    if let Some((Seg::Key(k), parent)) = path.split_last() {
        if let Value::Object(map) = get_mut(&mut out, parent) {
            map.remove(k);
        }
    }
    out
}

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
    }
    out
}

/// The zero value of a position, written in JSON, by the JSON type it holds.
fn zero_literal(v: &Value) -> Value {
    match v {
        Value::Object(_) => json!({}),
        Value::Array(_) => json!([]),
        Value::String(_) => json!(""),
        Value::Number(_) => json!(0),
        Value::Bool(_) => json!(false),
        Value::Null => Value::Null,
    }
}

/// Struct fields whose Go type is a value (not a pointer, slice or map), where the model
/// keeps "absent" apart from the zero value: `null` gives the one, the zero literal the
/// other, and both must mean the same.
fn go_value_field(path: &[Seg]) -> bool {
    let Some(Seg::Key(last)) = path.last() else {
        return false;
    };
    let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
    match last.as_str() {
        "apiVersion" | "kind" | "metadata" | "spec" | "name" | "namespace" | "key" | "operator"
        | "cidr" => true,
        // NetworkPolicySpec.PodSelector is a value; NetworkPolicyPeer.PodSelector a pointer.
        "podSelector" => matches!(parent, Some(Seg::Key(k)) if k == "spec"),
        _ => false,
    }
}

/// Validation errors, or the engine's decisions on every flow of `cluster`.
fn outcome(
    cluster: &netpol::cluster::Cluster,
    flows: &[netpol::cluster::Flow],
    p: &NetworkPolicy,
) -> Result<Vec<netpol::explain::Verdict>, String> {
    validate_network_policy(p).map_err(|e| e.to_string())?;
    let policy = Policy::new(p).map_err(|e| e.to_string())?;
    let engine = Engine::build(cluster, &[policy]);
    Ok(flows.iter().map(|f| engine.decide(*f)).collect())
}

/// JSON text of `v` in which the object at `at` writes its `index`-th key (in sorted
/// order) a second time, right after the first, with `again`.
fn text_with_repeat(v: &Value, at: &[Seg], index: usize, again: &Value) -> String {
    fn write(v: &Value, path: &mut Vec<Seg>, at: &[Seg], index: usize, again: &Value) -> String {
        match v {
            Value::Object(map) => {
                let mut parts = Vec::new();
                for (i, (k, child)) in map.iter().enumerate() {
                    path.push(Seg::Key(k.clone()));
                    let key = serde_json::to_string(k).unwrap();
                    parts.push(format!("{key}:{}", write(child, path, at, index, again)));
                    path.pop();
                    if path.as_slice() == at && i == index {
                        parts.push(format!("{key}:{again}"));
                    }
                }
                format!("{{{}}}", parts.join(","))
            }
            Value::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, child)| {
                        path.push(Seg::Index(i));
                        let t = write(child, path, at, index, again);
                        path.pop();
                        t
                    })
                    .collect();
                format!("[{}]", parts.join(","))
            }
            other => other.to_string(),
        }
    }
    write(v, &mut Vec::new(), at, index, again)
}

proptest! {
    #![proptest_config(config())]

    /// Repeated keys, with `null`, wrong types, empty values or the same value again,
    /// decode alike through every route; repeating a key with its own value changes
    /// nothing (Go decodes the same text into the same field again).
    #[test]
    fn repeated_keys_decode_alike_by_every_route(written in written_policy(0), pick in any::<prop::sample::Index>()) {
        let doc = serde_json::to_value(&written).unwrap();
        let objects: Vec<Vec<Seg>> = positions(&doc)
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| get(&doc, path).as_object().is_some_and(|m| !m.is_empty()))
            .collect();
        prop_assume!(!objects.is_empty());
        let at = pick.get(&objects);
        let map = get(&doc, at).as_object().unwrap();
        let index = pick.index(map.len());
        let own = map.values().nth(index).unwrap().clone();
        let same = NetworkPolicy::from_json(&text_with_repeat(&doc, at, index, &own));
        prop_assert_eq!(same.as_ref().ok(), Some(&written), "{:?}", same);
        for again in [Value::Null, json!([]), json!({}), json!(""), json!(0), json!([null]), json!({"x": null})] {
            let text = text_with_repeat(&doc, at, index, &again);
            let a = NetworkPolicy::from_json(&text);
            let b = serde_json::from_str::<NetworkPolicy>(&text);
            let c = netpol::model::decode_policies(&text);
            prop_assert_eq!(a.as_ref().ok(), b.as_ref().ok(), "{}", text);
            match (&a, &c) {
                (Ok(p), Ok(many)) => prop_assert_eq!(std::slice::from_ref(p), many.as_slice()),
                (Err(x), Err(y)) => prop_assert_eq!(x, y),
                _ => prop_assert!(false, "from_json {:?} but decode_policies {:?}: {}", a, c, text),
            }
            if let (Err(x), Err(y)) = (&a, &b) {
                prop_assert!(y.to_string().starts_with(&x.path), "{} / {}", x, y);
            }
        }
    }

    /// Any struct or map position given an array, a string, a number or a bool is refused
    /// at that position.
    #[test]
    fn non_objects_are_refused_where_objects_belong(written in written_policy(0)) {
        let doc = serde_json::to_value(&written).unwrap();
        for (path, _) in positions(&doc) {
            if !get(&doc, &path).is_object() {
                continue;
            }
            for bad in [json!([]), json!(["x"]), json!("x"), json!(1), json!(true)] {
                let v = replaced(&doc, &path, bad.clone());
                let e = NetworkPolicy::from_value(&v);
                prop_assert!(e.is_err(), "{} = {bad} decoded", path_string(&path));
                let e = e.unwrap_err();
                prop_assert_eq!(e.path, path_string(&path), "{}", e.message);
            }
        }
    }

    /// Any position given `null` decodes like its zero value; where the model keeps a Go
    /// value field's absence apart from its zero value, the two mean the same: refused
    /// alike, or deciding every flow alike.
    #[test]
    fn null_decodes_like_the_zero_value(written in written_policy(0), cluster in cluster()) {
        let doc = serde_json::to_value(&written).unwrap();
        let flows = all_flows(&cluster);
        for (path, slot) in positions(&doc) {
            let original = get(&doc, &path);
            let with_null = NetworkPolicy::from_value(&replaced(&doc, &path, Value::Null));
            match slot {
                Slot::Root => {
                    // A null document is the zero policy.
                    prop_assert_eq!(with_null.unwrap(), NetworkPolicy::default());
                    continue;
                }
                Slot::Field => {
                    let absent = NetworkPolicy::from_value(&removed(&doc, &path));
                    prop_assert_eq!(&with_null, &absent, "{} = null", path_string(&path));
                }
                Slot::MapValue | Slot::Element => {
                    let zero = NetworkPolicy::from_value(&replaced(&doc, &path, zero_literal(original)));
                    prop_assert_eq!(&with_null, &zero, "{} = null", path_string(&path));
                }
            }
            let with_null = with_null.unwrap();
            let zero = if go_value_field(&path) {
                NetworkPolicy::from_value(&replaced(&doc, &path, zero_literal(original))).unwrap()
            } else if slot == Slot::Field {
                continue; // a pointer, slice or map: its zero value is its absence
            } else {
                with_null.clone()
            };
            prop_assert_eq!(
                outcome(&cluster, &flows, &with_null),
                outcome(&cluster, &flows, &zero),
                "{} = null against its zero value", path_string(&path)
            );
        }
    }

    /// The same two rules on Services.
    #[test]
    fn services_follow_the_same_rules(svc in service(0)) {
        let doc = serde_json::to_value(&svc).unwrap();
        for (path, slot) in positions(&doc) {
            let original = get(&doc, &path);
            if original.is_object() {
                for bad in [json!([]), json!("x"), json!(1), json!(false)] {
                    let e = Service::from_value(&replaced(&doc, &path, bad.clone()));
                    prop_assert!(e.is_err(), "{} = {bad} decoded", path_string(&path));
                    let err = e.unwrap_err();
                    prop_assert!(
                        matches!(&err, ServiceError::Decode(d) if d.path == path_string(&path)),
                        "{} = {bad}: {err}", path_string(&path)
                    );
                }
            }
            let with_null = Service::from_value(&replaced(&doc, &path, Value::Null)).unwrap();
            let expected = match slot {
                Slot::Root => Service::default(),
                Slot::Field => Service::from_value(&removed(&doc, &path)).unwrap(),
                Slot::MapValue | Slot::Element => {
                    Service::from_value(&replaced(&doc, &path, zero_literal(original))).unwrap()
                }
            };
            prop_assert_eq!(with_null, expected, "{} = null", path_string(&path));
        }
    }

    /// The rules do not depend on the deserializer: text through serde_json, the crate's
    /// own text decoding, and a value all agree, on the policy and on every mutation.
    #[test]
    fn every_deserializer_agrees(written in written_policy(0)) {
        let doc = serde_json::to_value(&written).unwrap();
        for (path, _) in positions(&doc) {
            for with in [Value::Null, json!([]), json!({}), json!(""), json!(0)] {
                let v = replaced(&doc, &path, with);
                let text = v.to_string();
                let a = NetworkPolicy::from_value(&v);
                let b = NetworkPolicy::from_json(&text);
                let c = serde_json::from_str::<NetworkPolicy>(&text);
                prop_assert_eq!(a.as_ref().ok(), b.as_ref().ok());
                prop_assert_eq!(a.as_ref().ok(), c.as_ref().ok());
                if let (Err(x), Err(y)) = (&a, &b) {
                    prop_assert_eq!(&x.path, &y.path);
                    prop_assert_eq!(&x.message, &y.message);
                    prop_assert!(y.line >= 1 && y.column >= 1, "{y}");
                }
            }
        }
    }
}
