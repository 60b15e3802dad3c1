//! Bulwark's storage: an MVCC key-value store modelled on etcd v3, so that an etcd backend can
//! sit behind the same trait without touching callers.
//!
//! * Every successful write bumps the store-wide revision by one; the revision of the write is
//!   the object's `resourceVersion`.
//! * Writes are compare-and-swap on the object's `mod_revision`.
//! * A watch replays every event after a revision, then streams live ones, in revision order.
//! * Compaction forgets history before a revision; watching from before it fails with
//!   [`Error::Compacted`].
//! * A watch from a revision newer than the current one waits for it (etcd semantics); callers
//!   that want Kubernetes' "too large resource version" check compare with
//!   [`Store::current_revision`] first.
//! * A watcher that falls more than its buffer (see [`hub::DEFAULT_WATCH_BUFFER`]) behind is cut
//!   off with [`Error::WatchLagged`] instead of slowing writers down; it may re-watch from the
//!   revision that error carries.
//!
//! Backends: [`MemoryStore`] (tests and simulation), [`SqliteStore`] (embedded default, durable
//! group commit). [`open_store`] picks one from a spec string such as `sqlite:/var/lib/bulwark/db`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub mod hub;
mod keys;
pub mod memory;
mod ops;
pub mod spec;
pub mod sqlite;
mod watch;

pub use memory::{MemoryOptions, MemoryStore};
pub use spec::{StoreConfig, open_store};
pub use sqlite::{SqliteOptions, SqliteStore};

/// One stored key with its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (its current incarnation).
    pub create_revision: i64,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: i64,
}

/// A page of a range read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// True when more keys under the prefix follow the last one returned.
    pub more: bool,
    /// The store revision the read was served at.
    pub revision: i64,
}

/// What a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// For `Put`, the new value at `mod_revision`; for `Delete`, the key with an empty value and
    /// `mod_revision` set to the revision of the delete.
    pub kv: KeyValue,
    /// The value before this event, when there was one.
    pub prev: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("key {0:?} already exists")]
    AlreadyExists(String),
    #[error("key {0:?} not found")]
    NotFound(String),
    /// The compare-and-swap saw a different revision; carries the current value.
    #[error("key {key:?} was modified: expected revision {expected}, found {}", current.as_ref().map_or(0, |kv| kv.mod_revision))]
    Conflict {
        key: String,
        expected: i64,
        current: Option<Box<KeyValue>>,
    },
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Compacted { requested: i64, compacted: i64 },
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision { requested: i64, current: i64 },
    /// The watcher fell more than `capacity` events behind and was cut off. Every event up to
    /// `last_revision` was delivered: watching again from it loses nothing (unless compacted).
    #[error(
        "watch fell more than {capacity} events behind and was closed; watch again from revision {last_revision}"
    )]
    WatchLagged { last_revision: i64, capacity: usize },
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A live stream of watch events. Dropping it cancels the watch.
pub type WatchStream = futures::stream::BoxStream<'static, Result<WatchEvent>>;

/// The storage contract every backend (memory, sqlite, etcd) fulfils.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, strictly after `start_after` when given, at most `limit`
    /// (0 = no limit). Served at the current revision.
    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RangeResult>;

    /// Creates `key` if absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<i64>;

    /// Replaces `key` if its mod_revision is `expected_revision`; returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected_revision: i64) -> Result<i64>;

    /// Deletes `key`, if its mod_revision is `expected_revision` when given; returns the revision
    /// of the delete and the value that was removed.
    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<(i64, KeyValue)>;

    /// Every event under `prefix` with a revision greater than `after_revision`, then live events.
    ///
    /// * `after_revision` below [`Store::compacted_revision`]: [`Error::Compacted`].
    /// * `after_revision` above the current revision: accepted; events come once the store
    ///   reaches it (etcd semantics).
    /// * A consumer that falls too far behind gets [`Error::WatchLagged`] as the stream's last item.
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream>;

    /// The revision of the latest write (0 for an empty store).
    async fn current_revision(&self) -> Result<i64>;

    /// The oldest revision a watch may still start after.
    async fn compacted_revision(&self) -> Result<i64>;

    /// Forgets history up to and including `revision`. Compacting to a revision at or below the
    /// compacted one does nothing; compacting past the current revision is
    /// [`Error::FutureRevision`].
    async fn compact(&self, revision: i64) -> Result<()>;

    /// Compacts so that the last `keep_revisions` revisions stay watchable. Returns the new
    /// compacted revision, or `None` when nothing had to be forgotten.
    async fn compact_keeping(&self, keep_revisions: i64) -> Result<Option<i64>> {
        let current = self.current_revision().await?;
        let compacted = self.compacted_revision().await?;
        let Some(target) = ops::compaction_target(current, compacted, keep_revisions) else {
            return Ok(None);
        };
        self.compact(target).await?;
        Ok(Some(target))
    }
}

/// Runs [`Store::compact_keeping`] every `period` until the returned task is aborted; failures
/// are logged and retried at the next tick.
pub fn spawn_auto_compactor(
    store: Arc<dyn Store>,
    keep_revisions: i64,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.compact_keeping(keep_revisions).await {
                Ok(Some(revision)) => tracing::debug!(revision, "compacted store history"),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "store compaction failed; retrying at the next tick")
                }
            }
        }
    })
}
