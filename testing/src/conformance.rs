//! The conformance runner: checks scenario files, flannel net-conf case files and Calico
//! selector case files against the crate, and reports each difference.
//!
//! ```text
//! cargo run --release --example conformance -- [--json] [--reference] [--bench N] PATH...
//! ```
//!
//! Prints a line for every query whose verdict differs from `expect` and every policy
//! whose acceptance differs from `expectRejected`, then `N passed, N failed`. Exit code 0
//! when nothing failed, 1 when something did, 2 when a file cannot be read or is not a
//! scenario. With `--json`, one JSON object per query and per policy instead (the closing
//! line then goes to stderr so that stdout stays JSON lines). `--reference` answers with
//! the reference evaluator instead of the compiled engine. `--bench N` times N passes over
//! each file's queries after checking it, and reports the time to load and validate the
//! file (from its read on) and to build the evaluator, wall-clock and, where the system
//! tells it, CPU time.
//!
//! A file whose top level is an object holding `calicoSelectors` (or
//! `calicoBadSelectors`) is a Calico selector case file (FORMAT.md, "Calico selector
//! cases"): each case counts once, a failing one prints
//! `FILE: calicoSelectors[I] "SELECTOR": what differed`, and `--json` prints one object
//! per case (see [`crate::calico_selector`]). A top-level array of objects with `netConf`
//! is a flannel net-conf case file (see [`crate::netconf`]).

use crate::calico_selector;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::scenario::{LoadedItem, LoadedScenario, LoadedServiceQuery, Scenario};
use netpol::cluster::Flow;
use netpol::engine::Engine;
use netpol::explain::Evaluator;
use netpol::reference::Reference;
use netpol::service::Reachability;

/// Which evaluator answers the queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The compiled engine (the default).
    Engine,
    /// The literal reference evaluator.
    Reference,
}

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// One JSON object per query and per policy instead of report lines.
    pub json: bool,
    /// The evaluator answering the queries.
    pub mode: Mode,
    /// Timed passes over each file's queries, 0 for none.
    pub bench: u32,
    /// Files and folders to run.
    pub paths: Vec<PathBuf>,
}

/// Totals over all files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not.
    pub failed: usize,
    /// Files run (scenarios, net-conf case files and selector case files).
    pub files: usize,
}

/// A file that cannot be read or is not a scenario: the runner exits 2.
#[derive(Debug)]
pub struct FileError(pub String);

/// Parses the command line (without the program name).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut opts = Options {
        json: false,
        mode: Mode::Engine,
        bench: 0,
        paths: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => opts.json = true,
            "--reference" => opts.mode = Mode::Reference,
            "--bench" => {
                let n = args.next().ok_or("--bench needs a number of passes")?;
                opts.bench = n
                    .parse()
                    .map_err(|_| format!("--bench needs a number of passes, not \"{n}\""))?;
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => opts.paths.push(PathBuf::from(a)),
        }
    }
    if opts.paths.is_empty() {
        return Err("no scenario file or folder given".into());
    }
    Ok(opts)
}

/// Every `*.json` file under `path` (sorted), or `path` itself when it is a file.
pub fn collect_files(path: &Path) -> Result<Vec<PathBuf>, FileError> {
    let meta =
        std::fs::metadata(path).map_err(|e| FileError(format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| FileError(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| FileError(format!("{}: {e}", dir.display())))?;
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs every file under every path, writing report lines to `out`.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<Summary, FileError> {
    let mut total = Summary::default();
    let mut bench = BenchTotals::default();
    for path in &opts.paths {
        for file in collect_files(path)? {
            let s = run_file(opts, &file, out, &mut bench)?;
            total.passed += s.passed;
            total.failed += s.failed;
            total.files += s.files;
        }
    }
    if opts.bench > 0 && bench.files > 1 {
        let line = format!(
            "total: {} files, build {:.3} ms, {} decisions, {:.1} ns/decision ({})",
            bench.files,
            bench.build_ns as f64 / 1e6,
            bench.decisions,
            bench.decide_ns as f64 / (bench.decisions.max(1)) as f64,
            mode_name(opts.mode)
        );
        write_line(out, opts, &line)?;
    }
    Ok(total)
}

#[derive(Default)]
struct BenchTotals {
    files: usize,
    build_ns: u128,
    decide_ns: u128,
    decisions: u64,
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Engine => "engine",
        Mode::Reference => "reference",
    }
}

fn io(file: &Path, e: std::io::Error) -> FileError {
    FileError(format!("{}: {e}", file.display()))
}

/// Bench lines go to stdout normally, to stderr with --json (stdout stays JSON lines).
fn write_line(out: &mut dyn Write, opts: &Options, line: &str) -> Result<(), FileError> {
    if opts.json {
        eprintln!("{line}");
        Ok(())
    } else {
        writeln!(out, "{line}").map_err(|e| FileError(e.to_string()))
    }
}

fn run_file(
    opts: &Options,
    file: &Path,
    out: &mut dyn Write,
    bench: &mut BenchTotals,
) -> Result<Summary, FileError> {
    let name = file.display().to_string();
    // Load and validation are timed from the read of the file on.
    let load_start = Instant::now();
    let load_cpu = cpu_ns();
    let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
    // A scenario object is read in one pass, without a JSON tree of the whole file; any
    // other file, and a scenario the one-pass reader gives up on (an error, which the
    // general path reports), takes the general path.
    let streamed = if text.trim_start().starts_with('{') {
        LoadedScenario::read(&text)
    } else {
        None
    };
    let loaded = match streamed {
        Some(loaded) => loaded,
        None => {
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                FileError(format!(
                    "{name}:{}:{}: not JSON: {}",
                    e.line(),
                    e.column(),
                    strip_location(&e.to_string())
                ))
            })?;
            if crate::netconf::is_netconf_file(&value) {
                let o = crate::netconf::run_netconf_file(&name, &value, opts.json, out)
                    .map_err(|e| io(file, e))?;
                return Ok(Summary {
                    passed: o.passed,
                    failed: o.failed,
                    files: 1,
                });
            }
            if calico_selector::is_selector_file(&value) {
                let o = calico_selector::run_selector_file(&name, &value, opts.json, out)
                    .map_err(|e| io(file, e))?;
                return Ok(Summary {
                    passed: o.passed,
                    failed: o.failed,
                    files: 1,
                });
            }
            if !value.is_object() {
                return Err(FileError(format!(
                    "{name}: not a scenario (expected a JSON object, or an array of net-conf cases)"
                )));
            }
            drop(value);
            Scenario::from_json(&text)
                .and_then(|s| s.load())
                .map_err(|e| FileError(format!("{name}: not a scenario: {e}")))?
        }
    };
    drop(text);
    let load_ns = load_start.elapsed().as_nanos();
    let load_cpu = cpu_since(load_cpu);

    let build_start = Instant::now();
    let build_cpu = cpu_ns();
    let evaluator = evaluator(opts.mode, &loaded);
    let build_ns = build_start.elapsed().as_nanos();
    let build_cpu = cpu_since(build_cpu);

    let mut summary = Summary {
        files: 1,
        ..Summary::default()
    };
    for item in loaded.queries_in_order() {
        let q = match item {
            LoadedItem::Flow(q) => q,
            LoadedItem::Service(q) => {
                check_service_query(
                    opts,
                    &name,
                    &loaded,
                    evaluator.as_ref(),
                    q,
                    out,
                    &mut summary,
                )
                .map_err(|e| io(file, e))?;
                continue;
            }
        };
        let index = q.index;
        let verdict = evaluator.decide(q.flow());
        if opts.json {
            let line = serde_json::json!({"file": name, "index": index, "verdict": verdict});
            writeln!(out, "{line}").map_err(|e| io(file, e))?;
        }
        if let Some(expect) = q.expect {
            if expect == verdict {
                summary.passed += 1;
            } else {
                summary.failed += 1;
                if !opts.json {
                    writeln!(
                        out,
                        "{name}: queries[{index}] {}: expected {expect}, got {verdict}",
                        netpol::explain::Explanation::describe_flow(&loaded.cluster, q.flow())
                    )
                    .map_err(|e| io(file, e))?;
                }
            }
        }
    }

    let mismatches = loaded.rejection_mismatches(&loaded.expect_rejected);
    for outcome in &loaded.outcomes {
        if opts.json {
            let mut line = match outcome.errors.first() {
                Some(e) => {
                    serde_json::json!({"file": name, "policy": outcome.key, "rejected": true, "field": e.field})
                }
                None => serde_json::json!({"file": name, "policy": outcome.key, "rejected": false}),
            };
            if outcome.kind != "NetworkPolicy" {
                line["kind"] = serde_json::json!(outcome.kind);
            }
            writeln!(out, "{line}").map_err(|e| io(file, e))?;
        }
        if mismatches.iter().any(|(k, _)| *k == outcome.key) {
            summary.failed += 1;
        } else {
            summary.passed += 1;
        }
    }
    for (key, why) in &mismatches {
        // A mismatch for a policy the file does not hold was not counted above.
        if !loaded.outcomes.iter().any(|o| o.key == *key) {
            summary.failed += 1;
        }
        if !opts.json {
            writeln!(out, "{name}: policy {key}: {why}").map_err(|e| io(file, e))?;
        }
    }

    if opts.bench > 0 {
        let flows: Vec<Flow<'_>> = loaded.queries.iter().map(|q| q.flow()).collect();
        let mut allowed = 0usize;
        let start = Instant::now();
        for _ in 0..opts.bench {
            for f in &flows {
                allowed += usize::from(std::hint::black_box(evaluator.decide(*f)).is_allowed());
            }
        }
        let decide_ns = start.elapsed().as_nanos();
        let decisions = flows.len() as u64 * u64::from(opts.bench);
        std::hint::black_box(allowed);
        let line = format!(
            "{name}: load+validate {:.3} ms{}, build {:.3} ms{}, {} decisions, {:.1} ns/decision ({})",
            load_ns as f64 / 1e6,
            cpu_note(load_cpu),
            build_ns as f64 / 1e6,
            cpu_note(build_cpu),
            decisions,
            decide_ns as f64 / (decisions.max(1)) as f64,
            mode_name(opts.mode)
        );
        write_line(out, opts, &line)?;
        bench.files += 1;
        bench.build_ns += build_ns;
        bench.decide_ns += decide_ns;
        bench.decisions += decisions;
    }
    Ok(summary)
}

/// Answers a query to a Service: one JSON line, or a report line per mismatch (the
/// summary, then each listed endpoint whose verdict differs). The query counts once.
fn check_service_query(
    opts: &Options,
    name: &str,
    loaded: &LoadedScenario,
    evaluator: &dyn Evaluator,
    q: &LoadedServiceQuery,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> std::io::Result<()> {
    let index = q.index;
    let answer = match loaded
        .services
        .answer(evaluator, &loaded.proxy, q.request())
    {
        Ok(a) => a,
        Err(e) => {
            summary.failed += 1;
            if opts.json {
                let line =
                    serde_json::json!({"file": name, "index": index, "error": e.to_string()});
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "{name}: queries[{index}]: cannot be answered: {e}")?;
            }
            return Ok(());
        }
    };
    if opts.json {
        let verdict = match answer.reachability {
            Reachability::All => "allow",
            Reachability::Some => "some",
            Reachability::None | Reachability::NoEndpoints => "deny",
        };
        let endpoints: serde_json::Map<String, serde_json::Value> = answer
            .endpoints
            .iter()
            .map(|e| (e.endpoint.clone(), serde_json::json!(e.explanation.verdict)))
            .collect();
        let line = serde_json::json!({"file": name, "index": index, "verdict": verdict,
            "reachability": answer.reachability, "endpoints": endpoints});
        writeln!(out, "{line}")?;
    }
    if q.expect.is_none() && q.expect_endpoints.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    if let Some(expect) = q.expect {
        if !expect.matches_service(answer.reachability) {
            let why = answer
                .no_endpoints
                .as_ref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            problems.push(format!(
                "expected {expect}, got {}{why}",
                answer.reachability
            ));
        }
    }
    for (pod, want) in &q.expect_endpoints {
        let who = loaded
            .cluster
            .describe(netpol::cluster::Endpoint::Pod(*pod));
        match answer.endpoints.iter().find(|e| e.pod == *pod) {
            None => problems.push(format!(
                "expected endpoint {who} to {want}, but it is not an endpoint"
            )),
            Some(e) if e.explanation.verdict != *want => problems.push(format!(
                "expected endpoint {who} (port {}) to {want}, got {}",
                e.target_port, e.explanation.verdict
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        summary.passed += 1;
    } else {
        summary.failed += 1;
        if !opts.json {
            for p in problems {
                writeln!(out, "{name}: queries[{index}] {}: {p}", answer.flow)?;
            }
        }
    }
    Ok(())
}

/// The CPU time this thread has run, in nanoseconds, where the system tells it
/// (`/proc/thread-self/schedstat` on Linux): on a loaded machine the wall-clock times of
/// the phases count the waits for a core too.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn cpu_since(start: Option<u64>) -> Option<u64> {
    Some(cpu_ns()?.saturating_sub(start?))
}

/// ` (cpu N ms)`, or nothing when the CPU time is not known.
fn cpu_note(ns: Option<u64>) -> String {
    ns.map(|ns| format!(" (cpu {:.0} ms)", ns as f64 / 1e6))
        .unwrap_or_default()
}

fn strip_location(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(pos) => &msg[..pos],
        None => msg,
    }
}

/// The compiled engine or the reference evaluator.
fn evaluator<'a>(mode: Mode, loaded: &'a LoadedScenario) -> Box<dyn Evaluator + 'a> {
    match mode {
        Mode::Engine => Box::new(
            Engine::builder()
                .profile(loaded.profile.clone())
                .build(&loaded.cluster, &loaded.policies),
        ),
        Mode::Reference => Box::new(Reference::new(
            &loaded.cluster,
            &loaded.policies,
            loaded.profile.clone(),
        )),
    }
}

const USAGE: &str =
    "usage: conformance [--json] [--reference] [--bench N] PATH...  (files or folders of *.json)";

/// The runner's command line: parses `args` (without the program name), runs, prints the
/// report to stdout and the closing `N passed, N failed` line (to stderr with `--json`),
/// and returns the exit code: 0 when nothing failed, 1 when something did, 2 on a usage
/// error or a file that cannot be read or is not a scenario.
pub fn main(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    use std::process::ExitCode;
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("conformance: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&opts, &mut out) {
        Err(FileError(msg)) => {
            let _ = out.flush();
            eprintln!("conformance: {msg}");
            ExitCode::from(2)
        }
        Ok(summary) => {
            let line = format!("{} passed, {} failed", summary.passed, summary.failed);
            if opts.json {
                eprintln!("{line}");
            } else {
                let _ = writeln!(out, "{line}");
            }
            if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
