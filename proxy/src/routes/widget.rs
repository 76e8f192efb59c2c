//! `POST /widget/session`: a Terra widget session (the hosted provider picker), with the same
//! checks as `authenticateUser`: content type, body fields, redirect URLs, every provider
//! against the allowlist, and the app's reference-id hook.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::{answer, apply_reference_id, json_body};
use crate::validate;
use crate::ProxyState;

/// Checks the request and forwards only what is known.
pub(crate) async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    answer(forward(&state, request).await)
}

async fn forward(state: &ProxyState, request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = json_body(&parts, body).await?;
    let (mut fields, providers) = validate::widget_body(&bytes, &state.policy)?;
    apply_reference_id(state, &parts, &mut fields).await?;
    for provider in &providers {
        state.resources.check(provider).await?;
    }
    state.terra.widget_session(&state.widget_api, &fields).await
}
