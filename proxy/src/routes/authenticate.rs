//! `POST /auth/authenticateUser?resource=X`: Terra's manual-connection session, forwarded.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::{answer, apply_reference_id, json_body, query_param};
use crate::validate;
use crate::ProxyState;

/// Checks the request (content type, resource, body, the app's reference-id hook) and
/// forwards only what is known.
pub(crate) async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    answer(forward(&state, request).await)
}

async fn forward(state: &ProxyState, request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = json_body(&parts, body).await?;
    let resource = validate::resource(query_param(&parts, "resource").as_deref())?;
    let mut fields = validate::session_body(&bytes, &state.policy)?;
    apply_reference_id(state, &parts, &mut fields).await?;
    state.resources.check(&resource).await?;
    state.terra.authenticate_user(&resource, &fields).await
}
