use super::*;
use crate::pods::fixtures::at;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, PodSpec, PodStatus,
    PodTemplateSpec,
};
use proptest::prelude::*;

fn job(completions: Option<i32>, parallelism: i32) -> Job {
    let mut job = Job::default();
    job.metadata.name = Some("pi".into());
    job.metadata.namespace = Some("default".into());
    job.metadata.uid = Some("job-uid".into());
    job.spec = Some(JobSpec {
        completions,
        parallelism: Some(parallelism),
        backoff_limit: Some(2),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("job-name".to_string(), "pi".to_string())].into()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                containers: vec![Container {
                    name: "pi".into(),
                    image: Some("busybox".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        },
        ..JobSpec::default()
    });
    job
}

fn indexed(completions: i32, parallelism: i32) -> Job {
    let mut job = job(Some(completions), parallelism);
    job.spec.as_mut().unwrap().completion_mode = Some("Indexed".into());
    job
}

fn pod(name: &str, phase: &str) -> Pod {
    let mut pod = crate::pods::fixtures::pod(name, 0, Some("n1"), phase, None);
    pod.metadata.uid = Some(format!("uid-{name}"));
    pod.metadata.finalizers = Some(vec![TRACKING_FINALIZER.into()]);
    if matches!(phase, "Succeeded" | "Failed") {
        pod.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "pi".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    finished_at: Some(Time(at(5))),
                    exit_code: i32::from(phase == "Failed"),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]);
    }
    pod
}

fn with_index(mut pod: Pod, index: i32) -> Pod {
    pod.metadata.annotations = Some([(COMPLETION_INDEX.to_string(), index.to_string())].into());
    pod
}

fn released(mut pod: Pod) -> Pod {
    pod.metadata.finalizers = None;
    pod
}

fn refs(pods: &[Pod]) -> Vec<&Pod> {
    pods.iter().collect()
}

/// Applies a plan as the shell would (interim, finalizers, final status) to the Job.
fn applied(mut job: Job, plan: &Plan) -> Job {
    job.status = Some(plan.status.clone());
    job
}

#[test]
fn a_new_job_starts_parallelism_pods() {
    let plan = plan(&job(Some(5), 2), &[], Backoff::default(), at(0)).unwrap();
    assert_eq!(plan.create, vec![None, None]);
    assert_eq!(plan.status.active, Some(2));
    assert_eq!(plan.status.start_time, Some(Time(at(0))));
    assert!(plan.interim.is_none());
}

#[test]
fn never_more_than_the_remaining_completions() {
    let mut job = job(Some(5), 2);
    job.status = Some(JobStatus {
        succeeded: Some(4),
        ..JobStatus::default()
    });
    let running = [pod("a", "Running")];
    let plan = plan(&job, &refs(&running), Backoff::default(), at(1)).unwrap();
    assert!(plan.create.is_empty());
    assert!(plan.delete.is_empty());
}

#[test]
fn finished_pods_are_recorded_before_their_finalizers_come_off() {
    let job = job(Some(2), 2);
    let pods = [pod("a", "Succeeded"), pod("b", "Running")];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(6)).unwrap();
    let interim = plan.interim.as_ref().unwrap();
    assert_eq!(
        interim
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded,
        Some(vec!["uid-a".to_string()])
    );
    assert_eq!(plan.remove_finalizers, vec!["a".to_string()]);
    assert_eq!(plan.status.succeeded, Some(1));
    assert!(
        plan.create.is_empty(),
        "one completion left, one pod running"
    );
    // The next sync sees the pod without its finalizer: it is not counted again.
    let job = applied(job, &plan);
    let pods = [released(pod("a", "Succeeded")), pod("b", "Running")];
    let again = super::plan(&job, &refs(&pods), Backoff::default(), at(7)).unwrap();
    assert!(again.interim.is_none());
    assert_eq!(again.status.succeeded, Some(1));
}

#[test]
fn a_pod_deleted_before_finishing_counts_as_failed() {
    let mut deleted = pod("a", "Running");
    deleted.metadata.deletion_timestamp = Some(Time(at(3)));
    let pods = [deleted];
    let plan = plan(&job(Some(1), 1), &refs(&pods), Backoff::default(), at(4)).unwrap();
    assert_eq!(plan.status.failed, Some(1));
    assert_eq!(plan.status.terminating, Some(1));
    assert_eq!(plan.backoff.failures_after_last_success, 1);
    // Backoff: the replacement waits 10 s after the failure.
    assert!(plan.create.is_empty());
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(9)));
}

#[test]
fn completion_sets_success_criteria_then_complete() {
    let job = job(Some(1), 1);
    let pods = [pod("a", "Succeeded")];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(6)).unwrap();
    let status = &plan.status;
    assert!(condition(status, SUCCESS_CRITERIA_MET).is_some());
    assert_eq!(
        condition(status, COMPLETE).unwrap().reason.as_deref(),
        Some("CompletionsReached")
    );
    assert_eq!(status.completion_time, Some(Time(at(6))));
    assert_eq!(plan.events[0].reason, "Completed");
    assert_eq!(plan.remove_finalizers, vec!["a".to_string()]);
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job() {
    // backoffLimit 2: the third failure fails the Job.
    let mut job = job(Some(1), 1);
    job.status = Some(JobStatus {
        failed: Some(2),
        ..JobStatus::default()
    });
    let pods = [
        released(pod("a", "Failed")),
        released(pod("b", "Failed")),
        pod("c", "Failed"),
    ];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(6)).unwrap();
    assert_eq!(plan.status.failed, Some(3));
    let failed = condition(&plan.status, FAILED).unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert!(condition(&plan.status, FAILURE_TARGET).is_some());
    assert_eq!(plan.events[0].reason, "BackoffLimitExceeded");
    assert_eq!(plan.events[0].kind, EventType::Warning);
    assert!(plan.create.is_empty());
}

#[test]
fn on_failure_restarts_count_against_the_backoff_limit() {
    let mut job = job(Some(1), 1);
    job.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .restart_policy = Some("OnFailure".into());
    let mut restarting = pod("a", "Running");
    restarting.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
        name: "pi".into(),
        restart_count: 1,
        ..ContainerStatus::default()
    }]);
    let pods = [restarting.clone()];
    let under = plan(&job, &refs(&pods), Backoff::default(), at(1)).unwrap();
    assert!(condition(&under.status, FAILURE_TARGET).is_none());
    restarting
        .status
        .as_mut()
        .unwrap()
        .container_statuses
        .as_mut()
        .unwrap()[0]
        .restart_count = 2;
    let pods = [restarting];
    let over = plan(&job, &refs(&pods), Backoff::default(), at(1)).unwrap();
    assert_eq!(
        condition(&over.status, FAILURE_TARGET)
            .unwrap()
            .reason
            .as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(over.delete, vec!["a".to_string()]);
}

#[test]
fn the_terminal_condition_waits_for_running_pods_to_stop() {
    let mut job = job(Some(3), 2);
    job.spec.as_mut().unwrap().active_deadline_seconds = Some(10);
    job.status = Some(JobStatus {
        start_time: Some(Time(at(0))),
        ..JobStatus::default()
    });
    let pods = [pod("a", "Running"), pod("b", "Running")];
    let first = plan(&job, &refs(&pods), Backoff::default(), at(10)).unwrap();
    assert_eq!(
        condition(&first.status, FAILURE_TARGET)
            .unwrap()
            .reason
            .as_deref(),
        Some("DeadlineExceeded")
    );
    assert!(condition(&first.status, FAILED).is_none());
    assert_eq!(first.delete, vec!["a".to_string(), "b".to_string()]);
    assert!(
        first.release_before_delete.is_empty(),
        "stopped pods count as failed"
    );
    // Once they are gone (counted as failed), the Job is Failed.
    let job = applied(job, &first);
    let mut a = pod("a", "Failed");
    a.metadata.deletion_timestamp = Some(Time(at(11)));
    let pods = [a];
    let second = plan(&job, &refs(&pods), Backoff::default(), at(12)).unwrap();
    assert_eq!(second.status.failed, Some(1));
    assert_eq!(
        condition(&second.status, FAILED).unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    assert_eq!(second.events[0].reason, "DeadlineExceeded");
}

#[test]
fn the_active_deadline_is_requeued_for() {
    let mut job = job(Some(3), 1);
    job.spec.as_mut().unwrap().active_deadline_seconds = Some(30);
    let pods = [pod("a", "Running")];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(0)).unwrap();
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(30)));
}

#[test]
fn suspension_deletes_pods_without_counting_them_and_resume_restarts_the_clock() {
    let mut job = job(Some(3), 2);
    job.spec.as_mut().unwrap().suspend = Some(true);
    let pods = [pod("a", "Running")];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(0)).unwrap();
    assert_eq!(plan.delete, vec!["a".to_string()]);
    assert!(plan.release_before_delete.contains("a"));
    assert!(plan.create.is_empty());
    assert!(plan.status.start_time.is_none());
    assert_eq!(
        condition(&plan.status, SUSPENDED)
            .unwrap()
            .reason
            .as_deref(),
        Some("JobSuspended")
    );
    let mut job = applied(job, &plan);
    job.spec.as_mut().unwrap().suspend = Some(false);
    let resumed = super::plan(&job, &[], Backoff::default(), at(50)).unwrap();
    assert_eq!(resumed.create.len(), 2);
    assert_eq!(resumed.status.start_time, Some(Time(at(50))));
    assert_eq!(resumed.events[0].reason, "Resumed");
}

#[test]
fn parallelism_zero_runs_nothing() {
    let pods = [pod("a", "Running")];
    let plan = plan(&job(Some(3), 0), &refs(&pods), Backoff::default(), at(0)).unwrap();
    assert_eq!(plan.delete, vec!["a".to_string()]);
    assert!(plan.create.is_empty());
}

#[test]
fn work_queue_jobs_complete_when_one_succeeded_and_none_run() {
    let running = [pod("a", "Succeeded"), pod("b", "Running")];
    let plan_running = plan(&job(None, 2), &refs(&running), Backoff::default(), at(6)).unwrap();
    assert!(
        plan_running.create.is_empty(),
        "no new pods after a success"
    );
    assert!(condition(&plan_running.status, SUCCESS_CRITERIA_MET).is_none());
    let done = [pod("a", "Succeeded"), pod("b", "Succeeded")];
    let plan_done = plan(&job(None, 2), &refs(&done), Backoff::default(), at(6)).unwrap();
    assert!(condition(&plan_done.status, COMPLETE).is_some());
}

#[test]
fn indexed_jobs_create_the_lowest_missing_indexes() {
    let job = indexed(4, 2);
    let pods = [
        with_index(pod("a", "Succeeded"), 0),
        with_index(pod("b", "Running"), 2),
    ];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(6)).unwrap();
    assert_eq!(plan.create, vec![Some(1)]);
    assert_eq!(plan.status.completed_indexes.as_deref(), Some("0"));
    assert_eq!(plan.status.succeeded, Some(1));
    assert_eq!(
        plan.interim.as_ref().unwrap().completed_indexes.as_deref(),
        Some("0")
    );
}

#[test]
fn indexed_duplicates_and_done_indexes_are_deleted() {
    let mut job = indexed(3, 3);
    job.status = Some(JobStatus {
        completed_indexes: Some("1".into()),
        succeeded: Some(1),
        ..JobStatus::default()
    });
    let pods = [
        with_index(pod("a", "Running"), 0),
        with_index(pod("b", "Running"), 0),
        with_index(pod("c", "Running"), 1),
        with_index(pod("d", "Running"), 7),
    ];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(6)).unwrap();
    let mut deleted = plan.delete.clone();
    deleted.sort();
    assert_eq!(deleted, vec!["b", "c", "d"]);
    assert_eq!(plan.create, vec![Some(2)]);
}

#[test]
fn indexed_pods_carry_their_index() {
    let pod = new_pod(&indexed(3, 1), Some(2)).unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-2-"));
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get(COMPLETION_INDEX).map(String::as_str), Some("2"));
    assert_eq!(labels.get("job-name").map(String::as_str), Some("pi"));
    assert_eq!(
        pod.metadata.annotations.as_ref().unwrap()[COMPLETION_INDEX],
        "2"
    );
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
    let env = spec.containers[0].env.as_ref().unwrap();
    assert_eq!(env[0].name, "JOB_COMPLETION_INDEX");
    assert_eq!(
        pod.metadata.finalizers,
        Some(vec![TRACKING_FINALIZER.to_string()])
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
}

#[test]
fn finished_jobs_let_go_of_their_pods() {
    let mut job = job(Some(1), 1);
    job.status = Some(JobStatus {
        conditions: Some(vec![new_condition(
            COMPLETE,
            "CompletionsReached",
            "",
            at(0),
        )]),
        ..JobStatus::default()
    });
    let pods = [pod("a", "Succeeded"), pod("b", "Running")];
    let plan = plan(&job, &refs(&pods), Backoff::default(), at(1)).unwrap();
    assert_eq!(
        plan.remove_finalizers,
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(plan.delete, vec!["b".to_string()]);
    assert!(!status_changed(&job, &plan.status));
}

#[test]
fn backoff_doubles_from_ten_seconds_to_six_minutes() {
    let backoff = |failures| Backoff {
        failures_after_last_success: failures,
        last_failure: Some(at(0)),
    };
    assert_eq!(backoff(0).delay(), Duration::ZERO);
    assert_eq!(backoff(1).delay(), Duration::from_secs(10));
    assert_eq!(backoff(3).delay(), Duration::from_secs(40));
    assert_eq!(backoff(10).delay(), Duration::from_secs(360));
    assert_eq!(backoff(2).remaining(at(5)), Duration::from_secs(15));
    assert_eq!(backoff(2).remaining(at(25)), Duration::ZERO);
}

/// A random world of pods, one sync at a time, with the shell's effects applied.
#[derive(Debug, Clone)]
enum Step {
    Sync,
    Succeed(usize),
    Fail(usize),
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Sync),
        2 => (0usize..8).prop_map(Step::Succeed),
        1 => (0usize..8).prop_map(Step::Fail),
        1 => (0usize..8).prop_map(Step::Delete),
    ]
}

proptest! {
    #[test]
    fn pods_are_counted_exactly_once_and_parallelism_holds(
        completions in 1i32..6,
        parallelism in 1i32..4,
        indexed_mode in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut job = if indexed_mode { indexed(completions, parallelism) } else { job(Some(completions), parallelism) };
        job.spec.as_mut().unwrap().backoff_limit = Some(100);
        let mut world: Vec<Pod> = Vec::new();
        let mut next_name = 0;
        let mut finished_pods = (0i32, 0i32);
        let mut now = 0;
        for step in steps {
            now += 20;
            let live: Vec<usize> = (0..world.len()).filter(|&i| pods::is_active(&world[i])).collect();
            match step {
                Step::Succeed(i) | Step::Fail(i) | Step::Delete(i) if live.is_empty() => { let _ = i; }
                Step::Succeed(i) => { let p = &mut world[live[i % live.len()]]; p.status.as_mut().unwrap().phase = Some("Succeeded".into()); finished_pods.0 += 1; }
                Step::Fail(i) => { let p = &mut world[live[i % live.len()]]; p.status.as_mut().unwrap().phase = Some("Failed".into()); finished_pods.1 += 1; }
                Step::Delete(i) => { let p = &mut world[live[i % live.len()]]; p.metadata.deletion_timestamp = Some(Time(at(now))); finished_pods.1 += 1; }
                Step::Sync => {
                    let owned: Vec<&Pod> = world.iter().collect();
                    let plan = plan(&job, &owned, Backoff::default(), at(now)).unwrap();
                    job.status = Some(plan.status.clone());
                    for pod in world.iter_mut() {
                        if plan.remove_finalizers.contains(&name(pod)) || plan.release_before_delete.contains(&name(pod)) {
                            pod.metadata.finalizers = None;
                        }
                        if plan.delete.contains(&name(pod)) && pod.metadata.deletion_timestamp.is_none() {
                            pod.metadata.deletion_timestamp = Some(Time(at(now)));
                            if !plan.release_before_delete.contains(&name(pod)) { finished_pods.1 += 1; }
                        }
                    }
                    // Pods without the finalizer that are terminating go away.
                    world.retain(|p| p.metadata.deletion_timestamp.is_none() || has_finalizer(p));
                    for index in &plan.create {
                        next_name += 1;
                        let mut new = new_pod(&job, *index).unwrap();
                        new.metadata.name = Some(format!("p{next_name}"));
                        new.metadata.uid = Some(format!("uid-p{next_name}"));
                        new.metadata.creation_timestamp = Some(Time(at(now)));
                        new.status = Some(PodStatus { phase: Some("Pending".into()), ..PodStatus::default() });
                        world.push(new);
                    }
                    let active = world.iter().filter(|p| pods::is_active(p)).count();
                    prop_assert!(active <= parallelism as usize, "{} active > parallelism {}", active, parallelism);
                    let status = job.status.as_ref().unwrap();
                    // Counted never exceeds what really finished.
                    prop_assert!(status.failed.unwrap_or(0) <= finished_pods.1);
                    prop_assert!(status.succeeded.unwrap_or(0) <= finished_pods.0);
                    prop_assert!(status.succeeded.unwrap_or(0) <= completions);
                    // Every finished pod is counted exactly once: counted, or still waiting
                    // with its finalizer to be.
                    let waiting = world.iter().filter(|p| has_finalizer(p) && (pods::phase(p) == "Succeeded" || counts_as_failed(p))).count() as i32;
                    let counted = status.succeeded.unwrap_or(0) + status.failed.unwrap_or(0);
                    prop_assert_eq!(counted + waiting, finished_pods.0 + finished_pods.1);
                }
            }
        }
    }
}
