//! What this machine offers, read from `/proc` and `uname` (a shell module), and the parsing
//! of `--capacity cpu=4,memory=8Gi,pods=110` (pure).

use std::collections::BTreeMap;

use crate::node::SystemFacts;

/// Pods per node unless `--capacity pods=N` says otherwise (the kubelet's `maxPods`).
pub const DEFAULT_MAX_PODS: u32 = 110;

/// `cpu`, `memory`, `pods` and `ephemeral-storage` of this machine.
pub fn capacity() -> BTreeMap<String, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
    let mut capacity = BTreeMap::from([
        ("cpu".to_string(), cpus.to_string()),
        ("pods".to_string(), DEFAULT_MAX_PODS.to_string()),
    ]);
    if let Some(kib) = meminfo_kib("MemTotal") {
        capacity.insert("memory".to_string(), format!("{kib}Ki"));
    }
    capacity.insert("ephemeral-storage".to_string(), "100Gi".to_string());
    capacity
}

fn meminfo_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

/// Kernel, OS and identity facts for `nodeInfo`.
pub fn system_facts() -> SystemFacts {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .unwrap_or_default()
    };
    let os_image = read("/etc/os-release")
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string());
    SystemFacts {
        machine_id: read("/etc/machine-id"),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        kernel_version: read("/proc/sys/kernel/osrelease"),
        os_image,
        architecture: std::env::consts::ARCH.to_string(),
    }
}

/// Parses `cpu=4,memory=8Gi,pods=110` over `base`; each value must be a valid quantity.
pub fn parse_capacity(
    text: &str,
    mut base: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    for item in text.split(',').filter(|item| !item.trim().is_empty()) {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            format!("{item:?} is not NAME=QUANTITY (e.g. cpu=4,memory=8Gi,pods=110)")
        })?;
        let (name, value) = (name.trim(), value.trim());
        value
            .parse::<bulwark_core::quantity::Quantity>()
            .map_err(|error| format!("capacity {name}={value:?}: {error}"))?;
        base.insert(name.to_string(), value.to_string());
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_flags_override_the_machine() {
        let base = BTreeMap::from([("cpu".to_string(), "2".to_string())]);
        let parsed = parse_capacity("cpu=8, memory=16Gi,pods=20", base).expect("parses");
        assert_eq!(parsed["cpu"], "8");
        assert_eq!(parsed["memory"], "16Gi");
        assert_eq!(parsed["pods"], "20");
    }

    #[test]
    fn bad_capacity_says_what_is_wrong() {
        assert!(
            parse_capacity("cpu", BTreeMap::new())
                .unwrap_err()
                .contains("NAME=QUANTITY")
        );
        assert!(
            parse_capacity("memory=lots", BTreeMap::new())
                .unwrap_err()
                .contains("memory")
        );
    }

    #[test]
    fn the_machine_reports_cpu_memory_and_pods() {
        let capacity = capacity();
        assert!(capacity.contains_key("cpu"));
        assert!(capacity.contains_key("memory"));
        assert_eq!(capacity["pods"], "110");
    }
}
