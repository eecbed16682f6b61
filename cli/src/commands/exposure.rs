//! `netpol exposure [PATH...]`: per workload and direction, whether it is isolated,
//! which outside addresses reach it (or it reaches), and whether every pod and every
//! namespace does (`netpol::analysis::exposure`).

use std::fmt::Write as _;
use std::path::PathBuf;

use netpol::analysis::{SideExposure, WorkloadExposure, exposure};
use netpol::engine::Engine;

use super::{parse_profile, print_issues, write_stdout};
use crate::EXIT_USAGE;

const AFTER_HELP: &str = "\
For each workload (see `netpol map --help`), two lines: ingress (who reaches it) and
egress (whom it reaches): whether a NetworkPolicy isolates it and which policies select
it; how many other pods reach it (it reaches), in how many namespaces, `every pod` and
`every namespace` when none is missing, with the ports every pod gets; and the outside
addresses allowed, as CIDRs with their ports. Outside addresses are any address taken
as outside the cluster; the policies' own CIDRs cut the address space.

Examples:
  netpol exposure                              # the built-in demo
  netpol exposure cluster.yaml --json

Exit status: 0 when done and everything read was used; 1 when something in the input
was refused or left out; 2 on a usage error, an unreadable path or a cluster that
cannot be built.";

/// `netpol exposure [OPTIONS] [PATH...]`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Manifest files or folders, as for `netpol reach`; the built-in demo without any.
    pub paths: Vec<PathBuf>,
    /// Print the report as JSON: a list of `{"workload", "pods", "ingress", "egress"}`.
    #[arg(long)]
    pub json: bool,
    /// The network plugin's behaviour (default: conformance).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

fn side_text(s: &SideExposure, towards: &str) -> String {
    let mut out = String::new();
    if s.isolated {
        let _ = write!(out, "isolated by {}", s.policies.join(", "));
    } else if s.policies.is_empty() {
        out.push_str("not isolated");
    } else {
        let _ = write!(out, "not isolated; selected by {}", s.policies.join(", "));
    }
    if s.every_pod {
        let _ = write!(out, "; {towards} every pod ({})", s.open_to_every_pod);
    } else if s.pods == 0 {
        let _ = write!(out, "; {towards} no pod");
    } else {
        let _ = write!(
            out,
            "; {towards} {} pod{} in {} namespace{}{}",
            s.pods,
            if s.pods == 1 { "" } else { "s" },
            s.namespaces,
            if s.namespaces == 1 { "" } else { "s" },
            if s.every_namespace {
                " (every namespace)"
            } else {
                ""
            }
        );
    }
    if s.outside.is_empty() {
        out.push_str("; outside: none");
    } else {
        let list: Vec<String> = s.outside.iter().map(ToString::to_string).collect();
        let _ = write!(out, "; outside: {}", list.join("; "));
    }
    out
}

/// The report as text.
pub fn text(report: &[WorkloadExposure]) -> String {
    let mut out = String::new();
    for w in report {
        let _ = writeln!(
            out,
            "{} ({} pod{})",
            w.workload,
            w.pods,
            if w.pods == 1 { "" } else { "s" }
        );
        let _ = writeln!(out, "  ingress: {}", side_text(&w.ingress, "from"));
        let _ = writeln!(out, "  egress: {}", side_text(&w.egress, "to"));
    }
    out
}

/// Runs `netpol exposure`.
pub fn run(args: Args) -> u8 {
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol exposure: {e}");
            return EXIT_USAGE;
        }
    };
    let loaded = match super::load(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netpol exposure: {e}");
            return EXIT_USAGE;
        }
    };
    let engine = Engine::builder()
        .profile(profile)
        .build(&loaded.built.cluster, &loaded.policies);
    let report = exposure(&engine, &loaded.policies);
    print_issues(&loaded.issues);
    let out = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("netpol exposure: cannot write JSON: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        text(&report)
    };
    if let Err(code) = write_stdout(&out) {
        return code;
    }
    loaded.exit_code()
}
