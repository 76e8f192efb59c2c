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

/// The largest user list (`GET {base}/userInfo?reference_id=`) read, in bytes: one user
/// object is about 300 bytes, so this holds several hundred connections of one person; a
/// longer list is a 502 `upstream_error`.
pub(crate) const MAX_USER_LIST_BODY: usize = 256 * 1024;

/// The largest provider catalogue (`GET {base}/integrations/detailed`) read, in bytes.
pub(crate) const MAX_CATALOGUE_BODY: usize = 1024 * 1024;

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

    /// Whether `text` contains the dev id or the API key: as written, JSON-escaped (the
    /// answers are checked as serialised JSON), or percent- or form-encoded (echoed in a URL).
    fn leaks(&self, text: &str) -> bool {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        let form_decoded =
            percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
        [&self.credentials.dev_id, &self.credentials.api_key].iter().filter(|c| !c.is_empty()).any(|c| {
            let escaped = serde_json::to_string(c.as_str()).unwrap_or_default();
            let escaped = &escaped[1..escaped.len() - 1];
            [text, &decoded, &form_decoded].iter().any(|t| t.contains(c.as_str()) || t.contains(escaped))
        })
    }

    /// `value` for the browser, unless it contains the credentials (then a 502, logged).
    fn clean<T: serde::Serialize>(&self, value: T) -> Result<T, ApiError> {
        if self.leaks(&serde_json::to_string(&value).unwrap_or_default()) {
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

    /// `GET {base}/userInfo?reference_id=…`: every user object Terra has for that reference id
    /// (Terra answers a bare JSON array; its 404 is no users). Read with the larger
    /// [`MAX_USER_LIST_BODY`] cap.
    pub(crate) async fn users_of(&self, reference_id: &str) -> Result<Vec<Value>, ApiError> {
        let request = self.with_credentials(
            self.http.get(format!("{}/userInfo", self.api_base)).query(&[("reference_id", reference_id)]),
        );
        match self.exchange(request, MAX_USER_LIST_BODY).await {
            Ok((_, Some(Value::Array(users)))) => self.clean(users),
            Ok((status, _)) => Err(with_upstream_status(
                upstream_error("Terra answered the user list with a body that is not a JSON array"),
                status,
            )),
            Err(e) if e.code == "upstream_rejected" && e.status == StatusCode::NOT_FOUND => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// `DELETE {base}/auth/deauthenticateUser?user_id=…`: `Ok(true)` once Terra confirmed
    /// (a 2xx whose body, if it is a JSON object with a `status`, says `success`), `Ok(false)`
    /// when Terra does not know the user (404). Never retried.
    pub(crate) async fn deauthenticate(&self, user_id: &str) -> Result<bool, ApiError> {
        let request = self.with_credentials(
            self.http.delete(format!("{}/auth/deauthenticateUser", self.api_base)).query(&[("user_id", user_id)]),
        );
        match self.exchange(request, MAX_UPSTREAM_BODY).await {
            Ok((status, Some(json))) if json.get("status").and_then(Value::as_str).is_some_and(|s| s != "success") => {
                Err(with_upstream_status(upstream_error("Terra did not confirm the disconnection"), status))
            }
            Ok(_) => Ok(true),
            Err(e) if e.code == "upstream_rejected" && e.status == StatusCode::NOT_FOUND => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET {base}/integrations/detailed` with the credentials (so Terra answers this
    /// account's own list): Terra's JSON object, read with the [`MAX_CATALOGUE_BODY`] cap.
    pub(crate) async fn integrations_detailed(&self) -> Result<Value, ApiError> {
        let request = self.with_credentials(self.http.get(format!("{}/integrations/detailed", self.api_base)));
        match self.exchange(request, MAX_CATALOGUE_BODY).await? {
            (_, Some(json @ Value::Object(_))) => self.clean(json),
            (status, _) => Err(with_upstream_status(
                upstream_error("Terra answered the provider list with a body that is not a JSON object"),
                status,
            )),
        }
    }

    /// [`TerraClient::exchange`] with the [`MAX_UPSTREAM_BODY`] cap, for answers that must be
    /// a JSON object.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(StatusCode, Value), ApiError> {
        match self.exchange(request, MAX_UPSTREAM_BODY).await? {
            (status, Some(json @ Value::Object(_))) => Ok((status, json)),
            (status, _) => Err(with_upstream_status(
                upstream_error("Terra answered with a body that is not a JSON object"),
                status,
            )),
        }
    }

    /// Sends `request`, reads at most `cap` bytes as they arrive, and maps failures: 401/403 is
    /// `upstream_auth`, a longer answer `upstream_error`, Terra's 4xx `upstream_rejected`
    /// (its status, its message unless it holds the credentials), 5xx `upstream_error`. A 2xx
    /// gives its status and the body as JSON (`None` when it is not JSON).
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        cap: usize,
    ) -> Result<(StatusCode, Option<Value>), ApiError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            tracing::error!(
                upstream_status = status.as_u16(),
                "Terra refused the proxy's own credentials: check TERRA_DEV_ID and TERRA_API_KEY"
            );
            return Err(with_upstream_status(
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream_auth", "the proxy could not authenticate with Terra"),
                status,
            ));
        }
        let bytes =
            read_capped(&mut response, cap).await.map_err(|e| with_upstream_status(transport_error(e), status))?;
        let Some(bytes) = bytes else {
            tracing::warn!(upstream_status = status.as_u16(), limit = cap, "Terra's answer is too large");
            return Err(with_upstream_status(upstream_error("Terra's answer is too large"), status));
        };
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_client_error() {
            return Err(with_upstream_status(self.rejected(status, json.as_ref()), status));
        }
        if !status.is_success() {
            return Err(with_upstream_status(upstream_error("Terra answered with a server error"), status));
        }
        Ok((status, json))
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

/// The body of `response`, or `None` when it is longer than `cap` bytes (declared or as it
/// streams; the rest is not read).
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
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

/// `e`, marked with Terra's HTTP status (for the log line).
fn with_upstream_status(mut e: ApiError, status: StatusCode) -> ApiError {
    e.upstream_status = Some(status.as_u16());
    e
}

/// 502 `upstream_error`: Terra answered something unusable.
pub(crate) fn upstream_error(message: &str) -> ApiError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_found_raw_escaped_and_encoded() {
        let key = r#"key+sec/ret=XYZ"q"#;
        let terra = TerraClient::new(
            "http://127.0.0.1:1",
            Credentials { dev_id: "dev-1".into(), api_key: key.into() },
            Duration::from_secs(1),
        );
        let echoed = |v: Value| terra.clean(v).is_err();
        assert!(echoed(serde_json::json!({ "auth_url": format!("https://x.example/?k={key}") })), "raw, JSON-escaped");
        assert!(echoed(serde_json::json!({ "auth_url": "https://x.example/?k=key%2Bsec%2Fret%3DXYZ%22q" })), "percent");
        assert!(echoed(serde_json::json!({ "provider": "key%2bsec/ret%3dXYZ%22q" })), "lower-case escapes");
        assert!(echoed(serde_json::json!({ "m": "dev%2D1" })), "the dev id, encoded");
        assert!(!echoed(serde_json::json!({ "auth_url": "https://x.example/?k=other" })));
        assert!(terra.leaks("bad key key%2Bsec/ret%3DXYZ%22q"), "a rejection message");
    }
}
