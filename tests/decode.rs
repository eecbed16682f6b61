//! Decoding as the apiserver decodes, one test per class of difference from serde's
//! derived rules. Each test names the apiserver's outcome and the Go code that decides
//! it: Go's `encoding/json` as vendored in sigs.k8s.io/json
//! (`internal/golang/encoding/json/decode.go`: `indirect`, `array`, `object`,
//! `literalStore`, `unquote`), apimachinery's `metav1.Time.UnmarshalJSON`
//! (`pkg/apis/meta/v1/time.go`), `intstr.IntOrString.UnmarshalJSON`
//! (`pkg/util/intstr/intstr.go`), `FieldsV1.UnmarshalJSON` (`pkg/apis/meta/v1/helpers.go`)
//! and the codec's kind check (`runtime/serializer/json/json.go` `Serializer.Decode`,
//! `meta.go` `SimpleMetaFactory.Interpret`, `schema.ParseGroupVersion`).

use std::net::IpAddr;

use netpol::cluster::{Cluster, Endpoint, Flow, PodSpec};
use netpol::engine::Engine;
use netpol::model::{
    DecodeError, IntOrString, LabelSelector, NetworkPolicy, NetworkPolicyIngressRule,
    NetworkPolicyList, NetworkPolicyPort, ObjectMeta, decode_policies,
};
use netpol::policy::{Policy, Protocol};
use netpol::service::{Service, TargetPort};
use netpol::validate::validate_network_policy;
use serde_json::{Value, json};

fn policy(spec: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "x"},
        "spec": spec,
    })
}

fn decode(v: &Value) -> Result<NetworkPolicy, DecodeError> {
    NetworkPolicy::from_value(v)
}

fn refused(v: &Value) -> DecodeError {
    match decode(v) {
        Ok(p) => panic!("decoded, but the apiserver refuses it: {v}\n{p:?}"),
        Err(e) => e,
    }
}

fn field_errors(p: &NetworkPolicy) -> Vec<String> {
    match validate_network_policy(p) {
        Ok(()) => Vec::new(),
        Err(e) => e.errors().iter().map(|e| e.field.clone()).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// 1. null is the zero value
// ---------------------------------------------------------------------------------------

/// `ingress: [null]`: `array` decodes each element into a fresh zero element and
/// `literalStore` ignores `null` for a struct, so the rule is `NetworkPolicyIngressRule{}`,
/// which allows all ingress. Apiserver: accepted, allow-all.
#[test]
fn null_rule_is_the_empty_rule_and_allows_all_ingress() {
    let p = decode(&policy(json!({"podSelector": {}, "ingress": [null]}))).unwrap();
    assert_eq!(
        p.spec.ingress,
        Some(vec![NetworkPolicyIngressRule::default()])
    );
    let explicit = decode(&policy(json!({"podSelector": {}, "ingress": [{}]}))).unwrap();
    assert_eq!(p, explicit);

    let cluster = Cluster::builder()
        .pod(PodSpec::new("x", "a").ip("10.0.0.1".parse().unwrap()))
        .pod(PodSpec::new("y", "b").ip("10.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let engine = Engine::build(&cluster, &[Policy::new(&p).unwrap()]);
    let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    let b = Endpoint::Pod(cluster.pod_id("y", "b").unwrap());
    let outside = Endpoint::External("203.0.113.9".parse::<IpAddr>().unwrap());
    for src in [b, outside] {
        assert!(
            engine
                .decide(Flow::new(src, a, 5432, Protocol::Tcp))
                .is_allowed()
        );
    }
    // `ingress: []` for contrast: isolated, nothing allowed.
    let deny = decode(&policy(json!({"podSelector": {}, "ingress": []}))).unwrap();
    let engine = Engine::build(&cluster, &[Policy::new(&deny).unwrap()]);
    assert!(
        !engine
            .decide(Flow::new(b, a, 5432, Protocol::Tcp))
            .is_allowed()
    );
}

/// `ports: [null]`: a port entry with nothing set (protocol defaults to TCP, no port:
/// every TCP port). Apiserver: accepted.
#[test]
fn null_port_is_a_port_with_nothing_set() {
    let p = decode(&policy(
        json!({"podSelector": {}, "ingress": [{"ports": [null]}]}),
    ))
    .unwrap();
    let rule = &p.spec.ingress.as_ref().unwrap()[0];
    assert_eq!(rule.ports, Some(vec![NetworkPolicyPort::default()]));
    assert!(field_errors(&p).is_empty());
}

/// `spec: null`, `metadata: null`: `literalStore` ignores `null` for the struct fields
/// `Spec` and `ObjectMeta`, which keep their zero values. Apiserver: the spec is empty; the
/// object has no name, so validation says `metadata.name: Required value`.
#[test]
fn null_spec_and_metadata_are_empty() {
    let p = decode(&json!({"metadata": {"name": "p"}, "spec": null})).unwrap();
    assert_eq!(p.spec, Default::default());
    assert!(field_errors(&p).is_empty());

    let p = decode(&json!({"metadata": null, "spec": {"podSelector": {}}})).unwrap();
    assert_eq!(p.metadata, ObjectMeta::default());
    assert_eq!(field_errors(&p), ["metadata.name"]);
}

/// `values: ["a", null]` and `matchLabels: {app: null}`: an array element and a map value
/// are decoded into a fresh zero `string` (`array`; `object` zeroes `mapElem`), so `null`
/// is `""`. Apiserver: accepted (an empty label value is valid).
#[test]
fn null_strings_in_lists_and_maps_are_empty_strings() {
    let p = decode(&policy(json!({
        "podSelector": {
            "matchLabels": {"app": null},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", null]}]
        }
    })))
    .unwrap();
    let sel = p.spec.pod_selector.as_ref().unwrap();
    assert_eq!(sel.match_labels.as_ref().unwrap()["app"], "");
    assert_eq!(
        sel.match_expressions.as_ref().unwrap()[0].values,
        Some(vec!["a".to_owned(), String::new()])
    );
    assert!(field_errors(&p).is_empty());
}

/// `matchExpressions: [null]`: a requirement with empty key and operator, which
/// validation refuses at `.operator` (Unsupported value) and `.key` (a qualified name
/// must be non-empty). Apiserver: decoded, then refused by validation.
#[test]
fn null_requirement_decodes_and_is_refused_by_validation() {
    let p = decode(&policy(
        json!({"podSelector": {"matchExpressions": [null]}}),
    ))
    .unwrap();
    let errors = field_errors(&p);
    assert!(
        errors.contains(&"spec.podSelector.matchExpressions[0].operator".to_owned()),
        "{errors:?}"
    );
    assert!(
        errors.contains(&"spec.podSelector.matchExpressions[0].key".to_owned()),
        "{errors:?}"
    );
}

/// Pointer, slice and map fields given `null` are nil (`literalStore` sets them to their
/// zero value), which is what their absence gives: `None` here.
#[test]
fn null_pointer_slice_and_map_fields_are_absent() {
    let p = decode(&policy(json!({
        "podSelector": {"matchLabels": null, "matchExpressions": null},
        "ingress": [{"from": [{"podSelector": null, "namespaceSelector": {}, "ipBlock": null}],
                     "ports": [{"port": null, "protocol": null, "endPort": null}]}],
        "egress": null,
        "policyTypes": null
    })))
    .unwrap();
    let absent = decode(&policy(json!({
        "podSelector": {},
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{}]}]
    })))
    .unwrap();
    assert_eq!(p, absent);
}

/// `intstr.IntOrString` outside a pointer: its `UnmarshalJSON` decodes `null` into the
/// `int32`, giving `Int(0)`. In the pointer field `port` Go stops at the pointer and sets
/// it nil. A Service's `targetPort` is an `IntOrString` value: `null` there is `Int(0)`
/// in Go, which `SetDefaults_Service` replaces with `port`; here it is absent, which
/// means `port` too.
#[test]
fn int_or_string_null_is_int_zero_outside_a_pointer() {
    assert_eq!(
        serde_json::from_str::<IntOrString>("null").unwrap(),
        IntOrString::Int(0)
    );
    assert_eq!(
        netpol::model::go_json::from_str::<Vec<IntOrString>>("[null, 80, \"http\"]").unwrap(),
        [
            IntOrString::Int(0),
            IntOrString::Int(80),
            IntOrString::String("http".into())
        ]
    );
    let p = decode(&policy(json!({"ingress": [{"ports": [{"port": null}]}]}))).unwrap();
    assert_eq!(
        p.spec.ingress.unwrap()[0].ports.as_ref().unwrap()[0].port,
        None
    );

    for target in [json!(null), json!(0), json!("")] {
        let svc = Service::from_value(&json!({"metadata": {"name": "s"},
            "spec": {"ports": [{"port": 8080, "targetPort": target}]}}))
        .unwrap();
        assert_eq!(
            svc.resolve().unwrap().ports[0].target,
            TargetPort::Number(8080),
            "{target}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. an array is not an object
// ---------------------------------------------------------------------------------------

/// An array where a struct is expected: `array` finds the target is a struct and saves
/// `UnmarshalTypeError{Value: "array"}` ("cannot unmarshal array into Go struct field
/// NetworkPolicySpec.spec.podSelector of type v1.LabelSelector"). Apiserver: refused
/// (400). serde's derive would read the array by position: `podSelector: []` was a
/// selector of every pod.
#[test]
fn arrays_never_stand_for_objects() {
    let cases = [
        (json!({"spec": []}), "spec", "NetworkPolicySpec"),
        (
            policy(json!({"podSelector": []})),
            "spec.podSelector",
            "LabelSelector",
        ),
        (
            policy(json!({"ingress": [[]]})),
            "spec.ingress[0]",
            "NetworkPolicyIngressRule",
        ),
        (
            policy(json!({"egress": [{"ports": [[]]}]})),
            "spec.egress[0].ports[0]",
            "NetworkPolicyPort",
        ),
        (
            policy(json!({"ingress": [{"from": [{"ipBlock": ["10.0.0.0/8"]}]}]})),
            "spec.ingress[0].from[0].ipBlock",
            "IpBlock",
        ),
        (
            policy(json!({"podSelector": {"matchExpressions": [["k", "Exists"]]}})),
            "spec.podSelector.matchExpressions[0]",
            "LabelSelectorRequirement",
        ),
        (json!({"metadata": []}), "metadata", "ObjectMeta"),
    ];
    for (v, path, ty) in cases {
        let e = refused(&v);
        assert_eq!(e.path, path, "{v}");
        assert_eq!(
            e.message,
            format!("cannot unmarshal array into an object ({ty})"),
            "{v}"
        );
    }
    // Nor do strings, numbers or bools; nor objects stand for arrays or strings.
    for (v, path) in [
        (
            policy(json!({"podSelector": "app=web"})),
            "spec.podSelector",
        ),
        (policy(json!({"podSelector": 1})), "spec.podSelector"),
        (policy(json!({"podSelector": true})), "spec.podSelector"),
        (
            policy(json!({"podSelector": {"matchLabels": []}})),
            "spec.podSelector.matchLabels",
        ),
        (policy(json!({"ingress": {}})), "spec.ingress"),
        (
            policy(json!({"policyTypes": "Ingress"})),
            "spec.policyTypes",
        ),
        (
            policy(json!({"ingress": [{"from": [{"ipBlock": {"cidr": {}}}]}]})),
            "spec.ingress[0].from[0].ipBlock.cidr",
        ),
    ] {
        assert_eq!(refused(&v).path, path, "{v}");
    }
}

/// The rule holds whatever deserializer drives the types: serde_json from text or from a
/// value, and a YAML deserializer.
#[test]
fn the_rules_hold_under_any_deserializer() {
    let text = r#"{"metadata": {"name": "p"}, "spec": {"podSelector": [], "ingress": [null]}}"#;
    let e = serde_json::from_str::<NetworkPolicy>(text).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("spec.podSelector: cannot unmarshal array into an object (LabelSelector)"),
        "{e}"
    );
    let v: Value = serde_json::from_str(text).unwrap();
    assert!(serde_json::from_value::<NetworkPolicy>(v).is_err());
    let yaml = "metadata: {name: p}\nspec:\n  podSelector: []\n";
    let e = serde_saphyr::from_str::<NetworkPolicy>(yaml).unwrap_err();
    assert!(e.to_string().contains("spec.podSelector"), "{e}");

    let good = r#"{"metadata": {"name": "p"}, "spec": {"ingress": [null]}}"#;
    let a = serde_json::from_str::<NetworkPolicy>(good).unwrap();
    let b = NetworkPolicy::from_json(good).unwrap();
    let c = serde_saphyr::from_str::<NetworkPolicy>("metadata: {name: p}\nspec:\n  ingress: [~]\n")
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.spec.ingress, Some(vec![Default::default()]));
    // A nested type on its own gets the same rules.
    assert!(serde_json::from_str::<LabelSelector>("[]").is_err());
    assert_eq!(
        serde_json::from_str::<LabelSelector>("null").unwrap(),
        LabelSelector::default()
    );
}

// ---------------------------------------------------------------------------------------
// 3. typed metadata
// ---------------------------------------------------------------------------------------

/// Every `metav1.ObjectMeta` field has its Go type: `generation` is an `int64`
/// (`literalStore`: `strconv.ParseInt` refuses `1.5` and `1e3`, a string is a type
/// error), `creationTimestamp` a `metav1.Time` (`Time.UnmarshalJSON`: `time.Parse` with
/// `time.RFC3339`), `resourceVersion` a string, `ownerReferences` a list of structs with
/// `*bool` flags, `managedFields[].time` a `*Time`. Apiserver: each refused (400).
#[test]
fn metadata_fields_have_their_go_types() {
    let cases = [
        (json!({"generation": "1"}), "metadata.generation"),
        (json!({"generation": 1.5}), "metadata.generation"),
        (json!({"generation": 1e3}), "metadata.generation"),
        (
            json!({"generation": 9_223_372_036_854_775_808u64}),
            "metadata.generation",
        ),
        (
            json!({"creationTimestamp": "yesterday"}),
            "metadata.creationTimestamp",
        ),
        (
            json!({"creationTimestamp": 1_714_557_600}),
            "metadata.creationTimestamp",
        ),
        (
            json!({"creationTimestamp": ""}),
            "metadata.creationTimestamp",
        ),
        (
            json!({"deletionTimestamp": "2024-02-30T00:00:00Z"}),
            "metadata.deletionTimestamp",
        ),
        (json!({"resourceVersion": 5}), "metadata.resourceVersion"),
        (json!({"uid": true}), "metadata.uid"),
        (json!({"selfLink": []}), "metadata.selfLink"),
        (
            json!({"deletionGracePeriodSeconds": "30"}),
            "metadata.deletionGracePeriodSeconds",
        ),
        (json!({"finalizers": [1]}), "metadata.finalizers[0]"),
        (json!({"finalizers": "a"}), "metadata.finalizers"),
        (json!({"ownerReferences": {}}), "metadata.ownerReferences"),
        (
            json!({"ownerReferences": [{"controller": "yes"}]}),
            "metadata.ownerReferences[0].controller",
        ),
        (
            json!({"managedFields": [{"time": "now"}]}),
            "metadata.managedFields[0].time",
        ),
        (
            json!({"managedFields": [{"manager": 1}]}),
            "metadata.managedFields[0].manager",
        ),
        (json!({"labels": {"a": 1}}), "metadata.labels.a"),
        (json!({"annotations": []}), "metadata.annotations"),
        (json!({"name": 7}), "metadata.name"),
    ];
    for (meta, path) in cases {
        let e = refused(&json!({"metadata": meta}));
        assert_eq!(e.path, path, "{meta}");
    }
    let e = refused(&json!({"metadata": {"creationTimestamp": "yesterday"}}));
    assert_eq!(
        e.message,
        r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#
    );
}

/// What the server writes decodes, and serializes back exactly as written: typed fields
/// keep their text (`creationTimestamp` as written, not reformatted), `fieldsV1` keeps
/// any JSON (`FieldsV1.UnmarshalJSON` stores the raw bytes), unknown fields stay in
/// `extra`, and `creationTimestamp: null` is the zero time (absent here).
#[test]
fn server_metadata_round_trips() {
    let written = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {
            "name": "db", "namespace": "shop", "uid": "6d0c1f6e-2f9b-4c6a-9f0e-0e2c1c2b3a4d",
            "resourceVersion": "123456", "generation": 2, "selfLink": "/apis/x",
            "creationTimestamp": "2024-05-01T10:00:00.5+02:00",
            "deletionTimestamp": "2024-05-02T10:00:00Z", "deletionGracePeriodSeconds": 0,
            "labels": {"app": "db"}, "annotations": {"note": ""},
            "finalizers": ["example.com/keep"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o",
                                  "uid": "u", "controller": true, "blockOwnerDeletion": false}],
            "managedFields": [{"manager": "kubectl", "operation": "Update",
                               "apiVersion": "networking.k8s.io/v1",
                               "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:spec": {"f:podSelector": {}}},
                               "subresource": ""}],
            "clusterName": "legacy"
        },
        "spec": {"podSelector": {}}
    });
    let p = decode(&written).unwrap();
    assert_eq!(p.metadata.generation, Some(2));
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(0));
    assert_eq!(
        p.metadata.creation_timestamp.as_ref().unwrap().as_str(),
        Some("2024-05-01T10:00:00.5+02:00")
    );
    assert_eq!(p.metadata.extra["clusterName"], "legacy");
    assert_eq!(serde_json::to_value(&p).unwrap(), written);

    let p = decode(&json!({"metadata": {"name": "a", "creationTimestamp": null}})).unwrap();
    assert_eq!(p.metadata.creation_timestamp, None);
}

// ---------------------------------------------------------------------------------------
// 4. apiVersion and kind
// ---------------------------------------------------------------------------------------

/// The codec reads `apiVersion` and `kind` first (`SimpleMetaFactory.Interpret`), fills
/// missing ones from the endpoint (`gvkWithDefaults`), and decodes the object as the kind
/// found: another kind then fails conversion to a NetworkPolicy, an unregistered one
/// fails `New`, `a/b/c` fails `schema.ParseGroupVersion`. Apiserver: all refused.
#[test]
fn other_kinds_are_refused_with_what_was_found() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let e = refused(&deployment);
    assert_eq!(e.path, "kind");
    assert_eq!(
        e.message,
        r#"found kind "Deployment" of apiVersion "apps/v1", not a NetworkPolicy (apiVersion "networking.k8s.io/v1")"#
    );
    for (v, path, found) in [
        (
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}),
            "kind",
            "Ingress",
        ),
        (json!({"kind": "Ingress"}), "kind", "Ingress"),
        (
            json!({"apiVersion": "v1", "kind": "NetworkPolicy"}),
            "apiVersion",
            "\"v1\"",
        ),
        (
            json!({"apiVersion": "networking.k8s.io/v1beta1", "kind": "NetworkPolicy"}),
            "apiVersion",
            "v1beta1",
        ),
        (
            json!({"apiVersion": "extensions/v1beta1"}),
            "apiVersion",
            "extensions",
        ),
        (json!({"kind": "networkpolicy"}), "kind", "networkpolicy"),
        // Interpret uses encoding/json, whose keys match case-insensitively.
        (json!({"Kind": "Ingress"}), "Kind", "Ingress"),
        (json!({"APIVERSION": "apps/v1"}), "APIVERSION", "apps/v1"),
    ] {
        let e = refused(&v);
        assert_eq!(e.path, path, "{v}");
        assert!(e.message.contains(found), "{v}: {}", e.message);
    }
    let e = refused(&json!({"apiVersion": "a/b/c", "kind": "NetworkPolicy"}));
    assert_eq!(e.path, "apiVersion");
    assert!(
        e.message
            .starts_with(r#"unexpected GroupVersion string "a/b/c""#)
    );
    let e = refused(&json!({"kind": 5}));
    assert_eq!(e.path, "kind");
    assert!(e.message.starts_with("couldn't get version/kind"));
}

/// Missing parts are filled from the endpoint, so they are accepted: no `apiVersion` or
/// `kind`, empty strings, `/` (the empty group version), and `networking.k8s.io/` (an
/// empty version of the endpoint's group). This is the endpoint a NetworkPolicy
/// manifest is posted to; kubectl itself wants both fields, to find that endpoint.
#[test]
fn missing_api_version_and_kind_are_filled_in() {
    for v in [
        json!({}),
        json!({"apiVersion": "", "kind": ""}),
        json!({"apiVersion": null, "kind": null}),
        json!({"apiVersion": "/"}),
        json!({"apiVersion": "networking.k8s.io/", "kind": "NetworkPolicy"}),
        json!({"kind": "NetworkPolicy"}),
        json!({"apiVersion": "networking.k8s.io/v1"}),
        // Another key spelt like kind (case-insensitively) sorts before `kind`, which wins.
        json!({"KIND": "Ingress", "kind": "NetworkPolicy"}),
    ] {
        assert!(decode(&v).is_ok(), "{v}");
    }
}

/// Documents: a bare object and each list item go through one kind table; list items
/// with neither apiVersion nor kind take the list's (kubectl's `UnstructuredList`
/// decoding), a plain `List` has none to give.
#[test]
fn documents_are_dispatched_by_kind() {
    let many = decode_policies(
        r#"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList",
            "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#,
    )
    .unwrap();
    assert_eq!(many.len(), 2);
    let e = decode_policies(
        r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "items[1].kind");
    assert_eq!((e.line, e.column), (3, 42));
    let e = decode_policies(
        r#"{"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "b"}}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "items[0]");
    assert!(
        e.message.contains(r#"found kind "Pod" of apiVersion "v1""#),
        "{}",
        e.message
    );
    // The typed list type applies the item check too.
    let e = serde_json::from_str::<NetworkPolicyList>(r#"{"items": [{"kind": "Ingress"}]}"#)
        .unwrap_err();
    assert!(e.to_string().starts_with("items[0].kind: "), "{e}");
    // Services check theirs.
    let e = Service::from_json(r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}"#)
        .unwrap_err();
    assert!(e.to_string().starts_with("kind: found kind \"Pod\""), "{e}");
}

// ---------------------------------------------------------------------------------------
// Text, errors, repeated keys
// ---------------------------------------------------------------------------------------

/// A lone UTF-16 surrogate escape is U+FFFD in Go (`unquote`: "Invalid surrogate; fall
/// back to replacement rune"); serde_json refuses it. Text given to the crate is read as
/// Go reads it; a valid pair stays what it is.
#[test]
fn lone_surrogates_are_replacement_characters() {
    let text = r#"{"metadata": {"name": "p", "annotations": {"a": "x\ud800y", "b": "\udc00", "c": "\ud83d\ude00"}}}"#;
    let p = NetworkPolicy::from_json(text).unwrap();
    let ann = p.metadata.annotations.unwrap();
    assert_eq!(ann["a"], "x\u{fffd}y");
    assert_eq!(ann["b"], "\u{fffd}");
    assert_eq!(ann["c"], "\u{1f600}");
    assert_eq!(decode_policies(text).unwrap().len(), 1);
    // serde_json's own parser refuses it before the model is reached (documented).
    assert!(serde_json::from_str::<NetworkPolicy>(text).is_err());
}

/// Decode errors carry the apiserver-style path, the JSON found and the type expected,
/// and the line and column of the value in the text; they come before (and instead of)
/// validation, as the apiserver answers an undecodable body with 400 and no field errors.
#[test]
fn decode_errors_locate_the_value_and_stop_before_validation() {
    let text = "{\n  \"metadata\": {\"name\": \"NOT valid\"},\n  \"spec\": {\n    \"ingress\": [{\"ports\": [{\"port\": 80, \"endPort\": \"90\"}]}]\n  }\n}";
    let e = NetworkPolicy::from_json(text).unwrap_err();
    assert_eq!(e.path, "spec.ingress[0].ports[0].endPort");
    assert_eq!(e.message, r#"cannot unmarshal string "90" into an int32"#);
    assert_eq!((e.line, e.column), (4, 52));
    assert_eq!(
        e.to_string(),
        "spec.ingress[0].ports[0].endPort: cannot unmarshal string \"90\" into an int32 (line 4, column 52)"
    );
    let e =
        NetworkPolicy::from_json(r#"{"spec": {"ingress": [{"ports": [{"port": 3000000000}]}]}}"#)
            .unwrap_err();
    assert_eq!(
        e.message,
        "cannot unmarshal number 3000000000 into an int-or-string (an int32 or a string)"
    );
    // In a list, the path and position are the item's.
    let list = "{\"kind\": \"List\", \"items\": [\n {\"metadata\": {\"name\": \"a\"}},\n {\"spec\": {\"podSelector\": []}}\n]}";
    let e = decode_policies(list).unwrap_err();
    assert_eq!(e.path, "items[1].spec.podSelector");
    assert_eq!((e.line, e.column), (3, 27));
    // Go checks the syntax of the whole body before decoding: a later syntax error wins.
    let e = decode_policies("{\"items\": [{\"spec\": []}], \"kind\": }").unwrap_err();
    assert_eq!(e.path, "");
    assert!(e.message.contains("expected value"), "{}", e.message);
}

/// A repeated key is decoded again into the same field, as sigs.k8s.io/json's
/// `object` does (it looks the field up and decodes into it): a string or number is
/// replaced, and `null` leaves it (`literalStore`: "ignore null for primitives"); a
/// struct gets the fields of both objects; a pointer is reset by `null` (`indirect` with
/// `decodingNull` stops at the pointer, `literalStore` zeroes it); a map gets the entries
/// of both, each value decoded afresh (`mapElem` is zeroed per key).
#[test]
fn repeated_keys_decode_into_the_same_field() {
    let p = NetworkPolicy::from_json(
        r#"{"metadata": {"name": "a", "name": null, "namespace": "x", "namespace": "y"},
            "spec": {"podSelector": {"matchLabels": {"a": "1"}}, "policyTypes": ["Ingress"]},
            "spec": {"podSelector": {"matchLabels": {"b": "2", "b": null}}, "podSelector": null}}"#,
    )
    .unwrap();
    assert_eq!(p.metadata.name.as_deref(), Some("a"));
    assert_eq!(p.metadata.namespace.as_deref(), Some("y"));
    assert_eq!(p.spec.policy_types, Some(vec!["Ingress".to_owned()]));
    let labels = p.spec.pod_selector.unwrap().match_labels.unwrap();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        [("a".into(), "1".into()), ("b".into(), String::new())]
    );
    // A pointer (a peer's selector) and a slice or map are reset by null.
    let p = NetworkPolicy::from_json(
        r#"{"spec": {"ingress": [{"from": [{"podSelector": {"matchLabels": {"a": "1"}}, "podSelector": null,
            "ipBlock": {"cidr": "10.0.0.0/8"}}]}],
            "podSelector": {"matchLabels": {"a": "1"}, "matchLabels": null}}}"#,
    )
    .unwrap();
    let peer = &p.spec.ingress.as_ref().unwrap()[0].from.as_ref().unwrap()[0];
    assert_eq!(peer.pod_selector, None);
    assert_eq!(peer.ip_block.as_ref().unwrap().cidr, "10.0.0.0/8");
    assert_eq!(p.spec.pod_selector.unwrap().match_labels, None);
    // The same objects through a value (which keeps one of each key) are other objects.
    let text = r#"{"metadata": {"name": "a", "name": null}}"#;
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        NetworkPolicy::from_value(&value).unwrap().metadata.name,
        None
    );
    // Through serde_json's deserializer the model sees every key, as from text.
    let p: NetworkPolicy = serde_json::from_str(text).unwrap();
    assert_eq!(p.metadata.name.as_deref(), Some("a"));
}

/// A repeated array is decoded into the elements already there: `array` grows the slice
/// only past its length and decodes element `i` into `v.Index(i)`, then cuts the length
/// (not the backing array) to what it read, so a later, longer array finds the cut-off
/// elements again; `[]` makes a new empty slice, `null` a nil one.
#[test]
fn repeated_arrays_decode_into_the_elements_already_there() {
    let p = NetworkPolicy::from_json(
        r#"{"spec": {"ingress": [{"ports": [{"port": 80}]}, {}],
                     "ingress": [{"from": [{"podSelector": {}}]}]}}"#,
    )
    .unwrap();
    let ingress = p.spec.ingress.unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(ingress[0].ports.as_ref().unwrap().len(), 1);
    assert_eq!(ingress[0].from.as_ref().unwrap().len(), 1);
    let values = |text: &str| {
        let p = NetworkPolicy::from_json(&format!(
            r#"{{"spec": {{"podSelector": {{"matchExpressions": [{{"key": "k", "operator": "In", {text}}}]}}}}}}"#
        ))
        .unwrap();
        p.spec.pod_selector.unwrap().match_expressions.unwrap()[0]
            .values
            .clone()
    };
    // ["a", "b"], then ["c"] (length 1), then [null, null]: element 0 is "c", element 1
    // the "b" the second array cut off.
    assert_eq!(
        values(r#""values": ["a", "b"], "values": ["c"], "values": [null, null]"#),
        Some(vec!["c".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        values(r#""values": ["a", "b"], "values": [], "values": [null, null]"#),
        Some(vec![String::new(), String::new()])
    );
    assert_eq!(
        values(r#""values": ["a", "b"], "values": null, "values": [null]"#),
        Some(vec![String::new()])
    );
    assert_eq!(values(r#""values": ["a"], "values": null"#), None);
}

/// Go keeps the first type mismatch it meets and decodes on (`saveError`), also in an
/// occurrence a later `null` throws away; the error written first in the text is the one
/// returned.
#[test]
fn the_first_type_error_is_kept() {
    for (text, path) in [
        (
            r#"{"spec": {"podSelector": [], "podSelector": {}}}"#,
            "spec.podSelector",
        ),
        (
            r#"{"spec": {"ingress": [{"ports": [{"protocol": true}]}], "ingress": null}}"#,
            "spec.ingress[0].ports[0].protocol",
        ),
        (
            r#"{"spec": {"ingress": [{}, {"from": 1}], "ingress": []}}"#,
            "spec.ingress[1].from",
        ),
        (
            r#"{"metadata": {"labels": {"a": 1, "a": "x"}}}"#,
            "metadata.labels.a",
        ),
        (
            r#"{"spec": {"policyTypes": 1}, "metadata": {"name": 1}}"#,
            "spec.policyTypes",
        ),
        (
            r#"{"metadata": {"ownerReferences": [{"name": {}}], "ownerReferences": null}}"#,
            "metadata.ownerReferences[0].name",
        ),
    ] {
        let e = NetworkPolicy::from_json(text).unwrap_err();
        assert_eq!(e.path, path, "{text}: {e}");
        let objects = decode_policies(text).unwrap_err();
        assert_eq!(objects.path, path, "{text}");
    }
    // A value has its keys sorted: `metadata` comes first there.
    let v: Value =
        serde_json::from_str(r#"{"spec": {"policyTypes": 1}, "metadata": {"name": 1}}"#).unwrap();
    assert_eq!(
        NetworkPolicy::from_value(&v).unwrap_err().path,
        "metadata.name"
    );
}

/// An error from an `UnmarshalJSON` method (`IntOrString.UnmarshalJSON` for a port,
/// `Time.UnmarshalJSON` for a timestamp) stops decoding at once and is returned instead
/// of a type mismatch saved before it (`d.value` returns it; `unmarshal` returns
/// `d.savedError` only when decoding finished). The method runs on every occurrence of a
/// repeated key.
#[test]
fn a_failing_unmarshal_method_wins_over_a_saved_error() {
    let e = NetworkPolicy::from_json(
        r#"{"metadata": {"generation": "x"}, "spec": {"ingress": [{"ports": [{"port": true}]}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "spec.ingress[0].ports[0].port");
    let e = NetworkPolicy::from_json(
        r#"{"metadata": {"generation": "x", "creationTimestamp": "yesterday"}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "metadata.creationTimestamp");
    let e = NetworkPolicy::from_json(
        r#"{"spec": {"ingress": [{"ports": [{"port": true, "port": 80}]}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "spec.ingress[0].ports[0].port");
    let p = NetworkPolicy::from_json(
        r#"{"spec": {"ingress": [{"ports": [{"port": "http", "port": 80}]}]}}"#,
    )
    .unwrap();
    assert_eq!(
        p.spec.ingress.unwrap()[0].ports.as_ref().unwrap()[0].port,
        Some(IntOrString::Int(80))
    );
    // A timestamp is a value with its own method: null gives the zero time.
    let p = NetworkPolicy::from_json(
        r#"{"metadata": {"creationTimestamp": "2024-05-01T10:00:00Z", "creationTimestamp": null}}"#,
    )
    .unwrap();
    assert_eq!(p.metadata.creation_timestamp, None);
}

/// Numbers are parsed for the field they land in, from the text (`literalStore`:
/// `strconv.ParseInt`): `-0` is the integer 0; a fraction or exponent is no integer, and
/// the message names the number as written.
#[test]
fn numbers_are_read_as_written() {
    let p = NetworkPolicy::from_json(r#"{"metadata": {"name": "a", "generation": -0}}"#).unwrap();
    assert_eq!(p.metadata.generation, Some(0));
    let e = NetworkPolicy::from_json(r#"{"metadata": {"generation": 1e3}}"#).unwrap_err();
    assert_eq!(e.message, "cannot unmarshal number 1e3 into an int64");
    let e = NetworkPolicy::from_json(r#"{"metadata": {"generation": 1.0}}"#).unwrap_err();
    assert_eq!(e.message, "cannot unmarshal number 1.0 into an int64");
    let p =
        NetworkPolicy::from_json(r#"{"spec": {"ingress": [{"ports": [{"port": -0}]}]}}"#).unwrap();
    assert_eq!(
        p.spec.ingress.unwrap()[0].ports.as_ref().unwrap()[0].port,
        Some(IntOrString::Int(0))
    );
}

/// A custom resource (ClusterNetworkPolicy) is read into a `map[string]interface{}`
/// (`unstructured.UnstructuredJSONScheme`): in a Go map a repeated key's value is decoded
/// afresh into an `interface{}` and replaces the earlier one, so the last occurrence wins
/// whole and the earlier ones are never typed.
#[test]
fn custom_resources_keep_the_last_of_repeated_keys() {
    use netpol::model::ClusterNetworkPolicy;
    let text = r#"{"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "a", "name": "b"},
        "spec": {"tier": "Admin", "priority": "not a number"},
        "spec": {"tier": "Baseline", "subject": {"namespaces": {}}}}"#;
    let cnp = ClusterNetworkPolicy::from_json(text).unwrap();
    assert_eq!(cnp.metadata.name.as_deref(), Some("b"));
    let spec = cnp.spec.unwrap();
    assert_eq!(spec.tier.as_deref(), Some("Baseline"));
    assert_eq!(spec.priority, None);
    // The same repeats in a NetworkPolicy merge, and the mistyped field is refused.
    let np = r#"{"metadata": {"name": "a"}, "spec": {"podSelector": {}, "policyTypes": 1},
        "spec": {"policyTypes": ["Ingress"]}}"#;
    assert_eq!(
        NetworkPolicy::from_json(np).unwrap_err().path,
        "spec.policyTypes"
    );
}

/// `SimpleMetaFactory.Interpret` reads `apiVersion` and `kind` with encoding/json, whose
/// keys match case-insensitively, in the order written: a later key wins.
#[test]
fn api_version_and_kind_are_read_in_key_order() {
    let pod_last = r#"{"kind": "NetworkPolicy", "Kind": "Pod", "metadata": {"name": "a"}}"#;
    let e = NetworkPolicy::from_json(pod_last).unwrap_err();
    assert_eq!(e.path, "Kind");
    assert_eq!(decode_policies(pod_last).unwrap_err().path, "Kind");
    let np_last = r#"{"KIND": "Pod", "kind": "NetworkPolicy", "metadata": {"name": "a"}}"#;
    assert!(NetworkPolicy::from_json(np_last).is_ok());
    assert_eq!(decode_policies(np_last).unwrap().len(), 1);
    let e = NetworkPolicy::from_json(
        r#"{"apiVersion": "networking.k8s.io/v1", "APIVERSION": "v1", "kind": "NetworkPolicy"}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "APIVERSION");
}

/// The model holds the `apiVersion` and `kind` the kind check took, whatever their
/// spelling; the other spellings are not kept among the unknown fields, where, printed
/// after the model's own fields, they would win when the object is read again.
#[test]
fn the_spelling_interpret_took_is_the_one_kept() {
    use netpol::model::ClusterNetworkPolicy;
    for text in [
        r#"{"kInd": "Pod", "kind": "NetworkPolicy", "metadata": {"name": "a"}}"#,
        r#"{"Kind": "Pod", "KIND": "NetworkPolicy", "metadata": {"name": "a"}}"#,
        r#"{"kind": "Pod", "Kind": "NetworkPolicy", "kind": null, "metadata": {"name": "a"}}"#,
    ] {
        let p = NetworkPolicy::from_json(text).unwrap();
        assert_eq!(p.kind.as_deref(), Some("NetworkPolicy"), "{text}");
        assert!(p.extra.is_empty(), "{text}: {:?}", p.extra);
        let printed = serde_json::to_string(&p).unwrap();
        assert_eq!(NetworkPolicy::from_json(&printed).unwrap(), p, "{printed}");
        assert_eq!(decode_policies(text).unwrap(), std::slice::from_ref(&p));
        assert_eq!(serde_json::from_str::<NetworkPolicy>(text).unwrap(), p);
    }
    let cnp = ClusterNetworkPolicy::from_json(
        r#"{"APIVERSION": "v1", "apiVersion": "policy.networking.k8s.io/v1alpha2",
            "Kind": "ClusterNetworkPolicy", "metadata": {"name": "c"}}"#,
    )
    .unwrap();
    assert_eq!(cnp.kind.as_deref(), Some("ClusterNetworkPolicy"));
    assert!(cnp.extra.is_empty(), "{:?}", cnp.extra);
}

/// Numbers are named as written also where they are read before the object is decoded:
/// an `apiVersion` or `kind` that is a number, and a document that is one.
#[test]
fn numbers_are_named_as_written_in_every_route() {
    for (text, path, message) in [
        (
            r#"{"apiVersion": -0}"#,
            "apiVersion",
            "couldn't get version/kind: cannot unmarshal number -0 into a string",
        ),
        (
            r#"{"kind": 1.50, "items": []}"#,
            "kind",
            "couldn't get version/kind: cannot unmarshal number 1.50 into a string",
        ),
        (
            "123456789012345678901234567890",
            "",
            "cannot unmarshal number 123456789012345678901234567890 into an object (NetworkPolicy)",
        ),
    ] {
        for (route, e) in [
            ("from_json", NetworkPolicy::from_json(text).unwrap_err()),
            ("decode_policies", decode_policies(text).unwrap_err()),
        ] {
            assert_eq!(
                (e.path.as_str(), e.message.as_str()),
                (path, message),
                "{route}: {text}"
            );
        }
    }
}

/// The syntax is serde_json's, with its limits (numbers within `f64`, 128 levels): every
/// route reports the first syntax error of the whole text where serde_json reports it,
/// also in a list, where items and `apiVersion`/`kind` are first read as raw text.
#[test]
fn syntax_errors_are_the_first_in_the_text_in_every_route() {
    let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
    for text in [
        r#"{"metadata": {"annotations": {"a": 1e400}}}"#.to_owned(),
        r#"{"apiVersion": 1e400, "kind": "List", "items": []}"#.to_owned(),
        r#"{"kind": "List", "metadata": {"x": 1e400}, "items": []}"#.to_owned(),
        format!(r#"{{"kind": "List", "metadata": {{"x": {deep}}}, "items": []}}"#),
        "{\"kind\": \"List\", \"items\": [\n  {\"metadata\": {\"name\": 1e400}}\n]}".to_owned(),
        r#"{"items": [{"spec": 1e999}], "kind": }"#.to_owned(),
        "[1, 2e400]".to_owned(),
    ] {
        let e = serde_json::from_str::<Value>(&text).unwrap_err();
        let at = (e.line(), e.column());
        for (route, got) in [
            ("from_json", NetworkPolicy::from_json(&text).unwrap_err()),
            ("decode_policies", decode_policies(&text).unwrap_err()),
        ] {
            assert_eq!(got.path, "", "{route}: {text}");
            assert!(
                e.to_string().starts_with(&got.message),
                "{route}: {got} vs {e}"
            );
            assert_eq!((got.line, got.column), at, "{route}: {text}");
        }
    }
}

/// Namespace, Node and Pod follow the same rules: a string, bool or number field is a Go
/// value, which a repeated key's `null` leaves as it was; a slice is reset by it.
#[test]
fn core_objects_keep_values_through_a_repeated_null() {
    use netpol::model::Pod;
    let pod = Pod::from_json(
        r#"{"kind": "Pod", "kind": null, "metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "hostNetwork": true, "containers": [{"name": "c"}],
                     "nodeName": null, "hostNetwork": null, "containers": null},
            "status": {"podIP": "10.0.0.1", "podIP": null}}"#,
    )
    .unwrap();
    assert_eq!(pod.kind.as_deref(), Some("Pod"));
    assert_eq!(pod.spec.node_name.as_deref(), Some("n1"));
    assert_eq!(pod.spec.host_network, Some(true));
    assert_eq!(pod.spec.containers, None);
    assert_eq!(pod.status.pod_ip.as_deref(), Some("10.0.0.1"));
    let e = Pod::from_json(r#"{"spec": {"containers": [{"ports": [{"containerPort": 80.0}]}]}}"#)
        .unwrap_err();
    assert_eq!(e.path, "spec.containers[0].ports[0].containerPort");
}
