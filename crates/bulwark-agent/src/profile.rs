//! The agent's clock settings: Kubernetes' defaults, or the fast profile that shrinks them for
//! demos and tests (DESIGN §7). Each value is also a flag; a profile only picks the defaults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::backoff::BackoffPolicy;

/// A named set of defaults for the agent's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Kubernetes' own defaults.
    #[default]
    Default,
    /// Every failure-handling clock shrunk roughly tenfold.
    Fast,
}

/// How often the agent renews its Node's Lease, and how long the Lease claims the node is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    pub renew_interval: Duration,
    pub duration: Duration,
}

/// `--profile` named something other than `default` or `fast`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: use \"default\" or \"fast\"")]
pub struct UnknownProfile(pub String);

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Fast => "fast",
        }
    }

    /// CrashLoopBackOff: 10 s / 300 s / 600 s, or 1 s / 30 s / 60 s.
    pub fn backoff(self) -> BackoffPolicy {
        match self {
            Profile::Default => BackoffPolicy::DEFAULT,
            Profile::Fast => BackoffPolicy::FAST,
        }
    }

    /// Lease renew / duration: 10 s / 40 s, or 1 s / 4 s.
    pub fn lease(self) -> LeaseTiming {
        let (renew, duration) = match self {
            Profile::Default => (10, 40),
            Profile::Fast => (1, 4),
        };
        LeaseTiming {
            renew_interval: Duration::from_secs(renew),
            duration: Duration::from_secs(duration),
        }
    }

    /// The longest the agent goes without posting node status when nothing changed (5 minutes,
    /// as upstream's `nodeStatusReportFrequency`); the fast profile does not shrink it because
    /// the Lease, not the status, is the heartbeat.
    pub fn node_status_report_interval(self) -> Duration {
        Duration::from_secs(300)
    }
}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "default" => Ok(Profile::Default),
            "fast" => Ok(Profile::Fast),
            other => Err(UnknownProfile(other.to_string())),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_by_name_and_print_back() {
        for profile in [Profile::Default, Profile::Fast] {
            assert_eq!(profile.name().parse::<Profile>(), Ok(profile));
        }
        let error = "turbo".parse::<Profile>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown profile \"turbo\": use \"default\" or \"fast\""
        );
    }

    #[test]
    fn fast_profile_shrinks_backoff_and_lease_as_design_section_7_says() {
        let fast = Profile::Fast.backoff();
        assert_eq!(fast.initial(), Duration::from_secs(1));
        assert_eq!(fast.cap(), Duration::from_secs(30));
        assert_eq!(fast.reset_after(), Duration::from_secs(60));
        assert_eq!(Profile::Fast.lease().renew_interval, Duration::from_secs(1));
        assert_eq!(Profile::Fast.lease().duration, Duration::from_secs(4));

        let default = Profile::Default.backoff();
        assert_eq!(default.initial(), Duration::from_secs(10));
        assert_eq!(default.cap(), Duration::from_secs(300));
        assert_eq!(default.reset_after(), Duration::from_secs(600));
        assert_eq!(Profile::Default.lease().duration, Duration::from_secs(40));
    }
}
