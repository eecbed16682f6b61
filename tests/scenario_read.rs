//! The one-pass scenario reader (`LoadedScenario::read`, which the conformance runner
//! uses) against the general path (`Scenario::from_json` then `Scenario::load`): on every
//! scenario file of the crate and of the shared folder, on generated workloads, and on
//! files with an error, it either answers what the general path answers or gives up, and
//! `LoadedScenario::from_json` then reports the general path's error.

use std::path::{Path, PathBuf};

use netpol::cluster::Endpoint;
use netpol_testing::scenario::{LoadedScenario, Scenario, ScenarioError, ScenarioPolicy};
use netpol_testing::shared::{shared_or_skip, shared_path};
use netpol_testing::workload::{Scale, generate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Ids carry the identity of the cluster that issued them, which differs between two
/// loads of one file: written without it.
fn without_lineage(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("lineage: ") {
        let (head, tail) = rest.split_at(at + "lineage: ".len());
        out.push_str(head);
        out.push('_');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Everything a load gives, written out with names instead of ids.
fn canonical(l: &LoadedScenario) -> Vec<String> {
    let c = &l.cluster;
    let mut out = Vec::new();
    for (_, ns) in c.namespaces() {
        out.push(format!("namespace {ns:?}"));
    }
    for (_, node) in c.nodes() {
        out.push(format!("node {node:?}"));
    }
    for (id, p) in c.pods() {
        let node = p.node.and_then(|n| c.node(n)).map(|n| n.name.clone());
        out.push(format!(
            "pod {} {:?} {:?} {node:?} {:?} {}",
            c.describe(Endpoint::Pod(id)),
            p.labels,
            p.ips,
            p.ports,
            p.service_account
        ));
    }
    out.push(format!("{:?}", l.policies));
    out.push(format!("{:?}", l.outcomes));
    for q in &l.queries {
        let f = q.flow();
        out.push(format!(
            "query {} {} {:?} {} {:?} {:?}",
            q.index,
            c.describe_flow(f),
            f.family,
            f.via_service,
            q.domain,
            q.expect
        ));
    }
    for q in &l.service_queries {
        out.push(without_lineage(format!(
            "service query {q:?} from {}",
            c.describe(q.src)
        )));
    }
    for (_, s) in l.services.services() {
        out.push(without_lineage(format!("service {s:?}")));
    }
    out.push(format!(
        "{:?} {:?} {:?}",
        l.profile, l.proxy, l.expect_rejected
    ));
    out
}

/// What the general path gives for `text`.
fn general(text: &str) -> Result<LoadedScenario, ScenarioError> {
    Scenario::from_json(text)?.load()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Checks every scenario file under `dir`; returns how many the reader answered.
fn check_folder(dir: &Path) -> usize {
    let mut files = Vec::new();
    json_files(dir, &mut files);
    files.sort();
    let mut answered = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.display();
        let object = text.trim_start().starts_with('{');
        let selector_file =
            text.contains("\"calicoSelectors\"") || text.contains("\"calicoBadSelectors\"");
        match (LoadedScenario::read(&text), general(&text)) {
            (Some(read), Ok(loaded)) => {
                assert_eq!(canonical(&read), canonical(&loaded), "{name}");
                answered += 1;
            }
            (Some(_), Err(e)) => panic!("{name}: read in one pass, but the general path says {e}"),
            (None, Ok(_)) => assert!(
                !object || selector_file,
                "{name}: the general path loads it, the one-pass reader gave up"
            ),
            (None, Err(e)) => {
                if object && !selector_file {
                    assert_eq!(LoadedScenario::from_json(&text).unwrap_err(), e, "{name}");
                }
            }
        }
    }
    answered
}

#[test]
fn crate_scenarios_read_in_one_pass_as_loaded() {
    let answered = check_folder(&root().join("tests/scenarios"));
    assert!(answered >= 30, "only {answered} scenario files read");
}

#[test]
fn shared_scenarios_read_in_one_pass_as_loaded() {
    let Some(shared) = shared_or_skip(&shared_path(&root(), ""), "the shared scenarios") else {
        return;
    };
    let answered = check_folder(&shared);
    assert!(answered > 0, "no shared scenario read");
}

#[test]
fn generated_workloads_read_in_one_pass_as_loaded() {
    for scale in [Scale::S, Scale::M] {
        for seed in [1, 7] {
            let generated = generate(scale, seed);
            let text = serde_json::to_string_pretty(&generated.scenario).unwrap();
            let read = LoadedScenario::read(&text).expect("read in one pass");
            let loaded = general(&text).unwrap();
            assert!(read.cluster.pod_count() > 0 && !read.queries.is_empty());
            assert_eq!(
                canonical(&read),
                canonical(&loaded),
                "{scale:?} seed {seed}"
            );
        }
    }
}

/// Files with one mistake each: the reader gives up and the general path's error is the
/// answer, whatever part of the file holds the mistake.
#[test]
fn errors_are_those_of_the_general_path() {
    let ok = r#"{"profile": "calico",
      "namespaces": [{"name": "x", "labels": {"team": "a"}}],
      "nodes": [{"name": "n1", "ip": "192.168.0.1"}],
      "pods": [{"namespace": "x", "name": "a", "ip": "10.0.0.1", "node": "n1",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
               {"namespace": "x", "name": "b", "ip": "10.0.0.2"}],
      "policies": [{"metadata": {"name": "deny", "namespace": "x"}, "spec": {"podSelector": {}}}],
      "queries": [{"from": "x/a", "to": "x/b", "port": 80, "expect": "deny"}]}"#;
    assert!(LoadedScenario::read(ok).is_some());
    let broken = [
        (r#""profile": "calico""#, r#""profile": "cilium-ish""#),
        (r#""ip": "192.168.0.1""#, r#""ip": "192.168.0.300""#),
        (r#""ip": "10.0.0.2""#, r#""ip": "10.0.0.2/8""#),
        (r#""protocol": "TCP""#, r#""protocol": "ICMP""#),
        (r#""node": "n1""#, r#""node": "n2""#),
        (
            r#"{"namespace": "x", "name": "b""#,
            r#"{"namespace": "x", "name": "a""#,
        ),
        (r#""from": "x/a""#, r#""from": "x/c""#),
        (r#""port": 80, "expect""#, r#""port": 0, "expect""#),
        (r#""expect": "deny""#, r#""expect": "some""#),
        (r#""labels": {"team": "a"}"#, r#""labels": {"team": 1}"#),
        (r#""queries": ["#, r#""pods": [], "queries": ["#),
        (r#""policies": ["#, r#""policies": null, "x": ["#),
        (
            r#""profile": "calico","#,
            r#""profile": "calico", "description": 3,"#,
        ),
        (
            r#""port": 80, "protocol""#,
            r#""port": 80, "port": 81, "protocol""#,
        ),
        (r#""deny"}]}"#, r#""deny"}]"#),
    ];
    for (from, to) in broken {
        assert!(ok.contains(from), "{from}");
        let text = ok.replacen(from, to, 1);
        let expected = general(&text)
            .err()
            .unwrap_or_else(|| panic!("{to}: loads"));
        assert!(LoadedScenario::read(&text).is_none(), "{to}");
        assert_eq!(
            LoadedScenario::from_json(&text).unwrap_err(),
            expected,
            "{to}"
        );
    }
    // Not a scenario object at all.
    for text in ["[]", "3", "", r#"{"calicoSelectors": []}"#] {
        assert!(LoadedScenario::read(text).is_none(), "{text}");
    }
}

/// Pods written in ways the one-pass reader reads differently from the derived decoder:
/// a label key repeated (the last value counts), labels in any order, pods sharing label
/// sets and port lists with others, and strings with escapes (which it gives up on).
#[test]
fn pod_entries_read_as_the_general_path_reads_them() {
    let text = r#"{"pods": [
      {"namespace": "x", "name": "a", "labels": {"b": "1", "a": "2", "b": "3"},
       "ports": [{"name": "http", "port": 80}, {"port": 81, "protocol": "UDP"}]},
      {"namespace": "x", "name": "b", "labels": {"a": "2", "b": "3"}, "ip": "10.0.0.2",
       "ips": ["fd00::2"], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}]},
      {"namespace": "y", "name": "c", "labels": {"a": "2"}, "serviceAccount": "sa", "unknown": [1, {"x": null}]},
      {"namespace": "y", "name": "d", "ip": null, "node": null, "serviceAccount": null}
    ]}"#;
    let read = LoadedScenario::read(text).expect("read in one pass");
    let loaded = general(text).unwrap();
    assert_eq!(canonical(&read), canonical(&loaded));
    let c = &read.cluster;
    let pod = |ns, name| c.pod(c.pod_id(ns, name).unwrap()).unwrap();
    assert_eq!(pod("x", "a").labels["b"], "3");
    assert!(std::sync::Arc::ptr_eq(
        &pod("x", "a").labels,
        &pod("x", "b").labels
    ));
    assert!(std::sync::Arc::ptr_eq(
        &pod("x", "a").ports,
        &pod("x", "b").ports
    ));
    assert_eq!(pod("y", "c").service_account, "sa");

    let escaped = text.replace(r#""name": "c""#, r#""name": "\u0063""#);
    assert!(LoadedScenario::read(&escaped).is_none());
    let fallback = LoadedScenario::from_json(&escaped).unwrap();
    assert_eq!(canonical(&fallback), canonical(&loaded));
}

/// Each policy is decoded from its text as written, on both paths, as the apiserver
/// decodes a request body; a parsed `serde_json::Value` would have lost all of this:
///
/// - a repeated key is decoded again into the same field (`object` in sigs.k8s.io/json's
///   decode.go), so a first occurrence of the wrong type is a decode error even though
///   the last one is right, and a string's later value replaces it;
/// - `apiVersion` and `kind` are read case-insensitively in the order written, the last
///   key winning (`SimpleMetaFactory.Interpret` in apimachinery's
///   `runtime/serializer/json/meta.go`, which uses encoding/json);
/// - `-0` is the integer 0 (`literalStore` reads integers with `strconv.ParseInt`).
///
/// The policy's key is read as before, the last of a repeated key counting.
#[test]
fn policies_are_decoded_from_their_text() {
    let text = r#"{"namespaces": [{"name": "x"}], "pods": [{"namespace": "x", "name": "a"}],
      "policies": [
        {"metadata": {"name": "dup", "namespace": "x"}, "spec": {"podSelector": [], "podSelector": {}}},
        {"kind": "NetworkPolicy", "KIND": "Pod", "metadata": {"name": "kind-last", "namespace": "x"}},
        {"KIND": "Pod", "kind": "NetworkPolicy", "metadata": {"name": "kind-first", "namespace": "x"}},
        {"metadata": {"name": "zero", "namespace": "x", "generation": -0}, "spec": {"podSelector": {}}},
        {"metadata": {"name": "first", "namespace": "x", "name": "last"}, "spec": {"podSelector": {}}}
      ]}"#;
    let read = LoadedScenario::read(text).expect("read in one pass");
    let loaded = general(text).unwrap();
    assert_eq!(canonical(&read), canonical(&loaded));
    // A pod name with an escape: the one-pass reader gives up, the fallback answers alike.
    let escaped = text.replace(r#""name": "a"}"#, r#""name": "\u0061"}"#);
    assert!(LoadedScenario::read(&escaped).is_none());
    assert_eq!(
        canonical(&LoadedScenario::from_json(&escaped).unwrap()),
        canonical(&loaded)
    );

    let outcomes: Vec<(&str, Option<&str>)> = read
        .outcomes
        .iter()
        .map(|o| (o.key.as_str(), o.errors.first().map(|e| e.field.as_str())))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("x/dup", Some("spec.podSelector")),
            ("x/kind-last", Some("KIND")),
            ("x/kind-first", None),
            ("x/zero", None),
            ("x/last", None),
        ]
    );
    assert_eq!(read.policies.network_policies().len(), 3);

    // Written back, a scenario keeps each policy's text.
    let scenario = Scenario::from_json(text).unwrap();
    let again = Scenario::from_json(&serde_json::to_string(&scenario).unwrap()).unwrap();
    assert_eq!(again, scenario);
    assert!(
        again.policies[0]
            .text()
            .is_some_and(|t| t.contains(r#""podSelector": [], "podSelector": {}"#))
    );
}

/// A policy built in code is a value, decoded as it is, and a scenario written out with
/// it reads back as text that loads alike.
#[test]
fn policies_built_in_code_load_as_their_text_does() {
    let mut scenario = Scenario::from_json(r#"{"namespaces": [{"name": "x"}]}"#).unwrap();
    scenario.policies.push(ScenarioPolicy::from(serde_json::json!(
        {"metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "ingress": [null]}}
    )));
    scenario
        .policies
        .push(ScenarioPolicy::from(serde_json::json!(
            {"metadata": {"name": "q", "namespace": "x"}, "spec": {"podSelector": []}}
        )));
    let loaded = scenario.load().unwrap();
    let text = serde_json::to_string_pretty(&scenario).unwrap();
    let read = LoadedScenario::read(&text).expect("read in one pass");
    assert_eq!(canonical(&read), canonical(&loaded));
    assert_eq!(loaded.outcomes[1].errors[0].field, "spec.podSelector");
    let back = Scenario::from_json(&text).unwrap();
    assert!(back.policies[0].text().is_some() && scenario.policies[0].text().is_none());
    assert_eq!(back, scenario);
}
