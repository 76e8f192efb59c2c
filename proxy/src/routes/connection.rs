//! `GET /connection?user_id=…`: confirms that Terra knows `user_id` and that it belongs to this
//! request's user (the reference-id hook's answer, or without a hook the `reference_id` the
//! browser claims). Anything else is the same 404, so strangers learn nothing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::not_found;
use crate::error::ApiError;
use crate::ProxyState;

/// The longest a `GET /connection/webhook` waits, in milliseconds.
pub const MAX_WAIT_MS: u64 = terra_connect_protocol::MAX_WAIT_MS as u64;

/// The user id and expected reference id of a connection request.
async fn identify(state: &ProxyState, parts: &Parts) -> Result<(String, String), ApiError> {
    let user_id = super::query_param(parts, "user_id")
        .ok_or_else(|| ApiError::bad_request("query parameter 'user_id' is required"))?;
    if !terra_connect_protocol::is_user_id(&user_id) {
        return Err(ApiError::bad_request("'user_id' is malformed"));
    }
    Ok((user_id, super::owner(state, parts).await?))
}

/// `GET /connection/webhook?user_id=…[&wait_ms=…]`: answers once Terra's signed `auth` event
/// for this user has arrived (waiting up to `wait_ms`, at most 25 s), and only to its owner;
/// otherwise 404. 503 when the proxy has no webhook secret.
///
/// Another owner's user is answered after the same wait as an unknown one (no timing hint).
pub(crate) async fn from_webhook(
    State(state): State<Arc<ProxyState>>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    if !state.webhooks {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks_not_configured",
            "this proxy receives no Terra webhooks (no signing secret: TERRA_WEBHOOK_SECRET for the binary, \
             ProxyBuilder::webhooks for the library), so verify: \"webhook\" cannot succeed; verify: true asks Terra instead",
        ));
    };
    let (parts, _) = request.into_parts();
    let (user_id, expected) = identify(&state, &parts).await?;
    let wait_ms =
        super::query_param(&parts, "wait_ms").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0).min(MAX_WAIT_MS);
    let wait = std::time::Duration::from_millis(wait_ms);
    let deadline = tokio::time::Instant::now() + wait;
    let user = state.store.wait_for_auth(&user_id, wait).await.map_err(super::webhook::store_unavailable)?;
    let Some(user) = user.filter(|u| u.reference_id.as_deref() == Some(expected.as_str())) else {
        // Unknown users end at the deadline; so do other owners' users.
        tokio::time::sleep_until(deadline).await;
        return Err(not_found());
    };
    Ok(Json(json!({ "user_id": user_id, "provider": user.provider, "reference_id": expected, "source": "webhook" })))
}

/// Looks the user up at Terra and answers `{user_id, provider, reference_id, active}` only
/// when Terra says the login finished (`is_authenticated: true`) and the user is active
/// (`active: true`), exactly `true` both.
pub(crate) async fn handle(State(state): State<Arc<ProxyState>>, request: Request) -> Result<Json<Value>, ApiError> {
    let (parts, _) = request.into_parts();
    let (user_id, expected) = identify(&state, &parts).await?;
    let info = state.terra.user_info(&user_id).await?.ok_or_else(not_found)?;
    if info.get("is_authenticated") != Some(&Value::Bool(true)) {
        return Err(not_found());
    }
    let user = info.get("user").filter(|u| u.is_object()).ok_or_else(not_found)?;
    if user.get("active") != Some(&Value::Bool(true)) {
        return Err(not_found());
    }
    let text = |key: &str| user.get(key).and_then(Value::as_str).map(str::to_owned);
    if text("user_id").as_deref() != Some(user_id.as_str())
        || text("reference_id").as_deref() != Some(expected.as_str())
    {
        return Err(not_found());
    }
    Ok(Json(json!({
        "user_id": user_id,
        "provider": text("provider"),
        "reference_id": expected,
        "active": true,
    })))
}
