//! `netpol map [PATH...]`: the allowed connections between workloads, as port sets per
//! protocol, computed over classes of pods and ports (`netpol::analysis`).

use std::path::PathBuf;

use netpol::analysis::ConnectivityMap;
use netpol::engine::Engine;

use super::{parse_profile, print_issues, write_stdout};
use crate::{EXIT_USAGE, svg};

const AFTER_HELP: &str = "\
A workload is the pods of one Deployment, StatefulSet, DaemonSet or Job (recognised by
the names and labels their controllers give them), or a pod on its own; its pods are
split as NAME#1, NAME#2 when policies treat them differently. A line FROM -> TO: PORTS
says that every pod of FROM reaches every other pod of TO on exactly PORTS, such as
`TCP 80, 8080-8090; UDP 53` (`all`: every port of every protocol). A pod reaching
itself is left out; pairs that reach each other on no port are not listed.

Formats: text (default), json, csv (from,to,protocol,ports), markdown, dot (Graphviz:
dot -Tsvg map.dot > map.svg) and svg (a grid of workloads; at most 1,000).

Examples:
  netpol map                                   # the built-in demo
  netpol map cluster.yaml policies/ --format dot -o map.dot
  netpol map cluster.yaml --json

Exit status: 0 when done and everything read was used; 1 when something in the input
was refused or left out (the map covers the rest); 2 on a usage error, an unreadable
path, output that cannot be written or a cluster that cannot be built.";

/// Output formats of `netpol map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per connection: FROM -> TO: PORTS.
    #[default]
    Text,
    /// `{"profile", "workloads", "connections": [{"from", "to", "ports"}]}`.
    Json,
    /// `from,to,protocol,ports`, one row per connection and protocol.
    Csv,
    /// A Markdown table.
    Markdown,
    /// A Graphviz digraph.
    Dot,
    /// An SVG grid.
    Svg,
}

/// `netpol map [OPTIONS] [PATH...]`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Manifest files or folders, as for `netpol reach`; the built-in demo without any.
    pub paths: Vec<PathBuf>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Short for --format json.
    #[arg(long)]
    pub json: bool,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The network plugin's behaviour (default: conformance).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// The largest map drawn as SVG.
const SVG_MAX: usize = 1000;

/// Runs `netpol map`.
pub fn run(args: Args) -> u8 {
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol map: {e}");
            return EXIT_USAGE;
        }
    };
    let loaded = match super::load(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netpol map: {e}");
            return EXIT_USAGE;
        }
    };
    let engine = Engine::builder()
        .profile(profile)
        .build(&loaded.built.cluster, &loaded.policies);
    let map = ConnectivityMap::new(&engine, &loaded.policies);
    print_issues(&loaded.issues);
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Text => {
            let mut s = format!(
                "# {} workloads, {} connections (profile {}; a pod to itself is left out)\n",
                map.classes().workloads().len(),
                map.connections().len(),
                map.profile()
            );
            s.push_str(&map.to_text());
            s
        }
        Format::Json => match serde_json::to_string_pretty(&map) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("netpol map: cannot write JSON: {e}");
                return EXIT_USAGE;
            }
        },
        Format::Csv => map.to_csv(),
        Format::Markdown => map.to_markdown(),
        Format::Dot => map.to_dot(),
        Format::Svg => {
            let workloads = map.classes().workloads();
            if workloads.len() > SVG_MAX {
                eprintln!(
                    "netpol map: {} workloads are too many for an SVG grid (at most {SVG_MAX}); use --format dot or csv",
                    workloads.len()
                );
                return EXIT_USAGE;
            }
            let names: Vec<String> = workloads.iter().map(ToString::to_string).collect();
            let ids: Vec<_> = map.classes().workload_ids().collect();
            let title = if loaded.demo {
                "netpol map: built-in demo".to_owned()
            } else {
                format!("netpol map: {}", loaded.input_names(&args.paths).join(" "))
            };
            let cell = |i: usize, j: usize| {
                let (a, b) = (ids.get(i)?, ids.get(j)?);
                let ports = map.between(*a, *b);
                (!ports.is_empty()).then(|| ports.to_string())
            };
            svg::connections(&title, &names, &cell)
        }
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("netpol map: cannot write {}: {e}", path.display());
                return EXIT_USAGE;
            }
        }
        None => {
            if let Err(code) = write_stdout(&text) {
                return code;
            }
        }
    }
    loaded.exit_code()
}
