//! Reading a scenario in one pass: each namespace, node, pod and policy is handed to the
//! [`Loader`] as soon as it is decoded, so that neither a JSON tree of the whole text nor
//! the file's list of pods is ever held; only what the cluster keeps stays. A policy is
//! decoded from its text, borrowed from the file's (see `ScenarioPolicy`).
//!
//! The reader accepts what `Scenario`'s derived decoder accepts and gives up on anything
//! else (not an object, a repeated key, a selector case file's keys, an entry that does
//! not decode or does not load): the caller then takes the general path, which reports
//! the error exactly as it always did.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    ExpectRejected, KubeProxy, LoadedScenario, Loader, PodRef, PortRef, Rest, ScenarioError,
    ScenarioNamespace, ScenarioNode, ScenarioQuery, go_text, parse_profile,
};

/// The parts of the file the loader does not take entry by entry.
#[derive(Default)]
struct Parts {
    loader: Loader,
    profile: Option<String>,
    services: Vec<serde_json::Value>,
    queries: Vec<ScenarioQuery>,
    expect_rejected: Vec<ExpectRejected>,
    kube_proxy: Option<KubeProxy>,
}

/// The scenario in `text`, read in one pass; `None` when the reader gives up.
pub(super) fn read(text: &str) -> Option<LoadedScenario> {
    let text = go_text(text);
    let mut parts = Parts::default();
    let mut de = serde_json::Deserializer::from_str(&text);
    Top(&mut parts).deserialize(&mut de).ok()?;
    de.end().ok()?;
    let profile = parse_profile(parts.profile.as_deref()).ok()?;
    parts
        .loader
        .finish(Rest {
            profile,
            services: &parts.services,
            queries: &parts.queries,
            expect_rejected: parts.expect_rejected,
            masquerade_all: parts.kube_proxy.is_some_and(|k| k.masquerade_all),
        })
        .ok()
}

/// The top-level object.
struct Top<'p>(&'p mut Parts);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

/// The keys of a scenario, as `Scenario` names its fields.
const KEYS: [&str; 10] = [
    "description",
    "profile",
    "namespaces",
    "nodes",
    "pods",
    "policies",
    "services",
    "queries",
    "expectRejected",
    "kubeProxy",
];

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scenario object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.0;
        let mut seen = [false; KEYS.len()];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(at) = KEYS.iter().position(|k| *k == key) else {
                if key == "calicoSelectors" || key == "calicoBadSelectors" {
                    return Err(de::Error::custom("a Calico selector case file"));
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match seen.get_mut(at) {
                Some(seen) if !*seen => *seen = true,
                _ => return Err(de::Error::custom("a key given twice")),
            }
            match key.as_ref() {
                "description" => {
                    map.next_value::<Option<String>>()?;
                }
                "profile" => parts.profile = map.next_value()?,
                "namespaces" => {
                    let loader = &mut parts.loader;
                    map.next_value_seed(Each::new(|ns: ScenarioNamespace| {
                        loader.namespace(ns);
                        Ok(())
                    }))?;
                }
                "nodes" => {
                    let loader = &mut parts.loader;
                    map.next_value_seed(Each::new(|node: ScenarioNode| loader.node(node)))?;
                }
                "pods" => {
                    let loader = &mut parts.loader;
                    map.next_value_seed(Each::new(|pod: PodIn<'de>| {
                        let mut labels = pod.labels.0;
                        // As a map of them reads them: sorted by key, the last of a key.
                        labels.reverse();
                        labels.sort_by_key(|(k, _)| *k);
                        labels.dedup_by_key(|(k, _)| *k);
                        loader.add_pod(PodRef {
                            namespace: pod.namespace,
                            name: pod.name,
                            labels: &labels,
                            ips: pod.ip.into_iter().chain(pod.ips.iter().copied()),
                            node: pod.node,
                            ports: &pod.ports,
                            service_account: pod.service_account,
                        })
                    }))?;
                }
                "policies" => {
                    let loader = &mut parts.loader;
                    // Each policy's text as written, borrowed: it is decoded from that.
                    map.next_value_seed(Each::new(|raw: &'de serde_json::value::RawValue| {
                        loader.policy(raw.get());
                        Ok(())
                    }))?;
                }
                "services" => parts.services = map.next_value()?,
                "queries" => parts.queries = map.next_value()?,
                "expectRejected" => parts.expect_rejected = map.next_value()?,
                _ => parts.kube_proxy = map.next_value()?,
            }
        }
        Ok(())
    }
}

/// An array whose elements are handed to a function one by one as they are decoded.
struct Each<T, F> {
    f: F,
    element: PhantomData<fn() -> T>,
}

impl<T, F> Each<T, F> {
    fn new(f: F) -> Self {
        Each {
            f,
            element: PhantomData,
        }
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Each<T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), ScenarioError>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de, T, F> Visitor<'de> for Each<T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), ScenarioError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(x) = seq.next_element::<T>()? {
            (self.f)(x).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// A pod entry with its strings borrowed from the text: the fields of `ScenarioPod`, in
/// its order and with its defaults, so that it accepts what `ScenarioPod` accepts (a
/// string with an escape cannot be borrowed: the reader then gives up).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodIn<'a> {
    namespace: &'a str,
    name: &'a str,
    #[serde(default, borrow)]
    labels: LabelsIn<'a>,
    #[serde(default, borrow)]
    ip: Option<&'a str>,
    #[serde(default, borrow)]
    ips: Vec<&'a str>,
    #[serde(default, borrow)]
    node: Option<&'a str>,
    #[serde(default, borrow)]
    ports: Vec<PortRef<'a>>,
    #[serde(default, borrow)]
    service_account: Option<&'a str>,
}

/// A label object's pairs in the order written (a key may repeat).
#[derive(Default)]
struct LabelsIn<'a>(Vec<(&'a str, &'a str)>);

impl<'de: 'a, 'a> Deserialize<'de> for LabelsIn<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Pairs<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Pairs<'a> {
            type Value = LabelsIn<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelsIn<'a>, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(pair) = map.next_entry::<&'de str, &'de str>()? {
                    pairs.push(pair);
                }
                Ok(LabelsIn(pairs))
            }
        }
        de.deserialize_map(Pairs(PhantomData))
    }
}
