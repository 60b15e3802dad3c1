//! Property test: any sequence of operations leaves each backend agreeing with a plain
//! `BTreeMap` model, operation by operation, and its watch history agrees with the model's log.

use std::collections::BTreeMap;
use std::sync::Arc;

use bulwark_store::{
    Error, EventKind, KeyValue, MemoryStore, RangeResult, SqliteStore, Store, WatchEvent,
};
use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::*;

const KEYS: [&str; 6] = ["/a/1", "/a/2", "/a/3", "/ab", "/b/1", "/b/2"];
const PREFIXES: [&str; 5] = ["", "/a/", "/a", "/b/", "/c/"];

#[derive(Debug, Clone)]
enum Expected {
    /// The key's current mod_revision (a write that should succeed).
    Current,
    /// Off by this much (a stale write that should conflict).
    Stale(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    Update(usize, u8, Expected),
    Delete(usize, Option<Expected>),
    Get(usize),
    Range(usize, Option<usize>, usize),
    Compact(i64),
}

fn expected_strategy() -> impl Strategy<Value = Expected> {
    prop_oneof![3 => Just(Expected::Current), 1 => (1i64..3).prop_map(Expected::Stale)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        3 => (key.clone(), any::<u8>()).prop_map(|(key, value)| Op::Create(key, value)),
        3 => (key.clone(), any::<u8>(), expected_strategy()).prop_map(|(key, value, expected)| Op::Update(key, value, expected)),
        2 => (key.clone(), proptest::option::of(expected_strategy())).prop_map(|(key, expected)| Op::Delete(key, expected)),
        1 => key.clone().prop_map(Op::Get),
        2 => (0..PREFIXES.len(), proptest::option::of(key), 0usize..4).prop_map(|(prefix, after, limit)| Op::Range(prefix, after, limit)),
        1 => (0i64..6).prop_map(Op::Compact),
    ]
}

/// The reference: current values, every event, the revision and the compacted revision.
#[derive(Default)]
struct Model {
    kvs: BTreeMap<String, KeyValue>,
    log: Vec<WatchEvent>,
    revision: i64,
    compacted: i64,
}

impl Model {
    fn expected_revision(&self, key: &str, expected: &Expected) -> i64 {
        let current = self.kvs.get(key).map_or(1, |kv| kv.mod_revision);
        match expected {
            Expected::Current => current,
            Expected::Stale(offset) => current + offset,
        }
    }

    fn check(&self, key: &str, expected: i64) -> Result<&KeyValue, Error> {
        let current = self
            .kvs
            .get(key)
            .ok_or_else(|| Error::NotFound(key.to_owned()))?;
        if current.mod_revision != expected {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Some(Box::new(current.clone())),
            });
        }
        Ok(current)
    }

    fn put(&mut self, key: &str, value: Bytes, create_revision: Option<i64>) -> i64 {
        self.revision += 1;
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: create_revision.unwrap_or(self.revision),
            mod_revision: self.revision,
        };
        let prev = self.kvs.insert(key.to_owned(), kv.clone());
        self.log.push(WatchEvent {
            kind: EventKind::Put,
            kv,
            prev,
        });
        self.revision
    }

    fn create(&mut self, key: &str, value: Bytes) -> Result<i64, Error> {
        if self.kvs.contains_key(key) {
            return Err(Error::AlreadyExists(key.to_owned()));
        }
        Ok(self.put(key, value, None))
    }

    fn update(&mut self, key: &str, value: Bytes, expected: i64) -> Result<i64, Error> {
        let create_revision = self.check(key, expected)?.create_revision;
        Ok(self.put(key, value, Some(create_revision)))
    }

    fn delete(&mut self, key: &str, expected: Option<i64>) -> Result<(i64, KeyValue), Error> {
        match expected {
            Some(expected) => self.check(key, expected).map(|_| ())?,
            None => self
                .kvs
                .get(key)
                .map(|_| ())
                .ok_or_else(|| Error::NotFound(key.to_owned()))?,
        }
        let removed = self
            .kvs
            .remove(key)
            .ok_or_else(|| Error::NotFound(key.to_owned()))?;
        self.revision += 1;
        let kv = KeyValue {
            key: key.to_owned(),
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: self.revision,
        };
        self.log.push(WatchEvent {
            kind: EventKind::Delete,
            kv,
            prev: Some(removed.clone()),
        });
        Ok((self.revision, removed))
    }

    fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> RangeResult {
        let mut kvs: Vec<KeyValue> = self
            .kvs
            .values()
            .filter(|kv| {
                kv.key.starts_with(prefix)
                    && start_after.is_none_or(|after| kv.key.as_str() > after)
            })
            .cloned()
            .collect();
        let more = limit > 0 && kvs.len() > limit;
        if limit > 0 {
            kvs.truncate(limit);
        }
        RangeResult {
            kvs,
            more,
            revision: self.revision,
        }
    }

    fn compact(&mut self, back: i64) {
        self.compacted = self.compacted.max(self.revision - back).max(0);
    }
}

async fn apply(store: &dyn Store, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match op {
        Op::Create(key, byte) => {
            let value = Bytes::from(vec![*byte]);
            prop_assert_eq!(
                store.create(KEYS[*key], value.clone()).await,
                model.create(KEYS[*key], value)
            );
        }
        Op::Update(key, byte, expected) => {
            let value = Bytes::from(vec![*byte]);
            let expected = model.expected_revision(KEYS[*key], expected);
            let actual = store.update(KEYS[*key], value.clone(), expected).await;
            prop_assert_eq!(actual, model.update(KEYS[*key], value, expected));
        }
        Op::Delete(key, expected) => {
            let expected = expected
                .as_ref()
                .map(|expected| model.expected_revision(KEYS[*key], expected));
            prop_assert_eq!(
                store.delete(KEYS[*key], expected).await,
                model.delete(KEYS[*key], expected)
            );
        }
        Op::Get(key) => prop_assert_eq!(
            store.get(KEYS[*key]).await,
            Ok(model.kvs.get(KEYS[*key]).cloned())
        ),
        Op::Range(prefix, after, limit) => {
            let after = after.map(|index| KEYS[index]);
            let actual = store.range(PREFIXES[*prefix], after, *limit).await;
            prop_assert_eq!(actual, Ok(model.range(PREFIXES[*prefix], after, *limit)));
        }
        Op::Compact(back) => {
            let target = (model.revision - back).max(0);
            prop_assert_eq!(store.compact(target).await, Ok(()));
            model.compact(*back);
        }
    }
    prop_assert_eq!(store.current_revision().await, Ok(model.revision));
    prop_assert_eq!(store.compacted_revision().await, Ok(model.compacted));
    Ok(())
}

/// The retained history, replayed by a watch, equals the model's log after the compacted revision.
async fn check_history(store: &dyn Store, model: &Model) -> Result<(), TestCaseError> {
    let expected: Vec<&WatchEvent> = model
        .log
        .iter()
        .filter(|event| event.kv.mod_revision > model.compacted)
        .collect();
    let mut watch = store
        .watch("", model.compacted)
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    for event in expected {
        let actual = watch.next().await;
        prop_assert_eq!(actual, Some(Ok(event.clone())));
    }
    Ok(())
}

fn run(store: Arc<dyn Store>, ops: &[Op]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut model = Model::default();
        for op in ops {
            apply(store.as_ref(), &mut model, op).await?;
        }
        check_history(store.as_ref(), &model).await
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn memory_store_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run(Arc::new(MemoryStore::new()), &ops)?;
    }
}

proptest! {
    // Each case is a fresh database file with an fsync per write: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn sqlite_store_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("model.db")).expect("open sqlite");
        run(Arc::new(store), &ops)?;
    }
}
