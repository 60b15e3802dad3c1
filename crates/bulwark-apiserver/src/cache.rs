//! The watch cache: every served object in memory plus a bounded ring of recent events per
//! resource, fed by one watch on the whole store.
//!
//! Lists and watches are served from here (DESIGN §4). The shape follows kube-rs's watcher: an
//! initial list, then events applied in revision order by a single dispatcher task.
//!
//! # Guarantees
//! * A list returns a snapshot at the revision it reports: every event of that resource up to
//!   that revision is in it, none after it.
//! * A watch started from a revision receives every later event of its resource exactly once,
//!   in revision order, with no gap between history and live events.
//! * A watch from a revision older than the ring keeps is refused with 410 `Expired`, and a
//!   watcher that falls too far behind is ended with 410 too, so clients relist instead of
//!   silently missing events.
//!
//! # Caveats
//! * Objects are held as their JSON bytes with `resourceVersion` filled in, plus a small index of
//!   what selectors read ([`Entry`]); readers that need the decoded object decode on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bulwark_core::{ApiError, ResourceInfo, resource::RESOURCES};
use bulwark_store::{EventKind, KeyValue, Store};
use futures::StreamExt;
use imbl::OrdMap;
use parking_lot::RwLock;
use tokio::sync::{broadcast, watch};

use crate::entry::{Entry, Index};
use crate::object;

/// The watch event types of the Kubernetes watch protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object, as stored in the ring and fanned out to watchers.
#[derive(Debug, Clone)]
pub struct CacheEvent {
    pub event_type: EventType,
    /// The object after the change; for deletions, its last state stamped with the delete's revision.
    pub object: Arc<Entry>,
    /// What selectors read of the object before the change, so that watchers with selectors
    /// can see objects leave them.
    pub previous: Option<Arc<Index>>,
    pub revision: i64,
}

impl CacheEvent {
    /// `object` as JSON bytes, serialised once when it was cached.
    pub fn encoded_object(&self) -> &bytes::Bytes {
        &self.object.json
    }
}

/// Tunables; the defaults suit a workstation cluster.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Events kept per resource for watches that resume from a revision.
    pub ring_events: usize,
    /// Events buffered per live watcher before it is cut off with 410.
    pub watcher_buffer: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ring_events: 20_000,
            watcher_buffer: 8_192,
        }
    }
}

struct ResourceCache {
    /// The resource whose selectable fields the index keeps (the storage resource).
    resource: &'static ResourceInfo,
    objects: OrdMap<String, Arc<Entry>>,
    ring: VecDeque<Arc<CacheEvent>>,
    /// Every event with a revision greater than this is in `ring`.
    ring_start: i64,
    /// Revision of the newest event applied to this resource.
    last_event_revision: i64,
    sender: broadcast::Sender<Arc<CacheEvent>>,
}

/// A consistent copy of one resource's objects.
pub struct Snapshot {
    pub objects: OrdMap<String, Arc<Entry>>,
    pub revision: i64,
}

/// Where a new watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// Synthetic ADDED events for every current object, then live changes.
    CurrentState,
    /// Every change after the given revision.
    After(i64),
}

/// A started watch: the events to send first, then a live receiver.
pub struct Subscription {
    pub initial: Vec<Arc<CacheEvent>>,
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The revision the subscription is known to be complete up to.
    pub revision: i64,
}

pub struct WatchCache {
    store: Arc<dyn Store>,
    config: CacheConfig,
    /// Indexed by storage prefix; resources sharing storage (two Event APIs) share one cache.
    resources: HashMap<&'static str, RwLock<ResourceCache>>,
    /// Longest prefix first, for routing store keys to their resource.
    prefixes: Vec<&'static str>,
    /// The newest store revision fully applied to every resource cache.
    applied: AtomicI64,
    applied_signal: watch::Sender<i64>,
}

impl WatchCache {
    /// Loads every object and starts following the store.
    pub async fn start(store: Arc<dyn Store>, config: CacheConfig) -> Result<Arc<Self>, ApiError> {
        let mut resources = HashMap::new();
        for info in RESOURCES {
            resources.entry(info.storage_prefix).or_insert_with(|| {
                RwLock::new(ResourceCache {
                    resource: crate::view::storage_resource(info),
                    objects: OrdMap::new(),
                    ring: VecDeque::new(),
                    ring_start: 0,
                    last_event_revision: 0,
                    sender: broadcast::channel(config.watcher_buffer).0,
                })
            });
        }
        let mut prefixes: Vec<&'static str> = resources.keys().copied().collect();
        prefixes.sort_by_key(|prefix| std::cmp::Reverse(prefix.len()));
        let cache = Arc::new(Self {
            store,
            config,
            resources,
            prefixes,
            applied: AtomicI64::new(0),
            applied_signal: watch::channel(0).0,
        });
        let revision = cache.load_all().await?;
        let follower = Arc::clone(&cache);
        tokio::spawn(async move { follower.follow(revision).await });
        Ok(cache)
    }

    /// Replaces every resource's contents with the store's current state; returns the revision
    /// the state is complete up to.
    async fn load_all(&self) -> Result<i64, ApiError> {
        let revision = self
            .store
            .current_revision()
            .await
            .map_err(object::storage_error)?;
        let mut loaded: HashMap<&'static str, OrdMap<String, Arc<Entry>>> = HashMap::new();
        let mut start_after: Option<String> = None;
        loop {
            let page = self
                .store
                .range("/registry/", start_after.as_deref(), 10_000)
                .await
                .map_err(object::storage_error)?;
            for kv in &page.kvs {
                let Some(prefix) = self.prefix_of(&kv.key) else {
                    continue;
                };
                if let Some(entry) = decode(self.storage_resource(prefix), kv) {
                    loaded
                        .entry(prefix)
                        .or_default()
                        .insert(kv.key.clone(), Arc::new(entry));
                }
            }
            match (page.more, page.kvs.last()) {
                (true, Some(last)) => start_after = Some(last.key.clone()),
                _ => break,
            }
        }
        let (history_start, mut history) = self.recent_history(revision).await;
        for (prefix, cache) in &self.resources {
            let mut cache = cache.write();
            cache.objects = loaded.remove(prefix).unwrap_or_default();
            cache.ring = history.remove(prefix).unwrap_or_default();
            cache.ring_start = history_start;
            while cache.ring.len() > self.config.ring_events {
                if let Some(evicted) = cache.ring.pop_front() {
                    cache.ring_start = evicted.revision;
                }
            }
            cache.last_event_revision = revision;
            // Watchers of the old state cannot be continued: closing the channel ends them with 410.
            cache.sender = broadcast::channel(self.config.watcher_buffer).0;
        }
        self.mark_applied(revision);
        Ok(revision)
    }

    /// The store's recent events up to `through`, per resource, so that a watch resuming from a
    /// revision before a restart (or a relist) is replayed rather than sent back to relist.
    /// Returns the revision after which history is complete; on any trouble, none is kept.
    async fn recent_history(
        &self,
        through: i64,
    ) -> (i64, HashMap<&'static str, VecDeque<Arc<CacheEvent>>>) {
        let mut history: HashMap<&'static str, VecDeque<Arc<CacheEvent>>> = HashMap::new();
        let window = i64::try_from(self.config.ring_events).unwrap_or(i64::MAX);
        let compacted = match self.store.compacted_revision().await {
            Ok(compacted) => compacted,
            Err(_) => return (through, history),
        };
        let start = compacted.max(through.saturating_sub(window)).max(0);
        if start >= through {
            return (through, history);
        }
        let read = async {
            let mut events = self.store.watch("/registry/", start).await.ok()?;
            while let Some(Ok(event)) = events.next().await {
                let revision = event.kv.mod_revision;
                if revision > through {
                    break;
                }
                let prefix = self.prefix_of(&event.kv.key);
                if let Some((prefix, cached)) = prefix.and_then(|prefix| {
                    Some((
                        prefix,
                        history_event(self.storage_resource(prefix), &event)?,
                    ))
                }) {
                    history
                        .entry(prefix)
                        .or_default()
                        .push_back(Arc::new(cached));
                }
                if revision == through {
                    return Some(());
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_secs(10), read).await {
            Ok(Some(())) => (start, history),
            _ => {
                tracing::warn!(
                    start,
                    through,
                    "could not replay recent store history; resuming watches will relist"
                );
                (through, HashMap::new())
            }
        }
    }

    /// Applies store events forever; relists if the store can no longer replay what we missed.
    async fn follow(self: Arc<Self>, mut revision: i64) {
        loop {
            match self.store.watch("/registry/", revision).await {
                Ok(mut events) => {
                    let mut resumable = false;
                    while let Some(event) = events.next().await {
                        match event {
                            Ok(event) => {
                                revision = event.kv.mod_revision;
                                self.apply(&event);
                            }
                            // We fell behind the store's buffer but its history still has
                            // everything after `revision`: resume without a relist.
                            Err(bulwark_store::Error::WatchLagged { .. }) => {
                                resumable = true;
                                break;
                            }
                            Err(error) => {
                                tracing::warn!(%error, "store watch ended; relisting the watch cache");
                                break;
                            }
                        }
                    }
                    if resumable {
                        continue;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch the store; relisting the watch cache")
                }
            }
            loop {
                match self.load_all().await {
                    Ok(loaded) => {
                        revision = loaded;
                        break;
                    }
                    Err(error) => {
                        tracing::error!(%error, "relisting the watch cache failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }

    fn apply(&self, event: &bulwark_store::WatchEvent) {
        let revision = event.kv.mod_revision;
        let Some(prefix) = self.prefix_of(&event.kv.key) else {
            self.mark_applied(revision);
            return;
        };
        let cache = &self.resources[prefix];
        // Decoded and encoded before taking the lock, so readers never wait on it.
        let resource = self.storage_resource(prefix);
        let put = match event.kind {
            EventKind::Put => decode(resource, &event.kv).map(Arc::new),
            EventKind::Delete => None,
        };
        let mut cache = cache.write();
        let previous = cache.objects.get(&event.kv.key).cloned();
        let change = match event.kind {
            EventKind::Put => put.map(|value| {
                cache
                    .objects
                    .insert(event.kv.key.clone(), Arc::clone(&value));
                let event_type = if previous.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (event_type, value)
            }),
            EventKind::Delete => cache.objects.remove(&event.kv.key).map(|last| {
                (
                    EventType::Deleted,
                    Arc::new(last.restamped(resource, revision)),
                )
            }),
        };
        if let Some((event_type, object)) = change {
            let event = Arc::new(CacheEvent {
                event_type,
                object,
                previous: previous.map(|previous| Arc::clone(&previous.index)),
                revision,
            });
            cache.ring.push_back(Arc::clone(&event));
            while cache.ring.len() > self.config.ring_events {
                if let Some(evicted) = cache.ring.pop_front() {
                    cache.ring_start = evicted.revision;
                }
            }
            cache.last_event_revision = revision;
            // No receivers is fine: nobody is watching this resource.
            let _ = cache.sender.send(event);
        }
        drop(cache);
        self.mark_applied(revision);
    }

    fn mark_applied(&self, revision: i64) {
        self.applied.fetch_max(revision, Ordering::SeqCst);
        self.applied_signal
            .send_replace(self.applied.load(Ordering::SeqCst));
    }

    fn prefix_of(&self, key: &str) -> Option<&'static str> {
        self.prefixes
            .iter()
            .copied()
            .find(|prefix| key.starts_with(prefix))
    }

    fn storage_resource(&self, prefix: &str) -> &'static ResourceInfo {
        self.resources[prefix].read().resource
    }

    fn resource(&self, info: &ResourceInfo) -> &RwLock<ResourceCache> {
        &self.resources[info.storage_prefix]
    }

    /// The newest revision applied to the cache.
    pub fn revision(&self) -> i64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// Waits until the cache has applied `revision`; upstream answers a revision the cache has
    /// not reached within a few seconds with 504 "Too large resource version".
    pub async fn wait_for(&self, revision: i64, patience: Duration) -> Result<(), ApiError> {
        let mut signal = self.applied_signal.subscribe();
        let reached =
            tokio::time::timeout(patience, signal.wait_for(|applied| *applied >= revision)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(too_large_resource_version(revision, self.revision())),
        }
    }

    /// Waits until the cache holds everything the store has committed: a consistent read.
    pub async fn sync(&self) -> Result<i64, ApiError> {
        let revision = self
            .store
            .current_revision()
            .await
            .map_err(object::storage_error)?;
        self.wait_for(revision, Duration::from_secs(10)).await?;
        Ok(revision)
    }

    /// One cached object by store key; it may trail the store by the dispatcher's latency.
    pub fn get(&self, info: &ResourceInfo, key: &str) -> Option<Arc<Entry>> {
        self.resource(info).read().objects.get(key).cloned()
    }

    /// A consistent copy of a resource's objects, cheap to take (persistent map).
    pub fn snapshot(&self, info: &ResourceInfo) -> Snapshot {
        let cache = self.resource(info).read();
        let revision = self.revision().max(cache.last_event_revision);
        Snapshot {
            objects: cache.objects.clone(),
            revision,
        }
    }

    /// Starts a watch on one resource.
    pub async fn subscribe(
        &self,
        info: &ResourceInfo,
        start: WatchStart,
    ) -> Result<Subscription, ApiError> {
        if let WatchStart::After(revision) = start {
            self.wait_for(revision, Duration::from_secs(3)).await?;
        }
        let cache = self.resource(info).read();
        let live = cache.sender.subscribe();
        let revision = self.revision().max(cache.last_event_revision);
        let initial = match start {
            WatchStart::CurrentState => cache
                .objects
                .values()
                .map(|object| {
                    Arc::new(CacheEvent {
                        event_type: EventType::Added,
                        object: Arc::clone(object),
                        previous: None,
                        revision: object.index.resource_version,
                    })
                })
                .collect(),
            WatchStart::After(after) => {
                if after < cache.ring_start {
                    return Err(expired(after, cache.ring_start));
                }
                cache
                    .ring
                    .iter()
                    .filter(|event| event.revision > after)
                    .cloned()
                    .collect()
            }
        };
        Ok(Subscription {
            initial,
            live,
            revision,
        })
    }
}

/// A store event from history as the cache would have recorded it live.
fn history_event(
    resource: &'static ResourceInfo,
    event: &bulwark_store::WatchEvent,
) -> Option<CacheEvent> {
    let previous = event
        .prev
        .as_ref()
        .and_then(|kv| decode(resource, kv))
        .map(Arc::new);
    let revision = event.kv.mod_revision;
    let (event_type, object) = match event.kind {
        EventKind::Put => {
            let event_type = if previous.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            };
            (event_type, Arc::new(decode(resource, &event.kv)?))
        }
        EventKind::Delete => {
            let last = previous.as_ref()?.restamped(resource, revision);
            (EventType::Deleted, Arc::new(last))
        }
    };
    Some(CacheEvent {
        event_type,
        object,
        previous: previous.map(|previous| Arc::clone(&previous.index)),
        revision,
    })
}

fn decode(resource: &'static ResourceInfo, kv: &KeyValue) -> Option<Entry> {
    Entry::decode(resource, &kv.key, &kv.value, kv.mod_revision)
}

/// The 410 a client gets for a revision the cache no longer holds.
pub fn expired(requested: i64, oldest: i64) -> ApiError {
    ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
}

fn too_large_resource_version(requested: i64, current: i64) -> ApiError {
    let mut error = ApiError::timeout(format!(
        "Too large resource version: {requested}, current: {current}"
    ));
    error.causes.push(bulwark_core::StatusCause::new(
        "ResourceVersionTooLarge",
        "",
        "Too large resource version",
    ));
    error.retry_after_seconds = Some(1);
    error
}
