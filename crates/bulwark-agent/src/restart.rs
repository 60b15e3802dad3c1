//! What to start next in a pod, given what its containers are doing (the kubelet's
//! `computePodActions`, minus the sandbox).
//!
//! - Init containers run one at a time, in order, each to successful completion, before any app
//!   container starts. A failed init container restarts unless the pod's `restartPolicy` is
//!   `Never`, in which case the pod fails.
//! - An init container with its own `restartPolicy: Always` is a sidecar: the next init
//!   container waits only until it has *started*, it keeps running beside the app containers,
//!   and it is restarted whenever it exits, whatever the pod's policy.
//! - App containers that exit restart per `restartPolicy`: `Always` restarts every exit,
//!   `OnFailure` only non-zero exits, `Never` none.
//! - A pod being deleted starts nothing.
//!
//! The plan says *what* should start; *when* is [`crate::backoff`]'s decision for containers
//! that ran before.

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// A pod's `spec.restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    /// The pod's policy; an absent or unrecognised value is `Always`, as defaulting makes it.
    pub fn of_pod(spec: &PodSpec) -> Self {
        Self::parse(spec.restart_policy.as_deref())
    }

    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }

    /// Whether a container that exited with `exit_code` starts again under this policy.
    pub fn restarts_after(self, exit_code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// Whether an init container is a sidecar (its own `restartPolicy: Always`).
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// The latest instance of one container, as the runtime last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRun {
    /// Never created in this pod.
    NotCreated,
    /// Running; `started` once its startup probe passed (or it has none).
    Running { started: bool },
    /// Exited with this code.
    Exited { exit_code: i32 },
}

/// One init container: its latest run and whether it is a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitContainerRun {
    pub run: ContainerRun,
    pub sidecar: bool,
}

/// A container of the pod, by its position in `initContainers` or `containers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerSlot {
    Init(usize),
    App(usize),
}

/// What the pod should do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodPlan {
    /// Containers to start, or to restart once their back-off allows it, in this order.
    pub start: Vec<ContainerSlot>,
    /// Every init container has done its part, so app containers may run.
    pub initialized: bool,
    /// An init container failed under `restartPolicy: Never`: the pod has failed for good.
    pub failed_init_container: Option<usize>,
}

/// Plans the pod from its containers' latest runs.
pub fn plan(
    policy: RestartPolicy,
    deleting: bool,
    init: &[InitContainerRun],
    app: &[ContainerRun],
) -> PodPlan {
    let app_has_run = app.iter().any(|run| *run != ContainerRun::NotCreated);
    let mut plan = plan_init(policy, init, app_has_run);
    if plan.initialized && plan.failed_init_container.is_none() {
        let restartable = app.iter().enumerate().filter(|(_, run)| match run {
            ContainerRun::NotCreated => true,
            ContainerRun::Running { .. } => false,
            ContainerRun::Exited { exit_code } => policy.restarts_after(*exit_code),
        });
        plan.start
            .extend(restartable.map(|(index, _)| ContainerSlot::App(index)));
    }
    if deleting {
        plan.start.clear();
    }
    plan
}

/// Walks the init containers in order and stops at the first one that is not done yet.
fn plan_init(policy: RestartPolicy, init: &[InitContainerRun], app_has_run: bool) -> PodPlan {
    let mut plan = PodPlan::default();
    for (index, container) in init.iter().enumerate() {
        let step = if container.sidecar {
            sidecar_step(container.run, app_has_run)
        } else {
            regular_init_step(policy, container.run, app_has_run)
        };
        match step {
            InitStep::Done => {}
            InitStep::StartAndContinue => plan.start.push(ContainerSlot::Init(index)),
            InitStep::StartAndWait => {
                plan.start.push(ContainerSlot::Init(index));
                return plan;
            }
            InitStep::Wait => return plan,
            InitStep::FailPod => {
                plan.failed_init_container = Some(index);
                return plan;
            }
        }
    }
    plan.initialized = true;
    plan
}

enum InitStep {
    Done,
    /// Start it, but later containers need not wait (a sidecar restarting beside the app).
    StartAndContinue,
    StartAndWait,
    Wait,
    FailPod,
}

fn sidecar_step(run: ContainerRun, app_has_run: bool) -> InitStep {
    match run {
        ContainerRun::Running { started: true } => InitStep::Done,
        ContainerRun::Running { started: false } if app_has_run => InitStep::Done,
        ContainerRun::Running { started: false } => InitStep::Wait,
        ContainerRun::NotCreated | ContainerRun::Exited { .. } if app_has_run => {
            InitStep::StartAndContinue
        }
        ContainerRun::NotCreated | ContainerRun::Exited { .. } => InitStep::StartAndWait,
    }
}

fn regular_init_step(policy: RestartPolicy, run: ContainerRun, app_has_run: bool) -> InitStep {
    if app_has_run {
        // App containers only ever start after initialisation, so it happened.
        return InitStep::Done;
    }
    match run {
        ContainerRun::Exited { exit_code: 0 } => InitStep::Done,
        ContainerRun::Running { .. } => InitStep::Wait,
        ContainerRun::NotCreated => InitStep::StartAndWait,
        ContainerRun::Exited { .. } if policy == RestartPolicy::Never => InitStep::FailPod,
        ContainerRun::Exited { .. } => InitStep::StartAndWait,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use ContainerRun::*;
    use ContainerSlot::*;

    fn regular(run: ContainerRun) -> InitContainerRun {
        InitContainerRun {
            run,
            sidecar: false,
        }
    }

    fn sidecar(run: ContainerRun) -> InitContainerRun {
        InitContainerRun { run, sidecar: true }
    }

    #[test]
    fn policies_parse_with_always_as_the_default() {
        assert_eq!(RestartPolicy::parse(None), RestartPolicy::Always);
        assert_eq!(
            RestartPolicy::parse(Some("OnFailure")),
            RestartPolicy::OnFailure
        );
        assert_eq!(RestartPolicy::parse(Some("Never")), RestartPolicy::Never);
        assert_eq!(RestartPolicy::parse(Some("never")), RestartPolicy::Always);
    }

    #[test]
    fn fresh_pod_starts_its_app_containers() {
        let plan = plan(RestartPolicy::Always, false, &[], &[NotCreated, NotCreated]);
        assert_eq!(plan.start, [App(0), App(1)]);
        assert!(plan.initialized);
    }

    #[test]
    fn init_containers_run_one_at_a_time_in_order() {
        let init = [
            regular(Exited { exit_code: 0 }),
            regular(NotCreated),
            regular(NotCreated),
        ];
        let plan = plan(RestartPolicy::Always, false, &init, &[NotCreated]);
        assert_eq!(plan.start, [Init(1)]);
        assert!(!plan.initialized);

        let init = [regular(Running { started: true }), regular(NotCreated)];
        let plan = super::plan(RestartPolicy::Always, false, &init, &[NotCreated]);
        assert!(plan.start.is_empty());
    }

    #[test]
    fn failed_init_container_restarts_unless_the_policy_is_never() {
        let init = [regular(Exited { exit_code: 1 }), regular(NotCreated)];
        for policy in [RestartPolicy::Always, RestartPolicy::OnFailure] {
            assert_eq!(plan(policy, false, &init, &[NotCreated]).start, [Init(0)]);
        }
        let never = plan(RestartPolicy::Never, false, &init, &[NotCreated]);
        assert!(never.start.is_empty());
        assert_eq!(never.failed_init_container, Some(0));
    }

    #[test]
    fn app_containers_restart_per_policy() {
        let app = [
            Exited { exit_code: 0 },
            Exited { exit_code: 2 },
            Running { started: true },
        ];
        assert_eq!(
            plan(RestartPolicy::Always, false, &[], &app).start,
            [App(0), App(1)]
        );
        assert_eq!(
            plan(RestartPolicy::OnFailure, false, &[], &app).start,
            [App(1)]
        );
        assert!(
            plan(RestartPolicy::Never, false, &[], &app)
                .start
                .is_empty()
        );
    }

    #[test]
    fn sidecars_gate_on_started_and_restart_beside_the_app() {
        let init = [sidecar(Running { started: false }), regular(NotCreated)];
        assert!(
            plan(RestartPolicy::Never, false, &init, &[NotCreated])
                .start
                .is_empty()
        );

        let init = [sidecar(Running { started: true }), regular(NotCreated)];
        assert_eq!(
            plan(RestartPolicy::Never, false, &init, &[NotCreated]).start,
            [Init(1)]
        );

        let init = [
            sidecar(Exited { exit_code: 0 }),
            regular(Exited { exit_code: 0 }),
        ];
        let plan = plan(
            RestartPolicy::Never,
            false,
            &init,
            &[Running { started: true }],
        );
        assert_eq!(plan.start, [Init(0)]);
        assert!(plan.initialized);
    }

    #[test]
    fn deleting_pod_starts_nothing() {
        let plan = plan(
            RestartPolicy::Always,
            true,
            &[],
            &[NotCreated, Exited { exit_code: 1 }],
        );
        assert!(plan.start.is_empty());
    }

    fn runs() -> impl Strategy<Value = ContainerRun> {
        prop_oneof![
            Just(NotCreated),
            any::<bool>().prop_map(|started| Running { started }),
            prop_oneof![Just(0), Just(1), any::<i32>()].prop_map(|exit_code| Exited { exit_code }),
        ]
    }

    fn policies() -> impl Strategy<Value = RestartPolicy> {
        prop_oneof![
            Just(RestartPolicy::Always),
            Just(RestartPolicy::OnFailure),
            Just(RestartPolicy::Never)
        ]
    }

    proptest! {
        #[test]
        fn plans_respect_running_containers_order_and_policy(
            policy in policies(),
            deleting in any::<bool>(),
            init in proptest::collection::vec((runs(), any::<bool>()), 0..4),
            app in proptest::collection::vec(runs(), 1..4),
        ) {
            let init: Vec<InitContainerRun> = init
                .into_iter()
                .map(|(run, sidecar)| InitContainerRun { run, sidecar })
                .collect();
            let plan = plan(policy, deleting, &init, &app);
            if deleting {
                prop_assert!(plan.start.is_empty());
            }
            for slot in &plan.start {
                let (run, sidecar) = match slot {
                    Init(index) => (init[*index].run, init[*index].sidecar),
                    App(index) => (app[*index], false),
                };
                prop_assert!(!matches!(run, Running { .. }), "never starts a running container");
                if let Exited { exit_code } = run {
                    prop_assert!(sidecar || policy.restarts_after(exit_code));
                }
            }
            let starts_app = plan.start.iter().any(|slot| matches!(slot, App(_)));
            prop_assert!(!starts_app || plan.initialized);
            let regular_init_starts = plan
                .start
                .iter()
                .filter(|slot| matches!(slot, Init(index) if !init[*index].sidecar))
                .count();
            prop_assert!(regular_init_starts <= 1, "init containers go one at a time");
            if plan.failed_init_container.is_some() {
                prop_assert_eq!(policy, RestartPolicy::Never);
                prop_assert!(!starts_app);
            }
        }
    }
}
