//! The demo service's settings, read from the environment the agent gives a container.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::DemoError;

/// Everything the demo service can be told at start; most of it can change later through the
/// admin endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// `POD_IP`, default `127.0.0.1`.
    pub bind: IpAddr,
    /// `PORT`, default 8080.
    pub port: u16,
    /// `POD_NAME` (or `HOSTNAME`), reported by the work endpoint.
    pub pod_name: String,
    /// `POD_NAMESPACE`.
    pub namespace: String,
    /// `DEMO_STARTUP_DELAY_SECONDS`: startup and readiness fail until this much time has passed.
    pub startup_delay: Duration,
    /// `DEMO_LATENCY_MS`: added to every work request.
    pub latency: Duration,
    /// `DEMO_ERROR_RATE`: the share of work requests answered with 500, from 0 to 1.
    pub error_rate: f64,
    /// `DEMO_CRASH_AFTER_SECONDS`: exit with `crash_exit_code` this long after start.
    pub crash_after: Option<Duration>,
    /// `DEMO_CRASH_EXIT_CODE`, default 1.
    pub crash_exit_code: i32,
    /// `DEMO_MEMORY_GROWTH_MB_PER_SECOND`: memory the service allocates and touches each second.
    pub memory_growth_mb_per_second: u64,
    /// `DEMO_MEMORY_MAX_MB`, default 1024: growth stops here so a pod without a memory limit
    /// cannot take the machine down.
    pub memory_max_mb: u64,
    /// `DEMO_CPU_BURN_MILLICORES`: CPU the service keeps busy, in thousandths of a core.
    pub cpu_burn_millicores: u64,
    /// `DEMO_FAIL_READY` / `DEMO_FAIL_LIVE`: start with that probe failing.
    pub fail_ready: bool,
    pub fail_live: bool,
    /// `DEMO_SHUTDOWN_DELAY_SECONDS`: how long SIGTERM handling takes, to exercise grace periods.
    pub shutdown_delay: Duration,
    /// `DEMO_SEED`: the seed of the error-rate dice; by default derived from the pod's name and
    /// address so that replicas differ but a pod is reproducible.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self::from_lookup(|_| None).expect("defaults are valid")
    }
}

impl DemoConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, DemoError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, DemoError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bind = parse(&get, "POD_IP")?.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let pod_name = get("POD_NAME")
            .or_else(|| get("HOSTNAME"))
            .unwrap_or_else(|| "demo".into());
        let error_rate: f64 = parse(&get, "DEMO_ERROR_RATE")?.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(DemoError::BadSetting {
                name: "DEMO_ERROR_RATE".into(),
                value: error_rate.to_string(),
                expected: "a number from 0 to 1",
            });
        }
        let seed =
            parse(&get, "DEMO_SEED")?.unwrap_or_else(|| fnv1a(&format!("{pod_name}/{bind}")));
        Ok(Self {
            bind,
            port: parse(&get, "PORT")?.unwrap_or(8080),
            namespace: get("POD_NAMESPACE").unwrap_or_else(|| "default".into()),
            startup_delay: seconds(&get, "DEMO_STARTUP_DELAY_SECONDS")?.unwrap_or_default(),
            latency: Duration::from_millis(parse(&get, "DEMO_LATENCY_MS")?.unwrap_or(0)),
            error_rate,
            crash_after: seconds(&get, "DEMO_CRASH_AFTER_SECONDS")?,
            crash_exit_code: parse(&get, "DEMO_CRASH_EXIT_CODE")?.unwrap_or(1),
            memory_growth_mb_per_second: parse(&get, "DEMO_MEMORY_GROWTH_MB_PER_SECOND")?
                .unwrap_or(0),
            memory_max_mb: parse(&get, "DEMO_MEMORY_MAX_MB")?.unwrap_or(1024),
            cpu_burn_millicores: parse(&get, "DEMO_CPU_BURN_MILLICORES")?.unwrap_or(0),
            fail_ready: parse(&get, "DEMO_FAIL_READY")?.unwrap_or(false),
            fail_live: parse(&get, "DEMO_FAIL_LIVE")?.unwrap_or(false),
            shutdown_delay: seconds(&get, "DEMO_SHUTDOWN_DELAY_SECONDS")?.unwrap_or_default(),
            seed,
            pod_name,
        })
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, DemoError> {
    let Some(value) = get(name) else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|_| DemoError::BadSetting {
        name: name.to_string(),
        value,
        expected: std::any::type_name::<T>(),
    })
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<Duration>, DemoError> {
    let Some(value) = parse::<f64>(get, name)? else {
        return Ok(None);
    };
    Duration::try_from_secs_f64(value)
        .map(Some)
        .map_err(|_| DemoError::BadSetting {
            name: name.to_string(),
            value: value.to_string(),
            expected: "a non-negative number of seconds",
        })
}

/// FNV-1a: a stable 64-bit hash for the default seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<DemoConfig, DemoError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DemoConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_listen_on_loopback_8080_with_no_faults() {
        let config = config(&[]).expect("defaults");
        assert_eq!(
            (config.bind.to_string(), config.port),
            ("127.0.0.1".to_string(), 8080)
        );
        assert_eq!(config.error_rate, 0.0);
        assert_eq!(config.crash_after, None);
        assert_eq!(config.memory_max_mb, 1024);
    }

    #[test]
    fn knobs_read_from_the_environment() {
        let config = config(&[
            ("POD_IP", "127.128.0.5"),
            ("PORT", "9090"),
            ("HOSTNAME", "web-1"),
            ("DEMO_STARTUP_DELAY_SECONDS", "1.5"),
            ("DEMO_LATENCY_MS", "20"),
            ("DEMO_ERROR_RATE", "0.25"),
            ("DEMO_CRASH_AFTER_SECONDS", "30"),
            ("DEMO_CPU_BURN_MILLICORES", "200"),
            ("DEMO_FAIL_READY", "true"),
            ("DEMO_SEED", "7"),
        ])
        .expect("valid");
        assert_eq!(config.bind.to_string(), "127.128.0.5");
        assert_eq!(config.port, 9090);
        assert_eq!(config.pod_name, "web-1");
        assert_eq!(config.startup_delay, Duration::from_millis(1500));
        assert_eq!(config.latency, Duration::from_millis(20));
        assert_eq!(config.error_rate, 0.25);
        assert_eq!(config.crash_after, Some(Duration::from_secs(30)));
        assert_eq!(config.cpu_burn_millicores, 200);
        assert!(config.fail_ready && !config.fail_live);
        assert_eq!(config.seed, 7);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("PORT", "http"),
            ("DEMO_ERROR_RATE", "2"),
            ("DEMO_STARTUP_DELAY_SECONDS", "-1"),
            ("POD_IP", "localhost"),
        ] {
            let error = config(&[(name, value)]).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
