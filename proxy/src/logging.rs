//! One structured log line per request: method, path (never the query), status, latency and,
//! for forwarded requests, Terra's status. Credentials are never logged.

use std::time::Instant;

use axum::extract::{OriginalUri, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Terra's HTTP status for a forwarded request, carried on the response for the log line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UpstreamStatus(pub(crate) u16);

/// The request-log middleware (`axum::middleware::from_fn(log_request)`): one line per
/// request with method, path (never the query), status, latency and Terra's status.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Inside a nested router the URI is relative to the mount point; log the full path.
    let path = match request.extensions().get::<OriginalUri>() {
        Some(original) => original.path().to_owned(),
        None => request.uri().path().to_owned(),
    };
    let response = next.run(request).await;
    let upstream = response.extensions().get::<UpstreamStatus>().map(|u| u.0);
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        upstream_status = upstream,
        "request"
    );
    response
}
