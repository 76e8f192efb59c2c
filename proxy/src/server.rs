//! The binary's application: the proxy nested at `/api/terra`, `/healthz`, request logs, the
//! sandbox when there are no credentials, and the demo's static files when configured.

use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::sandbox::{self, SandboxHandle};
use crate::{logging, ProxyBuilder};

/// Where the binary mounts the proxy routes: the browser's `proxyUrl`.
pub const API_PREFIX: &str = "/api/terra";

/// Builds the binary's router from `config`. Without credentials it first starts the
/// sandbox on its own loopback port and points the proxy's Terra client at it.
pub async fn app(config: &Config) -> std::io::Result<(Router, Option<SandboxHandle>)> {
    let (api_base, credentials, sandbox) = match &config.credentials {
        Some(credentials) => (config.api_base.clone(), credentials.clone(), None),
        None => {
            let sandbox = sandbox::spawn(config.sandbox_coop).await?;
            (sandbox.api_base.clone(), sandbox.credentials.clone(), Some(sandbox))
        }
    };
    let mut builder = ProxyBuilder::new(api_base, credentials)
        .upstream_timeout(config.upstream_timeout)
        .allow_loopback_http(sandbox.is_some())
        .cors_origins(config.cors_origins.clone());
    if let Some(origins) = &config.allowed_redirects {
        builder = builder.allowed_redirect_origins(origins.clone());
    }
    if let Some(resources) = &config.allowed_resources {
        builder = builder.allowed_resources(resources.clone());
    }
    if let Some(per_minute) = config.rate_limit {
        builder = builder.rate_limit(per_minute);
    }
    let mode = if sandbox.is_some() { "sandbox" } else { "terra" };
    let health = move || async move { Json(serde_json::json!({ "status": "ok", "mode": mode })) };
    let mut app = Router::new().route("/healthz", get(health));
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
    let app = app.layer(middleware::from_fn(logging::log_request)).nest(API_PREFIX, builder.build());
    Ok((app, sandbox))
}
