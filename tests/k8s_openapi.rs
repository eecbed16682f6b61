//! Round trips between the crate's models and k8s-openapi's (feature `k8s-openapi`; the
//! dev-dependency enables k8s-openapi's `latest` version feature).
#![cfg(feature = "k8s-openapi")]

use std::path::Path;

use k8s_openapi::api::networking::v1 as k8s;
use k8s_openapi::apimachinery::pkg::util::intstr;
use netpol::k8s_openapi::ConversionError;
use netpol::model::{IntOrString, NetworkPolicy, NetworkPolicySpec};
use serde_json::{Value, json};

/// Every policy of the crate's scenario files, the refused ones included: conversion
/// does not validate.
fn scenario_policies() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for p in v["policies"].as_array().into_iter().flatten() {
            out.push(p.clone());
        }
    }
    assert!(out.len() > 20, "only {} policies found", out.len());
    out
}

#[test]
fn every_scenario_policy_survives_both_ways() {
    for json in scenario_policies() {
        let Ok(ours) = NetworkPolicy::from_value(&json) else {
            continue; // a scenario may hold JSON the models refuse to decode
        };
        let theirs = k8s::NetworkPolicy::try_from(ours.clone()).unwrap();
        let back = NetworkPolicy::from(theirs.clone());
        assert_eq!(back.spec, ours.spec, "{}", ours.key());
        assert_eq!(back.metadata.name, ours.metadata.name);
        assert_eq!(back.metadata.namespace, ours.metadata.namespace);
        assert_eq!(back.metadata.labels, ours.metadata.labels);

        // The two serializations agree on the spec, absent and empty lists included.
        let ours_json = serde_json::to_value(&ours).unwrap();
        let theirs_json = serde_json::to_value(&theirs).unwrap();
        assert_eq!(theirs_json["spec"], ours_json["spec"], "{}", ours.key());

        // And decoding the same JSON with k8s-openapi and converting gives our decoding.
        if let Ok(decoded) = serde_json::from_value::<k8s::NetworkPolicy>(json.clone()) {
            assert_eq!(
                NetworkPolicy::from(decoded).spec,
                ours.spec,
                "{}",
                ours.key()
            );
        }
    }
}

#[test]
fn absent_and_empty_lists_stay_apart() {
    let ours = NetworkPolicy::from_json(
        r#"{"metadata": {"name": "p"},
            "spec": {"podSelector": {}, "ingress": [], "policyTypes": ["Ingress", "Egress"],
                     "egress": [{"to": [], "ports": [{"port": 53, "protocol": "UDP"}]}]}}"#,
    )
    .unwrap();
    let theirs = k8s::NetworkPolicy::try_from(ours.clone()).unwrap();
    let spec = theirs.spec.as_ref().unwrap();
    assert_eq!(spec.ingress.as_deref(), Some(&[][..]));
    let rule = &spec.egress.as_ref().unwrap()[0];
    assert_eq!(rule.to.as_deref(), Some(&[][..]));
    assert_eq!(
        rule.ports.as_ref().unwrap()[0].port,
        Some(intstr::IntOrString::Int(53))
    );
    assert_eq!(rule.ports.as_ref().unwrap()[0].end_port, None);
    assert_eq!(NetworkPolicy::from(theirs).spec, ours.spec);

    let none = k8s::NetworkPolicySpec::default();
    let spec = NetworkPolicySpec::from(none);
    assert!(spec.ingress.is_none() && spec.egress.is_none() && spec.pod_selector.is_none());
}

#[test]
fn int_or_string_both_variants() {
    for v in [IntOrString::Int(8080), IntOrString::String("http".into())] {
        let theirs = intstr::IntOrString::from(v.clone());
        assert_eq!(
            serde_json::to_value(&theirs).unwrap(),
            serde_json::to_value(&v).unwrap()
        );
        assert_eq!(IntOrString::from(theirs), v);
    }
}

#[test]
fn typed_metadata_fields_survive_both_ways() {
    let ours = NetworkPolicy::from_value(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {
            "name": "db", "namespace": "shop", "labels": {"a": "b"},
            "annotations": {"note": "x"}, "uid": "0b7c-11",
            "resourceVersion": "42", "generation": 3,
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "deletionTimestamp": "2024-05-02T10:00:00Z", "deletionGracePeriodSeconds": 30,
            "finalizers": ["f"], "selfLink": "/x",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u"}],
            "managedFields": [{"manager": "kubectl", "operation": "Update",
                               "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:spec": {}}}]
        },
        "spec": {"podSelector": {}}
    }))
    .unwrap();
    let theirs = k8s::NetworkPolicy::try_from(ours.clone()).unwrap();
    assert_eq!(theirs.metadata.uid.as_deref(), Some("0b7c-11"));
    assert_eq!(theirs.metadata.generation, Some(3));
    assert_eq!(
        theirs.metadata.owner_references.as_ref().unwrap()[0].name,
        "o"
    );
    assert_eq!(theirs.metadata.annotations.as_ref().unwrap()["note"], "x");
    let back = NetworkPolicy::from(theirs);
    // Lossless here: everything written was a field k8s-openapi knows.
    assert_eq!(back, ours);
}

#[test]
fn what_k8s_openapi_cannot_hold_is_dropped_or_refused() {
    let ours = NetworkPolicy::from_value(&json!({
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "madeUpField": 1},
        "spec": {},
        "status": {"conditions": []}
    }))
    .unwrap();
    let back = NetworkPolicy::from(k8s::NetworkPolicy::try_from(ours).unwrap());
    // apiVersion is k8s-openapi's, unknown metadata and top-level fields are gone.
    assert_eq!(back.api_version.as_deref(), Some("networking.k8s.io/v1"));
    assert!(back.metadata.extra.is_empty());
    assert!(back.extra.is_empty());

    // Go's time parser takes a one-digit hour; k8s-openapi's does not.
    let bad = NetworkPolicy::from_value(&json!({
        "metadata": {"name": "p", "managedFields": [{"time": "2024-05-01T9:00:00Z"}]}
    }))
    .unwrap();
    let err: ConversionError = k8s::NetworkPolicy::try_from(bad).unwrap_err();
    assert_eq!(err.field, "metadata.managedFields[0].time");
    assert!(
        err.to_string()
            .starts_with("metadata.managedFields[0].time: ")
    );
}

#[test]
fn a_missing_spec_becomes_an_empty_one() {
    let theirs = k8s::NetworkPolicy {
        metadata: Default::default(),
        spec: None,
    };
    let ours = NetworkPolicy::from(theirs);
    assert_eq!(ours.spec, NetworkPolicySpec::default());
    assert!(k8s::NetworkPolicy::try_from(ours).unwrap().spec.is_some());
}

/// The objects of a generated workload and of a kubectl dump, decoded once by
/// k8s-openapi and converted, once by the crate's own models: the same cluster either way.
#[test]
fn core_objects_from_k8s_openapi_build_the_same_cluster() {
    use k8s_openapi::api::core::v1 as core;
    use netpol::cluster::ClusterObjects;
    use netpol::model::{Namespace, Node, Pod};

    let generated = netpol_testing::workload::generate(netpol_testing::workload::Scale::S, 5);
    let dump_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cli/tests/data/kubectl-dump.yaml");
    let dump: Value = serde_saphyr::from_str(&std::fs::read_to_string(dump_path).unwrap()).unwrap();
    for objects in [
        generated.scenario.cluster_objects(),
        dump["items"].as_array().unwrap().clone(),
    ] {
        let mut ours = ClusterObjects::new();
        let mut theirs = ClusterObjects::new();
        let mut pods = 0;
        for v in &objects {
            match v["kind"].as_str().unwrap() {
                "Namespace" => {
                    ours.add_namespace(Namespace::from_value(v).unwrap());
                    let k: core::Namespace = serde_json::from_value(v.clone()).unwrap();
                    theirs.add_namespace(Namespace::from(k));
                }
                "Node" => {
                    ours.add_node(Node::from_value(v).unwrap());
                    let k: core::Node = serde_json::from_value(v.clone()).unwrap();
                    theirs.add_node(Node::from(k));
                }
                "Pod" => {
                    let direct = Pod::from_value(v).unwrap();
                    let k: core::Pod = serde_json::from_value(v.clone()).unwrap();
                    let converted = Pod::from(k);
                    assert_eq!(direct.metadata.name, converted.metadata.name);
                    assert_eq!(direct.spec.node_name, converted.spec.node_name);
                    assert_eq!(direct.spec.host_network, converted.spec.host_network);
                    assert_eq!(direct.status.pod_ips, converted.status.pod_ips);
                    let ports = |p: &Pod| -> Vec<_> {
                        p.spec
                            .containers
                            .iter()
                            .flatten()
                            .map(|c| c.ports.clone())
                            .collect()
                    };
                    assert_eq!(ports(&direct), ports(&converted));
                    ours.add_pod(direct);
                    theirs.add_pod(converted);
                    pods += 1;
                }
                _ => {}
            }
        }
        assert!(pods > 10);
        let (a, b) = (ours.build().unwrap(), theirs.build().unwrap());
        assert_eq!(a.notes, b.notes);
        let describe = |c: &netpol::cluster::Cluster| -> Vec<String> {
            c.pods()
                .map(|(id, p)| {
                    format!(
                        "{}/{} {:?} {:?} {:?} {:?} {}",
                        c.pod_namespace_name(id),
                        p.name,
                        p.labels,
                        p.ips,
                        p.node.map(|n| c.node(n).unwrap().name.clone()),
                        p.ports,
                        p.service_account
                    )
                })
                .chain(
                    c.nodes()
                        .map(|(_, n)| format!("{} {:?} {:?}", n.name, n.labels, n.ips)),
                )
                .chain(
                    c.namespaces()
                        .map(|(_, n)| format!("{} {:?}", n.name, n.labels)),
                )
                .collect()
        };
        assert_eq!(describe(&a.cluster), describe(&b.cluster));
        assert_eq!(a.cluster.pod_count(), b.cluster.pod_count());
    }
}
