//! Traffic to Services from outside the cluster: the Service fields that carry it
//! (decoding, round trips, the apiserver's checks), the node data the translation reads,
//! the family of a flow to a cluster IP (engine and reference alike), and the translation
//! on small clusters whose answers are worked out by hand from kube-proxy's rules.

use std::net::IpAddr;

use netpol::cluster::{
    Cluster, ClusterObjects, Endpoint, Flow, IpFamily, NodeSpec, NoteKind, PodSpec,
};
use netpol::engine::Engine;
use netpol::explain::{Evaluator, Note, Verdict};
use netpol::model::{Node, decode_policies};
use netpol::policy::{Policy, Protocol};
use netpol::profile::{Profile, ServiceMasquerade};
use netpol::reference::Reference;
use netpol::service::{
    Dropped, IpMode, NoEndpoints, Reachability, Service, ServiceAddress, ServiceProxy,
    ServiceRequest, ServiceRequestError, ServiceTable, ServiceType, SourceSeen, TrafficPolicy,
};

fn service(spec: serde_json::Value) -> Service {
    Service::from_value(&serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"}, "spec": spec}))
    .unwrap()
}

fn resolve_err(v: serde_json::Value) -> String {
    let svc = Service::from_value(&v).unwrap();
    svc.resolve().unwrap_err().to_string()
}

#[test]
fn service_fields_decode_as_the_apiserver_does_and_round_trip() {
    let text = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
      "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", "externalIPs": null,
               "externalTrafficPolicy": null, "healthCheckNodePort": null,
               "ports": [{"port": 80, "nodePort": null}]},
      "status": {"loadBalancer": {"ingress": [null]}}}"#;
    let svc = Service::from_json(text).unwrap();
    // null is the zero value: absent fields, an ingress entry with nothing set.
    assert!(svc.spec.external_ips.is_none() && svc.spec.external_traffic_policy.is_none());
    assert_eq!(svc.spec.ports.as_ref().unwrap()[0].node_port, None);
    let ingress = svc.status.as_ref().unwrap().load_balancer.as_ref().unwrap();
    assert_eq!(ingress.ingress.as_ref().unwrap().len(), 1);
    let r = svc.resolve().unwrap();
    assert_eq!(r.external_traffic_policy, TrafficPolicy::Cluster);
    assert_eq!(r.load_balancer[0].ip, None);
    assert_eq!(r.load_balancer_vips().count(), 0);

    // Go types are checked where they are typed or only kept.
    for bad in [
        r#"{"spec": {"ports": [{"port": 80, "nodePort": "30080"}]}}"#,
        r#"{"spec": {"externalIPs": [1]}}"#,
        r#"{"spec": {"healthCheckNodePort": 1.5}}"#,
        r#"{"spec": {"loadBalancerSourceRanges": "10.0.0.0/8"}}"#,
        r#"{"status": []}"#,
        r#"{"status": {"loadBalancer": {"ingress": {}}}}"#,
        r#"{"status": {"loadBalancer": {"ingress": [{"ports": [{"port": "x"}]}]}}}"#,
        r#"{"status": {"conditions": [{"lastTransitionTime": "yesterday"}]}}"#,
    ] {
        assert!(Service::from_json(bad).is_err(), "{bad}");
    }

    // Everything round-trips, unknown fields and kept ones included.
    let full = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},
      "spec":{"type":"NodePort","clusterIP":"10.96.0.5","clusterIPs":["10.96.0.5"],
              "externalIPs":["203.0.113.20"],"externalTrafficPolicy":"Local","internalTrafficPolicy":"Local",
              "ports":[{"name":"http","port":80,"targetPort":"http","nodePort":30080,"protocol":"TCP","appProtocol":"http"}],
              "selector":{"app":"web"},"sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",
              "futureField":{"x":1}},
      "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10","ipMode":"VIP","ports":[{"port":80,"protocol":"TCP"}]},
                                          {"hostname":"lb.example.com"}]},
                "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z","reason":"x","message":"y"}]}}"#;
    let svc = Service::from_json(full).unwrap();
    let back = serde_json::to_value(&svc).unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(full).unwrap()
    );
    assert_eq!(Service::from_value(&back).unwrap(), svc);
}

#[test]
fn the_apiservers_checks_on_outside_fields() {
    let v = |spec: serde_json::Value| serde_json::json!({"metadata": {"name": "x", "namespace": "shop"}, "spec": spec});
    let cases = [
        (
            serde_json::json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30080}]}),
            "spec.ports[0].nodePort: may not be used when `type` is 'ClusterIP'",
        ),
        (
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 70000}]}),
            "spec.ports[0].nodePort: 70000 is not a port number (1-65535)",
        ),
        (
            serde_json::json!({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                                             {"name": "b", "port": 81, "nodePort": 30080}]}),
            "spec.ports[1].nodePort: duplicate value 30080",
        ),
        (
            serde_json::json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}),
            "spec.clusterIP: may not be set to 'None' for NodePort services",
        ),
        (
            serde_json::json!({"externalIPs": ["203.0.113.300"], "ports": [{"port": 80}]}),
            "spec.externalIPs[0]: \"203.0.113.300\" is not an IP address",
        ),
        (
            serde_json::json!({"externalIPs": ["0.0.0.0"], "ports": [{"port": 80}]}),
            "spec.externalIPs[0]: \"0.0.0.0\" may not be unspecified (0.0.0.0, ::)",
        ),
        (
            serde_json::json!({"externalIPs": ["169.254.1.1"], "ports": [{"port": 80}]}),
            "spec.externalIPs[0]: \"169.254.1.1\" may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ),
        (
            serde_json::json!({"externalIPs": ["ff02::1"], "ports": [{"port": 80}]}),
            "spec.externalIPs[0]: \"ff02::1\" may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ),
        (
            serde_json::json!({"clusterIP": "10.96.0.1", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
            "spec.externalTrafficPolicy: \"Local\" may only be set for externally-accessible services",
        ),
        (
            serde_json::json!({"type": "NodePort", "externalTrafficPolicy": "local", "ports": [{"port": 80}]}),
            "spec.externalTrafficPolicy: unsupported value \"local\": supported values are \"Cluster\", \"Local\"",
        ),
        (
            serde_json::json!({"internalTrafficPolicy": "Node", "ports": [{"port": 80}]}),
            "spec.internalTrafficPolicy: unsupported value \"Node\": supported values are \"Cluster\", \"Local\"",
        ),
        (
            serde_json::json!({"type": "LoadBalancer", "healthCheckNodePort": 32000, "ports": [{"port": 80}]}),
            "spec.healthCheckNodePort: 32000 may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
        (
            serde_json::json!({"type": "NodePort", "loadBalancerSourceRanges": ["10.0.0.0/8"], "ports": [{"port": 80}]}),
            "spec.LoadBalancerSourceRanges: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            serde_json::json!({"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/33"], "ports": [{"port": 80}]}),
            "spec.LoadBalancerSourceRanges[0]: \"10.0.0.0/33\" is not a CIDR (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(resolve_err(v(spec)), format!("service shop/x: {want}"));
    }
    let status = |ingress: serde_json::Value, type_: &str| {
        serde_json::json!({"metadata": {"name": "x", "namespace": "shop"},
            "spec": {"type": type_, "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": ingress}}})
    };
    for (ingress, type_, want) in [
        (
            serde_json::json!([{"ip": "203.0.113.10"}]),
            "NodePort",
            "status.loadBalancer.ingress: may only be used when `spec.type` is 'LoadBalancer'",
        ),
        (
            serde_json::json!([{"ip": "lb"}]),
            "LoadBalancer",
            "status.loadBalancer.ingress[0].ip: \"lb\" is not an IP address",
        ),
        (
            serde_json::json!([{"hostname": "203.0.113.10"}]),
            "LoadBalancer",
            "status.loadBalancer.ingress[0].hostname: \"203.0.113.10\" must be a DNS name, not an IP address",
        ),
        (
            serde_json::json!([{"hostname": "lb.example.com", "ipMode": "VIP"}]),
            "LoadBalancer",
            "status.loadBalancer.ingress[0].ipMode: may not be specified when `ip` is not set",
        ),
        (
            serde_json::json!([{"ip": "203.0.113.10", "ipMode": "vip"}]),
            "LoadBalancer",
            "status.loadBalancer.ingress[0].ipMode: unsupported value \"vip\": supported values are \"Proxy\", \"VIP\"",
        ),
    ] {
        assert_eq!(
            resolve_err(status(ingress, type_)),
            format!("service shop/x: {want}")
        );
    }

    // What the apiserver accepts: legacy leading zeros, spaces around a range, an
    // absent ipMode (VIP), a health check port on a Local load balancer.
    let ok = service(
        serde_json::json!({"type": "LoadBalancer", "clusterIP": "10.96.0.1",
        "externalIPs": ["203.000.113.020"], "externalTrafficPolicy": "Local", "healthCheckNodePort": 32100,
        "loadBalancerSourceRanges": [" 198.51.100.0/24 "], "ports": [{"port": 80, "nodePort": 30080}]}),
    );
    let mut ok = ok;
    ok.status = Some(
        serde_json::from_value(
            serde_json::json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"},
            {"ip": "2001:db8::10", "ipMode": "Proxy"}]}}),
        )
        .unwrap(),
    );
    let r = ok.resolve().unwrap();
    assert_eq!(r.service_type, ServiceType::LoadBalancer);
    assert_eq!(r.external_ips, ["203.0.113.20".parse::<IpAddr>().unwrap()]);
    assert_eq!(r.source_ranges[0].to_string(), "198.51.100.0/24");
    assert_eq!(r.health_check_node_port, Some(32100));
    assert_eq!(r.load_balancer[0].mode, IpMode::Vip);
    assert_eq!(r.load_balancer[1].mode, IpMode::Proxy);
    assert!(r.external_policy_local());
    assert_eq!(r.ports[0].node_port, Some(30080));
}

#[test]
fn nodes_carry_pod_subnets_and_calicos_tunnel_addresses() {
    let mut objects = ClusterObjects::new();
    let node = Node::from_json(
        r#"{"metadata": {"name": "n1", "annotations": {
              "projectcalico.org/IPv4VXLANTunnelAddr": "10.244.1.65",
              "projectcalico.org/IPv4IPIPTunnelAddr": "10.244.1.64",
              "projectcalico.org/IPv6VXLANTunnelAddr": "bad"}},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64", "x/y"]},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.11"}]}}"#,
    )
    .unwrap();
    // The spec round-trips.
    let back = serde_json::to_value(&node).unwrap();
    assert_eq!(back["spec"]["podCIDRs"][1], "fd00:10:244:1::/64");
    objects.add_node(node);
    let built = objects.build().unwrap();
    let c = &built.cluster;
    let n1 = c.node(c.node_id("n1").unwrap()).unwrap();
    assert_eq!(n1.pod_cidrs.len(), 2);
    assert_eq!(
        n1.pod_cidr(IpFamily::Ipv6).unwrap().to_string(),
        "fd00:10:244:1::/64"
    );
    // IPIP is read first.
    assert_eq!(
        n1.tunnel_ip(IpFamily::Ipv4),
        Some("10.244.1.64".parse().unwrap())
    );
    assert!(built.notes.iter().any(|n| matches!(&n.kind,
        NoteKind::BadCidr { field, .. } if field == "spec.podCIDRs[2]")));
    assert!(built.notes.iter().any(|n| matches!(&n.kind,
        NoteKind::BadAddress { field, .. } if field == "metadata.annotations[projectcalico.org/IPv6VXLANTunnelAddr]")));
    // A copy of the cluster keeps them.
    let again = c.to_builder().build().unwrap();
    let n1 = again.node(again.node_id("n1").unwrap()).unwrap();
    assert_eq!(n1.tunnel_ips.len(), 2);
}

#[test]
fn a_flow_given_a_family_is_decided_in_it_by_engine_and_reference() {
    let cluster = Cluster::builder()
        .pod(
            PodSpec::new("x", "client")
                .ip("10.0.0.1".parse().unwrap())
                .ip("fd00::1".parse().unwrap()),
        )
        .pod(
            PodSpec::new("x", "server")
                .label("app", "server")
                .ip("10.0.0.2".parse().unwrap())
                .ip("fd00::2".parse().unwrap()),
        )
        .build()
        .unwrap();
    let written = decode_policies(
        r#"{"metadata": {"name": "v4-client", "namespace": "x"},
            "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                     "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/32"}}]}]}}"#,
    )
    .unwrap();
    let policies: Vec<Policy> = written.iter().map(|p| Policy::new(p).unwrap()).collect();
    let engine = Engine::build(&cluster, &policies);
    let reference = Reference::new(&cluster, &policies, Profile::default());
    let client = Endpoint::Pod(cluster.pod_id("x", "client").unwrap());
    let server = Endpoint::Pod(cluster.pod_id("x", "server").unwrap());
    let plain = Flow::new(client, server, 80, Protocol::Tcp);
    for (flow, want) in [
        (plain, Verdict::Allow),
        (plain.in_family(IpFamily::Ipv4), Verdict::Allow),
        (plain.in_family(IpFamily::Ipv6), Verdict::Deny),
    ] {
        assert_eq!(engine.decide(flow), want, "{flow:?}");
        assert_eq!(reference.decide(flow), want, "{flow:?}");
        assert_eq!(engine.explain(flow), reference.explain(flow));
    }
    // An outside address still decides the family of its flow.
    let outside = Endpoint::External("10.0.0.1".parse().unwrap());
    let f = Flow::new(outside, server, 80, Protocol::Tcp).in_family(IpFamily::Ipv6);
    assert_eq!(cluster.flow_is_v6(f), Some(false));
    assert_eq!(engine.decide(f), reference.decide(f));
}

#[test]
fn pod_to_outside_is_noted_not_changed() {
    let cluster = Cluster::builder()
        .add_node(
            NodeSpec::new("n1")
                .ip("192.168.0.11".parse().unwrap())
                .ip("fd00::11".parse().unwrap()),
        )
        .pod(
            PodSpec::new("x", "a")
                .ip("10.0.0.1".parse().unwrap())
                .ip("fd00:1::1".parse().unwrap())
                .node("n1"),
        )
        .pod(PodSpec::new("x", "nowhere").ip("10.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let deny_all = [Policy::new(&netpol::model::NetworkPolicy::new("x", "deny")).unwrap()];
    let a = Endpoint::Pod(cluster.pod_id("x", "a").unwrap());
    let v6 = Endpoint::External("2001:db8::1".parse().unwrap());
    for profile in [Profile::conformance(), Profile::flannel()] {
        let engine = Engine::builder()
            .profile(profile.clone())
            .build(&cluster, &deny_all);
        let why = engine.explain(Flow::new(a, v6, 443, Protocol::Tcp));
        assert_eq!(
            why.notes,
            [Note::OutgoingNat {
                node: Some("n1".into()),
                address: Some("fd00::11".parse().unwrap())
            }]
        );
        assert_eq!(
            why.verdict,
            engine.decide(Flow::new(a, v6, 443, Protocol::Tcp))
        );
    }
    let engine = Engine::build(&cluster, &[]);
    let nowhere = Endpoint::Pod(cluster.pod_id("x", "nowhere").unwrap());
    let out = Endpoint::External("198.51.100.7".parse().unwrap());
    let why = engine.explain(Flow::new(nowhere, out, 443, Protocol::Tcp));
    assert!(why.to_string().ends_with("comes from its node's address (the network plugin's outgoing NAT, after the policy): the policy decides on the pod's own address"));
    // Inbound and in-cluster flows carry no note.
    assert!(
        engine
            .explain(Flow::new(out, a, 80, Protocol::Tcp))
            .notes
            .is_empty()
    );
    assert!(
        engine
            .explain(Flow::new(a, nowhere, 80, Protocol::Tcp))
            .notes
            .is_empty()
    );
}

#[test]
fn profiles_written_before_the_service_knobs_still_read() {
    let old = r#"{"name": "mine", "enforcesNetworkPolicy": true, "ipblockMatchesPods": true,
                  "ipblockMatchesNodes": true, "ownNodeExempt": true, "selfExempt": true}"#;
    let p: Profile = serde_json::from_str(old).unwrap();
    assert_eq!(p.service_masquerade(), ServiceMasquerade::NodeIp);
    assert!(!p.socket_load_balancer());
    let round: Profile =
        serde_json::from_str(&serde_json::to_string(&Profile::cilium()).unwrap()).unwrap();
    assert_eq!(round, Profile::cilium());
}

/// Three nodes (IPs 192.168.0.11-13, pod subnets 10.244.N.0/24, tunnel addresses
/// 10.244.N.64 on node-1 and node-2 only), web endpoints on node-2 and node-3, a client
/// pod on node-1.
fn three_nodes() -> Cluster {
    let mut b = Cluster::builder();
    for i in 1..=3 {
        let mut n = NodeSpec::new(format!("node-{i}"))
            .ip(format!("192.168.0.1{i}").parse().unwrap())
            .pod_cidr(format!("10.244.{i}.0/24").parse().unwrap());
        if i < 3 {
            n = n.tunnel_ip(format!("10.244.{i}.64").parse().unwrap());
        }
        b = b.add_node(n);
    }
    b.pod(
        PodSpec::new("shop", "web-2")
            .label("app", "web")
            .ip("10.244.2.10".parse().unwrap())
            .node("node-2"),
    )
    .pod(
        PodSpec::new("shop", "web-3")
            .label("app", "web")
            .ip("10.244.3.10".parse().unwrap())
            .node("node-3"),
    )
    .pod(
        PodSpec::new("tools", "client")
            .label("app", "client")
            .ip("10.244.1.20".parse().unwrap())
            .node("node-1"),
    )
    .pod(PodSpec::new("tools", "drifter").ip("10.244.9.9".parse().unwrap()))
    .build()
    .unwrap()
}

fn lb(extra: serde_json::Value) -> Service {
    let mut spec = serde_json::json!({"type": "LoadBalancer", "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let mut svc = service(spec);
    svc.status = Some(
        serde_json::from_value(
            serde_json::json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}),
        )
        .unwrap(),
    );
    svc
}

struct Setup {
    cluster: Cluster,
    table: ServiceTable,
    policies: Vec<Policy>,
}

fn setup(svc: Service, policy: &str) -> Setup {
    let cluster = three_nodes();
    let table = ServiceTable::build(&cluster, &[svc.resolve().unwrap()]).unwrap();
    let written = decode_policies(policy).unwrap();
    let policies = written.iter().map(|p| Policy::new(p).unwrap()).collect();
    Setup {
        cluster,
        table,
        policies,
    }
}

impl Setup {
    fn node(&self, name: &str) -> netpol::cluster::NodeId {
        self.cluster.node_id(name).unwrap()
    }
    fn pod(&self, ns: &str, name: &str) -> Endpoint {
        Endpoint::Pod(self.cluster.pod_id(ns, name).unwrap())
    }
    fn web(&self) -> netpol::service::ServiceId {
        self.table.lookup("shop", "web").unwrap()
    }
    /// The answer with both evaluators (which must agree), per endpoint name.
    fn ask(
        &self,
        profile: &Profile,
        proxy: ServiceProxy,
        req: ServiceRequest,
    ) -> netpol::service::ServiceVerdict {
        let engine = Engine::builder()
            .profile(profile.clone())
            .build(&self.cluster, &self.policies);
        let reference = Reference::new(&self.cluster, &self.policies, profile.clone());
        let a = self.table.answer(&engine, &proxy, req).unwrap();
        let b = self.table.answer(&reference, &proxy, req).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            self.table.reach(&engine, &proxy, req).unwrap(),
            a.reachability
        );
        a
    }
}

fn verdicts(v: &netpol::service::ServiceVerdict) -> Vec<(String, Verdict)> {
    v.endpoints
        .iter()
        .map(|e| (e.endpoint.clone(), e.explanation.verdict))
        .collect()
}

const CLIENT_NETWORK: &str = r#"{"metadata": {"name": "clients", "namespace": "shop"},
  "spec": {"podSelector": {"matchLabels": {"app": "web"}},
           "ingress": [{"from": [{"ipBlock": {"cidr": "198.51.100.0/24"}}]}]}}"#;
const POD_NETWORK: &str = r#"{"metadata": {"name": "pods", "namespace": "shop"},
  "spec": {"podSelector": {"matchLabels": {"app": "web"}},
           "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]}]}}"#;

#[test]
fn cluster_policy_keeps_the_client_on_the_receiving_node_and_masquerades_elsewhere() {
    let s = setup(lb(serde_json::json!({})), CLIENT_NETWORK);
    let outside = Endpoint::External("198.51.100.7".parse().unwrap());
    let at = |n: &str| {
        ServiceRequest::new(
            outside,
            s.web(),
            ServiceAddress::LoadBalancerIp("203.0.113.10".parse().unwrap()),
            80,
            Protocol::Tcp,
        )
        .received_by(s.node(n))
    };
    let p = Profile::conformance();
    let v = s.ask(&p, ServiceProxy::new(&p), at("node-2"));
    assert_eq!(v.reachability, Reachability::Some);
    assert_eq!(
        verdicts(&v),
        [
            ("shop/web-2".into(), Verdict::Allow),
            ("shop/web-3".into(), Verdict::Deny)
        ]
    );
    assert_eq!(v.endpoints[0].source_seen, SourceSeen::Client);
    assert_eq!(v.endpoints[1].flow.src, Endpoint::Node(s.node("node-2")));
    assert_eq!(v.endpoints[1].client_ingress, Some(Verdict::Allow));
    assert_eq!(v.received_by.as_deref(), Some("node-2"));
    let text = v.to_string();
    assert!(
        text.contains("node-2 masquerades it towards endpoints on other nodes"),
        "{text}"
    );
    assert!(
        text.contains("the policy saw node-2's masquerade address 192.168.0.12, not the client"),
        "{text}"
    );
    assert!(
        text.contains("the client's own address would be admitted: what admits it (an ipBlock of the client's network) does not hold 192.168.0.12"),
        "{text}"
    );
    // At a node without an endpoint, nobody sees the client.
    assert_eq!(
        s.ask(&p, ServiceProxy::new(&p), at("node-1")).reachability,
        Reachability::None
    );
    // Where the data plane keeps the client, the allow-list works everywhere.
    let dsr = p.clone().with_service_masquerade(ServiceMasquerade::Client);
    assert_eq!(
        s.ask(&dsr, ServiceProxy::new(&dsr), at("node-1"))
            .reachability,
        Reachability::All
    );
}

#[test]
fn the_masquerade_address_follows_the_profile() {
    let s = setup(lb(serde_json::json!({})), POD_NETWORK);
    let outside = Endpoint::External("203.0.113.99".parse().unwrap());
    let from = |n: &str| {
        ServiceRequest::new(
            outside,
            s.web(),
            ServiceAddress::NodePort(s.node(n)),
            30080,
            Protocol::Tcp,
        )
    };
    let seen = |p: &Profile, node: &str| {
        let v = s.ask(p, ServiceProxy::new(p), from(node));
        v.endpoints
            .iter()
            .map(|e| (e.flow.src, e.explanation.verdict))
            .collect::<Vec<_>>()
    };
    let ext = |ip: &str| Endpoint::External(ip.parse().unwrap());
    // Calico (tunnel address): the pod-network ipBlock lets every outside client in.
    assert_eq!(
        seen(&Profile::calico(), "node-1"),
        [
            (ext("10.244.1.64"), Verdict::Allow),
            (ext("10.244.1.64"), Verdict::Allow)
        ]
    );
    // node-3 records no tunnel address: no encapsulation, its IP.
    let n3 = Endpoint::Node(s.node("node-3"));
    assert_eq!(seen(&Profile::calico(), "node-3")[0], (n3, Verdict::Deny));
    // canal (flannel.1): the recorded tunnel address, else the pod subnet's network address.
    assert_eq!(
        seen(&Profile::canal(), "node-3")[0],
        (ext("10.244.3.0"), Verdict::Allow)
    );
    // The node IP: not in the pod network.
    assert_eq!(
        seen(&Profile::kube_router(), "node-1")[0],
        (Endpoint::Node(s.node("node-1")), Verdict::Deny)
    );
    // A tunnel address where ipBlocks do not match nodes is the node itself.
    let strict = Profile::calico().with_ipblock_matches_nodes(false);
    assert_eq!(
        seen(&strict, "node-1")[0],
        (Endpoint::Node(s.node("node-1")), Verdict::Deny)
    );
}

#[test]
fn local_policy_serves_from_the_receiving_node_only() {
    let s = setup(
        lb(serde_json::json!({"externalTrafficPolicy": "Local", "healthCheckNodePort": 32100})),
        CLIENT_NETWORK,
    );
    let outside = Endpoint::External("198.51.100.7".parse().unwrap());
    let p = Profile::calico();
    let proxy = ServiceProxy::new(&p);
    let lb_ip = ServiceAddress::LoadBalancerIp("203.0.113.10".parse().unwrap());
    let req = |n: &str| {
        ServiceRequest::new(outside, s.web(), lb_ip, 80, Protocol::Tcp).received_by(s.node(n))
    };
    let v = s.ask(&p, proxy, req("node-3"));
    assert_eq!(verdicts(&v), [("shop/web-3".into(), Verdict::Allow)]);
    let none = s.ask(&p, proxy, req("node-1"));
    assert_eq!(none.reachability, Reachability::NoEndpoints);
    assert_eq!(
        none.no_endpoints,
        Some(NoEndpoints::NoLocalEndpoint {
            node: "node-1".into(),
            external: true
        })
    );
    // A pod of the cluster is short-circuited to every endpoint, unmasqueraded.
    let pod = ServiceRequest::new(s.pod("tools", "client"), s.web(), lb_ip, 80, Protocol::Tcp);
    let v = s.ask(&p, proxy, pod);
    assert_eq!(v.endpoints.len(), 2);
    assert!(
        v.endpoints
            .iter()
            .all(|e| e.source_seen == SourceSeen::Client && e.egress_flow.is_none())
    );
    // and takes no receiving node.
    let engine = Engine::build(&s.cluster, &s.policies);
    assert!(matches!(
        s.table
            .answer(&engine, &proxy, pod.received_by(s.node("node-2"))),
        Err(ServiceRequestError::NodeNotApplicable { .. })
    ));
    // An outside client must say where it arrives.
    let bare = ServiceRequest::new(outside, s.web(), lb_ip, 80, Protocol::Tcp);
    assert!(matches!(
        s.table.answer(&engine, &proxy, bare),
        Err(ServiceRequestError::NodeRequired { .. })
    ));
}

#[test]
fn source_ranges_drop_outsiders_and_pods_but_not_node_ports_or_socket_lb_pods() {
    let s = setup(
        lb(serde_json::json!({"loadBalancerSourceRanges": ["198.51.100.0/24"]})),
        r#"{"metadata": {"name": "open", "namespace": "shop"}, "spec": {"podSelector": {}, "ingress": [{}]}}"#,
    );
    let stranger = Endpoint::External("203.0.113.50".parse().unwrap());
    let lb_ip = ServiceAddress::LoadBalancerIp("203.0.113.10".parse().unwrap());
    let p = Profile::calico();
    let proxy = ServiceProxy::new(&p);
    let v = s.ask(
        &p,
        proxy,
        ServiceRequest::new(stranger, s.web(), lb_ip, 80, Protocol::Tcp)
            .received_by(s.node("node-2")),
    );
    assert_eq!(v.reachability, Reachability::None);
    assert_eq!(
        v.dropped,
        Some(Dropped::SourceRanges {
            client: Some("203.0.113.50".parse().unwrap()),
            ranges: vec!["198.51.100.0/24".parse().unwrap()]
        })
    );
    assert!(v.to_string().contains("NONE (dropped)"));
    let np = ServiceRequest::new(
        stranger,
        s.web(),
        ServiceAddress::NodePort(s.node("node-2")),
        30080,
        Protocol::Tcp,
    );
    assert_eq!(s.ask(&p, proxy, np).reachability, Reachability::All);
    let pod = ServiceRequest::new(s.pod("tools", "client"), s.web(), lb_ip, 80, Protocol::Tcp);
    assert!(s.ask(&p, proxy, pod).dropped.is_some());
    let cilium = Profile::cilium();
    assert_eq!(
        s.ask(&cilium, ServiceProxy::new(&cilium), pod).reachability,
        Reachability::All
    );
    // An IPv6 client is judged against the IPv6 ranges: there are none, so no filter.
    let v6 = Endpoint::External("2001:db8::9".parse().unwrap());
    let table = {
        let mut svc = lb(serde_json::json!({"loadBalancerSourceRanges": ["198.51.100.0/24"]}));
        svc.status = Some(
            serde_json::from_value(
                serde_json::json!({"loadBalancer": {"ingress": [{"ip": "2001:db8:1::10"}]}}),
            )
            .unwrap(),
        );
        ServiceTable::build(&s.cluster, &[svc.resolve().unwrap()]).unwrap()
    };
    let engine = Engine::build(&s.cluster, &s.policies);
    let req = ServiceRequest::new(
        v6,
        table.lookup("shop", "web").unwrap(),
        ServiceAddress::LoadBalancerIp("2001:db8:1::10".parse().unwrap()),
        80,
        Protocol::Tcp,
    )
    .received_by(s.node("node-2"));
    assert!(
        table
            .answer(&engine, &proxy, req)
            .unwrap()
            .dropped
            .is_none()
    );
}

#[test]
fn a_pod_dialling_another_nodes_node_port_is_judged_before_any_translation() {
    let s = setup(
        lb(serde_json::json!({"externalTrafficPolicy": "Local", "healthCheckNodePort": 32100})),
        r#"{"metadata": {"name": "to-web-only", "namespace": "tools"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}]}]}}"#,
    );
    let p = Profile::calico();
    let client = s.pod("tools", "client");
    let req = ServiceRequest::new(
        client,
        s.web(),
        ServiceAddress::NodePort(s.node("node-2")),
        30080,
        Protocol::Tcp,
    );
    let v = s.ask(&p, ServiceProxy::new(&p), req);
    assert_eq!(verdicts(&v), [("shop/web-2".into(), Verdict::Deny)]);
    let e = &v.endpoints[0];
    assert_eq!(
        e.egress_flow.map(|f| f.dst),
        Some(Endpoint::Node(s.node("node-2")))
    );
    assert_eq!(e.egress_flow.map(|f| f.port), Some(30080));
    assert!(matches!(&e.source_seen, SourceSeen::ClientNode { node, .. } if node == "node-1"));
    assert!(!e.explanation.egress.allowed);
    // Its own node's node port is translated before its egress policy: allowed.
    let own = ServiceRequest::new(
        client,
        s.web(),
        ServiceAddress::NodePort(s.node("node-1")),
        30080,
        Protocol::Tcp,
    );
    assert_eq!(
        s.ask(&p, ServiceProxy::new(&p), own).reachability,
        Reachability::All
    );
    // A pod whose node is unknown cannot be placed.
    let engine = Engine::build(&s.cluster, &s.policies);
    let drifter = ServiceRequest::new(
        s.pod("tools", "drifter"),
        s.web(),
        ServiceAddress::NodePort(s.node("node-1")),
        30080,
        Protocol::Tcp,
    );
    assert!(matches!(
        s.table.answer(&engine, &ServiceProxy::default(), drifter),
        Err(ServiceRequestError::ClientNodeUnknown { .. })
    ));
}

#[test]
fn internal_traffic_policy_masquerade_all_and_host_clients() {
    let s = setup(
        service(
            serde_json::json!({"clusterIP": "10.96.0.10", "selector": {"app": "web"},
            "internalTrafficPolicy": "Local", "ports": [{"port": 80, "targetPort": 8080}]}),
        ),
        r#"{"metadata": {"name": "from-client", "namespace": "shop"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}]}]}}"#,
    );
    let p = Profile::conformance();
    let engine = Engine::build(&s.cluster, &s.policies);
    let client = s.pod("tools", "client");
    // The client's node (node-1) has no endpoint.
    assert_eq!(
        s.table
            .reachability(&engine, client, s.web(), 80, Protocol::Tcp),
        Reachability::NoEndpoints
    );
    let v = s.table.explain(&engine, client, s.web(), 80, Protocol::Tcp);
    assert_eq!(
        v.no_endpoints,
        Some(NoEndpoints::NoLocalEndpoint {
            node: "node-1".into(),
            external: false
        })
    );
    // From node-2 itself (a host process), the endpoint on node-2.
    let host = ServiceRequest::new(
        Endpoint::Node(s.node("node-2")),
        s.web(),
        ServiceAddress::Name,
        80,
        Protocol::Tcp,
    );
    assert_eq!(s.ask(&p, ServiceProxy::new(&p), host).endpoints.len(), 1);
    // A drifting pod (no node) with a Local policy cannot be answered.
    let drifter = ServiceRequest::new(
        s.pod("tools", "drifter"),
        s.web(),
        ServiceAddress::Name,
        80,
        Protocol::Tcp,
    );
    assert!(
        s.table
            .answer(&engine, &ServiceProxy::default(), drifter)
            .is_err()
    );
    assert!(matches!(
        s.table
            .explain(
                &engine,
                s.pod("tools", "drifter"),
                s.web(),
                80,
                Protocol::Tcp
            )
            .no_endpoints,
        Some(NoEndpoints::Undecidable(_))
    ));

    // --masquerade-all: the same pod through a Cluster-policy twin is seen by the
    // endpoint on its node, and as its node's address by the others.
    let s = setup(
        service(
            serde_json::json!({"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}),
        ),
        r#"{"metadata": {"name": "from-client", "namespace": "shop"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}]}]}}"#,
    );
    let req = ServiceRequest::new(
        s.pod("tools", "client"),
        s.web(),
        ServiceAddress::ClusterIp("10.96.0.10".parse().unwrap()),
        80,
        Protocol::Tcp,
    );
    let plain = s.ask(&p, ServiceProxy::new(&p), req);
    assert_eq!(plain.reachability, Reachability::All);
    let all = s.ask(&p, ServiceProxy::new(&p).with_masquerade_all(true), req);
    assert_eq!(all.reachability, Reachability::None);
    assert!(
        all.endpoints
            .iter()
            .all(|e| e.egress_flow.is_some() && e.client_ingress == Some(Verdict::Allow))
    );
    // A cluster IP that is not the Service's is refused.
    let engine = Engine::build(&s.cluster, &s.policies);
    let wrong = ServiceRequest::new(
        s.pod("tools", "client"),
        s.web(),
        ServiceAddress::ClusterIp("10.96.0.99".parse().unwrap()),
        80,
        Protocol::Tcp,
    );
    assert_eq!(
        s.table
            .answer(&engine, &ServiceProxy::default(), wrong)
            .unwrap_err()
            .to_string(),
        "10.96.0.99 is not a cluster IP of service shop/web"
    );
}

#[test]
fn a_dual_stack_service_is_reached_in_the_family_dialled() {
    let cluster = Cluster::builder()
        .pod(
            PodSpec::new("x", "c")
                .ip("10.0.0.1".parse().unwrap())
                .ip("fd00::1".parse().unwrap()),
        )
        .pod(
            PodSpec::new("x", "s")
                .label("app", "s")
                .ip("10.0.0.2".parse().unwrap())
                .ip("fd00::2".parse().unwrap()),
        )
        .build()
        .unwrap();
    let svc = Service::from_value(&serde_json::json!({"metadata": {"name": "s", "namespace": "x"},
        "spec": {"clusterIP": "fd00:96::1", "clusterIPs": ["fd00:96::1", "10.96.0.1"], "selector": {"app": "s"},
                 "ports": [{"port": 80}]}})).unwrap();
    let table = ServiceTable::build(&cluster, &[svc.resolve().unwrap()]).unwrap();
    let written = decode_policies(r#"{"metadata": {"name": "v4", "namespace": "x"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]}}"#).unwrap();
    let policies: Vec<Policy> = written.iter().map(|p| Policy::new(p).unwrap()).collect();
    let c = Endpoint::Pod(cluster.pod_id("x", "c").unwrap());
    let id = table.lookup("x", "s").unwrap();
    for e in [
        &Engine::build(&cluster, &policies) as &dyn Evaluator,
        &Reference::new(&cluster, &policies, Profile::default()),
    ] {
        let at = |a| {
            table
                .reach(
                    e,
                    &ServiceProxy::default(),
                    ServiceRequest::new(c, id, a, 80, Protocol::Tcp),
                )
                .unwrap()
        };
        assert_eq!(
            at(ServiceAddress::ClusterIp("10.96.0.1".parse().unwrap())),
            Reachability::All
        );
        assert_eq!(
            at(ServiceAddress::ClusterIp("fd00:96::1".parse().unwrap())),
            Reachability::None
        );
        // By name: the primary family, IPv6, although the client's first address is IPv4.
        assert_eq!(at(ServiceAddress::Name), Reachability::None);
    }
}
