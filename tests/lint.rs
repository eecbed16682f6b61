//! The lint catalogue: for every check, a fixture where it fires and one where it does
//! not; then property tests holding the redundancy and shadowing checks to brute force
//! (the engine rebuilt without the rule or policy, compared on every flow).

mod support;

use netpol::analysis::lint::{Check, Finding, LintInput, Report, Severity, lint};
use netpol::calico::{CalicoNetworkSet, CalicoPolicy, CalicoTier};
use netpol::cluster::{Cluster, ContainerPort, PodSpec};
use netpol::model::{PolicyObject, decode_policy_objects};
use netpol::policy::{ClusterPolicy, Policy, PolicySet, Protocol};
use netpol::profile::Profile;
use netpol::service::{Service, ServiceTable};

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

/// shop (db, api, web), other (client), kube-system (coredns-1), two nodes.
fn cluster_with(dns: bool) -> Cluster {
    let mut b = Cluster::builder()
        .namespace("shop", [("team", "shop")])
        .namespace("other", [("team", "other")])
        .namespace("kube-system", [("team", "platform")])
        .node("n1", [ip("192.168.0.11")])
        .node("n2", [ip("192.168.0.12")])
        .pod(
            PodSpec::new("shop", "db")
                .label("app", "db")
                .ip(ip("10.0.1.1"))
                .node("n1")
                .port(ContainerPort::named("pg", 5432, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("shop", "api")
                .label("app", "api")
                .ip(ip("10.0.1.2"))
                .node("n1")
                .port(ContainerPort::named("http", 8080, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("shop", "web")
                .label("app", "web")
                .ip(ip("10.0.1.3"))
                .node("n2")
                .port(ContainerPort::named("http", 80, Protocol::Tcp)),
        )
        .pod(
            PodSpec::new("other", "client")
                .label("app", "client")
                .ip(ip("10.0.2.1"))
                .node("n2"),
        );
    if dns {
        b = b.pod(
            PodSpec::new("kube-system", "coredns-1")
                .label("k8s-app", "kube-dns")
                .ip(ip("10.0.3.1"))
                .node("n1")
                .port(ContainerPort::named("dns", 53, Protocol::Udp))
                .port(ContainerPort::named("dns-tcp", 53, Protocol::Tcp)),
        );
    }
    b.build().unwrap()
}

fn cluster() -> Cluster {
    cluster_with(true)
}

/// Decodes and normalises every object (they must all be valid).
fn objects(json: &str) -> (PolicySet, Vec<PolicyObject>) {
    let written = decode_policy_objects(json).unwrap();
    let mut set = PolicySet::new();
    for o in &written {
        match o {
            PolicyObject::NetworkPolicy(p) => set.push(Policy::new(p).unwrap()),
            PolicyObject::ClusterNetworkPolicy(p) => set.push(ClusterPolicy::new(p).unwrap()),
            PolicyObject::CalicoNetworkPolicy(p) => set.push(CalicoPolicy::new(p).unwrap()),
            PolicyObject::GlobalNetworkPolicy(p) => set.push(CalicoPolicy::new(p).unwrap()),
            PolicyObject::NetworkSet(s) => set.push(CalicoNetworkSet::new(s).unwrap()),
            PolicyObject::GlobalNetworkSet(s) => set.push(CalicoNetworkSet::new(s).unwrap()),
            PolicyObject::Tier(t) => set.push(CalicoTier::new(t).unwrap()),
            _ => panic!("unexpected kind"),
        }
    }
    (set, written)
}

fn run_on(cluster: &Cluster, json: &str, profile: Profile) -> Report {
    let (set, written) = objects(json);
    lint(
        &LintInput::new(cluster, &set)
            .profile(profile)
            .written(&written),
    )
}

fn run(json: &str) -> Report {
    run_on(&cluster(), json, Profile::conformance())
}

fn of(report: &Report, check: Check) -> Vec<&Finding> {
    report.of(check).collect()
}

/// `(object name, field)` of the findings of a check.
fn where_(report: &Report, check: Check) -> Vec<(String, String)> {
    report
        .of(check)
        .map(|f| (f.object.name.clone(), f.field.clone()))
        .collect()
}

fn np(name: &str, spec: &str) -> String {
    format!(
        r#"{{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {{"name": "{name}", "namespace": "shop"}}, "spec": {spec}}}"#
    )
}

fn cnp(name: &str, spec: &str) -> String {
    format!(
        r#"{{"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {{"name": "{name}"}}, "spec": {spec}}}"#
    )
}

fn list(items: &[String]) -> String {
    format!(r#"{{"kind": "List", "items": [{}]}}"#, items.join(","))
}

// ---------------------------------------------------------------------------------------
// NP001–NP005
// ---------------------------------------------------------------------------------------

#[test]
fn np001_subject_selects_nothing() {
    let r = run(&np(
        "p",
        r#"{"podSelector": {"matchLabels": {"app": "none"}}, "policyTypes": ["Ingress"]}"#,
    ));
    assert_eq!(
        where_(&r, Check::EmptySubject),
        [("p".into(), "spec.podSelector".into())]
    );
    let r = run(&np(
        "p",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}"#,
    ));
    assert!(of(&r, Check::EmptySubject).is_empty());
    // A ClusterNetworkPolicy's subject, and a Calico policy's selector.
    let r = run(&cnp(
        "c",
        r#"{"tier": "Admin", "priority": 1,
            "subject": {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "none"}}}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}"#,
    ));
    assert_eq!(
        where_(&r, Check::EmptySubject),
        [("c".into(), "spec.subject".into())]
    );
    let calico = r#"{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "g"}, "spec": {"selector": "app == 'none'", "ingress": [{"action": "Allow"}]}}"#;
    let r = run_on(&cluster(), calico, Profile::calico());
    assert_eq!(
        where_(&r, Check::EmptySubject),
        [("g".into(), "spec.selector".into())]
    );
    let calico = calico.replace("'none'", "'db'");
    let r = run_on(&cluster(), &calico, Profile::calico());
    assert!(of(&r, Check::EmptySubject).is_empty());
}

#[test]
fn np002_np003_peers_that_select_nothing() {
    let peer = |from: &str| {
        np(
            "p",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "db"}}}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"from": [{from}]}}]}}"#
            ),
        )
    };
    let r = run(&peer(
        r#"{"namespaceSelector": {"matchLabels": {"team": "nowhere"}}}"#,
    ));
    assert_eq!(
        where_(&r, Check::NamespaceSelectorMatchesNothing),
        [(
            "p".into(),
            "spec.ingress[0].from[0].namespaceSelector".into()
        )]
    );
    let r = run(&peer(
        r#"{"podSelector": {"matchLabels": {"app": "nothing"}}}"#,
    ));
    assert_eq!(
        where_(&r, Check::PeerMatchesNothing),
        [("p".into(), "spec.ingress[0].from[0].podSelector".into())]
    );
    let r = run(&peer(
        r#"{"namespaceSelector": {"matchLabels": {"team": "other"}}, "podSelector": {"matchLabels": {"app": "client"}}}"#,
    ));
    assert!(of(&r, Check::NamespaceSelectorMatchesNothing).is_empty());
    assert!(of(&r, Check::PeerMatchesNothing).is_empty());
    // A ClusterNetworkPolicy nodes peer.
    let c = |labels: &str| {
        cnp(
            "c",
            &format!(
                r#"{{"tier": "Admin", "priority": 1, "subject": {{"namespaces": {{}}}},
                    "egress": [{{"action": "Deny", "to": [{{"nodes": {{"matchLabels": {labels}}}}}]}}]}}"#
            ),
        )
    };
    let r = run(&c(r#"{"zone": "x"}"#));
    assert_eq!(
        where_(&r, Check::PeerMatchesNothing),
        [("c".into(), "spec.egress[0].to[0].nodes".into())]
    );
    let r = run(&c("{}"));
    assert!(of(&r, Check::PeerMatchesNothing).is_empty());
    // Calico rule sides, with Felix's labels.
    let calico = |source: &str| {
        format!(
            r#"{{"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                "metadata": {{"name": "k", "namespace": "shop"}},
                "spec": {{"selector": "app == 'db'", "ingress": [{{"action": "Allow", "source": {source}}}]}}}}"#
        )
    };
    let r = run_on(
        &cluster(),
        &calico(r#"{"selector": "app == 'nothing'"}"#),
        Profile::calico(),
    );
    assert_eq!(
        where_(&r, Check::PeerMatchesNothing),
        [("k".into(), "spec.ingress[0].source.selector".into())]
    );
    let r = run_on(
        &cluster(),
        &calico(r#"{"namespaceSelector": "team == 'nowhere'"}"#),
        Profile::calico(),
    );
    assert_eq!(
        where_(&r, Check::NamespaceSelectorMatchesNothing),
        [(
            "k".into(),
            "spec.ingress[0].source.namespaceSelector".into()
        )]
    );
    // `app == 'client'` in namespace other, through the namespace's labels.
    let r = run_on(
        &cluster(),
        &calico(r#"{"selector": "app == 'client'", "namespaceSelector": "team == 'other'"}"#),
        Profile::calico(),
    );
    assert!(of(&r, Check::PeerMatchesNothing).is_empty(), "{r:#?}");
    assert!(of(&r, Check::NamespaceSelectorMatchesNothing).is_empty());
    let r = run_on(
        &cluster(),
        &calico(r#"{"selector": "app == 'api'"}"#),
        Profile::calico(),
    );
    assert!(of(&r, Check::PeerMatchesNothing).is_empty());
}

#[test]
fn np004_namespace_selector_selecting_every_namespace() {
    let with = |sel: &str| {
        np(
            "p",
            &format!(
                r#"{{"podSelector": {{}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"from": [{{"namespaceSelector": {sel}}}]}}]}}"#
            ),
        )
    };
    let r = run(&with(
        r#"{"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}"#,
    ));
    let found = of(&r, Check::NamespaceSelectorMatchesAll);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].field, "spec.ingress[0].from[0].namespaceSelector");
    assert_eq!(found[0].severity, Severity::Info);
    assert!(of(&run(&with("{}")), Check::NamespaceSelectorMatchesAll).is_empty());
    assert!(
        of(
            &run(&with(r#"{"matchLabels": {"team": "shop"}}"#)),
            Check::NamespaceSelectorMatchesAll
        )
        .is_empty()
    );
}

#[test]
fn np005_split_peers() {
    let with = |from: &str| {
        np(
            "p",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "db"}}}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"from": {from}}}]}}"#
            ),
        )
    };
    let r = run(&with(
        r#"[{"namespaceSelector": {"matchLabels": {"team": "other"}}}, {"podSelector": {"matchLabels": {"app": "client"}}}]"#,
    ));
    assert_eq!(
        where_(&r, Check::SplitPeer),
        [("p".into(), "spec.ingress[0].from".into())]
    );
    let r = run(&with(
        r#"[{"namespaceSelector": {"matchLabels": {"team": "other"}}, "podSelector": {"matchLabels": {"app": "client"}}}]"#,
    ));
    assert!(of(&r, Check::SplitPeer).is_empty());
}

// ---------------------------------------------------------------------------------------
// NP010–NP012
// ---------------------------------------------------------------------------------------

#[test]
fn np010_rules_for_a_direction_left_out() {
    let r = run(&np(
        "p",
        r#"{"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{"to": [{"podSelector": {}}]}]}"#,
    ));
    assert_eq!(
        where_(&r, Check::RulesForUnisolatedDirection),
        [("p".into(), "spec.egress".into())]
    );
    let r = run(&np(
        "p",
        r#"{"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"to": [{"podSelector": {}}]}]}"#,
    ));
    assert!(of(&r, Check::RulesForUnisolatedDirection).is_empty());
    // Calico: `types` leaving out a direction with rules.
    let calico = r#"{"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": "c", "namespace": "shop"},
        "spec": {"selector": "all()", "types": ["Ingress"], "egress": [{"action": "Deny"}]}}"#;
    let r = run_on(&cluster(), calico, Profile::calico());
    assert_eq!(
        where_(&r, Check::RulesForUnisolatedDirection),
        [("c".into(), "spec.egress".into())]
    );
}

#[test]
fn np011_np012_policy_types() {
    let r = run(&np("p", r#"{"podSelector": {}, "egress": []}"#));
    assert_eq!(
        where_(&r, Check::MissingPolicyTypes),
        [("p".into(), "spec.policyTypes".into())]
    );
    assert_eq!(
        where_(&r, Check::EmptyEgressWithoutPolicyTypes),
        [("p".into(), "spec.egress".into())]
    );
    let r = run(&np(
        "p",
        r#"{"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": []}"#,
    ));
    assert!(of(&r, Check::MissingPolicyTypes).is_empty());
    assert!(of(&r, Check::EmptyEgressWithoutPolicyTypes).is_empty());
    // Without the written policies, these checks say they did not run.
    let (set, _) = objects(&np("p", r#"{"podSelector": {}}"#));
    let c = cluster();
    let r = lint(&LintInput::new(&c, &set));
    assert!(of(&r, Check::MissingPolicyTypes).is_empty());
    assert!(
        r.skipped
            .iter()
            .any(|s| s.check == Check::MissingPolicyTypes)
    );
}

// ---------------------------------------------------------------------------------------
// NP020–NP023
// ---------------------------------------------------------------------------------------

#[test]
fn np020_redundant_rule_names_its_cover() {
    let rules = |both: bool| {
        let first = r#"{"from": [{"podSelector": {}}]}"#;
        let second = r#"{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 5432}]}"#;
        let ingress = if both {
            format!("[{first}, {second}]")
        } else {
            format!("[{second}]")
        };
        np(
            "db",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "db"}}}}, "policyTypes": ["Ingress"], "ingress": {ingress}}}"#
            ),
        )
    };
    let r = run(&rules(true));
    let found = of(&r, Check::RedundantRule);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert_eq!(found[0].field, "spec.ingress[1]");
    assert!(
        found[0].message.contains("shop/db spec.ingress[0]"),
        "{}",
        found[0].message
    );
    assert!(of(&run(&rules(false)), Check::RedundantRule).is_empty());
}

#[test]
fn np020_a_pod_reaching_itself_needs_no_rule() {
    // The only pod the rule admits is the selected pod itself: always allowed anyway.
    let r = run(&np(
        "self",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}"#,
    ));
    assert_eq!(
        where_(&r, Check::RedundantRule),
        [("self".into(), "spec.ingress[0]".into())]
    );
    // The policy itself is needed: without it, db is open to every peer.
    assert!(of(&r, Check::RedundantPolicy).is_empty());
}

#[test]
fn np021_redundant_policy() {
    let wide = np(
        "wide",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}]}"#,
    );
    let narrow = np(
        "narrow",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 5432}]}]}"#,
    );
    let r = run(&list(&[wide.clone(), narrow.clone()]));
    assert_eq!(
        where_(&r, Check::RedundantPolicy),
        [("narrow".into(), "spec".into())]
    );
    // Its rule is not reported again.
    assert!(of(&r, Check::RedundantRule).is_empty());
    assert!(of(&run(&narrow), Check::RedundantPolicy).is_empty());
    assert!(of(&run(&wide), Check::RedundantPolicy).is_empty());
}

#[test]
fn np022_shadowed_cluster_rule() {
    let guard = |rules: &str| {
        cnp(
            "guard",
            &format!(
                r#"{{"tier": "Admin", "priority": 1, "subject": {{"namespaces": {{}}}}, "ingress": {rules}}}"#
            ),
        )
    };
    let deny_all = r#"{"action": "Deny", "from": [{"namespaces": {}}]}"#;
    let allow_api = r#"{"action": "Accept", "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}}]}"#;
    let r = run(&guard(&format!("[{deny_all}, {allow_api}]")));
    let found = of(&r, Check::ShadowedRule);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert_eq!(found[0].field, "spec.ingress[1]");
    assert!(
        found[0].message.contains("guard spec.ingress[0]"),
        "{}",
        found[0].message
    );
    let r = run(&guard(&format!("[{allow_api}, {deny_all}]")));
    assert!(of(&r, Check::ShadowedRule).is_empty(), "{r:#?}");
    assert!(of(&r, Check::IneffectiveRule).is_empty(), "{r:#?}");
}

#[test]
fn np022_baseline_rule_behind_network_policy() {
    let baseline = cnp(
        "base",
        r#"{"tier": "Baseline", "priority": 1,
            "subject": {"pods": {"namespaceSelector": {"matchLabels": {"team": "shop"}}, "podSelector": {"matchLabels": {"app": "db"}}}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}"#,
    );
    let isolate = np(
        "db",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}"#,
    );
    let r = run(&list(&[baseline.clone(), isolate]));
    let found = of(&r, Check::ShadowedRule);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert!(
        found[0].message.contains("NetworkPolicy"),
        "{}",
        found[0].message
    );
    assert!(of(&run(&baseline), Check::ShadowedRule).is_empty());
}

#[test]
fn np023_ineffective_cluster_rule() {
    let admin = |rules: &str| {
        cnp(
            "a",
            &format!(
                r#"{{"tier": "Admin", "priority": 1, "subject": {{"namespaces": {{"matchLabels": {{"team": "shop"}}}}}}, "ingress": {rules}}}"#
            ),
        )
    };
    // Accepting api and then every namespace: the first rule decides what the second
    // would; and nothing else denies, so accepting changes nothing either.
    let r = run(&admin(
        r#"[{"action": "Accept", "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}}]},
            {"action": "Accept", "from": [{"namespaces": {}}]}]"#,
    ));
    assert_eq!(
        where_(&r, Check::IneffectiveRule),
        [
            ("a".into(), "spec.ingress[0]".into()),
            ("a".into(), "spec.ingress[1]".into())
        ]
    );
    let r = run(&admin(
        r#"[{"action": "Deny", "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}}]}]"#,
    ));
    assert!(of(&r, Check::IneffectiveRule).is_empty());
}

#[test]
fn np024_calico_rules_never_read() {
    let gnp = |name: &str, order: u32, rules: &str| {
        format!(
            r#"{{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {{"name": "{name}"}},
                "spec": {{"order": {order}, "selector": "all()", "ingress": {rules}}}}}"#
        )
    };
    // Behind a catch-all, and behind an identical rule.
    let r = run_on(
        &cluster(),
        &gnp(
            "g",
            10,
            r#"[{"action": "Allow", "protocol": "TCP", "source": {"selector": "app == 'api'"}},
                {"action": "Deny", "protocol": "TCP", "source": {"selector": "app == 'api'"}},
                {"action": "Deny"},
                {"action": "Allow", "protocol": "UDP"}]"#,
        ),
        Profile::calico(),
    );
    assert_eq!(
        where_(&r, Check::CalicoShadowedRule),
        [
            ("g".into(), "spec.ingress[1]".into()),
            ("g".into(), "spec.ingress[3]".into())
        ]
    );
    // A Log rule decides nothing: what follows it is read.
    let r = run_on(
        &cluster(),
        &gnp("g", 10, r#"[{"action": "Log"}, {"action": "Allow"}]"#),
        Profile::calico(),
    );
    assert!(of(&r, Check::CalicoShadowedRule).is_empty());
    // A policy behind one that decides everything, in the same tier.
    let two = |second_selector: &str| {
        list(&[
            gnp(
                "first",
                10,
                r#"[{"action": "Deny", "source": {"selector": "app == 'web'"}}, {"action": "Allow"}]"#,
            ),
            format!(
                r#"{{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {{"name": "second"}},
                    "spec": {{"order": 20, "selector": "{second_selector}", "ingress": [{{"action": "Deny"}}]}}}}"#
            ),
        ])
    };
    let r = run_on(&cluster(), &two("app == 'db'"), Profile::calico());
    assert_eq!(
        where_(&r, Check::CalicoShadowedRule),
        [("second".into(), "spec.ingress".into())]
    );
    // Not under a profile where Calico's policies are not enforced (NP050 says so).
    let r = run_on(&cluster(), &two("app == 'db'"), Profile::conformance());
    assert!(of(&r, Check::CalicoShadowedRule).is_empty());
}

// ---------------------------------------------------------------------------------------
// NP030–NP032
// ---------------------------------------------------------------------------------------

#[test]
fn np030_named_ports_nobody_declares() {
    let ingress = |port: &str| {
        np(
            "db",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "db"}}}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"ports": [{{"port": "{port}"}}]}}]}}"#
            ),
        )
    };
    assert_eq!(
        where_(&run(&ingress("grpc")), Check::UndeclaredNamedPort),
        [("db".into(), "spec.ingress[0].ports[0].port".into())]
    );
    assert!(of(&run(&ingress("pg")), Check::UndeclaredNamedPort).is_empty());
    let egress = |port: &str| {
        np(
            "api",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "api"}}}}, "policyTypes": ["Egress"],
                    "egress": [{{"to": [{{"podSelector": {{"matchLabels": {{"app": "db"}}}}}}], "ports": [{{"port": "{port}"}}]}}]}}"#
            ),
        )
    };
    assert_eq!(
        where_(&run(&egress("http")), Check::UndeclaredNamedPort),
        [("api".into(), "spec.egress[0].ports[0].port".into())]
    );
    assert!(of(&run(&egress("pg")), Check::UndeclaredNamedPort).is_empty());
}

#[test]
fn np031_criteria_that_never_match() {
    let block = |except: &str| {
        np(
            "p",
            &format!(
                r#"{{"podSelector": {{}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"from": [{{"ipBlock": {{"cidr": "10.9.0.0/24", "except": {except}}}}}]}}]}}"#
            ),
        )
    };
    assert_eq!(
        where_(
            &run(&block(r#"["10.9.0.0/25", "10.9.0.128/25"]"#)),
            Check::NeverMatches
        ),
        [("p".into(), "spec.ingress[0].from[0].ipBlock.except".into())]
    );
    assert!(of(&run(&block(r#"["10.9.0.0/25"]"#)), Check::NeverMatches).is_empty());
    let calico = |not: &str| {
        format!(
            r#"{{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                "metadata": {{"name": "g"}}, "spec": {{"selector": "all()",
                "ingress": [{{"action": "Allow", "protocol": "TCP", "notProtocol": "{not}"}}]}}}}"#
        )
    };
    assert_eq!(
        where_(
            &run_on(&cluster(), &calico("TCP"), Profile::calico()),
            Check::NeverMatches
        ),
        [("g".into(), "spec.ingress[0].notProtocol".into())]
    );
    assert!(
        of(
            &run_on(&cluster(), &calico("UDP"), Profile::calico()),
            Check::NeverMatches
        )
        .is_empty()
    );
}

#[test]
fn np032_port_no_selected_pod_declares() {
    let with = |port: u16| {
        np(
            "db",
            &format!(
                r#"{{"podSelector": {{"matchLabels": {{"app": "db"}}}}, "policyTypes": ["Ingress"],
                    "ingress": [{{"ports": [{{"port": {port}}}]}}]}}"#
            ),
        )
    };
    let r = run(&with(6000));
    let found = of(&r, Check::UndeclaredPort);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Info);
    assert!(of(&run(&with(5432)), Check::UndeclaredPort).is_empty());
}

// ---------------------------------------------------------------------------------------
// NP040
// ---------------------------------------------------------------------------------------

const DENY_EGRESS: &str = r#"{"podSelector": {}, "policyTypes": ["Egress"]}"#;
const ALLOW_DNS: &str = r#"{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}"#;

#[test]
fn np040_pods_without_dns() {
    let r = run(&np("deny", DENY_EGRESS));
    let found = of(&r, Check::NoDns);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert_eq!(found[0].object.kind, "Pod");
    assert_eq!(found[0].object.namespace.as_deref(), Some("shop"));
    assert!(
        found[0].message.contains("2 other pods"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("53/UDP") && found[0].message.contains("53/TCP"));
    let r = run(&list(&[np("deny", DENY_EGRESS), np("dns", ALLOW_DNS)]));
    assert!(of(&r, Check::NoDns).is_empty(), "{r:#?}");
    // UDP only: TCP is reported.
    let udp_only = ALLOW_DNS.replace(r#", {"port": 53, "protocol": "TCP"}"#, "");
    let r = run(&list(&[np("deny", DENY_EGRESS), np("dns", &udp_only)]));
    let found = of(&r, Check::NoDns);
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("53/TCP") && !found[0].message.contains("53/UDP"));
}

#[test]
fn np040_through_the_kube_dns_service() {
    let c = cluster();
    let svc = Service::from_json(
        r#"{"metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": "dns-tcp"}]}}"#,
    )
    .unwrap();
    let table = ServiceTable::build(&c, &[svc.resolve().unwrap()]).unwrap();
    let (set, _) = objects(&np("deny", DENY_EGRESS));
    let r = lint(&LintInput::new(&c, &set).services(&table));
    let found = of(&r, Check::NoDns);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.contains("kube-dns"),
        "{}",
        found[0].message
    );
    let (set, _) = objects(&list(&[np("deny", DENY_EGRESS), np("dns", ALLOW_DNS)]));
    assert!(
        of(
            &lint(&LintInput::new(&c, &set).services(&table)),
            Check::NoDns
        )
        .is_empty()
    );
    // No DNS at all: the check says so instead.
    let bare = cluster_with(false);
    let (set, _) = objects(&np("deny", DENY_EGRESS));
    let r = lint(&LintInput::new(&bare, &set));
    assert!(of(&r, Check::NoDns).is_empty());
    assert!(r.skipped.iter().any(|s| s.check == Check::NoDns));
}

// ---------------------------------------------------------------------------------------
// NP050–NP051
// ---------------------------------------------------------------------------------------

#[test]
fn np050_policies_the_plugin_ignores() {
    let policy = np("p", r#"{"podSelector": {}, "policyTypes": ["Ingress"]}"#);
    let r = run_on(&cluster(), &policy, Profile::flannel());
    assert_eq!(
        where_(&r, Check::IgnoredByProfile),
        [("p".into(), "".into())]
    );
    assert!(of(&run(&policy), Check::IgnoredByProfile).is_empty());
    let c = cnp(
        "c",
        r#"{"tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}"#,
    );
    let r = run_on(&cluster(), &c, Profile::cilium());
    assert_eq!(
        where_(&r, Check::IgnoredByProfile),
        [("c".into(), "".into())]
    );
    assert!(of(&run(&c), Check::IgnoredByProfile).is_empty());
}

#[test]
fn np051_ipblocks_for_pods_under_cilium() {
    let with = |cidr: &str| {
        np(
            "p",
            &format!(
                r#"{{"podSelector": {{}}, "policyTypes": ["Egress"],
                    "egress": [{{"to": [{{"ipBlock": {{"cidr": "{cidr}"}}}}]}}]}}"#
            ),
        )
    };
    let r = run_on(&cluster(), &with("10.0.0.0/16"), Profile::cilium());
    assert_eq!(
        where_(&r, Check::IpBlockNotMatchedByProfile),
        [("p".into(), "spec.egress[0].to[0].ipBlock".into())]
    );
    assert!(
        of(
            &run(&with("10.0.0.0/16")),
            Check::IpBlockNotMatchedByProfile
        )
        .is_empty()
    );
    assert!(
        of(
            &run_on(&cluster(), &with("203.0.113.0/24"), Profile::cilium()),
            Check::IpBlockNotMatchedByProfile
        )
        .is_empty()
    );
}

/// The shop's web pod (on n2) behind a NodePort Service with the given traffic policy.
fn web_node_port(cluster: &Cluster, policy: &str) -> ServiceTable {
    let svc = Service::from_json(&format!(
        r#"{{"metadata": {{"name": "web", "namespace": "shop"}},
            "spec": {{"type": "NodePort", "clusterIP": "10.96.0.20", "selector": {{"app": "web"}},
                     "externalTrafficPolicy": "{policy}",
                     "ports": [{{"port": 80, "targetPort": "http", "nodePort": 30080}}]}}}}"#
    ))
    .unwrap();
    ServiceTable::build(cluster, &[svc.resolve().unwrap()]).unwrap()
}

/// A policy on the web pod admitting port 80 from these ipBlocks.
fn web_from(cidrs: &[&str]) -> String {
    let from: Vec<String> = cidrs
        .iter()
        .map(|c| format!(r#"{{"ipBlock": {{"cidr": "{c}"}}}}"#))
        .collect();
    np(
        "web",
        &format!(
            r#"{{"podSelector": {{"matchLabels": {{"app": "web"}}}}, "policyTypes": ["Ingress"],
                "ingress": [{{"from": [{}], "ports": [{{"port": 80}}]}}]}}"#,
            from.join(",")
        ),
    )
}

fn lint_outside(cluster: &Cluster, table: &ServiceTable, json: &str, profile: Profile) -> Report {
    let (set, _) = objects(json);
    lint(
        &LintInput::new(cluster, &set)
            .profile(profile)
            .services(table),
    )
}

#[test]
fn np052_client_allow_list_behind_a_masquerading_node_port() {
    let c = cluster();
    let table = web_node_port(&c, "Cluster");
    // A client network on web, whose only endpoint is on n2: received by n1, clients
    // arrive as n1's address and are refused.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["10.9.0.0/16", "198.51.100.0/24"]),
        Profile::conformance(),
    );
    assert_eq!(
        where_(&r, Check::IpBlockMasqueraded),
        [("web".into(), "spec.ingress[0].from[0].ipBlock".into())]
    );
    let f = of(&r, Check::IpBlockMasqueraded)[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.message,
        "through service shop/web (node port 30080/TCP, externalTrafficPolicy Cluster) the ipBlocks \
         10.9.0.0/16, 198.51.100.0/24 admit outside clients only at endpoints on the node that \
         receives them: received by another node, they arrive masqueraded as 192.168.0.11 (n1), \
         which the ipBlocks do not match"
    );
    assert!(f.suggestion.contains("externalTrafficPolicy: Local"));
    // With Local the client's address is kept: nothing to report.
    let local = web_node_port(&c, "Local");
    let r = lint_outside(
        &c,
        &local,
        &web_from(&["198.51.100.0/24"]),
        Profile::conformance(),
    );
    assert!(of(&r, Check::IpBlockMasqueraded).is_empty(), "{r:#?}");
    // Everyone is let in anyway: nothing to report either.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["0.0.0.0/0"]),
        Profile::conformance(),
    );
    assert!(of(&r, Check::IpBlockMasqueraded).is_empty(), "{r:#?}");
    // A rule for another port takes no traffic from the Service.
    let other_port = web_from(&["198.51.100.0/24"]).replace(r#""port": 80"#, r#""port": 443"#);
    let r = lint_outside(&c, &table, &other_port, Profile::conformance());
    assert!(of(&r, Check::IpBlockMasqueraded).is_empty(), "{r:#?}");
    // Under Cilium the masquerading node is an identity no ipBlock matches: refused too.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["198.51.100.0/24"]),
        Profile::cilium(),
    );
    assert_eq!(of(&r, Check::IpBlockMasqueraded).len(), 1, "{r:#?}");
    // Without the Services the check cannot tell, and says so.
    let (set, _) = objects(&web_from(&["198.51.100.0/24"]));
    let r = lint(&LintInput::new(&c, &set));
    assert!(
        r.skipped
            .iter()
            .any(|s| s.check == Check::IpBlockMasqueraded)
    );
}

#[test]
fn np052_node_network_lets_every_outside_client_in() {
    let c = cluster();
    let table = web_node_port(&c, "Cluster");
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["203.0.113.0/24", "192.168.0.0/24"]),
        Profile::kube_router(),
    );
    assert_eq!(
        where_(&r, Check::IpBlockMasqueraded),
        [("web".into(), "spec.ingress[0].from[1].ipBlock".into())]
    );
    let f = of(&r, Check::IpBlockMasqueraded)[0];
    assert!(
        f.message.contains(
            "every outside client received by another node than the endpoint's is admitted, \
             whatever its address: it arrives masqueraded as 192.168.0.11 (n1), which the \
             ipBlocks 192.168.0.0/24, 203.0.113.0/24 hold (they hold only some outside \
             clients' own addresses)"
        ),
        "{}",
        f.message
    );
    // Cilium's ipBlocks never match the masquerading node: nobody is let in that way,
    // and the outside clients of the node network the block holds are refused instead.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["192.168.0.0/24"]),
        Profile::cilium(),
    );
    let found = of(&r, Check::IpBlockMasqueraded);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert!(
        found[0]
            .message
            .contains("admit outside clients only at endpoints on the node that receives them"),
        "{}",
        found[0].message
    );
    // Under flannel no policy is enforced: NP050 says so, NP052 is silent.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["192.168.0.0/24"]),
        Profile::flannel(),
    );
    assert!(of(&r, Check::IpBlockMasqueraded).is_empty(), "{r:#?}");
}

#[test]
fn np052_pod_network_admits_everyone_through_the_flannel_address() {
    // canal: flannel's VXLAN masquerades to the flannel.1 address, the network address of
    // the node's pod subnet; "allow from the cluster" then lets every outside client in.
    let c = Cluster::builder()
        .namespace("shop", [("team", "shop")])
        .add_node(
            netpol::cluster::NodeSpec::new("n1")
                .ip(ip("192.168.0.11"))
                .pod_cidr("10.244.0.0/24".parse().unwrap()),
        )
        .add_node(
            netpol::cluster::NodeSpec::new("n2")
                .ip(ip("192.168.0.12"))
                .pod_cidr("10.244.1.0/24".parse().unwrap()),
        )
        .pod(
            PodSpec::new("shop", "web")
                .label("app", "web")
                .ip(ip("10.244.1.3"))
                .node("n2")
                .port(ContainerPort::named("http", 80, Protocol::Tcp)),
        )
        .build()
        .unwrap();
    let table = web_node_port(&c, "Cluster");
    let r = lint_outside(&c, &table, &web_from(&["10.244.0.0/23"]), Profile::canal());
    let found = of(&r, Check::IpBlockMasqueraded);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert!(
        found[0].message.contains(
            "masqueraded as 10.244.0.0 (n1), which the ipBlocks 10.244.0.0/23 hold (they hold no outside client's own address)"
        ),
        "{}",
        found[0].message
    );
    // Under conformance the masquerade address is the node IP, outside the block.
    let r = lint_outside(
        &c,
        &table,
        &web_from(&["10.244.0.0/23"]),
        Profile::conformance(),
    );
    assert!(of(&r, Check::IpBlockMasqueraded).is_empty(), "{r:#?}");
}

#[test]
fn np052_on_the_allow_list_scenario() {
    // The scenario pins the flows; NP052 reports the two policies for the Cluster-policy
    // Services only.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scenarios/outside-ipblock-allowlist.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = netpol_testing::scenario::Scenario::from_json(&text)
        .unwrap()
        .load()
        .unwrap();
    let r = lint(
        &LintInput::new(&loaded.cluster, &loaded.policies)
            .profile(loaded.profile.clone())
            .services(&loaded.services),
    );
    let found: Vec<(String, bool)> = of(&r, Check::IpBlockMasqueraded)
        .iter()
        .map(|f| {
            assert!(
                f.message.contains("externalTrafficPolicy Cluster"),
                "{}",
                f.message
            );
            (
                f.object.name.clone(),
                f.message.contains("whatever its address"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("api-from-nodes".to_owned(), true),
            ("web-from-clients".to_owned(), false)
        ],
        "{r:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// NP060–NP061
// ---------------------------------------------------------------------------------------

#[test]
fn np060_equal_priorities_that_disagree() {
    let two = |pb: u32| {
        list(&[
            cnp(
                "a",
                r#"{"tier": "Admin", "priority": 5, "subject": {"namespaces": {}},
                    "ingress": [{"action": "Accept", "from": [{"namespaces": {}}]}]}"#,
            ),
            cnp(
                "b",
                &format!(
                    r#"{{"tier": "Admin", "priority": {pb}, "subject": {{"namespaces": {{}}}},
                        "ingress": [{{"action": "Deny", "from": [{{"pods": {{"namespaceSelector": {{}}, "podSelector": {{"matchLabels": {{"app": "api"}}}}}}}}]}}]}}"#
                ),
            ),
        ])
    };
    let r = run(&two(5));
    let found = of(&r, Check::PriorityConflict);
    assert_eq!(found.len(), 1, "{r:#?}");
    assert_eq!(
        (found[0].object.name.as_str(), found[0].field.as_str()),
        ("b", "spec.priority")
    );
    assert!(
        found[0].message.contains("shop/api"),
        "{}",
        found[0].message
    );
    assert!(of(&run(&two(6)), Check::PriorityConflict).is_empty());
}

#[test]
fn np061_equal_order_calico_policies() {
    let two = |order_b: u32| {
        list(&[
            r#"{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "a"},
                "spec": {"order": 10, "selector": "all()", "ingress": [{"action": "Allow"}]}}"#
                .to_owned(),
            format!(
                r#"{{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {{"name": "b"}},
                    "spec": {{"order": {order_b}, "selector": "all()", "ingress": [{{"action": "Deny"}}]}}}}"#
            ),
        ])
    };
    let r = run_on(&cluster(), &two(10), Profile::calico());
    assert_eq!(
        where_(&r, Check::CalicoOrderConflict),
        [("b".into(), "spec.order".into())]
    );
    assert!(
        of(
            &run_on(&cluster(), &two(20), Profile::calico()),
            Check::CalicoOrderConflict
        )
        .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// NP070, NP080
// ---------------------------------------------------------------------------------------

#[test]
fn np070_pods_left_open_next_to_isolated_ones() {
    let r = run(&np(
        "db",
        r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}"#,
    ));
    let mut open: Vec<String> = r
        .of(Check::NotIsolated)
        .map(|f| f.object.name.clone())
        .collect();
    open.sort();
    assert_eq!(open, ["api", "web"]);
    assert!(
        r.of(Check::NotIsolated)
            .all(|f| f.message.contains("ingress"))
    );
    let r = run(&np(
        "all",
        r#"{"podSelector": {}, "policyTypes": ["Ingress"]}"#,
    ));
    assert!(of(&r, Check::NotIsolated).is_empty());
}

#[test]
fn np080_duplicate_names() {
    let p = np("p", r#"{"podSelector": {}, "policyTypes": ["Ingress"]}"#);
    let r = run(&list(&[p.clone(), p.clone()]));
    let found = of(&r, Check::DuplicateName);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(r.worst(), Some(Severity::Error));
    let q = np("q", r#"{"podSelector": {}, "policyTypes": ["Ingress"]}"#);
    assert!(of(&run(&list(&[p, q])), Check::DuplicateName).is_empty());
}

#[test]
fn findings_serialize_to_the_documented_shape() {
    let r = run(&np(
        "p",
        r#"{"podSelector": {"matchLabels": {"app": "none"}}, "policyTypes": ["Ingress"]}"#,
    ));
    let json = serde_json::to_value(&r.findings[0]).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "code",
            "field",
            "message",
            "object",
            "severity",
            "suggestion"
        ]
    );
    assert_eq!(
        json["object"],
        serde_json::json!({"kind": "NetworkPolicy", "namespace": "shop", "name": "p"})
    );
    assert_eq!(json["code"], "NP001");
}

#[test]
fn a_clean_set_has_no_warnings() {
    let r = run(&list(&[
        np(
            "deny",
            r#"{"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}"#,
        ),
        np("dns", ALLOW_DNS),
        np(
            "db",
            r#"{"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": "pg"}]}]}"#,
        ),
        np(
            "api",
            r#"{"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]}]}"#,
        ),
    ]));
    assert!(!r.has_at_least(Severity::Warning), "{r:#?}");
}
