//! The Terra sandbox: a faithful local stand-in for the part of Terra's API that
//! terra-connect uses, plus a provider's consent page, served on its own loopback port.
//!
//! It follows `TERRA_API.md`: it checks the `dev-id` / `x-api-key` headers (401), the
//! `resource` (400 when missing, 404 with Terra's `{status, message}` shape when unknown) and
//! the body's types (400), and answers `{status, user_id, auth_url}`. The `auth_url` is a
//! consent page with Allow and Deny; Allow redirects to the success URL with `user_id`,
//! `resource` and `reference_id` appended (existing query kept, `reference_id=null` when none
//! was given, as Terra does), Deny to the failure URL.

mod pages;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Credentials;

/// The providers the sandbox knows (a snapshot of Terra's list).
pub const PROVIDERS: [&str; 15] = [
    "FITBIT",
    "GARMIN",
    "OURA",
    "WITHINGS",
    "POLAR",
    "SUUNTO",
    "COROS",
    "WAHOO",
    "PELOTON",
    "EIGHTSLEEP",
    "DEXCOM",
    "FREESTYLELIBRE",
    "GOOGLE",
    "GOOGLE_HEALTH",
    "STRAVA",
];

/// The path prefix of the sandbox's API, like Terra's `/api/v2`.
pub const API_PREFIX: &str = "/api/v2";

/// A login session waiting for Allow or Deny.
#[derive(Debug, Clone)]
struct Pending {
    user_id: String,
    resource: String,
    reference_id: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
}

/// Where the sandbox sends its signed webhooks, as Terra would.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The app's webhook URL, e.g. `http://127.0.0.1:8787/api/terra/webhook`.
    pub url: String,
    /// The signing secret.
    pub secret: Vec<u8>,
}

/// A widget session: the providers to offer and where to send the person afterwards.
#[derive(Debug, Clone)]
struct Widget {
    providers: Vec<String>,
    reference_id: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
    expires: std::time::Instant,
}

/// The sandbox's state.
pub struct Sandbox {
    credentials: Credentials,
    coop: bool,
    webhook: Option<WebhookTarget>,
    public_url: String,
    sessions: Mutex<HashMap<String, Pending>>,
    /// Widget sessions: id -> the picker's state.
    widgets: Mutex<HashMap<String, Widget>>,
    widget_ttl: std::time::Duration,
    /// Users who allowed: user id -> (provider, reference id), for `userInfo`.
    users: Mutex<HashMap<String, (String, Option<String>)>>,
}

/// A running sandbox.
#[derive(Debug, Clone)]
pub struct SandboxHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its API base, e.g. `http://127.0.0.1:40123/api/v2`: use it as `TERRA_API_BASE`.
    pub api_base: String,
    /// The credentials it accepts (random per start).
    pub credentials: Credentials,
}

/// Starts a sandbox on a free loopback port with fresh random credentials.
/// `coop` serves the consent page with `Cross-Origin-Opener-Policy: same-origin`; `webhook`
/// receives a signed `auth` / `auth_cancelled` event on every Allow / Deny.
pub async fn spawn(coop: bool, webhook: Option<WebhookTarget>) -> std::io::Result<SandboxHandle> {
    spawn_with(SandboxOptions { coop, webhook, ..SandboxOptions::default() }).await
}

/// How a sandbox behaves.
#[derive(Clone)]
pub struct SandboxOptions {
    /// Serve the consent page with `Cross-Origin-Opener-Policy: same-origin`.
    pub coop: bool,
    /// Where to send signed `auth` events.
    pub webhook: Option<WebhookTarget>,
    /// How long a widget session lives (Terra: 900 s).
    pub widget_ttl: std::time::Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions { coop: false, webhook: None, widget_ttl: std::time::Duration::from_secs(900) }
    }
}

/// Starts a sandbox with `options` on a free loopback port with fresh random credentials.
pub async fn spawn_with(options: SandboxOptions) -> std::io::Result<SandboxHandle> {
    let SandboxOptions { coop, webhook, widget_ttl } = options;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let credentials = Credentials {
        dev_id: format!("sandbox-{}", uuid::Uuid::new_v4().simple()),
        api_key: uuid::Uuid::new_v4().simple().to_string(),
    };
    let sandbox = Arc::new(Sandbox {
        credentials: credentials.clone(),
        coop,
        webhook,
        public_url: format!("http://{addr}"),
        sessions: Mutex::new(HashMap::new()),
        widgets: Mutex::new(HashMap::new()),
        widget_ttl,
        users: Mutex::new(HashMap::new()),
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(sandbox)).await {
            tracing::error!(error = %e, "the Terra sandbox stopped");
        }
    });
    Ok(SandboxHandle { addr, api_base: format!("http://{addr}{API_PREFIX}"), credentials })
}

/// The sandbox's routes: Terra's API under [`API_PREFIX`] and the consent pages.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/api/v2/auth/authenticateUser", post(authenticate_user))
        .route("/api/v2/integrations", get(integrations))
        .route("/api/v2/userInfo", get(user_info))
        .route("/consent/{session}", get(consent_page).post(decide))
        .route("/widget/api/session", post(widget_session))
        .route("/api/v2/auth/generateWidgetSession", post(widget_session))
        .route("/widget/{id}", get(widget_page).post(pick))
        .with_state(sandbox)
}

fn terra_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "status": "error", "message": message }))).into_response()
}

async fn integrations() -> Json<Value> {
    Json(
        json!({ "status": "success", "providers": PROVIDERS, "sdk_providers": ["APPLE", "SAMSUNG", "HEALTH_CONNECT"] }),
    )
}

fn has_credentials(sandbox: &Sandbox, headers: &HeaderMap) -> bool {
    let header_is = |name: &str, want: &str| headers.get(name).and_then(|v| v.to_str().ok()) == Some(want);
    header_is("dev-id", &sandbox.credentials.dev_id) && header_is("x-api-key", &sandbox.credentials.api_key)
}

#[derive(Deserialize)]
struct UserQuery {
    user_id: Option<String>,
}

async fn user_info(State(sandbox): State<Arc<Sandbox>>, Query(q): Query<UserQuery>, headers: HeaderMap) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, "unauthorized: bad or missing dev-id / x-api-key");
    }
    let Some(user_id) = q.user_id.filter(|u| !u.is_empty()) else {
        return terra_error(StatusCode::BAD_REQUEST, "user_id is a required query parameter");
    };
    let known = sandbox.users.lock().unwrap_or_else(|e| e.into_inner()).get(&user_id).cloned();
    match known {
        Some((provider, reference_id)) => Json(json!({
            "status": "success",
            "user": { "user_id": user_id, "provider": provider, "reference_id": reference_id, "active": true },
            "is_authenticated": true,
        }))
        .into_response(),
        None => terra_error(StatusCode::NOT_FOUND, "User not found"),
    }
}

async fn authenticate_user(
    State(sandbox): State<Arc<Sandbox>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, "unauthorized: bad or missing dev-id / x-api-key");
    }
    let resource = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned());
    let Some(resource) = resource.filter(|r| !r.is_empty()) else {
        return terra_error(StatusCode::BAD_REQUEST, "resource is a required query parameter");
    };
    if !PROVIDERS.contains(&resource.as_str()) {
        return terra_error(StatusCode::NOT_FOUND, &format!("Invalid resource: {resource}"));
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return terra_error(StatusCode::BAD_REQUEST, "body must be a JSON object"),
        }
    };
    let mut text = HashMap::new();
    for field in terra_connect_protocol::body::SESSION_FIELDS {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                text.insert(field, s.clone());
            }
            Some(_) => return terra_error(StatusCode::BAD_REQUEST, &format!("{field} must be a string")),
        }
    }
    let session = uuid::Uuid::new_v4().to_string();
    let user_id = uuid::Uuid::new_v4().to_string();
    let pending = Pending {
        user_id: user_id.clone(),
        resource,
        reference_id: text.remove("reference_id"),
        success_url: text.remove("auth_success_redirect_url"),
        failure_url: text.remove("auth_failure_redirect_url"),
    };
    sandbox.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(session.clone(), pending);
    let auth_url = format!("{}/consent/{session}", sandbox.public_url);
    Json(json!({ "status": "success", "user_id": user_id, "auth_url": auth_url })).into_response()
}

#[derive(Deserialize)]
struct ConsentQuery {
    /// Per-page override of the COOP switch: `?coop=1` or `?coop=0`.
    coop: Option<u8>,
}

/// Terra's widget-session API (current and legacy paths): `{providers: "A,B", ...}`.
async fn widget_session(State(sandbox): State<Arc<Sandbox>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::FORBIDDEN, "unauthorized: bad or missing dev-id / x-api-key");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return terra_error(StatusCode::BAD_REQUEST, "body must be a JSON object");
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let providers: Vec<String> = text("providers")
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if providers.is_empty() {
        return terra_error(StatusCode::BAD_REQUEST, "providers is required");
    }
    if let Some(unknown) = providers.iter().find(|p| !PROVIDERS.contains(&p.as_str())) {
        return terra_error(StatusCode::BAD_REQUEST, &format!("Invalid provider: {unknown}"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let widget = Widget {
        providers,
        reference_id: text("reference_id"),
        success_url: text("auth_success_redirect_url"),
        failure_url: text("auth_failure_redirect_url"),
        expires: std::time::Instant::now() + sandbox.widget_ttl,
    };
    sandbox.widgets.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), widget);
    Json(json!({
        "status": "success",
        "session_id": id,
        "url": format!("{}/widget/{id}", sandbox.public_url),
        "expires_in": sandbox.widget_ttl.as_secs(),
    }))
    .into_response()
}

fn expired_widget() -> (StatusCode, axum::response::Html<String>) {
    (StatusCode::GONE, pages::message("This widget session has expired. Start again from the app."))
}

fn live_widget(sandbox: &Sandbox, id: &str) -> Option<Widget> {
    let widget = sandbox.widgets.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()?;
    (std::time::Instant::now() < widget.expires).then_some(widget)
}

async fn widget_page(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>) -> Response {
    match live_widget(&sandbox, &id) {
        Some(widget) => pages::widget(&id, &widget.providers).into_response(),
        None => expired_widget().into_response(),
    }
}

#[derive(Deserialize)]
struct Pick {
    provider: String,
}

/// The person picked a provider: continue at that provider's consent page.
async fn pick(State(sandbox): State<Arc<Sandbox>>, Path(id): Path<String>, Form(pick): Form<Pick>) -> Response {
    let Some(widget) = live_widget(&sandbox, &id) else {
        return expired_widget().into_response();
    };
    if !widget.providers.contains(&pick.provider) {
        return (StatusCode::BAD_REQUEST, pages::message("That provider was not offered")).into_response();
    }
    let session = uuid::Uuid::new_v4().to_string();
    let pending = Pending {
        user_id: uuid::Uuid::new_v4().to_string(),
        resource: pick.provider,
        reference_id: widget.reference_id,
        success_url: widget.success_url,
        failure_url: widget.failure_url,
    };
    sandbox.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(session.clone(), pending);
    Redirect::to(&format!("/consent/{session}")).into_response()
}

async fn consent_page(
    State(sandbox): State<Arc<Sandbox>>,
    Path(session): Path<String>,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let pending = sandbox.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(&session).cloned();
    let mut response = match pending {
        Some(p) => pages::consent(&session, &p.resource).into_response(),
        None => (StatusCode::NOT_FOUND, pages::message("Unknown or finished session")).into_response(),
    };
    if q.coop.map_or(sandbox.coop, |c| c == 1) {
        response.headers_mut().insert("cross-origin-opener-policy", header::HeaderValue::from_static("same-origin"));
    }
    response
}

#[derive(Deserialize)]
struct Decision {
    decision: String,
}

async fn decide(
    State(sandbox): State<Arc<Sandbox>>,
    Path(session): Path<String>,
    Form(decision): Form<Decision>,
) -> Response {
    let Some(p) = sandbox.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&session) else {
        return (StatusCode::NOT_FOUND, pages::message("Unknown or finished session")).into_response();
    };
    let allow = decision.decision == "allow";
    if allow {
        let record = (p.resource.clone(), p.reference_id.clone());
        sandbox.users.lock().unwrap_or_else(|e| e.into_inner()).insert(p.user_id.clone(), record);
    }
    if let Some(target) = sandbox.webhook.clone() {
        tokio::spawn(send_webhook(target, auth_event(&p, allow)));
    }
    let target = if allow { &p.success_url } else { &p.failure_url };
    let Some(target) = target.as_deref().and_then(|t| url::Url::parse(t).ok()) else {
        let text = if allow { "Connected (sandbox). You can close this tab." } else { "Connection denied (sandbox)." };
        return pages::message(text).into_response();
    };
    let mut target = target;
    {
        let mut query = target.query_pairs_mut();
        if allow {
            query.append_pair("user_id", &p.user_id);
        }
        query.append_pair("resource", &p.resource);
        query.append_pair("reference_id", p.reference_id.as_deref().unwrap_or("null"));
    }
    Redirect::to(target.as_str()).into_response()
}

/// The event Terra sends when the person allows or denies.
fn auth_event(p: &Pending, allow: bool) -> Value {
    if allow {
        json!({
            "type": "auth",
            "status": "success",
            "reference_id": p.reference_id,
            "user": { "user_id": p.user_id, "provider": p.resource, "reference_id": p.reference_id, "active": true },
        })
    } else {
        json!({ "type": "auth_cancelled", "status": "error", "reason": "user_denied", "reference_id": p.reference_id })
    }
}

/// Signs and POSTs `event` to the app, as Terra does.
async fn send_webhook(target: WebhookTarget, event: Value) {
    let body = event.to_string();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let signature = crate::webhook::signature_header(&target.secret, now, body.as_bytes());
    let sent = reqwest::Client::new()
        .post(&target.url)
        .header("content-type", "application/json")
        .header("terra-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = r.status().as_u16(), "the app refused the sandbox's webhook"),
        Err(e) => tracing::warn!(error = %e, "the sandbox could not deliver its webhook"),
    }
}
