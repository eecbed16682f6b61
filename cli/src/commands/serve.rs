//! `netpol serve`: a JSON-lines service on stdin and stdout, so that a program in any
//! language can wrap the engine.
//!
//! One JSON request per line on stdin, one JSON answer per line on stdout, in the order
//! of the requests. Every answer is one whole line; a request that cannot be answered
//! gets an error answer (`"ok": false`), never a crash or a partial line. Lines holding
//! only whitespace are skipped (no answer). The service ends, with exit code 0, when
//! stdin ends.
//!
//! Requests (`id` is optional, any JSON value, and is echoed in the answer):
//!
//! ```text
//! {"id": 1, "op": "load", "objects": [...], "manifests": "YAML or JSON text", "profile": "calico"}
//! {"id": 2, "op": "decide", "from": "shop/api", "to": "shop/db", "port": 5432, "protocol": "TCP"}
//! {"id": 3, "op": "explain", "from": "shop/api", "to": "svc/shop/db", "port": 5432}
//! {"id": 4, "op": "matrix", "port": 80, "protocol": "TCP", "from": ["shop/api"], "to": ["shop/db"]}
//! {"id": 5, "op": "decide", "from": "198.51.100.7", "to": "203.0.113.10", "port": 443, "node": "node-2"}
//! ```
//!
//! `decide` and `explain` reach Services as `netpol explain` does: `to` may be a
//! Service, one of its addresses, or a node with `port` a node port, and `node` names the
//! node receiving traffic from outside the cluster.
//!
//! Answers:
//!
//! ```text
//! {"id": 1, "ok": true, "namespaces": 2, "nodes": 1, "pods": 3, "services": 1, "policies": 1, "clusterPolicies": 0, "profile": "calico", "issues": [...]}
//! {"id": 2, "ok": true, "verdict": "allow"}
//! {"id": 3, "ok": true, "verdict": "allow", "explanation": {...}, "text": "..."}
//! {"id": 4, "ok": true, "from": [...], "to": [...], "port": 80, "protocol": "TCP", "allowedCount": 1, "pairs": 1, "allowed": [[true]]}
//! {"id": 5, "ok": false, "error": "from: \"shop/nope\": no pod \"nope\" in namespace \"shop\" was read"}
//! ```
//!
//! See the README's "netpol serve" section for every field.

use std::borrow::Cow;
use std::io::{BufRead, BufWriter, Write};

use netpol::cluster::{BuiltCluster, Endpoint};
use netpol::engine::Engine;
use netpol::explain::Verdict;
use netpol::policy::{PolicySet, Protocol};
use netpol::profile::Profile;
use netpol::service::{Reachability, ServiceProxy};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Answer, Question, parse_port, parse_profile, resolve};
use crate::input::{Manifests, Position};
use crate::{EXIT_OK, EXIT_USAGE, render};

const AFTER_HELP: &str = "\
Protocol: one JSON object per line on stdin, one JSON answer per line on stdout, in
order. Operations:
  load     {\"op\": \"load\", \"objects\": [OBJECT...], \"manifests\": \"TEXT\", \"profile\": \"NAME\"}
           replaces the cluster: Namespace, Node, Pod, Service, NetworkPolicy and
           ClusterNetworkPolicy objects (or Lists of them) as JSON, and/or manifest text
           (YAML or JSON, several documents); answers the counts and the issues
  decide   {\"op\": \"decide\", \"from\": \"ns/pod\", \"to\": \"ns/pod\", \"port\": 80, \"protocol\": \"TCP\"}
           answers {\"verdict\": \"allow\"|\"deny\"}; to a Service (svc/NS/NAME or its
           cluster IP): \"allow\" (every endpoint), \"some\", \"deny\", with \"reachability\"
  explain  the same fields; answers the explanation as JSON and as text
  matrix   {\"op\": \"matrix\", \"port\": 80, \"protocol\": \"TCP\", \"from\": [...], \"to\": [...]}
           (every pod when from or to is absent); answers a row of booleans per source
Every request may carry an \"id\", echoed in its answer. A request that cannot be
answered gets {\"ok\": false, \"error\": \"...\"}. FROM and TO are ns/pod, node/NAME or an
IP address. Before any load the cluster is empty.

Exit status: 0 when stdin ends; 2 when reading stdin or writing stdout fails.";

/// `netpol serve`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The profile of the empty cluster before the first load (a load may name another).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Answers are always JSON; accepted for uniformity with the other subcommands.
    #[arg(long)]
    pub json: bool,
}

/// One request: the union of every operation's fields (a field an operation does not
/// read is an error, to catch misspellings).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow, default)]
    from: Option<Side<'a>>,
    #[serde(borrow, default)]
    to: Option<Side<'a>>,
    #[serde(default)]
    port: Option<PortField<'a>>,
    #[serde(borrow, default)]
    protocol: Option<Cow<'a, str>>,
    #[serde(default)]
    objects: Option<Vec<serde_json::Value>>,
    #[serde(borrow, default)]
    manifests: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    profile: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    node: Option<Cow<'a, str>>,
}

/// `from`/`to`: one endpoint (decide, explain) or a list (matrix).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Side<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

/// `port`: a number, or `"PORT[/PROTO]"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PortField<'a> {
    Number(u64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

/// The loaded cluster and its engine.
struct State {
    built: BuiltCluster,
    engine: Engine,
    /// How Service traffic is translated (the profile's plugin).
    proxy: ServiceProxy,
    /// Every pod, by namespace then name: the default rows and columns of a matrix.
    pods: Vec<Endpoint>,
}

impl State {
    fn new(built: BuiltCluster, policies: PolicySet, profile: Profile) -> State {
        let proxy = ServiceProxy::new(&profile);
        let engine = Engine::builder()
            .profile(profile)
            .build(&built.cluster, &policies);
        let cluster = &built.cluster;
        let mut pods: Vec<(String, Endpoint)> = cluster
            .pods()
            .map(|(id, p)| {
                (
                    format!("{}/{}", cluster.pod_namespace_name(id), p.name),
                    Endpoint::Pod(id),
                )
            })
            .collect();
        pods.sort_by(|a, b| a.0.cmp(&b.0));
        State {
            built,
            engine,
            proxy,
            pods: pods.into_iter().map(|(_, e)| e).collect(),
        }
    }
}

/// An answer's body after `"id"` and `"ok"`, or an error message.
type Reply = Result<serde_json::Map<String, serde_json::Value>, String>;

/// Runs `netpol serve` on stdin and stdout.
pub fn run(args: Args) -> u8 {
    let profile = match parse_profile(args.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netpol serve: {e}");
            return EXIT_USAGE;
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut input = stdin.lock();
    let mut output = BufWriter::with_capacity(1 << 16, stdout.lock());
    match serve(&mut input, &mut output, profile) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("netpol serve: {e}");
            EXIT_USAGE
        }
    }
}

/// Answers every request line of `input` on `output`, starting from an empty cluster
/// with `profile`. Output is flushed whenever no further input is waiting, so an
/// interactive client gets each answer at once and a pipe full of requests is answered
/// in large writes.
pub fn serve<R: BufRead, W: Write>(
    input: &mut R,
    output: &mut W,
    profile: Profile,
) -> std::io::Result<()> {
    let empty = Manifests::default();
    let mut state = match super::load_manifests(empty, false) {
        Ok(l) => State::new(l.built, l.policies, profile),
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let mut line = Vec::new();
    let mut answer = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        answer.clear();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(&line, &mut state, &mut answer)
        }));
        if outcome.is_err() {
            answer.clear();
            answer.extend_from_slice(
                br#"{"ok":false,"error":"internal error: the request could not be answered"}"#,
            );
        }
        answer.push(b'\n');
        output.write_all(&answer)?;
        if input.fill_buf()?.is_empty() {
            output.flush()?;
        }
    }
    output.flush()
}

/// Answers one request line into `out` (one JSON object, no newline).
fn handle(line: &[u8], state: &mut State, out: &mut Vec<u8>) {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            return write_answer(out, None, Err(format!("the request is not UTF-8: {e}")));
        }
    };
    let request: Request<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            return write_answer(
                out,
                None,
                Err(format!("the request is not a JSON request: {e}")),
            );
        }
    };
    let id = request.id;
    // The frequent operation answers without building a JSON tree.
    if request.op == "decide" {
        match decide(&request, state) {
            Ok(verdict) => {
                out.push(b'{');
                if let Some(id) = id {
                    out.extend_from_slice(b"\"id\":");
                    out.extend_from_slice(id.get().as_bytes());
                    out.push(b',');
                }
                out.extend_from_slice(b"\"ok\":true,\"verdict\":\"");
                out.extend_from_slice(verdict.0.as_bytes());
                out.push(b'"');
                if let Some(r) = verdict.1 {
                    out.extend_from_slice(b",\"reachability\":\"");
                    out.extend_from_slice(r.as_str().as_bytes());
                    out.push(b'"');
                }
                out.push(b'}');
            }
            Err(e) => write_answer(out, id, Err(e)),
        }
        return;
    }
    let reply = match request.op.as_ref() {
        "load" => load(&request, state),
        "explain" => explain(&request, state),
        "matrix" => matrix(&request, state),
        other => Err(format!(
            "unknown op {other:?}: known are load, decide, explain, matrix"
        )),
    };
    write_answer(out, id, reply);
}

/// Writes `{"id": ..., "ok": ..., ...}`: the id first (as the request wrote it), then
/// `ok`, then the body's fields or the error.
fn write_answer(out: &mut Vec<u8>, id: Option<&RawValue>, reply: Reply) {
    out.push(b'{');
    if let Some(id) = id {
        out.extend_from_slice(b"\"id\":");
        out.extend_from_slice(id.get().as_bytes());
        out.push(b',');
    }
    let (ok, rest) = match reply {
        Ok(body) if body.is_empty() => (true, Ok(String::new())),
        Ok(body) => (
            true,
            serde_json::to_string(&body).map(|text| {
                // The fields of the object, without its braces.
                format!(",{}", text.get(1..text.len() - 1).unwrap_or_default())
            }),
        ),
        Err(message) => (
            false,
            serde_json::to_string(&message).map(|m| format!(",\"error\":{m}")),
        ),
    };
    match rest {
        Ok(rest) => {
            out.extend_from_slice(if ok { b"\"ok\":true" } else { b"\"ok\":false" });
            out.extend_from_slice(rest.as_bytes());
            out.push(b'}');
        }
        Err(_) => {
            out.clear();
            out.extend_from_slice(
                br#"{"ok":false,"error":"the answer could not be written as JSON"}"#,
            );
        }
    }
}

fn one<'r>(side: &'r Option<Side<'_>>, field: &str) -> Result<&'r str, String> {
    match side {
        Some(Side::One(s)) => Ok(s),
        Some(Side::Many(_)) => Err(format!("{field}: one endpoint, not a list")),
        None => Err(format!(
            "{field}: missing (ns/pod, node/NAME or an IP address)"
        )),
    }
}

fn port_of(request: &Request<'_>) -> Result<(u16, Protocol), String> {
    let (port, protocol) = match &request.port {
        None => return Err("port: missing".into()),
        Some(PortField::Text(t)) => parse_port(t).map_err(|e| format!("port: {e}"))?,
        Some(PortField::Number(n)) => {
            let port = u16::try_from(*n)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("port: {n} is not a port number (1-65535)"))?;
            (port, Protocol::Tcp)
        }
    };
    match &request.protocol {
        None => Ok((port, protocol)),
        Some(p) => p
            .to_ascii_uppercase()
            .parse::<Protocol>()
            .map(|proto| (port, proto))
            .map_err(|_| format!("protocol: {p:?} is not TCP, UDP or SCTP")),
    }
}

fn question(request: &Request<'_>, state: &State) -> Result<Question, String> {
    let from = one(&request.from, "from")?;
    let to = one(&request.to, "to")?;
    let port = port_of(request)?;
    Question::resolve(&state.built, from, to, port, request.node.as_deref()).map_err(|e| {
        if resolve(&state.built.cluster, from).is_err() {
            format!("from: {e}")
        } else {
            format!("to: {e}")
        }
    })
}

/// The verdict of a flow, or of a flow to a Service with its reachability.
fn decide(
    request: &Request<'_>,
    state: &State,
) -> Result<(&'static str, Option<Reachability>), String> {
    match question(request, state)? {
        Question::Flow(flow) => Ok((verdict_str(state.engine.decide(flow)), None)),
        Question::Service(service_request) => {
            let r = state
                .built
                .services
                .reach(&state.engine, &state.proxy, service_request)
                .map_err(|e| format!("to: {e}"))?;
            Ok((service_verdict(r), Some(r)))
        }
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
    }
}

fn service_verdict(r: Reachability) -> &'static str {
    match r {
        Reachability::All => "allow",
        Reachability::Some => "some",
        _ => "deny",
    }
}

fn explain(request: &Request<'_>, state: &State) -> Reply {
    let answer = question(request, state)?
        .answer(&state.engine, &state.proxy, &state.built.services)
        .map_err(|e| format!("to: {e}"))?;
    let mut body = serde_json::Map::new();
    let verdict = match &answer {
        Answer::Flow(e) => verdict_str(e.verdict),
        Answer::Service(v) => service_verdict(v.reachability),
    };
    body.insert("verdict".into(), verdict.into());
    if let Answer::Service(v) = &answer {
        body.insert("reachability".into(), v.reachability.as_str().into());
    }
    body.insert("text".into(), answer.to_string().into());
    body.insert(
        "explanation".into(),
        serde_json::to_value(&answer).map_err(|e| format!("cannot write the explanation: {e}"))?,
    );
    Ok(body)
}

fn endpoints(side: &Option<Side<'_>>, field: &str, state: &State) -> Result<Vec<Endpoint>, String> {
    match side {
        None => Ok(state.pods.clone()),
        Some(Side::One(s)) => resolve(&state.built.cluster, s)
            .map(|e| vec![e])
            .map_err(|e| format!("{field}: {e}")),
        Some(Side::Many(list)) => list
            .iter()
            .enumerate()
            .map(|(i, s)| {
                resolve(&state.built.cluster, s).map_err(|e| format!("{field}[{i}]: {e}"))
            })
            .collect(),
    }
}

fn matrix(request: &Request<'_>, state: &State) -> Reply {
    let (port, protocol) = port_of(request)?;
    let from = endpoints(&request.from, "from", state)?;
    let to = endpoints(&request.to, "to", state)?;
    let m = state.engine.matrix(&from, &to, port, protocol);
    let cluster = &state.built.cluster;
    let names =
        |list: &[Endpoint]| -> Vec<String> { list.iter().map(|e| cluster.describe(*e)).collect() };
    let mut body = serde_json::Map::new();
    body.insert("from".into(), names(&from).into());
    body.insert("to".into(), names(&to).into());
    if let serde_json::Value::Object(fields) = render::matrix_json(&m) {
        body.extend(fields);
    }
    Ok(body)
}

fn load(request: &Request<'_>, state: &mut State) -> Reply {
    let profile = parse_profile(request.profile.as_deref())?;
    if request.objects.is_none() && request.manifests.is_none() {
        return Err("load: give objects (a list of Kubernetes objects), manifests (YAML or JSON text), or both".into());
    }
    let mut m = Manifests::default();
    for (i, value) in request.objects.iter().flatten().enumerate() {
        m.read_value(
            Position {
                file: "objects".into(),
                document: 1,
                line: 0,
                item: Some(i),
            },
            value.clone(),
        );
    }
    if let Some(text) = &request.manifests {
        m.read_text("manifests", text);
    }
    m.settle_tiers();
    let loaded = super::load_manifests(m, false)?;
    let counts = (
        loaded.built.cluster.namespace_count(),
        loaded.built.cluster.node_count(),
        loaded.built.cluster.pod_count(),
        loaded.built.services.len(),
        loaded.policies.network_policies().len(),
        loaded.policies.cluster_policies().len(),
    );
    let issues = serde_json::to_value(&loaded.issues).map_err(|e| e.to_string())?;
    let profile_name = profile.name().to_owned();
    *state = State::new(loaded.built, loaded.policies, profile);
    let mut body = serde_json::Map::new();
    body.insert("namespaces".into(), counts.0.into());
    body.insert("nodes".into(), counts.1.into());
    body.insert("pods".into(), counts.2.into());
    body.insert("services".into(), counts.3.into());
    body.insert("policies".into(), counts.4.into());
    body.insert("clusterPolicies".into(), counts.5.into());
    body.insert("profile".into(), profile_name.into());
    body.insert("issues".into(), issues);
    Ok(body)
}
