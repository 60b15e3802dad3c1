//! The HTTP shell: one axum fallback handler that reads the request, routes it, and renders
//! the handler's answer or its `metav1.Status` error.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bulwark_core::ApiError;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use crate::ApiServer;
use crate::handlers;
use crate::request::{Query, route};

/// Upstream's limit on request bodies.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What a handler produces.
pub enum Reply {
    Json {
        status: StatusCode,
        body: Value,
        warnings: Vec<String>,
    },
    /// Bytes already serialised (cached OpenAPI documents, large lists).
    RawJson {
        status: StatusCode,
        body: Bytes,
    },
    Text {
        status: StatusCode,
        body: String,
    },
    /// A chunked stream of newline-delimited JSON watch events.
    Stream(Body),
    /// A chunked stream of plain text (`pods/log`).
    TextStream(Body),
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self::Json {
            status: StatusCode::OK,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn created(body: Value) -> Self {
        Self::Json {
            status: StatusCode::CREATED,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn with_warnings(mut self, extra: Vec<String>) -> Self {
        if let Self::Json { warnings, .. } = &mut self {
            warnings.extend(extra);
        }
        self
    }
}

/// Everything a handler may read from the request.
pub struct Incoming {
    pub method: Method,
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

pub fn router(server: Arc<ApiServer>) -> Router {
    Router::new().fallback(serve_request).with_state(server)
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<ApiServer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(Arc::clone(&server));
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        server.begin_shutdown();
        let _ = signalled.send(());
    };
    let graceful = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    // Watches end at once on shutdown, but a client may hold a stream open (a log follow
    // through the proxy): give in-flight requests a bounded drain, then stop regardless.
    let drain_expired = async {
        if on_signal.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_DRAIN).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = graceful => served,
        () = drain_expired => {
            tracing::warn!(drain = ?SHUTDOWN_DRAIN, "requests still open after the shutdown drain; stopping anyway");
            Ok(())
        }
    }
}

/// How long in-flight requests may run on after a shutdown signal.
pub const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve_request(State(server): State<Arc<ApiServer>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(&ApiError::too_large(format!(
                "the request body exceeds the limit of {MAX_BODY_BYTES} bytes"
            )));
        }
    };
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body,
    };
    let answer = match route(&incoming.path) {
        Ok(route) => handlers::dispatch(&server, route, &incoming).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(reply) => render(reply),
        Err(error) => {
            if error.code >= 500 {
                tracing::warn!(method = %incoming.method, path = %incoming.path, %error, "request failed");
            }
            error_response(&error)
        }
    }
}

fn render(reply: Reply) -> Response {
    match reply {
        Reply::Json {
            status,
            body,
            warnings,
        } => {
            let bytes = serde_json::to_vec(&body).expect("JSON values always serialise");
            let mut response = json_bytes(status, bytes.into());
            add_warnings(response.headers_mut(), &warnings);
            response
        }
        Reply::RawJson { status, body } => json_bytes(status, body),
        Reply::Text { status, body } => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response(),
        Reply::TextStream(body) => {
            let mut response = Response::new(body);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        Reply::Stream(body) => {
            let mut response = Response::new(body);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
            response
        }
    }
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Warnings travel as RFC 7234 `Warning: 299 - "text"` headers, which kubectl prints.
fn add_warnings(headers: &mut HeaderMap, warnings: &[String]) {
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            headers.append(header::WARNING, value);
        }
    }
}

pub fn error_response(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = serde_json::to_vec(&error.to_status()).expect("a Status always serialises");
    let mut response = json_bytes(status, bytes.into());
    if let Some(seconds) = error.retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
