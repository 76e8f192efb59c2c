//! The Terra sandbox: a faithful local stand-in for the part of Terra's API that
//! terra-connect uses, plus a provider's consent page, served on its own loopback port.
//!
//! It follows `TERRA_API.md`: it checks the `dev-id` / `x-api-key` headers (401), the
//! `resource` (400 when missing, 404 with Terra's `{status, message}` shape when unknown) and
//! the body's types (400), and answers `{status, user_id, auth_url}`. The `auth_url` is a
//! consent page with Allow and Deny; Allow redirects to the success URL with `user_id`,
//! `resource` and `reference_id` appended (existing query kept, `reference_id=null` when none
//! was given, as Terra does), Deny to the failure URL.
//!
//! It also answers the rest of what `TERRA_API.md` lists: `userInfo` by `user_id` and by
//! `reference_id`, `DELETE /auth/deauthenticateUser` (with its signed `deauth` webhook), and
//! `GET /integrations/detailed`, whose icons the sandbox serves itself (`/icons/{P}.svg`).
//! The API answers under both of Terra's bases, `/api/v2` and the older `/v2`, so Terra's own
//! SDKs (whose default base is the older one) work when pointed at either.
//!
//! Memory is bounded: pending sessions expire after [`SESSION_TTL`], users after
//! [`USER_TTL`], widget sessions after their `expires_in`, and each map holds at most
//! [`MAX_ENTRIES`] (past that the oldest entry is dropped); one reference id remembers at
//! most [`MAX_USERS_PER_REFERENCE`] users.

mod catalogue;
mod pages;
mod users;

pub use users::MAX_USERS_PER_REFERENCE;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
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
/// The older base's prefix (`https://api.tryterra.co/v2`), served too.
pub const LEGACY_API_PREFIX: &str = "/v2";

/// How long a login session waits for Allow or Deny.
pub const SESSION_TTL: Duration = Duration::from_secs(60 * 60);
/// How long the sandbox remembers a user.
pub const USER_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The most entries each of the sandbox's maps holds.
pub const MAX_ENTRIES: usize = 10_000;

/// Something that ends.
trait Expires {
    fn expires(&self) -> Instant;
}

/// A map that holds at most [`MAX_ENTRIES`]: past that the oldest entry is dropped, and
/// expired entries at the old end are dropped on every insert (O(1) amortised).
struct Bounded<V> {
    map: HashMap<String, V>,
    /// Keys in insertion order (a key removed from `map` may linger here until popped).
    order: VecDeque<String>,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded { map: HashMap::new(), order: VecDeque::new() }
    }
}

impl<V: Expires + Clone> Bounded<V> {
    /// Inserts `value`; the entries this dropped to make room (or because they expired), so
    /// that a caller can drop what refers to them.
    fn insert(&mut self, key: String, value: V) -> Vec<(String, V)> {
        let now = Instant::now();
        let mut dropped = Vec::new();
        while let Some(oldest) = self.order.front() {
            let expired = self.map.get(oldest).is_none_or(|v| v.expires() <= now);
            if !expired && self.order.len() < MAX_ENTRIES {
                break;
            }
            let oldest = self.order.pop_front().expect("front exists");
            if let Some(value) = self.map.remove(&oldest) {
                dropped.push((oldest, value));
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
        dropped
    }

    /// A live entry.
    fn live(&self, key: &str) -> Option<V> {
        self.map.get(key).filter(|v| Instant::now() < v.expires()).cloned()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

fn lock<V>(map: &Mutex<Bounded<V>>) -> std::sync::MutexGuard<'_, Bounded<V>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

/// A login session waiting for Allow or Deny.
#[derive(Debug, Clone)]
struct Pending {
    user_id: String,
    resource: String,
    reference_id: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
    expires: Instant,
}

impl Expires for Pending {
    fn expires(&self) -> Instant {
        self.expires
    }
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
    expires: Instant,
}

impl Expires for Widget {
    fn expires(&self) -> Instant {
        self.expires
    }
}

/// The sandbox's state.
pub(crate) struct Sandbox {
    credentials: Credentials,
    coop: bool,
    webhook: Option<WebhookTarget>,
    public_url: String,
    sessions: Mutex<Bounded<Pending>>,
    /// Widget sessions: id -> the picker's state.
    widgets: Mutex<Bounded<Widget>>,
    widget_ttl: Duration,
    /// Users by id and by reference id, for `userInfo` and `deauthenticateUser`.
    users: users::Users,
}

/// A running sandbox.
#[derive(Debug, Clone)]
pub struct SandboxHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its API base, e.g. `http://127.0.0.1:40123/api/v2`: use it as `TERRA_API_BASE`.
    pub api_base: String,
    /// The credentials it accepts (random per start unless [`SandboxOptions::credentials`]).
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
    pub widget_ttl: Duration,
    /// Where to listen: a loopback address (port 0 picks a free port). Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// The credentials to accept; `None` (the default): fresh random ones.
    pub credentials: Option<Credentials>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            coop: false,
            webhook: None,
            widget_ttl: Duration::from_secs(900),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: None,
        }
    }
}

/// Starts a sandbox with `options`. A non-loopback `addr` is refused (`InvalidInput`): the
/// sandbox hands out users to anyone holding its credentials and serves consent pages that
/// log nobody in, so it is a tool for this machine only.
pub async fn spawn_with(options: SandboxOptions) -> std::io::Result<SandboxHandle> {
    let SandboxOptions { coop, webhook, widget_ttl, addr, credentials } = options;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the sandbox listens on loopback addresses only, not {addr}"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let credentials = credentials.unwrap_or_else(|| Credentials {
        dev_id: format!("sandbox-{}", uuid::Uuid::new_v4().simple()),
        api_key: uuid::Uuid::new_v4().simple().to_string(),
    });
    let sandbox = Arc::new(Sandbox {
        credentials: credentials.clone(),
        coop,
        webhook,
        public_url: format!("http://{addr}"),
        sessions: Mutex::default(),
        widgets: Mutex::default(),
        widget_ttl,
        users: users::Users::default(),
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(sandbox)).await {
            tracing::error!(error = %e, "the Terra sandbox stopped");
        }
    });
    Ok(SandboxHandle { addr, api_base: format!("http://{addr}{API_PREFIX}"), credentials })
}

/// Terra's API, mounted under [`API_PREFIX`] and [`LEGACY_API_PREFIX`].
fn api() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/auth/authenticateUser", post(authenticate_user))
        .route("/auth/generateWidgetSession", post(widget_session))
        .route("/auth/deauthenticateUser", delete(deauthenticate_user))
        .route("/integrations", get(integrations))
        .route("/integrations/detailed", get(integrations_detailed))
        .route("/userInfo", get(user_info))
}

/// The sandbox's routes: Terra's API, the widget-session API, the consent and widget pages,
/// and the provider icons.
pub(crate) fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .nest(API_PREFIX, api())
        .nest(LEGACY_API_PREFIX, api())
        .route("/consent/{session}", get(consent_page).post(decide))
        .route("/api/widget/session", post(widget_session))
        .route("/widget/api/session", post(widget_session))
        .route("/widget/{id}", get(widget_page).post(pick))
        .route("/icons/{file}", get(catalogue::icon))
        .with_state(sandbox)
}

const UNAUTHORIZED: &str = "unauthorized: bad or missing dev-id / x-api-key";

fn terra_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "status": "error", "message": message }))).into_response()
}

async fn integrations() -> Json<Value> {
    let sdk: Vec<&str> = catalogue::sdk_providers().collect();
    Json(json!({ "status": "success", "providers": PROVIDERS, "sdk_providers": sdk }))
}

fn has_credentials(sandbox: &Sandbox, headers: &HeaderMap) -> bool {
    let header_is = |name: &str, want: &str| headers.get(name).and_then(|v| v.to_str().ok()) == Some(want);
    header_is("dev-id", &sandbox.credentials.dev_id) && header_is("x-api-key", &sandbox.credentials.api_key)
}

/// Whether every credentials header that was sent is right (none sent is fine).
fn credentials_if_any(sandbox: &Sandbox, headers: &HeaderMap) -> bool {
    let fine = |name: &str, want: &str| match headers.get(name) {
        None => true,
        Some(v) => v.to_str().ok() == Some(want),
    };
    fine("dev-id", &sandbox.credentials.dev_id) && fine("x-api-key", &sandbox.credentials.api_key)
}

/// `GET /integrations/detailed[?sdk=true]`: with or without credentials (Terra: `dev-id` picks
/// the account's own list), but wrong ones are refused (401).
async fn integrations_detailed(
    State(sandbox): State<Arc<Sandbox>>,
    Query(q): Query<catalogue::DetailedQuery>,
    headers: HeaderMap,
) -> Response {
    if !credentials_if_any(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    }
    Json(catalogue::detailed(&sandbox.public_url, &q)).into_response()
}

#[derive(Deserialize)]
struct UserQuery {
    user_id: Option<String>,
    reference_id: Option<String>,
}

/// `GET /userInfo?user_id=` (one user and `is_authenticated`; 404 when unknown) or
/// `?reference_id=` (a bare array of that reference id's users, maybe empty). With both,
/// `user_id` wins; with neither, 400.
async fn user_info(State(sandbox): State<Arc<Sandbox>>, Query(q): Query<UserQuery>, headers: HeaderMap) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    }
    let present = |v: Option<String>| v.filter(|v| !v.is_empty());
    match (present(q.user_id), present(q.reference_id)) {
        (Some(user_id), _) => match sandbox.users.info(&user_id) {
            // As Terra: a user exists from authenticateUser on; is_authenticated says whether
            // the login finished.
            Some((user, authenticated)) => {
                Json(json!({ "status": "success", "user": user, "is_authenticated": authenticated })).into_response()
            }
            None => terra_error(StatusCode::NOT_FOUND, "User not found"),
        },
        (None, Some(reference_id)) => Json(Value::Array(sandbox.users.of_reference(&reference_id))).into_response(),
        (None, None) => terra_error(StatusCode::BAD_REQUEST, "user_id or reference_id is a required query parameter"),
    }
}

#[derive(Deserialize)]
struct DeauthQuery {
    user_id: Option<String>,
}

/// `DELETE /auth/deauthenticateUser?user_id=`: forgets the user (404 when unknown) and sends
/// the signed `deauth` event, as Terra does.
async fn deauthenticate_user(
    State(sandbox): State<Arc<Sandbox>>,
    Query(q): Query<DeauthQuery>,
    headers: HeaderMap,
) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    }
    let Some(user_id) = q.user_id.filter(|u| !u.is_empty()) else {
        return terra_error(StatusCode::BAD_REQUEST, "user_id is a required query parameter");
    };
    let Some(user) = sandbox.users.remove(&user_id) else {
        return terra_error(StatusCode::NOT_FOUND, "User not found");
    };
    if let Some(target) = sandbox.webhook.clone() {
        let event = json!({
            "type": "deauth",
            "user": user,
            "status": "success",
            "message": "User has been deauthenticated",
        });
        tokio::spawn(send_webhook(target, event));
    }
    Json(json!({ "status": "success" })).into_response()
}

async fn authenticate_user(
    State(sandbox): State<Arc<Sandbox>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
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
        expires: Instant::now() + SESSION_TTL,
    };
    start_login(&sandbox, session.clone(), pending);
    let auth_url = format!("{}/consent/{session}", sandbox.public_url);
    Json(json!({ "status": "success", "user_id": user_id, "auth_url": auth_url })).into_response()
}

/// Records a pending login and its not-yet-authenticated user.
fn start_login(sandbox: &Sandbox, session: String, pending: Pending) {
    sandbox.users.create(&pending.user_id, &pending.resource, pending.reference_id.as_deref());
    lock(&sandbox.sessions).insert(session, pending);
}

#[derive(Deserialize)]
struct ConsentQuery {
    /// Per-page override of the COOP switch: `?coop=1` or `?coop=0`.
    coop: Option<u8>,
}

/// Terra's widget-session API (both current paths and the legacy one): `{providers: "A,B", ...}`;
/// without `providers` every provider is offered (Terra: the dashboard's providers).
async fn widget_session(State(sandbox): State<Arc<Sandbox>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !has_credentials(&sandbox, &headers) {
        return terra_error(StatusCode::FORBIDDEN, UNAUTHORIZED);
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
    let providers = if providers.is_empty() { PROVIDERS.iter().map(|p| p.to_string()).collect() } else { providers };
    if let Some(unknown) = providers.iter().find(|p| !PROVIDERS.contains(&p.as_str())) {
        return terra_error(StatusCode::BAD_REQUEST, &format!("Invalid provider: {unknown}"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let widget = Widget {
        providers,
        reference_id: text("reference_id"),
        success_url: text("auth_success_redirect_url"),
        failure_url: text("auth_failure_redirect_url"),
        expires: Instant::now() + sandbox.widget_ttl,
    };
    lock(&sandbox.widgets).insert(id.clone(), widget);
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
    lock(&sandbox.widgets).live(id)
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
        expires: Instant::now() + SESSION_TTL,
    };
    start_login(&sandbox, session.clone(), pending);
    Redirect::to(&format!("/consent/{session}")).into_response()
}

async fn consent_page(
    State(sandbox): State<Arc<Sandbox>>,
    Path(session): Path<String>,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let pending = lock(&sandbox.sessions).live(&session);
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
    let removed = lock(&sandbox.sessions).map.remove(&session);
    let Some(p) = removed.filter(|p| Instant::now() < p.expires) else {
        return (StatusCode::NOT_FOUND, pages::message("Unknown or finished session")).into_response();
    };
    let allow = decision.decision == "allow";
    let user = if allow { sandbox.users.authenticate(&p.user_id, sandbox.webhook.is_some()) } else { None };
    if let Some(target) = sandbox.webhook.clone() {
        tokio::spawn(send_webhook(target, auth_event(&p, allow, user)));
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

/// The event Terra sends when the person allows or denies; `user` is the user's object once
/// authenticated (absent when the sandbox already forgot the user).
fn auth_event(p: &Pending, allow: bool, user: Option<Value>) -> Value {
    if allow {
        let user = user.unwrap_or_else(
            || json!({ "user_id": p.user_id, "provider": p.resource, "reference_id": p.reference_id, "active": true }),
        );
        json!({ "type": "auth", "status": "success", "reference_id": p.reference_id, "user": user })
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
        .header("x-terra-signature", &signature)
        .header("terra-signature", &signature)
        .header("x-terra-trace-id", uuid::Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = r.status().as_u16(), "the app refused the sandbox's webhook"),
        Err(e) => tracing::warn!(error = %e, "the sandbox could not deliver its webhook"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Entry(Instant);

    impl Expires for Entry {
        fn expires(&self) -> Instant {
            self.0
        }
    }

    #[test]
    fn maps_are_bounded_and_expired_entries_go_first() {
        let mut map = Bounded::default();
        let past = Instant::now() - Duration::from_secs(1);
        let future = Instant::now() + Duration::from_secs(3600);
        for i in 0..100 {
            map.insert(format!("old{i}"), Entry(past));
        }
        // Expired entries at the old end are dropped by the next insert, which names them.
        let dropped = map.insert("new".into(), Entry(future));
        // (Each `old` insert already dropped the expired one before it.)
        assert_eq!(dropped.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["old99"]);
        assert_eq!(map.len(), 1);
        assert!(map.live("new").is_some() && map.live("old0").is_none());
        // A flood of live entries: never more than MAX_ENTRIES; the oldest go first.
        for i in 0..MAX_ENTRIES + 500 {
            map.insert(format!("live{i}"), Entry(future));
        }
        assert_eq!(map.len(), MAX_ENTRIES);
        assert!(map.order.len() <= MAX_ENTRIES);
        assert!(map.live("new").is_none() && map.live("live0").is_none());
        assert!(map.live(&format!("live{}", MAX_ENTRIES + 499)).is_some());
        // Removed keys do not let the order queue grow past the bound.
        for i in 0..MAX_ENTRIES * 2 {
            let key = format!("gone{i}");
            map.insert(key.clone(), Entry(future));
            map.map.remove(&key);
        }
        assert!(map.order.len() <= MAX_ENTRIES);
    }

    #[tokio::test]
    async fn a_pending_user_is_known_but_not_authenticated() {
        let handle = spawn(false, None).await.unwrap();
        let http = reqwest::Client::new();
        let with_credentials = |r: reqwest::RequestBuilder| {
            r.header("dev-id", &handle.credentials.dev_id).header("x-api-key", &handle.credentials.api_key)
        };
        let created: Value =
            with_credentials(http.post(format!("{}/auth/authenticateUser?resource=OURA", handle.api_base)))
                .json(&json!({"reference_id": "r1"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let user_id = created["user_id"].as_str().unwrap();
        let info: Value = with_credentials(http.get(format!("{}/userInfo?user_id={user_id}", handle.api_base)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["is_authenticated"], false);
        assert_eq!(info["user"]["reference_id"], "r1");
        assert_eq!(info["user"]["active"], Value::Null);
    }
}
