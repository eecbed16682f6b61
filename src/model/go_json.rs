//! Decoding the way the apiserver decodes: Go's JSON rules for every model.
//!
//! The apiserver reads a request body with `sigs.k8s.io/json` (a copy of Go's
//! `encoding/json` with case-sensitive keys) into Go structs. Go's rules differ from
//! serde's derived ones, and the differences decide whether an object is accepted and what
//! it means (`ingress: [null]` allows all ingress in Go; serde refuses it). This module
//! holds one decoder that applies Go's rules to any serde type, and the declaration
//! pattern that makes a model use it whatever deserializer drives it.
//!
//! # The rules, and the Go code each one mirrors
//!
//! This table is the one statement of the rules; the rest of the crate's documentation
//! refers to it.
//!
//! | input | Go (apiserver) | here |
//! | --- | --- | --- |
//! | `null` in a pointer, slice or map field | sets it to nil (`literalStore`, case `'n'`) | `None` / empty, as if the key were absent |
//! | `null` in a string, number, bool or struct field | ignored: the field keeps its zero value (`literalStore` "ignore null for primitives/string"; `indirect` with `decodingNull`) | the zero value: `""`, `0`, `false`, a struct with every field at its zero value |
//! | `null` as an array element or map value | the element's zero value (`array` decodes into a fresh element; `object` zeroes `mapElem`) | `ingress: [null]` is `ingress: [{}]`, `values: ["a", null]` is `["a", ""]` |
//! | `null` as the whole document | `Interpret` finds no `apiVersion` or `kind`, the endpoint's are filled in, and decoding `null` leaves the new object empty | an empty object of the kind decoded |
//! | an array, string, number or bool where a struct or map is expected | `UnmarshalTypeError` "cannot unmarshal array into Go struct field …" (`array`, `object`, `literalStore`) | refused with the field path; serde's derive would read an array by position |
//! | an object or array where a string, number or bool is expected | `UnmarshalTypeError` | refused |
//! | a number with a fraction or exponent (`1.5`, `1e3`, `1.0`), or out of range, for an integer | `UnmarshalTypeError` "cannot unmarshal number 1.5 into … of type int32" (`literalStore`: `strconv.ParseInt` of the literal, `OverflowInt`) | refused, the number named as written; `-0` is the integer 0, as `ParseInt` reads it |
//! | a string for a number, a number for a string | `UnmarshalTypeError` | refused |
//! | `metadata` | `metav1.ObjectMeta`: every field typed (`generation` an `int64`, `labels` a `map[string]string`, timestamps `metav1.Time`, `ownerReferences` structs) | [`ObjectMeta`](super::ObjectMeta) with the same types; its unknown keys kept in `extra` |
//! | keys | matched exactly after unescaping (`"spe\u0063"` is `spec`): `CaseSensitive` (sigs.k8s.io/json); unknown keys dropped | matched exactly after unescaping; unknown keys kept in the model's `extra` map so the object round-trips |
//! | a repeated key | decoded again into the same field (`object` looks the field up and decodes into it; non-strict field validation, the default): a string or number is replaced and `null` leaves it; a struct gets the fields of both objects; a pointer is followed, and reset by `null`; a slice's elements are decoded into the elements already there (`array` reuses the backing array, so elements a shorter array cut off come back when a longer one follows; `[]` and `null` start anew); a map gets the entries of both, each value decoded afresh | the same, from the text (see below); a custom resource (ClusterNetworkPolicy, Calico's `crd.projectcalico.org/v1` objects), which the apiserver reads into a `map[string]interface{}` first, keeps the last occurrence whole |
//! | a type mismatch | saved (`saveError`, the first one kept) and decoding goes on; the saved error is returned at the end | the same: the mismatch written first is reported, also one in an occurrence a later `null` throws away |
//! | an error from an `UnmarshalJSON` method (`IntOrString`, `Time`) | returned at once: it wins over a saved mismatch | the same; the method runs on every occurrence of a repeated key |
//! | string escapes | JSON's (`\n`, `\/`, `\u00e9`, surrogate pairs) | the same |
//! | `"\ud800"` (a lone UTF-16 surrogate escape) | U+FFFD (`unquote`: "Invalid surrogate; fall back to replacement rune") | U+FFFD when the text is given to this module ([`from_str`], `NetworkPolicy::from_json`, `decode_policies`) |
//! | `intstr.IntOrString` given `null` | `Int(0)` (`IntOrString.UnmarshalJSON` decodes `null` into its `int32`) | [`IntOrString::Int(0)`](super::IntOrString); `null` in the pointer field `port` is absent |
//! | `metav1.Time` | `null` is the zero time, a string must parse with `time.Parse(time.RFC3339, …)` (`Time.UnmarshalJSON`) | [`Time`](super::Time) checks the string with the same rules and keeps it as written |
//! | `metav1.FieldsV1` (`managedFields[].fieldsV1`) | any JSON value (`FieldsV1.UnmarshalJSON` keeps the raw bytes) | any JSON value |
//! | `apiVersion` / `kind` of a top-level object | read first, case-insensitively, in the order written, a later key winning, `null` skipped and any other non-string refused (`SimpleMetaFactory.Interpret` uses `encoding/json`); a missing or empty one is filled from the endpoint (`gvkWithDefaults`); `a/b/c` is refused by `schema.ParseGroupVersion`; another kind is decoded as that kind and fails conversion | the same reading; a missing or empty one is filled in; any other group, version or kind is refused with what was found; the model's `api_version` and `kind` hold the values taken, and other spellings are not kept (Go's case-sensitive decoder drops them as unknown keys) |
//!
//! Null therefore always decodes like the key's absence, and an element's `null` like
//! the element's zero value. A Rust `Option` stands for "absent" where Go cannot tell
//! absent from the zero value (`metadata.name`, `spec.podSelector`,
//! `ports[].targetPort`), so that a decoded object serializes back as it was written;
//! there `null` gives `None`, which every consumer reads as Go's zero value.
//!
//! Each rule, on a NetworkPolicy:
//!
//! ```
//! use netpol::model::{NetworkPolicy, NetworkPolicyIngressRule, decode_policies};
//!
//! // null: absent for an `Option`, the zero value for a string, an element or the document.
//! let p = NetworkPolicy::from_json(r#"{"metadata": {"name": "p", "namespace": null},
//!     "spec": {"podSelector": {"matchLabels": {"app": null}}, "ingress": [null]}}"#)?;
//! assert_eq!(p.metadata.namespace, None);
//! assert_eq!(p.spec.pod_selector.unwrap().match_labels.unwrap()["app"], "");
//! assert_eq!(p.spec.ingress.unwrap(), [NetworkPolicyIngressRule::default()]); // allows all
//! assert_eq!(NetworkPolicy::from_json("null")?, NetworkPolicy::default());
//!
//! // Objects only where Go has a struct or a map; scalars of the Go type, numbers as written.
//! let e = NetworkPolicy::from_json(r#"{"spec": {"podSelector": []}}"#).unwrap_err();
//! assert_eq!(e.to_string(),
//!     "spec.podSelector: cannot unmarshal array into an object (LabelSelector) (line 1, column 26)");
//! let e = NetworkPolicy::from_json(r#"{"spec": {"ingress": [{"ports": [{"endPort": 8e1}]}]}}"#)
//!     .unwrap_err();
//! assert_eq!(e.message, "cannot unmarshal number 8e1 into an int32");
//!
//! // Typed metadata.
//! let e = NetworkPolicy::from_json(r#"{"metadata": {"generation": "1"}}"#).unwrap_err();
//! assert_eq!((e.path.as_str(), e.message.as_str()),
//!     ("metadata.generation", r#"cannot unmarshal string "1" into an int64"#));
//!
//! // apiVersion and kind: read first, case-insensitively, the last key winning.
//! let e = NetworkPolicy::from_json(r#"{"apiVersion": "apps/v1", "kind": "Deployment"}"#)
//!     .unwrap_err();
//! assert_eq!(e.path, "kind");
//! assert!(NetworkPolicy::from_json(r#"{"KIND": "Pod", "kind": "NetworkPolicy"}"#).is_ok());
//! assert_eq!(NetworkPolicy::from_json(r#"{"kind": "NetworkPolicy", "Kind": "Pod"}"#)
//!     .unwrap_err().path, "Kind");
//!
//! // A repeated key is decoded again into the same field: a map gets both entries.
//! let p = NetworkPolicy::from_json(
//!     r#"{"metadata": {"labels": {"a": "1"}, "labels": {"b": "2"}, "name": "x", "name": null}}"#)?;
//! assert_eq!(p.metadata.labels.unwrap().len(), 2);
//! assert_eq!(p.metadata.name.as_deref(), Some("x"));
//!
//! // Escapes, in keys too; a lone surrogate is U+FFFD.
//! let p = NetworkPolicy::from_json(r#"{"metadata": {"n\u0061me": "caf\u00e9\ud800"}}"#)?;
//! assert_eq!(p.metadata.name.as_deref(), Some("café\u{fffd}"));
//!
//! // The type mismatch written first is the one reported, and every route agrees.
//! let text = r#"{"spec": {"policyTypes": 1}, "metadata": {"name": 1}}"#;
//! assert_eq!(NetworkPolicy::from_json(text).unwrap_err().path, "spec.policyTypes");
//! assert_eq!(decode_policies(text).unwrap_err().path, "spec.policyTypes");
//! # Ok::<(), netpol::model::DecodeError>(())
//! ```
//!
//! # Where the crate still differs from Go, on purpose or by necessity
//!
//! - The syntax is serde_json's: a number beyond the range of `f64` (`1e400`) is refused
//!   even in an unknown field Go would skip. Every route reports the first syntax error
//!   of the text, where serde_json reports it.
//! - Values nested deeper than 128 levels are refused (serde_json's limit; Go's is
//!   10000); in a list read by `decode_policies`, an item's levels count from the item.
//!   Only unknown fields can nest that deep.
//! - A parsed `serde_json::Value` ([`from_value`], `NetworkPolicy::from_value`) has lost
//!   what text holds: repeated keys (it kept the last), the order of keys (it sorts
//!   them, which decides which `apiVersion`/`kind` spelling wins and which of two type
//!   errors is reported), and numbers as written (`-0` is the float `-0.0` there, so it
//!   is refused for an integer field). Decode text where that matters.
//! - Of two `UnmarshalJSON` errors in the occurrences of repeated keys, the one met
//!   first while decoding is reported, which may not be the one written first.
//! - Text is `&str`, so invalid UTF-8 cannot reach the decoder; callers reading bytes
//!   may replace invalid sequences with U+FFFD, as Go does inside strings.
//! - A lone surrogate escape is only replaced when the text comes through this module;
//!   `serde_json::from_str::<NetworkPolicy>` refuses it in serde_json's parser, before
//!   the model sees it. serde_json also parses numbers before the model sees them: there
//!   `-0` is the float `-0.0`, refused for an integer field.
//!
//! # Declaring a model
//!
//! A model is declared with the crate-internal `go_struct!` macro around its struct
//! definition, and gets the rules with no per-field work:
//!
//! ```text
//! go_struct! {
//!     /// Docs of the public type.
//!     #[derive(Debug, Clone, Default, PartialEq)]
//!     pub struct ClusterNetworkPolicy {
//!         /// `metadata`.
//!         pub metadata: ObjectMeta,
//!         /// Unknown fields, kept for the round trip.
//!         #[serde(flatten)]
//!         pub extra: serde_json::Map<String, serde_json::Value>,
//!     }
//!     serde(rename_all = "camelCase");
//!     kind("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy");
//! }
//! ```
//!
//! The macro derives `Serialize` on the public struct, derives `Deserialize` on a private
//! copy of it, and writes the public `Deserialize`: it asks the deserializer for a
//! newtype struct with a marker name. This module's deserializer answers the marker and
//! hands the derived code its own value (no copy); any other deserializer (serde_json,
//! a YAML one, `serde_json::Value`) answers like for any newtype, and the object is then
//! buffered once, into the tree described below (keys in order, repeats kept, numbers as
//! that deserializer parsed them), and decoded with this module's rules. Every
//! field below is decoded by this module's deserializer, so `Option`, `Vec`, maps,
//! strings and numbers need nothing of their own. Optional parts:
//!
//! - `serde(...)`: container attributes for both the public struct and the copy;
//! - `kind("group/version", "Kind")`: the object's `apiVersion` and `kind`, checked
//!   before anything else is decoded, as the apiserver's codec does; with a third
//!   argument `"unstructured"` for a custom resource, which the apiserver reads into a
//!   `map[string]interface{}` first, so that a repeated key's last value replaces the
//!   earlier ones whole (and only it is decoded into the typed fields);
//! - `checked { "jsonName" => field: Type, ... }`: fields whose Go types are checked
//!   while the model keeps them, as written, in its `extra` map (Service fields that
//!   routing does not read).
//!
//! Text given to this module ([`from_str`], `NetworkPolicy::from_json`,
//! `PolicyObject::from_json`, `decode_policies`) is first decoded in one streaming pass
//! that applies the same rules on top of serde_json's deserializer, without building a
//! tree (whose allocations cost more than the decoding itself). Only when that pass fails
//! (an error, or a repeated key, which serde's derived code refuses) is the text read
//! into a tree that keeps keys in order with their repeats and numbers as written, and
//! decoded again from it: the tree path is the authority for errors (their path, message,
//! order and position) and for repeated keys. A list is decoded one item at a time; its
//! first pass reads the items and the `apiVersion`/`kind` values as raw text, and any
//! syntax error is then taken from a check of the whole text, so that it is the first.
//!
//! On the tree, a value is decoded from all its occurrences at once (its *layers*): each
//! rule folds them the way Go's decoder, decoding each occurrence into the same target,
//! would have. A field whose Go type is a value but which the model holds in an `Option`
//! says so with `#[serde(deserialize_with = "go_value")]` (a repeated `null` leaves it,
//! where a pointer's `null` resets it); a type with its own `UnmarshalJSON` in Go decodes
//! through `each`, which decodes every occurrence. A type mismatch is saved, the value is
//! left as it was, and decoding goes on; when the document repeats a key, a first pass
//! decodes every occurrence (dropping none) for the errors alone.
//!
//! Why not `#[serde(remote = "Self")]`: it would give each model public inherent
//! `serialize`/`deserialize` functions that bypass these rules. Why not
//! `#[serde(flatten)]` for typed fields: fields below a flatten are decoded by serde's
//! private content deserializer, with serde's rules. `flatten` is used only for the
//! `extra` maps of unknown fields, whose values are any JSON.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// JSON that could not be decoded into a model type.
///
/// `path` is the field path where decoding failed, written the way the apiserver writes
/// paths (`spec.ingress[0].ports[0].port`); `line` and `column` locate the failure in the
/// text (1-based; 0 when unknown, as when decoding an already parsed value). A decode
/// error comes before validation: the object was not read, so nothing about it was
/// checked (the apiserver answers such a body with `400 Bad Request`, not with a list of
/// field errors).
///
/// ```
/// use netpol::model::NetworkPolicy;
/// let err = NetworkPolicy::from_json(r#"{"spec": {"ingress": [{"ports": [{"port": true}]}]}}"#)
///     .unwrap_err();
/// assert_eq!(err.path, "spec.ingress[0].ports[0].port");
/// assert!(err.to_string().starts_with("spec.ingress[0].ports[0].port: "));
/// assert_eq!((err.line, err.column), (1, 43));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message} (line {line}, column {column})", if path.is_empty() { String::new() } else { format!("{path}: ") })]
#[non_exhaustive]
pub struct DecodeError {
    /// Field path of the value that failed, empty for the document itself.
    pub path: String,
    /// What was wrong: the JSON found and the type expected.
    pub message: String,
    /// 1-based line of the failure, 0 when unknown.
    pub line: usize,
    /// 1-based column (in bytes) of the failure, 0 when unknown.
    pub column: usize,
}

/// Decodes JSON text into `T` with the apiserver's rules (see the [module docs](self)).
///
/// Works for any serde type, the crate's models and plain `#[derive(Deserialize)]` types
/// alike. Trailing text is an error. Errors carry the field path and the line and column.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Port { name: String, #[serde(rename = "containerPort")] port: i32 }
///
/// let p: Port = netpol::model::go_json::from_str(r#"{"name": null, "containerPort": 80}"#)?;
/// assert_eq!(p, Port { name: String::new(), port: 80 });
/// let err = netpol::model::go_json::from_str::<Port>(r#"{"containerPort": 8e1}"#).unwrap_err();
/// assert_eq!(err.path, "containerPort");
/// assert_eq!(err.message, "cannot unmarshal number 8e1 into an int32");
/// let err = netpol::model::go_json::from_str::<Vec<Port>>("[[]]").unwrap_err();
/// assert_eq!(err.path, "[0]");
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    let text = go_text(text);
    if let Some(t) = decode_streaming::<T>(&text, Root::Text(&text)) {
        return Ok(t);
    }
    let node = parse_node(&text)?;
    decode_node::<T>(&node).map_err(|e| e.into_decode_error(Some(&text)))
}

/// Decodes an already parsed JSON value into `T` with the apiserver's rules.
///
/// Errors carry the field path; line and column are 0.
///
/// ```
/// use netpol::model::LabelSelector;
/// let v = serde_json::json!({"matchLabels": {"app": null}});
/// let sel: LabelSelector = netpol::model::go_json::from_value(&v)?;
/// assert_eq!(sel.match_labels.unwrap()["app"], "");
/// let bad = serde_json::json!({"matchLabels": []});
/// let err = netpol::model::go_json::from_value::<LabelSelector>(&bad).unwrap_err();
/// assert_eq!(err.path, "matchLabels");
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    decode_root::<T>(value).map_err(|e| e.into_decode_error(None))
}

/// Decodes `value` with the rules, keeping the structured error.
pub(crate) fn decode_root<T: DeserializeOwned>(value: &Value) -> Result<T, GoError> {
    decode_node(&Node::from_value(value))
}

/// A serde_json syntax error as a [`DecodeError`] of the document.
pub(crate) fn syntax_error(e: &serde_json::Error) -> DecodeError {
    DecodeError {
        path: String::new(),
        message: json_message(e),
        line: e.line(),
        column: e.column(),
    }
}

/// serde_json's message without the " at line L column C" it appends: callers report the
/// position in fields of their own.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    if let Some(pos) = message.rfind(" at line ") {
        message.truncate(pos);
    }
    message
}

// ---------------------------------------------------------------------------------------
// Errors and paths
// ---------------------------------------------------------------------------------------

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Writes a path the apiserver's way: `spec.ingress[0].from[1]`.
pub(crate) fn format_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
        }
    }
    out
}

/// The error of this module's deserializer: a message and, once known, the path of the
/// value it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoError {
    /// The path, set by the innermost value that saw the error.
    pub path: Option<Vec<Segment>>,
    /// What was wrong.
    pub message: String,
    /// Byte offset of the value in the text it was read from, when known.
    pub offset: Option<usize>,
    /// Returned by Go at once (an `UnmarshalJSON` method's error, a kind that does not
    /// convert), so it wins over a saved type mismatch; other errors (serde's, which Go
    /// does not have) come after it.
    pub fatal: bool,
}

impl GoError {
    fn new(message: impl Into<String>) -> Self {
        GoError {
            path: None,
            message: message.into(),
            offset: None,
            fatal: false,
        }
    }

    /// An error about the value at `path`.
    pub(crate) fn at_path(path: Vec<Segment>, message: impl Into<String>) -> Self {
        GoError {
            path: Some(path),
            message: message.into(),
            offset: None,
            fatal: false,
        }
    }

    /// Marks an error Go returns at once (see [`GoError::fatal`]).
    fn fatal(mut self) -> Self {
        self.fatal = true;
        self
    }

    /// Sets the path (and the offset, when given) unless an inner value already did.
    fn at_node(mut self, path: &Path<'_>, offset: Option<usize>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.segments());
            self.offset = offset;
        }
        self
    }

    /// Moves the offset by `base` (for an object read from a part of a larger text).
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.map(|o| o + base);
        self
    }

    /// Prefixes the path (for an object decoded inside a larger document).
    pub(crate) fn under(mut self, prefix: &[Segment]) -> Self {
        let mut path = prefix.to_vec();
        path.extend(self.path.take().unwrap_or_default());
        self.path = Some(path);
        self
    }

    /// The path as the apiserver writes it.
    pub(crate) fn path_string(&self) -> String {
        format_path(self.path.as_deref().unwrap_or(&[]))
    }

    /// A [`DecodeError`], located in `text` when the text is known.
    pub(crate) fn into_decode_error(self, text: Option<&str>) -> DecodeError {
        let segments = self.path.unwrap_or_default();
        let offset = self.offset;
        let (line, column) = text
            .and_then(|t| {
                offset
                    .or_else(|| locate(t, &segments))
                    .map(|offset| line_col(t, offset))
            })
            .unwrap_or((0, 0));
        DecodeError {
            path: format_path(&segments),
            message: self.message,
            line,
            column,
        }
    }
}

impl fmt::Display for GoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path_string();
        if path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

impl std::error::Error for GoError {}

impl de::Error for GoError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        GoError::new(msg.to_string())
    }
}

/// The path of the value being decoded, as a chain up to the root (no allocation while
/// decoding; segments are collected only for an error).
#[derive(Clone, Copy)]
pub(crate) enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn segments(&self) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                Path::Root => break,
                Path::Key(parent, k) => {
                    out.push(Segment::Key((*k).to_owned()));
                    cur = parent;
                }
                Path::Index(parent, i) => {
                    out.push(Segment::Index(*i));
                    cur = parent;
                }
            }
        }
        out.reverse();
        out
    }
}

// ---------------------------------------------------------------------------------------
// The document as Go's decoder reads it
// ---------------------------------------------------------------------------------------

/// A JSON value as Go's decoder sees it: object keys in order with their repeats, and
/// numbers as written (Go parses a number for the field it lands in: `-0` is the
/// integer 0, `1.0` is no integer).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node<'a> {
    /// Index in a pre-order walk of the document, which is text order: Go decodes in one
    /// pass over the text, so of two errors it meets the one written first.
    pub(crate) pos: usize,
    /// Byte offset of the value in the text it was read from, when read from text.
    pub(crate) offset: Option<usize>,
    /// The value.
    pub(crate) v: Json<'a>,
}

/// The kinds of JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// A number literal as written.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Key-value pairs in order, repeated keys kept.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn is_null(&self) -> bool {
        matches!(self.v, Json::Null)
    }

    /// A node for an already parsed value (its keys sorted, no repeats, no offsets).
    pub(crate) fn from_value(value: &'a Value) -> Node<'a> {
        fn walk<'a>(v: &'a Value, pos: &mut usize) -> Node<'a> {
            let at = *pos;
            *pos += 1;
            let v = match v {
                Value::Null => Json::Null,
                Value::Bool(b) => Json::Bool(*b),
                Value::Number(n) => Json::Number(Cow::Owned(n.to_string())),
                Value::String(s) => Json::String(Cow::Borrowed(s)),
                Value::Array(items) => Json::Array(items.iter().map(|i| walk(i, pos)).collect()),
                Value::Object(map) => Json::Object(
                    map.iter()
                        .map(|(k, v)| (Cow::Borrowed(k.as_str()), walk(v, pos)))
                        .collect(),
                ),
            };
            Node {
                pos: at,
                offset: None,
                v,
            }
        }
        walk(value, &mut 0)
    }

    /// The same node owning its strings.
    pub(crate) fn into_owned(self) -> Node<'static> {
        let v = match self.v {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(Cow::Owned(n.into_owned())),
            Json::String(s) => Json::String(Cow::Owned(s.into_owned())),
            Json::Array(items) => Json::Array(items.into_iter().map(Node::into_owned).collect()),
            Json::Object(pairs) => Json::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        };
        Node {
            pos: self.pos,
            offset: self.offset,
            v,
        }
    }

    /// Moves every offset by `base` (for a node read from a part of a larger text).
    pub(crate) fn shift(&mut self, base: usize) {
        self.offset = self.offset.map(|o| o + base);
        match &mut self.v {
            Json::Array(items) => items.iter_mut().for_each(|i| i.shift(base)),
            Json::Object(pairs) => pairs.iter_mut().for_each(|(_, v)| v.shift(base)),
            _ => {}
        }
    }

    /// Numbers the nodes in pre-order (for a tree built by a deserializer).
    fn renumber(&mut self, next: &mut usize) {
        self.pos = *next;
        *next += 1;
        match &mut self.v {
            Json::Array(items) => items.iter_mut().for_each(|i| i.renumber(next)),
            Json::Object(pairs) => pairs.iter_mut().for_each(|(_, v)| v.renumber(next)),
            _ => {}
        }
    }
}

/// Parses text (already through [`go_text`]) into a [`Node`]. The syntax is checked by
/// serde_json first ([`check_syntax`]), so its errors (and its limits: numbers within
/// `f64`, 128 levels) are the ones reported; the tree is then read from the checked text.
pub(crate) fn parse_node(text: &str) -> Result<Node<'_>, DecodeError> {
    check_syntax(text)?;
    let mut b = Builder {
        text,
        bytes: text.as_bytes(),
        i: 0,
        pos: 0,
    };
    b.value().ok_or_else(|| DecodeError {
        path: String::new(),
        message: "the text could not be read".to_owned(),
        line: 0,
        column: 0,
    })
}

/// Checks that `text` is one JSON value as serde_json reads it into a `Value`: the same
/// errors at the same positions (the first in the text), the same limits (numbers within
/// `f64`, 128 levels of nesting), without building anything.
pub(crate) fn check_syntax(text: &str) -> Result<(), DecodeError> {
    serde_json::from_str::<Checked>(text)
        .map(|Checked| ())
        .map_err(|e| syntax_error(&e))
}

/// Any JSON value, read only to check it: unlike serde's `IgnoredAny` (which serde_json
/// skips without parsing numbers or counting levels), every number is parsed and every
/// level counted, as for a `serde_json::Value`.
pub(crate) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// Reads a [`Node`] from text that is known to be valid JSON nested at most 128 deep.
struct Builder<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    pos: usize,
}

impl<'a> Builder<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        let raw = self.text.get(start..self.i)?;
        if escaped {
            serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
        } else {
            raw.get(1..raw.len() - 1).map(Cow::Borrowed)
        }
    }

    fn value(&mut self) -> Option<Node<'a>> {
        self.ws();
        let offset = self.i;
        let pos = self.pos;
        self.pos += 1;
        let v = match self.peek()? {
            b'{' => {
                self.i += 1;
                let mut pairs = Vec::new();
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.ws();
                        self.i += 1; // ':'
                        let value = self.value()?;
                        pairs.push((key, value));
                        self.ws();
                        let c = self.peek()?;
                        self.i += 1;
                        if c == b'}' {
                            break;
                        }
                    }
                }
                Json::Object(pairs)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        let c = self.peek()?;
                        self.i += 1;
                        if c == b']' {
                            break;
                        }
                    }
                }
                Json::Array(items)
            }
            b'"' => Json::String(self.string()?),
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                Json::Number(Cow::Borrowed(self.text.get(start..self.i)?))
            }
        };
        Some(Node {
            pos,
            offset: Some(offset),
            v,
        })
    }
}

/// A node read from any deserializer (a model given to serde_json, a YAML reader…):
/// repeated keys stay, in order.
impl<'de> Deserialize<'de> for Node<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn node(v: Json<'static>) -> Node<'static> {
            Node {
                pos: 0,
                offset: None,
                v,
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = Node<'static>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(node(Json::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(node(Json::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(node(Json::Bool(b)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(node(Json::Number(Cow::Owned(n.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(node(Json::Number(Cow::Owned(n.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Self::Value, E> {
                match serde_json::Number::from_f64(x) {
                    Some(n) => Ok(node(Json::Number(Cow::Owned(n.to_string())))),
                    None => Err(E::custom(format!("{x} is not a JSON number"))),
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(node(Json::String(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(node(Json::String(Cow::Owned(s))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node<'static>>()? {
                    items.push(item);
                }
                Ok(node(Json::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Node<'static>>()? {
                    pairs.push((Cow::Owned(k), v));
                }
                Ok(node(Json::Object(pairs)))
            }
        }
        let mut n = d.deserialize_any(V)?;
        n.renumber(&mut 0);
        Ok(n)
    }
}

/// How a JSON value is named in a message, quoting short scalars; numbers as written.
fn describe(node: &Node<'_>) -> String {
    match &node.v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("bool {b}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("string {shown:?}")
        }
        Json::Array(_) => "array".to_owned(),
        Json::Object(_) => "object".to_owned(),
    }
}

fn mismatch(node: &Node<'_>, expected: &str) -> String {
    format!("cannot unmarshal {} into {expected}", describe(node))
}

/// `strconv.ParseInt(literal, 10, 64)` and the range of the field's type, as Go's
/// `literalStore` reads a number for an integer field: the message when it fails.
fn parse_int(raw: &str, ty: &'static str, min: i128, max: i128) -> Result<i128, String> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "cannot unmarshal number {raw} into {}",
            article(ty)
        ));
    }
    match raw.parse::<i128>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!(
            "cannot unmarshal number {raw} into {}: out of range",
            article(ty)
        )),
    }
}

/// `an int32`, `a string`.
fn article(ty: &str) -> &'static str {
    match ty {
        "int8" => "an int8",
        "int16" => "an int16",
        "int32" => "an int32",
        "int64" => "an int64",
        "uint8" => "a uint8",
        "uint16" => "a uint16",
        "uint32" => "a uint32",
        "uint64" => "a uint64",
        "string" => "a string",
        "bool" => "a bool",
        "float" => "a float",
        "array" => "an array",
        _ => "a value",
    }
}

// ---------------------------------------------------------------------------------------
// The deserializer
// ---------------------------------------------------------------------------------------
//
// Go decodes a repeated key again into the same target: a string or number is replaced
// (`null` leaves it), a struct gets the second object's fields on top of the first's, a
// pointer is followed (or reset by `null`), a slice's elements are decoded into the
// elements already there (`array` reuses the backing array), a map gets the entries
// added. So a value is decoded from the list of its occurrences, its *layers*, each rule
// below folding them the way Go's decoder would have.
//
// Go keeps the first type mismatch (`saveError`) and decodes on; an error from an
// `UnmarshalJSON` method (an int-or-string, a time) stops decoding at once and is
// returned instead. Here a mismatch is saved in the [`Ctx`] with its node's position,
// the value stays as it was, and decoding goes on; an error returned by a visitor stops.

/// Marker names start with this; the rest is `Type` or `Type|group/version|Kind`.
macro_rules! marker_prefix {
    () => {
        "$netpol::go_json|"
    };
}
pub(crate) use marker_prefix;

/// The variant tag this module's deserializer answers a marker with.
const MARKER_TAG: &str = "$netpol::go_json::value";

/// Marker name of a field whose Go type is a value (not a pointer) held in an `Option`
/// (see [`go_value`]): repeated `null`s leave an earlier value in place.
const VALUE_MARKER: &str = "$netpol::go_json::go_value";

/// Marker name of a type decoded by a Go `UnmarshalJSON` method (see [`each`]): every
/// occurrence of a repeated key is decoded, and the last one is the value.
const EACH_MARKER: &str = "$netpol::go_json::each";

/// What one decoding shares: the first type mismatch, and the pass.
#[derive(Default)]
pub(crate) struct Ctx {
    saved: std::cell::Cell<Option<(usize, GoError)>>,
    /// The checking pass over a document with repeated keys (see [`decode_node`]):
    /// nothing is dropped, so every occurrence is decoded against its Go type.
    check: bool,
    /// The object is a custom resource (its model's `kind` says `"unstructured"`): the
    /// apiserver reads it into a `map[string]interface{}`, where a repeated key's last
    /// value replaces the earlier ones whole, at every level; the typed fields are read
    /// from that map only.
    last_wins: std::cell::Cell<bool>,
    /// Whether building the value dropped an occurrence that Go decodes (and may have
    /// found a mismatch in).
    dropped: std::cell::Cell<bool>,
}

/// The mode of a model's `kind(...)` for a custom resource (see `Ctx::last_wins`).
const UNSTRUCTURED: &str = "unstructured";

impl Ctx {
    /// `saveError`: keeps the mismatch written first.
    fn save(&self, node: &Node<'_>, path: &Path<'_>, message: String) {
        let current = self.saved.take();
        let keep = match current {
            Some((pos, e)) if pos <= node.pos => (pos, e),
            _ => (
                node.pos,
                GoError {
                    path: Some(path.segments()),
                    message,
                    offset: node.offset,
                    fatal: false,
                },
            ),
        };
        self.saved.set(Some(keep));
    }
}

/// The occurrences of one value, in order (almost always one).
#[derive(Clone)]
enum Layers<'de> {
    One(&'de Node<'de>),
    Many(Vec<&'de Node<'de>>),
}

impl<'de> Layers<'de> {
    fn nodes(&self) -> &[&'de Node<'de>] {
        match self {
            Layers::One(n) => std::slice::from_ref(n),
            Layers::Many(v) => v,
        }
    }

    fn of(nodes: &[&'de Node<'de>]) -> Layers<'de> {
        match nodes {
            [one] => Layers::One(one),
            many => Layers::Many(many.to_vec()),
        }
    }

    fn push(&mut self, n: &'de Node<'de>) {
        match self {
            Layers::One(first) => *self = Layers::Many(vec![*first, n]),
            Layers::Many(v) => v.push(n),
        }
    }

    /// The last occurrence (what a type that reads any JSON keeps).
    fn last(&self) -> Option<&'de Node<'de>> {
        self.nodes().last().copied()
    }
}

/// A deserializer over the layers of one value that applies Go's rules.
pub(crate) struct NodeDe<'de, 'p, 'c> {
    layers: Layers<'de>,
    path: Path<'p>,
    /// The model type being decoded, from its marker, for messages.
    hint: Option<&'static str>,
    /// A model's own value: its derived code asks for a map (because of `flatten`) but
    /// the Go type is a struct.
    is_struct: bool,
    /// The top level of a model with a kind: the `apiVersion` and `kind` values the kind
    /// check took (see [`TypeMetaNodes`]).
    type_meta: Option<TypeMetaNodes<'de>>,
    ctx: &'c Ctx,
}

/// The `apiVersion` and `kind` occurrences `Interpret` took from an object: of every key
/// spelt like them (case-insensitively), the last that is not `null`.
///
/// They are what the model holds, and the other spellings are not kept: a model prints
/// its `apiVersion` and `kind` before its unknown fields, so a losing spelling kept
/// among those would, printed after them, win when the object is read again.
#[derive(Clone, Copy)]
struct TypeMetaNodes<'de> {
    api_version: Option<&'de Node<'de>>,
    kind: Option<&'de Node<'de>>,
}

impl<'de> TypeMetaNodes<'de> {
    fn of(node: &'de Node<'de>) -> Self {
        let mut found = TypeMetaNodes {
            api_version: None,
            kind: None,
        };
        if let Json::Object(pairs) = &node.v {
            for (k, v) in pairs {
                if v.is_null() {
                    continue;
                }
                if fold_eq(k, "apiVersion") {
                    found.api_version = Some(v);
                } else if fold_eq(k, "kind") {
                    found.kind = Some(v);
                }
            }
        }
        found
    }
}

/// Whether the key is `apiVersion` or `kind` in any spelling `Interpret` accepts.
fn is_type_meta_key(key: &str) -> bool {
    fold_eq(key, "apiVersion") || fold_eq(key, "kind")
}

/// Whether an object's top-level keys (as [`scan_top`] gives them) spell `apiVersion` and
/// `kind` only exactly: otherwise the streaming pass leaves the object to the tree, which
/// keeps the spelling `Interpret` took (see [`TypeMetaNodes`]).
pub(crate) fn exact_type_meta_keys(top: &Node<'_>) -> bool {
    match &top.v {
        Json::Object(pairs) => pairs
            .iter()
            .all(|(k, _)| !is_type_meta_key(k) || k == "apiVersion" || k == "kind"),
        _ => true,
    }
}

/// Decodes a node with the rules: the first error Go would return, if any.
///
/// Go decodes every occurrence of a repeated key, even one a later `null` or `[]` then
/// throws away, and keeps a type mismatch found in it. When building the value dropped
/// an occurrence, a second pass therefore decodes the document again dropping nothing,
/// for the errors only (the value pass decoded a part of what it decodes, so it has no
/// error of its own when the check pass has none).
pub(crate) fn decode_node<T: DeserializeOwned>(node: &Node<'_>) -> Result<T, GoError> {
    let ctx = Ctx::default();
    let result = T::deserialize(NodeDe::new(Layers::One(node), Path::Root, &ctx));
    if ctx.dropped.get() {
        let check = Ctx {
            check: true,
            ..Ctx::default()
        };
        let checked = T::deserialize(NodeDe::new(Layers::One(node), Path::Root, &check));
        first_error(checked, &check)?;
    }
    first_error(result, &ctx)
}

/// The error Go returns: one it returns at once, else the first saved mismatch; an error
/// of serde's own (a field a plain derived type requires) only after those.
fn first_error<T>(result: Result<T, GoError>, ctx: &Ctx) -> Result<T, GoError> {
    match (result, ctx.saved.take()) {
        (Err(e), _) if e.fatal => Err(e),
        (_, Some((_, saved))) => Err(saved),
        (result, None) => result,
    }
}

impl<'de, 'p, 'c> NodeDe<'de, 'p, 'c> {
    fn new(layers: Layers<'de>, path: Path<'p>, ctx: &'c Ctx) -> Self {
        NodeDe {
            layers,
            path,
            hint: None,
            is_struct: false,
            type_meta: None,
            ctx,
        }
    }

    fn with_layers(self, layers: Layers<'de>) -> Self {
        NodeDe { layers, ..self }
    }

    fn save(&self, node: &Node<'_>, message: String) {
        self.ctx.save(node, &self.path, message);
    }

    /// The last occurrence that `accept`s, after saving a mismatch for each that does
    /// not; `null` is skipped (Go: "ignore null for primitives").
    fn pick(&self, accept: impl Fn(&Node<'de>) -> Result<(), String>) -> Option<&'de Node<'de>> {
        let mut found = None;
        for n in self.layers.nodes() {
            if n.is_null() {
                continue;
            }
            match accept(n) {
                Ok(()) => found = Some(*n),
                Err(message) => self.save(n, message),
            }
        }
        found
    }

    fn located(&self, e: GoError) -> GoError {
        e.at_node(&self.path, self.layers.last().and_then(|n| n.offset))
    }

    fn int(&self, ty: &'static str, min: i128, max: i128) -> i128 {
        let picked = self.pick(|n| match &n.v {
            Json::Number(raw) => parse_int(raw, ty, min, max).map(|_| ()),
            _ => Err(mismatch(n, article(ty))),
        });
        match picked.map(|n| &n.v) {
            Some(Json::Number(raw)) => parse_int(raw, ty, min, max).unwrap_or(0),
            _ => 0,
        }
    }

    fn signed<V: Visitor<'de>>(
        self,
        ty: &'static str,
        min: i128,
        max: i128,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let v = i64::try_from(self.int(ty, min, max)).unwrap_or(0);
        visitor.visit_i64::<GoError>(v).map_err(|e| self.located(e))
    }

    fn unsigned<V: Visitor<'de>>(
        self,
        ty: &'static str,
        max: i128,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let v = u64::try_from(self.int(ty, 0, max)).unwrap_or(0);
        visitor.visit_u64::<GoError>(v).map_err(|e| self.located(e))
    }

    fn struct_expected(&self, name: &str) -> String {
        format!("an object ({})", self.hint.unwrap_or(name))
    }

    /// A Go struct: the fields of every object occurrence, each field with its own
    /// occurrences; `null` is no change; anything else is a mismatch.
    fn go_struct<V: Visitor<'de>>(self, expected: &str, visitor: V) -> Result<V::Value, GoError> {
        let mut fields: Vec<(&'de str, Layers<'de>)> = Vec::new();
        // Field positions by key, once an object is too large to search.
        let mut index: std::collections::HashMap<&'de str, usize> =
            std::collections::HashMap::new();
        for n in self.layers.nodes() {
            match &n.v {
                Json::Null => {}
                Json::Object(pairs) => {
                    let last_wins = self.ctx.last_wins.get();
                    for (k, v) in pairs {
                        let k: &'de str = k;
                        if self.type_meta.is_some() && is_type_meta_key(k) {
                            continue;
                        }
                        let at = if fields.len() <= 16 {
                            fields.iter().position(|(f, _)| *f == k)
                        } else {
                            if index.len() < fields.len() {
                                for (i, (f, _)) in fields.iter().enumerate().skip(index.len()) {
                                    index.insert(f, i);
                                }
                            }
                            index.get(k).copied()
                        };
                        if let Some(i) = at {
                            if let Some((_, layers)) = fields.get_mut(i) {
                                if last_wins {
                                    *layers = Layers::One(v);
                                } else {
                                    layers.push(v);
                                }
                            }
                        } else {
                            fields.push((k, Layers::One(v)));
                        }
                    }
                }
                _ => self.save(n, mismatch(n, expected)),
            }
        }
        if let Some(tm) = self.type_meta {
            for (key, node) in [("apiVersion", tm.api_version), ("kind", tm.kind)] {
                if let Some(node) = node {
                    fields.push((key, Layers::One(node)));
                }
            }
        }
        let path = self.path;
        visitor
            .visit_map(FieldsAccess {
                iter: fields.into_iter(),
                pending: None,
                parent: &path,
                ctx: self.ctx,
            })
            .map_err(|e| e.at_node(&path, None))
    }

    /// A Go map: the entries of every object occurrence since the last `null`, each
    /// decoded afresh (a repeated key's last entry stays, as the map's visitor inserts).
    fn go_map<V: Visitor<'de>>(self, expected: &str, visitor: V) -> Result<V::Value, GoError> {
        let mut entries: Vec<&'de (Cow<'de, str>, Node<'de>)> = Vec::new();
        for n in self.layers.nodes() {
            match &n.v {
                Json::Null if self.ctx.check => {}
                Json::Null => {
                    if !entries.is_empty() {
                        self.ctx.dropped.set(true);
                    }
                    entries.clear();
                }
                Json::Object(pairs) => entries.extend(pairs.iter()),
                _ => self.save(n, mismatch(n, expected)),
            }
        }
        let path = self.path;
        visitor
            .visit_map(EntriesAccess {
                iter: entries.into_iter(),
                pending: None,
                parent: &path,
                ctx: self.ctx,
            })
            .map_err(|e| e.at_node(&path, None))
    }
}

impl<'de> Deserializer<'de> for NodeDe<'de, '_, '_> {
    type Error = GoError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        let Some(node) = self.layers.last() else {
            return visitor.visit_unit();
        };
        let result = match &node.v {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(*b),
            Json::Number(raw) => visit_number(raw, visitor),
            Json::String(s) => visitor.visit_borrowed_str(s),
            Json::Array(items) => visitor.visit_seq(ItemsAccess {
                iter: items.iter().enumerate(),
                parent: &path,
                ctx: self.ctx,
            }),
            Json::Object(pairs) => visitor.visit_map(EntriesAccess {
                iter: pairs.iter().collect::<Vec<_>>().into_iter(),
                pending: None,
                parent: &path,
                ctx: self.ctx,
            }),
        };
        result.map_err(|e| e.at_node(&path, node.offset))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let picked = self.pick(|n| match n.v {
            Json::Bool(_) => Ok(()),
            _ => Err(mismatch(n, "a bool")),
        });
        let b = matches!(picked.map(|n| &n.v), Some(Json::Bool(true)));
        visitor.visit_bool(b).map_err(|e| self.located(e))
    }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.signed("int8", i128::from(i8::MIN), i128::from(i8::MAX), v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.signed("int16", i128::from(i16::MIN), i128::from(i16::MAX), v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.signed("int32", i128::from(i32::MIN), i128::from(i32::MAX), v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.signed("int64", i128::from(i64::MIN), i128::from(i64::MAX), v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.unsigned("uint8", i128::from(u8::MAX), v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.unsigned("uint16", i128::from(u16::MAX), v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.unsigned("uint32", i128::from(u32::MAX), v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, GoError> {
        self.unsigned("uint64", i128::from(u64::MAX), v)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let float = |raw: &str| raw.parse::<f64>().ok().filter(|x| x.is_finite());
        let picked = self.pick(|n| match &n.v {
            Json::Number(raw) if float(raw).is_some() => Ok(()),
            _ => Err(mismatch(n, "a float")),
        });
        let x = match picked.map(|n| &n.v) {
            Some(Json::Number(raw)) => float(raw).unwrap_or(0.0),
            _ => 0.0,
        };
        visitor.visit_f64(x).map_err(|e| self.located(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let picked = self.pick(|n| match n.v {
            Json::String(_) => Ok(()),
            _ => Err(mismatch(n, "a string")),
        });
        let s: &'de str = match picked.map(|n| &n.v) {
            Some(Json::String(s)) => s,
            _ => "",
        };
        visitor.visit_borrowed_str(s).map_err(|e| self.located(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    /// A pointer (or a slice or map held in an `Option`): `null` resets it, so the
    /// occurrences after the last `null` are what it points to.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let nodes = self.layers.nodes();
        let written: Vec<&'de Node<'de>>;
        let after = if self.ctx.check {
            written = nodes.iter().copied().filter(|n| !n.is_null()).collect();
            &written[..]
        } else {
            match nodes.iter().rposition(|n| n.is_null()) {
                Some(i) => {
                    let before = nodes.get(..i).unwrap_or_default();
                    if before.iter().any(|n| !n.is_null()) {
                        self.ctx.dropped.set(true);
                    }
                    nodes.get(i + 1..).unwrap_or_default()
                }
                None => nodes,
            }
        };
        if after.is_empty() {
            let path = self.path;
            return visitor
                .visit_none::<GoError>()
                .map_err(|e| e.at_node(&path, None));
        }
        let layers = Layers::of(after);
        let path = self.path;
        visitor
            .visit_some(self.with_layers(layers))
            .map_err(|e| e.at_node(&path, None))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.pick(|n| Err(mismatch(n, "null")));
        visitor.visit_unit().map_err(|e| self.located(e))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let path = self.path;
        if name == VALUE_MARKER {
            // A Go value field: `null` never changes it.
            let nodes = self.layers.nodes();
            let written: Vec<&'de Node<'de>> =
                nodes.iter().copied().filter(|n| !n.is_null()).collect();
            let layers = if written.is_empty() {
                self.layers.clone()
            } else {
                Layers::of(&written)
            };
            return visitor
                .visit_newtype_struct(self.with_layers(layers))
                .map_err(|e| e.at_node(&path, None));
        }
        if name == EACH_MARKER {
            let nodes = self.layers.nodes().to_vec();
            return visitor
                .visit_seq(EachAccess {
                    iter: nodes.into_iter(),
                    parent: &path,
                    ctx: self.ctx,
                })
                .map_err(|e| e.at_node(&path, None));
        }
        let Some(rest) = name.strip_prefix(marker_prefix!()) else {
            return visitor
                .visit_newtype_struct(self)
                .map_err(|e| e.at_node(&path, None));
        };
        let mut parts = rest.split('|');
        let type_name = parts.next().unwrap_or(rest);
        let mut type_meta = None;
        if let (Some(api_version), Some(kind), Some(node)) =
            (parts.next(), parts.next(), self.layers.last())
        {
            check_type_meta(node, api_version, kind)
                .map_err(|e| e.under(&path.segments()).fatal())?;
            type_meta = Some(TypeMetaNodes::of(node));
        }
        if parts.next() == Some(UNSTRUCTURED) {
            self.ctx.last_wins.set(true);
        }
        let de = NodeDe {
            hint: Some(type_name),
            is_struct: true,
            type_meta,
            ..self
        };
        visitor
            .visit_enum(MarkerAccess { de })
            .map_err(|e| e.at_node(&path, None))
    }

    /// A slice: each array occurrence is decoded into the elements already there (Go's
    /// `array` reuses the backing array, so an element a shorter array cut off comes back
    /// when a longer one follows); `null` resets it, `[]` empties it.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        let result = if let Layers::One(Node {
            v: Json::Array(items),
            ..
        }) = self.layers
        {
            visitor.visit_seq(ItemsAccess {
                iter: items.iter().enumerate(),
                parent: &path,
                ctx: self.ctx,
            })
        } else {
            let mut slots: Vec<Layers<'de>> = Vec::new();
            let mut len = 0;
            let check = self.ctx.check;
            let mut dropped = false;
            for n in self.layers.nodes() {
                match &n.v {
                    Json::Null if check => {}
                    Json::Array(items) if check && items.is_empty() => {}
                    Json::Null => {
                        dropped |= !slots.is_empty();
                        slots.clear();
                        len = 0;
                    }
                    Json::Array(items) if items.is_empty() => {
                        dropped |= !slots.is_empty();
                        slots.clear();
                        len = 0;
                    }
                    Json::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            match slots.get_mut(i) {
                                Some(slot) => slot.push(item),
                                None => slots.push(Layers::One(item)),
                            }
                        }
                        len = if check { slots.len() } else { items.len() };
                    }
                    _ => self.save(n, mismatch(n, "an array")),
                }
            }
            dropped |= slots.len() > len;
            if dropped {
                self.ctx.dropped.set(true);
            }
            slots.truncate(len);
            visitor.visit_seq(SlotsAccess {
                iter: slots.into_iter().enumerate(),
                parent: &path,
                ctx: self.ctx,
            })
        };
        result.map_err(|e| e.at_node(&path, None))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let expected = match self.hint {
            Some(name) => format!("an object ({name})"),
            None => "an object".to_owned(),
        };
        if self.is_struct {
            self.go_struct(&expected, visitor)
        } else {
            self.go_map(&expected, visitor)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let expected = self.struct_expected(name);
        self.go_struct(&expected, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let picked = self.pick(|n| match n.v {
            Json::String(_) => Ok(()),
            _ => Err(mismatch(n, "a string")),
        });
        let s: &'de str = match picked.map(|n| &n.v) {
            Some(Json::String(s)) => s,
            _ => "",
        };
        visitor
            .visit_enum(IntoDeserializer::<GoError>::into_deserializer(s))
            .map_err(|e| self.located(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        visitor.visit_unit()
    }
}

/// A number literal handed to a type that reads any JSON: an integer literal as an
/// integer (`-0` is 0, as Go's `ParseInt` reads it), anything else as a float.
fn visit_number<'de, V: Visitor<'de>>(raw: &str, visitor: V) -> Result<V::Value, GoError> {
    let integral = !raw.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(u) = raw.parse::<u64>() {
            return visitor.visit_u64(u);
        }
        if let Ok(i) = raw.parse::<i64>() {
            return visitor.visit_i64(i);
        }
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() => visitor.visit_f64(x),
        _ => Err(GoError::new(format!("number {raw} is out of range"))),
    }
}

/// The fields of a struct, each with its occurrences.
struct FieldsAccess<'de, 'p, 'c> {
    iter: std::vec::IntoIter<(&'de str, Layers<'de>)>,
    pending: Option<(&'de str, Layers<'de>)>,
    parent: &'p Path<'p>,
    ctx: &'c Ctx,
}

impl<'de> MapAccess<'de> for FieldsAccess<'de, '_, '_> {
    type Error = GoError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some((k, layers)) => {
                self.pending = Some((k, layers));
                seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GoError> {
        let Some((key, layers)) = self.pending.take() else {
            return Err(GoError::new("a value was asked for before its key"));
        };
        let path = Path::Key(self.parent, key);
        seed.deserialize(NodeDe::new(layers, path, self.ctx))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of a map (or of an object read as any JSON), each decoded once.
struct EntriesAccess<'de, 'p, 'c> {
    iter: std::vec::IntoIter<&'de (Cow<'de, str>, Node<'de>)>,
    pending: Option<&'de (Cow<'de, str>, Node<'de>)>,
    parent: &'p Path<'p>,
    ctx: &'c Ctx,
}

impl<'de> MapAccess<'de> for EntriesAccess<'de, '_, '_> {
    type Error = GoError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some(entry) => {
                self.pending = Some(entry);
                let key: &'de str = &entry.0;
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GoError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(GoError::new("a value was asked for before its key"));
        };
        let path = Path::Key(self.parent, key);
        seed.deserialize(NodeDe::new(Layers::One(value), path, self.ctx))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The elements of one array.
struct ItemsAccess<'de, 'p, 'c> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Node<'de>>>,
    parent: &'p Path<'p>,
    ctx: &'c Ctx,
}

impl<'de> SeqAccess<'de> for ItemsAccess<'de, '_, '_> {
    type Error = GoError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some((i, v)) => seed
                .deserialize(NodeDe::new(
                    Layers::One(v),
                    Path::Index(self.parent, i),
                    self.ctx,
                ))
                .map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The elements of a slice written several times, each with its occurrences.
struct SlotsAccess<'de, 'p, 'c> {
    iter: std::iter::Enumerate<std::vec::IntoIter<Layers<'de>>>,
    parent: &'p Path<'p>,
    ctx: &'c Ctx,
}

impl<'de> SeqAccess<'de> for SlotsAccess<'de, '_, '_> {
    type Error = GoError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some((i, layers)) => seed
                .deserialize(NodeDe::new(layers, Path::Index(self.parent, i), self.ctx))
                .map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Every occurrence of a value whose type decodes itself (see [`each`]).
struct EachAccess<'de, 'p, 'c> {
    iter: std::vec::IntoIter<&'de Node<'de>>,
    parent: &'p Path<'p>,
    ctx: &'c Ctx,
}

impl<'de> SeqAccess<'de> for EachAccess<'de, '_, '_> {
    type Error = GoError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some(n) => seed
                .deserialize(NodeDe::new(Layers::One(n), *self.parent, self.ctx))
                .map(Some)
                .map_err(|e| e.at_node(self.parent, n.offset).fatal()),
        }
    }
}

/// This deserializer's answer to a model's marker: an enum whose variant tag says "this
/// module's deserializer" and whose newtype content is the value itself.
struct MarkerAccess<'de, 'p, 'c> {
    de: NodeDe<'de, 'p, 'c>,
}

impl<'de, 'p, 'c> EnumAccess<'de> for MarkerAccess<'de, 'p, 'c> {
    type Error = GoError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), GoError> {
        let tag = seed.deserialize(BorrowedStrDeserializer::<GoError>::new(MARKER_TAG))?;
        Ok((tag, self))
    }
}

impl<'de> VariantAccess<'de> for MarkerAccess<'de, '_, '_> {
    type Error = GoError;

    fn unit_variant(self) -> Result<(), GoError> {
        Err(GoError::new("a model cannot be a unit variant"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, GoError> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, GoError> {
        Err(GoError::new("a model cannot be a tuple variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, GoError> {
        Err(GoError::new("a model cannot be a struct variant"))
    }
}

// ---------------------------------------------------------------------------------------
// Go value fields and UnmarshalJSON types
// ---------------------------------------------------------------------------------------

/// `deserialize_with` for an `Option` field whose Go type is a value, not a pointer
/// (`metadata.name` is a `string`, `spec.podSelector` a `LabelSelector`): `null` is the
/// zero value, `None`, like a pointer's `nil`; but when the key is repeated, a `null`
/// after a written value leaves it in place (Go ignores `null` for a value), where a
/// pointer's `null` would reset it.
pub(crate) fn go_value<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value")
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            Option::<T>::deserialize(d)
        }
    }
    d.deserialize_newtype_struct(VALUE_MARKER, V(PhantomData))
}

/// The `Deserialize` of a type that Go decodes with its own `UnmarshalJSON` method
/// (`intstr.IntOrString`, `metav1.Time`), given the decoding of one occurrence `One`:
/// for a repeated key Go calls the method on every occurrence, so each is decoded (an
/// error stops decoding) and the last one is the value.
pub(crate) fn each<'de, D, One, T>(d: D, into: fn(One) -> T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    One: Deserialize<'de>,
{
    struct V<One, T>(fn(One) -> T);
    impl<'de, One: Deserialize<'de>, T> Visitor<'de> for V<One, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value")
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            One::deserialize(d).map(self.0)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
            let mut last = None;
            while let Some(one) = seq.next_element::<One>()? {
                last = Some(one);
            }
            match last {
                Some(one) => Ok((self.0)(one)),
                None => Err(de::Error::custom("no value to decode")),
            }
        }
    }
    d.deserialize_newtype_struct(EACH_MARKER, V(into))
}

// ---------------------------------------------------------------------------------------
// Models: the marker handshake
// ---------------------------------------------------------------------------------------

/// A model declared with `go_struct!`: its marker and the derived decoding of its fields.
pub(crate) trait GoStruct: Sized {
    /// `marker_prefix!()` + `Type` or `Type|group/version|Kind`.
    const MARKER: &'static str;

    /// The derived field decoding, to be driven only by this module's deserializer.
    fn derived<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// The `Deserialize` of every model: see the module docs.
pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
where
    T: GoStruct + DeserializeOwned,
    D: Deserializer<'de>,
{
    d.deserialize_newtype_struct(T::MARKER, Handshake::<T>(PhantomData))
}

/// Whether a variant tag is this module's marker tag.
struct MarkerTag(bool);

impl<'de> Deserialize<'de> for MarkerTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MarkerTag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a variant name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MarkerTag, E> {
                Ok(MarkerTag(v == MARKER_TAG))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MarkerTag, E> {
                Ok(MarkerTag(false))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Runs the derived decoding on the deserializer the marker handed over.
struct Derived<T>(PhantomData<T>);

impl<'de, T: GoStruct> DeserializeSeed<'de> for Derived<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::derived(d)
    }
}

/// Decodes a value buffered from another deserializer with this module's rules.
fn decode_buffered<T: DeserializeOwned, E: de::Error>(node: Node<'static>) -> Result<T, E> {
    let mut node = node;
    node.renumber(&mut 0);
    decode_node::<T>(&node).map_err(E::custom)
}

fn leaf(v: Json<'static>) -> Node<'static> {
    Node {
        pos: 0,
        offset: None,
        v,
    }
}

/// What a model's `Deserialize` gets back from the deserializer it was given: this
/// module's marker (decode in place), or whatever another deserializer produces for a
/// newtype (buffer, keeping repeated keys, then decode with the rules).
struct Handshake<T>(PhantomData<T>);

impl<'de, T: GoStruct + DeserializeOwned> Visitor<'de> for Handshake<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
        let (tag, variant): (MarkerTag, _) = data.variant()?;
        if tag.0 {
            variant.newtype_variant_seed(Derived::<T>(PhantomData))
        } else {
            Err(de::Error::custom("cannot unmarshal an enum into an object"))
        }
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        decode_buffered(Node::deserialize(d)?)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        decode_buffered(Node::deserialize(d)?)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Node<'static>>()? {
            pairs.push((Cow::Owned(k), v));
        }
        decode_buffered(leaf(Json::Object(pairs)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Node<'static>>()? {
            items.push(v);
        }
        decode_buffered(leaf(Json::Array(items)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        decode_buffered(leaf(Json::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        decode_buffered(leaf(Json::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        decode_buffered(leaf(Json::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        decode_buffered(leaf(Json::Number(Cow::Owned(v.to_string()))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        decode_buffered(leaf(Json::Number(Cow::Owned(v.to_string()))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        let n = Value::from(v);
        decode_buffered(Node::from_value(&n).into_owned())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        decode_buffered(leaf(Json::String(Cow::Owned(v.to_owned()))))
    }
}

/// Puts a checked field back into `extra`, as written (see `checked` in the module docs).
pub(crate) fn keep_checked<V: serde::Serialize>(
    extra: &mut serde_json::Map<String, Value>,
    key: &str,
    value: &V,
) {
    if let Ok(v) = serde_json::to_value(value) {
        extra.insert(key.to_owned(), v);
    }
}

/// Declares a model that decodes with Go's rules; see the module docs.
macro_rules! go_struct {
    (
        $(#[$smeta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty ),* $(,)?
        }
        $( serde( $($sattr:tt)* ); )?
        $( kind( $gv:literal, $kind:literal $(, $mode:literal)? ); )?
        $( checked { $( $cname:literal => $cfield:ident : $cty:ty ),* $(,)? } )?
    ) => {
        $(#[$smeta])*
        #[derive(::serde::Serialize)]
        $( #[serde( $($sattr)* )] )?
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field : $fty, )*
        }

        const _: () = {
            #[derive(::serde::Deserialize, Default)]
            #[serde(default)]
            $( #[serde( $($sattr)* )] )?
            struct GoMirror {
                $( $(#[$fmeta])* $field : $fty, )*
                $($( #[serde(rename = $cname)] $cfield : ::core::option::Option<$cty>, )*)?
            }

            impl ::core::convert::From<GoMirror> for $name {
                fn from(m: GoMirror) -> Self {
                    #[allow(unused_mut)]
                    let mut out = $name { $( $field: m.$field, )* };
                    $($(
                        if let ::core::option::Option::Some(v) = &m.$cfield {
                            $crate::model::go_json::keep_checked(&mut out.extra, $cname, v);
                        }
                    )*)?
                    out
                }
            }

            impl $crate::model::go_json::GoStruct for $name {
                const MARKER: &'static str = concat!(
                    $crate::model::go_json::marker_prefix!(),
                    stringify!($name)
                    $(, "|", $gv, "|", $kind $(, "|", $mode)?)?
                );

                fn derived<'de, D: ::serde::Deserializer<'de>>(
                    d: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    <GoMirror as ::serde::Deserialize<'de>>::deserialize(d).map(<$name>::from)
                }
            }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    d: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    $crate::model::go_json::deserialize::<Self, D>(d)
                }
            }
        };
    };
}
pub(crate) use go_struct;

// ---------------------------------------------------------------------------------------
// The fast path: the same rules while streaming from text
// ---------------------------------------------------------------------------------------
//
// Building a tree of a large object costs more than decoding it (the tree's allocations
// and their release dominate), so text is first decoded in one streaming pass by
// `StreamDe`, which applies the same rules on top of serde_json's deserializer. It
// reports no paths: on any error the text is decoded again through the tree path, which
// is the authority for errors (their path, message and order), for repeated keys (a
// repeated struct field stops the streaming pass; maps keep their last value in both)
// and for objects spelling `apiVersion` or `kind` another way. So the fast path can only
// accept what the tree path accepts, with the same result; the property tests and the
// fuzz checks hold the two routes equal.

/// What the outermost model of a streaming pass may skip or must do about its
/// `apiVersion`/`kind`.
#[derive(Clone, Copy)]
pub(crate) enum Root<'t> {
    /// Check them by scanning the top-level keys of this text first.
    Text(&'t str),
    /// Already checked by the caller (a document's kind table).
    Checked,
}

/// Decodes `text` (already through [`go_text`]) in one streaming pass; `None` when
/// anything fails, for the caller to decode through the tree path instead.
pub(crate) fn decode_streaming<T: DeserializeOwned>(text: &str, root: Root<'_>) -> Option<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let t = T::deserialize(StreamDe {
        de: &mut de,
        root: Some(root),
    })
    .ok()?;
    de.end().ok()?;
    Some(t)
}

/// The top-level keys of an object's text that `Interpret` reads (those folding to
/// `apiVersion` or `kind`) with their values, in order, as an object node, and whether it
/// has an `items` key. `None` for text that does not scan as JSON; an empty object for a
/// non-object.
pub(crate) fn scan_top(text: &str) -> Option<(Node<'static>, bool)> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        i: 0,
    };
    let mut pairs = Vec::new();
    let mut items = false;
    let top = |pairs| Node {
        pos: 0,
        offset: None,
        v: Json::Object(pairs),
    };
    scan.ws();
    if scan.peek() != Some(b'{') {
        return Some((top(pairs), items));
    }
    scan.i += 1;
    scan.ws();
    if scan.peek()? == b'}' {
        return Some((top(pairs), items));
    }
    loop {
        let key = scan.key()?;
        scan.eat(b':')?;
        scan.ws();
        let start = scan.i;
        scan.skip_value()?;
        if key == "items" {
            items = true;
        }
        if fold_eq(&key, "apiVersion") || fold_eq(&key, "kind") {
            let raw = text.get(start..scan.i)?;
            let value: Value = serde_json::from_str(raw).ok()?;
            let mut node = Node::from_value(&value).into_owned();
            node.offset = Some(start);
            pairs.push((Cow::Owned(key.into_owned()), node));
        }
        scan.ws();
        match scan.peek()? {
            b',' => scan.i += 1,
            _ => return Some((top(pairs), items)),
        }
    }
}

/// This module's rules over another deserializer, without paths (see above).
struct StreamDe<'t, D> {
    de: D,
    root: Option<Root<'t>>,
}

impl<D> StreamDe<'_, D> {
    fn child(de: D) -> StreamDe<'static, D> {
        StreamDe { de, root: None }
    }
}

/// What the target asked for.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Any,
    Bool,
    Signed(i128, i128),
    Unsigned(u64),
    Float,
    Str,
    Unit,
    Seq,
    Map,
}

/// Applies [`Want`]'s rule to what the inner deserializer found.
struct Rule<V> {
    want: Want,
    visitor: V,
}

fn no<E: de::Error>() -> E {
    E::custom("not decodable with Go's rules")
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Rule<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Bool => self.visitor.visit_bool(b),
            _ => Err(no()),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<V::Value, E> {
        match self.want {
            Want::Any => self.visitor.visit_i64(n),
            Want::Signed(min, max) if (min..=max).contains(&i128::from(n)) => {
                self.visitor.visit_i64(n)
            }
            Want::Unsigned(max) => match u64::try_from(n) {
                Ok(u) if u <= max => self.visitor.visit_u64(u),
                _ => Err(no()),
            },
            // Go reads the literal with strconv.ParseFloat, which rounds to the nearest
            // float64; an integer-to-float `as` rounds to nearest too, so precision is
            // lost exactly where Go loses it.
            #[allow(clippy::cast_precision_loss)]
            Want::Float => self.visitor.visit_f64(n as f64),
            _ => Err(no()),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<V::Value, E> {
        match self.want {
            Want::Any => self.visitor.visit_u64(n),
            Want::Signed(_, max) if i128::from(n) <= max => match i64::try_from(n) {
                Ok(i) => self.visitor.visit_i64(i),
                Err(_) => Err(no()),
            },
            Want::Unsigned(max) if n <= max => self.visitor.visit_u64(n),
            // Rounded to nearest, as Go's strconv.ParseFloat rounds the literal.
            #[allow(clippy::cast_precision_loss)]
            Want::Float => self.visitor.visit_f64(n as f64),
            _ => Err(no()),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Float => self.visitor.visit_f64(x),
            _ => Err(no()),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Str => self.visitor.visit_str(s),
            _ => Err(no()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Str => self.visitor.visit_borrowed_str(s),
            _ => Err(no()),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Str => self.visitor.visit_string(s),
            _ => Err(no()),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        match self.want {
            Want::Any | Want::Unit => self.visitor.visit_unit(),
            Want::Bool => self.visitor.visit_bool(false),
            Want::Signed(..) => self.visitor.visit_i64(0),
            Want::Unsigned(_) => self.visitor.visit_u64(0),
            Want::Float => self.visitor.visit_f64(0.0),
            Want::Str => self.visitor.visit_borrowed_str(""),
            Want::Seq => self
                .visitor
                .visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<&str>())),
            Want::Map => {
                self.visitor
                    .visit_map(de::value::MapDeserializer::new(std::iter::empty::<(
                        &str,
                        &str,
                    )>()))
            }
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        match self.want {
            Want::Any | Want::Seq => self.visitor.visit_seq(StreamSeq(seq)),
            _ => Err(no()),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        match self.want {
            Want::Any | Want::Map => self.visitor.visit_map(StreamMap(map)),
            _ => Err(no()),
        }
    }
}

/// `Option`: `null` is `None`, anything else is decoded with the rules.
struct OptionRule<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptionRule<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(StreamDe::child(d))
    }
}

/// A newtype that is not a model: its content is decoded with the rules.
struct NewtypeRule<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for NewtypeRule<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(StreamDe::child(d))
    }
}

/// Decodes a seed's value with the rules.
struct Wrap<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(StreamDe::child(d))
    }
}

struct StreamSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StreamSeq<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Wrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct StreamMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StreamMap<A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Wrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A model's marker answered in a streaming pass (see `MarkerAccess`).
struct StreamMarker<D>(StreamDe<'static, D>);

impl<'de, D: Deserializer<'de>> EnumAccess<'de> for StreamMarker<D> {
    type Error = D::Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), D::Error> {
        let tag = seed.deserialize(BorrowedStrDeserializer::<D::Error>::new(MARKER_TAG))?;
        Ok((tag, self))
    }
}

impl<'de, D: Deserializer<'de>> VariantAccess<'de> for StreamMarker<D> {
    type Error = D::Error;
    fn unit_variant(self) -> Result<(), D::Error> {
        Err(no())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, D::Error> {
        seed.deserialize(self.0)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, D::Error> {
        Err(no())
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, D::Error> {
        Err(no())
    }
}

impl<'de, D: Deserializer<'de>> StreamDe<'_, D> {
    fn want<V: Visitor<'de>>(self, want: Want, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(Rule { want, visitor })
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StreamDe<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Any, v)
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Bool, v)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Signed(i128::from(i8::MIN), i128::from(i8::MAX)), v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Signed(i128::from(i16::MIN), i128::from(i16::MAX)), v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Signed(i128::from(i32::MIN), i128::from(i32::MAX)), v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Signed(i128::from(i64::MIN), i128::from(i64::MAX)), v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Unsigned(u64::from(u8::MAX)), v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Unsigned(u64::from(u16::MAX)), v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Unsigned(u64::from(u32::MAX)), v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Unsigned(u64::MAX), v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Float, v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Float, v)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_option(OptionRule(v))
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Unit, v)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.want(Want::Unit, v)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        let Some(rest) = name.strip_prefix(marker_prefix!()) else {
            return self.de.deserialize_newtype_struct(name, NewtypeRule(v));
        };
        let mut parts = rest.split('|').skip(1);
        if let (Some(api_version), Some(kind)) = (parts.next(), parts.next()) {
            match self.root {
                Some(Root::Checked) => {}
                Some(Root::Text(text)) => {
                    let (top, _) = scan_top(text).ok_or_else(no)?;
                    check_type_meta(&top, api_version, kind).map_err(|_| no::<D::Error>())?;
                    if !exact_type_meta_keys(&top) {
                        return Err(no());
                    }
                }
                // A model with a kind inside another (a list's items): its keys are not
                // known yet, so it is buffered and decoded through the tree path.
                None => return v.visit_newtype_struct(self.de),
            }
        }
        v.visit_enum(StreamMarker(StreamDe::child(self.de)))
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Seq, v)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Seq, v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.want(Want::Seq, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Map, v)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.want(Want::Map, v)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, D::Error> {
        Err(no())
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.want(Want::Str, v)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        // Check it as the tree path does (numbers beyond f64 and nesting beyond 128 are
        // refused there too), then drop it.
        Checked::deserialize(self.de)?;
        v.visit_unit()
    }
}

// ---------------------------------------------------------------------------------------
// apiVersion and kind
// ---------------------------------------------------------------------------------------

/// Go's `encoding/json` name folding as it matters for ASCII field names: ASCII case,
/// plus the two non-ASCII letters whose fold set holds an ASCII one (KELVIN SIGN with
/// `k`, LONG S with `s`; `foldRune` picks the smallest rune of the set).
fn fold_char(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c => c.to_ascii_lowercase(),
    }
}

/// Whether two names are equal under Go's case-insensitive field matching.
pub(crate) fn fold_eq(a: &str, b: &str) -> bool {
    let mut x = a.chars().map(fold_char);
    let mut y = b.chars().map(fold_char);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

/// `apiVersion` and `kind` as the apiserver's codec reads them before decoding, with the
/// key each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TypeMeta {
    /// `apiVersion` and its key, when one was written.
    pub api_version: Option<(String, String)>,
    /// `kind` and its key, when one was written.
    pub kind: Option<(String, String)>,
}

/// `SimpleMetaFactory.Interpret`: `encoding/json` into a struct with `apiVersion` and
/// `kind` strings, so keys match case-insensitively and in the order written, a later key
/// overriding an earlier one; `null` leaves the field alone and a non-string is an error.
pub(crate) fn interpret(node: &Node<'_>) -> Result<TypeMeta, GoError> {
    match &node.v {
        Json::Object(pairs) => interpret_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v))),
        _ => Ok(TypeMeta::default()),
    }
}

/// [`interpret`] on the fields of an object, in order.
pub(crate) fn interpret_pairs<'x, 'n: 'x>(
    pairs: impl Iterator<Item = (&'x str, &'x Node<'n>)>,
) -> Result<TypeMeta, GoError> {
    let mut tm = TypeMeta::default();
    for (key, v) in pairs {
        let slot = if fold_eq(key, "apiVersion") {
            &mut tm.api_version
        } else if fold_eq(key, "kind") {
            &mut tm.kind
        } else {
            continue;
        };
        match &v.v {
            Json::String(s) => *slot = Some((key.to_owned(), s.clone().into_owned())),
            Json::Null => {}
            _ => {
                let mut e = GoError::at_path(
                    vec![Segment::Key(key.to_owned())],
                    format!("couldn't get version/kind: {}", mismatch(v, "a string")),
                );
                e.offset = v.offset;
                return Err(e);
            }
        }
    }
    Ok(tm)
}

/// A group, version and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// `group/version`, or `version` for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `schema.ParseGroupVersion`: empty and `/` are the empty group version; no slash is a
/// version of the core group; one slash splits; more is an error.
pub(crate) fn parse_group_version(text: &str) -> Option<(String, String)> {
    if text.is_empty() || text == "/" {
        return Some((String::new(), String::new()));
    }
    match text.matches('/').count() {
        0 => Some((String::new(), text.to_owned())),
        1 => text
            .split_once('/')
            .map(|(g, v)| (g.to_owned(), v.to_owned())),
        _ => None,
    }
}

/// The group, version and kind of an object as the apiserver's codec resolves them at an
/// endpoint whose own kind is `default`: what was written (read as [`interpret`] does)
/// with the missing parts filled in by `gvkWithDefaults`.
pub(crate) fn resolve_gvk(node: &Node<'_>, default: &Gvk) -> Result<(Gvk, TypeMeta), GoError> {
    let tm = interpret(node)?;
    let found = resolve_type_meta(&tm, default)?;
    Ok((found, tm))
}

/// [`resolve_gvk`] of what [`interpret`] read.
pub(crate) fn resolve_type_meta(tm: &TypeMeta, default: &Gvk) -> Result<Gvk, GoError> {
    let (group, version) = match &tm.api_version {
        None => (String::new(), String::new()),
        Some((key, text)) => parse_group_version(text).ok_or_else(|| {
            GoError::at_path(
                vec![Segment::Key(key.clone())],
                format!("unexpected GroupVersion string {text:?}: an apiVersion is group/version"),
            )
        })?,
    };
    let kind = tm.kind.as_ref().map(|(_, k)| k.clone()).unwrap_or_default();
    Ok(with_defaults(
        Gvk {
            group,
            version,
            kind,
        },
        default,
    ))
}

/// `gvkWithDefaults`: an empty kind, or an empty group and version, or an empty version of
/// the default's group, are taken from the default.
pub(crate) fn with_defaults(mut gvk: Gvk, default: &Gvk) -> Gvk {
    if gvk.kind.is_empty() {
        gvk.kind.clone_from(&default.kind);
    }
    if gvk.version.is_empty() && gvk.group.is_empty() {
        gvk.group.clone_from(&default.group);
        gvk.version.clone_from(&default.version);
    }
    if gvk.version.is_empty() && gvk.group == default.group {
        gvk.version.clone_from(&default.version);
    }
    gvk
}

/// The error for an object whose group, version or kind is none of the `expected`: the
/// path is the key that differs (`kind`, unless an expected kind has this name, then
/// `apiVersion`), the message names what was found and what was expected.
pub(crate) fn wrong_kind(found: &Gvk, tm: &TypeMeta, expected: &[Gvk]) -> GoError {
    let kind_key = tm.kind.as_ref().map(|(k, _)| k.clone());
    let api_key = tm.api_version.as_ref().map(|(k, _)| k.clone());
    let kind_known = expected.iter().any(|e| e.kind == found.kind);
    let key = if kind_known {
        api_key.or(kind_key)
    } else {
        kind_key.or(api_key)
    };
    let path = key.map(Segment::Key).into_iter().collect();
    let wanted: Vec<String> = expected
        .iter()
        .map(|e| format!("a {} (apiVersion {:?})", e.kind, e.api_version()))
        .collect();
    GoError::at_path(
        path,
        format!(
            "found kind {:?} of apiVersion {:?}, not {}",
            found.kind,
            found.api_version(),
            wanted.join(" or ")
        ),
    )
}

/// Checks that an object is of the expected `apiVersion` and `kind` (missing parts are
/// filled in as the apiserver does from the endpoint).
pub(crate) fn check_type_meta(
    node: &Node<'_>,
    api_version: &str,
    kind: &str,
) -> Result<(), GoError> {
    let (group, version) = parse_group_version(api_version).unwrap_or_default();
    let expected = Gvk {
        group,
        version,
        kind: kind.to_owned(),
    };
    let (found, tm) = resolve_gvk(node, &expected)?;
    if found == expected {
        Ok(())
    } else {
        Err(wrong_kind(&found, &tm, &[expected]))
    }
}

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

/// The text Go's decoder effectively reads: every `\uXXXX` escape of a UTF-16 surrogate
/// that is not part of a valid pair becomes `\ufffd` (Go's `unquote` substitutes U+FFFD;
/// serde_json refuses the escape). The replacement has the same length, so positions in
/// the result are positions in the input. Borrows when there is nothing to replace.
pub(crate) fn go_text(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = bytes.get(at..at + 4)?;
        let s = std::str::from_utf8(digits).ok()?;
        u32::from_str_radix(s, 16).ok()
    };
    let mut replace: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|b| *b == b'\\'))
    {
        i += off;
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        match hex4(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let pair = bytes.get(i + 6) == Some(&b'\\')
                    && bytes.get(i + 7) == Some(&b'u')
                    && matches!(hex4(i + 8), Some(0xDC00..=0xDFFF));
                if pair {
                    i += 12;
                } else {
                    replace.push(i + 2);
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                replace.push(i + 2);
                i += 6;
            }
            _ => i += 2,
        }
    }
    if replace.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    for at in replace {
        out.extend_from_slice(bytes.get(last..at).unwrap_or_default());
        out.extend_from_slice(b"fffd");
        last = at + 4;
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
    // Only ASCII hex digits were replaced by ASCII, so the text stays UTF-8.
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(text),
    }
}

/// The 1-based line and column (in bytes) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset - start + 1)
}

/// The byte offset where the value at `path` starts in JSON `text` (the last of repeated
/// keys, which is the one decoded). `None` when the path is not in the text.
pub(crate) fn locate(text: &str, path: &[Segment]) -> Option<usize> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        i: 0,
    };
    scan.find(path)
}

/// A scanner over JSON text that is known to parse.
struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn skip_string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    fn key(&mut self) -> Option<Cow<'a, str>> {
        self.ws();
        let start = self.i;
        self.skip_string()?;
        let raw = self.text.get(start..self.i)?;
        if raw.contains('\\') {
            serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
        } else {
            raw.get(1..raw.len().saturating_sub(1)).map(Cow::Borrowed)
        }
    }

    fn find(&mut self, path: &[Segment]) -> Option<usize> {
        self.ws();
        let Some((first, rest)) = path.split_first() else {
            return Some(self.i);
        };
        match first {
            Segment::Key(wanted) => {
                self.eat(b'{')?;
                let mut found = None;
                self.ws();
                if self.peek()? == b'}' {
                    return None;
                }
                loop {
                    let matches = self.key()?.as_ref() == wanted;
                    self.eat(b':')?;
                    self.ws();
                    if matches {
                        found = Some(self.i);
                    }
                    self.skip_value()?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        _ => break,
                    }
                }
                self.i = found?;
                self.find(rest)
            }
            Segment::Index(n) => {
                self.eat(b'[')?;
                for _ in 0..*n {
                    self.skip_value()?;
                    self.eat(b',')?;
                }
                self.find(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_escapes_of_the_same_length() {
        let cases = [
            (r#""\ud800""#, r#""\ufffd""#),
            (r#""\udc00x""#, r#""\ufffdx""#),
            (r#""\ud83d\ude00""#, r#""\ud83d\ude00""#),
            (r#""\ud800\ud83d\ude00""#, r#""\ufffd\ud83d\ude00""#),
            (r#""\ud800\u0041""#, r#""\ufffd\u0041""#),
            (r#""\\ud800""#, r#""\\ud800""#),
            (r#""\uD800""#, r#""\ufffd""#),
        ];
        for (input, want) in cases {
            let got = go_text(input);
            assert_eq!(got, want, "{input}");
            assert_eq!(got.len(), input.len());
            let s: String = serde_json::from_str(&got).unwrap();
            assert!(!s.is_empty());
        }
        assert!(matches!(go_text(r#"{"a": "b\n"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn locate_finds_the_last_of_repeated_keys_and_indexes() {
        let text = "{\"a\": 1,\n \"b\": [0, {\"c\": \"x\"}, 2], \"a\": {\"d\": null}}";
        let path = [
            Segment::Key("b".into()),
            Segment::Index(1),
            Segment::Key("c".into()),
        ];
        let at = locate(text, &path).unwrap();
        assert_eq!(&text[at..at + 3], "\"x\"");
        assert_eq!(line_col(text, at), (2, 17));
        let at = locate(text, &[Segment::Key("a".into()), Segment::Key("d".into())]).unwrap();
        assert_eq!(&text[at..at + 4], "null");
        assert_eq!(locate(text, &[Segment::Key("zz".into())]), None);
        assert_eq!(locate(text, &[]), Some(0));
        let escaped = r#"{"\u0061": [1, 2]}"#;
        let at = locate(escaped, &[Segment::Key("a".into()), Segment::Index(1)]).unwrap();
        assert_eq!(&escaped[at..at + 1], "2");
    }

    #[test]
    fn group_versions_parse_as_go_does() {
        assert_eq!(
            parse_group_version(""),
            Some((String::new(), String::new()))
        );
        assert_eq!(
            parse_group_version("/"),
            Some((String::new(), String::new()))
        );
        assert_eq!(
            parse_group_version("v1"),
            Some((String::new(), "v1".into()))
        );
        assert_eq!(
            parse_group_version("networking.k8s.io/"),
            Some(("networking.k8s.io".into(), String::new()))
        );
        assert_eq!(parse_group_version("a/b/c"), None);
    }

    #[test]
    fn folding_follows_go() {
        assert!(fold_eq("KIND", "kind"));
        assert!(fold_eq("\u{212A}ind", "kind"));
        assert!(fold_eq("apiVer\u{017F}ion", "apiVersion"));
        assert!(!fold_eq("k\u{130}nd", "kind"));
        assert!(!fold_eq("kinds", "kind"));
    }
}
