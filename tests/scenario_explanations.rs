//! The compiled engine and the reference evaluator explain every query of every scenario
//! file the same way (the conformance test compares only their verdicts): which policies
//! select each side, the steps of the walk, the rules left undecided, what decided.

use std::path::{Path, PathBuf};

use netpol::engine::Engine;
use netpol::explain::{Explanation, SideExplanation};
use netpol::reference::Reference;
use netpol_testing::scenario::{LoadedScenario, Scenario};

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn engine_and_reference_explain_every_query_alike() {
    let mut checked = 0usize;
    let mut differences = Vec::new();
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).expect("a scenario file is readable");
        // Selector and net-conf case files are not scenarios.
        let Ok(scenario) = Scenario::from_json(&text) else {
            continue;
        };
        let loaded = scenario.load().expect("a scenario loads");
        let engine = Engine::builder()
            .profile(loaded.profile.clone())
            .build(&loaded.cluster, &loaded.policies);
        let reference = Reference::new(&loaded.cluster, &loaded.policies, loaded.profile.clone());
        for q in &loaded.queries {
            let flow = q.flow();
            let (e, r) = (engine.explain(flow), reference.explain(flow));
            checked += 1;
            if e != r {
                differences.push(format!(
                    "{}: {}\n{e}\n{r}\n{e:?}\n{r:?}",
                    file.display(),
                    r.flow
                ));
            }
        }
    }
    assert!(checked > 100, "only {checked} queries");
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

fn load(name: &str) -> LoadedScenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let text = std::fs::read_to_string(&file).expect("a scenario file is readable");
    Scenario::from_json(&text)
        .expect("a scenario")
        .load()
        .expect("a scenario loads")
}

/// Both evaluators' explanations of the query of `loaded` whose flow reads `flow`.
fn explain_both(loaded: &LoadedScenario, flow: &str) -> [Explanation; 2] {
    let engine = Engine::builder()
        .profile(loaded.profile.clone())
        .build(&loaded.cluster, &loaded.policies);
    let reference = Reference::new(&loaded.cluster, &loaded.policies, loaded.profile.clone());
    let q = loaded
        .queries
        .iter()
        .find(|q| reference.explain(q.flow()).flow == flow)
        .unwrap_or_else(|| panic!("no query {flow}"));
    [engine.explain(q.flow()), reference.explain(q.flow())]
}

fn names(side: &SideExplanation) -> Vec<String> {
    side.policies.iter().map(ToString::to_string).collect()
}

/// A rule Felix does not render for the flow's family is neither matched nor listed as
/// undecided; for the other family it is.
#[test]
fn rules_of_the_other_family_are_not_undecided() {
    let loaded = load("calico-rule-family.json");
    for e in explain_both(&loaded, "b/v6p -> b/v6q 80/TCP") {
        assert!(e.egress.unsupported.is_empty(), "{e}");
        assert!(!e.verdict.is_allowed(), "{e}");
    }
    for e in explain_both(&loaded, "b/d -> b/q 80/TCP") {
        let listed: Vec<String> = e
            .egress
            .unsupported
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(listed, ["calico/b/out-v4-only spec.egress[0]"], "{e}");
        assert!(e.verdict.is_allowed(), "{e}");
    }
}

/// A ClusterNetworkPolicy whose egress rules Calico all drops is not listed among the
/// policies of a pod's egress; its ingress still is.
#[test]
fn cluster_policy_without_converted_egress_rules_is_not_an_egress_policy() {
    let loaded = load("calico-cnp-dropped-direction.json");
    for e in explain_both(&loaded, "prod/web -> node/node-2 10250/TCP") {
        assert_eq!(names(&e.egress), ["cnp/baseline-no-node-network"], "{e}");
    }
    for e in explain_both(&loaded, "dev/x -> prod/db 5432/TCP") {
        assert_eq!(names(&e.ingress), ["cnp/accept-to-workers"], "{e}");
        assert_eq!(
            names(&e.egress),
            ["cnp/deny-to-workers", "cnp/baseline-no-node-network"],
            "{e}"
        );
    }
}

/// A tier default names the policies of the tier whose default applied, in text and in
/// JSON: Calico's own policies in its `default` tier (the NetworkPolicy tier) as well as
/// in other tiers.
#[test]
fn tier_defaults_name_their_policies() {
    let loaded = load("calico-rule-family.json");
    for e in explain_both(&loaded, "b/q -> b/p 53/TCP") {
        assert_eq!(
            e.ingress.to_string(),
            "ingress at b/p: isolated by calico/b/p-v6-only; no rule allows it, denied"
        );
        let json = serde_json::to_value(&e.ingress).expect("serialises");
        assert_eq!(
            json["decision"],
            serde_json::json!({"by": "tierDefault", "tier": "networkPolicy", "action": "Deny"})
        );
        assert_eq!(
            json["tierPolicies"],
            serde_json::json!([{"kind": "NetworkPolicy.projectcalico.org", "index": 0, "namespace": "b",
                                "name": "p-v6-only"}])
        );
        // Kubernetes NetworkPolicy alone isolates; the Calico policy does not.
        assert_eq!(json["isolated"], false);
        let back: Explanation = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
    let loaded = load("calico-tiers-order.json");
    for e in explain_both(&loaded, "dev/client -> prod/db 5432/TCP") {
        assert!(
            e.ingress
                .to_string()
                .ends_with("Calico tier app: no rule of gnp/app-db matched, default Deny"),
            "{e}"
        );
        assert_eq!(names_of(&e.ingress.tier_policies), ["gnp/app-db"]);
    }
    // Where a Kubernetes NetworkPolicy and Calico policies share the default tier, all
    // are named.
    let loaded = load("calico-actions.json");
    let [e, r] = explain_both(&loaded, "prod/other -> prod/api 8080/TCP");
    assert_eq!(e, r);
    assert_eq!(
        names_of(&e.ingress.tier_policies),
        [
            "gnp/dflt-pass-ssh",
            "prod/api-8080-from-client",
            "gnp/dflt-log-only"
        ],
        "{e}"
    );
    // Other decisions name none.
    assert!(e.egress.tier_policies.is_empty());
    let json = serde_json::to_value(&e.egress).unwrap();
    assert!(json.get("tierPolicies").is_none());
}

/// A node reaching its own pod, which only Calico policies select: they are named, and
/// no "isolated by" list is printed empty.
#[test]
fn own_node_under_calico_names_the_selecting_policies() {
    let loaded = load("calico-own-node.json");
    let engine = Engine::builder()
        .profile(loaded.profile.clone())
        .build(&loaded.cluster, &loaded.policies);
    let mut seen = 0;
    for q in &loaded.queries {
        let text = engine.explain(q.flow()).to_string();
        assert!(!text.contains("isolated by ;"), "{text}");
        if text.contains("selected by gnp/deny-all-ingress; traffic between a pod and its own node")
        {
            seen += 1;
        }
    }
    assert!(seen > 0);
}

fn names_of(list: &[netpol::explain::PolicyRef]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}
