//! The scheduling queue (upstream's `PriorityQueue`), pure: every method takes `now`.
//!
//! - active: pods ready to be tried, highest priority first, then oldest (creation time);
//! - backoff: pods that failed recently, waiting 1 s doubling per attempt up to 10 s;
//! - unschedulable: pods no node could take; they wait for something relevant to change
//!   ([`SchedulingQueue::move_all_to_active`]) or for the periodic flush after five minutes.
//!
//! A pod handed out by [`SchedulingQueue::pop`] is in flight until the shell reports how its
//! attempt ended. If a move request arrived while it was in flight, an unschedulable outcome
//! sends it to backoff instead (the change it missed may have made it schedulable).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::pod_info::{PodInfo, PodKey};

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream's `podMaxInUnschedulablePodsDuration`.
pub const MAX_UNSCHEDULABLE_STAY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scheduling queue is full ({0} pods); {1} waits for the next relist")]
pub struct QueueFull(pub usize, pub PodKey);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Active,
    Backoff(Timestamp),
    Unschedulable(Timestamp),
    InFlight,
}

/// Sort key of the active queue: higher priority first, then older, then arrival order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ActiveKey {
    negated_priority: i64,
    created_nanos: i128,
    sequence: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    info: Arc<PodInfo>,
    place: Place,
    attempts: u32,
    last_attempt: Option<Timestamp>,
    /// The move-request count when the pod was last handed out.
    popped_at_moves: u64,
    active_key: Option<ActiveKey>,
}

#[derive(Debug)]
pub struct SchedulingQueue {
    entries: HashMap<PodKey, Entry>,
    active: BTreeSet<(ActiveKey, PodKey)>,
    backoff: BTreeSet<(Timestamp, PodKey)>,
    capacity: usize,
    sequence: u64,
    moves: u64,
}

/// 1 s after the first failure, doubling per attempt, at most 10 s.
pub fn backoff_duration(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    INITIAL_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

fn later(at: Timestamp, by: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(by)
        .ok()
        .and_then(|span| at.checked_add(span).ok())
        .unwrap_or(Timestamp::MAX)
}

impl SchedulingQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            active: BTreeSet::new(),
            backoff: BTreeSet::new(),
            capacity: capacity.max(1),
            sequence: 0,
            moves: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn place(&self, key: &PodKey) -> Option<Place> {
        self.entries.get(key).map(|e| e.place)
    }

    pub fn contains(&self, key: &PodKey) -> bool {
        self.entries.contains_key(key)
    }

    /// A pending pod seen (added or changed). New pods go to active. For a known pod the stored
    /// object is replaced; a change to what scheduling reads (spec, labels) moves it out of the
    /// unschedulable set, as upstream does for updated pods. Status-only updates (the
    /// scheduler's own `PodScheduled=False`) leave it waiting.
    pub fn upsert(&mut self, info: Arc<PodInfo>, now: Timestamp) -> Result<(), QueueFull> {
        let key = info.key.clone();
        let Some(entry) = self.entries.get_mut(&key) else {
            if self.entries.len() >= self.capacity {
                return Err(QueueFull(self.capacity, key));
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    info,
                    place: Place::InFlight,
                    attempts: 0,
                    last_attempt: None,
                    popped_at_moves: 0,
                    active_key: None,
                },
            );
            self.activate(&key);
            return Ok(());
        };
        let priority_changed = entry.info.priority != info.priority;
        let spec_changed = entry.info.pod.spec != info.pod.spec || entry.info.labels != info.labels;
        entry.info = info;
        match entry.place {
            Place::Active if priority_changed => self.activate(&key),
            Place::Unschedulable(_) if spec_changed => self.release(&key, now),
            _ => {}
        }
        Ok(())
    }

    /// Forgets a pod (deleted, bound elsewhere, no longer ours).
    pub fn remove(&mut self, key: &PodKey) -> Option<Arc<PodInfo>> {
        self.unlink(key);
        self.entries.remove(key).map(|e| e.info)
    }

    /// The next pod to try: backoffs that expired join the active queue first.
    pub fn pop(&mut self, now: Timestamp) -> Option<Arc<PodInfo>> {
        self.flush_backoff(now);
        let (_, key) = self.active.pop_first()?;
        let moves = self.moves;
        let entry = self.entries.get_mut(&key)?;
        entry.place = Place::InFlight;
        entry.active_key = None;
        entry.attempts = entry.attempts.saturating_add(1);
        entry.last_attempt = Some(now);
        entry.popped_at_moves = moves;
        Some(entry.info.clone())
    }

    /// The attempt found no node. The pod waits in the unschedulable set, or in backoff when
    /// something changed while it was being tried.
    pub fn unschedulable(&mut self, key: &PodKey, now: Timestamp) {
        let moves = self.moves;
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        if entry.place != Place::InFlight {
            return;
        }
        if entry.popped_at_moves < moves {
            self.move_to_backoff(key, now);
        } else if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Unschedulable(now);
        }
    }

    /// The attempt failed for a passing reason (an API error): try again after the backoff.
    pub fn retry_later(&mut self, key: &PodKey, now: Timestamp) {
        if self
            .entries
            .get(key)
            .is_some_and(|e| e.place == Place::InFlight)
        {
            self.move_to_backoff(key, now);
        }
    }

    /// Something that may make unschedulable pods fit happened: every one of them goes back to
    /// active (or to backoff while its backoff has not expired).
    pub fn move_all_to_active(&mut self, now: Timestamp) {
        self.moves += 1;
        let waiting: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.place, Place::Unschedulable(_)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in waiting {
            self.release(&key, now);
        }
    }

    /// Upstream's periodic flush: pods unschedulable for longer than `stay` are retried.
    pub fn flush_unschedulable(&mut self, now: Timestamp, stay: Duration) {
        let overdue: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.place, Place::Unschedulable(since) if later(since, stay) <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in overdue {
            self.release(&key, now);
        }
    }

    /// When the earliest backoff expires, if any pod waits in backoff.
    pub fn next_backoff_expiry(&self) -> Option<Timestamp> {
        self.backoff.first().map(|(at, _)| *at)
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Pods per place: (active, backoff, unschedulable, in flight).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut counts = (0, 0, 0, 0);
        for entry in self.entries.values() {
            match entry.place {
                Place::Active => counts.0 += 1,
                Place::Backoff(_) => counts.1 += 1,
                Place::Unschedulable(_) => counts.2 += 1,
                Place::InFlight => counts.3 += 1,
            }
        }
        counts
    }

    fn flush_backoff(&mut self, now: Timestamp) {
        while let Some((at, _)) = self.backoff.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.backoff.pop_first() {
                self.activate(&key);
            }
        }
    }

    /// Out of the unschedulable set: to backoff if its backoff since the last attempt has not
    /// expired, else to active.
    fn release(&mut self, key: &PodKey, now: Timestamp) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        let until = entry
            .last_attempt
            .map(|at| later(at, backoff_duration(entry.attempts)));
        match until {
            Some(until) if until > now => self.place_in_backoff(key, until),
            _ => self.activate(key),
        }
    }

    fn move_to_backoff(&mut self, key: &PodKey, now: Timestamp) {
        let attempts = self.entries.get(key).map_or(1, |e| e.attempts);
        self.place_in_backoff(key, later(now, backoff_duration(attempts)));
    }

    fn place_in_backoff(&mut self, key: &PodKey, until: Timestamp) {
        self.unlink(key);
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Backoff(until);
            self.backoff.insert((until, key.clone()));
        }
    }

    fn activate(&mut self, key: &PodKey) {
        self.unlink(key);
        self.sequence += 1;
        let sequence = self.sequence;
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let created_nanos = entry
            .info
            .pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_nanosecond());
        let active_key = ActiveKey {
            negated_priority: -i64::from(entry.info.priority),
            created_nanos,
            sequence,
        };
        entry.place = Place::Active;
        entry.active_key = Some(active_key.clone());
        self.active.insert((active_key, key.clone()));
    }

    /// Takes the pod out of whichever ordered set holds it.
    fn unlink(&mut self, key: &PodKey) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        if let Some(active_key) = entry.active_key.take() {
            self.active.remove(&(active_key, key.clone()));
        }
        if let Place::Backoff(until) = entry.place {
            self.backoff.remove(&(until, key.clone()));
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
