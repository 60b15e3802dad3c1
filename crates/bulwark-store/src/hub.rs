//! Fan-out of committed events to watchers, shared by every backend.
//!
//! A backend publishes each committed batch, in revision order, while no later batch can be
//! published (the sqlite writer thread is the only publisher; the memory store publishes under its
//! state lock). Each subscriber has a bounded buffer: a subscriber that falls more than
//! `capacity` events behind is cut off (its stream ends with [`Error::WatchLagged`]) so that a
//! slow watcher never blocks writers nor grows memory without bound.
//!
//! [`Error::WatchLagged`]: crate::Error::WatchLagged

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::WatchEvent;

/// The default number of events a watcher may fall behind before it is cut off.
pub const DEFAULT_WATCH_BUFFER: usize = 16 * 1024;

pub(crate) struct WatchHub {
    subscribers: Arc<Mutex<Subscribers>>,
    capacity: usize,
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    entries: Vec<Subscriber>,
}

struct Subscriber {
    id: u64,
    prefix: String,
    sender: mpsc::Sender<WatchEvent>,
    lagged: Arc<AtomicBool>,
}

/// A subscriber's end: events under its prefix published after it subscribed.
pub(crate) struct Subscription {
    id: u64,
    receiver: mpsc::Receiver<WatchEvent>,
    lagged: Arc<AtomicBool>,
    capacity: usize,
    hub: Weak<Mutex<Subscribers>>,
}

impl WatchHub {
    /// A hub whose subscribers may each buffer `capacity` events (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        WatchHub {
            subscribers: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn subscribe(&self, prefix: &str) -> Subscription {
        let (sender, receiver) = mpsc::channel(self.capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut subscribers = self.subscribers.lock();
        let id = subscribers.next_id;
        subscribers.next_id += 1;
        subscribers.entries.push(Subscriber {
            id,
            prefix: prefix.to_owned(),
            sender,
            lagged: lagged.clone(),
        });
        Subscription {
            id,
            receiver,
            lagged,
            capacity: self.capacity,
            hub: Arc::downgrade(&self.subscribers),
        }
    }

    /// Hands `events` (one committed batch, in revision order) to every interested subscriber,
    /// without waiting: a subscriber whose buffer is full is marked lagged and dropped.
    pub(crate) fn publish(&self, events: &[WatchEvent]) {
        if events.is_empty() {
            return;
        }
        self.subscribers
            .lock()
            .entries
            .retain(|subscriber| subscriber.deliver(events));
    }

    #[cfg(test)]
    pub(crate) fn subscriber_count(&self) -> usize {
        self.subscribers.lock().entries.len()
    }
}

impl Subscriber {
    /// Sends the events under this subscriber's prefix; false when it must be dropped.
    fn deliver(&self, events: &[WatchEvent]) -> bool {
        for event in events
            .iter()
            .filter(|event| event.kv.key.starts_with(&self.prefix))
        {
            match self.sender.try_send(event.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.lagged.store(true, Ordering::Release);
                    return false;
                }
                Err(TrySendError::Closed(_)) => return false,
            }
        }
        true
    }
}

impl Subscription {
    /// The next event, or `None` once the subscription has ended: the hub was dropped, or the
    /// subscriber lagged (see [`Subscription::lagged`]).
    pub(crate) async fn next(&mut self) -> Option<WatchEvent> {
        self.receiver.recv().await
    }

    /// Whether the hub cut this subscriber off because its buffer overflowed.
    pub(crate) fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(subscribers) = self.hub.upgrade() {
            subscribers
                .lock()
                .entries
                .retain(|subscriber| subscriber.id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, KeyValue};
    use bytes::Bytes;

    fn event(key: &str, revision: i64) -> WatchEvent {
        let kv = KeyValue {
            key: key.into(),
            value: Bytes::new(),
            create_revision: revision,
            mod_revision: revision,
        };
        WatchEvent {
            kind: EventKind::Put,
            kv,
            prev: None,
        }
    }

    #[tokio::test]
    async fn subscriber_receives_only_its_prefix_in_order() {
        let hub = WatchHub::new(8);
        let mut subscription = hub.subscribe("/a/");
        hub.publish(&[event("/a/1", 1), event("/b/1", 2), event("/a/2", 3)]);
        assert_eq!(
            subscription.next().await.map(|e| e.kv.mod_revision),
            Some(1)
        );
        assert_eq!(
            subscription.next().await.map(|e| e.kv.mod_revision),
            Some(3)
        );
    }

    #[tokio::test]
    async fn overflowing_subscriber_is_cut_off_after_its_buffer() {
        let hub = WatchHub::new(2);
        let mut subscription = hub.subscribe("");
        hub.publish(&[event("/a", 1), event("/b", 2), event("/c", 3)]);
        assert_eq!(hub.subscriber_count(), 0);
        assert!(subscription.next().await.is_some());
        assert!(subscription.next().await.is_some());
        assert!(subscription.next().await.is_none());
        assert!(subscription.lagged());
    }

    #[test]
    fn dropping_a_subscription_unregisters_it() {
        let hub = WatchHub::new(2);
        let subscription = hub.subscribe("/a");
        assert_eq!(hub.subscriber_count(), 1);
        drop(subscription);
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn dropping_the_hub_ends_subscriptions_without_lag() {
        let hub = WatchHub::new(2);
        let mut subscription = hub.subscribe("/a");
        drop(hub);
        assert!(subscription.next().await.is_none());
        assert!(!subscription.lagged());
    }
}
