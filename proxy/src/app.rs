//! The binary's application: the proxy nested at `/api/terra`, `/healthz`, request logs, the
//! sandbox when there are no credentials, and the demo's static files when configured (both
//! need the `sandbox` feature).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use terra_connect_proxy::webhook::WebhookEvent;
use terra_connect_proxy::{log_request, Credentials, ProxyBuilder, Store, WidgetApi};

use crate::cli::Config;

/// Where the binary mounts the proxy routes: the browser's `proxyUrl`.
pub const API_PREFIX: &str = "/api/terra";

/// What the binary runs against.
pub struct Mode {
    /// The sandbox's API base, when the binary started one.
    pub sandbox_api_base: Option<String>,
    /// Whether `POST /webhook` is on.
    pub webhooks: bool,
}

/// Builds the binary's router from `config`. Without credentials it first starts the
/// sandbox on its own loopback port and points the proxy's Terra client at it.
///
/// `listening` is where the binary listens: the sandbox sends its webhooks there.
pub async fn app(config: &Config, listening: SocketAddr) -> Result<(Router, Mode), String> {
    let webhook_secret = match (&config.webhook_secret, &config.credentials) {
        (Some(secret), _) => Some(secret.0.clone().into_bytes()),
        (None, None) => Some(uuid::Uuid::new_v4().simple().to_string().into_bytes()),
        (None, Some(_)) => None,
    };
    let (api_base, credentials, sandbox_api_base) = match &config.credentials {
        Some(credentials) => {
            if sandbox_settings_given(config) {
                tracing::warn!(
                    "TERRA_SANDBOX_* settings are ignored: TERRA_DEV_ID / TERRA_API_KEY are set (real Terra)"
                );
            }
            (config.api_base.clone(), credentials.clone(), None)
        }
        None => start_sandbox(config, listening, webhook_secret.clone()).await?,
    };
    let sandbox = sandbox_api_base.is_some();
    let mut builder = ProxyBuilder::new(api_base, credentials)
        .upstream_timeout(config.upstream_timeout)
        .allow_loopback_http(sandbox)
        .cors_origins(config.cors_origins.clone())
        .trusted_proxies(config.trusted_proxies.clone());
    if let Some(origins) = &config.allowed_redirects {
        builder = builder.allowed_redirect_origins(origins.clone());
    }
    if let Some(resources) = &config.allowed_resources {
        builder = builder.allowed_resources(resources.clone());
    }
    if let Some(per_minute) = config.rate_limit {
        builder = builder.rate_limit(per_minute);
    }
    builder = builder.widget_api(match (config.widget_legacy, &config.widget_url) {
        (true, _) => WidgetApi::Legacy,
        (false, Some(url)) => WidgetApi::Url(url.clone()),
        (false, None) => WidgetApi::Current,
    });
    let webhooks = webhook_secret.is_some();
    if let Some(secret) = webhook_secret {
        builder = builder.webhooks(secret, log_event);
        if let Some(url) = &config.webhook_forward_url {
            builder = builder.webhook_forward(url.clone());
        }
    }
    match &config.redis_url {
        Some(url) => builder = builder.store(open_redis(url, &config.redis_prefix).await?),
        None => tracing::info!(
            "shared state in this process's memory (one instance); set TERRA_CONNECT_REDIS_URL to run several"
        ),
    }
    let store: Arc<dyn Store> = builder.shared_store();
    let mode = if sandbox { "sandbox" } else { "terra" };
    let health = move || {
        let store = store.clone();
        async move {
            match store.ping().await {
                Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "status": "ok", "mode": mode }))).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "healthz: the store did not answer");
                    let body = serde_json::json!({ "status": "degraded", "store": "unreachable", "mode": mode });
                    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
                }
            }
        }
    };
    let app = static_files(config, Router::new().route("/healthz", get(health)))?;
    let app = app.layer(middleware::from_fn(log_request)).nest(API_PREFIX, builder.build());
    Ok((app, Mode { sandbox_api_base, webhooks }))
}

/// The Redis store of `TERRA_CONNECT_REDIS_URL`. Start-up does not wait for Redis: while it
/// does not answer, the routes that need it answer 503 and `/healthz` says degraded.
#[cfg(feature = "redis")]
async fn open_redis(url: &crate::cli::Secret, prefix: &str) -> Result<Arc<dyn Store>, String> {
    use terra_connect_proxy::store::redis::{RedisConfig, RedisStore};
    let store = RedisStore::open(RedisConfig::new(url.0.clone()).prefix(prefix))
        .map_err(|e| format!("TERRA_CONNECT_REDIS_URL: {e}"))?;
    match store.ready(std::time::Duration::from_secs(2)).await {
        Ok(()) => tracing::info!(prefix, "shared state in Redis"),
        Err(e) => tracing::warn!(
            error = %e,
            "Redis does not answer yet: webhooks and confirmations answer 503 until it does"
        ),
    }
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_: &crate::cli::Secret, _: &str) -> Result<Arc<dyn Store>, String> {
    Err("TERRA_CONNECT_REDIS_URL needs the `redis` feature".into())
}

/// Whether any sandbox-only setting differs from its default.
fn sandbox_settings_given(config: &Config) -> bool {
    config.sandbox_dev_id.is_some()
        || config.sandbox_api_key.is_some()
        || config.sandbox_webhook_url.is_some()
        || config.sandbox_addr != SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Starts the sandbox on `TERRA_SANDBOX_ADDR` with `TERRA_SANDBOX_DEV_ID` / `_API_KEY` (each
/// random when unset); it signs its webhooks with `secret` and sends them to
/// `TERRA_SANDBOX_WEBHOOK_URL`, by default this binary's own webhook route. Logs the API
/// base, never the credentials (the dev id is a credential too).
#[cfg(feature = "sandbox")]
async fn start_sandbox(
    config: &Config,
    listening: SocketAddr,
    secret: Option<Vec<u8>>,
) -> Result<(String, Credentials, Option<String>), String> {
    use terra_connect_proxy::sandbox::{self, SandboxOptions, WebhookTarget};
    let host = if listening.ip().is_unspecified() { "127.0.0.1".to_owned() } else { listening.ip().to_string() };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    let url = match &config.sandbox_webhook_url {
        Some(url) => url.clone(),
        None => format!("http://{host}:{}{API_PREFIX}/webhook", listening.port()),
    };
    let target = secret.map(|secret| WebhookTarget { url, secret });
    let random = || uuid::Uuid::new_v4().simple().to_string();
    let given = config.sandbox_dev_id.is_some() || config.sandbox_api_key.is_some();
    let credentials = Credentials {
        dev_id: config.sandbox_dev_id.as_ref().map_or_else(|| format!("sandbox-{}", random()), |s| s.0.clone()),
        api_key: config.sandbox_api_key.as_ref().map_or_else(random, |s| s.0.clone()),
    };
    let options = SandboxOptions {
        coop: config.sandbox_coop,
        webhook: target,
        widget_ttl: config.sandbox_widget_ttl,
        addr: config.sandbox_addr,
        credentials: Some(credentials),
    };
    let sandbox = sandbox::spawn_with(options).await.map_err(|e| {
        format!("could not start the Terra sandbox on {} (TERRA_SANDBOX_ADDR): {e}", config.sandbox_addr)
    })?;
    let credentials_are = if given {
        "the dev id and API key of TERRA_SANDBOX_DEV_ID / TERRA_SANDBOX_API_KEY (random where unset)"
    } else {
        "a random dev id and API key (set TERRA_SANDBOX_DEV_ID / TERRA_SANDBOX_API_KEY to call it yourself)"
    };
    tracing::info!("sandbox API: {} (it accepts {credentials_are})", sandbox.api_base);
    Ok((sandbox.api_base.clone(), sandbox.credentials.clone(), Some(sandbox.api_base)))
}

#[cfg(not(feature = "sandbox"))]
async fn start_sandbox(
    _: &Config,
    _: SocketAddr,
    _: Option<Vec<u8>>,
) -> Result<(String, Credentials, Option<String>), String> {
    Err("TERRA_DEV_ID and TERRA_API_KEY are required: this build has no sandbox (feature `sandbox`)".into())
}

#[cfg(feature = "sandbox")]
fn static_files(config: &Config, mut app: Router) -> Result<Router, String> {
    use axum::http::{HeaderName, HeaderValue};
    use tower_http::services::ServeDir;
    use tower_http::set_header::SetResponseHeaderLayer;
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
    Ok(app.layer(middleware::from_fn(crate::static_guard::guard)))
}

#[cfg(not(feature = "sandbox"))]
fn static_files(config: &Config, app: Router) -> Result<Router, String> {
    if config.www_dir.is_some() || config.pkg_dir.is_some() {
        return Err("TERRA_CONNECT_WWW_DIR / TERRA_CONNECT_PKG_DIR need the `sandbox` feature".into());
    }
    Ok(app)
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
        WebhookEvent::UserReauth { old_user, new_user } => tracing::info!(
            old_user_id = old_user.map(|u| u.user_id),
            new_user_id = new_user.user_id,
            "webhook: user re-authenticated (old user id forgotten)"
        ),
        WebhookEvent::Deauth { user } => tracing::info!(user_id = user.user_id, "webhook: deauth (user id forgotten)"),
        WebhookEvent::AccessRevoked { user } => {
            tracing::info!(user_id = user.user_id, "webhook: access revoked (user id forgotten)")
        }
        WebhookEvent::Other { event_type, .. } => tracing::info!(event_type, "webhook: other event"),
        other => tracing::info!(event = ?other, "webhook"),
    }
}
