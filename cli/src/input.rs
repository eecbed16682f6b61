//! Reading Kubernetes manifests (YAML or JSON, one or many documents, `List`s) into what
//! the commands need: the cluster's objects (given to the library's
//! [`ClusterObjects`], which turns them into a cluster), and every policy with what
//! became of it (decoded, validated, normalised).
//!
//! Nothing is dropped silently: every object that cannot be used is an [`Issue`] with the
//! file, the document index and the line where the object starts. This module does the
//! file and YAML reading only; what the objects mean is the library's.

use std::fmt;
use std::path::{Path, PathBuf};

use netpol::calico::{CalicoNetworkSet, CalicoPolicy, CalicoTier};
use netpol::cluster::{BuiltCluster, ClusterError, ClusterObjects, NoteSeverity, ObjectNote};
use netpol::model::{self, PolicyObject};
use netpol::policy::{ClusterPolicy, Policy, PolicySet};
use netpol::service::{Service, ServiceError};
use netpol::validate::{FieldError, validate_cluster_network_policy, validate_network_policy};
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

impl Position {
    /// A position in a file with no document, line or item (the file as a whole).
    pub fn file(file: impl Into<String>) -> Position {
        Position {
            file: file.into(),
            document: 0,
            line: 0,
            item: None,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.document > 0 {
            write!(f, " (document {}", self.document)?;
            if let Some(i) = self.item {
                write!(f, ", items[{i}]")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// How bad an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Note,
    /// Used, with something left out.
    Warning,
    /// Not used at all.
    Error,
}

impl Severity {
    fn of(s: NoteSeverity) -> Severity {
        match s {
            NoteSeverity::Info => Severity::Note,
            NoteSeverity::Warning => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Something in the input that could not be used as given, or is worth knowing.
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

/// One refusal of a policy object: the field path (empty for the object itself) and the
/// message, as the apiserver would give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The field path, such as `spec.ingress[0].ports[0].port`; empty for the object.
    pub field: String,
    /// The message.
    pub message: String,
}

impl Refusal {
    fn from_field_error(e: &FieldError) -> Refusal {
        let text = e.to_string();
        let message = text
            .strip_prefix(&format!("{}: ", e.field))
            .unwrap_or(&text)
            .to_owned();
        Refusal {
            field: e.field.clone(),
            message,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "(object): {}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// What became of a policy object.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Accepted and normalised: it takes part in the answers.
    NetworkPolicy(Box<Policy>),
    /// Accepted and normalised: it takes part in the answers.
    ClusterPolicy(Box<ClusterPolicy>),
    /// A Calico NetworkPolicy or GlobalNetworkPolicy, accepted and normalised.
    CalicoPolicy(Box<CalicoPolicy>),
    /// A Calico NetworkSet or GlobalNetworkSet, accepted and normalised.
    NetworkSet(Box<CalicoNetworkSet>),
    /// A Calico Tier, accepted and normalised.
    Tier(Box<CalicoTier>),
    /// The apiserver could not decode it (a 400 Bad Request): one refusal.
    Undecodable(Refusal),
    /// The apiserver would refuse it (a 422 Invalid): every error.
    Refused(Vec<Refusal>),
    /// The apiserver accepts it, but it cannot be evaluated (a ClusterNetworkPolicy label
    /// selector implementations refuse, a kind not evaluated yet): why.
    NotEvaluated(Vec<Refusal>),
}

/// A policy object read from the input.
#[derive(Debug, Clone)]
pub struct PolicyRecord {
    /// Where it starts.
    pub position: Position,
    /// Its kind, as written (`NetworkPolicy`, `ClusterNetworkPolicy`, ...).
    pub kind: String,
    /// `namespace/name` of a namespaced kind, `name` of a cluster-scoped one.
    pub name: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The object as decoded, before validation (`None` when it could not be decoded):
    /// for the checks about what was written (`netpol lint`).
    pub written: Option<PolicyObject>,
}

impl PolicyRecord {
    /// Whether the apiserver would refuse it (decode or validation).
    pub fn is_refused(&self) -> bool {
        matches!(self.outcome, Outcome::Undecodable(_) | Outcome::Refused(_))
    }
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// Namespaces, Nodes, Pods and Services, for the library to build the cluster from.
    pub objects: ClusterObjects,
    /// Where each of `objects` was read, by [`netpol::cluster::ObjectId::index`].
    pub positions: Vec<Position>,
    /// Every policy object, in input order, with what became of it.
    pub policies: Vec<PolicyRecord>,
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
        out.settle_tiers();
        out
    }

    /// Refuses the Calico policies whose tier does not exist among the Tiers read so
    /// far, as Calico's API server does on create (whatever order they were read in,
    /// when called once everything is read).
    pub fn settle_tiers(&mut self) {
        let tiers: Vec<CalicoTier> = self
            .policies
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Tier(t) => Some((**t).clone()),
                _ => None,
            })
            .collect();
        for record in &mut self.policies {
            if let Outcome::CalicoPolicy(p) = &record.outcome {
                if let Some(e) = p.missing_tier(&tiers) {
                    record.outcome = Outcome::Refused(vec![Refusal::from_field_error(&e)]);
                }
            }
        }
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

    /// Reads one document already parsed: an object, a `List` (or `*List`, or a JSON
    /// array) of objects, or nothing (`null`), naming `position` in issues (list items
    /// get their index).
    pub fn read_value(&mut self, position: Position, value: Value) {
        if position.item.is_some() {
            // An item of a list given by the caller: one object.
            self.read_object(position, value, None);
        } else {
            self.read_document(&position.file, position.document, position.line, value, &[]);
        }
    }

    fn read_object(&mut self, position: Position, mut value: Value, default_kind: Option<&str>) {
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
        // An item of a `PodList` carries no kind of its own: it is the list's.
        if let (Some(k), Some(map)) = (&kind, value.as_object_mut()) {
            map.entry("kind")
                .or_insert_with(|| Value::String(k.clone()));
        }
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match kind.as_deref() {
            Some("Namespace") => {
                if let Some(ns) = self.decode::<model::Namespace>(&position, "Namespace", &value) {
                    self.positions.push(position);
                    self.objects.add_namespace(ns);
                }
            }
            Some("Node") => {
                if let Some(node) = self.decode::<model::Node>(&position, "Node", &value) {
                    self.positions.push(position);
                    self.objects.add_node(node);
                }
            }
            Some("Pod") => {
                if let Some(pod) = self.decode::<model::Pod>(&position, "Pod", &value) {
                    self.positions.push(position);
                    self.objects.add_pod(pod);
                }
            }
            Some("Service") => match Service::from_value(&value) {
                Ok(service) => {
                    self.positions.push(position);
                    self.objects.add_service(service);
                }
                Err(e) => self.issues.push(Issue {
                    position,
                    severity: Severity::Error,
                    message: format!(
                        "Service {}: cannot be decoded, left out",
                        object_name(&value)
                    ),
                    details: vec![error_detail(&e)],
                }),
            },
            Some(k)
                if k.ends_with("NetworkPolicy")
                    || matches!(k, "NetworkSet" | "GlobalNetworkSet" | "Tier") =>
            {
                let record = read_policy(position, k, &value);
                self.policies.push(record);
            }
            Some(other) => {
                let name = object_name(&value);
                self.issues.push(Issue {
                    position,
                    severity: Severity::Warning,
                    message: format!(
                        "kind {other} ({}{name}) is not used: only Namespace, Node, Pod, Service, NetworkPolicy, ClusterNetworkPolicy and Calico's NetworkPolicy, GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet and Tier are",
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

    fn error(&mut self, position: Position, message: &str) {
        self.issues.push(Issue {
            position,
            severity: Severity::Error,
            message: message.to_owned(),
            details: Vec::new(),
        });
    }

    /// Builds the cluster and the Services' table from the objects read (the library's
    /// [`ClusterObjects::build`]), and turns its notes into issues with the position of
    /// the object each is about. Notes about several pods on one unknown node are
    /// gathered into one.
    pub fn build_cluster(&mut self) -> Result<BuiltCluster, ClusterError> {
        let mut built = self.objects.build()?;
        let notes = std::mem::take(&mut built.notes);
        let mut unknown_nodes: std::collections::BTreeMap<String, usize> = Default::default();
        for note in notes {
            if let netpol::cluster::NoteKind::UnknownNode { node } = &note.kind {
                *unknown_nodes.entry(node.clone()).or_default() += 1;
                continue;
            }
            let issue = self.note_issue(&note);
            self.issues.push(issue);
        }
        if !unknown_nodes.is_empty() {
            let list: Vec<String> = unknown_nodes
                .iter()
                .map(|(n, c)| format!("{n} ({c} pod{})", if *c == 1 { "" } else { "s" }))
                .collect();
            self.issues.push(Issue {
                position: Position::file("<input>"),
                severity: Severity::Note,
                message: "pods run on nodes that were not read, so traffic with their own node is not special-cased".into(),
                details: vec![list.join(", ")],
            });
        }
        Ok(built)
    }

    fn note_issue(&self, note: &ObjectNote) -> Issue {
        let position = note
            .object
            .and_then(|id| self.positions.get(id.index()))
            .cloned()
            .unwrap_or_else(|| Position::file("<input>"));
        Issue {
            position,
            severity: Severity::of(note.severity()),
            message: note.to_string(),
            details: Vec::new(),
        }
    }

    /// The policies that take part in the answers, in input order within each kind.
    pub fn policy_set(&self) -> PolicySet {
        let mut set = PolicySet::new();
        for record in &self.policies {
            match &record.outcome {
                Outcome::NetworkPolicy(p) => set.push((**p).clone()),
                Outcome::ClusterPolicy(p) => set.push((**p).clone()),
                Outcome::CalicoPolicy(p) => set.push((**p).clone()),
                Outcome::NetworkSet(s) => set.push((**s).clone()),
                Outcome::Tier(t) => set.push((**t).clone()),
                _ => {}
            }
        }
        set
    }

    /// Issues for the policies that do not take part in the answers: refused ones as
    /// errors, ones the apiserver accepts but that cannot be evaluated as warnings.
    pub fn policy_issues(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        for r in &self.policies {
            let (severity, message, refusals) = match &r.outcome {
                Outcome::Undecodable(e) => (
                    Severity::Error,
                    format!("{} {}: cannot be decoded, left out", r.kind, r.name),
                    std::slice::from_ref(e),
                ),
                Outcome::Refused(errs) => (
                    Severity::Error,
                    format!(
                        "{} {} would be refused by the apiserver, left out",
                        r.kind, r.name
                    ),
                    errs.as_slice(),
                ),
                Outcome::NotEvaluated(errs) => (
                    Severity::Warning,
                    format!(
                        "{} {} is accepted by the apiserver but cannot be evaluated, left out",
                        r.kind, r.name
                    ),
                    errs.as_slice(),
                ),
                Outcome::NetworkPolicy(_)
                | Outcome::ClusterPolicy(_)
                | Outcome::CalicoPolicy(_)
                | Outcome::NetworkSet(_)
                | Outcome::Tier(_) => continue,
            };
            out.push(Issue {
                position: r.position.clone(),
                severity,
                message,
                details: refusals.iter().map(ToString::to_string).collect(),
            });
        }
        out
    }
}

/// Decodes, validates and normalises one policy object of kind `kind` (a kind ending in
/// `NetworkPolicy`), as the apiserver would: a decode error, then every validation error;
/// what the apiserver accepts but cannot be evaluated is said apart.
pub fn read_policy(position: Position, kind: &str, value: &Value) -> PolicyRecord {
    let namespaced = !matches!(
        kind,
        "ClusterNetworkPolicy" | "GlobalNetworkPolicy" | "GlobalNetworkSet" | "Tier"
    );
    let name = match (meta_str(value, "namespace"), meta_str(value, "name")) {
        (_, None) => "(unnamed)".to_owned(),
        (_, Some(n)) if !namespaced => n.to_owned(),
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => format!("default/{n}"),
    };
    let decoded = PolicyObject::from_value(value);
    let written = decoded.as_ref().ok().cloned();
    let outcome = match decoded {
        Err(e) => Outcome::Undecodable(Refusal {
            field: e.path,
            message: e.message,
        }),
        Ok(PolicyObject::NetworkPolicy(np)) => match validate_network_policy(&np) {
            Err(errs) => Outcome::Refused(
                errs.errors()
                    .iter()
                    .map(Refusal::from_field_error)
                    .collect(),
            ),
            Ok(()) => match Policy::new(&np) {
                Ok(p) => Outcome::NetworkPolicy(Box::new(p)),
                Err(errs) => Outcome::Refused(
                    errs.errors()
                        .iter()
                        .map(Refusal::from_field_error)
                        .collect(),
                ),
            },
        },
        Ok(PolicyObject::ClusterNetworkPolicy(cnp)) => {
            match validate_cluster_network_policy(&cnp) {
                Err(errs) => Outcome::Refused(
                    errs.errors()
                        .iter()
                        .map(Refusal::from_field_error)
                        .collect(),
                ),
                Ok(()) => match ClusterPolicy::new(&cnp) {
                    Ok(p) => Outcome::ClusterPolicy(Box::new(p)),
                    Err(errs) => Outcome::NotEvaluated(
                        errs.errors()
                            .iter()
                            .map(Refusal::from_field_error)
                            .collect(),
                    ),
                },
            }
        }
        Ok(PolicyObject::CalicoNetworkPolicy(p)) => calico_outcome(CalicoPolicy::new(&p), |p| {
            Outcome::CalicoPolicy(Box::new(p))
        }),
        Ok(PolicyObject::GlobalNetworkPolicy(p)) => calico_outcome(CalicoPolicy::new(&p), |p| {
            Outcome::CalicoPolicy(Box::new(p))
        }),
        Ok(PolicyObject::NetworkSet(s)) => calico_outcome(CalicoNetworkSet::new(&s), |s| {
            Outcome::NetworkSet(Box::new(s))
        }),
        Ok(PolicyObject::GlobalNetworkSet(s)) => calico_outcome(CalicoNetworkSet::new(&s), |s| {
            Outcome::NetworkSet(Box::new(s))
        }),
        Ok(PolicyObject::Tier(t)) => {
            calico_outcome(CalicoTier::new(&t), |t| Outcome::Tier(Box::new(t)))
        }
        #[allow(unreachable_patterns)]
        Ok(other) => Outcome::NotEvaluated(vec![Refusal {
            field: "kind".into(),
            message: format!("{} is not evaluated yet", other.kind()),
        }]),
    };
    PolicyRecord {
        position,
        kind: kind.to_owned(),
        name,
        outcome,
        written,
    }
}

/// A Calico object accepted by Calico's validator, or every error it gives.
fn calico_outcome<T>(
    built: Result<T, netpol::validate::ValidationErrors>,
    wrap: impl FnOnce(T) -> Outcome,
) -> Outcome {
    match built {
        Ok(item) => wrap(item),
        Err(errs) => Outcome::Refused(
            errs.errors()
                .iter()
                .map(Refusal::from_field_error)
                .collect(),
        ),
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
        ServiceError::Decode(netpol::model::DecodeError { path, message, .. })
        | ServiceError::Invalid { path, message, .. } => {
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
