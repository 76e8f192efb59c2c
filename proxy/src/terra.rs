//! The client for Terra's API (or the sandbox): adds credentials, applies the timeout, and
//! maps every upstream outcome to a success body or an [`ApiError`].

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::config::Credentials;
use crate::error::ApiError;

/// Terra's current widget endpoint.
pub const DEFAULT_WIDGET_URL: &str = "https://access.tryterra.co/widget/api/session";

/// Which widget-session API the proxy calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WidgetApi {
    /// The current endpoint at this URL (default [`DEFAULT_WIDGET_URL`]).
    Current(String),
    /// The deprecated `{base}/auth/generateWidgetSession` (accounts made after Sept 2026 get 410).
    Legacy,
}

/// Calls Terra with the proxy's credentials.
#[derive(Clone)]
pub struct TerraClient {
    http: reqwest::Client,
    api_base: String,
    credentials: Credentials,
}

/// The largest upstream body read, in bytes.
const MAX_UPSTREAM_BODY: usize = 64 * 1024;

impl TerraClient {
    /// A client for `api_base` (e.g. `https://access.tryterra.co/api/v2`).
    pub fn new(api_base: &str, credentials: Credentials, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls always builds");
        TerraClient { http, api_base: api_base.trim_end_matches('/').to_owned(), credentials }
    }

    /// `POST {base}/auth/authenticateUser?resource=…` with `body`; returns
    /// `{"status":"success","user_id","auth_url"}`. Never retried: the POST may have reached Terra.
    pub async fn authenticate_user(&self, resource: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let url = format!("{}/auth/authenticateUser", self.api_base);
        let request = self
            .http
            .post(url)
            .query(&[("resource", resource)])
            .header("dev-id", &self.credentials.dev_id)
            .header("x-api-key", &self.credentials.api_key)
            .json(body);
        let (status, json) = self.send(request).await?;
        let field = |name: &str| json.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        match (field("user_id"), field("auth_url")) {
            (Some(user_id), Some(auth_url)) if status.is_success() => {
                Ok(serde_json::json!({ "status": "success", "user_id": user_id, "auth_url": auth_url }))
            }
            _ => Err(upstream_error("Terra answered without a user_id and auth_url")),
        }
    }

    /// Creates a widget session (Terra's hosted provider picker) at `endpoint` — the current
    /// `…/widget/api/session` or the legacy `{base}/auth/generateWidgetSession` — and returns
    /// `{"status":"success","session_id","url","expires_in"}`. Never retried.
    pub async fn widget_session(&self, endpoint: &WidgetApi, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let url = match endpoint {
            WidgetApi::Current(url) => url.clone(),
            WidgetApi::Legacy => format!("{}/auth/generateWidgetSession", self.api_base),
        };
        let request = self
            .http
            .post(url)
            .header("dev-id", &self.credentials.dev_id)
            .header("x-api-key", &self.credentials.api_key)
            .json(body);
        let (_, json) = self.send(request).await?;
        match (json.get("url").and_then(Value::as_str), json.get("session_id").and_then(Value::as_str)) {
            (Some(url), Some(session_id)) if url.starts_with("http") => Ok(serde_json::json!({
                "status": "success",
                "session_id": session_id,
                "url": url,
                "expires_in": json.get("expires_in").and_then(Value::as_u64),
            })),
            _ => Err(upstream_error("Terra answered without a widget session_id and url")),
        }
    }

    /// `GET {base}/userInfo?user_id=…`: Terra's record of the user, or `None` when Terra does
    /// not know it (its 400 / 404).
    pub async fn user_info(&self, user_id: &str) -> Result<Option<Value>, ApiError> {
        let request = self
            .http
            .get(format!("{}/userInfo", self.api_base))
            .query(&[("user_id", user_id)])
            .header("dev-id", &self.credentials.dev_id)
            .header("x-api-key", &self.credentials.api_key);
        match self.send(request).await {
            Ok((_, json)) => Ok(json.get("user").filter(|u| u.is_object()).cloned()),
            Err(e) if e.code == "upstream_rejected" && matches!(e.status.as_u16(), 400 | 404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends `request`, reads at most [`MAX_UPSTREAM_BODY`] bytes, and maps failures.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(StatusCode, Value), ApiError> {
        let response = request.send().await.map_err(transport_error)?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let with_status = |mut e: ApiError| {
            e.upstream_status = Some(status.as_u16());
            e
        };
        let bytes = response.bytes().await.map_err(|e| with_status(transport_error(e)))?;
        let json: Option<Value> =
            if bytes.len() <= MAX_UPSTREAM_BODY { serde_json::from_slice(&bytes).ok() } else { None };
        if status.is_client_error() {
            return Err(with_status(rejected(status, json.as_ref())));
        }
        if !status.is_success() {
            return Err(with_status(upstream_error("Terra answered with a server error")));
        }
        match json {
            Some(json @ Value::Object(_)) => Ok((status, json)),
            _ => Err(with_status(upstream_error("Terra answered with a body that is not a JSON object"))),
        }
    }
}

fn upstream_error(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message)
}

fn transport_error(e: reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::new(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "Terra did not answer in time")
    } else if e.is_connect() {
        ApiError::new(StatusCode::BAD_GATEWAY, "upstream_unreachable", "Terra could not be reached")
    } else {
        ApiError::new(StatusCode::BAD_GATEWAY, "upstream_unreachable", "the connection to Terra failed")
    }
}

/// Terra's own 4xx, with Terra's message from either error shape
/// (`{status, message}` or problem+json `{title, detail}`).
fn rejected(status: StatusCode, json: Option<&Value>) -> ApiError {
    let text = |name: &str| json.and_then(|j| j.get(name)).and_then(Value::as_str).filter(|s| !s.is_empty());
    let message =
        text("message").or_else(|| text("detail")).or_else(|| text("title")).unwrap_or("Terra refused the request");
    ApiError::new(status, "upstream_rejected", message)
}
