//! Connection management for the request's owner (the reference-id hook's answer, or without a
//! hook the `reference_id` the browser sends; see [`super::owner`]):
//!
//! - `GET /connections`: the owner's active connections from Terra's
//!   `GET {base}/userInfo?reference_id=…`;
//! - `DELETE /connections/{user_id}`: disconnects one of them through Terra's
//!   `DELETE {base}/auth/deauthenticateUser?user_id=…`, after checking with
//!   `GET {base}/userInfo?user_id=…` that it is the owner's. An unknown user and another
//!   owner's user get the same 404, and nothing is deleted.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value};

use super::{answer, not_found, owner};
use crate::error::ApiError;
use crate::logging::UpstreamStatus;
use crate::ProxyState;

/// The optional fields of a listed connection, passed on when Terra gives them as strings.
const OPTIONAL_TEXT: [&str; 3] = ["created_at", "last_webhook_update", "scopes"];

/// `GET /connections[?reference_id=…]` → `{"connections":[{user_id, provider, reference_id,
/// active, created_at?, last_webhook_update?, scopes?}]}`.
pub(crate) async fn list(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    answer(connections(&state, &parts).await)
}

async fn connections(state: &ProxyState, parts: &Parts) -> Result<Value, ApiError> {
    let owner = owner(state, parts).await?;
    let users = state.terra.users_of(&owner).await?;
    let listed: Vec<Value> = users.iter().filter_map(|user| connection(user, &owner)).collect();
    Ok(json!({ "connections": listed }))
}

/// One entry of Terra's user list as listed: only objects with a well-formed `user_id`, a
/// `provider`, `active` exactly `true` and the owner's `reference_id` (Terra was asked for
/// that reference id; this checks again), and only the documented fields.
fn connection(user: &Value, owner: &str) -> Option<Value> {
    let user = user.as_object()?;
    let text = |key: &str| user.get(key).and_then(Value::as_str);
    let user_id = text("user_id").filter(|id| terra_connect_protocol::is_user_id(id))?;
    let provider = text("provider").filter(|p| !p.is_empty())?;
    if user.get("active") != Some(&Value::Bool(true)) || text("reference_id") != Some(owner) {
        return None;
    }
    let mut listed = Map::new();
    listed.insert("user_id".into(), user_id.into());
    listed.insert("provider".into(), provider.into());
    listed.insert("reference_id".into(), owner.into());
    listed.insert("active".into(), true.into());
    for key in OPTIONAL_TEXT {
        if let Some(value) = text(key) {
            listed.insert(key.into(), value.into());
        }
    }
    Some(Value::Object(listed))
}

/// `DELETE /connections/{user_id}[?reference_id=…]` → 204 once Terra disconnected the user.
pub(crate) async fn delete(
    State(state): State<Arc<ProxyState>>,
    user_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    match disconnect(&state, user_id.ok().map(|Path(id)| id), &parts).await {
        Ok(()) => (StatusCode::NO_CONTENT, Extension(UpstreamStatus(200))).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Checks the id (before any call to Terra), the owner, then that Terra's user is the owner's;
/// only then asks Terra to deauthenticate it.
async fn disconnect(state: &ProxyState, user_id: Option<String>, parts: &Parts) -> Result<(), ApiError> {
    // The path segment, percent-decoded: `..%2F`, `%2F`, spaces or over 128 bytes are malformed.
    let user_id = user_id
        .filter(|id| terra_connect_protocol::is_user_id(id))
        .ok_or_else(|| ApiError::bad_request("'user_id' is malformed"))?;
    let owner = owner(state, parts).await?;
    let info = state.terra.user_info(&user_id).await?.ok_or_else(not_found)?;
    let user = info.get("user").ok_or_else(not_found)?;
    let text = |key: &str| user.get(key).and_then(Value::as_str);
    if text("user_id") != Some(user_id.as_str()) || text("reference_id") != Some(owner.as_str()) {
        return Err(not_found());
    }
    if !state.terra.deauthenticate(&user_id).await? {
        // Gone meanwhile: as unknown.
        return Err(not_found());
    }
    tracing::info!(provider = text("provider"), "connection removed at Terra");
    Ok(())
}
