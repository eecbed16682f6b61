use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Labels;
use super::go_json::{go_struct, go_value};

go_struct! {
    /// `metav1.ObjectMeta`: every field typed as the apiserver types it, unknown fields
    /// kept verbatim.
    ///
    /// Server-set fields (`uid`, `resourceVersion`, `generation`, `creationTimestamp`,
    /// `managedFields`, …) are decoded with their Go types, so a value the apiserver would
    /// not decode (`generation: "1"`, `creationTimestamp: "yesterday"`) is refused here
    /// too, and serialize back as they were written. Fields Go does not know land in
    /// [`extra`](Self::extra).
    ///
    /// ```
    /// use netpol::model::ObjectMeta;
    ///
    /// let meta = ObjectMeta::named("prod", "web");
    /// assert_eq!(meta.namespace.as_deref(), Some("prod"));
    /// assert_eq!(meta.name.as_deref(), Some("web"));
    ///
    /// let read: ObjectMeta = serde_json::from_str(
    ///     r#"{"name": "a", "generation": 3, "creationTimestamp": "2024-05-01T10:00:00Z"}"#,
    /// )?;
    /// assert_eq!(read.generation, Some(3));
    /// assert_eq!(read.creation_timestamp.unwrap().as_str(), Some("2024-05-01T10:00:00Z"));
    /// assert!(serde_json::from_str::<ObjectMeta>(r#"{"generation": "3"}"#).is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ObjectMeta {
        /// `metadata.name`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub name: Option<String>,
        /// `metadata.generateName`: a prefix the server completes when `name` is absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub generate_name: Option<String>,
        /// `metadata.namespace`; absent means `default` wherever a namespace is needed.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub namespace: Option<String>,
        /// `metadata.selfLink` (no longer set by the server).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub self_link: Option<String>,
        /// `metadata.uid`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub uid: Option<String>,
        /// `metadata.resourceVersion`, an opaque string.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub resource_version: Option<String>,
        /// `metadata.generation` (Go `int64`).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub generation: Option<i64>,
        /// `metadata.creationTimestamp`.
        #[serde(skip_serializing_if = "Option::is_none")]
                pub creation_timestamp: Option<Time>,
        /// `metadata.deletionTimestamp`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub deletion_timestamp: Option<Time>,
        /// `metadata.deletionGracePeriodSeconds` (Go `*int64`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub deletion_grace_period_seconds: Option<i64>,
        /// `metadata.labels`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub labels: Option<Labels>,
        /// `metadata.annotations`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub annotations: Option<Labels>,
        /// `metadata.ownerReferences`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub owner_references: Option<Vec<OwnerReference>>,
        /// `metadata.finalizers`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub finalizers: Option<Vec<String>>,
        /// `metadata.managedFields`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub managed_fields: Option<Vec<ManagedFieldsEntry>>,
        /// Fields `metav1.ObjectMeta` does not have, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

impl ObjectMeta {
    /// Metadata with a namespace and a name and nothing else.
    ///
    /// ```
    /// let meta = netpol::model::ObjectMeta::named("default", "db");
    /// assert!(meta.labels.is_none());
    /// ```
    pub fn named(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        }
    }

    /// The namespace, or `default` when none is written.
    ///
    /// ```
    /// let meta = netpol::model::ObjectMeta::default();
    /// assert_eq!(meta.namespace_or_default(), "default");
    /// ```
    #[must_use]
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

go_struct! {
    /// One `metadata.ownerReferences` entry (`metav1.OwnerReference`).
    ///
    /// ```
    /// let r: netpol::model::OwnerReference = serde_json::from_str(
    ///     r#"{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4", "uid": "1f2e", "controller": true}"#,
    /// )?;
    /// assert_eq!(r.controller, Some(true));
    /// assert!(serde_json::from_str::<netpol::model::OwnerReference>(r#"{"controller": "yes"}"#).is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct OwnerReference {
        /// `apiVersion` of the owner.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `kind` of the owner.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub kind: Option<String>,
        /// `name` of the owner.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub name: Option<String>,
        /// `uid` of the owner.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub uid: Option<String>,
        /// `controller`: whether the owner manages this object.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub controller: Option<bool>,
        /// `blockOwnerDeletion`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub block_owner_deletion: Option<bool>,
        /// Fields Go does not have, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

go_struct! {
    /// One `metadata.managedFields` entry (`metav1.ManagedFieldsEntry`).
    ///
    /// ```
    /// let e: netpol::model::ManagedFieldsEntry = serde_json::from_str(
    ///     r#"{"manager": "kubectl", "operation": "Update", "time": "2024-05-01T10:00:00Z",
    ///         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}"#,
    /// )?;
    /// assert_eq!(e.fields_v1.unwrap()["f:spec"], serde_json::json!({}));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct ManagedFieldsEntry {
        /// `manager`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub manager: Option<String>,
        /// `operation`: `Apply` or `Update`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub operation: Option<String>,
        /// `apiVersion` of the field set.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub api_version: Option<String>,
        /// `time`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub time: Option<Time>,
        /// `fieldsType`, `FieldsV1`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub fields_type: Option<String>,
        /// `fieldsV1`: any JSON value, as Go's `FieldsV1.UnmarshalJSON` keeps the raw bytes.
        #[serde(rename = "fieldsV1", skip_serializing_if = "Option::is_none")]
        pub fields_v1: Option<serde_json::Value>,
        /// `subresource`.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(deserialize_with = "go_value")]
        pub subresource: Option<String>,
        /// Fields Go does not have, kept verbatim.
        #[serde(flatten)]
        pub extra: serde_json::Map<String, serde_json::Value>,
    }
    serde(rename_all = "camelCase");
}

/// A `metav1.Time`: an RFC 3339 time as Go's `time.Parse(time.RFC3339, …)` accepts it,
/// kept as written.
///
/// Decoding follows `metav1.Time.UnmarshalJSON`: `null` is the zero time (in an `Option`
/// field, `null` is `None`), a string must parse, anything else is an error. Go's parser
/// is a little more lenient than RFC 3339: a one-digit hour (`T1:02:03Z`), a comma
/// before the fraction, and zone offsets up to `±24:60` are accepted. Day, month and
/// range errors are refused (`2024-02-30T00:00:00Z`).
///
/// ```
/// use netpol::model::Time;
/// let t = Time::parse("2024-05-01T10:00:00.5+02:00")?;
/// assert_eq!(t.as_str(), Some("2024-05-01T10:00:00.5+02:00"));
/// assert!(Time::parse("yesterday").is_err());
/// assert!(Time::parse("2024-02-30T00:00:00Z").is_err());
/// let zero: Time = serde_json::from_str("null").unwrap();
/// assert_eq!(zero, Time::default());
/// assert_eq!(serde_json::to_string(&zero).unwrap(), "null");
/// # Ok::<(), netpol::model::TimeError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Time(Option<String>);

/// A string that is not a time Go's `time.Parse(time.RFC3339, …)` accepts.
///
/// ```
/// let err = netpol::model::Time::parse("2024-13-01T00:00:00Z").unwrap_err();
/// assert_eq!(err.to_string(), "parsing time \"2024-13-01T00:00:00Z\": month out of range");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing time {input:?}{detail}")]
pub struct TimeError {
    /// The string that was given.
    pub input: String,
    detail: String,
}

impl Time {
    /// Checks `text` as Go's `time.Parse(time.RFC3339, text)` does and keeps it as written.
    ///
    /// ```
    /// assert!(netpol::model::Time::parse("2024-05-01T9:00:00Z").is_ok()); // Go's one-digit hour
    /// assert!(netpol::model::Time::parse("2024-05-01t09:00:00z").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Time, TimeError> {
        check_rfc3339(text).map_err(|detail| TimeError {
            input: text.to_owned(),
            detail,
        })?;
        Ok(Time(Some(text.to_owned())))
    }

    /// The time as written, `None` for the zero time (written `null`).
    ///
    /// ```
    /// assert_eq!(netpol::model::Time::default().as_str(), None);
    /// ```
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// A time from text that is not checked (for conversions from types that checked it).
    #[cfg(feature = "k8s-openapi")]
    pub(crate) fn unchecked(text: String) -> Time {
        Time(Some(text))
    }
}

impl fmt::Display for Time {
    /// The time as written, `null` for the zero time. Read a time with [`Time::parse`]
    /// (there is no `FromStr`: `null` is the zero time's JSON, not a time Go parses).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("null"))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(text) => s.serialize_str(text),
            None => s.serialize_unit(),
        }
    }
}

/// `Time.UnmarshalJSON` on one occurrence; a repeated key runs it on each (see
/// `go_json::each`).
struct OneTime(Time);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::go_json::each(d, |one: OneTime| one.0)
    }
}

impl<'de> Deserialize<'de> for OneTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'a> Visitor<'a> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time string or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Time, E> {
                Ok(Time(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                Time::parse(v).map_err(E::custom)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Time, E> {
                Err(not_a_time(&format!("bool {v}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                Err(not_a_time(&format!("number {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                Err(not_a_time(&format!("number {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Time, E> {
                Err(not_a_time(&format!("number {v}")))
            }
            fn visit_seq<A: de::SeqAccess<'a>>(self, _: A) -> Result<Time, A::Error> {
                Err(not_a_time("array"))
            }
            fn visit_map<A: de::MapAccess<'a>>(self, _: A) -> Result<Time, A::Error> {
                Err(not_a_time("object"))
            }
        }
        fn not_a_time<E: de::Error>(found: &str) -> E {
            E::custom(format!("cannot unmarshal {found} into a string (a time)"))
        }
        d.deserialize_any(V).map(OneTime)
    }
}

const LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// Go's `time.Parse` with the `time.RFC3339` layout (`parseRFC3339`, then the general
/// `parse` it falls back to, which accepts a superset): `Ok` or the error detail.
fn check_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let rest = |i: usize| String::from_utf8_lossy(b.get(i..).unwrap_or_default()).into_owned();
    let bad =
        |i: usize, elem: &str| format!(" as {LAYOUT:?}: cannot parse {:?} as {elem:?}", rest(i));
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |i: usize, n: usize| -> u32 {
        b.get(i..i + n)
            .unwrap_or_default()
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let lit = |i: usize, c: u8, elem: &str| {
        if b.get(i) == Some(&c) {
            Ok(i + 1)
        } else {
            Err(bad(i, elem))
        }
    };
    let mut i = 0;
    // "2006": four digits.
    if !(0..4).all(digit) {
        return Err(bad(0, "2006"));
    }
    let year = num(0, 4);
    i += 4;
    i = lit(i, b'-', "-")?;
    // "01": two digits, 1-12.
    if !(digit(i) && digit(i + 1)) {
        return Err(bad(i, "01"));
    }
    let month = num(i, 2);
    if !(1..=12).contains(&month) {
        return Err(": month out of range".to_owned());
    }
    i += 2;
    i = lit(i, b'-', "-")?;
    // "02": two digits, checked against the month at the end.
    if !(digit(i) && digit(i + 1)) {
        return Err(bad(i, "02"));
    }
    let day = num(i, 2);
    i += 2;
    i = lit(i, b'T', "T")?;
    // "15": one or two digits, 0-23.
    if !digit(i) {
        return Err(bad(i, "15"));
    }
    let hour_len = if digit(i + 1) { 2 } else { 1 };
    if num(i, hour_len) > 23 {
        return Err(": hour out of range".to_owned());
    }
    i += hour_len;
    i = lit(i, b':', ":")?;
    // "04": two digits, 0-59.
    if !(digit(i) && digit(i + 1)) {
        return Err(bad(i, "04"));
    }
    if num(i, 2) > 59 {
        return Err(": minute out of range".to_owned());
    }
    i += 2;
    i = lit(i, b':', ":")?;
    // "05": two digits, 0-59, then an optional fraction after `.` or `,`.
    if !(digit(i) && digit(i + 1)) {
        return Err(bad(i, "05"));
    }
    if num(i, 2) > 59 {
        return Err(": second out of range".to_owned());
    }
    i += 2;
    if matches!(b.get(i), Some(b'.' | b',')) && digit(i + 1) {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    // "Z07:00": `Z`, or a sign, two digits, `:`, two digits (hour <= 24, minute <= 60).
    if b.get(i) == Some(&b'Z') {
        i += 1;
    } else {
        let sign_ok = matches!(b.get(i), Some(b'+' | b'-'));
        if b.len() < i + 6 || b.get(i + 3) != Some(&b':') {
            return Err(bad(i, "Z07:00"));
        }
        if !(digit(i + 1) && digit(i + 2) && digit(i + 4) && digit(i + 5)) {
            return Err(bad(i, "Z07:00"));
        }
        if num(i + 1, 2) > 24 {
            return Err(": time zone offset hour out of range".to_owned());
        }
        if num(i + 4, 2) > 60 {
            return Err(": time zone offset minute out of range".to_owned());
        }
        if !sign_ok {
            return Err(bad(i, "Z07:00"));
        }
        i += 6;
    }
    if i < b.len() {
        return Err(format!(": extra text: {:?}", rest(i)));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(": day out of range".to_owned());
    }
    Ok(())
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_rfc3339_leniencies_and_refusals() {
        for ok in [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.123456789Z",
            "2024-05-01T10:00:00.1234567891234Z",
            "2024-05-01T10:00:00,5Z",
            "2024-05-01T1:00:00Z",
            "2024-05-01T10:00:00+24:00",
            "2024-05-01T10:00:00-23:60",
            "2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(check_rfc3339(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "yesterday",
            "2024-05-01",
            "2024-05-01 10:00:00Z",
            "2024-05-01t10:00:00Z",
            "2024-05-01T10:00:00z",
            "2024-05-01T10:00:00",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:60:00Z",
            "2024-05-01T10:00:60Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-00T00:00:00Z",
            "2024-5-01T00:00:00Z",
            "24-05-01T00:00:00Z",
            "2024-05-01T10:00:00+25:00",
            "2024-05-01T10:00:00+02:61",
            "2024-05-01T10:00:00+0200",
            "2024-05-01T10:00:00*02:00",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00Zjunk",
            "2024-05-01T100:00:00Z",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_rfc3339("yesterday").unwrap_err(),
            " as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""
        );
    }
}
