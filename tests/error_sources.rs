//! Errors that wrap another error keep it as their `source`, and the wrapped error is the
//! crate's own type: a caller walking the chain finds the structured error, not text.

use std::error::Error as _;

use netpol::engine::live::LiveEngine;
use netpol::engine::watch::{Feed, FeedError, WatchEvent};
use netpol::flannel::NetConf;
use netpol::model::DecodeError;
use netpol::service::{NoEndpoints, Service, ServiceError, ServiceRequestError};
use netpol::validate::ValidationErrors;

fn feed() -> Feed {
    Feed::new(LiveEngine::new(
        &Default::default(),
        Default::default(),
        Default::default(),
    ))
}

#[test]
fn a_refused_policy_keeps_its_field_errors() {
    let event = WatchEvent::from_json(
        r#"{"type": "ADDED", "object": {"kind": "NetworkPolicy",
            "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": "bad", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Sideways"]}}}"#,
    )
    .unwrap();
    let err = feed().apply(&event).unwrap_err();
    let FeedError::Refused { key, errors } = &err else {
        panic!("not a refusal: {err}");
    };
    assert_eq!(key, "networkpolicy shop/bad");
    assert_eq!(errors.errors()[0].field, "spec.policyTypes[0]");
    let source = err.source().expect("a refusal has a source");
    assert_eq!(source.downcast_ref::<ValidationErrors>(), Some(errors));
    assert_eq!(err.to_string(), format!("{key}: refused: {errors}"));
}

#[test]
fn a_watch_event_that_does_not_decode_keeps_the_decode_error() {
    // Not JSON: the syntax error, with its position.
    let err = WatchEvent::from_json("{\"type\": \"ADDED\",\n  \"object\": }").unwrap_err();
    let source = err.source().and_then(|s| s.downcast_ref::<DecodeError>());
    let source = source.expect("a decode error has a DecodeError source");
    assert_eq!((source.line, source.column), (2, 13));
    assert_eq!(err.to_string(), format!("watch event: {source}"));

    // An object that does not decode: the field path.
    let err = WatchEvent::from_json(
        r#"{"type": "MODIFIED", "object": {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": "n1", "labels": {"zone": 3}}}}"#,
    )
    .unwrap_err();
    let source = err.source().and_then(|s| s.downcast_ref::<DecodeError>());
    assert_eq!(
        source.map(|d| d.path.as_str()),
        Some("metadata.labels.zone")
    );

    // Not an event at all: nothing underneath.
    let err = WatchEvent::from_json(r#"{"object": {}}"#).unwrap_err();
    assert!(matches!(err, FeedError::NotAnEvent { field: "type", .. }));
    assert!(err.source().is_none());
}

#[test]
fn a_service_that_does_not_decode_is_the_decode_error() {
    let err =
        Service::from_json(r#"{"metadata": {"name": "web"}, "spec": {"ports": [{"port": "x"}]}}"#)
            .unwrap_err();
    let ServiceError::Decode(decode) = &err else {
        panic!("not a decode error: {err}");
    };
    assert_eq!(decode.path, "spec.ports[0].port");
    // Nothing is added around it: the text is the decode error's.
    assert_eq!(err.to_string(), decode.to_string());
}

#[test]
fn an_undecidable_service_answer_keeps_the_request_error() {
    let why = ServiceRequestError::ClientNodeUnknown {
        client: "tools/drifter".into(),
    };
    let reason = NoEndpoints::Undecidable(why.clone());
    let source = reason
        .source()
        .and_then(|s| s.downcast_ref::<ServiceRequestError>());
    assert_eq!(source, Some(&why));
    // Its JSON is the message, as before the error was kept.
    assert_eq!(
        serde_json::to_value(&reason).unwrap(),
        serde_json::json!({"undecidable": why.to_string()})
    );
    assert!(NoEndpoints::NoSelector.source().is_none());
}

#[test]
fn a_net_conf_syntax_error_keeps_the_decode_error() {
    let err = NetConf::parse("{\"Network\": 10.244.0.0/16}").unwrap_err();
    let source = err.source().and_then(|s| s.downcast_ref::<DecodeError>());
    let source = source.expect("a syntax error has a DecodeError source");
    assert_eq!(Some(source.line), err.line());
    assert_eq!(Some(source.column), err.column());
    // Errors of flannel's own checks wrap nothing.
    let err = NetConf::parse("{}").unwrap_err();
    assert!(err.source().is_none());
}
