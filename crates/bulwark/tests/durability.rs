//! Done-means 5: nothing acknowledged is lost. Concurrent clients write through the HTTP API
//! while the server is SIGKILLed; after a restart every acknowledged write is there with its
//! content, and resourceVersions stay consistent.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Cluster, DEADLINE};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// Concurrent writers; each runs one request at a time, so its acknowledgements are ordered.
const WRITERS: usize = 6;
/// Upper bound on each writer's operations, should the kill never come.
const MAX_OPERATIONS_PER_WRITER: usize = 5_000;
/// Acknowledged writes to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 1_000;

/// What one acknowledged write promised.
#[derive(Debug, Clone)]
enum Ack {
    /// Created `name` with `value`; the response carried `revision`.
    Created {
        name: String,
        value: String,
        revision: i64,
    },
    /// Set the writer's counter object to `counter`.
    Counted {
        name: String,
        counter: u64,
        revision: i64,
    },
    /// Deleted `name`.
    Deleted { name: String, revision: i64 },
}

impl Ack {
    fn revision(&self) -> i64 {
        match self {
            Self::Created { revision, .. }
            | Self::Counted { revision, .. }
            | Self::Deleted { revision, .. } => *revision,
        }
    }
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"suite": "durability"}},
        "data": {"value": value},
    }))
    .expect("a valid ConfigMap")
}

fn revision_of(object: &ConfigMap) -> i64 {
    object
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("a numeric resourceVersion")
}

fn value_of(object: &ConfigMap) -> Option<String> {
    object
        .data
        .as_ref()
        .and_then(|data| data.get("value"))
        .cloned()
}

/// What a writer did: its acknowledged writes, and the object its unacknowledged last request
/// (in flight at the kill) addressed.
struct WriterLog {
    acks: Vec<Ack>,
    in_flight: Option<String>,
}

/// One writer: creates objects, bumps its counter object, and deletes some of what it created,
/// recording each acknowledgement; stops at the first failure (the server is gone).
async fn write_until_failure(
    api: Api<ConfigMap>,
    writer: usize,
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let mut acks = Vec::new();
    let counter_name = format!("counter-{writer}");
    for operation in 0..MAX_OPERATIONS_PER_WRITER {
        if stop.load(Ordering::SeqCst) {
            return WriterLog {
                acks,
                in_flight: None,
            };
        }
        let (name, outcome) = match operation {
            1 => {
                let created = api
                    .create(&PostParams::default(), &configmap(&counter_name, "1"))
                    .await;
                (
                    counter_name.clone(),
                    created.map(|c| Ack::Counted {
                        name: counter_name.clone(),
                        counter: 1,
                        revision: revision_of(&c),
                    }),
                )
            }
            // Odd operations bump the counter with a merge patch.
            _ if operation % 2 == 1 => {
                let counter = operation as u64;
                let patch = json!({"data": {"value": counter.to_string()}});
                let patched = api
                    .patch(
                        &counter_name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await;
                (
                    counter_name.clone(),
                    patched.map(|c| Ack::Counted {
                        name: counter_name.clone(),
                        counter,
                        revision: revision_of(&c),
                    }),
                )
            }
            // Every 8th operation deletes the object created 6 operations earlier.
            _ if operation >= 8 && operation % 8 == 0 => {
                let name = format!("w{writer}-{}", operation - 6);
                let deleted = api.delete(&name, &DeleteParams::default()).await;
                let ack = deleted.map(|d| Ack::Deleted {
                    name: name.clone(),
                    revision: d.left().map(|o| revision_of(&o)).unwrap_or_default(),
                });
                (name, ack)
            }
            _ => {
                let name = format!("w{writer}-{operation}");
                let value = format!("value-{writer}-{operation}");
                let created = api
                    .create(&PostParams::default(), &configmap(&name, &value))
                    .await;
                (
                    name.clone(),
                    created.map(|c| Ack::Created {
                        name,
                        value,
                        revision: revision_of(&c),
                    }),
                )
            }
        };
        match outcome {
            Ok(ack) => {
                acks.push(ack);
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                return WriterLog {
                    acks,
                    in_flight: Some(name),
                };
            }
        }
    }
    WriterLog {
        acks,
        in_flight: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_sigkill() {
    let mut cluster = Cluster::start();
    let client = cluster.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            tokio::spawn(write_until_failure(
                api.clone(),
                writer,
                Arc::clone(&acked),
                Arc::clone(&stop),
            ))
        })
        .collect();

    let started = Instant::now();
    while acked.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
        assert!(
            started.elapsed() < DEADLINE,
            "writers too slow: {} acked",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL mid-stream: every writer has a request in flight.
    tokio::task::block_in_place(|| cluster.kill());
    stop.store(true, Ordering::SeqCst);
    let mut acks = Vec::new();
    let mut in_flight = Vec::new();
    for writer in writers {
        let log = tokio::time::timeout(DEADLINE, writer)
            .await
            .expect("writer stops")
            .expect("writer task");
        assert_revisions_increase(&log.acks);
        acks.extend(log.acks);
        in_flight.extend(log.in_flight);
    }
    assert!(acks.len() >= ACKS_BEFORE_KILL);
    eprintln!(
        "{} writes acknowledged before the kill; requests cut off: {in_flight:?}",
        acks.len()
    );

    tokio::task::block_in_place(|| cluster.launch());
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let listed = api
        .list(&ListParams::default().labels("suite=durability"))
        .await
        .expect("list after restart");
    let stored: HashMap<String, ConfigMap> = listed
        .items
        .into_iter()
        .map(|object| (object.metadata.name.clone().unwrap_or_default(), object))
        .collect();

    assert_acknowledged_state_is_stored(&acks, &in_flight, &stored);
    let newest_acked = acks.iter().map(Ack::revision).max().unwrap_or_default();
    let list_revision: i64 = listed
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("list rv");
    assert!(
        list_revision >= newest_acked,
        "list at {list_revision} is older than acked write {newest_acked}"
    );
    let after = api
        .create(&PostParams::default(), &configmap("after-restart", "x"))
        .await
        .expect("write after restart");
    assert!(
        revision_of(&after) > newest_acked,
        "revision {} after restart is not past {newest_acked}",
        revision_of(&after)
    );
    assert!(revision_of(&after) > list_revision);
}

/// One writer's acknowledgements carry strictly increasing revisions; no two writers share one.
fn assert_revisions_increase(acks: &[Ack]) {
    for pair in acks.windows(2) {
        assert!(
            pair[1].revision() > pair[0].revision(),
            "revisions went backwards: {pair:?}"
        );
    }
}

fn assert_acknowledged_state_is_stored(
    acks: &[Ack],
    in_flight: &[String],
    stored: &HashMap<String, ConfigMap>,
) {
    let mut revisions = acks.iter().map(Ack::revision).collect::<Vec<_>>();
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(
        revisions.len(),
        acks.len(),
        "two acknowledged writes share a revision"
    );

    // The newest acknowledged fact about each object.
    let mut expected: BTreeMap<String, &Ack> = BTreeMap::new();
    for ack in acks {
        let name = match ack {
            Ack::Created { name, .. } | Ack::Counted { name, .. } | Ack::Deleted { name, .. } => {
                name.clone()
            }
        };
        if expected
            .get(&name)
            .is_none_or(|previous| previous.revision() < ack.revision())
        {
            expected.insert(name, ack);
        }
    }
    for (name, ack) in expected {
        match ack {
            Ack::Created {
                value, revision, ..
            } => {
                let Some(object) = stored.get(&name) else {
                    // Only an unacknowledged delete, in flight at the kill, may have removed it.
                    assert!(
                        in_flight.contains(&name),
                        "acknowledged create of {name} lost"
                    );
                    continue;
                };
                assert_eq!(
                    value_of(object).as_deref(),
                    Some(value.as_str()),
                    "{name} content"
                );
                // Nothing but its create ever wrote it.
                assert_eq!(
                    revision_of(object),
                    *revision,
                    "{name} changed without an acknowledged write"
                );
            }
            Ack::Counted {
                counter, revision, ..
            } => {
                let object = stored
                    .get(&name)
                    .unwrap_or_else(|| panic!("acknowledged counter {name} lost"));
                let stored_counter: u64 = value_of(object)
                    .and_then(|v| v.parse().ok())
                    .expect("a counter value");
                // The acknowledged value, or the next one if that write was in flight at the kill.
                let next_in_flight = in_flight.contains(&name) && stored_counter == counter + 2;
                assert!(
                    stored_counter == *counter || next_in_flight,
                    "{name} holds {stored_counter}, acknowledged {counter}"
                );
                assert!(revision_of(object) >= *revision);
            }
            Ack::Deleted { .. } => {
                assert!(
                    !stored.contains_key(&name),
                    "acknowledged delete of {name} came back"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_continue_past_a_trailing_delete_after_a_sigkill() {
    let mut cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    api.create(&PostParams::default(), &configmap("kept", "1"))
        .await
        .expect("create");
    api.create(&PostParams::default(), &configmap("doomed", "1"))
        .await
        .expect("create");
    let deleted = api
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete")
        .left()
        .expect("object");
    let delete_revision = revision_of(&deleted);

    tokio::task::block_in_place(|| {
        cluster.kill();
        cluster.launch();
    });
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let list = api.list(&ListParams::default()).await.expect("list");
    let list_revision: i64 = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("rv");
    assert!(
        list_revision >= delete_revision,
        "list at {list_revision} forgot the delete at {delete_revision}"
    );
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["kept"]);
    let next = api
        .create(&PostParams::default(), &configmap("next", "1"))
        .await
        .expect("create after restart");
    assert!(
        revision_of(&next) > delete_revision,
        "revision {} reused after delete at {delete_revision}",
        revision_of(&next)
    );
}
