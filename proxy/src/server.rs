//! The binary's application: the proxy nested at `/api/terra`, `/healthz`, request logs, the
//! sandbox when there are no credentials, and the demo's static files when configured.

use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::sandbox::{self, SandboxHandle, SandboxOptions, WebhookTarget};
use crate::webhook::WebhookEvent;
use crate::WidgetApi;
use crate::{logging, ProxyBuilder};
use std::net::SocketAddr;

/// Where the binary mounts the proxy routes: the browser's `proxyUrl`.
pub const API_PREFIX: &str = "/api/terra";

/// Builds the binary's router from `config`. Without credentials it first starts the
/// sandbox on its own loopback port and points the proxy's Terra client at it.
///
/// `listening` is where the binary listens: the sandbox sends its webhooks there.
pub async fn app(config: &Config, listening: SocketAddr) -> std::io::Result<(Router, Option<SandboxHandle>)> {
    let webhook_secret = match (&config.webhook_secret, &config.credentials) {
        (Some(secret), _) => Some(secret.0.clone().into_bytes()),
        (None, None) => Some(uuid::Uuid::new_v4().simple().to_string().into_bytes()),
        (None, Some(_)) => None,
    };
    let (api_base, credentials, sandbox) = match &config.credentials {
        Some(credentials) => (config.api_base.clone(), credentials.clone(), None),
        None => {
            let host =
                if listening.ip().is_unspecified() { "127.0.0.1".to_owned() } else { listening.ip().to_string() };
            let target = webhook_secret.clone().map(|secret| WebhookTarget {
                url: format!("http://{host}:{}{API_PREFIX}/webhook", listening.port()),
                secret,
            });
            let options =
                SandboxOptions { coop: config.sandbox_coop, webhook: target, widget_ttl: config.sandbox_widget_ttl };
            let sandbox = sandbox::spawn_with(options).await?;
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
    builder = builder.widget_api(match (&sandbox, config.widget_legacy) {
        (_, true) => WidgetApi::Legacy,
        (Some(sandbox), false) => WidgetApi::Current(format!("http://{}/widget/api/session", sandbox.addr)),
        (None, false) => WidgetApi::Current(config.widget_url.clone()),
    });
    if let Some(secret) = webhook_secret {
        builder = builder.webhooks(secret, log_event);
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

/// The binary's webhook callback: one log line per verified event (ids only, no payload).
fn log_event(event: WebhookEvent) {
    match event {
        WebhookEvent::AuthSuccess { user, .. } => tracing::info!(
            user_id = user.user_id,
            provider = user.provider,
            reference_id = user.reference_id,
            "webhook: auth success"
        ),
        WebhookEvent::AuthFailed { reason, reference_id } => {
            tracing::info!(reason, reference_id, "webhook: auth failed")
        }
        WebhookEvent::Other { event_type, .. } => tracing::info!(event_type, "webhook: other event"),
        other => tracing::info!(event = ?other, "webhook"),
    }
}
