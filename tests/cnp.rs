//! ClusterNetworkPolicy: decoding, round trips, every validation rule (refused and
//! accepted at the edge, in both channels where they differ), normalisation, and
//! properties over generated policies.

mod support;

use netpol::model::{
    ClusterNetworkPolicy, ClusterNetworkPolicyList, PolicyObject, decode_policies,
    decode_policy_objects,
};
use netpol::policy::{
    Action, ClusterPeer, ClusterPolicy, ClusterPort, ClusterTier, Protocol, Subject,
};
use netpol::validate::{
    Channel, ErrorKind, validate_cluster_network_policy, validate_cluster_network_policy_in,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const SKIPPED: &str = "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

fn base() -> Value {
    json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}}}
    })
}

/// The base policy with one egress rule.
fn with_egress(rule: Value) -> Value {
    let mut v = base();
    v["spec"]["egress"] = json!([rule]);
    v
}

fn with_ingress(rule: Value) -> Value {
    let mut v = base();
    v["spec"]["ingress"] = json!([rule]);
    v
}

fn errors_in(v: &Value, channel: Channel) -> Vec<String> {
    let cnp = ClusterNetworkPolicy::from_value(v).unwrap();
    match validate_cluster_network_policy_in(&cnp, channel) {
        Ok(()) => Vec::new(),
        Err(e) => e.errors().iter().map(|e| e.to_string()).collect(),
    }
}

fn errors(v: &Value) -> Vec<String> {
    errors_in(v, Channel::Experimental)
}

fn egress_peer(peer: Value) -> Value {
    with_egress(json!({"action": "Deny", "to": [peer]}))
}

fn egress_protocols(protocols: Value) -> Value {
    with_egress(json!({"action": "Deny", "to": [{"namespaces": {}}], "protocols": protocols}))
}

// ---- decoding and round trips ----------------------------------------------------------

fn full_object() -> Value {
    json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {
            "name": "full", "uid": "1d2c", "resourceVersion": "77", "generation": 3,
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "labels": {"team": "net"}, "annotations": {"note": "x"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
        },
        "spec": {
            "tier": "Baseline", "priority": 1000,
            "subject": {"pods": {"namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
                "podSelector": {}}},
            "ingress": [
                {"name": "from-mon", "action": "Accept",
                 "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}}},
                          {"pods": {"podSelector": {"matchLabels": {"app": "x"}}}}],
                 "protocols": [{"tcp": {"destinationPort": {"number": 9090}}},
                               {"destinationNamedPort": "metrics"}]},
                {"action": "Pass", "from": [{"namespaces": {}}]}
            ],
            "egress": [
                {"action": "Accept", "to": [{"domainNames": ["*.example.com", "example.com."]}],
                 "protocols": [{"tcp": {"destinationPort": {"range": {"start": 443, "end": 444}}}},
                               {"udp": {"destinationPort": {"number": 53}}},
                               {"sctp": {"destinationPort": {"number": 9}}}]},
                {"name": "", "action": "Deny",
                 "to": [{"networks": ["0.0.0.0/0", "::/0"]}, {"nodes": {"matchExpressions": [
                     {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}}]}
            ]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ok",
                                   "message": "", "lastTransitionTime": "2025-01-02T03:04:05Z",
                                   "observedGeneration": 3}]},
        "someFutureField": {"a": [1, 2.5, null]}
    })
}

#[test]
fn full_object_round_trips_unchanged() {
    let v = full_object();
    let text = serde_json::to_string_pretty(&v).unwrap();
    let cnp = ClusterNetworkPolicy::from_json(&text).unwrap();
    assert_eq!(serde_json::to_value(&cnp).unwrap(), v);
    assert_eq!(ClusterNetworkPolicy::from_value(&v).unwrap(), cnp);
    assert!(validate_cluster_network_policy(&cnp).is_ok());
}

#[test]
fn absent_and_empty_lists_stay_apart() {
    let mut v = base();
    v["spec"]["ingress"] = json!([]);
    v["spec"]["egress"] = json!([{"action": "Deny", "to": [{"networks": []}], "protocols": []}]);
    let cnp = ClusterNetworkPolicy::from_value(&v).unwrap();
    assert_eq!(serde_json::to_value(&cnp).unwrap(), v);
    let mut minimal = base();
    minimal["metadata"] = json!({});
    minimal.as_object_mut().unwrap().remove("spec");
    let cnp = ClusterNetworkPolicy::from_value(&minimal).unwrap();
    assert!(cnp.spec.is_none());
    assert_eq!(serde_json::to_value(&cnp).unwrap(), minimal);
}

#[test]
fn list_round_trips_and_decodes_as_objects() {
    let list = json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicyList",
        "metadata": {"resourceVersion": "9", "continue": ""},
        "items": [full_object(), base()]
    });
    let typed: ClusterNetworkPolicyList = serde_json::from_value(list.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), list);
    let objects = decode_policy_objects(&list.to_string()).unwrap();
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|o| o.kind() == "ClusterNetworkPolicy"));
    // Items of a typed list may leave out kind.
    let mut bare = list.clone();
    bare["items"][1].as_object_mut().unwrap().remove("kind");
    assert_eq!(decode_policy_objects(&bare.to_string()).unwrap().len(), 2);
}

#[test]
fn mixed_list_dispatches_on_kind() {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "np", "namespace": "a"}, "spec": {"podSelector": {}}},
        full_object(),
    ]});
    let objects = decode_policy_objects(&list.to_string()).unwrap();
    match (&objects[0], &objects[1]) {
        (PolicyObject::NetworkPolicy(np), PolicyObject::ClusterNetworkPolicy(cnp)) => {
            assert_eq!(np.key(), "a/np");
            assert_eq!(cnp.name(), "full");
            assert_eq!(serde_json::to_value(cnp).unwrap(), full_object());
        }
        other => panic!("unexpected {other:?}"),
    }
    // The NetworkPolicy-only decoder refuses the ClusterNetworkPolicy, naming it.
    let err = decode_policies(&list.to_string()).unwrap_err();
    assert_eq!(err.path, "items[1].kind");
    // A NetworkPolicy-only list still decodes both ways.
    let np_only = json!({"kind": "NetworkPolicyList", "items": [{"metadata": {"name": "x"}}]});
    assert_eq!(decode_policies(&np_only.to_string()).unwrap().len(), 1);
    assert_eq!(
        decode_policy_objects(&np_only.to_string()).unwrap().len(),
        1
    );
}

#[test]
fn decoding_errors_name_the_field() {
    for (text, path) in [
        (
            r#"{"kind": "ClusterNetworkPolicy", "apiVersion": "networking.k8s.io/v1"}"#,
            "apiVersion",
        ),
        (
            r#"{"kind": "NetworkPolicy", "apiVersion": "policy.networking.k8s.io/v1alpha2"}"#,
            "apiVersion",
        ),
        (r#"{"kind": "AdminNetworkPolicy"}"#, "kind"),
        (r#"{"kind": 7}"#, "kind"),
        (
            r#"{"kind": "List", "items": [{"kind": "ClusterNetworkPolicy", "spec": {"priority": "1"}}]}"#,
            "items[0].spec.priority",
        ),
        (
            r#"{"kind": "NetworkPolicyList", "items": [{"kind": "ClusterNetworkPolicy"}]}"#,
            "items[0].kind",
        ),
        (
            r#"{"kind": "ClusterNetworkPolicyList", "items": [{"kind": "NetworkPolicy"}]}"#,
            "items[0].kind",
        ),
        (r#"{"kind": "List", "items": {}}"#, "items"),
        (r#"{"kind": "List", "items": [3]}"#, "items[0]"),
        (
            r#"{"kind": "ClusterNetworkPolicy", "spec": {"egress": [{"to": [{"networks": [1]}]}]}}"#,
            "spec.egress[0].to[0].networks[0]",
        ),
    ] {
        let err = decode_policy_objects(text).unwrap_err();
        assert_eq!(err.path, path, "{text}: {err}");
    }
    assert!(
        decode_policy_objects(r#"{"kind": "List"}"#)
            .unwrap()
            .is_empty()
    );
}

// ---- metadata ------------------------------------------------------------------------------

#[test]
fn metadata_rules_of_a_cluster_scoped_object() {
    let mut v = base();
    v["metadata"] = json!({"name": "p", "namespace": "Not_A_Label", "generation": -4});
    assert!(
        errors(&v).is_empty(),
        "namespace is cleared, generation reset"
    );
    v["metadata"] = json!({"name": "Bad_Name"});
    let e = errors(&v);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            r#"metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#
        ),
        "{e:?}"
    );
    v["metadata"] = json!({});
    assert_eq!(
        errors(&v),
        [
            "metadata.name: Required value: name or generateName is required",
            SKIPPED
        ]
    );
    v["metadata"] = json!({"generateName": "cnp-"});
    assert!(errors(&v).is_empty());
}

// ---- spec ----------------------------------------------------------------------------------

#[test]
fn spec_and_its_required_fields() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("spec");
    assert_eq!(errors(&v), ["spec: Required value", SKIPPED]);
    v["spec"] = json!({});
    assert_eq!(
        errors(&v),
        [
            "spec.priority: Required value",
            "spec.subject: Required value",
            "spec.tier: Required value",
            SKIPPED
        ]
    );
}

#[test]
fn tier_is_an_enum() {
    let mut v = base();
    for ok in ["Admin", "Baseline"] {
        v["spec"]["tier"] = json!(ok);
        assert!(errors(&v).is_empty());
    }
    v["spec"]["tier"] = json!("admin");
    assert_eq!(
        errors(&v),
        [
            r#"spec.tier: Unsupported value: "admin": supported values: "Admin", "Baseline""#,
            SKIPPED
        ]
    );
}

#[test]
fn priority_bounds() {
    let mut v = base();
    for ok in [0, 1000] {
        v["spec"]["priority"] = json!(ok);
        assert!(errors(&v).is_empty());
    }
    v["spec"]["priority"] = json!(1001);
    assert_eq!(
        errors(&v),
        [
            "spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000"
        ]
    );
    v["spec"]["priority"] = json!(-1);
    assert_eq!(
        errors(&v),
        [
            "spec.priority: Invalid value: -1: spec.priority in body should be greater than or equal to 0"
        ]
    );
    v["spec"]["priority"] = json!(1.5);
    assert!(
        ClusterNetworkPolicy::from_value(&v).is_err(),
        "not an integer: a decode error"
    );
}

#[test]
fn subject_is_exactly_one_of() {
    let mut v = base();
    v["spec"]["subject"] = json!({});
    assert_eq!(
        errors(&v),
        ["spec.subject: Invalid value: 0: spec.subject in body should have at least 1 properties"]
    );
    v["spec"]["subject"] = json!({"namespaces": {}, "pods": {"podSelector": {}}});
    assert_eq!(
        errors(&v),
        [
            "spec.subject: Too many: 2: must have at most 1 item",
            SKIPPED
        ]
    );
    v["spec"]["subject"] = json!({"pods": {"namespaceSelector": {}}});
    assert_eq!(
        errors(&v),
        ["spec.subject.pods.podSelector: Required value", SKIPPED]
    );
    v["spec"]["subject"] = json!({"pods": {"podSelector": {}}});
    assert!(errors(&v).is_empty());
    // An unknown field is pruned, leaving nothing.
    v["spec"]["subject"] = json!({"nodes": {}});
    assert_eq!(errors(&v).len(), 1);
}

// ---- rules -----------------------------------------------------------------------------------

#[test]
fn rule_required_fields_and_action() {
    assert_eq!(
        errors(&with_egress(json!({}))),
        [
            "spec.egress[0].action: Required value",
            "spec.egress[0].to: Required value",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&with_ingress(json!({}))),
        [
            "spec.ingress[0].action: Required value",
            "spec.ingress[0].from: Required value",
            SKIPPED
        ]
    );
    for ok in ["Accept", "Deny", "Pass"] {
        assert!(
            errors(&with_ingress(
                json!({"action": ok, "from": [{"namespaces": {}}]})
            ))
            .is_empty()
        );
    }
    assert_eq!(
        errors(&with_ingress(
            json!({"action": "Allow", "from": [{"namespaces": {}}]})
        )),
        [
            r#"spec.ingress[0].action: Unsupported value: "Allow": supported values: "Accept", "Deny", "Pass""#,
            SKIPPED
        ]
    );
}

#[test]
fn rule_name_length_counts_characters() {
    let rule = |name: String| {
        with_egress(json!({"name": name, "action": "Deny", "to": [{"namespaces": {}}]}))
    };
    assert!(errors(&rule("é".repeat(100))).is_empty());
    assert_eq!(
        errors(&rule("x".repeat(101))),
        [
            "spec.egress[0].name: Too long: may not be more than 100 bytes",
            SKIPPED
        ]
    );
}

#[test]
fn rule_counts() {
    let rule = json!({"action": "Deny", "to": [{"namespaces": {}}]});
    let mut v = base();
    v["spec"]["egress"] = json!(vec![rule.clone(); 25]);
    v["spec"]["ingress"] = json!(vec![
        json!({"action": "Deny", "from": [{"namespaces": {}}]});
        25
    ]);
    assert!(errors(&v).is_empty());
    v["spec"]["egress"] = json!(vec![rule; 26]);
    assert_eq!(
        errors(&v),
        [
            "spec.egress: Too many: 26: must have at most 25 items",
            SKIPPED
        ]
    );
    v["spec"]["egress"] = json!([]);
    v["spec"]["ingress"] = json!([]);
    assert!(errors(&v).is_empty(), "empty rule lists are allowed");
}

#[test]
fn peer_counts() {
    let peers =
        |n: usize| with_egress(json!({"action": "Deny", "to": vec![json!({"namespaces": {}}); n]}));
    assert!(errors(&peers(25)).is_empty());
    assert_eq!(
        errors(&peers(26)),
        [
            "spec.egress[0].to: Too many: 26: must have at most 25 items",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&peers(0)),
        [
            "spec.egress[0].to: Invalid value: 0: spec.egress[0].to in body should have at least 1 items"
        ]
    );
    assert_eq!(
        errors(&with_ingress(json!({"action": "Deny", "from": []}))),
        [
            "spec.ingress[0].from: Invalid value: 0: spec.ingress[0].from in body should have at least 1 items"
        ]
    );
}

#[test]
fn peers_are_exactly_one_of() {
    assert_eq!(
        errors(&egress_peer(json!({}))),
        [
            "spec.egress[0].to[0]: Invalid value: 0: spec.egress[0].to[0] in body should have at least 1 properties"
        ]
    );
    assert_eq!(
        errors(&egress_peer(
            json!({"namespaces": {}, "networks": ["10.0.0.0/8"]})
        )),
        [
            "spec.egress[0].to[0]: Too many: 2: must have at most 1 item",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&with_ingress(
            json!({"action": "Deny", "from": [{"namespaces": {}, "pods": {"podSelector": {}}}]})
        )),
        [
            "spec.ingress[0].from[0]: Too many: 2: must have at most 1 item",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&egress_peer(json!({"pods": {}}))),
        [
            "spec.egress[0].to[0].pods.podSelector: Required value",
            SKIPPED
        ]
    );
    // An ingress peer knows no networks: pruned, nothing left.
    assert_eq!(
        errors(&with_ingress(
            json!({"action": "Deny", "from": [{"networks": ["10.0.0.0/8"]}]})
        ))
        .len(),
        1
    );
    for ok in [
        json!({"nodes": {}}),
        json!({"domainNames": ["a.io"]}),
        json!({"pods": {"podSelector": {}}}),
    ] {
        assert!(errors(&egress_peer(ok)).is_empty());
    }
}

#[test]
fn standard_channel_prunes_nodes_and_domain_names() {
    for peer in [json!({"nodes": {}}), json!({"domainNames": ["a.io"]})] {
        assert!(errors_in(&egress_peer(peer.clone()), Channel::Experimental).is_empty());
        assert_eq!(
            errors_in(&egress_peer(peer.clone()), Channel::Standard),
            [
                "spec.egress[0].to[0]: Invalid value: 0: spec.egress[0].to[0] in body should have at least 1 properties"
            ]
        );
        let mut two = peer;
        two["namespaces"] = json!({});
        assert!(
            errors_in(&egress_peer(two.clone()), Channel::Standard).is_empty(),
            "pruned to one"
        );
        assert_eq!(errors_in(&egress_peer(two), Channel::Experimental).len(), 2);
    }
}

// ---- networks ---------------------------------------------------------------------------

#[test]
fn networks_list_bounds_and_duplicates() {
    let nets = |n: Vec<String>| egress_peer(json!({"networks": n}));
    let distinct: Vec<String> = (0..25).map(|i| format!("10.{i}.0.0/16")).collect();
    assert!(errors(&nets(distinct.clone())).is_empty());
    let mut many = distinct;
    many.push("11.0.0.0/8".into());
    assert_eq!(
        errors(&nets(many)),
        [
            "spec.egress[0].to[0].networks: Too many: 26: must have at most 25 items",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&nets(vec![])),
        [
            "spec.egress[0].to[0].networks: Invalid value: 0: spec.egress[0].to[0].networks in body should have at least 1 items"
        ]
    );
    let dup = [
        "10.0.0.0/8",
        "10.0.0.0/8",
        "fd00::/8",
        "10.0.0.0/8",
        "fd00::/8",
        "10.0.0.0/08",
    ];
    assert_eq!(
        errors(&nets(dup.iter().map(|s| s.to_string()).collect())),
        [
            r#"spec.egress[0].to[0].networks[1]: Duplicate value: "10.0.0.0/8""#,
            r#"spec.egress[0].to[0].networks[4]: Duplicate value: "fd00::/8""#,
            r#"spec.egress[0].to[0].networks[5]: Invalid value: "10.0.0.0/08": Invalid CIDR format provided"#,
        ]
    );
}

#[test]
fn networks_entry_length_and_cidr_rule() {
    let one = |c: &str| errors(&egress_peer(json!({"networks": [c]})));
    let long_ok = "1111:2222:3333:4444:5555:6666:7777:8888/128"; // 43 characters
    assert_eq!(long_ok.len(), 43);
    assert!(one(long_ok).is_empty());
    assert_eq!(
        one("1111:2222:3333:4444:5555:6666:7777:8888/0128"),
        [
            "spec.egress[0].to[0].networks[0]: Too long: may not be more than 43 bytes",
            SKIPPED
        ]
    );
    for ok in [
        "10.0.0.0/8",
        "10.1.2.3/8",
        "0.0.0.0/0",
        "::/0",
        "fd00::1/64",
        "64:ff9b::1.2.3.4/120",
        "FD00::/8",
        "1.2.3.4/32",
    ] {
        assert!(one(ok).is_empty(), "{ok}");
    }
    for bad in [
        "010.0.0.0/8",
        "10.0.0.0/08",
        "10.0.0.0/33",
        "10.0.0.0",
        "::ffff:10.0.0.0/104",
        "fe80::1%eth0/64",
        "10.0.0.0/-1",
        "10.0.0/8",
        "::/129",
        "",
        "x/8",
    ] {
        assert_eq!(
            one(bad),
            [format!(
                "spec.egress[0].to[0].networks[0]: Invalid value: {}: Invalid CIDR format provided",
                netpol::validate::quote(bad)
            )],
            "{bad}"
        );
    }
}

// ---- domain names ----------------------------------------------------------------------

#[test]
fn domain_names_pattern_bounds_and_duplicates() {
    let names = |n: Vec<&str>| errors(&egress_peer(json!({"domainNames": n})));
    assert!(
        names(vec![
            "kubernetes.io",
            "*.kubernetes.io",
            "a.b.",
            "x_y.example.com",
            "^a.io",
            "1.2"
        ])
        .is_empty()
    );
    let pattern = netpol::validate::CNP_DOMAIN_NAME_PATTERN;
    for bad in [
        "localhost",
        "*.io",
        "a.*.io",
        "*a.io",
        "-a.io",
        "a-.io",
        "a..io",
        "a.io..",
        "ä.io",
        ".a.io",
    ] {
        assert_eq!(
            names(vec![bad]),
            [format!(
                "spec.egress[0].to[0].domainNames[0]: Invalid value: {}: spec.egress[0].to[0].domainNames[0] in body should match '{pattern}'",
                netpol::validate::quote(bad)
            )],
            "{bad}"
        );
    }
    assert_eq!(
        names(vec!["a.io", "a.io"]),
        [r#"spec.egress[0].to[0].domainNames[1]: Duplicate value: "a.io""#]
    );
    assert_eq!(
        names(vec![]),
        [
            "spec.egress[0].to[0].domainNames: Invalid value: 0: spec.egress[0].to[0].domainNames in body should have at least 1 items"
        ]
    );
    let many: Vec<String> = (0..26).map(|i| format!("h{i}.io")).collect();
    assert_eq!(
        errors(&egress_peer(json!({"domainNames": many}))),
        [
            "spec.egress[0].to[0].domainNames: Too many: 26: must have at most 25 items",
            SKIPPED
        ]
    );
}

// ---- protocols and ports ----------------------------------------------------------------

#[test]
fn protocols_list_and_entries() {
    assert_eq!(
        errors(&egress_protocols(json!([]))),
        [
            "spec.egress[0].protocols: Invalid value: 0: spec.egress[0].protocols in body should have at least 1 items"
        ]
    );
    let many = vec![json!({"tcp": {"destinationPort": {"number": 80}}}); 26];
    assert_eq!(
        errors(&egress_protocols(json!(many))),
        [
            "spec.egress[0].protocols: Too many: 26: must have at most 25 items",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&egress_protocols(json!([{}]))),
        [
            "spec.egress[0].protocols[0]: Invalid value: 0: spec.egress[0].protocols[0] in body should have at least 1 properties"
        ]
    );
    assert_eq!(
        errors(&egress_protocols(
            json!([{"tcp": {"destinationPort": {"number": 80}}, "destinationNamedPort": "x"}])
        )),
        [
            "spec.egress[0].protocols[0]: Too many: 2: must have at most 1 item",
            SKIPPED
        ]
    );
    assert_eq!(
        errors(&egress_protocols(json!([{"udp": {}}]))),
        [
            "spec.egress[0].protocols[0].udp: Invalid value: 0: spec.egress[0].protocols[0].udp in body should have at least 1 properties"
        ]
    );
    assert!(
        errors(&egress_protocols(json!([{"destinationNamedPort": ""}]))).is_empty(),
        "not checked upstream"
    );
}

#[test]
fn port_number_and_range() {
    let port = |p: Value| {
        errors(&with_ingress(
            json!({"action": "Deny", "from": [{"namespaces": {}}], "protocols": [{"sctp": {"destinationPort": p}}]}),
        ))
    };
    for ok in [
        json!({"number": 1}),
        json!({"number": 65535}),
        json!({"range": {"start": 1, "end": 2}}),
        json!({"range": {"start": 65534, "end": 65535}}),
    ] {
        assert!(port(ok).is_empty());
    }
    let at = "spec.ingress[0].protocols[0].sctp.destinationPort";
    assert_eq!(
        port(json!({"number": 0})),
        [format!(
            "{at}.number: Invalid value: 0: {at}.number in body should be greater than or equal to 1"
        )]
    );
    assert_eq!(
        port(json!({"number": 65536})),
        [format!(
            "{at}.number: Invalid value: 65536: {at}.number in body should be less than or equal to 65535"
        )]
    );
    assert_eq!(
        port(json!({})),
        [format!(
            "{at}: Invalid value: 0: {at} in body should have at least 1 properties"
        )]
    );
    assert_eq!(
        port(json!({"number": 1, "range": {"start": 1, "end": 2}})),
        [
            format!("{at}: Too many: 2: must have at most 1 item"),
            SKIPPED.into()
        ]
    );
    assert_eq!(
        port(json!({"range": {}})),
        [
            format!("{at}.range.end: Required value"),
            format!("{at}.range.start: Required value"),
            SKIPPED.into()
        ]
    );
    assert_eq!(
        port(json!({"range": {"start": 80, "end": 80}})),
        [format!(
            "{at}.range: Invalid value: Start port must be less than End port"
        )]
    );
    assert_eq!(
        port(json!({"range": {"start": 0, "end": 70000}})),
        [
            format!(
                "{at}.range.end: Invalid value: 70000: {at}.range.end in body should be less than or equal to 65535"
            ),
            format!(
                "{at}.range.start: Invalid value: 0: {at}.range.start in body should be greater than or equal to 1"
            ),
        ]
    );
}

#[test]
fn named_ports_next_to_outside_peers() {
    let rule = |peer: Value| {
        with_egress(
            json!({"action": "Accept", "to": [{"namespaces": {}}, peer], "protocols": [{"tcp": {"destinationPort": {"number": 80}}}, {"destinationNamedPort": "http"}]}),
        )
    };
    let msg = "spec.egress[0]: Invalid value: networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames";
    for peer in [
        json!({"networks": ["10.0.0.0/8"]}),
        json!({"nodes": {}}),
        json!({"domainNames": ["a.io"]}),
    ] {
        assert_eq!(errors(&rule(peer.clone())), [msg]);
    }
    assert!(
        errors_in(
            &rule(json!({"networks": ["10.0.0.0/8"]})),
            Channel::Standard
        )
        .is_empty()
    );
    assert!(errors(&rule(json!({"pods": {"podSelector": {}}}))).is_empty());
    // Ingress rules have no such rule (their peers are all pods).
    assert!(errors(&with_ingress(json!({"action": "Deny", "from": [{"namespaces": {}}], "protocols": [{"destinationNamedPort": "x"}]}))).is_empty());
}

#[test]
fn cel_rules_run_in_document_order_when_nothing_blocks() {
    let v = with_egress(json!({
        "action": "Accept",
        "to": [{"networks": ["10.0.0.0/8", "bad"]}],
        "protocols": [{"tcp": {"destinationPort": {"range": {"start": 9, "end": 1}}}}, {"destinationNamedPort": "h"}]
    }));
    assert_eq!(
        errors(&v),
        [
            "spec.egress[0]: Invalid value: networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames",
            "spec.egress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port",
            r#"spec.egress[0].to[0].networks[1]: Invalid value: "bad": Invalid CIDR format provided"#,
        ]
    );
}

#[test]
fn error_kinds_are_the_apiservers() {
    let mut v =
        with_egress(json!({"action": "Nope", "to": [{"networks": ["10.0.0.0/8", "10.0.0.0/8"]}]}));
    v["spec"]["priority"] = json!(2000);
    let cnp = ClusterNetworkPolicy::from_value(&v).unwrap();
    let errs = validate_cluster_network_policy(&cnp).unwrap_err();
    let kinds: Vec<ErrorKind> = errs.errors().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::Unsupported,
            ErrorKind::Invalid,
            ErrorKind::Duplicate,
            ErrorKind::Invalid
        ]
    );
}

// ---- normalisation ----------------------------------------------------------------------

#[test]
fn normalises_every_part() {
    let cnp = ClusterNetworkPolicy::from_value(&full_object()).unwrap();
    let p = ClusterPolicy::new(&cnp).unwrap();
    assert_eq!(
        (p.name(), p.tier(), p.priority()),
        ("full", ClusterTier::Baseline, 1000)
    );
    assert!(matches!(p.subject(), Subject::Pods { pods, .. } if pods.is_everything()));
    let ingress = p.ingress();
    assert_eq!(ingress[0].name(), Some("from-mon"));
    assert_eq!(ingress[0].action(), Action::Allow);
    assert!(
        matches!(&ingress[0].peers()[1], ClusterPeer::Pods { namespaces, .. } if namespaces.is_everything())
    );
    assert_eq!(
        ingress[0].ports().unwrap()[1],
        ClusterPort::Named("metrics".into())
    );
    assert_eq!(ingress[1].action(), Action::Pass);
    assert!(ingress[1].ports().is_none());
    let egress = p.egress();
    let ports = egress[0].ports().unwrap();
    assert_eq!(
        ports[0],
        ClusterPort::range(Protocol::Tcp, 443, 444).unwrap()
    );
    assert_eq!(ports[1], ClusterPort::range(Protocol::Udp, 53, 53).unwrap());
    assert_eq!(ports[2], ClusterPort::range(Protocol::Sctp, 9, 9).unwrap());
    assert!(
        matches!(&egress[0].peers()[0], ClusterPeer::DomainNames(d) if d[0].matches("a.example.com") && d[1].matches("EXAMPLE.com"))
    );
    assert_eq!(egress[1].name(), Some(""));
    assert_eq!(egress[1].action(), Action::Deny);
    assert!(matches!(&egress[1].peers()[0], ClusterPeer::Networks(n) if n.len() == 2));
    assert!(matches!(&egress[1].peers()[1], ClusterPeer::Nodes(s) if !s.is_everything()));
}

#[test]
fn normalisation_clears_host_bits_and_refuses_what_validation_refuses() {
    let cnp = ClusterNetworkPolicy::from_value(&egress_peer(json!({"networks": ["10.1.2.3/8"]})))
        .unwrap();
    let p = ClusterPolicy::new(&cnp).unwrap();
    assert!(
        matches!(&p.egress()[0].peers()[0], ClusterPeer::Networks(n) if n[0].to_string() == "10.0.0.0/8")
    );
    let cnp = ClusterNetworkPolicy::from_value(&egress_peer(json!({"networks": ["010.1.2.3/8"]})))
        .unwrap();
    assert_eq!(
        ClusterPolicy::new(&cnp).unwrap_err().errors()[0].field,
        "spec.egress[0].to[0].networks[0]"
    );
}

#[test]
fn normalisation_refuses_selectors_the_crd_lets_through() {
    let v = egress_peer(
        json!({"namespaces": {"matchExpressions": [{"key": "a", "operator": "Like", "values": ["x"]}]}}),
    );
    let cnp = ClusterNetworkPolicy::from_value(&v).unwrap();
    assert!(
        validate_cluster_network_policy(&cnp).is_ok(),
        "the CRD does not check selectors"
    );
    let errs = ClusterPolicy::new(&cnp).unwrap_err();
    assert_eq!(
        errs.errors()[0].to_string(),
        r#"spec.egress[0].to[0].namespaces.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator"#
    );
    let mut v = base();
    v["spec"]["subject"] = json!({"namespaces": {"matchLabels": {"bad key": "v"}}});
    let errs = ClusterPolicy::new(&ClusterNetworkPolicy::from_value(&v).unwrap()).unwrap_err();
    assert_eq!(
        errs.errors()[0].field,
        "spec.subject.namespaces.matchLabels"
    );
}

// ---- properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_policies_are_valid_and_normalise(cnp in support::cnp::written_cnp(3)) {
        prop_assert!(validate_cluster_network_policy(&cnp).is_ok(), "{:?}", validate_cluster_network_policy(&cnp));
        let p = ClusterPolicy::new(&cnp).unwrap();
        let spec = cnp.spec.as_ref().unwrap();
        prop_assert_eq!(p.name(), "cnp-3");
        prop_assert_eq!(p.ingress().len(), spec.ingress.as_ref().map_or(0, Vec::len));
        prop_assert_eq!(p.egress().len(), spec.egress.as_ref().map_or(0, Vec::len));
        // Round trip through JSON.
        let text = serde_json::to_string(&cnp).unwrap();
        prop_assert_eq!(ClusterNetworkPolicy::from_json(&text).unwrap(), cnp);
    }

    #[test]
    fn normalisation_succeeds_exactly_when_validation_accepts(cnp in support::cnp::mutated_cnp()) {
        for channel in [Channel::Experimental, Channel::Standard] {
            let validated = validate_cluster_network_policy_in(&cnp, channel);
            let normalised = ClusterPolicy::new_in(&cnp, channel);
            match (&validated, &normalised) {
                (Ok(()), Ok(_)) | (Err(_), Err(_)) => {}
                (Ok(()), Err(e)) => {
                    // Only the selectors, which the CRD does not check, may refuse a valid policy.
                    prop_assert!(e.errors().iter().all(|e| e.field.contains("match")), "{e}");
                }
                (Err(e), Ok(_)) => prop_assert!(false, "normalised an invalid policy: {}", e),
            }
            if let Err(e) = &validated {
                prop_assert_eq!(normalised.unwrap_err(), e.clone());
                let blocking = e.errors().iter().any(|e| matches!(e.kind, ErrorKind::Required | ErrorKind::Unsupported | ErrorKind::TooLong | ErrorKind::TooMany));
                prop_assert_eq!(blocking, e.errors().last().map(|l| l.field == "<nil>") == Some(true));
            }
        }
    }

    #[test]
    fn validation_never_panics_on_arbitrary_json(v in arbitrary_json()) {
        if let Ok(cnp) = ClusterNetworkPolicy::from_value(&v) {
            let _ = validate_cluster_network_policy(&cnp);
            let _ = ClusterPolicy::new_in(&cnp, Channel::Standard);
        }
    }
}

/// JSON shaped like a ClusterNetworkPolicy, with values of any type in places.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9./:*_-]{0,12}".prop_map(Value::from),
        Just(json!({})),
        Just(json!([])),
    ];
    let keys = prop::sample::select(vec![
        "tier",
        "priority",
        "subject",
        "namespaces",
        "pods",
        "podSelector",
        "namespaceSelector",
        "ingress",
        "egress",
        "action",
        "from",
        "to",
        "protocols",
        "tcp",
        "udp",
        "sctp",
        "destinationPort",
        "destinationNamedPort",
        "number",
        "range",
        "start",
        "end",
        "networks",
        "nodes",
        "domainNames",
        "name",
        "matchLabels",
        "matchExpressions",
    ]);
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..4).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
    .prop_map(|spec| json!({"metadata": {"name": "x"}, "spec": spec}))
}

/// Under Felix, a ClusterNetworkPolicy built in code with a `networks` ingress peer (which
/// the API cannot hold) is converted as Calico converts any ingress peer but `namespaces`
/// and `pods`: the rule fails, a failed Accept is dropped, and a direction left with no
/// rule is not governed. The engine and the reference agree on it.
#[test]
fn felix_drops_an_accept_with_a_networks_ingress_peer() {
    use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
    use netpol::engine::Engine;
    use netpol::policy::{ClusterRule, PolicySet};
    use netpol::profile::Profile;
    use netpol::reference::Reference;
    let cluster = Cluster::builder()
        .pod(PodSpec::new("a", "web").ip("10.0.0.1".parse().unwrap()))
        .build()
        .unwrap();
    let all: netpol::model::LabelSelector = serde_json::from_str("{}").unwrap();
    let all = netpol::selector::Selector::new(&all).unwrap();
    let policy = ClusterPolicy::builder("c0", ClusterTier::Admin, 0, Subject::Namespaces(all))
        .ingress(ClusterRule::new(
            Action::Allow,
            vec![ClusterPeer::Networks(vec!["0.0.0.0/0".parse().unwrap()])],
        ))
        .build();
    let set: PolicySet = [policy].into_iter().collect();
    let web = Endpoint::Pod(cluster.pod_id("a", "web").unwrap());
    let outside = Endpoint::External("203.0.113.9".parse().unwrap());
    let flow = Flow::new(outside, web, 80, Protocol::Tcp);
    let engine = Engine::builder()
        .profile(Profile::calico())
        .build(&cluster, &set);
    let reference = Reference::new(&cluster, &set, Profile::calico());
    let why = engine.explain(flow);
    assert!(why.ingress.policies.is_empty(), "{why:?}");
    assert_eq!(why, reference.explain(flow));
    // Where Kubernetes' reading applies, the same policy governs ingress.
    let engine = Engine::build(&cluster, &set);
    assert_eq!(engine.explain(flow).ingress.policies.len(), 1);
}
