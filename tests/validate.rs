//! Every validation rule, both sides, with the apiserver's path, kind and message.

use netpol::model::{IpBlock, LabelSelector, LabelSelectorRequirement, NetworkPolicy};
use netpol::validate::{
    ErrorKind, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    is_valid_port_name, validate_ip_block, validate_label_selector, validate_network_policy,
    validate_resource_version_on_create,
};
use serde_json::{Value, json};

const LABEL_VALUE_REGEX_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART_REGEX_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// Upstream's `RegexError` appends "'example', " per example and " or " between them, so
/// its messages really read "'a',  or 'b'" with two spaces; the constants keep that.
fn up(s: &str) -> String {
    s.to_owned()
}

fn policy(spec: Value) -> NetworkPolicy {
    NetworkPolicy::from_value(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

fn errors_of(p: &NetworkPolicy) -> Vec<String> {
    match validate_network_policy(p) {
        Ok(()) => Vec::new(),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn spec_errors(spec: Value) -> Vec<String> {
    errors_of(&policy(spec))
}

fn accepted(spec: Value) {
    let errs = spec_errors(spec.clone());
    assert!(errs.is_empty(), "{spec} should be accepted, got {errs:?}");
}

#[test]
fn regex_error_wording_matches_upstream() {
    // RegexError: "msg (e.g. 'a' or 'b', regex used for validation is 're')".
    assert_eq!(is_valid_label_value("-x"), vec![up(LABEL_VALUE_REGEX_MSG)]);
    assert!(
        up(LABEL_VALUE_REGEX_MSG).contains("(e.g. 'MyValue',  or 'my_value',  or '12345', regex")
    );
}

// ---------------------------------------------------------------- the conformance file

/// (policy name, expected errors exactly) for every policy of rejected-invalid-policies.json.
fn rejected_cases() -> Vec<(&'static str, Value, Vec<String>)> {
    vec![
        ("endport-without-port", json!({"podSelector": {}, "ingress": [{"ports": [{"endPort": 90}]}]}),
         vec!["spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is not specified".into()]),
        ("endport-below-port", json!({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
         vec!["spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`".into()]),
        ("endport-with-named-port", json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 80}]}]}),
         vec!["spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric".into()]),
        ("port-zero", json!({"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]}),
         vec!["spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive".into()]),
        ("port-too-big", json!({"podSelector": {}, "egress": [{"ports": [{"port": 65536}]}]}),
         vec!["spec.egress[0].ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive".into()]),
        ("bad-port-name", json!({"podSelector": {}, "ingress": [{"ports": [{"port": "Serve_80"}]}]}),
         vec![r#"spec.ingress[0].ports[0].port: Invalid value: "Serve_80": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#.into()]),
        ("icmp", json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"protocol": "ICMP"}]}]}),
         vec![r#"spec.egress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#.into()]),
        ("except-outside-cidr", json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.18.1.0/24"]}}]}]}),
         vec!["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"172.18.1.0/24\": must be a strict subset of `cidr`".into()]),
        ("except-equals-cidr", json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24", "172.17.0.0/16"]}}]}]}),
         vec!["spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: \"172.17.0.0/16\": must be a strict subset of `cidr`".into()]),
        ("bad-cidr", json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
         vec![format!("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": {CIDR_MSG}")]),
        ("ipblock-and-selector", json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
         vec!["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer".into()]),
        ("empty-peer", json!({"podSelector": {}, "egress": [{"to": [{}]}]}),
         vec!["spec.egress[0].to[0]: Required value: must specify a peer".into()]),
        ("unknown-policy-type", json!({"podSelector": {}, "policyTypes": ["Sideways"]}),
         vec![r#"spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress""#.into()]),
        ("in-without-values", json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]}}),
         vec!["spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".into()]),
        ("exists-with-values", json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["x"]}]}}]}]}),
         vec!["spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".into()]),
    ]
}

#[test]
fn every_rejected_conformance_policy_gives_the_apiservers_errors() {
    for (name, spec, want) in rejected_cases() {
        assert_eq!(spec_errors(spec), want, "policy {name}");
    }
}

#[test]
fn conformance_file_agrees_when_present() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(dir) = netpol_testing::shared::shared_or_skip(
        &netpol_testing::shared::shared_path(root, "cases"),
        "the shared rejected-policy cases",
    ) else {
        return;
    };
    let entries = std::fs::read_dir(&dir).unwrap();
    let (mut files, mut checked) = (0, 0);
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let Some(policies) = doc.get("policies").and_then(Value::as_array) else {
            continue;
        };
        files += 1;
        let rejected: Vec<(String, String)> = doc
            .get("expectRejected")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["policy"].as_str().unwrap().to_owned(),
                            r["field"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        for p in policies {
            let p = NetworkPolicy::from_value(p).unwrap();
            let key = p.key();
            let result = validate_network_policy(&p);
            match rejected.iter().find(|(k, _)| *k == key) {
                Some((_, field)) => {
                    let errs = result.expect_err(&key);
                    assert!(
                        errs.errors().iter().any(|e| &e.field == field),
                        "{key}: expected an error at {field}, got {errs}"
                    );
                }
                None => assert!(result.is_ok(), "{key} should be accepted: {result:?}"),
            }
            checked += 1;
        }
    }
    // Every file holding policies was read, counted apart from the loop above.
    let present = netpol_testing::shared::count_files(&dir, "json", |t| t.contains("\"policies\""));
    assert_eq!(files, present);
    assert!(checked >= files, "{checked} policies in {files} files");
}

// ---------------------------------------------------------------- accepted edge cases

#[test]
fn accepted_edge_cases() {
    accepted(json!({"podSelector": {}}));
    accepted(json!({}));
    accepted(json!({"podSelector": {}, "ingress": [{}]}));
    accepted(json!({"podSelector": {}, "ingress": [], "egress": []}));
    accepted(json!({"podSelector": {}, "policyTypes": []}));
    accepted(json!({"podSelector": {}, "policyTypes": ["Ingress", "Ingress"]}));
    accepted(json!({"podSelector": {}, "policyTypes": ["Egress", "Ingress"]}));
    accepted(json!({"podSelector": {}, "ingress": [{"from": [], "ports": []}]}));
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.1.1/4"}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.2.3/16"]}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "010.000.000.000/008"}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "::ffff:10.0.0.0/104"}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {}}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 1}, {"port": 65535}, {"protocol": "UDP"}, {"protocol": "SCTP", "port": 80, "endPort": 80}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "egress": [{"ports": [{"port": 32000, "endPort": 32768}]}]}),
    );
    accepted(
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}, {"port": "a-b-c123456789z"}]}]}),
    );
    accepted(
        json!({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "", "a": "B_c.d-1"},
        "matchExpressions": [{"key": "k", "operator": "NotIn", "values": ["", "x"]},
                             {"key": "k", "operator": "DoesNotExist", "values": []}]}}),
    );
}

// ---------------------------------------------------------------- ports

#[test]
fn port_rules() {
    let e = |port: Value| spec_errors(json!({"ingress": [{"ports": [port]}]}));
    assert_eq!(
        e(json!({"port": -1})),
        [
            "spec.ingress[0].ports[0].port: Invalid value: -1: must be between 1 and 65535, inclusive"
        ]
    );
    assert_eq!(
        e(json!({"protocol": ""})),
        [
            r#"spec.ingress[0].ports[0].protocol: Unsupported value: "": supported values: "TCP", "UDP", "SCTP""#
        ]
    );
    assert_eq!(
        e(json!({"protocol": "tcp"})),
        [
            r#"spec.ingress[0].ports[0].protocol: Unsupported value: "tcp": supported values: "TCP", "UDP", "SCTP""#
        ]
    );
    // endPort below port and out of range: both errors, in upstream's order.
    assert_eq!(
        e(json!({"port": 10, "endPort": 0})),
        [
            "spec.ingress[0].ports[0].endPort: Invalid value: 0: must be greater than or equal to `port`",
            "spec.ingress[0].ports[0].endPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]
    );
    assert_eq!(
        e(json!({"port": 10, "endPort": 70000})),
        [
            "spec.ingress[0].ports[0].endPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ]
    );
    // A bad port and a bad endPort are both reported.
    assert_eq!(
        e(json!({"port": 0, "endPort": 0})),
        [
            "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ingress[0].ports[0].endPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]
    );
    // A named port with endPort: the endPort error comes before the name's errors.
    assert_eq!(
        e(json!({"protocol": "X", "port": "80", "endPort": 90})),
        [
            r#"spec.ingress[0].ports[0].protocol: Unsupported value: "X": supported values: "TCP", "UDP", "SCTP""#,
            "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
            r#"spec.ingress[0].ports[0].port: Invalid value: "80": must contain at least one letter (a-z)"#,
        ]
    );
}

#[test]
fn port_name_rules() {
    assert!(is_valid_port_name("h").is_empty());
    assert!(is_valid_port_name("a-b-c123456789z").is_empty());
    assert_eq!(
        is_valid_port_name("a23456789012345x"),
        ["must be no more than 15 characters"]
    );
    assert_eq!(
        is_valid_port_name(""),
        [
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "must contain at least one letter (a-z)",
        ]
    );
    assert_eq!(
        is_valid_port_name("a--b"),
        ["must not contain consecutive hyphens"]
    );
    assert_eq!(
        is_valid_port_name("-ab"),
        ["must not begin or end with a hyphen"]
    );
    assert_eq!(
        is_valid_port_name("HTTP"),
        [
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "must contain at least one letter (a-z)",
        ]
    );
    let errs = spec_errors(json!({"egress": [{"ports": [{"port": "-Web--"}]}]}));
    assert_eq!(
        errs,
        [
            r#"spec.egress[0].ports[0].port: Invalid value: "-Web--": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#,
            r#"spec.egress[0].ports[0].port: Invalid value: "-Web--": must not contain consecutive hyphens"#,
            r#"spec.egress[0].ports[0].port: Invalid value: "-Web--": must not begin or end with a hyphen"#,
        ]
    );
}

// ---------------------------------------------------------------- peers and ipBlock

#[test]
fn peer_rules() {
    let e = |peer: Value| spec_errors(json!({"egress": [{"to": [{"podSelector": {}}, peer]}]}));
    assert_eq!(
        e(json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}, "podSelector": {}})),
        ["spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer"]
    );
    // Errors inside the parts come first, then the peer's own.
    assert_eq!(
        e(json!({"ipBlock": {"cidr": ""}, "podSelector": {"matchLabels": {"a": "-"}}})),
        [
            format!(
                "spec.egress[0].to[1].podSelector.matchLabels: Invalid value: \"-\": {}",
                up(LABEL_VALUE_REGEX_MSG)
            ),
            "spec.egress[0].to[1].ipBlock.cidr: Required value".to_owned(),
            "spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer"
                .to_owned(),
        ]
    );
}

#[test]
fn ip_block_rules() {
    let e = |cidr: &str, except: &[&str]| -> Vec<String> {
        validate_ip_block(&IpBlock::new(cidr, except.iter().copied()), "b")
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(e("", &["x"]), ["b.cidr: Required value"]);
    // An unparsable cidr stops there: the excepts are not looked at.
    assert_eq!(
        e("10.0.0.0", &["x"]),
        [format!("b.cidr: Invalid value: \"10.0.0.0\": {CIDR_MSG}")]
    );
    for bad in [
        "10.0.0.0/33",
        "fe80::1%eth0/64",
        " 10.0.0.0/8",
        "10.0.0.0/+8",
        "1.2.3.4.5/8",
        "::/129",
    ] {
        assert_eq!(
            e(bad, &[]),
            [format!("b.cidr: Invalid value: {bad:?}: {CIDR_MSG}")]
        );
    }
    assert_eq!(
        e(
            "10.0.0.0/8",
            &[
                "",
                "10.0.0.0/7",
                "10.1.0.0/16",
                "11.0.0.0/16",
                "10.0.0.0/8",
                "2001:db8::/64"
            ]
        ),
        [
            format!("b.except[0]: Invalid value: \"\": {CIDR_MSG}"),
            "b.except[1]: Invalid value: \"10.0.0.0/7\": must be a strict subset of `cidr`"
                .to_owned(),
            "b.except[3]: Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`"
                .to_owned(),
            "b.except[4]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`"
                .to_owned(),
            "b.except[5]: Invalid value: \"2001:db8::/64\": must be a strict subset of `cidr`"
                .to_owned(),
        ]
    );
    // Host bits: the except is compared by its network address.
    assert!(e("10.0.0.0/8", &["10.200.3.4/16"]).is_empty());
    assert_eq!(e("10.244.1.1/16", &["10.244.0.0/16"]).len(), 1);
    // IPv4-mapped forms meet plain IPv4 as Go's net.IPNet does.
    assert!(e("10.0.0.0/8", &["::ffff:10.1.0.0/112"]).is_empty());
}

// ---------------------------------------------------------------- policyTypes

#[test]
fn policy_types_rules() {
    assert_eq!(
        spec_errors(json!({"policyTypes": ["Ingress", "Egress", "Sideways"]})),
        [
            r#"spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Sideways"}: may not specify more than two policyTypes"#,
        ]
    );
    assert_eq!(
        spec_errors(json!({"policyTypes": ["ingress", "Egress"]})),
        [
            r#"spec.policyTypes[0]: Unsupported value: "ingress": supported values: "Ingress", "Egress""#,
        ]
    );
}

// ---------------------------------------------------------------- selectors

#[test]
fn label_selector_rules() {
    let sel = LabelSelector {
        match_labels: Some(
            [
                ("a/b/c".to_string(), "ok".to_string()),
                ("k".to_string(), "x".repeat(64)),
            ]
            .into(),
        ),
        match_expressions: Some(vec![
            LabelSelectorRequirement::new("", "Like", ["-bad"]),
            LabelSelectorRequirement::new("Example.com/x", "DoesNotExist", ["v"]),
            LabelSelectorRequirement::new("ok", "NotIn", Vec::<String>::new()),
        ]),
    };
    let errs = validate_label_selector(&sel, "s");
    let got: Vec<(String, ErrorKind)> = errs.iter().map(|e| (e.field.clone(), e.kind)).collect();
    assert_eq!(
        got,
        [
            ("s.matchLabels".into(), ErrorKind::Invalid),
            ("s.matchLabels".into(), ErrorKind::Invalid),
            ("s.matchExpressions[0].operator".into(), ErrorKind::Invalid),
            ("s.matchExpressions[0].key".into(), ErrorKind::Invalid),
            ("s.matchExpressions[0].key".into(), ErrorKind::Invalid),
            ("s.matchExpressions[0].values[0]".into(), ErrorKind::Invalid),
            ("s.matchExpressions[1].values".into(), ErrorKind::Forbidden),
            ("s.matchExpressions[1].key".into(), ErrorKind::Invalid),
            ("s.matchExpressions[2].values".into(), ErrorKind::Required),
        ]
    );
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        text[0],
        "s.matchLabels: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    assert_eq!(
        text[1],
        format!(
            "s.matchLabels: Invalid value: \"{}\": must be no more than 63 bytes",
            "x".repeat(64)
        )
    );
    assert_eq!(
        text[2],
        "s.matchExpressions[0].operator: Invalid value: \"Like\": not a valid selector operator"
    );
    assert_eq!(
        text[3],
        "s.matchExpressions[0].key: Invalid value: \"\": name part must be non-empty"
    );
    assert_eq!(
        text[4],
        format!(
            "s.matchExpressions[0].key: Invalid value: \"\": {}",
            up(NAME_PART_REGEX_MSG)
        )
    );
    assert_eq!(
        text[5],
        format!(
            "s.matchExpressions[0].values[0]: Invalid value: \"-bad\": {}",
            up(LABEL_VALUE_REGEX_MSG)
        )
    );
    assert_eq!(
        text[7],
        format!(
            "s.matchExpressions[1].key: Invalid value: \"Example.com/x\": prefix part {}",
            up(SUBDOMAIN_MSG)
        )
    );
}

#[test]
fn qualified_name_rules() {
    assert!(is_qualified_name("a").is_empty());
    assert!(is_qualified_name(&format!("{}/{}", "a".repeat(253), "b".repeat(63))).is_empty());
    assert_eq!(
        is_qualified_name(&"a".repeat(64)),
        ["name part must be no more than 63 bytes",]
    );
    assert_eq!(
        is_qualified_name(&format!("{}/a", "a".repeat(254))),
        ["prefix part must be no more than 253 bytes",]
    );
    assert_eq!(
        is_qualified_name("example.com/"),
        [
            "name part must be non-empty".to_owned(),
            up(NAME_PART_REGEX_MSG),
        ]
    );
    assert_eq!(
        is_qualified_name("/"),
        [
            "prefix part must be non-empty".to_owned(),
            "name part must be non-empty".to_owned(),
            up(NAME_PART_REGEX_MSG),
        ]
    );
}

// ---------------------------------------------------------------- metadata

fn with_meta(meta: Value) -> Vec<String> {
    errors_of(&NetworkPolicy::from_value(&json!({"metadata": meta, "spec": {}})).unwrap())
}

#[test]
fn metadata_rules() {
    assert!(with_meta(json!({"name": "a.b-c", "namespace": "x-1"})).is_empty());
    // No namespace: the request's (default) namespace is used.
    assert!(with_meta(json!({"name": "a"})).is_empty());
    assert!(with_meta(json!({"generateName": "web-"})).is_empty());
    assert_eq!(
        with_meta(json!({"namespace": "x"})),
        ["metadata.name: Required value: name or generateName is required"]
    );
    assert_eq!(
        with_meta(json!({"name": "A", "namespace": "a.b"})),
        [
            format!("metadata.name: Invalid value: \"A\": {}", up(SUBDOMAIN_MSG)),
            "metadata.namespace: Invalid value: \"a.b\": must not contain dots".to_owned(),
        ]
    );
    assert_eq!(
        with_meta(json!({"name": "a".repeat(254)})),
        [format!(
            "metadata.name: Invalid value: \"{}\": must be no more than 253 characters",
            "a".repeat(254)
        ),]
    );
    assert_eq!(
        with_meta(json!({"name": "a", "namespace": "N".repeat(64)})),
        [
            format!(
                "metadata.namespace: Invalid value: \"{}\": must be no more than 63 characters",
                "N".repeat(64)
            ),
            format!(
                "metadata.namespace: Invalid value: \"{}\": {}",
                "N".repeat(64),
                up(LABEL_MSG)
            ),
        ]
    );
    assert!(is_dns1123_label("a-1").is_empty());
    assert!(is_dns1123_subdomain("a.b").is_empty());
    // A bad generateName: reported for the prefix and for the name generated from it.
    assert_eq!(
        with_meta(json!({"generateName": "Web-"})),
        [
            format!(
                "metadata.generateName: Invalid value: \"Web-\": {}",
                up(SUBDOMAIN_MSG)
            ),
            format!(
                "metadata.name: Invalid value: \"Web-xxxxx\": {}",
                up(SUBDOMAIN_MSG)
            ),
        ]
    );
    // On create the apiserver sets `generation` to 1 before validating
    // (networkpolicy strategy `PrepareForCreate`, called by `rest.BeforeCreate`), so a
    // negative one written in the manifest never reaches `ValidateObjectMeta`.
    assert!(with_meta(json!({"name": "a", "generation": -1})).is_empty());
}

#[test]
fn labels_and_annotations_rules() {
    assert_eq!(
        with_meta(json!({"name": "a", "labels": {"b": "-", "a b": "ok"}})),
        [
            format!(
                "metadata.labels: Invalid value: \"a b\": {}",
                up(NAME_PART_REGEX_MSG)
            ),
            format!(
                "metadata.labels: Invalid value: \"-\": {}",
                up(LABEL_VALUE_REGEX_MSG)
            ),
        ]
    );
    // Annotation keys are compared lowercased, values are free.
    assert!(
        with_meta(json!({"name": "a", "annotations": {"Example.COM/Key": "anything at all\n"}}))
            .is_empty()
    );
    assert_eq!(
        with_meta(json!({"name": "a", "annotations": {"a/b/c": ""}})).len(),
        1
    );
    let big = "x".repeat(256 * 1024);
    assert_eq!(
        with_meta(json!({"name": "a", "annotations": {"k": big}})),
        ["metadata.annotations: Too long: may not be more than 262144 bytes",]
    );
    let just = "x".repeat(256 * 1024 - 1);
    assert!(with_meta(json!({"name": "a", "annotations": {"k": just}})).is_empty());
}

#[test]
fn errors_come_in_the_apiservers_order() {
    let p = NetworkPolicy::from_value(&json!({
        "metadata": {"name": "A", "namespace": "ns"},
        "spec": {
            "podSelector": {"matchLabels": {"k": "-"}},
            "policyTypes": ["X"],
            "egress": [{"to": [{}], "ports": [{"port": 0}]}],
            "ingress": [{"from": [{}], "ports": [{"protocol": "Y"}]}],
        }
    }))
    .unwrap();
    let fields: Vec<String> = validate_network_policy(&p)
        .unwrap_err()
        .errors()
        .iter()
        .map(|e| e.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "metadata.name",
            "spec.podSelector.matchLabels",
            "spec.ingress[0].ports[0].protocol",
            "spec.ingress[0].from[0]",
            "spec.egress[0].ports[0].port",
            "spec.egress[0].to[0]",
            "spec.policyTypes[0]",
        ]
    );
}

#[test]
fn values_are_quoted_like_go() {
    let errs = spec_errors(json!({"ingress": [{"ports": [{"protocol": "a\"b\\\u{1}\u{a0}é"}]}]}));
    assert_eq!(
        errs,
        [
            r#"spec.ingress[0].ports[0].protocol: Unsupported value: "a\"b\\\x01\u00a0é": supported values: "TCP", "UDP", "SCTP""#
        ]
    );
}

#[test]
fn aggregate_display_deduplicates_like_upstream() {
    let errs = validate_network_policy(
        &NetworkPolicy::from_value(&json!({
            "metadata": {"name": "a", "labels": {"x": "-", "y": "-"}}, "spec": {}
        }))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(errs.errors().len(), 2);
    assert!(!errs.to_string().starts_with('['));
}

#[test]
fn parse_cidr_agrees_with_validation() {
    for ok in [
        "10.244.1.1/4",
        "010.0.0.0/8",
        "10.0.0.0/008",
        "::ffff:10.0.0.0/104",
        "2001:DB8::/32",
    ] {
        assert!(netpol::policy::parse_cidr(ok).is_ok(), "{ok}");
        assert!(
            validate_ip_block(&IpBlock::new(ok, Vec::<String>::new()), "b").is_empty(),
            "{ok}"
        );
    }
    for bad in ["10.0.0.0/33", "fe80::1%lo/64", "10.0.0.0", "", "1.2.3/8"] {
        assert!(netpol::policy::parse_cidr(bad).is_err(), "{bad}");
    }
}

proptest::proptest! {
    #[test]
    fn cidr_checks_never_panic(cidr in "[0-9a-fA-F:./%x+-]{0,40}|\\PC{0,20}", except in "[0-9a-f:./]{0,40}") {
        let _ = validate_ip_block(&IpBlock::new(cidr.clone(), [except]), "b");
        let _ = netpol::policy::parse_cidr(&cidr);
    }

    #[test]
    fn name_checks_never_panic(s in "\\PC{0,80}") {
        let _ = is_qualified_name(&s);
        let _ = is_valid_label_value(&s);
        let _ = is_dns1123_label(&s);
        let _ = is_dns1123_subdomain(&s);
        let _ = is_valid_port_name(&s);
        let _ = with_meta(json!({"generateName": s, "annotations": {s.clone(): "v"}}));
    }
}

fn meta_errors(metadata: Value) -> Vec<(String, String)> {
    let p = NetworkPolicy::from_value(&json!({"metadata": metadata, "spec": {}})).unwrap();
    match validate_network_policy(&p) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .errors()
            .iter()
            .map(|e| (e.field.clone(), e.detail.clone()))
            .collect(),
    }
}

fn fields(errs: &[(String, String)]) -> Vec<&str> {
    errs.iter().map(|(f, _)| f.as_str()).collect()
}

/// apimachinery `ValidateOwnerReferences` / `validateOwnerReference`: the errors carry
/// the list's path without an index; `dedupOwnerReferences` of the create handler drops
/// exact duplicates first, so two equal controllers are one.
#[test]
fn owner_reference_rules() {
    let good = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "u1"});
    assert!(meta_errors(json!({"name": "p", "ownerReferences": [good]})).is_empty());

    let errs = meta_errors(json!({"name": "p", "ownerReferences": [{}]}));
    assert_eq!(
        fields(&errs),
        [
            "metadata.ownerReferences.apiVersion",
            "metadata.ownerReferences.kind",
            "metadata.ownerReferences.name",
            "metadata.ownerReferences.uid",
        ]
    );
    assert_eq!(errs[0].1, "version must not be empty");
    assert_eq!(errs[1].1, "must not be empty");
    // FromAPIVersionAndKind: "apps/" has no version, "a/b/c" does not parse, "v1" is the
    // core group's version.
    for (api, ok) in [
        ("apps/", false),
        ("a/b/c", false),
        ("/", false),
        ("v1", true),
    ] {
        let r = json!({"apiVersion": api, "kind": "K", "name": "n", "uid": "u"});
        let errs = meta_errors(json!({"name": "p", "ownerReferences": [r]}));
        assert_eq!(errs.is_empty(), ok, "{api}: {errs:?}");
    }
    let event = json!({"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"});
    let errs = meta_errors(json!({"name": "p", "ownerReferences": [event]}));
    assert_eq!(fields(&errs), ["metadata.ownerReferences"]);
    assert_eq!(
        errs[0].1,
        "/v1, Kind=Event is disallowed from being an owner"
    );

    let c1 =
        json!({"apiVersion": "apps/v1", "kind": "A", "name": "a", "uid": "1", "controller": true});
    let c2 =
        json!({"apiVersion": "apps/v1", "kind": "B", "name": "b", "uid": "2", "controller": true});
    let errs = meta_errors(json!({"name": "p", "ownerReferences": [c1, c2]}));
    assert_eq!(fields(&errs), ["metadata.ownerReferences"]);
    assert_eq!(
        errs[0].1,
        "Only one reference can have Controller set to true. Found \"true\" in references for A/a and B/b"
    );
    // An exact duplicate is dropped before validation; one differing only in a pointer
    // field (controller absent vs false) is not a duplicate.
    assert!(meta_errors(json!({"name": "p", "ownerReferences": [c1, c1]})).is_empty());
    let mut c1_same_uid = c1.clone();
    c1_same_uid["blockOwnerDeletion"] = json!(false);
    let errs = meta_errors(json!({"name": "p", "ownerReferences": [c1, c1_same_uid]}));
    assert_eq!(fields(&errs), ["metadata.ownerReferences"]);
}

/// apimachinery `ValidateFinalizers` (qualified names, errors without an index; not both
/// `orphan` and `foregroundDeletion`), then `validateKubeFinalizerName` of
/// `pkg/apis/core/validation` (a name without `/` must be standard; indexed).
#[test]
fn finalizer_rules() {
    let ok = json!({"name": "p", "finalizers": ["example.com/keep", "kubernetes", "orphan"]});
    assert!(meta_errors(ok).is_empty());
    let errs = meta_errors(json!({"name": "p", "finalizers": ["custom"]}));
    assert_eq!(fields(&errs), ["metadata.finalizers[0]"]);
    assert_eq!(
        errs[0].1,
        "name is neither a standard finalizer name nor is it fully qualified"
    );
    let errs = meta_errors(json!({"name": "p", "finalizers": ["orphan", "foregroundDeletion"]}));
    assert_eq!(fields(&errs), ["metadata.finalizers"]);
    assert_eq!(
        errs[0].1,
        "finalizer orphan and foregroundDeletion cannot be both set"
    );
    let errs = meta_errors(json!({"name": "p", "finalizers": ["Bad Name/x"]}));
    assert_eq!(fields(&errs), ["metadata.finalizers"]);
    assert!(
        errs[0]
            .1
            .starts_with("prefix part a lowercase RFC 1123 subdomain")
    );
    // null in the list is "": both checks refuse it, the apimachinery ones first.
    let errs = meta_errors(json!({"name": "p", "finalizers": [null]}));
    assert_eq!(
        fields(&errs),
        [
            "metadata.finalizers",
            "metadata.finalizers",
            "metadata.finalizers[0]"
        ]
    );
}

/// apimachinery `ValidateManagedFields`, on the entries the field manager keeps
/// (`DecodeManagedFields` must read them all, else it writes its own).
#[test]
fn managed_field_rules() {
    let long = "m".repeat(129);
    let entry = |manager: &str, fields_v1: Value| {
        json!({"manager": manager, "operation": "Apply", "apiVersion": "v1",
               "fieldsType": "FieldsV1", "fieldsV1": fields_v1})
    };
    let errs = meta_errors(json!({"name": "p", "managedFields": [entry(&long, json!({}))]}));
    assert_eq!(fields(&errs), ["metadata.managedFields[0].manager"]);
    assert_eq!(errs[0].1, "may not be more than 128 bytes");
    let errs = meta_errors(json!({"name": "p", "managedFields": [entry("a\u{7}b", json!({}))]}));
    assert_eq!(fields(&errs), ["metadata.managedFields[0].manager"]);
    assert!(
        meta_errors(json!({"name": "p", "managedFields": [entry(&"m".repeat(128), json!({}))]}))
            .is_empty()
    );
    // Not readable by the field manager (no field set): replaced, so not validated.
    assert!(
        meta_errors(json!({"name": "p", "managedFields": [entry(&long, json!(null))]})).is_empty()
    );
    let mut bad_op = entry(&long, json!({}));
    bad_op["operation"] = json!("Patch");
    assert!(meta_errors(json!({"name": "p", "managedFields": [bad_op]})).is_empty());
}

/// `NameIsDNSSubdomain` with `prefix`: `maskTrailingDash` replaces the last two bytes
/// with `a`.
#[test]
fn generate_name_masks_two_bytes() {
    assert!(meta_errors(json!({"name": "p", "generateName": "--"})).is_empty());
    assert!(meta_errors(json!({"name": "p", "generateName": "web-"})).is_empty());
    // "a.-" masks to "aa": valid; "a-.-" masks to "a-a": valid; "-a-" masks to "-a".
    assert!(meta_errors(json!({"name": "p", "generateName": "a.-"})).is_empty());
    let errs = meta_errors(json!({"name": "p", "generateName": "-a-"}));
    assert_eq!(fields(&errs), ["metadata.generateName"]);
    let errs = meta_errors(json!({"name": "p", "generateName": "-"}));
    assert_eq!(fields(&errs), ["metadata.generateName"]);
    // A cut through a two-byte character is refused, as Go's broken bytes are.
    let errs = meta_errors(json!({"name": "p", "generateName": "aé-"}));
    assert_eq!(fields(&errs), ["metadata.generateName"]);
}

/// etcd3 `store.Create`: a `resourceVersion` that `strconv.ParseUint` reads as non-zero
/// is `ErrResourceVersionSetOnCreate`, checked only after validation passed. Validation
/// itself accepts it (an object read back from a cluster carries one).
#[test]
fn resource_version_on_create() {
    fn create_errors(metadata: Value) -> Vec<(String, String)> {
        let errs = meta_errors(metadata.clone());
        if !errs.is_empty() {
            return errs;
        }
        let p = NetworkPolicy::from_value(&json!({"metadata": metadata, "spec": {}})).unwrap();
        validate_resource_version_on_create(&p.metadata, "metadata")
            .map(|e| (e.field, e.detail))
            .into_iter()
            .collect()
    }
    assert!(meta_errors(json!({"name": "p", "resourceVersion": "90288"})).is_empty());
    for (rv, refused) in [
        ("1", true),
        ("007", true),
        ("0", false),
        ("00", false),
        ("abc", false),
        ("-1", false),
        ("+1", false),
        ("18446744073709551615", true),
        ("18446744073709551616", false),
    ] {
        let errs = create_errors(json!({"name": "p", "resourceVersion": rv}));
        assert_eq!(
            fields(&errs),
            if refused {
                vec!["metadata.resourceVersion"]
            } else {
                vec![]
            },
            "{rv}"
        );
    }
    // Validation errors come first and alone.
    let errs = create_errors(json!({"name": "P", "resourceVersion": "5"}));
    assert_eq!(fields(&errs), ["metadata.name"]);
}
