//! `POST /auth/authenticateUser?resource=X`: Terra's manual-connection session, forwarded.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::Value;

use crate::error::ApiError;
use crate::validate;
use crate::ProxyState;

/// Checks the request (content type, resource, body) and forwards only what is known.
pub async fn handle(
    State(state): State<Arc<ProxyState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let resource = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "resource")
        .map(|(_, value)| value.into_owned());
    let resource = validate::resource(resource.as_deref())?;
    let bytes = axum::body::to_bytes(body, validate::MAX_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is over 16 KiB",
            )
        })?;
    let fields = validate::session_body(&bytes, state.policy)?;
    state
        .terra
        .authenticate_user(&resource, &fields)
        .await
        .map(Json)
}

/// A cross-site form cannot send `application/json` without a CORS preflight, so requiring it
/// keeps other sites from creating sessions through a visitor's browser.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ))
    }
}
