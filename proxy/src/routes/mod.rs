//! One file per route, and the steps the forwarding routes share.

pub(crate) mod authenticate;
pub(crate) mod connection;
pub(crate) mod connections;
pub(crate) mod providers;
pub(crate) mod webhook;
pub(crate) mod widget;

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::logging::UpstreamStatus;
use crate::{validate, ProxyState};

/// The first decoded value of query parameter `name`, when not empty.
pub(crate) fn query_param(parts: &Parts, name: &str) -> Option<String> {
    url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// How long reading a browser's request body may take.
pub(crate) const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The body of a JSON request: `Content-Type: application/json` required (a cross-site form
/// cannot send it without a CORS preflight, so other sites cannot create sessions through a
/// visitor's browser), at most [`validate::MAX_BODY`] bytes.
pub(crate) async fn json_body(parts: &Parts, body: Body) -> Result<Bytes, ApiError> {
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ));
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, validate::MAX_BODY)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is over 16 KiB")),
        Err(_) => Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", "the body did not arrive in time")),
    }
}

/// With a reference-id hook, the app decides who this is: the browser's claim is replaced.
pub(crate) async fn apply_reference_id(
    state: &ProxyState,
    parts: &Parts,
    fields: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(hook) = &state.reference_id {
        fields.insert("reference_id".to_owned(), Value::String(hook(parts).await?));
    }
    Ok(())
}

/// The owner of a request: the reference id the app's reference-id hook gives for it or,
/// without a hook, the `reference_id` query parameter the browser sends. Neither: 400
/// `reference_id_required` (this depends on the request alone, not on any user).
pub(crate) async fn owner(state: &ProxyState, parts: &Parts) -> Result<String, ApiError> {
    match &state.reference_id {
        Some(hook) => hook(parts).await,
        None => query_param(parts, "reference_id").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                terra_connect_protocol::code::REFERENCE_ID_REQUIRED,
                "this proxy has no reference-id hook, so it matches a user by the reference_id the browser sends, \
                 and this request has none: pass referenceId to connect(), or mount the proxy with a reference-id hook",
            )
        }),
    }
}

/// 404 `not_found`: the one answer for a connection that does not exist, is not confirmed or
/// belongs to someone else, so strangers learn nothing.
pub(crate) fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, terra_connect_protocol::code::NOT_FOUND, "no such connection")
}

/// The answer to a forwarded request: Terra's success (logged with upstream status 200), or
/// the error.
pub(crate) fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => (Extension(UpstreamStatus(200)), Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}
