//! The binary's application: the proxy nested at `/api/terra`, `/healthz`, request logs, the
//! sandbox when there are no credentials, and the demo's static files when configured.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use axum::http::{HeaderName, HeaderValue};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::sandbox::{self, SandboxHandle};
use crate::ProxyBuilder;

/// Where the binary mounts the proxy routes: the browser's `proxyUrl`.
pub const API_PREFIX: &str = "/api/terra";

/// Builds the binary's router from `config`. Without credentials it first starts the
/// sandbox on its own loopback port and points the proxy's Terra client at it.
pub async fn app(config: &Config) -> std::io::Result<(Router, Option<SandboxHandle>)> {
    let (api_base, credentials, sandbox) = match &config.credentials {
        Some(credentials) => (config.api_base.clone(), credentials.clone(), None),
        None => {
            let sandbox = sandbox::spawn(config.sandbox_coop).await?;
            (
                sandbox.api_base.clone(),
                sandbox.credentials.clone(),
                Some(sandbox),
            )
        }
    };
    let proxy = ProxyBuilder::new(api_base, credentials)
        .upstream_timeout(config.upstream_timeout)
        .allow_loopback_http(sandbox.is_some())
        .cors_origins(config.cors_origins.clone())
        .build();
    let mut app = Router::new().nest(API_PREFIX, proxy).route(
        "/healthz",
        get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
    );
    if let Some(pkg) = &config.pkg_dir {
        app = app.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(www) = &config.www_dir {
        let www = Router::new().fallback_service(ServeDir::new(www));
        app = app.merge(if config.www_coop {
            www.layer(SetResponseHeaderLayer::overriding(
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ))
        } else {
            www
        });
    }
    Ok((app.layer(middleware::from_fn(log_request)), sandbox))
}

/// One log line per request: method, path (never the query), status, latency.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
