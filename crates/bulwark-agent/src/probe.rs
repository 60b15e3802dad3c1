//! Probe state for one container instance: when each probe runs next, what its results mean,
//! and what the agent must do about them (the kubelet's prober workers and results managers).
//!
//! Behaviour, as upstream:
//! - Each probe first runs `initialDelaySeconds` after the container started, then every
//!   `periodSeconds`; the shell gives each attempt `timeoutSeconds` and reports the outcome.
//! - A result changes the probe's verdict only after `successThreshold` successes or
//!   `failureThreshold` failures in a row. Before any verdict, readiness counts as failed,
//!   liveness as passing, startup as unknown.
//! - The startup probe gates the others: until it passes, readiness and liveness do not run, and
//!   the container is neither started nor ready. Once it passes it stops for this instance.
//! - Readiness failure makes the container unready and never restarts it.
//! - Liveness failure (and startup failure) kills the container; the probe then holds still
//!   until a new instance replaces this one ([`ContainerProbes`] is built per instance).
//! - Every failed attempt is an `Unhealthy` warning event: `Liveness probe failed: …`.
//! - Once the pod is being deleted, liveness and startup stop so shutdown is not disturbed.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Probe};

use crate::timing::{add, elapsed, seconds};

/// Which of a container's three probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [
        ProbeKind::Startup,
        ProbeKind::Readiness,
        ProbeKind::Liveness,
    ];

    /// How upstream names the kind in events: `Startup`, `Readiness`, `Liveness`.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Liveness => "Liveness",
        }
    }

    fn spec(self, container: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Startup => container.startup_probe.as_ref(),
            ProbeKind::Readiness => container.readiness_probe.as_ref(),
            ProbeKind::Liveness => container.liveness_probe.as_ref(),
        }
    }
}

/// A probe's timing and thresholds, with upstream's defaults for absent or non-positive values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl ProbeSettings {
    pub fn of(kind: ProbeKind, probe: &Probe) -> Self {
        let positive =
            |value: Option<i32>, default: i32| value.filter(|v| *v > 0).unwrap_or(default);
        // Validation allows only 1 for liveness and startup; hold to it even if it slipped by.
        let success_threshold = match kind {
            ProbeKind::Readiness => positive(probe.success_threshold, 1),
            ProbeKind::Startup | ProbeKind::Liveness => 1,
        };
        Self {
            initial_delay: seconds(probe.initial_delay_seconds.unwrap_or(0)),
            period: seconds(positive(probe.period_seconds, 10)),
            timeout: seconds(positive(probe.timeout_seconds, 1)),
            success_threshold: success_threshold.unsigned_abs(),
            failure_threshold: positive(probe.failure_threshold, 3).unsigned_abs(),
        }
    }
}

/// The outcome of one probe attempt, as the shell observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    Success,
    /// The probe ran and failed; the text says how (`HTTP probe failed with statuscode: 500`).
    Failure(String),
    /// The probe could not be run at all; upstream throws such results away.
    Error(String),
}

/// An `Unhealthy` warning event to record against the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhealthyEvent {
    pub kind: ProbeKind,
    pub message: String,
}

/// What a recorded result asks of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeActions {
    pub events: Vec<UnhealthyEvent>,
    /// Kill the container because this probe failed (liveness or startup).
    pub kill: Option<ProbeKind>,
    /// `started` or `ready` changed: the pod status needs writing.
    pub status_changed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Unknown,
    Success,
    Failure,
}

#[derive(Debug, Clone, Copy)]
struct Worker {
    settings: ProbeSettings,
    first_at: Timestamp,
    next_at: Timestamp,
    verdict: Verdict,
    /// The last attempt's result and how many attempts in a row had it.
    streak: Option<(bool, u32)>,
    /// Set after a kill or once stopped: no more attempts for this instance.
    on_hold: bool,
}

impl Worker {
    fn new(kind: ProbeKind, settings: ProbeSettings, started_at: Timestamp) -> Self {
        let first_at = add(started_at, settings.initial_delay);
        Self {
            settings,
            first_at,
            next_at: first_at,
            verdict: match kind {
                ProbeKind::Startup => Verdict::Unknown,
                ProbeKind::Readiness => Verdict::Failure,
                ProbeKind::Liveness => Verdict::Success,
            },
            streak: None,
            on_hold: false,
        }
    }

    /// Moves `next_at` to the first tick after `now` (ticks missed while busy are skipped).
    fn advance_past(&mut self, now: Timestamp) {
        let period = self.settings.period.max(Duration::from_secs(1));
        let behind = elapsed(self.next_at, now);
        let periods = behind.as_nanos() / period.as_nanos() + 1;
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        self.next_at = add(self.next_at, period.saturating_mul(periods));
    }

    /// Counts one result; returns the new verdict when the streak crosses its threshold.
    fn count(&mut self, passed: bool) -> Option<Verdict> {
        let run = match self.streak {
            Some((last, run)) if last == passed => run.saturating_add(1),
            _ => 1,
        };
        self.streak = Some((passed, run));
        let threshold = if passed {
            self.settings.success_threshold
        } else {
            self.settings.failure_threshold
        };
        if run < threshold {
            return None;
        }
        Some(if passed {
            Verdict::Success
        } else {
            Verdict::Failure
        })
    }
}

/// The probes of one container instance.
#[derive(Debug, Clone)]
pub struct ContainerProbes {
    container: String,
    workers: [Option<Worker>; 3],
}

impl ContainerProbes {
    /// Probes for an instance of `container` that started running at `started_at`.
    pub fn new(container: &Container, started_at: Timestamp) -> Self {
        let workers = ProbeKind::ALL.map(|kind| {
            kind.spec(container)
                .map(|probe| Worker::new(kind, ProbeSettings::of(kind, probe), started_at))
        });
        Self {
            container: container.name.clone(),
            workers,
        }
    }

    /// Whether the container counts as started: its startup probe passed, or it has none.
    pub fn started(&self) -> bool {
        self.worker(ProbeKind::Startup)
            .is_none_or(|worker| worker.verdict == Verdict::Success)
    }

    /// Whether the container is ready: started, and its readiness probe passed or it has none.
    pub fn ready(&self) -> bool {
        self.started()
            && self
                .worker(ProbeKind::Readiness)
                .is_none_or(|worker| worker.verdict == Verdict::Success)
    }

    /// The settings of a probe the container has.
    pub fn settings(&self, kind: ProbeKind) -> Option<ProbeSettings> {
        self.worker(kind).map(|worker| worker.settings)
    }

    /// The probes to run now, in a stable order; calling it again before their next tick
    /// returns none of them. Probes the startup gate holds back skip their tick silently.
    pub fn due(&mut self, now: Timestamp) -> Vec<ProbeKind> {
        let started = self.started();
        let mut due = Vec::new();
        for kind in ProbeKind::ALL {
            let Some(worker) = self.worker_mut(kind) else {
                continue;
            };
            if worker.on_hold || worker.next_at > now {
                continue;
            }
            worker.advance_past(now);
            if gate_allows(kind, started) {
                due.push(kind);
            }
        }
        due
    }

    /// When [`due`](Self::due) next has something to run, if ever.
    pub fn next_due(&self) -> Option<Timestamp> {
        let started = self.started();
        ProbeKind::ALL
            .into_iter()
            .filter(|kind| gate_allows(*kind, started))
            .filter_map(|kind| self.worker(kind))
            .filter(|worker| !worker.on_hold)
            .map(|worker| worker.next_at)
            .min()
    }

    /// Takes in the result of an attempt of `kind` that finished at `at`.
    pub fn record(&mut self, kind: ProbeKind, result: &ProbeResult, at: Timestamp) -> ProbeActions {
        let mut actions = ProbeActions::default();
        let started = self.started();
        let Some(worker) = self.worker_mut(kind) else {
            return actions;
        };
        if worker.on_hold || !gate_allows(kind, started) {
            // A late answer for a probe that has since been stopped or gated.
            return actions;
        }
        let passed = match result {
            ProbeResult::Success => true,
            ProbeResult::Failure(output) => {
                actions.events.push(unhealthy(kind, "failed", output));
                false
            }
            ProbeResult::Error(message) => {
                actions.events.push(unhealthy(kind, "errored", message));
                return actions;
            }
        };
        let before = (self.started(), self.ready());
        let Some(worker) = self.worker_mut(kind) else {
            return actions;
        };
        if let Some(verdict) = worker.count(passed) {
            worker.verdict = verdict;
            let kills = kind != ProbeKind::Readiness && verdict == Verdict::Failure;
            if kills || (kind == ProbeKind::Startup && verdict == Verdict::Success) {
                // Killed, or the startup probe's work is done for this instance.
                worker.on_hold = true;
                worker.streak = None;
            }
            if kills {
                actions.kill = Some(kind);
            }
        }
        if !started && self.started() {
            self.trigger_readiness(at);
        }
        actions.status_changed = before != (self.started(), self.ready());
        actions
    }

    /// The pod is being deleted: liveness and startup stop and count as passing, so the
    /// container is not killed for failing them while it shuts down.
    pub fn pod_terminating(&mut self) {
        for kind in [ProbeKind::Startup, ProbeKind::Liveness] {
            if let Some(worker) = self.worker_mut(kind) {
                worker.verdict = Verdict::Success;
                worker.on_hold = true;
            }
        }
    }

    /// The message of the `Killing` event for a container a probe failed.
    pub fn killing_message(&self, kind: ProbeKind, will_restart: bool) -> String {
        let probe = kind.name().to_lowercase();
        let restart = if will_restart {
            ", will be restarted"
        } else {
            ""
        };
        format!("Container {} failed {probe} probe{restart}", self.container)
    }

    /// Readiness runs at once when the container starts, as upstream's manual trigger does,
    /// but never before its initial delay.
    fn trigger_readiness(&mut self, at: Timestamp) {
        if let Some(worker) = self.worker_mut(ProbeKind::Readiness) {
            worker.next_at = at.max(worker.first_at);
        }
    }

    fn worker(&self, kind: ProbeKind) -> Option<&Worker> {
        self.workers[kind as usize].as_ref()
    }

    fn worker_mut(&mut self, kind: ProbeKind) -> Option<&mut Worker> {
        self.workers[kind as usize].as_mut()
    }
}

fn gate_allows(kind: ProbeKind, started: bool) -> bool {
    (kind == ProbeKind::Startup) != started
}

fn unhealthy(kind: ProbeKind, what: &str, detail: &str) -> UnhealthyEvent {
    UnhealthyEvent {
        kind,
        message: format!("{} probe {what}: {detail}", kind.name()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(seconds: u64) -> Timestamp {
        add(Timestamp::UNIX_EPOCH, Duration::from_secs(seconds))
    }

    fn probe(initial: i32, period: i32, failure: i32) -> Probe {
        Probe {
            initial_delay_seconds: Some(initial),
            period_seconds: Some(period),
            failure_threshold: Some(failure),
            ..Probe::default()
        }
    }

    /// The seed's recommendation-service container.
    fn recommender() -> Container {
        Container {
            name: "recommender".into(),
            readiness_probe: Some(probe(5, 10, 3)),
            liveness_probe: Some(probe(15, 20, 5)),
            startup_probe: Some(probe(0, 10, 30)),
            ..Container::default()
        }
    }

    fn fail() -> ProbeResult {
        ProbeResult::Failure("HTTP probe failed with statuscode: 500".into())
    }

    #[test]
    fn settings_default_like_upstream() {
        let settings = ProbeSettings::of(ProbeKind::Readiness, &Probe::default());
        assert_eq!(settings.initial_delay, Duration::ZERO);
        assert_eq!(settings.period, Duration::from_secs(10));
        assert_eq!(settings.timeout, Duration::from_secs(1));
        assert_eq!(
            (settings.success_threshold, settings.failure_threshold),
            (1, 3)
        );
        let liveness = Probe {
            success_threshold: Some(4),
            ..Probe::default()
        };
        assert_eq!(
            ProbeSettings::of(ProbeKind::Liveness, &liveness).success_threshold,
            1
        );
    }

    #[test]
    fn container_without_probes_is_started_and_ready_at_once() {
        let mut probes = ContainerProbes::new(&Container::default(), at(0));
        assert!(probes.started() && probes.ready());
        assert!(probes.due(at(100)).is_empty());
        assert_eq!(probes.next_due(), None);
    }

    #[test]
    fn startup_gates_readiness_and_liveness_until_it_passes() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        assert!(!probes.started() && !probes.ready());
        assert_eq!(probes.due(at(0)), [ProbeKind::Startup]);
        probes.record(ProbeKind::Startup, &fail(), at(0));
        // Readiness's first tick at 5 s and liveness's at 15 s pass while the gate is shut.
        assert!(probes.due(at(5)).is_empty());
        assert_eq!(probes.due(at(20)), [ProbeKind::Startup]);
        let actions = probes.record(ProbeKind::Startup, &ProbeResult::Success, at(20));
        assert!(actions.status_changed);
        assert!(probes.started() && !probes.ready());
        // Readiness runs at once on start; the startup probe is finished for good.
        assert_eq!(probes.next_due(), Some(at(20)));
        assert_eq!(probes.due(at(20)), [ProbeKind::Readiness]);
        let actions = probes.record(ProbeKind::Readiness, &ProbeResult::Success, at(20));
        assert!(actions.status_changed && probes.ready());
        assert!(!probes.due(at(1000)).contains(&ProbeKind::Startup));
    }

    #[test]
    fn readiness_failure_makes_the_container_unready_and_never_kills_it() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        probes.record(ProbeKind::Startup, &ProbeResult::Success, at(0));
        probes.record(ProbeKind::Readiness, &ProbeResult::Success, at(5));
        for attempt in 0..3 {
            let actions = probes.record(ProbeKind::Readiness, &fail(), at(15 + attempt * 10));
            assert_eq!(actions.kill, None);
            assert_eq!(actions.events.len(), 1);
            assert_eq!(
                probes.ready(),
                attempt < 2,
                "unready after failureThreshold 3"
            );
        }
        for _ in 0..100 {
            assert_eq!(
                probes.record(ProbeKind::Readiness, &fail(), at(100)).kill,
                None
            );
        }
        probes.record(ProbeKind::Readiness, &ProbeResult::Success, at(200));
        assert!(
            probes.ready(),
            "one success (successThreshold 1) makes it ready again"
        );
    }

    #[test]
    fn liveness_failure_kills_after_the_threshold_then_holds() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        probes.record(ProbeKind::Startup, &ProbeResult::Success, at(0));
        let mut kills = Vec::new();
        for attempt in 0..5 {
            let actions = probes.record(ProbeKind::Liveness, &fail(), at(15 + attempt * 20));
            assert_eq!(
                actions.events,
                [UnhealthyEvent {
                    kind: ProbeKind::Liveness,
                    message: "Liveness probe failed: HTTP probe failed with statuscode: 500".into()
                }]
            );
            kills.push(actions.kill);
        }
        assert_eq!(kills, [None, None, None, None, Some(ProbeKind::Liveness)]);
        assert!(!probes.due(at(10_000)).contains(&ProbeKind::Liveness));
        assert_eq!(
            probes.record(ProbeKind::Liveness, &fail(), at(10_000)),
            ProbeActions::default()
        );
        assert_eq!(
            probes.killing_message(ProbeKind::Liveness, true),
            "Container recommender failed liveness probe, will be restarted"
        );
    }

    #[test]
    fn a_success_breaks_a_failure_streak() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        probes.record(ProbeKind::Startup, &ProbeResult::Success, at(0));
        for _ in 0..4 {
            probes.record(ProbeKind::Liveness, &fail(), at(20));
        }
        probes.record(ProbeKind::Liveness, &ProbeResult::Success, at(20));
        for _ in 0..4 {
            assert_eq!(
                probes.record(ProbeKind::Liveness, &fail(), at(20)).kill,
                None
            );
        }
    }

    #[test]
    fn startup_failure_kills_the_container() {
        let container = Container {
            startup_probe: Some(probe(0, 1, 2)),
            ..Container::default()
        };
        let mut probes = ContainerProbes::new(&container, at(0));
        assert_eq!(probes.record(ProbeKind::Startup, &fail(), at(0)).kill, None);
        assert_eq!(
            probes.record(ProbeKind::Startup, &fail(), at(1)).kill,
            Some(ProbeKind::Startup)
        );
    }

    #[test]
    fn probe_errors_are_reported_but_not_counted() {
        let container = Container {
            liveness_probe: Some(probe(0, 1, 1)),
            ..Container::default()
        };
        let mut probes = ContainerProbes::new(&container, at(0));
        let actions = probes.record(
            ProbeKind::Liveness,
            &ProbeResult::Error("no port".into()),
            at(0),
        );
        assert_eq!(actions.kill, None);
        assert_eq!(actions.events[0].message, "Liveness probe errored: no port");
    }

    #[test]
    fn ticks_follow_initial_delay_and_period_and_skip_missed_ones() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        probes.record(ProbeKind::Startup, &ProbeResult::Success, at(0));
        assert_eq!(probes.due(at(4)), []);
        assert_eq!(probes.due(at(5)), [ProbeKind::Readiness]);
        assert_eq!(probes.due(at(5)), []);
        assert_eq!(probes.next_due(), Some(at(15)));
        assert_eq!(
            probes.due(at(15)),
            [ProbeKind::Readiness, ProbeKind::Liveness]
        );
        // Asleep for a while: one attempt each, then back on the period grid.
        assert_eq!(
            probes.due(at(101)),
            [ProbeKind::Readiness, ProbeKind::Liveness]
        );
        assert_eq!(probes.next_due(), Some(at(105)));
    }

    #[test]
    fn terminating_pod_stops_liveness() {
        let mut probes = ContainerProbes::new(&recommender(), at(0));
        probes.pod_terminating();
        assert!(probes.started());
        assert!(!probes.due(at(1000)).contains(&ProbeKind::Liveness));
    }

    fn results() -> impl Strategy<Value = (ProbeKind, u8)> {
        (
            prop_oneof![
                Just(ProbeKind::Startup),
                Just(ProbeKind::Readiness),
                Just(ProbeKind::Liveness)
            ],
            0u8..3,
        )
    }

    proptest! {
        #[test]
        fn probe_invariants_hold_for_any_result_sequence(
            thresholds in (1i32..5, 1i32..5, 1i32..5),
            steps in proptest::collection::vec(results(), 0..200),
        ) {
            let (startup_failures, readiness_failures, liveness_failures) = thresholds;
            let container = Container {
                startup_probe: Some(probe(0, 1, startup_failures)),
                readiness_probe: Some(probe(0, 1, readiness_failures)),
                liveness_probe: Some(probe(0, 1, liveness_failures)),
                ..Container::default()
            };
            let mut probes = ContainerProbes::new(&container, at(0));
            let mut failures_in_a_row = [0u32; 3];
            let mut ever_started = false;
            let mut killed = false;
            for (index, (kind, outcome)) in steps.into_iter().enumerate() {
                let now = at(index as u64);
                let due = probes.due(now);
                prop_assert!(probes.started() || due.iter().all(|kind| *kind == ProbeKind::Startup));
                let result = match outcome {
                    0 => ProbeResult::Success,
                    1 => fail(),
                    _ => ProbeResult::Error("boom".into()),
                };
                let counted = !killed && (kind == ProbeKind::Startup) != probes.started();
                let actions = probes.record(kind, &result, now);
                if counted {
                    match outcome {
                        0 => failures_in_a_row[kind as usize] = 0,
                        1 => failures_in_a_row[kind as usize] += 1,
                        _ => {}
                    }
                }
                if let Some(killer) = actions.kill {
                    prop_assert_ne!(killer, ProbeKind::Readiness);
                    prop_assert_eq!(killer, kind);
                    let threshold = [startup_failures, readiness_failures, liveness_failures][kind as usize];
                    prop_assert!(failures_in_a_row[kind as usize] >= threshold.unsigned_abs());
                    prop_assert!(!killed, "a container is killed at most once");
                    killed = true;
                }
                prop_assert!(!probes.ready() || probes.started());
                prop_assert!(!ever_started || probes.started(), "started never goes back");
                ever_started |= probes.started();
            }
        }
    }
}
