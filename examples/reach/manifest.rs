//! Reading Kubernetes manifests (YAML or JSON, one or many documents, `List`s) into what
//! the engine needs: namespaces, nodes, pods, services and validated policies.
//!
//! Nothing is dropped silently: every object that cannot be used is an [`Issue`] with the
//! file, the document index and the line where the object starts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use netpol::cluster::{Cluster, ClusterError, ContainerPort, PodSpec};
use netpol::model::{Labels, NetworkPolicy};
use netpol::policy::{Policy, Protocol};
use netpol::service::{ResolvedService, Service, ServiceError, ServiceTable};
use serde::Serialize;
use serde_json::Value;

/// Where an object was read: file, 1-based document index, 1-based line (0 when
/// unknown), and the index in a list's `items` when it came from one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The file, as given (or `<built-in>`).
    pub file: String,
    /// 1-based document index within the file.
    pub document: usize,
    /// 1-based line where the object starts, 0 when unknown.
    pub line: usize,
    /// Index in `items` for an object of a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, " (document {}", self.document)?;
        if let Some(i) = self.item {
            write!(f, ", items[{i}]")?;
        }
        f.write_str(")")
    }
}

/// How bad an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Read, but not (yet) used for the answers.
    Note,
    /// Used, with something left out.
    Warning,
    /// Not used at all.
    Error,
}

/// Something in the input that could not be used as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Where.
    #[serde(flatten)]
    pub position: Position,
    /// How bad.
    pub severity: Severity,
    /// What, on one line; details (validation errors) follow on their own lines.
    pub message: String,
    /// Further lines, such as one validation error per line with its field path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {sev}: {}", self.position, self.message)?;
        for d in &self.details {
            write!(f, "\n    {d}")?;
        }
        Ok(())
    }
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// Namespaces with their labels.
    pub namespaces: Vec<(Position, String, Labels)>,
    /// Nodes with their addresses, InternalIP first.
    pub nodes: Vec<(Position, String, Vec<IpAddr>)>,
    /// Pods that have an IP.
    pub pods: Vec<(Position, PodSpec)>,
    /// Services that decoded and resolved (addresses, selector, defaulted ports).
    pub services: Vec<(Position, ResolvedService)>,
    /// Policies that passed validation.
    pub policies: Vec<(Position, Policy)>,
    /// Everything that could not be used as given.
    pub issues: Vec<Issue>,
}

/// The file extensions a folder is searched for.
pub const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

impl Manifests {
    /// Reads files and folders (folders recursively, files ending in `.yaml`, `.yml` or
    /// `.json`, in name order). A path that cannot be read is an issue.
    pub fn read_paths(paths: &[PathBuf]) -> Manifests {
        let mut out = Manifests::default();
        for path in paths {
            let mut files = Vec::new();
            if let Err(e) = collect_files(path, true, &mut files) {
                out.issues.push(Issue {
                    position: file_position(path),
                    severity: Severity::Error,
                    message: format!("cannot read: {e}"),
                    details: Vec::new(),
                });
                continue;
            }
            if files.is_empty() {
                out.issues.push(Issue {
                    position: file_position(path),
                    severity: Severity::Warning,
                    message: format!(
                        "folder holds no manifest (files ending in .{})",
                        EXTENSIONS.join(", .")
                    ),
                    details: Vec::new(),
                });
            }
            for file in files {
                match std::fs::read(&file) {
                    Ok(bytes) => out.read_bytes(&file.display().to_string(), &bytes),
                    Err(e) => out.issues.push(Issue {
                        position: file_position(&file),
                        severity: Severity::Error,
                        message: format!("cannot read: {e}"),
                        details: Vec::new(),
                    }),
                }
            }
        }
        out
    }

    /// Reads the documents of a file's bytes. JSON with invalid UTF-8 is read as the
    /// apiserver's decoder reads it, with each bad sequence replaced by U+FFFD (noted);
    /// YAML must be UTF-8, as kubectl's YAML parser requires.
    pub fn read_bytes(&mut self, file: &str, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.read_text(file, text),
            Err(e) => {
                let text = String::from_utf8_lossy(bytes);
                let line = 1 + bytes
                    .get(..e.valid_up_to())
                    .unwrap_or_default()
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                let position = Position {
                    file: file.to_owned(),
                    document: 1,
                    line,
                    item: None,
                };
                if looks_like_json(&text) {
                    self.issues.push(Issue {
                        position,
                        severity: Severity::Note,
                        message: "not valid UTF-8: read with the bad bytes replaced by U+FFFD, as the apiserver's JSON decoder does".into(),
                        details: Vec::new(),
                    });
                    self.read_text(file, &text);
                } else {
                    self.error(position, "not valid UTF-8; nothing in this file is used");
                }
            }
        }
    }

    /// Reads the documents of one text (YAML, which includes JSON), naming it `file` in
    /// issues.
    pub fn read_text(&mut self, file: &str, text: &str) {
        // JSON is YAML too, but more lenient YAML would accept broken JSON
        // (`{"name": }`); JSON text must be JSON. The check reads it as Go does (a lone
        // UTF-16 surrogate escape is U+FFFD, not an error).
        if looks_like_json(text) {
            if let Err(je) = netpol::model::go_json::from_str::<serde::de::IgnoredAny>(text) {
                self.issues.push(Issue {
                    position: Position {
                        file: file.to_owned(),
                        document: 1,
                        line: je.line,
                        item: None,
                    },
                    severity: Severity::Error,
                    message: "not valid JSON; nothing in this file is used".into(),
                    details: vec![je.to_string()],
                });
                return;
            }
        }
        let docs: Vec<serde_saphyr::Spanned<Value>> = match serde_saphyr::from_multiple(text) {
            Ok(docs) => docs,
            Err(e) => {
                // A JSON file gets the JSON parser's message when that one fails too.
                // Valid JSON that the YAML parser refuses (rare: tabs, odd escapes).
                if let Ok(v) = netpol::model::go_json::from_str::<Value>(text) {
                    self.read_document(file, 1, 1, v, &[]);
                    return;
                }
                let line = e
                    .location()
                    .and_then(|l| usize::try_from(l.line()).ok())
                    .unwrap_or(0);
                let message = e.to_string().replace("<input>", file);
                self.issues.push(Issue {
                    position: Position {
                        file: file.to_owned(),
                        document: document_of_line(text, line),
                        line,
                        item: None,
                    },
                    severity: Severity::Error,
                    message: "not valid YAML or JSON; nothing in this file is used".into(),
                    details: message.lines().map(str::to_owned).collect(),
                });
                return;
            }
        };
        // A second pass for the line of each list item; lists are rare and small.
        let item_lines: Vec<Vec<usize>> = match serde_saphyr::from_multiple::<ItemLines>(text) {
            Ok(v) if v.len() == docs.len() => {
                v.into_iter().map(|d| d.items.unwrap_or_default()).collect()
            }
            _ => Vec::new(),
        };
        for (i, doc) in docs.into_iter().enumerate() {
            let line = usize::try_from(doc.referenced.line()).unwrap_or(0);
            let lines = item_lines.get(i).map(Vec::as_slice).unwrap_or(&[]);
            self.read_document(file, i + 1, line, doc.value, lines);
        }
    }

    fn read_document(
        &mut self,
        file: &str,
        document: usize,
        line: usize,
        value: Value,
        item_lines: &[usize],
    ) {
        let position = Position {
            file: file.to_owned(),
            document,
            line,
            item: None,
        };
        let kind = value.get("kind").and_then(Value::as_str).map(str::to_owned);
        let is_list = matches!(&value, Value::Array(_))
            || (value.get("items").is_some()
                && kind.as_deref().is_none_or(|k| k.ends_with("List")));
        if !is_list {
            self.read_object(position, value, None);
            return;
        }
        // `kind: PodList` items usually carry no kind of their own.
        let item_kind = kind
            .as_deref()
            .and_then(|k| k.strip_suffix("List"))
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let items = match value {
            Value::Array(items) => items,
            mut other => match other.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    self.error(position, "`items` is not a list; nothing in it is used");
                    return;
                }
            },
        };
        for (i, item) in items.into_iter().enumerate() {
            let pos = Position {
                line: item_lines.get(i).copied().unwrap_or(line),
                item: Some(i),
                ..position.clone()
            };
            self.read_object(pos, item, item_kind.as_deref());
        }
    }

    fn read_object(&mut self, position: Position, value: Value, default_kind: Option<&str>) {
        if value.is_null() {
            return; // an empty document, such as a trailing `---`
        }
        if !value.is_object() {
            self.error(position, "not an object (a mapping with `kind`)");
            return;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .or(default_kind)
            .map(str::to_owned);
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        // The core kinds live in `v1`; the apiserver refuses them under another
        // apiVersion (`apps/v1 Pod` is no kind it knows). NetworkPolicy and Service check
        // their own when they are decoded.
        if let Some(k @ ("Namespace" | "Node" | "Pod")) = kind.as_deref() {
            if !is_core_v1(api) {
                let name = object_name(&value);
                return self.error(
                    position,
                    &format!(
                        "{k} {name}: apiVersion {api:?} has no kind {k} (it is \"v1\"); left out"
                    ),
                );
            }
        }
        match kind.as_deref() {
            Some("Namespace") => self.read_namespace(position, &value),
            Some("Node") => self.read_node(position, &value),
            Some("Pod") => self.read_pod(position, &value),
            Some("Service") => self.read_service(position, &value),
            Some("NetworkPolicy") => self.read_policy(position, &value),
            Some(other) => {
                let name = object_name(&value);
                self.issues.push(Issue {
                    position,
                    severity: Severity::Warning,
                    message: format!(
                        "kind {other} ({}{name}) is not used: only Namespace, Node, Pod, Service and NetworkPolicy are",
                        if api.is_empty() { String::new() } else { format!("{api} ") }
                    ),
                    details: Vec::new(),
                });
            }
            None => self.error(position, "no `kind`: cannot tell what this object is"),
        }
    }

    /// Decodes an object with the apiserver's rules; an object the apiserver would not
    /// decode is an error, left out.
    fn decode<T: serde::de::DeserializeOwned>(
        &mut self,
        position: &Position,
        kind: &str,
        v: &Value,
    ) -> Option<T> {
        match netpol::model::go_json::from_value::<T>(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.issues.push(Issue {
                    position: position.clone(),
                    severity: Severity::Error,
                    message: format!("{kind} {}: cannot be decoded, left out", object_name(v)),
                    details: vec![format!(
                        "{}: {}",
                        if e.path.is_empty() {
                            "(object)"
                        } else {
                            &e.path
                        },
                        e.message
                    )],
                });
                None
            }
        }
    }

    fn read_namespace(&mut self, position: Position, v: &Value) {
        let Some(ns) = self.decode::<json::Namespace>(&position, "Namespace", v) else {
            return;
        };
        let Some(name) = ns.metadata.name.filter(|n| !n.is_empty()) else {
            return self.error(position, "Namespace without metadata.name");
        };
        let labels = ns.metadata.labels.unwrap_or_default();
        self.namespaces.push((position, name, labels));
    }

    fn read_node(&mut self, position: Position, v: &Value) {
        let Some(node) = self.decode::<json::Node>(&position, "Node", v) else {
            return;
        };
        let Some(name) = node.metadata.name.filter(|n| !n.is_empty()) else {
            return self.error(position, "Node without metadata.name");
        };
        let mut internal = Vec::new();
        let mut external = Vec::new();
        let mut bad = Vec::new();
        for (i, a) in node.status.addresses.iter().enumerate() {
            let list = match a.type_.as_str() {
                "InternalIP" => &mut internal,
                "ExternalIP" => &mut external,
                _ => continue, // Hostname, InternalDNS, ExternalDNS: not addresses
            };
            match a.address.parse::<IpAddr>() {
                Ok(ip) => list.push(ip),
                Err(_) => bad.push(format!(
                    "status.addresses[{i}].address: {:?} is not an IP address",
                    a.address
                )),
            }
        }
        if !bad.is_empty() {
            self.issues.push(Issue {
                position: position.clone(),
                severity: Severity::Warning,
                message: format!("Node {name}: addresses left out"),
                details: bad,
            });
        }
        if internal.is_empty() && external.is_empty() {
            self.issues.push(Issue {
                position: position.clone(),
                severity: Severity::Warning,
                message: format!(
                    "Node {name} has no InternalIP or ExternalIP in status.addresses: ipBlocks cannot match it"
                ),
                details: Vec::new(),
            });
        }
        internal.extend(external);
        self.nodes.push((position, name, internal));
    }

    fn read_pod(&mut self, position: Position, v: &Value) {
        let Some(pod) = self.decode::<json::Pod>(&position, "Pod", v) else {
            return;
        };
        let Some(name) = pod.metadata.name.clone().filter(|n| !n.is_empty()) else {
            return self.error(position, "Pod without metadata.name");
        };
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let who = format!("Pod {namespace}/{name}");
        if pod.spec.host_network {
            return self.error(
                position,
                &format!("{who} uses the host network: NetworkPolicy does not apply to it"),
            );
        }
        if let phase @ ("Succeeded" | "Failed") = pod.status.phase.as_str() {
            return self.error(
                position,
                &format!("{who} has ended (phase {phase}): it has no network"),
            );
        }
        let mut spec = PodSpec::new(namespace, name);
        spec.labels = pod.metadata.labels.clone().unwrap_or_default();
        let mut texts: Vec<(String, &str)> = Vec::new();
        for (i, ip) in pod.status.pod_ips.iter().enumerate() {
            if !ip.ip.is_empty() {
                texts.push((format!("status.podIPs[{i}].ip"), &ip.ip));
            }
        }
        if texts.is_empty() && !pod.status.pod_ip.is_empty() {
            texts.push(("status.podIP".into(), &pod.status.pod_ip));
        }
        let mut warnings = Vec::new();
        for (field, text) in texts {
            match text.parse::<IpAddr>() {
                Ok(ip) if !spec.ips.contains(&ip) => spec.ips.push(ip),
                Ok(_) => {}
                Err(_) => warnings.push(format!("{field}: {text:?} is not an IP address")),
            }
        }
        if spec.ips.is_empty() {
            self.issues.push(Issue {
                position,
                severity: Severity::Error,
                message: format!(
                    "{who} has no IP (no status.podIP or status.podIPs): not scheduled or not running, left out"
                ),
                details: warnings,
            });
            return;
        }
        if !pod.spec.node_name.is_empty() {
            spec.node = Some(pod.spec.node_name.clone());
        }
        for (c, container) in pod.spec.containers.iter().enumerate() {
            for (p, port) in container.ports.iter().enumerate() {
                let field = format!("spec.containers[{c}].ports[{p}]");
                match container_port(port) {
                    Ok(cp) => spec.ports.push(cp),
                    Err(m) => warnings.push(format!("{field}: {m}")),
                }
            }
        }
        if !warnings.is_empty() {
            self.issues.push(Issue {
                position: position.clone(),
                severity: Severity::Warning,
                message: format!("{who}: parts left out"),
                details: warnings,
            });
        }
        self.pods.push((position, spec));
    }

    fn read_service(&mut self, position: Position, v: &Value) {
        let written = match Service::from_value(v) {
            Ok(s) => s,
            Err(e) => {
                return self.issues.push(Issue {
                    position,
                    severity: Severity::Error,
                    message: format!("Service {}: cannot be decoded, left out", object_name(v)),
                    details: vec![error_detail(&e)],
                });
            }
        };
        match written.resolve() {
            Ok(s) => self.services.push((position, s)),
            Err(e) => self.issues.push(Issue {
                position,
                severity: Severity::Error,
                message: format!("Service {} cannot be used, left out", written.key()),
                details: vec![error_detail(&e)],
            }),
        }
    }

    fn read_policy(&mut self, position: Position, v: &Value) {
        let written = match NetworkPolicy::from_value(v) {
            Ok(p) => p,
            Err(e) => {
                return self.issues.push(Issue {
                    position,
                    severity: Severity::Error,
                    message: format!(
                        "NetworkPolicy {}: cannot be decoded, left out",
                        object_name(v)
                    ),
                    details: vec![format!(
                        "{}: {}",
                        if e.path.is_empty() {
                            "(object)"
                        } else {
                            &e.path
                        },
                        e.message
                    )],
                });
            }
        };
        match Policy::new(&written) {
            Ok(p) => self.policies.push((position, p)),
            Err(errs) => {
                let details = errs.errors().iter().map(ToString::to_string).collect();
                self.issues.push(Issue {
                    position,
                    severity: Severity::Error,
                    message: format!(
                        "NetworkPolicy {} would be refused by the apiserver, left out",
                        written.key()
                    ),
                    details,
                });
            }
        }
    }

    fn error(&mut self, position: Position, message: &str) {
        self.issues.push(Issue {
            position,
            severity: Severity::Error,
            message: message.to_owned(),
            details: Vec::new(),
        });
    }

    /// Builds the cluster. Duplicates are reported and the later copy left out; pods on
    /// nodes that were not read keep no node, reported once.
    pub fn build_cluster(&mut self) -> Result<Cluster, ClusterError> {
        let mut b = Cluster::builder();
        let mut seen = HashSet::new();
        let mut dups = Vec::new();
        for (pos, name, labels) in &self.namespaces {
            if seen.insert(name.clone()) {
                b = b.namespace(name.clone(), labels.clone());
            } else {
                dups.push((
                    pos.clone(),
                    format!("Namespace {name} was read before; this copy is left out"),
                ));
            }
        }
        let mut node_names = HashSet::new();
        for (pos, name, ips) in &self.nodes {
            if node_names.insert(name.clone()) {
                b = b.node(name.clone(), ips.clone());
            } else {
                dups.push((
                    pos.clone(),
                    format!("Node {name} was read before; this copy is left out"),
                ));
            }
        }
        let mut pod_keys = HashSet::new();
        let mut missing_nodes: BTreeMap<String, usize> = BTreeMap::new();
        let mut ip_owner: HashMap<IpAddr, String> = HashMap::new();
        for (pos, spec) in &self.pods {
            let key = format!("{}/{}", spec.namespace, spec.name);
            if !pod_keys.insert(key.clone()) {
                dups.push((
                    pos.clone(),
                    format!("Pod {key} was read before; this copy is left out"),
                ));
                continue;
            }
            for ip in &spec.ips {
                if let Some(other) = ip_owner.insert(*ip, key.clone()) {
                    self.issues.push(Issue {
                        position: pos.clone(),
                        severity: Severity::Warning,
                        message: format!("Pod {key} has IP {ip}, as Pod {other} does: an address names one of them only"),
                        details: Vec::new(),
                    });
                }
            }
            let mut spec = spec.clone();
            if let Some(n) = &spec.node {
                if !node_names.contains(n) {
                    *missing_nodes.entry(n.clone()).or_default() += 1;
                    spec.node = None;
                }
            }
            b = b.pod(spec);
        }
        for (position, message) in dups {
            self.issues.push(Issue {
                position,
                severity: Severity::Warning,
                message,
                details: Vec::new(),
            });
        }
        if !missing_nodes.is_empty() {
            let list: Vec<String> = missing_nodes
                .iter()
                .map(|(n, c)| format!("{n} ({c} pod{})", if *c == 1 { "" } else { "s" }))
                .collect();
            self.issues.push(Issue {
                position: Position {
                    file: "<input>".into(),
                    document: 0,
                    line: 0,
                    item: None,
                },
                severity: Severity::Note,
                message: "pods run on nodes that were not read, so traffic with their own node is not special-cased".into(),
                details: vec![list.join(", ")],
            });
        }
        b.build()
    }

    /// The Services' table: endpoints resolved against `cluster`. A Service with the name
    /// or a cluster IP of one read before is reported and left out, as
    /// [`ServiceTable::build`] would refuse the pair.
    pub fn build_services(&mut self, cluster: &Cluster) -> Result<ServiceTable, ServiceError> {
        let mut names = HashSet::new();
        let mut owners: HashMap<IpAddr, String> = HashMap::new();
        let mut kept = Vec::new();
        let mut positions = Vec::new();
        for (pos, service) in &self.services {
            let key = service.key();
            let refusal = if names.contains(&key) {
                Some(ServiceError::Duplicate(key.clone()))
            } else {
                service
                    .addressing
                    .cluster_ips()
                    .iter()
                    .find_map(|ip| owners.get(ip).map(|first| (ip, first)))
                    .map(|(ip, first)| ServiceError::DuplicateIp {
                        ip: *ip,
                        first: first.clone(),
                        second: key.clone(),
                    })
            };
            if let Some(e) = refusal {
                self.issues.push(Issue {
                    position: pos.clone(),
                    severity: Severity::Warning,
                    message: format!("{e}: this copy of Service {key} is left out"),
                    details: Vec::new(),
                });
                continue;
            }
            names.insert(key.clone());
            for ip in service.addressing.cluster_ips() {
                owners.insert(*ip, key.clone());
            }
            kept.push(service.clone());
            positions.push(pos.clone());
        }
        self.services = positions.into_iter().zip(kept.iter().cloned()).collect();
        ServiceTable::build(cluster, &kept)
    }

    /// Policies in input order, without positions.
    pub fn policy_list(&self) -> Vec<Policy> {
        self.policies.iter().map(|(_, p)| p.clone()).collect()
    }

    /// Whether any issue is an error.
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }
}

/// The start line of each list item of a document: `items` of a mapping, or the elements
/// of a top-level sequence; nothing for anything else.
#[derive(Default)]
struct ItemLines {
    items: Option<Vec<usize>>,
}

impl<'de> serde::Deserialize<'de> for ItemLines {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        use serde_saphyr::Spanned;

        fn line<T>(s: &Spanned<T>) -> usize {
            usize::try_from(s.referenced.line()).unwrap_or(0)
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ItemLines;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemLines, A::Error> {
                let mut out = ItemLines::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.value == "items" {
                        let items: Option<Vec<Spanned<IgnoredAny>>> = map.next_value()?;
                        out.items = items.map(|v| v.iter().map(line).collect());
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemLines, A::Error> {
                let mut lines = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<IgnoredAny>>()? {
                    lines.push(line(&item));
                }
                Ok(ItemLines { items: Some(lines) })
            }
            fn visit_unit<E>(self) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_none<E>(self) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<ItemLines, E> {
                Ok(ItemLines::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The 1-based document holding `line` in multi-document YAML: one more than the `---`
/// separators before it, not counting one that opens the text.
fn document_of_line(text: &str, line: usize) -> usize {
    let mut doc = 1;
    let mut content_seen = false;
    for l in text.lines().take(line.saturating_sub(1)) {
        if l.starts_with("---") {
            if content_seen {
                doc += 1;
            }
            content_seen = true;
        } else if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            content_seen = true;
        }
    }
    doc
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('{' | '['))
}

fn file_position(path: &Path) -> Position {
    Position {
        file: path.display().to_string(),
        document: 0,
        line: 0,
        item: None,
    }
}

fn collect_files(path: &Path, given: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            collect_files(&e, false, out)?;
        }
    } else if given
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// A Service error as one detail line, field path first (`(object)` when there is none).
fn error_detail(e: &ServiceError) -> String {
    match e {
        ServiceError::Decode { path, message } | ServiceError::Invalid { path, message, .. } => {
            format!(
                "{}: {message}",
                if path.is_empty() { "(object)" } else { path }
            )
        }
        other => other.to_string(),
    }
}

fn meta_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("metadata")?
        .get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
}

fn object_name(v: &Value) -> String {
    match (meta_str(v, "namespace"), meta_str(v, "name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_owned(),
        _ => "without a name".to_owned(),
    }
}

/// `apiVersion` of the core group's `v1` as `schema.ParseGroupVersion` reads it, or none
/// written (the endpoint's then).
fn is_core_v1(api: &str) -> bool {
    matches!(api, "" | "/" | "v1" | "/v1")
}

fn container_port(p: &json::ContainerPort) -> Result<ContainerPort, String> {
    let number = p.container_port;
    let port = u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("containerPort {number} is not between 1 and 65535"))?;
    // An empty protocol is TCP (the apiserver's defaulting).
    let protocol = match p.protocol.as_str() {
        "" => Protocol::Tcp,
        other => other
            .parse::<Protocol>()
            .map_err(|_| format!("protocol {other:?} is not TCP, UDP or SCTP"))?,
    };
    Ok(match Some(p.name.as_str()).filter(|s| !s.is_empty()) {
        Some(name) => ContainerPort::named(name, port, protocol),
        None => ContainerPort::unnamed(port, protocol),
    })
}

/// The parts of the core objects the reader uses, with the Go types the apiserver decodes
/// them with (`k8s.io/api/core/v1`). They are decoded with
/// [`netpol::model::go_json`], so `null` is the zero value, an array never stands for an
/// object, and a number where a string belongs (or the reverse) is an error, as at the
/// apiserver. Fields not declared here are not read and not checked.
mod json {
    use netpol::model::ObjectMeta;
    use serde::Deserialize;

    /// `v1.Namespace`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Namespace {
        pub metadata: ObjectMeta,
    }

    /// `v1.Node`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Node {
        pub metadata: ObjectMeta,
        pub status: NodeStatus,
    }

    /// `v1.NodeStatus`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct NodeStatus {
        pub addresses: Vec<NodeAddress>,
    }

    /// `v1.NodeAddress`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct NodeAddress {
        #[serde(rename = "type")]
        pub type_: String,
        pub address: String,
    }

    /// `v1.Pod`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Pod {
        pub metadata: ObjectMeta,
        pub spec: PodSpec,
        pub status: PodStatus,
    }

    /// `v1.PodSpec`.
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct PodSpec {
        pub host_network: bool,
        pub node_name: String,
        pub containers: Vec<Container>,
    }

    /// `v1.Container`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Container {
        pub name: String,
        pub ports: Vec<ContainerPort>,
    }

    /// `v1.ContainerPort`.
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ContainerPort {
        pub name: String,
        pub host_port: i32,
        pub container_port: i32,
        pub protocol: String,
        #[serde(rename = "hostIP")]
        pub host_ip: String,
    }

    /// `v1.PodStatus`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct PodStatus {
        pub phase: String,
        #[serde(rename = "podIP")]
        pub pod_ip: String,
        #[serde(rename = "podIPs")]
        pub pod_ips: Vec<PodIp>,
    }

    /// `v1.PodIP`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct PodIp {
        pub ip: String,
    }
}
