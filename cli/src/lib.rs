//! The `netpol` command-line tool: who can reach whom in a Kubernetes cluster and why,
//! whether policy manifests are valid, flannel's pod subnets, and a JSON-lines service
//! wrapping the engine for programs in any language.
//!
//! Each subcommand is one module of [`commands`], with its arguments (a clap `Args`
//! struct) and a `run` function returning the exit code; adding one (lint, diff) is
//! adding a module and a variant of [`Command`]. The library (`netpol`) does the work;
//! this crate reads files and YAML ([`input`]) and prints.
//!
//! Exit codes, for every subcommand:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done; nothing in the input was refused |
//! | 1 | done, but something in the input was refused or left out (`reach`, `explain`: an object that cannot be used; `validate`: a policy the apiserver would refuse; `flannel`: a net-conf flannel refuses; `lint`: a finding of severity warning or error) |
//! | 2 | usage error, a path that cannot be read, output that cannot be written, or a cluster that cannot be built (`lint`: also an object that cannot be read or is refused) |
//!
//! `diff` follows diff(1) instead: 0 same, 1 changed, 2 error.

pub mod commands;
pub mod demo;
pub mod input;
pub mod outside;
pub mod render;
pub mod services;
pub mod svg;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: done, nothing refused.
pub const EXIT_OK: u8 = 0;
/// Exit code: done, but something in the input was refused or left out.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: usage error, unreadable path, unwritable output, unbuildable cluster.
pub const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Exit status: 0 when done and nothing in the input was refused; 1 when something in
the input was refused or left out (the output covers the rest); 2 on a usage error, a
path that cannot be read, output that cannot be written, or a cluster that cannot be
built.

Examples:
  netpol reach                                   # the built-in demo cluster
  kubectl get ns,nodes,pods,svc,netpol -A -o yaml > cluster.yaml
  netpol reach cluster.yaml --port 5432/TCP
  netpol explain x/b x/a 6379/TCP                # why? (on the demo)
  netpol reach cluster.yaml --from 198.51.100.7  # Services as an outside client reaches them
  netpol explain 198.51.100.7 203.0.113.10 443 cluster.yaml --node node-2
  netpol validate policies/                      # for CI
  netpol map cluster.yaml --format dot           # who reaches whom, on which ports
  netpol diff before/ after/                     # what a change allows or denies
  netpol exposure cluster.yaml                   # isolated? open to the outside?
  netpol lint cluster.yaml                       # likely mistakes, dead rules
  netpol flannel net-conf.json --nodes 5
  netpol serve < requests.jsonl                  # JSON lines in, JSON lines out";

/// Who can reach whom in a Kubernetes cluster, and why.
#[derive(Debug, Parser)]
#[command(name = "netpol", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reachability tables between pods, per port, and through Services (the demo
    /// cluster without PATHs).
    Reach(commands::reach::Args),
    /// Explain one flow, or a flow to a Service: which policies isolate each side and
    /// which rule allows it.
    Explain(commands::explain::Args),
    /// Validate policy manifests as the apiserver would, for CI: every error with its
    /// file, document, line, object and field path.
    Validate(commands::validate::Args),
    /// Lint a cluster and its policies: selectors that match nothing, redundant and
    /// shadowed rules, pods without DNS, what the plugin ignores, and more.
    Lint(commands::lint::Args),
    /// Check a flannel net-conf.json and print the node pod subnets it implies.
    Flannel(commands::flannel::Args),
    /// Answer JSON requests, one per line on stdin, with one JSON answer per line on
    /// stdout (load, decide, explain, matrix).
    Serve(commands::serve::Args),
    /// The allowed connections between workloads, as port sets per protocol (text,
    /// JSON, CSV, Markdown, Graphviz DOT, SVG).
    Map(commands::map::Args),
    /// What two policy sets on one cluster allow differently, or the impact of changes;
    /// exit 0 same, 1 changed, 2 error.
    Diff(commands::diff::Args),
    /// Per workload and direction: isolated?, reachable from outside (which CIDRs),
    /// from every namespace, from every pod.
    Exposure(commands::exposure::Args),
}

/// Parses the command line and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(run(cli.command))
}

/// Runs a parsed subcommand; returns its exit code.
pub fn run(command: Command) -> u8 {
    match command {
        Command::Reach(a) => commands::reach::run(a),
        Command::Explain(a) => commands::explain::run(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Lint(a) => commands::lint::run(a),
        Command::Flannel(a) => commands::flannel::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Map(a) => commands::map::run(a),
        Command::Diff(a) => commands::diff::run(a),
        Command::Exposure(a) => commands::exposure::run(a),
    }
}
