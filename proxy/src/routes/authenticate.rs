//! `POST /auth/authenticateUser?resource=X`: Terra's manual-connection session, forwarded.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::error::ApiError;
use crate::logging::UpstreamStatus;
use crate::validate;
use crate::ProxyState;

/// Checks the request (content type, resource, body, the app's reference-id hook) and
/// forwards only what is known.
pub async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    match forward(&state, request).await {
        Ok(body) => (Extension(UpstreamStatus(200)), Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn forward(state: &ProxyState, request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    let resource = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "resource")
        .map(|(_, value)| value.into_owned());
    let resource = validate::resource(resource.as_deref())?;
    let bytes = axum::body::to_bytes(body, validate::MAX_BODY)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is over 16 KiB"))?;
    let mut fields = validate::session_body(&bytes, &state.policy)?;
    if let Some(hook) = &state.reference_id {
        // The app decides who this is; the browser's claim is dropped.
        fields.insert("reference_id".to_owned(), Value::String(hook(&parts).await?));
    }
    state.resources.check(&resource).await?;
    state.terra.authenticate_user(&resource, &fields).await
}

/// A cross-site form cannot send `application/json` without a CORS preflight, so requiring it
/// keeps other sites from creating sessions through a visitor's browser.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
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
