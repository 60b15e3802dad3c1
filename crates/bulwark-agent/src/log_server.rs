//! The agent's HTTP log endpoint, the kubelet's `GET /containerLogs/{namespace}/{pod}/{container}`,
//! which the API server's `pods/log` proxies to.
//!
//! A shell module: it serves HTTP, turns `sinceSeconds` into a time with the real clock and
//! polls files while following, hence the allowance below.
//!
//! - Query parameters as the kubelet reads them (`PodLogOptions`): `follow`, `previous`,
//!   `timestamps` (false only for `0`, `f`, `false`), `tailLines` (or the legacy `tail`, `all`
//!   meaning every line), `sinceSeconds`, `sinceTime` (RFC 3339), `limitBytes`. A value that does
//!   not parse or is out of range is a 400 whose text names the parameter.
//! - Which file to read is the [`LogLocator`]'s answer (the agent knows its pods); its
//!   [`LogLookupError`]s become 404 and 400 with its message as the body.
//! - The body is the log as `kubectl logs` prints it ([`crate::logs::read_log`]), streamed in
//!   chunks through a bounded channel, so memory stays bounded however long the log is and a
//!   slow client slows the reader down instead of filling memory.
//! - With `follow` the stream goes on ([`crate::logs::LogFollower`], across rotations) until the
//!   instance stops running (the locator is asked again whenever no new output came), its
//!   `limitBytes` is used up, or the client goes away.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::logs::{LogFollower, LogQuery, read_log};

/// How often a follower looks for new output when there was none.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Bytes gathered before a chunk is sent; with [`CHANNEL_CHUNKS`] this bounds what one request
/// holds in memory.
const CHUNK_BYTES: usize = 32 * 1024;
const CHANNEL_CHUNKS: usize = 4;

/// Where one container instance's log is, as the agent knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLocation {
    /// The container's log directory ([`crate::logs::container_log_dir`]).
    pub dir: PathBuf,
    /// The instance whose log to read (current or previous).
    pub attempt: u32,
    /// Whether that instance is still running; following ends when it is not.
    pub running: bool,
}

/// Why a log cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogLookupError {
    /// No such pod or container on this node: 404.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked (no previous instance, not started yet): 400.
    #[error("{0}")]
    BadRequest(String),
}

/// Finds containers' logs for the endpoint.
pub trait LogLocator: Send + Sync + 'static {
    /// `container` is always given (the API server resolves the default).
    fn locate(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogLocation, LogLookupError>;
}

/// The log endpoint: `GET /containerLogs/{namespace}/{pod}/{container}`.
pub fn router(locator: Arc<dyn LogLocator>) -> Router {
    Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .with_state(locator)
}

/// Serves [`router`] on `listener` until the task is dropped or the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    locator: Arc<dyn LogLocator>,
) -> io::Result<()> {
    axum::serve(listener, router(locator)).await
}

/// The options of one log request, as the kubelet decodes `PodLogOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub query: LogQuery,
}

impl LogOptions {
    /// Parses the query string; `now` turns `sinceSeconds` into a time.
    pub fn parse(raw: Option<&str>, now: Timestamp) -> Result<Self, String> {
        let params: HashMap<String, String> = raw
            .map(|raw| {
                url::form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let get = |name: &str| params.get(name).map(String::as_str);
        let tail_lines = match get("tail") {
            Some("all") => None,
            Some(tail) => Some(tail),
            None => get("tailLines"),
        };
        let since_seconds = integer("sinceSeconds", get("sinceSeconds"), 1)?;
        let since_time = get("sinceTime")
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.parse::<Timestamp>()
                    .map_err(|_| format!("invalid sinceTime {text:?}: not an RFC 3339 time"))
            })
            .transpose()?;
        let since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err("at most one of `sinceTime` or `sinceSeconds` may be specified".into());
            }
            (Some(seconds), None) => Some(seconds_before(now, seconds)),
            (None, time) => time,
        };
        Ok(Self {
            follow: flag(get("follow")),
            previous: flag(get("previous")),
            query: LogQuery {
                tail_lines: integer("tailLines", tail_lines, 0)?,
                since,
                limit_bytes: integer("limitBytes", get("limitBytes"), 1)?,
                timestamps: flag(get("timestamps")),
            },
        })
    }
}

/// Upstream's query-parameter booleans: absent, `0`, `f` and `false` (any case) are false;
/// anything else, a bare `?follow` included, is true.
fn flag(value: Option<&str>) -> bool {
    match value {
        None => false,
        Some(text) => {
            !(text == "0" || text.eq_ignore_ascii_case("f") || text.eq_ignore_ascii_case("false"))
        }
    }
}

/// An integer parameter that must be at least `minimum` (as `PodLogOptions` validation says).
fn integer(name: &str, value: Option<&str>, minimum: i64) -> Result<Option<u64>, String> {
    let Some(text) = value.filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let number: i64 = text
        .parse()
        .map_err(|_| format!("invalid {name} {text:?}: not an integer"))?;
    if number < minimum {
        let bound = if minimum == 0 {
            "must be greater than or equal to 0"
        } else {
            "must be greater than 0"
        };
        return Err(format!("{name}: Invalid value: {number}: {bound}"));
    }
    Ok(Some(number.unsigned_abs()))
}

fn seconds_before(now: Timestamp, seconds: u64) -> Timestamp {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    let earliest = now.as_second().saturating_sub(seconds);
    Timestamp::from_second(earliest).unwrap_or(Timestamp::MIN)
}

async fn container_logs(
    State(locator): State<Arc<dyn LogLocator>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let options = match LogOptions::parse(raw.as_deref(), Timestamp::now()) {
        Ok(options) => options,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let request = LogRequest {
        namespace,
        pod,
        container,
        options,
    };
    let location = match request.locate(locator.as_ref()) {
        Ok(location) => location,
        Err(LogLookupError::NotFound(message)) => return text(StatusCode::NOT_FOUND, message),
        Err(LogLookupError::BadRequest(message)) => {
            return text(StatusCode::BAD_REQUEST, message);
        }
    };
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(sender);
        if let Err(error) = request.stream(locator.as_ref(), &location, &mut out) {
            out.fail(error);
        }
    });
    let mut response = Body::from_stream(ReceiverStream::new(receiver)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

fn text(status: StatusCode, message: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], message).into_response()
}

/// One log request, resolved from the URL and query.
struct LogRequest {
    namespace: String,
    pod: String,
    container: String,
    options: LogOptions,
}

impl LogRequest {
    fn locate(&self, locator: &dyn LogLocator) -> Result<LogLocation, LogLookupError> {
        locator.locate(
            &self.namespace,
            &self.pod,
            &self.container,
            self.options.previous,
        )
    }

    /// Writes the log, then (with `follow`) what is appended until the instance stops.
    fn stream(
        &self,
        locator: &dyn LogLocator,
        location: &LogLocation,
        out: &mut ChunkWriter,
    ) -> io::Result<()> {
        let path = crate::logs::instance_log_path(&location.dir, location.attempt);
        let query = self.options.query;
        let cursor = read_log(&path, &query, out)?;
        out.flush()?;
        if !self.options.follow {
            return Ok(());
        }
        let mut follower = LogFollower::new(cursor, &query)?;
        while !follower.exhausted() && !out.is_closed() {
            if follower.poll(out)? > 0 {
                out.flush()?;
                continue;
            }
            if !self.still_running(locator, location) {
                // Output written just before the instance stopped is still to come.
                follower.poll(out)?;
                return out.flush();
            }
            std::thread::sleep(FOLLOW_POLL);
        }
        Ok(())
    }

    /// Whether the instance being followed is still the one running.
    fn still_running(&self, locator: &dyn LogLocator, following: &LogLocation) -> bool {
        match self.locate(locator) {
            Ok(now) => now.running && now.attempt == following.attempt && now.dir == following.dir,
            Err(_) => false,
        }
    }
}

/// Gathers output into chunks and hands them to the response body through a bounded channel
/// (blocking while the client is slow). A write after the client went away fails, which ends
/// the read.
struct ChunkWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn new(sender: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self {
            sender,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        }
    }

    fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Ends the body with an error so the client sees a broken stream, not a clean end.
    fn fail(mut self, error: io::Error) {
        let _ = self.flush();
        let _ = self.sender.blocking_send(Err(error));
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

#[cfg(test)]
#[path = "log_server_tests.rs"]
mod tests;
