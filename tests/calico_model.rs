//! Calico's objects as written: lossless round trips of full objects of every kind in
//! both API groups, absent and empty kept apart, decoding alone and in mixed lists.

use netpol::calico::{
    ApiGroup, GlobalNetworkPolicy, GlobalNetworkSet, NetworkPolicy, NetworkSet, Port, Protocol,
    Tier,
};
use netpol::model::{PolicyObject, decode_policy_objects};
use serde_json::{Value, json};

fn full_rule() -> Value {
    json!({"action": "Allow", "ipVersion": 4, "protocol": "TCP", "notProtocol": 17,
           "icmp": {"type": 8, "code": 0}, "notICMP": {"type": 3},
           "source": {"nets": ["10.0.0.0/8"], "notNets": ["10.1.0.0/16"], "selector": "app == 'web'",
                      "notSelector": "has(x)", "namespaceSelector": "all()", "ports": [1, "2:3", "http"],
                      "notPorts": ["4"], "serviceAccounts": {"names": ["a"], "selector": "t == 'x'"},
                      "services": {"name": "s", "namespace": "n"}},
           "destination": {},
           "http": {"methods": ["GET"], "paths": [{"exact": "/a"}, {"prefix": "/b"}]},
           "metadata": {"annotations": {"k": "v"}}})
}

fn full(kind: &str, group: &str) -> Value {
    let mut spec = match kind {
        "NetworkPolicy" | "GlobalNetworkPolicy" => json!({
            "tier": "t", "order": 100, "selector": "all()", "types": ["Ingress", "Egress"],
            "serviceAccountSelector": "", "performanceHints": ["AssumeNeededOnEveryNode"],
            "ingress": [full_rule(), {}], "egress": []}),
        "Tier" => json!({"order": 1.5, "defaultAction": "Pass"}),
        _ => json!({"nets": ["10.0.0.1", "fd00::/8"]}),
    };
    if kind == "GlobalNetworkPolicy" {
        spec["namespaceSelector"] = json!("x == 'y'");
        spec["doNotTrack"] = json!(false);
        spec["preDNAT"] = json!(false);
        spec["applyOnForward"] = json!(true);
    }
    let mut meta = json!({"name": "n", "uid": "1", "labels": {"a": "b"}, "annotations": {"c": "d"},
                          "resourceVersion": "7", "creationTimestamp": "2024-01-01T00:00:00Z"});
    if matches!(kind, "NetworkPolicy" | "NetworkSet") {
        meta["namespace"] = json!("ns");
    }
    json!({"apiVersion": group, "kind": kind, "metadata": meta, "spec": spec,
           "status": {"conditions": []}, "unknownTop": [1, {"x": null}]})
}

const KINDS: [&str; 5] = [
    "NetworkPolicy",
    "GlobalNetworkPolicy",
    "NetworkSet",
    "GlobalNetworkSet",
    "Tier",
];
const GROUPS: [(&str, ApiGroup); 2] = [
    ("projectcalico.org/v3", ApiGroup::V3),
    ("crd.projectcalico.org/v1", ApiGroup::CrdV1),
];

fn reprint(object: &PolicyObject) -> Value {
    match object {
        PolicyObject::CalicoNetworkPolicy(o) => serde_json::to_value(o),
        PolicyObject::GlobalNetworkPolicy(o) => serde_json::to_value(o),
        PolicyObject::NetworkSet(o) => serde_json::to_value(o),
        PolicyObject::GlobalNetworkSet(o) => serde_json::to_value(o),
        PolicyObject::Tier(o) => serde_json::to_value(o),
        other => panic!("not Calico: {other:?}"),
    }
    .unwrap()
}

fn group_of(object: &PolicyObject) -> ApiGroup {
    match object {
        PolicyObject::CalicoNetworkPolicy(o) => o.api_group,
        PolicyObject::GlobalNetworkPolicy(o) => o.api_group,
        PolicyObject::NetworkSet(o) => o.api_group,
        PolicyObject::GlobalNetworkSet(o) => o.api_group,
        PolicyObject::Tier(o) => o.api_group,
        other => panic!("not Calico: {other:?}"),
    }
}

#[test]
fn full_objects_round_trip_in_both_groups() {
    for kind in KINDS {
        for (group, api_group) in GROUPS {
            let doc = full(kind, group);
            let objs = decode_policy_objects(&doc.to_string()).unwrap();
            assert_eq!(objs.len(), 1);
            assert_eq!(group_of(&objs[0]), api_group, "{kind} {group}");
            assert_eq!(objs[0].api_version(), group);
            assert_eq!(reprint(&objs[0]), doc, "{kind} {group}");
            // And through the type's own decoder.
            let again = match kind {
                "NetworkPolicy" => {
                    serde_json::to_value(NetworkPolicy::from_json(&doc.to_string()).unwrap())
                }
                "GlobalNetworkPolicy" => {
                    serde_json::to_value(GlobalNetworkPolicy::from_value(&doc).unwrap())
                }
                "NetworkSet" => {
                    serde_json::to_value(NetworkSet::from_json(&doc.to_string()).unwrap())
                }
                "GlobalNetworkSet" => {
                    serde_json::to_value(GlobalNetworkSet::from_value(&doc).unwrap())
                }
                _ => serde_json::to_value(Tier::from_json(&doc.to_string()).unwrap()),
            }
            .unwrap();
            assert_eq!(again, doc);
        }
    }
}

#[test]
fn absent_and_empty_stay_apart() {
    let a = NetworkPolicy::from_json(
        r#"{"spec": {"types": [], "ingress": [], "egress": [{"source": {}}]}}"#,
    )
    .unwrap();
    let b = NetworkPolicy::from_json(r#"{"spec": {"egress": [{}]}}"#).unwrap();
    let sa = a.spec.as_ref().unwrap();
    let sb = b.spec.as_ref().unwrap();
    assert_eq!(sa.types.as_deref(), Some(&[][..]));
    assert!(sb.types.is_none());
    assert_eq!(sa.ingress.as_deref().map(<[_]>::len), Some(0));
    assert!(sb.ingress.is_none());
    assert!(sa.egress.as_ref().unwrap()[0].source.is_some());
    assert!(sb.egress.as_ref().unwrap()[0].source.is_none());
    assert_ne!(a, b);
}

#[test]
fn go_rules_apply() {
    // null is the zero value / absence, as in Go.
    let p = NetworkPolicy::from_json(
        r#"{"spec": {"order": null, "ingress": [null],
        "egress": [{"protocol": null, "destination": {"ports": [null, "80"]}}]}}"#,
    )
    .unwrap();
    let spec = p.spec.unwrap();
    assert!(spec.order.is_none());
    assert_eq!(spec.ingress.unwrap()[0], Default::default());
    let egress = &spec.egress.unwrap()[0];
    assert!(egress.protocol.is_none());
    assert_eq!(
        egress.destination.as_ref().unwrap().ports.as_ref().unwrap(),
        &[Port::Number(0), Port::String("80".into())]
    );
    // Wrong JSON types are refused with the path.
    for (text, path) in [
        (r#"{"spec": {"order": "1"}}"#, "spec.order"),
        (r#"{"spec": {"ingress": {}}}"#, "spec.ingress"),
        (
            r#"{"spec": {"ingress": [{"protocol": true}]}}"#,
            "spec.ingress[0].protocol",
        ),
        (
            r#"{"spec": {"ingress": [{"protocol": 1.5}]}}"#,
            "spec.ingress[0].protocol",
        ),
        (
            r#"{"spec": {"ingress": [{"destination": {"ports": [[]]}}]}}"#,
            "spec.ingress[0].destination.ports[0]",
        ),
        (
            r#"{"spec": {"ingress": [{"destination": {"ports": [8.5]}}]}}"#,
            "spec.ingress[0].destination.ports[0]",
        ),
        (r#"{"spec": {"selector": 5}}"#, "spec.selector"),
        (
            r#"{"spec": {"ingress": [{"ipVersion": "4"}]}}"#,
            "spec.ingress[0].ipVersion",
        ),
    ] {
        let err = NetworkPolicy::from_json(text).unwrap_err();
        assert_eq!(err.path, path, "{text}: {err}");
    }
    // Strings Calico checks survive decoding.
    let p = NetworkPolicy::from_json(
        r#"{"spec": {"ingress": [{"action": "Nope", "protocol": "tcp",
        "destination": {"ports": ["99999", "x y"], "nets": ["bogus"]}}]}}"#,
    )
    .unwrap();
    let r = &p.spec.unwrap().ingress.unwrap()[0];
    assert_eq!(r.action.as_deref(), Some("Nope"));
    assert_eq!(r.protocol, Some(Protocol::Name("tcp".into())));
}

/// Repeated keys: Calico's API server decodes a `projectcalico.org/v3` object into Go
/// structs (`sigs.k8s.io/json`), so a repeated key is decoded again into the same field
/// and `null` leaves a string or struct value as it was; a `crd.projectcalico.org/v1`
/// object is a custom resource, read into a map first, so the last occurrence wins whole.
#[test]
fn repeated_keys_follow_the_api_group() {
    let body = r#""spec": {"selector": "a == 'x'", "order": 1, "ingress": [{"action": "Allow",
        "source": {"selector": "b == 'y'"}, "source": null, "action": null}]},
        "spec": {"tier": "t", "selector": null}"#;
    let v3 = NetworkPolicy::from_json(&format!("{{{body}}}")).unwrap();
    let spec = v3.spec.unwrap();
    assert_eq!(spec.selector.as_deref(), Some("a == 'x'"));
    assert_eq!((spec.order, spec.tier.as_deref()), (Some(1.0), Some("t")));
    let rule = &spec.ingress.unwrap()[0];
    assert_eq!(rule.action.as_deref(), Some("Allow"));
    assert_eq!(
        rule.source.as_ref().unwrap().selector.as_deref(),
        Some("b == 'y'")
    );
    let crd = NetworkPolicy::from_json(&format!(
        r#"{{"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy", {body}}}"#
    ))
    .unwrap();
    let spec = crd.spec.unwrap();
    assert_eq!(spec.tier.as_deref(), Some("t"));
    assert_eq!(
        (spec.selector, spec.order, spec.ingress),
        (None, None, None)
    );
    // `null` for the spec: the struct keeps its value in v3, the map's last value wins in v1.
    let text = r#"{"spec": {"selector": "all()"}, "spec": null}"#;
    assert!(NetworkPolicy::from_json(text).unwrap().spec.is_some());
    let text = r#"{"apiVersion": "crd.projectcalico.org/v1", "spec": {"selector": "all()"}, "spec": null}"#;
    assert!(NetworkPolicy::from_json(text).unwrap().spec.is_none());
    // A pointer (`protocol`, `order`) is reset by `null`.
    let p = GlobalNetworkPolicy::from_json(
        r#"{"spec": {"order": 5, "order": null, "ingress": [{"protocol": "TCP", "protocol": null}]}}"#,
    )
    .unwrap();
    let spec = p.spec.unwrap();
    assert_eq!(spec.order, None);
    assert_eq!(spec.ingress.unwrap()[0].protocol, None);
}

/// Ports and protocols have their own `UnmarshalJSON` in Go: its error stops decoding at
/// once, so it is reported even when a type mismatch was met before it.
#[test]
fn port_and_protocol_errors_win_over_an_earlier_mismatch() {
    for (text, path) in [
        (
            r#"{"metadata": {"generation": "1"}, "spec": {"ingress": [{"protocol": true}]}}"#,
            "spec.ingress[0].protocol",
        ),
        (
            r#"{"spec": {"selector": 1, "egress": [{"destination": {"ports": [80, {}]}}]}}"#,
            "spec.egress[0].destination.ports[1]",
        ),
    ] {
        assert_eq!(
            NetworkPolicy::from_json(text).unwrap_err().path,
            path,
            "{text}"
        );
    }
}

/// `apiVersion` and `kind` are read as the apiserver's kind check reads them (any
/// spelling, the last one written); the model keeps the one taken, so it prints as an
/// object of the same kind.
#[test]
fn type_meta_spellings_are_read_as_the_kind_check_reads_them() {
    let text = r#"{"APIVERSION": "projectcalico.org/v3", "apiVersion": "crd.projectcalico.org/v1",
        "kInd": "Tier", "kind": "GlobalNetworkSet", "metadata": {"name": "g"}}"#;
    let set = GlobalNetworkSet::from_json(text).unwrap();
    assert_eq!(set.api_group, ApiGroup::CrdV1);
    assert_eq!(set.kind.as_deref(), Some("GlobalNetworkSet"));
    assert!(set.extra.is_empty(), "{:?}", set.extra);
    let printed = serde_json::to_string(&set).unwrap();
    assert_eq!(GlobalNetworkSet::from_json(&printed).unwrap(), set);
    let objects = decode_policy_objects(text).unwrap();
    assert!(matches!(&objects[..], [PolicyObject::GlobalNetworkSet(s)] if *s == set));
}

#[test]
fn kinds_and_groups_are_checked() {
    // serde's Deserialize reads v3 only.
    let v1 = r#"{"apiVersion": "crd.projectcalico.org/v1", "kind": "Tier"}"#;
    assert!(serde_json::from_str::<Tier>(v1).is_err());
    assert_eq!(Tier::from_json(v1).unwrap().api_group, ApiGroup::CrdV1);
    let err = Tier::from_json(r#"{"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet"}"#)
        .unwrap_err();
    assert_eq!(err.path, "kind");
    let err =
        NetworkSet::from_json(r#"{"apiVersion": "projectcalico.org/v4", "kind": "NetworkSet"}"#)
            .unwrap_err();
    assert_eq!(err.path, "apiVersion");
}

#[test]
fn mixed_lists_decode_every_kind() {
    let doc = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "k8s", "namespace": "a"}, "spec": {"podSelector": {}}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
         "metadata": {"name": "cnp"}, "spec": {"tier": "Admin", "priority": 1, "subject": {"namespaces": {}}}},
        full("NetworkPolicy", "projectcalico.org/v3"),
        full("GlobalNetworkPolicy", "crd.projectcalico.org/v1"),
        full("NetworkSet", "crd.projectcalico.org/v1"),
        full("GlobalNetworkSet", "projectcalico.org/v3"),
        full("Tier", "projectcalico.org/v3"),
        // A kind alone, without apiVersion: Kubernetes' NetworkPolicy wins its name, the
        // others go to Calico's v3.
        {"kind": "NetworkPolicy", "metadata": {"name": "bare", "namespace": "a"}},
        {"kind": "Tier", "metadata": {"name": "bare"}},
    ]});
    let objs = decode_policy_objects(&doc.to_string()).unwrap();
    let kinds: Vec<&str> = objs.iter().map(PolicyObject::kind).collect();
    assert_eq!(
        kinds,
        [
            "NetworkPolicy",
            "ClusterNetworkPolicy",
            "NetworkPolicy.projectcalico.org",
            "GlobalNetworkPolicy",
            "NetworkSet",
            "GlobalNetworkSet",
            "Tier",
            "NetworkPolicy",
            "Tier"
        ]
    );
    assert_eq!(objs[3].api_version(), "crd.projectcalico.org/v1");
    assert_eq!(objs[8].api_version(), "projectcalico.org/v3");
    for (i, item) in doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .skip(2)
        .take(5)
    {
        assert_eq!(&reprint(&objs[i]), item);
    }
}

#[test]
fn calico_list_output_decodes() {
    // Typed lists as calicoctl and kubectl print them; items take the list's group.
    for (group, api_group) in GROUPS {
        let doc = json!({"apiVersion": group, "kind": "GlobalNetworkSetList",
            "metadata": {"resourceVersion": "1"},
            "items": [{"metadata": {"name": "a"}, "spec": {"nets": ["10.0.0.0/8"]}},
                      {"apiVersion": group, "kind": "GlobalNetworkSet", "metadata": {"name": "b"}}]});
        let objs = decode_policy_objects(&doc.to_string()).unwrap();
        assert_eq!(objs.len(), 2);
        assert!(
            objs.iter()
                .all(|o| group_of(o) == api_group && o.kind() == "GlobalNetworkSet")
        );
    }
    let err = decode_policy_objects(
        r#"{"apiVersion": "projectcalico.org/v3", "kind": "TierList",
        "items": [{"kind": "NetworkSet"}]}"#,
    )
    .unwrap_err();
    assert_eq!(err.path, "items[0].kind");
}

#[test]
fn order_prints_as_go_prints_it() {
    let t = Tier::from_json(r#"{"spec": {"order": 1e6}}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&t.spec).unwrap(),
        r#"{"order":1000000}"#
    );
    let t = Tier::from_json(r#"{"spec": {"order": 0.25}}"#).unwrap();
    assert_eq!(serde_json::to_string(&t.spec).unwrap(), r#"{"order":0.25}"#);
}
