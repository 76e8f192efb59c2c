//! # terra-connect-proxy
//!
//! The backend half of terra-connect: it holds Terra's developer id and API key, checks what
//! the browser sends, and forwards Terra's manual-connection request. It is a library first
//! (an [`axum::Router`] a Rust backend mounts under any prefix) and a binary second
//! (`terra-connect-proxy`, configured by environment, see README).
//!
//! ```no_run
//! use std::time::Duration;
//! use terra_connect_proxy::{Credentials, ProxyBuilder};
//!
//! # async fn run() {
//! let terra = ProxyBuilder::new(
//!     "https://access.tryterra.co/api/v2",
//!     Credentials { dev_id: "my-dev-id".into(), api_key: "my-api-key".into() },
//! )
//! .upstream_timeout(Duration::from_secs(10))
//! .build();
//! let app = axum::Router::new().nest("/api/terra", terra);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! With no credentials the binary starts the built-in [`sandbox`], a local stand-in for
//! Terra's API and a provider's consent page, so demos and tests run offline.

#![warn(missing_docs)]

pub mod auth_events;
pub mod config;
pub mod error;
pub mod logging;
pub mod rate_limit;
pub mod resources;
pub mod routes;
pub mod sandbox;
pub mod server;
pub mod store;
pub mod terra;
pub mod validate;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use crate::config::{Config, Credentials};
pub use crate::error::ApiError;
use crate::rate_limit::RateLimiter;
use crate::resources::Resources;
use crate::terra::TerraClient;
pub use crate::terra::WidgetApi;
use crate::validate::RedirectPolicy;

/// The largest webhook body accepted, in bytes (Terra's data events can be large).
pub const WEBHOOK_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What a reference-id hook returns: the app's id for the signed-in user, or an error answer
/// (e.g. 401 when nobody is signed in).
pub type ReferenceIdFuture = Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send>>;
type ReferenceIdHook = Arc<dyn Fn(&Parts) -> ReferenceIdFuture + Send + Sync>;

/// Shared state of the proxy routes.
pub struct ProxyState {
    terra: TerraClient,
    policy: RedirectPolicy,
    resources: Resources,
    reference_id: Option<ReferenceIdHook>,
    widget_api: WidgetApi,
    /// `None` when webhooks are not configured.
    auth_events: Option<Arc<auth_events::AuthEvents>>,
}

/// Builds the proxy's [`Router`]: `POST /auth/authenticateUser?resource=X`,
/// `POST /widget/session`, `GET /connection?user_id=…` and, with [`ProxyBuilder::webhooks`], `POST /webhook`.
///
/// Mount it under any prefix with [`Router::nest`]; the browser's `proxyUrl` is that prefix.
pub struct ProxyBuilder {
    api_base: String,
    credentials: Credentials,
    upstream_timeout: Duration,
    policy: RedirectPolicy,
    cors_origins: Vec<String>,
    allowed_resources: Option<Vec<String>>,
    rate_limit: Option<u32>,
    reference_id: Option<ReferenceIdHook>,
    webhooks: Option<(Vec<u8>, routes::webhook::WebhookCallback)>,
    widget_api: WidgetApi,
}

impl std::fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("api_base", &self.api_base)
            .field("credentials", &self.credentials)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("policy", &self.policy)
            .field("cors_origins", &self.cors_origins)
            .field("allowed_resources", &self.allowed_resources)
            .field("rate_limit", &self.rate_limit)
            .field("reference_id_hook", &self.reference_id.is_some())
            .field("webhooks", &self.webhooks.is_some())
            .finish()
    }
}

impl ProxyBuilder {
    /// A proxy that forwards to `api_base` with `credentials`.
    pub fn new(api_base: impl Into<String>, credentials: Credentials) -> Self {
        ProxyBuilder {
            api_base: api_base.into(),
            credentials,
            upstream_timeout: config::DEFAULT_UPSTREAM_TIMEOUT,
            policy: RedirectPolicy::default(),
            cors_origins: Vec::new(),
            allowed_resources: None,
            rate_limit: None,
            reference_id: None,
            webhooks: None,
            widget_api: WidgetApi::Current(terra::DEFAULT_WIDGET_URL.to_owned()),
        }
    }

    /// Which widget-session API `POST /widget/session` calls (default: Terra's current
    /// endpoint; [`WidgetApi::Legacy`] for `{base}/auth/generateWidgetSession`).
    pub fn widget_api(mut self, api: WidgetApi) -> Self {
        self.widget_api = api;
        self
    }

    /// Accepts Terra's signed webhooks at `POST /webhook`: each is verified with `secret`
    /// (HMAC-SHA256 over the raw body, constant-time, at most 5 minutes old, never twice) and
    /// handed to `on_event`; refused ones get 401. Unknown event types arrive as
    /// [`webhook::WebhookEvent::Other`].
    pub fn webhooks(
        mut self,
        secret: impl Into<Vec<u8>>,
        on_event: impl Fn(webhook::WebhookEvent) + Send + Sync + 'static,
    ) -> Self {
        self.webhooks = Some((secret.into(), Arc::new(on_event)));
        self
    }

    /// How long one call to Terra may take before the browser gets 504 (default 10 s).
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// Accept `http://` redirect URLs on loopback hosts (local development and the sandbox).
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.policy.allow_loopback_http = allow;
        self
    }

    /// The only origins (e.g. `https://app.example`) redirect URLs may point to; others get
    /// 403 `redirect_not_allowed`. Without it any https URL is accepted.
    pub fn allowed_redirect_origins(mut self, origins: Vec<String>) -> Self {
        self.policy.allowed_origins = Some(origins);
        self
    }

    /// The providers sessions may be created for. Without it: Terra's live
    /// `GET /integrations` list, cached for an hour (any well-formed name while it cannot be
    /// fetched).
    pub fn allowed_resources(mut self, resources: Vec<String>) -> Self {
        self.allowed_resources = Some(resources.into_iter().map(|r| r.to_ascii_uppercase()).collect());
        self
    }

    /// At most `per_minute` requests per minute per client address (429 with `Retry-After`).
    /// The address comes from [`ConnectInfo`]: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = Some(per_minute);
        self
    }

    /// Browser origins (e.g. `https://app.example`) allowed to call the routes cross-origin.
    /// Same-origin pages need none; other origins get no CORS headers.
    pub fn cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// Decides `reference_id` from the incoming request (the app's own login session: a
    /// cookie, a header), so that a browser cannot connect a wearable to someone else's
    /// account. The body's `reference_id` is then ignored. An `Err` is answered as it is.
    ///
    /// ```no_run
    /// # use terra_connect_proxy::{ApiError, Credentials, ProxyBuilder};
    /// # use axum::http::StatusCode;
    /// let router = ProxyBuilder::new("https://access.tryterra.co/api/v2",
    ///         Credentials { dev_id: "id".into(), api_key: "key".into() })
    ///     .reference_id(|parts| {
    ///         let user = parts.headers.get("x-user-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    ///         async move {
    ///             user.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"))
    ///         }
    ///     })
    ///     .build();
    /// ```
    pub fn reference_id<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, ApiError>> + Send + 'static,
    {
        self.reference_id = Some(Arc::new(move |parts| Box::pin(hook(parts))));
        self
    }

    /// The router.
    pub fn build(self) -> Router {
        let resources = match self.allowed_resources {
            Some(list) => Resources::Fixed(list.into_iter().collect()),
            None => Resources::live(&self.api_base, self.upstream_timeout),
        };
        let auth_events = self.webhooks.as_ref().map(|_| Arc::new(auth_events::AuthEvents::default()));
        let state = Arc::new(ProxyState {
            terra: TerraClient::new(&self.api_base, self.credentials, self.upstream_timeout),
            policy: self.policy,
            resources,
            reference_id: self.reference_id,
            widget_api: self.widget_api,
            auth_events: auth_events.clone(),
        });
        let mut router = Router::new()
            .route("/auth/authenticateUser", post(routes::authenticate::handle))
            .route("/connection", axum::routing::get(routes::connection::handle))
            .route("/connection/webhook", axum::routing::get(routes::connection::from_webhook))
            .route("/widget/session", post(routes::widget::handle))
            .with_state(state);
        if let Some(per_minute) = self.rate_limit {
            let limiter = Arc::new(RateLimiter::new(per_minute));
            router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
                let limiter = limiter.clone();
                async move { limit(&limiter, request, next).await }
            }));
        }
        if !self.cors_origins.is_empty() {
            let origins: Vec<HeaderValue> =
                self.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            router = router.layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::CONTENT_TYPE]),
            );
        }
        // Terra's webhooks: no browser CORS and no per-address rate limit (Terra sends them).
        if let Some((secret, callback)) = self.webhooks {
            let webhooks = Arc::new(routes::webhook::WebhookState {
                secret,
                seen: Default::default(),
                callback,
                auth_events: auth_events.clone().unwrap_or_default(),
            });
            router = router.merge(
                Router::new()
                    .route("/webhook", post(routes::webhook::handle))
                    .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
                    .with_state(webhooks),
            );
        }
        router.layer(middleware::from_fn(logging::log_request))
    }
}

async fn limit(limiter: &RateLimiter, request: Request, next: Next) -> Response {
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(client) = client {
        if let Err(wait) = limiter.check(client) {
            let mut response =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; retry later")
                    .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return response;
        }
    }
    next.run(request).await
}
