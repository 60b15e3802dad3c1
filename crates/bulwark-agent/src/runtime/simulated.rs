//! [`SimulatedRuntime`]: containers that exist only in memory, on a clock the caller owns
//! (a `ManualClock` in the simulator, the system clock in fake nodes). Nothing runs and nothing
//! sleeps: each container's next transition is computed when it starts or is stopped, and
//! [`SimulatedRuntime::advance`] applies every transition due at the clock's time. Reads apply
//! them too, so what a caller sees is always the state at `clock.now()`.
//!
//! Behaviour is configurable per container name ([`SimulatedBehaviour`]): start delay with
//! jitter, a start failure rate, a natural exit after a run time with a chosen code (or an OOM
//! kill), and how long the container takes to honour SIGTERM. Randomness comes from a seed, so
//! a run replays exactly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bulwark_core::clock::Clock;
use jiff::Timestamp;
use tokio::sync::watch;

use super::{
    ContainerInfo, ContainerKey, ContainerSpec, ContainerState, Exit, Result, Runtime,
    RuntimeError, signal_exit_code,
};
use crate::timing;

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// How simulated containers behave.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedBehaviour {
    /// From `start` to running.
    pub start_delay: Duration,
    /// Up to this much more, drawn uniformly per start.
    pub start_jitter: Duration,
    /// The chance (0…1) that a start fails outright.
    pub start_failure_rate: f64,
    /// Exits by itself this long after it started running; `None` runs until stopped.
    pub run_for: Option<Duration>,
    /// The code of that natural exit.
    pub exit_code: i32,
    /// The natural exit is an OOM kill (code 137).
    pub oom_killed: bool,
    /// How long it takes to exit after SIGTERM; past the grace period it is SIGKILLed.
    pub stop_delay: Duration,
}

impl Default for SimulatedBehaviour {
    /// Starts at once, runs until stopped, stops at once.
    fn default() -> Self {
        Self {
            start_delay: Duration::ZERO,
            start_jitter: Duration::ZERO,
            start_failure_rate: 0.0,
            run_for: None,
            exit_code: 0,
            oom_killed: false,
            stop_delay: Duration::ZERO,
        }
    }
}

/// In-memory containers; see the module docs.
pub struct SimulatedRuntime {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    changes: watch::Sender<u64>,
}

struct State {
    default: SimulatedBehaviour,
    by_container: BTreeMap<String, SimulatedBehaviour>,
    random: u64,
    entries: BTreeMap<ContainerKey, Simulated>,
}

struct Simulated {
    info: ContainerInfo,
    /// When a `Starting` container runs.
    runs_at: Timestamp,
    /// The exit it is headed for, if any, and when.
    exit: Option<Exit>,
}

impl SimulatedRuntime {
    pub fn new(clock: Arc<dyn Clock>, behaviour: SimulatedBehaviour, seed: u64) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            clock,
            state: Mutex::new(State {
                default: behaviour,
                by_container: BTreeMap::new(),
                random: seed,
                entries: BTreeMap::new(),
            }),
            changes,
        }
    }

    /// Containers named `container` (in any pod) behave this way from their next start.
    pub fn set_behaviour(&self, container: &str, behaviour: SimulatedBehaviour) {
        self.lock()
            .by_container
            .insert(container.to_string(), behaviour);
    }

    /// Applies every transition due by the clock's time; true if anything changed.
    pub fn advance(&self) -> bool {
        let now = self.clock.now();
        let mut changed = false;
        for entry in self.lock().entries.values_mut() {
            // Every entry advances: no short-circuit.
            changed |= entry.advance(now);
        }
        if changed {
            self.changes.send_modify(|generation| *generation += 1);
        }
        changed
    }

    /// When the next transition is due, for a driver that sleeps until then.
    pub fn next_transition_at(&self) -> Option<Timestamp> {
        self.lock()
            .entries
            .values()
            .filter_map(Simulated::next_transition)
            .min()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Updates are single assignments, so a poisoned state is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }
}

impl Simulated {
    fn next_transition(&self) -> Option<Timestamp> {
        match self.info.state {
            ContainerState::Starting => Some(self.runs_at),
            ContainerState::Running | ContainerState::Stopping { .. } => {
                self.exit.as_ref().map(|exit| exit.finished_at)
            }
            ContainerState::Exited(_) => None,
        }
    }

    fn advance(&mut self, now: Timestamp) -> bool {
        let mut changed = false;
        if self.info.state == ContainerState::Starting && self.runs_at <= now {
            self.info.state = ContainerState::Running;
            self.info.started_at = self.runs_at;
            changed = true;
        }
        let due = self.info.state != ContainerState::Starting
            && self
                .exit
                .as_ref()
                .is_some_and(|exit| exit.finished_at <= now);
        if due && let Some(exit) = self.exit.take() {
            self.info.state = ContainerState::Exited(exit);
            changed = true;
        }
        changed
    }
}

impl State {
    fn behaviour(&self, container: &str) -> SimulatedBehaviour {
        self.by_container
            .get(container)
            .unwrap_or(&self.default)
            .clone()
    }

    /// splitmix64, as a number in [0, 1).
    fn draw(&mut self) -> f64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1_u64 << 53) as f64
    }
}

impl Runtime for SimulatedRuntime {
    fn start(&self, spec: ContainerSpec) -> Result<ContainerInfo> {
        let now = self.clock.now();
        let info = {
            let mut state = self.lock();
            if state.entries.contains_key(&spec.key) {
                return Err(RuntimeError::AlreadyExists(spec.key.container_id()));
            }
            let behaviour = state.behaviour(&spec.key.container);
            if state.draw() < behaviour.start_failure_rate {
                return Err(RuntimeError::Simulated(format!(
                    "simulated start failure of {}",
                    spec.key.container_id()
                )));
            }
            let jitter = behaviour.start_jitter.mul_f64(state.draw());
            let runs_at = timing::add(now, behaviour.start_delay + jitter);
            let exit = behaviour.run_for.map(|run_for| Exit {
                exit_code: if behaviour.oom_killed {
                    signal_exit_code(SIGKILL)
                } else {
                    behaviour.exit_code
                },
                signal: behaviour.oom_killed.then_some(SIGKILL),
                oom_killed: behaviour.oom_killed,
                finished_at: timing::add(runs_at, run_for),
                code_known: true,
            });
            let info = ContainerInfo {
                key: spec.key.clone(),
                pid: None,
                started_at: runs_at,
                state: ContainerState::Starting,
                adopted: false,
            };
            let mut entry = Simulated {
                info,
                runs_at,
                exit,
            };
            entry.advance(now);
            let info = entry.info.clone();
            state.entries.insert(spec.key, entry);
            info
        };
        self.bump();
        Ok(info)
    }

    fn stop(&self, key: &ContainerKey, grace: Duration) -> Result<()> {
        let now = self.clock.now();
        {
            let mut state = self.lock();
            let behaviour = state.behaviour(&key.container);
            let entry = state
                .entries
                .get_mut(key)
                .ok_or_else(|| RuntimeError::NotFound(key.container_id()))?;
            entry.advance(now);
            let kill_at = timing::add(now, grace);
            let (finished_at, signal) = match entry.info.state {
                ContainerState::Exited(_) => return Ok(()),
                // Never ran: nothing to signal, it simply does not start.
                ContainerState::Starting => (now, SIGKILL),
                _ if behaviour.stop_delay < grace => {
                    (timing::add(now, behaviour.stop_delay), SIGTERM)
                }
                _ => (kill_at, SIGKILL),
            };
            let sooner = entry
                .exit
                .as_ref()
                .is_none_or(|exit| finished_at < exit.finished_at);
            if sooner {
                entry.exit = Some(Exit {
                    exit_code: signal_exit_code(signal),
                    signal: Some(signal),
                    oom_killed: false,
                    finished_at,
                    code_known: true,
                });
            }
            if entry.info.state == ContainerState::Starting {
                entry.info.state = ContainerState::Running;
            }
            entry.info.state = ContainerState::Stopping { kill_at };
            entry.advance(now);
        }
        self.bump();
        Ok(())
    }

    fn containers(&self) -> Vec<ContainerInfo> {
        self.advance();
        self.lock()
            .entries
            .values()
            .map(|entry| entry.info.clone())
            .collect()
    }

    fn remove_pod(&self, pod_uid: &str) -> Result<()> {
        self.lock().entries.retain(|key, _| key.pod_uid != pod_uid);
        self.bump();
        Ok(())
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::ResourceLimits;
    use bulwark_core::clock::ManualClock;
    use std::path::PathBuf;

    fn spec(pod: &str, container: &str) -> ContainerSpec {
        ContainerSpec {
            key: ContainerKey::new(pod, container, 0),
            program: PathBuf::from("/bin/true"),
            arg0: "true".into(),
            args: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            log_path: PathBuf::from("/dev/null"),
            limits: ResourceLimits::default(),
            mounts: Vec::new(),
        }
    }

    fn setup(behaviour: SimulatedBehaviour) -> (Arc<ManualClock>, SimulatedRuntime) {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let runtime = SimulatedRuntime::new(clock.clone(), behaviour, 7);
        (clock, runtime)
    }

    fn state_of(runtime: &SimulatedRuntime, key: &ContainerKey) -> ContainerState {
        runtime
            .containers()
            .into_iter()
            .find(|info| &info.key == key)
            .expect("known")
            .state
    }

    #[test]
    fn containers_run_after_the_start_delay_and_exit_after_their_run_time() {
        let (clock, runtime) = setup(SimulatedBehaviour {
            start_delay: Duration::from_secs(2),
            run_for: Some(Duration::from_secs(5)),
            exit_code: 3,
            ..SimulatedBehaviour::default()
        });
        let key = runtime.start(spec("p", "app")).expect("start").key;
        assert_eq!(state_of(&runtime, &key), ContainerState::Starting);
        assert_eq!(
            runtime.next_transition_at(),
            Some(timing::add(Timestamp::UNIX_EPOCH, Duration::from_secs(2)))
        );
        clock.advance(Duration::from_secs(2));
        assert!(runtime.advance());
        assert_eq!(state_of(&runtime, &key), ContainerState::Running);
        clock.advance(Duration::from_secs(5));
        let ContainerState::Exited(exit) = state_of(&runtime, &key) else {
            panic!("exited after its run time");
        };
        assert_eq!(exit.exit_code, 3);
        assert_eq!(
            exit.finished_at,
            timing::add(Timestamp::UNIX_EPOCH, Duration::from_secs(7))
        );
    }

    #[test]
    fn stop_honours_sigterm_within_grace_else_kills_at_grace() {
        let (clock, runtime) = setup(SimulatedBehaviour::default());
        runtime.set_behaviour(
            "slow",
            SimulatedBehaviour {
                stop_delay: Duration::from_secs(60),
                ..SimulatedBehaviour::default()
            },
        );
        let quick = runtime.start(spec("p", "quick")).expect("start").key;
        let slow = runtime.start(spec("p", "slow")).expect("start").key;
        runtime
            .kill_pod("p", Duration::from_secs(30))
            .expect("kill");
        let ContainerState::Exited(exit) = state_of(&runtime, &quick) else {
            panic!("a prompt container exits at SIGTERM");
        };
        assert_eq!((exit.exit_code, exit.signal), (143, Some(SIGTERM)));
        assert!(matches!(
            state_of(&runtime, &slow),
            ContainerState::Stopping { .. }
        ));
        clock.advance(Duration::from_secs(30));
        let ContainerState::Exited(exit) = state_of(&runtime, &slow) else {
            panic!("killed at the end of the grace period");
        };
        assert_eq!((exit.exit_code, exit.signal), (137, Some(SIGKILL)));
    }

    #[test]
    fn failures_oom_and_duplicates_are_reported() {
        let (_clock, runtime) = setup(SimulatedBehaviour {
            start_failure_rate: 1.0,
            ..SimulatedBehaviour::default()
        });
        assert!(matches!(
            runtime.start(spec("p", "app")),
            Err(RuntimeError::Simulated(_))
        ));
        runtime.set_behaviour(
            "hog",
            SimulatedBehaviour {
                run_for: Some(Duration::ZERO),
                oom_killed: true,
                ..SimulatedBehaviour::default()
            },
        );
        let hog = runtime.start(spec("p", "hog")).expect("start").key;
        let ContainerState::Exited(exit) = state_of(&runtime, &hog) else {
            panic!("exits at once");
        };
        assert!(exit.oom_killed);
        assert_eq!(exit.exit_code, 137);
        assert!(matches!(
            runtime.start(spec("p", "hog")),
            Err(RuntimeError::AlreadyExists(_))
        ));
        runtime.remove_pod("p").expect("remove");
        assert!(runtime.containers().is_empty());
    }

    #[test]
    fn the_same_seed_replays_the_same_jitter() {
        let starts = |seed| {
            let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
            let behaviour = SimulatedBehaviour {
                start_jitter: Duration::from_secs(10),
                ..SimulatedBehaviour::default()
            };
            let runtime = SimulatedRuntime::new(clock, behaviour, seed);
            (0..5)
                .map(|n| {
                    let info = runtime.start(spec(&format!("p{n}"), "app")).expect("start");
                    info.started_at
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(starts(1), starts(1));
        assert_ne!(starts(1), starts(2));
    }
}
