//! Calico's validation rules, one refused case and one accepted case at the edge per rule.

use netpol::calico::{
    GlobalNetworkPolicy, GlobalNetworkSet, NetworkPolicy, NetworkSet, Tier,
    validate_global_network_policy, validate_global_network_set, validate_network_policy,
    validate_network_set, validate_tier,
};
use netpol::model::{PolicyObject, decode_policy_objects};
use netpol::validate::ValidationErrors;
use serde_json::{Value, json};

fn check(doc: &Value) -> Result<(), ValidationErrors> {
    let objs = decode_policy_objects(&doc.to_string()).expect("decodes");
    assert_eq!(objs.len(), 1);
    match objs.into_iter().next().unwrap() {
        PolicyObject::CalicoNetworkPolicy(p) => validate_network_policy(&p),
        PolicyObject::GlobalNetworkPolicy(p) => validate_global_network_policy(&p),
        PolicyObject::NetworkSet(s) => validate_network_set(&s),
        PolicyObject::GlobalNetworkSet(s) => validate_global_network_set(&s),
        PolicyObject::Tier(t) => validate_tier(&t),
        other => panic!("not a Calico object: {other:?}"),
    }
}

fn np(spec: Value) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": "a"}, "spec": spec})
}

fn np_v1(spec: Value) -> Value {
    json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": "a"}, "spec": spec})
}

fn gnp(spec: Value) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
           "metadata": {"name": "g"}, "spec": spec})
}

fn ingress(rule: Value) -> Value {
    np(json!({"ingress": [rule]}))
}

/// `doc` is refused with an error at `field` whose message contains `message`.
#[track_caller]
fn refused(doc: Value, field: &str, message: &str) {
    let errs = check(&doc).expect_err("should be refused");
    assert!(
        errs.errors()
            .iter()
            .any(|e| e.field == field && e.to_string().contains(message)),
        "no error at {field} with {message:?}: {errs}"
    );
}

#[track_caller]
fn accepted(doc: Value) {
    if let Err(e) = check(&doc) {
        panic!("should be accepted: {e}\n{doc}");
    }
}

fn meta(kind: &str, name: &str, ns: Option<&str>, spec: Value) -> Value {
    let mut m = json!({"name": name});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    json!({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": m, "spec": spec})
}

#[test]
fn policy_names() {
    const MSG: &str = "name must consist of lower case alphanumeric characters or '-'";
    refused(
        meta("NetworkPolicy", "a.b.c", Some("x"), json!({})),
        "metadata.name",
        MSG,
    );
    accepted(meta("NetworkPolicy", "a.b", Some("x"), json!({})));
    accepted(meta(
        "NetworkPolicy",
        "knp.default.a.b.c",
        Some("x"),
        json!({}),
    ));
    refused(
        meta("GlobalNetworkPolicy", "knp.default.a", None, json!({})),
        "metadata.name",
        MSG,
    );
    accepted(meta("GlobalNetworkPolicy", "a.b", None, json!({})));
    refused(meta("Tier", "a.b", None, json!({})), "metadata.name", MSG);
    refused(
        meta("Tier", &"t".repeat(64), None, json!({})),
        "metadata.name",
        "name is too long by 1 bytes",
    );
    accepted(meta("Tier", &"t".repeat(63), None, json!({})));
    refused(
        meta("NetworkSet", "A", Some("x"), json!({})),
        "metadata.name",
        "'-' or '.'",
    );
    accepted(meta("NetworkSet", "a.b.c", Some("x"), json!({})));
    refused(
        meta("NetworkPolicy", "p", Some("Bad"), json!({})),
        "metadata.namespace",
        "RFC 1123",
    );
    // A cluster-scoped object's namespace is ignored.
    accepted(meta("GlobalNetworkPolicy", "p", Some("Bad"), json!({})));
}

#[test]
fn reserved_network_set_label() {
    let mut doc = meta(
        "GlobalNetworkSet",
        "s",
        None,
        json!({"nets": ["10.0.0.0/8"]}),
    );
    doc["metadata"]["labels"] = json!({"projectcalico.org/namespace": "x"});
    refused(
        doc.clone(),
        "metadata.labels",
        "projectcalico.org/namespace is not a valid label name",
    );
    doc["metadata"]["labels"] = json!({"projectcalico.org/name": "x"});
    accepted(doc);
}

#[test]
fn tier_field() {
    refused(np(json!({"tier": "Bad_Tier"})), "spec.tier", "Tag: name");
    accepted(np(json!({"tier": "security.zone"})));
    accepted(np(json!({"tier": ""})));
}

#[test]
fn selectors_parse_and_global() {
    refused(
        np(json!({"selector": "a = 'b'"})),
        "spec.selector",
        "Tag: selector",
    );
    refused(
        np(json!({"selector": "a == 'b'\n"})),
        "spec.selector",
        "Tag: selector",
    );
    accepted(np(json!({"selector": " a == 'b' "})));
    refused(
        np(json!({"serviceAccountSelector": "has("})),
        "spec.serviceAccountSelector",
        "Tag: selector",
    );
    refused(
        gnp(json!({"namespaceSelector": "!"})),
        "spec.namespaceSelector",
        "Tag: selector",
    );
    refused(
        np(json!({"selector": "global()"})),
        "spec.selector",
        "global() can only be used in an EntityRule namespaceSelector",
    );
    refused(
        np(json!({"selector": "a == 'global('"})),
        "spec.selector",
        "global() can only be used",
    );
    refused(
        gnp(json!({"namespaceSelector": "global()"})),
        "spec.namespaceSelector",
        "global() can only be used",
    );
    let long = format!("a == '{}'", "x".repeat(1020));
    assert_eq!(long.len(), 1027);
    refused(np(json!({"selector": long})), "spec.selector", "Too long");
    accepted(np(
        json!({"selector": format!("a == '{}'", "x".repeat(1017))}),
    ));
}

#[test]
fn rule_selectors() {
    refused(
        ingress(json!({"action": "Allow", "source": {"selector": "a ="}})),
        "spec.ingress[0].source.selector",
        "Tag: selector",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"notSelector": "("}})),
        "spec.ingress[0].source.notSelector",
        "Field: NotSelector",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"selector": "global()"}})),
        "spec.ingress[0].source.selector",
        "global() can only be used",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"namespaceSelector": "global() && has(a)"}})),
        "spec.ingress[0].source.namespaceSelector",
        "global() cannot be combined with other selectors",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"namespaceSelector": "(global())"}})),
        "spec.ingress[0].source.namespaceSelector",
        "global() cannot be combined",
    );
    accepted(ingress(
        json!({"action": "Allow", "source": {"namespaceSelector": " global( ) "}}),
    ));
    refused(
        ingress(json!({"action": "Allow", "source": {"serviceAccounts": {"selector": "x =="}}})),
        "spec.ingress[0].source.serviceAccounts.selector",
        "Tag: selector",
    );
    // A key that no longer parses once prefixed with pcns.
    let key = "k".repeat(508);
    refused(
        ingress(json!({"action": "Allow", "source": {"namespaceSelector": format!("has({key})")}})),
        "spec.ingress[0].source.namespaceSelector",
        "too long once Calico prefixes it",
    );
    accepted(ingress(
        json!({"action": "Allow", "source": {"namespaceSelector": format!("has({})", "k".repeat(507))}}),
    ));
}

#[test]
fn types() {
    refused(
        np(json!({"types": ["ingress"]})),
        "spec.types[0]",
        "Unsupported value",
    );
    refused(
        np(json!({"types": ["Ingress", "Ingress"]})),
        "spec.types",
        "'Ingress' type specified more than once",
    );
    refused(
        np(json!({"types": ["Ingress", "Ingress"]})),
        "spec.types[1]",
        "Duplicate value",
    );
    refused(
        np(json!({"types": ["Ingress", "Egress", "Egress"]})),
        "spec.types",
        "Too many",
    );
    accepted(np(json!({"types": ["Egress", "Ingress"]})));
    // An empty list: defaulted on v3, refused by the CRD on v1.
    accepted(np(json!({"types": []})));
    refused(
        np_v1(json!({"types": []})),
        "spec.types",
        "should have at least 1 items",
    );
    accepted(np_v1(json!({"types": ["Egress"]})));
}

#[test]
fn performance_hints() {
    refused(
        np(json!({"performanceHints": ["Fast"]})),
        "spec.performanceHints[0]",
        "Unsupported value",
    );
    refused(
        np(json!({"performanceHints": ["AssumeNeededOnEveryNode", "AssumeNeededOnEveryNode"]})),
        "spec.performanceHints[1]",
        "Duplicate value",
    );
    accepted(np(json!({"performanceHints": ["AssumeNeededOnEveryNode"]})));
}

#[test]
fn actions_and_ip_version() {
    refused(
        ingress(json!({})),
        "spec.ingress[0].action",
        "Required value",
    );
    refused(
        ingress(json!({"action": "allow"})),
        "spec.ingress[0].action",
        "Unsupported value",
    );
    for a in ["Allow", "Deny", "Log", "Pass"] {
        accepted(ingress(json!({"action": a})));
    }
    refused(
        ingress(json!({"action": "Deny", "ipVersion": 5})),
        "spec.ingress[0].ipVersion",
        "Unsupported value",
    );
    accepted(ingress(json!({"action": "Deny", "ipVersion": 6})));
}

#[test]
fn protocols() {
    refused(
        ingress(json!({"action": "Deny", "protocol": "tcp"})),
        "spec.ingress[0].protocol",
        "protocol name invalid",
    );
    refused(
        ingress(json!({"action": "Deny", "protocol": 0})),
        "spec.ingress[0].protocol",
        "protocol number invalid",
    );
    refused(
        ingress(json!({"action": "Deny", "notProtocol": "0"})),
        "spec.ingress[0].notProtocol",
        "protocol number invalid",
    );
    refused(
        ingress(json!({"action": "Deny", "protocol": 256})),
        "spec.ingress[0].protocol",
        "into Go value of type uint8",
    );
    for ok in [
        json!(255),
        json!("255"),
        json!("UDPLite"),
        json!("ICMPv6"),
        json!(1),
    ] {
        accepted(ingress(json!({"action": "Deny", "protocol": ok})));
    }
}

#[test]
fn ports_need_a_protocol_with_ports() {
    refused(
        ingress(json!({"action": "Allow", "destination": {"ports": [80]}})),
        "spec.ingress[0].destination.ports",
        "rules with numeric port or port range must set protocol to TCP or UDP or SCTP",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"notPorts": ["1:2"]}})),
        "spec.ingress[0].source.notPorts",
        "rules with numeric port or port range",
    );
    accepted(ingress(
        json!({"action": "Allow", "destination": {"ports": ["http", "dns"]}}),
    ));
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "destination": {"ports": ["http"]}})),
        "spec.ingress[0].destination.ports",
        "rules that specify ports must set protocol to TCP or UDP or SCTP",
    );
    refused(
        ingress(
            json!({"action": "Allow", "protocol": "UDPLite", "destination": {"notPorts": [53]}}),
        ),
        "spec.ingress[0].destination.notPorts",
        "rules that specify ports must set protocol",
    );
    for p in [
        json!("TCP"),
        json!("UDP"),
        json!("SCTP"),
        json!(6),
        json!("17"),
        json!(132),
    ] {
        accepted(ingress(
            json!({"action": "Allow", "protocol": p, "destination": {"ports": [1, "65535", "1:65535"]}}),
        ));
    }
}

#[test]
fn port_entries() {
    let with = |port: Value| {
        ingress(json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": [port]}}))
    };
    refused(
        with(json!(0)),
        "spec.ingress[0].destination.ports[0]",
        "port number must be between 1 and 65535",
    );
    refused(
        with(json!("0:5")),
        "spec.ingress[0].destination.ports[0]",
        "port number must be between 1 and 65535",
    );
    refused(
        with(json!("65536")),
        "spec.ingress[0].destination.ports[0]",
        "invalid port format (65536)",
    );
    refused(
        with(json!(65536)),
        "spec.ingress[0].destination.ports[0]",
        "type uint16",
    );
    refused(
        with(json!("9:1")),
        "spec.ingress[0].destination.ports[0]",
        "minimum port number (9) is greater than maximum port number (1)",
    );
    refused(
        with(json!("1:70000")),
        "spec.ingress[0].destination.ports[0]",
        "invalid maximum port number in range",
    );
    refused(
        with(json!("a b")),
        "spec.ingress[0].destination.ports[0]",
        "invalid name for named port (a b)",
    );
    refused(
        with(json!("HTTP")),
        "spec.ingress[0].destination.ports[0]",
        "Tag: portName",
    );
    refused(
        with(json!("sixteen-chars-xx")),
        "spec.ingress[0].destination.ports[0]",
        "Tag: portName",
    );
    accepted(with(json!("fifteen-chars-x")));
    accepted(with(json!("7:7")));
    let many: Vec<u16> = (1..=51).collect();
    refused(
        ingress(json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": many}})),
        "spec.ingress[0].destination.ports",
        "Too many",
    );
    let fifty: Vec<u16> = (1..=50).collect();
    accepted(ingress(
        json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": fifty}}),
    ));
}

#[test]
fn nets() {
    let src = |nets: Value| ingress(json!({"action": "Allow", "source": {"nets": nets}}));
    refused(
        src(json!(["10.0.0.1/8"])),
        "spec.ingress[0].source.nets[0]",
        "Tag: net",
    );
    refused(
        src(json!(["10.0.0.1"])),
        "spec.ingress[0].source.nets[0]",
        "invalid CIDR",
    );
    refused(
        src(json!(["010.0.0.0/8"])),
        "spec.ingress[0].source.nets[0]",
        "invalid CIDR",
    );
    refused(
        src(json!(["10.0.0.0/8", "10.0.0.0/8"])),
        "spec.ingress[0].source.nets[1]",
        "Duplicate value",
    );
    refused(
        src(json!(["10.0.0.0/8", "fd00::/8"])),
        "spec.ingress[0].source.nets",
        "rule contains both IPv4 and IPv6 CIDRs",
    );
    accepted(src(json!(["10.0.0.0/08", "10.0.0.1/32"])));
    refused(
        ingress(
            json!({"action": "Allow", "source": {"nets": ["10.0.0.0/8"]}, "destination": {"notNets": ["fd00::/8"]}}),
        ),
        "spec.ingress[0].destination.notNets",
        "rule contains both IPv4 and IPv6 CIDRs",
    );
    refused(
        ingress(json!({"action": "Allow", "ipVersion": 6, "source": {"nets": ["10.0.0.0/8"]}})),
        "spec.ingress[0].source.nets",
        "rule IP version doesn't match CIDR version",
    );
    accepted(ingress(
        json!({"action": "Allow", "ipVersion": 4, "source": {"nets": ["10.0.0.0/8"]}}),
    ));
    let not = |nets: Value| ingress(json!({"action": "Allow", "source": {"notNets": nets}}));
    refused(
        not(json!(["0.0.0.0/0"])),
        "spec.ingress[0].source.notNets[0]",
        "catch-all CIDR in negation",
    );
    refused(
        not(json!(["0::/0"])),
        "spec.ingress[0].source.notNets[0]",
        "catch-all CIDR in negation",
    );
    // Calico compares the IPv4 catch-all as text.
    accepted(not(json!(["0.0.0.0/00"])));
    accepted(not(json!(["0.0.0.0/1"])));
    let many: Vec<String> = (0..257)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    refused(src(json!(many)), "spec.ingress[0].source.nets", "Too many");
}

#[test]
fn icmp() {
    refused(
        ingress(json!({"action": "Allow", "icmp": {"type": 8}})),
        "spec.ingress[0].icmp",
        "ICMP fields require protocol to be ICMP or ICMPv6",
    );
    refused(
        ingress(json!({"action": "Allow", "protocol": "TCP", "icmp": {"type": 8}})),
        "spec.ingress[0].icmp",
        "ICMP fields require protocol",
    );
    accepted(ingress(
        json!({"action": "Allow", "protocol": 58, "icmp": {"type": 128}}),
    ));
    // notICMP is not tied to the protocol.
    accepted(ingress(json!({"action": "Allow", "notICMP": {"type": 8}})));
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 255}})),
        "spec.ingress[0].icmp.type",
        "less than or equal to 254",
    );
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"type": -1}})),
        "spec.ingress[0].icmp.type",
        "greater than or equal to 0",
    );
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 3, "code": 256}})),
        "spec.ingress[0].icmp.code",
        "less than or equal to 255",
    );
    accepted(ingress(
        json!({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 254, "code": 255}}),
    ));
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "icmp": {"code": 3}})),
        "spec.ingress[0].icmp.code",
        "ICMP code specified without an ICMP type",
    );
    refused(
        ingress(json!({"action": "Allow", "notICMP": {"code": 3}})),
        "spec.ingress[0].notICMP.code",
        "ICMP code specified without an ICMP type",
    );
    refused(
        ingress(json!({"action": "Allow", "protocol": "ICMP", "ipVersion": 6})),
        "spec.ingress[0].ipVersion",
        "protocol ICMP requires ipVersion 4",
    );
    refused(
        ingress(json!({"action": "Allow", "notProtocol": 58, "ipVersion": 4})),
        "spec.ingress[0].ipVersion",
        "protocol ICMPv6 requires ipVersion 6",
    );
    accepted(ingress(
        json!({"action": "Allow", "protocol": "ICMPv6", "ipVersion": 6}),
    ));
    // "1" is the number 1 once Calico re-encodes a v3 object, a string for a v1 one.
    accepted(ingress(
        json!({"action": "Allow", "protocol": "1", "icmp": {"type": 8}}),
    ));
    refused(
        np_v1(json!({"ingress": [{"action": "Allow", "protocol": "1", "icmp": {"type": 8}}]})),
        "spec.ingress[0].icmp",
        "ICMP fields require protocol",
    );
}

#[test]
fn http() {
    refused(
        ingress(json!({"action": "Deny", "http": {"methods": ["GET"]}})),
        "spec.ingress[0].http",
        "HTTP match is only valid on Allow rules",
    );
    refused(
        ingress(json!({"action": "Allow", "protocol": "UDP", "http": {}})),
        "spec.ingress[0].http",
        "rules with HTTP match must have protocol TCP or unset",
    );
    accepted(ingress(
        json!({"action": "Allow", "protocol": 6, "http": {"methods": ["GET", "PUT"], "paths": [{"exact": "/a"}, {"prefix": "/b"}]}}),
    ));
    refused(
        ingress(json!({"action": "Allow", "http": {"methods": ["GET", "GET"]}})),
        "spec.ingress[0].http.methods",
        "Invalid methods (duplicates)",
    );
    refused(
        ingress(json!({"action": "Allow", "http": {"paths": [{"exact": "/a", "prefix": "/b"}]}})),
        "spec.ingress[0].http.paths",
        "Both 'exact' and 'prefix' are set",
    );
    refused(
        ingress(json!({"action": "Allow", "http": {"paths": [{}]}})),
        "spec.ingress[0].http.paths",
        "Either 'exact' or 'prefix' must be set",
    );
    refused(
        ingress(json!({"action": "Allow", "http": {"paths": [{"exact": "/a?b"}]}})),
        "spec.ingress[0].http.paths",
        "must start with `/`",
    );
    refused(
        ingress(json!({"action": "Allow", "http": {"paths": [{"prefix": "a"}]}})),
        "spec.ingress[0].http.paths",
        "must start with `/`",
    );
    refused(
        np(json!({"egress": [{"action": "Allow", "http": {}}]})),
        "spec.egress[0].http",
        "not allowed in egress rule",
    );
    refused(
        gnp(json!({"egress": [{"action": "Allow", "http": {}}]})),
        "spec.egress[0].http",
        "not allowed in egress rules",
    );
}

#[test]
fn services() {
    refused(
        np(json!({"egress": [{"action": "Allow", "source": {"services": {"name": "s"}}}]})),
        "spec.egress[0].source.services",
        "not allowed in egress rule source",
    );
    refused(
        ingress(json!({"action": "Allow", "destination": {"services": {"name": "s"}}})),
        "spec.ingress[0].destination.services",
        "not allowed in ingress rule destination",
    );
    accepted(ingress(
        json!({"action": "Allow", "source": {"services": {"name": "s"}}}),
    ));
    refused(
        ingress(json!({"action": "Allow", "source": {"services": {"namespace": "x"}}})),
        "spec.ingress[0].source.services.name",
        "services must specify a service name",
    );
    refused(
        ingress(
            json!({"action": "Allow", "source": {"services": {"name": "s"}, "selector": "a == 'b'"}}),
        ),
        "spec.ingress[0].source.selector",
        "cannot specify Selector/NotSelector and Services on the same rule",
    );
    refused(
        ingress(
            json!({"action": "Allow", "source": {"services": {"name": "s"}, "namespaceSelector": "all()"}}),
        ),
        "spec.ingress[0].source.namespaceSelector",
        "cannot specify NamespaceSelector and Services",
    );
    refused(
        ingress(
            json!({"action": "Allow", "source": {"services": {"name": "s"}, "notNets": ["10.0.0.0/8"]}}),
        ),
        "spec.ingress[0].source.notNets",
        "cannot specify Nets/NotNets and Services",
    );
    refused(
        ingress(
            json!({"action": "Allow", "source": {"services": {"name": "s"}, "serviceAccounts": {}}}),
        ),
        "spec.ingress[0].source.serviceAccounts",
        "cannot specify ServiceAccounts and Services",
    );
    refused(
        ingress(json!({"action": "Allow", "source": {"services": {"name": "S"}}})),
        "spec.ingress[0].source.services.name",
        "Tag: name",
    );
    refused(
        np(
            json!({"egress": [{"action": "Allow", "protocol": "TCP", "destination": {"services": {"name": "s"}, "ports": [80]}}]}),
        ),
        "spec.egress[0].destination.ports",
        "ports and notPorts cannot be specified with services",
    );
    accepted(np(
        json!({"egress": [{"action": "Allow", "protocol": "TCP", "destination": {"services": {"name": "s"}}, "source": {"ports": [80]}}]}),
    ));
    refused(
        gnp(json!({"egress": [{"action": "Allow", "destination": {"services": {"name": "s"}}}]})),
        "spec.egress[0].destination.services.namespace",
        "must specify a namespace",
    );
    accepted(gnp(
        json!({"egress": [{"action": "Allow", "destination": {"services": {"name": "s", "namespace": "x"}}}]}),
    ));
}

#[test]
fn rule_metadata() {
    refused(
        ingress(json!({"action": "Allow", "metadata": {"annotations": {"bad key!": "x"}}})),
        "spec.ingress[0].metadata.annotations",
        "name part must consist of",
    );
    accepted(ingress(
        json!({"action": "Allow", "metadata": {"annotations": {"Example.com/Owner": "x"}}}),
    ));
}

#[test]
fn host_endpoint_options() {
    refused(
        gnp(json!({"doNotTrack": true})),
        "spec.applyOnForward",
        "applyOnForward must be true if either preDNAT or doNotTrack is true",
    );
    accepted(gnp(json!({"doNotTrack": true, "applyOnForward": true})));
    refused(
        gnp(json!({"doNotTrack": true, "preDNAT": true, "applyOnForward": true})),
        "spec.preDNAT",
        "preDNAT and doNotTrack cannot both be true",
    );
    refused(
        gnp(json!({"preDNAT": true, "applyOnForward": true, "egress": [{"action": "Deny"}]})),
        "spec.egress",
        "preDNAT policy cannot have any egress rules",
    );
    refused(
        gnp(json!({"preDNAT": true, "applyOnForward": true, "types": ["Ingress", "Egress"]})),
        "spec.types",
        "preDNAT policy cannot have 'Egress' type",
    );
    accepted(gnp(
        json!({"preDNAT": true, "applyOnForward": true, "ingress": [{"action": "Deny"}], "egress": []}),
    ));
}

#[test]
fn rule_counts() {
    let rules: Vec<Value> = (0..1025).map(|_| json!({"action": "Deny"})).collect();
    refused(np(json!({"egress": rules})), "spec.egress", "Too many");
    let rules: Vec<Value> = (0..1024).map(|_| json!({"action": "Deny"})).collect();
    accepted(np(json!({"egress": rules})));
}

#[test]
fn network_sets() {
    let set = |nets: Value| meta("NetworkSet", "s", Some("a"), json!({"nets": nets}));
    accepted(set(json!([
        "10.0.0.1",
        "10.1.2.3/8",
        "fd00::1",
        "::ffff:10.0.0.1/120"
    ])));
    refused(set(json!(["10.0.0.0/33"])), "spec.nets[0]", "Tag: cidr");
    refused(set(json!(["010.0.0.1"])), "spec.nets[0]", "Tag: cidr");
    refused(
        set(json!(["10.0.0.0/8", "10.0.0.0/8"])),
        "spec.nets[1]",
        "Duplicate value",
    );
}

#[test]
fn tiers() {
    let tier = |name: &str, spec: Value| meta("Tier", name, None, spec);
    refused(
        tier("t", json!({"defaultAction": "Allow"})),
        "spec.defaultAction",
        "Unsupported value",
    );
    accepted(tier("t", json!({"defaultAction": "Pass"})));
    accepted(tier("t", json!({})));
    refused(
        tier("default", json!({"order": 5})),
        "spec.order",
        "default tier order must be 1000000",
    );
    refused(
        tier("default", json!({"defaultAction": "Pass"})),
        "spec.defaultAction",
        "The 'default' tier must have default action 'Deny'",
    );
    accepted(tier(
        "default",
        json!({"order": 1e6, "defaultAction": "Deny"}),
    ));
    // v3: Calico's client fills in the order first; v1: the CRD sees none.
    accepted(tier("default", json!({})));
    let mut v1 = tier("default", json!({}));
    v1["apiVersion"] = json!("crd.projectcalico.org/v1");
    refused(v1, "spec.order", "default tier order must be 1000000");
    refused(
        tier("kube-admin", json!({"order": 1000})),
        "spec.defaultAction",
        "The 'kube-admin' tier must have default action 'Pass'",
    );
    accepted(tier(
        "kube-admin",
        json!({"order": 1000, "defaultAction": "Pass"}),
    ));
    refused(
        tier(
            "kube-baseline",
            json!({"order": 1000, "defaultAction": "Pass"}),
        ),
        "spec.order",
        "kube-baseline tier order must be 10000000",
    );
    accepted(tier(
        "kube-baseline",
        json!({"order": 1e7, "defaultAction": "Pass"}),
    ));
}

#[test]
fn order_is_unconstrained_but_finite() {
    accepted(np(json!({"order": -1.5})));
    let mut p = NetworkPolicy::new("a", "b");
    p.spec.as_mut().unwrap().order = Some(f64::NAN);
    assert_eq!(
        validate_network_policy(&p).unwrap_err().errors()[0].field,
        "spec.order"
    );
    let mut g = GlobalNetworkPolicy::new("g");
    g.spec.as_mut().unwrap().order = Some(f64::INFINITY);
    assert!(validate_global_network_policy(&g).is_err());
    let t = Tier::new("t", f64::NAN, "Deny");
    assert!(validate_tier(&t).is_err());
    assert!(validate_network_set(&NetworkSet::new("a", "b", ["10.0.0.0/8"])).is_ok());
    assert!(validate_global_network_set(&GlobalNetworkSet::new("b", ["x"])).is_err());
}

#[test]
fn blocking_schema_errors_skip_the_cel_rules() {
    let errs = check(&ingress(json!({"action": "Nope", "icmp": {"type": 1}}))).unwrap_err();
    let fields: Vec<&str> = errs.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["spec.ingress[0].action", "<nil>"]);
}
