//! `netpol validate PATH...`: every policy manifest checked as the apiserver would, for
//! CI.
//!
//! Each NetworkPolicy and ClusterNetworkPolicy (any kind ending in `NetworkPolicy`; the
//! library's kind table says which it decodes) is decoded with the apiserver's Go JSON
//! rules, then validated with its rules. A decode error (the apiserver's 400) is one
//! error; validation errors (its 422) are all reported. Each line says where (file, line,
//! document, list item), which object, which field and what is wrong:
//!
//! ```text
//! policies.yaml:21 (document 2): NetworkPolicy shop/refused: spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
//! ```
//!
//! Files that cannot be parsed and objects that cannot be decoded are errors too. Other
//! kinds in the files (Pods, ConfigMaps) are not policies and are not reported.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::write_stdout;
use crate::input::{Manifests, Outcome, PolicyRecord, Position, Refusal, Severity};
use crate::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

const AFTER_HELP: &str = "\
Exit status: 0 when every policy would be accepted; 1 when at least one would be
refused (a decode or a validation error) or a file cannot be parsed; 2 on a usage
error or a path that cannot be read. A ClusterNetworkPolicy the apiserver accepts but
implementations refuse (a label selector the CRD does not check) is a warning, not a
refusal.

Example (a CI step):
  netpol validate deploy/policies/ || exit 1";

/// `netpol validate PATH...`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// YAML or JSON manifest files, or folders of them (searched for .yaml, .yml and
    /// .json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object: every policy with its errors, and the counts.
    #[arg(long)]
    pub json: bool,
    /// Also list the policies that are accepted.
    #[arg(long, short)]
    pub verbose: bool,
}

/// One problem, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem {
    #[serde(flatten)]
    position: Position,
    /// `decode`, `validation`, `evaluation` (accepted but not evaluated) or `file`.
    stage: &'static str,
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    field: String,
    message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.position)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let (Some(k), Some(o)) = (&self.kind, &self.object) {
            write!(f, "{k} {o}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

fn problems_of(record: &PolicyRecord) -> Vec<Problem> {
    let (stage, severity, refusals): (&str, Severity, &[Refusal]) = match &record.outcome {
        Outcome::Undecodable(r) => ("decode", Severity::Error, std::slice::from_ref(r)),
        Outcome::Refused(rs) => ("validation", Severity::Error, rs),
        Outcome::NotEvaluated(rs) => ("evaluation", Severity::Warning, rs),
        Outcome::NetworkPolicy(_)
        | Outcome::ClusterPolicy(_)
        | Outcome::CalicoPolicy(_)
        | Outcome::NetworkSet(_)
        | Outcome::Tier(_) => return Vec::new(),
    };
    refusals
        .iter()
        .map(|r| Problem {
            position: record.position.clone(),
            stage,
            severity,
            kind: Some(record.kind.clone()),
            object: Some(record.name.clone()),
            field: r.field.clone(),
            message: r.message.clone(),
        })
        .collect()
}

/// Runs `netpol validate`.
pub fn run(args: Args) -> u8 {
    for path in &args.paths {
        if let Err(e) = std::fs::metadata(path) {
            eprintln!("netpol validate: {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    let m = Manifests::read_paths(&args.paths);
    let mut problems = Vec::new();
    // The reading's errors: files that cannot be parsed, objects that cannot be decoded.
    for issue in m.issues.iter().filter(|i| i.severity == Severity::Error) {
        let mut message = issue.message.clone();
        for d in &issue.details {
            message.push_str("; ");
            message.push_str(d);
        }
        problems.push(Problem {
            position: issue.position.clone(),
            stage: "file",
            severity: Severity::Error,
            kind: None,
            object: None,
            field: String::new(),
            message,
        });
    }
    for record in &m.policies {
        problems.extend(problems_of(record));
    }
    problems.sort_by(|a, b| {
        (
            &a.position.file,
            a.position.document,
            a.position.item,
            a.position.line,
        )
            .cmp(&(
                &b.position.file,
                b.position.document,
                b.position.item,
                b.position.line,
            ))
    });
    let refused = m.policies.iter().filter(|r| r.is_refused()).count();
    let accepted = m.policies.len() - refused;
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let out = if args.json {
        let policies: Vec<serde_json::Value> = m
            .policies
            .iter()
            .map(|r| {
                serde_json::json!({
                    "file": r.position.file,
                    "document": r.position.document,
                    "line": r.position.line,
                    "item": r.position.item,
                    "kind": r.kind,
                    "name": r.name,
                    "accepted": !r.is_refused(),
                    "problems": problems_of(r),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "policies": policies,
            "problems": problems,
            "summary": {"policies": m.policies.len(), "accepted": accepted, "refused": refused, "errors": errors},
        });
        format!("{doc:#}\n")
    } else {
        let mut out = String::new();
        if args.verbose {
            for r in m.policies.iter().filter(|r| !r.is_refused()) {
                let _ = writeln!(out, "{}: {} {}: accepted", r.position, r.kind, r.name);
            }
        }
        for p in &problems {
            let _ = writeln!(out, "{p}");
        }
        let _ = writeln!(
            out,
            "{} polic{}: {accepted} accepted, {refused} refused; {errors} error{}",
            m.policies.len(),
            if m.policies.len() == 1 { "y" } else { "ies" },
            if errors == 1 { "" } else { "s" }
        );
        out
    };
    if m.policies.is_empty() {
        eprintln!("netpol validate: warning: no policy found in the given paths");
    }
    if let Err(code) = write_stdout(&out) {
        return code;
    }
    if errors > 0 { EXIT_REFUSED } else { EXIT_OK }
}
