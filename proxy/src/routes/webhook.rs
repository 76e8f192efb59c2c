//! `POST /webhook`: Terra's signed events, verified on the raw bytes, replays refused, then
//! handed to the application's callback as a [`WebhookEvent`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::webhook::{self, WebhookEvent, TOLERANCE_SECS};

/// What the application does with a verified event.
pub type WebhookCallback = Arc<dyn Fn(WebhookEvent) + Send + Sync>;

/// The webhook route's state.
pub struct WebhookState {
    /// The signing secret (`TERRA_WEBHOOK_SECRET`).
    pub secret: Vec<u8>,
    /// Signatures seen within the tolerance window, with their timestamps.
    pub seen: Mutex<HashMap<Vec<u8>, i64>>,
    /// The application's callback.
    pub callback: WebhookCallback,
    /// Where verified `auth` successes are kept for `GET /connection/webhook`.
    pub auth_events: Arc<crate::auth_events::AuthEvents>,
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Verifies, de-duplicates, parses and hands on one event.
pub async fn handle(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let header = headers.get("terra-signature").and_then(|v| v.to_str().ok());
    let (timestamp, signature) = webhook::verify(&state.secret, header, &body, now)
        .map_err(|e| unauthorized("invalid_signature", e.message()))?;
    {
        let mut seen = state.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, t| now - *t <= 2 * TOLERANCE_SECS);
        if seen.insert(signature, timestamp).is_some() {
            return Err(unauthorized("replayed", "this event was already delivered"));
        }
    }
    let event: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("the body is not JSON"))?;
    let event = webhook::parse_event(&event);
    if let WebhookEvent::AuthSuccess { user, .. } = &event {
        state.auth_events.record(user.clone());
    }
    (state.callback)(event);
    Ok(Json(json!({ "status": "ok" })))
}
