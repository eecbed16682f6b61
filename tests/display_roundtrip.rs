//! Every type whose `Display` is its canonical text parses that text back:
//! `display(x).parse() == x`, for every value the crate can produce.
//!
//! (Calico's selectors are held to this, up to their double-negation quirk, by
//! `tests/calico_selector.rs`.)

use std::fmt::Display;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netpol::analysis::{PortRanges, Ports};
use netpol::calico::{ApiGroup, PortValue};
use netpol::cidr::IpSet;
use netpol::cluster::IpFamily;
use netpol::explain::Verdict;
use netpol::flannel::Stage;
use netpol::model::{LabelSelector, LabelSelectorRequirement};
use netpol::policy::{
    Action, ClusterTier, Direction, DomainPattern, PolicyKind, PortRule, PortSpec, Protocol,
};
use netpol::profile::Profile;
use netpol::selector::Selector;
use netpol::service::{Reachability, ServiceType, TargetPort, TrafficPolicy};
use netpol::validate::{Channel, is_valid_port_name};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn round_trip<T>(x: &T) -> Result<(), TestCaseError>
where
    T: Display + FromStr + PartialEq + std::fmt::Debug,
    T::Err: Display,
{
    let text = x.to_string();
    match text.parse::<T>() {
        Ok(back) => prop_assert_eq!(&back, x, "{:?}", text),
        Err(e) => prop_assert!(false, "{:?} does not parse back: {}", text, e),
    }
    Ok(())
}

fn port_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9]{0,14}", "[a-z0-9]{1,6}-[a-z]{1,6}"]
        .prop_filter("an IANA service name", |n| is_valid_port_name(n).is_empty())
}

fn port_range() -> impl Strategy<Value = (u16, u16)> {
    (1u16.., 1u16..).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(Protocol::ALL.to_vec())
}

fn ip_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from_bits(a), l).unwrap())),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from_bits(a), l).unwrap())),
        // Nested and adjacent blocks, so that sets merge.
        (0u32..16, 20u8..=28).prop_map(|(a, l)| IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from_bits(0x0a00_0000 | (a << 8)), l).unwrap()
        )),
    ]
}

fn port_ranges() -> impl Strategy<Value = PortRanges> {
    prop_oneof![
        1 => Just(PortRanges::all()),
        1 => Just(PortRanges::new()),
        6 => prop::collection::vec(prop_oneof![port_range(), (1u16..100, 0u16..5).prop_map(|(a, d)| (a, a + d))], 1..6)
            .prop_map(PortRanges::from_ranges),
    ]
}

/// Label keys as the API takes them, and the two words the selector syntax also uses.
fn label_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z][a-z0-9]{0,5}",
        1 => "[a-z]{1,4}\\.example/[a-z][a-z0-9_.-]{0,4}[a-z]",
        1 => Just("in".to_owned()),
        1 => Just("notin".to_owned()),
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        5 => "[a-zA-Z0-9]([a-z0-9_.-]{0,4}[a-z0-9])?",
    ]
}

fn label_selector() -> impl Strategy<Value = LabelSelector> {
    let requirement = (
        label_key(),
        prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
        prop::collection::vec(label_value(), 1..4),
    )
        .prop_map(|(key, op, values)| match op {
            "In" | "NotIn" => LabelSelectorRequirement::new(key, op, values),
            _ => LabelSelectorRequirement::new(key, op, Vec::<String>::new()),
        });
    (
        prop::option::of(prop::collection::btree_map(
            label_key(),
            label_value(),
            0..3,
        )),
        prop::option::of(prop::collection::vec(requirement, 0..4)),
    )
        .prop_map(|(match_labels, match_expressions)| LabelSelector {
            match_labels,
            match_expressions,
        })
}

#[test]
fn every_value_of_the_small_enums_round_trips() {
    let check = |r: Result<(), TestCaseError>| r.unwrap();
    for x in [Verdict::Allow, Verdict::Deny] {
        check(round_trip(&x));
    }
    for x in Protocol::ALL {
        check(round_trip(&x));
    }
    for x in Direction::BOTH {
        check(round_trip(&x));
    }
    for x in [Action::Allow, Action::Deny, Action::Pass, Action::Log] {
        check(round_trip(&x));
    }
    for x in [ClusterTier::Admin, ClusterTier::Baseline] {
        check(round_trip(&x));
    }
    for x in [Channel::Standard, Channel::Experimental] {
        check(round_trip(&x));
    }
    for x in [IpFamily::Ipv4, IpFamily::Ipv6] {
        check(round_trip(&x));
    }
    for x in PolicyKind::ALL {
        check(round_trip(&x));
    }
    for x in [ApiGroup::V3, ApiGroup::CrdV1] {
        check(round_trip(&x));
    }
    for x in [
        ServiceType::ClusterIp,
        ServiceType::NodePort,
        ServiceType::LoadBalancer,
        ServiceType::ExternalName,
    ] {
        check(round_trip(&x));
    }
    for x in [TrafficPolicy::Cluster, TrafficPolicy::Local] {
        check(round_trip(&x));
    }
    for x in [
        Reachability::All,
        Reachability::Some,
        Reachability::None,
        Reachability::NoEndpoints,
    ] {
        check(round_trip(&x));
    }
    for x in [Stage::Parse, Stage::Check, Stage::IpFamily, Stage::Backend] {
        check(round_trip(&x));
    }
    // Every named profile (a profile with knobs changed prints its name only).
    for name in Profile::NAMES {
        let p: Profile = name.parse().unwrap();
        assert_eq!(p.to_string(), *name);
        check(round_trip(&p));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn port_rules_round_trip(
        proto in protocol(),
        which in 0..3,
        (start, end) in port_range(),
        name in port_name(),
    ) {
        let port = match which {
            0 => PortSpec::All,
            1 => PortSpec::range(start, end).unwrap(),
            _ => PortSpec::Named(name),
        };
        round_trip(&PortRule::new(proto, port))?;
    }

    #[test]
    fn target_ports_round_trip(n in any::<u16>(), name in port_name()) {
        round_trip(&TargetPort::Number(n))?;
        round_trip(&TargetPort::Named(name))?;
    }

    #[test]
    fn calico_port_values_round_trip(
        lo in any::<u16>(),
        hi in any::<u16>(),
        name in "[a-zA-Z_.-][a-zA-Z0-9_.-]{0,20}",
    ) {
        round_trip(&PortValue::Range(lo.min(hi), lo.max(hi)))?;
        round_trip(&PortValue::Name(name))?;
    }

    #[test]
    fn domain_patterns_round_trip(
        wildcard in any::<bool>(),
        labels in prop::collection::vec("[a-zA-Z0-9][a-zA-Z0-9-]{0,6}", 1..4),
        dot in any::<bool>(),
    ) {
        let text = format!(
            "{}{}{}",
            if wildcard { "*." } else { "" },
            labels.join("."),
            if dot { "." } else { "" }
        );
        let pattern: DomainPattern = text.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        round_trip(&pattern)?;
    }

    #[test]
    fn ip_sets_round_trip(nets in prop::collection::vec(ip_net(), 0..8)) {
        round_trip(&nets.into_iter().collect::<IpSet>())?;
    }

    #[test]
    fn port_sets_round_trip(tcp in port_ranges(), udp in port_ranges(), sctp in port_ranges()) {
        round_trip(&tcp)?;
        let mut ports = Ports::none();
        ports.set(Protocol::Tcp, tcp);
        ports.set(Protocol::Udp, udp);
        ports.set(Protocol::Sctp, sctp);
        round_trip(&ports)?;
    }

    #[test]
    fn label_selectors_round_trip(written in label_selector()) {
        let sel = Selector::new(&written).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        round_trip(&sel)?;
    }
}
