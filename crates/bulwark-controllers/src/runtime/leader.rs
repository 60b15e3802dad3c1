//! Leader election through a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it: the holder renews `renewTime`; a candidate takes over only once
//! `renewTime + leaseDurationSeconds` has passed; every write is compare-and-swap on the Lease's
//! resourceVersion, so two candidates can never both win.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::clock::Clock;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;

/// What a candidate does with the Lease as it finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseStep {
    /// Write this spec (create, renew or take over).
    Write(LeaseSpec),
    /// Someone else holds a live lease: try again later.
    Wait { holder: String },
}

/// Pure: the next step for `identity` given the current Lease spec (None: no Lease yet).
pub fn next_step(
    current: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    duration: Duration,
) -> LeaseStep {
    let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX).max(1);
    let fresh = |transitions: i32| LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(seconds),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(current) = current else {
        return LeaseStep::Write(fresh(0));
    };
    let holder = current.holder_identity.clone().unwrap_or_default();
    let transitions = current.lease_transitions.unwrap_or(0);
    if holder == identity {
        let mut renewed = current.clone();
        renewed.renew_time = Some(MicroTime(now));
        renewed.lease_duration_seconds = Some(seconds);
        return LeaseStep::Write(renewed);
    }
    if !holder.is_empty() && !expired(current, now) {
        return LeaseStep::Wait { holder };
    }
    LeaseStep::Write(fresh(transitions.saturating_add(1)))
}

fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time else {
        return true;
    };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    renewed
        .checked_add(duration)
        .map_or(true, |until| until <= now)
}

/// A released lease: no holder, so the next candidate need not wait for it to expire.
pub fn released(current: &LeaseSpec, identity: &str) -> Option<LeaseSpec> {
    (current.holder_identity.as_deref() == Some(identity)).then(|| LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        ..current.clone()
    })
}

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// kube-controller-manager's defaults: 15 s lease, 10 s renew deadline, 2 s retry.
    pub fn controller_manager(identity: String) -> Self {
        Self::kube_system("bulwark-controller-manager", identity)
    }

    /// kube-scheduler's lease, with the same defaults as the controller manager's.
    pub fn scheduler(identity: String) -> Self {
        Self::kube_system("bulwark-scheduler", identity)
    }

    fn kube_system(name: &str, identity: String) -> Self {
        Self {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The I/O shell around [`next_step`].
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderConfig,
    clock: Arc<dyn Clock>,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaderConfig, clock: Arc<dyn Clock>) -> Self {
        let api = Api::namespaced(client, &config.namespace);
        Self { api, config, clock }
    }

    /// One attempt to acquire or renew; Ok(true) when this candidate holds the lease now.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let current = self.api.get_opt(&self.config.name).await?;
        let now = self.clock.now();
        let step = next_step(
            current.as_ref().and_then(|lease| lease.spec.as_ref()),
            &self.config.identity,
            now,
            self.config.lease_duration,
        );
        let LeaseStep::Write(spec) = step else {
            return Ok(false);
        };
        let written = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
            Some(mut lease) => {
                lease.spec = Some(spec);
                // replace carries the resourceVersion we read: a concurrent writer makes this a 409.
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
        };
        match written {
            Ok(()) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Blocks until this candidate is the leader.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.name, "became leader");
                    return;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot read or write the leader lease"),
            }
            pause(self.config.retry_period).await;
        }
    }

    /// Renews while leading; returns when the lease could not be renewed within the renew deadline.
    pub async fn hold(&self) {
        let mut last_renewal = self.clock.now();
        loop {
            pause(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = self.clock.now(),
                Ok(false) => {
                    tracing::warn!("leader lease taken by another candidate");
                    return;
                }
                Err(error) => tracing::warn!(%error, "cannot renew the leader lease"),
            }
            let deadline =
                SignedDuration::try_from(self.config.renew_deadline).unwrap_or(SignedDuration::MAX);
            if self.clock.now().duration_since(last_renewal) > deadline {
                tracing::warn!("leader lease not renewed within the renew deadline");
                return;
            }
        }
    }

    /// Gives the lease up so another candidate can start at once.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let Some(spec) = lease
            .spec
            .as_ref()
            .and_then(|spec| released(spec, &self.config.identity))
        else {
            return;
        };
        lease.spec = Some(spec);
        if let Err(error) = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "cannot release the leader lease");
        }
    }
}

/// Runs `work` while this candidate holds the lease, until `shutdown` resolves: waits to become
/// leader, starts `work` with a stop signal, and signals it to stop when the lease is lost (then
/// stands by for the lease again) or on shutdown (then releases the lease so a standby can take
/// over at once). `work` must return soon after its stop signal.
pub async fn lead<Work, Running>(
    client: kube::Client,
    config: LeaderConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
    work: Work,
) where
    Work: Fn(super::StopSignal) -> Running,
    Running: std::future::Future<Output = ()> + Send + 'static,
{
    let name = config.name.clone();
    let elector = LeaderElector::new(client, config, clock);
    futures::pin_mut!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = elector.acquire() => {}
        }
        let (stop_sender, stop) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(work(stop));
        let shutting_down = tokio::select! {
            _ = &mut shutdown => true,
            _ = elector.hold() => false,
        };
        let _ = stop_sender.send(true);
        if let Err(error) = running.await {
            tracing::warn!(%error, lease = %name, "a leader's task failed");
        }
        if shutting_down {
            elector.release().await;
            return;
        }
        tracing::warn!(lease = %name, "lost the leader lease; stopped, standing by");
    }
}

#[allow(clippy::disallowed_methods)] // a shell's retry period, not a decision
async fn pause(period: Duration) {
    tokio::time::sleep(period).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LEASE: Duration = Duration::from_secs(15);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn held_by(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(at(renewed))),
            acquire_time: Some(MicroTime(at(renewed))),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn first_candidate_creates_the_lease() {
        let LeaseStep::Write(spec) = next_step(None, "a", at(0), LEASE) else {
            panic!()
        };
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn a_live_lease_is_not_taken() {
        let step = next_step(Some(&held_by("a", 0)), "b", at(14), LEASE);
        assert_eq!(step, LeaseStep::Wait { holder: "a".into() });
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_counts_a_transition() {
        let LeaseStep::Write(spec) = next_step(Some(&held_by("a", 0)), "b", at(15), LEASE) else {
            panic!()
        };
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(4));
    }

    #[test]
    fn the_holder_renews_keeping_its_acquire_time() {
        let LeaseStep::Write(spec) = next_step(Some(&held_by("a", 0)), "a", at(5), LEASE) else {
            panic!()
        };
        assert_eq!(spec.renew_time, Some(MicroTime(at(5))));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn a_released_lease_is_free_at_once() {
        let free = released(&held_by("a", 0), "a").unwrap();
        assert!(matches!(
            next_step(Some(&free), "b", at(1), LEASE),
            LeaseStep::Write(_)
        ));
        assert!(released(&held_by("a", 0), "b").is_none());
    }

    proptest! {
        /// Two candidates never both get a write from the same observed lease while it is live.
        #[test]
        fn at_most_one_holder(renewed in 0i64..100, now in 0i64..200) {
            let lease = held_by("a", renewed);
            let other = next_step(Some(&lease), "b", at(now), LEASE);
            let live = now < renewed + 15;
            prop_assert_eq!(matches!(other, LeaseStep::Wait { .. }), live);
        }
    }
}
