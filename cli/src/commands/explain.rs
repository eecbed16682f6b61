//! `netpol explain FROM TO PORT[/PROTO] [PATH...]`: why one flow is allowed or denied, or
//! what a flow to a Service reaches, endpoint by endpoint.

use std::path::PathBuf;

use netpol::engine::Engine;
use netpol::policy::Protocol;
use netpol::service::ServiceProxy;

use super::{Question, parse_port, parse_profile, print_issues, write_stdout};
use crate::EXIT_USAGE;

const AFTER_HELP: &str = "\
FROM and TO are ns/pod, node/NAME or an IP address (a pod's or node's address names
it; a host-network pod is its node). TO may also be a Service: svc/NS/NAME or one of
its cluster IPs (PORT is the Service port; a cluster IP of the second family of a
dual-stack Service is decided in that family), a load-balancer IP or an external IP
(PORT is the Service port), or a node (node/NAME or its address) with PORT one of the
Services' node ports. Every endpoint is explained after the translation: which node
received the traffic, which endpoints its traffic policies keep, and which source each
endpoint's policy saw (the client, or a node's masquerade address, as the --profile's
plugin does it).

Traffic from outside the cluster to a load-balancer or external IP arrives at a node
the load balancer or router picks: give it with --node NAME (a node port names its
node; a pod's traffic is translated on its own node).

Examples (on the built-in demo cluster):
  netpol explain x/b x/a 6379/TCP
  netpol explain x/b svc/x/db 6379/TCP --json
Examples (on your manifests):
  netpol explain 198.51.100.7 node/node-1 30080 cluster.yaml --profile calico
  netpol explain 198.51.100.7 203.0.113.10 443 --node node-2 cluster.yaml

Exit status: 0 when the explanation was printed and everything read was used; 1 when
something in the input was refused or left out (the explanation covers the rest); 2 on
a usage error, an unknown FROM or TO, or a cluster that cannot be built. The verdict
itself does not change the exit status.";

/// `netpol explain FROM TO PORT[/PROTO] [PATH...]`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The source: ns/pod, node/NAME or an IP address.
    pub from: String,
    /// The destination: ns/pod, node/NAME, an IP address, or a Service (svc/NS/NAME or
    /// its cluster IP).
    pub to: String,
    /// The port, such as 5432/TCP or 53/UDP (TCP when no protocol is given); for a
    /// Service, the Service port.
    #[arg(value_parser = parse_port, value_name = "PORT[/PROTO]")]
    pub port: (u16, Protocol),
    /// Manifest files or folders, as for `netpol reach`; the built-in demo without any.
    pub paths: Vec<PathBuf>,
    /// The network plugin's behaviour (default: conformance).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The node receiving traffic from outside the cluster to a load-balancer IP, an
    /// external IP or a cluster IP.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// kube-proxy runs with --masquerade-all: pods' traffic to cluster IPs is
    /// masqueraded too.
    #[arg(long)]
    pub masquerade_all: bool,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `netpol explain`.
pub fn run(args: Args) -> u8 {
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol explain: {e}");
            return EXIT_USAGE;
        }
    };
    let loaded = match super::load(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netpol explain: {e}");
            return EXIT_USAGE;
        }
    };
    let question = match Question::resolve(
        &loaded.built,
        &args.from,
        &args.to,
        args.port,
        args.node.as_deref(),
    ) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("netpol explain: {e}");
            return EXIT_USAGE;
        }
    };
    let proxy = ServiceProxy::new(&profile).with_masquerade_all(args.masquerade_all);
    let engine = Engine::builder()
        .profile(profile)
        .build(&loaded.built.cluster, &loaded.policies);
    let answer = match question.answer(&engine, &proxy, &loaded.built.services) {
        Ok(a) => a,
        Err(e) => {
            print_issues(&loaded.issues);
            eprintln!("netpol explain: {e}");
            return EXIT_USAGE;
        }
    };
    print_issues(&loaded.issues);
    let text = if args.json {
        match serde_json::to_string_pretty(&answer) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("netpol explain: cannot write JSON: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        format!("{answer}\n")
    };
    if let Err(code) = write_stdout(&text) {
        return code;
    }
    loaded.exit_code()
}
