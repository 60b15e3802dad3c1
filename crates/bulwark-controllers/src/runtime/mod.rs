//! The controller runtime every controller shares: informer caches fed by watches, a work queue
//! per controller, rate-limited requeue, expectations, leader election and events.
//!
//! The work queue is `kube::runtime::Controller`'s scheduler: keys are deduplicated while queued,
//! a key is never reconciled twice at once (a trigger that arrives mid-reconcile runs it again
//! afterwards), and requeues are delayed. [`backoff`] adds per-key exponential backoff on failure
//! and [`resync`] a periodic full resync, as client-go's informers do.

pub mod adoption;
pub mod backoff;
pub mod events;
pub mod expectations;
pub mod leader;
pub mod pod_control;

use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::Value;
use tokio::sync::watch;

/// Tells every task of the controller manager to stop.
pub type StopSignal = watch::Receiver<bool>;

/// Resolves once stop has been signalled (or the sender is gone).
pub async fn stopped(mut stop: StopSignal) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `namespace/name`: the key controllers queue and remember objects by.
pub fn key_of<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// An informer: a cache of every `K`, kept current by a watch. kube's watcher lists first, then
/// watches, and relists from scratch when the server says the resourceVersion is gone (410).
/// Returns once the first list is in the cache.
pub async fn informer<K>(api: Api<K>, stop: StopSignal) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .take_until(stopped(stop));
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::debug!(%error, kind = %K::kind(&()), "informer watch error; retrying");
            }
        }
    });
    let _ = reader.wait_until_ready().await;
    reader
}

/// A periodic trigger to reconcile every object again (level-triggered safety net).
#[allow(clippy::disallowed_methods)] // a shell's timer, not a decision
pub fn resync(period: Duration) -> impl Stream<Item = ()> + Send {
    futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(period).await;
        Some(((), ()))
    })
}

/// A short wait in a shell (never in a core).
#[allow(clippy::disallowed_methods)] // a shell's timer, not a decision
pub async fn pause(period: Duration) {
    tokio::time::sleep(period).await;
}

/// How long a resync period is by default.
pub const RESYNC_PERIOD: Duration = Duration::from_secs(30);

/// Converts a typed value to JSON for a patch; k8s-openapi types always serialise.
pub fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `ignore NotFound`: the object went away under us, which is what we wanted or no longer matters.
pub fn ignore_not_found<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// What an API error says, for events and conditions.
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}
