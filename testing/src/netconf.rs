//! flannel net-conf cases (see the conformance FORMAT.md, "flannel net-conf cases"):
//! included by the conformance runner and by `tests/flannel.rs`.

use netpol::flannel::{BackendOptions, NetConf, NetConfError};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::net::IpAddr;

/// How many cases of a file passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetconfOutcome {
    /// Cases whose outcome matched the expectation.
    pub passed: usize,
    /// Cases that differed, or were malformed.
    pub failed: usize,
}

/// True when `v` is a net-conf case file: a top-level array of objects with a `netConf` key.
pub fn is_netconf_file(v: &Value) -> bool {
    // Every item an object and at least one with `netConf`: a case that lacks it
    // is then reported as malformed instead of hiding the whole file.
    v.as_array().is_some_and(|items| {
        items.iter().all(Value::is_object) && items.iter().any(|i| i.get("netConf").is_some())
    })
}

/// The `config` object of a decoded configuration, with FORMAT.md's `expect` keys.
fn config_json(c: &NetConf) -> Value {
    let mut m = Map::new();
    m.insert("enableIPv4".into(), json!(c.enable_ipv4));
    m.insert("enableIPv6".into(), json!(c.enable_ipv6));
    m.insert("enableNFTables".into(), json!(c.enable_nftables));
    if let Some(p) = &c.ipv4 {
        m.insert("network".into(), json!(p.network.to_string()));
        m.insert("subnetLen".into(), json!(p.subnet_len));
        m.insert("subnetMin".into(), json!(p.subnet_min.to_string()));
        m.insert("subnetMax".into(), json!(p.subnet_max.to_string()));
    }
    if let Some(p) = &c.ipv6 {
        m.insert("ipv6Network".into(), json!(p.network.to_string()));
        m.insert("ipv6SubnetLen".into(), json!(p.subnet_len));
        m.insert("ipv6SubnetMin".into(), json!(p.subnet_min.to_string()));
        m.insert("ipv6SubnetMax".into(), json!(p.subnet_max.to_string()));
    }
    m.insert("backendType".into(), json!(c.backend.type_name));
    m.insert("resolvedBackend".into(), json!(c.backend.resolved()));
    match &c.backend.options {
        BackendOptions::Vxlan(v) => {
            m.insert("vni".into(), json!(v.vni));
            m.insert("port".into(), json!(v.port));
            m.insert("gbp".into(), json!(v.gbp));
            m.insert("learning".into(), json!(v.learning));
            m.insert("directRouting".into(), json!(v.direct_routing));
            m.insert("mtu".into(), json!(v.mtu));
        }
        BackendOptions::Udp(u) => {
            m.insert("udpPort".into(), json!(u.port));
        }
        BackendOptions::IpIp(i) => {
            m.insert("ipipDirectRouting".into(), json!(i.direct_routing));
        }
        BackendOptions::Wireguard(w) => {
            m.insert(
                "wireguard".into(),
                json!({
                    "ListenPort": w.listen_port,
                    "ListenPortV6": w.listen_port_v6,
                    "MTU": w.mtu,
                    "PSK": w.psk,
                    "PersistentKeepaliveInterval": w.persistent_keepalive_interval,
                    "Mode": w.mode.as_str(),
                }),
            );
        }
        _ => {}
    }
    Value::Object(m)
}

fn error_json(e: &NetConfError) -> Value {
    json!({"stage": e.stage().as_str(), "message": e.message()})
}

/// Values equal as FORMAT.md compares them: addresses and CIDRs as parsed
/// addresses, objects by the expected keys only, everything else exactly.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) => {
            if let (Ok(x), Ok(y)) = (e.parse::<IpAddr>(), a.parse::<IpAddr>()) {
                return x == y;
            }
            if let (Ok(x), Ok(y)) = (e.parse::<ipnet::IpNet>(), a.parse::<ipnet::IpNet>()) {
                return x == y;
            }
            e == a
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| same(ev, av))),
        _ => expected == actual,
    }
}

/// Runs one case; `Ok(())` when it passed, `Err(what differed)` otherwise.
fn check_case(case: &Value, result: &Result<NetConf, NetConfError>) -> Result<(), String> {
    if let Some(stage) = case.get("errorStage") {
        let want = stage.as_str().unwrap_or_default();
        return match result {
            Err(e) if e.stage().as_str() == want => Ok(()),
            Err(e) => Err(format!(
                "expected a {want} error, got a {} error: {}",
                e.stage(),
                e.message()
            )),
            Ok(_) => Err(format!(
                "expected a {want} error, but the configuration was accepted"
            )),
        };
    }
    if case.get("expectError").is_some() {
        return match result {
            Err(_) => Ok(()),
            Ok(_) => Err("expected an error, but the configuration was accepted".to_owned()),
        };
    }
    let Some(expect) = case.get("expect").and_then(Value::as_object) else {
        return Err("case has neither `expect` nor `expectError`".to_owned());
    };
    let config = match result {
        Ok(c) => config_json(c),
        Err(e) => return Err(format!("expected success, got a {e}")),
    };
    let mut diffs = Vec::new();
    for (key, want) in expect {
        match config.get(key) {
            Some(got) if same(want, got) => {}
            Some(got) => diffs.push(format!("{key}: expected {want}, got {got}")),
            None if want.is_null() => {}
            None => diffs.push(format!("{key}: expected {want}, got nothing")),
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// Runs every case; `file` is the name to print. Without `json`, writes one line per failing case
/// (file, case name, what differed); with `json`, one JSON object per case as FORMAT.md specifies:
/// {"file": ..., "name": ..., "config": {...}} or {"file": ..., "name": ..., "error": {"stage": "...", "message": "..."}}.
/// A malformed case (missing name/netConf) is a failure line, not a panic.
pub fn run_netconf_file(
    file: &str,
    v: &Value,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<NetconfOutcome> {
    let mut outcome = NetconfOutcome::default();
    let Some(cases) = v.as_array() else {
        outcome.failed += 1;
        writeln!(
            out,
            "{file}: not a net-conf case file (expected a JSON array)"
        )?;
        return Ok(outcome);
    };
    for (index, case) in cases.iter().enumerate() {
        let name = case.get("name").and_then(Value::as_str);
        let text = case.get("netConf").and_then(Value::as_str);
        let (Some(name), Some(text)) = (name, text) else {
            outcome.failed += 1;
            let label = name.map_or_else(|| format!("case #{index}"), str::to_owned);
            if json {
                let line = json!({"file": file, "name": label, "error": {"stage": "case", "message": "malformed case: needs a string `name` and a string `netConf`"}});
                writeln!(out, "{line}")?;
            } else {
                writeln!(
                    out,
                    "{file}: {label}: malformed case: needs a string `name` and a string `netConf`"
                )?;
            }
            continue;
        };
        let result = NetConf::parse(text).map(|p| p.config);
        let verdict = check_case(case, &result);
        if verdict.is_ok() {
            outcome.passed += 1;
        } else {
            outcome.failed += 1;
        }
        if json {
            let line = match &result {
                Ok(c) => json!({"file": file, "name": name, "config": config_json(c)}),
                Err(e) => json!({"file": file, "name": name, "error": error_json(e)}),
            };
            writeln!(out, "{line}")?;
        } else if let Err(diff) = verdict {
            writeln!(out, "{file}: {name}: {diff}")?;
        }
    }
    Ok(outcome)
}
