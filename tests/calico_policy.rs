//! Normalisation of Calico's objects: `types` defaulting per API group, tier and order
//! defaults, Felix's selectors, rules, network sets, tiers and the PolicySet.

use netpol::calico::{
    ApiGroup, CalicoNetworkSet, CalicoPolicy, CalicoPolicyKind, CalicoTier, GlobalNetworkPolicy,
    GlobalNetworkSet, NetworkPolicy, NetworkSet, PortValue, Tier,
};
use netpol::policy::{Action, AsPolicySet, Direction, PolicyKind, PolicySet, Protocol};
use serde_json::{Value, json};

fn np(group: &str, spec: Value) -> NetworkPolicy {
    NetworkPolicy::from_value(&json!({"apiVersion": group, "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "shop"}, "spec": spec}))
    .unwrap()
}

fn gnp(spec: Value) -> GlobalNetworkPolicy {
    GlobalNetworkPolicy::from_value(&json!({"metadata": {"name": "g"}, "spec": spec})).unwrap()
}

fn dirs(p: &CalicoPolicy) -> (bool, bool) {
    (p.governs(Direction::Ingress), p.governs(Direction::Egress))
}

const V3: &str = "projectcalico.org/v3";
const V1: &str = "crd.projectcalico.org/v1";

#[test]
fn types_default_as_each_group_does() {
    let rule = json!({"action": "Deny"});
    let cases = [
        (json!({}), (true, false), (true, true)),
        (json!({"ingress": [rule]}), (true, false), (true, true)),
        (json!({"egress": [rule]}), (false, true), (true, true)),
        (
            json!({"ingress": [rule], "egress": [rule]}),
            (true, true),
            (true, true),
        ),
        // Lengths, not presence: empty lists count as none.
        (
            json!({"ingress": [], "egress": []}),
            (true, false),
            (true, true),
        ),
        (
            json!({"types": [], "egress": [rule]}),
            (false, true),
            (true, true),
        ),
        // Explicit types win, and the other direction's rules are ignored.
        (
            json!({"types": ["Egress"], "ingress": [rule]}),
            (false, true),
            (false, true),
        ),
    ];
    for (spec, v3, v1) in cases {
        let p3 = CalicoPolicy::new(&np(V3, spec.clone()));
        assert_eq!(dirs(&p3.unwrap()), v3, "v3 {spec}");
        if spec.get("types").is_some_and(|t| t == &json!([])) {
            // The CRD refuses an empty list.
            assert!(CalicoPolicy::new(&np(V1, spec)).is_err());
            continue;
        }
        let p1 = CalicoPolicy::new(&np(V1, spec.clone())).unwrap();
        assert_eq!(dirs(&p1), v1, "v1 {spec}");
        assert_eq!(p1.api_group(), ApiGroup::CrdV1);
    }
    let p = CalicoPolicy::new(&np(V3, json!({"types": ["Egress"], "ingress": [rule]}))).unwrap();
    assert!(p.rules(Direction::Ingress).is_empty());
}

#[test]
fn tier_and_order_defaults() {
    let p = CalicoPolicy::new(&np(V3, json!({}))).unwrap();
    assert_eq!((p.tier(), p.order()), ("default", None));
    let p = CalicoPolicy::new(&np(V3, json!({"tier": "", "order": -2.5}))).unwrap();
    assert_eq!((p.tier(), p.order()), ("default", Some(-2.5)));
    let p = CalicoPolicy::new(&gnp(json!({"tier": "security", "order": 0}))).unwrap();
    assert_eq!((p.tier(), p.order()), ("security", Some(0.0)));
    assert_eq!(p.kind(), CalicoPolicyKind::Global);
    assert_eq!(p.sort_key(), "g//GlobalNetworkPolicy");
    let mut bare = NetworkPolicy::new("x", "y");
    bare.metadata.namespace = None;
    let p = CalicoPolicy::new(&bare).unwrap();
    assert_eq!(
        (p.key(), p.sort_key()),
        (
            "default/y".to_string(),
            "y/default/NetworkPolicy".to_string()
        )
    );
}

#[test]
fn endpoint_selectors_as_felix_builds_them() {
    let cases = [
        (
            np(V3, json!({})),
            r#"projectcalico.org/namespace == "shop""#,
        ),
        (
            np(
                V3,
                json!({"selector": "a == 'b' || c == 'd'", "serviceAccountSelector": "team == 'x'"}),
            ),
            r#"(((a == "b" || c == "d") && projectcalico.org/namespace == "shop") && pcsa.team == "x")"#,
        ),
    ];
    for (p, want) in cases {
        assert_eq!(
            CalicoPolicy::new(&p)
                .unwrap()
                .endpoint_selector()
                .to_string(),
            want
        );
    }
    let gcases = [
        (json!({}), "all()"),
        (
            json!({"selector": "app == 'x'", "namespaceSelector": "team == 'a'"}),
            r#"(app == "x" && pcns.team == "a")"#,
        ),
        (
            json!({"namespaceSelector": "all()"}),
            "has(projectcalico.org/namespace)",
        ),
        // Calico replaces every all() of the combined text, the written selector's too.
        (
            json!({"selector": "all()", "serviceAccountSelector": "all()"}),
            "(has(projectcalico.org/serviceaccount) && has(projectcalico.org/serviceaccount))",
        ),
        (
            json!({"selector": "a == 'all()'", "namespaceSelector": "has(t)"}),
            r#"(a == "has(projectcalico.org/namespace)" && has(pcns.t))"#,
        ),
    ];
    for (spec, want) in gcases {
        let p = CalicoPolicy::new(&gnp(spec.clone())).unwrap();
        assert_eq!(p.endpoint_selector().to_string(), want, "{spec}");
    }
}

#[test]
fn rule_selectors_as_felix_builds_them() {
    let side = |policy: CalicoPolicy| -> (Option<String>, Option<String>) {
        let r = &policy.rules(Direction::Ingress)[0];
        (
            r.source().ip_set_selector().map(ToString::to_string),
            r.source().not_ip_set_selector().map(ToString::to_string),
        )
    };
    let ns = |source: Value| {
        CalicoPolicy::new(&np(
            V3,
            json!({"ingress": [{"action": "Allow", "source": source}]}),
        ))
        .unwrap()
    };
    let gl = |source: Value| {
        CalicoPolicy::new(&gnp(
            json!({"ingress": [{"action": "Allow", "source": source}]}),
        ))
        .unwrap()
    };
    let s = |x: &str| Some(x.to_string());
    // Namespaced: selector, notSelector and serviceAccounts are kept in the namespace.
    assert_eq!(
        side(ns(json!({"selector": "app == 'a'"}))),
        (
            s(r#"(projectcalico.org/namespace == "shop" && app == "a")"#),
            None
        )
    );
    assert_eq!(
        side(ns(json!({"notSelector": "app == 'a'"}))),
        (
            s(r#"(projectcalico.org/namespace == "shop" && !app == "a")"#),
            None
        )
    );
    assert_eq!(side(ns(json!({"nets": ["10.0.0.0/8"]}))), (None, None));
    assert_eq!(
        side(ns(json!({"namespaceSelector": "global()"}))),
        (s("!has(projectcalico.org/namespace)"), None)
    );
    assert_eq!(
        side(ns(
            json!({"namespaceSelector": "all()", "selector": "has(x)"})
        )),
        (s("(has(projectcalico.org/namespace) && has(x))"), None)
    );
    assert_eq!(
        side(ns(
            json!({"serviceAccounts": {"names": ["b", "a"], "selector": "t == 'x'"}})
        )),
        (
            s(
                r#"(projectcalico.org/namespace == "shop" && (pcsa.t == "x" && projectcalico.org/serviceaccount in {"a", "b"}))"#
            ),
            None
        )
    );
    // Global: not restricted; a notSelector alone stays negative.
    assert_eq!(
        side(gl(json!({"notSelector": "app == 'a'"}))),
        (None, s(r#"app == "a""#))
    );
    assert_eq!(
        side(gl(json!({"selector": "has(a)", "notSelector": "has(b)"}))),
        (s("(has(a) && !has(b))"), None)
    );
    assert_eq!(
        side(gl(json!({"namespaceSelector": "team == 'a'"}))),
        (s(r#"pcns.team == "a""#), None)
    );
    // A name with a quote breaks Calico's set text: the names are dropped.
    let p = gl(json!({"serviceAccounts": {"names": ["it's"]}}));
    let sa = p.rules(Direction::Ingress)[0]
        .source()
        .service_accounts()
        .unwrap();
    assert!(sa.names_selector().is_none());
    assert_eq!(side(p), (None, None));
    // ... and the selector with them: Calico drops the whole match.
    let p = gl(json!({"serviceAccounts": {"names": ["it's"], "selector": "team == 'x'"}}));
    assert_eq!(side(p), (None, None));
    // A namespaced policy's side then keeps nothing but what else is written.
    let p = ns(
        json!({"serviceAccounts": {"names": ["a", "it's"], "selector": "team == 'x'"},
                      "notSelector": "app == 'a'"}),
    );
    assert_eq!(
        side(p),
        (
            s(r#"(projectcalico.org/namespace == "shop" && !app == "a")"#),
            None
        )
    );
    let p = ns(json!({"serviceAccounts": {"names": ["it's"], "selector": "team == 'x'"}}));
    assert_eq!(side(p), (None, None));
}

#[test]
fn rules_normalise() {
    let p = CalicoPolicy::new(&np(V3, json!({"ingress": [
        {"action": "Allow", "protocol": "6", "ipVersion": 4,
         "source": {"nets": ["10.1.2.0/24"], "ports": ["1000:2000"]},
         "destination": {"ports": [80, "http"], "notPorts": ["81"], "notNets": ["::ffff:10.0.0.0/104"]}},
        {"action": "Log", "notProtocol": "ICMP", "notICMP": {"type": 8}},
        {"action": "Allow", "http": {"methods": ["GET"]}},
        {"action": "Deny", "protocol": "ICMP", "icmp": {"type": 3, "code": 1}},
    ]}))).unwrap();
    let r = p.rules(Direction::Ingress);
    assert_eq!(
        r.iter().map(|r| r.action()).collect::<Vec<_>>(),
        [Action::Allow, Action::Log, Action::Allow, Action::Deny]
    );
    assert!(r[0].protocol().unwrap().matches(Protocol::Tcp));
    assert_eq!(r[0].ip_version(), Some(4));
    assert!(r[0].has_source_ports() && !r[0].has_icmp_match());
    assert_eq!(
        r[0].destination().ports(),
        [PortValue::Range(80, 80), PortValue::Name("http".into())]
    );
    assert_eq!(r[0].destination().not_ports(), [PortValue::Range(81, 81)]);
    assert_eq!(r[0].destination().not_nets()[0].to_string(), "10.0.0.0/8");
    assert_eq!(r[1].not_protocol().unwrap().number(), 1);
    assert!(r[1].has_icmp_match());
    assert!(r[2].has_http_match());
    assert_eq!(r[3].icmp().unwrap().code(), Some(1));
}

#[test]
fn host_endpoint_only_policies() {
    let p = CalicoPolicy::new(&gnp(json!({"preDNAT": true, "applyOnForward": true}))).unwrap();
    assert!(p.pre_dnat() && p.apply_on_forward() && !p.applies_to_pods());
    let p = CalicoPolicy::new(&gnp(json!({"applyOnForward": true}))).unwrap();
    assert!(p.applies_to_pods());
}

#[test]
fn refused_objects_do_not_normalise() {
    let bad = np(
        V3,
        json!({"ingress": [{"action": "Allow", "destination": {"ports": [80]}}]}),
    );
    let errs = CalicoPolicy::new(&bad).unwrap_err();
    assert_eq!(
        errs,
        netpol::calico::validate_network_policy(&bad).unwrap_err()
    );
    assert!(CalicoNetworkSet::new(&NetworkSet::new("a", "b", ["nope"])).is_err());
    assert!(CalicoTier::new(&Tier::new("default", 1.0, "Deny")).is_err());
}

#[test]
fn network_sets_and_tiers() {
    let s =
        CalicoNetworkSet::new(&NetworkSet::new("shop", "n", ["10.0.0.1", "10.1.2.3/8"])).unwrap();
    let nets: Vec<String> = s.nets().iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["10.0.0.1/32", "10.0.0.0/8"]);
    assert_eq!(s.labels()["projectcalico.org/namespace"], "shop");
    let g = CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["fd00::1"])).unwrap();
    assert!(g.namespace().is_none() && g.labels().is_empty());
    let t = CalicoTier::new(
        &Tier::from_json(
            r#"{"apiVersion": "crd.projectcalico.org/v1", "kind": "Tier",
        "metadata": {"name": "t"}, "spec": {"defaultAction": "Pass"}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (t.order(), t.default_action(), t.api_group()),
        (1_000_000.0, Action::Pass, ApiGroup::CrdV1)
    );
    let d =
        CalicoTier::new(&Tier::from_json(r#"{"metadata": {"name": "default"}}"#).unwrap()).unwrap();
    assert_eq!(d, CalicoTier::builtin("default").unwrap());
}

#[test]
fn policy_sets_hold_calico_objects() {
    let mut set = PolicySet::new();
    set.push(CalicoPolicy::new(&np(V3, json!({}))).unwrap());
    set.push(CalicoPolicy::new(&gnp(json!({}))).unwrap());
    set.push(CalicoNetworkSet::new(&GlobalNetworkSet::new("g", ["10.0.0.0/8"])).unwrap());
    set.push(CalicoTier::builtin("kube-admin").unwrap());
    assert_eq!(set.len(), 4);
    let view = set.as_policy_set();
    assert_eq!(
        (
            view.calico_policies().len(),
            view.network_sets().len(),
            view.tiers().len()
        ),
        (2, 1, 1)
    );
    assert!(view.network_policies().is_empty() && view.cluster_policies().is_empty());
    assert_eq!(
        PolicyKind::GlobalNetworkPolicy.to_string(),
        "GlobalNetworkPolicy"
    );
    assert_eq!(set.clone(), set);
}

#[test]
fn crd_objects_stored_by_the_api_server_keep_their_metadata_in_an_annotation() {
    // What `kubectl get networksets.crd.projectcalico.org -o json` prints when Calico's API
    // server wrote the object: its labels live in the annotation.
    let s = NetworkSet::from_value(&json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkSet",
        "metadata": {"name": "n", "namespace": "a", "labels": {"projectcalico.org/x": "1", "role": "old"},
                     "annotations": {"projectcalico.org/metadata": "{\"labels\":{\"role\":\"partner\"}}"}},
        "spec": {"nets": ["10.0.0.0/8"]}})).unwrap();
    let n = CalicoNetworkSet::new(&s).unwrap();
    assert_eq!(n.labels()["role"], "partner");
    assert_eq!(n.labels()["projectcalico.org/x"], "1");
    // In v3 the annotation is only an annotation.
    let mut v3 = s.clone();
    v3.api_group = ApiGroup::V3;
    assert_eq!(CalicoNetworkSet::new(&v3).unwrap().labels()["role"], "old");
    // A policy's name: the stored one, or the written one without `default.`.
    let policy = |name: &str, stored: &str| {
        let g = GlobalNetworkPolicy::from_value(&json!({"apiVersion": "crd.projectcalico.org/v1",
            "kind": "GlobalNetworkPolicy",
            "metadata": {"name": name, "annotations": {"projectcalico.org/metadata": stored}}}))
        .unwrap();
        CalicoPolicy::new(&g).map(|p| p.name().to_owned())
    };
    assert_eq!(policy("default.x", "{}").unwrap(), "x");
    assert_eq!(
        policy("default.x", r#"{"name": "default.x"}"#).unwrap(),
        "default.x"
    );
    let errs = policy("p", "not json").unwrap_err();
    assert_eq!(errs.errors()[0].field, "metadata.annotations");
}
