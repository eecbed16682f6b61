//! `spec` rules: upstream `ValidateNetworkPolicySpec`, `ValidateNetworkPolicyPort`,
//! `ValidateNetworkPolicyPeer`, `ValidateIPBlock` and apimachinery's
//! `ValidateLabelSelector`.

use super::names::{
    is_qualified_name, is_valid_label_value, is_valid_port_name, is_valid_port_num,
};
use super::{FieldError, GoIpNet, quote};
use crate::model::{
    IntOrString, IpBlock, LabelSelector, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};

pub use super::meta::validate_labels;

const CIDR_MESSAGE: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// Validates a NetworkPolicy `spec` at `path`: `podSelector`, then every ingress rule
/// (its `ports`, then its `from` peers), every egress rule (`ports`, then `to`), then
/// `policyTypes`.
///
/// ```
/// use netpol::model::NetworkPolicySpec;
/// let spec: NetworkPolicySpec = serde_json::from_str(
///     r#"{"policyTypes": ["Ingress", "Egress", "Ingress"]}"#).unwrap();
/// let errs = netpol::validate::validate_network_policy_spec(&spec, "spec");
/// assert_eq!(errs[0].to_string(), r#"spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: may not specify more than two policyTypes"#);
/// ```
#[must_use]
pub fn validate_network_policy_spec(spec: &NetworkPolicySpec, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(sel) = &spec.pod_selector {
        errs.extend(validate_label_selector(sel, &format!("{path}.podSelector")));
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let rule_path = format!("{path}.ingress[{i}]");
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            errs.extend(validate_network_policy_port(
                port,
                &format!("{rule_path}.ports[{j}]"),
            ));
        }
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            errs.extend(validate_network_policy_peer(
                peer,
                &format!("{rule_path}.from[{j}]"),
            ));
        }
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let rule_path = format!("{path}.egress[{i}]");
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            errs.extend(validate_network_policy_port(
                port,
                &format!("{rule_path}.ports[{j}]"),
            ));
        }
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            errs.extend(validate_network_policy_peer(
                peer,
                &format!("{rule_path}.to[{j}]"),
            ));
        }
    }
    let types = spec.policy_types.as_deref().unwrap_or(&[]);
    if types.len() > 2 {
        let listed: Vec<String> = types.iter().map(|t| quote(t)).collect();
        errs.push(FieldError::invalid(
            format!("{path}.policyTypes"),
            format!("[]networking.PolicyType{{{}}}", listed.join(", ")),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::unsupported(
                format!("{path}.policyTypes[{i}]"),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

/// Validates one `ports` entry at `path`: `protocol` (when written) is `TCP`, `UDP` or
/// `SCTP`; a numeric `port` is 1-65535 and an `endPort` is not below it and also 1-65535;
/// a named `port` is a valid port name and has no `endPort`; no `port`, no `endPort`.
///
/// ```
/// use netpol::model::NetworkPolicyPort;
/// let p = NetworkPolicyPort { protocol: None, port: Some("http".into()), end_port: Some(80) };
/// let errs = netpol::validate::validate_network_policy_port(&p, "spec.ingress[0].ports[0]");
/// assert_eq!(errs[0].to_string(),
///     "spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric");
/// ```
#[must_use]
pub fn validate_network_policy_port(port: &NetworkPolicyPort, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(proto) = &port.protocol {
        if !matches!(proto.as_str(), "TCP" | "UDP" | "SCTP") {
            errs.push(FieldError::unsupported(
                format!("{path}.protocol"),
                proto,
                &["TCP", "UDP", "SCTP"],
            ));
        }
    }
    let end_path = format!("{path}.endPort");
    match &port.port {
        Some(IntOrString::Int(n)) => {
            for msg in is_valid_port_num(i64::from(*n)) {
                errs.push(FieldError::invalid(
                    format!("{path}.port"),
                    n.to_string(),
                    msg,
                ));
            }
            if let Some(end) = port.end_port {
                if end < *n {
                    errs.push(FieldError::invalid(
                        end_path.clone(),
                        end.to_string(),
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in is_valid_port_num(i64::from(end)) {
                    errs.push(FieldError::invalid(end_path.clone(), end.to_string(), msg));
                }
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::invalid(
                    end_path,
                    end.to_string(),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in is_valid_port_name(name) {
                errs.push(FieldError::invalid(
                    format!("{path}.port"),
                    quote(name),
                    msg,
                ));
            }
        }
        None => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::invalid(
                    end_path,
                    end.to_string(),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errs
}

/// Validates one peer at `path`: each selector written is a valid label selector, an
/// `ipBlock` is valid, at least one field is set, and `ipBlock` stands alone.
///
/// ```
/// use netpol::model::NetworkPolicyPeer;
/// let errs = netpol::validate::validate_network_policy_peer(&NetworkPolicyPeer::default(), "spec.egress[0].to[0]");
/// assert_eq!(errs[0].to_string(), "spec.egress[0].to[0]: Required value: must specify a peer");
/// ```
#[must_use]
pub fn validate_network_policy_peer(peer: &NetworkPolicyPeer, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut peers = 0;
    if let Some(sel) = &peer.pod_selector {
        peers += 1;
        errs.extend(validate_label_selector(sel, &format!("{path}.podSelector")));
    }
    if let Some(sel) = &peer.namespace_selector {
        peers += 1;
        errs.extend(validate_label_selector(
            sel,
            &format!("{path}.namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        peers += 1;
        errs.extend(validate_ip_block(block, &format!("{path}.ipBlock")));
    }
    if peers == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if peers > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// Validates an `ipBlock` at `path`: `cidr` is required and must parse (as the apiserver
/// parses it with default feature gates: see [`crate::policy::parse_cidr`]); each `except`
/// entry must parse and be a strict subset of `cidr`.
///
/// ```
/// use netpol::model::IpBlock;
/// let ok = IpBlock::new("10.244.1.1/4", ["10.0.0.0/8"]); // host bits are allowed
/// assert!(netpol::validate::validate_ip_block(&ok, "ipBlock").is_empty());
/// let bad = IpBlock::new("172.17.0.0/16", ["172.17.0.0/16"]);
/// assert_eq!(netpol::validate::validate_ip_block(&bad, "ipBlock")[0].to_string(),
///     r#"ipBlock.except[0]: Invalid value: "172.17.0.0/16": must be a strict subset of `cidr`"#);
/// ```
#[must_use]
pub fn validate_ip_block(block: &IpBlock, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if block.cidr.is_empty() {
        errs.push(FieldError::required(format!("{path}.cidr"), ""));
        return errs;
    }
    let Some(cidr) = GoIpNet::parse(&block.cidr) else {
        errs.push(FieldError::invalid(
            format!("{path}.cidr"),
            quote(&block.cidr),
            CIDR_MESSAGE,
        ));
        return errs;
    };
    for (i, text) in block.except.iter().flatten().enumerate() {
        let except_path = format!("{path}.except[{i}]");
        let Some(except) = GoIpNet::parse(text) else {
            errs.push(FieldError::invalid(except_path, quote(text), CIDR_MESSAGE));
            continue;
        };
        if !cidr.contains_network_of(&except) || cidr.prefix() >= except.prefix() {
            errs.push(FieldError::invalid(
                except_path,
                quote(text),
                "must be a strict subset of `cidr`",
            ));
        }
    }
    errs
}

/// Validates a label selector at `path` as the apiserver does on create: `matchLabels`
/// keys and values, then each `matchExpressions` entry: its operator and values count,
/// its key, and each value.
///
/// ```
/// use netpol::model::{LabelSelector, LabelSelectorRequirement};
/// let sel = LabelSelector {
///     match_labels: None,
///     match_expressions: Some(vec![LabelSelectorRequirement::new("app", "In", Vec::<String>::new())]),
/// };
/// let errs = netpol::validate::validate_label_selector(&sel, "spec.podSelector");
/// assert_eq!(errs[0].to_string(),
///     "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
/// ```
#[must_use]
pub fn validate_label_selector(sel: &LabelSelector, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = &sel.match_labels {
        errs.extend(validate_labels(labels, &format!("{path}.matchLabels")));
    }
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let req_path = format!("{path}.matchExpressions[{i}]");
        let values = req.values.as_deref().unwrap_or(&[]);
        match req.operator() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{req_path}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{req_path}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                format!("{req_path}.operator"),
                quote(other),
                "not a valid selector operator",
            )),
        }
        for msg in is_qualified_name(req.key()) {
            errs.push(FieldError::invalid(
                format!("{req_path}.key"),
                quote(req.key()),
                msg,
            ));
        }
        for (j, v) in values.iter().enumerate() {
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(
                    format!("{req_path}.values[{j}]"),
                    quote(v),
                    msg,
                ));
            }
        }
    }
    errs
}
