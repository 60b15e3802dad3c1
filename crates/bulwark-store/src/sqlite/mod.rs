//! The embedded default backend: one SQLite file in WAL mode.
//!
//! # Guarantees
//! * A write is acknowledged only after its transaction is fsync'd (`synchronous=FULL`): a
//!   `kill -9` or power loss at any moment loses nothing acknowledged and leaves no torn value.
//! * Writes go through one writer thread that commits whatever is pending as one transaction
//!   (group commit, see the `writer` module): throughput grows with concurrency while each request keeps
//!   its own compare-and-swap outcome.
//! * Revisions are strictly increasing and never reused, also across restarts and compactions.
//! * Watches replay history from the `events` table, so they work across restarts.
//!
//! # Caveats
//! * One process at a time: a second process writing the same file would fight for the lock.
//! * Reads run on a small pool of read-only connections on tokio's blocking threads.

mod reader;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::hub::{DEFAULT_WATCH_BUFFER, WatchHub};
use crate::ops::{WriteOp, deleted_value, event_revision};
use crate::watch::replay_then_live;
use crate::{Error, KeyValue, RangeResult, Result, Store, WatchEvent, WatchStream};
use writer::{Command, Request, Writer};

/// Tuning for [`SqliteStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read-only connections serving get, range and watch replay concurrently.
    pub read_connections: usize,
    /// The most write requests committed in one transaction.
    pub max_batch: usize,
    /// Write requests that may wait for the writer before callers are made to wait to submit.
    pub queue_capacity: usize,
    /// How many events a watcher may fall behind before it is cut off.
    pub watch_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            max_batch: 1024,
            queue_capacity: 4096,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// State the writer thread publishes to readers.
struct Shared {
    /// The latest committed revision.
    revision: AtomicI64,
    compacted: AtomicI64,
    hub: WatchHub,
}

/// An MVCC store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    shared: Arc<Shared>,
    readers: ReadPool,
    writer: WriterHandle,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let connection = schema::open_writer(&path)?;
        let (revision, compacted) = schema::recover_revisions(&connection)?;
        let readers = ReadPool::open(&path, options.read_connections)?;
        let shared = Arc::new(Shared {
            revision: AtomicI64::new(revision),
            compacted: AtomicI64::new(compacted),
            hub: WatchHub::new(options.watch_buffer),
        });
        let writer = WriterHandle::spawn(
            Writer::new(connection, shared.clone(), options.max_batch),
            options.queue_capacity,
        )?;
        tracing::debug!(path = %path.display(), revision, compacted, "opened sqlite store");
        Ok(SqliteStore {
            path,
            shared,
            readers,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn submit(&self, command: Command) -> Result<Option<WatchEvent>> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Request { command, reply }).await?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn write(&self, op: WriteOp) -> Result<WatchEvent> {
        let key = op.key().to_owned();
        self.submit(Command::Write(op))
            .await?
            .ok_or_else(|| Error::Internal(format!("the write of {key:?} reported no event")))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.readers
            .read(move |connection| reader::get(connection, &key))
            .await
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RangeResult> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.readers
            .read(move |connection| {
                reader::range(connection, &prefix, start_after.as_deref(), limit)
            })
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<i64> {
        let event = self
            .write(WriteOp::Create {
                key: key.to_owned(),
                value,
            })
            .await?;
        Ok(event_revision(&event))
    }

    async fn update(&self, key: &str, value: Bytes, expected_revision: i64) -> Result<i64> {
        let event = self
            .write(WriteOp::Update {
                key: key.to_owned(),
                value,
                expected_revision,
            })
            .await?;
        Ok(event_revision(&event))
    }

    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<(i64, KeyValue)> {
        deleted_value(
            self.write(WriteOp::Delete {
                key: key.to_owned(),
                expected_revision,
            })
            .await?,
        )
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        // Subscribe before reading history: see `watch::replay_then_live`.
        let subscription = self.shared.hub.subscribe(prefix);
        let owned_prefix = prefix.to_owned();
        let replay = self
            .readers
            .read(move |connection| reader::replay(connection, &owned_prefix, after_revision))
            .await?;
        Ok(replay_then_live(subscription, replay, after_revision))
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.shared.revision.load(Ordering::Acquire))
    }

    async fn compacted_revision(&self) -> Result<i64> {
        Ok(self.shared.compacted.load(Ordering::Acquire))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.submit(Command::Compact(revision)).await.map(|_| ())
    }
}

fn writer_stopped() -> Error {
    Error::Unavailable("the sqlite writer thread has stopped".into())
}

/// Read-only connections handed out round-robin; each read runs on a blocking thread.
struct ReadPool {
    connections: Arc<[Mutex<Connection>]>,
    next: AtomicUsize,
}

impl ReadPool {
    fn open(path: &Path, size: usize) -> Result<Self> {
        let connections = (0..size.max(1))
            .map(|_| schema::open_reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?
            .into();
        Ok(ReadPool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let connections = self.connections.clone();
        tokio::task::spawn_blocking(move || {
            // Prefer an idle connection so a long replay does not hold up short reads.
            let count = connections.len();
            let idle =
                (0..count).find_map(|offset| connections[(start + offset) % count].try_lock());
            let mut connection = idle.unwrap_or_else(|| connections[start % count].lock());
            read(&mut connection)
        })
        .await
        .map_err(|error| Error::Internal(format!("a store read task failed: {error}")))?
    }
}

/// The channel to the writer thread; dropping it lets the thread finish what is queued and
/// waits for it, so the file is closed when the store is gone.
struct WriterHandle {
    sender: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterHandle {
    fn spawn(writer: Writer, queue_capacity: usize) -> Result<Self> {
        let (sender, receiver) = mpsc::channel(queue_capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("bulwark-store-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|error| {
                Error::Unavailable(format!("cannot start the sqlite writer thread: {error}"))
            })?;
        Ok(WriterHandle {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    async fn send(&self, request: Request) -> Result<()> {
        let sender = self.sender.as_ref().ok_or_else(writer_stopped)?;
        sender.send(request).await.map_err(|_| writer_stopped())
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the sqlite writer thread panicked");
        }
    }
}
