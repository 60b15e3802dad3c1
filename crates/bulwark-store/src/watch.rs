//! Watch = history replay + live events, shared by every backend.
//!
//! The backend subscribes to its hub *before* it reads history, so every event committed after
//! the history snapshot reaches the subscription. Live events at or below the snapshot revision
//! were already replayed (or are not under the prefix) and are dropped: the stream has no gap and
//! no duplicate.

use futures::StreamExt;
use futures::stream;

use crate::hub::Subscription;
use crate::ops::event_revision;
use crate::{Error, WatchEvent, WatchStream};

/// History read from a backend's log for one watch.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Events under the prefix after the watch's start revision, in revision order.
    pub events: Vec<WatchEvent>,
    /// The store revision the history was read at.
    pub revision: i64,
}

/// The watch stream: `replay`, then live events from `subscription` after both
/// `after_revision` and the replay's snapshot.
pub(crate) fn replay_then_live(
    subscription: Subscription,
    replay: Replay,
    after_revision: i64,
) -> WatchStream {
    let seen_through = after_revision.max(replay.revision);
    let live = Live {
        subscription,
        seen_through,
    };
    let history = stream::iter(replay.events.into_iter().map(Ok));
    history.chain(stream::unfold(Some(live), next_live)).boxed()
}

struct Live {
    subscription: Subscription,
    /// Every event under the prefix up to this revision has been delivered: live events at or
    /// below it are duplicates, and a watcher cut off for lagging resumes after it.
    seen_through: i64,
}

async fn next_live(live: Option<Live>) -> Option<(crate::Result<WatchEvent>, Option<Live>)> {
    let mut live = live?;
    loop {
        match live.subscription.next().await {
            Some(event) if event_revision(&event) <= live.seen_through => continue,
            Some(event) => {
                live.seen_through = event_revision(&event);
                return Some((Ok(event), Some(live)));
            }
            None if live.subscription.lagged() => {
                let error = Error::WatchLagged {
                    last_revision: live.seen_through,
                    capacity: live.subscription.capacity(),
                };
                return Some((Err(error), None));
            }
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::WatchHub;
    use crate::{EventKind, KeyValue};
    use bytes::Bytes;

    fn event(revision: i64) -> WatchEvent {
        let kv = KeyValue {
            key: "/k".into(),
            value: Bytes::new(),
            create_revision: 1,
            mod_revision: revision,
        };
        WatchEvent {
            kind: EventKind::Put,
            kv,
            prev: None,
        }
    }

    async fn revisions(stream: &mut WatchStream, count: usize) -> Vec<i64> {
        let mut revisions = Vec::new();
        for _ in 0..count {
            match stream.next().await {
                Some(Ok(event)) => revisions.push(event_revision(&event)),
                other => panic!("expected an event, got {other:?}"),
            }
        }
        revisions
    }

    #[tokio::test]
    async fn live_events_already_replayed_are_dropped() {
        let hub = WatchHub::new(16);
        let subscription = hub.subscribe("/");
        // Revisions 2 and 3 were committed while the history was being read: both in the
        // replay and in the live buffer.
        hub.publish(&[event(2), event(3)]);
        let replay = Replay {
            events: vec![event(2), event(3)],
            revision: 3,
        };
        let mut stream = replay_then_live(subscription, replay, 1);
        hub.publish(&[event(4)]);
        assert_eq!(revisions(&mut stream, 3).await, vec![2, 3, 4]);
    }

    #[tokio::test]
    async fn future_start_skips_live_events_up_to_it() {
        let hub = WatchHub::new(16);
        let subscription = hub.subscribe("/");
        let mut stream = replay_then_live(
            subscription,
            Replay {
                events: vec![],
                revision: 2,
            },
            5,
        );
        hub.publish(&[event(3), event(5), event(6)]);
        assert_eq!(revisions(&mut stream, 1).await, vec![6]);
    }

    #[tokio::test]
    async fn lagged_stream_reports_where_to_resume() {
        let hub = WatchHub::new(1);
        let subscription = hub.subscribe("/");
        let mut stream = replay_then_live(
            subscription,
            Replay {
                events: vec![event(1)],
                revision: 1,
            },
            0,
        );
        hub.publish(&[event(2), event(3)]);
        assert_eq!(revisions(&mut stream, 2).await, vec![1, 2]);
        match stream.next().await {
            Some(Err(Error::WatchLagged {
                last_revision: 2,
                capacity: 1,
            })) => {}
            other => panic!("expected WatchLagged, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
    }
}
