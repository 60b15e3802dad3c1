//! Runs one probe attempt for real: `httpGet`, `tcpSocket` and `exec` (the kubelet's
//! `pkg/probe`), reporting a [`ProbeResult`] for [`crate::probe::ContainerProbes::record`].
//!
//! A shell module: it opens sockets, spawns processes and bounds them by the real clock (the
//! attempt's timeout), hence the allowance below.
//!
//! Behaviour, as upstream:
//! - `httpGet`: `GET scheme://host:port/path` with `User-Agent: kube-probe/<minor>` and
//!   `Accept: */*` unless `httpHeaders` set them (a `Host` header sets the request's host).
//!   200–399 is success. Redirects to the same host are followed (at most 10); a redirect to
//!   another host is not followed and counts as success ("Probe terminated redirects").
//!   Anything else fails with `HTTP probe failed with statuscode: N`.
//! - `tcpSocket`: the probe passes if a connection opens.
//! - `exec`: the command runs on the host with the container's environment and working
//!   directory, in its own process group; stdout and stderr are captured together (at most
//!   [`MAX_OUTPUT_BYTES`]); exit code 0 passes. At the timeout the whole group is killed and the
//!   probe fails with `command "…" timed out`.
//! - Network and timeout errors are failures (upstream turns them into failures to catch
//!   timeouts); a probe that cannot be run at all (unknown named port, no handler, empty
//!   command, a `grpc` or `HTTPS` probe this agent does not speak yet) is a [`ProbeResult::Error`].
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, ExecAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::probe::ProbeResult;

/// Output of an exec probe kept for the event message (upstream's `maxReadLength`, 10 KiB).
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024;

/// Same-host redirects followed before an HTTP probe gives up (Go's client default).
const MAX_REDIRECTS: usize = 10;

/// The `User-Agent` probes send: `kube-probe/<major>.<minor>` of the Kubernetes we speak.
const USER_AGENT: &str = "kube-probe/1.33";

/// What a probe runs against: the container (for named ports) and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTarget<'a> {
    /// Named ports resolve against its `ports`.
    pub container: &'a Container,
    /// The default host for `httpGet` and `tcpSocket`.
    pub pod_ip: &'a str,
    /// The container's resolved environment, for `exec`.
    pub env: &'a [(String, String)],
    pub working_dir: Option<&'a Path>,
}

/// Runs one attempt of `probe` against `target`, giving up after `timeout`.
pub async fn run_probe(probe: &Probe, target: &ProbeTarget<'_>, timeout: Duration) -> ProbeResult {
    let deadline = Instant::now() + timeout;
    if let Some(action) = &probe.exec {
        run_exec(action, target, deadline).await
    } else if let Some(action) = &probe.http_get {
        run_http_get(action, target, deadline).await
    } else if let Some(action) = &probe.tcp_socket {
        run_tcp_socket(action, target, deadline).await
    } else if probe.grpc.is_some() {
        ProbeResult::Error(
            "gRPC probes are not supported by this agent yet: use httpGet, tcpSocket or exec"
                .to_string(),
        )
    } else {
        ProbeResult::Error(format!(
            "missing probe handler for container {}",
            target.container.name
        ))
    }
}

/// A probe's port: a number, or the name of one of the container's ports (upstream's
/// `ResolveContainerPort`, including its fallback of a number written as a string).
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(number) => i64::from(*number),
        IntOrString::String(name) => match named_port(container, name) {
            Some(number) => i64::from(number),
            None => name
                .parse::<i64>()
                .map_err(|_| format!("port {name} not found in container {}", container.name))?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|port| *port > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

fn named_port(container: &Container, name: &str) -> Option<i32> {
    container
        .ports
        .iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some(name))
        .map(|port| port.container_port)
}

/// `host:port` for dialing, with brackets around an IPv6 host.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn run_tcp_socket(
    action: &TCPSocketAction,
    target: &ProbeTarget<'_>,
    deadline: Instant,
) -> ProbeResult {
    let port = match resolve_port(&action.port, target.container) {
        Ok(port) => port,
        Err(message) => return ProbeResult::Error(message),
    };
    let host = action
        .host
        .as_deref()
        .filter(|host| !host.is_empty())
        .unwrap_or(target.pod_ip);
    let address = host_port(host, port);
    match dial(&address, deadline).await {
        Ok(_) => ProbeResult::Success,
        Err(message) => ProbeResult::Failure(message),
    }
}

/// Opens a TCP connection by `deadline`; errors read as Go's dialer writes them.
async fn dial(address: &str, deadline: Instant) -> Result<TcpStream, String> {
    match timeout_at(deadline, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(format!(
            "dial tcp {address}: connect: {}",
            os_message(&error)
        )),
        Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
    }
}

/// An I/O error as Go prints a syscall error: `connection refused`, not
/// `Connection refused (os error 111)`.
fn os_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn run_http_get(
    action: &HTTPGetAction,
    target: &ProbeTarget<'_>,
    deadline: Instant,
) -> ProbeResult {
    let request = match HttpProbeRequest::new(action, target) {
        Ok(request) => request,
        Err(result) => return result,
    };
    let mut url = request.url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let shown = url.to_string();
        let answer = match timeout_at(deadline, request.send(&url, deadline)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(message)) => return ProbeResult::Failure(format!("Get {shown:?}: {message}")),
            Err(_) => {
                return ProbeResult::Failure(format!(
                    "Get {shown:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                ));
            }
        };
        match answer.follow(&url) {
            Some(next) if next.host_str() == request.url.host_str() => url = next,
            // Redirects to another host are not followed; the 3xx itself passes.
            Some(_) => return ProbeResult::Success,
            None if (200..400).contains(&answer.status) => return ProbeResult::Success,
            None => {
                return ProbeResult::Failure(format!(
                    "HTTP probe failed with statuscode: {}",
                    answer.status
                ));
            }
        }
    }
    ProbeResult::Failure(format!(
        "Get {:?}: stopped after {MAX_REDIRECTS} redirects",
        url.to_string()
    ))
}

/// An `httpGet` probe resolved into a URL and headers.
struct HttpProbeRequest {
    url: url::Url,
    headers: Vec<(String, String)>,
    /// The `Host` header asked for, if any; else the URL's authority.
    host_header: Option<String>,
}

/// What an HTTP probe needs of a response.
struct HttpAnswer {
    status: u16,
    location: Option<String>,
}

impl HttpAnswer {
    /// The URL a redirect points to, when this is a redirect Go's client follows.
    fn follow(&self, from: &url::Url) -> Option<url::Url> {
        if !matches!(self.status, 301 | 302 | 303 | 307 | 308) {
            return None;
        }
        from.join(self.location.as_deref()?).ok()
    }
}

impl HttpProbeRequest {
    fn new(action: &HTTPGetAction, target: &ProbeTarget<'_>) -> Result<Self, ProbeResult> {
        let port = resolve_port(&action.port, target.container).map_err(ProbeResult::Error)?;
        let scheme = action.scheme.as_deref().unwrap_or("HTTP");
        if !scheme.eq_ignore_ascii_case("HTTP") {
            return Err(ProbeResult::Error(format!(
                "scheme {scheme} is not supported by this agent's HTTP probes yet: use HTTP"
            )));
        }
        let host = action
            .host
            .as_deref()
            .filter(|host| !host.is_empty())
            .unwrap_or(target.pod_ip);
        let path = action.path.as_deref().unwrap_or("");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let text = format!("http://{}{path}", host_port(host, port));
        let url = url::Url::parse(&text)
            .map_err(|error| ProbeResult::Error(format!("invalid probe URL {text:?}: {error}")))?;
        let mut headers = Vec::new();
        let mut host_header = None;
        for header in action.http_headers.iter().flatten() {
            if header.name.eq_ignore_ascii_case("host") {
                host_header = Some(header.value.clone());
            } else {
                headers.push((header.name.clone(), header.value.clone()));
            }
        }
        for (name, value) in [("User-Agent", USER_AGENT), ("Accept", "*/*")] {
            if !headers
                .iter()
                .any(|(given, _)| given.eq_ignore_ascii_case(name))
            {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        Ok(Self {
            url,
            headers,
            host_header,
        })
    }

    /// One GET of `url` over a fresh connection; the body is not read (the status decides).
    async fn send(&self, url: &url::Url, deadline: Instant) -> Result<HttpAnswer, String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let stream = dial(&host_port(host, port), deadline).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
        let connection = tokio::spawn(connection);
        let request = self.build(url)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| error.to_string());
        connection.abort();
        let response = response?;
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        Ok(HttpAnswer {
            status: response.status().as_u16(),
            location,
        })
    }

    fn build(&self, url: &url::Url) -> Result<http::Request<Empty<Bytes>>, String> {
        let mut target = url.path().to_string();
        if let Some(query) = url.query() {
            let _ = write!(target, "?{query}");
        }
        let authority = match (&self.host_header, url.port()) {
            (Some(host), _) => host.clone(),
            (None, Some(port)) => host_port(url.host_str().unwrap_or_default(), port),
            (None, None) => url.host_str().unwrap_or_default().to_string(),
        };
        let mut builder = http::Request::get(target).header(http::header::HOST, authority);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Empty::new())
            .map_err(|error| format!("invalid probe request: {error}"))
    }
}

async fn run_exec(action: &ExecAction, target: &ProbeTarget<'_>, deadline: Instant) -> ProbeResult {
    let command = action.command.as_deref().unwrap_or_default();
    let Some((program, args)) = command.split_first() else {
        return ProbeResult::Error("exec probe has no command".to_string());
    };
    let shown = command.join(" ");
    let (reader, writer) = match output_pipe() {
        Ok(pipe) => pipe,
        Err(error) => return ProbeResult::Error(format!("exec probe: creating a pipe: {error}")),
    };
    let mut builder = tokio::process::Command::new(program);
    builder
        .args(args)
        .env_clear()
        .envs(target.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = target.working_dir {
        builder.current_dir(dir);
    }
    match writer.try_clone() {
        Ok(copy) => builder
            .stdout(Stdio::from(copy))
            .stderr(Stdio::from(writer)),
        Err(error) => {
            return ProbeResult::Error(format!("exec probe: duplicating a pipe: {error}"));
        }
    };
    let child = match builder.spawn() {
        Ok(child) => child,
        Err(error) => return ProbeResult::Failure(spawn_failure(program, &error)),
    };
    // The command holds the parent's copies of the write end; dropping it leaves the child
    // (and what it starts) as the only writers, so the read below sees EOF when they are done.
    drop(builder);
    wait_for_exec(child, reader, &shown, deadline).await
}

/// A pipe whose write end becomes the probe's stdout and stderr (one stream, as upstream
/// captures them). Close-on-exec so concurrently spawned processes do not inherit it.
fn output_pipe() -> std::io::Result<(tokio::net::unix::pipe::Receiver, OwnedFd)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
    Ok((reader, write))
}

fn spawn_failure(program: &str, error: &std::io::Error) -> String {
    // As Go's os/exec says it: a bare name is looked up in $PATH, a path is run as it is.
    if error.kind() == std::io::ErrorKind::NotFound && !program.contains('/') {
        format!("exec: {program:?}: executable file not found in $PATH")
    } else {
        format!("fork/exec {program}: {}", os_message(error))
    }
}

async fn wait_for_exec(
    mut child: tokio::process::Child,
    mut reader: tokio::net::unix::pipe::Receiver,
    shown: &str,
    deadline: Instant,
) -> ProbeResult {
    let group = child.id();
    let mut output = BoundedOutput::default();
    let finished = timeout_at(deadline, async {
        let (status, ()) = tokio::join!(child.wait(), output.read_all(&mut reader));
        status
    })
    .await;
    let status = match finished {
        Ok(status) => status,
        Err(_) => {
            // Still running, or exited leaving something behind that holds its output open:
            // either way the group is still there (its id cannot have been reused), so kill
            // all of it. A command that had exited before the kill is judged by its exit code.
            let exited_before = child.try_wait();
            kill_group(group);
            match exited_before {
                Ok(Some(status)) => Ok(status),
                _ => {
                    let _ = child.wait().await;
                    return ProbeResult::Failure(format!("command {shown:?} timed out"));
                }
            }
        }
    };
    match status {
        Ok(status) => exit_result(status, output.text(), shown),
        Err(error) => ProbeResult::Error(format!("exec probe: waiting for {shown:?}: {error}")),
    }
}

fn kill_group(leader: Option<u32>) {
    let group = leader
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

fn exit_result(status: std::process::ExitStatus, output: String, shown: &str) -> ProbeResult {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return ProbeResult::Success;
    }
    if !output.is_empty() {
        return ProbeResult::Failure(output);
    }
    // Upstream reports the (empty) output; say what happened instead of nothing.
    match (status.code(), status.signal()) {
        (Some(code), _) => {
            ProbeResult::Failure(format!("command {shown:?} exited with code {code}"))
        }
        (None, Some(signal)) => {
            ProbeResult::Failure(format!("command {shown:?} was killed by signal {signal}"))
        }
        (None, None) => ProbeResult::Failure(format!("command {shown:?} failed")),
    }
}

/// The first [`MAX_OUTPUT_BYTES`] of a stream; the rest is read and dropped so the writer
/// never blocks on a full pipe.
#[derive(Default)]
struct BoundedOutput {
    kept: Vec<u8>,
}

impl BoundedOutput {
    async fn read_all(&mut self, reader: &mut tokio::net::unix::pipe::Receiver) {
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    let room = MAX_OUTPUT_BYTES.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&chunk[..read.min(room)]);
                }
            }
        }
    }

    fn text(self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

#[cfg(test)]
#[path = "probe_exec_tests.rs"]
mod tests;
