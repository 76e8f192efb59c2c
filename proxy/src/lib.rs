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

pub mod config;
pub mod error;
pub mod routes;
pub mod sandbox;
pub mod server;
pub mod terra;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use axum::routing::post;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use crate::config::{Config, Credentials};
pub use crate::error::ApiError;
use crate::terra::TerraClient;
use crate::validate::RedirectPolicy;

/// Shared state of the proxy routes.
pub struct ProxyState {
    terra: TerraClient,
    policy: RedirectPolicy,
}

/// Builds the proxy's [`Router`]: `POST /auth/authenticateUser?resource=X`.
///
/// Mount it under any prefix with [`Router::nest`]; the browser's `proxyUrl` is that prefix.
#[derive(Debug)]
pub struct ProxyBuilder {
    api_base: String,
    credentials: Credentials,
    upstream_timeout: Duration,
    policy: RedirectPolicy,
    cors_origins: Vec<String>,
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
        }
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

    /// Browser origins (e.g. `https://app.example`) allowed to call the routes cross-origin.
    /// Same-origin pages need none; other origins get no CORS headers.
    pub fn cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// The router.
    pub fn build(self) -> Router {
        let state = Arc::new(ProxyState {
            terra: TerraClient::new(&self.api_base, self.credentials, self.upstream_timeout),
            policy: self.policy,
        });
        let router = Router::new()
            .route("/auth/authenticateUser", post(routes::authenticate::handle))
            .with_state(state);
        if self.cors_origins.is_empty() {
            return router;
        }
        let origins: Vec<HeaderValue> = self
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        )
    }
}
