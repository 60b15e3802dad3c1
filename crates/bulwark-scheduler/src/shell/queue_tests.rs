use super::*;
use crate::fixtures::{pod, with_priority};
use serde_json::json;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("valid time")
}

fn info(name: &str, priority: i32, created: i64) -> Arc<PodInfo> {
    let mut p = with_priority(pod("default", name, "100m", "", &[]), priority);
    p.metadata.creation_timestamp = serde_json::from_value(json!(at(created).to_string())).ok();
    Arc::new(PodInfo::new(p))
}

fn key(name: &str) -> PodKey {
    PodKey {
        namespace: "default".into(),
        name: name.into(),
    }
}

fn popped_names(queue: &mut SchedulingQueue, now: Timestamp) -> Vec<String> {
    std::iter::from_fn(|| queue.pop(now).map(|p| p.key.name.clone()))
        .take(100)
        .collect()
}

#[test]
fn active_queue_orders_by_priority_then_age() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("young-low", 0, 20), at(30)).unwrap();
    queue.upsert(info("old-low", 0, 10), at(30)).unwrap();
    queue.upsert(info("high", 1000, 25), at(30)).unwrap();
    assert_eq!(
        popped_names(&mut queue, at(30)),
        ["high", "old-low", "young-low"]
    );
}

#[test]
fn backoff_doubles_from_one_second_to_ten() {
    let seconds: Vec<u64> = (1..=6).map(|a| backoff_duration(a).as_secs()).collect();
    assert_eq!(seconds, [1, 2, 4, 8, 10, 10]);
}

#[test]
fn a_failed_attempt_waits_out_its_backoff() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("web", 0, 0), at(0)).unwrap();
    assert!(queue.pop(at(0)).is_some());
    queue.retry_later(&key("web"), at(0));
    assert!(queue.pop(at(0)).is_none(), "still backing off");
    assert_eq!(queue.next_backoff_expiry(), Some(at(1)));
    assert!(queue.pop(at(1)).is_some());
    queue.retry_later(&key("web"), at(1));
    assert!(queue.pop(at(2)).is_none(), "second backoff is 2 s");
    assert!(queue.pop(at(3)).is_some());
}

#[test]
fn unschedulable_pods_wait_for_a_move_request() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("big", 0, 0), at(0)).unwrap();
    queue.pop(at(0));
    queue.unschedulable(&key("big"), at(0));
    assert!(queue.pop(at(100)).is_none(), "nothing changed");
    queue.move_all_to_active(at(100));
    assert_eq!(popped_names(&mut queue, at(100)), ["big"]);
}

#[test]
fn a_move_during_the_attempt_sends_the_pod_to_backoff() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("big", 0, 0), at(0)).unwrap();
    queue.pop(at(0));
    queue.move_all_to_active(at(0));
    queue.unschedulable(&key("big"), at(0));
    assert_eq!(queue.place(&key("big")), Some(Place::Backoff(at(1))));
}

#[test]
fn status_only_updates_leave_unschedulable_pods_waiting() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("big", 0, 0), at(0)).unwrap();
    queue.pop(at(0));
    queue.unschedulable(&key("big"), at(0));
    queue.upsert(info("big", 0, 0), at(50)).unwrap();
    assert!(matches!(
        queue.place(&key("big")),
        Some(Place::Unschedulable(_))
    ));
    let mut changed = (*info("big", 0, 0).pod).clone();
    changed.spec.get_or_insert_default().node_selector =
        Some([("disk".to_string(), "ssd".to_string())].into());
    queue
        .upsert(Arc::new(PodInfo::new(changed)), at(50))
        .unwrap();
    assert_eq!(queue.place(&key("big")), Some(Place::Active));
}

#[test]
fn the_periodic_flush_retries_pods_unschedulable_for_five_minutes() {
    let mut queue = SchedulingQueue::new(10);
    queue.upsert(info("big", 0, 0), at(0)).unwrap();
    queue.pop(at(0));
    queue.unschedulable(&key("big"), at(0));
    queue.flush_unschedulable(at(299), MAX_UNSCHEDULABLE_STAY);
    assert!(queue.pop(at(299)).is_none());
    queue.flush_unschedulable(at(300), MAX_UNSCHEDULABLE_STAY);
    assert_eq!(popped_names(&mut queue, at(300)), ["big"]);
}

#[test]
fn a_full_queue_refuses_new_pods_with_a_clear_error() {
    let mut queue = SchedulingQueue::new(1);
    queue.upsert(info("a", 0, 0), at(0)).unwrap();
    let error = queue.upsert(info("b", 0, 0), at(0)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the scheduling queue is full (1 pods); default/b waits for the next relist"
    );
    queue.remove(&key("a"));
    assert!(queue.upsert(info("b", 0, 0), at(0)).is_ok());
    assert_eq!(queue.len(), 1);
}
