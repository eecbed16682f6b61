//! A small JSON layer that decodes net-conf.json the way Go's encoding/json fills a
//! struct: keys are matched exactly, then case-insensitively, unknown keys are skipped
//! without being materialised, and every known key is kept in document order so that
//! repeated keys resolve to the last one.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON value as a Go struct field sees it: scalars are kept, objects are only
/// recorded as such (no net-conf field that reads a scalar accepts an object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Array(Vec<Scalar>),
    Object,
}

impl Scalar {
    /// The JSON type name, as Go's error messages write it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "bool",
            Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_) => "number",
            Scalar::Str(_) => "string",
            Scalar::Array(_) => "array",
            Scalar::Object => "object",
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::I64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar>()? {
            items.push(item);
        }
        Ok(Scalar::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// One key of an object, as written, with what it resolved to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry<V> {
    /// The key exactly as written.
    pub key: String,
    /// Index into the field table, or `None` for a key no field reads.
    pub field: Option<usize>,
    /// Whether the match was only case-insensitive.
    pub folded: bool,
    /// The value, for known keys.
    pub value: Option<V>,
}

/// An object decoded against a table of field names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object<V> {
    pub entries: Vec<Entry<V>>,
}

impl<V> Default for Object<V> {
    fn default() -> Self {
        Object {
            entries: Vec::new(),
        }
    }
}

/// Folds a key the way Go's encoding/json compares names: ASCII case, plus the two
/// non-ASCII letters that fold to ASCII ones (KELVIN SIGN to `k`, LONG S to `s`).
fn fold_char(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c => c.to_ascii_lowercase(),
    }
}

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

/// Finds the field a key names: exact match first, then a case-insensitive one.
pub(crate) fn resolve(fields: &[&str], key: &str) -> Option<(usize, bool)> {
    if let Some(i) = fields.iter().position(|f| *f == key) {
        return Some((i, false));
    }
    fields
        .iter()
        .position(|f| fold_eq(f, key))
        .map(|i| (i, true))
}

/// The outcome of decoding a whole document or a nested value that should be an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Doc<V> {
    Object(Object<V>),
    Null,
    /// Something else; the JSON type name.
    Other(&'static str),
}

/// Decodes objects against `fields`, reading known values with `V`'s own
/// `Deserialize` and skipping the rest.
pub(crate) struct DocSeed<'f, V> {
    pub fields: &'f [&'f str],
    pub marker: std::marker::PhantomData<V>,
}

impl<'de, V: de::Deserialize<'de>> de::DeserializeSeed<'de> for DocSeed<'_, V> {
    type Value = Doc<V>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Doc<V>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, V: de::Deserialize<'de>> Visitor<'de> for DocSeed<'_, V> {
    type Value = Doc<V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Doc<V>, E> {
        Ok(Doc::Other("bool"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Doc<V>, E> {
        Ok(Doc::Other("number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Doc<V>, E> {
        Ok(Doc::Other("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Doc<V>, E> {
        Ok(Doc::Other("number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Doc<V>, E> {
        Ok(Doc::Other("string"))
    }
    fn visit_unit<E>(self) -> Result<Doc<V>, E> {
        Ok(Doc::Null)
    }
    fn visit_none<E>(self) -> Result<Doc<V>, E> {
        Ok(Doc::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<V>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Doc::Other("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<V>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match resolve(self.fields, &key) {
                Some((field, folded)) => {
                    let value = map.next_value::<V>()?;
                    entries.push(Entry {
                        key,
                        field: Some(field),
                        folded,
                        value: Some(value),
                    });
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    entries.push(Entry {
                        key,
                        field: None,
                        folded: false,
                        value: None,
                    });
                }
            }
        }
        Ok(Doc::Object(Object { entries }))
    }
}

/// Case-insensitive edit distance (Levenshtein) between two short keys.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != cb);
            let del = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The closest of `known` to `key`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = match key.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    known
        .into_iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_follows_go() {
        assert!(fold_eq("network", "Network"));
        assert!(fold_eq("\u{212A}ey", "key"));
        assert!(!fold_eq("networks", "Network"));
        assert_eq!(
            resolve(&["Network", "Networks"], "NETWORKS"),
            Some((1, true))
        );
        assert_eq!(resolve(&["Port"], "Port"), Some((0, false)));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("Direcrouting", "DirectRouting"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("Netwrok", ["Network", "SubnetLen"]),
            Some("Network")
        );
        assert_eq!(suggest("Foo", ["Network"]), None);
    }
}
