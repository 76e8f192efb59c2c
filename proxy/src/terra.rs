//! The client for Terra's API (or the sandbox): adds credentials, applies the timeout, reads
//! answers with a size cap as they stream, and maps every upstream outcome to a success body
//! or an [`ApiError`]. Nothing Terra says reaches the browser if it contains the credentials.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::config::Credentials;
use crate::error::ApiError;

/// Which widget-session API the proxy calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WidgetApi {
    /// Terra's current endpoint on the origin of the API base: the docs' path
    /// `{origin}/api/widget/session` first and, on 404 only, the OpenAPI path
    /// `{origin}/widget/api/session` (the default).
    Current,
    /// The current endpoint at exactly this URL (`TERRA_WIDGET_URL`).
    Url(String),
    /// The deprecated `{base}/auth/generateWidgetSession` (accounts made after Sept 2026 get 410).
    Legacy,
}

/// Calls Terra with the proxy's credentials.
#[derive(Clone)]
pub(crate) struct TerraClient {
    http: reqwest::Client,
    api_base: String,
    credentials: Credentials,
}

/// The largest upstream answer read, in bytes; a longer one is a 502 and is not read further.
pub(crate) const MAX_UPSTREAM_BODY: usize = 64 * 1024;

impl TerraClient {
    /// A client for `api_base` (e.g. `https://access.tryterra.co/api/v2`).
    pub(crate) fn new(api_base: &str, credentials: Credentials, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls always builds");
        TerraClient { http, api_base: api_base.trim_end_matches('/').to_owned(), credentials }
    }

    fn with_credentials(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("dev-id", &self.credentials.dev_id).header("x-api-key", &self.credentials.api_key)
    }

    /// Whether `text` contains the dev id or the API key.
    fn leaks(&self, text: &str) -> bool {
        [&self.credentials.dev_id, &self.credentials.api_key].iter().any(|c| !c.is_empty() && text.contains(c.as_str()))
    }

    /// `value` for the browser, unless it contains the credentials (then a 502, logged).
    fn clean(&self, value: Value) -> Result<Value, ApiError> {
        if self.leaks(&value.to_string()) {
            tracing::error!("Terra's answer contained the proxy's credentials; it was not passed on");
            return Err(upstream_error("Terra answered with an unusable body"));
        }
        Ok(value)
    }

    /// `POST {base}/auth/authenticateUser?resource=…` with `body`; returns
    /// `{"status":"success","user_id","auth_url"}`. Never retried: the POST may have reached Terra.
    pub(crate) async fn authenticate_user(&self, resource: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let url = format!("{}/auth/authenticateUser", self.api_base);
        let request = self.with_credentials(self.http.post(url).query(&[("resource", resource)])).json(body);
        let (status, json) = self.send(request).await?;
        let field = |name: &str| json.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        match (field("user_id"), field("auth_url")) {
            (Some(user_id), Some(auth_url)) if status.is_success() => {
                self.clean(serde_json::json!({ "status": "success", "user_id": user_id, "auth_url": auth_url }))
            }
            _ => Err(upstream_error("Terra answered without a user_id and auth_url")),
        }
    }

    /// The widget URLs to try, in order.
    fn widget_urls(&self, endpoint: &WidgetApi) -> Vec<String> {
        match endpoint {
            WidgetApi::Url(url) => vec![url.clone()],
            WidgetApi::Legacy => vec![format!("{}/auth/generateWidgetSession", self.api_base)],
            WidgetApi::Current => {
                let origin = url::Url::parse(&self.api_base)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_else(|_| self.api_base.clone());
                vec![format!("{origin}/api/widget/session"), format!("{origin}/widget/api/session")]
            }
        }
    }

    /// Creates a widget session (Terra's hosted provider picker) and returns
    /// `{"status":"success","session_id","url","expires_in"}`. A 404 from the first of
    /// [`WidgetApi::Current`]'s paths (nothing was created) tries the second; never retried
    /// otherwise.
    pub(crate) async fn widget_session(
        &self,
        endpoint: &WidgetApi,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let urls = self.widget_urls(endpoint);
        let mut last = None;
        for (i, url) in urls.iter().enumerate() {
            let request = self.with_credentials(self.http.post(url)).json(body);
            match self.send(request).await {
                Ok((_, json)) => {
                    tracing::info!(widget_url = %url, "widget session created");
                    return self.widget_answer(&json);
                }
                Err(e) if e.status == StatusCode::NOT_FOUND && e.code == "upstream_rejected" && i + 1 < urls.len() => {
                    tracing::info!(widget_url = %url, "the widget endpoint answered 404; trying the next path");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| upstream_error("no widget endpoint")))
    }

    fn widget_answer(&self, json: &Value) -> Result<Value, ApiError> {
        let expires_in =
            json.get("expires_in").and_then(Value::as_f64).filter(|s| s.is_finite() && *s >= 0.0).map(|s| {
                if s.fract() == 0.0 && s <= u32::MAX as f64 {
                    Value::from(s as u64)
                } else {
                    Value::from(s)
                }
            });
        match (json.get("url").and_then(Value::as_str), json.get("session_id").and_then(Value::as_str)) {
            (Some(url), Some(session_id)) if url.starts_with("http") => self.clean(serde_json::json!({
                "status": "success",
                "session_id": session_id,
                "url": url,
                "expires_in": expires_in,
            })),
            _ => Err(upstream_error("Terra answered without a widget session_id and url")),
        }
    }

    /// `GET {base}/userInfo?user_id=…`: Terra's whole answer (`{user, is_authenticated}`), or
    /// `None` when Terra does not know the user (its 400 / 404).
    pub(crate) async fn user_info(&self, user_id: &str) -> Result<Option<Value>, ApiError> {
        let request =
            self.with_credentials(self.http.get(format!("{}/userInfo", self.api_base)).query(&[("user_id", user_id)]));
        match self.send(request).await {
            Ok((_, json)) => self.clean(json).map(Some),
            Err(e) if e.code == "upstream_rejected" && matches!(e.status.as_u16(), 400 | 404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends `request`, reads at most [`MAX_UPSTREAM_BODY`] bytes as they arrive, and maps failures.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(StatusCode, Value), ApiError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let with_status = |mut e: ApiError| {
            e.upstream_status = Some(status.as_u16());
            e
        };
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            tracing::error!(
                upstream_status = status.as_u16(),
                "Terra refused the proxy's own credentials: check TERRA_DEV_ID and TERRA_API_KEY"
            );
            return Err(with_status(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_auth",
                "the proxy could not authenticate with Terra",
            )));
        }
        let bytes = read_capped(&mut response).await.map_err(|e| with_status(transport_error(e)))?;
        let Some(bytes) = bytes else {
            tracing::warn!(upstream_status = status.as_u16(), limit = MAX_UPSTREAM_BODY, "Terra's answer is too large");
            return Err(with_status(upstream_error("Terra's answer is too large")));
        };
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_client_error() {
            return Err(with_status(self.rejected(status, json.as_ref())));
        }
        if !status.is_success() {
            return Err(with_status(upstream_error("Terra answered with a server error")));
        }
        match json {
            Some(json @ Value::Object(_)) => Ok((status, json)),
            _ => Err(with_status(upstream_error("Terra answered with a body that is not a JSON object"))),
        }
    }

    /// Terra's own 4xx, with Terra's message from either error shape (`{status, message}` or
    /// problem+json `{title, detail}`), unless it contains the credentials.
    fn rejected(&self, status: StatusCode, json: Option<&Value>) -> ApiError {
        let text = |name: &str| json.and_then(|j| j.get(name)).and_then(Value::as_str).filter(|s| !s.is_empty());
        let generic = "Terra refused the request";
        let message = text("message").or_else(|| text("detail")).or_else(|| text("title")).unwrap_or(generic);
        let message = if self.leaks(message) { generic } else { message };
        ApiError::new(status, "upstream_rejected", message.chars().take(500).collect::<String>())
    }
}

/// The body of `response`, or `None` when it is longer than [`MAX_UPSTREAM_BODY`] (declared or
/// as it streams; the rest is not read).
pub(crate) async fn read_capped(response: &mut reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    read_capped_to(response, MAX_UPSTREAM_BODY).await
}

/// [`read_capped`] with another cap.
pub(crate) async fn read_capped_to(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > cap {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
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
