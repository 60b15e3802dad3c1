//! The storage contract, written once and run against every backend.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bulwark_store::{
    Error, EventKind, MemoryOptions, MemoryStore, SqliteOptions, SqliteStore, Store, WatchEvent,
    WatchStream,
};
use bytes::Bytes;
use futures::StreamExt;
use tempfile::TempDir;

/// A store plus whatever must outlive it (the sqlite file's directory).
struct Fixture {
    store: Arc<dyn Store>,
    _dir: Option<TempDir>,
}

fn memory(watch_buffer: usize) -> Fixture {
    let options = MemoryOptions {
        watch_buffer,
        ..MemoryOptions::default()
    };
    Fixture {
        store: Arc::new(MemoryStore::with_options(options)),
        _dir: None,
    }
}

fn sqlite(watch_buffer: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        watch_buffer,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("store.db"), options).expect("open sqlite");
    Fixture {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// Generous bound on waiting for an event that must come; never hit when the store works.
const EVENT_DEADLINE: Duration = Duration::from_secs(60);

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_DEADLINE, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected a watch event, got {other:?}"),
    }
}

fn keys_of(kvs: &[bulwark_store::KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

mod suite {
    use super::*;

    pub async fn create_then_get_returns_value_and_revisions(store: Arc<dyn Store>) {
        assert_eq!(store.current_revision().await, Ok(0));
        let revision = store.create("/a", value("one")).await.expect("create");
        assert_eq!(revision, 1);
        let kv = store.get("/a").await.expect("get").expect("present");
        assert_eq!(
            (
                kv.key.as_str(),
                kv.value,
                kv.create_revision,
                kv.mod_revision
            ),
            ("/a", value("one"), 1, 1)
        );
        assert_eq!(store.get("/missing").await, Ok(None));
    }

    pub async fn create_of_existing_key_is_already_exists(store: Arc<dyn Store>) {
        store.create("/a", value("one")).await.expect("create");
        assert_eq!(
            store.create("/a", value("two")).await,
            Err(Error::AlreadyExists("/a".into()))
        );
        assert_eq!(
            store.current_revision().await,
            Ok(1),
            "a rejected write consumes no revision"
        );
        assert_eq!(
            store.get("/a").await.expect("get").map(|kv| kv.value),
            Some(value("one"))
        );
    }

    pub async fn update_is_compare_and_swap(store: Arc<dyn Store>) {
        let created = store.create("/a", value("one")).await.expect("create");
        let updated = store
            .update("/a", value("two"), created)
            .await
            .expect("update");
        assert!(updated > created);
        let kv = store.get("/a").await.expect("get").expect("present");
        assert_eq!(
            (kv.value, kv.create_revision, kv.mod_revision),
            (value("two"), created, updated)
        );
        match store.update("/a", value("three"), created).await {
            Err(Error::Conflict {
                key,
                expected,
                current,
            }) => {
                assert_eq!((key.as_str(), expected), ("/a", created));
                assert_eq!(current.map(|kv| kv.mod_revision), Some(updated));
            }
            other => panic!("stale update must conflict, got {other:?}"),
        }
        assert_eq!(
            store.update("/missing", value("x"), 1).await,
            Err(Error::NotFound("/missing".into()))
        );
    }

    pub async fn delete_is_compare_and_swap(store: Arc<dyn Store>) {
        let created = store.create("/a", value("one")).await.expect("create");
        assert!(matches!(
            store.delete("/a", Some(created + 100)).await,
            Err(Error::Conflict { .. })
        ));
        let (deleted_at, removed) = store.delete("/a", Some(created)).await.expect("delete");
        assert!(deleted_at > created);
        assert_eq!(
            (removed.value, removed.mod_revision),
            (value("one"), created)
        );
        assert_eq!(store.get("/a").await, Ok(None));
        assert_eq!(
            store.delete("/a", None).await,
            Err(Error::NotFound("/a".into()))
        );
        let recreated = store.create("/a", value("again")).await.expect("recreate");
        let kv = store.get("/a").await.expect("get").expect("present");
        assert_eq!(
            kv.create_revision, recreated,
            "a new incarnation has a new create revision"
        );
        let (_, removed) = store
            .delete("/a", None)
            .await
            .expect("unconditional delete");
        assert_eq!(removed.value, value("again"));
    }

    pub async fn range_pages_through_a_prefix(store: Arc<dyn Store>) {
        for key in ["/a/x", "/b/1", "/b/2", "/b/3", "/b0", "/c/1"] {
            store.create(key, value(key)).await.expect("create");
        }
        let page = store.range("/b/", None, 2).await.expect("range");
        assert_eq!(
            (keys_of(&page.kvs), page.more, page.revision),
            (vec!["/b/1", "/b/2"], true, 6)
        );
        let page = store.range("/b/", Some("/b/2"), 2).await.expect("range");
        assert_eq!((keys_of(&page.kvs), page.more), (vec!["/b/3"], false));
        let page = store.range("/b/", None, 3).await.expect("range");
        assert_eq!(
            (keys_of(&page.kvs), page.more),
            (vec!["/b/1", "/b/2", "/b/3"], false)
        );
        let page = store.range("/b/", None, 0).await.expect("range");
        assert_eq!(page.kvs.len(), 3);
        assert_eq!(page.kvs[0].value, value("/b/1"));
        let everything = store.range("", None, 0).await.expect("range");
        assert_eq!(everything.kvs.len(), 6);
        let nothing = store.range("/z/", None, 10).await.expect("range");
        assert_eq!((nothing.kvs.len(), nothing.more), (0, false));
    }

    pub async fn revisions_increase_strictly(store: Arc<dyn Store>) {
        let mut last = store.current_revision().await.expect("revision");
        for index in 0..10 {
            let key = format!("/k/{index}");
            let created = store.create(&key, value("v")).await.expect("create");
            let updated = store
                .update(&key, value("w"), created)
                .await
                .expect("update");
            let (deleted, _) = store.delete(&key, Some(updated)).await.expect("delete");
            assert!(last < created && created < updated && updated < deleted);
            last = deleted;
        }
        assert_eq!(store.current_revision().await, Ok(last));
    }

    pub async fn concurrent_compare_and_swap_has_one_winner(store: Arc<dyn Store>) {
        let created = store
            .create("/contended", value("0"))
            .await
            .expect("create");
        let attempts: Vec<_> = (0..32)
            .map(|index| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .update("/contended", value(&index.to_string()), created)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for attempt in attempts {
            match attempt.await.expect("task") {
                Ok(_) => winners += 1,
                Err(Error::Conflict { .. }) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(winners, 1);
        assert_eq!(store.current_revision().await, Ok(created + 1));
    }

    pub async fn watch_replays_history_then_streams_live(store: Arc<dyn Store>) {
        let first = store.create("/w/a", value("1")).await.expect("create");
        store.create("/other", value("x")).await.expect("create");
        let second = store
            .update("/w/a", value("2"), first)
            .await
            .expect("update");
        let mut watch = store.watch("/w/", 0).await.expect("watch");
        let event = next_event(&mut watch).await;
        assert_eq!(
            (event.kind, event.kv.mod_revision, event.prev),
            (EventKind::Put, first, None)
        );
        let event = next_event(&mut watch).await;
        assert_eq!(
            (event.kind, event.kv.mod_revision),
            (EventKind::Put, second)
        );
        assert_eq!(
            event.prev.map(|kv| (kv.value, kv.mod_revision)),
            Some((value("1"), first))
        );
        let (deleted, _) = store.delete("/w/a", None).await.expect("delete");
        store.create("/other2", value("y")).await.expect("create");
        let event = next_event(&mut watch).await;
        assert_eq!(
            (event.kind, event.kv.mod_revision, event.kv.value.len()),
            (EventKind::Delete, deleted, 0)
        );
        assert_eq!(event.prev.map(|kv| kv.value), Some(value("2")));
        let recreated = store.create("/w/b", value("3")).await.expect("create");
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, recreated);
    }

    pub async fn watch_has_no_gap_or_duplicate_under_concurrent_writes(store: Arc<dyn Store>) {
        const WRITERS: usize = 3;
        const WRITES: usize = 60;
        let start = store.current_revision().await.expect("revision");
        let (started, writers_started) = tokio::sync::oneshot::channel();
        let mut started = Some(started);
        let mut tasks = Vec::new();
        for writer in 0..=WRITERS {
            let store = store.clone();
            // The last writer writes outside the watched prefix.
            let prefix = if writer == WRITERS { "/x/" } else { "/w/" };
            let mut signal = started.take();
            tasks.push(tokio::spawn(async move {
                for index in 0..WRITES {
                    store
                        .create(&format!("{prefix}{writer}-{index}"), value("v"))
                        .await
                        .expect("create");
                    if index == WRITES / 4
                        && let Some(signal) = signal.take()
                    {
                        let _ = signal.send(());
                    }
                }
            }));
        }
        // Watch while the writers are running, so the replay and the live stream overlap.
        writers_started.await.expect("the first writer is running");
        let mut watch = store.watch("/w/", start).await.expect("watch");
        let mut seen = BTreeSet::new();
        let mut last_revision = start;
        while seen.len() < WRITERS * WRITES {
            let event = next_event(&mut watch).await;
            assert!(
                event.kv.key.starts_with("/w/"),
                "event outside the prefix: {}",
                event.kv.key
            );
            assert!(
                event.kv.mod_revision > last_revision,
                "revisions must strictly increase"
            );
            last_revision = event.kv.mod_revision;
            assert!(
                seen.insert(event.kv.key.clone()),
                "duplicate event for {}",
                event.kv.key
            );
        }
        for task in tasks {
            task.await.expect("writer");
        }
    }

    pub async fn watch_from_future_revision_waits_for_it(store: Arc<dyn Store>) {
        store.create("/w/a", value("1")).await.expect("create");
        let mut watch = store
            .watch("/w/", 3)
            .await
            .expect("a future start is accepted");
        store.create("/w/b", value("2")).await.expect("create");
        store.create("/w/c", value("3")).await.expect("create");
        store.create("/w/d", value("4")).await.expect("create");
        assert_eq!(next_event(&mut watch).await.kv.key, "/w/d");
    }

    pub async fn compaction_forgets_history(store: Arc<dyn Store>) {
        for index in 0..5 {
            store
                .create(&format!("/c/{index}"), value("v"))
                .await
                .expect("create");
        }
        store.compact(3).await.expect("compact");
        assert_eq!(store.compacted_revision().await, Ok(3));
        assert_eq!(
            store.watch("/c/", 2).await.err(),
            Some(Error::Compacted {
                requested: 2,
                compacted: 3
            })
        );
        let mut watch = store
            .watch("/c/", 3)
            .await
            .expect("watch at the compacted revision");
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, 4);
        store
            .compact(2)
            .await
            .expect("compacting backwards does nothing");
        assert_eq!(store.compacted_revision().await, Ok(3));
        assert_eq!(
            store.compact(99).await,
            Err(Error::FutureRevision {
                requested: 99,
                current: 5
            })
        );
        assert_eq!(
            store
                .get("/c/0")
                .await
                .expect("get")
                .map(|kv| kv.mod_revision),
            Some(1),
            "values survive"
        );
    }

    pub async fn compact_keeping_keeps_the_last_revisions(store: Arc<dyn Store>) {
        for index in 0..10 {
            store
                .create(&format!("/k/{index}"), value("v"))
                .await
                .expect("create");
        }
        assert_eq!(store.compact_keeping(4).await, Ok(Some(6)));
        assert_eq!(store.compact_keeping(4).await, Ok(None));
        assert_eq!(store.compacted_revision().await, Ok(6));
        assert!(store.watch("", 6).await.is_ok());
    }

    pub async fn slow_watcher_is_cut_off_with_watch_lagged(store: Arc<dyn Store>) {
        // The fixture gives this store a watch buffer of 4 events.
        let mut watch = store.watch("/s/", 0).await.expect("watch");
        for index in 0..10 {
            store
                .create(&format!("/s/{index}"), value("v"))
                .await
                .expect("writers are never blocked");
        }
        let mut delivered = Vec::new();
        let error = loop {
            match tokio::time::timeout(EVENT_DEADLINE, watch.next())
                .await
                .expect("stream must not hang")
            {
                Some(Ok(event)) => delivered.push(event.kv.mod_revision),
                Some(Err(error)) => break error,
                None => panic!("stream ended without an error"),
            }
        };
        assert_eq!(delivered, vec![1, 2, 3, 4]);
        assert_eq!(
            error,
            Error::WatchLagged {
                last_revision: 4,
                capacity: 4
            }
        );
        let mut resumed = store.watch("/s/", 4).await.expect("re-watch");
        assert_eq!(next_event(&mut resumed).await.kv.mod_revision, 5);
    }
}

macro_rules! conformance {
    ($backend:ident, $fixture:expr, [$($test:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = $fixture(if stringify!($test) == "slow_watcher_is_cut_off_with_watch_lagged" { 4 } else { 1024 });
                    super::suite::$test(fixture.store.clone()).await;
                }
            )*
        }
    };
}

macro_rules! conformance_for {
    ($backend:ident, $fixture:expr) => {
        conformance!(
            $backend,
            $fixture,
            [
                create_then_get_returns_value_and_revisions,
                create_of_existing_key_is_already_exists,
                update_is_compare_and_swap,
                delete_is_compare_and_swap,
                range_pages_through_a_prefix,
                revisions_increase_strictly,
                concurrent_compare_and_swap_has_one_winner,
                watch_replays_history_then_streams_live,
                watch_has_no_gap_or_duplicate_under_concurrent_writes,
                watch_from_future_revision_waits_for_it,
                compaction_forgets_history,
                compact_keeping_keeps_the_last_revisions,
                slow_watcher_is_cut_off_with_watch_lagged,
            ]
        );
    };
}

conformance_for!(memory_backend, super::memory);
conformance_for!(sqlite_backend, super::sqlite);
