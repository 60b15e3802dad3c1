//! The watch protocol: a chunked stream of `{"type": …, "object": …}` lines.
//!
//! Events come from the watch cache. Each watcher gets its own task that filters events through
//! the request's selectors, turns selector transitions into ADDED/DELETED as upstream does, and
//! ends the stream with a 410 ERROR event when it falls too far behind, so the client relists.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use bulwark_core::ApiError;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::ApiServer;
use crate::cache::{CacheEvent, EventType, WatchStart};
use crate::filter::Filter;
use crate::handlers::print;
use crate::http::{Incoming, Reply};
use crate::negotiate::{self, Representation};
use crate::request::ResourcePath;

/// Upstream closes watches after a random 30–60 minutes unless asked otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(10);
/// Encoded events buffered towards a slow HTTP client before we stop reading the cache.
const OUTBOX_EVENTS: usize = 256;

struct Watcher {
    server: Arc<ApiServer>,
    path: ResourcePath,
    filter: Filter,
    representation: Representation,
    include_object: Option<String>,
    bookmarks: bool,
    outbox: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

pub async fn watch(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let representation = negotiate::representation(incoming.header(http::header::ACCEPT))?;
    let filter = Filter::from_query(path, &incoming.query)?;
    let send_initial_events = incoming.query.flag("sendInitialEvents");
    let start = match incoming
        .query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty())
    {
        None | Some("0") => WatchStart::CurrentState,
        Some(_) if send_initial_events => WatchStart::CurrentState,
        Some(raw) => WatchStart::After(super::list::parse_resource_version(raw)?),
    };
    let timeout = incoming
        .query
        .integer("timeoutSeconds")?
        .filter(|seconds| *seconds > 0)
        .map_or(DEFAULT_TIMEOUT, |seconds| {
            Duration::from_secs(seconds.unsigned_abs())
        });
    let (outbox, inbox) = mpsc::channel(OUTBOX_EVENTS);
    let subscription = match server.cache.subscribe(path.resource, start).await {
        Ok(subscription) => subscription,
        // As upstream's cacher: once the request is parsed, a revision the cache cannot serve
        // (compacted: 410 Expired; not reached yet: 504) is an ERROR event on a 200 stream, so
        // clients such as kube's watcher relist instead of retrying the same revision forever.
        Err(error) => {
            let line = error_event_line(&error);
            let _ = outbox.try_send(Ok(line));
            return Ok(Reply::Stream(Body::from_stream(ReceiverStream::new(inbox))));
        }
    };
    let watcher = Watcher {
        server: Arc::clone(server),
        path: path.clone(),
        filter,
        representation,
        include_object: incoming.query.get("includeObject").map(str::to_string),
        bookmarks: incoming.query.flag("allowWatchBookmarks"),
        outbox,
    };
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let server = Arc::clone(&watcher.server);
        tokio::select! {
            () = watcher.run(subscription, send_initial_events) => {}
            () = &mut deadline => {}
            () = server.stopped() => {}
        }
    });
    Ok(Reply::Stream(Body::from_stream(ReceiverStream::new(inbox))))
}

/// One `{"type":"ERROR","object":<Status>}` line.
fn error_event_line(error: &ApiError) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": error.to_status()}))
        .expect("JSON values always serialise");
    line.push(b'\n');
    Bytes::from(line)
}

impl Watcher {
    async fn run(&self, subscription: crate::cache::Subscription, send_initial_events: bool) {
        let mut last_revision = subscription.revision;
        for event in &subscription.initial {
            if !self.forward(event).await {
                return;
            }
        }
        if send_initial_events && !self.bookmark(subscription.revision, true).await {
            return;
        }
        let mut live = subscription.live;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(event) => {
                        // The receiver was subscribed under the same lock the initial events
                        // were read under, so live events neither repeat nor skip any.
                        last_revision = last_revision.max(event.revision);
                        if !self.forward(&event).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => {
                        let error = ApiError::gone("the watch fell too far behind or the cache was reset; relist and watch again");
                        let _ = self.outbox.send(Ok(error_event_line(&error))).await;
                        return;
                    }
                },
                _ = ticker.tick(), if self.bookmarks => {
                    // Only when nothing is pending, so a bookmark never overtakes an event.
                    let revision = self.server.cache.revision();
                    if live.is_empty() && !self.bookmark(revision.max(last_revision), false).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends one cache event if it concerns this watcher; false once the client is gone.
    async fn forward(&self, event: &CacheEvent) -> bool {
        let now_matches = self.filter.matches(&event.object.index);
        let was_matching = event
            .previous
            .as_deref()
            .is_some_and(|previous| self.filter.matches(previous));
        let event_type = match (event.event_type, was_matching, now_matches) {
            (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => EventType::Deleted,
            (EventType::Deleted, false, false) => return true,
            (_, false, true) => EventType::Added,
            (_, true, true) => EventType::Modified,
            (_, true, false) => EventType::Deleted,
            (_, false, false) => return true,
        };
        if self.representation == Representation::Object
            && !crate::view::converts(self.path.resource)
        {
            return self.send_encoded(event_type, event.encoded_object()).await;
        }
        let decoded = event.object.value();
        let object = crate::view::present(self.path.resource, &decoded);
        let rendered = self.render(&object);
        self.send(json!({"type": event_type.as_str(), "object": rendered}))
            .await
    }

    /// Sends an event whose object is already serialised (shared by every watcher).
    async fn send_encoded(&self, event_type: EventType, object: &Bytes) -> bool {
        let prefix = format!("{{\"type\":\"{}\",\"object\":", event_type.as_str());
        let mut line = Vec::with_capacity(prefix.len() + object.len() + 2);
        line.extend_from_slice(prefix.as_bytes());
        line.extend_from_slice(object);
        line.extend_from_slice(b"}\n");
        self.outbox.send(Ok(Bytes::from(line))).await.is_ok()
    }

    fn render(&self, object: &Value) -> Value {
        match self.representation {
            Representation::Object => object.clone(),
            Representation::Metadata => print::partial_metadata(object),
            Representation::Table => {
                let include = match self.include_object.as_deref() {
                    Some("None") => bulwark_registry::table::IncludeObject::None,
                    Some("Object") => bulwark_registry::table::IncludeObject::Object,
                    _ => bulwark_registry::table::IncludeObject::Metadata,
                };
                let metadata = json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
                bulwark_registry::table::table(
                    self.path.resource,
                    [object],
                    self.server.clock.now(),
                    include,
                    metadata,
                )
            }
        }
    }

    async fn bookmark(&self, revision: i64, initial_events_end: bool) -> bool {
        let info = self.path.resource;
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata});
        self.send(json!({"type": "BOOKMARK", "object": object}))
            .await
    }

    async fn send(&self, event: Value) -> bool {
        let mut line = serde_json::to_vec(&event).expect("JSON values always serialise");
        line.push(b'\n');
        self.outbox.send(Ok(Bytes::from(line))).await.is_ok()
    }
}
