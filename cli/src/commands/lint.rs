//! `netpol lint PATH...`: the library's lint catalogue (`netpol::analysis::lint`) on
//! manifests: selectors that match nothing, rules for a direction left out, redundant and
//! shadowed rules, ports nobody declares, pods without DNS, what the plugin ignores,
//! ipBlocks that a Service's masquerade defeats, equal priorities that disagree, pods
//! left open, duplicate names.
//!
//! One finding per line, code and severity first:
//!
//! ```text
//! NP020 warning: NetworkPolicy shop/db spec.ingress[1]: removing this rule changes no decision in this cluster: everything it allows is also allowed by shop/db spec.ingress[0]
//!     hint: delete the rule, or narrow the rule that covers it if that one is too broad
//! ```
//!
//! `--json` prints one JSON object per finding and line: `{"code", "severity", "object":
//! {"kind", "namespace", "name"}, "field", "message", "suggestion"}`.

use std::fmt::Write as _;
use std::path::PathBuf;

use netpol::analysis::lint::{Check, LintInput, Linter, Severity};
use netpol::model::PolicyObject;

use super::{load_manifests, parse_profile, print_issues, write_stdout};
use crate::input::{Manifests, Severity as IssueSeverity};
use crate::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

const AFTER_HELP: &str = "\
Checks (codes are stable; --only and --disable take them):
  NP001 policy selects no pod
  NP002 namespace selector selects no namespace
  NP003 peer selects nothing
  NP004 namespace selector selects every namespace (info)
  NP005 namespaceSelector and podSelector in separate peers
  NP010 rules for a direction policyTypes leaves out
  NP011 policyTypes not written (info)
  NP012 egress: [] without policyTypes isolates nothing
  NP020 redundant NetworkPolicy rule
  NP021 redundant NetworkPolicy
  NP022 shadowed ClusterNetworkPolicy rule
  NP023 ClusterNetworkPolicy rule that changes no verdict
  NP024 Calico rule never read (behind a catch-all or identical rule)
  NP030 named port no destination declares
  NP031 criteria that can never match
  NP032 port no selected pod declares (info)
  NP040 pods cannot reach cluster DNS on 53/UDP or 53/TCP
  NP050 policy the plugin ignores
  NP051 ipBlock holding pod or node IPs the plugin does not match
  NP052 ingress ipBlock whose outside clients a Service's masquerade hides or lets in
  NP060 equal-priority ClusterNetworkPolicies that disagree
  NP061 equal-order Calico policies with different actions
  NP070 pod no policy isolates, next to isolated pods
  NP080 duplicate name (error)
What each guarantees: the documentation of netpol::analysis::lint.

Exit status: 0 when no finding is a warning or an error (info findings do not count);
1 when at least one is; 2 on a usage error, a path that cannot be read, a file or
object that cannot be read or is refused (the findings cover the rest), or a cluster
that cannot be built.

Examples:
  kubectl get ns,nodes,pods,svc,netpol -A -o yaml > cluster.yaml
  netpol lint cluster.yaml
  netpol lint --profile cilium --json cluster.yaml policies/";

/// `netpol lint [OPTIONS] PATH...`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// YAML or JSON manifest files, or folders of them (searched for .yaml, .yml and
    /// .json): Namespaces, Nodes, Pods, Services and policies of every kind.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// One JSON object per finding and line.
    #[arg(long)]
    pub json: bool,
    /// The network plugin's behaviour: conformance (default), flannel, calico, canal,
    /// kube-router, cilium.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Run only these checks (repeatable), by code.
    #[arg(long, value_name = "CODE", value_parser = parse_check)]
    pub only: Vec<Check>,
    /// Do not run these checks (repeatable), by code.
    #[arg(long, value_name = "CODE", value_parser = parse_check)]
    pub disable: Vec<Check>,
}

fn parse_check(text: &str) -> Result<Check, String> {
    text.to_ascii_uppercase()
        .parse::<Check>()
        .map_err(|e| format!("{e}; the codes are NP001 to NP080, listed in --help"))
}

/// Runs `netpol lint`.
pub fn run(args: Args) -> u8 {
    for path in &args.paths {
        if let Err(e) = std::fs::metadata(path) {
            eprintln!("netpol lint: {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol lint: {e}");
            return EXIT_USAGE;
        }
    };
    let manifests = Manifests::read_paths(&args.paths);
    // The objects as written, of the policies that take part (a refused one is reported
    // as such, not linted).
    let written: Vec<PolicyObject> = manifests
        .policies
        .iter()
        .filter(|r| !r.is_refused())
        .filter_map(|r| r.written.clone())
        .collect();
    let loaded = match load_manifests(manifests, false) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netpol lint: {e}");
            return EXIT_USAGE;
        }
    };
    print_issues(&loaded.issues);
    let input_errors = loaded
        .issues
        .iter()
        .any(|i| i.severity == IssueSeverity::Error);

    let mut linter = if args.only.is_empty() {
        Linter::new()
    } else {
        Linter::only(args.only.iter().copied())
    };
    for c in &args.disable {
        linter = linter.disable(*c);
    }
    let input = LintInput::new(&loaded.built.cluster, &loaded.policies)
        .profile(profile)
        .services(&loaded.built.services)
        .written(&written);
    let report = linter.lint(&input);

    let mut out = String::new();
    if args.json {
        for f in &report.findings {
            match serde_json::to_string(f) {
                Ok(line) => {
                    out.push_str(&line);
                    out.push('\n');
                }
                Err(e) => {
                    eprintln!("netpol lint: cannot write a finding as JSON: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    } else {
        for f in &report.findings {
            let _ = write!(out, "{} {}: {}", f.check, f.severity, f.object);
            if !f.field.is_empty() {
                let _ = write!(out, " {}", f.field);
            }
            let _ = writeln!(out, ": {}", f.message);
            if !f.suggestion.is_empty() {
                let _ = writeln!(out, "    hint: {}", f.suggestion);
            }
        }
        let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
        let _ = writeln!(
            out,
            "{} finding{}: {} error{}, {} warning{}, {} info",
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" },
            count(Severity::Error),
            if count(Severity::Error) == 1 { "" } else { "s" },
            count(Severity::Warning),
            if count(Severity::Warning) == 1 {
                ""
            } else {
                "s"
            },
            count(Severity::Info),
        );
    }
    for s in &report.skipped {
        eprintln!("netpol lint: note: {} not run: {}", s.check, s.reason);
    }
    if let Err(code) = write_stdout(&out) {
        return code;
    }
    if input_errors {
        EXIT_USAGE
    } else if report.has_at_least(Severity::Warning) {
        EXIT_REFUSED
    } else {
        EXIT_OK
    }
}
