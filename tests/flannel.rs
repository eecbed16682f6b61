//! flannel net-conf decoding, node subnets and the conformance cases.

use ipnet::IpNet;
use netpol::flannel::*;
use netpol_testing::netconf;
use netpol_testing::shared::{count_files, shared_or_skip, shared_path};
use std::path::Path;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn run_dir(dir: &Path) -> usize {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut total = 0;
    let mut files = 0;
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if !netconf::is_netconf_file(&v) {
            continue;
        }
        let mut out = Vec::new();
        let name = path.display().to_string();
        let outcome = netconf::run_netconf_file(&name, &v, false, &mut out).unwrap();
        let report = String::from_utf8(out).unwrap();
        assert_eq!(outcome.failed, 0, "{report}");
        assert!(outcome.passed > 0);
        total += outcome.passed;
        files += 1;
    }
    // Every case file present ran (a top-level array of objects), counted apart.
    let present = count_files(dir, "json", |t| t.trim_start().starts_with('['));
    assert_eq!(files, present, "{}: case files run", dir.display());
    total
}

#[test]
fn shared_conformance_cases() {
    let Some(dir) = shared_or_skip(
        &shared_path(Path::new(env!("CARGO_MANIFEST_DIR")), "netconf"),
        "the shared net-conf cases",
    ) else {
        return;
    };
    assert!(run_dir(&dir) >= 12);
}

#[test]
fn own_conformance_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/netconf");
    assert!(run_dir(&dir) >= 40);
}

#[test]
fn runner_reports_malformed_and_failing_cases() {
    let v = serde_json::json!([
        {"netConf": "{}"},
        {"name": "wrong", "netConf": "{\"Network\": \"10.244.0.0/16\"}", "expect": {"subnetLen": 25}},
        {"name": "stage", "netConf": "{}", "expectError": "x", "errorStage": "parse"},
        {"name": "ok", "netConf": "{}", "expectError": "x", "errorStage": "check"}
    ]);
    assert!(netconf::is_netconf_file(&v));
    assert!(!netconf::is_netconf_file(
        &serde_json::json!({"netConf": "{}"})
    ));
    let mut out = Vec::new();
    let o = netconf::run_netconf_file("f.json", &v, false, &mut out).unwrap();
    assert_eq!((o.passed, o.failed), (1, 3));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("f.json: wrong: subnetLen: expected 25, got 24"));
    assert!(text.contains("f.json: stage: expected a parse error, got a check error"));

    let mut out = Vec::new();
    netconf::run_netconf_file("f.json", &v, true, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["config"]["subnetLen"], 24);
    assert_eq!(lines[1]["config"]["udpPort"], 8285);
    assert_eq!(lines[3]["error"]["stage"], "check");
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let text = "{\n  \"Network\": \"10.244.0.0/16\",\n  \"Backend\": {\n    \"Type\": \"vxlan\"\n    \"DirectRouting\": true\n  }\n}\n";
    let err = NetConf::parse(text).unwrap_err();
    assert_eq!(err.stage(), Stage::Parse);
    assert_eq!(err.line(), Some(5));
    assert_eq!(err.column(), Some(5));
    assert!(err.to_string().starts_with("parse error: invalid JSON"));
}

#[test]
fn check_messages_follow_flannel() {
    let msg = |t: &str| NetConf::parse(t).unwrap_err().message().to_owned();
    assert_eq!(
        msg("{}"),
        "please define a correct Network parameter in the flannel config"
    );
    assert_eq!(
        msg(r#"{"Network": "10.0.0.0/16", "SubnetLen": 17}"#),
        "network must be able to accommodate at least four subnets"
    );
    assert_eq!(
        msg(r#"{"Network": "10.0.0.0/29"}"#),
        "network is too small. Minimum useful network prefix is /28"
    );
    assert_eq!(
        msg(r#"{"Network": "10.244.0.0/16", "SubnetMin": "10.244.1.5"}"#),
        "SubnetMin is not on a SubnetLen boundary: 10.244.1.5"
    );
    assert_eq!(
        msg(r#"{"Network": "10.244.0.0/16", "SubnetMax": "10.1.0.0"}"#),
        "SubnetMax is not in the range of the Network"
    );
    assert_eq!(
        msg(r#"{"EnableIPv4": false, "EnableIPv6": true}"#),
        "please define a correct IPv6Network parameter in the flannel config"
    );
    assert_eq!(
        msg(
            r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fd00::"}"#
        ),
        "IPv6SubnetMin is not in the range of the IPv6Network"
    );
    assert_eq!(
        msg(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "Geneve"}}"#),
        "unknown backend type: \"geneve\""
    );
}

#[test]
fn ipv4_fields_not_checked_when_disabled() {
    let p = NetConf::parse(
        r#"{"EnableIPv4": false, "Network": "10.0.0.0/30", "SubnetLen": 99, "EnableIPv6": true, "IPv6Network": "fc00::/48"}"#,
    )
    .unwrap();
    assert!(p.config.ipv4.is_none());
    let unused: Vec<&str> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Unused)
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(unused, ["Network", "SubnetLen"]);
}

#[test]
fn ipv6_network_without_enable_warns() {
    let p = NetConf::parse(
        r#"{"Network": "10.244.0.0/16", "IPv6Network": "fc00::/48", "Backend": {"Type": "vxlan"}}"#,
    )
    .unwrap();
    assert!(p.config.ipv6.is_none());
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].path, "IPv6Network");
    assert!(p.warnings[0].message.contains("EnableIPv6"));
}

#[test]
fn family_mismatches_are_parse_errors() {
    for t in [
        r#"{"Network": "fc00::/48"}"#,
        r#"{"EnableIPv6": true, "IPv6Network": "10.0.0.0/8"}"#,
        r#"{"Network": "10.0.0.0/8", "SubnetMin": "fc00::1"}"#,
        r#"{"Network": "10.0.0.0/8", "SubnetMin": null}"#,
    ] {
        assert_eq!(NetConf::parse(t).unwrap_err().stage(), Stage::Parse, "{t}");
    }
}

#[test]
fn leniencies_of_go_are_kept() {
    // A mapped IPv4 address is an IPv4 address to Go; the prefix may be zero-padded.
    let p = NetConf::parse(r#"{"Network": "10.244.0.0/016", "SubnetMin": "::ffff:10.244.2.0"}"#)
        .unwrap();
    let v4 = p.config.ipv4.unwrap();
    assert_eq!(v4.network, "10.244.0.0/16".parse().unwrap());
    assert_eq!(v4.subnet_min.to_string(), "10.244.2.0");
    // A null pointer field means unset.
    let p = NetConf::parse(r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": null}"#).unwrap();
    assert_eq!(
        p.config.ipv6.unwrap().subnet_min.to_string(),
        "fc00:0:0:1::"
    );
    // KELVIN SIGN folds to k in Go's name matching.
    assert!(NetConf::parse("{\"Networ\u{212A}\": \"10.0.0.0/8\"}").is_ok());
}

#[test]
fn warnings_name_the_key() {
    let p = NetConf::parse(
        r#"{"network": "10.244.0.0/16", "Netwrok": "x", "Backend": {"Type": "vxlan", "Direcrouting": true, "ListenPort": 1, "MacPrefix": "0E-2A", "vni": 2}, "Backend2": 1}"#,
    )
    .unwrap();
    let find = |path: &str| p.warnings.iter().find(|w| w.path == path).unwrap();
    assert_eq!(
        find("network").kind,
        WarningKind::CaseInsensitiveMatch {
            canonical: "Network".into()
        }
    );
    assert_eq!(
        find("Netwrok").kind,
        WarningKind::UnknownKey {
            suggestion: Some("Network".into())
        }
    );
    assert_eq!(
        find("Backend.Direcrouting").kind,
        WarningKind::UnknownKey {
            suggestion: Some("DirectRouting".into())
        }
    );
    assert!(
        find("Backend.Direcrouting")
            .to_string()
            .contains("did you mean `DirectRouting`?")
    );
    assert_eq!(
        find("Backend.ListenPort").kind,
        WarningKind::IgnoredByBackend {
            backend: "vxlan".into()
        }
    );
    assert_eq!(find("Backend.MacPrefix").kind, WarningKind::WindowsOnly);
    assert!(matches!(
        find("Backend.vni").kind,
        WarningKind::CaseInsensitiveMatch { .. }
    ));
    assert!(matches!(
        find("Backend2").kind,
        WarningKind::UnknownKey { .. }
    ));
    assert!(
        matches!(p.config.backend.options, BackendOptions::Vxlan(ref v) if v.vni == 2 && !v.direct_routing)
    );
}

#[test]
fn duplicate_and_default_backend_warnings() {
    let p = NetConf::parse(r#"{"Network": "10.0.0.0/8", "Network": "10.244.0.0/16"}"#).unwrap();
    assert_eq!(
        p.config.ipv4.unwrap().network,
        "10.244.0.0/16".parse().unwrap()
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.kind == WarningKind::DuplicateKey && w.path == "Network")
    );
    let udp = p.warnings.iter().find(|w| w.path.is_empty()).unwrap();
    assert!(udp.message.contains("udp") && udp.message.contains("vxlan"));
}

#[test]
fn suspicious_values_warn() {
    let p = NetConf::parse(r#"{"Network": "10.244.0.0/16", "SubnetMin": "10.244.9.0", "SubnetMax": "10.244.2.0", "Backend": {"Type": "vxlan", "VNI": 16777216}}"#).unwrap();
    assert_eq!(p.config.ipv4.unwrap().lease_count(), 0);
    let paths: Vec<&str> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Suspicious)
        .map(|w| w.path.as_str())
        .collect();
    assert_eq!(paths, ["SubnetMin", "Backend.VNI"]);
}

#[test]
fn every_backend_decodes() {
    let backend = |b: &str| {
        NetConf::parse(&format!(
            r#"{{"Network": "10.244.0.0/16", "Backend": {b}}}"#
        ))
        .unwrap()
        .config
        .backend
        .options
    };
    assert_eq!(
        backend(r#"{"Type": "udp", "Port": 8000}"#),
        BackendOptions::Udp(UdpOptions { port: 8000 })
    );
    assert_eq!(backend(r#"{"Type": "host-gw"}"#), BackendOptions::HostGw);
    assert_eq!(backend(r#"{"Type": "alloc"}"#), BackendOptions::Alloc);
    assert_eq!(
        backend(r#"{"Type": "tencent-vpc"}"#),
        BackendOptions::TencentVpc
    );
    assert_eq!(
        backend(r#"{"Type": "ipip"}"#),
        BackendOptions::IpIp(IpIpOptions {
            direct_routing: false
        })
    );
    let psk = "k".repeat(96);
    assert_eq!(
        backend(&format!(
            r#"{{"Type": "ipsec", "PSK": "{psk}", "UDPEncap": true}}"#
        )),
        BackendOptions::Ipsec(IpsecOptions {
            udp_encap: true,
            psk: psk.clone(),
            ..IpsecOptions::default()
        })
    );
    assert_eq!(
        backend(r#"{"Type": "extension", "SubnetAddCommand": "add", "PreStartupCommand": "pre"}"#),
        BackendOptions::Extension(ExtensionOptions {
            subnet_add_command: "add".into(),
            pre_startup_command: "pre".into(),
            ..ExtensionOptions::default()
        })
    );
    assert_eq!(
        backend(r#"{"Type": "wireguard", "Mode": "ipv6", "PSK": "abc", "ListenPortV6": 7}"#),
        BackendOptions::Wireguard(WireguardOptions {
            mode: WireguardMode::Ipv6,
            psk: "abc".into(),
            listen_port_v6: 7,
            ..WireguardOptions::default()
        })
    );
    assert_eq!(
        backend(r#"{"Type": "vxlan", "VNI": null, "MTU": null}"#),
        BackendOptions::Vxlan(VxlanOptions::default())
    );
    for name in REGISTERED_BACKENDS {
        let t = format!(
            r#"{{"Network": "10.244.0.0/16", "Backend": {{"Type": "{name}", "PSK": "{psk}"}}}}"#
        );
        assert_eq!(NetConf::parse(&t).unwrap().config.backend.resolved(), *name);
    }
}

#[test]
fn never_panics_on_odd_input() {
    let deep = format!("{{\"x\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    let inputs = [
        "",
        " ",
        "{",
        "}",
        "\"",
        "nul",
        "1e999",
        "-",
        "{\"Network\": \"\"}",
        "{\"Network\": \"/\"}",
        "{\"Network\": \"1.2.3.4/\"}",
        "{\"Network\": \"1.2.3.4/99999999999999999999\"}",
        "{\"SubnetLen\": 18446744073709551615, \"Network\": \"10.0.0.0/8\"}",
        "{\"SubnetLen\": 18446744073709551616}",
        "{\"Backend\": {\"Type\": \"\\u00c4\"}}",
        "{\"EnableIPv6\": true, \"EnableIPv4\": false, \"IPv6Network\": \"8000::/1\"}",
        "{\"Network\": \"128.0.0.0/1\"}",
        "{\"Network\": \"255.255.255.240/28\"}",
        "{\"EnableIPv6\": true, \"EnableIPv4\": false, \"IPv6Network\": \"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124\"}",
        &deep,
    ];
    for t in inputs {
        let _ = NetConf::parse(t);
    }
    let p = NetConf::parse("{\"Network\": \"128.0.0.0/1\"}")
        .unwrap()
        .config
        .ipv4
        .unwrap();
    assert_eq!(p.subnet_max.to_string(), "255.255.255.0");
    let p = NetConf::parse(&deep.replace("{\"x\"", "{\"Network\": \"10.0.0.0/8\", \"x\"")).unwrap();
    assert!(p.config.ipv4.is_some());
}

#[test]
fn flannel_lease_ranges() {
    let pool = NetConf::parse(r#"{"Network": "10.244.0.0/23"}"#)
        .unwrap()
        .config
        .ipv4
        .unwrap();
    let all: Vec<String> = pool.leases().map(|n| n.to_string()).collect();
    assert_eq!(all, ["10.244.0.128/25", "10.244.1.0/25", "10.244.1.128/25"]);
    let pool = NetConf::parse(r#"{"Network": "10.0.0.0/8", "SubnetLen": 30}"#)
        .unwrap()
        .config
        .ipv4
        .unwrap();
    // 2^22 blocks of /30, less the first one flannel skips.
    assert_eq!(pool.lease_count(), (1 << 22) - 1);
    assert_eq!(pool.leases().size_hint().0, (1 << 22) - 1);
    assert_eq!(
        pool.leases().nth((1 << 22) - 2).unwrap().to_string(),
        "10.255.255.252/30"
    );
    assert_eq!(pool.leases().nth((1 << 22) - 1), None);
    let v6 = NetConf::parse(r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/16", "IPv6SubnetLen": 120}"#)
        .unwrap()
        .config
        .ipv6
        .unwrap();
    assert_eq!(v6.lease_count(), (1u128 << 104) - 1);
    let mut it = v6.leases();
    assert_eq!(it.next().unwrap().to_string(), "fc00::100/120");
    assert_eq!(it.remaining(), (1u128 << 104) - 2);
    assert_eq!(it.size_hint(), (usize::MAX, None));
    assert_eq!(it.nth(1).unwrap().to_string(), "fc00::300/120");
}

#[test]
fn kube_allocator_is_sequential_from_the_first_block() {
    let mut a = KubeRangeAllocator::new(&[net("10.244.0.0/16")]).unwrap();
    let got: Vec<String> = (0..3)
        .map(|_| a.allocate().unwrap()[0].to_string())
        .collect();
    assert_eq!(got, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
    assert_eq!(a.capacity()[0], 256);
    assert_eq!(a.used()[0], 3);
}

#[test]
fn kube_allocator_skips_service_cidr_blocks() {
    let cfg = KubeAllocatorConfig {
        cluster_cidrs: vec![net("10.96.0.0/16")],
        service_cidrs: vec![
            net("10.96.0.0/23"),
            net("10.96.5.7/32"),
            net("192.168.0.0/16"),
        ],
        ..Default::default()
    };
    let mut a = KubeRangeAllocator::with_config(&cfg).unwrap();
    assert_eq!(a.used()[0], 3);
    let got: Vec<String> = (0..4)
        .map(|_| a.allocate().unwrap()[0].to_string())
        .collect();
    assert_eq!(
        got,
        [
            "10.96.2.0/24",
            "10.96.3.0/24",
            "10.96.4.0/24",
            "10.96.6.0/24"
        ]
    );
    // A service range wider than the cluster CIDR takes all of it.
    let cfg = KubeAllocatorConfig {
        cluster_cidrs: vec![net("10.96.0.0/16")],
        service_cidrs: vec![net("10.0.0.0/8")],
        ..Default::default()
    };
    let mut a = KubeRangeAllocator::with_config(&cfg).unwrap();
    assert!(matches!(a.allocate(), Err(AllocError::RangeFull { .. })));
}

#[test]
fn kube_allocator_reuses_released_blocks_only_after_wrapping() {
    let mut a = KubeRangeAllocator::with_config(&KubeAllocatorConfig {
        cluster_cidrs: vec![net("10.244.0.0/22")],
        node_cidr_mask_size_ipv4: Some(24),
        ..Default::default()
    })
    .unwrap();
    let first = a.allocate().unwrap()[0];
    let second = a.allocate().unwrap()[0];
    a.release(first).unwrap();
    assert_eq!(a.allocate().unwrap()[0], net("10.244.2.0/24"));
    assert_eq!(a.allocate().unwrap()[0], net("10.244.3.0/24"));
    // The cursor wraps to the start and finds the released block.
    assert_eq!(a.allocate().unwrap()[0], first);
    a.release(second).unwrap();
    assert_eq!(a.allocate().unwrap()[0], second);
    let err = a.allocate().unwrap_err();
    assert!(err.to_string().contains("no remaining CIDRs"), "{err}");
    assert!(a.release(net("10.245.0.0/24")).is_err());
}

#[test]
fn kube_allocator_dual_stack() {
    let mut a = KubeRangeAllocator::new(&[net("10.244.0.0/24"), net("fd00:10:244::/56")]).unwrap();
    let n0 = a.allocate().unwrap();
    assert_eq!(
        n0.as_slice(),
        [net("10.244.0.0/24"), net("fd00:10:244::/64")]
    );
    // The IPv4 range (one /24) is now full: nothing is taken from IPv6 either.
    assert!(
        matches!(a.allocate(), Err(AllocError::RangeFull { cluster }) if cluster == net("10.244.0.0/24"))
    );
    assert_eq!(a.used().as_slice(), [1, 1]);
    assert!(KubeRangeAllocator::new(&[net("10.0.0.0/8"), net("10.1.0.0/16")]).is_err());
    assert!(KubeRangeAllocator::new(&[]).is_err());
    assert!(
        KubeRangeAllocator::new(&[net("10.0.0.0/8"), net("fd00::/48"), net("fd01::/48")]).is_err()
    );
}

#[test]
fn kube_allocator_ipv6_blocks() {
    let mut a = KubeRangeAllocator::new(&[net("2001:db8:42::/48")]).unwrap();
    assert_eq!(a.capacity()[0], 65536);
    assert_eq!(a.allocate().unwrap()[0], net("2001:db8:42::/64"));
    assert_eq!(a.allocate().unwrap()[0], net("2001:db8:42:1::/64"));
    a.occupy(net("2001:db8:42:ffff::/64")).unwrap();
    assert_eq!(a.used()[0], 3);
    // /64 from a /47 is 17 bits: kube refuses it.
    assert!(matches!(
        KubeRangeAllocator::new(&[net("2001:db8::/47")]),
        Err(AllocError::SubnetTooBig { .. })
    ));
    // Mask shorter than the cluster prefix.
    assert!(matches!(
        KubeRangeAllocator::with_config(&KubeAllocatorConfig {
            cluster_cidrs: vec![net("10.0.0.0/16")],
            node_cidr_mask_size_ipv4: Some(8),
            ..Default::default()
        }),
        Err(AllocError::BadMaskSize { .. })
    ));
    // A huge IPv4 range costs nothing up front.
    let mut a = KubeRangeAllocator::with_config(&KubeAllocatorConfig {
        cluster_cidrs: vec![net("0.0.0.0/0")],
        node_cidr_mask_size_ipv4: Some(32),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(a.capacity()[0], 1 << 32);
    assert_eq!(a.allocate().unwrap()[0], net("0.0.0.0/32"));
}

#[test]
fn node_table_places_pods() {
    let mut a = KubeRangeAllocator::new(&[net("10.244.0.0/16"), net("fd00:10:244::/56")]).unwrap();
    let mut table = NodeSubnetTable::new();
    for name in ["master", "node1", "node2"] {
        for cidr in a.allocate().unwrap() {
            table.insert(name, cidr).unwrap();
        }
    }
    assert_eq!(table.len(), 6);
    assert_eq!(table.node_of("10.244.0.5".parse().unwrap()), Some("master"));
    assert_eq!(
        table.node_of("10.244.2.254".parse().unwrap()),
        Some("node2")
    );
    assert_eq!(
        table.node_of("fd00:10:244:1::9".parse().unwrap()),
        Some("node1")
    );
    assert_eq!(table.node_of("10.244.3.1".parse().unwrap()), None);
    assert_eq!(table.node_of("10.243.255.255".parse().unwrap()), None);
    assert_eq!(table.node_of("fd00:10:244:3::".parse().unwrap()), None);
    assert_eq!(
        table.subnets_of("node1").collect::<Vec<_>>(),
        [net("10.244.1.0/24"), net("fd00:10:244:1::/64")]
    );
    let err = table.insert("other", net("10.244.0.0/16")).unwrap_err();
    assert!(err.to_string().contains("overlaps"));
    let err = table.insert("other", net("10.244.1.128/25")).unwrap_err();
    assert!(matches!(err, TableError::Overlap { existing_node, .. } if existing_node == "node1"));
}

/// flannel's address types (`ip.IP4Net`, `ip.IP6Net`, `ip.IP4`, `ip.IP6`) parse the raw
/// JSON bytes with the quotes trimmed (`UnmarshalJSON`: `bytes.Trim(j, "\"")` then
/// `net.ParseCIDR` / `ParseIP4` / `ParseIP6`, pkg/ip/ipnet.go and pkg/ip/ip6net.go):
/// flanneld refuses an escaped address at start, so the decoder does too.
#[test]
fn escapes_in_address_strings_are_refused_as_flannel_refuses_them() {
    for (field, text) in [
        ("Network", r#"{"Network": "10.244.0.0\/16"}"#),
        ("Network", r#"{"Network": "10.244.0.0\u002f16"}"#),
        ("Network", r#"{"Network": "\"10.244.0.0/16\""}"#),
        (
            "SubnetMin",
            r#"{"Network": "10.244.0.0/16", "SubnetMin": "10.244.2.\u0030"}"#,
        ),
        (
            "SubnetMax",
            r#"{"Network": "10.244.0.0/16", "SubnetMax": "10.244.9.0\n"}"#,
        ),
        (
            "IPv6Network",
            r#"{"EnableIPv6": true, "IPv6Network": "fc00::\/48", "EnableIPv4": false}"#,
        ),
        (
            "IPv6SubnetMin",
            r#"{"EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00:0:0:2::\u0000"}"#,
        ),
    ] {
        let err = NetConf::parse(text).unwrap_err();
        assert_eq!(err.stage(), Stage::Parse, "{text}");
        let msg = err.to_string();
        assert!(msg.contains(field), "{text}: {msg}");
        assert!(msg.contains("does not decode escapes"), "{text}: {msg}");
    }
    // The same addresses without escapes are fine, and escapes elsewhere are decoded
    // (the Backend type is read by encoding/json into a plain string).
    let p = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vx\u006can"}}"#)
        .unwrap();
    assert_eq!(p.config.backend.type_name, "vxlan");
}

/// Raw-text parsing also decides numbers, `null` and stray quotes: `null` reaches
/// `UnmarshalJSON` for the value fields (Network, SubnetMin, …) and fails to parse, but
/// leaves the pointer fields IPv6SubnetMin/IPv6SubnetMax nil (`indirect` with
/// `decodingNull` stops at the pointer); a number is parsed as its digits and fails.
#[test]
fn raw_text_decides_null_numbers_and_quotes() {
    for text in [
        r#"{"Network": null}"#,
        r#"{"Network": 10}"#,
        r#"{"Network": ["10.0.0.0/8"]}"#,
        r#"{"Network": "10.0.0.0/8", "SubnetMin": null}"#,
        r#"{"Network": "10.0.0.0/8", "SubnetMin": 167772416}"#,
        r#"{"Network": "10.0.0.0/8", "SubnetMax": true}"#,
        r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": null}"#,
    ] {
        let err = NetConf::parse(text).unwrap_err();
        assert_eq!(err.stage(), Stage::Parse, "{text}: {err}");
    }
    let p = NetConf::parse(
        r#"{"EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMax": null}"#,
    )
    .unwrap();
    assert_eq!(
        p.config.ipv6.unwrap().subnet_max.to_string(),
        "fc00:0:0:ffff::"
    );
}

/// `Networks` and `IPv6Networks` left `subnet.Config` in flannel v0.25.0 (commit
/// "remove multiClusterCidr related-code"): encoding/json skips them as unknown keys.
#[test]
fn networks_lists_are_unknown_keys_now() {
    for text in [
        r#"{"Network": "10.0.0.0/8", "Networks": ["10.0.0.0/33"]}"#,
        r#"{"Network": "10.0.0.0/8", "IPv6Networks": "fc00::/48"}"#,
    ] {
        let p = NetConf::parse(text).unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| matches!(w.kind, WarningKind::UnknownKey { .. })),
            "{text}: {:?}",
            p.warnings
        );
    }
}

/// Go's decoder reads a lone UTF-16 surrogate escape as U+FFFD (`unquote`), so it does
/// not stop a configuration in a string flannel does not parse as an address.
#[test]
fn lone_surrogates_are_replacement_characters() {
    let p = NetConf::parse(r#"{"Network": "10.0.0.0/8", "Backend": {"Type": "x\ud800"}}"#);
    let err = p.unwrap_err();
    assert_eq!(err.stage(), Stage::Backend);
    assert!(err.to_string().contains('\u{fffd}'), "{err}");
}
