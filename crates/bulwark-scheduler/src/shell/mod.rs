//! The scheduler shell (DESIGN §1.3): watches the API, keeps the [`Snapshot`] current, runs the
//! pure core on one pod at a time and writes the outcome back through the API.
//!
//! One task owns all state ([`state::ClusterState`] and the [`queue::SchedulingQueue`]); watch
//! tasks feed it through a bounded channel and it drains whatever has arrived before each
//! decision, so bursts of watch events cost one batch, not one wake-up each. Bindings run
//! concurrently (bounded) after the pod is assumed in the snapshot, as upstream's binding cycle.
//!
//! [`Snapshot`]: crate::Snapshot

pub mod queue;
pub mod state;
pub mod writes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bulwark_core::clock::Clock;
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::pod_info::{PodInfo, PodKey};
use crate::preemption::preempt_diagnosed;
use crate::schedule::{Config, SchedulingState, schedule_pod_info};
use crate::snapshot::SpreadOwnerKind;
use queue::{MAX_UNSCHEDULABLE_STAY, SchedulingQueue};
use state::{Change, ClusterState, DEFAULT_SCHEDULER_NAME, Effects, OwnerSelector};
use writes::{EventType, Writer};

#[derive(Debug, Clone)]
pub struct Options {
    pub scheduler_name: String,
    pub config: Config,
    /// Seeds the tie-breaking between equally scored nodes.
    pub seed: u64,
    /// Pending pods held at most; more wait for the next relist (and a warning says so).
    pub queue_capacity: usize,
    /// Bindings in flight at once.
    pub max_in_flight_binds: usize,
    /// Watch events buffered between the watches and the scheduling loop.
    pub watch_buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            config: Config::default(),
            seed: 1,
            queue_capacity: 1_000_000,
            max_in_flight_binds: 256,
            watch_buffer: 16_384,
        }
    }
}

/// How often unschedulable pods are checked for the five-minute flush (upstream: 30 s).
const FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// The same explanation is not re-recorded more often than this.
const REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// Inputs applied in one batch before the loop schedules again.
const MAX_BATCH: usize = 4_096;
/// How long shutdown waits for bindings already sent.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One watch event on its way to the scheduling loop. Moved once, never stored in bulk, so
/// the pod variant's size costs nothing that boxing it would save.
#[allow(clippy::large_enum_variant)]
enum Input {
    Pod(Change<Pod>),
    Node(Change<Node>),
    PriorityClass(Change<PriorityClass>),
    Pdb(Change<PodDisruptionBudget>),
    Namespace(Change<Namespace>),
    Service(Change<Service>),
    Owner(SpreadOwnerKind, Change<OwnerSelector>),
    /// A watch finished its first complete list.
    Synced,
}

struct BindOutcome {
    key: PodKey,
    result: Result<(), kube::Error>,
}

/// Runs `default-scheduler` against the API `client` talks to, until `shutdown` completes.
pub async fn run(
    client: Client,
    clock: Arc<dyn Clock>,
    options: Options,
    shutdown: impl Future<Output = ()>,
) {
    let (inputs, input_rx) = mpsc::channel(options.watch_buffer.max(1));
    let watches = spawn_watches(&client, &inputs);
    let mut scheduler = Scheduler::new(client, clock, options, watches.len());
    scheduler.run(input_rx, shutdown).await;
    for watch in &watches {
        watch.abort();
    }
    scheduler.drain_bindings().await;
    tracing::info!("scheduler stopped");
}

fn spawn_watches(client: &Client, inputs: &mpsc::Sender<Input>) -> Vec<JoinHandle<()>> {
    let c = || client.clone();
    vec![
        spawn_watch(Api::<Pod>::all(c()), inputs.clone(), Input::Pod),
        spawn_watch(Api::<Node>::all(c()), inputs.clone(), Input::Node),
        spawn_watch(
            Api::<PriorityClass>::all(c()),
            inputs.clone(),
            Input::PriorityClass,
        ),
        spawn_watch(
            Api::<PodDisruptionBudget>::all(c()),
            inputs.clone(),
            Input::Pdb,
        ),
        spawn_watch(Api::<Namespace>::all(c()), inputs.clone(), Input::Namespace),
        spawn_watch(Api::<Service>::all(c()), inputs.clone(), Input::Service),
        spawn_watch(Api::<ReplicaSet>::all(c()), inputs.clone(), |change| {
            Input::Owner(
                SpreadOwnerKind::ReplicaSet,
                map_change(change, OwnerSelector::of_replica_set),
            )
        }),
        spawn_watch(Api::<StatefulSet>::all(c()), inputs.clone(), |change| {
            Input::Owner(
                SpreadOwnerKind::StatefulSet,
                map_change(change, OwnerSelector::of_stateful_set),
            )
        }),
        spawn_watch(
            Api::<ReplicationController>::all(c()),
            inputs.clone(),
            |change| {
                Input::Owner(
                    SpreadOwnerKind::ReplicationController,
                    map_change(change, OwnerSelector::of_replication_controller),
                )
            },
        ),
    ]
}

fn map_change<K, T>(change: Change<K>, convert: impl Fn(&K) -> T) -> Change<T> {
    match change {
        Change::Upsert(object) => Change::Upsert(convert(&object)),
        Change::Delete(object) => Change::Delete(convert(&object)),
        Change::RelistStarted => Change::RelistStarted,
        Change::RelistDone => Change::RelistDone,
    }
}

/// Watches one kind (relisting and retrying with kube's default backoff on errors) and feeds
/// its changes to the loop; the first complete list is announced with [`Input::Synced`].
fn spawn_watch<K>(
    api: Api<K>,
    inputs: mpsc::Sender<Input>,
    wrap: impl Fn(Change<K>) -> Input + Send + 'static,
) -> JoinHandle<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut synced = false;
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(event) => event,
                Err(error) if !synced && not_served(&error) => {
                    // Nothing of a kind the server does not serve exists, so its (empty) list
                    // is complete; the watch keeps retrying in case the kind appears.
                    tracing::debug!(
                        kind = std::any::type_name::<K>(),
                        "kind not served; treated as empty"
                    );
                    synced = true;
                    if inputs.send(Input::Synced).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(error) => {
                    if !not_served(&error) {
                        tracing::warn!(%error, kind = std::any::type_name::<K>(), "scheduler watch failed; retrying");
                    }
                    continue;
                }
            };
            let done = matches!(event, watcher::Event::InitDone);
            if inputs.send(wrap(Change::from_event(event))).await.is_err() {
                return;
            }
            if done && !synced {
                synced = true;
                if inputs.send(Input::Synced).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A list answered 404: the API server does not serve this kind.
fn not_served(error: &watcher::Error) -> bool {
    matches!(
        error,
        watcher::Error::InitialListFailed(kube::Error::Api(status)) if status.code == 404
    )
}

struct Scheduler {
    state: ClusterState,
    queue: SchedulingQueue,
    writer: Writer,
    clock: Arc<dyn Clock>,
    config: Config,
    rng: SchedulingState,
    binds: Arc<Semaphore>,
    max_binds: usize,
    outcomes: mpsc::UnboundedSender<BindOutcome>,
    outcome_rx: Option<mpsc::UnboundedReceiver<BindOutcome>>,
    /// Watches that have not finished their first list: no decision is made before they have.
    unsynced: usize,
    /// The last explanation recorded per unschedulable pod, and when.
    reported: std::collections::HashMap<PodKey, (String, Timestamp)>,
    last_flush: Timestamp,
}

impl Scheduler {
    fn new(client: Client, clock: Arc<dyn Clock>, options: Options, watches: usize) -> Self {
        let (outcomes, outcome_rx) = mpsc::unbounded_channel();
        let max_binds = options.max_in_flight_binds.max(1);
        Self {
            state: ClusterState::new(&options.scheduler_name),
            queue: SchedulingQueue::new(options.queue_capacity),
            writer: Writer::new(client, &options.scheduler_name, clock.clone()),
            last_flush: clock.now(),
            clock,
            config: options.config,
            rng: SchedulingState::new(options.seed),
            binds: Arc::new(Semaphore::new(max_binds)),
            max_binds,
            outcomes,
            outcome_rx: Some(outcome_rx),
            unsynced: watches,
            reported: std::collections::HashMap::new(),
        }
    }

    async fn run(&mut self, mut inputs: mpsc::Receiver<Input>, shutdown: impl Future<Output = ()>) {
        let Some(mut outcomes) = self.outcome_rx.take() else {
            return;
        };
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let mut applied = 0;
            while applied < MAX_BATCH {
                match inputs.try_recv() {
                    Ok(input) => self.apply(input),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
                applied += 1;
            }
            while let Ok(outcome) = outcomes.try_recv() {
                self.settle(outcome);
            }
            self.flush_if_due();
            if self.unsynced == 0 && self.schedule_next().await {
                tokio::task::yield_now().await;
                continue;
            }
            let wait = self.idle_wait();
            tokio::select! {
                _ = &mut shutdown => return,
                input = inputs.recv() => match input {
                    Some(input) => self.apply(input),
                    None => return,
                },
                Some(outcome) = outcomes.recv() => self.settle(outcome),
                _ = sleep(wait) => {}
            }
        }
    }

    /// How long nothing needs doing: until the next backoff expires or the next flush check.
    fn idle_wait(&self) -> Duration {
        let now = self.clock.now();
        let until_flush = FLUSH_INTERVAL;
        let until_backoff = self
            .queue
            .next_backoff_expiry()
            .map(|at| duration_between(now, at))
            .unwrap_or(until_flush);
        until_backoff.min(until_flush)
    }

    fn flush_if_due(&mut self) {
        let now = self.clock.now();
        if duration_between(self.last_flush, now) >= FLUSH_INTERVAL {
            self.last_flush = now;
            self.queue.flush_unschedulable(now, MAX_UNSCHEDULABLE_STAY);
        }
    }

    fn apply(&mut self, input: Input) {
        let effects = match input {
            Input::Pod(change) => self.state.on_pod(change),
            Input::Node(change) => self.state.on_node(change),
            Input::PriorityClass(change) => self.state.on_priority_class(change),
            Input::Pdb(change) => self.state.on_pdb(change),
            Input::Namespace(change) => self.state.on_namespace(change),
            Input::Service(change) => self.state.on_service(change),
            Input::Owner(kind, change) => self.state.on_owner(kind, change),
            Input::Synced => {
                self.unsynced = self.unsynced.saturating_sub(1);
                if self.unsynced == 0 {
                    tracing::info!(
                        nodes = self.state.snapshot.nodes().len(),
                        pending = self.queue.len(),
                        "scheduler caches synced"
                    );
                }
                Effects::default()
            }
        };
        self.enact(effects);
    }

    fn enact(&mut self, effects: Effects) {
        let now = self.clock.now();
        for key in &effects.removals {
            self.queue.remove(key);
            self.reported.remove(key);
        }
        for info in effects.upserts {
            if let Err(full) = self.queue.upsert(info, now) {
                tracing::warn!(%full, "pod not queued");
            }
        }
        if effects.move_all {
            self.queue.move_all_to_active(now);
        }
    }

    /// Takes one pod from the queue and decides it. False when there was none to take.
    async fn schedule_next(&mut self) -> bool {
        let now = self.clock.now();
        let Some(info) = self.queue.pop(now) else {
            return false;
        };
        if let Some(message) = self.priority_error(&info) {
            self.report_unschedulable(&info, message);
            self.queue.unschedulable(&info.key, now);
            return true;
        }
        match schedule_pod_info(&self.state.snapshot, &info, &self.config, &mut self.rng) {
            Ok(node) => self.bind(&info, node).await,
            Err(unschedulable) => self.after_failure(&info, unschedulable.to_string()),
        }
        true
    }

    /// The PriorityClass a pod names does not exist (and no admission resolved it).
    fn priority_error(&self, info: &PodInfo) -> Option<String> {
        let spec = info.pod.spec.as_ref()?;
        if spec.priority.is_some() {
            return None;
        }
        self.state
            .with_priority((*info.pod).clone())
            .err()
            .map(|error| error.to_string())
    }

    async fn bind(&mut self, info: &Arc<PodInfo>, node: String) {
        self.state.assume(info, &node);
        let Ok(permit) = self.binds.clone().acquire_owned().await else {
            return;
        };
        let writer = self.writer.clone();
        let outcomes = self.outcomes.clone();
        let pod = info.pod.clone();
        let key = info.key.clone();
        tokio::spawn(async move {
            let result = writer.bind(&pod, &node).await;
            let bound = result.is_ok();
            let _ = outcomes.send(BindOutcome { key, result });
            if bound {
                let message = format!(
                    "Successfully assigned {}/{} to {node}",
                    pod.metadata.namespace.as_deref().unwrap_or("default"),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                );
                writer
                    .event(&pod, EventType::Normal, "Scheduled", "Binding", &message)
                    .await;
            }
            drop(permit);
        });
    }

    fn settle(&mut self, outcome: BindOutcome) {
        let BindOutcome { key, result } = outcome;
        let Err(error) = result else {
            self.queue.remove(&key);
            self.reported.remove(&key);
            return;
        };
        self.state.forget(&key);
        if writes::is_final(&error) {
            tracing::debug!(%error, pod = %key, "binding not needed any more");
            self.queue.remove(&key);
        } else {
            tracing::warn!(%error, pod = %key, "binding failed; retrying after backoff");
            self.queue.retry_later(&key, self.clock.now());
        }
    }

    /// No node fits: try preemption, record why, and park the pod until something changes.
    fn after_failure(&mut self, info: &Arc<PodInfo>, fit_message: String) {
        let now = self.clock.now();
        self.state.refresh_pdbs();
        let outcome = preempt_diagnosed(&self.state.snapshot, info, self.state.pdbs());
        let message = match outcome {
            Ok(preemption) if preemption.victims.is_empty() => {
                // The pod fits after all (the snapshot moved on): try again soon.
                self.queue.retry_later(&info.key, now);
                return;
            }
            Ok(preemption) => {
                self.start_preemption(info, &preemption.node, &preemption.victims);
                fit_message
            }
            Err(no) => format!("{fit_message} {no}"),
        };
        self.report_unschedulable(info, message);
        self.queue.unschedulable(&info.key, now);
    }

    /// Nominates the node (in the snapshot at once, so that pods of lower priority cannot take
    /// the room being freed) and evicts the victims; their deletion moves the pod back to active.
    fn start_preemption(&mut self, info: &PodInfo, node: &str, victims: &[PodKey]) {
        self.state.snapshot.nominate(info, node);
        let victims: Vec<Arc<Pod>> = victims
            .iter()
            .filter_map(|key| {
                let node = self
                    .state
                    .snapshot
                    .node(self.state.snapshot.pod_node(key)?)?;
                node.pods()
                    .iter()
                    .find(|p| p.key == *key)
                    .map(|p| p.pod.clone())
            })
            .collect();
        tracing::info!(pod = %info.key, node, victims = victims.len(), "preempting");
        let writer = self.writer.clone();
        let preemptor = info.pod.clone();
        let node = node.to_string();
        tokio::spawn(async move {
            if let Err(error) = writer.nominate(&preemptor, &node).await {
                tracing::warn!(%error, "cannot set nominatedNodeName");
            }
            for victim in victims {
                if let Err(error) = writer.evict_victim(&victim, &preemptor, &node).await {
                    tracing::warn!(%error, victim = ?victim.metadata.name, "cannot preempt");
                }
            }
        });
    }

    /// `PodScheduled=False` and a `FailedScheduling` event, unless the same explanation was
    /// recorded within the last minute (every retry would otherwise write twice).
    fn report_unschedulable(&mut self, info: &PodInfo, message: String) {
        let now = self.clock.now();
        let fresh = self.reported.get(&info.key).is_some_and(|(last, at)| {
            *last == message && duration_between(*at, now) < REPORT_INTERVAL
        });
        if fresh {
            return;
        }
        tracing::debug!(pod = %info.key, %message, "unschedulable");
        self.reported
            .insert(info.key.clone(), (message.clone(), now));
        let writer = self.writer.clone();
        let pod = info.pod.clone();
        tokio::spawn(async move {
            match writer.mark_unschedulable(&pod, &message).await {
                Ok(()) => {}
                // The pod changed since it was considered; its update queues it again.
                Err(kube::Error::Api(status)) if status.code == 409 => return,
                Err(error) => {
                    tracing::warn!(%error, pod = ?pod.metadata.name, "cannot set PodScheduled=False")
                }
            }
            writer
                .event(
                    &pod,
                    EventType::Warning,
                    "FailedScheduling",
                    "Scheduling",
                    &message,
                )
                .await;
        });
    }

    /// Waits (bounded) for bindings already sent to finish.
    async fn drain_bindings(&self) {
        let all = u32::try_from(self.max_binds).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.binds.acquire_many(all)).await;
    }
}

fn duration_between(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

/// The shell's one sleep: waiting for the next backoff expiry or flush check, a span computed
/// from the Clock. Decisions never sleep.
#[allow(clippy::disallowed_methods)]
async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}
