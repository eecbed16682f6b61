//! flannel net-conf case files (placeholder until the flannel module lands).

pub struct NetconfOutcome {
    pub passed: usize,
    pub failed: usize,
}

pub fn is_netconf_file(_v: &serde_json::Value) -> bool {
    false
}

pub fn run_netconf_file(
    _file: &str,
    _v: &serde_json::Value,
    _json: bool,
    _out: &mut dyn std::io::Write,
) -> std::io::Result<NetconfOutcome> {
    Ok(NetconfOutcome {
        passed: 0,
        failed: 0,
    })
}
