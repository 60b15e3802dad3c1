//! The node agent (Bulwark's kubelet), starting with its pure decision cores.
//!
//! Every module here except [`demo`] is pure in the DESIGN §1.3 sense: a function of
//! (desired, observed, now) returning decisions, with time passed in as a value and no I/O.
//! The crate's `clippy.toml` bans wall-clock reads and sleeps; [`demo`], the `bulwark/demo`
//! HTTP service, is the one shell module and says so where it opts out.
//!
//! - [`backoff`]: CrashLoopBackOff delays per container.
//! - [`cgroups`]: per-pod and per-container cgroups (v1 or v2) with limits and accounting
//!   (a shell module: `/sys/fs/cgroup`).
//! - [`demo`]: the `bulwark/demo` HTTP service (a shell module: sockets and real time).
//! - [`env`]: a container's environment, `$(VAR)` expansion, command and args.
//! - [`images`]: the image catalog that maps image names to programs.
//! - [`ipam`]: pod CIDRs for nodes and pod addresses within a node.
//! - [`logs`]: container logs in the CRI format, rotated, and read back for `kubectl logs`
//!   (file I/O).
//! - [`log_server`]: the agent's HTTP log endpoint, `GET /containerLogs/…`, which the API
//!   server's `pods/log` proxies to (a shell module: HTTP and real time).
//! - [`probe`]: startup, readiness and liveness probe state per container.
//! - [`probe_exec`]: one probe attempt run for real, httpGet / tcpSocket / exec (a shell module).
//! - [`restart`]: what to start next when containers exit, per `restartPolicy`.
//! - [`runtime`]: the [`runtime::Runtime`] trait, real process groups ([`runtime::ProcessRuntime`],
//!   a shell module) and in-memory containers on a virtual clock ([`runtime::SimulatedRuntime`]).
//! - [`status`]: a Pod's `status` computed from its containers, as the kubelet reports it.
//! - [`profile`]: the clock settings of the default and fast profiles (DESIGN §7).

pub mod agent;
pub mod backoff;
pub mod cgroups;
pub mod demo;
pub mod env;
pub mod images;
pub mod ipam;
pub mod launch;
pub mod log_server;
pub mod logs;
pub mod node;
pub mod pod_worker;
pub mod probe;
pub mod probe_exec;
pub mod profile;
pub mod restart;
pub mod runtime;
pub mod status;
mod text;
mod timing;
