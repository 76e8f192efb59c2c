//! `POST /widget/session`: a Terra widget session (the hosted provider picker), with the same
//! checks as `authenticateUser`: content type, body fields, redirect URLs, every provider
//! against the allowlist, and the app's reference-id hook.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::Value;

use crate::error::ApiError;
use crate::logging::UpstreamStatus;
use crate::routes::authenticate::require_json;
use crate::validate;
use crate::ProxyState;

/// Checks the request and forwards only what is known.
pub async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    match forward(&state, request).await {
        Ok(body) => (Extension(UpstreamStatus(200)), Json(body)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn forward(state: &ProxyState, request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    let bytes = axum::body::to_bytes(body, validate::MAX_BODY)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is over 16 KiB"))?;
    let (mut fields, providers) = validate::widget_body(&bytes, &state.policy)?;
    if let Some(hook) = &state.reference_id {
        fields.insert("reference_id".to_owned(), Value::String(hook(&parts).await?));
    }
    for provider in &providers {
        state.resources.check(provider).await?;
    }
    state.terra.widget_session(&state.widget_api, &fields).await
}
