//! What only a persistent backend promises: state, revisions and history survive a reopen, and
//! group commit acknowledges each of many concurrent writes durably.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bulwark_store::{Error, EventKind, SqliteStore, Store, open_store};
use bytes::Bytes;
use futures::StreamExt;

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

#[tokio::test]
async fn reopen_preserves_state_revision_and_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let (updated, deleted) = {
        let store = SqliteStore::open(&path).expect("open");
        let created = store.create("/r/a", value("1")).await.expect("create");
        let updated = store
            .update("/r/a", value("2"), created)
            .await
            .expect("update");
        store.create("/r/b", value("3")).await.expect("create");
        let (deleted, _) = store.delete("/r/b", None).await.expect("delete");
        (updated, deleted)
    };
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.current_revision().await, Ok(deleted));
    let kv = store.get("/r/a").await.expect("get").expect("present");
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (value("2"), 1, updated)
    );
    assert_eq!(store.get("/r/b").await, Ok(None));
    let mut watch = store
        .watch("/r/", 0)
        .await
        .expect("watch history after reopen");
    let mut history = Vec::new();
    for _ in 0..4 {
        let event = watch.next().await.expect("event").expect("ok event");
        history.push((event.kind, event.kv.key, event.kv.mod_revision));
    }
    let expected = vec![
        (EventKind::Put, "/r/a".to_owned(), 1),
        (EventKind::Put, "/r/a".to_owned(), 2),
        (EventKind::Put, "/r/b".to_owned(), 3),
        (EventKind::Delete, "/r/b".to_owned(), 4),
    ];
    assert_eq!(history, expected);
    assert!(store.create("/r/c", value("4")).await.expect("create") > deleted);
}

#[tokio::test]
async fn revisions_are_not_reused_after_compaction_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let last = {
        let store = SqliteStore::open(&path).expect("open");
        store.create("/a", value("1")).await.expect("create");
        let (deleted, _) = store.delete("/a", None).await.expect("delete");
        store.compact(deleted).await.expect("compact everything");
        deleted
    };
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.current_revision().await, Ok(last));
    assert_eq!(store.compacted_revision().await, Ok(last));
    assert_eq!(
        store.watch("", last - 1).await.err(),
        Some(Error::Compacted {
            requested: last - 1,
            compacted: last
        })
    );
    assert_eq!(store.create("/a", value("2")).await, Ok(last + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_acknowledges_concurrent_creates_durably() {
    const WRITES: usize = 200;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let store = Arc::new(SqliteStore::open(&path).expect("open"));
    let tasks: Vec<_> = (0..WRITES)
        .map(|index| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("/g/{index:03}");
                let revision = store.create(&key, value(&key)).await.expect("create");
                (key, revision)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.push(task.await.expect("task"));
    }
    let revisions: BTreeSet<i64> = acknowledged.iter().map(|(_, revision)| *revision).collect();
    assert_eq!(revisions.len(), WRITES, "every create has its own revision");
    assert_eq!(
        revisions.iter().copied().collect::<Vec<_>>(),
        (1..=WRITES as i64).collect::<Vec<_>>()
    );
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    for (key, revision) in &acknowledged {
        let kv = reopened
            .get(key)
            .await
            .expect("get")
            .expect("acknowledged create is durable");
        assert_eq!((kv.value, kv.mod_revision), (value(key), *revision));
    }
}

#[tokio::test]
async fn open_store_picks_sqlite_from_the_spec() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = format!("sqlite:{}", dir.path().join("spec.db").display());
    let store = open_store(&spec).expect("open by spec");
    store.create("/a", value("1")).await.expect("create");
    drop(store);
    let store = open_store(&spec).expect("reopen by spec");
    assert_eq!(store.current_revision().await, Ok(1));
}

#[tokio::test]
async fn auto_compactor_compacts_in_the_background() {
    let store = open_store("memory").expect("memory store");
    for index in 0..20 {
        store
            .create(&format!("/k/{index}"), value("v"))
            .await
            .expect("create");
    }
    let compactor =
        bulwark_store::spawn_auto_compactor(store.clone(), 5, Duration::from_millis(10));
    // Waits for an outcome, bounded by a generous deadline; the period only paces the loop.
    let compacted = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let compacted = store
                .compacted_revision()
                .await
                .expect("compacted revision");
            if compacted > 0 {
                return compacted;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the compactor runs");
    compactor.abort();
    assert_eq!(compacted, 15);
}

#[test]
fn opening_a_directory_is_unavailable_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(matches!(
        SqliteStore::open(dir.path()),
        Err(Error::Unavailable(_))
    ));
}
