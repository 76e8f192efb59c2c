//! `POST /webhook`: Terra's signed events. In order: the signature header's form and time
//! window (401 at once, before any body byte is read), a bounded number of concurrent body
//! reads, the body within a size and time bound, one HMAC, then "processed once" through the
//! [`Store`]: claim, handle (record or revoke, forward, the application's callback), then
//! finish, or release on failure so that Terra's retry is processed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::store::{self, Claim, Store};
use crate::webhook::{self, WebhookEvent};

/// What the application does with a verified event.
pub(crate) type WebhookCallback = Arc<dyn Fn(WebhookEvent) + Send + Sync>;

/// The largest webhook body accepted, in bytes (Terra's data events can be megabytes).
pub const WEBHOOK_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// How many webhook bodies are read at once; others wait briefly, then get 503.
pub const CONCURRENT_BODY_READS: usize = 8;
/// How long a request waits for a body-read slot.
const SLOT_WAIT: Duration = Duration::from_secs(2);
/// How long reading one body may take.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the forward of one event may take (Terra waits about 8 s for our answer).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the answer waits for the application's callback; past it the event counts as
/// handled and the callback goes on in the background.
pub const CALLBACK_BUDGET: Duration = Duration::from_secs(2);
/// The longest `X-Terra-Trace-Id` used as a de-duplication key.
const MAX_TRACE_ID: usize = 200;

/// The webhook route's state.
pub(crate) struct WebhookState {
    pub(crate) secret: Vec<u8>,
    pub(crate) callback: WebhookCallback,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) reads: Arc<Semaphore>,
    /// Where verified events are forwarded unchanged, with the client to do it.
    pub(crate) forward: Option<(String, reqwest::Client)>,
}

fn unauthorized(e: webhook::SignatureError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.message())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// The signature header: the current name first, then the deprecated duplicate.
fn signature(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-terra-signature").or_else(|| headers.get("terra-signature")).and_then(|v| v.to_str().ok())
}

/// Verifies, de-duplicates, handles and answers one delivery.
pub(crate) async fn handle(State(state): State<Arc<WebhookState>>, request: Request) -> Response {
    match receive(&state, request).await {
        Ok(answer) => answer,
        Err(error) => error.into_response(),
    }
}

async fn receive(state: &WebhookState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let header = webhook::parse_form(signature(&parts.headers)).map_err(unauthorized)?;
    let trace = parts.headers.get("x-terra-trace-id").and_then(|v| v.to_str().ok()).and_then(trace_key);
    if !header.is_fresh(now()) && !seen_in_time(state, trace.as_deref(), &header).await? {
        return Err(unauthorized(webhook::SignatureError::Stale));
    }
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > WEBHOOK_BODY_LIMIT as u64) {
        return Err(too_large());
    }
    let bytes = {
        let _slot =
            tokio::time::timeout(SLOT_WAIT, state.reads.acquire()).await.map_err(|_| busy())?.map_err(|_| busy())?;
        match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, WEBHOOK_BODY_LIMIT)).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the body did not arrive in time",
                ))
            }
            Ok(Err(_)) => return Err(too_large()),
            Ok(Ok(bytes)) => bytes,
        }
    };
    let matched = webhook::check_body(&state.secret, &header, &bytes).map_err(unauthorized)?;
    let event: Value = serde_json::from_slice(&bytes).map_err(|_| ApiError::bad_request("the body is not JSON"))?;
    let key = trace.unwrap_or_else(|| signature_key(&matched));
    match state.store.claim_delivery(&key, store::CLAIM_LEASE).await.map_err(store_unavailable)? {
        Claim::AlreadyProcessed => return Ok(Json(json!({ "status": "duplicate" })).into_response()),
        Claim::InProgress => {
            let mut answer =
                ApiError::new(StatusCode::CONFLICT, "in_progress", "this delivery is being processed; retry later")
                    .into_response();
            answer.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(30u32));
            return Ok(answer);
        }
        Claim::Claimed => {}
    }
    match process(state, &parts.headers, bytes, webhook::parse_event(&event)).await {
        Ok(()) => {
            if let Err(e) = state.store.finish_delivery(&key, store::PROCESSED_KEEP).await {
                tracing::warn!(error = %e, "webhook handled but not marked as processed; a retry may repeat it");
            }
            Ok(Json(json!({ "status": "ok" })).into_response())
        }
        Err(error) => {
            if let Err(e) = state.store.release_delivery(&key).await {
                tracing::warn!(error = %e, "could not release a failed delivery; Terra's retry waits for the lease");
            }
            Err(error)
        }
    }
}

/// The de-duplication key of a delivery with a usable `X-Terra-Trace-Id`.
fn trace_key(trace: &str) -> Option<String> {
    (!trace.is_empty() && trace.len() <= MAX_TRACE_ID).then(|| format!("trace:{trace}"))
}

/// The de-duplication key of a delivery without a trace id: its matching signature.
fn signature_key(signature: &[u8; 32]) -> String {
    format!("sig:{}", hex::encode(signature))
}

/// Whether a delivery whose timestamp is past the window is a retry of one this proxy
/// claimed in time: Terra re-sends a failed delivery with its first signature for about a
/// day. Decided from the headers alone (the trace id, or else each `v1`), before the body.
async fn seen_in_time(
    state: &WebhookState,
    trace: Option<&str>,
    header: &webhook::SignatureHeader,
) -> Result<bool, ApiError> {
    let keys: Vec<String> = match trace {
        Some(key) => vec![key.to_owned()],
        None => header.signatures.iter().map(signature_key).collect(),
    };
    for key in keys {
        if state.store.delivery_seen(&key).await.map_err(store_unavailable)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The handling of one claimed delivery: the proxy's own state, the forward, the callback.
async fn process(state: &WebhookState, headers: &HeaderMap, body: Bytes, event: WebhookEvent) -> Result<(), ApiError> {
    match &event {
        WebhookEvent::AuthSuccess { user, .. } => {
            state.store.record_auth(user, store::AUTH_KEEP).await.map_err(store_unavailable)?
        }
        WebhookEvent::UserReauth { old_user: Some(user), .. }
        | WebhookEvent::Deauth { user }
        | WebhookEvent::AccessRevoked { user } => {
            state.store.revoke(&user.user_id, store::PROCESSED_KEEP).await.map_err(store_unavailable)?
        }
        _ => {}
    }
    if let Some((url, http)) = &state.forward {
        forward(url, http, headers, body).await?;
    }
    let callback = state.callback.clone();
    let running = tokio::task::spawn_blocking(move || callback(event));
    match tokio::time::timeout(CALLBACK_BUDGET, running).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => {
            tracing::error!("the webhook callback panicked; the delivery is left for Terra's retry");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "handler_failed", "the event could not be handled"))
        }
        Err(_) => {
            tracing::warn!(
                budget_ms = CALLBACK_BUDGET.as_millis() as u64,
                "the webhook callback is still running; answering Terra now, the callback goes on"
            );
            Ok(())
        }
    }
}

/// Sends the event unchanged, with its signature and trace headers, to the forward URL.
async fn forward(url: &str, http: &reqwest::Client, headers: &HeaderMap, body: Bytes) -> Result<(), ApiError> {
    let mut request = http.post(url).timeout(FORWARD_TIMEOUT).body(body);
    for name in ["content-type", "x-terra-signature", "terra-signature", "x-terra-trace-id"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let failed = |detail: String| {
        tracing::error!(detail, "could not forward a verified webhook event; Terra will retry it");
        ApiError::new(StatusCode::BAD_GATEWAY, "forward_failed", "the event could not be forwarded")
    };
    match request.send().await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => Err(failed(format!("the forward URL answered {}", answer.status().as_u16()))),
        Err(e) => Err(failed(format!("the forward URL could not be reached: {e}"))),
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is over 8 MiB")
}

fn busy() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many webhook bodies are being read; retry later")
}

/// 503 `store_unavailable` (logged once here).
pub(crate) fn store_unavailable(e: store::StoreError) -> ApiError {
    tracing::error!(error = %e, "the store did not answer");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the proxy's shared state is unavailable; retry later",
    )
}
