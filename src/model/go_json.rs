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
//! | input | Go (apiserver) | here |
//! | --- | --- | --- |
//! | `null` in a pointer, slice or map field | sets it to nil (`literalStore`, case `'n'`) | `None` / empty, as if the key were absent |
//! | `null` in a string, number, bool or struct field | ignored: the field keeps its zero value (`literalStore` "ignore null for primitives/string"; `indirect` with `decodingNull`) | the zero value: `""`, `0`, `false`, a struct with every field at its zero value |
//! | `null` as an array element or map value | the element's zero value (`array` decodes into a fresh element; `object` zeroes `mapElem`) | `ingress: [null]` is `ingress: [{}]`, `values: ["a", null]` is `["a", ""]` |
//! | an array, string, number or bool where a struct is expected | `UnmarshalTypeError` "cannot unmarshal array into Go struct field …" (`array`, `object`, `literalStore`) | refused with the field path; serde's derive would read an array by position |
//! | an object or array where a string, number or bool is expected | `UnmarshalTypeError` | refused |
//! | a number with a fraction or exponent (`1.5`, `1e3`), or out of range, for an integer | `UnmarshalTypeError` "cannot unmarshal number 1.5 into … of type int32" (`literalStore`: `strconv.ParseInt`, `OverflowInt`) | refused |
//! | a string for a number, a number for a string | `UnmarshalTypeError` | refused |
//! | keys | matched exactly: `CaseSensitive` (sigs.k8s.io/json); unknown keys dropped | matched exactly; unknown keys kept in the model's `extra` map so the object round-trips |
//! | a repeated key | decoded again into the same field (non-strict); `duplicate field` with strict field validation | the last value wins (as in the JSON kubectl sends: it reads a manifest into a map first) |
//! | `"\ud800"` (a lone UTF-16 surrogate escape) | U+FFFD (`unquote`: "Invalid surrogate; fall back to replacement rune") | U+FFFD when the text is given to this module ([`from_str`], `NetworkPolicy::from_json`, `decode_policies`) |
//! | `intstr.IntOrString` given `null` | `Int(0)` (`IntOrString.UnmarshalJSON` decodes `null` into its `int32`) | [`IntOrString::Int(0)`](super::IntOrString); `null` in the pointer field `port` is absent |
//! | `metav1.Time` | `null` is the zero time, a string must parse with `time.Parse(time.RFC3339, …)` (`Time.UnmarshalJSON`) | [`Time`](super::Time) checks the string with the same rules and keeps it as written |
//! | `metav1.FieldsV1` (`managedFields[].fieldsV1`) | any JSON value (`FieldsV1.UnmarshalJSON` keeps the raw bytes) | any JSON value |
//! | `apiVersion` / `kind` of a top-level object | read first, case-insensitively (`SimpleMetaFactory.Interpret` uses `encoding/json`); a missing one is filled from the endpoint (`gvkWithDefaults`); `a/b/c` is refused by `schema.ParseGroupVersion`; another kind is decoded as that kind and fails conversion | a missing or empty one is filled in; any other group, version or kind is refused with what was found |
//!
//! Null therefore always decodes like the key's absence, and an element's `null` like
//! the element's zero value. A Rust `Option` stands for "absent" where Go cannot tell
//! absent from the zero value (`metadata.name`, `spec.podSelector`,
//! `ports[].targetPort`), so that a decoded object serializes back as it was written;
//! there `null` gives `None`, which every consumer reads as Go's zero value.
//!
//! # Where the crate still differs from Go, on purpose or by necessity
//!
//! - Numbers are read by serde_json: a number beyond the range of `f64` (`1e400`) is
//!   refused even in an unknown field Go would skip, and `-0` is read as the float
//!   `-0.0`, so it is refused for an integer field where Go reads `0`.
//! - Values nested deeper than 128 levels are refused (serde_json's limit; Go's is
//!   10000). Only unknown fields can nest that deep.
//! - A repeated key keeps its last value rather than being decoded over the first.
//! - Text is `&str`, so invalid UTF-8 cannot reach the decoder; callers reading bytes
//!   may replace invalid sequences with U+FFFD, as Go does inside strings.
//! - A lone surrogate escape is only replaced when the text comes through this module;
//!   `serde_json::from_str::<NetworkPolicy>` refuses it in serde_json's parser, before
//!   the model sees it.
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
//! buffered into a `serde_json::Value` once and decoded with this module's rules. Every
//! field below is decoded by this module's deserializer, so `Option`, `Vec`, maps,
//! strings and numbers need nothing of their own. Optional parts:
//!
//! - `serde(...)`: container attributes for both the public struct and the copy;
//! - `kind("group/version", "Kind")`: the object's `apiVersion` and `kind`, checked
//!   before anything else is decoded, as the apiserver's codec does;
//! - `checked { "jsonName" => field: Type, ... }`: fields whose Go types are checked
//!   while the model keeps them, as written, in its `extra` map (Service fields that
//!   routing does not read).
//!
//! Text given to this module ([`from_str`], `NetworkPolicy::from_json`,
//! `decode_policies`) is first decoded in one streaming pass that applies the same rules
//! on top of serde_json's deserializer, without building a `Value` (whose allocations
//! cost more than the decoding itself). Only when that pass fails is the object buffered
//! and decoded again through the `Value` path, which reports the error with its path and
//! position and resolves repeated keys; a list is decoded one item at a time.
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
/// alike: structs and maps accept only objects (or `null`), `null` is the zero value,
/// integers must be integral and in range. Trailing text is an error; lone surrogate
/// escapes become U+FFFD. Errors carry the field path and the line and column.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Port { name: String, #[serde(rename = "containerPort")] port: i32 }
///
/// let p: Port = netpol::model::go_json::from_str(r#"{"name": null, "containerPort": 80}"#)?;
/// assert_eq!(p, Port { name: String::new(), port: 80 });
/// let err = netpol::model::go_json::from_str::<Port>(r#"{"containerPort": 8e1}"#).unwrap_err();
/// assert_eq!(err.path, "containerPort");
/// assert_eq!(err.message, "cannot unmarshal number 80.0 into an int32");
/// let err = netpol::model::go_json::from_str::<Vec<Port>>("[[]]").unwrap_err();
/// assert_eq!(err.path, "[0]");
/// # Ok::<(), netpol::model::DecodeError>(())
/// ```
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    let text = go_text(text);
    if let Some(t) = decode_streaming::<T>(&text, Root::Text(&text)) {
        return Ok(t);
    }
    let value = parse_json(&text)?;
    decode_root::<T>(&value).map_err(|e| e.into_decode_error(Some(&text)))
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
    T::deserialize(ValueDe::new(value, Path::Root))
}

/// Parses text (already passed through [`go_text`]) into a value; syntax errors carry
/// serde_json's position.
pub(crate) fn parse_json(text: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(text).map_err(|e| syntax_error(&e))
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
}

impl GoError {
    fn new(message: impl Into<String>) -> Self {
        GoError {
            path: None,
            message: message.into(),
        }
    }

    /// An error about the value at `path`.
    pub(crate) fn at_path(path: Vec<Segment>, message: impl Into<String>) -> Self {
        GoError {
            path: Some(path),
            message: message.into(),
        }
    }

    /// Sets the path unless an inner value already did.
    fn at(mut self, path: &Path<'_>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.segments());
        }
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
        let (line, column) = text
            .and_then(|t| locate(t, &segments).map(|offset| line_col(t, offset)))
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

/// How a JSON value is named in a message, quoting short scalars.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("string {shown:?}")
        }
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

fn mismatch(value: &Value, expected: &str) -> GoError {
    GoError::new(format!(
        "cannot unmarshal {} into {expected}",
        describe(value)
    ))
}

// ---------------------------------------------------------------------------------------
// The deserializer
// ---------------------------------------------------------------------------------------

/// Marker names start with this; the rest is `Type` or `Type|group/version|Kind`.
macro_rules! marker_prefix {
    () => {
        "$netpol::go_json|"
    };
}
pub(crate) use marker_prefix;

/// The variant tag this module's deserializer answers a marker with.
const MARKER_TAG: &str = "$netpol::go_json::value";

/// A deserializer over a borrowed [`Value`] that applies Go's rules.
pub(crate) struct ValueDe<'de, 'p> {
    value: &'de Value,
    path: Path<'p>,
    /// The model type being decoded, from its marker, for messages.
    hint: Option<&'static str>,
}

impl<'de, 'p> ValueDe<'de, 'p> {
    fn new(value: &'de Value, path: Path<'p>) -> Self {
        ValueDe {
            value,
            path,
            hint: None,
        }
    }

    fn int(&self, ty: &'static str, min: i128, max: i128) -> Result<i128, GoError> {
        match self.value {
            Value::Null => Ok(0),
            Value::Number(n) => {
                let v = if let Some(u) = n.as_u64() {
                    i128::from(u)
                } else if let Some(i) = n.as_i64() {
                    i128::from(i)
                } else {
                    return Err(mismatch(self.value, article(ty)));
                };
                if v < min || v > max {
                    return Err(GoError::new(format!(
                        "cannot unmarshal number {n} into {}: out of range",
                        article(ty)
                    )));
                }
                Ok(v)
            }
            other => Err(mismatch(other, article(ty))),
        }
    }

    fn signed<V: Visitor<'de>>(
        self,
        ty: &'static str,
        min: i128,
        max: i128,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let path = self.path;
        let v = self.int(ty, min, max).map_err(|e| e.at(&path))?;
        let v = i64::try_from(v).map_err(|_| GoError::new("integer out of range").at(&path))?;
        visitor.visit_i64::<GoError>(v).map_err(|e| e.at(&path))
    }

    fn unsigned<V: Visitor<'de>>(
        self,
        ty: &'static str,
        max: i128,
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let path = self.path;
        let v = self.int(ty, 0, max).map_err(|e| e.at(&path))?;
        let v = u64::try_from(v).map_err(|_| GoError::new("integer out of range").at(&path))?;
        visitor.visit_u64::<GoError>(v).map_err(|e| e.at(&path))
    }

    fn object<V: Visitor<'de>>(self, expected: &str, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        let result = match self.value {
            Value::Object(map) => visitor.visit_map(ObjectAccess {
                iter: map.iter(),
                pending: None,
                parent: &path,
            }),
            Value::Null => visitor.visit_map(de::value::MapDeserializer::new(std::iter::empty::<(
                &str,
                &str,
            )>())),
            other => Err(mismatch(other, expected)),
        };
        result.map_err(|e| e.at(&path))
    }

    fn struct_expected(&self, name: &str) -> String {
        format!("an object ({})", self.hint.unwrap_or(name))
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

impl<'de, 'p> Deserializer<'de> for ValueDe<'de, 'p> {
    type Error = GoError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(ArrayAccess {
                iter: items.iter().enumerate(),
                parent: &path,
            }),
            Value::Object(map) => visitor.visit_map(ObjectAccess {
                iter: map.iter(),
                pending: None,
                parent: &path,
            }),
        };
        result.map_err(|e| e.at(&path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_bool(false),
            Value::Bool(b) => visitor.visit_bool(*b),
            other => Err(mismatch(other, "a bool")),
        }
        .map_err(|e| e.at(&path))
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
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_f64(0.0),
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            other => Err(mismatch(other, "a float")),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_borrowed_str(""),
            Value::String(s) => visitor.visit_borrowed_str(s),
            other => Err(mismatch(other, "a string")),
        }
        .map_err(|e| e.at(&path))
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

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_unit(),
            other => Err(mismatch(other, "null")),
        }
        .map_err(|e| e.at(&path))
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
        let Some(rest) = name.strip_prefix(marker_prefix!()) else {
            return visitor.visit_newtype_struct(self).map_err(|e| e.at(&path));
        };
        let mut parts = rest.split('|');
        let type_name = parts.next().unwrap_or(rest);
        if let (Some(api_version), Some(kind)) = (parts.next(), parts.next()) {
            check_type_meta(self.value, api_version, kind)
                .map_err(|e| e.under(&path.segments()))?;
        }
        let de = ValueDe {
            value: self.value,
            path,
            hint: Some(type_name),
        };
        visitor
            .visit_enum(MarkerAccess { de })
            .map_err(|e| e.at(&path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Array(items) => visitor.visit_seq(ArrayAccess {
                iter: items.iter().enumerate(),
                parent: &path,
            }),
            Value::Null => {
                visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<&str>()))
            }
            other => Err(mismatch(other, "an array")),
        }
        .map_err(|e| e.at(&path))
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
        self.object(&expected, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let expected = self.struct_expected(name);
        self.object(&expected, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoError> {
        let path = self.path;
        match self.value {
            Value::Null => visitor.visit_enum(IntoDeserializer::<GoError>::into_deserializer("")),
            Value::String(s) => {
                visitor.visit_enum(IntoDeserializer::<GoError>::into_deserializer(s.as_str()))
            }
            other => Err(mismatch(other, "a string")),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoError> {
        visitor.visit_unit()
    }
}

/// The entries of an object, with their paths.
struct ObjectAccess<'de, 'p> {
    iter: serde_json::map::Iter<'de>,
    pending: Option<(&'de str, &'de Value)>,
    parent: &'p Path<'p>,
}

impl<'de> MapAccess<'de> for ObjectAccess<'de, '_> {
    type Error = GoError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.pending = Some((k.as_str(), v));
                seed.deserialize(BorrowedStrDeserializer::new(k.as_str()))
                    .map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GoError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(GoError::new("a value was asked for before its key"));
        };
        let path = Path::Key(self.parent, key);
        seed.deserialize(ValueDe::new(value, path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The elements of an array, with their paths.
struct ArrayAccess<'de, 'p> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    parent: &'p Path<'p>,
}

impl<'de> SeqAccess<'de> for ArrayAccess<'de, '_> {
    type Error = GoError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GoError> {
        match self.iter.next() {
            None => Ok(None),
            Some((i, v)) => seed
                .deserialize(ValueDe::new(v, Path::Index(self.parent, i)))
                .map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// This deserializer's answer to a model's marker: an enum whose variant tag says "this
/// module's deserializer" and whose newtype content is the value itself.
struct MarkerAccess<'de, 'p> {
    de: ValueDe<'de, 'p>,
}

impl<'de, 'p> EnumAccess<'de> for MarkerAccess<'de, 'p> {
    type Error = GoError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), GoError> {
        let tag = seed.deserialize(BorrowedStrDeserializer::<GoError>::new(MARKER_TAG))?;
        Ok((tag, self))
    }
}

impl<'de> VariantAccess<'de> for MarkerAccess<'de, '_> {
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
fn decode_buffered<T: DeserializeOwned, E: de::Error>(value: &Value) -> Result<T, E> {
    decode_root::<T>(value).map_err(E::custom)
}

/// What a model's `Deserialize` gets back from the deserializer it was given: this
/// module's marker (decode in place), or whatever another deserializer produces for a
/// newtype (buffer, then decode with the rules).
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
        let value = Value::deserialize(d)?;
        decode_buffered(&value)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        let value = Value::deserialize(d)?;
        decode_buffered(&value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            object.insert(k, v);
        }
        decode_buffered(&Value::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        decode_buffered(&Value::Array(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        decode_buffered(&Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        decode_buffered(&Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        decode_buffered(&Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        decode_buffered(&Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        decode_buffered(&Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        decode_buffered(&Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        decode_buffered(&Value::String(v.to_owned()))
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
        $( kind( $gv:literal, $kind:literal ); )?
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
                    $(, "|", $gv, "|", $kind)?
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
// Buffering a large object into a `Value` costs more than decoding it (the tree's
// allocations and their release dominate), so text is first decoded in one streaming pass
// by `StreamDe`, which applies the same rules on top of serde_json's deserializer. It
// reports no paths: on any error the text is decoded again through the `Value` path,
// which is the authority for errors (their path, message and order) and for repeated
// keys (a repeated struct field stops the streaming pass; maps keep their last value in
// both). So the fast path can only accept what the `Value` path accepts, with the same
// result; the property tests and the fuzz checks hold the two routes equal.

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
/// anything fails, for the caller to decode through the `Value` path instead.
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
/// `apiVersion` or `kind`) with their values, and whether it has an `items` key. `None`
/// for text that does not scan as JSON; an empty result for a non-object.
pub(crate) fn scan_top(text: &str) -> Option<(serde_json::Map<String, Value>, bool)> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        i: 0,
    };
    let mut map = serde_json::Map::new();
    let mut items = false;
    scan.ws();
    if scan.peek() != Some(b'{') {
        return Some((map, items));
    }
    scan.i += 1;
    scan.ws();
    if scan.peek()? == b'}' {
        return Some((map, items));
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
            map.insert(key.into_owned(), serde_json::from_str(raw).ok()?);
        }
        scan.ws();
        match scan.peek()? {
            b',' => scan.i += 1,
            _ => return Some((map, items)),
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
                    let (map, _) = scan_top(text).ok_or_else(no)?;
                    check_type_meta(&Value::Object(map), api_version, kind)
                        .map_err(|_| no::<D::Error>())?;
                }
                // A model with a kind inside another (a list's items): its keys are not
                // known yet, so it is buffered and decoded through the `Value` path.
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
        // Read it as the `Value` path does (numbers beyond f64 and nesting beyond 128 are
        // refused there too), then drop it.
        Value::deserialize(self.de)?;
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
/// `kind` strings, so keys match case-insensitively, a later key overrides an earlier
/// one, `null` leaves the field alone and a non-string is an error. Keys are visited in
/// the map's (sorted) order, which is the order in the JSON kubectl sends.
pub(crate) fn interpret(value: &Value) -> Result<TypeMeta, GoError> {
    match value {
        Value::Object(map) => interpret_map(map),
        _ => Ok(TypeMeta::default()),
    }
}

/// [`interpret`] on the fields of an object.
pub(crate) fn interpret_map(map: &serde_json::Map<String, Value>) -> Result<TypeMeta, GoError> {
    let mut tm = TypeMeta::default();
    for (key, v) in map {
        let slot = if fold_eq(key, "apiVersion") {
            &mut tm.api_version
        } else if fold_eq(key, "kind") {
            &mut tm.kind
        } else {
            continue;
        };
        match v {
            Value::String(s) => *slot = Some((key.clone(), s.clone())),
            Value::Null => {}
            other => {
                return Err(GoError::at_path(
                    vec![Segment::Key(key.clone())],
                    format!(
                        "couldn't get version/kind: {}",
                        mismatch(other, "a string").message
                    ),
                ));
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
pub(crate) fn resolve_gvk(value: &Value, default: &Gvk) -> Result<(Gvk, TypeMeta), GoError> {
    let tm = interpret(value)?;
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
    let found = with_defaults(
        Gvk {
            group,
            version,
            kind,
        },
        default,
    );
    Ok((found, tm))
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
pub(crate) fn check_type_meta(value: &Value, api_version: &str, kind: &str) -> Result<(), GoError> {
    let (group, version) = parse_group_version(api_version).unwrap_or_default();
    let expected = Gvk {
        group,
        version,
        kind: kind.to_owned(),
    };
    let (found, tm) = resolve_gvk(value, &expected)?;
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
