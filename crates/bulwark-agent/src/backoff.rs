//! CrashLoopBackOff: how long a container that keeps exiting waits before its next start.
//!
//! Upstream keeps one backoff entry per container (the kubelet's `flowcontrol.Backoff`, keyed by
//! pod and container) and this module keeps the same entry as a value, [`CrashBackoff`]:
//! - The first exit restarts at once and arms the entry with the initial delay (10 s).
//! - Each later exit waits out the current delay, counted from the moment the container
//!   finished, then restarts and doubles the delay, up to the cap (300 s).
//! - A container that ran for longer than the reset window (600 s) since its last restart
//!   counts as healthy: its next exit starts over as if it were the first.
//!
//! While it waits the container shows `waiting.reason: CrashLoopBackOff` with
//! [`crash_loop_message`], and the agent records a `BackOff` event with
//! [`back_off_event_message`].

use std::time::Duration;

use jiff::Timestamp;

use crate::text::{go_duration, pod_reference};
use crate::timing::{add, elapsed};

/// The three numbers behind CrashLoopBackOff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    initial: Duration,
    cap: Duration,
    reset_after: Duration,
}

/// A policy whose numbers cannot work together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BackoffPolicyError {
    #[error("the initial back-off must be longer than zero")]
    ZeroInitial,
    #[error("the back-off cap must not be shorter than the initial back-off")]
    CapBelowInitial,
}

impl BackoffPolicy {
    /// Kubernetes' defaults: 10 s doubling to 300 s, reset after 600 s of healthy running.
    pub const DEFAULT: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(10),
        cap: Duration::from_secs(300),
        reset_after: Duration::from_secs(600),
    };

    /// The fast profile: 1 s doubling to 30 s, reset after 60 s.
    pub const FAST: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(1),
        cap: Duration::from_secs(30),
        reset_after: Duration::from_secs(60),
    };

    pub fn new(
        initial: Duration,
        cap: Duration,
        reset_after: Duration,
    ) -> Result<Self, BackoffPolicyError> {
        if initial.is_zero() {
            return Err(BackoffPolicyError::ZeroInitial);
        }
        if cap < initial {
            return Err(BackoffPolicyError::CapBelowInitial);
        }
        Ok(Self {
            initial,
            cap,
            reset_after,
        })
    }

    pub fn initial(&self) -> Duration {
        self.initial
    }

    pub fn cap(&self) -> Duration {
        self.cap
    }

    pub fn reset_after(&self) -> Duration {
        self.reset_after
    }
}

/// One container's back-off memory; `Default` is a container that has never been restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CrashBackoff {
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// How long the next exit waits before its restart.
    delay: Duration,
    /// When the container was last restarted: the start of its current healthy run.
    last_restart: Timestamp,
}

/// Whether an exited container may start again now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartGate {
    /// Start it now, and keep `next` as the container's back-off from here on.
    Restart { next: CrashBackoff },
    /// Still backing off: show `CrashLoopBackOff` and look again at `until`.
    Wait { delay: Duration, until: Timestamp },
}

impl CrashBackoff {
    /// Decides for a container that finished at `finished_at` and wants to start again.
    pub fn gate(
        &self,
        policy: &BackoffPolicy,
        finished_at: Timestamp,
        now: Timestamp,
    ) -> RestartGate {
        let Some(entry) = self.live_entry(policy, finished_at) else {
            return RestartGate::Restart {
                next: CrashBackoff::armed(policy.initial, now),
            };
        };
        let until = add(finished_at, entry.delay);
        if now < until {
            return RestartGate::Wait {
                delay: entry.delay,
                until,
            };
        }
        let doubled = entry.delay.saturating_mul(2).min(policy.cap);
        RestartGate::Restart {
            next: CrashBackoff::armed(doubled, now),
        }
    }

    /// The delay the next exit will wait, if the container has been restarted before.
    pub fn current_delay(&self) -> Option<Duration> {
        self.entry.map(|entry| entry.delay)
    }

    /// The entry, unless the container ran long enough since its last restart to be forgiven.
    /// Upstream's test is strict (`> 2 × cap`), so a run of exactly the window still counts.
    fn live_entry(&self, policy: &BackoffPolicy, finished_at: Timestamp) -> Option<Entry> {
        self.entry
            .filter(|entry| elapsed(entry.last_restart, finished_at) <= policy.reset_after)
    }

    fn armed(delay: Duration, last_restart: Timestamp) -> Self {
        Self {
            entry: Some(Entry {
                delay,
                last_restart,
            }),
        }
    }
}

/// `waiting.message` of a container in CrashLoopBackOff, as the kubelet words it.
pub fn crash_loop_message(
    delay: Duration,
    container: &str,
    pod_name: &str,
    namespace: &str,
    uid: &str,
) -> String {
    format!(
        "back-off {} restarting failed container={container} pod={}",
        go_duration(delay),
        pod_reference(pod_name, namespace, uid)
    )
}

/// The message of the `BackOff` event recorded while a container waits.
pub fn back_off_event_message(
    container: &str,
    pod_name: &str,
    namespace: &str,
    uid: &str,
) -> String {
    format!(
        "Back-off restarting failed container {container} in pod {}",
        pod_reference(pod_name, namespace, uid)
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(seconds: u64) -> Timestamp {
        add(Timestamp::UNIX_EPOCH, Duration::from_secs(seconds))
    }

    /// Runs a container that crashes `run` seconds after every start and restarts as soon as the
    /// gate allows; returns the delay each restart waited after its exit.
    fn waits(policy: &BackoffPolicy, run_seconds: &[u64]) -> Vec<Duration> {
        let mut backoff = CrashBackoff::default();
        let mut started = at(0);
        let mut waits = Vec::new();
        for run in run_seconds {
            let finished = add(started, Duration::from_secs(*run));
            let restart_at = match backoff.gate(policy, finished, finished) {
                RestartGate::Restart { .. } => finished,
                RestartGate::Wait { until, .. } => until,
            };
            let RestartGate::Restart { next } = backoff.gate(policy, finished, restart_at) else {
                panic!("the gate must open once the wait is over");
            };
            waits.push(elapsed(finished, restart_at));
            backoff = next;
            started = restart_at;
        }
        waits
    }

    #[test]
    fn first_exit_restarts_at_once_then_delays_double_to_the_cap() {
        let waits = waits(&BackoffPolicy::DEFAULT, &[1; 8]);
        let seconds: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(seconds, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn waiting_container_waits_until_its_delay_is_over() {
        let policy = BackoffPolicy::DEFAULT;
        let RestartGate::Restart { next } = CrashBackoff::default().gate(&policy, at(0), at(0))
        else {
            panic!("first exit restarts at once");
        };
        assert_eq!(
            next.gate(&policy, at(5), at(9)),
            RestartGate::Wait {
                delay: Duration::from_secs(10),
                until: at(15)
            }
        );
        assert!(matches!(
            next.gate(&policy, at(5), at(15)),
            RestartGate::Restart { .. }
        ));
    }

    #[test]
    fn long_healthy_run_resets_the_delay() {
        let policy = BackoffPolicy::DEFAULT;
        let seconds: Vec<u64> = waits(&policy, &[1, 1, 1, 601, 1])
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(seconds, [0, 10, 20, 0, 10]);
    }

    #[test]
    fn run_of_exactly_the_window_is_not_yet_forgiven() {
        let seconds: Vec<u64> = waits(&BackoffPolicy::DEFAULT, &[1, 600])
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(seconds, [0, 10]);
    }

    #[test]
    fn fast_profile_doubles_from_one_second_to_thirty() {
        let seconds: Vec<u64> = waits(&BackoffPolicy::FAST, &[0; 8])
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(seconds, [0, 1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn policies_reject_numbers_that_cannot_work() {
        let second = Duration::from_secs(1);
        assert_eq!(
            BackoffPolicy::new(Duration::ZERO, second, second),
            Err(BackoffPolicyError::ZeroInitial)
        );
        assert_eq!(
            BackoffPolicy::new(second * 2, second, second),
            Err(BackoffPolicyError::CapBelowInitial)
        );
    }

    #[test]
    fn messages_read_like_the_kubelets() {
        assert_eq!(
            crash_loop_message(Duration::from_secs(300), "app", "web", "default", "u1"),
            "back-off 5m0s restarting failed container=app pod=web_default(u1)"
        );
        assert_eq!(
            back_off_event_message("app", "web", "default", "u1"),
            "Back-off restarting failed container app in pod web_default(u1)"
        );
    }

    fn policies() -> impl Strategy<Value = BackoffPolicy> {
        (1u64..100, 1u64..10, 0u64..2000).prop_map(|(initial, factor, reset)| {
            BackoffPolicy::new(
                Duration::from_secs(initial),
                Duration::from_secs(initial * factor * 3),
                Duration::from_secs(reset),
            )
            .expect("initial > 0 and cap >= initial")
        })
    }

    proptest! {
        #[test]
        fn delays_double_never_exceed_the_cap_and_reset_after_the_window(
            policy in policies(),
            runs in proptest::collection::vec(0u64..3000, 1..40),
        ) {
            let waits = waits(&policy, &runs);
            let mut armed: Option<Duration> = None;
            for (index, run) in runs.iter().enumerate() {
                // The run that just ended began at the last restart; a long one is forgiven.
                let live = armed.filter(|_| Duration::from_secs(*run) <= policy.reset_after());
                prop_assert_eq!(waits[index], live.unwrap_or(Duration::ZERO), "restart {} of {:?}", index, waits);
                prop_assert!(waits[index] <= policy.cap());
                armed = Some(match live {
                    None => policy.initial(),
                    Some(delay) => (delay * 2).min(policy.cap()),
                });
            }
        }

        #[test]
        fn a_wait_never_outlasts_the_cap(
            policy in policies(),
            runs in proptest::collection::vec(0u64..500, 1..20),
            finished_offset in 0u64..1000,
            now_offset in 0u64..1000,
        ) {
            let mut backoff = CrashBackoff::default();
            let mut now = at(0);
            for run in runs {
                now = add(now, Duration::from_secs(run));
                if let RestartGate::Restart { next } = backoff.gate(&policy, now, add(now, policy.cap())) {
                    backoff = next;
                }
                now = add(now, policy.cap());
            }
            let finished = add(now, Duration::from_secs(finished_offset));
            let asked = add(finished, Duration::from_secs(now_offset));
            match backoff.gate(&policy, finished, asked) {
                RestartGate::Wait { delay, until } => {
                    prop_assert!(delay <= policy.cap());
                    prop_assert_eq!(until, add(finished, delay));
                    prop_assert!(asked < until);
                }
                RestartGate::Restart { next } => {
                    let delay = next.current_delay().expect("a restart arms the entry");
                    prop_assert!(delay <= policy.cap() && delay >= policy.initial());
                }
            }
        }
    }
}
