//! The node's side of the heartbeat: registration, the pod CIDR the control plane assigns, the
//! Lease renewed every `renew_interval`, and node status posted when it changes and at least
//! every `report_interval`.

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::clock::Clock;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::ipam::Ipv4Cidr;
use crate::node::{self, NodeConfig, NodeHealth};

/// How often the node checks whether its status changed.
pub const STATUS_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Retry pause after a failed call.
const RETRY: Duration = Duration::from_millis(500);

/// Creates the Node, or takes over an existing one of the same name (an agent restart), and
/// posts its status. Retries until the API server answers.
pub async fn register(
    client: &kube::Client,
    config: &NodeConfig,
    health: &NodeHealth,
    clock: &dyn Clock,
) -> NodeStatus {
    let api: Api<Node> = Api::all(client.clone());
    loop {
        match try_register(&api, config, health, clock).await {
            Ok(status) => return status,
            Err(error) => {
                tracing::warn!(%error, node = %config.name, "cannot register the node; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

async fn try_register(
    api: &Api<Node>,
    config: &NodeConfig,
    health: &NodeHealth,
    clock: &dyn Clock,
) -> Result<NodeStatus, kube::Error> {
    let wanted = node::registration(config, health, clock.now());
    match api.create(&PostParams::default(), &wanted).await {
        Ok(_) => {}
        Err(kube::Error::Api(response)) if response.code == 409 => {
            let labels = serde_json::json!({"metadata": {"labels": node::labels(config)}});
            api.patch(
                &config.name,
                &PatchParams::default(),
                &Patch::Merge(&labels),
            )
            .await?;
        }
        Err(error) => return Err(error),
    }
    let previous = api.get_status(&config.name).await?.status;
    let status = node::status(config, health, previous.as_ref(), clock.now());
    post_status(api, &config.name, &status).await?;
    Ok(status)
}

async fn post_status(api: &Api<Node>, name: &str, status: &NodeStatus) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"status": status});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

/// Waits until the control plane has assigned the node its `spec.podCIDR`.
pub async fn wait_for_pod_cidr(client: &kube::Client, name: &str) -> Ipv4Cidr {
    let api: Api<Node> = Api::all(client.clone());
    let mut pause = Duration::from_millis(50);
    let mut warned = false;
    loop {
        match api.get(name).await {
            Ok(node) => {
                let cidr = node.spec.and_then(|spec| spec.pod_cidr);
                match cidr.as_deref().map(str::parse::<Ipv4Cidr>) {
                    Some(Ok(cidr)) => return cidr,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "the node's podCIDR cannot be used")
                    }
                    None => {}
                }
            }
            Err(error) => tracing::debug!(%error, "cannot read the node"),
        }
        if pause >= Duration::from_secs(2) && !warned {
            warned = true;
            tracing::info!(
                node = name,
                "waiting for the control plane to assign a podCIDR"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Renews the node's Lease forever.
pub async fn run_lease(
    client: kube::Client,
    name: String,
    timing: crate::profile::LeaseTiming,
    clock: Arc<dyn Clock>,
) {
    let api: Api<Lease> = Api::namespaced(client, node::LEASE_NAMESPACE);
    let duration = i32::try_from(timing.duration.as_secs()).unwrap_or(i32::MAX);
    let mut held: Option<Lease> = None;
    let mut ticker = tokio::time::interval(timing.renew_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        held = match renew(&api, &name, held.take(), duration, clock.now()).await {
            Ok(lease) => Some(lease),
            Err(error) => {
                tracing::debug!(%error, node = %name, "cannot renew the node lease");
                None
            }
        };
    }
}

async fn renew(
    api: &Api<Lease>,
    name: &str,
    held: Option<Lease>,
    duration: i32,
    now: jiff::Timestamp,
) -> Result<Lease, kube::Error> {
    let current = match held {
        Some(lease) => lease,
        None => match api.get_opt(name).await? {
            Some(lease) => lease,
            None => {
                return api
                    .create(&PostParams::default(), &node::lease(name, duration, now))
                    .await;
            }
        },
    };
    let mut next = current;
    let spec = next.spec.get_or_insert_with(Default::default);
    spec.holder_identity = Some(name.to_string());
    spec.lease_duration_seconds = Some(duration);
    spec.renew_time = Some(MicroTime(now));
    api.replace(name, &PostParams::default(), &next).await
}

/// Posts node status when it differs from the stored one (checked every
/// [`STATUS_CHECK_INTERVAL`]; another writer, such as the node lifecycle controller marking the
/// node unreachable, counts as a difference) and at least every `report_interval`.
pub async fn run_status(
    client: kube::Client,
    config: NodeConfig,
    health: impl Fn() -> NodeHealth + Send + 'static,
    report_interval: Duration,
    clock: Arc<dyn Clock>,
) {
    let api: Api<Node> = Api::all(client);
    let mut last_post = clock.now();
    loop {
        tokio::time::sleep(STATUS_CHECK_INTERVAL).await;
        let stored = match api.get_status(&config.name).await {
            Ok(node) => node.status,
            Err(error) => {
                tracing::debug!(%error, "cannot read node status");
                continue;
            }
        };
        let now = clock.now();
        let status = node::status(&config, &health(), stored.as_ref(), now);
        let due = crate::timing::elapsed(last_post, now) >= report_interval;
        if !due && !node::status_changed(stored.as_ref(), &status) {
            continue;
        }
        match post_status(&api, &config.name, &status).await {
            Ok(()) => last_post = now,
            Err(error) => tracing::debug!(%error, "cannot post node status"),
        }
    }
}
