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
