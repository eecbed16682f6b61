use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is either a number or a string, like Kubernetes' `intstr.IntOrString`.
///
/// In a [`NetworkPolicyPort`](super::NetworkPolicyPort) the number is a port number and the
/// string a named container port. It serializes as a bare JSON number or string.
///
/// ```
/// use netpol::model::IntOrString;
///
/// let n: IntOrString = serde_json::from_str("5432").unwrap();
/// let s: IntOrString = serde_json::from_str("\"postgres\"").unwrap();
/// assert_eq!(n, IntOrString::Int(5432));
/// assert_eq!(s, IntOrString::String("postgres".into()));
/// assert_eq!(n.to_string(), "5432");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A number (Kubernetes stores an `int32`).
    Int(i32),
    /// A string, for ports the name of a container port.
    String(String),
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<u16> for IntOrString {
    fn from(v: u16) -> Self {
        IntOrString::Int(i32::from(v))
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(v.to_owned())
    }
}

impl From<String> for IntOrString {
    fn from(v: String) -> Self {
        IntOrString::String(v)
    }
}

impl fmt::Display for IntOrString {
    /// The number, or the string as written. Not parsed back (there is no `FromStr`): a
    /// number and a string of digits print alike, and they mean different things.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(n) => s.serialize_i32(*n),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    /// As `intstr.IntOrString.UnmarshalJSON`: a string is a string, anything else is
    /// decoded as an `int32`, so `null` is `Int(0)` and `1.5`, `1e3`, `true` are errors.
    /// (In an `Option` field, which Go writes as a pointer, `null` is `None`.)
    ///
    /// ```
    /// use netpol::model::IntOrString;
    /// assert_eq!(serde_json::from_str::<IntOrString>("null").unwrap(), IntOrString::Int(0));
    /// assert!(serde_json::from_str::<IntOrString>("1.5").is_err());
    /// assert!(serde_json::from_str::<IntOrString>("3000000000").is_err());
    /// ```
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::go_json::each(d, |one: One| one.0)
    }
}

/// `IntOrString.UnmarshalJSON` on one occurrence; Go runs it on each occurrence of a
/// repeated key (see `go_json::each`).
struct One(IntOrString);

impl<'de> Deserialize<'de> for One {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'a> Visitor<'a> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an int32 or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| not_int32(&format!("number {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| not_int32(&format!("number {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<IntOrString, E> {
                Err(not_int32(&format!("number {v:?}")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<IntOrString, E> {
                Err(not_int32(&format!("bool {v}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(0))
            }
            fn visit_none<E: de::Error>(self) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(0))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v))
            }
            fn visit_seq<A: de::SeqAccess<'a>>(self, _: A) -> Result<IntOrString, A::Error> {
                Err(not_int32("array"))
            }
            fn visit_map<A: de::MapAccess<'a>>(self, _: A) -> Result<IntOrString, A::Error> {
                Err(not_int32("object"))
            }
        }
        /// `IntOrString.UnmarshalJSON` decodes every non-string into the `int32`.
        fn not_int32<E: de::Error>(found: &str) -> E {
            E::custom(format!(
                "cannot unmarshal {found} into an int-or-string (an int32 or a string)"
            ))
        }
        d.deserialize_any(V).map(One)
    }
}
