//! The in-memory backend, for tests and simulation: a `BTreeMap` of current values and a bounded
//! log of recent events, all under one lock. Nothing survives the process.

use std::collections::{BTreeMap, VecDeque};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::hub::{DEFAULT_WATCH_BUFFER, WatchHub};
use crate::keys::range_page;
use crate::ops::{
    WriteOp, check_compaction, check_watch_start, deleted_value, event_revision, plan_write,
};
use crate::watch::{Replay, replay_then_live};
use crate::{EventKind, KeyValue, RangeResult, Result, Store, WatchEvent, WatchStream};

/// Tuning for [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOptions {
    /// How many recent events the log keeps; older ones are compacted away automatically.
    pub history_limit: usize,
    /// How many events a watcher may fall behind before it is cut off.
    pub watch_buffer: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            history_limit: 100_000,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// An MVCC store held in memory.
pub struct MemoryStore {
    state: Mutex<State>,
    hub: WatchHub,
    history_limit: usize,
}

#[derive(Default)]
struct State {
    kvs: BTreeMap<String, KeyValue>,
    /// Events after `compacted`, in revision order.
    log: VecDeque<WatchEvent>,
    revision: i64,
    compacted: i64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::default())
    }

    pub fn with_options(options: MemoryOptions) -> Self {
        MemoryStore {
            state: Mutex::default(),
            hub: WatchHub::new(options.watch_buffer),
            history_limit: options.history_limit.max(1),
        }
    }

    fn write(&self, op: WriteOp) -> Result<WatchEvent> {
        let mut state = self.state.lock();
        let event = plan_write(&op, state.kvs.get(op.key()), state.revision + 1)?;
        state.apply(event.clone(), self.history_limit);
        // Published under the lock so that events reach the hub in revision order.
        self.hub.publish(std::slice::from_ref(&event));
        Ok(event)
    }
}

impl State {
    fn apply(&mut self, event: WatchEvent, history_limit: usize) {
        self.revision = event_revision(&event);
        match event.kind {
            EventKind::Put => self.kvs.insert(event.kv.key.clone(), event.kv.clone()),
            EventKind::Delete => self.kvs.remove(&event.kv.key),
        };
        self.log.push_back(event);
        while self.log.len() > history_limit {
            if let Some(oldest) = self.log.pop_front() {
                self.compacted = event_revision(&oldest);
            }
        }
    }

    fn compact(&mut self, revision: i64) {
        while self
            .log
            .front()
            .is_some_and(|event| event_revision(event) <= revision)
        {
            self.log.pop_front();
        }
        self.compacted = revision;
    }

    fn replay(&self, prefix: &str, after_revision: i64) -> Result<Replay> {
        check_watch_start(after_revision, self.compacted)?;
        let first = self
            .log
            .partition_point(|event| event_revision(event) <= after_revision);
        let events = self
            .log
            .range(first..)
            .filter(|event| event.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        Ok(Replay {
            events,
            revision: self.revision,
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.state.lock().kvs.get(key).cloned())
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RangeResult> {
        let state = self.state.lock();
        let (kvs, more) = range_page(&state.kvs, prefix, start_after, limit);
        Ok(RangeResult {
            kvs,
            more,
            revision: state.revision,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        self.write(WriteOp::Create {
            key: key.to_owned(),
            value,
        })
        .map(|event| event_revision(&event))
    }

    async fn update(&self, key: &str, value: Bytes, expected_revision: i64) -> Result<i64> {
        let op = WriteOp::Update {
            key: key.to_owned(),
            value,
            expected_revision,
        };
        self.write(op).map(|event| event_revision(&event))
    }

    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<(i64, KeyValue)> {
        deleted_value(self.write(WriteOp::Delete {
            key: key.to_owned(),
            expected_revision,
        })?)
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        let subscription = self.hub.subscribe(prefix);
        let replay = self.state.lock().replay(prefix, after_revision)?;
        Ok(replay_then_live(subscription, replay, after_revision))
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.state.lock().revision)
    }

    async fn compacted_revision(&self) -> Result<i64> {
        Ok(self.state.lock().compacted)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let mut state = self.state.lock();
        if check_compaction(revision, state.revision, state.compacted)? {
            state.compact(revision);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[tokio::test]
    async fn history_limit_compacts_the_oldest_events() {
        let store = MemoryStore::with_options(MemoryOptions {
            history_limit: 3,
            ..MemoryOptions::default()
        });
        for index in 0..5 {
            store
                .create(&format!("/k{index}"), Bytes::new())
                .await
                .expect("create");
        }
        assert_eq!(store.compacted_revision().await, Ok(2));
        assert!(matches!(
            store.watch("", 1).await,
            Err(Error::Compacted {
                requested: 1,
                compacted: 2
            })
        ));
        assert!(store.watch("", 2).await.is_ok());
    }
}
