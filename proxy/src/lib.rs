//! # terra-connect-proxy
//!
//! The backend half of terra-connect: it holds Terra's developer id and API key, checks what
//! the browser sends, and forwards Terra's manual-connection and widget requests; it also lists
//! and disconnects a user's connections and lists the account's providers (see
//! [`ProxyBuilder::build`]). It is a library first
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
//! Every piece of state shared between requests (processed webhook deliveries, `auth` events
//! awaiting confirmation, revocations, rate-limit counters) goes through one [`Store`]; the
//! default is a [`MemoryStore`], and [`ProxyBuilder::store`] plugs another (e.g. one shared by
//! several instances).
//!
//! With no credentials the binary starts the built-in sandbox (module `sandbox`), a local
//! stand-in for Terra's API and a provider's consent page, so demos and tests run offline. It
//! and the binary's static-file serving sit behind the `sandbox` feature (on by default);
//! a production dependency leaves them out with `default-features = false`.

#![deny(missing_docs)]

mod config;
mod error;
mod logging;
pub use crate::logging::log_request;
mod rate_limit;
mod resources;
mod routes;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod store;
mod terra;
mod validate;
#[cfg(test)]
mod validate_properties;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::routing::{delete, get, post};
use axum::Router;
use terra_connect_protocol::path;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use crate::config::Credentials;
pub use crate::error::ApiError;
use crate::resources::Resources;
pub use crate::routes::webhook::WEBHOOK_BODY_LIMIT;
pub use crate::store::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use crate::store::redis::{RedisConfig, RedisStore};
pub use crate::store::{Store, StoreError};
use crate::terra::TerraClient;
pub use crate::terra::WidgetApi;
use crate::validate::RedirectPolicy;
pub use ipnet::IpNet;

/// The default timeout of one call to Terra.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = config::DEFAULT_UPSTREAM_TIMEOUT;

/// What a reference-id hook returns: the app's id for the signed-in user, or an error answer
/// (e.g. 401 when nobody is signed in).
pub type ReferenceIdFuture = Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send>>;
type ReferenceIdHook = Arc<dyn Fn(&Parts) -> ReferenceIdFuture + Send + Sync>;

/// Shared state of the proxy routes.
pub(crate) struct ProxyState {
    terra: TerraClient,
    policy: RedirectPolicy,
    resources: Resources,
    reference_id: Option<ReferenceIdHook>,
    widget_api: WidgetApi,
    /// Whether `POST /webhook` is configured (else `/connection/webhook` answers 503).
    webhooks: bool,
    /// Every piece of state shared between requests (and instances).
    store: Arc<dyn Store>,
}

/// Builds the proxy's [`Router`]: `POST /auth/authenticateUser?resource=X`,
/// `POST /widget/session` (also at Terra's own path, `POST /auth/generateWidgetSession`),
/// `GET /connection?user_id=…`, `GET /connection/webhook`, the connection management routes
/// `GET /connections`, `DELETE /connections/{user_id}` and `GET /providers` (see
/// [`ProxyBuilder::build`]) and, with [`ProxyBuilder::webhooks`], `POST /webhook`.
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
    trusted_proxies: Vec<IpNet>,
    reference_id: Option<ReferenceIdHook>,
    webhooks: Option<(Vec<u8>, routes::webhook::WebhookCallback)>,
    webhook_forward: Option<String>,
    widget_api: WidgetApi,
    store: Option<Arc<dyn Store>>,
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
            .field("trusted_proxies", &self.trusted_proxies)
            .field("webhook_forward", &self.webhook_forward)
            .field("widget_api", &self.widget_api)
            .field("custom_store", &self.store.is_some())
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
            trusted_proxies: Vec::new(),
            reference_id: None,
            webhooks: None,
            webhook_forward: None,
            widget_api: WidgetApi::Current,
            store: None,
        }
    }

    /// Where the shared state lives (processed webhook deliveries, `auth` events awaiting
    /// confirmation, revocations, rate-limit counters). Default: a [`MemoryStore`] of this
    /// process; several instances behind a load balancer need one shared store.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Shares the state with every instance configured with the same Redis and prefix (see
    /// [`store::redis`]): processed deliveries, `auth` events and their long polls,
    /// revocations and the rate limit then hold across instances behind a load balancer.
    /// Nothing is sent yet (the store connects, and reconnects, by itself); fails only on a
    /// URL that does not parse or outside a Tokio runtime.
    ///
    /// ```no_run
    /// # use terra_connect_proxy::{Credentials, ProxyBuilder, RedisConfig};
    /// # async fn run() -> Result<(), terra_connect_proxy::StoreError> {
    /// let router = ProxyBuilder::new("https://access.tryterra.co/api/v2",
    ///         Credentials { dev_id: "id".into(), api_key: "key".into() })
    ///     .redis(RedisConfig::new("redis://redis.internal:6379/0").prefix("my-app:"))?
    ///     .build();
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis(self, config: RedisConfig) -> Result<Self, StoreError> {
        Ok(self.store(Arc::new(store::redis::RedisStore::open(config)?)))
    }

    /// Which widget-session API `POST /widget/session` calls (default [`WidgetApi::Current`]:
    /// Terra's current endpoint on the API base's origin; [`WidgetApi::Url`] for a fixed URL;
    /// [`WidgetApi::Legacy`] for `{base}/auth/generateWidgetSession`).
    pub fn widget_api(mut self, api: WidgetApi) -> Self {
        self.widget_api = api;
        self
    }

    /// Accepts Terra's signed webhooks at `POST /webhook`: each is verified with `secret`
    /// (`X-Terra-Signature` or `terra-signature`; HMAC-SHA256 over the raw body, constant-time,
    /// at most 5 minutes old; refused ones get 401) and processed once per delivery (Terra's
    /// retry of a processed one gets 200 `{"status":"duplicate"}`). Unknown event types arrive
    /// as [`webhook::WebhookEvent::Other`].
    ///
    /// `on_event` runs on a blocking thread. Terra waits about 8 s for the answer, so the
    /// answer waits at most 2 s for `on_event`; past that the delivery counts as handled and
    /// `on_event` finishes in the background. If `on_event` panics the delivery is left
    /// unprocessed and answered 500, so Terra retries it. Hand slow work to a queue.
    pub fn webhooks(
        mut self,
        secret: impl Into<Vec<u8>>,
        on_event: impl Fn(webhook::WebhookEvent) + Send + Sync + 'static,
    ) -> Self {
        self.webhooks = Some((secret.into(), Arc::new(on_event)));
        self
    }

    /// Forwards every verified event unchanged (body, signature and trace headers) to `url`,
    /// before `on_event`. When the forward fails (not 2xx, unreachable, over 4 s) Terra is
    /// answered 502 and retries the delivery later.
    pub fn webhook_forward(mut self, url: impl Into<String>) -> Self {
        self.webhook_forward = Some(url.into());
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

    /// The providers sessions may be created for (Terra is not asked), and the only ones
    /// `GET /providers` lists. Without it: Terra's `GET {base}/integrations/detailed` list for
    /// this account (sent with the credentials), cached for an hour, the same list that
    /// `GET /providers` answers (any well-formed name while it cannot be fetched; tried again
    /// after a minute).
    pub fn allowed_resources(mut self, resources: Vec<String>) -> Self {
        self.allowed_resources = Some(resources.into_iter().map(|r| r.to_ascii_uppercase()).collect());
        self
    }

    /// At most `per_minute` requests per minute per client address (429 with `Retry-After`);
    /// IPv6 clients count per /64. The address comes from [`axum::extract::ConnectInfo`]:
    /// serve with `into_make_service_with_connect_info::<SocketAddr>()`. When the store does
    /// not answer, requests go through (logged).
    pub fn rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = Some(per_minute);
        self
    }

    /// Reverse proxies / load balancers whose `X-Forwarded-For` is believed: from those peers
    /// the client is the right-most address in it that is not one of them. From any other
    /// peer the header is ignored.
    pub fn trusted_proxies(mut self, proxies: Vec<IpNet>) -> Self {
        self.trusted_proxies = proxies;
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

    /// The router. Besides the session routes (see [`ProxyBuilder`]) it answers, for the
    /// request's *owner* (the reference id the [`ProxyBuilder::reference_id`] hook gives or,
    /// without a hook, the `reference_id` query parameter; neither is 400
    /// `reference_id_required`):
    ///
    /// - `GET /connections[?reference_id=…]` → 200 `{"connections":[{"user_id","provider",
    ///   "reference_id","active":true,"created_at"?,"last_webhook_update"?,"scopes"?}]}`: the
    ///   owner's connections that Terra (`GET {base}/userInfo?reference_id=`) says are
    ///   active (`active` exactly `true`) and carry the owner's reference id; the optional
    ///   fields appear when Terra gives them as strings. Terra's 404 is an empty list; a list
    ///   over 256 KiB is 502 `upstream_error`.
    /// - `DELETE /connections/{user_id}[?reference_id=…]` → 204 once Terra's
    ///   `DELETE {base}/auth/deauthenticateUser` succeeded. A malformed `user_id` is 400
    ///   `invalid_request` before anything is sent; a user Terra does not know, or whose
    ///   reference id is not the owner's, is the same 404 `not_found`, and nothing is deleted.
    ///
    /// and, for anyone:
    ///
    /// - `GET /providers` → 200 `{"providers":[{"resource","name","icon"}]}`: Terra's
    ///   `GET {base}/integrations/detailed` for this account (sent with the credentials,
    ///   cached for an hour), entries with `enabled: false` left out, in Terra's order, and
    ///   only the [`ProxyBuilder::allowed_resources`] when set. `name` falls back to the
    ///   resource; `icon` is an `http(s)` URL or `null`. Sessions are allowed for exactly these
    ///   providers. With a configured list and Terra's list unavailable it lists the configured
    ///   names (`name` = resource, `icon: null`); without one, Terra's error (502 / 504).
    ///
    /// Without a reference-id hook the owner is whoever the browser claims to be: anyone who
    /// knows a reference id can list and disconnect its wearables. Production apps set the hook.
    /// Every route has the same JSON errors, CORS origins and rate limit.
    pub fn build(self) -> Router {
        let terra = TerraClient::new(&self.api_base, self.credentials, self.upstream_timeout);
        let resources = Resources::new(self.allowed_resources, terra.clone());
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let state = Arc::new(ProxyState {
            terra,
            policy: self.policy,
            resources,
            reference_id: self.reference_id,
            widget_api: self.widget_api,
            webhooks: self.webhooks.is_some(),
            store: store.clone(),
        });
        let mut router = Router::new()
            .route("/auth/authenticateUser", post(routes::authenticate::handle))
            .route("/connection", get(routes::connection::handle))
            .route("/connection/webhook", get(routes::connection::from_webhook))
            .route("/widget/session", post(routes::widget::handle))
            // Terra's own (legacy) path for the same thing, so Terra's SDKs pointed at the proxy work unchanged.
            .route("/auth/generateWidgetSession", post(routes::widget::handle))
            .route(path::CONNECTIONS, get(routes::connections::list))
            .route(&format!("{}/{{user_id}}", path::CONNECTIONS), delete(routes::connections::delete))
            .route(path::PROVIDERS, get(routes::providers::handle))
            .with_state(state);
        if let Some(per_minute) = self.rate_limit {
            let limit =
                Arc::new(rate_limit::Limit { per_minute, trusted: self.trusted_proxies.clone(), store: store.clone() });
            router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
                rate_limit::limit(limit.clone(), request, next)
            }));
        }
        if !self.cors_origins.is_empty() {
            let origins: Vec<HeaderValue> =
                self.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            router = router.layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_methods([Method::GET, Method::POST, Method::DELETE])
                    .allow_headers([header::CONTENT_TYPE]),
            );
        }
        // Terra's webhooks: no browser CORS and no per-address rate limit (Terra sends them).
        if let Some((secret, callback)) = self.webhooks {
            let forward = self.webhook_forward.map(|url| {
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("a reqwest client with rustls always builds");
                (url, http)
            });
            let webhooks = Arc::new(routes::webhook::WebhookState {
                secret,
                callback,
                store,
                reads: Arc::new(tokio::sync::Semaphore::new(routes::webhook::CONCURRENT_BODY_READS)),
                forward,
                trusted: self.trusted_proxies,
                readers: Default::default(),
            });
            router = router.merge(
                Router::new()
                    .route("/webhook", post(routes::webhook::handle))
                    .layer(axum::extract::DefaultBodyLimit::disable())
                    .with_state(webhooks),
            );
        }
        router.layer(middleware::from_fn(logging::log_request))
    }

    /// The store this builder will use, so an app can share it with its own code (or a
    /// health check can ping it). Default: a fresh [`MemoryStore`], set on the builder.
    pub fn shared_store(&mut self) -> Arc<dyn Store> {
        self.store.get_or_insert_with(|| Arc::new(MemoryStore::new())).clone()
    }
}
